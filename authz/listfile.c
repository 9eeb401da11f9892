/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authz-listfile: authz-list's rules kept in a JSON file (parsed with
 * json-glib), reloadable while the server runs.
 *
 * Theory of operation: the file is read in the main thread (at creation
 * and on reload); checks run in whichever thread finished a TLS
 * handshake. The lock covers the policy and the rule array, which a
 * reload replaces whole.
 */
#include "qemu/osdep.h"
#include <json-glib/json-glib.h>
#include "authz/listfile.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qom/object_interfaces.h"

/* @lookup's index of @name, or -1. */
static int lookup_index(const char *const *lookup, const char *name)
{
    for (int i = 0; lookup[i]; i++) {
        if (g_str_equal(lookup[i], name)) {
            return i;
        }
    }
    return -1;
}

/* A string member of @obj, or NULL with @errp set (unless @optional). */
static const char *get_string_member(JsonObject *obj, const char *name,
                                     bool optional, const char *what,
                                     Error **errp)
{
    JsonNode *node = json_object_get_member(obj, name);

    if (!node) {
        if (!optional) {
            error_setg(errp, "%s: '%s' is missing", what, name);
        }
        return NULL;
    }
    if (!JSON_NODE_HOLDS_VALUE(node) ||
        json_node_get_value_type(node) != G_TYPE_STRING) {
        error_setg(errp, "%s: '%s' must be a string", what, name);
        return NULL;
    }
    return json_node_get_string(node);
}

static bool get_enum_member(JsonObject *obj, const char *name,
                            const char *const *lookup, int *value,
                            bool optional, const char *what, Error **errp)
{
    ERRP_GUARD();
    const char *str = get_string_member(obj, name, optional, what, errp);
    int i;

    if (!str) {
        return !*errp;
    }
    i = lookup_index(lookup, str);
    if (i < 0) {
        error_setg(errp, "%s: '%s' has an unknown value '%s'", what, name,
                   str);
        return false;
    }
    *value = i;
    return true;
}

/* Parses @filename into a policy and rules. */
static bool qauthz_list_file_parse(const char *filename,
                                   QAuthZListPolicy *policy,
                                   GPtrArray **prules, Error **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func(
        (GDestroyNotify)qauthz_list_rule_free);
    g_autoptr(GError) gerr = NULL;
    g_autofree char *what = g_strdup_printf("authz file '%s'", filename);
    JsonNode *root;
    JsonObject *top;
    JsonNode *rules_node;
    int pol = QAUTHZ_LIST_POLICY_DENY;

    if (!json_parser_load_from_file(parser, filename, &gerr)) {
        error_setg(errp, "%s: %s", what, gerr->message);
        return false;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        error_setg(errp, "%s: the top level must be an object", what);
        return false;
    }
    top = json_node_get_object(root);
    if (!get_enum_member(top, "policy", QAuthZListPolicy_lookup, &pol,
                         true, what, errp)) {
        return false;
    }
    rules_node = json_object_get_member(top, "rules");
    if (rules_node) {
        JsonArray *arr;

        if (!JSON_NODE_HOLDS_ARRAY(rules_node)) {
            error_setg(errp, "%s: 'rules' must be an array", what);
            return false;
        }
        arr = json_node_get_array(rules_node);
        for (guint i = 0; i < json_array_get_length(arr); i++) {
            JsonNode *rn = json_array_get_element(arr, i);
            g_autofree char *rwhat = g_strdup_printf("%s, rule %u", what, i);
            QAuthZListRule *rule;
            const char *match;
            int rpol = QAUTHZ_LIST_POLICY_DENY;
            int fmt = QAUTHZ_LIST_FORMAT_EXACT;
            JsonObject *ro;

            if (!JSON_NODE_HOLDS_OBJECT(rn)) {
                error_setg(errp, "%s: must be an object", rwhat);
                return false;
            }
            ro = json_node_get_object(rn);
            match = get_string_member(ro, "match", false, rwhat, errp);
            if (!match ||
                !get_enum_member(ro, "policy", QAuthZListPolicy_lookup,
                                 &rpol, false, rwhat, errp) ||
                !get_enum_member(ro, "format", QAuthZListFormat_lookup,
                                 &fmt, true, rwhat, errp)) {
                return false;
            }
            rule = g_new0(QAuthZListRule, 1);
            rule->match = g_strdup(match);
            rule->has_policy = true;
            rule->policy = rpol;
            rule->format = fmt;
            g_ptr_array_add(rules, rule);
        }
    }
    *policy = pol;
    *prules = g_steal_pointer(&rules);
    return true;
}

bool qauthz_list_file_reload(QAuthZListFile *fauthz, Error **errp)
{
    QAuthZListPolicy policy;
    GPtrArray *rules = NULL;
    GPtrArray *old;

    if (!qauthz_list_file_parse(fauthz->filename, &policy, &rules, errp)) {
        return false;
    }
    qemu_mutex_lock(&fauthz->lock);
    old = fauthz->rules;
    fauthz->rules = rules;
    fauthz->policy = policy;
    qemu_mutex_unlock(&fauthz->lock);
    if (old) {
        g_ptr_array_unref(old);
    }
    return true;
}

