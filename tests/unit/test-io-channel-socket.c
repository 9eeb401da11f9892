/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelSocket and qemu/sockets.h tests, over real sockets: UNIX path
 * and abstract, TCP over IPv4 and IPv6, wrapped fds, fd passing, async
 * connect, bulk transfers blocking and non-blocking, shutdown, peek, fd
 * handlers, and the parsing and formatting of socket addresses.
 */
#include "qemu/osdep.h"

#include <netinet/in.h>

#include "io/channel-socket.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "qemu/sockets.h"
#include "qemu/thread.h"
#include "test-util.h"

static char *tmpdir;

/* --- helpers ------------------------------------------------------------ */

static SocketAddress *unix_addr(const char *path, bool abstract)
{
    SocketAddress *addr = g_new0(SocketAddress, 1);

    addr->type = SOCKET_ADDRESS_TYPE_UNIX;
    addr->u.q_unix.path = g_strdup(path);
    if (abstract) {
        addr->u.q_unix.has_abstract = addr->u.q_unix.abstract = true;
    }
    return addr;
}

static SocketAddress *inet_addr(const char *host, const char *port)
{
    SocketAddress *addr = g_new0(SocketAddress, 1);

    addr->type = SOCKET_ADDRESS_TYPE_INET;
    addr->u.inet.host = g_strdup(host);
    addr->u.inet.port = g_strdup(port);
    return addr;
}

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static bool host_has_ipv6(void)
{
    struct sockaddr_in6 sin6 = {
        .sin6_family = AF_INET6,
        .sin6_addr = IN6ADDR_LOOPBACK_INIT,
    };
    int fd = qemu_socket(AF_INET6, SOCK_STREAM, 0);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
    close(fd);
    return ok;
}

/* A listener, a client connected to it, and the accepted peer. */
typedef struct Pair {
    QIOChannelSocket *lsn;
    QIOChannelSocket *src;
    QIOChannelSocket *dst;
} Pair;

static void pair_open(Pair *p, SocketAddress *laddr)
{
    g_autoptr(SocketAddress) caddr = NULL;

    p->lsn = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_listen_sync(p->lsn, laddr, 1,
                                                   &error_abort), ==, 0);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p->lsn),
                                          QIO_CHANNEL_FEATURE_LISTEN));
    caddr = qio_channel_socket_get_local_address(p->lsn, &error_abort);
    p->src = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_connect_sync(p->src, caddr,
                                                    &error_abort), ==, 0);
    p->dst = qio_channel_socket_accept(p->lsn, &error_abort);
    g_assert_nonnull(p->dst);
    g_assert_false(qio_channel_has_feature(QIO_CHANNEL(p->src),
                                           QIO_CHANNEL_FEATURE_LISTEN));
    g_assert_false(qio_channel_has_feature(QIO_CHANNEL(p->dst),
                                           QIO_CHANNEL_FEATURE_LISTEN));
}

static void pair_close(Pair *p)
{
    object_unref(p->src);
    object_unref(p->dst);
    object_unref(p->lsn);
}

static void fill_pattern(uint8_t *buf, size_t len, guint32 seed)
{
    GRand *rand = g_rand_new_with_seed(seed);
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = g_rand_int(rand) & 0xff;
    }
    g_rand_free(rand);
}

typedef struct Writer {
    QIOChannel *ioc;
    const uint8_t *buf;
    size_t len;
} Writer;

static void *writer_thread(void *opaque)
{
    Writer *w = opaque;

    g_assert_cmpint(qio_channel_write_all(w->ioc, (const char *)w->buf,
                                          w->len, &error_abort), ==, 0);
    return NULL;
}

/* Sends @len bytes from @a to @b, from a second thread, and checks them. */
static void check_transfer(QIOChannel *a, QIOChannel *b, size_t len,
                           guint32 seed)
{
    g_autofree uint8_t *out = g_malloc(len);
    g_autofree uint8_t *in = g_malloc0(len);
    g_autofree char *sum_out = NULL;
    g_autofree char *sum_in = NULL;
    Writer w = { .ioc = a, .buf = out, .len = len };
    QemuThread thread;

    fill_pattern(out, len, seed);
    sum_out = g_compute_checksum_for_data(G_CHECKSUM_SHA256, out, len);
    qemu_thread_create(&thread, "writer", writer_thread, &w,
                       QEMU_THREAD_JOINABLE);
    g_assert_cmpint(qio_channel_read_all(b, (char *)in, len, &error_abort),
                    ==, 0);
    qemu_thread_join(&thread);
    sum_in = g_compute_checksum_for_data(G_CHECKSUM_SHA256, in, len);
    g_assert_cmpstr(sum_in, ==, sum_out);
    g_assert_true(memcmp(in, out, len) == 0);
}

static void check_both_ways(Pair *p, size_t len)
{
    check_transfer(QIO_CHANNEL(p->src), QIO_CHANNEL(p->dst), len, 1);
    check_transfer(QIO_CHANNEL(p->dst), QIO_CHANNEL(p->src), len, 2);
}

static int count_open_fds(void)
{
    GDir *dir = g_dir_open("/proc/self/fd", 0, NULL);
    int n = 0;

    g_assert_nonnull(dir);
    while (g_dir_read_name(dir)) {
        n++;
    }
    g_dir_close(dir);
    return n;
}

/* --- transports ---------------------------------------------------------- */

