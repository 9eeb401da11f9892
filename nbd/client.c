/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The client side of NBD: option haggling (shared with the export lister
 * of client-list.c), the negotiation that ends in the transmission phase
 * for the nbd block driver (block/nbd.c), and the encoding of requests and
 * decoding of reply headers.
 *
 * Everything that waits runs in a coroutine: the channel should be
 * non-blocking and follow the coroutine's context, so that a wait yields.
 * The server is a peer we do not trust: every length and every value it
 * sends is checked before it is used, and each refusal becomes an Error
 * that says what was refused and why.
 */
#include "qemu/osdep.h"
#include "client-internal.h"
#include "qapi/error.h"
#include "nbd/trace.h"

/* Largest option reply payload we accept. */
#define NBD_MAX_REPLY_PAYLOAD   (1024 * 1024)

/* Option haggling */

int coroutine_fn nbd_send_option(QIOChannel *ioc, uint32_t opt,
                                 const void *data, uint32_t len,
                                 Error **errp)
{
    uint8_t hdr[NBD_OPTION_HEADER_SIZE];
    struct iovec iov[2] = {
        { .iov_base = hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)data, .iov_len = len },
    };

    nbd_put64(hdr, NBD_OPTS_MAGIC);
    nbd_put32(hdr + 8, opt);
    nbd_put32(hdr + 12, len);
    if (qio_channel_writev_all(ioc, iov, len ? 2 : 1, errp) < 0) {
        error_prepend(errp, "sending option '%s': ", nbd_opt_name(opt));
        return -1;
    }
    return 0;
}

int coroutine_fn nbd_receive_option_reply(QIOChannel *ioc, uint32_t opt,
                                          NBDOptReply *rep, Error **errp)
{
    uint8_t hdr[NBD_OPTION_REPLY_HEADER_SIZE];

    memset(rep, 0, sizeof(*rep));
    if (qio_channel_read_all(ioc, (char *)hdr, sizeof(hdr), errp) < 0) {
        error_prepend(errp, "reading the reply to option '%s': ",
                      nbd_opt_name(opt));
        return -1;
    }
    if (nbd_get64(hdr) != NBD_REP_MAGIC) {
        error_setg(errp, "bad option reply magic 0x%016" PRIx64,
                   nbd_get64(hdr));
        return -1;
    }
    if (nbd_get32(hdr + 8) != opt) {
        error_setg(errp, "reply to option '%s' where '%s' was expected",
                   nbd_opt_name(nbd_get32(hdr + 8)), nbd_opt_name(opt));
        return -1;
    }
    rep->type = nbd_get32(hdr + 12);
    rep->len = nbd_get32(hdr + 16);
    trace_nbd_receive_option_reply(opt, nbd_opt_name(opt), rep->type,
                                   nbd_rep_name(rep->type), rep->len);
    if (rep->len > NBD_MAX_REPLY_PAYLOAD) {
        error_setg(errp, "reply to option '%s' is too large (%" PRIu32
                   " bytes)", nbd_opt_name(opt), rep->len);
        return -1;
    }
    if (rep->len) {
        rep->data = g_malloc(rep->len + 1);
        if (qio_channel_read_all(ioc, (char *)rep->data, rep->len,
                                 errp) < 0) {
            g_free(rep->data);
            rep->data = NULL;
            return -1;
        }
        rep->data[rep->len] = '\0';
    }
    return 0;
}

