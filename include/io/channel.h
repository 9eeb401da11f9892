/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QIOChannel: a byte stream (socket, file, pipe pair, TLS session...) with
 * optional fd passing, used from coroutines or blocking code alike.
 *
 * A channel belongs to no event loop. A coroutine that must wait for a
 * channel waits in an AioContext chosen at that moment: its own context
 * when follow-coroutine-ctx is set (qio_channel_set_follow_coroutine_ctx),
 * else the main loop's iohandler context. One reader coroutine and one
 * writer coroutine may use a channel at the same time, each from its own
 * context and thread; the channel keeps, per direction, the waiting
 * coroutine and the context its fd handler was installed in, and nothing
 * else they share. Two readers (or two writers) at once are a bug of the
 * caller, which must serialise them.
 */
#ifndef QIO_CHANNEL_H
#define QIO_CHANNEL_H

#include "qom/object.h"
#include "block/aio.h"

#define TYPE_QIO_CHANNEL "qio-channel"
OBJECT_DECLARE_TYPE(QIOChannel, QIOChannelClass, QIO_CHANNEL)

/* Returned by read/write calls on a non-blocking channel: try later. */
#define QIO_CHANNEL_ERR_BLOCK -2

#define QIO_CHANNEL_WRITE_FLAG_ZERO_COPY 0x1
#define QIO_CHANNEL_READ_FLAG_MSG_PEEK 0x1

typedef enum QIOChannelFeature {
    QIO_CHANNEL_FEATURE_FD_PASS,
    QIO_CHANNEL_FEATURE_SHUTDOWN,
    QIO_CHANNEL_FEATURE_LISTEN,
    QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY,
    QIO_CHANNEL_FEATURE_READ_MSG_PEEK,
    QIO_CHANNEL_FEATURE_SEEKABLE,
} QIOChannelFeature;

typedef enum QIOChannelShutdown {
    QIO_CHANNEL_SHUTDOWN_READ = 1,
    QIO_CHANNEL_SHUTDOWN_WRITE = 2,
    QIO_CHANNEL_SHUTDOWN_BOTH = 3,
} QIOChannelShutdown;

typedef gboolean (*QIOChannelFunc)(QIOChannel *ioc, GIOCondition condition,
                                   gpointer data);

struct QIOChannel {
    Object parent;
    unsigned int features;      /* bitmask of 1 << QIOChannelFeature */
    char *name;
    /*
     * The waiting coroutine of each direction and the context its fd
     * handler sits in. Written by the waiting coroutine's thread and read
     * by the other direction's thread (and by qio_channel_wake_read()), so
     * always accessed atomically: a waiter is published with release
     * after its context, and read with acquire before it.
     */
    AioContext *read_ctx;
    /* A reader parked in qio_channel_yield(G_IO_IN), or NULL. */
    Coroutine *read_coroutine;
    /*
     * A reader parked in a receive of its context (qio_channel_co_readv()
     * through the backend's io_co_readv): that receive's id
     * (aio_co_recv_init()), or 0. At most one of read_coroutine and
     * read_recv_id is set. qio_channel_wake_read() cancels the receive by
     * this id, which is never reused, so a late cancel finds nothing
     * rather than someone else's request.
     */
    uint64_t read_recv_id;
    AioContext *write_ctx;
    Coroutine *write_coroutine;
    bool follow_coroutine_ctx;
};

struct QIOChannelClass {
    ObjectClass parent;

    /* Mandatory. */
    ssize_t (*io_writev)(QIOChannel *ioc, const struct iovec *iov,
                         size_t niov, int *fds, size_t nfds, int flags,
                         Error **errp);
    ssize_t (*io_readv)(QIOChannel *ioc, const struct iovec *iov,
                        size_t niov, int **fds, size_t *nfds, int flags,
                        Error **errp);
    int (*io_close)(QIOChannel *ioc, Error **errp);
    GSource *(*io_create_watch)(QIOChannel *ioc, GIOCondition condition);
    int (*io_set_blocking)(QIOChannel *ioc, bool enabled, Error **errp);

    /* Optional. */
    void (*io_set_cork)(QIOChannel *ioc, bool enabled);
    void (*io_set_delay)(QIOChannel *ioc, bool enabled);
    off_t (*io_seek)(QIOChannel *ioc, off_t offset, int whence,
                     Error **errp);
    int (*io_shutdown)(QIOChannel *ioc, QIOChannelShutdown how,
                       Error **errp);
    /*
     * Sets the fd handlers of the channel's fd(s): @io_read in @read_ctx
     * and @io_write in @write_ctx; a NULL context leaves that direction
     * untouched. Mandatory for every class that can return
     * QIO_CHANNEL_ERR_BLOCK; a channel with nothing to poll implements it
     * as an explicit no-op.
     */
    void (*io_set_aio_fd_handler)(QIOChannel *ioc, AioContext *read_ctx,
                                  IOHandler *io_read, AioContext *write_ctx,
                                  IOHandler *io_write, void *opaque);
    int (*io_flush)(QIOChannel *ioc, Error **errp);
    /*
     * Optional, for qio_channel_co_readv() when the channel follows its
     * coroutine's context: waits until the channel is readable and reads
     * into @iov (no file descriptors), as one receive of the calling
     * coroutine's AioContext, using @req, which the caller prepared with
     * aio_co_recv_init() and published for qio_channel_wake_read().
     * Returns what io_readv returns; QIO_CHANNEL_ERR_BLOCK when the
     * receive was cancelled or found nothing after all. Coroutine only.
     */
    ssize_t coroutine_fn (*io_co_readv)(QIOChannel *ioc,
                                        const struct iovec *iov,
                                        size_t niov, AioCoRecv *req,
                                        Error **errp);
};

