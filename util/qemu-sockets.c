/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Socket addresses: parsing, formatting, resolving, and the blocking
 * listen/connect that the socket channel and the programs build on.
 */
#include "qemu/osdep.h"

#include <netdb.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "qemu/sockets.h"
#include "qemu/cutils.h"
#include "qapi/error.h"

int socket_init(void)
{
    return 0;
}

/* Addresses */

static void inet_address_clear(InetSocketAddress *inet)
{
    g_free(inet->host);
    g_free(inet->port);
    memset(inet, 0, sizeof(*inet));
}

void qapi_free_SocketAddress(SocketAddress *addr)
{
    if (!addr) {
        return;
    }
    switch (addr->type) {
    case SOCKET_ADDRESS_TYPE_INET:
        inet_address_clear(&addr->u.inet);
        break;
    case SOCKET_ADDRESS_TYPE_UNIX:
        g_free(addr->u.q_unix.path);
        break;
    case SOCKET_ADDRESS_TYPE_FD:
        g_free(addr->u.fd.str);
        break;
    case SOCKET_ADDRESS_TYPE_VSOCK:
        break;
    }
    g_free(addr);
}

SocketAddress *socket_address_dup(const SocketAddress *addr)
{
    SocketAddress *copy = g_new(SocketAddress, 1);

    *copy = *addr;
    switch (addr->type) {
    case SOCKET_ADDRESS_TYPE_INET:
        copy->u.inet.host = g_strdup(addr->u.inet.host);
        copy->u.inet.port = g_strdup(addr->u.inet.port);
        break;
    case SOCKET_ADDRESS_TYPE_UNIX:
        copy->u.q_unix.path = g_strdup(addr->u.q_unix.path);
        break;
    case SOCKET_ADDRESS_TYPE_FD:
        copy->u.fd.str = g_strdup(addr->u.fd.str);
        break;
    case SOCKET_ADDRESS_TYPE_VSOCK:
        break;
    }
    return copy;
}

char *socket_address_to_string(const SocketAddress *addr)
{
    const InetSocketAddress *inet;

    switch (addr->type) {
    case SOCKET_ADDRESS_TYPE_INET:
        inet = &addr->u.inet;
        if (inet->host && strchr(inet->host, ':')) {
            return g_strdup_printf("[%s]:%s", inet->host, inet->port);
        }
        return g_strdup_printf("%s:%s", inet->host ? inet->host : "",
                               inet->port);
    case SOCKET_ADDRESS_TYPE_UNIX:
        return g_strdup_printf("unix:%s", addr->u.q_unix.path);
    case SOCKET_ADDRESS_TYPE_FD:
        return g_strdup_printf("fd:%s", addr->u.fd.str);
    case SOCKET_ADDRESS_TYPE_VSOCK:
        break;
    }
    return g_strdup("vsock:");
}

/* Parsing */

/* A port is a number up to 65535 or a service name such as "nbd". */
static bool port_is_valid(const char *port)
{
    unsigned int n;
    const char *p;

    if (g_ascii_isdigit(port[0])) {
        return qemu_strtoui(port, NULL, 10, &n) == 0 && n <= 65535;
    }
    if (!g_ascii_isalpha(port[0])) {
        return false;
    }
    for (p = port; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-') {
            return false;
        }
    }
    return true;
}

/* An option flag: "name" or "name=on" is true, "name=off" false. */
static bool parse_flag(const char *value, bool *flag)
{
    if (!value || !strcmp(value, "on")) {
        *flag = true;
    } else if (!strcmp(value, "off")) {
        *flag = false;
    } else {
        return false;
    }
    return true;
}

