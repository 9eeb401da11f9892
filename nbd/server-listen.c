/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NBD server: listening, accepting, and the limits that protect the
 * server from clients that connect and never finish (half-open clients
 * that would hold resources forever): a connection limit (we stop
 * accepting at the limit, so further clients wait in the kernel's
 * backlog) and a handshake time limit (a client that
 * has not reached the transmission phase in time is disconnected).
 *
 * Everything here runs in the main thread. Clients are accepted by fd
 * handlers in the main AioContext, not by GLib watches, so that a main
 * thread waiting in a nested aio_poll() (for I/O on a node that is itself
 * backed by one of our exports) still accepts and serves (no deadlock
 * of a daemon that opens an image backed by its own export).
 *
 * Stopping the server while clients negotiate (the CVE-2024-7409 shape):
 * nbd_server_free() closes every connection and waits until each one is
 * completely gone before it frees anything a client might touch.
 */
#include "qemu/osdep.h"
#include "server-internal.h"
#include "qemu/main-loop.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "nbd/trace.h"

static void nbd_server_accept(QIONetListener *listener,
                              QIOChannelSocket *sioc, gpointer opaque);

/* Installs or removes the accept callback to honour the limit. */
static void nbd_server_update_accepting(NBDServer *server)
{
    bool want = server->listening && !server->stopping &&
                (!server->max_connections ||
                 server->nconnections < server->max_connections);

    if (want == server->accepting) {
        return;
    }
    server->accepting = want;
    qio_net_listener_set_client_aio_func(server->listener,
                                         want ? nbd_server_accept : NULL,
                                         server, NULL,
                                         qemu_get_aio_context());
}

static void nbd_client_handshake_timeout(void *opaque)
{
    NBDClient *client = opaque;

    trace_nbd_server_handshake_timeout(client,
                                       client->server->handshake_limit);
    if (client->server->verbose) {
        info_report("client %s: handshake time limit of %u s exceeded",
                    client->peer, client->server->handshake_limit);
    }
    nbd_client_close(client);
}

void nbd_server_add_client(NBDServer *server, QIOChannelSocket *sioc)
{
    NBDClient *client = g_new0(NBDClient, 1);
    g_autoptr(SocketAddress) addr = NULL;
    Coroutine *co;

    addr = qio_channel_socket_get_remote_address(sioc, NULL);
    client->peer = addr ? socket_address_to_string(addr) :
                   g_strdup_printf("fd %d", sioc->fd);
    if (addr && addr->type == SOCKET_ADDRESS_TYPE_UNIX &&
        !*addr->u.q_unix.path) {
        g_free(client->peer);
        client->peer = g_strdup_printf("unix fd %d", sioc->fd);
    }
    /* One for the open connection, one for the negotiation coroutine. */
    client->refcount = 2;
    client->server = server;
    client->sioc = sioc;
    object_ref(OBJECT(sioc));
    client->ioc = QIO_CHANNEL(sioc);
    object_ref(OBJECT(sioc));
    client->ctx = qemu_get_aio_context();
    qemu_co_mutex_init(&client->send_lock);
    qemu_mutex_init(&client->lock);
    QLIST_INSERT_HEAD(&server->clients, client, server_next);
    server->nconnections++;

    qio_channel_set_name(QIO_CHANNEL(sioc), "nbd-server");
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(sioc), true);
    qio_channel_set_delay(QIO_CHANNEL(sioc), false);

    if (server->handshake_limit) {
        client->handshake_timer = aio_timer_new(qemu_get_aio_context(),
                                                QEMU_CLOCK_REALTIME,
                                                SCALE_MS,
                                                nbd_client_handshake_timeout,
                                                client);
        timer_mod(client->handshake_timer,
                  qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                  server->handshake_limit * 1000LL);
    }
    trace_nbd_server_client_connect(client, client->peer,
                                    server->nconnections);
    if (server->verbose) {
        info_report("client %s: connected (%u connections)", client->peer,
                    server->nconnections);
    }
    nbd_server_update_accepting(server);

    co = qemu_coroutine_create(nbd_negotiate_co, client);
    aio_co_enter(qemu_get_aio_context(), co);
}

