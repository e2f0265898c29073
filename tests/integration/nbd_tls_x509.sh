#!/usr/bin/env bash
# NBD over TLS with X.509 certificates made here with certtool (a CA, a
# server certificate for 127.0.0.1, client certificates), driven by nbdinfo
# and nbdcopy with nbds://HOST:PORT/EXPORT?tls-certificates=DIR:
#   the client verifies the server against the CA; data copied in and out
#   is intact; with --nbd-tls-verify-peer yes a client certificate of the
#   CA is required: one from another CA, or none, fails the handshake.
# Ports: 26675-26699.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
. "$(dirname "$0")/lib/tls.sh"
sk_need nbdinfo nbdcopy cmp
PORT=$(sk_port 26675 25)
sk_tls_certs "$T/pki"

sk_serve --iscsi none --xdisk none --nbd "127.0.0.1:$PORT" \
	--nbd-tls require --nbd-tls-certificates "$T/pki/server" \
	--disk d0=mem:64M
sk_wait_tcp "$PORT"
U="nbds://127.0.0.1:$PORT/d0?tls-certificates=$T/pki/client"
out=$(timeout 30 nbdinfo "$U") || fail "nbdinfo over TLS (X.509)"
grep -q "with TLS" <<<"$out" || fail "nbdinfo: no TLS: $out"
# Without a client certificate, when the server does not ask for one.
timeout 30 nbdinfo "nbds://127.0.0.1:$PORT/d0?tls-certificates=$T/pki/anon" \
	>/dev/null || fail "client without certificate refused (verify-peer off)"
# The client checks the server: a CA that did not sign it fails.
mkdir "$T/wrongca" && cp "$T/pki/ca2/ca-cert.pem" "$T/wrongca/"
if timeout 30 nbdinfo "nbds://127.0.0.1:$PORT/d0?tls-certificates=$T/wrongca" \
	>/dev/null 2>&1; then
	fail "client accepted a server its CA did not sign"
fi
head -c 40M /dev/urandom >"$T/in.img"
timeout 120 nbdcopy "$T/in.img" "$U" || fail "nbdcopy in"
timeout 120 nbdcopy "$U" "$T/out.img" || fail "nbdcopy out"
cmp "$T/in.img" <(head -c 40M "$T/out.img") || fail "data differs over TLS"
sk_stop

sk_serve --iscsi none --xdisk none --nbd "127.0.0.1:$PORT" \
	--nbd-tls require --nbd-tls-certificates "$T/pki/server" \
	--nbd-tls-verify-peer yes --disk d0=mem:16M
sk_wait_tcp "$PORT"
timeout 30 nbdinfo "$U" | grep -q "with TLS" || fail "verify-peer: good client"
if timeout 30 nbdinfo "nbds://127.0.0.1:$PORT/d0?tls-certificates=$T/pki/rogue" \
	>/dev/null 2>&1; then
	fail "verify-peer: a client certificate of another CA was accepted"
fi
if timeout 30 nbdinfo "nbds://127.0.0.1:$PORT/d0?tls-certificates=$T/pki/anon" \
	>/dev/null 2>&1; then
	fail "verify-peer: a client without certificate was accepted"
fi
timeout 30 nbdcopy "$U" "$T/out3.img" || fail "verify-peer: copy after bad clients"
sk_stop
