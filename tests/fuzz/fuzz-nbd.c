/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the NBD server's parsers: the payloads of
 * NBD_OPT_INFO/GO and NBD_OPT_LIST/SET_META_CONTEXT, and request header
 * decoding plus checking in every NBDMode.
 *
 * Input layout:
 *   byte 0   which parser (modulo 3): 0 info, 1 meta context, 2 requests
 *   byte 1   knobs for that parser (LIST vs SET, mode, limits...)
 *   rest     the parser's input
 *
 * The parsers treat their input as hostile, so any assertion failure or
 * sanitizer report here is a bug in nbd/. The invariants checked are our
 * own: what the server relies on after a parser said yes.
 */
#include "qemu/osdep.h"
#include "fuzz-util.h"
#include "nbd/nbd-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
    FUZZ_INFO,
    FUZZ_META,
    FUZZ_REQUEST,
    FUZZ_N_KINDS,
};

/* Knobs of FUZZ_META */
#define FUZZ_META_LIST          (1 << 0)
#define FUZZ_META_DEPTH         (1 << 1)

/* Knobs of FUZZ_REQUEST (bits 0-1 are the mode, modulo 3) */
#define FUZZ_REQ_FIX_MAGIC      (1 << 2)
#define FUZZ_REQ_CONTEXTS       (1 << 3)
#define FUZZ_REQ_SERVER_MAX     (1 << 4)

/* Request headers tried per input, so that one input covers a stream. */
#define FUZZ_MAX_REQUESTS       16

/* The length that nbd_parse_*_request read at the start of @data. */
static uint32_t fuzz_name_len(const uint8_t *data, size_t len)
{
    return len >= 4 ? nbd_get32(data) : 0;
}

static void fuzz_info(uint8_t knobs, const uint8_t *data, size_t len)
{
    NBDInfoRequest info;
    const char *msg = NULL;
    int ret;

    /* Options longer than this are refused before any parsing. */
    if (len > NBD_MAX_OPTION_SIZE) {
        return;
    }
    ret = nbd_parse_info_request(data, len, &info, &msg);
    if (ret < 0) {
        FUZZ_CHECK(ret == -EINVAL);
        FUZZ_CHECK(msg != NULL);
        FUZZ_CHECK(info.name == NULL);
        FUZZ_CHECK(!info.want_name && !info.want_description &&
                   !info.want_block_size);
        return;
    }
    FUZZ_CHECK(ret == 0);
    FUZZ_CHECK(info.name != NULL);
    /* The name is exactly what the client sent: no NUL, not truncated. */
    FUZZ_CHECK(strlen(info.name) == fuzz_name_len(data, len));
    FUZZ_CHECK(strlen(info.name) <= NBD_MAX_STRING_SIZE);
    FUZZ_CHECK(!memcmp(info.name, data + 4, strlen(info.name)));
    nbd_info_request_clear(&info);
    FUZZ_CHECK(info.name == NULL);
}

/*
 * An allocation of exactly @len bytes (plain malloc: g_malloc(0) gives
 * NULL, and ASan flags any access to a zero-sized block).
 */
static void *fuzz_dup(const void *data, size_t len)
{
    void *p = malloc(len);

    FUZZ_CHECK(p != NULL);
    memcpy(p, data, len);
    return p;
}

/* A query as its own allocation, so that ASan sees any overread. */
static void fuzz_meta_query(const uint8_t *data, size_t len, bool list)
{
    static const char *const names[] = {
        NBD_META_BASE_ALLOCATION,
        NBD_META_QEMU_ALLOC_DEPTH,
    };
    char *q = fuzz_dup(data, len);

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        bool exact = len == strlen(names[i]) && !memcmp(q, names[i], len);
        bool match = nbd_meta_query_matches(q, len, names[i], list);

        /* An exact name always matches; SET accepts nothing else. */
        if (exact) {
            FUZZ_CHECK(match);
        }
        if (!list) {
            FUZZ_CHECK(match == exact);
        }
        /* A LIST wildcard is "ns:" of the same namespace. */
        if (match && !exact) {
            FUZZ_CHECK(len > 0 && q[len - 1] == ':');
            FUZZ_CHECK(!memcmp(q, names[i], len));
        }
    }
    free(q);
}

