/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Coroutine and event loop micro-benchmarks:
 *   create + enter + terminate, yield + re-enter round trip,
 *   cross-thread aio_co_schedule hop, bottom-half schedule + dispatch.
 * Prints one line per figure; the best of several runs is reported, which
 * is what the machine can do when nothing else is in the way.
 *
 *   build/tests/bench/bench-coroutine [--quick]
 */
#include "qemu/osdep.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "sysemu/iothread.h"
#include "qapi/error.h"

static int runs = 5;

static double now_ns(void)
{
    return (double)get_clock();
}

static void coroutine_fn empty(void *opaque)
{
}

static double bench_create(long n)
{
    double start = now_ns();
    long i;

    for (i = 0; i < n; i++) {
        qemu_coroutine_enter(qemu_coroutine_create(empty, NULL));
    }
    return (now_ns() - start) / n;
}

static void coroutine_fn yield_loop(void *opaque)
{
    for (;;) {
        qemu_coroutine_yield();
    }
}

static double bench_yield(long n)
{
    static Coroutine *co;
    double start;
    long i;

    if (!co) {
        co = qemu_coroutine_create(yield_loop, NULL);
    }
    start = now_ns();
    for (i = 0; i < n; i++) {
        qemu_coroutine_enter(co);
    }
    return (now_ns() - start) / n;
}

typedef struct Hop {
    AioContext *ctx[2];
    long left;
    bool done;
} Hop;

static void coroutine_fn hopper(void *opaque)
{
    Hop *h = opaque;
    int side = 0;

    while (h->left-- > 0) {
        side = !side;
        aio_co_schedule(h->ctx[side], qemu_coroutine_self());
        qemu_coroutine_yield();
    }
    qatomic_store_release(&h->done, true);
}

static double bench_hop(IOThread **t, long n)
{
    Hop h = { .left = n };
    double start;

    h.ctx[0] = iothread_get_aio_context(t[0]);
    h.ctx[1] = iothread_get_aio_context(t[1]);
    start = now_ns();
    aio_co_schedule(h.ctx[0], qemu_coroutine_create(hopper, &h));
    while (!qatomic_load_acquire(&h.done)) {
        g_usleep(100);
    }
    return (now_ns() - start) / n;
}

static void bh_cb(void *opaque)
{
    (*(long *)opaque)++;
}

static double bench_bh(long n)
{
    AioContext *ctx = qemu_get_aio_context();
    long count = 0;
    QEMUBH *bh = aio_bh_new(ctx, bh_cb, &count);
    double start = now_ns();
    long i;

    for (i = 0; i < n; i++) {
        qemu_bh_schedule(bh);
        aio_poll(ctx, false);
    }
    g_assert(count == n);
    start = (now_ns() - start) / n;
    qemu_bh_delete(bh);
    aio_poll(ctx, false);
    return start;
}

static double best(double (*fn)(long), long n)
{
    double b = 1e18;
    int i;

    for (i = 0; i < runs; i++) {
        double t = fn(n);
        b = MIN(b, t);
    }
    return b;
}

int main(int argc, char **argv)
{
    IOThread *t[2];
    double hop = 1e18;
    long scale = 1;
    int i;

    if (argc > 1 && !strcmp(argv[1], "--quick")) {
        runs = 1;
        scale = 10;
    }
    qemu_init_main_loop(&error_abort);
    t[0] = iothread_create("bench0", &error_abort);
    t[1] = iothread_create("bench1", &error_abort);

    printf("%-44s %10.1f ns\n", "coroutine create+enter+terminate",
           best(bench_create, 2000000 / scale));
    printf("%-44s %10.1f ns\n", "coroutine yield + re-enter round trip",
           best(bench_yield, 20000000 / scale));
    for (i = 0; i < runs; i++) {
        double h = bench_hop(t, 200000 / scale);
        hop = MIN(hop, h);
    }
    printf("%-44s %10.2f us\n", "cross-thread aio_co_schedule hop",
           hop / 1000);
    printf("%-44s %10.1f ns\n", "bottom half schedule + dispatch",
           best(bench_bh, 2000000 / scale));
    printf("fd monitor: %s\n", aio_context_fdmon_name(qemu_get_aio_context()));

    iothread_destroy(t[0]);
    iothread_destroy(t[1]);
    return 0;
}
