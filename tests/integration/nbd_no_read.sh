#!/usr/bin/env bash
# A client that sends requests and never reads the replies: the server
# stops reading it once its per-connection budget is used (memory stays
# bounded), serves other clients meanwhile, and closes it after the stall
# timeout.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
export SK_LIB="$(cd "$(dirname "$0")/lib" && pwd)"
PORT=$(sk_port 22190 10)


sk_serve --iscsi none --xdisk none --vscsi none --nbd "127.0.0.1:$PORT" \
	--nbd-max-requests 16 --nbd-max-buffer 1M --nbd-stall-timeout 3000 \
	--disk d=mem:64M
sk_wait_tcp "$PORT"
export SK_PID

python3 - "127.0.0.1:$PORT" <<'PY' || fail "client that does not read"
import os, socket, struct, sys, time
sys.path.insert(0, os.environ["SK_LIB"])
from nbdclient import *
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
