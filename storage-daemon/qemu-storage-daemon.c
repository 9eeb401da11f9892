/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-storage-daemon: block nodes, NBD exports and QMP monitors, set up
 * from the command line (in the order given) and changed at run time
 * over QMP.
 *
 * Theory of operation:
 * - The main thread runs the main loop: the QMP monitors (one coroutine
 *   per connected client, commands from bottom halves of the iohandler
 *   context, see monitor/qmp.c), the NBD listener, signal handling and
 *   every change of the block graph and of the exports.
 * - An export created with iothread=ID moves its BlockBackend (and the
 *   node below) into that IOThread's AioContext; its NBD clients'
 *   coroutines then run in that thread, and only there. The NBD server
 *   reports a client's end to the main thread (nbd/server.c), so a client
 *   that disconnects, resets or dies never touches main-thread state from
 *   the iothread.
 * - Removing an export (block-export-del, nbd-server-stop, shutdown) runs
 *   in the main thread: it closes the clients, waits for their requests
 *   to finish, then moves the node back to the main context.
 * - All state is in one QsdState; the only file-scope data are the option
 *   table and the usage text.
 */
#include "qemu/osdep.h"

#include <getopt.h>

#include <glib-unix.h>

#include "block/aio.h"
#include "block/block.h"
#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/daemonize.h"
#include "qemu/error-report.h"
#include "qemu/keyval.h"
#include "qemu/main-loop.h"
#include "qemu/sockets.h"
#include "qemu/trace-control.h"
#include "qom/object_interfaces.h"
#include "storage-daemon/qsd.h"

enum {
    OPTION_BLOCKDEV = 256,
    OPTION_CHARDEV,
    OPTION_DAEMONIZE,
    OPTION_EXPORT,
    OPTION_MONITOR,
    OPTION_NBD_SERVER,
    OPTION_OBJECT,
    OPTION_PIDFILE,
};

