#!/usr/bin/env bash
# The iSCSI target against a scripted initiator (Python, raw socket) that
# does what real initiators do not: data digests both ways, R2T-driven
# writes, unknown opcodes, CmdSN outside the window, digest errors, PDUs
# longer than negotiated, garbage logins, session reinstatement, an
# initiator that stops answering pings, Text SendTargets and TMFs for
# missing tasks.  Each case expects the RFC's answer (Reject, response,
# silence) or a clean close of that connection only; the daemon must stay
# up and serve a normal client afterwards.  Data-Out PDUs are also sent
# dribbled (header first, then the data in odd pieces, with pauses), so
# the target receives their data in place, straight into the command's
# buffer: that path must keep the data, the digests and the sequence
# checks exactly as the buffered one.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=$(sk_port 24500 50)
IQN=iqn.2026-11.org.scsikit

sk_need python3
sk_need iscsi-inq
sk_serve --iscsi "127.0.0.1:$PORT" --nbd none --xdisk none \
	--disk bad=mem:16M --iscsi-nop-interval 1 --iscsi-nop-timeout 3 \
	--iscsi-queue-depth 16
sk_wait_tcp "$PORT"

cat >"$T/ini.py" <<'PYEOF'
import os, socket, struct, sys, time

PORT = int(sys.argv[1]); IQN = sys.argv[2]
TARGET = IQN + ":bad"

def _tab():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t
TAB = _tab()

def crc32c(b):
    c = 0xffffffff
    for x in b:
        c = TAB[(c ^ x) & 0xff] ^ (c >> 8)
    return c ^ 0xffffffff

def pad(n):
    return (4 - n % 4) % 4

class Closed(Exception):
    pass

class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        self.hd = self.dd = False
        self.cmdsn = 1
        self.statsn = 0
        self.itt = 1

    def send(self, bhs, data=b"", bad_hd=False, bad_dd=False, dribble=False):
        bhs = bytearray(bhs)
        bhs[5:8] = struct.pack(">I", len(data))[1:]
        out = bytes(bhs)
        if self.hd:
            c = crc32c(out) ^ (1 if bad_hd else 0)
            out += struct.pack("<I", c)
        if data:
            d = data + b"\0" * pad(len(data))
            out += d
            if self.dd:
                out += struct.pack("<I", crc32c(d) ^ (1 if bad_dd else 0))
        if not dribble:
            self.s.sendall(out)
            return
        # The header alone, then pieces of 1, 7, 1000, 3, ... bytes, each
        # its own segment: the target sees a header whose data is still
        # on its way, and reads that cut anywhere (also inside the pad
        # and the digest).
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        hl = 48 + (4 if self.hd else 0)
        self.s.sendall(out[:hl])
        pos, sizes, i = hl, (1, 7, 1000, 3, 2500, 5, 2), 0
        while pos < len(out):
            time.sleep(0.01)
            n = sizes[i % len(sizes)]
            self.s.sendall(out[pos:pos + n])
            pos += n
            i += 1

    def recvn(self, n):
        b = b""
        while len(b) < n:
            x = self.s.recv(n - len(b))
            if not x:
                raise Closed()
            b += x
        return b

    def recv(self, timeout=5):
        self.s.settimeout(timeout)
        bhs = self.recvn(48)
        ahs = bhs[4] * 4
        if ahs:
            self.recvn(ahs)
        if self.hd:
            d = struct.unpack("<I", self.recvn(4))[0]
            assert d == crc32c(bhs), "bad header digest from target"
        dsl = struct.unpack(">I", b"\0" + bhs[5:8])[0]
        data = b""
        if dsl:
            data = self.recvn(dsl + pad(dsl))
            if self.dd:
                d = struct.unpack("<I", self.recvn(4))[0]
                assert d == crc32c(data), "bad data digest from target"
            data = data[:dsl]
        op = bhs[0] & 0x3f
        if op == 0x20 and struct.unpack(">I", bhs[16:20])[0] == 0xffffffff:
            self.ping_seen = bhs  # target ping: the caller decides
        return bhs, data

    def closed_within(self, secs):
        end = time.time() + secs
        try:
            while time.time() < end:
                self.recv(timeout=max(0.1, end - time.time()))
        except Closed:
            return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        return False

def kv(data):
    return dict(p.split("=", 1) for p in data.decode().split("\0") if p)

