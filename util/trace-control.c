/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Trace core: event registry, --trace option, log output.
 *
 * Theory of operation: every generated trace.c registers its table from
 * a constructor, before main(), so the registry is complete when the
 * program parses --trace. Enabling and disabling flip the events' flags
 * with qatomic_set(); the inline trace_NAME() functions read them with
 * qatomic_read() in any thread, so a change is seen promptly but without
 * ordering, which is all a trace needs. An enabled event formats its line
 * into one buffer and writes it under trace_state.lock, so lines from
 * different threads never interleave.
 */
#include "qemu/osdep.h"

#include <fnmatch.h>
#include <sys/time.h>

#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/keyval.h"
#include "qemu/thread.h"
#include "qemu/trace-control.h"

typedef struct TraceGroup {
    const char *name;
    TraceEvent *events;
    struct TraceGroup *next;
} TraceGroup;

typedef struct TraceState {
    /*
     * Protects @groups (appended to by constructors and tests, walked by
     * the pattern functions) and @out/@out_owned (replaced by
     * trace_set_output_file(), written by trace_log_event()).
     */
    GMutex lock;
    TraceGroup *groups;
    FILE *out;          /* NULL means stderr */
    bool out_owned;     /* @out was opened here and must be closed */
} TraceState;

static TraceState trace_state;

void trace_event_register_group(const char *group, TraceEvent *events)
{
    TraceGroup *g = g_new0(TraceGroup, 1);
    TraceGroup **tail;

    g->name = group;
    g->events = events;
    g_mutex_lock(&trace_state.lock);
    for (tail = &trace_state.groups; *tail; tail = &(*tail)->next) {
        /* keep registration order: it is the order events are listed in */
    }
    *tail = g;
    g_mutex_unlock(&trace_state.lock);
}

void trace_log_event(const char *name, const char *fmt, ...)
{
    struct timeval tv;
    g_autofree char *msg = NULL;
    g_autofree char *line = NULL;
    va_list ap;
    FILE *out;

    gettimeofday(&tv, NULL);
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    line = g_strdup_printf("%d@%lld.%06ld:%s %s\n", qemu_get_thread_id(),
                           (long long)tv.tv_sec, (long)tv.tv_usec, name,
                           msg);

    g_mutex_lock(&trace_state.lock);
    out = trace_state.out ? trace_state.out : stderr;
    fputs(line, out);
    fflush(out);
    g_mutex_unlock(&trace_state.lock);
}

size_t trace_enable_events(const char *pattern)
{
    bool enable = true;
    size_t matched = 0;
    TraceGroup *g;

    if (pattern[0] == '-') {
        enable = false;
        pattern++;
    }
    if (!pattern[0]) {
        return 0;
    }
    g_mutex_lock(&trace_state.lock);
    for (g = trace_state.groups; g; g = g->next) {
        for (TraceEvent *ev = g->events; ev->name; ev++) {
            if (fnmatch(pattern, ev->name, 0) == 0) {
                qatomic_set(ev->dstate, enable);
                matched++;
            }
        }
    }
    g_mutex_unlock(&trace_state.lock);
    return matched;
}

const TraceEvent *trace_event_find(const char *name)
{
    const TraceEvent *found = NULL;
    TraceGroup *g;

    g_mutex_lock(&trace_state.lock);
    for (g = trace_state.groups; g && !found; g = g->next) {
        for (TraceEvent *ev = g->events; ev->name; ev++) {
            if (strcmp(ev->name, name) == 0) {
                found = ev;
                break;
            }
        }
    }
    g_mutex_unlock(&trace_state.lock);
    return found;
}

bool trace_event_get_state(const char *name)
{
    const TraceEvent *ev = trace_event_find(name);

    return ev && qatomic_read(ev->dstate);
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void trace_list_events(FILE *out)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    TraceGroup *g;

    g_mutex_lock(&trace_state.lock);
    for (g = trace_state.groups; g; g = g->next) {
        for (TraceEvent *ev = g->events; ev->name; ev++) {
            g_ptr_array_add(names, (gpointer)ev->name);
        }
    }
    g_mutex_unlock(&trace_state.lock);
    g_ptr_array_sort(names, compare_strings);
    for (guint i = 0; i < names->len; i++) {
        fprintf(out, "%s\n", (const char *)g_ptr_array_index(names, i));
    }
}

/* Applies @pattern and warns when it selects nothing. */
static void trace_apply_pattern(const char *pattern, const char *where)
{
    if (trace_enable_events(pattern) == 0) {
        warn_report("%s%strace pattern '%s' matches no event",
                    where ? where : "", where ? ": " : "", pattern);
    }
}

bool trace_enable_events_from_file(const char *path, Error **errp)
{
    g_autofree char *contents = NULL;
    g_autoptr(GError) gerr = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &contents, NULL, &gerr)) {
        error_setg(errp, "can't read trace events file: %s", gerr->message);
        return false;
    }
    lines = g_strsplit(contents, "\n", -1);
    for (size_t i = 0; lines[i]; i++) {
        g_autofree char *where = NULL;
        char *line = g_strstrip(lines[i]);

        if (!line[0] || line[0] == '#') {
            continue;
        }
        where = g_strdup_printf("%s:%zu", path, i + 1);
        trace_apply_pattern(line, where);
    }
    return true;
}

bool trace_set_output_file(const char *path, Error **errp)
{
    FILE *f = NULL;
    FILE *old;
    bool old_owned;

    if (path) {
        f = fopen(path, "we");
        if (!f) {
            error_setg_errno(errp, errno, "can't open trace file '%s'",
                             path);
            return false;
        }
    }
    g_mutex_lock(&trace_state.lock);
    old = trace_state.out;
    old_owned = trace_state.out_owned;
    trace_state.out = f;
    trace_state.out_owned = f != NULL;
    g_mutex_unlock(&trace_state.lock);
    if (old && old_owned) {
        fclose(old);
    }
    return true;
}

bool trace_opt_parse(const char *optarg, Error **errp)
{
    g_autoptr(KeyVal) kv = keyval_parse(optarg, "enable", errp);
    const char *pattern, *events, *file;

    if (!kv) {
        error_prepend(errp, "--trace '%s': ", optarg);
        return false;
    }
    if (keyval_is_help(kv)) {
        trace_list_events(stdout);
        exit(EXIT_SUCCESS);
    }
    pattern = keyval_get(kv, "enable");
    events = keyval_get(kv, "events");
    file = keyval_get(kv, "file");
    if (!keyval_check_unused(kv, "--trace", errp)) {
        return false;
    }
    if (pattern && strcmp(pattern, "help") == 0) {
        trace_list_events(stdout);
        exit(EXIT_SUCCESS);
    }
    if (file && !trace_set_output_file(file, errp)) {
        return false;
    }
    if (events && !trace_enable_events_from_file(events, errp)) {
        return false;
    }
    if (pattern) {
        if (!pattern[0]) {
            error_setg(errp, "--trace: empty pattern");
            return false;
        }
        trace_apply_pattern(pattern, NULL);
    }
    return true;
}
