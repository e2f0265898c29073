#!/usr/bin/env bash
# Out-of-range and misaligned requests: reads, trims and caches past the end
# get EINVAL, writes and write-zeroes past the end ENOSPC (the protocol's
# choices), offset+length wrap-around and misalignment EINVAL; refused write
# payloads are skipped so the stream stays in step.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=22107

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
	--disk d=mem:16M --disk k=mem:16M,bs=4096
sk_wait_tcp "$PORT"

python3 - "127.0.0.1:$PORT" <<'PY' || fail "bad range handling"
import os, struct, sys
sys.path.insert(0, os.environ["T"])
from nbdc import *
addr = sys.argv[1]
EINVAL, ENOSPC = 22, 28
READ, WRITE, DISC, FLUSH, TRIM, CACHE, WZ, BS = range(8)
SIZE = 16 << 20
for structured in (False, True):
    s, size, flags = open_export(addr, b"d", structured)
    assert size == SIZE
    def check(typ, off, n, want, payload=b"", fl=0):
        req(s, typ, off, n, fl, cookie=off & 0xffff, payload=payload)
        e, c, d = reply(s)
        assert (e, c) == (want, off & 0xffff), (typ, off, n, e, structured)
    check(READ, SIZE - 512, 1024, EINVAL)
    check(READ, SIZE, 512, EINVAL)
    check(READ, (1 << 64) - 512, 1024, EINVAL)          # offset + length wraps
    check(WRITE, SIZE - 512, 1024, ENOSPC, payload=b"w" * 1024)
    check(WRITE, 1 << 40, 512, ENOSPC, payload=b"w" * 512)
    check(WZ, SIZE - 4096, 8192, ENOSPC)
    check(TRIM, SIZE, 4096, EINVAL)
    check(CACHE, SIZE - 512, 4096, EINVAL)
    check(READ, 100, 512, EINVAL)                       # misaligned offset
    check(READ, 512, 100, EINVAL)                       # misaligned length
    check(WRITE, 1, 512, EINVAL, payload=b"m" * 512)    # payload skipped
    # Still in step after the refused payloads.
    req(s, READ, 0, 512, cookie=99)
    e, c, d = reply(s)
    assert (e, c) == (0, 99), (e, c)
    if not structured:
        rd(s, 512)
    req(s, DISC)
    assert closed(s)

# Structured: the error of a bad READ is an error chunk, never data.
s, _, _ = open_export(addr, b"d", True)
req(s, READ, SIZE, 4096, cookie=5)
m, fl, t, c, n = struct.unpack(">IHHQI", rd(s, 20))
assert m == M_STRUCT and t == 0x8001 and fl & 1 and c == 5, (hex(t), fl)
body = rd(s, n)
assert struct.unpack(">I", body[:4])[0] == EINVAL

# A 4096-byte-block disk refuses 512-byte alignment.
s, size, _ = open_export(addr, b"k")
req(s, READ, 512, 4096, cookie=6)
assert reply(s)[:2] == (EINVAL, 6)
req(s, WRITE, 4096, 512, cookie=7, payload=b"z" * 512)
assert reply(s)[:2] == (EINVAL, 7)
req(s, READ, 4096, 4096, cookie=8)
assert reply(s)[:2] == (0, 8)
rd(s, 4096)
PY
sk_stop
echo "nbd_bad_range: OK"
