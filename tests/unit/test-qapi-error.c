/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of Error (qapi/error.h) and the user reports of
 * qemu/error-report.h. Aborting and exiting paths run in subprocesses.
 */
#include "qemu/osdep.h"

#include <sys/wait.h>

#include "qapi/error.h"
#include "qemu/error-report.h"

/*
 * In a test's subprocess: runs @fn in a child process and prints on
 * stdout how it ended ("exit=N" or "signal=N"), which the test then
 * checks (GLib does not give the status of a trapped subprocess).
 */
static void run_and_print_status(void (*fn)(void))
{
    int status;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    g_assert_cmpint(pid, >=, 0);
    if (pid == 0) {
        fn();
        _exit(0);
    }
    g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
    if (WIFEXITED(status)) {
        printf("exit=%d\n", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        printf("signal=%d\n", WTERMSIG(status));
    }
}

/* A callee that fails with a hint, as real code does. */
static bool fail_with_hint(int n, Error **errp)
{
    ERRP_GUARD();

    error_setg(errp, "device %d is broken", n);
    error_append_hint(errp, "Try device %d instead.\n", n + 1);
    return false;
}

static bool succeed(Error **errp)
{
    return true;
}

/*
 * A caller that reads *errp after a callee, the reason ERRP_GUARD()
 * exists; it adds context to the callee's error.
 */
static bool guarded_caller(bool callee_fails, Error **errp)
{
    ERRP_GUARD();

    if (callee_fails) {
        fail_with_hint(7, errp);
    } else {
        succeed(errp);
    }
    if (*errp) {
        error_prepend(errp, "while probing: ");
        return false;
    }
    return true;
}

static void test_setg(void)
{
    Error *err = NULL;

    error_setg(&err, "disk '%s' is %d bytes short", "d0", 512);
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "disk 'd0' is 512 bytes short");
    g_assert_null(error_get_hint(err));
    error_free(err);

    /* A NULL errp drops the error. */
    error_setg(NULL, "nobody hears %s", "this");
    error_free(NULL);
}

static void test_setg_errno(void)
{
    g_autofree char *expected = g_strdup_printf("Could not open 'x': %s",
                                                g_strerror(ENOENT));
    Error *err = NULL;

    error_setg_errno(&err, ENOENT, "Could not open '%s'", "x");
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    error_free(err);
    err = NULL;

    /* A negative errno, as block functions return them. */
    error_setg_errno(&err, -ENOENT, "Could not open '%s'", "x");
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    error_free(err);
    err = NULL;

    /* Zero adds nothing. */
    error_setg_errno(&err, 0, "plain");
    g_assert_cmpstr(error_get_pretty(err), ==, "plain");
    error_free(err);
    err = NULL;

    error_setg_file_open(&err, ENOENT, "x");
    g_assert_cmpstr(error_get_pretty(err), ==, expected);
    error_free(err);
}

static void test_propagate(void)
{
    Error *dst = NULL;
    Error *local = NULL;

    /* A NULL local error changes nothing. */
    error_propagate(&dst, NULL);
    g_assert_null(dst);

    error_setg(&local, "first");
    error_propagate(&dst, local);
    g_assert_cmpstr(error_get_pretty(dst), ==, "first");

    /* The destination keeps its first error; the second is freed. */
    local = NULL;
    error_setg(&local, "second");
    error_propagate(&dst, local);
    g_assert_cmpstr(error_get_pretty(dst), ==, "first");
    error_free_or_abort(&dst);
    g_assert_null(dst);

    /* Into NULL: freed (the sanitizer build checks for the leak). */
    local = NULL;
    error_setg(&local, "dropped");
    error_propagate(NULL, local);
}

static void test_propagate_prepend(void)
{
    Error *dst = NULL;
    Error *local = NULL;

    error_setg(&local, "no space left");
    error_propagate_prepend(&dst, local, "export '%s': ", "e1");
    g_assert_cmpstr(error_get_pretty(dst), ==, "export 'e1': no space left");
    error_free(dst);

    local = NULL;
    error_setg(&local, "dropped");
    error_propagate_prepend(NULL, local, "ctx: ");
    error_propagate_prepend(&dst, NULL, "ctx: ");
}

