/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Block I/O tests: raw over file with aio=threads and aio=io_uring, with
 * cache=writeback and cache=none (O_DIRECT), on a disk file system and on
 * tmpfs (where file-posix reads and writes inline), and null-co. Every
 * test checks the data it reads back.
 */
#include "qemu/osdep.h"
#include <linux/magic.h>
#include <sys/vfs.h>
#include "sysemu/block-backend.h"
#include "block/block_int.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

enum {
    IMG_SIZE = 4 * 1024 * 1024,
};

typedef struct Config {
    const char *aio;
    bool direct;
    bool shm;                   /* the image is on /dev/shm (tmpfs) */
} Config;

static const Config configs[] = {
    { "threads", false },
    { "threads", true },
    { "io_uring", false },
    { "io_uring", true },
    { "threads", false, true },
    { "io_uring", false, true },
};

static char *tmp_dir;
static char *shm_dir;           /* NULL: /dev/shm is not a tmpfs here */
static unsigned int img_counter;

/*
 * A new sparse image file of @size bytes, on /dev/shm when @cfg asks for
 * it; returns its path, or NULL (test skipped) when there is no tmpfs.
 */
static char *make_image_for(const Config *cfg, int64_t size)
{
    const char *dir = cfg && cfg->shm ? shm_dir : tmp_dir;
    char *path;
    int fd;

    if (!dir) {
        g_test_skip("/dev/shm is not a tmpfs");
        return NULL;
    }
    path = g_strdup_printf("%s/img%u.raw", dir, img_counter++);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
    return path;
}

static char *make_image(int64_t size)
{
    return make_image_for(NULL, size);
}

/*
 * Opens raw-over-file for @cfg with extra options @extra (may be NULL).
 * Returns NULL (and marks the test skipped, the image removed) if the
 * kernel refuses io_uring for an aio=io_uring @cfg, or if O_DIRECT is
 * refused.
 */
static BlockBackend *open_image(const Config *cfg, const char *path,
                                const char *extra)
{
    g_autofree char *opts = NULL;
    g_autoptr(KeyVal) kv = NULL;
    Error *err = NULL;
    BlockDriverState *bs;
    BlockBackend *blk;

    if (!path) {
        return NULL;            /* skipped by make_image_for() */
    }
    if (!strcmp(cfg->aio, "io_uring") && test_io_uring_refusal()) {
        /* Else the driver would fall back to threads, tested already. */
        g_test_skip(test_io_uring_refusal());
        unlink(path);
        return NULL;
    }
    opts = g_strdup_printf(
        "driver=raw,file.driver=file,file.filename=%s,file.aio=%s,"
        "cache.direct=%s%s%s", path, cfg->aio, cfg->direct ? "on" : "off",
        extra ? "," : "", extra ? extra : "");
    kv = keyval_parse(opts, NULL, &error_abort);
    bs = bdrv_open_blockdev(kv, &err);
    if (!bs && cfg->direct && strstr(error_get_pretty(err), "O_DIRECT")) {
        g_test_skip("the file system refuses O_DIRECT");
        error_free(err);
        unlink(path);
        return NULL;
    }
    g_assert_null(err);
    blk = blk_new_with_bs(bs, true, &error_abort);
    bdrv_unref(bs);
    return blk;
}

static void close_image(BlockBackend *blk)
{
    AioContext *ctx = qemu_get_aio_context();

    blk_unref(blk);
    while (aio_poll(ctx, false)) {
        /* run what the close left behind */
    }
    assert_ctx_clean(ctx);
    assert_no_coroutines();
}

static void fill_pattern(uint8_t *buf, size_t len, unsigned int seed)
{
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
    }
}

