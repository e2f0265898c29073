#!/usr/bin/env bash
# Run every fuzz harness for a long time, one after the other, each from
# its committed seed corpus plus what earlier long runs found.
#   fuzz/run-long.sh [SECONDS_EACH] [HARNESS...]     (default: 3600, all)
# Build first:  CC=clang cmake -S . -B build-fuzz -DSK_FUZZ=ON &&
#               cmake --build build-fuzz -j2
# (SK_FUZZ_BUILD=dir picks another build directory.)  Per harness, the
# inputs found go to $SK_FUZZ_BUILD/fuzz/long/<harness>/ (never into the
# committed corpus: minimise them into it by hand with -merge=1 when they
# are worth keeping), the log to long/<harness>.log, and a crash to
# long/crash-*.  The last line of each log gives executions, exec/s and
# coverage; the script prints those and exits non-zero if any harness
# found a crash.  Runs at nice 10: it yields to everything else.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
b=${SK_FUZZ_BUILD:-build-fuzz}
secs=${1:-3600}
shift || true
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in fuzz/fuzz_*.c; do
		n=${f#fuzz/fuzz_}
		names+=("${n%.c}")
	done
fi
declare -A maxlen=([dmsg]=70000 [iscsi]=16384 [nbd]=70000 [scsi]=300
	[vscsi]=9000 [nbd_conn]=65536 [iscsi_tgt]=65536
	[dmsg_iocom]=65536)
out=$b/fuzz/long
mkdir -p "$out"
bad=0
for n in "${names[@]}"; do
	exe=$b/fuzz/fuzz_$n
	[ -x "$exe" ] || { echo "$exe not built" >&2; exit 2; }
	mkdir -p "$out/$n"
	args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=1024
		-print_final_stats=1 -artifact_prefix="$out/")
	[ -n "${maxlen[$n]:-}" ] && args+=(-max_len="${maxlen[$n]}")
	if [ -f "fuzz/$n.dict" ]; then
		args+=(-dict="fuzz/$n.dict")
	elif [ -f "fuzz/${n%%_*}.dict" ]; then
		args+=(-dict="fuzz/${n%%_*}.dict")
	fi
	rc=0
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		nice -n 10 "$exe" "${args[@]}" "$out/$n" "$src/fuzz/corpus/$n" \
		>"$out/$n.log" 2>&1 || rc=$?
	first=$(grep -m1 -E '^#[0-9]+.*(INITED|cov:)' "$out/$n.log" || true)
	last=$(grep -E '^#[0-9]+.*cov:' "$out/$n.log" | tail -1 || true)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$n.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$n.log")
	echo "$n: rc $rc, $execs executions, $rate exec/s"
	echo "  start: $first"
	echo "  end:   $last"
	[ "$rc" -eq 0 ] || bad=1
done
exit $bad
