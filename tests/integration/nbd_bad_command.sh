#!/usr/bin/env bash
# Unknown commands, unknown or misplaced command flags, FLUSH with a range,
# BLOCK_STATUS without a context and writes to a read-only export are each
# answered with the protocol's error (EINVAL / EPERM, as error chunks with
# a message under structured replies) and the connection stays in step.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
export SK_LIB="$(cd "$(dirname "$0")/lib" && pwd)"
PORT=$(sk_port 22160 10)


sk_serve --iscsi none --xdisk none --vscsi none --nbd "127.0.0.1:$PORT" \
	--disk d=mem:16M --disk ro=mem:1M,ro
sk_wait_tcp "$PORT"

python3 - "127.0.0.1:$PORT" <<'PY' || fail "bad command handling"
import os, struct, sys
sys.path.insert(0, os.environ["SK_LIB"])
from nbdclient import *
addr = sys.argv[1]
EINVAL, EPERM = 22, 1
READ, WRITE, DISC, FLUSH, TRIM, CACHE, WZ, BS = range(8)
for structured in (False, True):
    s, size, flags = open_export(addr, b"d", structured)
    def check(typ, off=0, n=0, fl=0, payload=b"", want=EINVAL, what=""):
        req(s, typ, off, n, fl, cookie=0x77, payload=payload)
        e, c, d = reply(s)
        assert c == 0x77 and e == want, (what, structured, e, c)
        if structured and want:
            # an error chunk carries a message for humans
            assert struct.unpack(">H", d[4:6])[0] > 0, d
    check(9, what="unknown command 9")
    check(0x7FFF, what="unknown command 0x7fff")
    check(READ, 0, 512, fl=0x40, what="unknown flag bit 6")
    check(READ, 0, 512, fl=0x8000, what="unknown flag bit 15")
    check(WRITE, 0, 512, fl=0x2, payload=b"\0" * 512, what="NO_HOLE on WRITE")
    check(READ, 0, 512, fl=0x8, what="REQ_ONE on READ")
    check(FLUSH, 512, 0, what="FLUSH with an offset")
    check(FLUSH, 0, 512, what="FLUSH with a length")
    if not structured:
        check(READ, 0, 512, fl=0x4, what="DF without structured replies")
    check(BS, 0, 4096, what="BLOCK_STATUS without a metadata context")
    # The connection is still in step: a write and a read.
    req(s, WRITE, 4096, 512, cookie=1, payload=b"\xa5" * 512)
    assert reply(s)[:2] == (0, 1)
    req(s, READ, 4096, 512, cookie=2)
    e, c, d = reply(s)
    assert (e, c) == (0, 2)
    data = d[8:] if structured else rd(s, 512)
    assert data == b"\xa5" * 512
    req(s, DISC)
    assert closed(s)

# Writes on a read-only export: EPERM; trim/zero/flush are not offered.
s, size, flags = open_export(addr, b"ro")
assert flags & 2, "read-only flag"
req(s, WRITE, 0, 512, cookie=3, payload=b"x" * 512)
assert reply(s)[:2] == (EPERM, 3)
for typ in (TRIM, WZ, FLUSH):
    req(s, typ, 0, 512 if typ != FLUSH else 0, cookie=4)
    assert reply(s)[:2] == (EINVAL, 4), typ
req(s, READ, 0, 512, cookie=5)
assert reply(s)[:2] == (0, 5)
assert rd(s, 512) == bytes(512)
PY
sk_stop
echo "nbd_bad_command: OK"
