/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelCommand: a channel to a child process over two pipes.
 *
 * Theory of operation: reads use only readfd and writes only writefd, so
 * a reader and a writer may run in two threads (or two contexts) without
 * sharing anything. Shutdown, close and finalize change the fds and must
 * not race with I/O or with a coroutine waiting on the direction they
 * close; that is the caller's to ensure, as for any channel.
 *
 * Closing closes both pipes, which tells the child that its input ended,
 * then reaps it. A child that is still running after a grace period gets
 * SIGTERM, and SIGKILL after a second one: close() blocks for at most the
 * two periods plus the time SIGKILL takes.
 */
#include "qemu/osdep.h"
#include "io/channel-command.h"
#include "io/channel-util.h"
#include "io/channel-watch.h"
#include "qapi/error.h"

#include <sys/wait.h>

/* How long a child may take to exit once its pipes are closed. */
#define QIO_CHANNEL_COMMAND_EXIT_GRACE_MS 1000
/* How long it may take to exit after SIGTERM before it gets SIGKILL. */
#define QIO_CHANNEL_COMMAND_TERM_GRACE_MS 1000

/* Sets @errp to "<label>: <formatted text>". */
static void G_GNUC_PRINTF(3, 4)
qio_channel_command_error(QIOChannelCommand *cioc, Error **errp,
                          const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(errp, "%s: %s", cioc->label, what);
}

