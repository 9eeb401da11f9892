/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Clocks and per-AioContext timers.
 *
 * Each context keeps one list of pending timers per clock, sorted by
 * expiry, under ctx->timer_lock; timers are armed from any thread and fire
 * in the context's home thread.
 */
#include "qemu/osdep.h"
#include "aio-internal.h"

int64_t qemu_clock_get_ns(QEMUClockType type)
{
    struct timespec ts;

    clock_gettime(type == QEMU_CLOCK_HOST ? CLOCK_REALTIME : CLOCK_MONOTONIC,
                  &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t get_clock(void)
{
    return qemu_clock_get_ns(QEMU_CLOCK_REALTIME);
}

void aio_timer_init(AioContext *ctx, QEMUTimer *ts, QEMUClockType type,
                    int scale, QEMUTimerCB *cb, void *opaque)
{
    assert(type >= 0 && type < QEMU_CLOCK_MAX);
    *ts = (QEMUTimer) {
        .expire_time = -1,
        .ctx = ctx,
        .type = type,
        .scale = scale,
        .cb = cb,
        .opaque = opaque,
    };
}

QEMUTimer *aio_timer_new(AioContext *ctx, QEMUClockType type, int scale,
                         QEMUTimerCB *cb, void *opaque)
{
    QEMUTimer *ts = g_new(QEMUTimer, 1);

    aio_timer_init(ctx, ts, type, scale, cb, opaque);
    return ts;
}

/* The head of @ts's list. */
static QEMUTimer **timer_list(QEMUTimer *ts)
{
    return &ts->ctx->timers[ts->type];
}

static void timer_del_locked(QEMUTimer *ts)
{
    QEMUTimer **p;

    if (ts->expire_time < 0) {
        return;
    }
    for (p = timer_list(ts); *p; p = &(*p)->next) {
        if (*p == ts) {
            *p = ts->next;
            break;
        }
    }
    ts->next = NULL;
    qatomic_set(&ts->expire_time, -1);
    qatomic_dec(&ts->ctx->nr_timers);
}

/* Returns true when @ts became the first timer of its list. */
static bool timer_mod_ns_locked(QEMUTimer *ts, int64_t expire_time)
{
    QEMUTimer **p;

    timer_del_locked(ts);
    expire_time = MAX(expire_time, 0);
    /* After any timer with the same expiry: equal timers fire in order. */
    for (p = timer_list(ts); *p; p = &(*p)->next) {
        if ((*p)->expire_time > expire_time) {
            break;
        }
    }
    ts->next = *p;
    *p = ts;
    qatomic_set(&ts->expire_time, expire_time);
    qatomic_inc(&ts->ctx->nr_timers);
    return p == timer_list(ts);
}

void timer_mod_ns(QEMUTimer *ts, int64_t expire_time)
{
    AioContext *ctx = ts->ctx;
    bool first;

    qemu_mutex_lock(&ctx->timer_lock);
    first = timer_mod_ns_locked(ts, expire_time);
    qemu_mutex_unlock(&ctx->timer_lock);
    if (first && !in_aio_context_home_thread(ctx)) {
        /* A blocking poll computed its timeout without this timer. */
        aio_notify(ctx);
    }
}

void timer_mod(QEMUTimer *ts, int64_t expire_time)
{
    timer_mod_ns(ts, expire_time * ts->scale);
}

void timer_mod_anticipate(QEMUTimer *ts, int64_t expire_time)
{
    AioContext *ctx = ts->ctx;
    int64_t ns = expire_time * ts->scale;
    bool first = false;

    qemu_mutex_lock(&ctx->timer_lock);
    if (ts->expire_time < 0 || ts->expire_time > ns) {
        first = timer_mod_ns_locked(ts, ns);
    }
    qemu_mutex_unlock(&ctx->timer_lock);
    if (first && !in_aio_context_home_thread(ctx)) {
        aio_notify(ctx);
    }
}

void timer_del(QEMUTimer *ts)
{
    if (!ts->ctx) {
        return;
    }
    qemu_mutex_lock(&ts->ctx->timer_lock);
    timer_del_locked(ts);
    qemu_mutex_unlock(&ts->ctx->timer_lock);
}

bool timer_pending(QEMUTimer *ts)
{
    return qatomic_read(&ts->expire_time) >= 0;
}

int64_t timer_expire_time_ns(QEMUTimer *ts)
{
    return qatomic_read(&ts->expire_time);
}

void timer_deinit(QEMUTimer *ts)
{
    timer_del(ts);
}

void timer_free(QEMUTimer *ts)
{
    if (ts) {
        timer_del(ts);
        g_free(ts);
    }
}

int64_t aio_timers_deadline(AioContext *ctx)
{
    int64_t deadline = -1;
    int type;

    if (!qatomic_read(&ctx->nr_timers)) {
        return -1;
    }
    qemu_mutex_lock(&ctx->timer_lock);
    for (type = 0; type < QEMU_CLOCK_MAX; type++) {
        QEMUTimer *ts = ctx->timers[type];
        int64_t left;

        if (!ts) {
            continue;
        }
        /* Not MAX(): it would read the clock twice. */
        left = ts->expire_time - qemu_clock_get_ns(type);
        if (left < 0) {
            left = 0;
        }
        deadline = deadline < 0 ? left : MIN(deadline, left);
    }
    qemu_mutex_unlock(&ctx->timer_lock);
    return deadline;
}

bool aio_timers_run(AioContext *ctx)
{
    bool progress = false;
    int type;

    if (!qatomic_read(&ctx->nr_timers)) {
        return false;
    }
    for (type = 0; type < QEMU_CLOCK_MAX; type++) {
        int64_t now;

        now = qemu_clock_get_ns(type);
        for (;;) {
            QEMUTimer *ts;
            QEMUTimerCB *cb;
            void *opaque;

            qemu_mutex_lock(&ctx->timer_lock);
            ts = ctx->timers[type];
            if (!ts || ts->expire_time > now) {
                qemu_mutex_unlock(&ctx->timer_lock);
                break;
            }
            timer_del_locked(ts);
            cb = ts->cb;
            opaque = ts->opaque;
            qemu_mutex_unlock(&ctx->timer_lock);
            /* The callback may free or re-arm @ts. */
            cb(opaque);
            progress = true;
        }
    }
    return progress;
}

void aio_timers_destroy(AioContext *ctx)
{
    int type;

    qemu_mutex_lock(&ctx->timer_lock);
    for (type = 0; type < QEMU_CLOCK_MAX; type++) {
        while (ctx->timers[type]) {
            timer_del_locked(ctx->timers[type]);
        }
    }
    qemu_mutex_unlock(&ctx->timer_lock);
}
