#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# qemu-img end to end: create, info (human and JSON), map (JSON equal to
# Debian's qemu-img on several layouts), convert (data checked with cmp,
# sparseness with du, with -m/-W/-S/-n/-p/--image-opts), compare (messages
# and exit codes 0/1/2), bench, and clear errors (exit 1) for bad command
# lines. Also over NBD (our qemu-nbd). Without Debian's qemu-img the
# comparisons with it are left out and the test ends skipped.
. "$SRCDIR/tests/interop/common.sh"
: "${QEMU_IMG_OURS:?QEMU_IMG_OURS must name the qemu-img under test}"
: "${QEMU_IO_OURS:?QEMU_IO_OURS must name the qemu-io under test}"
QIMG=$QEMU_IMG_OURS
QIO=$QEMU_IO_OURS
DEB=/usr/bin/qemu-img
if [ ! -x "$DEB" ]; then
    DEB=
    skip_part "comparisons with Debian's qemu-img: $DEB is not installed"
fi

blocks() {
    du -k "$1" | cut -f1
}

# create
"$QIMG" create -f raw "$TMP/c.raw" 1M >"$TMP/out.txt" || fail "create"
grep -qx "Formatting '$TMP/c.raw', fmt=raw size=1048576" "$TMP/out.txt" ||
    fail "create message: $(cat "$TMP/out.txt")"
[ "$(stat -c %s "$TMP/c.raw")" = 1048576 ] || fail "create: size"
[ "$(blocks "$TMP/c.raw")" -le 64 ] || fail "create: not sparse"
"$QIMG" create -q "$TMP/c2.raw" 64k >"$TMP/out.txt" || fail "create -q"
[ -s "$TMP/out.txt" ] && fail "create -q printed something"
"$QIMG" create -f raw -o preallocation=falloc "$TMP/c3.raw" 64k \
    >/dev/null || fail "create falloc"
"$QIMG" create -f raw -o size=2M "$TMP/c4.raw" >/dev/null ||
    fail "create -o size"
[ "$(stat -c %s "$TMP/c4.raw")" = 2097152 ] || fail "create -o size: size"
ok "create"

# Layouts for map and info: holes, data, zeroed ranges
L1=$TMP/l1.raw   # all hole
L2=$TMP/l2.raw   # data at both ends, holes in between
L3=$TMP/l3.raw   # zeroed ranges (written zeroes and write -z)
L4=$TMP/l4.raw   # fully allocated
make_image "$L1" 8M
make_image "$L2" 8M
"$QIO" -f raw -c 'write -P 0x11 0 64k' -c 'write -P 0x22 1M 128k' \
    -c 'write -P 0x33 8128k 64k' "$L2" >/dev/null || fail "layout 2"
make_image "$L3" 4M
"$QIO" -f raw -c 'write -P 0 0 1M' -c 'write -P 0x44 1M 4k' \
    -c 'write -z 2M 1M' -c 'write -P 0x55 3M 512k' "$L3" >/dev/null ||
    fail "layout 3"
head -c 2M /dev/urandom >"$L4"
LAYOUTS="$L1 $L2 $L3 $L4 $TMP/c.raw $TMP/c3.raw"

for img in $LAYOUTS; do
    "$QIMG" map --output=json -f raw "$img" >"$TMP/ours.json" ||
        fail "map $img"
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' \
        "$TMP/ours.json" || fail "map: not JSON"
    if [ -n "$DEB" ]; then
        "$DEB" map --output=json -f raw "$img" >"$TMP/deb.json"
        diff "$TMP/deb.json" "$TMP/ours.json" ||
            fail "map --output=json differs from Debian's for $img"
        "$DEB" map -f raw "$img" >"$TMP/deb.txt"
        "$QIMG" map -f raw "$img" >"$TMP/ours.txt"
        diff "$TMP/deb.txt" "$TMP/ours.txt" ||
            fail "human map differs from Debian's for $img"
    fi
done
# Known content, independent of Debian: l2's extents
"$QIMG" map --output=json -f raw "$L2" | python3 -c '
import json, sys
m = json.load(sys.stdin)
data = [(e["start"], e["length"]) for e in m if e["data"]]
assert data == [(0, 65536), (1048576, 131072), (8323072, 65536)], data
assert sum(e["length"] for e in m) == 8 << 20
for a, b in zip(m, m[1:]):
    assert a["start"] + a["length"] == b["start"]
    assert (a["data"], a["zero"]) != (b["data"], b["zero"])
' || fail "map of layout 2: wrong extents"
"$QIMG" map --output=json --start-offset=1M --max-length=64k "$L2" |
    grep -q '"start": 1048576, "length": 65536' || fail "map --start-offset"
