/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qcow2: table caches, refcounts, cluster allocation and the metadata
 * overlap checks.
 *
 * Everything here runs in a request coroutine with s->lock held (see
 * qcow2.h for the locking rules), or at open time in the opening
 * coroutine before any request can run.
 *
 * Allocation scans refcounts from s->free_cluster_index for a free run.
 * A refcount block that does not exist yet is placed inside the range it
 * covers (all of which is free, since no refcount says otherwise), so a
 * new block describes itself and never needs another block. A refcount
 * table too small for the run found is replaced by a bigger one first,
 * and the scan starts again.
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "block/qcow2.h"

/* Caches */

int qcow2_cache_init(Qcow2Cache *c, int size, size_t table_size)
{
    c->size = size;
    c->table_size = table_size;
    c->offsets = g_new0(uint64_t, size);
    c->lru = g_new0(uint64_t, size);
    c->lru_counter = 0;
    c->tables = g_try_malloc((size_t)size * table_size);
    return c->tables ? 0 : -ENOMEM;
}

void qcow2_cache_destroy(Qcow2Cache *c)
{
    g_free(c->offsets);
    g_free(c->lru);
    g_free(c->tables);
    memset(c, 0, sizeof(*c));
}

void qcow2_cache_forget(Qcow2Cache *c, uint64_t offset)
{
    for (int i = 0; i < c->size; i++) {
        if (c->offsets[i] == offset) {
            c->offsets[i] = 0;
        }
    }
}

int coroutine_fn qcow2_cache_get(BlockDriverState *bs, Qcow2Cache *c,
                                 uint64_t offset, bool fresh,
                                 uint8_t **table)
{
    int i, victim = 0;
    uint8_t *t;

    for (i = 0; i < c->size; i++) {
        if (c->offsets[i] == offset) {
            c->lru[i] = ++c->lru_counter;
            *table = c->tables + (size_t)i * c->table_size;
            if (fresh) {
                memset(*table, 0, c->table_size);
            }
            return 0;
        }
        if (c->lru[i] < c->lru[victim]) {
            victim = i;
        }
    }
    t = c->tables + (size_t)victim * c->table_size;
    c->offsets[victim] = 0;
    if (fresh) {
        memset(t, 0, c->table_size);
    } else {
        QEMUIOVector qiov;
        int ret;

        qemu_iovec_init_buf(&qiov, t, c->table_size);
        ret = bdrv_co_preadv(bs->file, offset, c->table_size, &qiov, 0);
        if (ret < 0) {
            return ret;
        }
    }
    c->offsets[victim] = offset;
    c->lru[victim] = ++c->lru_counter;
    *table = t;
    return 0;
}

/* Overlap checks */

int coroutine_fn qcow2_check_overlap(BlockDriverState *bs, int ignore,
                                     uint64_t offset, uint64_t size,
                                     const char **what)
{
    BDRVQcow2State *s = bs->opaque;
    const char *dummy;
    uint64_t i;

    if (!what) {
        what = &dummy;
    }
    if (!(ignore & QCOW2_OL_MAIN_HEADER) &&
        qcow2_ranges_overlap(offset, size, 0, s->cluster_size)) {
        *what = "header";
        return QCOW2_OL_MAIN_HEADER;
    }
    if (!(ignore & QCOW2_OL_ACTIVE_L1) &&
        qcow2_ranges_overlap(offset, size, s->l1_table_offset,
                             (uint64_t)s->l1_size * 8)) {
        *what = "active L1 table";
        return QCOW2_OL_ACTIVE_L1;
    }
    if (!(ignore & QCOW2_OL_REFCOUNT_TABLE) &&
        qcow2_ranges_overlap(offset, size, s->refcount_table_offset,
                             (uint64_t)s->refcount_table_clusters *
                             s->cluster_size)) {
        *what = "refcount table";
        return QCOW2_OL_REFCOUNT_TABLE;
    }
    if (!(ignore & QCOW2_OL_SNAPSHOT_TABLE) &&
        qcow2_ranges_overlap(offset, size, s->snapshots_offset,
                             s->snapshots_size)) {
        *what = "snapshot table";
        return QCOW2_OL_SNAPSHOT_TABLE;
    }
    if (!(ignore & QCOW2_OL_INACTIVE_L1)) {
        for (i = 0; i < s->nb_snapshots; i++) {
            if (qcow2_ranges_overlap(offset, size,
                                     s->snapshots[i].l1_table_offset,
                                     (uint64_t)s->snapshots[i].l1_size *
                                     8)) {
                *what = "inactive L1 table";
                return QCOW2_OL_INACTIVE_L1;
            }
        }
    }
    if (!(ignore & QCOW2_OL_ACTIVE_L2)) {
        for (i = 0; i < s->l1_size; i++) {
            uint64_t l2 = s->l1_table[i] & L1E_OFFSET_MASK;

            if (l2 && qcow2_ranges_overlap(offset, size, l2,
                                           s->cluster_size)) {
                *what = "active L2 table";
                return QCOW2_OL_ACTIVE_L2;
            }
        }
    }
    if (!(ignore & QCOW2_OL_REFCOUNT_BLOCK)) {
        for (i = 0; i < s->refcount_table_size; i++) {
            uint64_t rb = s->refcount_table[i] & REFT_OFFSET_MASK;

            if (rb && qcow2_ranges_overlap(offset, size, rb,
                                           s->cluster_size)) {
                *what = "refcount block";
                return QCOW2_OL_REFCOUNT_BLOCK;
            }
        }
    }
    return 0;
}

