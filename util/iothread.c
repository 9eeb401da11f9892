/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * IOThreads.
 *
 * Theory of operation: an IOThread's thread makes itself the home of its
 * AioContext and then runs aio_poll() until ->running is cleared. Every
 * other thread talks to it through its context (bottom halves,
 * aio_co_schedule, aio_notify). Stopping clears ->running, wakes the loop
 * with a bottom half, and joins the thread.
 */
#include "qemu/osdep.h"
#include "sysemu/iothread.h"
#include "qapi/error.h"
#include "qom/object_interfaces.h"
#include "util/trace.h"

static void *iothread_run(void *opaque)
{
    IOThread *iothread = opaque;

    aio_context_set_home_thread(iothread->ctx);
    qemu_set_current_aio_context(iothread->ctx);
    iothread->thread_id = qemu_get_thread_id();
    trace_iothread_run(iothread, iothread->thread_id);
    qemu_sem_post(&iothread->init_done_sem);

    while (qatomic_read(&iothread->running)) {
        aio_poll(iothread->ctx, true);
    }
    /* Run what was queued with the stop request. */
    while (aio_poll(iothread->ctx, false)) {
        /* nothing */
    }
    qemu_set_current_aio_context(NULL);
    return NULL;
}

static void iothread_stop_bh(void *opaque)
{
    IOThread *iothread = opaque;

    qatomic_set(&iothread->running, false);
}

static void iothread_stop(IOThread *iothread)
{
    if (!iothread->started) {
        return;
    }
    trace_iothread_stop(iothread);
    aio_bh_schedule_oneshot(iothread->ctx, iothread_stop_bh, iothread);
    qemu_thread_join(&iothread->thread);
    iothread->started = false;
}

static void iothread_complete(UserCreatable *uc, Error **errp)
{
    IOThread *iothread = IOTHREAD(uc);
    g_autofree char *id = iothread_get_id(iothread);
    g_autofree char *name = g_strdup_printf("IO %s", id ? id : "iothread");

    iothread->ctx = aio_context_new(errp);
    if (!iothread->ctx) {
        return;
    }
    aio_context_set_poll_params(iothread->ctx, iothread->poll_max_ns,
                                iothread->poll_grow, iothread->poll_shrink,
                                &error_abort);
    qatomic_set(&iothread->running, true);
    trace_iothread_start(iothread, id ? id : "", iothread->ctx);
    qemu_thread_create(&iothread->thread, name, iothread_run, iothread,
                       QEMU_THREAD_JOINABLE);
    iothread->started = true;
    qemu_sem_wait(&iothread->init_done_sem);
}

static void iothread_instance_init(Object *obj)
{
    IOThread *iothread = IOTHREAD(obj);

    qemu_sem_init(&iothread->init_done_sem, 0);
    iothread->thread_id = -1;
    /* QEMU's default: adaptive polling for up to 32 us before sleeping. */
    iothread->poll_max_ns = IOTHREAD_POLL_MAX_NS_DEFAULT;
}

static void iothread_instance_finalize(Object *obj)
{
    IOThread *iothread = IOTHREAD(obj);

    iothread_stop(iothread);
    if (iothread->ctx) {
        aio_context_unref(iothread->ctx);
        iothread->ctx = NULL;
    }
    qemu_sem_destroy(&iothread->init_done_sem);
    g_free(iothread->name);
}

static bool iothread_set_poll_max_ns(Object *obj, int64_t value,
                                     Error **errp)
{
    IOThread *iothread = IOTHREAD(obj);

    if (value < 0) {
        error_setg(errp, "iothread '%s': poll-max-ns must not be negative",
                   object_get_canonical_path_component(obj));
        return false;
    }
    iothread->poll_max_ns = value;
    if (iothread->ctx) {
        aio_context_set_poll_params(iothread->ctx, value, iothread->poll_grow,
                                    iothread->poll_shrink, errp);
    }
    return true;
}

static bool iothread_get_poll_max_ns(Object *obj, int64_t *value,
                                     Error **errp)
{
    *value = IOTHREAD(obj)->poll_max_ns;
    return true;
}

static void iothread_class_init(ObjectClass *klass, void *data)
{
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(klass);

    ucc->complete = iothread_complete;
    object_class_property_add_int(klass, "poll-max-ns", INT64_MIN, INT64_MAX,
                                  iothread_get_poll_max_ns,
                                  iothread_set_poll_max_ns);
    object_class_property_set_description(klass, "poll-max-ns",
        "how long to busy-poll before blocking, in ns (0: never)");
    object_class_property_add_int64_ptr(klass, "poll-grow",
                                        offsetof(IOThread, poll_grow),
                                        OBJ_PROP_FLAG_READWRITE);
    object_class_property_add_int64_ptr(klass, "poll-shrink",
                                        offsetof(IOThread, poll_shrink),
                                        OBJ_PROP_FLAG_READWRITE);
}

static const TypeInfo iothread_info = {
    .name = TYPE_IOTHREAD,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(IOThread),
    .instance_init = iothread_instance_init,
    .instance_finalize = iothread_instance_finalize,
    .class_init = iothread_class_init,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void iothread_register_types(void)
{
    type_register_static(&iothread_info);
}

type_init(iothread_register_types)

IOThread *iothread_create(const char *id, Error **errp)
{
    Object *obj = object_new(TYPE_IOTHREAD);

    IOTHREAD(obj)->name = g_strdup(id);
    if (!user_creatable_complete(USER_CREATABLE(obj), errp)) {
        object_unref(obj);
        return NULL;
    }
    return IOTHREAD(obj);
}

void iothread_destroy(IOThread *iothread)
{
    object_unref(OBJECT(iothread));
}

AioContext *iothread_get_aio_context(IOThread *iothread)
{
    return iothread->ctx;
}

IOThread *iothread_by_id(const char *id)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                id);

    return obj ? (IOThread *)object_dynamic_cast(obj, TYPE_IOTHREAD) : NULL;
}

char *iothread_get_id(IOThread *iothread)
{
    const char *id = object_get_canonical_path_component(OBJECT(iothread));

    return g_strdup(id ? id : iothread->name);
}

int iothread_get_thread_id(IOThread *iothread)
{
    return iothread->thread_id;
}
