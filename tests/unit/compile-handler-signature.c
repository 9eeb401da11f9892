/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A channel subclass that kept the old, one-context fd-handler signature
 * (from before a channel stopped belonging to one AioContext) must not
 * build. The build runs this file through the compiler twice: with
 * OLD_SIGNATURE it must fail (-Werror=incompatible-pointer-types), without
 * it must succeed, which proves the failure is about the signature.
 */
#include "qemu/osdep.h"
#include "io/channel.h"

#ifdef OLD_SIGNATURE
/* The attach/detach era: one context for both directions. */
static void old_set_aio_fd_handler(QIOChannel *ioc, AioContext *ctx,
                                   IOHandler *io_read, IOHandler *io_write,
                                   void *opaque)
{
}
#define HANDLER old_set_aio_fd_handler
#else
static void new_set_aio_fd_handler(QIOChannel *ioc, AioContext *read_ctx,
                                   IOHandler *io_read, AioContext *write_ctx,
                                   IOHandler *io_write, void *opaque)
{
}
#define HANDLER new_set_aio_fd_handler
#endif

void handler_signature_class_init(QIOChannelClass *klass);
void handler_signature_class_init(QIOChannelClass *klass)
{
    klass->io_set_aio_fd_handler = HANDLER;
}
