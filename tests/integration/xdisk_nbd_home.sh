#!/usr/bin/env bash
# NBD connections to an xa disk move to the disk's reactor: a client
# daemon with two reactors has xa0 (its DMSG link, tags and queue) on one
# of them, and NBD hands connections to the reactors in turn, so of two
# connections one lands elsewhere and must move after the handshake
# (nbd list: "moved").  Verified I/O through connections made one after
# the other and two at once, TLS connections (nbdcopy, four at once: the
# TLS session moves with its socket), then a shutdown with moved
# connections open (a clean exit; no leak under ASan).
# Ports 27210-27219.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
P0=$(sk_port 27210 10)
P1=$(sk_port 27210 10)
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

. "$(dirname "$0")/lib/xdisk.sh"
. "$(dirname "$0")/lib/tls.sh"
sk_need nbdcopy cmp
sk_tls_psk "$T/keys.psk" alice

truncate -s 64M "$T/back.img"
xd_server 1 "$P1"
xd_start 0 --reactors 2 --nbd 127.0.0.1:$P0 --xdisk none \
	--nbd-tls on --nbd-tls-psk-file "$T/keys.psk" \
	--no-default-disk --xdisk-attach xdisk://127.0.0.1:$P1
for i in $(seq 1 200); do
	xd_ctl 0 xdisk list | grep -q 'state open paths 1' && break
	sleep 0.05
done
xd_ctl 0 xdisk list | grep -q 'state open paths 1' ||
	{ xd_ctl 0 xdisk list >&2; fail "xa0 did not open"; }

moved() { xd_ctl 0 nbd list | sed -n 's/.* moved \([0-9]*\).*/\1/p'; }
[ "$(moved)" = 0 ] || fail "a connection moved before any was made"

# One after the other: the second lands on the other reactor than the
# first, so exactly one of them is not on xa0's.
for k in 0 1; do
	"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --ops 2000 --qd 16 \
		--blocks 512 --first $((k * 1024)) >"$T/s$k.out" 2>&1 ||
		{ cat "$T/s$k.out" >&2; fail "workload $k"; }
	grep -q 'errors 0 mismatches 0' "$T/s$k.out" ||
		{ cat "$T/s$k.out" >&2; fail "errors in workload $k"; }
done
[ "$(moved)" = 1 ] || { xd_ctl 0 nbd list >&2; fail "expected one move"; }

# Two at once, on separate blocks; one of them moves.
"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --ops 3000 --qd 16 \
	--blocks 512 --first 4096 >"$T/c0.out" 2>&1 &
W0=$!
"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --ops 3000 --qd 16 \
	--blocks 512 --first 8192 >"$T/c1.out" 2>&1 ||
	{ cat "$T/c1.out" >&2; fail "concurrent workload 1"; }
wait "$W0" || { cat "$T/c0.out" >&2; fail "concurrent workload 0"; }
for k in 0 1; do
	grep -q 'errors 0 mismatches 0' "$T/c$k.out" ||
		{ cat "$T/c$k.out" >&2; fail "errors in concurrent workload $k"; }
done
[ "$(moved)" = 2 ] || { xd_ctl 0 nbd list >&2; fail "expected two moves"; }

# TLS: four connections at once, data in and back out.
U="nbds://alice@127.0.0.1:$P0/xa0?tls-psk-file=$T/keys.psk"
head -c 8M /dev/urandom >"$T/in.img"
timeout 120 nbdcopy --connections=4 "$T/in.img" "$U" ||
	fail "nbdcopy over TLS into xa0"
timeout 120 nbdcopy --connections=4 "$U" "$T/out.img" ||
	fail "nbdcopy over TLS out of xa0"
cmp "$T/in.img" <(head -c 8M "$T/out.img") || fail "data differs over TLS"
[ "$(moved)" -ge 4 ] || { xd_ctl 0 nbd list >&2; fail "no TLS connection moved"; }

m0=$(moved)
# Stop with moved connections still open: two clients that keep their
# connection up (qd 1, many ops) while the daemon goes.
for k in 0 1; do
	"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --ops 1000000 \
		--qd 1 --blocks 64 --first $((12288 + k * 64)) --allow-errors \
		>/dev/null 2>&1 &
	eval "H$k=$!"
done
for i in $(seq 1 100); do
	[ "$(xd_ctl 0 nbd conns | grep -c "state transmission")" -ge 2 ] &&
		break
	sleep 0.05
done
[ "$(moved)" -gt "$m0" ] || { xd_ctl 0 nbd list >&2; fail "expected a move of a held connection"; }
xd_stop 0
kill "$H0" "$H1" 2>/dev/null || true
wait "$H0" "$H1" 2>/dev/null || true
xd_stop 1
echo "ok: NBD connections to an xa disk are served on its reactor"
