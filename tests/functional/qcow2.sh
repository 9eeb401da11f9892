#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The qcow2 driver end to end, checked against Debian's qemu-img and
# qemu-io (qemu-utils) and nbdinfo (libnbd-bin):
# - images Debian creates (compat 0.10 and 1.1, 512 B to 2 MiB clusters,
#   compressed with zlib and zstd, backing chains two deep) read the same
#   through our qemu-img convert and qemu-io as through Debian's;
# - images we create and write (create options, partial-cluster writes
#   with copy-on-write from a backing file, zero writes, discard, a
#   refcount table that has to grow) pass Debian's qemu-img check and
#   compare equal to a raw reference written by Python or by Debian's
#   qemu-io;
# - qemu-nbd -f qcow2 serves them to Debian's clients, with writers in
#   several iothreads on disjoint and shared new clusters;
# - corrupt images (edited by qcow2-craft.py) are refused with a message
#   that names the problem, and are not written to.
. "$SRCDIR/tests/interop/common.sh"
: "${QEMU_IMG_OURS:?QEMU_IMG_OURS must name the qemu-img under test}"
: "${QEMU_IO_OURS:?QEMU_IO_OURS must name the qemu-io under test}"
need python3 qemu-img qemu-io
QIMG=$QEMU_IMG_OURS
QIO=$QEMU_IO_OURS
CRAFT="python3 $SRCDIR/tests/functional/qcow2-craft.py"
D=$TMP

# no_sanitizer_report WHAT: sanitizer builds report in $D/out.txt.
no_sanitizer_report() {
    ! grep -q "Sanitizer\|runtime error" "$D/out.txt" ||
        fail "$1: $(cat "$D/out.txt")"
}

# check IMG: Debian's qemu-img check finds nothing wrong.
check() {
    qemu-img check -q "$1" >"$D/check.txt" 2>&1 ||
        fail "qemu-img check $1: $(cat "$D/check.txt")"
}

# same IMG RAW: the image reads as RAW, through Debian's qemu-img compare
# and through our qemu-img convert.
same() {
    qemu-img compare -q -f qcow2 -F raw "$1" "$2" ||
        fail "$1 differs from $2 (Debian's qemu-img compare)"
    "$QIMG" convert -f qcow2 -O raw "$1" "$D/same.raw" ||
        fail "our convert of $1"
    cmp -s "$D/same.raw" "$2" || fail "our convert of $1 differs from $2"
}

# A reference with data, zeroes and holes, in 64 KiB pieces.
python3 - "$D/src.raw" <<'EOF'
import random, sys
r = random.Random(7)
out = bytearray()
for i in range(96):
    k = r.randrange(4)
    if k == 0:
        out += bytes(65536)
    elif k == 1:
        out += bytes([i]) * 65536
    else:
        out += bytes(r.randrange(256) for _ in range(2048)) * 32
open(sys.argv[1], 'wb').write(out)
EOF
SIZE=$(stat -c %s "$D/src.raw")

# 1. Images made by Debian's qemu-img, read by us.
for compat in 0.10 1.1; do
    for cs in 512 4096 65536 2M; do
        for c in "" -c; do
            img=$D/deb-$compat-$cs$c.qcow2
            qemu-img convert $c -f raw -O qcow2 \
                -o compat=$compat,cluster_size=$cs "$D/src.raw" "$img" ||
                fail "Debian's convert $compat $cs $c"
            qemu-img convert -f qcow2 -O raw "$img" "$D/deb.raw"
            "$QIMG" convert -f qcow2 -O raw "$img" "$D/ours.raw" ||
                fail "our convert of $img"
            [ "$(sha "$D/deb.raw")" = "$(sha "$D/ours.raw")" ] ||
                fail "read of $img differs from Debian's"
            cmp -s "$D/ours.raw" "$D/src.raw" || fail "$img != source"
        done
    done
done
python3 - "$D/src.raw" <<'EOF' >"$D/pat.txt"
import sys
d = open(sys.argv[1], 'rb').read()
# first 64 KiB piece that is one repeated byte other than zero
for i in range(96):
    p = d[i * 65536:(i + 1) * 65536]
    if p[0] and p == bytes([p[0]]) * 65536:
        print(i * 65536, p[0])
        break
EOF
read -r poff pval <"$D/pat.txt"
for img in "$D/deb-0.10-512-c.qcow2" "$D/deb-1.1-2M.qcow2"; do
    "$QIO" -r -c "read -P $pval $poff 65536" "$img" >"$D/out.txt" 2>&1 ||
        fail "qemu-io read of $img"
    grep -q "Pattern verification failed" "$D/out.txt" &&
        fail "qemu-io read -P of $img: $(cat "$D/out.txt")"
