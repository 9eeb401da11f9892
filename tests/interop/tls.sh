#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TLS: x509 (certificates made here with certtool) and PSK, with qemu-img,
# qemu-io, nbdinfo and our own qemu-nbd -L as clients. A client without
# TLS, and one that does not trust the server's CA, are refused; the
# server goes on serving the good ones.
. "$(dirname "$0")/common.sh"
need certtool psktool qemu-img qemu-io nbdinfo

gen_pki "$TMP/pki" || fail "certtool could not make certificates"
gen_pki "$TMP/other-pki" || fail "certtool could not make certificates"
mkdir -p "$TMP/psk"
psktool -u alice -p "$TMP/psk/keys.psk" >/dev/null 2>&1 ||
    fail "psktool failed"

make_image "$TMP/disk.img" 16M
start_nbd_tcp x509 -t -f raw -x tdisk \
    --object "tls-creds-x509,id=tls0,endpoint=server,dir=$TMP/pki" \
    --tls-creds tls0 "$TMP/disk.img" || fail "x509 server did not start"
PORT=$x509_port
CLIENT_OBJ="tls-creds-x509,id=tls0,endpoint=client,dir=$TMP/pki"
IMG="driver=nbd,host=127.0.0.1,port=$PORT,export=tdisk,tls-creds=tls0"

qemu-io --object "$CLIENT_OBJ" --image-opts "$IMG" \
    -c 'write -P 0x6b 1M 1M' -c 'read -P 0x6b 1M 1M' >"$TMP/io.log" 2>&1 ||
    fail "qemu-io over x509: $(cat "$TMP/io.log")"
grep -q "verification failed" "$TMP/io.log" && fail "x509 data"
qemu-img info --object "$CLIENT_OBJ" --image-opts "$IMG" >/dev/null ||
    fail "qemu-img info over x509"
ok "x509: qemu-io write/read, qemu-img info"

nbdinfo "nbds://127.0.0.1:$PORT/tdisk?tls-certificates=$TMP/pki" \
    >"$TMP/info.txt" || fail "nbdinfo over x509"
grep -q "with TLS" "$TMP/info.txt" || fail "nbdinfo did not use TLS"
ok "x509: nbdinfo"

"$QEMU_NBD" -L -b 127.0.0.1 -p "$PORT" --object "$CLIENT_OBJ" \
    --tls-creds tls0 --tls-hostname localhost >"$TMP/list.txt" ||
    fail "qemu-nbd -L over TLS"
grep -q "export: 'tdisk'" "$TMP/list.txt" || fail "qemu-nbd -L output"
ok "x509: qemu-nbd -L --tls-creds"

# Refused: no TLS at all, and a CA the server's certificate is not from.
qemu-img info "nbd://127.0.0.1:$PORT/tdisk" >"$TMP/plain.log" 2>&1 &&
    fail "a plain client was served"
grep -qi "TLS" "$TMP/plain.log" || fail "plain client: $(cat "$TMP/plain.log")"
nbdinfo "nbd://127.0.0.1:$PORT/tdisk" >/dev/null 2>&1 &&
    fail "nbdinfo without TLS was served"
qemu-img info --object \
    "tls-creds-x509,id=tls0,endpoint=client,dir=$TMP/other-pki" \
    --image-opts "$IMG" >/dev/null 2>&1 &&
    fail "a client with the wrong CA was served"
ok "plain clients and untrusted certificates are refused"
alive "$x509_pid" || fail "x509 server died"

# What the refused clients tried did not touch the data.
qemu-io --object "$CLIENT_OBJ" --image-opts "$IMG" \
    -c 'read -P 0x6b 1M 1M' >"$TMP/io.log" 2>&1 &&
    ! grep -q "verification failed" "$TMP/io.log" ||
    fail "x509 data after refusals"
ok "x509: data intact after the refusals"
kill "$x509_pid"
wait_gone "$x509_pid" 5

start_nbd_tcp psk -t -f raw \
    --object "tls-creds-psk,id=tls0,endpoint=server,dir=$TMP/psk" \
    --tls-creds tls0 "$TMP/disk.img" || fail "PSK server did not start"
PORT=$psk_port
qemu-io --object "tls-creds-psk,id=tls0,endpoint=client,dir=$TMP/psk,username=alice" \
    --image-opts "driver=nbd,host=127.0.0.1,port=$PORT,tls-creds=tls0" \
    -c 'write -P 0x3c 0 64k' -c 'read -P 0x3c 0 64k' >"$TMP/io.log" 2>&1 ||
    fail "qemu-io over PSK: $(cat "$TMP/io.log")"
grep -q "verification failed" "$TMP/io.log" && fail "PSK data"
nbdinfo "nbds://alice@127.0.0.1:$PORT/?tls-psk-file=$TMP/psk/keys.psk" \
    >"$TMP/info.txt" || fail "nbdinfo over PSK"
grep -q "with TLS" "$TMP/info.txt" || fail "nbdinfo PSK without TLS"
qemu-img info "nbd://127.0.0.1:$PORT/" >/dev/null 2>&1 &&
    fail "a plain client was served by the PSK server"
ok "PSK: qemu-io, nbdinfo; plain client refused"