static void test_unix_path(void)
{
    g_autofree char *path = tmp_path("unix-path.sock");
    g_autoptr(SocketAddress) addr = unix_addr(path, false);
    g_autoptr(SocketAddress) local = NULL;
    g_autoptr(SocketAddress) remote = NULL;
    Pair p;

    pair_open(&p, addr);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p.src),
                                          QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p.dst),
                                          QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p.dst),
                                          QIO_CHANNEL_FEATURE_SHUTDOWN));

    local = qio_channel_socket_get_local_address(p.dst, &error_abort);
    g_assert_cmpint(local->type, ==, SOCKET_ADDRESS_TYPE_UNIX);
    g_assert_cmpstr(local->u.q_unix.path, ==, path);
    remote = qio_channel_socket_get_remote_address(p.src, &error_abort);
    g_assert_cmpstr(remote->u.q_unix.path, ==, path);

    check_both_ways(&p, 256 * 1024);

    /* Closing the listener removes the path it made. */
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(p.lsn), &error_abort),
                    ==, 0);
    g_assert_cmpint(p.lsn->fd, ==, -1);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(p.lsn), &error_abort),
                    ==, 0);
    pair_close(&p);
}

static void test_unix_path_finalize_unlinks(void)
{
    g_autofree char *path = tmp_path("finalize.sock");
    g_autoptr(SocketAddress) addr = unix_addr(path, false);
    QIOChannelSocket *lsn = qio_channel_socket_new();

    qio_channel_socket_listen_sync(lsn, addr, 1, &error_abort);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    object_unref(lsn);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

static void test_unix_abstract(void)
{
    g_autofree char *name = g_strdup_printf("qemu-test-sock-%d-%u",
                                            getpid(), g_random_int());
    g_autoptr(SocketAddress) addr = unix_addr(name, true);
    g_autoptr(SocketAddress) local = NULL;
    Pair p;

    pair_open(&p, addr);
    local = qio_channel_socket_get_local_address(p.lsn, &error_abort);
    g_assert_cmpint(local->type, ==, SOCKET_ADDRESS_TYPE_UNIX);
    g_assert_true(local->u.q_unix.abstract);
    g_assert_true(local->u.q_unix.tight);
    g_assert_cmpstr(local->u.q_unix.path, ==, name);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p.src),
                                          QIO_CHANNEL_FEATURE_FD_PASS));
    check_both_ways(&p, 256 * 1024);
    pair_close(&p);
}

static void check_tcp(const char *host)
{
    g_autoptr(SocketAddress) addr = inet_addr(host, "0");
    g_autoptr(SocketAddress) local = NULL;
    g_autoptr(SocketAddress) remote = NULL;
    Pair p;

    pair_open(&p, addr);
    local = qio_channel_socket_get_local_address(p.lsn, &error_abort);
    g_assert_cmpint(local->type, ==, SOCKET_ADDRESS_TYPE_INET);
    g_assert_cmpstr(local->u.inet.host, ==, host);
    g_assert_cmpstr(local->u.inet.port, !=, "0");
    remote = qio_channel_socket_get_remote_address(p.src, &error_abort);
    g_assert_cmpstr(remote->u.inet.port, ==, local->u.inet.port);
    g_assert_cmpstr(remote->u.inet.host, ==, host);

    g_assert_false(qio_channel_has_feature(QIO_CHANNEL(p.src),
                                           QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p.src),
                                          QIO_CHANNEL_FEATURE_SHUTDOWN));
    qio_channel_set_delay(QIO_CHANNEL(p.src), false);
    qio_channel_set_cork(QIO_CHANNEL(p.src), true);
    qio_channel_set_cork(QIO_CHANNEL(p.src), false);
    check_both_ways(&p, 256 * 1024);
    pair_close(&p);
}

static void test_tcp_ipv4(void)
{
    check_tcp("127.0.0.1");
}

static void test_tcp_ipv6(void)
{
    if (!host_has_ipv6()) {
        g_test_skip("this host cannot bind to ::1 (no IPv6)");
        return;
    }
    check_tcp("::1");
}

static void test_new_fd(void)
{
    g_autofree char *path = tmp_path("new-fd.sock");
    g_autoptr(SocketAddress) addr = unix_addr(path, false);
    QIOChannelSocket *a, *b, *lsn;
    Error *err = NULL;
    int sv[2], pipefd[2], lfd;
    Pair p;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    a = qio_channel_socket_new_fd(sv[0], &error_abort);
    b = qio_channel_socket_new_fd(sv[1], &error_abort);
    g_assert_cmpint(a->fd, ==, sv[0]);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(a),
                                          QIO_CHANNEL_FEATURE_FD_PASS));
    g_assert_false(qio_channel_has_feature(QIO_CHANNEL(a),
                                           QIO_CHANNEL_FEATURE_LISTEN));
    p = (Pair) { .src = a, .dst = b };
    check_both_ways(&p, 64 * 1024);
    object_unref(a);
    object_unref(b);
    /* The channels owned the fds. */
    g_assert_cmpint(fcntl(sv[0], F_GETFD), ==, -1);
    g_assert_cmpint(fcntl(sv[1], F_GETFD), ==, -1);

    /* Not a socket: refused, and the fd stays the caller's. */
    g_assert_cmpint(pipe(pipefd), ==, 0);
    g_assert_null(qio_channel_socket_new_fd(pipefd[0], &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "not an open socket"));
    error_free(err);
    g_assert_cmpint(fcntl(pipefd[0], F_GETFD), >=, 0);
    close(pipefd[0]);
    close(pipefd[1]);

    /* A listening socket gets LISTEN and keeps its path on close. */
    lfd = socket_listen(addr, 1, &error_abort);
    lsn = qio_channel_socket_new_fd(lfd, &error_abort);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(lsn),
                                          QIO_CHANNEL_FEATURE_LISTEN));
    object_unref(lsn);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    unlink(path);
}

/* --- fd passing ---------------------------------------------------------- */

static int open_temp_with(const char *name, const char *content)
{
    g_autofree char *path = tmp_path(name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, content, strlen(content)), ==,
                    (ssize_t)strlen(content));
    unlink(path);
    return fd;
}

static void check_fd_content(int fd, const char *content)
{
    char buf[64] = "";
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    g_assert_cmpint(n, ==, (ssize_t)strlen(content));
    g_assert_cmpstr(buf, ==, content);
}

