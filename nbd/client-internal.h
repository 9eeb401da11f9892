/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD client's private interfaces, for nbd/client*.c and the nbd
 * block driver (block/nbd*.c); the server's structures are not visible
 * from here:
 * - option haggling (nbd/client.c), shared by the negotiation of the
 *   driver's connections and by the export lister (nbd/client-list.c);
 * - the reply reader and its chunk checks (nbd/client-reply.c), which
 *   read from an NBDRecvBuf, that is from a channel or from a plain byte
 *   buffer (unit tests and fuzz-nbd-reply);
 * - the driver's session: its connections, their state machine,
 *   reconnection and request dispatch (nbd/client-connection.c).
 *
 * Every function that waits runs in a coroutine and yields.
 */
#ifndef NBD_CLIENT_INTERNAL_H
#define NBD_CLIENT_INTERNAL_H

#include "nbd/nbd-wire.h"
#include "io/channel-tls.h"
#include "qemu/coroutine.h"
#include "qemu/iov.h"
#include "qemu/thread.h"

/* Option haggling (nbd/client.c), shared with nbd/client-list.c */

typedef struct NBDOptReply {
    uint32_t type;
    uint32_t len;
    uint8_t *data;      /* g_free; NUL-terminated past len */
} NBDOptReply;

int coroutine_fn nbd_send_option(QIOChannel *ioc, uint32_t opt,
                                 const void *data, uint32_t len,
                                 Error **errp);
/* Reads one reply to @opt (header and payload, at most 1 MiB). */
int coroutine_fn nbd_receive_option_reply(QIOChannel *ioc, uint32_t opt,
                                          NBDOptReply *rep, Error **errp);
/* Turns an error reply into an Error naming the option and the reason. */
void nbd_opt_reply_error(const NBDOptReply *rep, uint32_t opt, Error **errp);
/* Sends a data-less option; returns 1 on ACK, 0 on an error reply. */
int coroutine_fn nbd_send_simple_option(QIOChannel *ioc, uint32_t opt,
                                        Error **errp);
/* What nbd_receive_greeting() found the server to speak. */
typedef enum NBDGreeting {
    NBD_GREETING_FIXED_NEWSTYLE = 0,
    NBD_GREETING_OLDSTYLE = 1,      /* size and flags come with it */
    NBD_GREETING_PLAIN_NEWSTYLE = 2,    /* only NBD_OPT_EXPORT_NAME */
} NBDGreeting;

/*
 * Reads the greeting and sends the client flags, then does STARTTLS when
 * @tls_creds is given (replacing *@pioc). Returns an NBDGreeting (the
 * oldstyle and plain newstyle ones only when @old_ok; an oldstyle
 * server's size and flags are then in @old), or -1 with @errp set.
 */
int coroutine_fn nbd_receive_greeting(QIOChannel **pioc,
                                      QCryptoTLSCreds *tls_creds,
                                      const char *tls_hostname,
                                      bool old_ok, NBDExportInfo *old,
                                      Error **errp);
/* Extended headers (if @extended), else structured replies, else none. */
int coroutine_fn nbd_receive_mode(QIOChannel *ioc, bool extended,
                                  NBDMode *mode, Error **errp);
/* The reply reader (nbd/client-reply.c) */

/*
 * What the reply reader knows of one request and learns from its reply.
 * The reader writes it between the lookup of the request's cookie and
 * the return of nbd_receive_reply(); the owner of the request reads it
 * once the reply is complete.
 */
typedef struct NBDReplyState {
    NBDRequest req;             /* as sent */
    QEMUIOVector *qiov;         /* READ: destination, req.len bytes */
    uint64_t covered;           /* READ: bytes received (data and holes) */
    uint64_t *received;         /* READ: a bit per byte, once out of order */
    int ret;                    /* first error the server reported */
    bool have_extent;           /* BLOCK_STATUS: the first extent */
    uint64_t extent_len;
    uint32_t extent_flags;
} NBDReplyState;

typedef struct NBDReplyReader NBDReplyReader;

/*
 * Finds the request a reply names by @cookie, or NULL when no request
 * with that cookie waits for a reply (the server is then in error).
 * @rd may be embedded in a larger structure of the caller's.
 */
typedef NBDReplyState *NBDReplyLookupFunc(const NBDReplyReader *rd,
                                          uint64_t cookie);

/* The parameters of one connection's reply stream. */
struct NBDReplyReader {
    NBDMode mode;               /* negotiated */
    uint32_t context_id;        /* base:allocation's, when selected */
    NBDReplyLookupFunc *lookup;
    void *opaque;               /* the caller's; names it in traces */
};

