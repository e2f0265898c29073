#!/usr/bin/env bash
# bench/iscsi_ini_bench.sh: 4 KiB random reads at queue depth 32 against one
# tgt LUN, in the same run, through scsikit's iSCSI initiator
# (bench_iscsi_ini_bench: CCBs, and the da bdev on top) and through
# libiscsi's iscsi-perf; prints the IOPS of each and the ratio.
#
#   bench/iscsi_ini_bench.sh [BUILD_DIR] [SECONDS] [ROUNDS]
#
# Needs root for tgtd.  Ports: tgtd portal 25190, control port 25191.
set -euo pipefail
BUILD=${1:-build}
SECS=${2:-5}
ROUNDS=${3:-3}
BENCH=$BUILD/bench_iscsi_ini_bench
PORT=25190
CTL=25191
IQN=iqn.2026-11.org.scsikit.bench:ini

for c in iscsi-perf tgtd tgtadm "$BENCH"; do
	command -v "$c" >/dev/null || [ -x "$c" ] ||
		{ echo "missing: $c" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "tgtd needs root" >&2; exit 1; }
T=$(mktemp -d /tmp/sk-inibench.XXXXXX)
TPID=
cleanup() {
	[ -n "$TPID" ] && kill -9 "$TPID" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
head -c $((256 << 20)) /dev/urandom >"$T/lun.img"
tgtd -f -C "$CTL" --iscsi "portal=127.0.0.1:$PORT" >"$T/tgt.log" 2>&1 &
TPID=$!
for _ in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.1
done
tgtadm -C "$CTL" --lld iscsi --op new --mode target --tid 1 -T "$IQN"
tgtadm -C "$CTL" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 \
	-b "$T/lun.img"
tgtadm -C "$CTL" --lld iscsi --op bind --mode target --tid 1 -I ALL
URL="iscsi://127.0.0.1:$PORT/$IQN/1"

perf() {
	timeout $((SECS + 30)) iscsi-perf -m 32 -b 8 -r -t "$SECS" "$URL" \
		2>&1 | tr '\r' '\n' | grep -o "iops average [0-9]*" | tail -1 |
		awk '{print $3}'
}
sk=0 skda=0 lib=0
printf "%-5s %12s %12s %12s\n" round scsikit-ccb scsikit-da iscsi-perf
for r in $(seq 1 "$ROUNDS"); do
	out=$("$BENCH" "$URL" "$SECS" 32)
	a=$(sed -n 's/^ccb IOPS \([0-9]*\).*/\1/p' <<<"$out")
	b=$(sed -n 's/^da IOPS \([0-9]*\).*/\1/p' <<<"$out")
	c=$(perf)
	printf "%-5s %12s %12s %12s\n" "$r" "$a" "$b" "$c"
	sk=$((sk + a)) skda=$((skda + b)) lib=$((lib + c))
done
printf "mean  %12d %12d %12d\n" $((sk / ROUNDS)) $((skda / ROUNDS)) \
	$((lib / ROUNDS))
awk -v a="$sk" -v b="$skda" -v c="$lib" 'BEGIN {
	printf "ratio scsikit/iscsi-perf: ccb %.2f, da %.2f\n", a / c, b / c }'
