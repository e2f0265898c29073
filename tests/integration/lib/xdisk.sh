# Shared helpers for the xdisk integration tests (sourced after
# common.sh and sk_init).  Daemon N has control socket $T/ctlN.sock and log
# $T/dN.log; daemon 0 is the client, the others are servers.

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
	"$SCSIKIT" serve --iscsi none --socket "$T/ctl$n.sock" "$@" \
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
