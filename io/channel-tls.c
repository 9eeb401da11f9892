/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelTLS: TLS over another channel.
 *
 * Theory of operation
 *
 * The TLS channel owns a QCryptoTLSSession whose transport callbacks
 * read and write the master channel. It has no fd of its own: waiting is
 * done on the master's fd(s), either through the channel contract
 * (qio_channel_yield() on the TLS channel calls our
 * io_set_aio_fd_handler, which forwards the handlers, the contexts and
 * the opaque unchanged to the master) or through GSource watches built on
 * the master's watch.
 *
 * Threads. After the handshake one reader and one writer may use the
 * channel at the same time, from coroutines in two different iothreads.
 * They share:
 * - the session, whose GnuTLS calls are serialised by the session's own
 *   mutex, held only for the length of one non-blocking call (TLS 1.3
 *   KeyUpdate handling in GnuTLS is not safe against a concurrent send;
 *   see crypto/tlssession.c);
 * - the master, used by the transport callbacks, which therefore also
 *   run under that mutex;
 * - @shutdown, @read_err and @write_err, accessed atomically.
 * The handshake (either form) runs before any of that, in one thread at
 * a time: the QIOTask form in the thread of its GMainContext, the
 * coroutine form in the calling coroutine's context. @handshake belongs
 * to the QIOTask form's context thread; close the channel from there.
 *
 * follow-coroutine-ctx: the TLS channel copies its master's setting when
 * it is made (so that a TLS channel over a socket that follows its
 * coroutine's context does so too). Every wait of ours, the coroutine
 * handshake's included, is a qio_channel_yield() on the TLS channel
 * itself, whose handlers we forward to the master's fd: so the TLS
 * channel's own setting decides where it waits, and the master's setting
 * is never touched.
 */
#include "qemu/osdep.h"
#include "io/channel-tls.h"
#include "qapi/error.h"
#include "qemu/atomic.h"
#include "qemu/coroutine.h"
#include "io/trace.h"

struct QIOChannelTLSHandshake {
    QIOChannelTLS *tioc;        /* borrowed: the task holds a reference */
    QIOTask *task;
    GMainContext *context;      /* a reference, or NULL for the default */
    GSource *source;            /* the watch we wait on, a reference */
};

/* Keeps @err (a master error) for the operation that will fail on it. */
static void qio_channel_tls_stash_error(Error **slot, Error *err)
{
    Error *old = qatomic_xchg(slot, err);

    error_free(old);
}

/*
 * Reports the failure of a session call: the master's error if the
 * transport callbacks kept one (more telling than GnuTLS' "error in the
 * pull function"), else the session's own @err.
 */
static void qio_channel_tls_report(Error **errp, Error **slot, Error *err,
                                   const char *prefix)
{
    Error *master_err = qatomic_xchg(slot, NULL);

    if (master_err) {
        error_free(err);
        error_propagate_prepend(errp, master_err, "%s", prefix);
    } else {
        error_propagate(errp, err);
    }
}

/* Session transport callbacks: run inside session calls, under its lock. */

static ssize_t qio_channel_tls_write_handler(const char *buf, size_t len,
                                             void *opaque)
{
    QIOChannelTLS *tioc = opaque;
    Error *err = NULL;
    ssize_t ret;

    ret = qio_channel_write(tioc->master, buf, len, &err);
    if (ret == QIO_CHANNEL_ERR_BLOCK) {
        errno = EAGAIN;
        return -1;
    }
    if (ret < 0) {
        qio_channel_tls_stash_error(&tioc->write_err, err);
        errno = EIO;
        return -1;
    }
    return ret;
}

static ssize_t qio_channel_tls_read_handler(char *buf, size_t len,
                                            void *opaque)
{
    QIOChannelTLS *tioc = opaque;
    Error *err = NULL;
    ssize_t ret;

    ret = qio_channel_read(tioc->master, buf, len, &err);
    if (ret == QIO_CHANNEL_ERR_BLOCK) {
        errno = EAGAIN;
        return -1;
    }
    if (ret < 0) {
        qio_channel_tls_stash_error(&tioc->read_err, err);
        errno = EIO;
        return -1;
    }
    return ret;
}

static QIOChannelTLS *qio_channel_tls_new(QIOChannel *master,
                                          QCryptoTLSCreds *creds,
                                          const char *hostname,
                                          const char *aclname,
                                          QCryptoTLSCredsEndpoint endpoint,
                                          Error **errp)
{
    QIOChannelTLS *tioc;
    QIOChannel *ioc;
    QCryptoTLSSession *session;

    session = qcrypto_tls_session_new(creds, hostname, aclname, endpoint,
                                      errp);
    if (!session) {
        return NULL;
    }

    tioc = QIO_CHANNEL_TLS(object_new(TYPE_QIO_CHANNEL_TLS));
    ioc = QIO_CHANNEL(tioc);
    tioc->master = QIO_CHANNEL(object_ref(OBJECT(master)));
    tioc->session = session;
    if (qio_channel_has_feature(master, QIO_CHANNEL_FEATURE_SHUTDOWN)) {
        qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN);
    }
    /*
     * Wait where the master's users wait: a TLS channel that waited in the
     * iohandler context while its coroutine lives in an IOThread would
     * never be woken there.
     */
    qio_channel_set_follow_coroutine_ctx(ioc, master->follow_coroutine_ctx);
    qcrypto_tls_session_set_callbacks(session,
                                      qio_channel_tls_write_handler,
                                      qio_channel_tls_read_handler,
                                      tioc);
    return tioc;
}