done
qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd \
    "$D/src.raw" "$D/zstd.qcow2" || fail "Debian's zstd convert"
"$QIMG" info "$D/zstd.qcow2" | grep -q "compression type: zstd" ||
    fail "info: compression type zstd"
same "$D/zstd.qcow2" "$D/src.raw"
ok "Debian's images (v2, v3, 512 B to 2 MiB clusters, zlib, zstd) read right"

# 2. Backing chains: raw <- qcow2 (v3, 64 KiB) <- qcow2 (v2, 4 KiB), in
#    a directory of their own, opened from elsewhere.
mkdir "$D/chain"
cp "$D/src.raw" "$D/chain/base.raw"
qemu-img create -q -f qcow2 -b base.raw -F raw "$D/chain/mid.qcow2"
qemu-io -c 'write -P 0x44 100k 200k' -c 'write -z 1M 256k' \
    "$D/chain/mid.qcow2" >/dev/null
qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=4096 \
    -b mid.qcow2 -F qcow2 "$D/chain/top.qcow2"
qemu-io -c 'write -P 0x55 150k 10k' -c 'write -P 0x66 1100k 3000' \
    "$D/chain/top.qcow2" >/dev/null
qemu-img convert -O raw "$D/chain/top.qcow2" "$D/chain.raw"
(cd / && "$QIMG" convert -O raw "$D/chain/top.qcow2" "$D/ours.raw") ||
    fail "convert of a chain from another directory"
cmp -s "$D/chain.raw" "$D/ours.raw" || fail "chain read differs"
for img in "$D/chain/top.qcow2" "$D/chain/mid.qcow2" \
           "$D/deb-1.1-65536.qcow2" "$D/deb-0.10-4096-c.qcow2"; do
    qemu-img map --output=json "$img" >"$D/deb.json"
    "$QIMG" map --output=json "$img" >"$D/ours.json"
    diff "$D/deb.json" "$D/ours.json" >&2 ||
        fail "map --output=json of $img differs from Debian's"
done
# The human map names the layer that has each extent, relative names
# as they are seen from here.
(cd "$D" && qemu-img map chain/top.qcow2 >deb.txt &&
    "$QIMG" map chain/top.qcow2 >ours.txt) || fail "map of a chain"
diff "$D/deb.txt" "$D/ours.txt" >&2 || fail "map of a chain differs"
"$QIMG" info --backing-chain "$D/chain/top.qcow2" >"$D/out.txt" ||
    fail "info --backing-chain"
[ "$(grep -c '^image:' "$D/out.txt")" = 3 ] || fail "info: chain of 3"
for args in "$D/chain/top.qcow2" "$D/chain/mid.qcow2" \
            "--backing-chain $D/chain/top.qcow2" \
            "--output=json $D/chain/top.qcow2" \
            "--output=json --backing-chain $D/chain/top.qcow2" \
            "$D/deb-0.10-4096-c.qcow2"; do
    # shellcheck disable=SC2086
    qemu-img info $args | grep -v "disk size\|actual-size" >"$D/deb.txt"
    # shellcheck disable=SC2086
    "$QIMG" info $args | grep -v "disk size\|actual-size" >"$D/ours.txt"
    diff "$D/deb.txt" "$D/ours.txt" >&2 ||
        fail "info $args differs from Debian's"
done
ok "backing chains read through, relative to the image's directory; map"

# 3. Writes: the same commands through ours and Debian's qemu-io on
#    copies of the chain (copy-on-write from the backing files, partial
#    clusters, zero writes, discard), then check and compare.
W=(-c 'write -P 0x77 1000 5000' -c 'write -P 0x78 130k 70k'
   -c 'write -z 1050k 100k' -c 'write -z 2M 128k'
   -c 'write -P 0x79 6287000 4456' -c 'discard 3M 64k'
   -c 'write -z -u 4M 256k' -c 'write -P 0x7a 5M 1M')
for layer in top mid; do
    rm -rf "$D/c1" "$D/c2"
    cp -r "$D/chain" "$D/c1"
    cp -r "$D/chain" "$D/c2"
    "$QIO" -f qcow2 -d unmap "${W[@]}" "$D/c1/$layer.qcow2" \
        >"$D/out.txt" 2>&1 || fail "our writes to $layer: $(cat "$D/out.txt")"
    qemu-io -f qcow2 -d unmap "${W[@]}" "$D/c2/$layer.qcow2" >/dev/null
    check "$D/c1/$layer.qcow2"
    qemu-img compare -q "$D/c1/top.qcow2" "$D/c2/top.qcow2" ||
        fail "writes to $layer: data differs from Debian's qemu-io's"
