/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BlockBackend: users' handle on a node.
 *
 * Theory of operation: a BlockBackend is the root parent of its node
 * (blk->root, a BdrvChild of class child_root). Its I/O runs in coroutines
 * of the node's AioContext. Drain reaches it through child_root's
 * callbacks, which run in the draining thread (normally the main thread):
 * drained_begin raises blk->quiesce_counter and tells the user
 * (BlockDevOps); from then on a new request parks itself in
 * blk->queued_requests until drained_end restarts it, and the drain waits
 * for blk->in_flight and the user's drained_poll. The handshake between a
 * request entering and a drain starting is described in block/io.c.
 *
 * Shared state: in_flight and quiesce_counter are atomic;
 * queued_requests_lock protects queued_requests and orders the quiesce
 * counter's decisive read (in the request) against its last decrement
 * (in drained_end). Everything else is main-thread only.
 */
#include "qemu/osdep.h"
#include "sysemu/block-backend.h"
#include "block/block_int.h"
#include "qemu/coroutine.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"

typedef struct BlockBackendAioNotifier {
    void (*attached_aio_context)(AioContext *new_context, void *opaque);
    void (*detach_aio_context)(void *opaque);
    void *opaque;
    QLIST_ENTRY(BlockBackendAioNotifier) list;
} BlockBackendAioNotifier;

struct BlockBackend {
    char *name;
    int refcnt;
    BdrvChild *root;
    AioContext *ctx;            /* without a node; atomic */
    bool writable;
    bool enable_write_cache;
    bool disable_request_queuing;
    bool allow_aio_context_change;

    const BlockDevOps *dev_ops;
    void *dev_opaque;
    QLIST_HEAD(, BlockBackendAioNotifier) aio_notifiers;

    unsigned int in_flight;     /* atomic */
    int quiesce_counter;        /* atomic; changed under the lock below */
    QemuMutex queued_requests_lock;
    CoQueue queued_requests;
};

/* Parent callbacks */

static void blk_root_drained_begin(BdrvChild *child)
{
    BlockBackend *blk = child->opaque;

    int old;

    qemu_mutex_lock(&blk->queued_requests_lock);
    old = qatomic_fetch_inc(&blk->quiesce_counter);
    qemu_mutex_unlock(&blk->queued_requests_lock);
    if (old == 0 && blk->dev_ops && blk->dev_ops->drained_begin) {
        blk->dev_ops->drained_begin(blk->dev_opaque);
    }
}

static void blk_root_drained_end(BdrvChild *child)
{
    BlockBackend *blk = child->opaque;

    int old;

    qemu_mutex_lock(&blk->queued_requests_lock);
    old = qatomic_fetch_dec(&blk->quiesce_counter);
    assert(old > 0);
    if (old == 1) {
        qemu_co_queue_restart_all(&blk->queued_requests);
    }
    qemu_mutex_unlock(&blk->queued_requests_lock);
    if (old == 1 && blk->dev_ops && blk->dev_ops->drained_end) {
        blk->dev_ops->drained_end(blk->dev_opaque);
    }
}

static bool blk_root_drained_poll(BdrvChild *child)
{
    BlockBackend *blk = child->opaque;

    if (qatomic_load_acquire(&blk->in_flight)) {
        return true;
    }
    return blk->dev_ops && blk->dev_ops->drained_poll &&
           blk->dev_ops->drained_poll(blk->dev_opaque);
}

static void blk_root_resize(BdrvChild *child)
{
    BlockBackend *blk = child->opaque;

    if (blk->dev_ops && blk->dev_ops->resize_cb) {
        blk->dev_ops->resize_cb(blk->dev_opaque);
    }
}

static void blk_root_detach_aio_context(BdrvChild *child)
{
    BlockBackend *blk = child->opaque;
    BlockBackendAioNotifier *n, *next;

    QLIST_FOREACH_SAFE(n, &blk->aio_notifiers, list, next) {
        if (n->detach_aio_context) {
            n->detach_aio_context(n->opaque);
        }
    }
}

