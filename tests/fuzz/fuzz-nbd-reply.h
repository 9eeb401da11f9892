/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What fuzz-nbd-reply (the reply reader on a byte buffer) and
 * fuzz-nbd-driver (the whole nbd driver against a socket) share: the
 * layout of their inputs, which is one, so that the seeds of
 * corpus/nbd-reply serve both.
 *
 * Input layout:
 *   byte 0   knobs: bits 0-1 the mode the server agrees to (0 simple
 *            replies, 1 structured replies, 2 and 3 extended headers),
 *            FUZZ_BLOCK_SIZE, FUZZ_NO_META, bits 4-5 the batch
 *            (FUZZ_BATCH_*), FUZZ_TRICKLE; bit 7 is unused
 *   rest     the server's byte stream after the handshake
 *
 * The cookies a server must answer are predictable: the driver gives
 * request k of a batch (counting those that reach the wire, in the order
 * of fuzz_batch()) slot k and sequence number k + 1, so its cookie is
 * (k + 1) * 16 + k; gen-corpus.py builds its seeds on that.
 */
#ifndef TESTS_FUZZ_FUZZ_NBD_REPLY_H
#define TESTS_FUZZ_FUZZ_NBD_REPLY_H

#include "block/nbd.h"

#define KiB                     1024
#define FUZZ_EXPORT_SIZE        (1024 * KiB)
#define FUZZ_CONTEXT_ID         1
/* As many requests as the driver has slots: none waits for another. */
#define FUZZ_MAX_BATCH          16

/* Knobs (byte 0) */
#define FUZZ_MODE_MASK          3
#define FUZZ_BLOCK_SIZE         (1 << 2)    /* send NBD_INFO_BLOCK_SIZE */
#define FUZZ_NO_META            (1 << 3)    /* select no metadata context */
#define FUZZ_BATCH_SHIFT        4
#define FUZZ_BATCH_MASK         (3 << FUZZ_BATCH_SHIFT)
#define FUZZ_TRICKLE            (1 << 6)    /* dribble out the first bytes */

enum {
    FUZZ_BATCH_ALL,             /* one request of each kind */
    FUZZ_BATCH_READ,            /* one 64 KiB read */
    FUZZ_BATCH_STATUS,          /* two block status queries */
    FUZZ_BATCH_MANY,            /* 16 small reads: every slot in use */
};

typedef enum FuzzOp {
    FUZZ_READ,
    FUZZ_STATUS,
    FUZZ_WRITE,
    FUZZ_ZERO,
    FUZZ_TRIM,
    FUZZ_FLUSH,
} FuzzOp;

static const char *const fuzz_op_name[] G_GNUC_UNUSED = {
    [FUZZ_READ] = "read",
    [FUZZ_STATUS] = "block status",
    [FUZZ_WRITE] = "write",
    [FUZZ_ZERO] = "write zeroes",
    [FUZZ_TRIM] = "trim",
    [FUZZ_FLUSH] = "flush",
};

typedef struct FuzzReq {
    FuzzOp op;
    int64_t offset;
    int64_t bytes;
} FuzzReq;

/* Aligned to 512 bytes, so that FUZZ_BLOCK_SIZE adds no read-modify-write. */
static const FuzzReq fuzz_batch_all[] = {
    { FUZZ_READ, 0, 512 },
    { FUZZ_READ, 64 * KiB, 4 * KiB },
    { FUZZ_READ, FUZZ_EXPORT_SIZE - KiB, KiB },
    { FUZZ_STATUS, 0, FUZZ_EXPORT_SIZE },
    { FUZZ_WRITE, 128 * KiB, 4 * KiB },
    { FUZZ_ZERO, 256 * KiB, 64 * KiB },
    { FUZZ_TRIM, 512 * KiB, 64 * KiB },
    { FUZZ_FLUSH, 0, 0 },
};

/* Half of it beyond the receive buffer: read straight into place. */
static const FuzzReq fuzz_batch_read[] = {
    { FUZZ_READ, FUZZ_EXPORT_SIZE - 64 * KiB, 64 * KiB },
};

static const FuzzReq fuzz_batch_status[] = {
    { FUZZ_STATUS, 0, FUZZ_EXPORT_SIZE },
    { FUZZ_STATUS, 512 * KiB, 64 * KiB },
};

/* The requests of an input, in the order they are issued; returns n. */
static inline unsigned int fuzz_batch(uint8_t knobs, FuzzReq *reqs)
{
    const FuzzReq *src = NULL;
    unsigned int n = 0;

    switch ((knobs & FUZZ_BATCH_MASK) >> FUZZ_BATCH_SHIFT) {
    case FUZZ_BATCH_ALL:
        src = fuzz_batch_all;
        n = G_N_ELEMENTS(fuzz_batch_all);
        break;
    case FUZZ_BATCH_READ:
        src = fuzz_batch_read;
        n = G_N_ELEMENTS(fuzz_batch_read);
        break;
    case FUZZ_BATCH_STATUS:
        src = fuzz_batch_status;
        n = G_N_ELEMENTS(fuzz_batch_status);
        break;
    case FUZZ_BATCH_MANY:
        n = FUZZ_MAX_BATCH;
        for (unsigned int i = 0; i < n; i++) {
            reqs[i] = (FuzzReq) { FUZZ_READ, i * 64 * KiB, 512 };
        }
        return n;
    }
    memcpy(reqs, src, n * sizeof(*reqs));
    return n;
}

static inline NBDMode fuzz_mode(uint8_t knobs)
{
    return MIN(knobs & FUZZ_MODE_MASK, NBD_MODE_EXTENDED);
}

/*
 * How many of @reqs reach the wire. Block status does only with
 * base:allocation, which needs structured replies; the export offers
 * every other command, and the batches need no splitting or padding.
 */
static inline unsigned int fuzz_wire_count(uint8_t knobs, const FuzzReq *reqs,
                                    unsigned int n)
{
    bool status = fuzz_mode(knobs) != NBD_MODE_SIMPLE &&
                  !(knobs & FUZZ_NO_META);
    unsigned int count = 0;

    for (unsigned int i = 0; i < n; i++) {
        count += reqs[i].op != FUZZ_STATUS || status;
    }
    return count;
}

/* The cookie of request @k of a batch (see above). */
static inline uint64_t fuzz_cookie(unsigned int k)
{
    return (uint64_t)(k + 1) * 16 + k;
}

#endif /* TESTS_FUZZ_FUZZ_NBD_REPLY_H */
