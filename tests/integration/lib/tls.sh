# TLS material for NBD TLS tests (sourced after common.sh and sk_init).
#   sk_tls_certs DIR   make with certtool: a CA, a server certificate for
#                      127.0.0.1/localhost and a client certificate signed by
#                      it, and a client certificate of another CA:
#                        DIR/server: ca-cert.pem server-cert.pem server-key.pem
#                        DIR/client: ca-cert.pem client-cert.pem client-key.pem
#                        DIR/rogue:  the same names, the client cert signed
#                                    by a CA the server does not trust
#                        DIR/anon:   ca-cert.pem only (no client cert)
#   sk_tls_psk FILE USER   add USER with a random key to FILE (psktool)
sk_need certtool psktool

_sk_ca() { # DIR NAME
	certtool --generate-privkey --outfile "$1/ca-key.pem" >/dev/null 2>&1
	printf 'cn = %s\nca\ncert_signing_key\nexpiration_days = 30\n' "$2" \
		>"$1/ca.info"
	certtool --generate-self-signed --load-privkey "$1/ca-key.pem" \
		--template "$1/ca.info" --outfile "$1/ca-cert.pem" \
		>/dev/null 2>&1 || fail "certtool: CA $2"
}

_sk_cert() { # CADIR OUTDIR NAME KIND(server|client) TEMPLATE-EXTRA
	certtool --generate-privkey --outfile "$2/$4-key.pem" >/dev/null 2>&1
	printf 'cn = %s\n%s\ntls_www_%s\nencryption_key\nsigning_key\nexpiration_days = 30\n' \
		"$3" "$5" "$4" >"$2/$4.info"
	certtool --generate-certificate --load-privkey "$2/$4-key.pem" \
		--load-ca-certificate "$1/ca-cert.pem" \
		--load-ca-privkey "$1/ca-key.pem" --template "$2/$4.info" \
		--outfile "$2/$4-cert.pem" >/dev/null 2>&1 ||
		fail "certtool: $4 certificate $3"
	rm -f "$2/$4.info"
}

sk_tls_certs() {
	local d=$1
	mkdir -p "$d/ca" "$d/ca2" "$d/server" "$d/client" "$d/rogue" "$d/anon"
	_sk_ca "$d/ca" "scsikit test CA"
	_sk_ca "$d/ca2" "another CA"
	_sk_cert "$d/ca" "$d/server" 127.0.0.1 server \
		"ip_address = 127.0.0.1
dns_name = localhost"
	_sk_cert "$d/ca" "$d/client" client client ""
	_sk_cert "$d/ca2" "$d/rogue" rogue client ""
	cp "$d/ca/ca-cert.pem" "$d/server/"
	cp "$d/ca/ca-cert.pem" "$d/client/"
	cp "$d/ca/ca-cert.pem" "$d/rogue/"
	cp "$d/ca/ca-cert.pem" "$d/anon/"
	chmod 600 "$d"/*/*-key.pem
}

sk_tls_psk() {
	psktool -u "$2" -p "$1" >/dev/null 2>&1 || fail "psktool -u $2"
	chmod 600 "$1"
}
