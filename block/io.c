/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Block layer I/O: request checks, alignment and read-modify-write,
 * serialisation of overlapping requests, in-flight accounting and drain.
 *
 * Theory of operation
 *
 * Contexts. Every node has one AioContext (bs->aio_context); nodes that
 * are connected (parent/child) always share it, and so do the
 * BlockBackends above them. I/O requests are coroutines that run in that
 * context's thread: a user (an NBD export, a test) enters its request
 * coroutines there. A request's coroutine may wait (for io_uring, the
 * thread pool, a serialising request); it is always woken with
 * aio_co_wake() and so resumes in its own context, never in the waker's
 * thread. The control path (open, close, graph changes, drain, context
 * moves) runs in the main thread.
 *
 * Who may call what:
 * - bdrv_co_* I/O: a coroutine in the node's context. (A coroutine of
 *   another context works too: drivers then fall back to the calling
 *   context's thread pool; but drain only protects the node's context.)
 * - bdrv_drained_begin/end: the main thread for a node in any context, or
 *   the node's own context thread; from a coroutine, through a bottom half
 *   of the coroutine's context, which must be one of those two.
 * - bdrv_getlength, bdrv_get_aio_context, flags: any thread.
 *
 * Shared state:
 * - bs->in_flight (atomic): requests between entry and completion. The
 *   decrement calls aio_wait_kick(), which wakes a drain waiting in the
 *   main thread (AIO_WAIT_WHILE polls the main context and relies on the
 *   kick); a drain in the node's own thread polls that context directly.
 * - bs->quiesce_counter (atomic): drained sections. BlockBackends keep
 *   their own counter (raised by the drained_begin parent callback) and
 *   queue new requests while it is non-zero. A request raises the in-flight
 *   counter *before* it looks at the quiesce counter, and drain raises the
 *   quiesce counter before it looks at in-flight counters, with a full
 *   barrier on both sides: either the request sees the drain and queues
 *   itself, or the drain sees the request and waits for it.
 * - bs->tracked_requests under bs->reqs_lock: every write (also zeroes,
 *   discard, truncate) is listed, newest first. A serialising request (a
 *   read-modify-write of unaligned edges, or a truncate) covers whole
 *   aligned blocks and waits for every older overlapping write; any
 *   request waits for older overlapping serialising ones. Waits only ever
 *   go to older requests, so they cannot form a cycle.
 * - The graph (children, parents) changes only in the main thread while
 *   the affected nodes are drained, so requests may walk it unlocked.
 */
#include "qemu/osdep.h"
#include "block/block_int.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "block/trace.h"

enum {
    /* Largest bounce buffer for writing zeroes the slow way. */
    ZERO_BUFFER_MAX = 1 * 1024 * 1024,
};

/* In-flight accounting */

void bdrv_inc_in_flight(BlockDriverState *bs)
{
    qatomic_inc(&bs->in_flight);
}

void bdrv_dec_in_flight(BlockDriverState *bs)
{
    qatomic_dec(&bs->in_flight);
    aio_wait_kick();
}

/* Drain */

void bdrv_drained_begin_no_poll(BlockDriverState *bs)
{
    BdrvChild *c;

    qatomic_inc(&bs->quiesce_counter);
    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (c->klass->drained_begin) {
            c->klass->drained_begin(c);
        }
    }
}

void bdrv_drained_end_no_poll(BlockDriverState *bs)
{
    BdrvChild *c;
    int old;

    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (c->klass->drained_end) {
            c->klass->drained_end(c);
        }
    }
    old = qatomic_fetch_dec(&bs->quiesce_counter);
    assert(old > 0);
}

bool bdrv_drain_poll(BlockDriverState *bs)
{
    BdrvChild *c;

    /* Acquire: what the finished requests did is visible to us. */
    if (qatomic_load_acquire(&bs->in_flight)) {
        return true;
    }
    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (c->klass->drained_poll && c->klass->drained_poll(c)) {
            return true;
        }
    }
    return false;
}