void nbd_opt_reply_error(const NBDOptReply *rep, uint32_t opt, Error **errp)
{
    const char *what;

    switch (rep->type) {
    case NBD_REP_ERR_UNSUP:
        what = "the server does not support it";
        break;
    case NBD_REP_ERR_POLICY:
        what = "the server's policy forbids it";
        break;
    case NBD_REP_ERR_INVALID:
        what = "the server considers it invalid";
        break;
    case NBD_REP_ERR_PLATFORM:
        what = "the server's platform does not support it";
        break;
    case NBD_REP_ERR_TLS_REQD:
        what = "the server requires TLS first";
        break;
    case NBD_REP_ERR_UNKNOWN:
        what = "the export is not available";
        break;
    case NBD_REP_ERR_SHUTDOWN:
        what = "the server is shutting down";
        break;
    case NBD_REP_ERR_BLOCK_SIZE_REQD:
        what = "the server requires a block size agreement";
        break;
    case NBD_REP_ERR_TOO_BIG:
        what = "the request is too big";
        break;
    case NBD_REP_ERR_EXT_HEADER_REQD:
        what = "the server requires extended headers";
        break;
    default:
        what = NBD_REP_IS_ERR(rep->type) ? "an unknown error" :
               "an unexpected reply";
        break;
    }
    error_setg(errp, "server refused option '%s': %s (%s)%s%.*s",
               nbd_opt_name(opt), what, nbd_rep_name(rep->type),
               rep->len ? ": " : "", (int)MIN(rep->len, 4096),
               rep->data ? (char *)rep->data : "");
}

int coroutine_fn nbd_send_simple_option(QIOChannel *ioc, uint32_t opt,
                                        Error **errp)
{
    NBDOptReply rep;

    if (nbd_send_option(ioc, opt, NULL, 0, errp) < 0 ||
        nbd_receive_option_reply(ioc, opt, &rep, errp) < 0) {
        return -1;
    }
    g_free(rep.data);
    if (rep.type == NBD_REP_ACK) {
        return 1;
    }
    if (NBD_REP_IS_ERR(rep.type)) {
        return 0;
    }
    error_setg(errp, "unexpected reply '%s' to option '%s'",
               nbd_rep_name(rep.type), nbd_opt_name(opt));
    return -1;
}

static int coroutine_fn nbd_send_starttls(QIOChannel **pioc,
                                          QCryptoTLSCreds *creds,
                                          const char *hostname,
                                          Error **errp)
{
    NBDOptReply rep;
    QIOChannelTLS *tioc;

    if (nbd_send_option(*pioc, NBD_OPT_STARTTLS, NULL, 0, errp) < 0 ||
        nbd_receive_option_reply(*pioc, NBD_OPT_STARTTLS, &rep, errp) < 0) {
        return -1;
    }
    if (rep.type != NBD_REP_ACK) {
        nbd_opt_reply_error(&rep, NBD_OPT_STARTTLS, errp);
        g_free(rep.data);
        return -1;
    }
    g_free(rep.data);
    tioc = qio_channel_tls_new_client(*pioc, creds, hostname, errp);
    if (!tioc) {
        return -1;
    }
    qio_channel_set_name(QIO_CHANNEL(tioc), "nbd-client-tls");
    if (qio_channel_tls_handshake_co(tioc, errp) < 0) {
        error_prepend(errp, "TLS handshake failed: ");
        object_unref(OBJECT(tioc));
        return -1;
    }
    *pioc = QIO_CHANNEL(tioc);
    return 0;
}

