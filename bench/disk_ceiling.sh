#!/usr/bin/env bash
# Front-end ceilings (not a test): one `scsikit serve` exports a null disk
# (the protocol's ceiling: nothing stored), a mem disk, and one backing file
# twice, on the pool engine and on io_uring; every figure is also given as
# a fraction of null's.
#
#   [ROUNDS=2] [SECS=5] bench/disk_ceiling.sh [BUILD_DIR]
#
# NBD: fio's nbd engine (libnbd) over the Unix socket: 4 KiB random read
# and write at QD32, 128 KiB sequential write at QD8.  iSCSI: iscsi-perf
# (libiscsi; reads only): 4 KiB random and 128 KiB sequential at QD32.  The
# disks take turns within each round; medians over ROUNDS.  Beside IOPS,
# the server's CPU time (utime+stime from /proc/PID/stat) over the run
# divided by the I/Os done, for NBD (iscsi-perf reports no I/O count, so
# the iSCSI cells carry IOPS only).
# The file is 1 GiB on /var/tmp, written in full first; the mem disk is
# filled with the same data.  Ports 21900-21909.  Run it under
# `flock /tmp/sk-bench.lock`.
set -euo pipefail
B=${1:-build}
ROUNDS=${ROUNDS:-2}
SECS=${SECS:-5}
S=$B/scsikit
IPORT=21901
IQN=iqn.2026-11.org.scsikit
[ -x "$S" ] || { echo "build first: $S" >&2; exit 1; }
for c in fio nbdcopy iscsi-perf; do
	command -v $c >/dev/null || { echo "missing: $c" >&2; exit 2; }
done
T=$(mktemp -d /var/tmp/sk-ceiling.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

head -c $((1 << 30)) /dev/urandom >"$T/f.img"
"$S" serve --ctl "$T/ctl.sock" --xdisk none --vscsi none \
	--nbd 127.0.0.1:21902 --nbd-unix "$T/nbd.sock" \
	--iscsi "127.0.0.1:$IPORT" \
	--disk n=null:1G --disk m=mem:1G \
	--disk fp="file:$T/f.img,engine=pool" \
	--disk fu="file:$T/f.img,engine=uring" >"$T/serve.log" 2>&1 &
PID=$!
for i in $(seq 1 100); do
	[ -S "$T/nbd.sock" ] && break
	sleep 0.1
done
sleep 0.5
nbdcopy "$T/f.img" "nbd+unix:///m?socket=$T/nbd.sock"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# nbd DISK RW BS QD -> "iops cpu_us_per_io"
nbd() {
	local c0 c1 out ios iops
	c0=$(cpu_ticks)
	out=$(fio --name=b --ioengine=nbd \
		--uri="nbd+unix:///$1?socket=$T/nbd.sock" --rw="$2" --bs="$3" \
		--iodepth="$4" --time_based --runtime="$SECS" \
		--output-format=json 2>"$T/fio.err") || { cat "$T/fio.err" >&2; exit 1; }
	c1=$(cpu_ticks)
	read -r ios iops < <(echo "$out" | python3 -c '
import json, sys
t = sys.stdin.read()
j = json.loads(t[t.index("{"):])["jobs"][0]  # past fio: connected...
d = j["write"] if j["write"]["total_ios"] else j["read"]
print(d["total_ios"], d["iops"])')
	echo "$iops $(echo "$c0 $c1 $ios $HZ" |
		awk '{ printf "%.2f", ($2 - $1) * 1e6 / $4 / $3 }')"
}

# iscsi DISK BLOCKS RANDOM -> "iops"
iscsi() {
	timeout $((SECS + 30)) iscsi-perf -m 32 -b "$2" -t "$SECS" $3 \
		"iscsi://127.0.0.1:$IPORT/$IQN:$1/0" 2>&1 | tr '\r' '\n' |
		sed -n 's/.*iops average \([0-9]*\).*/\1/p' | tail -1
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
DISKS="n m fp fu"
declare -A R
for r in $(seq 1 "$ROUNDS"); do
	for d in $DISKS; do
		R[$d.nrr]+="$(nbd $d randread 4k 32)|"
		R[$d.nrw]+="$(nbd $d randwrite 4k 32)|"
		R[$d.nsw]+="$(nbd $d write 128k 8)|"
		R[$d.irr]+="$(iscsi $d 8 -r) "
		R[$d.isr]+="$(iscsi $d 256 '') "
	done
done
col() { # KEY FIELD(1 iops, 2 cpu)
	echo "${R[$1]}" | tr '|' '\n' | grep . | awk -v f="$2" '{ print $f }' |
		median
}
printf '%-4s | %-24s | %-24s | %-24s | %-16s | %-16s\n' disk \
	"NBD 4K randread QD32" "NBD 4K randwrite QD32" "NBD 128K write QD8" \
	"iSCSI 4K randrd" "iSCSI 128K read"
for d in $DISKS; do
	line=$(printf '%-4s' $d)
	for k in nrr nrw nsw; do
		i=$(col $d.$k 1)
		n=$(col n.$k 1)
		line+=$(printf ' | %7.0f %4.0f%% %5sus/io' "$i" \
			"$(echo "$i $n" | awk '{ print 100 * $1 / $2 }')" \
			"$(col $d.$k 2)")
	done
	for k in irr isr; do
		i=$(echo "${R[$d.$k]}" | tr ' ' '\n' | grep . | median)
		n=$(echo "${R[n.$k]}" | tr ' ' '\n' | grep . | median)
		line+=$(printf ' | %7.0f %5.0f%%  ' "$i" \
			"$(echo "$i $n" | awk '{ print 100 * $1 / $2 }')")
	done
	echo "$line"
done
echo "(each cell: IOPS, % of the null disk's, server CPU us per I/O)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
