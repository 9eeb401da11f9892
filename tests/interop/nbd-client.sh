#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Our NBD client (the nbd block driver, through our qemu-io and qemu-img)
# against servers nobody here wrote: Debian's qemu-nbd, nbdkit (memory and
# file plugins) and nbd-server. For each: patterns written and read back
# (-P), the export converted to a file and compared byte for byte with
# the server's image, our qemu-img map/compare against Debian's on the
# same export; TLS against Debian's qemu-nbd; a server killed mid-run
# (EIO once reconnect-delay is over, not before) and restarted (used
# again); multi-conn=4 against nbdkit with the data checked. A peer that
# is missing leaves its part out and the test ends skipped (failed under
# QEMU_TEST_REQUIRE_ALL).
. "$(dirname "$0")/common.sh"
: "${QEMU_IO_OURS:?}" "${QEMU_IMG_OURS:?}"
need python3 qemu-img qemu-io
QIO=$QEMU_IO_OURS
QIMG=$QEMU_IMG_OURS
DEB_NBD=/usr/bin/qemu-nbd
[ -x "$DEB_NBD" ] || skip "Debian's qemu-nbd is not installed"

# The operations our qemu-io performs on each server, and the reference
# image they must leave, written here with Python (not with any of our
# programs, so that a bug in them cannot hide in the reference).
ops=(-c 'write -P 0xa1 0 1M' -c 'write -P 0x5e 3M 512k'
     -c 'write -P 0x77 7340032 4096' -c 'write -z 3M 64k'
     -c 'write -P 0x12 12M 1M' -c 'flush')
python3 - "$TMP/ref.img" <<'PY' || fail "reference image"
import sys
MiB = 1 << 20
img = bytearray(16 * MiB)
img[0:MiB] = b"\xa1" * MiB
img[3 * MiB:3 * MiB + 512 * 1024] = b"\x5e" * (512 * 1024)
img[7340032:7340032 + 4096] = b"\x77" * 4096
img[3 * MiB:3 * MiB + 65536] = bytes(65536)
img[12 * MiB:13 * MiB] = b"\x12" * MiB
open(sys.argv[1], "wb").write(img)
PY

# exercise NAME URI IMAGE: our tools against a server exporting IMAGE at
# URI (IMAGE empty: the server keeps the data in memory).
exercise() {
    local name=$1 uri=$2 img=$3
    "$QIO" -f raw "${ops[@]}" "$uri" >"$TMP/$name-w.log" 2>&1 ||
        fail "$name: write: $(cat "$TMP/$name-w.log")"
    "$QIO" -r -f raw -c 'read -P 0xa1 0 1M' -c 'read -P 0 3M 64k' \
        -c 'read -P 0x5e 3211264 448k' -c 'read -P 0x77 7340032 4096' \
        -c 'read -P 0x12 12M 1M' -c 'read -P 0 15M 1M' "$uri" \
        >"$TMP/$name-r.log" 2>&1 ||
        fail "$name: read back: $(cat "$TMP/$name-r.log")"
    grep -q "verification failed" "$TMP/$name-r.log" &&
        fail "$name: pattern mismatch: $(cat "$TMP/$name-r.log")"
    ok "$name: patterns written and read back"

    rm -f "$TMP/$name-out.img"
    "$QIMG" convert -f raw -O raw "$uri" "$TMP/$name-out.img" ||
        fail "$name: convert out of the export"
    cmp "$TMP/$name-out.img" "$TMP/ref.img" ||
        fail "$name: converted export differs from the reference"
    if [ -n "$img" ]; then
        cmp "$img" "$TMP/ref.img" || fail "$name: server's image differs"
    fi
    ok "$name: qemu-img convert out of NBD, byte for byte"

    "$QIMG" compare -f raw -F raw "$uri" "$TMP/ref.img" >/dev/null ||
        fail "$name: our compare says the export differs"
    # A differing image: exit 1 and the offset, from both (2 would mean
    # an error, which two qemu-imgs failing alike must not pass for).
    ours_rc=0; "$QIMG" compare -f raw -F raw "$uri" "$TMP/ref.img.alt" \
        >"$TMP/$name-cmp.ours" 2>&1 || ours_rc=$?
    deb_rc=0; qemu-img compare -f raw -F raw "$uri" "$TMP/ref.img.alt" \
        >"$TMP/$name-cmp.deb" 2>&1 || deb_rc=$?
    [ "$ours_rc" = 1 ] && [ "$deb_rc" = 1 ] ||
        fail "$name: compare with a differing image: ours $ours_rc," \
             "Debian $deb_rc, both must be 1: $(cat "$TMP/$name-cmp.ours")"
    grep -qx "Content mismatch at offset 4999680!" "$TMP/$name-cmp.ours" ||
        fail "$name: compare message: $(cat "$TMP/$name-cmp.ours")"
    diff -u "$TMP/$name-cmp.deb" "$TMP/$name-cmp.ours" ||
        fail "$name: compare output differs from Debian's"
    "$QIMG" map --output=json -f raw "$uri" >"$TMP/$name-map.ours" ||
        fail "$name: our map"
    qemu-img map --output=json -f raw "$uri" >"$TMP/$name-map.deb" ||
        fail "$name: Debian's map"
    diff -u "$TMP/$name-map.deb" "$TMP/$name-map.ours" ||
        fail "$name: map differs from Debian's qemu-img"
    ok "$name: compare and map --output=json agree with Debian's qemu-img"
}