static const struct option qsd_long_options[] = {
    { "blockdev", required_argument, NULL, OPTION_BLOCKDEV },
    { "chardev", required_argument, NULL, OPTION_CHARDEV },
    { "daemonize", no_argument, NULL, OPTION_DAEMONIZE },
    { "export", required_argument, NULL, OPTION_EXPORT },
    { "help", no_argument, NULL, 'h' },
    { "monitor", required_argument, NULL, OPTION_MONITOR },
    { "nbd-server", required_argument, NULL, OPTION_NBD_SERVER },
    { "object", required_argument, NULL, OPTION_OBJECT },
    { "pidfile", required_argument, NULL, OPTION_PIDFILE },
    { "trace", required_argument, NULL, 'T' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static void qsd_help(void)
{
    printf(
"Usage: %s [options]\n"
"QEMU storage daemon\n"
"\n"
"  -h, --help             display this help and exit\n"
"  -T, --trace [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
"                         specify tracing options\n"
"  -V, --version          output version information and exit\n"
"\n"
"  --blockdev [driver=]<driver>[,node-name=<N>][,discard=ignore|unmap]\n"
"             [,cache.direct=on|off][,cache.no-flush=on|off]\n"
"             [,read-only=on|off][,auto-read-only=on|off]\n"
"             [,force-share=on|off][,detect-zeroes=on|off|unmap]\n"
"             [,driver specific parameters...]\n"
"                         configure a block backend (also as a JSON object)\n"
"\n"
"  --chardev socket,id=<id>,path=<path>[,server=on][,wait=off]\n"
"  --chardev socket,id=<id>,host=<host>,port=<port>[,server=on][,wait=off]\n"
"                         a socket for a monitor to listen on\n"
"\n"
"  --export [type=]nbd,id=<id>,node-name=<node-name>[,name=<export-name>]\n"
"           [,writable=on|off][,description=<description>]\n"
"           [,iothread=<id>]\n"
"                         export the specified block node over NBD\n"
"                         (requires --nbd-server)\n"
"\n"
"  --monitor [chardev=]name[,mode=control][,pretty=on|off]\n"
"                         configure a QMP monitor\n"
"\n"
"  --nbd-server addr.type=inet,addr.host=<host>,addr.port=<port>\n"
"               [,tls-creds=<id>][,max-connections=<n>]\n"
"  --nbd-server addr.type=unix,addr.path=<path>\n"
"               [,tls-creds=<id>][,max-connections=<n>]\n"
"                         start an NBD server for exporting block nodes\n"
"\n"
"  --object help          list object types that can be added\n"
"  --object <type>,help   list properties for the given object type\n"
"  --object <type>[,<property>=<value>...]\n"
"                         create a new object of type <type>, setting\n"
"                         properties in the order they are specified\n"
"\n"
"  --pidfile <path>       write process ID to a file after startup\n"
"  --daemonize            daemonize the process, and have the parent exit\n"
"                         once startup is complete\n",
           error_get_progname());
}

/* A JSON object argument ("{...}") or key=value pairs. */
static KeyVal *qsd_parse_opts(const char *arg, const char *implied,
                              Error **errp)
{
    g_autoptr(JsonParser) parser = NULL;
    g_autoptr(GError) gerr = NULL;
    JsonNode *root;

    if (arg[0] != '{') {
        return keyval_parse(arg, implied, errp);
    }
    parser = json_parser_new_immutable();
    if (!json_parser_load_from_data(parser, arg, -1, &gerr)) {
        error_setg(errp, "JSON parse error, %s", gerr->message);
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        error_setg(errp, "JSON argument must be an object");
        return NULL;
    }
    return qsd_json_to_keyval(json_node_get_object(root), errp);
}

static bool qsd_check_unused(const KeyVal *kv, Error **errp)
{
    return keyval_check_unused(kv, "", errp);
}

static bool qsd_add_object(QsdState *s, const char *arg, Error **errp)
{
    Error *local_err = NULL;
    g_autoptr(KeyVal) kv = NULL;
    const char *type, *id;
    Object *obj;

    if (arg[0] != '{') {
        if (!user_creatable_add_from_str(arg, &local_err)) {
            if (!local_err) {
                exit(EXIT_SUCCESS);     /* help was printed */
            }
            error_propagate(errp, local_err);
        return false;
        }
        return true;
    }
    kv = qsd_parse_opts(arg, "qom-type", &local_err);
    if (!kv) {
        error_propagate(errp, local_err);
        return false;
    }
    type = keyval_get(kv, "qom-type");
    id = keyval_get(kv, "id");
    if (!type || !id) {
        error_setg(&local_err, "Parameter '%s' is missing",
                   type ? "id" : "qom-type");
        error_propagate(errp, local_err);
        return false;
    }
    obj = user_creatable_add_type(type, id, kv, &local_err);
    if (!obj) {
        error_propagate(errp, local_err);
        return false;
    }
    object_unref(obj);
    return true;
}

static bool qsd_add_blockdev(QsdState *s, const char *arg, Error **errp)
{
    Error *local_err = NULL;
    g_autoptr(KeyVal) kv = qsd_parse_opts(arg, "driver", &local_err);

    if (!kv || !qsd_blockdev_add(s, kv, &local_err)) {
        error_propagate(errp, local_err);
        return false;
    }
    return true;
}

/* The flat SocketAddress of --nbd-server: addr.type=unix,addr.path=... */
static SocketAddress *qsd_flat_address(const KeyVal *kv, Error **errp)
{
    g_autoptr(SocketAddress) sa = g_new0(SocketAddress, 1);
    const char *type = keyval_get(kv, "type");

    if (!type) {
        error_setg(errp, "Parameter 'addr.type' is missing");
        return NULL;
    }
#define QSD_ADDR_KEY(field, key)                                        \
    do {                                                                \
        const char *v_ = keyval_get(kv, key);                           \
        if (!v_) {                                                      \
            error_setg(errp, "Parameter 'addr." key "' is missing");    \
            return NULL;                                                \
        }                                                               \
        field = g_strdup(v_);                                           \
    } while (0)
    if (!strcmp(type, "unix")) {
        sa->type = SOCKET_ADDRESS_TYPE_UNIX;
        QSD_ADDR_KEY(sa->u.q_unix.path, "path");
    } else if (!strcmp(type, "inet")) {
        sa->type = SOCKET_ADDRESS_TYPE_INET;
        QSD_ADDR_KEY(sa->u.inet.host, "host");
        QSD_ADDR_KEY(sa->u.inet.port, "port");
    } else if (!strcmp(type, "fd")) {
        sa->type = SOCKET_ADDRESS_TYPE_FD;
        QSD_ADDR_KEY(sa->u.fd.str, "str");
    } else {
        error_setg(errp, "Parameter 'addr.type' does not accept value '%s'",
                   type);
        return NULL;
    }
#undef QSD_ADDR_KEY
    return g_steal_pointer(&sa);
}

static bool qsd_add_nbd_server(QsdState *s, const char *arg,
                               Error **errp)
{
    Error *local_err = NULL;
    g_autoptr(KeyVal) kv = qsd_parse_opts(arg, NULL, &local_err);
    g_autoptr(KeyVal) addr_kv = NULL;
    g_autoptr(SocketAddress) addr = NULL;
    uint64_t maxc = NBD_DEFAULT_MAX_CONNECTIONS;

    if (!kv) {
        error_propagate(errp, local_err);
        return false;
    }
    addr_kv = keyval_subset(kv, "addr");
    addr = qsd_flat_address(addr_kv, &local_err);
    if (!addr ||
        !keyval_check_unused(addr_kv, "addr.", &local_err) ||
        !keyval_get_uint64(kv, "max-connections", maxc, &maxc,
                           &local_err)) {
        error_propagate(errp, local_err);
        return false;
    }
    if (!qsd_nbd_server_start(s, addr, keyval_get(kv, "tls-creds"),
                              keyval_get(kv, "tls-authz"),
                              maxc > UINT32_MAX ? -2 : (int64_t)maxc,
                              &local_err)) {
        error_propagate(errp, local_err);
        return false;
    }
    return true;
}

static bool qsd_add_export(QsdState *s, const char *arg, Error **errp)
{
    Error *local_err = NULL;
    g_autoptr(KeyVal) kv = qsd_parse_opts(arg, "type", &local_err);
    QsdExportOptions o = { 0 };

    if (!kv) {
        error_propagate(errp, local_err);
        return false;
    }
    o.type = keyval_get(kv, "type");
    o.id = keyval_get(kv, "id");
    o.node_name = keyval_get(kv, "node-name");
    o.name = keyval_get(kv, "name");
    o.description = keyval_get(kv, "description");
    o.iothread = keyval_get(kv, "iothread");
    if (!o.type || !o.id || !o.node_name) {
        error_setg(&local_err, "Parameter '%s' is missing",
                   !o.type ? "type" : !o.id ? "id" : "node-name");
        error_propagate(errp, local_err);
        return false;
    }
    if (!keyval_get_bool(kv, "writable", false, &o.writable, &local_err) ||
        !keyval_get_bool(kv, "writethrough", false, &o.writethrough,
                         &local_err) ||
        !keyval_get_bool(kv, "fixed-iothread", false, &o.fixed_iothread,
                         &local_err) ||
        !keyval_get_bool(kv, "allocation-depth", false, &o.allocation_depth,
                         &local_err) ||
        !qsd_check_unused(kv, &local_err) ||
        !qsd_export_add(s, &o, &local_err)) {
        error_propagate(errp, local_err);
        return false;
    }
    return true;
}

static bool qsd_add_chardev(QsdState *s, const char *arg, Error **errp)
{
    Error *local_err = NULL;
    g_autoptr(KeyVal) kv = keyval_parse(arg, "backend", &local_err);
    g_autoptr(SocketAddress) sa = g_new0(SocketAddress, 1);
    const char *backend, *id;
    bool server = false, wait = true;

    if (!kv) {
        error_propagate(errp, local_err);
        return false;
    }
    backend = keyval_get(kv, "backend");
    id = keyval_get(kv, "id");
    if (!backend || strcmp(backend, "socket")) {
        error_setg(&local_err, "chardev backend '%s' is not supported "
                   "(only 'socket')", backend ? backend : "");
        error_propagate(errp, local_err);
        return false;
    }
    if (!id) {
        error_setg(&local_err, "Parameter 'id' is missing");
        error_propagate(errp, local_err);
        return false;
    }
    if (g_hash_table_contains(s->chardevs, id)) {
        error_setg(&local_err, "attempt to add duplicate property '%s' to "
                   "object (type 'container')", id);
        error_propagate(errp, local_err);
        return false;
    }
    if (keyval_has(kv, "path")) {
        sa->type = SOCKET_ADDRESS_TYPE_UNIX;
        sa->u.q_unix.path = g_strdup(keyval_get(kv, "path"));
    } else if (keyval_has(kv, "port")) {
        sa->type = SOCKET_ADDRESS_TYPE_INET;
        sa->u.inet.host = g_strdup(keyval_has(kv, "host") ?
                                   keyval_get(kv, "host") : "");
        sa->u.inet.port = g_strdup(keyval_get(kv, "port"));
    } else {
        error_setg(&local_err, "chardev: socket: no host given");
        error_propagate(errp, local_err);
        return false;
    }
    if (!keyval_get_bool(kv, "server", false, &server, &local_err) ||
        !keyval_get_bool(kv, "wait", true, &wait, &local_err) ||
        !qsd_check_unused(kv, &local_err)) {
        error_propagate(errp, local_err);
        return false;
    }
    if (!server || wait) {
        error_setg(&local_err, "only server=on,wait=off sockets are "
                   "supported for monitors");
        error_propagate(errp, local_err);
        return false;
    }
    g_hash_table_insert(s->chardevs, g_strdup(id), g_steal_pointer(&sa));
    return true;
}

static bool qsd_add_monitor(QsdState *s, const char *arg, Error **errp)
{
    Error *local_err = NULL;
    g_autoptr(KeyVal) kv = keyval_parse(arg, "chardev", &local_err);
    const char *chardev, *mode;
    SocketAddress *sa;
    bool pretty;

    if (!kv) {
        error_propagate(errp, local_err);
        return false;
    }
    chardev = keyval_get(kv, "chardev");
    mode = keyval_get(kv, "mode");
    if (!chardev) {
        error_setg(&local_err, "Parameter 'chardev' is missing");
        error_propagate(errp, local_err);
        return false;
    }
    if (mode && strcmp(mode, "control")) {
        error_setg(&local_err, "Only QMP is supported");
        error_propagate(errp, local_err);
        return false;
    }
    if (!keyval_get_bool(kv, "pretty", false, &pretty, &local_err) ||
        !qsd_check_unused(kv, &local_err)) {
        error_propagate(errp, local_err);
        return false;
    }
    sa = g_hash_table_lookup(s->chardevs, chardev);
    if (!sa) {
        error_setg(&local_err, "chardev \"%s\" not found", chardev);
        error_propagate(errp, local_err);
        return false;
    }
    if (!qmp_server_add_monitor(s->qmp, chardev, sa, &local_err)) {
        error_propagate(errp, local_err);
        return false;
    }
    return true;
}

static void qsd_write_pidfile(QsdState *s)
{
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
    GError *gerr = NULL;

    if (!g_file_set_contents(s->pidfile, pid, -1, &gerr)) {
        error_report("Cannot write pid file '%s': %s", s->pidfile,
                     gerr->message);
        g_error_free(gerr);
        exit(EXIT_FAILURE);
    }
    s->pidfile_written = true;
}

static gboolean qsd_on_signal(gpointer opaque)
{
    QsdState *s = opaque;

    s->quit = true;
    return G_SOURCE_CONTINUE;
}

/* Options that act at once (help, version, tracing, daemonizing). */
static void qsd_parse_early(QsdState *s, int argc, char **argv)
{
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hT:V", qsd_long_options,
                            NULL)) != -1) {
        Error *local_err = NULL;

        switch (c) {
        case '?':
            if (optopt && optopt < 256) {
                error_report("invalid option -- '%c'", optopt);
            } else {
                error_report("unrecognized option '%s'", argv[optind - 1]);
            }
            exit(EXIT_FAILURE);
        case ':':
            if (optopt && optopt < 256) {
                error_report("option requires an argument -- '%c'", optopt);
            } else {
                error_report("option '%s' requires an argument",
                             argv[optind - 1]);
            }
            exit(EXIT_FAILURE);
        case 'h':
            qsd_help();
            exit(EXIT_SUCCESS);
        case 'V':
            printf("qemu-storage-daemon version %s\n", QEMU_VERSION);
            exit(EXIT_SUCCESS);
        case 'T':
            if (!trace_opt_parse(optarg, &local_err)) {
                error_report_err(local_err);
                exit(EXIT_FAILURE);
            }
            break;
        case OPTION_DAEMONIZE:
            s->ready_fd = 0;
            break;
        case OPTION_PIDFILE:
            g_free(s->pidfile);
            s->pidfile = g_strdup(optarg);
            break;
        default:
            break;
        }
    }
    if (optind < argc) {
        error_report("%s: Unexpected argument", argv[optind]);
        exit(EXIT_FAILURE);
    }
}