static void pass_fds(QIOChannel *from, QIOChannel *to, const char *tag)
{
    static const char *const contents[] = {
        "first file", "second file, longer", "third",
    };
    char msg[] = "fds!";
    char got[sizeof(msg)] = "";
    struct iovec out = { .iov_base = msg, .iov_len = 4 };
    struct iovec in = { .iov_base = got, .iov_len = 4 };
    int fds[3];
    int *rfds = NULL;
    size_t nrfds = 0, i;

    for (i = 0; i < 3; i++) {
        g_autofree char *name = g_strdup_printf("%s-%zu", tag, i);

        fds[i] = open_temp_with(name, contents[i]);
    }
    g_assert_cmpint(qio_channel_writev_full(from, &out, 1, fds, 3, 0,
                                            &error_abort), ==, 4);
    for (i = 0; i < 3; i++) {
        close(fds[i]);
    }

    g_assert_cmpint(qio_channel_readv_full(to, &in, 1, &rfds, &nrfds, 0,
                                           &error_abort), ==, 4);
    g_assert_cmpstr(got, ==, "fds!");
    g_assert_cmpuint(nrfds, ==, 3);
    for (i = 0; i < 3; i++) {
        g_assert_cmpint(fcntl(rfds[i], F_GETFD) & FD_CLOEXEC, ==,
                        FD_CLOEXEC);
        check_fd_content(rfds[i], contents[i]);
        close(rfds[i]);
    }
    g_free(rfds);
}

static void test_fd_pass(void)
{
    g_autofree char *path = tmp_path("fd-pass.sock");
    g_autoptr(SocketAddress) addr = unix_addr(path, false);
    Pair p;

    pair_open(&p, addr);
    pass_fds(QIO_CHANNEL(p.src), QIO_CHANNEL(p.dst), "ab");
    pass_fds(QIO_CHANNEL(p.dst), QIO_CHANNEL(p.src), "ba");
    /* Data still flows normally afterwards. */
    check_both_ways(&p, 4096);
    pair_close(&p);
}

static void test_fd_pass_more_than_expected(void)
{
    g_autofree char *path = tmp_path("fd-more.sock");
    g_autoptr(SocketAddress) addr = unix_addr(path, false);
    char byte = 'x';
    struct iovec out = { .iov_base = &byte, .iov_len = 1 };
    struct iovec in = { .iov_base = &byte, .iov_len = 1 };
    int file = open_temp_with("more", "shared file");
    int fds[7] = { file, file, file, file, file, file, file };
    int *rfds = NULL;
    size_t nrfds = 0, i;
    Pair p;

    pair_open(&p, addr);
    g_assert_cmpint(qio_channel_writev_full(QIO_CHANNEL(p.src), &out, 1,
                                            fds, 7, 0, &error_abort), ==, 1);
    g_assert_cmpint(qio_channel_readv_full(QIO_CHANNEL(p.dst), &in, 1, &rfds,
                                           &nrfds, 0, &error_abort), ==, 1);
    /* All of them are kept, each a descriptor of its own. */
    g_assert_cmpuint(nrfds, ==, 7);
    for (i = 0; i < nrfds; i++) {
        g_assert_cmpint(rfds[i], !=, file);
        check_fd_content(rfds[i], "shared file");
        close(rfds[i]);
    }
    g_free(rfds);
    close(file);
    pair_close(&p);
}

static void test_fd_pass_not_wanted(void)
{
    g_autofree char *path = tmp_path("fd-unwanted.sock");
    g_autoptr(SocketAddress) addr = unix_addr(path, false);
    char buf[4];
    struct iovec out = { .iov_base = (char *)"data", .iov_len = 4 };
    int file = open_temp_with("unwanted", "x");
    int before;
    Pair p;

    pair_open(&p, addr);
    before = count_open_fds();
    g_assert_cmpint(qio_channel_writev_full(QIO_CHANNEL(p.src), &out, 1,
                                            &file, 1, 0, &error_abort), ==, 4);
    /* A reader that does not take descriptors does not leak them. */
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(p.dst), buf, 4,
                                     &error_abort), ==, 4);
    g_assert_true(memcmp(buf, "data", 4) == 0);
    g_assert_cmpint(count_open_fds(), ==, before);
    close(file);
    pair_close(&p);
}

static void test_fd_pass_refused(void)
{
    g_autoptr(SocketAddress) addr = inet_addr("127.0.0.1", "0");
    g_autofree char *path = tmp_path("fd-many.sock");
    g_autoptr(SocketAddress) uaddr = unix_addr(path, false);
    struct iovec iov = { .iov_base = (char *)"x", .iov_len = 1 };
    int fds[SOCKET_MAX_FDS + 1];
    int *rfds = NULL;
    size_t nrfds = 0, i;
    Error *err = NULL;
    Pair p;

    /* TCP cannot pass descriptors, either way. */
    pair_open(&p, addr);
    fds[0] = 0;
    g_assert_cmpint(qio_channel_writev_full(QIO_CHANNEL(p.src), &iov, 1,
                                            fds, 1, 0, &err), ==, -1);
    g_assert_nonnull(err);
    error_free(err);
    err = NULL;
    g_assert_cmpint(qio_channel_readv_full(QIO_CHANNEL(p.dst), &iov, 1,
                                           &rfds, &nrfds, 0, &err), ==, -1);
    g_assert_nonnull(err);
    error_free(err);
    err = NULL;
    g_assert_null(rfds);
    pair_close(&p);

    /* More than a message can carry. */
    pair_open(&p, uaddr);
    for (i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = 0;
    }
    g_assert_cmpint(qio_channel_writev_full(QIO_CHANNEL(p.src), &iov, 1,
                                            fds, G_N_ELEMENTS(fds), 0, &err),
                    ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "at most"));
    error_free(err);
    pair_close(&p);
}

