/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the unit tests.
 */
#ifndef TESTS_UNIT_TEST_UTIL_H
#define TESTS_UNIT_TEST_UTIL_H

#include <liburing.h>
#include "block/aio.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "sysemu/iothread.h"
#include "qapi/error.h"

/* Fails the test if @ctx still has fd handlers or bottom halves. */
static inline void assert_ctx_clean(AioContext *ctx)
{
    g_assert_cmpuint(aio_context_handler_count(ctx), ==, 0);
    g_assert_cmpuint(aio_context_bh_count(ctx), ==, 0);
}

/* Fails the test if coroutines were left suspended. */
static inline void assert_no_coroutines(void)
{
    g_assert_cmpuint(qemu_coroutine_live_count(), ==, 0);
}

/* Polls @ctx until *@flag is true or @timeout_s pass; returns *@flag. */
static inline bool poll_until(AioContext *ctx, bool *flag, int timeout_s)
{
    int64_t end = g_get_monotonic_time() + (int64_t)timeout_s * 1000000;

    while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE) &&
           g_get_monotonic_time() < end) {
        aio_poll(ctx, false);
        g_usleep(100);
    }
    return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

/*
 * Reads (@rd) or writes all of @buf on a blocking fd; false on end of
 * file or an error.
 */
static inline bool test_xio(bool rd, int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len) {
        ssize_t n = rd ? read(fd, p, len) : write(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

/* Creates @dir/@name, a file of @size zero bytes; returns its path. */
static inline char *make_test_image(const char *dir, const char *name,
                                    off_t size)
{
    char *path = g_strdup_printf("%s/%s", dir, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
    return path;
}

/*
 * Can this process use io_uring the way an AioContext's fd monitor does (a
 * ring, with poll requests)? Returns NULL if so, else the reason why not
 * (e.g. kernel.io_uring_disabled, a seccomp filter, an old kernel).
 */
static inline const char *test_io_uring_refusal(void)
{
    static char why[128];
    struct io_uring ring;
    struct io_uring_probe *probe;
    bool poll_ok;
    int ret = io_uring_queue_init(4, &ring, 0);

    if (ret < 0) {
        snprintf(why, sizeof(why), "io_uring refused by this kernel (%s)",
                 strerror(-ret));
        return why;
    }
    probe = io_uring_get_probe_ring(&ring);
    poll_ok = probe && io_uring_opcode_supported(probe, IORING_OP_POLL_ADD) &&
              io_uring_opcode_supported(probe, IORING_OP_POLL_REMOVE);
    if (probe) {
        io_uring_free_probe(probe);
    }
    io_uring_queue_exit(&ring);
    if (!poll_ok) {
        snprintf(why, sizeof(why), "this kernel's io_uring has no poll "
                 "requests");
        return why;
    }
    return NULL;
}

/* -1: test_fdmon_init() not called yet; else 1 for io_uring, 0 for epoll. */
static inline int *test_fdmon_expected(void)
{
    static int expected = -1;

    return &expected;
}

/*
 * For the programs that meson runs once per fd monitor (the "-io_uring"
 * and "-epoll" variants set QEMU_FDMON); call it right after
 * g_test_init(), before any thread or context exists. Decides which
 * monitor every context of this run must use: QEMU_FDMON=epoll, epoll;
 * QEMU_FDMON=io_uring, io_uring, and on a kernel that refuses io_uring
 * the whole program is reported as skipped (a TAP plan of no tests) and
 * exits 0 instead of testing epoll a second time under the io_uring name;
 * unset, the default choice, io_uring wherever the kernel allows it.
 */
static inline void test_fdmon_init(void)
{
    const char *want = g_getenv("QEMU_FDMON");
    const char *refusal = test_io_uring_refusal();

    if (!want) {
        *test_fdmon_expected() = !refusal;
    } else if (g_str_equal(want, "epoll")) {
        *test_fdmon_expected() = 0;
    } else if (g_str_equal(want, "io_uring")) {
        if (refusal) {
            printf("1..0 # SKIP %s\n", refusal);
            fflush(stdout);
            exit(0);
        }
        *test_fdmon_expected() = 1;
    } else {
        g_error("QEMU_FDMON=%s: expected io_uring or epoll", want);
    }
}

/* Does this run require io_uring (else epoll) in every context? */
static inline bool test_fdmon_wants_io_uring(void)
{
    int expected = *test_fdmon_expected();

    g_assert_cmpint(expected, >=, 0);       /* test_fdmon_init() first */
    return expected;
}

/* Fails the test unless @ctx uses the fd monitor this run requires. */
static inline void assert_ctx_fdmon(AioContext *ctx)
{
    bool uring = test_fdmon_wants_io_uring();

    g_assert_cmpstr(aio_context_fdmon_name(ctx), ==,
                    uring ? "io_uring" : "epoll");
    g_assert_cmpint(aio_has_io_uring(ctx), ==, uring);
}

/*
 * A test case for the per-fd-monitor programs: the main and iohandler
 * contexts (once the main loop is set up), a new context and an IOThread's
 * all use the monitor this run requires.
 */
static inline void test_fdmon_all_contexts(void)
{
    IOThread *t = iothread_create("fdmon-check", &error_abort);
    AioContext *ctx = aio_context_new(&error_abort);

    g_test_message("fd monitor: %s", aio_context_fdmon_name(ctx));
    if (qemu_get_aio_context()) {       /* qemu_init_main_loop() was run */
        assert_ctx_fdmon(qemu_get_aio_context());
        assert_ctx_fdmon(iohandler_get_aio_context());
    }
    assert_ctx_fdmon(iothread_get_aio_context(t));
    assert_ctx_fdmon(ctx);
    aio_context_unref(ctx);
    iothread_destroy(t);
}

#endif /* TESTS_UNIT_TEST_UTIL_H */