def login(c, keys, isid=b"\x80\x00\x00\x00\x00\x01", csg=1, nsg=3):
    text = "".join(k + "\0" for k in keys).encode()
    bhs = bytearray(48)
    bhs[0] = 0x43
    bhs[1] = 0x80 | csg << 2 | nsg
    bhs[8:14] = isid
    bhs[16:20] = struct.pack(">I", c.itt); c.itt += 1
    bhs[24:28] = struct.pack(">I", c.cmdsn)
    c.send(bhs, text)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x23, "not a login response"
    c.statsn = struct.unpack(">I", r[24:28])[0] + 1
    return r, kv(d)

def full_login(hd=False, dd=False, isid=b"\x80\x00\x00\x00\x00\x01",
               extra=()):
    c = Conn()
    keys = ["InitiatorName=iqn.2026-11.test:ini", "TargetName=" + TARGET,
            "SessionType=Normal",
            "HeaderDigest=" + ("CRC32C" if hd else "None"),
            "DataDigest=" + ("CRC32C" if dd else "None"),
            "MaxRecvDataSegmentLength=8192", "InitialR2T=Yes",
            "ImmediateData=Yes", "FirstBurstLength=4096",
            "MaxBurstLength=8192"] + list(extra)
    r, k = login(c, keys, isid)
    assert r[36] == 0 and r[37] == 0, "login failed %02x%02x" % (r[36], r[37])
    assert r[1] & 0x83 == 0x83, "no transit to full feature"
    assert k.get("HeaderDigest") == ("CRC32C" if hd else "None"), k
    c.hd, c.dd = hd, dd
    c.mrdsl = int(k["MaxRecvDataSegmentLength"])
    c.maxcmdsn = struct.unpack(">I", r[32:36])[0]
    # A new nexus starts with a POWER ON unit attention: take it.
    itt, bhs = scsi_cmd(c, bytes(6), 0)
    c.send(bhs)
    wait_status(c, itt)
    return c

def scsi_cmd(c, cdb, edtl, read=False, write=False, data=b"", imm=False,
             cmdsn=None):
    bhs = bytearray(48)
    bhs[0] = 0x01 | (0x40 if imm else 0)
    bhs[1] = 0x80 | (0x40 if read else 0) | (0x20 if write else 0) | 1
    itt = c.itt; c.itt += 1
    bhs[16:20] = struct.pack(">I", itt)
    bhs[20:24] = struct.pack(">I", edtl)
    bhs[24:28] = struct.pack(">I", (c.cmdsn if cmdsn is None else cmdsn) & 0xffffffff)
    bhs[28:32] = struct.pack(">I", c.statsn)
    bhs[32:32 + len(cdb)] = cdb
    if cmdsn is None and not imm:
        c.cmdsn += 1
    return itt, bhs

def wait_status(c, itt, wdata=b"", dribble=False, bad_dd_at=None):
    """Serve R2Ts from wdata, gather Data-In; return (status, data, sense).
    With bad_dd_at, the Data-Out at that offset carries a bad digest."""
    rd = bytearray()
    while True:
        r, d = c.recv()
        op = r[0] & 0x3f
        if op == 0x20:          # a target ping: answer it
            nop_answer(c, r)
            continue
        assert struct.unpack(">I", r[16:20])[0] == itt, "other ITT"
        if op == 0x31:          # R2T
            ttt = r[20:24]
            off, ln = struct.unpack(">II", r[40:48])
            sn = 0
            while ln > 0:
                n = min(ln, c.mrdsl)
                bhs = bytearray(48)
                bhs[0] = 0x05
                bhs[1] = 0x80 if n == ln else 0
                bhs[16:20] = struct.pack(">I", itt)
                bhs[20:24] = ttt
                bhs[36:40] = struct.pack(">I", sn)
                bhs[40:44] = struct.pack(">I", off)
                c.send(bhs, wdata[off:off + n], dribble=dribble,
                       bad_dd=off == bad_dd_at)
                if off == bad_dd_at:
                    return None, b"", b""
                off += n; ln -= n; sn += 1
        elif op == 0x25:        # Data-In
            off = struct.unpack(">I", r[40:44])[0]
            assert off == len(rd), "Data-In out of order"
            assert len(d) <= 8192, "Data-In above our MaxRecvDSL"
            rd += d
            if r[1] & 0x01:
                c.statsn = struct.unpack(">I", r[24:28])[0] + 1
                return r[3], bytes(rd), b""
        elif op == 0x21:
            c.statsn = struct.unpack(">I", r[24:28])[0] + 1
            sense = d[2:] if d else b""
            return r[3], bytes(rd), sense
        else:
            raise AssertionError("unexpected opcode %#x" % op)

