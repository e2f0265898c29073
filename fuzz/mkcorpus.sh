#!/usr/bin/env bash
# Rebuild the seed corpus of every harness (fuzz/corpus/<harness>/) from
# real exchanges: the daemon is driven by real clients (nbdinfo, nbdcopy,
# qemu-io, iscsi-inq, iscsi-ls, xdisk attach + bench workload, vscsi-target
# + scsikit cam) through fuzz/record.py, and the recorded byte streams are
# cut into seeds in the format each harness reads (see the top of each
# fuzz/fuzz_*.c).  Run from the source tree after a normal build:
#   fuzz/mkcorpus.sh [BUILD_DIR]        (default: build)
# The corpus is committed; this script is how it was made.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
B=${1:-build}
SCSIKIT=$SRC/$B/scsikit
BENCH=$SRC/$B/bench_xdisk_bench
T=$(mktemp -d /tmp/sk-corpus.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT
bg() { "$@" >>"$T/log" 2>&1 & PIDS+=("$!"); }
wait_sock() {
	for _ in $(seq 1 100); do
		if [ -S "$1" ] || { [[ $1 == *:* ]] &&
			(exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null; }; then
			return 0
		fi
		sleep 0.1
	done
	echo "nothing at $1" >&2
	exit 1
}
ctl() { "$SCSIKIT" ctl --socket "$T/$1.sock" "${@:2}"; }
# The ports are above every integration test's.
P=29490

# NBD and iSCSI: one daemon, relays in front of both listeners.
bg "$SCSIKIT" serve --ctl "$T/a.sock" --nbd 127.0.0.1:$P \
	--iscsi 127.0.0.1:$((P + 1)) --xdisk 127.0.0.1:$((P + 2)) \
	--vscsi "$T/v.sock" --disk d=mem:16M --disk ro=mem:4M,ro
wait_sock 127.0.0.1:$P
bg python3 fuzz/record.py 127.0.0.1:$((P + 5)) 127.0.0.1:$P "$T/nbd"
bg python3 fuzz/record.py 127.0.0.1:$((P + 6)) 127.0.0.1:$((P + 1)) "$T/iscsi"
bg python3 fuzz/record.py 127.0.0.1:$((P + 7)) 127.0.0.1:$((P + 2)) "$T/dmsg"
bg python3 fuzz/record.py "$T/v2.sock" "$T/v.sock" "$T/vscsi"
wait_sock 127.0.0.1:$((P + 7))
wait_sock "$T/v2.sock"

N=nbd://127.0.0.1:$((P + 5))
nbdinfo --list "$N" >/dev/null
nbdinfo "$N/ro" >/dev/null
head -c 65536 /dev/urandom >"$T/r"
nbdcopy "$T/r" "$N/d"
nbdcopy "$N/d" "$T/o"
qemu-io -f raw -c 'write -P 7 4096 4096' -c 'write -z 8192 4096' \
	-c 'discard 16384 4096' -c 'flush' -c 'read -P 7 4096 4096' \
	"$N/d" >/dev/null
qemu-io -f raw -c 'write -P 7 0 512' "$N/ro" >/dev/null 2>&1 || true

I=iscsi://127.0.0.1:$((P + 6))
iscsi-ls "$I" >/dev/null
iscsi-inq "$I/iqn.2026-11.org.scsikit:d/0" >/dev/null
iscsi-readcapacity16 "$I/iqn.2026-11.org.scsikit:d/0" >/dev/null
qemu-io -f raw -c 'write -P 9 0 8192' -c 'read -P 9 0 8192' -c 'flush' \
	"$I/iqn.2026-11.org.scsikit:d/0" >/dev/null

# DMSG: a second daemon attaches to the first's xdisk server through the
# relay and writes through its xa0 disk.
bg "$SCSIKIT" serve --ctl "$T/b.sock" --iscsi none --xdisk none \
	--vscsi none --nbd 127.0.0.1:$((P + 3)) --no-default-disk
wait_sock "$T/b.sock"
"$SCSIKIT" attach --socket "$T/b.sock" "xdisk://127.0.0.1:$((P + 7))" >/dev/null
for _ in $(seq 1 100); do
	ctl b disk list | grep -q '^xa0' && break
	sleep 0.1
done
"$BENCH" workload --nbd 127.0.0.1:$((P + 3)) --export xa0 --ops 200 --first 256 \
	--blocks 64 >/dev/null

# vscsi: a userland target on the relayed socket, driven by scsikit cam.
bg "$SCSIKIT" vscsi-target --connect "$T/v2.sock" --lun 0:0=mem:8M
for _ in $(seq 1 100); do
	[ "$(ctl a vscsi devs | wc -l)" -ge 1 ] && break
	sleep 0.1
done
BUS=$(ctl a vscsi list | awk '/^vscsi0 /{print $4}')
"$SCSIKIT" cam --socket "$T/a.sock" inquiry "$BUS:0:0" >/dev/null
"$SCSIKIT" cam --socket "$T/a.sock" readcap "$BUS:0:0" >/dev/null 2>&1 || true
sleep 0.5

python3 fuzz/mkseeds.py "$T" fuzz/corpus
du -sh fuzz/corpus
