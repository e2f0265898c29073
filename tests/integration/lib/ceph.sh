# A throwaway one-node Ceph cluster for tests (sourced, not run): one mon,
# one OSD on memstore (data in RAM), optionally a mgr, pool `rbd` of size
# 1, no authentication, loopback only.  About 7 s up without the mgr, about
# 15 s with it; 100-450 MB of memory.
#
#   ceph_up DIR     start a cluster whose files live in DIR (created; DIR
#                   must be empty or absent); sets CEPH_CONF (its ceph.conf)
#                   and CEPH_ADDR (its loopback address).  Fails (exit 1)
#                   with the daemons' log tails when it does not come up.
#   ceph_down DIR   stop its daemons (by PID, SIGKILL) and remove DIR;
#                   safe to call twice, and on a cluster half started
#   ceph_stop_osd DIR
#                   SIGKILL the one OSD: I/O to the cluster then waits (as
#                   when a cluster loses its OSDs) until the client's
#                   rados_osd_op_timeout; memstore loses its data with it,
#                   so the cluster is not restarted -- ceph_down it.
#   ceph_stop_mon DIR   SIGKILL the monitor
#   ceph_cmd ARGS   `ceph` on this cluster with bounded waits
#   ceph_rbd ARGS   `rbd` on this cluster with bounded waits
#
# Several clusters at once on one machine.  The monitor listens on the
# default ports 3300 (msgr2) and 6789 (v1) -- non-default ports were seen
# to fail to bind v1 -- so each cluster gets an address of its own instead:
# 127.0.0.N with N in 100..199 (all of 127/8 is loopback on Linux).  A
# cluster owns its address by an flock on /tmp/sk-ceph.127.0.0.N.lock,
# taken before anything binds and inherited by its daemons, so the address
# stays taken exactly as long as one of them lives (a test killed with
# SIGKILL that leaves daemons behind keeps its address until they die), and
# an address where anything already listens on 3300 or 6789 is skipped.
# 127.0.0.1 is never used, so a cluster started by hand on the defaults
# does not collide with the tests.  No CTest RESOURCE_LOCK is needed.
#
# CEPH_WITH_MGR=1 starts the mgr too (only `ceph -s` PG statistics need it;
# librbd and the rbd command do not).  CEPH_UP_TIMEOUT bounds the start
# (seconds, default 120).

_CEPH_LIB=$(realpath "${BASH_SOURCE[0]}")

