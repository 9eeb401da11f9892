/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qcow2 driver's pure helpers: header decoding and validation (one
 * case per field a hostile image may get wrong), feature names, L2 entry
 * types, compressed cluster descriptors, refcount entries of every width
 * and decompression. Then the driver itself with writers in two
 * iothreads on shared new clusters: data checked, and no cluster
 * allocated twice.
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "block/qcow2.h"
#include "block/qcow2-img.h"
#include "sysemu/block-backend.h"
#include "sysemu/iothread.h"
#include "test-util.h"
#include <zlib.h>

#define CS          65536
#define FILE_SIZE   (4 * CS)

/* A valid v3 header as qemu-img create writes it for a 1 MiB image. */
static void make_header(uint8_t *buf, int version)
{
    QCowHeader h = {
        .magic = QCOW_MAGIC,
        .version = version,
        .cluster_bits = 16,
        .size = 1024 * 1024,
        .l1_size = 1,
        .l1_table_offset = 3 * CS,
        .refcount_table_offset = CS,
        .refcount_table_clusters = 1,
        .refcount_order = 4,
        .header_length = version == 3 ? 112 : QCOW2_HEADER_V2_SIZE,
    };

    memset(buf, 0, CS);
    qcow2_encode_header(&h, buf);
}

/* Parses @buf, expecting an error that contains @msg (NULL: success). */
static void expect(const uint8_t *buf, const char *msg)
{
    Error *err = NULL;
    QCowHeader h;
    bool ok = qcow2_parse_header(buf, CS, FILE_SIZE, &h, &err);

    if (!msg) {
        g_assert_null(err);
        g_assert_true(ok);
        return;
    }
    g_assert_false(ok);
    g_assert_nonnull(err);
    if (!strstr(error_get_pretty(err), msg)) {
        g_error("'%s' lacks '%s'", error_get_pretty(err), msg);
    }
    error_free(err);
}

static void test_header_valid(void)
{
    g_autofree uint8_t *buf = g_malloc(CS);
    Error *err = NULL;
    QCowHeader h;

    make_header(buf, 3);
    g_assert_true(qcow2_parse_header(buf, CS, FILE_SIZE, &h, &err));
    g_assert_cmpuint(h.version, ==, 3);
    g_assert_cmpuint(h.cluster_bits, ==, 16);
    g_assert_cmpuint(h.size, ==, 1024 * 1024);
    g_assert_cmpuint(h.refcount_order, ==, 4);
    g_assert_cmpuint(h.header_length, ==, 112);

    make_header(buf, 2);
    g_assert_true(qcow2_parse_header(buf, CS, FILE_SIZE, &h, &err));
    g_assert_cmpuint(h.version, ==, 2);
    g_assert_cmpuint(h.refcount_order, ==, 4);
    g_assert_cmpuint(h.incompatible_features, ==, 0);
}

