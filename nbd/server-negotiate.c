/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NBD server, handshake phase: fixed newstyle negotiation, one option at
 * a time, until the client picks an export (NBD_OPT_GO or
 * NBD_OPT_EXPORT_NAME), aborts, or breaks the protocol.
 *
 * Runs in the client's negotiation coroutine, in the main AioContext
 * (see server.c). The channel follows the coroutine's context, so every
 * wait (also the TLS handshake, qio_channel_tls_handshake_co()) yields in
 * the main context; nothing here blocks the thread or runs a nested event
 * loop (a nested main loop inside a coroutine would corrupt the
 * coroutine wake-up lists). The handshake timer of the client (main
 * context too) shuts the socket down, which makes every pending read
 * fail.
 *
 * Protocol errors that still allow an answer get an NBD_REP_ERR_* reply;
 * only a broken stream (bad magic, unknown client flags, an oversized
 * option we cannot skip, NBD_OPT_EXPORT_NAME failing) disconnects.
 */
#include "qemu/osdep.h"
#include "server-internal.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "nbd/trace.h"

/* Largest option payload we read and skip after refusing it. */
#define NBD_MAX_SKIPPED_OPTION      NBD_MAX_BUFFER_SIZE

/* Result of one option. */
typedef enum {
    NBD_NEG_CONTINUE,       /* read the next option */
    NBD_NEG_ABORT,          /* NBD_OPT_ABORT: close softly */
    NBD_NEG_TRANSMISSION,   /* an export was chosen */
    NBD_NEG_ERROR,          /* disconnect; errp is set */
} NBDNegResult;

typedef struct NBDOption {
    uint32_t opt;
    uint32_t len;
    uint8_t *data;
} NBDOption;

static int coroutine_fn nbd_co_write(NBDClient *client, const void *buf,
                                     size_t len, Error **errp)
{
    return qio_channel_write_all(client->ioc, buf, len, errp);
}

static int coroutine_fn nbd_co_send_rep(NBDClient *client, uint32_t opt,
                                        uint32_t type, const void *data,
                                        uint32_t len, Error **errp)
{
    uint8_t hdr[NBD_OPTION_REPLY_HEADER_SIZE];
    struct iovec iov[2] = {
        { .iov_base = hdr, .iov_len = sizeof(hdr) },
        { .iov_base = (void *)data, .iov_len = len },
    };

    trace_nbd_negotiate_send_rep(client, opt, nbd_opt_name(opt), type,
                                 nbd_rep_name(type), len);
    nbd_put64(hdr, NBD_REP_MAGIC);
    nbd_put32(hdr + 8, opt);
    nbd_put32(hdr + 12, type);
    nbd_put32(hdr + 16, len);
    return qio_channel_writev_all(client->ioc, iov, len ? 2 : 1, errp);
}

static int coroutine_fn G_GNUC_PRINTF(5, 6)
nbd_co_send_rep_err(NBDClient *client, uint32_t opt, uint32_t type,
                    Error **errp, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    trace_nbd_negotiate_send_rep_err(client, opt, nbd_opt_name(opt), msg);
    if (client->server->verbose) {
        info_report("client %s: option '%s' refused (%s): %s", client->peer,
                    nbd_opt_name(opt), nbd_rep_name(type), msg);
    }
    return nbd_co_send_rep(client, opt, type, msg,
                           MIN(strlen(msg), NBD_MAX_STRING_SIZE), errp);
}

static uint16_t nbd_client_flags(NBDClient *client, NBDExport *exp)
{
    uint16_t flags = exp->nbdflags;

    if (client->mode >= NBD_MODE_STRUCTURED) {
        flags |= NBD_FLAG_SEND_DF;
    }
    return flags;
}

/* Forgets the metadata contexts unless they were chosen for @exp. */
static void nbd_check_contexts(NBDClient *client, NBDExport *exp)
{
    if (client->contexts.exp != exp) {
        memset(&client->contexts, 0, sizeof(client->contexts));
    }
}

