#!/usr/bin/env bash
# xdisk CPU per I/O (not a test): for one or more scsikit builds, the IOPS
# of an xa0 export and of the same backend exported directly, beside the
# CPU each daemon spent per I/O (utime + stime from /proc/PID/stat around
# each run).  Every build gets its own three daemons (server 1 exporting
# the backing file over NBD and DMSG, server 2 over DMSG only, a client
# daemon importing both paths as xa0 and exporting it over NBD); the loads
# alternate between builds, and which build goes first, every round.
#
#   bench/xdisk_cpu.sh BUILD_DIR [BUILD_DIR...]
#   env: ROUNDS (3), SECS (3), LOADS ("4k-randread 4k-randwrite"),
#        BENCH_PORT (27300; each build takes 4 ports from it),
#        PERF_DIR (record `perf record -g` of both xa0 daemons there,
#        one file per build, daemon and load)
# Run it under flock /tmp/sk-bench.lock.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [BUILD_DIR...]" >&2; exit 2; }
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-3}
LOADS=${LOADS:-"4k-randread 4k-randwrite"}
PORT=${BENCH_PORT:-27300}
BUILDS=("$@")
T=$(mktemp -d /tmp/xdisk-cpu.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

declare -A PID
start() { # B N ARGS...
	local b=$1 n=$2 i
	shift 2
	"${BUILDS[$b]}/scsikit" serve --iscsi none --vscsi none \
		--ctl "$T/ctl$b.$n.sock" "$@" >"$T/d$b.$n.log" 2>&1 &
	PIDS+=("$!")
	PID[$b.$n]=$!
	for i in $(seq 1 100); do
		"${BUILDS[$b]}/scsikit" ctl --socket "$T/ctl$b.$n.sock" version \
			>/dev/null 2>&1 && return
		sleep 0.1
	done
	echo "daemon $b.$n did not start" >&2
	exit 1
}

for b in "${!BUILDS[@]}"; do
	p=$((PORT + 4 * b))
	truncate -s 1G "$T/back$b.img"
	start "$b" 1 --nbd "127.0.0.1:$p" --xdisk "127.0.0.1:$((p + 1))" \
		--disk "vol=file:$T/back$b.img"
	start "$b" 2 --nbd none --xdisk "127.0.0.1:$((p + 2))" \
		--disk "vol=file:$T/back$b.img"
	start "$b" 0 --nbd "127.0.0.1:$((p + 3))" --xdisk none \
		--no-default-disk --xdisk-attach \
		"xdisk://127.0.0.1:$((p + 1)),127.0.0.1:$((p + 2))"
	for i in $(seq 1 100); do
		"${BUILDS[$b]}/scsikit" ctl --socket "$T/ctl$b.0.sock" xdisk list |
			grep -q 'state open paths 2' && break
		sleep 0.1
	done
done

ticks() { # PID -> utime + stime in clock ticks
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}
HZ=$(getconf CLK_TCK)

# One load on one export of build b; prints a result line.
run() { # B WHAT(direct|xa0) LOAD
	local b=$1 what=$2 load=$3 p=$((PORT + 4 * $1)) port exp
	local c0 s0 c1 s1 out iops active srv perfp=()
	if [ "$what" = direct ]; then port=$p exp=vol; else port=$((p + 3)) exp=xa0; fi
	active=$("${BUILDS[$b]}/scsikit" ctl --socket "$T/ctl$b.0.sock" xdisk list |
		sed -n 's/.* via 127\.0\.0\.1:\([0-9]*\) active.*/\1/p')
	srv=${PID[$b.1]}
	[ "$what" = xa0 ] && [ "$active" = $((p + 2)) ] && srv=${PID[$b.2]}
	if [ -n "${PERF_DIR:-}" ] && [ "$what" = xa0 ]; then
		perf record -q -g -o "$PERF_DIR/b$b-client-$load.data" \
			-p "${PID[$b.0]}" -- sleep "$SECS" >/dev/null 2>&1 &
		perfp+=($!)
		perf record -q -g -o "$PERF_DIR/b$b-server-$load.data" \
			-p "$srv" -- sleep "$SECS" >/dev/null 2>&1 &
		perfp+=($!)
	fi
	c0=$(ticks "${PID[$b.0]}")
	s0=$(ticks "$srv")
	out=$("${BUILDS[$b]}/bench_xdisk_bench" throughput --nbd "127.0.0.1:$port" \
		--export "$exp" --seconds "$SECS" --only "$load")
	c1=$(ticks "${PID[$b.0]}")
	s1=$(ticks "$srv")
	for q in "${perfp[@]}"; do wait "$q" || true; done
	iops=$(echo "$out" | awk '{ for (i = 1; i <= NF; i++) if ($i == "iops") print $(i + 1) }')
	awk -v b="${BUILDS[$b]}" -v w="$what" -v l="$load" -v n="$iops" \
		-v c=$((c1 - c0)) -v s=$((s1 - s0)) -v hz="$HZ" -v t="$SECS" \
		-v x="$what" 'BEGIN {
		ops = n * t; cu = (x == "xa0") ? c / hz * 1e6 / ops : 0
		su = s / hz * 1e6 / ops
		printf "%-16s %-6s %-13s %8.0f %8.2f %8.2f %8.2f\n",
			b, w, l, n, cu, su, cu + su }'
}

printf "%-16s %-6s %-13s %8s %8s %8s %8s\n" build path load IOPS \
	"cli_us" "srv_us" "tot_us"
for r in $(seq 1 "$ROUNDS"); do
	order=("${!BUILDS[@]}")
	if [ $((r % 2)) = 0 ]; then
		order=()
		for ((i = ${#BUILDS[@]} - 1; i >= 0; i--)); do order+=("$i"); done
	fi
	for load in $LOADS; do
		for b in "${order[@]}"; do
			run "$b" direct "$load"
			run "$b" xa0 "$load"
		done
	done
done | tee "$T/res"
echo "== medians over $ROUNDS rounds (uptime: $(cut -d' ' -f1-3 /proc/loadavg))"
awk '{ k = $1 " " $2 " " $3; v[k] = v[k] " " $4 ":" $5 ":" $6 ":" $7 }
END { for (k in v) print k, v[k] }' "$T/res" | sort | while read -r b w l rest; do
	med() { tr ' ' '\n' <<<"$rest" | awk -F: -v f="$1" 'NF { print $f }' |
		sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
	printf "%-16s %-6s %-13s %8.0f %8.2f %8.2f %8.2f\n" "$b" "$w" "$l" \
		"$(med 1)" "$(med 2)" "$(med 3)" "$(med 4)"
done
