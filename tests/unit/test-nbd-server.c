/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD server in process: clients in threads speak the protocol over
 * UNIX sockets while the main thread moves the export between
 * AioContexts and drains it.
 *
 * Failure modes covered:
 * - client fields touched by the main thread's drain and the export's
 *   iothread at once: drain and context-switch loops while clients have
 *   requests in flight (run this under TSan);
 * - a drain's wake of the parked reader lost against a wait that is just
 *   starting: drains hammered while readers start and stop waiting;
 *   every drain must finish;
 * - a request received but not yet counted when a drain looks: context
 *   switches while requests arrive at an otherwise idle client, and
 *   while busy clients keep requests in flight; a probe on the node
 *   counts the requests in flight at each switch's drain;
 * - half-open clients and stopping the server while clients negotiate;
 * - the listener stuck while the main thread waits in a nested
 *   aio_poll() of the main context (no GLib dispatch there).
 * Every client checks the data it reads; each test checks that nothing
 * (coroutines, handlers, bottom halves) is left behind.
 */
#include "qemu/osdep.h"

#include <poll.h>
#include "nbd/server-internal.h"
#include "sysemu/iothread.h"
#include "qemu/main-loop.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "test-util.h"

#define MiB (1024 * 1024)
#define IMAGE_SIZE (16 * MiB)
#define REGION (1 * MiB)        /* each client owns one */
#define CHUNK (64 * 1024)
#define DEPTH 4                 /* requests each client keeps in flight */

typedef struct Fixture {
    char *dir;
    char *image;
    char *sock;
    BlockBackend *blk;
    NBDServer *server;
    NBDExport *exp;
    unsigned int handlers_before;
    unsigned int bhs_before;
} Fixture;

/* Blocking client (runs in its own thread) */

typedef struct TestClient {
    const char *sock;
    unsigned int id;
    unsigned int iterations;
    bool idle;                  /* connect, then wait for *stop */
    bool trickle;               /* one request at a time until *stop */
    bool *stop;                 /* atomic: also ends the rounds early */
    int fd;
    unsigned int errors;
    unsigned int ops;
    bool done;                  /* atomic */
    GThread *thread;
} TestClient;

static bool xwrite(int fd, const void *buf, size_t len)
{
    return test_xio(false, fd, (void *)buf, len);
}

static bool xread(int fd, void *buf, size_t len)
{
    return test_xio(true, fd, buf, len);
}

static int test_connect(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    g_assert_cmpint(fd, >=, 0);
    pstrcpy(sa.sun_path, sizeof(sa.sun_path), path);
    g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), ==, 0);
    return fd;
}

/* Handshake with NBD_OPT_GO of the default export. */
static bool client_handshake(int fd)
{
    uint8_t buf[64];
    uint32_t len;

    if (!xread(fd, buf, 18) || nbd_get64(buf) != NBD_INIT_MAGIC) {
        return false;
    }
    nbd_put32(buf, NBD_FLAG_C_FIXED_NEWSTYLE);
    nbd_put64(buf + 4, NBD_OPTS_MAGIC);
    nbd_put32(buf + 12, NBD_OPT_GO);
    nbd_put32(buf + 16, 6);
    nbd_put32(buf + 20, 0);     /* name "" */
    nbd_put16(buf + 24, 0);     /* no information requests */
    if (!xwrite(fd, buf, 26)) {
        return false;
    }
    for (;;) {
        g_autofree uint8_t *data = NULL;
        uint32_t type;

        if (!xread(fd, buf, 20) || nbd_get64(buf) != NBD_REP_MAGIC) {
            return false;
        }
        type = nbd_get32(buf + 12);
        len = nbd_get32(buf + 16);
        data = g_malloc(len + 1);
        if (!xread(fd, data, len)) {
            return false;
        }
        if (type == NBD_REP_ACK) {
            return true;
        }
        if (type != NBD_REP_INFO) {
            return false;
        }
    }
}

