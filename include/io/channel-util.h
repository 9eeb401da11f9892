/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the fd-based channel backends.
 */
#ifndef QIO_CHANNEL_UTIL_H
#define QIO_CHANNEL_UTIL_H

#include "io/channel.h"

/**
 * qio_channel_util_set_aio_fd_handler:
 * The per-direction rule of the channel contract, for backends whose
 * directions are fds: when both directions use the same fd in the same
 * context, one aio_set_fd_handler() call sets both handlers; otherwise
 * each direction with a non-NULL context gets its own call, and a
 * direction with a NULL context is left alone.
 */
void qio_channel_util_set_aio_fd_handler(int read_fd, AioContext *read_ctx,
                                         IOHandler *io_read, int write_fd,
                                         AioContext *write_ctx,
                                         IOHandler *io_write, void *opaque);

/* A new QIOChannel for an fd: a socket channel for sockets, else a file. */
QIOChannel *qio_channel_new_fd(int fd, Error **errp);

#endif /* QIO_CHANNEL_UTIL_H */
