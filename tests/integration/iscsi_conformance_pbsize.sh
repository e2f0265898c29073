#!/usr/bin/env bash
# iscsi_conformance.sh on a LUN of another kind: mem:64M,pbsize=4096.
export SK_CU_DISK='mem:64M,pbsize=4096' SK_CU_KIND=pbsize \
	SK_CU_PORT_BASE=27300
exec bash "$(dirname "$0")/iscsi_conformance.sh"
