/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The AioContext's coroutine receive (aio_co_recvmsg()), under whichever
 * fd monitor the context has (meson runs this once per monitor), and the
 * channel waits built on it:
 * - receive, end of file, cancel from the home thread and from another
 *   thread, a late cancel that must find nothing;
 * - a receive parked on an fd keeps, and is kept by, that fd's handlers;
 * - stale cancels against new requests on recycled coroutine stacks: a
 *   cancel names one receive by an id that is never reused, so it can
 *   never reach a later receive or a block-style ring request that
 *   happens to sit at the address of the old one;
 * - a coroutine of an iothread waiting on a channel that does not follow
 *   its context is refused loudly.
 */
#include "qemu/osdep.h"
#include <liburing.h>
#include "block/aio.h"
#include "io/channel-socket.h"
#include "qemu/main-loop.h"
#include "sysemu/iothread.h"
#include "qapi/error.h"
#include "config-host.h"
#include "test-util.h"

#if CONFIG_TSAN || CONFIG_ASAN
#define STRESS_ROUNDS 300
#else
#define STRESS_ROUNDS 2000
#endif

static void make_socketpair(int sv[2])
{
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
                    ==, 0);
}

/* Waits (at most 10 s) for *@flag, polling nothing: another thread sets it */
static void wait_flag(bool *flag)
{
    int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (!qatomic_load_acquire(flag)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(100);
    }
}

/* --- the primitive in the main context ---------------------------------- */

typedef struct Recv {
    int fd;
    char buf[16];
    size_t len;
    uint64_t id;                /* atomic: published before the wait */
    ssize_t ret;
    bool done;                  /* atomic */
} Recv;

static void coroutine_fn recv_co(void *opaque)
{
    Recv *r = opaque;
    struct iovec iov = { .iov_base = r->buf, .iov_len = r->len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    AioCoRecv req;

    qatomic_store_release(&r->id, aio_co_recv_init(&req));
    r->ret = aio_co_recvmsg(&req, r->fd, &msg, 0);
    qatomic_store_release(&r->done, true);
}

static Recv *start_recv(int fd, size_t len)
{
    Recv *r = g_new0(Recv, 1);

    r->fd = fd;
    r->len = len;
    qemu_coroutine_enter(qemu_coroutine_create(recv_co, r));
    return r;
}

static void test_recv_data(gconstpointer nonblocking)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autofree Recv *r = NULL;
    int sv[2];

    make_socketpair(sv);
    if (nonblocking) {
        /* A non-blocking socket waits all the same (no -EAGAIN). */
        qemu_socket_set_nonblock(sv[0]);
    }
    r = start_recv(sv[0], 5);
    /* It always waits, even for nothing yet: no shortcut read. */
    g_assert_false(r->done);
    g_assert_cmpint(r->id, >, 0);
    g_assert_cmpint(write(sv[1], "hello", 5), ==, 5);
    g_assert_true(poll_until(ctx, &r->done, 10));
    g_assert_cmpint(r->ret, ==, 5);
    g_assert_cmpmem(r->buf, 5, "hello", 5);
    assert_ctx_clean(ctx);
    close(sv[0]);
    close(sv[1]);
    assert_no_coroutines();
}

static void test_recv_eof(void)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autofree Recv *r = NULL;
    int sv[2];

    make_socketpair(sv);
    r = start_recv(sv[0], 5);
    close(sv[1]);
    g_assert_true(poll_until(ctx, &r->done, 10));
    g_assert_cmpint(r->ret, ==, 0);
    assert_ctx_clean(ctx);
    close(sv[0]);
    assert_no_coroutines();
}

/* Cancelled in its home thread: -ECANCELED; then a late cancel is a no-op */
static void test_recv_cancel_home(void)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autofree Recv *r1 = NULL;
    g_autofree Recv *r2 = NULL;
    int sv[2];

    make_socketpair(sv);
    r1 = start_recv(sv[0], 4);
    aio_co_recv_cancel(ctx, r1->id);
    g_assert_true(poll_until(ctx, &r1->done, 10));
    g_assert_cmpint(r1->ret, ==, -ECANCELED);

    /* A new receive, then the old id again (and one never issued). */
    r2 = start_recv(sv[0], 4);
    g_assert_cmpint(r2->id, >, r1->id);
    aio_co_recv_cancel(ctx, r1->id);
    aio_co_recv_cancel(ctx, r2->id + 1000000);
    aio_poll(ctx, false);
    aio_poll(ctx, false);
    g_assert_false(r2->done);
    g_assert_cmpint(write(sv[1], "data", 4), ==, 4);
    g_assert_true(poll_until(ctx, &r2->done, 10));
    g_assert_cmpint(r2->ret, ==, 4);
    g_assert_cmpmem(r2->buf, 4, "data", 4);
    assert_ctx_clean(ctx);
    close(sv[0]);
    close(sv[1]);
    assert_no_coroutines();
}

