/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the transmission phase of the whole nbd driver
 * (block/nbd.c and nbd/client-*.c): the input is the reply stream of a
 * hostile server. A server thread of ours negotiates properly, as the
 * knobs say, waits until it has received the batch of requests that the
 * main thread issues at once through a BlockBackend over the nbd driver,
 * then sends the input as its replies, shuts down its side and reads
 * until the client hangs up. The input layout and the batches are those
 * of fuzz-nbd-reply (fuzz-nbd-reply.h), which drives the reply reader
 * alone on a byte buffer; the two share corpus/nbd-reply.
 *
 * The client treats the server as hostile: any assertion failure,
 * sanitizer report or leak is a bug, and so is a request that has not
 * completed FUZZ_LIMIT_MS after the server's last byte. Every request
 * must end with 0 or a negative errno, and block status must describe
 * only what was asked. FUZZ_VERBOSE=1 in the environment prints what the
 * server received and how each request ended.
 *
 * Theory of operation: two threads. The main thread runs the block layer,
 * the driver and its reader coroutine in the main AioContext. Per input a
 * server thread accepts one connection on a socket that listens for that
 * input only and does blocking socket I/O. The socket is closed once the
 * connection is accepted, and its directory removed once the driver is
 * open, so that the driver's reconnection attempt after a broken
 * connection fails at once instead of stalling in a handshake, and
 * nothing is left behind when an input aborts. Shared: the input
 * (read-only), and the server's progress (FuzzServer's seen and
 * written_at, atomics), which the main thread's watchdog reads.
 */
#include "qemu/osdep.h"
#include "fuzz-util.h"
#include "fuzz-nbd-reply.h"

#include <sys/socket.h>
#include <sys/un.h>
#include "block/nbd.h"
#include "nbd/client-internal.h"
#include "qemu/atomic.h"
#include "qemu/coroutine.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "sysemu/block-backend.h"

#define FUZZ_LIMIT_MS           5000
#define FUZZ_WATCHDOG_MS        100
/* Trickle: this much of the stream goes out in pieces of this size. */
#define FUZZ_TRICKLE_BYTES      1024
#define FUZZ_TRICKLE_PIECE      29

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fake server */

/* A request header as the server saw it. */
typedef struct FuzzSeen {
    uint16_t type;
    uint16_t flags;
    uint64_t cookie;
    uint64_t from;
    uint64_t len;
} FuzzSeen;

typedef struct FuzzServer {
    char *dir;                  /* the socket's, until the driver is open */
    char *sock;
    int listen_fd;              /* the server thread closes it */
    uint8_t knobs;
    const uint8_t *stream;
    size_t len;
    unsigned int want;          /* requests to receive before replying */
    GThread *thread;
    /* Main thread only */
    int64_t open_at;            /* g_get_monotonic_time() */
    QEMUTimer *watchdog;
    /* Written by the server thread (atomics) */
    unsigned int seen;
    int64_t written_at;         /* the stream is out (or refused); 0 before */
    FuzzSeen reqs[FUZZ_MAX_BATCH];
} FuzzServer;

static bool fuzz_verbose;

