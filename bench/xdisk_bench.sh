#!/usr/bin/env bash
# xdisk benchmark (not a test): throughput of an xa disk against the same
# backend exported directly, and the failover stall.
#
#   [ROUNDS=3] bench/xdisk_bench.sh [BUILD_DIR] [SECONDS]
#
# Two `scsikit serve` daemons export one backing file (vol) over DMSG; the
# first also exports it over NBD ("direct").  A client daemon imports it as
# xa0 (two paths) and exports that over NBD ("xa0").  bench_xdisk_bench
# measures both exports the same way: 4 KiB random write/read and 1 MiB
# sequential write/read at queue depth 32 over one NBD connection,
# alternating ROUNDS times and printing medians.  Then a
# verified workload runs on xa0 while the server of the active path is
# killed with SIGKILL; "stall_ms" is the time from the kill to the
# completion of the first I/O issued after it.  Default keep-alive settings.
# Ports 23190-23193, or XDISK_BENCH_PORT and the three above it.
set -euo pipefail
B=${1:-build}
SECS=${2:-3}
P=${XDISK_BENCH_PORT:-23190}
S=$B/scsikit
X=$B/bench_xdisk_bench
[ -x "$S" ] && [ -x "$X" ] || { echo "build first: $S, $X" >&2; exit 1; }
T=$(mktemp -d /tmp/xdisk-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

start() { # N ARGS...
	local n=$1 i
	shift
	"$S" serve --iscsi none --ctl "$T/ctl$n.sock" "$@" >"$T/d$n.log" 2>&1 &
	PIDS+=("$!")
	eval "PID$n=$!"
	for i in $(seq 1 100); do
		"$S" ctl --socket "$T/ctl$n.sock" version >/dev/null 2>&1 && return
		sleep 0.1
	done
	echo "daemon $n did not start" >&2
	exit 1
}

truncate -s 1G "$T/back.img"
start 1 --nbd 127.0.0.1:$((P + 1)) --xdisk 127.0.0.1:$((P + 2)) --disk "vol=file:$T/back.img"
start 2 --nbd none --xdisk 127.0.0.1:$((P + 3)) --disk "vol=file:$T/back.img"
start 0 ${XDISK_BENCH_CLIENT_OPTS:-} --nbd 127.0.0.1:$P --xdisk none --no-default-disk \
	--xdisk-attach xdisk://127.0.0.1:$((P + 2)),127.0.0.1:$((P + 3))
for i in $(seq 1 100); do
	"$S" ctl --socket "$T/ctl0.sock" xdisk list | grep -q 'state open paths 2' && break
	sleep 0.1
done

# Alternate the two exports ROUNDS times (default 3) and report medians:
# on a small shared machine single runs vary a lot.
ROUNDS=${ROUNDS:-3}
for r in $(seq 1 "$ROUNDS"); do
	"$X" throughput --nbd 127.0.0.1:$((P + 1)) --export vol --seconds "$SECS" >>"$T/direct"
	"$X" throughput --nbd 127.0.0.1:$P --export xa0 --seconds "$SECS" >>"$T/xa"
done
median() { # FILE TEST -> median MiB/s
	awk -v t="$2" '$2 == t { for (i = 1; i <= NF; i++) if ($i == "MiB/s") print $(i + 1) }' "$1" |
		sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : 0) }'
}
echo "== median of $ROUNDS rounds, ${SECS}s each, QD32, one NBD connection"
printf "%-13s %12s %12s %7s\n" test "direct MiB/s" "xa0 MiB/s" ratio
for t in 4k-randwrite 4k-randread 1m-seqwrite 1m-seqread; do
	d=$(median "$T/direct" $t)
	x=$(median "$T/xa" $t)
	awk -v t=$t -v d="$d" -v x="$x" 'BEGIN {
		printf "%-13s %12.1f %12.1f %7.2f\n", t, d, x, (d > 0 ? x / d : 0) }'
done

echo "== failover stall (kill -9 of the active path's server under QD32)"
active=$("$S" ctl --socket "$T/ctl0.sock" xdisk list |
	sed -n 's/.* via 127\.0\.0\.1:\([0-9]*\) active.*/\1/p')
[ "$active" = $((P + 2)) ] && victim=$PID1 || victim=$PID2
"$X" workload --nbd 127.0.0.1:$P --export xa0 --qd 32 --ops 60000 \
	--blocks 16384 --unknown-ok --kill "$victim" --kill-after 20000
echo "(stall_ms: kill to the completion of the first I/O issued after it;"
echo " max_gap_ms: longest time between two completions in the whole run)"