static NBDNegResult coroutine_fn nbd_opt_export_name(NBDClient *client,
                                                     NBDOption *o,
                                                     NBDExport **pexp,
                                                     Error **errp)
{
    g_autofree char *name = NULL;
    uint8_t reply[8 + 2 + 124] = { 0 };
    NBDExport *exp;

    if (o->len > NBD_MAX_STRING_SIZE) {
        error_setg(errp, "export name is longer than %d bytes",
                   NBD_MAX_STRING_SIZE);
        return NBD_NEG_ERROR;
    }
    name = o->len ? g_strndup((char *)o->data, o->len) : g_strdup("");
    exp = nbd_export_find(client->server, name);
    if (!exp) {
        error_setg(errp, "export '%s' not present", name);
        return NBD_NEG_ERROR;
    }
    nbd_check_contexts(client, exp);
    nbd_put64(reply, qatomic_read(&exp->size));
    nbd_put16(reply + 8, nbd_client_flags(client, exp));
    if (nbd_co_write(client, reply, client->no_zeroes ? 10 : sizeof(reply),
                     errp) < 0) {
        return NBD_NEG_ERROR;
    }
    client->min_block = 1;
    *pexp = exp;
    return NBD_NEG_TRANSMISSION;
}

static NBDNegResult coroutine_fn nbd_opt_list(NBDClient *client,
                                              NBDOption *o, Error **errp)
{
    NBDExport *exp;

    if (o->len) {
        return nbd_co_send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                                   errp, "option carries unexpected data")
               < 0 ? NBD_NEG_ERROR : NBD_NEG_CONTINUE;
    }
    QLIST_FOREACH(exp, &client->server->exports, next) {
        size_t name_len = strlen(exp->name);
        size_t desc_len = exp->description ? strlen(exp->description) : 0;
        g_autofree uint8_t *buf = g_malloc(4 + name_len + desc_len);

        nbd_put32(buf, name_len);
        memcpy(buf + 4, exp->name, name_len);
        if (desc_len) {
            memcpy(buf + 4 + name_len, exp->description, desc_len);
        }
        if (nbd_co_send_rep(client, o->opt, NBD_REP_SERVER, buf,
                            4 + name_len + desc_len, errp) < 0) {
            return NBD_NEG_ERROR;
        }
    }
    return nbd_co_send_rep(client, o->opt, NBD_REP_ACK, NULL, 0, errp) < 0 ?
           NBD_NEG_ERROR : NBD_NEG_CONTINUE;
}

static NBDNegResult coroutine_fn nbd_opt_starttls(NBDClient *client,
                                                  NBDOption *o, Error **errp)
{
    NBDServer *server = client->server;
    g_autofree char *name = NULL;
    QIOChannelTLS *tioc;
    uint32_t err = 0;
    const char *why = NULL;

    if (o->len) {
        err = NBD_REP_ERR_INVALID;
        why = "option carries unexpected data";
    } else if (!server->tls_creds) {
        err = NBD_REP_ERR_POLICY;
        why = "TLS is not configured on this server";
    } else if (client->tls_done) {
        err = NBD_REP_ERR_INVALID;
        why = "TLS is already in use";
    }
    if (err) {
        return nbd_co_send_rep_err(client, o->opt, err, errp, "%s", why) < 0 ?
               NBD_NEG_ERROR : NBD_NEG_CONTINUE;
    }
    if (nbd_co_send_rep(client, o->opt, NBD_REP_ACK, NULL, 0, errp) < 0) {
        return NBD_NEG_ERROR;
    }
    tioc = qio_channel_tls_new_server(client->ioc, server->tls_creds,
                                      server->tls_authz, errp);
    if (!tioc) {
        return NBD_NEG_ERROR;
    }
    name = g_strdup_printf("nbd-server-tls-%s", client->peer);
    qio_channel_set_name(QIO_CHANNEL(tioc), name);
    if (qio_channel_tls_handshake_co(tioc, errp) < 0) {
        /* Also checks the peer's name against --tls-authz. */
        error_prepend(errp, "TLS handshake failed: ");
        client->tls_refused = true;
        object_unref(OBJECT(tioc));
        return NBD_NEG_ERROR;
    }
    object_unref(OBJECT(client->ioc));
    client->ioc = QIO_CHANNEL(tioc);
    client->tls_done = true;
    /* Nothing negotiated in clear text survives the upgrade. */
    client->mode = NBD_MODE_SIMPLE;
    memset(&client->contexts, 0, sizeof(client->contexts));
    return NBD_NEG_CONTINUE;
}

