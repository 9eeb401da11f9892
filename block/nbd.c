/*
 * The "nbd" protocol driver: a node whose data lives on an NBD server.
 *
 * File names: nbd://HOST[:PORT][/EXPORT], nbd+unix:///[EXPORT]?socket=PATH
 * and their TLS forms nbds:// and nbds+unix:// (which need tls-creds);
 * also the old nbd:HOST:PORT[:exportname=NAME] and
 * nbd:unix:PATH[:exportname=NAME]. Options: server.type=inet|unix,
 * server.host, server.port, server.path, export, tls-creds, tls-hostname,
 * reconnect-delay (seconds), open-timeout (seconds), multi-conn (1-16).
 *
 * Theory of operation
 *
 * Each connection (NBDConn) carries up to NBD_CONN_MAX_REQUESTS requests.
 * A request coroutine takes a slot (its cookie names the slot), sends the
 * request under send_mutex, and yields until its reply is complete. One
 * reader coroutine per connection exists while some reply is pending: it
 * reads each reply header (or structured chunk), finds the slot, reads the
 * payload straight into that request's buffers, and wakes the request
 * when its reply is done. Request coroutines may live in any AioContext
 * (several iothreads may use one node): the channel belongs to no event
 * loop, so the reader waits for input in its own context while senders
 * wait for output in theirs. The reader is started in the context of the
 * request that made it necessary and ends when nothing is pending; while
 * it runs it counts as an in-flight request of the node, so a drained
 * node has no coroutine of ours left and moves context with nothing to do.
 *
 * When the connection breaks (EOF, an I/O error, a protocol violation),
 * the channel is shut down, the reader fails every pending request with
 * a "connection" mark, and a reconnect coroutine (also counted in flight)
 * tries to connect again until reconnect-delay has passed. Requests that
 * failed that way, and new ones, wait for it and are sent again on the
 * new connection; once the delay is over they fail with EIO. Later
 * requests each cause one immediate connection attempt, so a server that
 * comes back is used again. No wait is unbounded: connecting and
 * negotiating have a time limit.
 *
 * multi-conn=N opens N connections when the server advertises
 * NBD_FLAG_CAN_MULTI_CONN and spreads requests over them (the least busy
 * connected one); a flush on any connection then covers writes completed
 * on all of them, which is what the flag promises.
 *
 * Locking: NBDConn.lock protects state, ioc, gen, the slots and the
 * counters and queues below it. send_mutex (a CoMutex) keeps requests
 * whole on the wire. BDRVNBDState's configuration is written at open only.
 */
#include "qemu/osdep.h"
#include "block/block_int.h"
#include "block/nbd.h"
#include "block/thread-pool.h"
#include "nbd/nbd-internal.h"
#include "crypto/tlscreds.h"
#include "io/channel-socket.h"
#include "block/trace.h"
#include "io/channel-tls.h"
#include "qemu/coroutine.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qom/object.h"

#define NANOSECONDS_PER_SECOND  1000000000LL
#define NBD_CONN_MAX_REQUESTS   16
#define NBD_MAX_MULTI_CONN      16
/* Time limit of one connection attempt (connect and negotiation). */
#define NBD_CONNECT_TIMEOUT_NS  (10 * NANOSECONDS_PER_SECOND)
/* Pause between reconnection attempts. */
#define NBD_RECONNECT_PAUSE_NS  (NANOSECONDS_PER_SECOND / 4)
/* Largest payload we let a server send in one chunk beyond the data. */
#define NBD_MAX_CHUNK_EXTRA     (64 * 1024)

typedef struct BDRVNBDState BDRVNBDState;

typedef enum NBDConnState {
    NBD_CONN_CONNECTED,
    NBD_CONN_RECONNECTING,      /* requests wait for the reconnect co */
    NBD_CONN_FAILED,            /* no connection: requests fail */
    NBD_CONN_CLOSED,            /* the node is closing */
} NBDConnState;

typedef struct NBDConnReq {
    bool used;
    bool pending;               /* the reply is not complete */
    bool conn_error;            /* ended by a broken connection */
    uint64_t gen;               /* connection generation it was sent on */
    uint64_t cookie;
    Coroutine *co;              /* waiting for the reply */
    NBDRequest req;
    QEMUIOVector *qiov;         /* READ: destination */
    uint64_t covered;           /* READ: bytes received (data and holes) */
    uint64_t *received;         /* READ: a bit per byte, once out of order */
    int ret;                    /* first error the server reported */
    bool have_extent;           /* BLOCK_STATUS: the first extent */
    uint64_t extent_len;
    uint32_t extent_flags;
} NBDConnReq;

typedef struct NBDConn {
    BDRVNBDState *s;
    CoMutex send_mutex;

    QemuMutex lock;
    NBDConnState state;
    QIOChannelSocket *sioc;     /* NULL when not connected */
    QIOChannel *ioc;            /* sioc or the TLS channel over it */
    NBDMode mode;
    uint32_t context_id;
    bool base_allocation;
    uint64_t gen;               /* bumped by each new connection */
    uint64_t seq;               /* cookie counter */
    unsigned int nr_used;       /* atomic writes: read without lock */
    bool reader_running;        /* a reader for reader_gen runs */
    uint64_t reader_gen;
    bool reconnect_running;
    int64_t reconnect_deadline; /* QEMU_CLOCK_REALTIME ns */
    CoQueue free_slots;
    CoQueue reconnect_waiters;
    NBDConnReq reqs[NBD_CONN_MAX_REQUESTS];
} NBDConn;

struct BDRVNBDState {
    BlockDriverState *bs;
    SocketAddress *addr;
    char *export;
    QCryptoTLSCreds *tls_creds; /* a reference, or NULL */
    char *tls_hostname;
    uint64_t reconnect_delay_ns;
    uint64_t open_timeout_ns;
    NBDExportInfo info;         /* of the first connection */
    uint32_t max_payload;
    unsigned int nconns;
    NBDConn *conns[NBD_MAX_MULTI_CONN];
};

/* Connecting */

typedef struct NBDConnectJob {
    SocketAddress *addr;
    QIOChannelSocket *sioc;
    Error *err;
} NBDConnectJob;

/* Thread pool: the blocking connect (name resolution included). */
static int nbd_connect_worker(void *opaque)
{
    NBDConnectJob *job = opaque;

    job->sioc = qio_channel_socket_new();
    if (qio_channel_socket_connect_sync(job->sioc, job->addr,
                                        &job->err) < 0) {
        object_unref(OBJECT(job->sioc));
        job->sioc = NULL;
        return -1;
    }
    return 0;
}

typedef struct NBDConnectTimer {
    QIOChannel *ioc;
    bool fired;
} NBDConnectTimer;

