#!/usr/bin/env python3
"""Write the seed corpus of fuzz-nbd (tests/fuzz/fuzz-nbd.c documents the
input layout): valid INFO/GO payloads, LIST/SET_META_CONTEXT payloads and
request streams in each mode; for fuzz-nbd-session, whole client
streams; for fuzz-nbd-client, whole server streams. Run from anywhere;
rewrites corpus/nbd/, corpus/nbd-session/ and corpus/nbd-client/.
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


# fuzz-nbd-client: what a server says (tests/fuzz/fuzz-nbd-client.c).
CLIENT_LIST, CLIENT_EXTENDED, CLIENT_BASE_ALLOC, CLIENT_NAMED = 1, 2, 4, 8
INIT_MAGIC = 0x4e42444d41474943
CLIENT_MAGIC = 0x0000420281861253
REP_MAGIC = 0x0003e889045565a9
REP_ACK, REP_SERVER, REP_INFO, REP_META_CONTEXT = 1, 2, 3, 4
REP_ERR_UNSUP = (1 << 31) | 1
INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE = 0, 1, 2, 3
S_FIXED_NEWSTYLE, S_NO_ZEROES = 1, 2


def greeting(sflags=S_FIXED_NEWSTYLE | S_NO_ZEROES):
    return struct.pack(">QQH", INIT_MAGIC, OPTS_MAGIC, sflags)


def rep(opt, typ, data=b""):
    return struct.pack(">QIII", REP_MAGIC, opt, typ, len(data)) + data


def export_info(opt, size=1 << 20, flags=EXPORT_FLAGS, sizes=None):
    out = rep(opt, REP_INFO, struct.pack(">HQH", INFO_EXPORT, size, flags))
    if sizes:
        out += rep(opt, REP_INFO, struct.pack(">HIII", INFO_BLOCK_SIZE,
                                              *sizes))
    out += rep(opt, REP_INFO, struct.pack(">H", INFO_DESCRIPTION) + b"fuzz")
    return out + rep(opt, REP_ACK)


def base_alloc(opt, ctx_id=1):
    return (rep(opt, REP_META_CONTEXT,
                struct.pack(">I", ctx_id) + b"base:allocation") +
            rep(opt, REP_ACK))


def client_seeds():
    sizes = (512, 4096, 32 << 20)
    yield "go-structured", bytes([CLIENT_BASE_ALLOC]) + greeting() + \
        rep(OPT_STRUCTURED_REPLY, REP_ACK) + base_alloc(OPT_SET_META) + \
        export_info(OPT_GO, sizes=sizes)
    yield "go-extended", bytes([CLIENT_EXTENDED | CLIENT_BASE_ALLOC |
                                CLIENT_NAMED]) + greeting() + \
        rep(OPT_EXTENDED_HEADERS, REP_ACK) + base_alloc(OPT_SET_META, 7) + \
        export_info(OPT_GO, size=1 << 40, sizes=(1, 65536, 1 << 30))
    yield "go-simple", bytes([CLIENT_EXTENDED]) + greeting() + \
        rep(OPT_EXTENDED_HEADERS, REP_ERR_UNSUP) + \
        rep(OPT_STRUCTURED_REPLY, REP_ERR_UNSUP) + export_info(OPT_GO)
    # A server without NBD_OPT_GO: the export name, then 124 zeroes.
    yield "export-name", bytes([0]) + greeting(S_FIXED_NEWSTYLE) + \
        rep(OPT_STRUCTURED_REPLY, REP_ACK) + rep(OPT_GO, REP_ERR_UNSUP) + \
        struct.pack(">QH", 1 << 20, EXPORT_FLAGS) + bytes(124)
    yield "plain-newstyle", bytes([CLIENT_NAMED]) + greeting(0) + \
        struct.pack(">QH", 1 << 20, EXPORT_FLAGS) + bytes(124)
    yield "oldstyle", bytes([0]) + struct.pack(
        ">QQQI", INIT_MAGIC, CLIENT_MAGIC, 1 << 20, EXPORT_FLAGS) + \
        bytes(124)
    listing = greeting() + rep(OPT_EXTENDED_HEADERS, REP_ERR_UNSUP) + \
        rep(OPT_STRUCTURED_REPLY, REP_ACK)
    for name in (b"disk0", b""):
        listing += rep(OPT_LIST, REP_SERVER,
                       struct.pack(">I", len(name)) + name + b"about")
    listing += rep(OPT_LIST, REP_ACK)
    for _ in range(2):
        listing += export_info(OPT_INFO, sizes=sizes)
        listing += rep(OPT_LIST_META, REP_META_CONTEXT,
                       struct.pack(">I", 0) + b"base:allocation")
        listing += rep(OPT_LIST_META, REP_ACK)
    yield "list", bytes([CLIENT_LIST]) + listing + rep(OPT_ABORT, REP_ACK)
    # One context, then a malformed reply (the names were once leaked).
    yield "list-bad-context", bytes([CLIENT_LIST]) + greeting() + \
        rep(OPT_EXTENDED_HEADERS, REP_ACK) + \
        rep(OPT_LIST, REP_SERVER, struct.pack(">I", 1) + b"a") + \
        rep(OPT_LIST, REP_ACK) + export_info(OPT_INFO) + \
        rep(OPT_LIST_META, REP_META_CONTEXT,
            struct.pack(">I", 0) + b"base:allocation") + \
        rep(OPT_LIST_META, REP_INFO, b"bad")


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
    write_corpus("nbd-client", client_seeds())


if __name__ == "__main__":
    main()