static int coroutine_fn nbd_co_send_info(NBDClient *client, uint32_t opt,
                                         uint16_t type, const void *data,
                                         size_t len, Error **errp)
{
    g_autofree uint8_t *buf = g_malloc(2 + len);

    nbd_put16(buf, type);
    memcpy(buf + 2, data, len);
    return nbd_co_send_rep(client, opt, NBD_REP_INFO, buf, 2 + len, errp);
}

static NBDNegResult coroutine_fn nbd_opt_info_go(NBDClient *client,
                                                 NBDOption *o,
                                                 NBDExport **pexp,
                                                 Error **errp)
{
    NBDInfoRequest info;
    const char *msg = NULL;
    NBDExport *exp;
    uint8_t buf[12];
    uint32_t min_block, max_block;
    NBDNegResult res = NBD_NEG_ERROR;

    if (nbd_parse_info_request(o->data, o->len, &info, &msg) < 0) {
        return nbd_co_send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                                   errp, "%s", msg) < 0 ?
               NBD_NEG_ERROR : NBD_NEG_CONTINUE;
    }
    exp = nbd_export_find(client->server, info.name);
    if (!exp) {
        res = nbd_co_send_rep_err(client, o->opt, NBD_REP_ERR_UNKNOWN, errp,
                                  "export '%s' not present", info.name) < 0 ?
              NBD_NEG_ERROR : NBD_NEG_CONTINUE;
        goto out;
    }

    if (info.want_name &&
        nbd_co_send_info(client, o->opt, NBD_INFO_NAME, exp->name,
                         strlen(exp->name), errp) < 0) {
        goto out;
    }
    if (info.want_description && exp->description &&
        nbd_co_send_info(client, o->opt, NBD_INFO_DESCRIPTION,
                         exp->description, strlen(exp->description),
                         errp) < 0) {
        goto out;
    }

    /*
     * Without a block size request the client may send anything: the
     * block layer does read-modify-write for unaligned requests.
     */
    min_block = info.want_block_size ?
                MAX(blk_get_request_alignment(exp->blk), 1) : 1;
    max_block = QEMU_ALIGN_DOWN(NBD_MAX_BUFFER_SIZE, min_block);
    nbd_put32(buf, min_block);
    nbd_put32(buf + 4, MAX(min_block, 4096));
    nbd_put32(buf + 8, max_block);
    if (nbd_co_send_info(client, o->opt, NBD_INFO_BLOCK_SIZE, buf, 12,
                         errp) < 0) {
        goto out;
    }

    nbd_put64(buf, qatomic_read(&exp->size));
    nbd_put16(buf + 8, nbd_client_flags(client, exp));
    if (nbd_co_send_info(client, o->opt, NBD_INFO_EXPORT, buf, 10,
                         errp) < 0) {
        goto out;
    }
    if (nbd_co_send_rep(client, o->opt, NBD_REP_ACK, NULL, 0, errp) < 0) {
        goto out;
    }
    if (o->opt == NBD_OPT_GO) {
        nbd_check_contexts(client, exp);
        client->min_block = min_block;
        *pexp = exp;
        res = NBD_NEG_TRANSMISSION;
    } else {
        res = NBD_NEG_CONTINUE;
    }
out:
    nbd_info_request_clear(&info);
    return res;
}

