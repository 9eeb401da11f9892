/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TLS sessions on GnuTLS.
 *
 * Theory of operation
 *
 * A session is used by at most two threads at a time after its
 * handshake: one that reads and one that writes (the TLS channel's reader
 * and writer coroutines may sit in different iothreads). GnuTLS allows
 * that for TLS 1.2, but with TLS 1.3 a received KeyUpdate message makes
 * gnutls_record_recv() schedule a KeyUpdate of our own and switch keys,
 * which races with a gnutls_record_send() in the other thread. So every
 * call into GnuTLS that touches the record layer takes @lock for its
 * duration: handshake, record_recv, record_send, bye, check_pending and
 * key updates. The transport callbacks run inside those calls and so
 * under the lock too. The lock is never held while waiting for the
 * transport to become ready (callers wait between calls), so as long as
 * the transport is non-blocking, neither direction holds up the other
 * for longer than one call.
 *
 * A second GnuTLS problem concerns interrupted sends. When the transport
 * takes only part of a record, gnutls_record_send() returns EAGAIN and
 * expects to be called again with the same data. If a KeyUpdate request
 * of the peer is received in between (by the reader), the retried call
 * takes GnuTLS' "key update first" path, which encrypts the data again:
 * the record reaches the peer twice. So GnuTLS never sees an interrupted
 * send here. While a record is being sent (or a key update, or the
 * closing alert), the push callback keeps whatever the transport does
 * not take in @outbuf and reports it as sent. The write then returns
 * QCRYPTO_TLS_SESSION_ERR_BLOCK, remembering the count it owes
 * (@unreported); the caller, which must retry with the same data once the
 * transport is writable, gets that count back as soon as @outbuf has been
 * flushed, without GnuTLS being called again. Any other push (from the
 * handshake or from a read) first flushes @outbuf, so the byte order on
 * the wire is kept. At most about two records ever sit in @outbuf.
 *
 * Everything else (creds, hostname, authzid, callbacks) is set before the
 * handshake and constant afterwards; peername is set by the check after
 * the handshake, before the session is shared between threads.
 */
#include "qemu/osdep.h"
#include "authz/base.h"
#include "crypto/tlssession.h"
#include "crypto/tlscredspriv.h"
#include "qapi/error.h"
#include "qemu/thread.h"

struct QCryptoTLSSession {
    QCryptoTLSCreds *creds;     /* a reference */
    QCryptoTLSCredsEndpoint endpoint;
    char *hostname;
    char *authzid;
    char *peername;

    QCryptoTLSSessionWriteFunc write_func;
    QCryptoTLSSessionReadFunc read_func;
    void *opaque;

    /*
     * Protects the GnuTLS session and everything below: every call into
     * GnuTLS on @handle, hence the transport callbacks, runs with it.
     */
    QemuMutex lock;
    gnutls_session_t handle;
    bool handshake_complete;
    bool buffer_push;       /* a send runs: keep what the transport leaves */
    GByteArray *outbuf;     /* ciphertext sealed but not yet on the wire */
    ssize_t unreported;     /* bytes a write took but reported as BLOCK */
    bool key_update_done;   /* likewise for a key update */
    bool bye_done;          /* the closing alert was handed to GnuTLS */
};

/*
 * Sends what @outbuf holds. Returns 0 when it is empty, or -1 with errno
 * set (EAGAIN: the transport is full). sess->lock held.
 */
static int qcrypto_tls_session_flush_locked(QCryptoTLSSession *sess)
{
    while (sess->outbuf->len > 0) {
        ssize_t ret;

        if (!sess->write_func) {
            errno = EIO;
            return -1;
        }
        errno = 0;
        ret = sess->write_func((const char *)sess->outbuf->data,
                               sess->outbuf->len, sess->opaque);
        if (ret < 0) {
            if (!errno) {
                errno = EIO;
            }
            return -1;
        }
        g_byte_array_remove_range(sess->outbuf, 0, ret);
    }
    return 0;
}

/* GnuTLS transport callbacks; they run with sess->lock held. */

