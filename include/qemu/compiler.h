/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Compiler helpers shared by every layer.
 */
#ifndef QEMU_COMPILER_H
#define QEMU_COMPILER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Marks functions that may only be called from coroutine context. */
#ifndef coroutine_fn
#define coroutine_fn
#endif
/* Functions that may be called in or out of coroutine context. */
#ifndef coroutine_mixed_fn
#define coroutine_mixed_fn
#endif

#ifndef container_of
#define container_of(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(x) (sizeof(x) / sizeof((x)[0]))
#endif

#define QEMU_ALIGN_DOWN(n, m) ((n) / (m) * (m))
#define QEMU_ALIGN_UP(n, m) QEMU_ALIGN_DOWN((n) + (m) - 1, (m))
#define QEMU_IS_ALIGNED(n, m) (((n) % (m)) == 0)
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))

static inline bool is_power_of_2(uint64_t value)
{
    return value && !(value & (value - 1));
}

#define QEMU_PACKED __attribute__((packed))
#define QEMU_WARN_UNUSED_RESULT __attribute__((warn_unused_result))
#define QEMU_SENTINEL __attribute__((sentinel))
#define QEMU_ALWAYS_INLINE __attribute__((always_inline))
#define QEMU_NORETURN __attribute__((noreturn))
#define QEMU_PRINTF_FMT(a, b) __attribute__((format(printf, a, b)))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#if defined(__SANITIZE_ADDRESS__)
#define QEMU_SANITIZE_ADDRESS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QEMU_SANITIZE_ADDRESS 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define QEMU_SANITIZE_THREAD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QEMU_SANITIZE_THREAD 1
#endif
#endif

#endif /* QEMU_COMPILER_H */
