/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Atomic operations on plain C objects.
 *
 * Every access that another thread may race with goes through these, so that
 * the memory model (and ThreadSanitizer) sees the synchronisation we rely on.
 * Read-modify-write operations are sequentially consistent; plain
 * qatomic_read/qatomic_set are relaxed; the _acquire/_release forms order
 * the accesses around them.
 */
#ifndef QEMU_ATOMIC_H
#define QEMU_ATOMIC_H

#define qatomic_read(ptr)        __atomic_load_n(ptr, __ATOMIC_RELAXED)
#define qatomic_set(ptr, v)      __atomic_store_n(ptr, v, __ATOMIC_RELAXED)
#define qatomic_load_acquire(ptr)  __atomic_load_n(ptr, __ATOMIC_ACQUIRE)
#define qatomic_store_release(ptr, v) \
    __atomic_store_n(ptr, v, __ATOMIC_RELEASE)
#define qatomic_rcu_read(ptr)    __atomic_load_n(ptr, __ATOMIC_ACQUIRE)
#define qatomic_rcu_set(ptr, v)  __atomic_store_n(ptr, v, __ATOMIC_RELEASE)

#define qatomic_xchg(ptr, v)     __atomic_exchange_n(ptr, v, __ATOMIC_SEQ_CST)
#define qatomic_fetch_add(ptr, n) __atomic_fetch_add(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_fetch_sub(ptr, n) __atomic_fetch_sub(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_fetch_inc(ptr)   qatomic_fetch_add(ptr, 1)
#define qatomic_fetch_dec(ptr)   qatomic_fetch_sub(ptr, 1)
#define qatomic_fetch_and(ptr, n) __atomic_fetch_and(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_fetch_or(ptr, n) __atomic_fetch_or(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_add_fetch(ptr, n) __atomic_add_fetch(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_sub_fetch(ptr, n) __atomic_sub_fetch(ptr, n, __ATOMIC_SEQ_CST)
#define qatomic_inc(ptr)         ((void)qatomic_fetch_add(ptr, 1))
#define qatomic_dec(ptr)         ((void)qatomic_fetch_sub(ptr, 1))
#define qatomic_add(ptr, n)      ((void)qatomic_fetch_add(ptr, n))
#define qatomic_sub(ptr, n)      ((void)qatomic_fetch_sub(ptr, n))
#define qatomic_or(ptr, n)       ((void)qatomic_fetch_or(ptr, n))
#define qatomic_and(ptr, n)      ((void)qatomic_fetch_and(ptr, n))

/* Returns the old value; stores @new only when *ptr was @old. */
#define qatomic_cmpxchg(ptr, old, new) ({                                   \
    __typeof__(*(ptr)) _old = (old);                                        \
    (void)__atomic_compare_exchange_n(ptr, &_old, new, false,               \
                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);  \
    _old;                                                                   \
})

#define smp_mb()          __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define smp_mb_acquire()  __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define smp_mb_release()  __atomic_thread_fence(__ATOMIC_RELEASE)
#define smp_rmb()         smp_mb_acquire()
#define smp_wmb()         smp_mb_release()

#endif /* QEMU_ATOMIC_H */
