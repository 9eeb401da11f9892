/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIONetListener tests over real sockets: clients accepted through a
 * GMainContext, through an AioContext while the main thread only runs a
 * nested aio_poll() (a listener left on the GLib context would deadlock
 * a process that opens an image backed by its own export), wait_client,
 * disconnect, and the callback swapped by one thread while an iothread
 * dispatches it (the callback locked, watches gone before notify), plus
 * dropping the last reference from the callback and from another thread.
 */
#include "qemu/osdep.h"
#include "io/net-listener.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "qemu/sockets.h"
#include "qemu/thread.h"
#include "sysemu/iothread.h"
#include "test-util.h"

#define TOKEN_LEN 9     /* "client-NN" */
#define ACK_LEN 6       /* "ack-NN" */

static char *tmpdir;

static SocketAddress *unix_addr(const char *name)
{
    SocketAddress *addr = g_new0(SocketAddress, 1);

    addr->type = SOCKET_ADDRESS_TYPE_UNIX;
    addr->u.q_unix.path = g_build_filename(tmpdir, name, NULL);
    return addr;
}

/* Polls @ctx until its deferred frees (bottom halves) have run. */
static void drain_ctx(AioContext *ctx)
{
    while (aio_poll(ctx, false)) {
        /* nothing */
    }
}

/* --- a client that says who it is and checks the reply ------------------- */

static int client_connect(SocketAddress *addr, int id)
{
    char token[TOKEN_LEN + 1];
    int fd = socket_connect(addr, &error_abort);

    g_snprintf(token, sizeof(token), "client-%02d", id);
    g_assert_cmpint(write(fd, token, TOKEN_LEN), ==, TOKEN_LEN);
    return fd;
}

static void client_check_ack(int fd, int id)
{
    char ack[ACK_LEN + 1] = "";
    char expect[ACK_LEN + 1];
    size_t got = 0;
    ssize_t n;

    while (got < ACK_LEN) {
        n = read(fd, ack + got, ACK_LEN - got);
        g_assert_cmpint(n, >, 0);
        got += n;
    }
    g_snprintf(expect, sizeof(expect), "ack-%02d", id);
    g_assert_cmpstr(ack, ==, expect);
    close(fd);
}

/* --- the server side: reads the token, replies, records the client ------- */

typedef struct Server {
    int accepted;               /* atomic */
    bool seen[64];
    GThread *thread;            /* where callbacks must run, or NULL */
    AioContext *ctx;            /* the context they must run in, or NULL */
    int notified;
    bool in_callback;           /* atomic */
    bool unref_in_callback;
    int sleep_ms;
} Server;

static void server_client(QIONetListener *listener, QIOChannelSocket *sioc,
                          gpointer data)
{
    Server *srv = data;
    char token[TOKEN_LEN + 1] = "";
    char ack[ACK_LEN + 1];
    int id;

    qatomic_set(&srv->in_callback, true);
    if (srv->thread) {
        g_assert_true(g_thread_self() == srv->thread);
    }
    if (srv->ctx) {
        g_assert_true(qemu_get_current_aio_context() == srv->ctx);
    }
    g_assert_nonnull(listener);
    /* Handed over blocking. */
    g_assert_cmpint(fcntl(sioc->fd, F_GETFL) & O_NONBLOCK, ==, 0);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(sioc), token,
                                         TOKEN_LEN, &error_abort), ==, 0);
    g_assert_true(g_str_has_prefix(token, "client-"));
    id = atoi(token + 7);
    g_assert_cmpint(id, >=, 0);
    g_assert_cmpint(id, <, G_N_ELEMENTS(srv->seen));
    g_assert_false(srv->seen[id]);
    srv->seen[id] = true;
    g_snprintf(ack, sizeof(ack), "ack-%02d", id);
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(sioc), ack, ACK_LEN,
                                          &error_abort), ==, 0);
    if (srv->sleep_ms) {
        g_usleep(srv->sleep_ms * 1000);
    }
    if (srv->unref_in_callback) {
        object_unref(listener);
    }
    qatomic_inc(&srv->accepted);
    qatomic_set(&srv->in_callback, false);
}

