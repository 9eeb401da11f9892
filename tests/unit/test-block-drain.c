/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Drain and AioContext moves: requests from coroutines in an iothread
 * while the main thread drains; new requests wait while drained;
 * BlockDevOps callbacks; a node moved between two iothreads while its
 * users do I/O, with data checked and every coroutine in its own thread.
 */
#include "qemu/osdep.h"
#include "sysemu/block-backend.h"
#include "block/block_int.h"
#include "sysemu/iothread.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

enum {
    REGION = 64 * 1024,
};

static char *tmp_dir;

static BlockBackend *open_null(const char *extra)
{
    g_autofree char *opts = g_strdup_printf("driver=null-co,size=64M%s%s",
                                            extra ? "," : "",
                                            extra ? extra : "");
    g_autoptr(KeyVal) kv = keyval_parse(opts, NULL, &error_abort);
    BlockDriverState *bs = bdrv_open_blockdev(kv, &error_abort);
    BlockBackend *blk = blk_new_with_bs(bs, true, &error_abort);

    bdrv_unref(bs);
    return blk;
}

static BlockBackend *open_file(const char *aio, char **path)
{
    g_autofree char *opts = NULL;
    g_autoptr(KeyVal) kv = NULL;
    BlockDriverState *bs;
    BlockBackend *blk;
    int fd;

    *path = g_strdup_printf("%s/drain-%s.raw", tmp_dir, aio);
    fd = open(*path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, 16 * REGION), ==, 0);
    close(fd);
    opts = g_strdup_printf("driver=raw,file.driver=file,file.filename=%s,"
                           "file.aio=%s", *path, aio);
    kv = keyval_parse(opts, NULL, &error_abort);
    bs = bdrv_open_blockdev(kv, &error_abort);
    blk = blk_new_with_bs(bs, true, &error_abort);
    bdrv_unref(bs);
    return blk;
}

/*
 * Closes @blk (moved back to the main context by the caller) and checks
 * the main context is clean. Coroutines are checked by the callers once
 * their iothreads are gone: a coroutine that just reported its end may
 * still be terminating in its thread.
 */
static void finish(BlockBackend *blk)
{
    AioContext *ctx = qemu_get_aio_context();

    blk_unref(blk);
    while (aio_poll(ctx, false)) {
        /* nothing */
    }
    assert_ctx_clean(ctx);
}

/* Requests in flight while the main thread drains */

typedef struct Load {
    BlockBackend *blk;
    bool stop;                  /* atomic */
    unsigned int running;       /* atomic: coroutines not finished */
    unsigned int completed;     /* atomic: requests done */
    unsigned int wrong_thread;  /* atomic */
    unsigned int errors;        /* atomic */
} Load;

static void coroutine_fn load_co(void *opaque)
{
    Load *l = opaque;
    uint8_t buf[4096];

    while (!qatomic_read(&l->stop)) {
        AioContext *ctx = blk_get_aio_context(l->blk);

        if (blk_co_pread(l->blk, 0, sizeof(buf), buf, 0) < 0) {
            qatomic_inc(&l->errors);
        }
        if (qemu_get_current_aio_context() != ctx ||
            !in_aio_context_home_thread(ctx)) {
            qatomic_inc(&l->wrong_thread);
        }
        qatomic_inc(&l->completed);
    }
    qatomic_dec(&l->running);
    aio_wait_kick();
}

typedef struct DevState {
    unsigned int begins;
    unsigned int ends;
} DevState;

static void dev_drained_begin(void *opaque)
{
    DevState *d = opaque;

    d->begins++;
}

static void dev_drained_end(void *opaque)
{
    DevState *d = opaque;

    d->ends++;
}

static const BlockDevOps dev_ops = {
    .drained_begin = dev_drained_begin,
    .drained_end = dev_drained_end,
};

static void start_load(Load *l, AioContext *ctx, int n)
{
    int i;

    l->running = n;
    for (i = 0; i < n; i++) {
        aio_co_enter(ctx, qemu_coroutine_create(load_co, l));
    }
}

