/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Clocks and timers. Timers belong to an AioContext and fire in its thread.
 */
#ifndef QEMU_TIMER_H
#define QEMU_TIMER_H

#define SCALE_MS 1000000
#define SCALE_US 1000
#define SCALE_NS 1

/*
 * QEMU_CLOCK_REALTIME and QEMU_CLOCK_VIRTUAL both read the monotonic clock
 * (there is no guest here to stop virtual time); QEMU_CLOCK_HOST reads the
 * wall clock and may jump.
 */
typedef enum {
    QEMU_CLOCK_REALTIME = 0,
    QEMU_CLOCK_VIRTUAL = 1,
    QEMU_CLOCK_HOST = 2,
    QEMU_CLOCK_MAX
} QEMUClockType;

typedef void QEMUTimerCB(void *opaque);

/* A timer; embed it, or get one from aio_timer_new(). */
struct QEMUTimer {
    int64_t expire_time;            /* ns; -1 when not pending */
    AioContext *ctx;
    QEMUClockType type;
    int scale;
    QEMUTimerCB *cb;
    void *opaque;
    QEMUTimer *next;
};

int64_t qemu_clock_get_ns(QEMUClockType type);

static inline int64_t qemu_clock_get_us(QEMUClockType type)
{
    return qemu_clock_get_ns(type) / SCALE_US;
}

static inline int64_t qemu_clock_get_ms(QEMUClockType type)
{
    return qemu_clock_get_ns(type) / SCALE_MS;
}

/* Monotonic nanoseconds, as QEMU_CLOCK_REALTIME. */
int64_t get_clock(void);

/**
 * timer_mod:
 * Arms @ts to fire at @expire_time, in the timer's scale, of its clock.
 * Re-arming a pending timer moves it. Callable from any thread; the
 * callback runs in the timer's AioContext.
 */
void timer_mod(QEMUTimer *ts, int64_t expire_time);
void timer_mod_ns(QEMUTimer *ts, int64_t expire_time);
/* Arms @ts only if that makes it fire earlier (or it was not pending). */
void timer_mod_anticipate(QEMUTimer *ts, int64_t expire_time);
/* Disarms @ts; afterwards its callback does not start. */
void timer_del(QEMUTimer *ts);
bool timer_pending(QEMUTimer *ts);
/* In ns; -1 when not pending. */
int64_t timer_expire_time_ns(QEMUTimer *ts);
/* Disarms a timer from aio_timer_init(). */
void timer_deinit(QEMUTimer *ts);
/* Disarms and frees a timer from aio_timer_new(). */
void timer_free(QEMUTimer *ts);

#endif /* QEMU_TIMER_H */
