/*
 * Helpers shared by the unit tests.
 */
#ifndef TESTS_UNIT_TEST_UTIL_H
#define TESTS_UNIT_TEST_UTIL_H

#include "block/aio.h"
#include "qemu/coroutine.h"

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

#endif /* TESTS_UNIT_TEST_UTIL_H */