/* --- async open ---------------------------------------------------------- */

typedef struct AsyncState {
    bool done;
    int destroyed;
    Object *source;
    char *error;
} AsyncState;

static void async_done(QIOTask *task, gpointer opaque)
{
    AsyncState *st = opaque;
    Error *err = NULL;

    st->source = qio_task_get_source(task);
    if (qio_task_propagate_error(task, &err)) {
        st->error = g_strdup(error_get_pretty(err));
        error_free(err);
    }
    st->done = true;
}

static void async_destroy(gpointer opaque)
{
    ((AsyncState *)opaque)->destroyed++;
}

static void async_wait(AsyncState *st)
{
    int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!st->done && g_get_monotonic_time() < end) {
        main_loop_wait(false);
    }
    g_assert_true(st->done);
    g_assert_cmpint(st->destroyed, ==, 1);
}

static void test_async_connect(void)
{
    g_autofree char *path = tmp_path("async.sock");
    g_autofree char *missing = tmp_path("missing.sock");
    g_autoptr(SocketAddress) addr = unix_addr(path, false);
    g_autoptr(SocketAddress) bad = unix_addr(missing, false);
    AsyncState lst = { 0 }, cst = { 0 }, fst = { 0 };
    Pair p = { 0 };

    p.lsn = qio_channel_socket_new();
    qio_channel_socket_listen_async(p.lsn, addr, 1, async_done, &lst,
                                    async_destroy, NULL);
    async_wait(&lst);
    g_assert_null(lst.error);
    g_assert_true(lst.source == OBJECT(p.lsn));
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p.lsn),
                                          QIO_CHANNEL_FEATURE_LISTEN));

    p.src = qio_channel_socket_new();
    qio_channel_socket_connect_async(p.src, addr, async_done, &cst,
                                     async_destroy, NULL);
    async_wait(&cst);
    g_assert_null(cst.error);
    g_assert_true(cst.source == OBJECT(p.src));
    g_assert_cmpint(p.src->fd, >=, 0);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p.src),
                                          QIO_CHANNEL_FEATURE_FD_PASS));
    p.dst = qio_channel_socket_accept(p.lsn, &error_abort);
    check_both_ways(&p, 64 * 1024);
    pair_close(&p);

    /* A failure comes back through the task. */
    p.src = qio_channel_socket_new();
    qio_channel_socket_connect_async(p.src, bad, async_done, &fst,
                                     async_destroy, NULL);
    async_wait(&fst);
    g_assert_nonnull(fst.error);
    g_assert_nonnull(strstr(fst.error, "Failed to connect"));
    g_assert_nonnull(strstr(fst.error, missing));
    g_assert_cmpint(p.src->fd, ==, -1);
    object_unref(p.src);
    g_free(fst.error);
    assert_ctx_clean(qemu_get_aio_context());
}

/* --- bulk data ----------------------------------------------------------- */

static void test_bulk_blocking(void)
{
    g_autofree char *path = tmp_path("bulk.sock");
    g_autoptr(SocketAddress) uaddr = unix_addr(path, false);
    g_autoptr(SocketAddress) taddr = inet_addr("127.0.0.1", "0");
    Pair p;

    pair_open(&p, uaddr);
    check_both_ways(&p, 8 * 1024 * 1024 + 17);
    pair_close(&p);
    pair_open(&p, taddr);
    check_both_ways(&p, 8 * 1024 * 1024 + 17);
    pair_close(&p);
}

static void check_nonblocking(QIOChannel *a, QIOChannel *b, size_t len)
{
    g_autofree uint8_t *out = g_malloc(len);
    g_autofree uint8_t *in = g_malloc0(len);
    g_autofree char *sum_out = NULL;
    g_autofree char *sum_in = NULL;
    size_t wr = 0, rd = 0;
    unsigned int blocked = 0;
    ssize_t n;

    fill_pattern(out, len, 3);
    sum_out = g_compute_checksum_for_data(G_CHECKSUM_SHA256, out, len);
    qio_channel_set_blocking(a, false, &error_abort);
    qio_channel_set_blocking(b, false, &error_abort);

    /* Nothing to read yet. */
    g_assert_cmpint(qio_channel_read(b, (char *)in, len, &error_abort), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    /* Fill the socket buffers until the writer would block. */
    for (;;) {
        n = qio_channel_write(a, (char *)out + wr, MIN(65536, len - wr),
                              &error_abort);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            break;
        }
        g_assert_cmpint(n, >, 0);
        wr += n;
        g_assert_cmpuint(wr, <, len);
    }
    /* Then alternate, one thread doing both ends. */
    while (rd < len) {
        if (wr < len) {
            n = qio_channel_write(a, (char *)out + wr, MIN(65536, len - wr),
                                  &error_abort);
            if (n == QIO_CHANNEL_ERR_BLOCK) {
                blocked++;
            } else {
                g_assert_cmpint(n, >, 0);
                wr += n;
            }
        }
        n = qio_channel_read(b, (char *)in + rd, len - rd, &error_abort);
        if (n != QIO_CHANNEL_ERR_BLOCK) {
            g_assert_cmpint(n, >, 0);
            rd += n;
        }
    }
    g_assert_cmpuint(wr, ==, len);
    sum_in = g_compute_checksum_for_data(G_CHECKSUM_SHA256, in, len);
    g_assert_cmpstr(sum_in, ==, sum_out);
    g_assert_true(memcmp(in, out, len) == 0);
    qio_channel_set_blocking(a, true, &error_abort);
    qio_channel_set_blocking(b, true, &error_abort);
    g_assert_cmpint(fcntl(QIO_CHANNEL_SOCKET(a)->fd, F_GETFL) & O_NONBLOCK,
                    ==, 0);
}

