/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * AioContext tests: bottom halves, timers, fd handlers, aio_notify, and fd
 * handlers of one fd in two contexts. Run once per fd monitor (the
 * "-io_uring" and "-epoll" variants set QEMU_FDMON; see test_fdmon_init()).
 */
#include "qemu/osdep.h"
#include "block/aio.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

static AioContext *ctx;

/* --- bottom halves ------------------------------------------------------ */

typedef struct BHLog {
    GString *log;
    QEMUBH *bh;
    char tag;
    int runs;
} BHLog;

static void bh_log_cb(void *opaque)
{
    BHLog *b = opaque;

    g_string_append_c(b->log, b->tag);
    b->runs++;
}

static void test_bh_order(void)
{
    GString *log = g_string_new("");
    BHLog b[5];
    int i;

    for (i = 0; i < 5; i++) {
        b[i] = (BHLog){ .log = log, .tag = 'a' + i };
        b[i].bh = aio_bh_new(ctx, bh_log_cb, &b[i]);
    }
    /* Scheduled in this order: c a e b d */
    qemu_bh_schedule(b[2].bh);
    qemu_bh_schedule(b[0].bh);
    qemu_bh_schedule(b[4].bh);
    qemu_bh_schedule(b[1].bh);
    qemu_bh_schedule(b[3].bh);
    /* A second schedule before dispatch runs it once. */
    qemu_bh_schedule(b[0].bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpstr(log->str, ==, "caebd");
    g_assert_false(aio_poll(ctx, false));
    for (i = 0; i < 5; i++) {
        g_assert_cmpint(b[i].runs, ==, 1);
        qemu_bh_delete(b[i].bh);
    }
    aio_poll(ctx, false);
    g_string_free(log, TRUE);
    assert_ctx_clean(ctx);
}

static void test_bh_cancel(void)
{
    GString *log = g_string_new("");
    BHLog b = { .log = log, .tag = 'x' };

    b.bh = aio_bh_new(ctx, bh_log_cb, &b);
    qemu_bh_schedule(b.bh);
    qemu_bh_cancel(b.bh);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(b.runs, ==, 0);
    qemu_bh_schedule(b.bh);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(b.runs, ==, 1);
    /* Deleting a scheduled BH: it does not run. */
    qemu_bh_schedule(b.bh);
    qemu_bh_delete(b.bh);
    aio_poll(ctx, false);
    g_assert_cmpint(b.runs, ==, 1);
    g_string_free(log, TRUE);
    assert_ctx_clean(ctx);
}

static void oneshot_cb(void *opaque)
{
    int *count = opaque;

    (*count)++;
}

static void test_bh_oneshot(void)
{
    int count = 0;

    aio_bh_schedule_oneshot(ctx, oneshot_cb, &count);
    aio_bh_schedule_oneshot(ctx, oneshot_cb, &count);
    g_assert_cmpuint(aio_context_bh_count(ctx), ==, 2);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(count, ==, 2);
    assert_ctx_clean(ctx);
}

typedef struct Reschedule {
    QEMUBH *bh;
    int runs;
} Reschedule;

static void reschedule_cb(void *opaque)
{
    Reschedule *r = opaque;

    if (++r->runs < 3) {
        qemu_bh_schedule(r->bh);
    }
}

static void test_bh_reschedule_self(void)
{
    Reschedule r = { 0 };

    r.bh = aio_bh_new(ctx, reschedule_cb, &r);
    qemu_bh_schedule(r.bh);
    /* Each iteration runs it once: a BH cannot starve the loop. */
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(r.runs, ==, 1);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(r.runs, ==, 2);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(r.runs, ==, 3);
    g_assert_false(aio_poll(ctx, false));
    qemu_bh_delete(r.bh);
    aio_poll(ctx, false);
    assert_ctx_clean(ctx);
}

/* A BH that polls (nested) must not break the order of the rest. */
typedef struct NestedBH {
    GString *log;
} NestedBH;

static void nested_tail_cb(void *opaque)
{
    g_string_append_c(((NestedBH *)opaque)->log, 'c');
}

static void nested_mid_cb(void *opaque)
{
    g_string_append_c(((NestedBH *)opaque)->log, 'b');
}

static void nested_head_cb(void *opaque)
{
    NestedBH *n = opaque;

    g_string_append_c(n->log, 'a');
    aio_bh_schedule_oneshot(ctx, nested_tail_cb, n);
    /* Nested: runs b (still queued) before c (new). */
    while (aio_poll(ctx, false)) {
    }
    g_string_append_c(n->log, '.');
}

static void test_bh_nested_poll(void)
{
    NestedBH n = { .log = g_string_new("") };

    aio_bh_schedule_oneshot(ctx, nested_head_cb, &n);
    aio_bh_schedule_oneshot(ctx, nested_mid_cb, &n);
    aio_poll(ctx, false);
    g_assert_cmpstr(n.log->str, ==, "abc.");
    g_string_free(n.log, TRUE);
    assert_ctx_clean(ctx);
}

typedef struct CrossThread {
    AioContext *ctx;
    int per_thread;
    int count;          /* touched only in ctx's thread */
} CrossThread;

static void cross_cb(void *opaque)
{
    ((CrossThread *)opaque)->count++;
}

static void *bh_producer(void *opaque)
{
    CrossThread *ct = opaque;
    int i;

    for (i = 0; i < ct->per_thread; i++) {
        aio_bh_schedule_oneshot(ct->ctx, cross_cb, ct);
    }
    return NULL;
}

static void test_bh_from_threads(void)
{
    CrossThread ct = { .ctx = ctx, .per_thread = 20000 };
    QemuThread threads[3];
    int i;

    for (i = 0; i < 3; i++) {
        qemu_thread_create(&threads[i], "bh-producer", bh_producer, &ct,
                           QEMU_THREAD_JOINABLE);
    }
    /* Consume while they produce, blocking in between. */
    while (ct.count < 3 * ct.per_thread) {
        aio_poll(ctx, true);
    }
    for (i = 0; i < 3; i++) {
        qemu_thread_join(&threads[i]);
    }
    g_assert_cmpint(ct.count, ==, 3 * ct.per_thread);
    assert_ctx_clean(ctx);
}

/* --- aio_notify -------------------------------------------------------- */

typedef struct NotifyData {
    AioContext *ctx;
    bool woke;
} NotifyData;

static void *notifier_thread(void *opaque)
{
    NotifyData *nd = opaque;

    g_usleep(50 * 1000);
    qatomic_set(&nd->woke, true);
    aio_notify(nd->ctx);
    return NULL;
}

static void test_notify_wakes_poll(void)
{
    NotifyData nd = { .ctx = ctx };
    QemuThread thread;
    int64_t start = g_get_monotonic_time();

    qemu_thread_create(&thread, "notifier", notifier_thread, &nd,
                       QEMU_THREAD_JOINABLE);
    /* Nothing registered but the notifier: only aio_notify wakes this. */
    while (!qatomic_read(&nd.woke)) {
        g_assert_false(aio_poll(ctx, true));
    }
    qemu_thread_join(&thread);
    g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
    /* A notify before the poll makes the next blocking poll return. */
    aio_notify(ctx);
    g_assert_false(aio_poll(ctx, true));
    assert_ctx_clean(ctx);
}

/* --- timers ------------------------------------------------------------ */

typedef struct TimerData {
    GString *log;
    char tag;
    int64_t due_ns;
    int64_t fired_ns;
} TimerData;

static void timer_cb(void *opaque)
{
    TimerData *td = opaque;

    td->fired_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    g_string_append_c(td->log, td->tag);
}

static void test_timers_order(void)
{
    GString *log = g_string_new("");
    int64_t now = qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
    int64_t offsets_ms[4] = { 30, 10, 20, 10 };
    TimerData td[4];
    QEMUTimer *t[4];
    int i;

    for (i = 0; i < 4; i++) {
        td[i] = (TimerData){ .log = log, .tag = 'a' + i,
                             .due_ns = now + offsets_ms[i] * SCALE_MS };
        t[i] = aio_timer_new(ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_cb,
                             &td[i]);
        timer_mod(t[i], td[i].due_ns);
        g_assert_true(timer_pending(t[i]));
    }
    while (log->len < 4) {
        aio_poll(ctx, true);
    }
    /* Equal deadlines fire in arming order. */
    g_assert_cmpstr(log->str, ==, "bdca");
    for (i = 0; i < 4; i++) {
        g_assert_cmpint(td[i].fired_ns, >=, td[i].due_ns);
        g_assert_false(timer_pending(t[i]));
        timer_free(t[i]);
    }
    g_string_free(log, TRUE);
    assert_ctx_clean(ctx);
}

static void test_timer_del_and_mod(void)
{
    GString *log = g_string_new("");
    TimerData td = { .log = log, .tag = 'x' };
    QEMUTimer t;
    int64_t now = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);

    aio_timer_init(ctx, &t, QEMU_CLOCK_REALTIME, SCALE_MS, timer_cb, &td);
    timer_mod(&t, now + 5);
    timer_del(&t);
    g_assert_false(timer_pending(&t));
    g_usleep(10 * 1000);
    aio_poll(ctx, false);
    g_assert_cmpstr(log->str, ==, "");

    /* Moving a pending timer later keeps a single arming. */
    timer_mod(&t, now + 1);
    timer_mod(&t, now + 15);
    td.due_ns = (now + 15) * SCALE_MS;
    while (!log->len) {
        aio_poll(ctx, true);
    }
    g_assert_cmpstr(log->str, ==, "x");
    g_assert_cmpint(td.fired_ns, >=, td.due_ns);
    aio_poll(ctx, false);
    g_assert_cmpstr(log->str, ==, "x");
    timer_deinit(&t);
    g_string_free(log, TRUE);
}

