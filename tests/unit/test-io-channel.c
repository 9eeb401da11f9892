/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The channel contract: per-direction waits in the waiting coroutine's own
 * AioContext, across iothreads; a reader woken from another thread resumes
 * in its own thread; unref with a parked waiter aborts; the reader and the
 * writer in two threads share no unsynchronised state; both contexts NULL
 * touch nothing; one fd waited on in two contexts keeps both
 * registrations; and no wake of a reader is lost, be it sent from the
 * reader's context or raced from another thread against a wait that is
 * just starting. Run once per fd monitor (the "-io_uring" and "-epoll"
 * variants; see test_fdmon_init()).
 */
#include "qemu/osdep.h"
#include <poll.h>
#include <sched.h>
#include "io/channel-socket.h"
#include "io/channel-util.h"
#include "qemu/main-loop.h"
#include "sysemu/iothread.h"
#include "qapi/error.h"
#include "config-host.h"
#include "test-util.h"

#if CONFIG_TSAN || CONFIG_ASAN
#define STREAM_BYTES (32u << 20)     /* sanitizers are ~10x slower */
#else
#define STREAM_BYTES (256u << 20)
#endif

/* A non-blocking, follow-coroutine-ctx socket channel pair. */
static void make_pair(QIOChannel **a, QIOChannel **b, int bufsize)
{
    int sv[2];
    int i;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
    for (i = 0; i < 2 && bufsize; i++) {
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
        setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof(bufsize));
    }
    *a = QIO_CHANNEL(qio_channel_socket_new_fd(sv[0], &error_abort));
    *b = QIO_CHANNEL(qio_channel_socket_new_fd(sv[1], &error_abort));
    for (i = 0; i < 2; i++) {
        QIOChannel *ioc = i ? *b : *a;
        qio_channel_set_blocking(ioc, false, &error_abort);
        qio_channel_set_follow_coroutine_ctx(ioc, true);
    }
}

static int channel_fd(QIOChannel *ioc)
{
    return QIO_CHANNEL_SOCKET(ioc)->fd;
}

/* Is a reader parked, in qio_channel_yield() or in a context receive? */
static bool reader_parked(QIOChannel *ioc)
{
    return qatomic_load_acquire(&ioc->read_coroutine) ||
           qatomic_load_acquire(&ioc->read_recv_id);
}

/* Deterministic byte stream: xorshift64 seeded per stream. */
static void fill_stream(uint64_t *state, uint8_t *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        uint64_t x = *state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *state = x;
        buf[i] = (uint8_t)x;
    }
}

/* --- (a) reader in iothread A, writer in iothread B, both ways --------- */

typedef struct Stream {
    QIOChannel *ioc;
    AioContext *ctx;        /* where this coroutine must run */
    uint64_t seed;
    size_t total;
    size_t done_bytes;
    bool ok;
    bool finished;          /* atomic */
    unsigned int seed_chunks;
} Stream;

static void coroutine_fn stream_writer(void *opaque)
{
    Stream *s = opaque;
    uint64_t state = s->seed;
    uint64_t sizes = s->seed * 31 + 7;
    g_autofree uint8_t *buf = g_malloc(65536);

    s->ok = true;
    while (s->done_bytes < s->total) {
        size_t len, half;
        struct iovec iov[2];

        fill_stream(&sizes, (uint8_t *)&len, sizeof(len));
        len = 1 + len % 65536;
        len = MIN(len, s->total - s->done_bytes);
        fill_stream(&state, buf, len);
        half = len / 2;
        iov[0] = (struct iovec){ buf, half };
        iov[1] = (struct iovec){ buf + half, len - half };
        if (qio_channel_writev_all(s->ioc, iov, 2, NULL) < 0) {
            s->ok = false;
            break;
        }
        g_assert_true(qemu_get_current_aio_context() == s->ctx);
        s->done_bytes += len;
    }
    qatomic_store_release(&s->finished, true);
}

static void coroutine_fn stream_reader(void *opaque)
{
    Stream *s = opaque;
    uint64_t state = s->seed;
    uint64_t sizes = s->seed * 17 + 3;
    g_autofree uint8_t *buf = g_malloc(65536);
    g_autofree uint8_t *want = g_malloc(65536);

    s->ok = true;
    while (s->done_bytes < s->total) {
        size_t len;

        fill_stream(&sizes, (uint8_t *)&len, sizeof(len));
        len = 1 + len % 65536;
        len = MIN(len, s->total - s->done_bytes);
        if (qio_channel_read_all(s->ioc, (char *)buf, len, NULL) < 0) {
            s->ok = false;
            break;
        }
        g_assert_true(qemu_get_current_aio_context() == s->ctx);
        fill_stream(&state, want, len);
        if (memcmp(buf, want, len) != 0) {
            /* Make the writer fail too rather than wait forever. */
            qio_channel_shutdown(s->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
            s->ok = false;
            break;
        }
        s->done_bytes += len;
    }
    qatomic_store_release(&s->finished, true);
}

static bool all_finished(Stream *s, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (!qatomic_load_acquire(&s[i].finished)) {
            return false;
        }
    }
    return true;
}

