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
#include "scsi/pr-helper-server.h"
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
    PRHelperServer srv;         /* the clients and their commands */
} PRHelper;

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

static void prh_accept(QIONetListener *listener, QIOChannelSocket *sioc,
                       gpointer opaque)
{
    PRHelper *prh = opaque;

    pr_helper_server_add_client(&prh->srv, sioc);
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

    prh->srv.exiting = true;
    return G_SOURCE_CONTINUE;
}

static void prh_run(PRHelper *prh)
{
    guint sig[3];

    sig[0] = g_unix_signal_add(SIGTERM, prh_on_signal, prh);
    sig[1] = g_unix_signal_add(SIGINT, prh_on_signal, prh);
    sig[2] = g_unix_signal_add(SIGHUP, prh_on_signal, prh);

    qio_net_listener_set_client_func(prh->server, prh_accept, prh, NULL);

    while (!prh->srv.exiting) {
        main_loop_wait(false);
    }

    /*
     * Stop accepting and reading: a client waiting for a request sees end
     * of file and goes, and nothing new starts. Commands in flight finish
     * and their replies go out; then hang up on whoever is left.
     */
    qio_net_listener_set_client_func(prh->server, NULL, NULL, NULL);
    pr_helper_server_shutdown_clients(&prh->srv, QIO_CHANNEL_SHUTDOWN_READ);
    while (prh->srv.in_flight > 0) {
        main_loop_wait(false);
    }
    pr_helper_server_shutdown_clients(&prh->srv, QIO_CHANNEL_SHUTDOWN_BOTH);
    while (prh->srv.clients) {
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
    qemu_co_mutex_init(&prh.srv.mpath_lock);
    prh.srv.verbose = prh.verbose;
    prh.srv.mpath = pr_helper_mpath_init(prh.verbose > 0, &local_err) > 0;
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