/* Features */
bool qio_channel_has_feature(QIOChannel *ioc, QIOChannelFeature feature);
void qio_channel_set_feature(QIOChannel *ioc, QIOChannelFeature feature);

/* Names the channel (in traces and in GSource names). */
void qio_channel_set_name(QIOChannel *ioc, const char *name);

/**
 * qio_channel_readv_full:
 * Reads into @iov, and receives file descriptors into *@fds (a new array
 * the caller frees and whose fds it owns) when @fds is non-NULL and the
 * channel has QIO_CHANNEL_FEATURE_FD_PASS.
 * Returns the number of bytes read, 0 at end of file,
 * QIO_CHANNEL_ERR_BLOCK if a non-blocking channel has nothing now, or -1
 * with @errp set.
 */
ssize_t qio_channel_readv_full(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, int **fds, size_t *nfds,
                               int flags, Error **errp);

/**
 * qio_channel_writev_full:
 * Writes from @iov, passing @nfds descriptors @fds along with the first
 * byte. Returns the number of bytes written (maybe fewer than asked),
 * QIO_CHANNEL_ERR_BLOCK, or -1 with @errp set.
 */
ssize_t qio_channel_writev_full(QIOChannel *ioc, const struct iovec *iov,
                                size_t niov, int *fds, size_t nfds,
                                int flags, Error **errp);

/*
 * The _all helpers loop until everything is transferred: a coroutine
 * yields (qio_channel_yield) when the channel would block, other callers
 * block in qio_channel_wait().
 *
 * _all_eof: 1 when everything was read, 0 at end of file before the first
 * byte, -1 with @errp set on error or on end of file in the middle.
 * _all: 0 when everything was read/written, -1 with @errp set otherwise.
 */
int coroutine_mixed_fn qio_channel_readv_all_eof(QIOChannel *ioc,
                                                 const struct iovec *iov,
                                                 size_t niov, Error **errp);
int coroutine_mixed_fn qio_channel_readv_all(QIOChannel *ioc,
                                             const struct iovec *iov,
                                             size_t niov, Error **errp);
int coroutine_mixed_fn qio_channel_readv_full_all_eof(QIOChannel *ioc,
                                                      const struct iovec *iov,
                                                      size_t niov, int **fds,
                                                      size_t *nfds,
                                                      Error **errp);
int coroutine_mixed_fn qio_channel_readv_full_all(QIOChannel *ioc,
                                                  const struct iovec *iov,
                                                  size_t niov, int **fds,
                                                  size_t *nfds, Error **errp);
int coroutine_mixed_fn qio_channel_writev_all(QIOChannel *ioc,
                                              const struct iovec *iov,
                                              size_t niov, Error **errp);
int coroutine_mixed_fn qio_channel_writev_full_all(QIOChannel *ioc,
                                                   const struct iovec *iov,
                                                   size_t niov, int *fds,
                                                   size_t nfds, int flags,
                                                   Error **errp);

ssize_t qio_channel_readv(QIOChannel *ioc, const struct iovec *iov,
                          size_t niov, Error **errp);
ssize_t qio_channel_writev(QIOChannel *ioc, const struct iovec *iov,
                           size_t niov, Error **errp);
ssize_t qio_channel_read(QIOChannel *ioc, char *buf, size_t buflen,
                         Error **errp);
ssize_t qio_channel_write(QIOChannel *ioc, const char *buf, size_t buflen,
                          Error **errp);
int coroutine_mixed_fn qio_channel_read_all_eof(QIOChannel *ioc, char *buf,
                                                size_t buflen, Error **errp);
int coroutine_mixed_fn qio_channel_read_all(QIOChannel *ioc, char *buf,
                                            size_t buflen, Error **errp);
int coroutine_mixed_fn qio_channel_write_all(QIOChannel *ioc,
                                             const char *buf, size_t buflen,
                                             Error **errp);

/* Blocking or non-blocking I/O. Returns 0, or -1 with @errp set. */
int qio_channel_set_blocking(QIOChannel *ioc, bool enabled, Error **errp);

/**
 * qio_channel_set_follow_coroutine_ctx:
 * With @enabled, qio_channel_yield() waits in the calling coroutine's
 * AioContext; without (the default), in the iohandler context, which only
 * the main loop runs, so only coroutines of the main thread may then wait
 * on the channel. Consumers in iothreads set it once, right after making
 * the channel.
 */
void qio_channel_set_follow_coroutine_ctx(QIOChannel *ioc, bool enabled);