static void fuzz_meta(uint8_t knobs, const uint8_t *data, size_t len)
{
    bool list = knobs & FUZZ_META_LIST;
    bool depth = knobs & FUZZ_META_DEPTH;
    NBDMetaContexts mc;
    const char *msg = NULL;
    char *name = (char *)"poison";
    int ret;

    if (len > NBD_MAX_OPTION_SIZE) {
        return;
    }
    if (len <= 64) {
        fuzz_meta_query(data, len, list);
    }
    ret = nbd_parse_meta_request(data, len, list, depth, &name, &mc, &msg);
    FUZZ_CHECK(mc.exp == NULL);
    if (ret < 0) {
        FUZZ_CHECK(ret == -EINVAL);
        FUZZ_CHECK(msg != NULL);
        FUZZ_CHECK(name == NULL);
        return;
    }
    FUZZ_CHECK(ret == 0);
    FUZZ_CHECK(name != NULL);
    FUZZ_CHECK(strlen(name) <= fuzz_name_len(data, len));
    FUZZ_CHECK(fuzz_name_len(data, len) <= NBD_MAX_STRING_SIZE);
    /* Only offered contexts, and the count the reply loop relies on. */
    FUZZ_CHECK(depth || !mc.allocation_depth);
    FUZZ_CHECK(mc.count == (unsigned int)mc.base_allocation +
               mc.allocation_depth);
    FUZZ_CHECK(mc.count <= 2);
    /* An empty LIST query list selects everything offered. */
    if (list && len >= 8 && nbd_get32(data + 4 + nbd_get32(data)) == 0) {
        FUZZ_CHECK(mc.base_allocation && mc.allocation_depth == depth);
    }
    /* SET with no queries selects nothing. */
    if (!list && len >= 8 && nbd_get32(data + 4 + nbd_get32(data)) == 0) {
        FUZZ_CHECK(mc.count == 0);
    }
    g_free(name);
}

static bool fuzz_cmd_is_known(uint16_t type)
{
    switch (type) {
    case NBD_CMD_READ:
    case NBD_CMD_WRITE:
    case NBD_CMD_DISC:
    case NBD_CMD_FLUSH:
    case NBD_CMD_TRIM:
    case NBD_CMD_CACHE:
    case NBD_CMD_WRITE_ZEROES:
    case NBD_CMD_BLOCK_STATUS:
        return true;
    default:
        return false;
    }
}

