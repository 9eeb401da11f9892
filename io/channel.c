/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannel: the base class and the generic helpers.
 *
 * Theory of operation: a channel has no AioContext of its own. A coroutine
 * that must wait calls qio_channel_yield(), which records itself and the
 * context it waits in (its own with follow-coroutine-ctx, else the
 * iohandler context) in the slot of its direction, installs the
 * direction's fd handler there, and yields. The handler
 * (qio_channel_restart_read/write) takes the coroutine out of its slot
 * atomically and wakes it with aio_co_wake(), which resumes it in its own
 * context; once running again, the coroutine empties its slot if nobody
 * did (a direct re-entry) and removes its own handler.
 *
 * A reader in qio_channel_co_readv() on a backend with io_co_readv waits
 * differently: as one receive of its own context (aio_co_recvmsg()), which
 * the context implements with its fd monitor and busy-polls with its own
 * adaptive settings. Its slot is read_recv_id, the receive's id, and
 * qio_channel_wake_read() cancels the receive by that id. Nothing here
 * knows how the context waits.
 *
 * The reader and the writer may be in different threads. The only state
 * they share is the waiter slots. The rule that makes this work: a waiter
 * always runs in the thread that runs the context its handler is in.
 * With follow-coroutine-ctx that holds by construction; without it the
 * handler goes to the iohandler context, which the main thread runs, so
 * only main-thread coroutines may wait (qio_channel_yield() asserts it:
 * two threads setting one fd's handlers in one context would overwrite
 * each other's and lose a wake-up). Hence a yield that finds the other
 * direction waiting in the *same* context finds it in its own thread, no
 * race, and passes both handlers in one call, because setting one handler
 * of an fd in a context replaces both; a yield that finds it in another
 * context (or nowhere) touches only its own context. A receive parked in
 * a context is kept apart from the fd's handlers by the context itself.
 * The slots are read and written atomically (context before waiter,
 * release/acquire), so the other direction never sees a waiter with a
 * stale context.
 */
#include "qemu/osdep.h"
#include "io/channel.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "qemu/coroutine.h"
#include "io/trace.h"

bool qio_channel_has_feature(QIOChannel *ioc, QIOChannelFeature feature)
{
    return ioc->features & (1u << feature);
}

void qio_channel_set_feature(QIOChannel *ioc, QIOChannelFeature feature)
{
    ioc->features |= (1u << feature);
}

void qio_channel_set_name(QIOChannel *ioc, const char *name)
{
    g_free(ioc->name);
    ioc->name = g_strdup(name);
}

ssize_t qio_channel_readv_full(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, int **fds, size_t *nfds,
                               int flags, Error **errp)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if ((fds || nfds) &&
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS)) {
        error_setg_errno(errp, EINVAL, "channel '%s' cannot receive file "
                         "descriptors", ioc->name ? ioc->name : "?");
        return -1;
    }
    if ((flags & QIO_CHANNEL_READ_FLAG_MSG_PEEK) &&
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_READ_MSG_PEEK)) {
        error_setg_errno(errp, EINVAL, "channel '%s' cannot peek",
                         ioc->name ? ioc->name : "?");
        return -1;
    }
    return klass->io_readv(ioc, iov, niov, fds, nfds, flags, errp);
}

ssize_t qio_channel_writev_full(QIOChannel *ioc, const struct iovec *iov,
                                size_t niov, int *fds, size_t nfds,
                                int flags, Error **errp)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (fds || nfds) {
        if (!qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS)) {
            error_setg_errno(errp, EINVAL, "channel '%s' cannot send file "
                             "descriptors", ioc->name ? ioc->name : "?");
            return -1;
        }
        if (flags & QIO_CHANNEL_WRITE_FLAG_ZERO_COPY) {
            error_setg_errno(errp, EINVAL, "zero-copy writes cannot pass "
                             "file descriptors");
            return -1;
        }
    }
    if ((flags & QIO_CHANNEL_WRITE_FLAG_ZERO_COPY) &&
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY)) {
        error_setg_errno(errp, EINVAL, "channel '%s' has no zero-copy "
                         "writes", ioc->name ? ioc->name : "?");
        return -1;
    }
    return klass->io_writev(ioc, iov, niov, fds, nfds, flags, errp);
}