int coroutine_fn nbd_receive_greeting(QIOChannel **pioc,
                                      QCryptoTLSCreds *tls_creds,
                                      const char *tls_hostname,
                                      bool old_ok, NBDExportInfo *old,
                                      Error **errp)
{
    uint8_t greeting[18], cflags[4];
    uint16_t sflags;
    bool fixed;

    if (qio_channel_read_all(*pioc, (char *)greeting, 16, errp) < 0) {
        error_prepend(errp, "reading the server's greeting: ");
        return -1;
    }
    if (nbd_get64(greeting) != NBD_INIT_MAGIC) {
        error_setg(errp, "the server did not send the NBD magic");
        return -1;
    }
    if (nbd_get64(greeting + 8) == NBD_CLIENT_MAGIC) {
        uint8_t rest[8 + 4 + 124];
        uint32_t flags;

        if (!old_ok) {
            error_setg(errp, "the server speaks oldstyle negotiation");
            return -1;
        }
        if (tls_creds) {
            error_setg(errp, "the server speaks oldstyle negotiation, "
                       "which has no TLS");
            return -1;
        }
        if (qio_channel_read_all(*pioc, (char *)rest, sizeof(rest),
                                 errp) < 0) {
            error_prepend(errp, "reading the oldstyle greeting: ");
            return -1;
        }
        old->size = nbd_get64(rest);
        flags = nbd_get32(rest + 8);
        old->flags = flags & 0xffff;
        old->has_export = true;
        old->mode = NBD_MODE_SIMPLE;
        trace_nbd_receive_greeting("oldstyle", 0);
        return NBD_GREETING_OLDSTYLE;
    }
    if (nbd_get64(greeting + 8) != NBD_OPTS_MAGIC) {
        error_setg(errp, "the server does not speak newstyle negotiation");
        return -1;
    }
    if (qio_channel_read_all(*pioc, (char *)greeting + 16, 2, errp) < 0) {
        error_prepend(errp, "reading the server's greeting: ");
        return -1;
    }
    sflags = nbd_get16(greeting + 16);
    fixed = sflags & NBD_FLAG_FIXED_NEWSTYLE;
    trace_nbd_receive_greeting(fixed ? "fixed newstyle" : "plain newstyle",
                               sflags);
    if (!fixed && (!old_ok || tls_creds)) {
        /* Such a server need not answer any option but one. */
        error_setg(errp, "the server does not speak fixed newstyle "
                   "negotiation%s", tls_creds ? ", which TLS needs" : "");
        return -1;
    }
    nbd_put32(cflags, (fixed ? NBD_FLAG_C_FIXED_NEWSTYLE : 0) |
              ((sflags & NBD_FLAG_NO_ZEROES) ? NBD_FLAG_C_NO_ZEROES : 0));
    if (qio_channel_write_all(*pioc, (char *)cflags, sizeof(cflags),
                              errp) < 0) {
        error_prepend(errp, "sending the client flags: ");
        return -1;
    }
    old->no_zeroes = !!(sflags & NBD_FLAG_NO_ZEROES);
    if (!fixed) {
        old->mode = NBD_MODE_SIMPLE;
        return NBD_GREETING_PLAIN_NEWSTYLE;
    }
    if (tls_creds) {
        QIOChannel *tioc = *pioc;

        if (nbd_send_starttls(&tioc, tls_creds, tls_hostname, errp) < 0) {
            return -1;
        }
        object_unref(OBJECT(*pioc));
        *pioc = tioc;
    }
    return NBD_GREETING_FIXED_NEWSTYLE;
}

int coroutine_fn nbd_receive_mode(QIOChannel *ioc, bool extended,
                                  NBDMode *mode, Error **errp)
{
    int n = 0;

    if (extended) {
        n = nbd_send_simple_option(ioc, NBD_OPT_EXTENDED_HEADERS, errp);
        if (n < 0) {
            return -1;
        }
    }
    if (n) {
        *mode = NBD_MODE_EXTENDED;
        return 0;
    }
    n = nbd_send_simple_option(ioc, NBD_OPT_STRUCTURED_REPLY, errp);
    if (n < 0) {
        return -1;
    }
    *mode = n ? NBD_MODE_STRUCTURED : NBD_MODE_SIMPLE;
    return 0;
}

int nbd_decode_rep_info(const uint8_t *data, uint32_t len,
                        NBDExportInfo *info, Error **errp)
{
    uint16_t type;

    if (len < 2) {
        error_setg(errp, "malformed information reply (%" PRIu32 " bytes)",
                   len);
        return -1;
    }
    type = nbd_get16(data);
    switch (type) {
    case NBD_INFO_EXPORT:
        if (len != 12) {
            error_setg(errp, "malformed export information");
            return -1;
        }
        info->size = nbd_get64(data + 2);
        info->flags = nbd_get16(data + 10);
        info->has_export = true;
        break;
    case NBD_INFO_NAME:
        if (len - 2 > NBD_MAX_STRING_SIZE) {
            error_setg(errp, "export name information is too long");
            return -1;
        }
        break;
    case NBD_INFO_DESCRIPTION:
        if (len - 2 > NBD_MAX_STRING_SIZE) {
            error_setg(errp, "export description is too long");
            return -1;
        }
        g_free(info->description);
        info->description = g_strndup((const char *)data + 2, len - 2);
        break;
    case NBD_INFO_BLOCK_SIZE:
        if (len != 14) {
            error_setg(errp, "malformed block size information");
            return -1;
        }
        info->has_block_sizes = true;
        info->min_block = nbd_get32(data + 2);
        info->opt_block = nbd_get32(data + 6);
        info->max_block = nbd_get32(data + 10);
        break;
    default:
        /* Unknown information types are ignored, as the spec says. */
        break;
    }
    return 0;
}

