#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Many TLS handshakes at once against one server: a handshake run in a
# nested event loop (instead of a coroutine that yields) would serve one
# client at a time and let a stalled one block every other. Concurrent
# handshakes must all complete, each client must read correct data, and a
# client stalled right after the server accepted its STARTTLS (checked:
# the server's reply is an ACK) must not hold up the others.
. "$(dirname "$0")/common.sh"
need certtool qemu-io nbdinfo python3

gen_pki "$TMP/pki" || fail "certtool could not make certificates"
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

# A client that sends STARTTLS, checks that the server agreed to it (an
# ACK reply to option 5), and then sends nothing: its TLS handshake stalls
# until we tell it to go ($TMP/release). It exits 0 only when the server
# had agreed.
python3 - "$PORT" "$TMP" <<'PY' >"$TMP/stall.log" 2>&1 &
import os, socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(30)
def recv_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise SystemExit("EOF after %r" % buf)
        buf += chunk
    return buf
greeting = recv_exact(18)
assert greeting[:16] == b"NBDMAGICIHAVEOPT", greeting
s.sendall(struct.pack(">I", 3))
s.sendall(struct.pack(">QII", 0x49484156454F5054, 5, 0))
magic, opt, rtype, length = struct.unpack(">QIII", recv_exact(20))
assert magic == 0x3e889045565a9 and opt == 5 and rtype == 1, \
    ("STARTTLS not acknowledged", hex(magic), opt, rtype, length)
open(os.path.join(sys.argv[2], "stalled"), "w").close()
release = os.path.join(sys.argv[2], "release")
end = time.time() + 120
while not os.path.exists(release) and time.time() < end:
    time.sleep(0.1)
assert os.path.exists(release), "never released"
print("stalled client: STARTTLS acknowledged, held until released")
PY
stall=$!
wait_until 30 test -e "$TMP/stalled" ||
    fail "the stalled client's STARTTLS: $(cat "$TMP/stall.log")"

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
touch "$TMP/release"
wait "$stall" || fail "stalled client: $(cat "$TMP/stall.log")"
ok "a client stalled after STARTTLS did not block the others"
