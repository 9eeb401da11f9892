#!/bin/bash
# Without -t the server exits once the last client that reached the
# transmission phase has gone; with -t it goes on serving. A listing
# client (qemu-nbd -L, nbdinfo --list) does not count.
. "$(dirname "$0")/common.sh"
need qemu-io

make_image "$TMP/disk.img" 8M

start_nbd once -f raw -k "$TMP/once.sock" "$TMP/disk.img" ||
    fail "qemu-nbd did not start"
"$QEMU_NBD" -L -k "$TMP/once.sock" >/dev/null || fail "qemu-nbd -L"
sleep 0.3
alive "$once_pid" || fail "a listing client made the server exit"
qemu-io -f raw "nbd+unix:///?socket=$TMP/once.sock" \
    -c 'write -P 0x21 0 64k' >/dev/null || fail "first client"
wait_gone "$once_pid" 10 || fail "server without -t still runs after " \
    "its last client left"
[ ! -e "$TMP/once.sock" ] || fail "socket file left behind"
ok "without -t: exit after the last client"

start_nbd keep -t -f raw -k "$TMP/keep.sock" "$TMP/disk.img" ||
    fail "qemu-nbd -t did not start"
for i in 1 2 3; do
    qemu-io -f raw "nbd+unix:///?socket=$TMP/keep.sock" \
        -c "read -P 0x21 0 64k" >"$TMP/io.log" 2>&1 ||
        fail "client $i: $(cat "$TMP/io.log")"
    grep -q "verification failed" "$TMP/io.log" && fail "client $i: data"
    alive "$keep_pid" || fail "server -t exited after client $i"
done
ok "with -t: still serving after three clients"
kill "$keep_pid"
wait_gone "$keep_pid" 10 || fail "server -t ignores SIGTERM"
ok "SIGTERM stops the server"