static bool client_send(int fd, uint16_t type, uint64_t cookie,
                        uint64_t from, uint32_t len, const void *payload)
{
    uint8_t hdr[NBD_REQUEST_SIZE];

    nbd_put32(hdr, NBD_REQUEST_MAGIC);
    nbd_put16(hdr + 4, 0);
    nbd_put16(hdr + 6, type);
    nbd_put64(hdr + 8, cookie);
    nbd_put64(hdr + 16, from);
    nbd_put32(hdr + 24, len);
    return xwrite(fd, hdr, sizeof(hdr)) &&
           (!payload || xwrite(fd, payload, len));
}

/* Reads a simple reply; returns its error, or -1 on a broken stream. */
static int client_reply(int fd, uint64_t *cookie, void *data, size_t len)
{
    uint8_t hdr[NBD_SIMPLE_REPLY_SIZE];
    uint32_t err;

    if (!xread(fd, hdr, sizeof(hdr)) ||
        nbd_get32(hdr) != NBD_SIMPLE_REPLY_MAGIC) {
        return -1;
    }
    err = nbd_get32(hdr + 4);
    *cookie = nbd_get64(hdr + 8);
    if (!err && data && !xread(fd, data, len)) {
        return -1;
    }
    return err;
}

static uint8_t client_pattern(TestClient *c, unsigned int i, unsigned int k)
{
    return 0x11 + c->id * 37 + i * 7 + k;
}

/* One round: DEPTH writes in flight, then DEPTH reads checked. */
static void client_round(TestClient *c, unsigned int i)
{
    uint64_t base = (uint64_t)c->id * REGION;
    g_autofree uint8_t *buf = g_malloc(CHUNK * DEPTH);
    uint64_t cookie;

    for (unsigned int k = 0; k < DEPTH; k++) {
        memset(buf + k * CHUNK, client_pattern(c, i, k), CHUNK);
        if (!client_send(c->fd, NBD_CMD_WRITE, k, base + k * CHUNK, CHUNK,
                         buf + k * CHUNK)) {
            c->errors++;
            return;
        }
    }
    for (unsigned int k = 0; k < DEPTH; k++) {
        if (client_reply(c->fd, &cookie, NULL, 0) != 0) {
            c->errors++;
            return;
        }
    }
    if (i % 4 == 0) {
        if (!client_send(c->fd, NBD_CMD_FLUSH, 99, 0, 0, NULL) ||
            client_reply(c->fd, &cookie, NULL, 0) != 0 || cookie != 99) {
            c->errors++;
            return;
        }
    }
    /*
     * DEPTH reads in flight; each reply names its chunk by its cookie,
     * each cookie once.
     */
    memset(buf, 0, CHUNK * DEPTH);
    for (unsigned int k = 0; k < DEPTH; k++) {
        if (!client_send(c->fd, NBD_CMD_READ, 100 + k, base + k * CHUNK,
                         CHUNK, NULL)) {
            c->errors++;
            return;
        }
    }
    for (unsigned int n = 0, seen = 0; n < DEPTH; n++) {
        uint8_t hdr[NBD_SIMPLE_REPLY_SIZE];
        unsigned int k;

        if (!xread(c->fd, hdr, sizeof(hdr)) ||
            nbd_get32(hdr) != NBD_SIMPLE_REPLY_MAGIC ||
            nbd_get32(hdr + 4) != 0) {
            c->errors++;
            return;
        }
        cookie = nbd_get64(hdr + 8);
        k = cookie - 100;
        if (cookie < 100 || k >= DEPTH || (seen & (1u << k)) ||
            !xread(c->fd, buf + k * CHUNK, CHUNK)) {
            c->errors++;
            return;
        }
        seen |= 1u << k;
    }
    for (unsigned int k = 0; k < DEPTH; k++) {
        for (size_t j = 0; j < CHUNK; j++) {
            if (buf[k * CHUNK + j] != client_pattern(c, i, k)) {
                c->errors++;
                return;
            }
        }
    }
    c->ops += 2 * DEPTH;
}

