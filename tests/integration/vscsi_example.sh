#!/usr/bin/env bash
# examples/vscsi-ramdisk (built against the public shared library only) as
# the userland target: the bus finds its disk, data round-trips through a
# da export over NBD, and REQDETACH / REQPROBE typed on its stdin make the
# device go and come back (with AC_LOST_DEVICE removing the export).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
EX="${SK_BUILD:-}/vscsi-ramdisk"
[ -x "$EX" ] || sk_skip "examples not built ($EX)"
sk_need nbdcopy
sk_init
PORT=$(sk_port 27600 100)

sk_serve --iscsi none --xdisk none --nbd "127.0.0.1:$PORT" --vscsi "$T/v.sock"
sk_wait_tcp $PORT
mkfifo "$T/in"
"$EX" "$T/v.sock" 16 <"$T/in" >"$T/ex.log" 2>&1 &
EXPID=$!
SK_PIDS+=("$EXPID")
exec 3>"$T/in"

wait_devs() {	# wait until `vscsi devs` has $1 lines
	local i
	for i in $(seq 1 100); do
		[ "$(sk_ctl vscsi devs | grep -c .)" -eq "$1" ] && return 0
		sleep 0.1
	done
	sk_ctl vscsi devs >&2
	fail "expected $1 devices"
}

wait_devs 1
sk_ctl vscsi devs | grep -q ':0:0 vscsi0 <EXAMPLE  VSCSI RAMDISK' || fail "inquiry"
sk_ctl vscsi export "$T/v.sock" 0:0 rd >/dev/null
sk_ctl disk list | grep -Eq '^rd +da +16777216 +512' || fail "rd size"
head -c 4M /dev/urandom >"$T/in.img"
timeout 20 nbdcopy "$T/in.img" "nbd://127.0.0.1:$PORT/rd"
timeout 20 nbdcopy "nbd://127.0.0.1:$PORT/rd" "$T/out.img"
cmp -n $((4 << 20)) "$T/in.img" "$T/out.img" || fail "data differs"

echo detach >&3
wait_devs 0
for i in $(seq 1 50); do
	sk_ctl disk list | grep -q '^rd ' || break
	sleep 0.1
done
sk_ctl disk list | grep -q '^rd ' && fail "export survived REQDETACH"
echo probe >&3
wait_devs 1
grep -q 'lost 0:0' "$T/ex.log" || { cat "$T/ex.log" >&2; fail "no LOST event"; }
grep -c 'found 0:0' "$T/ex.log" | grep -q 2 || fail "no second FOUND event"

echo quit >&3
exec 3>&-
wait "$EXPID" || fail "example exited with an error"
sk_stop
