/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * AioContext: an event loop for fd handlers, bottom halves, timers and
 * coroutines.
 *
 * Each context has one home thread, the only one that runs aio_poll() on
 * it: the thread that created it, or the IOThread that runs it. Other
 * threads hand work to a context with bottom halves (qemu_bh_schedule),
 * aio_co_schedule() and aio_notify(); aio_set_fd_handler() and timer_mod()
 * may be called from any thread too.
 *
 * File descriptors are watched by epoll, or by io_uring poll requests where
 * the kernel allows io_uring; the choice is made when the context is created
 * (QEMU_FDMON=epoll in the environment forces epoll).
 */
#ifndef QEMU_AIO_H
#define QEMU_AIO_H

#include "qemu/coroutine.h"
#include "qemu/timer.h"

typedef void QEMUBHFunc(void *opaque);
/* Busy-poll callback: returns true when the handler has work. */
typedef bool AioPollFn(void *opaque);

/**
 * aio_context_new:
 * Creates a context whose home thread is the calling thread. Returns NULL
 * with @errp set if the kernel refuses its eventfd or epoll instance.
 */
AioContext *aio_context_new(Error **errp);

/* References; the last unref frees the context (see aio_context_unref). */
void aio_context_ref(AioContext *ctx);
/*
 * aio_context_unref:
 * Drops a reference. Freeing a context runs its pending bottom halves'
 * deletions, warns about fd handlers and coroutines still registered, and
 * frees them.
 */
void aio_context_unref(AioContext *ctx);

/**
 * aio_poll:
 * Runs one iteration of @ctx: expired timers, scheduled bottom halves and
 * the handlers of ready fds. With @blocking, waits until at least one of
 * those has something to do. Returns true when some callback (other than
 * the internal notifier) made progress. Only the home thread may call it;
 * it may be nested (called from a callback).
 */
bool aio_poll(AioContext *ctx, bool blocking);

/* Wakes a blocking aio_poll() of @ctx. Any thread. */
void aio_notify(AioContext *ctx);

/**
 * aio_set_fd_handler:
 * Sets the read and write handlers of @fd in @ctx together, replacing what
 * was there for @fd (in @ctx only: the same fd may have other handlers in
 * other contexts). NULL for both @io_read and @io_write removes the fd.
 * @io_poll/@io_poll_ready are optional busy-polling callbacks. Any thread;
 * after it returns from the home thread, the old handlers are not called.
 */
void aio_set_fd_handler(AioContext *ctx, int fd, IOHandler *io_read,
                        IOHandler *io_write, AioPollFn *io_poll,
                        IOHandler *io_poll_ready, void *opaque);

/* Bottom halves: callbacks run by the context's thread, from any thread. */
QEMUBH *aio_bh_new_full(AioContext *ctx, QEMUBHFunc *cb, void *opaque,
                        const char *name);
#define aio_bh_new(ctx, cb, opaque) \
    aio_bh_new_full((ctx), (cb), (opaque), (stringify_bh(cb)))
#define stringify_bh(x) #x

/* Runs @cb(@opaque) once in @ctx, soon; the BH frees itself. */
void aio_bh_schedule_oneshot_full(AioContext *ctx, QEMUBHFunc *cb,
                                  void *opaque, const char *name);
#define aio_bh_schedule_oneshot(ctx, cb, opaque) \
    aio_bh_schedule_oneshot_full((ctx), (cb), (opaque), (stringify_bh(cb)))

/*
 * Schedules @bh: its callback runs once in its context's next iteration,
 * however often it was scheduled before then. Any thread.
 */
void qemu_bh_schedule(QEMUBH *bh);
/* Like qemu_bh_schedule() but without waking a blocking aio_poll(). */
void qemu_bh_schedule_idle(QEMUBH *bh);
/* Unschedules @bh; it may still run if it was already being dispatched. */
void qemu_bh_cancel(QEMUBH *bh);
/* Cancels and frees @bh (the free happens in its context). Any thread. */
void qemu_bh_delete(QEMUBH *bh);

/**
 * aio_co_schedule:
 * Makes @co run in @ctx (its new home), from a bottom half of @ctx. @co must
 * be suspended (or about to yield, in @ctx's own thread). Scheduling a
 * coroutine twice before it runs aborts with a message naming the first
 * scheduler. Any thread.
 */
void aio_co_schedule(AioContext *ctx, Coroutine *co);