/*
 * One write and its read back, one request at a time, then a pause of up
 * to half a millisecond: requests that find the server's reader idle.
 */
static void client_trickle_round(TestClient *c, unsigned int i)
{
    uint64_t at = (uint64_t)c->id * REGION + (i % (REGION / CHUNK)) * CHUNK;
    g_autofree uint8_t *buf = g_malloc(CHUNK);
    uint8_t want = client_pattern(c, i, 0);
    uint64_t cookie;

    memset(buf, want, CHUNK);
    if (!client_send(c->fd, NBD_CMD_WRITE, 1, at, CHUNK, buf) ||
        client_reply(c->fd, &cookie, NULL, 0) != 0 || cookie != 1) {
        c->errors++;
        return;
    }
    memset(buf, 0, CHUNK);
    if (!client_send(c->fd, NBD_CMD_READ, 2, at, CHUNK, NULL) ||
        client_reply(c->fd, &cookie, buf, CHUNK) != 0 || cookie != 2) {
        c->errors++;
        return;
    }
    for (size_t j = 0; j < CHUNK; j++) {
        if (buf[j] != want) {
            c->errors++;
            return;
        }
    }
    c->ops += 2;
    g_usleep((i % 6) * 100);
}

static gpointer client_thread(gpointer opaque)
{
    TestClient *c = opaque;

    c->fd = test_connect(c->sock);
    if (!client_handshake(c->fd)) {
        c->errors++;
        goto out;
    }
    if (c->idle) {
        /* Parked in the server's read until the end, then one round. */
        while (!__atomic_load_n(c->stop, __ATOMIC_ACQUIRE)) {
            g_usleep(1000);
        }
        client_round(c, 0);
    } else {
        for (unsigned int i = 0; i < c->iterations && !c->errors &&
             !__atomic_load_n(c->stop, __ATOMIC_ACQUIRE); i++) {
            if (c->trickle) {
                client_trickle_round(c, i);
            } else {
                client_round(c, i);
            }
        }
    }
    client_send(c->fd, NBD_CMD_DISC, 0, 0, 0, NULL);
out:
    close(c->fd);
    __atomic_store_n(&c->done, true, __ATOMIC_RELEASE);
    return NULL;
}

static void client_start(TestClient *c, Fixture *f, unsigned int id,
                         unsigned int iterations, bool *stop)
{
    *c = (TestClient) {
        .sock = f->sock,
        .id = id,
        .iterations = iterations,
        .idle = iterations == 0,
        .stop = stop,
    };
    c->thread = g_thread_new("nbd-test-client", client_thread, c);
}

static bool clients_done(TestClient *c, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++) {
        if (!__atomic_load_n(&c[i].done, __ATOMIC_ACQUIRE)) {
            return false;
        }
    }
    return true;
}

/* Runs the main context until @c are done (the clients need it). */
static void wait_clients(TestClient *c, unsigned int n)
{
    int64_t end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

    while (!clients_done(c, n) && g_get_monotonic_time() < end) {
        aio_poll(qemu_get_aio_context(), false);
        g_usleep(100);
    }
    g_assert_true(clients_done(c, n));
    for (unsigned int i = 0; i < n; i++) {
        g_thread_join(c[i].thread);
        g_assert_cmpuint(c[i].errors, ==, 0);
    }
}

static void poll_main(int ms)
{
    int64_t end = g_get_monotonic_time() + ms * 1000;

    do {
        aio_poll(qemu_get_aio_context(), false);
        g_usleep(50);
    } while (g_get_monotonic_time() < end);
}

/*
 * Runs the main context until @fd has something to read (the server of
 * these tests lives in this thread), for at most 10 s.
 */
