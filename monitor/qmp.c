/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QMP server (see include/monitor/qmp.h).
 *
 * Theory of operation: all of it runs in the main thread. Each connected
 * client has two coroutines, one per direction of its channel: the reader
 * reads, splits the byte stream into messages and handles them, queueing
 * replies; the writer writes the queued replies and events, and sleeps
 * when there is nothing to write. Both wait on the channel in the
 * iohandler context (the channel does not follow the coroutine's
 * context), and are entered in that context too, so they only ever run
 * from the main loop, never from a nested aio_poll() of the main
 * AioContext that a command may run while it drains a node. A
 * command runs in a bottom half of the iohandler context, outside the
 * coroutine (commands such as block-export-del wait for NBD clients and
 * must not run in a coroutine); the coroutine sleeps meanwhile and the
 * bottom half wakes it with the reply.
 *
 * Input is hostile: the splitter tracks strings and nesting depth before
 * json-glib sees anything (json-glib recurses), a message above
 * QMP_MAX_INPUT bytes or QMP_MAX_NESTING levels is refused, and a client
 * with more than QMP_MAX_OUTPUT bytes unread is disconnected (the reader
 * goes on reading while the writer waits, so a client that sends but
 * never reads reaches that bound). The client is freed when both
 * coroutines have ended.
 */
#include "qemu/osdep.h"

#include <math.h>

#include "block/aio.h"
#include "io/channel-socket.h"
#include "io/net-listener.h"
#include "monitor/qmp.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qom/object.h"

typedef struct QmpMonitor QmpMonitor;

typedef enum QmpErrorClass {
    QMP_ERROR_GENERIC,
    QMP_ERROR_COMMAND_NOT_FOUND,
} QmpErrorClass;

/* Splits a byte stream into JSON texts without parsing them. */
typedef struct QmpSplitter {
    GString *buf;
    unsigned int depth;
    bool in_str;
    bool esc;
    bool scalar;            /* a top-level token other than {} or [] */
    bool stray_reported;    /* one error per run of stray closers */
    bool skip_line;         /* after an oversized text: drop up to '\n' */
} QmpSplitter;

typedef struct QmpClient {
    QmpMonitor *mon;
    QIOChannelSocket *sioc;
    QIOChannel *ioc;
    Coroutine *co;          /* the reader */
    Coroutine *writer;
    GString *out;           /* replies and events not yet written */
    bool negotiated;
    bool closing;           /* the server goes: write what we can, end */
    bool dead;              /* the reader ended: the writer ends too */
    bool in_read_wait;      /* reader parked in qio_channel_yield(G_IO_IN) */
    bool writer_idle;       /* writer parked in qemu_coroutine_yield() */
    unsigned int refs;      /* one per running coroutine */
    QmpSplitter split;
    /* A command handed to the bottom half, and its reply. */
    const QmpCommand *cmd;
    JsonObject *cmd_args;
    JsonNode *cmd_ret;
    Error *cmd_err;
} QmpClient;

struct QmpMonitor {
    QmpServer *srv;
    char *id;
    char *unix_path;        /* unlinked at the end, or NULL */
    QIONetListener *listener;
    QmpClient *client;      /* the one being served, or NULL */
    GQueue waiting;         /* QIOChannelSocket *, accepted, not served */
};

struct QmpServer {
    const QmpCommand *cmds;
    void *opaque;
    JsonObject *version;
    GPtrArray *monitors;        /* QmpMonitor * */
};

static char *qmp_to_string(JsonNode *node)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();

    json_generator_set_root(gen, node);
    return json_generator_to_data(gen, NULL);
}

/* Queues @obj (transfer full) as one line of output. */
static void qmp_client_queue(QmpClient *client, JsonObject *obj)
{
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);
    g_autofree char *text = qmp_to_string(node);

    json_object_unref(obj);
    g_string_append(client->out, text);
    g_string_append(client->out, "\r\n");
    if (client->out->len > QMP_MAX_OUTPUT && client->in_read_wait) {
        /* Events pile up for an idle client: the reader checks the bound. */
        qio_channel_wake_read(client->ioc);
    }
    if (client->writer_idle) {
        client->writer_idle = false;
        aio_co_wake(client->writer);
    }
}