/* Closes the channel's fd(s). Returns 0, or -1 with @errp set. */
int qio_channel_close(QIOChannel *ioc, Error **errp);

/* Shuts down one or both directions (needs FEATURE_SHUTDOWN). */
int qio_channel_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                         Error **errp);

/* TCP_NODELAY off (@enabled) or on; a no-op for other channels. */
void qio_channel_set_delay(QIOChannel *ioc, bool enabled);

/* TCP_CORK; a no-op for other channels. */
void qio_channel_set_cork(QIOChannel *ioc, bool enabled);

/* Repositions a seekable channel; returns the new offset or -1. */
off_t qio_channel_io_seek(QIOChannel *ioc, off_t offset, int whence,
                          Error **errp);

/* Waits for zero-copy writes to complete (a no-op without them). */
int qio_channel_flush(QIOChannel *ioc, Error **errp);

/**
 * qio_channel_create_watch:
 * A GSource that fires when @condition holds on the channel; attach it to
 * any GMainContext. Returns a new reference.
 */
GSource *qio_channel_create_watch(QIOChannel *ioc, GIOCondition condition);

/* Watches in the default GMainContext; return the source id. */
guint qio_channel_add_watch(QIOChannel *ioc, GIOCondition condition,
                            QIOChannelFunc func, gpointer user_data,
                            GDestroyNotify notify);
/* Watches in @context (NULL: the default one). */
guint qio_channel_add_watch_full(QIOChannel *ioc, GIOCondition condition,
                                 QIOChannelFunc func, gpointer user_data,
                                 GDestroyNotify notify,
                                 GMainContext *context);
/* Like add_watch_full, returning the (borrowed) source. */
GSource *qio_channel_add_watch_source(QIOChannel *ioc,
                                      GIOCondition condition,
                                      QIOChannelFunc func,
                                      gpointer user_data,
                                      GDestroyNotify notify,
                                      GMainContext *context);

/**
 * qio_channel_yield:
 * @condition: G_IO_IN or G_IO_OUT
 *
 * Suspends the calling coroutine until the channel is ready for
 * @condition, until qio_channel_wake_read() (for G_IO_IN), or until
 * someone re-enters the coroutine directly (then the wait's slot is
 * emptied here). The fd handler is installed in the context chosen by
 * follow-coroutine-ctx and removed again before this returns. At most one
 * coroutine may wait per direction (asserted). Without
 * follow-coroutine-ctx the wait is in the iohandler context, so only
 * coroutines of the main thread may call this (asserted).
 */
void coroutine_fn qio_channel_yield(QIOChannel *ioc, GIOCondition condition);

/**
 * qio_channel_wake_read:
 * @ioc: the channel
 *
 * Wakes the coroutine waiting in qio_channel_yield(G_IO_IN) or in
 * qio_channel_co_readv(), if any; it resumes in its own context (the
 * latter once its receive was cancelled, or completed with data that it
 * then returns: nothing is lost). Any thread; from the reader's own
 * thread the cancel is immediate, from another it goes through a bottom
 * half of the reader's context. A wake that comes before the reader has
 * started to wait is not remembered: callers that must not lose it run
 * the wake in the reader's own context (a bottom half there).
 */
void qio_channel_wake_read(QIOChannel *ioc);

/**
 * qio_channel_co_readv:
 * @ioc: the channel (non-blocking)
 * @iov: where to read to
 * @niov: the number of elements of @iov
 * @errp: error object
 *
 * Reads what is there; if nothing is, waits and then reads. When the
 * channel follows the coroutine's context and the backend has
 * io_co_readv, waiting and reading are one receive of the context
 * (aio_co_recvmsg(): one system call where the fd monitor can do both),
 * and the context's adaptive busy-polling covers the wait; else the
 * coroutine waits as qio_channel_yield(G_IO_IN) would and reads again.
 * Coroutine only.
 *
 * Returns: the number of bytes read, 0 at end of file, -1 with @errp set,
 * or QIO_CHANNEL_ERR_BLOCK when qio_channel_wake_read() woke the reader
 * before data came (or the wake-up found nothing after all).
 */
ssize_t coroutine_fn qio_channel_co_readv(QIOChannel *ioc,
                                          const struct iovec *iov,
                                          size_t niov, Error **errp);

/**
 * qio_channel_wait:
 * Blocks the calling thread (not in a coroutine) until the channel is
 * ready for @condition, with a private GMainContext.
 */
void qio_channel_wait(QIOChannel *ioc, GIOCondition condition);

/**
 * qio_channel_set_aio_fd_handler:
 * Installs @io_read in @read_ctx and @io_write in @write_ctx for the
 * channel's fd(s); a NULL context leaves its direction untouched, NULL
 * handlers remove. Both directions in the same context must be passed
 * together, since one call sets both handlers of an fd there.
 */
void qio_channel_set_aio_fd_handler(QIOChannel *ioc, AioContext *read_ctx,
                                    IOHandler *io_read,
                                    AioContext *write_ctx,
                                    IOHandler *io_write, void *opaque);

#endif /* QIO_CHANNEL_H */