if [ -n "$DEB" ]; then
    ok "map (json and human) equals Debian's on ${LAYOUTS// /, }"
else
    ok "map (Debian's qemu-img missing: not compared)"
fi

# info
for img in $L2 $L4; do
    "$QIMG" info --output=json "$img" >"$TMP/ours.json" || fail "info"
    python3 - "$TMP/ours.json" "$img" <<'EOF' || fail "info json fields"
import json, os, sys
i = json.load(open(sys.argv[1]))
st = os.stat(sys.argv[2])
assert i["virtual-size"] == st.st_size, i
assert i["filename"] == sys.argv[2], i
assert i["format"] == "raw", i
assert i["actual-size"] == st.st_blocks * 512, i
assert i["dirty-flag"] is False, i
EOF
    if [ -n "$DEB" ]; then
        "$DEB" info --output=json "$img" >"$TMP/deb.json"
        diff "$TMP/deb.json" "$TMP/ours.json" ||
            fail "info --output=json differs from Debian's"
        diff <("$DEB" info "$img") <("$QIMG" info "$img") ||
            fail "human info differs from Debian's"
        diff <("$DEB" info --backing-chain --output=json "$img") \
            <("$QIMG" info --backing-chain --output=json "$img") ||
            fail "info --backing-chain differs from Debian's"
    fi
done
"$QIMG" info --image-opts "driver=raw,file.driver=file,file.filename=$L2" |
    grep -q "^virtual size: 8 MiB (8388608 bytes)$" || fail "info --image-opts"
ok "info (human, json, --image-opts)"

# convert: data with cmp, sparseness with du
SRC=$TMP/src.raw
make_image "$SRC" 64M
"$QIO" -f raw -c 'write -P 0x11 1M 3M' -c 'write -P 0x22 20M 1M' \
    -c 'write -z 30M 1M' -c 'write -P 0 40M 1M' -c 'write -P 0x33 63M 1M' \
    -c 'write -P 0x44 50M 5k' "$SRC" >/dev/null || fail "convert source"
for opts in "" "-m 1" "-m 16 -W" "-m 4 -S 64k" "-p" "-t none -T none"; do
    rm -f "$TMP/dst.raw"
    "$QIMG" convert $opts -f raw -O raw "$SRC" "$TMP/dst.raw" \
        >"$TMP/out.txt" || fail "convert $opts: $(cat "$TMP/out.txt")"
    cmp "$SRC" "$TMP/dst.raw" || fail "convert $opts: data differs"
    # 3M + 1M + 1M + 5k of data; the written zeroes are left out.
    b=$(blocks "$TMP/dst.raw")
    [ "$b" -le 5200 ] || fail "convert $opts: not sparse ($b KiB)"
    if [ -n "$DEB" ]; then
        rm -f "$TMP/deb.raw"
        "$DEB" convert $opts -f raw -O raw "$SRC" "$TMP/deb.raw" >/dev/null
        [ "$b" = "$(blocks "$TMP/deb.raw")" ] ||
            fail "convert $opts: $b KiB used, Debian's $(blocks "$TMP/deb.raw")"
    fi
done
grep -q "(100.00/100%)" "$TMP/out.txt" 2>/dev/null ||
    "$QIMG" convert -p -O raw "$SRC" "$TMP/dst.raw" | grep -q "100.00/100%" ||
    fail "convert -p: no progress"
rm -f "$TMP/dst.raw"
"$QIMG" convert -S 0 -O raw "$SRC" "$TMP/dst.raw" || fail "convert -S 0"
cmp "$SRC" "$TMP/dst.raw" || fail "convert -S 0: data"
[ "$(blocks "$TMP/dst.raw")" -ge 65536 ] || fail "convert -S 0: sparse"
# -n into an existing image full of garbage, --target-image-opts
head -c 64M /dev/urandom >"$TMP/dst.raw"
"$QIMG" convert -n -m 8 --target-image-opts -O raw "$SRC" \
    "driver=raw,file.driver=file,file.filename=$TMP/dst.raw" ||
    fail "convert -n --target-image-opts"
cmp "$SRC" "$TMP/dst.raw" || fail "convert -n: data"
rm -f "$TMP/dst.raw"
"$QIMG" convert --image-opts -O raw \
    "driver=raw,file.driver=file,file.filename=$SRC" "$TMP/dst.raw" ||
    fail "convert --image-opts"
