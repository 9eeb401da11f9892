/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The block driver interface, and the node and edge structures that
 * drivers and the generic block layer share.
 *
 * A driver is a static const BlockDriver table. The generic layer
 * (block/io.c) validates every request, handles alignment, serialising and
 * in-flight accounting, and only then calls the driver, so a driver sees
 * requests that are within bounds, aligned to bs->bl.request_alignment,
 * with a qiov exactly @bytes long and only the flags it declared in
 * bs->supported_write_flags / bs->supported_zero_flags.
 *
 * Driver I/O callbacks run in a coroutine, normally in the node's
 * AioContext; a driver that keeps per-context state (file-posix's
 * io_uring) must check qemu_get_current_aio_context() and cope with
 * another context. Control callbacks (open, close, attach/detach,
 * refresh_limits) run in the main thread.
 */
#ifndef BLOCK_BLOCK_INT_H
#define BLOCK_BLOCK_INT_H

#include "block/block.h"
#include "qemu/coroutine.h"
#include "qemu/queue.h"
#include "qemu/thread.h"

typedef struct BlockLimits {
    /* Requests must be aligned to this (a power of two, >= 1). */
    uint32_t request_alignment;
    /* Largest request the driver takes at once; 0 for no limit. */
    uint32_t max_transfer;
    /* Largest zero write at once; 0 for no limit. */
    uint32_t max_pwrite_zeroes;
    /* Discard granularity; 0 means request_alignment. */
    uint32_t pdiscard_alignment;
    /* Memory alignment O_DIRECT requires of buffers (1 if none). */
    size_t min_mem_alignment;
    /* Memory alignment that is best for the driver. */
    size_t opt_mem_alignment;
} BlockLimits;

struct BlockDriver {
    const char *format_name;
    int instance_size;
    /* A format: opened over a "file" child. Otherwise a protocol. */
    bool is_format;
    /*
     * A format whose images may have a backing file (qcow2): what block
     * status calls unallocated reads from the "backing" child, or as
     * zeroes when there is none.
     */
    bool supports_backing;
    /* Protocol: file names starting with this prefix pick the driver. */
    const char *protocol_name;
    /* NULL-terminated further prefixes that pick the driver, or NULL. */
    const char *const *protocol_aliases;

    /*
     * Opens @bs. @options holds the node's own options (children's under
     * their prefix); read what is yours with keyval_get*(), and the
     * generic layer rejects what nobody read. @flags are BDRV_O_*. A
     * format driver opens its child with bdrv_open_child(). On failure
     * everything the driver took must be released. Main thread.
     */
    int (*bdrv_open)(BlockDriverState *bs, const KeyVal *options, int flags,
                     Error **errp);
    /*
     * Protocols: turns a file name given to bdrv_open() into options
     * ("filename=..."), adding them to @options. Optional.
     */
    bool (*bdrv_parse_filename)(const char *filename, KeyVal *options,
                                Error **errp);
    /* Releases what open took (children are dropped afterwards). */
    void (*bdrv_close)(BlockDriverState *bs);
    /* Fills bs->bl (called after open and after a context change). */
    void (*bdrv_refresh_limits)(BlockDriverState *bs, Error **errp);

    int coroutine_fn (*bdrv_co_preadv)(BlockDriverState *bs, int64_t offset,
                                       int64_t bytes, QEMUIOVector *qiov,
                                       BdrvRequestFlags flags);
    int coroutine_fn (*bdrv_co_pwritev)(BlockDriverState *bs, int64_t offset,
                                        int64_t bytes, QEMUIOVector *qiov,
                                        BdrvRequestFlags flags);
    /* -ENOTSUP: no efficient way; the generic layer may write zeroes. */
    int coroutine_fn (*bdrv_co_pwrite_zeroes)(BlockDriverState *bs,
                                              int64_t offset, int64_t bytes,
                                              BdrvRequestFlags flags);
    int coroutine_fn (*bdrv_co_pdiscard)(BlockDriverState *bs,
                                         int64_t offset, int64_t bytes);
    /* Without it, flushes go to bs->file. */
    int coroutine_fn (*bdrv_co_flush)(BlockDriverState *bs);
    /*
     * Status of [@offset, @offset + @bytes): BDRV_BLOCK_* with *@pnum > 0.
     * With BDRV_BLOCK_OFFSET_VALID, *@map and *@file say where the data
     * is; BDRV_BLOCK_RAW asks the generic layer to look at *@file.
     * @want_zero false allows a cheaper, less precise answer. Without it
     * the whole range is DATA.
     */
    int coroutine_fn (*bdrv_co_block_status)(BlockDriverState *bs,
                                             bool want_zero, int64_t offset,
                                             int64_t bytes, int64_t *pnum,
                                             int64_t *map,
                                             BlockDriverState **file);
    /* The current length, asked after open and truncate. */
    int64_t coroutine_mixed_fn (*bdrv_getlength)(BlockDriverState *bs);
    int coroutine_fn (*bdrv_co_truncate)(BlockDriverState *bs,
                                         int64_t offset, bool exact,
                                         PreallocMode prealloc,
                                         BdrvRequestFlags flags,
                                         Error **errp);

    /*
     * AioContext moves, while drained, in the main thread: detach is
     * called while bs's context is still the old one, attach after it
     * became @new_ctx.
     */
    void (*bdrv_detach_aio_context)(BlockDriverState *bs);
    void (*bdrv_attach_aio_context)(BlockDriverState *bs,
                                    AioContext *new_ctx);
};