/* Waits for @condition the way the caller can: yield or block. */
static void coroutine_mixed_fn qio_channel_wait_any(QIOChannel *ioc,
                                                    GIOCondition condition)
{
    if (qemu_in_coroutine()) {
        qio_channel_yield(ioc, condition);
    } else {
        qio_channel_wait(ioc, condition);
    }
}

/* Advances @iov past @n bytes; returns the new count of vectors. */
static size_t iov_consume(struct iovec **iov, size_t niov, size_t n)
{
    while (niov && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        niov--;
    }
    if (niov && n) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
    return niov;
}

/* Drops received fds: on error, nobody will own them. */
static void drop_fds(int **fds, size_t *nfds)
{
    size_t i;

    if (fds && *fds) {
        for (i = 0; i < *nfds; i++) {
            close((*fds)[i]);
        }
        g_free(*fds);
        *fds = NULL;
        *nfds = 0;
    }
}

int coroutine_mixed_fn qio_channel_readv_full_all_eof(QIOChannel *ioc,
                                                      const struct iovec *iov,
                                                      size_t niov, int **fds,
                                                      size_t *nfds,
                                                      Error **errp)
{
    g_autofree struct iovec *copy = g_memdup2(iov, niov * sizeof(*iov));
    struct iovec *cur = copy;
    bool partial = false;
    int **fdp = fds;
    size_t *nfdp = nfds;

    if (fds) {
        *fds = NULL;
        *nfds = 0;
    }
    while (niov > 0) {
        ssize_t len;

        if (!fdp && qemu_in_coroutine()) {
            /* No fds wanted: the backend may wait and read in one step. */
            len = qio_channel_co_readv(ioc, cur, niov, errp);
            if (len == QIO_CHANNEL_ERR_BLOCK) {
                continue;
            }
        } else {
            len = qio_channel_readv_full(ioc, cur, niov, fdp, nfdp, 0, errp);
            if (len == QIO_CHANNEL_ERR_BLOCK) {
                qio_channel_wait_any(ioc, G_IO_IN);
                continue;
            }
        }
        if (len < 0) {
            drop_fds(fds, nfds);
            return -1;
        }
        if (len == 0) {
            if (!partial) {
                /* End of file before anything: 0, no error. */
                drop_fds(fds, nfds);
                return 0;
            }
            error_setg(errp, "Unexpected end-of-file before all data were "
                       "read");
            drop_fds(fds, nfds);
            return -1;
        }
        partial = true;
        /* File descriptors come with the first bytes only. */
        fdp = NULL;
        nfdp = NULL;
        niov = iov_consume(&cur, niov, len);
    }
    return 1;
}

int coroutine_mixed_fn qio_channel_readv_full_all(QIOChannel *ioc,
                                                  const struct iovec *iov,
                                                  size_t niov, int **fds,
                                                  size_t *nfds, Error **errp)
{
    int ret = qio_channel_readv_full_all_eof(ioc, iov, niov, fds, nfds,
                                             errp);

    if (ret == 0) {
        error_setg(errp, "Unexpected end-of-file before all data were read");
        return -1;
    }
    return ret == 1 ? 0 : ret;
}

int coroutine_mixed_fn qio_channel_readv_all_eof(QIOChannel *ioc,
                                                 const struct iovec *iov,
                                                 size_t niov, Error **errp)
{
    return qio_channel_readv_full_all_eof(ioc, iov, niov, NULL, NULL, errp);
}

int coroutine_mixed_fn qio_channel_readv_all(QIOChannel *ioc,
                                             const struct iovec *iov,
                                             size_t niov, Error **errp)
{
    return qio_channel_readv_full_all(ioc, iov, niov, NULL, NULL, errp);
}

