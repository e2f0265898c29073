#!/usr/bin/env bash
# iscsi_conformance.sh on a LUN of another kind: file:@T@/cu.img,size=64M.
export SK_CU_DISK='file:@T@/cu.img,size=64M' SK_CU_KIND=file \
	SK_CU_PORT_BASE=27100
exec bash "$(dirname "$0")/iscsi_conformance.sh"
