/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * --blockdev / --image-opts option strings: parsing into a node graph,
 * inheritance of common options, references to existing nodes, and one
 * case per error.
 */
#include "qemu/osdep.h"
#include "block/block_int.h"
#include "sysemu/block-backend.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

static char *tmp_dir;
static char *img;

/* Opens @fmt (a printf format whose "%s" is the image path). */
static BlockDriverState *open_str(const char *str, Error **errp)
{
    g_autofree char *full = g_strdup_printf(str, img);
    g_autoptr(KeyVal) kv = keyval_parse(full, NULL, &error_abort);

    return bdrv_open_blockdev(kv, errp);
}

/* Runs what closing left behind, then checks nothing else is left. */
static void check_clean(void)
{
    while (aio_poll(qemu_get_aio_context(), false)) {
        /* nothing */
    }
    assert_ctx_clean(qemu_get_aio_context());
    assert_no_coroutines();
}

static void expect_error(const char *str, const char *msg)
{
    Error *err = NULL;

    g_assert_null(open_str(str, &err));
    g_assert_nonnull(err);
    if (!strstr(error_get_pretty(err), msg)) {
        g_error("'%s': got '%s', want '%s'", str, error_get_pretty(err), msg);
    }
    error_free(err);
    /* A failed open leaves nothing behind. */
    g_assert_null(bdrv_find_node("n0"));
    check_clean();
}

static void test_cache_mode(void)
{
    int flags = BDRV_O_RDWR;
    bool wt;

    g_assert_cmpint(bdrv_parse_cache_mode("none", &flags, &wt), ==, 0);
    g_assert_cmpint(flags, ==, BDRV_O_RDWR | BDRV_O_NOCACHE);
    g_assert_false(wt);
    g_assert_cmpint(bdrv_parse_cache_mode("directsync", &flags, &wt), ==, 0);
    g_assert_cmpint(flags, ==, BDRV_O_RDWR | BDRV_O_NOCACHE);
    g_assert_true(wt);
    g_assert_cmpint(bdrv_parse_cache_mode("writeback", &flags, &wt), ==, 0);
    g_assert_cmpint(flags, ==, BDRV_O_RDWR);
    g_assert_false(wt);
    g_assert_cmpint(bdrv_parse_cache_mode("unsafe", &flags, &wt), ==, 0);
    g_assert_cmpint(flags, ==, BDRV_O_RDWR | BDRV_O_NO_FLUSH);
    g_assert_false(wt);
    g_assert_cmpint(bdrv_parse_cache_mode("writethrough", &flags, &wt), ==,
                    0);
    g_assert_cmpint(flags, ==, BDRV_O_RDWR);
    g_assert_true(wt);
    flags = BDRV_O_NOCACHE;
    g_assert_cmpint(bdrv_parse_cache_mode("bogus", &flags, &wt), ==, -1);
    g_assert_cmpint(flags, ==, BDRV_O_NOCACHE);

    flags = 0;
    g_assert_cmpint(bdrv_parse_discard_flags("unmap", &flags), ==, 0);
    g_assert_cmpint(flags, ==, BDRV_O_UNMAP);
    g_assert_cmpint(bdrv_parse_discard_flags("ignore", &flags), ==, 0);
    g_assert_cmpint(flags, ==, 0);
    g_assert_cmpint(bdrv_parse_discard_flags("on", &flags), ==, 0);
    g_assert_cmpint(bdrv_parse_discard_flags("off", &flags), ==, 0);
    g_assert_cmpint(bdrv_parse_discard_flags("maybe", &flags), ==, -1);
}

static void test_blockdev_graph(void)
{
    BlockDriverState *bs = open_str(
        "driver=raw,node-name=n0,file.driver=file,file.filename=%s,"
        "file.node-name=f0,file.aio=io_uring,cache.direct=on,discard=unmap",
        &error_abort);
    BlockDriverState *file = bdrv_get_file(bs);

    g_assert_true(bdrv_find_node("n0") == bs);
    g_assert_true(bdrv_find_node("f0") == file);
    g_assert_cmpstr(bdrv_get_node_name(bs), ==, "n0");
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "raw");
    g_assert_cmpstr(bdrv_get_format_name(file), ==, "file");
    g_assert_cmpstr(bdrv_get_filename(file), ==, img);
    g_assert_cmpstr(bdrv_get_filename(bs), ==, img);
    /* cache.direct and discard are inherited by the child. */
    g_assert_true(bdrv_get_flags(bs) & BDRV_O_NOCACHE);
    g_assert_true(bdrv_get_flags(file) & BDRV_O_NOCACHE);
    g_assert_true(bdrv_get_flags(file) & BDRV_O_UNMAP);
    g_assert_true(bdrv_get_flags(bs) & BDRV_O_RDWR);
    g_assert_false(bdrv_is_read_only(bs));
    g_assert_cmpint(bdrv_getlength(bs), ==, 1024 * 1024);
    bdrv_unref(bs);
    g_assert_null(bdrv_find_node("n0"));
    g_assert_null(bdrv_find_node("f0"));
    check_clean();
}

