/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * io_uring back end of the file driver: one ring per AioContext.
 *
 * Theory of operation: a ring belongs to one AioContext and is touched
 * only by that context's thread, except for its creation, reference
 * counting and the scheduling of its destruction, which the main thread
 * does. A request coroutine (running in the ring's context) fills a
 * submission entry that points at a LuringRequest on its stack and
 * yields; a bottom half submits every entry queued during the current
 * event loop iteration at once. The kernel signals completions on an
 * eventfd registered with the ring; its handler, in the same context,
 * stores each result and wakes the request's coroutine with aio_co_wake().
 *
 * When the context's fd monitor is itself io_uring, requests go to that
 * ring instead (aio_add_sqe()): submitted by the event loop's own
 * io_uring_enter, completed without the eventfd hop. The private ring
 * then stays idle; it still serves epoll contexts.
 *
 * The ring is kept as the context's private data while it has users
 * (file nodes with aio=io_uring in that context); the last luring_put()
 * detaches it from the context at once and frees it from a bottom half
 * of the context (or directly in the context's own thread).
 */
#include "qemu/osdep.h"
#include "block/raw-aio.h"
#include "qemu/coroutine.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"

#include <liburing.h>
#include <sys/eventfd.h>

enum {
    LURING_ENTRIES = 128,
    /* Requests in flight at most: the completion queue's size. */
    LURING_MAX_IN_FLIGHT = 2 * LURING_ENTRIES,
    /* Submit at once when this many entries are queued. */
    LURING_MAX_BATCH = LURING_ENTRIES / 2,
};

typedef struct LuringRequest {
    Coroutine *co;
    int ret;
} LuringRequest;

struct LuringState {
    struct io_uring ring;
    AioContext *ctx;
    int efd;                    /* eventfd signalled on completions */
    unsigned int refcnt;        /* main thread */

    /* Home thread only: */
    QEMUBH *submit_bh;
    unsigned int in_flight;     /* queued or submitted, not completed */
    CoQueue full_queue;         /* coroutines waiting for room */
};

/* Identifies our private data in AioContexts. */
static const char luring_key;

/*
 * Counts freed rings. liburing maps and unmaps its rings with raw system
 * calls, which ThreadSanitizer does not see: a new ring mapped where an
 * old one was would look like memory shared between the old ring's
 * thread and the new one's. The old thread's release (after its last
 * access, before the unmap) and the creator's acquire (after the map,
 * before anyone uses the ring) order them: a reused address means the
 * unmap came first, so the acquire sees the release.
 */
static unsigned int luring_generation;

static void luring_submit(LuringState *s)
{
    int ret;

    if (!io_uring_sq_ready(&s->ring)) {
        return;
    }
    ret = io_uring_submit(&s->ring);
    if (ret < 0 && ret != -EAGAIN && ret != -EBUSY && ret != -EINTR) {
        error_report("io_uring submission failed: %s", strerror(-ret));
    }
    if (io_uring_sq_ready(&s->ring)) {
        /* Try again when completions have made room, or soon. */
        qemu_bh_schedule_idle(s->submit_bh);
    }
}

static void luring_submit_bh(void *opaque)
{
    luring_submit(opaque);
}

static void luring_process_completions(LuringState *s)
{
    struct io_uring_cqe *cqe;

    while (io_uring_peek_cqe(&s->ring, &cqe) == 0) {
        LuringRequest *req = io_uring_cqe_get_data(cqe);

        req->ret = cqe->res;
        io_uring_cqe_seen(&s->ring, cqe);
        s->in_flight--;
        qemu_co_queue_next(&s->full_queue);
        /* We are not in a coroutine: this enters @req->co right here. */
        aio_co_wake(req->co);
    }
    luring_submit(s);
}

static void luring_completion_cb(void *opaque)
{
    LuringState *s = opaque;
    uint64_t value;

    /* Clear the signal before looking, so that none is lost. */
    while (read(s->efd, &value, sizeof(value)) < 0 && errno == EINTR) {
        /* retry */
    }
    luring_process_completions(s);
}

static bool luring_poll_cb(void *opaque)
{
    LuringState *s = opaque;

    return io_uring_cq_ready(&s->ring) > 0;
}

static void luring_poll_ready(void *opaque)
{
    luring_process_completions(opaque);
}

static void luring_free(LuringState *s)
{
    assert(s->in_flight == 0);
    aio_set_fd_handler(s->ctx, s->efd, NULL, NULL, NULL, NULL, NULL);
    qemu_bh_delete(s->submit_bh);
    qatomic_inc(&luring_generation);
    io_uring_queue_exit(&s->ring);
    close(s->efd);
    g_free(s);
}

static void luring_free_bh(void *opaque)
{
    luring_free(opaque);
}

/* The context dies with its ring still referenced (a leaked node). */
static void luring_ctx_destroy(void *opaque)
{
    LuringState *s = opaque;

    if (s) {
        qemu_bh_delete(s->submit_bh);
        qatomic_inc(&luring_generation);
        io_uring_queue_exit(&s->ring);
        close(s->efd);
        g_free(s);
    }
}

LuringState *luring_get(AioContext *ctx, Error **errp)
{
    LuringState *s = aio_context_get_private(ctx, &luring_key);
    int ret;

    if (s) {
        s->refcnt++;
        return s;
    }
    s = g_new0(LuringState, 1);
    ret = io_uring_queue_init(LURING_ENTRIES, &s->ring, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "failed to create an io_uring ring");
        g_free(s);
        return NULL;
    }
    /* After the mapping: see luring_generation. */
    (void)qatomic_load_acquire(&luring_generation);
    s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->efd < 0) {
        error_setg_errno(errp, errno, "failed to create an eventfd");
        io_uring_queue_exit(&s->ring);
        g_free(s);
        return NULL;
    }
    ret = io_uring_register_eventfd(&s->ring, s->efd);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "failed to register an eventfd with "
                         "io_uring");
        close(s->efd);
        io_uring_queue_exit(&s->ring);
        g_free(s);
        return NULL;
    }
    s->ctx = ctx;
    s->refcnt = 1;
    qemu_co_queue_init(&s->full_queue);
    s->submit_bh = aio_bh_new(ctx, luring_submit_bh, s);
    aio_set_fd_handler(ctx, s->efd, luring_completion_cb, NULL,
                       luring_poll_cb, luring_poll_ready, s);
    aio_context_set_private(ctx, &luring_key, s, luring_ctx_destroy);
    return s;
}

