#!/usr/bin/env bash
# Something to install: `cmake --install` into a temporary prefix puts the
# scsikit binary, libscsikit (static and shared) with its public headers
# and a pkg-config file, the man pages, the systemd unit and the bash
# completion in place; each is then checked for what it is for: the pages
# render without a warning and document every option the command's
# tables accept, the .pc file builds and links a program (shared and
# static), the unit passes systemd-analyze verify, the daemon sends
# READY=1 and STOPPING=1 to $NOTIFY_SOCKET, and the completion script
# completes subcommands and options in bash.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
sk_need cmake man groff pkg-config gcc nm ldd systemd-analyze bash python3
sk_init
: "${SK_BUILD:?}"

P="$T/inst"
cmake --install "$SK_BUILD" --prefix "$P" >"$T/install.log" ||
	{ cat "$T/install.log" >&2; fail "cmake --install"; }
LIB=$(dirname "$(find "$P" -name libscsikit.a | head -1)")
[ -n "$LIB" ] && [ "$LIB" != . ] || fail "libscsikit.a not installed"
PAGES=(scsikit scsikit-serve scsikit-cam scsikit-attach scsikit-vscsi-target)
for f in bin/scsikit "${LIB#"$P/"}/libscsikit.so" \
	"${LIB#"$P/"}/pkgconfig/scsikit.pc" include/scsikit/api.h \
	include/scsikit/bdev.h lib/systemd/system/scsikit.service \
	share/bash-completion/completions/scsikit; do
	[ -s "$P/$f" ] || fail "$f not installed"