int coroutine_fn qcow2_write_metadata(BlockDriverState *bs, int ignore,
                                      uint64_t offset, const void *buf,
                                      uint64_t bytes)
{
    BDRVQcow2State *s = bs->opaque;
    QEMUIOVector qiov;
    const char *what;

    if (s->corrupt) {
        return -EIO;
    }
    if (qcow2_check_overlap(bs, ignore, offset, bytes, &what)) {
        qcow2_signal_corruption(bs, "metadata write at offset 0x%" PRIx64
                                " (%" PRIu64 " bytes) would overlap the %s",
                                offset, bytes, what);
        return -EIO;
    }
    qemu_iovec_init_buf(&qiov, (void *)buf, bytes);
    return bdrv_co_pwritev(bs->file, offset, bytes, &qiov, 0);
}

int coroutine_fn qcow2_write_table_range(BlockDriverState *bs, int ignore,
                                         uint64_t table_offset,
                                         const uint8_t *table, uint64_t lo,
                                         uint64_t hi)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t align = bdrv_get_request_alignment(bs->file->bs);

    /* Whole blocks of the file: no read-modify-write under O_DIRECT. */
    if (align > 1 && align <= s->cluster_size) {
        lo = QEMU_ALIGN_DOWN(lo, align);
        hi = QEMU_ALIGN_UP(hi, align);
    }
    return qcow2_write_metadata(bs, ignore, table_offset + lo, table + lo,
                                hi - lo);
}

int coroutine_fn qcow2_grow_file(BlockDriverState *bs, uint64_t end)
{
    BDRVQcow2State *s = bs->opaque;
    Error *local_err = NULL;
    int ret;

    if (end <= s->file_size) {
        return 0;
    }
    ret = bdrv_co_truncate(bs->file, end, false, PREALLOC_MODE_OFF, 0,
                           &local_err);
    if (ret < 0) {
        error_report_err(local_err);
        return ret;
    }
    s->file_size = end;
    return 0;
}

/* Refcount table */

static int qcow2_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int qcow2_find_duplicate(const uint64_t *entries, uint64_t n, uint64_t mask,
                         uint64_t *dup)
{
    g_autofree uint64_t *v = g_new(uint64_t, MAX(n, 1));
    uint64_t m = 0, i;

    for (i = 0; i < n; i++) {
        if (entries[i] & mask) {
            v[m++] = entries[i] & mask;
        }
    }
    qsort(v, m, sizeof(*v), qcow2_cmp_u64);
    for (i = 1; i < m; i++) {
        if (v[i] == v[i - 1]) {
            *dup = v[i];
            return 1;
        }
    }
    return 0;
}

