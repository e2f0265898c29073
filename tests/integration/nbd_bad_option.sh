#!/usr/bin/env bash
# Bad input during option haggling: unknown options, STARTTLS (no TLS),
# extended headers, options with inconsistent lengths, unknown and over-long
# export names, a 1 MiB option, EXPORT_NAME failures, ABORT and an option
# flood each get the protocol's answer (NBD_REP_ERR_*) or a clean close.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
export SK_LIB="$(cd "$(dirname "$0")/lib" && pwd)"
PORT=$(sk_port 22150 10)


sk_serve --iscsi none --xdisk none --vscsi none --nbd "127.0.0.1:$PORT" \
	--disk d=mem:16M
sk_wait_tcp "$PORT"

python3 - "127.0.0.1:$PORT" <<'PY' || fail "bad option handling"
import os, struct, sys
sys.path.insert(0, os.environ["SK_LIB"])
from nbdclient import *
addr = sys.argv[1]
UNSUP, POLICY, INVALID, UNKNOWN, TOO_BIG = (0x80000001, 0x80000002,
    0x80000003, 0x80000006, 0x80000009)
def expect(s, o, data, want, what):
    opt(s, o, data)
    got = opt_reply(s)
    assert got[0] == o and got[1] in want, (what, hex(got[1]), got[2])
    return got

s = conn(addr); greet(s)
expect(s, 0x1234, b"x" * 100, (UNSUP,), "unknown option")
expect(s, 4, b"", (UNSUP,), "PEEK_EXPORT")
expect(s, 5, b"", (UNSUP, POLICY), "STARTTLS (no TLS)")
expect(s, 11, b"", (UNSUP,), "EXTENDED_HEADERS")
expect(s, 3, b"junk", (INVALID,), "LIST with data")
expect(s, 8, b"junk", (INVALID,), "STRUCTURED_REPLY with data")
# Metadata contexts need structured replies first.
q = b"base:allocation"
meta = struct.pack(">I", 1) + b"d" + struct.pack(">II", 1, len(q)) + q
expect(s, 10, meta, (INVALID,), "SET_META_CONTEXT before STRUCTURED")
# GO/INFO with lengths that do not add up.
expect(s, 7, struct.pack(">I", 1000) + b"d" + b"\0\0", (INVALID,),
       "GO name length beyond the option")
expect(s, 6, struct.pack(">I", 1) + b"d" + struct.pack(">H", 5), (INVALID,),
       "INFO with a short request list")
expect(s, 7, b"\0\0", (INVALID,), "GO shorter than its fixed part")
# Names: unknown, too long (> 4096 bytes).
expect(s, 7, struct.pack(">I", 4) + b"nope" + b"\0\0", (UNKNOWN,),
       "GO of an unknown export")
long = b"n" * 5000
expect(s, 6, struct.pack(">I", len(long)) + long + b"\0\0", (INVALID,),
       "INFO with a 5000-byte name")
# An option of 1 MiB: skipped without being stored, answered TOO_BIG.
expect(s, 7, b"\0" * (1 << 20), (TOO_BIG,), "1 MiB option")
# Malformed metadata query list.
expect(s, 8, b"", (1,), "STRUCTURED_REPLY")
bad = struct.pack(">I", 1) + b"d" + struct.pack(">II", 3, 4) + b"base"
expect(s, 9, bad, (INVALID,), "LIST_META_CONTEXT with a short query list")
# After all that, the same connection still negotiates and works.
size, flags = go(s, b"d", structured=False)
assert size == 16 << 20, size
# (structured replies were negotiated above: one data chunk)
req(s, 0, 0, 512, cookie=9)
e, c, d = reply(s)
assert (e, c, len(d)) == (0, 9, 8 + 512), (e, c, len(d))
req(s, 2)
assert closed(s)

# EXPORT_NAME cannot answer an error: an unknown name closes.
s = conn(addr); greet(s)
opt(s, 1, b"nosuch")
assert closed(s), "EXPORT_NAME of an unknown export"
# A huge EXPORT_NAME closes too (after being skipped, never stored).
s = conn(addr); greet(s)
opt(s, 1, b"x" * 70000)
assert closed(s), "EXPORT_NAME of 70000 bytes"
# EXPORT_NAME of a known export (old clients) works, with zero padding
# unless NO_ZEROES was agreed.
s = conn(addr); greet(s, cflags=1)
opt(s, 1, b"d")
size, flags = struct.unpack(">QH", rd(s, 10))
assert size == 16 << 20 and rd(s, 124) == bytes(124)
req(s, 3, cookie=4)
assert reply(s)[:2] == (0, 4)
# ABORT is acknowledged, then the server closes.
s = conn(addr); greet(s)
opt(s, 2)
assert opt_reply(s)[1] == 1
assert closed(s)
# A flood of options is cut off.
s = conn(addr); greet(s)
n = 0
try:
    for n in range(5000):
        opt(s, 0x999)
        opt_reply(s)
    raise AssertionError("5000 options accepted")
except (EOFError, ConnectionResetError, BrokenPipeError):
    assert n > 100, n
PY
nbdinfo --size "nbd://127.0.0.1:$PORT/d" >/dev/null || fail "server unusable afterwards"
sk_stop
echo "nbd_bad_option: OK"
