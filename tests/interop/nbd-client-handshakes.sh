#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Our NBD client against nbdkit configured as the servers it must cope
# with: simple replies only (--no-sr), plain newstyle (no fixed newstyle:
# only NBD_OPT_EXPORT_NAME may be sent), oldstyle, a minimum and maximum
# block size enforced as errors (the client must align and split), errors
# on reads and writes (the connection stays usable), a list of named
# exports with unknown names refused, multi-conn not allowed, and TLS
# required (PSK). Data is checked with qemu-io -P in each; each refusal
# must say what was refused.
. "$(dirname "$0")/common.sh"
: "${QEMU_IO_OURS:?}" "${QEMU_IMG_OURS:?}"
need nbdkit qemu-img
QIO=$QEMU_IO_OURS
QIMG=$QEMU_IMG_OURS
QNBD=$QEMU_NBD

# kit NAME ARGS...: nbdkit on $TMP/NAME.sock; sets URI to its default
# export.
kit() {
    local name=$1
    shift
    rm -f "$TMP/$name.sock"
    start_daemon "nbdkit-$name" "$TMP/$name.pid" nbdkit -U "$TMP/$name.sock" \
        -P "$TMP/$name.pid" "$@" && wait_socket "$TMP/$name.sock" ||
        fail "$name: nbdkit did not start"
    SOCK=$TMP/$name.sock
    URI="nbd+unix:///?socket=$SOCK"
}

# patterns NAME URI [plain]: writes patterns (aligned, unaligned, across
# 64 KiB boundaries) and reads them back, with zeroes around them. With
# "plain", no write-zeroes and no flush: nbdkit 1.32 answers both with
# EINVAL in oldstyle (Debian's qemu-io gets the same).
patterns() {
    local name=$1 uri=$2 more=(-c 'write -z 2248k 8k' -c flush)
    [ "${3:-}" = plain ] && more=()
    "$QIO" -f raw -c 'write -P 0xa1 0 1M' -c 'write -P 0x5e 1049088 1536' \
        -c 'write -P 0x77 2M 200k' "${more[@]}" \
        "$uri" >"$TMP/$name-w.log" 2>&1 ||
        fail "$name: write: $(cat "$TMP/$name-w.log")"
    grep -q "failed" "$TMP/$name-w.log" &&
        fail "$name: write: $(cat "$TMP/$name-w.log")"
    "$QIO" -r -f raw -c 'read -P 0xa1 0 1M' -c 'read -P 0 1M 512' \
        -c 'read -P 0x5e 1049088 1536' -c 'read -P 0 1050624 2048' \
        -c 'read -P 0x77 2M 200k' -c 'read -P 0 2248k 8k' \
        -c 'read -P 0x77 2208k 40k' "$uri" >"$TMP/$name-r.log" 2>&1 ||
        fail "$name: read: $(cat "$TMP/$name-r.log")"
    grep -q "failed" "$TMP/$name-r.log" &&
        fail "$name: read back: $(cat "$TMP/$name-r.log")"
    [ "$(grep -c '^read ' "$TMP/$name-r.log")" -eq 7 ] ||
        fail "$name: not every read ran: $(cat "$TMP/$name-r.log")"
}

# refused NAME PATTERN CMD...: CMD must fail and say PATTERN.
refused() {
    local name=$1 pat=$2
    shift 2
    if "$@" >"$TMP/$name.log" 2>&1; then
        fail "$name: accepted: $(cat "$TMP/$name.log")"
    fi
    grep -q -- "$pat" "$TMP/$name.log" ||
        fail "$name: expected '$pat', got: $(cat "$TMP/$name.log")"
    rm -f "$TMP/$name.log"
}

# 1. Simple replies only: reads come back in simple replies, and without
# base:allocation every extent maps as data, as Debian's qemu-img says.
kit nosr --no-sr memory 16M
patterns nosr "$URI"
"$QIMG" map --output=json -f raw "$URI" >"$TMP/nosr-map.ours" ||
    fail "no-sr: our map"
qemu-img map --output=json -f raw "$URI" >"$TMP/nosr-map.deb" ||
    fail "no-sr: Debian's map"
diff -u "$TMP/nosr-map.deb" "$TMP/nosr-map.ours" >&2 ||
    fail "no-sr: map differs from Debian's qemu-img"
ok "simple replies only (--no-sr): data checked, map as Debian's"

# 2. Plain newstyle: NBD_OPT_EXPORT_NAME straight away.
kit plain --mask-handshake=0 memory 16M
patterns plain "$URI"
"$QIMG" info "$URI" >"$TMP/plain-info.log" 2>&1 &&
    grep -q "virtual size: 16 MiB" "$TMP/plain-info.log" ||
    fail "plain newstyle: info: $(cat "$TMP/plain-info.log")"
refused plain-list "does not support export lists" "$QNBD" -L -k "$SOCK"
ok "plain newstyle (--mask-handshake=0): data checked; -L refused clearly"

# 3. Oldstyle: the default export only.
kit old --oldstyle memory 16M
patterns old "$URI" plain
refused old-named "oldstyle negotiation, which has only the default export" \
    "$QIO" -f raw -c 'read 0 512' "nbd+unix:///disk?socket=$SOCK"
"$QNBD" -L -k "$SOCK" >"$TMP/old-list.log" 2>&1 ||
    fail "oldstyle: -L: $(cat "$TMP/old-list.log")"
grep -q "export: ''" "$TMP/old-list.log" &&
    grep -q "size:  16777216" "$TMP/old-list.log" ||
    fail "oldstyle: -L: $(cat "$TMP/old-list.log")"
