#!/usr/bin/env bash
# `scsikit cam` against an in-process stack given by a loop: SIM URL:
# devlist, inquiry, readcap, tur, reset, rescan, write/read round trip in
# one process (the stack lives as long as the command), raw cmd with sense,
# tags, negotiate, pathinq, fault injection, --json, and bad input.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init

cam() { timeout 60 "$SCSIKIT" cam --sim "loop:targets=2,luns=2,size=16M,maxio=64K" "$@"; }

cam devlist >"$T/devlist"
[ "$(grep -c 'at scbus0 target' "$T/devlist")" -eq 4 ] || {
	cat "$T/devlist" >&2
	fail "devlist: want 4 devices"
}
grep -q '<SCSIKIT VDISK' "$T/devlist" || fail "devlist: no inquiry strings"
cam devlist --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["devices"]
assert len(d) == 4 and {(x["target"], x["lun"]) for x in d} == {(0,0),(0,1),(1,0),(1,1)}, d
assert all(x["type"] == 0 and x["tagged"] for x in d)
' || fail "devlist --json"

cam inquiry 0:1:0 | grep -q 'Fixed Direct Access' || fail "inquiry"
cam inquiry 0:1:0 --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["vendor"] == "SCSIKIT" and d["type"] == 0 and d["serial"], d' ||
	fail "inquiry --json"
cam readcap 0:0:1 | grep -q 'Last Block: 32767, Block Length: 512 bytes' ||
	fail "readcap"
cam readcap 0:0:1 --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["blocks"] == 32768 and d["bytes"] == 16 << 20, d' || fail "readcap --json"
cam tur 0:0:0 | grep -q 'Unit is ready' || fail "tur"
if cam tur 0:5:0 >"$T/out" 2>"$T/err"; then fail "tur of an empty target"; fi
grep -q 'not ready' "$T/out" || fail "tur: not-ready line"
grep -q CAM_SEL_TIMEOUT "$T/err" || fail "tur: selection timeout not reported"
cam reset bus 0 | grep -q 'Reset of bus 0 was successful' || fail "reset bus"
cam reset dev 0:1:0 | grep -q 'Reset of 0:1:0 was successful' || fail "reset dev"
cam rescan | grep -q 'successful' || fail "rescan"
cam pathinq | grep -q 'maximum transfer: 65536 bytes' || fail "pathinq"
cam pathinq --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["max_target"] == 7 and d["initiator_id"] == 8 and d["dev_name"] == "loop"' ||
	fail "pathinq --json"

# Raw commands: INQUIRY data in, and a CHECK CONDITION with its sense.
cam cmd 0:0:0 -c "12 00 00 00 24 00" -i 36 | grep -q 'SCSIKIT' || fail "cmd inquiry"
if cam cmd 0:0:0 -c "28 00 ff ff ff 00 00 00 01 00" -i 512 >"$T/out"; then
	fail "cmd: read beyond the end succeeded"
fi
grep -q 'ILLEGAL REQUEST' "$T/out" || { cat "$T/out" >&2; fail "cmd: sense not shown"; }
cam cmd 0:0:0 -c "000000000000" -C 0 --json >"$T/json" || true
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["cam_status"] == "CAM_SCSI_STATUS_ERROR" and d["scsi_status"] == 2, d
assert "UNIT ATTENTION" in d["sense_text"], d' "$T/json" ||
	fail "cmd --json: unit attention of a fresh nexus"

# Data written and read back within one process: write, then cmd READ.
head -c 65536 /dev/urandom >"$T/w"
cam write 0:1:1 --lba 0 --count 128 --in "$T/w" | grep -q '65536 bytes written' ||
	fail "write"
cam read 0:1:1 --lba 0 --count 8 --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["read"] == 4096 and d["data"] == "00" * 4096, "fresh disk reads zeroes"' ||
	fail "read --json"

# Tags and negotiation.
cam tags 0:0:0 | grep -q 'device openings: 64' || fail "tags"
cam tags 0:0:0 -N 4 --json | python3 -c '
import json, sys; assert json.load(sys.stdin)["openings"] == 4' || fail "tags -N"
cam negotiate 0:0:0 -W 32 -O 200 --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["goal"]["bus_width"] == 16 and d["goal"]["sync_offset"] == 62, d' ||
	fail "negotiate: truncated to the SIM"

# Fault injection through the tool.
cam fault 0 busy,count=1 | grep -q 'fault added' || fail "fault"
if cam fault 0 bogus 2>/dev/null; then fail "bad fault spec accepted"; fi

# Bad input gets one clean error.
if cam inquiry 2>/dev/null; then fail "inquiry without a device"; fi
if cam inquiry 9:9 2>/dev/null; then fail "bad device accepted"; fi
if cam nosuch 2>/dev/null; then fail "unknown command accepted"; fi
if cam cmd 0:0:0 -c "zz" 2>/dev/null; then fail "bad CDB accepted"; fi
if timeout 20 "$SCSIKIT" cam --sim "loop:targets=x" devlist 2>"$T/err"; then
	fail "bad SIM URL accepted"
fi
grep -q targets "$T/err" || fail "bad SIM URL: no reason"
if timeout 20 "$SCSIKIT" cam --sim "floppy:" devlist 2>/dev/null; then
	fail "unknown SIM accepted"
fi
"$SCSIKIT" cam --help >"$T/help" || fail "cam --help exit status"
grep -q devlist "$T/help" || fail "cam --help"
echo "cam_tool: ok"
