/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * File channel tests: data through regular files and pipes, seeking,
 * the constructors and their errors, blocking and non-blocking vector
 * I/O, and coroutines reading with qio_channel_read_all().
 */
#include "qemu/osdep.h"
#include "io/channel-file.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

#define PATTERN_SIZE (6 * 1024 * 1024 + 1234)

/* The byte at @offset of the test pattern: not periodic in 2^n. */
static uint8_t pattern_byte(uint64_t offset)
{
    return (uint8_t)((offset * 2654435761u) >> 13) ^ (uint8_t)(offset / 251);
}

static void fill_pattern(uint8_t *buf, size_t len, uint64_t offset)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = pattern_byte(offset + i);
    }
}

/* Compares with a message giving the first differing offset. */
static void check_pattern(const uint8_t *buf, size_t len, uint64_t offset)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (buf[i] != pattern_byte(offset + i)) {
            g_error("data differ at offset %" PRIu64 ": got 0x%02x, "
                    "expected 0x%02x", offset + i, buf[i],
                    pattern_byte(offset + i));
        }
    }
}

/* A new empty temporary file; the caller unlinks and frees the name. */
static char *make_temp_file(void)
{
    g_autoptr(GError) gerr = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("test-io-channel-file-XXXXXX", &path, &gerr);

    g_assert_no_error(gerr);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    return path;
}

/* True if @fd is an open descriptor. */
static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

/* --- regular files --------------------------------------------------- */

static void test_file_pattern(void)
{
    g_autofree char *path = make_temp_file();
    g_autofree uint8_t *out = g_malloc(PATTERN_SIZE);
    g_autofree uint8_t *in = g_malloc0(PATTERN_SIZE);
    QIOChannelFile *fioc;
    QIOChannel *ioc;
    size_t done, chunk;

    fioc = qio_channel_file_new_path(path, O_RDWR | O_TRUNC, 0600,
                                     &error_abort);
    ioc = QIO_CHANNEL(fioc);
    g_assert_true(qio_channel_has_feature(ioc,
                                          QIO_CHANNEL_FEATURE_SEEKABLE));
    g_assert_false(qio_channel_has_feature(ioc,
                                           QIO_CHANNEL_FEATURE_FD_PASS));

    /* Write in odd-sized pieces so no write is aligned. */
    fill_pattern(out, PATTERN_SIZE, 0);
    for (done = 0; done < PATTERN_SIZE; done += chunk) {
        chunk = MIN(PATTERN_SIZE - done, 123457);
        g_assert_cmpint(qio_channel_write_all(ioc, (char *)out + done, chunk,
                                              &error_abort), ==, 0);
    }
    g_assert_cmpint(qio_channel_io_seek(ioc, 0, SEEK_CUR, &error_abort), ==,
                    PATTERN_SIZE);
    g_assert_cmpint(qio_channel_io_seek(ioc, 0, SEEK_END, &error_abort), ==,
                    PATTERN_SIZE);

    /* Back to the start and read it all in other pieces. */
    g_assert_cmpint(qio_channel_io_seek(ioc, 0, SEEK_SET, &error_abort), ==,
                    0);
    for (done = 0; done < PATTERN_SIZE; done += chunk) {
        chunk = MIN(PATTERN_SIZE - done, 65536 + 17);
        g_assert_cmpint(qio_channel_read_all(ioc, (char *)in + done, chunk,
                                             &error_abort), ==, 0);
    }
    check_pattern(in, PATTERN_SIZE, 0);

    /* At the end: a plain read gives 0, read_all_eof gives 0. */
    g_assert_cmpint(qio_channel_read(ioc, (char *)in, 16, &error_abort), ==,
                    0);
    g_assert_cmpint(qio_channel_read_all_eof(ioc, (char *)in, 16,
                                             &error_abort), ==, 0);

    /* A seek into the middle reads the middle. */
    g_assert_cmpint(qio_channel_io_seek(ioc, 3 * 1024 * 1024 + 5, SEEK_SET,
                                        &error_abort), ==,
                    3 * 1024 * 1024 + 5);
    memset(in, 0, 4096);
    g_assert_cmpint(qio_channel_read_all(ioc, (char *)in, 4096,
                                         &error_abort), ==, 0);
    check_pattern(in, 4096, 3 * 1024 * 1024 + 5);

    /* Seeking relative to the end, then a short tail read. */
    g_assert_cmpint(qio_channel_io_seek(ioc, -100, SEEK_END, &error_abort),
                    ==, PATTERN_SIZE - 100);
    g_assert_cmpint(qio_channel_read_all_eof(ioc, (char *)in, 200, NULL),
                    ==, -1);

    g_assert_cmpint(qio_channel_close(ioc, &error_abort), ==, 0);
    object_unref(fioc);

    /* The file holds the pattern for anyone else too. */
    {
        g_autofree char *contents = NULL;
        gsize len = 0;

        g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
        g_assert_cmpuint(len, ==, PATTERN_SIZE);
        check_pattern((uint8_t *)contents, len, 0);
    }
    unlink(path);
}

