#!/usr/bin/env bash
# Wrong magic numbers (option header, request header), bad client flags
# and random bytes: each offending connection is closed cleanly, another
# connection carries on, and the daemon keeps serving.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
export SK_LIB="$(cd "$(dirname "$0")/lib" && pwd)"
PORT=$(sk_port 22140 10)


sk_serve --iscsi none --xdisk none --vscsi none --nbd "127.0.0.1:$PORT" \
	--disk d=mem:16M
sk_wait_tcp "$PORT"

python3 - "127.0.0.1:$PORT" <<'PY' || fail "bad magic handling"
import os, struct, sys
sys.path.insert(0, os.environ["SK_LIB"])
from nbdclient import *
addr = sys.argv[1]
# A bystander connection, open before and after the bad ones.
b, size, _ = open_export(addr, b"d")
# Wrong option magic during negotiation: that connection is dropped.
s = conn(addr); greet(s)
s.sendall(struct.pack(">QII", 0x1122334455667788, 7, 0))
assert closed(s), "bad option magic: not closed"
# Wrong request magic in transmission: dropped too.
s, _, _ = open_export(addr, b"d")
s.sendall(struct.pack(">IHHQQI", 0xDEADBEEF, 0, 0, 1, 0, 512))
assert closed(s), "bad request magic: not closed"
# Garbage instead of client flags (unknown flag bits): dropped.
s = conn(addr); rd(s, 18); s.sendall(b"\xff" * 64)
assert closed(s), "bad client flags: not closed"
# Random bytes from the start.
s = conn(addr); rd(s, 18); s.sendall(bytes(range(256)) * 64)
assert closed(s), "random bytes: not closed"
# The bystander is unaffected.
req(b, 0, 0, 4096, cookie=7)
e, c, _ = reply(b)
assert (e, c) == (0, 7), (e, c)
assert len(rd(b, 4096)) == 4096
req(b, 2)
assert closed(b)
PY
sk_ctl nbd list >"$T/nbd.txt"
grep -Eq 'protocol-closes [1-9]' "$T/nbd.txt" || { cat "$T/nbd.txt" >&2; fail "protocol closes not counted"; }
nbdinfo --size "nbd://127.0.0.1:$PORT/d" >/dev/null || fail "server unusable afterwards"
sk_stop
echo "nbd_bad_magic: OK"
