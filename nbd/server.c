/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NBD server: exports, client lifetime, drain and AioContext moves, and
 * the transmission phase (receiving requests, serving them, replying).
 * Negotiation lives in server-negotiate.c, listening and limits in
 * server-listen.c.
 *
 * Theory of operation
 *
 * Contexts. The main thread accepts connections, runs each client's
 * negotiation coroutine in the main AioContext (with the channel set to
 * follow the coroutine's context), and owns every list: the server's
 * exports and connections, each export's clients in transmission. Once a
 * client picked an export, its coroutines run in the client's AioContext
 * (client->ctx): the export's (the BlockBackend's) context, or, for
 * exports made with spread_clients, one of the server's client contexts
 * chosen round-robin (qemu-nbd --iothreads). In the latter case a
 * request coroutine calls blk_co_*() from another context than the
 * node's, which the block layer supports (drivers fall back to the
 * calling context's thread pool; requests are counted atomically, so a
 * drain from the main thread still waits for them).
 *
 * Per client, in client->ctx:
 * - one receive coroutine reads a request header and its payload, counts
 *   the request (nb_requests, under client->lock, *before* the request
 *   coroutine exists, so that a drain never returns while a request is
 *   about to start), and enters a new request coroutine. It
 *   waits (recv_waiting) while NBD_MAX_REQUESTS_IN_FLIGHT requests run.
 * - request coroutines do the I/O and send their replies under
 *   send_lock, a CoMutex, so replies never interleave.
 *
 * Drain (BlockDevOps of the export's BlockBackend, main thread):
 * - drained_begin marks every client quiescing and, through a bottom half
 *   in the client's own context, calls qio_channel_wake_read(): run there
 *   the wake cannot fall between the reader's check of the flag and its
 *   wait in qio_channel_co_readv(), the lost wake-up of a yield that is
 *   just starting). A reader woken before the
 *   first byte of a header sees the flag and the receive coroutine ends; a
 *   reader in the middle of a request finishes reading it first.
 * - drained_poll is busy while a receive coroutine exists or requests are
 *   counted.
 * - the attach notifier (node drained, no coroutine of the export's
 *   clients alive) points client->ctx of following clients at the new
 *   context; drained_end starts a new receive coroutine there. Nothing is
 *   attached to or detached from the channel: it belongs to no context.
 * Both the drain and the coroutines read the shared fields under
 * client->lock, never touching them from two threads unlocked.
 *
 * Lifetime. A client is reference counted: one reference for the open
 * connection (dropped by nbd_client_close(), which may run in any thread
 * and shuts the socket down so that every waiting coroutine wakes up),
 * one for the negotiation coroutine, one for the receive coroutine and
 * one per request. The last one schedules the final cleanup in the main
 * thread, which takes the client off the lists, so the lists only ever
 * hold live clients and a closing client still counts for drains until
 * its last request is over.
 */
#include "qemu/osdep.h"
#include "server-internal.h"
#include "qemu/main-loop.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "nbd/trace.h"

/* Largest write payload we read and throw away to stay in sync. */
#define NBD_MAX_DISCARDED_PAYLOAD   (2 * NBD_MAX_BUFFER_SIZE)
/* Most extents in one block status chunk. */
#define NBD_MAX_BLOCK_STATUS_EXTENTS 16384
/* Largest piece of a TRIM or WRITE_ZEROES handed to the block layer. */
#define NBD_MAX_ZERO_CHUNK          (1ULL << 30)

/* Handler results besides errno values: the handler sent the reply... */
#define NBD_REPLIED 1
/* ... or tried to, and the channel broke. */
#define NBD_SEND_FAILED 2

typedef struct NBDRequestData {
    NBDClient *client;
    NBDRequest req;
    int err;                    /* from the checks, or 0 */
    const char *msg;            /* for err */
    void *buf;                  /* WRITE payload (nbd_buf_put) */
    size_t buf_len;
    bool close_after;           /* the stream cannot go on after this */
} NBDRequestData;

/*
 * Payload buffers. glibc serves every aligned allocation of 128 KiB or more
 * with a fresh mmap (posix_memalign's padding keeps its dynamic threshold
 * from ever catching up), so each 1 MiB read cost an mmap, 256 page faults
 * and a munmap: a third of the server's time. Buffers that size are
 * rounded up to a power of two and kept per client for the next request.
 */
#define NBD_BUF_CACHE_MIN   (128 * 1024)

static size_t nbd_buf_class(size_t len)
{
    size_t size = NBD_BUF_CACHE_MIN;

    while (size < len) {
        size <<= 1;
    }
    return size;
}

static void *nbd_buf_get(NBDClient *client, size_t len)
{
    BlockDriverState *bs = blk_bs(client->exp->blk);
    size_t align = bdrv_opt_mem_align(bs);
    size_t size;
    unsigned int i;

    if (len < NBD_BUF_CACHE_MIN) {
        return qemu_try_blockalign(bs, len);
    }
    size = nbd_buf_class(len);
    for (i = 0; i < client->buf_cache_count; i++) {
        void *buf = client->buf_cache[i];

        if (client->buf_cache_size[i] == size &&
            QEMU_IS_ALIGNED((uintptr_t)buf, align)) {
            client->buf_cache_count--;
            client->buf_cache[i] = client->buf_cache[client->buf_cache_count];
            client->buf_cache_size[i] =
                client->buf_cache_size[client->buf_cache_count];
            return buf;
        }
    }
    return qemu_try_blockalign(bs, size);
}

