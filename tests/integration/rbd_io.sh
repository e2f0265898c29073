#!/usr/bin/env bash
# The rbd backend against a throwaway Ceph cluster (lib/ceph.sh), with real
# clients, in one cluster's lifetime:
#  - NBD: nbdcopy a random image in and out, qemu-img compare it live, and
#    `rbd export` finds the same bytes in the cluster; nbdinfo's size;
#  - write-zeroes, discard and flush through libnbd read back right, and
#    block status (nbdinfo --map) shows the trimmed objects as a hole;
#  - two gateways on one image: COMPARE AND WRITE through either is
#    atomic across both (stale ones miscompare at the right byte), and
#    block status through one shows the other's writes as data;
#  - a resize by `rbd resize` reaches iSCSI (a unit attention on an open
#    session, READ CAPACITY) and NBD (the next connection);
#  - bad specs on `disk add`: missing pool, image, snapshot, a cluster that
#    does not answer (refused within its timeout= while the daemon keeps
#    serving its other disk);
#  - a snapshot exported read-only;
#  - the cluster's OSD killed under an open image: a READ and a FUA WRITE
#    fail with NOT READY, LOGICAL UNIT COMMUNICATION FAILURE within the
#    timeout, NBD reads fail, and the daemon's memory disk keeps answering.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/ceph.sh"
sk_init
sk_trap 'ceph_down "$T/ceph"'
NBD=$(sk_port 24200 50)
ISCSI=$(sk_port 24250 50)
IQN=iqn.2026-11.org.scsikit
sk_need nbdcopy nbdinfo qemu-img iscsi-readcapacity16 python3

ceph_up "$T/ceph"
C=$CEPH_CONF
ceph_rbd create --size 64M img
ceph_rbd create --size 16M small
sk_serve --iscsi "127.0.0.1:$ISCSI" --nbd "127.0.0.1:$NBD" --xdisk none \
	--disk m=mem:16M --disk "r=rbd:rbd/img,conf=$C,timeout=5"
sk_wait_tcp "$NBD"
sk_ctl disk list | grep -q '^r .*rbd' || fail "r is not an rbd disk"

# ---- data through NBD lands in the image ----
head -c $((16 << 20)) /dev/urandom >"$T/img"
timeout 120 nbdcopy "$T/img" "nbd://127.0.0.1:$NBD/r" || fail "nbdcopy in"
timeout 120 nbdcopy "nbd://127.0.0.1:$NBD/r" "$T/out" || fail "nbdcopy out"
head -c $((16 << 20)) "$T/out" | cmp - "$T/img" || fail "read back differs"
timeout 120 qemu-img convert -f raw -O raw "nbd://127.0.0.1:$NBD/r" \
	"$T/qemu.out" || fail "qemu-img convert from the export"
head -c $((16 << 20)) "$T/qemu.out" | cmp - "$T/img" ||
	fail "qemu-img read differs"
# export IMAGE: the image's bytes from the cluster, to $T/export.
export_img() {
	rm -f "$T/export"
	ceph_rbd export --no-progress "$1" "$T/export" >/dev/null 2>&1 ||
		fail "rbd export $1"
}
export_img img
head -c $((16 << 20)) "$T/export" | cmp - "$T/img" ||
	fail "the cluster does not hold what was written"
nbdinfo --size "nbd://127.0.0.1:$NBD/r" | grep -qx $((64 << 20)) ||
	fail "nbdinfo size"

# ---- write-zeroes, discard, FUA and flush ----
# nbdpy URI CODE: run CODE with h connected to URI (Debian's python3,
# which has the nbd module: scripts/deps.list py:nbd).
nbdpy() {
	timeout 60 /usr/bin/python3 -c "import nbd
h = nbd.NBD()
h.connect_uri('$1')
$2"
}
nbdpy "nbd://127.0.0.1:$NBD/r" '
h.zero(1 << 20, 0)
assert h.pread(1 << 20, 0) == bytes(1 << 20), "write-zeroes"
h.zero(1 << 20, 4 << 20, nbd.CMD_FLAG_NO_HOLE)
assert h.pread(1 << 20, 4 << 20) == bytes(1 << 20), "write-zeroes no-hole"
h.pwrite(b"\xa5" * 65536, 8 << 20, nbd.CMD_FLAG_FUA)
h.flush()
assert h.pread(65536, 8 << 20) == b"\xa5" * 65536, "FUA write"
h.trim(4 << 20, 12 << 20)   # 4 MiB at 12 MiB
' || fail "nbdsh zero/trim/flush"
# zeroes COUNT: COUNT bytes of stdin, all zero.
zeroes() {
	[ "$(head -c "$1" | tr -d '\0' | wc -c)" = 0 ]
}
export_img img
zeroes $((1 << 20)) <"$T/export" ||
	fail "zeroes not in the cluster"

