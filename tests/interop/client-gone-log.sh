#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Log hygiene: a client that goes away with many requests in flight costs
# one log line (who, why), not one warning per reply that could not be
# sent. Clients: a raw Python client that sends 32 reads of 4 MiB in each
# reply mode and hangs up without reading, one that resets the
# connection, and Debian's qemu-io killed in the middle of an aio_write
# batch. The server keeps serving afterwards.
. "$(dirname "$0")/common.sh"
need qemu-io python3

make_image "$TMP/disk.img" 160M
SOCK=$TMP/nbd.sock
# Foreground, so that its warnings reach the log (--fork closes stderr).
start_daemon srv - "$QEMU_NBD" -t -f raw -k "$SOCK" "$TMP/disk.img" ||
    fail "qemu-nbd did not start"
wait_socket "$SOCK" "$srv_pid" || fail "qemu-nbd is not listening"
LOG=$TMP/srv.log

# vanish MODE RESET: 32 reads of 4 MiB, then close (RESET=1: with RST).
vanish() {
    python3 - "$SOCK" "$1" "$2" <<'PY'
import os, socket, struct, sys
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests", "functional"))
import nbdclient as n
c = n.Client(sys.argv[1]).connect_export("", mode=sys.argv[2])
for i in range(32):
    c.send_request(n.CMD_READ, offset=i * (4 << 20), length=4 << 20,
                   cookie=i + 1)
if sys.argv[3] == "1":
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                   struct.pack("ii", 1, 0))
c.close()
PY
}

# settle: waits until the server has noticed (the log stops growing).
settle() {
    local a b
    b=$(wc -l <"$LOG")
    while :; do
        sleep 0.5
        a=$b
        b=$(wc -l <"$LOG")
        [ "$a" = "$b" ] && break
    done
}

for mode in simple structured extended; do
    for reset in 0 1; do
        before=$(wc -l <"$LOG")
        vanish "$mode" "$reset" || fail "$mode client could not connect"
        settle
        new=$(($(wc -l <"$LOG") - before))
        [ "$new" = 1 ] || {
            tail -n "$new" "$LOG" | sed 's/^/# /'
            fail "$mode client (reset $reset) gone: $new log lines, want 1"
        }
        ok "$mode client gone with 32 reads in flight (reset $reset): \
$new log line"
    done
done
alive "$srv_pid" || fail "server died"

# Debian's qemu-io, killed during a batch of 4 MiB aio_writes.
for round in 1 2 3; do
    before=$(wc -l <"$LOG")
    args=()
    for i in $(seq 0 31); do
        args+=(-c "aio_write -P 0x$((i + 16)) $((i * 4))M 4M")
    done
    qemu-io -f raw "nbd+unix:///?socket=$SOCK" "${args[@]}" \
        -c 'aio_flush' >/dev/null 2>&1 &
    qio=$!
    sleep 0.$((round * 5))
    kill -9 "$qio" 2>/dev/null
    wait "$qio" 2>/dev/null
    settle
    new=$(($(wc -l <"$LOG") - before))
    [ "$new" -le 1 ] || {
        tail -n "$new" "$LOG" | sed 's/^/# /'
        fail "qemu-io killed mid batch: $new log lines, want at most 1"
    }
    tail -n "$new" "$LOG" | sed 's/^/# /'
    ok "qemu-io killed mid aio_write batch (round $round): $new log line(s)"
done

qemu-io -f raw "nbd+unix:///?socket=$SOCK" -c 'write -P 0x77 0 64k' \
    -c 'read -P 0x77 0 64k' >"$TMP/io.out" 2>&1 &&
    ! grep -q "verification failed" "$TMP/io.out" ||
    fail "server does not serve after the departures: $(cat "$TMP/io.out")"
ok "server still serves"
