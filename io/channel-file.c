/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelFile: a channel over a non-socket file descriptor.
 *
 * The channel owns one fd and has no state besides it, so a reader and a
 * writer in two threads only share the fd number, which changes solely
 * when the channel is closed (the caller must not close it while I/O is
 * in flight).
 */
#include "qemu/osdep.h"
#include "io/channel-file.h"
#include "io/channel-util.h"
#include "io/channel-watch.h"
#include "qapi/error.h"

/* Names the channel in messages; the caller frees the string. */
static char *qio_channel_file_describe(QIOChannelFile *fioc)
{
    QIOChannel *ioc = QIO_CHANNEL(fioc);

    if (ioc->name) {
        return g_strdup_printf("file channel '%s'", ioc->name);
    }
    if (fioc->fd < 0) {
        return g_strdup("file channel");
    }
    return g_strdup_printf("file channel (fd %d)", fioc->fd);
}

/* Sets @errp to "<the channel, described>: <formatted text>". */
static void G_GNUC_PRINTF(3, 4)
qio_channel_file_error(QIOChannelFile *fioc, Error **errp, const char *fmt,
                       ...)
{
    g_autofree char *who = qio_channel_file_describe(fioc);
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(errp, "%s: %s", who, what);
}

QIOChannelFile *qio_channel_file_new_fd(int fd)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(object_new(TYPE_QIO_CHANNEL_FILE));

    fioc->fd = fd;
    if (lseek(fd, 0, SEEK_CUR) != (off_t)-1) {
        qio_channel_set_feature(QIO_CHANNEL(fioc),
                                QIO_CHANNEL_FEATURE_SEEKABLE);
    }
    return fioc;
}

QIOChannelFile *qio_channel_file_new_dupfd(int fd, Error **errp)
{
    int newfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

    if (newfd < 0) {
        error_setg_errno(errp, errno, "Unable to duplicate fd %d", fd);
        return NULL;
    }
    return qio_channel_file_new_fd(newfd);
}

