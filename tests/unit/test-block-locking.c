/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Image locking: two writers never share an image; readers may share it
 * with each other; force-share readers may join a writer; locking=off
 * disables the check.
 */
#include "qemu/osdep.h"
#include "block/block.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

#include <sys/wait.h>

static char *tmp_dir;
static char *img;

static BlockDriverState *open_img(int flags, const char *extra, Error **errp)
{
    g_autoptr(KeyVal) opts = NULL;

    if (extra) {
        opts = keyval_parse(extra, NULL, &error_abort);
    }
    return bdrv_open(img, NULL, opts, flags, errp);
}

static void check_lock_error(Error *err, const char *lock)
{
    g_autofree char *want = g_strdup_printf("Failed to get %s lock", lock);
    g_autofree char *hint = g_strdup_printf("Is another process using the "
                                            "image [%s]?\n", img);

    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, want);
    g_assert_cmpstr(error_get_hint(err), ==, hint);
}

static void test_two_writers(void)
{
    BlockDriverState *w1 = open_img(BDRV_O_RDWR, NULL, &error_abort);
    Error *err = NULL;

    g_assert_null(open_img(BDRV_O_RDWR, NULL, &err));
    check_lock_error(err, "\"write\"");
    error_free(err);
    bdrv_unref(w1);

    /* Once the first writer is gone, the image is free again. */
    w1 = open_img(BDRV_O_RDWR, NULL, &error_abort);
    bdrv_unref(w1);
    assert_ctx_clean(qemu_get_aio_context());
}

static void test_two_readers(void)
{
    BlockDriverState *r1 = open_img(0, NULL, &error_abort);
    BlockDriverState *r2 = open_img(0, NULL, &error_abort);

    bdrv_unref(r1);
    bdrv_unref(r2);
}

static void test_reader_and_writer(void)
{
    BlockDriverState *r, *w;
    Error *err = NULL;

    /* A reader needs consistent data: no writer may come in... */
    r = open_img(0, NULL, &error_abort);
    g_assert_null(open_img(BDRV_O_RDWR, NULL, &err));
    check_lock_error(err, "\"write\"");
    error_free(err);
    err = NULL;
    bdrv_unref(r);

    /* ...nor may it join one, unless it asks for force-share. */
    w = open_img(BDRV_O_RDWR, NULL, &error_abort);
    g_assert_null(open_img(0, NULL, &err));
    check_lock_error(err, "shared \"write\"");
    error_free(err);
    r = open_img(0, "force-share=on", &error_abort);
    bdrv_unref(r);
    bdrv_unref(w);
}

static void test_locking_off(void)
{
    BlockDriverState *w1 = open_img(BDRV_O_RDWR, "file.locking=off",
                                    &error_abort);
    BlockDriverState *w2 = open_img(BDRV_O_RDWR, "file.locking=off",
                                    &error_abort);

    bdrv_unref(w1);
    bdrv_unref(w2);
}

/* Another process holding the write lock is seen too. */
static void test_other_process(void)
{
    int to_child[2], to_parent[2];
    Error *err = NULL;
    pid_t pid;
    char c;
    int status;

    g_assert_cmpint(pipe(to_child), ==, 0);
    g_assert_cmpint(pipe(to_parent), ==, 0);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        BlockDriverState *w = open_img(BDRV_O_RDWR, NULL, NULL);

        c = w ? 'y' : 'n';
        if (write(to_parent[1], &c, 1) != 1 || read(to_child[0], &c, 1) < 0) {
            _exit(1);
        }
        _exit(0);
    }
    g_assert_cmpint(read(to_parent[0], &c, 1), ==, 1);
    g_assert_cmpint(c, ==, 'y');
    g_assert_null(open_img(BDRV_O_RDWR, NULL, &err));
    check_lock_error(err, "\"write\"");
    error_free(err);
    g_assert_cmpint(write(to_child[1], "x", 1), ==, 1);
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(to_child[0]);
    close(to_child[1]);
    close(to_parent[0]);
    close(to_parent[1]);
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);
    tmp_dir = g_dir_make_tmp("test-block-locking-XXXXXX", NULL);
    img = make_test_image(tmp_dir, "locked.raw", 1024 * 1024);

    g_test_add_func("/block/locking/two-writers", test_two_writers);
    g_test_add_func("/block/locking/two-readers", test_two_readers);
    g_test_add_func("/block/locking/reader-and-writer",
                    test_reader_and_writer);
    g_test_add_func("/block/locking/off", test_locking_off);
    g_test_add_func("/block/locking/other-process", test_other_process);

    ret = g_test_run();
    unlink(img);
    rmdir(tmp_dir);
    g_free(img);
    g_free(tmp_dir);
    return ret;
}