int coroutine_mixed_fn qio_channel_writev_full_all(QIOChannel *ioc,
                                                   const struct iovec *iov,
                                                   size_t niov, int *fds,
                                                   size_t nfds, int flags,
                                                   Error **errp)
{
    g_autofree struct iovec *copy = g_memdup2(iov, niov * sizeof(*iov));
    struct iovec *cur = copy;

    while (niov > 0) {
        ssize_t len = qio_channel_writev_full(ioc, cur, niov, fds, nfds,
                                              flags, errp);

        if (len == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_wait_any(ioc, G_IO_OUT);
            continue;
        }
        if (len < 0) {
            return -1;
        }
        /* The fds went out with the first bytes. */
        fds = NULL;
        nfds = 0;
        niov = iov_consume(&cur, niov, len);
    }
    return 0;
}

int coroutine_mixed_fn qio_channel_writev_all(QIOChannel *ioc,
                                              const struct iovec *iov,
                                              size_t niov, Error **errp)
{
    return qio_channel_writev_full_all(ioc, iov, niov, NULL, 0, 0, errp);
}

ssize_t qio_channel_readv(QIOChannel *ioc, const struct iovec *iov,
                          size_t niov, Error **errp)
{
    return qio_channel_readv_full(ioc, iov, niov, NULL, NULL, 0, errp);
}

ssize_t qio_channel_writev(QIOChannel *ioc, const struct iovec *iov,
                           size_t niov, Error **errp)
{
    return qio_channel_writev_full(ioc, iov, niov, NULL, 0, 0, errp);
}

ssize_t qio_channel_read(QIOChannel *ioc, char *buf, size_t buflen,
                         Error **errp)
{
    struct iovec iov = { .iov_base = buf, .iov_len = buflen };

    return qio_channel_readv_full(ioc, &iov, 1, NULL, NULL, 0, errp);
}

ssize_t qio_channel_write(QIOChannel *ioc, const char *buf, size_t buflen,
                          Error **errp)
{
    struct iovec iov = { .iov_base = (char *)buf, .iov_len = buflen };

    return qio_channel_writev_full(ioc, &iov, 1, NULL, 0, 0, errp);
}

int coroutine_mixed_fn qio_channel_read_all_eof(QIOChannel *ioc, char *buf,
                                                size_t buflen, Error **errp)
{
    struct iovec iov = { .iov_base = buf, .iov_len = buflen };

    return qio_channel_readv_all_eof(ioc, &iov, 1, errp);
}

int coroutine_mixed_fn qio_channel_read_all(QIOChannel *ioc, char *buf,
                                            size_t buflen, Error **errp)
{
    struct iovec iov = { .iov_base = buf, .iov_len = buflen };

    return qio_channel_readv_all(ioc, &iov, 1, errp);
}

int coroutine_mixed_fn qio_channel_write_all(QIOChannel *ioc,
                                             const char *buf, size_t buflen,
                                             Error **errp)
{
    struct iovec iov = { .iov_base = (char *)buf, .iov_len = buflen };

    return qio_channel_writev_all(ioc, &iov, 1, errp);
}

int qio_channel_set_blocking(QIOChannel *ioc, bool enabled, Error **errp)
{
    return QIO_CHANNEL_GET_CLASS(ioc)->io_set_blocking(ioc, enabled, errp);
}

void qio_channel_set_follow_coroutine_ctx(QIOChannel *ioc, bool enabled)
{
    ioc->follow_coroutine_ctx = enabled;
}

int qio_channel_close(QIOChannel *ioc, Error **errp)
{
    return QIO_CHANNEL_GET_CLASS(ioc)->io_close(ioc, errp);
}

int qio_channel_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                         Error **errp)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (!klass->io_shutdown) {
        error_setg(errp, "channel '%s' does not support shutdown",
                   ioc->name ? ioc->name : "?");
        return -1;
    }
    return klass->io_shutdown(ioc, how, errp);
}

