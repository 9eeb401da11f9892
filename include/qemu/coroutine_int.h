/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Coroutine internals shared by the generic code and the stack-switching
 * backend. Not for users of coroutines.
 */
#ifndef QEMU_COROUTINE_INT_H
#define QEMU_COROUTINE_INT_H

#include "qemu/coroutine.h"

typedef enum {
    COROUTINE_YIELD = 1,
    COROUTINE_TERMINATE = 2,
    COROUTINE_ENTER = 3,
} CoroutineAction;

struct Coroutine {
    CoroutineEntry *entry;
    void *entry_arg;
    /* Who entered us; non-NULL exactly while we are running. */
    Coroutine *caller;
    /*
     * Token of the thread that runs us, from enter until we have switched
     * out completely (atomic). Guards the window in which a coroutine that
     * scheduled itself elsewhere has not finished yielding.
     */
    void *running;
    /* Home context; written by the thread that enters the coroutine. */
    AioContext *ctx;
    /* Name of the function that scheduled us, while scheduled (atomic). */
    const char *scheduled;
    /* Number of CoMutexes held; checked at termination. */
    unsigned int locks_held;

    /* Link in a CoQueue, CoMutex waiters or a wakeup queue. */
    QSIMPLEQ_ENTRY(Coroutine) co_queue_next;
    /* Coroutines to enter once we yield (aio_co_wake from a coroutine). */
    QSIMPLEQ_HEAD(, Coroutine) co_queue_wakeup;
    /* Link in an AioContext's list of scheduled coroutines. */
    QSLIST_ENTRY(Coroutine) co_scheduled_next;
    /* Link in the per-thread pool. */
    QSLIST_ENTRY(Coroutine) pool_next;
};

/* Backend: allocate a coroutine with its stack, and free it. */
Coroutine *qemu_coroutine_new(void);
void qemu_coroutine_delete(Coroutine *co);
/* Backend: switch from @from to @to; returns the action that resumed us. */
CoroutineAction qemu_coroutine_switch(Coroutine *from, Coroutine *to,
                                      CoroutineAction action);
/* Backend: the thread's leader (its own stack), creating it on first use. */
Coroutine *qemu_coroutine_leader(void);
/* Backend: the coroutine running on this thread (the leader if none). */
Coroutine *qemu_coroutine_current(void);
/* Backend: the running coroutine, NULL outside of one. */
extern __thread Coroutine *qemu_co_current;

#endif /* QEMU_COROUTINE_INT_H */
