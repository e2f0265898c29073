#!/usr/bin/env python3
"""Cut the streams fuzz/record.py recorded into seeds for each harness.

    mkseeds.py RECDIR CORPUSDIR

RECDIR holds nbd/, iscsi/, dmsg/ and vscsi/ recordings (<n>.c2s, <n>.s2c);
the seeds replace CORPUSDIR/<harness>/.  Each harness's input format is
described at the top of fuzz/fuzz_<harness>.c; the selector bytes below
follow it.  Seeds are named by their SHA-1, as libFuzzer names its own.
"""
import glob
import hashlib
import os
import shutil
import struct
import sys

rec, out = sys.argv[1], sys.argv[2]
seeds = {h: set() for h in ("nbd", "iscsi", "scsi", "dmsg", "vscsi",
                            "nbd_conn", "iscsi_tgt", "dmsg_iocom")}


def streams(proto, direction):
    for f in sorted(glob.glob(os.path.join(rec, proto, "*." + direction))):
        b = open(f, "rb").read()
        if b:
            yield b


# NBD: the client's handshake (fed in pieces of 1 and 64 bytes) and its
# transmission-phase requests, split where NBD_OPT_GO / EXPORT_NAME ends.
for c in streams("nbd", "c2s"):
    off, end = 4, None
    while off + 16 <= len(c):
        opt, ln = struct.unpack(">II", c[off + 8:off + 16])
        off += 16 + ln
        if opt in (1, 7):  # EXPORT_NAME, GO: transmission follows
            end = off
            break
        if opt == 2:  # ABORT
            break
    # The stateful harness takes the whole stream (first byte: the size
    # of the pieces it is sent in: 1 byte, or 17 * 256).
    seeds["nbd_conn"].add(b"\x20" + c[:16384])
    seeds["nbd_conn"].add(b"\x00" + c[:2048])
    hs = c[:end] if end else c[:off]
    seeds["nbd"].add(b"\x00\x00" + hs[:4096])
    seeds["nbd"].add(b"\x00\x3f" + hs[:4096])
    if end and end < len(c):
        tx = c[end:end + 16384]
        seeds["nbd"].add(b"\x80\x03" + tx)
        seeds["nbd"].add(b"\x80\x00" + tx[:2048])


def pdus(stream):
    off = 0
    while off + 48 <= len(stream):
        bhs = stream[off:off + 48]
        ahs = bhs[4] * 4
        dsl = int.from_bytes(bhs[5:8], "big")
        data = stream[off + 48 + ahs:off + 48 + ahs + dsl]
        yield bhs, data
        off += 48 + ahs + ((dsl + 3) & ~3)


# iSCSI: the Login Requests of each connection back to back (no padding:
# the harness reads the data segment right after its BHS), each text data
# segment alone, and the CDBs and sense data for the scsi harness.
for c in streams("iscsi", "c2s"):
    seeds["iscsi_tgt"].add(b"\x20" + c[:16384])
    seeds["iscsi_tgt"].add(b"\x00" + c[:1024])
    login = b""
    for bhs, data in pdus(c):
        op = bhs[0] & 0x3f
        if op == 0x03:
            login += bhs + data
        if op in (0x03, 0x04) and data:
            seeds["iscsi"].add(b"\x01" + data)
        if op == 0x01:
            seeds["scsi"].add(bhs[32:48])
    if login:
        seeds["iscsi"].add(b"\x00" + login)
for s in streams("iscsi", "s2c"):
    for bhs, data in pdus(s):
        if (bhs[0] & 0x3f) == 0x21 and len(data) > 2:
            seeds["scsi"].add(data[2:])

# DMSG: runs of up to 8 whole messages from each direction, and single
# messages behind the "patch magic and CRCs" selector bit.


def messages(stream):
    off = 0
    while off + 64 <= len(stream):
        cmd, = struct.unpack_from("<I", stream, off + 0x20)
        aux, = struct.unpack_from("<I", stream, off + 0x28)
        n = (cmd & 0xff) * 64 + ((aux + 63) & ~63)
        if n < 64 or off + n > len(stream):
            break
        yield stream[off:off + n]
        off += n


for d in ("c2s", "s2c"):
    for s in streams("dmsg", d):
        ms = list(messages(s))
        for i in range(0, min(len(ms), 64), 8):
            seeds["dmsg"].add(b"".join(ms[i:i + 8])[:8192])
        # The iocom harness: the peer's stream from the start (its
        # LNK_CONN first), owner behaviours 0..3, CRCs as recorded.
        for k in range(4):
            seeds["dmsg_iocom"].add(bytes([k << 1]) +
                                    b"".join(ms[:8 + 8 * k])[:16384])
        kinds = {}
        for m in ms:
            kinds.setdefault(struct.unpack_from("<I", m, 0x20)[0], m)
        for m in kinds.values():
            if len(m) < 8192:
                seeds["dmsg"].add(b"\x01" + m)

# vscsi: what the userland target sent the SIM, with the tags of
# completions renumbered to the harness's three commands (0x10..0x12).
for c in streams("vscsi", "c2s"):
    off, ms = 0, []
    while off + 16 <= len(c):
        ln, = struct.unpack_from("<I", c, off)
        if ln < 16 or off + ln > len(c):
            break
        ms.append(bytearray(c[off:off + ln]))
        off += ln
    tag = 0
    for m in ms:
        if m[4] in (0x10, 0x11):
            struct.pack_into("<I", m, 8, 0x10 + tag % 3)
            tag += 1
    for i in range(0, min(len(ms), 24), 3):
        seeds["vscsi"].add(b"".join(bytes(m) for m in ms[i:i + 3])[:8192])
    seeds["vscsi"].add(b"".join(bytes(m) for m in ms[:6])[:8192])

# vscsi version 3: T2Is that name read data in the shared area (flag SHM),
# written by hand since a recording has the offsets of its own SIM.  The
# harness's READ 0x10 has slot 0 (offset 0), its WRITE 0x11 slot 1
# (8192): the command's own slot, another's, one straddling the end, one
# past the area, a reference for the WRITE, and the bare T2I that frees
# the slot of an aborted command.
def vscsi_seeds():
    def t2i(tag, off, ln, flags=1, sense=b"", data=b""):
        body = struct.pack("<BBBBI", 0, 0, len(sense), flags, 0)
        if flags & 1:
            body += struct.pack("<II", off, ln)
        body += sense + data
        return struct.pack("<IBBHII", 16 + len(body), 0x11, 0, 0, tag, 0) + body
    yield t2i(0x10, 0, 8192)
    yield t2i(0x10, 100, 50) + t2i(0x10, 150, 60)
    yield t2i(0x10, 8192, 16) + t2i(0x10, 0, 16)
    yield t2i(0x10, 8190, 4) + t2i(0x10, 0xfffffff0, 0x20)
    yield t2i(0x11, 8192, 0) + t2i(0x11, 0, 0, flags=0)
    yield t2i(0x10, 0, 4, data=b"abcd") + t2i(0x10, 0, 8193)
    yield t2i(0x12, 0, 0) + t2i(0x12, 0, 0, flags=0) + t2i(0x12, 0, 0, flags=0)


seeds["vscsi"].update(vscsi_seeds())

for h, ss in seeds.items():
    d = os.path.join(out, h)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for s in ss:
        name = hashlib.sha1(s).hexdigest()
        with open(os.path.join(d, name), "wb") as f:
            f.write(s)
    print(h, len(ss), "seeds", sum(len(s) for s in ss), "bytes")
