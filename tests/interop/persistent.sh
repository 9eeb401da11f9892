#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Without -t the server exits once the last client that reached the
# transmission phase has gone; with -t it goes on serving. A listing
# client (qemu-nbd -L, nbdinfo --list) does not count.
# Waits are for a condition (bounded), never a fixed sleep and a check: a
# slow machine must not pass for the wrong reason.
. "$(dirname "$0")/common.sh"
need qemu-io

make_image "$TMP/disk.img" 8M

# gone_count NAME: how many clients the server NAME has seen leave (its
# nbd_server_client_gone trace events).
gone_count() {
    grep -c "nbd_server_client_gone" "$TMP/$1.trace" 2>/dev/null
}
# gone_at_least NAME N: the server has seen N clients leave.
gone_at_least() {
    [ "$(gone_count "$1")" -ge "$2" ]
}

start_nbd once -f raw -k "$TMP/once.sock" \
    --trace "nbd_server_client_gone,file=$TMP/once.trace" "$TMP/disk.img" ||
    fail "qemu-nbd did not start"
"$QEMU_NBD" -L -k "$TMP/once.sock" >/dev/null || fail "qemu-nbd -L"
# Look only once the server has dealt with the listing client's departure.
wait_until 20 gone_at_least once 1 ||
    fail "the server did not see the listing client leave"
alive "$once_pid" || fail "a listing client made the server exit"
qemu-io -f raw "nbd+unix:///?socket=$TMP/once.sock" \
    -c 'write -P 0x21 0 64k' >/dev/null || fail "first client"
wait_gone "$once_pid" 10 || fail "server without -t still runs after " \
    "its last client left"
[ ! -e "$TMP/once.sock" ] || fail "socket file left behind"
ok "without -t: exit after the last client"

start_nbd keep -t -f raw -k "$TMP/keep.sock" \
    --trace "nbd_server_client_gone,file=$TMP/keep.trace" "$TMP/disk.img" ||
    fail "qemu-nbd -t did not start"
for i in 1 2 3; do
    qemu-io -f raw "nbd+unix:///?socket=$TMP/keep.sock" \
        -c "read -P 0x21 0 64k" >"$TMP/io.log" 2>&1 ||
        fail "client $i: $(cat "$TMP/io.log")"
    grep -q "verification failed" "$TMP/io.log" && fail "client $i: data"
    wait_until 20 gone_at_least keep "$i" ||
        fail "the server did not see client $i leave"
    alive "$keep_pid" || fail "server -t exited after client $i"
done
ok "with -t: still serving after three clients"
kill "$keep_pid"
wait_gone "$keep_pid" 10 || fail "server -t ignores SIGTERM"
ok "SIGTERM stops the server"