static void stop_load(Load *l)
{
    qatomic_set(&l->stop, true);
    AIO_WAIT_WHILE(blk_get_aio_context(l->blk),
                   qatomic_load_acquire(&l->running) > 0);
}

static void test_drain_inflight(void)
{
    IOThread *iothread = iothread_create("drain0", &error_abort);
    AioContext *ctx = iothread_get_aio_context(iothread);
    g_autofree char *path = NULL;
    BlockBackend *blk = open_file("threads", &path);
    BlockDriverState *bs = blk_bs(blk);
    DevState dev = { 0 };
    Load l = { .blk = blk };
    int i;

    g_assert_cmpint(blk_set_aio_context(blk, ctx, &error_abort), ==, 0);
    g_assert_true(bdrv_get_aio_context(bs) == ctx);
    blk_set_dev_ops(blk, &dev_ops, &dev);
    start_load(&l, ctx, 8);

    for (i = 0; i < 50; i++) {
        unsigned int before;
        int k;

        bdrv_drained_begin(bs);
        g_assert_true(bdrv_is_drained(bs));
        /*
         * Nothing is in flight, and nothing starts while drained (a
         * request that returned may still count itself, once).
         */
        before = qatomic_read(&l.completed);
        for (k = 0; k < 50; k++) {
            g_assert_cmpuint(qatomic_read(&bs->in_flight), ==, 0);
            g_usleep(20);
        }
        g_assert_cmpuint(qatomic_read(&l.completed), <=, before + 8);
        bdrv_drained_end(bs);
        g_usleep(500);
    }
    g_assert_cmpuint(dev.begins, ==, 50);
    g_assert_cmpuint(dev.ends, ==, 50);
    stop_load(&l);
    g_assert_cmpuint(l.errors, ==, 0);
    g_assert_cmpuint(l.wrong_thread, ==, 0);
    g_assert_cmpuint(l.completed, >, 0);

    g_assert_cmpint(blk_set_aio_context(blk, qemu_get_aio_context(),
                                        &error_abort), ==, 0);
    finish(blk);
    iothread_destroy(iothread);
    assert_no_coroutines();
    unlink(path);
}

/* New requests wait while drained; nested sections */

typedef struct OneReq {
    BlockBackend *blk;
    int ret;
    bool done;                  /* atomic */
} OneReq;

static void coroutine_fn one_req_co(void *opaque)
{
    OneReq *r = opaque;
    uint8_t buf[512];

    memset(buf, 0x5a, sizeof(buf));
    r->ret = blk_co_pwrite(r->blk, 0, sizeof(buf), buf, 0);
    qatomic_store_release(&r->done, true);
    aio_wait_kick();
}

static void test_drain_new_requests_wait(void)
{
    IOThread *iothread = iothread_create("drain1", &error_abort);
    AioContext *ctx = iothread_get_aio_context(iothread);
    BlockBackend *blk = open_null(NULL);
    BlockDriverState *bs = blk_bs(blk);
    DevState dev = { 0 };
    OneReq r = { .blk = blk };

    blk_set_aio_context(blk, ctx, &error_abort);
    blk_set_dev_ops(blk, &dev_ops, &dev);

    bdrv_drained_begin(bs);
    bdrv_drained_begin(bs);
    g_assert_cmpuint(dev.begins, ==, 1);
    aio_co_enter(ctx, qemu_coroutine_create(one_req_co, &r));
    g_usleep(20000);
    g_assert_false(qatomic_load_acquire(&r.done));
    bdrv_drained_end(bs);
    /* Still drained: the request keeps waiting. */
    g_assert_cmpuint(dev.ends, ==, 0);
    g_usleep(20000);
    g_assert_false(qatomic_load_acquire(&r.done));
    bdrv_drained_end(bs);
    g_assert_cmpuint(dev.ends, ==, 1);
    AIO_WAIT_WHILE(ctx, !qatomic_load_acquire(&r.done));
    g_assert_cmpint(r.ret, ==, 0);

    blk_set_aio_context(blk, qemu_get_aio_context(), &error_abort);
    finish(blk);
    iothread_destroy(iothread);
    assert_no_coroutines();
}

/* Drain called from a coroutine (it hands the work to a bottom half). */

