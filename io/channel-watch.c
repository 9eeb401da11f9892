/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fd watches for channels: GSources that call a QIOChannelFunc when the
 * channel's fd(s) are ready.
 */
#include "qemu/osdep.h"
#include "io/channel-watch.h"

typedef struct QIOChannelFDSource {
    GSource parent;
    QIOChannel *ioc;
    gpointer read_tag;
    gpointer write_tag;
    GIOCondition condition;
} QIOChannelFDSource;

static gboolean fd_source_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return FALSE;
}

static GIOCondition fd_source_revents(QIOChannelFDSource *src)
{
    GIOCondition revents = 0;

    if (src->read_tag) {
        revents |= g_source_query_unix_fd(&src->parent, src->read_tag);
    }
    if (src->write_tag) {
        revents |= g_source_query_unix_fd(&src->parent, src->write_tag);
    }
    return revents & src->condition;
}

static gboolean fd_source_check(GSource *source)
{
    return fd_source_revents((QIOChannelFDSource *)source) != 0;
}

static gboolean fd_source_dispatch(GSource *source, GSourceFunc callback,
                                   gpointer user_data)
{
    QIOChannelFDSource *src = (QIOChannelFDSource *)source;
    QIOChannelFunc func = (QIOChannelFunc)callback;

    if (!func) {
        return G_SOURCE_REMOVE;
    }
    return func(src->ioc, fd_source_revents(src), user_data);
}

static void fd_source_finalize(GSource *source)
{
    object_unref(OBJECT(((QIOChannelFDSource *)source)->ioc));
}

static GSourceFuncs fd_source_funcs = {
    .prepare = fd_source_prepare,
    .check = fd_source_check,
    .dispatch = fd_source_dispatch,
    .finalize = fd_source_finalize,
};

GSource *qio_channel_create_fd_pair_watch(QIOChannel *ioc, int fdread,
                                          int fdwrite,
                                          GIOCondition condition)
{
    QIOChannelFDSource *src;
    GIOCondition other = condition & ~(G_IO_IN | G_IO_OUT | G_IO_PRI);

    src = (QIOChannelFDSource *)g_source_new(&fd_source_funcs,
                                             sizeof(*src));
    src->ioc = QIO_CHANNEL(object_ref(OBJECT(ioc)));
    /* Errors and hang-ups are always reported with what was asked. */
    src->condition = condition | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
    if (fdread == fdwrite) {
        src->read_tag = g_source_add_unix_fd(&src->parent, fdread,
                                             condition);
    } else {
        if (condition & (G_IO_IN | G_IO_PRI)) {
            src->read_tag = g_source_add_unix_fd(&src->parent, fdread,
                                                 (condition & (G_IO_IN |
                                                               G_IO_PRI)) |
                                                 other);
        }
        if (condition & G_IO_OUT) {
            src->write_tag = g_source_add_unix_fd(&src->parent, fdwrite,
                                                  G_IO_OUT | other);
        }
    }
    if (ioc->name) {
        g_source_set_name(&src->parent, ioc->name);
    }
    return &src->parent;
}

GSource *qio_channel_create_fd_watch(QIOChannel *ioc, int fd,
                                     GIOCondition condition)
{
    return qio_channel_create_fd_pair_watch(ioc, fd, fd, condition);
}

GSource *qio_channel_create_socket_watch(QIOChannel *ioc, int sockfd,
                                         GIOCondition condition)
{
    return qio_channel_create_fd_watch(ioc, sockfd, condition);
}