static void test_prepend(void)
{
    Error *err = NULL;

    /* Nothing to prepend to: no effect, no crash. */
    error_prepend(NULL, "a: ");
    error_prepend(&err, "a: ");
    g_assert_null(err);

    error_setg(&err, "base");
    error_prepend(&err, "inner %d: ", 1);
    error_prepend(&err, "outer: ");
    g_assert_cmpstr(error_get_pretty(err), ==, "outer: inner 1: base");
    error_free(err);
}

static void test_hint_and_copy(void)
{
    Error *err = NULL;
    Error *copy;

    g_assert_false(fail_with_hint(3, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "device 3 is broken");
    g_assert_cmpstr(error_get_hint(err), ==, "Try device 4 instead.\n");
    error_append_hint(&err, "Or reboot.\n");

    copy = error_copy(err);
    error_free(err);
    g_assert_cmpstr(error_get_pretty(copy), ==, "device 3 is broken");
    g_assert_cmpstr(error_get_hint(copy), ==,
                    "Try device 4 instead.\nOr reboot.\n");
    error_free(copy);

    /* A hint with no error, or a NULL errp, is ignored. */
    error_append_hint(NULL, "ignored\n");
    err = NULL;
    error_append_hint(&err, "ignored\n");
    g_assert_null(err);
}

static void test_autoptr(void)
{
    g_autoptr(Error) err = NULL;

    error_setg(&err, "freed at scope end");
    g_assert_cmpstr(error_get_pretty(err), ==, "freed at scope end");
}

static void test_errp_guard_null(void)
{
    /* *errp is readable inside although the caller passed NULL. */
    g_assert_false(guarded_caller(true, NULL));
    g_assert_true(guarded_caller(false, NULL));
}

static void test_errp_guard_local(void)
{
    Error *err = NULL;

    g_assert_true(guarded_caller(false, &err));
    g_assert_null(err);

    g_assert_false(guarded_caller(true, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "while probing: device 7 is broken");
    /* The hint made it through the guard. */
    g_assert_cmpstr(error_get_hint(err), ==, "Try device 8 instead.\n");
    error_free(err);
}

static void guard_fatal_child(void)
{
    error_set_progname("/usr/bin/guard-prog");
    g_assert_true(guarded_caller(false, &error_fatal));
    guarded_caller(true, &error_fatal);
    g_assert_not_reached();
}

static void test_errp_guard_fatal(void)
{
    if (g_test_subprocess()) {
        run_and_print_status(guard_fatal_child);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    /* The prefix added after the callee failed, and the hint, survive. */
    g_test_trap_assert_stderr("guard-prog: while probing: device 7 is "
                              "broken\nTry device 8 instead.\n");
    g_test_trap_assert_stdout("exit=1\n");
}

static void fatal_child(void)
{
    error_set_progname("fatal-prog");
    error_setg(&error_fatal, "cannot go on: %s", "no disk");
    g_assert_not_reached();
}

static void test_error_fatal(void)
{
    if (g_test_subprocess()) {
        run_and_print_status(fatal_child);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("fatal-prog: cannot go on: no disk\n");
    /* exit(1), not a signal */
    g_test_trap_assert_stdout("exit=1\n");
}

static void fatal_propagate_child(void)
{
    Error *local = NULL;

    error_set_progname("fatal-prog");
    error_setg(&local, "late failure");
    error_propagate_prepend(&error_fatal, local, "job '%s': ", "j1");
    g_assert_not_reached();
}

static void test_error_fatal_propagate(void)
{
    if (g_test_subprocess()) {
        run_and_print_status(fatal_propagate_child);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("fatal-prog: job 'j1': late failure\n");
    g_test_trap_assert_stdout("exit=1\n");
}

static void abort_child(void)
{
    error_set_progname("abort-prog");
    error_setg(&error_abort, "impossible state %d", 42);
    g_assert_not_reached();
}

static void test_error_abort(void)
{
    if (g_test_subprocess()) {
        run_and_print_status(abort_child);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    /* The message, and where the error was made. */
    g_test_trap_assert_stderr("Unexpected error at *test-qapi-error.c:*"
                              " in abort_child():\n"
                              "abort-prog: impossible state 42\n");
    g_test_trap_assert_stdout("signal=6\n");
}

static void abort_propagate_child(void)
{
    Error *local = NULL;

    error_set_progname("abort-prog");
    fail_with_hint(1, &local);
    error_propagate(&error_abort, local);
    g_assert_not_reached();
}

static void test_error_abort_propagate(void)
{
    if (g_test_subprocess()) {
        run_and_print_status(abort_propagate_child);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    /* The location is the callee's, where the error was made. */
    g_test_trap_assert_stderr("Unexpected error at *test-qapi-error.c:* "
                              "in fail_with_hint():\n"
                              "abort-prog: device 1 is broken\n"
                              "Try device 2 instead.\n");
    g_test_trap_assert_stdout("signal=6\n");
}

static void test_report_format(void)
{
    if (g_test_subprocess()) {
        Error *err = NULL;

        error_set_progname("/some/dir/qemu-nbd");
        error_report("export '%s' not found", "d1");
        warn_report("slow %s", "disk");
        info_report("ready");
        error_printf("raw %d\n", 5);

        error_setg(&err, "boom");
        error_append_hint(&err, "hint line\n");
        error_report_err(err);

        err = NULL;
        error_setg(&err, "base");
        error_reportf_err(err, "ctx %d: ", 2);

        err = NULL;
        error_setg(&err, "meh");
        warn_reportf_err(err, "w: ");
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("qemu-nbd: export 'd1' not found\n"
                              "qemu-nbd: warning: slow disk\n"
                              "qemu-nbd: info: ready\n"
                              "raw 5\n"
                              "qemu-nbd: boom\n"
                              "hint line\n"
                              "qemu-nbd: ctx 2: base\n"
                              "qemu-nbd: warning: w: meh\n");
    g_test_trap_assert_stdout("");
}

static void test_report_timestamp(void)
{
    if (g_test_subprocess()) {
        error_set_progname("ts-prog");
        error_with_timestamp = true;
        warn_report("tick");
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("2*-*-*T*:*:*.*Z ts-prog: warning: tick\n");
}

static void report_twice(int n)
{
    error_report_once("once %d", n);
    warn_report_once("warn once %d", n);
}

static void test_report_once(void)
{
    if (g_test_subprocess()) {
        error_set_progname("once-prog");
        for (int i = 0; i < 3; i++) {
            report_twice(i);
        }
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stderr("once-prog: once 0\n"
                              "once-prog: warning: warn once 0\n");
}

static void test_free_or_abort_empty(void)
{
    if (g_test_subprocess()) {
        Error *err = NULL;

        error_free_or_abort(&err);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_failed();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qapi/error/setg", test_setg);
    g_test_add_func("/qapi/error/setg-errno", test_setg_errno);
    g_test_add_func("/qapi/error/propagate", test_propagate);
    g_test_add_func("/qapi/error/propagate-prepend", test_propagate_prepend);
    g_test_add_func("/qapi/error/prepend", test_prepend);
    g_test_add_func("/qapi/error/hint-and-copy", test_hint_and_copy);
    g_test_add_func("/qapi/error/autoptr", test_autoptr);
    g_test_add_func("/qapi/error/errp-guard/null", test_errp_guard_null);
    g_test_add_func("/qapi/error/errp-guard/local", test_errp_guard_local);
    g_test_add_func("/qapi/error/errp-guard/fatal", test_errp_guard_fatal);
    g_test_add_func("/qapi/error/fatal", test_error_fatal);
    g_test_add_func("/qapi/error/fatal-propagate",
                    test_error_fatal_propagate);
    g_test_add_func("/qapi/error/abort", test_error_abort);
    g_test_add_func("/qapi/error/abort-propagate",
                    test_error_abort_propagate);
    g_test_add_func("/qapi/error/free-or-abort-empty",
                    test_free_or_abort_empty);
    g_test_add_func("/qemu/error-report/format", test_report_format);
    g_test_add_func("/qemu/error-report/timestamp", test_report_timestamp);
    g_test_add_func("/qemu/error-report/once", test_report_once);
    return g_test_run();
}
