#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Our pr-manager-helper client (tests/functional/scsi/pr-client) against
a helper (ours or Debian's): commands from the main context and from an
IOThread, the connected state, helper restart and reconnection, and the
LUN COMMUNICATION FAILURE answer while the helper is down.

usage: client.py HELPER PR-CLIENT
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prhelper import Helper, Tap, fixed_sense, skip, tmpdir  # noqa

IO_ERROR = (fixed_sense(0x0b, 0x00, 0x06) + bytes(78)).hex()
INVALID_OPCODE = (fixed_sense(0x05, 0x20, 0x00) + bytes(78)).hex()
COMM_FAILURE = fixed_sense(0x0b, 0x08, 0x00).hex()


class Client:
    def __init__(self, binary, sock):
        self.p = subprocess.Popen(
            [binary, f"pr-manager-helper,id=pr0,path={sock}", "pr0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.first = self.p.stdout.readline().strip()

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        self.p.stdin.close()
        rc = self.p.wait(timeout=30)
        return rc, self.p.stderr.read()


def main():
    helper, client_bin = sys.argv[1], sys.argv[2]
    if not os.access(helper, os.X_OK):
        skip(f"{helper} not installed (Debian package qemu-system-common)")
    tap = Tap()
    with tmpdir() as work:
        f = os.path.join(work, "file")
        with open(f, "wb") as fh:
            fh.write(bytes(4096))
        h = Helper(helper, work)
        c = Client(client_bin, h.sock)
        tap.ok(c.first == "created", "object created, handshake done",
               c.first)
        r = c.cmd("connected")
        tap.ok(r == "connected=1 pr0:1", "connected: true", r)
        want_io = f"ret=0 status=0x02 driver=0x08 resid=64 sense={IO_ERROR}"
        r = c.cmd(f"in {f}")
        tap.ok(r == want_io, "PR IN on a file: CHECK CONDITION, IO ERROR "
               "sense (main context)", r)
        r = c.cmd(f"in-io {f}")
        tap.ok(r == want_io, "PR IN from an IOThread", r)
        r = c.cmd("in /dev/null")
        tap.ok(r == want_io, "PR IN on /dev/null", r)
        r = c.cmd(f"out {f} ro")
        tap.ok(r == f"ret=0 status=0x02 driver=0x08 resid=40 "
               f"sense={INVALID_OPCODE}",
               "PR OUT on a read-only fd: INVALID OPCODE", r)
        r = c.cmd(f"out {f} rw")
        tap.ok(r == f"ret=0 status=0x02 driver=0x08 resid=40 "
               f"sense={IO_ERROR}", "PR OUT on a read-write fd", r)

        # Restart the helper: the next command reconnects.
        h.stop()
        h = Helper(helper, work)
        r = c.cmd(f"in {f}")
        tap.ok(r == want_io, "command after a helper restart reconnects", r)
        r = c.cmd("connected")
        tap.ok(r == "connected=1 pr0:1", "connected again", r)

        # Helper gone: the retries give up with LUN COMMUNICATION FAILURE.
        h.stop()
        os.unlink(h.sock) if os.path.exists(h.sock) else None
        r = c.cmd(f"in {f}")
        tap.ok(r == f"ret=-5 status=0x02 driver=0x08 resid=0 "
               f"sense={COMM_FAILURE}",
               "helper down: LOGICAL UNIT COMMUNICATION FAILURE", r)
        r = c.cmd("connected")
        tap.ok(r == "connected=0 pr0:0", "connected: false", r)

        h = Helper(helper, work)
        r = c.cmd(f"in-io {f}")
        tap.ok(r == want_io, "helper back: the next command works", r)
        rc, err = c.close()
        tap.ok(rc == 0, "client exits cleanly", err)
        tap.ok("connected=0" in err and "connected=1" in err,
               "status change events reported", err)
        h.stop()

        # No helper at all: creating the object fails.
        c = Client(client_bin, os.path.join(work, "none.sock"))
        tap.ok(c.first.startswith("create failed:") and
               "Failed to connect" in c.first,
               "creation fails without a helper",
               c.first)
        c.p.wait(timeout=30)
    tap.done()


if __name__ == "__main__":
    main()