typedef struct CoDrain {
    BlockDriverState *bs;
    Load *load;
    bool ok;
    bool done;
} CoDrain;

static void coroutine_fn co_drain(void *opaque)
{
    CoDrain *c = opaque;
    int i;

    c->ok = true;
    for (i = 0; i < 20; i++) {
        unsigned int before;
        int k;

        bdrv_drained_begin(c->bs);
        before = qatomic_read(&c->load->completed);
        for (k = 0; k < 10; k++) {
            if (qatomic_read(&c->bs->in_flight) != 0) {
                c->ok = false;
            }
            /* Blocks the main thread only: the iothread keeps going. */
            g_usleep(50);
        }
        /* At most the 4 requests that had returned count themselves. */
        if (qatomic_read(&c->load->completed) > before + 4) {
            c->ok = false;
        }
        bdrv_drained_end(c->bs);
        g_usleep(200);
    }
    c->done = true;
}

static void test_drain_from_coroutine(void)
{
    IOThread *iothread = iothread_create("drain2", &error_abort);
    AioContext *ctx = iothread_get_aio_context(iothread);
    g_autofree char *path = NULL;
    BlockBackend *blk = open_file("threads", &path);
    Load l = { .blk = blk };
    CoDrain c = { .bs = blk_bs(blk), .load = &l };

    blk_set_aio_context(blk, ctx, &error_abort);
    start_load(&l, ctx, 4);
    qemu_coroutine_enter(qemu_coroutine_create(co_drain, &c));
    while (!c.done) {
        aio_poll(qemu_get_aio_context(), true);
    }
    g_assert_true(c.ok);
    stop_load(&l);
    g_assert_cmpuint(l.wrong_thread, ==, 0);
    blk_set_aio_context(blk, qemu_get_aio_context(), &error_abort);
    finish(blk);
    iothread_destroy(iothread);
    assert_no_coroutines();
    unlink(path);
}

/*
 * Moving a node between iothreads while workers write and verify. The
 * workers behave as a server does: they park when told to quiesce, and
 * are rescheduled into the node's (possibly new) context when the drain
 * ends.
 */

enum {
    WORKERS = 6,
};

typedef struct Mover Mover;

typedef struct Worker {
    Mover *m;
    int index;
    Coroutine *co;
    bool parked;                /* atomic */
    unsigned int seq;
} Worker;

struct Mover {
    BlockBackend *blk;
    Worker w[WORKERS];
    bool quiescing;             /* atomic */
    bool stop;                  /* atomic */
    unsigned int running;       /* atomic */
    unsigned int parked;        /* atomic */
    unsigned int wrong_thread;  /* atomic */
    unsigned int bad_data;      /* atomic */
    unsigned int io_errors;     /* atomic */
    unsigned int requests;      /* atomic */
    unsigned int attached;      /* main thread */
    unsigned int detached;      /* main thread */
    AioContext *notified_ctx;   /* main thread */
};

static void check_thread(Mover *m)
{
    AioContext *ctx = blk_get_aio_context(m->blk);

    if (qemu_get_current_aio_context() != ctx ||
        !in_aio_context_home_thread(ctx)) {
        qatomic_inc(&m->wrong_thread);
    }
}

static void coroutine_fn worker_co(void *opaque)
{
    Worker *w = opaque;
    Mover *m = w->m;
    /* Unaligned regions that share 4k blocks with their neighbours. */
    int64_t offset = (int64_t)w->index * (REGION + 777) + 100;
    g_autofree uint8_t *wbuf = g_malloc(REGION);
    g_autofree uint8_t *rbuf = g_malloc(REGION);

    while (!qatomic_read(&m->stop)) {
        size_t i;

        if (qatomic_read(&m->quiescing)) {
            qatomic_set(&w->parked, true);
            qatomic_inc(&m->parked);
            aio_wait_kick();
            qemu_coroutine_yield();
            check_thread(m);
            continue;
        }
        check_thread(m);
        w->seq++;
        for (i = 0; i < REGION; i++) {
            wbuf[i] = (uint8_t)(w->index * 37 + w->seq * 11 + i);
        }
        if (blk_co_pwrite(m->blk, offset, REGION, wbuf, 0) < 0 ||
            blk_co_pread(m->blk, offset, REGION, rbuf, 0) < 0) {
            qatomic_inc(&m->io_errors);
        } else if (memcmp(wbuf, rbuf, REGION)) {
            qatomic_inc(&m->bad_data);
        }
        check_thread(m);
        qatomic_inc(&m->requests);
    }
    qatomic_dec(&m->running);
    aio_wait_kick();
}