static void blk_root_attach_aio_context(BdrvChild *child, AioContext *ctx)
{
    BlockBackend *blk = child->opaque;
    BlockBackendAioNotifier *n, *next;

    qatomic_set(&blk->ctx, ctx);
    QLIST_FOREACH_SAFE(n, &blk->aio_notifiers, list, next) {
        if (n->attached_aio_context) {
            n->attached_aio_context(ctx, n->opaque);
        }
    }
}

static bool blk_root_can_change_aio_context(BdrvChild *child, Error **errp)
{
    BlockBackend *blk = child->opaque;

    if (!blk->allow_aio_context_change) {
        error_setg(errp, "Cannot change iothread of active block backend%s%s",
                   blk->name ? " " : "", blk->name ? blk->name : "");
        return false;
    }
    return true;
}

static const BdrvChildClass child_root = {
    .parent_is_bds = false,
    .drained_begin = blk_root_drained_begin,
    .drained_end = blk_root_drained_end,
    .drained_poll = blk_root_drained_poll,
    .resize = blk_root_resize,
    .detach_aio_context = blk_root_detach_aio_context,
    .attach_aio_context = blk_root_attach_aio_context,
    .can_change_aio_context = blk_root_can_change_aio_context,
};

/* Lifetime */

BlockBackend *blk_new_with_bs(BlockDriverState *bs, bool writable,
                              Error **errp)
{
    BlockBackend *blk;

    if (writable && bdrv_is_read_only(bs)) {
        error_setg(errp, "Block node is read-only");
        return NULL;
    }
    blk = g_new0(BlockBackend, 1);
    blk->refcnt = 1;
    blk->writable = writable;
    blk->enable_write_cache = true;
    blk->allow_aio_context_change = true;
    blk->ctx = bdrv_get_aio_context(bs);
    qemu_mutex_init(&blk->queued_requests_lock);
    qemu_co_queue_init(&blk->queued_requests);
    QLIST_INIT(&blk->aio_notifiers);
    blk->root = bdrv_root_attach_child(bs, "root", &child_root, blk);
    return blk;
}

BlockBackend *blk_new_open(const char *filename, const char *format,
                           const KeyVal *options, int flags, Error **errp)
{
    BlockDriverState *bs = bdrv_open(filename, format, options, flags, errp);
    BlockBackend *blk;

    if (!bs) {
        return NULL;
    }
    blk = blk_new_with_bs(bs, !bdrv_is_read_only(bs), errp);
    bdrv_unref(bs);
    return blk;
}

void blk_ref(BlockBackend *blk)
{
    blk->refcnt++;
}

void blk_unref(BlockBackend *blk)
{
    BlockBackendAioNotifier *n;

    if (!blk) {
        return;
    }
    assert(blk->refcnt > 0);
    if (--blk->refcnt > 0) {
        return;
    }
    if (blk->root) {
        BdrvChild *root = blk->root;

        /* Detaching drains the node, so our requests complete first. */
        bdrv_root_unref_child(root);
        blk->root = NULL;
    }
    AIO_WAIT_WHILE(blk_get_aio_context(blk),
                   qatomic_load_acquire(&blk->in_flight) > 0);
    while ((n = QLIST_FIRST(&blk->aio_notifiers))) {
        QLIST_REMOVE(n, list);
        g_free(n);
    }
    qemu_mutex_destroy(&blk->queued_requests_lock);
    g_free(blk->name);
    g_free(blk);
}

BlockDriverState *blk_bs(BlockBackend *blk)
{
    return blk->root ? blk->root->bs : NULL;
}

const char *blk_name(const BlockBackend *blk)
{
    return blk->name ? blk->name : "";
}

void blk_set_name(BlockBackend *blk, const char *name)
{
    g_free(blk->name);
    blk->name = g_strdup(name);
}

void blk_set_dev_ops(BlockBackend *blk, const BlockDevOps *ops,
                     void *opaque)
{
    blk->dev_ops = ops;
    blk->dev_opaque = opaque;
}

void blk_set_disable_request_queuing(BlockBackend *blk, bool disable)
{
    blk->disable_request_queuing = disable;
}

void blk_set_allow_aio_context_change(BlockBackend *blk, bool allow)
{
    blk->allow_aio_context_change = allow;
}

