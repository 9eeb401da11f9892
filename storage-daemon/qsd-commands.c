/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-storage-daemon's QMP commands and the operations the command line
 * shares with them. Main thread, outside coroutines: monitor/qmp.c runs
 * each command from a bottom half of the main loop, so a command may
 * drain nodes and wait for NBD clients to leave.
 */
#include "qemu/osdep.h"

#include "block/aio.h"
#include "crypto/tlscreds.h"
#include "qapi/error.h"
#include "qemu/id.h"
#include "qemu/main-loop.h"
#include "qom/object.h"
#include "qom/object_interfaces.h"
#include "storage-daemon/qsd.h"
#include "sysemu/iothread.h"

/* JSON to key=value */

static bool qsd_json_flatten(KeyVal *kv, const char *prefix, JsonNode *node,
                             Error **errp)
{
    g_autofree char *text = NULL;

    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_OBJECT: {
        JsonObject *obj = json_node_get_object(node);
        g_autoptr(GList) members = json_object_get_members(obj);

        for (GList *l = members; l; l = l->next) {
            g_autofree char *key = prefix ?
                g_strdup_printf("%s.%s", prefix, (char *)l->data) :
                g_strdup(l->data);

            if (!qsd_json_flatten(kv, key,
                                  json_object_get_member(obj, l->data),
                                  errp)) {
                return false;
            }
        }
        return true;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *arr = json_node_get_array(node);

        for (guint i = 0; i < json_array_get_length(arr); i++) {
            g_autofree char *key = g_strdup_printf("%s.%u", prefix, i);

            if (!qsd_json_flatten(kv, key, json_array_get_element(arr, i),
                                  errp)) {
                return false;
            }
        }
        return true;
    }
    case JSON_NODE_NULL:
        error_setg(errp, "Invalid parameter type for '%s', expected: value",
                   prefix);
        return false;
    default:
        break;
    }
    switch (json_node_get_value_type(node)) {
    case G_TYPE_STRING:
        text = g_strdup(json_node_get_string(node));
        break;
    case G_TYPE_BOOLEAN:
        text = g_strdup(json_node_get_boolean(node) ? "on" : "off");
        break;
    case G_TYPE_INT64:
        text = g_strdup_printf("%" PRId64, json_node_get_int(node));
        break;
    default:
        text = g_strdup_printf("%.17g", json_node_get_double(node));
        break;
    }
    return keyval_add(kv, prefix, text, errp);
}

KeyVal *qsd_json_to_keyval(JsonObject *obj, Error **errp)
{
    g_autoptr(KeyVal) kv = keyval_new();
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);

    if (!qsd_json_flatten(kv, NULL, node, errp)) {
        return NULL;
    }
    return g_steal_pointer(&kv);
}

static JsonNode *qsd_empty(void)
{
    JsonObject *obj = json_object_new();
    JsonNode *node = json_node_init_object(json_node_alloc(), obj);

    json_object_unref(obj);
    return node;
}

static JsonNode *qsd_node_take_array(JsonArray *arr)
{
    JsonNode *node = json_node_init_array(json_node_alloc(), arr);

    json_array_unref(arr);
    return node;
}

static JsonNode *qsd_node_take_object(JsonObject *obj)
{
    JsonNode *node = json_node_init_object(json_node_alloc(), obj);

    json_object_unref(obj);
    return node;
}

static const char *qsd_str_arg(JsonObject *args, const char *name)
{
    JsonNode *node = json_object_get_member(args, name);

    return node ? json_node_get_string(node) : NULL;
}

static bool qsd_bool_arg(JsonObject *args, const char *name, bool def)
{
    JsonNode *node = json_object_get_member(args, name);

    return node ? json_node_get_boolean(node) : def;
}

/* Block nodes */

bool qsd_blockdev_add(QsdState *s, const KeyVal *opts, Error **errp)
{
    const char *name = keyval_get(opts, "node-name");
    BlockDriverState *bs;

    if (!name) {
        error_setg(errp, "'node-name' must be specified for the root node");
        return false;
    }
    if (g_hash_table_contains(s->nodes, name) || bdrv_find_node(name)) {
        error_setg(errp, "Duplicate nodes with node-name='%s'", name);
        return false;
    }
    bs = bdrv_open_blockdev(opts, errp);
    if (!bs) {
        return false;
    }
    g_hash_table_insert(s->nodes, g_strdup(name), bs);
    return true;
}

