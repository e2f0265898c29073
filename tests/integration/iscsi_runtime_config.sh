#!/usr/bin/env bash
# The iSCSI target's ACLs, CHAP (one-way and mutual), LUN maps and portals
# changed on a running daemon with `scsikit iscsi ...`, checked with
# libiscsi's iscsi-ls and iscsi-inq: each change applies to the logins that
# follow it (an initiator taken off the ACL cannot log in, the new CHAP
# secret logs in and the old or a wrong one does not, an unmapped LUN is
# gone from REPORT LUNS), and the secret never shows in the daemon's log.
# Ports: 26500-26549.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
. "$(dirname "$0")/lib/iscsi_cfg.sh"
PORT=$(sk_port 26500 25)
PORT2=$(sk_port 26525 25)

sk_serve --iscsi "127.0.0.1:$PORT" --nbd none --xdisk none \
	--disk d0=mem:16M --disk d1=mem:8M --disk d2=mem:4M
sk_wait_tcp "$PORT"
U="127.0.0.1:$PORT"

# --- ACL ----------------------------------------------------------------------
inq -i "$INI_B" "iscsi://$U/$IQN:d0/0" || fail "open target refused beta"
sk_iscsi acl add d0 "$INI_A" || fail "acl add"
inq -i "$INI_A" "iscsi://$U/$IQN:d0/0" || fail "ACL: alpha refused"
if inq -i "$INI_B" "iscsi://$U/$IQN:d0/0"; then
	fail "ACL: beta logged in although not on d0's ACL"
fi
# SendTargets hides what an initiator may not log in to.
out=$(timeout 20 iscsi-ls -i "$INI_B" "iscsi://$U") || fail "iscsi-ls beta"
grep -q "Target:$IQN:d0 " <<<"$out" && fail "iscsi-ls shows d0 to beta: $out"
grep -q "Target:$IQN:d1 " <<<"$out" || fail "iscsi-ls: d1 missing: $out"
sk_iscsi acl add d0 "$INI_B" || fail "acl add beta"
inq -i "$INI_B" "iscsi://$U/$IQN:d0/0" || fail "ACL: beta refused once added"
sk_iscsi acl remove d0 "$INI_A" || fail "acl remove"
if inq -i "$INI_A" "iscsi://$U/$IQN:d0/0"; then
	fail "ACL: alpha logged in after its removal"
fi
sk_iscsi acl remove d0 "$INI_A" 2>/dev/null && fail "removed alpha twice"
sk_iscsi acl remove d0 "$INI_B" || fail "acl remove beta"
inq -i "$INI_A" "iscsi://$U/$IQN:d0/0" ||
	fail "ACL: empty ACL should let everyone in"
# '*' applies to every target.
sk_iscsi acl add '*' "$INI_A" || fail "acl add *"
if inq -i "$INI_B" "iscsi://$U/$IQN:d1/0"; then
	fail "ACL '*': beta logged in to d1"
fi
sk_iscsi acl remove '*' "$INI_A" || fail "acl remove *"

# --- CHAP ---------------------------------------------------------------------
echo alicesecret01 >"$T/s1"
printf 'alicesecret02\n' >"$T/s2"
sk_iscsi chap set d0 alice --secret-file "$T/s1" || fail "chap set"
if inq "iscsi://$U/$IQN:d0/0"; then
	fail "CHAP: login without credentials accepted"
fi
inq "iscsi://alice%alicesecret01@$U/$IQN:d0/0" || fail "CHAP: right secret"
if inq "iscsi://alice%wrongsecret99@$U/$IQN:d0/0"; then
	fail "CHAP: wrong secret accepted"
fi
# d1 has no CHAP: unaffected.
inq "iscsi://$U/$IQN:d1/0" || fail "CHAP on d0 closed d1"
# A new secret: the old one stops working for new logins.
sk_iscsi chap set d0 alice --secret-file - <"$T/s2" || fail "chap set stdin"
inq "iscsi://alice%alicesecret02@$U/$IQN:d0/0" || fail "CHAP: new secret"
if inq "iscsi://alice%alicesecret01@$U/$IQN:d0/0"; then
	fail "CHAP: old secret still accepted"