static void nbd_connect_timeout(void *opaque)
{
    NBDConnectTimer *t = opaque;

    t->fired = true;
    qio_channel_shutdown(t->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
}

/*
 * One attempt: connect, then negotiate within @timeout_ns. On success the
 * new channels and what was negotiated are in the out parameters.
 */
static int coroutine_fn nbd_connect_once(BDRVNBDState *s, int64_t timeout_ns,
                                         QIOChannelSocket **psioc,
                                         QIOChannel **pioc,
                                         NBDExportInfo *info, Error **errp)
{
    NBDConnectJob job = { .addr = s->addr };
    NBDClientConfig cfg = {
        .export_name = s->export,
        .tls_creds = s->tls_creds,
        .tls_hostname = s->tls_hostname,
        .extended_headers = true,
        .base_allocation = true,
    };
    NBDConnectTimer t = { 0 };
    QEMUTimer *timer;
    QIOChannel *ioc;
    int ret;

    if (thread_pool_submit_co(nbd_connect_worker, &job) < 0) {
        error_propagate(errp, job.err);
        return -1;
    }
    qio_channel_set_name(QIO_CHANNEL(job.sioc), "nbd-client");
    qio_channel_set_delay(QIO_CHANNEL(job.sioc), false);
    if (qio_channel_set_blocking(QIO_CHANNEL(job.sioc), false, errp) < 0) {
        object_unref(OBJECT(job.sioc));
        return -1;
    }
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(job.sioc), true);

    t.ioc = QIO_CHANNEL(job.sioc);
    timer = aio_timer_new(qemu_get_current_aio_context(),
                          QEMU_CLOCK_REALTIME, SCALE_NS,
                          nbd_connect_timeout, &t);
    timer_mod_ns(timer, qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
                 timeout_ns);
    object_ref(OBJECT(job.sioc));
    ioc = QIO_CHANNEL(job.sioc);
    ret = nbd_receive_negotiate(&ioc, &cfg, info, errp);
    timer_free(timer);
    if (ret < 0 && t.fired) {
        error_prepend(errp, "the server did not finish the handshake "
                      "within %" PRId64 " ms: ", timeout_ns / 1000000);
    }
    if (ret < 0) {
        object_unref(OBJECT(ioc));
        object_unref(OBJECT(job.sioc));
        return -1;
    }
    *psioc = job.sioc;
    *pioc = ioc;
    return 0;
}

/* Is what a server says now compatible with what the node was opened on? */
static bool nbd_info_compatible(BDRVNBDState *s, const NBDExportInfo *info,
                                Error **errp)
{
    if (info->size != s->info.size) {
        error_setg(errp, "the export's size changed from %" PRIu64
                   " to %" PRIu64, s->info.size, info->size);
        return false;
    }
    if ((info->flags & NBD_FLAG_READ_ONLY) &&
        (s->bs->open_flags & BDRV_O_RDWR)) {
        error_setg(errp, "the export became read-only");
        return false;
    }
    if (info->has_block_sizes && s->info.has_block_sizes &&
        info->min_block > s->info.min_block) {
        error_setg(errp, "the export's minimum block size grew");
        return false;
    }
    return true;
}

/* Installs a negotiated connection in @c. */
static void nbd_conn_install(NBDConn *c, QIOChannelSocket *sioc,
                             QIOChannel *ioc, const NBDExportInfo *info)
{
    QIOChannelSocket *old_sioc;
    QIOChannel *old_ioc;

    qemu_mutex_lock(&c->lock);
    old_sioc = c->sioc;
    old_ioc = c->ioc;
    c->sioc = sioc;
    c->ioc = ioc;
    c->mode = info->mode;
    c->base_allocation = info->base_allocation;
    c->context_id = info->context_id;
    c->gen++;
    qatomic_set(&c->state, NBD_CONN_CONNECTED);
    qemu_mutex_unlock(&c->lock);
    if (old_ioc) {
        object_unref(OBJECT(old_ioc));
    }
    if (old_sioc) {
        object_unref(OBJECT(old_sioc));
    }
}

/* Reconnection */

static void coroutine_fn nbd_reconnect_entry(void *opaque)
{
    NBDConn *c = opaque;
    BDRVNBDState *s = c->s;
    BlockDriverState *bs = s->bs;

    for (;;) {
        int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
        int64_t deadline;
        int64_t left;
        NBDExportInfo info;
        QIOChannelSocket *sioc;
        QIOChannel *ioc;
        Error *err = NULL;

        qemu_mutex_lock(&c->lock);
        deadline = c->reconnect_deadline;
        qemu_mutex_unlock(&c->lock);
        left = deadline - now;
        trace_nbd_reconnect_attempt(c, left / SCALE_MS);
        if (nbd_connect_once(s, MAX(MIN(left, NBD_CONNECT_TIMEOUT_NS),
                                    NANOSECONDS_PER_SECOND),
                             &sioc, &ioc, &info, &err) == 0) {
            if (nbd_info_compatible(s, &info, &err)) {
                trace_nbd_reconnected(c);
                nbd_conn_install(c, sioc, ioc, &info);
                nbd_export_info_clear(&info);
                qemu_mutex_lock(&c->lock);
                c->reconnect_running = false;
                qemu_co_queue_restart_all(&c->reconnect_waiters);
                qemu_mutex_unlock(&c->lock);
                break;
            }
            nbd_export_info_clear(&info);
            qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
            object_unref(OBJECT(ioc));
            object_unref(OBJECT(sioc));
        }
        now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
        qemu_mutex_lock(&c->lock);
        if (now >= c->reconnect_deadline || c->state == NBD_CONN_CLOSED) {
            if (c->state != NBD_CONN_CLOSED) {
                qatomic_set(&c->state, NBD_CONN_FAILED);
            }
            c->reconnect_running = false;
            qemu_co_queue_restart_all(&c->reconnect_waiters);
            qemu_mutex_unlock(&c->lock);
            error_report_err(err);
            break;
        }
        deadline = c->reconnect_deadline;
        qemu_mutex_unlock(&c->lock);
        error_free(err);
        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME,
                         MIN(NBD_RECONNECT_PAUSE_NS, deadline - now));
    }
    bdrv_dec_in_flight(bs);
}

/* With c->lock held: starts reconnecting, waiting until @deadline. */
static void nbd_conn_start_reconnect(NBDConn *c, int64_t deadline)
{
    Coroutine *co;

    qatomic_set(&c->state, NBD_CONN_RECONNECTING);
    c->reconnect_deadline = deadline;
    if (c->reconnect_running) {
        return;
    }
    c->reconnect_running = true;
    bdrv_inc_in_flight(c->s->bs);
    co = qemu_coroutine_create(nbd_reconnect_entry, c);
    aio_co_schedule(qemu_get_current_aio_context(), co);
}

/*
 * The connection of generation @gen is broken: shut it down so that the
 * reader and senders notice. The reader fails the pending requests.
 */
static void nbd_conn_broken(NBDConn *c, uint64_t gen, Error *err)
{
    BDRVNBDState *s = c->s;

    qemu_mutex_lock(&c->lock);
    if (c->state != NBD_CONN_CONNECTED || c->gen != gen) {
        qemu_mutex_unlock(&c->lock);
        error_free(err);
        return;
    }
    trace_nbd_connection_lost(c, s->export,
                              err ? error_get_pretty(err) : "closed");
    if (err) {
        warn_report("NBD connection to export '%s' lost: %s", s->export,
                    error_get_pretty(err));
        error_free(err);
    }
    if (s->reconnect_delay_ns) {
        nbd_conn_start_reconnect(c, qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
                                 s->reconnect_delay_ns);
    } else {
        qatomic_set(&c->state, NBD_CONN_FAILED);
    }
    qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    qemu_mutex_unlock(&c->lock);
}

