#!/usr/bin/env bash
# Recovery of the iSCSI initiator: a daemon imports a LUN over iSCSI
# (`scsikit serve --import`) and exports it over NBD; nbdcopy writes and
# reads 64 MiB random patterns through it while the iSCSI target process
# (first `scsikit serve` on a file disk, then tgtd) is killed with SIGKILL
# and restarted several times.  Every pattern must read back intact, the
# session must have reconnected, and once the target stays away longer
# than the replacement timeout I/O must fail instead of hanging, then work
# again when the target is back.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
# On failure show what the daemon and the target said.
fail() {
	echo "--- importing daemon:" >&2
	tail -25 "$T/serve.log" >&2 2>/dev/null || true
	echo "--- target:" >&2
	tail -15 "$T/a.log" >&2 2>/dev/null || true
	echo "FAIL: $*" >&2
	exit 1
}

sk_need nbdcopy
APORT=$(sk_port 25050 10)
NPORT=$(sk_port 25060 10)
IQN=iqn.2026-11.org.scsikit
for i in 1 2 3 4; do
	head -c $((64 << 20)) /dev/urandom >"$T/p$i"
done
truncate -s 64M "$T/a.img"

# The target side: start_a / kill_a, per kind.  The pid lives in a file:
# chaos() restarts the target from a subshell.
start_a() {
	case $KIND in
	scsikit)
		"$SCSIKIT" serve --ctl "$T/a.sock" --iscsi "127.0.0.1:$APORT" \
			--nbd none --xdisk none --vscsi none --no-default-disk \
			--disk "a=file:$T/a.img" >>"$T/a.log" 2>&1 &
		echo $! >"$T/a.pid"
		sk_wait_tcp "$APORT"
		;;
	tgt)
		tgtd -f -C "$TCTL" --iscsi "portal=127.0.0.1:$APORT" \
			>>"$T/a.log" 2>&1 &
		echo $! >"$T/a.pid"
		sk_wait_tcp "$APORT"
		local TA="tgtadm -C $TCTL --lld iscsi"
		$TA --op new --mode target --tid 1 -T "$IQN:a"
		$TA --op new --mode logicalunit --tid 1 --lun 1 -b "$T/a.img"
		$TA --op bind --mode target --tid 1 -I ALL
		;;
	esac
}
kill_a() {
	local p
	p=$(cat "$T/a.pid" 2>/dev/null) || return 0
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	# gone, or a zombie of the subshell that started it
	for _ in $(seq 1 50); do
		[ -e "/proc/$p" ] || break
		[ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && break
		sleep 0.1
	done
	rm -f "$T/a.pid"
}
CHAOS=
# chaos() first (it restarts the target), then the target, then the rest.
sk_trap '[ -n "$CHAOS" ] && kill -9 "$CHAOS" 2>/dev/null; sleep 0.2; kill_a'

# Kill and restart the target N times, ~0.4 s apart, down ~0.7 s each.
chaos() {
	for _ in $(seq 1 "$1"); do
		sleep 0.4
		kill_a
		sleep 0.7
		start_a >/dev/null 2>&1
	done
}

run_kind() {
	KIND=$1
	LUN=$2
	TCTL=$((APORT + 40))
	start_a
	sk_serve --iscsi none --xdisk none --vscsi none --no-default-disk \
		--nbd "127.0.0.1:$NPORT" --import-backoff 100 \
		--import-replacement-timeout 10 \
		--import "imp=iscsi://127.0.0.1:$APORT/$IQN:a/$LUN"
	sk_wait_tcp "$NPORT"
	N="nbd://127.0.0.1:$NPORT/imp"

	chaos 4 &
	CHAOS=$!
	for i in 1 2 3 4; do
		timeout 120 nbdcopy "$T/p$i" "$N" || fail "$KIND: nbdcopy in $i"
		rm -f "$T/out"
		timeout 120 nbdcopy "$N" "$T/out" || fail "$KIND: nbdcopy out $i"
		cmp "$T/p$i" "$T/out" || fail "$KIND: pattern $i differs"
	done
	wait "$CHAOS"
	CHAOS=
	# The last pattern is what the target has.
	rm -f "$T/out"
	timeout 120 nbdcopy "$N" "$T/out" || fail "$KIND: final read"
	cmp "$T/p4" "$T/out" || fail "$KIND: final content differs"
	out=$(sk_ctl import list)
	rec=$(sed -n 's/.*reconnects=\([0-9]*\).*/\1/p' <<<"$out")
	[ "${rec:-0}" -ge 1 ] || fail "$KIND: no reconnect seen: $out"
	echo "$KIND: $out"

	# Down longer than the replacement timeout: I/O fails, no hang.
	kill_a
	sleep 11
	if timeout 60 nbdcopy "$N" "$T/out" 2>/dev/null; then
		fail "$KIND: read succeeded with the target gone"
	fi
	start_a
	ok=
	for _ in $(seq 1 50); do
		if timeout 60 nbdcopy "$N" "$T/out" 2>/dev/null; then
			ok=1
			break
		fi
		sleep 0.2
	done
	[ -n "$ok" ] || fail "$KIND: I/O did not come back with the target"
	cmp "$T/p4" "$T/out" || fail "$KIND: content after the outage"
	sk_stop
	kill_a
}

[ -n "${SK_INI_ONLY_TGT:-}" ] || run_kind scsikit 0
if command -v tgtd >/dev/null && [ "$(id -u)" = 0 ]; then
	run_kind tgt 1
else
	echo "tgt not usable (missing or not root): tgt half skipped" >&2
fi
echo ok
