#!/usr/bin/env bash
# bench/ab_write.sh: two scsikit builds, A (before) and B (after), on the
# same write loads in one run, alternating (and which goes first) every
# round -- the before/after pair for a change that claims a write gain.
#   iscsi-conv   qemu-img convert of SIZE MiB onto an iSCSI LUN (8
#                coroutines), MB/s and server CPU ms per MiB
#   iscsi-wr4k   qemu-img bench, 4 KiB writes, QD32, stride 151 blocks
#   nbd-wr4k     fio nbd engine, 4 KiB random writes, QD32, Unix socket
#   nbd-wr128k   fio nbd engine, 128 KiB sequential writes, QD8, Unix socket
# and, named in AB_LOADS (space-separated; default: the four above), also
#   iscsi-rd4k   iscsi-perf, 4 KiB random reads, QD32
#   iscsi-rd128k iscsi-perf, 128 KiB sequential reads, QD8
# to show that a write change costs the reads nothing.
# Server CPU is utime+stime from /proc/PID/stat before and after each run.
# AB_OPTS_A / AB_OPTS_B are appended to A's / B's disk spec (e.g.
# ",inline_write"), for a pair that differs in an option rather than in
# the binary.  AB_DROP=1: before every run the image is fdatasync'd and
# dropped from the page cache, so each run starts from the same state
# (see BENCH_DROP in bench/nbd_vs_nbdkit.sh for why that matters).
#
# usage: bench/ab_write.sh A_SCSIKIT B_SCSIKIT [ROUNDS] [SECS] [SIZE_MIB]
#   BENCH_PORT=base port (default 24491): iSCSI on it (A) and the next (B),
#   NBD on TCP two above those (unused here, the loads take Unix sockets)
# Not a test: run it by hand, under flock /tmp/sk-bench.lock.
set -euo pipefail

A=${1:?usage: $0 A_SCSIKIT B_SCSIKIT [ROUNDS] [SECS] [SIZE_MIB]}
B=${2:?usage: $0 A_SCSIKIT B_SCSIKIT [ROUNDS] [SECS] [SIZE_MIB]}
ROUNDS=${3:-3}
SECS=${4:-8}
SIZE_MIB=${5:-512}
PORT=${BENCH_PORT:-24491}
IQN=iqn.2026-11.org.scsikit:ab

for c in qemu-img fio python3 "$A" "$B"; do
	command -v "$c" >/dev/null || { echo "missing: $c" >&2; exit 2; }
done

