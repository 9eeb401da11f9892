#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile and broken clients against qemu-nbd, from raw sockets.

The server must stay up, answer with the protocol's errors wherever the
protocol has them (option replies, request errors), disconnect only where
the stream cannot go on, and afterwards serve a well-behaved client the
right data."""

import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nbdclient as n  # noqa: E402
from nbdtest import Test, check  # noqa: E402

MiB = 1 << 20
t = Test()
SIZE = 64 * MiB
PATTERN = bytes(range(256)) * 16           # 4 KiB
img = t.image("disk.img", SIZE, [(0, PATTERN), (8 * MiB, b"\xee" * MiB)])
sock = t.path("sock")
srv = t.start(["-t", "-e", "0", "-f", "raw", "-k", sock, "-x", "d",
               "-A", img], sock)


def client():
    return n.Client(sock)


def good_read(what):
    c = client().connect_export("d")
    err, data, _ = c.read(0, 4096)
    check(t, err == 0 and data == PATTERN, what + ": data after it")
    err, data, _ = c.read(8 * MiB, MiB)
    check(t, err == 0 and data == b"\xee" * MiB, what + ": data after it")
    c.disconnect()
    check(t, t.alive(srv), what + ": server died")


# Handshake phase

c = client()
c.s.recv(18)
c.s.sendall(os.urandom(4096))
check(t, n.is_closed(c.s), "garbage instead of client flags: not closed")
t.ok("garbage instead of the handshake is dropped")

c = client()
c.s.sendall(b"GET / HTTP/1.0\r\n\r\n")
check(t, n.is_closed(c.s), "HTTP request: not closed")
t.ok("an HTTP request is dropped")

c = client()
c.greeting(cflags=0x80)
check(t, n.is_closed(c.s), "unknown client flags: not closed")
t.ok("unknown client flags: disconnect")

c = client()
c.greeting()
c.s.sendall(struct.pack(">QII", 0x1122334455667788, n.OPT_GO, 0))
check(t, n.is_closed(c.s), "bad option magic: not closed")
t.ok("bad option magic: disconnect")

c = client()
c.greeting()
c.send_option(n.OPT_GO, b"\x00\x00", length=100)     # truncated option
c.close()
good_read("truncated option")
t.ok("truncated option, then the client leaves")

c = client()
c.greeting()
c.send_option(n.OPT_LIST, length=0x7FFFFFF0)          # 2 GiB: cannot skip
check(t, n.is_closed(c.s), "2 GiB option: not closed")
t.ok("an oversized option that cannot be skipped: disconnect")

c = client()
c.greeting()
c.send_option(0x1234, b"z" * (1 * MiB))              # skippable
r = c.read_reply()
check(t, r[1] == n.REP_ERR_TOO_BIG, "1 MiB option: %r" % (r[1],))
check(t, c.option(n.OPT_LIST)[-1][0] == n.REP_ACK, "stream after TOO_BIG")
t.ok("a 1 MiB option is skipped and refused with ERR_TOO_BIG")

c = client()
c.greeting()
check(t, c.option(0x4242)[-1][0] == n.REP_ERR_UNSUP, "unknown option")
check(t, c.option(n.OPT_LIST, b"x")[-1][0] == n.REP_ERR_INVALID,
      "LIST with data")
check(t, c.option(n.OPT_STARTTLS)[-1][0] == n.REP_ERR_POLICY,
      "STARTTLS without TLS")
bad_go = struct.pack(">I", 1000) + b"d" + struct.pack(">H", 0)
check(t, c.option(n.OPT_GO, bad_go)[-1][0] == n.REP_ERR_INVALID,
      "GO with a name longer than the option")
bad_go = struct.pack(">I", 1) + b"d" + struct.pack(">H", 5) + b"\0\0"
check(t, c.option(n.OPT_INFO, bad_go)[-1][0] == n.REP_ERR_INVALID,
      "INFO with a wrong request count")
check(t, c.option(n.OPT_GO, c.go_payload("nope"))[-1][0] ==
      n.REP_ERR_UNKNOWN, "GO for an unknown export")
check(t, c.option(n.OPT_SET_META_CONTEXT,
                  c.meta_payload("d", ["base:allocation"]))[-1][0] ==
      n.REP_ERR_INVALID, "SET_META_CONTEXT before structured replies")
check(t, c.structured() == n.REP_ACK, "structured replies")
check(t, c.structured() == n.REP_ERR_INVALID, "structured replies twice")
bad_meta = struct.pack(">I", 1) + b"d" + struct.pack(">I", 3) + \
    struct.pack(">I", 999) + b"base:"
check(t, c.option(n.OPT_LIST_META_CONTEXT, bad_meta)[-1][0] ==
      n.REP_ERR_INVALID, "malformed meta context query")
r = c.option(n.OPT_LIST_META_CONTEXT, c.meta_payload("d", []))
names = sorted(d[4:].decode() for ty, d in r if ty == n.REP_META_CONTEXT)
check(t, names == ["base:allocation", "qemu:allocation-depth"],
      "listed contexts %r" % names)
r = c.option(n.OPT_LIST_META_CONTEXT, c.meta_payload("d", ["x-foo:bar"]))
check(t, r == [(n.REP_ACK, b"")], "unknown namespace not ignored")
check(t, c.extended() == n.REP_ACK, "extended headers after structured")
check(t, c.structured() == n.REP_ERR_EXT_HEADER_REQD,
      "structured after extended")
check(t, c.option(n.OPT_ABORT)[-1][0] == n.REP_ACK, "ABORT")
check(t, n.is_closed(c.s), "ABORT: not closed")
t.ok("option errors answered: UNSUP, INVALID, POLICY, UNKNOWN, "
     "EXT_HEADER_REQD; ABORT acknowledged")

c = client()
c.greeting()
c.send_option(n.OPT_EXPORT_NAME, b"nope")
check(t, n.is_closed(c.s), "EXPORT_NAME of an unknown export: not closed")
c = client()
c.greeting(cflags=3)
c.send_option(n.OPT_EXPORT_NAME, b"d")
hdr = n.recv_exact(c.s, 10)                         # no zeroes asked
size, flags = struct.unpack(">QH", hdr)
check(t, size == SIZE, "EXPORT_NAME size")
c.mode = "simple"
err, data, _ = c.read(0, 4096)
check(t, err == 0 and data == PATTERN, "simple read after EXPORT_NAME")
c.disconnect()
t.ok("EXPORT_NAME: unknown export dropped, known one served")

# Transmission phase

for mode in ("simple", "structured", "extended"):
    c = client().connect_export("d", mode=mode)
    check(t, c.size == SIZE, mode + ": size")
    e = c.read(SIZE - 4096, 8192)[0]
    check(t, e == n.EINVAL, mode + ": read past the end gave %d" % e)
    e = c.write(SIZE, b"x" * 512)
    check(t, e == n.ENOSPC, mode + ": write past the end gave %d" % e)
    e = c.command(n.CMD_TRIM, SIZE - 512, 4096)[0]
    check(t, e == n.EINVAL, mode + ": trim past the end gave %d" % e)
    e = c.read(0, 40 * MiB)[0]
    check(t, e == n.EINVAL, mode + ": 40 MiB read gave %d" % e)
    e = c.command(0x55)[0]
    check(t, e == n.EINVAL, mode + ": unknown command gave %d" % e)
    e = c.command(n.CMD_FLUSH, flags=0x4000)[0]
    check(t, e == n.EINVAL, mode + ": unknown flag gave %d" % e)
    e = c.command(n.CMD_BLOCK_STATUS, 0, 4096)[0]
    check(t, e == n.EINVAL, mode + ": block status without context %d" % e)
    # A 40 MiB write is refused, its payload skipped: the stream goes on.
    e = c.write(0, b"\x01" * (40 * MiB))
    check(t, e == n.EINVAL, mode + ": 40 MiB write gave %d" % e)
    err, data, _ = c.read(0, 4096)
    check(t, err == 0 and data == PATTERN, mode + ": data after refusals")
    c.disconnect()
    t.ok(mode + ": out-of-range and malformed requests get errors, "
         "stream stays in step")

# Structured reads: holes and DF, block status, extended lengths.
c = client().connect_export("d", mode="structured",
                            meta=["base:allocation",
                                  "qemu:allocation-depth"])
check(t, sorted(c.contexts.values()) ==
      ["base:allocation", "qemu:allocation-depth"], "contexts selected")
err, data, chunks = c.read(4 * MiB, 8 * MiB)
check(t, err == 0 and data[:4 * MiB] == bytes(4 * MiB) and
      data[4 * MiB:5 * MiB] == b"\xee" * MiB, "sparse read data")
check(t, any(ty == n.TYPE_OFFSET_HOLE for ty, _ in chunks),
      "no hole chunk in a sparse read")
err, data, chunks = c.read(4 * MiB, 8 * MiB, flags=n.FLAG_DF)
check(t, err == 0 and len([1 for ty, _ in chunks
                           if ty == n.TYPE_OFFSET_DATA]) == 1 and
      not any(ty == n.TYPE_OFFSET_HOLE for ty, _ in chunks), "DF read")
check(t, data[4 * MiB:5 * MiB] == b"\xee" * MiB, "DF read data")
err, _, chunks = c.command(n.CMD_BLOCK_STATUS, 0, SIZE)
check(t, err == 0 and len(chunks) == 2, "block status: %r" % (chunks,))
for ty, payload in chunks:
    check(t, ty == n.TYPE_BLOCK_STATUS, "block status chunk type")
    cid = struct.unpack(">I", payload[:4])[0]
    ext = [struct.unpack(">II", payload[i:i + 8])
           for i in range(4, len(payload), 8)]
    check(t, sum(e[0] for e in ext) == SIZE, "extents cover the export")
    if c.contexts[cid] == "base:allocation":
        check(t, ext[0][1] == 0, "data at 0 reported as %d" % ext[0][1])
err, _, chunks = c.command(n.CMD_BLOCK_STATUS, 0, SIZE,
                           flags=n.FLAG_REQ_ONE)
check(t, err == 0 and all(len(p) == 12 for _, p in chunks), "REQ_ONE")
c.disconnect()
t.ok("structured: hole chunks, DF, block status, REQ_ONE")

c = client().connect_export("d", mode="extended", meta=["base:allocation"])
e = c.write(16 * MiB, b"\x5a" * 65536, flags=n.FLAG_FUA)
check(t, e == 0, "extended write")
err, data, chunks = c.read(16 * MiB, 65536)
check(t, err == 0 and data == b"\x5a" * 65536, "extended read")
err, _, chunks = c.command(n.CMD_FLUSH)
check(t, err == 0 and chunks == [(n.TYPE_NONE, b"")], "extended flush")
err, _, chunks = c.command(n.CMD_BLOCK_STATUS, 0, SIZE)
check(t, err == 0 and chunks[0][0] == n.TYPE_BLOCK_STATUS_EXT,
      "extended block status")
cid, count = struct.unpack(">II", chunks[0][1][:8])
check(t, len(chunks[0][1]) == 8 + 16 * count, "extended extent count")
e = c.command(n.CMD_WRITE_ZEROES, 0, 1 << 33)[0]
check(t, e == n.ENOSPC, "64-bit zero past the end gave %d" % e)
e = c.command(n.CMD_WRITE_ZEROES, 16 * MiB, 32768,
              flags=n.FLAG_NO_HOLE)[0]
check(t, e == 0, "write zeroes")
err, data, _ = c.read(16 * MiB, 65536)
check(t, data == bytes(32768) + b"\x5a" * 32768, "zeroed range")
c.disconnect()
t.ok("extended headers: 64-bit requests and replies")

# Writes cut off, bad magic, clients killed mid-transfer.
c = client().connect_export("d", mode="structured")
c.send_request(n.CMD_WRITE, 20 * MiB, MiB)
c.s.sendall(b"\x99" * 1000)
c.close()
good_read("write with its payload cut off")
t.ok("a write whose payload is cut off")

c = client().connect_export("d", mode="structured")
c.s.sendall(os.urandom(28))
check(t, n.is_closed(c.s), "garbage request: not closed")
good_read("garbage request")
t.ok("a request with a bad magic: disconnect")

killer = """
import os, sys, struct
sys.path.insert(0, %r)
import nbdclient as n
c = n.Client(%r).connect_export("d")
print("ready", flush=True)
while True:
    c.send_request(n.CMD_WRITE, 24 << 20, 1 << 20, payload=b"k" * (1 << 20))
    c.send_request(n.CMD_READ, 0, 1 << 20)
""" % (os.path.dirname(os.path.abspath(__file__)), sock)
for i in range(3):
    p = subprocess.Popen([sys.executable, "-c", killer],
                         stdout=subprocess.PIPE)
    p.stdout.readline()
    time.sleep(0.2 + 0.1 * i)
    p.send_signal(signal.SIGKILL)
    p.wait()
good_read("SIGKILLed clients")
t.ok("clients SIGKILLed in the middle of transfers")

# 200 connections, dropped at every stage of the handshake.
rng = random.Random(1)
socks = []
for i in range(200):
    s = n.connect(sock)
    stage = rng.randrange(4)
    if stage >= 1:
        s.recv(18)
    if stage >= 2:
        s.sendall(struct.pack(">I", 1))
    if stage >= 3:
        s.sendall(struct.pack(">QII", n.IHAVEOPT, n.OPT_GO, 50) + b"ab")
    socks.append(s)
    if len(socks) > 50:
        socks.pop(0).close()
for s in socks:
    s.close()
good_read("200 dropped connections")
t.ok("200 connections opened and dropped at random handshake stages")

t.done()