void qio_channel_set_delay(QIOChannel *ioc, bool enabled)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (klass->io_set_delay) {
        klass->io_set_delay(ioc, enabled);
    }
}

void qio_channel_set_cork(QIOChannel *ioc, bool enabled)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (klass->io_set_cork) {
        klass->io_set_cork(ioc, enabled);
    }
}

off_t qio_channel_io_seek(QIOChannel *ioc, off_t offset, int whence,
                          Error **errp)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (!klass->io_seek) {
        error_setg(errp, "channel '%s' is not seekable",
                   ioc->name ? ioc->name : "?");
        return -1;
    }
    return klass->io_seek(ioc, offset, whence, errp);
}

int qio_channel_flush(QIOChannel *ioc, Error **errp)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (!klass->io_flush ||
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY)) {
        return 0;
    }
    return klass->io_flush(ioc, errp);
}

GSource *qio_channel_create_watch(QIOChannel *ioc, GIOCondition condition)
{
    GSource *src = QIO_CHANNEL_GET_CLASS(ioc)->io_create_watch(ioc,
                                                               condition);

    if (ioc->name) {
        g_source_set_name(src, ioc->name);
    }
    return src;
}

GSource *qio_channel_add_watch_source(QIOChannel *ioc,
                                      GIOCondition condition,
                                      QIOChannelFunc func,
                                      gpointer user_data,
                                      GDestroyNotify notify,
                                      GMainContext *context)
{
    GSource *src = qio_channel_create_watch(ioc, condition);

    g_source_set_callback(src, (GSourceFunc)func, user_data, notify);
    g_source_attach(src, context);
    g_source_unref(src);
    return src;
}

guint qio_channel_add_watch_full(QIOChannel *ioc, GIOCondition condition,
                                 QIOChannelFunc func, gpointer user_data,
                                 GDestroyNotify notify,
                                 GMainContext *context)
{
    GSource *src = qio_channel_create_watch(ioc, condition);
    guint id;

    g_source_set_callback(src, (GSourceFunc)func, user_data, notify);
    id = g_source_attach(src, context);
    g_source_unref(src);
    return id;
}

guint qio_channel_add_watch(QIOChannel *ioc, GIOCondition condition,
                            QIOChannelFunc func, gpointer user_data,
                            GDestroyNotify notify)
{
    return qio_channel_add_watch_full(ioc, condition, func, user_data,
                                      notify, NULL);
}

void qio_channel_set_aio_fd_handler(QIOChannel *ioc, AioContext *read_ctx,
                                    IOHandler *io_read,
                                    AioContext *write_ctx,
                                    IOHandler *io_write, void *opaque)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    /* Mandatory: a channel with nothing to poll says so with a no-op. */
    assert(klass->io_set_aio_fd_handler &&
           "every channel class implements io_set_aio_fd_handler");
    klass->io_set_aio_fd_handler(ioc, read_ctx, io_read, write_ctx,
                                 io_write, opaque);
}

/*
 * fd handlers: run in the context the waiter chose, which is run by the
 * waiter's own thread (qio_channel_yield() asserts it), so aio_co_wake()
 * resumes the waiter directly.
 */

static void qio_channel_restart_read(void *opaque)
{
    QIOChannel *ioc = opaque;
    Coroutine *co = qatomic_xchg(&ioc->read_coroutine, NULL);

    /* NULL: qio_channel_wake_read() or a direct re-entry got there first. */
    if (co) {
        assert(in_aio_context_home_thread(qemu_coroutine_get_aio_context(co))
               && "a channel's fd handler runs in its waiter's thread");
        aio_co_wake(co);
    }
}

static void qio_channel_restart_write(void *opaque)
{
    QIOChannel *ioc = opaque;
    Coroutine *co = qatomic_xchg(&ioc->write_coroutine, NULL);

    if (co) {
        assert(in_aio_context_home_thread(qemu_coroutine_get_aio_context(co))
               && "a channel's fd handler runs in its waiter's thread");
        aio_co_wake(co);
    }
}

