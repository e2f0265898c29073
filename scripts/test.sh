#!/usr/bin/env bash
# Build scsikit and run every test (cmocka unit tests and integration tests
# that drive the real daemon with real clients) through CTest.
#   SK_SANITIZE=1 scripts/test.sh   the same suite built with ASan+UBSan
# Extra arguments go to ctest (e.g. -R nbd, -L unit).  Without them, the
# normal pass also builds the libFuzzer harnesses with clang (build-fuzz,
# -DSK_FUZZ=ON) and runs each for a few seconds from its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
# Everything the tests call is present, or nothing runs (scripts/deps.list).
scripts/deps.sh check test
if [ "${SK_SANITIZE:-0}" = 1 ]; then
	dir=build-asan
	flags=(-DSK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
	dir=build
	flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
fi
cmake -S . -B "$dir" -DSK_WERROR=ON -DSK_TESTS=ON "${flags[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)" >/dev/null
ctest --test-dir "$dir" --output-on-failure -j2 "$@"
if [ "${SK_SANITIZE:-0}" != 1 ] && [ $# -eq 0 ]; then
	CC=clang cmake -S . -B build-fuzz -DSK_FUZZ=ON \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build-fuzz -j"$(nproc)" >/dev/null
	ctest --test-dir build-fuzz --output-on-failure -L fuzz
fi
