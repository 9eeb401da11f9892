#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Tracing end to end: scripts/tracetool.py rejects malformed trace-events
# lines with FILE:LINE; qemu-nbd's -T/--trace in each form (PATTERN,
# enable=, events=FILE, file=FILE, help) and its errors; a real client's
# requests show up in the log with their cookie, offset and length; our
# qemu-io and qemu-img trace the client side; and without --trace nothing
# is logged.
. "$SRCDIR/tests/interop/common.sh"
need python3

TRACETOOL="$SRCDIR/scripts/tracetool.py"
LINE_RE='^[0-9]+@[0-9]+\.[0-9]{6}:'

# --- the generator ---------------------------------------------------------

# bad_events WHAT LINE PATTERN CONTENTS: tracetool fails on line LINE.
bad_events() {
    local what=$1 line=$2 pattern=$3
    printf '# comment\n\nok_event(int a) "a %%d"\n%s\n' "$4" >"$TMP/bad.events"
    python3 "$TRACETOOL" --group t "$TMP/bad.events" "$TMP/t.h" "$TMP/t.c" \
        >"$TMP/tool.out" 2>&1 && fail "tracetool accepted $what"
    grep -q "bad.events:$line: error: .*$pattern" "$TMP/tool.out" ||
        fail "tracetool on $what: '$(cat "$TMP/tool.out")' lacks" \
             "'bad.events:$line: error: ...$pattern'"
}

bad_events "no format" 4 "no format" 'ev(int a)'
bad_events "no parentheses" 4 "expected" 'ev "x"'
bad_events "too few conversions" 4 "1 argument" 'ev(int a) "x"'
bad_events "too many conversions" 4 "2 conversion" 'ev(int a) "%d %d"'
bad_events "unknown type" 4 "unsupported argument type" \
    'ev(struct Foo *f) "%p"'
bad_events "argument without a name" 4 "malformed argument" \
    'ev(int) "%d"'
bad_events "duplicate event" 4 "already defined at line 3" \
    'ok_event(int a) "a %d"'
bad_events "duplicate argument" 4 "given twice" 'ev(int a, int a) "%d %d"'
bad_events "trailing newline" 4 "newline" 'ev(int a) "%d\n"'
bad_events "stray text" 4 "unexpected text" 'ev(int a) "%d" junk'
bad_events "unterminated string" 4 "unterminated" 'ev(int a) "%d'
bad_events "unknown property" 4 "unknown property" 'fast ev(int a) "%d"'
bad_events "empty argument list" 4 "NAME(void)" 'ev() "x"'
bad_events "macro without %" 4 "must follow" 'ev(uint64_t a) "x" PRIu64'
ok "tracetool rejects malformed lines with file:line"

printf 'ev_a(uint64_t off, const char *s, void *p) "off %%" PRIu64 " %%s %%p"\nev_b(void) "none"\ndisable ev_c(int x) "%%d"\n' \
    >"$TMP/good.events"
python3 "$TRACETOOL" --group t "$TMP/good.events" "$TMP/t.h" "$TMP/t.c" ||
    fail "tracetool rejected a good file"
grep -q 'static inline void trace_ev_a(uint64_t off, const char \*s, void \*p)' \
    "$TMP/t.h" || fail "trace.h lacks trace_ev_a()"
grep -q '{ "ev_b", &trace_dstate_ev_b }' "$TMP/t.c" ||
    fail "trace.c does not register ev_b"
grep -q '"ev_c"' "$TMP/t.c" && fail "a disabled event was registered"
ok "tracetool generates trace.h and trace.c"

# --- the option -------------------------------------------------------------

"$QEMU_NBD" --help | grep -q -- "-T, --trace \[\[enable=\]<pattern>\]" ||
    fail "--help does not document --trace"
"$QEMU_NBD" --trace help >"$TMP/help.txt" 2>&1 || fail "--trace help failed"
for ev in nbd_request_received nbd_negotiate_option qio_channel_socket_accept \
          aio_co_schedule file_open bdrv_drained_begin; do
    grep -qx "$ev" "$TMP/help.txt" || fail "--trace help lacks $ev"
done
ok "--help documents --trace; --trace help lists the events"

make_image "$TMP/disk.img" 8M
"$QEMU_NBD" --trace 'nbd_*,bogus=1' -k "$TMP/x.sock" "$TMP/disk.img" \
    >"$TMP/out.txt" 2>&1
