"""A minimal iSCSI initiator for integration tests that must see what a
full initiator hides: unit attentions and NOT READY sense on a long-lived
session, REPORT/SET TARGET PORT GROUPS data byte for byte, sessions on
ports a libiscsi login refuses (libiscsi fails a login whose TEST UNIT
READY answers NOT READY, which is what a standby port answers).

No digests, no authentication, one connection, immediate data only (so
writes must fit FirstBurstLength).  Import it with
sys.path.insert(0, <lib dir>)."""
import socket
import struct


class Session:
    """One logged-in normal session to target on 127.0.0.1:port."""

    def __init__(self, port, target, initiator="iqn.2026-11.test:raw",
                 isid=1):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.itt = 0
        self.cmdsn = 1
        self.expstatsn = 0
        text = "\0".join([
            "InitiatorName=" + initiator, "TargetName=" + target,
            "SessionType=Normal", "HeaderDigest=None", "DataDigest=None",
            "ImmediateData=Yes", "InitialR2T=No",
            "FirstBurstLength=65536", "MaxBurstLength=262144",
            "MaxRecvDataSegmentLength=262144"]).encode() + b"\0"
        hdr = bytearray(48)
        hdr[0] = 0x43                   # Login Request, immediate
        hdr[1] = 0x80 | (1 << 2) | 3    # T, CSG operational, NSG FFP
        hdr[8:14] = b"\x80" + isid.to_bytes(5, "big")
        hdr[16:20] = self._next_itt()
        hdr[24:28] = struct.pack(">I", self.cmdsn)
        self._send(hdr, text)
        rsp, _ = self._recv()
        if rsp[0] & 0x3f != 0x23 or rsp[36:38] != b"\0\0":
            raise RuntimeError("login refused: status %s" % rsp[36:38].hex())
        self.expstatsn = struct.unpack(">I", rsp[24:28])[0] + 1

    def _next_itt(self):
        self.itt += 1
        return struct.pack(">I", self.itt)

    def _send(self, hdr, data=b""):
        hdr[5:8] = len(data).to_bytes(3, "big")
        self.sock.sendall(bytes(hdr) + data + b"\0" * (-len(data) % 4))

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            part = self.sock.recv(n - len(buf))
            if not part:
                raise ConnectionError("target closed the connection")
            buf += part
        return buf

    def _recv(self):
        hdr = self._read(48)
        self._read(hdr[4] * 4)          # AHS, unused
        dlen = int.from_bytes(hdr[5:8], "big")
        data = self._read(dlen + (-dlen % 4))[:dlen]
        return hdr, data

    def cmd(self, cdb, din=0, dout=b""):
        """Run cdb; returns (status, data-in bytes, sense bytes)."""
        hdr = bytearray(48)
        hdr[0] = 0x01
        hdr[1] = 0x80 | (0x40 if din else 0) | (0x20 if dout else 0) | 1
        itt = self._next_itt()
        hdr[16:20] = itt
        hdr[20:24] = struct.pack(">I", din or len(dout))
        hdr[24:28] = struct.pack(">I", self.cmdsn)
        hdr[28:32] = struct.pack(">I", self.expstatsn)
        hdr[32:32 + len(cdb)] = cdb
        self.cmdsn += 1
        self._send(hdr, dout)
        got = bytearray()
        while True:
            rsp, data = self._recv()
            op = rsp[0] & 0x3f
            if op == 0x20:              # a target ping: answer it
                nop = bytearray(48)
                nop[0], nop[1] = 0x40, 0x80
                nop[16:20] = b"\xff" * 4
                nop[20:24] = rsp[20:24]
                nop[24:28] = struct.pack(">I", self.cmdsn)
                self._send(nop)
                continue
            if rsp[16:20] != itt:
                raise RuntimeError("answer for another task")
            if op == 0x25:              # Data-In
                got += data
                if rsp[1] & 0x01:       # with status
                    self.expstatsn = struct.unpack(">I", rsp[24:28])[0] + 1
                    return rsp[3], bytes(got), b""
            elif op == 0x21:            # SCSI Response
                self.expstatsn = struct.unpack(">I", rsp[24:28])[0] + 1
                sense = data[2:2 + int.from_bytes(data[:2], "big")]
                return rsp[3], bytes(got), sense
            else:
                raise RuntimeError("unexpected PDU opcode %#x" % op)

    def close(self):
        self.sock.close()


def sense_key_asc(sense):
    """(key, asc, ascq) of fixed or descriptor sense; None if empty."""
    if not sense:
        return None
    if sense[0] & 0x7f in (0x72, 0x73):
        return sense[1] & 0x0f, sense[2], sense[3]
    return sense[2] & 0x0f, sense[12], sense[13]


def rtpg(sess, extended=False, alloc=1024):
    """REPORT TARGET PORT GROUPS: (status, header, [(group, state,
    status code, [ports])])."""
    cdb = bytes([0xa3, (0x20 if extended else 0) | 0x0a, 0, 0, 0, 0]) + \
        struct.pack(">I", alloc) + b"\0\0"
    st, data, _ = sess.cmd(cdb, din=alloc)
    if st != 0:
        return st, None, []
    off = 8 if extended else 4
    end = 4 + struct.unpack(">I", data[:4])[0]
    groups = []
    while off + 8 <= min(end, len(data)):
        d = data[off:off + 8]
        ports = [struct.unpack(">H", data[off + 8 + 4 * i + 2:
                                         off + 8 + 4 * i + 4])[0]
                 for i in range(d[7])]
        groups.append((struct.unpack(">H", d[2:4])[0], d[0] & 0x0f, d[5],
                       ports))
        off += 8 + 4 * d[7]
    return st, data[:8], groups


def stpg(sess, pairs):
    """SET TARGET PORT GROUPS with (group, state) pairs (state may be any
    byte, to send invalid ones): (status, sense)."""
    plist = b"\0" * 4 + b"".join(bytes([st, 0]) + struct.pack(">H", g)
                                 for g, st in pairs)
    cdb = bytes([0xa4, 0x0a, 0, 0, 0, 0]) + struct.pack(">I", len(plist)) + \
        b"\0\0"
    st, _, sense = sess.cmd(cdb, dout=plist)
    return st, sense


TUR = bytes(6)
READ10 = bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0])


def expect(sess, cdb, want, what, din=0, dout=b""):
    """Run cdb; want is a status byte, or (key, asc, ascq) for CHECK
    CONDITION."""
    st, _, sense = sess.cmd(cdb, din=din, dout=dout)
    got = sense_key_asc(sense) if st == 2 else st
    assert got == want, "%s: got %r, want %r" % (what, got, want)


def alua_ctl(scsikit, ctl, *args):
    """`scsikit alua --socket ctl ARGS...`, which must succeed."""
    import subprocess
    subprocess.run([scsikit, "alua", "--socket", ctl] + list(args),
                   check=True)
