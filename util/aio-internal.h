/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * AioContext internals, shared by async.c (bottom halves, coroutine
 * scheduling, the GSource), aio-posix.c (fd handlers and aio_poll),
 * qemu-timer.c and the fd monitors fdmon-epoll.c and fdmon-io_uring.c.
 */
#ifndef UTIL_AIO_INTERNAL_H
#define UTIL_AIO_INTERNAL_H

#include "block/aio.h"
#include "qemu/queue.h"
#include "qemu/thread.h"

#include <liburing.h>

typedef struct AioHandler AioHandler;

struct AioHandler {
    int fd;
    int events;                 /* G_IO_IN | G_IO_OUT | G_IO_HUP | G_IO_ERR */
    IOHandler *io_read;
    IOHandler *io_write;
    AioPollFn *io_poll;
    IOHandler *io_poll_ready;
    void *opaque;
    bool is_notifier;           /* the context's own eventfd */
    /*
     * epoll: a coroutine parked in aio_co_recvmsg() on this fd. It rides
     * along with the fd's handlers: replacing them keeps it, and waking it
     * replaces the node by one without it. Home thread only (it is set and
     * cleared there; other threads copy it under list_lock).
     */
    AioCoRecv *recv;
    /*
     * Set (under list_lock) when the handler was replaced or removed; it is
     * then skipped by dispatch and freed once no aio_poll() walks the list
     * and the fd monitor lets go of it. Read without the lock by the home
     * thread (atomic).
     */
    bool deleted;
    QLIST_ENTRY(AioHandler) node;

    /* epoll: registered with the epoll instance (list_lock). */
    bool epoll_registered;
    /* epoll: the kernel refused the fd (a regular file): always ready. */
    bool always_ready;

    /* io_uring: the fd monitor's state, home thread only. */
    bool uring_armed;           /* a POLL_ADD is in flight */
    bool uring_cancelled;       /* a POLL_REMOVE for it was submitted */
    bool uring_queued;          /* on submit_list; under list_lock */
    QSLIST_ENTRY(AioHandler) submit_next;
};

/* One ready fd found by a fd monitor's wait. */
typedef struct AioReady {
    AioHandler *node;
    int revents;
} AioReady;

typedef struct AioReadyList {
    AioReady *v;
    size_t len;
    size_t cap;
    bool on_heap;
} AioReadyList;

void aio_ready_add(AioReadyList *list, AioHandler *node, int revents);

typedef struct FDMonOps {
    const char *name;
    /*
     * @old_node is being replaced by @new_node for one fd (either may be
     * NULL). Called with list_lock held, from any thread.
     */
    void (*update)(AioContext *ctx, AioHandler *old_node,
                   AioHandler *new_node);
    /*
     * Waits up to @timeout ns (-1: forever, 0: not at all) and appends
     * ready handlers to @ready. Home thread only.
     */
    void (*wait)(AioContext *ctx, AioReadyList *ready, int64_t timeout);
    /* May a deleted handler be freed? (list_lock held) */
    bool (*can_free)(AioContext *ctx, AioHandler *node);
    /* The fd the GSource polls for the whole context. */
    int (*gsource_fd)(AioContext *ctx);
    /* Prepare for GLib to poll gsource_fd (submit pending work). */
    void (*gsource_prepare)(AioContext *ctx);
    void (*cleanup)(AioContext *ctx);
} FDMonOps;

extern const FDMonOps fdmon_epoll_ops;
extern const FDMonOps fdmon_io_uring_ops;

bool fdmon_epoll_setup(AioContext *ctx, Error **errp);
bool fdmon_io_uring_setup(AioContext *ctx);

typedef struct BHListSlice BHListSlice;

typedef struct AioPrivate {
    const void *key;
    void *data;
    GDestroyNotify destroy;
} AioPrivate;

struct AioContext {
    GSource source;             /* first: the context is its own GSource */
    gpointer gsource_tag;       /* its fd monitor's fd in the GSource */

    /*
     * The only thread that may aio_poll() this context, identified by the
     * address of a thread-local variable of that thread (atomic).
     */
    void *home_thread;

    /*
     * list_lock protects: handlers, walking, submit_list (io_uring), and
     * each handler's deleted and uring_queued flags.
     */
    QemuMutex list_lock;
    QLIST_HEAD(, AioHandler) handlers;
    unsigned int walking;       /* aio_poll()s between wait and cleanup */
    unsigned int nr_handlers;   /* live (not deleted) user handlers */

    /* aio_notify() */
    int notify_fd;              /* eventfd */
    int notify_me;              /* atomic: >0 while a poller may block */
    bool notified;              /* atomic: a notify is pending */

