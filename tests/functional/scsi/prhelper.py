# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared code for the qemu-pr-helper functional tests: starting a helper
and a raw protocol client that sends exact bytes (and SCM_RIGHTS fds)."""
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

DEBIAN_HELPER = "/usr/bin/qemu-pr-helper"
RESP_SIZE = 104
SANITIZER_MARKS = (b"AddressSanitizer", b"LeakSanitizer", b"ThreadSanitizer",
                   b"runtime error:")
# Sanitizer reports found on a helper's stderr; Tap.done() fails on them.
sanitizer_reports = []


def skip(reason):
    """The whole test cannot run: a TAP plan that skips everything, exit 0
    (meson counts a TAP test that exits 77 as an error). Under
    QEMU_TEST_REQUIRE_ALL=1 (make check) a skip is a failure."""
    if os.environ.get("QEMU_TEST_REQUIRE_ALL", "") not in ("", "0"):
        print(f"not ok 1 - skipped, which QEMU_TEST_REQUIRE_ALL forbids: "
              f"{reason}")
        print("1..1")
        sys.exit(1)
    print(f"1..0 # SKIP {reason}")
    sys.exit(0)


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {name}")
        else:
            self.failed += 1
            print(f"not ok {self.n} - {name}")
            if diag:
                for line in str(diag).splitlines():
                    print(f"# {line}")
        sys.stdout.flush()
        return cond

    def done(self):
        if sanitizer_reports:
            self.ok(False, "no sanitizer report from the helpers",
                    b"\n".join(sanitizer_reports).decode(errors="replace"))
        print(f"1..{self.n}")
        sys.exit(1 if self.failed else 0)


def wait_for_socket(path, proc, timeout=10):
    """Wait until the helper greets a client.  A socket that accepts a
    connection is not enough: the helper listens before it writes its pid
    file and drops its privileges, and greets only from its main loop,
    after both."""
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"helper exited with {proc.returncode}")
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(max(end - time.time(), 0.1))
            try:
                s.connect(path)
                hello = s.recv(4)
                if hello == bytes(4):
                    return
                raise RuntimeError(f"greeting {hello!r} at {path}")
            except (OSError, socket.timeout):
                pass
            finally:
                s.close()
        time.sleep(0.05)
    raise RuntimeError(f"no greeting at {path}")


class Helper:
    """A running helper on a private socket."""

    def __init__(self, binary, workdir, name="h", extra=()):
        self.sock = os.path.join(workdir, name + ".sock")
        self.pidfile = os.path.join(workdir, name + ".pid")
        self.binary = binary
        self.proc = subprocess.Popen(
            [binary, "-k", self.sock, "-f", self.pidfile, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for_socket(self.sock, self.proc)

    def stop(self, sig=15, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            self.check_sanitizer(err)
            return None, err
        self.check_sanitizer(err)
        return self.proc.returncode, err

    def check_sanitizer(self, err):
        if err and any(m in err for m in SANITIZER_MARKS):
            sanitizer_reports.append(err)


class Raw:
    """A raw client: no checks, exact bytes."""

    def __init__(self, path, handshake=True, features=0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.hello = None
        if handshake:
            self.hello = self.recv_exact(4)
            self.s.sendall(struct.pack(">I", features))

    def send(self, data, fds=()):
        if fds:
            self.s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                     struct.pack(f"{len(fds)}i", *fds))])
        else:
            self.s.sendall(data)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.s.recv(n - len(buf))
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            buf += chunk
        return buf

    def outcome(self):
        """('reply', bytes) for a whole response, ('eof', partial bytes)
        when the helper closed the connection instead."""
        head = self.recv_exact(RESP_SIZE)
        if len(head) < RESP_SIZE:
            return ("eof", head)
        size = struct.unpack(">I", head[4:8])[0]
        data = self.recv_exact(size)
        if len(data) < size:
            return ("eof", head + data)
        return ("reply", head + data)

    def at_eof(self):
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def pr_in_cdb(alloc, sa=0):
    cdb = bytes([0x5e, sa, 0, 0, 0, 0, 0]) + struct.pack(">H", alloc)
    return cdb + bytes(16 - len(cdb))


def pr_out_cdb(length, sa=0):
    cdb = bytes([0x5f, sa, 0, 0, 0, 0, 0]) + struct.pack(">H", length)
    return cdb + bytes(16 - len(cdb))


def fixed_sense(key, asc, ascq):
    s = bytearray(18)
    s[0] = 0x70
    s[2] = key
    s[7] = 10
    s[12] = asc
    s[13] = ascq
    return bytes(s)


def tmpdir():
    return tempfile.TemporaryDirectory(prefix="pr-helper-test-")
