#!/usr/bin/env bash
# xdisk failover, server killed: two daemons export one backing file under
# one label; a client daemon imports it as xa0 (one disk, two paths) and
# exports it over NBD; a verified random write/read workload at queue depth
# 32 runs through it while the server holding the active path is killed
# with SIGKILL.  No I/O may fail and every acknowledged write must read back
# (bench_xdisk_bench keeps the record and checks block by block).
# Ports 23110-23119.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
# This test's ports, from its own range (sk_port skips taken ones).
P0=$(sk_port 23110 10)
P1=$(sk_port 23110 10)
P2=$(sk_port 23110 10)
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

. "$(dirname "$0")/lib/xdisk.sh"

truncate -s 64M "$T/back.img"

xd_server 1 $P1
xd_server 2 $P2
xd_start 0 --nbd 127.0.0.1:$P0 --xdisk none --no-default-disk \
	--xdisk-attach xdisk://127.0.0.1:$P1,127.0.0.1:$P2
xd_wait_paths 2
xd_ctl 0 disk list | grep -q '^xa0 ' || fail "xa0 not in the disk registry"

active=$(xd_active_port)
case "$active" in
"$P1") victim=$PID1 ;;
"$P2") victim=$PID2 ;;
*) xd_show; fail "no active path" ;;
esac
out=$("$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --qd 32 \
	--ops 30000 --kill "$victim" --kill-after 8000 --timeout 120) || {
	echo "$out" >&2
	xd_show
	fail "workload failed across the kill of the active server"
}
echo "$out"
xd_ctl 0 xdisk stats | grep -q 'failovers [1-9]' || {
	xd_show
	fail "no failover recorded"
}
xd_wait_paths 1
xd_stop 0
for n in 1 2; do
	p=$(eval echo "\${PID$n:-}")
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then xd_stop "$n"; fi
done
echo "PASS: $out"
