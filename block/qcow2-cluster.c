/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qcow2: guest-to-host mapping through the L1 and L2 tables, and the
 * request paths that use it: read, write with copy-on-write of partial
 * clusters, zero clusters, discard and metadata preallocation.
 *
 * Locking (see qcow2.h): the mapping is looked up and changed with
 * s->lock held; guest data moves without it. A write that allocates
 * holds an in-flight record of its guest clusters from allocation to
 * linking, and whatever would change the mapping of those clusters
 * (another allocating write, zero, discard) waits for it.
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "block/qcow2.h"

/* Largest piece of a write handled at once (bounds the bounce buffer). */
#define QCOW2_MAX_WRITE_CHUNK   (1 * 1024 * 1024)

/* Validates L2 table @l2_offset (not cached yet) before its first use. */
static int coroutine_fn qcow2_check_l2_offset(BlockDriverState *bs,
                                              uint64_t l1_index,
                                              uint64_t l1_entry)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l2_offset = l1_entry & L1E_OFFSET_MASK;
    const char *what;

    if ((l1_entry & L1E_RESERVED_MASK) ||
        qcow2_offset_into_cluster(s, l2_offset)) {
        qcow2_signal_corruption(bs, "L1 entry %" PRIu64 " (0x%" PRIx64
                                ") is invalid: reserved bits set or L2 "
                                "table offset not cluster aligned",
                                l1_index, l1_entry);
        return -EIO;
    }
    if (l2_offset > s->file_size ||
        s->file_size - l2_offset < s->cluster_size) {
        qcow2_signal_corruption(bs, "L2 table at offset 0x%" PRIx64
                                " (L1 entry %" PRIu64 ") is past the end "
                                "of the file", l2_offset, l1_index);
        return -EIO;
    }
    if (qcow2_check_overlap(bs, QCOW2_OL_ACTIVE_L2, l2_offset,
                            s->cluster_size, &what)) {
        qcow2_signal_corruption(bs, "L2 table at offset 0x%" PRIx64
                                " (L1 entry %" PRIu64 ") overlaps the %s",
                                l2_offset, l1_index, what);
        return -EIO;
    }
    return 0;
}

static bool qcow2_cache_has(Qcow2Cache *c, uint64_t offset)
{
    for (int i = 0; i < c->size; i++) {
        if (c->offsets[i] == offset) {
            return true;
        }
    }
    return false;
}

int coroutine_fn qcow2_get_l2_table(BlockDriverState *bs, uint64_t offset,
                                    bool allocate, uint64_t *l2_offset,
                                    uint8_t **l2_table)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l1_index = offset >> (s->l2_bits + s->cluster_bits);
    uint64_t l1_entry, old_offset, new_offset;
    g_autofree uint8_t *copy = NULL;
    uint8_t *table, buf[8];
    int64_t alloc;
    int ret;

    *l2_offset = 0;
    *l2_table = NULL;
    if (l1_index >= s->l1_size) {
        qcow2_signal_corruption(bs, "guest offset 0x%" PRIx64 " is beyond "
                                "the L1 table", offset);
        return -EIO;
    }
    l1_entry = s->l1_table[l1_index];
    old_offset = l1_entry & L1E_OFFSET_MASK;
    if (old_offset && !qcow2_cache_has(&s->l2_cache, old_offset)) {
        ret = qcow2_check_l2_offset(bs, l1_index, l1_entry);
        if (ret < 0) {
            return ret;
        }
    }
    if (old_offset && (!allocate || (l1_entry & QCOW_OFLAG_COPIED))) {
        ret = qcow2_cache_get(bs, &s->l2_cache, old_offset, false,
                              l2_table);
        if (ret == 0) {
            *l2_offset = old_offset;
        }
        return ret;
    }
    if (!allocate) {
        return 0;
    }

    /* A new table, or a private copy of one a snapshot shares. */
    if (old_offset) {
        ret = qcow2_cache_get(bs, &s->l2_cache, old_offset, false, &table);
        if (ret < 0) {
            return ret;
        }
        copy = g_memdup2(table, s->cluster_size);
    }
    alloc = qcow2_alloc_clusters(bs, 1);
    if (alloc < 0) {
        return alloc;
    }
    new_offset = alloc;
    ret = qcow2_cache_get(bs, &s->l2_cache, new_offset, true, &table);
    if (ret < 0) {
        goto fail;
    }
    if (copy) {
        memcpy(table, copy, s->cluster_size);
    }
    ret = qcow2_write_metadata(bs, 0, new_offset, table, s->cluster_size);
    if (ret < 0) {
        goto fail;
    }
    s->l1_table[l1_index] = new_offset | QCOW_OFLAG_COPIED;
    qcow2_st64(buf, s->l1_table[l1_index]);
    ret = qcow2_write_metadata(bs, QCOW2_OL_ACTIVE_L1,
                               s->l1_table_offset + l1_index * 8, buf, 8);
    if (ret < 0) {
        s->l1_table[l1_index] = l1_entry;
        goto fail;
    }
    if (old_offset) {
        qcow2_update_refcount(bs, old_offset, s->cluster_size, -1);
    }
    /* The refcount updates did not touch the L2 cache. */
    *l2_offset = new_offset;
    *l2_table = table;
    return 0;

