/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelFile: a channel over a file descriptor that is not a socket
 * (a regular file, a pipe, a character device).
 *
 * Reads and writes go through readv()/writev() at the fd's current
 * offset. Regular files are always ready, so a coroutine reading or
 * writing one never yields; pipes and devices in non-blocking mode report
 * QIO_CHANNEL_ERR_BLOCK and are waited for like sockets. File descriptors
 * cannot be passed over a file channel.
 */
#ifndef QIO_CHANNEL_FILE_H
#define QIO_CHANNEL_FILE_H

#include <sys/types.h>

#include "io/channel.h"

#define TYPE_QIO_CHANNEL_FILE "qio-channel-file"
OBJECT_DECLARE_SIMPLE_TYPE(QIOChannelFile, QIO_CHANNEL_FILE)

struct QIOChannelFile {
    QIOChannel parent;
    int fd;         /* owned; -1 once closed */
};

/**
 * qio_channel_file_new_fd:
 * @fd: an open file descriptor
 *
 * Wraps @fd in a channel, which takes ownership of it: closing or
 * finalizing the channel closes @fd. The channel gets
 * QIO_CHANNEL_FEATURE_SEEKABLE when lseek() works on @fd. Any thread.
 *
 * Returns: (transfer full): the new channel; it cannot fail.
 */
QIOChannelFile *qio_channel_file_new_fd(int fd);

/**
 * qio_channel_file_new_dupfd:
 * @fd: an open file descriptor, which stays the caller's
 * @errp: error object
 *
 * Wraps a duplicate of @fd (close-on-exec) in a channel, which owns the
 * duplicate. Any thread.
 *
 * Returns: (transfer full): the new channel, or NULL with @errp set if
 * @fd cannot be duplicated.
 */
QIOChannelFile *qio_channel_file_new_dupfd(int fd, Error **errp);

/**
 * qio_channel_file_new_path:
 * @path: the file to open
 * @flags: open() flags; O_CLOEXEC is always added
 * @mode: permissions for a file that O_CREAT creates
 * @errp: error object
 *
 * Opens @path and wraps the new fd in a channel that owns it. Any thread.
 *
 * Returns: (transfer full): the new channel, or NULL with @errp set to a
 * message naming @path and the reason when open() fails.
 */
QIOChannelFile *qio_channel_file_new_path(const char *path, int flags,
                                          mode_t mode, Error **errp);

#endif /* QIO_CHANNEL_FILE_H */
