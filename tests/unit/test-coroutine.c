/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Coroutine tests: enter/yield order, nesting, the pool, CoMutex, CoQueue,
 * sleeps, and the misuse checks.
 */
#include "qemu/osdep.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "sysemu/iothread.h"
#include "qapi/error.h"
#include "test-util.h"

/* --- basics ----------------------------------------------------------- */

static void coroutine_fn record_self(void *opaque)
{
    Coroutine **out = opaque;

    g_assert_true(qemu_in_coroutine());
    *out = qemu_coroutine_self();
}

static void test_self(void)
{
    Coroutine *co, *seen = NULL;

    g_assert_false(qemu_in_coroutine());
    co = qemu_coroutine_create(record_self, &seen);
    qemu_coroutine_enter(co);
    g_assert_true(seen == co);
    g_assert_false(qemu_in_coroutine());
    assert_no_coroutines();
}

static void coroutine_fn yield_n(void *opaque)
{
    int *steps = opaque;

    while (*steps < 5) {
        (*steps)++;
        qemu_coroutine_yield();
    }
    *steps = 100;
}

static void test_yield_order(void)
{
    int steps = 0;
    Coroutine *co = qemu_coroutine_create(yield_n, &steps);
    int i;

    for (i = 1; i <= 5; i++) {
        qemu_coroutine_enter(co);
        g_assert_cmpint(steps, ==, i);
        g_assert_false(qemu_coroutine_entered(co));
    }
    qemu_coroutine_enter(co);
    g_assert_cmpint(steps, ==, 100);
    assert_no_coroutines();
}

typedef struct NestData {
    GString *log;
    int depth;
    int max;
} NestData;

static void coroutine_fn nest(void *opaque)
{
    NestData *nd = opaque;
    int depth = ++nd->depth;

    g_string_append_printf(nd->log, "<%d", depth);
    if (depth < nd->max) {
        Coroutine *child = qemu_coroutine_create(nest, nd);
        qemu_coroutine_enter(child);
    }
    g_string_append_printf(nd->log, ">%d", depth);
}

static void test_nesting(void)
{
    NestData nd = { .log = g_string_new(""), .max = 4 };

    qemu_coroutine_enter(qemu_coroutine_create(nest, &nd));
    g_assert_cmpstr(nd.log->str, ==, "<1<2<3<4>4>3>2>1");
    g_string_free(nd.log, TRUE);
    assert_no_coroutines();
}

static void coroutine_fn yield_to_parent(void *opaque)
{
    GString *log = opaque;

    g_string_append(log, "c1");
    qemu_coroutine_yield();
    g_string_append(log, "c2");
}

static void coroutine_fn parent(void *opaque)
{
    GString *log = opaque;
    Coroutine *child = qemu_coroutine_create(yield_to_parent, log);

    g_string_append(log, "p1");
    qemu_coroutine_enter(child);        /* child yields back to us */
    g_string_append(log, "p2");
    qemu_coroutine_enter(child);        /* child finishes */
    g_string_append(log, "p3");
}

static void test_nested_yield(void)
{
    GString *log = g_string_new("");

    qemu_coroutine_enter(qemu_coroutine_create(parent, log));
    g_assert_cmpstr(log->str, ==, "p1c1p2c2p3");
    g_string_free(log, TRUE);
    assert_no_coroutines();
}

static void coroutine_fn nop(void *opaque)
{
    Coroutine **where = opaque;

    *where = qemu_coroutine_self();
}

static void test_pool_reuse(void)
{
    Coroutine *first = NULL, *second = NULL;

    qemu_coroutine_enter(qemu_coroutine_create(nop, &first));
    qemu_coroutine_enter(qemu_coroutine_create(nop, &second));
    /* The second creation took the first one's object from the pool. */
    g_assert_true(first == second);
    assert_no_coroutines();
}

