#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# qemu-img resize, measure, check and dd on raw images, and convert -n's
# default of unmapping zero runs: exact messages, exit statuses, sizes and
# allocation, checked against fixed expectations and, when Debian's
# qemu-img is installed, against its output for the same command lines
# (stdout, stderr, exit status, file size and blocks, all equal).
. "$SRCDIR/tests/interop/common.sh"
: "${QEMU_IMG_OURS:?QEMU_IMG_OURS must name the qemu-img under test}"
QIMG=$QEMU_IMG_OURS
DEB=/usr/bin/qemu-img

# Runs a fixed list of command lines with qemu-img $1 in directory $2,
# printing every output, exit status, and the image's size and blocks.
run_cases() {
    local q=$1 dir=$2 a
    mkdir -p "$dir"
    cd "$dir" || fail "cd $dir"
    rm -f r.img
    "$q" create -f raw r.img 1M >/dev/null || fail "$q create"
    for a in "r.img 1M" "r.img 0" "r.img -1M" "--shrink r.img -1M" \
        "--shrink r.img 512K" "r.img abc" "r.img +abc" "r.img 1.5M" \
        "r.img 1000" "--preallocation=bogus r.img 2M" \
        "--preallocation=falloc r.img 3M" "--preallocation=full r.img 4M" \
        "--preallocation=metadata r.img 5M" "r.img 9E" "r.img 1" \
        "nope.img 1M" "-U r.img 6M" "--shrink r.img 5M" "r.img +0" \
        "-q r.img +1M" "r.img -512K" "--shrink r.img -512K" \
        "r.img +1k" "--shrink --preallocation=falloc r.img 1M"; do
        echo "== resize $a"
        # shellcheck disable=SC2086
        "$q" resize -f raw $a 2>&1
        echo "rc=$? size=$(stat -c %s r.img) blocks=$(stat -c %b r.img)"
    done
    "$q" resize r.img 2>&1; echo "rc=$?"
    "$q" resize 2>&1; echo "rc=$?"
    "$q" resize -f raw r.img 1M 2M 2>&1; echo "rc=$?"
    head -c 1000 /dev/zero >u.img
    for a in "--size 1G" "-f raw r.img" "-f raw -O raw r.img --output=json" \
        "-O raw" "-O raw --size 1G r.img" "-O vmdk --size 1G" \
        "-O raw --size 1000" "-O raw --size abc" "--output=json --size 3M" \
        "--output=xml --size 3M" "--size 1G -O raw --output=human" \
        "-f raw u.img" "-f raw -O raw --size 1" "--size 9E" "--size 8E" \
        "--size 9223372036854775807"; do
        echo "== measure $a"
        # shellcheck disable=SC2086
        "$q" measure $a 2>&1
        echo "rc=$?"
    done
    for a in "-f raw r.img" "r.img" "-f raw --output=json r.img" \
        "-f raw -r all r.img" "-f raw -r leaks r.img" "-q -f raw r.img" \
        "-f raw nope.img" "-f raw -r bad r.img" "-f raw -T bogus r.img" \
        "-f raw -T none r.img" "-f raw --output=xml r.img" "-f raw" \
        "-f raw a b" "-U -f raw r.img"; do
        echo "== check $a"
        # shellcheck disable=SC2086
        "$q" check $a 2>&1 | grep -v "^  \|^WARNING"
        echo "rc=${PIPESTATUS[0]}"
    done
    cd - >/dev/null || true
}

