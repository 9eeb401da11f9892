#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Installs the Debian packages that building, testing and benchmarking
# need. Idempotent; run as root. With --check, installs nothing and exits 1
# (listing them) when some are missing.
set -eu

PACKAGES="
build-essential
clang
libclang-rt-14-dev
meson
ninja-build
pkg-config
python3
libglib2.0-dev
libjson-glib-dev
libgnutls28-dev
liburing-dev
zlib1g-dev
libzstd-dev
libcap-ng-dev
gnutls-bin
util-linux
iproute2
qemu-utils
qemu-system-x86
nbdkit
libnbd-bin
fio
bc
nbd-server
linux-image-amd64
busybox-static
sg3-utils
cpio
dmsetup
libdevmapper-dev
multipath-tools
"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
            grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ "${1:-}" = "--check" ]; then
    if [ -n "$missing" ]; then
        echo "missing packages:$missing" >&2
        exit 1
    fi
    exit 0
fi

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: run as root to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
