#!/usr/bin/env bash
# NBD exports as real clients see them: nbdinfo --list / --json over TCP
# and a Unix socket show every disk with its size, block sizes and flags;
# the empty name is the first disk; a disk added at run time appears;
# --nbd none starts no NBD listener.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=$(sk_port 22110 10)

truncate -s 48M "$T/f.img"
sk_serve --iscsi none --xdisk none --vscsi none \
	--nbd "127.0.0.1:$PORT" --nbd-unix "$T/nbd.sock" \
	--disk d512=mem:64M --disk d4k=mem:32M,bs=4096 --disk ro=mem:16M,ro \
	--disk f="file:$T/f.img"
sk_wait_tcp "$PORT"

# Every disk is an export, over TCP and over the Unix socket.
nbdinfo --list --json "nbd://127.0.0.1:$PORT" >"$T/tcp.json" ||
	fail "nbdinfo --list --json over TCP"
nbdinfo --list --json "nbd+unix://?socket=$T/nbd.sock" >"$T/unix.json" ||
	fail "nbdinfo --list --json over the Unix socket"
for j in tcp unix; do
	python3 - "$T/$j.json" <<'PY' || fail "export list ($j) is wrong"
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["protocol"] == "newstyle-fixed" and doc["TLS"] is False
assert doc["structured"] is True
ex = {e["export-name"]: e for e in doc["exports"]}
for name in ("d512", "d4k", "ro", "f"):
    assert name in ex, ("missing", name, list(ex))
want = {"d512": (64 << 20, 512), "d4k": (32 << 20, 4096),
        "ro": (16 << 20, 512), "f": (48 << 20, 512)}
for name, (size, bs) in want.items():
    e = ex[name]
    assert e["export-size"] == size, (name, e["export-size"])
    assert e["block_size_minimum"] == bs, (name, e)
    assert e["block_size_preferred"] == 4096, (name, e)
    assert e["block_size_maximum"] >= 1 << 20, (name, e)
    assert e["block_size_maximum"] % bs == 0, (name, e)
    assert "base:allocation" in e["contexts"], (name, e)
    assert e["description"], (name, e)
    assert e["can_cache"] is True and e["can_df"] is True, (name, e)
for name in ("d512", "d4k", "f"):
    e = ex[name]
    for k in ("can_flush", "can_fua", "can_trim", "can_zero",
              "can_fast_zero", "can_multi_conn"):
        assert e[k] is True, (name, k, e)
    assert e["is_read_only"] is False, (name, e)
e = ex["ro"]
assert e["is_read_only"] is True, e
for k in ("can_trim", "can_zero", "can_flush", "can_fua"):
    assert e[k] is False, (k, e)
PY
done

# The empty name is the first disk.
[ "$(nbdinfo --size "nbd://127.0.0.1:$PORT")" = $((64 << 20)) ] ||
	fail "default export is not the first disk"
[ "$(nbdinfo --size "nbd+unix:///d4k?socket=$T/nbd.sock")" = $((32 << 20)) ] ||
	fail "size of d4k over the Unix socket"
nbdinfo --list "nbd://127.0.0.1:$PORT" >"$T/list.txt"
for n in d512 d4k ro f; do
	grep -q "export=\"$n\"" "$T/list.txt" || fail "text list lacks $n"
done
if nbdinfo "nbd://127.0.0.1:$PORT/nosuch" >/dev/null 2>&1; then
	fail "an unknown export was opened"
fi

# A disk added at run time is exported at once.
sk_ctl disk add late mem:8M
[ "$(nbdinfo --size "nbd://127.0.0.1:$PORT/late")" = $((8 << 20)) ] ||
	fail "disk added at run time not exported"
sk_ctl nbd list | grep -q "listen 127.0.0.1:$PORT" || fail "nbd list"
sk_stop

# --nbd none: no NBD listener at all.
sk_serve --iscsi none --xdisk none --vscsi none --nbd none
if grep -q 'nbd: listening' "$T/serve.log"; then
	cat "$T/serve.log" >&2
	fail "--nbd none still listens"
fi
if sk_ctl nbd list >"$T/ctl.out" 2>&1; then fail "nbd ctl answers with --nbd none"; fi
grep -q disabled "$T/ctl.out" || fail "nbd ctl does not say it is disabled"
sk_stop
echo "nbd_info: OK"