static void qmp_client_queue_error(QmpClient *client, JsonNode *id,
                                   QmpErrorClass cls, const char *desc)
{
    JsonObject *reply = json_object_new();
    JsonObject *err = json_object_new();

    json_object_set_string_member(err, "class",
                                  cls == QMP_ERROR_COMMAND_NOT_FOUND ?
                                  "CommandNotFound" : "GenericError");
    json_object_set_string_member(err, "desc", desc);
    json_object_set_object_member(reply, "error", err);
    if (id) {
        json_object_set_member(reply, "id", json_node_copy(id));
    }
    qmp_client_queue(client, reply);
}

static void qmp_client_queue_return(QmpClient *client, JsonNode *id,
                                    JsonNode *ret)
{
    JsonObject *reply = json_object_new();

    json_object_set_member(reply, "return", ret);
    if (id) {
        json_object_set_member(reply, "id", json_node_copy(id));
    }
    qmp_client_queue(client, reply);
}

static JsonNode *qmp_empty_return(void)
{
    JsonObject *obj = json_object_new();
    JsonNode *node = json_node_init_object(json_node_alloc(), obj);

    json_object_unref(obj);
    return node;
}

static const char *qmp_arg_type_name(QmpArgType type)
{
    switch (type) {
    case QMP_ARG_STR:
        return "string";
    case QMP_ARG_BOOL:
        return "boolean";
    case QMP_ARG_INT:
        return "integer";
    case QMP_ARG_OBJECT:
        return "object";
    default:
        return "any";
    }
}

static bool qmp_arg_type_ok(JsonNode *node, QmpArgType type)
{
    GType vt;

    switch (type) {
    case QMP_ARG_OBJECT:
        return JSON_NODE_HOLDS_OBJECT(node);
    case QMP_ARG_ANY:
        return true;
    default:
        break;
    }
    if (!JSON_NODE_HOLDS_VALUE(node)) {
        return false;
    }
    vt = json_node_get_value_type(node);
    return (type == QMP_ARG_STR && vt == G_TYPE_STRING) ||
           (type == QMP_ARG_BOOL && vt == G_TYPE_BOOLEAN) ||
           (type == QMP_ARG_INT && vt == G_TYPE_INT64);
}

/* Checks @args against @spec as QEMU's generated visitors would. */
static bool qmp_check_args(const QmpArgSpec *spec, JsonObject *args,
                           Error **errp)
{
    g_autoptr(GList) members = json_object_get_members(args);

    for (const QmpArgSpec *a = spec; a->name; a++) {
        JsonNode *node = json_object_get_member(args, a->name);

        if (!node) {
            if (!a->optional) {
                error_setg(errp, "Parameter '%s' is missing", a->name);
                return false;
            }
            continue;
        }
        if (!qmp_arg_type_ok(node, a->type)) {
            error_setg(errp, "Invalid parameter type for '%s', expected: %s",
                       a->name, qmp_arg_type_name(a->type));
            return false;
        }
    }
    for (GList *l = members; l; l = l->next) {
        const QmpArgSpec *a = spec;

        while (a->name && strcmp(a->name, l->data)) {
            a++;
        }
        if (!a->name) {
            error_setg(errp, "Parameter '%s' is unexpected",
                       (const char *)l->data);
            return false;
        }
    }
    return true;
}

static JsonNode *qmp_query_commands(QmpServer *srv)
{
    JsonArray *list = json_array_new();
    JsonNode *node;
    const char *builtin[] = { "qmp_capabilities", "query-commands" };

    for (size_t i = 0; i < G_N_ELEMENTS(builtin); i++) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "name", builtin[i]);
        json_array_add_object_element(list, o);
    }
    for (const QmpCommand *c = srv->cmds; c->name; c++) {
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "name", c->name);
        json_array_add_object_element(list, o);
    }
    node = json_node_init_array(json_node_alloc(), list);
    json_array_unref(list);
    return node;
}

static void qmp_run_command_bh(void *opaque)
{
    QmpClient *client = opaque;
    QmpServer *srv = client->mon->srv;

    client->cmd_ret = client->cmd->fn(client->cmd_args, srv->opaque,
                                      &client->cmd_err);
    assert(!client->cmd_ret != !client->cmd_err);
    aio_co_wake(client->co);
}

/*
 * Whether every number in @node is finite (json-glib reads 1e999 as
 * infinity and would write it back as "inf.0", which is not JSON).
 * Recursion is bounded by QMP_MAX_NESTING.
 */
