#!/usr/bin/env bash
# Import and re-export: a daemon imports a tgt LUN over iSCSI
# (`--import`) and exports it again over its own iSCSI target; libiscsi's
# iscsi-test-cu runs its iSCSI-level families (CmdSN, DataSN, residuals,
# TMF) against tgt directly and through the chain, and the chain must pass
# every test that passes directly.  Also: `import list/add/remove` on the
# control socket, and a 64 MiB pattern through the chain (qemu-img).
# Set SK_INI_CHAIN_FAMILY=ALL to compare the whole suite (slow).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init

sk_need tgtd tgtadm iscsi-test-cu qemu-img
[ "$(id -u)" = 0 ] || sk_skip "tgtd needs root"
TPORT=$(sk_port 25100 10)
SPORT=$(sk_port 25110 10)
TCTL=$((TPORT + 30))
IQN=iqn.2026-11.org.scsikit
FAMILY=${SK_INI_CHAIN_FAMILY:-iSCSI}

truncate -s 64M "$T/tgt.img"
tgtd -f -C "$TCTL" --iscsi "portal=127.0.0.1:$TPORT" >"$T/tgt.log" 2>&1 &
SK_PIDS+=($!)
sk_wait_tcp "$TPORT"
TA() { tgtadm -C "$TCTL" --lld iscsi "$@"; }
TA --op new --mode target --tid 1 -T "$IQN:chain-tgt"
TA --op new --mode logicalunit --tid 1 --lun 1 -b "$T/tgt.img"
TA --op bind --mode target --tid 1 -I ALL
DIRECT="iscsi://127.0.0.1:$TPORT/$IQN:chain-tgt/1"

sk_serve --iscsi "127.0.0.1:$SPORT" --nbd none --xdisk none --vscsi none \
	--no-default-disk --import "re=$DIRECT"
sk_wait_tcp "$SPORT"
CHAIN="iscsi://127.0.0.1:$SPORT/$IQN:re/0"

out=$(sk_ctl import list)
grep -q "state=full" <<<"$out" || fail "import list: $out"
grep -q "disks=re" <<<"$out" || fail "import list: $out"

# 64 MiB through the chain, checked against tgt's backing file.
head -c $((64 << 20)) /dev/urandom >"$T/img"
o="driver=iscsi,transport=tcp,portal=127.0.0.1:$SPORT,target=$IQN:re,lun=0"
timeout 120 qemu-img convert -n -f raw --target-image-opts "$T/img" "$o" ||
	fail "qemu-img into the chain"
cmp "$T/img" "$T/tgt.img" || fail "tgt's file differs after the chain"
timeout 120 qemu-img convert --image-opts "$o" -O raw "$T/out" ||
	fail "qemu-img out of the chain"
cmp "$T/img" "$T/out" || fail "read back through the chain differs"

# iscsi-test-cu: PASSED tests, one per line.
passed() {
	timeout 900 iscsi-test-cu -d -v -t "$1" "$2" >"$3" 2>&1 || true
	awk '/^Suite: /{s=$2} /^ +Test: .*\.\.\.passed/{print s "." $2}' \
		"$3" | sort -u
}
passed "$FAMILY" "$DIRECT" "$T/direct.txt" >"$T/direct.pass"
passed "$FAMILY" "$CHAIN" "$T/chain.txt" >"$T/chain.pass"
nd=$(wc -l <"$T/direct.pass")
nc=$(wc -l <"$T/chain.pass")
echo "iscsi-test-cu $FAMILY: $nd passed against tgt, $nc through the chain"
[ "$nd" -gt 0 ] || { cat "$T/direct.txt" >&2; fail "nothing passed directly"; }
missing=$(comm -23 "$T/direct.pass" "$T/chain.pass")
if [ -n "$missing" ]; then
	echo "passed directly, not through the chain:" >&2
	echo "$missing" >&2
	fail "the chain does worse than tgt"
fi

# Control socket: add a second import of the same LUN, list, remove.
sk_ctl import add "again=$DIRECT" >/dev/null || fail "import add"
out=$(sk_ctl import list)
grep -q "disks=again" <<<"$out" || fail "import list after add: $out"
id=$(grep "disks=again" <<<"$out" | cut -d' ' -f1)
sk_ctl import remove "$id" >/dev/null || fail "import remove"
out=$(sk_ctl import list)
grep -q "disks=again" <<<"$out" && fail "import still listed: $out"
if sk_ctl import add "bad=iscsi://127.0.0.1:$TPORT/$IQN:nothere/1" \
	>/dev/null 2>&1; then
	fail "import of a missing target succeeded"
fi
sk_stop
echo ok
