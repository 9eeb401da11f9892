#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Our qemu-nbd against libnbd's tools: nbdinfo (--list, --map for both
# metadata contexts, --can/--is, --size) and nbdcopy in and out, with the
# data compared by SHA-256.
. "$(dirname "$0")/common.sh"
need nbdinfo nbdcopy python3

make_image "$TMP/disk.img" 32M
start_nbd srv -t -f raw -k "$TMP/sock" -x exp0 -D "test disk" -A \
    "$TMP/disk.img" || fail "qemu-nbd did not start"
URI="nbd+unix:///exp0?socket=$TMP/sock"

nbdinfo --list "nbd+unix:///?socket=$TMP/sock" >"$TMP/list.txt" ||
    fail "nbdinfo --list"
grep -q 'export="exp0"' "$TMP/list.txt" || fail "export not listed"
grep -q 'description: test disk' "$TMP/list.txt" ||
    fail "description not listed"
grep -q 'base:allocation' "$TMP/list.txt" || fail "base:allocation missing"
grep -q 'qemu:allocation-depth' "$TMP/list.txt" ||
    fail "qemu:allocation-depth missing"
ok "nbdinfo --list"

[ "$(nbdinfo --size "$URI")" = 33554432 ] || fail "nbdinfo --size"
for can in flush fua trim zero fast-zero cache df multi-conn; do
    nbdinfo --can "$can" "$URI" || fail "nbdinfo --can $can"
done
nbdinfo --is readonly "$URI" && fail "writable export reported read-only"
ok "nbdinfo --can flush fua trim zero fast-zero cache df multi-conn"

# Data at 4M..6M, the rest a hole.
head -c 32M /dev/zero >"$TMP/src.img"
head -c 2M /dev/urandom | dd of="$TMP/src.img" bs=1M seek=4 conv=notrunc \
    status=none
truncate -s 32M "$TMP/sparse.img"
dd if="$TMP/src.img" of="$TMP/sparse.img" bs=1M skip=4 seek=4 count=2 \
    conv=notrunc status=none

nbdcopy "$TMP/sparse.img" "$URI" || fail "nbdcopy into the export"
nbdcopy "$URI" "$TMP/out.img" || fail "nbdcopy out of the export"
[ "$(sha "$TMP/out.img")" = "$(sha "$TMP/src.img")" ] ||
    fail "nbdcopy round trip changed the data"
[ "$(sha "$TMP/disk.img")" = "$(sha "$TMP/src.img")" ] ||
    fail "image file differs from what nbdcopy wrote"
ok "nbdcopy in and out, sha256 equal"

nbdinfo --map "$URI" >"$TMP/map.txt" || fail "nbdinfo --map"
python3 - "$TMP/map.txt" <<'PY' || fail "base:allocation map: $(cat "$TMP/map.txt")"
import sys
MiB = 1 << 20
ext = []
for line in open(sys.argv[1]):
    off, length, flags = line.split()[:3]
    ext.append((int(off), int(length), int(flags)))
assert sum(e[1] for e in ext) == 32 * MiB, ext
for off, length, flags in ext:
    if off < 6 * MiB and off + length > 4 * MiB:
        assert flags == 0, ("data reported as hole/zero", ext)
PY
nbdinfo --map=qemu:allocation-depth "$URI" >"$TMP/depth.txt" ||
    fail "nbdinfo --map=qemu:allocation-depth"
grep -q "local" "$TMP/depth.txt" || fail "allocation depth: $(cat "$TMP/depth.txt")"
ok "nbdinfo --map base:allocation and qemu:allocation-depth"

# A copy with many connections and requests in flight.
head -c 24M /dev/urandom >"$TMP/rand.img"
truncate -s 32M "$TMP/rand.img"
nbdcopy --connections=4 --requests=32 "$TMP/rand.img" "$URI" ||
    fail "nbdcopy with 4 connections"
nbdcopy --connections=4 "$URI" "$TMP/rand-out.img" ||
    fail "nbdcopy out with 4 connections"
[ "$(sha "$TMP/rand-out.img")" = "$(sha "$TMP/rand.img")" ] ||
    fail "4-connection copy changed the data"
ok "nbdcopy with 4 connections, sha256 equal"
