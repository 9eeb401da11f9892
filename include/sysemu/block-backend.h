/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BlockBackend: the handle through which users (an NBD export, a test, a
 * tool) do I/O on a block node.
 *
 * A BlockBackend sits on top of one node (several BlockBackends may share
 * a node). It adds what a user needs: request queuing while the node is
 * drained, notifications of drain (BlockDevOps) and of AioContext moves,
 * an in-flight counter users can extend over their own work, a writable
 * or read-only view, and synchronous wrappers for code outside coroutines.
 *
 * Contexts: control functions (new, unref, set_dev_ops, notifiers,
 * set_aio_context) run in the main thread. blk_co_* run in a coroutine in
 * the BlockBackend's AioContext. Synchronous wrappers (blk_pread...) run
 * outside coroutines in the main thread or the BlockBackend's context
 * thread; in a coroutine they call the coroutine version directly.
 */
#ifndef SYSEMU_BLOCK_BACKEND_H
#define SYSEMU_BLOCK_BACKEND_H

#include "block/block.h"

/*
 * Callbacks for the user of a BlockBackend (its "device"). All run in the
 * thread that drains or resizes the node (normally the main thread), not
 * necessarily the BlockBackend's AioContext thread; they must not block.
 */
typedef struct BlockDevOps {
    /*
     * The first drained section of the node began: stop submitting
     * requests (requests that still come in are queued until the drain
     * ends). Nested sections do not call it again.
     */
    void (*drained_begin)(void *opaque);
    /* The last drained section is ending: resume. */
    void (*drained_end)(void *opaque);
    /*
     * Polled while draining: true while the user still has work in flight
     * that must finish (e.g. a request coroutine not yet counted by
     * blk_inc_in_flight). Whoever makes it false must call aio_wait_kick().
     */
    bool (*drained_poll)(void *opaque);
    /* The node's length changed. */
    void (*resize_cb)(void *opaque);
} BlockDevOps;

/* Creation and lifetime (main thread). */

/**
 * blk_new_open:
 * Opens a node as bdrv_open() does (same arguments) and puts a new
 * BlockBackend on it, writable iff @flags has BDRV_O_RDWR.
 *
 * Returns: (transfer full): a BlockBackend, or NULL with @errp set.
 */
BlockBackend *blk_new_open(const char *filename, const char *format,
                           const KeyVal *options, int flags, Error **errp);

/**
 * blk_new_with_bs:
 * @bs: node to use (a reference is taken)
 * @writable: whether writes will be allowed
 * @errp: error object
 *
 * Fails with "Block node is read-only" if @writable and @bs is read-only.
 * The BlockBackend lives in @bs's AioContext.
 *
 * Returns: (transfer full): a BlockBackend, or NULL with @errp set.
 */
BlockBackend *blk_new_with_bs(BlockDriverState *bs, bool writable,
                              Error **errp);

void blk_ref(BlockBackend *blk);

/*
 * blk_unref:
 * Drops a reference; the last one drains and detaches the node and frees
 * the BlockBackend. NULL is allowed. Main thread, outside coroutines.
 */
void blk_unref(BlockBackend *blk);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(BlockBackend, blk_unref)

/* The node below (no reference), NULL once detached. Any thread. */
BlockDriverState *blk_bs(BlockBackend *blk);

/* A name for messages ("" unless set). Main thread. */
const char *blk_name(const BlockBackend *blk);
void blk_set_name(BlockBackend *blk, const char *name);

/**
 * blk_set_dev_ops:
 * Installs @ops (static, may be NULL) with @opaque for the user of @blk.
 * Main thread.
 */
void blk_set_dev_ops(BlockBackend *blk, const BlockDevOps *ops,
                     void *opaque);

/*
 * When true (default false), requests made while drained are not queued
 * but go ahead (for the drainer's own requests). Main thread.
 */
void blk_set_disable_request_queuing(BlockBackend *blk, bool disable);

/*
 * Whether a move started from another user of the node (not through
 * blk_set_aio_context() of this BlockBackend) may take @blk along.
 * Default true. Main thread.
 */
void blk_set_allow_aio_context_change(BlockBackend *blk, bool allow);

/* Contexts. */

/* The AioContext the BlockBackend's I/O runs in. Any thread. */
AioContext *blk_get_aio_context(BlockBackend *blk);

/**
 * blk_set_aio_context:
 * Moves @blk with its node (and all connected nodes and BlockBackends) to
 * @new_ctx, as bdrv_try_change_aio_context(). Main thread.
 *
 * Returns: 0, or a negative errno with @errp set.
 */
int blk_set_aio_context(BlockBackend *blk, AioContext *new_ctx,
                        Error **errp);

/**
 * blk_add_aio_context_notifier:
 * @attached_aio_context: called after a move, with the new context
 * @detach_aio_context: called before a move, while the old context is
 *                      still current
 * @opaque: argument of both
 *
 * Both run in the main thread while the node is drained. Main thread.
 */
void blk_add_aio_context_notifier(BlockBackend *blk,
        void (*attached_aio_context)(AioContext *new_context, void *opaque),
        void (*detach_aio_context)(void *opaque), void *opaque);

/* Removes the notifier added with the same three arguments. */
void blk_remove_aio_context_notifier(BlockBackend *blk,
        void (*attached_aio_context)(AioContext *new_context, void *opaque),
        void (*detach_aio_context)(void *opaque), void *opaque);

/* Drain. */