QIOChannelFile *qio_channel_file_new_path(const char *path, int flags,
                                          mode_t mode, Error **errp)
{
    int fd;

    do {
        fd = open(path, flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        error_setg_file_open(errp, errno, path);
        return NULL;
    }
    return qio_channel_file_new_fd(fd);
}

static ssize_t qio_channel_file_readv(QIOChannel *ioc,
                                      const struct iovec *iov, size_t niov,
                                      int **fds, size_t *nfds, int flags,
                                      Error **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    ssize_t ret;

    if (fds || nfds) {
        qio_channel_file_error(fioc, errp,
                               "cannot receive file descriptors");
        return -1;
    }
    if (flags) {
        qio_channel_file_error(fioc, errp, "unsupported read flags 0x%x",
                               flags);
        return -1;
    }
    if (fioc->fd < 0) {
        qio_channel_file_error(fioc, errp, "cannot read: channel is closed");
        return -1;
    }

    do {
        ret = readv(fioc->fd, iov, MIN(niov, (size_t)IOV_MAX));
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        int err = errno;

        if (err == EAGAIN || err == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        qio_channel_file_error(fioc, errp, "unable to read: %s",
                               g_strerror(err));
        return -1;
    }
    return ret;
}

static ssize_t qio_channel_file_writev(QIOChannel *ioc,
                                       const struct iovec *iov, size_t niov,
                                       int *fds, size_t nfds, int flags,
                                       Error **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    ssize_t ret;

    if (fds || nfds) {
        qio_channel_file_error(fioc, errp, "cannot send file descriptors");
        return -1;
    }
    if (flags) {
        qio_channel_file_error(fioc, errp, "unsupported write flags 0x%x",
                               flags);
        return -1;
    }
    if (fioc->fd < 0) {
        qio_channel_file_error(fioc, errp,
                               "cannot write: channel is closed");
        return -1;
    }

    do {
        ret = writev(fioc->fd, iov, MIN(niov, (size_t)IOV_MAX));
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        int err = errno;

        if (err == EAGAIN || err == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        qio_channel_file_error(fioc, errp, "unable to write: %s",
                               g_strerror(err));
        return -1;
    }
    return ret;
}

static int qio_channel_file_set_blocking(QIOChannel *ioc, bool enabled,
                                         Error **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    int fl = fcntl(fioc->fd, F_GETFL);
    int newfl;

    if (fl < 0) {
        qio_channel_file_error(fioc, errp, "unable to get fd flags: %s",
                               g_strerror(errno));
        return -1;
    }
    newfl = enabled ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
    if (newfl != fl && fcntl(fioc->fd, F_SETFL, newfl) < 0) {
        qio_channel_file_error(fioc, errp, "unable to make it %s: %s",
                               enabled ? "blocking" : "non-blocking",
                               g_strerror(errno));
        return -1;
    }
    return 0;
}

static off_t qio_channel_file_seek(QIOChannel *ioc, off_t offset,
                                   int whence, Error **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    off_t ret = lseek(fioc->fd, offset, whence);

    if (ret == (off_t)-1) {
        qio_channel_file_error(fioc, errp,
                               "unable to seek to offset %lld whence %d: %s",
                               (long long)offset, whence, g_strerror(errno));
        return -1;
    }
    return ret;
}

static int qio_channel_file_close(QIOChannel *ioc, Error **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    int fd = fioc->fd;

    if (fd < 0) {
        /* Closing twice is harmless. */
        return 0;
    }
    /* Linux frees the fd even when close() fails: never retry. */
    if (close(fd) < 0) {
        qio_channel_file_error(fioc, errp, "unable to close: %s",
                               g_strerror(errno));
        fioc->fd = -1;
        return -1;
    }
    fioc->fd = -1;
    return 0;
}

static GSource *qio_channel_file_create_watch(QIOChannel *ioc,
                                              GIOCondition condition)
{
    return qio_channel_create_fd_watch(ioc, QIO_CHANNEL_FILE(ioc)->fd,
                                       condition);
}

static void qio_channel_file_set_aio_fd_handler(QIOChannel *ioc,
                                                AioContext *read_ctx,
                                                IOHandler *io_read,
                                                AioContext *write_ctx,
                                                IOHandler *io_write,
                                                void *opaque)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);

    qio_channel_util_set_aio_fd_handler(fioc->fd, read_ctx, io_read,
                                        fioc->fd, write_ctx, io_write,
                                        opaque);
}

static void qio_channel_file_init(Object *obj)
{
    QIO_CHANNEL_FILE(obj)->fd = -1;
}

static void qio_channel_file_finalize(Object *obj)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(obj);

    if (fioc->fd >= 0) {
        close(fioc->fd);
        fioc->fd = -1;
    }
}

static void qio_channel_file_class_init(ObjectClass *klass, void *data)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    ioc_klass->io_readv = qio_channel_file_readv;
    ioc_klass->io_writev = qio_channel_file_writev;
    ioc_klass->io_close = qio_channel_file_close;
    ioc_klass->io_create_watch = qio_channel_file_create_watch;
    ioc_klass->io_set_blocking = qio_channel_file_set_blocking;
    ioc_klass->io_seek = qio_channel_file_seek;
    ioc_klass->io_set_aio_fd_handler = qio_channel_file_set_aio_fd_handler;
}

static const TypeInfo qio_channel_file_info = {
    .name = TYPE_QIO_CHANNEL_FILE,
    .parent = TYPE_QIO_CHANNEL,
    .instance_size = sizeof(QIOChannelFile),
    .instance_init = qio_channel_file_init,
    .instance_finalize = qio_channel_file_finalize,
    .class_init = qio_channel_file_class_init,
};

static void qio_channel_file_register_types(void)
{
    type_register_static(&qio_channel_file_info);
}

type_init(qio_channel_file_register_types)
