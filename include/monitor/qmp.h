/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A QMP server: monitors listening on sockets, one client at a time each,
 * speaking QEMU's Machine Protocol (greeting, capabilities negotiation,
 * commands with replies, events). The program supplies the commands;
 * qmp_capabilities and query-commands are built in.
 *
 * Everything here runs in the main thread. Commands run outside
 * coroutines, from the main loop only (never from a nested aio_poll()),
 * so a command may drain nodes or wait for NBD clients to go away.
 */
#ifndef MONITOR_QMP_H
#define MONITOR_QMP_H

#include <stdbool.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "qemu/typedefs.h"
#include "qemu/sockets.h"

typedef struct QmpServer QmpServer;

/*
 * A command. @args is the "arguments" object (never NULL, checked
 * against the command's QmpArgSpec list when it has one). Returns the
 * "return" value (transfer full), or NULL with @errp set (a GenericError
 * reply).
 */
typedef JsonNode *QmpCommandFunc(JsonObject *args, void *opaque,
                                 Error **errp);

/* Argument types, named as QMP's error messages name them. */
typedef enum QmpArgType {
    QMP_ARG_STR,
    QMP_ARG_BOOL,
    QMP_ARG_INT,
    QMP_ARG_OBJECT,
    QMP_ARG_ANY,
} QmpArgType;

typedef struct QmpArgSpec {
    const char *name;           /* NULL ends the list */
    QmpArgType type;
    bool optional;
} QmpArgSpec;

typedef struct QmpCommand {
    const char *name;           /* NULL ends the table */
    QmpCommandFunc *fn;
    /* NULL: any arguments (the command checks them itself) */
    const QmpArgSpec *args;
} QmpCommand;

/* Output a client may leave unread before it is disconnected. */
#define QMP_MAX_OUTPUT          (1024 * 1024)
/* Size of one input message, and nesting depth of its arrays/objects. */
#define QMP_MAX_INPUT           (4 * 1024 * 1024)
#define QMP_MAX_NESTING         1024
/* Connections a busy monitor keeps waiting; more are closed at once. */
#define QMP_MAX_WAITING         16

/**
 * qmp_server_new:
 * @cmds: (array zero-terminated=1): the commands, which must outlive the
 *        server
 * @opaque: passed to each command
 * @version: the "version" object of the greeting (transfer full)
 *
 * Main thread. Returns: (transfer full): a server without monitors.
 */
QmpServer *qmp_server_new(const QmpCommand *cmds, void *opaque,
                          JsonObject *version);

/**
 * qmp_server_add_monitor:
 * @srv: the server
 * @id: the monitor's name (the chardev id)
 * @addr: where to listen
 * @errp: error object
 *
 * Listens on @addr; each client gets the greeting once the previous
 * client of this monitor has left. Main thread.
 *
 * Returns: true, or false with @errp set.
 */
bool qmp_server_add_monitor(QmpServer *srv, const char *id,
                            SocketAddress *addr, Error **errp);

/**
 * qmp_server_send_event:
 * @srv: the server
 * @name: the event's name
 * @data: (transfer full) (nullable): its data
 *
 * Queues the event, with a timestamp, to every negotiated client.
 * Main thread.
 */
void qmp_server_send_event(QmpServer *srv, const char *name,
                           JsonObject *data);

/**
 * qmp_server_free:
 * @srv: (transfer full) (nullable): the server
 *
 * Stops listening, tries once more to send what clients have not read,
 * closes them and waits for their coroutines to end. Main thread,
 * outside coroutines, from the main loop.
 */
void qmp_server_free(QmpServer *srv);

#endif /* MONITOR_QMP_H */
