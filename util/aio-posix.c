/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fd handlers and aio_poll().
 *
 * Theory of operation: handlers live on ctx->handlers under list_lock. A
 * handler is never changed in place: aio_set_fd_handler() inserts a new one
 * and marks the old one deleted, so the home thread can call a handler's
 * callbacks without holding the lock. Deleted handlers are freed once no
 * aio_poll() is between its wait and its cleanup (ctx->walking == 0) and
 * the fd monitor has let go of them.
 *
 * Coroutine receives (aio_co_recvmsg()) live in ctx->co_recvs, by id, in
 * the home thread only; that table decides whether a receive still waits,
 * so a completion and a cancel never both resume it. With io_uring a
 * receive is a ring request (fdmon-io_uring.c). With epoll it is parked on
 * its fd's handler node (AioHandler.recv), which carries it through any
 * change of the fd's handlers, so a channel's writer setting its handler
 * in the same context cannot drop a parked reader.
 */
#include "qemu/osdep.h"
#include "aio-internal.h"
#include "qemu/coroutine_int.h"

void aio_ready_add(AioReadyList *list, AioHandler *node, int revents)
{
    if (list->len == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;

        if (list->on_heap) {
            list->v = g_renew(AioReady, list->v, cap);
        } else {
            AioReady *v = g_new(AioReady, cap);
            memcpy(v, list->v, list->len * sizeof(*v));
            list->v = v;
            list->on_heap = true;
        }
        list->cap = cap;
    }
    list->v[list->len].node = node;
    list->v[list->len].revents = revents;
    list->len++;
}

static AioHandler *find_handler(AioContext *ctx, int fd)
{
    AioHandler *node;

    QLIST_FOREACH(node, &ctx->handlers, node) {
        if (node->fd == fd && !node->deleted && !node->is_notifier) {
            return node;
        }
    }
    return NULL;
}

/* Frees deleted handlers nobody looks at any more. list_lock held. */
static void free_deleted_handlers_locked(AioContext *ctx)
{
    AioHandler *node, *next;

    if (ctx->walking) {
        return;
    }
    QLIST_FOREACH_SAFE(node, &ctx->handlers, node, next) {
        if (node->deleted && ctx->fdmon_ops->can_free(ctx, node)) {
            QLIST_REMOVE(node, node);
            g_free(node);
        }
    }
}

/* The events a node waits for, from its callbacks. */
static int node_events(AioHandler *node)
{
    return (node->io_read || node->recv ? G_IO_IN | G_IO_HUP | G_IO_ERR : 0) |
           (node->io_write ? G_IO_OUT | G_IO_ERR : 0);
}

/* Puts @new_node (may be NULL) in the place of @old. list_lock held. */
static void replace_handler_locked(AioContext *ctx, AioHandler *old,
                                   AioHandler *new_node)
{
    if (new_node) {
        QLIST_INSERT_HEAD(&ctx->handlers, new_node, node);
        if (!new_node->is_notifier) {
            ctx->nr_handlers++;
        }
    }
    if (old) {
        qatomic_set(&old->deleted, true);
        ctx->nr_handlers--;
    }
    ctx->fdmon_ops->update(ctx, old, new_node);
    free_deleted_handlers_locked(ctx);
}

static void set_handler(AioContext *ctx, AioHandler *new_node, int fd)
{
    AioHandler *old;

    qemu_mutex_lock(&ctx->list_lock);
    old = new_node && new_node->is_notifier ? NULL : find_handler(ctx, fd);
    if (old && old->recv) {
        /* A coroutine receive on the fd outlives the handlers' change. */
        if (!new_node) {
            new_node = g_new0(AioHandler, 1);
            new_node->fd = fd;
        }
        new_node->recv = old->recv;
        new_node->events = node_events(new_node);
    }
    if (!old && !new_node) {
        qemu_mutex_unlock(&ctx->list_lock);
        return;
    }
    replace_handler_locked(ctx, old, new_node);
    qemu_mutex_unlock(&ctx->list_lock);

    /* io_uring picks up changes in the home thread: wake it. */
    if (!in_aio_context_home_thread(ctx)) {
        aio_notify(ctx);
    }
}

