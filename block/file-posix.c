/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The "file" protocol driver: regular files and block devices.
 *
 * Options: filename (required), aio=threads|io_uring, locking=auto|on|off;
 * cache.direct / cache.no-flush / discard / read-only / force-share are
 * handled by the generic layer and arrive as flags.
 *
 * Theory of operation: data requests go to the io_uring ring of the
 * node's AioContext (aio=io_uring; block/io_uring.c) or to the thread pool
 * of the calling coroutine's context (aio=threads, and whenever a
 * coroutine of another context calls us, since a ring is only usable from
 * its own context's thread). The node holds a reference to its context's
 * ring, dropped and retaken around AioContext moves (detach/attach
 * callbacks, called in the main thread while the node is drained, so no
 * request sees s->ring change under it). Other state is written at open
 * or in atomic flags that remember which fallocate modes the file system
 * refused.
 *
 * Image locking follows QEMU's byte layout, so that QEMU processes and we
 * see each other's locks: for every permission we hold, a shared OFD lock
 * on byte 100 + bit; for every permission we do not share, one on byte
 * 200 + bit. A new user checks the other side's bytes: "write" taken by
 * one writer blocks another, whose check finds byte 200 + 1 locked.
 */
#include "qemu/osdep.h"
#include <linux/magic.h>
#include <sys/vfs.h>
#include "block/block_int.h"
#include "block/raw-aio.h"
#include "block/thread-pool.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "block/trace.h"

#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

/* Permission bits, as QEMU numbers them for its lock bytes. */
enum {
    PERM_CONSISTENT_READ = 1 << 0,
    PERM_WRITE = 1 << 1,
    PERM_WRITE_UNCHANGED = 1 << 2,
    PERM_RESIZE = 1 << 3,
    PERM_ALL = (1 << 4) - 1,
    PERM_COUNT = 4,

    RAW_LOCK_PERM_BASE = 100,
    RAW_LOCK_SHARED_BASE = 200,
};

static const char *const perm_names[PERM_COUNT] = {
    "consistent read", "write", "write unchanged", "resize",
};

/*
 * The largest read or write of a memory-backed file done inline. Bigger
 * copies are worth a worker thread: on another CPU they overlap with the
 * event loop's work (qemu-img convert to /dev/shm was 30 % slower with
 * every copy inline; 1 MiB NBD reads no faster).
 */
#define RAW_INLINE_MAX (64 * 1024)

typedef struct BDRVRawState {
    int fd;
    char *filename;
    bool is_blockdev;
    bool direct;
    bool want_io_uring;
    LuringState *ring;          /* of bs's context; main thread, drained */
    bool use_lock;
    /* Cleared when the kernel refuses (atomic). */
    bool has_punch_hole;
    bool has_zero_range;
    bool has_rwf_dsync;
    /*
     * Small reads and writes (up to RAW_INLINE_MAX) and flushes run inline
     * in the requesting coroutine: the file lives in memory (tmpfs,
     * ramfs), so they never wait for a device. io_uring cannot do them
     * without waiting (tmpfs has no RWF_NOWAIT) and hands every one to a
     * worker thread, as aio=threads does: two context switches around
     * what is one memory copy.
     */
    bool inline_rw;
    /*
     * The last data region SEEK_DATA/SEEK_HOLE found, [start, end): on
     * tmpfs and others SEEK_HOLE walks the page cache up to the next hole,
     * so asking again for every read of a big data region costs
     * milliseconds. Only operations that can make holes (punching,
     * zeroing, truncating) forget it. data_lock protects both.
     */
    QemuMutex data_lock;
    int64_t data_start;
    int64_t data_end;
} BDRVRawState;

static void raw_forget_data_region(BDRVRawState *s)
{
    qemu_mutex_lock(&s->data_lock);
    s->data_start = s->data_end = 0;
    qemu_mutex_unlock(&s->data_lock);
}

/* Locking */

static int raw_lock_byte(int fd, off_t byte, short type, bool test,
                         bool *conflict)
{
    struct flock fl = {
        .l_whence = SEEK_SET,
        .l_start = byte,
        .l_len = 1,
        .l_type = type,
    };

    if (fcntl(fd, test ? F_OFD_GETLK : F_OFD_SETLK, &fl) < 0) {
        return -errno;
    }
    if (test) {
        *conflict = fl.l_type != F_UNLCK;
    }
    return 0;
}

