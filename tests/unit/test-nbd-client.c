/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nbd block driver against our NBD server (in process, over UNIX
 * sockets) and against hostile fake servers (threads that speak just
 * enough of the protocol to misbehave at one chosen point).
 *
 * - basic I/O: writes, reads, zeroes, trims, block status and flush, with
 *   the image file checked behind the server's back;
 * - the process opens an image backed by its own export, waiting in
 *   nested aio_poll() of the main context (no deadlock between the
 *   listener and the block layer's nested wait);
 * - concurrent requests from coroutines in two iothreads over one
 *   connection (the reader waits in one context while the writers wait in
 *   others; run under TSan), data verified;
 * - multi-conn=4: four connections, data verified;
 * - reconnect: the server goes away, requests fail with EIO once
 *   reconnect-delay has passed (not before), later ones at once; a new
 *   server on the same socket is used again;
 * - hostile servers: wrong magic, unknown cookie, chunk outside the
 *   request, a reply cut off, bytes after a good reply, chunks that
 *   overlap, block sizes out of spec: EIO or an open error, never a crash,
 *   a hang or a read that "succeeds" with bytes never received;
 * - the runtime options table (block/nbd-uri.c): every option has help,
 *   and option errors carry it.
 * The reply reader alone, on byte buffers, is tested in test-nbd-reply.c.
 */
#include "qemu/osdep.h"

#include <sys/un.h>
#include "nbd/client-internal.h"
#include "block/nbd-uri.h"
#include "sysemu/iothread.h"
#include "qemu/main-loop.h"
#include "qemu/cutils.h"
#include "qapi/error.h"
#include "test-util.h"

#define MiB (1024 * 1024)
#define IMAGE_SIZE (16 * MiB)

typedef struct Fixture {
    char *dir;
    char *image;
    char *sock;
    char *uri;
    BlockBackend *server_blk;
    NBDServer *server;
} Fixture;

static void server_start(Fixture *f, AioContext **ctxs, size_t nctx)
{
    NBDServerOptions sopts = { .handshake_limit = 10 };
    NBDExportOptions eopts = {
        .name = "disk",
        .spread_clients = nctx > 0,
        .multi_conn = NBD_MULTI_CONN_ON,
    };
    SocketAddress addr = { .type = SOCKET_ADDRESS_TYPE_UNIX };

    /* discard=unmap: zero writes that may unmap punch holes. */
    f->server_blk = blk_new_open(f->image, "raw", NULL,
                                 BDRV_O_RDWR | BDRV_O_UNMAP, &error_abort);
    f->server = nbd_server_new(&sopts, &error_abort);
    if (nctx) {
        nbd_server_set_client_contexts(f->server, ctxs, nctx);
    }
    nbd_export_new(f->server, f->server_blk, &eopts, &error_abort);
    addr.u.q_unix.path = f->sock;
    g_assert_true(nbd_server_listen(f->server, &addr, &error_abort));
}

static void server_stop(Fixture *f)
{
    nbd_server_free(f->server);
    f->server = NULL;
    blk_unref(f->server_blk);
    f->server_blk = NULL;
    unlink(f->sock);
}

static void fixture_setup(Fixture *f, AioContext **ctxs, size_t nctx)
{
    f->dir = g_dir_make_tmp("test-nbd-client.XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->image = make_test_image(f->dir, "disk.img", IMAGE_SIZE);
    f->sock = g_build_filename(f->dir, "sock", NULL);
    f->uri = g_strdup_printf("nbd+unix:///disk?socket=%s", f->sock);
    server_start(f, ctxs, nctx);
}

static void fixture_teardown(Fixture *f)
{
    if (f->server) {
        server_stop(f);
    }
    /* Let the last bottom halves (client frees) run. */
    for (int i = 0; i < 20; i++) {
        aio_poll(qemu_get_aio_context(), false);
        g_usleep(1000);
    }
    assert_no_coroutines();
    unlink(f->image);
    rmdir(f->dir);
    g_free(f->image);
    g_free(f->sock);
    g_free(f->uri);
    g_free(f->dir);
}

static void fill(uint8_t *buf, size_t len, uint64_t offset, unsigned seed)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t x = (offset + i) * 2654435761u + seed;

        buf[i] = x >> 13;
    }
}

