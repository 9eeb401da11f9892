/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NBD: the Network Block Device protocol (constants and wire structures)
 * and the API of our NBD server and of the small client used to list a
 * server's exports.
 *
 * Protocol reference: doc/proto.md of the NetworkBlockDevice project
 * (fixed newstyle negotiation, structured replies, extended headers,
 * metadata contexts). Every number on the wire is big-endian; the
 * structures below describe the layout only and are never overlaid on
 * buffers (see nbd/nbd-wire.h for the packing helpers).
 *
 * Server objects:
 * - NBDServer: the listening side of a daemon: listeners, TLS
 *   credentials, the limits on connections and on the handshake time, the
 *   exports clients may choose from, and every connected client.
 * - NBDExport: one BlockBackend offered under a name.
 * - a client (private to nbd/): one connection, first negotiating in the
 *   main loop, then serving requests in its AioContext.
 *
 * Contexts: everything declared here runs in the main thread unless said
 * otherwise. Requests are served in coroutines of each client's
 * AioContext (see nbd/server.c for the theory of operation).
 */
#ifndef BLOCK_NBD_H
#define BLOCK_NBD_H

#include "sysemu/block-backend.h"
#include "io/net-listener.h"
#include "crypto/tlscreds.h"
#include "qemu/sockets.h"

/* Magic numbers */

#define NBD_INIT_MAGIC              0x4e42444d41474943ULL /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC              0x49484156454F5054ULL /* "IHAVEOPT" */
#define NBD_CLIENT_MAGIC            0x0000420281861253ULL /* oldstyle */
#define NBD_REP_MAGIC               0x0003e889045565a9ULL /* option reply */

#define NBD_REQUEST_MAGIC           0x25609513
#define NBD_EXTENDED_REQUEST_MAGIC  0x21e41c71
#define NBD_SIMPLE_REPLY_MAGIC      0x67446698
#define NBD_STRUCTURED_REPLY_MAGIC  0x668e33ef
#define NBD_EXTENDED_REPLY_MAGIC    0x6e8a278c

/* Handshake flags (16 bits, server) */
#define NBD_FLAG_FIXED_NEWSTYLE     (1 << 0)
#define NBD_FLAG_NO_ZEROES          (1 << 1)

/* Client flags (32 bits) */
#define NBD_FLAG_C_FIXED_NEWSTYLE   (1 << 0)
#define NBD_FLAG_C_NO_ZEROES        (1 << 1)

/* Transmission flags (16 bits) */
#define NBD_FLAG_HAS_FLAGS              (1 << 0)
#define NBD_FLAG_READ_ONLY              (1 << 1)
#define NBD_FLAG_SEND_FLUSH             (1 << 2)
#define NBD_FLAG_SEND_FUA               (1 << 3)
#define NBD_FLAG_ROTATIONAL             (1 << 4)
#define NBD_FLAG_SEND_TRIM              (1 << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES      (1 << 6)
#define NBD_FLAG_SEND_DF                (1 << 7)
#define NBD_FLAG_CAN_MULTI_CONN         (1 << 8)
#define NBD_FLAG_SEND_RESIZE            (1 << 9)
#define NBD_FLAG_SEND_CACHE             (1 << 10)
#define NBD_FLAG_SEND_FAST_ZERO         (1 << 11)
#define NBD_FLAG_BLOCK_STAT_PAYLOAD     (1 << 12)
#define NBD_FLAG_BITS                   13

/* Options */
#define NBD_OPT_EXPORT_NAME         1
#define NBD_OPT_ABORT               2
#define NBD_OPT_LIST                3
#define NBD_OPT_PEEK_EXPORT         4   /* withdrawn */
#define NBD_OPT_STARTTLS            5
#define NBD_OPT_INFO                6
#define NBD_OPT_GO                  7
#define NBD_OPT_STRUCTURED_REPLY    8
#define NBD_OPT_LIST_META_CONTEXT   9
#define NBD_OPT_SET_META_CONTEXT    10
#define NBD_OPT_EXTENDED_HEADERS    11

/* Option replies */
#define NBD_REP_ACK                 1
#define NBD_REP_SERVER              2
#define NBD_REP_INFO                3
#define NBD_REP_META_CONTEXT        4

