#!/usr/bin/env bash
# bench/rbd_bench.sh: scsikit as a Ceph RBD gateway against librbd itself,
# in the same run, on one image of a throwaway one-node cluster
# (tests/integration/lib/ceph.sh: memstore OSD, loopback):
#
#   direct   fio's rbd engine on the image (librbd in fio's process)
#   nbd      fio's nbd engine through scsikit's NBD export of the image
#   iscsi    iscsi-perf through scsikit's iSCSI export (reads only:
#            iscsi-perf does not write)
#
# Loads: 4 KiB random read and random write at queue depth 32, 128 KiB
# sequential read and write at queue depth 8.  Prints IOPS per round, the
# means, each path's ratio to direct librbd, the daemon's CPU per I/O
# (utime+stime from /proc/PID/stat around the run, over the I/Os done) and
# its context switches per I/O (voluntary and not, all its threads, from
# /proc/PID/task/*/status): the hand-offs between the reactors, librbd's
# threads and the messenger.
#
#   flock /tmp/sk-bench.lock bench/rbd_bench.sh [BUILD_DIR] [SECONDS] [ROUNDS]
#
# Ports: 24900 (iSCSI), 24901 (NBD); SK_BENCH_PORT=P takes P and P+1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:-build}
SECS=${2:-10}
ROUNDS=${3:-3}
SCSIKIT=$(realpath "$BUILD/scsikit")
ISCSI=${SK_BENCH_PORT:-24900}
NBDP=$((ISCSI + 1))
IQN=iqn.2026-11.org.scsikit
. "$HERE/../tests/integration/lib/ceph.sh"

for c in fio iscsi-perf python3 "$SCSIKIT"; do
	command -v "$c" >/dev/null || [ -x "$c" ] ||
		{ echo "missing: $c" >&2; exit 1; }
done
for e in rbd nbd; do
	fio --enghelp="$e" >/dev/null 2>&1 ||
		{ echo "fio lacks the $e engine" >&2; exit 1; }
