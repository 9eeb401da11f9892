/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD client's reply reader (nbd_receive_reply(), nbd/client-reply.c)
 * fed crafted reply bytes from a buffer, with no socket and no server:
 * simple replies, structured and extended chunks in and out of order,
 * holes, block status, error chunks; and what a hostile server may try:
 * overlapping chunks, chunks past the request, bad magic, unknown
 * cookies, malformed error and status chunks, a read not covered in
 * full, a stream cut off. Each case checks what the request ended with,
 * or that the reader refused the stream with a message saying why.
 *
 * One thread: the reader runs in a coroutine that never yields (the
 * buffer is all there is).
 */
#include "qemu/osdep.h"
#include "nbd/client-internal.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"

#define CTX_ID      7
#define READ_FROM   4096
#define READ_LEN    1024

/* A batch of requests and the reply stream the test builds for them. */
typedef struct Replies {
    NBDReplyReader rd;
    NBDReplyState st[4];
    bool done[4];
    unsigned int n;
    uint8_t buf[READ_LEN];      /* the read's destination */
    QEMUIOVector qiov;
    GByteArray *bytes;
    int ret;                    /* of the last nbd_receive_reply() */
    Error *err;
} Replies;

static NBDReplyState *replies_lookup(const NBDReplyReader *rd,
                                     uint64_t cookie)
{
    Replies *r = container_of(rd, Replies, rd);

    for (unsigned int i = 0; i < r->n; i++) {
        if (r->st[i].req.cookie == cookie && !r->done[i]) {
            return &r->st[i];
        }
    }
    return NULL;
}

/* Request 0: a read of READ_LEN at READ_FROM; 1: block status; 2: flush */
static void replies_init(Replies *r, NBDMode mode)
{
    memset(r, 0, sizeof(*r));
    r->rd = (NBDReplyReader) {
        .mode = mode, .context_id = CTX_ID, .lookup = replies_lookup,
        .opaque = r,
    };
    memset(r->buf, 0xaa, sizeof(r->buf));
    qemu_iovec_init(&r->qiov, 1);
    qemu_iovec_add(&r->qiov, r->buf, sizeof(r->buf));
    r->st[0].req = (NBDRequest) {
        .cookie = 100, .type = NBD_CMD_READ, .from = READ_FROM,
        .len = READ_LEN,
    };
    r->st[0].qiov = &r->qiov;
    r->st[1].req = (NBDRequest) {
        .cookie = 101, .type = NBD_CMD_BLOCK_STATUS, .from = 0,
        .len = 65536, .flags = NBD_CMD_FLAG_REQ_ONE,
    };
    r->st[2].req = (NBDRequest) { .cookie = 102, .type = NBD_CMD_FLUSH };
    r->n = 3;
    r->bytes = g_byte_array_new();
}

static void replies_destroy(Replies *r)
{
    for (unsigned int i = 0; i < r->n; i++) {
        nbd_reply_state_cleanup(&r->st[i]);
    }
    qemu_iovec_destroy(&r->qiov);
    g_byte_array_free(r->bytes, true);
    error_free(r->err);
}

static void put_be(GByteArray *b, uint64_t v, int size)
{
    uint8_t p[8];

    g_assert(size >= 1 && size <= 8);
    for (int i = 0; i < size; i++) {
        p[i] = v >> (8 * (size - 1 - i));
    }
    g_byte_array_append(b, p, size);
}

static void put_simple(Replies *r, uint64_t cookie, uint32_t error,
                       const void *data, size_t len)
{
    put_be(r->bytes, NBD_SIMPLE_REPLY_MAGIC, 4);
    put_be(r->bytes, error, 4);
    put_be(r->bytes, cookie, 8);
    g_byte_array_append(r->bytes, data, len);
}