done
ok "writes with copy-on-write, zero writes and discard on a chain"

# 3b. Overwriting compressed clusters, and clusters an internal snapshot
#     shares (Debian's qemu-img snapshot makes it; ours copies on write).
W2=(-c 'write -P 0x61 1000 3000' -c 'write -P 0x62 70000 200000'
    -c 'write -z 1M 128k' -c 'discard 2M 64k' -c 'write -z 3M 1000')
python3 - "$D/src.raw" "$D/ref2.raw" <<'EOF2'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
def w(off, b):
    d[off:off + len(b)] = b
w(1000, b'\x61' * 3000)
w(70000, b'\x62' * 200000)
w(1 << 20, bytes(128 << 10))
w(2 << 20, bytes(64 << 10))
w(3 << 20, bytes(1000))
open(sys.argv[2], 'wb').write(d)
EOF2
for cs in 512 65536; do
    qemu-img convert -c -O qcow2 -o cluster_size=$cs "$D/src.raw" \
        "$D/cz.qcow2"
    "$QIO" -d unmap "${W2[@]}" "$D/cz.qcow2" >"$D/out.txt" 2>&1 ||
        fail "writes over compressed clusters: $(cat "$D/out.txt")"
    check "$D/cz.qcow2"
    same "$D/cz.qcow2" "$D/ref2.raw"
done
qemu-img convert -O qcow2 "$D/src.raw" "$D/snap.qcow2"
qemu-img snapshot -c s1 "$D/snap.qcow2"
qemu-img snapshot -c second-snapshot-name "$D/snap.qcow2"
for fmt in human json; do
    qemu-img info --output=$fmt "$D/snap.qcow2" |
        grep -v "disk size\|actual-size" >"$D/deb.txt"
    "$QIMG" info --output=$fmt "$D/snap.qcow2" |
        grep -v "disk size\|actual-size" >"$D/ours.txt"
    diff "$D/deb.txt" "$D/ours.txt" >&2 ||
        fail "info --output=$fmt of an image with snapshots"
done
"$QIO" -d unmap "${W2[@]}" "$D/snap.qcow2" >"$D/out.txt" 2>&1 ||
    fail "writes over snapshot-shared clusters: $(cat "$D/out.txt")"
check "$D/snap.qcow2"
same "$D/snap.qcow2" "$D/ref2.raw"
qemu-img snapshot -a s1 "$D/snap.qcow2" || fail "snapshot -a"
same "$D/snap.qcow2" "$D/src.raw"
ok "overwrites of compressed and snapshot-shared clusters copy on write"

# 3c. Random writes, zero writes (with and without unmap) of every size
#     and alignment, against a model in Python, with and without a backing
#     file, on both versions and small and default clusters.
head -c 3M /dev/urandom >"$D/rbase.raw"
for seed in 1 2; do
    for cs in 512 65536; do
        for compat in 0.10 1.1; do
            for back in none raw; do
                img=$D/rnd.qcow2
                rm -f "$img"
                if [ $back = raw ]; then
                    qemu-img create -q -f qcow2 -b rbase.raw -F raw \
                        -o cluster_size=$cs,compat=$compat "$img"
                else
                    qemu-img create -q -f qcow2 \
                        -o cluster_size=$cs,compat=$compat "$img" 3M
                fi
                python3 - $seed "$D/rbase.raw" $back "$D/cmds.txt" \
                    "$D/ref.raw" <<'EOF2'
import random, sys
seed, base, back, cmds_path, ref = sys.argv[1:]
size = 3 * 1024 * 1024
r = random.Random(int(seed))
d = bytearray(open(base, 'rb').read()) if back == 'raw' else \
    bytearray(size)
cmds = []
for i in range(300):
    ln = r.choice([1, 512, 1000, 4096, 5000, 65536, 70000, 200000])
    off = r.randrange(0, size - ln)
    k = r.random()
    if k < 0.6:
        p = r.randrange(1, 256)
        cmds.append('write -P %d %d %d' % (p, off, ln))
        d[off:off + ln] = bytes([p]) * ln
    else:
        cmds.append('write -z %s%d %d' % ('-u ' if k < 0.8 else '', off,
                                           ln))
        d[off:off + ln] = bytes(ln)
