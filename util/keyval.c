/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Parser for "key=value,..." option strings. The syntax is described in
 * include/qemu/keyval.h.
 *
 * A parameter lives in a refcounted KeyValEntry (full key, value, "used"
 * mark). A KeyVal is an ordered list of items, each pointing at an entry
 * and at the part of its key that this KeyVal shows: all of it for a
 * parsed string, what follows the prefix for a subset. Entries are shared
 * between a KeyVal and its subsets, and with them the "used" marks.
 */
#include "qemu/osdep.h"

#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/keyval.h"

typedef struct KeyValEntry {
    unsigned refcount;
    bool used;
    char *key;          /* as written, group included */
    char *value;
} KeyValEntry;

typedef struct KeyValItem {
    KeyValEntry *entry;
    const char *key;    /* tail of entry->key shown by this KeyVal */
} KeyValItem;

struct KeyVal {
    GPtrArray *items;   /* KeyValItem, in written order */
    GHashTable *index;  /* item->key -> KeyValItem */
    GHashTable *groups; /* every dotted prefix ("server") -> a full key */
    KeyValEntry *help;  /* the bare "help" / "?", if given */
};

static KeyValEntry *entry_new(const char *key, size_t key_len, char *value)
{
    KeyValEntry *entry = g_new0(KeyValEntry, 1);

    entry->refcount = 1;
    entry->key = g_strndup(key, key_len);
    entry->value = value;
    return entry;
}

static KeyValEntry *entry_ref(KeyValEntry *entry)
{
    entry->refcount++;
    return entry;
}

static void entry_unref(KeyValEntry *entry)
{
    if (entry && --entry->refcount == 0) {
        g_free(entry->key);
        g_free(entry->value);
        g_free(entry);
    }
}

static void item_free(gpointer data)
{
    KeyValItem *item = data;

    entry_unref(item->entry);
    g_free(item);
}

KeyVal *keyval_new(void)
{
    KeyVal *kv = g_new0(KeyVal, 1);

    kv->items = g_ptr_array_new_with_free_func(item_free);
    kv->index = g_hash_table_new(g_str_hash, g_str_equal);
    kv->groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    return kv;
}

void keyval_free(KeyVal *kv)
{
    if (!kv) {
        return;
    }
    g_hash_table_destroy(kv->groups);
    g_hash_table_destroy(kv->index);
    g_ptr_array_free(kv->items, TRUE);
    entry_unref(kv->help);
    g_free(kv);
}

static bool key_char_ok(char c)
{
    return g_ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
}

/* Checks the shape of a key of @len bytes. */
static bool check_key(const char *key, size_t len, Error **errp)
{
    if (len == 0) {
        error_setg(errp, "Parameter name missing");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!key_char_ok(key[i])) {
            error_setg(errp, "Invalid parameter name '%.*s': it may only "
                       "contain letters, digits, '-', '_' and '.'",
                       (int)len, key);
            return false;
        }
        if (key[i] == '.' && (i == 0 || i + 1 == len || key[i + 1] == '.')) {
            error_setg(errp, "Invalid parameter name '%.*s': empty part "
                       "around '.'", (int)len, key);
            return false;
        }
    }
    return true;
}

/*
 * Refuses @key if it is already a key, already a group, or has a prefix
 * group that is already a key.
 */
static bool check_key_free(const KeyVal *kv, const char *key, Error **errp)
{
    const char *other;

    if (g_hash_table_contains(kv->index, key)) {
        error_setg(errp, "Parameter '%s' is given more than once", key);
        return false;
    }
    other = g_hash_table_lookup(kv->groups, key);
    if (other) {
        error_setg(errp, "Parameter '%s' conflicts with '%s': a name can't "
                   "be both a value and a group", key, other);
        return false;
    }
    for (const char *dot = strchr(key, '.'); dot; dot = strchr(dot + 1, '.')) {
        g_autofree char *group = g_strndup(key, dot - key);
        KeyValItem *item = g_hash_table_lookup(kv->index, group);

        if (item) {
            error_setg(errp, "Parameter '%s' conflicts with '%s': a name "
                       "can't be both a value and a group", key, group);
            return false;
        }
    }
    return true;
}