static void test_rw(gconstpointer opaque)
{
    const Config *cfg = opaque;
    g_autofree char *path = make_image_for(cfg, IMG_SIZE);
    BlockBackend *blk = open_image(cfg, path, NULL);
    g_autofree uint8_t *wbuf = g_malloc(256 * 1024);
    g_autofree uint8_t *rbuf = g_malloc(256 * 1024);
    int fd, i;

    if (!blk) {
        return;
    }
    /* aio=io_uring keeps one completion handler in the context. */
    g_assert_cmpuint(aio_context_handler_count(qemu_get_aio_context()), ==,
                     strcmp(cfg->aio, "io_uring") ? 0 : 1);
    g_assert_cmpint(blk_getlength(blk), ==, IMG_SIZE);
    if (cfg->direct) {
        g_assert_cmpuint(blk_get_request_alignment(blk), >=, 512);
    } else {
        g_assert_cmpuint(blk_get_request_alignment(blk), ==, 1);
    }

    for (i = 0; i < 8; i++) {
        int64_t off = (int64_t)i * 384 * 1024;

        fill_pattern(wbuf, 256 * 1024, i);
        g_assert_cmpint(blk_pwrite(blk, off, 256 * 1024, wbuf, 0), ==, 0);
    }
    for (i = 0; i < 8; i++) {
        int64_t off = (int64_t)i * 384 * 1024;

        fill_pattern(wbuf, 256 * 1024, i);
        g_assert_cmpint(blk_pread(blk, off, 256 * 1024, rbuf, 0), ==, 0);
        g_assert_cmpmem(rbuf, 256 * 1024, wbuf, 256 * 1024);
    }
    /* A scattered read across the pattern boundaries. */
    {
        QEMUIOVector qiov;
        uint8_t *a = g_malloc(4096), *b = g_malloc(8192);

        qemu_iovec_init(&qiov, 2);
        qemu_iovec_add(&qiov, a, 4096);
        qemu_iovec_add(&qiov, b, 8192);
        g_assert_cmpint(blk_preadv(blk, 384 * 1024, 12288, &qiov, 0), ==, 0);
        fill_pattern(wbuf, 12288, 1);
        g_assert_cmpmem(a, 4096, wbuf, 4096);
        g_assert_cmpmem(b, 8192, wbuf + 4096, 8192);
        qemu_iovec_destroy(&qiov);
        g_free(a);
        g_free(b);
    }
    g_assert_cmpint(blk_flush(blk), ==, 0);
    close_image(blk);

    /* The bytes really are in the file. */
    fd = open(path, O_RDONLY);
    fill_pattern(wbuf, 256 * 1024, 7);
    g_assert_cmpint(pread(fd, rbuf, 256 * 1024, 7 * 384 * 1024), ==,
                    256 * 1024);
    g_assert_cmpmem(rbuf, 256 * 1024, wbuf, 256 * 1024);
    close(fd);
    unlink(path);
}

typedef struct RmwJob {
    BlockBackend *blk;
    int64_t offset;
    int64_t bytes;
    uint8_t *data;
    int ret;
    int *remaining;
} RmwJob;

static void coroutine_fn rmw_job(void *opaque)
{
    RmwJob *job = opaque;

    job->ret = blk_co_pwrite(job->blk, job->offset, job->bytes, job->data,
                             0);
    (*job->remaining)--;
}

/*
 * Many concurrent unaligned writes that share blocks: each must survive
 * the others' read-modify-write cycles.
 */
static void test_unaligned_rmw(gconstpointer opaque)
{
    enum { JOBS = 48, REGION = 1024 * 1024 };
    const Config *cfg = opaque;
    g_autofree char *path = make_image_for(cfg, IMG_SIZE);
    BlockBackend *blk = open_image(cfg, path, NULL);
    g_autofree uint8_t *expect = g_malloc0(REGION);
    g_autofree uint8_t *got = g_malloc(REGION);
    g_autofree gchar *sum_expect = NULL;
    g_autofree gchar *sum_got = NULL;
    RmwJob jobs[JOBS];
    int remaining = JOBS;
    int64_t pos = 100;
    int i;

    if (!blk) {
        return;
    }
    for (i = 0; i < JOBS; i++) {
        /* Lengths 1..~5000 bytes, packed back to back from offset 100. */
        int64_t len = 1 + (i * 997) % 5000;

        jobs[i] = (RmwJob) {
            .blk = blk, .offset = pos, .bytes = len,
            .data = g_malloc(len), .remaining = &remaining,
        };
        fill_pattern(jobs[i].data, len, i + 1);
        memcpy(expect + pos, jobs[i].data, len);
        pos += len;
    }
    g_assert_cmpint(pos, <, REGION);
    for (i = 0; i < JOBS; i++) {
        qemu_coroutine_enter(qemu_coroutine_create(rmw_job, &jobs[i]));
    }
    while (remaining) {
        aio_poll(qemu_get_aio_context(), true);
    }
    for (i = 0; i < JOBS; i++) {
        g_assert_cmpint(jobs[i].ret, ==, 0);
        g_free(jobs[i].data);
    }
    /* Unaligned reads too. */
    g_assert_cmpint(blk_pread(blk, 0, REGION, got, 0), ==, 0);
    sum_expect = g_compute_checksum_for_data(G_CHECKSUM_SHA256, expect,
                                             REGION);
    sum_got = g_compute_checksum_for_data(G_CHECKSUM_SHA256, got, REGION);
    g_assert_cmpstr(sum_got, ==, sum_expect);
    g_assert_cmpint(blk_pread(blk, 333, 7777, got, 0), ==, 0);
    g_assert_cmpmem(got, 7777, expect + 333, 7777);
    close_image(blk);
    unlink(path);
}