static int inet_parse_option(InetSocketAddress *addr, const char *str,
                             const char *opt, Error **errp)
{
    g_autofree char *key = g_strdup(opt);
    char *value = strchr(key, '=');
    unsigned int to;
    bool *has, *flag;

    if (value) {
        *value++ = '\0';
    }
    if (!strcmp(key, "to")) {
        if (!value || qemu_strtoui(value, NULL, 10, &to) < 0 ||
            to > 65535) {
            error_setg(errp, "address '%s': option 'to' needs a port "
                       "number", str);
            return -1;
        }
        addr->has_to = true;
        addr->to = to;
        return 0;
    }
    if (!strcmp(key, "ipv4")) {
        has = &addr->has_ipv4;
        flag = &addr->ipv4;
    } else if (!strcmp(key, "ipv6")) {
        has = &addr->has_ipv6;
        flag = &addr->ipv6;
    } else if (!strcmp(key, "numeric")) {
        has = &addr->has_numeric;
        flag = &addr->numeric;
    } else if (!strcmp(key, "keep-alive")) {
        has = &addr->has_keep_alive;
        flag = &addr->keep_alive;
    } else {
        error_setg(errp, "address '%s': unknown option '%s'", str, key);
        return -1;
    }
    if (!parse_flag(value, flag)) {
        error_setg(errp, "address '%s': option '%s' takes 'on' or 'off'",
                   str, key);
        return -1;
    }
    *has = true;
    return 0;
}

int inet_parse(InetSocketAddress *addr, const char *str, Error **errp)
{
    g_autofree char *host = NULL;
    g_autofree char *port = NULL;
    const char *p, *end, *opts;
    unsigned int port_num;
    g_auto(GStrv) optv = NULL;
    size_t i;

    memset(addr, 0, sizeof(*addr));
    if (str[0] == '[') {
        end = strchr(str, ']');
        if (!end) {
            error_setg(errp, "address '%s': missing ']' after the IPv6 "
                       "address", str);
            return -1;
        }
        host = g_strndup(str + 1, end - str - 1);
        p = end + 1;
        if (*p != ':') {
            error_setg(errp, "address '%s': missing ':PORT' after the "
                       "host", str);
            return -1;
        }
    } else {
        end = str + strcspn(str, ",");
        p = memchr(str, ':', end - str);
        if (!p) {
            error_setg(errp, "address '%s': missing ':PORT' after the "
                       "host", str);
            return -1;
        }
        if (memchr(p + 1, ':', end - p - 1)) {
            error_setg(errp, "address '%s': an IPv6 address must be "
                       "written in brackets, as [ADDRESS]:PORT", str);
            return -1;
        }
        host = g_strndup(str, p - str);
    }
    p++;                                /* past the ':' */
    end = p + strcspn(p, ",");
    port = g_strndup(p, end - p);
    if (!port[0]) {
        error_setg(errp, "address '%s': missing port", str);
        return -1;
    }
    if (!port_is_valid(port)) {
        error_setg(errp, "address '%s': invalid port '%s' (a number up to "
                   "65535 or a service name)", str, port);
        return -1;
    }

    opts = *end ? end + 1 : NULL;
    if (opts) {
        optv = g_strsplit(opts, ",", -1);
        for (i = 0; optv[i]; i++) {
            if (inet_parse_option(addr, str, optv[i], errp) < 0) {
                memset(addr, 0, sizeof(*addr));
                return -1;
            }
        }
    }
    if (addr->has_to) {
        if (qemu_strtoui(port, NULL, 10, &port_num) < 0) {
            error_setg(errp, "address '%s': a port range needs a numeric "
                       "port", str);
            memset(addr, 0, sizeof(*addr));
            return -1;
        }
        if (addr->to < port_num) {
            error_setg(errp, "address '%s': 'to' (%u) is below the port "
                       "(%u)", str, addr->to, port_num);
            memset(addr, 0, sizeof(*addr));
            return -1;
        }
    }
    addr->host = g_steal_pointer(&host);
    addr->port = g_steal_pointer(&port);
    return 0;
}

