/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Going to the background only once ready: the parent process stays in
 * the foreground until the child says it is serving (every socket
 * listens), so a script that starts a daemon can use it as soon as the
 * command returns, and sees the child's exit status if it fails first.
 * Used by qemu-nbd --fork and qemu-storage-daemon --daemonize.
 */
#ifndef QEMU_DAEMONIZE_H
#define QEMU_DAEMONIZE_H

/**
 * qemu_daemon_fork:
 * @errp: set when the pipe or the fork cannot be made
 *
 * Forks. The parent never returns: it exits with status 0 once the child
 * calls qemu_daemon_ready(), or with the child's exit status (1 if it has
 * none) when the child ends first. The child starts a new session and
 * gets the write end of the pipe. Call it before any thread exists.
 *
 * Returns: in the child, the descriptor to pass to qemu_daemon_ready();
 * -1 with @errp set on failure (in the only process there is).
 */
int qemu_daemon_fork(Error **errp);

/**
 * qemu_daemon_ready:
 * @ready_fd: what qemu_daemon_fork() returned, or -1 (nothing to do)
 * @keep_stderr: leave standard error open (qemu-nbd --verbose)
 *
 * Points standard input and output (and error, unless @keep_stderr) at
 * /dev/null, then lets the parent exit with status 0. Closes @ready_fd,
 * and sets *@ready_fd to -1 so that a second call does nothing.
 */
void qemu_daemon_ready(int *ready_fd, bool keep_stderr);

#endif /* QEMU_DAEMONIZE_H */
