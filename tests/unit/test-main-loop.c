/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Main loop tests: the main context and the iohandler context inside
 * GLib's main loop, and the rule that a nested aio_poll() of the main
 * context never runs iohandler handlers. Run once per fd monitor (the
 * "-io_uring" and "-epoll" variants; see test_fdmon_init()).
 */
#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

typedef struct ReadData {
    int fds[2];
    GString *got;
    int calls;
} ReadData;

static void read_cb(void *opaque)
{
    ReadData *rd = opaque;
    char buf[32];
    ssize_t n = read(rd->fds[0], buf, sizeof(buf));

    rd->calls++;
    if (n > 0) {
        g_string_append_len(rd->got, buf, n);
    }
}

static void test_iohandler_not_nested(void)
{
    ReadData rd = { .got = g_string_new("") };
    int i;

    g_assert_cmpint(pipe2(rd.fds, O_NONBLOCK), ==, 0);
    qemu_set_fd_handler(rd.fds[0], read_cb, NULL, &rd);
    g_assert_cmpint(write(rd.fds[1], "io", 2), ==, 2);

    /* Nested event loop of the main context: the handler must not run. */
    for (i = 0; i < 10; i++) {
        aio_poll(qemu_get_aio_context(), false);
    }
    g_assert_cmpint(rd.calls, ==, 0);

    /* The main loop itself runs it. */
    for (i = 0; i < 100 && rd.got->len < 2; i++) {
        main_loop_wait(false);
    }
    g_assert_cmpstr(rd.got->str, ==, "io");
    qemu_set_fd_handler(rd.fds[0], NULL, NULL, NULL);
    close(rd.fds[0]);
    close(rd.fds[1]);
    g_string_free(rd.got, TRUE);
    assert_ctx_clean(iohandler_get_aio_context());
}

static void test_main_ctx_both_ways(void)
{
    AioContext *ctx = qemu_get_aio_context();
    ReadData rd = { .got = g_string_new("") };
    int i;

    g_assert_cmpint(pipe2(rd.fds, O_NONBLOCK), ==, 0);
    aio_set_fd_handler(ctx, rd.fds[0], read_cb, NULL, NULL, NULL, &rd);
    g_assert_cmpint(write(rd.fds[1], "a", 1), ==, 1);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(rd.got->str, ==, "a");
    g_assert_cmpint(write(rd.fds[1], "b", 1), ==, 1);
    for (i = 0; i < 100 && rd.got->len < 2; i++) {
        main_loop_wait(false);
    }
    g_assert_cmpstr(rd.got->str, ==, "ab");
    aio_set_fd_handler(ctx, rd.fds[0], NULL, NULL, NULL, NULL, NULL);
    close(rd.fds[0]);
    close(rd.fds[1]);
    g_string_free(rd.got, TRUE);
    assert_ctx_clean(ctx);
}

static void flag_cb(void *opaque)
{
    qatomic_set((bool *)opaque, true);
}

static void *schedule_later(void *opaque)
{
    g_usleep(30 * 1000);
    aio_bh_schedule_oneshot(qemu_get_aio_context(), flag_cb, opaque);
    return NULL;
}

/* A BH from another thread wakes a blocking main_loop_wait(). */
static void test_bh_wakes_main_loop(void)
{
    bool ran = false;
    QemuThread thread;
    int i;

    qemu_thread_create(&thread, "bh", schedule_later, &ran,
                       QEMU_THREAD_JOINABLE);
    for (i = 0; i < 100 && !qatomic_read(&ran); i++) {
        main_loop_wait(false);
    }
    qemu_thread_join(&thread);
    g_assert_true(ran);
    assert_ctx_clean(qemu_get_aio_context());
}

static void test_timer_in_main_loop(void)
{
    bool fired = false;
    QEMUTimer *t = aio_timer_new(qemu_get_aio_context(), QEMU_CLOCK_REALTIME,
                                 SCALE_MS, flag_cb, &fired);
    int64_t due = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + 20;
    int i;

    timer_mod(t, due);
    for (i = 0; i < 100 && !fired; i++) {
        main_loop_wait(false);
    }
    g_assert_true(fired);
    g_assert_cmpint(qemu_clock_get_ms(QEMU_CLOCK_REALTIME), >=, due);
    timer_free(t);
}

static gboolean glib_timeout_cb(gpointer opaque)
{
    *(int *)opaque += 1;
    return G_SOURCE_REMOVE;
}

/* Plain GLib sources share the loop with the AioContexts. */
static void test_glib_sources(void)
{
    int fired = 0;
    bool bh_ran = false;
    int i;

    g_timeout_add(10, glib_timeout_cb, &fired);
    aio_bh_schedule_oneshot(qemu_get_aio_context(), flag_cb, &bh_ran);
    for (i = 0; i < 100 && (!fired || !bh_ran); i++) {
        main_loop_wait(false);
    }
    g_assert_cmpint(fired, ==, 1);
    g_assert_true(bh_ran);
}

static void coroutine_fn in_main_ctx(void *opaque)
{
    AioContext **seen = opaque;

    *seen = qemu_get_current_aio_context();
}

static void test_main_thread_context(void)
{
    AioContext *seen = NULL;

    g_assert_true(qemu_in_main_thread());
    g_assert_true(qemu_get_current_aio_context() == qemu_get_aio_context());
    qemu_coroutine_enter(qemu_coroutine_create(in_main_ctx, &seen));
    g_assert_true(seen == qemu_get_aio_context());
    g_assert_true(iohandler_get_aio_context() != qemu_get_aio_context());
    /* A second init is harmless. */
    g_assert_cmpint(qemu_init_main_loop(&error_abort), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_fdmon_init();
    qemu_init_main_loop(&error_abort);

    g_test_add_func("/main-loop/fdmon", test_fdmon_all_contexts);
    g_test_add_func("/main-loop/main-thread-context",
                    test_main_thread_context);
    g_test_add_func("/main-loop/iohandler-not-nested",
                    test_iohandler_not_nested);
    g_test_add_func("/main-loop/main-ctx-both-ways", test_main_ctx_both_ways);
    g_test_add_func("/main-loop/bh-wakes-main-loop",
                    test_bh_wakes_main_loop);
    g_test_add_func("/main-loop/timer", test_timer_in_main_loop);
    g_test_add_func("/main-loop/glib-sources", test_glib_sources);
    return g_test_run();
}