/*
 * Whether @path fits in sun_path: a path needs room for its NUL, an
 * abstract name for its leading NUL; the same one byte either way.
 */
static bool unix_path_fits(const char *path)
{
    return strlen(path) + 1 <= sizeof(((struct sockaddr_un *)0)->sun_path);
}

SocketAddress *socket_parse(const char *str, Error **errp)
{
    g_autoptr(SocketAddress) addr = g_new0(SocketAddress, 1);
    const char *rest;

    if (strstart(str, "unix:", &rest)) {
        if (!rest[0]) {
            error_setg(errp, "UNIX socket address '%s': empty path", str);
            return NULL;
        }
        if (!unix_path_fits(rest)) {
            error_setg(errp, "UNIX socket path '%s' is too long (at most "
                       "%zu bytes)", rest,
                       sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
            return NULL;
        }
        addr->type = SOCKET_ADDRESS_TYPE_UNIX;
        addr->u.q_unix.path = g_strdup(rest);
    } else if (strstart(str, "fd:", &rest)) {
        if (!rest[0]) {
            error_setg(errp, "fd address '%s': missing file descriptor",
                       str);
            return NULL;
        }
        addr->type = SOCKET_ADDRESS_TYPE_FD;
        addr->u.fd.str = g_strdup(rest);
    } else if (strstart(str, "vsock:", NULL)) {
        error_setg(errp, "address '%s': vsock sockets are not supported",
                   str);
        return NULL;
    } else {
        strstart(str, "tcp:", &str);
        addr->type = SOCKET_ADDRESS_TYPE_INET;
        if (inet_parse(&addr->u.inet, str, errp) < 0) {
            return NULL;
        }
    }
    return g_steal_pointer(&addr);
}

/* Resolving */

static int inet_family(const InetSocketAddress *inet)
{
    bool want4 = inet->has_ipv4 && inet->ipv4;
    bool want6 = inet->has_ipv6 && inet->ipv6;
    bool no4 = inet->has_ipv4 && !inet->ipv4;
    bool no6 = inet->has_ipv6 && !inet->ipv6;

    if (want4 && want6) {
        return AF_UNSPEC;
    }
    if (want6 || no4) {
        return AF_INET6;
    }
    if (want4 || no6) {
        return AF_INET;
    }
    return AF_UNSPEC;
}

/* An IPv6 socket also serves IPv4 unless one family alone was asked for. */
static bool inet_dual_stack(const InetSocketAddress *inet)
{
    if (!inet->has_ipv4 && !inet->has_ipv6) {
        return true;
    }
    return inet->has_ipv4 && inet->ipv4 && inet->has_ipv6 && inet->ipv6;
}

static const char *inet_host_or_null(const InetSocketAddress *inet)
{
    return inet->host && inet->host[0] ? inet->host : NULL;
}

/* The host as messages show it ("" for any). */
static const char *inet_host_text(const InetSocketAddress *inet)
{
    return inet->host ? inet->host : "";
}

static struct addrinfo *inet_lookup(const InetSocketAddress *inet,
                                    bool passive, Error **errp)
{
    struct addrinfo hints = {
        .ai_family = inet_family(inet),
        .ai_socktype = SOCK_STREAM,
        .ai_flags = passive ? AI_PASSIVE : 0,
    };
    struct addrinfo *res = NULL;
    int rc;

    if (inet->has_numeric && inet->numeric) {
        hints.ai_flags |= AI_NUMERICHOST;
    }
    rc = getaddrinfo(inet_host_or_null(inet), inet->port, &hints, &res);
    if (rc != 0) {
        error_setg(errp, "address resolution failed for %s:%s: %s",
                   inet_host_text(inet), inet->port,
                   rc == EAI_SYSTEM ? g_strerror(errno) : gai_strerror(rc));
        return NULL;
    }
    return res;
}

int socket_address_resolve_listen(const SocketAddress *addr, size_t *naddrs,
                                  SocketAddress ***addrs, Error **errp)
{
    const InetSocketAddress *inet = &addr->u.inet;
    g_autoptr(GPtrArray) out = NULL;
    struct addrinfo *res, *e;
    char host[NI_MAXHOST];
    int rc;
    guint i;

    *naddrs = 0;
    *addrs = NULL;
    if (addr->type != SOCKET_ADDRESS_TYPE_INET) {
        *addrs = g_new(SocketAddress *, 1);
        (*addrs)[0] = socket_address_dup(addr);
        *naddrs = 1;
        return 0;
    }

    res = inet_lookup(inet, true, errp);
    if (!res) {
        return -1;
    }
    out = g_ptr_array_new_with_free_func(
        (GDestroyNotify)qapi_free_SocketAddress);
    for (e = res; e; e = e->ai_next) {
        SocketAddress *one;
        bool seen = false;

        rc = getnameinfo(e->ai_addr, e->ai_addrlen, host, sizeof(host),
                         NULL, 0, NI_NUMERICHOST);
        if (rc != 0) {
            error_setg(errp, "cannot format an address of %s:%s: %s",
                       inet_host_text(inet), inet->port, gai_strerror(rc));
            freeaddrinfo(res);
            return -1;
        }
        for (i = 0; i < out->len; i++) {
            SocketAddress *prev = g_ptr_array_index(out, i);

            seen |= !strcmp(prev->u.inet.host, host);
        }
        if (seen) {
            continue;
        }
        one = socket_address_dup(addr);
        g_free(one->u.inet.host);
        one->u.inet.host = g_strdup(host);
        one->u.inet.has_numeric = one->u.inet.numeric = true;
        g_ptr_array_add(out, one);
    }
    freeaddrinfo(res);

    *naddrs = out->len;
    g_ptr_array_set_free_func(out, NULL);
    *addrs = (SocketAddress **)g_ptr_array_free(g_steal_pointer(&out),
                                                FALSE);
    return 0;
}

/* Low-level helpers */

int qemu_socket(int domain, int type, int protocol)
{
    return socket(domain, type | SOCK_CLOEXEC, protocol);
}

int qemu_accept(int s, struct sockaddr *addr, socklen_t *addrlen)
{
    return accept4(s, addr, addrlen, SOCK_CLOEXEC);
}

int socket_set_nodelay(int fd)
{
    int v = 1;

    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v));
}