T=$(mktemp -d /tmp/sk-ab.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT

echo "preparing ${SIZE_MIB} MiB images..."
head -c $((SIZE_MIB << 20)) /dev/urandom >"$T/src.img"
cp "$T/src.img" "$T/A.img"
cp "$T/src.img" "$T/B.img"
sync "$T/A.img" "$T/B.img"

declare -A PID URL SOCK
for v in A B; do
	port=$PORT
	[ "$v" = B ] && port=$((PORT + 1))
	o=AB_OPTS_$v
	"${!v}" serve --iscsi "127.0.0.1:$port" --nbd "127.0.0.1:$((port + 2))" \
		--nbd-unix "$T/$v.sock" --xdisk none --vscsi none \
		--ctl "$T/$v.ctl" --iscsi-target "d:$IQN" \
		--disk "d=file:$T/$v.img${!o:-}" >"$T/$v.log" 2>&1 &
	PIDS+=($!)
	PID[$v]=$!
	URL[$v]="iscsi://127.0.0.1:$port/$IQN/0"
	SOCK[$v]="nbd+unix:///d?socket=$T/$v.sock"
done
for v in A B; do
	for _ in $(seq 1 100); do
		[ -S "$T/$v.sock" ] && break
		sleep 0.1
	done
done
sleep 0.5

cpu() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
HZ=$(getconf CLK_TCK)
now() { date +%s%N; }

fio_ios() { # $1 uri, $2... fio args -> "iops ios"
	local u=$1
	shift
	fio --name=ab --ioengine=nbd --uri="$u" "$@" --runtime="$SECS" \
		--time_based --output-format=json 2>/dev/null >"$T/fio.json"
	python3 - "$T/fio.json" <<'PY'
import json, sys
s = open(sys.argv[1]).read()
j = json.loads(s[s.index("{"):])["jobs"][0]
w = j["write"]
print("%.0f %d" % (w["iops"], w["total_ios"]))
PY
}

WR_COUNT=$((SECS * 30000))
# one LOAD VARIANT -> "rate cpu_per_unit" (rate: MB/s or IOPS)
one() {
	local c0 c1 t0 t1 rate n iops
	if [ "${AB_DROP:-0}" = 1 ]; then
		python3 - "$T/$2.img" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.fdatasync(fd)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.close(fd)
PY
	fi
	c0=$(cpu "${PID[$2]}")
	t0=$(now)
	case $1 in
	iscsi-conv)
		qemu-img convert -n -W -m 8 -f raw -O raw "$T/src.img" \
			"${URL[$2]}"
		n=$SIZE_MIB ;;
	iscsi-rd4k | iscsi-rd128k)
		local args=(-m 32 -b 8 -r)
		[ "$1" = iscsi-rd128k ] && args=(-m 8 -b 256)
		iops=$(timeout $((SECS + 30)) iscsi-perf "${args[@]}" -t "$SECS" \
			"${URL[$2]}" 2>&1 | tr '\r' '\n' |
			grep -o "iops average [0-9]*" | tail -1 | awk '{print $3}')
		n=$((iops * SECS)) ;;
	iscsi-wr4k)
		qemu-img bench -w -f raw -d 32 -s 4096 -S $((151 * 4096)) \
			-c "$WR_COUNT" "${URL[$2]}" >/dev/null
		n=$WR_COUNT ;;
	nbd-wr4k)
		read -r iops n < <(fio_ios "${SOCK[$2]}" --rw=randwrite \
			--bs=4k --iodepth=32) ;;
	nbd-wr128k)
		read -r iops n < <(fio_ios "${SOCK[$2]}" --rw=write \
			--bs=128k --iodepth=8) ;;
	esac
	t1=$(now)
	c1=$(cpu "${PID[$2]}")
	case $1 in
	iscsi-conv) rate=$(( (SIZE_MIB << 20) / ((t1 - t0) / 1000) )) ;;
	iscsi-wr4k) rate=$(( n * 1000000000 / (t1 - t0) )) ;;
	*) rate=$iops ;;
	esac
	# CPU: ms per MiB for convert, us per I/O otherwise.
	awk -v r="$rate" -v c=$((c1 - c0)) -v hz="$HZ" -v n="$n" \
		-v conv="$([ "$1" = iscsi-conv ] && echo 1 || echo 0)" \
		'BEGIN { printf "%s %.2f\n", r, c / hz * (conv ? 1e3 : 1e6) / n }'
}

read -r -a LOADS <<<"${AB_LOADS:-iscsi-conv iscsi-wr4k nbd-wr4k nbd-wr128k}"
: >"$T/res"
printf "%-11s %5s %3s %10s %10s\n" load round bin rate "CPU/unit"
for r in $(seq 1 "$ROUNDS"); do
	for l in "${LOADS[@]}"; do
		order=(A B)
		[ $((r % 2)) = 0 ] && order=(B A)
		for v in "${order[@]}"; do
			read -r rate c < <(one "$l" "$v")
			printf "%-11s %5s %3s %10s %10s\n" "$l" "$r" "$v" "$rate" "$c"
			echo "$l $v $rate $c" >>"$T/res"
		done
	done
done
echo
echo "means over $ROUNDS rounds; rate: MB/s (iscsi-conv) or IOPS; CPU: ms/MiB"
echo "(iscsi-conv) or us/IO; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A disk opts: '${AB_OPTS_A:-}', B: '${AB_OPTS_B:-}'; cache dropped per run: ${AB_DROP:-0}"
python3 - "$T/res" "${LOADS[@]}" <<'PY'
import collections, sys
acc = collections.defaultdict(list)
for line in open(sys.argv[1]):
    l, v, r, c = line.split()
    acc[(l, v)].append((float(r), float(c)))
m = lambda x, i: sum(e[i] for e in x) / len(x)
print("%-11s %10s %10s %7s %9s %9s %7s" % ("load", "A rate", "B rate",
      "B/A", "A CPU", "B CPU", "B/A"))
for l in sys.argv[2:]:
    a, b = acc[(l, "A")], acc[(l, "B")]
    print("%-11s %10.0f %10.0f %6.2fx %9.2f %9.2f %6.2fx" % (l, m(a, 0),
          m(b, 0), m(b, 0) / m(a, 0), m(a, 1), m(b, 1), m(b, 1) / m(a, 1)))
PY
