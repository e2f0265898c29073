#!/usr/bin/env bash
# The iSCSI initiator SIM (`scsikit cam --sim iscsi://...`) against two
# targets: `scsikit serve` and tgt (tgtd, when installed and run as root).
# For each: scan, INQUIRY, READ CAPACITY(16), a 64 MiB random pattern
# written and read back (cmp), with CHAP off / one-way / mutual and with
# header and data digests off and on (written with one setting, read back
# with another), SendTargets discovery, a failed login's message, and a
# LUN RESET / TARGET WARM RESET through `cam reset`, and ABORT TASK of a
# read the target's backend holds (XPT timeout).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init

PORT=$(sk_port 25000 20)
IQN=iqn.2026-11.org.scsikit

cam() {
	timeout 120 "$SCSIKIT" cam --sim "$@"
}

# io_check URL_WRITE URL_READ DEV: the 64 MiB pattern through the SIM.
io_check() {
	rm -f "$T/out"
	cam "$1" write "$3" --lba 0 --count 131072 --in "$T/img" \
		>/dev/null || fail "write through $1"
	cam "$2" read "$3" --lba 0 --count 131072 --out "$T/out" \
		>/dev/null || fail "read through $2"
	cmp "$T/img" "$T/out" || fail "data read through $2 differs"
}

# basic URL DEV VENDOR: scan, INQUIRY, READ CAPACITY(16).
basic() {
	local out
	out=$(cam "$1" devlist) || fail "devlist through $1"
	grep -q "$3" <<<"$out" || fail "devlist through $1: $out"
	out=$(cam "$1" inquiry "$2") || fail "inquiry through $1"
	grep -q "Direct Access" <<<"$out" || fail "inquiry: $out"
	out=$(cam "$1" readcap "$2") || fail "readcap through $1"
	grep -q "67108864 bytes" <<<"$out" || fail "readcap: $out"
}

head -c $((64 << 20)) /dev/urandom >"$T/img"

# --- scsikit serve ----------------------------------------------------------
sk_serve --iscsi "127.0.0.1:$PORT" --nbd none --xdisk none --vscsi none \
	--no-default-disk --disk d0=mem:64M --disk d1=mem:64M \
	--disk f0=fault:mem:64M \
	--iscsi-chap d1:alice:alicesecret01 \
	--iscsi-mutual-chap d1:tgt0:targetsecret02
sk_wait_tcp "$PORT"
U="iscsi://127.0.0.1:$PORT/$IQN:d0/0"
C="iscsi://alice%alicesecret01@127.0.0.1:$PORT/$IQN:d1/0"
M="$C?target_user=tgt0&target_password=targetsecret02"
D="header_digest=crc32c&data_digest=crc32c"

basic "$U" 0:0:0 "SCSIKIT"
io_check "$U" "$U?$D" 0:0:0
io_check "$U?$D" "$U" 0:0:0
basic "$C" 0:0:0 "SCSIKIT"
io_check "$M&$D" "$C" 0:0:0
# discovery without a target name (the first target named is used: with
# alice's secret whichever it is takes the login)
cam "iscsi://alice%alicesecret01@127.0.0.1:$PORT/" devlist | grep -q SCSIKIT ||
	fail "discovery session"
# wrong secrets are refused with the target's reason
if out=$(cam "iscsi://alice%wrong@127.0.0.1:$PORT/$IQN:d1/0" devlist 2>&1)
then
	fail "login with a wrong secret succeeded"
fi
grep -q "authentication failed" <<<"$out" || fail "wrong secret: $out"
if out=$(cam "$C?target_user=tgt0&target_password=nope" devlist 2>&1); then
	fail "mutual CHAP accepted a wrong target secret"
fi
grep -q "mutual CHAP" <<<"$out" || fail "bad mutual secret: $out"
# task management without I/O in flight
cam "$U" reset dev 0:0:0 >/dev/null || fail "LUN RESET"
cam "$U" reset bus 0 >/dev/null || fail "TARGET WARM RESET"
cam "$U" tur 0:0:0 >/dev/null || fail "TUR after resets"
# ABORT TASK on a command in flight: the backend holds the first read 3 s,
# the XPT times it out after 1 s and aborts it, the retry succeeds.
sk_ctl disk fault f0 delay=3000,type=read,count=1 >/dev/null
out=$(cam "iscsi://127.0.0.1:$PORT/$IQN:f0/0" read 0:0:0 --lba 0 --count 8 \
	--out "$T/f.out" --timeout 1000 -C 2 2>&1) ||
	fail "read after an abort: $out"
grep -q "aborting" <<<"$out" || fail "no abort of the held read: $out"
sk_stop

# --- tgt --------------------------------------------------------------------
if ! command -v tgtd >/dev/null || ! command -v tgtadm >/dev/null; then
	echo "tgt is not installed: tgt half skipped" >&2
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "not root: tgt half skipped" >&2
	exit 0
fi
TPORT=$(sk_port 25020 20)
TCTL=$((TPORT + 20))
TIQN=$IQN.ini-io:tgt
: >"$T/tgt.img"
truncate -s 64M "$T/tgt.img"
tgtd -f -C "$TCTL" --iscsi "portal=127.0.0.1:$TPORT" >"$T/tgt.log" 2>&1 &
SK_PIDS+=($!)
sk_wait_tcp "$TPORT"
TA() { tgtadm -C "$TCTL" --lld iscsi "$@"; }
TA --op new --mode target --tid 1 -T "$TIQN"
TA --op new --mode logicalunit --tid 1 --lun 1 -b "$T/tgt.img"
TA --op bind --mode target --tid 1 -I ALL
TA --op update --mode target --tid 1 -n HeaderDigest -v CRC32C,None
TA --op update --mode target --tid 1 -n DataDigest -v CRC32C,None
TU="iscsi://127.0.0.1:$TPORT/$TIQN/1"
basic "$TU" 0:0:1 "VIRTUAL-DISK"
io_check "$TU" "$TU?$D" 0:0:1
cmp "$T/img" "$T/tgt.img" || fail "tgt's backing file differs"
io_check "$TU?$D" "$TU" 0:0:1
cam "iscsi://127.0.0.1:$TPORT/" devlist | grep -q VIRTUAL-DISK ||
	fail "discovery session at tgt"
cam "$TU" reset dev 0:0:1 >/dev/null || fail "LUN RESET at tgt"
# CHAP at tgt: one-way, then mutual
TA --op new --mode account --user alice --password alicesecret01
TA --op bind --mode account --tid 1 --user alice
TA --op new --mode account --user tgt0 --password targetsecret02
TA --op bind --mode account --tid 1 --user tgt0 --outgoing
if cam "$TU" devlist >/dev/null 2>&1; then
	fail "tgt accepted a login without CHAP"
fi
TC="iscsi://alice%alicesecret01@127.0.0.1:$TPORT/$TIQN/1"
basic "$TC" 0:0:1 "VIRTUAL-DISK"
head -c $((64 << 20)) /dev/urandom >"$T/img"
io_check "$TC?target_user=tgt0&target_password=targetsecret02&$D" "$TC" 0:0:1
cmp "$T/img" "$T/tgt.img" || fail "tgt's backing file differs (CHAP)"
echo "ok"
