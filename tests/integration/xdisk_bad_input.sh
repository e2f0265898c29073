#!/usr/bin/env bash
# xdisk against bad peers, at the daemon level (the unit tests in
# tests/unit/dmsg/test_iocom.c take each case alone): a python3 peer sends a
# server daemon bad magic, a bad CRC, a size beyond the limits, a truncated
# message, a reply to an unknown msgid (each must reset that link only),
# an unknown command and DBG_SHELL (answered NOSUPP), and BLK commands with
# bad sizes, offsets and keyids (answered PARAM); then a fake server offers
# a client daemon spans that lie about their size (refused).  Every daemon
# must keep serving.  Ports 23160-23169.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
# This test's ports, from its own range (sk_port skips taken ones).
P0=$(sk_port 23160 10)
P1=$(sk_port 23160 10)
P5=$(sk_port 23160 10)
BENCH="$SK_BUILD/bench_xdisk_bench"
[ -x "$BENCH" ] || sk_skip "bench_xdisk_bench not built"

. "$(dirname "$0")/lib/xdisk.sh"

truncate -s 64M "$T/back.img"
sk_need python3

xd_server 1 $P1
cat >"$T/peer.py" <<'PY'
import socket, struct, sys, time

def crc32c(data, crc=0):
    crc ^= 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xffffffff

CREATE, DELETE, REPLY = 0x80000000, 0x40000000, 0x20000000
def cmd(proto, n): return (proto << 20) | (n << 8)
LNK_CONN, LNK_SPAN, LNK_ERROR = cmd(0, 0x11), cmd(0, 0x12), cmd(0, 0xfff)
LNK_PING = cmd(0, 1)
DBG_SHELL = cmd(1, 1)
BLK_OPEN, BLK_READ, BLK_ERROR = cmd(5, 1), cmd(5, 2), cmd(5, 0xfff)

