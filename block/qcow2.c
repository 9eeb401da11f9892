/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qcow2 format driver: opening (header, extensions, feature bits,
 * snapshot table, backing file), the request callbacks and block status.
 * The mapping and allocation live in qcow2-cluster.c and
 * qcow2-refcount.c; qcow2.h explains the locking.
 *
 * Open and close run in the main thread; the parts that read the image
 * run in a coroutine of the node's context that open waits for. Every
 * field of the header is validated before it is used: a hostile image is
 * refused with a message naming the field, never asserted on.
 *
 * Not supported (refused with a message): encryption, external data
 * files, extended L2 entries (subclusters); images marked dirty (lazy
 * refcounts) and images marked corrupt are opened read-only only.
 */
#include "qemu/osdep.h"
#include "config-host.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"
#include "block/qcow2.h"
#include "block/qcow2-img.h"
#include <zlib.h>
#ifdef CONFIG_ZSTD
#include <zstd.h>
#endif

/* Entries in the L2 and refcount block caches (at most 32 MiB each). */
#define QCOW2_CACHE_BYTES   (1024 * 1024)
#define QCOW2_CACHE_MIN     4

/* Pure helpers */

uint64_t qcow2_l1_entries_for(uint64_t size, int cluster_bits)
{
    int shift = cluster_bits + (cluster_bits - 3);

    return DIV_ROUND_UP(size, 1ULL << shift);
}

bool qcow2_parse_header(const uint8_t *buf, size_t len, uint64_t file_size,
                        QCowHeader *h, Error **errp)
{
    uint64_t cluster_size, l1_bytes, rt_bytes;

    memset(h, 0, sizeof(*h));
    if (len < QCOW2_HEADER_V2_SIZE) {
        error_setg(errp, "Image is not in qcow2 format (file too short)");
        return false;
    }
    h->magic = qcow2_ld32(buf);
    h->version = qcow2_ld32(buf + 4);
    h->backing_file_offset = qcow2_ld64(buf + 8);
    h->backing_file_size = qcow2_ld32(buf + 16);
    h->cluster_bits = qcow2_ld32(buf + 20);
    h->size = qcow2_ld64(buf + 24);
    h->crypt_method = qcow2_ld32(buf + 32);
    h->l1_size = qcow2_ld32(buf + 36);
    h->l1_table_offset = qcow2_ld64(buf + 40);
    h->refcount_table_offset = qcow2_ld64(buf + 48);
    h->refcount_table_clusters = qcow2_ld32(buf + 56);
    h->nb_snapshots = qcow2_ld32(buf + 60);
    h->snapshots_offset = qcow2_ld64(buf + 64);

    if (h->magic != QCOW_MAGIC) {
        error_setg(errp, "Image is not in qcow2 format");
        return false;
    }
    if (h->version != 2 && h->version != 3) {
        error_setg(errp, "Unsupported qcow2 version %" PRIu32, h->version);
        return false;
    }
    if (h->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
        h->cluster_bits > QCOW2_MAX_CLUSTER_BITS) {
        error_setg(errp, "Unsupported cluster size: 2^%" PRIu32,
                   h->cluster_bits);
        return false;
    }
    cluster_size = 1ULL << h->cluster_bits;
    if (h->version == 2) {
        h->refcount_order = 4;
        h->header_length = QCOW2_HEADER_V2_SIZE;
    } else {
        if (len < QCOW2_HEADER_V3_SIZE) {
            error_setg(errp, "qcow2 header too short");
            return false;
        }
        h->incompatible_features = qcow2_ld64(buf + 72);
        h->compatible_features = qcow2_ld64(buf + 80);
        h->autoclear_features = qcow2_ld64(buf + 88);
        h->refcount_order = qcow2_ld32(buf + 96);
        h->header_length = qcow2_ld32(buf + 100);
        if (h->header_length < QCOW2_HEADER_V3_SIZE) {
            error_setg(errp, "qcow2 header too short (header_length %"
                       PRIu32 ")", h->header_length);
            return false;
        }
        if (h->header_length > cluster_size || h->header_length > len) {
            error_setg(errp, "qcow2 header exceeds cluster size "
                       "(header_length %" PRIu32 ")", h->header_length);
            return false;
        }
        if (h->header_length > QCOW2_HEADER_V3_SIZE) {
            h->compression_type = buf[104];
        }
    }
    if (h->refcount_order > 6) {
        error_setg(errp, "Refcount order is too big: %" PRIu32,
                   h->refcount_order);
        return false;
    }
    if (h->compression_type > QCOW2_COMPRESSION_ZSTD) {
        error_setg(errp, "Unknown compression type %u",
                   h->compression_type);
        return false;
    }
    if ((h->compression_type != QCOW2_COMPRESSION_ZLIB) !=
        !!(h->incompatible_features & QCOW2_INCOMPAT_COMPRESSION)) {
        error_setg(errp, "Compression type %u does not match the "
                   "compression-type feature bit", h->compression_type);
        return false;
    }
    if (h->crypt_method) {
        error_setg(errp, "Encrypted images are not supported (encryption "
                   "method %" PRIu32 ")", h->crypt_method);
        return false;
    }
    if (h->backing_file_offset) {
        if (h->backing_file_size > QCOW2_MAX_BACKING_NAME) {
            error_setg(errp, "Backing file name too long (%" PRIu32
                       " bytes)", h->backing_file_size);
            return false;
        }
        if (h->backing_file_offset > cluster_size ||
            cluster_size - h->backing_file_offset < h->backing_file_size ||
            h->backing_file_offset < h->header_length) {
            error_setg(errp, "Invalid backing file offset 0x%" PRIx64,
                       h->backing_file_offset);
            return false;
        }
    }
    if (h->size > BDRV_MAX_LENGTH) {
        error_setg(errp, "Image size too large: %" PRIu64 " bytes",
                   h->size);
        return false;
    }
    l1_bytes = (uint64_t)h->l1_size * 8;
    if (l1_bytes > QCOW2_MAX_L1_BYTES) {
        error_setg(errp, "Active L1 table too large (%" PRIu32
                   " entries)", h->l1_size);
        return false;
    }
    if (qcow2_l1_entries_for(h->size, h->cluster_bits) > h->l1_size) {
        error_setg(errp, "L1 table is too small for the image size (%"
                   PRIu32 " entries for %" PRIu64 " bytes)", h->l1_size,
                   h->size);
        return false;
    }
    if (h->l1_table_offset & (cluster_size - 1)) {
        error_setg(errp, "Active L1 table offset invalid: 0x%" PRIx64,
                   h->l1_table_offset);
        return false;
    }
    if (h->l1_size && (h->l1_table_offset < cluster_size ||
                       h->l1_table_offset > file_size ||
                       file_size - h->l1_table_offset < l1_bytes)) {
        error_setg(errp, "Active L1 table at 0x%" PRIx64 " is %s",
                   h->l1_table_offset, h->l1_table_offset < cluster_size ?
                   "inside the header" : "past the end of the file");
        return false;
    }
    rt_bytes = (uint64_t)h->refcount_table_clusters << h->cluster_bits;
    if (!h->refcount_table_clusters) {
        error_setg(errp, "Image does not contain a reference count table");
        return false;
    }
    if (rt_bytes > QCOW2_MAX_REFTABLE_BYTES) {
        error_setg(errp, "Reference count table too large (%" PRIu32
                   " clusters)", h->refcount_table_clusters);
        return false;
    }
    if (h->refcount_table_offset & (cluster_size - 1)) {
        error_setg(errp, "Reference count table offset invalid: 0x%" PRIx64,
                   h->refcount_table_offset);
        return false;
    }
    if (h->refcount_table_offset < cluster_size ||
        h->refcount_table_offset > file_size ||
        file_size - h->refcount_table_offset < rt_bytes) {
        error_setg(errp, "Reference count table at 0x%" PRIx64 " is %s",
                   h->refcount_table_offset,
                   h->refcount_table_offset < cluster_size ?
                   "inside the header" : "past the end of the file");
        return false;
    }
    if (qcow2_ranges_overlap(h->l1_table_offset, l1_bytes,
                             h->refcount_table_offset, rt_bytes)) {
        error_setg(errp, "Active L1 table overlaps the reference count "
                   "table");
        return false;
    }
    if (h->nb_snapshots > QCOW2_MAX_SNAPSHOTS) {
        error_setg(errp, "Too many snapshots (%" PRIu32 ")",
                   h->nb_snapshots);
        return false;
    }
    if (h->nb_snapshots) {
        if (h->snapshots_offset & (cluster_size - 1) ||
            h->snapshots_offset < cluster_size ||
            h->snapshots_offset >= file_size) {
            error_setg(errp, "Snapshot table offset invalid: 0x%" PRIx64,
                       h->snapshots_offset);
            return false;
        }
    }
    return true;
}

