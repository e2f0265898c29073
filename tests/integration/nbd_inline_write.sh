#!/usr/bin/env bash
# Small writes done inline on the reactor (file:...,inline_write) behind
# NBD, on both engines: fio writes 4 KiB blocks at random, 32 in flight,
# and verifies every one it wrote (crc32c in the block); libnbd writes
# blocks alternately with and without FUA and with a flush between, and
# reads them back; nbdcopy in 4 KiB requests writes a whole random image,
# which is compared through the export and, after the daemon stopped, in
# the backing file itself.  The unit test test_file_inline_write checks
# that these writes do go inline; this one that nothing acknowledged goes
# missing or wrong when they do.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=$(sk_port 27450 10)

sk_need fio nbdcopy qemu-img
[ -x /usr/bin/python3 ] || fail "/usr/bin/python3 (Debian's, with the nbd module) missing"
head -c $((16 << 20)) /dev/urandom >"$T/img"
sk_serve --xdisk none --vscsi none --iscsi none --nbd "127.0.0.1:$PORT" \
	--disk u="file:$T/u.img,size=16M,inline_write" \
	--disk p="file:$T/p.img,size=16M,engine=pool,inline_write"
sk_wait_tcp "$PORT"
sk_ctl disk list >"$T/list.txt"
cat "$T/list.txt"
for n in u p; do
	grep -E "^$n .*,inline_write" "$T/list.txt" >/dev/null ||
		fail "disk $n does not say inline_write"
done

for n in u p; do
	U="nbd://127.0.0.1:$PORT/$n"
	timeout 300 fio --name=iw --ioengine=nbd --uri="$U" --rw=randwrite \
		--bs=4k --iodepth=32 --size=16M --verify=crc32c \
		--do_verify=1 --verify_fatal=1 --output="$T/fio.$n" ||
		{ cat "$T/fio.$n" >&2; fail "fio write+verify ($n)"; }
	# Debian's python3 has the nbd module (scripts/deps.list py:nbd).
	timeout 300 /usr/bin/python3 - "$U" <<'PY' || fail "FUA/flush ($n)"
import nbd, os, sys
h = nbd.NBD()
h.connect_uri(sys.argv[1])
blocks = {}
for i in range(64):
    off = (i * 37 % 4096) * 4096
    buf = os.urandom(4096)
    h.pwrite(buf, off, nbd.CMD_FLAG_FUA if i % 2 else 0)
    blocks[off] = buf
    if i % 8 == 7:
        h.flush()
for off, buf in blocks.items():
    assert h.pread(4096, off) == buf, "block at %d differs" % off
PY
	timeout 300 nbdcopy --request-size=4096 "$T/img" "$U" ||
		fail "nbdcopy in ($n)"
	timeout 300 qemu-img compare -f raw -F raw "$T/img" "$U" ||
		fail "qemu-img compare ($n)"
done
kill -0 "$SK_PID" || fail "daemon died"
sk_stop
for n in u p; do
	cmp "$T/img" "$T/$n.img" || fail "backing file $n differs after shutdown"
done
echo "nbd_inline_write: OK"
