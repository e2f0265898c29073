#!/usr/bin/env bash
# Two gateways on one RBD image share their SCSI state through RADOS
# (--ha-rados, docs/ceph.md "Several gateways"), on a throwaway cluster:
#  - one LU: the same serial and NAA designator through both;
#  - initiator X REGISTERs (ALL_TG_PT) through gateway A and RESERVEs
#    (Write Exclusive) through gateway B; a third initiator Z gets
#    RESERVATION CONFLICT through both, for a WRITE and for a RESERVE;
#    READ RESERVATION through A shows B's reservation;
#  - gateway B is SIGKILLed: A reports B's target port group unavailable
#    (within lease + interval, printed), and the reservation holds on A;
#  - B restarted: it enforces the reservation it had before it died, and
#    A reports its group in its stored state again;
#  - the cluster's OSD killed: a PR command answers NOT READY, LOGICAL UNIT
#    COMMUNICATION FAILURE within the RADOS timeout, and `ha status` says
#    the cluster is unreachable;
#  - a gateway refuses to start (exit 1, with the reason) on a pool that
#    does not exist, and on a cluster that does not answer.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/ceph.sh"
sk_init
sk_trap 'ceph_down "$T/ceph"'
sk_need python3
PA=$(sk_port 25400)
PB=$(sk_port 25450)
IQN=iqn.2026-11.org.scsikit:lu

ceph_up "$T/ceph"
ceph_rbd create --size 64M img
FO_DISK="lu=rbd:rbd/img,conf=$CEPH_CONF,timeout=10,serial=rbd-pr-1,wwn=naa.6001405abc0000c1"
. "$(dirname "$0")/lib/failover.sh"
HA=(--ha-rados rbd/scsikit.img --ha-conf "$CEPH_CONF")

# refused_start WHY OPTIONS...: the daemon must exit 1 at start-up.
refused_start() {
	local why=$1 rc=0
	shift
	timeout 60 "$SCSIKIT" serve --ctl "$T/bad.sock" --no-default-disk \
		--nbd none --xdisk none --iscsi none "$@" >"$T/bad.log" 2>&1 ||
		rc=$?
	[ "$rc" = 1 ] || { cat "$T/bad.log" >&2;
		fail "start with $why: exit $rc, not 1"; }
	echo "refused with $why: $(grep -m1 'ha:' "$T/bad.log")"
}
refused_start "no such pool" --ha-rados nopool/x --ha-conf "$CEPH_CONF"
fo_gateway A "$PA" 1 --alua-group 1:ao:1 --alua-peer 2:an:2 "${HA[@]}"
fo_gateway B "$PB" 2 --alua-group 2:an:2 --alua-peer 1:ao:1 "${HA[@]}"

