#!/usr/bin/env bash
# libiscsi's conformance suite (iscsi-test-cu -d, every family) against the
# iSCSI target.  The iSCSI-level families (iSCSI.*: CmdSN, DataSN,
# residuals, TMF) must pass with zero failures; the whole suite (SCSI
# command semantics included, which are the target engine's) is run and
# recorded in $SK_BUILD/iscsi-test-cu.txt with its failing and skipped
# tests listed; it must fail nothing but what lib/cu-known-failures names
# for this LUN kind.
#
# The LUN is mem:64M unless SK_CU_DISK names another disk spec (@T@ stands
# for the test's scratch directory) and SK_CU_KIND a word for the log
# name, and SK_CU_PORT_BASE the base of a port range of its own (sk_port):
# iscsi_conformance_*.sh run it on the other LUN kinds issue 12 asks for.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=$(sk_port "${SK_CU_PORT_BASE:-24450}" 50)
IQN=iqn.2026-11.org.scsikit

sk_need iscsi-test-cu
DISK=${SK_CU_DISK:-mem:64M}
sk_serve --iscsi "127.0.0.1:$PORT" --nbd none --xdisk none \
	--disk "cu=${DISK//@T@/$T}"
echo "LUN: ${DISK//@T@/$T}"
sk_wait_tcp "$PORT"
U="iscsi://127.0.0.1:$PORT/$IQN:cu/0"
OUT="${SK_BUILD:-$T}/iscsi-test-cu${SK_CU_KIND:+-$SK_CU_KIND}.txt"

# summary FILE: "tests run passed failed" from CUnit's run summary.
summary() {
	awk '/^ *tests /{print $2, $3, $4, $5}' "$1"
}
# failures FILE: Suite.Test of every failed test.
failures() {
	awk '/^Suite: /{s=$2} /Test: /{t=$2} /FAILED$/{print s "." t}' "$1" |
		sort -u
}

timeout 600 iscsi-test-cu -d --test=iSCSI "$U" >"$T/iscsi.txt" 2>&1 || true
read -r total ran passed failed < <(summary "$T/iscsi.txt") ||
	{ cat "$T/iscsi.txt" >&2; fail "iSCSI family did not run"; }
echo "iSCSI family: $total tests, $ran run, $passed passed, $failed failed"
if [ "$failed" != 0 ] || [ "$ran" != "$total" ] || [ "$total" = 0 ]; then
	failures "$T/iscsi.txt" >&2
	fail "iSCSI-level conformance failures"
fi

# The whole suite, sanitize allowed (-S): every failure must be one that
# lib/cu-known-failures lists, with the reason no target could pass it.
timeout 780 iscsi-test-cu -d -S "$U" >"$OUT" 2>&1 || true
read -r total ran passed failed < <(summary "$OUT") ||
	{ tail -20 "$OUT" >&2; fail "full suite did not finish; see $OUT"; }
echo "full suite: $total tests, $ran run, $passed passed, $failed failed" \
	"(log: $OUT)"
echo "failed tests:"
failures "$OUT" | sed 's/^/  /'
echo "skipped (family.suite.test: reason):"
awk '/^Suite: /{s=$2} /Test: /{t=$2}
     /\[SKIPPED\]/{sub(/.*\[SKIPPED\] */, ""); print "  " s "." t ": " $0}' \
	"$OUT" | sort -u
known=$(dirname "$0")/lib/cu-known-failures
unexpected=$(failures "$OUT" | while read -r t; do
	grep -Eq "^$t[[:space:]]+(all|.*\<${SK_CU_KIND:-mem}\>)" "$known" ||
		echo "$t"
done)
[ -z "$unexpected" ] || fail "conformance failures: $unexpected"
[ "$ran" = "$total" ] || fail "$((total - ran)) tests did not run"

# The daemon survived everything the suite threw at it.
kill -0 "$SK_PID" || fail "daemon died during the suite"
sk_stop
echo "iscsi_conformance: OK"
