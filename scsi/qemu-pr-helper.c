/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-pr-helper: runs SCSI persistent reservation commands on behalf of
 * an unprivileged QEMU, which passes it the device's file descriptor. The
 * command line and the wire protocol are QEMU's (scsi/pr-helper.h).
 *
 * Theory of operation: the main thread parses the command line, creates
 * the listening socket (or takes it from systemd), daemonizes, writes the
 * pid file, drops privileges and runs the main loop. Each client gets one
 * coroutine in the main AioContext that reads a request, runs it and
 * writes the response, until end of file, an error, a malformed request
 * or termination. Its channel is non-blocking with follow-coroutine-ctx,
 * so the coroutine waits for the socket in the main context. The SG_IO
 * ioctl, which blocks, runs on the main context's thread pool; the worker
 * thread touches only the request it was handed. With multipath
 * (CONFIG_MPATH), a command on a dm-multipath device runs through
 * libmpathpersist instead (scsi/pr-helper-mpath.c), also on the thread
 * pool, one at a time under mpath_lock. All other state (the PRHelper
 * structure and its clients) belongs to the main thread.
 *
 * On SIGTERM, SIGINT or SIGHUP the helper stops accepting clients and
 * shuts the read side of every connection down, so that no new request
 * starts (a request read after the signal is dropped, not run); the
 * commands in flight finish and answer, then every remaining connection
 * is shut down and the helper exits once their coroutines are gone.
 */
#include "qemu/osdep.h"
#include "config-host.h"
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <scsi/sg.h>
#include <glib-unix.h>
#ifdef CONFIG_LIBCAP_NG
#include <cap-ng.h>
#endif
#include "block/aio.h"
#include "block/thread-pool.h"
#include "io/channel-socket.h"
#include "io/net-listener.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "scsi/constants.h"
#include "scsi/pr-helper.h"
#ifdef CONFIG_MPATH
#include "scsi/pr-helper-mpath.h"
#endif
#include "scsi/utils.h"
#include "scsi/trace.h"
#include "qemu/trace-control.h"

#ifndef CONFIG_QEMU_LOCALSTATEDIR
#define CONFIG_QEMU_LOCALSTATEDIR "/var"
#endif

/* systemd passes activated sockets from this fd on */
#define FIRST_SOCKET_ACTIVATION_FD 3

/* SG_IO timeout of a command, in milliseconds */
#define PR_HELPER_SGIO_TIMEOUT_MS 1

typedef struct PRHelperClient PRHelperClient;

/* The whole state of the daemon; owned by the main thread. */
typedef struct PRHelper {
    /* Command line */
    char *socket_path;
    char *pidfile;
    bool pidfile_specified;
    bool daemonize;
    int verbose;
    bool quiet;
    uid_t uid;                  /* (uid_t)-1: keep */
    gid_t gid;                  /* (gid_t)-1: keep */

    /* Runtime */
    QIONetListener *server;
    bool socket_activated;
    bool exiting;               /* a termination signal arrived */
    unsigned int in_flight;     /* commands read and not yet answered */
    GList *clients;             /* PRHelperClient, live coroutines */
    unsigned int serial;        /* names clients in messages */
#ifdef CONFIG_MPATH
    bool mpath;                 /* libmpathpersist is usable */
    CoMutex mpath_lock;         /* one libmpathpersist call at a time */
#endif
} PRHelper;

struct PRHelperClient {
    PRHelper *prh;
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

static void usage(const char *name, const PRHelper *prh)
{
    printf(
"Usage: %s [OPTIONS] FILE\n"
"Persistent Reservation helper program for QEMU\n"
"\n"
"  -h, --help                display this help and exit\n"
"  -V, --version             output version information and exit\n"
"\n"
"  -d, --daemon              run in the background\n"
"  -f, --pidfile=PATH        PID file when running as a daemon\n"
"                            (default '%s')\n"
"  -k, --socket=PATH         path to the unix socket\n"
"                            (default '%s')\n"
"  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
"                            specify tracing options\n"
#ifdef CONFIG_LIBCAP_NG
"  -u, --user=USER           user to drop privileges to\n"
"  -g, --group=GROUP         group to drop privileges to\n"
#endif
"\n"
"See <https://qemu.org/contribute/report-a-bug> for how to report bugs.\n"
"More information on the QEMU project at <https://qemu.org>.\n",
           name, prh->pidfile, prh->socket_path);
}

static void version(const char *name)
{
    printf(
"%s " QEMU_VERSION "\n"
"Persistent reservation helper of the qemu-storage project.\n"
"\n"
"This is free software; see the source for copying conditions.  There is NO\n"
"warranty; not even for MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.\n",
           name);
}

/* Reports @err when verbose, else drops it. */
static void prh_report(PRHelper *prh, Error *err)
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
    PRHelper *prh = client->prh;
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
    PRHelper *prh = client->prh;
    Error *local_err = NULL;
    uint32_t flags = 0;