static bool qmp_node_is_finite(JsonNode *node)
{
    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT: {
        g_autoptr(GList) values =
            json_object_get_values(json_node_get_object(node));

        for (GList *l = values; l; l = l->next) {
            if (!qmp_node_is_finite(l->data)) {
                return false;
            }
        }
        return true;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *arr = json_node_get_array(node);

        for (guint i = 0; i < json_array_get_length(arr); i++) {
            if (!qmp_node_is_finite(json_array_get_element(arr, i))) {
                return false;
            }
        }
        return true;
    }
    case JSON_NODE_VALUE:
        return json_node_get_value_type(node) != G_TYPE_DOUBLE ||
               isfinite(json_node_get_double(node));
    default:
        return true;
    }
}

/* Handles one complete JSON text. */
static void coroutine_fn qmp_client_handle(QmpClient *client,
                                           const char *text, size_t len)
{
    QmpServer *srv = client->mon->srv;
    g_autoptr(JsonParser) parser = json_parser_new_immutable();
    g_autoptr(GError) gerr = NULL;
    g_autoptr(GList) members = NULL;
    g_autoptr(JsonObject) empty_args = NULL;
    JsonObject *req, *args;
    JsonNode *id, *exec, *args_node;
    const char *name;
    const QmpCommand *cmd = NULL;
    Error *err = NULL;

    if (!json_parser_load_from_data(parser, text, len, &gerr)) {
        g_autofree char *desc = g_strdup_printf("JSON parse error, %s",
                                                gerr->message);

        qmp_client_queue_error(client, NULL, QMP_ERROR_GENERIC, desc);
        return;
    }
    if (json_parser_get_root(parser) &&
        !qmp_node_is_finite(json_parser_get_root(parser))) {
        qmp_client_queue_error(client, NULL, QMP_ERROR_GENERIC,
                               "JSON parse error, number too large");
        return;
    }
    if (!json_parser_get_root(parser) ||
        !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        qmp_client_queue_error(client, NULL, QMP_ERROR_GENERIC,
                               "QMP input must be a JSON object");
        return;
    }
    req = json_node_get_object(json_parser_get_root(parser));
    id = json_object_get_member(req, "id");
    members = json_object_get_members(req);
    for (GList *l = members; l; l = l->next) {
        const char *m = l->data;

        if (strcmp(m, "execute") && strcmp(m, "arguments") &&
            strcmp(m, "id")) {
            g_autofree char *desc =
                g_strdup_printf("QMP input member '%s' is unexpected", m);

            qmp_client_queue_error(client, id, QMP_ERROR_GENERIC, desc);
            return;
        }
    }
    exec = json_object_get_member(req, "execute");
    if (!exec) {
        qmp_client_queue_error(client, id, QMP_ERROR_GENERIC,
                               "QMP input lacks member 'execute'");
        return;
    }
    if (!JSON_NODE_HOLDS_VALUE(exec) ||
        json_node_get_value_type(exec) != G_TYPE_STRING) {
        qmp_client_queue_error(client, id, QMP_ERROR_GENERIC,
                               "QMP input member 'execute' must be a string");
        return;
    }
    name = json_node_get_string(exec);
    args_node = json_object_get_member(req, "arguments");
    if (args_node && !JSON_NODE_HOLDS_OBJECT(args_node)) {
        qmp_client_queue_error(client, id, QMP_ERROR_GENERIC,
                               "QMP input member 'arguments' must be an "
                               "object");
        return;
    }
    if (args_node) {
        args = json_node_get_object(args_node);
    } else {
        empty_args = json_object_new();
        args = empty_args;
    }

    if (!strcmp(name, "qmp_capabilities")) {
        static const QmpArgSpec cap_args[] = {
            { "enable", QMP_ARG_ANY, true },
            { NULL },
        };

        if (client->negotiated) {
            qmp_client_queue_error(client, id, QMP_ERROR_COMMAND_NOT_FOUND,
                                   "Capabilities negotiation is already "
                                   "complete, command ignored");
            return;
        }
        if (!qmp_check_args(cap_args, args, &err)) {
            goto fail;
        }
        if (json_object_has_member(args, "enable")) {
            error_setg(&err, "This monitor does not support the capability "
                       "'oob'");
            goto fail;
        }
        client->negotiated = true;
        qmp_client_queue_return(client, id, qmp_empty_return());
        return;
    }
    if (!client->negotiated) {
        qmp_client_queue_error(client, id, QMP_ERROR_COMMAND_NOT_FOUND,
                               "Expecting capabilities negotiation with "
                               "'qmp_capabilities'");
        return;
    }
    if (!strcmp(name, "query-commands")) {
        qmp_client_queue_return(client, id, qmp_query_commands(srv));
        return;
    }
    for (const QmpCommand *c = srv->cmds; c->name; c++) {
        if (!strcmp(c->name, name)) {
            cmd = c;
            break;
        }
    }
    if (!cmd) {
        g_autofree char *desc =
            g_strdup_printf("The command %s has not been found", name);

        qmp_client_queue_error(client, id, QMP_ERROR_COMMAND_NOT_FOUND,
                               desc);
        return;
    }
    if (cmd->args && !qmp_check_args(cmd->args, args, &err)) {
        goto fail;
    }

    /* Run it from the main loop, outside this coroutine. */
    client->cmd = cmd;
    client->cmd_args = args;
    aio_bh_schedule_oneshot(iohandler_get_aio_context(), qmp_run_command_bh,
                            client);
    qemu_coroutine_yield();
    client->cmd = NULL;
    client->cmd_args = NULL;
    if (client->cmd_err) {
        err = client->cmd_err;
        client->cmd_err = NULL;
        goto fail;
    }
    qmp_client_queue_return(client, id, client->cmd_ret);
    client->cmd_ret = NULL;
    return;

fail:
    qmp_client_queue_error(client, id, QMP_ERROR_GENERIC,
                           error_get_pretty(err));
    error_free(err);
}

