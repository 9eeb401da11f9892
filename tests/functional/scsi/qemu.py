#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Debian's QEMU with our helper: -object pr-manager-helper connects and
query-pr-managers reports connected: true.

usage: qemu.py OUR-HELPER
"""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prhelper import Helper, Tap, skip, tmpdir  # noqa

QEMU = "/usr/bin/qemu-system-x86_64"


def qmp(path, proc):
    end = time.time() + 30
    while True:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            break
        except OSError:
            if time.time() > end or proc.poll() is not None:
                raise
            time.sleep(0.1)
    f = s.makefile("rw")
    json.loads(f.readline())
    return s, f


def command(f, name):
    f.write(json.dumps({"execute": name}) + "\n")
    f.flush()
    while True:
        msg = json.loads(f.readline())
        if "return" in msg or "error" in msg:
            return msg


def main():
    if not os.access(QEMU, os.X_OK):
        skip(f"{QEMU} not installed (Debian package qemu-system-x86)")
    tap = Tap()
    with tmpdir() as work:
        h = Helper(sys.argv[1], work)
        qsock = os.path.join(work, "qmp.sock")
        q = subprocess.Popen(
            [QEMU, "-machine", "none", "-nodefaults", "-display", "none",
             "-object", f"pr-manager-helper,id=pr0,path={h.sock}",
             "-qmp", f"unix:{qsock},server=on,wait=off"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            s, f = qmp(qsock, q)
            command(f, "qmp_capabilities")
            r = command(f, "query-pr-managers")
            tap.ok(r.get("return") == [{"id": "pr0", "connected": True}],
                   "query-pr-managers: pr0 connected", r)
            command(f, "quit")
            s.close()
            q.wait(timeout=30)
        finally:
            if q.poll() is None:
                q.kill()
                q.wait()
        rc, err = h.stop()
        tap.ok(rc == 0, "helper exits 0 after QEMU went away", err)
    tap.done()


if __name__ == "__main__":
    main()
