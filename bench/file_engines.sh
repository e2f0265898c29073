#!/usr/bin/env bash
# The file backend's engines compared (not a test): io_uring against the
# worker pool, driven directly through the library by bench_file_engine_bench
# on one reactor at queue depth 32.
#
#   [ROUNDS=3] [SECS=3] bench/file_engines.sh [BUILD_DIR] [DIR]
#
# A 1 GiB file in DIR (default /var/tmp, a disk file system: tmpfs has no
# O_DIRECT), written in full first so that reads read data, not holes.  For
# buffered and O_DIRECT, 4 KiB random read/write and 128 KiB sequential
# read/write; the two engines alternate ROUNDS times and the medians are
# printed with the ratio uring/pool.  cpu_us/io is the process's CPU time
# (every thread, io_uring's kernel workers included) per I/O.  Run it under
# `flock /tmp/sk-bench.lock`.
set -euo pipefail
B=${1:-build}
DIR=${2:-/var/tmp}
ROUNDS=${ROUNDS:-3}
SECONDS_EACH=${SECS:-3}
X=$B/bench_file_engine_bench
[ -x "$X" ] || { echo "build first: $X" >&2; exit 1; }
F=$(mktemp "$DIR/sk-engines.XXXXXX")
trap 'rm -f "$F"' EXIT
dd if=/dev/zero of="$F" bs=1M count=1024 conv=fsync status=none

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-9s %-9s %-5s | %9s %7s | %9s %7s | %6s\n' mode rw bs \
	"pool iops" "cpu/io" "uring iops" "cpu/io" "ratio"
for mode in buffered direct; do
	flag=
	[ $mode = direct ] && flag=--direct
	for job in randread:4K randwrite:4K read:128K write:128K; do
		rw=${job%%:*}
		bs=${job##*:}
		declare -A iops=() cpu=()
		for r in $(seq 1 "$ROUNDS"); do
			for e in pool uring; do
				out=$("$X" --file "$F" --engine $e $flag \
					--rw "$rw" --bs "$bs" --qd 32 \
					--seconds "$SECONDS_EACH")
				iops[$e]+="$(echo "$out" | field iops) "
				cpu[$e]+="$(echo "$out" | field cpu_us_per_io) "
			done
		done
		pi=$(echo "${iops[pool]}" | tr ' ' '\n' | grep . | median)
		ui=$(echo "${iops[uring]}" | tr ' ' '\n' | grep . | median)
		pc=$(echo "${cpu[pool]}" | tr ' ' '\n' | grep . | median)
		uc=$(echo "${cpu[uring]}" | tr ' ' '\n' | grep . | median)
		printf '%-9s %-9s %-5s | %9.0f %7.2f | %9.0f %7.2f | %5.2fx\n' \
			$mode "$rw" "$bs" "$pi" "$pc" "$ui" "$uc" \
			"$(echo "$ui $pi" | awk '{ print $1 / $2 }')"
		unset iops cpu
	done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