/* The reader */

/* With c->lock held: the reply of @r is complete. */
static Coroutine *nbd_req_complete(NBDConn *c, NBDConnReq *r)
{
    Coroutine *co = r->co;

    r->pending = false;
    r->co = NULL;
    g_free(r->received);
    r->received = NULL;
    return co;
}

/* With c->lock held: are replies pending on connection generation @gen? */
static bool nbd_conn_pending(NBDConn *c, uint64_t gen)
{
    for (int i = 0; i < NBD_CONN_MAX_REQUESTS; i++) {
        if (c->reqs[i].used && c->reqs[i].pending &&
            c->reqs[i].gen == gen) {
            return true;
        }
    }
    return false;
}

static NBDConnReq *nbd_find_req(NBDConn *c, uint64_t gen, uint64_t cookie)
{
    uint64_t i = cookie % NBD_CONN_MAX_REQUESTS;
    NBDConnReq *r = &c->reqs[i];
    bool ok;

    qemu_mutex_lock(&c->lock);
    ok = r->used && r->pending && r->cookie == cookie && r->gen == gen;
    qemu_mutex_unlock(&c->lock);
    return ok ? r : NULL;
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
 * Marks bytes [@start, +@len) of @r's read as received; false if some
 * were already. Chunks may come in any order but must not overlap: a
 * server that sends a range twice could otherwise make the count add up
 * while another range was never written, and the caller would get stale
 * memory as data. In order (the usual case) the bytes received are
 * [0, covered); the first chunk out of order brings in a bitmap of one
 * bit per byte of the request, at most NBD_MAX_BUFFER_SIZE / 8 bytes.
 */
static bool nbd_req_receive(NBDConnReq *r, uint64_t start, uint64_t len)
{
    if (!r->received) {
        if (start == r->covered) {
            r->covered += len;
            return true;
        }
        r->received = g_new0(uint64_t, DIV_ROUND_UP(r->req.len, 64));
        nbd_bitmap_test_and_set(r->received, 0, r->covered);
    }
    r->covered += len;
    return !nbd_bitmap_test_and_set(r->received, start, start + len);
}

/* Reads @len bytes into @r's buffer at @offset of the request. */
static int coroutine_fn nbd_read_into(QIOChannel *ioc, NBDRecvBuf *rb,
                                      NBDConnReq *r, uint64_t offset,
                                      uint64_t len, Error **errp)
{
    QEMUIOVector slice;
    int ret;

    qemu_iovec_init_slice(&slice, r->qiov, offset, len);
    ret = nbd_recv_buf_readv(rb, ioc, slice.iov, slice.niov, len, errp);
    qemu_iovec_destroy(&slice);
    return ret < 0 ? -1 : 0;
}

/* An error chunk's payload; sets r->ret. */
static int coroutine_fn nbd_read_error_chunk(NBDConn *c, QIOChannel *ioc,
                                             NBDRecvBuf *rb, NBDConnReq *r,
                                             const NBDReply *rep, Error **errp)
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
    if (nbd_recv_buf_read(rb, ioc, (char *)hdr, sizeof(hdr), errp) < 0) {
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
    if (!r->ret) {
        r->ret = -nbd_wire_to_errno(err);
    }
    return 0;
}

static int coroutine_fn nbd_read_block_status(NBDConn *c, QIOChannel *ioc,
                                              NBDRecvBuf *rb, NBDConnReq *r,
                                              const NBDReply *rep,
                                              Error **errp)
{
    bool ext = rep->type == NBD_REPLY_TYPE_BLOCK_STATUS_EXT;
    size_t head = ext ? 8 : 4;
    size_t desc = ext ? 16 : 8;
    uint8_t buf[8 + 16];
    uint64_t len;
    uint64_t flags;

    if (r->req.type != NBD_CMD_BLOCK_STATUS ||
        ext != (c->mode == NBD_MODE_EXTENDED) ||
        rep->length < head + desc || (rep->length - head) % desc ||
        rep->length > head + desc * 65536ULL) {
        error_setg(errp, "unexpected or malformed block status chunk");
        return -1;
    }
    if (nbd_recv_buf_read(rb, ioc, (char *)buf, head + desc, errp) < 0) {
        return -1;
    }
    if (nbd_get32(buf) != c->context_id) {
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
    if (r->have_extent) {
        error_setg(errp, "more than one block status chunk");
        return -1;
    }
    if (len == 0) {
        error_setg(errp, "block status extent of length 0");
        return -1;
    }
    r->have_extent = true;
    r->extent_len = MIN(len, r->req.len);
    r->extent_flags = flags;
    return 0;
}

/* One structured or extended chunk (the header is read). */
static int coroutine_fn nbd_read_chunk(NBDConn *c, QIOChannel *ioc,
                                       NBDRecvBuf *rb, NBDConnReq *r,
                                       const NBDReply *rep, Error **errp)
{
    uint8_t buf[12];
    uint64_t offset, len;

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
        if (r->req.type != NBD_CMD_READ) {
            error_setg(errp, "%s chunk for a %s request",
                       nbd_reply_type_name(rep->type),
                       nbd_cmd_name(r->req.type));
            return -1;
        }
        if (rep->type == NBD_REPLY_TYPE_OFFSET_DATA) {
            if (rep->length <= 8) {
                error_setg(errp, "data chunk without data");
                return -1;
            }
            if (nbd_recv_buf_read(rb, ioc, (char *)buf, 8, errp) < 0) {
                return -1;
            }
            len = rep->length - 8;
        } else {
            if (rep->length != 12) {
                error_setg(errp, "malformed hole chunk");
                return -1;
            }
            if (nbd_recv_buf_read(rb, ioc, (char *)buf, 12, errp) < 0) {
                return -1;
            }
            len = nbd_get32(buf + 8);
        }
        offset = nbd_get64(buf);
        if (offset < r->req.from || len == 0 ||
            len > r->req.len || offset - r->req.from > r->req.len - len) {
            error_setg(errp, "chunk [%" PRIu64 ", +%" PRIu64 ") outside "
                       "the request [%" PRIu64 ", +%" PRIu64 ")", offset,
                       len, r->req.from, r->req.len);
            return -1;
        }
        if (!nbd_req_receive(r, offset - r->req.from, len)) {
            error_setg(errp, "chunk [%" PRIu64 ", +%" PRIu64 ") overlaps "
                       "one received before", offset, len);
            return -1;
        }
        if (rep->type == NBD_REPLY_TYPE_OFFSET_DATA) {
            if (nbd_read_into(ioc, rb, r, offset - r->req.from, len,
                              errp) < 0) {
                return -1;
            }
        } else {
            qemu_iovec_memset(r->qiov, offset - r->req.from, 0, len);
        }
        return 0;
    case NBD_REPLY_TYPE_BLOCK_STATUS:
    case NBD_REPLY_TYPE_BLOCK_STATUS_EXT:
        return nbd_read_block_status(c, ioc, rb, r, rep, errp);
    default:
        if (NBD_REPLY_TYPE_IS_ERR(rep->type)) {
            return nbd_read_error_chunk(c, ioc, rb, r, rep, errp);
        }
        error_setg(errp, "unknown chunk type %u", rep->type);
        return -1;
    }
}

/*
 * Reads one reply or chunk and applies it to its request; completes the
 * request on its last chunk. Returns -1 with @errp set when the
 * connection must be dropped (I/O error or protocol violation).
 */
static int coroutine_fn nbd_read_reply(NBDConn *c, QIOChannel *ioc,
                                       NBDRecvBuf *rb, NBDMode mode,
                                       uint64_t gen,
                                       Error **errp)
{
    uint8_t buf[NBD_EXTENDED_REPLY_SIZE];
    NBDReply rep;
    NBDConnReq *r;
    Coroutine *co;
    int size;

    if (nbd_recv_buf_read(rb, ioc, (char *)buf, NBD_SIMPLE_REPLY_SIZE,
                          errp) < 0) {
        return -1;
    }
    size = nbd_reply_header_size(nbd_get32(buf), mode);
    if (size < 0) {
        error_setg(errp, "unexpected reply magic 0x%08" PRIx32,
                   nbd_get32(buf));
        return -1;
    }
    if (size > NBD_SIMPLE_REPLY_SIZE &&
        nbd_recv_buf_read(rb, ioc, (char *)buf + NBD_SIMPLE_REPLY_SIZE,
                          size - NBD_SIMPLE_REPLY_SIZE, errp) < 0) {
        return -1;
    }
    nbd_decode_reply_header(buf, &rep);
    trace_nbd_receive_reply(c, rep.cookie, rep.magic,
                            nbd_reply_type_name(rep.type), rep.flags,
                            rep.error, rep.length);
    r = nbd_find_req(c, gen, rep.cookie);
    if (!r) {
        error_setg(errp, "reply for unknown cookie %" PRIu64, rep.cookie);
        return -1;
    }

    if (rep.magic == NBD_SIMPLE_REPLY_MAGIC) {
        if (rep.error) {
            r->ret = -nbd_wire_to_errno(rep.error);
        } else if (r->req.type == NBD_CMD_READ) {
            if (mode != NBD_MODE_SIMPLE) {
                error_setg(errp, "simple reply with data to a read after "
                           "structured replies were agreed");
                return -1;
            }
            if (nbd_read_into(ioc, rb, r, 0, r->req.len, errp) < 0) {
                return -1;
            }
            r->covered = r->req.len;
        } else if (r->req.type == NBD_CMD_BLOCK_STATUS) {
            error_setg(errp, "simple reply to a block status request");
            return -1;
        }
    } else if (nbd_read_chunk(c, ioc, rb, r, &rep, errp) < 0) {
        return -1;
    }
    if (!(rep.flags & NBD_REPLY_FLAG_DONE)) {
        return 0;
    }

    if (!r->ret && r->req.type == NBD_CMD_READ && r->covered != r->req.len) {
        error_setg(errp, "read reply covers %" PRIu64 " of %" PRIu64
                   " bytes", r->covered, r->req.len);
        return -1;
    }
    if (!r->ret && r->req.type == NBD_CMD_BLOCK_STATUS && !r->have_extent) {
        error_setg(errp, "block status reply without an extent");
        return -1;
    }
    qemu_mutex_lock(&c->lock);
    co = nbd_req_complete(c, r);
    qemu_mutex_unlock(&c->lock);
    if (co) {
        aio_co_wake(co);
    }
    return 0;
}

typedef struct NBDReaderArgs {
    NBDConn *conn;
    uint64_t gen;
} NBDReaderArgs;

/* Reads the replies of connection generation @gen while any is pending. */
static void coroutine_fn nbd_reader_entry(void *opaque)
{
    NBDReaderArgs *args = opaque;
    NBDConn *c = args->conn;
    uint64_t gen = args->gen;
    BlockDriverState *bs = c->s->bs;
    QIOChannel *ioc = NULL;
    NBDRecvBuf rb = { 0 };
    NBDMode mode;

    g_free(args);
    qemu_mutex_lock(&c->lock);
    if (c->gen == gen && c->state == NBD_CONN_CONNECTED) {
        ioc = c->ioc;
        object_ref(OBJECT(ioc));
    }
    mode = c->mode;
    qemu_mutex_unlock(&c->lock);

    for (;;) {
        Error *err = NULL;
        Coroutine *wake[NBD_CONN_MAX_REQUESTS];
        unsigned int n = 0;

        if (ioc && nbd_read_reply(c, ioc, &rb, mode, gen, &err) == 0) {
            qemu_mutex_lock(&c->lock);
            if (nbd_conn_pending(c, gen)) {
                qemu_mutex_unlock(&c->lock);
                continue;
            }
            /*
             * Nothing is pending, so nothing more may come; what is
             * buffered (it would be lost with this reader) is garbage.
             */
            if (!nbd_recv_buf_avail(&rb)) {
                if (c->reader_gen == gen) {
                    c->reader_running = false;
                }
                qemu_mutex_unlock(&c->lock);
                break;
            }
            qemu_mutex_unlock(&c->lock);
            error_setg(&err, "server sent %zu bytes nobody asked for",
                       nbd_recv_buf_avail(&rb));
        }

        /* The connection is gone: fail what is pending on it. */
        nbd_conn_broken(c, gen, err);
        qemu_mutex_lock(&c->lock);
        for (int i = 0; i < NBD_CONN_MAX_REQUESTS; i++) {
            NBDConnReq *r = &c->reqs[i];

            if (r->used && r->pending && r->gen == gen) {
                r->conn_error = true;
                wake[n] = nbd_req_complete(c, r);
                if (wake[n]) {
                    n++;
                }
            }
        }
        if (c->reader_gen == gen) {
            c->reader_running = false;
        }
        qemu_mutex_unlock(&c->lock);
        for (unsigned int i = 0; i < n; i++) {
            aio_co_wake(wake[i]);
        }
        break;
    }
    if (ioc) {
        object_unref(OBJECT(ioc));
    }
    nbd_recv_buf_destroy(&rb);
    bdrv_dec_in_flight(bs);
}

/* Requests */

/* The connected connection with the fewest requests, else the first. */
static NBDConn *nbd_pick_conn(BDRVNBDState *s)
{
    NBDConn *best = s->conns[0];
    unsigned int best_used = UINT_MAX;

    for (unsigned int i = 0; i < s->nconns && s->nconns > 1; i++) {
        NBDConn *c = s->conns[i];
        unsigned int used;

        if (qatomic_read(&c->state) != NBD_CONN_CONNECTED) {
            continue;
        }
        used = qatomic_read(&c->nr_used);
        if (used < best_used) {
            best = c;
            best_used = used;
        }
    }
    return best;
}

/*
 * Takes a slot on @c, waiting for a free one or for a reconnection.
 * Returns its index, or -EIO when there is no connection to be had.
 */
static int coroutine_fn nbd_conn_get_slot(NBDConn *c, bool *tried)
{
    NBDReaderArgs *reader = NULL;
    int i;

    qemu_mutex_lock(&c->lock);
    for (;;) {
        if (c->state == NBD_CONN_CONNECTED) {
            if (c->nr_used < NBD_CONN_MAX_REQUESTS) {
                break;
            }
            qemu_co_queue_wait(&c->free_slots, &c->lock);
        } else if (c->state == NBD_CONN_RECONNECTING) {
            qemu_co_queue_wait(&c->reconnect_waiters, &c->lock);
        } else if (c->state == NBD_CONN_FAILED && !*tried) {
            /* One immediate attempt: the server may be back. */
            *tried = true;
            nbd_conn_start_reconnect(c, 0);
        } else {
            qemu_mutex_unlock(&c->lock);
            return -EIO;
        }
    }
    for (i = 0; c->reqs[i].used; i++) {
        /* a free slot exists: nr_used < NBD_CONN_MAX_REQUESTS */
    }
    c->reqs[i] = (NBDConnReq) {
        .used = true,
        .pending = true,
        .gen = c->gen,
        .cookie = ++c->seq * NBD_CONN_MAX_REQUESTS + i,
    };
    qatomic_set(&c->nr_used, c->nr_used + 1);
    if (!c->reader_running || c->reader_gen != c->gen) {
        c->reader_running = true;
        c->reader_gen = c->gen;
        reader = g_new(NBDReaderArgs, 1);
        *reader = (NBDReaderArgs) { .conn = c, .gen = c->gen };
    }
    qemu_mutex_unlock(&c->lock);
    if (reader) {
        bdrv_inc_in_flight(c->s->bs);
        /* From our coroutine: it starts as soon as we yield, no BH. */
        aio_co_enter(qemu_get_current_aio_context(),
                     qemu_coroutine_create(nbd_reader_entry, reader));
    }
    return i;
}

static void nbd_conn_put_slot(NBDConn *c, int i)
{
    qemu_mutex_lock(&c->lock);
    assert(c->reqs[i].used && !c->reqs[i].pending);
    c->reqs[i].used = false;
    qatomic_set(&c->nr_used, c->nr_used - 1);
    qemu_co_queue_next(&c->free_slots);
    qemu_mutex_unlock(&c->lock);
}

/* Sends request @i (header and, for writes, @wqiov). */
static void coroutine_fn nbd_conn_send(NBDConn *c, int i, QEMUIOVector *wqiov)
{
    NBDConnReq *r = &c->reqs[i];
    uint8_t hdr[NBD_EXTENDED_REQUEST_SIZE];
    struct iovec *iov;
    QIOChannel *ioc = NULL;
    Error *err = NULL;
    size_t hlen;
    int niov = 1;
    int ret;

    qemu_co_mutex_lock(&c->send_mutex);
    qemu_mutex_lock(&c->lock);
    if (c->state == NBD_CONN_CONNECTED && c->gen == r->gen) {
        ioc = c->ioc;
        object_ref(OBJECT(ioc));
        r->req.cookie = r->cookie;
        hlen = nbd_encode_request(hdr, &r->req, c->mode);
        trace_nbd_send_request(c, r->req.cookie, nbd_cmd_name(r->req.type),
                               r->req.flags, r->req.from, r->req.len);
    }
    qemu_mutex_unlock(&c->lock);
    if (!ioc) {
        /* Broken before we could send: the reader fails the request. */
        qemu_co_mutex_unlock(&c->send_mutex);
        return;
    }
    iov = g_newa(struct iovec, 1 + (wqiov ? wqiov->niov : 0));
    iov[0] = (struct iovec) { .iov_base = hdr, .iov_len = hlen };
    if (wqiov) {
        memcpy(iov + 1, wqiov->iov, wqiov->niov * sizeof(*iov));
        niov += wqiov->niov;
    }
    ret = qio_channel_writev_all(ioc, iov, niov, &err);
    qemu_co_mutex_unlock(&c->send_mutex);
    if (ret < 0) {
        error_prepend(&err, "sending %s: ", nbd_cmd_name(r->req.type));
        nbd_conn_broken(c, r->gen, err);
    }
    object_unref(OBJECT(ioc));
}

typedef struct NBDResult {
    uint64_t extent_len;
    uint32_t extent_flags;
} NBDResult;

/*
 * Runs one request to completion, over whichever connection, and again
 * after a reconnection while reconnect-delay allows.
 */
static int coroutine_fn nbd_co_request(BDRVNBDState *s, const NBDRequest *req,
                                       QEMUIOVector *rqiov,
                                       QEMUIOVector *wqiov, NBDResult *res)
{
    int64_t deadline = -1;
    bool tried = false;

    for (;;) {
        NBDConn *c = nbd_pick_conn(s);
        NBDConnReq *r;
        int ret;
        int i = nbd_conn_get_slot(c, &tried);

        if (i < 0) {
            return i;
        }
        r = &c->reqs[i];
        r->req = *req;
        r->qiov = rqiov;
        nbd_conn_send(c, i, wqiov);

        qemu_mutex_lock(&c->lock);
        if (r->pending) {
            r->co = qemu_coroutine_self();
            qemu_mutex_unlock(&c->lock);
            qemu_coroutine_yield();
        } else {
            qemu_mutex_unlock(&c->lock);
        }
        ret = r->ret;
        if (!r->conn_error && res) {
            res->extent_len = r->extent_len;
            res->extent_flags = r->extent_flags;
        }
        if (!r->conn_error) {
            nbd_conn_put_slot(c, i);
            return ret;
        }
        nbd_conn_put_slot(c, i);
        if (deadline < 0) {
            deadline = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
                       s->reconnect_delay_ns;
        }
        if (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) >= deadline) {
            return -EIO;
        }
    }
}