static void qmp_splitter_reset(QmpSplitter *s)
{
    g_string_truncate(s->buf, 0);
    s->depth = 0;
    s->in_str = false;
    s->esc = false;
    s->scalar = false;
}

static void coroutine_fn qmp_splitter_emit(QmpClient *client)
{
    QmpSplitter *s = &client->split;
    g_autofree char *text = g_strndup(s->buf->str, s->buf->len);
    size_t len = s->buf->len;

    qmp_splitter_reset(s);
    s->stray_reported = false;
    qmp_client_handle(client, text, len);
}

/* Feeds received bytes; handles each message as it completes. */
static void coroutine_fn qmp_client_feed(QmpClient *client, const char *buf,
                                         size_t len)
{
    QmpSplitter *s = &client->split;

    for (size_t i = 0; i < len && !client->closing; i++) {
        char c = buf[i];

        if (s->skip_line) {
            s->skip_line = c != '\n';
            continue;
        }
        if (s->buf->len >= QMP_MAX_INPUT) {
            /*
             * Resynchronise at the next newline (which no JSON string
             * may hold), not inside what is left of the oversized text.
             */
            qmp_splitter_reset(s);
            s->skip_line = c != '\n';
            qmp_client_queue_error(client, NULL, QMP_ERROR_GENERIC,
                                   "JSON token size limit exceeded");
            continue;
        }
        if (s->depth == 0 && !s->in_str) {
            bool space = c == ' ' || c == '\t' || c == '\r' || c == '\n';

            if (s->scalar && (space || c == '{' || c == '[' || c == '}' ||
                              c == ']')) {
                qmp_splitter_emit(client);
            }
            if (space) {
                continue;
            }
            if (c == '}' || c == ']') {
                if (!s->stray_reported) {
                    s->stray_reported = true;
                    qmp_client_queue_error(client, NULL, QMP_ERROR_GENERIC,
                                           "JSON parse error, expecting "
                                           "value");
                }
                continue;
            }
            g_string_append_c(s->buf, c);
            if (c == '{' || c == '[') {
                s->depth = 1;
            } else {
                s->scalar = true;
                s->in_str = c == '"';
            }
            continue;
        }

        g_string_append_c(s->buf, c);
        if (s->in_str) {
            if (s->esc) {
                s->esc = false;
            } else if (c == '\\') {
                s->esc = true;
            } else if (c == '"') {
                s->in_str = false;
            }
            continue;
        }
        if (c == '"') {
            s->in_str = true;
        } else if (c == '{' || c == '[') {
            if (++s->depth > QMP_MAX_NESTING) {
                qmp_splitter_reset(s);
                qmp_client_queue_error(client, NULL, QMP_ERROR_GENERIC,
                                       "JSON nesting depth limit exceeded");
            }
        } else if (c == '}' || c == ']') {
            if (--s->depth == 0) {
                qmp_splitter_emit(client);
            }
        }
    }
}

