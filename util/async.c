/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * AioContext life cycle, bottom halves, aio_notify, coroutine scheduling and
 * the GSource that runs a context inside a GLib main loop.
 *
 * Theory of operation: bottom halves are pushed by any thread onto a
 * lock-free stack (ctx->bh_list) and taken all at once by the home thread,
 * which runs them in the order they were scheduled. A BH's state is a set of
 * atomic flags; only the home thread frees a BH. aio_notify() sets
 * ctx->notified and, when a poller may be blocking (ctx->notify_me), writes
 * the context's eventfd.
 */
#include "qemu/osdep.h"
#include "aio-internal.h"
#include "block/thread-pool.h"
#include "qapi/error.h"
#include "qemu/coroutine_int.h"
#include "util/trace.h"

#include <sys/eventfd.h>

enum {
    BH_PENDING   = 1 << 0,  /* on a list, waiting for dispatch */
    BH_SCHEDULED = 1 << 1,  /* its callback should run */
    BH_ONESHOT   = 1 << 2,  /* free after running */
    BH_DELETED   = 1 << 3,  /* free without running */
    BH_IDLE      = 1 << 4,  /* does not wake a blocking poll */
};

struct QEMUBH {
    AioContext *ctx;
    const char *name;
    QEMUBHFunc *cb;
    void *opaque;
    bool internal;          /* not counted by aio_context_bh_count() */
    unsigned int flags;     /* atomic */
    QSLIST_ENTRY(QEMUBH) next;
};

struct BHListSlice {
    QSLIST_HEAD(, QEMUBH) bh_list;
    QSIMPLEQ_ENTRY(BHListSlice) next;
};

static __thread AioContext *my_aiocontext;

AioContext *qemu_get_current_aio_context(void)
{
    Coroutine *self = qemu_co_current;

    if (self) {
        return qatomic_read(&self->ctx);
    }
    return my_aiocontext;
}

void qemu_set_current_aio_context(AioContext *ctx)
{
    my_aiocontext = ctx;
}

/* Its address identifies the calling thread, without a library call. */
static __thread char home_token;

bool in_aio_context_home_thread(AioContext *ctx)
{
    return qatomic_read(&ctx->home_thread) == &home_token;
}

void aio_context_set_home_thread(AioContext *ctx)
{
    qatomic_set(&ctx->home_thread, &home_token);
}

/* Bottom halves */

static QEMUBH *bh_new(AioContext *ctx, QEMUBHFunc *cb, void *opaque,
                      const char *name, bool internal)
{
    QEMUBH *bh = g_new0(QEMUBH, 1);

    bh->ctx = ctx;
    bh->cb = cb;
    bh->opaque = opaque;
    bh->name = name;
    bh->internal = internal;
    if (!internal) {
        qatomic_inc(&ctx->nr_bhs);
    }
    return bh;
}

static void bh_free(QEMUBH *bh)
{
    if (!bh->internal) {
        qatomic_dec(&bh->ctx->nr_bhs);
    }
    g_free(bh);
}

static void bh_enqueue(QEMUBH *bh, unsigned int new_flags)
{
    AioContext *ctx = bh->ctx;
    unsigned int old;

    /*
     * Once the BH is on the list the home thread may run and free it, so
     * nothing of it is touched after the push.
     */
    old = qatomic_fetch_or(&bh->flags, BH_PENDING | new_flags);
    if (!(old & BH_PENDING)) {
        QSLIST_INSERT_HEAD_ATOMIC(&ctx->bh_list, bh, next);
    }
    if (!(new_flags & BH_IDLE)) {
        aio_notify(ctx);
    }
}

QEMUBH *aio_bh_new_full(AioContext *ctx, QEMUBHFunc *cb, void *opaque,
                        const char *name)
{
    return bh_new(ctx, cb, opaque, name, false);
}

void aio_bh_schedule_oneshot_full(AioContext *ctx, QEMUBHFunc *cb,
                                  void *opaque, const char *name)
{
    bh_enqueue(bh_new(ctx, cb, opaque, name, false),
               BH_SCHEDULED | BH_ONESHOT);
}

void qemu_bh_schedule(QEMUBH *bh)
{
    bh_enqueue(bh, BH_SCHEDULED);
}