int socket_set_cork(int fd, int v)
{
    return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
}

static int set_fl_nonblock(int fd, bool nonblock)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0) {
        return -errno;
    }
    flags = nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    if (fcntl(fd, F_SETFL, flags) < 0) {
        return -errno;
    }
    return 0;
}

int qemu_socket_set_nonblock(int fd)
{
    return set_fl_nonblock(fd, true);
}

int qemu_socket_set_block(int fd)
{
    return set_fl_nonblock(fd, false);
}

bool fd_is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/*
 * connect(2), finishing a connect that a signal interrupted: the kernel
 * goes on with it, so wait for it and fetch its outcome.
 * Returns 0 or -1 with errno set.
 */
static int connect_retrying(int fd, const struct sockaddr *sa,
                            socklen_t salen)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    socklen_t len = sizeof(int);
    int err = 0;

    if (connect(fd, sa, salen) == 0) {
        return 0;
    }
    if (errno != EINTR) {
        return -1;
    }
    while (poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR) {
            return -1;
        }
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return -1;
    }
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/* fd: addresses */

static int socket_get_fd(const char *fdstr, Error **errp)
{
    int fd;

    if (qemu_strtoi(fdstr, NULL, 10, &fd) < 0 || fd < 0) {
        error_setg(errp, "fd address 'fd:%s': file descriptor names are "
                   "not supported, give a number", fdstr);
        return -1;
    }
    if (!fd_is_socket(fd)) {
        error_setg(errp, "file descriptor %d is not an open socket", fd);
        return -1;
    }
    return fd;
}

