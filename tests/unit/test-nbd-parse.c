/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NBD parsing and checking of untrusted input: request headers, request
 * checks against the negotiated limits, NBD_OPT_INFO/GO and metadata
 * context payloads, and the errno mapping. One case per kind of misuse.
 */
#include "qemu/osdep.h"
#include "nbd/nbd-wire.h"

#define MiB (1024 * 1024)

static void put_request(uint8_t *buf, NBDMode mode, uint16_t flags,
                        uint16_t type, uint64_t cookie, uint64_t from,
                        uint64_t len)
{
    if (mode == NBD_MODE_EXTENDED) {
        nbd_put32(buf, NBD_EXTENDED_REQUEST_MAGIC);
        nbd_put64(buf + 24, len);
    } else {
        nbd_put32(buf, NBD_REQUEST_MAGIC);
        nbd_put32(buf + 24, len);
    }
    nbd_put16(buf + 4, flags);
    nbd_put16(buf + 6, type);
    nbd_put64(buf + 8, cookie);
    nbd_put64(buf + 16, from);
}

static void test_decode_compact(void)
{
    uint8_t buf[NBD_EXTENDED_REQUEST_SIZE] = { 0 };
    NBDRequest req;

    put_request(buf, NBD_MODE_STRUCTURED, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE,
                0x1122334455667788ULL, 4096, 512);
    g_assert_cmpint(nbd_decode_request(buf, NBD_MODE_STRUCTURED, &req), ==,
                    0);
    g_assert_cmpuint(req.cookie, ==, 0x1122334455667788ULL);
    g_assert_cmpuint(req.from, ==, 4096);
    g_assert_cmpuint(req.len, ==, 512);
    g_assert_cmpuint(req.type, ==, NBD_CMD_WRITE);
    g_assert_cmpuint(req.flags, ==, NBD_CMD_FLAG_FUA);
    g_assert_cmpuint(nbd_request_payload_len(&req, NBD_MODE_STRUCTURED), ==,
                     512);
}

static void test_decode_extended(void)
{
    uint8_t buf[NBD_EXTENDED_REQUEST_SIZE] = { 0 };
    NBDRequest req;

    put_request(buf, NBD_MODE_EXTENDED, 0, NBD_CMD_TRIM, 7, 1ULL << 40,
                1ULL << 35);
    g_assert_cmpint(nbd_decode_request(buf, NBD_MODE_EXTENDED, &req), ==, 0);
    g_assert_cmpuint(req.from, ==, 1ULL << 40);
    g_assert_cmpuint(req.len, ==, 1ULL << 35);
    g_assert_cmpuint(nbd_request_payload_len(&req, NBD_MODE_EXTENDED), ==,
                     0);
}

static void test_decode_bad_magic(void)
{
    uint8_t buf[NBD_EXTENDED_REQUEST_SIZE] = { 0 };
    NBDRequest req;

    /* A compact header on an extended connection, and vice versa. */
    put_request(buf, NBD_MODE_SIMPLE, 0, NBD_CMD_READ, 1, 0, 512);
    g_assert_cmpint(nbd_decode_request(buf, NBD_MODE_EXTENDED, &req), ==,
                    -EINVAL);
    put_request(buf, NBD_MODE_EXTENDED, 0, NBD_CMD_READ, 1, 0, 512);
    g_assert_cmpint(nbd_decode_request(buf, NBD_MODE_SIMPLE, &req), ==,
                    -EINVAL);
    memset(buf, 0xff, sizeof(buf));
    g_assert_cmpint(nbd_decode_request(buf, NBD_MODE_STRUCTURED, &req), ==,
                    -EINVAL);
}

static const NBDRequestLimits rw_limits = {
    .size = 64 * MiB,
    .nbdflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
                NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
                NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO,
    .mode = NBD_MODE_STRUCTURED,
    .has_contexts = true,
    .max_payload = NBD_MAX_BUFFER_SIZE,
};

static int check(const NBDRequestLimits *lim, uint16_t type, uint16_t flags,
                 uint64_t from, uint64_t len)
{
    NBDRequest req = {
        .type = type, .flags = flags, .from = from, .len = len,
    };
    const char *msg = NULL;
    int ret = nbd_check_request(lim, &req, &msg);

    g_assert(ret == 0 || msg);
    return ret;
}

