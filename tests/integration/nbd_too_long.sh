#!/usr/bin/env bash
# Lengths beyond the advertised maximum block size: READ, CACHE and WRITE
# get EINVAL (the refused write's payload is skipped, never buffered), a
# 4 GiB write header costs no memory, TRIM/WRITE_ZEROES are not limited.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
export SK_LIB="$(cd "$(dirname "$0")/lib" && pwd)"
PORT=$(sk_port 22180 10)


sk_serve --iscsi none --xdisk none --vscsi none --nbd "127.0.0.1:$PORT" \
	--disk d=mem:256M
sk_wait_tcp "$PORT"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SK_PID/status"; }
rss0=$(rss)

python3 - "127.0.0.1:$PORT" <<'PY' || fail "over-long request handling"
import os, struct, sys
sys.path.insert(0, os.environ["SK_LIB"])
from nbdclient import *
addr = sys.argv[1]
EINVAL = 22
READ, WRITE, DISC, FLUSH, TRIM, CACHE, WZ, BS = range(8)
s = conn(addr); greet(s)
# Ask for the block sizes.
opt(s, 7, struct.pack(">I", 1) + b"d" + struct.pack(">HH", 1, 3))
mx = None
while True:
    o, t, d = opt_reply(s)
    if t == 1:
        break
    if struct.unpack(">H", d[:2])[0] == 3:
        mn, pref, mx = struct.unpack(">III", d[2:14])
assert mx and mx >= 1 << 20, mx
# Reads, caches and writes beyond the advertised maximum: EINVAL.
req(s, READ, 0, mx + 512, cookie=1)
assert reply(s)[:2] == (EINVAL, 1)
req(s, READ, 0, 0xFFFFFE00, cookie=2)
assert reply(s)[:2] == (EINVAL, 2)
req(s, CACHE, 0, mx + 512, cookie=3)
assert reply(s)[:2] == (EINVAL, 3)
# The payload of a refused write is read and thrown away, not stored.
req(s, WRITE, 0, mx + 512, cookie=4, payload=b"\x5a" * (mx + 512))
assert reply(s)[:2] == (EINVAL, 4)
req(s, READ, 0, 4096, cookie=5)
e, c, _ = reply(s)
assert (e, c) == (0, 5)
assert rd(s, 4096) == bytes(4096), "refused write changed the disk"
# Exactly the maximum is fine.
req(s, WRITE, 0, mx, cookie=6, payload=b"\x11" * mx)
assert reply(s)[:2] == (0, 6)
# Trim and write-zeroes are not bounded by it (no payload).
req(s, WZ, 0, 128 << 20, cookie=7)
assert reply(s)[:2] == (0, 7)
req(s, DISC)
assert closed(s)
# A write header claiming 4 GiB, then the client gives up: the server
# never allocated for it and just drops the connection at EOF.
s, _, _ = open_export(addr, b"d")
req(s, WRITE, 0, 0xFFFFFE00, cookie=8)
s.sendall(b"\0" * (1 << 20))
s.close()
PY
sleep 0.5
rss1=$(rss)
echo "daemon RSS: ${rss0} kB before, ${rss1} kB after"
[ $((rss1 - rss0)) -lt $((200 * 1024)) ] || fail "RSS grew by $((rss1 - rss0)) kB"
nbdinfo --size "nbd://127.0.0.1:$PORT/d" >/dev/null || fail "server unusable afterwards"
sk_stop
echo "nbd_too_long: OK"