done
T=$(mktemp -d /tmp/sk-rbdbench.XXXXXX)
SPID=
cleanup() {
	[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null
	wait 2>/dev/null || true
	ceph_down "$T/ceph"
	rm -rf "$T"
}
trap cleanup EXIT

ceph_up "$T/ceph"
export CEPH_CONF	# fio's rbd engine reads the conf it names
ceph_rbd create --size 1G bench
"$SCSIKIT" serve --socket "$T/ctl.sock" --iscsi "127.0.0.1:$ISCSI" \
	--nbd "127.0.0.1:$NBDP" --xdisk none \
	--disk "r=rbd:rbd/bench,conf=$CEPH_CONF" >"$T/serve.log" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$NBDP") 2>/dev/null && break
	sleep 0.1
done

# Every block written once, so that reads read data, not holes.
fio --name=fill --ioengine=rbd --clientname=admin --pool=rbd \
	--rbdname=bench --rw=write --bs=4M --iodepth=4 --size=1G \
	>/dev/null 2>&1 || { echo "fill failed" >&2; exit 1; }

declare -A LOAD=(
	[randread-4k-qd32]="--rw=randread --bs=4k --iodepth=32"
	[randwrite-4k-qd32]="--rw=randwrite --bs=4k --iodepth=32"
	[read-128k-qd8]="--rw=read --bs=128k --iodepth=8"
	[write-128k-qd8]="--rw=write --bs=128k --iodepth=8"
)
declare -A PERF=(
	[randread-4k-qd32]="-m 32 -b 8 -r"
	[read-128k-qd8]="-m 8 -b 256"
)
LOADS="randread-4k-qd32 randwrite-4k-qd32 read-128k-qd8 write-128k-qd8"

# fio_json: "iops ios" of the busier direction of fio's JSON on stdin.
fio_json() {
	python3 -c '
import json, sys
s = sys.stdin.read()
j = json.loads(s[s.index("{"):])["jobs"][0]
r, w = j["read"], j["write"]
d = r if r["io_bytes"] >= w["io_bytes"] else w
print("%.0f %d" % (d["iops"], d["total_ios"]))'
}

run_direct() { # load -> "iops ios"
	# shellcheck disable=SC2086
	fio --name=direct --ioengine=rbd --clientname=admin --pool=rbd \
		--rbdname=bench ${LOAD[$1]} --size=1G --runtime="$SECS" \
		--time_based --ramp_time=1 --output-format=json 2>/dev/null |
		fio_json
}

run_nbd() {
	# shellcheck disable=SC2086
	fio --name=nbd --ioengine=nbd --uri="nbd://127.0.0.1:$NBDP/r" \
		${LOAD[$1]} --size=1G --runtime="$SECS" --time_based \
		--ramp_time=1 --output-format=json 2>/dev/null | fio_json
}

run_iscsi() {
	local iops
	# shellcheck disable=SC2086
	iops=$(timeout $((SECS + 30)) iscsi-perf ${PERF[$1]} -t "$SECS" \
		"iscsi://127.0.0.1:$ISCSI/$IQN:r/0" 2>&1 | tr '\r' '\n' |
		grep -o "iops average [0-9]*" | tail -1 | awk '{print $3}')
	echo "${iops:-0} $((${iops:-0} * SECS))"
}

# cpu_ticks: utime+stime of the daemon, in clock ticks.
cpu_ticks() {
	awk '{print $14 + $15}' "/proc/$SPID/stat"
}
HZ=$(getconf CLK_TCK)
# ctx_switches: context switches of all the daemon's threads so far.
ctx_switches() {
	cat /proc/"$SPID"/task/*/status 2>/dev/null |
		awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'
}

results=$T/results
: >"$results"
printf '%-18s %-6s %5s %10s %12s %8s\n' load path round IOPS "us CPU/IO" \
	"cs/IO"
for load in $LOADS; do
	for round in $(seq 1 "$ROUNDS"); do
		for path in direct nbd iscsi; do
			[ "$path" = iscsi ] && [ -z "${PERF[$load]:-}" ] &&
				continue
			c0=$(cpu_ticks)
			s0=$(ctx_switches)
			read -r iops ios < <("run_$path" "$load")
			c1=$(cpu_ticks)
			s1=$(ctx_switches)
			cpu=-
			cs=-
			if [ "$path" != direct ] && [ "$ios" -gt 0 ]; then
				cpu=$(echo "($c1 - $c0) * 1000000 / $HZ / $ios" |
					bc -l | xargs printf '%.1f')
				cs=$(echo "($s1 - $s0) / $ios" | bc -l |
					xargs printf '%.2f')
			fi
			printf '%-18s %-6s %5s %10s %12s %8s\n' "$load" "$path" \
				"$round" "$iops" "$cpu" "$cs"
			echo "$load $path $iops $cpu $cs" >>"$results"
		done
	done
done

echo
echo "means, ratio to direct librbd, daemon CPU per I/O:"
python3 - "$results" <<'PY'
import collections, sys
acc = collections.defaultdict(list)
cpu = collections.defaultdict(list)
csw = collections.defaultdict(list)
for line in open(sys.argv[1]):
    load, path, iops, c, s = line.split()
    acc[(load, path)].append(float(iops))
    if c != "-":
        cpu[(load, path)].append(float(c))
        csw[(load, path)].append(float(s))
loads = []
for load, _ in acc:
    if load not in loads:
        loads.append(load)
print("%-18s %10s %10s %10s %7s %7s %9s %9s %9s %9s" % ("load", "direct",
      "nbd", "iscsi", "nbd/d", "isc/d", "nbd us/IO", "isc us/IO",
      "nbd cs/IO", "isc cs/IO"))
for load in loads:
    m = {p: sum(acc[(load, p)]) / len(acc[(load, p)])
         for p in ("direct", "nbd", "iscsi") if acc[(load, p)]}
    c = {p: sum(cpu[(load, p)]) / len(cpu[(load, p)])
         for p in ("nbd", "iscsi") if cpu[(load, p)]}
    s = {p: sum(csw[(load, p)]) / len(csw[(load, p)])
         for p in ("nbd", "iscsi") if csw[(load, p)]}
    d = m["direct"]
    print("%-18s %10.0f %10.0f %10s %7.2f %7s %9.1f %9s %9.2f %9s" % (
        load, d, m["nbd"], "%.0f" % m["iscsi"] if "iscsi" in m else "-",
        m["nbd"] / d, "%.2f" % (m["iscsi"] / d) if "iscsi" in m else "-",
        c.get("nbd", 0), "%.1f" % c["iscsi"] if "iscsi" in c else "-",
        s.get("nbd", 0), "%.2f" % s["iscsi"] if "iscsi" in s else "-"))
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
