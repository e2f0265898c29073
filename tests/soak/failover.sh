#!/usr/bin/env bash
# Failover soak: kill servers under a verifying writer, cycle after cycle.
#
#   tests/soak/failover.sh CASE CYCLES [BUILD_DIR]      (BUILD_DIR: build)
#
# CASE is one of
#   xdisk-two     two xdisk servers export one backing file; each cycle
#                 SIGKILLs the server of the client's active path (I/O
#                 fails over to the other), then restarts it
#   xdisk-one     one server; each cycle kills it (I/O waits) and restarts
#                 it 1 s later (I/O resumes)
#   xdisk-both    two servers; each cycle kills both (I/O waits), restarts
#                 both 1 s later
#   iscsi-import  a daemon imports an iSCSI LUN (--import iscsi://) from a
#                 scsikit target; each cycle kills the target and restarts
#                 it 0.7 s later (the initiator reconnects)
#   all           each of the above, one after the other
#
# The writer is bench_xdisk_bench's workload, through the client daemon's
# NBD export: random 4 KiB writes and reads at queue depth 16, every
# acknowledged write recorded, every read checked against the record, and
# every block read back and checked at the end of each cycle.  A block
# that reads back as zeros or as an older write of itself counts as lost,
# anything else wrong as corrupt.  Per case the script prints cycles, ops,
# I/O errors, lost, corrupt and the longest stall (the longest time
# without any completion, across the kill and restart), and exits 1 if
# anything was lost, corrupt or failed.
#
# Not part of CTest: it runs for minutes (about 3-6 s a cycle).  Ports
# 29200-29299.  Run it niced on a shared machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
CASE=${1:?usage: failover.sh CASE CYCLES [BUILD_DIR]}
CYCLES=${2:?usage: failover.sh CASE CYCLES [BUILD_DIR]}
B=${3:-$src/build}
case $B in /*) ;; *) B=$src/$B ;; esac
export SCSIKIT=$B/scsikit SK_BUILD=$B
BENCH=$B/bench_xdisk_bench
[ -x "$SCSIKIT" ] && [ -x "$BENCH" ] || {
	echo "build $B first (scsikit, bench_xdisk_bench)" >&2
	exit 2
}
. "$src/tests/integration/lib/common.sh"
. "$src/tests/integration/lib/xdisk.sh"

# Per cycle: 3,000 ops over 4,096 blocks (16 MiB), kill after 1,000.
OPS=3000
BLOCKS=4096
KILL_AFTER=1000

# run_cycle N VICTIMS RESTART: one workload with the victims killed after
# KILL_AFTER ops; RESTART (a function) brings them back once they are
# gone.  Adds the cycle's figures to the totals.
run_cycle() {
	local n=$1 victims=$2 restart=$3 out rc=0 p
	"$BENCH" workload --nbd "127.0.0.1:$NPORT" --export "$EXPORT" \
		--qd 16 --ops $OPS --blocks $BLOCKS --seed "$n" --unknown-ok \
		--kill "$victims" --kill-after $KILL_AFTER --timeout 120 \
		>"$T/w.out" 2>"$T/w.err" &
	local w=$!
	for p in ${victims//,/ }; do
		while kill -0 "$p" 2>/dev/null &&
			[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" != Z ]; do
			kill -0 "$w" 2>/dev/null || break
			sleep 0.05
		done
	done
	$restart
	wait "$w" || rc=$?
	out=$(cat "$T/w.out")
	read -r ops err lost corrupt gap < <(awk '{
		for (i = 1; i < NF; i++) v[$i] = $(i + 1)
		print v["ops"] + 0, v["errors"] + 0, v["lost"] + 0,
		      v["corrupt"] + 0, v["max_gap_ms"] + 0 }' <<<"$out")
	if [ "$rc" -ne 0 ] && [ "$err$lost$corrupt" = 000 ]; then
		err=1 # the workload failed without counting it (timeout, EOF)
	fi
	TOPS=$((TOPS + ops))
	TERR=$((TERR + err))
	TLOST=$((TLOST + lost))
	TCORRUPT=$((TCORRUPT + corrupt))
	if awk -v a="$gap" -v b="$TSTALL" 'BEGIN { exit !(a > b) }'; then
		TSTALL=$gap
	fi
	if [ "$rc" -ne 0 ]; then
		echo "cycle $n: workload exit $rc: $out $(head -3 "$T/w.err")" >&2
	fi
	CYC=$n
}

report() {
	echo "$CASE: cycles $CYC ops $TOPS errors $TERR lost $TLOST" \
		"corrupt $TCORRUPT longest_stall_ms $TSTALL"
	[ "$TERR$TLOST$TCORRUPT" = 000 ]
}

# ---- xdisk ----------------------------------------------------------------

xdisk_setup() {
	local nsrv=$1 addrs="" i
	truncate -s $((BLOCKS * 4096)) "$T/back.img"
	for i in $(seq 1 "$nsrv"); do
		SPORT[$i]=$(sk_port $((29200 + i * 10)) 10)
		xd_server "$i" "${SPORT[$i]}"
		addrs="$addrs${addrs:+,}127.0.0.1:${SPORT[$i]}"
	done
	NPORT=$(sk_port 29200 10)
	xd_start 0 --nbd "127.0.0.1:$NPORT" --xdisk none --no-default-disk \
		--xdisk-backoff 50:300 --xdisk-attach "xdisk://$addrs"
	xd_wait_paths "$nsrv"
	EXPORT=xa0
}

# Restart every server that is gone; wait for all paths.
xdisk_restart() {
	local i p
	[ -n "${RESTART_DELAY:-}" ] && sleep "$RESTART_DELAY"
	for i in $(seq 1 "$NSRV"); do
		p=$(eval echo "\$PID$i")
		kill -0 "$p" 2>/dev/null &&
			[ "$(awk '{print $3}' "/proc/$p/stat")" != Z ] && continue
		wait "$p" 2>/dev/null || true
		xd_server "$i" "${SPORT[$i]}"
	done
}

xdisk_case() {
	local kind=$1 n victims
	NSRV=2
	[ "$kind" = one ] && NSRV=1
	RESTART_DELAY=
	[ "$kind" != two ] && RESTART_DELAY=1
	xdisk_setup "$NSRV"
	for n in $(seq 1 "$CYCLES"); do
		case $kind in
		two)
			case $(xd_active_port) in
			"${SPORT[1]}") victims=$PID1 ;;
			"${SPORT[2]}") victims=$PID2 ;;
			*) xd_show; fail "no active path" ;;
			esac
			;;
		one) victims=$PID1 ;;
		both) victims=$PID1,$PID2 ;;
		esac
		run_cycle "$n" "$victims" xdisk_restart
		# Back to full strength before the next cycle (the restarted
		# wait was for the processes, not for the paths).
		xd_wait_paths "$NSRV"
	done
}

# ---- iSCSI import -----------------------------------------------------------

iscsi_start_target() {
	"$SCSIKIT" serve --ctl "$T/tgt.sock" --iscsi "127.0.0.1:$APORT" \
		--nbd none --xdisk none --vscsi none --no-default-disk \
		--disk "a=file:$T/a.img" >>"$T/tgt.log" 2>&1 &
	TPID=$!
	SK_PIDS+=("$TPID")
	sk_wait_tcp "$APORT"
}

iscsi_restart() {
	wait "$TPID" 2>/dev/null || true
	sleep 0.7
	iscsi_start_target
}

iscsi_case() {
	local n
	APORT=$(sk_port 29250 10)
	NPORT=$(sk_port 29260 10)
	truncate -s $((BLOCKS * 4096)) "$T/a.img"
	iscsi_start_target
	sk_serve --iscsi none --xdisk none --vscsi none --no-default-disk \
		--nbd "127.0.0.1:$NPORT" --import-backoff 100 \
		--import-replacement-timeout 30 \
		--import "imp=iscsi://127.0.0.1:$APORT/iqn.2026-11.org.scsikit:a/0"
	sk_wait_tcp "$NPORT"
	EXPORT=imp
	for n in $(seq 1 "$CYCLES"); do
		run_cycle "$n" "$TPID" iscsi_restart
	done
}

one_case() {
	CASE=$1
	TOPS=0 TERR=0 TLOST=0 TCORRUPT=0 TSTALL=0 CYC=0
	sk_init
	case $CASE in
	xdisk-two) xdisk_case two ;;
	xdisk-one) xdisk_case one ;;
	xdisk-both) xdisk_case both ;;
	iscsi-import) iscsi_case ;;
	*) echo "unknown case $CASE" >&2; exit 2 ;;
	esac
	report
}

if [ "$CASE" = all ]; then
	bad=0
	for c in xdisk-two xdisk-one xdisk-both iscsi-import; do
		( one_case "$c" ) || bad=1
	done
	exit $bad
fi
one_case "$CASE"
