/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-pr-helper's clients: requests in, SG_IO, responses out (see
 * pr-helper-server.h). Every byte a client sends is untrusted: the
 * helper keeps CAP_SYS_RAWIO, and anyone who can open its socket talks
 * to this code.
 */
#include "qemu/osdep.h"
#include "config-host.h"
#include <sys/ioctl.h>
#include <scsi/sg.h>

#include "block/aio.h"
#include "block/thread-pool.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "scsi/constants.h"
#include "scsi/pr-helper.h"
#include "scsi/pr-helper-server.h"
#ifdef CONFIG_MPATH
#include "scsi/pr-helper-mpath.h"
#endif
#include "scsi/utils.h"
#include "scsi/trace.h"

/* SG_IO timeout of a command, in milliseconds */
#define PR_HELPER_SGIO_TIMEOUT_MS 1

typedef struct PRHelperClient PRHelperClient;

struct PRHelperClient {
    PRHelperServer *prh;
    QIOChannelSocket *sioc;
    QIOChannel *ioc;
    char *name;                 /* for messages */
    uint8_t data[PR_HELPER_DATA_SIZE];
};

/* One request off the wire, validated */
typedef struct PRHelperRequest {
    uint8_t cdb[PR_HELPER_CDB_SIZE];
    int fd;
    uint32_t sz;                /* transfer length from the CDB */
} PRHelperRequest;

/* What the thread pool worker needs for one SG_IO */
typedef struct PRHelperSgio {
    int fd;
    struct sg_io_hdr hdr;
} PRHelperSgio;


/* Reports @err when verbose, else drops it. */
static void prh_report(PRHelperServer *prh, Error *err)
{
    if (!err) {
        return;
    }
    if (prh->verbose) {
        error_report_err(err);
    } else {
        error_free(err);
    }
}

/*
 * SG_IO
 */

static int prh_sgio_worker(void *opaque)
{
    PRHelperSgio *sg = opaque;
    int r;

    do {
        r = ioctl(sg->fd, SG_IO, &sg->hdr);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -errno : 0;
}

/*
 * Runs @cdb on @fd through SG_IO in the thread pool. @sense (zeroed by
 * the caller) receives the device's sense data or ours. On entry *@sz is
 * the size of @buf to transfer; on return, the bytes transferred when the
 * status is GOOD, else 0.
 * Returns: the SCSI status.
 */
static int coroutine_fn prh_do_sgio(int fd, const uint8_t *cdb,
                                    uint8_t *sense, uint8_t *buf,
                                    uint32_t *sz, int dir)
{
    PRHelperSgio sg = { .fd = fd };
    SCSISense code;
    int status;
    int ret;

    sg.hdr.interface_id = 'S';
    sg.hdr.cmd_len = PR_HELPER_CDB_SIZE;
    sg.hdr.cmdp = (unsigned char *)cdb;
    sg.hdr.sbp = sense;
    sg.hdr.mx_sb_len = PR_HELPER_SENSE_SIZE;
    sg.hdr.timeout = PR_HELPER_SGIO_TIMEOUT_MS;
    sg.hdr.dxfer_direction = dir;
    sg.hdr.dxferp = buf;
    sg.hdr.dxfer_len = *sz;

    ret = thread_pool_submit_co(prh_sgio_worker, &sg);
    if (ret < 0) {
        status = scsi_sense_from_errno(-ret, &code);
        if (status == CHECK_CONDITION) {
            scsi_build_sense(sense, code);
        }
    } else if (sg.hdr.host_status != SCSI_HOST_OK) {
        status = scsi_sense_from_host_status(sg.hdr.host_status, &code);
        if (status == CHECK_CONDITION) {
            scsi_build_sense(sense, code);
        }
    } else if (sg.hdr.driver_status & SG_ERR_DRIVER_TIMEOUT) {
        status = BUSY;
    } else {
        status = sg.hdr.status;
    }

    trace_pr_helper_sgio(fd, cdb[0], ret, status);
    if (status == GOOD && sg.hdr.resid >= 0 && sg.hdr.resid <= *sz) {
        *sz -= sg.hdr.resid;
    } else {
        *sz = 0;
    }
    return status;
}

#ifdef CONFIG_MPATH
/* What the thread pool worker needs for one libmpathpersist call */
typedef struct PRHelperMpath {
    PRHelperRequest *req;
    uint8_t *sense;
    uint8_t *data;
    uint32_t sz;
} PRHelperMpath;

static int prh_mpath_worker(void *opaque)
{
    PRHelperMpath *mp = opaque;
    PRHelperRequest *req = mp->req;

    if (req->cdb[0] == PERSISTENT_RESERVE_IN) {
        return pr_helper_mpath_pr_in(req->fd, req->cdb, mp->sense, mp->data,
                                     &mp->sz);
    }
    return pr_helper_mpath_pr_out(req->fd, req->cdb, mp->sense, mp->data,
                                  mp->sz);
}

/*
 * Runs @req through libmpathpersist when its fd is a multipath device.
 * Returns: true with *@status set (and *@sz for PR IN) if it did.
 */
static bool coroutine_fn prh_try_mpath(PRHelperClient *client,
                                       PRHelperRequest *req, uint8_t *sense,
                                       uint32_t *sz, int *status)
{
    PRHelperServer *prh = client->prh;
    PRHelperMpath mp = {
        .req = req,
        .sense = sense,
        .data = client->data,
        .sz = req->sz,
    };

    if (!prh->mpath || !pr_helper_mpath_is_mpath(req->fd)) {
        return false;
    }
    qemu_co_mutex_lock(&prh->mpath_lock);
    *status = thread_pool_submit_co(prh_mpath_worker, &mp);
    qemu_co_mutex_unlock(&prh->mpath_lock);
    if (sz) {
        *sz = *status == GOOD ? mp.sz : 0;
    }
    return true;
}
#endif

static int coroutine_fn prh_do_pr_in(PRHelperClient *client,
                                     PRHelperRequest *req, uint8_t *sense,
                                     uint32_t *sz)
{
    int status;

    /* Ask for the whole buffer; the answer is cut to the CDB's length. */
    *sz = PR_HELPER_DATA_SIZE;
    memset(client->data, 0, sizeof(client->data));
#ifdef CONFIG_MPATH
    if (prh_try_mpath(client, req, sense, sz, &status)) {
        *sz = MIN(*sz, req->sz);
        return status;
    }
#endif
    status = prh_do_sgio(req->fd, req->cdb, sense, client->data, sz,
                         SG_DXFER_FROM_DEV);
    *sz = MIN(*sz, req->sz);
    return status;
}

static int coroutine_fn prh_do_pr_out(PRHelperClient *client,
                                      PRHelperRequest *req, uint8_t *sense)
{
    uint32_t sz = req->sz;
    int flags = fcntl(req->fd, F_GETFL);

    /* Reservations change the device: refuse them on a read-only fd. */
    if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) {
        scsi_build_sense(sense, SENSE_CODE(INVALID_OPCODE));
        return CHECK_CONDITION;
    }
#ifdef CONFIG_MPATH
    {
        int status;

        if (prh_try_mpath(client, req, sense, NULL, &status)) {
            return status;
        }
    }
#endif
    return prh_do_sgio(req->fd, req->cdb, sense, client->data, &sz,
                       SG_DXFER_TO_DEV);
}

