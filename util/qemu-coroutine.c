/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Coroutines: creation, the per-thread pool, enter and yield.
 *
 * Theory of operation: a coroutine is entered by exactly one thread at a
 * time. qemu_aio_coroutine_enter() checks that the entering thread is the
 * home thread of the context the coroutine will run in, so a coroutine
 * cannot silently run in the wrong thread. Handing a coroutine to another
 * thread goes through aio_co_schedule(). The pool is per thread: a
 * coroutine that terminates in thread T is reused by T.
 */
#include "qemu/osdep.h"
#include "qemu/coroutine_int.h"
#include "block/aio.h"

#include <sched.h>

enum {
    POOL_DEFAULT_SIZE = 64,
};

typedef struct CoroutinePool {
    QSLIST_HEAD(, Coroutine) free;
    unsigned int size;
    bool registered;
} CoroutinePool;

static __thread CoroutinePool pool;
static unsigned int pool_max_size = POOL_DEFAULT_SIZE;   /* atomic */
static unsigned int live_coroutines;                     /* atomic */
static pthread_key_t pool_key;
static pthread_once_t pool_key_once = PTHREAD_ONCE_INIT;

static void pool_thread_exit(void *unused)
{
    Coroutine *co;

    while ((co = QSLIST_FIRST(&pool.free))) {
        QSLIST_REMOVE_HEAD(&pool.free, pool_next);
        qemu_coroutine_delete(co);
    }
    pool.size = 0;
}

static void pool_key_init(void)
{
    pthread_key_create(&pool_key, pool_thread_exit);
}

static void pool_register_thread(void)
{
    pthread_once(&pool_key_once, pool_key_init);
    /* Any non-NULL value makes the destructor run at thread exit. */
    pthread_setspecific(pool_key, &pool);
    pool.registered = true;
}

Coroutine *qemu_coroutine_create(CoroutineEntry *entry, void *opaque)
{
    Coroutine *co = QSLIST_FIRST(&pool.free);

    if (co) {
        QSLIST_REMOVE_HEAD(&pool.free, pool_next);
        pool.size--;
    } else {
        co = qemu_coroutine_new();
    }
    co->entry = entry;
    co->entry_arg = opaque;
    co->caller = NULL;
    co->running = NULL;
    co->ctx = NULL;
    co->scheduled = NULL;
    co->locks_held = 0;
    QSIMPLEQ_INIT(&co->co_queue_wakeup);
    qatomic_inc(&live_coroutines);
    return co;
}

static void coroutine_release(Coroutine *co)
{
    qatomic_dec(&live_coroutines);
    if (pool.size < qatomic_read(&pool_max_size)) {
        if (!pool.registered) {
            pool_register_thread();
        }
        QSLIST_INSERT_HEAD(&pool.free, co, pool_next);
        pool.size++;
        return;
    }
    qemu_coroutine_delete(co);
}

unsigned int qemu_coroutine_live_count(void)
{
    return qatomic_read(&live_coroutines);
}

void qemu_coroutine_inc_pool_size(unsigned int additional_pool_size)
{
    qatomic_add(&pool_max_size, additional_pool_size);
}

void qemu_coroutine_dec_pool_size(unsigned int removing_pool_size)
{
    qatomic_sub(&pool_max_size, removing_pool_size);
}

static void QEMU_NORETURN coroutine_misuse(Coroutine *co, const char *fmt,
                                           ...) QEMU_PRINTF_FMT(2, 3);

static void coroutine_misuse(Coroutine *co, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "qemu: coroutine %p: ", (void *)co);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

/* Identifies the running thread in Coroutine.running. */
static __thread char thread_token;

/*
 * Waits until @co, running in another thread, has finished switching out.
 * That happens when a coroutine schedules itself into another context and
 * then yields: the other context's thread may get to it first.
 */