void qemu_bh_schedule_idle(QEMUBH *bh)
{
    bh_enqueue(bh, BH_SCHEDULED | BH_IDLE);
}

void qemu_bh_cancel(QEMUBH *bh)
{
    qatomic_and(&bh->flags, ~BH_SCHEDULED);
}

void qemu_bh_delete(QEMUBH *bh)
{
    bh_enqueue(bh, BH_DELETED);
}

/* Takes the next BH of the slice, clearing its dispatch flags. */
static QEMUBH *bh_dequeue(BHListSlice *slice, unsigned int *flags)
{
    QEMUBH *bh = QSLIST_FIRST(&slice->bh_list);

    if (!bh) {
        return NULL;
    }
    QSLIST_REMOVE_HEAD(&slice->bh_list, next);
    /*
     * Clearing PENDING lets another thread queue the BH again, also while
     * its callback runs below: then it runs once more next time.
     */
    *flags = qatomic_fetch_and(&bh->flags,
                               ~(BH_PENDING | BH_SCHEDULED | BH_IDLE));
    return bh;
}

bool aio_bh_poll(AioContext *ctx)
{
    BHListSlice slice;
    BHListSlice *s;
    QSLIST_HEAD(, QEMUBH) newest_first;
    QEMUBH *bh;
    bool progress = false;

    /* The stack holds the newest first: reverse it into schedule order. */
    QSLIST_MOVE_ATOMIC(&newest_first, &ctx->bh_list);
    QSLIST_INIT(&slice.bh_list);
    while ((bh = QSLIST_FIRST(&newest_first))) {
        QSLIST_REMOVE_HEAD(&newest_first, next);
        QSLIST_INSERT_HEAD(&slice.bh_list, bh, next);
    }
    QSIMPLEQ_INSERT_TAIL(&ctx->bh_slice_list, &slice, next);

    /*
     * Older slices, left unfinished by an outer aio_bh_poll() whose BH
     * called aio_poll(), go first, so that order is kept.
     */
    while ((s = QSIMPLEQ_FIRST(&ctx->bh_slice_list))) {
        unsigned int flags;

        bh = bh_dequeue(s, &flags);
        if (!bh) {
            QSIMPLEQ_REMOVE_HEAD(&ctx->bh_slice_list, next);
            if (s == &slice) {
                break;
            }
            continue;
        }
        if ((flags & (BH_SCHEDULED | BH_DELETED)) == BH_SCHEDULED) {
            if (!bh->internal) {
                progress = true;
            }
            bh->cb(bh->opaque);
        }
        if (flags & (BH_DELETED | BH_ONESHOT)) {
            bh_free(bh);
        }
    }
    return progress;
}

/* True when a scheduled BH waits: 1 if it should end a blocking poll. */
static int bh_list_pending(AioContext *ctx)
{
    BHListSlice *s;
    QEMUBH *bh;
    int ret = 0;

    /* Pushes only happen at the head, so walking the rest is safe. */
    for (bh = qatomic_load_acquire(&ctx->bh_list.slh_first); bh;
         bh = bh->next.sle_next) {
        unsigned int flags = qatomic_read(&bh->flags);
        if ((flags & (BH_SCHEDULED | BH_DELETED)) == BH_SCHEDULED) {
            if (!(flags & BH_IDLE)) {
                return 1;
            }
            ret = -1;
        } else if (flags & BH_DELETED) {
            ret = ret ? ret : -1;
        }
    }
    QSIMPLEQ_FOREACH(s, &ctx->bh_slice_list, next) {
        QSLIST_FOREACH(bh, &s->bh_list, next) {
            unsigned int flags = qatomic_read(&bh->flags);
            if ((flags & (BH_SCHEDULED | BH_DELETED)) == BH_SCHEDULED &&
                !(flags & BH_IDLE)) {
                return 1;
            }
            ret = -1;
        }
    }
    return ret;
}

bool aio_bh_pending(AioContext *ctx)
{
    return bh_list_pending(ctx) != 0;
}

/*
 * How long a blocking poll may sleep, in ns: 0 when work is waiting, -1
 * for no limit.
 */