open(cmds_path, 'w').write('\n'.join(cmds) + '\n')
open(ref, 'wb').write(d)
EOF2
                args=()
                while read -r l; do
                    args+=(-c "$l")
                done <"$D/cmds.txt"
                "$QIO" -d unmap "${args[@]}" "$img" >"$D/out.txt" 2>&1 ||
                    fail "random writes $seed $cs $compat $back"
                grep -q "failed" "$D/out.txt" &&
                    fail "random writes $seed $cs $compat $back: a failure"
                check "$img"
                qemu-img compare -q -F raw "$img" "$D/ref.raw" ||
                    fail "random writes $seed $cs $compat $back: data"
            done
        done
    done
done
ok "random writes and zero writes match a model"

# 4. Images we create: options, then writes checked against Python.
for opts in "-o compat=0.10" "-o cluster_size=4096,preallocation=metadata" \
            "-o refcount_bits=8,compat=1.1" "-b chain/top.qcow2 -F qcow2" \
            "-o compat=0.10,backing_file=chain/top.qcow2,backing_fmt=qcow2"; do
    # shellcheck disable=SC2086
    qemu-img create -f qcow2 $opts "$D/x.qcow2" 1M >"$D/deb.txt" 2>&1
    # shellcheck disable=SC2086
    "$QIMG" create -f qcow2 $opts "$D/x.qcow2" 1M >"$D/ours.txt" 2>&1 ||
        fail "create $opts: $(cat "$D/ours.txt")"
    diff "$D/deb.txt" "$D/ours.txt" >&2 ||
        fail "create $opts: message differs from Debian's"
done
for opts in "" compat=0.10 cluster_size=512 cluster_size=2M \
            compat=0.10,cluster_size=4096 refcount_bits=1 refcount_bits=64 \
            preallocation=metadata preallocation=falloc preallocation=full; do
    img=$D/ours.qcow2
    rm -f "$img"
    "$QIMG" create -q -f qcow2 ${opts:+-o "$opts"} "$img" 6M ||
        fail "create -o $opts"
    check "$img"
    qemu-img info --output=json "$img" >"$D/deb.json"
    "$QIMG" info --output=json "$img" >"$D/ours.json"
    python3 - "$D/deb.json" "$D/ours.json" <<'EOF' || fail "info -o $opts"
import json, sys
deb, ours = (json.load(open(p)) for p in sys.argv[1:])
for k in ('virtual-size', 'format', 'cluster-size', 'format-specific',
          'dirty-flag'):
    if deb.get(k) != ours.get(k):
        sys.exit('info field %s: Debian %r, ours %r' %
                 (k, deb.get(k), ours.get(k)))
EOF
    "$QIO" -c 'write -P 0x31 0 1M' -c 'write -P 0x32 1536k 700' \
        -c 'write -P 0x33 3000000 100000' -c 'write -z 512k 256k' \
        -c 'write -P 0x34 6290000 1456' "$img" >/dev/null ||
        fail "writes to a new image (-o $opts)"
    python3 - "$D/ref.raw" <<'EOF'
import sys
d = bytearray(6 * 1024 * 1024)
def w(off, b):
    d[off:off + len(b)] = b
w(0, b'\x31' * 1048576)
w(1536 * 1024, b'\x32' * 700)
w(3000000, b'\x33' * 100000)
w(512 * 1024, bytes(256 * 1024))
w(6290000, b'\x34' * 1456)
open(sys.argv[1], 'wb').write(d)
EOF
    check "$img"
    same "$img" "$D/ref.raw"
done
"$QIMG" create -q -f qcow2 -o backing_file=chain/top.qcow2,backing_fmt=qcow2 \
    "$D/over.qcow2" || fail "create with backing_file (size from it)"
qemu-img info "$D/over.qcow2" | grep -q "backing file: chain/top.qcow2" ||
    fail "create: backing file name"
"$QIO" -c 'write -P 0x21 70000 100' "$D/over.qcow2" >/dev/null ||
    fail "write over a backing file"
cp "$D/chain.raw" "$D/ref.raw"
python3 -c 'import sys
f = open(sys.argv[1], "r+b"); f.seek(70000); f.write(b"\x21" * 100)' \
    "$D/ref.raw"
check "$D/over.qcow2"
same "$D/over.qcow2" "$D/ref.raw"
ok "qemu-img create -f qcow2 -o ... and writes: check clean, data right"

