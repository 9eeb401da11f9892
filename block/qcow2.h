/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The qcow2 format driver: on-disk layout, driver state and the functions
 * its files share.
 *
 * Files:
 * - qcow2.c: open (header, extensions, validation), close, the I/O
 *   callbacks, block status, the driver table;
 * - qcow2-cluster.c: guest-to-host mapping through L1/L2 tables, the L2
 *   cache, allocation of data clusters and L2 tables, zero and discard;
 * - qcow2-refcount.c: refcount table and blocks, cluster allocation and
 *   freeing, the metadata overlap checks;
 * - qcow2-create.c: qemu-img create -f qcow2, and the information that
 *   qemu-img info prints.
 *
 * Concurrency: every request runs in a coroutine, possibly in several
 * iothreads at once. BDRVQcow2State.lock (a CoMutex) protects all
 * metadata, in memory and on disk: the L1 table, both caches, the
 * refcount table, free_cluster_index, the in-flight allocation list.
 * Guest data is read and written outside it. A write that needs new
 * clusters allocates them under the lock, records the guest range in
 * s->inflight_allocs, drops the lock for the data I/O and takes it again
 * to link the clusters into the L2 table; any other request that would
 * change the mapping of that guest range waits for it first, so two
 * writers of one new cluster never both allocate it.
 *
 * Metadata is written through: every change to an L1, L2 or refcount
 * entry is written to the file before the lock is dropped, a refcount
 * increment before the L2 entry that uses the cluster.
 */
#ifndef BLOCK_QCOW2_H
#define BLOCK_QCOW2_H

#include "block/block_int.h"
#include "block/qcow2-img.h"
#include "qemu/coroutine.h"
#include "qemu/queue.h"

#define QCOW_MAGIC              0x514649fbU     /* "QFI\xfb" */
#define QCOW2_HEADER_V2_SIZE    72
#define QCOW2_HEADER_V3_SIZE    104

#define QCOW2_MIN_CLUSTER_BITS  9
#define QCOW2_MAX_CLUSTER_BITS  21
#define QCOW2_DEFAULT_CLUSTER_SIZE  65536

/* Limits QEMU also applies: tables it would refuse to load. */
#define QCOW2_MAX_L1_BYTES          (32 * 1024 * 1024)
#define QCOW2_MAX_REFTABLE_BYTES    (8 * 1024 * 1024)
#define QCOW2_MAX_SNAPSHOTS         65536
#define QCOW2_MAX_BACKING_NAME      1023
#define QCOW2_MAX_BACKING_DEPTH     64

/* L1/L2/refcount table entries. */
#define QCOW_OFLAG_COPIED       (1ULL << 63)
#define QCOW_OFLAG_COMPRESSED   (1ULL << 62)
#define QCOW_OFLAG_ZERO         (1ULL << 0)
#define L1E_OFFSET_MASK         0x00fffffffffffe00ULL
#define L1E_RESERVED_MASK       0x7f000000000001ffULL
#define L2E_OFFSET_MASK         0x00fffffffffffe00ULL
#define L2E_STD_RESERVED_MASK   0x3f000000000001feULL
#define REFT_OFFSET_MASK        0xfffffffffffffe00ULL
#define REFT_RESERVED_MASK      0x1ffULL

/* Feature bits. */
#define QCOW2_INCOMPAT_DIRTY        (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT      (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE    (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION  (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2        (1ULL << 4)
#define QCOW2_INCOMPAT_KNOWN        (QCOW2_INCOMPAT_DIRTY | \
                                     QCOW2_INCOMPAT_CORRUPT | \
                                     QCOW2_INCOMPAT_COMPRESSION)
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ULL << 0)
#define QCOW2_AUTOCLEAR_BITMAPS     (1ULL << 0)
#define QCOW2_AUTOCLEAR_DATA_RAW    (1ULL << 1)

/* Header extensions. */
#define QCOW2_EXT_END               0x00000000U
#define QCOW2_EXT_BACKING_FORMAT    0xe2792acaU
#define QCOW2_EXT_FEATURE_TABLE     0x6803f857U
#define QCOW2_EXT_CRYPTO            0x0537be77U
#define QCOW2_EXT_BITMAPS           0x23852875U
#define QCOW2_EXT_DATA_FILE         0x44415441U

#define QCOW2_COMPRESSION_ZLIB      0
#define QCOW2_COMPRESSION_ZSTD      1

