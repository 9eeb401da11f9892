/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pr-manager-helper: a persistent reservation manager that forwards each
 * command, with the device's fd, to qemu-pr-helper (scsi/pr-helper.h).
 *
 * Theory of operation: commands run in thread pool workers of their
 * callers' AioContexts (pr_manager_execute()), so any number of threads
 * may call pr_manager_helper_run() at once. The connection is a blocking
 * socket channel used by one command at a time under @lock. Connecting
 * and sending the CDB are retried (PR_HELPER_MAX_ATTEMPTS times, a second
 * apart, lock released while sleeping); after the CDB went out, any
 * failure fails the command with LOGICAL UNIT COMMUNICATION FAILURE and
 * drops the connection, and the next command reconnects.
 */
#include "qemu/osdep.h"
#include "io/channel-socket.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/sockets.h"
#include "qemu/thread.h"
#include "qom/object_interfaces.h"
#include "scsi/constants.h"
#include "scsi/pr-helper.h"
#include "scsi/pr-manager.h"
#include "scsi/utils.h"

#define PR_HELPER_MAX_ATTEMPTS  5

OBJECT_DECLARE_SIMPLE_TYPE(PRManagerHelper, PR_MANAGER_HELPER)

struct PRManagerHelper {
    PRManager parent;

    char *path;                 /* set before complete, then read-only */

    /* Callback for connection changes; set in the main thread early. */
    PRManagerStatusFunc *status_func;
    void *status_opaque;

    /* Protects @ioc and serialises commands on it. */
    QemuMutex lock;
    QIOChannel *ioc;            /* NULL when disconnected */
};

static const char *pr_manager_helper_id(PRManagerHelper *pr_mgr)
{
    const char *id = object_get_canonical_path_component(OBJECT(pr_mgr));

    return id ? id : "(unnamed)";
}

static void pr_manager_helper_notify(PRManagerHelper *pr_mgr,
                                     bool connected)
{
    if (pr_mgr->status_func) {
        pr_mgr->status_func(PR_MANAGER(pr_mgr), pr_manager_helper_id(pr_mgr),
                            connected, pr_mgr->status_opaque);
    }
}

/* Called with @lock held. */
static void pr_manager_helper_disconnect_locked(PRManagerHelper *pr_mgr)
{
    if (pr_mgr->ioc) {
        qio_channel_close(pr_mgr->ioc, NULL);
        object_unref(OBJECT(pr_mgr->ioc));
        pr_mgr->ioc = NULL;
        pr_manager_helper_notify(pr_mgr, false);
    }
}

/* Called with @lock held. Returns 0, or -1 with @errp set. */
static int pr_manager_helper_read_locked(PRManagerHelper *pr_mgr, void *buf,
                                         size_t sz, Error **errp)
{
    if (sz == 0) {
        return 0;
    }
    if (qio_channel_read_all(pr_mgr->ioc, buf, sz, errp) < 0) {
        pr_manager_helper_disconnect_locked(pr_mgr);
        return -1;
    }
    return 0;
}

/* Called with @lock held. @fd (or -1) goes with the first byte. */
static int pr_manager_helper_write_locked(PRManagerHelper *pr_mgr, int fd,
                                          const void *buf, size_t sz,
                                          Error **errp)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = sz };

    if (sz == 0) {
        return 0;
    }
    if (qio_channel_writev_full_all(pr_mgr->ioc, &iov, 1,
                                    fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0,
                                    0, errp) < 0) {
        pr_manager_helper_disconnect_locked(pr_mgr);
        return -1;
    }
    return 0;
}

/* Called with @lock held. Connects and does the handshake. */
static int pr_manager_helper_connect_locked(PRManagerHelper *pr_mgr,
                                            Error **errp)
{
    SocketAddress addr = {
        .type = SOCKET_ADDRESS_TYPE_UNIX,
        .u.q_unix.path = pr_mgr->path,
    };
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    uint32_t flags;

    assert(!pr_mgr->ioc);
    qio_channel_set_name(QIO_CHANNEL(sioc), "pr-manager-helper");
    if (qio_channel_socket_connect_sync(sioc, &addr, errp) < 0) {
        error_prepend(errp, "pr-manager-helper '%s': ",
                      pr_manager_helper_id(pr_mgr));
        return -1;
    }
    qio_channel_set_delay(QIO_CHANNEL(sioc), false);
    pr_mgr->ioc = QIO_CHANNEL(g_steal_pointer(&sioc));

    /* The helper offers its features; we ask for none. */
    if (pr_manager_helper_read_locked(pr_mgr, &flags, sizeof(flags),
                                      errp) < 0) {
        error_prepend(errp, "pr-manager-helper '%s': handshake: ",
                      pr_manager_helper_id(pr_mgr));
        return -1;
    }
    flags = 0;
    if (pr_manager_helper_write_locked(pr_mgr, -1, &flags, sizeof(flags),
                                       errp) < 0) {
        error_prepend(errp, "pr-manager-helper '%s': handshake: ",
                      pr_manager_helper_id(pr_mgr));
        return -1;
    }
    pr_manager_helper_notify(pr_mgr, true);
    return 0;
}

