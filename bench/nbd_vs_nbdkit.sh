#!/usr/bin/env bash
# NBD throughput: `scsikit serve` against `nbdkit file` on the same backing
# file, in the same run, driven by fio's nbd engine (libnbd).  Workloads:
#   randread   4 KiB random reads, queue depth 32
#   randwrite  4 KiB random writes, queue depth 32
#   write      128 KiB sequential writes, queue depth 8
# each over TCP and over a Unix socket; scsikit and nbdkit alternate, each
# for a fixed time, for BENCH_ROUNDS rounds.  Prints IOPS, MB/s and the
# server's CPU time per I/O (utime+stime of the server process from
# /proc/PID/stat, before and after the run, over fio's I/O count) per run,
# and the ratios scsikit/nbdkit of the means.  On two cores fio's client
# often saturates first; the CPU per I/O shows the server regardless.
#
# The backing file is written and fsync'd before the first run: writes
# into a file whose pages are still dirty or under writeback cost several
# times more in the kernel, and whichever server ran first paid for it.
#
# Environment: SCSIKIT (default: build/scsikit beside this script),
# BENCH_TIME seconds per run (10), BENCH_ROUNDS (2), BENCH_SIZE of the
# backing file (1G), BENCH_DIR for the backing file (a temp dir),
# BENCH_REACTORS for scsikit (its default when empty), BENCH_BACKEND=file
# (default) or mem: RAM disks on both sides (scsikit mem:, nbdkit's memory
# plugin), which leaves the kernel's file write path out and shows the
# protocol side's CPU per I/O alone.  BENCH_SK_OPTS is appended to
# scsikit's disk spec (e.g. ",inline_write").  BENCH_LOADS names the loads
# to run (space-separated; default all three).
# BENCH_DROP=1 (file backend): before every run, whichever server it is
# for, the backing file is fdatasync'd and dropped from the page cache, so
# that each run starts from the same state -- an empty cache, in which 4
# KiB writes make 4 KiB folios.  Without it the file sits in the large
# folios its sequential writing left, where ext4 walks every buffer head
# of a folio on each 4 KiB write (docs/performance.md) and both servers
# pay the same ~50 us per write; and each run inherits what the runs
# before it left.
# Not a test: run it by hand, e.g.  bench/nbd_vs_nbdkit.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
SCSIKIT=${SCSIKIT:-$here/../build/scsikit}
TIME=${BENCH_TIME:-10}
ROUNDS=${BENCH_ROUNDS:-2}
SIZE=${BENCH_SIZE:-1G}
SK_PORT=${BENCH_SK_PORT:-23809}
KIT_PORT=${BENCH_KIT_PORT:-23810}

for c in fio nbdkit nbdinfo python3 "$SCSIKIT"; do
	command -v "$c" >/dev/null || { echo "missing: $c" >&2; exit 2; }
done
fio --enghelp=nbd >/dev/null 2>&1 || { echo "fio lacks the nbd engine" >&2; exit 2; }

T=$(mktemp -d "${BENCH_DIR:-/tmp}/sk-nbdbench.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

wait_for() { # $1: a test command; waits up to 10 s
	local i
	for i in $(seq 1 100); do
		if eval "$1" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "timed out waiting for: $1" >&2
	exit 1
}

if [ "${BENCH_BACKEND:-file}" = file ]; then
	echo "backing file: $SIZE of random data in $T"
	python3 - "$T/disk.img" "$SIZE" <<'PY'
import os, sys
units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
s = sys.argv[2]
n = int(s[:-1]) * units[s[-1]] if s[-1] in units else int(s)
chunk = os.urandom(1 << 20)
with open(sys.argv[1], "wb") as f:
    for i in range(n >> 20):
        f.write(chunk[i % 4096:] + chunk[:i % 4096])
    f.flush()
    os.fsync(f.fileno())
PY
fi

case ${BENCH_BACKEND:-file} in
file) SK_DISK="file:$T/disk.img${BENCH_SK_OPTS:-}"; KIT_PLUGIN="file $T/disk.img" ;;
mem) SK_DISK="mem:$SIZE"; KIT_PLUGIN="memory $SIZE" ;;
*) echo "BENCH_BACKEND: file or mem" >&2; exit 2 ;;
esac
reactors=()
[ -n "${BENCH_REACTORS:-}" ] && reactors=(--reactors "$BENCH_REACTORS")
"$SCSIKIT" serve --ctl "$T/ctl.sock" --iscsi none --xdisk none --vscsi none \
	"${reactors[@]}" --nbd "127.0.0.1:$SK_PORT" --nbd-unix "$T/sk.sock" \
	--disk "bench=$SK_DISK" >"$T/serve.log" 2>&1 &
