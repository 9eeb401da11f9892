/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Error reporting on the control path.
 *
 * A function that can fail takes "Error **errp" as its last argument and
 * also says through its return value whether it failed (false, NULL or a
 * negative number). On failure it sets *errp with error_setg() and friends;
 * on success it leaves *errp alone. Callers choose what happens:
 *
 * - NULL: the error is dropped;
 * - &error_abort: the program aborts at the point where the error is set,
 *   printing the message and where it was made (for "cannot fail" calls);
 * - &error_fatal: the message is printed and the program exits with 1;
 * - the address of a local "Error *err = NULL": the caller inspects the
 *   error and then frees, reports or propagates it.
 *
 * To read *errp in a function (for instance to test whether a callee
 * failed), put ERRP_GUARD() first: it makes *errp usable even when the
 * caller passed NULL or &error_fatal, and it hands the error over to the
 * caller's choice when the function returns.
 *
 * Messages are one sentence without trailing period or newline, naming
 * the object they are about; error_append_hint() adds longer advice.
 */
#ifndef QAPI_ERROR_H
#define QAPI_ERROR_H

#include <stdarg.h>
#include <stdbool.h>

#include <glib.h>

#include "qemu/typedefs.h"

/*
 * Pass &error_abort or &error_fatal as errp to abort or exit on error.
 * Both always hold NULL.
 */
extern Error *error_abort;
extern Error *error_fatal;

/**
 * error_setg_internal:
 * @errp: where to store the error, or NULL, &error_abort, &error_fatal
 * @src: source file of the caller
 * @line: source line of the caller
 * @func: function name of the caller
 * @fmt: printf-style message format
 *
 * Creates an error. Use error_setg(), which supplies the location.
 * *@errp must be NULL (setting an error twice is a bug and aborts).
 */
void error_setg_internal(Error **errp, const char *src, int line,
                         const char *func, const char *fmt, ...)
    G_GNUC_PRINTF(5, 6);

/**
 * error_setg_errno_internal:
 * @errp: where to store the error
 * @src: source file of the caller
 * @line: source line of the caller
 * @func: function name of the caller
 * @os_errno: an errno value, positive or negated; 0 adds nothing
 * @fmt: printf-style message format
 *
 * As error_setg_internal(), then appends ": " and strerror(@os_errno).
 * Use error_setg_errno().
 */
void error_setg_errno_internal(Error **errp, const char *src, int line,
                               const char *func, int os_errno,
                               const char *fmt, ...)
    G_GNUC_PRINTF(6, 7);

/**
 * error_setg:
 * @errp: where to store the error
 * @fmt: printf-style message format, then its arguments
 *
 * Creates an error with the caller's location. Callable from any thread.
 */
