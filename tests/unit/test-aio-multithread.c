/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Multithreaded stress: coroutines bouncing between iothreads with
 * aio_co_schedule() and aio_co_wake(), for a bounded time, with counters
 * that must add up exactly. Run under ThreadSanitizer in CI, and once per
 * fd monitor (the "-io_uring" and "-epoll" variants; see test_fdmon_init()).
 */
#include "qemu/osdep.h"
#include "block/aio.h"
#include "qemu/main-loop.h"
#include "sysemu/iothread.h"
#include "qapi/error.h"
#include "test-util.h"

enum { MAX_THREADS = 4 };

typedef struct Bounce {
    IOThread *threads[MAX_THREADS];
    int nr_threads;
    int64_t end_ns;
    uint64_t hops;                  /* atomic */
    uint64_t per_thread[MAX_THREADS];   /* atomic */
    int running;                    /* atomic */
    bool done;                      /* atomic */
} Bounce;

typedef struct Bouncer {
    Bounce *b;
    unsigned int seed;
    uint64_t my_hops;
} Bouncer;

static int current_thread_index(Bounce *b)
{
    AioContext *ctx = qemu_get_current_aio_context();
    int i;

    for (i = 0; i < b->nr_threads; i++) {
        if (iothread_get_aio_context(b->threads[i]) == ctx) {
            return i;
        }
    }
    g_assert_not_reached();
}

static void coroutine_fn bouncer(void *opaque)
{
    Bouncer *me = opaque;
    Bounce *b = me->b;

    while (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) < b->end_ns) {
        int next = (int)(rand_r(&me->seed) % b->nr_threads);
        AioContext *next_ctx = iothread_get_aio_context(b->threads[next]);

        aio_co_schedule(next_ctx, qemu_coroutine_self());
        qemu_coroutine_yield();
        /* We run where we were sent. */
        g_assert_true(qemu_get_current_aio_context() == next_ctx);
        g_assert_cmpint(current_thread_index(b), ==, next);
        qatomic_inc(&b->per_thread[next]);
        qatomic_inc(&b->hops);
        me->my_hops++;
    }
    if (qatomic_fetch_dec(&b->running) == 1) {
        qatomic_store_release(&b->done, true);
    }
}

static void run_bounce(int nr_threads, int nr_coroutines)
{
    Bounce b = { .nr_threads = nr_threads };
    Bouncer *bs = g_new0(Bouncer, nr_coroutines);
    uint64_t sum = 0, per_thread_sum = 0;
    int i;

    for (i = 0; i < nr_threads; i++) {
        g_autofree char *id = g_strdup_printf("bounce%d", i);
        b.threads[i] = iothread_create(id, &error_abort);
    }
    b.end_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + 500 * SCALE_MS;
    b.running = nr_coroutines;
    for (i = 0; i < nr_coroutines; i++) {
        bs[i] = (Bouncer){ .b = &b, .seed = i + 1 };
        aio_co_schedule(iothread_get_aio_context(b.threads[i % nr_threads]),
                        qemu_coroutine_create(bouncer, &bs[i]));
    }
    g_assert_true(poll_until(qemu_get_aio_context(), &b.done, 30));
    for (i = 0; i < nr_threads; i++) {
        iothread_destroy(b.threads[i]);
        per_thread_sum += b.per_thread[i];
    }
    for (i = 0; i < nr_coroutines; i++) {
        sum += bs[i].my_hops;
    }
    g_test_message("%d threads, %d coroutines: %" PRIu64 " hops", nr_threads,
                   nr_coroutines, b.hops);
    g_assert_cmpuint(b.hops, >, 0);
    g_assert_cmpuint(sum, ==, b.hops);
    g_assert_cmpuint(per_thread_sum, ==, b.hops);
    g_free(bs);
    assert_no_coroutines();
}

static void test_bounce_2(void)
{
    run_bounce(2, 8);
}

static void test_bounce_4(void)
{
    run_bounce(4, 16);
}

/*
 * Ping-pong through aio_co_wake(): two coroutines in two iothreads pass a
 * token; each parks, and the other wakes it once it has parked. Every wake
 * must resume the parked one in its own thread.
 */
typedef struct PingPong {
    Coroutine *co[2];
    AioContext *ctx[2];
    bool parked[2];                 /* atomic */
    uint64_t count[2];
    int rounds;
    int finished;                   /* atomic */
    bool done;                      /* atomic */
} PingPong;

typedef struct PingPongArg {
    PingPong *pp;
    int me;
} PingPongArg;

static void coroutine_fn ping_pong(void *opaque)
{
    PingPongArg *arg = opaque;
    PingPong *pp = arg->pp;
    int me = arg->me;
    int i;

    for (i = 0; i < pp->rounds; i++) {
        /* Coroutine 0 starts with the token. */
        if (me == 1 || i > 0) {
            qatomic_store_release(&pp->parked[me], true);
            qemu_coroutine_yield();
        }
        g_assert_true(qemu_get_current_aio_context() == pp->ctx[me]);
        pp->count[me]++;
        if (me == 1 && i == pp->rounds - 1) {
            break;          /* the last pass: 0 has finished */
        }
        /* Pass the token once the peer has parked. */
        while (!qatomic_cmpxchg(&pp->parked[!me], true, false)) {
            g_usleep(1);
        }
        aio_co_wake(pp->co[!me]);
    }
    if (qatomic_fetch_inc(&pp->finished) == 1) {
        qatomic_store_release(&pp->done, true);
    }
}

