#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Log hygiene: a client that goes away with many requests in flight costs
# one log line (who, why), not one warning per reply that could not be
# sent. Clients: a raw Python client that sends 32 reads of 4 MiB in each
# reply mode and hangs up without reading, one that resets the
# connection, and Debian's qemu-io killed in the middle of an aio_write
# batch. The server keeps serving afterwards. The same for our
# qemu-pr-helper -v: a client that sends 32 requests and resets the
# connection is one line.
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

# qemu-pr-helper (built beside qemu-nbd): one command at a time per
# client, so whatever is queued, a client that leaves is one line with -v.
PRH=$(dirname "$QEMU_NBD")/qemu-pr-helper
[ -x "$PRH" ] || fail "no qemu-pr-helper beside $QEMU_NBD"
start_daemon prh - "$PRH" -v -k "$TMP/pr.sock" || fail "pr-helper start"
wait_socket "$TMP/pr.sock" "$prh_pid" || fail "pr-helper is not listening"
for c in 1 2 3; do
    python3 - "$TMP/pr.sock" <<'PY' || fail "pr-helper client $c"
import array, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.recv(4)
s.sendall(b"\0\0\0\0")
fd = os.open("/dev/null", os.O_RDWR)
cdb = bytes([0x5E, 0, 0, 0, 0, 0, 0, 0x20, 0]) + bytes(7)
for _ in range(32):
    s.sendmsg([cdb], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                       array.array("i", [fd]))])
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
PY
done
wait_until 10 grep -q "client #3:" "$TMP/prh.log" || fail "pr-helper: no line"
sleep 0.5
for c in 1 2 3; do
    n=$(grep -c "client #$c:" "$TMP/prh.log")
    [ "$n" = 1 ] || fail "pr-helper client #$c: $n log lines, want 1"
done
ok "qemu-pr-helper -v: 3 clients gone with 32 requests queued, 1 line each"
