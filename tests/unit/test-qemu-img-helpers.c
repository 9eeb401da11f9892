/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the helpers qemu-io and qemu-img share (sizes, numbers and
 * times as qemu-io prints them, patterns, hex dumps) and of qemu-io
 * sessions run in-process on a temporary raw image.
 */
#include "qemu/osdep.h"

#include "qemu-io.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "test-util.h"

static void test_cvtnum(void)
{
    g_assert_cmpint(qemuio_cvtnum("0"), ==, 0);
    g_assert_cmpint(qemuio_cvtnum("512"), ==, 512);
    g_assert_cmpint(qemuio_cvtnum("64k"), ==, 65536);
    g_assert_cmpint(qemuio_cvtnum("64K"), ==, 65536);
    g_assert_cmpint(qemuio_cvtnum("1M"), ==, 1048576);
    g_assert_cmpint(qemuio_cvtnum("3G"), ==, 3LL << 30);
    g_assert_cmpint(qemuio_cvtnum("1.5k"), ==, 1536);
    g_assert_cmpint(qemuio_cvtnum("0x1000"), ==, 4096);
    g_assert_cmpint(qemuio_cvtnum("x"), ==, -EINVAL);
    g_assert_cmpint(qemuio_cvtnum("-1"), ==, -EINVAL);
    g_assert_cmpint(qemuio_cvtnum("12q"), ==, -EINVAL);
    g_assert_cmpint(qemuio_cvtnum(""), ==, -EINVAL);
    g_assert_cmpint(qemuio_cvtnum("8E"), ==, -ERANGE);
    g_assert_cmpint(qemuio_cvtnum("99999999999999999999"), ==, -ERANGE);
}

static void check_cvtstr(double v, const char *want)
{
    g_autofree char *got = qemuio_cvtstr(v);

    g_assert_cmpstr(got, ==, want);
}

static void test_cvtstr(void)
{
    check_cvtstr(0, "0 bytes");
    check_cvtstr(1, "1 bytes");
    check_cvtstr(512, "512 bytes");
    check_cvtstr(1023, "1023 bytes");
    check_cvtstr(1024, "1 KiB");
    check_cvtstr(1536, "1.500 KiB");
    check_cvtstr(4096, "4 KiB");
    check_cvtstr(1000000, "976.562 KiB");
    check_cvtstr(1048576, "1 MiB");
    check_cvtstr(17616076.8, "16.800 MiB");
    check_cvtstr(3.0 * (1 << 30), "3 GiB");
    check_cvtstr(1024.0 * 1024 * 1024 * 1024, "1 TiB");
    check_cvtstr(2.0 * (1ULL << 60), "2 EiB");
}

static void check_timestr(int64_t us, bool machine, const char *want)
{
    g_autofree char *got = qemuio_timestr(us, machine);

    g_assert_cmpstr(got, ==, want);
}

static void test_timestr(void)
{
    check_timestr(0, false, "00.00 sec");
    check_timestr(1234, false, "00.00 sec");
    check_timestr(5000, false, "00.01 sec");
    check_timestr(12340000, false, "12.34 sec");
    check_timestr(62500000, false, "01:02.50");
    check_timestr(3723000000LL, false, "1:02:03.00");
    check_timestr(0, true, "0:00:00.00");
    check_timestr(12340000, true, "0:00:12.34");
}

static void test_pattern(void)
{
    int saved = dup(STDOUT_FILENO);
    int devnull = open("/dev/null", O_WRONLY);

    g_assert_cmpint(qemuio_parse_pattern("0"), ==, 0);
    g_assert_cmpint(qemuio_parse_pattern("0xab"), ==, 0xab);
    g_assert_cmpint(qemuio_parse_pattern("255"), ==, 255);
    g_assert_cmpint(qemuio_parse_pattern("010"), ==, 8);

    /* The failures print a message: keep it out of the TAP stream. */
    fflush(stdout);
    dup2(devnull, STDOUT_FILENO);
    g_assert_cmpint(qemuio_parse_pattern("0x1ff"), ==, -1);
    g_assert_cmpint(qemuio_parse_pattern("256"), ==, -1);
    g_assert_cmpint(qemuio_parse_pattern("-1"), ==, -1);
    g_assert_cmpint(qemuio_parse_pattern("x"), ==, -1);
    g_assert_cmpint(qemuio_parse_pattern(""), ==, -1);
    g_assert_cmpint(qemuio_parse_pattern("12abc"), ==, -1);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    close(devnull);
}