void qcow2_encode_header(const QCowHeader *h, uint8_t *buf)
{
    memset(buf, 0, h->header_length);
    qcow2_st32(buf, h->magic);
    qcow2_st32(buf + 4, h->version);
    qcow2_st64(buf + 8, h->backing_file_offset);
    qcow2_st32(buf + 16, h->backing_file_size);
    qcow2_st32(buf + 20, h->cluster_bits);
    qcow2_st64(buf + 24, h->size);
    qcow2_st32(buf + 32, h->crypt_method);
    qcow2_st32(buf + 36, h->l1_size);
    qcow2_st64(buf + 40, h->l1_table_offset);
    qcow2_st64(buf + 48, h->refcount_table_offset);
    qcow2_st32(buf + 56, h->refcount_table_clusters);
    qcow2_st32(buf + 60, h->nb_snapshots);
    qcow2_st64(buf + 64, h->snapshots_offset);
    if (h->version >= 3) {
        qcow2_st64(buf + 72, h->incompatible_features);
        qcow2_st64(buf + 80, h->compatible_features);
        qcow2_st64(buf + 88, h->autoclear_features);
        qcow2_st32(buf + 96, h->refcount_order);
        qcow2_st32(buf + 100, h->header_length);
        if (h->header_length > QCOW2_HEADER_V3_SIZE) {
            buf[104] = h->compression_type;
        }
    }
}

char *qcow2_describe_features(uint64_t bits, const uint8_t *table,
                              size_t table_len)
{
    static const char *const known[] = {
        "dirty bit", "corrupt bit", "external data file",
        "compression type", "extended L2 entries",
    };
    GString *out = g_string_new(NULL);

    for (int bit = 0; bit < 64; bit++) {
        g_autofree char *name = NULL;

        if (!(bits & (1ULL << bit))) {
            continue;
        }
        /* Feature table entries: type, bit, 46 bytes of name. */
        for (size_t i = 0; table && i + 48 <= table_len; i += 48) {
            if (table[i] == 0 && table[i + 1] == bit) {
                name = g_strndup((const char *)table + i + 2, 46);
                break;
            }
        }
        if (!name && bit < (int)ARRAY_SIZE(known)) {
            name = g_strdup(known[bit]);
        }
        g_string_append_printf(out, "%s%s", out->len ? ", " : "",
                               name ? name : "");
        if (!name) {
            g_string_append_printf(out, "unknown incompatible feature bit "
                                   "%d", bit);
        }
    }
    return g_string_free(out, false);
}