static void test_check_valid(void)
{
    g_assert_cmpint(check(&rw_limits, NBD_CMD_READ, 0, 0, 4096), ==, 0);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_READ, NBD_CMD_FLAG_DF,
                          0, 4096), ==, 0);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_WRITE, NBD_CMD_FLAG_FUA,
                          64 * MiB - 512, 512), ==, 0);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_WRITE_ZEROES,
                          NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO,
                          0, 64 * MiB), ==, 0);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_TRIM, 0, 0, 64 * MiB), ==, 0);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_FLUSH, 0, 0, 0), ==, 0);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_BLOCK_STATUS,
                          NBD_CMD_FLAG_REQ_ONE, 0, 4096), ==, 0);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_DISC, 0xffff, ~0ULL, ~0ULL),
                    ==, 0);
    /* Zero-length requests are allowed (and do nothing). */
    g_assert_cmpint(check(&rw_limits, NBD_CMD_READ, 0, 64 * MiB, 0), ==, 0);
}

static void test_check_bounds(void)
{
    g_assert_cmpint(check(&rw_limits, NBD_CMD_READ, 0, 64 * MiB, 1), ==,
                    -EINVAL);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_READ, 0, 64 * MiB - 1, 2), ==,
                    -EINVAL);
    /* from + len overflows 64 bits */
    g_assert_cmpint(check(&rw_limits, NBD_CMD_TRIM, 0, 4096, UINT64_MAX),
                    ==, -EINVAL);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_CACHE, 0, UINT64_MAX, 1), ==,
                    -EINVAL);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_BLOCK_STATUS, 0,
                          64 * MiB + 1, 1), ==, -EINVAL);
    /* Writes past the end: ENOSPC, as the protocol suggests. */
    g_assert_cmpint(check(&rw_limits, NBD_CMD_WRITE, 0, 64 * MiB, 512), ==,
                    -ENOSPC);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_WRITE_ZEROES, 0, 0,
                          64 * MiB + 1), ==, -ENOSPC);
}

static void test_check_sizes(void)
{
    g_assert_cmpint(check(&rw_limits, NBD_CMD_READ, 0, 0,
                          NBD_MAX_BUFFER_SIZE + 1), ==, -EINVAL);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_WRITE, 0, 0,
                          NBD_MAX_BUFFER_SIZE + 1), ==, -EINVAL);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_CACHE, 0, 0,
                          NBD_MAX_BUFFER_SIZE + 1), ==, -EINVAL);
    /* Commands without payload may be as long as the export. */
    g_assert_cmpint(check(&rw_limits, NBD_CMD_TRIM, 0, 0, 64 * MiB), ==, 0);
}

static void test_check_flags(void)
{
    NBDRequestLimits simple = rw_limits;

    simple.mode = NBD_MODE_SIMPLE;
    g_assert_cmpint(check(&rw_limits, NBD_CMD_READ, NBD_CMD_FLAG_NO_HOLE,
                          0, 512), ==, -EINVAL);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_WRITE, NBD_CMD_FLAG_DF,
                          0, 512), ==, -EINVAL);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_FLUSH, 0x8000, 0, 0), ==,
                    -EINVAL);
    g_assert_cmpint(check(&rw_limits, NBD_CMD_BLOCK_STATUS,
                          NBD_CMD_FLAG_FAST_ZERO, 0, 512), ==, -EINVAL);
    /* DF needs structured replies. */
    g_assert_cmpint(check(&simple, NBD_CMD_READ, NBD_CMD_FLAG_DF, 0, 512),
                    ==, -EINVAL);
    /* PAYLOAD_LEN needs extended headers, and only WRITE takes it. */
    g_assert_cmpint(check(&rw_limits, NBD_CMD_WRITE,
                          NBD_CMD_FLAG_PAYLOAD_LEN, 0, 512), ==, -EINVAL);
}

