#!/usr/bin/env bash
# Unknown commands, unknown or misplaced command flags, FLUSH with a range,
# BLOCK_STATUS without a context and writes to a read-only export are each
# answered with the protocol's error (EINVAL / EPERM, as error chunks with
# a message under structured replies) and the connection stays in step.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=22106

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
	--disk d=mem:16M --disk ro=mem:1M,ro
sk_wait_tcp "$PORT"

python3 - "127.0.0.1:$PORT" <<'PY' || fail "bad command handling"
import os, struct, sys
sys.path.insert(0, os.environ["T"])
from nbdc import *
addr = sys.argv[1]
EINVAL, EPERM = 22, 1
READ, WRITE, DISC, FLUSH, TRIM, CACHE, WZ, BS = range(8)
for structured in (False, True):
    s, size, flags = open_export(addr, b"d", structured)
    def check(typ, off=0, n=0, fl=0, payload=b"", want=EINVAL, what=""):
        req(s, typ, off, n, fl, cookie=0x77, payload=payload)
        e, c, d = reply(s)
        assert c == 0x77 and e == want, (what, structured, e, c)
        if structured and want:
            # an error chunk carries a message for humans
            assert struct.unpack(">H", d[4:6])[0] > 0, d
    check(9, what="unknown command 9")
    check(0x7FFF, what="unknown command 0x7fff")
    check(READ, 0, 512, fl=0x40, what="unknown flag bit 6")
    check(READ, 0, 512, fl=0x8000, what="unknown flag bit 15")
    check(WRITE, 0, 512, fl=0x2, payload=b"\0" * 512, what="NO_HOLE on WRITE")
    check(READ, 0, 512, fl=0x8, what="REQ_ONE on READ")
    check(FLUSH, 512, 0, what="FLUSH with an offset")
    check(FLUSH, 0, 512, what="FLUSH with a length")
    if not structured:
        check(READ, 0, 512, fl=0x4, what="DF without structured replies")
    check(BS, 0, 4096, what="BLOCK_STATUS without a metadata context")
    # The connection is still in step: a write and a read.
    req(s, WRITE, 4096, 512, cookie=1, payload=b"\xa5" * 512)
    assert reply(s)[:2] == (0, 1)
    req(s, READ, 4096, 512, cookie=2)
    e, c, d = reply(s)
    assert (e, c) == (0, 2)
    data = d[8:] if structured else rd(s, 512)
    assert data == b"\xa5" * 512
    req(s, DISC)
    assert closed(s)

# Writes on a read-only export: EPERM; trim/zero/flush are not offered.
s, size, flags = open_export(addr, b"ro")
assert flags & 2, "read-only flag"
req(s, WRITE, 0, 512, cookie=3, payload=b"x" * 512)
assert reply(s)[:2] == (EPERM, 3)
for typ in (TRIM, WZ, FLUSH):
    req(s, typ, 0, 512 if typ != FLUSH else 0, cookie=4)
    assert reply(s)[:2] == (EINVAL, 4), typ
req(s, READ, 0, 512, cookie=5)
assert reply(s)[:2] == (0, 5)
assert rd(s, 512) == bytes(512)
PY
sk_stop
echo "nbd_bad_command: OK"
