#!/usr/bin/env bash
# iSCSI admission control (docs/limits.md) against 2,000 half-open logins
# from one address (127.0.0.2): with the defaults the per-address cap
# refuses all but 64 of them; with that cap lifted the login budget
# (--iscsi-max-login) evicts the oldest connection still in login for
# each newcomer.  Either way iscsi-inq from 127.0.0.1 logs in and answers
# while the flood holds its connections, a session already past login
# (iscsi-perf, no reconnects allowed) is never touched, and every limit
# is counted in `scsikit stats`.  A PDU begun and never finished closes
# its connection within --iscsi-pdu-timeout.  Ports: 29050-29099.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_need iscsi-inq iscsi-perf python3
sk_init
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
PORT=$(sk_port 29050)
IQN=iqn.2026-11.org.scsikit:d
export T

# flood N: N connections from 127.0.0.2, each silent or with half a Login
# Request, held open until $T/flood.stop appears; writes $T/flood.ready.
flood() {
	rm -f "$T/flood.ready" "$T/flood.stop"
	python3 - "$PORT" "$1" <<'PY' &
import os, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
held = []
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    if i % 2:
        try:
            s.send(bytes([0x43, 0x87]) + bytes(20))  # half a Login BHS
        except OSError:
            pass
    held.append(s)
open(os.environ["T"] + "/flood.ready", "w").write("%d\n" % n)
for _ in range(300):
    if os.path.exists(os.environ["T"] + "/flood.stop"):
        break
    time.sleep(0.1)
PY
	FLOOD=$!
	SK_PIDS+=("$FLOOD")
	for _ in $(seq 1 300); do
		[ -f "$T/flood.ready" ] && return 0
		sleep 0.1
	done
	fail "flood did not finish connecting"
}

# check: a session past login survives the flood; iscsi-inq gets in.
check() {
	timeout 30 iscsi-perf -i iqn.2026-11.test:busy -m 4 -b 8 -r -t 8 -x 0 \
		"iscsi://127.0.0.1:$PORT/$IQN/0" >"$T/perf" 2>&1 &
	local perf=$!
	SK_PIDS+=("$perf")
	for _ in $(seq 1 100); do
		sk_ctl iscsi sessions | grep -q 'iqn.2026-11.test:busy' && break
		sleep 0.1
	done
	local before
	# (tsih, initiator, isid, target, peer: not the command count)
	before=$(sk_ctl iscsi sessions | grep 'iqn.2026-11.test:busy' |
		grep -o '^tsih=.* peer=[^ ]*') || fail "iscsi-perf session not up"
	flood 2000
	local t0=$(date +%s%N)
	out=$(timeout 20 iscsi-inq "iscsi://127.0.0.1:$PORT/$IQN/0") || {
		tail -20 "$T/serve.log" >&2
		fail "iscsi-inq locked out by half-open logins"
	}
	grep -q "Vendor:SCSIKIT" <<<"$out" || fail "inquiry: $out"
	echo "iscsi-inq answered in $((($(date +%s%N) - t0) / 1000000)) ms"
	sk_ctl iscsi sessions | grep -qF "$before" ||
		fail "the established session was disturbed"
	wait "$perf" || { cat "$T/perf" >&2; fail "iscsi-perf lost its session"; }
	touch "$T/flood.stop"
	wait "$FLOOD" || true
}

# 1. Defaults: 64 connections per address.
sk_serve --nbd none --xdisk none --vscsi none --iscsi "127.0.0.1:$PORT" \
	--disk d=mem:16M
sk_wait_tcp "$PORT"
check
# (most of the other 1,936: how many the kernel's backlog let through
# depends on the load)
sk_ctl stats | grep -Eq '^iscsi +open [0-9]+ refused-cap 0 refused-peer [0-9]{3,} ' || {
	sk_ctl stats >&2; fail "per-address refusals not counted"; }
[ "$(grep -c 'per-peer cap' "$T/serve.log")" -eq 1 ] || {
	cat "$T/serve.log" >&2; fail "the per-address cap not logged once"; }
sk_stop

# 2. No per-address cap: the login budget evicts the oldest in login.
sk_serve --nbd none --xdisk none --vscsi none --iscsi "127.0.0.1:$PORT" \
	--iscsi-max-per-peer 10000 --iscsi-max-connections 4000 \
	--iscsi-max-login 64 --disk d=mem:16M
sk_wait_tcp "$PORT"
check
# Each newcomer past 64 in login evicts one (or, while every one of
# those is already being closed, is refused).  How many of the 2,000 the
# kernel's backlog let through depends on the load, hence no exact count.
read -r ev ref < <(sk_ctl stats |
	sed -n 's/^iscsi .* refused-cap \([0-9]*\) .* evicted \([0-9]*\) .*/\2 \1/p')
[ "${ev:-0}" -ge 100 ] || { sk_ctl stats >&2; fail "evictions '$ev', refusals '$ref'"; }
echo "login budget: $ev evicted, $ref refused"
grep -q -- '--iscsi-max-login' "$T/serve.log" || fail "eviction not logged"
sk_stop

# 3. A PDU begun after login and never finished (half a BHS): the
#    connection is closed within --iscsi-pdu-timeout (2 s, checked each
#    second); a logged-in connection that is merely idle is not.
sk_serve --nbd none --xdisk none --vscsi none --iscsi "127.0.0.1:$PORT" \
	--iscsi-pdu-timeout 2 --disk d=mem:16M
sk_wait_tcp "$PORT"
python3 - "$PORT" <<'PY' || fail "incomplete PDU"
import socket, struct, sys, time
def login(port, n):
    s = socket.create_connection(("127.0.0.1", port))
    data = b"InitiatorName=iqn.2026-11.test:raw\0SessionType=Discovery\0"
    bhs = bytearray(48)
    bhs[0], bhs[1] = 0x43, 0x87      # Login, T=1 CSG=1 NSG=3
    bhs[5:8] = len(data).to_bytes(3, "big")
    data += b"\0" * (-len(data) % 4)
    bhs[8:14] = b"\x40\0\0\0\0" + bytes([n])  # ISID: one session each
    s.sendall(bytes(bhs) + data)
    rsp = b""
    while len(rsp) < 48:
        rsp += s.recv(48 - len(rsp))
    assert rsp[0] & 0x3f == 0x23 and rsp[36:38] == b"\0\0", rsp[:48].hex()
    dsl = int.from_bytes(rsp[5:8], "big")
    s.settimeout(5)
    while dsl > 0:
        dsl -= len(s.recv(dsl))
    return s
port = int(sys.argv[1])
slow, idle = login(port, 1), login(port, 2)
slow.sendall(bytes([0x40, 0x80]) + bytes(20))   # half a NOP-Out BHS
t0 = time.time()
slow.settimeout(8)
try:
    assert slow.recv(100) == b"", "data instead of a close"
except ConnectionResetError:
    pass
took = time.time() - t0
assert 1.5 < took < 4.5, took
idle.settimeout(0.5)
try:
    assert idle.recv(100) != b"", "idle session closed"
except socket.timeout:
    pass  # still open
PY
sk_ctl stats | grep -Eq '^iscsi +open [0-9]+ refused-cap 0 refused-peer 0 evicted 0 timeouts 1' || {
	sk_ctl stats >&2; fail "PDU timeout not counted"; }
sk_stop
echo "iscsi_admission: OK"
