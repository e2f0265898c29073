#!/usr/bin/env bash
# xdisk failover, each server in turn: like xdisk_failover_kill_active, but
# first the standby server is killed under I/O, brought back (the client
# reconnects and regains the path), and then the other one -- now active --
# is killed under a second workload.  No I/O may fail; all reads check out.
# The second server names the disk differently and joins the first by
# --xdisk-serial, so the two still make one xa disk.
# Ports 23120-23129.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
# This test's ports, from its own range (sk_port skips taken ones).
P0=$(sk_port 23120 10)
P1=$(sk_port 23120 10)
P2=$(sk_port 23120 10)
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

. "$(dirname "$0")/lib/xdisk.sh"

truncate -s 64M "$T/back.img"

xd_server 1 $P1
xd_start 2 --nbd none --xdisk 127.0.0.1:$P2 --disk "other=file:$T/back.img" \
	--xdisk-serial other=vol
xd_start 0 --nbd 127.0.0.1:$P0 --xdisk none --no-default-disk \
	--xdisk-backoff 50:200 \
	--xdisk-attach xdisk://127.0.0.1:$P1,127.0.0.1:$P2
xd_wait_paths 2

active=$(xd_active_port)
case "$active" in
"$P1") standby=2 sport=$P2 ;;
"$P2") standby=1 sport=$P1 ;;
*) xd_show; fail "no active path" ;;
esac
spid=$(eval echo \$PID$standby)
out=$("$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --qd 32 \
	--ops 20000 --kill "$spid" --kill-after 5000 --seed 7) || {
	echo "$out" >&2; xd_show; fail "workload failed across the standby kill"
}
echo "standby killed: $out"
xd_wait_paths 1
if [ "$standby" = 1 ]; then
	xd_server 1 $P1
else
	xd_start 2 --nbd none --xdisk 127.0.0.1:$P2 \
		--disk "other=file:$T/back.img" --xdisk-serial other=vol
fi
xd_wait_paths 2
[ "$(xd_ctl 0 disk list | grep -c '^xa')" -eq 1 ] || fail "not one xa disk"

active=$(xd_active_port)
case "$active" in
"$P1") victim=$PID1 ;;
"$P2") victim=$PID2 ;;
*) xd_show; fail "no active path" ;;
esac
out=$("$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --qd 32 \
	--ops 20000 --kill "$victim" --kill-after 5000 --seed 8 --first 8192) || {
	echo "$out" >&2; xd_show; fail "workload failed across the second kill"
}
echo "active killed: $out"
xd_stop 0
for n in 1 2; do
	p=$(eval echo "\${PID$n:-}")
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then xd_stop "$n"; fi
done
echo PASS
