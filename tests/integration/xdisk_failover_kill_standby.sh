#!/usr/bin/env bash
# xdisk failover, each server in turn: like xdisk_failover_kill_active, but
# first the standby server is killed under I/O, brought back (the client
# reconnects and regains the path), and then the other one -- now active --
# is killed under a second workload.  No I/O may fail; all reads check out.
# The second server names the disk differently and joins the first by
# --xdisk-serial, so the two still make one xa disk.
# Ports 23120-23129.
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

xd_server 1 23121
xd_start 2 --nbd none --xdisk 127.0.0.1:23122 --disk "other=file:$T/back.img" \
	--xdisk-serial other=vol
xd_start 0 --nbd 127.0.0.1:23120 --xdisk none --no-default-disk \
	--xdisk-backoff 50:200 \
	--xdisk-attach xdisk://127.0.0.1:23121,127.0.0.1:23122
xd_wait_paths 2

active=$(xd_active_port)
case "$active" in
23121) standby=2 sport=23122 ;;
23122) standby=1 sport=23121 ;;
*) xd_show; fail "no active path" ;;
esac
spid=$(eval echo \$PID$standby)
out=$("$BENCH" workload --nbd 127.0.0.1:23120 --export xa0 --qd 32 \
	--ops 20000 --kill "$spid" --kill-after 5000 --seed 7) || {
	echo "$out" >&2; xd_show; fail "workload failed across the standby kill"
}
echo "standby killed: $out"
xd_wait_paths 1
if [ "$standby" = 1 ]; then
	xd_server 1 23121
else
	xd_start 2 --nbd none --xdisk 127.0.0.1:23122 \
		--disk "other=file:$T/back.img" --xdisk-serial other=vol
fi
xd_wait_paths 2
[ "$(xd_ctl 0 disk list | grep -c '^xa')" -eq 1 ] || fail "not one xa disk"

active=$(xd_active_port)
case "$active" in
23121) victim=$PID1 ;;
23122) victim=$PID2 ;;
*) xd_show; fail "no active path" ;;
esac
out=$("$BENCH" workload --nbd 127.0.0.1:23120 --export xa0 --qd 32 \
	--ops 20000 --kill "$victim" --kill-after 5000 --seed 8 --first 8192) || {
	echo "$out" >&2; xd_show; fail "workload failed across the second kill"
}
echo "active killed: $out"
xd_stop 0
for n in 1 2; do
	p=$(eval echo "\${PID$n:-}")
	if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then xd_stop "$n"; fi
done
echo PASS