/*
 * In-flight counter, which drain waits for: users count their own work
 * on top of the requests the BlockBackend counts. Any thread.
 */
void blk_inc_in_flight(BlockBackend *blk);
void blk_dec_in_flight(BlockBackend *blk);

/* Drains the node below (begin + end). Main thread or the context's. */
void blk_drain(BlockBackend *blk);

/* Properties (any thread). */

bool blk_is_read_only(BlockBackend *blk);
bool blk_is_writable(BlockBackend *blk);
int64_t blk_getlength(BlockBackend *blk);
uint32_t blk_get_request_alignment(BlockBackend *blk);
/* Largest request in bytes the node takes at once (never 0). */
uint32_t blk_get_max_transfer(BlockBackend *blk);
/* Optimal memory alignment of buffers. */
size_t blk_get_opt_mem_align(BlockBackend *blk);
/* discard=unmap: discards deallocate (NBD: send_trim). */
bool blk_supports_discard(BlockBackend *blk);
/*
 * Zero writes without writing zero buffers are possible (NBD: fast zero,
 * BDRV_REQ_NO_FALLBACK may succeed).
 */
bool blk_supports_fast_zero(BlockBackend *blk);
/* Flushes do something (not cache.no-flush). */
bool blk_supports_flush(BlockBackend *blk);
/* BDRV_O_* flags of the node. */
int blk_get_flags(BlockBackend *blk);

/*
 * Write cache: when disabled (cache=writethrough/directsync), every write
 * is made FUA. Default enabled. Main thread.
 */
void blk_set_enable_write_cache(BlockBackend *blk, bool wce);
bool blk_enable_write_cache(BlockBackend *blk);

void *blk_blockalign(BlockBackend *blk, size_t size);

/*
 * Coroutine I/O (in the BlockBackend's AioContext). The same contract as
 * bdrv_co_preadv() and friends, plus: -ENOMEDIUM without a node, -EPERM
 * for writes through a read-only BlockBackend, -EIO past the end,
 * -EINVAL for negative offsets or lengths. While the node is drained,
 * new requests wait until the drain ends.
 */
int coroutine_fn blk_co_preadv(BlockBackend *blk, int64_t offset,
                               int64_t bytes, QEMUIOVector *qiov,
                               BdrvRequestFlags flags);
int coroutine_fn blk_co_pwritev(BlockBackend *blk, int64_t offset,
                                int64_t bytes, QEMUIOVector *qiov,
                                BdrvRequestFlags flags);
int coroutine_fn blk_co_pread(BlockBackend *blk, int64_t offset,
                              int64_t bytes, void *buf,
                              BdrvRequestFlags flags);
int coroutine_fn blk_co_pwrite(BlockBackend *blk, int64_t offset,
                               int64_t bytes, const void *buf,
                               BdrvRequestFlags flags);
int coroutine_fn blk_co_pwrite_zeroes(BlockBackend *blk, int64_t offset,
                                      int64_t bytes, BdrvRequestFlags flags);
int coroutine_fn blk_co_pdiscard(BlockBackend *blk, int64_t offset,
                                 int64_t bytes);
int coroutine_fn blk_co_flush(BlockBackend *blk);
int64_t coroutine_fn blk_co_getlength(BlockBackend *blk);
int coroutine_fn blk_co_truncate(BlockBackend *blk, int64_t offset,
                                 bool exact, PreallocMode prealloc,
                                 BdrvRequestFlags flags, Error **errp);

/**
 * blk_co_block_status:
 * @pnum: (out): bytes from @offset with the same status
 * @map: (out) (optional): offset in the file holding the data
 *
 * Status of [@offset, @offset + @bytes) through every layer down to the
 * protocol (as bdrv_co_block_status_above() with no base).
 *
 * Returns: BDRV_BLOCK_* flags or a negative errno.
 */
int coroutine_fn blk_co_block_status(BlockBackend *blk, int64_t offset,
                                     int64_t bytes, int64_t *pnum,
                                     int64_t *map);

/*
 * Synchronous wrappers: run the coroutine version and poll until it is
 * done. Outside coroutines, in the main thread or the BlockBackend's
 * context thread (inside a coroutine they just call the coroutine
 * version). Return 0 or a negative errno.
 */
int blk_pread(BlockBackend *blk, int64_t offset, int64_t bytes, void *buf,
              BdrvRequestFlags flags);
int blk_pwrite(BlockBackend *blk, int64_t offset, int64_t bytes,
               const void *buf, BdrvRequestFlags flags);
int blk_preadv(BlockBackend *blk, int64_t offset, int64_t bytes,
               QEMUIOVector *qiov, BdrvRequestFlags flags);
int blk_pwritev(BlockBackend *blk, int64_t offset, int64_t bytes,
                QEMUIOVector *qiov, BdrvRequestFlags flags);
int blk_pwrite_zeroes(BlockBackend *blk, int64_t offset, int64_t bytes,
                      BdrvRequestFlags flags);
int blk_pdiscard(BlockBackend *blk, int64_t offset, int64_t bytes);
int blk_flush(BlockBackend *blk);
int blk_truncate(BlockBackend *blk, int64_t offset, bool exact,
                 PreallocMode prealloc, BdrvRequestFlags flags,
                 Error **errp);
int blk_block_status(BlockBackend *blk, int64_t offset, int64_t bytes,
                     int64_t *pnum, int64_t *map);

#endif /* SYSEMU_BLOCK_BACKEND_H */
