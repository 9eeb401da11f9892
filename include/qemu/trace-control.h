/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Trace core: the registry of trace events and their enabled flags, the
 * --trace option, and the log the enabled events write to.
 *
 * Each folder lists its events in a "trace-events" file; at build time
 * scripts/tracetool.py turns it into that folder's trace.h (an inline
 * trace_NAME() per event, included as "nbd/trace.h") and trace.c (the
 * flags, and a table registered here before main() runs).
 *
 * A disabled event costs one relaxed load of its flag. An enabled event
 * writes one line, "TID@SECONDS.USEC:NAME MESSAGE", where TID is the
 * calling thread's id (the process id in the main thread), to stderr or
 * to the file given with --trace file=FILE.
 */
#ifndef QEMU_TRACE_CONTROL_H
#define QEMU_TRACE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <glib.h>

#include "qemu/atomic.h"
#include "qemu/typedefs.h"

/*
 * One event of a generated table. The table ends with a { NULL, NULL }
 * entry. @dstate is read with qatomic_read() by trace_NAME() in any
 * thread and written with qatomic_set() by the trace core only.
 */
typedef struct TraceEvent {
    const char *name;
    bool *dstate;
} TraceEvent;

/**
 * trace_event_register_group:
 * @group: the folder's name, e.g. "nbd"
 * @events: (transfer none): the folder's table, ended by a NULL name;
 *          it must stay valid for the life of the program
 *
 * Adds the events of @events to the registry. Called by the constructor
 * of each generated trace.c, before main(), or by tests. Patterns given
 * earlier are not applied to @events.
 */
void trace_event_register_group(const char *group, TraceEvent *events);

/**
 * trace_log_event:
 * @name: the event's name
 * @fmt: printf format of the message, without a newline
 *
 * Writes one line "TID@SECONDS.USEC:@name MESSAGE\n" to the trace output.
 * Called by the generated trace_NAME() functions when their event is
 * enabled; any thread. A line is written whole, never interleaved with
 * another thread's.
 */
void trace_log_event(const char *name, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/**
 * trace_enable_events:
 * @pattern: a glob ('*', '?', '[...]') over event names; a leading '-'
 *           disables the matching events instead
 *
 * Enables (or disables) every registered event whose name matches.
 * Main thread, or any thread with the caller's own ordering.
 *
 * Returns: the number of events that matched; 0 for an empty pattern.
 */
size_t trace_enable_events(const char *pattern);

/**
 * trace_event_find:
 * @name: an exact event name
 *
 * Returns: (transfer none) (nullable): the registered event, or NULL.
 */
const TraceEvent *trace_event_find(const char *name);

/**
 * trace_event_get_state:
 * @name: an exact event name
 *
 * Returns: whether the event exists and is enabled.
 */
bool trace_event_get_state(const char *name);

/**
 * trace_list_events:
 * @out: where to print
 *
 * Prints the name of every registered event, one per line, sorted.
 */
void trace_list_events(FILE *out);

/**
 * trace_enable_events_from_file:
 * @path: a file with one pattern per line; blank lines and lines starting
 *        with '#' are skipped, surrounding blanks ignored
 * @errp: error object
 *
 * Applies trace_enable_events() to each pattern, in order; warns about a
 * pattern that matches nothing.
 *
 * Returns: false with @errp set if @path can't be read.
 */
bool trace_enable_events_from_file(const char *path, Error **errp);

/**
 * trace_set_output_file:
 * @path: (nullable): the file to write the log to (created or truncated),
 *        or NULL for stderr
 * @errp: error object
 *
 * Redirects the trace log. The previous file, if any, is closed.
 *
 * Returns: false with @errp set (and the output unchanged) if @path can't
 * be opened.
 */
bool trace_set_output_file(const char *path, Error **errp);

/**
 * trace_opt_parse:
 * @optarg: the argument of -T/--trace:
 *          "[[enable=]PATTERN][,events=FILE][,file=FILE]", where a ",,"
 *          stands for a literal comma; "help" lists the events and exits
 * @errp: error object
 *
 * Applies one --trace option: opens the output file first, then enables
 * the events of the events file, then PATTERN. Warns about a pattern that
 * matches nothing. Main thread, during start-up.
 *
 * Returns: false with @errp set on a syntax error, an unknown key, or a
 * file that can't be opened; what was applied before the error stays.
 */
bool trace_opt_parse(const char *optarg, Error **errp);

/*
 * The text that documents -T/--trace in a program's --help.
 */
#define TRACE_OPT_HELP \
    "  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n" \
    "                            specify tracing options\n"

#endif /* QEMU_TRACE_CONTROL_H */