fail:
    qcow2_cache_forget(&s->l2_cache, new_offset);
    qcow2_update_refcount(bs, new_offset, s->cluster_size, -1);
    return ret;
}

/* The type of an L2 entry, checked; negative errno for a corrupt one. */
static int coroutine_fn qcow2_entry_type(BlockDriverState *bs,
                                         uint64_t offset, uint64_t entry)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2ClusterType type = qcow2_get_cluster_type(entry);
    uint64_t host = entry & L2E_OFFSET_MASK;

    switch (type) {
    case QCOW2_CLUSTER_COMPRESSED:
        if (s->version < 2 || entry & QCOW_OFLAG_COPIED) {
            goto bad;
        }
        return type;
    case QCOW2_CLUSTER_ZERO_PLAIN:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        if (s->version < 3) {
            /* Version 2 has no zero flag: a reserved bit set. */
            goto bad;
        }
        /* fall through */
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_UNALLOCATED:
        if (entry & L2E_STD_RESERVED_MASK ||
            qcow2_offset_into_cluster(s, host)) {
            goto bad;
        }
        if (type == QCOW2_CLUSTER_UNALLOCATED &&
            (entry & QCOW_OFLAG_COPIED)) {
            qcow2_signal_corruption(bs, "L2 entry 0x%" PRIx64 " for guest "
                                    "offset 0x%" PRIx64 " points into the "
                                    "header", entry, offset);
            return -EIO;
        }
        return type;
    }
bad:
    qcow2_signal_corruption(bs, "L2 entry 0x%" PRIx64 " for guest offset 0x%"
                            PRIx64 " is invalid (reserved bits set or "
                            "offset not cluster aligned)", entry, offset);
    return -EIO;
}

/*
 * The mapping of a run of clusters from guest @offset; see
 * qcow2_get_host_offset(). *@copied: normal clusters whose refcount is
 * exactly one (writable in place). *@l2_entry: the first raw entry.
 */
static int coroutine_fn qcow2_map(BlockDriverState *bs, uint64_t offset,
                                  uint64_t *bytes, uint64_t *host_offset,
                                  Qcow2ClusterType *type, bool *copied,
                                  uint64_t *l2_entry)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t in_cluster = qcow2_offset_into_cluster(s, offset);
    uint64_t l2_index = (offset >> s->cluster_bits) & (s->l2_size - 1);
    uint64_t max_clusters = s->l2_size - l2_index;
    uint64_t want = DIV_ROUND_UP(*bytes + in_cluster, s->cluster_size);
    uint64_t l2_offset, first, n;
    uint8_t *table;
    int ret, t;

    want = MIN(want, max_clusters);
    *copied = false;
    ret = qcow2_get_l2_table(bs, offset, false, &l2_offset, &table);
    if (ret < 0) {
        return ret;
    }
    if (!l2_offset) {
        *type = QCOW2_CLUSTER_UNALLOCATED;
        *host_offset = 0;
        *l2_entry = 0;
        n = want;
        goto out;
    }
    first = qcow2_ld64(table + l2_index * 8);
    t = qcow2_entry_type(bs, offset, first);
    if (t < 0) {
        return t;
    }
    *type = t;
    *l2_entry = first;
    *copied = (first & QCOW_OFLAG_COPIED) && t == QCOW2_CLUSTER_NORMAL;
    if (t == QCOW2_CLUSTER_COMPRESSED) {
        *host_offset = first;
        n = 1;
        goto out;
    }
    *host_offset = (first & L2E_OFFSET_MASK);
    for (n = 1; n < want; n++) {
        uint64_t e = qcow2_ld64(table + (l2_index + n) * 8);

        t = qcow2_entry_type(bs, offset + n * s->cluster_size, e);
        if (t < 0) {
            return t;
        }
        if (t != *type ||
            (e & QCOW_OFLAG_COPIED) != (first & QCOW_OFLAG_COPIED)) {
            break;
        }
        if ((t == QCOW2_CLUSTER_NORMAL || t == QCOW2_CLUSTER_ZERO_ALLOC) &&
            (e & L2E_OFFSET_MASK) != *host_offset + n * s->cluster_size) {
            break;
        }
    }
    if (*type == QCOW2_CLUSTER_NORMAL || *type == QCOW2_CLUSTER_ZERO_ALLOC) {
        *host_offset += in_cluster;
    }