cmp "$SRC" "$TMP/dst.raw" || fail "convert --image-opts: data"
# Several sources are concatenated
rm -f "$TMP/cat.raw"
"$QIMG" convert -O raw "$L2" "$L4" "$TMP/cat.raw" || fail "convert cat"
cat "$L2" "$L4" | cmp - "$TMP/cat.raw" || fail "convert cat: data"
ok "convert (-m, -W, -S, -p, -n, -t/-T, image opts, concatenation)"

# compare
"$QIMG" compare "$SRC" "$TMP/dst.raw" >"$TMP/out.txt"; rc=$?
[ $rc = 0 ] || fail "compare identical: $rc"
grep -qx "Images are identical." "$TMP/out.txt" || fail "compare message"
"$QIO" -f raw -c 'write -P 5 307300 1' "$TMP/dst.raw" >/dev/null
"$QIMG" compare -f raw -F raw "$SRC" "$TMP/dst.raw" >"$TMP/out.txt"; rc=$?
[ $rc = 1 ] || fail "compare different: $rc"
grep -qx "Content mismatch at offset 307200!" "$TMP/out.txt" ||
    fail "compare mismatch message: $(cat "$TMP/out.txt")"
"$QIMG" compare -q "$SRC" "$TMP/dst.raw" >"$TMP/out.txt"; rc=$?
[ $rc = 1 ] && [ ! -s "$TMP/out.txt" ] || fail "compare -q"
"$QIMG" compare "$SRC" "$TMP/nonexistent" 2>"$TMP/err.txt"; rc=$?
[ $rc = 2 ] || fail "compare missing image: $rc"
grep -q "Could not open" "$TMP/err.txt" || fail "compare open message"
make_image "$TMP/z1.raw" 1M
make_image "$TMP/z2.raw" 2M
"$QIMG" compare "$TMP/z1.raw" "$TMP/z2.raw" >"$TMP/out.txt"; rc=$?
[ $rc = 0 ] || fail "compare sizes, zero tail: $rc"
printf 'Warning: Image size mismatch!\nImages are identical.\n' |
    diff - "$TMP/out.txt" || fail "compare sizes message"
"$QIMG" compare -s "$TMP/z1.raw" "$TMP/z2.raw" >"$TMP/out.txt"; rc=$?
[ $rc = 1 ] && grep -qx "Strict mode: Image size mismatch!" \
    "$TMP/out.txt" || fail "compare -s"
"$QIO" -f raw -c 'write 1500k 1' "$TMP/z2.raw" >/dev/null
"$QIMG" compare "$TMP/z1.raw" "$TMP/z2.raw" >"$TMP/out.txt"; rc=$?
[ $rc = 1 ] && grep -qx "Content mismatch at offset 1536000!" \
    "$TMP/out.txt" || fail "compare data in the tail"
if [ -n "$DEB" ]; then
    for pair in "$SRC $TMP/dst.raw" "$TMP/z1.raw $TMP/z2.raw" \
                "$L2 $L3" "$L1 $TMP/c.raw"; do
        "$QIMG" compare $pair >"$TMP/ours.txt"; r1=$?
        "$DEB" compare $pair >"$TMP/deb.txt"; r2=$?
        # Both agreeing on an error (2) would not be a pass.
        [ $r1 = 0 ] || [ $r1 = 1 ] || fail "compare $pair: exit status $r1"
        [ $r1 = $r2 ] && diff "$TMP/deb.txt" "$TMP/ours.txt" ||
            fail "compare $pair: differs from Debian's ($r1 vs $r2)"
    done
fi
ok "compare (0/1/2, messages, size mismatch, -s, -q)"

# bench
"$QIMG" bench -f raw -c 2000 -d 8 "$L4" >"$TMP/out.txt" || fail "bench"
grep -qx "Sending 2000 read requests, 4096 bytes each, 8 in parallel (starting at offset 0, step size 4096)" \
    "$TMP/out.txt" || fail "bench header: $(cat "$TMP/out.txt")"
grep -qE "^Run completed in [0-9]+\.[0-9]{3} seconds\.$" "$TMP/out.txt" ||
    fail "bench result"
cp "$L4" "$TMP/bw.raw"
"$QIMG" bench -f raw -w -c 64 -d 4 -s 8k -S 16k -o 4k --pattern=0x5a \
    --flush-interval=8 "$TMP/bw.raw" >"$TMP/out.txt" || fail "bench -w"
grep -qx "Sending flush every 8 requests" "$TMP/out.txt" ||
    fail "bench flush line"
# 64 requests of 8k every 16k from 4k: [4k + 16k*i, +8k) hold 0x5a.
python3 - "$TMP/bw.raw" "$L4" <<'EOF' || fail "bench -w: wrong data"
import sys
new, old = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
want = bytearray(old)
for i in range(64):
    off = 4096 + 16384 * i
    want[off:off + 8192] = b"\x5a" * 8192
