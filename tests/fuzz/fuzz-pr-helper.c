/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for qemu-pr-helper's request handling: the feature
 * handshake, the CDB (with its file descriptor on any fragment), the
 * transfer length and PR OUT's parameter list, SG_IO's failure on a
 * descriptor that is no SCSI device, and the response.
 *
 * The input is a list of sends made by a client, written one by one into
 * one end of a socketpair whose other end is a client of an in-process
 * PRHelperServer (scsi/pr-helper-server.c):
 *
 *   byte 0: bits 0-1: how many descriptors ride on this send (0-3)
 *           bits 2-3: which: 0 /dev/null read-only, 1 /dev/null
 *                     read-write, 2 a regular file read-write, 3 a
 *                     directory
 *   byte 1: the length of the data that follows (a send of no data
 *           carries no descriptors)
 *
 * Then the write side is shut down, and the helper must answer what it
 * can, close the connection and leak no descriptor. A session still open
 * FUZZ_PRH_LIMIT_MS after the input counts as a hang.
 */
#include "qemu/osdep.h"
#include "fuzz-util.h"

#include <sys/socket.h>
#include "io/channel-socket.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "scsi/pr-helper-server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_PRH_LIMIT_MS   5000
#define FUZZ_PRH_MAX_SEND   (64 * 1024)

static PRHelperServer fuzz_prh;
static int fuzz_file_fd;        /* a regular file, unlinked */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[] = "/tmp/fuzz-pr-helper.XXXXXX";

    signal(SIGPIPE, SIG_IGN);
    qemu_init_main_loop(&error_abort);
    qemu_co_mutex_init(&fuzz_prh.mpath_lock);
    fuzz_prh.mpath = false;     /* never ask the host's multipathd */
    fuzz_file_fd = mkstemp(path);
    FUZZ_CHECK(fuzz_file_fd >= 0);
    unlink(path);
    FUZZ_CHECK(ftruncate(fuzz_file_fd, 4096) == 0);
    return 0;
}

static int fuzz_open_kind(unsigned kind)
{
    switch (kind) {
    case 0:
        return open("/dev/null", O_RDONLY | O_CLOEXEC);
    case 1:
        return open("/dev/null", O_RDWR | O_CLOEXEC);
    case 2:
        return dup(fuzz_file_fd);
    default:
        return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
}

/*
 * One send of @len bytes with @nfds descriptors of @kind. Returns false
 * once the socket is full: the helper has not run yet (it runs after all
 * sends), so a blocking send would wait for ever. Many small messages
 * fill a UNIX socket long before their bytes do.
 */
static bool fuzz_send(int sock, const uint8_t *buf, size_t len,
                      unsigned nfds, unsigned kind)
{
    int fds[3];
    union {
        char buf[CMSG_SPACE(sizeof(fds))];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    ssize_t n;

    for (unsigned i = 0; i < nfds; i++) {
        fds[i] = fuzz_open_kind(kind);
        FUZZ_CHECK(fds[i] >= 0);
    }
    if (nfds) {
        struct cmsghdr *cmsg;

        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
    }
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    /* A short or failed send is fine: the helper sees what arrived. */
    for (unsigned i = 0; i < nfds; i++) {
        close(fds[i]);
    }
    return n >= 0 || errno != EAGAIN;
}

/* The lowest free descriptor number: a leak moves it up. */
static int fuzz_lowest_free_fd(void)
{
    int fd = dup(0);

    FUZZ_CHECK(fd >= 0);
    close(fd);
    return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AioContext *ctx = qemu_get_aio_context();
    int lowest = fuzz_lowest_free_fd();
    QIOChannelSocket *sioc;
    FuzzFeed feed;
    size_t pos = 0, sent = 0;
    int fds[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0) {
        abort();
    }
    while (pos + 2 <= size && sent < FUZZ_PRH_MAX_SEND) {
        unsigned nfds = data[pos] & 3;
        unsigned kind = (data[pos] >> 2) & 3;
        size_t len = MIN(data[pos + 1], size - pos - 2);

        pos += 2;
        if (len && !fuzz_send(fds[1], data + pos, len, nfds, kind)) {
            break;
        }
        pos += len;
        sent += len;
    }
    fuzz_feed_init(&feed, fds[1], NULL, 0, "pr-helper client still open",
                   FUZZ_PRH_LIMIT_MS);

    sioc = qio_channel_socket_new_fd(fds[0], &error_abort);
    pr_helper_server_add_client(&fuzz_prh, sioc);
    object_unref(OBJECT(sioc));

    while (fuzz_prh.clients) {
        fuzz_feed_step(&feed);
        aio_poll(ctx, false);
    }
    while (aio_poll(ctx, false)) {
        /* the last bottom halves */
    }
    FUZZ_CHECK(fuzz_prh.in_flight == 0);
    close(fds[1]);
    /* Every descriptor the helper received was closed. */
    FUZZ_CHECK(fuzz_lowest_free_fd() == lowest);
    return 0;
}