static void test_wake_ping_pong(void)
{
    PingPong pp = { .rounds = 20000 };
    PingPongArg args[2] = { { &pp, 0 }, { &pp, 1 } };
    IOThread *t[2];
    int i;

    for (i = 0; i < 2; i++) {
        g_autofree char *id = g_strdup_printf("pp%d", i);
        t[i] = iothread_create(id, &error_abort);
        pp.ctx[i] = iothread_get_aio_context(t[i]);
        pp.co[i] = qemu_coroutine_create(ping_pong, &args[i]);
    }
    aio_co_schedule(pp.ctx[1], pp.co[1]);
    aio_co_schedule(pp.ctx[0], pp.co[0]);
    g_assert_true(poll_until(qemu_get_aio_context(), &pp.done, 60));
    for (i = 0; i < 2; i++) {
        iothread_destroy(t[i]);
    }
    g_assert_cmpuint(pp.count[0], ==, pp.rounds);
    g_assert_cmpuint(pp.count[1], ==, pp.rounds);
    assert_no_coroutines();
}

/* Bottom halves from several iothreads into one: none lost. */
typedef struct Funnel {
    AioContext *target;
    uint64_t received;          /* only the target thread writes it */
    bool done;                  /* atomic */
    uint64_t expect;
} Funnel;

static void funnel_bh(void *opaque)
{
    Funnel *f = opaque;

    if (++f->received == f->expect) {
        qatomic_store_release(&f->done, true);
    }
}

typedef struct FunnelSender {
    Funnel *f;
    int count;
    int sent;
    bool done;                  /* atomic */
} FunnelSender;

static void send_some_bh(void *opaque)
{
    FunnelSender *s = opaque;
    int i;

    for (i = 0; i < 100 && s->sent < s->count; i++, s->sent++) {
        aio_bh_schedule_oneshot(s->f->target, funnel_bh, s->f);
    }
    if (s->sent < s->count) {
        aio_bh_schedule_oneshot(qemu_get_current_aio_context(),
                                send_some_bh, s);
    } else {
        qatomic_store_release(&s->done, true);
    }
}

static void test_bh_funnel(void)
{
    IOThread *t[3];
    FunnelSender senders[2];
    Funnel f = { .expect = 2 * 50000 };
    int i;

    for (i = 0; i < 3; i++) {
        g_autofree char *id = g_strdup_printf("funnel%d", i);
        t[i] = iothread_create(id, &error_abort);
    }
    f.target = iothread_get_aio_context(t[2]);
    for (i = 0; i < 2; i++) {
        senders[i] = (FunnelSender){ .f = &f, .count = 50000 };
        aio_bh_schedule_oneshot(iothread_get_aio_context(t[i]),
                                send_some_bh, &senders[i]);
    }
    g_assert_true(poll_until(qemu_get_aio_context(), &f.done, 60));
    for (i = 0; i < 3; i++) {
        iothread_destroy(t[i]);
    }
    g_assert_cmpuint(f.received, ==, f.expect);
}

/*
 * Short sleeps in an iothread. A deadline computed from two clock reads
 * once came out negative, which io_uring took as "wait forever".
 */
typedef struct Sleepers {
    int done;                   /* atomic */
    bool all_done;              /* atomic */
} Sleepers;

static void coroutine_fn short_sleeper(void *opaque)
{
    Sleepers *s = opaque;
    int i;

    for (i = 0; i < 500; i++) {
        int64_t start = get_clock();
        int64_t ns = 10000 + (i % 7) * 1000;

        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, ns);
        g_assert_cmpint(get_clock() - start, >=, ns);
    }
    if (qatomic_fetch_inc(&s->done) == 7) {
        qatomic_store_release(&s->all_done, true);
    }
}

static void test_iothread_short_sleeps(void)
{
    IOThread *t = iothread_create("sleepers", &error_abort);
    Sleepers s = { 0 };
    int i;

    for (i = 0; i < 8; i++) {
        aio_co_enter(iothread_get_aio_context(t),
                     qemu_coroutine_create(short_sleeper, &s));
    }
    g_assert_true(poll_until(qemu_get_aio_context(), &s.all_done, 30));
    iothread_destroy(t);
    assert_no_coroutines();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_fdmon_init();
    qemu_init_main_loop(&error_abort);

    g_test_add_func("/aio/multithread/fdmon", test_fdmon_all_contexts);
    g_test_add_func("/aio/multithread/bounce-2", test_bounce_2);
    g_test_add_func("/aio/multithread/bounce-4", test_bounce_4);
    g_test_add_func("/aio/multithread/wake-ping-pong", test_wake_ping_pong);
    g_test_add_func("/aio/multithread/bh-funnel", test_bh_funnel);
    g_test_add_func("/aio/multithread/iothread-short-sleeps",
                    test_iothread_short_sleeps);
    return g_test_run();
}