static ssize_t qcrypto_tls_session_push(gnutls_transport_ptr_t opaque,
                                        const void *buf, size_t len)
{
    QCryptoTLSSession *sess = opaque;
    ssize_t ret = 0;

    /* Older ciphertext goes first. */
    if (sess->outbuf->len > 0 &&
        qcrypto_tls_session_flush_locked(sess) < 0 &&
        (errno != EAGAIN || !sess->buffer_push)) {
        goto fail;
    }
    if (sess->outbuf->len == 0) {
        if (!sess->write_func) {
            errno = EIO;
            goto fail;
        }
        errno = 0;
        ret = sess->write_func(buf, len, sess->opaque);
        if (ret < 0) {
            if (errno != EAGAIN || !sess->buffer_push) {
                goto fail;
            }
            ret = 0;
        }
        if (ret == len || !sess->buffer_push) {
            return ret;
        }
    }
    /* The transport is full while a send runs: keep the rest. */
    g_byte_array_append(sess->outbuf, (const guint8 *)buf + ret, len - ret);
    return len;

fail:
    gnutls_transport_set_errno(sess->handle, errno ? errno : EIO);
    return -1;
}

static ssize_t qcrypto_tls_session_pull(gnutls_transport_ptr_t opaque,
                                        void *buf, size_t len)
{
    QCryptoTLSSession *sess = opaque;
    ssize_t ret;

    if (!sess->read_func) {
        gnutls_transport_set_errno(sess->handle, EIO);
        errno = EIO;
        return -1;
    }
    errno = 0;
    ret = sess->read_func(buf, len, sess->opaque);
    if (ret < 0) {
        gnutls_transport_set_errno(sess->handle, errno ? errno : EIO);
        return -1;
    }
    return ret;
}

QCryptoTLSSession *qcrypto_tls_session_new(QCryptoTLSCreds *creds,
                                           const char *hostname,
                                           const char *aclname,
                                           QCryptoTLSCredsEndpoint endpoint,
                                           Error **errp)
{
    QCryptoTLSCredsClass *klass = QCRYPTO_TLS_CREDS_GET_CLASS(creds);
    g_autoptr(QCryptoTLSSession) sess = NULL;
    g_autofree char *prio = NULL;
    const char *err_pos = NULL;
    int ret;

    if (!creds->loaded || !klass->session_setup) {
        error_setg(errp, "TLS credentials '%s' are not loaded",
                   object_get_canonical_path_component(OBJECT(creds)) ?:
                   object_get_typename(OBJECT(creds)));
        return NULL;
    }
    if (!qcrypto_tls_creds_check_endpoint(creds, endpoint, errp)) {
        return NULL;
    }

    sess = g_new0(QCryptoTLSSession, 1);
    qemu_mutex_init(&sess->lock);
    sess->outbuf = g_byte_array_new();
    sess->creds = QCRYPTO_TLS_CREDS(object_ref(OBJECT(creds)));
    sess->endpoint = endpoint;
    sess->hostname = g_strdup(hostname);
    sess->authzid = g_strdup(aclname);

    ret = gnutls_init(&sess->handle,
                      endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER ?
                      GNUTLS_SERVER : GNUTLS_CLIENT);
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        sess->handle = NULL;
        error_setg(errp, "Unable to create a TLS session: %s", why);
        return NULL;
    }

    prio = qcrypto_tls_creds_get_priority(creds);
    ret = gnutls_priority_set_direct(sess->handle, prio, &err_pos);
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Unable to use TLS priority string '%s' (at '%s'): "
                   "%s", prio, err_pos ?: "", why);
        return NULL;
    }
    if (!klass->session_setup(creds, sess->handle, errp)) {
        return NULL;
    }

    gnutls_transport_set_ptr(sess->handle, sess);
    gnutls_transport_set_push_function(sess->handle,
                                       qcrypto_tls_session_push);
    gnutls_transport_set_pull_function(sess->handle,
                                       qcrypto_tls_session_pull);
    return g_steal_pointer(&sess);
}

void qcrypto_tls_session_free(QCryptoTLSSession *sess)
{
    if (!sess) {
        return;
    }
    if (sess->handle) {
        gnutls_deinit(sess->handle);
    }
    g_free(sess->hostname);
    g_free(sess->authzid);
    g_free(sess->peername);
    g_byte_array_free(sess->outbuf, true);
    object_unref(OBJECT(sess->creds));
    qemu_mutex_destroy(&sess->lock);
    g_free(sess);
}

void qcrypto_tls_session_set_callbacks(QCryptoTLSSession *sess,
                                       QCryptoTLSSessionWriteFunc writeFunc,
                                       QCryptoTLSSessionReadFunc readFunc,
                                       void *opaque)
{
    sess->write_func = writeFunc;
    sess->read_func = readFunc;
    sess->opaque = opaque;
}