out:
    *bytes = MIN(*bytes, n * s->cluster_size - in_cluster);
    return 0;
}

int coroutine_fn qcow2_get_host_offset(BlockDriverState *bs, uint64_t offset,
                                       uint64_t *bytes,
                                       uint64_t *host_offset,
                                       Qcow2ClusterType *type)
{
    bool copied;
    uint64_t entry;

    return qcow2_map(bs, offset, bytes, host_offset, type, &copied, &entry);
}

/* Reads */

/* Reads host [@host, +@bytes), zeroes for what lies past the file's end. */
static int coroutine_fn qcow2_read_host(BlockDriverState *bs, uint64_t host,
                                        uint64_t bytes, QEMUIOVector *qiov,
                                        size_t qiov_offset)
{
    int64_t len = bdrv_co_getlength(bs->file->bs);
    uint64_t n = bytes;
    QEMUIOVector slice;
    int ret = 0;

    if (len < 0) {
        return len;
    }
    if (host >= (uint64_t)len) {
        n = 0;
    } else if (bytes > (uint64_t)len - host) {
        n = len - host;
    }
    if (n) {
        qemu_iovec_init_slice(&slice, qiov, qiov_offset, n);
        ret = bdrv_co_preadv(bs->file, host, n, &slice, 0);
        qemu_iovec_destroy(&slice);
    }
    if (ret == 0 && n < bytes) {
        qemu_iovec_memset(qiov, qiov_offset + n, 0, bytes - n);
    }
    return ret;
}

static int coroutine_fn qcow2_read_backing(BlockDriverState *bs,
                                           uint64_t offset, uint64_t bytes,
                                           QEMUIOVector *qiov,
                                           size_t qiov_offset)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t len;
    uint64_t n = 0;
    QEMUIOVector slice;
    int ret = 0;

    if (s->backing) {
        len = bdrv_co_getlength(s->backing->bs);
        if (len < 0) {
            return len;
        }
        if (offset < (uint64_t)len) {
            n = MIN(bytes, (uint64_t)len - offset);
        }
    }
    if (n) {
        qemu_iovec_init_slice(&slice, qiov, qiov_offset, n);
        ret = bdrv_co_preadv(s->backing, offset, n, &slice, 0);
        qemu_iovec_destroy(&slice);
    }
    if (ret == 0 && n < bytes) {
        qemu_iovec_memset(qiov, qiov_offset + n, 0, bytes - n);
    }
    return ret;
}

