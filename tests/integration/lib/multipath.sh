# Helpers for the ALUA / multipath integration tests (sourced after
# common.sh).
#
#   sk_mpio URL1 URL2   libiscsi's MultipathIO family over the two paths:
#                       both must show one LU and all 4 tests must pass

sk_mpio() {
	local out
	out=$(iscsi-test-cu -d -t ALL.MultipathIO "$1" "$2" 2>&1) ||
		{ echo "$out" >&2; fail "iscsi-test-cu MultipathIO failed"; }
	grep -q "found matching LU device identifier for all (2) paths" \
		<<<"$out" || { echo "$out" >&2; fail "the paths show no one LU"; }
	grep -Eq "tests +4 +4 +4 +0" <<<"$out" ||
		{ echo "$out" >&2; fail "MultipathIO: not 4 of 4 passed"; }
}
