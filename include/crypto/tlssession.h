/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TLS sessions: the TLS protocol state of one connection, on GnuTLS.
 *
 * A session does no I/O of its own. The owner gives it two transport
 * callbacks (qcrypto_tls_session_set_callbacks) that move ciphertext over
 * the real connection; they return the number of bytes moved, or -1 with
 * errno set (EAGAIN when a non-blocking transport has nothing to give or
 * no room). The session calls them from within the handshake, read,
 * write and bye calls, in the thread making that call.
 *
 * Life of a session: qcrypto_tls_session_new(); handshake until it
 * returns 1 (waiting for the direction that
 * qcrypto_tls_session_get_handshake_status() names whenever it returns
 * 0); qcrypto_tls_session_check_credentials(); then read and write;
 * qcrypto_tls_session_bye() to send the closing alert; free.
 *
 * Threads: after the handshake, one thread may read while another
 * writes. Every call into GnuTLS that touches the record layer of a
 * session (handshake, read, write, bye, check_pending, key update) is
 * serialised by a mutex of the session: with TLS 1.3, receiving a
 * KeyUpdate changes the state the sending side uses, and GnuTLS does not
 * protect that. The mutex is held for the length of the call, including
 * the transport callbacks it makes, so two-thread use requires a
 * non-blocking transport (with a blocking one, a read waiting for data
 * would hold up the writer).
 */
#ifndef QCRYPTO_TLSSESSION_H
#define QCRYPTO_TLSSESSION_H

#include "crypto/tlscreds.h"

typedef struct QCryptoTLSSession QCryptoTLSSession;

/* Returned by read/write/key_update when the transport would block. */
#define QCRYPTO_TLS_SESSION_ERR_BLOCK -2

typedef enum QCryptoTLSSessionHandshakeStatus {
    QCRYPTO_TLS_HANDSHAKE_COMPLETE,
    QCRYPTO_TLS_HANDSHAKE_SENDING,
    QCRYPTO_TLS_HANDSHAKE_RECVING,
} QCryptoTLSSessionHandshakeStatus;

typedef enum QCryptoTLSSessionByeStatus {
    QCRYPTO_TLS_BYE_COMPLETE,
    QCRYPTO_TLS_BYE_SENDING,
    QCRYPTO_TLS_BYE_RECVING,
} QCryptoTLSSessionByeStatus;

/*
 * Transport callbacks: move @len bytes of ciphertext; return how many
 * were moved (0 from the read function is end of file), or -1 with errno
 * set (EAGAIN: try again when the transport is ready).
 */
typedef ssize_t (*QCryptoTLSSessionWriteFunc)(const char *buf, size_t len,
                                              void *opaque);
typedef ssize_t (*QCryptoTLSSessionReadFunc)(char *buf, size_t len,
                                             void *opaque);

/**
 * qcrypto_tls_session_new:
 * @creds: loaded credentials for @endpoint (referenced by the session)
 * @hostname: (nullable): for a client with X.509 credentials, the name
 *            the server's certificate must carry
 * @aclname: (nullable): for a server, the id of an authorization object
 *           that must accept the client's name (see the note at
 *           qcrypto_tls_session_check_credentials())
 * @endpoint: which side of the connection this is
 * @errp: error object
 *
 * Creates a session. Any thread.
 *
 * Returns: (transfer full): the session, or NULL with @errp set when the
 * credentials are not loaded, are for the other endpoint, or the
 * priority string is refused.
 */
QCryptoTLSSession *qcrypto_tls_session_new(QCryptoTLSCreds *creds,
                                           const char *hostname,
                                           const char *aclname,
                                           QCryptoTLSCredsEndpoint endpoint,
                                           Error **errp);

/**
 * qcrypto_tls_session_free:
 * @sess: (nullable): a session
 *
 * Frees the session without sending anything to the peer.
 */
void qcrypto_tls_session_free(QCryptoTLSSession *sess);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoTLSSession, qcrypto_tls_session_free)

/**
 * qcrypto_tls_session_set_callbacks:
 * @sess: the session
 * @writeFunc: sends ciphertext
 * @readFunc: receives ciphertext
 * @opaque: passed to both
 *
 * Sets the transport, before the handshake.
 */
void qcrypto_tls_session_set_callbacks(QCryptoTLSSession *sess,
                                       QCryptoTLSSessionWriteFunc writeFunc,
                                       QCryptoTLSSessionReadFunc readFunc,
                                       void *opaque);

/**
 * qcrypto_tls_session_handshake:
 * @sess: the session
 * @errp: error object
 *
 * Advances the handshake as far as the transport allows.
 *
 * Returns: 1 when the handshake is complete, 0 when it must be called
 * again once the transport is ready in the direction given by
 * qcrypto_tls_session_get_handshake_status(), -1 with @errp set on
 * failure (including a peer that does not speak TLS).
 */
int qcrypto_tls_session_handshake(QCryptoTLSSession *sess, Error **errp);