static int reload_one(Object *child, void *opaque)
{
    int *count = opaque;
    QAuthZListFile *fauthz;
    Error *err = NULL;

    if (!object_dynamic_cast(child, TYPE_QAUTHZ_LIST_FILE)) {
        return 0;
    }
    fauthz = QAUTHZ_LIST_FILE(child);
    if (!fauthz->refresh) {
        return 0;
    }
    (*count)++;
    if (!qauthz_list_file_reload(fauthz, &err)) {
        /* Fail closed, as QEMU does: nobody in until the file is fixed. */
        qemu_mutex_lock(&fauthz->lock);
        g_ptr_array_set_size(fauthz->rules, 0);
        fauthz->policy = QAUTHZ_LIST_POLICY_DENY;
        qemu_mutex_unlock(&fauthz->lock);
        error_prepend(&err, "authz-listfile '%s': reload failed, every "
                      "client is denied until the file loads: ",
                      object_get_canonical_path_component(child));
        error_report_err(err);
    } else {
        info_report("authz-listfile '%s': rules reloaded from '%s'",
                    object_get_canonical_path_component(child),
                    fauthz->filename);
    }
    return 0;
}

int qauthz_list_file_reload_all(void)
{
    int count = 0;

    object_child_foreach(object_get_objects_root(), reload_one, &count);
    return count;
}

static bool qauthz_list_file_is_allowed(QAuthZ *authz, const char *identity,
                                        Error **errp)
{
    QAuthZListFile *fauthz = QAUTHZ_LIST_FILE(authz);
    bool allowed;

    qemu_mutex_lock(&fauthz->lock);
    allowed = qauthz_list_rules_check(fauthz->rules, fauthz->policy,
                                      identity);
    qemu_mutex_unlock(&fauthz->lock);
    return allowed;
}

static char *qauthz_list_file_get_filename(Object *obj, Error **errp)
{
    return g_strdup(QAUTHZ_LIST_FILE(obj)->filename);
}

static void qauthz_list_file_set_filename(Object *obj, const char *value,
                                          Error **errp)
{
    QAuthZListFile *fauthz = QAUTHZ_LIST_FILE(obj);

    g_free(fauthz->filename);
    fauthz->filename = g_strdup(value);
}

static bool qauthz_list_file_get_refresh(Object *obj, Error **errp)
{
    return QAUTHZ_LIST_FILE(obj)->refresh;
}

static void qauthz_list_file_set_refresh(Object *obj, bool value,
                                         Error **errp)
{
    QAUTHZ_LIST_FILE(obj)->refresh = value;
}

static void qauthz_list_file_complete(UserCreatable *uc, Error **errp)
{
    QAuthZListFile *fauthz = QAUTHZ_LIST_FILE(uc);

    if (!fauthz->filename) {
        error_setg(errp, "authz-listfile: property 'filename' is required");
        return;
    }
    qauthz_list_file_reload(fauthz, errp);
}

static void qauthz_list_file_init(Object *obj)
{
    QAuthZListFile *fauthz = QAUTHZ_LIST_FILE(obj);

    qemu_mutex_init(&fauthz->lock);
    fauthz->policy = QAUTHZ_LIST_POLICY_DENY;
    fauthz->refresh = true;     /* QEMU's default where it can watch */
}

static void qauthz_list_file_finalize(Object *obj)
{
    QAuthZListFile *fauthz = QAUTHZ_LIST_FILE(obj);

    if (fauthz->rules) {
        g_ptr_array_unref(fauthz->rules);
    }
    g_free(fauthz->filename);
    qemu_mutex_destroy(&fauthz->lock);
}

static void qauthz_list_file_class_init(ObjectClass *oc, void *data)
{
    QAuthZClass *ac = QAUTHZ_CLASS(oc);
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ac->is_allowed = qauthz_list_file_is_allowed;
    ucc->complete = qauthz_list_file_complete;
    object_class_property_add_str(oc, "filename",
                                  qauthz_list_file_get_filename,
                                  qauthz_list_file_set_filename);
    object_class_property_set_description(oc, "filename",
        "JSON file with the policy and rules, as authz-list's properties");
    object_class_property_add_bool(oc, "refresh",
                                   qauthz_list_file_get_refresh,
                                   qauthz_list_file_set_refresh);
    object_class_property_set_description(oc, "refresh",
        "whether to read the file again on SIGHUP (default: on)");
}

static const TypeInfo qauthz_list_file_info = {
    .name = TYPE_QAUTHZ_LIST_FILE,
    .parent = TYPE_QAUTHZ,
    .instance_size = sizeof(QAuthZListFile),
    .instance_init = qauthz_list_file_init,
    .instance_finalize = qauthz_list_file_finalize,
    .class_init = qauthz_list_file_class_init,
};

/* The name QEMU 7.2 and earlier register (Debian 12's qemu-nbd). */
static const TypeInfo qauthz_list_file_alias_info = {
    .name = TYPE_QAUTHZ_LIST_FILE_ALIAS,
    .parent = TYPE_QAUTHZ_LIST_FILE,
    .instance_size = sizeof(QAuthZListFile),
};

static void qauthz_list_file_register_types(void)
{
    type_register_static(&qauthz_list_file_info);
    type_register_static(&qauthz_list_file_alias_info);
}

type_init(qauthz_list_file_register_types)