int nbd_check_export_info(const NBDExportInfo *info, Error **errp)
{
    if (info->size > INT64_MAX) {
        error_setg(errp, "the export size %" PRIu64 " is too large",
                   info->size);
        return -1;
    }
    if (!info->has_block_sizes) {
        return 0;
    }
    if (!info->min_block || !is_power_of_2(info->min_block) ||
        info->min_block > 64 * 1024) {
        error_setg(errp, "the server's minimum block size %" PRIu32
                   " is not a power of two up to 64 KiB", info->min_block);
        return -1;
    }
    if (!info->opt_block || !is_power_of_2(info->opt_block) ||
        info->opt_block < info->min_block) {
        error_setg(errp, "the server's preferred block size %" PRIu32
                   " is not a power of two at least the minimum %" PRIu32,
                   info->opt_block, info->min_block);
        return -1;
    }
    if (info->max_block < info->min_block ||
        (info->max_block != UINT32_MAX &&
         info->max_block % info->min_block)) {
        error_setg(errp, "the server's maximum block size %" PRIu32
                   " is not a multiple of the minimum %" PRIu32,
                   info->max_block, info->min_block);
        return -1;
    }
    if (info->size % info->min_block) {
        error_setg(errp, "the export size %" PRIu64 " is not a multiple "
                   "of the minimum block size %" PRIu32, info->size,
                   info->min_block);
        return -1;
    }
    return 0;
}

/* Negotiation up to the transmission phase */

/* NBD_OPT_SET_META_CONTEXT for base:allocation; 0 when it is not given. */
static int coroutine_fn nbd_send_set_meta(QIOChannel *ioc,
                                          const char *export,
                                          NBDExportInfo *info,
                                          Error **errp)
{
    static const char ctx_name[] = NBD_META_BASE_ALLOCATION;
    size_t name_len = strlen(export);
    size_t ctx_len = strlen(ctx_name);
    size_t len = 4 + name_len + 4 + 4 + ctx_len;
    g_autofree uint8_t *buf = g_malloc(len);
    bool got = false;

    nbd_put32(buf, name_len);
    memcpy(buf + 4, export, name_len);
    nbd_put32(buf + 4 + name_len, 1);
    nbd_put32(buf + 8 + name_len, ctx_len);
    memcpy(buf + 12 + name_len, ctx_name, ctx_len);
    if (nbd_send_option(ioc, NBD_OPT_SET_META_CONTEXT, buf, len, errp) < 0) {
        return -1;
    }
    for (;;) {
        NBDOptReply rep;

        if (nbd_receive_option_reply(ioc, NBD_OPT_SET_META_CONTEXT, &rep,
                                     errp) < 0) {
            return -1;
        }
        if (rep.type == NBD_REP_ACK) {
            g_free(rep.data);
            return 0;
        }
        if (NBD_REP_IS_ERR(rep.type)) {
            /* No metadata contexts here: block status stays coarse. */
            g_free(rep.data);
            return 0;
        }
        if (rep.type != NBD_REP_META_CONTEXT || rep.len < 4 ||
            rep.len - 4 != ctx_len || memcmp(rep.data + 4, ctx_name,
                                             ctx_len) || got) {
            error_setg(errp, "unexpected reply '%s' to option "
                       "'set meta context'", nbd_rep_name(rep.type));
            g_free(rep.data);
            return -1;
        }
        got = true;
        info->base_allocation = true;
        info->context_id = nbd_get32(rep.data);
        g_free(rep.data);
    }
}

