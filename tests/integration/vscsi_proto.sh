#!/usr/bin/env bash
# The vscsi wire protocol from a separate process written from
# docs/vscsi-protocol.md alone (Python): the greeting with the shared data
# area's memfd (version 3; the scan's data is answered through the area,
# and bad area references -- another command's slot, past the area, more
# than the command has -- are refused), REQPROBE with the bus
# scan answered by hand (REPORT LUNS, INQUIRY) and seen by CAM (FOUND
# event, `vscsi devs`), REQDETACH (LOST), a second userland end refused
# with EBUSY while the first is connected, every per-message error (unknown
# and reused tags, data beyond the command, wrong direction, truncated
# bodies, unknown types), the SIM still serving afterwards, and broken
# framing closing only that connection.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_need python3
sk_init

sk_serve --iscsi none --nbd none --xdisk none --vscsi "$T/v.sock"
sk_ctl vscsi list | grep -q ' CLOSED ' || fail "SIM not CLOSED at start"

python3 - "$T/v.sock" "$SCSIKIT" "$T/ctl.sock" <<'PY' || fail "protocol"
import errno, mmap, os, socket, struct, subprocess, sys, time

path, scsikit, ctl = sys.argv[1:4]
HELLO, CMD, ABORT, REPLY, EVENT = 1, 2, 3, 4, 5
WDATA = 6
DATA_READ, T2I, REQPROBE, REQDETACH, DATA_WRITE = 0x10, 0x11, 0x12, 0x13, 0x14
F_ACK = 1

def ctlq(*args):
    return subprocess.run([scsikit, "ctl", "--socket", ctl] + list(args),
                          capture_output=True, text=True, timeout=20).stdout

class End:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(10)
        self.s.connect(path)
        self.buf = b""
        self.cmds = []      # commands not yet served
        self.events = []
        self.area = None

    def hello(self):
        """HELLO and the data area's fd that comes with it."""
        m, fds, _, _ = socket.recv_fds(self.s, 64, 4)
        assert len(m) == 64 and m[4] == HELLO, m
        b = m[16:]
        ver, maxcdb, maxx, targets, luns, openings = struct.unpack_from("<HHIIII", b)
        self.slot, self.nslots = struct.unpack_from("<II", b, 36)
        assert len(fds) == 1 and self.nslots > 0, (fds, self.nslots)
        self.area_len = self.slot * self.nslots
        assert os.fstat(fds[0]).st_size == self.area_len
        self.area = mmap.mmap(fds[0], self.area_len)
        os.close(fds[0])
        return ver, maxcdb, maxx, targets, luns, openings, b

    def recv_msg(self):
        while True:
            if len(self.buf) >= 16:
                ln = struct.unpack_from("<I", self.buf)[0]
                if len(self.buf) >= ln:
                    m, self.buf = self.buf[:ln], self.buf[ln:]
                    typ, flags, _, tag, aux = struct.unpack_from("<BBHII", m, 4)
                    return typ, tag, aux, m[16:]
            d = self.s.recv(1 << 20)
            if not d:
                raise EOFError
            self.buf += d

    def send(self, typ, tag, body=b"", flags=0):
        self.s.sendall(struct.pack("<IBBHII", 16 + len(body), typ, flags, 0,
                                   tag, 0) + body)

    def wait_reply(self, typ, tag):
        """Next REPLY, queueing commands and events that come first."""
        while True:
            t, g, aux, b = self.recv_msg()
            if t == CMD:
                self.cmds.append((g, b))
            elif t == EVENT:
                self.events.append((aux,) + struct.unpack_from("<IxxxxQ", b))
            elif t == REPLY:
                assert b[0] == typ and g == tag, (b[0], typ, g, tag)
                return struct.unpack_from("<I", b, 4)[0]

    def t2i(self, tag, status=0, scsi=0, sense=b"", data=b"", ref=None):
        """ref: (offset, length) of the read data in the area."""
        flags = 1 if ref is not None else 0
        body = struct.pack("<BBBBI", status, scsi, len(sense), flags, 0)
        if ref is not None:
            body += struct.pack("<II", *ref)
        self.send(T2I, tag, body + sense + data)

    def t2i_data(self, tag, b, data):
        """Complete a READ: its data through its slot when it has one."""
        ref = cmd_ref(b)
        if ref is None:
            self.t2i(tag, data=data)
        else:
            self.area[ref[0]:ref[0] + len(data)] = data
            self.t2i(tag, ref=(ref[0], len(data)))