/* "SIGTERM" for SIGTERM; a made-up name for signals we do not list. */
static const char *qio_channel_command_signame(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        { SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" },
        { SIGILL, "SIGILL" }, { SIGTRAP, "SIGTRAP" },
        { SIGABRT, "SIGABRT" }, { SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" },
        { SIGKILL, "SIGKILL" }, { SIGUSR1, "SIGUSR1" },
        { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" },
        { SIGPIPE, "SIGPIPE" }, { SIGALRM, "SIGALRM" },
        { SIGTERM, "SIGTERM" }, { SIGCHLD, "SIGCHLD" },
        { SIGCONT, "SIGCONT" }, { SIGSTOP, "SIGSTOP" },
        { SIGTSTP, "SIGTSTP" }, { SIGTTIN, "SIGTTIN" },
        { SIGTTOU, "SIGTTOU" }, { SIGURG, "SIGURG" }, { SIGXCPU, "SIGXCPU" },
        { SIGXFSZ, "SIGXFSZ" }, { SIGVTALRM, "SIGVTALRM" },
        { SIGPROF, "SIGPROF" }, { SIGWINCH, "SIGWINCH" }, { SIGIO, "SIGIO" },
        { SIGSYS, "SIGSYS" },
    };
    size_t i;

    for (i = 0; i < G_N_ELEMENTS(names); i++) {
        if (names[i].sig == sig) {
            return names[i].name;
        }
    }
    if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
        return "a real-time signal";
    }
    return "unknown signal";
}

/*
 * Runs in the child between fork and exec, so only async-signal-safe
 * calls: the command starts with every signal at its default action and
 * none blocked, whatever the spawning thread had (ignored SIGPIPE,
 * signals blocked for an event loop).
 */
static void qio_channel_command_child_setup(gpointer opaque)
{
    struct sigaction sa;
    sigset_t none;
    int sig;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++) {
        /* Fails harmlessly for SIGKILL, SIGSTOP and libc's own signals. */
        sigaction(sig, &sa, NULL);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

QIOChannelCommand *qio_channel_command_new_pid(int writefd, int readfd,
                                               GPid pid)
{
    QIOChannelCommand *cioc =
        QIO_CHANNEL_COMMAND(object_new(TYPE_QIO_CHANNEL_COMMAND));

    cioc->writefd = writefd;
    cioc->readfd = readfd;
    cioc->pid = pid;
    cioc->label = g_strdup_printf("command with pid %d", (int)pid);
    qio_channel_set_feature(QIO_CHANNEL(cioc), QIO_CHANNEL_FEATURE_SHUTDOWN);
    return cioc;
}

QIOChannelCommand *qio_channel_command_new_spawn(const char *const argv[],
                                                 int flags, Error **errp)
{
    int mode = flags & O_ACCMODE;
    GSpawnFlags spawn_flags = G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD;
    g_autoptr(GError) gerr = NULL;
    QIOChannelCommand *cioc;
    int writefd = -1, readfd = -1;
    GPid pid;

    if (!argv || !argv[0] || !argv[0][0]) {
        error_setg(errp, "Unable to start a command: no program given");
        return NULL;
    }
    if (mode != O_RDONLY && mode != O_WRONLY && mode != O_RDWR) {
        error_setg(errp, "Unable to start command '%s': access mode 0x%x "
                   "is none of O_RDONLY, O_WRONLY and O_RDWR", argv[0],
                   mode);
        return NULL;
    }
    if (mode == O_WRONLY) {
        spawn_flags |= G_SPAWN_STDOUT_TO_DEV_NULL;
    }

    /* A NULL pointer for the stdin pipe gives the child /dev/null. */
    if (!g_spawn_async_with_pipes(NULL, (char **)argv, NULL, spawn_flags,
                                  qio_channel_command_child_setup, NULL,
                                  &pid,
                                  mode != O_RDONLY ? &writefd : NULL,
                                  mode != O_WRONLY ? &readfd : NULL,
                                  NULL, &gerr)) {
        error_setg(errp, "Unable to start command '%s': %s", argv[0],
                   gerr->message);
        return NULL;
    }

    /* Keep our ends out of other children. */
    if (writefd >= 0) {
        fcntl(writefd, F_SETFD, FD_CLOEXEC);
    }
    if (readfd >= 0) {
        fcntl(readfd, F_SETFD, FD_CLOEXEC);
    }

    cioc = qio_channel_command_new_pid(writefd, readfd, pid);
    g_free(cioc->label);
    cioc->label = g_strdup_printf("command '%s'", argv[0]);
    return cioc;
}

static ssize_t qio_channel_command_readv(QIOChannel *ioc,
                                         const struct iovec *iov,
                                         size_t niov, int **fds,
                                         size_t *nfds, int flags,
                                         Error **errp)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);
    ssize_t ret;

    if (fds || nfds) {
        qio_channel_command_error(cioc, errp,
                                  "cannot receive file descriptors");
        return -1;
    }
    if (flags) {
        qio_channel_command_error(cioc, errp, "unsupported read flags 0x%x",
                                  flags);
        return -1;
    }
    if (cioc->readfd < 0) {
        if (cioc->read_shut) {
            return 0;
        }
        qio_channel_command_error(cioc, errp,
                                  "cannot read: no pipe from its output");
        return -1;
    }

    do {
        ret = readv(cioc->readfd, iov, MIN(niov, (size_t)IOV_MAX));
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        int err = errno;

        if (err == EAGAIN || err == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        qio_channel_command_error(cioc, errp, "unable to read: %s",
                                  g_strerror(err));
        return -1;
    }
    return ret;
}

static ssize_t qio_channel_command_writev(QIOChannel *ioc,
                                          const struct iovec *iov,
                                          size_t niov, int *fds,
                                          size_t nfds, int flags,
                                          Error **errp)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);
    ssize_t ret;

    if (fds || nfds) {
        qio_channel_command_error(cioc, errp, "cannot send file descriptors");
        return -1;
    }
    if (flags) {
        qio_channel_command_error(cioc, errp,
                                  "unsupported write flags 0x%x", flags);
        return -1;
    }
    if (cioc->writefd < 0) {
        qio_channel_command_error(cioc, errp, "cannot write: %s",
                                  cioc->write_shut ?
                                  "its input was shut down" :
                                  "no pipe to its input");
        return -1;
    }

    do {
        ret = writev(cioc->writefd, iov, MIN(niov, (size_t)IOV_MAX));
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        int err = errno;

        if (err == EAGAIN || err == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        qio_channel_command_error(cioc, errp, "unable to write: %s",
                                  g_strerror(err));
        return -1;
    }
    return ret;
}

