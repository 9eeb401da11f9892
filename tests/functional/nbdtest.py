# SPDX-License-Identifier: GPL-2.0-or-later
"""Shared harness of the Python end-to-end tests: a temporary directory,
a qemu-nbd started in the foreground (so that its exit status and its
sanitizer reports are checked), and TAP-style output.

Sanitizer builds: every program started from here writes its reports to
TMP/sanitizer.PID (log_path), and stop() and done() fail the test when
such a file exists. Skips: skip() ends the test skipped (exit 77) and
skip_part() leaves a part out, prints a TAP "# SKIP" line and makes the
test end skipped; with QEMU_TEST_REQUIRE_ALL=1 (make check) both fail."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import nbdclient


class Test:
    def __init__(self):
        self.qemu_nbd = os.environ.get("QEMU_NBD")
        self.tmp = None
        self.servers = []
        self.count = 0
        self.skipped = []
        if not self.qemu_nbd:
            self.skip("QEMU_NBD is not set")
        self.tmp = tempfile.mkdtemp(prefix="nbd-test.")
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS",
                    "LSAN_OPTIONS"):
            old = os.environ.get(var)
            os.environ[var] = ((old + ":") if old else "") + \
                "log_path=" + self.path("sanitizer")

    @staticmethod
    def require_all():
        return os.environ.get("QEMU_TEST_REQUIRE_ALL", "") not in ("", "0")

    def skip(self, reason):
        """The whole test cannot run."""
        if self.require_all():
            self.fail("skipped, which QEMU_TEST_REQUIRE_ALL forbids: "
                      + reason)
        print("1..0 # SKIP " + reason, flush=True)
        self.cleanup()
        sys.exit(77)

    def skip_part(self, reason):
        """A part of the test cannot run: the test ends skipped."""
        if self.require_all():
            self.fail("part skipped, which QEMU_TEST_REQUIRE_ALL forbids: "
                      + reason)
        self.count += 1
        print("ok %d - # SKIP %s" % (self.count, reason), flush=True)
        self.skipped.append(reason)

    def sanitizer_reports(self):
        """The text of every sanitizer report written so far."""
        out = ""
        for f in sorted(glob.glob(self.path("sanitizer.*"))):
            with open(f, errors="replace") as fh:
                text = fh.read()
            if text.strip():
                out += "--- %s\n%s" % (f, text)
        return out

    def path(self, name):
        return os.path.join(self.tmp, name)

    def ok(self, what):
        self.count += 1
        print("ok %d - %s" % (self.count, what), flush=True)

    def image(self, name, size, pattern=None):
        """A sparse image; pattern: list of (offset, bytes)."""
        p = self.path(name)
        with open(p, "wb") as f:
            f.truncate(size)
            for off, data in pattern or []:
                f.seek(off)
                f.write(data)
        return p

    def start(self, args, sock=None, env=None):
        """Starts qemu-nbd ARGS; waits until SOCK exists (a UNIX path)."""
        log = open(self.path("server%d.log" % len(self.servers)), "w+")
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.Popen([self.qemu_nbd] + args, stdout=log,
                             stderr=subprocess.STDOUT, env=e)
        p.log = log
        self.servers.append(p)
        if sock:
            ok = nbdclient.wait_for(
                lambda: os.path.exists(sock) or p.poll() is not None, 10)
            if not ok or p.poll() is not None:
                self.fail("qemu-nbd did not start: " + self.log(p))
        return p

    def log(self, p):
        p.log.flush()
        p.log.seek(0)
        return p.log.read()

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        """Stops a server; fails unless it exits cleanly and in time."""
        if p.poll() is None:
            p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            self.fail("qemu-nbd did not exit within %d s" % timeout)
        self.check_clean(p)
        if p.returncode != 0:
            self.fail("qemu-nbd exited with %d: %s"
                      % (p.returncode, self.log(p)))

    def check_clean(self, p):
        text = self.log(p)
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer",
                    "ThreadSanitizer", "Assertion", "assertion"):
            if bad in text:
                self.fail("qemu-nbd reported a problem:\n" + text)
        reports = self.sanitizer_reports()
        if reports:
            self.fail("sanitizer report:\n" + reports)

    def alive(self, p):
        return p.poll() is None

    def fail(self, msg):
        print("not ok - " + msg, flush=True)
        if self.tmp:
            reports = self.sanitizer_reports()
            if reports:
                print("# sanitizer report:\n" + reports, flush=True)
        self.cleanup()
        sys.exit(1)

    def cleanup(self):
        for p in self.servers:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp = None

    def done(self):
        for p in self.servers:
            if p.poll() is None:
                self.stop(p)
        reports = self.sanitizer_reports()
        if reports:
            self.fail("sanitizer report:\n" + reports)
        self.cleanup()
        print("1..%d" % self.count)
        if self.skipped:
            print("# %d part(s) skipped" % len(self.skipped))
            sys.exit(77)


def check(test, cond, what):
    if not cond:
        test.fail(what)
