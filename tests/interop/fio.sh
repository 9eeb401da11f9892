#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fio's nbd engine (libnbd) against our qemu-nbd: random writes and reads
# with crc32c verification, over a UNIX socket and over TCP.
. "$(dirname "$0")/common.sh"
need fio
fio --enghelp 2>/dev/null | grep -qw nbd || skip "fio has no nbd engine"

cd "$TMP"
make_image "$TMP/disk.img" 64M
start_nbd srv -t -f raw -k "$TMP/sock" "$TMP/disk.img" ||
    fail "qemu-nbd did not start"

run_fio() {
    fio --name="$1" --ioengine=nbd --uri="$2" --rw=randwrite --bs=4k \
        --size=32M --iodepth=16 --verify=crc32c --do_verify=1 \
        --verify_fatal=1 --verify_state_save=0 --output="$TMP/$1.fio.log" ||
        fail "fio $1: $(cat "$TMP/$1.fio.log")"
    grep -q "err= 0" "$TMP/$1.fio.log" || fail "fio $1 reported errors"
}
run_fio unix "nbd+unix:///?socket=$TMP/sock"
ok "fio randwrite + crc32c verify over a UNIX socket"

kill "$srv_pid"
wait_gone "$srv_pid" 5 || fail "server did not stop"
start_nbd_tcp tcp -t -f raw "$TMP/disk.img" || fail "qemu-nbd on TCP"
run_fio tcp "nbd://127.0.0.1:$tcp_port/"
ok "fio randwrite + crc32c verify over TCP"