QIOChannelTLS *qio_channel_tls_new_server(QIOChannel *master,
                                          QCryptoTLSCreds *creds,
                                          const char *aclname,
                                          Error **errp)
{
    return qio_channel_tls_new(master, creds, NULL, aclname,
                               QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, errp);
}

QIOChannelTLS *qio_channel_tls_new_client(QIOChannel *master,
                                          QCryptoTLSCreds *creds,
                                          const char *hostname,
                                          Error **errp)
{
    return qio_channel_tls_new(master, creds, hostname, NULL,
                               QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, errp);
}

QCryptoTLSSession *qio_channel_tls_get_session(QIOChannelTLS *ioc)
{
    return ioc->session;
}

/*
 * One step of the handshake: returns 1 when done, 0 when the master must
 * become ready for *@condition first, -1 with @errp set.
 */
static int qio_channel_tls_handshake_step(QIOChannelTLS *tioc,
                                          GIOCondition *condition,
                                          Error **errp)
{
    Error *err = NULL;
    int ret;

    ret = qcrypto_tls_session_handshake(tioc->session, &err);
    if (ret < 0) {
        Error *master_err = qatomic_xchg(&tioc->read_err, NULL);

        if (!master_err) {
            master_err = qatomic_xchg(&tioc->write_err, NULL);
        }
        if (master_err) {
            error_free(err);
            error_propagate_prepend(errp, master_err,
                                    "TLS handshake failed: ");
        } else {
            error_propagate(errp, err);
        }
        trace_qio_channel_tls_handshake_fail(tioc);
        return -1;
    }
    if (ret == 0) {
        *condition = qcrypto_tls_session_get_handshake_status(tioc->session)
            == QCRYPTO_TLS_HANDSHAKE_SENDING ? G_IO_OUT : G_IO_IN;
        trace_qio_channel_tls_handshake_pending(tioc, *condition);
        return 0;
    }
    if (qcrypto_tls_session_check_credentials(tioc->session, errp) < 0) {
        trace_qio_channel_tls_handshake_fail(tioc);
        return -1;
    }
    trace_qio_channel_tls_handshake_complete(tioc);
    return 1;
}

/* QIOTask form */

static void qio_channel_tls_handshake_finish(QIOChannelTLSHandshake *hs,
                                             Error *err)
{
    QIOTask *task = hs->task;

    hs->tioc->handshake = NULL;
    if (hs->source) {
        g_source_destroy(hs->source);
        g_source_unref(hs->source);
    }
    if (hs->context) {
        g_main_context_unref(hs->context);
    }
    g_free(hs);

    if (err) {
        qio_task_set_error(task, err);
    }
    qio_task_complete(task);
}