static void fuzz_one_request(const NBDRequestLimits *lim, const uint8_t *hdr,
                             bool fix_magic)
{
    uint8_t buf[NBD_EXTENDED_REQUEST_SIZE];
    size_t hdr_len = lim->mode == NBD_MODE_EXTENDED ?
                     NBD_EXTENDED_REQUEST_SIZE : NBD_REQUEST_SIZE;
    NBDRequest req;
    const char *msg = NULL;
    uint64_t payload;
    int ret;

    memcpy(buf, hdr, hdr_len);
    if (fix_magic) {
        nbd_put32(buf, lim->mode == NBD_MODE_EXTENDED ?
                  NBD_EXTENDED_REQUEST_MAGIC : NBD_REQUEST_MAGIC);
    }
    if (nbd_decode_request(buf, lim->mode, &req) < 0) {
        FUZZ_CHECK(!fix_magic);
        return;
    }
    FUZZ_CHECK(req.type == nbd_get16(buf + 6));
    FUZZ_CHECK(req.from == nbd_get64(buf + 16));
    if (lim->mode != NBD_MODE_EXTENDED) {
        FUZZ_CHECK(req.len <= UINT32_MAX);
    }

    ret = nbd_check_request(lim, &req, &msg);
    payload = nbd_request_payload_len(&req, lim->mode);
    if (lim->mode != NBD_MODE_EXTENDED) {
        FUZZ_CHECK(payload <= UINT32_MAX);
    }
    if (ret < 0) {
        FUZZ_CHECK(ret == -EINVAL || ret == -EPERM || ret == -ENOSPC);
        FUZZ_CHECK(msg != NULL);
        return;
    }
    FUZZ_CHECK(ret == 0);
    FUZZ_CHECK(fuzz_cmd_is_known(req.type));
    if (req.type == NBD_CMD_DISC || req.type == NBD_CMD_FLUSH) {
        return;
    }

    /* The server reads only a payload it has room for... */
    FUZZ_CHECK(payload <= lim->max_payload);
    if (payload) {
        FUZZ_CHECK(req.type == NBD_CMD_WRITE);
    }
    /* ...allocates and transfers at most max_payload... */
    if (req.type == NBD_CMD_READ || req.type == NBD_CMD_WRITE ||
        req.type == NBD_CMD_CACHE) {
        FUZZ_CHECK(req.len <= lim->max_payload);
    }
    /* ...never touches bytes past the end of the export... */
    FUZZ_CHECK(req.from <= lim->size);
    FUZZ_CHECK(req.len <= lim->size - req.from);
    FUZZ_CHECK(req.from + req.len <= lim->size);
    /* ...never writes to a read-only export... */
    if (lim->nbdflags & NBD_FLAG_READ_ONLY) {
        FUZZ_CHECK(req.type != NBD_CMD_WRITE &&
                   req.type != NBD_CMD_TRIM &&
                   req.type != NBD_CMD_WRITE_ZEROES);
    }
    /* ...and honours what was negotiated. */
    if (req.type == NBD_CMD_BLOCK_STATUS) {
        FUZZ_CHECK(lim->has_contexts && lim->mode >= NBD_MODE_STRUCTURED);
    }
    if (req.flags & NBD_CMD_FLAG_FAST_ZERO) {
        FUZZ_CHECK(lim->nbdflags & NBD_FLAG_SEND_FAST_ZERO);
        FUZZ_CHECK(req.type == NBD_CMD_WRITE_ZEROES);
    }
    if (req.flags & NBD_CMD_FLAG_DF) {
        FUZZ_CHECK(req.type == NBD_CMD_READ &&
                   lim->mode >= NBD_MODE_STRUCTURED);
    }
    if (req.flags & NBD_CMD_FLAG_PAYLOAD_LEN) {
        FUZZ_CHECK(req.type == NBD_CMD_WRITE &&
                   lim->mode == NBD_MODE_EXTENDED);
    }
}

/*
 * After the knobs: export size (8 bytes), transmission flags (2), max
 * payload (4, unless FUZZ_REQ_SERVER_MAX picks the server's), then
 * request headers of the mode's size.
 */
static void fuzz_requests(uint8_t knobs, const uint8_t *data, size_t len)
{
    NBDRequestLimits lim = {
        .mode = (knobs & 3) % 3,
        .has_contexts = knobs & FUZZ_REQ_CONTEXTS,
        .max_payload = NBD_MAX_BUFFER_SIZE,
    };
    bool fix_magic = knobs & FUZZ_REQ_FIX_MAGIC;
    size_t hdr_len = lim.mode == NBD_MODE_EXTENDED ?
                     NBD_EXTENDED_REQUEST_SIZE : NBD_REQUEST_SIZE;

    if (len < 10) {
        return;
    }
    lim.size = nbd_get64(data);
    lim.nbdflags = nbd_get16(data + 8);
    data += 10;
    len -= 10;
    if (!(knobs & FUZZ_REQ_SERVER_MAX)) {
        if (len < 4) {
            return;
        }
        lim.max_payload = nbd_get32(data);
        data += 4;
        len -= 4;
    }
    for (int i = 0; i < FUZZ_MAX_REQUESTS && len >= hdr_len; i++) {
        fuzz_one_request(&lim, data, fix_magic);
        data += hdr_len;
        len -= hdr_len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t kind, knobs;

    if (size < 2) {
        return 0;
    }
    kind = data[0] % FUZZ_N_KINDS;
    knobs = data[1];
    data += 2;
    size -= 2;

    /*
     * Copy the input to an allocation of its exact size, so that ASan
     * catches a parser reading even one byte past the option.
     */
    switch (kind) {
    case FUZZ_INFO: {
        uint8_t *copy = fuzz_dup(data, size);

        fuzz_info(knobs, copy, size);
        free(copy);
        break;
    }
    case FUZZ_META: {
        uint8_t *copy = fuzz_dup(data, size);

        fuzz_meta(knobs, copy, size);
        free(copy);
        break;
    }
    case FUZZ_REQUEST:
        fuzz_requests(knobs, data, size);
        break;
    }
    return 0;
}