typedef struct RemoteTimer {
    QEMUTimer *timer;
    int64_t due_ns;
} RemoteTimer;

static void *arm_from_thread(void *opaque)
{
    RemoteTimer *rt = opaque;

    g_usleep(20 * 1000);
    timer_mod_ns(rt->timer, rt->due_ns);
    return NULL;
}

/* A timer armed by another thread wakes a poll that blocks forever. */
static void test_timer_armed_from_thread(void)
{
    GString *log = g_string_new("");
    TimerData td = { .log = log, .tag = 'r' };
    RemoteTimer rt;
    QemuThread thread;

    rt.timer = aio_timer_new(ctx, QEMU_CLOCK_REALTIME, SCALE_NS, timer_cb,
                             &td);
    rt.due_ns = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + 40 * SCALE_MS;
    qemu_thread_create(&thread, "arm", arm_from_thread, &rt,
                       QEMU_THREAD_JOINABLE);
    while (!log->len) {
        aio_poll(ctx, true);
    }
    qemu_thread_join(&thread);
    g_assert_cmpint(td.fired_ns, >=, rt.due_ns);
    timer_free(rt.timer);
    g_string_free(log, TRUE);
}

/* --- fd handlers ------------------------------------------------------- */

typedef struct PipeData {
    int fds[2];
    int reads;
    int writes;
    GString *got;
    int write_budget;
} PipeData;

