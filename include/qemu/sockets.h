/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Socket addresses and socket helpers.
 *
 * SocketAddress has the shape of QEMU's QAPI type of that name: a type tag
 * and a union of an inet (host, port, options), a UNIX (path, abstract
 * namespace) and an fd (a file descriptor number given as a string)
 * address. Strings are owned by the address; free it with
 * qapi_free_SocketAddress().
 *
 * Text forms (socket_parse()):
 *   unix:PATH            a UNIX socket path
 *   fd:N                 an already open socket, by number
 *   [tcp:]HOST:PORT      a TCP address; HOST may be empty (any address)
 *                        or "[v6addr]"; options may follow the port:
 *                        ,to=N ,ipv4[=on|off] ,ipv6[=on|off]
 *                        ,numeric[=on|off] ,keep-alive[=on|off]
 *   vsock:CID:PORT       recognised, but not supported here
 *
 * All functions may be called from any thread. The blocking ones
 * (socket_listen(), socket_connect(), name resolution) must not be called
 * from a coroutine or an event loop callback that must not stall.
 */
#ifndef QEMU_SOCKETS_H
#define QEMU_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <glib.h>

#include "qemu/typedefs.h"

typedef enum SocketAddressType {
    SOCKET_ADDRESS_TYPE_INET,
    SOCKET_ADDRESS_TYPE_UNIX,
    SOCKET_ADDRESS_TYPE_VSOCK,
    SOCKET_ADDRESS_TYPE_FD,
} SocketAddressType;

typedef struct InetSocketAddress {
    char *host;             /* "" means any address (listen) / loopback */
    char *port;             /* a number or a service name */
    bool has_numeric, numeric;      /* host is numeric: no DNS look-up */
    bool has_to;
    uint16_t to;            /* listen: try ports port..to */
    bool has_ipv4, ipv4;
    bool has_ipv6, ipv6;
    bool has_keep_alive, keep_alive;
} InetSocketAddress;

typedef struct UnixSocketAddress {
    char *path;
    bool has_abstract, abstract;    /* Linux abstract namespace */
    bool has_tight, tight;  /* abstract: address length is the name's own
                             * (default), not all of sun_path */
} UnixSocketAddress;

typedef struct String {
    char *str;
} String;

typedef struct SocketAddress {
    SocketAddressType type;
    union {
        InetSocketAddress inet;     /* SOCKET_ADDRESS_TYPE_INET */
        UnixSocketAddress q_unix;   /* SOCKET_ADDRESS_TYPE_UNIX */
        String fd;                  /* SOCKET_ADDRESS_TYPE_FD */
    } u;
} SocketAddress;

/**
 * qapi_free_SocketAddress:
 * @addr: (transfer full) (nullable): an address
 *
 * Frees @addr and its strings. NULL is accepted.
 */
void qapi_free_SocketAddress(SocketAddress *addr);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(SocketAddress, qapi_free_SocketAddress)

/**
 * socket_init:
 *
 * Nothing to initialise on POSIX hosts.
 *
 * Returns: 0.
 */
int socket_init(void);

/**
 * inet_parse:
 * @addr: (out): the address to fill in; its previous strings are not
 *        freed, pass a zeroed struct
 * @str: "HOST:PORT[,option...]", "[V6ADDR]:PORT[,option...]" or
 *       ":PORT[,option...]"
 * @errp: error object
 *
 * Parses the text form of an inet address (see the header comment).
 * Only the syntax is checked, nothing is resolved.
 *
 * Returns: 0, or -1 with @errp set (and @addr left empty).
 */
int inet_parse(InetSocketAddress *addr, const char *str, Error **errp);

/**
 * socket_parse:
 * @str: the text form of an address (see the header comment)
 * @errp: error object
 *
 * Parses @str. "fd:NAME" is accepted here as in QEMU; a NAME that is not
 * a number is refused when the address is used.
 *
 * Returns: (transfer full): a new address, or NULL with @errp set.
 */
SocketAddress *socket_parse(const char *str, Error **errp);

/**
 * socket_address_to_string:
 * @addr: an address
 *
 * Formats @addr so that socket_parse() gives it back: "unix:PATH",
 * "fd:N", "HOST:PORT", or "[HOST]:PORT" when HOST holds a colon. Options
 * (to=, ipv4=, abstract...) are not written.
 *
 * Returns: (transfer full): the text.
 */
char *socket_address_to_string(const SocketAddress *addr);

/**
 * socket_address_dup:
 * @addr: an address
 *
 * Returns: (transfer full): a deep copy of @addr.
 */
SocketAddress *socket_address_dup(const SocketAddress *addr);

/**
 * socket_address_resolve_listen:
 * @addr: an address to listen on
 * @naddrs: (out): the number of addresses in *@addrs
 * @addrs: (out) (transfer full): the addresses, an array of new addresses
 *         freed with qapi_free_SocketAddress() and g_free()
 * @errp: error object
 *
 * Resolves an inet address for listening into one numeric address per
 * result of the look-up (e.g. "0.0.0.0" and "::" for an empty host), each
 * keeping @addr's port and options. Other address types are copied as
 * they are. Blocking (DNS).
 *
 * Returns: 0, or -1 with @errp set.
 */
