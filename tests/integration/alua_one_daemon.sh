#!/usr/bin/env bash
# ALUA on one daemon: two iSCSI portals in two portal groups, each its own
# target port group.  Checks: libiscsi's MultipathIO family over both
# paths (while both groups are active: a libiscsi login refuses a standby
# port, whose TEST UNIT READY answers NOT READY), REPORT TARGET PORT
# GROUPS in both formats reading back what was set, `scsikit alua set` on
# the control socket giving every session ASYMMETRIC ACCESS STATE CHANGED,
# the standby and unavailable sense, SET TARGET PORT GROUPS (and its
# INVALID FIELD IN PARAMETER LIST), and a persistent reservation made on
# one port seen on the other.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/multipath.sh"
sk_init
sk_need iscsi-test-cu python3

P1=$(sk_port 29500)
P2=$(sk_port 29550)
IQN=iqn.2026-11.org.scsikit:lu0
truncate -s 64M "$T/lu0.img"
sk_serve --no-default-disk --nbd none --xdisk none \
	--disk "lu0=file:$T/lu0.img,serial=alua-lu0,wwn=naa.6001405a1a000001" \
	--iscsi "127.0.0.1:$P1,1" --iscsi "127.0.0.1:$P2,2" \
	--alua-group 1:ao:1 --alua-group 2:an:2 --alua-transition-time 3
sk_wait_tcp "$P1"
sk_wait_tcp "$P2"

# libiscsi's multipath tests: same LU identity on both paths, writes on
# one read back on the other, LU reset seen on both, COMPARE AND WRITE.
sk_mpio "iscsi://127.0.0.1:$P1/$IQN/0" "iscsi://127.0.0.1:$P2/$IQN/0"

"$SCSIKIT" alua --socket "$T/ctl.sock" list --json >"$T/alua.json"
python3 - "$T/alua.json" <<'EOF'
import json, sys
g = json.load(open(sys.argv[1]))
assert [(x["group"], x["state"], x["ports"]) for x in g] == \
    [(1, "active/optimized", [1]), (2, "active/non-optimized", [2])], g
EOF

python3 - "$(dirname "$0")/lib" "$P1" "$P2" "$IQN" "$SCSIKIT" \
	"$T/ctl.sock" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from iscsi_raw import Session, rtpg, stpg, sense_key_asc, expect, \
    alua_ctl, TUR, READ10
p1, p2, iqn, scsikit, ctl = int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:]
AO, AN, S, U = 0, 1, 2, 3


def settle(sess):
    # Take the power-on unit attention of a new session.
    for _ in range(4):
        st, _, sense = sess.cmd(TUR)
        if st != 2 or sense_key_asc(sense)[0] != 6:
            return
    raise AssertionError("unit attentions do not clear")

a1 = Session(p1, iqn, "iqn.2026-11.test:a", isid=1)
b1 = Session(p1, iqn, "iqn.2026-11.test:b", isid=2)
a2 = Session(p2, iqn, "iqn.2026-11.test:a", isid=1)
sessions = [a1, b1, a2]
for s in sessions:
    settle(s)

# What was set reads back, through either port, in both formats.
for s in (a1, a2):
    st, hdr, groups = rtpg(s)
    assert st == 0 and groups == [(1, AO, 0, [1]), (2, AN, 0, [2])], groups
    st, hdr, groups = rtpg(s, extended=True)
    assert hdr[4] == 0x10 and hdr[5] == 3, hdr.hex()   # format 1, 3 s
    assert groups == [(1, AO, 0, [1]), (2, AN, 0, [2])], groups

# A state change on the control socket: every session hears it once.
alua_ctl(scsikit, ctl, "set", "2", "standby")
for s in sessions:
    expect(s, TUR, (6, 0x2a, 0x06), "UA after alua set")
expect(a2, TUR, (2, 0x04, 0x0b), "TUR on standby")
expect(a2, READ10, (2, 0x04, 0x0b), "READ on standby", din=512)
expect(a1, READ10, 0, "READ on active/optimized", din=512)
st, _, groups = rtpg(a2)
assert st == 0 and groups[1][:3] == (2, S, 2), groups   # implicit
alua_ctl(scsikit, ctl, "set", "2", "unavailable")
for s in sessions:
    expect(s, TUR, (6, 0x2a, 0x06), "UA after alua set")
expect(a2, READ10, (2, 0x04, 0x0c), "READ on unavailable", din=512)
alua_ctl(scsikit, ctl, "set", "2", "transitioning")
for s in sessions:
    expect(s, TUR, (6, 0x2a, 0x06), "UA after alua set")
expect(a2, READ10, (2, 0x04, 0x0a), "READ while transitioning", din=512)
st, _, groups = rtpg(a2)
assert st == 0 and groups[1][1] == 0x0f, groups

# SET TARGET PORT GROUPS from a1: swap the roles.  The others hear it,
# a1 does not.
alua_ctl(scsikit, ctl, "set", "2", "standby")
for s in sessions:
    expect(s, TUR, (6, 0x2a, 0x06), "UA after alua set")
st, sense = stpg(a1, [(1, S), (2, AO)])
assert st == 0, sense_key_asc(sense)
expect(a1, TUR, (2, 0x04, 0x0b), "issuer: no UA, now standby")
expect(b1, TUR, (6, 0x2a, 0x06), "UA after STPG")
expect(a2, TUR, (6, 0x2a, 0x06), "UA after STPG")
expect(a2, READ10, 0, "READ on the new optimized port", din=512)
st, _, groups = rtpg(b1)
assert groups == [(1, S, 1, [1]), (2, AO, 1, [2])], groups
# Invalid descriptors change nothing.
for bad, what in (([(2, 0x0f)], "transitioning"), ([(9, AO)], "group 9"),
                  ([(2, AO), (2, S)], "twice")):
    st, sense = stpg(a2, bad)
    assert st == 2 and sense_key_asc(sense) == (5, 0x26, 0x00), what
st, _, groups = rtpg(b1)
assert groups == [(1, S, 1, [1]), (2, AO, 1, [2])], groups
alua_ctl(scsikit, ctl, "set", "1", "ao")
for s in sessions:
    expect(s, TUR, (6, 0x2a, 0x06), "UA after alua set")

# Persistent reservation across ports: B registers and reserves (Write
# Exclusive) through port 1; A writes through port 2 and conflicts, and A
# through port 1 is not registered by A's port-2 registration.
def prout(s, sa, rk, sark, typ=0):
    p = rk.to_bytes(8, "big") + sark.to_bytes(8, "big") + bytes(8)
    return s.cmd(bytes([0x5f, sa, typ, 0, 0, 0, 0, 0, 24, 0]), dout=p)[0]
WRITE10 = bytes([0x2a, 0, 0, 0, 0, 0x10, 0, 0, 1, 0])
assert prout(b1, 0, 0, 0xb) == 0
assert prout(b1, 1, 0xb, 0, typ=1) == 0
assert a2.cmd(WRITE10, dout=bytes(512))[0] == 0x18
assert prout(a2, 0, 0, 0xa) == 0
assert prout(a1, 1, 0xa, 0, typ=1) == 0x18     # a1 is not registered
assert a1.cmd(READ10, din=512)[0] == 0          # Write Exclusive: reads
assert b1.cmd(WRITE10, dout=bytes(512))[0] == 0
assert prout(b1, 3, 0xb, 0) == 0                # CLEAR
for s in sessions:
    s.close()
print("alua one daemon: ok")
EOF

sk_stop