static JsonNode *qmp_blockdev_add(JsonObject *args, void *opaque,
                                  Error **errp)
{
    QsdState *s = opaque;
    g_autoptr(KeyVal) opts = NULL;

    if (!json_object_has_member(args, "driver")) {
        error_setg(errp, "Parameter 'driver' is missing");
        return NULL;
    }
    opts = qsd_json_to_keyval(args, errp);
    if (!opts || !qsd_blockdev_add(s, opts, errp)) {
        return NULL;
    }
    return qsd_empty();
}

static QsdExport *qsd_export_by_node(QsdState *s, const char *node_name)
{
    for (guint i = 0; i < s->exports->len; i++) {
        QsdExport *e = g_ptr_array_index(s->exports, i);

        if (!strcmp(e->node_name, node_name)) {
            return e;
        }
    }
    return NULL;
}

static JsonNode *qmp_blockdev_del(JsonObject *args, void *opaque,
                                  Error **errp)
{
    QsdState *s = opaque;
    const char *name = qsd_str_arg(args, "node-name");
    BlockDriverState *bs = g_hash_table_lookup(s->nodes, name);
    QsdExport *e;

    if (!bs) {
        error_setg(errp, "Failed to find node with node-name='%s'", name);
        return NULL;
    }
    e = qsd_export_by_node(s, name);
    if (e) {
        error_setg(errp, "Node '%s' is busy: block device is in use by "
                   "block export '%s'", name, e->id);
        return NULL;
    }
    g_hash_table_remove(s->nodes, name);
    return qsd_empty();
}

static JsonObject *qsd_node_info(BlockDriverState *bs)
{
    JsonObject *o = json_object_new();
    JsonObject *cache = json_object_new();
    int flags = bdrv_get_flags(bs);

    json_object_set_string_member(o, "node-name", bdrv_get_node_name(bs));
    json_object_set_string_member(o, "drv", bdrv_get_format_name(bs));
    json_object_set_string_member(o, "file", bdrv_get_filename(bs));
    json_object_set_boolean_member(o, "ro", bdrv_is_read_only(bs));
    json_object_set_boolean_member(o, "encrypted", false);
    json_object_set_int_member(o, "backing_file_depth", 0);
    json_object_set_string_member(o, "detect_zeroes", "off");
    json_object_set_int_member(o, "write_threshold", 0);
    json_object_set_boolean_member(cache, "writeback", true);
    json_object_set_boolean_member(cache, "direct",
                                   !!(flags & BDRV_O_NOCACHE));
    json_object_set_boolean_member(cache, "no-flush",
                                   !!(flags & BDRV_O_NO_FLUSH));
    json_object_set_object_member(o, "cache", cache);
    return o;
}

static JsonNode *qmp_query_named_block_nodes(JsonObject *args, void *opaque,
                                             Error **errp)
{
    QsdState *s = opaque;
    JsonArray *list = json_array_new();
    g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);
    GHashTableIter iter;
    gpointer bs;

    /* The daemon's nodes and the protocol nodes below them, once each. */
    g_hash_table_iter_init(&iter, s->nodes);
    while (g_hash_table_iter_next(&iter, NULL, &bs)) {
        BlockDriverState *child = bdrv_get_file(bs);

        if (g_hash_table_add(seen, bs)) {
            json_array_add_object_element(list, qsd_node_info(bs));
        }
        if (child && g_hash_table_add(seen, child)) {
            json_array_add_object_element(list, qsd_node_info(child));
        }
    }
    return qsd_node_take_array(list);
}

/* NBD server and exports */

