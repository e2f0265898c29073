#!/usr/bin/env bash
# Out-of-range and misaligned requests: reads, trims and caches past the end
# get EINVAL, writes and write-zeroes past the end ENOSPC (the protocol's
# choices), offset+length wrap-around and misalignment EINVAL; refused write
# payloads are skipped so the stream stays in step.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
export SK_LIB="$(cd "$(dirname "$0")/lib" && pwd)"
PORT=$(sk_port 22170 10)


sk_serve --iscsi none --xdisk none --vscsi none --nbd "127.0.0.1:$PORT" \
	--disk d=mem:16M --disk k=mem:16M,bs=4096
sk_wait_tcp "$PORT"

python3 - "127.0.0.1:$PORT" <<'PY' || fail "bad range handling"
import os, struct, sys
sys.path.insert(0, os.environ["SK_LIB"])
from nbdclient import *
addr = sys.argv[1]
EINVAL, ENOSPC = 22, 28
READ, WRITE, DISC, FLUSH, TRIM, CACHE, WZ, BS = range(8)
SIZE = 16 << 20
for structured in (False, True):
    s, size, flags = open_export(addr, b"d", structured)
    assert size == SIZE
    def check(typ, off, n, want, payload=b"", fl=0):
        req(s, typ, off, n, fl, cookie=off & 0xffff, payload=payload)
        e, c, d = reply(s)
        assert (e, c) == (want, off & 0xffff), (typ, off, n, e, structured)
    check(READ, SIZE - 512, 1024, EINVAL)
    check(READ, SIZE, 512, EINVAL)
    check(READ, (1 << 64) - 512, 1024, EINVAL)          # offset + length wraps
    check(WRITE, SIZE - 512, 1024, ENOSPC, payload=b"w" * 1024)
    check(WRITE, 1 << 40, 512, ENOSPC, payload=b"w" * 512)
    check(WZ, SIZE - 4096, 8192, ENOSPC)
    check(TRIM, SIZE, 4096, EINVAL)
    check(CACHE, SIZE - 512, 4096, EINVAL)
    check(READ, 100, 512, EINVAL)                       # misaligned offset
    check(READ, 512, 100, EINVAL)                       # misaligned length
    check(WRITE, 1, 512, EINVAL, payload=b"m" * 512)    # payload skipped
    # Still in step after the refused payloads.
    req(s, READ, 0, 512, cookie=99)
    e, c, d = reply(s)
    assert (e, c) == (0, 99), (e, c)
    if not structured:
        rd(s, 512)
    req(s, DISC)
    assert closed(s)

# Structured: the error of a bad READ is an error chunk, never data.
s, _, _ = open_export(addr, b"d", True)
req(s, READ, SIZE, 4096, cookie=5)
m, fl, t, c, n = struct.unpack(">IHHQI", rd(s, 20))
assert m == M_STRUCT and t == 0x8001 and fl & 1 and c == 5, (hex(t), fl)
body = rd(s, n)
assert struct.unpack(">I", body[:4])[0] == EINVAL

# A 4096-byte-block disk refuses 512-byte alignment.
s, size, _ = open_export(addr, b"k")
req(s, READ, 512, 4096, cookie=6)
assert reply(s)[:2] == (EINVAL, 6)
req(s, WRITE, 4096, 512, cookie=7, payload=b"z" * 512)
assert reply(s)[:2] == (EINVAL, 7)
req(s, READ, 4096, 4096, cookie=8)
assert reply(s)[:2] == (0, 8)
rd(s, 4096)
PY
sk_stop
echo "nbd_bad_range: OK"