/* Contexts */

AioContext *blk_get_aio_context(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    return bs ? bdrv_get_aio_context(bs) : qatomic_read(&blk->ctx);
}

int blk_set_aio_context(BlockBackend *blk, AioContext *new_ctx,
                        Error **errp)
{
    BlockDriverState *bs = blk_bs(blk);

    if (!bs) {
        blk_root_detach_aio_context(&(BdrvChild){ .opaque = blk });
        blk_root_attach_aio_context(&(BdrvChild){ .opaque = blk }, new_ctx);
        return 0;
    }
    return bdrv_change_aio_context_ignore(bs, new_ctx, blk->root, errp);
}

void blk_add_aio_context_notifier(BlockBackend *blk,
        void (*attached_aio_context)(AioContext *new_context, void *opaque),
        void (*detach_aio_context)(void *opaque), void *opaque)
{
    BlockBackendAioNotifier *n = g_new0(BlockBackendAioNotifier, 1);

    n->attached_aio_context = attached_aio_context;
    n->detach_aio_context = detach_aio_context;
    n->opaque = opaque;
    QLIST_INSERT_HEAD(&blk->aio_notifiers, n, list);
}

void blk_remove_aio_context_notifier(BlockBackend *blk,
        void (*attached_aio_context)(AioContext *new_context, void *opaque),
        void (*detach_aio_context)(void *opaque), void *opaque)
{
    BlockBackendAioNotifier *n;

    QLIST_FOREACH(n, &blk->aio_notifiers, list) {
        if (n->attached_aio_context == attached_aio_context &&
            n->detach_aio_context == detach_aio_context &&
            n->opaque == opaque) {
            QLIST_REMOVE(n, list);
            g_free(n);
            return;
        }
    }
    fprintf(stderr, "qemu: %s: no such notifier\n", __func__);
    abort();
}

/* Drain */

void blk_inc_in_flight(BlockBackend *blk)
{
    qatomic_inc(&blk->in_flight);
}

void blk_dec_in_flight(BlockBackend *blk)
{
    qatomic_dec(&blk->in_flight);
    aio_wait_kick();
}

void blk_drain(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    if (bs) {
        bdrv_ref(bs);
        bdrv_drained_begin(bs);
    }
    /* Requests of ours that never reached the node. */
    AIO_WAIT_WHILE(blk_get_aio_context(blk),
                   qatomic_load_acquire(&blk->in_flight) > 0);
    if (bs) {
        bdrv_drained_end(bs);
        bdrv_unref(bs);
    }
}

/*
 * Called with blk->in_flight raised: waits while the node is drained,
 * dropping the in-flight count meanwhile so that the drain can finish.
 */
static void coroutine_fn blk_wait_while_drained(BlockBackend *blk)
{
    /* Pairs with the barrier in bdrv_do_drained_begin(). */
    smp_mb();
    if (!qatomic_read(&blk->quiesce_counter) ||
        blk->disable_request_queuing) {
        return;
    }
    qemu_mutex_lock(&blk->queued_requests_lock);
    while (qatomic_read(&blk->quiesce_counter)) {
        blk_dec_in_flight(blk);
        qemu_co_queue_wait(&blk->queued_requests,
                           &blk->queued_requests_lock);
        blk_inc_in_flight(blk);
        smp_mb();
    }
    qemu_mutex_unlock(&blk->queued_requests_lock);
}

/* Properties */

bool blk_is_read_only(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    return !blk->writable || (bs && bdrv_is_read_only(bs));
}

bool blk_is_writable(BlockBackend *blk)
{
    return !blk_is_read_only(blk);
}

int64_t blk_getlength(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    return bs ? bdrv_getlength(bs) : -ENOMEDIUM;
}

int64_t coroutine_fn blk_co_getlength(BlockBackend *blk)
{
    return blk_getlength(blk);
}

uint32_t blk_get_request_alignment(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    return bs ? bs->bl.request_alignment : 1;
}

uint32_t blk_get_max_transfer(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);
    uint32_t max = bs ? bs->bl.max_transfer : 0;

    return max ? max : QEMU_ALIGN_DOWN(INT32_MAX,
                                       blk_get_request_alignment(blk));
}

