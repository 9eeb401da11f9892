/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Error objects for the control path.
 *
 * An Error is owned by exactly one pointer at a time; nothing here is
 * shared between threads, so any thread may make, pass on and free them.
 */
#include "qemu/osdep.h"

#include "qapi/error.h"
#include "qemu/error-report.h"

struct Error {
    char *msg;
    GString *hint;      /* NULL until error_append_hint() */
    const char *src;    /* where the error was made */
    const char *func;
    int line;
};

Error *error_abort;
Error *error_fatal;

static void print_hint(const Error *err)
{
    if (err->hint) {
        error_printf("%s", err->hint->str);
    }
}

/* The end of an error passed to &error_abort: say where it came from. */
static void G_GNUC_NORETURN abort_with(const Error *err)
{
    error_printf("Unexpected error at %s:%d in %s():\n",
                 err->src, err->line, err->func);
    error_report("%s", err->msg);
    print_hint(err);
    abort();
}

/* The end of an error passed to &error_fatal. */
static void G_GNUC_NORETURN exit_with(Error *err)
{
    error_report_err(err);
    exit(EXIT_FAILURE);
}

/* Hands a new error to @errp following the caller's choice. */
static void deliver(Error **errp, Error *err)
{
    if (errp == &error_abort) {
        abort_with(err);
    }
    if (errp == &error_fatal) {
        exit_with(err);
    }
    if (!errp) {
        error_free(err);
        return;
    }
    /* Setting an error over another one loses the first: a bug. */
    assert(*errp == NULL);
    *errp = err;
}

static Error *G_GNUC_PRINTF(5, 0)
error_new_v(const char *src, int line, const char *func, int os_errno,
            const char *fmt, va_list ap)
{
    Error *err = g_new0(Error, 1);

    err->msg = g_strdup_vprintf(fmt, ap);
    if (os_errno) {
        char *with_reason = g_strdup_printf("%s: %s", err->msg,
                                            g_strerror(ABS(os_errno)));

        g_free(err->msg);
        err->msg = with_reason;
    }
    err->src = src;
    err->line = line;
    err->func = func;
    return err;
}

void error_setg_internal(Error **errp, const char *src, int line,
                         const char *func, const char *fmt, ...)
{
    va_list ap;
    Error *err;

    if (!errp) {
        return;
    }
    va_start(ap, fmt);
    err = error_new_v(src, line, func, 0, fmt, ap);
    va_end(ap);
    deliver(errp, err);
}

void error_setg_errno_internal(Error **errp, const char *src, int line,
                               const char *func, int os_errno,
                               const char *fmt, ...)
{
    va_list ap;
    Error *err;

    if (!errp) {
        return;
    }
    va_start(ap, fmt);
    err = error_new_v(src, line, func, os_errno, fmt, ap);
    va_end(ap);
    deliver(errp, err);
}

const char *error_get_pretty(const Error *err)
{
    return err->msg;
}

const char *error_get_hint(const Error *err)
{
    return err->hint ? err->hint->str : NULL;
}

Error *error_copy(const Error *err)
{
    Error *copy = g_new0(Error, 1);

    copy->msg = g_strdup(err->msg);
    if (err->hint) {
        copy->hint = g_string_new(err->hint->str);
    }
    copy->src = err->src;
    copy->line = err->line;
    copy->func = err->func;
    return copy;
}

void error_free(Error *err)
{
    if (!err) {
        return;
    }
    g_free(err->msg);
    if (err->hint) {
        g_string_free(err->hint, TRUE);
    }
    g_free(err);
}

void error_free_or_abort(Error **errp)
{
    assert(errp && *errp);
    error_free(*errp);
    *errp = NULL;
}

void error_propagate(Error **dst_errp, Error *local_err)
{
    if (!local_err) {
        return;
    }
    if (dst_errp && dst_errp != &error_abort && dst_errp != &error_fatal &&
        *dst_errp) {
        /* The destination already failed; its first error wins. */
        error_free(local_err);
        return;
    }
    deliver(dst_errp, local_err);
}

void error_vprepend(Error *const *errp, const char *fmt, va_list ap)
{
    char *prefix;
    char *msg;

    if (!errp || !*errp) {
        return;
    }
    prefix = g_strdup_vprintf(fmt, ap);
    msg = g_strconcat(prefix, (*errp)->msg, NULL);
    g_free(prefix);
    g_free((*errp)->msg);
    (*errp)->msg = msg;
}

void error_prepend(Error *const *errp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vprepend(errp, fmt, ap);
    va_end(ap);
}

void error_propagate_prepend(Error **dst_errp, Error *local_err,
                             const char *fmt, ...)
{
    va_list ap;

    if (!local_err) {
        return;
    }
    if (dst_errp && dst_errp != &error_abort && dst_errp != &error_fatal &&
        *dst_errp) {
        error_free(local_err);
        return;
    }
    va_start(ap, fmt);
    error_vprepend(&local_err, fmt, ap);
    va_end(ap);
    deliver(dst_errp, local_err);
}

void error_append_hint(Error *const *errp, const char *fmt, ...)
{
    va_list ap;

    /* The hint would never be seen: the caller lacks ERRP_GUARD(). */
    assert(errp != &error_abort && errp != &error_fatal);
    if (!errp || !*errp) {
        return;
    }
    if (!(*errp)->hint) {
        (*errp)->hint = g_string_new(NULL);
    }
    va_start(ap, fmt);
    g_string_append_vprintf((*errp)->hint, fmt, ap);
    va_end(ap);
}

void error_report_err(Error *err)
{
    if (!err) {
        return;
    }
    error_report("%s", err->msg);
    print_hint(err);
    error_free(err);
}

void warn_report_err(Error *err)
{
    if (!err) {
        return;
    }
    warn_report("%s", err->msg);
    print_hint(err);
    error_free(err);
}

void error_reportf_err(Error *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vprepend(&err, fmt, ap);
    va_end(ap);
    error_report_err(err);
}

void warn_reportf_err(Error *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vprepend(&err, fmt, ap);
    va_end(ap);
    warn_report_err(err);
}
