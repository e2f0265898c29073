#!/usr/bin/env bash
# Clients that connect and never finish negotiating are closed by the
# handshake timeout; connections over --nbd-max-conns are refused; a
# negotiated connection may stay idle.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=22110

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
	--nbd-handshake-timeout 1000 --nbd-max-conns 8 --disk d=mem:16M
sk_wait_tcp "$PORT"

python3 - "127.0.0.1:$PORT" <<'PY' || fail "idle / excess connections"
import os, socket, struct, sys, time
sys.path.insert(0, os.environ["T"])
from nbdc import *
addr = sys.argv[1]
# Silent clients, and one that stops half way through an option, are
# closed by the handshake timeout.
silent = [conn(addr) for _ in range(3)]
half = conn(addr); greet(half)
half.sendall(struct.pack(">QII", M_OPT, 7, 100) + b"\0" * 10)
t0 = time.time()
for s in silent + [half]:
    assert closed(s, 5), "idle connection not closed"
took = time.time() - t0
assert took < 10, took  # the timeout is 1 s; generous for loaded machines
# Over the connection limit: refused; after the others close, accepted.
many = [conn(addr) for _ in range(8)]
for s in many:
    rd(s, 18)
extra = conn(addr)
assert closed(extra, 5), "connection over --nbd-max-conns not refused"
for s in many:
    s.close()
time.sleep(0.3)
s, size, _ = open_export(addr, b"d")
assert size == 16 << 20
# A connection that finished the handshake may stay idle.
time.sleep(1.5)
req(s, 3, cookie=3)
assert reply(s)[:2] == (0, 3)
PY
sk_stop
echo "nbd_idle: OK"