static void test_reader_writer_two_iothreads(void)
{
    IOThread *ta = iothread_create("rw-a", &error_abort);
    IOThread *tb = iothread_create("rw-b", &error_abort);
    AioContext *a = iothread_get_aio_context(ta);
    AioContext *b = iothread_get_aio_context(tb);
    QIOChannel *x, *y;
    Stream s[4];
    int64_t deadline = g_get_monotonic_time() + 50 * G_USEC_PER_SEC;
    int i;

    make_pair(&x, &y, 4096);
    /*
     * x: read in A, written in B. y: read in B, written in A.
     * Stream 1 flows x -> y, stream 2 flows y -> x.
     */
    s[0] = (Stream){ .ioc = x, .ctx = a, .seed = 2, .total = STREAM_BYTES };
    s[1] = (Stream){ .ioc = y, .ctx = a, .seed = 2, .total = STREAM_BYTES };
    s[2] = (Stream){ .ioc = y, .ctx = b, .seed = 1, .total = STREAM_BYTES };
    s[3] = (Stream){ .ioc = x, .ctx = b, .seed = 1, .total = STREAM_BYTES };
    aio_co_enter(a, qemu_coroutine_create(stream_reader, &s[0]));
    aio_co_enter(a, qemu_coroutine_create(stream_writer, &s[1]));
    aio_co_enter(b, qemu_coroutine_create(stream_reader, &s[2]));
    aio_co_enter(b, qemu_coroutine_create(stream_writer, &s[3]));

    while (!all_finished(s, 4) && g_get_monotonic_time() < deadline) {
        g_usleep(10 * 1000);
    }
    g_assert_true(all_finished(s, 4));
    for (i = 0; i < 4; i++) {
        g_assert_true(s[i].ok);
        g_assert_cmpuint(s[i].done_bytes, ==, STREAM_BYTES);
    }
    iothread_destroy(ta);
    iothread_destroy(tb);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

/* --- (b) both directions waiting in the same context -------------------- */

typedef struct Waiter {
    QIOChannel *ioc;
    size_t len;
    char *buf;
    bool done;
    int ret;
} Waiter;

static void coroutine_fn read_waiter(void *opaque)
{
    Waiter *w = opaque;

    w->ret = qio_channel_read_all(w->ioc, w->buf, w->len, NULL);
    w->done = true;
}

/*
 * A reader that waits with qio_channel_yield() (an fd handler), never with
 * an io_uring read: the contract tests of the fd handler bookkeeping.
 */
static void coroutine_fn yield_read_waiter(void *opaque)
{
    Waiter *w = opaque;
    size_t got = 0;

    while (got < w->len) {
        ssize_t n = qio_channel_read(w->ioc, w->buf + got, w->len - got,
                                     NULL);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_yield(w->ioc, G_IO_IN);
            continue;
        }
        if (n <= 0) {
            w->ret = -1;
            w->done = true;
            return;
        }
        got += n;
    }
    w->ret = 0;
    w->done = true;
}

static void coroutine_fn write_waiter(void *opaque)
{
    Waiter *w = opaque;

    w->ret = qio_channel_write_all(w->ioc, w->buf, w->len, NULL);
    w->done = true;
}

/* Fills @ioc's socket until a write would block; returns bytes written. */
static size_t fill_socket(QIOChannel *ioc)
{
    char chunk[4096];
    size_t total = 0;

    memset(chunk, 'f', sizeof(chunk));
    for (;;) {
        ssize_t n = qio_channel_write(ioc, chunk, sizeof(chunk), NULL);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            return total;
        }
        g_assert_cmpint(n, >, 0);
        total += n;
    }
}

static void drain_bytes(QIOChannel *ioc, size_t len)
{
    char chunk[4096];

    /* The peer is non-blocking: poll the main context while we wait. */
    while (len) {
        ssize_t n = read(channel_fd(ioc), chunk, MIN(len, sizeof(chunk)));
        if (n < 0 && errno == EAGAIN) {
            aio_poll(qemu_get_aio_context(), false);
            g_usleep(100);
            continue;
        }
        g_assert_cmpint(n, >, 0);
        len -= n;
    }
}

static void poll_main(int rounds)
{
    int i;

    for (i = 0; i < rounds; i++) {
        aio_poll(qemu_get_aio_context(), false);
    }
}

static void test_same_context_write_keeps_read(void)
{
    AioContext *ctx = qemu_get_aio_context();
    QIOChannel *x, *y;
    char rbuf[4] = "", wbuf[100000];
    Waiter r, w;
    size_t filled;

    make_pair(&x, &y, 4096);
    filled = fill_socket(x);
    memset(wbuf, 'w', sizeof(wbuf));
    r = (Waiter){ .ioc = x, .len = 4, .buf = rbuf };
    w = (Waiter){ .ioc = x, .len = sizeof(wbuf), .buf = wbuf };
    qemu_coroutine_enter(qemu_coroutine_create(yield_read_waiter, &r));
    qemu_coroutine_enter(qemu_coroutine_create(write_waiter, &w));
    /* Both parked on one fd in one context: one handler with both. */
    g_assert_false(r.done);
    g_assert_false(w.done);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);
    g_assert_true(x->read_ctx == ctx && x->write_ctx == ctx);

    /* Let the writer finish; the reader's wait must survive it. */
    drain_bytes(y, filled + sizeof(wbuf));
    while (!w.done) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(w.ret, ==, 0);
    g_assert_false(r.done);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);
    g_assert_true(qatomic_read(&x->read_coroutine) != NULL);

    g_assert_cmpint(write(channel_fd(y), "ping", 4), ==, 4);
    while (!r.done) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(r.ret, ==, 0);
    g_assert_cmpmem(rbuf, 4, "ping", 4);
    assert_ctx_clean(ctx);

    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

