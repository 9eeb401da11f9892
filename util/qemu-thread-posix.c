/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * POSIX implementation of qemu/thread.h.
 */
#include "qemu/osdep.h"
#include "qemu/thread.h"

#include <sys/syscall.h>

static void QEMU_NORETURN thread_die(int err, const char *call)
{
    fprintf(stderr, "qemu: %s failed: %s\n", call, strerror(err));
    abort();
}

#define CHECK(call) do {                                                    \
    int err_ = (call);                                                      \
    if (err_) {                                                             \
        thread_die(err_, #call);                                            \
    }                                                                       \
} while (0)

void qemu_mutex_init(QemuMutex *mutex)
{
    CHECK(pthread_mutex_init(&mutex->lock, NULL));
    mutex->initialized = true;
}

void qemu_mutex_destroy(QemuMutex *mutex)
{
    assert(mutex->initialized);
    mutex->initialized = false;
    CHECK(pthread_mutex_destroy(&mutex->lock));
}

void qemu_mutex_lock(QemuMutex *mutex)
{
    assert(mutex->initialized);
    CHECK(pthread_mutex_lock(&mutex->lock));
}

bool qemu_mutex_trylock(QemuMutex *mutex)
{
    int err;

    assert(mutex->initialized);
    err = pthread_mutex_trylock(&mutex->lock);
    if (err == EBUSY) {
        return false;
    }
    CHECK(err);
    return true;
}

void qemu_mutex_unlock(QemuMutex *mutex)
{
    assert(mutex->initialized);
    CHECK(pthread_mutex_unlock(&mutex->lock));
}

void qemu_cond_init(QemuCond *cond)
{
    pthread_condattr_t attr;

    CHECK(pthread_condattr_init(&attr));
    CHECK(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC));
    CHECK(pthread_cond_init(&cond->cond, &attr));
    CHECK(pthread_condattr_destroy(&attr));
    cond->initialized = true;
}

void qemu_cond_destroy(QemuCond *cond)
{
    assert(cond->initialized);
    cond->initialized = false;
    CHECK(pthread_cond_destroy(&cond->cond));
}

void qemu_cond_signal(QemuCond *cond)
{
    CHECK(pthread_cond_signal(&cond->cond));
}

void qemu_cond_broadcast(QemuCond *cond)
{
    CHECK(pthread_cond_broadcast(&cond->cond));
}

void qemu_cond_wait(QemuCond *cond, QemuMutex *mutex)
{
    CHECK(pthread_cond_wait(&cond->cond, &mutex->lock));
}

bool qemu_cond_timedwait(QemuCond *cond, QemuMutex *mutex, int ms)
{
    struct timespec ts;
    int err;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    err = pthread_cond_timedwait(&cond->cond, &mutex->lock, &ts);
    if (err == ETIMEDOUT) {
        return false;
    }
    CHECK(err);
    return true;
}

void qemu_sem_init(QemuSemaphore *sem, int init)
{
    assert(init >= 0);
    qemu_mutex_init(&sem->mutex);
    qemu_cond_init(&sem->cond);
    sem->count = init;
}

void qemu_sem_destroy(QemuSemaphore *sem)
{
    qemu_cond_destroy(&sem->cond);
    qemu_mutex_destroy(&sem->mutex);
}

void qemu_sem_post(QemuSemaphore *sem)
{
    qemu_mutex_lock(&sem->mutex);
    sem->count++;
    qemu_cond_signal(&sem->cond);
    qemu_mutex_unlock(&sem->mutex);
}

void qemu_sem_wait(QemuSemaphore *sem)
{
    qemu_mutex_lock(&sem->mutex);
    while (sem->count == 0) {
        qemu_cond_wait(&sem->cond, &sem->mutex);
    }
    sem->count--;
    qemu_mutex_unlock(&sem->mutex);
}

int qemu_sem_timedwait(QemuSemaphore *sem, int ms)
{
    int64_t deadline = g_get_monotonic_time() + (int64_t)ms * 1000;
    int ret = 0;

    qemu_mutex_lock(&sem->mutex);
    while (sem->count == 0) {
        int64_t left = deadline - g_get_monotonic_time();
        if (left <= 0) {
            ret = -1;
            break;
        }
        qemu_cond_timedwait(&sem->cond, &sem->mutex,
                            (int)DIV_ROUND_UP(left, 1000));
    }
    if (ret == 0) {
        sem->count--;
    }
    qemu_mutex_unlock(&sem->mutex);
    return ret;
}

void qemu_event_init(QemuEvent *ev, bool init)
{
    qemu_mutex_init(&ev->mutex);
    qemu_cond_init(&ev->cond);
    ev->set = init;
}

void qemu_event_destroy(QemuEvent *ev)
{
    qemu_cond_destroy(&ev->cond);
    qemu_mutex_destroy(&ev->mutex);
}

void qemu_event_set(QemuEvent *ev)
{
    qemu_mutex_lock(&ev->mutex);
    ev->set = true;
    qemu_cond_broadcast(&ev->cond);
    qemu_mutex_unlock(&ev->mutex);
}

void qemu_event_reset(QemuEvent *ev)
{
    qemu_mutex_lock(&ev->mutex);
    ev->set = false;
    qemu_mutex_unlock(&ev->mutex);
}

void qemu_event_wait(QemuEvent *ev)
{
    qemu_mutex_lock(&ev->mutex);
    while (!ev->set) {
        qemu_cond_wait(&ev->cond, &ev->mutex);
    }
    qemu_mutex_unlock(&ev->mutex);
}

typedef struct ThreadStart {
    void *(*fn)(void *);
    void *arg;
    char *name;
} ThreadStart;

static void *thread_start(void *opaque)
{
    ThreadStart *start = opaque;
    void *(*fn)(void *) = start->fn;
    void *arg = start->arg;

    if (start->name) {
        /* The kernel keeps at most 15 characters. */
        char comm[16];
        g_strlcpy(comm, start->name, sizeof(comm));
        pthread_setname_np(pthread_self(), comm);
    }
    g_free(start->name);
    g_free(start);
    return fn(arg);
}

void qemu_thread_create(QemuThread *thread, const char *name,
                        void *(*start_routine)(void *), void *arg, int mode)
{
    ThreadStart *start = g_new0(ThreadStart, 1);
    sigset_t all, old;
    pthread_attr_t attr;

    start->fn = start_routine;
    start->arg = arg;
    start->name = g_strdup(name);

    CHECK(pthread_attr_init(&attr));
    if (mode == QEMU_THREAD_DETACHED) {
        CHECK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED));
    }
    sigfillset(&all);
    /* Faults must still reach the thread that caused them. */
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGFPE);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGABRT);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    CHECK(pthread_create(&thread->thread, &attr, thread_start, start));
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

void *qemu_thread_join(QemuThread *thread)
{
    void *ret;

    CHECK(pthread_join(thread->thread, &ret));
    return ret;
}

void qemu_thread_get_self(QemuThread *thread)
{
    thread->thread = pthread_self();
}

bool qemu_thread_is_self(QemuThread *thread)
{
    return pthread_equal(pthread_self(), thread->thread);
}

int qemu_get_thread_id(void)
{
    return (int)syscall(SYS_gettid);
}
