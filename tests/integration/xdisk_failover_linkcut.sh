#!/usr/bin/env bash
# xdisk failover, link cut: the client reaches both servers through TCP
# proxies (bench_xdisk_bench proxy); mid-workload the proxy of the active
# path drops its connections while the server process lives on.  No I/O may
# fail, everything reads back, and the client reconnects through the proxy
# so that both paths are live again.  Ports 23130-23139.
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

xd_server 1 23131
xd_server 2 23132
"$BENCH" proxy 23133 23131 2>"$T/proxy1.log" &
PROXY1=$!
SK_PIDS+=("$PROXY1")
"$BENCH" proxy 23134 23132 2>"$T/proxy2.log" &
PROXY2=$!
SK_PIDS+=("$PROXY2")
sk_wait_tcp 23133
sk_wait_tcp 23134
xd_start 0 --nbd 127.0.0.1:23130 --xdisk none --no-default-disk \
	--xdisk-backoff 50:200 \
	--xdisk-attach xdisk://127.0.0.1:23133,127.0.0.1:23134
xd_wait_paths 2

active=$(xd_active_port)
case "$active" in
23133) cut=$PROXY1 ;;
23134) cut=$PROXY2 ;;
*) xd_show; fail "no active path" ;;
esac
out=$("$BENCH" workload --nbd 127.0.0.1:23130 --export xa0 --qd 32 \
	--ops 30000 --kill "$cut" --kill-sig 10 --kill-after 8000) || {
	echo "$out" >&2; xd_show; fail "workload failed across the link cut"
}
echo "$out"
grep -q 'cut [1-9]' "$T/proxy1.log" "$T/proxy2.log" ||
	fail "the proxy cut nothing"
kill -0 "$PID1" && kill -0 "$PID2" || fail "a server died"
xd_wait_paths 2 # reconnected through the proxy
xd_ctl 0 xdisk list | grep -q 'losses 1' || { xd_show; fail "no loss seen"; }
xd_stop 0
for n in 1 2; do
	p=$(eval echo "\${PID$n:-}")
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then xd_stop "$n"; fi
done
echo "PASS: $out"