# ---- block status: written objects are data, the rest holes ----
# (16 MiB written at the start, then 12-16 MiB trimmed; 4 MiB objects,
# and a hole is not promised to read zeroes: flags 1, not 3.)
# The map is believed for a lease after a check that no other client can
# have written (src/bdev/rbd.c); outside it all is data until the next
# check (every 250 ms): ask until the answer comes from the map.
map_holes() { # URI AWK: true once nbdinfo --map of URI satisfies AWK
	local i
	for i in $(seq 50); do
		nbdinfo --map "$1" >"$T/map" || fail "nbdinfo --map $1"
		awk "$2" "$T/map" && return 0
		sleep 0.2
	done
	cat "$T/map" >&2
	return 1
}
map_holes "nbd://127.0.0.1:$NBD/r" \
	'$1 == 0 && $2 == 12582912 && $3 == 0 { d = 1 }
	 $1 == 12582912 && $2 == 54525952 && $3 == 1 { h = 1 }
	 END { exit !(d && h) }' ||
	fail "block status is not 12 MiB data, then a hole"

# ---- resize seen by both front ends ----
# An iSCSI session open across the resize gets CAPACITY DATA HAS CHANGED.
cat >"$T/ua.py" <<EOF
import subprocess, sys, time
sys.path.insert(0, "$(dirname "$0")/lib")
from iscsi_raw import Session, sense_key_asc
s = Session($ISCSI, "$IQN:r")
for _ in range(5):          # the new nexus's own unit attentions
    if s.cmd(bytes(6))[0] == 0:
        break
subprocess.run(["timeout", "60", "rbd", "-c", "$C", "resize", "--size",
                "96M", "img"], check=True, capture_output=True)
for _ in range(100):
    st, _, sense = s.cmd(bytes(6))
    if st == 2:
        got = sense_key_asc(sense)
        assert got == (6, 0x2a, 0x09), "unexpected sense %r" % (got,)
        sys.exit(0)
    time.sleep(0.1)
sys.exit("no CAPACITY DATA HAS CHANGED within 10 s of the resize")
EOF
timeout 60 python3 "$T/ua.py" || fail "capacity change not reported"
U="iscsi://127.0.0.1:$ISCSI/$IQN:r/0"
for i in $(seq 50); do
	nbdinfo --size "nbd://127.0.0.1:$NBD/r" | grep -qx $((96 << 20)) &&
		break
	sleep 0.2
done
nbdinfo --size "nbd://127.0.0.1:$NBD/r" | grep -qx $((96 << 20)) ||
	fail "NBD does not see the resize"
iscsi-readcapacity16 "$U" | grep -q "^Total size:$((96 << 20))" ||
	fail "iSCSI does not see the resize"

# ---- two gateways on one image ----
# Gateway B: a second daemon exporting the same image.
ISCSI_B=$(sk_port 26300 50)
NBD_B=$(sk_port 26350 50)
"$SCSIKIT" serve --socket "$T/ctl_b.sock" --iscsi "127.0.0.1:$ISCSI_B" \
	--nbd "127.0.0.1:$NBD_B" --xdisk none \
	--disk "r=rbd:rbd/img,conf=$C,timeout=5" >"$T/serve_b.log" 2>&1 &
SK_PIDS+=("$!")
sk_wait_tcp "$ISCSI_B"
sk_wait_tcp "$NBD_B"
# COMPARE AND WRITE is one rbd_aio_compare_and_write (atomic across the
# gateways): A's changes the block, a stale one through B miscompares with
# INFORMATION = the first differing byte, and the other way round; more
# than one block (librbd 16 compares within one 512-byte sector) is refused
# and BLOCK LIMITS says so.
cat >"$T/caw.py" <<EOF
import sys
sys.path.insert(0, "$(dirname "$0")/lib")
from iscsi_raw import Session, sense_key_asc
LBA = 20480
def ready(s):
    for _ in range(10):
        if s.cmd(bytes(6))[0] == 0:
            return
    sys.exit("no GOOD to TEST UNIT READY")
def info(sense):
    if sense[0] & 0x7f in (0x72, 0x73):   # descriptor: type 0
        i = 8
        while i + 1 < len(sense):
            if sense[i] == 0:
                return int.from_bytes(sense[i + 4:i + 12], "big")
            i += 2 + sense[i + 1]
        return None
    return int.from_bytes(sense[3:7], "big") if sense[0] & 0x80 else None
