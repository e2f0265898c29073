#!/usr/bin/env bash
# The daemon core: command-line errors, start-up on defaults, the control
# socket's requests (disks, stats, trace), its framing limits, a second
# daemon on the same socket, and a clean shutdown.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init

# The command line says what it needs.
# (Output goes to files first: grep -q stops reading at its first match,
# and with pipefail the writer's SIGPIPE would fail the check.)
"$SCSIKIT" --version >"$T/out" || fail "--version exit status"
grep -q '^scsikit [0-9]' "$T/out" || fail "--version"
"$SCSIKIT" --help >"$T/out" || fail "--help exit status"
grep -q 'serve' "$T/out" || fail "--help lists serve"
"$SCSIKIT" serve --help >"$T/out" || fail "serve --help exit status"
grep -q -- '--disk NAME=SPEC' "$T/out" || fail "serve --help"
if "$SCSIKIT" nosuchcommand 2>"$T/err"; then fail "bad command accepted"; fi
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "bad command: not one error line"
if "$SCSIKIT" serve --bogus x 2>"$T/err"; then fail "bad option accepted"; fi
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "bad option: not one error line"
if "$SCSIKIT" serve --disk 'x=mem:lots' --ctl "$T/bad.sock" 2>"$T/err"; then
	fail "bad disk spec accepted"
fi
grep -q 'x=mem:lots' "$T/err" || fail "bad disk spec: error does not name it"

off=(--iscsi none --nbd none --xdisk none)
sk_serve "${off[@]}"

# The default disk.
sk_ctl disk list >"$T/list"
grep -Eq '^disk0 +mem +1073741824 +512 +rw' "$T/list" || {
	cat "$T/list" >&2
	fail "default disk0 missing or wrong"
}

# Disks at run time.
sk_ctl disk add d1 mem:64M,bs=4096
sk_ctl disk list --json >"$T/json"
python3 - "$T/json" <<'PY' || fail "disk list --json"
import json, sys
disks = {d["name"]: d for d in json.load(open(sys.argv[1]))}
assert disks["d1"]["size"] == 64 << 20, disks
assert disks["d1"]["block_size"] == 4096, disks
assert disks["d1"]["read_only"] is False
assert disks["disk0"]["size"] == 1 << 30
PY
if sk_ctl disk add d1 mem:1M 2>"$T/err"; then fail "duplicate disk added"; fi
grep -q exists "$T/err" || fail "duplicate disk: no reason given"
if sk_ctl disk add d2 floppy:1 2>/dev/null; then fail "bad spec added"; fi
"$SCSIKIT" disk --socket "$T/ctl.sock" add 'name with space' mem:1M 2>"$T/err" &&
	fail "bad disk name accepted"
sk_ctl disk remove d1
if sk_ctl disk remove d1 2>/dev/null; then fail "removed twice"; fi
sk_ctl disk list | grep -q '^d1 ' && fail "d1 still listed"

# Statistics, trace categories, log level.
sk_ctl stats disk0 --json | python3 -c 'import json,sys; s=json.load(sys.stdin); assert s[0]["name"]=="disk0" and "read_ops" in s[0]' ||
	fail "stats --json"
if sk_ctl stats nosuch 2>/dev/null; then fail "stats of a missing disk"; fi
[ "$(sk_ctl trace pdu,cdb)" = "pdu,cdb" ] || fail "trace set"
[ "$(sk_ctl trace none)" = "none" ] || fail "trace clear"
if sk_ctl trace bogus 2>/dev/null; then fail "bad trace category accepted"; fi
[ "$(sk_ctl log-level debug)" = "debug" ] || fail "log-level"
sk_ctl log-level info >/dev/null
sk_ctl status | grep -q '^reactors 2' || fail "status"

# Framing: bad escapes, unknown requests, an overlong line (answered, then
# the connection is closed), and the daemon still serves afterwards.
python3 - "$T/ctl.sock" <<'PY' || fail "framing"
import socket, sys
def ask(payload):
    s = socket.socket(socket.AF_UNIX); s.settimeout(10)
    s.connect(sys.argv[1]); s.sendall(payload)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
        if data.startswith(b"ERR") and data.endswith(b"\n"):
            break
        if data.startswith(b"OK"):
            n = int(data.split(b"\n")[0][3:])
            if len(data) >= len(data.split(b"\n")[0]) + 1 + n:
                break
    s.close()
    return data
assert ask(b"disk add %zz mem:1M\n").startswith(b"ERR malformed"), "bad escape"
assert ask(b"frobnicate\n").startswith(b"ERR unknown request"), "unknown"
assert ask(b"\n").startswith(b"ERR empty"), "empty"
assert ask(b"x" * 70000).startswith(b"ERR request line too long"), "long"
r = ask(b"version\n")
assert r.startswith(b"OK ") and b"scsikit" in r, r
PY

# A second daemon on the same socket refuses to start.
if "$SCSIKIT" serve --ctl "$T/ctl.sock" "${off[@]}" 2>"$T/err2"; then
	fail "second daemon started on a live socket"
fi
grep -q 'another daemon' "$T/err2" || fail "second daemon: wrong reason"

# Shutdown through the socket: the daemon exits 0 and removes the socket.
sk_ctl shutdown
for i in $(seq 1 100); do kill -0 "$SK_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SK_PID" || fail "daemon exit status after shutdown request"
[ ! -e "$T/ctl.sock" ] || fail "socket left behind"

# And SIGTERM stops it cleanly too.
sk_serve "${off[@]}" --disk a=mem:8M --reactors 3
sk_ctl status | grep -q '^reactors 3' || fail "--reactors"
sk_stop
echo "serve_ctl: all checks passed"
