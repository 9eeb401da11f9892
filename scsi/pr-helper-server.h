/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The connection side of qemu-pr-helper: one coroutine per client that
 * reads a request (CDB, its file descriptor, PR OUT parameters), runs it
 * with SG_IO (or libmpathpersist) and writes the response. Split from
 * the daemon's start-up so that a fuzzer can drive it over a socketpair.
 *
 * Theory of operation: everything here runs in the main AioContext;
 * SG_IO and libmpathpersist calls run in its thread pool while the
 * client's coroutine waits. The state below is the main thread's.
 */
#ifndef SCSI_PR_HELPER_SERVER_H
#define SCSI_PR_HELPER_SERVER_H

#include "io/channel-socket.h"
#include "qemu/coroutine.h"

typedef struct PRHelperServer {
    int verbose;                /* report each client's end and errors */
    bool exiting;               /* stop reading requests */
    unsigned int in_flight;     /* commands read and not yet answered */
    GList *clients;             /* PRHelperClient, live coroutines */
    unsigned int serial;        /* names clients in messages */
    bool mpath;                 /* libmpathpersist is usable */
    CoMutex mpath_lock;         /* one libmpathpersist call at a time */
} PRHelperServer;

/**
 * pr_helper_server_add_client:
 * @prh: the server
 * @sioc: a connected client (referenced while the client lives)
 *
 * Starts serving @sioc in a coroutine of the main context; the client is
 * on @prh->clients until its coroutine ends. Main thread only.
 */
void pr_helper_server_add_client(PRHelperServer *prh,
                                 QIOChannelSocket *sioc);

/**
 * pr_helper_server_shutdown_clients:
 * @prh: the server
 * @how: which directions to shut down
 *
 * Shuts down the channel of every client. Main thread only.
 */
void pr_helper_server_shutdown_clients(PRHelperServer *prh,
                                       QIOChannelShutdown how);

#endif /* SCSI_PR_HELPER_SERVER_H */