/* Returns 0, or a negative errno. */
static int qio_channel_command_fd_set_blocking(int fd, bool enabled)
{
    int fl, newfl;

    if (fd < 0) {
        return 0;
    }
    fl = fcntl(fd, F_GETFL);
    if (fl < 0) {
        return -errno;
    }
    newfl = enabled ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
    if (newfl != fl && fcntl(fd, F_SETFL, newfl) < 0) {
        return -errno;
    }
    return 0;
}

static int qio_channel_command_set_blocking(QIOChannel *ioc, bool enabled,
                                            Error **errp)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);
    int ret;

    ret = qio_channel_command_fd_set_blocking(cioc->writefd, enabled);
    if (ret == 0) {
        ret = qio_channel_command_fd_set_blocking(cioc->readfd, enabled);
    }
    if (ret < 0) {
        qio_channel_command_error(cioc, errp, "unable to make its pipes %s: "
                                  "%s", enabled ? "blocking" : "non-blocking",
                                  g_strerror(-ret));
        return -1;
    }
    return 0;
}

/*
 * Forgets the fd in *@fdp, closing it unless the other direction uses the
 * same fd (a channel made by new_pid over one socket). Closing a pipe
 * cannot fail in a way that leaves it open, so errors are not reported.
 */
static void qio_channel_command_drop_fd(QIOChannelCommand *cioc, int *fdp)
{
    int fd = *fdp;

    *fdp = -1;
    if (fd >= 0 && fd != cioc->readfd && fd != cioc->writefd) {
        close(fd);
    }
}

static int qio_channel_command_shutdown(QIOChannel *ioc,
                                        QIOChannelShutdown how, Error **errp)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);

    if (how & QIO_CHANNEL_SHUTDOWN_WRITE) {
        cioc->write_shut = true;
        qio_channel_command_drop_fd(cioc, &cioc->writefd);
    }
    if (how & QIO_CHANNEL_SHUTDOWN_READ) {
        cioc->read_shut = true;
        qio_channel_command_drop_fd(cioc, &cioc->readfd);
    }
    return 0;
}

/*
 * Waits for @pid to exit, for at most @ms milliseconds (forever if @ms is
 * negative). Returns 1 when it was reaped (*@status set), 0 if it still
 * runs, -1 with errno set if waitpid() failed.
 */
static int qio_channel_command_wait_exit(GPid pid, int *status, int ms)
{
    int64_t deadline = g_get_monotonic_time() + (int64_t)ms * 1000;
    gulong step_us = 50;

    for (;;) {
        pid_t ret = waitpid(pid, status, ms < 0 ? 0 : WNOHANG);

        if (ret == pid) {
            return 1;
        }
        if (ret < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        if (g_get_monotonic_time() >= deadline) {
            return 0;
        }
        g_usleep(step_us);
        step_us = MIN(step_us * 2, 10000);
    }
}

/*
 * Reaps the child, whose pipes are closed, and turns a failure into an
 * error. Returns 0, or -1 with @errp set.
 */
static int qio_channel_command_reap(QIOChannelCommand *cioc, Error **errp)
{
    GPid pid = cioc->pid;
    int sent = 0;
    int status = 0;
    int ret;

    if (pid <= 0) {
        return 0;
    }
    ret = qio_channel_command_wait_exit(pid, &status,
                                        QIO_CHANNEL_COMMAND_EXIT_GRACE_MS);
    if (ret == 0) {
        sent = SIGTERM;
        kill(pid, SIGTERM);
        ret = qio_channel_command_wait_exit(
            pid, &status, QIO_CHANNEL_COMMAND_TERM_GRACE_MS);
    }
    if (ret == 0) {
        sent = SIGKILL;
        kill(pid, SIGKILL);
        ret = qio_channel_command_wait_exit(pid, &status, -1);
    }
    if (ret < 0) {
        int err = errno;

        /* Nothing more can be learnt about this pid: forget it. */
        cioc->pid = -1;
        qio_channel_command_error(cioc, errp, "unable to wait for it to "
                                  "exit: %s", g_strerror(err));
        return -1;
    }
    cioc->pid = -1;

    if (WIFEXITED(status)) {
        if (WEXITSTATUS(status) != 0) {
            error_setg(errp, "%s exited with status %d", cioc->label,
                       WEXITSTATUS(status));
            return -1;
        }
        return 0;
    }
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);

        if (sent) {
            error_setg(errp, "%s did not exit within %d ms after its pipes "
                       "were closed and was killed by signal %d (%s)",
                       cioc->label, sent == SIGTERM ?
                       QIO_CHANNEL_COMMAND_EXIT_GRACE_MS :
                       QIO_CHANNEL_COMMAND_EXIT_GRACE_MS +
                       QIO_CHANNEL_COMMAND_TERM_GRACE_MS,
                       sig, qio_channel_command_signame(sig));
        } else {
            error_setg(errp, "%s was killed by signal %d (%s)", cioc->label,
                       sig, qio_channel_command_signame(sig));
        }
        return -1;
    }
    return 0;
}

