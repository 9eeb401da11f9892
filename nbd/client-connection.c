/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nbd block driver's connections: connecting and negotiating,
 * reconnecting, the state machine of each connection, request slots and
 * cookies, sending requests and the reader coroutine that hands replies
 * to their requests (the reply checks are in client-reply.c, the driver's
 * callbacks in block/nbd.c).
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
 * Shared between threads: the NBDConn fields listed under its lock below
 * (request coroutines, the reader and the reconnect coroutine may run in
 * different iothreads). The session's configuration (NBDClientSession) is
 * written at open, before any coroutine of ours runs, and read-only
 * after.
 */
#include "qemu/osdep.h"
#include "client-internal.h"
#include "block/block.h"
#include "block/thread-pool.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "qom/object.h"
#include "nbd/trace.h"

#define NANOSECONDS_PER_SECOND  1000000000LL
/* Time limit of one connection attempt (connect and negotiation). */
#define NBD_CONNECT_TIMEOUT_NS  (10 * NANOSECONDS_PER_SECOND)
/* Pause between reconnection attempts. */
#define NBD_RECONNECT_PAUSE_NS  (NANOSECONDS_PER_SECOND / 4)

/*
 * The states of a connection, and who moves it from one to another (all
 * through nbd_conn_set_state_locked(), which refuses anything else):
 *
 *   from \ to     CONNECTED     RECONNECTING      FAILED       CLOSED
 *   CONNECTED     -             broken, delay>0   broken,      close
 *                                                 no delay
 *   RECONNECTING  reconnected   -                 delay over   close
 *   FAILED        first connect a request's one   -            close
 *                               retry
 *   CLOSED        -             -                 -            -
 *
 * A connection starts FAILED (no channel, no reconnect running) and
 * becomes CONNECTED when its first channel is installed. CLOSED is final:
 * it is set when the node closes, after the drain that ended every
 * coroutine of ours, so nothing can install a channel afterwards (and
 * nbd_conn_install() refuses to, should it try).
 */
typedef enum NBDConnState {
    NBD_CONN_CONNECTED,
    NBD_CONN_RECONNECTING,      /* requests wait for the reconnect co */
    NBD_CONN_FAILED,            /* no connection: requests fail */
    NBD_CONN_CLOSED,            /* the node is closing */
    NBD_CONN_STATE__MAX,
} NBDConnState;

static const char *const nbd_conn_state_name[NBD_CONN_STATE__MAX] = {
    [NBD_CONN_CONNECTED] = "connected",
    [NBD_CONN_RECONNECTING] = "reconnecting",
    [NBD_CONN_FAILED] = "failed",
    [NBD_CONN_CLOSED] = "closed",
};

static const bool nbd_conn_transition_ok[NBD_CONN_STATE__MAX]
                                        [NBD_CONN_STATE__MAX] = {
    [NBD_CONN_CONNECTED] = {
        [NBD_CONN_RECONNECTING] = true,
        [NBD_CONN_FAILED] = true,
        [NBD_CONN_CLOSED] = true,
    },
    [NBD_CONN_RECONNECTING] = {
        [NBD_CONN_CONNECTED] = true,
        [NBD_CONN_FAILED] = true,
        [NBD_CONN_CLOSED] = true,
    },
    [NBD_CONN_FAILED] = {
        [NBD_CONN_CONNECTED] = true,
        [NBD_CONN_RECONNECTING] = true,
        [NBD_CONN_CLOSED] = true,
    },
};

/* A request slot of a connection. */
typedef struct NBDConnReq {
    bool used;
    bool pending;               /* the reply is not complete */
    bool conn_error;            /* ended by a broken connection */
    uint64_t gen;               /* connection generation it was sent on */
    uint64_t cookie;
    Coroutine *co;              /* waiting for the reply */
    NBDReplyState rs;           /* what the reply reader fills in */
} NBDConnReq;

struct NBDConn {
    NBDClientSession *s;
    /* Keeps requests whole on the wire (header and payload). */
    CoMutex send_mutex;

