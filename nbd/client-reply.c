/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD client's reply reader: one simple reply, or one structured or
 * extended chunk at a time, checked against the request its cookie names
 * and applied to it (read data lands in the request's buffers).
 *
 * The reader takes its bytes from an NBDRecvBuf. Over a channel the
 * buffer refills from the socket; filled with nbd_recv_buf_init_bytes()
 * and given no channel, it is a plain byte buffer, so unit tests and
 * fuzz-nbd-reply drive the very code the nbd driver runs with crafted
 * replies and no socket. It keeps no state of its own: what a request
 * has received so far is in its NBDReplyState, and requests are found
 * through the caller's lookup function.
 *
 * The server is hostile: every length, offset, type and context id is
 * checked before it is used, and any violation ends in an Error (the
 * caller drops the connection), never in an assertion.
 *
 * Threads: none of its own. It runs in whatever coroutine (or, with no
 * channel, plain function) calls it; the caller makes sure that one
 * reader at a time uses an NBDRecvBuf and the states it looks up.
 */
#include "qemu/osdep.h"
#include "client-internal.h"
#include "qapi/error.h"
#include "nbd/trace.h"

void nbd_reply_state_cleanup(NBDReplyState *st)
{
    g_free(st->received);
    st->received = NULL;
}

/* Sets bits [@start, @end) of @map; returns whether any was set before. */
static bool nbd_bitmap_test_and_set(uint64_t *map, uint64_t start,
                                    uint64_t end)
{
    bool seen = false;

    while (start < end) {
        unsigned int bit = start % 64;
        unsigned int n = MIN(end - start, 64 - bit);
        uint64_t mask = (n == 64 ? ~0ULL : (1ULL << n) - 1) << bit;

        seen |= !!(map[start / 64] & mask);
        map[start / 64] |= mask;
        start += n;
    }
    return seen;
}

/*
 * Marks bytes [@start, +@len) of @st's read as received; false if some
 * were already. Chunks may come in any order but must not overlap: a
 * server that sends a range twice could otherwise make the count add up
 * while another range was never written, and the caller would get stale
 * memory as data. In order (the usual case) the bytes received are
 * [0, covered); the first chunk out of order brings in a bitmap of one
 * bit per byte of the request, at most NBD_MAX_BUFFER_SIZE / 8 bytes.
 */
static bool nbd_reply_mark_received(NBDReplyState *st, uint64_t start,
                                    uint64_t len)
{
    if (!st->received) {
        if (start == st->covered) {
            st->covered += len;
            return true;
        }
        st->received = g_new0(uint64_t, DIV_ROUND_UP(st->req.len, 64));
        nbd_bitmap_test_and_set(st->received, 0, st->covered);
    }
    st->covered += len;
    return !nbd_bitmap_test_and_set(st->received, start, start + len);
}

/* Reads @len bytes into @st's buffer at @offset of the request. */
static int coroutine_fn nbd_reply_read_data(NBDRecvBuf *rb, QIOChannel *ioc,
                                            NBDReplyState *st,
                                            uint64_t offset, uint64_t len,
                                            Error **errp)
{
    QEMUIOVector slice;
    int ret;

    qemu_iovec_init_slice(&slice, st->qiov, offset, len);
    ret = nbd_recv_buf_readv(rb, ioc, slice.iov, slice.niov, len, errp);
    qemu_iovec_destroy(&slice);
    return ret < 0 ? -1 : 0;
}

/* An error chunk's payload; sets st->ret. */
static int coroutine_fn nbd_reply_error_chunk(NBDRecvBuf *rb,
                                              QIOChannel *ioc,
                                              NBDReplyState *st,
                                              const NBDReply *rep,
                                              Error **errp)
{
    uint8_t hdr[6];
    uint32_t err;
    uint16_t msg_len;

    if (rep->length < sizeof(hdr) || rep->length > NBD_MAX_STRING_SIZE +
        sizeof(hdr) + 8) {
        error_setg(errp, "malformed error chunk (%" PRIu64 " bytes)",
                   rep->length);
        return -1;
    }
    if (nbd_recv_buf_read(rb, ioc, hdr, sizeof(hdr), errp) < 0) {
        return -1;
    }
    err = nbd_get32(hdr);
    msg_len = nbd_get16(hdr + 4);
    if (msg_len > rep->length - sizeof(hdr) ||
        (rep->type == NBD_REPLY_TYPE_ERROR_OFFSET &&
         rep->length - sizeof(hdr) - msg_len != 8)) {
        error_setg(errp, "malformed error chunk");
        return -1;
    }
    if (nbd_recv_buf_read(rb, ioc, NULL, rep->length - sizeof(hdr),
                          errp) < 0) {
        return -1;
    }
    if (!err) {
        error_setg(errp, "error chunk without an error value");
        return -1;
    }
    if (!st->ret) {
        st->ret = -nbd_wire_to_errno(err);
    }
    return 0;
}

static int coroutine_fn nbd_reply_block_status(NBDRecvBuf *rb,
                                               QIOChannel *ioc,
                                               const NBDReplyReader *rd,
                                               NBDReplyState *st,
                                               const NBDReply *rep,
                                               Error **errp)
{
    bool ext = rep->type == NBD_REPLY_TYPE_BLOCK_STATUS_EXT;
    size_t head = ext ? 8 : 4;
    size_t desc = ext ? 16 : 8;
    uint8_t buf[8 + 16];
    uint64_t len;
    uint64_t flags;

    if (st->req.type != NBD_CMD_BLOCK_STATUS ||
        ext != (rd->mode == NBD_MODE_EXTENDED) ||
        rep->length < head + desc || (rep->length - head) % desc ||
        rep->length > head + desc * 65536ULL) {
        error_setg(errp, "unexpected or malformed block status chunk");
        return -1;
    }
    if (nbd_recv_buf_read(rb, ioc, buf, head + desc, errp) < 0) {
        return -1;
    }
    if (nbd_get32(buf) != rd->context_id) {
        error_setg(errp, "block status for unknown context %" PRIu32,
                   nbd_get32(buf));
        return -1;
    }
    if (ext) {
        len = nbd_get64(buf + head);
        flags = nbd_get64(buf + head + 8);
    } else {
        len = nbd_get32(buf + head);
        flags = nbd_get32(buf + head + 4);
    }
    if (nbd_recv_buf_read(rb, ioc, NULL, rep->length - head - desc,
                          errp) < 0) {
        return -1;
    }
    if (st->have_extent) {
        error_setg(errp, "more than one block status chunk");
        return -1;
    }
    if (len == 0) {
        error_setg(errp, "block status extent of length 0");
        return -1;
    }
    st->have_extent = true;
    st->extent_len = MIN(len, st->req.len);
    st->extent_flags = flags;
    return 0;
}

/* OFFSET_DATA and OFFSET_HOLE chunks (the header is read). */
static int coroutine_fn nbd_reply_offset_chunk(NBDRecvBuf *rb,
                                               QIOChannel *ioc,
                                               NBDReplyState *st,
                                               const NBDReply *rep,
                                               Error **errp)
{
    uint8_t buf[12];
    uint64_t offset, len;

    if (st->req.type != NBD_CMD_READ) {
        error_setg(errp, "%s chunk for a %s request",
                   nbd_reply_type_name(rep->type),
                   nbd_cmd_name(st->req.type));
        return -1;
    }
    if (rep->type == NBD_REPLY_TYPE_OFFSET_DATA) {
        if (rep->length <= 8) {
            error_setg(errp, "data chunk without data");
            return -1;
        }
        if (nbd_recv_buf_read(rb, ioc, buf, 8, errp) < 0) {
            return -1;
        }
        len = rep->length - 8;
    } else {
        if (rep->length != 12) {
            error_setg(errp, "malformed hole chunk");
            return -1;
        }
        if (nbd_recv_buf_read(rb, ioc, buf, 12, errp) < 0) {
            return -1;
        }
        len = nbd_get32(buf + 8);
    }
    offset = nbd_get64(buf);
    if (offset < st->req.from || len == 0 ||
        len > st->req.len || offset - st->req.from > st->req.len - len) {
        error_setg(errp, "chunk [%" PRIu64 ", +%" PRIu64 ") outside "
                   "the request [%" PRIu64 ", +%" PRIu64 ")", offset,
                   len, st->req.from, st->req.len);
        return -1;
    }
    if (!nbd_reply_mark_received(st, offset - st->req.from, len)) {
        error_setg(errp, "chunk [%" PRIu64 ", +%" PRIu64 ") overlaps "
                   "one received before", offset, len);
        return -1;
    }
    if (rep->type == NBD_REPLY_TYPE_OFFSET_DATA) {
        return nbd_reply_read_data(rb, ioc, st, offset - st->req.from, len,
                                   errp);
    }
    qemu_iovec_memset(st->qiov, offset - st->req.from, 0, len);
    return 0;
}

/* One structured or extended chunk (the header is read). */
static int coroutine_fn nbd_reply_chunk(NBDRecvBuf *rb, QIOChannel *ioc,
                                        const NBDReplyReader *rd,
                                        NBDReplyState *st,
                                        const NBDReply *rep, Error **errp)
{
    if (rep->length > NBD_MAX_BUFFER_SIZE + NBD_MAX_CHUNK_EXTRA) {
        error_setg(errp, "chunk of %" PRIu64 " bytes is too large",
                   rep->length);
        return -1;
    }
    switch (rep->type) {
    case NBD_REPLY_TYPE_NONE:
        if (rep->length || !(rep->flags & NBD_REPLY_FLAG_DONE)) {
            error_setg(errp, "malformed NONE chunk");
            return -1;
        }
        return 0;
    case NBD_REPLY_TYPE_OFFSET_DATA:
    case NBD_REPLY_TYPE_OFFSET_HOLE:
        return nbd_reply_offset_chunk(rb, ioc, st, rep, errp);
    case NBD_REPLY_TYPE_BLOCK_STATUS:
    case NBD_REPLY_TYPE_BLOCK_STATUS_EXT:
        return nbd_reply_block_status(rb, ioc, rd, st, rep, errp);
    default:
        if (NBD_REPLY_TYPE_IS_ERR(rep->type)) {
            return nbd_reply_error_chunk(rb, ioc, st, rep, errp);
        }
        error_setg(errp, "unknown chunk type %u", rep->type);
        return -1;
    }
}

/* A simple reply (the header is read). */
static int coroutine_fn nbd_reply_simple(NBDRecvBuf *rb, QIOChannel *ioc,
                                         const NBDReplyReader *rd,
                                         NBDReplyState *st,
                                         const NBDReply *rep, Error **errp)
{
    if (rep->error) {
        st->ret = -nbd_wire_to_errno(rep->error);
    } else if (st->req.type == NBD_CMD_READ) {
        if (rd->mode != NBD_MODE_SIMPLE) {
            error_setg(errp, "simple reply with data to a read after "
                       "structured replies were agreed");
            return -1;
        }
        if (nbd_reply_read_data(rb, ioc, st, 0, st->req.len, errp) < 0) {
            return -1;
        }
        st->covered = st->req.len;
    } else if (st->req.type == NBD_CMD_BLOCK_STATUS) {
        error_setg(errp, "simple reply to a block status request");
        return -1;
    }
    return 0;
}

int coroutine_fn nbd_receive_reply(NBDRecvBuf *rb, QIOChannel *ioc,
                                   const NBDReplyReader *rd,
                                   NBDReplyState **pstate, Error **errp)
{
    uint8_t buf[NBD_EXTENDED_REPLY_SIZE];
    NBDReply rep;
    NBDReplyState *st;
    int size;

    *pstate = NULL;
    if (nbd_recv_buf_read(rb, ioc, buf, NBD_SIMPLE_REPLY_SIZE, errp) < 0) {
        return -1;
    }
    size = nbd_reply_header_size(nbd_get32(buf), rd->mode);
    if (size < 0) {
        error_setg(errp, "unexpected reply magic 0x%08" PRIx32,
                   nbd_get32(buf));
        return -1;
    }
    if (size > NBD_SIMPLE_REPLY_SIZE &&
        nbd_recv_buf_read(rb, ioc, buf + NBD_SIMPLE_REPLY_SIZE,
                          size - NBD_SIMPLE_REPLY_SIZE, errp) < 0) {
        return -1;
    }
    nbd_decode_reply_header(buf, &rep);
    trace_nbd_receive_reply(rd->opaque, rep.cookie, rep.magic,
                            nbd_reply_type_name(rep.type), rep.flags,
                            rep.error, rep.length);
    st = rd->lookup(rd, rep.cookie);
    if (!st) {
        error_setg(errp, "reply for unknown cookie %" PRIu64, rep.cookie);
        return -1;
    }
    *pstate = st;

    if (rep.magic == NBD_SIMPLE_REPLY_MAGIC) {
        if (nbd_reply_simple(rb, ioc, rd, st, &rep, errp) < 0) {
            return -1;
        }
    } else if (nbd_reply_chunk(rb, ioc, rd, st, &rep, errp) < 0) {
        return -1;
    }
    if (!(rep.flags & NBD_REPLY_FLAG_DONE)) {
        return 0;
    }

    if (!st->ret && st->req.type == NBD_CMD_READ &&
        st->covered != st->req.len) {
        error_setg(errp, "read reply covers %" PRIu64 " of %" PRIu64
                   " bytes", st->covered, st->req.len);
        return -1;
    }
    if (!st->ret && st->req.type == NBD_CMD_BLOCK_STATUS &&
        !st->have_extent) {
        error_setg(errp, "block status reply without an extent");
        return -1;
    }
    return 1;
}
