/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Identifiers given by users to objects, exports, block nodes.
 */
#ifndef QEMU_ID_H
#define QEMU_ID_H

#include <stdbool.h>

/**
 * id_wellformed:
 * @id: a candidate identifier
 *
 * An identifier starts with an ASCII letter and goes on with letters,
 * digits, '-', '.' and '_'.
 *
 * Returns: true if @id is one.
 */
bool id_wellformed(const char *id);

#endif /* QEMU_ID_H */
