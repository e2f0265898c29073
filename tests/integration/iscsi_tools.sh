#!/usr/bin/env bash
# The iSCSI target driven by clients nobody here wrote: libiscsi's
# iscsi-inq, iscsi-readcapacity16 and iscsi-ls (discovery), and qemu-img
# converting a 64 MiB random image to a target and back (cmp + qemu-img
# compare), with CHAP off and on (one-way and mutual, discovery CHAP) and
# with header digests off and on (libiscsi offers no data digest; the data
# digest path is covered by iscsi_bad_input).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=$(sk_port 24400 50)
IQN=iqn.2026-11.org.scsikit

sk_need iscsi-inq iscsi-readcapacity16 iscsi-ls qemu-img
head -c $((64 << 20)) /dev/urandom >"$T/img"

# copy_check TARGET [OPTS]: the image into TARGET and back out with
# qemu-img (qemu's own iSCSI driver options: header-digest, user,
# password-secret), then cmp and qemu-img compare.
copy_check() {
	local o="driver=iscsi,transport=tcp,portal=127.0.0.1:$PORT"
	o="$o,target=$1,lun=0${2:+,$2}"
	local sec=(--object secret,id=sec0,data=alicesecret01)
	rm -f "$T/out"
	timeout 120 qemu-img convert "${sec[@]}" -n -f raw \
		--target-image-opts "$T/img" "$o" || fail "qemu-img into $o"
	timeout 120 qemu-img convert "${sec[@]}" --image-opts "$o" \
		-O raw "$T/out" || fail "qemu-img out of $o"
	cmp "$T/img" "$T/out" || fail "image read back from $o differs"
	timeout 120 qemu-img compare "${sec[@]}" --image-opts \
		"driver=raw,file.filename=$T/img" "$o" ||
		fail "qemu-img compare with $o"
}

# --- 1: no CHAP -------------------------------------------------------------
V6=()
if [ -e /proc/net/if_inet6 ] &&
	grep -q "^00000000000000000000000000000001 " /proc/net/if_inet6; then
	V6=(--iscsi "[::1]:$PORT")
fi
sk_serve --iscsi "127.0.0.1:$PORT" "${V6[@]}" --nbd none --xdisk none \
	--disk d0=mem:64M --disk d1=mem:64M --iscsi-target d1:$IQN:other \
	--disk d0b=mem:8M --iscsi-lun d0:1:d0b --iscsi-lun d0:2:hot
sk_wait_tcp "$PORT"
U="iscsi://127.0.0.1:$PORT"

out=$(timeout 20 iscsi-inq "$U/$IQN:d0/0") || fail "iscsi-inq"
grep -q "Vendor:SCSIKIT" <<<"$out" || fail "iscsi-inq: no vendor: $out"
grep -q "Peripheral Device Type:DIRECT_ACCESS" <<<"$out" ||
	fail "iscsi-inq: not a disk: $out"
out=$(timeout 20 iscsi-readcapacity16 "$U/$IQN:d0/0") ||
	fail "iscsi-readcapacity16"
grep -q "Total size:67108864" <<<"$out" || fail "readcapacity16: $out"
grep -q "LOGICAL BLOCK LENGTH IN BYTES:512" <<<"$out" ||
	fail "readcapacity16 block size: $out"
out=$(timeout 20 iscsi-ls -s "$U") || fail "iscsi-ls"
grep -q "Target:$IQN:d0 Portal:127.0.0.1:$PORT,1" <<<"$out" ||
	fail "iscsi-ls: d0 missing: $out"
grep -q "Target:$IQN:other Portal:127.0.0.1:$PORT,1" <<<"$out" ||
	fail "iscsi-ls: named target missing: $out"
grep -q "Lun:0 *Type:DIRECT_ACCESS" <<<"$out" || fail "iscsi-ls -s: $out"
# d0b is LUN 1 of d0's target, not a target of its own.
grep -q "Lun:1 *Type:DIRECT_ACCESS (Size:7M)" <<<"$out" ||
	fail "extra LUN missing: $out"
if grep -q "Target:$IQN:d0b " <<<"$out"; then
	fail "extra LUN exported as a target too: $out"
fi
out=$(timeout 20 iscsi-readcapacity16 "$U/$IQN:d0/1") ||
	fail "readcapacity16 of LUN 1"
grep -q "Total size:8388608" <<<"$out" || fail "LUN 1 size: $out"
# A disk configured as LUN 2 joins the target when it is added.
sk_ctl disk add hot mem:4M || fail "ctl disk add hot"
out=$(timeout 20 iscsi-readcapacity16 "$U/$IQN:d0/2") ||
	fail "readcapacity16 of a LUN added at run time"
grep -q "Total size:4194304" <<<"$out" || fail "LUN 2 size: $out"
sk_ctl disk remove hot || fail "ctl disk remove hot"
if timeout 20 iscsi-readcapacity16 "$U/$IQN:d0/2" >/dev/null 2>&1; then
	fail "LUN 2 still answers after its disk was removed"
fi