Qcow2ClusterType qcow2_get_cluster_type(uint64_t l2_entry)
{
    if (l2_entry & QCOW_OFLAG_COMPRESSED) {
        return QCOW2_CLUSTER_COMPRESSED;
    }
    if (l2_entry & QCOW_OFLAG_ZERO) {
        return l2_entry & L2E_OFFSET_MASK ? QCOW2_CLUSTER_ZERO_ALLOC :
               QCOW2_CLUSTER_ZERO_PLAIN;
    }
    if (!(l2_entry & L2E_OFFSET_MASK)) {
        return QCOW2_CLUSTER_UNALLOCATED;
    }
    return QCOW2_CLUSTER_NORMAL;
}

void qcow2_compressed_extent(uint64_t l2_entry, int cluster_bits,
                             uint64_t *host_offset, uint64_t *bytes)
{
    int shift = 62 - (cluster_bits - 8);
    uint64_t sectors_mask = (1ULL << (cluster_bits - 8)) - 1;
    uint64_t offset = l2_entry & ((1ULL << shift) - 1);
    uint64_t sectors = ((l2_entry >> shift) & sectors_mask) + 1;

    *host_offset = offset;
    *bytes = sectors * 512 - (offset & 511);
}

uint64_t qcow2_refcount_get(const uint8_t *block, uint64_t index, int order)
{
    switch (order) {
    case 0:
    case 1:
    case 2: {
        int bits = 1 << order;
        int per_byte = 8 >> order;
        int shift = (index % per_byte) * bits;

        return (block[index / per_byte] >> shift) & ((1 << bits) - 1);
    }
    case 3:
        return block[index];
    case 4:
        return qcow2_ld16(block + index * 2);
    case 5:
        return qcow2_ld32(block + index * 4);
    default:
        return qcow2_ld64(block + index * 8);
    }
}

void qcow2_refcount_set(uint8_t *block, uint64_t index, int order,
                        uint64_t value)
{
    switch (order) {
    case 0:
    case 1:
    case 2: {
        int bits = 1 << order;
        int per_byte = 8 >> order;
        int shift = (index % per_byte) * bits;
        uint8_t mask = ((1 << bits) - 1) << shift;

        block[index / per_byte] = (block[index / per_byte] & ~mask) |
                                  ((value << shift) & mask);
        break;
    }
    case 3:
        block[index] = value;
        break;
    case 4:
        qcow2_st16(block + index * 2, value);
        break;
    case 5:
        qcow2_st32(block + index * 4, value);
        break;
    default:
        qcow2_st64(block + index * 8, value);
        break;
    }
}

int qcow2_decompress(uint8_t type, void *dst, size_t dst_len,
                     const void *src, size_t src_len)
{
    if (type == QCOW2_COMPRESSION_ZLIB) {
        z_stream z = { 0 };
        int ret;

        if (inflateInit2(&z, -12) != Z_OK) {
            return -EIO;
        }
        z.next_in = (Bytef *)src;
        z.avail_in = src_len;
        z.next_out = dst;
        z.avail_out = dst_len;
        ret = inflate(&z, Z_FINISH);
        /* The input is padded to a sector: a full output is enough. */
        if ((ret != Z_STREAM_END && ret != Z_BUF_ERROR) || z.avail_out) {
            inflateEnd(&z);
            return -EIO;
        }
        inflateEnd(&z);
        return 0;
    }
#ifdef CONFIG_ZSTD
    if (type == QCOW2_COMPRESSION_ZSTD) {
        ZSTD_DCtx *dctx = ZSTD_createDCtx();
        ZSTD_inBuffer in = { src, src_len, 0 };
        ZSTD_outBuffer out = { dst, dst_len, 0 };
        size_t r = 1;

        if (!dctx) {
            return -ENOMEM;
        }
        while (out.pos < out.size && in.pos < in.size) {
            r = ZSTD_decompressStream(dctx, &out, &in);
            if (ZSTD_isError(r) || (r == 0 && out.pos < out.size)) {
                break;
            }
        }
        ZSTD_freeDCtx(dctx);
        return !ZSTD_isError(r) && out.pos == out.size ? 0 : -EIO;
    }
#endif
    return -ENOTSUP;
}

/* Corruption */

void coroutine_fn qcow2_signal_corruption(BlockDriverState *bs,
                                          const char *fmt, ...)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (s->corrupt) {
        return;
    }
    s->corrupt = true;
    if (s->writable && s->version >= 3) {
        uint8_t buf[8];
        QEMUIOVector qiov;

        error_report("qcow2 image '%s' is corrupt: %s; marking it corrupt, "
                     "further writes are refused", bs->filename, msg);
        s->incompatible_features |= QCOW2_INCOMPAT_CORRUPT;
        qcow2_st64(buf, s->incompatible_features);
        qemu_iovec_init_buf(&qiov, buf, 8);
        if (bdrv_co_pwritev(bs->file, 72, 8, &qiov, 0) == 0) {
            bdrv_co_flush(bs->file->bs);
        }
    } else {
        error_report("qcow2 image '%s' is corrupt: %s", bs->filename, msg);
    }
}

/* Opening */