/* Reads the image file directly, behind the server. */
static void check_file(Fixture *f, uint64_t offset, const uint8_t *want,
                       size_t len)
{
    g_autofree uint8_t *buf = g_malloc(len);
    int fd = open(f->image, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, offset), ==, len);
    close(fd);
    g_assert_true(memcmp(buf, want, len) == 0);
}

static void test_basic(void)
{
    Fixture f;
    BlockBackend *blk;
    g_autofree uint8_t *wbuf = g_malloc(MiB);
    g_autofree uint8_t *rbuf = g_malloc(MiB);
    g_autofree uint8_t *zero = g_malloc0(MiB);
    int64_t pnum;
    int ret;

    fixture_setup(&f, NULL, 0);
    blk = blk_new_open(f.uri, NULL, NULL, BDRV_O_RDWR | BDRV_O_UNMAP,
                       &error_abort);
    g_assert_cmpint(blk_getlength(blk), ==, IMAGE_SIZE);
    g_assert_cmpstr(bdrv_get_format_name(bdrv_get_file(blk_bs(blk))), ==,
                    "nbd");

    fill(wbuf, MiB, 3 * MiB, 1);
    g_assert_cmpint(blk_pwrite(blk, 3 * MiB, MiB, wbuf, 0), ==, 0);
    g_assert_cmpint(blk_pread(blk, 3 * MiB, MiB, rbuf, 0), ==, 0);
    g_assert_true(memcmp(rbuf, wbuf, MiB) == 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    check_file(&f, 3 * MiB, wbuf, MiB);

    /* Unaligned and FUA */
    fill(wbuf, 1000, 5 * MiB + 17, 2);
    g_assert_cmpint(blk_pwrite(blk, 5 * MiB + 17, 1000, wbuf, BDRV_REQ_FUA),
                    ==, 0);
    g_assert_cmpint(blk_pread(blk, 5 * MiB + 17, 1000, rbuf, 0), ==, 0);
    g_assert_true(memcmp(rbuf, wbuf, 1000) == 0);
    check_file(&f, 5 * MiB + 17, wbuf, 1000);

    /* Zeroes with unmap, then block status says zero */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 3 * MiB, MiB, BDRV_REQ_MAY_UNMAP),
                    ==, 0);
    g_assert_cmpint(blk_pread(blk, 3 * MiB, MiB, rbuf, 0), ==, 0);
    g_assert_true(memcmp(rbuf, zero, MiB) == 0);
    check_file(&f, 3 * MiB, zero, MiB);
    ret = blk_block_status(blk, 3 * MiB, MiB, &pnum, NULL);
    g_assert_cmpint(ret, >=, 0);
    g_assert_true(ret & BDRV_BLOCK_ZERO);
    g_assert_cmpint(pnum, >, 0);

    /* Data reads as data */
    ret = blk_block_status(blk, 5 * MiB, 4096, &pnum, NULL);
    g_assert_cmpint(ret, >=, 0);
    g_assert_true(ret & BDRV_BLOCK_DATA);

    /* Trim; past the end is refused by the block layer or the server */
    g_assert_cmpint(blk_pdiscard(blk, 0, MiB), ==, 0);
    g_assert_cmpint(blk_pread(blk, IMAGE_SIZE - 512, 1024, rbuf, 0), <, 0);

    blk_unref(blk);
    fixture_teardown(&f);
}

/*
 * A process exporting an image over NBD opens an image backed by
 * its own export. The open and every request wait in a nested aio_poll()
 * of the main context (no GLib dispatch), so the server must accept,
 * negotiate and serve from there.
 */
