/*
 * What the libFuzzer targets share: FUZZ_CHECK() states an invariant of
 * ours, and aborts (a crash libFuzzer keeps the input of) with the file,
 * line and condition when it does not hold.
 */
#ifndef TESTS_FUZZ_FUZZ_UTIL_H
#define TESTS_FUZZ_FUZZ_UTIL_H

#define FUZZ_CHECK(cond)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant failed: %s\n",                \
                    __FILE__, __LINE__, #cond);                             \
            abort();                                                        \
        }                                                                   \
    } while (0)

#endif