static gboolean qio_channel_tls_handshake_io(QIOChannel *master,
                                             GIOCondition condition,
                                             gpointer opaque);

static void qio_channel_tls_handshake_run(QIOChannelTLSHandshake *hs)
{
    GIOCondition condition = 0;
    Error *err = NULL;
    int ret;

    ret = qio_channel_tls_handshake_step(hs->tioc, &condition, &err);
    if (ret != 0) {
        qio_channel_tls_handshake_finish(hs, err);
        return;
    }
    hs->source = qio_channel_create_watch(hs->tioc->master, condition);
    g_source_set_callback(hs->source,
                          (GSourceFunc)qio_channel_tls_handshake_io, hs,
                          NULL);
    g_source_attach(hs->source, hs->context);
}

static gboolean qio_channel_tls_handshake_io(QIOChannel *master,
                                             GIOCondition condition,
                                             gpointer opaque)
{
    QIOChannelTLSHandshake *hs = opaque;

    /* This watch is done; GLib destroys it when we return. */
    g_source_unref(hs->source);
    hs->source = NULL;
    qio_channel_tls_handshake_run(hs);
    return G_SOURCE_REMOVE;
}

void qio_channel_tls_handshake(QIOChannelTLS *ioc, QIOTaskFunc func,
                               gpointer opaque, GDestroyNotify destroy,
                               GMainContext *context)
{
    QIOChannelTLSHandshake *hs = g_new0(QIOChannelTLSHandshake, 1);

    assert(!ioc->handshake);
    hs->tioc = ioc;
    hs->task = qio_task_new(OBJECT(ioc), func, opaque, destroy);
    hs->context = context ? g_main_context_ref(context) : NULL;
    ioc->handshake = hs;
    trace_qio_channel_tls_handshake_start(ioc, false);
    qio_channel_tls_handshake_run(hs);
}

/* Coroutine form */

int coroutine_fn qio_channel_tls_handshake_co(QIOChannelTLS *ioc,
                                              Error **errp)
{
    assert(qemu_in_coroutine());
    trace_qio_channel_tls_handshake_start(ioc, true);
    for (;;) {
        GIOCondition condition = 0;
        int ret = qio_channel_tls_handshake_step(ioc, &condition, errp);

        if (ret < 0) {
            return -1;
        }
        if (ret > 0) {
            return 0;
        }
        /* On ourselves: our follow flag, the master's fd. */
        qio_channel_yield(QIO_CHANNEL(ioc), condition);
    }
}

int coroutine_mixed_fn qio_channel_tls_bye(QIOChannelTLS *ioc, Error **errp)
{
    for (;;) {
        Error *err = NULL;
        GIOCondition condition;
        int ret = qcrypto_tls_session_bye(ioc->session, &err);

        if (ret < 0) {
            qio_channel_tls_report(errp, &ioc->write_err, err,
                                   "Cannot end the TLS session: ");
            return -1;
        }
        if (ret == QCRYPTO_TLS_BYE_COMPLETE) {
            return 0;
        }
        condition = ret == QCRYPTO_TLS_BYE_RECVING ? G_IO_IN : G_IO_OUT;
        /*
         * Wait on the TLS channel, not on the master: its slots know of a
         * reader that may be parked on the same fd.
         */
        if (qemu_in_coroutine()) {
            qio_channel_yield(QIO_CHANNEL(ioc), condition);
        } else {
            qio_channel_wait(QIO_CHANNEL(ioc), condition);
        }
    }
}

/* QIOChannel methods */