static void test_bulk_nonblocking(void)
{
    g_autofree char *path = tmp_path("bulk-nb.sock");
    g_autoptr(SocketAddress) uaddr = unix_addr(path, false);
    g_autoptr(SocketAddress) taddr = inet_addr("127.0.0.1", "0");
    Pair p;

    pair_open(&p, uaddr);
    check_nonblocking(QIO_CHANNEL(p.src), QIO_CHANNEL(p.dst),
                      4 * 1024 * 1024 + 5);
    pair_close(&p);
    pair_open(&p, taddr);
    check_nonblocking(QIO_CHANNEL(p.dst), QIO_CHANNEL(p.src),
                      4 * 1024 * 1024 + 5);
    pair_close(&p);
}

/* --- shutdown, peek, accept, fd handlers --------------------------------- */

static void test_shutdown(void)
{
    g_autoptr(SocketAddress) addr = inet_addr("127.0.0.1", "0");
    char buf[16];
    Pair p;

    pair_open(&p, addr);
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(p.src), "last", 4,
                                      &error_abort), ==, 4);
    g_assert_cmpint(qio_channel_shutdown(QIO_CHANNEL(p.src),
                                         QIO_CHANNEL_SHUTDOWN_WRITE,
                                         &error_abort), ==, 0);
    /* The data before the shutdown, then end of file. */
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(p.dst), buf, 4,
                                         &error_abort), ==, 0);
    g_assert_true(memcmp(buf, "last", 4) == 0);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(p.dst), buf, sizeof(buf),
                                     &error_abort), ==, 0);
    /* The other direction still works. */
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(p.dst), "back", 4,
                                      &error_abort), ==, 4);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(p.src), buf, 4,
                                         &error_abort), ==, 0);
    g_assert_true(memcmp(buf, "back", 4) == 0);
    g_assert_cmpint(qio_channel_shutdown(QIO_CHANNEL(p.dst),
                                         QIO_CHANNEL_SHUTDOWN_BOTH,
                                         &error_abort), ==, 0);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(p.src), buf, sizeof(buf),
                                     &error_abort), ==, 0);
    pair_close(&p);
}

static void test_peek(void)
{
    g_autofree char *path = tmp_path("peek.sock");
    g_autoptr(SocketAddress) addr = unix_addr(path, false);
    char buf[9] = "";
    struct iovec iov = { .iov_base = buf, .iov_len = 8 };
    Pair p;

    pair_open(&p, addr);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p.dst),
                                          QIO_CHANNEL_FEATURE_READ_MSG_PEEK));
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(p.src), "peekaboo", 8,
                                          &error_abort), ==, 0);
    g_assert_cmpint(qio_channel_readv_full(QIO_CHANNEL(p.dst), &iov, 1, NULL,
                                           NULL,
                                           QIO_CHANNEL_READ_FLAG_MSG_PEEK,
                                           &error_abort), ==, 8);
    g_assert_cmpstr(buf, ==, "peekaboo");
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(p.dst), buf, 8,
                                         &error_abort), ==, 0);
    g_assert_cmpstr(buf, ==, "peekaboo");
    pair_close(&p);
}

static void test_accept_nonblocking(void)
{
    g_autoptr(SocketAddress) addr = inet_addr("127.0.0.1", "0");
    QIOChannelSocket *lsn = qio_channel_socket_new();
    QIOChannelSocket *cioc;
    Error *err = NULL;

    qio_channel_socket_listen_sync(lsn, addr, 1, &error_abort);
    qio_channel_set_blocking(QIO_CHANNEL(lsn), false, &error_abort);
    cioc = qio_channel_socket_accept(lsn, &err);
    g_assert_null(cioc);
    g_assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(error_get_pretty(err), "accept"));
    error_free(err);
    object_unref(lsn);
}

typedef struct ReadHandler {
    QIOChannel *ioc;
    char buf[16];
    int calls;
} ReadHandler;

static void read_handler(void *opaque)
{
    ReadHandler *rh = opaque;

    rh->calls++;
    g_assert_cmpint(qio_channel_read(rh->ioc, rh->buf, 5, &error_abort), ==,
                    5);
}

static void test_aio_fd_handler(void)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autofree char *path = tmp_path("aio.sock");
    g_autoptr(SocketAddress) addr = unix_addr(path, false);
    ReadHandler rh = { 0 };
    Pair p;

    pair_open(&p, addr);
    rh.ioc = QIO_CHANNEL(p.dst);
    qio_channel_set_aio_fd_handler(QIO_CHANNEL(p.dst), ctx, read_handler,
                                   NULL, NULL, &rh);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(rh.calls, ==, 0);
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(p.src), "hello", 5,
                                          &error_abort), ==, 0);
    while (!rh.calls) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(rh.calls, ==, 1);
    g_assert_true(memcmp(rh.buf, "hello", 5) == 0);
    qio_channel_set_aio_fd_handler(QIO_CHANNEL(p.dst), ctx, NULL, NULL, NULL,
                                   NULL);
    assert_ctx_clean(ctx);
    pair_close(&p);
}

/* --- addresses ----------------------------------------------------------- */