static void qmp_monitor_start_next(void *opaque);

static void qmp_client_unref(QmpClient *client)
{
    QmpMonitor *mon = client->mon;

    if (--client->refs) {
        return;
    }
    qio_channel_close(client->ioc, NULL);
    object_unref(OBJECT(client->sioc));
    g_string_free(client->out, true);
    g_string_free(client->split.buf, true);
    mon->client = NULL;
    g_free(client);
    aio_bh_schedule_oneshot(iohandler_get_aio_context(),
                            qmp_monitor_start_next, mon);
}

/* Writes what is queued; sleeps while nothing is. */
static void coroutine_fn qmp_client_writer_co(void *opaque)
{
    QmpClient *client = opaque;

    while (!client->dead) {
        ssize_t n;

        if (!client->out->len) {
            client->writer_idle = true;
            qemu_coroutine_yield();
            client->writer_idle = false;
            continue;
        }
        n = qio_channel_write(client->ioc, client->out->str,
                              client->out->len, NULL);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_yield(client->ioc, G_IO_OUT);
            continue;
        }
        if (n < 0) {
            break;
        }
        g_string_erase(client->out, 0, n);
    }
    qmp_client_unref(client);
}

static void coroutine_fn qmp_client_co(void *opaque)
{
    QmpClient *client = opaque;
    QmpMonitor *mon = client->mon;
    JsonObject *greeting = json_object_new();
    JsonObject *qmp = json_object_new();
    JsonArray *caps = json_array_new();
    char buf[4096];

    json_array_add_string_element(caps, "oob");
    json_object_set_object_member(qmp, "version",
                                  json_object_ref(mon->srv->version));
    json_object_set_array_member(qmp, "capabilities", caps);
    json_object_set_object_member(greeting, "QMP", qmp);
    qmp_client_queue(client, greeting);

    while (!client->closing) {
        ssize_t n;

        if (client->out->len > QMP_MAX_OUTPUT) {
            warn_report("monitor '%s': client leaves its replies unread, "
                        "disconnecting it", mon->id);
            break;
        }
        n = qio_channel_read(client->ioc, buf, sizeof(buf), NULL);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            client->in_read_wait = true;
            qio_channel_yield(client->ioc, G_IO_IN);
            client->in_read_wait = false;
            continue;
        }
        if (n <= 0) {
            break;
        }
        qmp_client_feed(client, buf, n);
    }

    if (client->closing && client->out->len) {
        /* A last try for the reply to quit; no waiting. */
        ssize_t n = qio_channel_write(client->ioc, client->out->str,
                                      client->out->len, NULL);

        if (n > 0) {
            g_string_erase(client->out, 0, n);
        }
    }
    /* Ends the writer: it wakes from either wait and sees dead. */
    client->dead = true;
    qio_channel_shutdown(client->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    if (client->writer_idle) {
        client->writer_idle = false;
        aio_co_wake(client->writer);
    }
    qmp_client_unref(client);
}

/* Serves the next waiting connection if the monitor is free. */
static void qmp_monitor_start_next(void *opaque)
{
    QmpMonitor *mon = opaque;
    QIOChannelSocket *sioc;
    QmpClient *client;
    Error *local_err = NULL;

    if (mon->client || !(sioc = g_queue_pop_head(&mon->waiting))) {
        return;
    }
    client = g_new0(QmpClient, 1);
    client->mon = mon;
    client->sioc = sioc;
    client->ioc = QIO_CHANNEL(sioc);
    client->out = g_string_new(NULL);
    client->split.buf = g_string_new(NULL);
    if (qio_channel_set_blocking(client->ioc, false, &local_err) < 0) {
        error_report_err(local_err);
    }
    qio_channel_set_name(client->ioc, "qmp-client");
    mon->client = client;
    client->refs = 2;
    client->writer = qemu_coroutine_create(qmp_client_writer_co, client);
    client->co = qemu_coroutine_create(qmp_client_co, client);
    qemu_aio_coroutine_enter(iohandler_get_aio_context(), client->writer);
    qemu_aio_coroutine_enter(iohandler_get_aio_context(), client->co);
}

