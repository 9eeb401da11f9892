/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What qemu-img needs of the qcow2 driver beyond the block layer: image
 * creation with qcow2's options and the format-specific fields of
 * "qemu-img info". Main thread, outside coroutines.
 */
#ifndef BLOCK_QCOW2_IMG_H
#define BLOCK_QCOW2_IMG_H

#include "block/block.h"

/* qemu-img create -f qcow2 -o ... */
typedef struct Qcow2CreateOptions {
    int64_t size;               /* -1: the backing file's size */
    uint32_t cluster_size;      /* 0: 64 KiB */
    int version;                /* 2 (compat=0.10) or 3 (compat=1.1) */
    int refcount_bits;          /* 0: 16 */
    const char *backing_file;   /* NULL: none */
    const char *backing_fmt;    /* NULL: probed */
    const char *preallocation;  /* NULL/"off", "metadata", "falloc", "full" */
    bool lazy_refcounts;
    bool extended_l2;
    bool unsafe;                /* -u: the backing file is not opened */
} Qcow2CreateOptions;

/**
 * qcow2_img_create:
 * @filename: the image file to create (replaced if it exists)
 * @opts: the options
 * @quiet: do not print "Formatting '...'"
 * @errp: error object
 *
 * Writes a new qcow2 image as qemu-img create does.
 *
 * Returns: true, or false with @errp set.
 */
bool qcow2_img_create(const char *filename, const Qcow2CreateOptions *opts,
                      bool quiet, Error **errp);

/* An internal snapshot, as "qemu-img info" lists it. */
typedef struct Qcow2SnapshotInfo {
    char *id;
    char *name;
    uint32_t date_sec;
    uint32_t date_nsec;
    uint64_t vm_clock_nsec;
    uint64_t vm_state_size;
    uint64_t icount;            /* UINT64_MAX: not recorded */
} Qcow2SnapshotInfo;

/* Format-specific information of an open qcow2 node. */
typedef struct Qcow2ImageInfo {
    int version;                /* 2 or 3 */
    uint32_t cluster_size;
    int refcount_bits;
    bool lazy_refcounts;
    bool corrupt;
    bool extended_l2;
    bool dirty;
    const char *compression_type;   /* "zlib" or "zstd" */
    const char *backing_file;       /* NULL if none */
    const char *backing_fmt;        /* NULL if not recorded */
    const Qcow2SnapshotInfo *snapshots;     /* owned by the node */
    uint32_t nb_snapshots;
} Qcow2ImageInfo;

/* Fills @info if @bs is a qcow2 node; false otherwise. Any thread. */
bool qcow2_get_image_info(BlockDriverState *bs, Qcow2ImageInfo *info);

/*
 * qcow2_probe_file:
 * Whether local file @filename (a "file:" prefix allowed) starts with the
 * qcow2 magic: how a format left unnamed is guessed. Any thread.
 */
bool qcow2_probe_file(const char *filename);

/*
 * qcow2_layer_block_status:
 * The block status of @bs alone (its backing file not looked at), for
 * telling which layer of a chain has a range. Main thread, outside
 * coroutines. *@pnum: the length of the run from @offset.
 * Returns: BDRV_BLOCK_* flags or a negative errno.
 */
int qcow2_layer_block_status(BlockDriverState *bs, int64_t offset,
                             int64_t bytes, int64_t *pnum);

/* The backing node of @bs (qcow2), or NULL. */
BlockDriverState *qcow2_get_backing(BlockDriverState *bs);

#endif /* BLOCK_QCOW2_IMG_H */
