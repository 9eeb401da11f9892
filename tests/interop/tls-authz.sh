#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --tls-authz: qemu-nbd asks an authorization object (authz-simple,
# authz-list with exact and glob rules, authz-listfile reloaded on SIGHUP)
# about each client's X.509 distinguished name right after the TLS
# handshake. Clients are Debian's qemu-img, qemu-io and nbdinfo with
# certificates for two names from one CA; the denied one is refused with
# one log line naming its DN and the object, and the server goes on
# serving the allowed one.
. "$(dirname "$0")/common.sh"
need certtool qemu-img qemu-io nbdinfo

gen_pki "$TMP/pki" || fail "certtool could not make certificates"

# client_pki NAME: $TMP/NAME holds the CA and a client certificate whose
# common name is NAME.
client_pki() {
    local d=$TMP/$1
    mkdir -p "$d"
    cp "$TMP/pki/ca-cert.pem" "$d/"
    cat >"$d/client.info" <<EOT
organization = NBD Test
cn = $1
tls_www_client
encryption_key
signing_key
expiration_days = 2
EOT
    certtool --generate-privkey --outfile "$d/client-key.pem" 2>/dev/null &&
    certtool --generate-certificate \
        --load-ca-certificate "$TMP/pki/ca-cert.pem" \
        --load-ca-privkey "$TMP/pki/ca-key.pem" \
        --load-privkey "$d/client-key.pem" --template "$d/client.info" \
        --outfile "$d/client-cert.pem" 2>/dev/null
}
client_pki alice || fail "certtool: alice"
client_pki bob || fail "certtool: bob"
# The DN as QEMU gives it to authorization objects (GnuTLS's compatible
# order: as in the certificate, O before CN).
ALICE="O=NBD Test,CN=alice"
BOB="O=NBD Test,CN=bob"

make_image "$TMP/disk.img" 4M
SERVER_OBJ="tls-creds-x509,id=tls0,endpoint=server,dir=$TMP/pki"
N=0

# serve AUTHZ_OBJECT: a fresh qemu-nbd with --tls-authz az0, in the
# foreground so that its log reaches $LOG (--fork would close stderr);
# sets PORT, PID, LOG.
serve() {
    local port
    if [ -n "${PID:-}" ]; then
        kill "$PID"
        wait_gone "$PID" 10 || fail "server $N did not stop"
    fi
    N=$((N + 1))
    LOG=$TMP/srv$N.log
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        start_daemon "srv$N" - "${SERVER_BIN:-$QEMU_NBD}" -t -f raw -x tdisk \
            -b 127.0.0.1 -p "$port" --pid-file "$TMP/srv$N.pid" \
            --object "$SERVER_OBJ" --object "$1" --tls-creds tls0 \
            --tls-authz az0 "$TMP/disk.img" ||
            fail "server $N did not start: $(cat "$LOG")"
        eval "PID=\$srv${N}_pid"
        wait_until 10 test -s "$TMP/srv$N.pid" && break
        grep -q "in use" "$LOG" || fail "server $N: $(cat "$LOG")"
    done
    PORT=$port
}

# qimg NAME: qemu-img info as NAME; qio NAME: qemu-io write+read;
# ninfo NAME: nbdinfo. Each succeeds when the server let NAME in.
qimg() {
    qemu-img info --object \
        "tls-creds-x509,id=tls0,endpoint=client,dir=$TMP/$1" --image-opts \
        "driver=nbd,host=127.0.0.1,port=$PORT,export=tdisk,tls-creds=tls0" \
        >"$TMP/client.out" 2>&1
}
qio() {
    qemu-io --object "tls-creds-x509,id=tls0,endpoint=client,dir=$TMP/$1" \
        --image-opts \
        "driver=nbd,host=127.0.0.1,port=$PORT,export=tdisk,tls-creds=tls0" \
        -c 'write -P 0x5a 0 64k' -c 'read -P 0x5a 0 64k' \
        >"$TMP/client.out" 2>&1 &&
        ! grep -q "verification failed" "$TMP/client.out"
}
ninfo() {
    nbdinfo "nbds://127.0.0.1:$PORT/tdisk?tls-certificates=$TMP/$1" \
        >"$TMP/client.out" 2>&1
}