def nop_answer(c, r):
    bhs = bytearray(48)
    bhs[0] = 0x40
    bhs[1] = 0x80
    bhs[16:20] = b"\xff\xff\xff\xff"
    bhs[20:24] = r[20:24]
    bhs[24:28] = struct.pack(">I", c.cmdsn)
    c.send(bhs)

def ping(c):
    """NOP-Out asking for an answer; the NOP-In must come back."""
    bhs = bytearray(48)
    bhs[0] = 0x40
    bhs[1] = 0x80
    itt = c.itt; c.itt += 1
    bhs[16:20] = struct.pack(">I", itt)
    bhs[20:24] = b"\xff\xff\xff\xff"
    bhs[24:28] = struct.pack(">I", c.cmdsn)
    c.send(bhs, b"ping-data")
    while True:
        r, d = c.recv()
        if r[0] & 0x3f == 0x20 and struct.unpack(">I", r[16:20])[0] == itt:
            assert d == b"ping-data", "ping data not echoed"
            return
        if r[0] & 0x3f == 0x20:
            nop_answer(c, r)

def write10(lba, nblk):
    return bytes([0x2a, 0]) + struct.pack(">IBH", lba, 0, nblk) + b"\0"

def read10(lba, nblk):
    return bytes([0x28, 0]) + struct.pack(">IBH", lba, 0, nblk) + b"\0"

def case(name, fn):
    fn()
    print("ok  ", name, flush=True)

def t_digests_r2t():
    for hd, dd in ((False, False), (True, True), (True, False)):
        c = full_login(hd, dd)
        data = os.urandom(20480)
        # 4096 bytes immediate (FirstBurstLength), the rest by R2T.
        itt, bhs = scsi_cmd(c, write10(8, 40), len(data), write=True)
        bhs[1] &= 0x7f | 0x80   # F: no unsolicited Data-Out follows
        c.send(bhs, data[:4096])
        st, _, sense = wait_status(c, itt, data)
        assert st == 0, "write status %#x sense %s" % (st, sense.hex())
        itt, bhs = scsi_cmd(c, read10(8, 40), len(data), read=True)
        c.send(bhs)
        st, rd, _ = wait_status(c, itt)
        assert st == 0 and rd == data, "read back differs"
        # Residual underflow: EDTL above what the CDB moves.
        itt, bhs = scsi_cmd(c, read10(8, 1), 4096, read=True)
        c.send(bhs)
        st, rd, _ = wait_status(c, itt)
        assert st == 0 and rd == data[:512]
        c.s.close()