# 5. Refcount table growth: 512 B clusters, 20 MiB of data.
"$QIMG" create -q -f qcow2 -o cluster_size=512 "$D/grow.qcow2" 24M
"$QIO" -c 'write -P 0x61 0 20M' -c 'write -P 0x62 23M 1M' \
    "$D/grow.qcow2" >/dev/null || fail "writes that grow the refcounts"
check "$D/grow.qcow2"
[ "$($CRAFT "$D/grow.qcow2" get refcount_table_clusters)" -gt 1 ] ||
    fail "the refcount table did not grow"
qemu-io -r -c 'read -P 0x61 0 20M' -c 'read -P 0 20M 3M' \
    -c 'read -P 0x62 23M 1M' "$D/grow.qcow2" >"$D/out.txt"
grep -q "verification failed" "$D/out.txt" && fail "grown image's data"
ok "refcount table and blocks grow"

# 5b. Discard and zero writes with unmap give the space back to the host.
"$QIMG" create -q -f qcow2 "$D/dd.qcow2" 16M
"$QIO" -c 'write -P 1 0 16M' "$D/dd.qcow2" >/dev/null
full=$(du -k "$D/dd.qcow2" | cut -f1)
"$QIO" -d unmap -c 'discard 0 8M' -c 'write -z -u 8M 4M' "$D/dd.qcow2" \
    >/dev/null || fail "discard"
[ "$(du -k "$D/dd.qcow2" | cut -f1)" -lt $((full - 10000)) ] ||
    fail "discard: the file kept its blocks ($(du -k "$D/dd.qcow2"))"
check "$D/dd.qcow2"
qemu-io -r -c 'read -P 0 0 12M' -c 'read -P 1 12M 4M' "$D/dd.qcow2" \
    >"$D/out.txt"
grep -q "verification failed" "$D/out.txt" && fail "discarded image's data"
ok "discard and unmapping zero writes free host space"

# 6. qemu-nbd -f qcow2: Debian's qemu-io writes, nbdinfo and qemu-img
#    read; several writers in two iothreads.
if command -v nbdinfo >/dev/null; then
    qemu-img create -q -f qcow2 -o cluster_size=4096 "$D/n.qcow2" 8M
    start_nbd nbd -f qcow2 -k "$D/n.sock" -t -e 16 --iothreads 2 \
        --cache=none --discard=unmap "$D/n.qcow2" ||
        fail "qemu-nbd -f qcow2"
    URI="nbd+unix:///?socket=$D/n.sock"
    pids=()
    # Disjoint new clusters: writer i writes every 8th cluster.
    for i in 0 1 2 3 4 5 6 7; do
        cmds=()
        for j in $(seq 0 31); do
            cmds+=(-c "write -P $((i + 1)) $(((j * 8 + i) * 4096 + 1000)) 3000")
        done
        qemu-io -f raw "${cmds[@]}" "$URI" >/dev/null & pids+=($!)
    done
    # Zero writes and discards between allocations: writer i owns every
    # 4th cluster from 6 MiB, writes it, zeroes or discards it, and
    # writes part of it again.
    for i in 0 1 2 3; do
        cmds=()
        for j in $(seq 0 15); do
            c=$((6291456 + (j * 4 + i) * 4096))
            cmds+=(-c "write -P $((0x70 + i)) $c 4096")
            if [ $((j % 2)) = 0 ]; then
                cmds+=(-c "write -z $c 4096")
            else
                cmds+=(-c "discard $c 4096")
            fi
            cmds+=(-c "write -P $((0x78 + i)) $((c + 512)) 1024")
        done
        qemu-io -f raw "${cmds[@]}" "$URI" >/dev/null & pids+=($!)
    done
    # Shared new clusters: four writers, one KiB each of every cluster.
    for i in 0 1 2 3; do
        cmds=()
        for j in $(seq 0 31); do
            off=$((4194304 + j * 4096 + i * 1024))
            cmds+=(-c "write -P $((0x40 + i)) $off 1024")
        done
        qemu-io -f raw "${cmds[@]}" "$URI" >/dev/null & pids+=($!)
    done
    for p in "${pids[@]}"; do
        wait "$p" || fail "an NBD writer failed"
    done
    nbdinfo --map "$URI" >"$D/map.txt" || fail "nbdinfo --map"
    grep -q "hole,zero" "$D/map.txt" || fail "block status: no hole"
    qemu-img convert -f raw -O raw "$URI" "$D/nbd.raw" ||
        fail "read over NBD"
    kill "$nbd_pid"
    wait_gone "$nbd_pid" 10 || fail "qemu-nbd did not exit"
    check "$D/n.qcow2"
    python3 - "$D/ref.raw" <<'EOF'