static int block_status(BlockBackend *blk, int64_t offset, int64_t *pnum)
{
    return blk_block_status(blk, offset, IMG_SIZE, pnum, NULL);
}

static void test_zeroes(gconstpointer opaque)
{
    const Config *cfg = opaque;
    g_autofree char *path = make_image_for(cfg, IMG_SIZE);
    BlockBackend *blk = open_image(cfg, path, "discard=unmap");
    g_autofree uint8_t *buf = g_malloc(IMG_SIZE);
    int64_t pnum;
    int ret;

    if (!blk) {
        return;
    }
    memset(buf, 0xa5, IMG_SIZE);
    g_assert_cmpint(blk_pwrite(blk, 0, IMG_SIZE, buf, 0), ==, 0);

    /* Zero range kept allocated. */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 64 * 1024, 128 * 1024, 0), ==, 0);
    /* Fast zero: the file system can, so it must succeed. */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 512 * 1024, 64 * 1024,
                                      BDRV_REQ_NO_FALLBACK), ==, 0);
    /* Unmapping zero write: becomes a hole. */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 1024 * 1024, 1024 * 1024,
                                      BDRV_REQ_MAY_UNMAP), ==, 0);
    /* Unaligned edges are zeroed by read-modify-write. */
    g_assert_cmpint(blk_pwrite_zeroes(blk, 3 * 1024 * 1024 + 100, 5000, 0),
                    ==, 0);

    memset(buf + 64 * 1024, 0, 128 * 1024);
    memset(buf + 512 * 1024, 0, 64 * 1024);
    memset(buf + 1024 * 1024, 0, 1024 * 1024);
    memset(buf + 3 * 1024 * 1024 + 100, 0, 5000);
    {
        g_autofree uint8_t *got = g_malloc(IMG_SIZE);

        g_assert_cmpint(blk_pread(blk, 0, IMG_SIZE, got, 0), ==, 0);
        g_assert_cmpmem(got, IMG_SIZE, buf, IMG_SIZE);
    }

    ret = block_status(blk, 1024 * 1024, &pnum);
    g_assert_cmpint(ret, >=, 0);
    g_assert_true(ret & BDRV_BLOCK_ZERO);
    g_assert_false(ret & BDRV_BLOCK_DATA);
    g_assert_cmpint(pnum, >=, 1024 * 1024);
    /* Zeroing without MAY_UNMAP keeps the range allocated (or not). */
    ret = block_status(blk, 0, &pnum);
    g_assert_true(ret & BDRV_BLOCK_DATA);
    g_assert_cmpint(pnum, >=, 64 * 1024);
    g_assert_cmpint(pnum, <=, 1024 * 1024);
    close_image(blk);
    unlink(path);
}

