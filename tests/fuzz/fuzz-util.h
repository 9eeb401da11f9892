/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the libFuzzer targets share: FUZZ_CHECK() states an invariant of
 * ours, and aborts (a crash libFuzzer keeps the input of) with the file,
 * line and condition when it does not hold; a FuzzFeed plays the peer of
 * an in-process NBD endpoint over a socketpair.
 */
#ifndef TESTS_FUZZ_FUZZ_UTIL_H
#define TESTS_FUZZ_FUZZ_UTIL_H

#define FUZZ_CHECK(cond)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant failed: %s\n",                \
                    __FILE__, __LINE__, #cond);                             \
            abort();                                                        \
        }                                                                   \
    } while (0)

/*
 * The peer's end of a socketpair: the input goes out as fast as the
 * endpoint takes it, then the write side is shut down; whatever the
 * endpoint sends is thrown away. An endpoint still busy @limit_ms after
 * the whole input went out is a hang: abort, saying what (@what).
 */
typedef struct FuzzFeed {
    int fd;                     /* non-blocking */
    const uint8_t *data;
    size_t size;
    size_t sent;
    const char *what;
    int limit_ms;
    int64_t deadline;           /* ms, once everything is sent */
} FuzzFeed;

/* Starts feeding @data to the endpoint at the other end of @fd. */
void fuzz_feed_init(FuzzFeed *feed, int fd, const uint8_t *data,
                    size_t size, const char *what, int limit_ms);

/* Sends what the endpoint takes, drains what it sent, checks the time. */
void fuzz_feed_step(FuzzFeed *feed);

#endif