static int coroutine_fn qcow2_read_compressed(BlockDriverState *bs,
                                              uint64_t entry,
                                              uint64_t in_cluster,
                                              uint64_t bytes,
                                              QEMUIOVector *qiov,
                                              size_t qiov_offset)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t host, csize;
    g_autofree uint8_t *cbuf = NULL;
    g_autofree uint8_t *out = NULL;
    QEMUIOVector cq;
    int ret;

    qcow2_compressed_extent(entry, s->cluster_bits, &host, &csize);
    if (host < s->cluster_size) {
        qcow2_signal_corruption(bs, "compressed cluster descriptor 0x%"
                                PRIx64 " points into the header", entry);
        return -EIO;
    }
    cbuf = g_try_malloc(csize);
    out = g_try_malloc(s->cluster_size);
    if (!cbuf || !out) {
        return -ENOMEM;
    }
    qemu_iovec_init_buf(&cq, cbuf, csize);
    ret = qcow2_read_host(bs, host, csize, &cq, 0);
    if (ret < 0) {
        return ret;
    }
    ret = qcow2_decompress(s->compression_type, out, s->cluster_size, cbuf,
                           csize);
    if (ret < 0) {
        error_report("qcow2 '%s': compressed cluster at offset 0x%" PRIx64
                     " cannot be decompressed", bs->filename, host);
        return ret;
    }
    qemu_iovec_from_buf(qiov, qiov_offset, out + in_cluster, bytes);
    return 0;
}

int coroutine_fn qcow2_co_read(BlockDriverState *bs, uint64_t offset,
                               uint64_t bytes, QEMUIOVector *qiov,
                               size_t qiov_offset)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    while (bytes > 0 && ret == 0) {
        uint64_t n = bytes, host;
        Qcow2ClusterType type;

        qemu_co_mutex_lock(&s->lock);
        ret = qcow2_get_host_offset(bs, offset, &n, &host, &type);
        qemu_co_mutex_unlock(&s->lock);
        if (ret < 0) {
            break;
        }
        switch (type) {
        case QCOW2_CLUSTER_UNALLOCATED:
            ret = qcow2_read_backing(bs, offset, n, qiov, qiov_offset);
            break;
        case QCOW2_CLUSTER_ZERO_PLAIN:
        case QCOW2_CLUSTER_ZERO_ALLOC:
            qemu_iovec_memset(qiov, qiov_offset, 0, n);
            break;
        case QCOW2_CLUSTER_NORMAL:
            ret = qcow2_read_host(bs, host, n, qiov, qiov_offset);
            break;
        case QCOW2_CLUSTER_COMPRESSED:
            ret = qcow2_read_compressed(bs, host,
                                        qcow2_offset_into_cluster(s, offset),
                                        n, qiov, qiov_offset);
            break;
        }
        offset += n;
        bytes -= n;
        qiov_offset += n;
    }
    return ret;
}

/* In-flight allocations */

/* Waits (dropping s->lock) while one overlaps guest [@offset, +@bytes). */
static bool coroutine_fn qcow2_wait_inflight(BDRVQcow2State *s,
                                             uint64_t offset, uint64_t bytes)
{
    Qcow2InflightAlloc *a;

    QLIST_FOREACH(a, &s->inflight_allocs, next) {
        if (qcow2_ranges_overlap(offset, bytes, a->offset, a->bytes)) {
            qemu_co_queue_wait(&a->waiters, &s->lock);
            return true;
        }
    }
    return false;
}

static void qcow2_inflight_end(Qcow2InflightAlloc *a)
{
    QLIST_REMOVE(a, next);
    qemu_co_queue_restart_all(&a->waiters);
}

/*
 * Drops the host clusters an old L2 entry held. An error leaves them
 * leaked (or reports corruption), the mapping is already gone.
 */
static int coroutine_fn qcow2_free_entry(BlockDriverState *bs,
                                         uint64_t entry)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t host, bytes;

    switch (qcow2_get_cluster_type(entry)) {
    case QCOW2_CLUSTER_NORMAL:
    case QCOW2_CLUSTER_ZERO_ALLOC:
        return qcow2_update_refcount(bs, entry & L2E_OFFSET_MASK,
                                     s->cluster_size, -1);
    case QCOW2_CLUSTER_COMPRESSED:
        qcow2_compressed_extent(entry, s->cluster_bits, &host, &bytes);
        return qcow2_update_refcount(bs, qcow2_start_of_cluster(s, host),
                                     qcow2_offset_into_cluster(s, host) +
                                     bytes, -1);
    default:
        return 0;
    }
}

/*
 * Passes a discard of a data cluster that is free now down to the file
 * (when it allows discards), so that the space goes back to the host.
 * Best effort: the cluster is free whatever the file says.
 */
