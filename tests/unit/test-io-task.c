/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOTask tests: synchronous completion, errors, result pointers, and
 * tasks run in a worker thread that complete in a chosen GMainContext.
 */
#include "qemu/osdep.h"
#include "io/task.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"

typedef struct TaskState {
    int completions;        /* callback runs */
    int destroys;           /* opaque destroy runs */
    int worker_runs;
    int worker_destroys;
    int result_frees;
    GThread *callback_thread;
    GThread *worker_thread;
    Object *source_seen;
    char *error_text;       /* of the error the callback got */
    char *result_text;      /* the result pointer the callback saw */
} TaskState;

static void task_state_clear(TaskState *ts)
{
    g_free(ts->error_text);
    g_free(ts->result_text);
}

static void task_done(QIOTask *task, gpointer opaque)
{
    TaskState *ts = opaque;
    Error *err = NULL;
    char *result;

    ts->completions++;
    ts->callback_thread = g_thread_self();
    ts->source_seen = qio_task_get_source(task);
    if (qio_task_propagate_error(task, &err)) {
        ts->error_text = g_strdup(error_get_pretty(err));
        error_free(err);
    }
    result = qio_task_get_result_pointer(task);
    if (result) {
        ts->result_text = g_strdup(result);
    }
}

static void task_destroy(gpointer opaque)
{
    TaskState *ts = opaque;

    ts->destroys++;
}

static void result_free(gpointer opaque)
{
    /* The result is a string whose first byte we mark as freed. */
    char *s = opaque;

    s[0] = '#';
}

static Object *new_source(void)
{
    return object_new(TYPE_CONTAINER);
}

static void test_task_complete(void)
{
    Object *src = new_source();
    TaskState ts = { 0 };
    QIOTask *task;

    g_assert_cmpuint(src->ref, ==, 1);
    task = qio_task_new(src, task_done, &ts, task_destroy);
    /* The task keeps its source alive. */
    g_assert_cmpuint(src->ref, ==, 2);
    g_assert_true(qio_task_get_source(task) == src);
    qio_task_complete(task);

    g_assert_cmpint(ts.completions, ==, 1);
    g_assert_cmpint(ts.destroys, ==, 1);
    g_assert_true(ts.source_seen == src);
    g_assert_true(ts.callback_thread == g_thread_self());
    g_assert_null(ts.error_text);
    g_assert_null(ts.result_text);
    g_assert_cmpuint(src->ref, ==, 1);
    object_unref(src);
    task_state_clear(&ts);
}

static void test_task_no_source(void)
{
    TaskState ts = { 0 };
    QIOTask *task = qio_task_new(NULL, task_done, &ts, NULL);

    qio_task_complete(task);
    g_assert_cmpint(ts.completions, ==, 1);
    g_assert_null(ts.source_seen);
}

