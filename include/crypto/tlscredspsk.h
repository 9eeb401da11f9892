/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pre-shared key TLS credentials: --object tls-creds-psk,id=ID,dir=DIR,
 * endpoint=client|server[,username=NAME][,priority=STRING]
 *
 * DIR/keys.psk holds one "username:hexkey" line per user (the format of
 * GnuTLS' psktool). A server accepts any user of the file; a client uses
 * the key of "username" (default "qemu"), which a server endpoint must
 * not set. DIR/dh-params.pem is optional.
 */
#ifndef QCRYPTO_TLSCREDSPSK_H
#define QCRYPTO_TLSCREDSPSK_H

#include "crypto/tlscreds.h"

#define TYPE_QCRYPTO_TLS_CREDS_PSK "tls-creds-psk"
OBJECT_DECLARE_TYPE(QCryptoTLSCredsPSK, QCryptoTLSCredsPSKClass,
                    QCRYPTO_TLS_CREDS_PSK)

#define QCRYPTO_TLS_CREDS_PSKFILE "keys.psk"
#define QCRYPTO_TLS_CREDS_PSK_DEFAULT_USERNAME "qemu"

struct QCryptoTLSCredsPSK {
    QCryptoTLSCreds parent_obj;

    char *username;     /* property "username"; NULL: the default */
    gnutls_psk_server_credentials_t server;     /* loaded server side */
    gnutls_psk_client_credentials_t client;     /* loaded client side */
};

struct QCryptoTLSCredsPSKClass {
    QCryptoTLSCredsClass parent_class;
};

#endif /* QCRYPTO_TLSCREDSPSK_H */