/* Gives back what nbd_buf_get(@client, @len) returned (or NULL). */
static void nbd_buf_put(NBDClient *client, void *buf, size_t len)
{
    size_t size = nbd_buf_class(len);
    size_t kept = 0;

    if (!buf) {
        return;
    }
    for (unsigned int i = 0; i < client->buf_cache_count; i++) {
        kept += client->buf_cache_size[i];
    }
    if (len < NBD_BUF_CACHE_MIN ||
        client->buf_cache_count == NBD_BUF_CACHE_SLOTS ||
        kept + size > NBD_BUF_CACHE_BYTES) {
        qemu_vfree(buf);
        return;
    }
    client->buf_cache[client->buf_cache_count] = buf;
    client->buf_cache_size[client->buf_cache_count] = size;
    client->buf_cache_count++;
}

/* Client lifetime */

void nbd_client_get(NBDClient *client)
{
    qatomic_inc(&client->refcount);
}

/*
 * Takes a reference unless the last one is gone already (the client then
 * waits in the lists for its final bottom half). For the main thread's
 * walks over the lists.
 */
static bool nbd_client_tryget(NBDClient *client)
{
    int old = qatomic_read(&client->refcount);

    while (old > 0) {
        int seen = qatomic_cmpxchg(&client->refcount, old, old + 1);

        if (seen == old) {
            return true;
        }
        old = seen;
    }
    return false;
}

static void nbd_client_free_bh(void *opaque)
{
    NBDClient *client = opaque;
    NBDServer *server = client->server;
    bool negotiated = client->exp != NULL;

    trace_nbd_client_free(client);
    if (client->handshake_timer) {
        timer_free(client->handshake_timer);
    }
    if (client->exp) {
        QLIST_REMOVE(client, export_next);
        nbd_export_unref(client->exp);
    }
    QLIST_REMOVE(client, server_next);
    qio_channel_close(QIO_CHANNEL(client->sioc), NULL);
    object_unref(OBJECT(client->ioc));
    object_unref(OBJECT(client->sioc));
    nbd_recv_buf_destroy(&client->rb);
    while (client->buf_cache_count) {
        qemu_vfree(client->buf_cache[--client->buf_cache_count]);
    }
    qemu_co_mutex_destroy(&client->send_lock);
    qemu_mutex_destroy(&client->lock);
    g_free(client->peer);
    g_free(client);
    nbd_server_client_gone(server, negotiated);
}

void nbd_client_put(NBDClient *client)
{
    if (qatomic_fetch_dec(&client->refcount) == 1) {
        aio_bh_schedule_oneshot(qemu_get_aio_context(), nbd_client_free_bh,
                                client);
    }
}

