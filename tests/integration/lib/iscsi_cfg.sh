# Helpers for tests of the iSCSI target's run-time settings (sourced after
# common.sh and sk_init).
#   sk_iscsi ARGS...   `scsikit iscsi --socket $T/ctl.sock ARGS...`
#   inq ARGS...        iscsi-inq ARGS succeeded (bounded to 20 s)
#   IQN                the daemon's default target-name prefix (no colon)
#   INI_A, INI_B       two initiator names for ACL checks
sk_need iscsi-ls iscsi-inq
IQN=iqn.2026-11.org.scsikit
INI_A=iqn.2026-12.test:alpha
INI_B=iqn.2026-12.test:beta
sk_iscsi() { "$SCSIKIT" iscsi --socket "$T/ctl.sock" "$@"; }
inq() { timeout 20 iscsi-inq "$@" >/dev/null 2>&1; }