import sys
d = bytearray(8 * 1024 * 1024)
for i in range(8):
    for j in range(32):
        off = (j * 8 + i) * 4096 + 1000
        d[off:off + 3000] = bytes([i + 1]) * 3000
for i in range(4):
    for j in range(32):
        off = 4194304 + j * 4096 + i * 1024
        d[off:off + 1024] = bytes([0x40 + i]) * 1024
    for j in range(16):
        off = 6291456 + (j * 4 + i) * 4096 + 512
        d[off:off + 1024] = bytes([0x78 + i]) * 1024
open(sys.argv[1], 'wb').write(d)
EOF
    same "$D/n.qcow2" "$D/ref.raw"
    cmp -s "$D/nbd.raw" "$D/ref.raw" || fail "data read over NBD"
    # A chain served read-only reads as Debian reads it.
    start_nbd ro -f qcow2 -r -t -k "$D/ro.sock" "$D/chain/top.qcow2" ||
        fail "qemu-nbd of a chain"
    qemu-img convert -f raw -O raw "nbd+unix:///?socket=$D/ro.sock" \
        "$D/ours.raw" || fail "read of a chain over NBD"
    cmp -s "$D/ours.raw" "$D/chain.raw" || fail "chain over NBD differs"
    nbdinfo --map "nbd+unix:///?socket=$D/ro.sock" >"$D/ours.map" ||
        fail "nbdinfo --map of a chain"
    if command -v qemu-nbd >/dev/null; then
        qemu-nbd --fork --pid-file "$D/deb.pid" -r -f qcow2 \
            -k "$D/deb.sock" "$D/chain/top.qcow2" || fail "Debian's qemu-nbd"
        DAEMONS="$DAEMONS $(cat "$D/deb.pid")"
        nbdinfo --map "nbd+unix:///?socket=$D/deb.sock" >"$D/deb.map"
        diff "$D/deb.map" "$D/ours.map" >&2 ||
            fail "block status of a chain differs from Debian's qemu-nbd's"
    fi
    ok "qemu-nbd -f qcow2: concurrent writers in 2 iothreads, check clean"
else
    echo "SKIP: nbdinfo is not installed (NBD part)"
fi

# 7. Corrupt images: refused with a message naming the problem, never
#    written to.
qemu-img create -q -f qcow2 "$D/good.qcow2" 4M
qemu-io -c 'write -P 0x11 0 128k' -c 'write -P 0x12 1M 64k' \
    "$D/good.qcow2" >/dev/null
L1=$($CRAFT "$D/good.qcow2" get l1_table_offset)
RT=$($CRAFT "$D/good.qcow2" get refcount_table_offset)
L2=$($CRAFT "$D/good.qcow2" l2-table 0)

# corrupt NAME PATTERN CRAFT-COMMAND...: the edited image fails to open
# read-write with PATTERN and is left as it was.
corrupt() {
    local name=$1 pattern=$2 img=$D/bad.qcow2 before
    shift 2
    cp "$D/good.qcow2" "$img"
    $CRAFT "$img" "$@" || fail "craft $name"
    before=$(sha "$img")
    "$QIO" -f qcow2 -c 'write -P 0x99 0 4k' "$img" >"$D/out.txt" 2>&1 &&
        fail "$name: opened"
    grep -q -- "$pattern" "$D/out.txt" ||
        fail "$name: message '$(cat "$D/out.txt")' lacks '$pattern'"
    no_sanitizer_report "$name"
    [ "$(sha "$img")" = "$before" ] || fail "$name: the image was written"
}
corrupt "bad magic" "not in qcow2 format" set magic 0x51464900
corrupt "version 4" "Unsupported qcow2 version 4" set version 4
corrupt "cluster bits" "Unsupported cluster size" set cluster_bits 31
corrupt "absurd size" "Image size too large" set size 0x7fffffffffffffff
corrupt "L1 too small" "L1 table is too small" set size 0x100000000000
corrupt "L1 too large" "Active L1 table too large" set l1_size 0x10000000
corrupt "L1 past EOF" "Active L1 table at .* past the end of the file" \
    set l1_table_offset 0x40000000
corrupt "L1 unaligned" "Active L1 table offset invalid" \
    set l1_table_offset $((L1 + 8))
corrupt "L1 on refcount table" "Active L1 table overlaps" \
    set l1_table_offset "$RT"