static void mover_drained_begin(void *opaque)
{
    Mover *m = opaque;

    qatomic_set(&m->quiescing, true);
}

static bool mover_drained_poll(void *opaque)
{
    Mover *m = opaque;

    /* Busy until every live worker is parked. */
    return qatomic_read(&m->parked) < qatomic_read(&m->running);
}

static void mover_drained_end(void *opaque)
{
    Mover *m = opaque;
    AioContext *ctx = blk_get_aio_context(m->blk);
    int i;

    qatomic_set(&m->quiescing, false);
    for (i = 0; i < WORKERS; i++) {
        Worker *w = &m->w[i];

        if (qatomic_read(&w->parked)) {
            qatomic_set(&w->parked, false);
            qatomic_dec(&m->parked);
            aio_co_schedule(ctx, w->co);
        }
    }
}

static const BlockDevOps mover_ops = {
    .drained_begin = mover_drained_begin,
    .drained_end = mover_drained_end,
    .drained_poll = mover_drained_poll,
};

static void mover_attached(AioContext *new_ctx, void *opaque)
{
    Mover *m = opaque;

    m->attached++;
    m->notified_ctx = new_ctx;
}

static void mover_detach(void *opaque)
{
    Mover *m = opaque;

    /* Everybody is parked while the node is drained. */
    g_assert_cmpuint(qatomic_read(&m->parked), ==,
                     qatomic_read(&m->running));
    m->detached++;
}

static void test_move_between_iothreads(gconstpointer opaque)
{
    const char *aio = opaque;
    IOThread *t1 = iothread_create("move1", &error_abort);
    IOThread *t2 = iothread_create("move2", &error_abort);
    AioContext *ctx1 = iothread_get_aio_context(t1);
    AioContext *ctx2 = iothread_get_aio_context(t2);
    g_autofree char *path = NULL;
    Mover *m = g_new0(Mover, 1);
    BlockBackend *blk = open_file(aio, &path);
    unsigned int last_requests = 0;
    int i;

    /* aio=io_uring keeps one completion handler in the context. */
    g_assert_cmpuint(aio_context_handler_count(qemu_get_aio_context()), ==,
                     strcmp(aio, "io_uring") ? 0 : 1);
    m->blk = blk;
    /* Like an NBD server: requests made while drained go ahead. */
    blk_set_disable_request_queuing(blk, true);
    blk_set_dev_ops(blk, &mover_ops, m);
    blk_add_aio_context_notifier(blk, mover_attached, mover_detach, m);
    blk_set_aio_context(blk, ctx1, &error_abort);
    g_assert_cmpuint(m->attached, ==, 1);
    g_assert_true(m->notified_ctx == ctx1);

    m->running = WORKERS;
    for (i = 0; i < WORKERS; i++) {
        m->w[i] = (Worker) { .m = m, .index = i };
        m->w[i].co = qemu_coroutine_create(worker_co, &m->w[i]);
        aio_co_enter(ctx1, m->w[i].co);
    }

    for (i = 0; i < 40; i++) {
        AioContext *target = i % 2 ? ctx1 : ctx2;

        g_assert_cmpint(bdrv_try_change_aio_context(blk_bs(blk), target,
                                                    &error_abort), ==, 0);
        g_assert_true(blk_get_aio_context(blk) == target);
        g_assert_true(bdrv_get_aio_context(bdrv_get_file(blk_bs(blk))) ==
                      target);
        g_assert_true(m->notified_ctx == target);
        /* Let the workers make progress in the new context. */
        while (qatomic_read(&m->requests) < last_requests + WORKERS) {
            g_usleep(200);
        }
        last_requests = qatomic_read(&m->requests);
    }
    qatomic_set(&m->stop, true);
    /* Parked workers must see the stop: a drain cycle wakes them. */
    blk_drain(blk);
    AIO_WAIT_WHILE(blk_get_aio_context(blk),
                   qatomic_load_acquire(&m->running) > 0);

    g_assert_cmpuint(m->wrong_thread, ==, 0);
    g_assert_cmpuint(m->bad_data, ==, 0);
    g_assert_cmpuint(m->io_errors, ==, 0);
    g_assert_cmpuint(m->detached, ==, 41);
    g_assert_cmpuint(m->attached, ==, 41);

    /* Final contents: every worker's last pattern. */
    for (i = 0; i < WORKERS; i++) {
        g_autofree uint8_t *buf = g_malloc(REGION);
        int64_t offset = (int64_t)i * (REGION + 777) + 100;
        size_t j;

        g_assert_cmpint(blk_pread(blk, offset, REGION, buf, 0), ==, 0);
        for (j = 0; j < REGION; j++) {
            if (buf[j] != (uint8_t)(i * 37 + m->w[i].seq * 11 + j)) {
                g_assert_cmpuint(buf[j], ==,
                                 (uint8_t)(i * 37 + m->w[i].seq * 11 + j));
            }
        }
    }

    blk_set_aio_context(blk, qemu_get_aio_context(), &error_abort);
    blk_remove_aio_context_notifier(blk, mover_attached, mover_detach, m);
    finish(blk);
    iothread_destroy(t1);
    iothread_destroy(t2);
    assert_no_coroutines();
    unlink(path);
    g_free(m);
}

