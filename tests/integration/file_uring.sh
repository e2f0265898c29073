#!/usr/bin/env bash
# The file backend's io_uring engine behind real front ends: a disk
# file:...,engine=uring (and one O_DIRECT) served over NBD and iSCSI;
# nbdcopy writes a random image in and reads it back, qemu-img compares it
# against the live export, and libiscsi's suite runs the families that
# exercise every I/O type the engine carries (reads, writes, FUA in their
# DpoFua tests, WRITE AND VERIFY, UNMAP and WRITE SAME as fallocate, GET
# LBA STATUS after them, COMPARE AND WRITE).  `disk list` says which engine each disk
# has.  Then a daemon started with SK_URING_DISABLE (the fallback when the
# kernel refuses io_uring) serves the same file on the worker pool and
# reads the same data.  Skipped in a build without liburing.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=$(sk_port 21100 10)
IPORT=$(sk_port 21110 10)
IQN=iqn.2026-11.org.scsikit

sk_need nbdcopy qemu-img iscsi-test-cu ldd
# (grep -q would close the pipe early: with pipefail, ldd's SIGPIPE
# would read as "no liburing".)
ldd "$SCSIKIT" | grep liburing >/dev/null || sk_skip "built without liburing"
head -c $((64 << 20)) /dev/urandom >"$T/img"
# The scratch directory may be tmpfs (no O_DIRECT): the direct disk's file
# lives on a disk file system.
D=$(mktemp -d /var/tmp/sk-uring.XXXXXX)
sk_trap 'rm -rf "$D"'
sk_serve --xdisk none --vscsi none \
	--nbd "127.0.0.1:$PORT" --iscsi "127.0.0.1:$IPORT" \
	--disk u="file:$T/u.img,size=64M,engine=uring" \
	--disk d="file:$D/d.img,size=64M,engine=uring,direct" \
	--disk cu="file:$T/cu.img,size=64M,engine=uring"
sk_wait_tcp "$PORT"
sk_ctl disk list >"$T/list.txt"
cat "$T/list.txt"
for n in u d cu; do
	grep -E "^$n .*engine=uring" "$T/list.txt" >/dev/null ||
		fail "disk $n is not on the uring engine"
done

for n in u d; do
	timeout 300 nbdcopy "$T/img" "nbd://127.0.0.1:$PORT/$n" ||
		fail "nbdcopy in ($n)"
	timeout 300 nbdcopy "nbd://127.0.0.1:$PORT/$n" "$T/out.$n" ||
		fail "nbdcopy out ($n)"
	cmp "$T/img" "$T/out.$n" || fail "image read back from $n differs"
	timeout 300 qemu-img compare -f raw -F raw "$T/img" \
		"nbd://127.0.0.1:$PORT/$n" || fail "qemu-img compare ($n)"
done

U="iscsi://127.0.0.1:$IPORT/$IQN:cu/0"
for fam in SCSI.Read10 SCSI.Write10 SCSI.Write16 SCSI.WriteVerify10 \
	SCSI.Unmap SCSI.GetLBAStatus SCSI.WriteSame16 SCSI.CompareAndWrite; do
	timeout 300 iscsi-test-cu -d --test="$fam" "$U" >"$T/cu.txt" 2>&1 ||
		true
	read -r total ran passed failed < <(awk '/^ *tests /{print $2, $3,
		$4, $5}' "$T/cu.txt") || { cat "$T/cu.txt" >&2;
		fail "$fam did not run"; }
	echo "$fam: $total tests, $ran run, $passed passed, $failed failed"
	if [ "$failed" != 0 ] || [ "$total" = 0 ]; then
		awk '/^Suite: /{s=$2} /Test: /{t=$2} /FAILED$/{print s "." t}' \
			"$T/cu.txt" >&2
		fail "$fam failed on the uring engine"
	fi
done
kill -0 "$SK_PID" || fail "daemon died"
sk_stop
cmp "$T/img" "$T/u.img" || fail "backing file u differs after shutdown"

# The fallback: rings refused, the same disk spec runs on the pool.
SK_URING_DISABLE=1 sk_serve --xdisk none --vscsi none --iscsi none \
	--nbd "127.0.0.1:$PORT" \
	--disk u="file:$T/u.img,engine=uring"
sk_wait_tcp "$PORT"
sk_ctl disk list | grep -E "^u .*engine=pool" >/dev/null ||
	fail "with SK_URING_DISABLE the disk is not on the pool"
grep -q "refuses io_uring\|disabled by SK_URING_DISABLE" "$T/serve.log" ||
	fail "the fallback was not logged"
rm -f "$T/out.u"
timeout 300 nbdcopy "nbd://127.0.0.1:$PORT/u" "$T/out.u" ||
	fail "nbdcopy out (pool fallback)"
cmp "$T/img" "$T/out.u" || fail "read back through the fallback differs"
sk_stop
echo "file_uring: OK"