/*
 * Takes our lock bytes and checks that no other user conflicts. Returns
 * 0, -EAGAIN with @errp set on a conflict, or another negative errno when
 * the file system cannot lock.
 */
static int raw_lock_image(BDRVRawState *s, uint64_t perm, uint64_t shared,
                          Error **errp)
{
    int i, ret;

    for (i = 0; i < PERM_COUNT; i++) {
        if (perm & (1 << i)) {
            ret = raw_lock_byte(s->fd, RAW_LOCK_PERM_BASE + i, F_RDLCK,
                                false, NULL);
            if (ret < 0) {
                error_setg_errno(errp, -ret, "Failed to lock byte %d",
                                 RAW_LOCK_PERM_BASE + i);
                return ret;
            }
        }
        if (!(shared & (1 << i))) {
            ret = raw_lock_byte(s->fd, RAW_LOCK_SHARED_BASE + i, F_RDLCK,
                                false, NULL);
            if (ret < 0) {
                error_setg_errno(errp, -ret, "Failed to lock byte %d",
                                 RAW_LOCK_SHARED_BASE + i);
                return ret;
            }
        }
    }
    for (i = 0; i < PERM_COUNT; i++) {
        bool conflict = false;

        if (perm & (1 << i)) {
            ret = raw_lock_byte(s->fd, RAW_LOCK_SHARED_BASE + i, F_WRLCK,
                                true, &conflict);
            if (ret == 0 && conflict) {
                error_setg(errp, "Failed to get \"%s\" lock", perm_names[i]);
                error_append_hint(errp, "Is another process using the image "
                                  "[%s]?\n", s->filename);
                return -EAGAIN;
            }
        }
        if (!(shared & (1 << i))) {
            ret = raw_lock_byte(s->fd, RAW_LOCK_PERM_BASE + i, F_WRLCK,
                                true, &conflict);
            if (ret == 0 && conflict) {
                error_setg(errp, "Failed to get shared \"%s\" lock",
                           perm_names[i]);
                error_append_hint(errp, "Is another process using the image "
                                  "[%s]?\n", s->filename);
                return -EAGAIN;
            }
        }
    }
    return 0;
}

/* Work for the thread pool, or a description of an io_uring request. */

typedef struct RawPosixAIOData {
    int fd;
    LuringOp op;
    uint64_t offset;
    QEMUIOVector *qiov;
    uint64_t len;
    int arg;
} RawPosixAIOData;

static int raw_thread_fn(void *opaque)
{
    RawPosixAIOData *d = opaque;
    ssize_t ret = -1;

    switch (d->op) {
    case LURING_READ:
        ret = preadv(d->fd, d->qiov->iov, d->qiov->niov, d->offset);
        break;
    case LURING_WRITE:
        ret = pwritev2(d->fd, d->qiov->iov, d->qiov->niov, d->offset,
                       d->arg);
        break;
    case LURING_FDATASYNC:
        ret = fdatasync(d->fd);
        break;
    case LURING_FALLOCATE:
        ret = fallocate(d->fd, d->arg, d->offset, d->len);
        break;
    }
    return ret < 0 ? -errno : (int)MIN(ret, INT_MAX);
}

static int coroutine_fn raw_submit(BlockDriverState *bs, LuringOp op,
                                   uint64_t offset, QEMUIOVector *qiov,
                                   uint64_t len, int arg)
{
    BDRVRawState *s = bs->opaque;
    LuringState *ring = s->ring;
    RawPosixAIOData d = {
        .fd = s->fd,
        .op = op,
        .offset = offset,
        .qiov = qiov,
        .len = len,
        .arg = arg,
    };
    bool use_ring;
    int ret;

    do {
        use_ring = ring && luring_get_aio_context(ring) ==
                           qemu_get_current_aio_context();
        if (s->inline_rw && op != LURING_FALLOCATE &&
            (!qiov || qiov->size <= RAW_INLINE_MAX)) {
            use_ring = false;
            ret = raw_thread_fn(&d);
        } else if (use_ring) {
            ret = luring_co_submit(ring, op, s->fd, offset, qiov, len, arg);
        } else {
            ret = thread_pool_submit_co(raw_thread_fn, &d);
        }
        if (ret < 0) {
            trace_file_submit_error(bs, op, offset,
                                    qiov ? qiov->size : len, use_ring, ret);
        }
    } while (ret == -EINTR || ret == -EAGAIN);
    return ret;
}