static void poll_main_until_readable(int fd)
{
    int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };

    while (poll(&pfd, 1, 0) == 0) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        aio_poll(qemu_get_aio_context(), false);
        g_usleep(50);
    }
}

/* Fixture */

static void fixture_setup(Fixture *f, bool spread, AioContext **ctxs,
                          size_t nctx)
{
    NBDServerOptions sopts = { .handshake_limit = 10 };
    NBDExportOptions eopts = {
        .name = "",
        .spread_clients = spread,
        .multi_conn = NBD_MULTI_CONN_ON,
    };
    SocketAddress addr = { .type = SOCKET_ADDRESS_TYPE_UNIX };
    int fd;

    f->handlers_before = aio_context_handler_count(qemu_get_aio_context());
    f->bhs_before = aio_context_bh_count(qemu_get_aio_context());
    f->dir = g_dir_make_tmp("test-nbd-server.XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->image = g_build_filename(f->dir, "disk.img", NULL);
    f->sock = g_build_filename(f->dir, "sock", NULL);
    fd = open(f->image, O_CREAT | O_RDWR, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, IMAGE_SIZE), ==, 0);
    close(fd);

    f->blk = blk_new_open(f->image, "raw", NULL, BDRV_O_RDWR, &error_abort);
    f->server = nbd_server_new(&sopts, &error_abort);
    if (nctx) {
        nbd_server_set_client_contexts(f->server, ctxs, nctx);
    }
    f->exp = nbd_export_new(f->server, f->blk, &eopts, &error_abort);
    addr.u.q_unix.path = f->sock;
    g_assert_true(nbd_server_listen(f->server, &addr, &error_abort));
}

static void fixture_teardown(Fixture *f)
{
    if (blk_get_aio_context(f->blk) != qemu_get_aio_context()) {
        g_assert_cmpint(blk_set_aio_context(f->blk, qemu_get_aio_context(),
                                            &error_abort), ==, 0);
    }
    nbd_server_free(f->server);
    blk_unref(f->blk);
    /* Let the last bottom halves (client frees) run. */
    poll_main(20);
    assert_no_coroutines();
    g_assert_cmpuint(aio_context_handler_count(qemu_get_aio_context()), ==,
                     f->handlers_before);
    g_assert_cmpuint(aio_context_bh_count(qemu_get_aio_context()), ==,
                     f->bhs_before);
    unlink(f->image);
    rmdir(f->dir);
    g_free(f->image);
    g_free(f->sock);
    g_free(f->dir);
}

/* Tests */

static void test_io_basic(void)
{
    Fixture f;
    TestClient c[3];
    bool stop = false;

    fixture_setup(&f, false, NULL, 0);
    for (unsigned int i = 0; i < 3; i++) {
        client_start(&c[i], &f, i, 20, &stop);
    }
    wait_clients(c, 3);
    g_assert_cmpuint(nbd_server_connection_count(f.server), <=, 3);
    fixture_teardown(&f);
}

/*
 * A second BlockBackend on the export's node: its drained_begin runs in
 * every drain of the node, so in each context switch, before the drain
 * waits. It counts the requests the export's clients have in flight then
 * (counted by the server, so the drain must wait for them). Main thread
 * only, like the export's client list; nb_requests under client->lock.
 */
typedef struct SwitchProbe {
    NBDExport *exp;
    BlockBackend *blk;
    unsigned int drains;
    unsigned int drains_with_requests;
    unsigned int requests;      /* in flight, summed over the drains */
} SwitchProbe;

static void probe_drained_begin(void *opaque)
{
    SwitchProbe *p = opaque;
    NBDClient *client;
    unsigned int n = 0;

    g_assert_true(qemu_in_main_thread());
    QLIST_FOREACH(client, &p->exp->clients, export_next) {
        qemu_mutex_lock(&client->lock);
        n += client->nb_requests;
        qemu_mutex_unlock(&client->lock);
    }
    p->drains++;
    p->requests += n;
    if (n) {
        p->drains_with_requests++;
    }
}

