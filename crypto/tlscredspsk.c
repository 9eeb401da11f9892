/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pre-shared key TLS credentials (tls-creds-psk).
 */
#include "qemu/osdep.h"
#include "crypto/tlscredspsk.h"
#include "crypto/tlscredspriv.h"
#include "qapi/error.h"
#include "qom/object_interfaces.h"

/* Key exchanges that authenticate with a pre-shared key. */
#define QCRYPTO_TLS_CREDS_PSK_PRIORITY "+ECDHE-PSK:+DHE-PSK:+PSK"

/*
 * Walks the "username:hexkey" lines of @data. Calls @fn on each until it
 * returns true (then returns true). A malformed line is an error naming
 * @path and the line.
 */
typedef bool PSKLineFunc(const char *user, size_t user_len,
                         const char *key, size_t key_len, void *opaque);

static bool psk_parse(const char *path, const gnutls_datum_t *data,
                      PSKLineFunc *fn, void *opaque, bool *found,
                      Error **errp)
{
    const char *p = (const char *)data->data;
    const char *end = p + data->size;
    unsigned int lineno = 0;

    *found = false;
    while (p < end) {
        const char *eol = memchr(p, '\n', end - p);
        const char *next = eol ? eol + 1 : end;
        const char *colon;
        size_t len;

        lineno++;
        if (!eol) {
            eol = end;
        }
        len = eol - p;
        while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' ' ||
                           p[len - 1] == '\t')) {
            len--;
        }
        if (len == 0) {
            p = next;
            continue;
        }
        colon = memchr(p, ':', len);
        if (!colon || colon == p || colon == p + len - 1) {
            error_setg(errp, "Pre-shared key file '%s' line %u is not "
                       "'username:hexkey'", path, lineno);
            return false;
        }
        for (const char *k = colon + 1; k < p + len; k++) {
            if (!g_ascii_isxdigit(*k)) {
                error_setg(errp, "Pre-shared key file '%s' line %u: the key "
                           "is not hexadecimal", path, lineno);
                return false;
            }
        }
        if ((p + len - colon - 1) % 2) {
            error_setg(errp, "Pre-shared key file '%s' line %u: the key has "
                       "an odd number of hex digits", path, lineno);
            return false;
        }
        if (fn(p, colon - p, colon + 1, p + len - colon - 1, opaque)) {
            *found = true;
            return true;
        }
        p = next;
    }
    return true;
}

typedef struct PSKLookup {
    const char *username;
    char *key;      /* hex digits of the match */
} PSKLookup;

static bool psk_match_user(const char *user, size_t user_len,
                           const char *key, size_t key_len, void *opaque)
{
    PSKLookup *lookup = opaque;

    if (strlen(lookup->username) != user_len ||
        memcmp(lookup->username, user, user_len) != 0) {
        return false;
    }
    lookup->key = g_strndup(key, key_len);
    return true;
}

static bool psk_any_user(const char *user, size_t user_len,
                         const char *key, size_t key_len, void *opaque)
{
    return true;
}

static bool qcrypto_tls_creds_psk_load(QCryptoTLSCreds *creds, Error **errp)
{
    QCryptoTLSCredsPSK *psk = QCRYPTO_TLS_CREDS_PSK(creds);
    g_autofree char *path = NULL;
    gnutls_datum_t data = { NULL, 0 };
    bool found = false;
    bool ok = false;
    int ret;

    if (creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER &&
        psk->username) {
        error_setg(errp, "tls-creds-psk: 'username' is for a client "
                   "endpoint; a server takes every user of '%s'",
                   QCRYPTO_TLS_CREDS_PSKFILE);
        return false;
    }
    if (!creds->dir || !creds->dir[0]) {
        error_setg(errp, "tls-creds-psk: the 'dir' property must name the "
                   "directory holding '%s'", QCRYPTO_TLS_CREDS_PSKFILE);
        return false;
    }
    path = g_build_filename(creds->dir, QCRYPTO_TLS_CREDS_PSKFILE, NULL);
    if (!qcrypto_tls_creds_read_file("pre-shared key file", path, &data,
                                     errp)) {
        return false;
    }
    if (!qcrypto_tls_creds_load_dh_params(creds, errp)) {
        goto out;
    }

    if (creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        /* GnuTLS reads the file itself; check it is usable now. */
        if (!psk_parse(path, &data, psk_any_user, NULL, &found, errp)) {
            goto out;
        }
        if (!found) {
            error_setg(errp, "Pre-shared key file '%s' holds no key", path);
            goto out;
        }
        ret = gnutls_psk_allocate_server_credentials(&psk->server);
        if (ret < 0) {
            g_autofree char *why = qcrypto_tls_strerror(ret);

            psk->server = NULL;
            error_setg(errp, "Unable to allocate PSK credentials: %s", why);
            goto out;
        }
        ret = gnutls_psk_set_server_credentials_file(psk->server, path);
        if (ret < 0) {
            g_autofree char *why = qcrypto_tls_strerror(ret);

            error_setg(errp, "Unable to read pre-shared key file '%s': %s",
                       path, why);
            goto out;
        }
        if (creds->dh_params) {
            gnutls_psk_set_server_dh_params(psk->server, creds->dh_params);
        } else {
            gnutls_psk_set_server_known_dh_params(psk->server,
                                                  GNUTLS_SEC_PARAM_MEDIUM);
        }
    } else {
        PSKLookup lookup = {
            .username = psk->username ?: QCRYPTO_TLS_CREDS_PSK_DEFAULT_USERNAME,
        };
        gnutls_datum_t key;

        if (!psk_parse(path, &data, psk_match_user, &lookup, &found, errp)) {
            goto out;
        }
        if (!found) {
            error_setg(errp, "Username '%s' not found in pre-shared key "
                       "file '%s'", lookup.username, path);
            goto out;
        }
        ret = gnutls_psk_allocate_client_credentials(&psk->client);
        if (ret < 0) {
            g_autofree char *why = qcrypto_tls_strerror(ret);

            psk->client = NULL;
            g_free(lookup.key);
            error_setg(errp, "Unable to allocate PSK credentials: %s", why);
            goto out;
        }
        key.data = (unsigned char *)lookup.key;
        key.size = strlen(lookup.key);
        ret = gnutls_psk_set_client_credentials(psk->client, lookup.username,
                                                &key, GNUTLS_PSK_KEY_HEX);
        memset(lookup.key, 0, key.size);
        g_free(lookup.key);
        if (ret < 0) {
            g_autofree char *why = qcrypto_tls_strerror(ret);

            error_setg(errp, "Unable to use the key of '%s' in pre-shared "
                       "key file '%s': %s", lookup.username, path, why);
            goto out;
        }
    }

    creds->loaded = true;
    ok = true;

out:
    if (data.data) {
        memset(data.data, 0, data.size);
        g_free(data.data);
    }
    return ok;
}

