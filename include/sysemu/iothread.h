/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IOThreads: threads that each run one AioContext's event loop.
 *
 * Created with iothread_create() or as a user-creatable object:
 *   --object iothread,id=iothread0[,poll-max-ns=N][,poll-grow=N]
 *            [,poll-shrink=N]
 */
#ifndef SYSEMU_IOTHREAD_H
#define SYSEMU_IOTHREAD_H

#include "block/aio.h"
#include "qom/object.h"

#define TYPE_IOTHREAD "iothread"

/*
 * As QEMU's: by default an iothread busy-polls adaptively for up to this
 * long before it sleeps (poll-max-ns=0 turns polling off).
 */
#define IOTHREAD_POLL_MAX_NS_DEFAULT 32768

OBJECT_DECLARE_SIMPLE_TYPE(IOThread, IOTHREAD)

struct IOThread {
    Object parent_obj;

    QemuThread thread;
    AioContext *ctx;
    QemuSemaphore init_done_sem;    /* the thread runs its context */
    bool running;                   /* atomic: cleared to stop */
    bool started;
    int thread_id;
    char *name;                     /* id given to iothread_create() */

    int64_t poll_max_ns;            /* IOTHREAD_POLL_MAX_NS_DEFAULT */
    int64_t poll_grow;
    int64_t poll_shrink;
};

/**
 * iothread_create:
 * Creates and starts an IOThread named @id (not visible in /objects).
 * Returns NULL with @errp set on failure. Free it with iothread_destroy().
 */
IOThread *iothread_create(const char *id, Error **errp);

/**
 * iothread_destroy:
 * Stops the thread, joins it and frees it with its context. Coroutines
 * still parked in the context stay parked (they are not resumed).
 */
void iothread_destroy(IOThread *iothread);

/* The context the thread runs; valid until the IOThread is freed. */
AioContext *iothread_get_aio_context(IOThread *iothread);

/* The IOThread created with --object iothread,id=@id, or NULL. */
IOThread *iothread_by_id(const char *id);

/* A copy of its id. */
char *iothread_get_id(IOThread *iothread);

/* The thread's kernel thread id. */
int iothread_get_thread_id(IOThread *iothread);

#endif /* SYSEMU_IOTHREAD_H */
