/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nbd driver's file names and runtime options: pure parsing (no I/O,
 * no state, any thread). File names become options (nbd_parse_filename);
 * the options are declared once, in nbd_option_descs[], with their type,
 * limits and help text, and nbd_options_parse() reads them all from that
 * table, so a help listing and every error message tell the same story.
 */
#include "qemu/osdep.h"
#include "block/nbd.h"
#include "block/nbd-uri.h"
#include "qemu/cutils.h"
#include "qapi/error.h"

#define NBD_OPT_MAX_SECONDS     3600
#define NBD_OPT_MAX_MULTI_CONN  16

#define NBD_OPT_STR(key, field, maxlen, text) { \
        .name = (key), .type = NBD_OPTION_TYPE_STRING, \
        .max_len = (maxlen), \
        .offset = offsetof(NBDDriverOptions, field), .help = (text) }
#define NBD_OPT_BOOL(key, field, dflt, text) { \
        .name = (key), .type = NBD_OPTION_TYPE_BOOL, .def = (dflt), \
        .offset = offsetof(NBDDriverOptions, field), .help = (text) }
#define NBD_OPT_UINT(key, field, dflt, lo, hi, text) { \
        .name = (key), .type = NBD_OPTION_TYPE_UINT, .def = (dflt), \
        .min = (lo), .max = (hi), \
        .offset = offsetof(NBDDriverOptions, field), .help = (text) }

/*
 * Every runtime option of the driver. The last three are the old flat
 * spelling of the server address: they are read only when no server.*
 * key is given (nbd_options_parse()).
 */
const NBDOptionDesc nbd_option_descs[] = {
    NBD_OPT_STR("server.type", server_type, 0,
                "transport of the NBD server: inet or unix"),
    NBD_OPT_STR("server.host", server_host, 0,
                "host name or address of an inet server"),
    NBD_OPT_STR("server.port", server_port, 0,
                "TCP port of an inet server (default "
                G_STRINGIFY(NBD_DEFAULT_PORT) ")"),
    NBD_OPT_STR("server.path", server_path, 0,
                "socket path of a unix server"),
    NBD_OPT_STR("export", export, NBD_MAX_STRING_SIZE,
                "name of the export (default: the server's default "
                "export, \"\")"),
    NBD_OPT_STR("tls-creds", tls_creds, 0,
                "id of the tls-creds object to connect with TLS"),
    NBD_OPT_STR("tls-hostname", tls_hostname, 0,
                "host name the server's certificate must carry (default: "
                "server.host); needs tls-creds"),
    NBD_OPT_BOOL("tls-required", tls_required, false,
                 "refuse to connect without TLS (nbds:// file names set "
                 "it); needs tls-creds"),
    NBD_OPT_UINT("reconnect-delay", reconnect_delay, 0, 0,
                 NBD_OPT_MAX_SECONDS,
                 "seconds during which requests wait for a reconnection "
                 "after the connection breaks (0: they fail at once)"),
    NBD_OPT_UINT("open-timeout", open_timeout, 0, 0, NBD_OPT_MAX_SECONDS,
                 "seconds to keep retrying the first connection at open "
                 "(0: one attempt)"),
    NBD_OPT_UINT("multi-conn", multi_conn, 1, 1, NBD_OPT_MAX_MULTI_CONN,
                 "connections to open when the server allows several "
                 "(NBD_FLAG_CAN_MULTI_CONN)"),
    NBD_OPT_STR("path", path, 0, "old spelling of server.path"),
    NBD_OPT_STR("host", host, 0, "old spelling of server.host"),
    NBD_OPT_STR("port", port, 0, "old spelling of server.port"),
    { .name = NULL },
};

/* The first of the old flat spelling's entries in the table. */
#define NBD_OPT_FIRST_LEGACY "path"

const NBDOptionDesc *nbd_option_find(const char *name)
{
    for (const NBDOptionDesc *d = nbd_option_descs; d->name; d++) {
        if (!strcmp(d->name, name)) {
            return d;
        }
    }
    return NULL;
}