/* Errors that mean the bytes received were not TLS records at all. */
static bool qcrypto_tls_error_is_not_tls(int ret)
{
    switch (ret) {
    case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
    case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
    case GNUTLS_E_UNEXPECTED_PACKET:
    case GNUTLS_E_UNEXPECTED_HANDSHAKE_PACKET:
    case GNUTLS_E_RECORD_OVERFLOW:
        return true;
    default:
        return false;
    }
}

int qcrypto_tls_session_handshake(QCryptoTLSSession *sess, Error **errp)
{
    int ret;

    qemu_mutex_lock(&sess->lock);
    ret = gnutls_handshake(sess->handle);
    if (ret == 0) {
        sess->handshake_complete = true;
    }
    qemu_mutex_unlock(&sess->lock);

    if (ret == 0) {
        return 1;
    }
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        return 0;
    }

    if (ret == GNUTLS_E_PREMATURE_TERMINATION) {
        error_setg(errp, "TLS handshake failed: the peer closed the "
                   "connection");
    } else {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        if (qcrypto_tls_error_is_not_tls(ret)) {
            error_setg(errp, "TLS handshake failed: %s (the peer does not "
                       "seem to speak TLS)", why);
        } else {
            error_setg(errp, "TLS handshake failed: %s", why);
        }
    }
    return -1;
}

QCryptoTLSSessionHandshakeStatus
qcrypto_tls_session_get_handshake_status(QCryptoTLSSession *sess)
{
    QCryptoTLSSessionHandshakeStatus status;

    qemu_mutex_lock(&sess->lock);
    if (sess->handshake_complete) {
        status = QCRYPTO_TLS_HANDSHAKE_COMPLETE;
    } else if (gnutls_record_get_direction(sess->handle)) {
        status = QCRYPTO_TLS_HANDSHAKE_SENDING;
    } else {
        status = QCRYPTO_TLS_HANDSHAKE_RECVING;
    }
    qemu_mutex_unlock(&sess->lock);
    return status;
}

int qcrypto_tls_session_check_credentials(QCryptoTLSSession *sess,
                                          Error **errp)
{
    QCryptoTLSCredsClass *klass = QCRYPTO_TLS_CREDS_GET_CLASS(sess->creds);
    const char *hostname = NULL;
    g_autofree char *peername = NULL;
    bool ok = true;

    if (sess->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT) {
        hostname = sess->hostname;
    }
    if (klass->check_peer) {
        qemu_mutex_lock(&sess->lock);
        ok = klass->check_peer(sess->creds, sess->handle, hostname,
                               &peername, errp);
        qemu_mutex_unlock(&sess->lock);
    }
    if (!ok) {
        return -1;
    }

    if (sess->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER &&
        sess->authzid) {
        ERRP_GUARD();

        if (!peername) {
            error_setg(errp, "TLS peer has no name (anonymous or unchecked "
                       "credentials) for authorization object '%s' to "
                       "check", sess->authzid);
            return -1;
        }
        if (!qauthz_is_allowed_by_id(sess->authzid, peername, errp)) {
            if (*errp) {
                error_prepend(errp, "cannot check TLS peer '%s': ",
                              peername);
            } else {
                error_setg(errp, "TLS peer '%s' is not allowed by "
                           "authorization object '%s'", peername,
                           sess->authzid);
            }
            return -1;
        }
    }

    g_free(sess->peername);
    sess->peername = g_steal_pointer(&peername);
    return 0;
}

ssize_t qcrypto_tls_session_read(QCryptoTLSSession *sess, char *buf,
                                 size_t len, Error **errp)
{
    ssize_t ret;

    qemu_mutex_lock(&sess->lock);
    ret = gnutls_record_recv(sess->handle, buf, len);
    qemu_mutex_unlock(&sess->lock);

    if (ret >= 0) {
        return ret;
    }
    switch (ret) {
    case GNUTLS_E_AGAIN:
    case GNUTLS_E_INTERRUPTED:
        return QCRYPTO_TLS_SESSION_ERR_BLOCK;
    case GNUTLS_E_PREMATURE_TERMINATION:
        /* The transport ended without a closing alert: end of file. */
        return 0;
    default: {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Cannot read from TLS channel: %s", why);
        return -1;
    }
    }
}

