/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for a whole NBD session: the input is the byte stream
 * of a client (flags, options, then requests), written into one end of a
 * socketpair whose other end is a connection of an in-process server.
 * The server runs in this thread's main context; the fuzzer polls it
 * until the connection is gone, discarding the replies.
 *
 * Exports: "" (writable, null-co, 1 MiB), "disk0" (the same, with
 * qemu:allocation-depth) and "ro" (read-only). A session that does not
 * end within FUZZ_SESSION_LIMIT_MS of the end of input counts as a hang.
 */
#include "qemu/osdep.h"
#include "fuzz-util.h"

#include <sys/socket.h>
#include "block/nbd.h"
#include "block/block.h"
#include "io/channel-socket.h"
#include "qemu/keyval.h"
#include "qemu/main-loop.h"
#include "qemu/sockets.h"
#include "qapi/error.h"
#include "sysemu/block-backend.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SESSION_LIMIT_MS   5000

static NBDServer *fuzz_server;

static BlockBackend *fuzz_blk_new(void)
{
    g_autoptr(KeyVal) kv = keyval_parse("driver=null-co,size=1M", NULL,
                                        &error_abort);
    BlockDriverState *bs = bdrv_open_blockdev(kv, &error_abort);
    BlockBackend *blk = blk_new_with_bs(bs, true, &error_abort);

    bdrv_unref(bs);
    return blk;
}

static void fuzz_add_export(const char *name, bool readonly, bool depth)
{
    NBDExportOptions opts = {
        .name = name,
        .description = "fuzz",
        .readonly = readonly,
        .multi_conn = NBD_MULTI_CONN_ON,
        .allocation_depth = depth,
    };
    BlockBackend *blk = fuzz_blk_new();

    nbd_export_new(fuzz_server, blk, &opts, &error_abort);
    blk_unref(blk);                 /* the export holds a reference */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    NBDServerOptions sopts = { 0 };

    signal(SIGPIPE, SIG_IGN);
    qemu_init_main_loop(&error_abort);
    fuzz_server = nbd_server_new(&sopts, &error_abort);
    fuzz_add_export("", false, false);
    fuzz_add_export("disk0", false, true);
    fuzz_add_export("ro", true, false);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AioContext *ctx = qemu_get_aio_context();
    QIOChannelSocket *sioc;
    FuzzFeed feed;
    int fds[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0) {
        abort();
    }
    fuzz_feed_init(&feed, fds[1], data, size, "session still open",
                   FUZZ_SESSION_LIMIT_MS);
    sioc = qio_channel_socket_new_fd(fds[0], &error_abort);
    nbd_server_add_client(fuzz_server, sioc);
    object_unref(OBJECT(sioc));

    while (nbd_server_connection_count(fuzz_server) > 0) {
        fuzz_feed_step(&feed);
        aio_poll(ctx, false);
    }
    /* Let the last bottom halves (the client's free) run. */
    while (aio_poll(ctx, false)) {
        /* nothing */
    }
    close(fds[1]);
    return 0;
}