static void test_parse_forms(void)
{
    g_autofree char *longish = g_strnfill(100, 'p');
    g_autofree char *unix_text = g_strdup_printf("unix:/%s", longish);
    SocketAddress *addr;

    addr = socket_parse("unix:/run/qemu.sock", &error_abort);
    g_assert_cmpint(addr->type, ==, SOCKET_ADDRESS_TYPE_UNIX);
    g_assert_cmpstr(addr->u.q_unix.path, ==, "/run/qemu.sock");
    g_assert_false(addr->u.q_unix.abstract);
    qapi_free_SocketAddress(addr);

    addr = socket_parse(unix_text, &error_abort);
    g_assert_cmpuint(strlen(addr->u.q_unix.path), ==, 101);
    qapi_free_SocketAddress(addr);

    addr = socket_parse("fd:3", &error_abort);
    g_assert_cmpint(addr->type, ==, SOCKET_ADDRESS_TYPE_FD);
    g_assert_cmpstr(addr->u.fd.str, ==, "3");
    qapi_free_SocketAddress(addr);

    addr = socket_parse("fd:monitor-name", &error_abort);
    g_assert_cmpint(addr->type, ==, SOCKET_ADDRESS_TYPE_FD);
    g_assert_cmpstr(addr->u.fd.str, ==, "monitor-name");
    qapi_free_SocketAddress(addr);

    addr = socket_parse("127.0.0.1:10809", &error_abort);
    g_assert_cmpint(addr->type, ==, SOCKET_ADDRESS_TYPE_INET);
    g_assert_cmpstr(addr->u.inet.host, ==, "127.0.0.1");
    g_assert_cmpstr(addr->u.inet.port, ==, "10809");
    g_assert_false(addr->u.inet.has_to);
    g_assert_false(addr->u.inet.has_ipv4);
    g_assert_false(addr->u.inet.has_ipv6);
    qapi_free_SocketAddress(addr);

    addr = socket_parse("tcp:localhost:nbd", &error_abort);
    g_assert_cmpstr(addr->u.inet.host, ==, "localhost");
    g_assert_cmpstr(addr->u.inet.port, ==, "nbd");
    qapi_free_SocketAddress(addr);

    addr = socket_parse("[::1]:65535", &error_abort);
    g_assert_cmpstr(addr->u.inet.host, ==, "::1");
    g_assert_cmpstr(addr->u.inet.port, ==, "65535");
    qapi_free_SocketAddress(addr);

    addr = socket_parse(":0", &error_abort);
    g_assert_cmpstr(addr->u.inet.host, ==, "");
    g_assert_cmpstr(addr->u.inet.port, ==, "0");
    qapi_free_SocketAddress(addr);

    addr = socket_parse("[::]:5000,to=5010,ipv4=on,ipv6,keep-alive=off,"
                        "numeric=on", &error_abort);
    g_assert_cmpstr(addr->u.inet.host, ==, "::");
    g_assert_cmpstr(addr->u.inet.port, ==, "5000");
    g_assert_true(addr->u.inet.has_to);
    g_assert_cmpuint(addr->u.inet.to, ==, 5010);
    g_assert_true(addr->u.inet.has_ipv4 && addr->u.inet.ipv4);
    g_assert_true(addr->u.inet.has_ipv6 && addr->u.inet.ipv6);
    g_assert_true(addr->u.inet.has_keep_alive);
    g_assert_false(addr->u.inet.keep_alive);
    g_assert_true(addr->u.inet.has_numeric && addr->u.inet.numeric);
    qapi_free_SocketAddress(addr);
}

static void check_parse_error(const char *str, const char *expect)
{
    Error *err = NULL;

    g_assert_null(socket_parse(str, &err));
    g_assert_nonnull(err);
    if (!strstr(error_get_pretty(err), expect)) {
        g_printerr("socket_parse(\"%s\"): '%s' lacks '%s'\n", str,
                   error_get_pretty(err), expect);
        g_assert_not_reached();
    }
    error_free(err);
}

static void test_parse_errors(void)
{
    g_autofree char *toolong = g_strnfill(108, 'x');
    g_autofree char *unix_toolong = g_strdup_printf("unix:%s", toolong);

    check_parse_error("unix:", "empty path");
    check_parse_error(unix_toolong, "too long");
    check_parse_error("fd:", "missing file descriptor");
    check_parse_error("vsock:2:1234", "not supported");
    check_parse_error("localhost", "missing ':PORT'");
    check_parse_error("localhost:", "missing port");
    check_parse_error("localhost:,to=5", "missing port");
    check_parse_error("localhost:65536", "invalid port");
    check_parse_error("localhost:12ab", "invalid port");
    check_parse_error("localhost:-1", "invalid port");
    check_parse_error("localhost:a_b", "invalid port");
    check_parse_error("[::1:80", "missing ']'");
    check_parse_error("[::1]80", "missing ':PORT'");
    check_parse_error("::1:80", "brackets");
    check_parse_error("host:80,bogus=1", "unknown option 'bogus'");
    check_parse_error("host:80,to=x", "'to' needs a port");
    check_parse_error("host:80,to=70000", "'to' needs a port");
    check_parse_error("host:80,to=70", "below the port");
    check_parse_error("host:http,to=90", "numeric port");
    check_parse_error("host:80,ipv4=maybe", "'on' or 'off'");
}

static void test_to_string(void)
{
    static const char *const forms[] = {
        "unix:/tmp/some dir/sock",
        "fd:7",
        "fd:name",
        "127.0.0.1:80",
        "[::1]:10809",
        "[fe80::1%lo]:22",
        ":4000",
        "example.org:nbd",
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(forms); i++) {
        g_autoptr(SocketAddress) addr = socket_parse(forms[i], &error_abort);
        g_autoptr(SocketAddress) copy = socket_address_dup(addr);
        g_autofree char *text = socket_address_to_string(addr);
        g_autofree char *text2 = socket_address_to_string(copy);

        g_assert_cmpstr(text, ==, forms[i]);
        g_assert_cmpstr(text2, ==, forms[i]);
    }
}