static void bdrv_assert_drain_context(BlockDriverState *bs)
{
    if (!qemu_in_main_thread() &&
        !in_aio_context_home_thread(bdrv_get_aio_context(bs))) {
        fprintf(stderr, "qemu: drain of node '%s' from a thread that is "
                "neither the main thread nor the node's context thread\n",
                bdrv_get_node_name(bs));
        abort();
    }
}

static void bdrv_do_drained_begin(BlockDriverState *bs)
{
    bdrv_assert_drain_context(bs);
    trace_bdrv_drained_begin(bs, bdrv_get_node_name(bs));
    bdrv_drained_begin_no_poll(bs);
    /* Pairs with the barrier in blk_wait_while_drained(). */
    smp_mb();
    AIO_WAIT_WHILE(bdrv_get_aio_context(bs), bdrv_drain_poll(bs));
    trace_bdrv_drained_begin_done(bs);
}

static void bdrv_do_drained_end(BlockDriverState *bs)
{
    bdrv_assert_drain_context(bs);
    trace_bdrv_drained_end(bs, bdrv_get_node_name(bs));
    bdrv_drained_end_no_poll(bs);
}

typedef struct DrainCo {
    BlockDriverState *bs;
    Coroutine *co;
    bool begin;
} DrainCo;

static void drain_co_bh(void *opaque)
{
    DrainCo *d = opaque;

    if (d->begin) {
        bdrv_do_drained_begin(d->bs);
    } else {
        bdrv_do_drained_end(d->bs);
    }
    aio_co_wake(d->co);
}

/*
 * A coroutine must not poll: it would run other coroutines of its context
 * nested inside itself. Do the work from a bottom half instead.
 */
static void coroutine_fn bdrv_co_yield_to_drain(BlockDriverState *bs,
                                                bool begin)
{
    DrainCo d = {
        .bs = bs,
        .co = qemu_coroutine_self(),
        .begin = begin,
    };

    aio_bh_schedule_oneshot(qemu_get_current_aio_context(), drain_co_bh, &d);
    qemu_coroutine_yield();
}

void coroutine_mixed_fn bdrv_drained_begin(BlockDriverState *bs)
{
    if (qemu_in_coroutine()) {
        bdrv_co_yield_to_drain(bs, true);
        return;
    }
    bdrv_do_drained_begin(bs);
}

void coroutine_mixed_fn bdrv_drained_end(BlockDriverState *bs)
{
    if (qemu_in_coroutine()) {
        bdrv_co_yield_to_drain(bs, false);
        return;
    }
    bdrv_do_drained_end(bs);
}

bool bdrv_is_drained(BlockDriverState *bs)
{
    return qatomic_read(&bs->quiesce_counter) > 0;
}

/* Tracked requests */

static bool tracked_overlaps(BdrvTrackedRequest *r, int64_t offset,
                             int64_t bytes)
{
    return offset < r->offset + r->bytes && r->offset < offset + bytes;
}

static void tracked_request_begin(BdrvTrackedRequest *req,
                                  BlockDriverState *bs, int64_t offset,
                                  int64_t bytes, bool serialising)
{
    uint32_t align = bs->bl.request_alignment;

    *req = (BdrvTrackedRequest) {
        .bs = bs,
        .offset = offset,
        .bytes = bytes,
        .serialising = serialising,
        .is_write = true,
    };
    if (serialising) {
        int64_t end = QEMU_ALIGN_UP(offset + bytes, (int64_t)align);

        req->offset = QEMU_ALIGN_DOWN(offset, (int64_t)align);
        req->bytes = end - req->offset;
    }
    qemu_co_queue_init(&req->wait_queue);

    qemu_mutex_lock(&bs->reqs_lock);
    QLIST_INSERT_HEAD(&bs->tracked_requests, req, list);
    if (serialising) {
        qatomic_inc(&bs->serialising_in_flight);
    }
    qemu_mutex_unlock(&bs->reqs_lock);
}