static void test_child_override_and_ro(void)
{
    BlockDriverState *bs = open_str(
        "driver=raw,read-only=on,file.driver=file,file.filename=%s,"
        "file.cache.no-flush=on", &error_abort);

    g_assert_true(bdrv_is_read_only(bs));
    g_assert_true(bdrv_is_read_only(bdrv_get_file(bs)));
    g_assert_false(bdrv_get_flags(bs) & BDRV_O_NO_FLUSH);
    g_assert_true(bdrv_get_flags(bdrv_get_file(bs)) & BDRV_O_NO_FLUSH);
    /* Generated node names. */
    g_assert_cmpint(bdrv_get_node_name(bs)[0], ==, '#');
    bdrv_unref(bs);
}

static void test_file_reference(void)
{
    BlockDriverState *file = open_str(
        "driver=file,node-name=f1,filename=%s", &error_abort);
    BlockDriverState *bs = open_str("driver=raw,node-name=r1,file=f1",
                                    &error_abort);

    g_assert_true(bdrv_get_file(bs) == file);
    bdrv_unref(file);
    /* The raw node keeps its child alive. */
    g_assert_true(bdrv_find_node("f1") == file);
    bdrv_unref(bs);
    g_assert_null(bdrv_find_node("f1"));
    expect_error("driver=raw,file=nosuchnode", "Cannot find node-name "
                 "'nosuchnode'");
}

static void test_raw_offset_size(void)
{
    BlockDriverState *bs = open_str(
        "driver=raw,offset=4096,size=8192,file.driver=file,file.filename=%s",
        &error_abort);
    BlockBackend *blk = blk_new_with_bs(bs, true, &error_abort);
    uint8_t buf[512];
    Error *err = NULL;
    int fd;

    bdrv_unref(bs);
    g_assert_cmpint(blk_getlength(blk), ==, 8192);
    memset(buf, 0x77, sizeof(buf));
    g_assert_cmpint(blk_pwrite(blk, 0, 512, buf, 0), ==, 0);
    g_assert_cmpint(blk_pwrite(blk, 8192 - 512, 512, buf, 0), ==, 0);
    g_assert_cmpint(blk_pwrite(blk, 8192, 512, buf, 0), ==, -EIO);
    g_assert_cmpint(blk_truncate(blk, 4096, true, PREALLOC_MODE_OFF, 0, &err),
                    ==, -ENOTSUP);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Cannot resize fixed-size raw disks");
    error_free(err);
    blk_unref(blk);

    /* The bytes landed at the offset in the file. */
    fd = open(img, O_RDWR);
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(pread(fd, buf, 512, 4096), ==, 512);
    g_assert_cmpint(buf[0], ==, 0x77);
    g_assert_cmpint(pread(fd, buf, 512, 4096 + 8192 - 512), ==, 512);
    g_assert_cmpint(buf[511], ==, 0x77);
    g_assert_cmpint(pread(fd, buf, 512, 4096 + 8192), ==, 512);
    g_assert_cmpint(buf[0], ==, 0);
    memset(buf, 0, sizeof(buf));
    g_assert_cmpint(pwrite(fd, buf, 512, 4096), ==, 512);
    g_assert_cmpint(pwrite(fd, buf, 512, 4096 + 8192 - 512), ==, 512);
    close(fd);

    expect_error("driver=raw,offset=4096,size=2M,file.driver=file,"
                 "file.filename=%s", "has to be smaller or equal to the "
                 "actual size of the containing file");
    expect_error("driver=raw,offset=2M,file.driver=file,file.filename=%s",
                 "cannot be greater than the size");
    expect_error("driver=raw,offset=x,file.driver=file,file.filename=%s",
                 "offset");
}

