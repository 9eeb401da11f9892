/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Persistent reservation managers: objects that run PERSISTENT RESERVE
 * IN/OUT commands for a device on behalf of an unprivileged process.
 * The one implementation is "pr-manager-helper", which forwards them to
 * qemu-pr-helper over a UNIX socket:
 *
 *     --object pr-manager-helper,id=pr0,path=/run/qemu-pr-helper.sock
 */
#ifndef SCSI_PR_MANAGER_H
#define SCSI_PR_MANAGER_H

#include <scsi/sg.h>

#include "block/aio.h"
#include "qom/object.h"

#define TYPE_PR_MANAGER "pr-manager"
OBJECT_DECLARE_TYPE(PRManager, PRManagerClass, PR_MANAGER)

#define TYPE_PR_MANAGER_HELPER "pr-manager-helper"

struct PRManager {
    Object parent;
};

/**
 * PRManagerClass:
 * @run: runs the command of @hdr on @fd, blocking; called in a worker
 *       thread. Fills in status, sense and data like SG_IO. Returns 0, or
 *       a negative errno when the command could not be delivered (the
 *       status is then CHECK CONDITION with sense filled in).
 * @is_connected: whether commands can be delivered now; any thread.
 */
struct PRManagerClass {
    ObjectClass parent;

    int (*run)(PRManager *pr_mgr, int fd, struct sg_io_hdr *hdr);
    bool (*is_connected)(PRManager *pr_mgr);
};

/**
 * pr_manager_execute:
 * @pr_mgr: the manager
 * @ctx: the AioContext of the calling coroutine, whose thread pool runs
 *       the command
 * @fd: the device's file descriptor (borrowed; passed to the helper)
 * @hdr: the command, SG_IO style: cmdp/cmd_len the CDB (PERSISTENT
 *       RESERVE IN or OUT, at most 16 bytes), dxfer_direction,
 *       dxferp/dxfer_len the data, sbp/mx_sb_len the sense buffer
 *
 * Runs one persistent reservation command and fills in @hdr's status,
 * driver_status, sb_len_wr, resid and sense/data buffers. Commands of one
 * manager run one at a time; callers in any number of AioContexts may
 * share a manager.
 *
 * Context: coroutine in @ctx.
 * Returns: 0 (look at hdr->status), or a negative errno: -EINVAL for a
 * command that is not PERSISTENT RESERVE IN/OUT or whose buffers do not
 * match its CDB (nothing is sent), or a communication failure (status
 * CHECK CONDITION, sense LOGICAL UNIT COMMUNICATION FAILURE).
 */
int coroutine_fn pr_manager_execute(PRManager *pr_mgr, AioContext *ctx,
                                    int fd, struct sg_io_hdr *hdr);

/**
 * pr_manager_is_connected:
 * @pr_mgr: the manager
 *
 * Context: any thread.
 * Returns: whether the manager is connected to its helper.
 */
bool pr_manager_is_connected(PRManager *pr_mgr);

/**
 * pr_manager_lookup:
 * @id: the id of a manager created with --object
 * @errp: error object
 *
 * Context: main thread.
 * Returns: (transfer none): the manager, or NULL with @errp set when @id
 * names nothing or something that is not a persistent reservation manager.
 */
PRManager *pr_manager_lookup(const char *id, Error **errp);

/**
 * PRManagerInfo:
 * @id: the manager's id
 * @connected: whether it is connected to its helper
 */
typedef struct PRManagerInfo {
    char *id;
    bool connected;
} PRManagerInfo;

void pr_manager_info_free(PRManagerInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PRManagerInfo, pr_manager_info_free)

/**
 * pr_manager_query_all:
 *
 * What QMP's query-pr-managers answers: every manager created with
 * --object, in id order.
 *
 * Context: main thread.
 * Returns: (transfer full): a GList of PRManagerInfo; free it with
 * g_list_free_full(list, (GDestroyNotify)pr_manager_info_free).
 */
GList *pr_manager_query_all(void);

/**
 * PRManagerStatusFunc:
 * Called when a manager connects or disconnects (QEMU emits
 * PR_MANAGER_STATUS_CHANGED then), in the thread that saw the change.
 */
typedef void PRManagerStatusFunc(PRManager *pr_mgr, const char *id,
                                 bool connected, void *opaque);

/**
 * pr_manager_helper_set_status_func:
 * @pr_mgr: a pr-manager-helper
 * @func: (nullable): the callback
 * @opaque: its argument
 *
 * Context: main thread, before commands run.
 */
void pr_manager_helper_set_status_func(PRManager *pr_mgr,
                                       PRManagerStatusFunc *func,
                                       void *opaque);

#endif /* SCSI_PR_MANAGER_H */
