/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the NBD client's reply reader and chunk checks
 * (nbd_receive_reply() in nbd/client-reply.c), driven directly: the input
 * (layout in fuzz-nbd-reply.h, shared with fuzz-nbd-driver and its corpus)
 * is the reply stream of a hostile server, read from a byte buffer with no
 * socket, no server thread and no block layer, so that each input costs
 * microseconds.
 *
 * The requests are those the driver would have on the wire for the
 * input's batch, with the same cookies and ranges; replies are read until
 * every request is complete or the reader refuses the stream (the driver
 * would drop the connection there). Any assertion failure, sanitizer
 * report or leak is a bug, and so is a reply the reader accepts that
 * breaks what the driver relies on: a successful read whose buffer was
 * not written in full, a block status extent that is empty or longer
 * than the request, an error that is not a negative errno, a request
 * completed twice. FUZZ_VERBOSE=1 prints how each request ended.
 *
 * One thread: the reader runs in a coroutine of the main thread, which
 * never yields since the buffer is all there is.
 */
#include "qemu/osdep.h"
#include "fuzz-util.h"
#include "fuzz-nbd-reply.h"

#include "nbd/client-internal.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct FuzzReplyReq {
    NBDReplyState st;
    QEMUIOVector qiov;
    uint8_t *buf;               /* READ: exactly req.len, poisoned */
    uint64_t poison;
    bool done;
} FuzzReplyReq;

typedef struct FuzzReplyRun {
    NBDReplyReader rd;
    FuzzReplyReq reqs[FUZZ_MAX_BATCH];
    unsigned int n;
    unsigned int pending;
    NBDRecvBuf rb;
    Error *err;                 /* why the reader refused the stream */
} FuzzReplyRun;

static bool fuzz_verbose;

/* As fuzz-nbd-driver: a key the fuzzer cannot learn, per read. */
static uint64_t fuzz_poison_word(uint64_t key, size_t i)
{
    return key + i * 0x9e3779b97f4a7c15ULL;
}

static int64_t fuzz_unwritten(const FuzzReplyReq *r)
{
    for (size_t i = 0; i < r->st.req.len / 8; i++) {
        uint64_t w;

        memcpy(&w, r->buf + i * 8, 8);
        if (w == fuzz_poison_word(r->poison, i)) {
            return i * 8;
        }
    }
    return -1;
}

/* NBDReplyLookupFunc: a request of the batch that has no full reply yet. */
static NBDReplyState *fuzz_lookup(const NBDReplyReader *rd, uint64_t cookie)
{
    FuzzReplyRun *run = container_of(rd, FuzzReplyRun, rd);

    for (unsigned int k = 0; k < run->n; k++) {
        FuzzReplyReq *r = &run->reqs[k];

        if (r->st.req.cookie == cookie && !r->done) {
            return &r->st;
        }
    }
    return NULL;
}

/* The batch's requests as the driver puts them on the wire. */
static void fuzz_setup(FuzzReplyRun *run, uint8_t knobs)
{
    FuzzReq reqs[FUZZ_MAX_BATCH];
    unsigned int n = fuzz_batch(knobs, reqs);
    bool status = fuzz_mode(knobs) != NBD_MODE_SIMPLE &&
                  !(knobs & FUZZ_NO_META);

    for (unsigned int i = 0; i < n; i++) {
        const FuzzReq *q = &reqs[i];
        FuzzReplyReq *r = &run->reqs[run->n];
        NBDRequest *req = &r->st.req;

        if (q->op == FUZZ_STATUS && !status) {
            continue;
        }
        req->cookie = fuzz_cookie(run->n);
        req->from = q->offset;
        req->len = q->bytes;
        switch (q->op) {
        case FUZZ_READ:
            req->type = NBD_CMD_READ;
            r->buf = g_malloc(q->bytes);
            r->poison = (uint64_t)g_random_int() << 32 | g_random_int();
            for (size_t j = 0; j < q->bytes / 8; j++) {
                uint64_t w = fuzz_poison_word(r->poison, j);

                memcpy(r->buf + j * 8, &w, 8);
            }
            qemu_iovec_init(&r->qiov, 1);
            qemu_iovec_add(&r->qiov, r->buf, q->bytes);
            r->st.qiov = &r->qiov;
            break;
        case FUZZ_STATUS:
            req->type = NBD_CMD_BLOCK_STATUS;
            req->flags = NBD_CMD_FLAG_REQ_ONE;
            break;
        case FUZZ_WRITE:
            req->type = NBD_CMD_WRITE;
            req->flags = NBD_CMD_FLAG_FUA;
            break;
        case FUZZ_ZERO:
            req->type = NBD_CMD_WRITE_ZEROES;
            break;
        case FUZZ_TRIM:
            req->type = NBD_CMD_TRIM;
            break;
        case FUZZ_FLUSH:
            req->type = NBD_CMD_FLUSH;
            break;
        }
        run->n++;
    }
    run->pending = run->n;
    FUZZ_CHECK(run->n == fuzz_wire_count(knobs, reqs, n));
}

