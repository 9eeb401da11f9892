/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Asynchronous file I/O back ends of the file driver: io_uring rings, one
 * per AioContext (block/io_uring.c).
 */
#ifndef BLOCK_RAW_AIO_H
#define BLOCK_RAW_AIO_H

#include "block/aio.h"
#include "qemu/iov.h"

typedef struct LuringState LuringState;

typedef enum {
    LURING_READ,
    LURING_WRITE,
    LURING_FDATASYNC,
    LURING_FALLOCATE,
} LuringOp;

/**
 * luring_get:
 * @ctx: the context whose ring is wanted
 * @errp: error object
 *
 * Returns @ctx's ring, creating it (and its completion handler in @ctx)
 * on first use, with one more reference. Main thread.
 *
 * Returns: the ring, or NULL with @errp set if io_uring is unavailable.
 */
LuringState *luring_get(AioContext *ctx, Error **errp);

/*
 * luring_put:
 * Drops a reference taken by luring_get(); the last one frees the ring in
 * its context's thread. No request may be in flight on it. Main thread.
 */
void luring_put(LuringState *s);

/* The context the ring belongs to. Any thread. */
AioContext *luring_get_aio_context(LuringState *s);

/**
 * luring_co_submit:
 * @s: a ring of the calling coroutine's AioContext
 * @op: what to do
 * @fd: the file
 * @offset: file offset
 * @qiov: buffers for LURING_READ / LURING_WRITE (else NULL)
 * @len: length for LURING_FALLOCATE
 * @arg: RWF_* flags for LURING_WRITE, the fallocate mode for
 *       LURING_FALLOCATE
 *
 * Queues the request (submitted with the others of the same event loop
 * iteration) and yields until it completes.
 *
 * Returns: the result: bytes transferred, 0, or a negative errno.
 */
int coroutine_fn luring_co_submit(LuringState *s, LuringOp op, int fd,
                                  uint64_t offset, QEMUIOVector *qiov,
                                  uint64_t len, int arg);

#endif /* BLOCK_RAW_AIO_H */