#define NBD_REP_FLAG_ERROR          (1U << 31)
#define NBD_REP_ERR(v)              (NBD_REP_FLAG_ERROR | (v))
#define NBD_REP_IS_ERR(t)           (!!((t) & NBD_REP_FLAG_ERROR))
#define NBD_REP_ERR_UNSUP           NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY          NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID         NBD_REP_ERR(3)
#define NBD_REP_ERR_PLATFORM        NBD_REP_ERR(4)
#define NBD_REP_ERR_TLS_REQD        NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN         NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN        NBD_REP_ERR(7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD NBD_REP_ERR(8)
#define NBD_REP_ERR_TOO_BIG         NBD_REP_ERR(9)
#define NBD_REP_ERR_EXT_HEADER_REQD NBD_REP_ERR(10)

/* Information types of NBD_REP_INFO */
#define NBD_INFO_EXPORT             0
#define NBD_INFO_NAME               1
#define NBD_INFO_DESCRIPTION        2
#define NBD_INFO_BLOCK_SIZE         3

/* Commands */
#define NBD_CMD_READ                0
#define NBD_CMD_WRITE               1
#define NBD_CMD_DISC                2
#define NBD_CMD_FLUSH               3
#define NBD_CMD_TRIM                4
#define NBD_CMD_CACHE               5
#define NBD_CMD_WRITE_ZEROES        6
#define NBD_CMD_BLOCK_STATUS        7
#define NBD_CMD_RESIZE              8

/* Command flags (16 bits) */
#define NBD_CMD_FLAG_FUA            (1 << 0)
#define NBD_CMD_FLAG_NO_HOLE        (1 << 1)
#define NBD_CMD_FLAG_DF             (1 << 2)
#define NBD_CMD_FLAG_REQ_ONE        (1 << 3)
#define NBD_CMD_FLAG_FAST_ZERO      (1 << 4)
#define NBD_CMD_FLAG_PAYLOAD_LEN    (1 << 5)  /* extended headers only */

/* Structured / extended reply chunk flags and types */
#define NBD_REPLY_FLAG_DONE         (1 << 0)

#define NBD_REPLY_ERR(v)            ((1 << 15) | (v))
#define NBD_REPLY_TYPE_IS_ERR(t)    (!!((t) & (1 << 15)))
#define NBD_REPLY_TYPE_NONE         0
#define NBD_REPLY_TYPE_OFFSET_DATA  1
#define NBD_REPLY_TYPE_OFFSET_HOLE  2
#define NBD_REPLY_TYPE_BLOCK_STATUS 5
#define NBD_REPLY_TYPE_BLOCK_STATUS_EXT 6
#define NBD_REPLY_TYPE_ERROR        NBD_REPLY_ERR(1)
#define NBD_REPLY_TYPE_ERROR_OFFSET NBD_REPLY_ERR(2)

/* Error values on the wire (not the host's errno numbers) */
#define NBD_SUCCESS     0
#define NBD_EPERM       1
#define NBD_EIO         5
#define NBD_ENOMEM      12
#define NBD_EINVAL      22
#define NBD_ENOSPC      28
#define NBD_EOVERFLOW   75
#define NBD_ENOTSUP     95
#define NBD_ESHUTDOWN   108

/* Metadata contexts */
#define NBD_META_NS_BASE            "base"
#define NBD_META_NS_QEMU            "qemu"
#define NBD_META_BASE_ALLOCATION    "base:allocation"
#define NBD_META_QEMU_ALLOC_DEPTH   "qemu:allocation-depth"
/* base:allocation status flags */
#define NBD_STATE_HOLE              (1 << 0)
#define NBD_STATE_ZERO              (1 << 1)

/* Sizes and limits */
#define NBD_DEFAULT_PORT            10809
#define NBD_MAX_STRING_SIZE         4096   /* names, messages */
/* Largest data payload (READ reply or WRITE request) we handle. */
#define NBD_MAX_BUFFER_SIZE         (32 * 1024 * 1024)
/* Largest option payload we accept during the handshake. */
#define NBD_MAX_OPTION_SIZE         (64 * 1024)
#define NBD_DEFAULT_HANDSHAKE_LIMIT 10      /* seconds */
#define NBD_DEFAULT_MAX_CONNECTIONS 100
/* Requests one client may have in flight before we stop reading. */
#define NBD_MAX_REQUESTS_IN_FLIGHT  16