int coroutine_fn qcow2_refcount_load(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t bytes = (uint64_t)s->refcount_table_clusters * s->cluster_size;
    g_autofree uint8_t *buf = g_try_malloc(bytes);
    QEMUIOVector qiov;
    uint64_t i;
    int ret;

    if (!buf) {
        error_setg(errp, "Could not allocate the refcount table");
        return -ENOMEM;
    }
    qemu_iovec_init_buf(&qiov, buf, bytes);
    ret = bdrv_co_preadv(bs->file, s->refcount_table_offset, bytes, &qiov,
                         0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the refcount table");
        return ret;
    }
    s->refcount_table_size = bytes / 8;
    s->refcount_table = g_new(uint64_t, s->refcount_table_size);
    for (i = 0; i < s->refcount_table_size; i++) {
        uint64_t e = qcow2_ld64(buf + i * 8);
        uint64_t off = e & REFT_OFFSET_MASK;
        const char *what;

        s->refcount_table[i] = e;
        if (!e) {
            continue;
        }
        if ((e & REFT_RESERVED_MASK) ||
            qcow2_offset_into_cluster(s, off)) {
            error_setg(errp, "Refcount table entry %" PRIu64 " is "
                       "invalid: 0x%" PRIx64 " is not cluster aligned", i, e);
            return -EINVAL;
        }
        if (off > s->file_size || s->file_size - off < s->cluster_size) {
            error_setg(errp, "Refcount block %" PRIu64 " at offset 0x%"
                       PRIx64 " is past the end of the file", i, off);
            return -EINVAL;
        }
        if (qcow2_check_overlap(bs, QCOW2_OL_REFCOUNT_BLOCK |
                                QCOW2_OL_ACTIVE_L2, off, s->cluster_size,
                                &what)) {
            error_setg(errp, "Refcount block %" PRIu64 " at offset 0x%"
                       PRIx64 " overlaps the %s", i, off, what);
            return -EINVAL;
        }
    }
    {
        uint64_t dup;

        if (qcow2_find_duplicate(s->refcount_table, s->refcount_table_size,
                                 REFT_OFFSET_MASK, &dup)) {
            error_setg(errp, "Two refcount table entries point to the "
                       "refcount block at offset 0x%" PRIx64, dup);
            return -EINVAL;
        }
    }
    return 0;
}

int coroutine_fn qcow2_get_refcount(BlockDriverState *bs,
                                    uint64_t cluster_index,
                                    uint64_t *refcount)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t rt_index = cluster_index >> s->refcount_block_bits;
    uint64_t block_offset;
    uint8_t *block;
    int ret;

    *refcount = 0;
    if (rt_index >= s->refcount_table_size) {
        return 0;
    }
    block_offset = s->refcount_table[rt_index] & REFT_OFFSET_MASK;
    if (!block_offset) {
        return 0;
    }
    ret = qcow2_cache_get(bs, &s->refcount_cache, block_offset, false,
                          &block);
    if (ret < 0) {
        return ret;
    }
    *refcount = qcow2_refcount_get(block, cluster_index &
                                   ((1ULL << s->refcount_block_bits) - 1),
                                   s->refcount_order);
    return 0;
}

/* Writes refcount table entry @index (unless the table is being grown). */
static int coroutine_fn qcow2_write_reftable_entry(BlockDriverState *bs,
                                                   uint64_t index)
{
    BDRVQcow2State *s = bs->opaque;
    uint8_t buf[8];

    if (s->refcount_table_growing) {
        return 0;
    }
    qcow2_st64(buf, s->refcount_table[index]);
    return qcow2_write_metadata(bs, QCOW2_OL_REFCOUNT_TABLE,
                                s->refcount_table_offset + index * 8, buf,
                                8);
}

/*
 * Creates the missing refcount block for table entry @rt_index, inside
 * the range it covers, avoiding the clusters [@res_start, +@res_n) that
 * are being allocated.
 */
static int coroutine_fn qcow2_new_refcount_block(BlockDriverState *bs,
                                                 uint64_t rt_index,
                                                 uint64_t res_start,
                                                 uint64_t res_n)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per_block = 1ULL << s->refcount_block_bits;
    uint64_t first = rt_index << s->refcount_block_bits;
    uint64_t b = first, block_offset;
    uint8_t *block;
    int ret;

    if (b >= res_start && b < res_start + res_n) {
        b = res_start + res_n;
    }
    if (b >= first + per_block) {
        return -ENOSPC;
    }
    block_offset = b << s->cluster_bits;
    if (block_offset > L2E_OFFSET_MASK) {
        return -EFBIG;
    }
    ret = qcow2_grow_file(bs, block_offset + s->cluster_size);
    if (ret < 0) {
        return ret;
    }
    ret = qcow2_cache_get(bs, &s->refcount_cache, block_offset, true,
                          &block);
    if (ret < 0) {
        return ret;
    }
    qcow2_refcount_set(block, b - first, s->refcount_order, 1);
    ret = qcow2_write_metadata(bs, 0, block_offset, block, s->cluster_size);
    if (ret < 0) {
        qcow2_cache_forget(&s->refcount_cache, block_offset);
        return ret;
    }
    s->refcount_table[rt_index] = block_offset;
    return qcow2_write_reftable_entry(bs, rt_index);
}

