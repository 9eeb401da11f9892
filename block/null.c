/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The "null-co" protocol driver: a device that stores nothing, for
 * benchmarks and tests. Reads return zeroes (read-zeroes=on, the default)
 * or leave the buffer alone (off); writes are dropped.
 *
 * Options: size (default 1 GiB), read-zeroes=on|off, latency-ns (each
 * request sleeps that long in its coroutine's context). No state changes
 * after open: any thread may run requests.
 */
#include "qemu/osdep.h"
#include "block/block_int.h"
#include "qemu/timer.h"
#include "qapi/error.h"

typedef struct BDRVNullState {
    uint64_t length;
    uint64_t latency_ns;
    bool read_zeroes;
} BDRVNullState;

static bool null_parse_filename(const char *filename, KeyVal *options,
                                Error **errp)
{
    if (strcmp(filename, "null-co://") && strcmp(filename, "null-co:")) {
        error_setg(errp, "The only allowed filename for driver 'null-co' is "
                   "'null-co://'");
        return false;
    }
    return true;
}

static int null_open(BlockDriverState *bs, const KeyVal *options, int flags,
                     Error **errp)
{
    BDRVNullState *s = bs->opaque;

    if (!keyval_get_size(options, "size", 1ULL << 30, &s->length, errp) ||
        !keyval_get_bool(options, "read-zeroes", true, &s->read_zeroes,
                         errp) ||
        !keyval_get_uint64(options, "latency-ns", 0, &s->latency_ns, errp)) {
        return -EINVAL;
    }
    if (s->length > BDRV_MAX_LENGTH) {
        error_setg(errp, "size must not exceed %" PRId64, BDRV_MAX_LENGTH);
        return -EINVAL;
    }
    if (s->latency_ns > INT64_MAX) {
        error_setg(errp, "latency-ns is too large");
        return -EINVAL;
    }
    bs->filename = g_strdup("null-co://");
    bs->supported_write_flags = BDRV_REQ_FUA;
    bs->supported_zero_flags = BDRV_REQ_FUA | BDRV_REQ_MAY_UNMAP |
                               BDRV_REQ_NO_FALLBACK;
    return 0;
}

static int64_t null_getlength(BlockDriverState *bs)
{
    BDRVNullState *s = bs->opaque;

    return s->length;
}

static void coroutine_fn null_delay(BlockDriverState *bs)
{
    BDRVNullState *s = bs->opaque;

    if (s->latency_ns) {
        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, s->latency_ns);
    }
}

static int coroutine_fn null_co_preadv(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       BdrvRequestFlags flags)
{
    BDRVNullState *s = bs->opaque;

    if (s->read_zeroes) {
        qemu_iovec_memset(qiov, 0, 0, bytes);
    }
    null_delay(bs);
    return 0;
}

static int coroutine_fn null_co_pwritev(BlockDriverState *bs, int64_t offset,
                                        int64_t bytes, QEMUIOVector *qiov,
                                        BdrvRequestFlags flags)
{
    null_delay(bs);
    return 0;
}

static int coroutine_fn null_co_pwrite_zeroes(BlockDriverState *bs,
                                              int64_t offset, int64_t bytes,
                                              BdrvRequestFlags flags)
{
    null_delay(bs);
    return 0;
}

static int coroutine_fn null_co_pdiscard(BlockDriverState *bs,
                                         int64_t offset, int64_t bytes)
{
    null_delay(bs);
    return 0;
}

static int coroutine_fn null_co_flush(BlockDriverState *bs)
{
    null_delay(bs);
    return 0;
}

static int coroutine_fn null_co_block_status(BlockDriverState *bs,
                                             bool want_zero, int64_t offset,
                                             int64_t bytes, int64_t *pnum,
                                             int64_t *map,
                                             BlockDriverState **file)
{
    BDRVNullState *s = bs->opaque;

    *pnum = bytes;
    *map = offset;
    *file = bs;
    return (s->read_zeroes ? BDRV_BLOCK_ZERO : BDRV_BLOCK_DATA) |
           BDRV_BLOCK_OFFSET_VALID;
}

const BlockDriver bdrv_null_co = {
    .format_name = "null-co",
    .protocol_name = "null-co",
    .instance_size = sizeof(BDRVNullState),
    .bdrv_parse_filename = null_parse_filename,
    .bdrv_open = null_open,
    .bdrv_getlength = null_getlength,
    .bdrv_co_preadv = null_co_preadv,
    .bdrv_co_pwritev = null_co_pwritev,
    .bdrv_co_pwrite_zeroes = null_co_pwrite_zeroes,
    .bdrv_co_pdiscard = null_co_pdiscard,
    .bdrv_co_flush = null_co_flush,
    .bdrv_co_block_status = null_co_block_status,
};
