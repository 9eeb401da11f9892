/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TLS credentials: the abstract base of the user-creatable objects
 * tls-creds-x509, tls-creds-psk and tls-creds-anon.
 *
 * A credentials object names a directory of files (property "dir"), the
 * side of the connection it serves ("endpoint": client or server),
 * whether the peer must prove who it is ("verify-peer", default on) and
 * an optional GnuTLS priority string ("priority", default "NORMAL").
 * The files are read once, when the object is completed (--object or
 * user_creatable_complete()); a failure to read them fails the creation
 * with an error naming the file. The read-only property "loaded" says
 * whether that happened.
 *
 * Once loaded, a credentials object is immutable and may be shared by
 * any number of TLS sessions in any threads.
 */
#ifndef QCRYPTO_TLSCREDS_H
#define QCRYPTO_TLSCREDS_H

#include <gnutls/gnutls.h>

#include "qom/object.h"

#define TYPE_QCRYPTO_TLS_CREDS "tls-creds"
OBJECT_DECLARE_TYPE(QCryptoTLSCreds, QCryptoTLSCredsClass,
                    QCRYPTO_TLS_CREDS)

/* File names looked up inside the "dir" directory. */
#define QCRYPTO_TLS_CREDS_DH_PARAMS "dh-params.pem"

/* The priority used when the "priority" property is not set. */
#define QCRYPTO_TLS_CREDS_DEFAULT_PRIORITY "NORMAL"

typedef enum QCryptoTLSCredsEndpoint {
    QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
    QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
    QCRYPTO_TLS_CREDS_ENDPOINT__MAX,
} QCryptoTLSCredsEndpoint;

/* "client", "server", NULL: the values of the "endpoint" property. */
extern const char *const QCryptoTLSCredsEndpoint_lookup[];

struct QCryptoTLSCreds {
    Object parent_obj;

    /* Properties; set before completion, constant afterwards. */
    char *dir;
    QCryptoTLSCredsEndpoint endpoint;
    bool verify_peer;
    char *priority;

    /* Set by the subclass' load method when everything was read. */
    bool loaded;
    /* Diffie-Hellman parameters from dh-params.pem, or NULL. */
    gnutls_dh_params_t dh_params;
};

/**
 * QCryptoTLSCredsClass:
 * @load: reads the credential files of @creds->dir and sets
 *        @creds->loaded; returns false with @errp set naming the file
 *        that could not be used
 * @unload: frees what @load made (also after a failed @load)
 * @session_setup: gives a new GnuTLS session of this endpoint its
 *                 credentials; returns false with @errp set
 * @check_peer: checks the peer once the handshake is done; for a client
 *              @hostname (may be NULL) is the name the server must have;
 *              sets *@peername to a new string naming the peer when
 *              there is one; returns false with @errp set
 * @priority_extra: appended to the priority string (NULL: nothing)
 */
struct QCryptoTLSCredsClass {
    ObjectClass parent_class;

    bool (*load)(QCryptoTLSCreds *creds, Error **errp);
    void (*unload)(QCryptoTLSCreds *creds);
    bool (*session_setup)(QCryptoTLSCreds *creds, gnutls_session_t handle,
                          Error **errp);
    bool (*check_peer)(QCryptoTLSCreds *creds, gnutls_session_t handle,
                       const char *hostname, char **peername,
                       Error **errp);
    const char *priority_extra;
};

/**
 * qcrypto_tls_creds_check_endpoint:
 * @creds: the credentials
 * @endpoint: the side they are about to serve
 * @errp: error object
 *
 * Checks that @creds were made for @endpoint, e.g. that a server is not
 * given client credentials. Any thread.
 *
 * Returns: true if they match, false with @errp set otherwise.
 */
bool qcrypto_tls_creds_check_endpoint(QCryptoTLSCreds *creds,
                                      QCryptoTLSCredsEndpoint endpoint,
                                      Error **errp);

/**
 * qcrypto_tls_creds_find:
 * @id: the id of an --object
 * @endpoint: the side the credentials are to serve
 * @errp: error object
 *
 * Looks up the user-created object @id and checks that it is TLS
 * credentials made for @endpoint. Main thread.
 *
 * Returns: (transfer none): the credentials, or NULL with @errp set.
 */
QCryptoTLSCreds *qcrypto_tls_creds_find(const char *id,
                                        QCryptoTLSCredsEndpoint endpoint,
                                        Error **errp);

/**
 * qcrypto_tls_creds_get_path:
 * @creds: the credentials
 * @filename: a file name inside the "dir" directory
 * @required: whether the file must exist
 * @cred: (out): the full path of the file, or NULL when an optional file
 *        is absent; the caller frees it
 * @errp: error object
 *
 * Builds the path of one credential file and checks that it can be read.
 * Main thread (used while loading).
 *
 * Returns: 0 on success (including an absent optional file), -1 with
 * @errp set when "dir" is unset or a required file cannot be read.
 */
int qcrypto_tls_creds_get_path(QCryptoTLSCreds *creds, const char *filename,
                               bool required, char **cred, Error **errp);

/**
 * qcrypto_tls_creds_load_dh_params:
 * @creds: the credentials
 * @errp: error object
 *
 * Reads the optional dh-params.pem (PKCS#3, PEM) into @creds->dh_params.
 * Without the file, @creds->dh_params stays NULL and GnuTLS uses its
 * built-in RFC 7919 groups.
 *
 * Returns: true on success, false with @errp set naming the file.
 */
bool qcrypto_tls_creds_load_dh_params(QCryptoTLSCreds *creds, Error **errp);

/**
 * qcrypto_tls_creds_get_priority:
 * @creds: the credentials
 *
 * Returns: (transfer full): the GnuTLS priority string for sessions made
 * with @creds: the "priority" property (or "NORMAL") followed by what
 * the credential kind needs in addition.
 */
char *qcrypto_tls_creds_get_priority(QCryptoTLSCreds *creds);

#endif /* QCRYPTO_TLSCREDS_H */