[ $? = 1 ] || fail "unknown --trace key: wanted exit 1"
grep -q "Invalid parameter 'bogus'" "$TMP/out.txt" ||
    fail "unknown --trace key: '$(cat "$TMP/out.txt")'"
"$QEMU_NBD" -T "events=$TMP/no-such-file" -k "$TMP/x.sock" "$TMP/disk.img" \
    >"$TMP/out.txt" 2>&1
[ $? = 1 ] || fail "missing events file: wanted exit 1"
grep -q "no-such-file" "$TMP/out.txt" ||
    fail "missing events file: '$(cat "$TMP/out.txt")'"
"$QEMU_NBD" -T "file=$TMP/no-dir/x.log" -k "$TMP/x.sock" "$TMP/disk.img" \
    >"$TMP/out.txt" 2>&1
[ $? = 1 ] || fail "unwritable trace file: wanted exit 1"
ok "--trace errors: unknown key, missing events file, bad log file"

# --- a real client ----------------------------------------------------------

# client SOCKET: a handshake, a read of 4 KiB at 1 MiB (cookie 0x1234), a
# read past the end (cookie 0x5678), a clean disconnect.
client() {
    PYTHONPATH="$SRCDIR/tests/functional" python3 - "$1" <<'EOF' ||
import sys
import nbdclient as nbd

c = nbd.Client(sys.argv[1]).connect_export("", mode="structured")
err, data, _ = c.read(1048576, 4096, cookie=0x1234)
assert err == 0 and data == bytes(4096), err
err, _, _ = c.read(8 * 1048576 - 512, 4096, cookie=0x5678)
assert err != 0, "read past the end succeeded"
c.disconnect()
EOF
        fail "client on $1"
}

# wait_for_log LOG STRING: true once LOG holds STRING (within 20 s).
wait_for_log() {
    wait_until 20 grep -q "$2" "$1" 2>/dev/null
}

# freed_at_least LOG N: LOG holds N nbd_client_free events.
freed_at_least() {
    [ "$(grep -c ":nbd_client_free " "$1")" -ge "$2" ]
}

# expect LOG REGEX...: each extended regex matches a line of LOG.
expect() {
    local log=$1 re
    shift
    for re in "$@"; do
        grep -Eq "$re" "$log" || fail "$log lacks a line matching '$re'"
    done
}

start_nbd srv -t --trace 'nbd_*' --trace "file=$TMP/trace.log" \
    -k "$TMP/srv.sock" "$TMP/disk.img" || fail "qemu-nbd --trace did not start"
client "$TMP/srv.sock"
wait_for_log "$TMP/trace.log" ":nbd_client_free " ||
    fail "no nbd_client_free in the log"
expect "$TMP/trace.log" \
    "$LINE_RE"'nbd_server_client_connect client 0x[0-9a-f]+ peer ' \
    "$LINE_RE"'nbd_negotiate_option client 0x[0-9a-f]+ option 8 \([^)]+\) length 0$' \
    "$LINE_RE"'nbd_negotiate_option client 0x[0-9a-f]+ option 7 \([^)]+\) length ' \
    "$LINE_RE"'nbd_negotiate_send_rep client 0x[0-9a-f]+ option 7 \([^)]+\) reply 1 ' \
    "$LINE_RE"'nbd_negotiate_success client 0x[0-9a-f]+ export .. mode ' \
    "$LINE_RE"'nbd_request_received client 0x[0-9a-f]+ cookie 0x1234 type 0 \([^)]+\) flags 0x0 from 1048576 len 4096$' \
    "$LINE_RE"'nbd_reply_chunk client 0x[0-9a-f]+ cookie 0x1234 ' \
    "$LINE_RE"'nbd_request_done client 0x[0-9a-f]+ cookie 0x1234 ret 0$' \
    "$LINE_RE"'nbd_request_out_of_bounds cookie 0x5678 from 8388096 len 4096 export size 8388608$' \
    "$LINE_RE"'nbd_request_invalid client 0x[0-9a-f]+ cookie 0x5678 \([^)]+\) error -22: ' \
    "$LINE_RE"'nbd_request_disconnect client ' \
    "$LINE_RE"'nbd_client_close client 0x[0-9a-f]+ peer '
