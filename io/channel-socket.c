/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelSocket: a channel over a stream socket.
 *
 * Theory of operation: the channel owns one socket fd. Reads and writes
 * are single recvmsg()/sendmsg() calls on it, so a reader and a writer in
 * two threads share nothing but the fd number, which changes only when
 * the channel is opened or closed (callers must not close a channel with
 * I/O in flight). The _async open functions run the blocking _sync ones
 * in a QIOTask worker thread; the task's completion, in the caller's
 * GMainContext, orders the worker's writes to the channel (fd, addresses,
 * features) before the caller's callback reads them.
 */
#include "qemu/osdep.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "io/channel-socket.h"
#include "io/channel-util.h"
#include "io/channel-watch.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "io/trace.h"

/* Sets @errp to "socket channel 'NAME': MESSAGE[: strerror(@err)]". */
static void G_GNUC_PRINTF(4, 5)
sioc_error(QIOChannelSocket *sioc, Error **errp, int err, const char *fmt,
           ...)
{
    QIOChannel *ioc = QIO_CHANNEL(sioc);
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (ioc->name) {
        error_setg_errno(errp, err, "socket channel '%s': %s", ioc->name,
                         what);
    } else {
        error_setg_errno(errp, err, "socket channel (fd %d): %s", sioc->fd,
                         what);
    }
}

QIOChannelSocket *qio_channel_socket_new(void)
{
    return QIO_CHANNEL_SOCKET(object_new(TYPE_QIO_CHANNEL_SOCKET));
}

/* Adopts @fd: caches its addresses and sets the features it allows. */
static int qio_channel_socket_set_fd(QIOChannelSocket *sioc, int fd,
                                     Error **errp)
{
    QIOChannel *ioc = QIO_CHANNEL(sioc);
    socklen_t len = sizeof(int);
    int listening = 0;

    sioc->remoteAddrLen = sizeof(sioc->remoteAddr);
    if (getpeername(fd, (struct sockaddr *)&sioc->remoteAddr,
                    &sioc->remoteAddrLen) < 0) {
        if (errno != ENOTCONN) {
            error_setg_errno(errp, errno, "Unable to query remote address "
                             "of socket fd %d", fd);
            sioc->remoteAddrLen = 0;
            return -1;
        }
        sioc->remoteAddrLen = 0;
    }
    sioc->localAddrLen = sizeof(sioc->localAddr);
    if (getsockname(fd, (struct sockaddr *)&sioc->localAddr,
                    &sioc->localAddrLen) < 0) {
        error_setg_errno(errp, errno, "Unable to query local address of "
                         "socket fd %d", fd);
        sioc->localAddrLen = 0;
        sioc->remoteAddrLen = 0;
        return -1;
    }

    sioc->fd = fd;
    if (sioc->localAddr.ss_family == AF_UNIX) {
        qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS);
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 &&
        listening) {
        qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_LISTEN);
    }
    return 0;
}

QIOChannelSocket *qio_channel_socket_new_fd(int fd, Error **errp)
{
    QIOChannelSocket *sioc;

    if (!fd_is_socket(fd)) {
        error_setg(errp, "file descriptor %d is not an open socket", fd);
        return NULL;
    }
    sioc = qio_channel_socket_new();
    if (qio_channel_socket_set_fd(sioc, fd, errp) < 0) {
        object_unref(sioc);
        return NULL;
    }
    trace_qio_channel_socket_new_fd(sioc, fd);
    return sioc;
}

static bool qio_channel_socket_check_closed(QIOChannelSocket *sioc,
                                            Error **errp)
{
    if (sioc->fd != -1) {
        sioc_error(sioc, errp, 0, "already open");
        return false;
    }
    return true;
}

int qio_channel_socket_connect_sync(QIOChannelSocket *ioc,
                                    SocketAddress *addr, Error **errp)
{
    int fd;

    if (!qio_channel_socket_check_closed(ioc, errp)) {
        return -1;
    }
    fd = socket_connect(addr, errp);
    if (fd < 0) {
        trace_qio_channel_socket_connect_fail(ioc);
        return -1;
    }
    if (qio_channel_socket_set_fd(ioc, fd, errp) < 0) {
        close(fd);
        return -1;
    }
    trace_qio_channel_socket_connect(ioc, fd);
    return 0;
}

static void qio_channel_socket_connect_worker(QIOTask *task, gpointer opaque)
{
    QIOChannelSocket *ioc = QIO_CHANNEL_SOCKET(qio_task_get_source(task));
    SocketAddress *addr = opaque;
    Error *err = NULL;

    qio_channel_socket_connect_sync(ioc, addr, &err);
    qio_task_set_error(task, err);
}

