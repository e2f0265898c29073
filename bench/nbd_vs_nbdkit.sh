#!/usr/bin/env bash
# NBD throughput: `scsikit serve` against `nbdkit file` on the same backing
# file, in the same run, driven by fio's nbd engine (libnbd).  Workloads:
#   randread  4 KiB random reads, queue depth 32
#   write     128 KiB sequential writes, queue depth 8
# each over TCP and over a Unix socket; scsikit and nbdkit alternate, each
# for a fixed time, for BENCH_ROUNDS rounds.  Prints IOPS and MB/s per run
# and the ratio scsikit/nbdkit of the means.
#
# Environment: SCSIKIT (default: build/scsikit beside this script),
# BENCH_TIME seconds per run (10), BENCH_ROUNDS (2), BENCH_SIZE of the
# backing file (1G), BENCH_DIR for the backing file (a temp dir),
# BENCH_REACTORS for scsikit (its default when empty).
# Not a test: run it by hand, e.g.  bench/nbd_vs_nbdkit.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
SCSIKIT=${SCSIKIT:-$here/../build/scsikit}
TIME=${BENCH_TIME:-10}
ROUNDS=${BENCH_ROUNDS:-2}
SIZE=${BENCH_SIZE:-1G}
SK_PORT=${BENCH_SK_PORT:-23809}
KIT_PORT=${BENCH_KIT_PORT:-23810}

for c in fio nbdkit python3 "$SCSIKIT"; do
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
PY

reactors=()
[ -n "${BENCH_REACTORS:-}" ] && reactors=(--reactors "$BENCH_REACTORS")
"$SCSIKIT" serve --ctl "$T/ctl.sock" --iscsi none --xdisk none --vscsi none \
	"${reactors[@]}" --nbd "127.0.0.1:$SK_PORT" --nbd-unix "$T/sk.sock" \
	--disk "bench=file:$T/disk.img" >"$T/serve.log" 2>&1 &
PIDS+=($!)
nbdkit -f -i 127.0.0.1 -p "$KIT_PORT" file "$T/disk.img" >"$T/kit-tcp.log" 2>&1 &
PIDS+=($!)
nbdkit -f -U "$T/kit.sock" file "$T/disk.img" >"$T/kit-unix.log" 2>&1 &
PIDS+=($!)
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
declare -A LOAD=(
	[randread-4k-qd32]="--rw=randread --bs=4k --iodepth=32"
	[write-128k-qd8]="--rw=write --bs=128k --iodepth=8"
)

run_fio() { # $1 uri, $2 load args -> "iops bytes_per_s"
	# shellcheck disable=SC2086
	fio --name=nbd --ioengine=nbd --uri="$1" $2 --runtime="$TIME" \
		--time_based --ramp_time=1 --output-format=json 2>/dev/null |
		python3 -c '
import json, sys
s = sys.stdin.read()  # fio may print a line before the JSON
j = json.loads(s[s.index("{"):])["jobs"][0]
r, w = j["read"], j["write"]
d = r if r["io_bytes"] >= w["io_bytes"] else w
print("%.0f %.0f" % (d["iops"], d["bw_bytes"]))'
}

printf '%-18s %-5s %-8s %5s %12s %10s\n' load net server round IOPS MB/s
results=$T/results
: >"$results"
for load in randread-4k-qd32 write-128k-qd8; do
	for net in tcp unix; do
		for round in $(seq 1 "$ROUNDS"); do
			for srv in scsikit nbdkit; do
				read -r iops bw < <(run_fio "${URI[$srv/$net]}" \
					"${LOAD[$load]}")
				printf '%-18s %-5s %-8s %5s %12s %10.1f\n' \
					"$load" "$net" "$srv" "$round" "$iops" \
					"$(echo "$bw / 1000000" | bc -l)"
				echo "$load $net $srv $iops $bw" >>"$results"
			done
		done
	done
done

echo
echo "means and ratio scsikit/nbdkit:"
python3 - "$results" <<'PY'
import collections, sys
acc = collections.defaultdict(list)
for line in open(sys.argv[1]):
    load, net, srv, iops, bw = line.split()
    acc[(load, net, srv)].append((float(iops), float(bw)))
def mean(v, i):
    return sum(x[i] for x in v) / len(v)
print("%-18s %-5s %12s %12s %10s %10s %7s" % ("load", "net", "sk IOPS",
      "kit IOPS", "sk MB/s", "kit MB/s", "ratio"))
for load in ("randread-4k-qd32", "write-128k-qd8"):
    for net in ("tcp", "unix"):
        sk, kit = acc[(load, net, "scsikit")], acc[(load, net, "nbdkit")]
        print("%-18s %-5s %12.0f %12.0f %10.1f %10.1f %6.2fx" % (
            load, net, mean(sk, 0), mean(kit, 0), mean(sk, 1) / 1e6,
            mean(kit, 1) / 1e6, mean(sk, 0) / mean(kit, 0)))
PY
