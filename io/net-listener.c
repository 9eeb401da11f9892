/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIONetListener: listening sockets and the callback that receives their
 * clients.
 *
 * Theory of operation
 *
 * Who runs what: the client callback runs in the thread of the context it
 * was set with: the thread iterating a GMainContext (GSource watches,
 * qio_net_listener_set_client_func_full()) or the home thread of an
 * AioContext (fd handlers, qio_net_listener_set_client_aio_func()). Any
 * other thread may at the same time replace the callback, add sockets,
 * disconnect, or drop the last reference.
 *
 * Shared state: everything lives in a QIONetListenerShared, refcounted
 * apart from the object, under its one lock. Each watch (a GSource or an
 * fd handler, one per socket) carries a NetListenerWatch that references
 * the shared state and records the generation (gen) it was made in.
 * Removing watches bumps gen, so a dispatch that was already on its way
 * when its watch went away sees a stale gen under the lock and does
 * nothing. A watch's NetListenerWatch outlives any dispatch that may
 * still start from it: GLib keeps a GSource's callback data until its
 * dispatch returns, and an fd handler's is freed by a bottom half of its
 * AioContext, which its home thread cannot run between deciding to call
 * the handler and entering it.
 *
 * The callback: func, data and notify form a refcounted NetListenerClient.
 * The shared state holds one reference, each running dispatch another,
 * taken under the lock together with the gen check. Replacing the
 * callback removes the watches, swaps the record and drops the shared
 * state's reference, all under the lock; whoever drops the last
 * reference (the replacing thread, or the last dispatch still using the
 * old record) runs notify, outside the lock. So notify runs once, after
 * the watches are gone and after the last call with its data returned.
 *
 * Counters: accepting counts dispatches between their check and the
 * return of accept(); disconnect waits for it to drop to zero before it
 * closes the sockets, so no accept() runs on a closed (or reused) fd.
 * dispatching counts dispatches up to the return of the callback;
 * finalize waits until the only ones left are those of its own thread
 * (the callback may drop the last reference), found on a thread-local
 * list of dispatch frames. Dispatches touch neither the listener nor its
 * sockets after their callback returned.
 *
 * Listening sockets are made non-blocking, so that an accept racing with
 * another acceptor (wait_client, a second context) never blocks a loop.
 */
#include "qemu/osdep.h"

#include <poll.h>

#include "io/net-listener.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"

typedef struct NetListenerClient {
    QIONetListenerClientFunc func;
    gpointer data;
    GDestroyNotify notify;
    unsigned int refcnt;            /* under QIONetListenerShared.lock */
} NetListenerClient;

typedef enum NetListenerMode {
    NET_LISTENER_MODE_GSOURCE,
    NET_LISTENER_MODE_AIO,
} NetListenerMode;

/* The opaque of one socket's watch. */
typedef struct NetListenerWatch {
    QIONetListenerShared *shared;   /* referenced */
    size_t index;                   /* of the socket */
    uint64_t gen;                   /* QIONetListenerShared.gen when made */
    int fd;                         /* aio mode: the fd it is set on */
} NetListenerWatch;

struct QIONetListenerShared {
    unsigned int refcnt;            /* atomic */
    QemuMutex lock;                 /* protects all of the below */
    QemuCond cond;                  /* accepting or dispatching went down */

    QIONetListener *listener;       /* NULL once finalize started */
    char *name;
    QIOChannelSocket **sioc;        /* referenced */
    size_t nsioc;
    bool connected;

    NetListenerClient *client;      /* NULL: no callback */
    NetListenerMode mode;           /* where client->func is dispatched */
    GMainContext *gctx;             /* GSOURCE mode, referenced */
    AioContext *actx;               /* AIO mode, referenced */
    GSource **sources;              /* GSOURCE mode: per socket, or NULL */
    NetListenerWatch **watches;     /* AIO mode: per socket, or NULL */
    uint64_t gen;                   /* bumped when watches are removed */

    unsigned int accepting;         /* dispatches up to accept()'s return */
    unsigned int dispatching;       /* dispatches up to func's return */
};