/* Reads or writes all of @qiov, resuming after short transfers. */
static int coroutine_fn raw_rw_full(BlockDriverState *bs, bool write,
                                    uint64_t offset, QEMUIOVector *qiov,
                                    int rwf)
{
    size_t done = 0;

    while (done < qiov->size) {
        QEMUIOVector slice;
        QEMUIOVector *q = qiov;
        int ret;

        if (done) {
            qemu_iovec_init_slice(&slice, qiov, done, qiov->size - done);
            q = &slice;
        }
        ret = raw_submit(bs, write ? LURING_WRITE : LURING_READ,
                         offset + done, q, 0, rwf);
        if (q == &slice) {
            qemu_iovec_destroy(&slice);
        }
        if (ret < 0) {
            return ret;
        }
        if (ret == 0) {
            if (write) {
                return -EIO;
            }
            /* End of file: what lies beyond reads as zeroes. */
            qemu_iovec_memset(qiov, done, 0, qiov->size - done);
            break;
        }
        done += ret;
    }
    return 0;
}

static int coroutine_fn raw_co_prw(BlockDriverState *bs, bool write,
                                   int64_t offset, int64_t bytes,
                                   QEMUIOVector *qiov, BdrvRequestFlags flags)
{
    BDRVRawState *s = bs->opaque;
    int rwf = 0;
    bool flush_after = false;
    void *bounce = NULL;
    QEMUIOVector bq;
    int ret;

    if (write && (flags & BDRV_REQ_FUA)) {
        if (qatomic_read(&s->has_rwf_dsync)) {
            rwf = RWF_DSYNC;
        } else {
            flush_after = true;
        }
    }
    /* O_DIRECT needs aligned memory: copy through a bounce buffer. */
    if (s->direct && !qemu_iovec_is_aligned(qiov, bs->bl.min_mem_alignment)) {
        bounce = qemu_try_blockalign(bs, bytes);
        if (!bounce) {
            return -ENOMEM;
        }
        if (write) {
            qemu_iovec_to_buf(qiov, 0, bounce, bytes);
        }
        qemu_iovec_init_buf(&bq, bounce, bytes);
    }

    ret = raw_rw_full(bs, write, offset, bounce ? &bq : qiov, rwf);
    if (ret == -EOPNOTSUPP && rwf) {
        /* No RWF_DSYNC: write, then flush. */
        qatomic_set(&s->has_rwf_dsync, false);
        ret = raw_rw_full(bs, write, offset, bounce ? &bq : qiov, 0);
        flush_after = true;
    }
    if (ret == 0 && flush_after) {
        ret = raw_submit(bs, LURING_FDATASYNC, 0, NULL, 0, 0);
    }
    if (bounce) {
        if (ret == 0 && !write) {
            qemu_iovec_from_buf(qiov, 0, bounce, bytes);
        }
        qemu_vfree(bounce);
    }
    return ret;
}

static int coroutine_fn raw_co_preadv(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, QEMUIOVector *qiov,
                                      BdrvRequestFlags flags)
{
    return raw_co_prw(bs, false, offset, bytes, qiov, flags);
}

static int coroutine_fn raw_co_pwritev(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       BdrvRequestFlags flags)
{
    return raw_co_prw(bs, true, offset, bytes, qiov, flags);
}

static bool raw_errno_unsupported(int ret)
{
    return ret == -EOPNOTSUPP || ret == -ENOTSUP || ret == -ENOSYS ||
           ret == -EINVAL;
}

