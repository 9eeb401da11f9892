/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The abstract persistent reservation manager: runs a manager's blocking
 * command in the caller's thread pool, and finds managers by id.
 */
#include "qemu/osdep.h"
#include "block/thread-pool.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qom/object_interfaces.h"
#include "scsi/pr-manager.h"

typedef struct PRManagerData {
    PRManager *pr_mgr;
    struct sg_io_hdr *hdr;
    int fd;
} PRManagerData;

static int pr_manager_worker(void *opaque)
{
    PRManagerData *data = opaque;
    PRManagerClass *pr_mgr_class = PR_MANAGER_GET_CLASS(data->pr_mgr);

    /* The helper owns its locking; this thread only blocks. */
    return pr_mgr_class->run(data->pr_mgr, data->fd, data->hdr);
}

int coroutine_fn pr_manager_execute(PRManager *pr_mgr, AioContext *ctx,
                                    int fd, struct sg_io_hdr *hdr)
{
    PRManagerData data = {
        .pr_mgr = pr_mgr,
        .hdr = hdr,
        .fd = fd,
    };
    int ret;

    assert(qemu_coroutine_get_aio_context(qemu_coroutine_self()) == ctx);
    object_ref(OBJECT(pr_mgr));
    ret = thread_pool_submit_co(pr_manager_worker, &data);
    object_unref(OBJECT(pr_mgr));
    return ret;
}

bool pr_manager_is_connected(PRManager *pr_mgr)
{
    PRManagerClass *pr_mgr_class = PR_MANAGER_GET_CLASS(pr_mgr);

    return !pr_mgr_class->is_connected ||
           pr_mgr_class->is_connected(pr_mgr);
}

PRManager *pr_manager_lookup(const char *id, Error **errp)
{
    Object *obj;

    obj = object_resolve_path_component(object_get_objects_root(), id);
    if (!obj) {
        error_setg(errp, "No persistent reservation manager with id '%s'",
                   id);
        return NULL;
    }
    if (!object_dynamic_cast(obj, TYPE_PR_MANAGER)) {
        error_setg(errp, "Object '%s' is not a persistent reservation "
                   "manager", id);
        return NULL;
    }
    return PR_MANAGER(obj);
}

void pr_manager_info_free(PRManagerInfo *info)
{
    if (info) {
        g_free(info->id);
        g_free(info);
    }
}

static int pr_manager_query_one(Object *obj, void *opaque)
{
    GList **list = opaque;
    PRManagerInfo *info;

    if (!object_dynamic_cast(obj, TYPE_PR_MANAGER)) {
        return 0;
    }
    info = g_new0(PRManagerInfo, 1);
    info->id = g_strdup(object_get_canonical_path_component(obj));
    info->connected = pr_manager_is_connected(PR_MANAGER(obj));
    *list = g_list_prepend(*list, info);
    return 0;
}

static gint pr_manager_info_cmp(gconstpointer a, gconstpointer b)
{
    const PRManagerInfo *ia = a;
    const PRManagerInfo *ib = b;

    return strcmp(ia->id, ib->id);
}

GList *pr_manager_query_all(void)
{
    GList *list = NULL;

    object_child_foreach(object_get_objects_root(), pr_manager_query_one,
                         &list);
    return g_list_sort(list, pr_manager_info_cmp);
}

static const TypeInfo pr_manager_info = {
    .name = TYPE_PR_MANAGER,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(PRManager),
    .class_size = sizeof(PRManagerClass),
    .abstract = true,
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void pr_manager_register_types(void)
{
    type_register_static(&pr_manager_info);
}

type_init(pr_manager_register_types)
