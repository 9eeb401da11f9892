#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Demo of qemu-nbd: makes a 64 MiB raw image, serves it over a UNIX
# socket, and lets real NBD clients from Debian use it: QEMU's qemu-nbd
# and our own list the export, qemu-io writes and reads patterns, nbdinfo
# maps it, nbdcopy copies it out, and the copy is checked by SHA-256.
#   usage: scripts/demo-nbd.sh [path/to/qemu-nbd]
set -euo pipefail

QEMU_NBD=${1:-build/qemu-nbd}
QEMU_NBD=$(readlink -f "$QEMU_NBD")
DIR=$(mktemp -d /tmp/qemu-nbd-demo.XXXXXX)
PID=""
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

step() {
    printf '\n\033[1m==> %s\033[0m\n' "$*"
}

step "Create a 64 MiB sparse raw image"
truncate -s 64M "$DIR/demo.img"
ls -ls "$DIR/demo.img"

step "Start our qemu-nbd on a UNIX socket (--fork returns once it listens)"
echo "\$ qemu-nbd -t -f raw -x demo -D 'demo disk' -A -k $DIR/nbd.sock --fork --pid-file $DIR/pid $DIR/demo.img"
"$QEMU_NBD" -t -f raw -x demo -D "demo disk" -A -k "$DIR/nbd.sock" \
    --fork --pid-file "$DIR/pid" "$DIR/demo.img"
PID=$(cat "$DIR/pid")
echo "server pid $PID"
URI="nbd+unix:///demo?socket=$DIR/nbd.sock"

step "List the exports with our qemu-nbd -L"
"$QEMU_NBD" -L -k "$DIR/nbd.sock"

if command -v qemu-io >/dev/null; then
    step "QEMU's qemu-io writes two patterns and a zeroed range, reads them back"
    qemu-io -f raw "$URI" \
        -c 'write -P 0xab 0 4M' -c 'write -P 0xcd 16M 1M' \
        -c 'write -z 1M 1M' \
        -c 'read -P 0xab 0 1M' -c 'read -P 0 1M 1M' \
        -c 'read -P 0xab 2M 2M' -c 'read -P 0xcd 16M 1M'
fi

if command -v nbdinfo >/dev/null; then
    step "libnbd's nbdinfo: the export and its allocation map"
    nbdinfo "$URI"
    nbdinfo --map "$URI"
fi

if command -v nbdcopy >/dev/null; then
    step "libnbd's nbdcopy copies the export out; compare with the image"
    nbdcopy "$URI" "$DIR/copy.img"
    sha256sum "$DIR/demo.img" "$DIR/copy.img"
    [ "$(sha256sum <"$DIR/demo.img")" = "$(sha256sum <"$DIR/copy.img")" ]
    echo "copy identical"
fi

if command -v qemu-img >/dev/null; then
    step "QEMU's qemu-img map (JSON) through the server"
    echo "(1M-2M may now be data where nbdinfo saw a hole: ext4 keeps a zeroed"
    echo " range as an unwritten extent, a hole to SEEK_DATA until the page"
    echo " cache holds its pages, as nbdcopy's reads left them; QEMU's qemu-nbd"
    echo " answers the same. tests/functional/nbd-map-ext4.sh checks this.)"
    qemu-img map --output=json -f raw "$URI"
fi

step "Stop the server"
kill "$PID"
for _ in $(seq 50); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
done
PID=""
echo "done"