ok "oldstyle (--oldstyle): data checked; named export refused; -L lists it"

# 4. Block size limits the server enforces: a request that is not a
# multiple of 4 KiB or is over 64 KiB fails with EINVAL, so the client
# must widen unaligned requests (read-modify-write) and split big ones.
kit bs --filter=blocksize-policy memory 16M blocksize-minimum=4096 \
    blocksize-preferred=65536 blocksize-maximum=65536 \
    blocksize-error-policy=error
patterns bs "$URI"
"$QIO" -r -f raw -c 'read -P 0xa1 0 1M' -c 'read -P 0x5e 1049088 1536' \
    "nbd+unix:///?socket=$SOCK" >"$TMP/bs-r2.log" 2>&1 &&
    ! grep -q failed "$TMP/bs-r2.log" || fail "block sizes: reread"
ok "block sizes 4 KiB..64 KiB enforced by the server: data checked"

# 5. Errors: reads fail with EIO, writes with ENOSPC; the connection
# stays up, so zeroing, flush and length still work after them.
kit err --filter=error memory 16M error-pread=EIO error-pread-rate=1 \
    error-pwrite=ENOSPC error-pwrite-rate=1
"$QIO" -f raw -c 'read 0 4k' -c 'write -P 1 0 4k' -c 'write -z 0 64k' \
    -c flush -c length "$URI" >"$TMP/err.log" 2>&1
grep -q "read failed: Input/output error" "$TMP/err.log" &&
    grep -q "write failed: No space left on device" "$TMP/err.log" &&
    grep -q "wrote 65536/65536 bytes at offset 0" "$TMP/err.log" &&
    grep -q "^16 MiB" "$TMP/err.log" ||
    fail "errors: $(cat "$TMP/err.log")"
ok "EIO on reads and ENOSPC on writes reported; the connection stays up"

# 6. Named exports, unknown names refused.
kit names --filter=exportname memory 16M exportname=disk1 \
    exportname=disk2 exportname-strict=true exportname-list=explicit
"$QNBD" -L -k "$SOCK" >"$TMP/names.log" 2>&1 ||
    fail "names: -L: $(cat "$TMP/names.log")"
[ "$(grep -c "^ export: 'disk[12]'" "$TMP/names.log")" -eq 2 ] ||
    fail "names: -L: $(cat "$TMP/names.log")"
patterns names "nbd+unix:///disk2?socket=$SOCK"
refused names-unknown "export 'nosuch'.*not available" \
    "$QIO" -f raw -c 'read 0 512' "nbd+unix:///nosuch?socket=$SOCK"
ok "named exports listed and used; an unknown name refused clearly"

# 7. multi-conn asked of a server that does not allow it: one connection,
# with a warning that says so.
kit nomc --filter=log --filter=multi-conn memory 16M \
    multi-conn-mode=disable logfile="$TMP/nomc-conn.log"
"$QIO" --image-opts \
    "driver=nbd,server.type=unix,server.path=$SOCK,multi-conn=4" \
    -c 'aio_write -P 0x21 0 64k' -c 'aio_write -P 0x22 64k 64k' \
    -c aio_flush -c 'read -P 0x21 0 64k' -c 'read -P 0x22 64k 64k' \
    >"$TMP/nomc.log" 2>&1 && ! grep -q failed "$TMP/nomc.log" ||
    fail "multi-conn refused: $(cat "$TMP/nomc.log")"
grep -q "does not allow multi-conn.*using one connection" "$TMP/nomc.log" ||
    fail "multi-conn refused: no warning: $(cat "$TMP/nomc.log")"
conns=$(grep -o 'connection=[0-9]*' "$TMP/nomc-conn.log" | sort -u | wc -l)
[ "$conns" -eq 1 ] || fail "multi-conn refused: $conns connections"
ok "multi-conn=4 against a server without multi-conn: one connection, warned"

# 8. TLS required (PSK): with credentials the data goes through; without,
# or against a server that cannot do TLS, a clear refusal.
if have psktool; then
    mkdir -p "$TMP/psk"
    psktool -u alice -p "$TMP/psk/keys.psk" >/dev/null 2>&1 ||
        fail "psktool failed"
    psk="tls-creds-psk,id=tls0,endpoint=client,dir=$TMP/psk,username=alice"
    kit tls --tls=require --tls-psk="$TMP/psk/keys.psk" memory 16M
    "$QIO" --object "$psk" --image-opts \
        "driver=nbd,server.type=unix,server.path=$SOCK,tls-creds=tls0" \
        -c 'write -P 0x3c 0 256k' -c 'read -P 0x3c 0 256k' \
        -c 'read -P 0 256k 4k' >"$TMP/tls.log" 2>&1 &&
        ! grep -q failed "$TMP/tls.log" &&
        [ "$(grep -c '^read ' "$TMP/tls.log")" -eq 2 ] ||
        fail "TLS PSK: $(cat "$TMP/tls.log")"
    refused tls-none "requires TLS" "$QIO" -f raw -c 'read 0 512' "$URI"
    kit plain2 --mask-handshake=0 memory 16M
    refused tls-plain "fixed newstyle negotiation, which TLS needs" \
        "$QIO" --object "$psk" --image-opts \
        "driver=nbd,server.type=unix,server.path=$SOCK,tls-creds=tls0" \
        -c 'read 0 512'
    ok "TLS required (PSK): data checked; no TLS, or no fixed newstyle, refused"
else
    skip_part "TLS against nbdkit: psktool (gnutls-bin) is not installed"
fi