static void server_notify(gpointer data)
{
    Server *srv = data;

    /* Never while a call with the same data runs. */
    g_assert_false(qatomic_read(&srv->in_callback));
    srv->notified++;
}

/* --- GMainContext -------------------------------------------------------- */

static void test_gsource(void)
{
    g_autoptr(SocketAddress) addr = unix_addr("gsource.sock");
    GMainContext *gctx = g_main_context_new();
    QIONetListener *listener = qio_net_listener_new();
    Server srv = { .thread = g_thread_self() };
    int fds[8], i;
    int64_t end;

    qio_net_listener_set_name(listener, "gsrc");
    g_assert_false(qio_net_listener_is_connected(listener));
    g_assert_cmpint(qio_net_listener_open_sync(listener, addr, 16,
                                               &error_abort), ==, 0);
    g_assert_true(qio_net_listener_is_connected(listener));
    g_assert_cmpuint(qio_net_listener_nsioc(listener), ==, 1);
    g_assert_cmpstr(QIO_CHANNEL(qio_net_listener_sioc(listener, 0))->name,
                    ==, "gsrc-listen");
    qio_net_listener_set_client_func_full(listener, server_client, &srv,
                                          server_notify, gctx);

    for (i = 0; i < 8; i++) {
        fds[i] = client_connect(addr, i);
    }
    /* Only the given context accepts. */
    for (i = 0; i < 20; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    g_assert_cmpint(srv.accepted, ==, 0);

    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (srv.accepted < 8 && g_get_monotonic_time() < end) {
        g_main_context_iteration(gctx, TRUE);
    }
    g_assert_cmpint(srv.accepted, ==, 8);
    for (i = 0; i < 8; i++) {
        g_assert_true(srv.seen[i]);
        client_check_ack(fds[i], i);
    }

    qio_net_listener_set_client_func_full(listener, NULL, NULL, NULL, gctx);
    g_assert_cmpint(srv.notified, ==, 1);
    /* No source is left behind in the context. */
    g_assert_false(g_main_context_iteration(gctx, FALSE));
    object_unref(listener);
    g_assert_cmpint(srv.notified, ==, 1);
    g_assert_false(g_file_test(addr->u.q_unix.path, G_FILE_TEST_EXISTS));
    g_main_context_unref(gctx);
}

static void test_open_inet(void)
{
    g_autoptr(SocketAddress) addr = socket_parse("127.0.0.1:0",
                                                 &error_abort);
    g_autoptr(SocketAddress) any = socket_parse(":0", &error_abort);
    g_autoptr(SocketAddress) bad = socket_parse("unix:/nonexistent/dir/s",
                                                &error_abort);
    QIONetListener *listener = qio_net_listener_new();
    Error *err = NULL;
    size_t i;

    g_assert_cmpint(qio_net_listener_open_sync(listener, addr, 4,
                                               &error_abort), ==, 0);
    g_assert_cmpuint(qio_net_listener_nsioc(listener), ==, 1);
    /* One socket per resolved address: 0.0.0.0 and, with IPv6, ::. */
    g_assert_cmpint(qio_net_listener_open_sync(listener, any, 4,
                                               &error_abort), ==, 0);
    g_assert_cmpuint(qio_net_listener_nsioc(listener), >=, 2);

    for (i = 0; i < qio_net_listener_nsioc(listener); i++) {
        QIOChannelSocket *lsioc = qio_net_listener_sioc(listener, i);
        g_autoptr(SocketAddress) local =
            qio_channel_socket_get_local_address(lsioc, &error_abort);
        g_autoptr(SocketAddress) target = NULL;
        g_autofree char *text = NULL;
        QIOChannelSocket *csioc;
        char buf[3] = "";
        int fd;

        g_assert_true(qio_channel_has_feature(QIO_CHANNEL(lsioc),
                                              QIO_CHANNEL_FEATURE_LISTEN));
        /* Listening sockets are non-blocking. */
        g_assert_cmpint(fcntl(lsioc->fd, F_GETFL) & O_NONBLOCK, ==,
                        O_NONBLOCK);
        text = g_strdup_printf("%s:%s",
                               strchr(local->u.inet.host, ':') ?
                               "[::1]" : "127.0.0.1", local->u.inet.port);
        target = socket_parse(text, &error_abort);
        fd = socket_connect(target, &error_abort);
        g_assert_cmpint(write(fd, "hi", 2), ==, 2);
        csioc = qio_net_listener_wait_client(listener);
        g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(csioc), buf, 2,
                                             &error_abort), ==, 0);
        g_assert_cmpstr(buf, ==, "hi");
        object_unref(csioc);
        close(fd);
    }

    /* Nothing can be opened: the error says why. */
    g_assert_cmpint(qio_net_listener_open_sync(listener, bad, 4, &err), ==,
                    -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "Failed to bind"));
    error_free(err);
    object_unref(listener);
}

