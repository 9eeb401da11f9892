/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannel benchmark: ping-pong latency and streaming throughput over a
 * UNIX socket, through QIOChannel + coroutine yield in two iothreads, next
 * to plain blocking read()/write() in two threads (the limit of this
 * machine), in the same run. Prints both and the ratios.
 *
 *   build/tests/bench/bench-io-channel [--quick]
 */
#include "qemu/osdep.h"
#include "io/channel-socket.h"
#include "qemu/main-loop.h"
#include "sysemu/iothread.h"
#include "qapi/error.h"

enum { CHUNK = 64 * 1024 };

static long pingpongs = 200000;
static size_t stream_bytes = (size_t)4 << 30;
static int runs = 5;

/*
 * Both sides of every measurement are pinned the same way (side A on the
 * first CPU, side B on the second), so that plain and QIOChannel runs
 * compare like with like instead of with the scheduler's placement.
 */
static void pin_self(int side)
{
    cpu_set_t set;
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

    CPU_ZERO(&set);
    CPU_SET(side % MAX(ncpu, 1), &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void unpin_self(void)
{
    cpu_set_t set;
    int i, ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

    CPU_ZERO(&set);
    for (i = 0; i < ncpu; i++) {
        CPU_SET(i, &set);
    }
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void pin_bh(void *opaque)
{
    pin_self(GPOINTER_TO_INT(opaque));
}

static double now_s(void)
{
    return (double)get_clock() / 1e9;
}

static void socket_pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("socketpair");
        exit(1);
    }
}

/* --- plain blocking I/O ------------------------------------------------- */

static void full_io(bool rd, int fd, char *buf, size_t len)
{
    while (len) {
        ssize_t n = rd ? read(fd, buf, len) : write(fd, buf, len);
        if (n <= 0) {
            perror("plain I/O");
            exit(1);
        }
        buf += n;
        len -= n;
    }
}

static void *plain_echo(void *opaque)
{
    int fd = *(int *)opaque;
    char c;
    long i;

    pin_self(1);
    for (i = 0; i < pingpongs; i++) {
        full_io(true, fd, &c, 1);
        full_io(false, fd, &c, 1);
    }
    return NULL;
}

static double plain_pingpong(void)
{
    int sv[2];
    QemuThread t;
    double start;
    char c = 'p';
    long i;

    socket_pair(sv);
    pin_self(0);
    qemu_thread_create(&t, "echo", plain_echo, &sv[1], QEMU_THREAD_JOINABLE);
    start = now_s();
    for (i = 0; i < pingpongs; i++) {
        full_io(false, sv[0], &c, 1);
        full_io(true, sv[0], &c, 1);
    }
    start = now_s() - start;
    qemu_thread_join(&t);
    unpin_self();
    close(sv[0]);
    close(sv[1]);
    return start / pingpongs * 1e6;
}

static void *plain_writer(void *opaque)
{
    int fd = *(int *)opaque;
    g_autofree char *buf = g_malloc0(CHUNK);
    size_t left = stream_bytes;

    pin_self(0);
    while (left) {
        size_t len = MIN(left, CHUNK);
        full_io(false, fd, buf, len);
        left -= len;
    }
    return NULL;
}

static double plain_stream(void)
{
    int sv[2];
    QemuThread t;
    g_autofree char *buf = g_malloc(CHUNK);
    size_t got = 0;
    double start;

    socket_pair(sv);
    pin_self(1);
    start = now_s();
    qemu_thread_create(&t, "writer", plain_writer, &sv[1],
                       QEMU_THREAD_JOINABLE);
    while (got < stream_bytes) {
        ssize_t n = read(sv[0], buf, CHUNK);
        if (n <= 0) {
            perror("read");
            exit(1);
        }
        got += n;
    }
    start = now_s() - start;
    qemu_thread_join(&t);
    unpin_self();
    close(sv[0]);
    close(sv[1]);
    return stream_bytes / start / (1 << 20);
}

/* --- QIOChannel + coroutines in two iothreads --------------------------- */

typedef struct Job {
    QIOChannel *ioc;
    bool done;              /* atomic */
} Job;

static QIOChannel *new_channel(int fd)
{
    QIOChannel *ioc = QIO_CHANNEL(qio_channel_socket_new_fd(fd,
                                                            &error_abort));

    qio_channel_set_blocking(ioc, false, &error_abort);
    qio_channel_set_follow_coroutine_ctx(ioc, true);
    return ioc;
}

/* Reads what is there, yielding only when there is nothing, like read(). */
static size_t coroutine_fn co_read_some(QIOChannel *ioc, char *buf,
                                        size_t len)
{
    for (;;) {
        ssize_t n = qio_channel_read(ioc, buf, len, &error_abort);
        if (n > 0) {
            return n;
        }
        if (n == 0) {
            fprintf(stderr, "unexpected end of file\n");
            exit(1);
        }
        qio_channel_yield(ioc, G_IO_IN);
    }
}

static void coroutine_fn co_echo(void *opaque)
{
    Job *job = opaque;
    char c;
    long i;

    for (i = 0; i < pingpongs; i++) {
        qio_channel_read_all(job->ioc, &c, 1, &error_abort);
        qio_channel_write_all(job->ioc, &c, 1, &error_abort);
    }
    qatomic_store_release(&job->done, true);
}

static void coroutine_fn co_ping(void *opaque)
{
    Job *job = opaque;
    char c = 'p';
    long i;

    for (i = 0; i < pingpongs; i++) {
        qio_channel_write_all(job->ioc, &c, 1, &error_abort);
        qio_channel_read_all(job->ioc, &c, 1, &error_abort);
    }
    qatomic_store_release(&job->done, true);
}

static void coroutine_fn co_writer(void *opaque)
{
    Job *job = opaque;
    g_autofree char *buf = g_malloc0(CHUNK);
    size_t left = stream_bytes;

    while (left) {
        size_t len = MIN(left, CHUNK);
        qio_channel_write_all(job->ioc, buf, len, &error_abort);
        left -= len;
    }
    qatomic_store_release(&job->done, true);
}

static void coroutine_fn co_reader(void *opaque)
{
    Job *job = opaque;
    g_autofree char *buf = g_malloc(CHUNK);
    size_t got = 0;

    while (got < stream_bytes) {
        got += co_read_some(job->ioc, buf, CHUNK);
    }
    qatomic_store_release(&job->done, true);
}

static void wait_jobs(Job *a, Job *b)
{
    while (!qatomic_load_acquire(&a->done) ||
           !qatomic_load_acquire(&b->done)) {
        g_usleep(200);
    }
}

static double qio_run(IOThread **t, CoroutineEntry *fa, CoroutineEntry *fb)
{
    int sv[2];
    Job a, b;
    double start;

    socket_pair(sv);
    a = (Job){ .ioc = new_channel(sv[0]) };
    b = (Job){ .ioc = new_channel(sv[1]) };
    start = now_s();
    aio_co_enter(iothread_get_aio_context(t[1]),
                 qemu_coroutine_create(fb, &b));
    aio_co_enter(iothread_get_aio_context(t[0]),
                 qemu_coroutine_create(fa, &a));
    wait_jobs(&a, &b);
    start = now_s() - start;
    object_unref(OBJECT(a.ioc));
    object_unref(OBJECT(b.ioc));
    return start;
}

int main(int argc, char **argv)
{
    IOThread *t[2];
    double plain_pp = 1e18, qio_pp = 1e18, plain_tp = 0, qio_tp = 0;
    int i;

    if (argc > 1 && !strcmp(argv[1], "--quick")) {
        pingpongs /= 20;
        stream_bytes /= 20;
        runs = 1;
    }
    qemu_init_main_loop(&error_abort);
    t[0] = iothread_create("bench-a", &error_abort);
    t[1] = iothread_create("bench-b", &error_abort);
    /* iothread A (ping, writer) on CPU 0, B (echo, reader) on CPU 1. */
    aio_bh_schedule_oneshot(iothread_get_aio_context(t[0]), pin_bh,
                            GINT_TO_POINTER(0));
    aio_bh_schedule_oneshot(iothread_get_aio_context(t[1]), pin_bh,
                            GINT_TO_POINTER(1));

    printf("UNIX socket, best of %d runs (fd monitor: %s)\n", runs,
           aio_context_fdmon_name(iothread_get_aio_context(t[0])));
    printf("%-40s %12s %12s %8s\n", "", "plain", "QIOChannel", "ratio");
    /*
     * Twice: with the iothreads' default adaptive polling (as QEMU's:
     * poll-max-ns=32768, spinning on the completion queue before sleeping
     * while waits are short), then with polling off (poll-max-ns=0).
     */
    for (int poll = 1; poll >= 0; poll--) {
        int64_t poll_ns = poll ? IOTHREAD_POLL_MAX_NS_DEFAULT : 0;

        plain_pp = qio_pp = 1e18;
        plain_tp = qio_tp = 0;
        aio_context_set_poll_params(iothread_get_aio_context(t[0]),
                                    poll_ns, 0, 0, &error_abort);
        aio_context_set_poll_params(iothread_get_aio_context(t[1]),
                                    poll_ns, 0, 0, &error_abort);
        for (i = 0; i < runs; i++) {
            /* One measurement each: MIN()/MAX() would evaluate twice. */
            double pp = plain_pingpong();
            double qp = qio_run(t, co_ping, co_echo) / pingpongs * 1e6;
            double ptp = plain_stream();
            double qtp = stream_bytes / qio_run(t, co_writer, co_reader) /
                         (1 << 20);

            plain_pp = MIN(plain_pp, pp);
            qio_pp = MIN(qio_pp, qp);
            plain_tp = MAX(plain_tp, ptp);
            qio_tp = MAX(qio_tp, qtp);
        }
        printf("%-40s %9.2f us %9.2f us %8.2f\n",
               poll ? "ping-pong round trip (1 byte)" :
                      "ping-pong (1 byte), poll-max-ns=0",
               plain_pp, qio_pp, qio_pp / plain_pp);
        printf("%-40s %7.0f MiB/s %7.0f MiB/s %8.2f\n",
               poll ? "streaming throughput (64 KiB)" :
                      "streaming (64 KiB), poll-max-ns=0",
               plain_tp, qio_tp, qio_tp / plain_tp);
    }
    printf("targets: ping-pong ratio <= 1.30, throughput ratio >= 0.90\n");

    iothread_destroy(t[0]);
    iothread_destroy(t[1]);
    return 0;
}