def t_data_in_place():
    for hd, dd in ((False, False), (True, True), (False, True)):
        c = full_login(hd, dd)
        # 4096 bytes immediate, then R2Ts for 8192-byte bursts whose
        # Data-Outs arrive in pieces; 1 extra block makes the last one
        # short (512 bytes).
        data = os.urandom(24576 + 512)
        itt, bhs = scsi_cmd(c, write10(64, 49), len(data), write=True)
        c.send(bhs, data[:4096], dribble=True)
        st, _, sense = wait_status(c, itt, data, dribble=True)
        assert st == 0, "write status %#x sense %s" % (st, sense.hex())
        itt, bhs = scsi_cmd(c, read10(64, 49), len(data), read=True)
        c.send(bhs)
        st, rd, _ = wait_status(c, itt)
        assert st == 0 and rd == data, "read back differs (in place)"
        c.s.close()
    # Immediate data of a command answered before its data came (more
    # than FirstBurstLength: Reject): the data is dropped, not parsed --
    # it holds a NOP-Out header that would draw a NOP-In if it were.
    c = full_login()
    nop = bytearray(48)
    nop[0] = 0x40; nop[1] = 0x80
    nop[16:20] = struct.pack(">I", 0x7777); nop[20:24] = b"\xff" * 4
    junk = bytes(nop) * 170 + bytes(8192 - 48 * 170)
    itt, bhs = scsi_cmd(c, write10(100, 16), 8192, write=True)
    c.send(bhs, junk, dribble=True)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x3f and r[2] == 0x04, "no Reject(protocol)"
    # The next answer must be our own ping's, not one to the junk.
    pb = bytearray(48)
    pb[0] = 0x40; pb[1] = 0x80
    pb[16:20] = struct.pack(">I", 0x4242); pb[20:24] = b"\xff" * 4
    pb[24:28] = struct.pack(">I", c.cmdsn)
    c.send(pb)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x20 and r[16:20] == pb[16:20], \
        "dropped data was parsed as PDUs"
    itt, bhs = scsi_cmd(c, write10(100, 8), 4096, write=True)
    c.send(bhs, b"w" * 4096, dribble=True)
    st, _, _ = wait_status(c, itt)
    assert st == 0, "write after a dropped segment"
    c.s.close()
    # A data digest error in a Data-Out received in place: Reject, close.
    c = full_login(True, True)
    itt, bhs = scsi_cmd(c, write10(200, 16), 8192, write=True)
    c.send(bhs, b"")
    st, _, _ = wait_status(c, itt, b"y" * 8192, dribble=True, bad_dd_at=0)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x3f and r[2] == 0x02, "no Reject(digest)"
    assert c.closed_within(5), "connection not closed after digest error"
    # A Data-Out beyond the task's length, dribbled: not taken in place;
    # the ordinary checks reject it.
    c = full_login()
    itt, bhs = scsi_cmd(c, write10(300, 8), 4096, write=True)
    c.send(bhs, b"")
    r, d = c.recv()
    assert r[0] & 0x3f == 0x31, "no R2T"
    ob = bytearray(48)
    ob[0] = 0x05; ob[1] = 0x80
    ob[16:20] = struct.pack(">I", itt); ob[20:24] = r[20:24]
    ob[40:44] = struct.pack(">I", 0)
    c.send(ob, b"z" * 8192, dribble=True)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x3f, "no Reject for an oversized Data-Out"
    c.s.close()

def t_unknown_opcode():
    c = full_login()
    bhs = bytearray(48)
    bhs[0] = 0x1c               # not an initiator opcode
    bhs[16:20] = b"\0\0\0\x99"
    c.send(bhs)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x3f and r[2] == 0x05, "no Reject(0x05)"
    assert d[:48] == bytes(bhs), "Reject does not carry the header"
    ping(c)
    c.s.close()

def t_cmdsn_window():
    c = full_login()
    # Far beyond MaxCmdSN and behind ExpCmdSN: both silently ignored.
    for sn in (c.maxcmdsn + 100, c.cmdsn - 5):
        itt, bhs = scsi_cmd(c, bytes(6), 0, cmdsn=sn)
        c.send(bhs)
    ping(c)
    # A gap inside the window is held until it fills.
    itt2, bhs2 = scsi_cmd(c, bytes(6), 0, cmdsn=c.cmdsn + 1)
    c.send(bhs2)
    itt1, bhs1 = scsi_cmd(c, bytes(6), 0)
    c.cmdsn += 1
    c.send(bhs1)
    got = set()
    while len(got) < 2:
        r, d = c.recv()
        if r[0] & 0x3f == 0x21:
            got.add(struct.unpack(">I", r[16:20])[0])
    assert got == {itt1, itt2}
    c.s.close()

def t_data_digest_error():
    c = full_login(True, True)
    itt, bhs = scsi_cmd(c, write10(0, 1), 512, write=True)
    c.send(bhs, b"x" * 512, bad_dd=True)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x3f and r[2] == 0x02, "no Reject(digest)"
    assert c.closed_within(5), "connection not closed after digest error"

def t_header_digest_error():
    c = full_login(True, False)
    itt, bhs = scsi_cmd(c, bytes(6), 0)
    c.send(bhs, bad_hd=True)
    assert c.closed_within(5), "connection not closed on header digest error"

def t_too_long():
    c = full_login()
    bhs = bytearray(48)
    bhs[0] = 0x40
    bhs[1] = 0x80
    bhs[5:8] = b"\xff\xff\xff"  # 16 MiB - 1, beyond MaxRecvDSL
    c.s.sendall(bytes(bhs))
    assert c.closed_within(5), "PDU beyond MaxRecvDSL did not close"

def t_garbage_login():
    c = Conn()
    c.s.sendall(b"GET / HTTP/1.0\r\n\r\n" + bytes(30))
    assert c.closed_within(5), "non-login PDU at login not closed"
    c = Conn()
    bhs = bytearray(48)
    bhs[0] = 0x43; bhs[1] = 0x87
    c.send(bhs, b"no equals sign\0")
    r, _ = c.recv()
    assert r[36] == 2 and r[37] == 0, "garbage login: %02x%02x" % (r[36], r[37])
    assert c.closed_within(5)
    c = Conn()
    r, _ = login(c, ["InitiatorName=iqn.2026-11.test:ini",
                     "TargetName=iqn.2026-11.test:nosuch"])
    assert r[36] == 2 and r[37] == 3, "missing target not 0x0203"

