#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write the seed corpus of fuzz-nbd (tests/fuzz/fuzz-nbd.c documents the
input layout): valid INFO/GO payloads, LIST/SET_META_CONTEXT payloads and
request streams in each mode; for fuzz-nbd-session, whole client
streams; for fuzz-nbd-client, whole server streams; for fuzz-nbd-reply,
a server's replies in the transmission phase. Run from anywhere; rewrites
corpus/nbd/, corpus/nbd-session/, corpus/nbd-client/ and corpus/nbd-reply/.
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


# fuzz-nbd-reply and fuzz-nbd-driver: knobs, then a server's replies
# (the layout is in tests/fuzz/fuzz-nbd-reply.h).
REPLY_BLOCK_SIZE, REPLY_NO_META, REPLY_TRICKLE = 4, 8, 64
BATCH_ALL, BATCH_READ, BATCH_STATUS, BATCH_MANY = 0, 16, 32, 48
SIMPLE_REPLY_MAGIC = 0x67446698
STRUCTURED_REPLY_MAGIC = 0x668e33ef
EXTENDED_REPLY_MAGIC = 0x6e8a278c
REPLY_FLAG_DONE = 1
TYPE_NONE, TYPE_OFFSET_DATA, TYPE_OFFSET_HOLE = 0, 1, 2
TYPE_BLOCK_STATUS, TYPE_BLOCK_STATUS_EXT = 5, 6
TYPE_ERROR, TYPE_ERROR_OFFSET = (1 << 15) | 1, (1 << 15) | 2
NBD_EIO, NBD_ENOSPC, NBD_ENOTSUP = 5, 28, 95
CONTEXT_ID = 1
KIB = 1024
EXPORT_SIZE = 1024 * KIB
READ, STATUS, WRITE, ZERO, TRIM, FLUSH = range(6)
# The batches of fuzz_batch(), in the order the requests are issued.
BATCHES = {
    BATCH_ALL: [(READ, 0, 512), (READ, 64 * KIB, 4 * KIB),
                (READ, EXPORT_SIZE - KIB, KIB), (STATUS, 0, EXPORT_SIZE),
                (WRITE, 128 * KIB, 4 * KIB), (ZERO, 256 * KIB, 64 * KIB),
                (TRIM, 512 * KIB, 64 * KIB), (FLUSH, 0, 0)],
    BATCH_READ: [(READ, EXPORT_SIZE - 64 * KIB, 64 * KIB)],
    BATCH_STATUS: [(STATUS, 0, EXPORT_SIZE), (STATUS, 512 * KIB, 64 * KIB)],
    BATCH_MANY: [(READ, i * 64 * KIB, 512) for i in range(16)],
}


def wire(knobs):
    """The batch's requests that reach the server, with their cookies:
    request k gets slot k and sequence number k + 1 (block/nbd.c)."""
    mode = min(knobs & 3, EXTENDED)
    status = mode != SIMPLE and not knobs & REPLY_NO_META
    reqs = [r for r in BATCHES[knobs & 48] if r[0] != STATUS or status]
    return [((k + 1) * 16 + k,) + r for k, r in enumerate(reqs)]


def pattern(offset, length):
    return bytes((offset + i) * 7 % 251 for i in range(length))


def simple_reply(cookie, error=0, data=b""):
    return struct.pack(">IIQ", SIMPLE_REPLY_MAGIC, error, cookie) + data


def chunk(mode, cookie, typ, payload=b"", done=True, offset=0):
    flags = REPLY_FLAG_DONE if done else 0
    if mode == EXTENDED:
        return struct.pack(">IHHQQQ", EXTENDED_REPLY_MAGIC, flags, typ,
                           cookie, offset, len(payload)) + payload
    return struct.pack(">IHHQI", STRUCTURED_REPLY_MAGIC, flags, typ, cookie,
                       len(payload)) + payload


