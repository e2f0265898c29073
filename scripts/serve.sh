#!/usr/bin/env bash
# Build scsikit and run the daemon on its embedded defaults: one 1 GiB
# in-memory disk (disk0) exported on every front end, on loopback only.
# Extra arguments go to `scsikit serve` (see `scsikit serve --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSK_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec build/scsikit serve "$@"