    /* Handshake: our features, then the client's wishes. */
    if (qio_channel_write_all(client->ioc, (char *)&flags, sizeof(flags),
                              &local_err) < 0) {
        goto out;
    }
    if (qio_channel_read_all(client->ioc, (char *)&flags, sizeof(flags),
                             &local_err) < 0) {
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

static void prh_accept(QIONetListener *listener, QIOChannelSocket *sioc,
                       gpointer opaque)
{
    PRHelper *prh = opaque;
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

/*
 * Start-up
 */

static bool prh_open_socket(PRHelper *prh, Error **errp)
{
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    g_autoptr(QIOChannelSocket) sioc = NULL;
    int fd;

    if (strlen(prh->socket_path) >= sizeof(un.sun_path)) {
        error_setg(errp, "UNIX socket path '%s' is too long",
                   prh->socket_path);
        return false;
    }
    strcpy(un.sun_path, prh->socket_path);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Failed to create socket");
        return false;
    }
    if (unlink(prh->socket_path) < 0 && errno != ENOENT) {
        error_setg_errno(errp, errno, "Failed to unlink socket %s",
                         prh->socket_path);
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
        error_setg_errno(errp, errno, "Failed to bind socket to %s",
                         prh->socket_path);
        goto fail;
    }
    if (listen(fd, 1) < 0) {
        error_setg_errno(errp, errno, "Failed to listen on socket");
        unlink(prh->socket_path);
        goto fail;
    }
    sioc = qio_channel_socket_new_fd(fd, errp);
    if (!sioc) {
        unlink(prh->socket_path);
        goto fail;
    }
    prh->server = qio_net_listener_new();
    qio_net_listener_set_name(prh->server, "pr-helper-listener");
    qio_net_listener_add(prh->server, sioc);
    return true;

fail:
    close(fd);
    return false;
}

static bool prh_take_activated_socket(PRHelper *prh, Error **errp)
{
    g_autoptr(QIOChannelSocket) sioc = NULL;

    sioc = qio_channel_socket_new_fd(FIRST_SOCKET_ACTIVATION_FD, errp);
    if (!sioc) {
        return false;
    }
    prh->server = qio_net_listener_new();
    qio_net_listener_set_name(prh->server, "pr-helper-listener");
    qio_net_listener_add(prh->server, sioc);
    return true;
}

/* Returns: the number of sockets systemd passed us, 0 if none. */
static int prh_check_socket_activation(void)
{
    const char *s;
    unsigned long pid, nfds;
    char *end;

    s = getenv("LISTEN_PID");
    if (!s) {
        return 0;
    }
    errno = 0;
    pid = strtoul(s, &end, 10);
    if (errno || *end || end == s || pid != (unsigned long)getpid()) {
        return 0;
    }
    s = getenv("LISTEN_FDS");
    if (!s) {
        return 0;
    }
    errno = 0;
    nfds = strtoul(s, &end, 10);
    if (errno || *end || end == s || nfds > INT_MAX) {
        return 0;
    }
    return nfds;
}

static bool prh_write_pidfile(const char *path, Error **errp)
{
    g_autofree char *content = g_strdup_printf("%d\n", (int)getpid());
    size_t len = strlen(content);
    int fd;

    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not create '%s'", path);
        return false;
    }
    if (lockf(fd, F_TLOCK, 0) < 0) {
        error_setg_errno(errp, errno, "Cannot lock pid file '%s'", path);
        close(fd);
        return false;
    }
    if (ftruncate(fd, 0) < 0 || write(fd, content, len) != len) {
        error_setg_errno(errp, errno, "Failed to write pid file '%s'", path);
        close(fd);
        return false;
    }
    /* Keep fd open: the lock lasts as long as the process. */
    return true;
}

#ifdef CONFIG_LIBCAP_NG
static int prh_drop_privileges(PRHelper *prh)
{
    /* Nothing survives but what SG_IO on a passed fd needs. */
    capng_clear(CAPNG_SELECT_BOTH);
    if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
                     CAP_SYS_RAWIO) < 0) {
        return -1;
    }
