/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parsing and checking of what NBD clients send: request headers and the
 * payloads of the options that carry structure (INFO/GO, LIST/SET
 * META_CONTEXT). Pure functions over buffers, so that the unit tests can
 * feed them hostile input directly; everything here treats its input as
 * untrusted and reports problems as errors, never by asserting.
 */
#include "qemu/osdep.h"
#include "nbd-wire.h"
#include "nbd/trace.h"

int nbd_decode_request(const uint8_t *buf, NBDMode mode, NBDRequest *req)
{
    uint32_t magic = nbd_get32(buf);

    memset(req, 0, sizeof(*req));
    if (mode == NBD_MODE_EXTENDED) {
        if (magic != NBD_EXTENDED_REQUEST_MAGIC) {
            return -EINVAL;
        }
        req->flags = nbd_get16(buf + 4);
        req->type = nbd_get16(buf + 6);
        req->cookie = nbd_get64(buf + 8);
        req->from = nbd_get64(buf + 16);
        req->len = nbd_get64(buf + 24);
        return 0;
    }
    if (magic != NBD_REQUEST_MAGIC) {
        return -EINVAL;
    }
    req->flags = nbd_get16(buf + 4);
    req->type = nbd_get16(buf + 6);
    req->cookie = nbd_get64(buf + 8);
    req->from = nbd_get64(buf + 16);
    req->len = nbd_get32(buf + 24);
    return 0;
}

uint64_t nbd_request_payload_len(const NBDRequest *req, NBDMode mode)
{
    if (req->type == NBD_CMD_WRITE) {
        return req->len;
    }
    if (mode == NBD_MODE_EXTENDED && (req->flags & NBD_CMD_FLAG_PAYLOAD_LEN)) {
        return req->len;
    }
    return 0;
}

/* Command flags each command accepts on a connection in @mode. */
static uint16_t nbd_valid_flags(uint16_t type, NBDMode mode)
{
    uint16_t valid = NBD_CMD_FLAG_FUA;

    switch (type) {
    case NBD_CMD_READ:
        if (mode >= NBD_MODE_STRUCTURED) {
            valid |= NBD_CMD_FLAG_DF;
        }
        break;
    case NBD_CMD_WRITE:
        if (mode == NBD_MODE_EXTENDED) {
            valid |= NBD_CMD_FLAG_PAYLOAD_LEN;
        }
        break;
    case NBD_CMD_WRITE_ZEROES:
        valid |= NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
        break;
    case NBD_CMD_BLOCK_STATUS:
        valid |= NBD_CMD_FLAG_REQ_ONE;
        break;
    default:
        break;
    }
    return valid;
}

int nbd_check_request(const NBDRequestLimits *lim, const NBDRequest *req,
                      const char **msg)
{
    bool is_write = false;

    switch (req->type) {
    case NBD_CMD_DISC:
        return 0;
    case NBD_CMD_READ:
    case NBD_CMD_FLUSH:
    case NBD_CMD_CACHE:
    case NBD_CMD_BLOCK_STATUS:
        break;
    case NBD_CMD_WRITE:
    case NBD_CMD_TRIM:
    case NBD_CMD_WRITE_ZEROES:
        is_write = true;
        break;
    default:
        *msg = "unsupported command";
        return -EINVAL;
    }

    if (req->flags & ~nbd_valid_flags(req->type, lim->mode)) {
        *msg = "unsupported flags for this command";
        return -EINVAL;
    }
    if ((req->flags & NBD_CMD_FLAG_FAST_ZERO) &&
        !(lim->nbdflags & NBD_FLAG_SEND_FAST_ZERO)) {
        *msg = "fast zero was not negotiated";
        return -EINVAL;
    }
    if (lim->mode == NBD_MODE_EXTENDED && req->type != NBD_CMD_WRITE &&
        (req->flags & NBD_CMD_FLAG_PAYLOAD_LEN)) {
        *msg = "unexpected payload";
        return -EINVAL;
    }

    switch (req->type) {
    case NBD_CMD_READ:
    case NBD_CMD_WRITE:
    case NBD_CMD_CACHE:
        if (req->len > lim->max_payload) {
            *msg = "request length is larger than the maximum block size";
            return -EINVAL;
        }
        break;
    case NBD_CMD_BLOCK_STATUS:
        if (!lim->has_contexts || lim->mode < NBD_MODE_STRUCTURED) {
            *msg = "no metadata context was negotiated";
            return -EINVAL;
        }
        break;
    case NBD_CMD_FLUSH:
        return 0;
    default:
        break;
    }

    if (is_write && (lim->nbdflags & NBD_FLAG_READ_ONLY)) {
        *msg = "export is read-only";
        return -EPERM;
    }
    if (req->from > lim->size || req->len > lim->size - req->from) {
        trace_nbd_request_out_of_bounds(req->cookie, req->from, req->len,
                                        lim->size);
        *msg = "request extends past the end of the export";
        if (req->type == NBD_CMD_WRITE ||
            req->type == NBD_CMD_WRITE_ZEROES) {
            return -ENOSPC;
        }
        return -EINVAL;
    }
    return 0;
}

