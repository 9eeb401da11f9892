#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# qemu-nbd's command line: help and version, clear errors (exit 1) for
# unknown and conflicting options and for what is not supported (the
# kernel client), --fork with --pid-file, -o, --image-opts,
# --detect-zeroes, -x/-D as seen by -L, and systemd socket activation.
. "$SRCDIR/tests/interop/common.sh"
need python3

expect_fail() {
    local what=$1 pattern=$2
    shift 2
    "$QEMU_NBD" "$@" >"$TMP/out.txt" 2>&1
    local rc=$?
    [ $rc = 1 ] || fail "$what: exit status $rc, wanted 1"
    grep -q -- "$pattern" "$TMP/out.txt" ||
        fail "$what: message '$(cat "$TMP/out.txt")' lacks '$pattern'"
}

"$QEMU_NBD" --help | grep -q "Usage:" || fail "--help"
"$QEMU_NBD" --version | grep -q "^qemu-nbd " || fail "--version"
ok "--help and --version"

make_image "$TMP/disk.img" 8M
expect_fail "unknown option" "unrecognized option" --frobnicate x
expect_fail "unknown option hint" "Try" --frobnicate x
expect_fail "no file" "Invalid number of arguments"
expect_fail "two files" "Invalid number of arguments" a b
expect_fail "-k with -p" "cannot be combined" -k "$TMP/s" -p 1234 \
    "$TMP/disk.img"
expect_fail "-L with a file" "incompatible with a file name" -L \
    "$TMP/disk.img"
expect_fail "-L with -x" "per-device" -L -x foo
expect_fail "-L with --fork" "forking" -L --fork
expect_fail "--image-opts with -f" "mutually exclusive" --image-opts \
    -f raw "driver=raw,file.filename=$TMP/disk.img"
expect_fail "bad -e" "Invalid shared device number" -e abc "$TMP/disk.img"
expect_fail "bad -p" "Invalid port number" -p 70000 "$TMP/disk.img"
expect_fail "bad --cache" "Invalid cache mode" --cache=bogus "$TMP/disk.img"
expect_fail "bad --aio" "Invalid aio mode" --aio=bogus "$TMP/disk.img"
expect_fail "bad --discard" "Invalid discard mode" --discard=bogus \
    "$TMP/disk.img"
expect_fail "detect-zeroes=unmap without discard" "discard operation" \
    --detect-zeroes=unmap "$TMP/disk.img"
expect_fail "--tls-hostname without creds" "without --tls-creds" \
    -L --tls-hostname foo
expect_fail "unknown tls creds" "No TLS credentials" --tls-creds nope \
    -k "$TMP/s" "$TMP/disk.img"
expect_fail "bad --object" "" --object nosuchtype,id=x -k "$TMP/s" \
    "$TMP/disk.img"
expect_fail "--handshake-limit" "Invalid handshake limit" \
    --handshake-limit=-3 "$TMP/disk.img"
ok "unknown and conflicting options: clear message, exit 1"

expect_fail "raw image as qcow2" "not in qcow2 format" -f qcow2 \
    -k "$TMP/s" "$TMP/disk.img"
expect_fail "unknown format" "Unknown driver" -f vmdk -k "$TMP/s" \
    "$TMP/disk.img"
expect_fail "missing image" "Could not open" -k "$TMP/s" "$TMP/nothere"
[ ! -e "$TMP/s" ] || fail "a socket was left after a failed start"
ok "a raw image as qcow2, unknown formats and missing files"

dev=/dev/nbd0
expect_fail "-c without the kernel module" "nbd" -c "$dev" "$TMP/disk.img"
ok "-c /dev/nbd0: clear error"

# --fork returns once the server listens; the pid file names the child.
start_nbd f -f raw -k "$TMP/f.sock" -x exp1 -D "first disk" \
    "$TMP/disk.img" || fail "--fork did not start"
