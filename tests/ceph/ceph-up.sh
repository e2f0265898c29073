#!/usr/bin/env bash
# ceph-up.sh DIR: start the tests' throwaway one-node Ceph cluster
# (tests/integration/lib/ceph.sh) outside a test, for benchmarks and by
# hand; prints its ceph.conf.  Stop it with ceph-down.sh DIR.
set -euo pipefail
. "$(dirname "$0")/../integration/lib/ceph.sh"
# This script exits at once: the cluster lives until ceph-down.sh.
CEPH_OWNER_PID=none ceph_up "${1:?usage: ceph-up.sh DIR}"
echo "$CEPH_CONF"