/* The image's own header fields, parsed from its first cluster. */
static int coroutine_fn qcow2_read_extensions(BlockDriverState *bs,
                                              const uint8_t *buf,
                                              size_t len, uint8_t **ftable,
                                              size_t *ftable_len,
                                              Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    QCowHeader *h = &s->header;
    uint64_t pos = h->header_length;
    uint64_t end = h->backing_file_offset ? h->backing_file_offset : len;

    end = MIN(end, len);
    while (pos + 8 <= end) {
        uint32_t type = qcow2_ld32(buf + pos);
        uint32_t ext_len = qcow2_ld32(buf + pos + 4);

        pos += 8;
        if (type == QCOW2_EXT_END) {
            return 0;
        }
        if (ext_len > end - pos) {
            error_setg(errp, "Invalid header extension 0x%08" PRIx32
                       ": length %" PRIu32 " runs past the header cluster",
                       type, ext_len);
            return -EINVAL;
        }
        switch (type) {
        case QCOW2_EXT_BACKING_FORMAT:
            if (ext_len == 0 || ext_len > 64 ||
                memchr(buf + pos, 0, ext_len)) {
                error_setg(errp, "Invalid backing format extension");
                return -EINVAL;
            }
            s->backing_format = g_strndup((const char *)buf + pos, ext_len);
            break;
        case QCOW2_EXT_FEATURE_TABLE:
            g_free(*ftable);
            *ftable = g_memdup2(buf + pos, ext_len);
            *ftable_len = ext_len;
            break;
        case QCOW2_EXT_CRYPTO:
            error_setg(errp, "Encrypted images are not supported");
            return -ENOTSUP;
        default:
            /* Bitmaps and unknown extensions: ignored. */
            break;
        }
        pos += QEMU_ALIGN_UP(ext_len, 8);
    }
    return 0;
}

/* Reads the snapshot headers: their L1 tables and the table's length. */
static int coroutine_fn qcow2_read_snapshots(BlockDriverState *bs,
                                             Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t pos = s->header.snapshots_offset;
    uint8_t hdr[40];
    QEMUIOVector qiov;
    uint32_t i;
    int ret;

    s->nb_snapshots = s->header.nb_snapshots;
    s->snapshots_offset = pos;
    s->snapshots = g_new0(Qcow2SnapshotL1, s->nb_snapshots);
    s->snapshot_info = g_new0(Qcow2SnapshotInfo, s->nb_snapshots);
    for (i = 0; i < s->nb_snapshots; i++) {
        Qcow2SnapshotInfo *si = &s->snapshot_info[i];
        g_autofree uint8_t *rest = NULL;
        uint64_t entry, l1_off;
        uint32_t l1_size, extra;
        uint16_t id_len, name_len;

        if (pos > s->file_size || s->file_size - pos < sizeof(hdr)) {
            error_setg(errp, "Snapshot table entry %" PRIu32 " is past the "
                       "end of the file", i);
            return -EINVAL;
        }
        qemu_iovec_init_buf(&qiov, hdr, sizeof(hdr));
        ret = bdrv_co_preadv(bs->file, pos, sizeof(hdr), &qiov, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read the snapshot "
                             "table");
            return ret;
        }
        l1_off = qcow2_ld64(hdr);
        l1_size = qcow2_ld32(hdr + 8);
        id_len = qcow2_ld16(hdr + 12);
        name_len = qcow2_ld16(hdr + 14);
        extra = qcow2_ld32(hdr + 36);
        if (extra > 1024) {
            error_setg(errp, "Snapshot %" PRIu32 ": extra data too large",
                       i);
            return -EINVAL;
        }
        entry = QEMU_ALIGN_UP(sizeof(hdr) + extra + id_len + name_len, 8);
        if ((uint64_t)l1_size * 8 > QCOW2_MAX_L1_BYTES ||
            (l1_off & (s->cluster_size - 1)) ||
            (l1_size && (l1_off < s->cluster_size ||
                         l1_off > s->file_size ||
                         s->file_size - l1_off < (uint64_t)l1_size * 8))) {
            error_setg(errp, "Snapshot %" PRIu32 " has an invalid L1 table "
                       "(offset 0x%" PRIx64 ", %" PRIu32 " entries)", i,
                       l1_off, l1_size);
            return -EINVAL;
        }
        s->snapshots[i].l1_table_offset = l1_off;
        s->snapshots[i].l1_size = l1_size;
        /* The last entry's padding need not be in the file. */
        if (s->file_size - pos < sizeof(hdr) + extra + id_len + name_len) {
            error_setg(errp, "Snapshot table is past the end of the file");
            return -EINVAL;
        }
        rest = g_malloc(extra + id_len + name_len + 1);
        qemu_iovec_init_buf(&qiov, rest, extra + id_len + name_len);
        ret = extra + id_len + name_len == 0 ? 0 :
              bdrv_co_preadv(bs->file, pos + sizeof(hdr),
                             extra + id_len + name_len, &qiov, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not read the snapshot "
                             "table");
            return ret;
        }
        si->id = g_strndup((const char *)rest + extra, id_len);
        si->name = g_strndup((const char *)rest + extra + id_len, name_len);
        si->date_sec = qcow2_ld32(hdr + 16);
        si->date_nsec = qcow2_ld32(hdr + 20);
        si->vm_clock_nsec = qcow2_ld64(hdr + 24);
        si->vm_state_size = extra >= 8 ? qcow2_ld64(rest) :
                            qcow2_ld32(hdr + 32);
        si->icount = extra >= 24 ? qcow2_ld64(rest + 16) : UINT64_MAX;
        pos += entry;
        if (pos - s->snapshots_offset > 64 * 1024 * 1024) {
            error_setg(errp, "Snapshot table too large");
            return -EINVAL;
        }
    }
    s->snapshots_size = pos - s->snapshots_offset;
    return 0;
}