static void test_fd_address(void)
{
    g_autoptr(SocketAddress) addr = NULL;
    g_autofree char *text = NULL;
    Error *err = NULL;
    int sv[2], pipefd[2], fd;
    int listening = 0;
    socklen_t len = sizeof(listening);

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    text = g_strdup_printf("fd:%d", sv[0]);
    addr = socket_parse(text, &error_abort);
    g_assert_cmpint(socket_connect(addr, &error_abort), ==, sv[0]);
    qapi_free_SocketAddress(g_steal_pointer(&addr));
    g_free(g_steal_pointer(&text));
    close(sv[0]);
    close(sv[1]);

    /* An unbound TCP socket is put in the listening state. */
    fd = qemu_socket(AF_INET, SOCK_STREAM, 0);
    text = g_strdup_printf("fd:%d", fd);
    addr = socket_parse(text, &error_abort);
    g_assert_cmpint(socket_listen(addr, 1, &error_abort), ==, fd);
    g_assert_cmpint(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
                               &len), ==, 0);
    g_assert_true(listening);
    close(fd);
    qapi_free_SocketAddress(g_steal_pointer(&addr));
    g_free(g_steal_pointer(&text));

    addr = socket_parse("fd:my-socket", &error_abort);
    g_assert_cmpint(socket_connect(addr, &err), ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "names are not "
                            "supported"));
    error_free(err);
    err = NULL;
    qapi_free_SocketAddress(g_steal_pointer(&addr));

    g_assert_cmpint(pipe(pipefd), ==, 0);
    text = g_strdup_printf("fd:%d", pipefd[0]);
    addr = socket_parse(text, &error_abort);
    g_assert_cmpint(socket_connect(addr, &err), ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "not an open socket"));
    error_free(err);
    close(pipefd[0]);
    close(pipefd[1]);
}

static void test_unix_stale_and_occupied(void)
{
    g_autofree char *path = tmp_path("stale.sock");
    g_autoptr(SocketAddress) addr = unix_addr(path, false);
    g_autofree char *content = NULL;
    g_autofree char *toolong = g_strnfill(120, 'y');
    g_autoptr(SocketAddress) longaddr = unix_addr(toolong, false);
    Error *err = NULL;
    int fd;

    /* A socket left behind by a dead listener does not stop a new one. */
    fd = socket_listen(addr, 1, &error_abort);
    close(fd);
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    fd = socket_listen(addr, 1, &error_abort);
    close(fd);
    unlink(path);

    /* Anything else at the path is left alone. */
    g_assert_true(g_file_set_contents(path, "precious", -1, NULL));
    g_assert_cmpint(socket_listen(addr, 1, &err), ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "Failed to bind"));
    error_free(err);
    err = NULL;
    g_assert_true(g_file_get_contents(path, &content, NULL, NULL));
    g_assert_cmpstr(content, ==, "precious");
    unlink(path);

    g_assert_cmpint(socket_listen(longaddr, 1, &err), ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "too long"));
    error_free(err);
    err = NULL;
    g_assert_cmpint(socket_connect(longaddr, &err), ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "too long"));
    error_free(err);
}

static void connect_and_close(const char *host, const char *port,
                              bool expect_ok)
{
    g_autoptr(SocketAddress) addr = inet_addr(host, port);
    Error *err = NULL;
    int fd = socket_connect(addr, expect_ok ? &error_abort : &err);

    if (expect_ok) {
        g_assert_cmpint(fd, >=, 0);
        close(fd);
    } else {
        g_assert_cmpint(fd, ==, -1);
        g_assert_nonnull(strstr(error_get_pretty(err), "Failed to connect"));
        error_free(err);
    }
}

static void test_inet_families(void)
{
    g_autoptr(SocketAddress) any6 = NULL;
    g_autoptr(SocketAddress) only6 = NULL;
    g_autoptr(SocketAddress) any4 = inet_addr("0.0.0.0", "0");
    g_autoptr(SocketAddress) local = NULL;
    int fd;

    fd = socket_listen(any4, 1, &error_abort);
    local = socket_local_address(fd, &error_abort);
    g_assert_cmpstr(local->u.inet.host, ==, "0.0.0.0");
    connect_and_close("127.0.0.1", local->u.inet.port, true);
    if (host_has_ipv6()) {
        connect_and_close("::1", local->u.inet.port, false);
    }
    close(fd);
    qapi_free_SocketAddress(g_steal_pointer(&local));

    if (!host_has_ipv6()) {
        g_test_skip("this host cannot bind to ::1 (no IPv6)");
        return;
    }
    /* "::" listens on both families... */
    any6 = inet_addr("::", "0");
    fd = socket_listen(any6, 1, &error_abort);
    local = socket_local_address(fd, &error_abort);
    connect_and_close("127.0.0.1", local->u.inet.port, true);
    connect_and_close("::1", local->u.inet.port, true);
    close(fd);
    qapi_free_SocketAddress(g_steal_pointer(&local));

    /* ...unless IPv6 alone is asked for. */
    only6 = socket_parse("[::]:0,ipv6=on", &error_abort);
    fd = socket_listen(only6, 1, &error_abort);
    local = socket_local_address(fd, &error_abort);
    connect_and_close("::1", local->u.inet.port, true);
    connect_and_close("127.0.0.1", local->u.inet.port, false);
    close(fd);
}

static void test_inet_port_range(void)
{
    g_autoptr(SocketAddress) first = inet_addr("127.0.0.1", "0");
    g_autoptr(SocketAddress) local = NULL;
    g_autoptr(SocketAddress) ranged = NULL;
    g_autoptr(SocketAddress) local2 = NULL;
    g_autofree char *text = NULL;
    int spare[100];
    unsigned int port, port2, nspare = 0;
    int fd, fd2;

    /*
     * A range of 20 ports above the first must exist: while the kernel
     * hands out a port too close to 65535, keep it (so that it is not
     * handed out again) and ask for another.
     */
    for (;;) {
        fd = socket_listen(first, 1, &error_abort);
        local = socket_local_address(fd, &error_abort);
        port = atoi(local->u.inet.port);
        if (port <= 65535 - 20 || nspare == G_N_ELEMENTS(spare)) {
            break;
        }
        spare[nspare++] = fd;
        qapi_free_SocketAddress(g_steal_pointer(&local));
    }
    while (nspare) {
        close(spare[--nspare]);
    }
    if (port > 65535 - 20) {
        close(fd);
        g_test_skip("net.ipv4.ip_local_port_range gives only ports above "
                    "65515: no room for a range of 20 above one");
        return;
    }
    /* The first port is taken: the range moves on to a free one. */
    text = g_strdup_printf("127.0.0.1:%u,to=%u", port, port + 20);
    ranged = socket_parse(text, &error_abort);
    fd2 = socket_listen(ranged, 1, &error_abort);
    local2 = socket_local_address(fd2, &error_abort);
    port2 = atoi(local2->u.inet.port);
    g_assert_cmpuint(port2, >, port);
    g_assert_cmpuint(port2, <=, port + 20);
    close(fd2);
    close(fd);
}

