# SPDX-License-Identifier: GPL-2.0-or-later
# Helpers sourced by the shell tests of tests/interop and tests/functional.
#
# Each test gets its own temporary directory, starts its daemons with
# start_nbd (our qemu-nbd --fork: the parent returns once the server
# listens) or start_daemon (any other server), and cleanup, run on exit,
# kills what was started and removes the directory. Ports are chosen by
# binding port 0 and retried when another test took the port first.
#
# Skips: a test whose peer program is missing exits 77 (meson: skipped);
# a test that could run only part of its checks (skip_part) says which
# ones with TAP "# SKIP" lines and exits 77 at the end instead of passing.
# With QEMU_TEST_REQUIRE_ALL=1 (make check, where install-deps.sh has
# installed every peer) either kind of skip is a failure.
#
# Sanitizer builds: every program started from here writes its ASan,
# UBSan, LSan or TSan report to $TMP/sanitizer.PID (a daemon's stderr is
# /dev/null once it has forked, so a report on stderr would be lost), and
# cleanup fails the test when such a file exists.

set -u

: "${QEMU_NBD:?QEMU_NBD must name the qemu-nbd under test}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/nbd-test.XXXXXX")
DAEMONS=""
SKIPPED_PARTS=()

for _v in ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS LSAN_OPTIONS; do
    export "$_v=${!_v:+${!_v}:}log_path=$TMP/sanitizer"
done
unset _v

require_all() {
    [ -n "${QEMU_TEST_REQUIRE_ALL:-}" ] && [ "$QEMU_TEST_REQUIRE_ALL" != 0 ]
}

# sanitizer_reports: fails (prints them) when a program left a report.
sanitizer_reports() {
    local f found=1
    for f in "$TMP"/sanitizer.*; do
        [ -s "$f" ] || continue
        echo "FAIL: sanitizer report in $f:" >&2
        cat "$f" >&2
        found=0
    done
    # A report on a log file's stderr (a daemon still in the foreground).
    local marks="AddressSanitizer\|LeakSanitizer\|runtime error:"
    marks="$marks\|ThreadSanitizer"
    if grep -l "$marks" "$TMP"/*.log >/dev/null 2>&1; then
        echo "FAIL: sanitizer report in a log:" >&2
        grep -l "$marks" "$TMP"/*.log | xargs cat >&2
        found=0
    fi
    return $found
}

cleanup() {
    local rc=$? p
    trap - EXIT
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
    # Background jobs of the script itself (clients left running).
    for p in $(jobs -p); do
        kill "$p" 2>/dev/null
    done
    wait 2>/dev/null
    # Daemons write their leak reports as they exit: look after the kills.
    if sanitizer_reports; then
        rc=1
    fi
    if [ "$rc" = 0 ] && [ ${#SKIPPED_PARTS[@]} -gt 0 ]; then
        # Each was announced with a TAP "# SKIP" line when it happened.
        echo "# ${#SKIPPED_PARTS[@]} part(s) not run: the test is skipped"
        rc=77
    fi
    rm -rf "$TMP"
    exit $rc
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$TMP"/*.log; do
        [ -f "$f" ] || continue
        echo "--- $f" >&2
        tail -n 20 "$f" >&2
    done
    exit 1
}

# skip REASON: the whole test cannot run.
skip() {
    require_all && fail "skipped, which QEMU_TEST_REQUIRE_ALL forbids: $*"
    echo "1..0 # SKIP $*"
    exit 77
}

# skip_part REASON: a part of the test cannot run; the rest goes on and
# the test ends skipped (exit 77), not passed.
skip_part() {
    require_all && fail "part skipped, which QEMU_TEST_REQUIRE_ALL forbids: $*"
    echo "ok - # SKIP $*"
    SKIPPED_PARTS+=("$*")
}

ok() {
    echo "ok - $*"
}

have() {
    command -v "$1" >/dev/null 2>&1
}

need() {
    for prog in "$@"; do
        have "$prog" || skip "$prog is not installed"
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

# wait_until SECONDS CMD...: true once CMD succeeds (tried every 0.1 s).
wait_until() {
    local i n=$(($1 * 10))
    shift
    for ((i = 0; i < n; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}

# wait_socket PATH [PID [SECONDS]]: true once the UNIX socket PATH exists;
# false when PID (if given) exits first or after SECONDS (default 10).
wait_socket() {
    local path=$1 pid=${2:-} i n=$((${3:-10} * 10))
    for ((i = 0; i < n; i++)); do
        [ -S "$path" ] && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.1
    done
    [ -S "$path" ]
}

# start_daemon NAME PIDFILE CMD...: starts a server, output in
# $TMP/NAME.log. PIDFILE "-": CMD stays in the foreground and is run in
# the background here; otherwise CMD detaches itself and writes its pid to
# PIDFILE. Sets NAME_pid; cleanup kills it. Returns 1 when it did not
# come up.
start_daemon() {
    local name=$1 pidfile=$2 pid
    shift 2
    if [ "$pidfile" = - ]; then
        "$@" >>"$TMP/$name.log" 2>&1 &
        pid=$!
    else
        rm -f "$pidfile"
        "$@" >>"$TMP/$name.log" 2>&1 || return 1
        wait_until 10 test -s "$pidfile" || return 1
        pid=$(cat "$pidfile") || return 1
    fi
    DAEMONS="$DAEMONS $pid"
    eval "${name}_pid=$pid"
    kill -0 "$pid" 2>/dev/null
}

# start_nbd NAME ARGS...: starts our qemu-nbd, sets NAME_pid. Returns 1
# when it did not come up (its stderr is in $TMP/NAME.log).
start_nbd() {
    local name=$1
    shift
    start_daemon "$name" "$TMP/$name.pid" \
        "$QEMU_NBD" --fork --pid-file "$TMP/$name.pid" "$@"
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

# IOTHREAD_TRACE: the --trace options of qemu-nbd that
# check_iothreads_served reads (add ",file=PATH" to the first).
IOTHREAD_TRACE=(--trace iothread_start --trace nbd_client_start_transmission
                --trace nbd_request_received)

# check_iothreads_served TRACE N MIN: the trace of a qemu-nbd run with
# --iothreads N and IOTHREAD_TRACE shows N iothread contexts, every
# request served in one of them, and each of them serving MIN requests at
# least (a server that ignored --iothreads serves from its main loop, a
# server that used one thread only serves from one context).
check_iothreads_served() {
    python3 - "$@" <<'PY'
import re, sys
path, want, least = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
iothread_ctx, client_ctx, served = set(), {}, {}
for line in open(path):
    m = re.search(r"iothread_start iothread \S+ id \S* ctx (\S+)", line)
    if m:
        iothread_ctx.add(m.group(1))
    m = re.search(r"nbd_client_start_transmission client (\S+) .* ctx (\S+)$",
                  line)
    if m:
        client_ctx[m.group(1)] = m.group(2)
    m = re.search(r"nbd_request_received client (\S+) ", line)
    if m:
        ctx = client_ctx.get(m.group(1))
        served[ctx] = served.get(ctx, 0) + 1
print("# iothread contexts %s; requests per context %s"
      % (sorted(iothread_ctx), served))
assert len(iothread_ctx) == want, "iothreads started: %r" % iothread_ctx
assert set(served) <= iothread_ctx, "requests served outside the iothreads"
assert len(served) == want, "requests served by %d iothread(s)" % len(served)
assert min(served.values()) >= least, "an iothread barely served: %r" % served
PY
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