static void test_file_seek_error(void)
{
    g_autofree char *path = make_temp_file();
    g_autoptr(QIOChannelFile) fioc = NULL;
    Error *err = NULL;

    fioc = qio_channel_file_new_path(path, O_RDONLY, 0, &error_abort);
    g_assert_cmpint(qio_channel_io_seek(QIO_CHANNEL(fioc), -1, SEEK_SET,
                                        &err), ==, -1);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), "unable to seek"));
    g_assert_nonnull(strstr(error_get_pretty(err), g_strerror(EINVAL)));
    error_free(err);
    unlink(path);
}

static void test_file_new_path_errors(void)
{
    const char *missing = "/nonexistent-dir-for-qio-test/file";
    g_autofree char *path = make_temp_file();
    Error *err = NULL;

    g_assert_null(qio_channel_file_new_path(missing, O_RDONLY, 0, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), missing));
    g_assert_nonnull(strstr(error_get_pretty(err), g_strerror(ENOENT)));
    error_free(err);
    err = NULL;

    /* O_EXCL on an existing file: EEXIST, with the path. */
    g_assert_null(qio_channel_file_new_path(path, O_RDWR | O_CREAT | O_EXCL,
                                            0600, &err));
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), path));
    g_assert_nonnull(strstr(error_get_pretty(err), g_strerror(EEXIST)));
    error_free(err);
    unlink(path);

    /* And O_CREAT makes it, with the mode asked. */
    {
        g_autoptr(QIOChannelFile) fioc = NULL;
        struct stat st;

        fioc = qio_channel_file_new_path(path, O_WRONLY | O_CREAT | O_EXCL,
                                         0640, &error_abort);
        g_assert_cmpint(stat(path, &st), ==, 0);
        /* main() set the umask to 022, which leaves 0640 alone. */
        g_assert_cmpint(st.st_mode & 0777, ==, 0640);
        /* The fd does not leak into programs we run. */
        g_assert_cmpint(fcntl(fioc->fd, F_GETFD) & FD_CLOEXEC, !=, 0);
    }
    unlink(path);
}

/* --- fds -------------------------------------------------------------- */

static void test_file_new_fd(void)
{
    int fds[2];
    QIOChannelFile *fioc;
    Error *err = NULL;
    char buf[16];
    int wfd;

    g_assert_cmpint(pipe(fds), ==, 0);
    wfd = fds[1];
    fioc = qio_channel_file_new_fd(wfd);
    g_assert_cmpint(fioc->fd, ==, wfd);
    /* A pipe is not seekable. */
    g_assert_false(qio_channel_has_feature(QIO_CHANNEL(fioc),
                                           QIO_CHANNEL_FEATURE_SEEKABLE));
    g_assert_cmpint(qio_channel_io_seek(QIO_CHANNEL(fioc), 0, SEEK_SET,
                                        &err), ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), g_strerror(ESPIPE)));
    error_free(err);
    err = NULL;

    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(fioc), "pipe data",
                                          9, &error_abort), ==, 0);
    g_assert_cmpint(read(fds[0], buf, sizeof(buf)), ==, 9);
    g_assert_cmpmem(buf, 9, "pipe data", 9);

    /* Finalize closes the fd the channel took. */
    object_unref(fioc);
    g_assert_false(fd_is_open(wfd));
    g_assert_cmpint(read(fds[0], buf, sizeof(buf)), ==, 0);
    close(fds[0]);
}