    /*
     * Protects every field below it, and the slots' fields other than
     * rs (which belongs to the request's coroutine until it is sent,
     * then to the reader until the reply is complete).
     * Reads outside the lock:
     * - state and nr_used, written under the lock with qatomic_set(), are
     *   read with qatomic_read() by nbd_pick_conn(), where a stale value
     *   only makes a worse choice (nbd_conn_get_slot() looks again under
     *   the lock);
     * - nbd_session_disconnect() reads state, ioc, sioc and mode at close,
     *   when the node is drained and nothing else of ours runs;
     * - the reader reads mode and context_id once, under the lock, for
     *   its generation.
     */
    QemuMutex lock;
    NBDConnState state;         /* only nbd_conn_set_state_locked() */
    QIOChannelSocket *sioc;     /* NULL when not connected */
    QIOChannel *ioc;            /* sioc or the TLS channel over it */
    NBDMode mode;
    uint32_t context_id;
    uint64_t gen;               /* bumped by each new connection */
    uint64_t seq;               /* cookie counter */
    unsigned int nr_used;
    bool reader_running;        /* a reader for reader_gen runs */
    uint64_t reader_gen;
    bool reconnect_running;
    int64_t reconnect_deadline; /* QEMU_CLOCK_REALTIME ns */
    CoQueue free_slots;
    CoQueue reconnect_waiters;
    NBDConnReq reqs[NBD_CONN_MAX_REQUESTS];
};

/* The state machine */

/*
 * The one place that changes c->state. With c->lock held. A transition
 * the table above does not allow is a bug of ours: abort.
 */
