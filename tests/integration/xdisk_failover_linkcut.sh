#!/usr/bin/env bash
# xdisk failover, link cut: the client reaches both servers through TCP
# proxies (bench_xdisk_bench proxy); mid-workload the proxy of the active
# path drops its connections while the server process lives on.  No I/O may
# fail, everything reads back, and the client reconnects through the proxy
# so that both paths are live again.  Ports 23130-23139.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
# This test's ports, from its own range (sk_port skips taken ones).
P0=$(sk_port 23130 10)
P1=$(sk_port 23130 10)
P2=$(sk_port 23130 10)
P3=$(sk_port 23130 10)
P4=$(sk_port 23130 10)
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

. "$(dirname "$0")/lib/xdisk.sh"

truncate -s 64M "$T/back.img"

xd_server 1 $P1
xd_server 2 $P2
"$BENCH" proxy $P3 $P1 2>"$T/proxy1.log" &
PROXY1=$!
SK_PIDS+=("$PROXY1")
"$BENCH" proxy $P4 $P2 2>"$T/proxy2.log" &
PROXY2=$!
SK_PIDS+=("$PROXY2")
sk_wait_tcp $P3
sk_wait_tcp $P4
xd_start 0 --nbd 127.0.0.1:$P0 --xdisk none --no-default-disk \
	--xdisk-backoff 50:200 \
	--xdisk-attach xdisk://127.0.0.1:$P3,127.0.0.1:$P4
xd_wait_paths 2

active=$(xd_active_port)
case "$active" in
"$P3") cut=$PROXY1 ;;
"$P4") cut=$PROXY2 ;;
*) xd_show; fail "no active path" ;;
esac
out=$("$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --qd 32 \
	--ops 30000 --kill "$cut" --kill-sig 10 --kill-after 8000) || {
	echo "$out" >&2; xd_show; fail "workload failed across the link cut"
}
echo "$out"
grep -q 'cut [1-9]' "$T/proxy1.log" "$T/proxy2.log" ||
	fail "the proxy cut nothing"
kill -0 "$PID1" && kill -0 "$PID2" || fail "a server died"
xd_wait_paths 2 # reconnected through the proxy
xd_ctl 0 xdisk list | grep -q 'losses 1' || { xd_show; fail "no loss seen"; }
xd_stop 0
for n in 1 2; do
	p=$(eval echo "\${PID$n:-}")
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then xd_stop "$n"; fi
done
echo "PASS: $out"