void qio_channel_socket_connect_async(QIOChannelSocket *ioc,
                                      SocketAddress *addr,
                                      QIOTaskFunc callback,
                                      gpointer opaque,
                                      GDestroyNotify destroy,
                                      GMainContext *context)
{
    QIOTask *task = qio_task_new(OBJECT(ioc), callback, opaque, destroy);

    qio_task_run_in_thread(task, qio_channel_socket_connect_worker,
                           socket_address_dup(addr),
                           (GDestroyNotify)qapi_free_SocketAddress, context);
}

int qio_channel_socket_listen_sync(QIOChannelSocket *ioc,
                                   SocketAddress *addr, int num,
                                   Error **errp)
{
    int fd;

    if (!qio_channel_socket_check_closed(ioc, errp)) {
        return -1;
    }
    fd = socket_listen(addr, num, errp);
    if (fd < 0) {
        return -1;
    }
    if (qio_channel_socket_set_fd(ioc, fd, errp) < 0) {
        close(fd);
        return -1;
    }
    trace_qio_channel_socket_listen(ioc, fd);
    /* We made the path, so we remove it again when closing. */
    ioc->unlink_on_close = addr->type == SOCKET_ADDRESS_TYPE_UNIX &&
        !(addr->u.q_unix.has_abstract && addr->u.q_unix.abstract);
    return 0;
}

typedef struct ListenData {
    SocketAddress *addr;
    int num;
} ListenData;

static void listen_data_free(gpointer opaque)
{
    ListenData *data = opaque;

    qapi_free_SocketAddress(data->addr);
    g_free(data);
}

static void qio_channel_socket_listen_worker(QIOTask *task, gpointer opaque)
{
    QIOChannelSocket *ioc = QIO_CHANNEL_SOCKET(qio_task_get_source(task));
    ListenData *data = opaque;
    Error *err = NULL;

    qio_channel_socket_listen_sync(ioc, data->addr, data->num, &err);
    qio_task_set_error(task, err);
}

void qio_channel_socket_listen_async(QIOChannelSocket *ioc,
                                     SocketAddress *addr, int num,
                                     QIOTaskFunc callback, gpointer opaque,
                                     GDestroyNotify destroy,
                                     GMainContext *context)
{
    QIOTask *task = qio_task_new(OBJECT(ioc), callback, opaque, destroy);
    ListenData *data = g_new(ListenData, 1);

    data->addr = socket_address_dup(addr);
    data->num = num;
    qio_task_run_in_thread(task, qio_channel_socket_listen_worker, data,
                           listen_data_free, context);
}

QIOChannelSocket *qio_channel_socket_accept(QIOChannelSocket *ioc,
                                            Error **errp)
{
    QIOChannelSocket *cioc;
    int fd, saved_errno;

    do {
        fd = qemu_accept(ioc->fd, NULL, NULL);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        saved_errno = errno;
        trace_qio_channel_socket_accept_fail(ioc, saved_errno);
        sioc_error(ioc, errp, saved_errno, "Unable to accept connection");
        errno = saved_errno;
        return NULL;
    }

    cioc = qio_channel_socket_new();
    if (qio_channel_socket_set_fd(cioc, fd, errp) < 0) {
        saved_errno = errno;
        close(fd);
        object_unref(cioc);
        errno = saved_errno;
        return NULL;
    }
    trace_qio_channel_socket_accept(ioc, cioc, fd);
    return cioc;
}

SocketAddress *qio_channel_socket_get_local_address(QIOChannelSocket *ioc,
                                                    Error **errp)
{
    if (ioc->fd == -1 || !ioc->localAddrLen) {
        sioc_error(ioc, errp, 0, "not open");
        return NULL;
    }
    return socket_sockaddr_to_address(&ioc->localAddr, ioc->localAddrLen,
                                      errp);
}

SocketAddress *qio_channel_socket_get_remote_address(QIOChannelSocket *ioc,
                                                     Error **errp)
{
    if (ioc->fd == -1 || !ioc->remoteAddrLen) {
        sioc_error(ioc, errp, 0, "not connected");
        return NULL;
    }
    return socket_sockaddr_to_address(&ioc->remoteAddr, ioc->remoteAddrLen,
                                      errp);
}

/* Class methods */

typedef union SocketControl {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * SOCKET_MAX_FDS)];
} SocketControl;

/*
 * Appends the descriptors of every SCM_RIGHTS message of @msg to
 * *@fds / *@nfds. They arrive close-on-exec (MSG_CMSG_CLOEXEC); they are
 * made blocking, since O_NONBLOCK belongs to the open file and would
 * otherwise come with whatever the sender had set.
 */