cp "$TMP/ref.img" "$TMP/ref.img.alt"
printf 'X' | dd of="$TMP/ref.img.alt" bs=1 seek=5000000 conv=notrunc \
    2>/dev/null

# 1. Debian's qemu-nbd
make_image "$TMP/deb.img" 16M
start_daemon deb "$TMP/deb.pid" "$DEB_NBD" -t -f raw -k "$TMP/deb.sock" \
    -x deb --fork --pid-file "$TMP/deb.pid" "$TMP/deb.img" ||
    fail "Debian's qemu-nbd did not start"
exercise debian-qemu-nbd "nbd+unix:///deb?socket=$TMP/deb.sock" \
    "$TMP/deb.img"

# 2. nbdkit, memory and file plugins
if have nbdkit; then
    start_daemon nbdkit-mem "$TMP/mem.pid" nbdkit -U "$TMP/mem.sock" \
        -P "$TMP/mem.pid" memory size=16M &&
        wait_socket "$TMP/mem.sock" || fail "nbdkit memory did not start"
    exercise nbdkit-memory "nbd+unix:///?socket=$TMP/mem.sock" ""

    make_image "$TMP/kit.img" 16M
    start_daemon nbdkit-file "$TMP/file.pid" nbdkit -U "$TMP/file.sock" \
        -P "$TMP/file.pid" file "$TMP/kit.img" &&
        wait_socket "$TMP/file.sock" || fail "nbdkit file did not start"
    exercise nbdkit-file "nbd+unix:///?socket=$TMP/file.sock" \
        "$TMP/kit.img"
else
    skip_part "nbdkit memory and file plugins: nbdkit is not installed"
fi

# 3. nbd-server (forks a child per client)
if have nbd-server; then
    make_image "$TMP/ns.img" 16M
    cat >"$TMP/nbd-server.conf" <<EOF
[generic]
    unixsock = $TMP/ns.sock
[ns]
    exportname = $TMP/ns.img
EOF
    start_daemon nbd-server "$TMP/ns.pid" nbd-server \
        -C "$TMP/nbd-server.conf" -p "$TMP/ns.pid" &&
        wait_socket "$TMP/ns.sock" || fail "nbd-server did not start"
    exercise nbd-server "nbd+unix:///ns?socket=$TMP/ns.sock" "$TMP/ns.img"
else
    skip_part "nbd-server: nbd-server is not installed"
fi

# 4. TLS (x509) against Debian's qemu-nbd
if have certtool; then
    gen_pki "$TMP/pki" || fail "certtool could not make certificates"
    port=$(free_port)
    make_image "$TMP/tls.img" 16M
    start_daemon deb-tls "$TMP/tls.pid" "$DEB_NBD" -t -f raw \
        -b 127.0.0.1 -p "$port" -x tls --fork --pid-file "$TMP/tls.pid" \
        --object "tls-creds-x509,id=t0,endpoint=server,dir=$TMP/pki" \
        --tls-creds t0 "$TMP/tls.img" ||
        fail "Debian's qemu-nbd with TLS did not start"
    obj="tls-creds-x509,id=t0,endpoint=client,dir=$TMP/pki"
    "$QIO" --object "$obj" --image-opts \
        "driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=$port,export=tls,tls-creds=t0" \
        -c 'write -P 0x3c 1M 2M' -c 'read -P 0x3c 1M 2M' \
        >"$TMP/tls-io.log" 2>&1 || fail "TLS: $(cat "$TMP/tls-io.log")"
    grep -q "verification failed" "$TMP/tls-io.log" && fail "TLS data"
    python3 - "$TMP/tls.img" <<'EOF' || fail "TLS: the data is not in the image"
import sys
d = open(sys.argv[1], 'rb').read()
assert d[1 << 20:3 << 20] == b'\x3c' * (2 << 20)
assert d[:1 << 20] == bytes(1 << 20)
EOF
    # Without credentials the server refuses us, with a clear error.
    if "$QIO" -r -f raw -c 'read 0 4k' "nbd://127.0.0.1:$port/tls" \
        >"$TMP/tls-plain.log" 2>&1; then
        fail "TLS: a plain client was served"
    fi
    grep -qi "tls" "$TMP/tls-plain.log" ||
        fail "TLS refusal unclear: $(cat "$TMP/tls-plain.log")"
    ok "TLS x509 against Debian's qemu-nbd; plain client refused"
else
    skip_part "TLS against Debian's qemu-nbd: certtool is not installed"