/* Wire layouts (sizes in bytes) */
#define NBD_OPTION_HEADER_SIZE          16  /* magic, option, length */
#define NBD_OPTION_REPLY_HEADER_SIZE    20  /* magic, option, type, len */
#define NBD_REQUEST_SIZE                28
#define NBD_EXTENDED_REQUEST_SIZE       32
#define NBD_SIMPLE_REPLY_SIZE           16
#define NBD_STRUCTURED_REPLY_SIZE       20
#define NBD_EXTENDED_REPLY_SIZE         32

/* How requests and replies look on one connection. */
typedef enum NBDMode {
    NBD_MODE_SIMPLE,        /* simple replies only */
    NBD_MODE_STRUCTURED,    /* NBD_OPT_STRUCTURED_REPLY */
    NBD_MODE_EXTENDED,      /* NBD_OPT_EXTENDED_HEADERS (implies the above) */
} NBDMode;

/* A request, decoded from either header size. */
typedef struct NBDRequest {
    uint64_t cookie;
    uint64_t from;
    uint64_t len;           /* effect length (payload length for WRITE) */
    uint16_t flags;
    uint16_t type;
} NBDRequest;

/* Errors and names (nbd/common.c; any thread) */

/**
 * nbd_errno_to_wire:
 * @err: a host errno value, positive or negative
 *
 * The one mapping of host errors to NBD error values: EPERM and EROFS
 * give NBD_EPERM, ENOSPC, EDQUOT and EFBIG give NBD_ENOSPC, and so on;
 * anything without an NBD counterpart gives NBD_EINVAL. 0 gives 0.
 *
 * Returns: an NBD_E* value.
 */
uint32_t nbd_errno_to_wire(int err);

/**
 * nbd_wire_to_errno:
 * @wire: an NBD error value from a peer
 *
 * Returns: the positive host errno for @wire; unknown values give EINVAL,
 * 0 gives 0.
 */
int nbd_wire_to_errno(uint32_t wire);

/* Names for messages; unknown values give "<unknown>". */
const char *nbd_opt_name(uint32_t opt);
const char *nbd_rep_name(uint32_t rep);
const char *nbd_info_name(uint16_t info);
const char *nbd_cmd_name(uint16_t cmd);
const char *nbd_reply_type_name(uint16_t type);
const char *nbd_err_name(uint32_t err);

/**
 * nbd_flags_to_string:
 * @flags: transmission flags
 *
 * Returns: (transfer full): the names of the set bits, each preceded by
 * a space (" readonly flush"), as qemu-nbd --list prints them.
 */
char *nbd_flags_to_string(uint16_t flags);

/* Server: exports */

typedef struct NBDServer NBDServer;
typedef struct NBDExport NBDExport;

typedef enum NBDMultiConn {
    NBD_MULTI_CONN_AUTO,    /* advertised when the export is read-only */
    NBD_MULTI_CONN_ON,
    NBD_MULTI_CONN_OFF,
} NBDMultiConn;

typedef enum NBDDetectZeroes {
    NBD_DETECT_ZEROES_OFF,
    NBD_DETECT_ZEROES_ON,       /* all-zero writes become zero writes */
    NBD_DETECT_ZEROES_UNMAP,    /* ... that may punch holes */
} NBDDetectZeroes;

typedef struct NBDExportOptions {
    const char *name;           /* "" is the default export */
    const char *description;    /* nullable */
    bool readonly;
    NBDMultiConn multi_conn;
    bool allocation_depth;      /* offer qemu:allocation-depth */
    NBDDetectZeroes detect_zeroes;
    /*
     * Whether the export's clients follow the BlockBackend's AioContext
     * (the default, false), or are spread over the server's iothreads
     * (see nbd_server_set_client_contexts()).
     */
    bool spread_clients;
} NBDExportOptions;