/*
 * epoll: parks (@recv) or unparks (NULL) a coroutine receive on @fd,
 * keeping the fd's handlers as they are. Home thread.
 */
static void set_recv_waiter(AioContext *ctx, int fd, AioCoRecv *recv)
{
    AioHandler *old, *node = NULL;

    qemu_mutex_lock(&ctx->list_lock);
    old = find_handler(ctx, fd);
    if (recv || (old && (old->io_read || old->io_write || old->io_poll))) {
        node = g_new0(AioHandler, 1);
        node->fd = fd;
        if (old) {
            node->io_read = old->io_read;
            node->io_write = old->io_write;
            node->io_poll = old->io_poll;
            node->io_poll_ready = old->io_poll_ready;
            node->opaque = old->opaque;
        }
        node->recv = recv;
        node->events = node_events(node);
    }
    if (old || node) {
        replace_handler_locked(ctx, old, node);
    }
    qemu_mutex_unlock(&ctx->list_lock);
}

void aio_set_fd_handler(AioContext *ctx, int fd, IOHandler *io_read,
                        IOHandler *io_write, AioPollFn *io_poll,
                        IOHandler *io_poll_ready, void *opaque)
{
    AioHandler *node = NULL;

    if (io_read || io_write || io_poll) {
        node = g_new0(AioHandler, 1);
        node->fd = fd;
        node->io_read = io_read;
        node->io_write = io_write;
        node->io_poll = io_poll;
        node->io_poll_ready = io_poll_ready;
        node->opaque = opaque;
        node->events = node_events(node);
    }
    set_handler(ctx, node, fd);
}

/* --- coroutine receives (aio_co_recvmsg) -------------------------------- */

/* Never reused, never 0; shared by all contexts. */
static uint64_t co_recv_next_id = 1;

uint64_t coroutine_fn aio_co_recv_init(AioCoRecv *req)
{
    Coroutine *self;

    assert(qemu_in_coroutine());
    self = qemu_coroutine_self();
    *req = (AioCoRecv) {
        .id = qatomic_fetch_inc(&co_recv_next_id),
        .ctx = qemu_coroutine_get_aio_context(self),
        .co = self,
    };
    return req->id;
}

bool aio_co_recv_complete(AioContext *ctx, uint64_t id, ssize_t ret)
{
    AioCoRecv *req = g_hash_table_lookup(ctx->co_recvs, &id);

    if (!req) {
        return false;
    }
    g_hash_table_remove(ctx->co_recvs, &id);
    if (!aio_has_io_uring(ctx)) {
        set_recv_waiter(ctx, req->fd, NULL);
    }
    req->ret = ret;
    aio_co_wake(req->co);
    return true;
}

ssize_t coroutine_fn aio_co_recvmsg(AioCoRecv *req, int fd,
                                    struct msghdr *msg, int flags)
{
    AioContext *ctx = req->ctx;
    ssize_t n;

    assert(qemu_in_coroutine() && req->co == qemu_coroutine_self());
    assert(in_aio_context_home_thread(ctx));
    assert(!g_hash_table_contains(ctx->co_recvs, &req->id));
    req->fd = fd;
    req->msg = msg;
    req->flags = flags;
    g_hash_table_insert(ctx->co_recvs, &req->id, req);
    if (aio_has_io_uring(ctx)) {
        /*
         * One request: the kernel waits for data and receives it. It goes
         * to the ring when the context is about to sleep: a busy-poll
         * before that may find the data first.
         */
        fdmon_io_uring_add_recv(ctx, req);
        qemu_coroutine_yield();
        return req->ret;
    }