grep -Ev "$LINE_RE"'nbd_[a-z_]+ ' "$TMP/trace.log" &&
    fail "a line of the log is not an nbd_* event"
ok "--trace 'nbd_*' --trace file=LOG: negotiation and requests with their" \
   "cookie, offset and length"

# events=FILE, log on stderr (foreground: --fork would close stderr).
printf '# the request path only\nnbd_request_*\n\n-nbd_request_done\nqio_channel_socket_accept\n' \
    >"$TMP/events"
make_image "$TMP/fg.img" 8M
start_daemon fg - "$QEMU_NBD" -T "events=$TMP/events" -t \
    -k "$TMP/fg.sock" "$TMP/fg.img" || fail "qemu-nbd -T events= did not start"
wait_socket "$TMP/fg.sock" $fg_pid ||
    fail "not listening on $TMP/fg.sock"
client "$TMP/fg.sock"
wait_for_log "$TMP/fg.log" ":nbd_request_disconnect " ||
    fail "no nbd_request_disconnect on stderr"
expect "$TMP/fg.log" \
    "$LINE_RE"'qio_channel_socket_accept socket channel 0x[0-9a-f]+ accepted channel 0x[0-9a-f]+ fd [0-9]+$' \
    "$LINE_RE"'nbd_request_received .* cookie 0x1234 .* from 1048576 len 4096$'
grep -q ":nbd_request_done " "$TMP/fg.log" &&
    fail "an event disabled by the events file was logged"
grep -q ":nbd_negotiate" "$TMP/fg.log" &&
    fail "an event not in the events file was logged"
ok "--trace events=FILE: patterns, '-' and comments; log on stderr"

# qemu-io, when installed, as a second real client.
if have qemu-io; then
    qemu-io -f raw -c 'read 65536 4k' \
        "nbd+unix:///?socket=$TMP/srv.sock" >"$TMP/qemu-io.out" 2>&1 ||
        fail "qemu-io: $(cat "$TMP/qemu-io.out")"
    wait_until 20 freed_at_least "$TMP/trace.log" 2 ||
        fail "qemu-io's connection was not freed"
    expect "$TMP/trace.log" \
        "$LINE_RE"'nbd_request_received .* type 0 \([^)]+\) flags 0x0 from 65536 len 4096$'
    ok "qemu-io's read shows up in the log"
else
    skip_part "Debian's qemu-io as a traced client: qemu-io is not installed"
fi

# Our client: qemu-io and qemu-img take the same option, with the nbd
# driver's events (negotiation, each request and its reply).
if [ -n "${QEMU_IO_OURS:-}" ] && [ -n "${QEMU_IMG_OURS:-}" ]; then
    "$QEMU_IO_OURS" --help | grep -q -- "-T, --trace" ||
        fail "qemu-io --help does not document --trace"
    "$QEMU_IMG_OURS" --help | grep -q -- "'--trace'" ||
        fail "qemu-img --help does not document --trace"
    "$QEMU_IO_OURS" -T help | grep -qx nbd_send_request ||
        fail "qemu-io -T help lacks nbd_send_request"
    "$QEMU_IO_OURS" --trace nbd_send_request --trace 'nbd_receive_*' -f raw \
        -c 'read 2M 4k' "nbd+unix:///?socket=$TMP/srv.sock" \
        >"$TMP/io.out" 2>"$TMP/io-trace.log" ||
        fail "qemu-io --trace: $(cat "$TMP/io.out" "$TMP/io-trace.log")"
    grep -q "^read 4096/4096 bytes at offset 2097152" "$TMP/io.out" ||
        fail "qemu-io --trace: $(cat "$TMP/io.out")"
    expect "$TMP/io-trace.log" \
        "$LINE_RE"'nbd_receive_negotiate export .. tls 0 extended headers 1$' \
        "$LINE_RE"'nbd_receive_option_reply option 7 \(go\) reply 1 \(ack\) length 0$' \
        "$LINE_RE"'nbd_receive_negotiate_done export .. size 8388608 flags 0x[0-9a-f]+ mode [12] block sizes 1$' \
        "$LINE_RE"'nbd_send_request conn 0x[0-9a-f]+ cookie [0-9]+ read flags 0x0 offset 2097152 length 4096$' \
        "$LINE_RE"'nbd_receive_reply conn 0x[0-9a-f]+ cookie [0-9]+ magic 0x[0-9a-f]+ '
    cookie=$(sed -n 's/.*nbd_send_request .* cookie \([0-9]*\) read .*/\1/p' \
             "$TMP/io-trace.log")
    grep -q "nbd_receive_reply .* cookie $cookie " "$TMP/io-trace.log" ||
        fail "no reply traced for cookie $cookie"
    grep -Ev "$LINE_RE"'nbd_(send|receive)_[a-z_]+ ' "$TMP/io-trace.log" &&
        fail "qemu-io logged an event it was not asked for"
    "$QEMU_IMG_OURS" --trace "nbd_receive_negotiate*,file=$TMP/img-trace.log" \
        info "nbd+unix:///?socket=$TMP/srv.sock" >"$TMP/img.out" 2>&1 ||
        fail "qemu-img --trace: $(cat "$TMP/img.out")"
    grep -Eq "$LINE_RE" "$TMP/img.out" && fail "qemu-img traced to stdout"
    expect "$TMP/img-trace.log" \
        "$LINE_RE"'nbd_receive_negotiate_done export .. size 8388608 '
    ok "qemu-io and qemu-img --trace: the client's negotiation, request" \
       "and reply with its cookie"