bool qsd_nbd_server_start(QsdState *s, SocketAddress *addr,
                          const char *tls_creds, const char *tls_authz,
                          int64_t max_connections, Error **errp)
{
    NBDServerOptions opts = {
        .handshake_limit = NBD_DEFAULT_HANDSHAKE_LIMIT,
        .max_connections = NBD_DEFAULT_MAX_CONNECTIONS,
    };
    NBDServer *server;

    if (s->nbd) {
        error_setg(errp, "NBD server already running");
        return false;
    }
    if (tls_authz) {
        error_setg(errp, "tls-authz is not supported: no authorization "
                   "objects exist in this daemon");
        return false;
    }
    if (max_connections < -1 || max_connections > UINT32_MAX) {
        error_setg(errp, "Parameter 'max-connections' expects uint32");
        return false;
    }
    if (max_connections >= 0) {
        opts.max_connections = max_connections;     /* 0: no limit */
    }
    if (tls_creds) {
        opts.tls_creds = qcrypto_tls_creds_find(
            tls_creds, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, errp);
        if (!opts.tls_creds) {
            return false;
        }
    }
    server = nbd_server_new(&opts, errp);
    if (!server) {
        return false;
    }
    if (!nbd_server_listen(server, addr, errp)) {
        nbd_server_free(server);
        return false;
    }
    s->nbd = server;
    return true;
}

static QsdExport *qsd_export_by_id(QsdState *s, const char *id)
{
    for (guint i = 0; i < s->exports->len; i++) {
        QsdExport *e = g_ptr_array_index(s->exports, i);

        if (!strcmp(e->id, id)) {
            return e;
        }
    }
    return NULL;
}

bool qsd_export_add(QsdState *s, const QsdExportOptions *o, Error **errp)
{
    NBDExportOptions eopts = {
        .name = o->name ? o->name : o->node_name,
        .description = o->description,
        .readonly = !o->writable,
        .allocation_depth = o->allocation_depth,
    };
    g_autoptr(BlockBackend) blk = NULL;
    BlockDriverState *bs;
    QsdExport *e;
    bool moved = false;

    if (strcmp(o->type, "nbd")) {
        error_setg(errp, "Parameter 'type' does not accept value '%s'",
                   o->type);
        return false;
    }
    if (!id_wellformed(o->id)) {
        error_setg(errp, "Invalid block export id '%s'", o->id);
        return false;
    }
    if (qsd_export_by_id(s, o->id)) {
        error_setg(errp, "Block export id '%s' is already in use", o->id);
        return false;
    }
    bs = bdrv_find_node(o->node_name);
    if (!bs) {
        error_setg(errp, "Cannot find device='' nor node-name='%s'",
                   o->node_name);
        return false;
    }
    if (!s->nbd) {
        error_setg(errp, "NBD server not running");
        return false;
    }
    if (nbd_export_find(s->nbd, eopts.name)) {
        error_setg(errp, "NBD server already has export named '%s'",
                   eopts.name);
        return false;
    }
    blk = blk_new_with_bs(bs, o->writable, errp);
    if (!blk) {
        return false;
    }
    if (o->iothread) {
        IOThread *iot = iothread_by_id(o->iothread);

        if (!iot) {
            error_setg(errp, "iothread \"%s\" not found", o->iothread);
            return false;
        }
        if (blk_get_aio_context(blk) != iothread_get_aio_context(iot)) {
            if (blk_set_aio_context(blk, iothread_get_aio_context(iot),
                                    errp) < 0) {
                return false;
            }
            moved = true;
        }
    }
    blk_set_enable_write_cache(blk, !o->writethrough);
    e = g_new0(QsdExport, 1);
    e->exp = nbd_export_new(s->nbd, blk, &eopts, errp);
    if (!e->exp) {
        if (moved) {
            blk_set_aio_context(blk, qemu_get_aio_context(), NULL);
        }
        g_free(e);
        return false;
    }
    e->id = g_strdup(o->id);
    e->node_name = g_strdup(o->node_name);
    e->iothread = g_strdup(o->iothread);
    e->blk = g_steal_pointer(&blk);
    e->moved = moved;
    g_ptr_array_add(s->exports, e);
    return true;
}

/* Removes @e (closing its clients) and says so on the monitors. */
static void qsd_export_remove(QsdState *s, QsdExport *e)
{
    JsonObject *data = json_object_new();

    g_ptr_array_remove(s->exports, e);
    nbd_export_remove(e->exp);
    if (e->moved) {
        Error *local_err = NULL;

        if (blk_set_aio_context(e->blk, qemu_get_aio_context(),
                                &local_err) < 0) {
            warn_report_err(local_err);
        }
    }
    blk_unref(e->blk);
    json_object_set_string_member(data, "id", e->id);
    if (s->qmp) {
        qmp_server_send_event(s->qmp, "BLOCK_EXPORT_DELETED", data);
    } else {
        json_object_unref(data);
    }
    g_free(e->id);
    g_free(e->node_name);
    g_free(e->iothread);
    g_free(e);
}