size_t blk_get_opt_mem_align(BlockBackend *blk)
{
    return bdrv_opt_mem_align(blk_bs(blk));
}

bool blk_supports_discard(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    for (; bs; bs = bdrv_get_file(bs)) {
        if (!(bs->open_flags & BDRV_O_UNMAP)) {
            return false;
        }
        if (bs->drv && bs->drv->bdrv_co_pdiscard && !bs->drv->is_format) {
            return true;
        }
    }
    return false;
}

bool blk_supports_fast_zero(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    for (; bs; bs = bdrv_get_file(bs)) {
        if (!bs->drv || !bs->drv->bdrv_co_pwrite_zeroes) {
            return false;
        }
        if (!bs->drv->is_format) {
            return true;
        }
    }
    return false;
}

bool blk_supports_flush(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    return bs && !(bs->open_flags & BDRV_O_NO_FLUSH);
}

int blk_get_flags(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);

    return bs ? bdrv_get_flags(bs) : 0;
}

void blk_set_enable_write_cache(BlockBackend *blk, bool wce)
{
    blk->enable_write_cache = wce;
}

bool blk_enable_write_cache(BlockBackend *blk)
{
    return blk->enable_write_cache;
}

void *blk_blockalign(BlockBackend *blk, size_t size)
{
    return qemu_blockalign(blk_bs(blk), size);
}

/* Coroutine I/O */

/* Validates a request against the BlockBackend: 0 or a negative errno. */
static int blk_check_request(BlockBackend *blk, int64_t offset,
                             int64_t bytes, bool write)
{
    BlockDriverState *bs = blk_bs(blk);
    int64_t len;

    if (!bs) {
        return -ENOMEDIUM;
    }
    if (write && !blk->writable) {
        return -EPERM;
    }
    if (offset < 0 || bytes < 0) {
        return -EINVAL;
    }
    len = bdrv_getlength(bs);
    if (len < 0) {
        return len;
    }
    if (offset > len || bytes > len - offset) {
        return -EIO;
    }
    return 0;
}

int coroutine_fn blk_co_preadv(BlockBackend *blk, int64_t offset,
                               int64_t bytes, QEMUIOVector *qiov,
                               BdrvRequestFlags flags)
{
    int ret;

    blk_inc_in_flight(blk);
    blk_wait_while_drained(blk);
    ret = blk_check_request(blk, offset, bytes, false);
    if (ret == 0) {
        ret = bdrv_co_preadv(blk->root, offset, bytes, qiov, flags);
    }
    blk_dec_in_flight(blk);
    return ret;
}

int coroutine_fn blk_co_pwritev(BlockBackend *blk, int64_t offset,
                                int64_t bytes, QEMUIOVector *qiov,
                                BdrvRequestFlags flags)
{
    int ret;

    if (!blk->enable_write_cache) {
        flags |= BDRV_REQ_FUA;
    }
    blk_inc_in_flight(blk);
    blk_wait_while_drained(blk);
    ret = blk_check_request(blk, offset, bytes, true);
    if (ret == 0) {
        if (flags & BDRV_REQ_ZERO_WRITE) {
            ret = bdrv_co_pwrite_zeroes(blk->root, offset, bytes, flags);
        } else {
            ret = bdrv_co_pwritev(blk->root, offset, bytes, qiov, flags);
        }
    }
    blk_dec_in_flight(blk);
    return ret;
}

int coroutine_fn blk_co_pread(BlockBackend *blk, int64_t offset,
                              int64_t bytes, void *buf,
                              BdrvRequestFlags flags)
{
    QEMUIOVector qiov;

    qemu_iovec_init_buf(&qiov, buf, bytes);
    return blk_co_preadv(blk, offset, bytes, &qiov, flags);
}

int coroutine_fn blk_co_pwrite(BlockBackend *blk, int64_t offset,
                               int64_t bytes, const void *buf,
                               BdrvRequestFlags flags)
{
    QEMUIOVector qiov;

    qemu_iovec_init_buf(&qiov, (void *)buf, bytes);
    return blk_co_pwritev(blk, offset, bytes, &qiov, flags);
}

