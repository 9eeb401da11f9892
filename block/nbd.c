/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The "nbd" protocol driver: a node whose data lives on an NBD server.
 * This file holds the driver's callbacks: open and close, and the I/O
 * callbacks that turn block requests into NBD requests (split to the
 * server's limits). The rest lives beside it:
 * - block/nbd-uri.c: file names and the table of runtime options (see
 *   nbd_option_descs[] for the options and their help);
 * - nbd/client-connection.c: connections, reconnection, request dispatch
 *   (its theory of operation says which context runs what);
 * - nbd/client-reply.c: the reply reader and its checks;
 * - nbd/client.c: the negotiation.
 *
 * File names: nbd://HOST[:PORT][/EXPORT], nbd+unix:///[EXPORT]?socket=PATH
 * and their TLS forms nbds:// and nbds+unix:// (which need tls-creds);
 * also the old nbd:HOST:PORT[:exportname=NAME] and
 * nbd:unix:PATH[:exportname=NAME].
 *
 * Contexts: open and close run in the main thread and run the session's
 * coroutines in the node's context, waiting with AIO_WAIT_WHILE(); the
 * I/O callbacks run in coroutines of any context. The session
 * (NBDClientSession, the node's opaque) is configured at open and then
 * read-only here; what changes is inside its connections.
 */
#include "qemu/osdep.h"
#include "block/block_int.h"
#include "block/nbd.h"
#include "block/nbd-uri.h"
#include "nbd/client-internal.h"
#include "crypto/tlscreds.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "qom/object.h"

#define NANOSECONDS_PER_SECOND  1000000000LL

/* Largest payload of one READ or WRITE. */
static uint64_t nbd_max_payload(NBDClientSession *s)
{
    if (s->info.has_block_sizes && s->info.max_block < NBD_MAX_BUFFER_SIZE) {
        return s->info.max_block;
    }
    return NBD_MAX_BUFFER_SIZE;
}

/* Splits requests longer than the server takes at once. */
static int coroutine_fn nbd_co_request_split(NBDClientSession *s,
                                             uint16_t type,
                                             uint16_t flags, int64_t offset,
                                             int64_t bytes,
                                             QEMUIOVector *qiov)
{
    uint64_t max = nbd_max_payload(s);
    int64_t done = 0;

    while (done < bytes) {
        uint64_t len = MIN((uint64_t)(bytes - done), max);
        NBDRequest req = {
            .type = type, .flags = flags, .from = offset + done, .len = len,
        };
        QEMUIOVector slice;
        int ret;

        if (len == (uint64_t)bytes) {
            ret = nbd_co_send_request(s, &req,
                                      type == NBD_CMD_READ ? qiov : NULL,
                                      type == NBD_CMD_WRITE ? qiov : NULL,
                                      NULL);
        } else {
            qemu_iovec_init_slice(&slice, qiov, done, len);
            ret = nbd_co_send_request(s, &req,
                                      type == NBD_CMD_READ ? &slice : NULL,
                                      type == NBD_CMD_WRITE ? &slice : NULL,
                                      NULL);
            qemu_iovec_destroy(&slice);
        }
        if (ret < 0) {
            return ret;
        }
        done += len;
    }
    return 0;
}

static int coroutine_fn nbd_co_preadv(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, QEMUIOVector *qiov,
                                      BdrvRequestFlags flags)
{
    NBDClientSession *s = bs->opaque;

    if (flags & BDRV_REQ_PREFETCH) {
        NBDRequest req = {
            .type = NBD_CMD_CACHE, .from = offset, .len = bytes,
        };

        if (!(s->info.flags & NBD_FLAG_SEND_CACHE)) {
            return 0;
        }
        return nbd_co_send_request(s, &req, NULL, NULL, NULL);
    }
    return nbd_co_request_split(s, NBD_CMD_READ, 0, offset, bytes, qiov);
}

static int coroutine_fn nbd_co_pwritev(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       BdrvRequestFlags flags)
{
    NBDClientSession *s = bs->opaque;
    uint16_t nflags = (flags & BDRV_REQ_FUA) ? NBD_CMD_FLAG_FUA : 0;

    return nbd_co_request_split(s, NBD_CMD_WRITE, nflags, offset, bytes,
                                qiov);
}

/* Largest effect length of a request without payload. */
static uint64_t nbd_max_effect_len(NBDClientSession *s)
{
    uint32_t align = s->info.has_block_sizes ? s->info.min_block : 1;

    if (s->info.mode == NBD_MODE_EXTENDED) {
        return QEMU_ALIGN_DOWN((uint64_t)INT64_MAX, align);
    }
    return QEMU_ALIGN_DOWN((uint64_t)UINT32_MAX, align);
}

static int coroutine_fn nbd_co_range_cmd(NBDClientSession *s,
                                         uint16_t type,
                                         uint16_t flags, int64_t offset,
                                         int64_t bytes)
{
    uint64_t max = nbd_max_effect_len(s);

    while (bytes > 0) {
        NBDRequest req = {
            .type = type, .flags = flags, .from = offset,
            .len = MIN((uint64_t)bytes, max),
        };
        int ret = nbd_co_send_request(s, &req, NULL, NULL, NULL);

        if (ret < 0) {
            return ret;
        }
        offset += req.len;
        bytes -= req.len;
    }
    return 0;
}

static int coroutine_fn nbd_co_pwrite_zeroes(BlockDriverState *bs,
                                             int64_t offset, int64_t bytes,
                                             BdrvRequestFlags flags)
{
    NBDClientSession *s = bs->opaque;
    uint16_t nflags = 0;

    if (!(s->info.flags & NBD_FLAG_SEND_WRITE_ZEROES)) {
        return -ENOTSUP;
    }
    if (flags & BDRV_REQ_FUA) {
        nflags |= NBD_CMD_FLAG_FUA;
    }
    if (!(flags & BDRV_REQ_MAY_UNMAP)) {
        nflags |= NBD_CMD_FLAG_NO_HOLE;
    }
    if (flags & BDRV_REQ_NO_FALLBACK) {
        if (!(s->info.flags & NBD_FLAG_SEND_FAST_ZERO)) {
            return -ENOTSUP;
        }
        nflags |= NBD_CMD_FLAG_FAST_ZERO;
    }
    return nbd_co_range_cmd(s, NBD_CMD_WRITE_ZEROES, nflags, offset, bytes);
}

static int coroutine_fn nbd_co_pdiscard(BlockDriverState *bs, int64_t offset,
                                        int64_t bytes)
{
    NBDClientSession *s = bs->opaque;

    if (!(s->info.flags & NBD_FLAG_SEND_TRIM)) {
        return 0;
    }
    return nbd_co_range_cmd(s, NBD_CMD_TRIM, 0, offset, bytes);
}

static int coroutine_fn nbd_co_flush(BlockDriverState *bs)
{
    NBDClientSession *s = bs->opaque;
    NBDRequest req = { .type = NBD_CMD_FLUSH };

    if (!(s->info.flags & NBD_FLAG_SEND_FLUSH)) {
        return 0;
    }
    return nbd_co_send_request(s, &req, NULL, NULL, NULL);
}

static int coroutine_fn nbd_co_block_status(BlockDriverState *bs,
                                            bool want_zero, int64_t offset,
                                            int64_t bytes, int64_t *pnum,
                                            int64_t *map,
                                            BlockDriverState **file)
{
    NBDClientSession *s = bs->opaque;
    NBDRequest req = {
        .type = NBD_CMD_BLOCK_STATUS,
        .flags = NBD_CMD_FLAG_REQ_ONE,
        .from = offset,
        .len = MIN((uint64_t)bytes, nbd_max_effect_len(s)),
    };
    NBDResult res = { 0 };
    uint32_t align = s->info.has_block_sizes ? s->info.min_block : 1;
    int ret;

    *map = offset;
    *file = bs;
    if (!s->info.base_allocation) {
        /* The server has no base:allocation: all data, as far as we know */
        *pnum = bytes;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }
    ret = nbd_co_send_request(s, &req, NULL, NULL, &res);
    if (ret < 0) {
        return ret;
    }
    *pnum = res.extent_len;
    if (*pnum >= align) {
        *pnum = QEMU_ALIGN_DOWN(*pnum, align);
    }
    return (res.extent_flags & NBD_STATE_HOLE ? 0 : BDRV_BLOCK_DATA) |
           (res.extent_flags & NBD_STATE_ZERO ? BDRV_BLOCK_ZERO : 0) |
           BDRV_BLOCK_OFFSET_VALID;
}

static int64_t nbd_getlength(BlockDriverState *bs)
{
    NBDClientSession *s = bs->opaque;

    return s->info.size;
}

static void nbd_refresh_limits(BlockDriverState *bs, Error **errp)
{
    NBDClientSession *s = bs->opaque;
    uint32_t min = s->info.has_block_sizes ? s->info.min_block : 1;
    uint64_t max = nbd_max_payload(s);

    bs->bl.request_alignment = min;
    bs->bl.max_transfer = QEMU_ALIGN_DOWN(max, min);
    bs->bl.max_pwrite_zeroes = QEMU_ALIGN_DOWN(MIN(nbd_max_effect_len(s),
                                                   1ULL << 31), min);
    bs->bl.pdiscard_alignment = min;
    bs->bl.opt_mem_alignment = 1;
    bs->bl.min_mem_alignment = 1;
}

/* Open and close */

typedef struct NBDOpenJob {
    NBDClientSession *s;
    unsigned int want_conns;
    int ret;
    bool done;
    Error *err;
} NBDOpenJob;

static void coroutine_fn nbd_open_entry(void *opaque)
{
    NBDOpenJob *job = opaque;

    job->ret = nbd_session_connect(job->s, job->want_conns, &job->err);
    qatomic_store_release(&job->done, true);
    aio_wait_kick();
}

/* Frees what the session's configuration holds. */
static void nbd_session_clear(NBDClientSession *s)
{
    nbd_export_info_clear(&s->info);
    qapi_free_SocketAddress(s->addr);
    s->addr = NULL;
    if (s->tls_creds) {
        object_unref(OBJECT(s->tls_creds));
        s->tls_creds = NULL;
    }
    g_free(s->export);
    s->export = NULL;
    g_free(s->tls_hostname);
    s->tls_hostname = NULL;
}

static int nbd_open(BlockDriverState *bs, const KeyVal *options, int flags,
                    Error **errp)
{
    NBDClientSession *s = bs->opaque;
    NBDDriverOptions opts;
    const char *hostname;
    NBDOpenJob job = { .s = s };

    s->bs = bs;
    if (!nbd_options_parse(options, &opts, errp)) {
        return -EINVAL;
    }
    s->addr = nbd_options_address(&opts, errp);
    if (!s->addr) {
        return -EINVAL;
    }
    hostname = opts.tls_hostname;
    if (opts.tls_creds) {
        s->tls_creds = qcrypto_tls_creds_find(opts.tls_creds,
                                              QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                              errp);
        if (!s->tls_creds) {
            goto fail;
        }
        object_ref(OBJECT(s->tls_creds));
        if (!hostname && s->addr->type == SOCKET_ADDRESS_TYPE_INET) {
            hostname = s->addr->u.inet.host;
        }
    }
    s->export = g_strdup(opts.export ? opts.export : "");
    s->tls_hostname = g_strdup(hostname);
    s->reconnect_delay_ns = opts.reconnect_delay * NANOSECONDS_PER_SECOND;
    s->open_timeout_ns = opts.open_timeout * NANOSECONDS_PER_SECOND;
    job.want_conns = opts.multi_conn;

    aio_co_enter(bdrv_get_aio_context(bs),
                 qemu_coroutine_create(nbd_open_entry, &job));
    AIO_WAIT_WHILE(bdrv_get_aio_context(bs),
                   !qatomic_load_acquire(&job.done));
    if (job.ret < 0) {
        error_propagate(errp, job.err);
        goto fail;
    }

    if ((s->info.flags & NBD_FLAG_READ_ONLY) && (flags & BDRV_O_RDWR)) {
        error_setg(errp, "the NBD export '%s' is read-only (open it "
                   "read-only)", s->export);
        goto fail;
    }
    bs->supported_write_flags =
        (s->info.flags & NBD_FLAG_SEND_FUA) ? BDRV_REQ_FUA : 0;
    bs->supported_zero_flags = BDRV_REQ_MAY_UNMAP |
        ((s->info.flags & NBD_FLAG_SEND_FUA) ? BDRV_REQ_FUA : 0) |
        ((s->info.flags & NBD_FLAG_SEND_FAST_ZERO) ?
         BDRV_REQ_NO_FALLBACK : 0);

    if (s->addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
        bs->filename = g_strdup_printf("nbd%s+unix:///%s?socket=%s",
                                       s->tls_creds ? "s" : "", s->export,
                                       s->addr->u.q_unix.path);
    } else {
        bool v6 = strchr(s->addr->u.inet.host, ':');

        bs->filename = g_strdup_printf("nbd%s://%s%s%s:%s/%s",
                                       s->tls_creds ? "s" : "",
                                       v6 ? "[" : "", s->addr->u.inet.host,
                                       v6 ? "]" : "", s->addr->u.inet.port,
                                       s->export);
    }
    return 0;

fail:
    nbd_session_close(s);
    nbd_session_clear(s);
    return -EINVAL;
}

/* Tells the server we are going (NBD_CMD_DISC), best effort. */
static void coroutine_fn nbd_disconnect_entry(void *opaque)
{
    NBDOpenJob *job = opaque;

    nbd_session_disconnect(job->s);
    qatomic_store_release(&job->done, true);
    aio_wait_kick();
}

static void nbd_close(BlockDriverState *bs)
{
    NBDClientSession *s = bs->opaque;
    NBDOpenJob job = { .s = s };

    aio_co_enter(bdrv_get_aio_context(bs),
                 qemu_coroutine_create(nbd_disconnect_entry, &job));
    AIO_WAIT_WHILE(bdrv_get_aio_context(bs),
                   !qatomic_load_acquire(&job.done));
    nbd_session_close(s);
    nbd_session_clear(s);
}

const BlockDriver bdrv_nbd = {
    .format_name = "nbd",
    .protocol_name = "nbd",
    .protocol_aliases = (const char *const[]) {
        "nbd+unix", "nbds", "nbds+unix", "nbd+tcp", "nbds+tcp", NULL,
    },
    .instance_size = sizeof(NBDClientSession),
    .bdrv_parse_filename = nbd_parse_filename,
    .bdrv_open = nbd_open,
    .bdrv_close = nbd_close,
    .bdrv_refresh_limits = nbd_refresh_limits,
    .bdrv_getlength = nbd_getlength,
    .bdrv_co_preadv = nbd_co_preadv,
    .bdrv_co_pwritev = nbd_co_pwritev,
    .bdrv_co_pwrite_zeroes = nbd_co_pwrite_zeroes,
    .bdrv_co_pdiscard = nbd_co_pdiscard,
    .bdrv_co_flush = nbd_co_flush,
    .bdrv_co_block_status = nbd_co_block_status,
};
