/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NBD helpers shared by client and server: the errno <-> wire error
 * mapping (one function each way) and the names of protocol values for
 * messages. No state; any thread.
 */
#include "qemu/osdep.h"
#include "block/nbd.h"
#include "qapi/error.h"
#include "qemu/iov.h"

uint32_t nbd_errno_to_wire(int err)
{
    if (err < 0) {
        err = -err;
    }
    switch (err) {
    case 0:
        return NBD_SUCCESS;
    case EPERM:
    case EROFS:
    case EACCES:
        return NBD_EPERM;
    case EIO:
        return NBD_EIO;
    case ENOMEM:
        return NBD_ENOMEM;
#ifdef EDQUOT
    case EDQUOT:
#endif
    case EFBIG:
    case ENOSPC:
        return NBD_ENOSPC;
    case EOVERFLOW:
        return NBD_EOVERFLOW;
    case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP:
#endif
        return NBD_ENOTSUP;
    case ESHUTDOWN:
        return NBD_ESHUTDOWN;
    case EINVAL:
    default:
        return NBD_EINVAL;
    }
}

int nbd_wire_to_errno(uint32_t wire)
{
    switch (wire) {
    case NBD_SUCCESS:
        return 0;
    case NBD_EPERM:
        return EPERM;
    case NBD_EIO:
        return EIO;
    case NBD_ENOMEM:
        return ENOMEM;
    case NBD_ENOSPC:
        return ENOSPC;
    case NBD_EOVERFLOW:
        return EOVERFLOW;
    case NBD_ENOTSUP:
        return ENOTSUP;
    case NBD_ESHUTDOWN:
        return ESHUTDOWN;
    case NBD_EINVAL:
    default:
        return EINVAL;
    }
}

typedef struct NBDName {
    uint32_t value;
    const char *name;
} NBDName;

static const char *nbd_lookup(const NBDName *table, size_t n, uint32_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (table[i].value == v) {
            return table[i].name;
        }
    }
    return "<unknown>";
}

static const NBDName opt_names[] = {
    { NBD_OPT_EXPORT_NAME, "export name" },
    { NBD_OPT_ABORT, "abort" },
    { NBD_OPT_LIST, "list" },
    { NBD_OPT_PEEK_EXPORT, "peek export" },
    { NBD_OPT_STARTTLS, "starttls" },
    { NBD_OPT_INFO, "info" },
    { NBD_OPT_GO, "go" },
    { NBD_OPT_STRUCTURED_REPLY, "structured reply" },
    { NBD_OPT_LIST_META_CONTEXT, "list meta context" },
    { NBD_OPT_SET_META_CONTEXT, "set meta context" },
    { NBD_OPT_EXTENDED_HEADERS, "extended headers" },
};

const char *nbd_opt_name(uint32_t opt)
{
    return nbd_lookup(opt_names, ARRAY_SIZE(opt_names), opt);
}

static const NBDName rep_names[] = {
    { NBD_REP_ACK, "ack" },
    { NBD_REP_SERVER, "server" },
    { NBD_REP_INFO, "info" },
    { NBD_REP_META_CONTEXT, "meta context" },
    { NBD_REP_ERR_UNSUP, "unsupported" },
    { NBD_REP_ERR_POLICY, "denied by policy" },
    { NBD_REP_ERR_INVALID, "invalid" },
    { NBD_REP_ERR_PLATFORM, "platform lacks support" },
    { NBD_REP_ERR_TLS_REQD, "TLS required" },
    { NBD_REP_ERR_UNKNOWN, "export unknown" },
    { NBD_REP_ERR_SHUTDOWN, "server shutting down" },
    { NBD_REP_ERR_BLOCK_SIZE_REQD, "block size required" },
    { NBD_REP_ERR_TOO_BIG, "option too big" },
    { NBD_REP_ERR_EXT_HEADER_REQD, "extended headers required" },
};

const char *nbd_rep_name(uint32_t rep)
{
    return nbd_lookup(rep_names, ARRAY_SIZE(rep_names), rep);
}

static const NBDName info_names[] = {
    { NBD_INFO_EXPORT, "export" },
    { NBD_INFO_NAME, "name" },
    { NBD_INFO_DESCRIPTION, "description" },
    { NBD_INFO_BLOCK_SIZE, "block size" },
};

const char *nbd_info_name(uint16_t info)
{
    return nbd_lookup(info_names, ARRAY_SIZE(info_names), info);
}

static const NBDName cmd_names[] = {
    { NBD_CMD_READ, "read" },
    { NBD_CMD_WRITE, "write" },
    { NBD_CMD_DISC, "disconnect" },
    { NBD_CMD_FLUSH, "flush" },
    { NBD_CMD_TRIM, "trim" },
    { NBD_CMD_CACHE, "cache" },
    { NBD_CMD_WRITE_ZEROES, "write zeroes" },
    { NBD_CMD_BLOCK_STATUS, "block status" },
    { NBD_CMD_RESIZE, "resize" },
};

const char *nbd_cmd_name(uint16_t cmd)
{
    return nbd_lookup(cmd_names, ARRAY_SIZE(cmd_names), cmd);
}

static const NBDName reply_type_names[] = {
    { NBD_REPLY_TYPE_NONE, "none" },
    { NBD_REPLY_TYPE_OFFSET_DATA, "data" },
    { NBD_REPLY_TYPE_OFFSET_HOLE, "hole" },
    { NBD_REPLY_TYPE_BLOCK_STATUS, "block status" },
    { NBD_REPLY_TYPE_BLOCK_STATUS_EXT, "extended block status" },
    { NBD_REPLY_TYPE_ERROR, "generic error" },
    { NBD_REPLY_TYPE_ERROR_OFFSET, "error at offset" },
};