int coroutine_fn blk_co_pwrite_zeroes(BlockBackend *blk, int64_t offset,
                                      int64_t bytes, BdrvRequestFlags flags)
{
    return blk_co_pwritev(blk, offset, bytes, NULL,
                          flags | BDRV_REQ_ZERO_WRITE);
}

int coroutine_fn blk_co_pdiscard(BlockBackend *blk, int64_t offset,
                                 int64_t bytes)
{
    int ret;

    blk_inc_in_flight(blk);
    blk_wait_while_drained(blk);
    ret = blk_check_request(blk, offset, bytes, true);
    if (ret == 0) {
        ret = bdrv_co_pdiscard(blk->root, offset, bytes);
    }
    blk_dec_in_flight(blk);
    return ret;
}

int coroutine_fn blk_co_flush(BlockBackend *blk)
{
    int ret = -ENOMEDIUM;

    blk_inc_in_flight(blk);
    blk_wait_while_drained(blk);
    if (blk_bs(blk)) {
        ret = bdrv_co_flush(blk_bs(blk));
    }
    blk_dec_in_flight(blk);
    return ret;
}

int coroutine_fn blk_co_truncate(BlockBackend *blk, int64_t offset,
                                 bool exact, PreallocMode prealloc,
                                 BdrvRequestFlags flags, Error **errp)
{
    int ret;

    if (!blk_bs(blk)) {
        error_setg(errp, "No medium inserted");
        return -ENOMEDIUM;
    }
    if (!blk->writable) {
        error_setg(errp, "Block backend%s%s is read-only",
                   blk->name ? " " : "", blk->name ? blk->name : "");
        return -EPERM;
    }
    blk_inc_in_flight(blk);
    blk_wait_while_drained(blk);
    ret = bdrv_co_truncate(blk->root, offset, exact, prealloc, flags, errp);
    blk_dec_in_flight(blk);
    return ret;
}

int coroutine_fn blk_co_block_status(BlockBackend *blk, int64_t offset,
                                     int64_t bytes, int64_t *pnum,
                                     int64_t *map)
{
    int ret;

    blk_inc_in_flight(blk);
    blk_wait_while_drained(blk);
    ret = blk_check_request(blk, offset, 0, false);
    if (ret == 0) {
        ret = bdrv_co_block_status_above(blk_bs(blk), NULL, offset, bytes,
                                         pnum, map, NULL);
    }
    blk_dec_in_flight(blk);
    return ret;
}

/* Synchronous wrappers */

typedef enum {
    BLK_SYNC_READ,
    BLK_SYNC_WRITE,
    BLK_SYNC_ZEROES,
    BLK_SYNC_DISCARD,
    BLK_SYNC_FLUSH,
    BLK_SYNC_TRUNCATE,
    BLK_SYNC_STATUS,
} BlkSyncOp;

typedef struct BlkSync {
    BlockBackend *blk;
    BlkSyncOp op;
    int64_t offset;
    int64_t bytes;
    QEMUIOVector *qiov;
    BdrvRequestFlags flags;
    PreallocMode prealloc;
    bool exact;
    Error **errp;
    int64_t *pnum;
    int64_t *map;
    int ret;
    bool done;                  /* atomic */
} BlkSync;

static void coroutine_fn blk_sync_entry(void *opaque)
{
    BlkSync *s = opaque;
    BlockBackend *blk = s->blk;

    switch (s->op) {
    case BLK_SYNC_READ:
        s->ret = blk_co_preadv(blk, s->offset, s->bytes, s->qiov, s->flags);
        break;
    case BLK_SYNC_WRITE:
        s->ret = blk_co_pwritev(blk, s->offset, s->bytes, s->qiov,
                                s->flags);
        break;
    case BLK_SYNC_ZEROES:
        s->ret = blk_co_pwrite_zeroes(blk, s->offset, s->bytes, s->flags);
        break;
    case BLK_SYNC_DISCARD:
        s->ret = blk_co_pdiscard(blk, s->offset, s->bytes);
        break;
    case BLK_SYNC_FLUSH:
        s->ret = blk_co_flush(blk);
        break;
    case BLK_SYNC_TRUNCATE:
        s->ret = blk_co_truncate(blk, s->offset, s->exact, s->prealloc,
                                 s->flags, s->errp);
        break;
    case BLK_SYNC_STATUS:
        s->ret = blk_co_block_status(blk, s->offset, s->bytes, s->pnum,
                                     s->map);
        break;
    }
    qatomic_store_release(&s->done, true);
    aio_wait_kick();
}