int64_t aio_compute_timeout(AioContext *ctx)
{
    int64_t deadline;
    int pending;

    if (qatomic_read(&ctx->notified)) {
        return 0;
    }
    pending = bh_list_pending(ctx);
    if (pending > 0) {
        return 0;
    }
    deadline = aio_timers_deadline(ctx);
    if (pending < 0) {
        /* Idle and deleted BHs run within 10 ms. */
        int64_t idle = 10 * SCALE_MS;
        deadline = deadline < 0 ? idle : MIN(deadline, idle);
    }
    return deadline;
}

unsigned int aio_context_bh_count(AioContext *ctx)
{
    return qatomic_read(&ctx->nr_bhs);
}

/* aio_notify */

void aio_notify(AioContext *ctx)
{
    qatomic_set(&ctx->notified, true);
    /* Pairs with the barrier in aio_poll() after raising notify_me. */
    smp_mb();
    if (qatomic_read(&ctx->notify_me)) {
        uint64_t one = 1;
        ssize_t ret;

        do {
            ret = write(ctx->notify_fd, &one, sizeof(one));
        } while (ret < 0 && errno == EINTR);
        /* EAGAIN: the counter is already saturated, the poller will wake. */
    }
}

void aio_notify_accept(AioContext *ctx)
{
    qatomic_set(&ctx->notified, false);
    /* Order the clear before the checks for work that follow. */
    smp_mb();
}

static void aio_notifier_drain(void *opaque)
{
    AioContext *ctx = opaque;
    uint64_t value;

    while (read(ctx->notify_fd, &value, sizeof(value)) > 0) {
        /* drain */
    }
}

/* Coroutine scheduling */

static void co_schedule_bh_cb(void *opaque)
{
    AioContext *ctx = opaque;
    QSLIST_HEAD(, Coroutine) newest_first, straight;
    Coroutine *co;

    QSLIST_MOVE_ATOMIC(&newest_first, &ctx->scheduled_coroutines);
    QSLIST_INIT(&straight);
    while ((co = QSLIST_FIRST(&newest_first))) {
        QSLIST_REMOVE_HEAD(&newest_first, co_scheduled_next);
        QSLIST_INSERT_HEAD(&straight, co, co_scheduled_next);
    }
    while ((co = QSLIST_FIRST(&straight))) {
        const char *scheduled;

        QSLIST_REMOVE_HEAD(&straight, co_scheduled_next);
        scheduled = qatomic_xchg(&co->scheduled, NULL);
        assert(scheduled);
        trace_aio_co_schedule_bh_cb(ctx, co);
        qemu_aio_coroutine_enter(ctx, co);
        aio_context_unref(ctx);
    }
}

void aio_co_schedule(AioContext *ctx, Coroutine *co)
{
    const char *scheduled = qatomic_cmpxchg(&co->scheduled, NULL, __func__);

    if (scheduled) {
        fprintf(stderr, "qemu: %s: coroutine %p was already scheduled in "
                "'%s'\n", __func__, (void *)co, scheduled);
        abort();
    }
    trace_aio_co_schedule(ctx, co);
    /* The context must live until the coroutine has been entered. */
    aio_context_ref(ctx);
    QSLIST_INSERT_HEAD_ATOMIC(&ctx->scheduled_coroutines, co,
                              co_scheduled_next);
    qemu_bh_schedule(ctx->co_schedule_bh);
}

void aio_co_enter(AioContext *ctx, Coroutine *co)
{
    if (ctx != qemu_get_current_aio_context()) {
        aio_co_schedule(ctx, co);
        return;
    }
    if (qemu_in_coroutine()) {
        Coroutine *self = qemu_coroutine_self();

        assert(self != co);
        QSIMPLEQ_INSERT_TAIL(&self->co_queue_wakeup, co, co_queue_next);
    } else {
        qemu_aio_coroutine_enter(ctx, co);
    }
}

void aio_co_wake(Coroutine *co)
{
    aio_co_enter(qatomic_read(&co->ctx), co);
}

void coroutine_fn aio_co_reschedule_self(AioContext *new_ctx)
{
    AioContext *old_ctx = qemu_get_current_aio_context();

    if (old_ctx != new_ctx) {
        aio_co_schedule(new_ctx, qemu_coroutine_self());
        qemu_coroutine_yield();
    }
}

/* GSource */