/* The dispatches running in this thread, innermost first. */
typedef struct NetListenerFrame {
    QIONetListenerShared *shared;
    struct NetListenerFrame *next;
} NetListenerFrame;

static __thread NetListenerFrame *net_listener_frames;

static QIONetListenerShared *shared_ref(QIONetListenerShared *s)
{
    qatomic_inc(&s->refcnt);
    return s;
}

static void shared_unref(QIONetListenerShared *s)
{
    if (qatomic_fetch_dec(&s->refcnt) != 1) {
        return;
    }
    assert(!s->client && !s->nsioc && !s->gctx && !s->actx);
    qemu_cond_destroy(&s->cond);
    qemu_mutex_destroy(&s->lock);
    g_free(s->name);
    g_free(s);
}

/* Drops a reference to @client; lock held. Returns true if it was the
 * last one: the caller then calls client_free() after unlocking. */
static bool client_unref_locked(NetListenerClient *client)
{
    return client && --client->refcnt == 0;
}

static void client_free(NetListenerClient *client)
{
    if (client->notify) {
        client->notify(client->data);
    }
    g_free(client);
}

static void net_listener_watch_free(gpointer opaque)
{
    NetListenerWatch *w = opaque;

    shared_unref(w->shared);
    g_free(w);
}

/* Counts this thread's dispatches of @s (they cannot be waited for). */
static unsigned int net_listener_own_dispatches(QIONetListenerShared *s)
{
    NetListenerFrame *f;
    unsigned int n = 0;

    for (f = net_listener_frames; f; f = f->next) {
        n += f->shared == s;
    }
    return n;
}

/*
 * Accepts one client on the socket of @w and hands it to the callback.
 * Called from a watch; @w is valid on entry only (see the header).
 */
static void net_listener_dispatch(NetListenerWatch *w)
{
    QIONetListenerShared *s = shared_ref(w->shared);
    NetListenerFrame frame = { .shared = s };
    QIONetListener *listener;
    NetListenerClient *client;
    QIOChannelSocket *sioc, *csioc;
    bool last;

    qemu_mutex_lock(&s->lock);
    if (w->gen != s->gen || !s->listener || !s->client ||
        !s->client->func) {
        /* The watch went away while we were on our way. */
        qemu_mutex_unlock(&s->lock);
        shared_unref(s);
        return;
    }
    listener = s->listener;
    sioc = QIO_CHANNEL_SOCKET(object_ref(s->sioc[w->index]));
    client = s->client;
    client->refcnt++;
    s->accepting++;
    s->dispatching++;
    qemu_mutex_unlock(&s->lock);
    /* From here on @w may be freed. */

    frame.next = net_listener_frames;
    net_listener_frames = &frame;

    /* Non-blocking: EAGAIN when another acceptor was faster. */
    csioc = qio_channel_socket_accept(sioc, NULL);
    object_unref(sioc);

    qemu_mutex_lock(&s->lock);
    s->accepting--;
    qemu_cond_broadcast(&s->cond);
    qemu_mutex_unlock(&s->lock);

    if (csioc) {
        client->func(listener, csioc, client->data);
        object_unref(csioc);
    }

    net_listener_frames = frame.next;
    qemu_mutex_lock(&s->lock);
    s->dispatching--;
    qemu_cond_broadcast(&s->cond);
    last = client_unref_locked(client);
    qemu_mutex_unlock(&s->lock);
    if (last) {
        client_free(client);
    }
    shared_unref(s);
}

static gboolean net_listener_gsource_func(QIOChannel *ioc,
                                          GIOCondition condition,
                                          gpointer opaque)
{
    net_listener_dispatch(opaque);
    return G_SOURCE_CONTINUE;
}

static void net_listener_aio_read(void *opaque)
{
    net_listener_dispatch(opaque);
}

static void net_listener_watch_free_bh(void *opaque)
{
    net_listener_watch_free(opaque);
}