fi
# Mutual CHAP: the target proves itself too.
echo targetsecret03 >"$T/s3"
sk_iscsi mutual-chap set d0 tgt0 --secret-file "$T/s3" || fail "mutual set"
M="?target_user=tgt0&target_password=targetsecret03"
inq "iscsi://alice%alicesecret02@$U/$IQN:d0/0$M" || fail "mutual CHAP login"
if inq "iscsi://alice%alicesecret02@$U/$IQN:d0/0?target_user=tgt0&target_password=badsecret0004"; then
	fail "mutual CHAP: initiator accepted a wrong target secret"
fi
sk_iscsi mutual-chap clear d0 || fail "mutual clear"
sk_iscsi chap clear d0 || fail "chap clear"
inq "iscsi://$U/$IQN:d0/0" || fail "CHAP cleared but login refused"
# Secrets stay off the command line and out of the log.
sk_iscsi chap set d0 alice 2>/dev/null && fail "chap set without --secret-file"
sk_iscsi chap set d0 alice --secret-file "$T/missing" 2>/dev/null &&
	fail "chap set with a missing secret file"
printf 'has space here\n' >"$T/bad"
sk_iscsi chap set d0 alice --secret-file "$T/bad" 2>/dev/null &&
	fail "a secret with blanks was accepted"
grep -q "alicesecret\|targetsecret" "$T/serve.log" &&
	fail "a secret is in the daemon's log"

# --- LUN maps -------------------------------------------------------------------
sk_iscsi lun map d0 3 d2 || fail "lun map"
out=$(timeout 20 iscsi-ls -s "iscsi://$U") || fail "iscsi-ls -s"
grep -q "Lun:3 *Type:DIRECT_ACCESS (Size:3M)" <<<"$out" ||
	fail "mapped LUN 3 missing: $out"
grep -q "Target:$IQN:d2 " <<<"$out" && fail "d2 still a target: $out"
inq "iscsi://$U/$IQN:d0/3" || fail "iscsi-inq LUN 3"
sk_iscsi lun map d0 3 d1 2>/dev/null && fail "LUN 3 mapped twice"
sk_iscsi lun map d0 0 d1 2>/dev/null && fail "LUN 0 mapped"
sk_iscsi lun map d1 1 d2 2>/dev/null && fail "d2 mapped in two targets"
sk_iscsi lun unmap d0 3 || fail "lun unmap"
out=$(timeout 20 iscsi-ls -s "iscsi://$U") || fail "iscsi-ls -s after unmap"
grep -q "Lun:3 " <<<"$out" && fail "unmapped LUN still reported: $out"
grep -q "Target:$IQN:d2 " <<<"$out" ||
	fail "unmapped disk is not a target of its own again: $out"
if inq "iscsi://$U/$IQN:d0/3"; then
	fail "unmapped LUN still answers INQUIRY"
fi
sk_iscsi lun unmap d0 3 2>/dev/null && fail "unmapped LUN 3 twice"

# --- portals --------------------------------------------------------------------
sk_iscsi portal add "127.0.0.1:$PORT2" || fail "portal add"
inq "iscsi://127.0.0.1:$PORT2/$IQN:d0/0" || fail "login on the new portal"
sk_iscsi portal remove "$U" || fail "portal remove"
if inq "iscsi://$U/$IQN:d0/0"; then
	fail "login on a removed portal"
fi
sk_iscsi portal remove "127.0.0.1:$PORT2" 2>/dev/null &&
	fail "the last portal was removed"
sk_iscsi portal add "127.0.0.1:$PORT2" 2>/dev/null && fail "portal added twice"

# --- bad requests get an error, not a crash --------------------------------------
for req in "acl add" "acl add d0" "acl frob d0 x" "lun map d0 x d1" \
	"lun map d0 300 d1" "lun map nodisk 1 d1" "chap set d0 u" \
	"portal add" "acl add d0 a#b"; do
	# shellcheck disable=SC2086
	sk_ctl iscsi $req >/dev/null 2>&1 && fail "'iscsi $req' accepted"
done
sk_ctl version >/dev/null || fail "daemon gone after bad requests"
sk_stop