static void qio_channel_socket_copy_fds(struct msghdr *msg, int **fds,
                                        size_t *nfds)
{
    struct cmsghdr *cmsg;

    for (cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
        size_t n, i;
        int *data;

        if (cmsg->cmsg_level != SOL_SOCKET ||
            cmsg->cmsg_type != SCM_RIGHTS ||
            cmsg->cmsg_len < CMSG_LEN(0)) {
            continue;
        }
        n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        data = (int *)CMSG_DATA(cmsg);
        *fds = g_renew(int, *fds, *nfds + n);
        for (i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, &data[i], sizeof(fd));
            qemu_socket_set_block(fd);
            (*fds)[(*nfds)++] = fd;
        }
    }
}

/* Waits and receives in one step of the coroutine's AioContext. */
static ssize_t coroutine_fn qio_channel_socket_co_readv(QIOChannel *ioc,
                                                        const struct iovec *iov,
                                                        size_t niov,
                                                        AioCoRecv *req,
                                                        Error **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = niov,
    };
    ssize_t ret = aio_co_recvmsg(req, sioc->fd, &msg, 0);

    if (ret == -ECANCELED || ret == -EAGAIN || ret == -EINTR) {
        return QIO_CHANNEL_ERR_BLOCK;
    }
    if (ret < 0) {
        sioc_error(sioc, errp, -ret, "Unable to read from socket");
        return -1;
    }
    return ret;
}

static ssize_t qio_channel_socket_readv(QIOChannel *ioc,
                                        const struct iovec *iov,
                                        size_t niov, int **fds, size_t *nfds,
                                        int flags, Error **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    SocketControl control;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = niov,
    };
    int sflags = 0;
    ssize_t ret;

    if (fds && nfds) {
        *fds = NULL;
        *nfds = 0;
        if (!qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS)) {
            sioc_error(sioc, errp, 0, "file descriptors can only be "
                       "received over UNIX sockets");
            return -1;
        }
        memset(&control, 0, sizeof(control));
        msg.msg_control = &control;
        msg.msg_controllen = sizeof(control);
        sflags |= MSG_CMSG_CLOEXEC;
    }
    if (flags & QIO_CHANNEL_READ_FLAG_MSG_PEEK) {
        sflags |= MSG_PEEK;
    }

    do {
        ret = recvmsg(sioc->fd, &msg, sflags);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        sioc_error(sioc, errp, errno, "Unable to read from socket");
        return -1;
    }
    if (fds && nfds) {
        qio_channel_socket_copy_fds(&msg, fds, nfds);
    }
    return ret;
}

static ssize_t qio_channel_socket_writev(QIOChannel *ioc,
                                         const struct iovec *iov,
                                         size_t niov, int *fds, size_t nfds,
                                         int flags, Error **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    SocketControl control;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = niov,
    };
    struct cmsghdr *cmsg;
    ssize_t ret;

    if (flags & QIO_CHANNEL_WRITE_FLAG_ZERO_COPY) {
        sioc_error(sioc, errp, 0, "zero-copy writes are not supported");
        return -1;
    }
    if (nfds) {
        if (!qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS)) {
            sioc_error(sioc, errp, 0, "file descriptors can only be sent "
                       "over UNIX sockets");
            return -1;
        }
        if (nfds > SOCKET_MAX_FDS) {
            sioc_error(sioc, errp, 0, "cannot pass %zu file descriptors "
                       "at once (at most %d)", nfds, SOCKET_MAX_FDS);
            return -1;
        }
        memset(&control, 0, sizeof(control));
        msg.msg_control = &control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }

    do {
        ret = sendmsg(sioc->fd, &msg, MSG_NOSIGNAL);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        sioc_error(sioc, errp, errno, "Unable to write to socket");
        return -1;
    }
    return ret;
}

static int qio_channel_socket_set_blocking(QIOChannel *ioc, bool enabled,
                                           Error **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    int ret = enabled ? qemu_socket_set_block(sioc->fd)
                      : qemu_socket_set_nonblock(sioc->fd);

    if (ret < 0) {
        sioc_error(sioc, errp, -ret, "Unable to make the socket %s",
                   enabled ? "blocking" : "non-blocking");
        return -1;
    }
    return 0;
}

static void qio_channel_socket_set_delay(QIOChannel *ioc, bool enabled)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    int v = !enabled;

    /* Fails harmlessly on UNIX sockets. */
    setsockopt(sioc->fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v));
}

static void qio_channel_socket_set_cork(QIOChannel *ioc, bool enabled)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);

    /* Fails harmlessly on UNIX sockets. */
    socket_set_cork(sioc->fd, enabled ? 1 : 0);
}

