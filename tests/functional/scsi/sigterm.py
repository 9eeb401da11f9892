#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""qemu-pr-helper on SIGTERM, SIGINT and SIGHUP with commands in flight.

The device fd is a file of a FUSE filesystem served by this test
(fusefile.py): the helper's SG_IO ioctl goes to us and stays in flight
until we answer it. Two clients each get a command in flight, then the
helper gets the signal. It must: keep running while they are in flight,
serve no new connection and no new request of an idle client, send both
replies intact (equal to those of the same commands without a signal)
once the ioctls return, then hang up on everybody, remove its socket and
exit with status 0.

usage: sigterm.py HELPER
"""
import errno
import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prhelper import (Helper, Raw, Tap, fixed_sense, pr_in_cdb,  # noqa
                      pr_out_cdb, skip, tmpdir)
from fusefile import HeldIoctlFS  # noqa

SG_IO = 0x2285
# PR IN READ KEYS, 64 bytes: the ioctl returns 0 and leaves the sg_io_hdr
# as the helper set it, so GOOD with 64 bytes (zeroed by the helper).
CMD_IN = pr_in_cdb(64)
WANT_IN = struct.pack(">II", 0, 64) + bytes(96) + bytes(64)
# PR OUT REGISTER: the ioctl fails with ENOMEDIUM, so CHECK CONDITION,
# NOT READY / MEDIUM NOT PRESENT.
CMD_OUT = pr_out_cdb(24)
PARAM_OUT = bytes(range(24))
WANT_OUT = (struct.pack(">II", 2, 0) + fixed_sense(0x02, 0x3a, 0x00) +
            bytes(96 - 18))


def send(h, fd, cdb, param=b""):
    c = Raw(h.sock)
    c.send(cdb, [fd])
    if param:
        c.send(param)
    return c


def answer(fs, req, cdb):
    if cdb[0] == 0x5e:
        fs.answer(req, result=0)
    else:
        fs.answer(req, error=-errno.ENOMEDIUM)


def run(tap, fs, helper, work, sig):
    name = signal.Signals(sig).name
    fd = os.open(fs.path, os.O_RDWR)
    h = Helper(helper, work, "sig")
    try:
        # The same commands without a signal: the replies to expect.
        refs = []
        for cdb, param in ((CMD_IN, b""), (CMD_OUT, PARAM_OUT)):
            c = send(h, fd, cdb, param)
            req = fs.wait_ioctl()
            if not tap.ok(req is not None and req.cmd == SG_IO,
                          f"{name}: SG_IO reaches the FUSE file"):
                return
            answer(fs, req, cdb)
            refs.append(c.outcome())
            c.close()
        tap.ok(refs == [("reply", WANT_IN), ("reply", WANT_OUT)],
               f"{name}: replies without a signal", refs)

        idle = Raw(h.sock)
        a = send(h, fd, CMD_IN)
        req_a = fs.wait_ioctl()
        b = send(h, fd, CMD_OUT, PARAM_OUT)
        req_b = fs.wait_ioctl()
        if not tap.ok(req_a is not None and req_b is not None,
                      f"{name}: two commands in flight"):
            return
        h.proc.send_signal(sig)
        time.sleep(0.5)
        tap.ok(h.proc.poll() is None,
               f"{name}: helper still runs with two commands in flight")

        # Nothing new is served: no greeting to a new connection, and a
        # request of the idle client never reaches the device.
        late = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        late.settimeout(0.5)
        try:
            late.connect(h.sock)
            hello = late.recv(4)
        except (OSError, socket.timeout):
            hello = b""
        tap.ok(hello == b"", f"{name}: no greeting for a new connection",
               hello)
        try:
            idle.send(CMD_IN, [fd])
        except OSError:
            pass
        req = fs.wait_ioctl(timeout=0.5)
        tap.ok(req is None, f"{name}: no new request of an idle client "
               "runs")
        if req:
            answer(fs, req, CMD_IN)

        answer(fs, req_b, CMD_OUT)
        got_b = b.outcome()
        tap.ok(got_b == refs[1], f"{name}: first reply arrives intact",
               got_b)
        time.sleep(0.2)
        tap.ok(h.proc.poll() is None,
               f"{name}: helper still runs with one command in flight")
        answer(fs, req_a, CMD_IN)
        got_a = a.outcome()
        tap.ok(got_a == refs[0], f"{name}: second reply arrives intact",
               got_a)

        try:
            _, err = h.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            err = b"still running 10 s after the last reply"
        rc = h.proc.returncode
        tap.ok(rc == 0, f"{name}: helper exits with status 0", err)
        tap.ok(not os.path.exists(h.sock), f"{name}: socket removed")
        tap.ok(all(c.at_eof() for c in (a, b, idle)),
               f"{name}: every client sees end of file")
        for c in (a, b, idle):
            c.close()
        late.close()
    finally:
        if h.proc.poll() is None:
            h.proc.kill()
            h.proc.wait()
        os.close(fd)


def main():
    helper = sys.argv[1]
    if os.geteuid() != 0:
        skip("needs root to mount the FUSE filesystem")
    if not os.path.exists("/dev/fuse"):
        skip("no /dev/fuse")
    tap = Tap()
    with tmpdir() as work:
        mnt = os.path.join(work, "fuse")
        os.mkdir(mnt)
        try:
            fs = HeldIoctlFS(mnt).__enter__()
        except OSError as e:
            skip(str(e))
        try:
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                run(tap, fs, helper, work, sig)
        finally:
            fs.__exit__(None, None, None)
    tap.done()


if __name__ == "__main__":
    main()