/* Waits until no older request conflicts with @req. */
static void coroutine_fn tracked_request_wait(BdrvTrackedRequest *req)
{
    BlockDriverState *bs = req->bs;
    BdrvTrackedRequest *r;

    qemu_mutex_lock(&bs->reqs_lock);
retry:
    for (r = QLIST_NEXT(req, list); r; r = QLIST_NEXT(r, list)) {
        bool conflict = req->serialising ? r->is_write : r->serialising;

        if (conflict && tracked_overlaps(r, req->offset, req->bytes)) {
            /* @r may be gone when we wake: start over. */
            qemu_co_queue_wait(&r->wait_queue, &bs->reqs_lock);
            goto retry;
        }
    }
    qemu_mutex_unlock(&bs->reqs_lock);
}

static void tracked_request_end(BdrvTrackedRequest *req)
{
    BlockDriverState *bs = req->bs;

    qemu_mutex_lock(&bs->reqs_lock);
    QLIST_REMOVE(req, list);
    if (req->serialising) {
        qatomic_dec(&bs->serialising_in_flight);
    }
    qemu_co_queue_restart_all(&req->wait_queue);
    qemu_mutex_unlock(&bs->reqs_lock);
}

/* A read waits for serialising requests that overlap it. */
static void coroutine_fn wait_serialising_for_read(BlockDriverState *bs,
                                                   int64_t offset,
                                                   int64_t bytes)
{
    BdrvTrackedRequest *r;

    if (!qatomic_read(&bs->serialising_in_flight)) {
        return;
    }
    qemu_mutex_lock(&bs->reqs_lock);
retry:
    QLIST_FOREACH(r, &bs->tracked_requests, list) {
        if (r->serialising && tracked_overlaps(r, offset, bytes)) {
            qemu_co_queue_wait(&r->wait_queue, &bs->reqs_lock);
            goto retry;
        }
    }
    qemu_mutex_unlock(&bs->reqs_lock);
}

/* Checks */

static int bdrv_check_request(BlockDriverState *bs, int64_t offset,
                              int64_t bytes)
{
    int64_t len;

    if (offset < 0 || bytes < 0 || offset > BDRV_MAX_LENGTH ||
        bytes > BDRV_MAX_LENGTH - offset) {
        trace_bdrv_request_out_of_range(bs, offset, bytes, -EINVAL);
        return -EINVAL;
    }
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    len = qatomic_read(&bs->total_bytes);
    if (offset > len || bytes > len - offset) {
        trace_bdrv_request_out_of_range(bs, offset, bytes, -EIO);
        return -EIO;
    }
    return 0;
}

/* Driver calls: aligned, bounded, split by max_transfer */

static int64_t bdrv_max_chunk(BlockDriverState *bs, uint32_t limit,
                              int64_t bytes)
{
    uint32_t align = bs->bl.request_alignment;

    if (!limit) {
        return bytes;
    }
    return MIN(bytes, MAX((int64_t)QEMU_ALIGN_DOWN(limit, align),
                          (int64_t)align));
}

static int coroutine_fn bdrv_driver_rw(BlockDriverState *bs, bool write,
                                       int64_t offset, int64_t bytes,
                                       QEMUIOVector *qiov, size_t qoff,
                                       BdrvRequestFlags flags)
{
    const BlockDriver *drv = bs->drv;
    int64_t done = 0;
    bool emulate_fua = false;
    int ret = 0;

    if (write && (flags & BDRV_REQ_FUA) &&
        !(bs->supported_write_flags & BDRV_REQ_FUA)) {
        emulate_fua = true;
        flags &= ~BDRV_REQ_FUA;
    }
    while (done < bytes && ret == 0) {
        int64_t n = bdrv_max_chunk(bs, bs->bl.max_transfer, bytes - done);
        QEMUIOVector slice;
        QEMUIOVector *q = qiov;

        if (qoff + done != 0 || (size_t)n != qiov->size) {
            qemu_iovec_init_slice(&slice, qiov, qoff + done, n);
            q = &slice;
        }
        if (write) {
            ret = drv->bdrv_co_pwritev(bs, offset + done, n, q,
                                       flags & bs->supported_write_flags);
        } else {
            ret = drv->bdrv_co_preadv(bs, offset + done, n, q, 0);
        }
        if (q == &slice) {
            qemu_iovec_destroy(&slice);
        }
        done += n;
    }
    if (ret == 0 && emulate_fua) {
        ret = bdrv_co_flush(bs);
    }
    return ret;
}

