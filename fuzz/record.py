#!/usr/bin/env python3
"""A recording relay for building the fuzz seed corpus (fuzz/mkcorpus.sh).

    record.py LISTEN TARGET OUTDIR

LISTEN and TARGET are host:port or a Unix socket path.  Every connection
accepted on LISTEN is relayed to TARGET unchanged, and the bytes each side
sent are written to OUTDIR/<n>.c2s and OUTDIR/<n>.s2c.  Runs until killed.
"""
import os
import socket
import sys
import threading


def endpoint(spec):
    if "/" in spec:
        return socket.AF_UNIX, spec
    host, port = spec.rsplit(":", 1)
    return socket.AF_INET, (host, int(port))


def pump(src, dst, log):
    with open(log, "wb") as f:
        while True:
            try:
                b = src.recv(65536)
            except OSError:
                b = b""
            if not b:
                break
            f.write(b)
            f.flush()
            try:
                dst.sendall(b)
            except OSError:
                break
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    lfam, laddr = endpoint(sys.argv[1])
    tfam, taddr = endpoint(sys.argv[2])
    out = sys.argv[3]
    os.makedirs(out, exist_ok=True)
    ls = socket.socket(lfam, socket.SOCK_STREAM)
    if lfam == socket.AF_INET:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(laddr)
    ls.listen(64)
    n = 0
    while True:
        c, _ = ls.accept()
        t = socket.socket(tfam, socket.SOCK_STREAM)
        t.connect(taddr)
        base = os.path.join(out, str(n))
        n += 1
        threading.Thread(target=pump, args=(c, t, base + ".c2s"),
                         daemon=True).start()
        threading.Thread(target=pump, args=(t, c, base + ".s2c"),
                         daemon=True).start()


if __name__ == "__main__":
    main()
