/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The main loop.
 *
 * Theory of operation: the main thread owns the main and iohandler
 * contexts. Both are GSources of GLib's default main context, so
 * main_loop_wait() (one GLib iteration) runs both, together with any GLib
 * watch. The iohandler context is a separate AioContext, so an aio_poll() of
 * the main context, nested in some callback, never runs its handlers.
 */
#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "sysemu/iothread.h"

static AioContext *main_ctx;
static AioContext *iohandler_ctx;
static pthread_t main_thread;
unsigned int global_aio_wait_waiters;

int qemu_init_main_loop(Error **errp)
{
    AioContext *ctx;

    if (main_ctx) {
        return 0;
    }
    ctx = aio_context_new(errp);
    if (!ctx) {
        return -1;
    }
    iohandler_ctx = aio_context_new(errp);
    if (!iohandler_ctx) {
        aio_context_unref(ctx);
        return -1;
    }
    main_thread = pthread_self();
    g_source_set_name((GSource *)ctx, "main-aio-context");
    g_source_set_name((GSource *)iohandler_ctx, "io-handler");
    g_source_attach((GSource *)ctx, NULL);
    g_source_attach((GSource *)iohandler_ctx, NULL);
    qemu_set_current_aio_context(ctx);
    qatomic_store_release(&main_ctx, ctx);
    return 0;
}

void qemu_main_loop_enable_polling(void)
{
    aio_context_set_poll_params(qemu_get_aio_context(),
                                IOTHREAD_POLL_MAX_NS_DEFAULT, 0, 0,
                                &error_abort);
}

AioContext *qemu_get_aio_context(void)
{
    return qatomic_load_acquire(&main_ctx);
}

AioContext *iohandler_get_aio_context(void)
{
    return iohandler_ctx;
}

GSource *iohandler_get_g_source(void)
{
    return aio_get_g_source(iohandler_ctx);
}

bool qemu_in_main_thread(void)
{
    return main_ctx && pthread_equal(main_thread, pthread_self());
}

void main_loop_wait(int nonblocking)
{
    g_main_context_iteration(NULL, !nonblocking);
}

void qemu_set_fd_handler(int fd, IOHandler *fd_read, IOHandler *fd_write,
                         void *opaque)
{
    aio_set_fd_handler(iohandler_ctx, fd, fd_read, fd_write, NULL, NULL,
                       opaque);
}

void qemu_notify_event(void)
{
    if (main_ctx) {
        aio_notify(main_ctx);
    }
}

static void aio_wait_bh(void *opaque)
{
    /* Nothing: running at all wakes the waiter's aio_poll(). */
}

void aio_wait_kick(void)
{
    smp_mb();
    if (qatomic_read(&global_aio_wait_waiters) && main_ctx) {
        aio_bh_schedule_oneshot(main_ctx, aio_wait_bh, NULL);
    }
}