    /* Bottom halves: pushed by any thread, taken by the home thread. */
    QSLIST_HEAD(, QEMUBH) bh_list;
    QSIMPLEQ_HEAD(, BHListSlice) bh_slice_list;   /* home thread */
    unsigned int nr_bhs;        /* atomic: created and not yet freed */

    /* Timers, sorted by expiry; timer_lock protects the list. */
    QemuMutex timer_lock;
    QEMUTimer *timers[QEMU_CLOCK_MAX];
    unsigned int nr_timers;     /* atomic: pending timers, all clocks */

    /* aio_co_schedule() */
    QSLIST_HEAD(, Coroutine) scheduled_coroutines;
    QEMUBH *co_schedule_bh;

    /* fd monitor */
    const FDMonOps *fdmon_ops;
    int epollfd;
    unsigned int nr_always_ready;                 /* epoll; list_lock */
    struct io_uring ring;
    QSLIST_HEAD(, AioHandler) submit_list;        /* io_uring updates */
    unsigned int uring_inflight;                  /* home thread */
    /* aio_add_sqe() completions waiting for dispatch; home thread */
    QSIMPLEQ_HEAD(, CqeHandler) cqe_ready;
    /*
     * aio_co_recvmsg() receives still waiting, by id (&req->id to req):
     * the only way to find one, so that a cancel by id can never reach a
     * request it was not meant for. Home thread only.
     */
    GHashTable *co_recvs;
    /* io_uring: receives not yet on the ring (see fdmon-io_uring.c) */
    QLIST_HEAD(, AioCoRecv) co_recv_pending;

    /* Busy polling */
    int64_t poll_max_ns;        /* atomic: the limit, 0 = no polling */
    int64_t poll_grow;          /* atomic: factor, 0 = the default 2 */
    int64_t poll_shrink;        /* atomic: divisor, 0 = back to 0 */
    int64_t poll_ns;            /* home thread: the current poll time */
    bool poll_restart;          /* atomic: new parameters, start at max */
    /* home thread: when GLib started to block on us after a failed poll */
    int64_t gsource_block_start;

    ThreadPool *thread_pool;

    QemuMutex private_lock;     /* protects privates */
    GArray *privates;           /* of AioPrivate */
};

/* async.c */
bool aio_bh_poll(AioContext *ctx);
bool aio_bh_pending(AioContext *ctx);
void aio_notify_accept(AioContext *ctx);
int64_t aio_compute_timeout(AioContext *ctx);
IOHandler *aio_notifier_handler(void);

/* aio-posix.c */
void aio_context_setup_handlers(AioContext *ctx);
void aio_context_destroy_handlers(AioContext *ctx);
bool aio_dispatch(AioContext *ctx, int64_t timeout);
bool aio_handlers_poll_ready(AioContext *ctx);
/*
 * The adaptive busy-polling of aio_poll(), for a context that GLib runs
 * (its GSource): aio_gsource_poll() polls before GLib blocks and returns
 * true when it found work; aio_gsource_poll_done() adapts the poll time
 * to how long GLib then blocked. Home thread.
 */
bool aio_gsource_poll(AioContext *ctx);
void aio_gsource_poll_done(AioContext *ctx);

/*
 * aio-posix.c: takes a waiting receive out of ctx->co_recvs and resumes it
 * with @ret (epoll: 0 for "readable"). False if it was not waiting.
 */
bool aio_co_recv_complete(AioContext *ctx, uint64_t id, ssize_t ret);

/* fdmon-io_uring.c: runs the ready CqeHandlers; true if there were any. */
bool fdmon_io_uring_dispatch_cqes(AioContext *ctx);
/* Completions wait in the ring (a load, no system call). */
bool fdmon_io_uring_cq_ready(AioContext *ctx);
/* Hands the queued requests to the kernel now (before busy-polling). */
void fdmon_io_uring_submit(AioContext *ctx);
/* Queues @req's receive on the ring (home thread). */
void fdmon_io_uring_add_recv(AioContext *ctx, AioCoRecv *req);
/*
 * Cancels the waiting receive @req: at once if it is not on the ring yet,
 * else with a cancel request (home thread).
 */
void fdmon_io_uring_cancel_recv(AioContext *ctx, AioCoRecv *req);
/*
 * Busy-polling: tries the receives not yet on the ring; those that got
 * data (or an error) complete. True if any did. Home thread.
 */
bool fdmon_io_uring_poll_recvs(AioContext *ctx);

/* qemu-timer.c */
/* ns until the first timer fires: -1 if none, 0 if already expired */
int64_t aio_timers_deadline(AioContext *ctx);
bool aio_timers_run(AioContext *ctx);
void aio_timers_destroy(AioContext *ctx);

/* thread-pool.c */
void thread_pool_free(ThreadPool *pool);

#endif /* UTIL_AIO_INTERNAL_H */
