#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nbdkit against our qemu-nbd, both ways round:
# - nbdkit's nbd plugin as a client of our server (a proxy): data written
#   through nbdkit lands in our export, and reads back through both;
# - our server's contents copied from an nbdkit "pattern" export with
#   nbdcopy, then checked offset by offset.
. "$(dirname "$0")/common.sh"
need nbdkit qemu-io nbdcopy python3
nbdkit nbd --version >/dev/null 2>&1 || skip "nbdkit has no nbd plugin"

make_image "$TMP/disk.img" 32M
start_nbd srv -t -f raw -k "$TMP/sock" -x ours "$TMP/disk.img" ||
    fail "qemu-nbd did not start"

start_daemon kit - nbdkit -U "$TMP/kit.sock" -P "$TMP/kit.pid" -f nbd \
    socket="$TMP/sock" export=ours && wait_socket "$TMP/kit.sock" "$kit_pid" ||
    fail "nbdkit did not start: $(cat "$TMP/kit.log")"

qemu-io -f raw "nbd+unix:///?socket=$TMP/kit.sock" \
    -c 'write -P 0x9c 3M 2M' -c 'write -z 3M 64k' -c 'flush' \
    >"$TMP/io.log" 2>&1 || fail "write through nbdkit: $(cat "$TMP/io.log")"
qemu-io -r -f raw "nbd+unix:///ours?socket=$TMP/sock" \
    -c 'read -P 0 3M 64k' -c 'read -P 0x9c 3211264 1984k' \
    >"$TMP/io.log" 2>&1 && ! grep -q "verification failed" "$TMP/io.log" ||
    fail "data written through nbdkit: $(cat "$TMP/io.log")"
ok "nbdkit's nbd plugin as a client of our server"

start_daemon pattern - nbdkit -U "$TMP/pat.sock" -P "$TMP/pat.pid" -f \
    pattern size=32M && wait_socket "$TMP/pat.sock" "$pattern_pid" ||
    fail "nbdkit pattern did not start: $(cat "$TMP/pattern.log")"
nbdcopy "nbd+unix:///?socket=$TMP/pat.sock" \
    "nbd+unix:///ours?socket=$TMP/sock" || fail "nbdcopy pattern -> ours"
python3 - "$TMP/disk.img" <<'PY' || fail "pattern data in our export"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert len(data) == 32 << 20
for off in range(0, len(data), 8 * 4096 + 8):
    off -= off % 8
    assert struct.unpack(">Q", data[off:off + 8])[0] == off, off
PY
ok "nbdcopy from nbdkit's pattern plugin into our export, data checked"