/* Splits requests longer than the server takes at once. */
static int coroutine_fn nbd_co_request_split(BDRVNBDState *s, uint16_t type,
                                             uint16_t flags, int64_t offset,
                                             int64_t bytes,
                                             QEMUIOVector *qiov)
{
    uint64_t max = s->max_payload;
    int64_t done = 0;

    while (done < bytes) {
        uint64_t len = MIN((uint64_t)(bytes - done), max);
        NBDRequest req = {
            .type = type, .flags = flags, .from = offset + done, .len = len,
        };
        QEMUIOVector slice;
        int ret;

        if (len == (uint64_t)bytes) {
            ret = nbd_co_request(s, &req, type == NBD_CMD_READ ? qiov : NULL,
                                 type == NBD_CMD_WRITE ? qiov : NULL, NULL);
        } else {
            qemu_iovec_init_slice(&slice, qiov, done, len);
            ret = nbd_co_request(s, &req,
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
    BDRVNBDState *s = bs->opaque;

    if (flags & BDRV_REQ_PREFETCH) {
        NBDRequest req = {
            .type = NBD_CMD_CACHE, .from = offset, .len = bytes,
        };

        if (!(s->info.flags & NBD_FLAG_SEND_CACHE)) {
            return 0;
        }
        return nbd_co_request(s, &req, NULL, NULL, NULL);
    }
    return nbd_co_request_split(s, NBD_CMD_READ, 0, offset, bytes, qiov);
}

static int coroutine_fn nbd_co_pwritev(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       BdrvRequestFlags flags)
{
    BDRVNBDState *s = bs->opaque;
    uint16_t nflags = (flags & BDRV_REQ_FUA) ? NBD_CMD_FLAG_FUA : 0;

    return nbd_co_request_split(s, NBD_CMD_WRITE, nflags, offset, bytes,
                                qiov);
}

/* Largest effect length of a request without payload. */
static uint64_t nbd_max_effect_len(BDRVNBDState *s)
{
    uint32_t align = s->info.has_block_sizes ? s->info.min_block : 1;

    if (s->conns[0]->mode == NBD_MODE_EXTENDED) {
        return QEMU_ALIGN_DOWN((uint64_t)INT64_MAX, align);
    }
    return QEMU_ALIGN_DOWN((uint64_t)UINT32_MAX, align);
}

static int coroutine_fn nbd_co_range_cmd(BDRVNBDState *s, uint16_t type,
                                         uint16_t flags, int64_t offset,
                                         int64_t bytes)
{
    uint64_t max = nbd_max_effect_len(s);

    while (bytes > 0) {
        NBDRequest req = {
            .type = type, .flags = flags, .from = offset,
            .len = MIN((uint64_t)bytes, max),
        };
        int ret = nbd_co_request(s, &req, NULL, NULL, NULL);

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
    BDRVNBDState *s = bs->opaque;
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
    BDRVNBDState *s = bs->opaque;

    if (!(s->info.flags & NBD_FLAG_SEND_TRIM)) {
        return 0;
    }
    return nbd_co_range_cmd(s, NBD_CMD_TRIM, 0, offset, bytes);
}

static int coroutine_fn nbd_co_flush(BlockDriverState *bs)
{
    BDRVNBDState *s = bs->opaque;
    NBDRequest req = { .type = NBD_CMD_FLUSH };

    if (!(s->info.flags & NBD_FLAG_SEND_FLUSH)) {
        return 0;
    }
    return nbd_co_request(s, &req, NULL, NULL, NULL);
}

static int coroutine_fn nbd_co_block_status(BlockDriverState *bs,
                                            bool want_zero, int64_t offset,
                                            int64_t bytes, int64_t *pnum,
                                            int64_t *map,
                                            BlockDriverState **file)
{
    BDRVNBDState *s = bs->opaque;
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
    ret = nbd_co_request(s, &req, NULL, NULL, &res);
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
    BDRVNBDState *s = bs->opaque;

    return s->info.size;
}

static void nbd_refresh_limits(BlockDriverState *bs, Error **errp)
{
    BDRVNBDState *s = bs->opaque;
    uint32_t min = s->info.has_block_sizes ? s->info.min_block : 1;
    uint64_t max = s->max_payload;

    bs->bl.request_alignment = min;
    bs->bl.max_transfer = QEMU_ALIGN_DOWN(max, min);
    bs->bl.max_pwrite_zeroes = QEMU_ALIGN_DOWN(MIN(nbd_max_effect_len(s),
                                                   1ULL << 31), min);
    bs->bl.pdiscard_alignment = min;
    bs->bl.opt_mem_alignment = 1;
    bs->bl.min_mem_alignment = 1;
}

/* File names and options */

/* %XX decoding of a URI component; NULL on a bad escape. */
static char *nbd_uri_unescape(const char *str, size_t len)
{
    GString *out = g_string_sized_new(len);

    for (size_t i = 0; i < len; i++) {
        if (str[i] == '%') {
            int hi, lo;

            if (len - i < 3) {
                g_string_free(out, true);
                return NULL;
            }
            hi = g_ascii_xdigit_value(str[i + 1]);
            lo = g_ascii_xdigit_value(str[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                g_string_free(out, true);
                return NULL;
            }
            g_string_append_c(out, hi << 4 | lo);
            i += 2;
        } else {
            g_string_append_c(out, str[i]);
        }
    }
    return g_string_free(out, false);
}

static bool nbd_parse_uri(const char *filename, KeyVal *options,
                          Error **errp)
{
    const char *rest, *path, *query;
    g_autofree char *export = NULL;
    g_autofree char *authority = NULL;
    bool is_unix, is_tls;

    if (strstart(filename, "nbd://", &rest)) {
        is_unix = false, is_tls = false;
    } else if (strstart(filename, "nbds://", &rest)) {
        is_unix = false, is_tls = true;
    } else if (strstart(filename, "nbd+unix://", &rest)) {
        is_unix = true, is_tls = false;
    } else if (strstart(filename, "nbds+unix://", &rest)) {
        is_unix = true, is_tls = true;
    } else if (strstart(filename, "nbd+tcp://", &rest)) {
        is_unix = false, is_tls = false;
    } else if (strstart(filename, "nbds+tcp://", &rest)) {
        is_unix = false, is_tls = true;
    } else {
        error_setg(errp, "NBD URI '%s' has an unknown scheme", filename);
        return false;
    }
    path = rest + strcspn(rest, "/?#");
    authority = g_strndup(rest, path - rest);
    if (*path == '#' || strchr(path, '#')) {
        error_setg(errp, "NBD URI '%s' may not have a fragment", filename);
        return false;
    }
    query = strchr(path, '?');
    if (*path == '/') {
        export = nbd_uri_unescape(path + 1, (query ? query : path +
                                             strlen(path)) - path - 1);
        if (!export) {
            error_setg(errp, "NBD URI '%s' has a bad %%-escape", filename);
            return false;
        }
    }
    if (export && !keyval_add(options, "export", export, errp)) {
        return false;
    }
    if (is_tls && !keyval_add(options, "tls-required", "on", errp)) {
        return false;
    }

    if (is_unix) {
        g_autofree char *sock = NULL;

        if (*authority) {
            error_setg(errp, "NBD URI '%s': a UNIX socket URI has no host",
                       filename);
            return false;
        }
        if (!query || !strstart(query + 1, "socket=", &rest) ||
            strchr(rest, '&')) {
            error_setg(errp, "NBD URI '%s' needs exactly one query "
                       "parameter: ?socket=PATH", filename);
            return false;
        }
        sock = nbd_uri_unescape(rest, strlen(rest));
        if (!sock || !*sock) {
            error_setg(errp, "NBD URI '%s' has a bad socket path", filename);
            return false;
        }
        return keyval_add(options, "server.type", "unix", errp) &&
               keyval_add(options, "server.path", sock, errp);
    } else {
        g_autofree char *host = NULL;
        const char *port = NULL;

        if (query) {
            error_setg(errp, "NBD URI '%s': TCP URIs take no query "
                       "parameters", filename);
            return false;
        }
        if (authority[0] == '[') {
            char *end = strchr(authority, ']');

            if (!end || (end[1] && end[1] != ':')) {
                error_setg(errp, "NBD URI '%s' has a bad IPv6 address",
                           filename);
                return false;
            }
            host = g_strndup(authority + 1, end - authority - 1);
            port = end[1] ? end + 2 : NULL;
        } else {
            char *colon = strchr(authority, ':');

            host = g_strndup(authority, colon ? colon - authority :
                             (ptrdiff_t)strlen(authority));
            port = colon ? colon + 1 : NULL;
        }
        if (!*host) {
            error_setg(errp, "NBD URI '%s' has no host", filename);
            return false;
        }
        if (port && (!*port || strspn(port, "0123456789") != strlen(port))) {
            error_setg(errp, "NBD URI '%s' has a bad port", filename);
            return false;
        }
        return keyval_add(options, "server.type", "inet", errp) &&
               keyval_add(options, "server.host", host, errp) &&
               keyval_add(options, "server.port",
                          port ? port : G_STRINGIFY(NBD_DEFAULT_PORT), errp);
    }
}

/* The legacy form nbd:unix:PATH[:exportname=X] or nbd:HOST:PORT[:...]. */
static bool nbd_parse_legacy(const char *filename, KeyVal *options,
                             Error **errp)
{
    const char *rest = filename + strlen("nbd:");
    g_autofree char *spec = NULL;
    const char *export = strstr(rest, ":exportname=");

    spec = g_strndup(rest, export ? export - rest :
                     (ptrdiff_t)strlen(rest));
    if (export && !keyval_add(options, "export",
                              export + strlen(":exportname="), errp)) {
        return false;
    }
    if (g_str_has_prefix(spec, "unix:")) {
        if (!spec[5]) {
            error_setg(errp, "NBD file name '%s' has no socket path",
                       filename);
            return false;
        }
        return keyval_add(options, "server.type", "unix", errp) &&
               keyval_add(options, "server.path", spec + 5, errp);
    } else {
        char *colon = strrchr(spec, ':');

        if (!colon || colon == spec || !colon[1]) {
            error_setg(errp, "NBD file name '%s' should be nbd:HOST:PORT "
                       "or nbd:unix:PATH", filename);
            return false;
        }
        *colon = '\0';
        if (spec[0] == '[' && colon[-1] == ']') {
            colon[-1] = '\0';
            memmove(spec, spec + 1, strlen(spec));
        }
        return keyval_add(options, "server.type", "inet", errp) &&
               keyval_add(options, "server.host", spec, errp) &&
               keyval_add(options, "server.port", colon + 1, errp);
    }
}

static bool nbd_parse_filename(const char *filename, KeyVal *options,
                               Error **errp)
{
    if (strstr(filename, "://")) {
        return nbd_parse_uri(filename, options, errp);
    }
    if (g_str_has_prefix(filename, "nbd:")) {
        return nbd_parse_legacy(filename, options, errp);
    }
    error_setg(errp, "'%s' is not an NBD file name", filename);
    return false;
}

static SocketAddress *nbd_config_address(const KeyVal *options, Error **errp)
{
    const char *type = keyval_get(options, "server.type");
    const char *path = keyval_get(options, "server.path");
    const char *host = keyval_get(options, "server.host");
    const char *port = keyval_get(options, "server.port");
    SocketAddress *addr;

    /* The old flat spelling: path=, host=, port=. */
    if (!type && !path && !host) {
        path = keyval_get(options, "path");
        host = keyval_get(options, "host");
        port = keyval_get(options, "port");
        type = path ? "unix" : host ? "inet" : NULL;
    }
    if (!type) {
        error_setg(errp, "NBD server address missing (give server.type "
                   "and server.path or server.host)");
        return NULL;
    }
    addr = g_new0(SocketAddress, 1);
    if (!strcmp(type, "unix")) {
        if (!path || !*path || host) {
            error_setg(errp, "a UNIX socket NBD server needs server.path "
                       "(and no host)");
            goto fail;
        }
        addr->type = SOCKET_ADDRESS_TYPE_UNIX;
        addr->u.q_unix.path = g_strdup(path);
    } else if (!strcmp(type, "inet")) {
        if (!host || !*host || path) {
            error_setg(errp, "a TCP NBD server needs server.host "
                       "(and no path)");
            goto fail;
        }
        addr->type = SOCKET_ADDRESS_TYPE_INET;
        addr->u.inet.host = g_strdup(host);
        addr->u.inet.port = g_strdup(port ? port :
                                     G_STRINGIFY(NBD_DEFAULT_PORT));
    } else {
        error_setg(errp, "unknown NBD server.type '%s' (inet or unix)",
                   type);
        goto fail;
    }
    return addr;

fail:
    qapi_free_SocketAddress(addr);
    return NULL;
}

static NBDConn *nbd_conn_new(BDRVNBDState *s)
{
    NBDConn *c = g_new0(NBDConn, 1);

    c->s = s;
    qatomic_set(&c->state, NBD_CONN_FAILED);
    qemu_co_mutex_init(&c->send_mutex);
    qemu_mutex_init(&c->lock);
    qemu_co_queue_init(&c->free_slots);
    qemu_co_queue_init(&c->reconnect_waiters);
    return c;
}

static void nbd_conn_free(NBDConn *c)
{
    if (!c) {
        return;
    }
    if (c->ioc) {
        qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
        object_unref(OBJECT(c->ioc));
    }
    if (c->sioc) {
        object_unref(OBJECT(c->sioc));
    }
    qemu_mutex_destroy(&c->lock);
    g_free(c);
}

typedef struct NBDOpenJob {
    BDRVNBDState *s;
    unsigned int want_conns;
    int ret;
    bool done;
    Error *err;
} NBDOpenJob;

/* Connects every connection, retrying the first until open-timeout. */
static void coroutine_fn nbd_open_entry(void *opaque)
{
    NBDOpenJob *job = opaque;
    BDRVNBDState *s = job->s;
    int64_t deadline = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
                       s->open_timeout_ns;
    QIOChannelSocket *sioc;
    QIOChannel *ioc;
    NBDExportInfo info;

    job->ret = -EIO;
    for (;;) {
        int64_t left = deadline - qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

        error_free(job->err);
        job->err = NULL;
        /*
         * open-timeout is how long to keep retrying connections that
         * fail; a server that answers gets the whole handshake limit.
         */
        if (nbd_connect_once(s, NBD_CONNECT_TIMEOUT_NS, &sioc, &ioc,
                             &s->info, &job->err) == 0) {
            break;
        }
        if (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) >= deadline) {
            goto out;
        }
        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, MIN(NBD_RECONNECT_PAUSE_NS,
                                                  MAX(left, 1)));
    }
    s->conns[0] = nbd_conn_new(s);
    s->nconns = 1;
    nbd_conn_install(s->conns[0], sioc, ioc, &s->info);

    if (job->want_conns > 1 && !(s->info.flags & NBD_FLAG_CAN_MULTI_CONN)) {
        warn_report("the NBD server does not allow multi-conn on export "
                    "'%s': using one connection", s->export);
        job->want_conns = 1;
    }
    while (s->nconns < job->want_conns) {
        if (nbd_connect_once(s, NBD_CONNECT_TIMEOUT_NS, &sioc, &ioc, &info,
                             &job->err) < 0) {
            error_prepend(&job->err, "connection %u of %u: ",
                          s->nconns + 1, job->want_conns);
            goto out;
        }
        if (!nbd_info_compatible(s, &info, &job->err) ||
            info.mode != s->conns[0]->mode) {
            if (!job->err) {
                error_setg(&job->err, "connections of one export "
                           "negotiated different modes");
            }
            nbd_export_info_clear(&info);
            object_unref(OBJECT(ioc));
            object_unref(OBJECT(sioc));
            goto out;
        }
        s->conns[s->nconns] = nbd_conn_new(s);
        nbd_conn_install(s->conns[s->nconns], sioc, ioc, &info);
        nbd_export_info_clear(&info);
        s->nconns++;
    }
    job->ret = 0;
out:
    qatomic_store_release(&job->done, true);
    aio_wait_kick();
}

static void nbd_close_conns(BDRVNBDState *s)
{
    for (unsigned int i = 0; i < s->nconns; i++) {
        NBDConn *c = s->conns[i];

        qemu_mutex_lock(&c->lock);
        qatomic_set(&c->state, NBD_CONN_CLOSED);
        qemu_mutex_unlock(&c->lock);
    }
    /*
     * Nothing of ours runs any more: bdrv_close() drained the node (the
     * reader and reconnect coroutines count as in flight), and a failed
     * open never started them.
     */
    for (unsigned int i = 0; i < s->nconns; i++) {
        NBDConn *c = s->conns[i];

        nbd_conn_free(c);
        s->conns[i] = NULL;
    }
    s->nconns = 0;
}

static int nbd_open(BlockDriverState *bs, const KeyVal *options, int flags,
                    Error **errp)
{
    BDRVNBDState *s = bs->opaque;
    const char *export = keyval_get(options, "export");
    const char *creds_id = keyval_get(options, "tls-creds");
    const char *hostname = keyval_get(options, "tls-hostname");
    bool tls_required;
    uint64_t delay, open_timeout, nconns;
    NBDOpenJob job = { .s = s };

    s->bs = bs;
    if (!keyval_get_bool(options, "tls-required", false, &tls_required,
                         errp) ||
        !keyval_get_uint64(options, "reconnect-delay", 0, &delay, errp) ||
        !keyval_get_uint64(options, "open-timeout", 0, &open_timeout,
                           errp) ||
        !keyval_get_uint64(options, "multi-conn", 1, &nconns, errp)) {
        return -EINVAL;
    }
    if (delay > 3600 || open_timeout > 3600) {
        error_setg(errp, "reconnect-delay and open-timeout may not exceed "
                   "3600 seconds");
        return -EINVAL;
    }
    if (nconns < 1 || nconns > NBD_MAX_MULTI_CONN) {
        error_setg(errp, "multi-conn must be between 1 and %d",
                   NBD_MAX_MULTI_CONN);
        return -EINVAL;
    }
    if (export && strlen(export) > NBD_MAX_STRING_SIZE) {
        error_setg(errp, "export name is longer than %d bytes",
                   NBD_MAX_STRING_SIZE);
        return -EINVAL;
    }
    if (tls_required && !creds_id) {
        error_setg(errp, "TLS (nbds) needs the tls-creds option");
        return -EINVAL;
    }
    if (hostname && !creds_id) {
        error_setg(errp, "tls-hostname needs tls-creds");
        return -EINVAL;
    }
    s->addr = nbd_config_address(options, errp);
    if (!s->addr) {
        return -EINVAL;
    }
    if (creds_id) {
        s->tls_creds = qcrypto_tls_creds_find(creds_id,
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
    s->export = g_strdup(export ? export : "");
    s->tls_hostname = g_strdup(hostname);
    s->reconnect_delay_ns = delay * NANOSECONDS_PER_SECOND;
    s->open_timeout_ns = open_timeout * NANOSECONDS_PER_SECOND;
    job.want_conns = nconns;

    aio_co_enter(bdrv_get_aio_context(bs),
                 qemu_coroutine_create(nbd_open_entry, &job));
    AIO_WAIT_WHILE(bdrv_get_aio_context(bs),
                   !qatomic_load_acquire(&job.done));
    if (job.ret < 0) {
        error_propagate(errp, job.err);
        goto fail;
    }
    error_free(job.err);

    if ((s->info.flags & NBD_FLAG_READ_ONLY) && (flags & BDRV_O_RDWR)) {
        error_setg(errp, "the NBD export '%s' is read-only (open it "
                   "read-only)", s->export);
        goto fail;
    }
    s->max_payload = NBD_MAX_BUFFER_SIZE;
    if (s->info.has_block_sizes && s->info.max_block < s->max_payload) {
        s->max_payload = s->info.max_block;
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
    nbd_close_conns(s);
    nbd_export_info_clear(&s->info);
    qapi_free_SocketAddress(s->addr);
    s->addr = NULL;
    if (s->tls_creds) {
        object_unref(OBJECT(s->tls_creds));
        s->tls_creds = NULL;
    }
    g_free(s->export);
    g_free(s->tls_hostname);
    return -EINVAL;
}

/* Tells the server we are going (NBD_CMD_DISC), best effort. */
static void coroutine_fn nbd_disconnect_entry(void *opaque)
{
    NBDOpenJob *job = opaque;
    BDRVNBDState *s = job->s;

    for (unsigned int i = 0; i < s->nconns; i++) {
        NBDConn *c = s->conns[i];
        NBDRequest req = { .type = NBD_CMD_DISC, .cookie = 0 };
        uint8_t hdr[NBD_EXTENDED_REQUEST_SIZE];
        size_t len;

        if (qatomic_read(&c->state) != NBD_CONN_CONNECTED) {
            continue;
        }
        len = nbd_encode_request(hdr, &req, c->mode);
        qio_channel_write_all(c->ioc, (char *)hdr, len, NULL);
        if (c->ioc != QIO_CHANNEL(c->sioc)) {
            qio_channel_tls_bye(QIO_CHANNEL_TLS(c->ioc), NULL);
        }
    }
    qatomic_store_release(&job->done, true);
    aio_wait_kick();
}

static void nbd_close(BlockDriverState *bs)
{
    BDRVNBDState *s = bs->opaque;
    NBDOpenJob job = { .s = s };

    aio_co_enter(bdrv_get_aio_context(bs),
                 qemu_coroutine_create(nbd_disconnect_entry, &job));
    AIO_WAIT_WHILE(bdrv_get_aio_context(bs),
                   !qatomic_load_acquire(&job.done));
    nbd_close_conns(s);
    nbd_export_info_clear(&s->info);
    qapi_free_SocketAddress(s->addr);
    if (s->tls_creds) {
        object_unref(OBJECT(s->tls_creds));
    }
    g_free(s->export);
    g_free(s->tls_hostname);
}

const BlockDriver bdrv_nbd = {
    .format_name = "nbd",
    .protocol_name = "nbd",
    .protocol_aliases = (const char *const[]) {
        "nbd+unix", "nbds", "nbds+unix", "nbd+tcp", "nbds+tcp", NULL,
    },
    .instance_size = sizeof(BDRVNBDState),
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
