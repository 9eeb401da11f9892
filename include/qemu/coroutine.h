/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Coroutines: cooperative threads of control with their own stacks.
 *
 * A coroutine runs until it yields or returns. Each coroutine has a home
 * AioContext: the context it was last entered in. Code waiting for an event
 * yields; whoever sees the event wakes it with aio_co_wake(), which resumes
 * it in its home context (in that context's thread), never in the waker's.
 *
 * Switching coroutines makes no system call. Stacks are mmap()ed with a
 * guard page below them, and finished coroutines are kept in a per-thread
 * pool for reuse.
 */
#ifndef QEMU_COROUTINE_H
#define QEMU_COROUTINE_H

#include "qemu/queue.h"
#include "qemu/thread.h"
#include "qemu/timer.h"

typedef void coroutine_fn CoroutineEntry(void *opaque);

/**
 * qemu_coroutine_create:
 * @entry: the function the coroutine runs
 * @opaque: its argument
 *
 * Creates a coroutine that is not running yet; qemu_coroutine_enter() or
 * aio_co_enter() starts it. When @entry returns the coroutine is freed.
 * Callable from any thread.
 */
Coroutine *qemu_coroutine_create(CoroutineEntry *entry, void *opaque);

/**
 * qemu_coroutine_enter:
 * Runs @co in the caller's AioContext (qemu_get_current_aio_context())
 * until it yields or terminates. Aborts with a message if @co is already
 * running, is scheduled with aio_co_schedule(), or is a suspended coroutine
 * whose home context belongs to another thread.
 */
void qemu_coroutine_enter(Coroutine *co);

/**
 * qemu_aio_coroutine_enter:
 * Runs @co with @ctx as its home context. Must be called from @ctx's home
 * thread; aborts with a message otherwise.
 */
void qemu_aio_coroutine_enter(AioContext *ctx, Coroutine *co);

/* Enters @co unless it is already running (on the current call chain). */
void qemu_coroutine_enter_if_inactive(Coroutine *co);

/**
 * qemu_coroutine_yield:
 * Suspends the calling coroutine and returns to whoever entered it.
 */
void coroutine_fn qemu_coroutine_yield(void);

/* The calling coroutine, or the thread's own "leader" outside of one. */
Coroutine *qemu_coroutine_self(void);

/* True when called from inside a coroutine. */
bool qemu_in_coroutine(void);

/* True while @co is running or has entered another coroutine. */
bool qemu_coroutine_entered(Coroutine *co);

/* The home AioContext of @co: where it last ran. */
AioContext *qemu_coroutine_get_aio_context(Coroutine *co);

/*
 * Number of coroutines created and not yet terminated, in all threads.
 * Tests use it to check that nothing is left behind.
 */
unsigned int qemu_coroutine_live_count(void);

/* Grow or shrink the per-thread pool of reusable coroutines. */
void qemu_coroutine_inc_pool_size(unsigned int additional_pool_size);
void qemu_coroutine_dec_pool_size(unsigned int removing_pool_size);

/*
 * QemuLockable: a mutex of any kind, for APIs that drop and retake the
 * caller's lock while they wait (qemu_co_queue_wait).
 */
typedef void QemuLockUnlockFunc(void *);
typedef struct QemuLockable {
    void *object;
    QemuLockUnlockFunc *lock;
    QemuLockUnlockFunc *unlock;
} QemuLockable;

/*
 * CoMutex: a mutex for coroutines. Waiters are served first come, first
 * served, and the lock is handed over directly to the next waiter, which
 * resumes in its own AioContext: holders may run in different threads.
 */
struct CoMutex {
    QemuMutex lock;             /* protects the fields below */
    bool locked;
    Coroutine *holder;
    QSIMPLEQ_HEAD(, Coroutine) waiters;
};

void qemu_co_mutex_init(CoMutex *mutex);
void coroutine_fn qemu_co_mutex_lock(CoMutex *mutex);
void coroutine_fn qemu_co_mutex_unlock(CoMutex *mutex);
/* Aborts unless the calling coroutine holds @mutex. */
void coroutine_fn qemu_co_mutex_assert_locked(CoMutex *mutex);
/* Frees the internal lock; @mutex must be unlocked and have no waiters. */
void qemu_co_mutex_destroy(CoMutex *mutex);

void qemu_co_mutex_lock_unlock_wrapper(void *mutex);
void qemu_co_mutex_unlock_wrapper(void *mutex);
void qemu_mutex_lock_wrapper(void *mutex);
void qemu_mutex_unlock_wrapper(void *mutex);

static inline QemuLockable qemu_make_lockable_co(CoMutex *m)
{
    return (QemuLockable){ m, qemu_co_mutex_lock_unlock_wrapper,
                           qemu_co_mutex_unlock_wrapper };
}

static inline QemuLockable qemu_make_lockable_mutex(QemuMutex *m)
{
    return (QemuLockable){ m, qemu_mutex_lock_wrapper,
                           qemu_mutex_unlock_wrapper };
}

static inline QemuLockable qemu_make_lockable_null(void *unused)
{
    return (QemuLockable){ NULL, NULL, NULL };
}

#define QEMU_MAKE_LOCKABLE(x)                                               \
    _Generic((x),                                                           \
             CoMutex *: qemu_make_lockable_co,                              \
             QemuMutex *: qemu_make_lockable_mutex,                         \
             default: qemu_make_lockable_null)(x)

/*
 * CoQueue: coroutines waiting for a condition. Not thread-safe by itself:
 * the lock passed to qemu_co_queue_wait() (or the single thread that uses
 * the queue) protects it. Woken coroutines resume in their own contexts.
 */
struct CoQueue {
    QSIMPLEQ_HEAD(, Coroutine) entries;
};

void qemu_co_queue_init(CoQueue *queue);

/*
 * qemu_co_queue_wait:
 * Adds the calling coroutine to @queue, releases @lock (a CoMutex *,
 * QemuMutex * or NULL), yields, and takes @lock again once woken.
 */
#define qemu_co_queue_wait(queue, lock)                                     \
    qemu_co_queue_wait_impl(queue, QEMU_MAKE_LOCKABLE(lock))
void coroutine_fn qemu_co_queue_wait_impl(CoQueue *queue, QemuLockable lock);

/* Wakes the first waiter; returns false when there was none. */
bool qemu_co_queue_next(CoQueue *queue);
/* Wakes every waiter. */
void qemu_co_queue_restart_all(CoQueue *queue);
bool qemu_co_queue_empty(CoQueue *queue);

/*
 * qemu_co_enter_next:
 * Outside coroutine context: releases @lock, enters the first waiter
 * directly, and takes @lock again. Returns false when there was none.
 */
#define qemu_co_enter_next(queue, lock)                                     \
    qemu_co_enter_next_impl(queue, QEMU_MAKE_LOCKABLE(lock))
bool qemu_co_enter_next_impl(CoQueue *queue, QemuLockable lock);

/*
 * Sleeping. qemu_co_sleep_ns() yields for @ns nanoseconds of @type's clock
 * in the calling coroutine's AioContext.
 */
void coroutine_fn qemu_co_sleep_ns(QEMUClockType type, int64_t ns);

/*
 * A sleep that another party may cut short with qemu_co_sleep_wake().
 * @w is owned by the sleeper; waking a QemuCoSleep that is not sleeping does
 * nothing.
 */
typedef struct QemuCoSleep {
    Coroutine *to_wake;
} QemuCoSleep;

void coroutine_fn qemu_co_sleep_ns_wakeable(QemuCoSleep *w,
                                            QEMUClockType type, int64_t ns);
void qemu_co_sleep_wake(QemuCoSleep *w);

/*
 * Yields until qemu_co_sleep_wake(@w) (no timeout).
 */
void coroutine_fn qemu_co_sleep(QemuCoSleep *w);

#endif /* QEMU_COROUTINE_H */
