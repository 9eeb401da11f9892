#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A TLS (x509) export served from two I/O threads: each connection's TLS
# session lives in the iothread that serves it, while other connections
# run the same code in the other thread. Debian's clients (qemu-io and
# qemu-img from qemu-utils, nbdcopy and nbdinfo from libnbd-bin) write
# concurrently over TLS; the data read back over TLS, and the image file,
# must match what a Python model of the writes says (SHA-256), and the
# server's trace must show both iothreads serving requests.
. "$(dirname "$0")/common.sh"
need certtool qemu-io qemu-img nbdcopy nbdinfo python3

gen_pki "$TMP/pki" || fail "certtool could not make certificates"
truncate -s 32M "$TMP/disk.img"
start_nbd_tcp srv -t -f raw -e 0 --iothreads 2 \
    --object "tls-creds-x509,id=tls0,endpoint=server,dir=$TMP/pki" \
    --tls-creds tls0 --trace "file=$TMP/trace.txt" "${IOTHREAD_TRACE[@]}" \
    "$TMP/disk.img" || fail "qemu-nbd --iothreads 2 with TLS did not start"
PORT=$srv_port
OBJ="tls-creds-x509,id=tls0,endpoint=client,dir=$TMP/pki"
IMG="driver=nbd,host=127.0.0.1,port=$PORT,tls-creds=tls0"
URI="nbds://127.0.0.1:$PORT/?tls-certificates=$TMP/pki"

[ "$(nbdinfo --size "$URI")" = 33554432 ] || fail "nbdinfo --size over TLS"
nbdinfo "$URI" >"$TMP/info.txt" || fail "nbdinfo over TLS"
grep -q "with TLS" "$TMP/info.txt" || fail "nbdinfo did not use TLS"

# 16 MiB of random data (nbdcopy, 4 connections) into the first half,
# while four qemu-io processes write patterns into the second half.
head -c 16M /dev/urandom >"$TMP/rand.img"
pids=""
nbdcopy --connections=4 --requests=16 "$TMP/rand.img" "$URI" \
    >"$TMP/copy-in.log" 2>&1 &
pids="$pids $!"
for i in 0 1 2 3; do
    pat=$((0x51 + i))
    off=$(((16 + 4 * i) << 20))
    qemu-io --object "$OBJ" --image-opts "$IMG" \
        -c "aio_write -P $pat $off 2M" \
        -c "aio_write -P $pat $((off + 2097152)) 2M" \
        -c aio_flush -c "read -P $pat $off 4M" >"$TMP/w$i.log" 2>&1 &
    pids="$pids $!"
done
for p in $pids; do
    wait "$p" ||
        fail "a TLS writer failed: $(cat "$TMP"/w*.log "$TMP/copy-in.log")"
done
grep -l "verification failed" "$TMP"/w*.log &&
    fail "a writer read back bad data"
ok "nbdcopy (4 connections) and 4 qemu-io writers at once over TLS"

# The expected image, built independently of every NBD client.
python3 - "$TMP/rand.img" "$TMP/expect.img" <<'PY' || fail "model"
import sys
MiB = 1 << 20
data = bytearray(open(sys.argv[1], "rb").read())
for i in range(4):
    data += bytes([0x51 + i]) * (4 * MiB)
open(sys.argv[2], "wb").write(data)
PY
want=$(sha "$TMP/expect.img")

# Read it back over TLS with both Debian clients at once.
nbdcopy --connections=4 "$URI" "$TMP/out-nbdcopy.img" \
    >"$TMP/copy-out.log" 2>&1 &
c1=$!
qemu-img convert -O raw --object "$OBJ" --image-opts "$IMG" \
    "$TMP/out-qemu-img.img" >"$TMP/convert.log" 2>&1 &
c2=$!
wait "$c1" || fail "nbdcopy out over TLS: $(cat "$TMP/copy-out.log")"
wait "$c2" || fail "qemu-img convert over TLS: $(cat "$TMP/convert.log")"
[ "$(sha "$TMP/out-nbdcopy.img")" = "$want" ] ||
    fail "nbdcopy read back different data"
[ "$(sha "$TMP/out-qemu-img.img")" = "$want" ] ||
    fail "qemu-img convert read back different data"
[ "$(sha "$TMP/disk.img")" = "$want" ] || fail "the image file differs"
ok "read back over TLS by nbdcopy and qemu-img at once: sha256 as expected"

alive "$srv_pid" || fail "server died"
check_iothreads_served "$TMP/trace.txt" 2 10 ||
    fail "the TLS clients were not served by both iothreads"
ok "the trace shows TLS clients' requests served in both iothreads"
