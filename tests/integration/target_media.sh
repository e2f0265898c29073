#!/usr/bin/env bash
# Removable and CD-ROM LUNs through the iSCSI target, with clients nobody
# here wrote: an ISO image made by genisoimage served as a CD-ROM (iscsi-inq
# sees type 5 / MMC, removable; qemu-img reads it back identical), the
# operator's `scsikit disk eject|load` on a removable disk (a new medium of
# another size shows through READ CAPACITY), and libiscsi's conformance
# families for this engine's media commands -- Sanitize, ReadDefectData,
# StartStopUnit, PreventAllow, NoMedia, TestUnitReady -- on a removable LUN
# and a mem LUN, plus ReadOnly on a ro LUN, with 0 failures.  Their
# results (and skips) go to $SK_BUILD/target-media-cu.txt.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
sk_need iscsi-inq iscsi-readcapacity16 iscsi-test-cu qemu-img genisoimage \
	cmp dd timeout
PORT=$(sk_port 27500)
IQN=iqn.2026-11.org.scsikit
U="iscsi://127.0.0.1:$PORT/$IQN"

mkdir "$T/iso"
dd if=/dev/urandom of="$T/iso/data.bin" bs=1M count=3 status=none
echo "scsikit" >"$T/iso/readme.txt"
genisoimage -quiet -R -J -V SKTEST -o "$T/cd.iso" "$T/iso"
dd if=/dev/zero of="$T/second.img" bs=1M count=96 status=none

sk_serve --iscsi "127.0.0.1:$PORT" --nbd none --xdisk none \
	--disk "cd=file:$T/cd.iso,cdrom" --disk rm=mem:64M,removable \
	--disk mem=mem:64M --disk ro=mem:64M,ro
sk_wait_tcp "$PORT"

# The CD-ROM: type 5, removable, the image read back byte for byte.
inq=$(iscsi-inq "$U:cd/0")
grep -q "Peripheral Device Type:MMC" <<<"$inq" || fail "cd: not MMC: $inq"
grep -q "Removable:1" <<<"$inq" || fail "cd: not removable: $inq"
iscsi-inq -e 1 "$U:cd/0" >"$T/vpd.txt" || fail "cd: VPD page 0 failed"
grep -q BLOCK_LIMITS "$T/vpd.txt" && fail "cd: lists SBC VPD pages"
timeout 120 qemu-img convert -O raw "$U:cd/0" "$T/back.iso" ||
	fail "qemu-img cannot read the CD-ROM"
cmp "$T/cd.iso" "$T/back.iso" || fail "the CD-ROM reads back different"

# Eject / load from the control socket (and the CLI).
disk() { "$SCSIKIT" disk --socket "$T/ctl.sock" "$@"; }
iscsi-inq "$U:rm/0" | grep -q "Removable:1" || fail "rm: not removable"
disk eject rm
if iscsi-readcapacity16 "$U:rm/0" >/dev/null 2>&1; then
	fail "READ CAPACITY works with the medium ejected"
fi
(cd "$T" && disk load rm second.img)	# a relative path, made absolute
iscsi-readcapacity16 "$U:rm/0" | grep -q "ADDRESS:196607" ||
	fail "the new 96 MiB medium does not show"
disk load mem 2>"$T/err.txt" && fail "load on a fixed disk succeeded"
grep -q "not a removable drive" "$T/err.txt" || fail "$(cat "$T/err.txt")"

# libiscsi's families for the media commands, sanitize allowed.
OUT="${SK_BUILD:-$T}/target-media-cu.txt"
: >"$OUT"
# Sanitize.Reset is left out: it needs a sanitize that is still running
# three seconds after it started, and on these 64 MiB LUNs it is over in
# a few milliseconds (see docs/target-commands.md).
SAN=SCSI.Sanitize
FAMILIES="$SAN.BlockErase,$SAN.BlockEraseReserved,$SAN.CryptoErase"
FAMILIES="$FAMILIES,$SAN.CryptoEraseReserved,$SAN.ExitFailureMode"
FAMILIES="$FAMILIES,$SAN.InvalidServiceAction,$SAN.Overwrite"
FAMILIES="$FAMILIES,$SAN.OverwriteReserved,$SAN.Readonly,$SAN.Reservations"
FAMILIES="$FAMILIES,SCSI.ReadDefectData10,SCSI.ReadDefectData12"
FAMILIES="$FAMILIES,SCSI.StartStopUnit,SCSI.PreventAllow,SCSI.NoMedia"
FAMILIES="$FAMILIES,SCSI.TestUnitReady"
run_cu() {
	local what=$1 url=$2 tests=$3 log="$T/cu-$1.txt" failed
	timeout 600 iscsi-test-cu -d -S -V --test="$tests" "$url" \
		>"$log" 2>&1 || true
	{
		echo "== $what: iscsi-test-cu -d -S -V --test=$tests $url"
		awk '/^ *(suites|tests|asserts) /' "$log"
		echo "failed:"
		awk '/^Suite: /{s=$2} /Test: /{t=$2} /FAILED$/{print "  " s "." t}' \
			"$log" | sort -u
		echo "skipped:"
		awk '/^Suite: /{s=$2} /Test: /{t=$2}
		     /\[SKIPPED\]/{sub(/.*\[SKIPPED\] */, "");
				  print "  " s "." t ": " $0}' "$log" | sort -u
	} >>"$OUT"
	failed=$(awk '/^ *tests /{print $5}' "$log")
	[ -n "$failed" ] || { cat "$log" >&2; fail "$what: suite did not run"; }
	[ "$failed" = 0 ] || { cat "$OUT" >&2; fail "$what: $failed failed"; }
}
run_cu removable "$U:rm/0" "$FAMILIES"
run_cu mem "$U:mem/0" "$FAMILIES"
run_cu ro "$U:ro/0" SCSI.ReadOnly
cat "$OUT"

kill -0 "$SK_PID" || fail "daemon died"
sk_stop
echo "target_media: OK"