[ -S "$TMP/f.sock" ] || fail "--fork returned before listening"
alive "$f_pid" || fail "pid file does not name a live process"
"$QEMU_NBD" -L -k "$TMP/f.sock" >"$TMP/list.txt" || fail "-L"
grep -q "exports available: 1" "$TMP/list.txt" || fail "-L count"
grep -q " export: 'exp1'" "$TMP/list.txt" || fail "-L name"
grep -q "  description: first disk" "$TMP/list.txt" || fail "-L description"
grep -q "  size:  8388608" "$TMP/list.txt" || fail "-L size"
grep -q "base:allocation" "$TMP/list.txt" || fail "-L contexts"
ok "--fork, --pid-file, -x, -D seen through -L"
kill "$f_pid"
wait_gone "$f_pid" 5 || fail "forked server ignores SIGTERM"
[ ! -e "$TMP/f.pid" ] || fail "pid file left behind"

# -o: a window of the image; --image-opts.
python3 -c "
f = open('$TMP/disk.img', 'r+b'); f.seek(1 << 20); f.write(b'\xa5' * 4096)"
start_nbd o -t -f raw -o 1M -r -k "$TMP/o.sock" "$TMP/disk.img" ||
    fail "-o did not start"
PYTHONPATH="$SRCDIR/tests/functional" python3 - "$TMP/o.sock" <<'PY' ||
import sys
import nbdclient as n
c = n.Client(sys.argv[1]).connect_export("")
assert c.size == 7 << 20, c.size
err, data, _ = c.read(0, 4096)
assert err == 0 and data == b"\xa5" * 4096
c.disconnect()
PY
    fail "-o 1M"
kill "$o_pid"
wait_gone "$o_pid" 5
start_nbd io -t -k "$TMP/io.sock" -r --image-opts \
    "driver=raw,offset=1M,size=4096,file.driver=file,file.filename=$TMP/disk.img" ||
    fail "--image-opts did not start"
"$QEMU_NBD" -L -k "$TMP/io.sock" | grep -q "size:  4096" ||
    fail "--image-opts window size"
kill "$io_pid"
wait_gone "$io_pid" 5
ok "-o and --image-opts"

# --detect-zeroes=unmap with --discard=unmap: zero writes punch holes.
truncate -s 8M "$TMP/dz.img"
head -c 8M /dev/urandom | dd of="$TMP/dz.img" conv=notrunc status=none
start_nbd dz -t -f raw --discard=unmap --detect-zeroes=unmap \
    -k "$TMP/dz.sock" "$TMP/dz.img" || fail "--detect-zeroes did not start"
before=$(du -k "$TMP/dz.img" | cut -f1)
PYTHONPATH="$SRCDIR/tests/functional" python3 - "$TMP/dz.sock" <<'PY' ||
import sys
import nbdclient as n
c = n.Client(sys.argv[1]).connect_export("")
assert c.write(0, bytes(4 << 20)) == 0
err, data, _ = c.read(0, 4 << 20)
assert err == 0 and data == bytes(4 << 20)
c.disconnect()
PY
    fail "zero write with detect-zeroes"
after=$(du -k "$TMP/dz.img" | cut -f1)
[ "$after" -lt "$before" ] || fail "detect-zeroes=unmap freed nothing " \
    "($before KiB -> $after KiB)"
ok "--detect-zeroes=unmap turns zero writes into holes"

# Socket activation: fd 3 listens, LISTEN_PID is the server's own pid.
python3 - "$QEMU_NBD" "$TMP" <<'PY' || fail "socket activation"
import os, socket, subprocess, sys, time
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests/functional"))
import nbdclient as n
qemu_nbd, tmp = sys.argv[1], sys.argv[2]
path = os.path.join(tmp, "act.sock")
ls = socket.socket(socket.AF_UNIX)
ls.bind(path)
ls.listen(8)
def child():
    os.dup2(ls.fileno(), 3)
    os.environ["LISTEN_FDS"] = "1"
    os.environ["LISTEN_PID"] = str(os.getpid())
p = subprocess.Popen([qemu_nbd, "-f", "raw", "-x", "act",
                      os.path.join(tmp, "disk.img")],
                     preexec_fn=child, pass_fds=(ls.fileno(),),
                     stderr=subprocess.PIPE)
c = n.Client(path).connect_export("act")
err, data, _ = c.read(1 << 20, 4096)
assert err == 0 and data == b"\xa5" * 4096
c.disconnect()
p.wait(10)
assert p.returncode == 0, p.stderr.read()
PY
ok "systemd socket activation (LISTEN_FDS/LISTEN_PID)"
