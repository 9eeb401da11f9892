/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The FuzzFeed of fuzz-util.h. Runs in the fuzzer's one thread, between
 * non-blocking polls of the endpoint's context.
 */
#include "qemu/osdep.h"
#include <sys/socket.h>
#include "fuzz-util.h"
#include "qemu/sockets.h"
#include "qemu/timer.h"

void fuzz_feed_init(FuzzFeed *feed, int fd, const uint8_t *data,
                    size_t size, const char *what, int limit_ms)
{
    *feed = (FuzzFeed) {
        .fd = fd, .data = data, .size = size, .what = what,
        .limit_ms = limit_ms,
    };
    qemu_socket_set_nonblock(fd);
    if (!size) {
        shutdown(fd, SHUT_WR);
    }
}

void fuzz_feed_step(FuzzFeed *feed)
{
    uint8_t sink[65536];
    ssize_t n;

    if (feed->sent < feed->size) {
        n = write(feed->fd, feed->data + feed->sent, feed->size - feed->sent);
        if (n > 0) {
            feed->sent += n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            feed->sent = feed->size;    /* the endpoint hung up */
        }
        if (feed->sent == feed->size) {
            shutdown(feed->fd, SHUT_WR);
        }
    } else if (!feed->deadline) {
        feed->deadline = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                         feed->limit_ms;
    } else if (qemu_clock_get_ms(QEMU_CLOCK_REALTIME) > feed->deadline) {
        fprintf(stderr, "%s %d ms after the input\n", feed->what,
                feed->limit_ms);
        abort();
    }
    do {
        n = read(feed->fd, sink, sizeof(sink));
    } while (n > 0);
}