def data_chunk(mode, cookie, offset, length, done, req_offset):
    return chunk(mode, cookie, TYPE_OFFSET_DATA,
                 struct.pack(">Q", offset) + pattern(offset, length), done,
                 req_offset)


def hole_chunk(mode, cookie, offset, length, done, req_offset):
    return chunk(mode, cookie, TYPE_OFFSET_HOLE,
                 struct.pack(">QI", offset, length), done, req_offset)


def error_chunk(mode, cookie, err, msg, done, req_offset, at=None):
    payload = struct.pack(">IH", err, len(msg)) + msg
    if at is None:
        return chunk(mode, cookie, TYPE_ERROR, payload, done, req_offset)
    return chunk(mode, cookie, TYPE_ERROR_OFFSET,
                 payload + struct.pack(">Q", at), done, req_offset)


def reply_chunks(mode, req, backwards=False):
    """The chunks of a good reply to @req (the last is done). Reads of 4
    KiB or more come as data, hole, data (@backwards: from the end, so
    that the client has to see that they do not overlap); block status
    says the first half of the range is allocated data."""
    cookie, op, offset, length = req
    if mode == SIMPLE:
        return [simple_reply(cookie, 0, pattern(offset, length)
                             if op == READ else b"")]
    if op == READ and length >= 4 * KIB:
        q = length // 4
        content = [data_chunk(mode, cookie, offset, q, False, offset),
                   hole_chunk(mode, cookie, offset + q, 2 * q, False,
                              offset),
                   data_chunk(mode, cookie, offset + 3 * q, q, False,
                              offset)]
        if backwards:
            content.reverse()
        return content + [chunk(mode, cookie, TYPE_NONE, b"", True, offset)]
    if op == READ:
        return [data_chunk(mode, cookie, offset, length, True, offset)]
    if op == STATUS and mode == EXTENDED:
        return [chunk(mode, cookie, TYPE_BLOCK_STATUS_EXT,
                      struct.pack(">IIQQ", CONTEXT_ID, 1, length // 2, 0),
                      True, offset)]
    if op == STATUS:
        return [chunk(mode, cookie, TYPE_BLOCK_STATUS,
                      struct.pack(">III", CONTEXT_ID, length // 2, 0),
                      True, offset)]
    if op == WRITE and mode == STRUCTURED:
        return [simple_reply(cookie)]       # allowed, but not for reads
    return [chunk(mode, cookie, TYPE_NONE, b"", True, offset)]


def reply_error(mode, req):
    """A failed reply: EIO for reads (after some data for the larger),
    ENOSPC for the rest."""
    cookie, op, offset, length = req
    err = NBD_EIO if op == READ else NBD_ENOSPC
    if mode == SIMPLE:
        return simple_reply(cookie, err)
    if op == READ and length >= 4 * KIB:
        return (data_chunk(mode, cookie, offset, KIB, False, offset) +
                error_chunk(mode, cookie, err, b"bad sector", False, offset,
                            at=offset + KIB) +
                chunk(mode, cookie, TYPE_NONE, b"", True, offset))
    return error_chunk(mode, cookie, err, b"no", True, offset)


def reply_seeds():
    names = {SIMPLE: "simple", STRUCTURED: "structured", EXTENDED: "extended"}
    for mode, name in names.items():
        knobs = mode | (REPLY_BLOCK_SIZE if mode == STRUCTURED else 0)
        reqs = wire(knobs | BATCH_ALL)
        replies = [b"".join(reply_chunks(mode, r)) for r in reqs]
        yield name + "-all", bytes([knobs | BATCH_ALL]) + b"".join(replies)
        yield name + "-all-reversed", bytes([knobs | BATCH_ALL]) + \
            b"".join(b"".join(reply_chunks(mode, r, backwards=True))
                     for r in reversed(reqs))
        # The first two reads and write zeroes fail; the rest succeed.
        yield name + "-all-errors", bytes([knobs | BATCH_ALL]) + b"".join(
            reply_error(mode, r) if k < 2 or r[1] == ZERO else replies[k]
            for k, r in enumerate(reqs))
        (read,) = wire(knobs | BATCH_READ)
        yield name + "-read", bytes([knobs | BATCH_READ]) + \
            b"".join(reply_chunks(mode, read))
        # 16 reads; in structured modes their chunks interleave.
        reqs = wire(knobs | BATCH_MANY)
        if mode == SIMPLE:
            many = b"".join(reply_chunks(mode, r)[0] for r in reversed(reqs))
        else:
            many = b"".join(data_chunk(mode, c, o, 256, False, o)
                            for c, _, o, _ in reversed(reqs))
            many += b"".join(data_chunk(mode, c, o + 256, 256, True, o)
                             for c, _, o, _ in reqs)
        yield name + "-many", bytes([knobs | BATCH_MANY]) + many
        if mode != SIMPLE:
            reqs = wire(knobs | BATCH_STATUS)
            yield name + "-status", bytes([knobs | BATCH_STATUS]) + \
                b"".join(b"".join(reply_chunks(mode, r)) for r in reqs)
    # The 64 KiB read in one piece, its header cut in pieces: the rest is
    # read straight into place.
    for mode, name in ((SIMPLE, "simple"), (EXTENDED, "extended")):
        knobs = mode | REPLY_TRICKLE | BATCH_READ
        ((cookie, _, offset, length),) = wire(knobs)
        yield name + "-read-trickle", bytes([knobs]) + (
            simple_reply(cookie, 0, pattern(offset, length))
            if mode == SIMPLE else
            data_chunk(mode, cookie, offset, length, True, offset))
    # Write zeroes answered last with ENOTSUP, then garbage: the block
    # layer falls back to a write on a broken connection, whose one
    # immediate reconnection attempt is refused; that write fails.
    reqs = wire(STRUCTURED | BATCH_ALL)
    zero = [r for r in reqs if r[1] == ZERO]
    yield "structured-zero-fallback", bytes([STRUCTURED | BATCH_ALL]) + \
        b"".join(b"".join(reply_chunks(STRUCTURED, r)) for r in reqs
                 if r[1] != ZERO) + \
        error_chunk(STRUCTURED, zero[0][0], NBD_ENOTSUP, b"", True,
                    zero[0][2]) + bytes(16)
    # Found by fuzz-nbd-reply: two chunks of one read that overlap, their
    # lengths adding up to the request's; bytes [0, 99) were never
    # written, and the read succeeded.
    knobs = STRUCTURED | REPLY_BLOCK_SIZE | BATCH_MANY
    cookie, _, offset, _ = wire(knobs)[2]
    yield "structured-many-overlap", bytes([knobs]) + \
        data_chunk(STRUCTURED, cookie, offset + 99, 256, False, offset) + \
        data_chunk(STRUCTURED, cookie, offset + 256, 256, True, offset)
    # Block status answered twice (one chunk not done, then a done one),
    # and with a simple reply: both protocol errors.
    knobs = STRUCTURED | BATCH_STATUS
    (first, second) = wire(knobs)
    status = struct.pack(">III", CONTEXT_ID, 4 * KIB, 0)
    yield "structured-status-twice", bytes([knobs]) + \
        chunk(STRUCTURED, first[0], TYPE_BLOCK_STATUS, status, False) + \
        chunk(STRUCTURED, first[0], TYPE_BLOCK_STATUS, status, True) + \
        b"".join(reply_chunks(STRUCTURED, second))
    yield "structured-status-simple", bytes([knobs]) + \
        simple_reply(second[0]) + b"".join(reply_chunks(STRUCTURED, first))
    # No metadata context: block status never reaches the server.
    knobs = EXTENDED | REPLY_BLOCK_SIZE | REPLY_NO_META | BATCH_ALL
    yield "extended-all-no-meta", bytes([knobs]) + b"".join(
        b"".join(reply_chunks(EXTENDED, r)) for r in wire(knobs))


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
    write_corpus("nbd-reply", reply_seeds())


if __name__ == "__main__":
    main()