/**
 * nbd_export_new:
 * @server: the server that will offer the export
 * @blk: the BlockBackend to serve (a reference is taken); its request
 *       queuing during drain is turned off, the export quiesces itself
 * @opts: name, description and policies (copied)
 * @errp: error object
 *
 * Creates an export and adds it to @server. Fails if the name is taken
 * or longer than NBD_MAX_STRING_SIZE, or if a writable export is asked
 * of a read-only BlockBackend. Main thread.
 *
 * Returns: (transfer none): the export, owned by @server; or NULL with
 * @errp set.
 */
NBDExport *nbd_export_new(NBDServer *server, BlockBackend *blk,
                          const NBDExportOptions *opts, Error **errp);

/**
 * nbd_export_remove:
 * @exp: an export
 *
 * Removes @exp from its server, closes its clients, waits until they are
 * gone and frees the export (dropping its BlockBackend reference). Main
 * thread, outside coroutines.
 */
void nbd_export_remove(NBDExport *exp);

/* (transfer none): the export called @name, or NULL. Main thread. */
NBDExport *nbd_export_find(NBDServer *server, const char *name);

const char *nbd_export_name(NBDExport *exp);
BlockBackend *nbd_export_blk(NBDExport *exp);

/* Transmission flags a client would get (without per-client DF). */
uint16_t nbd_export_flags(NBDExport *exp);

/* Number of clients in the transmission phase. Main thread. */
unsigned int nbd_export_client_count(NBDExport *exp);

/* Server */

/*
 * Called in the main thread when a connection ends (after its last
 * request), with whether it had reached the transmission phase.
 */
typedef void NBDClientClosedFunc(void *opaque, bool negotiated);

typedef struct NBDServerOptions {
    /* (nullable) server TLS credentials; a reference is taken */
    QCryptoTLSCreds *tls_creds;
    /* (nullable) id of an authorization object; unsupported here */
    const char *tls_authz;
    /* seconds a client may take to reach transmission; 0: no limit */
    unsigned int handshake_limit;
    /* connections at once (beyond it we stop accepting); 0: no limit */
    unsigned int max_connections;
    /* report connections and failed negotiations */
    bool verbose;
    NBDClientClosedFunc *client_closed;
    void *opaque;
} NBDServerOptions;

/**
 * nbd_server_new:
 * @opts: options (copied)
 * @errp: error object
 *
 * Creates a server with no listener and no export. Fails when the TLS
 * credentials are not server credentials. Main thread; the main loop
 * must have been initialised.
 *
 * Returns: (transfer full): the server, or NULL with @errp set.
 */
NBDServer *nbd_server_new(const NBDServerOptions *opts, Error **errp);

/**
 * nbd_server_listen:
 * @server: the server
 * @addr: where to listen (inet, unix or fd)
 * @errp: error object
 *
 * Opens the listening sockets for @addr and starts accepting clients.
 * Clients are accepted by fd handlers in the main AioContext, so also
 * while the main thread waits in a nested aio_poll() (an image backed
 * by our own export).
 *
 * Returns: true on success, false with @errp set.
 */
bool nbd_server_listen(NBDServer *server, SocketAddress *addr, Error **errp);

/**
 * nbd_server_add_listen_fd:
 * @server: the server
 * @fd: a socket that is listening already (systemd socket activation);
 *      owned by the server from then on
 * @errp: error object
 *
 * Returns: true on success, false with @errp set (then @fd is left
 * open and owned by the caller).
 */
bool nbd_server_add_listen_fd(NBDServer *server, int fd, Error **errp);

/**
 * nbd_server_listener:
 * Returns: (transfer none): the listener, to learn its addresses.
 */
QIONetListener *nbd_server_listener(NBDServer *server);

/**
 * nbd_server_set_client_contexts:
 * @server: the server
 * @ctxs: (array length=n): contexts (usually iothreads'), which must
 *        outlive the server
 * @n: their number
 *
 * Clients of exports made with spread_clients are assigned to these
 * contexts in turn. Main thread, before clients connect.
 */
void nbd_server_set_client_contexts(NBDServer *server, AioContext **ctxs,
                                    size_t n);

