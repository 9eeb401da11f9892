#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# -r: the export is read-only. Writes, zeroes and discards fail with
# EPERM for every client, and the data is left as it was.
. "$(dirname "$0")/common.sh"
need qemu-io nbdinfo

make_image "$TMP/disk.img" 16M
head -c 1M /dev/urandom | dd of="$TMP/disk.img" conv=notrunc status=none
before=$(sha "$TMP/disk.img")
start_nbd srv -t -r -f raw -k "$TMP/sock" "$TMP/disk.img" ||
    fail "qemu-nbd -r did not start"
URI="nbd+unix:///?socket=$TMP/sock"

nbdinfo --is readonly "$URI" || fail "export not advertised read-only"
nbdinfo --can multi-conn "$URI" || fail "read-only export without multi-conn"
# QEMU's client sees the read-only flag and refuses to open for writing.
qemu-io -f raw "$URI" -c 'write -P 0x11 0 4k' >"$TMP/io.log" 2>&1 &&
    fail "qemu-io opened a read-only export for writing"
qemu-io -r -f raw "$URI" -c 'read 0 1M' >"$TMP/io.log" 2>&1 ||
    fail "read from a read-only export: $(cat "$TMP/io.log")"
# A client that ignores the flag gets EPERM from the server.
PYTHONPATH="$SRCDIR/tests/functional" python3 - "$TMP/sock" <<'PY' ||
import sys
import nbdclient as n
c = n.Client(sys.argv[1]).connect_export("")
assert c.flags & n.TFLAG_READ_ONLY
assert c.write(0, b"x" * 4096) == n.EPERM
assert c.command(n.CMD_WRITE_ZEROES, 0, 4096)[0] == n.EPERM
assert c.command(n.CMD_TRIM, 0, 4096)[0] == n.EPERM
err, data, _ = c.read(0, 4096)
assert err == 0
c.disconnect()
PY
    fail "raw writes to a read-only export"
[ "$(sha "$TMP/disk.img")" = "$before" ] || fail "data changed"
alive "$srv_pid" || fail "server died"
ok "-r refuses writes, zeroes and discards; data unchanged"