/* UNIX sockets */

static socklen_t unix_sockaddr(const UnixSocketAddress *saddr,
                               struct sockaddr_un *un, Error **errp)
{
    bool abstract = saddr->has_abstract && saddr->abstract;
    bool tight = !saddr->has_tight || saddr->tight;
    size_t len;

    if (!saddr->path || !saddr->path[0]) {
        error_setg(errp, "UNIX socket address has an empty path");
        return 0;
    }
    len = strlen(saddr->path);
    if (!unix_path_fits(saddr->path)) {
        error_setg(errp, "UNIX socket path '%s' is too long (at most %zu "
                   "bytes)", saddr->path, sizeof(un->sun_path) - 1);
        return 0;
    }
    memset(un, 0, sizeof(*un));
    un->sun_family = AF_UNIX;
    if (abstract) {
        memcpy(un->sun_path + 1, saddr->path, len);
        if (tight) {
            return offsetof(struct sockaddr_un, sun_path) + 1 + len;
        }
        return sizeof(*un);
    }
    memcpy(un->sun_path, saddr->path, len);
    return offsetof(struct sockaddr_un, sun_path) + len + 1;
}

static int unix_listen_saddr(const UnixSocketAddress *saddr, int num,
                             Error **errp)
{
    struct sockaddr_un un;
    socklen_t unlen = unix_sockaddr(saddr, &un, errp);
    bool abstract = saddr->has_abstract && saddr->abstract;
    struct stat st;
    int fd;

    if (!unlen) {
        return -1;
    }
    fd = qemu_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Failed to create a UNIX socket");
        return -1;
    }
    /* A socket left behind by an earlier run would make bind() fail. */
    if (!abstract && lstat(saddr->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
        unlink(saddr->path) < 0 && errno != ENOENT) {
        error_setg_errno(errp, errno, "Failed to remove stale socket '%s'",
                         saddr->path);
        goto fail;
    }
    if (bind(fd, (struct sockaddr *)&un, unlen) < 0) {
        error_setg_errno(errp, errno, "Failed to bind socket to '%s'",
                         saddr->path);
        goto fail;
    }
    if (listen(fd, num) < 0) {
        error_setg_errno(errp, errno, "Failed to listen on socket '%s'",
                         saddr->path);
        if (!abstract) {
            unlink(saddr->path);
        }
        goto fail;
    }
    return fd;

fail:
    close(fd);
    return -1;
}

static int unix_connect_saddr(const UnixSocketAddress *saddr, Error **errp)
{
    struct sockaddr_un un;
    socklen_t unlen = unix_sockaddr(saddr, &un, errp);
    int fd;

    if (!unlen) {
        return -1;
    }
    fd = qemu_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Failed to create a UNIX socket");
        return -1;
    }
    if (connect_retrying(fd, (struct sockaddr *)&un, unlen) < 0) {
        error_setg_errno(errp, errno, "Failed to connect to '%s'",
                         saddr->path);
        close(fd);
        return -1;
    }
    return fd;
}

/* TCP sockets */

static void sockaddr_set_port(struct sockaddr *sa, unsigned int port)
{
    if (sa->sa_family == AF_INET) {
        ((struct sockaddr_in *)sa)->sin_port = htons(port);
    } else if (sa->sa_family == AF_INET6) {
        ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
    }
}

/*
 * Binds @fd to @e. A dual-stack IPv6 bind that finds the port taken
 * (usually by an IPv4 socket on the same port) retries IPv6 only.
 */
static int inet_bind(int fd, const InetSocketAddress *inet,
                     const struct addrinfo *e)
{
    int v6only = !inet_dual_stack(inet);

    for (;;) {
        if (e->ai_family == AF_INET6) {
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
                       sizeof(v6only));
        }
        if (bind(fd, e->ai_addr, e->ai_addrlen) == 0) {
            return 0;
        }
        if (e->ai_family != AF_INET6 || errno != EADDRINUSE || v6only) {
            return -1;
        }
        v6only = 1;
    }
}