static void pipe_read(void *opaque)
{
    PipeData *pd = opaque;
    char buf[64];
    ssize_t n = read(pd->fds[0], buf, sizeof(buf));

    g_assert_cmpint(n, >, 0);
    g_string_append_len(pd->got, buf, n);
    pd->reads++;
}

static void pipe_write(void *opaque)
{
    PipeData *pd = opaque;
    char c = 'A' + pd->writes % 26;

    g_assert_cmpint(write(pd->fds[1], &c, 1), ==, 1);
    pd->writes++;
    if (pd->writes == pd->write_budget) {
        aio_set_fd_handler(ctx, pd->fds[1], NULL, NULL, NULL, NULL, NULL);
    }
}

static void test_fd_handlers_pipe(void)
{
    PipeData pd = { .got = g_string_new(""), .write_budget = 26 };
    int i;

    g_assert_cmpint(pipe2(pd.fds, O_NONBLOCK | O_CLOEXEC), ==, 0);
    aio_set_fd_handler(ctx, pd.fds[0], pipe_read, NULL, NULL, NULL, &pd);
    /* Nothing to read yet: a non-blocking poll makes no progress. */
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(pd.reads, ==, 0);

    aio_set_fd_handler(ctx, pd.fds[1], NULL, pipe_write, NULL, NULL, &pd);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 2);
    for (i = 0; i < 1000 && pd.got->len < 26; i++) {
        aio_poll(ctx, true);
    }
    g_assert_cmpstr(pd.got->str, ==, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    g_assert_cmpint(pd.writes, ==, 26);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);

    /* Removed: data written is not read any more. */
    aio_set_fd_handler(ctx, pd.fds[0], NULL, NULL, NULL, NULL, NULL);
    g_assert_cmpint(write(pd.fds[1], "z", 1), ==, 1);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpstr(pd.got->str, ==, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    close(pd.fds[0]);
    close(pd.fds[1]);
    g_string_free(pd.got, TRUE);
    assert_ctx_clean(ctx);
}