void luring_put(LuringState *s)
{
    assert(s->refcnt > 0);
    if (--s->refcnt > 0) {
        return;
    }
    aio_context_set_private(s->ctx, &luring_key, NULL, NULL);
    if (in_aio_context_home_thread(s->ctx)) {
        luring_free(s);
    } else {
        aio_bh_schedule_oneshot(s->ctx, luring_free_bh, s);
    }
}

AioContext *luring_get_aio_context(LuringState *s)
{
    return s->ctx;
}

/* A request on the context's own ring (aio_add_sqe()). */
typedef struct LuringCtxRequest {
    CqeHandler handler;
    Coroutine *co;
    LuringOp op;
    int fd;
    uint64_t offset;
    QEMUIOVector *qiov;
    uint64_t len;
    int arg;
} LuringCtxRequest;

static void luring_prep_sqe(struct io_uring_sqe *sqe, LuringOp op, int fd,
                            uint64_t offset, QEMUIOVector *qiov,
                            uint64_t len, int arg)
{
    switch (op) {
    case LURING_READ:
        io_uring_prep_readv(sqe, fd, qiov->iov, qiov->niov, offset);
        break;
    case LURING_WRITE:
        io_uring_prep_writev(sqe, fd, qiov->iov, qiov->niov, offset);
        sqe->rw_flags = arg;
        break;
    case LURING_FDATASYNC:
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        break;
    case LURING_FALLOCATE:
        io_uring_prep_fallocate(sqe, fd, arg, offset, len);
        break;
    }
}

static void luring_ctx_prep(struct io_uring_sqe *sqe, void *opaque)
{
    LuringCtxRequest *r = opaque;

    luring_prep_sqe(sqe, r->op, r->fd, r->offset, r->qiov, r->len, r->arg);
}

static void luring_ctx_done(CqeHandler *handler)
{
    LuringCtxRequest *r = container_of(handler, LuringCtxRequest, handler);

    aio_co_wake(r->co);
}

int coroutine_fn luring_co_submit(LuringState *s, LuringOp op, int fd,
                                  uint64_t offset, QEMUIOVector *qiov,
                                  uint64_t len, int arg)
{
    LuringRequest req = { .co = qemu_coroutine_self() };
    struct io_uring_sqe *sqe;

    assert(qemu_get_current_aio_context() == s->ctx);
    if (aio_has_io_uring(s->ctx)) {
        /*
         * The context's fd monitor is a ring too: put the request there,
         * so that the event loop's one io_uring_enter submits it, waits
         * for it and for the sockets, with no eventfd in between.
         */
        LuringCtxRequest r = {
            .handler.cb = luring_ctx_done,
            .co = req.co,
            .op = op, .fd = fd, .offset = offset, .qiov = qiov,
            .len = len, .arg = arg,
        };

        aio_add_sqe(luring_ctx_prep, &r, &r.handler);
        qemu_coroutine_yield();
        return r.handler.res;
    }
    while (s->in_flight >= LURING_MAX_IN_FLIGHT) {
        qemu_co_queue_wait(&s->full_queue, NULL);
    }
    sqe = io_uring_get_sqe(&s->ring);
    if (!sqe) {
        /* The submission queue is full: hand it over now. */
        io_uring_submit(&s->ring);
        sqe = io_uring_get_sqe(&s->ring);
        if (!sqe) {
            return -EAGAIN;
        }
    }
    luring_prep_sqe(sqe, op, fd, offset, qiov, len, arg);
    io_uring_sqe_set_data(sqe, &req);
    s->in_flight++;
    if (io_uring_sq_ready(&s->ring) >= LURING_MAX_BATCH) {
        luring_submit(s);
    } else {
        qemu_bh_schedule(s->submit_bh);
    }
    qemu_coroutine_yield();
    return req.ret;
}