static void nbd_server_accept(QIONetListener *listener,
                              QIOChannelSocket *sioc, gpointer opaque)
{
    NBDServer *server = opaque;

    if (server->stopping) {
        return;
    }
    nbd_server_add_client(server, sioc);
}

void nbd_client_report_gone(NBDClient *client, const char *fmt, ...)
{
    g_autofree char *why = NULL;
    va_list ap;

    if (qatomic_read(&client->closing) ||
        qatomic_xchg(&client->gone_reported, true)) {
        return;
    }
    va_start(ap, fmt);
    why = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    warn_report("client %s: %s", client->peer, why);
}

void nbd_server_client_gone(NBDServer *server, bool negotiated)
{
    assert(server->nconnections > 0);
    server->nconnections--;
    trace_nbd_server_client_gone(server->nconnections, negotiated);
    nbd_server_update_accepting(server);
    if (server->client_closed) {
        server->client_closed(server->opaque, negotiated);
    }
}

unsigned int nbd_server_connection_count(NBDServer *server)
{
    return server->nconnections;
}

NBDServer *nbd_server_new(const NBDServerOptions *opts, Error **errp)
{
    NBDServer *server;

    if (opts->tls_creds &&
        !qcrypto_tls_creds_check_endpoint(opts->tls_creds,
                                          QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
                                          errp)) {
        return NULL;
    }
    server = g_new0(NBDServer, 1);
    server->listener = qio_net_listener_new();
    qio_net_listener_set_name(server->listener, "nbd-listener");
    if (opts->tls_creds) {
        server->tls_creds = opts->tls_creds;
        object_ref(OBJECT(opts->tls_creds));
    }
    server->tls_authz = g_strdup(opts->tls_authz);
    server->handshake_limit = opts->handshake_limit;
    server->max_connections = opts->max_connections;
    server->verbose = opts->verbose;
    server->client_closed = opts->client_closed;
    server->opaque = opts->opaque;
    QLIST_INIT(&server->exports);
    QLIST_INIT(&server->clients);
    return server;
}

bool nbd_server_listen(NBDServer *server, SocketAddress *addr, Error **errp)
{
    if (qio_net_listener_open_sync(server->listener, addr, SOMAXCONN,
                                   errp) < 0) {
        return false;
    }
    server->listening = true;
    nbd_server_update_accepting(server);
    return true;
}

bool nbd_server_add_listen_fd(NBDServer *server, int fd, Error **errp)
{
    QIOChannelSocket *sioc = qio_channel_socket_new_fd(fd, errp);

    if (!sioc) {
        return false;
    }
    qio_net_listener_add(server->listener, sioc);
    object_unref(OBJECT(sioc));
    server->listening = true;
    nbd_server_update_accepting(server);
    return true;
}

QIONetListener *nbd_server_listener(NBDServer *server)
{
    return server->listener;
}

void nbd_server_set_client_contexts(NBDServer *server, AioContext **ctxs,
                                    size_t n)
{
    g_free(server->client_ctxs);
    server->client_ctxs = g_memdup2(ctxs, n * sizeof(*ctxs));
    server->n_client_ctxs = n;
}

void nbd_server_free(NBDServer *server)
{
    NBDClient *client, *next;

    if (!server) {
        return;
    }
    server->stopping = true;
    nbd_server_update_accepting(server);
    qio_net_listener_disconnect(server->listener);

    /*
     * Close every connection, negotiating or not, and wait until the last
     * of them is freed: a negotiation coroutine still holds the server.
     */
    QLIST_FOREACH_SAFE(client, &server->clients, server_next, next) {
        nbd_client_close(client);
    }
    AIO_WAIT_WHILE(NULL, !QLIST_EMPTY(&server->clients));

    while (!QLIST_EMPTY(&server->exports)) {
        nbd_export_remove(QLIST_FIRST(&server->exports));
    }
    object_unref(OBJECT(server->listener));
    if (server->tls_creds) {
        object_unref(OBJECT(server->tls_creds));
    }
    g_free(server->tls_authz);
    g_free(server->client_ctxs);
    g_free(server);
}