/* Setting read and write of one fd together, then each alone. */
static void test_fd_handler_replace(void)
{
    PipeData pd = { .got = g_string_new("") };
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                    ==, 0);
    pd.fds[0] = sv[0];
    pd.fds[1] = sv[0];
    pd.write_budget = 1000000;
    aio_set_fd_handler(ctx, sv[0], pipe_read, pipe_write, NULL, NULL, &pd);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(pd.writes, ==, 1);

    /* Replacing with read only: the write handler is gone. */
    aio_set_fd_handler(ctx, sv[0], pipe_read, NULL, NULL, NULL, &pd);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);
    aio_poll(ctx, false);
    g_assert_cmpint(pd.writes, ==, 1);
    g_assert_cmpint(pd.reads, ==, 0);
    g_assert_cmpint(write(sv[1], "hi", 2), ==, 2);
    while (pd.got->len < 2) {
        aio_poll(ctx, true);
    }
    g_assert_cmpstr(pd.got->str, ==, "hi");
    aio_set_fd_handler(ctx, sv[0], NULL, NULL, NULL, NULL, NULL);
    close(sv[0]);
    close(sv[1]);
    g_string_free(pd.got, TRUE);
    assert_ctx_clean(ctx);
}

/* One fd read in context A and written in context B: two registrations. */
typedef struct SplitFd {
    int fd;
    int reads;
    int writes;
} SplitFd;

static void split_read(void *opaque)
{
    SplitFd *s = opaque;
    char buf[16];

    if (read(s->fd, buf, sizeof(buf)) > 0) {
        s->reads++;
    }
}

static void split_write(void *opaque)
{
    ((SplitFd *)opaque)->writes++;
}

static void test_fd_two_contexts(void)
{
    AioContext *b = aio_context_new(&error_abort);
    SplitFd s;
    int sv[2];

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                    ==, 0);
    s = (SplitFd){ .fd = sv[0] };
    aio_set_fd_handler(ctx, sv[0], split_read, NULL, NULL, NULL, &s);
    aio_set_fd_handler(b, sv[0], NULL, split_write, NULL, NULL, &s);
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 1);
    g_assert_cmpuint(aio_context_handler_count(b), ==, 1);

    /* B sees the fd writable; A has nothing to read. */
    g_assert_true(aio_poll(b, false));
    g_assert_cmpint(s.writes, ==, 1);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(s.reads, ==, 0);

    /* Data arrives: A reads it; B's registration is untouched. */
    g_assert_cmpint(write(sv[1], "x", 1), ==, 1);
    g_assert_true(aio_poll(ctx, false));
    g_assert_cmpint(s.reads, ==, 1);
    g_assert_true(aio_poll(b, false));
    g_assert_cmpint(s.writes, ==, 2);

    /* Removing A's leaves B's. */
    aio_set_fd_handler(ctx, sv[0], NULL, NULL, NULL, NULL, NULL);
    g_assert_cmpint(write(sv[1], "y", 1), ==, 1);
    g_assert_false(aio_poll(ctx, false));
    g_assert_cmpint(s.reads, ==, 1);
    g_assert_true(aio_poll(b, false));
    g_assert_cmpint(s.writes, ==, 3);

    /* And removing B's leaves nothing, in either. */
    aio_set_fd_handler(b, sv[0], NULL, NULL, NULL, NULL, NULL);
    g_assert_false(aio_poll(b, false));
    g_assert_cmpint(s.writes, ==, 3);
    assert_ctx_clean(b);
    assert_ctx_clean(ctx);
    close(sv[0]);
    close(sv[1]);
    aio_context_unref(b);
}