/*
 * Acts on the options in the order given. Returns false after reporting
 * the first failure, prefixed with its option as QEMU does.
 */
static bool qsd_process_options(QsdState *s, int argc, char **argv)
{
    int c, index;

    optind = 1;
    while ((c = getopt_long(argc, argv, ":hT:V", qsd_long_options,
                            &index)) != -1) {
        Error *local_err = NULL;
        bool ok;

        switch (c) {
        case OPTION_BLOCKDEV:
            ok = qsd_add_blockdev(s, optarg, &local_err);
            break;
        case OPTION_CHARDEV:
            ok = qsd_add_chardev(s, optarg, &local_err);
            break;
        case OPTION_EXPORT:
            ok = qsd_add_export(s, optarg, &local_err);
            break;
        case OPTION_MONITOR:
            ok = qsd_add_monitor(s, optarg, &local_err);
            break;
        case OPTION_NBD_SERVER:
            ok = qsd_add_nbd_server(s, optarg, &local_err);
            break;
        case OPTION_OBJECT:
            ok = qsd_add_object(s, optarg, &local_err);
            break;
        default:
            continue;
        }
        if (!ok) {
            error_reportf_err(local_err, "--%s %s: ",
                              qsd_long_options[index].name, optarg);
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    QsdState s = {
        .ready_fd = -1,
    };
    Error *local_err = NULL;
    int ret = EXIT_SUCCESS;

    error_set_progname(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    qsd_parse_early(&s, argc, argv);
    if (s.ready_fd == 0) {
        /* --daemonize: the parent exits once every export listens. */
        s.ready_fd = qemu_daemon_fork(&local_err);
        if (s.ready_fd < 0) {
            error_report_err(local_err);
            exit(EXIT_FAILURE);
        }
    }
    if (qemu_init_main_loop(&local_err) < 0) {
        error_report_err(local_err);
        exit(EXIT_FAILURE);
    }
    s.nodes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify)bdrv_unref);
    s.exports = g_ptr_array_new();
    s.chardevs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)
                                       qapi_free_SocketAddress);
    s.qmp = qmp_server_new(qsd_commands, &s, qsd_version_object());

    if (!qsd_process_options(&s, argc, argv)) {
        s.quit = true;
        ret = EXIT_FAILURE;
    } else if (s.pidfile) {
        qsd_write_pidfile(&s);
    }
    g_unix_signal_add(SIGTERM, qsd_on_signal, &s);
    g_unix_signal_add(SIGINT, qsd_on_signal, &s);
    g_unix_signal_add(SIGHUP, qsd_on_signal, &s);
    if (!s.quit) {
        qemu_daemon_ready(&s.ready_fd, false);
    }

    while (!s.quit) {
        main_loop_wait(false);
    }

    /* Monitors first (no command runs during the teardown). */
    qmp_server_free(s.qmp);
    s.qmp = NULL;
    if (s.nbd) {
        qsd_nbd_server_stop_all(&s);
    }
    g_hash_table_destroy(s.nodes);
    g_ptr_array_free(s.exports, true);
    g_hash_table_destroy(s.chardevs);
    user_creatable_cleanup();
    if (s.pidfile_written) {
        unlink(s.pidfile);
    }
    g_free(s.pidfile);
    return ret;
}