/* Writes zero buffers over the range: the fallback of zero writes. */
static int coroutine_fn bdrv_write_zero_buffers(BlockDriverState *bs,
                                                int64_t offset, int64_t bytes,
                                                BdrvRequestFlags flags)
{
    int64_t chunk = MIN(bytes, ZERO_BUFFER_MAX);
    void *buf = qemu_try_blockalign(bs, chunk);
    int ret = 0;

    if (!buf) {
        return -ENOMEM;
    }
    memset(buf, 0, chunk);
    while (bytes > 0 && ret == 0) {
        int64_t n = MIN(bytes, chunk);
        QEMUIOVector qiov;

        qemu_iovec_init_buf(&qiov, buf, n);
        ret = bdrv_driver_rw(bs, true, offset, n, &qiov, 0,
                             flags & BDRV_REQ_FUA);
        offset += n;
        bytes -= n;
    }
    qemu_vfree(buf);
    return ret;
}

static int coroutine_fn bdrv_driver_pwrite_zeroes(BlockDriverState *bs,
                                                  int64_t offset,
                                                  int64_t bytes,
                                                  BdrvRequestFlags flags)
{
    const BlockDriver *drv = bs->drv;
    BdrvRequestFlags drv_flags = flags & bs->supported_zero_flags;
    bool emulate_fua = (flags & BDRV_REQ_FUA) &&
                       !(bs->supported_zero_flags & BDRV_REQ_FUA);
    int ret = 0;

    while (bytes > 0 && ret == 0) {
        int64_t n = bdrv_max_chunk(bs, bs->bl.max_pwrite_zeroes, bytes);

        ret = drv->bdrv_co_pwrite_zeroes ?
              drv->bdrv_co_pwrite_zeroes(bs, offset, n, drv_flags) :
              -ENOTSUP;
        if (ret == -ENOTSUP && !(flags & BDRV_REQ_NO_FALLBACK)) {
            /* The fallback's writes take care of FUA themselves. */
            ret = bdrv_write_zero_buffers(bs, offset, n,
                                          emulate_fua ? flags : 0);
        } else if (ret == 0 && emulate_fua) {
            ret = bdrv_co_flush(bs);
        }
        offset += n;
        bytes -= n;
    }
    return ret;
}

/*
 * Reads the aligned block at @block into *@bounce, allocated on first use
 * and freed by the caller, and points @bq at it.
 */
static int coroutine_fn bdrv_read_padding_block(BlockDriverState *bs,
                                                int64_t block, void **bounce,
                                                QEMUIOVector *bq)
{
    int64_t align = bs->bl.request_alignment;

    if (!*bounce) {
        *bounce = qemu_try_blockalign(bs, align);
        if (!*bounce) {
            return -ENOMEM;
        }
    }
    qemu_iovec_init_buf(bq, *bounce, align);
    return bdrv_driver_rw(bs, false, block, align, bq, 0, 0);
}

/* Reads [@offset, +@bytes) into @qiov at @qoff, padding unaligned ends. */
static int coroutine_fn bdrv_padded_preadv(BlockDriverState *bs,
                                           int64_t offset, int64_t bytes,
                                           QEMUIOVector *qiov, size_t qoff)
{
    int64_t align = bs->bl.request_alignment;
    int64_t pos = offset;
    int64_t end = offset + bytes;
    void *bounce = NULL;
    int ret = 0;

    while (pos < end && ret == 0) {
        int64_t block = QEMU_ALIGN_DOWN(pos, align);

        if (pos == block && end - pos >= align) {
            int64_t n = QEMU_ALIGN_DOWN(end - pos, align);

            ret = bdrv_driver_rw(bs, false, pos, n, qiov,
                                 qoff + (pos - offset), 0);
            pos += n;
        } else {
            int64_t n = MIN(block + align, end) - pos;
            QEMUIOVector bq;

            ret = bdrv_read_padding_block(bs, block, &bounce, &bq);
            if (ret == 0) {
                qemu_iovec_from_buf(qiov, qoff + (pos - offset),
                                    (char *)bounce + (pos - block), n);
            }
            pos += n;
        }
    }
    qemu_vfree(bounce);
    return ret;
}