/* A cancel from another thread goes through a bottom half of the context */
static void *cancel_thread(void *opaque)
{
    Recv *r = opaque;

    aio_co_recv_cancel(qemu_get_aio_context(), qatomic_load_acquire(&r->id));
    return NULL;
}

static void test_recv_cancel_other_thread(void)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autofree Recv *r = NULL;
    QemuThread t;
    int sv[2];

    make_socketpair(sv);
    r = start_recv(sv[0], 4);
    qemu_thread_create(&t, "cancel", cancel_thread, r, QEMU_THREAD_JOINABLE);
    qemu_thread_join(&t);
    g_assert_true(poll_until(ctx, &r->done, 10));
    g_assert_cmpint(r->ret, ==, -ECANCELED);
    assert_ctx_clean(ctx);
    close(sv[0]);
    close(sv[1]);
    assert_no_coroutines();
}

static bool wrote;

static void on_writable(void *opaque)
{
    int fd = *(int *)opaque;

    g_assert_cmpint(write(fd, "w", 1), ==, 1);
    wrote = true;
    aio_set_fd_handler(qemu_get_aio_context(), fd, NULL, NULL, NULL, NULL,
                       NULL);
}

/*
 * One fd, one context: a receive parked on it and a write handler set and
 * removed meanwhile do not disturb each other (a channel's reader and
 * writer in the same context).
 */
static void test_recv_keeps_handlers(void)
{
    AioContext *ctx = qemu_get_aio_context();
    g_autofree Recv *r = NULL;
    char c;
    int sv[2];

    make_socketpair(sv);
    r = start_recv(sv[0], 4);
    /* Set while parked: the write handler runs, the receive stays. */
    wrote = false;
    aio_set_fd_handler(ctx, sv[0], NULL, on_writable, NULL, NULL, &sv[0]);
    g_assert_true(poll_until(ctx, &wrote, 10));
    g_assert_cmpint(read(sv[1], &c, 1), ==, 1);
    aio_poll(ctx, false);
    g_assert_false(r->done);
    g_assert_cmpint(write(sv[1], "abcd", 4), ==, 4);
    g_assert_true(poll_until(ctx, &r->done, 10));
    g_assert_cmpint(r->ret, ==, 4);
    assert_ctx_clean(ctx);

    /* Set before: the handler comes and goes, the receive stays. */
    wrote = false;
    aio_set_fd_handler(ctx, sv[1], NULL, on_writable, NULL, NULL, &sv[1]);
    g_free(r);
    r = start_recv(sv[1], 1);
    g_assert_true(poll_until(ctx, &wrote, 10));
    aio_poll(ctx, false);
    g_assert_false(r->done);
    g_assert_cmpint(write(sv[0], "r", 1), ==, 1);
    g_assert_true(poll_until(ctx, &r->done, 10));
    g_assert_cmpint(r->ret, ==, 1);
    g_assert_cmpint(read(sv[0], &c, 1), ==, 1);
    assert_ctx_clean(ctx);
    close(sv[0]);
    close(sv[1]);
    assert_no_coroutines();
}

/* --- the context's polling, with GLib running the context -------------- */

#define ECHO_ROUNDS 200

typedef struct Echo {
    int fd;
    int64_t max_poll_ns;        /* the largest poll time seen */
    unsigned int bad;
    bool done;                  /* atomic */
} Echo;

/* Receives a byte at a time in the main context and sends it back. */
static void coroutine_fn echo_co(void *opaque)
{
    Echo *e = opaque;

    for (unsigned int i = 0; i < ECHO_ROUNDS; i++) {
        uint8_t c;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        AioCoRecv req;

        aio_co_recv_init(&req);
        if (aio_co_recvmsg(&req, e->fd, &msg, 0) != 1 || c != (uint8_t)i ||
            write(e->fd, &c, 1) != 1) {
            e->bad++;
            break;
        }
        e->max_poll_ns = MAX(e->max_poll_ns,
                             aio_context_poll_ns(qemu_get_aio_context()));
    }
    qatomic_store_release(&e->done, true);
}