static int coroutine_fn qcow2_load_l1(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t bytes = (uint64_t)s->l1_size * 8;
    g_autofree uint8_t *buf = g_try_malloc(MAX(bytes, 1));
    QEMUIOVector qiov;
    const char *what;
    int ret;

    s->l1_table = g_new0(uint64_t, MAX(s->l1_size, 1));
    if (!bytes) {
        return 0;
    }
    if (!buf) {
        error_setg(errp, "Could not allocate the L1 table");
        return -ENOMEM;
    }
    qemu_iovec_init_buf(&qiov, buf, bytes);
    ret = bdrv_co_preadv(bs->file, s->l1_table_offset, bytes, &qiov, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the L1 table");
        return ret;
    }
    for (uint32_t i = 0; i < s->l1_size; i++) {
        s->l1_table[i] = qcow2_ld64(buf + i * 8);
    }
    if (qcow2_check_overlap(bs, QCOW2_OL_ACTIVE_L1 | QCOW2_OL_ACTIVE_L2 |
                            QCOW2_OL_REFCOUNT_BLOCK, s->l1_table_offset,
                            bytes, &what)) {
        error_setg(errp, "Active L1 table overlaps the %s", what);
        return -EINVAL;
    }
    {
        uint64_t dup;

        if (qcow2_find_duplicate(s->l1_table, s->l1_size, L1E_OFFSET_MASK,
                                 &dup)) {
            error_setg(errp, "Two L1 table entries point to the L2 table "
                       "at offset 0x%" PRIx64, dup);
            return -EINVAL;
        }
    }
    return 0;
}

/* Checks the feature bits against what we do and how we were opened. */
static int qcow2_check_features(BlockDriverState *bs, const uint8_t *ftable,
                                size_t ftable_len, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t incompat = s->header.incompatible_features;
    uint64_t unknown = incompat & ~QCOW2_INCOMPAT_KNOWN;

    if (unknown & QCOW2_INCOMPAT_EXTL2) {
        error_setg(errp, "Image '%s' uses extended L2 entries "
                   "(subclusters), which are not supported yet",
                   bs->filename);
        return -ENOTSUP;
    }
    if (unknown & QCOW2_INCOMPAT_DATA_FILE) {
        error_setg(errp, "Image '%s' uses an external data file, which is "
                   "not supported", bs->filename);
        return -ENOTSUP;
    }
    if (unknown) {
        g_autofree char *names = qcow2_describe_features(unknown, ftable,
                                                         ftable_len);

        error_setg(errp, "Unsupported qcow2 feature(s): %s", names);
        return -ENOTSUP;
    }
#ifndef CONFIG_ZSTD
    if (s->header.compression_type == QCOW2_COMPRESSION_ZSTD) {
        error_setg(errp, "Image '%s' uses zstd compression, which this "
                   "build does not support", bs->filename);
        return -ENOTSUP;
    }
#endif
    if ((incompat & QCOW2_INCOMPAT_CORRUPT) && s->writable) {
        error_setg(errp, "qcow2 image '%s' is marked corrupt; it can be "
                   "opened read-only only", bs->filename);
        return -EACCES;
    }
    if ((incompat & QCOW2_INCOMPAT_DIRTY) && s->writable) {
        error_setg(errp, "qcow2 image '%s' is marked dirty (its refcounts "
                   "were not written back: lazy refcounts); repair it with "
                   "'qemu-img check -r all' before writing to it, or open "
                   "it read-only", bs->filename);
        return -EACCES;
    }
    return 0;
}

typedef struct Qcow2OpenCo {
    BlockDriverState *bs;
    Error **errp;
    int ret;
    bool done;
} Qcow2OpenCo;