/* What a parent is told about its child node (see BdrvChild). */
typedef struct BdrvChildClass {
    /* The parent is a node (else a BlockBackend). */
    bool parent_is_bds;
    /* Drain of the child began/ended: stop/resume sending requests. */
    void (*drained_begin)(BdrvChild *child);
    void (*drained_end)(BdrvChild *child);
    /* True while the parent still has requests it must finish. */
    bool (*drained_poll)(BdrvChild *child);
    /* The child's length changed (truncate). */
    void (*resize)(BdrvChild *child);
    /* Context moves: around the switch, main thread, drained. */
    void (*detach_aio_context)(BdrvChild *child);
    void (*attach_aio_context)(BdrvChild *child, AioContext *new_ctx);
    /* Whether the parent can follow a move it did not start. */
    bool (*can_change_aio_context)(BdrvChild *child, Error **errp);
} BdrvChildClass;

/* An edge of the graph: @opaque (a node or a BlockBackend) uses @bs. */
struct BdrvChild {
    BlockDriverState *bs;
    char *name;
    const BdrvChildClass *klass;
    void *opaque;
    QLIST_ENTRY(BdrvChild) next;          /* in the parent's children */
    QLIST_ENTRY(BdrvChild) next_parent;   /* in bs->parents */
};

/* A request registered for overlap checks (block/io.c). */
typedef struct BdrvTrackedRequest {
    BlockDriverState *bs;
    int64_t offset;         /* range that may not overlap, aligned when */
    int64_t bytes;          /* serialising */
    bool serialising;       /* read-modify-write or truncate */
    bool is_write;
    CoQueue wait_queue;     /* waiters on this request; bs->reqs_lock */
    QLIST_ENTRY(BdrvTrackedRequest) list;
} BdrvTrackedRequest;

struct BlockDriverState {
    const BlockDriver *drv;
    void *opaque;               /* driver state, drv->instance_size bytes */

    /*
     * The context I/O runs in. Written only in the main thread while the
     * node is drained; read anywhere (atomic).
     */
    AioContext *aio_context;

    int open_flags;             /* BDRV_O_* */
    bool read_only;
    bool force_share;
    char *node_name;
    bool auto_named;
    char *filename;
    BlockLimits bl;
    /* Flags the driver's pwritev / pwrite_zeroes take natively. */
    unsigned int supported_write_flags;
    unsigned int supported_zero_flags;

    /* Length in bytes (atomic): set after open and truncate. */
    int64_t total_bytes;

    /* Main thread: references, the graph. */
    int refcnt;
    BdrvChild *file;                      /* primary child, or NULL */
    QLIST_HEAD(, BdrvChild) children;
    QLIST_HEAD(, BdrvChild) parents;
    QLIST_ENTRY(BlockDriverState) all_list;

    /* Requests between entry and completion (atomic). */
    unsigned int in_flight;
    /* Nesting depth of drained sections (atomic, main/home thread). */
    int quiesce_counter;

    /* reqs_lock protects tracked_requests and their wait queues. */
    QemuMutex reqs_lock;
    QLIST_HEAD(, BdrvTrackedRequest) tracked_requests;
    unsigned int serialising_in_flight;   /* atomic */
};

/**
 * bdrv_open_child:
 * @parent: the node being opened (by its driver's bdrv_open)
 * @options: the parent's options; the child comes from the "@name."
 *           group, or "@name=NODE" names an existing node
 * @name: child name, "file"
 * @flags: BDRV_O_* flags the child inherits
 * @errp: error object
 *
 * Opens or references the child and links it under @parent, setting
 * @parent->file for "file". Main thread.
 *
 * Returns: the edge, or NULL with @errp set.
 */
BdrvChild *bdrv_open_child(BlockDriverState *parent, const KeyVal *options,
                           const char *name, int flags, Error **errp);

/*
 * bdrv_root_attach_child:
 * Links @bs under a non-node parent (a BlockBackend) as @name, taking a
 * reference. Drains @bs around the change. Main thread.
 */
BdrvChild *bdrv_root_attach_child(BlockDriverState *bs, const char *name,
                                  const BdrvChildClass *klass, void *opaque);

/* Unlinks @child and drops its node's reference. Main thread. */
void bdrv_root_unref_child(BdrvChild *child);

/*
 * bdrv_change_aio_context_ignore:
 * bdrv_try_change_aio_context() that does not ask the parent edge
 * @ignore (the BlockBackend that asked for the move) for permission.
 */
int bdrv_change_aio_context_ignore(BlockDriverState *bs, AioContext *new_ctx,
                                   BdrvChild *ignore, Error **errp);

/* The built-in drivers (block/file-posix.c, raw-format.c, null.c). */
extern const BlockDriver bdrv_file;
extern const BlockDriver bdrv_raw;
extern const BlockDriver bdrv_null_co;
extern const BlockDriver bdrv_nbd;

/*
 * bdrv_register:
 * Adds a driver besides the built-in ones (e.g. from a later subsystem).
 * @drv must stay valid for the life of the process. Main thread.
 */
void bdrv_register(const BlockDriver *drv);

/* Re-reads the length from the driver (after open and truncate). */
int coroutine_mixed_fn bdrv_refresh_total_bytes(BlockDriverState *bs);

/*
 * Internal to block/ (block.c and io.c), main thread: quiesce @bs and its
 * parents without waiting, the matching end, the poll condition of a
 * drain, and the resize notification of @bs's parents.
 */
void bdrv_drained_begin_no_poll(BlockDriverState *bs);
void bdrv_drained_end_no_poll(BlockDriverState *bs);
bool bdrv_drain_poll(BlockDriverState *bs);
void bdrv_parents_resized(BlockDriverState *bs);

#endif /* BLOCK_BLOCK_INT_H */