/*
 * Sets (@install) or clears the fd handler of @condition's direction in the
 * context recorded for it, carrying the other direction's handler along
 * when that one waits in the same context. A reader parked in a context
 * receive (read_recv_id) has no handler of ours: the context keeps that
 * wait apart from the fd's handlers.
 */
static void qio_channel_update_fd_handlers(QIOChannel *ioc,
                                           GIOCondition condition,
                                           bool install)
{
    AioContext *read_ctx = NULL, *write_ctx = NULL;
    IOHandler *io_read = NULL, *io_write = NULL;

    if (condition == G_IO_IN) {
        read_ctx = qatomic_read(&ioc->read_ctx);
        io_read = install ? qio_channel_restart_read : NULL;
        if (qatomic_load_acquire(&ioc->write_coroutine) &&
            qatomic_read(&ioc->write_ctx) == read_ctx) {
            write_ctx = read_ctx;
            io_write = qio_channel_restart_write;
        }
    } else {
        write_ctx = qatomic_read(&ioc->write_ctx);
        io_write = install ? qio_channel_restart_write : NULL;
        if (qatomic_load_acquire(&ioc->read_coroutine) &&
            qatomic_read(&ioc->read_ctx) == write_ctx) {
            read_ctx = write_ctx;
            io_read = qio_channel_restart_read;
        }
    }
    qio_channel_set_aio_fd_handler(ioc, read_ctx, io_read, write_ctx,
                                   io_write, ioc);
}

void coroutine_fn qio_channel_yield(QIOChannel *ioc, GIOCondition condition)
{
    Coroutine *self;
    AioContext *ctx;

    assert(qemu_in_coroutine());
    self = qemu_coroutine_self();
    ctx = ioc->follow_coroutine_ctx ?
          qemu_coroutine_get_aio_context(self) :
          iohandler_get_aio_context();
    assert(ctx);
    /*
     * The rule the handler bookkeeping rests on: a waiter runs in the
     * thread that runs the context of its handler. With follow-coroutine-ctx
     * that is always so; without it the handler goes to the iohandler
     * context, which only the main loop runs, so a coroutine of an
     * iothread must not wait there: two threads would then set the fd's
     * handlers in one context at once, and one would overwrite the other's.
     */
    assert(in_aio_context_home_thread(ctx) &&
           "a wait without follow-coroutine-ctx runs in the main thread");

    if (condition == G_IO_IN) {
        assert(!qatomic_read(&ioc->read_coroutine) &&
               !qatomic_read(&ioc->read_recv_id));
        qatomic_set(&ioc->read_ctx, ctx);
        qatomic_store_release(&ioc->read_coroutine, self);
    } else if (condition == G_IO_OUT) {
        assert(!qatomic_read(&ioc->write_coroutine));
        qatomic_set(&ioc->write_ctx, ctx);
        qatomic_store_release(&ioc->write_coroutine, self);
    } else {
        abort();
    }
    trace_qio_channel_yield_start(ioc, condition, ctx);
    qio_channel_update_fd_handlers(ioc, condition, true);
    qemu_coroutine_yield();
    trace_qio_channel_yield_end(ioc, condition);

    /*
     * Woken by the handler or by qio_channel_wake_read(), which emptied
     * the slot, or re-entered directly by someone else (QEMU allows that
     * to interrupt a wait), which did not: then empty it here. Either way
     * remove our handler from where it was.
     */
    if (condition == G_IO_IN) {
        qatomic_cmpxchg(&ioc->read_coroutine, self, NULL);
    } else {
        qatomic_cmpxchg(&ioc->write_coroutine, self, NULL);
    }
    qio_channel_update_fd_handlers(ioc, condition, false);
}