static void coroutine_fn qcow2_discard_host_cluster(BlockDriverState *bs,
                                                    uint64_t entry)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t host = entry & L2E_OFFSET_MASK, rc;
    Qcow2ClusterType type = qcow2_get_cluster_type(entry);

    if ((type != QCOW2_CLUSTER_NORMAL && type != QCOW2_CLUSTER_ZERO_ALLOC) ||
        qcow2_get_refcount(bs, host >> s->cluster_bits, &rc) < 0 || rc) {
        return;
    }
    bdrv_co_pdiscard(bs->file, host, s->cluster_size);
}

/* Writes */

/*
 * Points @n guest clusters from @guest at new host clusters from @host,
 * freeing what they held. s->lock held.
 */
static int coroutine_fn qcow2_link_clusters(BlockDriverState *bs,
                                            uint64_t guest, uint64_t n,
                                            uint64_t host, bool *linked)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t l2_index = (guest >> s->cluster_bits) & (s->l2_size - 1);
    g_autofree uint64_t *old = g_new(uint64_t, n);
    uint64_t l2_offset, i;
    uint8_t *table;
    int ret;

    *linked = false;
    ret = qcow2_get_l2_table(bs, guest, true, &l2_offset, &table);
    if (ret < 0) {
        return ret;
    }
    for (i = 0; i < n; i++) {
        old[i] = qcow2_ld64(table + (l2_index + i) * 8);
        qcow2_st64(table + (l2_index + i) * 8,
                   (host + i * s->cluster_size) | QCOW_OFLAG_COPIED);
    }
    ret = qcow2_write_table_range(bs, QCOW2_OL_ACTIVE_L2, l2_offset, table,
                                  l2_index * 8, (l2_index + n) * 8);
    if (ret < 0) {
        for (i = 0; i < n; i++) {
            qcow2_st64(table + (l2_index + i) * 8, old[i]);
        }
        return ret;
    }
    *linked = true;
    for (i = 0; i < n; i++) {
        int r = qcow2_free_entry(bs, old[i]);

        ret = ret < 0 ? ret : r;
    }
    return ret;
}

/*
 * Writes guest [@offset, +@bytes) (inside one L2 table, at most
 * QCOW2_MAX_WRITE_CHUNK past its first cluster) to new clusters, copying
 * the untouched parts of the first and last cluster from what they held.
 * Called with s->lock held and @a registered; returns with s->lock held.
 */
static int coroutine_fn qcow2_write_new(BlockDriverState *bs,
                                        uint64_t offset, uint64_t bytes,
                                        QEMUIOVector *qiov,
                                        size_t qiov_offset,
                                        Qcow2InflightAlloc *a)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t gs = a->offset, n = a->bytes >> s->cluster_bits;
    uint64_t head = offset - gs, tail = gs + a->bytes - (offset + bytes);
    g_autofree uint8_t *head_buf = NULL;
    g_autofree uint8_t *tail_buf = NULL;
    QEMUIOVector hq, tq, wq;
    const char *what;
    bool linked = false;
    int64_t host;
    int ret;

    /* The image may end inside the last cluster: copy up to its end. */
    if (gs + a->bytes > s->size) {
        tail = s->size - (offset + bytes);
    }
    host = qcow2_alloc_clusters(bs, n);
    if (host < 0) {
        return host;
    }
    if (qcow2_check_overlap(bs, 0, host, a->bytes, &what)) {
        qcow2_signal_corruption(bs, "data write to new clusters at 0x%"
                                PRIx64 " would overlap the %s (refcounts "
                                "wrong)", host, what);
        return -EIO;
    }
    qemu_co_mutex_unlock(&s->lock);

    qemu_iovec_init(&wq, qiov->niov + 2);
    if (head) {
        head_buf = g_malloc(head);
        qemu_iovec_init_buf(&hq, head_buf, head);
        ret = qcow2_co_read(bs, gs, head, &hq, 0);
        if (ret < 0) {
            goto out;
        }
        qemu_iovec_add(&wq, head_buf, head);
    }
    qemu_iovec_concat(&wq, qiov, qiov_offset, bytes);
    if (tail) {
        tail_buf = g_malloc(tail);
        qemu_iovec_init_buf(&tq, tail_buf, tail);
        ret = qcow2_co_read(bs, offset + bytes, tail, &tq, 0);
        if (ret < 0) {
            goto out;
        }
        qemu_iovec_add(&wq, tail_buf, tail);
    }
    ret = bdrv_co_pwritev(bs->file, host, wq.size, &wq, 0);

