#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The allocation map of a range zeroed over NBD, as the demo shows it, on a
# disk file system (ext4 here, never tmpfs): write, write -z, map, read the
# zeroed range, map again. ext4 keeps a zeroed range as an unwritten
# extent, which SEEK_DATA calls a hole until the page cache holds
# up-to-date pages for it, so a map may change after a read. That is the
# file system's answer, not the server's: our qemu-nbd must give the same
# maps as Debian's at every step, and the data must read back right.
. "$SRCDIR/tests/interop/common.sh"
: "${QEMU_IO_OURS:?QEMU_IO_OURS must name the qemu-io under test}"
: "${QEMU_IMG_OURS:?QEMU_IMG_OURS must name the qemu-img under test}"
QIO=$QEMU_IO_OURS
QIMG=$QEMU_IMG_OURS
DEB_NBD=${DEB_QEMU_NBD:-/usr/bin/qemu-nbd}

# A directory on a disk file system: $TMP unless that is tmpfs.
IMGDIR=$TMP
if [ "$(stat -f -c %T "$IMGDIR")" = tmpfs ]; then
    IMGDIR=$(mktemp -d /var/tmp/nbd-map.XXXXXX) || skip "no /var/tmp"
    trap 'rc=$?; rm -rf "$IMGDIR"; (exit $rc); cleanup' EXIT
    [ "$(stat -f -c %T "$IMGDIR")" != tmpfs ] ||
        skip "no disk file system: /tmp and /var/tmp are tmpfs"
fi

# Runs the sequence against server $1 (a qemu-nbd), writing the maps to
# $TMP/$2.map1 (after write -z) and $TMP/$2.map2 (after reading it).
run_sequence() {
    local server=$1 tag=$2 uri pid
    local img=$IMGDIR/$tag.img sock=$TMP/$tag.sock

    rm -f "$img"
    truncate -s 64M "$img"
    start_daemon "$tag" "$TMP/$tag.pid" "$server" -t -f raw -x demo \
        -k "$sock" --fork --pid-file "$TMP/$tag.pid" "$img" ||
        fail "$tag: qemu-nbd did not start: $(cat "$TMP/$tag.log")"
    uri="nbd+unix:///demo?socket=$sock"
    "$QIO" -f raw "$uri" -c 'write -P 0xab 0 4M' -c 'write -P 0xcd 16M 1M' \
        -c 'write -z 1M 1M' >"$TMP/$tag.w" ||
        fail "$tag: writes: $(cat "$TMP/$tag.w")"
    "$QIMG" map --output=json -f raw "$uri" >"$TMP/$tag.map1" ||
        fail "$tag: first map"
    if have nbdinfo; then
        nbdinfo --map "$uri" >>"$TMP/$tag.map1" || fail "$tag: nbdinfo"
    fi
    "$QIO" -f raw "$uri" -c 'read -P 0xab 0 1M' -c 'read -P 0 1M 1M' \
        -c 'read -P 0xab 2M 2M' -c 'read -P 0xcd 16M 1M' \
        -c 'read -P 0 17M 47M' >"$TMP/$tag.r" ||
        fail "$tag: data read back wrong: $(cat "$TMP/$tag.r")"
    if have nbdcopy; then
        nbdcopy "$uri" "$TMP/$tag.copy" || fail "$tag: nbdcopy"
        cmp "$img" "$TMP/$tag.copy" || fail "$tag: nbdcopy's copy differs"
    fi
    "$QIMG" map --output=json -f raw "$uri" >"$TMP/$tag.map2" ||
        fail "$tag: second map"
    if have nbdinfo; then
        nbdinfo --map "$uri" >>"$TMP/$tag.map2" || fail "$tag: nbdinfo"
    fi
    pid=$(cat "$TMP/$tag.pid")
    kill "$pid"
    wait_gone "$pid" 10 || fail "$tag: qemu-nbd did not stop"
}

run_sequence "$QEMU_NBD" ours
# Whatever the file system says, the written data must be data.
grep -q '"start": 0, "length": [0-9]*, .*"data": true' "$TMP/ours.map1" ||
    fail "first MiB not mapped as data: $(cat "$TMP/ours.map1")"
grep -q '"start": 16777216, "length": [0-9]*, .*"data": true' \
    "$TMP/ours.map2" || fail "16M not mapped as data: $(cat "$TMP/ours.map2")"
ok "our qemu-nbd: data read back, maps taken"

if [ -x "$DEB_NBD" ]; then
    run_sequence "$DEB_NBD" deb
    for m in map1 map2; do
        diff -u "$TMP/deb.$m" "$TMP/ours.$m" >"$TMP/$m.diff" ||
            fail "$m differs from Debian's qemu-nbd: $(cat "$TMP/$m.diff")"
    done
    ok "same maps as Debian's qemu-nbd after write -z and after the read"
else
    skip_part "comparison with Debian's qemu-nbd: it is not installed"
fi
