#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# qemu-io end to end: patterns written and read back (-P), mismatches
# detected (exit 1), vectored and asynchronous I/O, zero writes and
# discard checked byte for byte against the file, the output formats
# (compared with Debian's qemu-io when it is installed), the stdin command
# loop, and clear errors (exit 1, no crash) for bad command lines.
. "$SRCDIR/tests/interop/common.sh"
: "${QEMU_IO_OURS:?QEMU_IO_OURS must name the qemu-io under test}"
QIO=$QEMU_IO_OURS

# Our own expected image, built with dd, to compare with cmp.
expect_write() {   # FILE OFFSET LEN BYTE
    head -c "$3" /dev/zero | tr '\0' "$(printf '\\%03o' "$4")" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

IMG=$TMP/disk.raw
REF=$TMP/ref.raw
make_image "$IMG" 4M
make_image "$REF" 4M

# Writes and reads back
"$QIO" -f raw -c 'write -P 0xab 64k 64k' -c 'write -P 0x5a 1M 4k' \
    -c 'writev -P 0x11 2M 512 1k 2560' "$IMG" >"$TMP/w.out" ||
    fail "writes failed: $(cat "$TMP/w.out")"
grep -q "^wrote 65536/65536 bytes at offset 65536$" "$TMP/w.out" ||
    fail "write report: $(cat "$TMP/w.out")"
grep -qE "^64 KiB, 1 ops; [0-9:.]+ sec \([0-9.]+ [KMGT]?i?B(ytes)?/sec and [0-9.]+ ops/sec\)$" \
    "$TMP/w.out" || fail "timing line: $(cat "$TMP/w.out")"
grep -q "^wrote 4096/4096 bytes at offset 2097152$" "$TMP/w.out" ||
    fail "writev report"
expect_write "$REF" $((64 * 1024)) $((64 * 1024)) 171
expect_write "$REF" $((1024 * 1024)) 4096 90
expect_write "$REF" $((2 * 1024 * 1024)) 4096 17
cmp "$IMG" "$REF" || fail "image differs from the expected data"
ok "write/writev data reach the file"

"$QIO" -r -f raw -c 'read -P 0xab 64k 64k' -c 'read -P 0x5a 1M 4k' \
    -c 'readv -P 0x11 2M 1k 1k 2k' -c 'read -P 0 0 64k' \
    -c 'read -P 0xab -s 4k -l 4k 60k 8k' "$IMG" >"$TMP/r.out" ||
    fail "read -P of written data failed: $(cat "$TMP/r.out")"
grep -q "^read 65536/65536 bytes at offset 65536$" "$TMP/r.out" ||
    fail "read report"
ok "read -P / readv -P verify the data"

"$QIO" -r -f raw -c 'read -P 0xab 60k 8k' "$IMG" >"$TMP/m.out"
rc=$?
[ $rc = 1 ] || fail "pattern mismatch: exit $rc, wanted 1"
grep -q "^Pattern verification failed at offset 61440, 8192 bytes$" \
    "$TMP/m.out" || fail "mismatch message: $(cat "$TMP/m.out")"
"$QIO" -r -f raw -c 'read -q -P 0x5a 1M 4097' "$IMG" >"$TMP/m.out"
[ $? = 1 ] || fail "mismatch in the last byte not detected"
ok "read -P mismatch fails with QEMU's message"

# Hex dump
"$QIO" -r -f raw -c 'read -v 65530 40' "$IMG" >"$TMP/v.out" ||
    fail "read -v"
cat >"$TMP/v.want" <<'EOF'
0000fffa:  00 00 00 00 00 00 ab ab ab ab ab ab ab ab ab ab  ................
0001000a:  ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab  ................
0001001a:  ab ab ab ab ab ab ab ab  ........
read 40/40 bytes at offset 65530
EOF
head -4 "$TMP/v.out" | diff "$TMP/v.want" - || fail "read -v dump"
ok "read -v dump"

# Zero writes, discard, FUA, aio
"$QIO" -f raw -c 'write -z 64k 4k' -c 'write -f -P 0x77 3M 8k' \
    -c 'aio_write -P 0x31 3200k 4k' -c 'aio_write -P 0x32 3300k 4k 4k' \
    -c 'aio_write -z 3M 4k' -c 'aio_flush' -c 'aio_read -P 0x32 3300k 8k' \
    -c 'aio_flush' -c 'flush' "$IMG" >"$TMP/z.out" ||
    fail "zero/aio writes: $(cat "$TMP/z.out")"
[ "$(grep -c '^wrote' "$TMP/z.out")" = 5 ] || fail "aio reports"
expect_write "$REF" $((64 * 1024)) 4096 0
expect_write "$REF" $((3 * 1024 * 1024)) 8192 119
expect_write "$REF" $((3 * 1024 * 1024)) 4096 0
expect_write "$REF" $((3200 * 1024)) 4096 49
expect_write "$REF" $((3300 * 1024)) 8192 50
cmp "$IMG" "$REF" || fail "zero/aio writes: wrong data"
"$QIO" -f raw -c 'aio_read -P 0x99 3300k 4k' -c aio_flush "$IMG" \
    >"$TMP/a.out"
grep -q "Pattern verification failed" "$TMP/a.out" ||
    fail "aio_read -P mismatch not reported"
ok "write -z, write -f, aio_write/aio_read/aio_flush"

"$QIO" -f raw -d unmap -c 'discard 1M 4k' -c 'read -P 0 1M 4k' "$IMG" \
    >"$TMP/d.out" || fail "discard: $(cat "$TMP/d.out")"
grep -q "^discard 4096/4096 bytes at offset 1048576$" "$TMP/d.out" ||
    fail "discard report"
ok "discard"

# length, info, map, -C, stdin commands, open/close
"$QIO" -r -f raw -c length -c info -c map -c 'read -C 0 512' "$IMG" \
    >"$TMP/i.out" || fail "length/info/map"
grep -q "^4 MiB$" "$TMP/i.out" || fail "length"
grep -q "^format name: raw$" "$TMP/i.out" || fail "info"
grep -q "^4 MiB (0x400000) bytes     allocated at offset 0 bytes (0x0)$" \
    "$TMP/i.out" || fail "map: $(cat "$TMP/i.out")"
grep -qE "^512,1,0:00:[0-9.]+,[0-9.]+,[0-9.]+$" "$TMP/i.out" ||
    fail "read -C"
printf 'read -P 0xab 68k 4k\nread -P 0x11 2M 4k\nquit\nread 0 1\n' |
    "$QIO" -r -f raw "$IMG" >"$TMP/s.out" || fail "stdin commands"
[ "$(grep -c '^read ' "$TMP/s.out")" = 2 ] || fail "stdin: quit ignored"
"$QIO" -c "open -r -o driver=raw $IMG" -c 'read -P 0x77 3M+4k 4k' \
    -c close -c "open -r $IMG" -c 'read -q -P 0x77 12k 4k' >/dev/null 2>&1
[ $? = 1 ] || fail "open/close"
"$QIO" -c "open -r -o driver=raw $IMG" -c 'read -q -P 0x77 3076k 4k' \
    -c close -c "open -r $IMG" -c 'read -q -P 0x31 3200k 4k' ||
    fail "open/close sequence"
"$QIO" --image-opts -r -c 'read -q -P 0x31 3200k 4k' \
    "driver=raw,file.driver=file,file.filename=$IMG" ||
    fail "--image-opts"
"$QIO" -t none -i io_uring -f raw -c 'read -q -P 0x31 3200k 4k' "$IMG" ||
    "$QIO" -t writethrough -i threads -f raw \
        -c 'read -q -P 0x31 3200k 4k' "$IMG" || fail "-t/-i"
ok "length, info, map, -C, stdin, open/close, --image-opts, -t/-i"

# Output formats next to Debian's qemu-io
if [ -x /usr/bin/qemu-io ]; then
    cp "$IMG" "$TMP/deb.raw"
    cmds=(-c 'read -v 65530 40' -c 'read -P 0xab 60k 8k' -c 'read 0 1536'
          -c 'length' -c 'info' -c 'map' -c 'write -P 1 0 1' -c 'bogus'
          -c 'read 0' -c 'read x 1' -c 'read 0 3G' -c 'write -u 0 1'
          -c 'read -P 0x1ff 0 1' -c 'alloc 0 64k')
    norm() { sed -E 's/[0-9.]+ sec \(.*\)$/T/; s/^(\S+ KiB|\S+ bytes|\S+ MiB), 1 ops.*/R/'; }
    "$QIO" -f raw "${cmds[@]}" "$IMG" 2>&1 | norm >"$TMP/ours.out"
    r1=${PIPESTATUS[0]}
    /usr/bin/qemu-io -f raw "${cmds[@]}" "$TMP/deb.raw" 2>&1 | norm \
        >"$TMP/deb.out"
    r2=${PIPESTATUS[0]}
    [ "$r1" = "$r2" ] || fail "exit status $r1, Debian's qemu-io $r2"
    diff <(sort "$TMP/deb.out") <(sort "$TMP/ours.out") ||
        fail "output differs from Debian's qemu-io"
    cmp "$IMG" "$TMP/deb.raw" || fail "data differs from Debian's qemu-io"
    ok "same output, data and exit status as Debian's qemu-io"
else
    skip_part "comparison with Debian's qemu-io: it is not installed"
fi

# Defaults as QEMU's qemu-io: discard reaches the file (unmap unless
# -d ignore), so a discarded range becomes a hole in it.
DIMG=$TMP/discard.raw
make_image "$DIMG" 1M
"$QIO" -f raw -c 'write -P 0x33 0 1M' "$DIMG" >/dev/null || fail "fill"
full=$(stat -c %b "$DIMG")
"$QIO" -f raw -d ignore -c 'discard 0 512k' "$DIMG" >/dev/null ||
    fail "discard with -d ignore"
[ "$(stat -c %b "$DIMG")" = "$full" ] ||
    fail "-d ignore: the discard still freed blocks"
"$QIO" -f raw -c 'discard 0 512k' "$DIMG" >"$TMP/d.out" ||
    fail "discard: $(cat "$TMP/d.out")"
grep -q "^discard 524288/524288 bytes at offset 0$" "$TMP/d.out" ||
    fail "discard report: $(cat "$TMP/d.out")"
half=$(stat -c %b "$DIMG")
[ "$half" -lt "$full" ] ||
    fail "default discard sent nothing: $half blocks, was $full"
data=$(python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.lseek(fd, 0, os.SEEK_DATA))' "$DIMG")
[ "$data" = 524288 ] || fail "first data at $data, wanted 524288 (a hole)"
"$QIO" -r -f raw -c 'read -P 0 0 512k' -c 'read -P 0x33 512k 512k' \
    "$DIMG" >/dev/null || fail "data after discard"
"$QIO" -f raw -c 'write -P 0x33 0 1M' "$DIMG" >/dev/null || fail "refill"
"$QIO" -c "open -o driver=raw $DIMG" -c 'discard 0 256k' >/dev/null ||
    fail "open, discard"
data=$(python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.lseek(fd, 0, os.SEEK_DATA))' "$DIMG")
[ "$data" = 262144 ] || fail "open: first data at $data, wanted 262144"
ok "discard is on by default (punches a hole), off with -d ignore"

# -m/--misalign and -C/--copy-on-read are accepted; the data stay right
# with buffers off alignment, under cache=none too.
"$QIO" -f raw -m -t none -C -c 'write -P 0x44 4k 8k' \
    -c 'writev -P 0x45 64k 512 3584' -c 'read -P 0x44 4k 8k' \
    -c 'readv -P 0x45 64k 1k 3k' -c 'aio_write -P 0x46 128k 4k' \
    -c 'aio_flush' -c 'read -P 0x46 128k 4k' "$DIMG" >"$TMP/m.out" ||
    fail "misaligned I/O: $(cat "$TMP/m.out")"
"$QIO" -r -f raw -c 'read -P 0x44 4k 8k' -c 'read -P 0x45 64k 4k' \
    -c 'read -P 0x46 128k 4k' "$DIMG" >/dev/null ||
    fail "misaligned writes did not reach the file as written"
"$QIO" -f raw -c 'open -C -o driver=raw '"$DIMG" -c 'read -P 0x44 4k 8k' \
    >/dev/null || fail "open -C"
ok "--misalign and --copy-on-read"

# Bad command lines
expect_fail() {
    local what=$1 pattern=$2
    shift 2
    "$QIO" "$@" >"$TMP/out.txt" 2>&1
    local rc=$?
    [ $rc = 1 ] || fail "$what: exit status $rc, wanted 1"
    grep -q -- "$pattern" "$TMP/out.txt" ||
        fail "$what: message '$(cat "$TMP/out.txt")' lacks '$pattern'"
}
"$QIO" -h | grep -q "^Usage:" || fail "-h"
"$QIO" -V | grep -q "^qemu-io " || fail "-V"
expect_fail "unknown option" "Try" --frobnicate
expect_fail "missing file" "can't open device" -c 'read 0 1' "$TMP/nope"
expect_fail "bad cache" "Invalid cache option" -t bogus "$IMG"
expect_fail "bad aio" "Invalid aio option" -i native "$IMG"
expect_fail "raw image as qcow2" "not in qcow2 format" -f qcow2 "$IMG"
expect_fail "two files" "extra arguments" "$IMG" "$IMG"
expect_fail "image-opts with -f" "mutually exclusive" --image-opts -f raw \
    "driver=raw"
expect_fail "bad image-opts" "" --image-opts "driver=raw,,="
expect_fail "no file" "no file open" -c 'read 0 1'
expect_fail "write read-only" "read-only" -r -f raw -c 'write 0 1' "$IMG"
expect_fail "past end" "read failed" -f raw -c 'read 4M 1' "$IMG"
expect_fail "bad object" "" --object nosuchtype,id=x -f raw "$IMG"
ok "bad command lines: clear message, exit 1"
