#!/usr/bin/env bash
# The iSCSI initiator against a scripted target (Python, raw socket) that
# misbehaves once, on the first READ(10) of a run: a response with an
# unknown ITT, Data-In beyond the command, an out-of-order StatSN or
# DataSN, a PDU longer than our MaxRecvDataSegmentLength, garbage, an R2T
# for a read, a drop of the connection, an async logout request or drop
# request; or it holds the command so that the XPT's timeout sends ABORT
# TASK (answered), or ABORT TASK is refused and LUN RESET follows.  It also
# pings us with NOP-Ins.  Every run must end with the READ done and its
# data right (`scsikit cam --sim ... read`, recovered on a new connection
# or after the TMF), and the scripted target checks what it received.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init

sk_need python3
PORT=$(sk_port 25150 10)

cat >"$T/fake.py" <<'EOF'
import socket, struct, sys, time

port, case, logf = int(sys.argv[1]), sys.argv[2], sys.argv[3]
log = open(logf, "a", buffering=1)
BLOCKS, BS = 131072, 512
state = {"armed": True}

def rd(c, n):
    b = b""
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x:
            raise EOFError
        b += x
    return b

def pdu(c):
    h = rd(c, 48)
    dsl = (h[5] << 16) | (h[6] << 8) | h[7]
    d = rd(c, dsl + ((4 - dsl % 4) % 4)) if dsl else b""
    return h, d[:dsl]

def send(c, h, d=b""):
    h = bytearray(h)
    h[5:8] = len(d).to_bytes(3, "big")
    c.sendall(bytes(h) + d + b"\0" * ((4 - len(d) % 4) % 4))

class S:
    statsn = 100
    cmdsn = 1

def hdr(op, flags, itt, s, stat=True):
    h = bytearray(48)
    h[0], h[1] = op, flags
    h[16:20] = struct.pack(">I", itt)
    h[20:24] = b"\xff\xff\xff\xff"
    h[24:28] = struct.pack(">I", s.statsn)
    if stat:
        s.statsn += 1
    h[28:32] = struct.pack(">I", s.cmdsn)
    h[32:36] = struct.pack(">I", s.cmdsn + 63)
    return h

def rsp(c, s, itt, status=0, resid=0):
    h = hdr(0x21, 0x80 | (0x02 if resid else 0), itt, s)
    h[3] = status
    h[44:48] = struct.pack(">I", resid)
    send(c, h)

def datain(c, s, itt, data, status=True):
    h = hdr(0x25, 0x80 | (0x01 if status else 0), itt, s, stat=status)
    h[36:40] = struct.pack(">I", 0)
    h[40:44] = struct.pack(">I", 0)
    send(c, h, data)

def scsi(c, s, h, d):
    itt = struct.unpack(">I", h[16:20])[0]
    edtl = struct.unpack(">I", h[20:24])[0]
    cdb = h[32:48]
    s.cmdsn = struct.unpack(">I", h[24:28])[0] + 1
    op = cdb[0]
    if op == 0xA0:
        datain(c, s, itt, (struct.pack(">I", 8) + b"\0" * 12)[:edtl])
    elif op == 0x12:
        inq = bytearray(36)
        inq[2], inq[3], inq[4] = 5, 2, 31
        inq[8:16] = b"FAKE    "
        inq[16:32] = b"BADTARGET       "
        datain(c, s, itt, bytes(inq)[:edtl])
    elif op == 0x9E:
        rc = struct.pack(">QI", BLOCKS - 1, BS) + b"\0" * 20
        datain(c, s, itt, rc[:edtl])
    elif op == 0x25:
        datain(c, s, itt, struct.pack(">II", BLOCKS - 1, BS)[:edtl])
    elif op == 0x28:
        if state["armed"]:
            state["armed"] = False
            return misbehave(c, s, itt, edtl, h)
        datain(c, s, itt, bytes([0x5a]) * edtl)
    else:
        rsp(c, s, itt)
    return True

def misbehave(c, s, itt, edtl, h):
    log.write("misbehave %s\n" % case)
    if case == "wrong_itt":
        rsp(c, s, itt ^ 0x00ff0000)
    elif case == "beyond":
        hh = hdr(0x25, 0, itt, s, stat=False)
        hh[40:44] = struct.pack(">I", edtl)
        send(c, hh, b"x" * 512)
    elif case == "statsn":
        s.statsn += 7
        rsp(c, s, itt)
    elif case == "datasn":
        hh = hdr(0x25, 0, itt, s, stat=False)
        hh[36:40] = struct.pack(">I", 5)
        send(c, hh, b"x" * 512)
    elif case == "bigdsl":
        hh = hdr(0x25, 0, itt, s, stat=False)
        hh[5:8] = (0xffffff).to_bytes(3, "big")
        c.sendall(bytes(hh))
        time.sleep(0.5)
    elif case == "garbage":
        c.sendall(bytes(range(48)) * 4)
        time.sleep(0.5)
    elif case == "r2t_read":
        hh = hdr(0x31, 0x80, itt, s, stat=False)
        hh[20:24] = struct.pack(">I", 1)
        hh[44:48] = struct.pack(">I", 512)
        send(c, hh)
    elif case == "drop":
        return False
    elif case == "async_drop":
        hh = hdr(0x32, 0x80, 0xffffffff, s, stat=False)
        hh[36] = 2
        send(c, hh)
    elif case == "async_logout":
        hh = hdr(0x32, 0x80, 0xffffffff, s, stat=False)
        hh[36] = 1
        send(c, hh)
        state["pending"] = itt
    elif case in ("abort", "reset"):
        state["pending"] = itt
        state["edtl"] = edtl
    return True