static NBDNegResult coroutine_fn nbd_opt_header_mode(NBDClient *client,
                                                     NBDOption *o,
                                                     Error **errp)
{
    NBDMode want = o->opt == NBD_OPT_EXTENDED_HEADERS ?
                   NBD_MODE_EXTENDED : NBD_MODE_STRUCTURED;
    uint32_t err = 0;
    const char *why = NULL;

    if (o->len) {
        err = NBD_REP_ERR_INVALID;
        why = "option carries unexpected data";
    } else if (client->mode == NBD_MODE_EXTENDED &&
               want == NBD_MODE_STRUCTURED) {
        err = NBD_REP_ERR_EXT_HEADER_REQD;
        why = "extended headers are already in use";
    } else if (client->mode == want) {
        err = NBD_REP_ERR_INVALID;
        why = want == NBD_MODE_EXTENDED ?
              "extended headers are already in use" :
              "structured replies are already in use";
    }
    if (err) {
        return nbd_co_send_rep_err(client, o->opt, err, errp, "%s", why) < 0 ?
               NBD_NEG_ERROR : NBD_NEG_CONTINUE;
    }
    if (nbd_co_send_rep(client, o->opt, NBD_REP_ACK, NULL, 0, errp) < 0) {
        return NBD_NEG_ERROR;
    }
    client->mode = want;
    return NBD_NEG_CONTINUE;
}

static int coroutine_fn nbd_co_send_meta(NBDClient *client, uint32_t opt,
                                         uint32_t id, const char *name,
                                         Error **errp)
{
    size_t len = strlen(name);
    g_autofree uint8_t *buf = g_malloc(4 + len);

    nbd_put32(buf, id);
    memcpy(buf + 4, name, len);
    return nbd_co_send_rep(client, opt, NBD_REP_META_CONTEXT, buf, 4 + len,
                           errp);
}

static NBDNegResult coroutine_fn nbd_opt_meta_context(NBDClient *client,
                                                      NBDOption *o,
                                                      Error **errp)
{
    bool list = o->opt == NBD_OPT_LIST_META_CONTEXT;
    g_autofree char *name = NULL;
    const char *msg = NULL;
    NBDMetaContexts mc;
    NBDExport *exp;
    int ret;

    if (!list) {
        /* SET replaces the selection, also when it fails. */
        memset(&client->contexts, 0, sizeof(client->contexts));
    }
    if (client->mode < NBD_MODE_STRUCTURED) {
        return nbd_co_send_rep_err(client, o->opt, NBD_REP_ERR_INVALID, errp,
                                   "structured replies must be negotiated "
                                   "first") < 0 ?
               NBD_NEG_ERROR : NBD_NEG_CONTINUE;
    }
    if (nbd_parse_meta_request(o->data, o->len, list, true, &name, &mc,
                               &msg) < 0) {
        return nbd_co_send_rep_err(client, o->opt, NBD_REP_ERR_INVALID,
                                   errp, "%s", msg) < 0 ?
               NBD_NEG_ERROR : NBD_NEG_CONTINUE;
    }
    exp = nbd_export_find(client->server, name);
    if (!exp) {
        return nbd_co_send_rep_err(client, o->opt, NBD_REP_ERR_UNKNOWN, errp,
                                   "export '%s' not present", name) < 0 ?
               NBD_NEG_ERROR : NBD_NEG_CONTINUE;
    }
    if (!exp->allocation_depth && mc.allocation_depth) {
        mc.allocation_depth = false;
        mc.count--;
    }
    mc.exp = exp;

    if (mc.base_allocation) {
        ret = nbd_co_send_meta(client, o->opt,
                               list ? 0 : NBD_META_ID_BASE_ALLOCATION,
                               NBD_META_BASE_ALLOCATION, errp);
        if (ret < 0) {
            return NBD_NEG_ERROR;
        }
    }
    if (mc.allocation_depth) {
        ret = nbd_co_send_meta(client, o->opt,
                               list ? 0 : NBD_META_ID_ALLOCATION_DEPTH,
                               NBD_META_QEMU_ALLOC_DEPTH, errp);
        if (ret < 0) {
            return NBD_NEG_ERROR;
        }
    }
    if (!list) {
        client->contexts = mc;
    }
    return nbd_co_send_rep(client, o->opt, NBD_REP_ACK, NULL, 0, errp) < 0 ?
           NBD_NEG_ERROR : NBD_NEG_CONTINUE;
}

