/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * X.509 TLS credentials (tls-creds-x509): loading the certificate files,
 * checking them when asked to, and checking the peer's certificate after
 * a handshake.
 */
#include "qemu/osdep.h"
#include <gnutls/x509.h>

#include "crypto/tlscredsx509.h"
#include "crypto/tlscredspriv.h"
#include "qapi/error.h"
#include "qom/object_interfaces.h"

/* A list of certificates (or CRLs) parsed from one PEM file. */
typedef struct X509CertList {
    gnutls_x509_crt_t *crts;
    unsigned int n;
} X509CertList;

typedef struct X509CrlList {
    gnutls_x509_crl_t *crls;
    unsigned int n;
} X509CrlList;

static void x509_cert_list_clear(X509CertList *list)
{
    for (unsigned int i = 0; i < list->n; i++) {
        gnutls_x509_crt_deinit(list->crts[i]);
    }
    gnutls_free(list->crts);
    list->crts = NULL;
    list->n = 0;
}

static void x509_crl_list_clear(X509CrlList *list)
{
    for (unsigned int i = 0; i < list->n; i++) {
        gnutls_x509_crl_deinit(list->crls[i]);
    }
    gnutls_free(list->crls);
    list->crls = NULL;
    list->n = 0;
}

static bool x509_parse_certs(const char *what, const char *path,
                             const gnutls_datum_t *data, X509CertList *list,
                             Error **errp)
{
    int ret = gnutls_x509_crt_list_import2(&list->crts, &list->n, data,
                                           GNUTLS_X509_FMT_PEM, 0);

    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        list->crts = NULL;
        list->n = 0;
        error_setg(errp, "Unable to read %s '%s': %s", what, path, why);
        return false;
    }
    if (list->n == 0) {
        error_setg(errp, "Unable to read %s '%s': it holds no certificate",
                   what, path);
        return false;
    }
    return true;
}

static bool x509_parse_crls(const char *path, const gnutls_datum_t *data,
                            X509CrlList *list, Error **errp)
{
    int ret = gnutls_x509_crl_list_import2(&list->crls, &list->n, data,
                                           GNUTLS_X509_FMT_PEM, 0);

    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        list->crls = NULL;
        list->n = 0;
        error_setg(errp, "Unable to read CA revocation list '%s': %s",
                   path, why);
        return false;
    }
    return true;
}

/* Sanity checks of one certificate in its role. */

static bool x509_check_times(gnutls_x509_crt_t crt, const char *what,
                             const char *path, Error **errp)
{
    time_t now = time(NULL);
    time_t expires = gnutls_x509_crt_get_expiration_time(crt);
    time_t starts = gnutls_x509_crt_get_activation_time(crt);

    if (expires == (time_t)-1 || starts == (time_t)-1) {
        error_setg(errp, "The %s '%s' has no valid validity period",
                   what, path);
        return false;
    }
    if (expires < now) {
        error_setg(errp, "The %s '%s' has expired", what, path);
        return false;
    }
    if (starts > now) {
        error_setg(errp, "The %s '%s' is not active yet", what, path);
        return false;
    }
    return true;
}

static bool x509_check_basic_constraints(gnutls_x509_crt_t crt, bool is_ca,
                                         const char *what, const char *path,
                                         Error **errp)
{
    unsigned int critical;
    int ret = gnutls_x509_crt_get_ca_status(crt, &critical);

    if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
        /* No basic constraints: only a CA must have them. */
        if (is_ca) {
            error_setg(errp, "The %s '%s' has no basic constraints saying "
                       "it may act as a CA", what, path);
            return false;
        }
        return true;
    }
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "The %s '%s' has unreadable basic constraints: %s",
                   what, path, why);
        return false;
    }
    if (is_ca && ret == 0) {
        error_setg(errp, "The %s '%s' is not allowed to act as a CA "
                   "(basic constraints)", what, path);
        return false;
    }
    if (!is_ca && ret > 0) {
        error_setg(errp, "The %s '%s' is a CA certificate; an end-entity "
                   "certificate is needed here", what, path);
        return false;
    }
    return true;
}

