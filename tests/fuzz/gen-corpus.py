#!/usr/bin/env python3
"""Write the seed corpus of fuzz-nbd (tests/fuzz/fuzz-nbd.c documents the
input layout): valid INFO/GO payloads, LIST/SET_META_CONTEXT payloads and
request streams in each mode; and for fuzz-nbd-session, whole client
streams. Run from anywhere; rewrites corpus/nbd/ and corpus/nbd-session/.
"""
import os
import struct

FUZZ_INFO, FUZZ_META, FUZZ_REQUEST = 0, 1, 2
META_LIST, META_DEPTH = 1, 2
REQ_FIX_MAGIC, REQ_CONTEXTS, REQ_SERVER_MAX = 4, 8, 16
SIMPLE, STRUCTURED, EXTENDED = 0, 1, 2

REQUEST_MAGIC = 0x25609513
EXTENDED_REQUEST_MAGIC = 0x21e41c71
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH = 0, 1, 2, 3
CMD_TRIM, CMD_CACHE, CMD_WRITE_ZEROES, CMD_BLOCK_STATUS = 4, 5, 6, 7
FLAG_FUA, FLAG_NO_HOLE, FLAG_DF, FLAG_REQ_ONE = 1, 2, 4, 8
FLAG_FAST_ZERO, FLAG_PAYLOAD_LEN = 16, 32
EXPORT_FLAGS = 0x0fed          # everything but READ_ONLY


def info(name, infos):
    return (struct.pack(">I", len(name)) + name +
            struct.pack(">H", len(infos)) +
            b"".join(struct.pack(">H", i) for i in infos))


def meta(name, queries):
    out = struct.pack(">I", len(name)) + name + struct.pack(">I", len(queries))
    for q in queries:
        out += struct.pack(">I", len(q)) + q
    return out


def request(mode, typ, flags, frm, length, cookie=1):
    if mode == EXTENDED:
        return struct.pack(">IHHQQQ", EXTENDED_REQUEST_MAGIC, flags, typ,
                           cookie, frm, length)
    return struct.pack(">IHHQQI", REQUEST_MAGIC, flags, typ, cookie, frm,
                       length)


def requests(mode, knobs, size, reqs):
    return (bytes([FUZZ_REQUEST, mode | knobs | REQ_SERVER_MAX]) +
            struct.pack(">QH", size, EXPORT_FLAGS) +
            b"".join(request(mode, *r) for r in reqs))


def seeds():
    yield "info-go", bytes([FUZZ_INFO, 0]) + info(b"disk0", [1, 2, 3])
    yield "info-default", bytes([FUZZ_INFO, 0]) + info(b"", [])
    yield "meta-set", bytes([FUZZ_META, META_DEPTH]) + meta(
        b"disk0", [b"base:allocation", b"qemu:allocation-depth"])
    yield "meta-list-all", bytes([FUZZ_META, META_LIST | META_DEPTH]) + \
        meta(b"disk0", [])
    yield "meta-list-ns", bytes([FUZZ_META, META_LIST]) + \
        meta(b"", [b"base:", b"qemu:", b"other:x"])
    mib = 1 << 20
    common = [
        (CMD_READ, FLAG_FUA, 0, 4096),
        (CMD_WRITE, FLAG_FUA, 4096, 512),
        (CMD_FLUSH, 0, 0, 0),
        (CMD_TRIM, 0, 0, mib),
        (CMD_CACHE, 0, 0, 65536),
        (CMD_WRITE_ZEROES, FLAG_NO_HOLE | FLAG_FAST_ZERO, mib, mib),
        (CMD_DISC, 0, 0, 0),
    ]
    yield "req-simple", requests(SIMPLE, 0, 16 * mib, common)
    yield "req-structured", requests(
        STRUCTURED, REQ_CONTEXTS, 16 * mib,
        common[:-1] + [(CMD_READ, FLAG_DF, 0, 8192),
                       (CMD_BLOCK_STATUS, FLAG_REQ_ONE, 0, 16 * mib)])
    yield "req-extended", requests(
        EXTENDED, REQ_CONTEXTS, 1 << 40,
        common[:-1] + [(CMD_WRITE, FLAG_PAYLOAD_LEN, 0, 4096),
                       (CMD_TRIM, 0, 0, 1 << 40),
                       (CMD_BLOCK_STATUS, 0, 0, 1 << 33)])
    # Explicit limits: read-only export, 64 KiB max payload.
    yield "req-limits", (bytes([FUZZ_REQUEST, SIMPLE]) +
                         struct.pack(">QHI", mib, 0x3, 65536) +
                         request(SIMPLE, CMD_READ, 0, 0, 65536) +
                         request(SIMPLE, CMD_WRITE, 0, 0, 512))