static void test_own_export(void)
{
    Fixture f;
    BlockBackend *blk;
    g_autofree uint8_t *wbuf = g_malloc(MiB);
    g_autofree uint8_t *rbuf = g_malloc(MiB);

    fixture_setup(&f, NULL, 0);
    blk = blk_new_open(f.uri, NULL, NULL, BDRV_O_RDWR, &error_abort);
    fill(wbuf, MiB, 0, 11);
    g_assert_cmpint(blk_pwrite(blk, 0, MiB, wbuf, 0), ==, 0);
    g_assert_cmpint(blk_pread(blk, 0, MiB, rbuf, 0), ==, 0);
    g_assert_true(memcmp(wbuf, rbuf, MiB) == 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    check_file(&f, 0, wbuf, MiB);
    g_assert_cmpuint(nbd_server_connection_count(f.server), ==, 1);
    blk_unref(blk);
    fixture_teardown(&f);
}

/* Several iothreads, one connection */

#define ROUNDS 60
#define REGION (512 * 1024)

typedef struct Worker {
    BlockBackend *blk;
    unsigned int id;
    unsigned int errors;
    bool done;
} Worker;

static void coroutine_fn worker_co(void *opaque)
{
    Worker *w = opaque;
    uint64_t base = (uint64_t)w->id * REGION;
    g_autofree uint8_t *wbuf = g_malloc(REGION);
    g_autofree uint8_t *rbuf = g_malloc(REGION);

    for (unsigned int r = 0; r < ROUNDS; r++) {
        size_t len = 4096 * (1 + (r * 7 + w->id) % (REGION / 4096));

        fill(wbuf, len, base, r + w->id * 1000);
        if (blk_co_pwrite(w->blk, base, len, wbuf, 0) < 0 ||
            blk_co_pread(w->blk, base, len, rbuf, 0) < 0 ||
            memcmp(wbuf, rbuf, len)) {
            w->errors++;
        }
    }
    qatomic_store_release(&w->done, true);
    aio_wait_kick();
}

static void run_workers(BlockBackend *blk, AioContext **ctxs, size_t nctx,
                        unsigned int per_ctx)
{
    unsigned int n = nctx * per_ctx;
    Worker *w = g_new0(Worker, n);

    for (unsigned int i = 0; i < n; i++) {
        w[i].blk = blk;
        w[i].id = i;
        aio_co_enter(ctxs[i % nctx], qemu_coroutine_create(worker_co, &w[i]));
    }
    for (unsigned int i = 0; i < n; i++) {
        int64_t end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

        while (!qatomic_load_acquire(&w[i].done)) {
            g_assert_cmpint(g_get_monotonic_time(), <, end);
            aio_poll(qemu_get_aio_context(), false);
            g_usleep(200);
        }
        g_assert_cmpuint(w[i].errors, ==, 0);
    }
    g_free(w);
}

static void test_two_iothreads(void)
{
    IOThread *srv = iothread_create("nbd-srv", &error_abort);
    IOThread *a = iothread_create("nbd-a", &error_abort);
    IOThread *b = iothread_create("nbd-b", &error_abort);
    AioContext *sctx = iothread_get_aio_context(srv);
    AioContext *ctxs[2] = {
        iothread_get_aio_context(a), iothread_get_aio_context(b),
    };
    Fixture f;
    BlockBackend *blk;

    fixture_setup(&f, &sctx, 1);
    blk = blk_new_open(f.uri, NULL, NULL, BDRV_O_RDWR, &error_abort);
    run_workers(blk, ctxs, 2, 4);
    g_assert_cmpuint(nbd_export_client_count(nbd_export_find(f.server,
                                                             "disk")), ==, 1);
    blk_unref(blk);
    fixture_teardown(&f);
    iothread_destroy(a);
    iothread_destroy(b);
    iothread_destroy(srv);
}

static void test_multi_conn(void)
{
    IOThread *srv = iothread_create("nbd-srv", &error_abort);
    IOThread *a = iothread_create("nbd-a", &error_abort);
    AioContext *sctx = iothread_get_aio_context(srv);
    AioContext *ctxs[2] = {
        qemu_get_aio_context(), iothread_get_aio_context(a),
    };
    g_autoptr(KeyVal) opts = NULL;
    Fixture f;
    BlockBackend *blk;
    BlockDriverState *bs;

    fixture_setup(&f, &sctx, 1);
    opts = keyval_parse("server.type=unix,export=disk,"
                        "multi-conn=4", NULL, &error_abort);
    g_assert_true(keyval_add(opts, "server.path", f.sock, &error_abort));
    bs = bdrv_open(NULL, "nbd", opts, BDRV_O_RDWR, &error_abort);
    blk = blk_new_with_bs(bs, true, &error_abort);
    bdrv_unref(bs);
    g_assert_cmpuint(nbd_export_client_count(nbd_export_find(f.server,
                                                             "disk")), ==, 4);
    run_workers(blk, ctxs, 2, 4);
    blk_unref(blk);
    fixture_teardown(&f);
    iothread_destroy(a);
    iothread_destroy(srv);
}

#define RECONNECT_DELAY_S 3
/* Clock granularity: the driver and this test read the same clock. */
#define RECONNECT_MARGIN_US (20 * 1000)

static void test_reconnect(void)
{
    g_autoptr(KeyVal) opts = keyval_new();
    g_autofree uint8_t *buf = g_malloc(65536);
    g_autofree uint8_t *rbuf = g_malloc(65536);
    g_autofree char *delay = g_strdup_printf("%d", RECONNECT_DELAY_S);
    Fixture f;
    BlockBackend *blk;
    int64_t t0, elapsed;

    fixture_setup(&f, NULL, 0);
    g_assert_true(keyval_add(opts, "file.reconnect-delay", delay,
                             &error_abort));
    blk = blk_new_open(f.uri, NULL, opts, BDRV_O_RDWR, &error_abort);
    fill(buf, 65536, 0, 9);
    g_assert_cmpint(blk_pwrite(blk, 0, 65536, buf, 0), ==, 0);

    /*
     * The server goes away: EIO once reconnect-delay has passed, and not
     * before (the client keeps trying meanwhile). The delay starts when
     * the client sees the connection break, after t0. The upper bound
     * only tells a hang from a slow machine.
     */
    t0 = g_get_monotonic_time();
    server_stop(&f);
    g_assert_cmpint(blk_pread(blk, 0, 65536, rbuf, 0), ==, -EIO);
    elapsed = g_get_monotonic_time() - t0;
    g_test_message("first request failed after %" PRId64 " ms",
                   elapsed / 1000);
    g_assert_cmpint(elapsed, >=,
                    RECONNECT_DELAY_S * G_USEC_PER_SEC - RECONNECT_MARGIN_US);
    g_assert_cmpint(elapsed, <, (RECONNECT_DELAY_S + 30) * G_USEC_PER_SEC);
    /*
     * Later requests fail fast while it is gone: one connection attempt
     * each, no new reconnect-delay (which would take this long at least).
     */
    t0 = g_get_monotonic_time();
    g_assert_cmpint(blk_pread(blk, 0, 65536, rbuf, 0), ==, -EIO);
    elapsed = g_get_monotonic_time() - t0;
    g_test_message("second request failed after %" PRId64 " ms",
                   elapsed / 1000);
    g_assert_cmpint(elapsed, <, RECONNECT_DELAY_S * G_USEC_PER_SEC -
                    RECONNECT_MARGIN_US);

    /* It comes back: the next request reconnects and sees the data. */
    server_start(&f, NULL, 0);
    g_assert_cmpint(blk_pread(blk, 0, 65536, rbuf, 0), ==, 0);
    g_assert_true(memcmp(buf, rbuf, 65536) == 0);

    blk_unref(blk);
    fixture_teardown(&f);
}

/* Hostile servers */

typedef enum Misbehaviour {
    BAD_MAGIC,
    BAD_COOKIE,
    CHUNK_OUTSIDE,
    CUT_OFF,
    HUGE_CHUNK,
    BAD_BLOCK_SIZE,
    SIMPLE_DATA_IN_STRUCTURED,
    TRAILING_GARBAGE,           /* a good reply, then bytes nobody asked for */
    OVERLAP,                    /* chunks that add up, but overlap */
} Misbehaviour;

typedef struct FakeServer {
    int listen_fd;
    Misbehaviour how;
    GThread *thread;
} FakeServer;

static bool fake_opt_reply(int fd, uint32_t opt, uint32_t type,
                           const void *data, uint32_t len)
{
    uint8_t hdr[20];

    nbd_put64(hdr, NBD_REP_MAGIC);
    nbd_put32(hdr + 8, opt);
    nbd_put32(hdr + 12, type);
    nbd_put32(hdr + 16, len);
    return test_xio(false, fd, hdr, 20) &&
           (!len || test_xio(false, fd, (void *)data, len));
}

static gpointer fake_server_thread(gpointer opaque)
{
    FakeServer *fs = opaque;
    int fd = accept(fs->listen_fd, NULL, NULL);
    uint8_t buf[64];
    bool structured = false;

    if (fd < 0) {
        return NULL;
    }
    nbd_put64(buf, NBD_INIT_MAGIC);
    nbd_put64(buf + 8, NBD_OPTS_MAGIC);
    nbd_put16(buf + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    if (!test_xio(false, fd, buf, 18) || !test_xio(true, fd, buf, 4)) {
        goto out;
    }
    for (;;) {
        uint32_t opt, len;
        g_autofree uint8_t *data = NULL;

        if (!test_xio(true, fd, buf, 16)) {
            goto out;
        }
        opt = nbd_get32(buf + 8);
        len = nbd_get32(buf + 12);
        if (len > 4096) {
            goto out;
        }
        data = g_malloc(len + 1);
        if (!test_xio(true, fd, data, len)) {
            goto out;
        }
        if (opt == NBD_OPT_STRUCTURED_REPLY) {
            structured = true;
            fake_opt_reply(fd, opt, NBD_REP_ACK, NULL, 0);
        } else if (opt == NBD_OPT_GO) {
            uint8_t info[14];

            nbd_put16(info, NBD_INFO_EXPORT);
            nbd_put64(info + 2, IMAGE_SIZE);
            nbd_put16(info + 10, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH);
            fake_opt_reply(fd, opt, NBD_REP_INFO, info, 12);
            if (fs->how == BAD_BLOCK_SIZE) {
                nbd_put16(info, NBD_INFO_BLOCK_SIZE);
                nbd_put32(info + 2, 3);     /* not a power of two */
                nbd_put32(info + 6, 4096);
                nbd_put32(info + 10, 1 << 20);
                fake_opt_reply(fd, opt, NBD_REP_INFO, info, 14);
            }
            fake_opt_reply(fd, opt, NBD_REP_ACK, NULL, 0);
            break;
        } else {
            fake_opt_reply(fd, opt, NBD_REP_ERR_UNSUP, NULL, 0);
        }
    }

    /* Transmission: misbehave on the first request (a 4 KiB read). */
    if (!test_xio(true, fd, buf, NBD_REQUEST_SIZE)) {
        goto out;
    }
    {
        uint64_t cookie = nbd_get64(buf + 8);
        uint64_t from = nbd_get64(buf + 16);
        uint32_t len = nbd_get32(buf + 24);
        uint8_t rep[32 + 8];

        g_assert_true(structured);
        switch (fs->how) {
        case BAD_MAGIC:
            nbd_put32(rep, 0x12345678);
            test_xio(false, fd, rep, 20);
            break;
        case BAD_COOKIE:
        case CHUNK_OUTSIDE:
        case CUT_OFF:
        case HUGE_CHUNK:
            nbd_put32(rep, NBD_STRUCTURED_REPLY_MAGIC);
            nbd_put16(rep + 4, NBD_REPLY_FLAG_DONE);
            nbd_put16(rep + 6, NBD_REPLY_TYPE_OFFSET_DATA);
            nbd_put64(rep + 8, fs->how == BAD_COOKIE ? cookie + 1 : cookie);
            nbd_put32(rep + 16, fs->how == HUGE_CHUNK ? 0x7fffffff :
                      8 + len);
            nbd_put64(rep + 20, fs->how == CHUNK_OUTSIDE ? from + 512 :
                      from);
            test_xio(false, fd, rep, 28);
            if (fs->how == CUT_OFF) {
                g_autofree uint8_t *half = g_malloc0(len / 2);

                test_xio(false, fd, half, len / 2);
            }
            break;
        case SIMPLE_DATA_IN_STRUCTURED: {
            g_autofree uint8_t *data = g_malloc0(len);

            nbd_put32(rep, NBD_SIMPLE_REPLY_MAGIC);
            nbd_put32(rep + 4, 0);
            nbd_put64(rep + 8, cookie);
            test_xio(false, fd, rep, 16);
            test_xio(false, fd, data, len);
            break;
        }
        case TRAILING_GARBAGE: {
            /* Header, data and garbage in one write: one read takes all. */
            g_autofree uint8_t *msg = g_malloc(28 + len + 20);

            nbd_put32(msg, NBD_STRUCTURED_REPLY_MAGIC);
            nbd_put16(msg + 4, NBD_REPLY_FLAG_DONE);
            nbd_put16(msg + 6, NBD_REPLY_TYPE_OFFSET_DATA);
            nbd_put64(msg + 8, cookie);
            nbd_put32(msg + 16, 8 + len);
            nbd_put64(msg + 20, from);
            memset(msg + 28, 0x5a, len);
            memset(msg + 28 + len, 0xee, 20);
            test_xio(false, fd, msg, 28 + len + 20);
            /* Wait for the client to hang up. */
            test_xio(true, fd, buf, 1);
            break;
        }
        case OVERLAP:
            /*
             * [from + 100, +len/2) then [from + len/2, +len/2): as many
             * bytes as asked, but [from, from + 100) never written.
             */
            for (int i = 0; i < 2; i++) {
                g_autofree uint8_t *data = g_malloc(len / 2);

                memset(data, 0x5a, len / 2);
                nbd_put32(rep, NBD_STRUCTURED_REPLY_MAGIC);
                nbd_put16(rep + 4, i ? NBD_REPLY_FLAG_DONE : 0);
                nbd_put16(rep + 6, NBD_REPLY_TYPE_OFFSET_DATA);
                nbd_put64(rep + 8, cookie);
                nbd_put32(rep + 16, 8 + len / 2);
                nbd_put64(rep + 20, from + (i ? len / 2 : 100));
                test_xio(false, fd, rep, 28);
                test_xio(false, fd, data, len / 2);
            }
            break;
        case BAD_BLOCK_SIZE:
            break;
        }
    }
out:
    close(fd);
    return NULL;
}

static void fake_server_start(FakeServer *fs, const char *path,
                              Misbehaviour how)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    fs->how = how;
    fs->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    g_assert_cmpint(fs->listen_fd, >=, 0);
    pstrcpy(sa.sun_path, sizeof(sa.sun_path), path);
    g_assert_cmpint(bind(fs->listen_fd, (struct sockaddr *)&sa,
                         sizeof(sa)), ==, 0);
    g_assert_cmpint(listen(fs->listen_fd, 1), ==, 0);
    fs->thread = g_thread_new("fake-nbd", fake_server_thread, fs);
}

static void fake_server_stop(FakeServer *fs, const char *path)
{
    g_thread_join(fs->thread);
    close(fs->listen_fd);
    unlink(path);
}

static void test_hostile(gconstpointer opaque)
{
    Misbehaviour how = GPOINTER_TO_INT(opaque);
    g_autofree char *dir = g_dir_make_tmp("test-nbd-client.XXXXXX", NULL);
    g_autofree char *sock = g_build_filename(dir, "sock", NULL);
    g_autofree char *uri = g_strdup_printf("nbd+unix:///?socket=%s", sock);
    g_autofree uint8_t *buf = g_malloc(4096);
    Error *err = NULL;
    FakeServer fs;
    BlockBackend *blk;

    fake_server_start(&fs, sock, how);
    blk = blk_new_open(uri, NULL, NULL, 0, &err);
    if (how == BAD_BLOCK_SIZE) {
        g_assert_null(blk);
        g_assert_nonnull(strstr(error_get_pretty(err), "block size"));
        error_free(err);
    } else if (how == TRAILING_GARBAGE) {
        g_assert_nonnull(blk);
        /* The reply itself is good... */
        g_assert_cmpint(blk_pread(blk, 0, 4096, buf, 0), ==, 0);
        for (int i = 0; i < 4096; i++) {
            g_assert_cmpint(buf[i], ==, 0x5a);
        }
        /* ...but the connection is not, and there is no reconnect-delay. */
        g_assert_cmpint(blk_pread(blk, 0, 4096, buf, 0), ==, -EIO);
        blk_unref(blk);
    } else {
        g_assert_nonnull(blk);
        g_assert_cmpint(blk_pread(blk, 0, 4096, buf, 0), ==, -EIO);
        /* No reconnect-delay: fails fast and stays failed. */
        g_assert_cmpint(blk_pread(blk, 0, 4096, buf, 0), ==, -EIO);
        blk_unref(blk);
    }
    fake_server_stop(&fs, sock);
    rmdir(dir);
    assert_no_coroutines();
}

static void test_open_errors(void)
{
    static const char *const bad[] = {
        "nbd://",
        "nbd://host:port/x",
        "nbd+unix:///x",
        "nbd+unix:///x?socket=",
        "nbd+unix://host/x?socket=/tmp/s",
        "nbd://h/x?socket=/tmp/s",
        "nbd:unix:",
        "nbd:hostonly",
        "nbds+unix:///x?socket=/nonexistent",
        "nbd://[::1/x",
        "nbd://h/%zz",
    };
    Error *err = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        BlockBackend *blk = blk_new_open(bad[i], NULL, NULL, 0, &err);

        g_assert_null(blk);
        g_assert_nonnull(err);
        g_test_message("%s: %s", bad[i], error_get_pretty(err));
        error_free(err);
        err = NULL;
    }
    /* Nothing listening */
    g_assert_null(blk_new_open("nbd+unix:///?socket=/nonexistent/sock",
                               NULL, NULL, 0, &err));
    g_assert_nonnull(err);
    error_free(err);
    assert_no_coroutines();
}