/* Reads and drops @len bytes of an option we refuse without reading. */
static int coroutine_fn nbd_co_skip_option(NBDClient *client, uint32_t len,
                                           Error **errp)
{
    g_autofree char *buf = g_malloc(MIN(len, 65536));

    while (len) {
        uint32_t n = MIN(len, 65536);

        if (qio_channel_read_all(client->ioc, buf, n, errp) < 0) {
            return -1;
        }
        len -= n;
    }
    return 0;
}

static NBDNegResult coroutine_fn nbd_negotiate_option(NBDClient *client,
                                                      bool fixed,
                                                      NBDExport **pexp,
                                                      Error **errp)
{
    NBDServer *server = client->server;
    uint8_t hdr[NBD_OPTION_HEADER_SIZE];
    g_autofree uint8_t *data = NULL;
    NBDOption o;

    if (qio_channel_read_all(client->ioc, (char *)hdr, sizeof(hdr),
                             errp) < 0) {
        error_prepend(errp, "reading an option header: ");
        return NBD_NEG_ERROR;
    }
    if (nbd_get64(hdr) != NBD_OPTS_MAGIC) {
        error_setg(errp, "bad option magic 0x%016" PRIx64, nbd_get64(hdr));
        return NBD_NEG_ERROR;
    }
    o.opt = nbd_get32(hdr + 8);
    o.len = nbd_get32(hdr + 12);
    o.data = NULL;
    trace_nbd_negotiate_option(client, o.opt, nbd_opt_name(o.opt), o.len);

    if (!fixed && o.opt != NBD_OPT_EXPORT_NAME) {
        error_setg(errp, "option '%s' without fixed newstyle negotiation",
                   nbd_opt_name(o.opt));
        return NBD_NEG_ERROR;
    }
    if (o.len > NBD_MAX_OPTION_SIZE) {
        if (o.opt == NBD_OPT_EXPORT_NAME || o.len > NBD_MAX_SKIPPED_OPTION) {
            error_setg(errp, "option '%s' of %" PRIu32 " bytes is too large",
                       nbd_opt_name(o.opt), o.len);
            return NBD_NEG_ERROR;
        }
        if (nbd_co_skip_option(client, o.len, errp) < 0) {
            return NBD_NEG_ERROR;
        }
        return nbd_co_send_rep_err(client, o.opt, NBD_REP_ERR_TOO_BIG, errp,
                                   "option of %" PRIu32 " bytes is too "
                                   "large", o.len) < 0 ?
               NBD_NEG_ERROR : NBD_NEG_CONTINUE;
    }
    if (o.len) {
        data = g_malloc(o.len);
        if (qio_channel_read_all(client->ioc, (char *)data, o.len,
                                 errp) < 0) {
            error_prepend(errp, "reading option '%s': ",
                          nbd_opt_name(o.opt));
            return NBD_NEG_ERROR;
        }
        o.data = data;
    }

    if (server->tls_creds && !client->tls_done) {
        switch (o.opt) {
        case NBD_OPT_STARTTLS:
        case NBD_OPT_ABORT:
            break;
        case NBD_OPT_EXPORT_NAME:
            error_setg(errp, "client chose an export before starting TLS");
            return NBD_NEG_ERROR;
        default:
            return nbd_co_send_rep_err(client, o.opt, NBD_REP_ERR_TLS_REQD,
                                       errp, "TLS is required before option "
                                       "'%s'", nbd_opt_name(o.opt)) < 0 ?
                   NBD_NEG_ERROR : NBD_NEG_CONTINUE;
        }
    }

    switch (o.opt) {
    case NBD_OPT_EXPORT_NAME:
        return nbd_opt_export_name(client, &o, pexp, errp);
    case NBD_OPT_ABORT:
        /* The client may already be gone: errors do not matter. */
        nbd_co_send_rep(client, o.opt, NBD_REP_ACK, NULL, 0, NULL);
        return NBD_NEG_ABORT;
    case NBD_OPT_LIST:
        return nbd_opt_list(client, &o, errp);
    case NBD_OPT_STARTTLS:
        return nbd_opt_starttls(client, &o, errp);
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
        return nbd_opt_info_go(client, &o, pexp, errp);
    case NBD_OPT_STRUCTURED_REPLY:
    case NBD_OPT_EXTENDED_HEADERS:
        return nbd_opt_header_mode(client, &o, errp);
    case NBD_OPT_LIST_META_CONTEXT:
    case NBD_OPT_SET_META_CONTEXT:
        return nbd_opt_meta_context(client, &o, errp);
    default:
        return nbd_co_send_rep_err(client, o.opt, NBD_REP_ERR_UNSUP, errp,
                                   "option %" PRIu32 " is not supported",
                                   o.opt) < 0 ?
               NBD_NEG_ERROR : NBD_NEG_CONTINUE;
    }
}