static void test_dump(void)
{
    const char data[] = "Hello, world! 0123456789abcdefghijklmnop\0\0\0\0";
    g_autofree char *dump = qemuio_format_dump(data, 0, 45);
    uint8_t ab[40];
    g_autofree char *dump2 = NULL;
    g_autofree char *empty = qemuio_format_dump(data, 0, 0);

    g_assert_cmpstr(dump, ==,
        "00000000:  48 65 6c 6c 6f 2c 20 77 6f 72 6c 64 21 20 30 31  "
        "Hello..world..01\n"
        "00000010:  32 33 34 35 36 37 38 39 61 62 63 64 65 66 67 68  "
        "23456789abcdefgh\n"
        "00000020:  69 6a 6b 6c 6d 6e 6f 70 00 00 00 00 00  "
        "ijklmnop.....\n");

    memset(ab, 0, 6);
    memset(ab + 6, 0xab, 34);
    dump2 = qemuio_format_dump(ab, 65530, 40);
    g_assert_cmpstr(dump2, ==,
        "0000fffa:  00 00 00 00 00 00 ab ab ab ab ab ab ab ab ab ab  "
        "................\n"
        "0001000a:  ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab ab  "
        "................\n"
        "0001001a:  ab ab ab ab ab ab ab ab  ........\n");
    g_assert_cmpstr(empty, ==, "");
}

static void test_mismatch(void)
{
    uint8_t buf[4096];

    memset(buf, 0x5a, sizeof(buf));
    g_assert_cmpint(qemuio_find_mismatch(buf, 0x5a, sizeof(buf)), ==, -1);
    g_assert_cmpint(qemuio_find_mismatch(buf, 0x5a, 0), ==, -1);
    buf[4095] = 0;
    g_assert_cmpint(qemuio_find_mismatch(buf, 0x5a, sizeof(buf)), ==, 4095);
    g_assert_cmpint(qemuio_find_mismatch(buf, 0x5a, 4095), ==, -1);
    buf[0] = 1;
    g_assert_cmpint(qemuio_find_mismatch(buf, 0x5a, sizeof(buf)), ==, 0);
}

/* Sessions: commands run in-process, with stdout silenced */

typedef struct SessionFixture {
    char *dir;
    char *path;
    int saved_stdout;
} SessionFixture;

static void session_setup(SessionFixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp("test-qemu-img-XXXXXX", NULL);
    g_assert_nonnull(f->dir);
    f->path = make_test_image(f->dir, "disk.raw", 1 << 20);
    fflush(stdout);
    f->saved_stdout = dup(STDOUT_FILENO);
    g_assert_true(freopen("/dev/null", "w", stdout) != NULL);
}

static void session_teardown(SessionFixture *f, gconstpointer data)
{
    fflush(stdout);
    dup2(f->saved_stdout, STDOUT_FILENO);
    close(f->saved_stdout);
    assert_ctx_clean(qemu_get_aio_context());
    assert_no_coroutines();
    unlink(f->path);
    rmdir(f->dir);
    g_free(f->path);
    g_free(f->dir);
}

static QemuIOSession *open_session(const char *path, bool read_only)
{
    QemuIOOpenOptions o = { .format = "raw", .read_only = read_only };
    QemuIOSession *s = qemuio_session_new();

    g_assert_true(qemuio_open(s, path, &o, &error_abort));
    return s;
}

static void test_session_pattern(SessionFixture *f, gconstpointer data)
{
    QemuIOSession *s = open_session(f->path, false);
    uint8_t buf[4096];
    int fd;

    g_assert_true(qemuio_command(s, "write -P 0xab 64k 64k"));
    g_assert_true(qemuio_command(s, "read -P 0xab 64k 64k"));
    g_assert_true(qemuio_command(s, "read -q -P 0 0 64k"));
    /* A mismatch fails the command. */
    g_assert_false(qemuio_command(s, "read -P 0xab 60k 8k"));
    g_assert_true(qemuio_command(s, "read -P 0xab -s 4k -l 4k 60k 8k"));
    g_assert_true(qemuio_command(s, "writev -P 0x11 256k 512 1k 3584"));
    g_assert_true(qemuio_command(s, "readv -P 0x11 256k 4k"));
    g_assert_true(qemuio_command(s, "write -z 64k 4k"));
    g_assert_true(qemuio_command(s, "read -P 0 64k 4k"));
    g_assert_true(qemuio_command(s, "flush"));
    qemuio_session_free(s);

    /* The data reached the file. */
    fd = open(f->path, O_RDONLY);
    g_assert_cmpint(pread(fd, buf, 4096, 68 * 1024), ==, 4096);
    g_assert_cmpint(qemuio_find_mismatch(buf, 0xab, 4096), ==, -1);
    g_assert_cmpint(pread(fd, buf, 4096, 256 * 1024), ==, 4096);
    g_assert_cmpint(qemuio_find_mismatch(buf, 0x11, 4096), ==, -1);
    g_assert_cmpint(pread(fd, buf, 4096, 64 * 1024), ==, 4096);
    g_assert_cmpint(qemuio_find_mismatch(buf, 0, 4096), ==, -1);
    close(fd);
}