static gboolean aio_ctx_prepare(GSource *source, gint *timeout)
{
    AioContext *ctx = (AioContext *)source;
    int64_t ns;

    qatomic_set(&ctx->notify_me, qatomic_read(&ctx->notify_me) | 1);
    smp_mb();
    ns = aio_compute_timeout(ctx);
    if (ns < 0) {
        *timeout = -1;
    } else {
        *timeout = (gint)MIN(DIV_ROUND_UP(ns, SCALE_MS), G_MAXINT);
    }
    /*
     * About to block in GLib: busy-poll first, as aio_poll() would, with
     * the context's own adaptive settings (the main loop's clients and
     * coroutine receives get the same polling as an iothread's).
     */
    if (*timeout != 0 && aio_gsource_poll(ctx)) {
        *timeout = 0;
    }
    /* Then hand the fd monitor what it must watch while GLib blocks. */
    if (ctx->fdmon_ops->gsource_prepare) {
        ctx->fdmon_ops->gsource_prepare(ctx);
    }
    return *timeout == 0;
}

static gboolean aio_ctx_check(GSource *source)
{
    AioContext *ctx = (AioContext *)source;

    qatomic_set(&ctx->notify_me, qatomic_read(&ctx->notify_me) & ~1);
    aio_gsource_poll_done(ctx);
    return g_source_query_unix_fd(source, ctx->gsource_tag) ||
           qatomic_read(&ctx->notified) || aio_bh_pending(ctx) ||
           aio_timers_deadline(ctx) == 0;
}

static gboolean aio_ctx_dispatch(GSource *source, GSourceFunc callback,
                                 gpointer user_data)
{
    aio_poll((AioContext *)source, false);
    return G_SOURCE_CONTINUE;
}

static void aio_ctx_finalize(GSource *source)
{
    AioContext *ctx = (AioContext *)source;
    unsigned int flags;
    BHListSlice slice;
    QEMUBH *bh;
    guint i;

    if (!ctx->fdmon_ops) {
        goto out;
    }
    if (ctx->thread_pool) {
        thread_pool_free(ctx->thread_pool);
        ctx->thread_pool = NULL;
    }
    for (i = 0; ctx->privates && i < ctx->privates->len; i++) {
        AioPrivate *p = &g_array_index(ctx->privates, AioPrivate, i);
        if (p->destroy) {
            p->destroy(p->data);
        }
    }
    if (ctx->privates) {
        g_array_free(ctx->privates, TRUE);
    }

    if (!QSLIST_EMPTY(&ctx->scheduled_coroutines)) {
        fprintf(stderr, "qemu: AioContext %p freed with coroutines still "
                "scheduled in it\n", (void *)ctx);
    }
    qemu_bh_delete(ctx->co_schedule_bh);

    QSLIST_MOVE_ATOMIC(&slice.bh_list, &ctx->bh_list);
    while ((bh = bh_dequeue(&slice, &flags))) {
        if (!(flags & BH_DELETED) && !(flags & BH_ONESHOT)) {
            /* Still owned by its creator, who must delete it. */
            continue;
        }
        bh_free(bh);
    }

    aio_context_destroy_handlers(ctx);
    aio_timers_destroy(ctx);
    ctx->fdmon_ops->cleanup(ctx);
out:
    close(ctx->notify_fd);
    qemu_mutex_destroy(&ctx->list_lock);
    qemu_mutex_destroy(&ctx->timer_lock);
    qemu_mutex_destroy(&ctx->private_lock);
}

static GSourceFuncs aio_source_funcs = {
    .prepare = aio_ctx_prepare,
    .check = aio_ctx_check,
    .dispatch = aio_ctx_dispatch,
    .finalize = aio_ctx_finalize,
};