void nbd_client_close(NBDClient *client)
{
    if (qatomic_xchg(&client->closing, true)) {
        return;
    }
    trace_nbd_client_close(client, client->peer);
    /* Wakes every coroutine waiting on the socket, in any context. */
    qio_channel_shutdown(QIO_CHANNEL(client->sioc),
                         QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    nbd_client_put(client);
}

static void nbd_noop_bh(void *opaque)
{
}

/*
 * Tells a drain waiting for this client that something changed. A drain
 * from the main thread of a node in another context relies on
 * aio_wait_kick(); a drain in the node's own thread polls the node's
 * context and only wakes for that context's events, so a client that
 * runs elsewhere (spread_clients) also pokes it with a bottom half.
 */
static void nbd_client_kick_drain(NBDClient *client)
{
    aio_wait_kick();
    if (client->exp && !client->follow_export) {
        aio_bh_schedule_oneshot(qatomic_read(&client->exp->ctx),
                                nbd_noop_bh, NULL);
    }
}

static void coroutine_fn nbd_recv_co(void *opaque);

static void nbd_client_start_recv(NBDClient *client)
{
    Coroutine *co = NULL;

    qemu_mutex_lock(&client->lock);
    if (!client->recv_co && !client->quiescing &&
        !qatomic_read(&client->closing)) {
        co = qemu_coroutine_create(nbd_recv_co, client);
        client->recv_co = co;
        nbd_client_get(client);
    }
    qemu_mutex_unlock(&client->lock);
    if (co) {
        aio_co_schedule(qatomic_read(&client->ctx), co);
    }
}

void nbd_client_start_transmission(NBDClient *client, NBDExport *exp)
{
    NBDServer *server = client->server;
    AioContext *ctx;

    client->exp = exp;
    nbd_export_ref(exp);
    QLIST_INSERT_HEAD(&exp->clients, client, export_next);
    if (exp->spread_clients && server->n_client_ctxs) {
        ctx = server->client_ctxs[server->next_client_ctx++ %
                                  server->n_client_ctxs];
        client->follow_export = false;
    } else {
        ctx = qatomic_read(&exp->ctx);
        client->follow_export = true;
    }
    qatomic_set(&client->ctx, ctx);
    trace_nbd_client_start_transmission(client, exp->name, ctx);
    qemu_mutex_lock(&client->lock);
    client->quiescing = exp->quiesced;
    qemu_mutex_unlock(&client->lock);
    nbd_client_start_recv(client);
}

/* Exports */

void nbd_export_ref(NBDExport *exp)
{
    exp->refcount++;
}

static void nbd_export_attached(AioContext *ctx, void *opaque);
static void nbd_export_detach(void *opaque);

void nbd_export_unref(NBDExport *exp)
{
    assert(exp->refcount > 0);
    if (--exp->refcount > 0) {
        return;
    }
    assert(QLIST_EMPTY(&exp->clients));
    blk_remove_aio_context_notifier(exp->blk, nbd_export_attached,
                                    nbd_export_detach, exp);
    blk_set_dev_ops(exp->blk, NULL, NULL);
    blk_unref(exp->blk);
    g_free(exp->name);
    g_free(exp->description);
    g_free(exp);
}

static void nbd_client_wake_read_bh(void *opaque)
{
    NBDClient *client = opaque;

    qio_channel_wake_read(client->ioc);
    nbd_client_put(client);
}

static void nbd_export_drained_begin(void *opaque)
{
    NBDExport *exp = opaque;
    NBDClient *client;

    exp->quiesced = true;
    QLIST_FOREACH(client, &exp->clients, export_next) {
        qemu_mutex_lock(&client->lock);
        client->quiescing = true;
        qemu_mutex_unlock(&client->lock);
        /* Run in the reader's context, the wake cannot be lost. */
        if (nbd_client_tryget(client)) {
            aio_bh_schedule_oneshot(qatomic_read(&client->ctx),
                                    nbd_client_wake_read_bh, client);
        }
    }
}

static bool nbd_export_drained_poll(void *opaque)
{
    NBDExport *exp = opaque;
    NBDClient *client;
    bool busy = false;

    QLIST_FOREACH(client, &exp->clients, export_next) {
        qemu_mutex_lock(&client->lock);
        busy = client->recv_co || client->nb_requests;
        qemu_mutex_unlock(&client->lock);
        if (busy) {
            break;
        }
    }
    return busy;
}

static void nbd_export_drained_end(void *opaque)
{
    NBDExport *exp = opaque;
    NBDClient *client;

    exp->quiesced = false;
    QLIST_FOREACH(client, &exp->clients, export_next) {
        qemu_mutex_lock(&client->lock);
        client->quiescing = false;
        qemu_mutex_unlock(&client->lock);
        nbd_client_start_recv(client);
    }
}

static void nbd_export_resize(void *opaque)
{
    NBDExport *exp = opaque;
    int64_t len = blk_getlength(exp->blk);

    if (len >= 0) {
        qatomic_set(&exp->size, len);
    }
}

static const BlockDevOps nbd_export_dev_ops = {
    .drained_begin = nbd_export_drained_begin,
    .drained_end = nbd_export_drained_end,
    .drained_poll = nbd_export_drained_poll,
    .resize_cb = nbd_export_resize,
};

static void nbd_export_attached(AioContext *ctx, void *opaque)
{
    NBDExport *exp = opaque;
    NBDClient *client;

    qatomic_set(&exp->ctx, ctx);
    QLIST_FOREACH(client, &exp->clients, export_next) {
        if (client->follow_export) {
            qatomic_set(&client->ctx, ctx);
        }
    }
}

static void nbd_export_detach(void *opaque)
{
    NBDExport *exp = opaque;
    NBDClient *client;

    /* Drained: no coroutine of our clients may be alive now. */
    QLIST_FOREACH(client, &exp->clients, export_next) {
        qemu_mutex_lock(&client->lock);
        assert(!client->recv_co && !client->nb_requests);
        qemu_mutex_unlock(&client->lock);
    }
}

NBDExport *nbd_export_new(NBDServer *server, BlockBackend *blk,
                          const NBDExportOptions *opts, Error **errp)
{
    const char *name = opts->name ? opts->name : "";
    NBDExport *exp;
    int64_t size;
    bool multi_conn;

    if (strlen(name) > NBD_MAX_STRING_SIZE) {
        error_setg(errp, "export name '%.64s...' is longer than %d bytes",
                   name, NBD_MAX_STRING_SIZE);
        return NULL;
    }
    if (opts->description &&
        strlen(opts->description) > NBD_MAX_STRING_SIZE) {
        error_setg(errp, "export '%s': description is longer than %d bytes",
                   name, NBD_MAX_STRING_SIZE);
        return NULL;
    }
    if (nbd_export_find(server, name)) {
        error_setg(errp, "export '%s' already exists", name);
        return NULL;
    }
    if (!opts->readonly && !blk_is_writable(blk)) {
        error_setg(errp, "export '%s': the image is read-only, cannot "
                   "export it writable", name);
        return NULL;
    }
    size = blk_getlength(blk);
    if (size < 0) {
        error_setg_errno(errp, -size, "export '%s': cannot get the size of "
                         "the image", name);
        return NULL;
    }

    exp = g_new0(NBDExport, 1);
    exp->server = server;
    exp->name = g_strdup(name);
    exp->description = g_strdup(opts->description);
    exp->blk = blk;
    blk_ref(blk);
    exp->size = size;
    exp->readonly = opts->readonly;
    exp->allocation_depth = opts->allocation_depth;
    exp->spread_clients = opts->spread_clients;
    exp->detect_zeroes = opts->detect_zeroes;
    exp->ctx = blk_get_aio_context(blk);
    exp->refcount = 1;
    QLIST_INIT(&exp->clients);

    exp->nbdflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
                    NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_CACHE;
    if (exp->readonly) {
        exp->nbdflags |= NBD_FLAG_READ_ONLY;
    } else {
        exp->nbdflags |= NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
                         NBD_FLAG_SEND_FAST_ZERO;
    }
    switch (opts->multi_conn) {
    case NBD_MULTI_CONN_ON:
        multi_conn = true;
        break;
    case NBD_MULTI_CONN_OFF:
        multi_conn = false;
        break;
    default:
        multi_conn = exp->readonly;
        break;
    }
    if (multi_conn) {
        exp->nbdflags |= NBD_FLAG_CAN_MULTI_CONN;
    }

    /* We quiesce our clients ourselves; queued requests would deadlock. */
    blk_set_disable_request_queuing(blk, true);
    blk_set_dev_ops(blk, &nbd_export_dev_ops, exp);
    blk_add_aio_context_notifier(blk, nbd_export_attached,
                                 nbd_export_detach, exp);
    QLIST_INSERT_HEAD(&server->exports, exp, next);
    return exp;
}

NBDExport *nbd_export_find(NBDServer *server, const char *name)
{
    NBDExport *exp;

    QLIST_FOREACH(exp, &server->exports, next) {
        if (!strcmp(exp->name, name)) {
            return exp;
        }
    }
    return NULL;
}

void nbd_export_remove(NBDExport *exp)
{
    NBDClient *client, *next;

    QLIST_REMOVE(exp, next);
    QLIST_FOREACH_SAFE(client, &exp->clients, export_next, next) {
        nbd_client_close(client);
    }
    AIO_WAIT_WHILE(NULL, !QLIST_EMPTY(&exp->clients));
    nbd_export_unref(exp);
}

const char *nbd_export_name(NBDExport *exp)
{
    return exp->name;
}

BlockBackend *nbd_export_blk(NBDExport *exp)
{
    return exp->blk;
}

uint16_t nbd_export_flags(NBDExport *exp)
{
    return exp->nbdflags;
}

unsigned int nbd_export_client_count(NBDExport *exp)
{
    NBDClient *client;
    unsigned int n = 0;

    QLIST_FOREACH(client, &exp->clients, export_next) {
        n++;
    }
    return n;
}

/* Replies (request coroutines, client->ctx) */

static int coroutine_fn nbd_co_send_iov(NBDClient *client,
                                        struct iovec *iov, size_t niov)
{
    Error *local_err = NULL;
    int ret;

    qemu_co_mutex_lock(&client->send_lock);
    ret = qio_channel_writev_all(client->ioc, iov, niov, &local_err);
    qemu_co_mutex_unlock(&client->send_lock);
    if (ret < 0) {
        trace_nbd_reply_send_failed(client, error_get_pretty(local_err));
        nbd_client_report_gone(client, "cannot send reply: %s",
                               error_get_pretty(local_err));
        error_free(local_err);
        return -EIO;
    }
    return 0;
}

/* Fills a structured or extended chunk header; returns its size. */
static size_t nbd_chunk_header(NBDClient *client, uint8_t *buf,
                               const NBDRequest *req, uint16_t flags,
                               uint16_t type, uint64_t payload_len)
{
    trace_nbd_reply_chunk(client, req->cookie, flags, type,
                          nbd_reply_type_name(type), payload_len);
    if (client->mode == NBD_MODE_EXTENDED) {
        nbd_put32(buf, NBD_EXTENDED_REPLY_MAGIC);
        nbd_put16(buf + 4, flags);
        nbd_put16(buf + 6, type);
        nbd_put64(buf + 8, req->cookie);
        nbd_put64(buf + 16, req->from);
        nbd_put64(buf + 24, payload_len);
        return NBD_EXTENDED_REPLY_SIZE;
    }
    assert(payload_len <= UINT32_MAX);
    nbd_put32(buf, NBD_STRUCTURED_REPLY_MAGIC);
    nbd_put16(buf + 4, flags);
    nbd_put16(buf + 6, type);
    nbd_put64(buf + 8, req->cookie);
    nbd_put32(buf + 16, payload_len);
    return NBD_STRUCTURED_REPLY_SIZE;
}

static int coroutine_fn nbd_co_send_simple(NBDClient *client,
                                           const NBDRequest *req, int err,
                                           void *data, size_t len)
{
    uint8_t hdr[NBD_SIMPLE_REPLY_SIZE];
    struct iovec iov[2] = {
        { .iov_base = hdr, .iov_len = sizeof(hdr) },
        { .iov_base = data, .iov_len = len },
    };

    trace_nbd_reply_simple(client, req->cookie, err, len);
    nbd_put32(hdr, NBD_SIMPLE_REPLY_MAGIC);
    nbd_put32(hdr + 4, nbd_errno_to_wire(err));
    nbd_put64(hdr + 8, req->cookie);
    return nbd_co_send_iov(client, iov, len ? 2 : 1);
}

static int coroutine_fn nbd_co_send_chunk_none(NBDClient *client,
                                               const NBDRequest *req)
{
    uint8_t hdr[NBD_EXTENDED_REPLY_SIZE];
    struct iovec iov = { .iov_base = hdr };

    iov.iov_len = nbd_chunk_header(client, hdr, req, NBD_REPLY_FLAG_DONE,
                                   NBD_REPLY_TYPE_NONE, 0);
    return nbd_co_send_iov(client, &iov, 1);
}

static int coroutine_fn nbd_co_send_chunk_error(NBDClient *client,
                                                const NBDRequest *req,
                                                int err, const char *msg)
{
    uint8_t hdr[NBD_EXTENDED_REPLY_SIZE];
    uint8_t payload[6];
    size_t msg_len = msg ? strlen(msg) : 0;
    struct iovec iov[3] = {
        { .iov_base = hdr },
        { .iov_base = payload, .iov_len = sizeof(payload) },
        { .iov_base = (void *)msg, .iov_len = msg_len },
    };

    iov[0].iov_len = nbd_chunk_header(client, hdr, req, NBD_REPLY_FLAG_DONE,
                                      NBD_REPLY_TYPE_ERROR,
                                      sizeof(payload) + msg_len);
    nbd_put32(payload, nbd_errno_to_wire(err));
    nbd_put16(payload + 4, msg_len);
    return nbd_co_send_iov(client, iov, msg_len ? 3 : 2);
}

static int coroutine_fn nbd_co_send_chunk_data(NBDClient *client,
                                               const NBDRequest *req,
                                               uint64_t offset, void *data,
                                               size_t len, bool final)
{
    uint8_t hdr[NBD_EXTENDED_REPLY_SIZE];
    uint8_t off[8];
    struct iovec iov[3] = {
        { .iov_base = hdr },
        { .iov_base = off, .iov_len = sizeof(off) },
        { .iov_base = data, .iov_len = len },
    };

    iov[0].iov_len = nbd_chunk_header(client, hdr, req,
                                      final ? NBD_REPLY_FLAG_DONE : 0,
                                      NBD_REPLY_TYPE_OFFSET_DATA,
                                      sizeof(off) + len);
    nbd_put64(off, offset);
    return nbd_co_send_iov(client, iov, 3);
}

static int coroutine_fn nbd_co_send_chunk_hole(NBDClient *client,
                                               const NBDRequest *req,
                                               uint64_t offset,
                                               uint32_t len, bool final)
{
    uint8_t hdr[NBD_EXTENDED_REPLY_SIZE];
    uint8_t payload[12];
    struct iovec iov[2] = {
        { .iov_base = hdr },
        { .iov_base = payload, .iov_len = sizeof(payload) },
    };

    iov[0].iov_len = nbd_chunk_header(client, hdr, req,
                                      final ? NBD_REPLY_FLAG_DONE : 0,
                                      NBD_REPLY_TYPE_OFFSET_HOLE,
                                      sizeof(payload));
    nbd_put64(payload, offset);
    nbd_put32(payload + 8, len);
    return nbd_co_send_iov(client, iov, 2);
}

/*
 * The reply of a request that carries no data: a simple reply while
 * that is allowed, else a NONE chunk or an error chunk.
 */
static int coroutine_fn nbd_co_send_result(NBDClient *client,
                                           const NBDRequest *req, int ret,
                                           const char *msg)
{
    if (client->mode == NBD_MODE_SIMPLE ||
        (client->mode == NBD_MODE_STRUCTURED && ret == 0 &&
         req->type != NBD_CMD_READ)) {
        return nbd_co_send_simple(client, req, ret, NULL, 0);
    }
    if (ret == 0) {
        return nbd_co_send_chunk_none(client, req);
    }
    return nbd_co_send_chunk_error(client, req, ret, msg);
}

/* Request handlers */

static int coroutine_fn nbd_co_handle_read(NBDClient *client,
                                           const NBDRequest *req)
{
    BlockBackend *blk = client->exp->blk;
    g_autofree char *msg = NULL;
    uint64_t progress = 0;
    void *buf;
    int ret;

    if (req->len == 0) {
        ret = client->mode == NBD_MODE_SIMPLE ?
              nbd_co_send_simple(client, req, 0, NULL, 0) :
              nbd_co_send_chunk_none(client, req);
        return ret < 0 ? NBD_SEND_FAILED : NBD_REPLIED;
    }
    buf = nbd_buf_get(client, req->len);
    if (!buf) {
        return -ENOMEM;
    }

    if (client->mode == NBD_MODE_SIMPLE ||
        (req->flags & NBD_CMD_FLAG_DF)) {
        ret = blk_co_pread(blk, req->from, req->len, buf, 0);
        if (ret < 0) {
            msg = g_strdup_printf("export '%s': read failed: %s",
                                  client->exp->name, strerror(-ret));
            ret = nbd_co_send_result(client, req, ret, msg);
        } else if (client->mode == NBD_MODE_SIMPLE) {
            ret = nbd_co_send_simple(client, req, 0, buf, req->len);
        } else {
            ret = nbd_co_send_chunk_data(client, req, req->from, buf,
                                         req->len, true);
        }
        nbd_buf_put(client, buf, req->len);
        return ret < 0 ? NBD_SEND_FAILED : NBD_REPLIED;
    }

    /* Structured: data chunks for data, hole chunks for zeroes. */
    ret = 0;
    while (progress < req->len) {
        uint64_t offset = req->from + progress;
        int64_t pnum = 0;
        bool final;
        int st;

        st = blk_co_block_status(blk, offset, req->len - progress, &pnum,
                                 NULL);
        if (st < 0 || pnum <= 0) {
            /* No status: read it as data. */
            st = BDRV_BLOCK_DATA;
            pnum = req->len - progress;
        }
        pnum = MIN((uint64_t)pnum, req->len - progress);
        final = progress + pnum == req->len;
        if (st & BDRV_BLOCK_ZERO) {
            ret = nbd_co_send_chunk_hole(client, req, offset, pnum, final);
        } else {
            ret = blk_co_pread(blk, offset, pnum, (char *)buf + progress, 0);
            if (ret < 0) {
                msg = g_strdup_printf("export '%s': read failed: %s",
                                      client->exp->name, strerror(-ret));
                ret = nbd_co_send_chunk_error(client, req, ret, msg);
                break;
            }
            ret = nbd_co_send_chunk_data(client, req, offset,
                                         (char *)buf + progress, pnum, final);
        }
        if (ret < 0) {
            break;
        }
        progress += pnum;
    }
    nbd_buf_put(client, buf, req->len);
    return ret < 0 ? NBD_SEND_FAILED : NBD_REPLIED;
}

static int coroutine_fn nbd_co_write_zeroes(BlockBackend *blk,
                                            uint64_t offset, uint64_t len,
                                            BdrvRequestFlags flags)
{
    while (len) {
        uint64_t n = MIN(len, NBD_MAX_ZERO_CHUNK);
        int ret = blk_co_pwrite_zeroes(blk, offset, n, flags);

        if (ret < 0) {
            return ret;
        }
        offset += n;
        len -= n;
    }
    return 0;
}

static int coroutine_fn nbd_co_handle_write(NBDClient *client,
                                            NBDRequestData *rd)
{
    NBDExport *exp = client->exp;
    const NBDRequest *req = &rd->req;
    BdrvRequestFlags flags = 0;

    if (req->flags & NBD_CMD_FLAG_FUA) {
        flags |= BDRV_REQ_FUA;
    }
    if (req->len == 0) {
        return 0;
    }
    if (exp->detect_zeroes != NBD_DETECT_ZEROES_OFF &&
        buffer_is_zero(rd->buf, req->len)) {
        if (exp->detect_zeroes == NBD_DETECT_ZEROES_UNMAP) {
            flags |= BDRV_REQ_MAY_UNMAP;
        }
        return nbd_co_write_zeroes(exp->blk, req->from, req->len, flags);
    }
    return blk_co_pwrite(exp->blk, req->from, req->len, rd->buf, flags);
}

static int coroutine_fn nbd_co_handle_zeroes(NBDClient *client,
                                             const NBDRequest *req)
{
    BlockBackend *blk = client->exp->blk;
    BdrvRequestFlags flags = 0;

    if (req->flags & NBD_CMD_FLAG_FUA) {
        flags |= BDRV_REQ_FUA;
    }
    if (!(req->flags & NBD_CMD_FLAG_NO_HOLE)) {
        flags |= BDRV_REQ_MAY_UNMAP;
    }
    if (req->flags & NBD_CMD_FLAG_FAST_ZERO) {
        if (!blk_supports_fast_zero(blk)) {
            return -ENOTSUP;
        }
        flags |= BDRV_REQ_NO_FALLBACK;
    }
    return nbd_co_write_zeroes(blk, req->from, req->len, flags);
}

static int coroutine_fn nbd_co_handle_trim(NBDClient *client,
                                           const NBDRequest *req)
{
    BlockBackend *blk = client->exp->blk;
    uint64_t offset = req->from, len = req->len;
    int ret;

    while (len) {
        uint64_t n = MIN(len, NBD_MAX_ZERO_CHUNK);

        ret = blk_co_pdiscard(blk, offset, n);
        if (ret < 0) {
            return ret;
        }
        offset += n;
        len -= n;
    }
    if (req->flags & NBD_CMD_FLAG_FUA) {
        return blk_co_flush(blk);
    }
    return 0;
}

/* Block status */

typedef struct NBDExtents {
    uint64_t *len;
    uint32_t *flags;
    unsigned int count;
    unsigned int max;
} NBDExtents;

static uint32_t nbd_status_flags(int st, bool depth)
{
    if (depth) {
        return (st & BDRV_BLOCK_ALLOCATED) ? 1 : 0;
    }
    return ((st & BDRV_BLOCK_DATA) ? 0 : NBD_STATE_HOLE) |
           ((st & BDRV_BLOCK_ZERO) ? NBD_STATE_ZERO : 0);
}

static int coroutine_fn nbd_co_collect_extents(BlockBackend *blk,
                                               uint64_t offset,
                                               uint64_t len, bool depth,
                                               NBDExtents *ea)
{
    while (len && ea->count < ea->max) {
        int64_t pnum = 0;
        uint32_t flags;
        int st = blk_co_block_status(blk, offset, len, &pnum, NULL);

        if (st < 0) {
            return st;
        }
        if (pnum <= 0) {
            break;
        }
        pnum = MIN((uint64_t)pnum, len);
        flags = nbd_status_flags(st, depth);
        if (ea->count && ea->flags[ea->count - 1] == flags) {
            ea->len[ea->count - 1] += pnum;
        } else {
            ea->len[ea->count] = pnum;
            ea->flags[ea->count] = flags;
            ea->count++;
        }
        offset += pnum;
        len -= pnum;
    }
    if (!ea->count) {
        return -EIO;
    }
    return 0;
}

static int coroutine_fn nbd_co_send_extents(NBDClient *client,
                                            const NBDRequest *req,
                                            uint32_t context_id,
                                            const NBDExtents *ea, bool final)
{
    bool ext = client->mode == NBD_MODE_EXTENDED;
    size_t each = ext ? 16 : 8;
    size_t head = ext ? 8 : 4;
    size_t plen = head + ea->count * each;
    g_autofree uint8_t *payload = g_malloc(plen);
    uint8_t hdr[NBD_EXTENDED_REPLY_SIZE];
    struct iovec iov[2] = {
        { .iov_base = hdr },
        { .iov_base = payload, .iov_len = plen },
    };
    uint8_t *p = payload;

    iov[0].iov_len = nbd_chunk_header(client, hdr, req,
                                      final ? NBD_REPLY_FLAG_DONE : 0,
                                      ext ? NBD_REPLY_TYPE_BLOCK_STATUS_EXT :
                                      NBD_REPLY_TYPE_BLOCK_STATUS, plen);
    nbd_put32(p, context_id);
    p += 4;
    if (ext) {
        nbd_put32(p, ea->count);
        p += 4;
    }
    for (unsigned int i = 0; i < ea->count; i++) {
        if (ext) {
            nbd_put64(p, ea->len[i]);
            nbd_put64(p + 8, ea->flags[i]);
        } else {
            nbd_put32(p, ea->len[i]);
            nbd_put32(p + 4, ea->flags[i]);
        }
        p += each;
    }
    return nbd_co_send_iov(client, iov, 2);
}

static int coroutine_fn nbd_co_handle_block_status(NBDClient *client,
                                                   const NBDRequest *req)
{
    NBDMetaContexts *mc = &client->contexts;
    unsigned int max = (req->flags & NBD_CMD_FLAG_REQ_ONE) ? 1 :
                       NBD_MAX_BLOCK_STATUS_EXTENTS;
    uint64_t len = req->len;
    bool want[2] = { mc->base_allocation, mc->allocation_depth };
    uint32_t ids[2] = { NBD_META_ID_BASE_ALLOCATION,
                        NBD_META_ID_ALLOCATION_DEPTH };
    unsigned int left = mc->count;
    int ret = 0;

    if (client->mode != NBD_MODE_EXTENDED) {
        len = MIN(len, UINT32_MAX);
    }
    for (int i = 0; i < 2; i++) {
        NBDExtents ea = { .max = max };

        if (!want[i]) {
            continue;
        }
        ea.len = g_new(uint64_t, max);
        ea.flags = g_new(uint32_t, max);
        ret = nbd_co_collect_extents(client->exp->blk, req->from, len,
                                     i == 1, &ea);
        if (ret < 0) {
            g_autofree char *msg =
                g_strdup_printf("export '%s': block status failed: %s",
                                client->exp->name, strerror(-ret));
            ret = nbd_co_send_chunk_error(client, req, ret, msg);
        } else {
            ret = nbd_co_send_extents(client, req, ids[i], &ea, --left == 0);
        }
        g_free(ea.len);
        g_free(ea.flags);
        if (ret < 0 || left == 0) {
            break;
        }
    }
    return ret < 0 ? NBD_SEND_FAILED : NBD_REPLIED;
}

/*
 * Serves @rd. Returns NBD_REPLIED or NBD_SEND_FAILED when the handler
 * dealt with the reply itself, else 0 or a negative errno for
 * nbd_co_send_result().
 */
static int coroutine_fn nbd_co_handle_request(NBDClient *client,
                                              NBDRequestData *rd)
{
    const NBDRequest *req = &rd->req;
    BlockBackend *blk = client->exp->blk;

    switch (req->type) {
    case NBD_CMD_READ:
        return nbd_co_handle_read(client, req);
    case NBD_CMD_WRITE:
        return nbd_co_handle_write(client, rd);
    case NBD_CMD_FLUSH:
        return blk_co_flush(blk);
    case NBD_CMD_TRIM:
        return nbd_co_handle_trim(client, req);
    case NBD_CMD_WRITE_ZEROES:
        return nbd_co_handle_zeroes(client, req);
    case NBD_CMD_CACHE:
        if (req->len == 0) {
            return 0;
        }
        return blk_co_preadv(blk, req->from, req->len, NULL,
                             BDRV_REQ_PREFETCH);
    case NBD_CMD_BLOCK_STATUS:
        return nbd_co_handle_block_status(client, req);
    default:
        return -EINVAL;
    }
}

static void coroutine_fn nbd_request_co(void *opaque)
{
    NBDRequestData *rd = opaque;
    NBDClient *client = rd->client;
    Coroutine *wake = NULL;
    bool kick;
    int ret;

    if (rd->err) {
        ret = nbd_co_send_result(client, &rd->req, rd->err, rd->msg);
    } else {
        ret = nbd_co_handle_request(client, rd);
        if (ret == NBD_REPLIED) {
            ret = 0;
        } else if (ret == NBD_SEND_FAILED) {
            ret = -EIO;
        } else {
            g_autofree char *msg = NULL;

            if (ret < 0) {
                msg = g_strdup_printf("export '%s': %s failed: %s",
                                      client->exp->name,
                                      nbd_cmd_name(rd->req.type),
                                      strerror(-ret));
            }
            ret = nbd_co_send_result(client, &rd->req, ret, msg);
        }
    }
    trace_nbd_request_done(client, rd->req.cookie, ret);
    /* ret < 0: the reply could not be sent, the channel is broken. */
    if (ret < 0 || rd->close_after) {
        nbd_client_close(client);
    }

    nbd_buf_put(client, rd->buf, rd->buf_len);
    g_free(rd);

    qemu_mutex_lock(&client->lock);
    client->nb_requests--;
    if (client->recv_waiting) {
        client->recv_waiting = false;
        wake = client->recv_co;
    }
    kick = client->quiescing && !client->nb_requests;
    qemu_mutex_unlock(&client->lock);
    if (wake) {
        aio_co_wake(wake);
    }
    if (kick) {
        nbd_client_kick_drain(client);
    }
    nbd_client_put(client);
}

/* Receiving (the receive coroutine, client->ctx) */

/*
 * Receiving. Requests come through a buffer (NBDRecvBuf): at queue depth
 * 32 one read brings in every waiting request header, and the payloads of
 * small writes.
 */

/*
 * Reads a request header. Returns 1 when it is complete, 0 when the
 * client must pause (quiescing) and no byte of it was taken, -1 on end of
 * file or error.
 */
static int coroutine_fn nbd_co_read_header(NBDClient *client, uint8_t *buf,
                                           size_t size)
{
    bool started = false;

    for (;;) {
        Error *local_err = NULL;
        ssize_t n;

        if (!started) {
            bool pause;

            /*
             * Checked before every wait for a new header; the drain's
             * wake runs in this context, so it comes either before this
             * check or while we wait (no lost wake-up). Buffered
             * requests wait too.
             */
            qemu_mutex_lock(&client->lock);
            pause = client->quiescing;
            qemu_mutex_unlock(&client->lock);
            if (pause || qatomic_read(&client->closing)) {
                return 0;
            }
        }
        if (nbd_recv_buf_avail(&client->rb) >= size) {
            nbd_recv_buf_take(&client->rb, buf, size);
            return 1;
        }
        started = nbd_recv_buf_avail(&client->rb) > 0;
        n = nbd_recv_buf_fill(&client->rb, client->ioc, &local_err);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            continue;       /* woken by the drain: look at the flag */
        }
        if (n < 0) {
            nbd_client_report_gone(client, "read failed: %s",
                                   error_get_pretty(local_err));
            error_free(local_err);
            return -1;
        }
        if (n == 0) {
            if (started) {
                nbd_client_report_gone(client, "end of file inside a "
                                       "request header");
            }
            return -1;
        }
    }
}

