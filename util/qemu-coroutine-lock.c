/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CoMutex and CoQueue.
 *
 * Theory of operation: a CoMutex keeps its state under a short QemuMutex.
 * Unlock hands the lock straight to the first waiter (so no newcomer can
 * overtake it) and wakes it with aio_co_wake(), which resumes the waiter in
 * its own AioContext, whichever thread that is. A waiter woken before it
 * has actually yielded is safe: a wake from another thread goes through
 * aio_co_schedule(), whose bottom half runs in the waiter's thread, after
 * the waiter's yield; a wake from the same thread can only happen once the
 * waiter has yielded.
 */
#include "qemu/osdep.h"
#include "qemu/coroutine_int.h"
#include "block/aio.h"

void qemu_co_mutex_init(CoMutex *mutex)
{
    qemu_mutex_init(&mutex->lock);
    mutex->locked = false;
    mutex->holder = NULL;
    QSIMPLEQ_INIT(&mutex->waiters);
}

void qemu_co_mutex_destroy(CoMutex *mutex)
{
    assert(!mutex->locked && QSIMPLEQ_EMPTY(&mutex->waiters));
    qemu_mutex_destroy(&mutex->lock);
}

void coroutine_fn qemu_co_mutex_lock(CoMutex *mutex)
{
    Coroutine *self = qemu_coroutine_self();

    assert(qemu_in_coroutine());
    qemu_mutex_lock(&mutex->lock);
    if (!mutex->locked) {
        mutex->locked = true;
        mutex->holder = self;
        qemu_mutex_unlock(&mutex->lock);
    } else {
        if (mutex->holder == self) {
            fprintf(stderr, "qemu: coroutine %p locks a CoMutex it already "
                    "holds\n", (void *)self);
            abort();
        }
        QSIMPLEQ_INSERT_TAIL(&mutex->waiters, self, co_queue_next);
        qemu_mutex_unlock(&mutex->lock);
        qemu_coroutine_yield();
        /* The unlocker made us the holder. */
    }
    self->locks_held++;
}

void coroutine_fn qemu_co_mutex_unlock(CoMutex *mutex)
{
    Coroutine *self = qemu_coroutine_self();
    Coroutine *next;

    qemu_mutex_lock(&mutex->lock);
    if (!mutex->locked || mutex->holder != self) {
        fprintf(stderr, "qemu: coroutine %p unlocks a CoMutex it does not "
                "hold\n", (void *)self);
        abort();
    }
    next = QSIMPLEQ_FIRST(&mutex->waiters);
    if (next) {
        QSIMPLEQ_REMOVE_HEAD(&mutex->waiters, co_queue_next);
        mutex->holder = next;
    } else {
        mutex->locked = false;
        mutex->holder = NULL;
    }
    qemu_mutex_unlock(&mutex->lock);
    self->locks_held--;
    if (next) {
        aio_co_wake(next);
    }
}

void coroutine_fn qemu_co_mutex_assert_locked(CoMutex *mutex)
{
    bool mine;

    qemu_mutex_lock(&mutex->lock);
    mine = mutex->locked && mutex->holder == qemu_coroutine_self();
    qemu_mutex_unlock(&mutex->lock);
    if (!mine) {
        fprintf(stderr, "qemu: CoMutex %p is not held by the calling "
                "coroutine\n", (void *)mutex);
        abort();
    }
}

void qemu_co_mutex_lock_unlock_wrapper(void *mutex)
{
    qemu_co_mutex_lock(mutex);
}

void qemu_co_mutex_unlock_wrapper(void *mutex)
{
    qemu_co_mutex_unlock(mutex);
}

void qemu_mutex_lock_wrapper(void *mutex)
{
    qemu_mutex_lock(mutex);
}

void qemu_mutex_unlock_wrapper(void *mutex)
{
    qemu_mutex_unlock(mutex);
}

void qemu_co_queue_init(CoQueue *queue)
{
    QSIMPLEQ_INIT(&queue->entries);
}

void coroutine_fn qemu_co_queue_wait_impl(CoQueue *queue, QemuLockable lock)
{
    Coroutine *self = qemu_coroutine_self();

    assert(qemu_in_coroutine());
    QSIMPLEQ_INSERT_TAIL(&queue->entries, self, co_queue_next);
    if (lock.object) {
        lock.unlock(lock.object);
    }
    qemu_coroutine_yield();
    if (lock.object) {
        lock.lock(lock.object);
    }
}

bool qemu_co_queue_next(CoQueue *queue)
{
    Coroutine *next = QSIMPLEQ_FIRST(&queue->entries);

    if (!next) {
        return false;
    }
    QSIMPLEQ_REMOVE_HEAD(&queue->entries, co_queue_next);
    aio_co_wake(next);
    return true;
}

void qemu_co_queue_restart_all(CoQueue *queue)
{
    while (qemu_co_queue_next(queue)) {
        /* wake them all, in order */
    }
}

bool qemu_co_queue_empty(CoQueue *queue)
{
    return QSIMPLEQ_EMPTY(&queue->entries);
}

bool qemu_co_enter_next_impl(CoQueue *queue, QemuLockable lock)
{
    Coroutine *next = QSIMPLEQ_FIRST(&queue->entries);

    if (!next) {
        return false;
    }
    QSIMPLEQ_REMOVE_HEAD(&queue->entries, co_queue_next);
    if (lock.object) {
        lock.unlock(lock.object);
    }
    aio_co_wake(next);
    if (lock.object) {
        lock.lock(lock.object);
    }
    return true;
}
