/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parser for "key=value,key2=value2" option strings, as taken by
 * --object, --blockdev, --export and --image-opts.
 *
 * Syntax:
 * - parameters are separated by ','; a doubled ",," stands for a literal
 *   comma inside a value (or inside an implied first value);
 * - a key is made of ASCII letters, digits, '-', '_' and '.'; the dots
 *   split it into non-empty parts ("server.type") and the key is kept
 *   flat, exactly as written; keyval_subset() selects a group;
 * - a key may appear once; a key may not be both a value and a group
 *   ("server=x,server.type=unix" is an error);
 * - with an implied key, a first parameter without '=' before its first
 *   comma is that key's value: "iothread,id=x" reads as
 *   "qom-type=iothread,id=x";
 * - a bare "help" or "?" parameter asks for help (keyval_is_help());
 * - an empty string gives no parameters; one trailing ',' is allowed.
 *
 * Every value can be read as a string; typed getters convert on demand.
 * Getters mark the key as used so that keyval_check_unused() can reject
 * whatever nobody asked for. A KeyVal is not thread-safe.
 */
#ifndef QEMU_KEYVAL_H
#define QEMU_KEYVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "qemu/typedefs.h"

/**
 * keyval_parse:
 * @params: the option string
 * @implied_key: (nullable): name given to a first value without key,
 *               e.g. "qom-type" or "driver"
 * @errp: error object
 *
 * Parses @params according to the syntax above. Error messages quote the
 * offending parameter.
 *
 * Returns: (transfer full): the parameters, or NULL with @errp set.
 */
KeyVal *keyval_parse(const char *params, const char *implied_key,
                     Error **errp);

/**
 * keyval_new:
 *
 * Returns: (transfer full): an empty set of parameters, to fill with
 * keyval_add() when options come from code rather than a string.
 */
KeyVal *keyval_new(void);

/**
 * keyval_add:
 * @kv: parameters
 * @key: a key, checked as keyval_parse() checks keys
 * @value: its value (copied)
 * @errp: error object
 *
 * Adds one parameter at the end of @kv.
 *
 * Returns: false with @errp set if @key is malformed or already present
 * (also as a group or a value conflicting with a group).
 */
bool keyval_add(KeyVal *kv, const char *key, const char *value,
                Error **errp);

/**
 * keyval_free:
 * @kv: (transfer full) (nullable): parameters
 *
 * Frees @kv. Subsets made from it stay valid.
 */
void keyval_free(KeyVal *kv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(KeyVal, keyval_free)

/**
 * keyval_count:
 * @kv: parameters
 *
 * Returns: how many parameters @kv holds (help is not counted).
 */
size_t keyval_count(const KeyVal *kv);

/**
 * keyval_nth_key:
 * @kv: parameters
 * @n: index, below keyval_count()
 *
 * Parameters keep the order in which they were written.
 *
 * Returns: (transfer none): the key of the @n-th parameter. Does not mark
 * it used.
 */
const char *keyval_nth_key(const KeyVal *kv, size_t n);

/**
 * keyval_nth_value:
 * @kv: parameters
 * @n: index, below keyval_count()
 *
 * Returns: (transfer none): the value of the @n-th parameter, which is
 * marked used.
 */
const char *keyval_nth_value(const KeyVal *kv, size_t n);

/**
 * keyval_has:
 * @kv: parameters
 * @key: a key
 *
 * Returns: true if @key is present. Does not mark it used.
 */
bool keyval_has(const KeyVal *kv, const char *key);

/**
 * keyval_get:
 * @kv: parameters
 * @key: a key
 *
 * Returns: (transfer none) (nullable): the value of @key, marked used, or
 * NULL if @key is absent. Valid as long as @kv or a subset holding it.
 */
const char *keyval_get(const KeyVal *kv, const char *key);

/**
 * keyval_get_bool:
 * @kv: parameters
 * @key: a key
 * @def: value when @key is absent
 * @value: (out): the value
 * @errp: error object
 *
 * Reads a boolean: on/off, yes/no, true/false.
 *
 * Returns: false with @errp set (naming @key) if the value is not one of
 * those words; *@value is then untouched.
 */
bool keyval_get_bool(const KeyVal *kv, const char *key, bool def,
                     bool *value, Error **errp);

/**
 * keyval_get_uint64:
 * @kv: parameters
 * @key: a key
 * @def: value when @key is absent
 * @value: (out): the value
 * @errp: error object
 *
 * Reads an unsigned number, decimal or "0x" hexadecimal.
 *
 * Returns: false with @errp set (naming @key) if the value is not such a
 * number or does not fit; *@value is then untouched.
 */
bool keyval_get_uint64(const KeyVal *kv, const char *key, uint64_t def,
                       uint64_t *value, Error **errp);

/**
 * keyval_get_int64:
 * @kv: parameters
 * @key: a key
 * @def: value when @key is absent
 * @value: (out): the value
 * @errp: error object
 *
 * Reads a signed number, decimal or "0x" hexadecimal.
 *
 * Returns: false with @errp set (naming @key) on a malformed or
 * out-of-range value; *@value is then untouched.
 */
bool keyval_get_int64(const KeyVal *kv, const char *key, int64_t def,
                      int64_t *value, Error **errp);

/**
 * keyval_get_size:
 * @kv: parameters
 * @key: a key
 * @def: value when @key is absent
 * @value: (out): the value in bytes
 * @errp: error object
 *
 * Reads a byte count as qemu_strtosz() does: "4096", "64k", "1.5G",
 * "0x1000".
 *
 * Returns: false with @errp set (naming @key) on a malformed or too large
 * value; *@value is then untouched.
 */
bool keyval_get_size(const KeyVal *kv, const char *key, uint64_t def,
                     uint64_t *value, Error **errp);

/**
 * keyval_subset:
 * @kv: parameters
 * @prefix: a group name, with or without the final '.' ("server." or
 *          "server")
 *
 * Selects the parameters of a group, with the prefix taken off their
 * keys: "server.type=unix,server.path=/s" gives "type" and "path". The
 * subset shares the "used" marks with @kv: a key read through the subset
 * counts as used in @kv too. The subset may outlive @kv.
 *
 * Returns: (transfer full): the subset, empty when no key matches.
 */
KeyVal *keyval_subset(const KeyVal *kv, const char *prefix);

/**
 * keyval_is_help:
 * @kv: parameters
 *
 * Tells whether a bare "help" or "?" parameter was given, and marks that
 * request as seen.
 *
 * Returns: true if help was asked for.
 */
bool keyval_is_help(const KeyVal *kv);

/**
 * keyval_check_unused:
 * @kv: parameters
 * @what: (nullable): what the parameters were for, e.g. "driver 'nbd'";
 *        it is added to the message as "... for @what"
 * @errp: error object
 *
 * Fails on the first parameter (in written order) that nobody read, with
 * "Invalid parameter 'KEY'" (the key as written, group included). A help
 * request that was never checked with keyval_is_help() fails too.
 *
 * Returns: true if every parameter was used.
 */
bool keyval_check_unused(const KeyVal *kv, const char *what, Error **errp);

#endif /* QEMU_KEYVAL_H */
