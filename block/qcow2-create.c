/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qcow2 image creation (qemu-img create -f qcow2). Main thread.
 *
 * The empty image is written with plain system calls: the header cluster
 * (header, extensions, backing file name), the refcount table, the
 * refcount blocks that cover the metadata, and a zeroed L1 table, in
 * that order. Preallocation then opens the image with the driver and
 * allocates every cluster through the normal allocation path.
 */
#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "block/qcow2.h"
#include "block/qcow2-img.h"

static bool qcow2_pwrite_all(int fd, const void *buf, size_t len,
                             uint64_t offset, const char *filename,
                             Error **errp)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, offset);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            error_setg_errno(errp, n < 0 ? errno : EIO,
                             "Could not write to '%s'", filename);
            return false;
        }
        buf = (const uint8_t *)buf + n;
        len -= n;
        offset += n;
    }
    return true;
}

/* Size of a backing file, opened as qemu-img would (relative to @image). */
static int64_t qcow2_backing_size(const char *image, const char *backing,
                                  const char *fmt, Error **errp)
{
    g_autofree char *dir = g_path_get_dirname(image);
    g_autofree char *path = g_path_is_absolute(backing) ||
                            strstr(backing, "://") ?
                            g_strdup(backing) :
                            g_build_filename(dir, backing, NULL);
    BlockDriverState *bs = bdrv_open(path, fmt, NULL, 0, errp);
    int64_t len;

    if (!bs) {
        error_prepend(errp, "Could not open backing file: ");
        return -1;
    }
    len = bdrv_getlength(bs);
    bdrv_unref(bs);
    if (len < 0) {
        error_setg_errno(errp, -len, "Could not get the size of the backing "
                         "file");
    }
    return len;
}

typedef struct Qcow2PreallocCo {
    BlockDriverState *bs;
    int ret;
    bool done;
} Qcow2PreallocCo;

static void coroutine_fn qcow2_prealloc_entry(void *opaque)
{
    Qcow2PreallocCo *pc = opaque;

    pc->ret = qcow2_co_preallocate(pc->bs);
    if (pc->ret == 0) {
        pc->ret = bdrv_co_flush(pc->bs);
    }
    qatomic_store_release(&pc->done, true);
    aio_wait_kick();
}

static bool qcow2_preallocate(const char *filename, const char *mode,
                              Error **errp)
{
    Qcow2PreallocCo pc = { 0 };
    BlockDriverState *bs;
    AioContext *ctx;

    bs = bdrv_open(filename, "qcow2", NULL, BDRV_O_RDWR, errp);
    if (!bs) {
        return false;
    }
    pc.bs = bs;
    ctx = bdrv_get_aio_context(bs);
    aio_co_enter(ctx, qemu_coroutine_create(qcow2_prealloc_entry, &pc));
    AIO_WAIT_WHILE(ctx, !qatomic_load_acquire(&pc.done));
    bdrv_unref(bs);
    if (pc.ret < 0) {
        error_setg_errno(errp, -pc.ret, "Could not preallocate '%s'",
                         filename);
        return false;
    }
    if (!strcmp(mode, "falloc") || !strcmp(mode, "full")) {
        int fd = open(filename, O_RDWR | O_CLOEXEC);
        struct stat st;
        int err = 0;

        if (fd < 0 || fstat(fd, &st) < 0) {
            err = errno;
        } else if (!strcmp(mode, "falloc")) {
            err = st.st_size ? posix_fallocate(fd, 0, st.st_size) : 0;
        } else {
            /* full: every block written back, holes become zeroes. */
            g_autofree uint8_t *buf = g_malloc(1 << 20);

            for (off_t off = 0; off < st.st_size && !err; off += 1 << 20) {
                size_t n = MIN(st.st_size - off, 1 << 20);

                if (pread(fd, buf, n, off) != (ssize_t)n) {
                    err = EIO;
                } else if (pwrite(fd, buf, n, off) != (ssize_t)n) {
                    err = errno ? errno : EIO;
                }
            }
        }
        if (fd >= 0) {
            close(fd);
        }
        if (err) {
            error_setg_errno(errp, err, "Could not preallocate '%s'",
                             filename);
            return false;
        }
    }
    return true;
}

