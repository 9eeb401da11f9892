/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOTask: an asynchronous operation with one completion callback, which
 * runs in a GMainContext (the default one unless told otherwise).
 */
#ifndef QIO_TASK_H
#define QIO_TASK_H

#include "qom/object.h"

typedef struct QIOTask QIOTask;

typedef void (*QIOTaskFunc)(QIOTask *task, gpointer opaque);
typedef void (*QIOTaskWorker)(QIOTask *task, gpointer opaque);

/**
 * qio_task_new:
 * A task on behalf of @source (referenced until the task ends) that calls
 * @func(task, @opaque) when it completes, then @destroy(@opaque).
 */
QIOTask *qio_task_new(Object *source, QIOTaskFunc func, gpointer opaque,
                      GDestroyNotify destroy);

/**
 * qio_task_run_in_thread:
 * Runs @worker(task, @opaque) in a new thread, then completes the task in
 * @context (NULL: the default GMainContext). @destroy frees @opaque after
 * the worker.
 */
void qio_task_run_in_thread(QIOTask *task, QIOTaskWorker worker,
                            gpointer opaque, GDestroyNotify destroy,
                            GMainContext *context);

/* Blocks until the worker of a qio_task_run_in_thread() task finished,
 * then completes the task in the calling thread. */
void qio_task_wait_thread(QIOTask *task);

/* Calls the completion callback now and frees the task. */
void qio_task_complete(QIOTask *task);

/* Records @err (taking it) as the task's outcome; the first error wins. */
void qio_task_set_error(QIOTask *task, Error *err);

/* Copies the task's error to @errp; returns true if there was one. */
bool qio_task_propagate_error(QIOTask *task, Error **errp);

void qio_task_set_result_pointer(QIOTask *task, gpointer result,
                                 GDestroyNotify notify);
gpointer qio_task_get_result_pointer(QIOTask *task);

/* The source object (borrowed). */
Object *qio_task_get_source(QIOTask *task);

#endif /* QIO_TASK_H */
