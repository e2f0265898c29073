#!/usr/bin/env bash
# SIGKILL of the userland target in the middle of a queue-depth-32
# workload (fio over NBD on a da disk of the vscsi bus): every command the
# SIM held completes with a reset, the device detaches and its disk goes,
# the SIM returns to CLOSED with nothing held; a new userland target on the
# same backing file connects, REQPROBEs its LUN back, and I/O resumes with
# the data written before the kill intact.
set -euo pipefail
[ -n "${SK_DEBUG:-}" ] && set -x
. "$(dirname "$0")/lib/common.sh"
sk_need nbdcopy
sk_need fio
fio --enghelp 2>/dev/null | grep -qw nbd || fail "fio without the nbd engine"
sk_init
cd "$T"	# fio leaves its verify state in the working directory
PORT=$(sk_port 27500 100)

sk_serve --iscsi none --xdisk none --nbd "127.0.0.1:$PORT" \
	--vscsi "$T/v.sock" --vscsi-openings 32 --vscsi-export auto
sk_wait_tcp $PORT

start_target() {
	"$SCSIKIT" vscsi-target --connect "$T/v.sock" --wait 20 \
		--lun "0:0=file:$T/d0.img,size=64M" >>"$T/vt.log" 2>&1 &
	VT=$!
	SK_PIDS+=("$VT")
	local i
	for i in $(seq 1 150); do
		sk_ctl disk list | grep -q '^vscsi0-0-0 ' && return 0
		kill -0 "$VT" 2>/dev/null || { cat "$T/vt.log" >&2; fail "vscsi-target died"; }
		sleep 0.1
	done
	sk_ctl vscsi list >&2
	fail "vscsi0-0-0 was not exported"
}

stat_of() { sk_ctl vscsi list | awk -v k="$1" '/^vscsi0 /{for(i=1;i<NF;i++) if($i==k) print $(i+1)}'; }

start_target
URI="nbd://127.0.0.1:$PORT/vscsi0-0-0"
# The first 16 MiB: known data, written before the kill.
head -c 16M /dev/urandom >"$T/a.img"
timeout 20 nbdcopy "$T/a.img" "$URI"

# Depth 32 on the second half, and the target dies under it.
fio --name=load --ioengine=nbd --uri="$URI" --rw=randrw --bs=4k \
	--iodepth=32 --offset=32M --size=32M --time_based --runtime=8 \
	>"$T/fio.log" 2>&1 &
FIO=$!
SK_PIDS+=("$FIO")
for i in $(seq 1 100); do
	[ "$(stat_of done)" -ge 2000 ] && break
	sleep 0.05
done
# Freeze the target first so that the kill finds the queue full: the SIM
# keeps handing over commands until the device's 32 openings are used.
kill -STOP "$VT"
held=0
for i in $(seq 1 100); do
	held=$(stat_of held)
	[ "$held" -ge 32 ] && break
	sleep 0.05
done
[ "$held" -ge 32 ] || fail "only $held commands in flight before the kill"
kill -9 "$VT"
wait "$VT" 2>/dev/null || true

# Every held command reset, the device and its disk gone, CLOSED.
for i in $(seq 1 100); do
	sk_ctl vscsi list | grep -q ' CLOSED held 0 queued 0 scans 0 ' && break
	sleep 0.1
done
sk_ctl vscsi list | grep -q ' CLOSED held 0 queued 0 scans 0 ' || {
	sk_ctl vscsi list >&2
	fail "SIM did not return to CLOSED with nothing held"
}
resets=$(stat_of resets)
[ "$resets" -ge "$held" ] || fail "$held commands held, only $resets reset"
echo "held $held commands at the kill; $resets reset" >&2
[ -z "$(sk_ctl vscsi devs)" ] || fail "device still configured"
sk_ctl disk list | grep -q '^vscsi0-0-0 ' && fail "disk of the dead target still there"
wait "$FIO" 2>/dev/null || true	# fio saw its I/O fail: expected
kill -0 "$SK_PID" || fail "daemon died"

# A new userland target takes over; the data is intact and I/O resumes.
start_target
timeout 20 nbdcopy "$URI" "$T/back.img"
cmp -n $((16 << 20)) "$T/a.img" "$T/back.img" || fail "data lost across the kill"
timeout 30 fio --name=again --ioengine=nbd --uri="$URI" --rw=randwrite --bs=4k \
	--iodepth=32 --offset=32M --size=4M --verify=crc32c \
	>"$T/fio2.log" 2>&1 || { cat "$T/fio2.log" >&2; fail "I/O after takeover"; }
sk_ctl vscsi list
[ "$(stat_of conns)" -eq 2 ] || fail "expected two userland ends"
kill -TERM "$VT"
wait "$VT" || true
sk_stop