static void test_check_commands(void)
{
    NBDRequestLimits ro = rw_limits;
    NBDRequestLimits ext = rw_limits;
    NBDRequestLimits noctx = rw_limits;

    ro.nbdflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY;
    ext.mode = NBD_MODE_EXTENDED;
    noctx.has_contexts = false;

    g_assert_cmpint(check(&rw_limits, NBD_CMD_RESIZE, 0, 0, 0), ==,
                    -EINVAL);
    g_assert_cmpint(check(&rw_limits, 0x4242, 0, 0, 0), ==, -EINVAL);
    g_assert_cmpint(check(&ro, NBD_CMD_WRITE, 0, 0, 512), ==, -EPERM);
    g_assert_cmpint(check(&ro, NBD_CMD_TRIM, 0, 0, 512), ==, -EPERM);
    g_assert_cmpint(check(&ro, NBD_CMD_WRITE_ZEROES, 0, 0, 512), ==, -EPERM);
    g_assert_cmpint(check(&ro, NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_FAST_ZERO,
                          0, 512), ==, -EINVAL);
    g_assert_cmpint(check(&ro, NBD_CMD_READ, 0, 0, 512), ==, 0);
    g_assert_cmpint(check(&noctx, NBD_CMD_BLOCK_STATUS, 0, 0, 512), ==,
                    -EINVAL);
    g_assert_cmpint(check(&ext, NBD_CMD_WRITE, NBD_CMD_FLAG_PAYLOAD_LEN,
                          0, 512), ==, 0);
    g_assert_cmpint(check(&ext, NBD_CMD_BLOCK_STATUS,
                          NBD_CMD_FLAG_PAYLOAD_LEN, 0, 512), ==, -EINVAL);
}

static size_t build_info(uint8_t *buf, const char *name, uint32_t name_len,
                         uint16_t n, const uint16_t *reqs)
{
    size_t off = 0;

    nbd_put32(buf, name_len);
    off += 4;
    memcpy(buf + off, name, strlen(name));
    off += strlen(name);
    nbd_put16(buf + off, n);
    off += 2;
    for (unsigned int i = 0; i < n; i++, off += 2) {
        nbd_put16(buf + off, reqs[i]);
    }
    return off;
}

static void test_info_request(void)
{
    static const uint16_t reqs[] = {
        NBD_INFO_BLOCK_SIZE, 0x7777, NBD_INFO_NAME,
    };
    uint8_t buf[64];
    NBDInfoRequest info;
    const char *msg = NULL;
    size_t len = build_info(buf, "disk", 4, 3, reqs);

    g_assert_cmpint(nbd_parse_info_request(buf, len, &info, &msg), ==, 0);
    g_assert_cmpstr(info.name, ==, "disk");
    g_assert_true(info.want_block_size);
    g_assert_true(info.want_name);
    g_assert_false(info.want_description);
    nbd_info_request_clear(&info);

    /* Empty name, no requests: the default export. */
    len = build_info(buf, "", 0, 0, NULL);
    g_assert_cmpint(nbd_parse_info_request(buf, len, &info, &msg), ==, 0);
    g_assert_cmpstr(info.name, ==, "");
    nbd_info_request_clear(&info);
}

static void test_info_request_bad(void)
{
    static const uint16_t reqs[] = { NBD_INFO_NAME, NBD_INFO_NAME };
    uint8_t buf[64] = { 0 };
    NBDInfoRequest info;
    const char *msg = NULL;
    size_t len;

    g_assert_cmpint(nbd_parse_info_request(buf, 5, &info, &msg), ==,
                    -EINVAL);
    g_assert_nonnull(msg);
    /* name length beyond the option */
    len = build_info(buf, "disk", 400, 0, NULL);
    g_assert_cmpint(nbd_parse_info_request(buf, len, &info, &msg), ==,
                    -EINVAL);
    /* name length 0xffffffff must not overflow */
    len = build_info(buf, "disk", 0xffffffff, 0, NULL);
    g_assert_cmpint(nbd_parse_info_request(buf, len, &info, &msg), ==,
                    -EINVAL);
    /* request count does not match */
    len = build_info(buf, "disk", 4, 2, reqs);
    g_assert_cmpint(nbd_parse_info_request(buf, len - 1, &info, &msg), ==,
                    -EINVAL);
    nbd_put16(buf + 8, 9);
    g_assert_cmpint(nbd_parse_info_request(buf, len, &info, &msg), ==,
                    -EINVAL);
    /* a NUL inside the name */
    nbd_put32(buf, 4);
    memcpy(buf + 4, "di\0k", 4);
    nbd_put16(buf + 8, 0);
    len = 10;
    g_assert_cmpint(nbd_parse_info_request(buf, len, &info, &msg), ==,
                    -EINVAL);
    g_assert_null(info.name);
}