static void nbd_conn_set_state_locked(NBDConn *c, NBDConnState new_state)
{
    NBDConnState old = c->state;

    assert(old < NBD_CONN_STATE__MAX && new_state < NBD_CONN_STATE__MAX);
    if (!nbd_conn_transition_ok[old][new_state]) {
        error_report("nbd: connection %p: state %s may not become %s",
                     c, nbd_conn_state_name[old],
                     nbd_conn_state_name[new_state]);
        abort();
    }
    trace_nbd_conn_state(c, nbd_conn_state_name[old],
                         nbd_conn_state_name[new_state]);
    qatomic_set(&c->state, new_state);
}

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
static int coroutine_fn nbd_connect_once(NBDClientSession *s,
                                         int64_t timeout_ns,
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

/* Drops the channels of a connection attempt that is not used. */
static void nbd_channels_drop(QIOChannelSocket *sioc, QIOChannel *ioc)
{
    qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    object_unref(OBJECT(ioc));
    object_unref(OBJECT(sioc));
}

/* Is what a server says now compatible with what the node was opened on? */
static bool nbd_info_compatible(NBDClientSession *s,
                                const NBDExportInfo *info, Error **errp)
{
    if (info->size != s->info.size) {
        error_setg(errp, "the export's size changed from %" PRIu64
                   " to %" PRIu64, s->info.size, info->size);
        return false;
    }
    if ((info->flags & NBD_FLAG_READ_ONLY) &&
        (bdrv_get_flags(s->bs) & BDRV_O_RDWR)) {
        error_setg(errp, "the export became read-only");
        return false;
    }
    if (info->has_block_sizes && s->info.has_block_sizes &&
        info->min_block > s->info.min_block) {
        error_setg(errp, "the export's minimum block size grew");
        return false;
    }
    if (s->info.mode == NBD_MODE_EXTENDED &&
        info->mode != NBD_MODE_EXTENDED) {
        /* The node's limits allow requests longer than 32 bits. */
        error_setg(errp, "the server no longer offers extended headers");
        return false;
    }
    return true;
}

/*
 * Installs a negotiated connection in @c. Returns false (and leaves the
 * channels to the caller) when @c is closed.
 */
static bool nbd_conn_install(NBDConn *c, QIOChannelSocket *sioc,
                             QIOChannel *ioc, const NBDExportInfo *info)
{
    QIOChannelSocket *old_sioc;
    QIOChannel *old_ioc;

    qemu_mutex_lock(&c->lock);
    if (c->state == NBD_CONN_CLOSED) {
        qemu_mutex_unlock(&c->lock);
        return false;
    }
    old_sioc = c->sioc;
    old_ioc = c->ioc;
    c->sioc = sioc;
    c->ioc = ioc;
    c->mode = info->mode;
    c->context_id = info->context_id;
    c->gen++;
    nbd_conn_set_state_locked(c, NBD_CONN_CONNECTED);
    qemu_mutex_unlock(&c->lock);
    if (old_ioc) {
        object_unref(OBJECT(old_ioc));
    }
    if (old_sioc) {
        object_unref(OBJECT(old_sioc));
    }
    return true;
}

/* Reconnection */

static void coroutine_fn nbd_reconnect_entry(void *opaque)
{
    NBDConn *c = opaque;
    NBDClientSession *s = c->s;
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
                bool installed = nbd_conn_install(c, sioc, ioc, &info);

                nbd_export_info_clear(&info);
                if (!installed) {
                    nbd_channels_drop(sioc, ioc);
                }
                trace_nbd_reconnected(c);
                qemu_mutex_lock(&c->lock);
                c->reconnect_running = false;
                qemu_co_queue_restart_all(&c->reconnect_waiters);
                qemu_mutex_unlock(&c->lock);
                break;
            }
            nbd_export_info_clear(&info);
            nbd_channels_drop(sioc, ioc);
        }
        now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
        qemu_mutex_lock(&c->lock);
        if (now >= c->reconnect_deadline || c->state == NBD_CONN_CLOSED) {
            if (c->state != NBD_CONN_CLOSED) {
                nbd_conn_set_state_locked(c, NBD_CONN_FAILED);
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
static void nbd_conn_start_reconnect_locked(NBDConn *c, int64_t deadline)
{
    Coroutine *co;

    nbd_conn_set_state_locked(c, NBD_CONN_RECONNECTING);
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
    NBDClientSession *s = c->s;

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
        nbd_conn_start_reconnect_locked(
            c, qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
               s->reconnect_delay_ns);
    } else {
        nbd_conn_set_state_locked(c, NBD_CONN_FAILED);
    }
    qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    qemu_mutex_unlock(&c->lock);
}

/* The reader */

/* With c->lock held: the reply of @r is complete. */
static Coroutine *nbd_req_complete_locked(NBDConnReq *r)
{
    Coroutine *co = r->co;

    r->pending = false;
    r->co = NULL;
    nbd_reply_state_cleanup(&r->rs);
    return co;
}

/* With c->lock held: are replies pending on connection generation @gen? */
static bool nbd_conn_pending_locked(NBDConn *c, uint64_t gen)
{
    for (int i = 0; i < NBD_CONN_MAX_REQUESTS; i++) {
        if (c->reqs[i].used && c->reqs[i].pending &&
            c->reqs[i].gen == gen) {
            return true;
        }
    }
    return false;
}

/* One reader coroutine's view of its connection. */
typedef struct NBDConnReader {
    NBDReplyReader rd;          /* rd.opaque is the NBDConn */
    NBDConn *conn;
    uint64_t gen;
} NBDConnReader;

/* NBDReplyLookupFunc: the pending request of @cookie on the reader's gen. */
static NBDReplyState *nbd_conn_lookup(const NBDReplyReader *rd,
                                      uint64_t cookie)
{
    const NBDConnReader *rdr = container_of(rd, NBDConnReader, rd);
    NBDConn *c = rdr->conn;
    NBDConnReq *r = &c->reqs[cookie % NBD_CONN_MAX_REQUESTS];
    bool ok;

    qemu_mutex_lock(&c->lock);
    ok = r->used && r->pending && r->cookie == cookie && r->gen == rdr->gen;
    qemu_mutex_unlock(&c->lock);
    return ok ? &r->rs : NULL;
}

/* Reads the replies of connection generation @gen while any is pending. */
static void coroutine_fn nbd_reader_entry(void *opaque)
{
    NBDConnReader *rdr = opaque;
    NBDConn *c = rdr->conn;
    uint64_t gen = rdr->gen;
    BlockDriverState *bs = c->s->bs;
    QIOChannel *ioc = NULL;
    NBDRecvBuf rb = { 0 };

    qemu_mutex_lock(&c->lock);
    if (c->gen == gen && c->state == NBD_CONN_CONNECTED) {
        ioc = c->ioc;
        object_ref(OBJECT(ioc));
    }
    rdr->rd = (NBDReplyReader) {
        .mode = c->mode,
        .context_id = c->context_id,
        .lookup = nbd_conn_lookup,
        .opaque = c,
    };
    qemu_mutex_unlock(&c->lock);

    for (;;) {
        Error *err = NULL;
        Coroutine *wake[NBD_CONN_MAX_REQUESTS];
        NBDReplyState *st;
        unsigned int n = 0;
        int ret = ioc ? nbd_receive_reply(&rb, ioc, &rdr->rd, &st, &err)
                      : -1;

        if (ret == 1) {
            NBDConnReq *r = container_of(st, NBDConnReq, rs);
            Coroutine *co;

            qemu_mutex_lock(&c->lock);
            co = nbd_req_complete_locked(r);
            qemu_mutex_unlock(&c->lock);
            if (co) {
                aio_co_wake(co);
            }
        }
        if (ret >= 0) {
            qemu_mutex_lock(&c->lock);
            if (nbd_conn_pending_locked(c, gen)) {
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
                wake[n] = nbd_req_complete_locked(r);
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
    g_free(rdr);
    bdrv_dec_in_flight(bs);
}

/* Requests */

/* The connected connection with the fewest requests, else the first. */
static NBDConn *nbd_pick_conn(NBDClientSession *s)
{
    NBDConn *best = s->conns[0];
    unsigned int best_used = UINT_MAX;

    for (unsigned int i = 0; i < s->nconns && s->nconns > 1; i++) {
        NBDConn *c = s->conns[i];
        unsigned int used;

        /* Unlocked: a hint only (see NBDConn.lock). */
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
    NBDConnReader *reader = NULL;
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
            nbd_conn_start_reconnect_locked(c, 0);
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
        reader = g_new0(NBDConnReader, 1);
        reader->conn = c;
        reader->gen = c->gen;
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
        r->rs.req.cookie = r->cookie;
        hlen = nbd_encode_request(hdr, &r->rs.req, c->mode);
        trace_nbd_send_request(c, r->rs.req.cookie,
                               nbd_cmd_name(r->rs.req.type),
                               r->rs.req.flags, r->rs.req.from,
                               r->rs.req.len);
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
        error_prepend(&err, "sending %s: ", nbd_cmd_name(r->rs.req.type));
        nbd_conn_broken(c, r->gen, err);
    }
    object_unref(OBJECT(ioc));
}

int coroutine_fn nbd_co_send_request(NBDClientSession *s,
                                     const NBDRequest *req,
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
        r->rs.req = *req;
        r->rs.qiov = rqiov;
        nbd_conn_send(c, i, wqiov);

        qemu_mutex_lock(&c->lock);
        if (r->pending) {
            r->co = qemu_coroutine_self();
            qemu_mutex_unlock(&c->lock);
            qemu_coroutine_yield();
        } else {
            qemu_mutex_unlock(&c->lock);
        }
        ret = r->rs.ret;
        if (!r->conn_error && res) {
            res->extent_len = r->rs.extent_len;
            res->extent_flags = r->rs.extent_flags;
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

/* Opening and closing */

static NBDConn *nbd_conn_new(NBDClientSession *s)
{
    NBDConn *c = g_new0(NBDConn, 1);

    c->s = s;
    /* The initial state, before any transition: see the table. */
    c->state = NBD_CONN_FAILED;
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

/* Adds a connection over the negotiated channels to @s. */
static void nbd_session_add_conn(NBDClientSession *s, QIOChannelSocket *sioc,
                                 QIOChannel *ioc, const NBDExportInfo *info)
{
    NBDConn *c = nbd_conn_new(s);
    bool installed = nbd_conn_install(c, sioc, ioc, info);

    assert(installed);
    s->conns[s->nconns++] = c;
}

int coroutine_fn nbd_session_connect(NBDClientSession *s,
                                     unsigned int want_conns, Error **errp)
{
    ERRP_GUARD();
    int64_t deadline = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
                       s->open_timeout_ns;
    QIOChannelSocket *sioc;
    QIOChannel *ioc;
    NBDExportInfo info;
    Error *err = NULL;

    assert(want_conns >= 1 && want_conns <= NBD_MAX_MULTI_CONN);
    for (;;) {
        int64_t left = deadline - qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

        error_free(err);
        err = NULL;
        /*
         * open-timeout is how long to keep retrying connections that
         * fail; a server that answers gets the whole handshake limit.
         */
        if (nbd_connect_once(s, NBD_CONNECT_TIMEOUT_NS, &sioc, &ioc,
                             &s->info, &err) == 0) {
            break;
        }
        if (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) >= deadline) {
            error_propagate(errp, err);
            return -1;
        }
        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, MIN(NBD_RECONNECT_PAUSE_NS,
                                                  MAX(left, 1)));
    }
    nbd_session_add_conn(s, sioc, ioc, &s->info);

    if (want_conns > 1 && !(s->info.flags & NBD_FLAG_CAN_MULTI_CONN)) {
        warn_report("the NBD server does not allow multi-conn on export "
                    "'%s': using one connection", s->export);
        want_conns = 1;
    }
    while (s->nconns < want_conns) {
        if (nbd_connect_once(s, NBD_CONNECT_TIMEOUT_NS, &sioc, &ioc, &info,
                             errp) < 0) {
            error_prepend(errp, "connection %u of %u: ",
                          s->nconns + 1, want_conns);
            return -1;
        }
        if (!nbd_info_compatible(s, &info, errp) ||
            info.mode != s->info.mode) {
            if (!*errp) {
                error_setg(errp, "connections of one export "
                           "negotiated different modes");
            }
            nbd_export_info_clear(&info);
            object_unref(OBJECT(ioc));
            object_unref(OBJECT(sioc));
            return -1;
        }
        nbd_session_add_conn(s, sioc, ioc, &info);
        nbd_export_info_clear(&info);
    }
    return 0;
}

void coroutine_fn nbd_session_disconnect(NBDClientSession *s)
{
    for (unsigned int i = 0; i < s->nconns; i++) {
        NBDConn *c = s->conns[i];
        NBDRequest req = { .type = NBD_CMD_DISC, .cookie = 0 };
        uint8_t hdr[NBD_EXTENDED_REQUEST_SIZE];
        size_t len;

        /* Unlocked: nothing else of the node runs (see NBDConn.lock). */
        if (qatomic_read(&c->state) != NBD_CONN_CONNECTED) {
            continue;
        }
        len = nbd_encode_request(hdr, &req, c->mode);
        qio_channel_write_all(c->ioc, (char *)hdr, len, NULL);
        if (c->ioc != QIO_CHANNEL(c->sioc)) {
            qio_channel_tls_bye(QIO_CHANNEL_TLS(c->ioc), NULL);
        }
    }
}

void nbd_session_close(NBDClientSession *s)
{
    for (unsigned int i = 0; i < s->nconns; i++) {
        NBDConn *c = s->conns[i];

        qemu_mutex_lock(&c->lock);
        nbd_conn_set_state_locked(c, NBD_CONN_CLOSED);
        qemu_mutex_unlock(&c->lock);
    }
    /*
     * Nothing of ours runs any more: bdrv_close() drained the node (the
     * reader and reconnect coroutines count as in flight), and a failed
     * open never started them.
     */
    for (unsigned int i = 0; i < s->nconns; i++) {
        nbd_conn_free(s->conns[i]);
        s->conns[i] = NULL;
    }
    s->nconns = 0;
}
