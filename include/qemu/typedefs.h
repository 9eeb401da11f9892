/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Forward declarations of the types that cross layer boundaries, so that
 * headers can name them without including each other.
 */
#ifndef QEMU_TYPEDEFS_H
#define QEMU_TYPEDEFS_H

typedef struct AioContext AioContext;
typedef struct BlockBackend BlockBackend;
typedef struct BlockDriverState BlockDriverState;
typedef struct Coroutine Coroutine;
typedef struct CoMutex CoMutex;
typedef struct CoQueue CoQueue;
typedef struct Error Error;
typedef struct IOThread IOThread;
typedef struct KeyVal KeyVal;
typedef struct Object Object;
typedef struct ObjectClass ObjectClass;
typedef struct QEMUBH QEMUBH;
typedef struct QEMUTimer QEMUTimer;
typedef struct QEMUTimerListGroup QEMUTimerListGroup;
typedef struct QIOChannel QIOChannel;
typedef struct ThreadPool ThreadPool;

typedef void IOHandler(void *opaque);

#endif /* QEMU_TYPEDEFS_H */