static int inet_listen_saddr(const InetSocketAddress *inet, int num,
                             Error **errp)
{
    struct addrinfo *res, *e;
    unsigned int port = 0, port_max = 0, p;
    int fd, saved_errno = 0;
    int one = 1;

    if (inet->has_to) {
        if (qemu_strtoui(inet->port, NULL, 10, &port) < 0 ||
            inet->to < port) {
            error_setg(errp, "address %s:%s: invalid port range up to %u",
                       inet_host_text(inet), inet->port, inet->to);
            return -1;
        }
        port_max = inet->to;
    }
    res = inet_lookup(inet, true, errp);
    if (!res) {
        return -1;
    }
    for (e = res; e; e = e->ai_next) {
        for (p = port; p <= port_max; p++) {
            fd = qemu_socket(e->ai_family, e->ai_socktype, e->ai_protocol);
            if (fd < 0) {
                saved_errno = errno;
                break;
            }
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (inet->has_to) {
                sockaddr_set_port(e->ai_addr, p);
            }
            if (inet_bind(fd, inet, e) == 0 && listen(fd, num) == 0) {
                freeaddrinfo(res);
                return fd;
            }
            saved_errno = errno;
            close(fd);
            if (saved_errno != EADDRINUSE) {
                break;
            }
        }
    }
    freeaddrinfo(res);
    if (inet->has_to) {
        error_setg_errno(errp, saved_errno, "Failed to listen on %s ports "
                         "%u-%u", inet_host_text(inet), port, port_max);
    } else {
        error_setg_errno(errp, saved_errno, "Failed to listen on %s:%s",
                         inet_host_text(inet), inet->port);
    }
    return -1;
}

static int inet_connect_saddr(const InetSocketAddress *inet, Error **errp)
{
    struct addrinfo *res, *e;
    int fd, saved_errno = 0;
    int one = 1;

    res = inet_lookup(inet, false, errp);
    if (!res) {
        return -1;
    }
    for (e = res; e; e = e->ai_next) {
        fd = qemu_socket(e->ai_family, e->ai_socktype, e->ai_protocol);
        if (fd < 0) {
            saved_errno = errno;
            continue;
        }
        if (connect_retrying(fd, e->ai_addr, e->ai_addrlen) == 0) {
            freeaddrinfo(res);
            if (inet->has_keep_alive && inet->keep_alive &&
                setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one,
                           sizeof(one)) < 0) {
                error_setg_errno(errp, errno, "Unable to set keep-alive on "
                                 "the socket to %s:%s", inet_host_text(inet),
                                 inet->port);
                close(fd);
                return -1;
            }
            return fd;
        }
        saved_errno = errno;
        close(fd);
    }
    freeaddrinfo(res);
    error_setg_errno(errp, saved_errno, "Failed to connect to '%s:%s'",
                     inet_host_text(inet), inet->port);
    return -1;
}

int socket_listen(SocketAddress *addr, int num, Error **errp)
{
    int fd;

    switch (addr->type) {
    case SOCKET_ADDRESS_TYPE_INET:
        return inet_listen_saddr(&addr->u.inet, num, errp);
    case SOCKET_ADDRESS_TYPE_UNIX:
        return unix_listen_saddr(&addr->u.q_unix, num, errp);
    case SOCKET_ADDRESS_TYPE_FD:
        fd = socket_get_fd(addr->u.fd.str, errp);
        if (fd < 0) {
            return -1;
        }
        /* No-op when the socket is listening already. */
        if (listen(fd, num) < 0) {
            error_setg_errno(errp, errno, "Failed to listen on socket fd "
                             "%d", fd);
            close(fd);
            return -1;
        }
        return fd;
    case SOCKET_ADDRESS_TYPE_VSOCK:
        break;
    }
    error_setg(errp, "vsock sockets are not supported");
    return -1;
}

