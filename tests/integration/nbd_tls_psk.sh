#!/usr/bin/env bash
# NBD over TLS with a pre-shared key (psktool's file format), as nbdkit and
# qemu-nbd offer it, driven by nbdinfo and nbdcopy with
# nbds://USER@HOST:PORT/EXPORT?tls-psk-file=FILE:
#   --nbd-tls require: TLS clients get the export and their data back
#   intact (copy in, copy out, cmp; flush at the end), a client without TLS
#   gets nothing, a wrong key or an unknown user fails the handshake, and
#   the daemon keeps serving;
#   --nbd-tls on: both TLS and plain clients are served.
# Ports: 26600-26649 are the docs pages'; this test uses 26650-26674.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
. "$(dirname "$0")/lib/tls.sh"
sk_need nbdinfo nbdcopy cmp
PORT=$(sk_port 26650 25)

sk_tls_psk "$T/keys.psk" alice
sk_tls_psk "$T/other.psk" alice		# same user, another key
sk_tls_psk "$T/other.psk" mallory	# a user the server does not know
sk_serve --iscsi none --xdisk none --nbd "127.0.0.1:$PORT" \
	--nbd-tls require --nbd-tls-psk-file "$T/keys.psk" --disk d0=mem:64M
sk_wait_tcp "$PORT"
U="nbds://alice@127.0.0.1:$PORT/d0?tls-psk-file=$T/keys.psk"

out=$(timeout 30 nbdinfo "$U") || fail "nbdinfo over TLS"
grep -q "with TLS" <<<"$out" || fail "nbdinfo: no TLS: $out"
grep -q "export-size: 67108864" <<<"$out" || fail "nbdinfo size: $out"

head -c 48M /dev/urandom >"$T/in.img"
timeout 120 nbdcopy "$T/in.img" "$U" || fail "nbdcopy into the export"
timeout 120 nbdcopy "$U" "$T/out.img" || fail "nbdcopy out of the export"
cmp "$T/in.img" <(head -c 48M "$T/out.img") || fail "data differs over TLS"
# Parallel connections and requests (nbdcopy's default is 4 and 64).
timeout 120 nbdcopy --connections=4 --requests=64 "$U" "$T/out2.img" ||
	fail "nbdcopy with 4 connections"
cmp "$T/out.img" "$T/out2.img" || fail "parallel copy differs"

if timeout 30 nbdinfo "nbd://127.0.0.1:$PORT/d0" >/dev/null 2>&1; then
	fail "a client without TLS was served under --nbd-tls require"
fi
if timeout 30 nbdinfo "nbds://alice@127.0.0.1:$PORT/d0?tls-psk-file=$T/other.psk" \
	>/dev/null 2>&1; then
	fail "a wrong PSK was accepted"
fi
if timeout 30 nbdinfo "nbds://mallory@127.0.0.1:$PORT/d0?tls-psk-file=$T/other.psk" \
	>/dev/null 2>&1; then
	fail "an unknown PSK identity was accepted"
fi
timeout 30 nbdinfo "$U" >/dev/null || fail "server stopped serving after bad clients"
grep -q "$(cut -d: -f2 "$T/keys.psk")" "$T/serve.log" && fail "the key is in the log"
sk_stop

# --nbd-tls on: TLS optional.
sk_serve --iscsi none --xdisk none --nbd "127.0.0.1:$PORT" \
	--nbd-tls on --nbd-tls-psk-file "$T/keys.psk" --disk d0=mem:16M
sk_wait_tcp "$PORT"
timeout 30 nbdinfo "$U" | grep -q "with TLS" || fail "on: TLS client"
timeout 30 nbdinfo "nbd://127.0.0.1:$PORT/d0" | grep -q "without TLS" ||
	fail "on: plain client"
sk_stop

# Bad settings are refused at start-up with one line.
for bad in "--nbd-tls maybe" "--nbd-tls on" \
	"--nbd-tls on --nbd-tls-psk-file $T/missing.psk"; do
	# shellcheck disable=SC2086
	if "$SCSIKIT" serve --ctl "$T/bad.sock" --iscsi none --xdisk none \
		--nbd "127.0.0.1:$PORT" $bad >"$T/bad.log" 2>&1; then
		fail "serve $bad started"
	fi
	grep -q "tls\|TLS" "$T/bad.log" || fail "serve $bad: no message: $(cat "$T/bad.log")"
done
