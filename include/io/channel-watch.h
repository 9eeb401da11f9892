/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GSources watching the fds of a channel, for the backends'
 * io_create_watch.
 */
#ifndef QIO_CHANNEL_WATCH_H
#define QIO_CHANNEL_WATCH_H

#include "io/channel.h"

/* Fires when @condition holds on @fd; the callback is a QIOChannelFunc. */
GSource *qio_channel_create_fd_watch(QIOChannel *ioc, int fd,
                                     GIOCondition condition);

/*
 * For channels with separate read and write fds: G_IO_IN is watched on
 * @fdread and G_IO_OUT on @fdwrite.
 */
GSource *qio_channel_create_fd_pair_watch(QIOChannel *ioc, int fdread,
                                          int fdwrite,
                                          GIOCondition condition);

/* Sockets: the same as an fd watch on Linux. */
GSource *qio_channel_create_socket_watch(QIOChannel *ioc, int sockfd,
                                         GIOCondition condition);

#endif /* QIO_CHANNEL_WATCH_H */
