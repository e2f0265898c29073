#!/usr/bin/env bash
# xdisk with no live path: the only server is killed; I/O issued then waits
# (it neither fails nor completes) and resumes, verified, when the server
# comes back on its port.  With ",failfast" the same I/O fails with an
# error instead, promptly.  Ports 23140-23149.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
# This test's ports, from its own range (sk_port skips taken ones).
P0=$(sk_port 23140 10)
P1=$(sk_port 23140 10)
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

. "$(dirname "$0")/lib/xdisk.sh"

truncate -s 64M "$T/back.img"

xd_server 1 $P1
xd_start 0 --nbd 127.0.0.1:$P0 --xdisk none --no-default-disk \
	--xdisk-backoff 50:300 \
	--xdisk-attach xdisk://127.0.0.1:$P1
xd_wait_paths 1
"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --ops 2000 \
	--blocks 256 >/dev/null || fail "workload before the kill"

kill -9 "$PID1"
sleep 0.3
"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --ops 300 \
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
xd_server 1 $P1
rc=0
wait "$W" || rc=$?
cat "$T/w.out"
[ "$rc" -eq 0 ] || { xd_show; fail "waiting I/O did not resume cleanly"; }
grep -q 'errors 0 mismatches 0' "$T/w.out" || fail "errors after resume"

# failfast: a second attach of the same server, I/O fails when it is gone.
xd_ctl 0 xdisk detach
xd_ctl 0 xdisk attach xdisk://127.0.0.1:$P1,failfast >/dev/null
xd_wait_paths 1
kill -9 "$PID1"
sleep 0.3
start=$(date +%s)
rc=0
"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --ops 50 \
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
