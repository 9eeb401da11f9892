/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A pool of worker threads for blocking work (system calls that have no
 * asynchronous form). Each AioContext has its own pool
 * (aio_get_thread_pool()); completions are delivered in that context.
 */
#ifndef BLOCK_THREAD_POOL_H
#define BLOCK_THREAD_POOL_H

#include "block/aio.h"

typedef int ThreadPoolFunc(void *opaque);
typedef void ThreadPoolCompletionFunc(void *opaque, int ret);

/* Creates a pool that delivers completions in @ctx. */
ThreadPool *thread_pool_new(AioContext *ctx);

/**
 * thread_pool_submit_co:
 * Runs @func(@arg) on a worker thread of the calling coroutine's context's
 * pool and yields until it is done; the coroutine resumes in its own
 * context. Returns what @func returned.
 */
int coroutine_fn thread_pool_submit_co(ThreadPoolFunc *func, void *arg);

/**
 * thread_pool_submit_aio:
 * Runs @func(@arg) on a worker of the current context's pool, then
 * @cb(@opaque, ret) in that context. Callable from the context's thread.
 */
void thread_pool_submit_aio(ThreadPoolFunc *func, void *arg,
                            ThreadPoolCompletionFunc *cb, void *opaque);

/* Limits the number of workers (default 1..64). */
void thread_pool_update_params(ThreadPool *pool, int min_threads,
                               int max_threads);

#endif /* BLOCK_THREAD_POOL_H */