_ceph_die() {
	local d=$1
	shift
	echo "ceph_up: $*" >&2
	if [ -d "$d/log" ]; then
		tail -n 20 "$d"/log/*.log "$d"/log/*.out >&2 2>/dev/null
	fi
	ceph_down "$d"
	exit 1
}

ceph_cmd() {
	timeout 60 ceph -c "$CEPH_CONF" --connect-timeout 10 "$@"
}

ceph_rbd() {
	timeout 60 rbd -c "$CEPH_CONF" --rados-mon-op-timeout 10 \
		--client-mount-timeout 10 "$@"
}

# _ceph_listening ADDR PORT: true when something accepts on ADDR:PORT.
_ceph_listening() {
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# _ceph_claim: pick a free 127.0.0.N, lock it on fd _CEPH_LOCK_FD and set
# CEPH_ADDR.  The lock fd is closed by ceph_up once the daemons hold it.
_ceph_claim() {
	local i n fd
	for i in $(seq 0 99); do
		n=$((100 + ($$ + i) % 100))
		exec {fd}>>"/tmp/sk-ceph.127.0.0.$n.lock"
		if flock -n "$fd"; then
			if ! _ceph_listening "127.0.0.$n" 3300 &&
				! _ceph_listening "127.0.0.$n" 6789; then
				CEPH_ADDR=127.0.0.$n
				_CEPH_LOCK_FD=$fd
				return 0
			fi
		fi
		exec {fd}>&-
	done
	return 1
}

# _ceph_daemon DIR NAME CMD...: start one daemon in the foreground mode
# (-f) in its own session, holding the address lock, its PID in run/.
_ceph_daemon() {
	local d=$1 name=$2
	shift 2
	setsid "$@" </dev/null >>"$d/log/$name.out" 2>&1 &
	echo $! >"$d/run/$name.pid"
	# Killing it is expected: no job-control notice.
	disown $!
}

# _ceph_watch DIR: whatever ends the test -- a CTest timeout's SIGKILL
# included, which runs no trap -- its cluster goes with it: a watcher in a
# session of its own (out of reach of a kill of the test's process group)
# polls the test's PID and runs ceph_down when it is gone.  Its output
# goes to /dev/null so that CTest does not wait for it.  CEPH_OWNER_PID
# names the process to outlive (default: the shell that called ceph_up);
# CEPH_OWNER_PID=none starts no watcher (tests/ceph/ceph-up.sh).
_ceph_watch() {
	local owner=${CEPH_OWNER_PID:-$$}
	[ "$owner" = none ] && return 0
	setsid bash -c '. "$1"; while kill -0 "$2" 2>/dev/null; do sleep 1; done
		ceph_down "$3"' ceph-watch "$_CEPH_LIB" "$owner" "$1" \
		</dev/null >/dev/null 2>&1 &
	disown $!
	# A SIGTERM or SIGINT runs the caller's EXIT trap (ceph_down) at once.
	trap 'exit 143' TERM
	trap 'exit 130' INT
}

ceph_up() {
	local d fsid osd_uuid id end a
	d=$(realpath -m "${1:?ceph_up DIR}")
	# In a test, the tools must be declared in scripts/deps.list.
	if declare -F sk_need >/dev/null; then
		sk_need ceph-mon monmaptool ceph-osd ceph rbd flock setsid
		[ "${CEPH_WITH_MGR:-0}" = 1 ] && sk_need ceph-mgr
	fi
	mkdir -p "$d"/run "$d"/log "$d"/mon.a "$d"/mgr.x "$d"/osd.0 ||
		_ceph_die "$d" "cannot create $d"
	_ceph_claim || _ceph_die "$d" "no free loopback address 127.0.0.100-199"
	a=$CEPH_ADDR
	echo "$a" >"$d/addr"
	CEPH_CONF=$d/ceph.conf
	fsid=$(cat /proc/sys/kernel/random/uuid)
	cat >"$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon host = [v2:$a:3300,v1:$a:6789]
public addr = $a
cluster addr = $a
public network = $a/32
cluster network = $a/32
auth cluster required = none
auth service required = none
auth client required = none
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
auth allow insecure global id reclaim = false
mon data avail warn = 1
mon data avail crit = 0
mon max pg per osd = 1000
mgr initial modules =
ms bind ipv6 = false
run dir = $d/run
log file = $d/log/\$name.log
pid file = $d/run/\$name.pidfile
admin socket = $d/run/\$name.asok
mon data = $d/mon.\$id
mgr data = $d/mgr.\$id
osd data = $d/osd.\$id
keyring = $d/keyring
crash dir = $d/crash
[osd]
osd op num shards = 1
osd op num threads per shard = 2
osd max object size = 134217728
osd client watch timeout = 5
[client]
log file = /dev/null
admin socket =
EOF
	monmaptool --create --fsid "$fsid" --addv a "[v2:$a:3300,v1:$a:6789]" \
		"$d/monmap" >/dev/null || _ceph_die "$d" "monmaptool failed"
	ceph-mon -c "$CEPH_CONF" -i a --mkfs --monmap "$d/monmap" \
		>"$d/log/mkfs.out" 2>&1 || _ceph_die "$d" "mon mkfs failed"
	_ceph_daemon "$d" mon.a ceph-mon -c "$CEPH_CONF" -i a -f
	if [ "${CEPH_WITH_MGR:-0}" = 1 ]; then
		_ceph_daemon "$d" mgr.x ceph-mgr -c "$CEPH_CONF" -i x -f
	fi
	osd_uuid=$(cat /proc/sys/kernel/random/uuid)
	id=$(ceph_cmd osd new "$osd_uuid" 2>>"$d/log/mkfs.out") ||
		_ceph_die "$d" "osd new failed"
	[ "$id" = 0 ] || _ceph_die "$d" "unexpected osd id '$id'"
	ceph-osd -c "$CEPH_CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" \
		>>"$d/log/mkfs.out" 2>&1 || _ceph_die "$d" "osd mkfs failed"
	_ceph_daemon "$d" osd.0 ceph-osd -c "$CEPH_CONF" -i 0 -f
	# The daemons hold the address lock now.
	exec {_CEPH_LOCK_FD}>&-
	_ceph_watch "$d"
	ceph_cmd osd pool create rbd 8 8 replicated >>"$d/log/mkfs.out" 2>&1 ||
		_ceph_die "$d" "pool create failed"
	# pool init writes an object: it returns once the OSD serves I/O.
	end=$((SECONDS + ${CEPH_UP_TIMEOUT:-120}))
	until ceph_rbd pool init rbd >>"$d/log/mkfs.out" 2>&1; do
		[ $SECONDS -lt $end ] ||
			_ceph_die "$d" "pool rbd not usable after ${CEPH_UP_TIMEOUT:-120} s"
		sleep 1
	done
}

# _ceph_kill DIR NAME...: signal the named daemons of DIR (only PIDs that
# are still a ceph daemon of this DIR) with $_CEPH_SIG (TERM), then KILL
# what is left after 10 s; returns once they are gone.
_ceph_kill() {
	local d=$1 sig=${_CEPH_SIG:-TERM} n p pids=() i live
	shift
	for n in "$@"; do
		[ -s "$d/run/$n.pid" ] || continue
		p=$(cat "$d/run/$n.pid")
		if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
			grep -qF -- "-c $d/ceph.conf"; then
			kill -"$sig" "$p" 2>/dev/null && pids+=("$p")
		fi
		rm -f "$d/run/$n.pid"
	done
	for i in $(seq 50); do
		live=0
		for p in "${pids[@]}"; do
			kill -0 "$p" 2>/dev/null && live=1
		done
		[ $live = 0 ] && return 0
		sleep 0.2
	done
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	return 0
}

ceph_down() {
	local d
	d=$(realpath -m "${1:?ceph_down DIR}")
	[ -d "$d" ] || return 0
	# Nothing of a throwaway cluster is worth a clean shutdown (memstore
	# would write its whole store out on SIGTERM).
	_CEPH_SIG=KILL _ceph_kill "$d" osd.0 mgr.x mon.a
	rm -rf "$d"
}

ceph_stop_osd() {
	_CEPH_SIG=KILL _ceph_kill "$(realpath -m "$1")" osd.0
}

ceph_stop_mon() {
	_CEPH_SIG=KILL _ceph_kill "$(realpath -m "$1")" mon.a
}