/* Watches socket @i in the callback's context; lock held. */
static void net_listener_watch_locked(QIONetListenerShared *s, size_t i)
{
    QIOChannelSocket *sioc = s->sioc[i];
    NetListenerWatch *w;
    GSource *source;

    if (sioc->fd == -1) {
        return;                     /* closed */
    }
    w = g_new0(NetListenerWatch, 1);
    w->shared = shared_ref(s);
    w->index = i;
    w->gen = s->gen;
    w->fd = sioc->fd;
    if (s->mode == NET_LISTENER_MODE_GSOURCE) {
        source = qio_channel_create_watch(QIO_CHANNEL(sioc), G_IO_IN);
        g_source_set_callback(source,
                              G_SOURCE_FUNC(net_listener_gsource_func), w,
                              net_listener_watch_free);
        g_source_attach(source, s->gctx);
        s->sources[i] = source;
    } else {
        s->watches[i] = w;
        aio_set_fd_handler(s->actx, w->fd, net_listener_aio_read, NULL,
                           NULL, NULL, w);
    }
}

/* Watches every open socket if there is a callback to call; lock held. */
static void net_listener_rewatch_locked(QIONetListenerShared *s)
{
    size_t i;

    if (!s->client || !s->client->func || !s->connected) {
        return;
    }
    for (i = 0; i < s->nsioc; i++) {
        net_listener_watch_locked(s, i);
    }
}

/* Removes every watch; lock held. */
static void net_listener_unwatch_locked(QIONetListenerShared *s)
{
    NetListenerWatch *w;
    size_t i;

    s->gen++;
    for (i = 0; i < s->nsioc; i++) {
        if (s->sources[i]) {
            g_source_destroy(s->sources[i]);
            g_source_unref(s->sources[i]);
            s->sources[i] = NULL;
        }
        w = s->watches[i];
        if (w) {
            aio_set_fd_handler(s->actx, w->fd, NULL, NULL, NULL, NULL, NULL);
            /* Freed once no dispatch can be about to start from it. */
            aio_bh_schedule_oneshot(s->actx, net_listener_watch_free_bh, w);
            s->watches[i] = NULL;
        }
    }
}

/* Forgets the callback's context; lock held, watches removed. */
static void net_listener_clear_context_locked(QIONetListenerShared *s)
{
    if (s->gctx) {
        g_main_context_unref(s->gctx);
        s->gctx = NULL;
    }
    if (s->actx) {
        aio_context_unref(s->actx);
        s->actx = NULL;
    }
}

QIONetListener *qio_net_listener_new(void)
{
    return QIO_NET_LISTENER(object_new(TYPE_QIO_NET_LISTENER));
}

void qio_net_listener_set_name(QIONetListener *listener, const char *name)
{
    QIONetListenerShared *s = listener->shared;

    qemu_mutex_lock(&s->lock);
    g_free(s->name);
    s->name = g_strdup(name);
    qemu_mutex_unlock(&s->lock);
}

int qio_net_listener_open_sync(QIONetListener *listener, SocketAddress *addr,
                               int num, Error **errp)
{
    SocketAddress **addrs = NULL;
    size_t naddrs = 0, i;
    Error *err = NULL;
    bool opened = false;

    if (socket_address_resolve_listen(addr, &naddrs, &addrs, errp) < 0) {
        return -1;
    }
    for (i = 0; i < naddrs; i++) {
        QIOChannelSocket *sioc = qio_channel_socket_new();

        /* Keep the first error, for when nothing could be opened. */
        if (qio_channel_socket_listen_sync(sioc, addrs[i], num,
                                           err ? NULL : &err) == 0) {
            qio_net_listener_add(listener, sioc);
            opened = true;
        }
        object_unref(sioc);
        qapi_free_SocketAddress(addrs[i]);
    }
    g_free(addrs);

    if (opened) {
        error_free(err);
        return 0;
    }
    if (!err) {
        g_autofree char *text = socket_address_to_string(addr);

        error_setg(&err, "address '%s' resolved to nothing to listen on",
                   text);
    }
    error_propagate(errp, err);
    return -1;
}

