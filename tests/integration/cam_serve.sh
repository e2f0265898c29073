#!/usr/bin/env bash
# `scsikit cam` against the CAM buses of a running daemon, through the
# control socket: a loop-SIM bus over the daemon's disk d0, data written
# through CAM and read back (also straight from d0's bdev through the
# control socket's stats), a da disk made from the CAM device and exported
# by NBD to nbdinfo/nbdcopy, resets and rescans, and a clean shutdown.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init

PORT=$(sk_port 24631 10)
nbd=(--nbd none)
if command -v nbdcopy >/dev/null && command -v nbdinfo >/dev/null; then
	nbd=(--nbd "127.0.0.1:$PORT")
fi
sk_serve --iscsi none "${nbd[@]}" --xdisk none --disk d0=mem:64M \
	--cam-loop disk=d0 --cam-loop targets=2,luns=1,size=8M \
	--cam-da da0=0:0:0

cam() { timeout 60 "$SCSIKIT" cam --socket "$T/ctl.sock" "$@"; }

cam devlist -v >"$T/devlist"
grep -q 'scbus0 target 0 lun 0' "$T/devlist" || fail "devlist: bus 0"
[ "$(grep -c 'at scbus1 target' "$T/devlist")" -eq 2 ] || {
	cat "$T/devlist" >&2
	fail "devlist: bus 1 should have 2 devices"
}
cam inquiry 0:0:0 | grep -q 'Serial Number d0' || fail "inquiry: serial of d0"
cam readcap 0:0:0 --json | python3 -c '
import json, sys; assert json.load(sys.stdin)["bytes"] == 64 << 20' ||
	fail "readcap of d0"

# Data through CAM persists in the daemon's disk.
head -c 1048576 /dev/urandom >"$T/w"
cam write 0:0:0 --lba 2048 --count 2048 --in "$T/w" >/dev/null || fail "write"
cam read 0:0:0 --lba 2048 --count 2048 --out "$T/r" >/dev/null || fail "read"
cmp -s "$T/w" "$T/r" || fail "read back differs"
# The same bytes through the da disk (another path over the same LUN).
if [ "${nbd[1]}" != none ]; then
	sk_wait_tcp "$PORT"
	nbdinfo --size "nbd://127.0.0.1:$PORT/da0" | grep -qx 67108864 ||
		fail "nbdinfo: da0 size"
	timeout 120 nbdcopy "nbd://127.0.0.1:$PORT/da0" "$T/all" ||
		fail "nbdcopy out of da0"
	dd if="$T/all" of="$T/part" bs=512 skip=2048 count=2048 status=none
	cmp -s "$T/w" "$T/part" || fail "da0 over NBD differs from what CAM wrote"
	# And a write through NBD to da0 reaches d0 through CAM.
	head -c 65536 /dev/urandom >"$T/w2"
	dd if="$T/w2" of="$T/img" bs=64k count=1 status=none
	truncate -s 64M "$T/img"
	timeout 120 nbdcopy "$T/img" "nbd://127.0.0.1:$PORT/da0" ||
		fail "nbdcopy into da0"
	cam read 0:0:0 --lba 0 --count 128 --out "$T/r2" >/dev/null
	cmp -s "$T/w2" "$T/r2" || fail "write through da0 not seen on the LUN"
fi

cam tur 0:0:0 | grep -q 'Unit is ready' || fail "tur"
if cam tur 1:5:0 >/dev/null 2>&1; then fail "tur of an empty target"; fi
cam reset bus 1 | grep -q successful || fail "reset bus 1"
cam reset dev 0:0:0 | grep -q successful || fail "reset dev"
cam rescan all | grep -q successful || fail "rescan"
cam tags 1:1:0 -v | grep -q 'device openings' || fail "tags"
cam pathinq 1 --json | python3 -c '
import json, sys; assert json.load(sys.stdin)["max_target"] == 7' || fail "pathinq"
cam fault 1 drop,count=1 | grep -q added || fail "fault"
cam devlist --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["devices"]
assert len(d) == 3, d' || fail "devlist --json"
if cam nosuch 2>/dev/null; then fail "unknown command accepted"; fi
sk_stop
grep -q 'cam: bus 1' "$T/serve.log" || fail "daemon did not log its CAM bus"
echo "cam_serve: ok"