/* qcow2_update_refcount() avoiding [@res_start, +@res_n) for new blocks */
static int coroutine_fn qcow2_update_refcount_full(BlockDriverState *bs,
                                                   uint64_t first,
                                                   uint64_t n, int delta,
                                                   uint64_t res_start,
                                                   uint64_t res_n)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t mask = (1ULL << s->refcount_block_bits) - 1;
    uint64_t i = first, end = first + n;
    int ret;

    while (i < end) {
        uint64_t rt_index = i >> s->refcount_block_bits;
        uint64_t run = MIN(end - i, (mask + 1) - (i & mask));
        uint64_t block_offset, j, lo, hi;
        uint8_t *block;

        if (rt_index >= s->refcount_table_size) {
            qcow2_signal_corruption(bs, "refcount of cluster %" PRIu64
                                    " is beyond the refcount table", i);
            return -EIO;
        }
        block_offset = s->refcount_table[rt_index] & REFT_OFFSET_MASK;
        if (!block_offset) {
            if (delta < 0) {
                qcow2_signal_corruption(bs, "freeing cluster %" PRIu64
                                        " that has no refcount block", i);
                return -EIO;
            }
            ret = qcow2_new_refcount_block(bs, rt_index, res_start, res_n);
            if (ret < 0) {
                return ret;
            }
            continue;
        }
        ret = qcow2_cache_get(bs, &s->refcount_cache, block_offset, false,
                              &block);
        if (ret < 0) {
            return ret;
        }
        for (j = i; j < i + run; j++) {
            uint64_t rc = qcow2_refcount_get(block, j & mask,
                                             s->refcount_order);

            if (delta > 0 && rc + delta > s->refcount_max) {
                error_report("qcow2 '%s': refcount overflow at cluster %"
                             PRIu64 " (refcount %" PRIu64 ", at most %"
                             PRIu64 ")", bs->filename, j, rc,
                             s->refcount_max);
                return -ERANGE;
            }
            if (delta < 0 && rc < (uint64_t)-delta) {
                qcow2_signal_corruption(bs, "refcount of cluster %" PRIu64
                                        " would drop below zero", j);
                return -EIO;
            }
        }
        for (j = i; j < i + run; j++) {
            uint64_t rc = qcow2_refcount_get(block, j & mask,
                                             s->refcount_order);

            qcow2_refcount_set(block, j & mask, s->refcount_order,
                               rc + delta);
            if (delta < 0 && rc + delta == 0 && j < s->free_cluster_index) {
                s->free_cluster_index = j;
            }
        }
        /* Write back the bytes of the entries touched. */
        lo = ((i & mask) << s->refcount_order) / 8;
        hi = DIV_ROUND_UP(((i & mask) + run) << s->refcount_order, 8);
        ret = qcow2_write_table_range(bs, QCOW2_OL_REFCOUNT_BLOCK,
                                      block_offset, block, lo, hi);
        if (ret < 0) {
            /* What is on disk is unknown now: read it again next time. */
            qcow2_cache_forget(&s->refcount_cache, block_offset);
            return ret;
        }
        i += run;
    }
    return 0;
}

int coroutine_fn qcow2_update_refcount(BlockDriverState *bs,
                                       uint64_t offset, uint64_t bytes,
                                       int delta)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t first = offset >> s->cluster_bits;
    uint64_t last;

    if (!bytes) {
        return 0;
    }
    last = (offset + bytes - 1) >> s->cluster_bits;
    return qcow2_update_refcount_full(bs, first, last - first + 1, delta,
                                      0, 0);
}

static int64_t coroutine_fn qcow2_alloc_clusters_noretry(BlockDriverState *bs,
                                                         uint64_t n,
                                                         uint64_t *grow_to);

/*
 * Replaces the refcount table with one that has at least @min_entries
 * entries: allocated, written and linked from the header, then the old
 * one is freed.
 */
