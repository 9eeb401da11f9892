/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelCommand: a channel to a child process, over a pipe to its
 * standard input and a pipe from its standard output.
 *
 * Writes go to the child's stdin, reads come from its stdout; its stderr
 * is the parent's. The two directions use separate fds, so a reader and a
 * writer may run in different threads or coroutines at once.
 * qio_channel_shutdown() closes a direction's pipe (so no coroutine may
 * be waiting on that direction): shutting down the write side is how the
 * child is told that its input has ended; reads after shutting down the
 * read side give end of file. Closing
 * the channel closes both pipes and reaps the child, reporting a failed
 * exit status or a death by signal as an error. A child still running a
 * second after its pipes closed gets SIGTERM, and SIGKILL a second later,
 * so closing (or dropping the last reference) blocks the calling thread
 * for up to about two seconds when the child lingers.
 *
 * A write to a child that has exited raises SIGPIPE: programs using this
 * channel ignore SIGPIPE (as all of ours do) to get an EPIPE error.
 */
#ifndef QIO_CHANNEL_COMMAND_H
#define QIO_CHANNEL_COMMAND_H

#include "io/channel.h"

#define TYPE_QIO_CHANNEL_COMMAND "qio-channel-command"
OBJECT_DECLARE_SIMPLE_TYPE(QIOChannelCommand, QIO_CHANNEL_COMMAND)

struct QIOChannelCommand {
    QIOChannel parent;
    int writefd;        /* the child's stdin; -1 if none or shut down */
    int readfd;         /* the child's stdout; -1 if none or shut down */
    GPid pid;           /* the child; -1 once reaped */
    /* private: */
    char *label;        /* "command 'argv[0]'" or "command with pid N" */
    bool read_shut;     /* readfd was closed by a shutdown: reads give EOF */
    bool write_shut;    /* writefd was closed by a shutdown */
};

/**
 * qio_channel_command_new_pid:
 * @writefd: the write end of a pipe to the child's stdin, or -1
 * @readfd: the read end of a pipe from the child's stdout, or -1
 * @pid: a child of this process that nobody else reaps
 *
 * Wraps an already running child. The channel takes ownership of both
 * fds and of reaping @pid. Any thread.
 *
 * Returns: (transfer full): the new channel; it cannot fail.
 */
QIOChannelCommand *qio_channel_command_new_pid(int writefd, int readfd,
                                               GPid pid);

/**
 * qio_channel_command_new_spawn:
 * @argv: the command and its arguments, NULL-terminated; argv[0] is
 *        looked up in PATH
 * @flags: O_RDWR for pipes both ways, O_WRONLY to only write to the
 *         child (its stdout goes to /dev/null), O_RDONLY to only read
 *         from it (its stdin comes from /dev/null)
 * @errp: error object
 *
 * Starts @argv with default signal dispositions and no other fd of ours
 * open, and wraps it in a blocking channel. Any thread.
 *
 * Returns: (transfer full): the new channel, or NULL with @errp set when
 * the program cannot be started (not found, not executable...).
 */
QIOChannelCommand *qio_channel_command_new_spawn(const char *const argv[],
                                                 int flags, Error **errp);

#endif /* QIO_CHANNEL_COMMAND_H */
