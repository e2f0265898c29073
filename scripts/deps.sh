#!/usr/bin/env bash
# Install the Debian packages scsikit needs (scripts/deps.list), quietly
# and only when missing, or check that what they provide is present.
#   scripts/deps.sh build        compilers and libraries to build scsikit
#   scripts/deps.sh test         the above plus the real peers the tests drive
#   scripts/deps.sh check [SET]  fail, naming each, if anything SET declares
#                                is absent (SET: build or test, default test)
set -euo pipefail
here=$(dirname "$0")
list=$here/deps.list

# packages SET: the packages of SET (test includes build).
packages() {
	awk -v set="$1" '!/^#/ && NF >= 2 && ($2 == "build" || set == "test") { print $1 }' "$list"
}

# provides SET: "package item" lines for everything SET declares.
provides() {
	awk -v set="$1" '!/^#/ && NF >= 3 && ($2 == "build" || set == "test") {
		for (i = 3; i <= NF; i++) print $1, $i }' "$list"
}

have_qemu_driver() {
	local d
	for d in /usr/lib/*/qemu /usr/lib/qemu /usr/lib64/qemu; do
		[ -e "$d/block-$1.so" ] && return 0
	done
	return 1
}

check() {
	local set=$1 bad=0 pkg item kind name
	while read -r pkg item; do
		kind=${item%%:*}
		name=${item#*:}
		case $kind in
		cmd) command -v "$name" >/dev/null 2>&1 ;;
		qemu) have_qemu_driver "$name" ;;
		py) /usr/bin/python3 -c "import $name" >/dev/null 2>&1 ;;
		fio) fio --enghelp 2>/dev/null | grep -qw "$name" ;;
		pc) pkg-config --exists "$name" ;;
		h) [ -e "/usr/include/$name" ] ;;
		*) echo "scsikit: deps.list: unknown kind '$kind' ($pkg)" >&2; false ;;
		esac || {
			echo "scsikit: missing $item (Debian package $pkg)" >&2
			bad=1
		}
	done < <(provides "$set")
	if [ "$bad" -ne 0 ]; then
		echo "scsikit: run scripts/deps.sh $set as root to install what is missing" >&2
		exit 1
	fi
}

case ${1:-build} in
build | test) set=${1:-build} ;;
check)
	check "${2:-test}"
	exit 0
	;;
*)
	echo "usage: scripts/deps.sh [build|test|check [build|test]]" >&2
	exit 2
	;;
esac

missing=()
for p in $(packages "$set"); do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "scsikit: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "scsikit: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