static void test_discard(gconstpointer opaque)
{
    const Config *cfg = opaque;
    g_autofree char *path = make_image_for(cfg, IMG_SIZE);
    g_autofree uint8_t *buf = g_malloc(1024 * 1024);
    g_autofree uint8_t *got = g_malloc(1024 * 1024);
    BlockBackend *blk;
    int64_t pnum;
    int ret;

    /* discard=ignore (the default): a no-op that succeeds. */
    blk = open_image(cfg, path, NULL);
    if (!blk) {
        return;
    }
    g_assert_false(blk_supports_discard(blk));
    memset(buf, 0x3c, 1024 * 1024);
    g_assert_cmpint(blk_pwrite(blk, 0, 1024 * 1024, buf, 0), ==, 0);
    g_assert_cmpint(blk_pdiscard(blk, 0, 1024 * 1024), ==, 0);
    g_assert_cmpint(blk_pread(blk, 0, 1024 * 1024, got, 0), ==, 0);
    g_assert_cmpmem(got, 1024 * 1024, buf, 1024 * 1024);
    close_image(blk);

    /* discard=unmap: punches a hole, which reads as zeroes. */
    blk = open_image(cfg, path, "discard=unmap");
    g_assert_true(blk_supports_discard(blk));
    g_assert_true(blk_supports_fast_zero(blk));
    g_assert_cmpint(blk_pdiscard(blk, 256 * 1024, 512 * 1024), ==, 0);
    g_assert_cmpint(blk_pread(blk, 0, 1024 * 1024, got, 0), ==, 0);
    memset(buf + 256 * 1024, 0, 512 * 1024);
    g_assert_cmpmem(got, 1024 * 1024, buf, 1024 * 1024);
    ret = block_status(blk, 256 * 1024, &pnum);
    g_assert_true(ret & BDRV_BLOCK_ZERO);
    g_assert_true(ret & BDRV_BLOCK_ALLOCATED);
    g_assert_cmpint(pnum, ==, 512 * 1024);
    /* Out of bounds and read-only checks still apply. */
    g_assert_cmpint(blk_pdiscard(blk, IMG_SIZE, 4096), ==, -EIO);
    g_assert_cmpint(blk_pdiscard(blk, -1, 4096), ==, -EINVAL);
    close_image(blk);
    unlink(path);
}

static void test_block_status(gconstpointer opaque)
{
    const Config *cfg = opaque;
    g_autofree char *path = make_image_for(cfg, IMG_SIZE);
    BlockBackend *blk = open_image(cfg, path, NULL);
    g_autofree uint8_t *buf = g_malloc(64 * 1024);
    int64_t pnum, map;
    int ret;

    if (!blk) {
        return;
    }
    memset(buf, 1, 64 * 1024);
    g_assert_cmpint(blk_pwrite(blk, 1024 * 1024, 64 * 1024, buf, 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);

    ret = blk_block_status(blk, 0, IMG_SIZE, &pnum, &map);
    if ((ret & BDRV_BLOCK_DATA) && pnum == IMG_SIZE) {
        g_test_skip("the file system does not report holes");
        close_image(blk);
        return;
    }
    g_assert_cmpint(ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO), ==,
                    BDRV_BLOCK_ZERO);
    g_assert_true(ret & BDRV_BLOCK_OFFSET_VALID);
    g_assert_cmpint(pnum, ==, 1024 * 1024);
    g_assert_cmpint(map, ==, 0);

    ret = blk_block_status(blk, 1024 * 1024, IMG_SIZE, &pnum, &map);
    g_assert_true(ret & BDRV_BLOCK_DATA);
    g_assert_true(ret & BDRV_BLOCK_ALLOCATED);
    g_assert_false(ret & BDRV_BLOCK_ZERO);
    g_assert_cmpint(pnum, ==, 64 * 1024);
    g_assert_cmpint(map, ==, 1024 * 1024);

    /* Limited by @bytes. */
    ret = blk_block_status(blk, 1024 * 1024, 4096, &pnum, NULL);
    g_assert_true(ret & BDRV_BLOCK_DATA);
    g_assert_cmpint(pnum, ==, 4096);

    ret = blk_block_status(blk, 1024 * 1024 + 64 * 1024, IMG_SIZE, &pnum,
                           NULL);
    g_assert_true(ret & BDRV_BLOCK_ZERO);
    g_assert_true(ret & BDRV_BLOCK_EOF);
    g_assert_cmpint(pnum, ==, IMG_SIZE - 1024 * 1024 - 64 * 1024);

    /* At the end: nothing left. */
    ret = blk_block_status(blk, IMG_SIZE, 4096, &pnum, NULL);
    g_assert_true(ret & BDRV_BLOCK_EOF);
    g_assert_cmpint(pnum, ==, 0);
    g_assert_cmpint(blk_block_status(blk, IMG_SIZE + 1, 1, &pnum, NULL), ==,
                    -EIO);
    close_image(blk);
    unlink(path);
}

