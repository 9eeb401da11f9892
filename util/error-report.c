/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Messages for the user on stderr.
 *
 * Theory of operation: any thread may report. Each report is formatted
 * into one buffer first and then written under stderr's stdio lock, so
 * lines from different threads never interleave. The program name and
 * the timestamp switch are set once at start-up, before threads exist.
 */
#include "qemu/osdep.h"

#include "qemu/error-report.h"

bool error_with_timestamp;

/* Set once by error_set_progname(), read by every report. */
static char *progname;

typedef enum ReportLevel {
    REPORT_ERROR,
    REPORT_WARNING,
    REPORT_INFO,
} ReportLevel;

void error_set_progname(const char *argv0)
{
    const char *slash = strrchr(argv0, '/');

    g_free(progname);
    progname = g_strdup(slash ? slash + 1 : argv0);
}

const char *error_get_progname(void)
{
    const char *name;
    const char *slash;

    if (progname) {
        return progname;
    }
    name = g_get_prgname();
    if (!name) {
        return NULL;
    }
    slash = strrchr(name, '/');
    return slash ? slash + 1 : name;
}

/* Writes @buf to stderr in one piece. */
static void write_stderr(const char *buf, size_t len)
{
    flockfile(stderr);
    fwrite(buf, 1, len, stderr);
    fflush(stderr);
    funlockfile(stderr);
}

void error_vprintf(const char *fmt, va_list ap)
{
    g_autofree char *text = g_strdup_vprintf(fmt, ap);

    write_stderr(text, strlen(text));
}

void error_printf(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vprintf(fmt, ap);
    va_end(ap);
}

static void G_GNUC_PRINTF(2, 0)
vreport(ReportLevel level, const char *fmt, va_list ap)
{
    g_autoptr(GString) line = g_string_new(NULL);
    const char *name = error_get_progname();

    if (error_with_timestamp) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp =
            g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");

        g_string_append_printf(line, "%s ", stamp);
    }
    if (name) {
        g_string_append_printf(line, "%s: ", name);
    }
    switch (level) {
    case REPORT_ERROR:
        break;
    case REPORT_WARNING:
        g_string_append(line, "warning: ");
        break;
    case REPORT_INFO:
        g_string_append(line, "info: ");
        break;
    }
    g_string_append_vprintf(line, fmt, ap);
    g_string_append_c(line, '\n');
    write_stderr(line->str, line->len);
}

void error_vreport(const char *fmt, va_list ap)
{
    vreport(REPORT_ERROR, fmt, ap);
}

void warn_vreport(const char *fmt, va_list ap)
{
    vreport(REPORT_WARNING, fmt, ap);
}

void info_vreport(const char *fmt, va_list ap)
{
    vreport(REPORT_INFO, fmt, ap);
}

void error_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(REPORT_ERROR, fmt, ap);
    va_end(ap);
}

void warn_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(REPORT_WARNING, fmt, ap);
    va_end(ap);
}

void info_report(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(REPORT_INFO, fmt, ap);
    va_end(ap);
}

bool error_report_once_cond(bool *printed, const char *fmt, ...)
{
    va_list ap;

    if (__atomic_exchange_n(printed, true, __ATOMIC_SEQ_CST)) {
        return false;
    }
    va_start(ap, fmt);
    vreport(REPORT_ERROR, fmt, ap);
    va_end(ap);
    return true;
}

bool warn_report_once_cond(bool *printed, const char *fmt, ...)
{
    va_list ap;

    if (__atomic_exchange_n(printed, true, __ATOMIC_SEQ_CST)) {
        return false;
    }
    va_start(ap, fmt);
    vreport(REPORT_WARNING, fmt, ap);
    va_end(ap);
    return true;
}
