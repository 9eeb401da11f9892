/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authz-listfile: the rules of authz-list, read from a JSON file:
 *
 *   {"policy": "deny",
 *    "rules": [{"match": "CN=alice*", "policy": "allow", "format": "glob"}]}
 *
 * With refresh=on (the default) the file is read again by
 * qauthz_list_file_reload_all() (qemu-nbd calls it on SIGHUP); after a
 * reload that fails, every identity is denied until one succeeds.
 */
#ifndef AUTHZ_LISTFILE_H
#define AUTHZ_LISTFILE_H

#include "authz/list.h"
#include "qemu/thread.h"

#define TYPE_QAUTHZ_LIST_FILE "authz-listfile"
/* The same object under the name older QEMU releases register. */
#define TYPE_QAUTHZ_LIST_FILE_ALIAS "authz-list-file"
OBJECT_DECLARE_SIMPLE_TYPE(QAuthZListFile, QAUTHZ_LIST_FILE)

struct QAuthZListFile {
    QAuthZ parent_obj;

    /* Properties: set before complete, constant afterwards. */
    char *filename;
    bool refresh;

    /*
     * Protects policy and rules: a reload in the main thread swaps them
     * while a check runs in an iothread.
     */
    QemuMutex lock;
    QAuthZListPolicy policy;
    GPtrArray *rules;           /* of QAuthZListRule */
};

/**
 * qauthz_list_file_reload:
 * @fauthz: the object
 * @errp: error object
 *
 * Reads the file again and, when it parses, replaces the rules.
 * Called from the main thread.
 *
 * Returns: true on success; false with @errp set, the old rules kept.
 */
bool qauthz_list_file_reload(QAuthZListFile *fauthz, Error **errp);

/**
 * qauthz_list_file_reload_all:
 *
 * Reloads every authz-listfile object made with refresh=on, reporting a
 * failure with error_report(). Called from the main thread.
 *
 * Returns: how many such objects there are.
 */
int qauthz_list_file_reload_all(void);

#endif /* AUTHZ_LISTFILE_H */
