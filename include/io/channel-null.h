/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelNull: a channel that reads nothing and accepts everything,
 * like /dev/null, without any fd.
 *
 * Reads report end of file and writes report every byte written, until
 * the channel is closed; after that both fail. It never blocks, so it has
 * no fd handlers: its watches are ready at once for whatever they are
 * asked.
 */
#ifndef QIO_CHANNEL_NULL_H
#define QIO_CHANNEL_NULL_H

#include "io/channel.h"

#define TYPE_QIO_CHANNEL_NULL "qio-channel-null"
OBJECT_DECLARE_SIMPLE_TYPE(QIOChannelNull, QIO_CHANNEL_NULL)

struct QIOChannelNull {
    QIOChannel parent;
    bool closed;        /* set by qio_channel_close() */
};

/**
 * qio_channel_null_new:
 *
 * Makes a null channel. Any thread.
 *
 * Returns: (transfer full): the new channel; it cannot fail.
 */
QIOChannelNull *qio_channel_null_new(void);

#endif /* QIO_CHANNEL_NULL_H */