/* A BlockBackend that may not move blocks moves started elsewhere. */
static void test_move_refused(void)
{
    IOThread *iothread = iothread_create("move3", &error_abort);
    AioContext *ctx = iothread_get_aio_context(iothread);
    BlockBackend *blk = open_null(NULL);
    BlockBackend *pinned = blk_new_with_bs(blk_bs(blk), false, &error_abort);
    Error *err = NULL;

    blk_set_allow_aio_context_change(pinned, false);
    g_assert_cmpint(blk_set_aio_context(blk, ctx, &err), <, 0);
    g_assert_nonnull(strstr(error_get_pretty(err), "Cannot change iothread"));
    error_free(err);
    g_assert_true(blk_get_aio_context(blk) == qemu_get_aio_context());
    /* It may move itself, taking the others along. */
    g_assert_cmpint(blk_set_aio_context(pinned, ctx, &error_abort), ==, 0);
    g_assert_true(blk_get_aio_context(blk) == ctx);
    g_assert_cmpint(blk_set_aio_context(pinned, qemu_get_aio_context(),
                                        &error_abort), ==, 0);
    blk_unref(pinned);
    finish(blk);
    iothread_destroy(iothread);
    assert_no_coroutines();
}

/*
 * aio=io_uring, skipped with the reason where the kernel refuses io_uring
 * (the driver would fall back to the thread pool, tested already).
 */
static void test_move_between_iothreads_uring(gconstpointer opaque)
{
    const char *refusal = test_io_uring_refusal();

    if (refusal) {
        g_test_skip(refusal);
        return;
    }
    test_move_between_iothreads(opaque);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    tmp_dir = g_dir_make_tmp("test-block-drain-XXXXXX", NULL);
    g_assert_nonnull(tmp_dir);

    g_test_add_func("/block/drain/in-flight", test_drain_inflight);
    g_test_add_func("/block/drain/new-requests-wait",
                    test_drain_new_requests_wait);
    g_test_add_func("/block/drain/from-coroutine", test_drain_from_coroutine);
    g_test_add_data_func("/block/drain/move-iothreads/threads", "threads",
                         test_move_between_iothreads);
    g_test_add_data_func("/block/drain/move-iothreads/io_uring", "io_uring",
                         test_move_between_iothreads_uring);
    g_test_add_func("/block/drain/move-refused", test_move_refused);

    ret = g_test_run();
    rmdir(tmp_dir);
    g_free(tmp_dir);
    return ret;
}
