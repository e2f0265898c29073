#!/usr/bin/env bash
# xdisk failover, hung server: the server of the active path is stopped
# (SIGSTOP: its TCP connection stays up, it just falls silent); the client,
# with a 1 s silence limit (every daemon pinging every 200 ms), declares the
# link lost and fails over.  No I/O may fail; every acknowledged write reads back.
# Ports 23180-23189.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
# This test's ports, from its own range (sk_port skips taken ones).
P0=$(sk_port 23180 10)
P1=$(sk_port 23180 10)
P2=$(sk_port 23180 10)
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

. "$(dirname "$0")/lib/xdisk.sh"

truncate -s 64M "$T/back.img"

# The servers' keep-alive must beat the client's silence limit.
for n in 1 2; do
	pn=P$n
	xd_start $n --nbd none --xdisk "127.0.0.1:${!pn}" --xdisk-ping 200 \
		--disk "vol=file:$T/back.img"
done
xd_start 0 --nbd 127.0.0.1:$P0 --xdisk none --no-default-disk \
	--xdisk-ping 200 --xdisk-timeout 1000 --xdisk-backoff 50:200 \
	--xdisk-attach xdisk://127.0.0.1:$P1,127.0.0.1:$P2
xd_wait_paths 2
active=$(xd_active_port)
case "$active" in
"$P1") victim=$PID1 ;;
"$P2") victim=$PID2 ;;
*) xd_show; fail "no active path" ;;
esac
out=$("$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --qd 32 \
	--ops 20000 --kill "$victim" --kill-sig 19 --kill-after 5000 \
	--timeout 60) || {
	kill -CONT "$victim" 2>/dev/null
	echo "$out" >&2; xd_show; fail "workload failed across the hang"
}
echo "$out"
stall=$(echo "$out" | sed -n 's/.*stall_ms \([0-9]*\).*/\1/p')
[ -n "$stall" ] && [ "$stall" -ge 500 ] && [ "$stall" -lt 5000 ] || {
	xd_show; fail "stall $stall ms: not detected by the 1 s silence limit"
}
# The healthy link never flapped; the hung one was lost (and lost again
# after each reconnect, which the stopped process's kernel still accepts).
hport=$(($P1 + $P2 - active))
xd_ctl 0 xdisk list | grep -q "link 127.0.0.1:$hport up connects 1 losses 0" &&
	xd_ctl 0 xdisk list | grep -Eq "link 127.0.0.1:$active .* losses [1-9]" ||
	{ xd_ctl 0 xdisk list >&2; fail "wrong links lost"; }
kill -CONT "$victim"
xd_stop 0
for n in 1 2; do
	p=$(eval echo "\${PID$n:-}")
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then xd_stop "$n"; fi
done
echo "PASS: $out"
