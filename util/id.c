/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Identifiers given by users to objects, exports, block nodes.
 */
#include "qemu/osdep.h"

#include "qemu/id.h"

bool id_wellformed(const char *id)
{
    if (!g_ascii_isalpha(id[0])) {
        return false;
    }
    for (const char *p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_') {
            return false;
        }
    }
    return true;
}