static int coroutine_fn qcow2_grow_refcount_table(BlockDriverState *bs,
                                                  uint64_t min_entries)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t per_cluster = s->cluster_size / 8;
    uint64_t old_size = s->refcount_table_size;
    uint64_t *old_table = s->refcount_table;
    uint64_t old_offset = s->refcount_table_offset;
    uint32_t old_clusters = s->refcount_table_clusters;
    uint64_t new_size, clusters, i, grow_to = 0;
    g_autofree uint8_t *buf = NULL;
    uint8_t hdr[12];
    int64_t new_offset;
    int ret;

    new_size = MAX(min_entries, old_size * 2);
    new_size = QEMU_ALIGN_UP(new_size, per_cluster);
    if (new_size * 8 > QCOW2_MAX_REFTABLE_BYTES) {
        error_report("qcow2 '%s': the refcount table would grow past %d "
                     "bytes", bs->filename, QCOW2_MAX_REFTABLE_BYTES);
        return -EFBIG;
    }
    clusters = new_size / per_cluster;
    s->refcount_table = g_new0(uint64_t, new_size);
    memcpy(s->refcount_table, old_table, old_size * 8);
    s->refcount_table_size = new_size;
    s->refcount_table_growing = true;

    new_offset = qcow2_alloc_clusters_noretry(bs, clusters, &grow_to);
    if (new_offset < 0 || grow_to) {
        ret = new_offset < 0 ? new_offset : -EIO;
        goto fail;
    }
    buf = g_malloc0(clusters * s->cluster_size);
    for (i = 0; i < new_size; i++) {
        qcow2_st64(buf + i * 8, s->refcount_table[i]);
    }
    ret = qcow2_write_metadata(bs, 0, new_offset, buf,
                               clusters * s->cluster_size);
    if (ret < 0) {
        goto fail;
    }
    ret = bdrv_co_flush(bs->file->bs);
    if (ret < 0) {
        goto fail;
    }
    qcow2_st64(hdr, new_offset);
    qcow2_st32(hdr + 8, clusters);
    ret = qcow2_write_metadata(bs, QCOW2_OL_MAIN_HEADER, 48, hdr, 12);
    if (ret < 0) {
        goto fail;
    }
    s->refcount_table_offset = new_offset;
    s->refcount_table_clusters = clusters;
    s->refcount_table_growing = false;
    g_free(old_table);
    /* The old table's clusters are free now (a leak at worst if not). */
    return qcow2_update_refcount(bs, old_offset,
                                 (uint64_t)old_clusters * s->cluster_size,
                                 -1);

fail:
    /* Clusters allocated meanwhile leak; the old table stays in use. */
    g_free(s->refcount_table);
    s->refcount_table = old_table;
    s->refcount_table_size = old_size;
    s->refcount_table_growing = false;
    return ret;
}

/*
 * Finds and takes @n free contiguous clusters. When the refcount table is
 * too small to describe them, nothing is taken and *@grow_to says how
 * many entries it needs.
 */
static int64_t coroutine_fn qcow2_alloc_clusters_noretry(BlockDriverState *bs,
                                                         uint64_t n,
                                                         uint64_t *grow_to)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t i = s->free_cluster_index, start = i, first_free = UINT64_MAX;
    uint64_t run = 0, rc, last_rt;
    int ret;

    /*
     * Refcounts past the end of the file are left by a crash at most for
     * a few clusters; a run of them is a hostile image that would keep
     * the scan going for billions of clusters.
     */
    uint64_t limit = (s->file_size >> s->cluster_bits) + n +
                     (4ULL << s->refcount_block_bits);

    *grow_to = 0;
    while (run < n) {
        if (i > limit) {
            qcow2_signal_corruption(bs, "refcounts say the clusters past "
                                    "the end of the file are in use");
            return -EIO;
        }
        ret = qcow2_get_refcount(bs, i, &rc);
        if (ret < 0) {
            return ret;
        }
        if (rc) {
            run = 0;
            start = i + 1;
        } else {
            run++;
            first_free = MIN(first_free, i);
        }
        i++;
        if ((i << s->cluster_bits) > L2E_OFFSET_MASK) {
            return -EFBIG;
        }
    }
    last_rt = (start + n - 1) >> s->refcount_block_bits;
    if (last_rt >= s->refcount_table_size) {
        *grow_to = last_rt + 1;
        return 0;
    }
    ret = qcow2_grow_file(bs, (start + n) << s->cluster_bits);
    if (ret < 0) {
        return ret;
    }
    ret = qcow2_update_refcount_full(bs, start, n, 1, start, n);
    if (ret < 0) {
        return ret;
    }
    s->free_cluster_index = first_free == start ? start + n : first_free;
    return start << s->cluster_bits;
}

int64_t coroutine_fn qcow2_alloc_clusters(BlockDriverState *bs, uint64_t n)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t ret;
    uint64_t grow_to;
    int tries;

    if (s->corrupt) {
        return -EIO;
    }
    for (tries = 0; tries < 4; tries++) {
        ret = qcow2_alloc_clusters_noretry(bs, n, &grow_to);
        if (ret < 0 || !grow_to) {
            return ret;
        }
        ret = qcow2_grow_refcount_table(bs, grow_to);
        if (ret < 0) {
            return ret;
        }
    }
    return -EIO;
}
