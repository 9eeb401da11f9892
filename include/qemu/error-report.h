/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Messages for the user on stderr.
 *
 * Each report is one line: an optional timestamp, the program name, a
 * level word for warnings and notes, then the message:
 *
 *     2024-05-01T10:00:00.123456Z qemu-nbd: warning: export 'a' is empty
 *
 * Messages have no trailing period or newline. Lines from several
 * threads do not interleave. These are for people; code that can fail
 * reports to its caller through Error **errp instead.
 */
#ifndef QEMU_ERROR_REPORT_H
#define QEMU_ERROR_REPORT_H

#include <stdarg.h>
#include <stdbool.h>

#include <glib.h>

/*
 * When true, every report starts with an ISO 8601 UTC timestamp.
 * Set it once while the program starts.
 */
extern bool error_with_timestamp;

/**
 * error_set_progname:
 * @argv0: the program's argv[0], or any name; only its last path
 *         component is kept
 *
 * Sets the "name: " prefix of reports. Call it once at start-up, before
 * other threads report. Without it the GLib program name is used, if set.
 */
void error_set_progname(const char *argv0);

/**
 * error_get_progname:
 *
 * Returns: (transfer none) (nullable): the prefix set by
 * error_set_progname() or derived from the GLib program name.
 */
const char *error_get_progname(void);

/**
 * error_vprintf:
 * @fmt: printf-style format
 * @ap: its arguments
 *
 * Prints to stderr with no prefix (continuation text, help, hints).
 */
void error_vprintf(const char *fmt, va_list ap) G_GNUC_PRINTF(1, 0);

/**
 * error_printf:
 * @fmt: printf-style format
 *
 * Prints to stderr with no prefix and no added newline.
 */
void error_printf(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/**
 * error_vreport:
 * @fmt: printf-style format
 * @ap: its arguments
 *
 * va_list form of error_report().
 */
void error_vreport(const char *fmt, va_list ap) G_GNUC_PRINTF(1, 0);

/**
 * warn_vreport:
 * @fmt: printf-style format
 * @ap: its arguments
 *
 * va_list form of warn_report().
 */
void warn_vreport(const char *fmt, va_list ap) G_GNUC_PRINTF(1, 0);

/**
 * info_vreport:
 * @fmt: printf-style format
 * @ap: its arguments
 *
 * va_list form of info_report().
 */
void info_vreport(const char *fmt, va_list ap) G_GNUC_PRINTF(1, 0);

/**
 * error_report:
 * @fmt: printf-style format of one line, without newline
 *
 * Reports an error to the user. Callable from any thread.
 */
void error_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/**
 * warn_report:
 * @fmt: printf-style format of one line, without newline
 *
 * Reports a warning ("name: warning: message"). Callable from any thread.
 */
void warn_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/**
 * info_report:
 * @fmt: printf-style format of one line, without newline
 *
 * Reports a note ("name: info: message"). Callable from any thread.
 */
void info_report(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/**
 * error_report_once_cond:
 * @printed: flag shared by every call of one report site
 * @fmt: printf-style format
 *
 * Reports unless *@printed is already true, and sets it. Use
 * error_report_once().
 *
 * Returns: true if this call printed.
 */
bool error_report_once_cond(bool *printed, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/**
 * warn_report_once_cond:
 * @printed: flag shared by every call of one report site
 * @fmt: printf-style format
 *
 * As error_report_once_cond() for warnings.
 *
 * Returns: true if this call printed.
 */
bool warn_report_once_cond(bool *printed, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/*
 * error_report_once / warn_report_once: report only the first time this
 * line of code runs in the process' lifetime. Thread-safe.
 */
#define error_report_once(fmt, ...)                                     \
    ({                                                                  \
        static bool report_once_printed_;                               \
        error_report_once_cond(&report_once_printed_,                   \
                               fmt, ## __VA_ARGS__);                    \
    })

#define warn_report_once(fmt, ...)                                      \
    ({                                                                  \
        static bool report_once_printed_;                               \
        warn_report_once_cond(&report_once_printed_,                    \
                              fmt, ## __VA_ARGS__);                     \
    })

#endif /* QEMU_ERROR_REPORT_H */
