#!/usr/bin/env bash
# NBD TLS negotiation against a raw client (lib/nbdclient.py and python's
# ssl module): each case gets the protocol's answer (doc/proto.md, "TLS
# support") or a clean close, and the daemon keeps serving.
#   --nbd-tls off (NOTLS): STARTTLS -> NBD_REP_ERR_POLICY.
#   --nbd-tls require (FORCEDTLS): any option but STARTTLS -> ERR_TLS_REQD
#   (also one too long to store); EXPORT_NAME -> close; ABORT -> ACK, close;
#   STARTTLS with data -> ERR_INVALID; after TLS: STARTTLS -> ERR_INVALID,
#   options and I/O work; STARTTLS followed at once by the ClientHello
#   (pipelined) works; garbage or silence instead of a TLS handshake ->
#   close (silence: after --nbd-handshake-timeout).
# Ports: 26700-26724.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
. "$(dirname "$0")/lib/tls.sh"
sk_need python3 nbdinfo
export SK_LIB="$(cd "$(dirname "$0")/lib" && pwd)"
PORT=$(sk_port 26700 25)
sk_tls_certs "$T/pki"

cat >"$T/tlsclient.py" <<'PY'
import os, socket, ssl, struct, sys, time
sys.path.insert(0, os.environ["SK_LIB"])
from nbdclient import *
ACK, SERVER, INFO = 1, 2, 3
POLICY, INVALID, TLS_REQD = 0x80000002, 0x80000003, 0x80000005

def expect(s, o, data, want, what):
    opt(s, o, data)
    got = opt_reply(s)
    assert got[0] == o and got[1] == want, (what, hex(got[1]), got[2])

class TLS:
    """A TLS client over an NBD socket after STARTTLS (memory BIOs, so the
    ClientHello can go out together with the STARTTLS option)."""
    def __init__(self, s, ca, pipelined=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(ca)
        self.s, self.inc, self.out = s, ssl.MemoryBIO(), ssl.MemoryBIO()
        self.o = ctx.wrap_bio(self.inc, self.out, server_hostname="127.0.0.1")
        try:
            self.o.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = self.out.read()
        hdr = struct.pack(">QII", M_OPT, 5, 0)
        if pipelined:
            s.sendall(hdr + hello)
            o, t, d = opt_reply(s)
        else:
            s.sendall(hdr)
            o, t, d = opt_reply(s)
            s.sendall(hello)
        assert (o, t) == (5, ACK), ("STARTTLS", o, hex(t))
        while True:
            try:
                self.o.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._pump()
        self._flush()
    def _flush(self):
        d = self.out.read()
        if d:
            self.s.sendall(d)
    def _pump(self):
        self._flush()
        r = self.s.recv(65536)
        if not r:
            raise EOFError("closed during TLS")
        self.inc.write(r)
    def sendall(self, data):
        self.o.write(data)
        self._flush()
    def recv(self, n):
        while True:
            try:
                return self.o.read(n)
            except ssl.SSLWantReadError:
                self._pump()
            except ssl.SSLZeroReturnError:
                return b""

def main(mode, addr, ca):
    if mode == "off":
        s = conn(addr); greet(s)
        expect(s, 5, b"", POLICY, "STARTTLS, TLS off")
        expect(s, 5, b"x", INVALID, "STARTTLS with data, TLS off")
        go(s, b"d0")
        return
    # require
    s = conn(addr); greet(s)
    gob = struct.pack(">I", 2) + b"d0" + struct.pack(">H", 0)
    for o, d, what in ((3, b"", "LIST"), (7, gob, "GO"), (6, gob, "INFO"),
                       (8, b"", "STRUCTURED_REPLY"), (10, b"", "LIST_META"),
                       (0x1234, b"zz", "unknown"),
                       (7, b"\0" * (1 << 20), "GO, 1 MiB")):
        expect(s, o, d, TLS_REQD, what + " before TLS")
    expect(s, 5, b"junk", INVALID, "STARTTLS with data")
    opt(s, 1, b"d0")                     # EXPORT_NAME: cannot be answered
    assert closed(s), "EXPORT_NAME before TLS did not close"

    s = conn(addr); greet(s)
    opt(s, 2)
    assert opt_reply(s)[:2] == (2, ACK), "ABORT before TLS"
    assert closed(s), "ABORT did not close"

    for pipelined in (False, True):
        s = conn(addr); greet(s)
        t = TLS(s, ca, pipelined)
        expect(t, 5, b"", INVALID, "second STARTTLS")
        opt(t, 3)
        got = []
        while True:
            o, ty, d = opt_reply(t)
            got.append(ty)
            if ty != SERVER:
                break
        assert got == [SERVER, ACK], ("LIST over TLS", got)
        size, flags = go(t, b"d0")
        assert size == 16 << 20, size
        data = os.urandom(65536)
        req(t, 1, 4096, len(data), cookie=7, payload=data)   # WRITE
        assert reply(t)[:2] == (0, 7), "WRITE over TLS"
        req(t, 0, 4096, len(data), cookie=8)                # READ
        e, c, _ = reply(t)
        assert (e, c) == (0, 8), "READ over TLS"
        assert rd(t, len(data)) == data, "READ data over TLS"
        req(t, 2, cookie=9)                                 # DISC

    s = conn(addr); greet(s)
    opt(s, 5)
    assert opt_reply(s)[:2] == (5, ACK)
    s.sendall(b"this is not a TLS ClientHello\r\n" * 8)
    assert closed(s), "garbage instead of TLS did not close"

    s = conn(addr); greet(s)
    opt(s, 5)
    assert opt_reply(s)[:2] == (5, ACK)
    t0 = time.time()
    assert closed(s, 15), "silent client after STARTTLS not closed"
    assert time.time() - t0 < 10, "closed only after %.1f s" % (time.time() - t0)

main(*sys.argv[1:])
PY

sk_serve --iscsi none --xdisk none --nbd "127.0.0.1:$PORT" --disk d0=mem:16M
sk_wait_tcp "$PORT"
python3 "$T/tlsclient.py" off "127.0.0.1:$PORT" "$T/pki/ca/ca-cert.pem" ||
	fail "TLS off"
sk_stop

sk_serve --iscsi none --xdisk none --nbd "127.0.0.1:$PORT" --disk d0=mem:16M \
	--nbd-tls require --nbd-tls-certificates "$T/pki/server" \
	--nbd-handshake-timeout 2000
sk_wait_tcp "$PORT"
python3 "$T/tlsclient.py" require "127.0.0.1:$PORT" "$T/pki/ca/ca-cert.pem" ||
	fail "TLS require"
timeout 30 nbdinfo "nbds://127.0.0.1:$PORT/d0?tls-certificates=$T/pki/client" \
	>/dev/null || fail "daemon stopped serving after the bad clients"
sk_stop
