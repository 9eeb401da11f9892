/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Anonymous TLS credentials (tls-creds-anon).
 */
#include "qemu/osdep.h"
#include "crypto/tlscredsanon.h"
#include "crypto/tlscredspriv.h"
#include "qapi/error.h"
#include "qom/object_interfaces.h"

/* Anonymous key exchanges, which NORMAL leaves out. */
#define QCRYPTO_TLS_CREDS_ANON_PRIORITY "+ANON-ECDH:+ANON-DH"

static bool qcrypto_tls_creds_anon_load(QCryptoTLSCreds *creds,
                                        Error **errp)
{
    QCryptoTLSCredsAnon *anon = QCRYPTO_TLS_CREDS_ANON(creds);
    int ret;

    if (creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        if (!qcrypto_tls_creds_load_dh_params(creds, errp)) {
            return false;
        }
        ret = gnutls_anon_allocate_server_credentials(&anon->server);
        if (ret < 0) {
            anon->server = NULL;
        } else if (creds->dh_params) {
            gnutls_anon_set_server_dh_params(anon->server, creds->dh_params);
        } else {
            gnutls_anon_set_server_known_dh_params(anon->server,
                                                   GNUTLS_SEC_PARAM_MEDIUM);
        }
    } else {
        ret = gnutls_anon_allocate_client_credentials(&anon->client);
        if (ret < 0) {
            anon->client = NULL;
        }
    }
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to allocate anonymous TLS credentials: %s",
                   why);
        return false;
    }
    creds->loaded = true;
    return true;
}

static void qcrypto_tls_creds_anon_unload(QCryptoTLSCreds *creds)
{
    QCryptoTLSCredsAnon *anon = QCRYPTO_TLS_CREDS_ANON(creds);

    if (anon->server) {
        gnutls_anon_free_server_credentials(anon->server);
        anon->server = NULL;
    }
    if (anon->client) {
        gnutls_anon_free_client_credentials(anon->client);
        anon->client = NULL;
    }
    creds->loaded = false;
}

static bool qcrypto_tls_creds_anon_session_setup(QCryptoTLSCreds *creds,
                                                 gnutls_session_t handle,
                                                 Error **errp)
{
    QCryptoTLSCredsAnon *anon = QCRYPTO_TLS_CREDS_ANON(creds);
    int ret;

    if (creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        ret = gnutls_credentials_set(handle, GNUTLS_CRD_ANON, anon->server);
    } else {
        ret = gnutls_credentials_set(handle, GNUTLS_CRD_ANON, anon->client);
    }
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to give the TLS session its anonymous "
                   "credentials: %s", why);
        return false;
    }
    return true;
}

static bool qcrypto_tls_creds_anon_check_peer(QCryptoTLSCreds *creds,
                                              gnutls_session_t handle,
                                              const char *hostname,
                                              char **peername, Error **errp)
{
    /* Nothing to check: the peer is anonymous by definition. */
    return true;
}

static void qcrypto_tls_creds_anon_class_init(ObjectClass *oc, void *data)
{
    QCryptoTLSCredsClass *tcc = QCRYPTO_TLS_CREDS_CLASS(oc);

    tcc->load = qcrypto_tls_creds_anon_load;
    tcc->unload = qcrypto_tls_creds_anon_unload;
    tcc->session_setup = qcrypto_tls_creds_anon_session_setup;
    tcc->check_peer = qcrypto_tls_creds_anon_check_peer;
    tcc->priority_extra = QCRYPTO_TLS_CREDS_ANON_PRIORITY;
}

static const TypeInfo qcrypto_tls_creds_anon_info = {
    .name = TYPE_QCRYPTO_TLS_CREDS_ANON,
    .parent = TYPE_QCRYPTO_TLS_CREDS,
    .instance_size = sizeof(QCryptoTLSCredsAnon),
    .class_size = sizeof(QCryptoTLSCredsAnonClass),
    .class_init = qcrypto_tls_creds_anon_class_init,
};

static void qcrypto_tls_creds_anon_register_types(void)
{
    type_register_static(&qcrypto_tls_creds_anon_info);
}

type_init(qcrypto_tls_creds_anon_register_types)