static const char *nbd_option_type_name(NBDOptionType type)
{
    switch (type) {
    case NBD_OPTION_TYPE_BOOL:
        return "bool (on/off)";
    case NBD_OPTION_TYPE_UINT:
        return "num";
    default:
        return "str";
    }
}

char *nbd_options_help(void)
{
    GString *out = g_string_new("nbd options:\n");

    for (const NBDOptionDesc *d = nbd_option_descs; d->name; d++) {
        g_string_append_printf(out, "  %s=<%s>", d->name,
                               nbd_option_type_name(d->type));
        if (d->type == NBD_OPTION_TYPE_UINT) {
            g_string_append_printf(out, " (%" PRIu64 "-%" PRIu64
                                   ", default %" PRIu64 ")",
                                   d->min, d->max, d->def);
        }
        g_string_append_printf(out, " - %s\n", d->help);
    }
    return g_string_free(out, false);
}

/* Sets @errp to "option: what (help)", the shape of every option error. */
static void G_GNUC_PRINTF(3, 4) nbd_option_error(Error **errp,
                                                 const NBDOptionDesc *d,
                                                 const char *fmt, ...)
{
    g_autofree char *what = NULL;
    va_list ap;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    error_setg(errp, "nbd option '%s': %s (%s)", d->name, what, d->help);
}

/* Reads the option @d describes from @kv into its field of @opts. */
static bool nbd_option_read(const KeyVal *kv, const NBDOptionDesc *d,
                            NBDDriverOptions *opts, Error **errp)
{
    void *field = (char *)opts + d->offset;
    Error *local_err = NULL;

    switch (d->type) {
    case NBD_OPTION_TYPE_STRING: {
        const char *v = keyval_get(kv, d->name);

        if (v && d->max_len && strlen(v) > d->max_len) {
            nbd_option_error(errp, d, "longer than %zu bytes", d->max_len);
            return false;
        }
        *(const char **)field = v;
        return true;
    }
    case NBD_OPTION_TYPE_BOOL:
        if (!keyval_get_bool(kv, d->name, d->def, field, &local_err)) {
            nbd_option_error(errp, d, "%s", error_get_pretty(local_err));
            error_free(local_err);
            return false;
        }
        return true;
    case NBD_OPTION_TYPE_UINT: {
        uint64_t *v = field;

        if (!keyval_get_uint64(kv, d->name, d->def, v, &local_err)) {
            nbd_option_error(errp, d, "%s", error_get_pretty(local_err));
            error_free(local_err);
            return false;
        }
        if (*v < d->min || *v > d->max) {
            nbd_option_error(errp, d, "must be between %" PRIu64 " and %"
                             PRIu64, d->min, d->max);
            return false;
        }
        return true;
    }
    }
    g_assert_not_reached();
}

bool nbd_options_parse(const KeyVal *kv, NBDDriverOptions *opts,
                       Error **errp)
{
    const NBDOptionDesc *d;

    memset(opts, 0, sizeof(*opts));
    for (d = nbd_option_descs; strcmp(d->name, NBD_OPT_FIRST_LEGACY); d++) {
        if (!nbd_option_read(kv, d, opts, errp)) {
            return false;
        }
    }
    /* The old flat spelling: path=, host=, port=. */
    if (!opts->server_type && !opts->server_path && !opts->server_host) {
        for (; d->name; d++) {
            if (!nbd_option_read(kv, d, opts, errp)) {
                return false;
            }
        }
    }
    if (opts->tls_required && !opts->tls_creds) {
        nbd_option_error(errp, nbd_option_find("tls-creds"),
                         "TLS (nbds) needs the tls-creds option");
        return false;
    }
    if (opts->tls_hostname && !opts->tls_creds) {
        nbd_option_error(errp, nbd_option_find("tls-hostname"),
                         "tls-hostname needs tls-creds");
        return false;
    }
    return true;
}