/*
 * The connection
 */

/*
 * Reads the CDB of a request; its fd may come with any fragment.
 * Returns: 1 with req->fd set, 0 at end of file before the first byte, or
 * -1 with @errp set (the connection must then be closed).
 */
static int coroutine_fn prh_read_cdb(PRHelperClient *client,
                                     PRHelperRequest *req, Error **errp)
{
    size_t done = 0;

    req->fd = -1;
    while (done < sizeof(req->cdb)) {
        struct iovec iov = {
            .iov_base = req->cdb + done,
            .iov_len = sizeof(req->cdb) - done,
        };
        g_autofree int *fds = NULL;
        size_t nfds = 0;
        bool too_many = false;
        ssize_t n;
        size_t i;

        n = qio_channel_readv_full(client->ioc, &iov, 1, &fds, &nfds, 0,
                                   errp);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_yield(client->ioc, G_IO_IN);
            continue;
        }
        for (i = 0; i < nfds; i++) {
            if (req->fd == -1) {
                req->fd = fds[i];
            } else {
                close(fds[i]);
                too_many = true;
            }
        }
        if (n < 0) {
            error_prepend(errp, "client %s: ", client->name);
            goto fail;
        }
        if (too_many) {
            error_setg(errp, "client %s: more than one file descriptor in "
                       "request", client->name);
            goto fail;
        }
        if (n == 0) {
            if (done == 0 && req->fd == -1) {
                return 0;
            }
            error_setg(errp, "client %s: end of file in the middle of a "
                       "request", client->name);
            goto fail;
        }
        done += n;
    }
    if (req->fd == -1) {
        error_setg(errp, "client %s: no file descriptor in request",
                   client->name);
        return -1;
    }
    return 1;

fail:
    if (req->fd != -1) {
        close(req->fd);
        req->fd = -1;
    }
    return -1;
}

/*
 * Reads and checks one request.
 * Returns: 1 with @req filled (the caller closes req->fd), 0 at end of
 * file between requests, -1 with @errp set.
 */
