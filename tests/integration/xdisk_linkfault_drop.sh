#!/usr/bin/env bash
# xdisk failover driven by the daemon's own link faults: the client daemon
# is told (fault link add, on its control socket) to drop each of its first
# two xdisk links after 2 MiB sent, so the active path is cut in the middle
# of a write while both servers live on.  The verified QD32 workload through
# the client's NBD export must see no error and read everything back; the
# rule's hits, the link losses and the reconnections show that the cuts
# happened.  Then rules on both servers cut their side (front=xdisk,
# after 300 messages received): the same must hold.  Ports: sk_port 28000 (helper
# range 28000-28499).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || fail "bench_xdisk_bench not built"

. "$(dirname "$0")/lib/xdisk.sh"

NBDP=$(sk_port 28000)
S1=$(sk_port 28050)
S2=$(sk_port 28100)
truncate -s 64M "$T/back.img"

xd_server 1 "$S1"
xd_server 2 "$S2"
xd_start 0 --nbd "127.0.0.1:$NBDP" --xdisk none --no-default-disk \
	--xdisk-backoff 50:200
rule=$(xd_ctl 0 fault link add "drop,front=xdisk-client,dir=tx,after=2M,count=2")
rule=${rule#rule }
xd_ctl 0 fault link list | grep -q "rule $rule drop,front=xdisk-client" ||
	fail "rule not listed"
xd_ctl 0 xdisk attach "xdisk://127.0.0.1:$S1,127.0.0.1:$S2" >/dev/null
xd_wait_paths 2
xd_ctl 0 fault link list | grep -q "hits 2 left 0" || {
	xd_ctl 0 fault link list >&2; fail "the links were not relayed"
}

out=$("$BENCH" workload --nbd "127.0.0.1:$NBDP" --export xa0 --qd 32 \
	--ops 20000 --bs 16384) || {
	echo "$out" >&2; xd_show; fail "workload failed across the link drop"
}
echo "$out"
xd_ctl 0 xdisk list | grep -Eq 'losses [1-9]' || {
	xd_show; fail "no link was lost"
}
kill -0 "$PID1" && kill -0 "$PID2" || fail "a server died"
xd_wait_paths 2
xd_ctl 0 fault link clear "$rule"
xd_ctl 0 fault link list | grep -q "rule $rule" && fail "rule not cleared"

# The server side: each server drops its next link after 300 DMSG
# messages received (the relay frames the stream by the DMSG header); the
# active one is cut mid-workload.
for n in 1 2; do
	r=$(xd_ctl $n fault link add "drop,front=xdisk,dir=rx,pdus=300,count=1")
	eval "R$n=\${r#rule }"
done
xd_ctl 0 xdisk detach >/dev/null
xd_ctl 0 xdisk attach "xdisk://127.0.0.1:$S1,127.0.0.1:$S2" >/dev/null
xd_wait_paths 2
out=$("$BENCH" workload --nbd "127.0.0.1:$NBDP" --export xa0 --qd 32 \
	--ops 20000 --bs 16384 --unknown-ok) || {
	echo "$out" >&2; xd_show; fail "workload failed across the server-side drop"
}
echo "$out"
for n in 1 2; do
	xd_ctl $n fault link list | grep -q "rule $(eval echo \$R$n) .* hits 1" || {
		xd_ctl $n fault link list >&2; fail "server $n's rule hit nothing"
	}
done
xd_ctl 0 xdisk list | grep -Eq 'losses [1-9]' || {
	xd_show; fail "the server-side drop cut no link"
}
xd_ctl 0 xdisk stats | grep -q " errors 0 " || { xd_show; fail "I/O errors"; }
xd_stop 0
xd_stop 1
xd_stop 2
echo "PASS"