/**
 * aio_co_wake:
 * Resumes @co in its home context: at once if the caller runs in that
 * context (after the calling coroutine yields, when called from one), else
 * through aio_co_schedule(). Any thread.
 */
void aio_co_wake(Coroutine *co);

/* Like aio_co_wake(), but @co resumes in @ctx. */
void aio_co_enter(AioContext *ctx, Coroutine *co);

/**
 * aio_co_reschedule_self:
 * Moves the calling coroutine to @new_ctx and returns once it runs there.
 */
void coroutine_fn aio_co_reschedule_self(AioContext *new_ctx);

/**
 * qemu_get_current_aio_context:
 * In a coroutine, its home context; otherwise the context of the calling
 * thread (an IOThread's, the main context in the main thread), or NULL.
 */
AioContext *qemu_get_current_aio_context(void);

/* Makes @ctx the context of the calling thread (used by IOThreads). */
void qemu_set_current_aio_context(AioContext *ctx);

/*
 * Makes the calling thread @ctx's home thread: for a thread that will run
 * @ctx's loop (IOThreads do this before they run anything in it).
 */
void aio_context_set_home_thread(AioContext *ctx);

/* True when the calling thread is @ctx's home thread. */
bool in_aio_context_home_thread(AioContext *ctx);

/* Timers. @scale is SCALE_NS, SCALE_US or SCALE_MS. */
QEMUTimer *aio_timer_new(AioContext *ctx, QEMUClockType type, int scale,
                         QEMUTimerCB *cb, void *opaque);
void aio_timer_init(AioContext *ctx, QEMUTimer *ts, QEMUClockType type,
                    int scale, QEMUTimerCB *cb, void *opaque);

/* The context as a GSource, to run it inside a GLib main loop. */
GSource *aio_get_g_source(AioContext *ctx);

/* The thread pool that serves @ctx (created on first use). */
ThreadPool *aio_get_thread_pool(AioContext *ctx);

/*
 * Busy-polling: before blocking (in aio_poll(), or in GLib's poll when
 * GLib runs the context), poll the io_poll callbacks, the coroutine
 * receives (aio_co_recvmsg()) and the ring's completions for up to the
 * context's adaptive poll time, which grows (times @grow, default 2) up
 * to @max_ns while waits are short and shrinks (divided by @shrink, or to
 * 0 when @shrink is 0) when they are long. 0 for @max_ns (the default)
 * disables it. Any thread.
 */
void aio_context_set_poll_params(AioContext *ctx, int64_t max_ns,
                                 int64_t grow, int64_t shrink, Error **errp);

/* The context's poll-max-ns: 0 when it does not busy-poll. Any thread. */
int64_t aio_context_poll_max_ns(AioContext *ctx);

/*
 * The context's current adaptive poll time: how long its next wait will
 * busy-poll (fd handlers' io_poll, coroutine receives, completions) before
 * it sleeps; 0 when it sleeps at once. Home thread (tests, traces).
 */
int64_t aio_context_poll_ns(AioContext *ctx);

/* "epoll" or "io_uring": which fd monitor the context uses. */
const char *aio_context_fdmon_name(AioContext *ctx);

/*
 * io_uring requests of our users on the context's own ring, so that one
 * io_uring_enter both submits them and waits for them (and for the fds).
 *
 * A CqeHandler is owned by the submitter and must stay valid until its
 * callback ran: @cb runs in the context's home thread, from aio_poll()'s
 * dispatch phase (never inside the wait), with @res and @flags copied
 * from the completion.
 */
struct io_uring_sqe;
typedef struct CqeHandler CqeHandler;
typedef void CqeHandlerFunc(CqeHandler *handler);
struct CqeHandler {
    CqeHandlerFunc *cb;
    int32_t res;
    uint32_t flags;
    QSIMPLEQ_ENTRY(CqeHandler) next;    /* ready list, home thread */
};

/* Does @ctx's fd monitor take aio_add_sqe() requests? (any thread) */
bool aio_has_io_uring(AioContext *ctx);

/**
 * aio_add_sqe:
 * @prep_sqe: fills the submission entry (its user data is ours: leave it)
 * @opaque: for @prep_sqe
 * @handler: completion handler, with @handler->cb set
 *
 * Queues a request on the ring of the current thread's AioContext (which
 * must have aio_has_io_uring()); it goes to the kernel at the next wait
 * of the event loop at the latest. Home thread of that context only.
 */