static void *echo_peer(void *opaque)
{
    int fd = *(int *)opaque;

    for (unsigned int i = 0; i < ECHO_ROUNDS; i++) {
        uint8_t c = i, back;

        if (!test_xio(false, fd, &c, 1) || !test_xio(true, fd, &back, 1) ||
            back != c) {
            return (void *)1;
        }
    }
    return NULL;
}

/*
 * The main context, run by GLib (main_loop_wait()), polls before GLib
 * blocks, with the context's adaptive poll time: a quick peer makes it
 * grow from 0.
 */
static void test_gsource_poll_adapts(void)
{
    AioContext *ctx = qemu_get_aio_context();
    int64_t end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    Echo e = { 0 };
    QemuThread t;
    int sv[2];

    make_socketpair(sv);
    e.fd = sv[0];
    aio_context_set_poll_params(ctx, 1000 * 1000, 0, 0, &error_abort);
    qemu_coroutine_enter(qemu_coroutine_create(echo_co, &e));
    qemu_thread_create(&t, "echo-peer", echo_peer, &sv[1],
                       QEMU_THREAD_JOINABLE);
    while (!qatomic_load_acquire(&e.done)) {
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        main_loop_wait(false);
    }
    g_assert_null(qemu_thread_join(&t));
    g_assert_cmpuint(e.bad, ==, 0);
    g_assert_cmpint(e.max_poll_ns, >, 0);
    aio_context_set_poll_params(ctx, 0, 0, 0, &error_abort);
    assert_ctx_clean(ctx);
    close(sv[0]);
    close(sv[1]);
    assert_no_coroutines();
}

/* --- stale cancels against recycled stacks ------------------------------ */

/*
 * In an iothread, round after round: a reader parks on a channel in a
 * context receive and gets its byte (sometimes after a genuine wake),
 * then a victim coroutine - on the reader's recycled stack - parks a
 * receive on another socket and, with io_uring, a block-style ring
 * request (aio_add_sqe()) reading a pipe. While the victim's requests are
 * in flight the main thread fires the reader's stale id at the context,
 * and wakes the now idle channel. No victim request may be cancelled.
 */
typedef struct Stress {
    AioContext *ctx;
    QIOChannel *ioc;            /* channel reader's side */
    int victim_fd;              /* victim receives here */
    int pipe_rd;                /* victim's ring request reads here */
    Coroutine *driver;
    unsigned int round;         /* iothread only */
    bool reader_done;           /* atomic */
    bool victim_parked;         /* atomic */
    bool finished;              /* atomic */
    unsigned int reader_wakes;  /* iothread only, read after finished */
    unsigned int bad;           /* iothread only, read after finished */
} Stress;

static void coroutine_fn stress_reader(void *opaque)
{
    Stress *s = opaque;

    for (;;) {
        uint8_t c;
        struct iovec iov = { .iov_base = &c, .iov_len = 1 };
        ssize_t n;

        n = qio_channel_co_readv(s->ioc, &iov, 1, NULL);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            s->reader_wakes++;
            continue;
        }
        if (n != 1 || c != (uint8_t)s->round) {
            s->bad++;
        }
        break;
    }
    qatomic_store_release(&s->reader_done, true);
    aio_co_wake(s->driver);
}

typedef struct RingVictim {
    CqeHandler handler;
    Stress *s;
    Coroutine *co;
    Coroutine *waiter;          /* the victim, once it waits for us */
    uint8_t byte;
    bool done;
} RingVictim;

static void ring_victim_prep(struct io_uring_sqe *sqe, void *opaque)
{
    RingVictim *v = opaque;

    io_uring_prep_read(sqe, v->s->pipe_rd, &v->byte, 1, -1);
}

static void ring_victim_done(CqeHandler *handler)
{
    aio_co_wake(container_of(handler, RingVictim, handler)->co);
}

/* A block-style request: a CqeHandler on the coroutine's stack. */
static void coroutine_fn ring_victim(void *opaque)
{
    RingVictim *v = opaque;

    v->handler.cb = ring_victim_done;
    v->co = qemu_coroutine_self();
    aio_add_sqe(ring_victim_prep, v, &v->handler);
    qemu_coroutine_yield();
    if (v->handler.res != 1 || v->byte != (uint8_t)v->s->round) {
        /* -ECANCELED here is the bug this test is about. */
        v->s->bad++;
    }
    v->done = true;
    if (v->waiter) {
        aio_co_wake(v->waiter);
    }
}

