/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * X.509 TLS credentials: --object tls-creds-x509,id=ID,dir=DIR,
 * endpoint=client|server[,verify-peer=on|off][,sanity-check=on|off]
 * [,priority=STRING]
 *
 * Files read from DIR when the object is completed:
 *
 *   ca-cert.pem      CA certificate(s) that issued the peer's certificate
 *                    (always required)
 *   ca-crl.pem       certificate revocation list (optional)
 *   server-cert.pem  this server's certificate (server: required)
 *   server-key.pem   its private key (server: required)
 *   client-cert.pem  this client's certificate (client: optional, but a
 *                    server with verify-peer=on refuses clients without)
 *   client-key.pem   its private key (client: with client-cert.pem)
 *   dh-params.pem    Diffie-Hellman parameters (optional)
 *
 * With sanity-check=on (the default) the certificates are checked as
 * they are loaded: each must be active and unexpired, the CA must be
 * allowed to sign certificates, our own certificate must not be a CA, its
 * key usage and key purpose must allow its role, and it must have been
 * issued by the CA. Problems fail the creation with an error naming the
 * file.
 *
 * Not offered: the "passwordid" property (encrypted private keys) and
 * reloading the files of a live object.
 */
#ifndef QCRYPTO_TLSCREDSX509_H
#define QCRYPTO_TLSCREDSX509_H

#include "crypto/tlscreds.h"

#define TYPE_QCRYPTO_TLS_CREDS_X509 "tls-creds-x509"
OBJECT_DECLARE_TYPE(QCryptoTLSCredsX509, QCryptoTLSCredsX509Class,
                    QCRYPTO_TLS_CREDS_X509)

#define QCRYPTO_TLS_CREDS_X509_CA_CERT "ca-cert.pem"
#define QCRYPTO_TLS_CREDS_X509_CA_CRL "ca-crl.pem"
#define QCRYPTO_TLS_CREDS_X509_SERVER_KEY "server-key.pem"
#define QCRYPTO_TLS_CREDS_X509_SERVER_CERT "server-cert.pem"
#define QCRYPTO_TLS_CREDS_X509_CLIENT_KEY "client-key.pem"
#define QCRYPTO_TLS_CREDS_X509_CLIENT_CERT "client-cert.pem"

struct QCryptoTLSCredsX509 {
    QCryptoTLSCreds parent_obj;

    bool sanity_check;                      /* property "sanity-check" */
    gnutls_certificate_credentials_t data;  /* loaded, or NULL */
};

struct QCryptoTLSCredsX509Class {
    QCryptoTLSCredsClass parent_class;
};

#endif /* QCRYPTO_TLSCREDSX509_H */
