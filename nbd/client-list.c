/* SPDX-License-Identifier: GPL-2.0-or-later */
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
#include "client-internal.h"
#include "qapi/error.h"

/* A server listing more than these is not believed. */
#define NBD_LIST_MAX_EXPORTS    65536
#define NBD_LIST_MAX_CONTEXTS   1024

static int coroutine_fn nbd_receive_export_names(QIOChannel *ioc,
                                                 GArray *list, Error **errp)
{
    if (nbd_send_option(ioc, NBD_OPT_LIST, NULL, 0, errp) < 0) {
        return -1;
    }
    for (;;) {
        NBDOptReply rep;
        NBDExportInfo info = { 0 };
        uint32_t name_len;

        if (nbd_receive_option_reply(ioc, NBD_OPT_LIST, &rep, errp) < 0) {
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
        if (list->len == NBD_LIST_MAX_EXPORTS) {
            error_setg(errp, "the server lists more than %d exports",
                       NBD_LIST_MAX_EXPORTS);
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

static int coroutine_fn nbd_receive_export_info(QIOChannel *ioc,
                                                NBDExportInfo *info,
                                                Error **errp)
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

        if (nbd_receive_option_reply(ioc, NBD_OPT_INFO, &rep, errp) < 0) {
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
        if (nbd_decode_rep_info(rep.data, rep.len, info, errp) < 0) {
            g_free(rep.data);
            return -1;
        }
        g_free(rep.data);
    }
}

static int coroutine_fn nbd_receive_meta_list(QIOChannel *ioc,
                                              NBDExportInfo *info,
                                              Error **errp)
{
    size_t name_len = strlen(info->name);
    g_autofree uint8_t *buf = g_malloc(4 + name_len + 4);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

    nbd_put32(buf, name_len);
    memcpy(buf + 4, info->name, name_len);
    nbd_put32(buf + 4 + name_len, 0);
    if (nbd_send_option(ioc, NBD_OPT_LIST_META_CONTEXT, buf,
                        4 + name_len + 4, errp) < 0) {
        goto fail;
    }
    for (;;) {
        NBDOptReply rep;

        if (nbd_receive_option_reply(ioc, NBD_OPT_LIST_META_CONTEXT, &rep,
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
        if (names->len == NBD_LIST_MAX_CONTEXTS) {
            error_setg(errp, "the server lists more than %d metadata "
                       "contexts", NBD_LIST_MAX_CONTEXTS);
            g_free(rep.data);
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

int coroutine_fn nbd_receive_export_list(QIOChannel *ioc,
                                         QCryptoTLSCreds *tls_creds,
                                         const char *tls_hostname,
                                         NBDExportInfo **pinfo,
                                         Error **errp)
{
    GArray *list = g_array_new(false, true, sizeof(NBDExportInfo));
    QIOChannel *orig = ioc;
    NBDExportInfo greet = { 0 };
    NBDMode mode = NBD_MODE_SIMPLE;
    int ret = -1;

    object_ref(OBJECT(ioc));
    switch (nbd_receive_greeting(&ioc, tls_creds, tls_hostname, true, &greet,
                                 errp)) {
    case NBD_GREETING_FIXED_NEWSTYLE:
        break;
    case NBD_GREETING_OLDSTYLE:
        /* The one export there is, the default one. */
        if (nbd_check_export_info(&greet, errp) < 0) {
            goto out;
        }
        greet.name = g_strdup("");
        g_array_append_val(list, greet);
        ret = list->len;
        *pinfo = (NBDExportInfo *)g_array_free(list, false);
        list = NULL;
        goto out;
    case NBD_GREETING_PLAIN_NEWSTYLE:
        error_setg(errp, "the server does not support export lists (it "
                   "does not speak fixed newstyle negotiation)");
        goto out;
    default:
        goto out;
    }
    if (nbd_receive_mode(ioc, true, &mode, errp) < 0) {
        goto out;
    }
    if (nbd_receive_export_names(ioc, list, errp) < 0) {
        goto out;
    }
    for (guint i = 0; i < list->len; i++) {
        NBDExportInfo *info = &g_array_index(list, NBDExportInfo, i);

        info->mode = mode;
        if (nbd_receive_export_info(ioc, info, errp) < 0) {
            goto out;
        }
        if (mode >= NBD_MODE_STRUCTURED &&
            nbd_receive_meta_list(ioc, info, errp) < 0) {
            goto out;
        }
    }

    /* Soft disconnect; the server may close without answering. */
    if (nbd_send_option(ioc, NBD_OPT_ABORT, NULL, 0, NULL) == 0) {
        NBDOptReply rep;

        if (nbd_receive_option_reply(ioc, NBD_OPT_ABORT, &rep, NULL) == 0) {
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