static size_t build_meta(uint8_t *buf, const char *name, int nq,
                         const char *const *q)
{
    size_t off = 0;

    nbd_put32(buf, strlen(name));
    memcpy(buf + 4, name, strlen(name));
    off = 4 + strlen(name);
    nbd_put32(buf + off, nq);
    off += 4;
    for (int i = 0; i < nq; i++) {
        nbd_put32(buf + off, strlen(q[i]));
        memcpy(buf + off + 4, q[i], strlen(q[i]));
        off += 4 + strlen(q[i]);
    }
    return off;
}

static void test_meta_request(void)
{
    static const char *const set_q[] = {
        "base:allocation", "x-unknown:foo", "qemu:allocation-depth",
    };
    static const char *const wild[] = { "base:", "qemu:" };
    uint8_t buf[256];
    NBDMetaContexts mc;
    char *name = NULL;
    const char *msg = NULL;
    size_t len;

    len = build_meta(buf, "d", 3, set_q);
    g_assert_cmpint(nbd_parse_meta_request(buf, len, false, true, &name,
                                           &mc, &msg), ==, 0);
    g_assert_cmpstr(name, ==, "d");
    g_assert_true(mc.base_allocation && mc.allocation_depth);
    g_assert_cmpuint(mc.count, ==, 2);
    g_free(name);

    /* Not offered: qemu:allocation-depth is not matched. */
    g_assert_cmpint(nbd_parse_meta_request(buf, len, false, false, &name,
                                           &mc, &msg), ==, 0);
    g_assert_true(mc.base_allocation && !mc.allocation_depth);
    g_free(name);

    /* Wildcards list, but select nothing. */
    len = build_meta(buf, "d", 2, wild);
    g_assert_cmpint(nbd_parse_meta_request(buf, len, true, true, &name,
                                           &mc, &msg), ==, 0);
    g_assert_cmpuint(mc.count, ==, 2);
    g_free(name);
    g_assert_cmpint(nbd_parse_meta_request(buf, len, false, true, &name,
                                           &mc, &msg), ==, 0);
    g_assert_cmpuint(mc.count, ==, 0);
    g_free(name);

    /* No query: LIST gives everything, SET nothing. */
    len = build_meta(buf, "d", 0, NULL);
    g_assert_cmpint(nbd_parse_meta_request(buf, len, true, true, &name,
                                           &mc, &msg), ==, 0);
    g_assert_cmpuint(mc.count, ==, 2);
    g_free(name);
    g_assert_cmpint(nbd_parse_meta_request(buf, len, false, true, &name,
                                           &mc, &msg), ==, 0);
    g_assert_cmpuint(mc.count, ==, 0);
    g_free(name);
}

static void test_meta_request_bad(void)
{
    static const char *const q[] = { "base:allocation" };
    uint8_t buf[256];
    NBDMetaContexts mc;
    char *name = NULL;
    const char *msg = NULL;
    size_t len = build_meta(buf, "d", 1, q);

    /* every truncation is refused */
    for (size_t cut = 0; cut < len; cut++) {
        g_assert_cmpint(nbd_parse_meta_request(buf, cut, false, true, &name,
                                               &mc, &msg), ==, -EINVAL);
        g_assert_null(name);
    }
    /* trailing garbage */
    g_assert_cmpint(nbd_parse_meta_request(buf, len + 1, false, true, &name,
                                           &mc, &msg), ==, -EINVAL);
    /* query count beyond the data */
    nbd_put32(buf + 5, 1000);
    g_assert_cmpint(nbd_parse_meta_request(buf, len, false, true, &name,
                                           &mc, &msg), ==, -EINVAL);
    nbd_put32(buf + 5, 1);
    /* query length beyond the data, and huge */
    nbd_put32(buf + 9, 0xfffffff0);
    g_assert_cmpint(nbd_parse_meta_request(buf, len, false, true, &name,
                                           &mc, &msg), ==, -EINVAL);
    /* export name length huge */
    nbd_put32(buf, 0xffffffff);
    g_assert_cmpint(nbd_parse_meta_request(buf, len, false, true, &name,
                                           &mc, &msg), ==, -EINVAL);
}

static void test_meta_match(void)
{
    const char *ba = NBD_META_BASE_ALLOCATION;

    g_assert_true(nbd_meta_query_matches(ba, strlen(ba), ba, false));
    g_assert_true(nbd_meta_query_matches("base:", 5, ba, true));
    g_assert_false(nbd_meta_query_matches("base:", 5, ba, false));
    g_assert_false(nbd_meta_query_matches("base", 4, ba, true));
    g_assert_false(nbd_meta_query_matches("base:allocationX", 16, ba, true));
    g_assert_false(nbd_meta_query_matches("base:alloc", 10, ba, true));
    g_assert_false(nbd_meta_query_matches("", 0, ba, true));
}