const char *nbd_reply_type_name(uint16_t type)
{
    return nbd_lookup(reply_type_names, ARRAY_SIZE(reply_type_names), type);
}

static const NBDName err_names[] = {
    { NBD_SUCCESS, "success" },
    { NBD_EPERM, "EPERM" },
    { NBD_EIO, "EIO" },
    { NBD_ENOMEM, "ENOMEM" },
    { NBD_EINVAL, "EINVAL" },
    { NBD_ENOSPC, "ENOSPC" },
    { NBD_EOVERFLOW, "EOVERFLOW" },
    { NBD_ENOTSUP, "ENOTSUP" },
    { NBD_ESHUTDOWN, "ESHUTDOWN" },
};

const char *nbd_err_name(uint32_t err)
{
    return nbd_lookup(err_names, ARRAY_SIZE(err_names), err);
}

char *nbd_flags_to_string(uint16_t flags)
{
    static const char *const bit_names[NBD_FLAG_BITS] = {
        [1] = "readonly",
        [2] = "flush",
        [3] = "fua",
        [4] = "rotational",
        [5] = "trim",
        [6] = "zeroes",
        [7] = "df",
        [8] = "multi",
        [9] = "resize",
        [10] = "cache",
        [11] = "fast-zero",
        [12] = "block-status-payload",
    };
    GString *s = g_string_new("");

    for (int bit = 0; bit < NBD_FLAG_BITS; bit++) {
        if (bit_names[bit] && (flags & (1 << bit))) {
            g_string_append_printf(s, " %s", bit_names[bit]);
        }
    }
    return g_string_free(s, false);
}

/* Receive buffer */

void nbd_recv_buf_destroy(NBDRecvBuf *rb)
{
    g_free(rb->buf);
    *rb = (NBDRecvBuf) { 0 };
}

void nbd_recv_buf_init_bytes(NBDRecvBuf *rb, const void *data, size_t len)
{
    rb->buf = g_malloc(MAX(len, NBD_RECV_BUF_SIZE));
    memcpy(rb->buf, data, len);
    rb->pos = 0;
    rb->len = len;
}

size_t nbd_recv_buf_avail(const NBDRecvBuf *rb)
{
    return rb->len - rb->pos;
}

size_t nbd_recv_buf_take(NBDRecvBuf *rb, void *dst, size_t len)
{
    size_t n = MIN(len, nbd_recv_buf_avail(rb));

    if (dst) {
        memcpy(dst, rb->buf + rb->pos, n);
    }
    rb->pos += n;
    if (rb->pos == rb->len) {
        rb->pos = rb->len = 0;
    }
    return n;
}

ssize_t coroutine_fn nbd_recv_buf_fill(NBDRecvBuf *rb, QIOChannel *ioc,
                                       Error **errp)
{
    struct iovec iov;
    ssize_t n;

    if (!ioc) {
        /* A byte buffer: its end is the end of the stream. */
        return 0;
    }
    if (!rb->buf) {
        rb->buf = g_malloc(NBD_RECV_BUF_SIZE);
    }
    if (rb->pos) {
        memmove(rb->buf, rb->buf + rb->pos, nbd_recv_buf_avail(rb));
        rb->len -= rb->pos;
        rb->pos = 0;
    }
    iov = (struct iovec) {
        .iov_base = rb->buf + rb->len,
        .iov_len = NBD_RECV_BUF_SIZE - rb->len,
    };
    /* Where the backend can, waiting and reading are one step. */
    n = qio_channel_co_readv(ioc, &iov, 1, errp);
    if (n > 0) {
        rb->len += n;
    }
    return n;
}

int coroutine_fn nbd_recv_buf_readv(NBDRecvBuf *rb, QIOChannel *ioc,
                                    const struct iovec *iov, size_t niov,
                                    uint64_t len, Error **errp)
{
    uint64_t done = 0;

    for (;;) {
        size_t n = MIN(len - done, nbd_recv_buf_avail(rb));
        ssize_t got;

        if (n && iov) {
            iov_from_buf(iov, niov, done, rb->buf + rb->pos, n);
        }
        nbd_recv_buf_take(rb, NULL, n);
        done += n;
        if (done == len) {
            return 0;
        }
        if (ioc && iov && len - done >= NBD_RECV_BUF_SIZE / 2) {
            /* A big rest: straight to its place. */
            QEMUIOVector all, rest;
            int ret;

            qemu_iovec_init_external(&all, (struct iovec *)iov, niov);
            qemu_iovec_init_slice(&rest, &all, done, len - done);
            ret = qio_channel_readv_all(ioc, rest.iov, rest.niov, errp);
            qemu_iovec_destroy(&rest);
            return ret < 0 ? -1 : 0;
        }
        got = nbd_recv_buf_fill(rb, ioc, errp);
        if (got == 0) {
            error_setg(errp, "Unexpected end-of-file before all data were "
                       "read");
            return -1;
        }
        if (got < 0 && got != QIO_CHANNEL_ERR_BLOCK) {
            return -1;
        }
    }
}

int coroutine_fn nbd_recv_buf_read(NBDRecvBuf *rb, QIOChannel *ioc,
                                   void *dst, uint64_t len, Error **errp)
{
    struct iovec iov = { .iov_base = dst, .iov_len = len };

    return nbd_recv_buf_readv(rb, ioc, dst ? &iov : NULL, 1, len, errp);
}
