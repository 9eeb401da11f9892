/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Threads and their synchronisation primitives, thin and checked wrappers of
 * POSIX threads. Every failure of the underlying call is a programming error
 * and aborts with the call's name and the error.
 */
#ifndef QEMU_THREAD_H
#define QEMU_THREAD_H

#include <pthread.h>
#include <semaphore.h>

typedef struct QemuMutex {
    pthread_mutex_t lock;
    bool initialized;
} QemuMutex;

typedef struct QemuCond {
    pthread_cond_t cond;
    bool initialized;
} QemuCond;

typedef struct QemuSemaphore {
    QemuMutex mutex;
    QemuCond cond;
    unsigned int count;
} QemuSemaphore;

/* A manual-reset event: set wakes every waiter until reset. */
typedef struct QemuEvent {
    QemuMutex mutex;
    QemuCond cond;
    bool set;
} QemuEvent;

typedef struct QemuThread {
    pthread_t thread;
} QemuThread;

enum {
    QEMU_THREAD_JOINABLE,
    QEMU_THREAD_DETACHED,
};

void qemu_mutex_init(QemuMutex *mutex);
void qemu_mutex_destroy(QemuMutex *mutex);
void qemu_mutex_lock(QemuMutex *mutex);
bool qemu_mutex_trylock(QemuMutex *mutex);
void qemu_mutex_unlock(QemuMutex *mutex);

void qemu_cond_init(QemuCond *cond);
void qemu_cond_destroy(QemuCond *cond);
void qemu_cond_signal(QemuCond *cond);
void qemu_cond_broadcast(QemuCond *cond);
void qemu_cond_wait(QemuCond *cond, QemuMutex *mutex);
/* Returns false on timeout. */
bool qemu_cond_timedwait(QemuCond *cond, QemuMutex *mutex, int ms);

void qemu_sem_init(QemuSemaphore *sem, int init);
void qemu_sem_destroy(QemuSemaphore *sem);
void qemu_sem_post(QemuSemaphore *sem);
void qemu_sem_wait(QemuSemaphore *sem);
/* Returns 0, or -1 on timeout. */
int qemu_sem_timedwait(QemuSemaphore *sem, int ms);

void qemu_event_init(QemuEvent *ev, bool init);
void qemu_event_destroy(QemuEvent *ev);
void qemu_event_set(QemuEvent *ev);
void qemu_event_reset(QemuEvent *ev);
void qemu_event_wait(QemuEvent *ev);

/*
 * qemu_thread_create:
 * Starts @start_routine(@arg) in a new thread named @name (visible in
 * /proc and debuggers). Signals are blocked in the new thread, so that the
 * main thread is the one that handles them.
 */
void qemu_thread_create(QemuThread *thread, const char *name,
                        void *(*start_routine)(void *), void *arg, int mode);
void *qemu_thread_join(QemuThread *thread);
void qemu_thread_get_self(QemuThread *thread);
bool qemu_thread_is_self(QemuThread *thread);
int qemu_get_thread_id(void);

static inline void qemu_mutex_auto_unlock(QemuMutex *mutex)
{
    qemu_mutex_unlock(mutex);
}
typedef QemuMutex QemuMutexLockGuard;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuMutexLockGuard, qemu_mutex_auto_unlock)

static inline QemuMutexLockGuard *qemu_mutex_lock_guard(QemuMutex *mutex)
{
    qemu_mutex_lock(mutex);
    return mutex;
}

/*
 * QEMU_LOCK_GUARD(&mutex): holds @mutex until the end of the enclosing
 * scope.
 */
#define QEMU_LOCK_GUARD_NAME_(l) qemu_lock_guard_##l
#define QEMU_LOCK_GUARD_NAME(l) QEMU_LOCK_GUARD_NAME_(l)
#define QEMU_LOCK_GUARD(m)                                                  \
    g_autoptr(QemuMutexLockGuard) QEMU_LOCK_GUARD_NAME(__LINE__)            \
        G_GNUC_UNUSED = qemu_mutex_lock_guard(m)

#endif /* QEMU_THREAD_H */