ssize_t qcrypto_tls_session_write(QCryptoTLSSession *sess, const char *buf,
                                  size_t len, Error **errp)
{
    ssize_t ret;

    qemu_mutex_lock(&sess->lock);
    if (qcrypto_tls_session_flush_locked(sess) < 0) {
        ret = errno == EAGAIN ? GNUTLS_E_AGAIN : GNUTLS_E_PUSH_ERROR;
    } else if (sess->unreported) {
        /* The retry of a write whose data went out meanwhile. */
        ret = sess->unreported;
        sess->unreported = 0;
    } else {
        sess->buffer_push = true;
        ret = gnutls_record_send(sess->handle, buf, len);
        sess->buffer_push = false;
        if (ret > 0 && sess->outbuf->len > 0) {
            sess->unreported = ret;
            ret = GNUTLS_E_AGAIN;
        }
    }
    qemu_mutex_unlock(&sess->lock);

    if (ret >= 0) {
        return ret;
    }
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        return QCRYPTO_TLS_SESSION_ERR_BLOCK;
    } else {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Cannot write to TLS channel: %s", why);
        return -1;
    }
}

size_t qcrypto_tls_session_check_pending(QCryptoTLSSession *sess)
{
    size_t pending;

    qemu_mutex_lock(&sess->lock);
    pending = gnutls_record_check_pending(sess->handle);
    qemu_mutex_unlock(&sess->lock);
    return pending;
}

int qcrypto_tls_session_get_key_size(QCryptoTLSSession *sess, Error **errp)
{
    gnutls_cipher_algorithm_t cipher;
    size_t size;

    qemu_mutex_lock(&sess->lock);
    cipher = gnutls_cipher_get(sess->handle);
    qemu_mutex_unlock(&sess->lock);

    size = gnutls_cipher_get_key_size(cipher);
    if (!size) {
        error_setg(errp, "Cannot get the key size of TLS cipher %d", cipher);
        return -1;
    }
    return size;
}

char *qcrypto_tls_session_get_peer_name(QCryptoTLSSession *sess)
{
    return g_strdup(sess->peername);
}

int qcrypto_tls_session_bye(QCryptoTLSSession *sess, Error **errp)
{
    int ret = 0;

    qemu_mutex_lock(&sess->lock);
    if (!sess->handshake_complete) {
        qemu_mutex_unlock(&sess->lock);
        return QCRYPTO_TLS_BYE_COMPLETE;
    }
    if (qcrypto_tls_session_flush_locked(sess) < 0) {
        ret = errno == EAGAIN ? GNUTLS_E_AGAIN : GNUTLS_E_PUSH_ERROR;
    } else if (!sess->bye_done) {
        sess->buffer_push = true;
        ret = gnutls_bye(sess->handle, GNUTLS_SHUT_WR);
        sess->buffer_push = false;
        if (ret == 0) {
            sess->bye_done = true;
            if (qcrypto_tls_session_flush_locked(sess) < 0) {
                ret = errno == EAGAIN ? GNUTLS_E_AGAIN : GNUTLS_E_PUSH_ERROR;
            }
        }
    }
    qemu_mutex_unlock(&sess->lock);

    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        /* Ciphertext is left to send: call again when writable. */
        return QCRYPTO_TLS_BYE_SENDING;
    }
    if (ret < 0) {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Cannot end the TLS session: %s", why);
        return -1;
    }
    return QCRYPTO_TLS_BYE_COMPLETE;
}

int qcrypto_tls_session_key_update(QCryptoTLSSession *sess,
                                   bool request_peer, Error **errp)
{
    int ret;

    qemu_mutex_lock(&sess->lock);
    if (qcrypto_tls_session_flush_locked(sess) < 0) {
        ret = errno == EAGAIN ? GNUTLS_E_AGAIN : GNUTLS_E_PUSH_ERROR;
    } else if (sess->key_update_done) {
        sess->key_update_done = false;
        ret = 0;
    } else {
        sess->buffer_push = true;
        ret = gnutls_session_key_update(sess->handle,
                                        request_peer ? GNUTLS_KU_PEER : 0);
        sess->buffer_push = false;
        if (ret == 0 && sess->outbuf->len > 0) {
            sess->key_update_done = true;
            ret = GNUTLS_E_AGAIN;
        }
    }
    qemu_mutex_unlock(&sess->lock);

    if (ret == 0) {
        return 0;
    }
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        return QCRYPTO_TLS_SESSION_ERR_BLOCK;
    } else {
        g_autofree char *why = qcrypto_tls_strerror(ret);

        error_setg(errp, "Cannot update the TLS session keys: %s", why);
        return -1;
    }
}

const char *qcrypto_tls_session_get_protocol(QCryptoTLSSession *sess)
{
    const char *name;

    qemu_mutex_lock(&sess->lock);
    name = gnutls_protocol_get_name(gnutls_protocol_get_version(sess->handle));
    qemu_mutex_unlock(&sess->lock);
    return name ?: "unknown";
}
