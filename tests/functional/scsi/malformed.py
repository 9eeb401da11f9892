#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Every malformed or non-SCSI request of PR-HELPER.md, sent as exact
bytes to our qemu-pr-helper and checked against the protocol facts; with
a second helper given (Debian's), the same bytes go to it too and the
replies (or disconnects) must be equal.

usage: malformed.py OUR-HELPER [REFERENCE-HELPER]
"""
import os
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prhelper import (Helper, Raw, Tap, fixed_sense, pr_in_cdb,  # noqa
                      pr_out_cdb, skip, tmpdir, RESP_SIZE)

IO_ERROR = fixed_sense(0x0b, 0x00, 0x06)
INVALID_OPCODE = fixed_sense(0x05, 0x20, 0x00)


def open_fds(work):
    path = os.path.join(work, "regular")
    with open(path, "wb") as f:
        f.write(b"x" * 4096)
    r, w = os.pipe()
    return {
        "file-rw": os.open(path, os.O_RDWR),
        "file-ro": os.open(path, os.O_RDONLY),
        "null-ro": os.open("/dev/null", os.O_RDONLY),
        "null-rw": os.open("/dev/null", os.O_RDWR),
        "pipe": r,
        "pipe-w": w,
        "dir": os.open(work, os.O_RDONLY | os.O_DIRECTORY),
    }


def run_cases(sock, fds):
    """Returns [(name, outcome, still_open)] for one helper."""
    out = []

    def record(name, c, res, check_open=True):
        still = None
        if res[0] == "reply" and check_open:
            # The connection must still serve the next request.
            c.send(pr_in_cdb(8), [fds["null-ro"]])
            nxt = c.outcome()
            still = nxt[0] == "reply"
        out.append((name, res, still))
        c.close()

    # The helper's greeting
    c = Raw(sock, handshake=False)
    out.append(("greeting", ("reply", c.recv_exact(4)), None))
    c.close()

    c = Raw(sock, features=1)
    record("non-zero feature word", c, ("eof", b"") if c.at_eof()
           else ("open", b""))

    c = Raw(sock, features=0x80000000)
    record("feature word 0x80000000", c, ("eof", b"") if c.at_eof()
           else ("open", b""))

    c = Raw(sock, handshake=False)
    c.recv_exact(4)
    c.send(pr_in_cdb(64), [fds["file-rw"]])
    record("skipped handshake", c, c.outcome())

    c = Raw(sock)
    c.send(pr_in_cdb(64))
    record("no fd", c, c.outcome())

    c = Raw(sock)
    c.send(pr_in_cdb(64), [fds["file-rw"], fds["null-ro"]])
    record("two fds", c, c.outcome())

    c = Raw(sock)
    c.send(pr_in_cdb(64)[:8], [fds["file-rw"]])
    c.send(pr_in_cdb(64)[8:], [fds["null-ro"]])
    record("two fds on two fragments", c, c.outcome())

    for op in (0x00, 0x12, 0x28, 0x5d, 0xff):
        c = Raw(sock)
        cdb = bytes([op]) + pr_in_cdb(64)[1:]
        c.send(cdb, [fds["file-rw"]])
        record(f"wrong opcode 0x{op:02x}", c, c.outcome())

    c = Raw(sock)
    c.send(pr_in_cdb(8193), [fds["file-rw"]])
    record("PR IN length 8193", c, c.outcome())

    c = Raw(sock)
    c.send(pr_in_cdb(0xffff), [fds["file-rw"]])
    record("PR IN length 65535", c, c.outcome())

    c = Raw(sock)
    c.send(pr_out_cdb(8193), [fds["file-rw"]])
    record("PR OUT length 8193", c, c.outcome())

    c = Raw(sock)
    c.send(pr_in_cdb(64)[:9], [fds["file-rw"]])
    c.s.shutdown(socket.SHUT_WR)
    record("truncated CDB", c, c.outcome(), check_open=False)

    c = Raw(sock)
    c.send(pr_out_cdb(24) + bytes(10), [fds["file-rw"]])
    c.s.shutdown(socket.SHUT_WR)
    record("truncated PR OUT parameter list", c, c.outcome(),
           check_open=False)

    c = Raw(sock)
    c.s.shutdown(socket.SHUT_WR)
    record("EOF after handshake", c, c.outcome(), check_open=False)

    for key in ("file-rw", "file-ro", "null-ro", "null-rw", "pipe", "dir"):
        c = Raw(sock)
        c.send(pr_in_cdb(64), [fds[key]])
        record(f"PR IN on {key}", c, c.outcome())

    for alloc in (0, 1, 8192):
        c = Raw(sock)
        c.send(pr_in_cdb(alloc), [fds["file-rw"]])
        record(f"PR IN alloc {alloc} on file", c, c.outcome())

    for key in ("file-rw", "file-ro", "null-ro", "null-rw", "pipe-w"):
        c = Raw(sock)
        c.send(pr_out_cdb(24) + bytes(24), [fds[key]])
        record(f"PR OUT on {key}", c, c.outcome())

    c = Raw(sock)
    c.send(pr_out_cdb(8192) + bytes(8192), [fds["file-rw"]])
    record("PR OUT 8192 bytes on file", c, c.outcome())

    c = Raw(sock)
    c.send(pr_out_cdb(0), [fds["file-rw"]])
    record("PR OUT 0 bytes on file", c, c.outcome())

    c = Raw(sock)
    cdb = pr_in_cdb(64)
    c.send(cdb[:5])
    c.send(cdb[5:12], [fds["file-rw"]])
    c.send(cdb[12:])
    record("fd on the middle fragment", c, c.outcome())

    c = Raw(sock)
    c.send(pr_in_cdb(64), [fds["file-rw"]])
    first = c.outcome()
    c.send(pr_in_cdb(64))
    record("second request without fd", c,
           (first[0] + "+" + c.outcome()[0], first[1]), check_open=False)

    # A misbehaving client does not disturb another one.
    good = Raw(sock)
    bad = Raw(sock)
    bad.send(bytes(16))
    bad_res = bad.outcome()
    good.send(pr_in_cdb(32), [fds["null-ro"]])
    res = good.outcome()
    out.append(("other client served", (res[0] + "/" + bad_res[0], res[1]),
                None))
    good.close()
    bad.close()
    return out


def check_expected(tap, name, res, still):
    kind, data = res
    if name == "greeting":
        return tap.ok(data == bytes(4), "greeting is 4 zero bytes", data)
    expect_close = (name.startswith(("non-zero", "feature", "skipped",
                                     "no fd", "two fds", "wrong opcode",
                                     "truncated", "EOF after"))
                    or "length 8193" in name or "65535" in name)
    if expect_close:
        return tap.ok(kind == "eof" and data == b"",
                      f"{name}: connection closed, no reply", res)
    if name == "second request without fd":
        return tap.ok(kind == "reply+eof", f"{name}: reply then close", res)
    if name == "other client served":
        return tap.ok(kind == "reply/eof", name, res)
    if kind != "reply":
        return tap.ok(False, f"{name}: a reply", res)
    status, size = struct.unpack(">II", data[:8])
    sense = data[8:RESP_SIZE]
    want = INVALID_OPCODE if name in ("PR OUT on file-ro",
                                      "PR OUT on null-ro") else IO_ERROR
    good = (status == 2 and size == 0 and len(data) == RESP_SIZE and
            sense[:18] == want and sense[18:] == bytes(78) and still)
    return tap.ok(good, f"{name}: CHECK CONDITION, sense "
                  f"{want[2]:x}/{want[12]:02x}/{want[13]:02x}, zero tail, "
                  f"connection kept", data.hex())


def main():
    ours = sys.argv[1]
    ref = sys.argv[2] if len(sys.argv) > 2 else None
    if ref and not os.access(ref, os.X_OK):
        skip(f"{ref} not installed (Debian package qemu-system-common)")
    tap = Tap()
    with tmpdir() as work:
        fds = open_fds(work)
        h = Helper(ours, work, "ours")
        try:
            mine = run_cases(h.sock, fds)
        finally:
            rc, err = h.stop()
        tap.ok(rc == 0, "our helper exits 0 on SIGTERM", err)
        if ref is None:
            for name, res, still in mine:
                check_expected(tap, name, res, still)
            tap.done()

        r = Helper(ref, work, "ref")
        try:
            theirs = run_cases(r.sock, fds)
        finally:
            r.stop()
        for (name, a, sa), (_, b, sb) in zip(mine, theirs):
            same = a == b and sa == sb
            note = ""
            if (not same and a[0] == b[0] == "reply" and sa == sb and
                    len(a[1]) == len(b[1]) and a[1][:26] == b[1][:26] and
                    a[1][26:RESP_SIZE] == bytes(78) and
                    a[1][RESP_SIZE:] == b[1][RESP_SIZE:]):
                # Debian's 7.2 helper sends uninitialized stack bytes
                # after the 18 bytes of sense it built; ours are zero.
                same = True
                note = " # reference sense tail is uninitialized"
            tap.ok(same, f"same answer as {ref}: {name}{note}",
                   f"ours: {a} open={sa}\nref:  {b} open={sb}")
    tap.done()


if __name__ == "__main__":
    main()
