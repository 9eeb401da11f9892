/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-storage-daemon's state, shared by its command line
 * (qemu-storage-daemon.c) and its QMP commands (qsd-commands.c).
 * Main thread only.
 */
#ifndef STORAGE_DAEMON_QSD_H
#define STORAGE_DAEMON_QSD_H

#include <json-glib/json-glib.h>

#include "block/block.h"
#include "block/nbd.h"
#include "monitor/qmp.h"
#include "qemu/keyval.h"
#include "sysemu/block-backend.h"

typedef struct QsdExport {
    char *id;
    char *node_name;
    BlockBackend *blk;          /* the export holds another */
    NBDExport *exp;
    char *iothread;             /* the iothread id, or NULL */
    bool moved;                 /* blk was moved into the iothread */
} QsdExport;

typedef struct QsdState {
    /* node-name -> BlockDriverState * (a reference): --blockdev and
     * blockdev-add nodes */
    GHashTable *nodes;
    GPtrArray *exports;         /* QsdExport *, in creation order */
    NBDServer *nbd;             /* NULL until --nbd-server/nbd-server-start */
    QmpServer *qmp;
    GHashTable *chardevs;       /* id -> SocketAddress * */
    char *pidfile;
    bool pidfile_written;
    int ready_fd;               /* --daemonize: tells the parent, or -1 */
    bool quit;                  /* quit, SIGTERM, SIGINT, SIGHUP */
} QsdState;

/* The QMP commands, terminated by an entry without name. */
extern const QmpCommand qsd_commands[];

/*
 * Flattens a JSON object into dotted keys ("file.filename"), booleans as
 * on/off, numbers in decimal; what --blockdev and --object take.
 */
KeyVal *qsd_json_to_keyval(JsonObject *obj, Error **errp);

/* blockdev-add / --blockdev. */
bool qsd_blockdev_add(QsdState *s, const KeyVal *opts, Error **errp);

/* The "version" of the greeting and of query-version (transfer full). */
JsonObject *qsd_version_object(void);

/*
 * --nbd-server / nbd-server-start. @max_connections: -1 for the default
 * (NBD_DEFAULT_MAX_CONNECTIONS), 0 for no limit; other values outside
 * 0..UINT32_MAX are refused.
 */
bool qsd_nbd_server_start(QsdState *s, SocketAddress *addr,
                          const char *tls_creds, const char *tls_authz,
                          int64_t max_connections, Error **errp);

/* Options of --export / block-export-add. */
typedef struct QsdExportOptions {
    const char *type;
    const char *id;
    const char *node_name;
    const char *name;           /* nullable: the node name */
    const char *description;
    bool writable;
    bool writethrough;
    const char *iothread;       /* nullable */
    bool fixed_iothread;
    bool allocation_depth;
} QsdExportOptions;

bool qsd_export_add(QsdState *s, const QsdExportOptions *opts, Error **errp);

/* Removes every export and stops the NBD server, for the shutdown. */
void qsd_nbd_server_stop_all(QsdState *s);

#endif /* STORAGE_DAEMON_QSD_H */
