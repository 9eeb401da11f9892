/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The NBD server's private structures (nbd/server*.c only): NBDServer,
 * NBDExport and the server's per-connection NBDClient.
 *
 * Locking summary (details in server.c's theory of operation):
 * - NBDServer and NBDExport fields, and both client lists, belong to the
 *   main thread.
 * - NBDClient.lock protects the fields that the main thread (drain,
 *   close) and the client's AioContext thread (receive and request
 *   coroutines) share: recv_co, nb_requests, recv_waiting, quiescing.
 * - NBDClient.send_lock (a CoMutex) serialises whole replies on the
 *   channel.
 */
#ifndef NBD_SERVER_INTERNAL_H
#define NBD_SERVER_INTERNAL_H

#include "nbd/nbd-wire.h"
#include "io/channel-tls.h"
#include "qemu/coroutine.h"
#include "qemu/thread.h"

/* Server structures */

struct NBDExport {
    NBDServer *server;
    char *name;
    char *description;          /* nullable */
    BlockBackend *blk;          /* a reference */
    uint64_t size;
    uint16_t nbdflags;          /* without the per-client DF */
    bool readonly;
    bool allocation_depth;
    bool spread_clients;
    NBDDetectZeroes detect_zeroes;
    /* Context of the BlockBackend; written in the attach notifier. */
    AioContext *ctx;            /* atomic */
    bool quiesced;              /* between drained_begin and _end */
    int refcount;               /* main thread */
    QLIST_ENTRY(NBDExport) next;
    QLIST_HEAD(, NBDClient) clients;    /* in transmission, main thread */
};

struct NBDServer {
    QIONetListener *listener;
    QCryptoTLSCreds *tls_creds; /* a reference, or NULL */
    char *tls_authz;
    unsigned int handshake_limit;       /* seconds, 0: none */
    unsigned int max_connections;       /* 0: none */
    unsigned int nconnections;
    bool accepting;             /* the listener callback is installed */
    bool listening;             /* nbd_server_listen() succeeded once */
    bool stopping;
    bool verbose;
    NBDClientClosedFunc *client_closed;
    void *opaque;
    QLIST_HEAD(, NBDExport) exports;
    QLIST_HEAD(, NBDClient) clients;    /* every connection */
    AioContext **client_ctxs;
    size_t n_client_ctxs;
    size_t next_client_ctx;
};

typedef struct NBDClient NBDClient;

/* Payload buffers a client keeps for reuse: how many, how many bytes. */
#define NBD_BUF_CACHE_SLOTS 16
#define NBD_BUF_CACHE_BYTES (32 * 1024 * 1024)

struct NBDClient {
    int refcount;               /* atomic */
    NBDServer *server;
    NBDExport *exp;             /* set when transmission starts (a ref) */
    QIOChannelSocket *sioc;
    QIOChannel *ioc;            /* sioc, or the TLS channel over it */
    char *peer;                 /* for messages */
    QEMUTimer *handshake_timer; /* main context */

    /* Negotiated, written by the negotiation coroutine only. */
    NBDMode mode;
    bool no_zeroes;
    bool tls_done;
    bool tls_refused;  /* handshake or peer check failed: always logged */
    uint32_t min_block;         /* as advertised to the client */
    NBDMetaContexts contexts;

    /*
     * Where the receive and request coroutines run. Written in the main
     * thread while no coroutine of the client runs (before transmission,
     * or under drain); read by those coroutines.
     */
    AioContext *ctx;            /* atomic */
    bool follow_export;

    bool closing;               /* atomic; set once */
    bool gone_reported;         /* atomic; why it went is logged once */
    bool disc;                  /* NBD_CMD_DISC seen; receive coroutine */

    /* Serialises replies (whole structured replies chunk by chunk). */
    CoMutex send_lock;

    /* Received bytes not yet parsed; receive coroutine only. */
    NBDRecvBuf rb;

    /*
     * Big payload buffers kept for the next request (nbd_buf_get/put);
     * used by the client's coroutines only, so in client->ctx.
     */
    void *buf_cache[NBD_BUF_CACHE_SLOTS];
    size_t buf_cache_size[NBD_BUF_CACHE_SLOTS];
    unsigned int buf_cache_count;

    /* Protects the fields below. */
    QemuMutex lock;
    Coroutine *recv_co;         /* the receive coroutine, while it runs */
    unsigned int nb_requests;   /* request coroutines, counted at birth */
    bool recv_waiting;          /* recv_co yields until a request ends */
    bool quiescing;             /* the export is drained: stop reading */

    QLIST_ENTRY(NBDClient) server_next;     /* main thread */
    QLIST_ENTRY(NBDClient) export_next;     /* main thread */
};

/* server.c: client lifetime and transmission */
void nbd_client_get(NBDClient *client);
void nbd_client_put(NBDClient *client);
void nbd_client_close(NBDClient *client);
/* Joins the negotiated client to @exp and starts its receive coroutine. */
void nbd_client_start_transmission(NBDClient *client, NBDExport *exp);
void nbd_export_ref(NBDExport *exp);
void nbd_export_unref(NBDExport *exp);

/*
 * nbd_client_report_gone:
 * Logs why the connection of @client broke (a failed read or reply
 * write), once per client: a client that goes away with many requests in
 * flight is one line, not one per lost reply. Nothing once the server
 * itself closes the client. Any thread.
 */
void G_GNUC_PRINTF(2, 3) nbd_client_report_gone(NBDClient *client,
                                                const char *fmt, ...);

/* server-negotiate.c: the negotiation coroutine (main context) */
void coroutine_fn nbd_negotiate_co(void *opaque);

/* server-listen.c: a connection ended (main thread) */
void nbd_server_client_gone(NBDServer *server, bool negotiated);

#endif /* NBD_SERVER_INTERNAL_H */