static bool x509_check_key_usage(gnutls_x509_crt_t crt, bool is_ca,
                                 const char *what, const char *path,
                                 Error **errp)
{
    unsigned int usage = 0, critical = 0;
    int ret = gnutls_x509_crt_get_key_usage(crt, &usage, &critical);

    if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
        return true;    /* no restriction */
    }
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "The %s '%s' has an unreadable key usage: %s",
                   what, path, why);
        return false;
    }
    if (is_ca && !(usage & GNUTLS_KEY_KEY_CERT_SIGN)) {
        error_setg(errp, "The %s '%s' may not sign certificates "
                   "(key usage)", what, path);
        return false;
    }
    if (!is_ca && !(usage & GNUTLS_KEY_DIGITAL_SIGNATURE)) {
        error_setg(errp, "The %s '%s' may not make digital signatures "
                   "(key usage)", what, path);
        return false;
    }
    return true;
}

static bool x509_check_key_purpose(gnutls_x509_crt_t crt, bool is_server,
                                   const char *what, const char *path,
                                   Error **errp)
{
    const char *wanted = is_server ? GNUTLS_KP_TLS_WWW_SERVER :
        GNUTLS_KP_TLS_WWW_CLIENT;
    bool any = false;

    for (unsigned int i = 0;; i++) {
        char oid[256];
        size_t size = sizeof(oid);
        unsigned int critical;
        int ret = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &size,
                                                      &critical);

        if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            break;
        }
        if (ret < 0) {
            g_autofree char *why = qcrypto_tls_strerror(ret);

            error_setg(errp, "The %s '%s' has an unreadable key purpose: %s",
                       what, path, why);
            return false;
        }
        any = true;
        if (g_str_equal(oid, wanted) || g_str_equal(oid, GNUTLS_KP_ANY)) {
            return true;
        }
    }
    if (!any) {
        return true;    /* no restriction */
    }
    error_setg(errp, "The %s '%s' may not be used by a TLS %s "
               "(key purpose)", what, path, is_server ? "server" : "client");
    return false;
}

/*
 * Checks our own certificate chain (@certs, leaf first, from @path)
 * against the CA certificates (@cas, from @capath).
 */
static bool x509_sanity_check(X509CertList *cas, const char *capath,
                              X509CrlList *crls, X509CertList *certs,
                              const char *path, bool is_server,
                              Error **errp)
{
    const char *what = is_server ? "server certificate" :
        "client certificate";
    unsigned int status = 0;
    int ret;

    for (unsigned int i = 0; i < cas->n; i++) {
        if (!x509_check_times(cas->crts[i], "CA certificate", capath,
                              errp) ||
            !x509_check_basic_constraints(cas->crts[i], true,
                                          "CA certificate", capath, errp) ||
            !x509_check_key_usage(cas->crts[i], true, "CA certificate",
                                  capath, errp)) {
            return false;
        }
    }
    if (!certs) {
        return true;
    }

    for (unsigned int i = 0; i < certs->n; i++) {
        bool leaf = i == 0;

        if (!x509_check_times(certs->crts[i], what, path, errp) ||
            !x509_check_basic_constraints(certs->crts[i], !leaf, what, path,
                                          errp) ||
            !x509_check_key_usage(certs->crts[i], !leaf, what, path, errp)) {
            return false;
        }
        if (leaf && !x509_check_key_purpose(certs->crts[i], is_server, what,
                                            path, errp)) {
            return false;
        }
    }

    ret = gnutls_x509_crt_list_verify(certs->crts, certs->n, cas->crts,
                                      cas->n, crls->crls, crls->n, 0,
                                      &status);
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to check the %s '%s' against the CA "
                   "certificate '%s': %s", what, path, capath, why);
        return false;
    }
    if (status) {
        error_setg(errp, "The %s '%s' does not verify with the CA "
                   "certificate '%s': %s", what, path, capath,
                   qcrypto_tls_verify_status_text(status));
        return false;
    }
    return true;
}

