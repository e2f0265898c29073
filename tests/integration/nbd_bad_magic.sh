#!/usr/bin/env bash
# Wrong magic numbers (option header, request header), bad client flags
# and random bytes: each offending connection is closed cleanly, another
# connection carries on, and the daemon keeps serving.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=22104

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
	--disk d=mem:16M
sk_wait_tcp "$PORT"

python3 - "127.0.0.1:$PORT" <<'PY' || fail "bad magic handling"
import os, struct, sys
sys.path.insert(0, os.environ["T"])
from nbdc import *
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