/*
 * Runs the handshake. Returns NBD_NEG_TRANSMISSION with *@pexp set,
 * NBD_NEG_ABORT, or NBD_NEG_ERROR with @errp set.
 */
static NBDNegResult coroutine_fn nbd_negotiate(NBDClient *client,
                                               NBDExport **pexp, Error **errp)
{
    uint8_t greeting[18];
    uint8_t cflags_buf[4];
    uint32_t cflags;
    bool fixed;
    NBDNegResult res;

    trace_nbd_negotiate_begin(client);
    nbd_put64(greeting, NBD_INIT_MAGIC);
    nbd_put64(greeting + 8, NBD_OPTS_MAGIC);
    nbd_put16(greeting + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    if (nbd_co_write(client, greeting, sizeof(greeting), errp) < 0) {
        return NBD_NEG_ERROR;
    }
    if (qio_channel_read_all(client->ioc, (char *)cflags_buf,
                             sizeof(cflags_buf), errp) < 0) {
        error_prepend(errp, "reading client flags: ");
        return NBD_NEG_ERROR;
    }
    cflags = nbd_get32(cflags_buf);
    trace_nbd_negotiate_client_flags(client, cflags);
    if (cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
        error_setg(errp, "unknown client flags 0x%" PRIx32, cflags);
        return NBD_NEG_ERROR;
    }
    fixed = cflags & NBD_FLAG_C_FIXED_NEWSTYLE;
    client->no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
    if (!fixed && client->server->tls_creds) {
        error_setg(errp, "TLS needs fixed newstyle negotiation");
        return NBD_NEG_ERROR;
    }

    do {
        res = nbd_negotiate_option(client, fixed, pexp, errp);
    } while (res == NBD_NEG_CONTINUE);
    return res;
}

void coroutine_fn nbd_negotiate_co(void *opaque)
{
    NBDClient *client = opaque;
    NBDServer *server = client->server;
    NBDExport *exp = NULL;
    Error *local_err = NULL;
    NBDNegResult res;

    res = nbd_negotiate(client, &exp, &local_err);
    if (client->handshake_timer) {
        timer_del(client->handshake_timer);
    }
    if (res == NBD_NEG_TRANSMISSION && !qatomic_read(&client->closing)) {
        trace_nbd_negotiate_success(client, exp->name, client->mode);
        if (server->verbose) {
            info_report("client %s: serving export '%s'%s", client->peer,
                        exp->name, client->tls_done ? " over TLS" : "");
        }
        nbd_client_start_transmission(client, exp);
    } else {
        if (res == NBD_NEG_ERROR) {
            trace_nbd_negotiate_failed(client, local_err ?
                                       error_get_pretty(local_err) : "");
        }
        /*
         * A client refused at the TLS step (certificate, --tls-authz) is
         * one line whatever the verbosity: an operator wants to know.
         */
        if (res == NBD_NEG_ERROR &&
            (server->verbose || client->tls_refused) &&
            !qatomic_read(&client->closing)) {
            info_report("client %s: negotiation failed: %s", client->peer,
                        error_get_pretty(local_err));
        }
        nbd_client_close(client);
    }
    error_free(local_err);
    nbd_client_put(client);
}
