#!/usr/bin/env bash
# Install the Debian packages scsikit needs, quietly and only when missing.
#   scripts/deps.sh build   compilers and libraries to build scsikit
#   scripts/deps.sh test    the above plus the real peers the tests drive
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config libcmocka-dev)
test_pkgs=(libiscsi-bin libnbd-bin nbdkit nbd-client qemu-utils fio tgt
	e2fsprogs fuse3 python3 util-linux mount procps iproute2 psmisc)

want=("${build_pkgs[@]}")
if [ "${1:-build}" = test ]; then
	want+=("${test_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
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