def rd(s):
    st, d, _ = s.cmd(bytes([0x28, 0]) + LBA.to_bytes(4, "big") +
                     bytes([0, 0, 1, 0]), din=512)
    assert st == 0, "READ"
    return d
def caw(s, old, new, nlb=1):
    return s.cmd(bytes([0x89, 0]) + LBA.to_bytes(8, "big") +
                 bytes([0, 0, 0, nlb, 0, 0]), dout=old + new)
def miscompares(s, old, new, at, what):
    st, _, sense = caw(s, old, new)
    assert st == 2 and sense_key_asc(sense) == (0x0e, 0x1d, 0), \
        "%s: status %d %r" % (what, st, sense_key_asc(sense))
    assert info(sense) == at, "%s: INFORMATION %r, want %d" % (
        what, info(sense), at)
a = Session($ISCSI, "$IQN:r")
b = Session($ISCSI_B, "$IQN:r")
ready(a)
ready(b)
p0 = rd(a)
x = p0[:100] + bytes(c ^ 0x5a for c in p0[100:])
st, _, sense = caw(a, p0, x)
assert st == 0, "CAW through A: %r" % (sense_key_asc(sense),)
assert rd(b) == x, "B does not read what A's CAW wrote"
miscompares(b, p0, bytes(512), 100, "stale CAW through B")
assert rd(a) == x and rd(b) == x, "a miscompare wrote"
y = x[:300] + bytes(c ^ 0xff for c in x[300:])
st, _, sense = caw(b, x, y)
assert st == 0, "CAW through B: %r" % (sense_key_asc(sense),)
miscompares(a, x, p0, 300, "stale CAW through A")
assert rd(a) == y, "A does not read what B's CAW wrote"
st, _, sense = caw(a, y + y, y + y, nlb=2)
assert st == 2 and sense_key_asc(sense) == (5, 0x24, 0), "2-block CAW"
st, bl, _ = a.cmd(bytes([0x12, 1, 0xb0, 0, 64, 0]), din=64)
assert st == 0 and bl[5] == 1, "MAXIMUM COMPARE AND WRITE LENGTH"
EOF
timeout 60 python3 "$T/caw.py" || fail "COMPARE AND WRITE across gateways"
for sock in ctl.sock ctl_b.sock; do
	"$SCSIKIT" ctl --socket "$T/$sock" stats |
		grep -Eq '^  compare_write +[1-9][0-9]* ops' ||
		fail "$sock: COMPARE AND WRITE did not go to librbd"
done
# Block status: a region that was a hole when A loaded its map, written
# through B, is data through A (A no longer holds the image's lock, so its
# map is not believed); once A writes again (taking the lock back) it
# reloads the map, which has B's data and still the holes.
map_at() { # URI OFFSET: nbdinfo --map's type of the byte at OFFSET
	nbdinfo --map "$1" | awk -v o="$2" '$1 <= o && o < $1 + $2 { print $3 }'
}
map_holes "nbd://127.0.0.1:$NBD/r" \
	'$1 <= 41943040 && 41943040 < $1 + $2 && $3 == 1 { h = 1 }
	 END { exit !h }' || fail "40 MiB is not a hole at first"
nbdpy "nbd://127.0.0.1:$NBD_B/r" \
	'h.pwrite(b"\x3c" * 65536, 40 << 20, nbd.CMD_FLAG_FUA)' ||
	fail "write through B"