/* Builds the path of a file in "dir"; fails if "dir" is unset. */
static char *x509_required_path(QCryptoTLSCreds *creds, const char *name,
                                Error **errp)
{
    if (!creds->dir || !creds->dir[0]) {
        error_setg(errp, "%s: the 'dir' property must name the directory "
                   "holding '%s'", object_get_typename(OBJECT(creds)), name);
        return NULL;
    }
    return g_build_filename(creds->dir, name, NULL);
}

static bool qcrypto_tls_creds_x509_load(QCryptoTLSCreds *creds, Error **errp)
{
    QCryptoTLSCredsX509 *x509 = QCRYPTO_TLS_CREDS_X509(creds);
    bool is_server = creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER;
    const char *what = is_server ? "server certificate" :
        "client certificate";
    g_autofree char *cacert = NULL;
    g_autofree char *cacrl = NULL;
    g_autofree char *cert = NULL;
    g_autofree char *key = NULL;
    gnutls_datum_t ca_data = { NULL, 0 };
    gnutls_datum_t crl_data = { NULL, 0 };
    gnutls_datum_t cert_data = { NULL, 0 };
    gnutls_datum_t key_data = { NULL, 0 };
    X509CertList cas = { NULL, 0 };
    X509CertList certs = { NULL, 0 };
    X509CrlList crls = { NULL, 0 };
    bool ok = false;
    int ret;

    cacert = x509_required_path(creds, QCRYPTO_TLS_CREDS_X509_CA_CERT, errp);
    if (!cacert) {
        return false;
    }
    if (qcrypto_tls_creds_get_path(creds, QCRYPTO_TLS_CREDS_X509_CA_CRL,
                                   false, &cacrl, errp) < 0) {
        return false;
    }
    if (is_server) {
        cert = x509_required_path(creds, QCRYPTO_TLS_CREDS_X509_SERVER_CERT,
                                  errp);
        key = x509_required_path(creds, QCRYPTO_TLS_CREDS_X509_SERVER_KEY,
                                 NULL);
    } else if (qcrypto_tls_creds_get_path(creds,
                                          QCRYPTO_TLS_CREDS_X509_CLIENT_CERT,
                                          false, &cert, errp) < 0 ||
               qcrypto_tls_creds_get_path(creds,
                                          QCRYPTO_TLS_CREDS_X509_CLIENT_KEY,
                                          false, &key, errp) < 0) {
        return false;
    }
    if (is_server && !cert) {
        return false;
    }
    if (!is_server && !cert != !key) {
        error_setg(errp, "TLS client credentials in '%s' need both '%s' "
                   "and '%s', or neither", creds->dir,
                   QCRYPTO_TLS_CREDS_X509_CLIENT_CERT,
                   QCRYPTO_TLS_CREDS_X509_CLIENT_KEY);
        return false;
    }

    if (!qcrypto_tls_creds_read_file("CA certificate", cacert, &ca_data,
                                     errp) ||
        (cacrl && !qcrypto_tls_creds_read_file("CA revocation list", cacrl,
                                               &crl_data, errp)) ||
        (cert && !qcrypto_tls_creds_read_file(what, cert, &cert_data,
                                              errp)) ||
        (key && !qcrypto_tls_creds_read_file(is_server ? "server key" :
                                             "client key", key, &key_data,
                                             errp))) {
        goto out;
    }

    /* Parsing the CA file also catches a CA file that holds no CA. */
    if (!x509_parse_certs("CA certificate", cacert, &ca_data, &cas, errp) ||
        (cacrl && !x509_parse_crls(cacrl, &crl_data, &crls, errp)) ||
        (cert && !x509_parse_certs(what, cert, &cert_data, &certs, errp))) {
        goto out;
    }
    if (x509->sanity_check &&
        !x509_sanity_check(&cas, cacert, &crls, cert ? &certs : NULL, cert,
                           is_server, errp)) {
        goto out;
    }

    ret = gnutls_certificate_allocate_credentials(&x509->data);
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        x509->data = NULL;
        error_setg(errp, "Unable to allocate X.509 credentials: %s", why);
        goto out;
    }
    ret = gnutls_certificate_set_x509_trust_mem(x509->data, &ca_data,
                                                GNUTLS_X509_FMT_PEM);
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to read CA certificate '%s': %s",
                   cacert, why);
        goto out;
    }
    if (cert) {
        ret = gnutls_certificate_set_x509_key_mem(x509->data, &cert_data,
                                                  &key_data,
                                                  GNUTLS_X509_FMT_PEM);
        if (ret < 0) {
            g_autofree char *why = qcrypto_tls_strerror(ret);

            error_setg(errp, "Unable to use %s '%s' with key '%s': %s",
                       what, cert, key, why);
            goto out;
        }
    }
    if (cacrl) {
        ret = gnutls_certificate_set_x509_crl_mem(x509->data, &crl_data,
                                                  GNUTLS_X509_FMT_PEM);
        if (ret < 0) {
            g_autofree char *why = qcrypto_tls_strerror(ret);

            error_setg(errp, "Unable to read CA revocation list '%s': %s",
                       cacrl, why);
            goto out;
        }
    }

    if (!qcrypto_tls_creds_load_dh_params(creds, errp)) {
        goto out;
    }
    if (creds->dh_params) {
        gnutls_certificate_set_dh_params(x509->data, creds->dh_params);
    } else if (is_server) {
        gnutls_certificate_set_known_dh_params(x509->data,
                                               GNUTLS_SEC_PARAM_MEDIUM);
    }

    creds->loaded = true;
    ok = true;