static void test_session_aio(SessionFixture *f, gconstpointer data)
{
    QemuIOSession *s = open_session(f->path, false);

    for (int i = 0; i < 16; i++) {
        g_autofree char *cmd = g_strdup_printf("aio_write -P %d %dk 4k",
                                               i + 1, i * 4);

        g_assert_true(qemuio_command(s, cmd));
    }
    g_assert_true(qemuio_command(s, "aio_flush"));
    for (int i = 0; i < 16; i++) {
        g_autofree char *cmd = g_strdup_printf("read -q -P %d %dk 4k",
                                               i + 1, i * 4);

        g_assert_true(qemuio_command(s, cmd));
    }
    /* Requests still running when the session ends are waited for. */
    g_assert_true(qemuio_command(s, "aio_read -P 1 0 4k"));
    g_assert_true(qemuio_command(s, "aio_write -z 512k 64k"));
    qemuio_session_free(s);
}

static void test_session_misuse(SessionFixture *f, gconstpointer data)
{
    QemuIOSession *s = qemuio_session_new();
    QemuIOOpenOptions o = { .format = "raw" };
    Error *err = NULL;

    /* No image open yet. */
    g_assert_false(qemuio_command(s, "read 0 512"));
    g_assert_false(qemuio_command(s, "nosuchcommand"));
    g_assert_true(qemuio_command(s, ""));
    g_assert_true(qemuio_command(s, "help"));
    g_assert_false(qemuio_open(s, "/nonexistent/disk.raw", &o, &err));
    g_assert_nonnull(err);
    error_free(err);
    qemuio_session_free(s);

    s = open_session(f->path, true);
    g_assert_false(qemuio_command(s, "write 0 512"));
    g_assert_false(qemuio_command(s, "read"));
    g_assert_false(qemuio_command(s, "read 0"));
    g_assert_false(qemuio_command(s, "read x 512"));
    g_assert_false(qemuio_command(s, "read 0 3G"));
    g_assert_false(qemuio_command(s, "read -P 0x1ff 0 512"));
    g_assert_false(qemuio_command(s, "read -l 5 0 512"));
    g_assert_false(qemuio_command(s, "read -P 0 -l 2000 0 512"));
    g_assert_false(qemuio_command(s, "read 1M 512"));
    g_assert_false(qemuio_command(s, "read -Z 0 512"));
    g_assert_true(qemuio_command(s, "length"));
    g_assert_true(qemuio_command(s, "map"));
    g_assert_true(qemuio_command(s, "close"));
    g_assert_false(qemuio_command(s, "close"));
    {
        g_autofree char *cmd = g_strdup_printf("open -r -o driver=raw %s",
                                               f->path);

        g_assert_false(qemuio_command(s, "open"));
        g_assert_true(qemuio_command(s, cmd));
        g_assert_false(qemuio_command(s, cmd));
        g_assert_true(qemuio_command(s, "read -P 0 0 4k"));
    }
    g_assert_true(qemuio_command(s, "quit"));
    g_assert_true(qemuio_quit_requested(s));
    qemuio_session_free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);

    g_test_add_func("/qemu-io/helpers/cvtnum", test_cvtnum);
    g_test_add_func("/qemu-io/helpers/cvtstr", test_cvtstr);
    g_test_add_func("/qemu-io/helpers/timestr", test_timestr);
    g_test_add_func("/qemu-io/helpers/pattern", test_pattern);
    g_test_add_func("/qemu-io/helpers/dump", test_dump);
    g_test_add_func("/qemu-io/helpers/mismatch", test_mismatch);
    g_test_add("/qemu-io/session/pattern", SessionFixture, NULL,
               session_setup, test_session_pattern, session_teardown);
    g_test_add("/qemu-io/session/aio", SessionFixture, NULL,
               session_setup, test_session_aio, session_teardown);
    g_test_add("/qemu-io/session/misuse", SessionFixture, NULL,
               session_setup, test_session_misuse, session_teardown);
    return g_test_run();
}