static const BlockDevOps probe_ops = {
    .drained_begin = probe_drained_begin,
};

static void probe_attach(SwitchProbe *p, Fixture *f)
{
    *p = (SwitchProbe) { .exp = f->exp };
    p->blk = blk_new_with_bs(blk_bs(f->blk), false, &error_abort);
    blk_set_dev_ops(p->blk, &probe_ops, p);
}

/* Switches @f's export to the next of @ctxs; true if it had requests. */
static bool switch_context(Fixture *f, SwitchProbe *p, AioContext **ctxs,
                           unsigned int i)
{
    unsigned int before = p->drains_with_requests;

    g_assert_cmpint(blk_set_aio_context(f->blk, ctxs[i % 3], &error_abort),
                    ==, 0);
    return p->drains_with_requests > before;
}

/*
 * The export moves between contexts while clients have requests in
 * flight (busy clients keep DEPTH writes, then DEPTH reads, outstanding),
 * then while requests arrive at an otherwise idle connection one at a
 * time; a third client stays idle throughout, parked in the server's
 * read. Each phase goes on until the probe saw enough switches whose
 * drain found requests in flight: a switch with nothing to wait for
 * checks nothing about requests being counted.
 */
#define SWITCHES_WITH_REQUESTS 10

static void test_context_switch(void)
{
    IOThread *a = iothread_create("nbd-a", &error_abort);
    IOThread *b = iothread_create("nbd-b", &error_abort);
    AioContext *ctxs[3] = {
        iothread_get_aio_context(a), iothread_get_aio_context(b),
        qemu_get_aio_context(),
    };
    Fixture f;
    SwitchProbe probe;
    TestClient c[5];
    bool stop_busy = false, stop = false;
    unsigned int switches = 0, busy_hits = 0, idle_hits = 0;
    int64_t end;

    fixture_setup(&f, false, NULL, 0);
    probe_attach(&probe, &f);
    for (unsigned int i = 0; i < 3; i++) {
        client_start(&c[i], &f, i, 1000000, &stop_busy);
    }
    client_start(&c[3], &f, 3, 0, &stop);    /* idle */

    end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while ((switches < 30 || busy_hits < SWITCHES_WITH_REQUESTS) &&
           !clients_done(c, 3) && g_get_monotonic_time() < end) {
        busy_hits += switch_context(&f, &probe, ctxs, switches++);
        poll_main(2);
    }
    g_test_message("busy clients: %u context switches, %u with requests "
                   "in flight (%u requests)", switches, busy_hits,
                   probe.requests);
    __atomic_store_n(&stop_busy, true, __ATOMIC_RELEASE);
    wait_clients(c, 3);
    g_assert_cmpuint(busy_hits, >=, SWITCHES_WITH_REQUESTS);

    /*
     * Only the idle client and one that sends a request now and then: the
     * server's reader mostly waits, and a request may arrive just as a
     * drain begins.
     */
    c[4] = (TestClient) {
        .sock = f.sock, .id = 4, .iterations = 1000000, .trickle = true,
        .stop = &stop,
    };
    c[4].thread = g_thread_new("nbd-test-client", client_thread, &c[4]);
    end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    for (unsigned int i = 0;
         (i < 150 || idle_hits < SWITCHES_WITH_REQUESTS) &&
         g_get_monotonic_time() < end; i++) {
        idle_hits += switch_context(&f, &probe, ctxs, switches++);
        if (i % 10 == 0) {
            poll_main(1);
        }
    }
    g_test_message("idle and trickling clients: %u context switches in "
                   "all, %u with requests in flight", switches, idle_hits);
    __atomic_store_n(&stop, true, __ATOMIC_RELEASE);
    wait_clients(&c[3], 2);
    g_assert_cmpuint(idle_hits, >=, SWITCHES_WITH_REQUESTS);
    g_assert_cmpuint(probe.drains, ==, switches);

    g_assert_cmpint(blk_set_aio_context(f.blk, qemu_get_aio_context(),
                                        &error_abort), ==, 0);
    blk_unref(probe.blk);
    fixture_teardown(&f);
    iothread_destroy(a);
    iothread_destroy(b);
}