corrupt "L1 in header" "inside the header" set l1_table_offset 0
corrupt "refcount table past EOF" "Reference count table at .* past the end" \
    set refcount_table_offset 0x40000000
corrupt "refcount block past EOF" "Refcount block 0 at offset .* past the end" \
    set-rt 0 0x40000000
corrupt "refcount block unaligned" "Refcount table entry 0 is invalid" \
    set-rt 0 $((2 * 65536 + 4096))
corrupt "refcount block on the L1 table" \
    "Refcount block 0 .* overlaps the active L1" set-rt 0 "$L1"
# (qemu-img puts the first refcount block at 0x20000)
corrupt "refcount block twice" "Two refcount table entries point to" \
    set-rt 1 0x20000
corrupt "no refcount table" "does not contain a reference count table" \
    set refcount_table_clusters 0
corrupt "refcount order" "Refcount order is too big" set refcount_order 7
corrupt "header length" "header exceeds cluster size" \
    set header_length 0x20000
corrupt "snapshot count" "Too many snapshots" set nb_snapshots 0x100000
corrupt "encryption" "Encrypted images are not supported" set crypt_method 1
# Header extensions: one that runs past the header cluster, a backing
# format that is not a string, the encryption extension.
corrupt "extension length" "Invalid header extension 0x12345678" \
    poke 112 1234567800ffff00
corrupt "backing format extension" "Invalid backing format extension" \
    poke 112 e2792aca00000004666f6f00
corrupt "encryption extension" "Encrypted images are not supported" \
    poke 112 0537be7700000000
corrupt "unknown feature" "Unsupported qcow2 feature(s).*bit 9" \
    set incompatible_features 0x200
corrupt "extended L2" "extended L2 entries (subclusters).*not supported" \
    set incompatible_features 0x10
corrupt "data file" "external data file" set incompatible_features 0x4
corrupt "dirty" "marked dirty" set incompatible_features 0x1
corrupt "marked corrupt" "marked corrupt" set incompatible_features 0x2
corrupt "backing name" "Backing file name too long" \
    set backing_file_offset 0x200 backing_file_size 5000
corrupt "backing name offset" "Invalid backing file offset" \
    set backing_file_offset 0x20000 backing_file_size 8
qemu-img create -q -f qcow2 -o extended_l2=on "$D/ext.qcow2" 1M
"$QIO" -r -c 'read 0 4k' "$D/ext.qcow2" >"$D/out.txt" 2>&1 &&
    fail "extended L2 image opened"
grep -q "subclusters" "$D/out.txt" || fail "extended L2: $(cat "$D/out.txt")"
# Snapshot table entries that point outside the file.
corrupt "snapshot table past EOF" "Snapshot table offset invalid" \
    set nb_snapshots 1 snapshots_offset 0x40000000
cp "$D/good.qcow2" "$D/snapbase.qcow2"
qemu-img snapshot -c s1 "$D/snapbase.qcow2"
SN=$($CRAFT "$D/snapbase.qcow2" get snapshots_offset)
cp "$D/snapbase.qcow2" "$D/bad.qcow2"
python3 -c 'import struct, sys
f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2]))
f.write(struct.pack(">Q", 0x40000000))' "$D/bad.qcow2" "$SN"
"$QIO" -r -c 'read 0 4k' "$D/bad.qcow2" >"$D/out.txt" 2>&1 &&
    fail "snapshot L1 past EOF: opened"
grep -q "Snapshot 0 has an invalid L1 table" "$D/out.txt" ||
    fail "snapshot L1 past EOF: $(cat "$D/out.txt")"
# A missing backing file, and one of an unknown format.
qemu-img create -q -f qcow2 -u -b nothere.qcow2 -F qcow2 "$D/nob.qcow2" 1M
"$QIO" -r -c 'read 0 4k' "$D/nob.qcow2" >"$D/out.txt" 2>&1 &&
    fail "missing backing file: opened"
grep -q "Could not open backing file 'nothere.qcow2'" "$D/out.txt" ||
    fail "missing backing file: $(cat "$D/out.txt")"
qemu-img create -q -f qcow2 -u -b good.qcow2 -F vmdk "$D/vmdk.qcow2" 1M
"$QIO" -r -c 'read 0 4k' "$D/vmdk.qcow2" >"$D/out.txt" 2>&1 &&
    fail "unknown backing format: opened"
grep -q "Unknown backing file format 'vmdk'" "$D/out.txt" ||
    fail "unknown backing format: $(cat "$D/out.txt")"
