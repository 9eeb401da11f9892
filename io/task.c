/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOTask: one asynchronous operation and its completion callback.
 *
 * Theory of operation: a task is made, and normally completed, in the
 * thread that runs its GMainContext. qio_task_run_in_thread() hands the
 * work to a detached worker thread, which records the outcome in the task
 * (error, result pointer), then attaches an idle source to the task's
 * context; the callback runs from that source, in the context's thread.
 * The worker and the completing thread share only the task's outcome and
 * its thread state (QIOTaskThreadData), ordered by thread_lock: the
 * worker writes the outcome before it sets done under the lock, and the
 * completion reads it after taking the lock. qio_task_wait_thread()
 * instead waits for done on thread_cond and completes the task itself,
 * dropping the idle source before it can run.
 */
#include "qemu/osdep.h"
#include "io/task.h"
#include "qapi/error.h"
#include "qemu/thread.h"

typedef struct QIOTaskThreadData {
    QIOTaskWorker worker;
    gpointer opaque;
    GDestroyNotify destroy;
    GMainContext *context;      /* referenced; the default one for NULL */
    GSource *completion;        /* the idle source, once the worker ended */
    bool done;                  /* the worker ended (under thread_lock) */
} QIOTaskThreadData;

struct QIOTask {
    Object *source;             /* referenced, may be NULL */
    QIOTaskFunc func;
    gpointer opaque;
    GDestroyNotify destroy;
    Error *err;
    gpointer result;
    GDestroyNotify destroy_result;

    /* Only for qio_task_run_in_thread(). */
    QIOTaskThreadData *thread;
    QemuMutex thread_lock;      /* protects thread->done, ->completion */
    QemuCond thread_cond;       /* signalled when thread->done is set */
};

QIOTask *qio_task_new(Object *source, QIOTaskFunc func, gpointer opaque,
                      GDestroyNotify destroy)
{
    QIOTask *task = g_new0(QIOTask, 1);

    task->source = source ? object_ref(source) : NULL;
    task->func = func;
    task->opaque = opaque;
    task->destroy = destroy;
    qemu_mutex_init(&task->thread_lock);
    qemu_cond_init(&task->thread_cond);
    return task;
}

static void qio_task_free(QIOTask *task)
{
    if (task->destroy) {
        task->destroy(task->opaque);
    }
    if (task->destroy_result) {
        task->destroy_result(task->result);
    }
    error_free(task->err);
    if (task->thread) {
        if (task->thread->completion) {
            g_source_unref(task->thread->completion);
        }
        g_main_context_unref(task->thread->context);
        g_free(task->thread);
    }
    qemu_cond_destroy(&task->thread_cond);
    qemu_mutex_destroy(&task->thread_lock);
    object_unref(task->source);
    g_free(task);
}

void qio_task_complete(QIOTask *task)
{
    if (task->func) {
        task->func(task, task->opaque);
    }
    qio_task_free(task);
}

/* The idle source's callback, in the task's context. */
static gboolean qio_task_thread_result(gpointer opaque)
{
    QIOTask *task = opaque;

    /* Pairs with the worker: its outcome is visible once done is. */
    qemu_mutex_lock(&task->thread_lock);
    assert(task->thread->done);
    qemu_mutex_unlock(&task->thread_lock);

    qio_task_complete(task);
    return G_SOURCE_REMOVE;
}

static void *qio_task_thread_worker(void *opaque)
{
    QIOTask *task = opaque;
    QIOTaskThreadData *data = task->thread;
    GSource *idle;

    data->worker(task, data->opaque);
    if (data->destroy) {
        data->destroy(data->opaque);
    }

    /*
     * Attach under the lock so that a qio_task_wait_thread() that sees
     * done also sees the source it has to drop. The idle callback takes
     * the lock first, so it cannot free the task before we let go.
     */
    qemu_mutex_lock(&task->thread_lock);
    idle = g_idle_source_new();
    g_source_set_name(idle, "io-task-completion");
    g_source_set_callback(idle, qio_task_thread_result, task, NULL);
    g_source_attach(idle, data->context);
    data->completion = idle;
    data->done = true;
    qemu_cond_broadcast(&task->thread_cond);
    qemu_mutex_unlock(&task->thread_lock);
    return NULL;
}

void qio_task_run_in_thread(QIOTask *task, QIOTaskWorker worker,
                            gpointer opaque, GDestroyNotify destroy,
                            GMainContext *context)
{
    QIOTaskThreadData *data = g_new0(QIOTaskThreadData, 1);
    QemuThread thread;

    assert(!task->thread);
    data->worker = worker;
    data->opaque = opaque;
    data->destroy = destroy;
    data->context = g_main_context_ref(context ? context
                                       : g_main_context_default());
    task->thread = data;
    qemu_thread_create(&thread, "io-task-worker", qio_task_thread_worker,
                       task, QEMU_THREAD_DETACHED);
}

/*
 * To be called from the thread that runs the task's context (or while no
 * thread runs it), before the completion was dispatched there: the idle
 * source is destroyed here, which only stops it if it is not running.
 */
void qio_task_wait_thread(QIOTask *task)
{
    QIOTaskThreadData *data = task->thread;

    assert(data);
    qemu_mutex_lock(&task->thread_lock);
    while (!data->done) {
        qemu_cond_wait(&task->thread_cond, &task->thread_lock);
    }
    /* Complete here instead of from the context. */
    g_source_destroy(data->completion);
    qemu_mutex_unlock(&task->thread_lock);

    qio_task_complete(task);
}

void qio_task_set_error(QIOTask *task, Error *err)
{
    /* The first error wins; later ones are dropped. */
    error_propagate(&task->err, err);
}

bool qio_task_propagate_error(QIOTask *task, Error **errp)
{
    if (!task->err) {
        return false;
    }
    error_propagate(errp, error_copy(task->err));
    return true;
}

void qio_task_set_result_pointer(QIOTask *task, gpointer result,
                                 GDestroyNotify notify)
{
    if (task->destroy_result) {
        task->destroy_result(task->result);
    }
    task->result = result;
    task->destroy_result = notify;
}

gpointer qio_task_get_result_pointer(QIOTask *task)
{
    return task->result;
}

Object *qio_task_get_source(QIOTask *task)
{
    return task->source;
}