def msg(c, msgid=0, circuit=0, body=b"", aux=b"", error=0, fix=True):
    ext = (64 + len(body) + 63) // 64 * 64
    apad = (len(aux) + 63) // 64 * 64
    auxp = aux + b"\0" * (apad - len(aux))
    hdr = struct.pack("<HHIQQQIIIIQII", 0x4832, 0, 1, msgid, circuit, 0,
                      c | (ext // 64), crc32c(auxp) if aux else 0, len(aux),
                      error, 0, 0, 0)
    eh = hdr + body + b"\0" * (ext - 64 - len(body))
    crc = crc32c(eh)
    eh = eh[:60] + struct.pack("<I", crc) + eh[64:]
    return eh + auxp

def parse(buf):
    out = []
    while len(buf) >= 64:
        (magic, _, _, msgid, circ, _, c, _, aux, err, _, _, _) =             struct.unpack("<HHIQQQIIIIQII", buf[:64])
        ext = (c & 0xff) * 64
        apad = (aux + 63) // 64 * 64
        if len(buf) < ext + apad:
            break
        out.append(dict(cmd=c & ~0xff, msgid=msgid, circuit=circ,
                        error=err, body=buf[64:ext],
                        aux=buf[ext:ext + aux]))
        buf = buf[ext + apad:]
    return out, buf

class Peer:
    def __init__(self, s):
        self.s = s; self.buf = b""; self.q = []
    def send(self, data): self.s.sendall(data)
    def recv(self, want, timeout=3.0):
        end = time.time() + timeout
        while time.time() < end:
            for i, m in enumerate(self.q):
                if want(m):
                    return self.q.pop(i)
            self.s.settimeout(max(0.01, end - time.time()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                continue
            if not d:
                return "EOF"
            ms, self.buf = parse(self.buf + d)
            self.q += ms
        return None
    def closed(self, timeout=3.0):
        return self.recv(lambda m: False, timeout) == "EOF"

def connect(port):
    return Peer(socket.create_connection(("127.0.0.1", port)))

def conn_body(peer_type, pfs_type, peer_mask, pfs_mask):
    return (b"\0" * 48 + struct.pack("<QBBHII", peer_mask, peer_type,
            pfs_type, 1, 0, 0) + b"\0" * 8 + b"\0" * 48 + b"\0" * 4 +
            struct.pack("<Q", pfs_mask) + b"\0" * 256)

def span_body(label, size, bs):
    b = b"\0" * 32 + struct.pack("<BBHI", 9, 2, 1, 0) + b"\0" * 8
    b += struct.pack("<II", 0, 0) + struct.pack("<QI", size, bs) + b"\0" * 44
    return b + b"fake/x".ljust(128, b"\0") + label.encode().ljust(128, b"\0")

def expect(cond, what):
    if not cond:
        print("FAIL:", what); sys.exit(1)
    print("ok:", what)

def server_cases(port):
    p = connect(port); m = msg(LNK_PING); m = b"\x55" + m[1:]
    p.send(m); expect(p.closed(), "bad magic resets the link")
    p = connect(port); m = bytearray(msg(LNK_PING, aux=b"abc")); m[70] ^= 1
    p.send(bytes(m)); expect(p.closed(), "bad aux CRC resets the link")
    p = connect(port); m = bytearray(msg(LNK_PING)); m[10] ^= 1
    p.send(bytes(m)); expect(p.closed(), "bad header CRC resets the link")
    p = connect(port)
    h = bytearray(msg(LNK_PING)); struct.pack_into("<I", h, 0x28, 1 << 30)
    struct.pack_into("<I", h, 60, 0)
    struct.pack_into("<I", h, 60, crc32c(bytes(h)))
    p.send(bytes(h)); expect(p.closed(), "aux size beyond limits resets")
    p = connect(port); m = msg(BLK_READ | CREATE | DELETE, 5, body=b"\0" * 32,
                              aux=b"x" * 1000)
    p.send(m[:-300]); time.sleep(0.2); p.s.shutdown(socket.SHUT_WR)
    expect(p.closed(), "truncated message then EOF closes the link")
    p = connect(port)
    p.send(msg(LNK_ERROR | CREATE | DELETE | REPLY, 0x777))
    expect(p.closed(), "reply to an unknown msgid resets the link")
    p = connect(port)
    p.send(msg(cmd(6, 7) | CREATE | DELETE, 11))
    r = p.recv(lambda m: m["msgid"] == 11)
    expect(r not in (None, "EOF") and r["error"] == 0x20,
           "unknown command answered NOSUPP")
    p.send(msg(DBG_SHELL | CREATE | DELETE, 12, aux=b"ls"))
    r = p.recv(lambda m: m["msgid"] == 12)
    expect(r not in (None, "EOF") and r["error"] == 0x20,
           "DBG_SHELL answered NOSUPP")
    # A real handshake, a span, BLK_OPEN, and BLK commands out of range.
    p.send(msg(LNK_CONN | CREATE, 1, body=conn_body(2, 2, 4, 1 << 9)))
    c = p.recv(lambda m: (m["cmd"] & 0xfffff00) == LNK_CONN)
    expect(c not in (None, "EOF"), "server opened LNK_CONN")
    p.send(msg(LNK_ERROR | CREATE | REPLY, c["msgid"]))
    sp = p.recv(lambda m: (m["cmd"] & 0xfffff00) == LNK_SPAN)
    expect(sp not in (None, "EOF"), "server advertised a span")
    size, bs = struct.unpack("<QI", sp["body"][56:68])
    expect(size == 64 << 20 and bs == 512, "span carries size and block")
    p.send(msg(LNK_ERROR | CREATE | REPLY, sp["msgid"]))
    p.send(msg(BLK_OPEN | CREATE, 20, sp["msgid"], struct.pack("<II", 3, 0)))
    o = p.recv(lambda m: m["msgid"] == 20)
    expect(o not in (None, "EOF") and o["error"] == 0, "BLK_OPEN answered")
    key = struct.unpack("<Q", o["body"][:8])[0]
    def rw(mid, keyid, off, n):
        p.send(msg(BLK_READ | CREATE | DELETE, mid, 20,
                   struct.pack("<QQIIII", keyid, off, n, 0, 0, 0)))
        return p.recv(lambda m: m["msgid"] == mid)
    r = rw(30, key, 0, 4 << 20)
    expect(r["error"] == 0x23, "READ beyond max transfer: PARAM")
    r = rw(31, key, 64 << 20, 512)
    expect(r["error"] == 0x23, "READ beyond the end: PARAM")
    r = rw(32, key + 99, 0, 512)
    expect(r["error"] == 0x23, "READ with a wrong keyid: PARAM")
    r = rw(33, key, 3, 512)
    expect(r["error"] == 0x23, "misaligned READ: PARAM")
    r = rw(34, key, 4096, 4096)
    expect(r["error"] == 0 and len(r["aux"]) == 4096, "good READ")
    p.send(msg(BLK_READ | CREATE | DELETE, 35, 0xbad,
               struct.pack("<QQIIII", key, 0, 512, 0, 0, 0)))
    r = p.recv(lambda m: m["msgid"] == 35)
    expect(r["error"] == 0x24, "unknown circuit: CANTCIRC")
    p.s.close()

def fake_server(port):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET,
                                        socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(4)
    print("listening", flush=True)
    ls.settimeout(15)
    s, _ = ls.accept()
    p = Peer(s)
    c = p.recv(lambda m: (m["cmd"] & 0xfffff00) == LNK_CONN)
    expect(c not in (None, "EOF"), "client opened LNK_CONN")
    p.send(msg(LNK_ERROR | CREATE | REPLY, c["msgid"]))
    p.send(msg(LNK_CONN | CREATE, 1, body=conn_body(2, 9, 0, 0)))
    lies = [("odd", 1000, 512), ("zero", 0, 512), ("bs", 1 << 20, 1000),
            ("huge", 1 << 62, 512)]
    for i, (label, size, bs) in enumerate(lies):
        p.send(msg(LNK_SPAN | CREATE, 100 + i, body=span_body(label, size, bs)))
        r = p.recv(lambda m, i=i: m["msgid"] == 100 + i)
        expect(r not in (None, "EOF") and r["error"] == 0x23 and
               r["cmd"] & DELETE, "lying span %s refused with PARAM" % label)
    p.s.close()

if sys.argv[1] == "server":
    server_cases(int(sys.argv[2]))
else:
    fake_server(int(sys.argv[2]))
PY

python3 "$T/peer.py" server $P1 || fail "server daemon mishandled bad input"
xd_ctl 1 version >/dev/null || fail "server daemon died"

# The server still serves a real client.
xd_start 0 --nbd 127.0.0.1:$P0 --xdisk none --no-default-disk \
	--xdisk-attach xdisk://127.0.0.1:$P1
xd_wait_paths 1
"$BENCH" workload --nbd 127.0.0.1:$P0 --export xa0 --ops 2000 \
	--blocks 128 >/dev/null || fail "workload after bad input"

# A fake server with lying spans; the client daemon refuses them.
python3 "$T/peer.py" fake $P5 >"$T/fake.out" 2>&1 &
F=$!
SK_PIDS+=("$F")
for i in $(seq 1 50); do grep -q listening "$T/fake.out" && break; sleep 0.1; done
xd_ctl 0 xdisk attach xdisk://127.0.0.1:$P5 >/dev/null
rc=0
wait "$F" || rc=$?
cat "$T/fake.out"
[ "$rc" -eq 0 ] || fail "lying spans not refused"
xd_ctl 0 xdisk stats | grep -q 'refused-spans 4' || { xd_show; fail "refusals not counted"; }
[ "$(xd_ctl 0 disk list | grep -c '^xa')" -eq 1 ] || fail "a lying span made a disk"
xd_ctl 0 version >/dev/null || fail "client daemon died"
xd_stop 0
xd_stop 1
echo PASS
