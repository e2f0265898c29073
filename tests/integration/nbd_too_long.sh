#!/usr/bin/env bash
# Lengths beyond the advertised maximum block size: READ, CACHE and WRITE
# get EINVAL (the refused write's payload is skipped, never buffered), a
# 4 GiB write header costs no memory, TRIM/WRITE_ZEROES are not limited.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=22108

export T
# A raw NBD client for sending what real clients never send (written to
# $T/nbdc.py; see docs/nbd.md for the wire format).
nbd_pyclient() {
	cat >"$T/nbdc.py" <<'PY'
import socket, struct, sys
M_OPT = 0x49484156454F5054
M_REQ, M_SIMPLE, M_STRUCT = 0x25609513, 0x67446698, 0x668E33EF
def conn(addr):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(addr)
    else:
        h, p = addr.rsplit(":", 1)
        s = socket.create_connection((h, int(p)))
    s.settimeout(10)
    return s
def rd(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += c
    return b
def greet(s, cflags=1):
    m, o, f = struct.unpack(">QQH", rd(s, 18))
    assert m == 0x4E42444D41474943 and o == M_OPT, "bad greeting"
    s.sendall(struct.pack(">I", cflags))
def opt(s, o, data=b""):
    s.sendall(struct.pack(">QII", M_OPT, o, len(data)) + data)
def opt_reply(s):
    m, o, t, n = struct.unpack(">QIII", rd(s, 20))
    assert m == 0x3E889045565A9, "bad option reply magic"
    return o, t, rd(s, n)
def go(s, name=b"", structured=False):
    if structured:
        opt(s, 8)
        assert opt_reply(s)[1] == 1
    opt(s, 7, struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
    size = flags = None
    while True:
        o, t, d = opt_reply(s)
        if t == 1:
            return size, flags
        assert t == 3, "GO failed: %#x %r" % (t, d)
        if struct.unpack(">H", d[:2])[0] == 0:
            size, flags = struct.unpack(">QH", d[2:12])
def open_export(addr, name=b"", structured=False):
    s = conn(addr)
    greet(s)
    size, flags = go(s, name, structured)
    return s, size, flags
def req(s, typ, off=0, n=0, flags=0, cookie=1, payload=b""):
    s.sendall(struct.pack(">IHHQQI", M_REQ, flags, typ, cookie, off, n) + payload)
def reply(s):
    """(error, cookie, payload) of a simple reply or of one chunk."""
    m = struct.unpack(">I", rd(s, 4))[0]
    if m == M_SIMPLE:
        e, c = struct.unpack(">IQ", rd(s, 12))
        return e, c, b""
    assert m == M_STRUCT, "bad reply magic %#x" % m
    fl, t, c, n = struct.unpack(">HHQI", rd(s, 16))
    d = rd(s, n)
    if t & 0x8000:
        return struct.unpack(">I", d[:4])[0], c, d
    return 0, c, d
def closed(s, timeout=10):
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
PY
}
nbd_pyclient

sk_serve --iscsi none --xdisk none --vscsi none --nbd "127.0.0.1:$PORT" \
	--disk d=mem:256M
sk_wait_tcp "$PORT"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SK_PID/status"; }
rss0=$(rss)

python3 - "127.0.0.1:$PORT" <<'PY' || fail "over-long request handling"
import os, struct, sys
sys.path.insert(0, os.environ["T"])
from nbdc import *
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
