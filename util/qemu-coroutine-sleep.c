/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Coroutine sleeps on a timer of the coroutine's own AioContext.
 */
#include "qemu/osdep.h"
#include "qemu/coroutine_int.h"
#include "block/aio.h"

void qemu_co_sleep_wake(QemuCoSleep *w)
{
    Coroutine *co = qatomic_xchg(&w->to_wake, NULL);

    if (co) {
        aio_co_wake(co);
    }
}

static void co_sleep_timer_cb(void *opaque)
{
    qemu_co_sleep_wake(opaque);
}

static void coroutine_fn co_sleep_yield(QemuCoSleep *w)
{
    qemu_coroutine_yield();
    /* Whoever woke us took to_wake. */
    assert(qatomic_read(&w->to_wake) == NULL);
}

void coroutine_fn qemu_co_sleep(QemuCoSleep *w)
{
    assert(qemu_in_coroutine());
    qatomic_set(&w->to_wake, qemu_coroutine_self());
    co_sleep_yield(w);
}

void coroutine_fn qemu_co_sleep_ns_wakeable(QemuCoSleep *w,
                                            QEMUClockType type, int64_t ns)
{
    AioContext *ctx = qemu_get_current_aio_context();
    QEMUTimer ts;

    assert(qemu_in_coroutine() && ctx);
    aio_timer_init(ctx, &ts, type, SCALE_NS, co_sleep_timer_cb, w);
    /* Armed before the timer, so that an early wake is not lost. */
    qatomic_set(&w->to_wake, qemu_coroutine_self());
    timer_mod(&ts, qemu_clock_get_ns(type) + ns);
    co_sleep_yield(w);
    timer_del(&ts);
}

void coroutine_fn qemu_co_sleep_ns(QEMUClockType type, int64_t ns)
{
    QemuCoSleep w = { 0 };

    qemu_co_sleep_ns_wakeable(&w, type, ns);
}
