/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Anonymous TLS credentials: --object tls-creds-anon,id=ID,
 * endpoint=client|server[,dir=DIR][,priority=STRING]
 *
 * Encryption without authentication (anonymous Diffie-Hellman, which
 * GnuTLS offers up to TLS 1.2 only): nobody's identity is checked, so
 * this protects against eavesdropping only. DIR, if given, may hold
 * dh-params.pem for the server.
 */
#ifndef QCRYPTO_TLSCREDSANON_H
#define QCRYPTO_TLSCREDSANON_H

#include "crypto/tlscreds.h"

#define TYPE_QCRYPTO_TLS_CREDS_ANON "tls-creds-anon"
OBJECT_DECLARE_TYPE(QCryptoTLSCredsAnon, QCryptoTLSCredsAnonClass,
                    QCRYPTO_TLS_CREDS_ANON)

struct QCryptoTLSCredsAnon {
    QCryptoTLSCreds parent_obj;

    gnutls_anon_server_credentials_t server;    /* loaded server side */
    gnutls_anon_client_credentials_t client;    /* loaded client side */
};

struct QCryptoTLSCredsAnonClass {
    QCryptoTLSCredsClass parent_class;
};

#endif /* QCRYPTO_TLSCREDSANON_H */