void qio_channel_wake_read(QIOChannel *ioc)
{
    Coroutine *co = qatomic_xchg(&ioc->read_coroutine, NULL);
    uint64_t id;

    if (co) {
        aio_co_wake(co);
        return;
    }
    id = qatomic_xchg(&ioc->read_recv_id, 0);
    if (id) {
        /*
         * Parked in a context receive: cancel it by its id, which names
         * that receive only. If it completed meanwhile, nothing happens
         * (the reader got its data, which is as good as a wake).
         */
        aio_co_recv_cancel(qatomic_read(&ioc->read_ctx), id);
    }
}

ssize_t coroutine_fn qio_channel_co_readv(QIOChannel *ioc,
                                          const struct iovec *iov,
                                          size_t niov, Error **errp)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);
    AioCoRecv req;
    uint64_t id;
    ssize_t ret;

    assert(qemu_in_coroutine());
    /*
     * Data there already? Always look first: under load the data usually
     * is, and then a plain read is cheaper than any wait.
     */
    ret = qio_channel_readv(ioc, iov, niov, errp);
    if (ret != QIO_CHANNEL_ERR_BLOCK) {
        return ret;
    }
    if (!klass->io_co_readv || !ioc->follow_coroutine_ctx) {
        qio_channel_yield(ioc, G_IO_IN);
        /* Woken: data, or qio_channel_wake_read(). Look once more. */
        return qio_channel_readv(ioc, iov, niov, errp);
    }

    /* Park in a receive of our own context, published for the waker. */
    id = aio_co_recv_init(&req);
    assert(!qatomic_read(&ioc->read_coroutine) &&
           !qatomic_read(&ioc->read_recv_id));
    qatomic_set(&ioc->read_ctx, qemu_get_current_aio_context());
    qatomic_store_release(&ioc->read_recv_id, id);
    trace_qio_channel_yield_start(ioc, G_IO_IN,
                                  qemu_get_current_aio_context());
    ret = klass->io_co_readv(ioc, iov, niov, &req, errp);
    trace_qio_channel_yield_end(ioc, G_IO_IN);
    /* Empty the slot unless qio_channel_wake_read() did. */
    qatomic_cmpxchg(&ioc->read_recv_id, id, 0);
    return ret;
}

static gboolean qio_channel_wait_complete(QIOChannel *ioc,
                                          GIOCondition condition,
                                          gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_REMOVE;
}

void qio_channel_wait(QIOChannel *ioc, GIOCondition condition)
{
    GMainContext *ctxt = g_main_context_new();
    GMainLoop *loop = g_main_loop_new(ctxt, TRUE);
    GSource *source = qio_channel_create_watch(ioc, condition);

    g_source_set_callback(source, (GSourceFunc)qio_channel_wait_complete,
                          loop, NULL);
    g_source_attach(source, ctxt);
    trace_qio_channel_wait_start(ioc, condition);
    g_main_loop_run(loop);
    trace_qio_channel_wait_end(ioc, condition);
    g_source_destroy(source);
    g_source_unref(source);
    g_main_loop_unref(loop);
    g_main_context_unref(ctxt);
}

static void qio_channel_finalize(Object *obj)
{
    QIOChannel *ioc = QIO_CHANNEL(obj);

    /*
     * A coroutine still parked here would be woken by a handler pointing
     * at freed memory: that is a use-after-free waiting to happen.
     */
    assert(!qatomic_read(&ioc->read_coroutine) &&
           !qatomic_read(&ioc->read_recv_id) &&
           !qatomic_read(&ioc->write_coroutine) &&
           "a channel must not be freed while a coroutine waits on it");
    g_free(ioc->name);
}

static const TypeInfo qio_channel_info = {
    .parent = TYPE_OBJECT,
    .name = TYPE_QIO_CHANNEL,
    .instance_size = sizeof(QIOChannel),
    .instance_finalize = qio_channel_finalize,
    .abstract = true,
    .class_size = sizeof(QIOChannelClass),
};

static void qio_channel_register_types(void)
{
    type_register_static(&qio_channel_info);
}

type_init(qio_channel_register_types)
