/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * User-creatable objects: --object parsing, creation, help, deletion.
 * Main thread only.
 */
#include "qemu/osdep.h"

#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/id.h"
#include "qemu/keyval.h"
#include "qom/object_interfaces.h"
#include "qom-internal.h"

const TypeInfo user_creatable_interface_info = {
    .name = TYPE_USER_CREATABLE,
    .parent = TYPE_INTERFACE,
    .class_size = sizeof(UserCreatableClass),
};

bool user_creatable_complete(UserCreatable *uc, Error **errp)
{
    UserCreatableClass *ucc = USER_CREATABLE_GET_CLASS(uc);
    Error *local_err = NULL;

    if (!ucc->complete) {
        return true;
    }
    ucc->complete(uc, &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        return false;
    }
    return true;
}

bool user_creatable_can_be_deleted(UserCreatable *uc)
{
    UserCreatableClass *ucc = USER_CREATABLE_GET_CLASS(uc);

    return !ucc->can_be_deleted || ucc->can_be_deleted(uc);
}

/* The class of a type the user may create, or NULL with @errp set. */
static ObjectClass *creatable_class(const char *type, Error **errp)
{
    ObjectClass *klass = object_class_by_name(type);

    if (!klass) {
        error_setg(errp, "Unknown object type '%s'", type);
        return NULL;
    }
    if (!object_class_dynamic_cast(klass, TYPE_USER_CREATABLE)) {
        error_setg(errp, "Object type '%s' is not user-creatable", type);
        return NULL;
    }
    if (object_class_is_abstract(klass)) {
        error_setg(errp, "Object type '%s' is abstract", type);
        return NULL;
    }
    return klass;
}

Object *user_creatable_add_type(const char *type, const char *id,
                                const KeyVal *props, Error **errp)
{
    ERRP_GUARD();
    ObjectClass *klass = creatable_class(type, errp);
    g_autoptr(Object) obj = NULL;

    if (!klass) {
        return NULL;
    }
    if (id && !id_wellformed(id)) {
        error_setg(errp, "Invalid object id '%s'", id);
        error_append_hint(errp, "An id starts with a letter and goes on "
                          "with letters, digits, '-', '.' and '_'.\n");
        return NULL;
    }
    if (id && object_resolve_path_component(object_get_objects_root(), id)) {
        error_setg(errp, "An object with id '%s' already exists", id);
        return NULL;
    }

    obj = object_new_with_class(klass);
    for (size_t i = 0; props && i < keyval_count(props); i++) {
        const char *key = keyval_nth_key(props, i);
        const char *value = keyval_nth_value(props, i);

        if (strcmp(key, "qom-type") == 0 || strcmp(key, "id") == 0) {
            continue;
        }
        if (!object_property_parse(obj, key, value, errp)) {
            return NULL;
        }
    }
    if (!user_creatable_complete(USER_CREATABLE(obj), errp)) {
        return NULL;
    }
    if (id && !object_property_try_add_child(object_get_objects_root(), id,
                                             obj, errp)) {
        return NULL;
    }
    return g_steal_pointer(&obj);
}

/* "<on|off>", "<a|b|c>", "<uint32>"... for help text. */
static char *property_value_hint(ObjectProperty *prop)
{
    if (prop->kind == OBJ_PROP_KIND_BOOL) {
        return g_strdup("<on|off>");
    }
    if (prop->kind == OBJ_PROP_KIND_ENUM) {
        g_autofree char *choices =
            g_strjoinv("|", (char **)prop->u.enumeration.lookup);

        return g_strdup_printf("<%s>", choices);
    }
    return g_strdup_printf("<%s>", prop->type);
}

static gint property_name_cmp(gconstpointer a, gconstpointer b)
{
    const ObjectProperty *pa = *(ObjectProperty *const *)a;
    const ObjectProperty *pb = *(ObjectProperty *const *)b;

    return strcmp(pa->name, pb->name);
}

static void print_type_list(void)
{
    GSList *list = object_class_get_list_sorted(TYPE_USER_CREATABLE, false);

    printf("List of user creatable objects:\n");
    for (GSList *l = list; l; l = l->next) {
        printf("  %s\n", object_class_get_name(l->data));
    }
    g_slist_free(list);
}

static void print_type_properties(ObjectClass *klass)
{
    g_autoptr(GPtrArray) props = g_ptr_array_new();
    ObjectPropertyIterator iter;
    ObjectProperty *prop;

    object_class_property_iter_init(&iter, klass);
    while ((prop = object_property_iter_next(&iter))) {
        if (prop->kind != OBJ_PROP_KIND_CHILD) {
            g_ptr_array_add(props, prop);
        }
    }
    g_ptr_array_sort(props, property_name_cmp);

    if (!props->len) {
        printf("There are no options for %s.\n",
               object_class_get_name(klass));
        return;
    }
    printf("%s options:\n", object_class_get_name(klass));
    for (guint i = 0; i < props->len; i++) {
        g_autofree char *hint = NULL;

        prop = g_ptr_array_index(props, i);
        hint = property_value_hint(prop);
        if (prop->description) {
            printf("  %s=%s - %s\n", prop->name, hint, prop->description);
        } else {
            printf("  %s=%s\n", prop->name, hint);
        }
    }
}

bool user_creatable_print_help(const char *type, Error **errp)
{
    ObjectClass *klass;

    if (!type || is_help_option(type)) {
        print_type_list();
        return true;
    }
    klass = creatable_class(type, errp);
    if (!klass) {
        return false;
    }
    print_type_properties(klass);
    return true;
}

bool user_creatable_add_from_str(const char *str, Error **errp)
{
    g_autoptr(KeyVal) kv = keyval_parse(str, "qom-type", errp);
    g_autoptr(Object) obj = NULL;
    const char *type, *id;

    if (!kv) {
        return false;
    }
    type = keyval_get(kv, "qom-type");
    if (keyval_is_help(kv) || is_help_option(type)) {
        user_creatable_print_help(type, errp);
        return false;
    }
    if (!type) {
        error_setg(errp, "Parameter 'qom-type' is missing");
        return false;
    }
    id = keyval_get(kv, "id");
    if (!id) {
        error_setg(errp, "Parameter 'id' is missing");
        return false;
    }
    obj = user_creatable_add_type(type, id, kv, errp);
    return obj != NULL;
}

void user_creatable_process_cmdline(const char *cmdline)
{
    Error *err = NULL;

    if (user_creatable_add_from_str(cmdline, &err)) {
        return;
    }
    if (err) {
        error_report_err(err);
        exit(EXIT_FAILURE);
    }
    exit(EXIT_SUCCESS);
}

bool user_creatable_del(const char *id, Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                id);

    if (!obj) {
        error_setg(errp, "Object '%s' not found", id);
        return false;
    }
    if (object_dynamic_cast(obj, TYPE_USER_CREATABLE) &&
        !user_creatable_can_be_deleted(USER_CREATABLE(obj))) {
        error_setg(errp, "Object '%s' is in use and can't be deleted", id);
        return false;
    }
    object_unparent(obj);
    return true;
}

static int collect_child(Object *child, void *opaque)
{
    g_ptr_array_add(opaque, object_ref(child));
    return 0;
}

void user_creatable_cleanup(void)
{
    g_autoptr(GPtrArray) children =
        g_ptr_array_new_with_free_func(object_unref);

    object_child_foreach(object_get_objects_root(), collect_child, children);
    for (guint i = children->len; i > 0; i--) {
        object_unparent(g_ptr_array_index(children, i - 1));
        /* Drop our reference too, so that objects go newest first. */
        g_ptr_array_remove_index(children, i - 1);
    }
}