static void test_header_invalid(void)
{
    g_autofree uint8_t *buf = g_malloc(CS);
    QCowHeader h;
    Error *err = NULL;

    make_header(buf, 3);
    g_assert_false(qcow2_parse_header(buf, 40, FILE_SIZE, &h, &err));
    error_free(err);

#define CASE(off, put, val, msg)                                        \
    do {                                                                \
        make_header(buf, 3);                                            \
        put(buf + (off), (val));                                        \
        expect(buf, (msg));                                             \
    } while (0)

    CASE(0, qcow2_st32, 0x51464900, "not in qcow2 format");
    CASE(4, qcow2_st32, 1, "Unsupported qcow2 version 1");
    CASE(4, qcow2_st32, 4, "Unsupported qcow2 version 4");
    CASE(20, qcow2_st32, 8, "Unsupported cluster size");
    CASE(20, qcow2_st32, 22, "Unsupported cluster size");
    CASE(20, qcow2_st32, 0xffffffff, "Unsupported cluster size");
    CASE(100, qcow2_st32, 100, "header too short");
    CASE(100, qcow2_st32, CS + 8, "exceeds cluster size");
    CASE(96, qcow2_st32, 7, "Refcount order is too big");
    CASE(32, qcow2_st32, 2, "Encrypted images are not supported");
    CASE(24, qcow2_st64, UINT64_MAX, "Image size too large");
    CASE(24, qcow2_st64, 1ULL << 40, "L1 table is too small");
    CASE(36, qcow2_st32, 0x10000000, "Active L1 table too large");
    CASE(40, qcow2_st64, 3 * CS + 8, "Active L1 table offset invalid");
    CASE(40, qcow2_st64, 0, "inside the header");
    CASE(40, qcow2_st64, 1ULL << 40, "past the end of the file");
    CASE(40, qcow2_st64, CS, "overlaps the reference count table");
    CASE(56, qcow2_st32, 0, "does not contain a reference count table");
    CASE(56, qcow2_st32, 0x10000000, "Reference count table too large");
    CASE(48, qcow2_st64, CS + 512, "Reference count table offset invalid");
    CASE(48, qcow2_st64, 100 * CS, "past the end of the file");
    CASE(60, qcow2_st32, 0x7fffffff, "Too many snapshots");
    CASE(72, qcow2_st64, QCOW2_INCOMPAT_COMPRESSION,
         "does not match the compression-type feature bit");

    /* Snapshot table where it cannot be. */
    make_header(buf, 3);
    qcow2_st32(buf + 60, 1);
    qcow2_st64(buf + 64, 512);
    expect(buf, "Snapshot table offset invalid");

    /* Backing file name: too long, or not where it can be. */
    make_header(buf, 3);
    qcow2_st64(buf + 8, 200);
    qcow2_st32(buf + 16, 5000);
    expect(buf, "Backing file name too long");
    make_header(buf, 3);
    qcow2_st64(buf + 8, CS - 4);
    qcow2_st32(buf + 16, 8);
    expect(buf, "Invalid backing file offset");
    make_header(buf, 3);
    qcow2_st64(buf + 8, 16);
    qcow2_st32(buf + 16, 8);
    expect(buf, "Invalid backing file offset");

    /* zstd without the feature bit, and an unknown compression type. */
    make_header(buf, 3);
    buf[104] = QCOW2_COMPRESSION_ZSTD;
    expect(buf, "does not match");
    make_header(buf, 3);
    buf[104] = 7;
    expect(buf, "Unknown compression type 7");
    make_header(buf, 3);
    buf[104] = QCOW2_COMPRESSION_ZSTD;
    qcow2_st64(buf + 72, QCOW2_INCOMPAT_COMPRESSION);
    expect(buf, NULL);
#undef CASE
}

static void test_features(void)
{
    uint8_t table[48 * 2] = { 0 };
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;

    a = qcow2_describe_features(QCOW2_INCOMPAT_EXTL2 | (1ULL << 9), NULL, 0);
    g_assert_cmpstr(a, ==, "extended L2 entries, unknown incompatible "
                    "feature bit 9");
    table[0] = 0;
    table[1] = 9;
    memcpy(table + 2, "frobnication", 12);
    table[48] = 1;      /* a compatible feature: not used for bit 9 */
    table[49] = 9;
    b = qcow2_describe_features(1ULL << 9, table, sizeof(table));
    g_assert_cmpstr(b, ==, "frobnication");
}

static void test_cluster_types(void)
{
    g_assert_cmpint(qcow2_get_cluster_type(0), ==,
                    QCOW2_CLUSTER_UNALLOCATED);
    g_assert_cmpint(qcow2_get_cluster_type(QCOW_OFLAG_ZERO), ==,
                    QCOW2_CLUSTER_ZERO_PLAIN);
    g_assert_cmpint(qcow2_get_cluster_type(0x50000 | QCOW_OFLAG_ZERO |
                                           QCOW_OFLAG_COPIED), ==,
                    QCOW2_CLUSTER_ZERO_ALLOC);
    g_assert_cmpint(qcow2_get_cluster_type(0x50000 | QCOW_OFLAG_COPIED), ==,
                    QCOW2_CLUSTER_NORMAL);
    g_assert_cmpint(qcow2_get_cluster_type(QCOW_OFLAG_COMPRESSED | 0x1234),
                    ==, QCOW2_CLUSTER_COMPRESSED);
    /* COPIED without an offset: unallocated (the driver calls it corrupt) */
    g_assert_cmpint(qcow2_get_cluster_type(QCOW_OFLAG_COPIED), ==,
                    QCOW2_CLUSTER_UNALLOCATED);
}

