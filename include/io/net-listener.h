/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIONetListener: a set of listening sockets that hands each accepted
 * client to one callback.
 *
 * Clients are accepted either by GSource watches in a GMainContext
 * (qio_net_listener_set_client_func_full()) or by fd handlers in an
 * AioContext (qio_net_listener_set_client_aio_func()). The latter keeps
 * accepting while the thread of that context sits in a nested aio_poll(),
 * where no GLib source is dispatched: a daemon that serves an export and
 * also waits for I/O on it in the same thread needs it.
 *
 * The callback may be replaced or cleared from any thread while another
 * thread dispatches it; see qio_net_listener_set_client_func_full() for
 * when the old callback's @notify runs. The last reference may be dropped
 * from any thread, also from within the callback: finalization stops
 * accepting, waits for callbacks running in other threads, closes the
 * sockets and runs the callback's @notify.
 */
#ifndef QIO_NET_LISTENER_H
#define QIO_NET_LISTENER_H

#include "io/channel-socket.h"

#define TYPE_QIO_NET_LISTENER "qio-net-listener"
OBJECT_DECLARE_SIMPLE_TYPE(QIONetListener, QIO_NET_LISTENER)

typedef struct QIONetListenerShared QIONetListenerShared;

struct QIONetListener {
    Object parent;
    /* private: all state, shared with the watches (see net-listener.c) */
    QIONetListenerShared *shared;
};

/**
 * QIONetListenerClientFunc:
 * @listener: the listener
 * @sioc: the accepted client, a blocking channel; borrowed: take a
 *        reference to keep it beyond the call
 * @data: the data given with the callback
 */
typedef void (*QIONetListenerClientFunc)(QIONetListener *listener,
                                         QIOChannelSocket *sioc,
                                         gpointer data);

/**
 * qio_net_listener_new:
 *
 * Returns: (transfer full): a listener without sockets.
 */
QIONetListener *qio_net_listener_new(void);

/**
 * qio_net_listener_set_name:
 * @listener: the listener
 * @name: the name
 *
 * Names the listener; sockets added afterwards are named "NAME-listen".
 */
void qio_net_listener_set_name(QIONetListener *listener, const char *name);

/**
 * qio_net_listener_open_sync:
 * @listener: the listener
 * @addr: where to listen
 * @num: the backlog of each socket
 * @errp: error object
 *
 * Resolves @addr and listens on each result (an inet host may give several
 * sockets, e.g. one IPv4 and one IPv6), adding each socket to @listener.
 * Succeeds if at least one socket could be opened. Blocking.
 *
 * Returns: 0, or -1 with @errp set (the first failure).
 */
int qio_net_listener_open_sync(QIONetListener *listener, SocketAddress *addr,
                               int num, Error **errp);

/**
 * qio_net_listener_add:
 * @listener: the listener
 * @sioc: a listening socket channel; the listener takes a reference
 *
 * Adds a socket, made non-blocking so that a client taken by another
 * acceptor never stalls an event loop. When a client callback is set,
 * @sioc is watched at once in the callback's context. Marks the listener
 * connected. Any thread.
 */
void qio_net_listener_add(QIONetListener *listener, QIOChannelSocket *sioc);

/**
 * qio_net_listener_set_client_func_full:
 * @listener: the listener
 * @func: (nullable): called with each accepted client; NULL stops
 *        accepting
 * @data: passed to @func
 * @notify: (nullable): frees @data
 * @context: (nullable): the GMainContext whose loop accepts and calls
 *           @func (NULL: the default one)
 *
 * Replaces the client callback. Any thread, also from within @func.
 *
 * The rule for the old callback: its watches (or fd handlers) are removed
 * first; then its @notify runs exactly once, when no dispatch uses the old
 * data any more: at once, in the calling thread, if no dispatch of the old
 * callback is running; otherwise in the thread of the last such dispatch,
 * right after its call returns. The old callback is never called again
 * once this returns (a dispatch that already started still completes).
 * Accepted clients are handed over blocking, as accept(2) makes them.
 */
void qio_net_listener_set_client_func_full(QIONetListener *listener,
                                           QIONetListenerClientFunc func,
                                           gpointer data,
                                           GDestroyNotify notify,
                                           GMainContext *context);

/**
 * qio_net_listener_set_client_func:
 * As qio_net_listener_set_client_func_full() with the default
 * GMainContext.
 */
void qio_net_listener_set_client_func(QIONetListener *listener,
                                      QIONetListenerClientFunc func,
                                      gpointer data,
                                      GDestroyNotify notify);

/**
 * qio_net_listener_set_client_aio_func:
 * @listener: the listener
 * @func: (nullable): called with each accepted client
 * @data: passed to @func
 * @notify: (nullable): frees @data
 * @ctx: (nullable): the AioContext whose thread accepts and calls @func
 *       (NULL: the main context); it must outlive its use here
 *
 * As qio_net_listener_set_client_func_full(), but accepting through fd
 * handlers in @ctx, so that clients are accepted from any aio_poll() of
 * @ctx, nested ones included.
 */
void qio_net_listener_set_client_aio_func(QIONetListener *listener,
                                          QIONetListenerClientFunc func,
                                          gpointer data,
                                          GDestroyNotify notify,
                                          AioContext *ctx);

/**
 * qio_net_listener_wait_client:
 * @listener: a connected listener
 *
 * Blocks the calling thread until a client connects on any socket and
 * returns it without calling the client callback; the callback's watches
 * are suspended meanwhile and put back afterwards. Not from a coroutine,
 * and not concurrently with qio_net_listener_disconnect().
 *
 * Returns: (transfer full): the client, blocking.
 */
QIOChannelSocket *qio_net_listener_wait_client(QIONetListener *listener);

/**
 * qio_net_listener_disconnect:
 * @listener: the listener
 *
 * Stops accepting and closes every socket (a UNIX socket made by the
 * listener loses its path). The sockets stay in the list and the client
 * callback stays set. Waits for accepts under way in other threads. Any
 * thread, also from within the client callback.
 */
void qio_net_listener_disconnect(QIONetListener *listener);

/**
 * qio_net_listener_is_connected:
 * @listener: the listener
 *
 * Returns: true from the first added socket until disconnect.
 */
bool qio_net_listener_is_connected(QIONetListener *listener);

/**
 * qio_net_listener_nsioc:
 * @listener: the listener
 *
 * Returns: the number of sockets.
 */
size_t qio_net_listener_nsioc(QIONetListener *listener);

/**
 * qio_net_listener_sioc:
 * @listener: the listener
 * @n: an index below qio_net_listener_nsioc()
 *
 * Returns: (transfer none): the @n-th socket, valid while @listener is.
 */
QIOChannelSocket *qio_net_listener_sioc(QIONetListener *listener, size_t n);

#endif /* QIO_NET_LISTENER_H */