/*
 * Drains of an export in an iothread, hammered against the reader: the
 * drain's wake must not be lost against a wait that is just starting.
 */
static void test_drain_loop(void)
{
    IOThread *a = iothread_create("nbd-drain", &error_abort);
    Fixture f;
    TestClient c[3];
    bool stop = false;
    unsigned int drains = 0;
    int64_t end;

    fixture_setup(&f, false, NULL, 0);
    g_assert_cmpint(blk_set_aio_context(f.blk, iothread_get_aio_context(a),
                                        &error_abort), ==, 0);
    client_start(&c[0], &f, 0, 60, &stop);
    client_start(&c[1], &f, 1, 60, &stop);
    client_start(&c[2], &f, 2, 0, &stop);    /* idle */

    end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while ((!clients_done(c, 2) || drains < 300) &&
           g_get_monotonic_time() < end) {
        bdrv_drained_begin(blk_bs(f.blk));
        bdrv_drained_end(blk_bs(f.blk));
        drains++;
        if (drains % 8 == 0) {
            poll_main(1);
        }
    }
    g_assert_true(clients_done(c, 2));
    g_assert_cmpuint(drains, >=, 300);
    __atomic_store_n(&stop, true, __ATOMIC_RELEASE);
    wait_clients(c, 3);
    fixture_teardown(&f);
    iothread_destroy(a);
}

/* --iothreads: clients spread over two contexts, export moving too. */
static void test_spread_clients(void)
{
    IOThread *a = iothread_create("nbd-s1", &error_abort);
    IOThread *b = iothread_create("nbd-s2", &error_abort);
    IOThread *x = iothread_create("nbd-s3", &error_abort);
    AioContext *ctxs[2] = {
        iothread_get_aio_context(a), iothread_get_aio_context(b),
    };
    Fixture f;
    TestClient c[5];
    bool stop = false;
    unsigned int switches = 0;
    int64_t end;

    fixture_setup(&f, true, ctxs, 2);
    for (unsigned int i = 0; i < 4; i++) {
        client_start(&c[i], &f, i, 40, &stop);
    }
    client_start(&c[4], &f, 4, 0, &stop);
    end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    while (!clients_done(c, 4) && g_get_monotonic_time() < end) {
        AioContext *to = switches % 2 ? qemu_get_aio_context() :
                         iothread_get_aio_context(x);

        g_assert_cmpint(blk_set_aio_context(f.blk, to, &error_abort), ==, 0);
        switches++;
        poll_main(3);
    }
    __atomic_store_n(&stop, true, __ATOMIC_RELEASE);
    wait_clients(c, 5);
    fixture_teardown(&f);
    iothread_destroy(a);
    iothread_destroy(b);
    iothread_destroy(x);
}

/* The main thread waits in a nested aio_poll() and still serves. */
typedef struct ListJob {
    const char *sock;
    NBDExportInfo *info;
    int count;
    bool done;
} ListJob;

static void coroutine_fn list_co(void *opaque)
{
    ListJob *job = opaque;
    QIOChannelSocket *sioc = qio_channel_socket_new();
    SocketAddress addr = {
        .type = SOCKET_ADDRESS_TYPE_UNIX,
        .u.q_unix.path = (char *)job->sock,
    };

    /* connect(2) of a UNIX socket completes without the server. */
    g_assert_cmpint(qio_channel_socket_connect_sync(sioc, &addr,
                                                    &error_abort), ==, 0);
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(sioc), true);
    job->count = nbd_receive_export_list(QIO_CHANNEL(sioc), NULL, NULL,
                                         &job->info, &error_abort);
    object_unref(OBJECT(sioc));
    qatomic_store_release(&job->done, true);
    aio_wait_kick();
}