copy_check "$IQN:d0"
copy_check "$IQN:other" "header-digest=crc32c"
if [ ${#V6[@]} -gt 0 ]; then
	out=$(timeout 20 iscsi-inq "iscsi://[::1]:$PORT/$IQN:d0/0") ||
		fail "iscsi-inq over IPv6"
	grep -q "Vendor:SCSIKIT" <<<"$out" || fail "IPv6 inquiry: $out"
fi
# Several sessions and initiators at once, reads and writes mixed.
if command -v iscsi-perf >/dev/null; then
	pids=()
	for i in 1 2 3 4; do
		tgt=$IQN:d0
		[ $((i % 2)) = 0 ] && tgt=$IQN:other
		timeout 30 iscsi-perf -i "iqn.2026-11.test:perf$i" -m 16 -b 8 \
			-r -t 3 "$U/$tgt/0" >"$T/perf$i" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || { cat "$T"/perf*; fail "parallel iscsi-perf"; }
	done
	grep -q "iops average" "$T/perf1" || fail "iscsi-perf printed nothing"
fi
# A target that does not exist is refused at login.
if timeout 20 iscsi-inq "$U/$IQN:nosuch/0" >/dev/null 2>&1; then
	fail "login to a missing target succeeded"
fi
grep -q "to $IQN:other hdigest=CRC32C" "$T/serve.log" ||
	fail "no session used a header digest"
sk_ctl iscsi sessions >/dev/null || fail "ctl iscsi sessions"
sk_ctl iscsi targets | grep -q "$IQN:d0" || fail "ctl iscsi targets"
# Disks added and removed at run time come and go as targets.
sk_ctl disk add late mem:8M || fail "ctl disk add"
out=$(timeout 20 iscsi-ls "$U") || fail "iscsi-ls after disk add"
grep -q "Target:$IQN:late " <<<"$out" || fail "added disk not listed: $out"
out=$(timeout 20 iscsi-readcapacity16 "$U/$IQN:late/0") ||
	fail "readcapacity16 of an added disk"
grep -q "Total size:8388608" <<<"$out" || fail "added disk size: $out"
sk_ctl disk remove late || fail "ctl disk remove"
out=$(timeout 20 iscsi-ls "$U") || fail "iscsi-ls after disk remove"
if grep -q "Target:$IQN:late " <<<"$out"; then
	fail "removed disk still listed: $out"
fi
sk_stop

# --- 2: CHAP on a target, mutual CHAP, discovery CHAP, ACL ------------------
sk_serve --iscsi "127.0.0.1:$PORT" --nbd none --xdisk none \
	--disk d0=mem:64M --disk d1=mem:64M \
	--iscsi-chap d0:alice:alicesecret01 \
	--iscsi-mutual-chap d0:tgt0:targetsecret02 \
	--iscsi-chap discovery:disc:discsecret03 \
	--iscsi-acl "d1:iqn.2000-01.org.example:nobody"
sk_wait_tcp "$PORT"
A="alice%alicesecret01@127.0.0.1:$PORT"

if timeout 20 iscsi-inq "$U/$IQN:d0/0" >/dev/null 2>&1; then
	fail "login without CHAP to a CHAP target succeeded"
fi
if timeout 20 iscsi-inq "iscsi://alice%wrong@127.0.0.1:$PORT/$IQN:d0/0" \
	>/dev/null 2>&1; then
	fail "login with a wrong CHAP secret succeeded"
fi
out=$(timeout 20 iscsi-readcapacity16 "iscsi://$A/$IQN:d0/0") ||
	fail "readcapacity16 with CHAP"
grep -q "Total size:67108864" <<<"$out" || fail "CHAP readcapacity16: $out"
M="?target_user=tgt0&target_password=targetsecret02"
timeout 20 iscsi-inq "iscsi://$A/$IQN:d0/0$M" >/dev/null ||
	fail "mutual CHAP login"
if timeout 20 iscsi-inq \
	"iscsi://$A/$IQN:d0/0?target_user=tgt0&target_password=bad" \
	>/dev/null 2>&1; then
	fail "mutual CHAP accepted a wrong target secret"
fi
# The ACL on d1 lets only another initiator in.
if timeout 20 iscsi-inq "$U/$IQN:d1/0" >/dev/null 2>&1; then
	fail "ACL did not refuse the initiator"
fi
if timeout 20 iscsi-ls "$U" >/dev/null 2>&1; then
	fail "discovery without CHAP succeeded"
fi
out=$(timeout 20 iscsi-ls "iscsi://disc%discsecret03@127.0.0.1:$PORT") ||
	fail "iscsi-ls with discovery CHAP"
grep -q "Target:$IQN:d0" <<<"$out" || fail "discovery with CHAP: $out"
if grep -q "Target:$IQN:d1" <<<"$out"; then
	fail "discovery listed a target the ACL hides: $out"
fi

copy_check "$IQN:d0" "user=alice,password-secret=sec0"
copy_check "$IQN:d0" "user=alice,password-secret=sec0,header-digest=crc32c"
# The URL form of the credentials, as qemu parses it.
timeout 120 qemu-img compare -f raw -F raw "$T/img" "iscsi://$A/$IQN:d0/0" ||
	fail "qemu-img compare through a CHAP URL"
sk_stop
echo "iscsi_tools: OK"