/* Appends an item for @entry shown as @key (a tail of entry->key). */
static void insert_item(KeyVal *kv, KeyValEntry *entry, const char *key)
{
    KeyValItem *item = g_new0(KeyValItem, 1);

    item->entry = entry;
    item->key = key;
    g_ptr_array_add(kv->items, item);
    g_hash_table_insert(kv->index, (gpointer)item->key, item);
    for (const char *dot = strchr(key, '.'); dot; dot = strchr(dot + 1, '.')) {
        char *group = g_strndup(key, dot - key);

        if (g_hash_table_contains(kv->groups, group)) {
            g_free(group);
        } else {
            g_hash_table_insert(kv->groups, group, (gpointer)item->key);
        }
    }
}

/* Takes ownership of @value in every case. */
static bool add_param(KeyVal *kv, const char *key, size_t key_len,
                      char *value, Error **errp)
{
    KeyValEntry *entry;

    if (!check_key(key, key_len, errp)) {
        g_free(value);
        return false;
    }
    entry = entry_new(key, key_len, value);
    if (!check_key_free(kv, entry->key, errp)) {
        entry_unref(entry);
        return false;
    }
    insert_item(kv, entry, entry->key);
    return true;
}

bool keyval_add(KeyVal *kv, const char *key, const char *value,
                Error **errp)
{
    return add_param(kv, key, strlen(key), g_strdup(value), errp);
}

/*
 * Reads a value starting at @p up to the first single ',' (consumed) or
 * the end; ",," gives ','. Returns the text after it.
 */
static const char *parse_value(const char *p, char **value)
{
    GString *buf = g_string_new(NULL);

    while (*p) {
        if (*p == ',') {
            if (p[1] != ',') {
                p++;
                break;
            }
            p++;
        }
        g_string_append_c(buf, *p);
        p++;
    }
    *value = g_string_free(buf, FALSE);
    return p;
}

/* Is [p, end) a bare help word standing alone as a parameter? */
static bool is_help_param(const char *p, const char *end)
{
    size_t len = end - p;

    if (*end == '=' || (*end == ',' && end[1] == ',')) {
        return false;
    }
    return (len == 4 && strncmp(p, "help", 4) == 0) ||
           (len == 1 && *p == '?');
}

KeyVal *keyval_parse(const char *params, const char *implied_key,
                     Error **errp)
{
    g_autoptr(KeyVal) kv = keyval_new();
    const char *p = params;
    bool first = true;

    while (*p) {
        const char *key_end = p + strcspn(p, "=,");
        char *value;

        if (key_end > p && is_help_param(p, key_end)) {
            if (!kv->help) {
                kv->help = entry_new(p, key_end - p, NULL);
            }
            p = *key_end ? key_end + 1 : key_end;
        } else if (first && implied_key && key_end > p && *key_end != '=') {
            p = parse_value(p, &value);
            if (!add_param(kv, implied_key, strlen(implied_key), value,
                           errp)) {
                return NULL;
            }
        } else if (key_end == p) {
            error_setg(errp, *p == '=' ? "Parameter name missing before '='"
                       : "Empty parameter before ','");
            return NULL;
        } else if (*key_end != '=') {
            error_setg(errp, "Parameter '%.*s' has no value (expected "
                       "'%.*s=VALUE')", (int)(key_end - p), p,
                       (int)(key_end - p), p);
            return NULL;
        } else {
            const char *key = p;

            p = parse_value(key_end + 1, &value);
            if (!add_param(kv, key, key_end - key, value, errp)) {
                return NULL;
            }
        }
        first = false;
    }
    return g_steal_pointer(&kv);
}

size_t keyval_count(const KeyVal *kv)
{
    return kv->items->len;
}

static KeyValItem *nth_item(const KeyVal *kv, size_t n)
{
    assert(n < kv->items->len);
    return g_ptr_array_index(kv->items, n);
}

const char *keyval_nth_key(const KeyVal *kv, size_t n)
{
    return nth_item(kv, n)->key;
}

const char *keyval_nth_value(const KeyVal *kv, size_t n)
{
    KeyValEntry *entry = nth_item(kv, n)->entry;

    entry->used = true;
    return entry->value;
}