static int coroutine_fn prh_read_request(PRHelperClient *client,
                                         PRHelperRequest *req, Error **errp)
{
    int64_t sz;
    int ret;

    ret = prh_read_cdb(client, req, errp);
    if (ret <= 0) {
        return ret;
    }

    if (req->cdb[0] != PERSISTENT_RESERVE_IN &&
        req->cdb[0] != PERSISTENT_RESERVE_OUT) {
        error_setg(errp, "client %s: invalid CDB opcode 0x%02x",
                   client->name, req->cdb[0]);
        goto fail;
    }

    sz = scsi_cdb_xfer(req->cdb);
    if (sz < 0 || sz > PR_HELPER_DATA_SIZE) {
        error_setg(errp, "client %s: transfer length %" PRId64 " exceeds "
                   "%d bytes", client->name, sz, PR_HELPER_DATA_SIZE);
        goto fail;
    }
    req->sz = sz;

    if (req->cdb[0] == PERSISTENT_RESERVE_OUT && req->sz > 0 &&
        qio_channel_read_all(client->ioc, (char *)client->data, req->sz,
                             errp) < 0) {
        error_prepend(errp, "client %s: ", client->name);
        goto fail;
    }
    return 1;

fail:
    close(req->fd);
    req->fd = -1;
    return -1;
}

static int coroutine_fn prh_write_response(PRHelperClient *client,
                                           PRHelperResponse *resp,
                                           uint32_t sz, Error **errp)
{
    struct iovec iov[2] = {
        { .iov_base = resp, .iov_len = sizeof(*resp) },
        { .iov_base = client->data, .iov_len = sz },
    };

    resp->result = GUINT32_TO_BE(resp->result);
    resp->sz = GUINT32_TO_BE(sz);
    if (qio_channel_writev_all(client->ioc, iov, sz ? 2 : 1, errp) < 0) {
        error_prepend(errp, "client %s: ", client->name);
        return -1;
    }
    return 0;
}

static void coroutine_fn prh_client_co(void *opaque)
{
    PRHelperClient *client = opaque;
    PRHelperServer *prh = client->prh;
    Error *local_err = NULL;
    uint32_t flags = 0;

    /* Handshake: our features, then the client's wishes. */
    if (qio_channel_write_all(client->ioc, (char *)&flags, sizeof(flags),
                              &local_err) < 0 ||
        qio_channel_read_all(client->ioc, (char *)&flags, sizeof(flags),
                             &local_err) < 0) {
        error_prepend(&local_err, "client %s: handshake: ", client->name);
        goto out;
    }
    flags = GUINT32_FROM_BE(flags);
    if (flags != 0) {
        error_setg(&local_err, "client %s: requested unsupported features "
                   "0x%08" PRIx32, client->name, flags);
        goto out;
    }

    while (!prh->exiting) {
        PRHelperRequest req;
        PRHelperResponse resp;
        uint32_t sz = 0;
        int ret;

        ret = prh_read_request(client, &req, &local_err);
        if (ret <= 0) {
            break;
        }
        if (prh->exiting) {
            /* Read after the termination signal: not in flight, not run. */
            close(req.fd);
            break;
        }
        trace_pr_helper_request(client->name, req.cdb[0], req.cdb[1] & 0x1f,
                                req.sz, req.fd);

        prh->in_flight++;
        memset(&resp, 0, sizeof(resp));
        if (req.cdb[0] == PERSISTENT_RESERVE_OUT) {
            resp.result = prh_do_pr_out(client, &req, resp.sense);
        } else {
            resp.result = prh_do_pr_in(client, &req, resp.sense, &sz);
        }
        close(req.fd);
        if (resp.result != GOOD || req.cdb[0] != PERSISTENT_RESERVE_IN) {
            sz = 0;
        }
        trace_pr_helper_response(client->name, resp.result, sz);
        ret = prh_write_response(client, &resp, sz, &local_err);
        prh->in_flight--;
        if (ret < 0) {
            break;
        }
    }

out:
    trace_pr_helper_client_close(client->name);
    prh_report(prh, local_err);
    qio_channel_close(client->ioc, NULL);
    prh->clients = g_list_remove(prh->clients, client);
    object_unref(OBJECT(client->sioc));
    g_free(client->name);
    g_free(client);
    /* The main loop may be waiting for the last client to go. */
    qemu_notify_event();
}

void pr_helper_server_add_client(PRHelperServer *prh, QIOChannelSocket *sioc)
{
    PRHelperClient *client;
    Coroutine *co;

    if (prh->exiting) {
        return;
    }
    client = g_new0(PRHelperClient, 1);
    client->prh = prh;
    client->sioc = sioc;
    client->ioc = QIO_CHANNEL(sioc);
    object_ref(OBJECT(sioc));
    client->name = g_strdup_printf("#%u", ++prh->serial);
    trace_pr_helper_client_accept(client->name);
    qio_channel_set_name(client->ioc, "pr-helper-client");
    qio_channel_set_blocking(client->ioc, false, NULL);
    qio_channel_set_follow_coroutine_ctx(client->ioc, true);
    prh->clients = g_list_prepend(prh->clients, client);

    co = qemu_coroutine_create(prh_client_co, client);
    aio_co_enter(qemu_get_aio_context(), co);
}

void pr_helper_server_shutdown_clients(PRHelperServer *prh,
                                       QIOChannelShutdown how)
{
    for (GList *l = prh->clients; l; l = l->next) {
        PRHelperClient *client = l->data;

        qio_channel_shutdown(client->ioc, how, NULL);
    }
}
