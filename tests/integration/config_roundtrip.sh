#!/usr/bin/env bash
# `scsikit config save` round trip: a daemon configured at run time (disks
# added and removed, LUN maps, ACLs, CHAP, mutual CHAP, portals, trace) is
# saved, stopped, and a new daemon started with `serve --config` on the
# saved file; both `config save` outputs must be the same text, the file
# must be mode 0600, and the restored daemon must behave alike (the ACL and
# CHAP refuse and accept the same logins, the LUN map is the same).  Other
# front ends' options (here NBD with TLS) are saved as given.
# Ports: 26550-26599, 26725-26749.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
. "$(dirname "$0")/lib/iscsi_cfg.sh"
PORT=$(sk_port 26550 25)
PORT2=$(sk_port 26575 25)
NPORT=$(sk_port 26725 25)
. "$(dirname "$0")/lib/tls.sh"
sk_need nbdinfo
sk_tls_psk "$T/nbd.psk" alice

truncate -s 8M "$T/f1.img"
sk_serve --iscsi "127.0.0.1:$PORT" --nbd "127.0.0.1:$NPORT" --xdisk none \
	--nbd-tls require --nbd-tls-psk-file "$T/nbd.psk" \
	--disk d0=mem:16M --iscsi-target d0:$IQN:named --iscsi-queue-depth 64
sk_wait_tcp "$PORT"
sk_ctl disk add d1 "file:$T/f1.img" || fail "disk add d1"
sk_ctl disk add d2 mem:4M || fail "disk add d2"
sk_ctl disk add gone mem:1M || fail "disk add gone"
sk_ctl disk remove gone || fail "disk remove gone"
sk_iscsi lun map d0 2 d2 || fail "lun map"
sk_iscsi acl add d0 "$INI_A" || fail "acl add"
echo alicesecret01 >"$T/s1"
echo targetsecret02 >"$T/s2"
sk_iscsi chap set d0 alice --secret-file "$T/s1" || fail "chap set"
sk_iscsi mutual-chap set d0 tgt0 --secret-file "$T/s2" || fail "mutual set"
sk_iscsi acl add d1 "$INI_B" || fail "acl add d1"
sk_iscsi portal add "127.0.0.1:$PORT2" || fail "portal add"
sk_ctl trace pdu >/dev/null || fail "trace"

# check: the behaviour both daemons must show.
check() {
	local C="alice%alicesecret01@127.0.0.1:$PORT2"
	local M="?target_user=tgt0&target_password=targetsecret02"
	inq -i "$INI_A" "iscsi://$C/$IQN:named/0$M" ||
		fail "$1: alpha with CHAP refused"
	if inq -i "$INI_B" "iscsi://$C/$IQN:named/0$M"; then
		fail "$1: beta passed d0's ACL"
	fi
	if inq -i "$INI_A" "iscsi://alice%wrongsecret9@127.0.0.1:$PORT2/$IQN:named/0"; then
		fail "$1: wrong CHAP secret accepted"
	fi
	inq -i "$INI_A" "iscsi://$C/$IQN:named/2$M" || fail "$1: LUN 2 missing"
	inq -i "$INI_B" "iscsi://127.0.0.1:$PORT/$IQN:d1/0" ||
		fail "$1: beta refused on d1"
	if inq -i "$INI_A" "iscsi://127.0.0.1:$PORT/$IQN:d1/0"; then
		fail "$1: alpha passed d1's ACL"
	fi
	local out
	out=$(timeout 20 iscsi-ls -i "$INI_B" -s "iscsi://127.0.0.1:$PORT") ||
		fail "$1: iscsi-ls"
	grep -q "Target:$IQN:d1 " <<<"$out" || fail "$1: d1 not listed: $out"
	grep -q "Target:$IQN:d2 \|Target:$IQN:gone " <<<"$out" &&
		fail "$1: d2 or gone is a target: $out"
	timeout 30 nbdinfo "nbds://alice@127.0.0.1:$NPORT/d1?tls-psk-file=$T/nbd.psk" |
		grep -q "export-size: 8388608" || fail "$1: NBD over TLS"
	if timeout 30 nbdinfo "nbd://127.0.0.1:$NPORT/d1" >/dev/null 2>&1; then
		fail "$1: NBD served without TLS"
	fi
	return 0
}
check "configured at run time"

"$SCSIKIT" config --socket "$T/ctl.sock" save "$T/saved.conf" ||
	fail "config save FILE"
[ "$(stat -c %a "$T/saved.conf")" = 600 ] || fail "saved file is not mode 0600"
"$SCSIKIT" config --socket "$T/ctl.sock" save >"$T/a.conf" ||
	fail "config save to stdout"
cmp "$T/saved.conf" "$T/a.conf" || fail "file and stdout differ"
grep -q "^iscsi-chap d0:alice:alicesecret01$" "$T/a.conf" ||
	fail "CHAP not saved: $(cat "$T/a.conf")"
grep -q "^disk gone=" "$T/a.conf" && fail "a removed disk was saved"
sk_stop

sk_serve --config "$T/saved.conf"
sk_wait_tcp "$PORT"
sk_wait_tcp "$PORT2"
"$SCSIKIT" config --socket "$T/ctl.sock" save >"$T/b.conf" ||
	fail "config save of the restored daemon"
diff -u "$T/a.conf" "$T/b.conf" || fail "restored daemon's config differs"
check "restored"
sk_stop
