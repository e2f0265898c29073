#!/usr/bin/env bash
# xdisk server admission control (docs/limits.md), --xdisk-max-conns 3
# --xdisk-max-per-peer 3: one address gets 3 links and no more; with two
# real clients' links up (past LNK_CONN), a flood of 50 silent connections
# never evicts them -- each newcomer evicts the oldest link still in its
# handshake -- and once three links are up a fourth connection is refused
# (nothing left to evict); all of it counted in `scsikit stats` and logged.
# Ports: 29100-29149.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_need python3
sk_init
. "$(dirname "$0")/lib/xdisk.sh"
P=$(sk_port 29100)
truncate -s 16M "$T/back.img"

# Daemon 0: the server.  Daemons 1..3: clients, one link each.
xd_start 0 --nbd none --vscsi none --xdisk "127.0.0.1:$P" \
	--xdisk-max-conns 3 --xdisk-max-per-peer 3 --disk "vol=file:$T/back.img"
links() { xd_ctl 0 xdisk list | grep -c "^link .* state $1" || true; }
wait_links() {
	for _ in $(seq 1 100); do
		[ "$(links ready)" -eq "$1" ] && return 0
		sleep 0.1
	done
	xd_ctl 0 xdisk list >&2
	fail "not $1 ready links"
}
# count_open ADDR N: N silent connections from ADDR, held together;
# prints how many the server kept open.
count_open() {
	python3 - "$P" "$1" "$2" <<'PY'
import socket, sys, time
port, src, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
socks = []
for i in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
    time.sleep(0.01)
time.sleep(1.0)
kept = 0
for s in socks:
    s.settimeout(0.05)
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        kept += 1
    except ConnectionResetError:
        pass
print(kept)
PY
}

# One address: 3 in, 2 refused.
[ "$(count_open 127.0.0.2 5)" -eq 3 ] || fail "per-address cap"
for n in 1 2; do
	xd_start "$n" --nbd none --vscsi none --xdisk none \
		--xdisk-attach "xdisk://127.0.0.1:$P"
done
wait_links 2
# 50 silent connections from 127.0.0.3: only the newest is still open.
[ "$(count_open 127.0.0.3 50)" -eq 1 ] || fail "silent flood"
wait_links 2
xd_ctl 0 stats | grep -Eq '^xdisk +open 2 refused-cap 0 refused-peer 2 evicted 49 ' || {
	xd_ctl 0 stats >&2; fail "per-address / eviction counters"; }

# A third client takes the last slot; a fourth connection is refused.
xd_start 3 --nbd none --vscsi none --xdisk none \
	--xdisk-attach "xdisk://127.0.0.1:$P"
wait_links 3
[ "$(count_open 127.0.0.4 1)" -eq 0 ] || fail "accepted past the cap"
wait_links 3
xd_ctl 0 stats | grep -Eq '^xdisk +open 3 refused-cap 1 refused-peer 2 evicted 49 ' || {
	xd_ctl 0 stats >&2; fail "refusal at the cap not counted"; }
for w in 'the cap' 'per-peer cap' 'in handshake'; do
	grep -q "$w" "$T/d0.log" || fail "not logged: $w"
done
for n in 3 2 1 0; do xd_stop "$n"; done
echo "xdisk_admission: OK"
