#!/usr/bin/env bash
# The multipath initiator end to end: two target daemons on one backing
# file present one LU (A: target port group 1, active/optimized; B: group
# 2, active/non-optimized); an initiator daemon imports it over both paths
# (--import mp0=URL_B,URL_A: ordered by REPORT TARGET PORT GROUPS, not by
# the command line) and re-exports it over NBD.  bench_xdisk_bench's
# verifying workload (every read checked against the last acknowledged
# write, every block read back at the end) runs through it while
#   (a) the ALUA states are switched back and forth 10 times;
#   (b) the daemon serving the optimized path is SIGKILLed and restarted,
#       10 times (the stall of each failover is measured);
#   (c) the same kill against targets without ALUA (TPGS 0): transport
#       errors alone drive the failover.
# No I/O may fail and nothing may read back wrong.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
sk_need python3
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

PA=$(sk_port 29700)
PB=$(sk_port 29750)
PN=$(sk_port 29800)
FO_NBD=$PN
. "$(dirname "$0")/lib/failover.sh"
IQN=iqn.2026-11.org.scsikit:lu
truncate -s 64M "$T/lu.img"
FO_DISK="lu=file:$T/lu.img,serial=mp-lu-0,wwn=naa.6001405abc0000aa"

start_initiator() {
	sk_serve --no-default-disk --iscsi none --xdisk none \
		--nbd "127.0.0.1:$PN" \
		--import "mp0=iscsi://127.0.0.1:$PB/$IQN/0,iscsi://127.0.0.1:$PA/$IQN/0"
	sk_wait_tcp "$PN"
	sk_ctl disk list | grep -q '^mp0 ' || fail "mp0 not in the disk registry"
}

ALUA_A=(--alua-group 1:ao:1 --alua-peer 2:an:2
	--alua-peer-ctl "$T/B.sock")
ALUA_B=(--alua-group 2:an:2 --alua-peer 1:ao:1
	--alua-peer-ctl "$T/A.sock")
fo_gateway A "$PA" 1 "${ALUA_A[@]}"
fo_gateway B "$PB" 2 "${ALUA_B[@]}"
start_initiator
"$SCSIKIT" ctl --socket "$T/ctl.sock" import mpath >"$T/mpath.json"
python3 - "$T/mpath.json" "$PA" "$PB" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
pa, pb = sys.argv[2], sys.argv[3]
assert len(m) == 1 and m[0]["disk"] == "mp0" and m[0]["multipath"], m
prio = {p["url"].split("/")[2].split(":")[1]: p["priority"]
        for p in m[0]["paths"]}
assert prio == {pa: 0, pb: 1}, prio       # RTPG: A optimized, B not
assert all(p["state"] == "active" for p in m[0]["paths"]), m
EOF
# cam devlist shows the two buses' devices and the multipath disk.
"$SCSIKIT" cam --socket "$T/ctl.sock" devlist --json >"$T/devlist.json"
python3 - "$T/devlist.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["devices"]) == 2, d
assert [m["disk"] for m in d["multipath"]] == ["mp0"], d
assert len(d["multipath"][0]["paths"]) == 2, d
EOF
"$SCSIKIT" cam --socket "$T/ctl.sock" devlist | grep -q "^multipath mp0:" ||
	fail "cam devlist shows no multipath disk"

# (a) ALUA switches under load.
"$BENCH" workload --nbd "127.0.0.1:$PN" --export mp0 --qd 16 \
	--ops 400000 --timeout 200 >"$T/wl-a.out" 2>&1 &
wl=$!
SK_PIDS+=("$wl")
for i in $(seq 1 10); do
	sleep 0.3
	"$SCSIKIT" alua --socket "$T/A.sock" set 1 standby
	"$SCSIKIT" alua --socket "$T/A.sock" set 2 ao
	sleep 0.3
	"$SCSIKIT" alua --socket "$T/B.sock" set 2 an
	"$SCSIKIT" alua --socket "$T/B.sock" set 1 ao
done
wait "$wl" || { cat "$T/wl-a.out" >&2; sk_ctl import list >&2;
	fail "workload failed across ALUA switches"; }
echo "ALUA switches: $(cat "$T/wl-a.out")"
grep -q " errors 0 mismatches 0 " "$T/wl-a.out" || fail "errors in (a)"
sk_ctl import list | grep -Eq "failovers=([1-9][0-9]*)" ||
	fail "no failover recorded in (a)"

# An AO <-> AN swap leaves both paths usable: the client notices it by
# re-reading REPORT TARGET PORT GROUPS (at most a second later).
"$SCSIKIT" alua --socket "$T/A.sock" set 1 an
"$SCSIKIT" alua --socket "$T/A.sock" set 2 ao
for i in $(seq 1 50); do
	[ "$(fo_prio_of "$PB")" = prio=0 ] && [ "$(fo_prio_of "$PA")" = prio=1 ] &&
		break
	sleep 0.1
done
[ "$(fo_prio_of "$PB")" = prio=0 ] || { sk_ctl import list >&2;
	fail "the client did not follow the ALUA swap"; }
"$SCSIKIT" alua --socket "$T/A.sock" set 2 an
"$SCSIKIT" alua --socket "$T/A.sock" set 1 ao

# (b) the daemon serving the optimized path killed and restarted.
fo_kill_cycles 10 "$PA" PID_A fo_gateway A "$PA" 1 "${ALUA_A[@]}"
stalls=("${FO_STALLS[@]}")
echo "failover stalls (ms): ${stalls[*]}"
python3 - "${stalls[@]}" <<'EOF'
import sys
s = [float(x) for x in sys.argv[1:]]
assert len(s) == 10, s
print("stall max %.0f ms, mean %.0f ms" % (max(s), sum(s) / len(s)))
# The goal is < 1 s (a path's replacement timeout is 0.5 s); allow a
# loaded machine some slack.
assert max(s) < 3000, s
EOF

# (c) no ALUA on the targets: transport errors alone.  Both paths have
# the same priority, so the failover policy uses the first URL (B's).
sk_stop
for n in A B; do
	kill -TERM "$(eval echo "\$PID_$n")"
	wait "$(eval echo "\$PID_$n")" || fail "daemon $n exited with $?"
done
fo_gateway A "$PA" 1
fo_gateway B "$PB" 2
start_initiator
for i in 1 2; do
	fo_wait_path_active "$PB"
	out=$("$BENCH" workload --nbd "127.0.0.1:$PN" --export mp0 --qd 16 \
		--ops 6000 --kill "$PID_B" --kill-after 2000 --unknown-ok \
		--timeout 60) || { echo "$out" >&2; sk_ctl import list >&2;
		fail "workload failed across kill $i without ALUA"; }
	grep -q " errors 0 mismatches 0 " <<<"$out" ||
		fail "errors without ALUA, kill $i"
	echo "no ALUA, kill $i: $out"
	wait "$PID_B" 2>/dev/null || true
	fo_gateway B "$PB" 2
done
sk_ctl import list | grep -Eq "failovers=2" || {
	sk_ctl import list >&2; fail "not 2 failovers without ALUA"; }
sk_stop