static void test_file_dupfd(void)
{
    g_autofree char *path = make_temp_file();
    QIOChannelFile *fioc;
    Error *err = NULL;
    char buf[16];
    int fd, badfd;

    fd = open(path, O_RDWR);
    g_assert_cmpint(fd, >=, 0);
    fioc = qio_channel_file_new_dupfd(fd, &error_abort);
    g_assert_cmpint(fioc->fd, !=, fd);
    g_assert_cmpint(fcntl(fioc->fd, F_GETFD) & FD_CLOEXEC, !=, 0);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(fioc),
                                          QIO_CHANNEL_FEATURE_SEEKABLE));
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(fioc), "duplicate",
                                          9, &error_abort), ==, 0);
    object_unref(fioc);

    /* Ours is still open and sees the data (and the shared offset). */
    g_assert_true(fd_is_open(fd));
    g_assert_cmpint(lseek(fd, 0, SEEK_CUR), ==, 9);
    g_assert_cmpint(pread(fd, buf, sizeof(buf), 0), ==, 9);
    g_assert_cmpmem(buf, 9, "duplicate", 9);

    /* A closed fd cannot be duplicated; the message names it. */
    badfd = dup(fd);
    close(badfd);
    g_assert_null(qio_channel_file_new_dupfd(badfd, &err));
    g_assert_nonnull(err);
    {
        g_autofree char *fdstr = g_strdup_printf("fd %d", badfd);

        g_assert_nonnull(strstr(error_get_pretty(err), fdstr));
    }
    g_assert_nonnull(strstr(error_get_pretty(err), g_strerror(EBADF)));
    error_free(err);

    close(fd);
    unlink(path);
}

static void test_file_fd_pass_refused(void)
{
    g_autofree char *path = make_temp_file();
    g_autoptr(QIOChannelFile) fioc = NULL;
    struct iovec iov = { .iov_base = (char *)"x", .iov_len = 1 };
    int fd = 0;
    int *rfds = NULL;
    size_t nrfds = 0;
    Error *err = NULL;

    fioc = qio_channel_file_new_path(path, O_RDWR, 0, &error_abort);
    g_assert_cmpint(qio_channel_writev_full(QIO_CHANNEL(fioc), &iov, 1, &fd,
                                            1, 0, &err), ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "file descriptors"));
    error_free(err);
    err = NULL;
    g_assert_cmpint(qio_channel_readv_full(QIO_CHANNEL(fioc), &iov, 1,
                                           &rfds, &nrfds, 0, &err), ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "file descriptors"));
    g_assert_null(rfds);
    error_free(err);

    /* Nothing was written. */
    g_assert_cmpint(lseek(fioc->fd, 0, SEEK_END), ==, 0);
    unlink(path);
}

static void test_file_close(void)
{
    g_autofree char *path = make_temp_file();
    g_autoptr(QIOChannelFile) fioc = NULL;
    Error *err = NULL;
    char buf[4];
    int fd;

    fioc = qio_channel_file_new_path(path, O_RDWR, 0, &error_abort);
    fd = fioc->fd;
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(fioc), &error_abort), ==,
                    0);
    g_assert_cmpint(fioc->fd, ==, -1);
    g_assert_false(fd_is_open(fd));
    /* Again: nothing to do. */
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(fioc), &error_abort), ==,
                    0);

    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(fioc), buf, 4, &err), ==,
                    -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "closed"));
    error_free(err);
    err = NULL;
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(fioc), "abcd", 4, &err),
                    ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "closed"));
    error_free(err);
    unlink(path);
}

/* --- vectors over a pipe, blocking and not --------------------------- */

#define PIPE_DATA_SIZE (3 * 1024 * 1024 + 77)

/* Splits [0, @len) of @buf into iovecs of sizes cycling through @sizes. */
static size_t make_iov(struct iovec *iov, size_t max, uint8_t *buf,
                       size_t len, const size_t *sizes, size_t nsizes)
{
    size_t n = 0, off = 0;

    while (off < len) {
        size_t s = MIN(sizes[n % nsizes], len - off);

        g_assert_cmpuint(n, <, max);
        iov[n].iov_base = buf + off;
        iov[n].iov_len = s;
        off += s;
        n++;
    }
    return n;
}

typedef struct PipeWriter {
    QIOChannel *ioc;
    uint8_t *data;
    size_t len;
} PipeWriter;

/* Writes everything with writev_all in one call, in odd iovecs. */
static gpointer pipe_writer_thread(gpointer opaque)
{
    static const size_t sizes[] = { 1, 4095, 65537, 3, 200000, 4096 };
    PipeWriter *pw = opaque;
    struct iovec *iov = g_new(struct iovec, 1024);
    size_t niov = make_iov(iov, 1024, pw->data, pw->len, sizes,
                           G_N_ELEMENTS(sizes));

    g_assert_cmpint(qio_channel_writev_all(pw->ioc, iov, niov,
                                           &error_abort), ==, 0);
    g_assert_cmpint(qio_channel_close(pw->ioc, &error_abort), ==, 0);
    g_free(iov);
    return NULL;
}

/*
 * A thread writes through a blocking channel while this thread reads
 * through @nonblocking_reader or a blocking one; the pipe is far smaller
 * than the data, so both sides wait many times.
 */