/**
 * nbd_server_add_client:
 * @server: the server
 * @sioc: a connected socket (referenced)
 *
 * Serves a connection that was accepted elsewhere (tests, or a listener
 * of the caller's). Counts against the connection limit. Main thread.
 */
void nbd_server_add_client(NBDServer *server, QIOChannelSocket *sioc);

/* Connections at the moment (negotiating or not). Main thread. */
unsigned int nbd_server_connection_count(NBDServer *server);

/**
 * nbd_server_free:
 * @server: (transfer full) (nullable): the server
 *
 * Stops accepting, closes every connection (also those still
 * negotiating), waits until they are gone, removes every export and
 * frees the server. Main thread, outside coroutines.
 */
void nbd_server_free(NBDServer *server);

/* Client side (nbd/client-list.c) */

typedef struct NBDExportInfo {
    char *name;
    char *description;
    uint64_t size;
    uint16_t flags;
    bool has_block_sizes;
    uint32_t min_block;
    uint32_t opt_block;
    uint32_t max_block;
    NBDMode mode;
    size_t n_contexts;
    char **contexts;
    /* Filled by nbd_receive_negotiate(): */
    bool has_export;            /* size and flags are known */
    bool no_zeroes;             /* the server left out the 124 zeroes */
    bool base_allocation;       /* base:allocation was selected ... */
    uint32_t context_id;        /* ... under this id */
} NBDExportInfo;

/* What a client asks of a server (nbd_receive_negotiate()). */
typedef struct NBDClientConfig {
    const char *export_name;    /* nullable: the default export "" */
    QCryptoTLSCreds *tls_creds; /* nullable: client credentials */
    const char *tls_hostname;   /* nullable: name the certificate has */
    bool extended_headers;      /* try NBD_OPT_EXTENDED_HEADERS first */
    bool base_allocation;       /* select the base:allocation context */
} NBDClientConfig;

/* A reply header (simple, structured chunk or extended chunk) decoded. */
typedef struct NBDReply {
    uint32_t magic;
    uint32_t error;             /* simple replies: NBD error value */
    uint16_t flags;             /* NBD_REPLY_FLAG_DONE (set for simple) */
    uint16_t type;              /* chunk type (0 for simple) */
    uint64_t cookie;
    uint64_t offset;            /* extended headers only */
    uint64_t length;            /* chunk payload length */
} NBDReply;

/* Client side (nbd/client.c) */

/**
 * nbd_receive_negotiate:
 * @pioc: (inout): a connected channel at the start of the handshake;
 *        with TLS it is replaced by the TLS channel over it (the caller's
 *        reference moves to the new channel)
 * @cfg: what to ask for
 * @info: (out): what the server said of the export; clear it with
 *        nbd_export_info_clear()
 * @errp: error object
 *
 * Negotiates up to the transmission phase: fixed newstyle (oldstyle
 * servers are accepted for the default export, plain newstyle ones get
 * NBD_OPT_EXPORT_NAME and nothing else), STARTTLS when @cfg has
 * credentials, extended headers or structured replies, base:allocation,
 * then NBD_OPT_GO with block sizes, falling back to NBD_OPT_EXPORT_NAME
 * for servers that do not know it. Every value the server sends is
 * checked. Runs in a coroutine; @pioc should be non-blocking and follow
 * the coroutine's context.
 *
 * Returns: 0, or -1 with @errp set (then @info is left clear).
 */
int coroutine_fn nbd_receive_negotiate(QIOChannel **pioc,
                                       const NBDClientConfig *cfg,
                                       NBDExportInfo *info, Error **errp);

/* Frees what @info holds and zeroes it. */
void nbd_export_info_clear(NBDExportInfo *info);

/**
 * nbd_encode_request:
 * @buf: NBD_EXTENDED_REQUEST_SIZE bytes of room
 * @req: the request; in the compact modes @req->len must fit 32 bits
 * @mode: the connection's mode
 *
 * Returns: the header's size on the wire.
 */
size_t nbd_encode_request(uint8_t *buf, const NBDRequest *req, NBDMode mode);

