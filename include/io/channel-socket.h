/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelSocket: a QIOChannel over a stream socket (TCP or UNIX), with
 * fd passing on UNIX sockets.
 *
 * Features: SHUTDOWN and READ_MSG_PEEK always, FD_PASS on UNIX sockets,
 * LISTEN on listening sockets.
 */
#ifndef QIO_CHANNEL_SOCKET_H
#define QIO_CHANNEL_SOCKET_H

#include <sys/socket.h>

#include "io/channel.h"
#include "io/task.h"
#include "qemu/sockets.h"

#define TYPE_QIO_CHANNEL_SOCKET "qio-channel-socket"
OBJECT_DECLARE_SIMPLE_TYPE(QIOChannelSocket, QIO_CHANNEL_SOCKET)

struct QIOChannelSocket {
    QIOChannel parent;
    int fd;                         /* -1 when not open */
    struct sockaddr_storage localAddr;
    socklen_t localAddrLen;
    struct sockaddr_storage remoteAddr;
    socklen_t remoteAddrLen;        /* 0 when not connected */
    /* private: */
    bool unlink_on_close;   /* a UNIX socket made by listen_sync */
};

/* The most descriptors one read or write passes. */
#define SOCKET_MAX_FDS 16

/**
 * qio_channel_socket_new:
 *
 * A socket channel that is not open yet; open it with
 * qio_channel_socket_connect_sync() or qio_channel_socket_listen_sync()
 * (or their _async forms). Any thread.
 *
 * Returns: (transfer full): the channel.
 */
QIOChannelSocket *qio_channel_socket_new(void);

/**
 * qio_channel_socket_new_fd:
 * @fd: an open socket
 * @errp: error object
 *
 * Wraps an existing socket, which may be connected, listening or
 * neither. Any thread.
 *
 * Returns: (transfer full): the channel, which owns @fd from then on; or
 * NULL with @errp set, and @fd left open and owned by the caller.
 */
QIOChannelSocket *qio_channel_socket_new_fd(int fd, Error **errp);

/**
 * qio_channel_socket_connect_sync:
 * @ioc: a channel that is not open
 * @addr: where to connect
 * @errp: error object
 *
 * Connects, blocking the calling thread (not for coroutines or event loop
 * callbacks). The socket is blocking.
 *
 * Returns: 0, or -1 with @errp set.
 */
int qio_channel_socket_connect_sync(QIOChannelSocket *ioc,
                                    SocketAddress *addr, Error **errp);

/**
 * qio_channel_socket_connect_async:
 * @ioc: a channel that is not open
 * @addr: where to connect (copied)
 * @callback: called when done, with a QIOTask whose source is @ioc; use
 *            qio_task_propagate_error() to learn the outcome
 * @opaque: passed to @callback
 * @destroy: (nullable): frees @opaque after @callback ran
 * @context: (nullable): the GMainContext in which @callback runs (NULL:
 *           the default one)
 *
 * Connects in a worker thread. @ioc is referenced until @callback ran.
 */
void qio_channel_socket_connect_async(QIOChannelSocket *ioc,
                                      SocketAddress *addr,
                                      QIOTaskFunc callback,
                                      gpointer opaque,
                                      GDestroyNotify destroy,
                                      GMainContext *context);

/**
 * qio_channel_socket_listen_sync:
 * @ioc: a channel that is not open
 * @addr: where to listen
 * @num: the backlog
 * @errp: error object
 *
 * Listens (see socket_listen()); for inet addresses the first result of
 * the look-up that binds is used. A UNIX socket made here has its path
 * removed when the channel is closed. Blocking.
 *
 * Returns: 0, or -1 with @errp set.
 */
int qio_channel_socket_listen_sync(QIOChannelSocket *ioc,
                                   SocketAddress *addr, int num,
                                   Error **errp);

/**
 * qio_channel_socket_listen_async:
 * As qio_channel_socket_listen_sync(), in a worker thread, reporting
 * through @callback in @context like qio_channel_socket_connect_async().
 */
void qio_channel_socket_listen_async(QIOChannelSocket *ioc,
                                     SocketAddress *addr, int num,
                                     QIOTaskFunc callback, gpointer opaque,
                                     GDestroyNotify destroy,
                                     GMainContext *context);

/**
 * qio_channel_socket_accept:
 * @ioc: a listening channel
 * @errp: error object
 *
 * Accepts one connection. Blocks when @ioc is blocking and no client is
 * waiting; when @ioc is non-blocking and no client is waiting, fails
 * (errno is then EAGAIN, so that callers can tell this case apart). The
 * new channel is blocking. EINTR is retried.
 *
 * Returns: (transfer full): the client's channel, or NULL with @errp set
 * and errno holding the failure of accept(2).
 */
QIOChannelSocket *qio_channel_socket_accept(QIOChannelSocket *ioc,
                                            Error **errp);

/**
 * qio_channel_socket_get_local_address:
 * @ioc: an open channel
 * @errp: error object
 *
 * Returns: (transfer full): the socket's own address, or NULL with @errp
 * set.
 */
SocketAddress *qio_channel_socket_get_local_address(QIOChannelSocket *ioc,
                                                    Error **errp);

/**
 * qio_channel_socket_get_remote_address:
 * @ioc: a connected channel
 * @errp: error object
 *
 * Returns: (transfer full): the peer's address, or NULL with @errp set
 * (also when the socket is not connected).
 */
SocketAddress *qio_channel_socket_get_remote_address(QIOChannelSocket *ioc,
                                                     Error **errp);

#endif /* QIO_CHANNEL_SOCKET_H */