static void run_pipe_vectors(bool nonblocking_reader)
{
    static const size_t sizes[] = { 7, 131072, 1, 65536 + 1, 999 };
    g_autofree uint8_t *out = g_malloc(PIPE_DATA_SIZE);
    g_autofree uint8_t *in = g_malloc0(PIPE_DATA_SIZE);
    g_autofree struct iovec *iov = g_new(struct iovec, 1024);
    QIOChannelFile *rioc, *wioc;
    PipeWriter pw;
    GThread *thread;
    size_t niov;
    int fds[2];
    char byte;

    g_assert_cmpint(pipe2(fds, O_CLOEXEC), ==, 0);
    rioc = qio_channel_file_new_fd(fds[0]);
    wioc = qio_channel_file_new_fd(fds[1]);
    g_assert_cmpint(qio_channel_set_blocking(QIO_CHANNEL(rioc),
                                             !nonblocking_reader,
                                             &error_abort), ==, 0);
    fill_pattern(out, PIPE_DATA_SIZE, 1000);

    pw = (PipeWriter) {
        .ioc = QIO_CHANNEL(wioc), .data = out, .len = PIPE_DATA_SIZE,
    };
    thread = g_thread_new("pipe-writer", pipe_writer_thread, &pw);

    niov = make_iov(iov, 1024, in, PIPE_DATA_SIZE, sizes,
                    G_N_ELEMENTS(sizes));
    g_assert_cmpint(qio_channel_readv_all(QIO_CHANNEL(rioc), iov, niov,
                                          &error_abort), ==, 0);
    /* The writer closed its end: end of file. */
    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(rioc), &byte, 1,
                                             &error_abort), ==, 0);
    g_thread_join(thread);
    check_pattern(in, PIPE_DATA_SIZE, 1000);

    object_unref(rioc);
    object_unref(wioc);
}

static void test_pipe_vectors_blocking(void)
{
    run_pipe_vectors(false);
}

static void test_pipe_vectors_nonblocking(void)
{
    run_pipe_vectors(true);
}

static void test_pipe_would_block(void)
{
    QIOChannelFile *rioc, *wioc;
    g_autofree char *buf = g_malloc0(65536);
    ssize_t ret;
    size_t total = 0;
    int fds[2];

    g_assert_cmpint(pipe2(fds, O_CLOEXEC), ==, 0);
    rioc = qio_channel_file_new_fd(fds[0]);
    wioc = qio_channel_file_new_fd(fds[1]);
    qio_channel_set_blocking(QIO_CHANNEL(rioc), false, &error_abort);
    qio_channel_set_blocking(QIO_CHANNEL(wioc), false, &error_abort);

    /* Empty pipe: would block, no error. */
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(rioc), buf, 1,
                                     &error_abort), ==,
                    QIO_CHANNEL_ERR_BLOCK);

    /* Fill it until it would block. */
    do {
        ret = qio_channel_write(QIO_CHANNEL(wioc), buf, 65536, &error_abort);
        if (ret > 0) {
            total += ret;
        }
    } while (ret > 0);
    g_assert_cmpint(ret, ==, QIO_CHANNEL_ERR_BLOCK);
    g_assert_cmpuint(total, >, 0);

    /* Back to blocking: set_blocking(true) takes effect. */
    qio_channel_set_blocking(QIO_CHANNEL(rioc), true, &error_abort);
    g_assert_cmpint(fcntl(fds[0], F_GETFL) & O_NONBLOCK, ==, 0);
    g_assert_cmpint(fcntl(fds[1], F_GETFL) & O_NONBLOCK, !=, 0);

    object_unref(rioc);
    object_unref(wioc);
}

/* --- coroutines ------------------------------------------------------ */

typedef struct CoRead {
    QIOChannel *ioc;
    uint8_t *buf;
    size_t len;
    size_t chunk;
    int eof_ret;
    bool done;
} CoRead;

/* Reads cr->len bytes with qio_channel_read_all, then expects EOF. */
static void coroutine_fn co_reader(void *opaque)
{
    CoRead *cr = opaque;
    size_t off, n;
    char byte;

    for (off = 0; off < cr->len; off += n) {
        n = MIN(cr->chunk, cr->len - off);
        g_assert_cmpint(qio_channel_read_all(cr->ioc, (char *)cr->buf + off,
                                             n, &error_abort), ==, 0);
    }
    cr->eof_ret = qio_channel_read_all_eof(cr->ioc, &byte, 1, &error_abort);
    __atomic_store_n(&cr->done, true, __ATOMIC_RELEASE);
}