out:
    qemu_iovec_destroy(&wq);
    qemu_co_mutex_lock(&s->lock);
    if (ret == 0) {
        ret = qcow2_link_clusters(bs, gs, n, host, &linked);
    }
    if (ret < 0 && !linked) {
        qcow2_update_refcount(bs, host, a->bytes, -1);
    }
    return ret;
}

int coroutine_fn qcow2_co_write(BlockDriverState *bs, uint64_t offset,
                                uint64_t bytes, QEMUIOVector *qiov,
                                size_t qiov_offset)
{
    BDRVQcow2State *s = bs->opaque;
    int ret = 0;

    while (bytes > 0 && ret == 0) {
        uint64_t in_cluster = qcow2_offset_into_cluster(s, offset);
        uint64_t chunk = MAX((uint64_t)s->cluster_size,
                             QCOW2_MAX_WRITE_CHUNK);
        uint64_t n = MIN(bytes, chunk - in_cluster), host, entry;
        Qcow2ClusterType type;
        Qcow2InflightAlloc a;
        QEMUIOVector slice;
        const char *what;
        bool copied;

        qemu_co_mutex_lock(&s->lock);
        if (s->corrupt) {
            qemu_co_mutex_unlock(&s->lock);
            return -EIO;
        }
        if (qcow2_wait_inflight(s, qcow2_start_of_cluster(s, offset),
                                QEMU_ALIGN_UP(offset + n, s->cluster_size) -
                                qcow2_start_of_cluster(s, offset))) {
            qemu_co_mutex_unlock(&s->lock);
            continue;
        }
        ret = qcow2_map(bs, offset, &n, &host, &type, &copied, &entry);
        if (ret < 0) {
            qemu_co_mutex_unlock(&s->lock);
            break;
        }
        if (copied) {
            /* Allocated and not shared: overwrite in place. */
            if (qcow2_check_overlap(bs, 0, host, n, &what)) {
                qcow2_signal_corruption(bs, "data write to 0x%" PRIx64
                                        " (guest offset 0x%" PRIx64 ") "
                                        "would overlap the %s", host,
                                        offset, what);
                qemu_co_mutex_unlock(&s->lock);
                return -EIO;
            }
            /* A cluster past the end of the file (after a crash). */
            ret = qcow2_grow_file(bs, host + n);
            qemu_co_mutex_unlock(&s->lock);
            if (ret < 0) {
                break;
            }
            qemu_iovec_init_slice(&slice, qiov, qiov_offset, n);
            ret = bdrv_co_pwritev(bs->file, host, n, &slice, 0);
            qemu_iovec_destroy(&slice);
        } else {
            a.offset = qcow2_start_of_cluster(s, offset);
            a.bytes = QEMU_ALIGN_UP(offset + n, s->cluster_size) - a.offset;
            qemu_co_queue_init(&a.waiters);
            QLIST_INSERT_HEAD(&s->inflight_allocs, &a, next);
            ret = qcow2_write_new(bs, offset, n, qiov, qiov_offset, &a);
            qcow2_inflight_end(&a);
            qemu_co_mutex_unlock(&s->lock);
        }
        offset += n;
        bytes -= n;
        qiov_offset += n;
    }
    return ret;
}

/* Zero and discard */