/*
 * Writes data (or zeroes with BDRV_REQ_ZERO_WRITE) with read-modify-write
 * of unaligned ends; the caller made the request serialising if needed.
 */
static int coroutine_fn bdrv_padded_pwritev(BlockDriverState *bs,
                                            int64_t offset, int64_t bytes,
                                            QEMUIOVector *qiov,
                                            BdrvRequestFlags flags)
{
    int64_t align = bs->bl.request_alignment;
    bool zero = flags & BDRV_REQ_ZERO_WRITE;
    BdrvRequestFlags data_flags = flags & BDRV_REQ_FUA;
    int64_t pos = offset;
    int64_t end = offset + bytes;
    void *bounce = NULL;
    int ret = 0;

    while (pos < end && ret == 0) {
        int64_t block = QEMU_ALIGN_DOWN(pos, align);

        if (pos == block && end - pos >= align) {
            int64_t n = QEMU_ALIGN_DOWN(end - pos, align);

            if (zero) {
                ret = bdrv_driver_pwrite_zeroes(bs, pos, n,
                                                flags & ~BDRV_REQ_ZERO_WRITE);
            } else {
                ret = bdrv_driver_rw(bs, true, pos, n, qiov, pos - offset,
                                     data_flags);
            }
            pos += n;
        } else {
            int64_t n = MIN(block + align, end) - pos;
            QEMUIOVector bq;

            ret = bdrv_read_padding_block(bs, block, &bounce, &bq);
            if (ret == 0) {
                if (zero) {
                    memset((char *)bounce + (pos - block), 0, n);
                } else {
                    qemu_iovec_to_buf(qiov, pos - offset,
                                      (char *)bounce + (pos - block), n);
                }
                ret = bdrv_driver_rw(bs, true, block, align, &bq, 0,
                                     data_flags);
            }
            pos += n;
        }
    }
    qemu_vfree(bounce);
    return ret;
}

/* Public I/O */

int coroutine_fn bdrv_co_preadv(BdrvChild *child, int64_t offset,
                                int64_t bytes, QEMUIOVector *qiov,
                                BdrvRequestFlags flags)
{
    BlockDriverState *bs = child->bs;
    int ret = bdrv_check_request(bs, offset, bytes);

    if (ret < 0) {
        return ret;
    }
    if (flags & BDRV_REQ_PREFETCH || bytes == 0) {
        /* No copy-on-read layer: nothing to bring in. */
        return 0;
    }
    assert(qiov && qiov->size >= (size_t)bytes);

    bdrv_inc_in_flight(bs);
    wait_serialising_for_read(bs, offset, bytes);
    ret = bdrv_padded_preadv(bs, offset, bytes, qiov, 0);
    bdrv_dec_in_flight(bs);
    return ret;
}

static int coroutine_fn bdrv_co_do_pwritev(BlockDriverState *bs,
                                           int64_t offset, int64_t bytes,
                                           QEMUIOVector *qiov,
                                           BdrvRequestFlags flags)
{
    int64_t align = bs->bl.request_alignment;
    BdrvTrackedRequest req;
    int ret;

    if (bs->drv && bs->read_only) {
        return -EPERM;
    }
    ret = bdrv_check_request(bs, offset, bytes);
    if (ret < 0) {
        return ret;
    }
    if (bytes == 0) {
        return 0;
    }
    assert((flags & BDRV_REQ_ZERO_WRITE) ||
           (qiov && qiov->size >= (size_t)bytes));
    if (bs->open_flags & BDRV_O_NO_FLUSH) {
        flags &= ~BDRV_REQ_FUA;
    }
    if (!(bs->open_flags & BDRV_O_UNMAP)) {
        flags &= ~BDRV_REQ_MAY_UNMAP;
    }

    bdrv_inc_in_flight(bs);
    tracked_request_begin(&req, bs, offset, bytes,
                          offset % align || bytes % align);
    tracked_request_wait(&req);
    ret = bdrv_padded_pwritev(bs, offset, bytes, qiov, flags);
    tracked_request_end(&req);
    bdrv_dec_in_flight(bs);
    return ret;
}