int socket_connect(SocketAddress *addr, Error **errp)
{
    switch (addr->type) {
    case SOCKET_ADDRESS_TYPE_INET:
        return inet_connect_saddr(&addr->u.inet, errp);
    case SOCKET_ADDRESS_TYPE_UNIX:
        return unix_connect_saddr(&addr->u.q_unix, errp);
    case SOCKET_ADDRESS_TYPE_FD:
        return socket_get_fd(addr->u.fd.str, errp);
    case SOCKET_ADDRESS_TYPE_VSOCK:
        break;
    }
    error_setg(errp, "vsock sockets are not supported");
    return -1;
}

/* Kernel addresses to SocketAddress */

static SocketAddress *sockaddr_to_inet(struct sockaddr_storage *sa,
                                       socklen_t salen, Error **errp)
{
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
    SocketAddress *addr;
    int rc;

    rc = getnameinfo((struct sockaddr *)sa, salen, host, sizeof(host),
                     serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
    if (rc != 0) {
        error_setg(errp, "Cannot format numeric socket address: %s",
                   gai_strerror(rc));
        return NULL;
    }
    addr = g_new0(SocketAddress, 1);
    addr->type = SOCKET_ADDRESS_TYPE_INET;
    addr->u.inet.host = g_strdup(host);
    addr->u.inet.port = g_strdup(serv);
    if (sa->ss_family == AF_INET) {
        addr->u.inet.has_ipv4 = addr->u.inet.ipv4 = true;
    } else {
        addr->u.inet.has_ipv6 = addr->u.inet.ipv6 = true;
    }
    return addr;
}

static SocketAddress *sockaddr_to_unix(struct sockaddr_storage *sa,
                                       socklen_t salen)
{
    struct sockaddr_un *un = (struct sockaddr_un *)sa;
    size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t len = salen > off ? salen - off : 0;
    SocketAddress *addr = g_new0(SocketAddress, 1);

    addr->type = SOCKET_ADDRESS_TYPE_UNIX;
    if (len > sizeof(un->sun_path)) {
        len = sizeof(un->sun_path);
    }
    if (len > 0 && un->sun_path[0] == '\0') {
        addr->u.q_unix.path = g_strndup(un->sun_path + 1, len - 1);
        addr->u.q_unix.has_abstract = addr->u.q_unix.abstract = true;
        addr->u.q_unix.has_tight = true;
        addr->u.q_unix.tight = salen < sizeof(struct sockaddr_un);
    } else {
        /* An unnamed socket (len 0) gets an empty path. */
        addr->u.q_unix.path = g_strndup(un->sun_path, len);
    }
    return addr;
}

SocketAddress *socket_sockaddr_to_address(struct sockaddr_storage *sa,
                                          socklen_t salen, Error **errp)
{
    switch (sa->ss_family) {
    case AF_INET:
    case AF_INET6:
        return sockaddr_to_inet(sa, salen, errp);
    case AF_UNIX:
        return sockaddr_to_unix(sa, salen);
    default:
        error_setg(errp, "socket family %d is not supported",
                   sa->ss_family);
        return NULL;
    }
}

SocketAddress *socket_local_address(int fd, Error **errp)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        error_setg_errno(errp, errno, "Unable to query local address of "
                         "socket fd %d", fd);
        return NULL;
    }
    return socket_sockaddr_to_address(&ss, sslen, errp);
}

SocketAddress *socket_remote_address(int fd, Error **errp)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);

    if (getpeername(fd, (struct sockaddr *)&ss, &sslen) < 0) {
        error_setg_errno(errp, errno, "Unable to query remote address of "
                         "socket fd %d", fd);
        return NULL;
    }
    return socket_sockaddr_to_address(&ss, sslen, errp);
}