static ssize_t qio_channel_tls_readv(QIOChannel *ioc,
                                     const struct iovec *iov, size_t niov,
                                     int **fds, size_t *nfds, int flags,
                                     Error **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    ssize_t got = 0;

    for (size_t i = 0; i < niov; i++) {
        Error *err = NULL;
        ssize_t ret = qcrypto_tls_session_read(tioc->session,
                                               iov[i].iov_base,
                                               iov[i].iov_len, &err);

        if (ret == QCRYPTO_TLS_SESSION_ERR_BLOCK) {
            return got ? got : QIO_CHANNEL_ERR_BLOCK;
        }
        if (ret < 0) {
            if (qatomic_read(&tioc->shutdown) & QIO_CHANNEL_SHUTDOWN_READ) {
                /* We shut the reading side: that is an end of file. */
                error_free(err);
                error_free(qatomic_xchg(&tioc->read_err, NULL));
                return got;
            }
            qio_channel_tls_report(errp, &tioc->read_err, err,
                                   "Cannot read from TLS channel: ");
            return -1;
        }
        got += ret;
        if ((size_t)ret < iov[i].iov_len) {
            break;      /* end of file, or end of what is there now */
        }
    }
    return got;
}

static ssize_t qio_channel_tls_writev(QIOChannel *ioc,
                                      const struct iovec *iov, size_t niov,
                                      int *fds, size_t nfds, int flags,
                                      Error **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    ssize_t done = 0;

    for (size_t i = 0; i < niov; i++) {
        const char *base = iov[i].iov_base;
        size_t off = 0;

        while (off < iov[i].iov_len) {
            Error *err = NULL;
            ssize_t ret = qcrypto_tls_session_write(tioc->session, base + off,
                                                    iov[i].iov_len - off,
                                                    &err);

            if (ret == QCRYPTO_TLS_SESSION_ERR_BLOCK) {
                return done ? done : QIO_CHANNEL_ERR_BLOCK;
            }
            if (ret < 0) {
                qio_channel_tls_report(errp, &tioc->write_err, err,
                                       "Cannot write to TLS channel: ");
                return -1;
            }
            off += ret;
            done += ret;
        }
    }
    return done;
}

static int qio_channel_tls_set_blocking(QIOChannel *ioc, bool enabled,
                                        Error **errp)
{
    return qio_channel_set_blocking(QIO_CHANNEL_TLS(ioc)->master, enabled,
                                    errp);
}

static void qio_channel_tls_set_delay(QIOChannel *ioc, bool enabled)
{
    qio_channel_set_delay(QIO_CHANNEL_TLS(ioc)->master, enabled);
}

static void qio_channel_tls_set_cork(QIOChannel *ioc, bool enabled)
{
    qio_channel_set_cork(QIO_CHANNEL_TLS(ioc)->master, enabled);
}

static int qio_channel_tls_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                                    Error **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);

    qatomic_or(&tioc->shutdown, how);
    return qio_channel_shutdown(tioc->master, how, errp);
}

static int qio_channel_tls_close(QIOChannel *ioc, Error **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);

    if (tioc->handshake) {
        Error *err = NULL;

        error_setg(&err, "TLS handshake aborted: the channel was closed");
        qio_channel_tls_handshake_finish(tioc->handshake, err);
    }
    return qio_channel_close(tioc->master, errp);
}

static void qio_channel_tls_set_aio_fd_handler(QIOChannel *ioc,
                                               AioContext *read_ctx,
                                               IOHandler *io_read,
                                               AioContext *write_ctx,
                                               IOHandler *io_write,
                                               void *opaque)
{
    qio_channel_set_aio_fd_handler(QIO_CHANNEL_TLS(ioc)->master, read_ctx,
                                   io_read, write_ctx, io_write, opaque);
}

/*
 * Watches: the master's watch as a child source, plus readiness for
 * G_IO_IN while the session holds decrypted bytes that nobody read yet
 * (the master's fd may never become readable again for those).
 */
typedef struct QIOChannelTLSSource {
    GSource parent;
    QIOChannelTLS *tioc;            /* a reference */
    GIOCondition condition;
    GIOCondition master_revents;    /* what the child source reported */
} QIOChannelTLSSource;

static bool qio_channel_tls_source_pending(QIOChannelTLSSource *src)
{
    return (src->condition & G_IO_IN) &&
        qcrypto_tls_session_check_pending(src->tioc->session) > 0;
}

static gboolean qio_channel_tls_source_prepare(GSource *source,
                                               gint *timeout)
{
    QIOChannelTLSSource *src = (QIOChannelTLSSource *)source;

    *timeout = -1;
    return src->master_revents || qio_channel_tls_source_pending(src);
}