int coroutine_fn bdrv_co_pwritev(BdrvChild *child, int64_t offset,
                                 int64_t bytes, QEMUIOVector *qiov,
                                 BdrvRequestFlags flags)
{
    return bdrv_co_do_pwritev(child->bs, offset, bytes, qiov,
                              flags & ~BDRV_REQ_ZERO_WRITE);
}

int coroutine_fn bdrv_co_pwrite_zeroes(BdrvChild *child, int64_t offset,
                                       int64_t bytes,
                                       BdrvRequestFlags flags)
{
    return bdrv_co_do_pwritev(child->bs, offset, bytes, NULL,
                              flags | BDRV_REQ_ZERO_WRITE);
}

int coroutine_fn bdrv_co_pdiscard(BdrvChild *child, int64_t offset,
                                  int64_t bytes)
{
    BlockDriverState *bs = child->bs;
    BdrvTrackedRequest req;
    int64_t align, start, end, len;
    int ret;

    if (bs->drv && bs->read_only) {
        return -EPERM;
    }
    ret = bdrv_check_request(bs, offset, bytes);
    if (ret < 0) {
        return ret;
    }
    if (!(bs->open_flags & BDRV_O_UNMAP) || !bs->drv->bdrv_co_pdiscard) {
        return 0;
    }
    align = MAX(bs->bl.pdiscard_alignment, bs->bl.request_alignment);
    len = qatomic_read(&bs->total_bytes);
    start = QEMU_ALIGN_UP(offset, align);
    end = offset + bytes == len ? len : QEMU_ALIGN_DOWN(offset + bytes,
                                                        align);
    if (end <= start) {
        return 0;
    }

    bdrv_inc_in_flight(bs);
    tracked_request_begin(&req, bs, start, end - start, false);
    tracked_request_wait(&req);
    ret = bs->drv->bdrv_co_pdiscard(bs, start, end - start);
    if (ret == -ENOTSUP) {
        /* Discard is advisory. */
        ret = 0;
    }
    tracked_request_end(&req);
    bdrv_dec_in_flight(bs);
    return ret;
}

int coroutine_fn bdrv_co_flush(BlockDriverState *bs)
{
    int ret = 0;

    if (!bs || !bs->drv || bs->read_only ||
        (bs->open_flags & BDRV_O_NO_FLUSH)) {
        return 0;
    }
    bdrv_inc_in_flight(bs);
    if (bs->drv->bdrv_co_flush) {
        ret = bs->drv->bdrv_co_flush(bs);
    } else if (bs->file) {
        ret = bdrv_co_flush(bs->file->bs);
    }
    bdrv_dec_in_flight(bs);
    return ret;
}

/* Block status */