/* The header of a structured or extended chunk, as the mode says. */
static void put_chunk_header(Replies *r, uint16_t flags, uint16_t type,
                             uint64_t cookie, uint64_t len)
{
    if (r->rd.mode == NBD_MODE_EXTENDED) {
        put_be(r->bytes, NBD_EXTENDED_REPLY_MAGIC, 4);
        put_be(r->bytes, flags, 2);
        put_be(r->bytes, type, 2);
        put_be(r->bytes, cookie, 8);
        put_be(r->bytes, 0, 8);
        put_be(r->bytes, len, 8);
    } else {
        put_be(r->bytes, NBD_STRUCTURED_REPLY_MAGIC, 4);
        put_be(r->bytes, flags, 2);
        put_be(r->bytes, type, 2);
        put_be(r->bytes, cookie, 8);
        put_be(r->bytes, len, 4);
    }
}

/* OFFSET_DATA: @len bytes of @fill at @offset. */
static void put_data(Replies *r, uint16_t flags, uint64_t cookie,
                     uint64_t offset, size_t len, uint8_t fill)
{
    put_chunk_header(r, flags, NBD_REPLY_TYPE_OFFSET_DATA, cookie, 8 + len);
    put_be(r->bytes, offset, 8);
    for (size_t i = 0; i < len; i++) {
        g_byte_array_append(r->bytes, &fill, 1);
    }
}

static void put_hole(Replies *r, uint16_t flags, uint64_t cookie,
                     uint64_t offset, uint32_t len)
{
    put_chunk_header(r, flags, NBD_REPLY_TYPE_OFFSET_HOLE, cookie, 12);
    put_be(r->bytes, offset, 8);
    put_be(r->bytes, len, 4);
}

static void put_none(Replies *r, uint64_t cookie)
{
    put_chunk_header(r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, cookie, 0);
}

static void put_error(Replies *r, uint16_t flags, uint64_t cookie,
                      uint32_t error, const char *msg)
{
    put_chunk_header(r, flags, NBD_REPLY_TYPE_ERROR, cookie,
                     6 + strlen(msg));
    put_be(r->bytes, error, 4);
    put_be(r->bytes, strlen(msg), 2);
    g_byte_array_append(r->bytes, (const uint8_t *)msg, strlen(msg));
}

/* One extent of the right kind for the mode. */
static void put_status(Replies *r, uint16_t flags, uint64_t cookie,
                       uint32_t ctx, uint64_t len, uint32_t state)
{
    if (r->rd.mode == NBD_MODE_EXTENDED) {
        put_chunk_header(r, flags, NBD_REPLY_TYPE_BLOCK_STATUS_EXT, cookie,
                         8 + 16);
        put_be(r->bytes, ctx, 4);
        put_be(r->bytes, 1, 4);
        put_be(r->bytes, len, 8);
        put_be(r->bytes, state, 8);
    } else {
        put_chunk_header(r, flags, NBD_REPLY_TYPE_BLOCK_STATUS, cookie,
                         4 + 8);
        put_be(r->bytes, ctx, 4);
        put_be(r->bytes, len, 4);
        put_be(r->bytes, state, 4);
    }
}

typedef struct ReadAll {
    Replies *r;
    NBDRecvBuf rb;
} ReadAll;

static void coroutine_fn read_all_entry(void *opaque)
{
    ReadAll *ra = opaque;
    Replies *r = ra->r;

    for (;;) {
        NBDReplyState *st;

        r->ret = nbd_receive_reply(&ra->rb, NULL, &r->rd, &st, &r->err);
        if (r->ret < 0) {
            g_assert_nonnull(r->err);
            return;
        }
        g_assert_nonnull(st);
        if (r->ret == 1) {
            r->done[st - r->st] = true;
        }
        if (!nbd_recv_buf_avail(&ra->rb)) {
            return;
        }
    }
}

/* Reads the stream; returns 0 when all of it was accepted, else -1. */
static int replies_run(Replies *r)
{
    ReadAll ra = { .r = r };

    nbd_recv_buf_init_bytes(&ra.rb, r->bytes->data, r->bytes->len);
    qemu_coroutine_enter(qemu_coroutine_create(read_all_entry, &ra));
    g_assert_cmpuint(qemu_coroutine_live_count(), ==, 0);
    nbd_recv_buf_destroy(&ra.rb);
    if (r->ret < 0) {
        g_test_message("refused: %s", error_get_pretty(r->err));
        return -1;
    }
    return 0;
}