void aio_add_sqe(void (*prep_sqe)(struct io_uring_sqe *sqe, void *opaque),
                 void *opaque, CqeHandler *handler);

/*
 * Coroutine receives: "wait until this fd is readable, then receive into
 * this msghdr" as one primitive of the context, for stream sockets read
 * by a coroutine (the socket channel's io_co_readv()).
 *
 * Where the context's fd monitor is io_uring it is one receive request
 * on the context's ring, so one io_uring_enter waits and reads; under
 * epoll it is a readiness wait on the fd in the context followed by
 * recvmsg(). The caller sees the same behaviour either way. Busy-polling
 * is the context's own (poll-max-ns, poll-grow, poll-shrink): before the
 * context sleeps, it polls the waiting receives' sockets for its adaptive
 * poll time (with io_uring, a receive goes to the ring only when the
 * context is about to sleep, so a poll that finds the data costs no ring
 * request and no wake-up by the kernel).
 *
 * A receive has an id that is never reused (a 64-bit counter shared by
 * all contexts), so aio_co_recv_cancel() cancels that receive or
 * nothing, even if it comes late, when the caller's stack already holds
 * another request at the same address.
 */
typedef struct AioCoRecv {
    /* All private to util/; the caller only provides the storage. */
    uint64_t id;
    AioContext *ctx;
    Coroutine *co;
    int fd;
    int flags;
    struct msghdr *msg;
    ssize_t ret;
    CqeHandler cqe;             /* io_uring completion */
    bool pending;               /* io_uring: queued, not yet on the ring */
    QLIST_ENTRY(AioCoRecv) pending_next;
} AioCoRecv;

/**
 * aio_co_recv_init:
 * @req: the caller's storage for one receive (usually on its stack)
 *
 * Prepares @req for one aio_co_recvmsg() by the calling coroutine in its
 * AioContext, and gives it a new id, so that the caller can publish the
 * id (for aio_co_recv_cancel() by others) before it starts to wait.
 * Coroutine only.
 *
 * Returns: the id, never 0 and never returned again.
 */
uint64_t coroutine_fn aio_co_recv_init(AioCoRecv *req);

/**
 * aio_co_recvmsg:
 * @req: prepared by aio_co_recv_init() in this coroutine, not used since
 * @fd: a stream socket (blocking or not)
 * @msg: where to receive (iovecs only: no ancillary data); owned by the
 *       caller, must stay valid until this returns
 * @flags: recvmsg() flags
 *
 * Waits until @fd is readable and receives into @msg, in the calling
 * coroutine's AioContext (whose home thread must be the current one).
 * Callers that expect data to be there already should try a plain
 * non-blocking read first: this always waits for the fd monitor.
 * Coroutine only.
 *
 * Returns: the number of bytes received, 0 at end of file, -ECANCELED
 * when aio_co_recv_cancel() came first, -EAGAIN when the fd was readable
 * but the receive found nothing after all, or another negative errno.
 */
ssize_t coroutine_fn aio_co_recvmsg(AioCoRecv *req, int fd,
                                    struct msghdr *msg, int flags);

/**
 * aio_co_recv_cancel:
 * @ctx: the context the receive waits in
 * @id: the receive's id (aio_co_recv_init())
 *
 * Ends the receive @id if it is still waiting: its aio_co_recvmsg()
 * returns -ECANCELED, or the data it received if that came first. A
 * receive that is over already, or an id that @ctx never saw, is left
 * alone. Any thread: in @ctx's home thread it acts at once (the waiting
 * coroutine resumes once the caller yields or returns to the event
 * loop), from another thread through a bottom half of @ctx.
 */
void aio_co_recv_cancel(AioContext *ctx, uint64_t id);

/* Live fd handlers, and bottom halves not yet deleted (for tests). */
unsigned int aio_context_handler_count(AioContext *ctx);
unsigned int aio_context_bh_count(AioContext *ctx);

/*
 * Per-context private data for subsystems built on top (e.g. the block
 * layer's io_uring ring). @key is the address of a static variable owned by
 * the subsystem; @destroy runs when the context is freed.
 */
void *aio_context_get_private(AioContext *ctx, const void *key);
void aio_context_set_private(AioContext *ctx, const void *key, void *data,
                             GDestroyNotify destroy);

#endif /* QEMU_AIO_H */