static void test_truncate(gconstpointer opaque)
{
    const Config *cfg = opaque;
    g_autofree char *path = make_image_for(cfg, IMG_SIZE);
    BlockBackend *blk = open_image(cfg, path, NULL);
    g_autofree uint8_t *buf = g_malloc(8192);
    Error *err = NULL;
    struct stat st;

    if (!blk) {
        return;
    }
    g_assert_cmpint(blk_truncate(blk, 2 * IMG_SIZE, true, PREALLOC_MODE_OFF,
                                 0, &error_abort), ==, 0);
    g_assert_cmpint(blk_getlength(blk), ==, 2 * IMG_SIZE);
    g_assert_cmpint(stat(path, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 2 * IMG_SIZE);
    memset(buf, 0xee, 8192);
    g_assert_cmpint(blk_pwrite(blk, 2 * IMG_SIZE - 8192, 8192, buf, 0), ==,
                    0);
    memset(buf, 0, 8192);
    g_assert_cmpint(blk_pread(blk, 2 * IMG_SIZE - 8192, 8192, buf, 0), ==,
                    0);
    g_assert_cmpint(buf[0], ==, 0xee);
    g_assert_cmpint(buf[8191], ==, 0xee);

    g_assert_cmpint(blk_truncate(blk, IMG_SIZE / 2, true, PREALLOC_MODE_OFF,
                                 0, &error_abort), ==, 0);
    g_assert_cmpint(blk_getlength(blk), ==, IMG_SIZE / 2);
    g_assert_cmpint(blk_pread(blk, IMG_SIZE / 2 - 4096, 8192, buf, 0), ==,
                    -EIO);
    g_assert_cmpint(blk_pread(blk, IMG_SIZE / 2 - 8192, 8192, buf, 0), ==,
                    0);
    g_assert_cmpint(blk_truncate(blk, -1, true, PREALLOC_MODE_OFF, 0, &err),
                    ==, -EINVAL);
    error_free_or_abort(&err);
    g_assert_cmpint(blk_truncate(blk, IMG_SIZE, true, PREALLOC_MODE_FALLOC,
                                 0, &error_abort), ==, 0);
    g_assert_cmpint(blk_getlength(blk), ==, IMG_SIZE);
    close_image(blk);
    unlink(path);
}

static void test_fua_flush(gconstpointer opaque)
{
    const Config *cfg = opaque;
    g_autofree char *path = make_image_for(cfg, IMG_SIZE);
    BlockBackend *blk = open_image(cfg, path, NULL);
    g_autofree uint8_t *buf = g_malloc(65536);
    g_autofree uint8_t *got = g_malloc(65536);

    if (!blk) {
        return;
    }
    g_assert_true(blk_supports_flush(blk));
    fill_pattern(buf, 65536, 42);
    g_assert_cmpint(blk_pwrite(blk, 8192, 65536, buf, BDRV_REQ_FUA), ==, 0);
    /* Unaligned FUA write goes through read-modify-write. */
    g_assert_cmpint(blk_pwrite(blk, 100, 1000, buf, BDRV_REQ_FUA), ==, 0);
    blk_set_enable_write_cache(blk, false);
    g_assert_cmpint(blk_pwrite(blk, 200000, 65536, buf, 0), ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    g_assert_cmpint(blk_pread(blk, 8192, 65536, got, 0), ==, 0);
    g_assert_cmpmem(got, 65536, buf, 65536);
    g_assert_cmpint(blk_pread(blk, 100, 1000, got, 0), ==, 0);
    g_assert_cmpmem(got, 1000, buf, 1000);
    g_assert_cmpint(blk_pread(blk, 200000, 65536, got, 0), ==, 0);
    g_assert_cmpmem(got, 65536, buf, 65536);
    close_image(blk);
    unlink(path);
}

static void test_read_only(void)
{
    g_autofree char *path = make_image(IMG_SIZE);
    BlockDriverState *bs = bdrv_open(path, NULL, NULL, 0, &error_abort);
    Error *err = NULL;
    BlockBackend *blk;
    uint8_t buf[512] = { 0 };

    g_assert_true(bdrv_is_read_only(bs));
    g_assert_null(blk_new_with_bs(bs, true, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Block node is read-only");
    error_free_or_abort(&err);

    blk = blk_new_with_bs(bs, false, &error_abort);
    bdrv_unref(bs);
    g_assert_true(blk_is_read_only(blk));
    g_assert_cmpint(blk_pread(blk, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, -EPERM);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 512, 0), ==, -EPERM);
    g_assert_cmpint(blk_pdiscard(blk, 0, 512), ==, -EPERM);
    g_assert_cmpint(blk_truncate(blk, 0, true, PREALLOC_MODE_OFF, 0, &err),
                    ==, -EPERM);
    error_free_or_abort(&err);
    close_image(blk);

    /* A read-only BlockBackend on a writable node. */
    blk = blk_new_open(path, NULL, NULL, BDRV_O_RDWR, &error_abort);
    g_assert_true(blk_is_writable(blk));
    bs = blk_bs(blk);
    {
        BlockBackend *ro = blk_new_with_bs(bs, false, &error_abort);

        g_assert_cmpint(blk_pwrite(ro, 0, 512, buf, 0), ==, -EPERM);
        g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, 0);
        blk_unref(ro);
    }
    /* Writes below the BlockBackend to a read-only node are refused too. */
    bs->read_only = true;
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, -EPERM);
    bs->read_only = false;
    close_image(blk);
    unlink(path);
}

static void test_bounds(void)
{
    g_autofree char *path = make_image(IMG_SIZE);
    BlockBackend *blk = blk_new_open(path, NULL, NULL, BDRV_O_RDWR,
                                     &error_abort);
    g_autofree uint8_t *buf = g_malloc0(8192);

    g_assert_cmpint(blk_pread(blk, IMG_SIZE - 512, 1024, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pwrite(blk, IMG_SIZE, 1, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_pwrite_zeroes(blk, IMG_SIZE - 1, 2, 0), ==, -EIO);
    g_assert_cmpint(blk_pread(blk, -512, 512, buf, 0), ==, -EINVAL);
    g_assert_cmpint(blk_pread(blk, 0, -1, buf, 0), ==, -EINVAL);
    g_assert_cmpint(blk_pwrite(blk, INT64_MAX - 10, 100, buf, 0), ==, -EIO);
    /* The last byte and empty requests at the end are fine. */
    g_assert_cmpint(blk_pread(blk, IMG_SIZE - 1, 1, buf, 0), ==, 0);
    g_assert_cmpint(blk_pread(blk, IMG_SIZE, 0, buf, 0), ==, 0);
    /* Prefetch (NBD CACHE) checks bounds and reads nothing. */
    g_assert_cmpint(blk_preadv(blk, 0, 4096, NULL, BDRV_REQ_PREFETCH), ==, 0);
    g_assert_cmpint(blk_preadv(blk, IMG_SIZE, 4096, NULL, BDRV_REQ_PREFETCH),
                    ==, -EIO);
    close_image(blk);
    unlink(path);
}

static void test_null_co(void)
{
    g_autoptr(KeyVal) kv = keyval_parse("driver=null-co,size=1M", NULL,
                                        &error_abort);
    BlockDriverState *bs = bdrv_open_blockdev(kv, &error_abort);
    BlockBackend *blk = blk_new_with_bs(bs, true, &error_abort);
    g_autofree uint8_t *buf = g_malloc(65536);
    g_autoptr(KeyVal) kv2 = NULL;
    int64_t pnum;
    int ret;

    bdrv_unref(bs);
    g_assert_cmpint(blk_getlength(blk), ==, 1024 * 1024);
    memset(buf, 0xaa, 65536);
    g_assert_cmpint(blk_pread(blk, 4096, 65536, buf, 0), ==, 0);
    g_assert_true(buffer_is_zero(buf, 65536));
    g_assert_cmpint(blk_pwrite(blk, 0, 65536, buf, BDRV_REQ_FUA), ==, 0);
    g_assert_cmpint(blk_pwrite_zeroes(blk, 0, 65536, BDRV_REQ_NO_FALLBACK),
                    ==, 0);
    g_assert_cmpint(blk_flush(blk), ==, 0);
    ret = blk_block_status(blk, 0, 1024 * 1024, &pnum, NULL);
    g_assert_true(ret & BDRV_BLOCK_ZERO);
    g_assert_true(ret & BDRV_BLOCK_EOF);
    g_assert_cmpint(pnum, ==, 1024 * 1024);
    g_assert_cmpint(blk_pread(blk, 1024 * 1024 - 1, 2, buf, 0), ==, -EIO);
    close_image(blk);

    /* read-zeroes=off leaves the buffer alone. */
    kv2 = keyval_parse("driver=null-co,read-zeroes=off", NULL, &error_abort);
    bs = bdrv_open_blockdev(kv2, &error_abort);
    blk = blk_new_with_bs(bs, false, &error_abort);
    bdrv_unref(bs);
    g_assert_cmpint(blk_getlength(blk), ==, 1024 * 1024 * 1024);
    memset(buf, 0xaa, 65536);
    g_assert_cmpint(blk_pread(blk, 0, 65536, buf, 0), ==, 0);
    g_assert_cmpint(buf[0], ==, 0xaa);
    close_image(blk);

    /* The null-co:// file name through bdrv_open(): raw over null-co. */
    blk = blk_new_open("null-co://", NULL, NULL, 0, &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(blk_bs(blk)), ==, "raw");
    g_assert_cmpstr(bdrv_get_format_name(bdrv_get_file(blk_bs(blk))), ==,
                    "null-co");
    close_image(blk);
}

typedef struct InlineRead {
    BlockBackend *blk;
    int64_t len;
    uint8_t *buf;
    int ret;
    bool done;
} InlineRead;

static void coroutine_fn inline_read_co(void *opaque)
{
    InlineRead *r = opaque;

    r->ret = blk_co_pread(r->blk, 8192, r->len, r->buf, 0);
    r->done = true;
}

/* Reads @len bytes at 8192 in a coroutine; returns whether it yielded. */
static bool read_yields(BlockBackend *blk, int64_t len, uint8_t *buf)
{
    InlineRead r = { .blk = blk, .len = len, .buf = buf,
                     .ret = -EINPROGRESS };

    qemu_coroutine_enter(qemu_coroutine_create(inline_read_co, &r));
    if (r.done) {
        g_assert_cmpint(r.ret, ==, 0);
        return false;
    }
    while (!r.done) {
        aio_poll(qemu_get_aio_context(), true);
    }
    g_assert_cmpint(r.ret, ==, 0);
    return true;
}

/*
 * On tmpfs a small read is done by the time its coroutine first returns
 * (no trip through the ring or the thread pool); elsewhere, and for a big
 * read on tmpfs too, it waits for one.
 */
static void test_inline(gconstpointer opaque)
{
    const Config *cfg = opaque;
    g_autofree char *path = make_image_for(cfg, IMG_SIZE);
    BlockBackend *blk = open_image(cfg, path, NULL);
    const int64_t big = 1024 * 1024;
    g_autofree uint8_t *wbuf = g_malloc(big);
    uint8_t *rbuf;

    if (!blk) {
        return;
    }
    rbuf = blk_blockalign(blk, big);
    fill_pattern(wbuf, big, 77);
    g_assert_cmpint(blk_pwrite(blk, 8192, big, wbuf, 0), ==, 0);
    g_assert_cmpint(read_yields(blk, 4096, rbuf), ==, !cfg->shm);
    g_assert_cmpmem(rbuf, 4096, wbuf, 4096);
    memset(rbuf, 0, big);
    g_assert_true(read_yields(blk, big, rbuf));
    g_assert_cmpmem(rbuf, big, wbuf, big);
    qemu_vfree(rbuf);
    close_image(blk);
    unlink(path);
}

static void add_config_tests(const char *name, GTestDataFunc fn)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(configs); i++) {
        g_autofree char *path = g_strdup_printf(
            "/block/io/raw-file%s/%s/%s/%s", configs[i].shm ? "-shm" : "",
            configs[i].aio, configs[i].direct ? "none" : "writeback", name);

        g_test_add_data_func(path, &configs[i], fn);
    }
}

int main(int argc, char **argv)
{
    struct statfs fs;
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    tmp_dir = g_dir_make_tmp("test-block-io-XXXXXX", NULL);
    g_assert_nonnull(tmp_dir);
    if (statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
        shm_dir = g_mkdtemp(g_strdup("/dev/shm/test-block-io-XXXXXX"));
    }

    add_config_tests("rw", test_rw);
    add_config_tests("unaligned-rmw", test_unaligned_rmw);
    add_config_tests("zeroes", test_zeroes);
    add_config_tests("discard", test_discard);
    add_config_tests("block-status", test_block_status);
    add_config_tests("truncate", test_truncate);
    add_config_tests("fua-flush", test_fua_flush);
    add_config_tests("inline", test_inline);
    g_test_add_func("/block/io/read-only", test_read_only);
    g_test_add_func("/block/io/bounds", test_bounds);
    g_test_add_func("/block/io/null-co", test_null_co);

    ret = g_test_run();
    rmdir(tmp_dir);
    g_free(tmp_dir);
    if (shm_dir) {
        rmdir(shm_dir);
        g_free(shm_dir);
    }
    return ret;
}