static int qio_channel_command_close(QIOChannel *ioc, Error **errp)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);

    /* The write side first: the child sees the end of its input. */
    qio_channel_command_drop_fd(cioc, &cioc->writefd);
    qio_channel_command_drop_fd(cioc, &cioc->readfd);
    return qio_channel_command_reap(cioc, errp);
}

static GSource *qio_channel_command_create_watch(QIOChannel *ioc,
                                                 GIOCondition condition)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);

    return qio_channel_create_fd_pair_watch(ioc, cioc->readfd,
                                            cioc->writefd, condition);
}

static void qio_channel_command_set_aio_fd_handler(QIOChannel *ioc,
                                                   AioContext *read_ctx,
                                                   IOHandler *io_read,
                                                   AioContext *write_ctx,
                                                   IOHandler *io_write,
                                                   void *opaque)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(ioc);

    /* A direction without a pipe has nothing to watch. */
    qio_channel_util_set_aio_fd_handler(cioc->readfd,
                                        cioc->readfd >= 0 ? read_ctx : NULL,
                                        io_read, cioc->writefd,
                                        cioc->writefd >= 0 ? write_ctx : NULL,
                                        io_write, opaque);
}

static void qio_channel_command_init(Object *obj)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(obj);

    cioc->writefd = -1;
    cioc->readfd = -1;
    cioc->pid = -1;
}

static void qio_channel_command_finalize(Object *obj)
{
    QIOChannelCommand *cioc = QIO_CHANNEL_COMMAND(obj);

    /* Whoever drops the last reference without closing ignores errors. */
    qio_channel_command_close(QIO_CHANNEL(cioc), NULL);
    g_free(cioc->label);
}

static void qio_channel_command_class_init(ObjectClass *klass, void *data)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    ioc_klass->io_readv = qio_channel_command_readv;
    ioc_klass->io_writev = qio_channel_command_writev;
    ioc_klass->io_close = qio_channel_command_close;
    ioc_klass->io_create_watch = qio_channel_command_create_watch;
    ioc_klass->io_set_blocking = qio_channel_command_set_blocking;
    ioc_klass->io_shutdown = qio_channel_command_shutdown;
    ioc_klass->io_set_aio_fd_handler = qio_channel_command_set_aio_fd_handler;
}

static const TypeInfo qio_channel_command_info = {
    .name = TYPE_QIO_CHANNEL_COMMAND,
    .parent = TYPE_QIO_CHANNEL,
    .instance_size = sizeof(QIOChannelCommand),
    .instance_init = qio_channel_command_init,
    .instance_finalize = qio_channel_command_finalize,
    .class_init = qio_channel_command_class_init,
};

static void qio_channel_command_register_types(void)
{
    type_register_static(&qio_channel_command_info);
}

type_init(qio_channel_command_register_types)
