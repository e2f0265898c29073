# Failover of a multipathed import under a verifying workload (sourced,
# not run): what mpath_failover.sh (gateways on one file) and
# rbd_gateways.sh (gateways on one RBD image) share.  The initiator daemon
# is the test's sk_serve daemon ($T/ctl.sock) with an --import of the LU
# re-exported over NBD on port $FO_NBD as $FO_EXPORT.
#
#   fo_gateway NAME PORT TAG [OPTIONS...]
#                          start a target daemon exporting $FO_DISK on
#                          iSCSI 127.0.0.1:PORT in portal group TAG, control
#                          socket $T/NAME.sock, log $T/NAME.log; sets
#                          PID_NAME; returns once it listens
#   fo_path_state PORT     active or failed: the path to PORT, as the
#                          initiator sees it
#   fo_prio_of PORT        prio=N of that path
#   fo_wait_path_active PORT
#   fo_wait_optimized PORT that path active and priority 0 again
#   fo_kill_cycles N PORT PIDVAR RESTART...
#                          N times: wait until the path to PORT is the
#                          optimized one, run bench_xdisk_bench's verifying
#                          workload through the NBD export and SIGKILL the
#                          process named by $PIDVAR after 2000 ops, require
#                          no I/O error and nothing read back wrong, then
#                          run $FO_AFTER_KILL (if set: a command, say a
#                          check of what the survivors report) and then
#                          RESTART... (which sets $PIDVAR again).
#                          Leaves FO_STALLS (ms from the kill to the first
#                          I/O issued after it completing) and FO_GAPS (the
#                          longest time without any completion) per cycle.
: "${FO_EXPORT:=mp0}"
FO_BENCH="$SK_BUILD/bench_xdisk_bench"

fo_gateway() {
	local name=$1 port=$2 tag=$3
	shift 3
	"$SCSIKIT" serve --ctl "$T/$name.sock" --no-default-disk --nbd none \
		--xdisk none --disk "$FO_DISK" --iscsi "127.0.0.1:$port,$tag" \
		"$@" >>"$T/$name.log" 2>&1 &
	eval "PID_$name=$!"
	SK_PIDS+=("$!")
	sk_wait_tcp "$port"
}

fo_path_state() {
	sk_ctl import list | awk -v p=":$1/" 'index($2, p) { print $3 }'
}

fo_prio_of() {
	sk_ctl import list | awk -v p=":$1/" 'index($2, p) { print $4 }'
}

fo_wait_path_active() {
	local i
	for i in $(seq 1 150); do
		[ "$(fo_path_state "$1")" = active ] && return 0
		sleep 0.1
	done
	sk_ctl import list >&2
	fail "path to port $1 did not come back"
}

fo_wait_optimized() {
	local i
	fo_wait_path_active "$1"
	# The client re-reads REPORT TARGET PORT GROUPS every second.
	for i in $(seq 1 50); do
		[ "$(fo_prio_of "$1")" = prio=0 ] && return 0
		sleep 0.1
	done
	sk_ctl import list >&2
	fail "path to port $1 not optimized again"
}

fo_kill_cycles() {
	local n=$1 port=$2 pidvar=$3 i out
	shift 3
	: "${FO_NBD:?FO_NBD must be the NBD port of the initiator daemon}"
	FO_STALLS=()
	FO_GAPS=()
	for i in $(seq 1 "$n"); do
		fo_wait_optimized "$port"
		out=$("$FO_BENCH" workload --nbd "127.0.0.1:$FO_NBD" \
			--export "$FO_EXPORT" --qd 16 --ops 6000 \
			--kill "${!pidvar}" --kill-after 2000 --unknown-ok \
			--timeout 60) || { echo "$out" >&2;
			sk_ctl import list >&2;
			fail "workload failed across kill $i"; }
		grep -q " errors 0 mismatches 0 lost 0 corrupt 0 " <<<"$out" ||
			fail "errors, kill $i: $out"
		FO_STALLS+=("$(sed -n 's/.*stall_ms \([0-9.]*\).*/\1/p' <<<"$out")")
		FO_GAPS+=("$(sed -n 's/.*max_gap_ms \([0-9.]*\).*/\1/p' <<<"$out")")
		wait "${!pidvar}" 2>/dev/null || true
		[ -z "${FO_AFTER_KILL:-}" ] || $FO_AFTER_KILL
		"$@"
	done
}
