#!/bin/bash
# Trap T7: many TLS handshakes at once against one server. The server runs
# every handshake in a coroutine that yields (never a nested event loop),
# so concurrent handshakes must all complete, each client must read
# correct data, and a stalled TLS client must not hold up the others.
. "$(dirname "$0")/common.sh"
need certtool qemu-io nbdinfo python3

gen_pki "$TMP/pki" || skip "certtool could not make certificates"
make_image "$TMP/disk.img" 16M
python3 -c "
import sys
with open('$TMP/disk.img', 'r+b') as f:
    for i in range(16):
        f.seek(i << 20)
        f.write(bytes([0x10 + i]) * (1 << 20))
"
start_nbd_tcp srv -t -f raw -e 0 \
    --object "tls-creds-x509,id=tls0,endpoint=server,dir=$TMP/pki" \
    --tls-creds tls0 "$TMP/disk.img" || fail "server did not start"
PORT=$srv_port
OBJ="tls-creds-x509,id=tls0,endpoint=client,dir=$TMP/pki"
IMG="driver=nbd,host=127.0.0.1,port=$PORT,tls-creds=tls0"

# A client that sends STARTTLS and then nothing: its handshake stalls.
python3 - "$PORT" <<'PY' &
import socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.recv(18)
s.sendall(struct.pack(">I", 3))
s.sendall(struct.pack(">QII", 0x49484156454F5054, 5, 0))
s.recv(20)
time.sleep(8)
PY
stall=$!

for round in 1 2; do
    pids=""
    for i in $(seq 0 15); do
        pat=$(printf '0x%02x' $((0x10 + i)))
        qemu-io -r --object "$OBJ" --image-opts "$IMG" \
            -c "read -P $pat ${i}M 1M" >"$TMP/q$i.log" 2>&1 &
        pids="$pids $!"
        nbdinfo --size "nbds://127.0.0.1:$PORT/?tls-certificates=$TMP/pki" \
            >"$TMP/n$i.log" 2>&1 &
        pids="$pids $!"
    done
    for p in $pids; do
        wait "$p" || fail "round $round: a TLS client failed: $(cat "$TMP"/q*.log "$TMP"/n*.log | grep -v '^read\|^1 MiB\|^16777216' | head)"
    done
    grep -l "verification failed" "$TMP"/q*.log && fail "round $round: data"
    for i in $(seq 0 15); do
        [ "$(cat "$TMP/n$i.log")" = 16777216 ] || fail "nbdinfo size $i"
    done
    ok "round $round: 32 concurrent TLS clients, data correct"
done
alive "$srv_pid" || fail "server died"
kill "$stall" 2>/dev/null
wait "$stall" 2>/dev/null
ok "a stalled TLS handshake did not block the others"