# check ALLOWED DENIED WHAT: every client program gets in as ALLOWED and
# is refused as DENIED; each refusal is one log line with DN and id.
check() {
    local allowed=$1 denied=$2 what=$3 dn before after prog
    dn="O=NBD Test,CN=$denied"
    for prog in qimg qio ninfo; do
        $prog "$allowed" || fail "$what: $prog as $allowed refused: \
$(cat "$TMP/client.out")"
        before=$(grep -c "'$dn'.*'az0'" "$LOG")
        $prog "$denied" && fail "$what: $prog as $denied was served"
        after=$(grep -c "'$dn'.*'az0'" "$LOG")
        [ "$after" = $((before + 1)) ] ||
            fail "$what: $prog as $denied: $((after - before)) log lines \
naming '$dn' and 'az0', want 1"
    done
    alive "$PID" || fail "$what: server died"
    $prog "$allowed" || fail "$what: $allowed refused after the denials"
    ok "$what: $allowed served, $denied refused (qemu-img, qemu-io, nbdinfo)"
}

serve "authz-simple,id=az0,identity=${ALICE//,/,,}"
check alice bob "authz-simple"
grep "'$BOB'" "$LOG" | head -1 | sed 's/^/# /'

# The same identity means the same client to Debian's qemu-nbd: rules
# written for QEMU work unchanged.
if [ -x /usr/bin/qemu-nbd ]; then
    SERVER_BIN=/usr/bin/qemu-nbd serve \
        "authz-simple,id=az0,identity=${ALICE//,/,,}"
    qimg alice || fail "Debian's qemu-nbd refused '$ALICE'"
    qimg bob && fail "Debian's qemu-nbd let '$BOB' in"
    ok "Debian's qemu-nbd reads the same identity the same way"
else
    skip_part "Debian's qemu-nbd is not installed"
fi

serve "authz-list,id=az0,policy=allow,rules.0.match=${BOB//,/,,},\
rules.0.policy=deny,rules.0.format=exact"
check alice bob "authz-list exact, default allow"

serve "authz-list,id=az0,policy=deny,rules.0.match=*,,CN=alice,\
rules.0.policy=deny,rules.0.format=glob,rules.1.match=O=NBD Test,,CN=*,\
rules.1.policy=allow,rules.1.format=glob"
check bob alice "authz-list glob, first match wins"

# A rule list with a gap, or a rule without a policy, is refused.
"$QEMU_NBD" -t -f raw --object "authz-list,id=az0,rules.1.match=x,\
rules.1.policy=allow" --object "$SERVER_OBJ" --tls-creds tls0 \
    --tls-authz az0 "$TMP/disk.img" >"$TMP/bad.out" 2>&1 &&
    fail "a rule list with a gap was accepted"
grep -q "rule 0" "$TMP/bad.out" || fail "gap: $(cat "$TMP/bad.out")"
ok "authz-list with a gap in its rules is refused"

cat >"$TMP/rules.json" <<EOT
{"policy": "deny",
 "rules": [{"match": "*,CN=alice", "policy": "allow", "format": "glob"}]}
EOT
serve "authz-listfile,id=az0,filename=$TMP/rules.json"
check alice bob "authz-listfile"

cat >"$TMP/rules.json" <<EOT
{"policy": "allow",
 "rules": [{"match": "$ALICE", "policy": "deny"}]}
EOT
kill -HUP "$PID"
wait_until 10 grep -q "reloaded" "$LOG" || fail "no reload after SIGHUP"
alive "$PID" || fail "SIGHUP ended a server with a refreshable listfile"
check bob alice "authz-listfile after SIGHUP"

# A file that no longer parses denies everyone until it loads again.
echo '{"policy": "allow", "rules": [' >"$TMP/rules.json"
kill -HUP "$PID"
wait_until 10 grep -q "reload failed" "$LOG" || fail "bad file not reported"
for who in alice bob; do
    qimg $who && fail "$who served while the rules file is broken"
done
alive "$PID" || fail "server died on a broken rules file"
ok "authz-listfile: a broken file on reload denies everyone"
cat >"$TMP/rules.json" <<EOT
{"rules": [{"match": "$BOB", "policy": "allow"}]}
EOT
kill -HUP "$PID"
reloads() {
    [ "$(grep -c "rules reloaded" "$LOG")" = "$1" ]
}
wait_until 10 reloads 2 || fail "no second reload"
check bob alice "authz-listfile after the file was fixed"

# The name older QEMU releases use (Debian 12's) is the same object.
serve "authz-list-file,id=az0,filename=$TMP/rules.json"
check bob alice "authz-list-file (the older name)"

# refresh=off: SIGHUP is not a reload, it ends qemu-nbd as before.
serve "authz-listfile,id=az0,filename=$TMP/rules.json,refresh=off"
qimg bob || fail "refresh=off: bob refused"
kill -HUP "$PID"
wait_gone "$PID" 10 || fail "SIGHUP did not end qemu-nbd with refresh=off"
PID=
ok "authz-listfile refresh=off: SIGHUP ends the server"