#ifdef CONFIG_MPATH
    if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
                     CAP_SYS_ADMIN) < 0) {
        return -1;
    }
#endif
    /*
     * Device fds arrive over SCM_RIGHTS, so no supplementary group is
     * needed: the helper can run as "nobody".
     */
    if (capng_change_id(prh->uid != (uid_t)-1 ? prh->uid : getuid(),
                        prh->gid != (gid_t)-1 ? prh->gid : getgid(),
                        CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING)) {
        return -1;
    }
    return 0;
}
#endif

static gboolean prh_on_signal(gpointer opaque)
{
    PRHelper *prh = opaque;

    prh->exiting = true;
    return G_SOURCE_CONTINUE;
}

static void prh_shutdown_clients(PRHelper *prh, QIOChannelShutdown how)
{
    GList *l;

    for (l = prh->clients; l; l = l->next) {
        PRHelperClient *client = l->data;

        qio_channel_shutdown(client->ioc, how, NULL);
    }
}

static void prh_run(PRHelper *prh)
{
    guint sig[3];

    sig[0] = g_unix_signal_add(SIGTERM, prh_on_signal, prh);
    sig[1] = g_unix_signal_add(SIGINT, prh_on_signal, prh);
    sig[2] = g_unix_signal_add(SIGHUP, prh_on_signal, prh);

    qio_net_listener_set_client_func(prh->server, prh_accept, prh, NULL);

    while (!prh->exiting) {
        main_loop_wait(false);
    }

    /*
     * Stop accepting and reading: a client waiting for a request sees end
     * of file and goes, and nothing new starts. Commands in flight finish
     * and their replies go out; then hang up on whoever is left.
     */
    qio_net_listener_set_client_func(prh->server, NULL, NULL, NULL);
    prh_shutdown_clients(prh, QIO_CHANNEL_SHUTDOWN_READ);
    while (prh->in_flight > 0) {
        main_loop_wait(false);
    }
    prh_shutdown_clients(prh, QIO_CHANNEL_SHUTDOWN_BOTH);
    while (prh->clients) {
        main_loop_wait(false);
    }

    g_source_remove(sig[0]);
    g_source_remove(sig[1]);
    g_source_remove(sig[2]);
}