/* What a completed request may hold, whatever the server said. */
static void fuzz_check_done(const FuzzReplyReq *r)
{
    const NBDReplyState *st = &r->st;

    FUZZ_CHECK(st->ret <= 0 && st->ret > -4096);
    if (st->ret) {
        return;
    }
    if (st->req.type == NBD_CMD_READ) {
        FUZZ_CHECK(st->covered == st->req.len);
        FUZZ_CHECK(fuzz_unwritten(r) < 0);
    }
    if (st->req.type == NBD_CMD_BLOCK_STATUS) {
        FUZZ_CHECK(st->have_extent);
        FUZZ_CHECK(st->extent_len > 0 && st->extent_len <= st->req.len);
    }
}

static void coroutine_fn fuzz_reader_entry(void *opaque)
{
    FuzzReplyRun *run = opaque;

    while (run->pending) {
        NBDReplyState *st;
        int ret = nbd_receive_reply(&run->rb, NULL, &run->rd, &st,
                                    &run->err);

        FUZZ_CHECK(ret >= -1 && ret <= 1);
        if (ret < 0) {
            FUZZ_CHECK(run->err != NULL);
            return;
        }
        FUZZ_CHECK(st != NULL);
        if (ret == 1) {
            FuzzReplyReq *r = container_of(st, FuzzReplyReq, st);

            FUZZ_CHECK(!r->done);
            nbd_reply_state_cleanup(st);
            r->done = true;
            run->pending--;
            fuzz_check_done(r);
        }
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_verbose = getenv("FUZZ_VERBOSE") != NULL;
    qemu_init_main_loop(&error_abort);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzReplyRun run = { 0 };
    Coroutine *co;

    if (size < 1) {
        return 0;
    }
    run.rd = (NBDReplyReader) {
        .mode = fuzz_mode(data[0]),
        .context_id = FUZZ_CONTEXT_ID,
        .lookup = fuzz_lookup,
        .opaque = &run,
    };
    fuzz_setup(&run, data[0]);
    nbd_recv_buf_init_bytes(&run.rb, data + 1, size - 1);

    co = qemu_coroutine_create(fuzz_reader_entry, &run);
    qemu_coroutine_enter(co);
    /* With no channel the reader never waits: it is finished. */
    FUZZ_CHECK(qemu_coroutine_live_count() == 0);

    if (fuzz_verbose) {
        fprintf(stderr, "mode %d, %u requests, %u left without a reply, "
                "%zu bytes unread: %s\n", run.rd.mode, run.n, run.pending,
                nbd_recv_buf_avail(&run.rb),
                run.err ? error_get_pretty(run.err) : "stream accepted");
        for (unsigned int k = 0; k < run.n; k++) {
            const FuzzReplyReq *r = &run.reqs[k];

            fprintf(stderr, "  %s cookie %" PRIu64 " [%" PRIu64 ", +%"
                    PRIu64 "): %s %d\n", nbd_cmd_name(r->st.req.type),
                    r->st.req.cookie, r->st.req.from, r->st.req.len,
                    r->done ? "done" : "pending", r->st.ret);
        }
    }
    for (unsigned int k = 0; k < run.n; k++) {
        FuzzReplyReq *r = &run.reqs[k];

        nbd_reply_state_cleanup(&r->st);
        if (r->buf) {
            qemu_iovec_destroy(&r->qiov);
            g_free(r->buf);
        }
    }
    nbd_recv_buf_destroy(&run.rb);
    error_free(run.err);
    return 0;
}