/* A handler removed by another handler of the same iteration. */
typedef struct RemoveOther {
    int fd_a, fd_b;
    int a_runs, b_runs;
} RemoveOther;

static void remove_other_a(void *opaque)
{
    RemoveOther *ro = opaque;

    ro->a_runs++;
    aio_set_fd_handler(ctx, ro->fd_b, NULL, NULL, NULL, NULL, NULL);
    aio_set_fd_handler(ctx, ro->fd_a, NULL, NULL, NULL, NULL, NULL);
}

static void remove_other_b(void *opaque)
{
    RemoveOther *ro = opaque;

    ro->b_runs++;
    aio_set_fd_handler(ctx, ro->fd_b, NULL, NULL, NULL, NULL, NULL);
    aio_set_fd_handler(ctx, ro->fd_a, NULL, NULL, NULL, NULL, NULL);
}

static void test_fd_remove_during_dispatch(void)
{
    RemoveOther ro;
    int a[2], b[2];

    g_assert_cmpint(pipe2(a, O_NONBLOCK), ==, 0);
    g_assert_cmpint(pipe2(b, O_NONBLOCK), ==, 0);
    ro = (RemoveOther){ .fd_a = a[0], .fd_b = b[0] };
    aio_set_fd_handler(ctx, a[0], remove_other_a, NULL, NULL, NULL, &ro);
    aio_set_fd_handler(ctx, b[0], remove_other_b, NULL, NULL, NULL, &ro);
    g_assert_cmpint(write(a[1], "1", 1), ==, 1);
    g_assert_cmpint(write(b[1], "1", 1), ==, 1);
    aio_poll(ctx, false);
    /* Whichever ran first removed the other: exactly one ran. */
    g_assert_cmpint(ro.a_runs + ro.b_runs, ==, 1);
    aio_poll(ctx, false);
    g_assert_cmpint(ro.a_runs + ro.b_runs, ==, 1);
    assert_ctx_clean(ctx);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

static void *set_handler_from_thread(void *opaque)
{
    PipeData *pd = opaque;

    g_usleep(20 * 1000);
    aio_set_fd_handler(ctx, pd->fds[0], pipe_read, NULL, NULL, NULL, pd);
    return NULL;
}

/* A handler added by another thread is picked up by a blocked poll. */
static void test_fd_handler_from_thread(void)
{
    PipeData pd = { .got = g_string_new("") };
    QemuThread thread;

    g_assert_cmpint(pipe2(pd.fds, O_NONBLOCK), ==, 0);
    g_assert_cmpint(write(pd.fds[1], "ok", 2), ==, 2);
    qemu_thread_create(&thread, "set-handler", set_handler_from_thread, &pd,
                       QEMU_THREAD_JOINABLE);
    while (pd.got->len < 2) {
        aio_poll(ctx, true);
    }
    qemu_thread_join(&thread);
    g_assert_cmpstr(pd.got->str, ==, "ok");
    aio_set_fd_handler(ctx, pd.fds[0], NULL, NULL, NULL, NULL, NULL);
    close(pd.fds[0]);
    close(pd.fds[1]);
    g_string_free(pd.got, TRUE);
    assert_ctx_clean(ctx);
}

/* A regular file is always ready (epoll refuses such fds). */
static void test_fd_regular_file(void)
{
    PipeData pd = { .got = g_string_new("") };
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("test-aio-XXXXXX", &path, NULL);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, "file", 4), ==, 4);
    lseek(fd, 0, SEEK_SET);
    pd.fds[0] = fd;
    aio_set_fd_handler(ctx, fd, pipe_read, NULL, NULL, NULL, &pd);
    g_assert_true(aio_poll(ctx, true));
    g_assert_cmpstr(pd.got->str, ==, "file");
    aio_set_fd_handler(ctx, fd, NULL, NULL, NULL, NULL, NULL);
    close(fd);
    unlink(path);
    g_string_free(pd.got, TRUE);
    assert_ctx_clean(ctx);
}

