/*
 * NBD internals shared by the files of nbd/: big-endian packing, the
 * server's private structures, and the pure parsing and checking helpers
 * that the unit tests call directly.
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
#ifndef NBD_INTERNAL_H
#define NBD_INTERNAL_H

#include "block/nbd.h"
#include "io/channel-tls.h"
#include "qemu/coroutine.h"
#include "qemu/thread.h"

/* Big-endian packing of wire fields */

static inline void nbd_put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void nbd_put32(uint8_t *p, uint32_t v)
{
    nbd_put16(p, v >> 16);
    nbd_put16(p + 2, v);
}

static inline void nbd_put64(uint8_t *p, uint64_t v)
{
    nbd_put32(p, v >> 32);
    nbd_put32(p + 4, v);
}

static inline uint16_t nbd_get16(const uint8_t *p)
{
    return (uint16_t)p[0] << 8 | p[1];
}

static inline uint32_t nbd_get32(const uint8_t *p)
{
    return (uint32_t)nbd_get16(p) << 16 | nbd_get16(p + 2);
}

static inline uint64_t nbd_get64(const uint8_t *p)
{
    return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

/* Metadata context ids we hand out in NBD_OPT_SET_META_CONTEXT. */
enum {
    NBD_META_ID_BASE_ALLOCATION = 0,
    NBD_META_ID_ALLOCATION_DEPTH = 1,
};

/* The metadata contexts a client selected (or that a query matched). */
typedef struct NBDMetaContexts {
    const NBDExport *exp;       /* the export they belong to, or NULL */
    bool base_allocation;
    bool allocation_depth;
    unsigned int count;
} NBDMetaContexts;

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

/* server-negotiate.c: the negotiation coroutine (main context) */
void coroutine_fn nbd_negotiate_co(void *opaque);

/* server-listen.c: a connection ended (main thread) */
void nbd_server_client_gone(NBDServer *server, bool negotiated);

/* Pure helpers (nbd/request.c), used by the server and the unit tests */

/* What a request may do on this connection. */
typedef struct NBDRequestLimits {
    uint64_t size;              /* export size */
    uint16_t nbdflags;          /* transmission flags given to the client */
    NBDMode mode;
    bool has_contexts;          /* some metadata context was selected */
    uint32_t max_payload;       /* READ/WRITE/CACHE length limit */
} NBDRequestLimits;

/**
 * nbd_decode_request:
 * @buf: NBD_REQUEST_SIZE bytes, or NBD_EXTENDED_REQUEST_SIZE in extended
 *       mode
 * @mode: the connection's mode
 * @req: (out): the decoded request
 *
 * Returns: 0, or -EINVAL if the magic is wrong for @mode (the stream
 * cannot be resynchronised: the caller disconnects).
 */
int nbd_decode_request(const uint8_t *buf, NBDMode mode, NBDRequest *req);

/**
 * nbd_request_payload_len:
 * Returns: how many bytes follow the header of @req on the wire.
 */
uint64_t nbd_request_payload_len(const NBDRequest *req, NBDMode mode);

/**
 * nbd_check_request:
 * @lim: the connection's limits
 * @req: a request from the wire (untrusted)
 * @msg: (out): a message for the error reply, static
 *
 * Returns: 0 when the request may run, else the negative errno to reply
 * with (-EINVAL for bad flags, commands, lengths and ranges, -EPERM for a
 * write to a read-only export, -ENOSPC for a write past the end).
 */
int nbd_check_request(const NBDRequestLimits *lim, const NBDRequest *req,
                      const char **msg);

/* Parsed NBD_OPT_INFO / NBD_OPT_GO data. */
typedef struct NBDInfoRequest {
    char *name;
    bool want_name;
    bool want_description;
    bool want_block_size;
} NBDInfoRequest;

/**
 * nbd_parse_info_request:
 * Parses the payload of NBD_OPT_INFO / NBD_OPT_GO. Unknown information
 * types are ignored.
 *
 * Returns: 0, or -EINVAL with *@msg set when the payload is malformed
 * (the caller answers NBD_REP_ERR_INVALID); @info is then left empty.
 */
int nbd_parse_info_request(const uint8_t *data, uint32_t len,
                           NBDInfoRequest *info, const char **msg);
void nbd_info_request_clear(NBDInfoRequest *info);

/**
 * nbd_parse_meta_request:
 * @data: payload of NBD_OPT_LIST_META_CONTEXT or _SET_META_CONTEXT
 * @len: its length
 * @list: true for LIST (empty query list and "ns:" wildcards match all)
 * @allocation_depth_offered: whether qemu:allocation-depth is available
 * @name: (out) (transfer full): the export name
 * @ctx: (out): the contexts matched (exp left NULL)
 * @msg: (out): error message
 *
 * Returns: 0, or -EINVAL when malformed (NBD_REP_ERR_INVALID).
 */
int nbd_parse_meta_request(const uint8_t *data, uint32_t len, bool list,
                           bool allocation_depth_offered, char **name,
                           NBDMetaContexts *ctx, const char **msg);

/*
 * A matching helper for the above: does query @q (a namespace and a
 * leaf) select context @ctx_name? LIST allows "ns:" wildcards.
 */
bool nbd_meta_query_matches(const char *q, size_t qlen, const char *ctx_name,
                            bool list);

/* client.c: the client side of option haggling */

typedef struct NBDOptReply {
    uint32_t type;
    uint32_t len;
    uint8_t *data;      /* g_free; NUL-terminated past len */
} NBDOptReply;

int coroutine_fn nbd_send_option(QIOChannel *ioc, uint32_t opt,
                                 const void *data, uint32_t len,
                                 Error **errp);
/* Reads one reply to @opt (header and payload, at most 1 MiB). */
int coroutine_fn nbd_read_opt_reply(QIOChannel *ioc, uint32_t opt,
                                    NBDOptReply *rep, Error **errp);
/* Turns an error reply into an Error naming the option and the reason. */
void nbd_opt_reply_error(const NBDOptReply *rep, uint32_t opt, Error **errp);
/* Sends a data-less option; returns 1 on ACK, 0 on an error reply. */
int coroutine_fn nbd_simple_option(QIOChannel *ioc, uint32_t opt,
                                   Error **errp);
/* What nbd_client_greet() found the server to speak. */
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
int coroutine_fn nbd_client_greet(QIOChannel **pioc,
                                  QCryptoTLSCreds *tls_creds,
                                  const char *tls_hostname,
                                  bool old_ok, NBDExportInfo *old,
                                  Error **errp);
/* Extended headers (if @extended), else structured replies, else none. */
int coroutine_fn nbd_client_choose_mode(QIOChannel *ioc, bool extended,
                                        NBDMode *mode, Error **errp);
/* One NBD_REP_INFO payload into @info; -1 with @errp when malformed. */
int nbd_client_parse_info(const uint8_t *data, uint32_t len,
                          NBDExportInfo *info, Error **errp);
/* Size and block size constraints of the spec; -1 with @errp. */
int nbd_client_check_info(const NBDExportInfo *info, Error **errp);

#endif /* NBD_INTERNAL_H */