/**
 * nbd_reply_header_size:
 * @magic: the first 4 bytes of a reply, decoded
 * @mode: the connection's mode
 *
 * Returns: the size of the whole reply header with this magic, or -1 if
 * the magic is unknown or not allowed in @mode (a protocol error).
 */
int nbd_reply_header_size(uint32_t magic, NBDMode mode);

/*
 * Decodes a reply header whose magic nbd_reply_header_size() accepted;
 * @buf holds the whole header.
 */
void nbd_decode_reply_header(const uint8_t *buf, NBDReply *reply);

/*
 * NBDRecvBuf: a receive buffer over a channel, for the transmission phase
 * of either side. One read takes in whatever the peer has sent, so a
 * stream of small pipelined messages costs one system call per buffer,
 * not one per header and one per payload. Bytes beyond what is buffered,
 * when there are many, are read straight to their destination. Used by
 * one coroutine at a time.
 */
#define NBD_RECV_BUF_SIZE (64 * 1024)

typedef struct NBDRecvBuf {
    uint8_t *buf;               /* NBD_RECV_BUF_SIZE bytes, or NULL */
    size_t pos;                 /* unread bytes are buf[pos, len) */
    size_t len;
} NBDRecvBuf;

void nbd_recv_buf_destroy(NBDRecvBuf *rb);

/*
 * Fills an empty @rb with a copy of @len bytes, for reading with no
 * channel (ioc NULL): the reads below then take these bytes and report
 * end of file after them. Destroy it as any other.
 */
void nbd_recv_buf_init_bytes(NBDRecvBuf *rb, const void *data, size_t len);

/* The count of buffered bytes not yet taken. */
size_t nbd_recv_buf_avail(const NBDRecvBuf *rb);

/* Takes up to @len buffered bytes into @dst (NULL: drops them). */
size_t nbd_recv_buf_take(NBDRecvBuf *rb, void *dst, size_t len);

/*
 * Reads what @ioc has, waiting (yielding) for at least a byte, into the
 * free end of the buffer (@ioc NULL: nothing, end of file). Returns the
 * count, 0 at end of file,
 * QIO_CHANNEL_ERR_BLOCK when woken (qio_channel_wake_read()) with
 * nothing read, or -1 with @errp set.
 */
ssize_t coroutine_fn nbd_recv_buf_fill(NBDRecvBuf *rb, QIOChannel *ioc,
                                       Error **errp);

/*
 * Reads exactly @len bytes (buffered ones first) into @iov, which holds
 * exactly @len bytes, or throws them away when @iov is NULL. Returns 0,
 * or -1 with @errp set (end of file included).
 */
int coroutine_fn nbd_recv_buf_readv(NBDRecvBuf *rb, QIOChannel *ioc,
                                    const struct iovec *iov, size_t niov,
                                    uint64_t len, Error **errp);

/* nbd_recv_buf_readv() into one buffer (NULL: throw away). */
int coroutine_fn nbd_recv_buf_read(NBDRecvBuf *rb, QIOChannel *ioc,
                                   void *dst, uint64_t len, Error **errp);

/**
 * nbd_receive_export_list:
 * @ioc: a connected channel to a server, at the start of the handshake
 * @tls_creds: (nullable): client credentials; STARTTLS is used first
 * @tls_hostname: (nullable): the name the server's certificate must have
 * @info: (out) (transfer full): the exports, with what NBD_OPT_INFO and
 *        NBD_OPT_LIST_META_CONTEXT tell of each; free with
 *        nbd_free_export_list()
 * @errp: error object
 *
 * Negotiates (fixed newstyle, extended headers or structured replies),
 * lists the exports, asks about each and ends with NBD_OPT_ABORT. Runs in
 * a coroutine: @ioc should be non-blocking and follow the coroutine's
 * context, and every wait (the TLS handshake too) yields.
 *
 * Returns: the number of exports, or -1 with @errp set.
 */
int coroutine_fn nbd_receive_export_list(QIOChannel *ioc,
                                         QCryptoTLSCreds *tls_creds,
                                         const char *tls_hostname,
                                         NBDExportInfo **info,
                                         Error **errp);

void nbd_free_export_list(NBDExportInfo *info, int count);

#endif /* BLOCK_NBD_H */
