/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fd monitoring with io_uring one-shot POLL_ADD requests.
 *
 * Theory of operation: a handler is "armed" while a POLL_ADD for it is in
 * flight. Changes from any thread only queue the handler on
 * ctx->submit_list (under list_lock); the home thread turns the queue into
 * requests before it waits: a live, unarmed handler gets a POLL_ADD, a
 * deleted, armed one a POLL_REMOVE. A completion disarms its handler; a
 * handler that fired is queued again to be re-armed after dispatch. A
 * deleted handler is freed only once it is unarmed, because the kernel
 * still holds its address until then. armed/cancelled are read and
 * written under list_lock.
 *
 * aio_add_sqe() requests of other subsystems share the ring: their user
 * data is the CqeHandler's address with the low bit set (AioHandlers have
 * it clear; POLL_REMOVE and cancel requests carry 0). Their completions
 * are queued on ctx->cqe_ready during the wait and dispatched afterwards.
 *
 * Coroutine receives (aio_co_recvmsg()) are RECVMSG requests whose user
 * data is not an address but the receive's id, shifted left by two with
 * bit 1 set: a cancel (by user data) can only ever match the receive it
 * was meant for, never a later request that happens to sit at the same
 * address. Their completion is looked up in ctx->co_recvs by id. A
 * receive waits on ctx->co_recv_pending until the context is about to
 * sleep (the wait, or GLib's prepare): busy-polling tries it with a plain
 * recvmsg() meanwhile, and one that gets its data so never reaches the
 * ring. Its completion is then queued on ctx->cqe_ready as the ring's
 * would be.
 */
#include "qemu/osdep.h"
#include "aio-internal.h"

#include <poll.h>

enum {
    FDMON_URING_ENTRIES = 256,
};

static unsigned int gio_to_poll(int events)
{
    return (events & G_IO_IN ? POLLIN : 0) |
           (events & G_IO_OUT ? POLLOUT : 0) |
           (events & G_IO_HUP ? POLLHUP : 0) |
           (events & G_IO_ERR ? POLLERR : 0);
}

static int poll_to_gio(unsigned int events)
{
    return (events & (POLLIN | POLLRDHUP) ? G_IO_IN : 0) |
           (events & POLLOUT ? G_IO_OUT : 0) |
           (events & POLLHUP ? G_IO_HUP : 0) |
           (events & (POLLERR | POLLNVAL) ? G_IO_ERR : 0);
}

/* Queue @node for the home thread. list_lock held. */
static void queue_node_locked(AioContext *ctx, AioHandler *node)
{
    if (!node->uring_queued) {
        node->uring_queued = true;
        QSLIST_INSERT_HEAD(&ctx->submit_list, node, submit_next);
    }
}

static void fdmon_io_uring_update(AioContext *ctx, AioHandler *old_node,
                                  AioHandler *new_node)
{
    if (old_node) {
        queue_node_locked(ctx, old_node);
    }
    if (new_node && new_node->events) {
        queue_node_locked(ctx, new_node);
    }
}

#define CQE_HANDLER_TAG ((uintptr_t)1)
#define CO_RECV_TAG ((uint64_t)2)

static uint64_t co_recv_user_data(uint64_t id)
{
    return id << 2 | CO_RECV_TAG;
}

static struct io_uring_sqe *get_sqe(AioContext *ctx)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ctx->ring);

    while (!sqe) {
        /* The submission queue is full: hand it to the kernel. */
        io_uring_submit(&ctx->ring);
        sqe = io_uring_get_sqe(&ctx->ring);
    }
    return sqe;
}

static void flush_recvs(AioContext *ctx);

/* Turn the queued changes into requests. Home thread, list_lock held. */
static void prepare_sqes_locked(AioContext *ctx)
{
    AioHandler *node;

    while ((node = QSLIST_FIRST(&ctx->submit_list))) {
        struct io_uring_sqe *sqe;

        QSLIST_REMOVE_HEAD(&ctx->submit_list, submit_next);
        node->uring_queued = false;
        if (node->deleted) {
            if (node->uring_armed && !node->uring_cancelled) {
                sqe = get_sqe(ctx);
                io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)node);
                io_uring_sqe_set_data(sqe, NULL);
                node->uring_cancelled = true;
            }
        } else if (!node->uring_armed && node->events) {
            sqe = get_sqe(ctx);
            io_uring_prep_poll_add(sqe, node->fd, gio_to_poll(node->events));
            io_uring_sqe_set_data(sqe, node);
            node->uring_armed = true;
        }
    }
}