static void test_compressed_extent(void)
{
    uint64_t off, bytes;
    /* 64 KiB clusters: offset in bits 0..53, sectors-1 in 54..61. */
    uint64_t e = QCOW_OFLAG_COMPRESSED | (3ULL << 54) | 0x12345ULL;

    qcow2_compressed_extent(e, 16, &off, &bytes);
    g_assert_cmpuint(off, ==, 0x12345);
    g_assert_cmpuint(bytes, ==, 4 * 512 - 0x145);

    /* 512 B clusters: a single sector count bit. */
    e = QCOW_OFLAG_COMPRESSED | (1ULL << 61) | 0x4000ULL;
    qcow2_compressed_extent(e, 9, &off, &bytes);
    g_assert_cmpuint(off, ==, 0x4000);
    g_assert_cmpuint(bytes, ==, 1024);

    /* 2 MiB clusters. */
    e = QCOW_OFLAG_COMPRESSED | (0x1fffULL << 49) | 0x200000ULL;
    qcow2_compressed_extent(e, 21, &off, &bytes);
    g_assert_cmpuint(off, ==, 0x200000);
    g_assert_cmpuint(bytes, ==, 0x2000 * 512);
}

static void test_refcounts(void)
{
    for (int order = 0; order <= 6; order++) {
        uint8_t block[512] = { 0 };
        int bits = 1 << order;
        uint64_t max = bits == 64 ? UINT64_MAX : (1ULL << bits) - 1;
        uint64_t n = 512 * 8 / bits;

        for (uint64_t i = 0; i < n; i++) {
            qcow2_refcount_set(block, i, order, (i * 7 + 1) & max);
        }
        for (uint64_t i = 0; i < n; i++) {
            g_assert_cmpuint(qcow2_refcount_get(block, i, order), ==,
                             (i * 7 + 1) & max);
        }
        qcow2_refcount_set(block, 3, order, max);
        g_assert_cmpuint(qcow2_refcount_get(block, 3, order), ==, max);
        g_assert_cmpuint(qcow2_refcount_get(block, 2, order), ==,
                         (2 * 7 + 1) & max);
        g_assert_cmpuint(qcow2_refcount_get(block, 4, order), ==,
                         (4 * 7 + 1) & max);
    }
    /* Bit order of narrow refcounts: least significant bits first. */
    {
        uint8_t block[4] = { 0 };

        qcow2_refcount_set(block, 0, 0, 1);
        qcow2_refcount_set(block, 9, 0, 1);
        g_assert_cmphex(block[0], ==, 0x01);
        g_assert_cmphex(block[1], ==, 0x02);
        memset(block, 0, sizeof(block));
        qcow2_refcount_set(block, 1, 2, 0xa);
        g_assert_cmphex(block[0], ==, 0xa0);
        qcow2_refcount_set(block, 1, 4, 0x1234);
        g_assert_cmphex(block[2], ==, 0x12);
        g_assert_cmphex(block[3], ==, 0x34);
    }
}

static void test_l1_entries(void)
{
    /* 64 KiB clusters: one L2 table covers 512 MiB. */
    g_assert_cmpuint(qcow2_l1_entries_for(0, 16), ==, 0);
    g_assert_cmpuint(qcow2_l1_entries_for(1, 16), ==, 1);
    g_assert_cmpuint(qcow2_l1_entries_for(512ULL << 20, 16), ==, 1);
    g_assert_cmpuint(qcow2_l1_entries_for((512ULL << 20) + 1, 16), ==, 2);
    /* 512 B clusters: 32 KiB per L2 table. */
    g_assert_cmpuint(qcow2_l1_entries_for(1ULL << 20, 9), ==, 32);
    g_assert_cmpuint(qcow2_l1_entries_for(BDRV_MAX_LENGTH, 21), ==,
                     DIV_ROUND_UP(BDRV_MAX_LENGTH, 1ULL << 39));
}

