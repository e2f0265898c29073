#!/usr/bin/env bash
# Clients that connect and never finish negotiating are closed by the
# handshake timeout; connections over --nbd-max-conns are refused; a
# negotiated connection may stay idle.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
export SK_LIB="$(cd "$(dirname "$0")/lib" && pwd)"
PORT=$(sk_port 22200 10)


sk_serve --iscsi none --xdisk none --vscsi none --nbd "127.0.0.1:$PORT" \
	--nbd-handshake-timeout 1000 --nbd-max-conns 8 --disk d=mem:16M
sk_wait_tcp "$PORT"

python3 - "127.0.0.1:$PORT" <<'PY' || fail "idle / excess connections"
import os, socket, struct, sys, time
sys.path.insert(0, os.environ["SK_LIB"])
from nbdclient import *
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