else
    skip_part "our client's --trace: QEMU_IO_OURS or QEMU_IMG_OURS unset"
fi

# Without --trace: the same traffic logs nothing.
make_image "$TMP/quiet.img" 8M
start_daemon quiet - "$QEMU_NBD" -t -k "$TMP/quiet.sock" "$TMP/quiet.img" ||
    fail "qemu-nbd did not start"
wait_socket "$TMP/quiet.sock" $quiet_pid ||
    fail "not listening on $TMP/quiet.sock"
client "$TMP/quiet.sock"
sleep 0.3
grep -Eq "$LINE_RE" "$TMP/quiet.log" && fail "logged without --trace"
[ -s "$TMP/quiet.log" ] && fail "stderr without --trace: $(cat "$TMP/quiet.log")"
ok "without --trace nothing is logged"

# qemu-pr-helper -T: the same option, and its events around a request.
if [ -n "${QEMU_PR_HELPER:-}" ] && [ -n "${PR_CLIENT:-}" ]; then
    "$QEMU_PR_HELPER" -T help | grep -qx pr_helper_request ||
        fail "qemu-pr-helper -T help lacks pr_helper_request"
    "$QEMU_PR_HELPER" -T 'pr_helper_*,bogus=1' >"$TMP/out.txt" 2>&1
    [ $? = 1 ] || fail "qemu-pr-helper: unknown -T key: wanted exit 1"
    grep -q "Invalid parameter 'bogus'" "$TMP/out.txt" ||
        fail "qemu-pr-helper: unknown -T key: '$(cat "$TMP/out.txt")'"

    start_daemon pr - "$QEMU_PR_HELPER" -k "$TMP/pr.sock" -f "$TMP/pr.pid" \
        -T 'pr_helper_*' --trace "file=$TMP/pr-trace.log" ||
        fail "qemu-pr-helper did not start"
    wait_socket "$TMP/pr.sock" $pr_pid ||
        fail "not listening on $TMP/pr.sock"
    printf 'in %s\nquit\n' "$TMP/disk.img" |
        "$PR_CLIENT" "pr-manager-helper,id=pr0,path=$TMP/pr.sock" pr0 \
        >"$TMP/pr-client.out" 2>&1 ||
        fail "pr-client: $(cat "$TMP/pr-client.out")"
    wait_for_log "$TMP/pr-trace.log" ":pr_helper_client_close " ||
        fail "no pr_helper_client_close in the log"
    # PERSISTENT RESERVE IN (0x5e), READ KEYS (0): SG_IO fails on a file.
    expect "$TMP/pr-trace.log" \
        "$LINE_RE"'pr_helper_client_accept client #1$' \
        "$LINE_RE"'pr_helper_request client #1 opcode 0x5e service action 0x00 size [0-9]+ fd [0-9]+$' \
        "$LINE_RE"'pr_helper_sgio fd [0-9]+ opcode 0x5e ret -[0-9]+ status 0x02$' \
        "$LINE_RE"'pr_helper_response client #1 status 0x02 data 0$'
    ok "qemu-pr-helper -T: the events of a client's request"
else
    skip_part "qemu-pr-helper -T: QEMU_PR_HELPER or PR_CLIENT unset"
fi