static void test_task_error(void)
{
    Object *src = new_source();
    TaskState ts = { 0 };
    QIOTask *task = qio_task_new(src, task_done, &ts, task_destroy);
    Error *err = NULL;

    g_assert_false(qio_task_propagate_error(task, NULL));
    error_setg(&err, "first failure");
    qio_task_set_error(task, err);
    err = NULL;
    error_setg(&err, "second failure");
    qio_task_set_error(task, err);      /* dropped: the first one wins */
    qio_task_set_error(task, NULL);     /* nothing */

    /* Propagating copies: the callback still sees it. */
    err = NULL;
    g_assert_true(qio_task_propagate_error(task, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "first failure");
    error_free(err);

    qio_task_complete(task);
    g_assert_cmpint(ts.completions, ==, 1);
    g_assert_cmpint(ts.destroys, ==, 1);
    g_assert_cmpstr(ts.error_text, ==, "first failure");
    object_unref(src);
    task_state_clear(&ts);
}

static void test_task_result_pointer(void)
{
    TaskState ts = { 0 };
    QIOTask *task = qio_task_new(NULL, task_done, &ts, task_destroy);
    char first[] = "first";
    char second[] = "second";

    qio_task_set_result_pointer(task, first, result_free);
    g_assert_true(qio_task_get_result_pointer(task) == first);
    /* Replacing frees the old result. */
    qio_task_set_result_pointer(task, second, result_free);
    g_assert_cmpint(first[0], ==, '#');
    g_assert_cmpint(second[0], ==, 's');
    qio_task_complete(task);
    g_assert_cmpstr(ts.result_text, ==, "second");
    g_assert_cmpint(second[0], ==, '#');
    g_assert_cmpint(ts.destroys, ==, 1);
    task_state_clear(&ts);
}

typedef struct WorkerArg {
    TaskState *ts;
    bool fail;
    int sleep_ms;
} WorkerArg;

static void task_worker(QIOTask *task, gpointer opaque)
{
    WorkerArg *arg = opaque;

    g_usleep(arg->sleep_ms * 1000);
    qatomic_inc(&arg->ts->worker_runs);
    arg->ts->worker_thread = g_thread_self();
    if (arg->fail) {
        Error *err = NULL;

        error_setg(&err, "worker failed on purpose");
        qio_task_set_error(task, err);
    } else {
        qio_task_set_result_pointer(task, g_strdup("made by the worker"),
                                    g_free);
    }
}

static void worker_arg_free(gpointer opaque)
{
    WorkerArg *arg = opaque;

    qatomic_inc(&arg->ts->worker_destroys);
    g_free(arg);
}

static void run_thread_task(bool fail)
{
    GMainContext *ctx = g_main_context_new();
    Object *src = new_source();
    TaskState ts = { 0 };
    WorkerArg *arg = g_new0(WorkerArg, 1);
    QIOTask *task;
    int64_t end;

    arg->ts = &ts;
    arg->fail = fail;
    arg->sleep_ms = 20;
    task = qio_task_new(src, task_done, &ts, task_destroy);
    qio_task_run_in_thread(task, task_worker, arg, worker_arg_free, ctx);

    /* The default context never completes it. */
    while (!qatomic_read(&ts.worker_destroys)) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmpint(ts.completions, ==, 0);

    end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
    while (!ts.completions && g_get_monotonic_time() < end) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_assert_cmpint(ts.completions, ==, 1);
    g_assert_cmpint(ts.destroys, ==, 1);
    g_assert_cmpint(qatomic_read(&ts.worker_runs), ==, 1);
    g_assert_cmpint(qatomic_read(&ts.worker_destroys), ==, 1);
    g_assert_true(ts.callback_thread == g_thread_self());
    g_assert_true(ts.worker_thread != g_thread_self());
    g_assert_true(ts.source_seen == src);
    if (fail) {
        g_assert_cmpstr(ts.error_text, ==, "worker failed on purpose");
        g_assert_null(ts.result_text);
    } else {
        g_assert_null(ts.error_text);
        g_assert_cmpstr(ts.result_text, ==, "made by the worker");
    }
    /* Nothing is left in the context. */
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpuint(src->ref, ==, 1);
    object_unref(src);
    g_main_context_unref(ctx);
    task_state_clear(&ts);
}

static void test_task_thread(void)
{
    run_thread_task(false);
}

static void test_task_thread_error(void)
{
    run_thread_task(true);
}

static void test_task_thread_default_context(void)
{
    TaskState ts = { 0 };
    WorkerArg *arg = g_new0(WorkerArg, 1);
    QIOTask *task = qio_task_new(NULL, task_done, &ts, task_destroy);
    int64_t end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    arg->ts = &ts;
    qio_task_run_in_thread(task, task_worker, arg, worker_arg_free, NULL);
    while (!ts.completions && g_get_monotonic_time() < end) {
        main_loop_wait(false);
    }
    g_assert_cmpint(ts.completions, ==, 1);
    g_assert_cmpstr(ts.result_text, ==, "made by the worker");
    g_assert_true(ts.callback_thread == g_thread_self());
    task_state_clear(&ts);
}

static void test_task_wait_thread(void)
{
    GMainContext *ctx = g_main_context_new();
    TaskState ts = { 0 };
    WorkerArg *arg = g_new0(WorkerArg, 1);
    QIOTask *task = qio_task_new(NULL, task_done, &ts, task_destroy);

    arg->ts = &ts;
    arg->sleep_ms = 30;
    qio_task_run_in_thread(task, task_worker, arg, worker_arg_free, ctx);
    qio_task_wait_thread(task);

    /* Completed here, synchronously, exactly once. */
    g_assert_cmpint(ts.completions, ==, 1);
    g_assert_cmpint(ts.destroys, ==, 1);
    g_assert_cmpint(qatomic_read(&ts.worker_destroys), ==, 1);
    g_assert_cmpstr(ts.result_text, ==, "made by the worker");
    g_assert_true(ts.callback_thread == g_thread_self());
    /* The completion source is gone from the context. */
    g_assert_false(g_main_context_iteration(ctx, FALSE));
    g_assert_cmpint(ts.completions, ==, 1);
    g_main_context_unref(ctx);
    task_state_clear(&ts);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qemu_init_main_loop(&error_abort);

    g_test_add_func("/io/task/complete", test_task_complete);
    g_test_add_func("/io/task/no-source", test_task_no_source);
    g_test_add_func("/io/task/error", test_task_error);
    g_test_add_func("/io/task/result-pointer", test_task_result_pointer);
    g_test_add_func("/io/task/thread", test_task_thread);
    g_test_add_func("/io/task/thread-error", test_task_thread_error);
    g_test_add_func("/io/task/thread-default-context",
                    test_task_thread_default_context);
    g_test_add_func("/io/task/wait-thread", test_task_wait_thread);
    return g_test_run();
}
