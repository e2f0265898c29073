#!/usr/bin/env bash
# ceph-down.sh DIR: stop a cluster started by ceph-up.sh DIR and remove DIR.
set -euo pipefail
. "$(dirname "$0")/../integration/lib/ceph.sh"
ceph_down "${1:?usage: ceph-down.sh DIR}"