/* --- AioContext: accepting inside a nested aio_poll() -------------------- */

typedef struct ClientThread {
    SocketAddress *addr;
    int first_id;
    int count;
    int delay_ms;
} ClientThread;

static void *client_thread(void *opaque)
{
    ClientThread *ct = opaque;
    int i;

    for (i = 0; i < ct->count; i++) {
        int fd;

        g_usleep(ct->delay_ms * 1000);
        fd = client_connect(ct->addr, ct->first_id + i);
        client_check_ack(fd, ct->first_id + i);
    }
    return NULL;
}

typedef struct Nested {
    Server *srv;
    int want;
    bool done;
} Nested;

/* A bottom half that waits in a nested aio_poll, as block code does. */
static void nested_poll_bh(void *opaque)
{
    Nested *n = opaque;
    AioContext *ctx = qemu_get_aio_context();

    while (qatomic_read(&n->srv->accepted) < n->want) {
        aio_poll(ctx, true);
    }
    n->done = true;
}

static void test_aio_nested(void)
{
    g_autoptr(SocketAddress) addr = unix_addr("aio.sock");
    g_autoptr(SocketAddress) gaddr = unix_addr("aio-glib.sock");
    AioContext *ctx = qemu_get_aio_context();
    QIONetListener *listener = qio_net_listener_new();
    QIONetListener *glistener = qio_net_listener_new();
    Server srv = { .thread = g_thread_self(), .ctx = ctx };
    Server gsrv = { .thread = g_thread_self() };
    ClientThread ct = { .addr = addr, .count = 8, .delay_ms = 5 };
    Nested nested = { .srv = &srv, .want = 8 };
    QemuThread thread;
    int fd, i;
    int64_t end;

    qio_net_listener_open_sync(listener, addr, 16, &error_abort);
    qio_net_listener_set_client_aio_func(listener, server_client, &srv,
                                         server_notify, ctx);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);

    /* A GLib-sourced listener stays deaf inside aio_poll()... */
    qio_net_listener_open_sync(glistener, gaddr, 16, &error_abort);
    qio_net_listener_set_client_func(glistener, server_client, &gsrv,
                                     server_notify);
    fd = client_connect(gaddr, 40);

    /* ...while the aio one accepts from a nested aio_poll(). */
    qemu_thread_create(&thread, "clients", client_thread, &ct,
                       QEMU_THREAD_JOINABLE);
    aio_bh_schedule_oneshot(ctx, nested_poll_bh, &nested);
    while (!nested.done) {
        aio_poll(ctx, true);
    }
    qemu_thread_join(&thread);
    g_assert_cmpint(srv.accepted, ==, 8);
    for (i = 0; i < 8; i++) {
        g_assert_true(srv.seen[i]);
    }
    g_assert_cmpint(gsrv.accepted, ==, 0);

    /* The main loop proper serves the GLib one. */
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!gsrv.accepted && g_get_monotonic_time() < end) {
        main_loop_wait(false);
    }
    g_assert_cmpint(gsrv.accepted, ==, 1);
    client_check_ack(fd, 40);

    qio_net_listener_set_client_aio_func(listener, NULL, NULL, NULL, ctx);
    g_assert_cmpint(srv.notified, ==, 1);
    object_unref(listener);
    object_unref(glistener);
    g_assert_cmpint(gsrv.notified, ==, 1);
    drain_ctx(ctx);
    assert_ctx_clean(ctx);
}

