/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Daemonizing once ready (see include/qemu/daemonize.h). One pipe between
 * parent and child: a byte on it means "ready", end of file without one
 * means the child died or gave up, and the parent reports its status.
 */
#include "qemu/osdep.h"
#include <sys/wait.h>
#include "qemu/daemonize.h"
#include "qapi/error.h"

static void G_GNUC_NORETURN qemu_daemon_parent(int rfd, pid_t child)
{
    int status;
    ssize_t n;
    char c;

    do {
        n = read(rfd, &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n == 1) {
        exit(EXIT_SUCCESS);
    }
    /* The child failed, and said why on its standard error. */
    if (waitpid(child, &status, 0) == child && WIFEXITED(status) &&
        WEXITSTATUS(status)) {
        exit(WEXITSTATUS(status));
    }
    exit(EXIT_FAILURE);
}

int qemu_daemon_fork(Error **errp)
{
    int pfd[2];
    pid_t pid;

    if (pipe(pfd) < 0) {
        error_setg_errno(errp, errno, "Cannot create a pipe to the "
                         "background process");
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        error_setg_errno(errp, errno, "Cannot fork");
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid > 0) {
        close(pfd[1]);
        qemu_daemon_parent(pfd[0], pid);
    }
    close(pfd[0]);
    setsid();
    return pfd[1];
}

void qemu_daemon_ready(int *ready_fd, bool keep_stderr)
{
    int fd;

    if (*ready_fd < 0) {
        return;
    }
    /* Let go of the terminal and of the parent's pipes. */
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        if (!keep_stderr) {
            dup2(fd, STDERR_FILENO);
        }
        if (fd > STDERR_FILENO) {
            close(fd);
        }
    }
    if (write(*ready_fd, "", 1) != 1) {
        /* The parent is gone already; carry on. */
    }
    close(*ready_fd);
    *ready_fd = -1;
}
