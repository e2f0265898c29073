#!/usr/bin/env bash
# Docs that work when pasted: runs the `sh doctest` blocks of docs pages.
#
#   docs_pages.sh PAGE.md    run one page (CTest runs each page that has
#                            blocks as its own test, docs/<page>)
#   docs_pages.sh            run every docs/**/*.md page that has blocks
#
# The convention (docs/doctest.md says it for page writers): a fenced code
# block whose info string is exactly `sh doctest` holds commands a test
# runs.  The blocks of one page run in order, in one bash with
# `set -euo pipefail`, in a scratch directory, with the build's scsikit
# first on PATH, $SK_BUILD naming the build directory (examples, bench
# programs) and $SK_SRC the source tree, SCSIKIT_CTL pointing at a
# control socket of the run's own (so `scsikit serve` and its clients need
# no --ctl), bounded by $SK_DOCTEST_TIMEOUT seconds (300).  A page starts
# its daemons in the background and stops them in a later block; whatever
# it leaves running is killed at the end.  Ports are the page's own (each
# page names its range).  A page may exit 77 to skip for the reasons the
# README allows (not root, no /dev/fuse, no loop device).  A page names the
# tools it runs in a comment `<!-- doctest-needs: CMD ... -->`; each must
# be declared in scripts/deps.list (checked with sk_need before it runs).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
sk_need setsid

SRC=${SK_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SK_BUILD:-$(dirname "$SCSIKIT")}
LIMIT=${SK_DOCTEST_TIMEOUT:-300}

# extract PAGE OUT: the page's blocks as one script; prints the count.
extract() {
	awk -v page="$1" '
	/^```sh doctest$/ && !inb { inb = 1; n++; start = NR
		printf ": \"=== %s, block %d (line %d)\"\n", page, n, NR
		next }
	/^```[ \t]*$/ && inb { inb = 0; next }
	inb { print }
	END {
		if (inb) {
			printf "%s:%d: unterminated doctest block\n", page, start \
				> "/dev/stderr"
			exit 2
		}
		print n + 0 > "/dev/stderr"
	}' "$1" >"$2"
}

run_page() {
	local page=$1 name work script log n rc=0 pid i
	name=${page#"$SRC"/}
	work=$T/$(basename "$page" .md)
	mkdir -p "$work"
	script=$work.sh
	log=$work.log
	n=$(extract "$page" "$script.body" 2>&1) || fail "$name: $n"
	[ "$n" -gt 0 ] || fail "$name has no \`sh doctest\` block"
	# shellcheck disable=SC2046
	sk_need $(sed -n 's/^<!-- doctest-needs: \(.*\) -->$/\1/p' "$page")
	{
		echo 'set -euo pipefail'
		echo 'PS4="+ "'
		echo 'set -x'
		cat "$script.body"
	} >"$script"
	echo "== $name: $n block(s)"
	# Its own session, so every process the page starts can be found and
	# killed by its process group at the end.
	(
		cd "$work"
		export PATH="$(dirname "$SCSIKIT"):$PATH"
		export SK_BUILD="$BUILD" SK_SRC="$SRC"
		export SCSIKIT_CTL="$work/ctl.sock"
		exec setsid bash "$script"
	) >"$log" 2>&1 </dev/null &
	pid=$!
	for ((i = 0; i < LIMIT * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -9 -- "-$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		tail -n 40 "$log" >&2
		fail "$name: still running after $LIMIT s"
	fi
	wait "$pid" || rc=$?
	# Daemons the page forgot to stop (or left behind when it failed).
	kill -9 -- "-$pid" 2>/dev/null || true
	if [ "$rc" -eq 77 ]; then
		tail -n 5 "$log" >&2
		sk_skip "$name skipped itself"
	fi
	if [ "$rc" -ne 0 ]; then
		tail -n 60 "$log" >&2
		fail "$name: a command of the page failed (status $rc; the" \
			"last '+' line above is the one)"
	fi
	echo "   passed"
}

if [ $# -gt 0 ]; then
	for p in "$@"; do
		[ -f "$p" ] || fail "no page $p"
		run_page "$(cd "$(dirname "$p")" && pwd)/$(basename "$p")"
	done
else
	found=0
	while IFS= read -r p; do
		if grep -q '^```sh doctest$' "$p"; then
			run_page "$p"
			found=$((found + 1))
		fi
	done < <(find "$SRC/docs" -name '*.md' | sort)
	[ "$found" -gt 0 ] || fail "no docs page has a \`sh doctest\` block"
fi