static int coroutine_fn qcow2_co_do_open(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    QCowHeader *h = &s->header;
    g_autofree uint8_t *buf = NULL;
    g_autofree uint8_t *ftable = NULL;
    size_t ftable_len = 0, len;
    QEMUIOVector qiov;
    int64_t file_len;
    uint64_t entries;
    int ret;

    file_len = bdrv_co_getlength(bs->file->bs);
    if (file_len < 0) {
        error_setg_errno(errp, -file_len, "Could not get the file's size");
        return file_len;
    }
    s->file_size = file_len;
    len = MIN((uint64_t)file_len, 1ULL << QCOW2_MAX_CLUSTER_BITS);
    buf = g_malloc0(MAX(len, QCOW2_HEADER_V3_SIZE));
    qemu_iovec_init_buf(&qiov, buf, len);
    ret = bdrv_co_preadv(bs->file, 0, len, &qiov, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not read the qcow2 header");
        return ret;
    }
    if (!qcow2_parse_header(buf, len, file_len, h, errp)) {
        return -EINVAL;
    }
    s->version = h->version;
    s->cluster_bits = h->cluster_bits;
    s->cluster_size = 1U << h->cluster_bits;
    s->l2_bits = h->cluster_bits - 3;
    s->l2_size = 1U << s->l2_bits;
    s->refcount_order = h->refcount_order;
    s->refcount_block_bits = h->cluster_bits + 3 - h->refcount_order;
    s->refcount_max = h->refcount_order == 6 ? UINT64_MAX :
                      (1ULL << (1 << h->refcount_order)) - 1;
    s->compression_type = h->compression_type;
    s->size = h->size;
    s->l1_size = h->l1_size;
    s->l1_table_offset = h->l1_table_offset;
    s->refcount_table_offset = h->refcount_table_offset;
    s->refcount_table_clusters = h->refcount_table_clusters;
    s->incompatible_features = h->incompatible_features;
    s->corrupt = h->incompatible_features & QCOW2_INCOMPAT_CORRUPT;
    len = MIN(len, s->cluster_size);

    ret = qcow2_read_extensions(bs, buf, len, &ftable, &ftable_len, errp);
    if (ret < 0) {
        return ret;
    }
    ret = qcow2_check_features(bs, ftable, ftable_len, errp);
    if (ret < 0) {
        return ret;
    }
    if (h->backing_file_offset && h->backing_file_size) {
        s->backing_file = g_strndup((const char *)buf +
                                    h->backing_file_offset,
                                    h->backing_file_size);
        if (strlen(s->backing_file) != h->backing_file_size) {
            error_setg(errp, "Backing file name contains a NUL byte");
            return -EINVAL;
        }
    }
    if (h->nb_snapshots) {
        ret = qcow2_read_snapshots(bs, errp);
        if (ret < 0) {
            return ret;
        }
        if (qcow2_check_overlap(bs, QCOW2_OL_SNAPSHOT_TABLE |
                                QCOW2_OL_ACTIVE_L1 | QCOW2_OL_ACTIVE_L2 |
                                QCOW2_OL_REFCOUNT_BLOCK |
                                QCOW2_OL_INACTIVE_L1,
                                s->snapshots_offset, s->snapshots_size,
                                NULL)) {
            error_setg(errp, "Snapshot table overlaps other metadata");
            return -EINVAL;
        }
    }
    ret = qcow2_load_l1(bs, errp);
    if (ret < 0) {
        return ret;
    }
    ret = qcow2_refcount_load(bs, errp);
    if (ret < 0) {
        return ret;
    }
    entries = MAX(QCOW2_CACHE_MIN, QCOW2_CACHE_BYTES / s->cluster_size);
    if (qcow2_cache_init(&s->l2_cache, entries, s->cluster_size) < 0 ||
        qcow2_cache_init(&s->refcount_cache, entries, s->cluster_size) < 0) {
        error_setg(errp, "Could not allocate the metadata caches");
        return -ENOMEM;
    }

    /* A writer that does not know an autoclear feature must clear it. */
    if (s->writable && s->version >= 3 && h->autoclear_features) {
        uint8_t zero[8] = { 0 };

        qemu_iovec_init_buf(&qiov, zero, 8);
        ret = bdrv_co_pwritev(bs->file, 88, 8, &qiov, 0);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "Could not update the header");
            return ret;
        }
    }
    return 0;
}

static void coroutine_fn qcow2_open_entry(void *opaque)
{
    Qcow2OpenCo *oc = opaque;

    oc->ret = qcow2_co_do_open(oc->bs, oc->errp);
    qatomic_store_release(&oc->done, true);
    aio_wait_kick();
}

/*
 * Main thread: the realpaths of the qcow2 images being opened, outermost
 * first, to refuse a backing chain that loops back on itself.
 */
static GPtrArray *qcow2_opening;

static char *qcow2_backing_path(BlockDriverState *bs, const char *name)
{
    const char *image = bdrv_get_filename(bs->file->bs);
    g_autofree char *dir = NULL;

    /* An image named without a directory: its backing name as it is. */
    if (g_path_is_absolute(name) || strstr(name, "://") ||
        g_str_has_prefix(name, "nbd:") || g_str_has_prefix(name, "json:") ||
        !strchr(image, '/')) {
        return g_strdup(name);
    }
    dir = g_path_get_dirname(image);
    return g_build_filename(dir, name, NULL);
}

bool qcow2_probe_file(const char *filename)
{
    unsigned char magic[4];
    const char *path = filename;
    int fd;
    bool qcow2 = false;

    if (g_str_has_prefix(path, "file:")) {
        path += 5;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        qcow2 = read(fd, magic, 4) == 4 && qcow2_ld32(magic) == QCOW_MAGIC;
        close(fd);
    }
    return qcow2;
}

/* The format of a backing file without a recorded one: qcow2 or raw. */
static const char *qcow2_probe_format(const char *path)
{
    return qcow2_probe_file(path) ? "qcow2" : "raw";
}

static int qcow2_open_backing(BlockDriverState *bs, int flags, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    g_autofree char *path = qcow2_backing_path(bs, s->backing_file);
    g_autofree char *real = realpath(path, NULL);
    g_autoptr(KeyVal) kv = keyval_new();
    const char *fmt = s->backing_format;
    BlockDriverState *backing;

    if (qcow2_opening->len >= QCOW2_MAX_BACKING_DEPTH) {
        error_setg(errp, "Backing chain of '%s' is too deep (more than %d "
                   "images)", bs->filename, QCOW2_MAX_BACKING_DEPTH);
        return -EINVAL;
    }
    for (guint i = 0; real && i < qcow2_opening->len; i++) {
        if (!strcmp(g_ptr_array_index(qcow2_opening, i), real)) {
            error_setg(errp, "Backing file '%s' of '%s' is an image of the "
                       "chain above it: the backing chain loops",
                       s->backing_file, bs->filename);
            return -ELOOP;
        }
    }
    if (!fmt) {
        fmt = qcow2_probe_format(path);
    }
    if (!bdrv_find_driver(fmt)) {
        error_setg(errp, "Unknown backing file format '%s' of '%s'", fmt,
                   bs->filename);
        return -EINVAL;
    }
    backing = bdrv_open(path, fmt, NULL,
                        flags & ~(BDRV_O_RDWR | BDRV_O_UNMAP), errp);
    if (!backing) {
        error_prepend(errp, "Could not open backing file '%s' of '%s': ",
                      s->backing_file, bs->filename);
        return -EINVAL;
    }
    keyval_add(kv, "backing", bdrv_get_node_name(backing), &error_abort);
    s->backing = bdrv_open_child(bs, kv, "backing",
                                 flags & ~(BDRV_O_RDWR | BDRV_O_UNMAP),
                                 errp);
    bdrv_unref(backing);
    return s->backing ? 0 : -EINVAL;
}

