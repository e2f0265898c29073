#!/usr/bin/env bash
# A real file system on an NBD export of a file disk: nbdfuse, losetup,
# mkfs.ext4, mount, write a tree, unmount, e2fsck -fn clean, mount again and
# verify every file; finally e2fsck the backing file after the daemon has
# stopped.  Skips (77) without root, /dev/fuse or loop devices.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_init
PORT=$(sk_port 22130 10)

[ "$(id -u)" -eq 0 ] || sk_skip "needs root (losetup, mount)"
[ -c /dev/fuse ] || sk_skip "no /dev/fuse"
[ -e /dev/loop-control ] || sk_skip "no loop devices (/dev/loop-control)"
sk_need nbdfuse losetup mkfs.ext4 e2fsck mount umount md5sum

LOOP=
fs_cleanup() {
	mountpoint -q "$T/mnt" 2>/dev/null && umount "$T/mnt"
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	mountpoint -q "$T/fuse" 2>/dev/null && umount "$T/fuse"
	return 0
}
sk_trap fs_cleanup

truncate -s 256M "$T/fs.img"
sk_serve --iscsi none --xdisk none --vscsi none \
	--nbd "127.0.0.1:$PORT" --disk fs="file:$T/fs.img"
sk_wait_tcp "$PORT"

mkdir "$T/fuse" "$T/mnt"
nbdfuse "$T/fuse" "nbd://127.0.0.1:$PORT/fs" &
SK_PIDS+=($!)
for i in $(seq 1 100); do
	[ -e "$T/fuse/nbd" ] && break
	sleep 0.1
done
[ -e "$T/fuse/nbd" ] || fail "nbdfuse did not mount within 10 s"
LOOP=$(losetup -f --show "$T/fuse/nbd") || sk_skip "losetup failed (no free loop device?)"

mkfs.ext4 -q -F "$LOOP" || fail "mkfs.ext4"
mount "$LOOP" "$T/mnt" || sk_skip "mount of the loop device failed"
# A tree: nested directories, files of many sizes, a copy of the sources.
for d in a a/b a/b/c x y/z; do mkdir -p "$T/mnt/$d"; done
for i in $(seq 1 40); do
	head -c $((i * 7919 + i * i * 131)) /dev/urandom >"$T/mnt/a/b/f$i"
done
head -c $((24 << 20)) /dev/urandom >"$T/mnt/x/big"
cp -r "$SK_SRC/src" "$T/mnt/y/z/"
ln -s ../x/big "$T/mnt/a/link"
(cd "$T/mnt" && find . -type f -print0 | sort -z | xargs -0 md5sum) >"$T/sums"
[ "$(wc -l <"$T/sums")" -gt 50 ] || fail "tree too small"
umount "$T/mnt"

e2fsck -fn "$LOOP" >"$T/fsck1" 2>&1 || { cat "$T/fsck1" >&2; fail "e2fsck after unmount"; }
mount "$LOOP" "$T/mnt" || fail "second mount"
(cd "$T/mnt" && md5sum --quiet -c "$T/sums") || fail "files differ after remount"
[ "$(readlink "$T/mnt/a/link")" = "../x/big" ] || fail "symlink lost"
umount "$T/mnt"
losetup -d "$LOOP"
LOOP=
umount "$T/fuse"
sk_stop
# The backing file alone holds a clean file system.
e2fsck -fn "$T/fs.img" >"$T/fsck2" 2>&1 || { cat "$T/fsck2" >&2; fail "e2fsck of the backing file"; }
echo "nbd_fs: OK"