int socket_address_resolve_listen(const SocketAddress *addr, size_t *naddrs,
                                  SocketAddress ***addrs, Error **errp);

/**
 * socket_listen:
 * @addr: where to listen
 * @num: the backlog given to listen(2)
 * @errp: error object
 *
 * Makes a listening stream socket (blocking, close-on-exec).
 * unix: a stale socket left at the path is removed first (other kinds of
 * files are left alone, and binding then fails); the abstract namespace
 * is used when @addr asks for it.
 * inet: the address is resolved and each result tried in turn; the first
 * one that binds is used (for several sockets, one per result, see
 * socket_address_resolve_listen()). Port "0" gets an ephemeral port;
 * with "to", ports port..to are tried. IPv6 sockets accept IPv4 too
 * unless ipv4 or ipv6 alone was asked for (so "::" listens on both
 * families and "0.0.0.0" on IPv4 only); when the dual-stack bind finds
 * the port taken on IPv4 it falls back to IPv6 only.
 * fd: the socket numbered by @addr is put in the listening state (a
 * no-op if it already is); it is owned by the caller from then on, and
 * closed on failure.
 *
 * Returns: the socket, or -1 with @errp set.
 */
int socket_listen(SocketAddress *addr, int num, Error **errp);

/**
 * socket_connect:
 * @addr: where to connect
 * @errp: error object
 *
 * Connects a blocking, close-on-exec stream socket. For inet, each
 * address the host resolves to is tried in turn. For fd, the numbered
 * socket is returned as it is (and owned by the caller from then on).
 *
 * Returns: the socket, or -1 with @errp set.
 */
int socket_connect(SocketAddress *addr, Error **errp);

/**
 * socket_sockaddr_to_address:
 * @sa: a socket address as the kernel returns it
 * @salen: its length
 * @errp: error object
 *
 * Converts AF_INET, AF_INET6 (numeric host and port) and AF_UNIX (path
 * or abstract name; an unnamed socket gives an empty path) addresses.
 *
 * Returns: (transfer full): a new address, or NULL with @errp set.
 */
SocketAddress *socket_sockaddr_to_address(struct sockaddr_storage *sa,
                                          socklen_t salen, Error **errp);

/**
 * socket_local_address:
 * @fd: a socket
 * @errp: error object
 *
 * Returns: (transfer full): the socket's own address, or NULL with @errp
 * set.
 */
SocketAddress *socket_local_address(int fd, Error **errp);

/**
 * socket_remote_address:
 * @fd: a connected socket
 * @errp: error object
 *
 * Returns: (transfer full): the peer's address, or NULL with @errp set.
 */
SocketAddress *socket_remote_address(int fd, Error **errp);

/**
 * qemu_socket:
 * @domain: as for socket(2)
 * @type: as for socket(2)
 * @protocol: as for socket(2)
 *
 * socket(2) with close-on-exec set atomically.
 *
 * Returns: the socket, or -1 with errno set.
 */
int qemu_socket(int domain, int type, int protocol);

/**
 * qemu_accept:
 * @s: a listening socket
 * @addr: (out) (optional): the peer's address
 * @addrlen: (inout) (optional): the size of @addr, then its length
 *
 * accept(2) with close-on-exec set atomically. The new socket is
 * blocking, whatever @s is.
 *
 * Returns: the socket, or -1 with errno set.
 */
int qemu_accept(int s, struct sockaddr *addr, socklen_t *addrlen);

/**
 * socket_set_nodelay:
 * @fd: a TCP socket
 *
 * Turns Nagle's algorithm off (TCP_NODELAY).
 *
 * Returns: 0, or -1 with errno set (e.g. for a UNIX socket).
 */
int socket_set_nodelay(int fd);

/**
 * socket_set_cork:
 * @fd: a TCP socket
 * @v: 1 to cork, 0 to uncork (which sends what was held back)
 *
 * Returns: 0, or -1 with errno set (e.g. for a UNIX socket).
 */
int socket_set_cork(int fd, int v);

/**
 * qemu_socket_set_nonblock:
 * @fd: a file descriptor
 *
 * Sets O_NONBLOCK.
 *
 * Returns: 0, or a negative errno.
 */
int qemu_socket_set_nonblock(int fd);

/**
 * qemu_socket_set_block:
 * @fd: a file descriptor
 *
 * Clears O_NONBLOCK.
 *
 * Returns: 0, or a negative errno.
 */
int qemu_socket_set_block(int fd);

/**
 * fd_is_socket:
 * @fd: a file descriptor
 *
 * Returns: true if @fd is an open socket.
 */
bool fd_is_socket(int fd);

#endif /* QEMU_SOCKETS_H */
