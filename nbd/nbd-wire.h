/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD wire format, private to nbd/ and to the nbd block driver:
 * big-endian packing, and the pure decoders and checkers of what a peer
 * sends (requests, option payloads, NBD_REP_INFO), which touch no
 * channel and no server or client state, so that unit tests and fuzzers
 * call them on byte buffers. The public constants and layouts are in
 * include/block/nbd.h.
 *
 * Everything here may be called from any thread.
 */
#ifndef NBD_WIRE_H
#define NBD_WIRE_H

#include "block/nbd.h"

/* Big-endian packing of wire fields */

static inline void nbd_put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void nbd_put32(uint8_t *p, uint32_t v)
{
    nbd_put16(p, v >> 16);
    nbd_put16(p + 2, v);
}

static inline void nbd_put64(uint8_t *p, uint64_t v)
{
    nbd_put32(p, v >> 32);
    nbd_put32(p + 4, v);
}

static inline uint16_t nbd_get16(const uint8_t *p)
{
    return (uint16_t)p[0] << 8 | p[1];
}

static inline uint32_t nbd_get32(const uint8_t *p)
{
    return (uint32_t)nbd_get16(p) << 16 | nbd_get16(p + 2);
}

static inline uint64_t nbd_get64(const uint8_t *p)
{
    return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

/* Metadata context ids we hand out in NBD_OPT_SET_META_CONTEXT. */
enum {
    NBD_META_ID_BASE_ALLOCATION = 0,
    NBD_META_ID_ALLOCATION_DEPTH = 1,
};

/* The metadata contexts a client selected (or that a query matched). */
typedef struct NBDMetaContexts {
    const NBDExport *exp;       /* the export they belong to, or NULL */
    bool base_allocation;
    bool allocation_depth;
    unsigned int count;
} NBDMetaContexts;

/* Pure helpers (nbd/request.c), used by the server and the unit tests */

/* What a request may do on this connection. */
typedef struct NBDRequestLimits {
    uint64_t size;              /* export size */
    uint16_t nbdflags;          /* transmission flags given to the client */
    NBDMode mode;
    bool has_contexts;          /* some metadata context was selected */
    uint32_t max_payload;       /* READ/WRITE/CACHE length limit */
} NBDRequestLimits;

/**
 * nbd_decode_request:
 * @buf: NBD_REQUEST_SIZE bytes, or NBD_EXTENDED_REQUEST_SIZE in extended
 *       mode
 * @mode: the connection's mode
 * @req: (out): the decoded request
 *
 * Returns: 0, or -EINVAL if the magic is wrong for @mode (the stream
 * cannot be resynchronised: the caller disconnects).
 */
int nbd_decode_request(const uint8_t *buf, NBDMode mode, NBDRequest *req);

/**
 * nbd_request_payload_len:
 * Returns: how many bytes follow the header of @req on the wire.
 */
uint64_t nbd_request_payload_len(const NBDRequest *req, NBDMode mode);

/**
 * nbd_check_request:
 * @lim: the connection's limits
 * @req: a request from the wire (untrusted)
 * @msg: (out): a message for the error reply, static
 *
 * Returns: 0 when the request may run, else the negative errno to reply
 * with (-EINVAL for bad flags, commands, lengths and ranges, -EPERM for a
 * write to a read-only export, -ENOSPC for a write past the end).
 */
int nbd_check_request(const NBDRequestLimits *lim, const NBDRequest *req,
                      const char **msg);

/* Parsed NBD_OPT_INFO / NBD_OPT_GO data. */
typedef struct NBDInfoRequest {
    char *name;
    bool want_name;
    bool want_description;
    bool want_block_size;
} NBDInfoRequest;

/**
 * nbd_parse_info_request:
 * Parses the payload of NBD_OPT_INFO / NBD_OPT_GO. Unknown information
 * types are ignored.
 *
 * Returns: 0, or -EINVAL with *@msg set when the payload is malformed
 * (the caller answers NBD_REP_ERR_INVALID); @info is then left empty.
 */
int nbd_parse_info_request(const uint8_t *data, uint32_t len,
                           NBDInfoRequest *info, const char **msg);
void nbd_info_request_clear(NBDInfoRequest *info);

/**
 * nbd_parse_meta_request:
 * @data: payload of NBD_OPT_LIST_META_CONTEXT or _SET_META_CONTEXT
 * @len: its length
 * @list: true for LIST (empty query list and "ns:" wildcards match all)
 * @allocation_depth_offered: whether qemu:allocation-depth is available
 * @name: (out) (transfer full): the export name
 * @ctx: (out): the contexts matched (exp left NULL)
 * @msg: (out): error message
 *
 * Returns: 0, or -EINVAL when malformed (NBD_REP_ERR_INVALID).
 */
int nbd_parse_meta_request(const uint8_t *data, uint32_t len, bool list,
                           bool allocation_depth_offered, char **name,
                           NBDMetaContexts *ctx, const char **msg);

/*
 * A matching helper for the above: does query @q (a namespace and a
 * leaf) select context @ctx_name? LIST allows "ns:" wildcards.
 */
bool nbd_meta_query_matches(const char *q, size_t qlen, const char *ctx_name,
                            bool list);

/* NBD_REP_INFO and export checks (nbd/client.c), for either client */

/* One NBD_REP_INFO payload into @info; -1 with @errp when malformed. */
int nbd_decode_rep_info(const uint8_t *data, uint32_t len,
                        NBDExportInfo *info, Error **errp);
/* Size and block size constraints of the spec; -1 with @errp. */
int nbd_check_export_info(const NBDExportInfo *info, Error **errp);

#endif /* NBD_WIRE_H */
