#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed corpus of fuzz-pr-helper (tests/fuzz/fuzz-pr-helper.c
documents the input: sends of [fds|kind<<2][length][data]). Run from
anywhere; rewrites corpus/pr-helper/.
"""
import os
import struct

RDONLY, RDWR, FILE, DIR = 0, 1, 2, 3
PR_IN, PR_OUT = 0x5E, 0x5F


def send(data, nfds=0, kind=RDONLY):
    assert len(data) < 256
    return bytes([nfds | (kind << 2), len(data)]) + data


def cdb(op, action, length, scope_type=0):
    c = bytearray(16)
    c[0], c[1], c[2] = op, action, scope_type
    c[7:9] = struct.pack(">H", length)
    return bytes(c)


HELLO = send(b"\0\0\0\0")


def seeds():
    reg = struct.pack(">QQ", 0, 0x1234) + bytes(8)
    return {
        "read-keys": HELLO + send(cdb(PR_IN, 0, 8192), 1, RDONLY),
        "read-reservation-file": HELLO + send(cdb(PR_IN, 1, 24), 1, FILE),
        "register-rdwr": HELLO + send(cdb(PR_OUT, 0, 24), 1, RDWR) +
        send(reg),
        "register-rdonly": HELLO + send(cdb(PR_OUT, 0, 24), 1, RDONLY) +
        send(reg),
        "fd-on-second-fragment": HELLO + send(cdb(PR_IN, 0, 64)[:5]) +
        send(cdb(PR_IN, 0, 64)[5:], 1, DIR),
        "two-requests": HELLO + send(cdb(PR_IN, 0, 32), 1, RDONLY) +
        send(cdb(PR_IN, 2, 8), 1, FILE),
        "two-fds": HELLO + send(cdb(PR_IN, 0, 8), 2, RDONLY),
        "no-fd": HELLO + send(cdb(PR_IN, 0, 8)),
        "bad-opcode": HELLO + send(b"\x12" + bytes(15), 1, RDONLY),
        "too-long": HELLO + send(cdb(PR_IN, 0, 8193), 1, RDONLY),
        "features": send(b"\0\0\0\1") + send(cdb(PR_IN, 0, 8), 1, RDONLY),
        "truncated-param": HELLO + send(cdb(PR_OUT, 0, 24), 1, RDWR) +
        send(reg[:10]),
    }


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "corpus", "pr-helper")
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        os.unlink(os.path.join(out, name))
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