static void qcow2_free_state(BDRVQcow2State *s)
{
    qcow2_cache_destroy(&s->l2_cache);
    qcow2_cache_destroy(&s->refcount_cache);
    g_free(s->l1_table);
    g_free(s->refcount_table);
    g_free(s->snapshots);
    for (uint32_t i = 0; s->snapshot_info && i < s->nb_snapshots; i++) {
        g_free(s->snapshot_info[i].id);
        g_free(s->snapshot_info[i].name);
    }
    g_free(s->snapshot_info);
    s->snapshot_info = NULL;
    g_free(s->backing_file);
    g_free(s->backing_format);
    s->l1_table = NULL;
    s->refcount_table = NULL;
    s->snapshots = NULL;
    s->backing_file = NULL;
    s->backing_format = NULL;
}

static int qcow2_open(BlockDriverState *bs, const KeyVal *options, int flags,
                      Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2OpenCo oc = { .bs = bs, .errp = errp };
    AioContext *ctx;
    char *real;
    int ret;

    if (!bdrv_open_child(bs, options, "file", flags, errp)) {
        return -EINVAL;
    }
    bs->filename = g_strdup(bdrv_get_filename(bs->file->bs));
    s->writable = flags & BDRV_O_RDWR;
    qemu_co_mutex_init(&s->lock);
    QLIST_INIT(&s->inflight_allocs);

    ctx = bdrv_get_aio_context(bs);
    aio_co_enter(ctx, qemu_coroutine_create(qcow2_open_entry, &oc));
    AIO_WAIT_WHILE(ctx, !qatomic_load_acquire(&oc.done));
    if (oc.ret < 0) {
        error_prepend(errp, "Could not open '%s': ", bs->filename);
        qcow2_free_state(s);
        return oc.ret;
    }

    if (s->backing_file) {
        if (!qcow2_opening) {
            qcow2_opening = g_ptr_array_new_with_free_func(g_free);
        }
        real = realpath(bs->filename, NULL);
        g_ptr_array_add(qcow2_opening, real ? real :
                        g_strdup(bs->filename));
        ret = qcow2_open_backing(bs, flags, errp);
        g_ptr_array_remove_index(qcow2_opening, qcow2_opening->len - 1);
        if (ret < 0) {
            qcow2_free_state(s);
            return ret;
        }
    }
    bs->supported_zero_flags = BDRV_REQ_MAY_UNMAP | BDRV_REQ_NO_FALLBACK;
    return 0;
}

static void qcow2_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    qcow2_free_state(s);
    qemu_co_mutex_destroy(&s->lock);
}

static void qcow2_refresh_limits(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;

    bs->bl.request_alignment = 1;
    bs->bl.pdiscard_alignment = s->cluster_size;
}

static int64_t qcow2_getlength(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    return s->size;
}

/* Requests */

static int coroutine_fn qcow2_co_preadv(BlockDriverState *bs, int64_t offset,
                                        int64_t bytes, QEMUIOVector *qiov,
                                        BdrvRequestFlags flags)
{
    return qcow2_co_read(bs, offset, bytes, qiov, 0);
}

static int coroutine_fn qcow2_co_pwritev(BlockDriverState *bs,
                                         int64_t offset, int64_t bytes,
                                         QEMUIOVector *qiov,
                                         BdrvRequestFlags flags)
{
    return qcow2_co_write(bs, offset, bytes, qiov, 0);
}

/* Writes zero buffers over [@offset, +@bytes) (within one cluster). */
static int coroutine_fn qcow2_write_zero_buffer(BlockDriverState *bs,
                                                int64_t offset,
                                                int64_t bytes)
{
    g_autofree void *buf = g_malloc0(bytes);
    QEMUIOVector qiov;

    qemu_iovec_init_buf(&qiov, buf, bytes);
    return qcow2_co_write(bs, offset, bytes, &qiov, 0);
}

static int coroutine_fn qcow2_co_pwrite_zeroes(BlockDriverState *bs,
                                               int64_t offset,
                                               int64_t bytes,
                                               BdrvRequestFlags flags)
{
    BDRVQcow2State *s = bs->opaque;
    int64_t start = QEMU_ALIGN_UP(offset, s->cluster_size);
    int64_t end = offset + bytes == (int64_t)s->size ? offset + bytes :
                  QEMU_ALIGN_DOWN(offset + bytes, s->cluster_size);
    int ret;

    if (s->version < 3 && s->backing) {
        return -ENOTSUP;
    }
    if (end <= start) {
        /* Inside one cluster. */
        if (flags & BDRV_REQ_NO_FALLBACK) {
            return -ENOTSUP;
        }
        return qcow2_write_zero_buffer(bs, offset, bytes);
    }
    if ((start > offset || end < offset + bytes) &&
        (flags & BDRV_REQ_NO_FALLBACK)) {
        return -ENOTSUP;
    }
    if (start > offset) {
        ret = qcow2_write_zero_buffer(bs, offset, start - offset);
        if (ret < 0) {
            return ret;
        }
    }
    ret = qcow2_co_zero_or_discard(bs, start, end - start, true,
                                   flags & BDRV_REQ_MAY_UNMAP);
    if (ret < 0) {
        return ret;
    }
    if (end < offset + bytes) {
        ret = qcow2_write_zero_buffer(bs, end, offset + bytes - end);
    }
    return ret;
}