# fuzz-nbd-session: a client's whole byte stream.
OPTS_MAGIC = 0x49484156454F5054
OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_INFO, OPT_GO = 1, 2, 3, 6, 7
OPT_STRUCTURED_REPLY, OPT_LIST_META, OPT_SET_META = 8, 9, 10
OPT_EXTENDED_HEADERS = 11
C_FIXED_NEWSTYLE, C_NO_ZEROES = 1, 2


def option(opt, data=b""):
    return struct.pack(">QII", OPTS_MAGIC, opt, len(data)) + data


def session(mode, opts, reqs):
    return (struct.pack(">I", C_FIXED_NEWSTYLE | C_NO_ZEROES) +
            b"".join(option(*o) for o in opts) +
            b"".join(request(mode, *r) for r in reqs))


def session_seeds():
    kib = 1024
    io = [(CMD_READ, 0, 0, 4 * kib), (CMD_FLUSH, 0, 0, 0)]
    disc = [(CMD_DISC, 0, 0, 0)]
    yield "list-abort", session(SIMPLE, [(OPT_LIST,), (OPT_ABORT,)], [])
    # The default export by the oldest route (once a NULL dereference).
    yield "export-name-default", session(
        SIMPLE, [(OPT_EXPORT_NAME,)], io + disc)
    yield "go-simple", session(
        SIMPLE, [(OPT_INFO, info(b"ro", [1, 2, 3])),
                 (OPT_GO, info(b"", [3]))],
        io + [(CMD_TRIM, 0, 0, 4 * kib)] + disc)
    yield "go-structured", session(
        STRUCTURED,
        [(OPT_STRUCTURED_REPLY,),
         (OPT_LIST_META, meta(b"disk0", [])),
         (OPT_SET_META, meta(b"disk0", [b"base:allocation",
                                        b"qemu:allocation-depth"])),
         (OPT_GO, info(b"disk0", [1]))],
        io + [(CMD_READ, FLAG_DF, 0, 8 * kib),
              (CMD_BLOCK_STATUS, 0, 0, 64 * kib),
              (CMD_WRITE_ZEROES, 0, 0, 4 * kib)] + disc)
    yield "go-extended", session(
        EXTENDED,
        [(OPT_EXTENDED_HEADERS,),
         (OPT_SET_META, meta(b"", [b"base:allocation"])),
         (OPT_GO, info(b"", []))],
        io + [(CMD_BLOCK_STATUS, FLAG_REQ_ONE, 0, 1 << 20),
              (CMD_CACHE, 0, 0, 4 * kib)] + disc)
    # A write carries its payload.
    yield "go-write", (session(SIMPLE, [(OPT_GO, info(b"", []))],
                               [(CMD_WRITE, FLAG_FUA, 512, 16)]) +
                       bytes(range(16)) + request(SIMPLE, *disc[0]))


def write_corpus(name, seeds_iter):
    outdir = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "corpus", name)
    os.makedirs(outdir, exist_ok=True)
    for name, data in seeds_iter:
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)


def main():
    write_corpus("nbd", seeds())
    write_corpus("nbd-session", session_seeds())


if __name__ == "__main__":
    main()
