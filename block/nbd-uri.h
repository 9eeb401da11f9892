/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The nbd driver's file names and runtime options (block/nbd-uri.c):
 * pure parsing, no I/O, callable from any thread.
 */
#ifndef BLOCK_NBD_URI_H
#define BLOCK_NBD_URI_H

#include "qemu/keyval.h"
#include "qemu/sockets.h"

/* The driver's runtime options, as nbd_options_parse() reads them. */
typedef struct NBDDriverOptions {
    const char *server_type;    /* "inet" or "unix" */
    const char *server_path;
    const char *server_host;
    const char *server_port;
    const char *path;           /* the old flat spelling of server.* */
    const char *host;
    const char *port;
    const char *export;         /* nullable: the default export "" */
    const char *tls_creds;      /* id of a tls-creds object, nullable */
    const char *tls_hostname;
    bool tls_required;          /* nbds:// URIs */
    uint64_t reconnect_delay;   /* seconds */
    uint64_t open_timeout;      /* seconds */
    uint64_t multi_conn;        /* connections */
} NBDDriverOptions;

typedef enum NBDOptionType {
    NBD_OPTION_TYPE_STRING,
    NBD_OPTION_TYPE_BOOL,
    NBD_OPTION_TYPE_UINT,
} NBDOptionType;

/* One runtime option: its key, type, limits, help and destination. */
typedef struct NBDOptionDesc {
    const char *name;
    NBDOptionType type;
    uint64_t def;               /* BOOL and UINT: the default */
    uint64_t min, max;          /* UINT: the range allowed */
    size_t max_len;             /* STRING: longest value, 0 for any */
    size_t offset;              /* of the field in NBDDriverOptions */
    const char *help;
} NBDOptionDesc;

/* The table of every runtime option, ended by a NULL name. */
extern const NBDOptionDesc nbd_option_descs[];

/* (transfer none) The description of @name, or NULL. */
const NBDOptionDesc *nbd_option_find(const char *name);

/*
 * (transfer full) One line per option, "name=<type> - help", as a help
 * listing prints them.
 */
char *nbd_options_help(void);

/**
 * nbd_options_parse:
 * @kv: the node's options (each option read is marked used)
 * @opts: (out): the values, pointing into @kv; defaults where absent
 * @errp: error object
 *
 * Reads every option of the table, checks each against its type and
 * limits and the options against each other. Errors name the option and
 * carry its help text.
 *
 * Returns: true, or false with @errp set.
 */
bool nbd_options_parse(const KeyVal *kv, NBDDriverOptions *opts,
                       Error **errp);

/*
 * (transfer full) The server address the options give, or NULL with
 * @errp set.
 */
SocketAddress *nbd_options_address(const NBDDriverOptions *opts,
                                   Error **errp);

/*
 * Turns an NBD file name (nbd://, nbds://, nbd+unix://, nbds+unix://,
 * nbd+tcp://, nbds+tcp:// URIs and the old nbd:HOST:PORT and
 * nbd:unix:PATH forms) into options added to @options.
 */
bool nbd_parse_filename(const char *filename, KeyVal *options,
                        Error **errp);

#endif /* BLOCK_NBD_URI_H */
