#!/usr/bin/env bash
# Link faults against iSCSI digests.  The target daemon is told (fault link
# add, on its control socket) to flip one byte of what an initiator sends,
# at an offset this test computes from the bytes its scripted initiator
# (Python, raw socket) sends: with HeaderDigest=CRC32C a flipped byte in a
# NOP-Out's header makes the target close the connection without an answer;
# with DataDigest=CRC32C a flipped byte in the NOP-Out's ping data draws a
# Reject (data digest error) and a close.  A connection the rule no longer
# hits (count=1) pings normally.  Then scsikit's own initiator (cam, both
# digests) writes 4 MiB through a connection whose byte 1 MiB in is flipped:
# the target rejects it, the initiator logs in again and retries, and the
# data reads back intact.  Ports: sk_port 28150 (helper range 28000-28499).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
sk_need python3 cmp dd timeout
PORT=$(sk_port 28150)
IQN=iqn.2026-11.org.scsikit

sk_serve --iscsi "127.0.0.1:$PORT" --nbd none --xdisk none --vscsi none \
	--no-default-disk --disk d0=mem:64M
sk_wait_tcp "$PORT"

cat >"$T/dig.py" <<'PYEOF'
import socket, struct, subprocess, sys

port, target, scsikit, ctl = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

def crc(buf):
    """CRC32C, bit by bit (only headers and a ping's data go through)."""
    v = 0xFFFFFFFF
    for b in buf:
        v ^= b
        for _ in range(8):
            v = (v >> 1) ^ (0x82F63B78 & -(v & 1))
    return v ^ 0xFFFFFFFF

def padded(b):
    return b + b"\0" * (-len(b) % 4)

def pdu(op, flags, itt, cmdsn, statsn, data=b"", hd=False, dd=False, ttt=0):
    h = bytearray(48)
    h[0], h[1] = op, flags
    h[5:8] = len(data).to_bytes(3, "big")
    h[16:20] = itt.to_bytes(4, "big")
    h[20:24] = ttt.to_bytes(4, "big")
    h[24:28] = cmdsn.to_bytes(4, "big")
    h[28:32] = statsn.to_bytes(4, "big")
    return h

def frame(h, data, hd, dd):
    out = bytes(h) + (struct.pack("<I", crc(h)) if hd else b"")
    if data:
        out += padded(data) + (struct.pack("<I", crc(padded(data))) if dd else b"")
    return out

def login_bytes(hd, dd):
    keys = ["InitiatorName=iqn.2026-11.test:dig", "TargetName=" + target,
            "SessionType=Normal", "HeaderDigest=" + ("CRC32C" if hd else "None"),
            "DataDigest=" + ("CRC32C" if dd else "None"),
            "MaxRecvDataSegmentLength=8192"]
    text = "".join(k + "\0" for k in keys).encode()
    h = pdu(0x43, 0x87, 1, 1, 0, text)
    h[8:14] = b"\x80\x00\x00\x00\x00\x07"
    return frame(h, text, False, False)

def read_pdu(s, hd, dd):
    def n(k):
        b = s.recv(k, socket.MSG_WAITALL)
        if len(b) < k:
            raise EOFError
        return b
    h = n(48)
    if hd:
        n(4)
    ln = int.from_bytes(h[5:8], "big")
    data = n(ln + (-ln % 4) + (4 if dd and ln else 0))[:ln] if ln else b""
    return h, data

def session(hd, dd):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(login_bytes(hd, dd))
    h, _ = read_pdu(s, False, False)
    assert h[0] & 0x3F == 0x23 and h[36] == 0 and h[1] & 0x83 == 0x83, "login"
    return s, int.from_bytes(h[24:28], "big") + 1

def ping(s, statsn, hd, dd):
    data = b"ping-data-" * 10
    h = pdu(0x40, 0x80, 2, 2, statsn, data, ttt=0xFFFFFFFF)
    s.sendall(frame(h, data, hd, dd))
    return data

def rule(spec):
    out = subprocess.run([scsikit, "ctl", "--socket", ctl, "fault", "link",
                          "add", spec], check=True, capture_output=True,
                         text=True).stdout
    return int(out.split()[1])

def hits(rid):
    out = subprocess.run([scsikit, "ctl", "--socket", ctl, "fault", "link",
                          "list"], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        w = line.split()
        if w[:2] == ["rule", str(rid)]:
            return int(w[w.index("hits") + 1])
    return -1

def answers(s, hd, dd):
    """The PDUs the target sends until it closes (or 5 s pass)."""
    got = []
    try:
        while True:
            got.append(read_pdu(s, hd, dd))
    except (EOFError, ConnectionResetError):
        return got, True
    except socket.timeout:
        return got, False

# Header digest: flip byte 20 of the NOP-Out's BHS.
L = len(login_bytes(True, False))
r = rule("corrupt,front=iscsi,dir=rx,after=%d,count=1" % (L + 20))
s, sn = session(True, False)
ping(s, sn, True, False)
got, closed = answers(s, True, False)
assert closed and not got, "header digest error not answered by a close: %r" % got
assert hits(r) == 1

# Data digest: flip the ping data's 11th byte.
L = len(login_bytes(True, True))
r = rule("corrupt,front=iscsi,dir=rx,after=%d,count=1" % (L + 52 + 10))
s, sn = session(True, True)
ping(s, sn, True, True)
got, closed = answers(s, True, True)
assert closed, "connection not closed after a data digest error"
assert got and got[0][0][0] & 0x3F == 0x3F and got[0][0][2] == 0x02, \
    "no Reject (data digest error): %r" % got
assert hits(r) == 1

# The rules are spent: the next connection pings normally.
s, sn = session(True, True)
data = ping(s, sn, True, True)
h, d = read_pdu(s, True, True)
assert h[0] & 0x3F == 0x20 and d == data, "no NOP-In echo"
print("digest cases passed")
PYEOF
python3 "$T/dig.py" "$PORT" "$IQN:d0" "$SCSIKIT" "$T/ctl.sock" ||
	{ tail -20 "$T/serve.log" >&2; fail "digest cases"; }
grep -q "header digest error" "$T/serve.log" || fail "no header digest error logged"
grep -q "data digest error" "$T/serve.log" || fail "no data digest error logged"

# scsikit's initiator recovers from the rejected connection.
dd if=/dev/urandom of="$T/w.img" bs=1M count=4 status=none
U="iscsi://127.0.0.1:$PORT/$IQN:d0/0?header_digest=crc32c&data_digest=crc32c"
rid=$(sk_ctl fault link add "corrupt,front=iscsi,dir=rx,after=1M,count=1")
rid=${rid#rule }
out=$(timeout 120 "$SCSIKIT" cam --sim "$U" write 0:0:0 --lba 0 \
	--count 8192 --in "$T/w.img" -C 4 2>&1) || { echo "$out" >&2; tail -20 "$T/serve.log" >&2;
	fail "write across a corrupted byte"; }
sk_ctl fault link list | grep -q "rule $rid .* hits 1" || fail "rule hit nothing"
timeout 120 "$SCSIKIT" cam --sim "$U" read 0:0:0 --lba 0 --count 8192 \
	--out "$T/r.img" >/dev/null || fail "read back"
cmp "$T/w.img" "$T/r.img" || fail "data differs after digest recovery"
[ "$(grep -c "digest error" "$T/serve.log")" -ge 3 ] ||
	fail "the corrupted write was not caught by a digest"
sk_ctl fault link clear
sk_stop
echo PASS