static void fdmon_io_uring_wait(AioContext *ctx, AioReadyList *ready,
                                int64_t timeout)
{
    struct __kernel_timespec ts;
    struct io_uring_cqe *cqe;
    unsigned int head, n = 0;

    qemu_mutex_lock(&ctx->list_lock);
    prepare_sqes_locked(ctx);
    qemu_mutex_unlock(&ctx->list_lock);
    flush_recvs(ctx);

    if (timeout == 0) {
        io_uring_submit(&ctx->ring);
    } else {
        if (timeout > 0) {
            ts.tv_sec = timeout / 1000000000;
            ts.tv_nsec = timeout % 1000000000;
        }
        /* -ETIME or -EINTR just end the wait. */
        io_uring_submit_and_wait_timeout(&ctx->ring, &cqe, 1,
                                         timeout > 0 ? &ts : NULL, NULL);
    }

    qemu_mutex_lock(&ctx->list_lock);
    io_uring_for_each_cqe(&ctx->ring, head, cqe) {
        AioHandler *node = io_uring_cqe_get_data(cqe);

        n++;
        if (cqe->user_data & CO_RECV_TAG) {
            uint64_t id = cqe->user_data >> 2;
            AioCoRecv *req = g_hash_table_lookup(ctx->co_recvs, &id);

            /* Not waiting any more: its cancel is what completed. */
            if (req) {
                g_hash_table_remove(ctx->co_recvs, &id);
                req->cqe.res = cqe->res;
                req->cqe.flags = cqe->flags;
                QSIMPLEQ_INSERT_TAIL(&ctx->cqe_ready, &req->cqe, next);
            }
            continue;
        }
        if ((uintptr_t)node & CQE_HANDLER_TAG) {
            CqeHandler *h = (CqeHandler *)((uintptr_t)node &
                                           ~CQE_HANDLER_TAG);

            h->res = cqe->res;
            h->flags = cqe->flags;
            QSIMPLEQ_INSERT_TAIL(&ctx->cqe_ready, h, next);
            continue;
        }
        if (!node) {
            continue;       /* the completion of a POLL_REMOVE */
        }
        node->uring_armed = false;
        node->uring_cancelled = false;
        if (node->deleted) {
            continue;
        }
        if (cqe->res > 0) {
            aio_ready_add(ready, node, poll_to_gio(cqe->res));
            /* One-shot: arm it again for the next wait. */
            queue_node_locked(ctx, node);
        } else if (cqe->res != -ECANCELED) {
            fprintf(stderr, "qemu: io_uring poll of fd %d failed: %s\n",
                    node->fd, strerror(-cqe->res));
        }
    }
    io_uring_cq_advance(&ctx->ring, n);
    qemu_mutex_unlock(&ctx->list_lock);
}

bool fdmon_io_uring_dispatch_cqes(AioContext *ctx)
{
    bool progress = false;
    CqeHandler *h;

    while ((h = QSIMPLEQ_FIRST(&ctx->cqe_ready))) {
        QSIMPLEQ_REMOVE_HEAD(&ctx->cqe_ready, next);
        h->cb(h);
        progress = true;
    }
    return progress;
}

bool fdmon_io_uring_cq_ready(AioContext *ctx)
{
    return io_uring_cq_ready(&ctx->ring) > 0;
}

void fdmon_io_uring_submit(AioContext *ctx)
{
    qemu_mutex_lock(&ctx->list_lock);
    prepare_sqes_locked(ctx);
    qemu_mutex_unlock(&ctx->list_lock);
    io_uring_submit(&ctx->ring);
}

bool aio_has_io_uring(AioContext *ctx)
{
    return ctx->fdmon_ops == &fdmon_io_uring_ops;
}

void aio_add_sqe(void (*prep_sqe)(struct io_uring_sqe *sqe, void *opaque),
                 void *opaque, CqeHandler *handler)
{
    AioContext *ctx = qemu_get_current_aio_context();
    struct io_uring_sqe *sqe;

    assert(ctx && aio_has_io_uring(ctx) && in_aio_context_home_thread(ctx));
    sqe = get_sqe(ctx);
    prep_sqe(sqe, opaque);
    io_uring_sqe_set_data(sqe, (void *)((uintptr_t)handler |
                                        CQE_HANDLER_TAG));
}

static void co_recv_done(CqeHandler *handler)
{
    AioCoRecv *req = container_of(handler, AioCoRecv, cqe);

    req->ret = handler->res;
    aio_co_wake(req->co);
}

void fdmon_io_uring_add_recv(AioContext *ctx, AioCoRecv *req)
{
    assert(aio_has_io_uring(ctx) && in_aio_context_home_thread(ctx));
    req->cqe.cb = co_recv_done;
    req->pending = true;
    QLIST_INSERT_HEAD(&ctx->co_recv_pending, req, pending_next);
}

