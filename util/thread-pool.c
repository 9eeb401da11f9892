/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Thread pool.
 *
 * Theory of operation: requests are queued on pool->requests under
 * pool->lock; workers (started on demand, up to max_threads) take them, run
 * them and move them to pool->done, then schedule pool->done_bh, which runs
 * in the pool's AioContext and completes them there: a coroutine is woken
 * with aio_co_wake(), a callback is called. Workers live until the pool is
 * freed, which waits for them.
 */
#include "qemu/osdep.h"
#include "aio-internal.h"
#include "block/thread-pool.h"

typedef struct ThreadPoolRequest ThreadPoolRequest;

struct ThreadPoolRequest {
    ThreadPoolFunc *func;
    void *arg;
    int ret;
    Coroutine *co;                      /* or: */
    ThreadPoolCompletionFunc *cb;
    void *opaque;
    QSIMPLEQ_ENTRY(ThreadPoolRequest) next;
};

struct ThreadPool {
    AioContext *ctx;
    QEMUBH *done_bh;

    QemuMutex lock;     /* protects everything below */
    QemuCond request_cond;
    QSIMPLEQ_HEAD(, ThreadPoolRequest) requests;
    QSIMPLEQ_HEAD(, ThreadPoolRequest) done;
    GArray *threads;    /* of QemuThread */
    int idle_threads;
    int nr_requests;    /* queued, not yet taken by a worker */
    int max_threads;
    bool stopping;
};

static void *worker_thread(void *opaque)
{
    ThreadPool *pool = opaque;

    qemu_mutex_lock(&pool->lock);
    for (;;) {
        ThreadPoolRequest *req;

        while (QSIMPLEQ_EMPTY(&pool->requests) && !pool->stopping) {
            pool->idle_threads++;
            qemu_cond_wait(&pool->request_cond, &pool->lock);
            pool->idle_threads--;
        }
        if (pool->stopping) {
            break;
        }
        req = QSIMPLEQ_FIRST(&pool->requests);
        QSIMPLEQ_REMOVE_HEAD(&pool->requests, next);
        pool->nr_requests--;
        qemu_mutex_unlock(&pool->lock);

        req->ret = req->func(req->arg);

        qemu_mutex_lock(&pool->lock);
        QSIMPLEQ_INSERT_TAIL(&pool->done, req, next);
        qemu_bh_schedule(pool->done_bh);
    }
    qemu_mutex_unlock(&pool->lock);
    return NULL;
}

static void done_bh_cb(void *opaque)
{
    ThreadPool *pool = opaque;
    QSIMPLEQ_HEAD(, ThreadPoolRequest) done;
    ThreadPoolRequest *req;

    QSIMPLEQ_INIT(&done);
    qemu_mutex_lock(&pool->lock);
    QSIMPLEQ_CONCAT(&done, &pool->done);
    qemu_mutex_unlock(&pool->lock);

    while ((req = QSIMPLEQ_FIRST(&done))) {
        QSIMPLEQ_REMOVE_HEAD(&done, next);
        if (req->co) {
            /* @req lives on the coroutine's stack. */
            aio_co_wake(req->co);
        } else {
            req->cb(req->opaque, req->ret);
            g_free(req);
        }
    }
}

ThreadPool *thread_pool_new(AioContext *ctx)
{
    ThreadPool *pool = g_new0(ThreadPool, 1);

    pool->ctx = ctx;
    pool->done_bh = aio_bh_new(ctx, done_bh_cb, pool);
    /* The pool's own BH is not something its users left behind. */
    qatomic_dec(&ctx->nr_bhs);
    qemu_mutex_init(&pool->lock);
    qemu_cond_init(&pool->request_cond);
    QSIMPLEQ_INIT(&pool->requests);
    QSIMPLEQ_INIT(&pool->done);
    pool->threads = g_array_new(FALSE, FALSE, sizeof(QemuThread));
    pool->max_threads = 64;
    return pool;
}

void thread_pool_free(ThreadPool *pool)
{
    guint i;

    qemu_mutex_lock(&pool->lock);
    assert(QSIMPLEQ_EMPTY(&pool->requests));
    pool->stopping = true;
    qemu_cond_broadcast(&pool->request_cond);
    qemu_mutex_unlock(&pool->lock);

    for (i = 0; i < pool->threads->len; i++) {
        qemu_thread_join(&g_array_index(pool->threads, QemuThread, i));
    }
    g_array_free(pool->threads, TRUE);
    qatomic_inc(&pool->ctx->nr_bhs);
    qemu_bh_delete(pool->done_bh);
    qemu_cond_destroy(&pool->request_cond);
    qemu_mutex_destroy(&pool->lock);
    g_free(pool);
}

void thread_pool_update_params(ThreadPool *pool, int min_threads,
                               int max_threads)
{
    qemu_mutex_lock(&pool->lock);
    pool->max_threads = MAX(max_threads, 1);
    qemu_mutex_unlock(&pool->lock);
}

static void submit(ThreadPool *pool, ThreadPoolRequest *req)
{
    qemu_mutex_lock(&pool->lock);
    QSIMPLEQ_INSERT_TAIL(&pool->requests, req, next);
    pool->nr_requests++;
    /* Idle workers that were signalled may not have woken yet. */
    if (pool->idle_threads < pool->nr_requests &&
        (int)pool->threads->len < pool->max_threads) {
        QemuThread thread;

        qemu_thread_create(&thread, "worker", worker_thread, pool,
                           QEMU_THREAD_JOINABLE);
        g_array_append_val(pool->threads, thread);
    }
    qemu_cond_signal(&pool->request_cond);
    qemu_mutex_unlock(&pool->lock);
}

int coroutine_fn thread_pool_submit_co(ThreadPoolFunc *func, void *arg)
{
    ThreadPoolRequest req = {
        .func = func,
        .arg = arg,
        .co = qemu_coroutine_self(),
    };

    assert(qemu_in_coroutine());
    submit(aio_get_thread_pool(qemu_get_current_aio_context()), &req);
    qemu_coroutine_yield();
    return req.ret;
}

void thread_pool_submit_aio(ThreadPoolFunc *func, void *arg,
                            ThreadPoolCompletionFunc *cb, void *opaque)
{
    ThreadPoolRequest *req = g_new0(ThreadPoolRequest, 1);

    req->func = func;
    req->arg = arg;
    req->cb = cb;
    req->opaque = opaque;
    submit(aio_get_thread_pool(qemu_get_current_aio_context()), req);
}