#define error_setg(errp, fmt, ...)                                      \
    error_setg_internal((errp), __FILE__, __LINE__, __func__,           \
                        (fmt), ## __VA_ARGS__)

/**
 * error_setg_errno:
 * @errp: where to store the error
 * @os_errno: errno value (the sign is ignored), 0 for none
 * @fmt: printf-style message format, then its arguments
 *
 * Creates an error whose message ends with ": " and the text of
 * @os_errno, e.g. "Could not open 'x': No such file or directory".
 */
#define error_setg_errno(errp, os_errno, fmt, ...)                      \
    error_setg_errno_internal((errp), __FILE__, __LINE__, __func__,     \
                              (os_errno), (fmt), ## __VA_ARGS__)

/**
 * error_setg_file_open:
 * @errp: where to store the error
 * @os_errno: errno of the failed open
 * @filename: the file that could not be opened
 *
 * Sets the usual "Could not open 'FILE': REASON" error.
 */
#define error_setg_file_open(errp, os_errno, filename)                  \
    error_setg_errno((errp), (os_errno), "Could not open '%s'", (filename))

/**
 * error_get_pretty:
 * @err: an error
 *
 * Returns: (transfer none): the message of @err, valid until it is freed.
 */
const char *error_get_pretty(const Error *err);

/**
 * error_get_hint:
 * @err: an error
 *
 * Returns: (transfer none) (nullable): the hint text appended with
 * error_append_hint(), or NULL if there is none.
 */
const char *error_get_hint(const Error *err);

/**
 * error_copy:
 * @err: an error
 *
 * Returns: (transfer full): a new error with the same message, hint and
 * location.
 */
Error *error_copy(const Error *err);

/**
 * error_free:
 * @err: (transfer full) (nullable): an error
 *
 * Frees @err. NULL is accepted.
 */
void error_free(Error *err);

/**
 * error_free_or_abort:
 * @errp: address of an error pointer that must be set
 *
 * Frees *@errp and clears it; aborts if no error was set. For tests that
 * expect a failure.
 */
void error_free_or_abort(Error **errp);

/**
 * error_propagate:
 * @dst_errp: the caller's errp (may be NULL, &error_abort, &error_fatal)
 * @local_err: (transfer full) (nullable): an error to pass on
 *
 * Moves @local_err to @dst_errp: stores it there, or aborts / exits if
 * @dst_errp is &error_abort / &error_fatal. If @dst_errp is NULL or
 * already holds an error, @local_err is freed (the first error wins).
 * A NULL @local_err does nothing.
 */
void error_propagate(Error **dst_errp, Error *local_err);

/**
 * error_propagate_prepend:
 * @dst_errp: the caller's errp
 * @local_err: (transfer full) (nullable): an error to pass on
 * @fmt: printf-style format of the text to put before its message
 *
 * error_prepend() on @local_err, then error_propagate().
 */
void error_propagate_prepend(Error **dst_errp, Error *local_err,
                             const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/**
 * error_vprepend:
 * @errp: an errp; nothing happens if it is NULL or holds no error
 * @fmt: printf-style format
 * @ap: its arguments
 *
 * va_list form of error_prepend().
 */
void error_vprepend(Error *const *errp, const char *fmt, va_list ap)
    G_GNUC_PRINTF(2, 0);

/**
 * error_prepend:
 * @errp: an errp; nothing happens if it is NULL or holds no error
 * @fmt: printf-style format of the text to put before the message
 *
 * Adds context in front of an error's message, e.g.
 * error_prepend(errp, "export '%s': ", name). Functions that call it on
 * their own errp must start with ERRP_GUARD().
 */
void error_prepend(Error *const *errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/**
 * error_append_hint:
 * @errp: an errp; nothing happens if it is NULL or holds no error
 * @fmt: printf-style format of the hint; include the final newline
 *
 * Appends advice that is printed after the message when the error is
 * reported. Functions that call it on their own errp must start with
 * ERRP_GUARD(): passing &error_abort or &error_fatal here is a bug
 * (the hint would be lost) and aborts.
 */
void error_append_hint(Error *const *errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/**
 * error_report_err:
 * @err: (transfer full) (nullable): an error
 *
 * Prints @err with error_report(), then its hint, then frees it.
 */
void error_report_err(Error *err);

/**
 * warn_report_err:
 * @err: (transfer full) (nullable): an error
 *
 * As error_report_err() but as a warning.
 */
void warn_report_err(Error *err);

/**
 * error_reportf_err:
 * @err: (transfer full) (nullable): an error
 * @fmt: printf-style format of a prefix
 *
 * Prepends the formatted text to @err, then error_report_err().
 */
void error_reportf_err(Error *err, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/**
 * warn_reportf_err:
 * @err: (transfer full) (nullable): an error
 * @fmt: printf-style format of a prefix
 *
 * Prepends the formatted text to @err, then warn_report_err().
 */
void warn_reportf_err(Error *err, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Error, error_free)

/*
 * ERRP_GUARD() machinery. The guard keeps an error of its own for callers
 * that passed NULL or &error_fatal, and hands it on when the scope ends.
 */
typedef struct ErrorGuard {
    Error *held;    /* the error set through the redirected errp */
    Error **outer;  /* the errp the caller passed in */
} ErrorGuard;

static inline void error_guard_release(ErrorGuard *guard)
{
    error_propagate(guard->outer, guard->held);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(ErrorGuard, error_guard_release)

/**
 * ERRP_GUARD:
 *
 * Put first in a function whose parameter is named errp, before reading
 * *errp or calling error_prepend() / error_append_hint() on it. When the
 * caller passed NULL or &error_fatal, errp is pointed at a local error,
 * so "if (*errp)" works and hints are kept; when the function returns,
 * that error is dropped or reported and exit(1) as the caller asked.
 * &error_abort is left alone, so the abort still happens where the error
 * is made.
 */
#define ERRP_GUARD()                                                    \
    g_auto(ErrorGuard) errp_guard_ = { .outer = errp };                 \
    do {                                                                \
        if (!errp || errp == &error_fatal) {                            \
            errp = &errp_guard_.held;                                   \
        }                                                               \
    } while (0)

#endif /* QAPI_ERROR_H */