/* Largest payload we let a server send in one chunk beyond the data. */
#define NBD_MAX_CHUNK_EXTRA     (64 * 1024)

/**
 * nbd_receive_reply:
 * @rb: the connection's receive buffer (possibly filled from bytes
 *      with nbd_recv_buf_init_bytes())
 * @ioc: (nullable): the channel behind @rb; NULL reads @rb's bytes only
 * @rd: the connection's reply parameters
 * @pstate: (out): the request the reply or chunk belonged to
 * @errp: error object
 *
 * Reads one simple reply, or one structured or extended chunk, checks it
 * against the request its cookie names (chunk type allowed for the
 * command, offsets inside the request, no two chunks covering one byte,
 * block status for the selected context, well-formed error chunks) and
 * applies it: read data goes straight into the request's qiov. On the
 * last chunk (NBD_REPLY_FLAG_DONE) it also checks that the reply is
 * whole (a read covered exactly, a block status with an extent). Runs in
 * a coroutine when @ioc is given; with @ioc NULL it never yields.
 *
 * Returns: 1 when *@pstate's reply is complete, 0 when more chunks are
 * to come, -1 with @errp set when the connection must be dropped (I/O
 * error, end of file or protocol violation).
 */
int coroutine_fn nbd_receive_reply(NBDRecvBuf *rb, QIOChannel *ioc,
                                   const NBDReplyReader *rd,
                                   NBDReplyState **pstate, Error **errp);

/* Frees what the reader allocated for @st (keeps the results). */
void nbd_reply_state_cleanup(NBDReplyState *st);

/* The nbd driver's session (nbd/client-connection.c) */

#define NBD_CONN_MAX_REQUESTS   16
#define NBD_MAX_MULTI_CONN      16

typedef struct NBDConn NBDConn;

/*
 * What the driver configured (written at open only, then read-only) and
 * what the first connection negotiated.
 */
typedef struct NBDClientSession {
    BlockDriverState *bs;       /* counts our coroutines as in flight */
    SocketAddress *addr;
    char *export;
    QCryptoTLSCreds *tls_creds; /* a reference, or NULL */
    char *tls_hostname;
    uint64_t reconnect_delay_ns;
    uint64_t open_timeout_ns;
    NBDExportInfo info;         /* of the first connection */
    unsigned int nconns;
    NBDConn *conns[NBD_MAX_MULTI_CONN];
} NBDClientSession;

/* What a request learned beyond its return value. */
typedef struct NBDResult {
    uint64_t extent_len;
    uint32_t extent_flags;
} NBDResult;

/**
 * nbd_session_connect:
 * @s: a session whose configuration is filled in, with no connection
 * @want_conns: connections to open (1 unless the server allows more)
 * @errp: error object
 *
 * Connects (retrying the first connection until s->open_timeout_ns has
 * passed), negotiates and fills s->info. In a coroutine of the node's
 * context. Returns: 0, or -1 with @errp set (connections opened so far
 * stay in @s: nbd_session_close() them).
 */
int coroutine_fn nbd_session_connect(NBDClientSession *s,
                                     unsigned int want_conns, Error **errp);

/*
 * Tells the server on each live connection that we go (NBD_CMD_DISC),
 * best effort. In a coroutine, with nothing else of the node running.
 */
void coroutine_fn nbd_session_disconnect(NBDClientSession *s);

/*
 * Frees every connection. Main thread, with the node drained (no reader
 * or reconnect coroutine runs).
 */
void nbd_session_close(NBDClientSession *s);

/**
 * nbd_co_send_request:
 * @s: an open session
 * @req: the request (its cookie is chosen here)
 * @rqiov: (nullable): READ: where the data goes, req->len bytes
 * @wqiov: (nullable): WRITE: the payload, req->len bytes
 * @res: (out) (nullable): BLOCK_STATUS: the extent
 *
 * Sends @req on the least busy connection and waits for its reply; again
 * after a reconnection while reconnect-delay allows. In a coroutine of
 * any context.
 *
 * Returns: 0 or a negative errno (the server's error, or -EIO).
 */
int coroutine_fn nbd_co_send_request(NBDClientSession *s,
                                     const NBDRequest *req,
                                     QEMUIOVector *rqiov,
                                     QEMUIOVector *wqiov, NBDResult *res);

#endif /* NBD_CLIENT_INTERNAL_H */
