#!/usr/bin/env bash
# The command line, one parser for every subcommand: unknown options and
# bad values are refused with one line and exit 2; options come in any
# order; ports are range-checked (no wrapping); the exit codes are the
# documented ones (0 ok, 1 failed, 2 usage, 3 daemon unreachable); the
# daemon takes --socket like its clients (and --ctl still); and every
# listing command's --json output is parsed by python's json module
# against a running daemon.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_need python3
sk_init

# expect STATUS CMD...: run the command, require the exit status and, for
# status 2, exactly one line on stderr.
expect() {
	local want=$1 rc=0
	shift
	"$SCSIKIT" "$@" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" -eq "$want" ] || {
		cat "$T/err" >&2
		fail "'scsikit $*' exited $rc, want $want"
	}
	if [ "$want" -eq 2 ]; then
		[ "$(wc -l <"$T/err")" -eq 1 ] || {
			cat "$T/err" >&2
			fail "'scsikit $*': not exactly one error line"
		}
	fi
}

json() {
	python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/out" || {
		cat "$T/out" >&2
		fail "not JSON: scsikit $*"
	}
}

# Unknown options, every command: exit 2, one line, the option named.
for cmd in "disk list" "stats" "trace" "status" "shutdown" "cam devlist" "attach --list" "vscsi-target" "serve" "completion bash"; do
	# shellcheck disable=SC2086
	expect 2 $cmd --bogus
	grep -q -- "unknown option '--bogus'" "$T/err" ||
		fail "$cmd --bogus: $(cat "$T/err")"
done
expect 2 serve --bogus x
# A front end's options: unknown ones read the same as the core's.
expect 2 serve --nbd-bogus 1
grep -q "unknown option '--nbd-bogus'" "$T/err" || fail "$(cat "$T/err")"
expect 2 serve --nbd-max-conns lots
# (after its first word, a raw request's words go to the daemon as they are)
expect 2 ctl --bogus version
expect 2 nosuchcommand

# Bad and missing values.
expect 2 serve --reactors 0
expect 2 serve --reactors many
expect 2 serve --disk
expect 2 serve --syslog=yes
expect 2 serve --log-level loud
expect 2 cam -C x devlist --sim loop:
expect 2 cam --timeout -1 devlist --sim loop:
expect 2 cam write 0:0:0 --lba 0 --count 1 --pattern 256 --sim loop:
expect 2 cam inquiry 0:0:0 --lba 3 --sim loop:
expect 2 vscsi-target --connect "$T/v.sock" --lun 0:0=mem:1M --wait soon
expect 2 attach --list --detach
expect 2 disk frobnicate
expect 2 disk add onlyname
expect 2 shutdown --json

# Ports: out of range is refused while the options are read, for every
# listener (it used to wrap: 76576 listened on 11040).
for opt in "--iscsi 127.0.0.1:76576" "--nbd 127.0.0.1:65536" \
	"--xdisk 127.0.0.1:0" "--iscsi [::1]:99999" "--nbd :x"; do
	# shellcheck disable=SC2086
	expect 2 serve --socket "$T/bad.sock" $opt
	grep -q 'bad port' "$T/err" || fail "$opt: $(cat "$T/err")"
done

# The config file and the command line say the same about the same key.
printf 'bogus 1\n' >"$T/bad.conf"
expect 2 serve --config "$T/bad.conf"
grep -q "unknown option 'bogus'" "$T/err" || fail "config: $(cat "$T/err")"
printf 'reactors 99\n' >"$T/bad.conf"
expect 2 serve --config "$T/bad.conf"
grep -q "bad value '99' for '--reactors'" "$T/err" ||
	fail "config value: $(cat "$T/err")"

# Nobody listening: exit 3 for every client.
for cmd in "disk list" "stats" "status" "trace" "shutdown" "attach --list" \
	"cam devlist" "ctl version"; do
	# shellcheck disable=SC2086
	expect 3 $cmd --socket "$T/nobody.sock"
done