AioContext *aio_context_new(Error **errp)
{
    AioContext *ctx;
    int fd;

    fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        error_setg_errno(errp, errno, "cannot create the event loop's "
                         "eventfd");
        return NULL;
    }
    ctx = (AioContext *)g_source_new(&aio_source_funcs, sizeof(AioContext));
    g_source_set_name(&ctx->source, "aio-context");
    ctx->notify_fd = fd;
    ctx->home_thread = &home_token;
    qemu_mutex_init(&ctx->list_lock);
    qemu_mutex_init(&ctx->timer_lock);
    qemu_mutex_init(&ctx->private_lock);
    QLIST_INIT(&ctx->handlers);
    QSLIST_INIT(&ctx->bh_list);
    QSIMPLEQ_INIT(&ctx->bh_slice_list);
    QSIMPLEQ_INIT(&ctx->cqe_ready);
    QSLIST_INIT(&ctx->scheduled_coroutines);
    QSLIST_INIT(&ctx->submit_list);
    ctx->epollfd = -1;

    if (!fdmon_io_uring_setup(ctx) && !fdmon_epoll_setup(ctx, errp)) {
        /* finalize sees no fd monitor and undoes only the above */
        g_source_unref(&ctx->source);
        return NULL;
    }
    ctx->gsource_tag = g_source_add_unix_fd(&ctx->source,
                                            ctx->fdmon_ops->gsource_fd(ctx),
                                            G_IO_IN);
    /*
     * GLib blocks a source that cannot recurse while it dispatches, taking
     * its fd out of the poll set and putting it back afterwards, and every
     * put-back wakes the main context: two eventfd writes, a read and an
     * extra poll() per loop iteration for the main and iohandler contexts.
     * Dispatch is aio_poll(), which is safe to nest anyway.
     */
    g_source_set_can_recurse(&ctx->source, TRUE);

    ctx->co_schedule_bh = bh_new(ctx, co_schedule_bh_cb, ctx,
                                 "co_schedule_bh_cb", true);
    aio_context_setup_handlers(ctx);
    return ctx;
}

void aio_context_ref(AioContext *ctx)
{
    g_source_ref(&ctx->source);
}

void aio_context_unref(AioContext *ctx)
{
    g_source_unref(&ctx->source);
}

GSource *aio_get_g_source(AioContext *ctx)
{
    aio_context_ref(ctx);
    return &ctx->source;
}

ThreadPool *aio_get_thread_pool(AioContext *ctx)
{
    ThreadPool *pool = qatomic_load_acquire(&ctx->thread_pool);

    if (!pool) {
        ThreadPool *new_pool = thread_pool_new(ctx);

        pool = qatomic_cmpxchg(&ctx->thread_pool, NULL, new_pool);
        if (pool) {
            thread_pool_free(new_pool);
        } else {
            pool = new_pool;
        }
    }
    return pool;
}

void aio_context_set_poll_params(AioContext *ctx, int64_t max_ns,
                                 int64_t grow, int64_t shrink, Error **errp)
{
    if (max_ns < 0) {
        error_setg(errp, "poll-max-ns must not be negative");
        return;
    }
    if (grow < 0 || shrink < 0) {
        error_setg(errp, "poll-grow and poll-shrink must not be negative");
        return;
    }
    qatomic_set(&ctx->poll_grow, grow);
    qatomic_set(&ctx->poll_shrink, shrink);
    qatomic_set(&ctx->poll_max_ns, max_ns);
    qatomic_store_release(&ctx->poll_restart, true);
    if (!in_aio_context_home_thread(ctx)) {
        aio_notify(ctx);
    }
}

const char *aio_context_fdmon_name(AioContext *ctx)
{
    return ctx->fdmon_ops->name;
}

void *aio_context_get_private(AioContext *ctx, const void *key)
{
    void *data = NULL;
    guint i;

    qemu_mutex_lock(&ctx->private_lock);
    for (i = 0; ctx->privates && i < ctx->privates->len; i++) {
        AioPrivate *p = &g_array_index(ctx->privates, AioPrivate, i);
        if (p->key == key) {
            data = p->data;
            break;
        }
    }
    qemu_mutex_unlock(&ctx->private_lock);
    return data;
}

void aio_context_set_private(AioContext *ctx, const void *key, void *data,
                             GDestroyNotify destroy)
{
    AioPrivate p = { .key = key, .data = data, .destroy = destroy };
    guint i;

    qemu_mutex_lock(&ctx->private_lock);
    if (!ctx->privates) {
        ctx->privates = g_array_new(FALSE, TRUE, sizeof(AioPrivate));
    }
    for (i = 0; i < ctx->privates->len; i++) {
        AioPrivate *old = &g_array_index(ctx->privates, AioPrivate, i);
        if (old->key == key) {
            *old = p;
            qemu_mutex_unlock(&ctx->private_lock);
            return;
        }
    }
    g_array_append_val(ctx->privates, p);
    qemu_mutex_unlock(&ctx->private_lock);
}

IOHandler *aio_notifier_handler(void)
{
    return aio_notifier_drain;
}