# Within a lease of A's last check the old answer may still come (the
# window docs/ceph.md states); after it, never.
sleep 1.5
for i in 1 2 3; do
	[ "$(map_at "nbd://127.0.0.1:$NBD/r" $((40 << 20)))" = 0 ] ||
		fail "A reports B's data at 40 MiB as a hole"
done
nbdpy "nbd://127.0.0.1:$NBD/r" 'h.pwrite(b"\x11" * 4096, 36 << 20)' ||
	fail "write through A"
map_holes "nbd://127.0.0.1:$NBD/r" \
	'$1 <= 41943040 && 41943040 < $1 + $2 && $3 == 0 { d = 1 }
	 $1 <= 50331648 && 50331648 < $1 + $2 && $3 == 1 { h = 1 }
	 END { exit !(d && h) }' ||
	fail "A's reloaded map: not data at 40 MiB and a hole at 48 MiB"

# ---- a snapshot, read-only ----
ceph_rbd snap create img@s1 >/dev/null 2>&1 || fail "snap create"
sk_ctl disk add s "rbd:rbd/img@s1,conf=$C,timeout=5" || fail "add snapshot"
sk_ctl disk list | grep -q '^s .* ro ' || fail "the snapshot is not read-only"
timeout 60 nbdcopy "nbd://127.0.0.1:$NBD/s" "$T/snap" || fail "read snapshot"
zeroes $((1 << 20)) <"$T/snap" || fail "snapshot content (zeroed MiB)"
head -c $((2 << 20)) "$T/snap" | tail -c $((1 << 20)) |
	cmp - <(head -c $((2 << 20)) "$T/img" | tail -c $((1 << 20))) ||
	fail "snapshot content (data)"
sk_ctl disk remove s

# ---- bad specs: clear errors, in bounded time ----
expect_refused() { # SPEC WORDS: disk add fails, its message has WORDS
	local out
	if out=$(sk_ctl disk add bad "$1" 2>&1); then
		fail "disk add $1 succeeded"
	fi
	echo "$out" | grep -qF "$2" || fail "disk add $1: '$out' lacks '$2'"
	echo "refused: $1: $out"
}
expect_refused "rbd:nopool/img,conf=$C,timeout=5" "no pool 'nopool'"
expect_refused "rbd:rbd/noimage,conf=$C,timeout=5" "no image 'rbd/noimage'"
expect_refused "rbd:rbd/img@nosnap,conf=$C,timeout=5" "no snapshot 'nosnap'"
expect_refused "rbd:rbd,conf=$C" "missing pool or image"
expect_refused "rbd:rbd/img,conf=$T/none.conf" "cannot read $T/none.conf"
expect_refused "rbd:rbd/img,conf=$C,timeout=0" "bad timeout"
# A cluster that is down: a conf naming a monitor nobody runs.
sed "s/$CEPH_ADDR/127.0.0.99/g" "$C" >"$T/dead.conf"
start=$SECONDS
expect_refused "rbd:rbd/img,conf=$T/dead.conf,timeout=3" "cannot connect"
[ $((SECONDS - start)) -le 15 ] || fail "refusal took $((SECONDS - start)) s"
nbdinfo --size "nbd://127.0.0.1:$NBD/m" | grep -qx $((16 << 20)) ||
	fail "mem disk gone after the failed adds"

# ---- the cluster goes away under I/O ----
# On an image written by another client and never read through scsikit,
# so no read can be answered from librbd's cache (nor, with the object
# map, as a never-written hole): every I/O below needs the OSD.
ceph_rbd bench --io-type write --io-size 4M --io-total 16M small \
	>/dev/null 2>&1 || fail "rbd bench write on small"
sk_ctl disk add q "rbd:rbd/small,conf=$C,timeout=5" || fail "add small"
# One write first: it takes the image's exclusive lock.  (A write that
# must still take the lock when the cluster is gone waits in librbd beyond
# timeout=; docs/ceph.md.)
nbdpy "nbd://127.0.0.1:$NBD/q" \
	'h.pwrite(b"x" * 4096, 12 << 20, nbd.CMD_FLAG_FUA)' || fail "write q"
ceph_stop_osd "$T/ceph"
cat >"$T/down.py" <<EOF
import sys, time
sys.path.insert(0, "$(dirname "$0")/lib")
from iscsi_raw import Session, sense_key_asc, expect
s = Session($ISCSI, "$IQN:q")
want = (2, 0x08, 0x00)      # NOT READY, LUN COMMUNICATION FAILURE
for _ in range(3):          # unit attentions (capacity changed) first
    st, _, sense = s.cmd(bytes(6))
    if st == 0 or sense_key_asc(sense)[0] != 6:
        break
s.sock.settimeout(30)
t0 = time.time()
# READ(10) of blocks never read (not in librbd's cache), 1 block.
expect(s, bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0]), want, "read",
       din=512)
# WRITE(10) with FUA: must reach the OSD, so it cannot be acknowledged.
expect(s, bytes([0x2a, 0x08, 0, 0, 0x40, 0, 0, 0, 1, 0]), want, "write",
       dout=b"\x5a" * 512)
print("errors after %.1f s" % (time.time() - t0))
assert time.time() - t0 < 25, "too slow to fail"
EOF
timeout 60 python3 "$T/down.py" || fail "SCSI I/O with the cluster down"
if nbdpy "nbd://127.0.0.1:$NBD/q" 'h.pread(4096, 4 << 20)' 2>/dev/null; then
	fail "NBD read succeeded with the cluster down"
fi
# The other disk was served all along, and still is.
nbdinfo --size "nbd://127.0.0.1:$NBD/m" | grep -qx $((16 << 20)) ||
	fail "mem disk not served while the cluster is down"
timeout 30 nbdcopy "$T/img" "nbd://127.0.0.1:$NBD/m" || fail "mem disk write"
kill -0 "$SK_PID" || fail "daemon died"
sk_stop
echo "rbd_io: OK"
