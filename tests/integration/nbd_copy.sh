#!/usr/bin/env bash
# A 256 MiB random image copied into an export with nbdcopy and back out
# (memory and file disks, TCP and Unix socket), compared with cmp and with
# qemu-img compare against the live export.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=$(sk_port 22120 10)

sk_need nbdcopy qemu-img
head -c $((256 << 20)) /dev/urandom >"$T/img"
sk_serve --iscsi none --xdisk none --vscsi none \
	--nbd "127.0.0.1:$PORT" --nbd-unix "$T/nbd.sock" \
	--disk m=mem:256M --disk f="file:$T/back.img,size=256M"
sk_wait_tcp "$PORT"

# Into the memory disk over TCP, back out over the Unix socket.
timeout 300 nbdcopy "$T/img" "nbd://127.0.0.1:$PORT/m" || fail "nbdcopy in (m)"
timeout 300 nbdcopy "nbd+unix:///m?socket=$T/nbd.sock" "$T/out.m" ||
	fail "nbdcopy out (m)"
cmp "$T/img" "$T/out.m" || fail "image read back from m differs"
timeout 300 qemu-img compare -f raw -F raw "$T/img" "nbd://127.0.0.1:$PORT/m" ||
	fail "qemu-img compare (m)"

# Into the file disk over the Unix socket, out over TCP.
timeout 300 nbdcopy "$T/img" "nbd+unix:///f?socket=$T/nbd.sock" ||
	fail "nbdcopy in (f)"
timeout 300 nbdcopy "nbd://127.0.0.1:$PORT/f" "$T/out.f" || fail "nbdcopy out (f)"
cmp "$T/img" "$T/out.f" || fail "image read back from f differs"
timeout 300 qemu-img compare -f raw -F raw "$T/img" \
	"nbd+unix:///f?socket=$T/nbd.sock" || fail "qemu-img compare (f)"
sk_stop
# Everything acknowledged reached the backing file.
cmp "$T/img" "$T/back.img" || fail "backing file differs after shutdown"
echo "nbd_copy: OK"