    set_recv_waiter(ctx, fd, req);
    qemu_coroutine_yield();
    /* Unparked by readiness (0) or by a cancel (-ECANCELED). */
    if (req->ret < 0) {
        return req->ret;
    }
    do {
        n = recvmsg(fd, msg, flags | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

typedef struct CoRecvCancel {
    AioContext *ctx;
    uint64_t id;
} CoRecvCancel;

static void co_recv_cancel_here(AioContext *ctx, uint64_t id)
{
    if (aio_has_io_uring(ctx)) {
        AioCoRecv *req = g_hash_table_lookup(ctx->co_recvs, &id);

        if (req) {
            fdmon_io_uring_cancel_recv(ctx, req);
        }
    } else {
        aio_co_recv_complete(ctx, id, -ECANCELED);
    }
}

static void co_recv_cancel_bh(void *opaque)
{
    CoRecvCancel *c = opaque;

    co_recv_cancel_here(c->ctx, c->id);
    g_free(c);
}

void aio_co_recv_cancel(AioContext *ctx, uint64_t id)
{
    CoRecvCancel *c;

    if (in_aio_context_home_thread(ctx)) {
        co_recv_cancel_here(ctx, id);
        return;
    }
    c = g_new(CoRecvCancel, 1);
    *c = (CoRecvCancel) { .ctx = ctx, .id = id };
    aio_bh_schedule_oneshot(ctx, co_recv_cancel_bh, c);
}

void aio_context_setup_handlers(AioContext *ctx)
{
    AioHandler *node = g_new0(AioHandler, 1);

    ctx->co_recvs = g_hash_table_new(g_int64_hash, g_int64_equal);
    QLIST_INIT(&ctx->co_recv_pending);

    node->fd = ctx->notify_fd;
    node->io_read = aio_notifier_handler();
    node->opaque = ctx;
    node->events = G_IO_IN;
    node->is_notifier = true;
    set_handler(ctx, node, node->fd);
}

void aio_context_destroy_handlers(AioContext *ctx)
{
    AioHandler *node, *next;

    qemu_mutex_lock(&ctx->list_lock);
    if (ctx->nr_handlers) {
        fprintf(stderr, "qemu: AioContext %p freed with %u fd handlers "
                "still registered\n", (void *)ctx, ctx->nr_handlers);
    }
    QLIST_FOREACH_SAFE(node, &ctx->handlers, node, next) {
        QLIST_REMOVE(node, node);
        g_free(node);
    }
    qemu_mutex_unlock(&ctx->list_lock);
    if (g_hash_table_size(ctx->co_recvs)) {
        fprintf(stderr, "qemu: AioContext %p freed with %u coroutine "
                "receives still waiting\n", (void *)ctx,
                g_hash_table_size(ctx->co_recvs));
    }
    g_hash_table_unref(ctx->co_recvs);
}

unsigned int aio_context_handler_count(AioContext *ctx)
{
    unsigned int n;

    qemu_mutex_lock(&ctx->list_lock);
    n = ctx->nr_handlers;
    qemu_mutex_unlock(&ctx->list_lock);
    return n;
}

/*
 * Has the stream socket @fd bytes (or end of file, or an error) to
 * receive? Home thread, for busy-polling a parked receive under epoll.
 */
static bool recv_would_succeed(int fd)
{
    char c;

    return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 ||
           (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/*
 * Busy-polls the io_poll callbacks, the receives parked on fds (epoll),
 * and with io_uring the completion queue (aio_add_sqe() requests,
 * receives, fd readiness), for up to @max_ns. Returns true when one
 * reported work; ready handlers are added to @ready, completions are
 * left for the wait.
 */
static bool run_poll_handlers(AioContext *ctx, AioReadyList *ready,
                              int64_t max_ns)
{
    /* Runs on every wait of a polling context: no allocation. */
    AioHandler *pollers[32];
    bool uring = aio_has_io_uring(ctx);
    size_t n = 0;
    AioHandler *node;
    int64_t end;
    bool found = false;

    qemu_mutex_lock(&ctx->list_lock);
    QLIST_FOREACH(node, &ctx->handlers, node) {
        if (!node->deleted && (node->io_poll || node->recv) &&
            n < G_N_ELEMENTS(pollers)) {
            pollers[n++] = node;
        }
    }
    qemu_mutex_unlock(&ctx->list_lock);
    if (!n && !uring) {
        return false;
    }

    if (uring) {
        fdmon_io_uring_submit(ctx);
    }
    end = get_clock() + max_ns;
    do {
        if (uring && (fdmon_io_uring_cq_ready(ctx) ||
                      fdmon_io_uring_poll_recvs(ctx))) {
            found = true;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            node = pollers[i];
            if (qatomic_read(&node->deleted)) {
                continue;
            }
            if (node->io_poll && node->io_poll(node->opaque)) {
                /* revents 0 marks "call io_poll_ready" for dispatch */
                aio_ready_add(ready, node, 0);
                found = true;
            } else if (node->recv && recv_would_succeed(node->fd)) {
                /* A parked receive (epoll): dispatch it as readable. */
                aio_ready_add(ready, node, G_IO_IN);
                found = true;
            }
        }
    } while (!found && !qatomic_read(&ctx->notified) &&
             get_clock() < end);
    return found;
}

int64_t aio_context_poll_max_ns(AioContext *ctx)
{
    return qatomic_read(&ctx->poll_max_ns);
}

int64_t aio_context_poll_ns(AioContext *ctx)
{
    assert(in_aio_context_home_thread(ctx));
    return ctx->poll_ns;
}

/*
 * Waits of up to this many times poll-max-ns count as short enough for
 * polling to pay: then a failed poll costs at most this fraction of the
 * time waited.
 */
#define AIO_POLL_HORIZON 8

/*
 * Adaptive polling: after a wait of @block_ns that polling did not avoid,
 * poll longer next time (from 4 us, times poll-grow, up to poll-max-ns)
 * if the wait was short, and less (divided by poll-shrink, or not at
 * all) when it was long. So an idle or slow context sleeps at once, while
 * one in a fast request/response exchange spins briefly instead of paying
 * for a sleep and a wake-up.
 *
 * Unlike QEMU, "short" is not "shorter than poll-max-ns" but "shorter
 * than AIO_POLL_HORIZON times that": the wait measured includes the
 * wake-up of the sleeping thread, which on a virtual machine alone can
 * take longer than poll-max-ns, so that by QEMU's rule a context whose
 * peer answers within a few microseconds would never start polling
 * again once it stopped.
 */
static void adjust_poll_time(AioContext *ctx, int64_t block_ns,
                             int64_t max_ns)
{
    int64_t grow = qatomic_read(&ctx->poll_grow);
    int64_t shrink = qatomic_read(&ctx->poll_shrink);

    if (block_ns > max_ns * AIO_POLL_HORIZON) {
        ctx->poll_ns = shrink ? ctx->poll_ns / shrink : 0;
    } else if (ctx->poll_ns < max_ns && block_ns > ctx->poll_ns) {
        ctx->poll_ns = ctx->poll_ns ? ctx->poll_ns * (grow ? grow : 2) :
                       4000;
        ctx->poll_ns = MIN(ctx->poll_ns, max_ns);
    }
}

/* aio_poll()'s poll time after new parameters. Home thread. */
static void poll_params_restart(AioContext *ctx, int64_t max_ns)
{
    if (unlikely(qatomic_read(&ctx->poll_restart)) &&
        qatomic_xchg(&ctx->poll_restart, false)) {
        /* New parameters: poll for the maximum until waits say otherwise */
        ctx->poll_ns = max_ns;
    }
}

bool aio_gsource_poll(AioContext *ctx)
{
    AioReady stack_ready[16];
    AioReadyList ready = { .v = stack_ready, .cap = 16 };
    int64_t max_ns = qatomic_read(&ctx->poll_max_ns);
    bool found;

    ctx->gsource_block_start = 0;
    if (!max_ns) {
        return false;
    }
    poll_params_restart(ctx, max_ns);
    if (!ctx->poll_ns) {
        ctx->gsource_block_start = get_clock();
        return false;
    }
    qemu_mutex_lock(&ctx->list_lock);
    ctx->walking++;
    qemu_mutex_unlock(&ctx->list_lock);
    /* What it finds, the dispatch's own wait finds again. */
    found = run_poll_handlers(ctx, &ready, ctx->poll_ns);
    qemu_mutex_lock(&ctx->list_lock);
    ctx->walking--;
    free_deleted_handlers_locked(ctx);
    qemu_mutex_unlock(&ctx->list_lock);
    if (ready.on_heap) {
        g_free(ready.v);
    }
    if (!found) {
        ctx->gsource_block_start = get_clock();
    }
    return found;
}

void aio_gsource_poll_done(AioContext *ctx)
{
    if (ctx->gsource_block_start) {
        adjust_poll_time(ctx, get_clock() - ctx->gsource_block_start,
                         qatomic_read(&ctx->poll_max_ns));
        ctx->gsource_block_start = 0;
    }
}

static bool dispatch_ready(AioContext *ctx, AioReadyList *ready)
{
    bool progress = false;
    size_t i;

    for (i = 0; i < ready->len; i++) {
        AioHandler *node = ready->v[i].node;
        int revents = ready->v[i].revents & node->events;

        if (qatomic_read(&node->deleted)) {
            continue;
        }
        if (node->is_notifier) {
            node->io_read(node->opaque);
            continue;
        }
        if (ready->v[i].revents == 0) {
            if (node->io_poll_ready) {
                node->io_poll_ready(node->opaque);
                progress = true;
            }
            continue;
        }
        if ((revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && node->io_read) {
            node->io_read(node->opaque);
            progress = true;
        }
        if (!qatomic_read(&node->deleted) &&
            (revents & (G_IO_OUT | G_IO_ERR)) && node->io_write) {
            node->io_write(node->opaque);
            progress = true;
        }
        /*
         * A receive parked on the fd (epoll): a live node still holds it,
         * because waking or cancelling it replaces the node.
         */
        if (!qatomic_read(&node->deleted) &&
            (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR)) && node->recv) {
            aio_co_recv_complete(ctx, node->recv->id, 0);
            progress = true;
        }
    }
    return progress;
}

bool aio_poll(AioContext *ctx, bool blocking)
{
    AioReady stack_ready[16];
    AioReadyList ready = { .v = stack_ready, .cap = 16 };
    AioContext *thread_ctx = qemu_get_current_aio_context();
    int64_t block_start = 0;
    int64_t poll_max_ns;
    bool progress;
    int64_t timeout;

    if (!in_aio_context_home_thread(ctx)) {
        fprintf(stderr, "qemu: aio_poll() of AioContext %p called from "
                "thread %d, which is not its home thread\n", (void *)ctx,
                qemu_get_thread_id());
        abort();
    }
    /* A plain thread polling a context works in that context meanwhile. */
    if (!thread_ctx && !qemu_in_coroutine()) {
        qemu_set_current_aio_context(ctx);
    }

    qemu_mutex_lock(&ctx->list_lock);
    ctx->walking++;
    qemu_mutex_unlock(&ctx->list_lock);

    if (blocking) {
        qatomic_add(&ctx->notify_me, 2);
        /* Pairs with aio_notify(): either we see its work or it wakes us. */
        smp_mb();
    }
    timeout = blocking ? aio_compute_timeout(ctx) : 0;
    poll_max_ns = qatomic_read(&ctx->poll_max_ns);
    poll_params_restart(ctx, poll_max_ns);
    if (timeout != 0 && poll_max_ns) {
        if (ctx->poll_ns && run_poll_handlers(ctx, &ready, ctx->poll_ns)) {
            timeout = 0;
        } else {
            block_start = get_clock();
        }
    }
    ctx->fdmon_ops->wait(ctx, &ready, timeout);
    if (block_start) {
        adjust_poll_time(ctx, get_clock() - block_start, poll_max_ns);
    }
    if (blocking) {
        qatomic_sub(&ctx->notify_me, 2);
    }
    aio_notify_accept(ctx);

    progress = aio_bh_poll(ctx);
    progress |= dispatch_ready(ctx, &ready);
    progress |= fdmon_io_uring_dispatch_cqes(ctx);
    progress |= aio_timers_run(ctx);

    qemu_mutex_lock(&ctx->list_lock);
    ctx->walking--;
    free_deleted_handlers_locked(ctx);
    qemu_mutex_unlock(&ctx->list_lock);

    if (ready.on_heap) {
        g_free(ready.v);
    }
    if (!thread_ctx && !qemu_in_coroutine()) {
        qemu_set_current_aio_context(NULL);
    }
    return progress;
}