PIDS+=($!)
declare -A PID=([scsikit/tcp]=$! [scsikit/unix]=$!)
# shellcheck disable=SC2086
nbdkit -f -i 127.0.0.1 -p "$KIT_PORT" $KIT_PLUGIN >"$T/kit-tcp.log" 2>&1 &
PIDS+=($!)
PID[nbdkit/tcp]=$!
# shellcheck disable=SC2086
nbdkit -f -U "$T/kit.sock" $KIT_PLUGIN >"$T/kit-unix.log" 2>&1 &
PIDS+=($!)
PID[nbdkit/unix]=$!
wait_for "nbdinfo --size nbd://127.0.0.1:$SK_PORT/bench"
wait_for "nbdinfo --size 'nbd+unix:///bench?socket=$T/sk.sock'"
wait_for "nbdinfo --size nbd://127.0.0.1:$KIT_PORT/"
wait_for "nbdinfo --size 'nbd+unix:///?socket=$T/kit.sock'"

declare -A URI=(
	[scsikit/tcp]="nbd://127.0.0.1:$SK_PORT/bench"
	[scsikit/unix]="nbd+unix:///bench?socket=$T/sk.sock"
	[nbdkit/tcp]="nbd://127.0.0.1:$KIT_PORT/"
	[nbdkit/unix]="nbd+unix:///?socket=$T/kit.sock"
)
# name: fio arguments
read -r -a LOADS <<<"${BENCH_LOADS:-randread-4k-qd32 randwrite-4k-qd32 write-128k-qd8}"
declare -A LOAD=(
	[randread-4k-qd32]="--rw=randread --bs=4k --iodepth=32"
	[randwrite-4k-qd32]="--rw=randwrite --bs=4k --iodepth=32"
	[write-128k-qd8]="--rw=write --bs=128k --iodepth=8"
)
HZ=$(getconf CLK_TCK)

cpu_ticks() { # $1 pid -> utime+stime in clock ticks
	# Fields after the parenthesised command name: utime is the 12th.
	sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# $1 uri, $2 load args, $3 server pid -> "iops bytes_per_s cpu_us_per_io"
run_fio() {
	local c0 c1
	if [ "${BENCH_DROP:-0}" = 1 ] && [ -f "$T/disk.img" ]; then
		python3 - "$T/disk.img" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fdatasync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
PY
	fi
	c0=$(cpu_ticks "$3")
	# No ramp time: the CPU is counted over the whole run, so the I/O
	# count must be too.
	# shellcheck disable=SC2086
	fio --name=nbd --ioengine=nbd --uri="$1" $2 --runtime="$TIME" \
		--time_based --output-format=json 2>/dev/null >"$T/fio.json"
	c1=$(cpu_ticks "$3")
	python3 - "$T/fio.json" "$c0" "$c1" "$HZ" <<'PY'
import json, sys
s = open(sys.argv[1]).read()  # fio may print a line before the JSON
j = json.loads(s[s.index("{"):])["jobs"][0]
r, w = j["read"], j["write"]
d = r if r["io_bytes"] >= w["io_bytes"] else w
ios = r["total_ios"] + w["total_ios"]
cpu = (int(sys.argv[3]) - int(sys.argv[2])) / float(sys.argv[4])
print("%.0f %.0f %.2f" % (d["iops"], d["bw_bytes"], cpu * 1e6 / max(ios, 1)))
PY
}

printf '%-18s %-5s %-8s %5s %10s %9s %9s\n' load net server round IOPS MB/s \
	'CPU us/IO'
results=$T/results
: >"$results"
for load in "${LOADS[@]}"; do
	for net in tcp unix; do
		for round in $(seq 1 "$ROUNDS"); do
			order=(scsikit nbdkit)
			[ $((round % 2)) = 0 ] && order=(nbdkit scsikit)
			for srv in "${order[@]}"; do
				read -r iops bw cpu < <(run_fio \
					"${URI[$srv/$net]}" "${LOAD[$load]}" \
					"${PID[$srv/$net]}")
				printf '%-18s %-5s %-8s %5s %10s %9.1f %9s\n' \
					"$load" "$net" "$srv" "$round" "$iops" \
					"$(echo "$bw / 1000000" | bc -l)" "$cpu"
				echo "$load $net $srv $iops $bw $cpu" >>"$results"
			done
		done
	done
done

echo
echo "means; ratios scsikit/nbdkit (IOPS: higher is better, CPU per I/O:"
echo "lower is better); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "scsikit disk: $SK_DISK; cache dropped before each run: ${BENCH_DROP:-0}"
python3 - "$results" "${LOADS[@]}" <<'PY'
import collections, sys
acc = collections.defaultdict(list)
for line in open(sys.argv[1]):
    load, net, srv, iops, bw, cpu = line.split()
    acc[(load, net, srv)].append((float(iops), float(bw), float(cpu)))
def mean(v, i):
    return sum(x[i] for x in v) / len(v)
print("%-18s %-5s %9s %9s %7s %8s %8s %7s" % ("load", "net", "sk IOPS",
      "kit IOPS", "ratio", "sk us/IO", "kit us/IO", "ratio"))
for load in sys.argv[2:]:
    for net in ("tcp", "unix"):
        sk, kit = acc[(load, net, "scsikit")], acc[(load, net, "nbdkit")]
        print("%-18s %-5s %9.0f %9.0f %6.2fx %8.1f %9.1f %6.2fx" % (
            load, net, mean(sk, 0), mean(kit, 0), mean(sk, 0) / mean(kit, 0),
            mean(sk, 2), mean(kit, 2), mean(sk, 2) / mean(kit, 2)))
PY
