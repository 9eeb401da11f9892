/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Command channel tests: data through `cat` from coroutines and from
 * threads, read-only and write-only commands, exit statuses and signals
 * reported by close, programs that cannot start, and children that do
 * not exit.
 */
#include "qemu/osdep.h"
#include "io/channel-command.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

#include <sys/wait.h>

#define ECHO_SIZE (4 * 1024 * 1024)

static uint8_t pattern_byte(uint64_t offset)
{
    return (uint8_t)((offset * 2246822519u) >> 11) ^ (uint8_t)(offset / 253);
}

static void fill_pattern(uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = pattern_byte(i);
    }
}

static void check_pattern(const uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (buf[i] != pattern_byte(i)) {
            g_error("data differ at offset %zu: got 0x%02x, expected 0x%02x",
                    i, buf[i], pattern_byte(i));
        }
    }
}

/*
 * Asserts that *@errp is set and that its message contains each string
 * of the NULL-terminated list; frees it and clears *@errp.
 */
static void check_error_has(Error **errp, ...)
{
    Error *err = *errp;
    const char *needle;
    va_list ap;

    g_assert_nonnull(err);
    va_start(ap, errp);
    while ((needle = va_arg(ap, const char *))) {
        if (!strstr(error_get_pretty(err), needle)) {
            g_error("error '%s' lacks '%s'", error_get_pretty(err), needle);
        }
    }
    va_end(ap);
    error_free(err);
    *errp = NULL;
}

static QIOChannelCommand *spawn(int flags, const char *arg0, ...)
{
    const char *argv[16];
    va_list ap;
    int n = 0;

    argv[n++] = arg0;
    va_start(ap, arg0);
    while ((argv[n] = va_arg(ap, const char *))) {
        n++;
        g_assert_cmpint(n, <, 15);
    }
    va_end(ap);
    return qio_channel_command_new_spawn(argv, flags, &error_abort);
}

/* --- cat, from two coroutines ---------------------------------------- */

typedef struct Echo {
    QIOChannel *ioc;
    uint8_t *out;
    uint8_t *in;
    int eof_ret;
    bool writer_done;
    bool reader_done;
} Echo;

static void coroutine_fn echo_writer(void *opaque)
{
    Echo *e = opaque;
    size_t off, n;

    for (off = 0; off < ECHO_SIZE; off += n) {
        n = MIN(ECHO_SIZE - off, 333333);
        g_assert_cmpint(qio_channel_write_all(e->ioc, (char *)e->out + off,
                                              n, &error_abort), ==, 0);
    }
    /* cat sees the end of its input, writes the rest, and exits. */
    g_assert_cmpint(qio_channel_shutdown(e->ioc, QIO_CHANNEL_SHUTDOWN_WRITE,
                                         &error_abort), ==, 0);
    e->writer_done = true;
}

static void coroutine_fn echo_reader(void *opaque)
{
    Echo *e = opaque;
    struct iovec iov[3];
    size_t off, n;
    char byte;

    for (off = 0; off < ECHO_SIZE; off += n) {
        n = MIN(ECHO_SIZE - off, 100003);
        /* Three iovecs per read, of uneven sizes. */
        iov[0] = (struct iovec) { e->in + off, n / 7 };
        iov[1] = (struct iovec) { e->in + off + n / 7, 1 };
        iov[2] = (struct iovec) { e->in + off + n / 7 + 1,
                                  n - n / 7 - 1 };
        g_assert_cmpint(qio_channel_readv_all(e->ioc, iov, 3, &error_abort),
                        ==, 0);
    }
    e->eof_ret = qio_channel_read_all_eof(e->ioc, &byte, 1, &error_abort);
    e->reader_done = true;
}