int coroutine_fn qcow2_co_zero_or_discard(BlockDriverState *bs,
                                          uint64_t offset, uint64_t bytes,
                                          bool zero, bool may_unmap)
{
    BDRVQcow2State *s = bs->opaque;
    bool backing = s->backing != NULL;
    int ret = 0;

    if (zero && s->version < 3 && backing) {
        /* Only a zero flag could hide the backing file's data. */
        return -ENOTSUP;
    }
    qemu_co_mutex_lock(&s->lock);
    while (bytes > 0) {
        uint64_t l2_index = (offset >> s->cluster_bits) & (s->l2_size - 1);
        uint64_t n = MIN(bytes >> s->cluster_bits, s->l2_size - l2_index);
        uint64_t l2_offset, i, lo = UINT64_MAX, hi = 0;
        g_autofree uint64_t *old = NULL;
        bool need_table;
        uint8_t *table;

        if (n == 0) {
            /* The image's last, partial cluster. */
            n = 1;
        }
        if (s->corrupt) {
            ret = -EIO;
            break;
        }
        if (qcow2_wait_inflight(s, offset, n << s->cluster_bits)) {
            continue;
        }
        ret = qcow2_get_l2_table(bs, offset, false, &l2_offset, &table);
        if (ret < 0) {
            break;
        }
        need_table = backing && s->version >= 3;
        if ((l2_offset && !(s->l1_table[offset >> (s->l2_bits +
                                                   s->cluster_bits)] &
                            QCOW_OFLAG_COPIED)) ||
            (!l2_offset && need_table)) {
            ret = qcow2_get_l2_table(bs, offset, true, &l2_offset, &table);
            if (ret < 0) {
                break;
            }
        }
        if (!l2_offset) {
            goto next;
        }
        old = g_new0(uint64_t, n);
        for (i = 0; i < n; i++) {
            uint64_t e = qcow2_ld64(table + (l2_index + i) * 8);
            int t = qcow2_entry_type(bs, offset + (i << s->cluster_bits), e);
            uint64_t ne;

            if (t < 0) {
                ret = t;
                break;
            }
            if (backing && s->version < 3) {
                /* Discard on v2 with a backing file: leave it. */
                continue;
            }
            if (backing || (zero && !may_unmap &&
                            t == QCOW2_CLUSTER_NORMAL &&
                            (e & QCOW_OFLAG_COPIED))) {
                ne = QCOW_OFLAG_ZERO;
                if (zero && !may_unmap && (e & QCOW_OFLAG_COPIED) &&
                    (t == QCOW2_CLUSTER_NORMAL ||
                     t == QCOW2_CLUSTER_ZERO_ALLOC)) {
                    /* Keep the cluster: preallocated zeroes. */
                    ne |= (e & L2E_OFFSET_MASK) | QCOW_OFLAG_COPIED;
                }
                if (s->version < 3) {
                    ne = 0;
                }
            } else {
                ne = 0;
            }
            if (ne == e) {
                continue;
            }
            if ((ne & L2E_OFFSET_MASK) == 0) {
                old[i] = e;
            }
            qcow2_st64(table + (l2_index + i) * 8, ne);
            lo = MIN(lo, i);
            hi = MAX(hi, i + 1);
        }
        if (ret < 0) {
            break;
        }
        if (lo < hi) {
            ret = qcow2_write_table_range(bs, QCOW2_OL_ACTIVE_L2,
                                          l2_offset, table,
                                          (l2_index + lo) * 8,
                                          (l2_index + hi) * 8);
            if (ret < 0) {
                qcow2_cache_forget(&s->l2_cache, l2_offset);
                break;
            }
            for (i = lo; i < hi; i++) {
                int r = qcow2_free_entry(bs, old[i]);

                ret = ret < 0 ? ret : r;
                if (r == 0) {
                    qcow2_discard_host_cluster(bs, old[i]);
                }
            }
            if (ret < 0) {
                break;
            }
        }
next:
        n = MIN(n << s->cluster_bits, bytes);
        offset += n;
        bytes -= n;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/* Preallocation */

int coroutine_fn qcow2_co_preallocate(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t offset = 0;
    int ret = 0;

    qemu_co_mutex_lock(&s->lock);
    while (offset < s->size) {
        uint64_t n = s->size - offset, host, entry, clusters;
        Qcow2ClusterType type;
        int64_t alloc;
        bool copied;

        ret = qcow2_map(bs, offset, &n, &host, &type, &copied, &entry);
        if (ret < 0) {
            break;
        }
        if (type == QCOW2_CLUSTER_UNALLOCATED) {
            clusters = DIV_ROUND_UP(n, s->cluster_size);
            alloc = qcow2_alloc_clusters(bs, clusters);
            if (alloc < 0) {
                ret = alloc;
                break;
            }
            ret = qcow2_link_clusters(bs, offset, clusters, alloc,
                                      &copied);
            if (ret < 0) {
                break;
            }
        }
        offset += n;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}
