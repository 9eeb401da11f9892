/*
 * A small NBD client for the handshake phase only: it lists a server's
 * exports with what the server tells of each (qemu-nbd --list), then
 * aborts the negotiation.
 *
 * Runs in one coroutine; the channel follows that coroutine's context,
 * so waits (the TLS handshake included) yield instead of blocking. The
 * server is a peer we do not trust: every length it sends is checked.
 */
#include "qemu/osdep.h"
#include "nbd-internal.h"
#include "qapi/error.h"

/* Largest option reply payload we accept. */
#define NBD_MAX_REPLY_PAYLOAD   (1024 * 1024)

typedef struct NBDOptReply {
    uint32_t type;
    uint32_t len;
    uint8_t *data;      /* g_free */
} NBDOptReply;

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

static int coroutine_fn nbd_read_opt_reply(QIOChannel *ioc, uint32_t opt,
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

/* Turns an error reply into an Error naming the option. */
static void nbd_opt_reply_error(const NBDOptReply *rep, uint32_t opt,
                                Error **errp)
{
    error_setg(errp, "server refused option '%s': %s%s%.*s",
               nbd_opt_name(opt), nbd_rep_name(rep->type),
               rep->len ? ": " : "", (int)MIN(rep->len, 4096),
               rep->data ? (char *)rep->data : "");
}

/* Sends a data-less option; returns 1 on ACK, 0 on an error reply. */
static int coroutine_fn nbd_simple_option(QIOChannel *ioc, uint32_t opt,
                                          Error **errp)
{
    NBDOptReply rep;

    if (nbd_send_option(ioc, opt, NULL, 0, errp) < 0 ||
        nbd_read_opt_reply(ioc, opt, &rep, errp) < 0) {
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

static int coroutine_fn nbd_client_starttls(QIOChannel **pioc,
                                            QCryptoTLSCreds *creds,
                                            const char *hostname,
                                            Error **errp)
{
    NBDOptReply rep;
    QIOChannelTLS *tioc;

    if (nbd_send_option(*pioc, NBD_OPT_STARTTLS, NULL, 0, errp) < 0 ||
        nbd_read_opt_reply(*pioc, NBD_OPT_STARTTLS, &rep, errp) < 0) {
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

static int coroutine_fn nbd_client_list_names(QIOChannel *ioc,
                                              GArray *list, Error **errp)
{
    if (nbd_send_option(ioc, NBD_OPT_LIST, NULL, 0, errp) < 0) {
        return -1;
    }
    for (;;) {
        NBDOptReply rep;
        NBDExportInfo info = { 0 };
        uint32_t name_len;

        if (nbd_read_opt_reply(ioc, NBD_OPT_LIST, &rep, errp) < 0) {
            return -1;
        }
        if (rep.type == NBD_REP_ACK) {
            g_free(rep.data);
            return 0;
        }
        if (rep.type != NBD_REP_SERVER) {
            nbd_opt_reply_error(&rep, NBD_OPT_LIST, errp);
            g_free(rep.data);
            return -1;
        }
        if (rep.len < 4 || (name_len = nbd_get32(rep.data)) > rep.len - 4 ||
            name_len > NBD_MAX_STRING_SIZE) {
            error_setg(errp, "malformed reply to option 'list'");
            g_free(rep.data);
            return -1;
        }
        info.name = g_strndup((char *)rep.data + 4, name_len);
        if (rep.len - 4 > name_len) {
            info.description = g_strndup((char *)rep.data + 4 + name_len,
                                         rep.len - 4 - name_len);
        }
        g_array_append_val(list, info);
        g_free(rep.data);
    }
}

static int coroutine_fn nbd_client_info(QIOChannel *ioc,
                                        NBDExportInfo *info, Error **errp)
{
    size_t name_len = strlen(info->name);
    g_autofree uint8_t *buf = g_malloc(4 + name_len + 2 + 3 * 2);
    uint8_t *p = buf;

    nbd_put32(p, name_len);
    memcpy(p + 4, info->name, name_len);
    p += 4 + name_len;
    nbd_put16(p, 3);
    nbd_put16(p + 2, NBD_INFO_NAME);
    nbd_put16(p + 4, NBD_INFO_DESCRIPTION);
    nbd_put16(p + 6, NBD_INFO_BLOCK_SIZE);
    if (nbd_send_option(ioc, NBD_OPT_INFO, buf, 4 + name_len + 8,
                        errp) < 0) {
        return -1;
    }
    for (;;) {
        NBDOptReply rep;
        uint16_t type;

        if (nbd_read_opt_reply(ioc, NBD_OPT_INFO, &rep, errp) < 0) {
            return -1;
        }
        if (rep.type == NBD_REP_ACK) {
            g_free(rep.data);
            return 0;
        }
        if (rep.type != NBD_REP_INFO) {
            nbd_opt_reply_error(&rep, NBD_OPT_INFO, errp);
            g_free(rep.data);
            return -1;
        }
        if (rep.len < 2) {
            error_setg(errp, "malformed reply to option 'info'");
            g_free(rep.data);
            return -1;
        }
        type = nbd_get16(rep.data);
        switch (type) {
        case NBD_INFO_EXPORT:
            if (rep.len != 12) {
                error_setg(errp, "malformed export information");
                g_free(rep.data);
                return -1;
            }
            info->size = nbd_get64(rep.data + 2);
            info->flags = nbd_get16(rep.data + 10);
            break;
        case NBD_INFO_DESCRIPTION:
            g_free(info->description);
            info->description = g_strndup((char *)rep.data + 2,
                                          rep.len - 2);
            break;
        case NBD_INFO_BLOCK_SIZE:
            if (rep.len != 14) {
                error_setg(errp, "malformed block size information");
                g_free(rep.data);
                return -1;
            }
            info->has_block_sizes = true;
            info->min_block = nbd_get32(rep.data + 2);
            info->opt_block = nbd_get32(rep.data + 6);
            info->max_block = nbd_get32(rep.data + 10);
            break;
        default:
            /* NBD_INFO_NAME and unknown ones: nothing to keep. */
            break;
        }
        g_free(rep.data);
    }
}

static int coroutine_fn nbd_client_list_contexts(QIOChannel *ioc,
                                                 NBDExportInfo *info,
                                                 Error **errp)
{
    size_t name_len = strlen(info->name);
    g_autofree uint8_t *buf = g_malloc(4 + name_len + 4);
    GPtrArray *names = g_ptr_array_new();

    nbd_put32(buf, name_len);
    memcpy(buf + 4, info->name, name_len);
    nbd_put32(buf + 4 + name_len, 0);
    if (nbd_send_option(ioc, NBD_OPT_LIST_META_CONTEXT, buf,
                        4 + name_len + 4, errp) < 0) {
        goto fail;
    }
    for (;;) {
        NBDOptReply rep;

        if (nbd_read_opt_reply(ioc, NBD_OPT_LIST_META_CONTEXT, &rep,
                               errp) < 0) {
            goto fail;
        }
        if (rep.type == NBD_REP_ACK) {
            g_free(rep.data);
            break;
        }
        if (rep.type != NBD_REP_META_CONTEXT || rep.len < 5) {
            /* A server without metadata contexts: none to show. */
            g_free(rep.data);
            if (NBD_REP_IS_ERR(rep.type)) {
                break;
            }
            error_setg(errp, "malformed reply to option "
                       "'list meta context'");
            goto fail;
        }
        g_ptr_array_add(names, g_strndup((char *)rep.data + 4,
                                         rep.len - 4));
        g_free(rep.data);
    }
    info->n_contexts = names->len;
    g_ptr_array_add(names, NULL);
    info->contexts = (char **)g_ptr_array_free(names, false);
    return 0;

fail:
    g_ptr_array_free(names, true);
    return -1;
}

int coroutine_fn nbd_client_list_exports(QIOChannel *ioc,
                                         QCryptoTLSCreds *tls_creds,
                                         const char *tls_hostname,
                                         NBDExportInfo **pinfo,
                                         Error **errp)
{
    GArray *list = g_array_new(false, true, sizeof(NBDExportInfo));
    QIOChannel *orig = ioc;
    uint8_t greeting[18], cflags[4];
    uint16_t sflags;
    NBDMode mode = NBD_MODE_SIMPLE;
    int ret = -1;
    int n;

    object_ref(OBJECT(ioc));
    if (qio_channel_read_all(ioc, (char *)greeting, sizeof(greeting),
                             errp) < 0) {
        error_prepend(errp, "reading the server's greeting: ");
        goto out;
    }
    if (nbd_get64(greeting) != NBD_INIT_MAGIC) {
        error_setg(errp, "the server did not send the NBD magic");
        goto out;
    }
    if (nbd_get64(greeting + 8) != NBD_OPTS_MAGIC) {
        error_setg(errp, "the server does not speak newstyle negotiation");
        goto out;
    }
    sflags = nbd_get16(greeting + 16);
    if (!(sflags & NBD_FLAG_FIXED_NEWSTYLE)) {
        error_setg(errp, "the server does not speak fixed newstyle "
                   "negotiation");
        goto out;
    }
    nbd_put32(cflags, NBD_FLAG_C_FIXED_NEWSTYLE |
              ((sflags & NBD_FLAG_NO_ZEROES) ? NBD_FLAG_C_NO_ZEROES : 0));
    if (qio_channel_write_all(ioc, (char *)cflags, sizeof(cflags),
                              errp) < 0) {
        goto out;
    }
    if (tls_creds) {
        QIOChannel *tioc = ioc;

        if (nbd_client_starttls(&tioc, tls_creds, tls_hostname, errp) < 0) {
            goto out;
        }
        object_unref(OBJECT(ioc));
        ioc = tioc;
    }

    n = nbd_simple_option(ioc, NBD_OPT_EXTENDED_HEADERS, errp);
    if (n < 0) {
        goto out;
    } else if (n) {
        mode = NBD_MODE_EXTENDED;
    } else {
        n = nbd_simple_option(ioc, NBD_OPT_STRUCTURED_REPLY, errp);
        if (n < 0) {
            goto out;
        }
        mode = n ? NBD_MODE_STRUCTURED : NBD_MODE_SIMPLE;
    }

    if (nbd_client_list_names(ioc, list, errp) < 0) {
        goto out;
    }
    for (guint i = 0; i < list->len; i++) {
        NBDExportInfo *info = &g_array_index(list, NBDExportInfo, i);

        info->mode = mode;
        if (nbd_client_info(ioc, info, errp) < 0) {
            goto out;
        }
        if (mode >= NBD_MODE_STRUCTURED &&
            nbd_client_list_contexts(ioc, info, errp) < 0) {
            goto out;
        }
    }

    /* Soft disconnect; the server may close without answering. */
    if (nbd_send_option(ioc, NBD_OPT_ABORT, NULL, 0, NULL) == 0) {
        NBDOptReply rep;

        if (nbd_read_opt_reply(ioc, NBD_OPT_ABORT, &rep, NULL) == 0) {
            g_free(rep.data);
        }
    }
    if (ioc != orig) {
        qio_channel_tls_bye(QIO_CHANNEL_TLS(ioc), NULL);
    }
    ret = list->len;
    *pinfo = (NBDExportInfo *)g_array_free(list, false);
    list = NULL;

out:
    if (list) {
        nbd_free_export_list((NBDExportInfo *)list->data, list->len);
        g_array_free(list, false);
    }
    object_unref(OBJECT(ioc));
    return ret;
}

void nbd_free_export_list(NBDExportInfo *info, int count)
{
    if (!info) {
        return;
    }
    for (int i = 0; i < count; i++) {
        g_free(info[i].name);
        g_free(info[i].description);
        g_strfreev(info[i].contexts);
    }
    g_free(info);
}