/* The reader refused the stream with a message containing @what. */
static void assert_refused(Replies *r, const char *what)
{
    g_assert_cmpint(replies_run(r), ==, -1);
    g_assert_nonnull(strstr(error_get_pretty(r->err), what));
}

static void assert_buf(Replies *r, size_t start, size_t len, uint8_t v)
{
    for (size_t i = start; i < start + len; i++) {
        g_assert_cmphex(r->buf[i], ==, v);
    }
}

static void test_simple(void)
{
    Replies r;
    uint8_t data[READ_LEN];

    replies_init(&r, NBD_MODE_SIMPLE);
    memset(data, 0x5c, sizeof(data));
    put_simple(&r, 102, 0, NULL, 0);
    put_simple(&r, 100, 0, data, sizeof(data));
    g_assert_cmpint(replies_run(&r), ==, 0);
    g_assert_true(r.done[0] && r.done[2]);
    g_assert_cmpint(r.st[0].ret, ==, 0);
    assert_buf(&r, 0, READ_LEN, 0x5c);
    replies_destroy(&r);

    /* An error reply carries no data */
    replies_init(&r, NBD_MODE_SIMPLE);
    put_simple(&r, 100, NBD_EIO, NULL, 0);
    g_assert_cmpint(replies_run(&r), ==, 0);
    g_assert_true(r.done[0]);
    g_assert_cmpint(r.st[0].ret, ==, -EIO);
    replies_destroy(&r);
}

static void test_chunks(gconstpointer opaque)
{
    NBDMode mode = GPOINTER_TO_INT(opaque);
    Replies r;

    /* Out of order: the tail, a hole in the middle, then the head */
    replies_init(&r, mode);
    put_data(&r, 0, 100, READ_FROM + 768, 256, 0x33);
    put_hole(&r, 0, 100, READ_FROM + 256, 512);
    put_status(&r, NBD_REPLY_FLAG_DONE, 101, CTX_ID, 4096, NBD_STATE_HOLE);
    put_data(&r, 0, 100, READ_FROM, 256, 0x11);
    put_none(&r, 100);
    put_none(&r, 102);
    g_assert_cmpint(replies_run(&r), ==, 0);
    g_assert_true(r.done[0] && r.done[1] && r.done[2]);
    g_assert_cmpint(r.st[0].ret, ==, 0);
    assert_buf(&r, 0, 256, 0x11);
    assert_buf(&r, 256, 512, 0);
    assert_buf(&r, 768, 256, 0x33);
    g_assert_true(r.st[1].have_extent);
    g_assert_cmpuint(r.st[1].extent_len, ==, 4096);
    g_assert_cmpuint(r.st[1].extent_flags, ==, NBD_STATE_HOLE);
    replies_destroy(&r);

    /* An extent longer than the request is cut to it */
    replies_init(&r, mode);
    put_status(&r, NBD_REPLY_FLAG_DONE, 101, CTX_ID, 1 << 20, 0);
    g_assert_cmpint(replies_run(&r), ==, 0);
    g_assert_cmpuint(r.st[1].extent_len, ==, 65536);
    replies_destroy(&r);
}

static void test_error_chunks(gconstpointer opaque)
{
    NBDMode mode = GPOINTER_TO_INT(opaque);
    Replies r;

    /* An error ends the read with it; later chunks are still read */
    replies_init(&r, mode);
    put_data(&r, 0, 100, READ_FROM, 512, 0x11);
    put_error(&r, 0, 100, NBD_ENOSPC, "no room");
    put_error(&r, NBD_REPLY_FLAG_DONE, 100, NBD_EIO, "and broken");
    put_error(&r, NBD_REPLY_FLAG_DONE, 102, NBD_EPERM, "");
    g_assert_cmpint(replies_run(&r), ==, 0);
    g_assert_true(r.done[0] && r.done[2]);
    g_assert_cmpint(r.st[0].ret, ==, -ENOSPC);
    g_assert_cmpint(r.st[2].ret, ==, -EPERM);
    replies_destroy(&r);

    /* An error value of 0 */
    replies_init(&r, mode);
    put_error(&r, NBD_REPLY_FLAG_DONE, 102, 0, "fine?");
    assert_refused(&r, "without an error value");
    replies_destroy(&r);

    /* A message longer than the chunk */
    replies_init(&r, mode);
    put_chunk_header(&r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 102, 8);
    put_be(r.bytes, NBD_EIO, 4);
    put_be(r.bytes, 100, 2);
    put_be(r.bytes, 0, 2);
    assert_refused(&r, "malformed error chunk");
    replies_destroy(&r);

    /* Too short for the error value and message length */
    replies_init(&r, mode);
    put_chunk_header(&r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 102, 3);
    put_be(r.bytes, 0, 3);
    assert_refused(&r, "malformed error chunk");
    replies_destroy(&r);
}

