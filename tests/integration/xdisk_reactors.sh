#!/usr/bin/env bash
# xdisk on several reactors: a server daemon with two reactors puts its two
# links on reactor 0 and reactor 1; a client daemon with two reactors puts
# its two attaches (of that one server) on a client each, one per reactor,
# making xa0 and xa1.  Verified I/O runs through both at once, a detach
# takes only its own disk, and both daemons stop cleanly.
# Ports 23210-23219.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
P0=$(sk_port 23210 10)
P1=$(sk_port 23210 10)
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

. "$(dirname "$0")/lib/xdisk.sh"

truncate -s 64M "$T/back.img"
xd_start 1 --reactors 2 --nbd none --xdisk 127.0.0.1:$P1 \
	--disk "vol=file:$T/back.img"
xd_start 0 --reactors 2 --nbd 127.0.0.1:$P0 --xdisk none \
	--no-default-disk --xdisk-backoff 50:300 \
	--xdisk-attach xdisk://127.0.0.1:$P1 \
	--xdisk-attach xdisk://127.0.0.1:$P1
for i in $(seq 1 200); do
	[ "$(xd_ctl 0 xdisk list | grep -c 'state open paths 1')" -eq 2 ] &&
		break
	sleep 0.05
done
xd_ctl 0 xdisk list >"$T/cl.txt"
[ "$(grep -c 'state open paths 1' "$T/cl.txt")" -eq 2 ] ||
	{ cat "$T/cl.txt" >&2; fail "the two attaches did not make two open disks"; }
grep -q '^attach 1 ' "$T/cl.txt" && grep -q '^attach 2 ' "$T/cl.txt" ||
	{ cat "$T/cl.txt" >&2; fail "attach ids are not 1 and 2"; }
xd_ctl 1 xdisk list >"$T/srv.txt"
grep -q '^link .* reactor 0$' "$T/srv.txt" &&
	grep -q '^link .* reactor 1$' "$T/srv.txt" ||
	{ cat "$T/srv.txt" >&2; fail "server links not on reactors 0 and 1"; }
xd_ctl 1 xdisk list --json | grep -q '"reactor": 1' ||
	fail "the JSON listing has no reactor"
xd_ctl 0 xdisk list --json | grep -q '"attaches": \[{"id": 1.*{"id": 2' ||
	{ xd_ctl 0 xdisk list --json >&2; fail "JSON listing lost an attach"; }

# Both disks at once, on separate blocks of the one backing file.
"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --ops 3000 --qd 16 \
	--blocks 512 --first 0 >"$T/w0.out" 2>&1 &
W0=$!
"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa1 --ops 3000 --qd 16 \
	--blocks 512 --first 4096 >"$T/w1.out" 2>&1 || {
	cat "$T/w1.out" >&2
	fail "workload on xa1"
}
wait "$W0" || { cat "$T/w0.out" >&2; fail "workload on xa0"; }
grep -q 'errors 0 mismatches 0' "$T/w0.out" "$T/w1.out" ||
	fail "errors in a workload"

# (The two clients make their disks at once: which is xa0 is not fixed.)
xd_ctl 0 xdisk detach 2
xd_ctl 0 xdisk list >"$T/cl2.txt"
[ "$(grep -c '^disk ' "$T/cl2.txt")" -eq 1 ] && grep -q '^attach 1 ' "$T/cl2.txt" &&
	! grep -q '^attach 2 ' "$T/cl2.txt" ||
	{ cat "$T/cl2.txt" >&2; fail "detach 2 did not take exactly its disk"; }
left=$(sed -n 's/^disk \(xa[01]\) .*/\1/p' "$T/cl2.txt")
"$BENCH" workload --nbd 127.0.0.1:$P0 --export "$left" --ops 500 \
	--blocks 256 --first 8192 >/dev/null || fail "$left after the detach"

xd_stop 0
xd_stop 1
echo "ok: xdisk links and attaches on two reactors"