SocketAddress *nbd_options_address(const NBDDriverOptions *opts,
                                   Error **errp)
{
    const char *type = opts->server_type;
    const char *path = opts->server_path;
    const char *host = opts->server_host;
    const char *port = opts->server_port;
    SocketAddress *addr;

    if (!type && !path && !host) {
        path = opts->path;
        host = opts->host;
        port = opts->port;
        type = path ? "unix" : host ? "inet" : NULL;
    }
    if (!type) {
        nbd_option_error(errp, nbd_option_find("server.type"),
                         "NBD server address missing (give server.type "
                         "and server.path or server.host)");
        return NULL;
    }
    addr = g_new0(SocketAddress, 1);
    if (!strcmp(type, "unix")) {
        if (!path || !*path || host) {
            nbd_option_error(errp, nbd_option_find("server.path"),
                             "a UNIX socket NBD server needs server.path "
                             "(and no host)");
            goto fail;
        }
        addr->type = SOCKET_ADDRESS_TYPE_UNIX;
        addr->u.q_unix.path = g_strdup(path);
    } else if (!strcmp(type, "inet")) {
        if (!host || !*host || path) {
            nbd_option_error(errp, nbd_option_find("server.host"),
                             "a TCP NBD server needs server.host "
                             "(and no path)");
            goto fail;
        }
        addr->type = SOCKET_ADDRESS_TYPE_INET;
        addr->u.inet.host = g_strdup(host);
        addr->u.inet.port = g_strdup(port ? port :
                                     G_STRINGIFY(NBD_DEFAULT_PORT));
    } else {
        nbd_option_error(errp, nbd_option_find("server.type"),
                         "unknown NBD server.type '%s'", type);
        goto fail;
    }
    return addr;

fail:
    qapi_free_SocketAddress(addr);
    return NULL;
}

/* File names */