static void test_overlap(void)
{
    Replies r;

    /* In order, then a chunk that covers part of the first again */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_data(&r, 0, 100, READ_FROM, 512, 0x11);
    put_data(&r, 0, 100, READ_FROM + 256, 512, 0x22);
    put_data(&r, NBD_REPLY_FLAG_DONE, 100, READ_FROM + 768, 256, 0x33);
    assert_refused(&r, "overlaps");
    replies_destroy(&r);

    /* Out of order, a hole over data: the byte count would add up */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_data(&r, 0, 100, READ_FROM + 512, 512, 0x11);
    put_hole(&r, 0, 100, READ_FROM + 512, 256);
    put_data(&r, NBD_REPLY_FLAG_DONE, 100, READ_FROM, 256, 0x22);
    assert_refused(&r, "overlaps");
    replies_destroy(&r);
}

static void test_past_request(void)
{
    Replies r;

    /* Starts inside, ends past the end */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_data(&r, NBD_REPLY_FLAG_DONE, 100, READ_FROM + 512, 1024, 0x11);
    assert_refused(&r, "outside the request");
    replies_destroy(&r);

    /* Before the start */
    replies_init(&r, NBD_MODE_EXTENDED);
    put_hole(&r, NBD_REPLY_FLAG_DONE, 100, READ_FROM - 1, 16);
    assert_refused(&r, "outside the request");
    replies_destroy(&r);

    /* An offset that wraps around */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_hole(&r, NBD_REPLY_FLAG_DONE, 100, UINT64_MAX - 8, 16);
    assert_refused(&r, "outside the request");
    replies_destroy(&r);

    /* Data for a request that reads nothing */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_data(&r, NBD_REPLY_FLAG_DONE, 102, 0, 16, 0x11);
    assert_refused(&r, "chunk for a");
    replies_destroy(&r);
}

static void test_bad_magic(void)
{
    Replies r;

    replies_init(&r, NBD_MODE_STRUCTURED);
    put_be(r.bytes, 0x12345678, 4);
    put_be(r.bytes, 0, 8);
    put_be(r.bytes, 0, 8);
    assert_refused(&r, "unexpected reply magic");
    replies_destroy(&r);

    /* A magic of another mode: simple replies after extended headers */
    replies_init(&r, NBD_MODE_EXTENDED);
    put_simple(&r, 102, 0, NULL, 0);
    assert_refused(&r, "unexpected reply magic");
    replies_destroy(&r);

    /* Structured chunks when only simple replies were agreed */
    replies_init(&r, NBD_MODE_SIMPLE);
    r.rd.mode = NBD_MODE_STRUCTURED;
    put_none(&r, 102);
    r.rd.mode = NBD_MODE_SIMPLE;
    assert_refused(&r, "unexpected reply magic");
    replies_destroy(&r);
}

static void test_unknown_cookie(void)
{
    Replies r;

    replies_init(&r, NBD_MODE_STRUCTURED);
    put_none(&r, 999);
    assert_refused(&r, "unknown cookie");
    replies_destroy(&r);

    /* A second reply to a request that is complete */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_none(&r, 102);
    put_none(&r, 102);
    assert_refused(&r, "unknown cookie");
    g_assert_true(r.done[2]);
    replies_destroy(&r);
}