/* The header, decoded to host byte order. */
typedef struct QCowHeader {
    uint32_t magic;
    uint32_t version;
    uint64_t backing_file_offset;
    uint32_t backing_file_size;
    uint32_t cluster_bits;
    uint64_t size;
    uint32_t crypt_method;
    uint32_t l1_size;
    uint64_t l1_table_offset;
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    /* Version 3 (version 2 images read as the defaults). */
    uint64_t incompatible_features;
    uint64_t compatible_features;
    uint64_t autoclear_features;
    uint32_t refcount_order;
    uint32_t header_length;
    uint8_t compression_type;
} QCowHeader;

/* What a guest cluster maps to, from its L2 entry. */
typedef enum Qcow2ClusterType {
    QCOW2_CLUSTER_UNALLOCATED,
    QCOW2_CLUSTER_ZERO_PLAIN,       /* zero flag, no host cluster */
    QCOW2_CLUSTER_ZERO_ALLOC,       /* zero flag, host cluster kept */
    QCOW2_CLUSTER_NORMAL,
    QCOW2_CLUSTER_COMPRESSED,
} Qcow2ClusterType;

/* Metadata kinds, for the overlap checks (a mask says which to skip). */
typedef enum Qcow2MetadataOverlap {
    QCOW2_OL_MAIN_HEADER    = 1 << 0,
    QCOW2_OL_ACTIVE_L1      = 1 << 1,
    QCOW2_OL_ACTIVE_L2      = 1 << 2,
    QCOW2_OL_REFCOUNT_TABLE = 1 << 3,
    QCOW2_OL_REFCOUNT_BLOCK = 1 << 4,
    QCOW2_OL_SNAPSHOT_TABLE = 1 << 5,
    QCOW2_OL_INACTIVE_L1    = 1 << 6,
} Qcow2MetadataOverlap;

/* A snapshot's L1 table, for the overlap checks. */
typedef struct Qcow2SnapshotL1 {
    uint64_t l1_table_offset;
    uint32_t l1_size;
} Qcow2SnapshotL1;

/*
 * A cache of tables one cluster long (L2 tables or refcount blocks),
 * kept in on-disk byte order, least recently used evicted. Entries are
 * always clean (metadata is written through). s->lock.
 */
typedef struct Qcow2Cache {
    int size;                   /* number of entries */
    size_t table_size;          /* bytes per table: one cluster */
    uint64_t *offsets;          /* host offset of each entry, 0: free */
    uint64_t *lru;              /* last use, for eviction */
    uint64_t lru_counter;
    uint8_t *tables;
} Qcow2Cache;

/* A write that is allocating clusters for a guest range. s->lock. */
typedef struct Qcow2InflightAlloc {
    uint64_t offset;            /* guest range, cluster aligned */
    uint64_t bytes;
    CoQueue waiters;            /* requests waiting for it to finish */
    QLIST_ENTRY(Qcow2InflightAlloc) next;
} Qcow2InflightAlloc;

typedef struct BDRVQcow2State {
    /* Constant after open. */
    QCowHeader header;
    int version;
    int cluster_bits;
    uint32_t cluster_size;
    int l2_bits;                /* log2 of entries per L2 table */
    uint32_t l2_size;           /* entries per L2 table */
    int refcount_order;
    int refcount_block_bits;    /* log2 of entries per refcount block */
    uint64_t refcount_max;
    int csize_shift;            /* compressed descriptor layout */
    uint64_t csize_mask;
    uint64_t cluster_offset_mask;
    uint8_t compression_type;
    uint64_t size;              /* virtual size */
    char *backing_file;         /* as in the header, or NULL */
    char *backing_format;       /* backing format extension, or NULL */
    BdrvChild *backing;
    Qcow2SnapshotL1 *snapshots;
    Qcow2SnapshotInfo *snapshot_info;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint64_t snapshots_size;    /* bytes of the snapshot table */
    bool writable;

    CoMutex lock;               /* protects everything below */
    uint64_t *l1_table;         /* host order */
    uint32_t l1_size;
    uint64_t l1_table_offset;
    uint64_t *refcount_table;   /* host order */
    uint64_t refcount_table_size;   /* entries */
    uint64_t refcount_table_offset;
    uint32_t refcount_table_clusters;   /* of the table on disk */
    bool refcount_table_growing;    /* entries past the disk table */
    uint64_t file_size;         /* length of the file child */
    uint64_t free_cluster_index;
    Qcow2Cache l2_cache;
    Qcow2Cache refcount_cache;
    QLIST_HEAD(, Qcow2InflightAlloc) inflight_allocs;
    uint64_t incompatible_features;
    bool corrupt;               /* corruption found: no more writes */
} BDRVQcow2State;

