#!/usr/bin/env bash
# xdisk in one daemon: it exports vol and attaches to its own server with
# `scsikit attach`; exactly one xa disk appears (xa disks are never
# advertised again, so no disk of a disk and no I/O loop), it carries
# verified I/O (also from nbdcopy and qemu-io through NBD), `scsikit attach
# --detach` removes it, and the daemon stops
# cleanly with links, spans and registry events in flight.  Ports 23170-9.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
# This test's ports, from its own range (sk_port skips taken ones).
P0=$(sk_port 23170 10)
P1=$(sk_port 23170 10)
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

. "$(dirname "$0")/lib/xdisk.sh"

truncate -s 64M "$T/back.img"

xd_start 0 --nbd 127.0.0.1:$P0 --xdisk 127.0.0.1:$P1 \
	--disk "vol=file:$T/back.img"
"$SCSIKIT" attach --socket "$T/ctl0.sock" xdisk://127.0.0.1:$P1 |
	grep -q '^attach 1$' || fail "scsikit attach did not answer its id"
xd_wait_paths 1
sleep 0.5
[ "$(xd_ctl 0 disk list | grep -c '^xa')" -eq 1 ] || {
	xd_ctl 0 disk list >&2; fail "not exactly one xa disk"
}
xd_ctl 0 xdisk list | grep -q 'span vol ' || fail "server lists no span"
xd_ctl 0 xdisk list | grep -q 'span xa0' && fail "xa0 advertised again"
"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --ops 5000 \
	--blocks 512 >/dev/null || fail "workload on xa0"
"$BENCH" workload --nbd 127.0.0.1:$P0 --export vol --ops 2000 \
	--blocks 512 --first 4096 >/dev/null || fail "workload on vol"
# Clients nobody here wrote: nbdcopy in and out, qemu-io pattern checks.
if command -v nbdcopy >/dev/null; then
	head -c 8M /dev/urandom >"$T/rnd"
	nbdcopy "$T/rnd" nbd://127.0.0.1:$P0/xa0 || fail "nbdcopy into xa0"
	nbdcopy nbd://127.0.0.1:$P0/xa0 "$T/out" || fail "nbdcopy from xa0"
	cmp -n 8388608 "$T/rnd" "$T/out" || fail "nbdcopy round trip differs"
	cmp -n 8388608 "$T/rnd" "$T/back.img" || fail "backing file differs"
fi
if command -v qemu-io >/dev/null; then
	qemu-io -f raw nbd://127.0.0.1:$P0/xa0 -c "write -P 0xab 9M 3M" \
		-c "read -P 0xab 9M 3M" -c flush >"$T/qio" 2>&1 ||
		fail "qemu-io on xa0"
	grep -q "read 3145728/3145728" "$T/qio" || { cat "$T/qio" >&2; fail "qemu-io"; }
	grep -qi "pattern verification failed" "$T/qio" && fail "qemu-io pattern"
fi
"$SCSIKIT" attach --socket "$T/ctl0.sock" --detach 1 ||
	fail "scsikit attach --detach"
xd_ctl 0 disk list | grep -q '^xa0 ' && fail "xa0 still there after detach"
if "$SCSIKIT" attach --socket "$T/ctl0.sock" nbd://x 2>/dev/null; then
	fail "a non-xdisk URL was accepted"
fi
if xd_ctl 0 xdisk detach 99 2>/dev/null; then fail "detach of nothing"; fi
# attach again and stop with everything up
"$SCSIKIT" attach --socket "$T/ctl0.sock" xdisk://127.0.0.1:$P1 >/dev/null
xd_wait_paths 1
xd_stop 0
echo PASS