/* NBD_OPT_GO; 1 on success, 0 when the server does not know it. */
static int coroutine_fn nbd_send_go(QIOChannel *ioc, const char *export,
                                    NBDExportInfo *info, Error **errp)
{
    size_t name_len = strlen(export);
    size_t len = 4 + name_len + 2 + 2;
    g_autofree uint8_t *buf = g_malloc(len);

    nbd_put32(buf, name_len);
    memcpy(buf + 4, export, name_len);
    nbd_put16(buf + 4 + name_len, 1);
    nbd_put16(buf + 6 + name_len, NBD_INFO_BLOCK_SIZE);
    if (nbd_send_option(ioc, NBD_OPT_GO, buf, len, errp) < 0) {
        return -1;
    }
    for (;;) {
        NBDOptReply rep;

        if (nbd_receive_option_reply(ioc, NBD_OPT_GO, &rep, errp) < 0) {
            return -1;
        }
        if (rep.type == NBD_REP_ACK) {
            g_free(rep.data);
            if (!info->has_export) {
                error_setg(errp, "the server accepted option 'go' without "
                           "describing the export");
                return -1;
            }
            return 1;
        }
        if (rep.type == NBD_REP_ERR_UNSUP) {
            g_free(rep.data);
            return 0;
        }
        if (rep.type != NBD_REP_INFO) {
            nbd_opt_reply_error(&rep, NBD_OPT_GO, errp);
            if (rep.type == NBD_REP_ERR_UNKNOWN) {
                error_append_hint(errp, "export '%s' not present\n", export);
                error_prepend(errp, "export '%s': ", export);
            }
            g_free(rep.data);
            return -1;
        }
        if (nbd_decode_rep_info(rep.data, rep.len, info, errp) < 0) {
            g_free(rep.data);
            return -1;
        }
        g_free(rep.data);
    }
}

/* NBD_OPT_EXPORT_NAME, for servers without NBD_OPT_GO. */
static int coroutine_fn nbd_send_export_name(QIOChannel *ioc,
                                             const char *export,
                                             NBDExportInfo *info,
                                             Error **errp)
{
    uint8_t reply[8 + 2 + 124];
    size_t want = info->no_zeroes ? 10 : sizeof(reply);

    if (nbd_send_option(ioc, NBD_OPT_EXPORT_NAME, export, strlen(export),
                        errp) < 0) {
        return -1;
    }
    if (qio_channel_read_all(ioc, (char *)reply, want, errp) < 0) {
        error_prepend(errp, "the server refused export '%s' (it closed "
                      "the connection): ", export);
        return -1;
    }
    info->size = nbd_get64(reply);
    info->flags = nbd_get16(reply + 8);
    info->has_export = true;
    return 0;
}

int coroutine_fn nbd_receive_negotiate(QIOChannel **pioc,
                                       const NBDClientConfig *cfg,
                                       NBDExportInfo *info, Error **errp)
{
    const char *export = cfg->export_name ? cfg->export_name : "";
    int ret;

    memset(info, 0, sizeof(*info));
    if (strlen(export) > NBD_MAX_STRING_SIZE) {
        error_setg(errp, "export name is longer than %d bytes",
                   NBD_MAX_STRING_SIZE);
        return -1;
    }
    info->name = g_strdup(export);
    trace_nbd_receive_negotiate(export, cfg->tls_creds != NULL,
                                cfg->extended_headers);
    ret = nbd_receive_greeting(pioc, cfg->tls_creds, cfg->tls_hostname,
                               true, info, errp);
    if (ret < 0) {
        goto fail;
    }
    if (ret == NBD_GREETING_OLDSTYLE) {
        if (*export) {
            error_setg(errp, "the server speaks oldstyle negotiation, "
                       "which has only the default export, not '%s'",
                       export);
            goto fail;
        }
        goto check;
    }
    if (ret == NBD_GREETING_PLAIN_NEWSTYLE) {
        /* No options but the export name. */
        if (nbd_send_export_name(*pioc, export, info, errp) < 0) {
            goto fail;
        }
        goto check;
    }
    if (nbd_receive_mode(*pioc, cfg->extended_headers, &info->mode,
                         errp) < 0) {
        goto fail;
    }
    if (info->mode >= NBD_MODE_STRUCTURED && cfg->base_allocation &&
        nbd_send_set_meta(*pioc, export, info, errp) < 0) {
        goto fail;
    }
    ret = nbd_send_go(*pioc, export, info, errp);
    if (ret < 0) {
        goto fail;
    }
    if (ret == 0) {
        /* A server that predates NBD_OPT_GO; block sizes are unknown. */
        info->has_block_sizes = false;
        if (nbd_send_export_name(*pioc, export, info, errp) < 0) {
            goto fail;
        }
    }
check:
    if (nbd_check_export_info(info, errp) < 0) {
        goto fail;
    }
    if (!(info->flags & NBD_FLAG_SEND_DF) ||
        info->mode != NBD_MODE_STRUCTURED) {
        info->flags &= ~NBD_FLAG_SEND_DF;
    }
    trace_nbd_receive_negotiate_done(export, info->size, info->flags,
                                     info->mode, info->has_block_sizes);
    return 0;

fail:
    nbd_export_info_clear(info);
    return -1;
}