/* The receives go to the ring: the context is about to sleep. */
static void flush_recvs(AioContext *ctx)
{
    AioCoRecv *req;

    while ((req = QLIST_FIRST(&ctx->co_recv_pending))) {
        struct io_uring_sqe *sqe = get_sqe(ctx);

        QLIST_REMOVE(req, pending_next);
        req->pending = false;
        io_uring_prep_recvmsg(sqe, req->fd, req->msg, req->flags);
        sqe->user_data = co_recv_user_data(req->id);
    }
}

/* A receive done without the ring: dispatched like a completion. */
static void complete_pending_recv(AioContext *ctx, AioCoRecv *req,
                                  int32_t res)
{
    QLIST_REMOVE(req, pending_next);
    req->pending = false;
    g_hash_table_remove(ctx->co_recvs, &req->id);
    req->cqe.res = res;
    req->cqe.flags = 0;
    QSIMPLEQ_INSERT_TAIL(&ctx->cqe_ready, &req->cqe, next);
}

bool fdmon_io_uring_poll_recvs(AioContext *ctx)
{
    AioCoRecv *req, *next;
    bool found = false;

    QLIST_FOREACH_SAFE(req, &ctx->co_recv_pending, pending_next, next) {
        ssize_t n = recvmsg(req->fd, req->msg, req->flags | MSG_DONTWAIT);

        if (n >= 0) {
            complete_pending_recv(ctx, req, n);
            found = true;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK &&
                   errno != EINTR) {
            complete_pending_recv(ctx, req, -errno);
            found = true;
        }
    }
    return found;
}

void fdmon_io_uring_cancel_recv(AioContext *ctx, AioCoRecv *req)
{
    struct io_uring_sqe *sqe;

    assert(aio_has_io_uring(ctx) && in_aio_context_home_thread(ctx));
    if (req->pending) {
        /* Never reached the kernel: resume it now. */
        QLIST_REMOVE(req, pending_next);
        req->pending = false;
        g_hash_table_remove(ctx->co_recvs, &req->id);
        req->ret = -ECANCELED;
        aio_co_wake(req->co);
        return;
    }
    sqe = get_sqe(ctx);
    io_uring_prep_cancel64(sqe, co_recv_user_data(req->id), 0);
    io_uring_sqe_set_data(sqe, NULL);
}

static bool fdmon_io_uring_can_free(AioContext *ctx, AioHandler *node)
{
    if (node->uring_armed) {
        /* Make sure a POLL_REMOVE goes out so that it comes back. */
        queue_node_locked(ctx, node);
        return false;
    }
    if (node->uring_queued) {
        AioHandler **p = &QSLIST_FIRST(&ctx->submit_list);

        while (*p != node) {
            p = &(*p)->submit_next.sle_next;
        }
        *p = node->submit_next.sle_next;
        node->uring_queued = false;
    }
    return true;
}

static int fdmon_io_uring_gsource_fd(AioContext *ctx)
{
    return ctx->ring.ring_fd;
}

static void fdmon_io_uring_gsource_prepare(AioContext *ctx)
{
    qemu_mutex_lock(&ctx->list_lock);
    prepare_sqes_locked(ctx);
    qemu_mutex_unlock(&ctx->list_lock);
    flush_recvs(ctx);
    io_uring_submit(&ctx->ring);
}

static void fdmon_io_uring_cleanup(AioContext *ctx)
{
    io_uring_queue_exit(&ctx->ring);
}

const FDMonOps fdmon_io_uring_ops = {
    .name = "io_uring",
    .update = fdmon_io_uring_update,
    .wait = fdmon_io_uring_wait,
    .can_free = fdmon_io_uring_can_free,
    .gsource_fd = fdmon_io_uring_gsource_fd,
    .gsource_prepare = fdmon_io_uring_gsource_prepare,
    .cleanup = fdmon_io_uring_cleanup,
};

bool fdmon_io_uring_setup(AioContext *ctx)
{
    const char *want = g_getenv("QEMU_FDMON");
    struct io_uring_probe *probe;
    bool ok;

    if (want && strcmp(want, "io_uring") != 0) {
        return false;
    }
    /* Refused (io_uring_disabled, seccomp, old kernel): use epoll. */
    if (io_uring_queue_init(FDMON_URING_ENTRIES, &ctx->ring, 0) < 0) {
        return false;
    }
    probe = io_uring_get_probe_ring(&ctx->ring);
    ok = probe && io_uring_opcode_supported(probe, IORING_OP_POLL_ADD) &&
         io_uring_opcode_supported(probe, IORING_OP_POLL_REMOVE) &&
         io_uring_opcode_supported(probe, IORING_OP_RECVMSG) &&
         io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL);
    if (probe) {
        io_uring_free_probe(probe);
    }
    if (!ok) {
        io_uring_queue_exit(&ctx->ring);
        return false;
    }
    ctx->fdmon_ops = &fdmon_io_uring_ops;
    return true;
}
