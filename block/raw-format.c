/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The "raw" format driver: the bytes of its "file" child, optionally a
 * window of them (options offset and size).
 *
 * Requests are passed to the child shifted by the offset; the generic
 * layer has already checked them against this node's length (the window),
 * so nothing outside the window is ever touched. No state changes after
 * open: any thread may run requests.
 */
#include "qemu/osdep.h"
#include "block/block_int.h"
#include "qapi/error.h"

typedef struct BDRVRawFormatState {
    uint64_t offset;
    uint64_t size;
    bool has_size;
} BDRVRawFormatState;

static int raw_fmt_open(BlockDriverState *bs, const KeyVal *options,
                        int flags, Error **errp)
{
    BDRVRawFormatState *s = bs->opaque;
    int64_t file_len;

    if (!keyval_get_size(options, "offset", 0, &s->offset, errp) ||
        !keyval_get_size(options, "size", 0, &s->size, errp)) {
        return -EINVAL;
    }
    s->has_size = keyval_has(options, "size");
    if (!bdrv_open_child(bs, options, "file", flags, errp)) {
        return -EINVAL;
    }
    file_len = bdrv_getlength(bs->file->bs);
    if (file_len < 0) {
        error_setg_errno(errp, -file_len, "Could not get the size of the "
                         "file");
        return file_len;
    }
    if (s->offset > (uint64_t)file_len) {
        error_setg(errp, "Offset (%" PRIu64 ") cannot be greater than the "
                   "size of the containing file (%" PRId64 ")", s->offset,
                   file_len);
        return -EINVAL;
    }
    if (s->has_size && s->size > (uint64_t)file_len - s->offset) {
        error_setg(errp, "The sum of offset (%" PRIu64 ") and size (%"
                   PRIu64 ") has to be smaller or equal to the actual size "
                   "of the containing file (%" PRId64 ")", s->offset,
                   s->size, file_len);
        return -EINVAL;
    }
    bs->filename = g_strdup(bdrv_get_filename(bs->file->bs));
    /* The child applies these (or emulates them) itself. */
    bs->supported_write_flags = BDRV_REQ_FUA;
    bs->supported_zero_flags = BDRV_REQ_FUA | BDRV_REQ_MAY_UNMAP |
                               BDRV_REQ_NO_FALLBACK;
    return 0;
}

static void raw_fmt_refresh_limits(BlockDriverState *bs, Error **errp)
{
    if (bs->file) {
        bs->bl = bs->file->bs->bl;
    }
}

static int64_t raw_fmt_getlength(BlockDriverState *bs)
{
    BDRVRawFormatState *s = bs->opaque;
    int64_t len;

    if (s->has_size) {
        return s->size;
    }
    len = bdrv_getlength(bs->file->bs);
    if (len < 0) {
        return len;
    }
    return MAX(len - (int64_t)s->offset, 0);
}

static int coroutine_fn raw_fmt_co_preadv(BlockDriverState *bs,
                                          int64_t offset, int64_t bytes,
                                          QEMUIOVector *qiov,
                                          BdrvRequestFlags flags)
{
    BDRVRawFormatState *s = bs->opaque;

    return bdrv_co_preadv(bs->file, offset + s->offset, bytes, qiov, flags);
}

static int coroutine_fn raw_fmt_co_pwritev(BlockDriverState *bs,
                                           int64_t offset, int64_t bytes,
                                           QEMUIOVector *qiov,
                                           BdrvRequestFlags flags)
{
    BDRVRawFormatState *s = bs->opaque;

    return bdrv_co_pwritev(bs->file, offset + s->offset, bytes, qiov,
                           flags);
}

static int coroutine_fn raw_fmt_co_pwrite_zeroes(BlockDriverState *bs,
                                                 int64_t offset,
                                                 int64_t bytes,
                                                 BdrvRequestFlags flags)
{
    BDRVRawFormatState *s = bs->opaque;

    return bdrv_co_pwrite_zeroes(bs->file, offset + s->offset, bytes, flags);
}

static int coroutine_fn raw_fmt_co_pdiscard(BlockDriverState *bs,
                                            int64_t offset, int64_t bytes)
{
    BDRVRawFormatState *s = bs->opaque;

    return bdrv_co_pdiscard(bs->file, offset + s->offset, bytes);
}

static int coroutine_fn raw_fmt_co_block_status(BlockDriverState *bs,
                                                bool want_zero,
                                                int64_t offset,
                                                int64_t bytes, int64_t *pnum,
                                                int64_t *map,
                                                BlockDriverState **file)
{
    BDRVRawFormatState *s = bs->opaque;

    *pnum = bytes;
    *map = offset + s->offset;
    *file = bs->file->bs;
    return BDRV_BLOCK_RAW | BDRV_BLOCK_OFFSET_VALID;
}

static int coroutine_fn raw_fmt_co_truncate(BlockDriverState *bs,
                                            int64_t offset, bool exact,
                                            PreallocMode prealloc,
                                            BdrvRequestFlags flags,
                                            Error **errp)
{
    BDRVRawFormatState *s = bs->opaque;

    if (s->has_size) {
        error_setg(errp, "Cannot resize fixed-size raw disks");
        return -ENOTSUP;
    }
    if (offset > BDRV_MAX_LENGTH - (int64_t)s->offset) {
        error_setg(errp, "Image size too large");
        return -EINVAL;
    }
    return bdrv_co_truncate(bs->file, offset + s->offset, exact, prealloc,
                            flags, errp);
}

const BlockDriver bdrv_raw = {
    .format_name = "raw",
    .is_format = true,
    .instance_size = sizeof(BDRVRawFormatState),
    .bdrv_open = raw_fmt_open,
    .bdrv_refresh_limits = raw_fmt_refresh_limits,
    .bdrv_getlength = raw_fmt_getlength,
    .bdrv_co_preadv = raw_fmt_co_preadv,
    .bdrv_co_pwritev = raw_fmt_co_pwritev,
    .bdrv_co_pwrite_zeroes = raw_fmt_co_pwrite_zeroes,
    .bdrv_co_pdiscard = raw_fmt_co_pdiscard,
    .bdrv_co_block_status = raw_fmt_co_block_status,
    .bdrv_co_truncate = raw_fmt_co_truncate,
};