void qsd_nbd_server_stop_all(QsdState *s)
{
    while (s->exports->len) {
        qsd_export_remove(s, g_ptr_array_index(s->exports,
                                               s->exports->len - 1));
    }
    nbd_server_free(s->nbd);
    s->nbd = NULL;
}

static JsonNode *qmp_block_export_add(JsonObject *args, void *opaque,
                                      Error **errp)
{
    QsdExportOptions o = {
        .type = qsd_str_arg(args, "type"),
        .id = qsd_str_arg(args, "id"),
        .node_name = qsd_str_arg(args, "node-name"),
        .name = qsd_str_arg(args, "name"),
        .description = qsd_str_arg(args, "description"),
        .writable = qsd_bool_arg(args, "writable", false),
        .writethrough = qsd_bool_arg(args, "writethrough", false),
        .iothread = qsd_str_arg(args, "iothread"),
        .fixed_iothread = qsd_bool_arg(args, "fixed-iothread", false),
        .allocation_depth = qsd_bool_arg(args, "allocation-depth", false),
    };

    if (!qsd_export_add(opaque, &o, errp)) {
        return NULL;
    }
    return qsd_empty();
}

static JsonNode *qmp_block_export_del(JsonObject *args, void *opaque,
                                      Error **errp)
{
    QsdState *s = opaque;
    const char *id = qsd_str_arg(args, "id");
    const char *mode = qsd_str_arg(args, "mode");
    QsdExport *e = qsd_export_by_id(s, id);
    bool hard;

    if (mode && strcmp(mode, "safe") && strcmp(mode, "hard")) {
        error_setg(errp, "Parameter 'mode' does not accept value '%s'",
                   mode);
        return NULL;
    }
    hard = mode && !strcmp(mode, "hard");
    if (!e) {
        error_setg(errp, "Export '%s' is not found", id);
        return NULL;
    }
    if (!hard && nbd_export_client_count(e->exp) > 0) {
        error_setg(errp, "export '%s' still in use", id);
        return NULL;
    }
    qsd_export_remove(s, e);
    return qsd_empty();
}

static JsonNode *qmp_query_block_exports(JsonObject *args, void *opaque,
                                         Error **errp)
{
    QsdState *s = opaque;
    JsonArray *list = json_array_new();

    for (guint i = 0; i < s->exports->len; i++) {
        QsdExport *e = g_ptr_array_index(s->exports, i);
        JsonObject *o = json_object_new();

        json_object_set_string_member(o, "type", "nbd");
        json_object_set_string_member(o, "id", e->id);
        json_object_set_string_member(o, "node-name", e->node_name);
        json_object_set_boolean_member(o, "shutting-down", false);
        json_array_add_object_element(list, o);
    }
    return qsd_node_take_array(list);
}