# Two L1 entries sharing an L2 table.
qemu-img create -q -f qcow2 "$D/big.qcow2" 2G
qemu-io -c 'write -P 1 0 4k' -c 'write -P 2 1G 4k' "$D/big.qcow2" >/dev/null
$CRAFT "$D/big.qcow2" set-l1 2 \
    $((0x8000000000000000 | $($CRAFT "$D/big.qcow2" l2-table 0)))
"$QIO" -r -c 'read 0 4k' "$D/big.qcow2" >"$D/out.txt" 2>&1 &&
    fail "shared L2 table: opened"
grep -q "Two L1 table entries point to the L2 table" "$D/out.txt" ||
    fail "shared L2 table: $(cat "$D/out.txt")"
# A dirty image still reads (read-only).
cp "$D/good.qcow2" "$D/dirty.qcow2"
$CRAFT "$D/dirty.qcow2" set incompatible_features 1
"$QIO" -r -c 'read -P 0x11 0 128k' "$D/dirty.qcow2" >"$D/out.txt" 2>&1 ||
    fail "dirty image read-only: $(cat "$D/out.txt")"
ok "corrupt headers refused with clear messages, images untouched"

# corrupt_io NAME PATTERN QEMU-IO-COMMAND CRAFT-COMMAND...: the image
# opens, the command fails with PATTERN; what was there is still there.
corrupt_io() {
    local name=$1 pattern=$2 cmd=$3 img=$D/bad.qcow2
    shift 3
    cp "$D/good.qcow2" "$img"
    $CRAFT "$img" "$@" || fail "craft $name"
    "$QIO" -f qcow2 -d unmap -c "$cmd" "$img" >"$D/out.txt" 2>&1
    grep -q -- "$pattern" "$D/out.txt" ||
        fail "$name: message '$(cat "$D/out.txt")' lacks '$pattern'"
    no_sanitizer_report "$name"
    grep -q "failed" "$D/out.txt" || fail "$name: the request succeeded"
}
corrupt_io "L2 entry into the header" "points into the header" \
    'read 0 4k' set-l2 0 0x8000000000000000
corrupt_io "L2 entry unaligned" "L2 entry .* is invalid" \
    'read 0 4k' set-l2 0 $((0x8000000000000000 | L2 + 512))
corrupt_io "L2 table past EOF" "L2 table at offset .* past the end" \
    'read 0 4k' set-l1 0 $((0x8000000000000000 | 0x40000000))
corrupt_io "L2 table on the L1 table" "L2 table at offset .* overlaps" \
    'read 0 4k' set-l1 0 $((0x8000000000000000 | L1))
corrupt_io "data write onto the L1 table" "would overlap the active L1" \
    'write -P 0x99 0 4k' set-l2 0 $((0x8000000000000000 | L1))
[ "$($CRAFT "$D/bad.qcow2" get incompatible_features)" = 2 ] ||
    fail "overlapping write: the image was not marked corrupt"
cmp -s -n 65536 -i "$L1:$L1" "$D/good.qcow2" "$D/bad.qcow2" ||
    fail "overlapping write: the L1 table was written"
# An L2 table whose refcount says free: the allocator hands out its
# cluster, the overlap check refuses the data write.
corrupt_io "refcount of an L2 table is 0" "would overlap the active L2" \
    'write -P 0x99 2M 4k' set-refcount $((L2 / 65536)) 0
corrupt_io "refcount underflow" "would drop below zero" \
    'discard 0 64k' set-refcount "$($CRAFT "$D/good.qcow2" host-cluster 0)" 0
ok "corrupt tables: clear errors, overlapping metadata writes refused"

# Backing chain loops.
qemu-img create -q -f qcow2 -u -b b.qcow2 -F qcow2 "$D/a.qcow2" 1M
qemu-img create -q -f qcow2 -u -b a.qcow2 -F qcow2 "$D/b.qcow2" 1M
"$QIO" -r -c 'read 0 4k' "$D/a.qcow2" >"$D/out.txt" 2>&1 &&
    fail "a backing loop opened"
grep -q "backing chain loops" "$D/out.txt" ||
    fail "loop: $(cat "$D/out.txt")"
qemu-img create -q -f qcow2 -u -b self.qcow2 -F qcow2 "$D/self.qcow2" 1M
"$QIO" -r -c 'read 0 4k' "$D/self.qcow2" >"$D/out.txt" 2>&1 &&
    fail "a self-backed image opened"
grep -q "backing chain loops" "$D/out.txt" ||
    fail "self loop: $(cat "$D/out.txt")"
ok "backing chain loops refused"