/* Stack variables of a coroutine survive its yields. */
static void coroutine_fn stack_keeper(void *opaque)
{
    int *sum = opaque;
    char buf[4096];
    int i;

    for (i = 0; i < (int)sizeof(buf); i++) {
        buf[i] = (char)i;
    }
    qemu_coroutine_yield();
    for (i = 0; i < (int)sizeof(buf); i++) {
        *sum += (unsigned char)buf[i];
    }
}

static void test_stack_kept(void)
{
    int sum_a = 0, sum_b = 0;
    Coroutine *a = qemu_coroutine_create(stack_keeper, &sum_a);
    Coroutine *b = qemu_coroutine_create(stack_keeper, &sum_b);
    int expect = 0, i;

    for (i = 0; i < 4096; i++) {
        expect += (unsigned char)(char)i;
    }
    qemu_coroutine_enter(a);
    qemu_coroutine_enter(b);
    qemu_coroutine_enter(b);
    qemu_coroutine_enter(a);
    g_assert_cmpint(sum_a, ==, expect);
    g_assert_cmpint(sum_b, ==, expect);
    assert_no_coroutines();
}

/* --- misuse ----------------------------------------------------------- */

static void coroutine_fn reenter_self(void *opaque)
{
    qemu_coroutine_enter(qemu_coroutine_self());
}