def t_reinstate():
    a = full_login(isid=b"\x80\x00\x00\x00\x77\x01")
    b = full_login(isid=b"\x80\x00\x00\x00\x77\x01")
    assert a.closed_within(5), "old session not ended on ISID reuse"
    ping(b)
    b.s.close()

def t_dead_initiator():
    c = full_login()
    start = time.time()
    pinged = False
    try:
        while time.time() - start < 10:
            r, d = c.recv(timeout=10)
            if r[0] & 0x3f == 0x20:
                assert struct.unpack(">I", r[20:24])[0] != 0xffffffff
                pinged = True   # ... and never answered
    except (Closed, ConnectionResetError):
        pass
    assert pinged, "no NOP-In ping from the target"
    assert time.time() - start < 9, "dead initiator not detected"

def t_text_tmf():
    c = Conn()
    r, k = login(c, ["InitiatorName=iqn.2026-11.test:ini",
                     "SessionType=Discovery"])
    assert r[36] == 0
    bhs = bytearray(48)
    bhs[0] = 0x44; bhs[1] = 0x80
    bhs[16:20] = b"\0\0\0\x05"; bhs[20:24] = b"\xff\xff\xff\xff"
    bhs[24:28] = struct.pack(">I", c.cmdsn)
    c.send(bhs, b"SendTargets=All\0")
    r, d = c.recv()
    assert r[0] & 0x3f == 0x24 and TARGET.encode() in d, d
    assert b"TargetAddress=127.0.0.1:%d,1" % PORT in d, d
    c.s.close()
    c = full_login()
    bhs = bytearray(48)
    bhs[0] = 0x42; bhs[1] = 0x80 | 1      # ABORT TASK, immediate
    bhs[16:20] = b"\0\0\x10\0"; bhs[20:24] = b"\0\0\x77\x77"
    bhs[24:28] = struct.pack(">I", c.cmdsn)
    bhs[32:36] = struct.pack(">I", c.cmdsn - 1)
    c.send(bhs)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x22 and r[2] == 1, "ABORT TASK of nothing: %d" % r[2]
    bhs[1] = 0x80 | 5; bhs[8:16] = b"\0\x09" + bytes(6)   # LUN RESET, LUN 9
    c.send(bhs)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x22 and r[2] == 2, "LUN RESET of no LUN: %d" % r[2]
    bhs[1] = 0x80 | 5; bhs[8:16] = bytes(8)
    c.send(bhs)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x22 and r[2] == 0, "LUN RESET: %d" % r[2]
    # Logout closes cleanly.
    bhs = bytearray(48)
    bhs[0] = 0x46; bhs[1] = 0x80
    bhs[16:20] = b"\0\0\x20\0"; bhs[24:28] = struct.pack(">I", c.cmdsn)
    c.send(bhs)
    r, d = c.recv()
    assert r[0] & 0x3f == 0x26 and r[2] == 0
    assert c.closed_within(5)

case("digests + R2T + residual", t_digests_r2t)
case("Data-Out received in place", t_data_in_place)
case("unknown opcode -> Reject", t_unknown_opcode)
case("CmdSN window", t_cmdsn_window)
case("data digest error", t_data_digest_error)
case("header digest error", t_header_digest_error)
case("PDU beyond MaxRecvDataSegmentLength", t_too_long)
case("garbage logins", t_garbage_login)
case("session reinstatement", t_reinstate)
case("Text SendTargets, TMF, Logout", t_text_tmf)
case("dead initiator detected by pings", t_dead_initiator)
PYEOF

timeout 120 python3 "$T/ini.py" "$PORT" "$IQN" || {
	tail -30 "$T/serve.log" >&2
	fail "scripted initiator"
}
timeout 20 iscsi-inq "iscsi://127.0.0.1:$PORT/$IQN:bad/0" >/dev/null ||
	fail "daemon no longer serves a normal initiator"
grep -q "stopped answering pings" "$T/serve.log" ||
	fail "no log line for the dead initiator"
sk_stop
echo "iscsi_bad_input: OK"