/* --- wait_client and disconnect ------------------------------------------ */

static void test_wait_client(void)
{
    g_autoptr(SocketAddress) addr = unix_addr("wait.sock");
    QIONetListener *listener = qio_net_listener_new();
    Server srv = { .thread = g_thread_self() };
    ClientThread ct = { .addr = addr, .first_id = 7, .count = 1,
                        .delay_ms = 50 };
    QIOChannelSocket *csioc;
    QemuThread thread;
    char token[TOKEN_LEN + 1] = "";
    int fd;
    int64_t end;

    qio_net_listener_open_sync(listener, addr, 4, &error_abort);
    qio_net_listener_set_client_func(listener, server_client, &srv,
                                     server_notify);
    qemu_thread_create(&thread, "client", client_thread, &ct,
                       QEMU_THREAD_JOINABLE);
    /* Returned to us; the callback does not see it. */
    csioc = qio_net_listener_wait_client(listener);
    g_assert_cmpint(fcntl(csioc->fd, F_GETFL) & O_NONBLOCK, ==, 0);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(csioc), token,
                                         TOKEN_LEN, &error_abort), ==, 0);
    g_assert_cmpstr(token, ==, "client-07");
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(csioc), "ack-07",
                                          ACK_LEN, &error_abort), ==, 0);
    qemu_thread_join(&thread);
    object_unref(csioc);
    g_assert_cmpint(srv.accepted, ==, 0);

    /* The callback's watch is back. */
    fd = client_connect(addr, 8);
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!srv.accepted && g_get_monotonic_time() < end) {
        main_loop_wait(false);
    }
    g_assert_cmpint(srv.accepted, ==, 1);
    client_check_ack(fd, 8);
    object_unref(listener);
    g_assert_cmpint(srv.notified, ==, 1);
}

static void test_disconnect(void)
{
    g_autoptr(SocketAddress) addr = unix_addr("disconnect.sock");
    g_autoptr(SocketAddress) addr2 = unix_addr("disconnect2.sock");
    AioContext *ctx = qemu_get_aio_context();
    QIONetListener *listener = qio_net_listener_new();
    QIOChannelSocket *sioc;
    Server srv = { .thread = g_thread_self() };
    Error *err = NULL;
    int fd;
    int64_t end;

    qio_net_listener_open_sync(listener, addr, 4, &error_abort);
    qio_net_listener_set_client_aio_func(listener, server_client, &srv,
                                         server_notify, ctx);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);
    qio_net_listener_disconnect(listener);
    g_assert_false(qio_net_listener_is_connected(listener));
    g_assert_cmpuint(qio_net_listener_nsioc(listener), ==, 1);
    g_assert_cmpint(qio_net_listener_sioc(listener, 0)->fd, ==, -1);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 0);
    /* The socket is closed and its path gone. */
    g_assert_false(g_file_test(addr->u.q_unix.path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(socket_connect(addr, &err), ==, -1);
    error_free(err);
    drain_ctx(ctx);
    g_assert_cmpint(srv.accepted, ==, 0);
    /* A second disconnect does nothing; the callback stays set. */
    qio_net_listener_disconnect(listener);
    g_assert_cmpint(srv.notified, ==, 0);

    /* Adding a socket connects again, watched at once. */
    sioc = qio_channel_socket_new();
    qio_channel_socket_listen_sync(sioc, addr2, 4, &error_abort);
    qio_net_listener_add(listener, sioc);
    object_unref(sioc);
    g_assert_true(qio_net_listener_is_connected(listener));
    g_assert_cmpuint(qio_net_listener_nsioc(listener), ==, 2);
    fd = client_connect(addr2, 3);
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!srv.accepted && g_get_monotonic_time() < end) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(srv.accepted, ==, 1);
    client_check_ack(fd, 3);

    object_unref(listener);
    g_assert_cmpint(srv.notified, ==, 1);
    g_assert_false(g_file_test(addr2->u.q_unix.path, G_FILE_TEST_EXISTS));
    drain_ctx(ctx);
    assert_ctx_clean(ctx);
}

