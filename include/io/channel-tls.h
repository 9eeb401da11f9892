/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannelTLS: a channel that runs a TLS session over another channel
 * (its "master", usually a socket).
 *
 * Make it with qio_channel_tls_new_server() or _client(), run the
 * handshake with qio_channel_tls_handshake() (GLib main loop, QIOTask
 * callback) or qio_channel_tls_handshake_co() (from a coroutine), then
 * read and write plaintext through the usual QIOChannel calls.
 *
 * Waiting follows the channel contract: qio_channel_yield() on the TLS
 * channel installs its handlers on the master's fd(s), in the context
 * chosen by the TLS channel's own follow-coroutine-ctx, which it takes
 * over from the master when it is made. One reader and one writer may
 * use the channel at once from different threads (see crypto/tlssession.h
 * for how the session serialises them); the master should then be
 * non-blocking.
 *
 * File descriptor passing is not offered over TLS.
 */
#ifndef QIO_CHANNEL_TLS_H
#define QIO_CHANNEL_TLS_H

#include "io/channel.h"
#include "io/task.h"
#include "crypto/tlssession.h"

#define TYPE_QIO_CHANNEL_TLS "qio-channel-tls"
OBJECT_DECLARE_SIMPLE_TYPE(QIOChannelTLS, QIO_CHANNEL_TLS)

typedef struct QIOChannelTLSHandshake QIOChannelTLSHandshake;

struct QIOChannelTLS {
    QIOChannel parent;
    QIOChannel *master;             /* a reference */
    QCryptoTLSSession *session;
    unsigned int shutdown;          /* atomic: QIOChannelShutdown bits */
    /*
     * Errors of the master seen by the transport callbacks, kept so that
     * the failing read or write can report them instead of GnuTLS'
     * generic text. Atomic exchange.
     */
    Error *read_err;
    Error *write_err;
    /* The pending watch of a qio_channel_tls_handshake(), or NULL. */
    QIOChannelTLSHandshake *handshake;
};

/**
 * qio_channel_tls_new_server:
 * @master: the channel to run TLS over (referenced)
 * @creds: server credentials, loaded
 * @aclname: (nullable): id of an authorization object for the client's
 *           name; not supported here, so a non-NULL one makes every
 *           handshake fail its credentials check
 * @errp: error object
 *
 * Makes the server side of a TLS channel. It takes over @master's
 * follow-coroutine-ctx and shutdown feature. Main thread or the thread
 * owning @master.
 *
 * Returns: (transfer full): the channel, or NULL with @errp set.
 */
QIOChannelTLS *qio_channel_tls_new_server(QIOChannel *master,
                                          QCryptoTLSCreds *creds,
                                          const char *aclname,
                                          Error **errp);

/**
 * qio_channel_tls_new_client:
 * @master: the channel to run TLS over (referenced)
 * @creds: client credentials, loaded
 * @hostname: (nullable): the name the server's X.509 certificate must
 *            carry (checked when verify-peer is on)
 * @errp: error object
 *
 * Makes the client side of a TLS channel, as for the server.
 *
 * Returns: (transfer full): the channel, or NULL with @errp set.
 */
QIOChannelTLS *qio_channel_tls_new_client(QIOChannel *master,
                                          QCryptoTLSCreds *creds,
                                          const char *hostname,
                                          Error **errp);

/**
 * qio_channel_tls_handshake:
 * @ioc: the channel
 * @func: called once when the handshake and the credentials check are
 *        over; qio_task_propagate_error() gives the outcome
 * @opaque: passed to @func
 * @destroy: (nullable): frees @opaque after @func
 * @context: (nullable): the GMainContext whose thread runs the handshake
 *           steps and @func; NULL for the default one
 *
 * Runs the handshake asynchronously: whenever GnuTLS waits for the
 * master, a watch on the master in @context resumes it. The first step
 * runs before this returns, so @func may be called from within this
 * call when no waiting is needed. Closing the channel during the
 * handshake completes the task with an error.
 */
void qio_channel_tls_handshake(QIOChannelTLS *ioc, QIOTaskFunc func,
                               gpointer opaque, GDestroyNotify destroy,
                               GMainContext *context);

/**
 * qio_channel_tls_handshake_co:
 * @ioc: the channel; its master should be non-blocking
 * @errp: error object
 *
 * Runs the handshake and the credentials check from a coroutine: while
 * GnuTLS waits, the coroutine yields on the master (qio_channel_yield())
 * for the direction GnuTLS asks for, in the context the TLS channel's
 * follow-coroutine-ctx selects (which is copied to the master first).
 * Neither blocks the thread nor runs a nested event loop.
 *
 * Returns: 0 when the peer is connected and acceptable, -1 with @errp
 * set otherwise.
 */
int coroutine_fn qio_channel_tls_handshake_co(QIOChannelTLS *ioc,
                                              Error **errp);

/**
 * qio_channel_tls_bye:
 * @ioc: the channel
 * @errp: error object
 *
 * Sends the TLS closing alert (close_notify), so that the peer reads a
 * clean end of file; our reading direction stays open. Waits for the
 * master as the caller can: yields in a coroutine, blocks otherwise.
 *
 * Returns: 0 on success, -1 with @errp set.
 */
int coroutine_mixed_fn qio_channel_tls_bye(QIOChannelTLS *ioc,
                                           Error **errp);

/**
 * qio_channel_tls_get_session:
 * @ioc: the channel
 *
 * Returns: (transfer none): the TLS session, valid as long as @ioc.
 */
QCryptoTLSSession *qio_channel_tls_get_session(QIOChannelTLS *ioc);

#endif /* QIO_CHANNEL_TLS_H */