void qio_net_listener_add(QIONetListener *listener, QIOChannelSocket *sioc)
{
    QIONetListenerShared *s = listener->shared;
    size_t i;

    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);

    qemu_mutex_lock(&s->lock);
    if (s->name) {
        g_autofree char *name = g_strdup_printf("%s-listen", s->name);

        qio_channel_set_name(QIO_CHANNEL(sioc), name);
    }
    i = s->nsioc++;
    s->sioc = g_renew(QIOChannelSocket *, s->sioc, s->nsioc);
    s->sources = g_renew(GSource *, s->sources, s->nsioc);
    s->watches = g_renew(NetListenerWatch *, s->watches, s->nsioc);
    s->sioc[i] = QIO_CHANNEL_SOCKET(object_ref(sioc));
    s->sources[i] = NULL;
    s->watches[i] = NULL;
    s->connected = true;
    if (s->client && s->client->func) {
        net_listener_watch_locked(s, i);
    }
    qemu_mutex_unlock(&s->lock);
}

static void net_listener_set_client(QIONetListener *listener,
                                    QIONetListenerClientFunc func,
                                    gpointer data, GDestroyNotify notify,
                                    NetListenerMode mode,
                                    GMainContext *gctx, AioContext *actx)
{
    QIONetListenerShared *s = listener->shared;
    NetListenerClient *old, *client = NULL;
    bool last;

    if (func || notify) {
        client = g_new0(NetListenerClient, 1);
        client->func = func;
        client->data = data;
        client->notify = notify;
        client->refcnt = 1;
    }

    qemu_mutex_lock(&s->lock);
    /* The old callback's watches go before its notify can run. */
    net_listener_unwatch_locked(s);
    net_listener_clear_context_locked(s);
    old = s->client;
    s->client = client;
    s->mode = mode;
    if (mode == NET_LISTENER_MODE_GSOURCE) {
        s->gctx = g_main_context_ref(gctx ? gctx : g_main_context_default());
    } else {
        s->actx = actx ? actx : qemu_get_aio_context();
        aio_context_ref(s->actx);
    }
    net_listener_rewatch_locked(s);
    last = client_unref_locked(old);
    qemu_mutex_unlock(&s->lock);

    if (last) {
        client_free(old);
    }
}

void qio_net_listener_set_client_func_full(QIONetListener *listener,
                                           QIONetListenerClientFunc func,
                                           gpointer data,
                                           GDestroyNotify notify,
                                           GMainContext *context)
{
    net_listener_set_client(listener, func, data, notify,
                            NET_LISTENER_MODE_GSOURCE, context, NULL);
}

void qio_net_listener_set_client_func(QIONetListener *listener,
                                      QIONetListenerClientFunc func,
                                      gpointer data,
                                      GDestroyNotify notify)
{
    net_listener_set_client(listener, func, data, notify,
                            NET_LISTENER_MODE_GSOURCE, NULL, NULL);
}

void qio_net_listener_set_client_aio_func(QIONetListener *listener,
                                          QIONetListenerClientFunc func,
                                          gpointer data,
                                          GDestroyNotify notify,
                                          AioContext *ctx)
{
    net_listener_set_client(listener, func, data, notify,
                            NET_LISTENER_MODE_AIO, NULL, ctx);
}

QIOChannelSocket *qio_net_listener_wait_client(QIONetListener *listener)
{
    QIONetListenerShared *s = listener->shared;
    g_autofree QIOChannelSocket **siocs = NULL;
    g_autofree struct pollfd *pfds = NULL;
    QIOChannelSocket *csioc = NULL;
    size_t n = 0, i;

    qemu_mutex_lock(&s->lock);
    net_listener_unwatch_locked(s);
    siocs = g_new(QIOChannelSocket *, s->nsioc);
    pfds = g_new0(struct pollfd, s->nsioc);
    for (i = 0; i < s->nsioc; i++) {
        if (s->sioc[i]->fd != -1) {
            siocs[n] = QIO_CHANNEL_SOCKET(object_ref(s->sioc[i]));
            pfds[n].fd = siocs[n]->fd;
            pfds[n].events = POLLIN;
            n++;
        }
    }
    qemu_mutex_unlock(&s->lock);
    assert(n > 0);

    while (!csioc) {
        if (poll(pfds, n, -1) < 0) {
            assert(errno == EINTR);
            continue;
        }
        for (i = 0; i < n && !csioc; i++) {
            if (pfds[i].revents) {
                /* NULL on EAGAIN: someone else took that client. */
                csioc = qio_channel_socket_accept(siocs[i], NULL);
            }
        }
    }

    qemu_mutex_lock(&s->lock);
    net_listener_unwatch_locked(s);
    net_listener_rewatch_locked(s);
    qemu_mutex_unlock(&s->lock);

    for (i = 0; i < n; i++) {
        object_unref(siocs[i]);
    }
    return csioc;
}