done
for h in "$SK_SRC"/include/scsikit/*.h; do
	[ -s "$P/include/scsikit/$(basename "$h")" ] ||
		fail "header $(basename "$h") not installed"
done
"$P/bin/scsikit" --version | grep -q '^scsikit [0-9]' || fail "installed binary"

# Man pages: each renders without a warning.
for p in "${PAGES[@]}"; do
	f="$P/share/man/man8/$p.8"
	[ -s "$f" ] || fail "man page $p.8 not installed"
	MANWIDTH=80 man --warnings -l "$f" >"$T/page.txt" 2>"$T/man.err" ||
		fail "man -l $p.8 failed"
	[ ! -s "$T/man.err" ] || { cat "$T/man.err" >&2; fail "$p.8: warnings"; }
	grep -q "^NAME" "$T/page.txt" || fail "$p.8 has no NAME section"
done

# The completion script: loads, is bound to scsikit, completes.
C="$P/share/bash-completion/completions/scsikit"
complete_words() { # complete_words WORD... : COMPREPLY for the last word
	bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_scsikit; echo "${COMPREPLY[*]}"' _ "$C" "$@"
}
bash -c '. "$1"; complete -p scsikit' _ "$C" | grep -q -- '-F _scsikit scsikit' ||
	fail "completion not bound to scsikit"
[ "$(complete_words scsikit di)" = disk ] || fail "scsikit di<TAB>"
[ "$(complete_words scsikit disk li)" = list ] || fail "scsikit disk li<TAB>"
[ "$(complete_words scsikit disk --js)" = --json ] || fail "disk --js<TAB>"
[ "$(complete_words scsikit serve --nbd-max-c)" = --nbd-max-conns ] ||
	fail "serve --nbd-max-c<TAB>"
[ "$(complete_words scsikit cam --si)" = --sim ] || fail "cam --si<TAB>"
complete_words scsikit attach --socket "$T/" >/dev/null

# Every option the command accepts (the completion comes from the parser's
# tables and the front ends' --help) is in its man page, and every
# subcommand has one.
for cmd in $(complete_words scsikit ""); do
	case $cmd in
	-*) continue ;;
	serve | cam | attach | vscsi-target) page=scsikit-$cmd ;;
	*) page=scsikit ;;
	esac
	MANWIDTH=200 man -l "$P/share/man/man8/$page.8" 2>/dev/null >"$T/page.txt"
	grep -qE "(^|[^a-z-])$cmd([^a-z-]|\$)" "$T/page.txt" ||
		fail "command $cmd missing from $page(8)"
	for opt in $(complete_words scsikit "$cmd" -); do
		grep -qE -- "(^|[^a-zA-Z-])$opt([^a-zA-Z-]|\$)" "$T/page.txt" ||
			fail "option $opt of scsikit $cmd missing from $page(8)"
	done
done

# pkg-config, and a program built against the installed library.
export PKG_CONFIG_PATH="$LIB/pkgconfig"
pkg-config --exists scsikit || fail "pkg-config does not find scsikit"
[ "$(pkg-config --modversion scsikit)" = "$("$P/bin/scsikit" --version | cut -d' ' -f2)" ] ||
	fail "pkg-config version"
cat >"$T/prog.c" <<'C'
#include <stdio.h>
#include <scsikit/api.h>
#include <scsikit/bdev.h>

int main(void)
{
	struct bdev *bd = bdev_mem_create("probe", 1 << 20, 512, false);
	uint64_t n;

	if (!bd || bdev_geometry(bd)->size != 1 << 20 ||
	    sk_parse_size("64K", &n) < 0 || n != 65536)
		return 1;
	bdev_release(bd);
	printf("scsikit %s\n", SCSIKIT_VERSION_STRING);
	return 0;
}
C
SAN=()
# (A sanitizer build's library needs its runtime in the program too.)
nm "$LIB/libscsikit.a" >"$T/nm.out" 2>/dev/null || true
if grep -q __asan_ "$T/nm.out"; then
	SAN=(-fsanitize=address,undefined)
fi
# shellcheck disable=SC2046
gcc "${SAN[@]}" -o "$T/prog" "$T/prog.c" $(pkg-config --cflags --libs scsikit) ||
	fail "cannot build against the shared library"
LD_LIBRARY_PATH="$LIB" "$T/prog" | grep -q '^scsikit ' || fail "shared program"
# shellcheck disable=SC2046
gcc "${SAN[@]}" -o "$T/prog_static" "$T/prog.c" $(pkg-config --cflags scsikit) \
	"$LIB/libscsikit.a" $(pkg-config --static --libs-only-other --libs-only-l scsikit | sed 's/-lscsikit//') ||
	fail "cannot build against the static library"
"$T/prog_static" | grep -q '^scsikit ' || fail "static program"
ldd "$T/prog_static" | grep -q libscsikit && fail "static program uses the .so"

# The unit: systemd's own check (it needs no running systemd).
U="$P/lib/systemd/system/scsikit.service"
grep -q "^ExecStart=$P/bin/scsikit serve" "$U" || fail "ExecStart"
grep -q '^Type=notify$' "$U" || fail "Type=notify"
# (It looks the Documentation= pages up with man: ours are in $P.)
MANPATH="$P/share/man:" systemd-analyze verify "$U" >"$T/verify.out" 2>&1 ||
	{ cat "$T/verify.out" >&2; fail "systemd-analyze verify"; }
[ ! -s "$T/verify.out" ] || { cat "$T/verify.out" >&2; fail "unit warnings"; }

# sd_notify: READY=1 once the listeners are up, STOPPING=1 at the end.
NP=$(sk_port 26200)
python3 - "$T/notify" "$P/bin/scsikit" "$T/ctl.sock" "$NP" <<'PY' ||
import os, socket, subprocess, sys
path, exe, ctl, port = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(15)
env = dict(os.environ, NOTIFY_SOCKET=path)
d = subprocess.Popen([exe, "serve", "--socket", ctl, "--iscsi", "none",
                      "--xdisk", "none", "--nbd", "127.0.0.1:" + port],
                     env=env, stderr=subprocess.DEVNULL)
try:
    msg = s.recv(4096)
    assert msg == b"READY=1", msg
    # Ready means serving: the NBD listener accepts now.
    socket.create_connection(("127.0.0.1", int(port)), timeout=5).close()
    subprocess.run([exe, "shutdown", "--socket", ctl], check=True)
    msg = s.recv(4096)
    assert msg == b"STOPPING=1", msg
    assert d.wait(15) == 0
finally:
    if d.poll() is None:
        d.kill()
PY
	fail "sd_notify"
