/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelNull: reads give end of file, writes vanish.
 *
 * The only state is the closed flag, read atomically so that a reader
 * and a writer in other threads may use the channel while it is closed.
 */
#include "qemu/osdep.h"
#include "io/channel-null.h"
#include "qapi/error.h"
#include "qemu/atomic.h"

/* A GSource that is ready as soon as it is attached, every time. */
typedef struct QIOChannelNullSource {
    GSource parent;
    QIOChannel *ioc;
    GIOCondition condition;
} QIOChannelNullSource;

static gboolean qio_channel_null_source_prepare(GSource *source,
                                                gint *timeout)
{
    *timeout = -1;
    return TRUE;
}

static gboolean qio_channel_null_source_check(GSource *source)
{
    return TRUE;
}

static gboolean qio_channel_null_source_dispatch(GSource *source,
                                                 GSourceFunc callback,
                                                 gpointer user_data)
{
    QIOChannelNullSource *src = (QIOChannelNullSource *)source;
    QIOChannelFunc func = (QIOChannelFunc)callback;

    if (!func) {
        return G_SOURCE_REMOVE;
    }
    return func(src->ioc, src->condition, user_data);
}

static void qio_channel_null_source_finalize(GSource *source)
{
    object_unref(((QIOChannelNullSource *)source)->ioc);
}

static GSourceFuncs qio_channel_null_source_funcs = {
    .prepare = qio_channel_null_source_prepare,
    .check = qio_channel_null_source_check,
    .dispatch = qio_channel_null_source_dispatch,
    .finalize = qio_channel_null_source_finalize,
};

QIOChannelNull *qio_channel_null_new(void)
{
    return QIO_CHANNEL_NULL(object_new(TYPE_QIO_CHANNEL_NULL));
}

static ssize_t qio_channel_null_readv(QIOChannel *ioc,
                                      const struct iovec *iov, size_t niov,
                                      int **fds, size_t *nfds, int flags,
                                      Error **errp)
{
    if (qatomic_read(&QIO_CHANNEL_NULL(ioc)->closed)) {
        error_setg(errp, "Channel is closed");
        return -1;
    }
    return 0;
}

static ssize_t qio_channel_null_writev(QIOChannel *ioc,
                                       const struct iovec *iov, size_t niov,
                                       int *fds, size_t nfds, int flags,
                                       Error **errp)
{
    size_t total = 0;
    size_t i;

    if (qatomic_read(&QIO_CHANNEL_NULL(ioc)->closed)) {
        error_setg(errp, "Channel is closed");
        return -1;
    }
    for (i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    /* One call reports no more than a write() could. */
    return MIN(total, (size_t)SSIZE_MAX);
}

static int qio_channel_null_set_blocking(QIOChannel *ioc, bool enabled,
                                         Error **errp)
{
    /* Never blocks either way. */
    return 0;
}

static int qio_channel_null_close(QIOChannel *ioc, Error **errp)
{
    qatomic_set(&QIO_CHANNEL_NULL(ioc)->closed, true);
    return 0;
}

static GSource *qio_channel_null_create_watch(QIOChannel *ioc,
                                              GIOCondition condition)
{
    QIOChannelNullSource *src;

    src = (QIOChannelNullSource *)g_source_new(
        &qio_channel_null_source_funcs, sizeof(QIOChannelNullSource));
    src->ioc = QIO_CHANNEL(object_ref(OBJECT(ioc)));
    src->condition = condition;
    return &src->parent;
}

/*
 * There is no fd to watch, and since no call ever returns
 * QIO_CHANNEL_ERR_BLOCK nobody waits in qio_channel_yield(): nothing to do.
 */
static void qio_channel_null_set_aio_fd_handler(QIOChannel *ioc,
                                                AioContext *read_ctx,
                                                IOHandler *io_read,
                                                AioContext *write_ctx,
                                                IOHandler *io_write,
                                                void *opaque)
{
}

static void qio_channel_null_class_init(ObjectClass *klass, void *data)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    ioc_klass->io_readv = qio_channel_null_readv;
    ioc_klass->io_writev = qio_channel_null_writev;
    ioc_klass->io_close = qio_channel_null_close;
    ioc_klass->io_create_watch = qio_channel_null_create_watch;
    ioc_klass->io_set_blocking = qio_channel_null_set_blocking;
    ioc_klass->io_set_aio_fd_handler = qio_channel_null_set_aio_fd_handler;
}

static const TypeInfo qio_channel_null_info = {
    .name = TYPE_QIO_CHANNEL_NULL,
    .parent = TYPE_QIO_CHANNEL,
    .instance_size = sizeof(QIOChannelNull),
    .class_init = qio_channel_null_class_init,
};

static void qio_channel_null_register_types(void)
{
    type_register_static(&qio_channel_null_info);
}

type_init(qio_channel_null_register_types)