out:
    x509_cert_list_clear(&cas);
    x509_cert_list_clear(&certs);
    x509_crl_list_clear(&crls);
    g_free(ca_data.data);
    g_free(crl_data.data);
    g_free(cert_data.data);
    if (key_data.data) {
        /* Private key material: do not leave it in freed memory. */
        memset(key_data.data, 0, key_data.size);
        g_free(key_data.data);
    }
    return ok;
}

static void qcrypto_tls_creds_x509_unload(QCryptoTLSCreds *creds)
{
    QCryptoTLSCredsX509 *x509 = QCRYPTO_TLS_CREDS_X509(creds);

    if (x509->data) {
        gnutls_certificate_free_credentials(x509->data);
        x509->data = NULL;
    }
    creds->loaded = false;
}

static bool qcrypto_tls_creds_x509_session_setup(QCryptoTLSCreds *creds,
                                                 gnutls_session_t handle,
                                                 Error **errp)
{
    QCryptoTLSCredsX509 *x509 = QCRYPTO_TLS_CREDS_X509(creds);
    int ret = gnutls_credentials_set(handle, GNUTLS_CRD_CERTIFICATE,
                                     x509->data);

    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to give the TLS session its X.509 "
                   "credentials: %s", why);
        return false;
    }
    if (creds->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        gnutls_certificate_server_set_request(handle, creds->verify_peer ?
                                              GNUTLS_CERT_REQUIRE :
                                              GNUTLS_CERT_IGNORE);
    }
    return true;
}