static void test_cat_coroutines(void)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autofree uint8_t *out = g_malloc(ECHO_SIZE);
    g_autofree uint8_t *in = g_malloc0(ECHO_SIZE);
    QIOChannelCommand *cioc;
    Echo e;

    cioc = spawn(O_RDWR, "cat", NULL);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(cioc),
                                          QIO_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_cmpint(cioc->readfd, >=, 0);
    g_assert_cmpint(cioc->writefd, >=, 0);
    g_assert_cmpint(cioc->readfd, !=, cioc->writefd);
    g_assert_cmpint(qio_channel_set_blocking(QIO_CHANNEL(cioc), false,
                                             &error_abort), ==, 0);
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(cioc), true);
    fill_pattern(out, ECHO_SIZE);

    e = (Echo) { .ioc = QIO_CHANNEL(cioc), .out = out, .in = in,
                 .eof_ret = -2 };
    aio_co_enter(ctx, qemu_coroutine_create(echo_reader, &e));
    aio_co_enter(ctx, qemu_coroutine_create(echo_writer, &e));
    /* Each waits on its own fd in ctx. */
    g_assert_true(poll_until(ctx, &e.reader_done, 30));
    g_assert_true(e.writer_done);
    g_assert_cmpint(e.eof_ret, ==, 0);
    check_pattern(in, ECHO_SIZE);

    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &error_abort), ==,
                    0);
    g_assert_cmpint(cioc->pid, ==, -1);
    object_unref(cioc);
    assert_ctx_clean(ctx);
    assert_ctx_clean(iohandler_get_aio_context());
    assert_no_coroutines();
}

/* --- cat, blocking, with a writer thread ----------------------------- */

static gpointer echo_writer_thread(gpointer opaque)
{
    Echo *e = opaque;
    struct iovec iov[4];
    size_t q = ECHO_SIZE / 4;

    /* One writev_all of four vectors; the pipe takes 64 KiB at a time. */
    iov[0] = (struct iovec) { e->out, q - 1 };
    iov[1] = (struct iovec) { e->out + q - 1, 2 };
    iov[2] = (struct iovec) { e->out + q + 1, q };
    iov[3] = (struct iovec) { e->out + 2 * q + 1, ECHO_SIZE - 2 * q - 1 };
    g_assert_cmpint(qio_channel_writev_all(e->ioc, iov, 4, &error_abort),
                    ==, 0);
    g_assert_cmpint(qio_channel_shutdown(e->ioc, QIO_CHANNEL_SHUTDOWN_WRITE,
                                         &error_abort), ==, 0);
    e->writer_done = true;
    return NULL;
}

static void test_cat_blocking_thread(void)
{
    g_autofree uint8_t *out = g_malloc(ECHO_SIZE);
    g_autofree uint8_t *in = g_malloc0(ECHO_SIZE);
    QIOChannelCommand *cioc;
    GThread *thread;
    Echo e;
    char byte;

    cioc = spawn(O_RDWR, "cat", NULL);
    fill_pattern(out, ECHO_SIZE);
    e = (Echo) { .ioc = QIO_CHANNEL(cioc), .out = out, .in = in };
    thread = g_thread_new("echo-writer", echo_writer_thread, &e);

    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(cioc), (char *)in,
                                         ECHO_SIZE, &error_abort), ==, 0);
    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(cioc), &byte, 1,
                                             &error_abort), ==, 0);
    g_thread_join(thread);
    g_assert_true(e.writer_done);
    check_pattern(in, ECHO_SIZE);

    /* Writing after the shutdown is an error that says so. */
    {
        Error *err = NULL;

        g_assert_cmpint(qio_channel_write(QIO_CHANNEL(cioc), "x", 1, &err),
                        ==, -1);
        check_error_has(&err, "command 'cat'", "shut down", NULL);
    }
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &error_abort), ==,
                    0);
    object_unref(cioc);
}

/* --- one direction only ---------------------------------------------- */

static void test_read_only(void)
{
    QIOChannelCommand *cioc = spawn(O_RDONLY, "echo", "hello", NULL);
    char buf[64];
    size_t got = 0;
    ssize_t n;
    Error *err = NULL;

    g_assert_cmpint(cioc->writefd, ==, -1);
    g_assert_cmpint(cioc->readfd, >=, 0);
    while ((n = qio_channel_read(QIO_CHANNEL(cioc), buf + got,
                                 sizeof(buf) - got, &error_abort)) > 0) {
        got += n;
    }
    g_assert_cmpint(n, ==, 0);
    g_assert_cmpmem(buf, got, "hello\n", 6);

    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(cioc), "x", 1, &err), ==,
                    -1);
    check_error_has(&err, "command 'echo'", "no pipe to its input", NULL);

    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &error_abort), ==,
                    0);
    object_unref(cioc);
}