/* Removes the path of a UNIX socket we made with listen_sync. */
static void qio_channel_socket_unlink(QIOChannelSocket *sioc)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&sioc->localAddr;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    g_autofree char *path = NULL;

    if (!sioc->unlink_on_close || sioc->localAddr.ss_family != AF_UNIX ||
        sioc->localAddrLen <= off || !un->sun_path[0]) {
        return;
    }
    path = g_strndup(un->sun_path, sioc->localAddrLen - off);
    if (unlink(path) < 0 && errno != ENOENT) {
        warn_report("socket channel: cannot remove socket '%s': %s", path,
                    g_strerror(errno));
    }
}

static int qio_channel_socket_close(QIOChannel *ioc, Error **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    int fd = sioc->fd;

    if (fd == -1) {
        return 0;
    }
    trace_qio_channel_socket_close(sioc, fd);
    qio_channel_socket_unlink(sioc);
    sioc->unlink_on_close = false;
    sioc->fd = -1;
    if (close(fd) < 0) {
        error_setg_errno(errp, errno, "socket channel '%s': Unable to "
                         "close socket fd %d", ioc->name ? ioc->name : "?",
                         fd);
        return -1;
    }
    return 0;
}

static int qio_channel_socket_shutdown(QIOChannel *ioc,
                                       QIOChannelShutdown how, Error **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    int sockhow;

    switch (how) {
    case QIO_CHANNEL_SHUTDOWN_READ:
        sockhow = SHUT_RD;
        break;
    case QIO_CHANNEL_SHUTDOWN_WRITE:
        sockhow = SHUT_WR;
        break;
    case QIO_CHANNEL_SHUTDOWN_BOTH:
    default:
        sockhow = SHUT_RDWR;
        break;
    }
    if (shutdown(sioc->fd, sockhow) < 0) {
        sioc_error(sioc, errp, errno, "Unable to shut down socket");
        return -1;
    }
    return 0;
}

static GSource *qio_channel_socket_create_watch(QIOChannel *ioc,
                                                GIOCondition condition)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);

    return qio_channel_create_socket_watch(ioc, sioc->fd, condition);
}

static void qio_channel_socket_set_aio_fd_handler(QIOChannel *ioc,
                                                  AioContext *read_ctx,
                                                  IOHandler *io_read,
                                                  AioContext *write_ctx,
                                                  IOHandler *io_write,
                                                  void *opaque)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);

    qio_channel_util_set_aio_fd_handler(sioc->fd, read_ctx, io_read,
                                        sioc->fd, write_ctx, io_write,
                                        opaque);
}

static void qio_channel_socket_init(Object *obj)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(obj);

    sioc->fd = -1;
    qio_channel_set_feature(QIO_CHANNEL(sioc), QIO_CHANNEL_FEATURE_SHUTDOWN);
    qio_channel_set_feature(QIO_CHANNEL(sioc),
                            QIO_CHANNEL_FEATURE_READ_MSG_PEEK);
}

static void qio_channel_socket_finalize(Object *obj)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(obj);

    if (sioc->fd != -1) {
        qio_channel_socket_unlink(sioc);
        close(sioc->fd);
        sioc->fd = -1;
    }
}

static void qio_channel_socket_class_init(ObjectClass *klass, void *data)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    ioc_klass->io_writev = qio_channel_socket_writev;
    ioc_klass->io_readv = qio_channel_socket_readv;
    ioc_klass->io_co_readv = qio_channel_socket_co_readv;
    ioc_klass->io_set_blocking = qio_channel_socket_set_blocking;
    ioc_klass->io_close = qio_channel_socket_close;
    ioc_klass->io_shutdown = qio_channel_socket_shutdown;
    ioc_klass->io_set_cork = qio_channel_socket_set_cork;
    ioc_klass->io_set_delay = qio_channel_socket_set_delay;
    ioc_klass->io_create_watch = qio_channel_socket_create_watch;
    ioc_klass->io_set_aio_fd_handler = qio_channel_socket_set_aio_fd_handler;
}

static const TypeInfo qio_channel_socket_info = {
    .parent = TYPE_QIO_CHANNEL,
    .name = TYPE_QIO_CHANNEL_SOCKET,
    .instance_size = sizeof(QIOChannelSocket),
    .instance_init = qio_channel_socket_init,
    .instance_finalize = qio_channel_socket_finalize,
    .class_init = qio_channel_socket_class_init,
};

static void qio_channel_socket_register_types(void)
{
    type_register_static(&qio_channel_socket_info);
}

type_init(qio_channel_socket_register_types)
