#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Our qemu-nbd against QEMU's qemu-img and qemu-io, over a UNIX socket and
# over TCP: info, convert in and out, compare, map (JSON), and qemu-io
# writes, pattern reads, zero writes and discards. Every step checks data.
. "$(dirname "$0")/common.sh"
need qemu-img qemu-io python3

SIZE=64M
make_image "$TMP/disk.img" $SIZE
head -c 4M /dev/urandom >"$TMP/data.bin"
truncate -s $SIZE "$TMP/src.img"
dd if="$TMP/data.bin" of="$TMP/src.img" bs=1M seek=8 conv=notrunc \
    status=none

start_nbd unix -t -f raw -k "$TMP/sock" -x disk0 "$TMP/disk.img" ||
    fail "qemu-nbd on a UNIX socket did not start"

# QEMU's own qemu-nbd as a client: --list.
if [ -x /usr/bin/qemu-nbd ]; then
    /usr/bin/qemu-nbd -L -k "$TMP/sock" >"$TMP/list.txt" ||
        fail "QEMU's qemu-nbd -L"
    grep -q " export: 'disk0'" "$TMP/list.txt" &&
        grep -q "  size:  67108864" "$TMP/list.txt" &&
        grep -q "base:allocation" "$TMP/list.txt" ||
        fail "QEMU's qemu-nbd -L: $(cat "$TMP/list.txt")"
    ok "QEMU's qemu-nbd -L lists the export"
else
    skip_part "QEMU's qemu-nbd -L: /usr/bin/qemu-nbd is not installed"
fi

for transport in unix tcp; do
    if [ $transport = unix ]; then
        URI="nbd+unix:///disk0?socket=$TMP/sock"
    else
        kill "$unix_pid"
        wait_gone "$unix_pid" 5 || fail "server did not stop on SIGTERM"
        start_nbd_tcp tcp -t -f raw -x disk0 "$TMP/disk.img" ||
            fail "qemu-nbd on TCP did not start"
        URI="nbd://127.0.0.1:$tcp_port/disk0"
    fi

    qemu-img info --output=json "$URI" >"$TMP/info.json" ||
        fail "$transport: qemu-img info"
    python3 - "$TMP/info.json" <<'PY' || fail "$transport: info size"
import json, sys
info = json.load(open(sys.argv[1]))
assert info["virtual-size"] == 64 * 1024 * 1024, info
PY
    ok "$transport: qemu-img info"

    qemu-img convert -n -f raw -O raw "$TMP/src.img" "$URI" ||
        fail "$transport: convert into the export"
    qemu-img compare -f raw -F raw "$TMP/src.img" "$URI" ||
        fail "$transport: compare after convert"
    qemu-img convert -f raw -O raw "$URI" "$TMP/out.img" ||
        fail "$transport: convert out of the export"
    [ "$(sha "$TMP/out.img")" = "$(sha "$TMP/src.img")" ] ||
        fail "$transport: data copied out differs"
    ok "$transport: convert in and out, compare"

    qemu-img map --output=json -f raw "$URI" >"$TMP/map.json" ||
        fail "$transport: qemu-img map"
    python3 - "$TMP/map.json" <<'PY' || fail "$transport: map contents"
import json, sys
m = json.load(open(sys.argv[1]))
MiB = 1024 * 1024
end = 0
for e in m:
    assert e["start"] == end, m
    end += e["length"]
    s, l = e["start"], e["length"]
    if s < 12 * MiB and s + l > 8 * MiB:
        assert e["data"], ("data range reported as hole", e)
    if s >= 16 * MiB:
        assert e["zero"], ("unwritten range not zero", e)
assert end == 64 * MiB, m
PY
    ok "$transport: qemu-img map --output=json"

    qemu-io -f raw "$URI" \
        -c 'write -P 0x5a 32M 1M' -c 'read -P 0x5a 32M 1M' \
        -c 'write -z 32M 64k' -c 'read -P 0 32M 64k' \
        -c 'read -P 0x5a 33619968 983040' \
        -c 'write -P 0x33 40M 128k' -c 'discard 40M 128k' \
        -c 'write -P 0x77 41M 4k' -c 'read -P 0x77 41M 4k' \
        -c 'flush' >"$TMP/qemu-io.log" 2>&1 ||
        fail "$transport: qemu-io: $(cat "$TMP/qemu-io.log")"
    if grep -qi "pattern verification failed\|error\|failed" \
        "$TMP/qemu-io.log"; then
        fail "$transport: qemu-io: $(cat "$TMP/qemu-io.log")"
    fi
    ok "$transport: qemu-io write -P, read -P, write -z, discard"

    # Unaligned I/O goes through the server's read-modify-write.
    qemu-io -f raw "$URI" -c 'write -P 0x42 100001 3333' \
        -c 'read -P 0x42 100001 3333' >"$TMP/qemu-io.log" 2>&1 &&
        ! grep -qi "fail" "$TMP/qemu-io.log" ||
        fail "$transport: unaligned qemu-io: $(cat "$TMP/qemu-io.log")"
    ok "$transport: unaligned write and read"
done

# The data on disk is what the clients wrote.
python3 - "$TMP/disk.img" "$TMP/data.bin" <<'PY' || fail "image contents"
import sys
MiB = 1024 * 1024
img = open(sys.argv[1], "rb").read()
data = open(sys.argv[2], "rb").read()
assert img[8 * MiB:12 * MiB] == data
assert img[32 * MiB:32 * MiB + 65536] == bytes(65536)
assert img[32 * MiB + 65536:33 * MiB] == b"\x5a" * (MiB - 65536)
assert img[41 * MiB:41 * MiB + 4096] == b"\x77" * 4096
assert img[100001:103334] == b"\x42" * 3333
PY
ok "image file holds the expected data"
