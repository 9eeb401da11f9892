#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --iothreads 2: connections are spread over two I/O threads while they
# share one export. Concurrent writers on separate connections, then a
# flush and a read back from yet another connection: multi-conn must be
# advertised and the data must be complete. The server's trace proves
# that both I/O threads served requests (a server that ignored
# --iothreads would serve them all from its main loop).
. "$(dirname "$0")/common.sh"
need qemu-io nbdinfo nbdcopy python3

make_image "$TMP/disk.img" 64M
start_nbd srv -t -f raw -k "$TMP/sock" --iothreads 2 \
    --trace "file=$TMP/trace.txt" "${IOTHREAD_TRACE[@]}" \
    "$TMP/disk.img" || fail "qemu-nbd --iothreads 2 did not start"
URI="nbd+unix:///?socket=$TMP/sock"
nbdinfo --can multi-conn "$URI" || fail "multi-conn not advertised"

pids=""
for i in 0 1 2 3 4 5 6 7; do
    pat=$(printf '0x%02x' $((0x40 + i)))
    qemu-io -f raw "$URI" -c "aio_write -P $pat $((i * 8))M 4M" \
        -c "aio_write -P $pat $((i * 8 + 4))M 4M" -c aio_flush \
        -c "read -P $pat $((i * 8))M 8M" >"$TMP/w$i.log" 2>&1 &
    pids="$pids $!"
done
for p in $pids; do
    wait "$p" || fail "a concurrent writer failed"
done
grep -l "verification failed" "$TMP"/w*.log && fail "writer read back bad data"
for i in 0 1 2 3 4 5 6 7; do
    pat=$(printf '0x%02x' $((0x40 + i)))
    qemu-io -f raw "$URI" -c "read -P $pat $((i * 8))M 8M" \
        >"$TMP/r$i.log" 2>&1 || fail "read back $i"
    grep -q "verification failed" "$TMP/r$i.log" && fail "region $i differs"
done
ok "8 concurrent writers on 2 iothreads, data complete"

head -c 64M /dev/urandom >"$TMP/rand.img"
nbdcopy --connections=4 --requests=64 "$TMP/rand.img" "$URI" ||
    fail "nbdcopy 4 connections"
nbdcopy --connections=4 "$URI" "$TMP/out.img" || fail "nbdcopy out"
[ "$(sha "$TMP/out.img")" = "$(sha "$TMP/rand.img")" ] ||
    fail "multi-connection copy differs"
alive "$srv_pid" || fail "server died"
ok "nbdcopy --connections=4 over 2 iothreads, sha256 equal"

check_iothreads_served "$TMP/trace.txt" 2 10 ||
    fail "requests were not served by both iothreads"
ok "the trace shows requests served in both iothreads' contexts"
