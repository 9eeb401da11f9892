# Helpers sourced by the shell tests of tests/interop and tests/functional.
#
# Each test gets its own temporary directory, starts its qemu-nbd daemons
# with --fork (the parent returns once the server listens) and a pid file,
# and kills what it started when it exits. Ports are chosen by binding
# port 0 and retried when another test took the port first.
# A test whose peer program is missing exits 77 (meson: skipped).

set -u

: "${QEMU_NBD:?QEMU_NBD must name the qemu-nbd under test}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nbd-test.XXXXXX")
DAEMONS=""

cleanup() {
    local rc=$? bad
    for p in $DAEMONS; do
        kill "$p" 2>/dev/null
    done
    for p in $DAEMONS; do
        for _ in $(seq 100); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$p" 2>/dev/null
    done
    # Sanitizer builds: a daemon's report fails the test.
    bad=$(grep -l "AddressSanitizer\|LeakSanitizer\|runtime error:\|ThreadSanitizer" \
          "$TMP"/*.log 2>/dev/null)
    if [ -n "$bad" ]; then
        echo "FAIL: sanitizer report from qemu-nbd:" >&2
        cat $bad >&2
        rc=1
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT

skip() {
    echo "SKIP: $*"
    exit 77
}

fail() {
    echo "FAIL: $*" >&2
    for f in "$TMP"/*.log; do
        [ -f "$f" ] || continue
        echo "--- $f" >&2
        tail -n 20 "$f" >&2
    done
    exit 1
}

ok() {
    echo "ok - $*"
}

need() {
    for prog in "$@"; do
        command -v "$prog" >/dev/null 2>&1 || skip "$prog is not installed"
    done
}

sha() {
    sha256sum "$1" | cut -d' ' -f1
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# start_nbd NAME ARGS...: starts a daemon, sets NAME_pid. Returns 1 when
# it did not come up (its stderr is in $TMP/NAME.log).
start_nbd() {
    local name=$1 pid
    shift
    rm -f "$TMP/$name.pid"
    "$QEMU_NBD" --fork --pid-file "$TMP/$name.pid" "$@" \
        2>>"$TMP/$name.log" || return 1
    pid=$(cat "$TMP/$name.pid") || return 1
    DAEMONS="$DAEMONS $pid"
    eval "${name}_pid=$pid"
}

# start_nbd_tcp NAME ARGS...: as start_nbd on 127.0.0.1 and a free port,
# sets NAME_port.
start_nbd_tcp() {
    local name=$1 port
    shift
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        port=$(free_port)
        if start_nbd "$name" -b 127.0.0.1 -p "$port" "$@"; then
            eval "${name}_port=$port"
            return 0
        fi
        grep -q "in use" "$TMP/$name.log" || return 1
    done
    return 1
}

# wait_gone PID SECONDS: true once PID has exited.
wait_gone() {
    local i
    for i in $(seq $(($2 * 10))); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

alive() {
    kill -0 "$1" 2>/dev/null
}

# A sparse raw image of SIZE with a few patterns written at known places.
make_image() {
    truncate -s "$2" "$1"
}

# gen_pki DIR: a CA, a server certificate for localhost/127.0.0.1 and a
# client certificate, as tls-creds-x509 and libnbd expect them.
gen_pki() {
    local d=$1
    mkdir -p "$d"
    cat >"$d/ca.info" <<EOF
cn = NBD Test CA
ca
cert_signing_key
expiration_days = 2
EOF
    cat >"$d/server.info" <<EOF
organization = NBD Test
cn = localhost
dns_name = localhost
ip_address = 127.0.0.1
tls_www_server
encryption_key
signing_key
expiration_days = 2
EOF
    cat >"$d/client.info" <<EOF
organization = NBD Test
cn = client
tls_www_client
encryption_key
signing_key
expiration_days = 2
EOF
    certtool --generate-privkey --outfile "$d/ca-key.pem" 2>/dev/null &&
    certtool --generate-self-signed --load-privkey "$d/ca-key.pem" \
        --template "$d/ca.info" --outfile "$d/ca-cert.pem" 2>/dev/null &&
    certtool --generate-privkey --outfile "$d/server-key.pem" 2>/dev/null &&
    certtool --generate-certificate --load-ca-certificate "$d/ca-cert.pem" \
        --load-ca-privkey "$d/ca-key.pem" \
        --load-privkey "$d/server-key.pem" --template "$d/server.info" \
        --outfile "$d/server-cert.pem" 2>/dev/null &&
    certtool --generate-privkey --outfile "$d/client-key.pem" 2>/dev/null &&
    certtool --generate-certificate --load-ca-certificate "$d/ca-cert.pem" \
        --load-ca-privkey "$d/ca-key.pem" \
        --load-privkey "$d/client-key.pem" --template "$d/client.info" \
        --outfile "$d/client-cert.pem" 2>/dev/null
}
