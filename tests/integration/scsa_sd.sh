#!/usr/bin/env bash
# The sd target driver (SCSA packets over CAM) as disks of the daemon,
# exported over NBD, against the loop SIM's fault injection: BUSY
# (retried after a delay), transport errors (resubmitted), CHECK CONDITION
# with auto request sense (the sense came with the packet) and without
# it (the driver's own REQUEST SENSE), each with the data written and read
# back through nbdcopy and compared; DMA windows smaller than the
# transfers; a hard error reaching the NBD client; retries that run out.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_need nbdcopy nbdinfo cmp
sk_init
PORT=$(sk_port 28500)

# LUN 0: auto request sense on, 16 KiB DMA windows; LUN 1: off.
sk_serve --iscsi none --xdisk none --nbd "127.0.0.1:$PORT" \
	--cam-loop targets=1,luns=2,size=16M,maxio=64K \
	--cam-sd arq=0:0:0,dma=16K --cam-sd noarq=0:0:1,noarq
sk_wait_tcp "$PORT"
sk_ctl disk list >"$T/disks"
grep -Eq '^arq +sd +16777216 +512 .*dma=16384 arq=on' "$T/disks" ||
	{ cat "$T/disks" >&2; fail "arq disk"; }
grep -Eq '^noarq +sd +16777216 +512 .*arq=off' "$T/disks" ||
	{ cat "$T/disks" >&2; fail "noarq disk"; }
[ "$(nbdinfo --size "nbd://127.0.0.1:$PORT/arq")" -eq 16777216 ] ||
	fail "nbdinfo size"

cam_fault() { timeout 20 "$SCSIKIT" cam --socket "$T/ctl.sock" fault 0 "$@" \
	>/dev/null; }
# The value of counter $2 of disk $1.
counter() {
	sk_ctl disk list | awk -v d="$1" -v c="$2=" '$1 == d {
		for (i = 1; i <= NF; i++) if (index($i, c) == 1)
			print substr($i, length(c) + 1) }'
}
n=0
# Write 4 MiB through NBD to disk $1, read it back, compare.
roundtrip() {
	n=$((n + 1))
	head -c 4M /dev/urandom >"$T/in$n"
	timeout 60 nbdcopy "$T/in$n" "nbd://127.0.0.1:$PORT/$1" ||
		fail "$2: write to $1"
	timeout 60 nbdcopy "nbd://127.0.0.1:$PORT/$1" "$T/out$n" ||
		fail "$2: read from $1"
	cmp -n 4194304 "$T/in$n" "$T/out$n" || fail "$2: data differs on $1"
}
# Counter $2 of disk $1 must have grown by at least $3 since $4.
grew() {
	local now
	now=$(counter "$1" "$2")
	[ "$now" -ge $(($4 + $3)) ] ||
		{ sk_ctl disk list >&2; fail "$1: $2 $4 -> $now, want +$3"; }
}

# No faults: windows of 16 KiB on arq (each 4 MiB copy needs > 256).
roundtrip arq plain
roundtrip noarq plain
[ "$(counter arq windows)" -ge 512 ] || fail "arq: DMA windows"

# BUSY: retried after a delay.
b=$(counter arq busy)
cam_fault busy,lun=0,count=5
roundtrip arq busy
grew arq busy 5 "$b"

# Transport errors (the SIM says CAM_REQ_CMP_ERR): resubmitted.
r=$(counter noarq retries)
cam_fault status=req_cmp_err,lun=1,count=4
roundtrip noarq "transport errors"
grew noarq retries 4 "$r"
r=$(counter arq retries)
cam_fault busfree,lun=0,count=3
roundtrip arq "unexpected bus free"
grew arq retries 3 "$r"

# CHECK CONDITION with auto request sense: UNIT ATTENTION, retried.
r=$(counter arq retries)
q=$(counter arq rqs)
cam_fault check=6/29/0,lun=0,count=3
roundtrip arq "unit attention (autosense)"
grew arq retries 3 "$r"
[ "$(counter arq rqs)" -eq "$q" ] || fail "arq sent REQUEST SENSE"

# ... without it: the driver's REQUEST SENSE finds the sense (LUN
# BECOMING READY: retried after a delay; UNIT ATTENTION: retried).
q=$(counter noarq rqs)
b=$(counter noarq busy)
cam_fault nosense=2/4/1,lun=1,op=0x2a,count=3
roundtrip noarq "not ready (request sense)"
grew noarq rqs 3 "$q"
grew noarq busy 3 "$b"
q=$(counter noarq rqs)
cam_fault check=6/29/0,lun=1,op=0x28,count=2
roundtrip noarq "unit attention (request sense)"
grew noarq rqs 2 "$q"

# A MEDIUM ERROR is not retried: the NBD client sees the error, and the
# next copy works.
cam_fault check=3/11/0,lun=0,op=0x28,count=1
if timeout 60 nbdcopy "nbd://127.0.0.1:$PORT/arq" "$T/bad" 2>"$T/bad.err"; then
	fail "a medium error reached nobody"
fi
roundtrip arq "after the medium error"

# BUSY for ever: the retries run out (30 x 20 ms), the write fails.
cam_fault busy,lun=1,op=0x2a
if timeout 60 nbdcopy "$T/in1" "nbd://127.0.0.1:$PORT/noarq" 2>"$T/busy.err"; then
	fail "endless BUSY was acknowledged"
fi
cam_fault clear
roundtrip noarq "after endless busy"
sk_stop