/* A read-only child's stdin is /dev/null: `cat` ends at once. */
static void test_read_only_stdin_null(void)
{
    QIOChannelCommand *cioc = spawn(O_RDONLY, "cat", NULL);
    char byte;

    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(cioc), &byte, 1,
                                             &error_abort), ==, 0);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &error_abort), ==,
                    0);
    object_unref(cioc);
}

static void test_write_only(void)
{
    g_autoptr(GError) gerr = NULL;
    g_autofree char *path = NULL;
    g_autofree char *script = NULL;
    g_autofree char *contents = NULL;
    g_autofree uint8_t *out = g_malloc(ECHO_SIZE);
    QIOChannelCommand *cioc;
    Error *err = NULL;
    gsize len = 0;
    char byte;
    int fd;

    fd = g_file_open_tmp("test-io-channel-command-XXXXXX", &path, &gerr);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    script = g_strdup_printf("cat > '%s'", path);
    cioc = spawn(O_WRONLY, "sh", "-c", script, NULL);
    g_assert_cmpint(cioc->readfd, ==, -1);
    fill_pattern(out, ECHO_SIZE);
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(cioc), (char *)out,
                                          ECHO_SIZE, &error_abort), ==, 0);

    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(cioc), &byte, 1, &err), ==,
                    -1);
    check_error_has(&err, "command 'sh'", "no pipe from its output", NULL);

    /* Close waits for the child: the file is complete afterwards. */
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &error_abort), ==,
                    0);
    object_unref(cioc);
    g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
    g_assert_cmpuint(len, ==, ECHO_SIZE);
    check_pattern((uint8_t *)contents, len);
    unlink(path);
}

/* --- how the child ended --------------------------------------------- */

static void test_exit_status(void)
{
    QIOChannelCommand *cioc = spawn(O_RDONLY, "sh", "-c", "exit 3", NULL);
    Error *err = NULL;
    char byte;

    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(cioc), &byte, 1,
                                             &error_abort), ==, 0);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &err), ==, -1);
    check_error_has(&err, "command 'sh' exited with status 3", NULL);
    /* Reaped once: closing again has nothing left to report. */
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &error_abort), ==,
                    0);
    object_unref(cioc);
}

static void test_killed_by_signal(void)
{
    QIOChannelCommand *cioc = spawn(O_RDWR, "sh", "-c", "kill -TERM $$",
                                    NULL);
    g_autofree char *sig = g_strdup_printf("was killed by signal %d "
                                           "(SIGTERM)", SIGTERM);
    Error *err = NULL;
    char byte;

    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(cioc), &byte, 1,
                                             &error_abort), ==, 0);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &err), ==, -1);
    check_error_has(&err, "command 'sh'", sig, NULL);
    object_unref(cioc);
}

/*
 * A child that ignores the end of its input is terminated after the
 * grace period, and close says so.
 */
static void test_hung_child(void)
{
    QIOChannelCommand *cioc = spawn(O_RDWR, "sleep", "60", NULL);
    g_autofree char *sig = g_strdup_printf("killed by signal %d (SIGTERM)",
                                           SIGTERM);
    int64_t start = g_get_monotonic_time();
    Error *err = NULL;

    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &err), ==, -1);
    check_error_has(&err, "command 'sleep' did not exit", sig, NULL);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * 1000000);
    object_unref(cioc);
}

/* Dropping the last reference without close still reaps the child. */
static void test_finalize_reaps(void)
{
    QIOChannelCommand *cioc = spawn(O_RDWR, "cat", NULL);
    GPid pid = cioc->pid;

    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(cioc), "abc", 3,
                                          &error_abort), ==, 0);
    object_unref(cioc);
    g_assert_cmpint(waitpid(pid, NULL, WNOHANG), ==, -1);
    g_assert_cmpint(errno, ==, ECHILD);
}

/* --- errors ---------------------------------------------------------- */