static gboolean qio_channel_tls_source_check(GSource *source)
{
    QIOChannelTLSSource *src = (QIOChannelTLSSource *)source;

    return src->master_revents || qio_channel_tls_source_pending(src);
}

static gboolean qio_channel_tls_source_dispatch(GSource *source,
                                                GSourceFunc callback,
                                                gpointer user_data)
{
    QIOChannelTLSSource *src = (QIOChannelTLSSource *)source;
    QIOChannelFunc func = (QIOChannelFunc)callback;
    GIOCondition revents = src->master_revents;

    src->master_revents = 0;
    if (qio_channel_tls_source_pending(src)) {
        revents |= G_IO_IN;
    }
    if (!revents) {
        return G_SOURCE_CONTINUE;   /* the child fired after us */
    }
    if (!func) {
        return G_SOURCE_REMOVE;
    }
    return func(QIO_CHANNEL(src->tioc), revents, user_data);
}

static void qio_channel_tls_source_finalize(GSource *source)
{
    QIOChannelTLSSource *src = (QIOChannelTLSSource *)source;

    object_unref(OBJECT(src->tioc));
}

static GSourceFuncs qio_channel_tls_source_funcs = {
    .prepare = qio_channel_tls_source_prepare,
    .check = qio_channel_tls_source_check,
    .dispatch = qio_channel_tls_source_dispatch,
    .finalize = qio_channel_tls_source_finalize,
};

static gboolean qio_channel_tls_source_master_ready(QIOChannel *master,
                                                    GIOCondition condition,
                                                    gpointer opaque)
{
    QIOChannelTLSSource *src = opaque;

    src->master_revents |= condition;
    return G_SOURCE_CONTINUE;
}

static GSource *qio_channel_tls_create_watch(QIOChannel *ioc,
                                             GIOCondition condition)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    QIOChannelTLSSource *src;
    GSource *child;

    src = (QIOChannelTLSSource *)g_source_new(&qio_channel_tls_source_funcs,
                                              sizeof(*src));
    src->tioc = QIO_CHANNEL_TLS(object_ref(OBJECT(tioc)));
    src->condition = condition;

    child = qio_channel_create_watch(tioc->master, condition);
    g_source_set_callback(child,
                          (GSourceFunc)qio_channel_tls_source_master_ready,
                          src, NULL);
    g_source_add_child_source(&src->parent, child);
    g_source_unref(child);
    return &src->parent;
}

static void qio_channel_tls_finalize(Object *obj)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(obj);

    /* A pending QIOTask handshake holds a reference: none can be left. */
    assert(!tioc->handshake);
    object_unref(OBJECT(tioc->master));
    qcrypto_tls_session_free(tioc->session);
    error_free(tioc->read_err);
    error_free(tioc->write_err);
}

static void qio_channel_tls_class_init(ObjectClass *klass, void *class_data)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    ioc_klass->io_writev = qio_channel_tls_writev;
    ioc_klass->io_readv = qio_channel_tls_readv;
    ioc_klass->io_set_blocking = qio_channel_tls_set_blocking;
    ioc_klass->io_set_delay = qio_channel_tls_set_delay;
    ioc_klass->io_set_cork = qio_channel_tls_set_cork;
    ioc_klass->io_close = qio_channel_tls_close;
    ioc_klass->io_shutdown = qio_channel_tls_shutdown;
    ioc_klass->io_create_watch = qio_channel_tls_create_watch;
    ioc_klass->io_set_aio_fd_handler = qio_channel_tls_set_aio_fd_handler;
}

static const TypeInfo qio_channel_tls_info = {
    .parent = TYPE_QIO_CHANNEL,
    .name = TYPE_QIO_CHANNEL_TLS,
    .instance_size = sizeof(QIOChannelTLS),
    .instance_finalize = qio_channel_tls_finalize,
    .class_init = qio_channel_tls_class_init,
};

static void qio_channel_tls_register_types(void)
{
    type_register_static(&qio_channel_tls_info);
}

type_init(qio_channel_tls_register_types)