extern const BlockDriver bdrv_qcow2;

/* Big-endian accessors. */
static inline uint64_t qcow2_ld64(const void *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return GUINT64_FROM_BE(v);
}

static inline uint32_t qcow2_ld32(const void *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return GUINT32_FROM_BE(v);
}

static inline uint16_t qcow2_ld16(const void *p)
{
    uint16_t v;

    memcpy(&v, p, 2);
    return GUINT16_FROM_BE(v);
}

static inline void qcow2_st64(void *p, uint64_t v)
{
    v = GUINT64_TO_BE(v);
    memcpy(p, &v, 8);
}

static inline void qcow2_st32(void *p, uint32_t v)
{
    v = GUINT32_TO_BE(v);
    memcpy(p, &v, 4);
}

static inline void qcow2_st16(void *p, uint16_t v)
{
    v = GUINT16_TO_BE(v);
    memcpy(p, &v, 2);
}

static inline uint64_t qcow2_offset_into_cluster(BDRVQcow2State *s,
                                                 uint64_t offset)
{
    return offset & (s->cluster_size - 1);
}

static inline uint64_t qcow2_start_of_cluster(BDRVQcow2State *s,
                                              uint64_t offset)
{
    return offset & ~((uint64_t)s->cluster_size - 1);
}

static inline bool qcow2_ranges_overlap(uint64_t a, uint64_t alen,
                                        uint64_t b, uint64_t blen)
{
    return alen && blen && a < b + blen && b < a + alen;
}

/* Pure helpers (qcow2.c), covered by tests/unit/test-block-qcow2.c. */

/*
 * qcow2_parse_header:
 * Decodes and validates the header in @buf (@len bytes from offset 0 of
 * a file of @file_size bytes). Hostile input is refused with a message
 * naming the field.
 * Returns: true, or false with @errp set.
 */
bool qcow2_parse_header(const uint8_t *buf, size_t len, uint64_t file_size,
                        QCowHeader *h, Error **errp);

/* Encodes @h (its version's fields) into @buf, header_length bytes. */
void qcow2_encode_header(const QCowHeader *h, uint8_t *buf);

/*
 * Names the incompatible features in @bits, using the feature name
 * table in @table (@table_len bytes, may be NULL) where it has them.
 */
char *qcow2_describe_features(uint64_t bits, const uint8_t *table,
                              size_t table_len);

/* The type of a cluster from its L2 entry (reserved bits not checked). */
Qcow2ClusterType qcow2_get_cluster_type(uint64_t l2_entry);

/*
 * Host offset and byte count of a compressed cluster's data, from its
 * descriptor, for @cluster_bits.
 */
void qcow2_compressed_extent(uint64_t l2_entry, int cluster_bits,
                             uint64_t *host_offset, uint64_t *bytes);

/* Refcount entry @index of a refcount block of order @order. */
uint64_t qcow2_refcount_get(const uint8_t *block, uint64_t index, int order);
void qcow2_refcount_set(uint8_t *block, uint64_t index, int order,
                        uint64_t value);

/* L1 entries needed for @size bytes with @cluster_bits. */
uint64_t qcow2_l1_entries_for(uint64_t size, int cluster_bits);

/* Decompresses @src into @dst (one cluster) with @type. 0 or -EIO. */
int qcow2_decompress(uint8_t type, void *dst, size_t dst_len,
                     const void *src, size_t src_len);