static int coroutine_fn raw_punch_hole(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes)
{
    BDRVRawState *s = bs->opaque;
    int ret;

    if (!qatomic_read(&s->has_punch_hole)) {
        return -ENOTSUP;
    }
    raw_forget_data_region(s);
    ret = raw_submit(bs, LURING_FALLOCATE, offset, NULL, bytes,
                     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
    raw_forget_data_region(s);
    if (raw_errno_unsupported(ret)) {
        qatomic_set(&s->has_punch_hole, false);
        return -ENOTSUP;
    }
    return ret;
}

static int coroutine_fn raw_co_pwrite_zeroes(BlockDriverState *bs,
                                             int64_t offset, int64_t bytes,
                                             BdrvRequestFlags flags)
{
    BDRVRawState *s = bs->opaque;
    int ret;

    if (flags & BDRV_REQ_MAY_UNMAP) {
        ret = raw_punch_hole(bs, offset, bytes);
        if (ret != -ENOTSUP) {
            return ret;
        }
    }
    if (s->is_blockdev && (flags & BDRV_REQ_NO_FALLBACK)) {
        /* A block device may emulate zeroing by writing: not fast. */
        return -ENOTSUP;
    }
    if (qatomic_read(&s->has_zero_range)) {
        /* Zeroed ranges may read back as holes (unwritten extents). */
        raw_forget_data_region(s);
        ret = raw_submit(bs, LURING_FALLOCATE, offset, NULL, bytes,
                         FALLOC_FL_ZERO_RANGE);
        raw_forget_data_region(s);
        if (!raw_errno_unsupported(ret)) {
            return ret;
        }
        qatomic_set(&s->has_zero_range, false);
    }
    if (s->is_blockdev) {
        return -ENOTSUP;
    }
    /*
     * No ZERO_RANGE (tmpfs, for one): punch the range out, then allocate
     * it again, which gives zeroes that stay allocated.
     */
    ret = raw_punch_hole(bs, offset, bytes);
    if (ret < 0) {
        return ret;
    }
    return raw_submit(bs, LURING_FALLOCATE, offset, NULL, bytes,
                      FALLOC_FL_KEEP_SIZE);
}

static int coroutine_fn raw_co_pdiscard(BlockDriverState *bs,
                                        int64_t offset, int64_t bytes)
{
    return raw_punch_hole(bs, offset, bytes);
}

static int coroutine_fn raw_co_flush(BlockDriverState *bs)
{
    return raw_submit(bs, LURING_FDATASYNC, 0, NULL, 0, 0);
}

static int coroutine_fn raw_co_block_status(BlockDriverState *bs,
                                            bool want_zero, int64_t offset,
                                            int64_t bytes, int64_t *pnum,
                                            int64_t *map,
                                            BlockDriverState **file)
{
    BDRVRawState *s = bs->opaque;
    off_t data, hole;

    *map = offset;
    *file = bs;
    *pnum = bytes;
    if (!want_zero || s->is_blockdev) {
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }
    qemu_mutex_lock(&s->data_lock);
    if (offset >= s->data_start && offset < s->data_end) {
        *pnum = MIN(bytes, s->data_end - offset);
        qemu_mutex_unlock(&s->data_lock);
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }
    qemu_mutex_unlock(&s->data_lock);
    data = lseek(s->fd, offset, SEEK_DATA);
    if (data < 0) {
        if (errno == ENXIO) {
            /* In the hole at the end of the file. */
            return BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID;
        }
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    }
    if (data > offset) {
        *pnum = MIN(bytes, data - offset);
        return BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID;
    }
    hole = lseek(s->fd, offset, SEEK_HOLE);
    if (hole > offset) {
        *pnum = MIN(bytes, hole - offset);
        qemu_mutex_lock(&s->data_lock);
        s->data_start = offset;
        s->data_end = hole;
        qemu_mutex_unlock(&s->data_lock);
    }
    /* Otherwise the file changed under us: call it data. */
    return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
}

static int64_t raw_getlength(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;
    struct stat st;

    if (s->is_blockdev) {
        uint64_t size;

        if (ioctl(s->fd, BLKGETSIZE64, &size) == 0) {
            return size;
        }
        size = lseek(s->fd, 0, SEEK_END);
        return (off_t)size < 0 ? -errno : (int64_t)size;
    }
    if (fstat(s->fd, &st) < 0) {
        return -errno;
    }
    return st.st_size;
}

typedef struct RawTruncate {
    int fd;
    int64_t old_len;
    int64_t offset;
    PreallocMode prealloc;
} RawTruncate;

static int raw_truncate_fn(void *opaque)
{
    RawTruncate *t = opaque;

    if (t->prealloc == PREALLOC_MODE_FALLOC && t->offset > t->old_len) {
        if (fallocate(t->fd, 0, t->old_len, t->offset - t->old_len) < 0) {
            return -errno;
        }
        return 0;
    }
    return ftruncate(t->fd, t->offset) < 0 ? -errno : 0;
}

static int coroutine_fn raw_co_truncate(BlockDriverState *bs, int64_t offset,
                                        bool exact, PreallocMode prealloc,
                                        BdrvRequestFlags flags, Error **errp)
{
    BDRVRawState *s = bs->opaque;
    RawTruncate t = {
        .fd = s->fd,
        .old_len = raw_getlength(bs),
        .offset = offset,
        .prealloc = prealloc,
    };
    int ret;

    if (t.old_len < 0) {
        error_setg_errno(errp, -t.old_len, "Failed to get the size of '%s'",
                         s->filename);
        return t.old_len;
    }
    if (s->is_blockdev) {
        if (offset > t.old_len) {
            error_setg(errp, "Cannot grow device files");
            return -EINVAL;
        }
        if (exact && offset != t.old_len) {
            error_setg(errp, "Cannot resize device files");
            return -ENOTSUP;
        }
        return 0;
    }
    if (prealloc != PREALLOC_MODE_OFF && prealloc != PREALLOC_MODE_FALLOC) {
        error_setg(errp, "Unsupported preallocation mode");
        return -ENOTSUP;
    }
    raw_forget_data_region(s);
    ret = thread_pool_submit_co(raw_truncate_fn, &t);
    raw_forget_data_region(s);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Failed to resize '%s'", s->filename);
    }
    return ret;
}