static void pr_manager_helper_fail(struct sg_io_hdr *hdr)
{
    uint8_t sense[SCSI_SENSE_LEN];
    int len = scsi_build_sense(sense, SENSE_CODE(LUN_COMM_FAILURE));

    len = MIN(len, hdr->mx_sb_len);
    if (hdr->sbp && len > 0) {
        memcpy(hdr->sbp, sense, len);
    }
    hdr->sb_len_wr = MAX(len, 0);
    hdr->driver_status = SG_ERR_DRIVER_SENSE;
    hdr->host_status = SCSI_HOST_OK;
    hdr->status = CHECK_CONDITION;
}

static int pr_manager_helper_run(PRManager *p, int fd,
                                 struct sg_io_hdr *hdr)
{
    PRManagerHelper *pr_mgr = PR_MANAGER_HELPER(p);
    uint8_t cdb[PR_HELPER_CDB_SIZE] = { 0 };
    PRHelperResponse resp;
    int expected_dir;
    int64_t len;
    int attempts;
    int ret = -EINVAL;

    if (hdr->cmd_len < 10 || hdr->cmd_len > PR_HELPER_CDB_SIZE ||
        !hdr->cmdp) {
        return -EINVAL;
    }
    memcpy(cdb, hdr->cmdp, hdr->cmd_len);
    switch (cdb[0]) {
    case PERSISTENT_RESERVE_IN:
        expected_dir = SG_DXFER_FROM_DEV;
        break;
    case PERSISTENT_RESERVE_OUT:
        expected_dir = SG_DXFER_TO_DEV;
        break;
    default:
        return -EINVAL;
    }
    len = scsi_cdb_xfer(cdb);
    if (hdr->dxfer_direction != expected_dir || len < 0 ||
        len > PR_HELPER_DATA_SIZE || hdr->dxfer_len < len ||
        (len > 0 && !hdr->dxferp)) {
        return -EINVAL;
    }
    hdr->resid = 0;
    hdr->sb_len_wr = 0;
    hdr->host_status = SCSI_HOST_OK;
    hdr->driver_status = 0;

    qemu_mutex_lock(&pr_mgr->lock);

    /* Nothing reached the helper yet: connecting and the CDB may retry. */
    for (attempts = 0; attempts < PR_HELPER_MAX_ATTEMPTS; attempts++) {
        Error *local_err = NULL;

        if (attempts > 0) {
            qemu_mutex_unlock(&pr_mgr->lock);
            g_usleep(G_USEC_PER_SEC);
            qemu_mutex_lock(&pr_mgr->lock);
        }
        if (!pr_mgr->ioc &&
            pr_manager_helper_connect_locked(pr_mgr, &local_err) < 0) {
            error_free(local_err);
            ret = -EIO;
            continue;
        }
        if (pr_manager_helper_write_locked(pr_mgr, fd, cdb, sizeof(cdb),
                                           &local_err) < 0) {
            error_free(local_err);
            ret = -EIO;
            continue;
        }
        ret = 0;
        break;
    }
    if (ret < 0) {
        goto out;
    }

    /* From here on a failure fails the command. */
    ret = -EIO;
    if (expected_dir == SG_DXFER_TO_DEV) {
        hdr->resid = hdr->dxfer_len - len;
        if (pr_manager_helper_write_locked(pr_mgr, -1, hdr->dxferp, len,
                                           NULL) < 0) {
            goto out;
        }
    }
    if (pr_manager_helper_read_locked(pr_mgr, &resp, sizeof(resp),
                                      NULL) < 0) {
        goto out;
    }
    resp.result = GUINT32_FROM_BE(resp.result);
    resp.sz = GUINT32_FROM_BE(resp.sz);
    if (resp.result > 0xff ||
        (expected_dir == SG_DXFER_FROM_DEV && resp.sz > len) ||
        (expected_dir == SG_DXFER_TO_DEV && resp.sz != 0)) {
        /* A helper that breaks the protocol is not talked to again. */
        warn_report("pr-manager-helper '%s': invalid response (status "
                    "0x%" PRIx32 ", size %" PRIu32 ")",
                    pr_manager_helper_id(pr_mgr), resp.result, resp.sz);
        pr_manager_helper_disconnect_locked(pr_mgr);
        goto out;
    }
    if (expected_dir == SG_DXFER_FROM_DEV) {
        if (pr_manager_helper_read_locked(pr_mgr, hdr->dxferp, resp.sz,
                                          NULL) < 0) {
            goto out;
        }
        hdr->resid = hdr->dxfer_len - resp.sz;
    }
    hdr->status = resp.result;
    if (resp.result == CHECK_CONDITION) {
        hdr->driver_status = SG_ERR_DRIVER_SENSE;
        hdr->sb_len_wr = MIN(hdr->mx_sb_len, PR_HELPER_SENSE_SIZE);
        if (hdr->sbp) {
            memcpy(hdr->sbp, resp.sense, hdr->sb_len_wr);
        } else {
            hdr->sb_len_wr = 0;
        }
    }
    ret = 0;

out:
    if (ret < 0) {
        pr_manager_helper_fail(hdr);
    }
    qemu_mutex_unlock(&pr_mgr->lock);
    return ret;
}