static void test_same_context_read_keeps_write(void)
{
    AioContext *ctx = qemu_get_aio_context();
    QIOChannel *x, *y;
    char rbuf[4] = "", wbuf[100000];
    Waiter r, w;
    size_t filled;

    make_pair(&x, &y, 4096);
    filled = fill_socket(x);
    memset(wbuf, 'w', sizeof(wbuf));
    r = (Waiter){ .ioc = x, .len = 4, .buf = rbuf };
    w = (Waiter){ .ioc = x, .len = sizeof(wbuf), .buf = wbuf };
    /* The writer parks first this time. */
    qemu_coroutine_enter(qemu_coroutine_create(write_waiter, &w));
    qemu_coroutine_enter(qemu_coroutine_create(yield_read_waiter, &r));
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);

    g_assert_cmpint(write(channel_fd(y), "pong", 4), ==, 4);
    while (!r.done) {
        aio_poll(ctx, true);
    }
    g_assert_cmpmem(rbuf, 4, "pong", 4);
    /* The reader left; the writer still waits, its handler in place. */
    g_assert_false(w.done);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);
    g_assert_true(qatomic_read(&x->write_coroutine) != NULL);

    drain_bytes(y, filled + sizeof(wbuf));
    while (!w.done) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(w.ret, ==, 0);
    assert_ctx_clean(ctx);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

/* --- reads that wait as one io_uring request (qio_channel_co_readv) ----- */

/* A parked io_uring reader and a writer in its context: both complete. */
static void test_uring_read_with_writer(void)
{
    AioContext *ctx = qemu_get_aio_context();
    QIOChannel *x, *y;
    char rbuf[4] = "", wbuf[100000];
    Waiter r, w;
    size_t filled;

    make_pair(&x, &y, 4096);
    filled = fill_socket(x);
    memset(wbuf, 'w', sizeof(wbuf));
    r = (Waiter){ .ioc = x, .len = 4, .buf = rbuf };
    w = (Waiter){ .ioc = x, .len = sizeof(wbuf), .buf = wbuf };
    qemu_coroutine_enter(qemu_coroutine_create(read_waiter, &r));
    qemu_coroutine_enter(qemu_coroutine_create(write_waiter, &w));
    g_assert_false(r.done);
    g_assert_false(w.done);
    g_assert_true(reader_parked(x));

    drain_bytes(y, filled + sizeof(wbuf));
    while (!w.done) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(w.ret, ==, 0);
    g_assert_false(r.done);
    g_assert_true(reader_parked(x));

    g_assert_cmpint(write(channel_fd(y), "ping", 4), ==, 4);
    while (!r.done) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(r.ret, ==, 0);
    g_assert_cmpmem(rbuf, 4, "ping", 4);
    assert_ctx_clean(ctx);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

#define WAKE_ROUNDS 2000

typedef struct WakeReader {
    QIOChannel *ioc;
    unsigned int got;
    unsigned int woken;
    unsigned int bad;
    bool done;
} WakeReader;

/* Reads WAKE_ROUNDS bytes 0, 1, 2, ... one call at a time. */
static void coroutine_fn wake_reader_co(void *opaque)
{
    WakeReader *wr = opaque;

    while (wr->got < WAKE_ROUNDS) {
        uint8_t c;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        ssize_t n = qio_channel_co_readv(wr->ioc, &iov, 1, NULL);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            wr->woken++;
        } else if (n == 1) {
            if (c != (uint8_t)wr->got) {
                wr->bad++;
            }
            wr->got++;
        } else {
            wr->bad++;
            break;
        }
    }
    qatomic_store_release(&wr->done, true);
}

/*
 * Writes one byte to the non-blocking @fd. Each one-byte write costs a
 * whole socket buffer entry, so a reader thread that the scheduler holds
 * back for a moment lets the buffer fill: wait for room then, for at most
 * 10 s (a reader that never comes back is a failure, not a hang).
 */
static void send_byte_waiting(int fd, uint8_t c)
{
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        ssize_t n = write(fd, &c, 1);

        if (n == 1) {
            return;
        }
        g_assert_cmpint(n, ==, -1);
        g_assert_cmpint(errno, ==, EAGAIN);
        g_assert_cmpint(poll(&pfd, 1, 10 * 1000), ==, 1);
    }
}

/*
 * qio_channel_wake_read() from another thread against a reader whose read
 * may be an io_uring request in flight, while data arrives: every byte
 * arrives once and in order, every wake only makes the reader look again.
 */
static void test_uring_read_wake_no_loss(void)
{
    IOThread *t = iothread_create("wake-uring", &error_abort);
    QIOChannel *x, *y;
    WakeReader wr = { 0 };
    int64_t end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;

    make_pair(&x, &y, 0);
    wr.ioc = x;
    aio_co_enter(iothread_get_aio_context(t),
                 qemu_coroutine_create(wake_reader_co, &wr));
    for (unsigned int i = 0; i < WAKE_ROUNDS; i++) {
        uint8_t c = i;

        if (i % 3 != 1) {
            qio_channel_wake_read(x);
        }
        send_byte_waiting(channel_fd(y), c);
        if (i % 5 == 0) {
            qio_channel_wake_read(x);
            g_usleep(20);
        }
    }
    while (!qatomic_load_acquire(&wr.done)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    g_assert_cmpuint(wr.bad, ==, 0);
    g_assert_cmpuint(wr.got, ==, WAKE_ROUNDS);
    g_test_message("%u spurious wakes seen", wr.woken);
    iothread_destroy(t);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

#define POLL_ROUNDS_MAX 3000

typedef struct EchoReader {
    QIOChannel *ioc;
    unsigned int rounds;        /* atomic: bytes to echo, may grow */
    int64_t poll_ns;            /* atomic: context's poll time, each read */
    int64_t max_poll_ns;        /* atomic: the largest of those */
    unsigned int bad;
    bool done;
} EchoReader;

/* Reads a byte at a time and sends each back. */
static void coroutine_fn echo_reader_co(void *opaque)
{
    EchoReader *er = opaque;

    for (unsigned int i = 0; i < qatomic_read(&er->rounds); i++) {
        uint8_t c;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        ssize_t n = qio_channel_co_readv(er->ioc, &iov, 1, NULL);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            i--;
            continue;
        }
        qatomic_set(&er->poll_ns,
                    aio_context_poll_ns(qemu_get_current_aio_context()));
        qatomic_set(&er->max_poll_ns, MAX(er->max_poll_ns, er->poll_ns));
        if (n != 1 || c != (uint8_t)i ||
            qio_channel_write_all(er->ioc, (char *)&c, 1, NULL) < 0) {
            er->bad++;
            break;
        }
    }
    qatomic_store_release(&er->done, true);
}

/* Sends @c and waits (at most 10 s) for it to come back. */
static void echo_round(int fd, uint8_t c)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    uint8_t back;

    send_byte_waiting(fd, c);
    g_assert_cmpint(poll(&pfd, 1, 10 * 1000), ==, 1);
    g_assert_cmpint(read(fd, &back, 1), ==, 1);
    g_assert_cmpint(back, ==, c);
}