static void qcrypto_tls_creds_psk_unload(QCryptoTLSCreds *creds)
{
    QCryptoTLSCredsPSK *psk = QCRYPTO_TLS_CREDS_PSK(creds);

    if (psk->server) {
        gnutls_psk_free_server_credentials(psk->server);
        psk->server = NULL;
    }
    if (psk->client) {
        gnutls_psk_free_client_credentials(psk->client);
        psk->client = NULL;
    }
    creds->loaded = false;
}

static bool qcrypto_tls_creds_psk_session_setup(QCryptoTLSCreds *creds,
                                                gnutls_session_t handle,
                                                Error **errp)
{
    QCryptoTLSCredsPSK *psk = QCRYPTO_TLS_CREDS_PSK(creds);
    int ret;

    if (creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        ret = gnutls_credentials_set(handle, GNUTLS_CRD_PSK, psk->server);
    } else {
        ret = gnutls_credentials_set(handle, GNUTLS_CRD_PSK, psk->client);
    }
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to give the TLS session its PSK "
                   "credentials: %s", why);
        return false;
    }
    return true;
}

static bool qcrypto_tls_creds_psk_check_peer(QCryptoTLSCreds *creds,
                                             gnutls_session_t handle,
                                             const char *hostname,
                                             char **peername, Error **errp)
{
    const char *user;

    /* The key exchange itself proved that the peer knows the key. */
    if (creds->endpoint != QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        return true;
    }
    user = gnutls_psk_server_get_username(handle);
    if (!user) {
        error_setg(errp, "The TLS client gave no PSK username");
        return false;
    }
    *peername = g_strdup(user);
    return true;
}

static char *qcrypto_tls_creds_psk_get_username(Object *obj, Error **errp)
{
    return g_strdup(QCRYPTO_TLS_CREDS_PSK(obj)->username);
}

static void qcrypto_tls_creds_psk_set_username(Object *obj, const char *value,
                                               Error **errp)
{
    QCryptoTLSCredsPSK *psk = QCRYPTO_TLS_CREDS_PSK(obj);

    g_free(psk->username);
    psk->username = g_strdup(value);
}

static void qcrypto_tls_creds_psk_finalize(Object *obj)
{
    g_free(QCRYPTO_TLS_CREDS_PSK(obj)->username);
}

static void qcrypto_tls_creds_psk_class_init(ObjectClass *oc, void *data)
{
    QCryptoTLSCredsClass *tcc = QCRYPTO_TLS_CREDS_CLASS(oc);

    tcc->load = qcrypto_tls_creds_psk_load;
    tcc->unload = qcrypto_tls_creds_psk_unload;
    tcc->session_setup = qcrypto_tls_creds_psk_session_setup;
    tcc->check_peer = qcrypto_tls_creds_psk_check_peer;
    tcc->priority_extra = QCRYPTO_TLS_CREDS_PSK_PRIORITY;

    object_class_property_add_str(oc, "username",
                                  qcrypto_tls_creds_psk_get_username,
                                  qcrypto_tls_creds_psk_set_username);
    object_class_property_set_description(oc, "username",
        "user whose key a client uses (default: qemu)");
}

static const TypeInfo qcrypto_tls_creds_psk_info = {
    .name = TYPE_QCRYPTO_TLS_CREDS_PSK,
    .parent = TYPE_QCRYPTO_TLS_CREDS,
    .instance_size = sizeof(QCryptoTLSCredsPSK),
    .instance_finalize = qcrypto_tls_creds_psk_finalize,
    .class_size = sizeof(QCryptoTLSCredsPSKClass),
    .class_init = qcrypto_tls_creds_psk_class_init,
};

static void qcrypto_tls_creds_psk_register_types(void)
{
    type_register_static(&qcrypto_tls_creds_psk_info);
}

type_init(qcrypto_tls_creds_psk_register_types)
