/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The block layer: a graph of BlockDriverState nodes (formats over
 * protocols) with coroutine I/O, drain and AioContext moves.
 *
 * Who may call what (details in block/io.c's Theory of operation):
 * - "main thread": the control path (open, close, graph changes, drain,
 *   AioContext moves) runs in the main loop thread, outside coroutines
 *   unless said otherwise;
 * - "I/O": coroutine_fn I/O functions run in a coroutine of the node's
 *   AioContext (any thread that runs it). They return a negative errno on
 *   failure and take no Error **.
 */
#ifndef BLOCK_BLOCK_H
#define BLOCK_BLOCK_H

#include "block/aio.h"
#include "qemu/iov.h"
#include "qemu/keyval.h"

typedef struct BdrvChild BdrvChild;
typedef struct BlockDriver BlockDriver;

/* Request flags, for the I/O functions. */
typedef enum {
    /* The data is on stable storage when the write completes. */
    BDRV_REQ_FUA            = 0x1,
    /* Zero writes may deallocate (punch holes) when that reads as zero. */
    BDRV_REQ_MAY_UNMAP      = 0x2,
    /* Zero writes fail with -ENOTSUP instead of writing zero buffers. */
    BDRV_REQ_NO_FALLBACK    = 0x4,
    /* A read whose data nobody wants (NBD CACHE): may be a no-op. */
    BDRV_REQ_PREFETCH       = 0x8,
    /* Internal: the write is a pwrite_zeroes (no data buffer). */
    BDRV_REQ_ZERO_WRITE     = 0x10,
    BDRV_REQ_MASK           = 0x1f,
} BdrvRequestFlags;

/* Block status (bdrv_co_block_status() and friends). */
#define BDRV_BLOCK_DATA         0x01    /* holds data (reads may be costly) */
#define BDRV_BLOCK_ZERO         0x02    /* reads return zeroes */
#define BDRV_BLOCK_OFFSET_VALID 0x04    /* *map is valid in *file */
#define BDRV_BLOCK_RAW          0x08    /* driver: ask *file at *map */
#define BDRV_BLOCK_ALLOCATED    0x10    /* the layer itself has the content */
#define BDRV_BLOCK_EOF          0x20    /* the range ends at end of node */

/* Open flags. */
#define BDRV_O_RDWR         0x0002  /* open for writing */
#define BDRV_O_NOCACHE      0x0020  /* cache.direct: O_DIRECT */
#define BDRV_O_NO_FLUSH     0x0200  /* cache.no-flush: flushes do nothing */
#define BDRV_O_IO_URING     0x2000  /* aio=io_uring (default: threads) */
#define BDRV_O_UNMAP        0x4000  /* discard=unmap: honour discards */
/* force-share=on: a read-only user that lets writers in (qemu-nbd -U) */
#define BDRV_O_FORCE_SHARE  0x8000
#define BDRV_O_CACHE_MASK   (BDRV_O_NOCACHE | BDRV_O_NO_FLUSH)

/* Preallocation modes of bdrv_co_truncate(). */
typedef enum PreallocMode {
    PREALLOC_MODE_OFF,
    PREALLOC_MODE_FALLOC,
} PreallocMode;

/*
 * Largest byte offset or length a request may have: all sizes fit in
 * int64_t and stay aligned to any power-of-two alignment up to 1 GiB.
 */
#define BDRV_MAX_LENGTH     (INT64_MAX & ~((int64_t)(1 << 30) - 1))

/* Names of options every node accepts (besides "driver"). */
#define BDRV_OPT_NODE_NAME      "node-name"
#define BDRV_OPT_READ_ONLY      "read-only"
#define BDRV_OPT_CACHE_DIRECT   "cache.direct"
#define BDRV_OPT_CACHE_NO_FLUSH "cache.no-flush"
#define BDRV_OPT_DISCARD        "discard"
#define BDRV_OPT_FORCE_SHARE    "force-share"

/* Option parsing helpers (any thread). */

/**
 * bdrv_parse_cache_mode:
 * @mode: "none", "directsync", "writeback", "unsafe" or "writethrough"
 * @flags: (inout): BDRV_O_NOCACHE and BDRV_O_NO_FLUSH are set or cleared
 * @writethrough: (out): whether the write cache must be disabled (every
 *                write made FUA, see blk_set_enable_write_cache())
 *
 * Returns: 0, or -1 if @mode is unknown (then nothing is changed).
 */
int bdrv_parse_cache_mode(const char *mode, int *flags, bool *writethrough);

/**
 * bdrv_parse_discard_flags:
 * @mode: "ignore"/"off" or "unmap"/"on"
 * @flags: (inout): BDRV_O_UNMAP is set or cleared
 *
 * Returns: 0, or -1 if @mode is unknown.
 */
int bdrv_parse_discard_flags(const char *mode, int *flags);

/* Opening and the graph (main thread). */

/**
 * bdrv_open:
 * @filename: a file name, or "null-co://" (protocol chosen by prefix)
 * @format: (nullable): a format driver name ("raw" when NULL), or a
 *          protocol driver name ("file", "null-co") to open just that
 * @options: (nullable): extra options for the top node, as in
 *           bdrv_open_blockdev() (the child's under "file."); read only
 * @flags: BDRV_O_* flags, inherited by the child node
 * @errp: error object
 *
 * Opens a node, with its protocol child for a format. Unused options are
 * an error ("Invalid parameter 'x'"). Main thread, outside coroutines.
 *
 * Returns: (transfer full): a node with one reference, or NULL with @errp
 * set.
 */
BlockDriverState *bdrv_open(const char *filename, const char *format,
                            const KeyVal *options, int flags, Error **errp);

/**
 * bdrv_open_blockdev:
 * @opts: --blockdev / --image-opts parameters, e.g. "driver=raw,
 *        node-name=n0,file.driver=file,file.filename=/x,file.aio=io_uring,
 *        cache.direct=on"; "file=NODE" names an existing node as child
 * @errp: error object
 *
 * Common options: driver (required), node-name, read-only, cache.direct,
 * cache.no-flush (inherited by children), discard=ignore|unmap,
 * force-share. Anything not used by the node or its drivers is an error.
 * Main thread, outside coroutines.
 *
 * Returns: (transfer full): a node with one reference, or NULL with @errp
 * set.
 */
BlockDriverState *bdrv_open_blockdev(const KeyVal *opts, Error **errp);

/* What bdrv_options_from_flags() fills in. */
enum {
    BDRV_FILL_READ_ONLY   = 1 << 0,     /* read-only=on */
    BDRV_FILL_CACHE       = 1 << 1,     /* cache.direct, cache.no-flush */
    BDRV_FILL_DISCARD     = 1 << 2,     /* discard=unmap|ignore */
    BDRV_FILL_FORCE_SHARE = 1 << 3,     /* force-share=on */
};

/**
 * bdrv_options_from_flags:
 * @opts: --image-opts parameters, for bdrv_open_blockdev()
 * @flags: BDRV_O_* flags, from a tool's -t, -d, -U ... options
 * @fill: which options to fill in (BDRV_FILL_*)
 *
 * Gives @opts, for each option @fill names that @opts does not set
 * itself, the value @flags stand for: what a tool's command line options
 * mean for an image given with --image-opts, where the image's own
 * options win.
 */
void bdrv_options_from_flags(KeyVal *opts, int flags, unsigned int fill);

/* Takes a reference to @bs. Main thread. */
void bdrv_ref(BlockDriverState *bs);

/*
 * Drops a reference; the last one closes the node (draining it first) and
 * drops its children. NULL is allowed. Main thread, outside coroutines.
 */
void bdrv_unref(BlockDriverState *bs);

/* The node named @node_name, or NULL (no reference taken). Main thread. */
BlockDriverState *bdrv_find_node(const char *node_name);

/* Its node name (generated as "#blockN" if none was given). Any thread. */
const char *bdrv_get_node_name(const BlockDriverState *bs);

/* The driver's name ("raw", "file", "null-co"). Any thread. */
const char *bdrv_get_format_name(const BlockDriverState *bs);

/* The file name the node was opened on ("" if none). Any thread. */
const char *bdrv_get_filename(const BlockDriverState *bs);

/* BDRV_O_* flags the node was opened with. Any thread. */
int bdrv_get_flags(const BlockDriverState *bs);

/* True if the node cannot be written. Any thread. */
bool bdrv_is_read_only(const BlockDriverState *bs);

/* The node's primary child (the protocol under a format), or NULL. */
BlockDriverState *bdrv_get_file(const BlockDriverState *bs);

/**
 * bdrv_find_driver:
 * Returns: the registered driver called @format_name, or NULL.
 */
const BlockDriver *bdrv_find_driver(const char *format_name);

/* The AioContext the node's I/O runs in. Any thread. */
AioContext *bdrv_get_aio_context(BlockDriverState *bs);

/**
 * bdrv_try_change_aio_context:
 * @bs: a node
 * @new_ctx: the context to move to
 * @errp: error object
 *
 * Moves @bs and every node connected to it (children and parents), with
 * their BlockBackends, to @new_ctx: drains them, calls the BlockBackends'
 * detach notifiers and the drivers' detach callbacks in the old context's
 * name, switches, calls the attach callbacks and notifiers, and ends the
 * drain. Fails if a BlockBackend does not allow the change. Main thread,
 * outside coroutines.
 *
 * Returns: 0, or a negative errno with @errp set.
 */
int bdrv_try_change_aio_context(BlockDriverState *bs, AioContext *new_ctx,
                                Error **errp);

/* Sizes (any thread; the length is cached and updated by truncate). */

/* The node's length in bytes, or a negative errno. */
int64_t bdrv_getlength(BlockDriverState *bs);
int64_t coroutine_fn bdrv_co_getlength(BlockDriverState *bs);

/* Request alignment in bytes (1 unless the driver needs more). */
uint32_t bdrv_get_request_alignment(BlockDriverState *bs);

/* Memory alignment for buffers of O_DIRECT-friendly I/O. */
size_t bdrv_opt_mem_align(BlockDriverState *bs);

/*
 * Buffers aligned for @bs's I/O. qemu_blockalign() aborts when out of
 * memory, qemu_try_blockalign() returns NULL. Free with qemu_vfree().
 */
void *qemu_blockalign(BlockDriverState *bs, size_t size);
void *qemu_blockalign0(BlockDriverState *bs, size_t size);
void *qemu_try_blockalign(BlockDriverState *bs, size_t size);
void qemu_vfree(void *ptr);

/* Coroutine I/O: in a coroutine of the node's AioContext. */

/**
 * bdrv_co_preadv:
 * @child: edge to the node to read (a BlockBackend's or a parent's)
 * @offset: byte offset, >= 0
 * @bytes: byte count, >= 0; @offset + @bytes must not pass the end
 * @qiov: destination, at least @bytes long (may be NULL with PREFETCH)
 * @flags: BDRV_REQ_PREFETCH or 0
 *
 * Reads, handling the node's request alignment.
 *
 * Returns: 0, -EINVAL (negative or too large offset/length), -EIO (past
 * the end), -ENOMEDIUM (no driver), or the driver's negative errno.
 */
int coroutine_fn bdrv_co_preadv(BdrvChild *child, int64_t offset,
                                int64_t bytes, QEMUIOVector *qiov,
                                BdrvRequestFlags flags);

/**
 * bdrv_co_pwritev:
 * As bdrv_co_preadv() for writes; @flags may hold BDRV_REQ_FUA. Unaligned
 * writes are done as serialised read-modify-write.
 *
 * Returns: 0 or a negative errno; -EPERM on a read-only node.
 */
int coroutine_fn bdrv_co_pwritev(BdrvChild *child, int64_t offset,
                                 int64_t bytes, QEMUIOVector *qiov,
                                 BdrvRequestFlags flags);

/**
 * bdrv_co_pwrite_zeroes:
 * Makes the range read as zeroes. @flags: BDRV_REQ_MAY_UNMAP (honoured
 * with discard=unmap), BDRV_REQ_NO_FALLBACK (fail with -ENOTSUP rather
 * than write zero buffers), BDRV_REQ_FUA.
 *
 * Returns: 0 or a negative errno.
 */
int coroutine_fn bdrv_co_pwrite_zeroes(BdrvChild *child, int64_t offset,
                                       int64_t bytes,
                                       BdrvRequestFlags flags);

/**
 * bdrv_co_pdiscard:
 * Deallocates what it can of the range (only with discard=unmap; else a
 * successful no-op). Unaligned edges are left alone. Afterwards the range
 * reads as zeroes or as before, not necessarily either.
 *
 * Returns: 0 or a negative errno.
 */
int coroutine_fn bdrv_co_pdiscard(BdrvChild *child, int64_t offset,
                                  int64_t bytes);

/* Makes completed writes stable (no-op with cache.no-flush). */
int coroutine_fn bdrv_co_flush(BlockDriverState *bs);

/**
 * bdrv_co_block_status:
 * @bs: node
 * @offset: start, within the node
 * @bytes: how far to look
 * @pnum: (out): length of the run with the same status, > 0 unless
 *        @offset is at the end
 * @map: (out) (optional): offset of the data in *@file
 * @file: (out) (optional): node that holds the data
 *
 * Tells whether the range from @offset holds data or zeroes. Formats that
 * pass through (raw) are looked through down to their file.
 *
 * Returns: BDRV_BLOCK_* flags or a negative errno.
 */
int coroutine_fn bdrv_co_block_status(BlockDriverState *bs, int64_t offset,
                                      int64_t bytes, int64_t *pnum,
                                      int64_t *map, BlockDriverState **file);

/*
 * bdrv_co_block_status_above:
 * The status as seen through @bs down to (not including) @base (NULL:
 * the whole chain). Without backing files this is bdrv_co_block_status().
 */
int coroutine_fn bdrv_co_block_status_above(BlockDriverState *bs,
                                            BlockDriverState *base,
                                            int64_t offset, int64_t bytes,
                                            int64_t *pnum, int64_t *map,
                                            BlockDriverState **file);

/**
 * bdrv_co_truncate:
 * Resizes the node behind @child to @offset bytes. @exact: the size must
 * be exactly @offset (always true of our drivers). @prealloc:
 * PREALLOC_MODE_OFF or (file only) PREALLOC_MODE_FALLOC.
 *
 * Returns: 0, or a negative errno with @errp set.
 */
int coroutine_fn bdrv_co_truncate(BdrvChild *child, int64_t offset,
                                  bool exact, PreallocMode prealloc,
                                  BdrvRequestFlags flags, Error **errp);

/* Drain. */

/**
 * bdrv_drained_begin:
 * @bs: node
 *
 * Quiesces @bs: its parents (BlockBackends and the nodes above) stop
 * sending new requests (BlockBackend requests wait in a queue, users are
 * told through BlockDevOps.drained_begin) and every request in flight on
 * @bs and its parents completes before this returns. Nestable; each call
 * needs a bdrv_drained_end().
 *
 * May be called from the main thread for a node in any AioContext, or
 * from the node's own AioContext thread. Called in a coroutine, the work
 * is done from a bottom half of the coroutine's context (the coroutine
 * must run in the main context or the node's, and must not itself hold a
 * request in flight on @bs).
 */
void coroutine_mixed_fn bdrv_drained_begin(BlockDriverState *bs);

/* Ends one bdrv_drained_begin(); same contexts. */
void coroutine_mixed_fn bdrv_drained_end(BlockDriverState *bs);

/* True while @bs is drained. Any thread. */
bool bdrv_is_drained(BlockDriverState *bs);

/* Drains every node (main thread, outside coroutines). */
void bdrv_drain_all_begin(void);
void bdrv_drain_all_end(void);

/*
 * In-flight counter of a node. Increment it around work that drain must
 * wait for; the decrement wakes a waiting drain. Any thread.
 */
void bdrv_inc_in_flight(BlockDriverState *bs);
void bdrv_dec_in_flight(BlockDriverState *bs);

/* Image creation (block/create.c). */

/**
 * bdrv_img_create:
 * @filename: path of the image file to create (replaced if it exists)
 * @fmt: (nullable): image format, "raw" when NULL (the only one we create)
 * @size: virtual size in bytes
 * @prealloc: (nullable): "off" (default), "falloc" or "full"
 * @quiet: do not print "Formatting '...'"
 * @errp: error object
 *
 * Creates a raw image as qemu-img create does: the first block is
 * written (so that its alignment can be probed), the rest is a hole
 * unless preallocated. Main thread.
 *
 * Returns: true, or false with @errp set.
 */
bool bdrv_img_create(const char *filename, const char *fmt, int64_t size,
                     const char *prealloc, bool quiet, Error **errp);

#endif /* BLOCK_BLOCK_H */