static void test_incomplete(void)
{
    Replies r;

    /* DONE before the whole read is covered */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_data(&r, 0, 100, READ_FROM, 512, 0x11);
    put_none(&r, 100);
    assert_refused(&r, "covers 512 of 1024");
    replies_destroy(&r);

    /* Block status that ends without an extent */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_none(&r, 101);
    assert_refused(&r, "without an extent");
    replies_destroy(&r);

    /* A simple reply to block status */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_simple(&r, 101, 0, NULL, 0);
    assert_refused(&r, "simple reply to a block status");
    replies_destroy(&r);

    /* Simple reply with data once structured replies were agreed */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_simple(&r, 100, 0, NULL, 0);
    assert_refused(&r, "simple reply with data");
    replies_destroy(&r);

    /* The stream ends in the middle of the data */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_data(&r, NBD_REPLY_FLAG_DONE, 100, READ_FROM, READ_LEN, 0x11);
    g_byte_array_set_size(r.bytes, r.bytes->len - 100);
    assert_refused(&r, "end-of-file");
    replies_destroy(&r);

    /* ... in the middle of a header */
    replies_init(&r, NBD_MODE_EXTENDED);
    put_none(&r, 102);
    g_byte_array_set_size(r.bytes, 20);
    assert_refused(&r, "end-of-file");
    replies_destroy(&r);
}

static void test_bad_status(void)
{
    Replies r;

    /* A context we did not select */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_status(&r, NBD_REPLY_FLAG_DONE, 101, CTX_ID + 1, 512, 0);
    assert_refused(&r, "unknown context");
    replies_destroy(&r);

    /* Two chunks for a REQ_ONE query */
    replies_init(&r, NBD_MODE_EXTENDED);
    put_status(&r, 0, 101, CTX_ID, 512, 0);
    put_status(&r, NBD_REPLY_FLAG_DONE, 101, CTX_ID, 512, 0);
    assert_refused(&r, "more than one block status chunk");
    replies_destroy(&r);

    /* An empty extent */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_status(&r, NBD_REPLY_FLAG_DONE, 101, CTX_ID, 0, 0);
    assert_refused(&r, "length 0");
    replies_destroy(&r);

    /* Compact status after extended headers were agreed */
    replies_init(&r, NBD_MODE_EXTENDED);
    put_chunk_header(&r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS,
                     101, 12);
    put_be(r.bytes, CTX_ID, 4);
    put_be(r.bytes, 512, 4);
    put_be(r.bytes, 0, 4);
    assert_refused(&r, "block status chunk");
    replies_destroy(&r);

    /* Status for a read */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_status(&r, NBD_REPLY_FLAG_DONE, 100, CTX_ID, 512, 0);
    assert_refused(&r, "block status chunk");
    replies_destroy(&r);

    /* A chunk type nobody knows */
    replies_init(&r, NBD_MODE_STRUCTURED);
    put_chunk_header(&r, NBD_REPLY_FLAG_DONE, 77, 102, 0);
    assert_refused(&r, "unknown chunk type");
    replies_destroy(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);

    g_test_add_func("/nbd/reply/simple", test_simple);
    g_test_add_data_func("/nbd/reply/chunks/structured",
                         GINT_TO_POINTER(NBD_MODE_STRUCTURED), test_chunks);
    g_test_add_data_func("/nbd/reply/chunks/extended",
                         GINT_TO_POINTER(NBD_MODE_EXTENDED), test_chunks);
    g_test_add_data_func("/nbd/reply/error-chunks/structured",
                         GINT_TO_POINTER(NBD_MODE_STRUCTURED),
                         test_error_chunks);
    g_test_add_data_func("/nbd/reply/error-chunks/extended",
                         GINT_TO_POINTER(NBD_MODE_EXTENDED),
                         test_error_chunks);
    g_test_add_func("/nbd/reply/overlapping-chunks", test_overlap);
    g_test_add_func("/nbd/reply/past-request", test_past_request);
    g_test_add_func("/nbd/reply/bad-magic", test_bad_magic);
    g_test_add_func("/nbd/reply/unknown-cookie", test_unknown_cookie);
    g_test_add_func("/nbd/reply/incomplete", test_incomplete);
    g_test_add_func("/nbd/reply/bad-block-status", test_bad_status);
    return g_test_run();
}
