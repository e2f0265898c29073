#!/usr/bin/env bash
# One LU presented by two daemons on one backing file: each daemon is one
# target port group (A: group 1, port 1; B: group 2, port 2) and knows the
# other's as a peer group, and each is told the other's control socket
# (--alua-peer-ctl: state changes and LU resets go across).  Checks: both show one LU identity (serial and
# NAA from the disk spec) and libiscsi's MultipathIO family passes over
# one path to each daemon; REPORT TARGET PORT GROUPS on either lists both
# groups as set; `scsikit alua set` on one daemon gives the sessions of
# both ASYMMETRIC ACCESS STATE CHANGED, both report the new states, and
# the standby port refuses I/O.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/multipath.sh"
sk_init
sk_need iscsi-test-cu python3

P1=$(sk_port 29600)
P2=$(sk_port 29650)
IQN=iqn.2026-11.org.scsikit:shared
truncate -s 64M "$T/shared.img"
DISK="shared=file:$T/shared.img,serial=ha-shared-0,wwn=naa.6001405a1a000002"

# Daemon A through the common helper (control socket $T/ctl.sock).
sk_serve --no-default-disk --nbd none --xdisk none --disk "$DISK" \
	--iscsi "127.0.0.1:$P1,1" --alua-group 1:ao:1 --alua-peer 2:an:2 \
	--alua-peer-ctl "$T/b.sock"
PID_A=$SK_PID
# Daemon B on its own control socket.
"$SCSIKIT" serve --ctl "$T/b.sock" --no-default-disk --nbd none \
	--xdisk none --disk "$DISK" --iscsi "127.0.0.1:$P2,2" \
	--alua-group 2:an:2 --alua-peer 1:ao:1 --alua-peer-ctl "$T/ctl.sock" \
	>"$T/b.log" 2>&1 &
PID_B=$!
SK_PIDS+=("$PID_B")
sk_wait_tcp "$P1"
sk_wait_tcp "$P2"

sk_mpio "iscsi://127.0.0.1:$P1/$IQN/0" "iscsi://127.0.0.1:$P2/$IQN/0"

python3 - "$(dirname "$0")/lib" "$P1" "$P2" "$IQN" "$SCSIKIT" \
	"$T/ctl.sock" "$T/b.sock" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from iscsi_raw import Session, rtpg, expect, alua_ctl, TUR, READ10
p1, p2, iqn, scsikit, ctl_a, ctl_b = int(sys.argv[2]), int(sys.argv[3]), \
    *sys.argv[4:]
AO, AN, S = 0, 1, 2
INQ83 = bytes([0x12, 1, 0x83, 0, 255, 0])
INQ80 = bytes([0x12, 1, 0x80, 0, 255, 0])


a = Session(p1, iqn, isid=1)
b = Session(p2, iqn, isid=2)
for s in (a, b):
    expect(s, TUR, (6, 0x29, 0x00), "power-on UA")
# One LU: the same serial and NAA designator through both daemons.
ids = []
for s in (a, b):
    st, d80, _ = s.cmd(INQ80, din=255)
    st2, d83, _ = s.cmd(INQ83, din=255)
    assert st == 0 and st2 == 0
    assert d83[4:6] == b"\x01\x03" and d83[7] == 16, d83[:8].hex()
    ids.append((d80[4:4 + d80[3]], d83[8:24]))
assert ids[0] == ids[1] == (b"ha-shared-0",
                            bytes.fromhex("6001405a1a000002") + ids[0][1][8:]), ids
# Each daemon's RTPG lists both groups as configured.
for s in (a, b):
    st, _, groups = rtpg(s, extended=True)
    assert st == 0 and groups == [(1, AO, 0, [1]), (2, AN, 0, [2])], groups

# Fail over by hand on daemon A alone: B's group becomes
# active/optimized, A's standby; A tells B.
alua_ctl(scsikit, ctl_a, "set", "1", "standby")
alua_ctl(scsikit, ctl_a, "set", "2", "ao")
for s in (a, b):
    expect(s, TUR, (6, 0x2a, 0x06), "UA after alua set")
expect(a, READ10, (2, 0x04, 0x0b), "READ on standby daemon A", din=512)
expect(b, READ10, 0, "READ on daemon B", din=512)
for s in (a, b):
    st, _, groups = rtpg(s)
    assert st == 0 and [g[:2] for g in groups] == [(1, S), (2, AO)], groups
# And back, from daemon B this time.
alua_ctl(scsikit, ctl_b, "set", "1", "ao")
for s in (a, b):
    expect(s, TUR, (6, 0x2a, 0x06), "UA after alua set on B")
expect(a, READ10, 0, "READ on daemon A again", din=512)
a.close()
b.close()
print("alua two daemons: ok")
EOF

kill -TERM "$PID_B"
wait "$PID_B" || fail "daemon B exited with status $?"
sk_stop