def tmf(c, s, h):
    func = h[1] & 0x7f
    itt = struct.unpack(">I", h[16:20])[0]
    ref = struct.unpack(">I", h[20:24])[0]
    r = hdr(0x22, 0x80, itt, s)
    if func == 1:
        ok = ref == state.get("pending")
        log.write("abort-task ref-ok=%d\n" % ok)
        if case == "reset":
            r[2] = 255            # function rejected
        elif ok:
            state.pop("pending", None)
            r[2] = 0
        else:
            r[2] = 1
    elif func == 5:
        log.write("lun-reset\n")
        state.pop("pending", None)
        r[2] = 0
    else:
        r[2] = 5
    send(c, r)

def serve(c):
    s = S()
    h, d = pdu(c)
    # login: security stage answered with T to operational, then done
    while True:
        if h[0] & 0x3f != 0x03:
            return
        csg = (h[1] >> 2) & 3
        r = bytearray(48)
        r[0] = 0x23
        nsg = 1 if csg == 0 else 3
        r[1] = 0x80 | (csg << 2) | nsg
        r[8:14] = h[8:14]
        r[14:16] = b"\x00\x07" if nsg == 3 else b"\0\0"
        r[16:20] = h[16:20]
        r[24:28] = struct.pack(">I", s.statsn)
        r[28:32] = struct.pack(">I", 1)
        r[32:36] = struct.pack(">I", 64)
        txt = b"MaxRecvDataSegmentLength=65536\0" if nsg == 3 else b""
        send(c, r, txt)
        if nsg == 3:
            s.statsn += 1
            break
        h, d = pdu(c)
    log.write("login\n")
    # ping the initiator once
    p = hdr(0x20, 0x80, 0xffffffff, s, stat=False)
    p[20:24] = struct.pack(">I", 0x1234)
    send(c, p, b"ping")
    while True:
        h, d = pdu(c)
        op = h[0] & 0x3f
        if op == 0x01:
            if not scsi(c, s, h, d):
                return
        elif op == 0x00:
            ttt = struct.unpack(">I", h[20:24])[0]
            if ttt == 0x1234:
                log.write("nop-out echo %s\n" % (d == b"ping"))
            else:
                itt = struct.unpack(">I", h[16:20])[0]
                send(c, hdr(0x20, 0x80, itt, s))
        elif op == 0x02:
            tmf(c, s, h)
        elif op == 0x06:
            log.write("logout\n")
            itt = struct.unpack(">I", h[16:20])[0]
            send(c, hdr(0x26, 0x80, itt, s))
            return
        else:
            log.write("unexpected op 0x%02x\n" % op)

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port))
ls.listen(4)
while True:
    c, _ = ls.accept()
    try:
        serve(c)
    except (EOFError, ConnectionError):
        pass
    c.close()
EOF

run_case() {
	local case=$1 opts=${2:-} fp out
	: >"$T/$case.log"
	python3 "$T/fake.py" "$PORT" "$case" "$T/$case.log" &
	fp=$!
	SK_PIDS+=("$fp")
	sk_wait_tcp "$PORT"
	rm -f "$T/out"
	if ! out=$(timeout 60 "$SCSIKIT" cam --sim \
		"iscsi://127.0.0.1:$PORT/iqn.fake:t/0?nop=0&backoff=50" \
		read 0:0:0 --lba 8 --count 8 --out "$T/out" $opts 2>&1); then
		kill "$fp" 2>/dev/null || true
		fail "$case: read failed: $out"
	fi
	kill "$fp" 2>/dev/null || true
	wait "$fp" 2>/dev/null || true
	head -c 4096 /dev/zero | tr '\0' 'Z' | cmp - "$T/out" ||
		fail "$case: wrong data"
	grep -q "misbehave $case" "$T/$case.log" ||
		fail "$case: the target never misbehaved"
	grep -q "nop-out echo True" "$T/$case.log" ||
		fail "$case: our NOP-In was not answered"
}

for c in wrong_itt beyond statsn datasn bigdsl garbage r2t_read drop \
	async_drop async_logout; do
	run_case "$c"
	n=$(grep -c "^login" "$T/$c.log")
	[ "$n" -ge 2 ] || fail "$c: no reconnect ($n logins)"
	echo "$c: recovered"
done
grep -q "^logout" "$T/async_logout.log" || fail "async_logout: no logout"

# ABORT TASK on the command held by the target, after the XPT timeout.
run_case abort "--timeout 1000 -C 2"
grep -q "abort-task ref-ok=1" "$T/abort.log" || fail "abort: no ABORT TASK"
echo "abort: ABORT TASK answered, command retried"
# ABORT TASK refused: the XPT escalates to a device reset (LUN RESET).
run_case reset "--timeout 1000 -C 2"
grep -q "lun-reset" "$T/reset.log" || fail "reset: no LUN RESET"
echo "reset: LUN RESET after a refused abort, command retried"
echo ok
