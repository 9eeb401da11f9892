/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Thread pool tests: work runs on a worker thread, and the submitter
 * resumes in its own context with the result.
 */
#include "qemu/osdep.h"
#include "block/thread-pool.h"
#include "sysemu/iothread.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

typedef struct Work {
    int input;
    int worker_tid;
} Work;

static int square(void *opaque)
{
    Work *w = opaque;

    w->worker_tid = qemu_get_thread_id();
    g_usleep(1000);
    return w->input * w->input;
}

typedef struct Submitter {
    int index;
    int result;
    Work work;
    AioContext *ctx_before;
    AioContext *ctx_after;
    int tid_before;
    int tid_after;
    int *remaining;             /* atomic */
    bool *done;                 /* atomic */
} Submitter;

static void coroutine_fn submitter(void *opaque)
{
    Submitter *s = opaque;

    s->ctx_before = qemu_get_current_aio_context();
    s->tid_before = qemu_get_thread_id();
    s->work.input = s->index + 3;
    s->result = thread_pool_submit_co(square, &s->work);
    s->ctx_after = qemu_get_current_aio_context();
    s->tid_after = qemu_get_thread_id();
    if (qatomic_fetch_dec(s->remaining) == 1) {
        qatomic_store_release(s->done, true);
    }
}

static void run_submitters(AioContext *ctx, bool in_iothread)
{
    enum { N = 32 };
    Submitter s[N];
    int remaining = N;
    bool done = false;
    int i;

    for (i = 0; i < N; i++) {
        s[i] = (Submitter){ .index = i, .remaining = &remaining,
                            .done = &done };
        aio_co_enter(ctx, qemu_coroutine_create(submitter, &s[i]));
    }
    if (in_iothread) {
        g_assert_true(poll_until(qemu_get_aio_context(), &done, 30));
    } else {
        while (!qatomic_load_acquire(&done)) {
            aio_poll(ctx, true);
        }
    }
    for (i = 0; i < N; i++) {
        g_assert_cmpint(s[i].result, ==, (i + 3) * (i + 3));
        g_assert_true(s[i].ctx_before == ctx);
        g_assert_true(s[i].ctx_after == ctx);
        g_assert_cmpint(s[i].tid_before, ==, s[i].tid_after);
        g_assert_cmpint(s[i].work.worker_tid, !=, s[i].tid_before);
    }
    assert_no_coroutines();
}

static void test_submit_co_main(void)
{
    run_submitters(qemu_get_aio_context(), false);
}

static void test_submit_co_iothread(void)
{
    IOThread *iothread = iothread_create("pool", &error_abort);

    run_submitters(iothread_get_aio_context(iothread), true);
    iothread_destroy(iothread);
}

typedef struct AioDone {
    int ret;
    int tid;
    bool done;
} AioDone;

static void aio_done_cb(void *opaque, int ret)
{
    AioDone *d = opaque;

    d->ret = ret;
    d->tid = qemu_get_thread_id();
    d->done = true;
}

static void test_submit_aio(void)
{
    Work w = { .input = 12 };
    AioDone d = { 0 };

    thread_pool_submit_aio(square, &w, aio_done_cb, &d);
    while (!d.done) {
        aio_poll(qemu_get_aio_context(), true);
    }
    g_assert_cmpint(d.ret, ==, 144);
    g_assert_cmpint(d.tid, ==, qemu_get_thread_id());
    g_assert_cmpint(w.worker_tid, !=, d.tid);
    assert_ctx_clean(qemu_get_aio_context());
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);

    g_test_add_func("/thread-pool/submit-co/main", test_submit_co_main);
    g_test_add_func("/thread-pool/submit-co/iothread",
                    test_submit_co_iothread);
    g_test_add_func("/thread-pool/submit-aio", test_submit_aio);
    return g_test_run();
}