bool qcow2_img_create(const char *filename, const Qcow2CreateOptions *opts,
                      bool quiet, Error **errp)
{
    uint32_t cs = opts->cluster_size ? opts->cluster_size :
                  QCOW2_DEFAULT_CLUSTER_SIZE;
    int refcount_bits = opts->refcount_bits ? opts->refcount_bits : 16;
    const char *prealloc = opts->preallocation ? opts->preallocation : "off";
    int cb, order, version = opts->version ? opts->version : 3;
    uint64_t l1_size, l1_clusters, per_block, meta, blocks, rt_clusters;
    uint64_t ext_pos, i, size;
    g_autofree uint8_t *hdr = NULL;
    g_autofree uint8_t *rt = NULL;
    g_autofree uint8_t *rb = NULL;
    QCowHeader h = { 0 };
    int64_t isize = opts->size;
    int fd;

    if (!is_power_of_2(cs) || cs < (1 << QCOW2_MIN_CLUSTER_BITS) ||
        cs > (1 << QCOW2_MAX_CLUSTER_BITS)) {
        error_setg(errp, "Cluster size must be a power of two between %d "
                   "and %dk", 1 << QCOW2_MIN_CLUSTER_BITS,
                   1 << (QCOW2_MAX_CLUSTER_BITS - 10));
        return false;
    }
    cb = __builtin_ctz(cs);
    if (!is_power_of_2(refcount_bits) || refcount_bits > 64) {
        error_setg(errp, "Refcount width must be a power of two and may "
                   "not exceed 64 bits");
        return false;
    }
    order = __builtin_ctz(refcount_bits);
    if (version == 2 && refcount_bits != 16) {
        error_setg(errp, "Different refcount widths than 16 bits require "
                   "compatibility level 1.1 or above (use compat=1.1 or "
                   "greater)");
        return false;
    }
    if (opts->lazy_refcounts) {
        error_setg(errp, "lazy_refcounts=on is not supported yet");
        return false;
    }
    if (opts->extended_l2) {
        error_setg(errp, "extended_l2=on is not supported yet");
        return false;
    }
    if (strcmp(prealloc, "off") && strcmp(prealloc, "metadata") &&
        strcmp(prealloc, "falloc") && strcmp(prealloc, "full")) {
        error_setg(errp, "Invalid preallocation mode: '%s'", prealloc);
        return false;
    }
    if (opts->backing_file) {
        if (!opts->backing_fmt) {
            error_setg(errp, "Backing file specified without backing "
                       "format");
            return false;
        }
        if (strlen(opts->backing_file) > QCOW2_MAX_BACKING_NAME) {
            error_setg(errp, "Backing file name too long");
            return false;
        }
        if (!bdrv_find_driver(opts->backing_fmt)) {
            error_setg(errp, "Unknown backing file format '%s'",
                       opts->backing_fmt);
            return false;
        }
        if (strcmp(prealloc, "off")) {
            error_setg(errp, "Backing file and preallocation can only be "
                       "used at the same time if extended_l2 is on");
            return false;
        }
        if (isize < 0 || !opts->unsafe) {
            int64_t bsize = qcow2_backing_size(filename, opts->backing_file,
                                               opts->backing_fmt, errp);

            if (bsize < 0) {
                return false;
            }
            isize = isize < 0 ? bsize : isize;
        }
    } else if (opts->backing_fmt) {
        error_setg(errp, "backing_fmt requires backing_file");
        return false;
    }
    if (isize < 0) {
        error_setg(errp, "Image creation needs a size parameter");
        return false;
    }
    /* Sizes are whole sectors, rounded up as qemu-img does. */
    size = QEMU_ALIGN_UP((uint64_t)isize, 512);
    if (size > BDRV_MAX_LENGTH) {
        error_setg(errp, "Image size too large");
        return false;
    }
    l1_size = qcow2_l1_entries_for(size, cb);
    if (l1_size * 8 > QCOW2_MAX_L1_BYTES) {
        error_setg(errp, "Image size too large for a cluster size of %"
                   PRIu32 " bytes", cs);
        return false;
    }
    l1_clusters = DIV_ROUND_UP(l1_size * 8, cs);
    per_block = (uint64_t)cs * 8 / refcount_bits;

    /* Header, refcount table, refcount blocks, L1: a fixed point. */
    blocks = 1;
    rt_clusters = 1;
    for (;;) {
        uint64_t need_blocks, need_rt;

        meta = 1 + rt_clusters + blocks + l1_clusters;
        need_blocks = DIV_ROUND_UP(meta, per_block);
        need_rt = DIV_ROUND_UP(need_blocks * 8, cs);
        if (need_blocks <= blocks && need_rt <= rt_clusters) {
            break;
        }
        blocks = MAX(blocks, need_blocks);
        rt_clusters = MAX(rt_clusters, need_rt);
    }

    h.magic = QCOW_MAGIC;
    h.version = version;
    h.cluster_bits = cb;
    h.size = size;
    h.l1_size = l1_size;
    h.refcount_table_offset = (uint64_t)cs;
    h.refcount_table_clusters = rt_clusters;
    h.l1_table_offset = l1_size ? (uint64_t)(1 + rt_clusters + blocks) * cs :
                        0;
    h.refcount_order = order;
    h.header_length = version >= 3 ? 112 : QCOW2_HEADER_V2_SIZE;

    hdr = g_malloc0(cs);
    ext_pos = h.header_length;
    if (opts->backing_fmt) {
        size_t n = strlen(opts->backing_fmt);

        if (ext_pos + 8 + QEMU_ALIGN_UP(n, 8) + 8 > cs) {
            error_setg(errp, "Backing format name too long");
            return false;
        }
        qcow2_st32(hdr + ext_pos, QCOW2_EXT_BACKING_FORMAT);
        qcow2_st32(hdr + ext_pos + 4, n);
        memcpy(hdr + ext_pos + 8, opts->backing_fmt, n);
        ext_pos += 8 + QEMU_ALIGN_UP(n, 8);
    }
    /* The end-of-extensions marker is the zeroes already there. */
    ext_pos += 8;
    if (opts->backing_file) {
        size_t n = strlen(opts->backing_file);

        if (ext_pos + n > cs) {
            error_setg(errp, "Backing file name does not fit in a cluster "
                       "of %" PRIu32 " bytes", cs);
            return false;
        }
        h.backing_file_offset = ext_pos;
        h.backing_file_size = n;
        memcpy(hdr + ext_pos, opts->backing_file, n);
    }
    {
        uint8_t tmp[112];

        qcow2_encode_header(&h, tmp);
        memcpy(hdr, tmp, h.header_length);
    }

    rt = g_malloc0(rt_clusters * cs);
    for (i = 0; i < blocks; i++) {
        qcow2_st64(rt + i * 8, (uint64_t)(1 + rt_clusters + i) * cs);
    }
    rb = g_malloc0(blocks * cs);
    for (i = 0; i < meta; i++) {
        qcow2_refcount_set(rb + (i / per_block) * cs, i % per_block, order,
                           1);
    }

    if (!quiet) {
        printf("Formatting '%s', fmt=qcow2 cluster_size=%" PRIu32
               " extended_l2=off%s%s compression_type=zlib size=%" PRIu64
               "%s%s%s%s%s lazy_refcounts=off refcount_bits=%d\n",
               filename, cs, strcmp(prealloc, "off") ? " preallocation=" :
               "", strcmp(prealloc, "off") ? prealloc : "", size,
               !opts->version ? "" : version == 2 ? " compat=0.10" :
               " compat=1.1",
               opts->backing_file ? " backing_file=" : "",
               opts->backing_file ? opts->backing_file : "",
               opts->backing_fmt ? " backing_fmt=" : "",
               opts->backing_fmt ? opts->backing_fmt : "", refcount_bits);
        fflush(stdout);
    }

    fd = open(filename, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not create '%s'", filename);
        return false;
    }
    if (ftruncate(fd, meta * cs) < 0) {
        error_setg_errno(errp, errno, "Could not resize '%s'", filename);
        goto fail;
    }
    if (!qcow2_pwrite_all(fd, rb, blocks * cs,
                          (uint64_t)(1 + rt_clusters) * cs, filename, errp) ||
        !qcow2_pwrite_all(fd, rt, rt_clusters * cs, cs, filename, errp) ||
        !qcow2_pwrite_all(fd, hdr, cs, 0, filename, errp)) {
        goto fail;
    }
    if (close(fd) < 0) {
        error_setg_errno(errp, errno, "Could not close '%s'", filename);
        return false;
    }
    if (strcmp(prealloc, "off")) {
        return qcow2_preallocate(filename, prealloc, errp);
    }
    return true;

fail:
    close(fd);
    return false;
}
