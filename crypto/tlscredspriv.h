/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers shared by the TLS credential kinds and the TLS session; not
 * for use outside crypto/.
 */
#ifndef QCRYPTO_TLSCREDSPRIV_H
#define QCRYPTO_TLSCREDSPRIV_H

#include <stdbool.h>
#include <string.h>

#include <glib.h>
#include <gnutls/gnutls.h>

#include "qemu/typedefs.h"

/*
 * The text of GnuTLS error @ret without the final period GnuTLS puts
 * there, so that it can end one of our messages. The caller frees it.
 */
static inline char *qcrypto_tls_strerror(int ret)
{
    char *text = g_strdup(gnutls_strerror(ret));
    size_t len = strlen(text);

    while (len > 0 && (text[len - 1] == '.' || text[len - 1] == ' ')) {
        text[--len] = '\0';
    }
    return text;
}

/*
 * Why a certificate check failed, from the status bits of
 * gnutls_certificate_verify_peers2() or gnutls_x509_crt_list_verify(),
 * as the end of a sentence ("...: its issuer is not a known CA").
 */
static inline const char *qcrypto_tls_verify_status_text(unsigned int status)
{
    if (status & GNUTLS_CERT_REVOKED) {
        return "it has been revoked";
    }
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        return "its issuer is not a known CA";
    }
    if (status & GNUTLS_CERT_SIGNER_NOT_CA) {
        return "its issuer is not allowed to act as a CA";
    }
    if (status & GNUTLS_CERT_INSECURE_ALGORITHM) {
        return "it is signed with an insecure algorithm";
    }
    if (status & GNUTLS_CERT_NOT_ACTIVATED) {
        return "it is not active yet";
    }
    if (status & GNUTLS_CERT_EXPIRED) {
        return "it has expired";
    }
    if (status & GNUTLS_CERT_SIGNATURE_FAILURE) {
        return "its signature does not verify";
    }
    return "it is not trusted";
}

/**
 * qcrypto_tls_creds_read_file:
 * @what: what the file holds, for messages ("CA certificate")
 * @path: the file
 * @data: (out): its contents, to free with g_free()
 * @errp: error object
 *
 * Reads a whole (small) credential file.
 *
 * Returns: true on success, false with @errp set as "Unable to read
 * WHAT 'PATH': REASON".
 */
bool qcrypto_tls_creds_read_file(const char *what, const char *path,
                                 gnutls_datum_t *data, Error **errp);

#endif /* QCRYPTO_TLSCREDSPRIV_H */