/* %XX decoding of a URI component; NULL on a bad escape. */
static char *nbd_uri_unescape(const char *str, size_t len)
{
    GString *out = g_string_sized_new(len);

    for (size_t i = 0; i < len; i++) {
        if (str[i] == '%') {
            int hi, lo;

            if (len - i < 3) {
                g_string_free(out, true);
                return NULL;
            }
            hi = g_ascii_xdigit_value(str[i + 1]);
            lo = g_ascii_xdigit_value(str[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                g_string_free(out, true);
                return NULL;
            }
            g_string_append_c(out, hi << 4 | lo);
            i += 2;
        } else {
            g_string_append_c(out, str[i]);
        }
    }
    return g_string_free(out, false);
}

static bool nbd_parse_uri(const char *filename, KeyVal *options,
                          Error **errp)
{
    const char *rest, *path, *query;
    g_autofree char *export = NULL;
    g_autofree char *authority = NULL;
    bool is_unix, is_tls;

    if (strstart(filename, "nbd://", &rest)) {
        is_unix = false, is_tls = false;
    } else if (strstart(filename, "nbds://", &rest)) {
        is_unix = false, is_tls = true;
    } else if (strstart(filename, "nbd+unix://", &rest)) {
        is_unix = true, is_tls = false;
    } else if (strstart(filename, "nbds+unix://", &rest)) {
        is_unix = true, is_tls = true;
    } else if (strstart(filename, "nbd+tcp://", &rest)) {
        is_unix = false, is_tls = false;
    } else if (strstart(filename, "nbds+tcp://", &rest)) {
        is_unix = false, is_tls = true;
    } else {
        error_setg(errp, "NBD URI '%s' has an unknown scheme", filename);
        return false;
    }
    path = rest + strcspn(rest, "/?#");
    authority = g_strndup(rest, path - rest);
    if (*path == '#' || strchr(path, '#')) {
        error_setg(errp, "NBD URI '%s' may not have a fragment", filename);
        return false;
    }
    query = strchr(path, '?');
    if (*path == '/') {
        export = nbd_uri_unescape(path + 1, (query ? query : path +
                                             strlen(path)) - path - 1);
        if (!export) {
            error_setg(errp, "NBD URI '%s' has a bad %%-escape", filename);
            return false;
        }
    }
    if (export && !keyval_add(options, "export", export, errp)) {
        return false;
    }
    if (is_tls && !keyval_add(options, "tls-required", "on", errp)) {
        return false;
    }

    if (is_unix) {
        g_autofree char *sock = NULL;

        if (*authority) {
            error_setg(errp, "NBD URI '%s': a UNIX socket URI has no host",
                       filename);
            return false;
        }
        if (!query || !strstart(query + 1, "socket=", &rest) ||
            strchr(rest, '&')) {
            error_setg(errp, "NBD URI '%s' needs exactly one query "
                       "parameter: ?socket=PATH", filename);
            return false;
        }
        sock = nbd_uri_unescape(rest, strlen(rest));
        if (!sock || !*sock) {
            error_setg(errp, "NBD URI '%s' has a bad socket path", filename);
            return false;
        }
        return keyval_add(options, "server.type", "unix", errp) &&
               keyval_add(options, "server.path", sock, errp);
    } else {
        g_autofree char *host = NULL;
        const char *port = NULL;

        if (query) {
            error_setg(errp, "NBD URI '%s': TCP URIs take no query "
                       "parameters", filename);
            return false;
        }
        if (authority[0] == '[') {
            char *end = strchr(authority, ']');

            if (!end || (end[1] && end[1] != ':')) {
                error_setg(errp, "NBD URI '%s' has a bad IPv6 address",
                           filename);
                return false;
            }
            host = g_strndup(authority + 1, end - authority - 1);
            port = end[1] ? end + 2 : NULL;
        } else {
            char *colon = strchr(authority, ':');

            host = g_strndup(authority, colon ? colon - authority :
                             (ptrdiff_t)strlen(authority));
            port = colon ? colon + 1 : NULL;
        }
        if (!*host) {
            error_setg(errp, "NBD URI '%s' has no host", filename);
            return false;
        }
        if (port && (!*port || strspn(port, "0123456789") != strlen(port))) {
            error_setg(errp, "NBD URI '%s' has a bad port", filename);
            return false;
        }
        return keyval_add(options, "server.type", "inet", errp) &&
               keyval_add(options, "server.host", host, errp) &&
               keyval_add(options, "server.port",
                          port ? port : G_STRINGIFY(NBD_DEFAULT_PORT), errp);
    }
}

/* The legacy form nbd:unix:PATH[:exportname=X] or nbd:HOST:PORT[:...]. */
static bool nbd_parse_legacy(const char *filename, KeyVal *options,
                             Error **errp)
{
    const char *rest = filename + strlen("nbd:");
    g_autofree char *spec = NULL;
    const char *export = strstr(rest, ":exportname=");

    spec = g_strndup(rest, export ? export - rest :
                     (ptrdiff_t)strlen(rest));
    if (export && !keyval_add(options, "export",
                              export + strlen(":exportname="), errp)) {
        return false;
    }
    if (g_str_has_prefix(spec, "unix:")) {
        if (!spec[5]) {
            error_setg(errp, "NBD file name '%s' has no socket path",
                       filename);
            return false;
        }
        return keyval_add(options, "server.type", "unix", errp) &&
               keyval_add(options, "server.path", spec + 5, errp);
    } else {
        char *colon = strrchr(spec, ':');

        if (!colon || colon == spec || !colon[1]) {
            error_setg(errp, "NBD file name '%s' should be nbd:HOST:PORT "
                       "or nbd:unix:PATH", filename);
            return false;
        }
        *colon = '\0';
        if (spec[0] == '[' && colon[-1] == ']') {
            colon[-1] = '\0';
            memmove(spec, spec + 1, strlen(spec));
        }
        return keyval_add(options, "server.type", "inet", errp) &&
               keyval_add(options, "server.host", spec, errp) &&
               keyval_add(options, "server.port", colon + 1, errp);
    }
}

bool nbd_parse_filename(const char *filename, KeyVal *options,
                        Error **errp)
{
    if (strstr(filename, "://")) {
        return nbd_parse_uri(filename, options, errp);
    }
    if (g_str_has_prefix(filename, "nbd:")) {
        return nbd_parse_legacy(filename, options, errp);
    }
    error_setg(errp, "'%s' is not an NBD file name", filename);
    return false;
}

