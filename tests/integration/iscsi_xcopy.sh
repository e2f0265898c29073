#!/usr/bin/env bash
# Issue 12, part A, end to end through the iSCSI target with clients
# nobody here wrote:
#   - qemu-img's copy offload (convert -C) between two LUNs of one daemon:
#     qemu's iSCSI driver sends EXTENDED COPY(LID1) naming both LUNs by the
#     NAA designators of their VPD 83h pages, and -C fails rather than fall
#     back to copying through the host.  Data is compared and the daemon's
#     CDB trace must show EXTENDED COPY.  512-byte and 4 KiB-block pairs,
#     mem and file backends.
#   - Block Limits agrees with the front end: with --iscsi-max-cmd-data 16M
#     a 4 KiB-block LUN reports MAXIMUM TRANSFER LENGTH 4096 blocks, reads
#     of exactly that many blocks per command (iscsi-perf -b) succeed and
#     one block more is refused; raised to 64M, the same holds at 16384.
#   - libiscsi's families for the new commands (ExtendedCopy,
#     ReceiveCopyResults, WriteAtomic16, OrWrite) on a mem, a file and a
#     4 KiB-block LUN: every test runs (none skipped) and none fails.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
sk_need qemu-img iscsi-test-cu iscsi-inq iscsi-perf cmp dd timeout
PORT=$(sk_port 27000)
IQN=iqn.2026-11.org.scsikit
U="iscsi://127.0.0.1:$PORT/$IQN"

sk_serve --iscsi "127.0.0.1:$PORT" --nbd none --xdisk none \
	--no-default-disk --iscsi-max-cmd-data 16M \
	--disk src=mem:64M --disk dst=file:"$T/dst.img",size=64M \
	--disk k4=mem:64M,bs=4096 --disk k4dst=file:"$T/k4dst.img",size=64M,bs=4096
sk_wait_tcp "$PORT"

# ---- Copy offload between two LUNs ----
dd if=/dev/urandom of="$T/a.img" bs=1M count=64 status=none
sk_ctl log-level debug >/dev/null
sk_ctl trace cdb >/dev/null
for pair in src:dst k4:k4dst; do
	from=${pair%%:*} to=${pair##*:}
	timeout 120 qemu-img convert -n -f raw -O raw "$T/a.img" "$U:$from/0" ||
		fail "qemu-img could not fill $from"
	before=$(grep -c "EXTENDED COPY" "$T/serve.log" || true)
	timeout 120 qemu-img convert -C -n -f raw -O raw "$U:$from/0" \
		"$U:$to/0" || fail "qemu-img convert -C $from -> $to failed"
	after=$(grep -c "EXTENDED COPY" "$T/serve.log" || true)
	[ "$after" -gt "$before" ] ||
		fail "qemu-img did not offload $from -> $to to the target"
	cmp "$T/a.img" "$T/$to.img" || fail "$to differs from what $from held"
	echo "copy offload $from -> $to: OK ($((after - before)) EXTENDED COPY commands)"
done
sk_ctl trace none >/dev/null
sk_ctl log-level info >/dev/null

# ---- Block Limits follows --iscsi-max-cmd-data ----
maxlen() {
	iscsi-inq -e 1 -c 176 "$1" | awk -F: '/^maximum transfer length/{print $2}'
}
# agree URL BLOCKS: Block Limits says BLOCKS; commands of BLOCKS blocks
# are accepted, of BLOCKS+1 refused.
agree() {
	local got
	got=$(maxlen "$1")
	[ "$got" = "$2" ] ||
		fail "$1: MAXIMUM TRANSFER LENGTH $got, want $2"
	timeout 300 iscsi-perf -t 1 -m 1 -b "$2" "$1" >"$T/perf.txt" 2>&1 ||
		{ tail -3 "$T/perf.txt" >&2; fail "$1: reads of $2 blocks refused"; }
	if timeout 300 iscsi-perf -t 1 -m 1 -b "$(($2 + 1))" "$1" \
		>"$T/perf.txt" 2>&1; then
		fail "$1: reads of $(($2 + 1)) blocks accepted beyond Block Limits"
	fi
}
agree "$U:k4/0" 4096
agree "$U:src/0" 32768
echo "Block Limits with --iscsi-max-cmd-data 16M: OK"

# ---- libiscsi's families for the new commands ----
for d in src dst k4; do
	for fam in ExtendedCopy ReceiveCopyResults WriteAtomic16 OrWrite; do
		out="$T/cu-$d-$fam.txt"
		timeout 300 iscsi-test-cu -d -S --test="ALL.$fam" "$U:$d/0" \
			>"$out" 2>&1 || true
		read -r total ran passed failed < <(awk '/^ *tests /{print $2, $3, $4, $5}' "$out") ||
			{ cat "$out" >&2; fail "$fam on $d did not run"; }
		if [ "$total" = 0 ] || [ "$ran" != "$total" ] ||
		   [ "$failed" != 0 ] || grep -q '\[SKIPPED\]' "$out"; then
			grep -E 'FAIL|SKIPPED' "$out" >&2 || true
			fail "$fam on $d: $total tests, $ran run, $failed failed"
		fi
		echo "$fam on $d: $passed of $total passed"
	done
done
kill -0 "$SK_PID" || fail "daemon died"
sk_stop

# ---- Raised limit ----
sk_serve --iscsi "127.0.0.1:$PORT" --nbd none --xdisk none \
	--no-default-disk --iscsi-max-cmd-data 64M --disk k4=mem:256M,bs=4096
sk_wait_tcp "$PORT"
agree "$U:k4/0" 16384
sk_stop
echo "iscsi_xcopy: OK"