/* --- the last reference -------------------------------------------------- */

static void test_unref_in_callback(void)
{
    g_autoptr(SocketAddress) addr = unix_addr("unref-cb.sock");
    AioContext *ctx = qemu_get_aio_context();
    QIONetListener *listener = qio_net_listener_new();
    Server srv = { .thread = g_thread_self(), .unref_in_callback = true };
    int fd;

    qio_net_listener_open_sync(listener, addr, 4, &error_abort);
    qio_net_listener_set_client_aio_func(listener, server_client, &srv,
                                         server_notify, ctx);
    fd = client_connect(addr, 1);
    while (!srv.accepted) {
        aio_poll(ctx, true);
    }
    /* Freed from its own callback; notify ran once, after the call. */
    client_check_ack(fd, 1);
    g_assert_cmpint(srv.notified, ==, 1);
    g_assert_false(g_file_test(addr->u.q_unix.path, G_FILE_TEST_EXISTS));
    drain_ctx(ctx);
    assert_ctx_clean(ctx);
}

static void test_unref_cross_thread(void)
{
    g_autoptr(SocketAddress) addr = unix_addr("unref-thread.sock");
    IOThread *iothread = iothread_create("listener", &error_abort);
    AioContext *ctx = iothread_get_aio_context(iothread);
    QIONetListener *listener = qio_net_listener_new();
    Server srv = { .ctx = ctx, .sleep_ms = 100 };
    int fd;

    qio_net_listener_open_sync(listener, addr, 4, &error_abort);
    qio_net_listener_set_client_aio_func(listener, server_client, &srv,
                                         server_notify, ctx);
    fd = client_connect(addr, 2);
    client_check_ack(fd, 2);
    /* The callback now sleeps in the iothread; drop the last reference. */
    g_assert_true(qatomic_read(&srv.in_callback));
    object_unref(listener);
    /* Finalize waited for the callback; then notify ran, here. */
    g_assert_false(qatomic_read(&srv.in_callback));
    g_assert_cmpint(qatomic_read(&srv.accepted), ==, 1);
    g_assert_cmpint(srv.notified, ==, 1);
    iothread_destroy(iothread);
}

/* --- callback swapped while dispatched ----------------------------------- */

#define SWAP_SLOTS 200000

typedef struct SwapTest {
    QIONetListener *listener;
    SocketAddress *addr;
    AioContext *ctx;
    int *notified;              /* per slot, atomic */
    int *calls;                 /* per slot, atomic */
    int swaps;                  /* slots used */
    int accepted;               /* atomic */
    int connected;
    bool stop;                  /* atomic */
} SwapTest;

typedef struct SwapData {
    SwapTest *t;
    int slot;
} SwapData;

static void swap_client(QIONetListener *listener, QIOChannelSocket *sioc,
                        gpointer data)
{
    SwapData *d = data;
    SwapTest *t = d->t;
    char c = 0;

    g_assert_true(qemu_get_current_aio_context() == t->ctx);
    g_assert_true(listener == t->listener);
    /* Its notify has not run, and will not until we return. */
    g_assert_cmpint(qatomic_read(&t->notified[d->slot]), ==, 0);
    qatomic_inc(&t->calls[d->slot]);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(sioc), &c, 1,
                                     &error_abort), ==, 1);
    g_assert_cmpint(c, ==, 'c');
    g_assert_cmpint(qatomic_read(&t->notified[d->slot]), ==, 0);
    qatomic_inc(&t->accepted);
}

static void swap_notify(gpointer data)
{
    SwapData *d = data;

    g_assert_cmpint(qatomic_fetch_inc(&d->t->notified[d->slot]), ==, 0);
    /* Freed: any later use of @d is caught by ASan. */
    g_free(d);
}