static void qmp_monitor_accept(QIONetListener *listener,
                               QIOChannelSocket *sioc, gpointer opaque)
{
    QmpMonitor *mon = opaque;

    if (g_queue_get_length(&mon->waiting) >= QMP_MAX_WAITING) {
        warn_report("monitor '%s': too many clients waiting, refusing one",
                    mon->id);
        qio_channel_close(QIO_CHANNEL(sioc), NULL);
        return;
    }
    object_ref(OBJECT(sioc));
    g_queue_push_tail(&mon->waiting, sioc);
    qmp_monitor_start_next(mon);
}

QmpServer *qmp_server_new(const QmpCommand *cmds, void *opaque,
                          JsonObject *version)
{
    QmpServer *srv = g_new0(QmpServer, 1);

    srv->cmds = cmds;
    srv->opaque = opaque;
    srv->version = version;
    srv->monitors = g_ptr_array_new();
    return srv;
}

bool qmp_server_add_monitor(QmpServer *srv, const char *id,
                            SocketAddress *addr, Error **errp)
{
    QmpMonitor *mon = g_new0(QmpMonitor, 1);

    mon->srv = srv;
    mon->id = g_strdup(id);
    mon->listener = qio_net_listener_new();
    qio_net_listener_set_name(mon->listener, "qmp-listener");
    g_queue_init(&mon->waiting);
    if (qio_net_listener_open_sync(mon->listener, addr, QMP_MAX_WAITING,
                                   errp) < 0) {
        object_unref(OBJECT(mon->listener));
        g_free(mon->id);
        g_free(mon);
        return false;
    }
    if (addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
        mon->unix_path = g_strdup(addr->u.q_unix.path);
    }
    qio_net_listener_set_client_func(mon->listener, qmp_monitor_accept, mon,
                                     NULL);
    g_ptr_array_add(srv->monitors, mon);
    return true;
}

void qmp_server_send_event(QmpServer *srv, const char *name,
                           JsonObject *data)
{
    gint64 now = g_get_real_time();

    for (guint i = 0; i < srv->monitors->len; i++) {
        QmpMonitor *mon = g_ptr_array_index(srv->monitors, i);
        QmpClient *client = mon->client;
        JsonObject *ev, *ts;

        if (!client || !client->negotiated || client->closing ||
            client->dead) {
            continue;
        }
        ev = json_object_new();
        ts = json_object_new();
        json_object_set_string_member(ev, "event", name);
        if (data) {
            json_object_set_object_member(ev, "data", json_object_ref(data));
        }
        json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
        json_object_set_int_member(ts, "microseconds",
                                   now % G_USEC_PER_SEC);
        json_object_set_object_member(ev, "timestamp", ts);
        qmp_client_queue(client, ev);
    }
    if (data) {
        json_object_unref(data);
    }
}

void qmp_server_free(QmpServer *srv)
{
    if (!srv) {
        return;
    }
    for (guint i = 0; i < srv->monitors->len; i++) {
        QmpMonitor *mon = g_ptr_array_index(srv->monitors, i);

        qio_net_listener_set_client_func(mon->listener, NULL, NULL, NULL);
        qio_net_listener_disconnect(mon->listener);
        while (!g_queue_is_empty(&mon->waiting)) {
            object_unref(g_queue_pop_head(&mon->waiting));
        }
        if (mon->client && !mon->client->dead) {
            mon->client->closing = true;
            if (mon->client->in_read_wait) {
                qio_channel_wake_read(mon->client->ioc);
            }
        }
    }
    for (guint i = 0; i < srv->monitors->len; i++) {
        QmpMonitor *mon = g_ptr_array_index(srv->monitors, i);

        while (mon->client) {
            main_loop_wait(false);
        }
    }
    /* Let the start-next bottom halves run (they find nothing to do). */
    aio_poll(iohandler_get_aio_context(), false);
    for (guint i = 0; i < srv->monitors->len; i++) {
        QmpMonitor *mon = g_ptr_array_index(srv->monitors, i);

        object_unref(OBJECT(mon->listener));
        if (mon->unix_path) {
            unlink(mon->unix_path);
            g_free(mon->unix_path);
        }
        g_free(mon->id);
        g_free(mon);
    }
    g_ptr_array_free(srv->monitors, true);
    json_object_unref(srv->version);
    g_free(srv);
}