static void test_reenter_aborts(void)
{
    if (g_test_subprocess()) {
        qemu_coroutine_enter(qemu_coroutine_create(reenter_self, NULL));
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*re-entered while it is running*");
}

static void coroutine_fn just_yield(void *opaque)
{
    qemu_coroutine_yield();
}

static void *enter_from_thread(void *opaque)
{
    qemu_coroutine_enter(opaque);
    return NULL;
}

/* A coroutine parked in an iothread's context, resumed from another. */
static void test_wrong_thread_aborts(void)
{
    if (g_test_subprocess()) {
        IOThread *iothread = iothread_create("t", &error_abort);
        Coroutine *co = qemu_coroutine_create(just_yield, NULL);
        QemuThread thread;

        aio_co_enter(iothread_get_aio_context(iothread), co);
        /* Give the iothread time to run it up to its yield. */
        g_usleep(100 * 1000);
        qemu_thread_create(&thread, "intruder", enter_from_thread, co,
                           QEMU_THREAD_JOINABLE);
        qemu_thread_join(&thread);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*resumed from thread*does not run that "
                              "context*");
}

static void test_enter_ctx_wrong_thread_aborts(void)
{
    if (g_test_subprocess()) {
        IOThread *iothread = iothread_create("t", &error_abort);
        Coroutine *co = qemu_coroutine_create(just_yield, NULL);

        /* The main thread may not run the iothread's context. */
        qemu_aio_coroutine_enter(iothread_get_aio_context(iothread), co);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*not that context's home thread*");
}

static void test_double_schedule_aborts(void)
{
    if (g_test_subprocess()) {
        Coroutine *co = qemu_coroutine_create(just_yield, NULL);

        aio_co_schedule(qemu_get_aio_context(), co);
        aio_co_schedule(qemu_get_aio_context(), co);
        return;
    }
    g_test_trap_subprocess(NULL, 0, 0);
    g_test_trap_assert_failed();
    g_test_trap_assert_stderr("*already scheduled in 'aio_co_schedule'*");
}

/* --- CoMutex and CoQueue in one thread --------------------------------- */

typedef struct LockOrder {
    CoMutex mutex;
    GString *log;
    char next_id;
} LockOrder;

static void coroutine_fn lock_and_yield(void *opaque)
{
    LockOrder *lo = opaque;
    char id = 'a' + lo->next_id++;

    qemu_co_mutex_lock(&lo->mutex);
    g_string_append_c(lo->log, id);
    qemu_coroutine_yield();
    g_string_append_c(lo->log, g_ascii_toupper(id));
    qemu_co_mutex_unlock(&lo->mutex);
}

static void test_co_mutex_fifo(void)
{
    LockOrder lo = { .log = g_string_new("") };
    Coroutine *co[3];
    int i;

    qemu_co_mutex_init(&lo.mutex);
    for (i = 0; i < 3; i++) {
        co[i] = qemu_coroutine_create(lock_and_yield, &lo);
        qemu_coroutine_enter(co[i]);
    }
    /* Only the first holds the lock; the others queue in order. */
    g_assert_cmpstr(lo.log->str, ==, "a");
    qemu_coroutine_enter(co[0]);
    /* The unlock woke the next waiter, which ran and yielded. */
    while (aio_poll(qemu_get_aio_context(), false)) {
    }
    g_assert_cmpstr(lo.log->str, ==, "aAb");
    qemu_coroutine_enter(co[1]);
    while (aio_poll(qemu_get_aio_context(), false)) {
    }
    g_assert_cmpstr(lo.log->str, ==, "aAbBc");
    qemu_coroutine_enter(co[2]);
    g_assert_cmpstr(lo.log->str, ==, "aAbBcC");
    qemu_co_mutex_destroy(&lo.mutex);
    g_string_free(lo.log, TRUE);
    assert_no_coroutines();
}

typedef struct QueueData {
    CoQueue queue;
    int woken;
    GString *log;
} QueueData;

static void coroutine_fn queue_waiter(void *opaque)
{
    QueueData *qd = opaque;
    int me = (int)qd->log->len;

    g_string_append_printf(qd->log, "w%d", me / 2);
    qemu_co_queue_wait(&qd->queue, NULL);
    qd->woken++;
}

static void test_co_queue(void)
{
    QueueData qd = { .log = g_string_new("") };
    int i;

    qemu_co_queue_init(&qd.queue);
    g_assert_true(qemu_co_queue_empty(&qd.queue));
    for (i = 0; i < 4; i++) {
        qemu_coroutine_enter(qemu_coroutine_create(queue_waiter, &qd));
    }
    g_assert_false(qemu_co_queue_empty(&qd.queue));
    g_assert_true(qemu_co_queue_next(&qd.queue));
    g_assert_cmpint(qd.woken, ==, 1);
    g_assert_true(qemu_co_enter_next(&qd.queue, NULL));
    g_assert_cmpint(qd.woken, ==, 2);
    qemu_co_queue_restart_all(&qd.queue);
    g_assert_cmpint(qd.woken, ==, 4);
    g_assert_false(qemu_co_queue_next(&qd.queue));
    g_assert_true(qemu_co_queue_empty(&qd.queue));
    g_string_free(qd.log, TRUE);
    assert_no_coroutines();
}

/* --- sleeps ------------------------------------------------------------ */

typedef struct SleepData {
    int64_t ns;
    int64_t slept;
    bool done;
    QemuCoSleep w;
} SleepData;

static void coroutine_fn sleeper(void *opaque)
{
    SleepData *sd = opaque;
    int64_t start = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);

    qemu_co_sleep_ns_wakeable(&sd->w, QEMU_CLOCK_REALTIME, sd->ns);
    sd->slept = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - start;
    sd->done = true;
}

static void test_co_sleep(void)
{
    SleepData sd = { .ns = 20 * SCALE_MS };
    AioContext *ctx = qemu_get_aio_context();

    qemu_coroutine_enter(qemu_coroutine_create(sleeper, &sd));
    g_assert_false(sd.done);
    while (!sd.done) {
        aio_poll(ctx, true);
    }
    /* Never early. */
    g_assert_cmpint(sd.slept, >=, sd.ns);
    assert_no_coroutines();
}

static void test_co_sleep_wake(void)
{
    SleepData sd = { .ns = 3600LL * 1000 * SCALE_MS };
    AioContext *ctx = qemu_get_aio_context();

    qemu_coroutine_enter(qemu_coroutine_create(sleeper, &sd));
    g_assert_false(sd.done);
    qemu_co_sleep_wake(&sd.w);
    while (!sd.done) {
        aio_poll(ctx, true);
    }
    g_assert_cmpint(sd.slept, <, sd.ns);
    /* Waking again is harmless. */
    qemu_co_sleep_wake(&sd.w);
    assert_no_coroutines();
    assert_ctx_clean(ctx);
}

/* --- CoMutex contended from two iothreads ------------------------------ */

enum { MT_ITERATIONS = 20000 };

typedef struct MtLock {
    CoMutex mutex;
    /* Plain: only touched with the CoMutex held, which TSan must see. */
    uint64_t counter;
    unsigned int in_critical;
    int running;                    /* atomic */
    bool done;                      /* atomic */
} MtLock;

static void coroutine_fn mt_locker(void *opaque)
{
    MtLock *ml = opaque;
    int i;

    for (i = 0; i < MT_ITERATIONS; i++) {
        qemu_co_mutex_lock(&ml->mutex);
        g_assert_cmpuint(ml->in_critical++, ==, 0);
        ml->counter++;
        if (i % 7 == 0) {
            /* Hold it across a yield through the event loop. */
            aio_co_schedule(qemu_get_current_aio_context(),
                            qemu_coroutine_self());
            qemu_coroutine_yield();
        }
        ml->in_critical--;
        qemu_co_mutex_unlock(&ml->mutex);
        if (i % 3 == 0) {
            aio_co_schedule(qemu_get_current_aio_context(),
                            qemu_coroutine_self());
            qemu_coroutine_yield();
        }
    }
    if (qatomic_fetch_dec(&ml->running) == 1) {
        qatomic_store_release(&ml->done, true);
    }
}

static void test_co_mutex_two_iothreads(void)
{
    IOThread *t[2];
    MtLock ml = { .running = 4 };
    int i;

    qemu_co_mutex_init(&ml.mutex);
    t[0] = iothread_create("lock0", &error_abort);
    t[1] = iothread_create("lock1", &error_abort);
    for (i = 0; i < 4; i++) {
        aio_co_enter(iothread_get_aio_context(t[i % 2]),
                     qemu_coroutine_create(mt_locker, &ml));
    }
    g_assert_true(poll_until(qemu_get_aio_context(), &ml.done, 60));
    iothread_destroy(t[0]);
    iothread_destroy(t[1]);
    g_assert_cmpuint(ml.counter, ==, 4 * MT_ITERATIONS);
    qemu_co_mutex_destroy(&ml.mutex);
    assert_no_coroutines();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);

    g_test_add_func("/coroutine/self", test_self);
    g_test_add_func("/coroutine/yield-order", test_yield_order);
    g_test_add_func("/coroutine/nesting", test_nesting);
    g_test_add_func("/coroutine/nested-yield", test_nested_yield);
    g_test_add_func("/coroutine/pool-reuse", test_pool_reuse);
    g_test_add_func("/coroutine/stack-kept", test_stack_kept);
    g_test_add_func("/coroutine/misuse/reenter", test_reenter_aborts);
    g_test_add_func("/coroutine/misuse/wrong-thread",
                    test_wrong_thread_aborts);
    g_test_add_func("/coroutine/misuse/enter-ctx-wrong-thread",
                    test_enter_ctx_wrong_thread_aborts);
    g_test_add_func("/coroutine/misuse/double-schedule",
                    test_double_schedule_aborts);
    g_test_add_func("/coroutine/comutex/fifo", test_co_mutex_fifo);
    g_test_add_func("/coroutine/comutex/two-iothreads",
                    test_co_mutex_two_iothreads);
    g_test_add_func("/coroutine/coqueue", test_co_queue);
    g_test_add_func("/coroutine/sleep", test_co_sleep);
    g_test_add_func("/coroutine/sleep-wake", test_co_sleep_wake);
    return g_test_run();
}
