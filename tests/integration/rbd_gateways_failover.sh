#!/usr/bin/env bash
# Two gateways on one RBD image (exclusive-lock on, as `rbd create` makes
# it), their state shared through RADOS (--ha-rados): A in target port
# group 1 (active/optimized), B in group 2 (active/non-optimized).  An
# initiator daemon imports the LU over both paths and re-exports it over
# NBD; bench_xdisk_bench's verifying workload (every read checked against
# the last acknowledged write, every block read back at the end) runs
# through it while A is SIGKILLed and restarted 10 times (lib/failover.sh,
# as mpath_failover.sh does on a file).  Each time B must report A's group
# unavailable, no I/O may fail and nothing may read back wrong; the stall
# of each failover is printed.  The lock of the dead gateway is broken by
# librbd on B (and that client blocklisted): the cluster's blocklist shows
# it.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/ceph.sh"
sk_init
sk_trap 'ceph_down "$T/ceph"'
sk_need python3
[ -x "$SK_BUILD/bench_xdisk_bench" ] ||
	fail "bench_xdisk_bench not built (SK_TESTS=ON builds it)"
PA=$(sk_port 25600)
PB=$(sk_port 25650)
FO_NBD=$(sk_port 25700)
IQN=iqn.2026-11.org.scsikit:lu

ceph_up "$T/ceph"
ceph_rbd create --size 64M img
ceph_rbd info img | grep -q 'features:.*exclusive-lock' ||
	fail "the image has no exclusive-lock feature"
FO_DISK="lu=rbd:rbd/img,conf=$CEPH_CONF,timeout=30,serial=rbd-fo-1,wwn=naa.6001405abc0000c2"
. "$(dirname "$0")/lib/failover.sh"
HA=(--ha-rados rbd/scsikit.img --ha-conf "$CEPH_CONF")
ALUA_A=(--alua-group 1:ao:1 --alua-peer 2:an:2 "${HA[@]}")
ALUA_B=(--alua-group 2:an:2 --alua-peer 1:ao:1 "${HA[@]}")
fo_gateway A "$PA" 1 "${ALUA_A[@]}"
fo_gateway B "$PB" 2 "${ALUA_B[@]}"
sk_serve --no-default-disk --iscsi none --xdisk none \
	--nbd "127.0.0.1:$FO_NBD" \
	--import "mp0=iscsi://127.0.0.1:$PB/$IQN/0,iscsi://127.0.0.1:$PA/$IQN/0"
sk_wait_tcp "$FO_NBD"
sk_ctl import list | grep -q 'mp0 multipath paths=2' || {
	sk_ctl import list >&2; fail "mp0 is not one LU over two paths"; }

# After each kill: the survivor reports the dead gateway's group
# unavailable (its lease has run out by the time the workload ends).
b_reports_a_dead() {
	local i
	for i in $(seq 1 100); do
		"$SCSIKIT" alua --socket "$T/B.sock" list |
			grep -q '^group 1 unavailable' && return 0
		sleep 0.1
	done
	"$SCSIKIT" ctl --socket "$T/B.sock" ha status >&2
	fail "B does not report A's group unavailable"
}
FO_AFTER_KILL=b_reports_a_dead
fo_kill_cycles 10 "$PA" PID_A fo_gateway A "$PA" 1 "${ALUA_A[@]}"
echo "failover stalls (ms, kill to the first new I/O done): ${FO_STALLS[*]}"
echo "longest gaps (ms, no I/O completing): ${FO_GAPS[*]}"
python3 - "${FO_STALLS[@]}" -- "${FO_GAPS[@]}" <<'EOF'
import sys
a = sys.argv[1:]
i = a.index("--")
s, g = [float(x) for x in a[:i]], [float(x) for x in a[i + 1:]]
assert len(s) == 10 and len(g) == 10, a
print("stall max %.0f ms, mean %.0f ms; gap max %.0f ms, mean %.0f ms" %
      (max(s), sum(s) / len(s), max(g), sum(g) / len(g)))
EOF
ceph_cmd osd blocklist ls 2>&1 | grep -q 'listed [1-9]' ||
	fail "no gateway was blocklisted: the dead one's lock was not broken"
sk_ctl import list | grep -Eq 'failovers=([1-9][0-9]*)' ||
	fail "no failover recorded"
echo "rbd gateways failover: ok"