# Ours, against fixed expectations for the lines that matter most.
run_cases "$QIMG" "$TMP/ours" >"$TMP/ours.out"
want_after() {   # CASE LINE...: the lines printed right after "== CASE"
    local c=$1
    shift
    local got
    got=$(grep -A$# -xF -- "== $c" "$TMP/ours.out" | tail -n +2)
    [ "$got" = "$(printf '%s\n' "$@")" ] ||
        fail "$c: got '$got', wanted '$(printf '%s|' "$@")'"
}
want_after "resize r.img 1M" "Image resized." \
    "rc=0 size=1048576 blocks=8"
want_after "resize --shrink r.img 512K" "Image resized." \
    "rc=0 size=524288 blocks=8"
want_after "resize r.img 1000" \
    "qemu-img: Use the --shrink option to perform a shrink operation." \
    "qemu-img: warning: Shrinking an image will delete all data beyond the shrunken image's end. Before performing such an operation, make sure there is no important data there." \
    "rc=1 size=1572864 blocks=8"
want_after "resize r.img -1M" "qemu-img: New image size must be positive" \
    "rc=1 size=1048576 blocks=8"
want_after "resize --preallocation=full r.img 4M" "Image resized." \
    "rc=0 size=4194304 blocks=5128"
want_after "resize -q r.img +1M" "rc=0 size=6291456 blocks=5128"
want_after "measure -f raw -O raw r.img --output=json" "{" \
    '    "required": 5768192,' '    "fully-allocated": 5768192' "}" "rc=0"
want_after "measure -f raw u.img" "required size: 1024" \
    "fully allocated size: 1024" "rc=0"
want_after "check -f raw r.img" \
    "qemu-img: This image format does not support checks" "rc=63"
ok "resize, measure, check: QEMU's messages, statuses and sizes"

if [ -x "$DEB" ]; then
    run_cases "$DEB" "$TMP/deb" >"$TMP/deb.out"
    diff -u "$TMP/deb.out" "$TMP/ours.out" >"$TMP/diff.txt" ||
        fail "differs from Debian's qemu-img: $(cat "$TMP/diff.txt")"
    ok "resize, measure, check: same output as Debian's qemu-img"
else
    skip_part "comparison with Debian's qemu-img: it is not installed"
fi

# convert -n: as QEMU's, zero runs found by sparse detection are unmapped
# in an existing target (a hole), and written with -S 0.
make_image "$TMP/src.raw" 4M
head -c 4M /dev/urandom >"$TMP/dst.raw"
"$QIMG" convert -n -f raw -O raw "$TMP/src.raw" "$TMP/dst.raw" ||
    fail "convert -n"
cmp "$TMP/src.raw" "$TMP/dst.raw" || fail "convert -n: data differ"
[ "$(stat -c %b "$TMP/dst.raw")" = 0 ] ||
    fail "convert -n kept $(stat -c %b "$TMP/dst.raw") blocks, wanted 0"
head -c 4M /dev/urandom >"$TMP/dst.raw"
"$QIMG" convert -n -S 0 -f raw -O raw "$TMP/src.raw" "$TMP/dst.raw" ||
    fail "convert -n -S 0"
cmp "$TMP/src.raw" "$TMP/dst.raw" || fail "convert -n -S 0: data differ"
[ "$(stat -c %b "$TMP/dst.raw")" -ge 8192 ] ||
    fail "convert -n -S 0 unmapped the target"
ok "convert -n unmaps zero runs in the target, -S 0 writes them"

# dd: the output image's size and bytes, messages and statuses, against
# dd(1) for the data and Debian's qemu-img for everything when present.
head -c 100000 /dev/urandom >"$TMP/in.img"
dd_cases() {   # QEMU_IMG DIR
    local q=$1 dir=$2 a i=0
    mkdir -p "$dir"
    for a in "-f raw -O raw bs=4k count=5 skip=2" "-f raw -O raw" \
        "-f raw skip=100" "-f raw bs=1000" "-f raw -O raw bs=3 count=5" \
        "-f raw bs=0" "-f raw bs=abc" "-f raw count=-1" "-f raw foo=1" \
        "-f raw skip=1000" "-f raw count=0" "-f raw bs=64k count=1"; do
        i=$((i + 1))
        echo "== dd $a"
        # shellcheck disable=SC2086
        "$q" dd $a if="$TMP/in.img" of="$dir/o$i.img" 2>&1
        echo "rc=$?"
        [ -e "$dir/o$i.img" ] && echo "size=$(stat -c %s "$dir/o$i.img")" \
            "sha=$(sha256sum <"$dir/o$i.img" | cut -c1-16)"
    done
    "$q" dd -f raw if="$TMP/in.img" 2>&1; echo "rc=$?"
    "$q" dd -f raw if="$TMP/nope.img" of="$dir/x.img" 2>&1; echo "rc=$?"
}
dd_cases "$QIMG" "$TMP/dd-ours" >"$TMP/dd-ours.out"
want=$(dd if="$TMP/in.img" bs=4k skip=2 count=3 status=none | sha256sum |
    cut -c1-16)
grep -A2 -xF -- "== dd -f raw -O raw bs=4k count=5 skip=2" "$TMP/dd-ours.out" |
    grep -qx "size=12288 sha=$want" ||
    fail "dd bs=4k count=5 skip=2: $(cat "$TMP/dd-ours.out")"
cmp -n 100000 "$TMP/in.img" "$TMP/dd-ours/o2.img" || fail "dd: whole copy"
[ "$(stat -c %s "$TMP/dd-ours/o2.img")" = 100352 ] || fail "dd: size"
grep -A1 -xF -- "== dd -f raw foo=1" "$TMP/dd-ours.out" |
    grep -qx "qemu-img: unrecognized operand foo" || fail "dd: operand"
ok "dd: sizes, data and messages"
if [ -x "$DEB" ]; then
    dd_cases "$DEB" "$TMP/dd-deb" >"$TMP/dd-deb.out"
    sed -i "s|$TMP/dd-deb/|$TMP/dd-ours/|g" "$TMP/dd-deb.out"
    diff -u "$TMP/dd-deb.out" "$TMP/dd-ours.out" >"$TMP/dd.diff" ||
        fail "dd differs from Debian's qemu-img: $(cat "$TMP/dd.diff")"
    ok "dd: same sizes, data and messages as Debian's qemu-img"
fi
"$QIMG" dd -f raw -O qcow2 bs=4k if="$TMP/in.img" of="$TMP/dd.qcow2" ||
    fail "dd -O qcow2"
"$QIMG" compare -f raw -F qcow2 "$TMP/in.img" "$TMP/dd.qcow2" >/dev/null ||
    fail "dd -O qcow2: the copy differs"
ok "dd -O qcow2"
