#!/usr/bin/env bash
# iscsi_conformance.sh on an rbd LUN: a 64 MiB image of a throwaway Ceph
# cluster (lib/ceph.sh), which this script starts and stops around it.
set -euo pipefail
here=$(dirname "$0")
. "$here/lib/common.sh"
. "$here/lib/ceph.sh"
sk_init
sk_trap 'ceph_down "$T/ceph"'
ceph_up "$T/ceph"
ceph_rbd create --size 64M cu
SK_CU_DISK="rbd:rbd/cu,conf=$CEPH_CONF" SK_CU_KIND=rbd \
	SK_CU_PORT_BASE=24100 bash "$here/iscsi_conformance.sh"