static int coroutine_fn qcow2_co_pdiscard(BlockDriverState *bs,
                                          int64_t offset, int64_t bytes)
{
    return qcow2_co_zero_or_discard(bs, offset, bytes, false, true);
}

static int coroutine_fn qcow2_co_block_status(BlockDriverState *bs,
                                              bool want_zero,
                                              int64_t offset,
                                              int64_t bytes, int64_t *pnum,
                                              int64_t *map,
                                              BlockDriverState **file)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t n = bytes, host;
    Qcow2ClusterType type;
    int ret;

    qemu_co_mutex_lock(&s->lock);
    ret = qcow2_get_host_offset(bs, offset, &n, &host, &type);
    qemu_co_mutex_unlock(&s->lock);
    if (ret < 0) {
        return ret;
    }
    *pnum = n;
    switch (type) {
    case QCOW2_CLUSTER_UNALLOCATED:
        /*
         * Not allocated here: the generic layer reads the backing file's
         * status, or calls it zeroes without one (supports_backing).
         */
        return 0;
    case QCOW2_CLUSTER_ZERO_PLAIN:
        return BDRV_BLOCK_ZERO;
    case QCOW2_CLUSTER_ZERO_ALLOC:
        *map = host;
        *file = bs->file->bs;
        return BDRV_BLOCK_ZERO | BDRV_BLOCK_OFFSET_VALID;
    case QCOW2_CLUSTER_NORMAL:
        *map = host;
        *file = bs->file->bs;
        return BDRV_BLOCK_DATA | BDRV_BLOCK_OFFSET_VALID;
    case QCOW2_CLUSTER_COMPRESSED:
    default:
        return BDRV_BLOCK_DATA;
    }
}

const BlockDriver bdrv_qcow2 = {
    .format_name = "qcow2",
    .instance_size = sizeof(BDRVQcow2State),
    .is_format = true,
    .supports_backing = true,
    .bdrv_open = qcow2_open,
    .bdrv_close = qcow2_close,
    .bdrv_refresh_limits = qcow2_refresh_limits,
    .bdrv_co_preadv = qcow2_co_preadv,
    .bdrv_co_pwritev = qcow2_co_pwritev,
    .bdrv_co_pwrite_zeroes = qcow2_co_pwrite_zeroes,
    .bdrv_co_pdiscard = qcow2_co_pdiscard,
    .bdrv_co_block_status = qcow2_co_block_status,
    .bdrv_getlength = qcow2_getlength,
};

/* For qemu-img */

bool qcow2_get_image_info(BlockDriverState *bs, Qcow2ImageInfo *info)
{
    BDRVQcow2State *s;

    if (!bs || bs->drv != &bdrv_qcow2) {
        return false;
    }
    s = bs->opaque;
    memset(info, 0, sizeof(*info));
    info->version = s->version;
    info->cluster_size = s->cluster_size;
    info->refcount_bits = 1 << s->refcount_order;
    info->lazy_refcounts = s->header.compatible_features &
                           QCOW2_COMPAT_LAZY_REFCOUNTS;
    info->corrupt = s->incompatible_features & QCOW2_INCOMPAT_CORRUPT;
    info->extended_l2 = false;
    info->dirty = s->incompatible_features & QCOW2_INCOMPAT_DIRTY;
    info->compression_type = s->compression_type == QCOW2_COMPRESSION_ZSTD ?
                             "zstd" : "zlib";
    info->backing_file = s->backing_file;
    info->backing_fmt = s->backing_format;
    info->snapshots = s->snapshot_info;
    info->nb_snapshots = s->snapshot_info ? s->nb_snapshots : 0;
    return true;
}

typedef struct Qcow2StatusCo {
    BlockDriverState *bs;
    int64_t offset, bytes, pnum;
    int ret;
    bool done;
} Qcow2StatusCo;

static void coroutine_fn qcow2_status_entry(void *opaque)
{
    Qcow2StatusCo *sc = opaque;

    sc->ret = bdrv_co_block_status(sc->bs, sc->offset, sc->bytes, &sc->pnum,
                                   NULL, NULL);
    qatomic_store_release(&sc->done, true);
    aio_wait_kick();
}

int qcow2_layer_block_status(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, int64_t *pnum)
{
    Qcow2StatusCo sc = { .bs = bs, .offset = offset, .bytes = bytes };
    AioContext *ctx = bdrv_get_aio_context(bs);

    aio_co_enter(ctx, qemu_coroutine_create(qcow2_status_entry, &sc));
    AIO_WAIT_WHILE(ctx, !qatomic_load_acquire(&sc.done));
    *pnum = sc.pnum;
    return sc.ret;
}

BlockDriverState *qcow2_get_backing(BlockDriverState *bs)
{
    BDRVQcow2State *s;

    if (!bs || bs->drv != &bdrv_qcow2) {
        return NULL;
    }
    s = bs->opaque;
    return s->backing ? s->backing->bs : NULL;
}