# py STEP: run this test's initiator steps (below) for STEP.
py() {
	timeout 60 python3 - "$(dirname "$0")/lib" "$PA" "$PB" "$IQN" "$1" \
		<<'EOF'
import sys, time
sys.path.insert(0, sys.argv[1])
from iscsi_raw import Session, sense_key_asc, TUR, READ10
pa, pb, iqn, step = int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
WRITE10 = bytes([0x2a, 0, 0, 0, 0, 0x10, 0, 0, 1, 0])
KEY = 0x5c5100000000beef
CONFLICT = 0x18


def login(port, who, isid):
    s = Session(port, iqn, "iqn.2026-11.test:" + who, isid=isid)
    for _ in range(8):      # the unit attentions of a new nexus
        st, _, sense = s.cmd(TUR)
        if st != 2 or sense_key_asc(sense)[0] != 6:
            return s
    raise AssertionError("unit attentions do not clear")


def prout(s, sa, rk, sark, typ=0, all_tg_pt=False):
    p = (rk.to_bytes(8, "big") + sark.to_bytes(8, "big") + bytes(4) +
         bytes([0x04 if all_tg_pt else 0]) + bytes(3))
    st, _, sense = s.cmd(bytes([0x5f, sa, typ, 0, 0, 0, 0, 0, 24, 0]),
                         dout=p)
    return st, sense


def read_reservation(s):
    st, data, sense = s.cmd(bytes([0x5e, 1, 0, 0, 0, 0, 0, 0, 64, 0]),
                            din=64)
    assert st == 0, ("READ RESERVATION", st, sense_key_asc(sense))
    if int.from_bytes(data[4:8], "big") < 16:
        return None
    return int.from_bytes(data[8:16], "big"), data[21] & 0x0f


def write(s):
    return s.cmd(WRITE10, dout=bytes(512))[0]


def identity(s):
    """The unit serial number and the LU's NAA designator (VPD 83h also
    names the target port and its group, which differ per gateway)."""
    st, serial, _ = s.cmd(bytes([0x12, 1, 0x80, 0, 255, 0]), din=255)
    assert st == 0
    st, d, _ = s.cmd(bytes([0x12, 1, 0x83, 0, 255, 0]), din=255)
    assert st == 0
    i, end = 4, 4 + int.from_bytes(d[2:4], "big")
    while i + 4 <= end:
        if d[i + 1] & 0x3f == 0x03:         # LU association, NAA
            return serial, d[i + 4:i + 4 + d[i + 3]]
        i += 4 + d[i + 3]
    raise AssertionError("no NAA designator")


if step == "reserve":
    xa, xb = login(pa, "x", 1), login(pb, "x", 1)
    za, zb = login(pa, "z", 3), login(pb, "z", 3)
    assert identity(xa) == identity(xb), "two LUs, not one"
    st, sense = prout(xa, 0, 0, KEY, all_tg_pt=True)    # REGISTER via A
    assert st == 0, ("REGISTER", st, sense_key_asc(sense))
    st, sense = prout(xb, 1, KEY, 0, typ=1)             # RESERVE via B
    assert st == 0, ("RESERVE", st, sense_key_asc(sense))
    assert read_reservation(xa) == (KEY, 1), read_reservation(xa)
    assert write(za) == CONFLICT, "Z writes through A"
    assert write(zb) == CONFLICT, "Z writes through B"
    assert prout(za, 0, 0, 0x22)[0] == 0                # Z registers,
    assert prout(za, 1, 0x22, 0, typ=1)[0] == CONFLICT  # cannot reserve
    assert prout(zb, 1, 0x22, 0, typ=1)[0] == CONFLICT  # through either
    assert write(xa) == 0 and write(xb) == 0, "the holder writes"
    print("PR across gateways: REGISTER via A, RESERVE via B, "
          "third initiator conflicts via A and B")
elif step in ("survivor", "restarted"):
    port = pa if step == "survivor" else pb
    x, z = login(port, "x", 1), login(port, "z", 3)
    assert read_reservation(z) == (KEY, 1), read_reservation(z)
    assert write(z) == CONFLICT, "Z writes through " + step
    assert prout(z, 1, 0x22, 0, typ=1)[0] == CONFLICT
    assert write(x) == 0, "the holder writes through " + step
    print("reservation holds on the %s gateway" % step)
elif step == "store-down":
    z = login(pa, "z", 3)
    t0 = time.monotonic()
    st, _, sense = z.cmd(bytes([0x5e, 0, 0, 0, 0, 0, 0, 0, 64, 0]), din=64)
    took = time.monotonic() - t0
    assert st == 2 and sense_key_asc(sense) == (2, 0x08, 0x00), \
        (st, sense_key_asc(sense))
    print("cluster down: READ KEYS answers NOT READY, LOGICAL UNIT "
          "COMMUNICATION FAILURE after %.1f s" % took)
EOF
}

# group_state SOCK GROUP: that group's state as the daemon reports it.
group_state() {
	"$SCSIKIT" alua --socket "$1" list | awk -v g="$2" '$2 == g { print $3 }'
}

py reserve

kill -KILL "$PID_B"
t0=$(date +%s%N)
for i in $(seq 1 200); do
	[ "$(group_state "$T/A.sock" 2)" = unavailable ] && break
	sleep 0.1
done
[ "$(group_state "$T/A.sock" 2)" = unavailable ] || {
	"$SCSIKIT" ctl --socket "$T/A.sock" ha status >&2
	fail "A does not report B's group unavailable"; }
echo "A reports B's group unavailable $(( ($(date +%s%N) - t0) / 1000000 )) ms after SIGKILL (bound: lease 3000 + interval 1000)"
wait "$PID_B" 2>/dev/null || true
py survivor

fo_gateway B "$PB" 2 --alua-group 2:an:2 --alua-peer 1:ao:1 "${HA[@]}"
py restarted
for i in $(seq 1 100); do
	[ "$(group_state "$T/A.sock" 2)" = active/non-optimized ] && break
	sleep 0.1
done
[ "$(group_state "$T/A.sock" 2)" = active/non-optimized ] ||
	fail "A does not report B's group back"

ceph_stop_osd "$T/ceph"
py store-down
for i in $(seq 1 100); do
	"$SCSIKIT" ctl --socket "$T/A.sock" ha status | grep -q unreachable &&
		break
	sleep 0.1
done
"$SCSIKIT" ctl --socket "$T/A.sock" ha status | grep -q unreachable ||
	fail "ha status does not say the cluster is unreachable"
refused_start "the cluster down" "${HA[@]}"
echo "rbd gateways PR: ok"