assert bytes(want) == new
EOF
"$QIMG" bench -w -c 100 -d 2 --flush-interval=10 --no-drain -t none \
    -i io_uring "$TMP/bw.raw" >/dev/null ||
    "$QIMG" bench -w -c 100 -d 2 --flush-interval=10 --no-drain \
        "$TMP/bw.raw" >/dev/null || fail "bench --no-drain"
ok "bench (read, write with pattern/step/offset/flush)"

# Bad command lines
expect_fail() {
    local what=$1 pattern=$2
    shift 2
    "$QIMG" "$@" >"$TMP/out.txt" 2>&1
    local rc=$?
    [ $rc = 1 ] || fail "$what: exit status $rc, wanted 1"
    grep -q -- "$pattern" "$TMP/out.txt" ||
        fail "$what: message '$(cat "$TMP/out.txt")' lacks '$pattern'"
}
"$QIMG" --help | grep -q "usage: qemu-img" || fail "--help"
"$QIMG" --version | grep -q "^qemu-img version" || fail "--version"
expect_fail "no command" "Not enough arguments"
expect_fail "unknown command" "Command not found: foo" foo
expect_fail "info without file" "Expecting one image file name" info
expect_fail "unknown option" "unrecognized option" info --bogus x
expect_fail "missing argument" "missing argument" info -f
expect_fail "bad --output" "human or json" map --output=xml "$L1"
expect_fail "create qcow2 bad cluster size" "Cluster size" create -f qcow2 \
    -o cluster_size=1000 "$TMP/q" 1M
expect_fail "create no size" "needs a size" create "$TMP/q.raw"
expect_fail "create bad size" "Invalid image size" create "$TMP/q.raw" 1x
expect_fail "create bad prealloc" "preallocation" create \
    -o preallocation=bogus "$TMP/q.raw" 1M
expect_fail "convert qcow2" "not supported" convert -O qcow2 "$L1" "$TMP/x"
expect_fail "convert -m 17" "number of coroutines" convert -m 17 "$L1" \
    "$TMP/x"
expect_fail "convert -S 100" "sparse" convert -S 100 "$L1" "$TMP/x"
expect_fail "convert one file" "Must specify" convert "$L1"
expect_fail "convert missing source" "Could not open" convert \
    "$TMP/nonexistent" "$TMP/x"
expect_fail "--target-image-opts without -n" "requires use of -n" convert \
    --target-image-opts "$L1" "driver=raw"
expect_fail "bench -d 0" "Invalid queue depth" bench -c 10 -d 0 "$L1"
expect_fail "bench -c x" "Invalid request count" bench -c x "$L1"
expect_fail "bench flush < depth" "smaller than depth" bench -w -d 8 \
    --flush-interval=4 "$L1"
expect_fail "bench --no-drain" "requires --flush-interval" bench \
    --no-drain "$L1"
expect_fail "bench too small" "does not fit" bench -s 16M "$L1"
expect_fail "map missing file" "Could not open" map "$TMP/nonexistent"
expect_fail "bad object" "" info --object nosuchtype,id=x "$L1"
ok "bad command lines: clear message, exit 1"

# Over NBD: our qemu-img and qemu-io as clients of our qemu-nbd.
start_nbd nbd -k "$TMP/nbd.sock" -f raw -t "$SRC" ||
    fail "qemu-nbd did not start: $(cat "$TMP/nbd.log")"
URI="nbd+unix:///?socket=$TMP/nbd.sock"
"$QIMG" info "$URI" >"$TMP/out.txt" 2>&1 ||
    fail "qemu-img info over NBD: $(cat "$TMP/out.txt")"
grep -qx "virtual size: 64 MiB (67108864 bytes)" "$TMP/out.txt" ||
    fail "qemu-img info over NBD: $(cat "$TMP/out.txt")"
{
    rm -f "$TMP/dst.raw"
    "$QIMG" convert -m 4 -O raw "$URI" "$TMP/dst.raw" ||
        fail "convert from NBD"
    cmp "$SRC" "$TMP/dst.raw" || fail "convert from NBD: data"
    "$QIMG" compare -U "$URI" "$SRC" >/dev/null || fail "compare over NBD"
    "$QIO" -f raw -c 'write -P 0x66 5M 64k' -c 'read -P 0x66 5M 64k' \
        "$URI" >/dev/null || fail "qemu-io over NBD"
    "$QIO" -r -U -f raw -c 'read -q -P 0x66 5M 64k' "$SRC" ||
        fail "qemu-io over NBD: data not in the file"
    ok "info, convert, compare, qemu-io over NBD"
}