/*
 * Receives one request and starts its coroutine. Returns 1 when a
 * request was received, 0 when the client pauses, -1 when the
 * connection must be closed.
 */
static int coroutine_fn nbd_co_receive_one(NBDClient *client)
{
    NBDExport *exp = client->exp;
    uint8_t hdr[NBD_EXTENDED_REQUEST_SIZE];
    size_t hdr_size = client->mode == NBD_MODE_EXTENDED ?
                      NBD_EXTENDED_REQUEST_SIZE : NBD_REQUEST_SIZE;
    NBDRequestLimits lim = {
        .size = qatomic_read(&exp->size),
        .nbdflags = exp->nbdflags,
        .mode = client->mode,
        .has_contexts = client->contexts.count > 0,
        .max_payload = NBD_MAX_BUFFER_SIZE,
    };
    NBDRequestData *rd;
    uint64_t payload_len;
    Error *local_err = NULL;
    Coroutine *co;
    int ret;

    ret = nbd_co_read_header(client, hdr, hdr_size);
    if (ret <= 0) {
        return ret;
    }
    rd = g_new0(NBDRequestData, 1);
    rd->client = client;
    if (nbd_decode_request(hdr, client->mode, &rd->req) < 0) {
        trace_nbd_request_bad_magic(client, nbd_get32(hdr));
        warn_report("client %s: bad request magic 0x%08" PRIx32
                    ", disconnecting", client->peer, nbd_get32(hdr));
        g_free(rd);
        return -1;
    }
    trace_nbd_request_received(client, rd->req.cookie, rd->req.type,
                               nbd_cmd_name(rd->req.type), rd->req.flags,
                               rd->req.from, rd->req.len);
    if (rd->req.type == NBD_CMD_DISC) {
        trace_nbd_request_disconnect(client);
        client->disc = true;
        g_free(rd);
        return 1;
    }

    rd->err = nbd_check_request(&lim, &rd->req, &rd->msg);
    if (rd->req.type == NBD_CMD_BLOCK_STATUS && !rd->err &&
        rd->req.len == 0) {
        rd->err = -EINVAL;
        rd->msg = "block status of an empty range";
    }
    if (rd->err) {
        trace_nbd_request_invalid(client, rd->req.cookie,
                                  nbd_cmd_name(rd->req.type), rd->err,
                                  rd->msg);
    }
    payload_len = nbd_request_payload_len(&rd->req, client->mode);
    if (payload_len && !rd->err) {
        rd->buf = nbd_buf_get(client, payload_len);
        rd->buf_len = payload_len;
        if (!rd->buf) {
            rd->err = -ENOMEM;
            rd->msg = "out of memory";
        } else if (nbd_recv_buf_read(&client->rb, client->ioc, rd->buf,
                                     payload_len, &local_err) < 0) {
            nbd_client_report_gone(client, "cannot read the %" PRIu64
                                   "-byte payload of a request: %s",
                                   payload_len, local_err ?
                                   error_get_pretty(local_err) :
                                   "end of file");
            error_free(local_err);
            nbd_buf_put(client, rd->buf, rd->buf_len);
            g_free(rd);
            return -1;
        }
    }
    if (payload_len && rd->err && !rd->buf) {
        /* Refused: skip the payload to stay in step, if it is sane. */
        if (payload_len > NBD_MAX_DISCARDED_PAYLOAD) {
            rd->close_after = true;
            client->disc = true;
        } else if (nbd_recv_buf_read(&client->rb, client->ioc, NULL,
                                     payload_len, NULL) < 0) {
            g_free(rd);
            return -1;
        }
    }

    /* Counted before the coroutine exists, so drain sees it. */
    qemu_mutex_lock(&client->lock);
    client->nb_requests++;
    qemu_mutex_unlock(&client->lock);
    nbd_client_get(client);
    co = qemu_coroutine_create(nbd_request_co, rd);
    qemu_coroutine_enter(co);
    return 1;
}

static void coroutine_fn nbd_recv_co(void *opaque)
{
    NBDClient *client = opaque;

    for (;;) {
        unsigned int limit;
        bool wait;

        qemu_mutex_lock(&client->lock);
        if (client->quiescing || qatomic_read(&client->closing)) {
            client->recv_co = NULL;
            qemu_mutex_unlock(&client->lock);
            break;
        }
        limit = client->disc ? 1 : NBD_MAX_REQUESTS_IN_FLIGHT;
        wait = client->nb_requests >= limit;
        client->recv_waiting = wait;
        qemu_mutex_unlock(&client->lock);
        if (wait) {
            qemu_coroutine_yield();
            continue;
        }

        if (client->disc) {
            /* Every request was answered: now close, cleanly. */
            if (client->tls_done) {
                qio_channel_tls_bye(QIO_CHANNEL_TLS(client->ioc), NULL);
            }
            nbd_client_close(client);
            continue;
        }
        if (nbd_co_receive_one(client) < 0) {
            nbd_client_close(client);
        }
    }
    nbd_client_kick_drain(client);
    nbd_client_put(client);
}
