#!/usr/bin/env bash
# iscsi_conformance.sh on a LUN of another kind: a removable medium with
# 4 KiB physical blocks (mem:64M,removable,pbsize=4096).
export SK_CU_DISK='mem:64M,removable,pbsize=4096' \
	SK_CU_KIND=removable-pbsize SK_CU_PORT_BASE=27350
exec bash "$(dirname "$0")/iscsi_conformance.sh"
