/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Trace core: the registry and its patterns, the --trace option (every
 * form and each misuse), the log line format, whole lines from many
 * threads, and a generated event (util's aio_co_schedule) end to end.
 */
#include "qemu/osdep.h"
#include "block/aio.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/trace-control.h"
#include "test-util.h"

static bool dstate_alpha_one;
static bool dstate_alpha_two;
static bool dstate_beta_one;
static bool dstate_gamma;

static TraceEvent test_events[] = {
    { "test_alpha_one", &dstate_alpha_one },
    { "test_alpha_two", &dstate_alpha_two },
    { "test_beta_one", &dstate_beta_one },
    { "test_gamma", &dstate_gamma },
    { NULL, NULL },
};

static char *tmpdir;

/* Every test starts with all events off and the log on stderr. */
static void reset(void)
{
    trace_enable_events("-*");
    g_assert_true(trace_set_output_file(NULL, &error_abort));
}

static char *tmp_path(const char *name)
{
    return g_build_filename(tmpdir, name, NULL);
}

static char *read_file(const char *path)
{
    char *contents = NULL;

    g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    return contents;
}

static void write_file(const char *path, const char *contents)
{
    g_assert_true(g_file_set_contents(path, contents, -1, NULL));
}

static void test_registered(void)
{
    /* Generated tables register from constructors, before main(). */
    g_assert_nonnull(trace_event_find("aio_co_schedule"));
    g_assert_nonnull(trace_event_find("qio_channel_socket_accept"));
    g_assert_nonnull(trace_event_find("test_gamma"));
    g_assert_null(trace_event_find("test_"));
    g_assert_null(trace_event_find("no_such_event"));
}

static void test_pattern_exact(void)
{
    reset();
    g_assert_cmpuint(trace_enable_events("test_alpha_one"), ==, 1);
    g_assert_true(dstate_alpha_one);
    g_assert_false(dstate_alpha_two);
    g_assert_true(trace_event_get_state("test_alpha_one"));
    g_assert_false(trace_event_get_state("test_alpha_two"));
    g_assert_false(trace_event_get_state("no_such_event"));
}

static void test_pattern_glob(void)
{
    reset();
    g_assert_cmpuint(trace_enable_events("test_alpha_*"), ==, 2);
    g_assert_true(dstate_alpha_one && dstate_alpha_two);
    g_assert_false(dstate_beta_one || dstate_gamma);

    reset();
    g_assert_cmpuint(trace_enable_events("test_*_one"), ==, 2);
    g_assert_true(dstate_alpha_one && dstate_beta_one);
    g_assert_false(dstate_alpha_two || dstate_gamma);

    reset();
    g_assert_cmpuint(trace_enable_events("test_[bg]*"), ==, 2);
    g_assert_true(dstate_beta_one && dstate_gamma);

    reset();
    g_assert_cmpuint(trace_enable_events("test_gamm?"), ==, 1);
    g_assert_true(dstate_gamma);

    /* A pattern matches the whole name, not a part of it. */
    reset();
    g_assert_cmpuint(trace_enable_events("alpha"), ==, 0);
    g_assert_cmpuint(trace_enable_events("test_alpha"), ==, 0);
    g_assert_false(dstate_alpha_one || dstate_alpha_two);
    g_assert_cmpuint(trace_enable_events(""), ==, 0);
    g_assert_cmpuint(trace_enable_events("-"), ==, 0);
}

static void test_pattern_disable(void)
{
    reset();
    g_assert_cmpuint(trace_enable_events("test_*"), ==, 4);
    g_assert_cmpuint(trace_enable_events("-test_alpha_*"), ==, 2);
    g_assert_false(dstate_alpha_one || dstate_alpha_two);
    g_assert_true(dstate_beta_one && dstate_gamma);
    /* Everything, including the generated events, and off again. */
    g_assert_cmpuint(trace_enable_events("*"), >, 4);
    g_assert_true(trace_event_get_state("aio_co_schedule"));
    trace_enable_events("-*");
    g_assert_false(trace_event_get_state("aio_co_schedule"));
    g_assert_false(dstate_gamma);
}

static void test_opt_forms(void)
{
    g_autofree char *events = tmp_path("events");
    g_autofree char *log = tmp_path("opt.log");
    g_autofree char *arg = NULL;
    g_autofree char *contents = NULL;

    /* Implied key. */
    reset();
    g_assert_true(trace_opt_parse("test_alpha_*", &error_abort));
    g_assert_true(dstate_alpha_one && dstate_alpha_two);

    /* enable= */
    reset();
    g_assert_true(trace_opt_parse("enable=test_gamma", &error_abort));
    g_assert_true(dstate_gamma);
    g_assert_false(dstate_alpha_one);

    /* events=: one pattern per line, comments, blanks, '-' to disable */
    reset();
    write_file(events, "# a comment\n\n  test_alpha_*  \n-test_alpha_two\n"
               "test_beta_one");
    arg = g_strdup_printf("events=%s", events);
    g_assert_true(trace_opt_parse(arg, &error_abort));
    g_assert_true(dstate_alpha_one && dstate_beta_one);
    g_assert_false(dstate_alpha_two || dstate_gamma);
    g_clear_pointer(&arg, g_free);

    /* All three at once; the log goes to the file. */
    reset();
    write_file(events, "test_beta_one\n");
    arg = g_strdup_printf("enable=test_gamma,events=%s,file=%s", events,
                          log);
    g_assert_true(trace_opt_parse(arg, &error_abort));
    g_assert_true(dstate_gamma && dstate_beta_one);
    trace_log_event("test_gamma", "hello %s", "file");
    contents = read_file(log);
    g_assert_nonnull(strstr(contents, ":test_gamma hello file\n"));
    g_clear_pointer(&arg, g_free);

    /* A pattern that matches nothing is a warning, not an error. */
    reset();
    g_assert_true(trace_opt_parse("no_such_event_*", &error_abort));
    reset();
}

static void test_opt_errors(void)
{
    g_autofree char *missing = tmp_path("missing-events");
    g_autofree char *arg = NULL;
    Error *err = NULL;

    reset();
    g_assert_false(trace_opt_parse("enable=test_gamma,bogus=1", &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "Invalid parameter "
                            "'bogus'"));
    error_free(err);
    err = NULL;

    g_assert_false(trace_opt_parse("enable=", &err));
    g_assert_nonnull(err);
    error_free(err);
    err = NULL;

    g_assert_false(trace_opt_parse("enable=a,enable=b", &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "more than once"));
    error_free(err);
    err = NULL;

    arg = g_strdup_printf("events=%s", missing);
    g_assert_false(trace_opt_parse(arg, &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "missing-events"));
    error_free(err);
    err = NULL;

    g_assert_false(trace_opt_parse("file=/nonexistent-dir/trace.log", &err));
    g_assert_nonnull(strstr(error_get_pretty(err), "/nonexistent-dir/"));
    error_free(err);
    err = NULL;

    g_assert_false(trace_set_output_file("/nonexistent-dir/x", &err));
    error_free(err);
    err = NULL;

    /* A failed option enabled nothing. */
    g_assert_false(dstate_gamma);
}

static void test_opt_help(void)
{
    if (g_test_subprocess()) {
        trace_opt_parse("help", &error_abort);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
    g_test_trap_assert_stdout("*test_alpha_one\n*");
    g_test_trap_assert_stdout("*aio_co_schedule\n*");
}

static void test_log_format(void)
{
    g_autofree char *log = tmp_path("format.log");
    g_autofree char *contents = NULL;
    g_autoptr(GRegex) re = NULL;

    reset();
    g_assert_true(trace_set_output_file(log, &error_abort));
    trace_log_event("test_alpha_one", "off %" PRIu64 " len %u", (uint64_t)4096,
                    512u);
    trace_log_event("test_gamma", "%s", "second");
    trace_set_output_file(NULL, &error_abort);
    contents = read_file(log);
    re = g_regex_new("^[0-9]+@[0-9]+\\.[0-9]{6}:test_alpha_one off 4096 "
                     "len 512\n[0-9]+@[0-9]+\\.[0-9]{6}:test_gamma second\n$",
                     0, 0, NULL);
    g_assert_true(g_regex_match(re, contents, 0, NULL));
    g_assert_cmpint(atoi(contents), ==, getpid());
}

#define LOG_THREADS 4
#define LOG_LINES 500

static gpointer log_thread(gpointer opaque)
{
    int id = GPOINTER_TO_INT(opaque);

    for (int i = 0; i < LOG_LINES; i++) {
        trace_log_event("test_beta_one", "thread %d line %d %s", id, i,
                        "padding-padding-padding-padding-padding-padding");
    }
    return NULL;
}

static void test_log_threads(void)
{
    g_autofree char *log = tmp_path("threads.log");
    g_autofree char *contents = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GRegex) re = NULL;
    GThread *threads[LOG_THREADS];
    int seen[LOG_THREADS] = { 0 };
    size_t n;

    reset();
    g_assert_true(trace_set_output_file(log, &error_abort));
    for (int i = 0; i < LOG_THREADS; i++) {
        threads[i] = g_thread_new("log", log_thread, GINT_TO_POINTER(i));
    }
    for (int i = 0; i < LOG_THREADS; i++) {
        g_thread_join(threads[i]);
    }
    trace_set_output_file(NULL, &error_abort);

    contents = read_file(log);
    lines = g_strsplit(contents, "\n", -1);
    n = g_strv_length(lines);
    g_assert_cmpuint(n, ==, LOG_THREADS * LOG_LINES + 1);
    g_assert_cmpstr(lines[n - 1], ==, "");
    re = g_regex_new("^[0-9]+@[0-9]+\\.[0-9]{6}:test_beta_one thread "
                     "([0-9]) line ([0-9]+) padding(-padding){5}$", 0, 0,
                     NULL);
    for (size_t i = 0; i + 1 < n; i++) {
        g_autoptr(GMatchInfo) m = NULL;
        g_autofree char *tid = NULL;
        g_autofree char *line = NULL;
        int t;

        g_assert_true(g_regex_match(re, lines[i], 0, &m));
        tid = g_match_info_fetch(m, 1);
        line = g_match_info_fetch(m, 2);
        t = atoi(tid);
        g_assert_cmpint(t, <, LOG_THREADS);
        /* Each thread's lines come in order. */
        g_assert_cmpint(atoi(line), ==, seen[t]);
        seen[t]++;
    }
}

static void coroutine_fn noop_co(void *opaque)
{
    *(bool *)opaque = true;
}

/* The generated inline trace_aio_co_schedule() writes when enabled only. */
static void test_generated_event(void)
{
    g_autofree char *log = tmp_path("generated.log");
    g_autofree char *contents = NULL;
    g_autofree char *expect = NULL;
    AioContext *ctx = aio_context_new(&error_abort);
    bool done = false;
    Coroutine *co;

    reset();
    g_assert_true(trace_set_output_file(log, &error_abort));
    co = qemu_coroutine_create(noop_co, &done);
    aio_co_schedule(ctx, co);
    g_assert_true(poll_until(ctx, &done, 5));

    g_assert_cmpuint(trace_enable_events("aio_co_schedule"), ==, 1);
    done = false;
    co = qemu_coroutine_create(noop_co, &done);
    expect = g_strdup_printf(":aio_co_schedule ctx %p co %p\n", (void *)ctx,
                             (void *)co);
    aio_co_schedule(ctx, co);
    g_assert_true(poll_until(ctx, &done, 5));
    trace_set_output_file(NULL, &error_abort);
    reset();

    contents = read_file(log);
    g_assert_nonnull(strstr(contents, expect));
    /* One line: the first schedule happened while the event was off. */
    g_assert_cmpstr(strchr(contents, '\n') + 1, ==, "");
    aio_poll(ctx, false);
    assert_ctx_clean(ctx);
    aio_context_unref(ctx);
    assert_no_coroutines();
}

int main(int argc, char **argv)
{
    int ret;

    g_test_init(&argc, &argv, NULL);
    trace_event_register_group("test", test_events);
    tmpdir = g_dir_make_tmp("test-trace-XXXXXX", NULL);
    g_assert_nonnull(tmpdir);

    g_test_add_func("/trace/registry/constructors", test_registered);
    g_test_add_func("/trace/pattern/exact", test_pattern_exact);
    g_test_add_func("/trace/pattern/glob", test_pattern_glob);
    g_test_add_func("/trace/pattern/disable", test_pattern_disable);
    g_test_add_func("/trace/opt/forms", test_opt_forms);
    g_test_add_func("/trace/opt/errors", test_opt_errors);
    g_test_add_func("/trace/opt/help", test_opt_help);
    g_test_add_func("/trace/log/format", test_log_format);
    g_test_add_func("/trace/log/threads", test_log_threads);
    g_test_add_func("/trace/log/generated-event", test_generated_event);
    ret = g_test_run();

    {
        g_autoptr(GDir) dir = g_dir_open(tmpdir, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir))) {
            g_autofree char *path = g_build_filename(tmpdir, name, NULL);

            unlink(path);
        }
        rmdir(tmpdir);
        g_free(tmpdir);
    }
    return ret;
}