static void test_nested_accept(void)
{
    Fixture f;
    TestClient c[1];
    bool stop = false;
    ListJob job = { 0 };

    fixture_setup(&f, false, NULL, 0);
    job.sock = f.sock;
    client_start(&c[0], &f, 0, 10, &stop);
    aio_co_enter(qemu_get_aio_context(),
                 qemu_coroutine_create(list_co, &job));
    /*
     * Only the main AioContext is polled here, as in a nested wait: the
     * listing coroutine's connection must be accepted and served by fd
     * handlers of that context (while the client thread does I/O).
     */
    AIO_WAIT_WHILE(qemu_get_aio_context(), !qatomic_load_acquire(&job.done));
    g_assert_cmpint(job.count, ==, 1);
    g_assert_cmpstr(job.info[0].name, ==, "");
    g_assert_cmpuint(job.info[0].size, ==, IMAGE_SIZE);
    g_assert_true(job.info[0].flags & NBD_FLAG_CAN_MULTI_CONN);
    g_assert_cmpuint(job.info[0].n_contexts, ==, 1);
    nbd_free_export_list(job.info, job.count);
    wait_clients(c, 1);
    fixture_teardown(&f);
}

/* Freeing the server while clients are in every handshake stage. */
static void test_stop_negotiating(void)
{
    Fixture f;
    int fds[40];
    uint8_t buf[32];

    fixture_setup(&f, false, NULL, 0);
    for (unsigned int i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = test_connect(f.sock);
    }
    for (unsigned int i = 0; i < G_N_ELEMENTS(fds); i++) {
        /* accepted and greeted (however loaded the machine is) */
        if (i % 4) {
            poll_main_until_readable(fds[i]);
        }
        switch (i % 4) {
        case 1:
            g_assert_true(xread(fds[i], buf, 18));
            break;
        case 2:
            g_assert_true(xread(fds[i], buf, 18));
            nbd_put32(buf, NBD_FLAG_C_FIXED_NEWSTYLE);
            g_assert_true(xwrite(fds[i], buf, 4));
            break;
        case 3:
            g_assert_true(xread(fds[i], buf, 18));
            nbd_put32(buf, NBD_FLAG_C_FIXED_NEWSTYLE);
            nbd_put64(buf + 4, NBD_OPTS_MAGIC);
            nbd_put32(buf + 12, NBD_OPT_GO);
            nbd_put32(buf + 16, 100);   /* option data never comes */
            g_assert_true(xwrite(fds[i], buf, 20));
            break;
        default:
            break;
        }
    }
    {
        int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

        poll_main(20);
        while (nbd_server_connection_count(f.server) < G_N_ELEMENTS(fds)) {
            g_assert_cmpint(g_get_monotonic_time(), <, end);
            poll_main(1);
        }
    }
    g_assert_cmpuint(nbd_server_connection_count(f.server), ==,
                     G_N_ELEMENTS(fds));
    fixture_teardown(&f);           /* frees the server */
    for (unsigned int i = 0; i < G_N_ELEMENTS(fds); i++) {
        /* every socket was closed by the server */
        ssize_t n;

        do {
            n = read(fds[i], buf, sizeof(buf));
        } while (n > 0);
        close(fds[i]);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    signal(SIGPIPE, SIG_IGN);

    g_test_add_func("/nbd/server/io-basic", test_io_basic);
    g_test_add_func("/nbd/server/context-switch-io", test_context_switch);
    g_test_add_func("/nbd/server/drain-loop", test_drain_loop);
    g_test_add_func("/nbd/server/spread-clients", test_spread_clients);
    g_test_add_func("/nbd/server/nested-aio-poll-accept",
                    test_nested_accept);
    g_test_add_func("/nbd/server/stop-while-negotiating",
                    test_stop_negotiating);
    return g_test_run();
}