static int coroutine_fn bdrv_co_do_block_status(BlockDriverState *bs,
                                                bool want_zero,
                                                int64_t offset,
                                                int64_t bytes, int64_t *pnum,
                                                int64_t *map,
                                                BlockDriverState **file)
{
    int64_t total, align, head, local_pnum = 0, local_map = 0;
    BlockDriverState *local_file = NULL;
    int ret;

    *pnum = 0;
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    total = qatomic_read(&bs->total_bytes);
    if (offset < 0 || bytes < 0) {
        return -EINVAL;
    }
    if (offset >= total || bytes == 0) {
        return offset >= total ? BDRV_BLOCK_EOF : 0;
    }
    bytes = MIN(bytes, total - offset);

    if (!bs->drv->bdrv_co_block_status) {
        *pnum = bytes;
        ret = BDRV_BLOCK_DATA | BDRV_BLOCK_ALLOCATED;
        if (!bs->drv->is_format) {
            ret |= BDRV_BLOCK_OFFSET_VALID;
            local_map = offset;
            local_file = bs;
        }
        goto out;
    }

    /* Ask for whole aligned blocks, then trim the answer to the request. */
    align = bs->bl.request_alignment;
    head = offset % align;
    bdrv_inc_in_flight(bs);
    ret = bs->drv->bdrv_co_block_status(bs, want_zero, offset - head,
                                        QEMU_ALIGN_UP(bytes + head, align),
                                        &local_pnum, &local_map,
                                        &local_file);
    bdrv_dec_in_flight(bs);
    if (ret < 0) {
        return ret;
    }
    if (local_pnum <= head) {
        /* The answer ends inside our first block: call it all data. */
        ret = BDRV_BLOCK_DATA | (ret & BDRV_BLOCK_OFFSET_VALID);
        local_pnum = MIN(align - head, bytes);
    } else {
        local_pnum = MIN(local_pnum - head, bytes);
    }
    local_map += head;
    *pnum = local_pnum;

    if ((ret & BDRV_BLOCK_RAW) && local_file) {
        int64_t sub_pnum;

        ret = bdrv_co_do_block_status(local_file, want_zero, local_map,
                                      *pnum, &sub_pnum, &local_map,
                                      &local_file);
        if (ret < 0) {
            return ret;
        }
        ret &= ~BDRV_BLOCK_EOF;
        if (sub_pnum == 0) {
            /* The file is shorter than the format says: reads as zero. */
            ret = BDRV_BLOCK_ZERO;
            local_file = NULL;
        } else {
            *pnum = sub_pnum;
        }
    }

out:
    if (ret & (BDRV_BLOCK_DATA | BDRV_BLOCK_ZERO)) {
        ret |= BDRV_BLOCK_ALLOCATED;
    }
    if (offset + *pnum == total) {
        ret |= BDRV_BLOCK_EOF;
    }
    if (map) {
        *map = local_map;
    }
    if (file) {
        *file = local_file;
    }
    return ret;
}

int coroutine_fn bdrv_co_block_status(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, int64_t *pnum,
                                      int64_t *map, BlockDriverState **file)
{
    return bdrv_co_do_block_status(bs, true, offset, bytes, pnum, map, file);
}

/* The node of @bs's child named "backing", or NULL. */
static BlockDriverState *bdrv_backing_child_bs(BlockDriverState *bs)
{
    BdrvChild *c;

    QLIST_FOREACH(c, &bs->children, next) {
        if (!strcmp(c->name, "backing")) {
            return c->bs;
        }
    }
    return NULL;
}

int coroutine_fn bdrv_co_block_status_above(BlockDriverState *bs,
                                            BlockDriverState *base,
                                            int64_t offset, int64_t bytes,
                                            int64_t *pnum, int64_t *map,
                                            BlockDriverState **file)
{
    BlockDriverState *p;
    int64_t n = bytes;
    int ret = 0;

    if (bs == base) {
        *pnum = bytes;
        return 0;
    }
    /*
     * Down the chain of "backing" children (qcow2) while the layer does
     * not have the data itself; the first answer's length bounds the
     * rest. A layer without a backing child answers for itself.
     */
    for (p = bs; p && p != base; p = bdrv_backing_child_bs(p)) {
        int64_t len = qatomic_read(&p->total_bytes);

        if (p != bs && offset >= len) {
            /* Past the end of a shorter backing file: zeroes. */
            *pnum = n;
            return BDRV_BLOCK_ZERO;
        }
        ret = bdrv_co_do_block_status(p, true, offset, n, pnum, map, file);
        if (ret < 0 || (ret & BDRV_BLOCK_ALLOCATED)) {
            return ret;
        }
        if (!bdrv_backing_child_bs(p)) {
            /* Unallocated without a backing file: zeroes, not present. */
            return p->drv->supports_backing ? ret | BDRV_BLOCK_ZERO : ret;
        }
        n = *pnum;
        if (n == 0) {
            return ret;
        }
    }
    *pnum = n;
    return ret;
}

