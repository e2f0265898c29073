#!/usr/bin/env bash
# xdisk with no live path: the only server is killed; I/O issued then waits
# (it neither fails nor completes) and resumes, verified, when the server
# comes back on its port.  With ",failfast" the same I/O fails with an
# error instead, promptly.  Ports 23140-23149.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

# xd_ctl N ARGS...: a request to daemon N's control socket.
xd_ctl() {
	local n=$1
	shift
	"$SCSIKIT" ctl --socket "$T/ctl$n.sock" "$@"
}

# xd_start N ARGS...: start daemon N and wait for its control socket.
xd_start() {
	local n=$1 i
	shift
	"$SCSIKIT" serve --iscsi none --ctl "$T/ctl$n.sock" "$@" \
		>>"$T/d$n.log" 2>&1 &
	eval "PID$n=$!"
	SK_PIDS+=("$!")
	for i in $(seq 1 100); do
		xd_ctl "$n" version >/dev/null 2>&1 && return 0
		kill -0 "$(eval echo \$PID$n)" 2>/dev/null || {
			cat "$T/d$n.log" >&2
			fail "daemon $n exited at start-up"
		}
		sleep 0.1
	done
	fail "daemon $n did not answer in 10 s"
}

# xd_stop N: SIGTERM daemon N and require a clean exit (leaks under ASan).
xd_stop() {
	local pid i rc=0
	pid=$(eval echo \$PID$1)
	kill -TERM "$pid" 2>/dev/null || fail "daemon $1 already gone"
	for i in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$pid" 2>/dev/null && fail "daemon $1 did not stop in 15 s"
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || { tail -30 "$T/d$1.log" >&2; fail "daemon $1 exit $rc"; }
}

# xd_server N PORT: a server exporting the shared backing file as "vol".
xd_server() {
	xd_start "$1" --nbd none --xdisk "127.0.0.1:$2" \
		--disk "vol=file:$T/back.img"
}

# xd_wait_paths N: wait until the client (daemon 0) has N live paths.
xd_wait_paths() {
	local i
	for i in $(seq 1 200); do
		if xd_ctl 0 xdisk list 2>/dev/null |
			grep -Eq "state open paths $1( |\$)"; then
			return 0
		fi
		sleep 0.05
	done
	xd_ctl 0 xdisk list >&2 || true
	fail "client never had $1 live path(s)"
}

# xd_active_port: the server port of the client's active path.
xd_active_port() {
	xd_ctl 0 xdisk list | sed -n 's/.* via 127\.0\.0\.1:\([0-9]*\) active.*/\1/p'
}

# xd_show: the client's view, for failure reports.
xd_show() {
	xd_ctl 0 xdisk list >&2 || true
	xd_ctl 0 xdisk stats >&2 || true
	tail -20 "$T/d0.log" >&2 || true
}

truncate -s 64M "$T/back.img"

xd_server 1 23141
xd_start 0 --nbd 127.0.0.1:23140 --xdisk none --no-default-disk \
	--xdisk-backoff 50:300 \
	--xdisk-attach xdisk://127.0.0.1:23141
xd_wait_paths 1
"$BENCH" workload --nbd 127.0.0.1:23140 --export xa0 --ops 2000 \
	--blocks 256 >/dev/null || fail "workload before the kill"

kill -9 "$PID1"
sleep 0.3
"$BENCH" workload --nbd 127.0.0.1:23140 --export xa0 --ops 300 \
	--blocks 256 --first 1000 --timeout 60 >"$T/w.out" 2>&1 &
W=$!
SK_PIDS+=("$W")
sleep 1.5
kill -0 "$W" 2>/dev/null || {
	cat "$T/w.out" >&2
	fail "I/O finished although no server was up"
}
xd_ctl 0 xdisk stats | grep -Eq 'queued [1-9]|tags-busy [1-9]' || {
	xd_show; fail "no I/O waiting"
}
xd_server 1 23141
rc=0
wait "$W" || rc=$?
cat "$T/w.out"
[ "$rc" -eq 0 ] || { xd_show; fail "waiting I/O did not resume cleanly"; }
grep -q 'errors 0 mismatches 0' "$T/w.out" || fail "errors after resume"

# failfast: a second attach of the same server, I/O fails when it is gone.
xd_ctl 0 xdisk detach
xd_ctl 0 xdisk attach xdisk://127.0.0.1:23141,failfast >/dev/null
xd_wait_paths 1
kill -9 "$PID1"
sleep 0.3
start=$(date +%s)
rc=0
"$BENCH" workload --nbd 127.0.0.1:23140 --export xa0 --ops 50 \
	--blocks 64 --first 2000 --timeout 30 >"$T/f.out" 2>&1 || rc=$?
cat "$T/f.out"
[ "$rc" -ne 0 ] || fail "failfast I/O did not fail"
grep -Eq 'errors [1-9]|NBD connection lost' "$T/f.out" ||
	fail "failfast: no I/O error reported"
[ $(($(date +%s) - start)) -lt 20 ] || fail "failfast I/O took too long"
xd_stop 0
for n in 1 2; do
	p=$(eval echo "\${PID$n:-}")
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then xd_stop "$n"; fi
done
echo PASS