/* Runs @s in the BlockBackend's context and waits for it. */
static int blk_sync_run(BlkSync *s)
{
    AioContext *ctx = blk_get_aio_context(s->blk);

    if (qemu_in_coroutine()) {
        blk_sync_entry(s);
        return s->ret;
    }
    aio_co_enter(ctx, qemu_coroutine_create(blk_sync_entry, s));
    AIO_WAIT_WHILE(ctx, !qatomic_load_acquire(&s->done));
    return s->ret;
}

int blk_preadv(BlockBackend *blk, int64_t offset, int64_t bytes,
               QEMUIOVector *qiov, BdrvRequestFlags flags)
{
    BlkSync s = { .blk = blk, .op = BLK_SYNC_READ, .offset = offset,
                  .bytes = bytes, .qiov = qiov, .flags = flags };

    return blk_sync_run(&s);
}

int blk_pwritev(BlockBackend *blk, int64_t offset, int64_t bytes,
                QEMUIOVector *qiov, BdrvRequestFlags flags)
{
    BlkSync s = { .blk = blk, .op = BLK_SYNC_WRITE, .offset = offset,
                  .bytes = bytes, .qiov = qiov, .flags = flags };

    return blk_sync_run(&s);
}

int blk_pread(BlockBackend *blk, int64_t offset, int64_t bytes, void *buf,
              BdrvRequestFlags flags)
{
    QEMUIOVector qiov;

    if (bytes < 0) {
        return -EINVAL;
    }
    qemu_iovec_init_buf(&qiov, buf, bytes);
    return blk_preadv(blk, offset, bytes, &qiov, flags);
}

int blk_pwrite(BlockBackend *blk, int64_t offset, int64_t bytes,
               const void *buf, BdrvRequestFlags flags)
{
    QEMUIOVector qiov;

    if (bytes < 0) {
        return -EINVAL;
    }
    qemu_iovec_init_buf(&qiov, (void *)buf, bytes);
    return blk_pwritev(blk, offset, bytes, &qiov, flags);
}

int blk_pwrite_zeroes(BlockBackend *blk, int64_t offset, int64_t bytes,
                      BdrvRequestFlags flags)
{
    BlkSync s = { .blk = blk, .op = BLK_SYNC_ZEROES, .offset = offset,
                  .bytes = bytes, .flags = flags };

    return blk_sync_run(&s);
}

int blk_pdiscard(BlockBackend *blk, int64_t offset, int64_t bytes)
{
    BlkSync s = { .blk = blk, .op = BLK_SYNC_DISCARD, .offset = offset,
                  .bytes = bytes };

    return blk_sync_run(&s);
}

int blk_flush(BlockBackend *blk)
{
    BlkSync s = { .blk = blk, .op = BLK_SYNC_FLUSH };

    return blk_sync_run(&s);
}

int blk_truncate(BlockBackend *blk, int64_t offset, bool exact,
                 PreallocMode prealloc, BdrvRequestFlags flags,
                 Error **errp)
{
    BlkSync s = { .blk = blk, .op = BLK_SYNC_TRUNCATE, .offset = offset,
                  .exact = exact, .prealloc = prealloc, .flags = flags,
                  .errp = errp };

    return blk_sync_run(&s);
}

int blk_block_status(BlockBackend *blk, int64_t offset, int64_t bytes,
                     int64_t *pnum, int64_t *map)
{
    BlkSync s = { .blk = blk, .op = BLK_SYNC_STATUS, .offset = offset,
                  .bytes = bytes, .pnum = pnum, .map = map };

    return blk_sync_run(&s);
}