/* Length and truncate */

int coroutine_mixed_fn bdrv_refresh_total_bytes(BlockDriverState *bs)
{
    int64_t len;

    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    if (!bs->drv->bdrv_getlength) {
        return 0;
    }
    len = bs->drv->bdrv_getlength(bs);
    if (len < 0) {
        return len;
    }
    qatomic_set(&bs->total_bytes, len);
    return 0;
}

int64_t bdrv_getlength(BlockDriverState *bs)
{
    if (!bs->drv) {
        return -ENOMEDIUM;
    }
    return qatomic_read(&bs->total_bytes);
}

int64_t coroutine_fn bdrv_co_getlength(BlockDriverState *bs)
{
    return bdrv_getlength(bs);
}

void bdrv_parents_resized(BlockDriverState *bs)
{
    BdrvChild *c;

    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (c->klass->resize) {
            c->klass->resize(c);
        }
    }
}

int coroutine_fn bdrv_co_truncate(BdrvChild *child, int64_t offset,
                                  bool exact, PreallocMode prealloc,
                                  BdrvRequestFlags flags, Error **errp)
{
    BlockDriverState *bs = child->bs;
    BdrvTrackedRequest req;
    int64_t old_len, start;
    int ret;

    if (!bs->drv) {
        error_setg(errp, "node '%s': no medium", bdrv_get_node_name(bs));
        return -ENOMEDIUM;
    }
    if (bs->read_only) {
        error_setg(errp, "node '%s' is read-only", bdrv_get_node_name(bs));
        return -EACCES;
    }
    if (offset < 0) {
        error_setg(errp, "Image size cannot be negative");
        return -EINVAL;
    }
    if (offset > BDRV_MAX_LENGTH) {
        error_setg(errp, "Image size too large: %" PRId64, offset);
        return -EFBIG;
    }
    if (!bs->drv->bdrv_co_truncate) {
        error_setg(errp, "driver '%s' does not support resizing",
                   bs->drv->format_name);
        return -ENOTSUP;
    }

    bdrv_inc_in_flight(bs);
    old_len = qatomic_read(&bs->total_bytes);
    start = QEMU_ALIGN_DOWN(MIN(old_len, offset),
                            (int64_t)bs->bl.request_alignment);
    tracked_request_begin(&req, bs, start, BDRV_MAX_LENGTH - start, true);
    tracked_request_wait(&req);
    ret = bs->drv->bdrv_co_truncate(bs, offset, exact, prealloc, flags,
                                    errp);
    if (ret == 0) {
        bdrv_refresh_total_bytes(bs);
        bdrv_parents_resized(bs);
    }
    tracked_request_end(&req);
    bdrv_dec_in_flight(bs);
    return ret;
}

/* Buffers */

size_t bdrv_opt_mem_align(BlockDriverState *bs)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    if (!bs || !bs->drv) {
        return page;
    }
    return MAX(bs->bl.opt_mem_alignment, sizeof(void *));
}

void *qemu_try_blockalign(BlockDriverState *bs, size_t size)
{
    size_t align = bdrv_opt_mem_align(bs);
    void *ptr;

    /* Allocate at least one byte, so that the result can be freed. */
    if (posix_memalign(&ptr, align, MAX(size, 1))) {
        return NULL;
    }
    return ptr;
}

void *qemu_blockalign(BlockDriverState *bs, size_t size)
{
    void *ptr = qemu_try_blockalign(bs, size);

    if (!ptr) {
        fprintf(stderr, "qemu: failed to allocate %zu bytes\n", size);
        abort();
    }
    return ptr;
}

void *qemu_blockalign0(BlockDriverState *bs, size_t size)
{
    return memset(qemu_blockalign(bs, size), 0, size);
}

void qemu_vfree(void *ptr)
{
    free(ptr);
}

uint32_t bdrv_get_request_alignment(BlockDriverState *bs)
{
    return bs->bl.request_alignment;
}
