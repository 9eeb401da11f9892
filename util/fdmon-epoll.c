/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fd monitoring with epoll (level-triggered). Changes are applied at once
 * with epoll_ctl(), from whichever thread makes them.
 */
#include "qemu/osdep.h"
#include "aio-internal.h"
#include "qapi/error.h"

#include <sys/epoll.h>

static uint32_t gio_to_epoll(int events)
{
    return (events & G_IO_IN ? EPOLLIN : 0) |
           (events & G_IO_OUT ? EPOLLOUT : 0) |
           (events & G_IO_HUP ? EPOLLHUP : 0) |
           (events & G_IO_ERR ? EPOLLERR : 0);
}

static int epoll_to_gio(uint32_t events)
{
    return (events & EPOLLIN ? G_IO_IN : 0) |
           (events & EPOLLOUT ? G_IO_OUT : 0) |
           (events & EPOLLHUP ? G_IO_HUP : 0) |
           (events & EPOLLERR ? G_IO_ERR : 0);
}

static void fdmon_epoll_update(AioContext *ctx, AioHandler *old_node,
                               AioHandler *new_node)
{
    bool old_registered = old_node && old_node->epoll_registered;

    if (old_node && old_node->always_ready) {
        ctx->nr_always_ready--;
    }
    if (new_node && new_node->events) {
        struct epoll_event ev = {
            .events = gio_to_epoll(new_node->events),
            .data.ptr = new_node,
        };
        int op = old_registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

        if (epoll_ctl(ctx->epollfd, op, new_node->fd, &ev) == 0) {
            new_node->epoll_registered = true;
        } else if (errno == EPERM) {
            /* Regular files and directories are always ready. */
            new_node->always_ready = true;
            ctx->nr_always_ready++;
        } else {
            fprintf(stderr, "qemu: epoll_ctl(fd %d) failed: %s\n",
                    new_node->fd, strerror(errno));
        }
    } else if (old_registered) {
        /* EBADF: the fd was closed first; the kernel forgot it already. */
        epoll_ctl(ctx->epollfd, EPOLL_CTL_DEL, old_node->fd, NULL);
    }
    if (old_node) {
        old_node->epoll_registered = false;
    }
}

static void fdmon_epoll_wait(AioContext *ctx, AioReadyList *ready,
                             int64_t timeout)
{
    struct epoll_event events[128];
    struct timespec ts;
    int n, i;

    qemu_mutex_lock(&ctx->list_lock);
    if (ctx->nr_always_ready) {
        AioHandler *node;

        QLIST_FOREACH(node, &ctx->handlers, node) {
            if (node->always_ready && !node->deleted) {
                aio_ready_add(ready, node, node->events);
                timeout = 0;
            }
        }
    }
    qemu_mutex_unlock(&ctx->list_lock);

    if (timeout >= 0) {
        ts.tv_sec = timeout / 1000000000;
        ts.tv_nsec = timeout % 1000000000;
    }
    /* A signal (EINTR) just ends this wait early, like a notify. */
    n = epoll_pwait2(ctx->epollfd, events, G_N_ELEMENTS(events),
                     timeout >= 0 ? &ts : NULL, NULL);
    if (n < 0 && errno == ENOSYS) {
        n = epoll_wait(ctx->epollfd, events, G_N_ELEMENTS(events),
                       timeout < 0 ? -1 :
                       (int)MIN(DIV_ROUND_UP(timeout, SCALE_MS), INT_MAX));
    }
    if (n > 0) {
        /*
         * Handlers are published under list_lock (epoll_ctl included):
         * taking it once orders our reads of the handlers that fired after
         * their writers.
         */
        qemu_mutex_lock(&ctx->list_lock);
        qemu_mutex_unlock(&ctx->list_lock);
    }
    for (i = 0; i < n; i++) {
        aio_ready_add(ready, events[i].data.ptr,
                      epoll_to_gio(events[i].events));
    }
}

static bool fdmon_epoll_can_free(AioContext *ctx, AioHandler *node)
{
    return true;
}

static int fdmon_epoll_gsource_fd(AioContext *ctx)
{
    return ctx->epollfd;
}

static void fdmon_epoll_cleanup(AioContext *ctx)
{
    close(ctx->epollfd);
    ctx->epollfd = -1;
}

const FDMonOps fdmon_epoll_ops = {
    .name = "epoll",
    .update = fdmon_epoll_update,
    .wait = fdmon_epoll_wait,
    .can_free = fdmon_epoll_can_free,
    .gsource_fd = fdmon_epoll_gsource_fd,
    .cleanup = fdmon_epoll_cleanup,
};

bool fdmon_epoll_setup(AioContext *ctx, Error **errp)
{
    ctx->epollfd = epoll_create1(EPOLL_CLOEXEC);
    if (ctx->epollfd < 0) {
        error_setg_errno(errp, errno, "cannot create an epoll instance");
        return false;
    }
    ctx->fdmon_ops = &fdmon_epoll_ops;
    return true;
}