void qio_net_listener_disconnect(QIONetListener *listener)
{
    QIONetListenerShared *s = listener->shared;
    size_t i;

    qemu_mutex_lock(&s->lock);
    if (!s->connected) {
        qemu_mutex_unlock(&s->lock);
        return;
    }
    net_listener_unwatch_locked(s);
    /* An accept() in flight elsewhere must not meet a closed fd. */
    while (s->accepting) {
        qemu_cond_wait(&s->cond, &s->lock);
    }
    s->connected = false;
    for (i = 0; i < s->nsioc; i++) {
        qio_channel_close(QIO_CHANNEL(s->sioc[i]), NULL);
    }
    qemu_mutex_unlock(&s->lock);
}

bool qio_net_listener_is_connected(QIONetListener *listener)
{
    QIONetListenerShared *s = listener->shared;
    QEMU_LOCK_GUARD(&s->lock);

    return s->connected;
}

size_t qio_net_listener_nsioc(QIONetListener *listener)
{
    QIONetListenerShared *s = listener->shared;
    QEMU_LOCK_GUARD(&s->lock);

    return s->nsioc;
}

QIOChannelSocket *qio_net_listener_sioc(QIONetListener *listener, size_t n)
{
    QIONetListenerShared *s = listener->shared;
    QEMU_LOCK_GUARD(&s->lock);

    assert(n < s->nsioc);
    return s->sioc[n];
}

static void qio_net_listener_init(Object *obj)
{
    QIONetListener *listener = QIO_NET_LISTENER(obj);
    QIONetListenerShared *s = g_new0(QIONetListenerShared, 1);

    s->refcnt = 1;
    qemu_mutex_init(&s->lock);
    qemu_cond_init(&s->cond);
    s->listener = listener;
    listener->shared = s;
}

static void qio_net_listener_finalize(Object *obj)
{
    QIONetListener *listener = QIO_NET_LISTENER(obj);
    QIONetListenerShared *s = listener->shared;
    NetListenerClient *client;
    size_t i;
    bool last;

    qemu_mutex_lock(&s->lock);
    s->listener = NULL;
    net_listener_unwatch_locked(s);
    /* Callbacks running elsewhere still use the listener. */
    while (s->dispatching > net_listener_own_dispatches(s)) {
        qemu_cond_wait(&s->cond, &s->lock);
    }
    for (i = 0; i < s->nsioc; i++) {
        if (s->connected) {
            qio_channel_close(QIO_CHANNEL(s->sioc[i]), NULL);
        }
        object_unref(s->sioc[i]);
    }
    g_free(s->sioc);
    g_free(s->sources);
    g_free(s->watches);
    s->sioc = NULL;
    s->sources = NULL;
    s->watches = NULL;
    s->nsioc = 0;
    s->connected = false;
    net_listener_clear_context_locked(s);
    client = s->client;
    s->client = NULL;
    last = client_unref_locked(client);
    qemu_mutex_unlock(&s->lock);

    if (last) {
        client_free(client);
    }
    listener->shared = NULL;
    shared_unref(s);
}

static const TypeInfo qio_net_listener_info = {
    .parent = TYPE_OBJECT,
    .name = TYPE_QIO_NET_LISTENER,
    .instance_size = sizeof(QIONetListener),
    .instance_init = qio_net_listener_init,
    .instance_finalize = qio_net_listener_finalize,
};

static void qio_net_listener_register_types(void)
{
    type_register_static(&qio_net_listener_info);
}

type_init(qio_net_listener_register_types)