bool keyval_has(const KeyVal *kv, const char *key)
{
    return g_hash_table_contains(kv->index, key);
}

const char *keyval_get(const KeyVal *kv, const char *key)
{
    KeyValItem *item = g_hash_table_lookup(kv->index, key);

    if (!item) {
        return NULL;
    }
    item->entry->used = true;
    return item->entry->value;
}

bool keyval_get_bool(const KeyVal *kv, const char *key, bool def,
                     bool *value, Error **errp)
{
    const char *str = keyval_get(kv, key);

    if (!str) {
        *value = def;
        return true;
    }
    if (qemu_strtobool(str, value) < 0) {
        error_setg(errp, "Parameter '%s' expects a boolean (on/off, "
                   "yes/no, true/false), got '%s'", key, str);
        return false;
    }
    return true;
}

/* Error for a failed number conversion of @str (-EINVAL or -ERANGE). */
static void number_error(const char *key, const char *str, int ret,
                         const char *kind, Error **errp)
{
    if (ret == -ERANGE) {
        error_setg(errp, "Parameter '%s' value '%s' is out of range",
                   key, str);
    } else {
        error_setg(errp, "Parameter '%s' expects %s, got '%s'",
                   key, kind, str);
    }
}

bool keyval_get_uint64(const KeyVal *kv, const char *key, uint64_t def,
                       uint64_t *value, Error **errp)
{
    const char *str = keyval_get(kv, key);
    uint64_t v;
    int ret;

    if (!str) {
        *value = def;
        return true;
    }
    ret = qemu_parse_uint64(str, &v);
    if (ret < 0) {
        number_error(key, str, ret, "a non-negative number", errp);
        return false;
    }
    *value = v;
    return true;
}

bool keyval_get_int64(const KeyVal *kv, const char *key, int64_t def,
                      int64_t *value, Error **errp)
{
    const char *str = keyval_get(kv, key);
    int64_t v;
    int ret;

    if (!str) {
        *value = def;
        return true;
    }
    ret = qemu_parse_int64(str, &v);
    if (ret < 0) {
        number_error(key, str, ret, "a number", errp);
        return false;
    }
    *value = v;
    return true;
}

bool keyval_get_size(const KeyVal *kv, const char *key, uint64_t def,
                     uint64_t *value, Error **errp)
{
    const char *str = keyval_get(kv, key);
    uint64_t v;
    int ret;

    if (!str) {
        *value = def;
        return true;
    }
    ret = qemu_strtosz(str, NULL, &v);
    if (ret < 0) {
        number_error(key, str, ret, "a size (a number with an optional "
                     "k/M/G/T suffix)", errp);
        return false;
    }
    *value = v;
    return true;
}

KeyVal *keyval_subset(const KeyVal *kv, const char *prefix)
{
    KeyVal *sub = keyval_new();
    g_autofree char *group = g_str_has_suffix(prefix, ".") ?
                             g_strdup(prefix) : g_strconcat(prefix, ".", NULL);
    size_t len = strlen(group);

    for (guint i = 0; i < kv->items->len; i++) {
        KeyValItem *item = g_ptr_array_index(kv->items, i);

        if (strncmp(item->key, group, len) == 0) {
            insert_item(sub, entry_ref(item->entry), item->key + len);
        }
    }
    return sub;
}

bool keyval_is_help(const KeyVal *kv)
{
    if (!kv->help) {
        return false;
    }
    kv->help->used = true;
    return true;
}

bool keyval_check_unused(const KeyVal *kv, const char *what, Error **errp)
{
    const char *bad = NULL;

    for (guint i = 0; i < kv->items->len && !bad; i++) {
        KeyValItem *item = g_ptr_array_index(kv->items, i);

        if (!item->entry->used) {
            bad = item->entry->key;
        }
    }
    if (!bad && kv->help && !kv->help->used) {
        bad = kv->help->key;
    }
    if (!bad) {
        return true;
    }
    if (what) {
        error_setg(errp, "Invalid parameter '%s' for %s", bad, what);
    } else {
        error_setg(errp, "Invalid parameter '%s'", bad);
    }
    return false;
}