static void wait_for_switch_out(Coroutine *co)
{
    int64_t deadline = 0;
    void *owner;

    while ((owner = qatomic_load_acquire(&co->running))) {
        if (owner == &thread_token) {
            coroutine_misuse(co, "re-entered while it is running");
        }
        if (!deadline) {
            deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
        } else if (g_get_monotonic_time() > deadline) {
            coroutine_misuse(co, "entered while it keeps running in "
                             "another thread");
        }
        sched_yield();
    }
}

void qemu_aio_coroutine_enter(AioContext *ctx, Coroutine *co)
{
    /* Coroutines woken by the one that ran, to run next, in order. */
    QSIMPLEQ_HEAD(, Coroutine) pending = QSIMPLEQ_HEAD_INITIALIZER(pending);
    Coroutine *from = qemu_coroutine_current();

    if (ctx && !in_aio_context_home_thread(ctx)) {
        coroutine_misuse(co, "entered in AioContext %p from thread %d, "
                         "which is not that context's home thread; use "
                         "aio_co_schedule() or aio_co_wake()",
                         (void *)ctx, qemu_get_thread_id());
    }

    for (;;) {
        const char *scheduled = qatomic_read(&co->scheduled);
        CoroutineAction ret;

        if (scheduled) {
            coroutine_misuse(co, "entered while it is scheduled by '%s'",
                             scheduled);
        }
        if (qatomic_load_acquire(&co->running)) {
            wait_for_switch_out(co);
        }
        qatomic_set(&co->running, &thread_token);
        co->caller = from;
        /* Read by other threads in aio_co_wake(). */
        qatomic_set(&co->ctx, ctx);
        ret = qemu_coroutine_switch(from, co, COROUTINE_ENTER);

        if (!QSIMPLEQ_EMPTY(&co->co_queue_wakeup)) {
            QSIMPLEQ_CONCAT(&pending, &co->co_queue_wakeup);
        }
        if (ret == COROUTINE_YIELD) {
            /* Its stack is free now: another thread may enter it. */
            qatomic_store_release(&co->running, NULL);
        } else {
            assert(ret == COROUTINE_TERMINATE);
            if (co->locks_held) {
                coroutine_misuse(co, "terminated holding %u CoMutex locks",
                                 co->locks_held);
            }
            qatomic_store_release(&co->running, NULL);
            coroutine_release(co);
        }

        co = QSIMPLEQ_FIRST(&pending);
        if (!co) {
            break;
        }
        QSIMPLEQ_REMOVE_HEAD(&pending, co_queue_next);
    }
}

void qemu_coroutine_enter(Coroutine *co)
{
    AioContext *ctx = qemu_get_current_aio_context();
    AioContext *home = qatomic_read(&co->ctx);

    /*
     * A suspended coroutine belongs to its home context's thread; resuming
     * it from another thread is exactly the bug of running a coroutine in
     * the wrong thread.
     */
    if (!qatomic_read(&co->running) && home && home != ctx &&
        !in_aio_context_home_thread(home)) {
        coroutine_misuse(co, "suspended in AioContext %p, resumed from "
                         "thread %d which does not run that context; use "
                         "aio_co_wake()", (void *)home,
                         qemu_get_thread_id());
    }
    qemu_aio_coroutine_enter(ctx, co);
}

void qemu_coroutine_enter_if_inactive(Coroutine *co)
{
    if (!qemu_coroutine_entered(co)) {
        qemu_coroutine_enter(co);
    }
}

void coroutine_fn qemu_coroutine_yield(void)
{
    Coroutine *self = qemu_coroutine_current();
    Coroutine *to = self->caller;

    if (!to) {
        fprintf(stderr, "qemu: qemu_coroutine_yield() called outside of "
                "a coroutine\n");
        abort();
    }
    self->caller = NULL;
    qemu_coroutine_switch(self, to, COROUTINE_YIELD);
}

Coroutine *qemu_coroutine_self(void)
{
    return qemu_coroutine_current();
}

bool qemu_in_coroutine(void)
{
    return qemu_co_current != NULL;
}

bool qemu_coroutine_entered(Coroutine *co)
{
    return co->caller != NULL;
}

AioContext *qemu_coroutine_get_aio_context(Coroutine *co)
{
    return qatomic_read(&co->ctx);
}