/* The legacy SocketAddress of nbd-server-start: {"type", "data": {...}}. */
static SocketAddress *qsd_legacy_address(JsonObject *addr, Error **errp)
{
    g_autoptr(SocketAddress) sa = g_new0(SocketAddress, 1);
    JsonNode *type = json_object_get_member(addr, "type");
    JsonNode *datan = json_object_get_member(addr, "data");
    JsonObject *data;
    const char *t;

    if (!type) {
        error_setg(errp, "Parameter 'addr.type' is missing");
        return NULL;
    }
    if (!JSON_NODE_HOLDS_VALUE(type) ||
        json_node_get_value_type(type) != G_TYPE_STRING) {
        error_setg(errp, "Invalid parameter type for 'addr.type', "
                   "expected: string");
        return NULL;
    }
    if (!datan) {
        error_setg(errp, "Parameter 'addr.data' is missing");
        return NULL;
    }
    if (!JSON_NODE_HOLDS_OBJECT(datan)) {
        error_setg(errp, "Invalid parameter type for 'addr.data', "
                   "expected: object");
        return NULL;
    }
    data = json_node_get_object(datan);
    t = json_node_get_string(type);
#define QSD_ADDR_STR(field, key)                                        \
    do {                                                                \
        JsonNode *n_ = json_object_get_member(data, key);               \
        if (!n_) {                                                      \
            error_setg(errp, "Parameter 'addr.data." key "' is missing"); \
            return NULL;                                                \
        }                                                               \
        if (!JSON_NODE_HOLDS_VALUE(n_) ||                               \
            json_node_get_value_type(n_) != G_TYPE_STRING) {            \
            error_setg(errp, "Invalid parameter type for 'addr.data."  \
                       key "', expected: string");                      \
            return NULL;                                                \
        }                                                               \
        field = g_strdup(json_node_get_string(n_));                     \
    } while (0)
    if (!strcmp(t, "unix")) {
        sa->type = SOCKET_ADDRESS_TYPE_UNIX;
        QSD_ADDR_STR(sa->u.q_unix.path, "path");
    } else if (!strcmp(t, "inet")) {
        sa->type = SOCKET_ADDRESS_TYPE_INET;
        QSD_ADDR_STR(sa->u.inet.host, "host");
        QSD_ADDR_STR(sa->u.inet.port, "port");
    } else if (!strcmp(t, "fd")) {
        sa->type = SOCKET_ADDRESS_TYPE_FD;
        QSD_ADDR_STR(sa->u.fd.str, "str");
    } else {
        error_setg(errp, "Parameter 'addr.type' does not accept value '%s'",
                   t);
        return NULL;
    }
#undef QSD_ADDR_STR
    return g_steal_pointer(&sa);
}

static JsonNode *qmp_nbd_server_start(JsonObject *args, void *opaque,
                                      Error **errp)
{
    QsdState *s = opaque;
    JsonNode *maxc = json_object_get_member(args, "max-connections");
    g_autoptr(SocketAddress) addr =
        qsd_legacy_address(json_object_get_object_member(args, "addr"),
                           errp);

    if (!addr ||
        !qsd_nbd_server_start(s, addr, qsd_str_arg(args, "tls-creds"),
                              qsd_str_arg(args, "tls-authz"),
                              maxc ? MAX(json_node_get_int(maxc), -2) : -1,
                              errp)) {
        return NULL;
    }
    return qsd_empty();
}

static JsonNode *qmp_nbd_server_stop(JsonObject *args, void *opaque,
                                     Error **errp)
{
    QsdState *s = opaque;

    if (!s->nbd) {
        error_setg(errp, "NBD server not running");
        return NULL;
    }
    qsd_nbd_server_stop_all(s);
    return qsd_empty();
}

/* Objects */

static JsonNode *qmp_object_add(JsonObject *args, void *opaque,
                                Error **errp)
{
    g_autoptr(KeyVal) props = NULL;
    JsonNode *type = json_object_get_member(args, "qom-type");
    JsonNode *id = json_object_get_member(args, "id");
    Object *obj;

    if (!type) {
        error_setg(errp, "Parameter 'qom-type' is missing");
        return NULL;
    }
    if (!JSON_NODE_HOLDS_VALUE(type) ||
        json_node_get_value_type(type) != G_TYPE_STRING) {
        error_setg(errp, "Invalid parameter type for 'qom-type', "
                   "expected: string");
        return NULL;
    }
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        return NULL;
    }
    if (!JSON_NODE_HOLDS_VALUE(id) ||
        json_node_get_value_type(id) != G_TYPE_STRING) {
        error_setg(errp, "Invalid parameter type for 'id', expected: string");
        return NULL;
    }
    props = qsd_json_to_keyval(args, errp);
    if (!props) {
        return NULL;
    }
    obj = user_creatable_add_type(json_node_get_string(type),
                                  json_node_get_string(id), props, errp);
    if (!obj) {
        return NULL;
    }
    object_unref(obj);
    return qsd_empty();
}

static JsonNode *qmp_object_del(JsonObject *args, void *opaque,
                                Error **errp)
{
    QsdState *s = opaque;
    const char *id = qsd_str_arg(args, "id");

    for (guint i = 0; i < s->exports->len; i++) {
        QsdExport *e = g_ptr_array_index(s->exports, i);

        if (e->iothread && !strcmp(e->iothread, id)) {
            error_setg(errp, "object '%s' is in use, can not be deleted",
                       id);
            return NULL;
        }
    }
    if (!user_creatable_del(id, errp)) {
        return NULL;
    }
    return qsd_empty();
}