static void test_resolve_listen(void)
{
    g_autoptr(SocketAddress) addr = socket_parse(":0,to=0", &error_abort);
    g_autofree char *path = tmp_path("resolve.sock");
    g_autoptr(SocketAddress) uaddr = unix_addr(path, false);
    SocketAddress **addrs = NULL;
    size_t n = 0, i;

    g_assert_cmpint(socket_address_resolve_listen(addr, &n, &addrs,
                                                  &error_abort), ==, 0);
    g_assert_cmpuint(n, >=, 1);
    for (i = 0; i < n; i++) {
        g_assert_cmpint(addrs[i]->type, ==, SOCKET_ADDRESS_TYPE_INET);
        /* Numeric wildcard addresses, with the options kept. */
        g_assert_true(!strcmp(addrs[i]->u.inet.host, "0.0.0.0") ||
                      !strcmp(addrs[i]->u.inet.host, "::"));
        g_assert_cmpstr(addrs[i]->u.inet.port, ==, "0");
        g_assert_true(addrs[i]->u.inet.has_to);
        g_assert_true(addrs[i]->u.inet.numeric);
        qapi_free_SocketAddress(addrs[i]);
    }
    g_free(addrs);

    g_assert_cmpint(socket_address_resolve_listen(uaddr, &n, &addrs,
                                                  &error_abort), ==, 0);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpstr(addrs[0]->u.q_unix.path, ==, path);
    qapi_free_SocketAddress(addrs[0]);
    g_free(addrs);
}

static void test_misc_helpers(void)
{
    int sv[2], pipefd[2];

    g_assert_cmpint(socket_init(), ==, 0);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_assert_cmpint(pipe(pipefd), ==, 0);
    g_assert_true(fd_is_socket(sv[0]));
    g_assert_false(fd_is_socket(pipefd[0]));
    g_assert_cmpint(qemu_socket_set_nonblock(sv[0]), ==, 0);
    g_assert_cmpint(fcntl(sv[0], F_GETFL) & O_NONBLOCK, ==, O_NONBLOCK);
    g_assert_cmpint(qemu_socket_set_block(sv[0]), ==, 0);
    g_assert_cmpint(fcntl(sv[0], F_GETFL) & O_NONBLOCK, ==, 0);
    /* TCP options fail on a UNIX socket, and say so. */
    g_assert_cmpint(socket_set_nodelay(sv[0]), ==, -1);
    close(sv[0]);
    close(sv[1]);
    close(pipefd[0]);
    close(pipefd[1]);
    g_assert_false(fd_is_socket(pipefd[0]));
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    tmpdir = g_dir_make_tmp("test-io-channel-socket-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);

    g_test_add_func("/io/channel/socket/unix-path", test_unix_path);
    g_test_add_func("/io/channel/socket/unix-path-finalize",
                    test_unix_path_finalize_unlinks);
    g_test_add_func("/io/channel/socket/unix-abstract", test_unix_abstract);
    g_test_add_func("/io/channel/socket/tcp-ipv4", test_tcp_ipv4);
    g_test_add_func("/io/channel/socket/tcp-ipv6", test_tcp_ipv6);
    g_test_add_func("/io/channel/socket/new-fd", test_new_fd);
    g_test_add_func("/io/channel/socket/fd-pass", test_fd_pass);
    g_test_add_func("/io/channel/socket/fd-pass-more",
                    test_fd_pass_more_than_expected);
    g_test_add_func("/io/channel/socket/fd-pass-not-wanted",
                    test_fd_pass_not_wanted);
    g_test_add_func("/io/channel/socket/fd-pass-refused",
                    test_fd_pass_refused);
    g_test_add_func("/io/channel/socket/async", test_async_connect);
    g_test_add_func("/io/channel/socket/bulk-blocking", test_bulk_blocking);
    g_test_add_func("/io/channel/socket/bulk-nonblocking",
                    test_bulk_nonblocking);
    g_test_add_func("/io/channel/socket/shutdown", test_shutdown);
    g_test_add_func("/io/channel/socket/peek", test_peek);
    g_test_add_func("/io/channel/socket/accept-nonblocking",
                    test_accept_nonblocking);
    g_test_add_func("/io/channel/socket/aio-fd-handler",
                    test_aio_fd_handler);
    g_test_add_func("/io/socket/parse", test_parse_forms);
    g_test_add_func("/io/socket/parse-errors", test_parse_errors);
    g_test_add_func("/io/socket/to-string", test_to_string);
    g_test_add_func("/io/socket/fd-address", test_fd_address);
    g_test_add_func("/io/socket/unix-stale", test_unix_stale_and_occupied);
    g_test_add_func("/io/socket/inet-families", test_inet_families);
    g_test_add_func("/io/socket/inet-port-range", test_inet_port_range);
    g_test_add_func("/io/socket/resolve-listen", test_resolve_listen);
    g_test_add_func("/io/socket/helpers", test_misc_helpers);

    ret = g_test_run();
    rmdir(tmpdir);
    g_free(tmpdir);
    return ret;
}