static void *swapper_thread(void *opaque)
{
    SwapTest *t = opaque;
    int slot;

    for (slot = 0; slot < SWAP_SLOTS && !qatomic_read(&t->stop); slot++) {
        SwapData *d = g_new0(SwapData, 1);

        d->t = t;
        d->slot = slot;
        qio_net_listener_set_client_aio_func(t->listener, swap_client, d,
                                             swap_notify, t->ctx);
        /* Each earlier callback is notified by now or by its dispatch. */
        g_usleep(100);
    }
    t->swaps = slot;
    return NULL;
}

static void *swap_clients_thread(void *opaque)
{
    SwapTest *t = opaque;

    while (!qatomic_read(&t->stop)) {
        int fd = socket_connect(t->addr, &error_abort);

        g_assert_cmpint(write(fd, "c", 1), ==, 1);
        close(fd);
        t->connected++;
    }
    return NULL;
}

static void test_swap_while_dispatching(void)
{
    g_autoptr(SocketAddress) addr = unix_addr("swap.sock");
    IOThread *iothread = iothread_create("swap", &error_abort);
    SwapTest t = {
        .addr = addr,
        .ctx = iothread_get_aio_context(iothread),
        .notified = g_new0(int, SWAP_SLOTS),
        .calls = g_new0(int, SWAP_SLOTS),
    };
    QemuThread swapper, clients;
    int64_t end;
    int slot, notified = 0, calls = 0, used = 0;

    t.listener = qio_net_listener_new();
    qio_net_listener_open_sync(t.listener, addr, 64, &error_abort);
    qemu_thread_create(&swapper, "swapper", swapper_thread, &t,
                       QEMU_THREAD_JOINABLE);
    qemu_thread_create(&clients, "clients", swap_clients_thread, &t,
                       QEMU_THREAD_JOINABLE);
    g_usleep(1500 * 1000);
    qatomic_set(&t.stop, true);
    /* Clients first: the swapper keeps a callback installed for them. */
    qemu_thread_join(&clients);
    qemu_thread_join(&swapper);

    qio_net_listener_set_client_aio_func(t.listener, NULL, NULL, NULL,
                                         t.ctx);
    /* A dispatch still running in the iothread notifies its own data. */
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    for (;;) {
        notified = 0;
        for (slot = 0; slot < t.swaps; slot++) {
            notified += qatomic_read(&t.notified[slot]);
        }
        if (notified == t.swaps || g_get_monotonic_time() > end) {
            break;
        }
        g_usleep(1000);
    }

    g_assert_cmpint(t.swaps, >, 10);
    for (slot = 0; slot < t.swaps; slot++) {
        g_assert_cmpint(qatomic_read(&t.notified[slot]), ==, 1);
        calls += qatomic_read(&t.calls[slot]);
        used += qatomic_read(&t.calls[slot]) > 0;
    }
    g_assert_cmpint(calls, ==, qatomic_read(&t.accepted));
    g_assert_cmpint(calls, >, 0);
    g_assert_cmpint(calls, <=, t.connected);
    g_test_message("%d swaps, %d clients connected, %d accepted by %d "
                   "callbacks", t.swaps, t.connected, calls, used);

    object_unref(t.listener);
    iothread_destroy(iothread);
    g_free(t.notified);
    g_free(t.calls);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    tmpdir = g_dir_make_tmp("test-io-net-listener-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);

    g_test_add_func("/io/net-listener/gsource", test_gsource);
    g_test_add_func("/io/net-listener/open-inet", test_open_inet);
    g_test_add_func("/io/net-listener/aio-nested", test_aio_nested);
    g_test_add_func("/io/net-listener/wait-client", test_wait_client);
    g_test_add_func("/io/net-listener/disconnect", test_disconnect);
    g_test_add_func("/io/net-listener/unref-in-callback",
                    test_unref_in_callback);
    g_test_add_func("/io/net-listener/unref-cross-thread",
                    test_unref_cross_thread);
    g_test_add_func("/io/net-listener/swap-while-dispatching",
                    test_swap_while_dispatching);

    ret = g_test_run();
    rmdir(tmpdir);
    g_free(tmpdir);
    return ret;
}