/* Limits */

static void raw_probe_alignment(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;
    unsigned int sector = 0;
    struct statx stx;

    if (s->is_blockdev && ioctl(s->fd, BLKSSZGET, &sector) == 0 && sector) {
        bs->bl.request_alignment = sector;
        bs->bl.min_mem_alignment = sector;
        return;
    }
    if (statx(s->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
        (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
        bs->bl.request_alignment = stx.stx_dio_offset_align;
        bs->bl.min_mem_alignment = MAX(stx.stx_dio_mem_align, 1);
        return;
    }
    /* Unknown: the largest common logical block size is always safe. */
    bs->bl.request_alignment = 4096;
    bs->bl.min_mem_alignment = 4096;
}

static void raw_refresh_limits(BlockDriverState *bs, Error **errp)
{
    BDRVRawState *s = bs->opaque;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    if (s->direct) {
        raw_probe_alignment(bs);
    }
    bs->bl.opt_mem_alignment = MAX(bs->bl.min_mem_alignment, page);
    /* Keep every request within one preadv()/io_uring entry. */
    bs->bl.max_transfer = 64 * 1024 * 1024;
}

/* Open and close */

static bool raw_parse_filename(const char *filename, KeyVal *options,
                               Error **errp)
{
    strstart(filename, "file:", &filename);
    return keyval_add(options, "filename", filename, errp);
}

/* Is @fd a regular file whose data lives in memory? */
static bool raw_is_memory_backed(int fd, const struct stat *st)
{
    struct statfs fs;

    if (!S_ISREG(st->st_mode) || fstatfs(fd, &fs) < 0) {
        return false;
    }
    return fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC;
}

static int raw_open(BlockDriverState *bs, const KeyVal *options, int flags,
                    Error **errp)
{
    BDRVRawState *s = bs->opaque;
    const char *filename = keyval_get(options, "filename");
    const char *aio = keyval_get(options, "aio");
    const char *locking = keyval_get(options, "locking");
    struct stat st;
    int open_flags;
    int ret;

    s->fd = -1;
    if (!filename) {
        error_setg(errp, "Parameter 'filename' is missing");
        return -EINVAL;
    }
    if (!aio) {
        aio = flags & BDRV_O_IO_URING ? "io_uring" : "threads";
    }
    if (!strcmp(aio, "io_uring")) {
        s->want_io_uring = true;
    } else if (!strcmp(aio, "native")) {
        error_setg(errp, "aio=native is not supported, use io_uring");
        return -ENOTSUP;
    } else if (strcmp(aio, "threads")) {
        error_setg(errp, "Parameter 'aio' does not accept value '%s'", aio);
        return -EINVAL;
    }
    if (!locking || !strcmp(locking, "auto") || !strcmp(locking, "on")) {
        s->use_lock = true;
    } else if (strcmp(locking, "off")) {
        error_setg(errp, "Parameter 'locking' does not accept value '%s'",
                   locking);
        return -EINVAL;
    }

    s->filename = g_strdup(filename);
    s->direct = flags & BDRV_O_NOCACHE;
    open_flags = O_CLOEXEC | (flags & BDRV_O_RDWR ? O_RDWR : O_RDONLY) |
                 (s->direct ? O_DIRECT : 0);
    s->fd = open(filename, open_flags);
    if (s->fd < 0) {
        ret = -errno;
        trace_file_open_fail(filename, -ret);
        if (ret == -EINVAL && s->direct) {
            error_setg(errp, "Could not open '%s': the file system does not "
                       "support O_DIRECT (cache.direct=on)", filename);
        } else {
            error_setg_errno(errp, -ret, "Could not open '%s'", filename);
        }
        goto fail;
    }
    if (fstat(s->fd, &st) < 0) {
        ret = -errno;
        error_setg_errno(errp, -ret, "Could not stat '%s'", filename);
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        ret = -EISDIR;
        error_setg(errp, "'%s' is a directory", filename);
        goto fail;
    }
    s->is_blockdev = S_ISBLK(st.st_mode);
    s->inline_rw = raw_is_memory_backed(s->fd, &st);

    if (s->use_lock) {
        uint64_t perm, shared;

        if (flags & BDRV_O_RDWR) {
            perm = PERM_ALL;
            shared = PERM_CONSISTENT_READ | PERM_WRITE_UNCHANGED;
        } else if (bs->force_share) {
            perm = PERM_CONSISTENT_READ;
            shared = PERM_ALL;
        } else {
            perm = PERM_CONSISTENT_READ;
            shared = PERM_ALL & ~(PERM_WRITE | PERM_RESIZE);
        }
        Error *local_err = NULL;

        ret = raw_lock_image(s, perm, shared, &local_err);
        if ((ret == -EINVAL || ret == -ENOLCK) &&
            (!locking || !strcmp(locking, "auto"))) {
            /* locking=auto on a file system without OFD locks. */
            error_free(local_err);
            warn_report("'%s': the file system does not support locking; "
                        "opening without", filename);
        } else if (ret < 0) {
            error_propagate(errp, local_err);
            goto fail;
        }
    }

    qemu_mutex_init(&s->data_lock);
    s->has_punch_hole = true;
    s->has_zero_range = true;
    s->has_rwf_dsync = true;
    bs->supported_write_flags = BDRV_REQ_FUA;
    bs->supported_zero_flags = BDRV_REQ_MAY_UNMAP | BDRV_REQ_NO_FALLBACK;
    bs->filename = g_strdup(filename);

    if (s->want_io_uring) {
        Error *local_err = NULL;

        s->ring = luring_get(bdrv_get_aio_context(bs), &local_err);
        if (!s->ring) {
            trace_file_io_uring_unavailable(bs, error_get_pretty(local_err));
            warn_reportf_err(local_err, "'%s': falling back to aio=threads: ",
                             filename);
        }
    }
    trace_file_open(bs, filename, open_flags, s->fd, s->ring != NULL,
                    s->inline_rw);
    return 0;

fail:
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    g_free(s->filename);
    s->filename = NULL;
    return ret;
}

static void raw_close(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;

    if (s->ring) {
        luring_put(s->ring);
        s->ring = NULL;
    }
    trace_file_close(bs, s->fd);
    if (s->fd >= 0) {
        /* Closing the file releases our OFD locks too. */
        close(s->fd);
        s->fd = -1;
    }
    g_free(s->filename);
    s->filename = NULL;
    if (s->data_lock.initialized) {
        qemu_mutex_destroy(&s->data_lock);
    }
}

static void raw_detach_aio_context(BlockDriverState *bs)
{
    BDRVRawState *s = bs->opaque;

    if (s->ring) {
        luring_put(s->ring);
        s->ring = NULL;
    }
}

static void raw_attach_aio_context(BlockDriverState *bs, AioContext *new_ctx)
{
    BDRVRawState *s = bs->opaque;
    Error *local_err = NULL;

    if (s->want_io_uring) {
        s->ring = luring_get(new_ctx, &local_err);
        if (!s->ring) {
            warn_reportf_err(local_err, "'%s': falling back to aio=threads: ",
                             s->filename);
        }
    }
}

const BlockDriver bdrv_file = {
    .format_name = "file",
    .protocol_name = "file",
    .instance_size = sizeof(BDRVRawState),
    .bdrv_parse_filename = raw_parse_filename,
    .bdrv_open = raw_open,
    .bdrv_close = raw_close,
    .bdrv_refresh_limits = raw_refresh_limits,
    .bdrv_co_preadv = raw_co_preadv,
    .bdrv_co_pwritev = raw_co_pwritev,
    .bdrv_co_pwrite_zeroes = raw_co_pwrite_zeroes,
    .bdrv_co_pdiscard = raw_co_pdiscard,
    .bdrv_co_flush = raw_co_flush,
    .bdrv_co_block_status = raw_co_block_status,
    .bdrv_getlength = raw_getlength,
    .bdrv_co_truncate = raw_co_truncate,
    .bdrv_detach_aio_context = raw_detach_aio_context,
    .bdrv_attach_aio_context = raw_attach_aio_context,
};