void nbd_info_request_clear(NBDInfoRequest *info)
{
    g_free(info->name);
    memset(info, 0, sizeof(*info));
}

int nbd_parse_info_request(const uint8_t *data, uint32_t len,
                           NBDInfoRequest *info, const char **msg)
{
    uint32_t name_len;
    uint16_t n;
    const uint8_t *p;

    memset(info, 0, sizeof(*info));
    if (len < 6) {
        *msg = "option is too short";
        return -EINVAL;
    }
    name_len = nbd_get32(data);
    if (name_len > len - 6) {
        *msg = "export name length exceeds the option length";
        return -EINVAL;
    }
    if (name_len > NBD_MAX_STRING_SIZE) {
        *msg = "export name is too long";
        return -EINVAL;
    }
    if (memchr(data + 4, '\0', name_len)) {
        *msg = "export name contains a NUL byte";
        return -EINVAL;
    }
    p = data + 4 + name_len;
    n = nbd_get16(p);
    p += 2;
    if ((uint64_t)n * 2 != len - 6 - name_len) {
        *msg = "information request count does not match the option length";
        return -EINVAL;
    }
    for (unsigned int i = 0; i < n; i++, p += 2) {
        switch (nbd_get16(p)) {
        case NBD_INFO_NAME:
            info->want_name = true;
            break;
        case NBD_INFO_DESCRIPTION:
            info->want_description = true;
            break;
        case NBD_INFO_BLOCK_SIZE:
            info->want_block_size = true;
            break;
        default:
            break;
        }
    }
    info->name = g_strndup((const char *)data + 4, name_len);
    return 0;
}

bool nbd_meta_query_matches(const char *q, size_t qlen, const char *ctx_name,
                            bool list)
{
    const char *colon = strchr(ctx_name, ':');
    size_t ns_len = colon - ctx_name + 1;   /* "ns:" */

    if (qlen == strlen(ctx_name) && !memcmp(q, ctx_name, qlen)) {
        return true;
    }
    /* "ns:" alone is a wildcard for LIST and selects nothing for SET. */
    return list && qlen == ns_len && !memcmp(q, ctx_name, ns_len);
}

int nbd_parse_meta_request(const uint8_t *data, uint32_t len, bool list,
                           bool allocation_depth_offered, char **name,
                           NBDMetaContexts *ctx, const char **msg)
{
    uint32_t name_len, nq, off;

    memset(ctx, 0, sizeof(*ctx));
    *name = NULL;
    if (len < 8) {
        *msg = "option is too short";
        return -EINVAL;
    }
    name_len = nbd_get32(data);
    if (name_len > len - 8) {
        *msg = "export name length exceeds the option length";
        return -EINVAL;
    }
    if (name_len > NBD_MAX_STRING_SIZE) {
        *msg = "export name is too long";
        return -EINVAL;
    }
    off = 4 + name_len;
    nq = nbd_get32(data + off);
    off += 4;

    if (nq == 0 && list) {
        ctx->base_allocation = true;
        ctx->allocation_depth = allocation_depth_offered;
    }
    for (uint32_t i = 0; i < nq; i++) {
        uint32_t qlen;
        const char *q;

        if (len - off < 4) {
            *msg = "query count exceeds the option length";
            return -EINVAL;
        }
        qlen = nbd_get32(data + off);
        off += 4;
        if (qlen > len - off) {
            *msg = "query length exceeds the option length";
            return -EINVAL;
        }
        if (qlen > NBD_MAX_STRING_SIZE) {
            *msg = "query is too long";
            return -EINVAL;
        }
        q = (const char *)data + off;
        off += qlen;
        if (nbd_meta_query_matches(q, qlen, NBD_META_BASE_ALLOCATION, list)) {
            ctx->base_allocation = true;
        }
        if (allocation_depth_offered &&
            nbd_meta_query_matches(q, qlen, NBD_META_QEMU_ALLOC_DEPTH,
                                   list)) {
            ctx->allocation_depth = true;
        }
        /* Queries of unknown namespaces are ignored, as required. */
    }
    if (off != len) {
        *msg = "option has trailing bytes";
        return -EINVAL;
    }
    ctx->count = ctx->base_allocation + ctx->allocation_depth;
    *name = g_strndup((const char *)data + 4, name_len);
    return 0;
}