/* qcow2.c: reports corruption, marks the image, refuses later writes. */
void coroutine_fn qcow2_signal_corruption(BlockDriverState *bs,
                                          const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/*
 * Whether two of the @n entries (masked with @mask, zeroes ignored) are
 * the same; *@dup is that value. Pure, for the open-time checks.
 */
int qcow2_find_duplicate(const uint64_t *entries, uint64_t n, uint64_t mask,
                         uint64_t *dup);

/* qcow2-refcount.c (all with s->lock held) */

int qcow2_cache_init(Qcow2Cache *c, int size, size_t table_size);
void qcow2_cache_destroy(Qcow2Cache *c);
/* Forgets the entry for @offset, if cached. */
void qcow2_cache_forget(Qcow2Cache *c, uint64_t offset);
/*
 * Points *@table at the cached table at @offset, reading it if needed
 * (or zero-filling it without reading when @fresh). Valid until the
 * next call on @c.
 */
int coroutine_fn qcow2_cache_get(BlockDriverState *bs, Qcow2Cache *c,
                                 uint64_t offset, bool fresh,
                                 uint8_t **table);

int coroutine_fn qcow2_refcount_load(BlockDriverState *bs, Error **errp);
int coroutine_fn qcow2_get_refcount(BlockDriverState *bs,
                                    uint64_t cluster_index,
                                    uint64_t *refcount);
/* Allocates @n contiguous clusters; returns the host offset or -errno. */
int64_t coroutine_fn qcow2_alloc_clusters(BlockDriverState *bs, uint64_t n);
/* Adds @delta to the refcounts of the clusters of [@offset, +@bytes). */
int coroutine_fn qcow2_update_refcount(BlockDriverState *bs,
                                       uint64_t offset, uint64_t bytes,
                                       int delta);
/*
 * The metadata kinds (not in @ignore) that [@offset, +@size) overlaps,
 * 0 if none; with @what, names the first.
 */
int coroutine_fn qcow2_check_overlap(BlockDriverState *bs, int ignore,
                                     uint64_t offset, uint64_t size,
                                     const char **what);
/*
 * Writes bytes [@lo, @hi) of the cached table @table (one cluster at
 * @table_offset), widened to whole blocks of the file, as
 * qcow2_write_metadata().
 */
int coroutine_fn qcow2_write_table_range(BlockDriverState *bs, int ignore,
                                         uint64_t table_offset,
                                         const uint8_t *table, uint64_t lo,
                                         uint64_t hi);
/* Makes the file at least @end bytes long (it only grows). */
int coroutine_fn qcow2_grow_file(BlockDriverState *bs, uint64_t end);
/*
 * Checks, then writes metadata @buf to the file at @offset. A write that
 * would overlap other metadata is refused as corruption.
 */
int coroutine_fn qcow2_write_metadata(BlockDriverState *bs, int ignore,
                                      uint64_t offset, const void *buf,
                                      uint64_t bytes);

/* qcow2-cluster.c (s->lock held unless said otherwise) */

/*
 * qcow2_get_host_offset:
 * Maps guest @offset: *@bytes is cut to the run of clusters from
 * @offset of the same type, host-contiguous for normal clusters, inside
 * one L2 table. *@host_offset: the host offset of @offset (normal and
 * zero-alloc), or the raw L2 entry for compressed clusters.
 */
int coroutine_fn qcow2_get_host_offset(BlockDriverState *bs, uint64_t offset,
                                       uint64_t *bytes,
                                       uint64_t *host_offset,
                                       Qcow2ClusterType *type);
/*
 * The L2 table for guest @offset: allocated (or copied when shared) if
 * @allocate; *@l2_offset is 0 when there is none and !@allocate.
 */
int coroutine_fn qcow2_get_l2_table(BlockDriverState *bs, uint64_t offset,
                                    bool allocate, uint64_t *l2_offset,
                                    uint8_t **l2_table);
/* Reads guest [@offset, +@bytes) into @qiov. Takes s->lock itself. */
int coroutine_fn qcow2_co_read(BlockDriverState *bs, uint64_t offset,
                               uint64_t bytes, QEMUIOVector *qiov,
                               size_t qiov_offset);
/* Writes guest data. Takes s->lock itself. */
int coroutine_fn qcow2_co_write(BlockDriverState *bs, uint64_t offset,
                                uint64_t bytes, QEMUIOVector *qiov,
                                size_t qiov_offset);
/*
 * Makes whole clusters of [@offset, +@bytes) zero (@zero) or discards
 * them. Returns -ENOTSUP when zero clusters cannot express it. Takes
 * s->lock itself.
 */
int coroutine_fn qcow2_co_zero_or_discard(BlockDriverState *bs,
                                          uint64_t offset, uint64_t bytes,
                                          bool zero, bool may_unmap);
/* Allocates every cluster (preallocation=metadata). Takes s->lock. */
int coroutine_fn qcow2_co_preallocate(BlockDriverState *bs);

#endif /* BLOCK_QCOW2_H */
