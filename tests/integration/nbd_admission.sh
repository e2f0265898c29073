#!/usr/bin/env bash
# NBD admission control (docs/limits.md) against hostile clients:
# 1,100 connections from one address that finish the handshake and sit
# idle do not keep nbdinfo from another address out (per-address cap);
# at the connection cap, a connection idle past --nbd-idle-timeout is
# evicted for a newcomer (and none is while all are younger); a request
# header dribbled a byte at a time, and a WRITE whose payload never comes,
# are closed within --nbd-body-timeout while a merely idle connection
# stays; every limit is counted in `scsikit stats` and logged once.
# Ports: 29000-29049.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_need nbdinfo python3
sk_init
export SK_LIB="$(cd "$(dirname "$0")/lib" && pwd)"
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PORT=$(sk_port 29000)

# 1. 1,100 idle connections from 127.0.0.2 (default limits: 128 per
#    address, 1024 in all); nbdinfo from 127.0.0.1 still gets in.
sk_serve --iscsi none --xdisk none --vscsi none --nbd "127.0.0.1:$PORT" \
	--disk d=mem:16M
sk_wait_tcp "$PORT"
export T
python3 - "$PORT" <<'PY' &
import os, socket, struct, sys, time
sys.path.insert(0, os.environ["SK_LIB"])
from nbdclient import *
port = int(sys.argv[1])
held, refused = [], 0
for i in range(1100):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    try:
        greet(s)
        go(s, b"d")
        held.append(s)
    except (EOFError, ConnectionResetError, BrokenPipeError):
        refused += 1
        s.close()
assert len(held) == 128 and refused == 972, (len(held), refused)
open(os.environ["T"] + "/hostile.ready", "w").write("%d\n" % len(held))
time.sleep(3)
# Below the cap, idle connections are never closed: each still works.
for n, s in enumerate(held[:8]):
    req(s, 3, cookie=n + 1)
    assert reply(s)[:2] == (0, n + 1)
PY
HOSTILE=$!
SK_PIDS+=("$HOSTILE")
for _ in $(seq 1 300); do
	[ -f "$T/hostile.ready" ] && break
	kill -0 "$HOSTILE" 2>/dev/null || fail "hostile client failed"
	sleep 0.1
done
[ -f "$T/hostile.ready" ] || fail "hostile client did not finish connecting"
t0=$(date +%s%N)
[ "$(timeout 10 nbdinfo --size "nbd://127.0.0.1:$PORT/d")" = $((16 << 20)) ] ||
	fail "nbdinfo locked out by idle connections from another address"
echo "nbdinfo answered in $((($(date +%s%N) - t0) / 1000000)) ms with 128 idle held"
wait "$HOSTILE" || fail "idle connections were closed or refused wrongly"
sk_ctl nbd list | grep -q 'refused-peer 972 ' || {
	sk_ctl nbd list >&2; fail "per-address refusals not counted"; }
sk_ctl stats | grep -Eq '^nbd +open [0-9]+ refused-cap 0 refused-peer 972 ' || {
	sk_ctl stats >&2; fail "scsikit stats lacks the NBD limits"; }
[ "$(grep -c 'per-peer cap' "$T/serve.log")" -eq 1 ] || {
	cat "$T/serve.log" >&2; fail "the per-address cap not logged exactly once"; }
sk_stop

# 2. At the cap (20), idle connections younger than the idle timeout keep
#    their slots; once older, the idlest is evicted for nbdinfo.
# 3. Body timeout 1.5 s: dribbled header and missing payload are closed.
sk_serve --iscsi none --xdisk none --vscsi none --nbd "127.0.0.1:$PORT" \
	--nbd-max-conns 20 --nbd-max-per-peer 1000 --nbd-idle-timeout 2000 \
	--nbd-body-timeout 1500 --disk d=mem:16M
sk_wait_tcp "$PORT"
python3 - "$PORT" "$SCSIKIT" <<'PY' || fail "eviction / body timeout"
import os, socket, struct, subprocess, sys, time
sys.path.insert(0, os.environ["SK_LIB"])
from nbdclient import *
port, addr = int(sys.argv[1]), "127.0.0.1:" + sys.argv[1]
url = "nbd://127.0.0.1:%d/d" % port
def nbdinfo():
    return subprocess.run(["nbdinfo", "--size", url], capture_output=True,
                          timeout=10).returncode == 0
held = [open_export(addr, b"d")[0] for _ in range(20)]
assert not nbdinfo(), "admitted over the cap with no connection idle long"
time.sleep(2.5)
assert nbdinfo(), "no idle connection evicted for a newcomer"
gone = [s for s in held if closed(s, 0.5)]
assert len(gone) == 1, len(gone)
for s in held:
    s.close()
time.sleep(0.5)
# A header dribbled one byte every 0.25 s: closed within the body timeout.
s, _, _ = open_export(addr, b"d")
idle, _, _ = open_export(addr, b"d")
hdr = struct.pack(">IHHQQI", M_REQ, 0, 0, 7, 0, 512)
t0 = time.time()
try:
    for b in hdr:
        s.sendall(bytes([b]))
        time.sleep(0.25)
    raise AssertionError("dribbled header not closed")
except (BrokenPipeError, ConnectionResetError):
    pass
took = time.time() - t0
assert 1.4 < took < 4, took
# A WRITE header whose payload never comes.
s, _, _ = open_export(addr, b"d")
req(s, 1, 0, 4096, cookie=9, payload=b"x" * 100)
t0 = time.time()
assert closed(s, 6), "WRITE without payload not closed"
took = time.time() - t0
assert 1.2 < took < 4, took
# The idle connection (no partial request) is still served.
req(idle, 3, cookie=5)
assert reply(idle)[:2] == (0, 5)
PY
sk_ctl nbd list | grep -Eq 'evicted-idle 1 body-timeouts 2' || {
	sk_ctl nbd list >&2; fail "eviction / body timeouts not counted"; }
sk_ctl stats | grep -Eq '^nbd +open [0-9]+ refused-cap 1 refused-peer 0 evicted 1 timeouts 2' || {
	sk_ctl stats >&2; fail "scsikit stats lacks eviction / timeouts"; }
grep -q 'nbd-body-timeout' "$T/serve.log" || fail "body timeout not logged"
sk_stop
echo "nbd_admission: OK"