fi

# 5. The server goes away mid-run and comes back.
make_image "$TMP/rc.img" 16M
start_rc() {
    start_daemon rc "$TMP/rc.pid" "$DEB_NBD" -t -f raw -k "$TMP/rc.sock" \
        -x rc --fork --pid-file "$TMP/rc.pid" "$TMP/rc.img" ||
        fail "Debian's qemu-nbd (reconnect) did not start"
}
start_rc
mkfifo "$TMP/cmds"
"$QIO" --image-opts \
    "driver=raw,file.driver=nbd,file.server.type=unix,file.server.path=$TMP/rc.sock,file.export=rc,file.reconnect-delay=2" \
    <"$TMP/cmds" >"$TMP/rc-io.log" 2>&1 &
qio_pid=$!
exec 7>"$TMP/cmds"
# step CMD PATTERN: sends CMD, waits (60 s at most) for PATTERN.
step() {
    echo "$1" >&7
    for _ in $(seq 600); do
        grep -q "$2" "$TMP/rc-io.log" && return 0
        sleep 0.1
    done
    fail "reconnect: no '$2' after '$1': $(cat "$TMP/rc-io.log")"
}
step 'write -P 0x4d 0 64k' 'wrote 65536/65536 bytes at offset 0'
kill -9 "$(cat "$TMP/rc.pid")"
t0=$(date +%s%N)
step 'read -P 0x4d 0 64k' 'read failed'
t1=$(date +%s%N)
elapsed=$(( (t1 - t0) / 1000000 ))
# The read must wait for the reconnection for reconnect-delay (2 s) before
# it fails; an immediate EIO ignores the option. The client notices the
# loss at the earliest when the server is killed (before t0), so allow
# for the time between the kill and t0. No upper bound beyond step's:
# a loaded machine may take long to run the failing read.
[ "$elapsed" -ge 1800 ] ||
    fail "reconnect: EIO after $elapsed ms, before reconnect-delay=2 was over"
grep -q "Input/output error" "$TMP/rc-io.log" ||
    fail "reconnect: not EIO: $(cat "$TMP/rc-io.log")"
ok "server killed: EIO only once reconnect-delay=2 was over ($elapsed ms)"
rm -f "$TMP/rc.sock"
start_rc
step 'read -P 0x4d 0 64k' 'read 65536/65536 bytes at offset 0'
echo quit >&7
exec 7>&-
wait "$qio_pid" || true
grep -q "verification failed" "$TMP/rc-io.log" &&
    fail "reconnect: data after reconnection"
ok "restarted server reconnected, data intact"

# 6. multi-conn=4 against nbdkit: four connections, data checked.
if have nbdkit; then
    start_daemon nbdkit-mc "$TMP/mc.pid" nbdkit -U "$TMP/mc.sock" \
        -P "$TMP/mc.pid" --filter=log memory size=64M \
        logfile="$TMP/mc-conn.log" &&
        wait_socket "$TMP/mc.sock" || fail "nbdkit (multi-conn) did not start"
    mc="driver=nbd,server.type=unix,server.path=$TMP/mc.sock,multi-conn=4"
    args=()
    for i in $(seq 0 15); do
        args+=(-c "aio_write -P $((i + 1)) $((i * 4))M 4M")
    done
    args+=(-c aio_flush)
    for i in $(seq 0 15); do
        args+=(-c "read -P $((i + 1)) $((i * 4))M 4M")
    done
    "$QIO" --image-opts "$mc" "${args[@]}" >"$TMP/mc-io.log" 2>&1 ||
        fail "multi-conn: $(cat "$TMP/mc-io.log")"
    grep -q "verification failed" "$TMP/mc-io.log" &&
        fail "multi-conn data: $(cat "$TMP/mc-io.log")"
    conns=$(grep -o 'connection=[0-9]*' "$TMP/mc-conn.log" | sort -u | wc -l)
    [ "$conns" -eq 4 ] ||
        fail "multi-conn=4 opened $conns connections: $(head "$TMP/mc-conn.log")"
    # 16 writes in flight at once: every connection must carry some.
    wconns=$(grep ' Write id=' "$TMP/mc-conn.log" |
             grep -o 'connection=[0-9]*' | sort -u | wc -l)
    [ "$wconns" -eq 4 ] ||
        fail "multi-conn=4 sent writes over $wconns connections"
    # A second client reads it all back over one connection.
    "$QIO" -r -f raw -c 'read -P 16 60M 4M' -c 'read -P 1 0 4M' \
        "nbd+unix:///?socket=$TMP/mc.sock" >"$TMP/mc-r.log" 2>&1 ||
        fail "multi-conn read back: $(cat "$TMP/mc-r.log")"
    grep -q "verification failed" "$TMP/mc-r.log" && fail "multi-conn data"
    ok "multi-conn=4 against nbdkit: writes over 4 connections, data verified"
else
    skip_part "multi-conn=4 against nbdkit: nbdkit is not installed"
fi