/* Every runtime option is in the table, with help that errors carry. */
static void test_options(void)
{
    static const char *const names[] = {
        "server.type", "server.host", "server.port", "server.path",
        "export", "tls-creds", "tls-hostname", "tls-required",
        "reconnect-delay", "open-timeout", "multi-conn", "path", "host",
        "port",
    };
    static const struct {
        const char *params;
        const char *option;
    } bad[] = {
        { "server.type=unix,server.path=/s,multi-conn=17", "multi-conn" },
        { "server.type=unix,server.path=/s,multi-conn=0", "multi-conn" },
        { "server.type=unix,server.path=/s,reconnect-delay=3601",
          "reconnect-delay" },
        { "server.type=unix,server.path=/s,open-timeout=x", "open-timeout" },
        { "server.type=unix,server.path=/s,tls-required=maybe",
          "tls-required" },
        { "server.type=unix,server.path=/s,tls-required=on", "tls-creds" },
        { "server.type=unix,server.path=/s,tls-hostname=h",
          "tls-hostname" },
    };
    g_autofree char *help = nbd_options_help();
    g_autofree char *long_name = g_strnfill(NBD_MAX_STRING_SIZE + 1, 'x');
    g_autoptr(KeyVal) kv = NULL;
    g_autoptr(SocketAddress) addr = NULL;
    NBDDriverOptions opts;
    Error *err = NULL;
    size_t n = 0;

    for (const NBDOptionDesc *d = nbd_option_descs; d->name; d++) {
        g_assert_nonnull(d->help);
        g_assert_cmpuint(strlen(d->help), >, 10);
        g_assert_nonnull(strstr(help, d->name));
        g_assert_nonnull(strstr(help, d->help));
        n++;
    }
    g_assert_cmpuint(n, ==, G_N_ELEMENTS(names));
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        g_assert_nonnull(nbd_option_find(names[i]));
    }

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        const NBDOptionDesc *d = nbd_option_find(bad[i].option);
        g_autoptr(KeyVal) bkv = keyval_parse(bad[i].params, NULL,
                                             &error_abort);

        g_assert_false(nbd_options_parse(bkv, &opts, &err));
        g_test_message("%s: %s", bad[i].params, error_get_pretty(err));
        g_assert_nonnull(strstr(error_get_pretty(err), bad[i].option));
        g_assert_nonnull(strstr(error_get_pretty(err), d->help));
        error_free(err);
        err = NULL;
    }

    kv = keyval_new();
    g_assert_true(keyval_add(kv, "server.type", "unix", &error_abort));
    g_assert_true(keyval_add(kv, "export", long_name, &error_abort));
    g_assert_false(nbd_options_parse(kv, &opts, &err));
    g_assert_nonnull(strstr(error_get_pretty(err),
                            nbd_option_find("export")->help));
    error_free(err);
    err = NULL;
    keyval_free(kv);

    /* Defaults, and the old flat spelling */
    kv = keyval_parse("host=example.org,port=1234", NULL, &error_abort);
    g_assert_true(nbd_options_parse(kv, &opts, &error_abort));
    g_assert_cmpuint(opts.multi_conn, ==, 1);
    g_assert_cmpuint(opts.reconnect_delay, ==, 0);
    g_assert_false(opts.tls_required);
    addr = nbd_options_address(&opts, &error_abort);
    g_assert_cmpint(addr->type, ==, SOCKET_ADDRESS_TYPE_INET);
    g_assert_cmpstr(addr->u.inet.host, ==, "example.org");
    g_assert_cmpstr(addr->u.inet.port, ==, "1234");

    /* An address that is not one */
    keyval_free(kv);
    kv = keyval_parse("server.type=inet,server.path=/s", NULL,
                      &error_abort);
    g_assert_true(nbd_options_parse(kv, &opts, &error_abort));
    g_assert_null(nbd_options_address(&opts, &err));
    g_assert_nonnull(strstr(error_get_pretty(err),
                            nbd_option_find("server.host")->help));
    error_free(err);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    signal(SIGPIPE, SIG_IGN);

    g_test_add_func("/nbd/client/basic", test_basic);
    g_test_add_func("/nbd/client/own-export-nested-poll", test_own_export);
    g_test_add_func("/nbd/client/two-iothreads", test_two_iothreads);
    g_test_add_func("/nbd/client/multi-conn", test_multi_conn);
    g_test_add_func("/nbd/client/reconnect", test_reconnect);
    g_test_add_func("/nbd/client/open-errors", test_open_errors);
    g_test_add_func("/nbd/client/options", test_options);
    g_test_add_data_func("/nbd/client/hostile/bad-magic",
                         GINT_TO_POINTER(BAD_MAGIC), test_hostile);
    g_test_add_data_func("/nbd/client/hostile/bad-cookie",
                         GINT_TO_POINTER(BAD_COOKIE), test_hostile);
    g_test_add_data_func("/nbd/client/hostile/chunk-outside",
                         GINT_TO_POINTER(CHUNK_OUTSIDE), test_hostile);
    g_test_add_data_func("/nbd/client/hostile/cut-off",
                         GINT_TO_POINTER(CUT_OFF), test_hostile);
    g_test_add_data_func("/nbd/client/hostile/huge-chunk",
                         GINT_TO_POINTER(HUGE_CHUNK), test_hostile);
    g_test_add_data_func("/nbd/client/hostile/bad-block-size",
                         GINT_TO_POINTER(BAD_BLOCK_SIZE), test_hostile);
    g_test_add_data_func("/nbd/client/hostile/simple-data-structured",
                         GINT_TO_POINTER(SIMPLE_DATA_IN_STRUCTURED),
                         test_hostile);
    g_test_add_data_func("/nbd/client/hostile/trailing-garbage",
                         GINT_TO_POINTER(TRAILING_GARBAGE), test_hostile);
    g_test_add_data_func("/nbd/client/hostile/overlapping-chunks",
                         GINT_TO_POINTER(OVERLAP), test_hostile);
    return g_test_run();
}