static void test_errno_mapping(void)
{
    static const struct {
        int host;
        uint32_t wire;
    } cases[] = {
        { 0, NBD_SUCCESS }, { EPERM, NBD_EPERM }, { EROFS, NBD_EPERM },
        { EIO, NBD_EIO }, { ENOMEM, NBD_ENOMEM }, { ENOSPC, NBD_ENOSPC },
        { EDQUOT, NBD_ENOSPC }, { EFBIG, NBD_ENOSPC },
        { EOVERFLOW, NBD_EOVERFLOW }, { ENOTSUP, NBD_ENOTSUP },
        { EOPNOTSUPP, NBD_ENOTSUP }, { ESHUTDOWN, NBD_ESHUTDOWN },
        { EINVAL, NBD_EINVAL }, { ENOENT, NBD_EINVAL },
        { EBADF, NBD_EINVAL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_assert_cmpuint(nbd_errno_to_wire(cases[i].host), ==,
                         cases[i].wire);
        g_assert_cmpuint(nbd_errno_to_wire(-cases[i].host), ==,
                         cases[i].wire);
    }
    g_assert_cmpint(nbd_wire_to_errno(NBD_EPERM), ==, EPERM);
    g_assert_cmpint(nbd_wire_to_errno(NBD_ENOSPC), ==, ENOSPC);
    g_assert_cmpint(nbd_wire_to_errno(NBD_ESHUTDOWN), ==, ESHUTDOWN);
    g_assert_cmpint(nbd_wire_to_errno(0), ==, 0);
    g_assert_cmpint(nbd_wire_to_errno(12345), ==, EINVAL);
    /* wire -> host -> wire is the identity on defined values */
    for (uint32_t w = 0; w < 200; w++) {
        uint32_t back = nbd_errno_to_wire(nbd_wire_to_errno(w));

        if (!strcmp(nbd_err_name(w), "<unknown>")) {
            g_assert_cmpuint(back, ==, NBD_EINVAL);
        } else {
            g_assert_cmpuint(back, ==, w);
        }
    }
}

static void test_names(void)
{
    g_autofree char *flags = NULL;

    g_assert_cmpstr(nbd_opt_name(NBD_OPT_GO), ==, "go");
    g_assert_cmpstr(nbd_opt_name(999), ==, "<unknown>");
    g_assert_cmpstr(nbd_cmd_name(NBD_CMD_BLOCK_STATUS), ==, "block status");
    g_assert_cmpstr(nbd_rep_name(NBD_REP_ERR_TLS_REQD), ==, "TLS required");
    g_assert_cmpstr(nbd_info_name(NBD_INFO_BLOCK_SIZE), ==, "block size");
    g_assert_cmpstr(nbd_reply_type_name(NBD_REPLY_TYPE_OFFSET_HOLE), ==,
                    "hole");
    flags = nbd_flags_to_string(NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY |
                                NBD_FLAG_CAN_MULTI_CONN);
    g_assert_cmpstr(flags, ==, " readonly multi");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/nbd/parse/request/compact", test_decode_compact);
    g_test_add_func("/nbd/parse/request/extended", test_decode_extended);
    g_test_add_func("/nbd/parse/request/bad-magic", test_decode_bad_magic);
    g_test_add_func("/nbd/parse/check/valid", test_check_valid);
    g_test_add_func("/nbd/parse/check/bounds", test_check_bounds);
    g_test_add_func("/nbd/parse/check/sizes", test_check_sizes);
    g_test_add_func("/nbd/parse/check/flags", test_check_flags);
    g_test_add_func("/nbd/parse/check/commands", test_check_commands);
    g_test_add_func("/nbd/parse/option/info", test_info_request);
    g_test_add_func("/nbd/parse/option/info-bad", test_info_request_bad);
    g_test_add_func("/nbd/parse/option/meta", test_meta_request);
    g_test_add_func("/nbd/parse/option/meta-bad", test_meta_request_bad);
    g_test_add_func("/nbd/parse/option/meta-match", test_meta_match);
    g_test_add_func("/nbd/parse/errno", test_errno_mapping);
    g_test_add_func("/nbd/parse/names", test_names);
    return g_test_run();
}
