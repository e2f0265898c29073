"""A raw NBD client for the integration tests: sends what real clients
never send, so the server's handling of bad input can be checked.  The wire
format is in docs/nbd.md.  Imported by the nbd_*.sh scripts."""
import socket, struct, sys
M_OPT = 0x49484156454F5054
M_REQ, M_SIMPLE, M_STRUCT = 0x25609513, 0x67446698, 0x668E33EF
def conn(addr):
    if addr.startswith("/"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(addr)
    else:
        h, p = addr.rsplit(":", 1)
        s = socket.create_connection((h, int(p)))
    s.settimeout(10)
    return s
def rd(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("closed after %d of %d bytes" % (len(b), n))
        b += c
    return b
def greet(s, cflags=1):
    m, o, f = struct.unpack(">QQH", rd(s, 18))
    assert m == 0x4E42444D41474943 and o == M_OPT, "bad greeting"
    s.sendall(struct.pack(">I", cflags))
def opt(s, o, data=b""):
    s.sendall(struct.pack(">QII", M_OPT, o, len(data)) + data)
def opt_reply(s):
    m, o, t, n = struct.unpack(">QIII", rd(s, 20))
    assert m == 0x3E889045565A9, "bad option reply magic"
    return o, t, rd(s, n)
def go(s, name=b"", structured=False):
    if structured:
        opt(s, 8)
        assert opt_reply(s)[1] == 1
    opt(s, 7, struct.pack(">I", len(name)) + name + struct.pack(">H", 0))
    size = flags = None
    while True:
        o, t, d = opt_reply(s)
        if t == 1:
            return size, flags
        assert t == 3, "GO failed: %#x %r" % (t, d)
        if struct.unpack(">H", d[:2])[0] == 0:
            size, flags = struct.unpack(">QH", d[2:12])
def open_export(addr, name=b"", structured=False):
    s = conn(addr)
    greet(s)
    size, flags = go(s, name, structured)
    return s, size, flags
def req(s, typ, off=0, n=0, flags=0, cookie=1, payload=b""):
    s.sendall(struct.pack(">IHHQQI", M_REQ, flags, typ, cookie, off, n) + payload)
def reply(s):
    """(error, cookie, payload) of a simple reply or of one chunk."""
    m = struct.unpack(">I", rd(s, 4))[0]
    if m == M_SIMPLE:
        e, c = struct.unpack(">IQ", rd(s, 12))
        return e, c, b""
    assert m == M_STRUCT, "bad reply magic %#x" % m
    fl, t, c, n = struct.unpack(">HHQI", rd(s, 16))
    d = rd(s, n)
    if t & 0x8000:
        return struct.unpack(">I", d[:4])[0], c, d
    return 0, c, d
def closed(s, timeout=10):
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
