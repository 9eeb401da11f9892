/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IOThread tests: create/destroy, --object iothread, coroutines moved into
 * and out of iothreads, and destroy with coroutines still parked.
 */
#include "qemu/osdep.h"
#include "sysemu/iothread.h"
#include "qemu/main-loop.h"
#include "qom/object_interfaces.h"
#include "qapi/error.h"
#include "test-util.h"

typedef struct Where {
    AioContext *ctx;
    int thread_id;
    bool done;
} Where;

static void coroutine_fn record_where(void *opaque)
{
    Where *w = opaque;

    w->ctx = qemu_get_current_aio_context();
    w->thread_id = qemu_get_thread_id();
    qatomic_store_release(&w->done, true);
}

static void test_create_destroy(void)
{
    IOThread *iothread = iothread_create("t0", &error_abort);
    AioContext *ctx = iothread_get_aio_context(iothread);
    Where w = { 0 };
    g_autofree char *id = iothread_get_id(iothread);

    g_assert_nonnull(ctx);
    g_assert_cmpstr(id, ==, "t0");
    g_assert_false(in_aio_context_home_thread(ctx));
    aio_co_enter(ctx, qemu_coroutine_create(record_where, &w));
    g_assert_true(poll_until(qemu_get_aio_context(), &w.done, 10));
    g_assert_true(w.ctx == ctx);
    g_assert_cmpint(w.thread_id, ==, iothread_get_thread_id(iothread));
    g_assert_cmpint(w.thread_id, !=, qemu_get_thread_id());
    iothread_destroy(iothread);
    assert_no_coroutines();
}

static void coroutine_fn park(void *opaque)
{
    qatomic_inc((int *)opaque);
    qemu_coroutine_yield();
    /* Resumed elsewhere after its iothread is gone. */
    qatomic_inc((int *)opaque);
}

static void test_destroy_with_parked(void)
{
    IOThread *iothread = iothread_create("parked", &error_abort);
    AioContext *ctx = iothread_get_aio_context(iothread);
    Coroutine *co[5];
    int parked = 0;
    int i;

    for (i = 0; i < 5; i++) {
        co[i] = qemu_coroutine_create(park, &parked);
        aio_co_enter(ctx, co[i]);
    }
    while (qatomic_read(&parked) < 5) {
        g_usleep(1000);
    }
    /* Joins cleanly; the parked coroutines are not resumed by it. */
    iothread_destroy(iothread);
    g_assert_cmpint(qatomic_read(&parked), ==, 5);
    g_assert_cmpuint(qemu_coroutine_live_count(), ==, 5);

    /* They are intact: the main context can take them over and finish. */
    for (i = 0; i < 5; i++) {
        qemu_aio_coroutine_enter(qemu_get_aio_context(), co[i]);
    }
    g_assert_cmpint(parked, ==, 10);
    assert_no_coroutines();
}

static void coroutine_fn hop(void *opaque)
{
    AioContext **ctxs = opaque;
    Where *w = (Where *)ctxs[2];

    aio_co_reschedule_self(ctxs[0]);
    g_assert_true(qemu_get_current_aio_context() == ctxs[0]);
    aio_co_reschedule_self(ctxs[1]);
    g_assert_true(qemu_get_current_aio_context() == ctxs[1]);
    aio_co_reschedule_self(qemu_get_aio_context());
    record_where(w);
}

static void test_reschedule_self(void)
{
    IOThread *a = iothread_create("a", &error_abort);
    IOThread *b = iothread_create("b", &error_abort);
    Where w = { 0 };
    void *ctxs[3] = { iothread_get_aio_context(a),
                      iothread_get_aio_context(b), &w };

    qemu_coroutine_enter(qemu_coroutine_create(hop, ctxs));
    g_assert_true(poll_until(qemu_get_aio_context(), &w.done, 10));
    g_assert_true(w.ctx == qemu_get_aio_context());
    g_assert_cmpint(w.thread_id, ==, qemu_get_thread_id());
    iothread_destroy(a);
    iothread_destroy(b);
    assert_no_coroutines();
}

static void test_object_cmdline(void)
{
    Error *err = NULL;
    IOThread *iothread;
    Where w = { 0 };

    g_assert_true(user_creatable_add_from_str("iothread,id=io1,"
                                              "poll-max-ns=1000", &err));
    g_assert_null(err);
    iothread = iothread_by_id("io1");
    g_assert_nonnull(iothread);
    g_assert_cmpint(iothread->poll_max_ns, ==, 1000);
    aio_co_enter(iothread_get_aio_context(iothread),
                 qemu_coroutine_create(record_where, &w));
    g_assert_true(poll_until(qemu_get_aio_context(), &w.done, 10));
    g_assert_true(w.ctx == iothread_get_aio_context(iothread));

    /* Bad values are refused with a message naming the property. */
    g_assert_false(user_creatable_add_from_str("iothread,id=io2,"
                                               "poll-max-ns=-5", &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), "poll-max-ns"));
    error_free(err);
    err = NULL;
    g_assert_null(iothread_by_id("io2"));

    g_assert_true(user_creatable_del("io1", &error_abort));
    g_assert_null(iothread_by_id("io1"));
    assert_no_coroutines();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);

    g_test_add_func("/iothread/create-destroy", test_create_destroy);
    g_test_add_func("/iothread/reschedule-self", test_reschedule_self);
    g_test_add_func("/iothread/object-cmdline", test_object_cmdline);
    g_test_add_func("/iothread/destroy-with-parked",
                    test_destroy_with_parked);
    return g_test_run();
}
