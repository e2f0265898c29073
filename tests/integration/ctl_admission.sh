#!/usr/bin/env bash
# The control socket's cap (64 connections, docs/limits.md): 64 clients
# that connect and say nothing do not lock the owner out for good -- once
# they have been idle 2 s, a new request evicts the idlest and is served;
# while they are younger, a 65th connection is refused; both counted in
# `scsikit stats` and logged.  No TCP ports.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_need python3
sk_init
sk_serve --iscsi none --nbd none --xdisk none --vscsi none
python3 - "$T/ctl.sock" "$SCSIKIT" <<'PY' || fail "control socket locked out"
import socket, subprocess, sys, time
path, scsikit = sys.argv[1], sys.argv[2]
def ctl(*args):
    return subprocess.run([scsikit, "ctl", "--socket", path] + list(args),
                          capture_output=True, timeout=10)
held = []
for _ in range(64):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    held.append(s)
time.sleep(0.3)
# All 64 slots are young: the next one is refused.
assert ctl("version").returncode != 0, "admitted over the cap"
time.sleep(2.2)
# Now the idlest is evicted for the owner's request.
r = ctl("version")
assert r.returncode == 0, r
gone = 0
for s in held:
    s.settimeout(0.05)
    try:
        if s.recv(10) == b"":
            gone += 1
    except socket.timeout:
        pass
assert gone == 1, gone
PY
sk_ctl stats | grep -Eq '^ctl +open [0-9]+ refused-cap 1 refused-peer 0 evicted [12] ' || {
	sk_ctl stats >&2; fail "control socket limits not counted"; }
grep -q 'closing one idle' "$T/serve.log" || fail "eviction not logged"
sk_stop
echo "ctl_admission: OK"