static void test_missing_program(void)
{
    const char *path_argv[] = { "no-such-program-for-qio-test", NULL };
    const char *abs_argv[] = { "/nonexistent/qio-test-program", "x", NULL };
    const char *empty_argv[] = { NULL };
    Error *err = NULL;

    g_assert_null(qio_channel_command_new_spawn(path_argv, O_RDWR, &err));
    check_error_has(&err, "Unable to start command "
                    "'no-such-program-for-qio-test'", NULL);

    g_assert_null(qio_channel_command_new_spawn(abs_argv, O_RDONLY, &err));
    check_error_has(&err, "'/nonexistent/qio-test-program'",
                    g_strerror(ENOENT), NULL);

    g_assert_null(qio_channel_command_new_spawn(empty_argv, O_RDWR, &err));
    check_error_has(&err, "no program given", NULL);

    g_assert_null(qio_channel_command_new_spawn(path_argv, O_ACCMODE, &err));
    check_error_has(&err, "access mode", NULL);
}

static void test_fd_pass_refused(void)
{
    QIOChannelCommand *cioc = spawn(O_RDWR, "cat", NULL);
    struct iovec iov = { .iov_base = (char *)"x", .iov_len = 1 };
    int fd = 0;
    Error *err = NULL;

    g_assert_cmpint(qio_channel_writev_full(QIO_CHANNEL(cioc), &iov, 1, &fd,
                                            1, 0, &err), ==, -1);
    check_error_has(&err, "file descriptors", NULL);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &error_abort), ==,
                    0);
    object_unref(cioc);
}

/* --- watches --------------------------------------------------------- */

static gboolean watch_fired(QIOChannel *ioc, GIOCondition cond,
                            gpointer opaque)
{
    GIOCondition *seen = opaque;

    *seen |= cond;
    return G_SOURCE_REMOVE;
}

static void test_watch(void)
{
    QIOChannelCommand *cioc = spawn(O_RDWR, "cat", NULL);
    GMainContext *gctx = g_main_context_new();
    GIOCondition seen = 0;
    char buf[8];
    int i;

    /* Writable at once. */
    qio_channel_add_watch_full(QIO_CHANNEL(cioc), G_IO_OUT, watch_fired,
                               &seen, NULL, gctx);
    for (i = 0; i < 1000 && !seen; i++) {
        g_main_context_iteration(gctx, TRUE);
    }
    g_assert_true(seen & G_IO_OUT);

    /* Readable once cat echoed. */
    seen = 0;
    qio_channel_add_watch_full(QIO_CHANNEL(cioc), G_IO_IN, watch_fired,
                               &seen, NULL, gctx);
    g_assert_false(g_main_context_iteration(gctx, FALSE));
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(cioc), "ping", 4,
                                          &error_abort), ==, 0);
    for (i = 0; i < 1000 && !seen; i++) {
        g_main_context_iteration(gctx, TRUE);
    }
    g_assert_true(seen & G_IO_IN);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(cioc), buf, 4,
                                         &error_abort), ==, 0);
    g_assert_cmpmem(buf, 4, "ping", 4);

    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cioc), &error_abort), ==,
                    0);
    object_unref(cioc);
    g_main_context_unref(gctx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    /* As our programs do: a dead child gives EPIPE, not death. */
    signal(SIGPIPE, SIG_IGN);

    g_test_add_func("/io/channel/command/cat/coroutines",
                    test_cat_coroutines);
    g_test_add_func("/io/channel/command/cat/blocking-thread",
                    test_cat_blocking_thread);
    g_test_add_func("/io/channel/command/read-only", test_read_only);
    g_test_add_func("/io/channel/command/read-only-stdin-null",
                    test_read_only_stdin_null);
    g_test_add_func("/io/channel/command/write-only", test_write_only);
    g_test_add_func("/io/channel/command/exit-status", test_exit_status);
    g_test_add_func("/io/channel/command/killed-by-signal",
                    test_killed_by_signal);
    g_test_add_func("/io/channel/command/hung-child", test_hung_child);
    g_test_add_func("/io/channel/command/finalize-reaps",
                    test_finalize_reaps);
    g_test_add_func("/io/channel/command/missing-program",
                    test_missing_program);
    g_test_add_func("/io/channel/command/fd-pass-refused",
                    test_fd_pass_refused);
    g_test_add_func("/io/channel/command/watch", test_watch);
    return g_test_run();
}
