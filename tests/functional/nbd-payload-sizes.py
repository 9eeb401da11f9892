#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Reads and writes of many sizes, many in flight on one connection.

The server keeps big payload buffers for reuse (one size class per power
of two from 128 KiB up), and on tmpfs reads and writes the image inline in
the request coroutine. Both would show here as stale or misplaced bytes:
requests of sizes on both sides of every class edge, up to the 32 MiB
limit, go out in pipelined batches of up to 8 (never overlapping within a
batch, sometimes with a refused write whose payload must be skipped), in simple, structured and extended mode, against an image on disk
and one on /dev/shm; every reply is checked against a model of the image,
and at the end the image file itself is compared with the model."""

import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nbdclient as n  # noqa: E402
from nbdtest import Test, check  # noqa: E402

KiB = 1 << 10
MiB = 1 << 20
SIZE = 96 * MiB
SIZES = [512, 4 * KiB, 64 * KiB, 128 * KiB - 512, 128 * KiB,
         128 * KiB + 512, 300 * KiB, MiB - 4 * KiB, MiB, MiB + 512,
         3 * MiB, 4 * MiB, 8 * MiB + 4 * KiB, 32 * MiB]
ROUNDS = 24

t = Test()
rng = random.Random(20261201)


def overlaps(a, b):
    return a[0] < b[0] + b[1] and b[0] < a[0] + a[1]


def pick_batch():
    """Up to 8 (kind, offset, length) with no two ranges overlapping."""
    batch = []
    for _ in range(rng.randint(1, 8)):
        length = rng.choice(SIZES)
        for _ in range(20):
            off = rng.randrange(0, SIZE - length + 1, 512)
            if not any(overlaps((off, length), (b[1], b[2]))
                       for b in batch):
                batch.append((rng.choice("rw"), off, length))
                break
    if rng.random() < 0.3:
        # A write past the end, refused: its payload must be skipped.
        batch.insert(rng.randrange(len(batch) + 1),
                     ("x", SIZE - 512, rng.choice(SIZES[1:])))
    return batch


def run_batch(c, model, batch, what):
    """Sends the whole batch, then collects the replies in any order."""
    pending = {}
    wire = bytearray()
    for i, (kind, off, length) in enumerate(batch):
        cookie = 1000 + i
        if kind == "w":
            data = rng.randbytes(length)
            model[off:off + length] = data
            cmd, payload = n.CMD_WRITE, data
        elif kind == "x":
            cmd, payload = n.CMD_WRITE, rng.randbytes(length)
        else:
            cmd, payload = n.CMD_READ, b""
        if c.mode == "extended":
            wire += struct.pack(">IHHQQQ", n.EXT_REQUEST_MAGIC, 0, cmd,
                                cookie, off, length)
        else:
            wire += struct.pack(">IHHQQI", n.REQUEST_MAGIC, 0, cmd, cookie,
                                off, length)
        wire += payload
        pending[cookie] = [kind, off, length, bytearray(length)]
    c.s.sendall(wire)
    while pending:
        r = c.read_simple_or_chunk()
        cookie = r[1]
        check(t, cookie in pending, "%s: reply for unknown cookie %d"
              % (what, cookie))
        kind, off, length, buf = pending[cookie]
        want = n.ENOSPC if kind == "x" else 0
        if r[0] == "simple":
            check(t, r[2] == want, "%s: error %d, not %d"
                  % (what, r[2], want))
            if kind == "r":
                buf[:] = n.recv_exact(c.s, length)
            done = True
        else:
            _, _, flags, rtype, _, payload = r
            if rtype & (1 << 15):
                err = struct.unpack(">I", payload[:4])[0]
                check(t, err == want, "%s: error chunk %d, not %d"
                      % (what, err, want))
            else:
                check(t, want == 0, "%s: refused write not refused" % what)
            if rtype == n.TYPE_OFFSET_DATA:
                at = struct.unpack(">Q", payload[:8])[0] - off
                buf[at:at + len(payload) - 8] = payload[8:]
            elif rtype == n.TYPE_OFFSET_HOLE:
                at, cnt = struct.unpack(">QI", payload[:12])
                buf[at - off:at - off + cnt] = bytes(cnt)
            done = flags & 1
        if done:
            if kind == "r":
                check(t, buf == model[off:off + length],
                      "%s: read of %d bytes at %d: wrong data"
                      % (what, length, off))
            del pending[cookie]


def exercise(img, where):
    sock = t.path("sock-" + where)
    srv = t.start(["-t", "-f", "raw", "-k", sock, "-x", "d",
                   "--cache=writeback", img], sock)
    model = bytearray(open(img, "rb").read())
    for mode in ("simple", "structured", "extended"):
        c = n.Client(sock, timeout=60).connect_export("d", mode=mode)
        for r in range(ROUNDS):
            run_batch(c, model, pick_batch(),
                      "%s, %s mode, round %d" % (where, mode, r))
        # Whole image back through the connection.
        for off in range(0, SIZE, 32 * MiB):
            err, data, _ = c.read(off, 32 * MiB)
            check(t, err == 0 and data == model[off:off + 32 * MiB],
                  "%s, %s mode: image read back differs at %d"
                  % (where, mode, off))
        c.disconnect()
        t.ok("%s, %s mode: %d pipelined batches of mixed sizes, data "
             "right" % (where, mode, ROUNDS))
    t.stop(srv)
    check(t, open(img, "rb").read() == model,
          "%s: the image file differs from what was written" % where)
    t.ok("%s: the image file holds exactly what was written" % where)


exercise(t.image("disk.img", SIZE, [(0, b"\x5a" * MiB)]), "disk")
if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
    shm = os.path.join("/dev/shm", "nbd-payload-%d.img" % os.getpid())
    try:
        with open(shm, "wb") as f:
            f.truncate(SIZE)
            f.write(b"\xa5" * MiB)
        exercise(shm, "tmpfs")
    finally:
        os.unlink(shm)
else:
    t.skip_part("/dev/shm is not writable: tmpfs case not run")
t.done()