/* Every context of this run uses the fd monitor the variant asks for. */
static void test_fdmon_name(void)
{
    assert_ctx_fdmon(ctx);
    test_fdmon_all_contexts();
}

/* What a context picks with QEMU_FDMON unset, seen by main() first. */
static char *default_fdmon;

static void record_default_fdmon(void)
{
    g_autofree char *saved = g_strdup(g_getenv("QEMU_FDMON"));
    AioContext *c;

    /* No other thread exists yet: the environment is ours to change. */
    g_unsetenv("QEMU_FDMON");
    c = aio_context_new(&error_abort);
    default_fdmon = g_strdup(aio_context_fdmon_name(c));
    aio_context_unref(c);
    if (saved) {
        g_setenv("QEMU_FDMON", saved, TRUE);
    }
}

/* By default a context uses io_uring wherever the kernel allows it. */
static void test_fdmon_default(void)
{
    const char *refusal = test_io_uring_refusal();

    if (refusal) {
        g_test_message("%s", refusal);
    }
    g_assert_cmpstr(default_fdmon, ==, refusal ? "epoll" : "io_uring");
}

/* --- busy polling ------------------------------------------------------ */

typedef struct PollData {
    int countdown;
    int ready;
} PollData;

static bool poll_fn(void *opaque)
{
    PollData *p = opaque;

    return --p->countdown <= 0;
}

static void poll_ready_fn(void *opaque)
{
    ((PollData *)opaque)->ready++;
}

static void test_busy_poll(void)
{
    PollData p = { .countdown = 100 };
    int fds[2];

    g_assert_cmpint(pipe2(fds, O_NONBLOCK), ==, 0);
    aio_context_set_poll_params(ctx, 50 * SCALE_MS, 0, 0, &error_abort);
    aio_set_fd_handler(ctx, fds[0], pipe_read, NULL, poll_fn, poll_ready_fn,
                       &p);
    /* No fd activity: only busy-polling can make this return. */
    g_assert_true(aio_poll(ctx, true));
    g_assert_cmpint(p.ready, ==, 1);
    aio_set_fd_handler(ctx, fds[0], NULL, NULL, NULL, NULL, NULL);
    aio_context_set_poll_params(ctx, 0, 0, 0, &error_abort);
    close(fds[0]);
    close(fds[1]);
    assert_ctx_clean(ctx);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    test_fdmon_init();
    record_default_fdmon();
    ctx = aio_context_new(&error_abort);

    g_test_add_func("/aio/fdmon-name", test_fdmon_name);
    g_test_add_func("/aio/fdmon-default", test_fdmon_default);
    g_test_add_func("/aio/bh/order", test_bh_order);
    g_test_add_func("/aio/bh/cancel-delete", test_bh_cancel);
    g_test_add_func("/aio/bh/oneshot", test_bh_oneshot);
    g_test_add_func("/aio/bh/reschedule-self", test_bh_reschedule_self);
    g_test_add_func("/aio/bh/nested-poll", test_bh_nested_poll);
    g_test_add_func("/aio/bh/from-threads", test_bh_from_threads);
    g_test_add_func("/aio/notify/wakes-poll", test_notify_wakes_poll);
    g_test_add_func("/aio/timer/order", test_timers_order);
    g_test_add_func("/aio/timer/del-mod", test_timer_del_and_mod);
    g_test_add_func("/aio/timer/armed-from-thread",
                    test_timer_armed_from_thread);
    g_test_add_func("/aio/fd/pipe", test_fd_handlers_pipe);
    g_test_add_func("/aio/fd/replace", test_fd_handler_replace);
    g_test_add_func("/aio/fd/two-contexts", test_fd_two_contexts);
    g_test_add_func("/aio/fd/remove-during-dispatch",
                    test_fd_remove_during_dispatch);
    g_test_add_func("/aio/fd/set-from-thread", test_fd_handler_from_thread);
    g_test_add_func("/aio/fd/regular-file", test_fd_regular_file);
    g_test_add_func("/aio/busy-poll", test_busy_poll);
    return g_test_run();
}
