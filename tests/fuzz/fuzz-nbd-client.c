/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the client side of the NBD handshake: the input
 * is what a server says, written into one end of a socketpair whose other
 * end a coroutine of ours negotiates on (nbd_receive_negotiate(), as the
 * nbd driver does, or nbd_receive_export_list(), as qemu-nbd -L does).
 * What the client sends is read and thrown away.
 *
 * Input layout:
 *   byte 0   knobs: FUZZ_LIST, FUZZ_EXTENDED, FUZZ_BASE_ALLOC, FUZZ_NAMED
 *   rest     the server's byte stream
 *
 * The client treats the server as hostile: any assertion failure,
 * sanitizer report or hang (FUZZ_LIMIT_MS after the input) is a bug. The
 * invariants are what the driver relies on once negotiation said yes.
 * FUZZ_VERBOSE=1 in the environment prints each input's outcome.
 */
#include "qemu/osdep.h"
#include "fuzz-util.h"

#include <sys/socket.h>
#include "block/nbd.h"
#include "io/channel-socket.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "qemu/sockets.h"
#include "qapi/error.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_LIMIT_MS           5000

/* Knobs (byte 0) */
#define FUZZ_LIST               (1 << 0)
#define FUZZ_EXTENDED           (1 << 1)
#define FUZZ_BASE_ALLOC         (1 << 2)
#define FUZZ_NAMED              (1 << 3)

static bool fuzz_verbose;

/* With FUZZ_VERBOSE, says how an input ended; frees @err. */
static void fuzz_outcome(const char *what, int ret, Error *err)
{
    if (fuzz_verbose) {
        fprintf(stderr, "%s: %d%s%s\n", what, ret, err ? ": " : "",
                err ? error_get_pretty(err) : "");
    }
    error_free(err);
}

typedef struct FuzzClient {
    QIOChannel *ioc;
    uint8_t knobs;
    bool done;
} FuzzClient;

/* What a successful negotiation promises the nbd driver. */
static void fuzz_check_export(const NBDExportInfo *info, const char *name,
                              const NBDClientConfig *cfg)
{
    FUZZ_CHECK(info->name && !strcmp(info->name, name));
    FUZZ_CHECK(info->has_export);
    FUZZ_CHECK(info->size <= INT64_MAX);
    FUZZ_CHECK(info->mode == NBD_MODE_SIMPLE ||
               info->mode == NBD_MODE_STRUCTURED ||
               (info->mode == NBD_MODE_EXTENDED && cfg->extended_headers));
    if (info->mode != NBD_MODE_STRUCTURED) {
        FUZZ_CHECK(!(info->flags & NBD_FLAG_SEND_DF));
    }
    FUZZ_CHECK(!info->base_allocation ||
               (cfg->base_allocation && info->mode != NBD_MODE_SIMPLE));
    if (info->has_block_sizes) {
        FUZZ_CHECK(is_power_of_2(info->min_block));
        FUZZ_CHECK(info->min_block <= 64 * 1024);
        FUZZ_CHECK(is_power_of_2(info->opt_block));
        FUZZ_CHECK(info->opt_block >= info->min_block);
        FUZZ_CHECK(info->max_block >= info->min_block);
        FUZZ_CHECK(info->size % info->min_block == 0);
    }
}

static void coroutine_fn fuzz_negotiate(FuzzClient *fc)
{
    const char *name = (fc->knobs & FUZZ_NAMED) ? "disk0" : "";
    NBDClientConfig cfg = {
        .export_name = name,
        .extended_headers = fc->knobs & FUZZ_EXTENDED,
        .base_allocation = fc->knobs & FUZZ_BASE_ALLOC,
    };
    static const NBDExportInfo zero;
    NBDExportInfo info;
    QIOChannel *ioc = fc->ioc;
    Error *err = NULL;

    object_ref(OBJECT(ioc));
    if (nbd_receive_negotiate(&ioc, &cfg, &info, &err) < 0) {
        FUZZ_CHECK(err != NULL);
        FUZZ_CHECK(!memcmp(&info, &zero, sizeof(info)));
        fuzz_outcome("negotiate", -1, err);
    } else {
        FUZZ_CHECK(err == NULL);
        fuzz_check_export(&info, name, &cfg);
        fuzz_outcome("negotiate", info.mode, NULL);
        nbd_export_info_clear(&info);
    }
    object_unref(OBJECT(ioc));
}

static void coroutine_fn fuzz_list(FuzzClient *fc)
{
    NBDExportInfo *list = NULL;
    Error *err = NULL;
    int n;

    n = nbd_receive_export_list(fc->ioc, NULL, NULL, &list, &err);
    if (n < 0) {
        FUZZ_CHECK(err != NULL);
        FUZZ_CHECK(list == NULL);
        fuzz_outcome("list", n, err);
        return;
    }
    FUZZ_CHECK(err == NULL);
    for (int i = 0; i < n; i++) {
        FUZZ_CHECK(list[i].name != NULL);
        FUZZ_CHECK(strlen(list[i].name) <= NBD_MAX_STRING_SIZE);
        for (size_t j = 0; j < list[i].n_contexts; j++) {
            FUZZ_CHECK(list[i].contexts[j] != NULL);
        }
    }
    fuzz_outcome("list", n, NULL);
    nbd_free_export_list(list, n);
}

static void coroutine_fn fuzz_client_entry(void *opaque)
{
    FuzzClient *fc = opaque;

    if (fc->knobs & FUZZ_LIST) {
        fuzz_list(fc);
    } else {
        fuzz_negotiate(fc);
    }
    fc->done = true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    signal(SIGPIPE, SIG_IGN);
    fuzz_verbose = getenv("FUZZ_VERBOSE") != NULL;
    qemu_init_main_loop(&error_abort);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AioContext *ctx = qemu_get_aio_context();
    FuzzClient fc = { 0 };
    QIOChannelSocket *sioc;
    FuzzFeed feed;
    int fds[2];

    if (size < 1 || socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0) {
        return 0;
    }
    fc.knobs = data[0];
    fuzz_feed_init(&feed, fds[1], data + 1, size - 1,
                   "client still negotiating", FUZZ_LIMIT_MS);
    sioc = qio_channel_socket_new_fd(fds[0], &error_abort);
    fc.ioc = QIO_CHANNEL(sioc);
    qio_channel_set_blocking(fc.ioc, false, &error_abort);
    /* As the nbd driver's: waits happen in the coroutine's context. */
    qio_channel_set_follow_coroutine_ctx(fc.ioc, true);
    aio_co_enter(ctx, qemu_coroutine_create(fuzz_client_entry, &fc));

    while (!fc.done) {
        fuzz_feed_step(&feed);
        aio_poll(ctx, false);
    }
    while (aio_poll(ctx, false)) {
        /* the last bottom halves */
    }
    object_unref(OBJECT(sioc));
    close(fds[1]);
    return 0;
}