# Option order: the order the usage line gives and any other.
expect 0 cam --json --sim loop: devlist
json cam --json --sim loop: devlist
expect 0 cam devlist --sim=loop:targets=2 --json
json cam devlist --sim=loop:targets=2 --json
expect 0 cam -C 2 --timeout=5000 --sim loop: readcap 0:0:0 --json
json cam readcap

# A daemon with every front end that lists something, on --socket (and
# the old --ctl spelling still works).
IP=$(sk_port 26050)
NP=$(sk_port 26100)
XP=$(sk_port 26150)
"$SCSIKIT" serve --socket "$T/ctl.sock" --iscsi "127.0.0.1:$IP" \
	--nbd "127.0.0.1:$NP" --xdisk "127.0.0.1:$XP" --vscsi "$T/v.sock" \
	--cam-loop targets=1 >"$T/serve.log" 2>&1 &
SK_PID=$!
SK_PIDS+=("$SK_PID")
for i in $(seq 1 100); do
	sk_ctl version >/dev/null 2>&1 && break
	kill -0 "$SK_PID" 2>/dev/null || { cat "$T/serve.log" >&2; fail "serve"; }
	sleep 0.1
done
sk_ctl version >/dev/null || fail "daemon on --socket did not answer"
"$SCSIKIT" ctl --socket "$T/ctl.sock" --json status >"$T/out"
json status
python3 - "$T/out" "$IP" <<'PY' || fail "status --json content"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["disks"] == 1 and "iscsi" in s["frontends"], s
PY

# An xdisk attach, so that the xdisk listing has something in it.
S=(--socket "$T/ctl.sock")
expect 0 attach "${S[@]}" "xdisk://127.0.0.1:$XP"
for i in $(seq 1 50); do
	sk_ctl disk list | grep -q '^xa0 ' && break
	sleep 0.1
done

for cmd in "disk list" "stats" "stats disk0" "trace" "status" \
	"attach --list" "ctl iscsi sessions" "ctl iscsi targets" \
	"ctl iscsi portals" "ctl nbd list" "ctl nbd conns" "ctl xdisk list" \
	"ctl vscsi list" "ctl vscsi devs" "ctl import list" "cam devlist" \
	"cam inquiry 0:0:0" "cam readcap 0:0:0" "cam pathinq 0"; do
	# --json first, last, and with --socket in between.
	# shellcheck disable=SC2086
	expect 0 $cmd "${S[@]}" --json
	json $cmd
	set -- $cmd
	first=$1
	shift
	# shellcheck disable=SC2086
	expect 0 "$first" --json "$@" "${S[@]}"
	json "$first" --json "$@"
done

# Content, not just syntax: the listings name what the daemon has.
"$SCSIKIT" attach --list --json "${S[@]}" >"$T/out"
python3 - "$T/out" <<'PY' || fail "attach --list --json content"
import json, sys
x = json.load(open(sys.argv[1]))
assert x["client"]["disks"][0]["name"] == "xa0", x
assert x["server"]["links"], x
PY
"$SCSIKIT" ctl iscsi targets --json "${S[@]}" >"$T/out"
python3 - "$T/out" <<'PY' || fail "iscsi targets --json content"
import json, sys
t = json.load(open(sys.argv[1]))
assert any(e["disk"] == "disk0" for e in t), t
PY

# A failed operation is 1, a raw request's dashes go to the daemon as is.
expect 1 disk remove nosuchdisk "${S[@]}"
expect 1 ctl "${S[@]}" disk frob --fast

expect 0 shutdown "${S[@]}"
for i in $(seq 1 100); do kill -0 "$SK_PID" 2>/dev/null || break; sleep 0.1; done
wait "$SK_PID" || fail "daemon exit status"

# The old spelling of the daemon's socket option.
"$SCSIKIT" serve --ctl "$T/old.sock" --iscsi none --nbd none --xdisk none \
	>"$T/serve.log" 2>&1 &
SK_PID=$!
SK_PIDS+=("$SK_PID")
for i in $(seq 1 100); do
	"$SCSIKIT" status --socket "$T/old.sock" >/dev/null 2>&1 && break
	sleep 0.1
done
"$SCSIKIT" status --socket "$T/old.sock" >/dev/null ||
	fail "serve --ctl no longer works"
sk_stop