/* Blocking I/O of all of @buf (@buf NULL when reading: throw away). */
static bool fuzz_xio(bool rd, int fd, void *buf, size_t len)
{
    uint8_t sink[4096];
    uint8_t *p = buf;

    while (len) {
        size_t want = p ? len : MIN(len, sizeof(sink));
        ssize_t n = rd ? read(fd, p ? p : sink, want) :
                         send(fd, p, want, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        if (p) {
            p += n;
        }
        len -= n;
    }
    return true;
}

static bool fuzz_opt_reply(int fd, uint32_t opt, uint32_t type,
                           const uint8_t *data, uint32_t len)
{
    uint8_t hdr[NBD_OPTION_REPLY_HEADER_SIZE];

    nbd_put64(hdr, NBD_REP_MAGIC);
    nbd_put32(hdr + 8, opt);
    nbd_put32(hdr + 12, type);
    nbd_put32(hdr + 16, len);
    return fuzz_xio(false, fd, hdr, sizeof(hdr)) &&
           (!len || fuzz_xio(false, fd, (void *)data, len));
}

/* NBD_OPT_GO: the export, block sizes if the knobs say so, ACK. */
static bool fuzz_go(FuzzServer *fs, int fd)
{
    uint16_t flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
                     NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
                     NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_DF |
                     NBD_FLAG_CAN_MULTI_CONN | NBD_FLAG_SEND_CACHE |
                     NBD_FLAG_SEND_FAST_ZERO;
    uint8_t info[14];

    nbd_put16(info, NBD_INFO_EXPORT);
    nbd_put64(info + 2, FUZZ_EXPORT_SIZE);
    nbd_put16(info + 10, flags);
    if (!fuzz_opt_reply(fd, NBD_OPT_GO, NBD_REP_INFO, info, 12)) {
        return false;
    }
    if (fs->knobs & FUZZ_BLOCK_SIZE) {
        nbd_put16(info, NBD_INFO_BLOCK_SIZE);
        nbd_put32(info + 2, 512);
        nbd_put32(info + 6, 4 * KiB);
        nbd_put32(info + 10, NBD_MAX_BUFFER_SIZE);
        if (!fuzz_opt_reply(fd, NBD_OPT_GO, NBD_REP_INFO, info, 14)) {
            return false;
        }
    }
    return fuzz_opt_reply(fd, NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
}

/*
 * The handshake, answering each option the client sends as the knobs
 * say, up to NBD_OPT_GO. Returns false if the client went away or sent
 * something our driver never sends.
 */
static bool fuzz_handshake(FuzzServer *fs, int fd)
{
    NBDMode mode = fuzz_mode(fs->knobs);
    size_t meta_len = 4 + strlen(NBD_META_BASE_ALLOCATION);
    g_autofree uint8_t *meta = g_malloc(meta_len);
    uint8_t buf[18];

    nbd_put64(buf, NBD_INIT_MAGIC);
    nbd_put64(buf + 8, NBD_OPTS_MAGIC);
    nbd_put16(buf + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    if (!fuzz_xio(false, fd, buf, 18) || !fuzz_xio(true, fd, buf, 4)) {
        return false;
    }
    nbd_put32(meta, FUZZ_CONTEXT_ID);
    memcpy(meta + 4, NBD_META_BASE_ALLOCATION, meta_len - 4);
    for (;;) {
        uint32_t opt, len;
        bool ok;

        if (!fuzz_xio(true, fd, buf, NBD_OPTION_HEADER_SIZE)) {
            return false;
        }
        opt = nbd_get32(buf + 8);
        len = nbd_get32(buf + 12);
        if (nbd_get64(buf) != NBD_OPTS_MAGIC || len > 4096 ||
            !fuzz_xio(true, fd, NULL, len)) {
            return false;
        }
        switch (opt) {
        case NBD_OPT_EXTENDED_HEADERS:
            ok = fuzz_opt_reply(fd, opt, mode == NBD_MODE_EXTENDED ?
                                NBD_REP_ACK : NBD_REP_ERR_UNSUP, NULL, 0);
            break;
        case NBD_OPT_STRUCTURED_REPLY:
            ok = fuzz_opt_reply(fd, opt, mode == NBD_MODE_STRUCTURED ?
                                NBD_REP_ACK : NBD_REP_ERR_UNSUP, NULL, 0);
            break;
        case NBD_OPT_SET_META_CONTEXT:
            ok = ((fs->knobs & FUZZ_NO_META) ||
                  fuzz_opt_reply(fd, opt, NBD_REP_META_CONTEXT, meta,
                                 meta_len)) &&
                 fuzz_opt_reply(fd, opt, NBD_REP_ACK, NULL, 0);
            break;
        case NBD_OPT_GO:
            return fuzz_go(fs, fd);
        default:
            return false;
        }
        if (!ok) {
            return false;
        }
    }
}

/* Reads requests (skipping write payloads) until @fs->want have come. */
static bool fuzz_read_requests(FuzzServer *fs, int fd)
{
    bool ext = fuzz_mode(fs->knobs) == NBD_MODE_EXTENDED;
    size_t size = ext ? NBD_EXTENDED_REQUEST_SIZE : NBD_REQUEST_SIZE;
    uint8_t hdr[NBD_EXTENDED_REQUEST_SIZE];

    while (fs->seen < fs->want) {
        FuzzSeen *r = &fs->reqs[fs->seen];

        if (!fuzz_xio(true, fd, hdr, size)) {
            return false;
        }
        r->flags = nbd_get16(hdr + 4);
        r->type = nbd_get16(hdr + 6);
        r->cookie = nbd_get64(hdr + 8);
        r->from = nbd_get64(hdr + 16);
        r->len = ext ? nbd_get64(hdr + 24) : nbd_get32(hdr + 24);
        if (r->type == NBD_CMD_WRITE && !fuzz_xio(true, fd, NULL, r->len)) {
            return false;
        }
        qatomic_store_release(&fs->seen, fs->seen + 1);
    }
    return true;
}

/* The stream; with FUZZ_TRICKLE its head in pieces, to cut headers. */
static void fuzz_write_stream(FuzzServer *fs, int fd)
{
    size_t sent = 0;

    if (fs->knobs & FUZZ_TRICKLE) {
        while (sent < MIN(fs->len, FUZZ_TRICKLE_BYTES)) {
            size_t n = MIN(fs->len - sent, FUZZ_TRICKLE_PIECE);

            if (!fuzz_xio(false, fd, (void *)(fs->stream + sent), n)) {
                return;
            }
            sent += n;
            g_usleep(20);
        }
    }
    fuzz_xio(false, fd, (void *)(fs->stream + sent), fs->len - sent);
}

static gpointer fuzz_server_thread(gpointer opaque)
{
    FuzzServer *fs = opaque;
    int fd = accept(fs->listen_fd, NULL, NULL);

    FUZZ_CHECK(fd >= 0);
    close(fs->listen_fd);
    if (fuzz_handshake(fs, fd) && fuzz_read_requests(fs, fd)) {
        fuzz_write_stream(fs, fd);
    }
    qatomic_store_release(&fs->written_at, g_get_monotonic_time());
    /* Our side is done; take whatever the client sends until it closes. */
    shutdown(fd, SHUT_WR);
    while (fuzz_xio(true, fd, NULL, 4096)) {
        /* discard */
    }
    close(fd);
    return NULL;
}

static void fuzz_server_start(FuzzServer *fs)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };

    fs->dir = g_dir_make_tmp("fuzz-nbd-reply.XXXXXX", NULL);
    FUZZ_CHECK(fs->dir != NULL);
    fs->sock = g_build_filename(fs->dir, "sock", NULL);
    pstrcpy(sa.sun_path, sizeof(sa.sun_path), fs->sock);
    fs->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    FUZZ_CHECK(fs->listen_fd >= 0);
    FUZZ_CHECK(bind(fs->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    FUZZ_CHECK(listen(fs->listen_fd, 1) == 0);
    fs->thread = g_thread_new("fuzz-nbd-server", fuzz_server_thread, fs);
}

/* The client */

/* One request of the batch in flight. */
typedef struct FuzzCall {
    BlockBackend *blk;
    FuzzReq req;
    uint8_t *buf;               /* exactly req.bytes: overruns are caught */
    uint64_t poison;            /* READ: what buf held before */
    int64_t pnum;
    int ret;
    unsigned int *done;
} FuzzCall;

/*
 * Word @i of a read buffer before the read. The key is new for every
 * read, so that the fuzzer cannot learn it from our comparisons and send
 * it: a word that still holds it after a successful read was never
 * written, and the caller would have been handed stale memory.
 */
static uint64_t fuzz_poison_word(uint64_t key, size_t i)
{
    return key + i * 0x9e3779b97f4a7c15ULL;
}

static void fuzz_poison(FuzzCall *call)
{
    call->poison = (uint64_t)g_random_int() << 32 | g_random_int();
    for (size_t i = 0; i < call->req.bytes / 8; i++) {
        uint64_t w = fuzz_poison_word(call->poison, i);

        memcpy(call->buf + i * 8, &w, 8);
    }
}

/* The first byte of a word of a successful read that was never written. */
static int64_t fuzz_unwritten(const FuzzCall *call)
{
    for (size_t i = 0; i < call->req.bytes / 8; i++) {
        uint64_t w;

        memcpy(&w, call->buf + i * 8, 8);
        if (w == fuzz_poison_word(call->poison, i)) {
            return i * 8;
        }
    }
    return -1;
}

static void coroutine_fn fuzz_call_entry(void *opaque)
{
    FuzzCall *call = opaque;
    const FuzzReq *req = &call->req;

    switch (req->op) {
    case FUZZ_READ:
        call->ret = blk_co_pread(call->blk, req->offset, req->bytes,
                                 call->buf, 0);
        break;
    case FUZZ_STATUS:
        call->ret = blk_co_block_status(call->blk, req->offset, req->bytes,
                                        &call->pnum, NULL);
        break;
    case FUZZ_WRITE:
        call->ret = blk_co_pwrite(call->blk, req->offset, req->bytes,
                                  call->buf, BDRV_REQ_FUA);
        break;
    case FUZZ_ZERO:
        call->ret = blk_co_pwrite_zeroes(call->blk, req->offset, req->bytes,
                                         BDRV_REQ_MAY_UNMAP);
        break;
    case FUZZ_TRIM:
        call->ret = blk_co_pdiscard(call->blk, req->offset, req->bytes);
        break;
    case FUZZ_FLUSH:
        call->ret = blk_co_flush(call->blk);
        break;
    }
    (*call->done)++;
}

/* What a request may end with, whatever the server said. */
static void fuzz_check_call(const FuzzCall *call)
{
    /* 0 (flags for block status) or a negative errno */
    FUZZ_CHECK(call->ret > -4096);
    if (call->req.op != FUZZ_STATUS) {
        FUZZ_CHECK(call->ret <= 0);
    } else if (call->ret >= 0) {
        FUZZ_CHECK(call->pnum > 0 && call->pnum <= call->req.bytes);
    }
    if (call->req.op == FUZZ_READ && call->ret == 0) {
        FUZZ_CHECK(fuzz_unwritten(call) < 0);
    }
}

/*
 * Timer in the main context: aborts when requests are still pending
 * FUZZ_LIMIT_MS after the server's last byte, or after the open when the
 * server never got to write (it is stuck waiting for requests, or for
 * the client to take what it writes).
 */
static void fuzz_watchdog(void *opaque)
{
    FuzzServer *fs = opaque;
    int64_t written = qatomic_load_acquire(&fs->written_at);
    int64_t since = written ? written : fs->open_at;

    if (g_get_monotonic_time() - since > FUZZ_LIMIT_MS * 1000LL) {
        if (written) {
            fprintf(stderr, "the client is still busy %d ms after the "
                    "server's last byte\n", FUZZ_LIMIT_MS);
        } else {
            unsigned int seen = qatomic_load_acquire(&fs->seen);

            fprintf(stderr, "%d ms after the open, the server has received "
                    "%u of %u requests and is still %s\n", FUZZ_LIMIT_MS,
                    seen, fs->want, seen < fs->want ?
                    "waiting for the rest" :
                    "writing (the client does not read)");
        }
        abort();
    }
    timer_mod(fs->watchdog,
              qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + FUZZ_WATCHDOG_MS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    signal(SIGPIPE, SIG_IGN);
    fuzz_verbose = getenv("FUZZ_VERBOSE") != NULL;
    qemu_init_main_loop(&error_abort);
    return 0;
}

/* With FUZZ_VERBOSE: what the server received, how each request ended. */
static void fuzz_report(const FuzzServer *fs, const FuzzCall *calls,
                        unsigned int n)
{
    static const char *const mode_name[] = {
        [NBD_MODE_SIMPLE] = "simple",
        [NBD_MODE_STRUCTURED] = "structured",
        [NBD_MODE_EXTENDED] = "extended",
    };

    fprintf(stderr, "%s replies%s%s, %zu bytes; the server received:\n",
            mode_name[fuzz_mode(fs->knobs)],
            (fs->knobs & FUZZ_BLOCK_SIZE) ? ", block sizes" : "",
            (fs->knobs & FUZZ_NO_META) ? ", no base:allocation" : "",
            fs->len);
    for (unsigned int i = 0; i < fs->seen; i++) {
        const FuzzSeen *r = &fs->reqs[i];

        fprintf(stderr, "  %s cookie %" PRIu64 " [%" PRIu64 ", +%" PRIu64
                ") flags 0x%x\n", nbd_cmd_name(r->type), r->cookie, r->from,
                r->len, r->flags);
    }
    for (unsigned int i = 0; i < n; i++) {
        const FuzzCall *call = &calls[i];

        fprintf(stderr, "%s [%" PRId64 ", +%" PRId64 "): %d",
                fuzz_op_name[call->req.op], call->req.offset,
                call->req.bytes, call->ret);
        if (call->req.op == FUZZ_STATUS && call->ret >= 0) {
            fprintf(stderr, " pnum %" PRId64, call->pnum);
        }
        if (call->req.op == FUZZ_READ && call->ret == 0 &&
            fuzz_unwritten(call) >= 0) {
            fprintf(stderr, " but byte %" PRId64 " was never written",
                    fuzz_unwritten(call));
        }
        fprintf(stderr, "%s%s\n", call->ret < 0 ? " " : "",
                call->ret < 0 ? strerror(-call->ret) : "");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    AioContext *ctx = qemu_get_aio_context();
    FuzzServer fs = { 0 };
    FuzzReq reqs[FUZZ_MAX_BATCH];
    FuzzCall calls[FUZZ_MAX_BATCH];
    BlockBackend *blk;
    Error *err = NULL;
    g_autofree char *uri = NULL;
    unsigned int n, done = 0;

    if (size < 1) {
        return 0;
    }
    fs.knobs = data[0];
    fs.stream = data + 1;
    fs.len = size - 1;
    n = fuzz_batch(fs.knobs, reqs);
    fs.want = fuzz_wire_count(fs.knobs, reqs, n);
    fuzz_server_start(&fs);

    /* reconnect-delay 0: a broken connection fails requests at once. */
    uri = g_strdup_printf("nbd+unix:///?socket=%s", fs.sock);
    blk = blk_new_open(uri, NULL, NULL, BDRV_O_RDWR | BDRV_O_UNMAP, &err);
    if (!blk) {
        fprintf(stderr, "open: %s\n", error_get_pretty(err));
        abort();
    }
    unlink(fs.sock);
    rmdir(fs.dir);
    g_free(fs.sock);
    g_free(fs.dir);
    fs.open_at = g_get_monotonic_time();
    fs.watchdog = aio_timer_new(ctx, QEMU_CLOCK_REALTIME, SCALE_MS,
                                fuzz_watchdog, &fs);
    timer_mod(fs.watchdog,
              qemu_clock_get_ms(QEMU_CLOCK_REALTIME) + FUZZ_WATCHDOG_MS);

    /*
     * Each runs until it waits for its reply, so all take their slots
     * (and cookies) in this order before the reader sees a byte.
     */
    for (unsigned int i = 0; i < n; i++) {
        calls[i] = (FuzzCall) {
            .blk = blk,
            .req = reqs[i],
            .buf = reqs[i].bytes ? g_malloc0(reqs[i].bytes) : NULL,
            .done = &done,
        };
        if (reqs[i].op == FUZZ_READ) {
            fuzz_poison(&calls[i]);
        }
        aio_co_enter(ctx, qemu_coroutine_create(fuzz_call_entry, &calls[i]));
    }
    while (done < n) {
        aio_poll(ctx, true);
    }
    /* Closing waits for the driver's coroutines: still under watch. */
    blk_unref(blk);
    timer_free(fs.watchdog);
    g_thread_join(fs.thread);
    while (aio_poll(ctx, false)) {
        /* the last bottom halves */
    }

    if (fuzz_verbose) {
        fuzz_report(&fs, calls, n);
    }
    for (unsigned int i = 0; i < n; i++) {
        fuzz_check_call(&calls[i]);
        g_free(calls[i].buf);
    }
    FUZZ_CHECK(qemu_coroutine_live_count() == 0);
    return 0;
}