/*
 * A reader in a polling context whose peer answers quickly polls before
 * it sleeps (the context's adaptive poll time grows from 0); after a wait
 * far longer than the context's poll-max-ns it stops polling. Data intact
 * throughout, under either fd monitor.
 *
 * Whether one echo is quick enough depends on the machine's load, so the
 * test echoes until polling is seen on (at most POLL_ROUNDS_MAX rounds)
 * rather than asking it of one particular round; the pause that turns it
 * off is a lower bound on time, which load only makes longer.
 */
static void test_uring_read_poll(void)
{
    IOThread *t = iothread_create("poll-uring", &error_abort);
    AioContext *ctx = iothread_get_aio_context(t);
    EchoReader er = { .rounds = POLL_ROUNDS_MAX };
    int64_t end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
    unsigned int i;
    QIOChannel *x, *y;

    assert_ctx_fdmon(ctx);
    /* 1 ms: quick peers keep polling on even under sanitizers. */
    aio_context_set_poll_params(ctx, 1000 * 1000, 0, 0, &error_abort);
    make_pair(&x, &y, 0);
    er.ioc = x;
    aio_co_enter(ctx, qemu_coroutine_create(echo_reader_co, &er));
    for (i = 0; i < POLL_ROUNDS_MAX - 1; i++) {
        echo_round(channel_fd(y), i);
        if (i >= 100 && qatomic_read(&er.max_poll_ns) > 0) {
            break;
        }
    }
    g_test_message("%u echoes, largest poll time %" PRId64 " ns",
                   i + 1, (int64_t)qatomic_read(&er.max_poll_ns));
    g_assert_cmpint(qatomic_read(&er.max_poll_ns), >, 0);
    /* The reader stops after the next echo. */
    qatomic_set(&er.rounds, i + 2);
    /* A long pause (100 times poll-max-ns): polling stops. */
    g_usleep(100 * 1000);
    echo_round(channel_fd(y), (uint8_t)(i + 1));
    while (!qatomic_load_acquire(&er.done)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    g_assert_cmpint(qatomic_read(&er.poll_ns), ==, 0);
    g_assert_cmpuint(er.bad, ==, 0);
    iothread_destroy(t);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

/* --- (c) follow off: waits in the iohandler context --------------------- */

static void test_follow_off_iohandler(void)
{
    AioContext *ctx = qemu_get_aio_context();
    QIOChannel *x, *y;
    char rbuf[5] = "";
    Waiter r;
    int i;

    make_pair(&x, &y, 0);
    qio_channel_set_follow_coroutine_ctx(x, false);
    r = (Waiter){ .ioc = x, .len = 5, .buf = rbuf };
    qemu_coroutine_enter(qemu_coroutine_create(read_waiter, &r));
    g_assert_true(x->read_ctx == iohandler_get_aio_context());
    g_assert_cmpuint(aio_context_handler_count(iohandler_get_aio_context()),
                     ==, 1);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 0);

    g_assert_cmpint(write(channel_fd(y), "hello", 5), ==, 5);
    /* A nested event loop of the main context must not resume it. */
    poll_main(20);
    g_assert_false(r.done);
    for (i = 0; i < 100 && !r.done; i++) {
        main_loop_wait(false);
    }
    g_assert_true(r.done);
    g_assert_cmpmem(rbuf, 5, "hello", 5);
    assert_ctx_clean(iohandler_get_aio_context());
    assert_ctx_clean(ctx);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

/* --- (d) wake_read from another thread, then move ----------------------- */

typedef struct Mover {
    QIOChannel *ioc;
    AioContext *first;
    AioContext *second;
    int first_tid;
    int woken_tid;
    int second_tid;
    AioContext *waited_in;      /* read_ctx seen while waiting in second */
    bool parked;                /* atomic */
    bool woken;                 /* atomic */
    bool finished;              /* atomic */
    char buf[6];
    int ret;
} Mover;

static void coroutine_fn mover(void *opaque)
{
    Mover *m = opaque;
    char c;

    m->first_tid = qemu_get_thread_id();
    qatomic_store_release(&m->parked, true);
    /* Nothing will arrive: only qio_channel_wake_read() resumes this. */
    qio_channel_yield(m->ioc, G_IO_IN);
    m->woken_tid = qemu_get_thread_id();
    g_assert_true(qemu_get_current_aio_context() == m->first);
    /* The wait left no handler behind in the first context. */
    g_assert_cmpuint(aio_context_handler_count(m->first), ==, 0);
    g_assert_cmpint(qio_channel_read(m->ioc, &c, 1, NULL), ==,
                    QIO_CHANNEL_ERR_BLOCK);
    qatomic_store_release(&m->woken, true);

    aio_co_reschedule_self(m->second);
    m->second_tid = qemu_get_thread_id();
    m->ret = qio_channel_read_all(m->ioc, m->buf, sizeof(m->buf), NULL);
    qatomic_store_release(&m->finished, true);
}

static void *write_when_waiting(void *opaque)
{
    Mover *m = opaque;
    int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    /* Wait until the reader is parked in the second context. */
    while (qatomic_load_acquire(&m->ioc->read_ctx) != m->second ||
           !reader_parked(m->ioc)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    m->waited_in = qatomic_read(&m->ioc->read_ctx);
    return NULL;
}

static void test_wake_read_then_move(void)
{
    IOThread *ta = iothread_create("wake-a", &error_abort);
    IOThread *tb = iothread_create("wake-b", &error_abort);
    QIOChannel *x, *y;
    QemuThread watcher;
    Mover m;

    make_pair(&x, &y, 0);
    m = (Mover){ .ioc = x, .first = iothread_get_aio_context(ta),
                 .second = iothread_get_aio_context(tb) };
    aio_co_enter(m.first, qemu_coroutine_create(mover, &m));
    while (!qatomic_load_acquire(&m.parked) ||
           !reader_parked(x)) {
        g_usleep(1000);
    }
    g_assert_true(qatomic_read(&x->read_ctx) == m.first);

    /* Woken from the main thread, it resumes in its own thread. */
    qio_channel_wake_read(x);
    while (!qatomic_load_acquire(&m.woken)) {
        g_usleep(1000);
    }
    g_assert_cmpint(m.woken_tid, ==, m.first_tid);
    g_assert_cmpint(m.woken_tid, ==, iothread_get_thread_id(ta));

    qemu_thread_create(&watcher, "watch", write_when_waiting, &m,
                       QEMU_THREAD_JOINABLE);
    qemu_thread_join(&watcher);
    g_assert_true(m.waited_in == m.second);
    g_assert_cmpint(write(channel_fd(y), "moved!", 6), ==, 6);
    while (!qatomic_load_acquire(&m.finished)) {
        g_usleep(1000);
    }
    g_assert_cmpint(m.ret, ==, 0);
    g_assert_cmpmem(m.buf, 6, "moved!", 6);
    g_assert_cmpint(m.second_tid, ==, iothread_get_thread_id(tb));
    g_assert_cmpuint(aio_context_handler_count(m.first), ==, 0);
    g_assert_cmpuint(aio_context_handler_count(m.second), ==, 0);
    iothread_destroy(ta);
    iothread_destroy(tb);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

/* --- (e) context A, then context B, nothing in between ------------------ */

typedef struct Reader {
    QIOChannel *ioc;
    AioContext *expect;
    char buf[8];
    int ret;
    bool done;      /* atomic */
} Reader;

static void coroutine_fn ctx_reader(void *opaque)
{
    Reader *r = opaque;

    r->ret = qio_channel_read_all(r->ioc, r->buf, sizeof(r->buf), NULL);
    g_assert_true(qemu_get_current_aio_context() == r->expect);
    qatomic_store_release(&r->done, true);
}

/* As ctx_reader(), always waiting with an fd handler (registrations). */
static void coroutine_fn ctx_yield_reader(void *opaque)
{
    Reader *r = opaque;
    Waiter w = { .ioc = r->ioc, .len = sizeof(r->buf), .buf = r->buf };

    yield_read_waiter(&w);
    r->ret = w.ret;
    g_assert_true(qemu_get_current_aio_context() == r->expect);
    qatomic_store_release(&r->done, true);
}

static void test_context_a_then_b(void)
{
    IOThread *ta = iothread_create("ab-a", &error_abort);
    IOThread *tb = iothread_create("ab-b", &error_abort);
    AioContext *a = iothread_get_aio_context(ta);
    AioContext *b = iothread_get_aio_context(tb);
    QIOChannel *x, *y;
    Reader r1, r2;

    make_pair(&x, &y, 0);
    r1 = (Reader){ .ioc = x, .expect = a };
    aio_co_enter(a, qemu_coroutine_create(ctx_reader, &r1));
    while (!reader_parked(x)) {
        g_usleep(1000);
    }
    g_assert_cmpint(write(channel_fd(y), "first..!", 8), ==, 8);
    while (!qatomic_load_acquire(&r1.done)) {
        g_usleep(1000);
    }
    g_assert_cmpmem(r1.buf, 8, "first..!", 8);

    /* The same channel, straight from another context. */
    r2 = (Reader){ .ioc = x, .expect = b };
    assert_ctx_fdmon(b);
    aio_co_enter(b, qemu_coroutine_create(ctx_reader, &r2));
    /*
     * The slot is filled just before the wait starts: an fd handler in b,
     * or with io_uring a read request on b's ring (no handler).
     */
    while (!reader_parked(x) ||
           aio_context_handler_count(b) !=
           (test_fdmon_wants_io_uring() ? 0 : 1)) {
        g_usleep(1000);
    }
    g_assert_true(qatomic_read(&x->read_ctx) == b);
    g_assert_cmpuint(aio_context_handler_count(a), ==, 0);
    g_assert_cmpint(write(channel_fd(y), "second!!", 8), ==, 8);
    while (!qatomic_load_acquire(&r2.done)) {
        g_usleep(1000);
    }
    g_assert_cmpint(r2.ret, ==, 0);
    g_assert_cmpmem(r2.buf, 8, "second!!", 8);
    g_assert_cmpuint(aio_context_handler_count(b), ==, 0);
    iothread_destroy(ta);
    iothread_destroy(tb);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

/* --- one fd, read in context A and written in B: two registrations ---- */

static void test_split_contexts_registrations(void)
{
    IOThread *ta = iothread_create("r3-a", &error_abort);
    IOThread *tb = iothread_create("r3-b", &error_abort);
    AioContext *a = iothread_get_aio_context(ta);
    AioContext *b = iothread_get_aio_context(tb);
    QIOChannel *x, *y;
    char wbuf[200000];
    Reader r;
    Waiter w;
    size_t filled;
    int64_t deadline;

    make_pair(&x, &y, 4096);
    filled = fill_socket(x);
    memset(wbuf, 'z', sizeof(wbuf));
    r = (Reader){ .ioc = x, .expect = a };
    w = (Waiter){ .ioc = x, .len = sizeof(wbuf), .buf = wbuf };
    aio_co_enter(a, qemu_coroutine_create(ctx_yield_reader, &r));
    aio_co_enter(b, qemu_coroutine_create(write_waiter, &w));
    /*
     * Both parked: one registration in each context. (A slot is filled
     * just before its handler goes in, hence the bounded wait.)
     */
    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!qatomic_load_acquire(&x->read_coroutine) ||
           !qatomic_load_acquire(&x->write_coroutine) ||
           aio_context_handler_count(a) != 1 ||
           aio_context_handler_count(b) != 1) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }

    /* The writer finishes in B; A's registration stays. */
    drain_bytes(y, filled + sizeof(wbuf));
    while (qatomic_load_acquire(&x->write_coroutine) ||
           aio_context_handler_count(b)) {
        g_usleep(1000);
    }
    g_assert_cmpuint(aio_context_handler_count(a), ==, 1);
    g_assert_false(qatomic_load_acquire(&r.done));

    /* Data now must still wake the reader through A's registration. */
    g_assert_cmpint(write(channel_fd(y), "12345678", 8), ==, 8);
    deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!qatomic_load_acquire(&r.done)) {
        g_assert_cmpint(g_get_monotonic_time(), <, deadline);
        g_usleep(1000);
    }
    g_assert_cmpmem(r.buf, 8, "12345678", 8);
    g_assert_cmpuint(aio_context_handler_count(a), ==, 0);
    iothread_destroy(ta);
    iothread_destroy(tb);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

/* --- both contexts NULL touches nothing --------------------------------- */

static int null_ctx_reads;

static void null_ctx_read(void *opaque)
{
    char c;

    if (read(*(int *)opaque, &c, 1) == 1) {
        null_ctx_reads++;
    }
}

static void test_util_null_contexts(void)
{
    AioContext *ctx = qemu_get_aio_context();
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                    ==, 0);
    aio_set_fd_handler(ctx, sv[0], null_ctx_read, NULL, NULL, NULL, &sv[0]);
    qio_channel_util_set_aio_fd_handler(sv[0], NULL, NULL, sv[0], NULL,
                                        NULL, NULL);
    qio_channel_util_set_aio_fd_handler(sv[0], NULL, null_ctx_read, sv[0], NULL,
                                        null_ctx_read, &sv[0]);
    /* The existing handler is untouched and still works. */
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);
    g_assert_cmpint(write(sv[1], "r", 1), ==, 1);
    while (!null_ctx_reads) {
        aio_poll(ctx, true);
    }
    aio_set_fd_handler(ctx, sv[0], NULL, NULL, NULL, NULL, NULL);
    assert_ctx_clean(ctx);
    close(sv[0]);
    close(sv[1]);
}

/* --- unref with a parked coroutine -------------------------------------- */

static void coroutine_fn park_reader(void *opaque)
{
    qio_channel_yield(opaque, G_IO_IN);
}

static void test_finalize_with_waiter_aborts(void)
{
    if (g_test_subprocess()) {
        QIOChannel *x, *y;

        make_pair(&x, &y, 0);
        qemu_coroutine_enter(qemu_coroutine_create(park_reader, x));
        object_unref(OBJECT(x));
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*freed while a coroutine waits on it*");
}

static void test_finalize_after_wake(void)
{
    QIOChannel *x, *y;
    Coroutine *co;

    make_pair(&x, &y, 0);
    co = qemu_coroutine_create(park_reader, x);
    qemu_coroutine_enter(co);
    g_assert_cmpuint(aio_context_handler_count(qemu_get_aio_context()), ==,
                     1);
    qio_channel_wake_read(x);
    /* Woken in its own (this) context: it ran and cleaned up. */
    g_assert_cmpuint(aio_context_handler_count(qemu_get_aio_context()), ==,
                     0);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

/*
 * --- a wake from the reader's own context is never lost -----------------
 *
 * The server's way to quiesce a reader: a bottom half in the reader's
 * context sets a flag and calls qio_channel_wake_read(). Wake and wait
 * run in one thread here, so this checks the flag protocol, not the race
 * between threads (see test_wake_race_* below for that).
 */

typedef struct Quiesce {
    QIOChannel *ioc;
    bool quiescing;         /* only touched in the reader's context */
    int rounds_done;        /* atomic */
    bool stop;              /* atomic */
    bool finished;          /* atomic */
    QemuEvent parked_or_saw;
} Quiesce;

static void coroutine_fn quiesce_reader(void *opaque)
{
    Quiesce *q = opaque;

    while (!qatomic_read(&q->stop)) {
        if (q->quiescing) {
            /* Acknowledge, as a server's request loop would. */
            q->quiescing = false;
            qatomic_inc(&q->rounds_done);
            continue;
        }
        qio_channel_yield(q->ioc, G_IO_IN);
    }
    qatomic_store_release(&q->finished, true);
}

static void quiesce_bh(void *opaque)
{
    Quiesce *q = opaque;

    /* In the reader's context: either it is parked, or not running. */
    q->quiescing = true;
    qio_channel_wake_read(q->ioc);
}

static void test_wake_against_yield(void)
{
    IOThread *t = iothread_create("quiesce", &error_abort);
    AioContext *ctx = iothread_get_aio_context(t);
    QIOChannel *x, *y;
    Quiesce q = { 0 };
    int i, rounds = 20000;

    make_pair(&x, &y, 0);
    q.ioc = x;
    aio_co_enter(ctx, qemu_coroutine_create(quiesce_reader, &q));
    for (i = 1; i <= rounds; i++) {
        int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

        aio_bh_schedule_oneshot(ctx, quiesce_bh, &q);
        /* Every quiesce request is seen: none is lost. */
        while (qatomic_read(&q.rounds_done) < i) {
            g_assert_cmpint(g_get_monotonic_time(), <, end);
        }
    }
    qatomic_set(&q.stop, true);
    aio_bh_schedule_oneshot(ctx, quiesce_bh, &q);
    while (!qatomic_load_acquire(&q.finished)) {
        g_usleep(1000);
    }
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 0);
    iothread_destroy(t);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

/*
 * --- the lost wake-up between wake_read and a starting wait --------------
 *
 * A coroutine in an iothread waits for input again and again, in
 * qio_channel_yield(G_IO_IN) or in qio_channel_co_readv() (an io_uring
 * read, with its polling, under io_uring); nothing ever arrives. The main
 * thread watches the reader's slot and calls qio_channel_wake_read() the
 * moment the reader has published itself there, i.e. while its wait is
 * only starting (its fd handler or read request may not be in place, the
 * coroutine may not have yielded yet), at a varying delay. Every such wake
 * must end that wait: a lost one leaves the reader parked with an empty
 * slot, which the round's bounded wait reports.
 */

/* About 0.5 s, 1 s under TSan. */
#define WAKE_RACE_ROUNDS 10000

typedef struct WakeRace {
    QIOChannel *ioc;
    AioContext *ctx;            /* the reader's */
    bool co_readv;              /* wait in qio_channel_co_readv() */
    unsigned int returns;       /* atomic: waits that ended */
    unsigned int bad;           /* atomic */
    bool stop;                  /* atomic */
    bool finished;              /* atomic */
} WakeRace;

static void coroutine_fn wake_race_reader(void *opaque)
{
    WakeRace *w = opaque;

    while (!qatomic_load_acquire(&w->stop)) {
        if (w->co_readv) {
            uint8_t c;
            struct iovec iov = { .iov_base = &c, .iov_len = 1 };

            /* No byte is ever sent: only a wake ends this. */
            if (qio_channel_co_readv(w->ioc, &iov, 1, NULL) !=
                QIO_CHANNEL_ERR_BLOCK) {
                qatomic_inc(&w->bad);
            }
        } else {
            qio_channel_yield(w->ioc, G_IO_IN);
        }
        if (qemu_get_current_aio_context() != w->ctx) {
            qatomic_inc(&w->bad);
        }
        qatomic_store_release(&w->returns, w->returns + 1);
    }
    qatomic_store_release(&w->finished, true);
}

/* Waits (bounded) until the reader is in, or entering, its wait. */
static void wait_reader_published(QIOChannel *ioc, int64_t end)
{
    while (!reader_parked(ioc)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
    }
}

static void run_wake_race(bool co_readv)
{
    IOThread *t = iothread_create("wake-race", &error_abort);
    WakeRace w = { .ctx = iothread_get_aio_context(t),
                   .co_readv = co_readv };
    int64_t start = g_get_monotonic_time();
    int64_t end;
    QIOChannel *x, *y;
    unsigned int i;

    assert_ctx_fdmon(w.ctx);
    make_pair(&x, &y, 0);
    w.ioc = x;
    aio_co_enter(w.ctx, qemu_coroutine_create(wake_race_reader, &w));
    for (i = 1; i <= WAKE_RACE_ROUNDS; i++) {
        volatile unsigned int spin;

        /* Per round: a wake that got lost shows up here, not as a hang. */
        end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
        wait_reader_published(x, end);
        /* 0 to ~2 us later: across the window before the yield. */
        for (spin = 0; spin < (i % 64) * 8; spin++) {
            /* delay */
        }
        qio_channel_wake_read(x);
        while (qatomic_load_acquire(&w.returns) < i) {
            g_assert_cmpint(g_get_monotonic_time(), <, end);
            sched_yield();      /* the reader may share our CPU */
        }
    }
    g_test_message("%u wakes in %" PRId64 " ms, %u waits ended",
                   WAKE_RACE_ROUNDS,
                   (g_get_monotonic_time() - start) / 1000,
                   qatomic_load_acquire(&w.returns));
    if (!co_readv) {
        /* Only a wake ends a yield: exactly one per wake. */
        g_assert_cmpuint(qatomic_load_acquire(&w.returns), ==,
                         WAKE_RACE_ROUNDS);
    }
    qatomic_store_release(&w.stop, true);
    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!qatomic_load_acquire(&w.finished)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        qio_channel_wake_read(x);       /* nothing when not parked */
        g_usleep(1000);
    }
    g_assert_cmpuint(qatomic_read(&w.bad), ==, 0);
    g_assert_cmpuint(aio_context_handler_count(w.ctx), ==, 0);
    iothread_destroy(t);
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
    assert_no_coroutines();
}

static void test_wake_race_yield(void)
{
    run_wake_race(false);
}

static void test_wake_race_co_readv(void)
{
    run_wake_race(true);
}

/* --- blocking callers and the _all helpers ------------------------------ */

static void *blocking_peer(void *opaque)
{
    QIOChannel *ioc = opaque;
    char buf[1 << 16];
    size_t total = 0;
    int ret;

    /* Echo everything back until end of file. */
    for (;;) {
        ret = qio_channel_read_all_eof(ioc, buf, 1000, &error_abort);
        if (ret == 0) {
            break;
        }
        qio_channel_write_all(ioc, buf, 1000, &error_abort);
        total += 1000;
    }
    return GSIZE_TO_POINTER(total);
}

static void test_blocking_all_helpers(void)
{
    QIOChannel *x, *y;
    QemuThread thread;
    g_autofree char *out = g_malloc(1000 * 1000);
    g_autofree char *in = g_malloc(1000 * 1000);
    uint64_t state = 42;
    Error *err = NULL;
    char c;
    int i;

    make_pair(&x, &y, 4096);
    /* Non-blocking channels, used outside coroutines: _all waits. */
    fill_stream(&state, (uint8_t *)out, 1000 * 1000);
    qemu_thread_create(&thread, "echo", blocking_peer, y,
                       QEMU_THREAD_JOINABLE);
    /*
     * In windows of 2 echo units: much more than that would fill both
     * socket buffers while nobody reads, and deadlock.
     */
    for (i = 0; i < 1000 * 1000; i += 2000) {
        g_assert_cmpint(qio_channel_write_all(x, out + i, 2000, NULL),
                        ==, 0);
        g_assert_cmpint(qio_channel_read_all(x, in + i, 2000, NULL),
                        ==, 0);
    }
    g_assert_cmpmem(in, 1000 * 1000, out, 1000 * 1000);
    qio_channel_shutdown(x, QIO_CHANNEL_SHUTDOWN_WRITE, &error_abort);
    g_assert_cmpuint(GPOINTER_TO_SIZE(qemu_thread_join(&thread)), ==,
                     1000 * 1000);
    object_unref(OBJECT(y));
    /* End of file: _all_eof gives 0, _all an error. */
    g_assert_cmpint(qio_channel_read_all_eof(x, &c, 1, NULL), ==, 0);
    g_assert_cmpint(qio_channel_read_all(x, &c, 1, &err), ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(err), "end-of-file"));
    error_free(err);
    object_unref(OBJECT(x));
}

/* An end of file in the middle of a message is an error. */
static void test_partial_eof(void)
{
    QIOChannel *x, *y;
    Error *err = NULL;
    char buf[10];

    make_pair(&x, &y, 0);
    g_assert_cmpint(write(channel_fd(y), "abc", 3), ==, 3);
    object_unref(OBJECT(y));
    g_assert_cmpint(qio_channel_read_all_eof(x, buf, sizeof(buf), &err), ==,
                    -1);
    g_assert_nonnull(err);
    error_free(err);
    object_unref(OBJECT(x));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_fdmon_init();
    qemu_init_main_loop(&error_abort);
    signal(SIGPIPE, SIG_IGN);

    g_test_add_func("/io/channel/fdmon", test_fdmon_all_contexts);
    g_test_add_func("/io/channel/contract/reader-writer-two-iothreads",
                    test_reader_writer_two_iothreads);
    g_test_add_func("/io/channel/contract/same-context-write-keeps-read",
                    test_same_context_write_keeps_read);
    g_test_add_func("/io/channel/contract/same-context-read-keeps-write",
                    test_same_context_read_keeps_write);
    g_test_add_func("/io/channel/uring-read/with-writer",
                    test_uring_read_with_writer);
    g_test_add_func("/io/channel/uring-read/wake-no-loss",
                    test_uring_read_wake_no_loss);
    g_test_add_func("/io/channel/uring-read/poll-adapts",
                    test_uring_read_poll);
    g_test_add_func("/io/channel/contract/follow-off-iohandler",
                    test_follow_off_iohandler);
    g_test_add_func("/io/channel/contract/wake-read-then-move",
                    test_wake_read_then_move);
    g_test_add_func("/io/channel/contract/context-a-then-b",
                    test_context_a_then_b);
    g_test_add_func("/io/channel/contract/split-contexts-registrations",
                    test_split_contexts_registrations);
    g_test_add_func("/io/channel/util/null-contexts",
                    test_util_null_contexts);
    g_test_add_func("/io/channel/finalize/with-waiter-aborts",
                    test_finalize_with_waiter_aborts);
    g_test_add_func("/io/channel/finalize/after-wake",
                    test_finalize_after_wake);
    g_test_add_func("/io/channel/wake/from-reader-context",
                    test_wake_against_yield);
    g_test_add_func("/io/channel/wake/race-starting-yield",
                    test_wake_race_yield);
    g_test_add_func("/io/channel/wake/race-starting-co-readv",
                    test_wake_race_co_readv);
    g_test_add_func("/io/channel/blocking-all-helpers",
                    test_blocking_all_helpers);
    g_test_add_func("/io/channel/partial-eof", test_partial_eof);
    return g_test_run();
}
