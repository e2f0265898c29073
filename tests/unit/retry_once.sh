#!/bin/sh
# Run a unit test program; if it fails, run it once more before the
# failure counts.  Only for tests that measure behaviour against state the
# test does not own (the kernel's page cache: test_file_nowait); each run's
# output stays in the log, so a retry is visible.
"$@" && exit 0
echo "retrying once: $1"
exec "$@"
