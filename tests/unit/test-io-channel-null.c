/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Null channel tests: reads give end of file, writes report every byte,
 * both fail once closed, and watches are ready at once.
 */
#include "qemu/osdep.h"
#include "io/channel-null.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

static void test_read_write(void)
{
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();
    QIOChannel *ioc = QIO_CHANNEL(nioc);
    char buf[64];
    char big[3][1000];
    struct iovec iov[3] = {
        { big[0], 1000 }, { big[1], 1 }, { big[2], 999 },
    };

    memset(buf, 'x', sizeof(buf));
    g_assert_cmpint(qio_channel_read(ioc, buf, sizeof(buf), &error_abort),
                    ==, 0);
    /* Nothing was touched. */
    g_assert_cmpint(buf[0], ==, 'x');
    g_assert_cmpint(buf[63], ==, 'x');
    g_assert_cmpint(qio_channel_read_all_eof(ioc, buf, sizeof(buf),
                                             &error_abort), ==, 0);
    g_assert_cmpint(qio_channel_readv(ioc, iov, 3, &error_abort), ==, 0);

    g_assert_cmpint(qio_channel_write(ioc, "hello", 5, &error_abort), ==, 5);
    g_assert_cmpint(qio_channel_writev(ioc, iov, 3, &error_abort), ==, 2000);
    g_assert_cmpint(qio_channel_write_all(ioc, buf, sizeof(buf),
                                          &error_abort), ==, 0);
    g_assert_cmpint(qio_channel_writev_all(ioc, iov, 3, &error_abort), ==,
                    0);
    g_assert_cmpint(qio_channel_set_blocking(ioc, false, &error_abort), ==,
                    0);
    g_assert_cmpint(qio_channel_write(ioc, "x", 1, &error_abort), ==, 1);
}

static void test_closed(void)
{
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();
    QIOChannel *ioc = QIO_CHANNEL(nioc);
    Error *err = NULL;
    char buf[4];

    g_assert_false(nioc->closed);
    g_assert_cmpint(qio_channel_close(ioc, &error_abort), ==, 0);
    g_assert_true(nioc->closed);

    g_assert_cmpint(qio_channel_read(ioc, buf, sizeof(buf), &err), ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==, "Channel is closed");
    error_free(err);
    err = NULL;

    g_assert_cmpint(qio_channel_write(ioc, "abcd", 4, &err), ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==, "Channel is closed");
    error_free(err);
    err = NULL;

    /* The _all helpers pass the error on. */
    g_assert_cmpint(qio_channel_write_all(ioc, "abcd", 4, &err), ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==, "Channel is closed");
    error_free(err);
    err = NULL;
    g_assert_cmpint(qio_channel_read_all_eof(ioc, buf, 4, &err), ==, -1);
    g_assert_cmpstr(error_get_pretty(err), ==, "Channel is closed");
    error_free(err);

    /* Closing again is fine. */
    g_assert_cmpint(qio_channel_close(ioc, &error_abort), ==, 0);
}

static gboolean watch_fired(QIOChannel *ioc, GIOCondition cond,
                            gpointer opaque)
{
    GIOCondition *seen = opaque;

    *seen |= cond;
    return G_SOURCE_REMOVE;
}

static void test_watch(void)
{
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();
    QIOChannel *ioc = QIO_CHANNEL(nioc);
    GMainContext *gctx = g_main_context_new();
    GIOCondition seen = 0;

    /* One non-blocking iteration is enough: it is ready at once. */
    qio_channel_add_watch_full(ioc, G_IO_IN, watch_fired, &seen, NULL,
                               gctx);
    g_assert_true(g_main_context_iteration(gctx, FALSE));
    g_assert_cmpint(seen, ==, G_IO_IN);

    seen = 0;
    qio_channel_add_watch_full(ioc, G_IO_IN | G_IO_OUT, watch_fired, &seen,
                               NULL, gctx);
    g_assert_true(g_main_context_iteration(gctx, FALSE));
    g_assert_cmpint(seen, ==, G_IO_IN | G_IO_OUT);

    /* The callbacks removed their sources: nothing is left to run. */
    g_assert_false(g_main_context_iteration(gctx, FALSE));

    /* qio_channel_wait() returns at once in both directions. */
    qio_channel_wait(ioc, G_IO_IN);
    qio_channel_wait(ioc, G_IO_OUT);
    g_main_context_unref(gctx);
}

/* A source the caller keeps holds the channel alive. */
static void test_watch_holds_ref(void)
{
    QIOChannelNull *nioc = qio_channel_null_new();
    GSource *src = qio_channel_create_watch(QIO_CHANNEL(nioc), G_IO_OUT);

    object_unref(nioc);
    g_assert_cmpuint(OBJECT(nioc)->ref, ==, 1);
    g_source_unref(src);
}

typedef struct CoData {
    QIOChannel *ioc;
    int read_ret;
    int write_ret;
    bool done;
} CoData;

static void coroutine_fn null_co(void *opaque)
{
    CoData *d = opaque;
    char buf[128] = "";

    d->read_ret = qio_channel_read_all_eof(d->ioc, buf, sizeof(buf),
                                           &error_abort);
    d->write_ret = qio_channel_write_all(d->ioc, buf, sizeof(buf),
                                         &error_abort);
    d->done = true;
}

/* In a coroutine nothing ever waits, and no fd handler is set. */
static void test_coroutine(void)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();
    CoData d = { .ioc = QIO_CHANNEL(nioc), .read_ret = -2, .write_ret = -2 };

    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(nioc), true);
    aio_co_enter(ctx, qemu_coroutine_create(null_co, &d));
    g_assert_true(d.done);
    g_assert_cmpint(d.read_ret, ==, 0);
    g_assert_cmpint(d.write_ret, ==, 0);
    assert_ctx_clean(ctx);
    assert_no_coroutines();
}

static void never_called(void *opaque)
{
    g_assert_not_reached();
}

/* With nothing to poll, setting fd handlers does nothing. */
static void test_no_fd_handlers(void)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();

    qio_channel_set_aio_fd_handler(QIO_CHANNEL(nioc), ctx, never_called,
                                   ctx, never_called, NULL);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 0);
    aio_poll(ctx, false);
    qio_channel_set_aio_fd_handler(QIO_CHANNEL(nioc), ctx, NULL, ctx, NULL,
                                   NULL);
    assert_ctx_clean(ctx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);

    g_test_add_func("/io/channel/null/read-write", test_read_write);
    g_test_add_func("/io/channel/null/closed", test_closed);
    g_test_add_func("/io/channel/null/watch", test_watch);
    g_test_add_func("/io/channel/null/watch-holds-ref",
                    test_watch_holds_ref);
    g_test_add_func("/io/channel/null/coroutine", test_coroutine);
    g_test_add_func("/io/channel/null/no-fd-handlers", test_no_fd_handlers);
    return g_test_run();
}