static bool pr_manager_helper_is_connected(PRManager *p)
{
    PRManagerHelper *pr_mgr = PR_MANAGER_HELPER(p);
    bool connected;

    qemu_mutex_lock(&pr_mgr->lock);
    connected = pr_mgr->ioc != NULL;
    qemu_mutex_unlock(&pr_mgr->lock);
    return connected;
}

void pr_manager_helper_set_status_func(PRManager *p,
                                       PRManagerStatusFunc *func,
                                       void *opaque)
{
    PRManagerHelper *pr_mgr = PR_MANAGER_HELPER(p);

    qemu_mutex_lock(&pr_mgr->lock);
    pr_mgr->status_func = func;
    pr_mgr->status_opaque = opaque;
    qemu_mutex_unlock(&pr_mgr->lock);
}

static void pr_manager_helper_complete(UserCreatable *uc, Error **errp)
{
    PRManagerHelper *pr_mgr = PR_MANAGER_HELPER(uc);

    if (!pr_mgr->path) {
        error_setg(errp, "pr-manager-helper: parameter 'path' is missing");
        return;
    }
    qemu_mutex_lock(&pr_mgr->lock);
    pr_manager_helper_connect_locked(pr_mgr, errp);
    qemu_mutex_unlock(&pr_mgr->lock);
}

static char *pr_manager_helper_get_path(Object *obj, Error **errp)
{
    return g_strdup(PR_MANAGER_HELPER(obj)->path);
}

static void pr_manager_helper_set_path(Object *obj, const char *value,
                                       Error **errp)
{
    PRManagerHelper *pr_mgr = PR_MANAGER_HELPER(obj);

    g_free(pr_mgr->path);
    pr_mgr->path = g_strdup(value);
}

static bool pr_manager_helper_get_connected(Object *obj, Error **errp)
{
    return pr_manager_helper_is_connected(PR_MANAGER(obj));
}

static void pr_manager_helper_instance_init(Object *obj)
{
    PRManagerHelper *pr_mgr = PR_MANAGER_HELPER(obj);

    qemu_mutex_init(&pr_mgr->lock);
}

static void pr_manager_helper_instance_finalize(Object *obj)
{
    PRManagerHelper *pr_mgr = PR_MANAGER_HELPER(obj);

    qemu_mutex_lock(&pr_mgr->lock);
    pr_mgr->status_func = NULL;
    pr_manager_helper_disconnect_locked(pr_mgr);
    qemu_mutex_unlock(&pr_mgr->lock);
    qemu_mutex_destroy(&pr_mgr->lock);
    g_free(pr_mgr->path);
}

static void pr_manager_helper_class_init(ObjectClass *klass, void *data)
{
    PRManagerClass *prmgr_klass = PR_MANAGER_CLASS(klass);
    UserCreatableClass *uc_klass = USER_CREATABLE_CLASS(klass);

    object_class_property_add_str(klass, "path", pr_manager_helper_get_path,
                                  pr_manager_helper_set_path);
    object_class_property_add_bool(klass, "connected",
                                   pr_manager_helper_get_connected, NULL);
    uc_klass->complete = pr_manager_helper_complete;
    prmgr_klass->run = pr_manager_helper_run;
    prmgr_klass->is_connected = pr_manager_helper_is_connected;
}

static const TypeInfo pr_manager_helper_info = {
    .name = TYPE_PR_MANAGER_HELPER,
    .parent = TYPE_PR_MANAGER,
    .instance_size = sizeof(PRManagerHelper),
    .instance_init = pr_manager_helper_instance_init,
    .instance_finalize = pr_manager_helper_instance_finalize,
    .class_init = pr_manager_helper_class_init,
};

static void pr_manager_helper_register_types(void)
{
    type_register_static(&pr_manager_helper_info);
}

type_init(pr_manager_helper_register_types)