int main(int argc, char **argv)
{
    const char *sopt = "hVk:f:dT:u:g:vq";
    const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "socket", required_argument, NULL, 'k' },
        { "pidfile", required_argument, NULL, 'f' },
        { "daemon", no_argument, NULL, 'd' },
        { "trace", required_argument, NULL, 'T' },
        { "user", required_argument, NULL, 'u' },
        { "group", required_argument, NULL, 'g' },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { NULL, 0, NULL, 0 }
    };
    PRHelper prh = {
        .socket_path = g_strdup(CONFIG_QEMU_LOCALSTATEDIR
                                "/run/qemu-pr-helper.sock"),
        .pidfile = g_strdup(CONFIG_QEMU_LOCALSTATEDIR
                            "/run/qemu-pr-helper.pid"),
        .uid = (uid_t)-1,
        .gid = (gid_t)-1,
    };
    bool socket_specified = false;
    unsigned int id;
    Error *local_err = NULL;
    int activated;
    int opt_ind = 0;
    int ch;

    signal(SIGPIPE, SIG_IGN);
    error_set_progname(argv[0]);

    while ((ch = getopt_long(argc, argv, sopt, lopt, &opt_ind)) != -1) {
        switch (ch) {
        case 'k':
            g_free(prh.socket_path);
            prh.socket_path = g_strdup(optarg);
            socket_specified = true;
            if (prh.socket_path[0] != '/') {
                error_report("socket path must be absolute");
                exit(EXIT_FAILURE);
            }
            break;
        case 'f':
            g_free(prh.pidfile);
            prh.pidfile = g_strdup(optarg);
            prh.pidfile_specified = true;
            break;
#ifdef CONFIG_LIBCAP_NG
        case 'u': {
            struct passwd *userinfo = getpwnam(optarg);

            if (userinfo) {
                prh.uid = userinfo->pw_uid;
            } else if (qemu_strtoui(optarg, NULL, 10, &id) < 0) {
                error_report("invalid user '%s'", optarg);
                exit(EXIT_FAILURE);
            } else {
                prh.uid = id;
            }
            break;
        }
        case 'g': {
            struct group *groupinfo = getgrnam(optarg);

            if (groupinfo) {
                prh.gid = groupinfo->gr_gid;
            } else if (qemu_strtoui(optarg, NULL, 10, &id) < 0) {
                error_report("invalid group '%s'", optarg);
                exit(EXIT_FAILURE);
            } else {
                prh.gid = id;
            }
            break;
        }
#else
        case 'u':
        case 'g':
            error_report("-%c not supported by this %s", ch, argv[0]);
            exit(EXIT_FAILURE);
#endif
        case 'd':
            prh.daemonize = true;
            break;
        case 'q':
            prh.quiet = true;
            break;
        case 'v':
            prh.verbose++;
            break;
        case 'T':
            if (!trace_opt_parse(optarg, &local_err)) {
                error_report_err(local_err);
                exit(EXIT_FAILURE);
            }
            break;
        case 'V':
            version(argv[0]);
            exit(EXIT_SUCCESS);
        case 'h':
            usage(argv[0], &prh);
            exit(EXIT_SUCCESS);
        case '?':
            error_report("Try `%s --help' for more information.", argv[0]);
            exit(EXIT_FAILURE);
        }
    }

    activated = prh_check_socket_activation();
    if (activated == 0) {
        if (!prh_open_socket(&prh, &local_err)) {
            error_report_err(local_err);
            exit(EXIT_FAILURE);
        }
    } else {
        if (activated > 1) {
            error_report("%s does not support socket activation with "
                         "LISTEN_FDS > 1", argv[0]);
            exit(EXIT_FAILURE);
        }
        if (socket_specified) {
            error_report("Unix socket can't be set when using socket "
                         "activation");
            exit(EXIT_FAILURE);
        }
        if (!prh_take_activated_socket(&prh, &local_err)) {
            error_report_err(local_err);
            exit(EXIT_FAILURE);
        }
        prh.socket_activated = true;
    }

    if (prh.daemonize && daemon(0, 0) < 0) {
        error_report("Failed to daemonize: %s", strerror(errno));
        exit(EXIT_FAILURE);
    }
    if ((prh.daemonize || prh.pidfile_specified) &&
        !prh_write_pidfile(prh.pidfile, &local_err)) {
        error_report_err(local_err);
        exit(EXIT_FAILURE);
    }

#ifdef CONFIG_MPATH
    /* The configuration is read while every file is still readable. */
    qemu_co_mutex_init(&prh.mpath_lock);
    prh.mpath = pr_helper_mpath_init(prh.verbose > 0, &local_err) > 0;
    if (local_err) {
        warn_report_err(local_err);
        local_err = NULL;
    }
#endif

#ifdef CONFIG_LIBCAP_NG
    if (prh_drop_privileges(&prh) < 0) {
        error_report("Failed to drop privileges: %s", strerror(errno));
        exit(EXIT_FAILURE);
    }
#endif

    if (qemu_init_main_loop(&local_err) < 0) {
        error_report_err(local_err);
        exit(EXIT_FAILURE);
    }

    prh_run(&prh);

    qio_net_listener_disconnect(prh.server);
    object_unref(OBJECT(prh.server));
    if (!prh.socket_activated && unlink(prh.socket_path) < 0 &&
        errno != ENOENT) {
        error_report("Failed to unlink socket %s: %s", prh.socket_path,
                     strerror(errno));
    }
    g_free(prh.socket_path);
    g_free(prh.pidfile);
    return EXIT_SUCCESS;
}
