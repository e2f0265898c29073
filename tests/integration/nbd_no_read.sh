#!/usr/bin/env bash
# A client that sends requests and never reads the replies: the server
# stops reading it once its per-connection budget is used (memory stays
# bounded), serves other clients meanwhile, and closes it after the stall
# timeout.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=22109

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
	--nbd-max-requests 16 --nbd-max-buffer 1M --nbd-stall-timeout 3000 \
	--disk d=mem:64M
sk_wait_tcp "$PORT"
export SK_PID

python3 - "127.0.0.1:$PORT" <<'PY' || fail "client that does not read"
import os, socket, struct, sys, time
sys.path.insert(0, os.environ["T"])
from nbdc import *
addr = sys.argv[1]
def rss():
    for l in open("/proc/%s/status" % os.environ["SK_PID"]):
        if l.startswith("VmRSS"):
            return int(l.split()[1])
# Fill the disk so reads return real data.
w, _, _ = open_export(addr, b"d")
for i in range(64):
    req(w, 1, i << 20, 1 << 20, cookie=i, payload=os.urandom(1) * (1 << 20))
for i in range(64):
    assert reply(w)[0] == 0
base = rss()

# The greedy client: 1 MiB reads, as fast as the server takes them,
# never reading a reply.
g = conn(addr)
g.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
greet(g)
go(g, b"d")
g.setblocking(False)
hdr = lambda i: struct.pack(">IHHQQI", M_REQ, 0, 0, i, (i % 64) << 20, 1 << 20)
sent, stuck_since = 0, None
t0 = time.time()
while time.time() - t0 < 20:
    try:
        sent += g.send(b"".join(hdr(sent + k) for k in range(64)))
    except BlockingIOError:
        if stuck_since is None:
            stuck_since = time.time()
        elif time.time() - stuck_since > 1.0:
            break
        time.sleep(0.01)
        continue
    stuck_since = None
assert stuck_since is not None, "the server never stopped reading"
print("greedy client got %d bytes of requests in before being stopped" % sent)
grown = rss() - base
print("daemon RSS grew by %d kB" % grown)
assert grown < 64 * 1024, grown

# Meanwhile everyone else is served.
s, _, _ = open_export(addr, b"d")
for i in range(32):
    req(s, 0, i << 20, 65536, cookie=i)
    e, c, _ = reply(s)
    assert (e, c) == (0, i)
    rd(s, 65536)
# The greedy one is closed after the stall timeout (3 s).
g.setblocking(True)
time.sleep(4)
g.settimeout(10)
t1 = time.time()
ok = False
try:
    while True:
        b = g.recv(1 << 20)
        if not b:
            ok = True
            break
except (ConnectionResetError, BrokenPipeError):
    ok = True
assert ok, "greedy connection was not closed"
req(s, 3, cookie=1000)
assert reply(s)[:2] == (0, 1000)
PY
sk_ctl nbd conns >"$T/conns"
[ "$(grep -c '^conn ' "$T/conns")" -le 1 ] || { cat "$T/conns" >&2; fail "stalled connection still listed"; }
sk_stop
echo "nbd_no_read: OK"