SHM = 2
def cmd_fields(b):
    target, dlen, lun, d, clen, ta, fl = struct.unpack_from("<IIQBBBB", b)
    return target, lun, d, dlen, b[20:20 + clen], b[52:] if not fl & SHM else b""

def cmd_ref(b):
    """(offset, length) of a command's data in the area, or None."""
    if not b[19] & SHM:
        return None
    assert len(b) == 60, len(b)
    return struct.unpack_from("<II", b, 52)

INQ = bytes([0, 0, 5, 2, 31, 0, 0, 0x02]) + b"PYTHON  " + b"RAWDISK         " + b"0001"
def serve(e, tag, b, luns=(0,)):
    """A minimal SCSI target at id 2 (nobody elsewhere)."""
    target, lun, d, dlen, cdb, data = cmd_fields(b)
    if target != 2:
        e.t2i(tag, status=4)                    # SELTIMEOUT
    elif cdb[0] == 0xa0:                        # REPORT LUNS
        body = b"".join(struct.pack(">HHI", l, 0, 0) for l in luns)
        out = (struct.pack(">I", len(body)) + b"\0" * 4 + body)[:dlen]
        e.t2i_data(tag, b, out)
    elif cdb[0] == 0x12 and lun in luns:        # INQUIRY
        e.t2i_data(tag, b, INQ[:dlen])
    elif cdb[0] == 0x12:
        e.t2i(tag, data=bytes([0x7f]) + INQ[1:dlen])   # by the socket too
    elif cdb[0] == 0x00:
        e.t2i(tag)
    else:
        sense = bytes([0x70, 0, 5, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0])
        e.t2i(tag, status=1, sense=sense)

def serve_until(e, cond, what, limit=10.0):
    end = time.time() + limit
    e.s.settimeout(0.2)
    while not cond():
        if time.time() > end:
            raise AssertionError("timed out waiting for " + what)
        while e.cmds:
            serve(e, *e.cmds.pop(0))
        try:
            t, g, aux, b = e.recv_msg()
        except socket.timeout:
            continue
        if t == CMD:
            serve(e, g, b)
        elif t == EVENT:
            e.events.append((aux,) + struct.unpack_from("<IxxxxQ", b))
    e.s.settimeout(10)

e = End()
ver, maxcdb, maxx, targets, luns, openings, b = e.hello()
assert (ver, maxcdb, targets, luns, openings) == (3, 32, 256, 256, 16), b
assert b[20:26] == b"vscsi0"

# A second userland end is refused with EBUSY while we are connected.
e2 = socket.socket(socket.AF_UNIX); e2.settimeout(10); e2.connect(path)
m = e2.recv(4096)
assert m[4] == REPLY and struct.unpack_from("<I", m, 20)[0] == errno.EBUSY, m
assert e2.recv(1) == b""
e2.close()

# REQPROBE: the scan asks target 2; CAM finds 2:0 and tells us.
e.send(REQPROBE, 7, struct.pack("<IIQ", 2, 0, 0), F_ACK)
assert e.wait_reply(REQPROBE, 7) == 0
serve_until(e, lambda: (1, 2, 0) in e.events, "FOUND 2:0")
devs = ctlq("vscsi", "devs")
assert ":2:0 vscsi0 <PYTHON   RAWDISK" in devs, devs

# REQDETACH: the SIM answers for 2:0 itself; CAM loses it.
e.send(REQDETACH, 8, struct.pack("<IIQ", 2, 0, 0), F_ACK)
assert e.wait_reply(REQDETACH, 8) == 0
serve_until(e, lambda: (2, 2, 0) in e.events, "LOST 2:0")
assert ":2:0 " not in ctlq("vscsi", "devs")
e.send(REQPROBE, 9, struct.pack("<IIQ", 2, 0, 0), F_ACK)
assert e.wait_reply(REQPROBE, 9) == 0
serve_until(e, lambda: e.events.count((1, 2, 0)) == 2, "FOUND 2:0 again")

# Errors, each answered on its own.  A command to work with: a bus rescan
# sends REPORT LUNS to every target; keep one without answering it.
def errs():
    return int(ctlq("vscsi", "list").split(" errors ")[1].split()[0])
base = errs()
e.send(DATA_READ, 0x7fffffff, b"x" * 10)
assert e.wait_reply(DATA_READ, 0x7fffffff) == errno.EFAULT
e.t2i(0x7ffffffe)
assert e.wait_reply(T2I, 0x7ffffffe) == errno.EFAULT
e.send(0x55, 1)
assert e.wait_reply(0x55, 1) == errno.ENOTTY
e.send(T2I, 2, b"\0\0")                          # truncated body
assert e.wait_reply(T2I, 2) == errno.EINVAL
e.send(REQPROBE, 3, struct.pack("<II", 1, 0))    # truncated body
assert e.wait_reply(REQPROBE, 3) == errno.EINVAL
e.send(REQPROBE, 4, struct.pack("<IIQ", 300, 0, 0))
assert e.wait_reply(REQPROBE, 4) == errno.EINVAL
assert errs() == base + 6, (errs(), base)