static void test_coroutine_regular_file(void)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autofree char *path = make_temp_file();
    g_autofree uint8_t *data = g_malloc(PATTERN_SIZE);
    g_autofree uint8_t *in = g_malloc0(PATTERN_SIZE);
    g_autoptr(GError) gerr = NULL;
    QIOChannelFile *fioc;
    CoRead cr;

    fill_pattern(data, PATTERN_SIZE, 42);
    g_assert_true(g_file_set_contents(path, (char *)data, PATTERN_SIZE,
                                      &gerr));

    fioc = qio_channel_file_new_path(path, O_RDONLY, 0, &error_abort);
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(fioc), true);
    cr = (CoRead) {
        .ioc = QIO_CHANNEL(fioc), .buf = in, .len = PATTERN_SIZE,
        .chunk = 1024 * 1024 - 3, .eof_ret = -2,
    };

    /*
     * A regular file is always ready: the coroutine runs to its end
     * without ever yielding.
     */
    aio_co_enter(ctx, qemu_coroutine_create(co_reader, &cr));
    g_assert_true(cr.done);
    g_assert_cmpint(cr.eof_ret, ==, 0);
    check_pattern(in, PATTERN_SIZE, 42);

    object_unref(fioc);
    assert_ctx_clean(ctx);
    assert_ctx_clean(iohandler_get_aio_context());
    assert_no_coroutines();
    unlink(path);
}

/*
 * A coroutine reads a non-blocking pipe that a thread fills slowly: it
 * yields in its own context (follow-coroutine-ctx) and its fd handler is
 * gone when it ends.
 */
static void test_coroutine_pipe(void)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autofree uint8_t *out = g_malloc(PIPE_DATA_SIZE);
    g_autofree uint8_t *in = g_malloc0(PIPE_DATA_SIZE);
    QIOChannelFile *rioc, *wioc;
    PipeWriter pw;
    GThread *thread;
    CoRead cr;
    int fds[2];

    g_assert_cmpint(pipe2(fds, O_CLOEXEC), ==, 0);
    rioc = qio_channel_file_new_fd(fds[0]);
    wioc = qio_channel_file_new_fd(fds[1]);
    qio_channel_set_blocking(QIO_CHANNEL(rioc), false, &error_abort);
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(rioc), true);
    fill_pattern(out, PIPE_DATA_SIZE, 7);

    cr = (CoRead) {
        .ioc = QIO_CHANNEL(rioc), .buf = in, .len = PIPE_DATA_SIZE,
        .chunk = 300000, .eof_ret = -2,
    };
    aio_co_enter(ctx, qemu_coroutine_create(co_reader, &cr));
    /* Nothing written yet: it waits, with its handler in ctx. */
    g_assert_false(cr.done);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);

    pw = (PipeWriter) {
        .ioc = QIO_CHANNEL(wioc), .data = out, .len = PIPE_DATA_SIZE,
    };
    thread = g_thread_new("pipe-writer", pipe_writer_thread, &pw);
    g_assert_true(poll_until(ctx, &cr.done, 30));
    g_thread_join(thread);

    g_assert_cmpint(cr.eof_ret, ==, 0);
    check_pattern(in, PIPE_DATA_SIZE, 7);
    object_unref(rioc);
    object_unref(wioc);
    assert_ctx_clean(ctx);
    assert_ctx_clean(iohandler_get_aio_context());
    assert_no_coroutines();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    umask(022);

    g_test_add_func("/io/channel/file/pattern", test_file_pattern);
    g_test_add_func("/io/channel/file/seek-error", test_file_seek_error);
    g_test_add_func("/io/channel/file/new-path-errors",
                    test_file_new_path_errors);
    g_test_add_func("/io/channel/file/new-fd", test_file_new_fd);
    g_test_add_func("/io/channel/file/dupfd", test_file_dupfd);
    g_test_add_func("/io/channel/file/fd-pass-refused",
                    test_file_fd_pass_refused);
    g_test_add_func("/io/channel/file/close", test_file_close);
    g_test_add_func("/io/channel/file/pipe-vectors/blocking",
                    test_pipe_vectors_blocking);
    g_test_add_func("/io/channel/file/pipe-vectors/nonblocking",
                    test_pipe_vectors_nonblocking);
    g_test_add_func("/io/channel/file/pipe-would-block",
                    test_pipe_would_block);
    g_test_add_func("/io/channel/file/coroutine/regular-file",
                    test_coroutine_regular_file);
    g_test_add_func("/io/channel/file/coroutine/pipe",
                    test_coroutine_pipe);
    return g_test_run();
}
