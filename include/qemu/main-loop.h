/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The main loop: the main AioContext and the iohandler context, both run by
 * the main thread inside GLib's default main context.
 *
 * The iohandler context holds handlers that must run only from the main
 * loop itself: main_loop_wait() dispatches them, a nested aio_poll() of the
 * main context (as block layer code does while it waits) never does.
 */
#ifndef QEMU_MAIN_LOOP_H
#define QEMU_MAIN_LOOP_H

#include "block/aio.h"

/**
 * qemu_init_main_loop:
 * Creates the main and iohandler contexts, attaches them to GLib's default
 * main context, and makes the calling thread the main thread. Calling it
 * again does nothing. Returns 0, or -1 with @errp set.
 */
int qemu_init_main_loop(Error **errp);

/*
 * Lets the main context busy-poll before it sleeps as an iothread does
 * (poll-max-ns IOTHREAD_POLL_MAX_NS_DEFAULT): for a server whose main
 * loop serves its clients (qemu-nbd). Not for the NBD client tools: on a
 * machine whose CPUs client and server keep busy, a client that polls
 * takes CPU time from the server (qemu-img bench -d 32 against nbdkit
 * on 2 CPUs: 1.3 s -> 2.0 s).
 */
void qemu_main_loop_enable_polling(void);

/* The main context; NULL before qemu_init_main_loop(). */
AioContext *qemu_get_aio_context(void);

/* The iohandler context; NULL before qemu_init_main_loop(). */
AioContext *iohandler_get_aio_context(void);

/* The iohandler context's GSource (a new reference). */
GSource *iohandler_get_g_source(void);

/**
 * main_loop_wait:
 * One iteration of GLib's default main context, which runs the main and
 * iohandler contexts and every other GSource attached to it. Blocks until
 * something happens unless @nonblocking.
 */
void main_loop_wait(int nonblocking);

/* True in the thread that called qemu_init_main_loop(). */
bool qemu_in_main_thread(void);

/* Sets fd handlers in the iohandler context. */
void qemu_set_fd_handler(int fd, IOHandler *fd_read, IOHandler *fd_write,
                         void *opaque);

/* A bottom half of the main context. */
#define qemu_bh_new(cb, opaque) \
    aio_bh_new(qemu_get_aio_context(), (cb), (opaque))

/* Wakes the main loop. */
void qemu_notify_event(void);

/*
 * AIO_WAIT_WHILE(ctx, cond):
 * Runs @ctx's event loop (from its home thread) until @cond is false.
 * From another thread, polls the caller's context instead. Whoever changes
 * @cond from another thread calls aio_wait_kick(), which wakes the main
 * context; waiters outside the main thread must be woken by their own
 * context's events.
 */
void aio_wait_kick(void);
#define AIO_WAIT_WHILE(ctx, cond) ({                                        \
    bool waited_ = false;                                                   \
    AioContext *ctx_ = (ctx);                                               \
    AioContext *poll_ = ctx_ && in_aio_context_home_thread(ctx_) ?          \
                        ctx_ : qemu_get_current_aio_context();              \
    /* Counted in every case: aio_wait_kick() must reach this waiter. */    \
    qatomic_inc(&global_aio_wait_waiters);                                  \
    while ((cond)) {                                                        \
        aio_poll(poll_, true);                                              \
        waited_ = true;                                                     \
    }                                                                       \
    qatomic_dec(&global_aio_wait_waiters);                                  \
    waited_; })
#define AIO_WAIT_WHILE_UNLOCKED(ctx, cond) AIO_WAIT_WHILE(ctx, cond)
extern unsigned int global_aio_wait_waiters;

#endif /* QEMU_MAIN_LOOP_H */