# A held command: data beyond it, wrong direction, then done properly.
e.send(REQPROBE, 10, struct.pack("<IIQ", 2, 0, 0), F_ACK)
assert e.wait_reply(REQPROBE, 10) == 0
while not e.cmds:
    t, g, aux, b = e.recv_msg()
    if t == CMD:
        e.cmds.append((g, b))
tag, b = e.cmds.pop(0)
target, lun, d, dlen, cdb, _ = cmd_fields(b)
assert d == 1 and cdb[0] == 0xa0, (d, cdb)       # REPORT LUNS, a READ
off, ln = cmd_ref(b)                              # its slot in the area
assert ln == dlen and off % e.slot == 0 and off + e.slot <= e.area_len
other = (off + e.slot) % e.area_len               # another command's slot
e.t2i(tag, ref=(other, 8))
assert e.wait_reply(T2I, tag) == errno.ERANGE
e.t2i(tag, ref=(off + e.slot - 4, 8))            # straddles its slot's end
assert e.wait_reply(T2I, tag) == errno.ERANGE
e.t2i(tag, ref=(0xfffffff0, 0x20))               # past the area
assert e.wait_reply(T2I, tag) == errno.ERANGE
e.t2i(tag, ref=(off, dlen + 1))                  # more than the command has
assert e.wait_reply(T2I, tag) == errno.ENOMEM
e.t2i(tag, ref=(off, 4), data=b"abcd")           # area and socket at once
assert e.wait_reply(T2I, tag) == errno.EINVAL
e.send(DATA_READ, tag, b"\0" * (dlen + 1))
assert e.wait_reply(DATA_READ, tag) == errno.ENOMEM
e.send(DATA_WRITE, tag, struct.pack("<I", dlen + 1))
assert e.wait_reply(DATA_WRITE, tag) == errno.ENOMEM
e.send(DATA_WRITE, tag, struct.pack("<I", 4))    # DATA_WRITE of a READ
assert e.wait_reply(DATA_WRITE, tag) == errno.EINVAL
e.send(DATA_WRITE, 0x7ffffffd, struct.pack("<I", 4))
assert e.wait_reply(DATA_WRITE, 0x7ffffffd) == errno.EFAULT
serve(e, tag, b)                                 # still ours: finish it
e.t2i(tag)                                       # reused tag
assert e.wait_reply(T2I, tag) == errno.EFAULT
serve_until(e, lambda: ctlq("vscsi", "list").split(" scans ")[1].split()[0] == "0",
            "the scan to finish")
assert ":2:0 vscsi0" in ctlq("vscsi", "devs")
# The scan's data went through the area (REPORT LUNS, INQUIRY).
assert int(ctlq("vscsi", "list").split(" shm-cmds ")[1].split()[0]) > 0

# Broken framing: the SIM closes us and resets; a new end can connect.
e.s.sendall(struct.pack("<I", 3) + b"\0" * 12)
e.s.settimeout(5)
try:
    while True:
        t, g, aux, b = e.recv_msg()
        assert t in (CMD, ABORT, EVENT, REPLY), t
except EOFError:
    pass
end = time.time() + 10
while " CLOSED " not in ctlq("vscsi", "list"):
    assert time.time() < end, "SIM did not return to CLOSED"
    time.sleep(0.1)
assert ":2:0 " not in ctlq("vscsi", "devs")
e3 = End()
assert e3.hello()[0] == 3
e3.s.close()
print("vscsi protocol: ok")
PY

sk_ctl vscsi list
# A second daemon does not steal a socket that is in use.
if timeout 10 "$SCSIKIT" serve --ctl "$T/ctl2.sock" --iscsi none --nbd none \
	--xdisk none --vscsi "$T/v.sock" 2>"$T/err2"; then
	fail "second daemon started on a socket in use"
fi
grep -q 'in use' "$T/err2" || { cat "$T/err2" >&2; fail "no 'in use' reason"; }
for i in $(seq 1 50); do
	sk_ctl vscsi list | grep -q ' CLOSED held 0 ' && break
	sleep 0.1
done
sk_ctl vscsi list | grep -q ' CLOSED held 0 ' || fail "first SIM disturbed"
sk_stop