static bool qcrypto_tls_creds_x509_check_peer(QCryptoTLSCreds *creds,
                                              gnutls_session_t handle,
                                              const char *hostname,
                                              char **peername, Error **errp)
{
    const gnutls_datum_t *peers;
    unsigned int npeers = 0;
    unsigned int status = 0;
    gnutls_x509_crt_t crt;
    gnutls_datum_t dn = { NULL, 0 };
    bool ok = false;
    int ret;

    if (!creds->verify_peer) {
        return true;
    }

    ret = gnutls_certificate_verify_peers2(handle, &status);
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to verify the TLS peer's certificate: %s",
                   why);
        return false;
    }
    if (status) {
        error_setg(errp, "The TLS peer's certificate is not trusted: %s",
                   qcrypto_tls_verify_status_text(status));
        return false;
    }

    peers = gnutls_certificate_get_peers(handle, &npeers);
    if (!peers || npeers == 0) {
        error_setg(errp, "The TLS peer presented no certificate");
        return false;
    }
    if (gnutls_certificate_type_get(handle) != GNUTLS_CRT_X509) {
        error_setg(errp, "The TLS peer's certificate is not an X.509 one");
        return false;
    }

    ret = gnutls_x509_crt_init(&crt);
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to check the TLS peer's certificate: %s",
                   why);
        return false;
    }
    ret = gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER);
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to parse the TLS peer's certificate: %s",
                   why);
        goto out;
    }
    if (hostname && !gnutls_x509_crt_check_hostname(crt, hostname)) {
        error_setg(errp, "Certificate does not match the hostname %s",
                   hostname);
        goto out;
    }
    /*
     * The peer's name is what authorization objects match, so it has
     * QEMU's form: GnuTLS's compatible order, the certificate's own
     * ("O=Example Org,CN=client"), not RFC 4514's reversed one.
     */
    if (gnutls_x509_crt_get_dn3(crt, &dn, GNUTLS_X509_DN_FLAG_COMPAT) == 0) {
        *peername = g_strndup((const char *)dn.data, dn.size);
        gnutls_free(dn.data);
    }
    ok = true;

out:
    gnutls_x509_crt_deinit(crt);
    return ok;
}

static bool qcrypto_tls_creds_x509_get_sanity(Object *obj, Error **errp)
{
    return QCRYPTO_TLS_CREDS_X509(obj)->sanity_check;
}

static void qcrypto_tls_creds_x509_set_sanity(Object *obj, bool value,
                                              Error **errp)
{
    QCRYPTO_TLS_CREDS_X509(obj)->sanity_check = value;
}

static void qcrypto_tls_creds_x509_init(Object *obj)
{
    QCRYPTO_TLS_CREDS_X509(obj)->sanity_check = true;
}

static void qcrypto_tls_creds_x509_class_init(ObjectClass *oc, void *data)
{
    QCryptoTLSCredsClass *tcc = QCRYPTO_TLS_CREDS_CLASS(oc);

    tcc->load = qcrypto_tls_creds_x509_load;
    tcc->unload = qcrypto_tls_creds_x509_unload;
    tcc->session_setup = qcrypto_tls_creds_x509_session_setup;
    tcc->check_peer = qcrypto_tls_creds_x509_check_peer;
    tcc->priority_extra = NULL;

    object_class_property_add_bool(oc, "sanity-check",
                                   qcrypto_tls_creds_x509_get_sanity,
                                   qcrypto_tls_creds_x509_set_sanity);
    object_class_property_set_description(oc, "sanity-check",
        "check the certificates when loading them (default: on)");
}

static const TypeInfo qcrypto_tls_creds_x509_info = {
    .name = TYPE_QCRYPTO_TLS_CREDS_X509,
    .parent = TYPE_QCRYPTO_TLS_CREDS,
    .instance_size = sizeof(QCryptoTLSCredsX509),
    .instance_init = qcrypto_tls_creds_x509_init,
    .class_size = sizeof(QCryptoTLSCredsX509Class),
    .class_init = qcrypto_tls_creds_x509_class_init,
};

static void qcrypto_tls_creds_x509_register_types(void)
{
    type_register_static(&qcrypto_tls_creds_x509_info);
}

type_init(qcrypto_tls_creds_x509_register_types)