static void test_duplicates(void)
{
    uint64_t a[] = { 0, 0x30000 | QCOW_OFLAG_COPIED, 0, 0x50000, 0x40000 };
    uint64_t b[] = { 0x50000, 0x30000 | QCOW_OFLAG_COPIED, 0, 0x30000 };
    uint64_t dup = 0;

    /* Zero entries (unallocated) are not duplicates of each other. */
    g_assert_cmpint(qcow2_find_duplicate(a, 5, L1E_OFFSET_MASK, &dup), ==,
                    0);
    /* Flags do not hide a duplicate. */
    g_assert_cmpint(qcow2_find_duplicate(b, 4, L1E_OFFSET_MASK, &dup), ==,
                    1);
    g_assert_cmphex(dup, ==, 0x30000);
    g_assert_cmpint(qcow2_find_duplicate(b, 0, L1E_OFFSET_MASK, &dup), ==,
                    0);
}

static void test_decompress(void)
{
    g_autofree uint8_t *in = g_malloc(CS);
    g_autofree uint8_t *out = g_malloc(CS);
    g_autofree uint8_t *z = g_malloc(2 * CS);
    z_stream s = { 0 };
    size_t zlen;

    for (int i = 0; i < CS; i++) {
        in[i] = (i * 31) ^ (i >> 8);
    }
    g_assert_cmpint(deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12,
                                 9, Z_DEFAULT_STRATEGY), ==, Z_OK);
    s.next_in = in;
    s.avail_in = CS;
    s.next_out = z;
    s.avail_out = 2 * CS;
    g_assert_cmpint(deflate(&s, Z_FINISH), ==, Z_STREAM_END);
    zlen = 2 * CS - s.avail_out;
    deflateEnd(&s);

    /* Padded to a sector, as in an image. */
    memset(z + zlen, 0, 512);
    g_assert_cmpint(qcow2_decompress(QCOW2_COMPRESSION_ZLIB, out, CS, z,
                                     QEMU_ALIGN_UP(zlen, 512)), ==, 0);
    g_assert_cmpmem(in, CS, out, CS);
    /* Truncated or garbage input: -EIO, never a crash. */
    g_assert_cmpint(qcow2_decompress(QCOW2_COMPRESSION_ZLIB, out, CS, z,
                                     zlen / 2), ==, -EIO);
    memset(z, 0xff, 1024);
    g_assert_cmpint(qcow2_decompress(QCOW2_COMPRESSION_ZLIB, out, CS, z,
                                     1024), ==, -EIO);
    g_assert_cmpint(qcow2_decompress(QCOW2_COMPRESSION_ZSTD, out, CS, z,
                                     1024), <, 0);
    g_assert_cmpint(qcow2_decompress(9, out, CS, z, 1024), ==, -ENOTSUP);
}

/* Writers in two iothreads */

enum {
    MT_CLUSTER = 4096,
    MT_CLUSTERS = 64,
    MT_WRITERS = 8,             /* each owns 512 bytes of every cluster */
    MT_STRIPE = MT_CLUSTER / MT_WRITERS,
};

typedef struct MTState {
    BlockBackend *blk;
    unsigned int running;       /* atomic */
    unsigned int errors;        /* atomic */
} MTState;

typedef struct MTWriter {
    MTState *st;
    int index;
} MTWriter;