/**
 * qcrypto_tls_session_get_handshake_status:
 * @sess: the session
 *
 * Returns: COMPLETE after the handshake, else whether it waits to send
 * (SENDING) or to receive (RECVING).
 */
QCryptoTLSSessionHandshakeStatus
qcrypto_tls_session_get_handshake_status(QCryptoTLSSession *sess);

/**
 * qcrypto_tls_session_check_credentials:
 * @sess: a session whose handshake is complete
 * @errp: error object
 *
 * Checks the peer: with X.509 credentials and verify-peer on, that its
 * certificate chain was issued by our CA and is valid, and for a client
 * that it matches the hostname given at creation; for a PSK server,
 * records the client's username. Also records the peer's name (the
 * certificate's distinguished name, or the PSK username).
 *
 * A server session made with an @aclname then asks that authorization
 * object (authz-simple, authz-list, authz-listfile) whether the peer's
 * name may in; a denied or nameless peer is refused, and the error names
 * both the peer and the object.
 *
 * Returns: 0 if the peer is acceptable, -1 with @errp set otherwise.
 */
int qcrypto_tls_session_check_credentials(QCryptoTLSSession *sess,
                                          Error **errp);

/**
 * qcrypto_tls_session_read:
 * @sess: a session whose handshake is complete
 * @buf: where to put plaintext
 * @len: room in @buf
 * @errp: error object
 *
 * Returns: bytes read (at most one record's worth), 0 at end of file
 * (the peer's closing alert, or the transport's end of file without it),
 * QCRYPTO_TLS_SESSION_ERR_BLOCK when the transport would block, or -1
 * with @errp set.
 */
ssize_t qcrypto_tls_session_read(QCryptoTLSSession *sess, char *buf,
                                 size_t len, Error **errp);

/**
 * qcrypto_tls_session_write:
 * @sess: a session whose handshake is complete
 * @buf: plaintext
 * @len: its length
 * @errp: error object
 *
 * After QCRYPTO_TLS_SESSION_ERR_BLOCK the caller must call again with the
 * same data (the record is already sealed and partly sent).
 *
 * Returns: bytes written (maybe fewer than @len),
 * QCRYPTO_TLS_SESSION_ERR_BLOCK, or -1 with @errp set.
 */
ssize_t qcrypto_tls_session_write(QCryptoTLSSession *sess, const char *buf,
                                  size_t len, Error **errp);

/**
 * qcrypto_tls_session_check_pending:
 * @sess: the session
 *
 * Returns: how many decrypted bytes are waiting to be read, which a
 * caller must read before waiting on the transport.
 */
size_t qcrypto_tls_session_check_pending(QCryptoTLSSession *sess);

/**
 * qcrypto_tls_session_get_key_size:
 * @sess: a session whose handshake is complete
 * @errp: error object
 *
 * Returns: the size in bytes of the cipher key, or -1 with @errp set.
 */
int qcrypto_tls_session_get_key_size(QCryptoTLSSession *sess, Error **errp);

/**
 * qcrypto_tls_session_get_peer_name:
 * @sess: a session whose credentials were checked
 *
 * Returns: (transfer full) (nullable): the peer's name (X.509
 * distinguished name or PSK username), or NULL when it has none.
 */
char *qcrypto_tls_session_get_peer_name(QCryptoTLSSession *sess);

/**
 * qcrypto_tls_session_bye:
 * @sess: the session
 * @errp: error object
 *
 * Sends the closing alert (close_notify), which tells the peer that the
 * end of the data is the end it meant. The reading direction stays
 * usable. Does nothing before the handshake completes.
 *
 * Returns: QCRYPTO_TLS_BYE_COMPLETE (0) when sent, QCRYPTO_TLS_BYE_SENDING
 * or _RECVING when it must be called again once the transport is ready in
 * that direction, -1 with @errp set.
 */
int qcrypto_tls_session_bye(QCryptoTLSSession *sess, Error **errp);

/**
 * qcrypto_tls_session_key_update:
 * @sess: a session whose handshake is complete (TLS 1.3)
 * @request_peer: also ask the peer to update its sending key
 * @errp: error object
 *
 * Not in QEMU: sends a TLS 1.3 KeyUpdate and switches to the new sending
 * key, under the session's mutex like every record-layer call. Meant for
 * tests that provoke rekeying while another thread reads. The caller
 * must not write application data until this returned 0.
 *
 * Returns: 0 when done, QCRYPTO_TLS_SESSION_ERR_BLOCK when it must be
 * called again once the transport can take data, -1 with @errp set
 * (also when the session does not use TLS 1.3).
 */
int qcrypto_tls_session_key_update(QCryptoTLSSession *sess,
                                   bool request_peer, Error **errp);

/**
 * qcrypto_tls_session_get_protocol:
 * @sess: a session whose handshake is complete
 *
 * Not in QEMU.
 *
 * Returns: the protocol version name ("TLS1.3", "TLS1.2"...), static.
 */
const char *qcrypto_tls_session_get_protocol(QCryptoTLSSession *sess);

#endif /* QCRYPTO_TLSSESSION_H */