void nbd_export_info_clear(NBDExportInfo *info)
{
    g_free(info->name);
    g_free(info->description);
    g_strfreev(info->contexts);
    memset(info, 0, sizeof(*info));
}

/* Transmission: requests and reply headers */

size_t nbd_encode_request(uint8_t *buf, const NBDRequest *req, NBDMode mode)
{
    if (mode == NBD_MODE_EXTENDED) {
        nbd_put32(buf, NBD_EXTENDED_REQUEST_MAGIC);
        nbd_put16(buf + 4, req->flags);
        nbd_put16(buf + 6, req->type);
        nbd_put64(buf + 8, req->cookie);
        nbd_put64(buf + 16, req->from);
        nbd_put64(buf + 24, req->len);
        return NBD_EXTENDED_REQUEST_SIZE;
    }
    assert(req->len <= UINT32_MAX);
    nbd_put32(buf, NBD_REQUEST_MAGIC);
    nbd_put16(buf + 4, req->flags);
    nbd_put16(buf + 6, req->type);
    nbd_put64(buf + 8, req->cookie);
    nbd_put64(buf + 16, req->from);
    nbd_put32(buf + 24, req->len);
    return NBD_REQUEST_SIZE;
}

int nbd_reply_header_size(uint32_t magic, NBDMode mode)
{
    switch (magic) {
    case NBD_SIMPLE_REPLY_MAGIC:
        return mode == NBD_MODE_EXTENDED ? -1 : NBD_SIMPLE_REPLY_SIZE;
    case NBD_STRUCTURED_REPLY_MAGIC:
        return mode == NBD_MODE_STRUCTURED ? NBD_STRUCTURED_REPLY_SIZE : -1;
    case NBD_EXTENDED_REPLY_MAGIC:
        return mode == NBD_MODE_EXTENDED ? NBD_EXTENDED_REPLY_SIZE : -1;
    default:
        return -1;
    }
}

void nbd_decode_reply_header(const uint8_t *buf, NBDReply *reply)
{
    memset(reply, 0, sizeof(*reply));
    reply->magic = nbd_get32(buf);
    switch (reply->magic) {
    case NBD_SIMPLE_REPLY_MAGIC:
        reply->error = nbd_get32(buf + 4);
        reply->cookie = nbd_get64(buf + 8);
        reply->flags = NBD_REPLY_FLAG_DONE;
        break;
    case NBD_STRUCTURED_REPLY_MAGIC:
        reply->flags = nbd_get16(buf + 4);
        reply->type = nbd_get16(buf + 6);
        reply->cookie = nbd_get64(buf + 8);
        reply->length = nbd_get32(buf + 16);
        break;
    case NBD_EXTENDED_REPLY_MAGIC:
        reply->flags = nbd_get16(buf + 4);
        reply->type = nbd_get16(buf + 6);
        reply->cookie = nbd_get64(buf + 8);
        reply->offset = nbd_get64(buf + 16);
        reply->length = nbd_get64(buf + 24);
        break;
    default:
        g_assert_not_reached();
    }
}