static void coroutine_fn mt_writer_co(void *opaque)
{
    MTWriter *w = opaque;
    uint8_t buf[MT_STRIPE];

    memset(buf, w->index + 1, sizeof(buf));
    for (int c = 0; c < MT_CLUSTERS; c++) {
        int64_t off = (int64_t)c * MT_CLUSTER + w->index * MT_STRIPE;

        /* Odd writers zero their stripe first, then write it. */
        if ((w->index & 1) &&
            blk_co_pwrite_zeroes(w->st->blk, off, MT_STRIPE, 0) < 0) {
            qatomic_inc(&w->st->errors);
        }
        if (blk_co_pwrite(w->st->blk, off, MT_STRIPE, buf, 0) < 0) {
            qatomic_inc(&w->st->errors);
        }
    }
    qatomic_dec(&w->st->running);
    aio_wait_kick();
}

static void test_mt_writers(void)
{
    g_autofree char *dir = g_dir_make_tmp("test-qcow2-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "mt.qcow2", NULL);
    g_autofree uint8_t *buf = g_malloc(MT_CLUSTERS * MT_CLUSTER);
    Qcow2CreateOptions opts = {
        .size = MT_CLUSTERS * MT_CLUSTER, .cluster_size = MT_CLUSTER,
    };
    IOThread *t[2];
    MTWriter w[MT_WRITERS];
    MTState st = { 0 };
    struct stat sb;

    g_assert_true(qcow2_img_create(path, &opts, true, &error_abort));
    st.blk = blk_new_open(path, "qcow2", NULL, BDRV_O_RDWR, &error_abort);
    t[0] = iothread_create("qcow2-mt0", &error_abort);
    t[1] = iothread_create("qcow2-mt1", &error_abort);
    st.running = MT_WRITERS;
    for (int i = 0; i < MT_WRITERS; i++) {
        AioContext *ctx = iothread_get_aio_context(t[i % 2]);

        w[i] = (MTWriter){ .st = &st, .index = i };
        aio_co_enter(ctx, qemu_coroutine_create(mt_writer_co, &w[i]));
    }
    AIO_WAIT_WHILE(qemu_get_aio_context(),
                   qatomic_load_acquire(&st.running) > 0);
    iothread_destroy(t[0]);
    iothread_destroy(t[1]);
    g_assert_cmpuint(st.errors, ==, 0);

    g_assert_cmpint(blk_pread(st.blk, 0, MT_CLUSTERS * MT_CLUSTER, buf, 0),
                    ==, 0);
    for (int c = 0; c < MT_CLUSTERS; c++) {
        for (int i = 0; i < MT_WRITERS; i++) {
            uint8_t *p = buf + c * MT_CLUSTER + i * MT_STRIPE;

            for (int b = 0; b < MT_STRIPE; b++) {
                if (p[b] != i + 1) {
                    g_error("cluster %d stripe %d byte %d: 0x%x", c, i, b,
                            p[b]);
                }
            }
        }
    }
    blk_unref(st.blk);
    while (aio_poll(qemu_get_aio_context(), false)) {
        /* nothing */
    }
    assert_ctx_clean(qemu_get_aio_context());
    assert_no_coroutines();

    /*
     * Header, refcount table and block, L1 and one L2 table, then one
     * cluster per guest cluster: a cluster allocated twice (and leaked)
     * would make the file longer.
     */
    g_assert_cmpint(stat(path, &sb), ==, 0);
    g_assert_cmpint(sb.st_size, <=, (5 + MT_CLUSTERS) * MT_CLUSTER);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    g_test_add_func("/block/qcow2/mt-writers", test_mt_writers);
    g_test_add_func("/block/qcow2/header/valid", test_header_valid);
    g_test_add_func("/block/qcow2/header/invalid", test_header_invalid);
    g_test_add_func("/block/qcow2/features", test_features);
    g_test_add_func("/block/qcow2/cluster-types", test_cluster_types);
    g_test_add_func("/block/qcow2/compressed-extent",
                    test_compressed_extent);
    g_test_add_func("/block/qcow2/refcounts", test_refcounts);
    g_test_add_func("/block/qcow2/l1-entries", test_l1_entries);
    g_test_add_func("/block/qcow2/decompress", test_decompress);
    g_test_add_func("/block/qcow2/duplicates", test_duplicates);
    return g_test_run();
}