static int qsd_add_iothread_info(Object *child, void *opaque)
{
    JsonArray *list = opaque;
    IOThread *iot = (IOThread *)object_dynamic_cast(child, TYPE_IOTHREAD);
    JsonObject *o;
    g_autofree char *id = NULL;

    if (!iot) {
        return 0;
    }
    id = iothread_get_id(iot);
    o = json_object_new();
    json_object_set_string_member(o, "id", id);
    json_object_set_int_member(o, "thread-id", iothread_get_thread_id(iot));
    json_array_add_object_element(list, o);
    return 0;
}

static JsonNode *qmp_query_iothreads(JsonObject *args, void *opaque,
                                     Error **errp)
{
    JsonArray *list = json_array_new();

    object_child_foreach(object_get_objects_root(), qsd_add_iothread_info,
                         list);
    return qsd_node_take_array(list);
}

/* Miscellaneous */

JsonObject *qsd_version_object(void)
{
    JsonObject *ver = json_object_new();
    JsonObject *qemu = json_object_new();
    unsigned int major = 0, minor = 0, micro = 0;

    sscanf(QEMU_VERSION, "%u.%u.%u", &major, &minor, &micro);
    json_object_set_int_member(qemu, "micro", micro);
    json_object_set_int_member(qemu, "minor", minor);
    json_object_set_int_member(qemu, "major", major);
    json_object_set_object_member(ver, "qemu", qemu);
    json_object_set_string_member(ver, "package", "");
    return ver;
}

static JsonNode *qmp_query_version(JsonObject *args, void *opaque,
                                   Error **errp)
{
    return qsd_node_take_object(qsd_version_object());
}

static JsonNode *qmp_quit(JsonObject *args, void *opaque, Error **errp)
{
    QsdState *s = opaque;

    s->quit = true;
    qemu_notify_event();
    return qsd_empty();
}

static const QmpArgSpec no_args[] = {
    { NULL },
};

static const QmpArgSpec blockdev_del_args[] = {
    { "node-name", QMP_ARG_STR },
    { NULL },
};

static const QmpArgSpec query_nodes_args[] = {
    { "flat", QMP_ARG_BOOL, true },
    { NULL },
};

static const QmpArgSpec export_add_args[] = {
    { "type", QMP_ARG_STR },
    { "id", QMP_ARG_STR },
    { "node-name", QMP_ARG_STR },
    { "name", QMP_ARG_STR, true },
    { "description", QMP_ARG_STR, true },
    { "writable", QMP_ARG_BOOL, true },
    { "writethrough", QMP_ARG_BOOL, true },
    { "iothread", QMP_ARG_STR, true },
    { "fixed-iothread", QMP_ARG_BOOL, true },
    { "allocation-depth", QMP_ARG_BOOL, true },
    { NULL },
};

static const QmpArgSpec export_del_args[] = {
    { "id", QMP_ARG_STR },
    { "mode", QMP_ARG_STR, true },
    { NULL },
};

static const QmpArgSpec nbd_start_args[] = {
    { "addr", QMP_ARG_OBJECT },
    { "tls-creds", QMP_ARG_STR, true },
    { "tls-authz", QMP_ARG_STR, true },
    { "max-connections", QMP_ARG_INT, true },
    { NULL },
};

static const QmpArgSpec object_del_args[] = {
    { "id", QMP_ARG_STR },
    { NULL },
};

const QmpCommand qsd_commands[] = {
    { "block-export-add", qmp_block_export_add, export_add_args },
    { "block-export-del", qmp_block_export_del, export_del_args },
    { "blockdev-add", qmp_blockdev_add, NULL },
    { "blockdev-del", qmp_blockdev_del, blockdev_del_args },
    { "nbd-server-start", qmp_nbd_server_start, nbd_start_args },
    { "nbd-server-stop", qmp_nbd_server_stop, no_args },
    { "object-add", qmp_object_add, NULL },
    { "object-del", qmp_object_del, object_del_args },
    { "query-block-exports", qmp_query_block_exports, no_args },
    { "query-iothreads", qmp_query_iothreads, no_args },
    { "query-named-block-nodes", qmp_query_named_block_nodes,
      query_nodes_args },
    { "query-version", qmp_query_version, no_args },
    { "quit", qmp_quit, no_args },
    { NULL },
};
