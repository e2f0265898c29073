# Shared helpers for integration tests (sourced, not run).
#
#   sk_init               make $T (a temp dir removed at exit) and the trap;
#                         with SK_KEEP_LOGS=1 in the environment a failed
#                         test's $T (daemon logs, sockets, images) is kept
#                         and its path printed
#   sk_trap 'CMDS'        run CMDS at exit before sk_cleanup (a test's own
#                         clean-up); the test's exit status still decides
#                         SK_KEEP_LOGS
#   sk_serve ARGS...      start `scsikit serve --socket $T/ctl.sock ARGS...` in
#                         the background; waits until its control socket
#                         answers; sets SK_PID
#   sk_ctl ARGS...        `scsikit ctl --socket $T/ctl.sock ARGS...`
#   sk_stop               SIGTERM the daemon and require a clean exit (under
#                         ASan this is where leaks are reported)
#   sk_wait_tcp PORT      wait until 127.0.0.1:PORT accepts connections
#   sk_need NAME...       fail unless each command is on PATH; each must be
#                         declared in scripts/deps.list (cmd:NAME), so the
#                         test command installs it and checks it up front
#   sk_port BASE [N]      a free TCP port in BASE..BASE+N-1 (N: 50), starting
#                         at a point that differs per run, so copies of the
#                         suite can run side by side; after sk_init, never
#                         one this test was given before (call it once per
#                         port the test needs)
#   sk_skip REASON        skip the test (exit 77): only for the reasons the
#                         README names (not root, no /dev/fuse, no loop device)
#   fail MESSAGE          fail the test
# Every wait is bounded; every process started is killed at exit.

: "${SCSIKIT:?SCSIKIT must name the scsikit binary}"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

sk_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

SK_DEPS_LIST=$(dirname "${BASH_SOURCE[0]}")/../../../scripts/deps.list

sk_need() {
	local c
	for c in "$@"; do
		grep -Eq "^[^#].*[[:space:]]cmd:$c([[:space:]]|\$)" "$SK_DEPS_LIST" ||
			fail "$c is used by this test but not declared in scripts/deps.list"
		command -v "$c" >/dev/null ||
			fail "$c is not installed (scripts/deps.sh test installs it)"
	done
}

sk_port() {
	local base=$1 n=${2:-50} i p taken=${T:+$T/.sk_ports}
	for i in $(seq 0 $((n - 1))); do
		p=$((base + ($$ + i) % n))
		# A port this test took already is not free, even before
		# anything listens on it.
		[ -n "$taken" ] && grep -qx "$p" "$taken" 2>/dev/null && continue
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			[ -n "$taken" ] && echo "$p" >>"$taken"
			echo "$p"
			return 0
		fi
	done
	fail "no free port in $base-$((base + n - 1))"
}

SK_PIDS=()

sk_cleanup() {
	local rc=${SK_RC:-$?} p
	for p in "${SK_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	[ -n "${T:-}" ] || return 0
	# A skip (77) is not a failure: nothing worth keeping.
	if [ "${SK_KEEP_LOGS:-0}" = 1 ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		echo "SK_KEEP_LOGS: kept $T (exit status $rc)" >&2
		return 0
	fi
	rm -rf "$T"
}

sk_init() {
	T=$(mktemp -d /tmp/sk-test.XXXXXX)
	trap 'SK_RC=$?; sk_cleanup' EXIT
}

sk_trap() {
	# shellcheck disable=SC2064 # CMDS is expanded when the trap runs
	trap "SK_RC=\$?; $1; sk_cleanup" EXIT
}

sk_ctl() {
	"$SCSIKIT" ctl --socket "$T/ctl.sock" "$@"
}

sk_serve() {
	"$SCSIKIT" serve --socket "$T/ctl.sock" "$@" >"$T/serve.log" 2>&1 &
	SK_PID=$!
	SK_PIDS+=("$SK_PID")
	local i
	for i in $(seq 1 100); do
		if sk_ctl version >/dev/null 2>&1; then
			return 0
		fi
		if ! kill -0 "$SK_PID" 2>/dev/null; then
			cat "$T/serve.log" >&2
			fail "scsikit serve exited at start-up"
		fi
		sleep 0.1
	done
	cat "$T/serve.log" >&2
	fail "scsikit serve did not answer on its control socket in 10 s"
}

sk_stop() {
	local rc=0 i
	kill -TERM "$SK_PID" 2>/dev/null || fail "daemon already gone"
	for i in $(seq 1 150); do
		kill -0 "$SK_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SK_PID" 2>/dev/null; then
		cat "$T/serve.log" >&2
		fail "daemon did not stop within 15 s of SIGTERM"
	fi
	wait "$SK_PID" || rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$T/serve.log" >&2
		fail "daemon exited with status $rc"
	fi
}

sk_wait_tcp() {
	local i
	for i in $(seq 1 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	fail "nothing listens on 127.0.0.1:$1 after 10 s"
}
