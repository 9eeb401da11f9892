/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Coroutine backend: stacks and the switch between them.
 *
 * On x86-64 the switch is a few instructions of our own: push the
 * callee-saved registers, swap stack pointers, pop, return. No system call
 * and no signal mask. Elsewhere ucontext is used (slower: it saves the signal
 * mask on each switch).
 *
 * Sanitizers are told about every switch, so that they see each coroutine
 * as the separate stack ("fiber") it is:
 *  - AddressSanitizer: __sanitizer_start_switch_fiber() before the switch,
 *    with the bounds of the stack we go to, and
 *    __sanitizer_finish_switch_fiber() on arrival;
 *  - ThreadSanitizer: one fiber per coroutine, __tsan_switch_to_fiber()
 *    right before the switch. Flag 0 makes the switch a synchronisation
 *    point, which it is.
 *
 * Theory of operation: everything here is per thread (the leader and the
 * current coroutine are thread-local). A coroutine may run in different
 * threads over its life, but only in one at a time.
 */
#include "qemu/osdep.h"
#include "qemu/coroutine_int.h"
#include "config-host.h"

#include <pthread.h>
#include <sys/mman.h>

#if CONFIG_ASAN
#include <sanitizer/asan_interface.h>
#endif
#if CONFIG_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#define COROUTINE_STACK_SIZE (1 << 20)

typedef struct CoroutineImpl {
    Coroutine base;
    void *stack;            /* lowest usable byte, above the guard page */
    size_t stack_size;
#if defined(__x86_64__)
    void *sp;               /* saved stack pointer while switched out */
#else
    ucontext_t uc;
#endif
#if CONFIG_TSAN
    void *tsan_fiber;
#endif
} CoroutineImpl;

/* Per thread: the coroutine standing for the thread's own stack. */
static __thread CoroutineImpl leader;
static __thread bool leader_ready;
/* The running coroutine; NULL while the thread runs on its own stack. */
__thread Coroutine *qemu_co_current;
#if !defined(__x86_64__)
static __thread int switch_action;
#endif

#if defined(__x86_64__)
/*
 * int co_stack_switch(void **save_sp, void *new_sp, int action)
 * Saves the callee-saved registers and the stack pointer of the caller,
 * switches to @new_sp and returns @action there.
 */
int co_stack_switch(void **save_sp, void *new_sp, int action);
void co_stack_entry(void);
asm(".text\n"
    ".globl co_stack_switch\n"
    ".hidden co_stack_switch\n"
    ".type co_stack_switch,@function\n"
    "co_stack_switch:\n"
    "    pushq %rbp\n"
    "    pushq %rbx\n"
    "    pushq %r12\n"
    "    pushq %r13\n"
    "    pushq %r14\n"
    "    pushq %r15\n"
    "    movq %rsp, (%rdi)\n"
    "    movq %rsi, %rsp\n"
    "    popq %r15\n"
    "    popq %r14\n"
    "    popq %r13\n"
    "    popq %r12\n"
    "    popq %rbx\n"
    "    popq %rbp\n"
    "    movl %edx, %eax\n"
    /*
     * Not "ret": the return stack predictor would guess the caller on the
     * old stack and be wrong every time. An indirect jump predicts well.
     */
    "    popq %rcx\n"
    "    jmp *%rcx\n"
    ".size co_stack_switch, .-co_stack_switch\n"
    /* First instruction of a new coroutine: %rbx holds it. */
    ".globl co_stack_entry\n"
    ".hidden co_stack_entry\n"
    ".type co_stack_entry,@function\n"
    "co_stack_entry:\n"
    "    movq %rbx, %rdi\n"
    "    call co_trampoline\n"
    "    ud2\n"
    ".size co_stack_entry, .-co_stack_entry\n");
#endif

void QEMU_NORETURN co_trampoline(CoroutineImpl *self);

static void sanitizer_start_switch(void **fake_stack_save, CoroutineImpl *to)
{
#if CONFIG_ASAN
    __sanitizer_start_switch_fiber(fake_stack_save, to->stack,
                                   to->stack_size);
#endif
#if CONFIG_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
}

static void sanitizer_finish_switch(void *fake_stack_save)
{
#if CONFIG_ASAN
    __sanitizer_finish_switch_fiber(fake_stack_save, NULL, NULL);
#endif
}

