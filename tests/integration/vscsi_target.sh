#!/usr/bin/env bash
# `scsikit vscsi-target` serving target-engine LUNs to the daemon's vscsi
# SIM, as separate processes: REQPROBE at start and the bus scan (every LUN
# in `vscsi devs` with the engine's INQUIRY), a second userland target
# refused while the first is connected, INQUIRY / READ CAPACITY / reads and
# writes through `scsikit cam` when the CAM front end reaches vscsi buses,
# and a da export of a vscsi disk over NBD with the data checked by nbdcopy
# and qemu-img.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_need nbdcopy
sk_init
cd "$T"	# fio leaves its verify state in the working directory
# Derived from the test, spread by PID so that two builds running the
# same test at once do not collide.
PORT=$(sk_port 27400 100)

sk_serve --iscsi none --xdisk none --nbd "127.0.0.1:$PORT" \
	--vscsi "$T/v.sock" --vscsi-openings 32
sk_wait_tcp $PORT

"$SCSIKIT" vscsi-target --connect "$T/v.sock" \
	--lun "0:0=file:$T/d0.img,size=32M" --lun 0:1=mem:16M \
	--lun 7:0=mem:8M,bs=4096 >"$T/vt.log" 2>&1 &
VT=$!
SK_PIDS+=("$VT")

for i in $(seq 1 100); do
	[ "$(sk_ctl vscsi devs | wc -l)" -eq 3 ] && break
	kill -0 "$VT" 2>/dev/null || { cat "$T/vt.log" >&2; fail "vscsi-target died"; }
	sleep 0.1
done
sk_ctl vscsi devs >"$T/devs"
grep -q ':0:0 vscsi0 <SCSIKIT  VDISK' "$T/devs" || { cat "$T/devs" >&2; fail "0:0 not found"; }
grep -q ':0:1 vscsi0 ' "$T/devs" || fail "0:1 not found"
grep -q ':7:0 vscsi0 ' "$T/devs" || fail "7:0 not found"
sk_ctl vscsi list | grep -q ' RUNNING ' || fail "SIM not RUNNING"

# One userland end at a time.
if "$SCSIKIT" vscsi-target --connect "$T/v.sock" --wait 0 \
	--lun 0:0=mem:1M 2>"$T/err"; then
	fail "second userland target accepted"
fi
grep -qi 'busy' "$T/err" || { cat "$T/err" >&2; fail "no EBUSY message"; }
sk_ctl vscsi list | grep -q ' refused 1' || fail "refusal not counted"

# scsikit cam against the vscsi bus, through the daemon's control socket.
BUS=$(sk_ctl vscsi list | awk '/^vscsi0 /{print $4}')
"$SCSIKIT" cam --socket "$T/ctl.sock" inquiry "$BUS:0:0" >"$T/inq" 2>&1 ||
	{ cat "$T/inq" >&2; fail "cam inquiry on the vscsi bus"; }
grep -q 'SCSIKIT' "$T/inq" || { cat "$T/inq" >&2; fail "cam inquiry"; }
{
	"$SCSIKIT" cam --socket "$T/ctl.sock" readcap "$BUS:7:0" >"$T/rc" 2>&1 ||
		fail "cam readcap"
	grep -q '4096' "$T/rc" || { cat "$T/rc" >&2; fail "cam readcap: block size"; }
	"$SCSIKIT" cam --socket "$T/ctl.sock" write "$BUS:0:1" --lba 8 \
		--count 16 --pattern 0x5a >/dev/null || fail "cam write"
	"$SCSIKIT" cam --socket "$T/ctl.sock" read "$BUS:0:1" --lba 8 \
		--count 16 --out "$T/cam.out" >/dev/null || fail "cam read"
	[ "$(od -An -tx1 -v "$T/cam.out" | tr -s ' \n' '\n' | sort -u | grep -v '^$')" = "5a" ] ||
		fail "cam read: data differs"
}

# Export 0:0 through da and move data over NBD.
sk_ctl vscsi export "$T/v.sock" 0:0 vd0 | grep -q 'exported vd0' || fail "export"
sk_ctl disk list | grep -Eq '^vd0 +da +33554432 +512' || {
	sk_ctl disk list >&2
	fail "vd0 not a 32 MiB da disk"
}
if sk_ctl vscsi export "$T/v.sock" 9:0 vdx 2>/dev/null; then
	fail "export of a missing device"
fi
head -c 12M /dev/urandom >"$T/in.img"
timeout 20 nbdcopy "$T/in.img" "nbd://127.0.0.1:$PORT/vd0"
timeout 20 nbdcopy "nbd://127.0.0.1:$PORT/vd0" "$T/out.img"
cmp -n $((12 << 20)) "$T/in.img" "$T/out.img" || fail "NBD data differs"
if command -v qemu-img >/dev/null; then
	timeout 20 qemu-img compare -f raw -F raw "$T/out.img" "nbd://127.0.0.1:$PORT/vd0" ||
		fail "qemu-img compare"
fi
# Mixed sizes up to 1 MiB at depth 16 with verification: the SIM's output
# flow control (large writes wait in the SIM) must lose no command.
if command -v fio >/dev/null && fio --enghelp 2>/dev/null | grep -qw nbd; then
	timeout 60 fio --name=mixed --ioengine=nbd \
		--uri="nbd://127.0.0.1:$PORT/vd0" --rw=randwrite \
		--bsrange=4k-1m --iodepth=16 --offset=16M --size=16M \
		--verify=crc32c >"$T/fio.log" 2>&1 || {
		cat "$T/fio.log" >&2
		fail "fio verify on the vscsi disk"
	}
fi
# The data went through the userland target to its file.
cmp -n $((12 << 20)) "$T/in.img" "$T/d0.img" || fail "backing file differs"

sk_ctl vscsi unexport vd0
sk_ctl disk list | grep -q '^vd0 ' && fail "vd0 still there"
sk_ctl vscsi list
kill -TERM "$VT"
wait "$VT" || fail "vscsi-target did not exit cleanly on SIGTERM"
for i in $(seq 1 50); do
	sk_ctl vscsi list | grep -q ' CLOSED ' && break
	sleep 0.1
done
sk_ctl vscsi list | grep -q ' CLOSED held 0 ' || fail "SIM not CLOSED after the target left"
[ -z "$(sk_ctl vscsi devs)" ] || fail "devices left after the target left"

# The daemon stops cleanly with a userland target connected and its disk
# exported; the target hears the SIM go and exits with status 3.
"$SCSIKIT" vscsi-target --connect "$T/v.sock" \
	--lun "0:0=file:$T/d0.img" >"$T/vt2.log" 2>&1 &
VT=$!
SK_PIDS+=("$VT")
for i in $(seq 1 100); do
	sk_ctl vscsi devs | grep -q ':0:0 ' && break
	sleep 0.1
done
sk_ctl vscsi export "$T/v.sock" 0:0 vd0 >/dev/null || fail "export again"
timeout 20 nbdcopy "nbd://127.0.0.1:$PORT/vd0" "$T/out2.img"
cmp -n $((12 << 20)) "$T/in.img" "$T/out2.img" || fail "data after restart"
sk_stop
rc=0
wait "$VT" || rc=$?
[ "$rc" -eq 3 ] || fail "vscsi-target exit status $rc when the SIM went away"