static void test_null_opts(void)
{
    BlockDriverState *bs = open_str("driver=null-co,node-name=n1,size=1M,"
                                    "read-zeroes=off,latency-ns=10",
                                    &error_abort);

    g_assert_cmpint(bdrv_getlength(bs), ==, 1024 * 1024);
    bdrv_unref(bs);
    expect_error("driver=null-co,size=huge", "size");
    expect_error("driver=null-co,read-zeroes=maybe", "read-zeroes");
}

static void test_bdrv_open(void)
{
    g_autoptr(KeyVal) opts = keyval_parse("file.aio=io_uring,discard=unmap",
                                          NULL, &error_abort);
    BlockDriverState *bs;
    Error *err = NULL;

    bs = bdrv_open(img, NULL, opts, BDRV_O_RDWR | BDRV_O_NOCACHE,
                   &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "raw");
    g_assert_true(bdrv_get_flags(bdrv_get_file(bs)) & BDRV_O_NOCACHE);
    g_assert_true(bdrv_get_flags(bdrv_get_file(bs)) & BDRV_O_UNMAP);
    bdrv_unref(bs);

    /* A protocol as the format: just that node. */
    bs = bdrv_open(img, "file", NULL, 0, &error_abort);
    g_assert_cmpstr(bdrv_get_format_name(bs), ==, "file");
    g_assert_null(bdrv_get_file(bs));
    bdrv_unref(bs);

    /*
     * BDRV_O_IO_URING chooses aio=io_uring: a handler appears; where the
     * kernel refuses io_uring, the node falls back to the thread pool.
     */
    bs = bdrv_open(img, NULL, NULL, BDRV_O_IO_URING, &error_abort);
    g_assert_cmpuint(aio_context_handler_count(qemu_get_aio_context()), ==,
                     test_io_uring_refusal() ? 0 : 1);
    bdrv_unref(bs);
    check_clean();

    g_assert_null(bdrv_open(img, "vmdk", NULL, 0, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Unknown driver 'vmdk'");
    error_free(err);
    err = NULL;
    /* A raw file opened as qcow2: the driver says what is wrong. */
    g_assert_null(bdrv_open(img, "qcow2", NULL, 0, &err));
    g_assert_nonnull(strstr(error_get_pretty(err),
                            "Image is not in qcow2 format"));
    error_free(err);
    err = NULL;
    g_assert_null(bdrv_open("/nonexistent/x.img", NULL, NULL, 0, &err));
    g_assert_nonnull(strstr(error_get_pretty(err),
                            "Could not open '/nonexistent/x.img'"));
    error_free(err);
    err = NULL;
    g_assert_null(bdrv_open("null-co://x", NULL, NULL, 0, &err));
    g_assert_nonnull(err);
    error_free(err);
}

static void test_errors(void)
{
    expect_error("node-name=n0", "Parameter 'driver' is missing");
    expect_error("driver=vmdk,node-name=n0", "Unknown driver 'vmdk'");
    expect_error("driver=qcow2,node-name=n0",
                 "A block device must be specified for \"file\"");
    expect_error("driver=raw,node-name=n0,file.driver=file,"
                 "file.filename=%s,foo=bar", "Invalid parameter 'foo'");
    expect_error("driver=raw,node-name=n0,file.driver=file,"
                 "file.filename=%s,file.bogus=1",
                 "Invalid parameter 'file.bogus'");
    expect_error("driver=raw,node-name=n0,file.driver=file,"
                 "file.filename=%s,file.aio=native",
                 "not supported, use io_uring");
    expect_error("driver=raw,node-name=n0,file.driver=file,"
                 "file.filename=%s,file.aio=fast", "aio");
    expect_error("driver=raw,node-name=n0,file.driver=file,"
                 "file.filename=%s,file.locking=sometimes", "locking");
    expect_error("driver=raw,node-name=n0,file.driver=file",
                 "Parameter 'filename' is missing");
    expect_error("driver=raw,node-name=n0", "A block device must be "
                 "specified for \"file\"");
    expect_error("driver=file,node-name=n0,filename=%s,discard=sometimes",
                 "Invalid discard option");
    expect_error("driver=file,node-name=n0,filename=%s,read-only=perhaps",
                 "read-only");
    expect_error("driver=file,node-name=n0,filename=%s,force-share=on",
                 "force-share=on can only be used with read-only images");
    expect_error("driver=file,node-name=0bad,filename=%s",
                 "Invalid node-name: '0bad'");
    expect_error("driver=file,node-name=n0,filename=/nonexistent/x.img",
                 "Could not open '/nonexistent/x.img'");
    expect_error("driver=file,node-name=n0,filename=/tmp",
                 "s a directory");
    expect_error("driver=null-co,node-name=n0,filename=%s",
                 "Invalid parameter 'filename'");

    /* Duplicate node names. */
    {
        BlockDriverState *bs = open_str("driver=null-co,node-name=dup",
                                        &error_abort);
        Error *err = NULL;

        g_assert_null(open_str("driver=null-co,node-name=dup", &err));
        g_assert_cmpstr(error_get_pretty(err), ==,
                        "Duplicate nodes with node-name='dup'");
        error_free(err);
        bdrv_unref(bs);
    }
}

/* Tool flags fill in what --image-opts leaves out, and only that. */
static void test_options_from_flags(void)
{
    g_autoptr(KeyVal) kv = keyval_parse(
        "driver=raw,file.driver=null-co,cache.direct=off", NULL,
        &error_abort);
    g_autoptr(KeyVal) none = keyval_parse("driver=null-co", NULL,
                                          &error_abort);

    bdrv_options_from_flags(kv, BDRV_O_NOCACHE | BDRV_O_UNMAP,
                            BDRV_FILL_READ_ONLY | BDRV_FILL_CACHE |
                            BDRV_FILL_DISCARD | BDRV_FILL_FORCE_SHARE);
    g_assert_cmpstr(keyval_get(kv, BDRV_OPT_READ_ONLY), ==, "on");
    /* The image's own option wins over -t none. */
    g_assert_cmpstr(keyval_get(kv, BDRV_OPT_CACHE_DIRECT), ==, "off");
    g_assert_cmpstr(keyval_get(kv, BDRV_OPT_CACHE_NO_FLUSH), ==, "off");
    g_assert_cmpstr(keyval_get(kv, BDRV_OPT_DISCARD), ==, "unmap");
    g_assert_cmpstr(keyval_get(kv, BDRV_OPT_FORCE_SHARE), ==, "on");
    g_assert_cmpstr(keyval_get(kv, "file.driver"), ==, "null-co");

    /* Nothing asked for: nothing added. */
    bdrv_options_from_flags(none, BDRV_O_NOCACHE | BDRV_O_NO_FLUSH, 0);
    g_assert_false(keyval_has(none, BDRV_OPT_READ_ONLY));
    g_assert_false(keyval_has(none, BDRV_OPT_CACHE_DIRECT));
    g_assert_false(keyval_has(none, BDRV_OPT_DISCARD));
    bdrv_options_from_flags(none, BDRV_O_NOCACHE | BDRV_O_NO_FLUSH,
                            BDRV_FILL_CACHE | BDRV_FILL_DISCARD);
    g_assert_cmpstr(keyval_get(none, BDRV_OPT_CACHE_DIRECT), ==, "on");
    g_assert_cmpstr(keyval_get(none, BDRV_OPT_CACHE_NO_FLUSH), ==, "on");
    g_assert_cmpstr(keyval_get(none, BDRV_OPT_DISCARD), ==, "ignore");
    g_assert_false(keyval_has(none, BDRV_OPT_READ_ONLY));
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    tmp_dir = g_dir_make_tmp("test-blockdev-opts-XXXXXX", NULL);
    img = make_test_image(tmp_dir, "opts.raw", 1024 * 1024);

    g_test_add_func("/blockdev/opts/cache-mode", test_cache_mode);
    g_test_add_func("/blockdev/opts/graph", test_blockdev_graph);
    g_test_add_func("/blockdev/opts/child-override",
                    test_child_override_and_ro);
    g_test_add_func("/blockdev/opts/file-reference", test_file_reference);
    g_test_add_func("/blockdev/opts/raw-offset-size", test_raw_offset_size);
    g_test_add_func("/blockdev/opts/null-co", test_null_opts);
    g_test_add_func("/blockdev/opts/bdrv-open", test_bdrv_open);
    g_test_add_func("/blockdev/opts/errors", test_errors);
    g_test_add_func("/blockdev/opts/options-from-flags",
                    test_options_from_flags);

    ret = g_test_run();
    unlink(img);
    rmdir(tmp_dir);
    g_free(img);
    g_free(tmp_dir);
    return ret;
}