Coroutine *qemu_coroutine_leader(void)
{
    if (!leader_ready) {
        pthread_attr_t attr;
        void *addr = NULL;
        size_t size = 0;

        /* The bounds of the thread's stack are what ASan needs for it. */
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            pthread_attr_getstack(&attr, &addr, &size);
            pthread_attr_destroy(&attr);
        }
        leader.stack = addr;
        leader.stack_size = size;
#if CONFIG_TSAN
        leader.tsan_fiber = __tsan_get_current_fiber();
#endif
        leader_ready = true;
    }
    return &leader.base;
}

Coroutine *qemu_coroutine_current(void)
{
    Coroutine *co = qemu_co_current;

    return co ? co : qemu_coroutine_leader();
}

void QEMU_NORETURN co_trampoline(CoroutineImpl *self)
{
    Coroutine *co = &self->base;

    sanitizer_finish_switch(NULL);
    for (;;) {
        co->entry(co->entry_arg);
        qemu_coroutine_switch(co, co->caller, COROUTINE_TERMINATE);
    }
}

#if !defined(__x86_64__)
static void co_ucontext_entry(int lo, int hi)
{
    uintptr_t p = ((uintptr_t)(unsigned int)hi << 31 << 1) |
                  (unsigned int)lo;
    co_trampoline((CoroutineImpl *)p);
}
#endif

Coroutine *qemu_coroutine_new(void)
{
    CoroutineImpl *co = g_new0(CoroutineImpl, 1);
    size_t page = sysconf(_SC_PAGESIZE);
    size_t size = COROUTINE_STACK_SIZE;
    char *map;

    map = mmap(NULL, size + page, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
               -1, 0);
    if (map == MAP_FAILED) {
        fprintf(stderr, "qemu: cannot allocate a coroutine stack: %s\n",
                strerror(errno));
        abort();
    }
    /* The guard page turns a stack overflow into a fault. */
    if (mprotect(map, page, PROT_NONE) < 0) {
        fprintf(stderr, "qemu: cannot protect a coroutine stack guard: %s\n",
                strerror(errno));
        abort();
    }
    co->stack = map + page;
    co->stack_size = size;
#if CONFIG_TSAN
    co->tsan_fiber = __tsan_create_fiber(0);
#endif

#if defined(__x86_64__)
    {
        /*
         * Build the frame co_stack_switch() pops: r15 r14 r13 r12 rbx rbp,
         * then the return address. When co_stack_entry makes its call the
         * stack pointer must be 16-byte aligned.
         */
        uintptr_t top = ((uintptr_t)co->stack + size) & ~(uintptr_t)15;
        uintptr_t *frame = (uintptr_t *)(top - 72);

        memset(frame, 0, 72);
        frame[4] = (uintptr_t)co;                   /* rbx */
        frame[6] = (uintptr_t)co_stack_entry;       /* return address */
        co->sp = frame;
    }
#else
    {
        uintptr_t p = (uintptr_t)co;

        getcontext(&co->uc);
        co->uc.uc_stack.ss_sp = co->stack;
        co->uc.uc_stack.ss_size = size;
        co->uc.uc_link = NULL;
        makecontext(&co->uc, (void (*)(void))co_ucontext_entry, 2,
                    (int)(unsigned int)p, (int)(unsigned int)(p >> 31 >> 1));
    }
#endif
    return &co->base;
}

void qemu_coroutine_delete(Coroutine *co_)
{
    CoroutineImpl *co = container_of(co_, CoroutineImpl, base);
    size_t page = sysconf(_SC_PAGESIZE);

#if CONFIG_TSAN
    __tsan_destroy_fiber(co->tsan_fiber);
#endif
    munmap((char *)co->stack - page, co->stack_size + page);
    g_free(co);
}

CoroutineAction qemu_coroutine_switch(Coroutine *from_, Coroutine *to_,
                                      CoroutineAction action)
{
    CoroutineImpl *from = container_of(from_, CoroutineImpl, base);
    CoroutineImpl *to = container_of(to_, CoroutineImpl, base);
    void *fake_stack_save = NULL;
    int ret;

    qemu_co_current = to == &leader ? NULL : to_;
    /*
     * A terminating coroutine passes no save slot: ASan then forgets its
     * fake stack, as the next entry starts from scratch.
     */
    sanitizer_start_switch(action == COROUTINE_TERMINATE ?
                           NULL : &fake_stack_save, to);
#if defined(__x86_64__)
    ret = co_stack_switch(&from->sp, to->sp, action);
#else
    switch_action = action;
    swapcontext(&from->uc, &to->uc);
    ret = switch_action;
#endif
    sanitizer_finish_switch(fake_stack_save);
    return ret;
}