static void coroutine_fn stress_victim(void *opaque)
{
    Stress *s = opaque;
    uint8_t c;
    struct iovec iov = { .iov_base = &c, .iov_len = 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    RingVictim rv = { .s = s };
    AioCoRecv req;
    ssize_t n;

    if (aio_has_io_uring(s->ctx)) {
        qemu_coroutine_enter(qemu_coroutine_create(ring_victim, &rv));
    } else {
        rv.done = true;
    }
    aio_co_recv_init(&req);
    qatomic_store_release(&s->victim_parked, true);
    n = aio_co_recvmsg(&req, s->victim_fd, &msg, 0);
    if (n != 1 || c != (uint8_t)s->round) {
        /* -ECANCELED here is the bug this test is about. */
        s->bad++;
    }
    if (!rv.done) {
        rv.waiter = qemu_coroutine_self();
        qemu_coroutine_yield();
    }
    aio_co_wake(s->driver);
}

/* Runs in the iothread: one reader, then one victim, per round. */
static void coroutine_fn stress_driver(void *opaque)
{
    Stress *s = opaque;

    s->driver = qemu_coroutine_self();
    for (unsigned int i = 0; i < STRESS_ROUNDS; i++) {
        s->round = i;
        /* Both always wait at least once, then wake us as they end. */
        qemu_coroutine_enter(qemu_coroutine_create(stress_reader, s));
        qemu_coroutine_yield();
        /* The reader's stack is back in the pool: the victim gets it. */
        qemu_coroutine_enter(qemu_coroutine_create(stress_victim, s));
        qemu_coroutine_yield();
    }
    qatomic_store_release(&s->finished, true);
}

static void flag_bh(void *opaque)
{
    qatomic_store_release((bool *)opaque, true);
}

/*
 * Returns once every bottom half scheduled in @ctx before the call ran:
 * one flag BH may run in the same batch as, and before, an older one; a
 * second, scheduled after the first ran, comes after the whole batch.
 */
static void flush_bhs(AioContext *ctx)
{
    for (int i = 0; i < 2; i++) {
        bool ran = false;

        aio_bh_schedule_oneshot(ctx, flag_bh, &ran);
        wait_flag(&ran);
    }
}

static void test_stale_cancel_stress(void)
{
    IOThread *t = iothread_create("stale-cancel", &error_abort);
    Stress s = { .ctx = iothread_get_aio_context(t) };
    QIOChannel *peer;
    int sv[2], vsv[2], pfd[2];

    make_socketpair(sv);
    make_socketpair(vsv);
    g_assert_cmpint(pipe2(pfd, O_CLOEXEC), ==, 0);
    s.ioc = QIO_CHANNEL(qio_channel_socket_new_fd(sv[0], &error_abort));
    peer = QIO_CHANNEL(qio_channel_socket_new_fd(sv[1], &error_abort));
    qio_channel_set_blocking(s.ioc, false, &error_abort);
    qio_channel_set_follow_coroutine_ctx(s.ioc, true);
    s.victim_fd = vsv[0];
    s.pipe_rd = pfd[0];

    aio_co_enter(s.ctx, qemu_coroutine_create(stress_driver, &s));
    for (unsigned int i = 0; i < STRESS_ROUNDS; i++) {
        int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
        uint8_t c = i;
        uint64_t stale;

        /* The reader parks (its id is published before it waits). */
        while (!(stale = qatomic_load_acquire(&s.ioc->read_recv_id))) {
            g_assert_cmpint(g_get_monotonic_time(), <, end);
            g_usleep(10);
        }
        if (i % 4 == 0) {
            /* A genuine wake first: the reader looks again, parks again. */
            qio_channel_wake_read(s.ioc);
        }
        g_assert_cmpint(write(sv[1], &c, 1), ==, 1);
        if (i % 4 == 1) {
            /* Races with the data: a wake or the byte, both are fine. */
            qio_channel_wake_read(s.ioc);
        }
        wait_flag(&s.reader_done);

        /* The victim parks on the reader's old stack... */
        wait_flag(&s.victim_parked);
        /* ...and the old reader's cancels come in late. */
        aio_co_recv_cancel(s.ctx, stale);
        qio_channel_wake_read(s.ioc);
        flush_bhs(s.ctx);

        /* Reset before the victim can end and the next round start. */
        qatomic_set(&s.reader_done, false);
        qatomic_set(&s.victim_parked, false);
        g_assert_cmpint(write(vsv[1], &c, 1), ==, 1);
        if (aio_has_io_uring(s.ctx)) {
            g_assert_cmpint(write(pfd[1], &c, 1), ==, 1);
        }
    }
    wait_flag(&s.finished);
    g_assert_cmpuint(s.bad, ==, 0);
    g_test_message("%u genuine wakes seen", s.reader_wakes);
    iothread_destroy(t);
    object_unref(OBJECT(s.ioc));
    object_unref(OBJECT(peer));
    close(vsv[0]);
    close(vsv[1]);
    close(pfd[0]);
    close(pfd[1]);
    assert_no_coroutines();
}

/* --- follow-coroutine-ctx off: main thread only ------------------------- */

static void coroutine_fn follow_off_reader(void *opaque)
{
    qio_channel_yield(opaque, G_IO_IN);
}

/*
 * Without follow-coroutine-ctx a wait goes to the iohandler context; a
 * coroutine of an iothread waiting there would share that context with
 * other threads, so it is refused with an assertion naming the rule.
 */
static void test_follow_off_in_iothread(void)
{
    if (g_test_subprocess()) {
        IOThread *t = iothread_create("follow-off", &error_abort);
        QIOChannel *x, *y;
        int sv[2];

        make_socketpair(sv);
        x = QIO_CHANNEL(qio_channel_socket_new_fd(sv[0], &error_abort));
        y = QIO_CHANNEL(qio_channel_socket_new_fd(sv[1], &error_abort));
        qio_channel_set_blocking(x, false, &error_abort);
        aio_co_enter(iothread_get_aio_context(t),
                     qemu_coroutine_create(follow_off_reader, x));
        g_usleep(10 * G_USEC_PER_SEC);
        object_unref(OBJECT(y));
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*a wait without follow-coroutine-ctx runs in "
                              "the main thread*");
}

/* The same wait in the main thread is fine. */
static void test_follow_off_in_main_thread(void)
{
    AioContext *ctx = qemu_get_aio_context();
    QIOChannel *x, *y;
    Coroutine *co;
    int sv[2];

    make_socketpair(sv);
    x = QIO_CHANNEL(qio_channel_socket_new_fd(sv[0], &error_abort));
    y = QIO_CHANNEL(qio_channel_socket_new_fd(sv[1], &error_abort));
    qio_channel_set_blocking(x, false, &error_abort);
    co = qemu_coroutine_create(follow_off_reader, x);
    qemu_coroutine_enter(co);
    g_assert_true(qatomic_read(&x->read_ctx) == iohandler_get_aio_context());
    qio_channel_wake_read(x);
    while (qemu_coroutine_live_count()) {
        aio_poll(ctx, false);
    }
    assert_ctx_clean(iohandler_get_aio_context());
    object_unref(OBJECT(x));
    object_unref(OBJECT(y));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_fdmon_init();
    qemu_init_main_loop(&error_abort);
    signal(SIGPIPE, SIG_IGN);

    g_test_add_func("/aio/co-recv/fdmon", test_fdmon_all_contexts);
    g_test_add_data_func("/aio/co-recv/data", NULL, test_recv_data);
    g_test_add_data_func("/aio/co-recv/data-nonblocking", "",
                         test_recv_data);
    g_test_add_func("/aio/co-recv/eof", test_recv_eof);
    g_test_add_func("/aio/co-recv/cancel-home", test_recv_cancel_home);
    g_test_add_func("/aio/co-recv/cancel-other-thread",
                    test_recv_cancel_other_thread);
    g_test_add_func("/aio/co-recv/keeps-handlers", test_recv_keeps_handlers);
    g_test_add_func("/aio/co-recv/gsource-poll-adapts",
                    test_gsource_poll_adapts);
    g_test_add_func("/aio/co-recv/stale-cancel-stress",
                    test_stale_cancel_stress);
    g_test_add_func("/io/channel/yield/follow-off-in-iothread",
                    test_follow_off_in_iothread);
    g_test_add_func("/io/channel/yield/follow-off-in-main-thread",
                    test_follow_off_in_main_thread);
    return g_test_run();
}
