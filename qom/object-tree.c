/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The QOM composition tree: the root container, child properties, paths.
 *
 * Main thread only. A child property holds a reference to its child, and
 * an object has at most one parent, so the tree has neither cycles nor
 * shared nodes.
 */
#include "qemu/osdep.h"

#include "qapi/error.h"
#include "qom/object.h"
#include "qom-internal.h"

static Object *root_object;

Object *object_get_root(void)
{
    if (g_once_init_enter(&root_object)) {
        g_once_init_leave(&root_object, object_new(TYPE_CONTAINER));
    }
    return root_object;
}

Object *container_get(Object *root, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    Object *obj = root;

    for (char **part = parts; *part; part++) {
        Object *child;

        if (!**part) {
            continue;
        }
        child = object_resolve_path_component(obj, *part);
        if (!child) {
            child = object_new(TYPE_CONTAINER);
            object_property_add_child(obj, *part, child);
            object_unref(child);
        }
        obj = child;
    }
    return obj;
}

Object *object_get_objects_root(void)
{
    return container_get(object_get_root(), "objects");
}

ObjectProperty *object_property_try_add_child(Object *obj, const char *name,
                                              Object *child, Error **errp)
{
    g_autofree char *type = NULL;
    ObjectProperty *prop;

    /* An object has one parent: the tree has no cycles or sharing. */
    assert(child->parent == NULL);
    type = g_strdup_printf("child<%s>", object_get_typename(child));
    prop = qom_property_new(name, type, OBJ_PROP_KIND_CHILD);
    prop->u.child.child = child;
    prop = qom_object_add_property(obj, prop, errp);
    if (!prop) {
        return NULL;
    }
    object_ref(child);
    child->parent = obj;
    return prop;
}

ObjectProperty *object_property_add_child(Object *obj, const char *name,
                                          Object *child)
{
    return object_property_try_add_child(obj, name, child, &error_abort);
}

/* The child property of @obj's parent that holds @obj. */
static ObjectProperty *parent_child_prop(const Object *obj)
{
    GHashTableIter iter;
    gpointer value;

    if (!obj->parent) {
        return NULL;
    }
    g_hash_table_iter_init(&iter, obj->parent->properties);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        ObjectProperty *prop = value;

        if (prop->kind == OBJ_PROP_KIND_CHILD &&
            prop->u.child.child == obj) {
            return prop;
        }
    }
    g_assert_not_reached();
}

void object_unparent(Object *obj)
{
    ObjectProperty *prop = parent_child_prop(obj);

    if (prop) {
        object_property_del(obj->parent, prop->name);
    }
}

Object *object_get_parent(Object *obj)
{
    return obj->parent;
}

Object *object_resolve_path_component(Object *parent, const char *part)
{
    ObjectProperty *prop = object_property_find(parent, part);

    if (!prop || prop->kind != OBJ_PROP_KIND_CHILD) {
        return NULL;
    }
    return prop->u.child.child;
}

const char *object_get_canonical_path_component(const Object *obj)
{
    ObjectProperty *prop = parent_child_prop(obj);

    return prop ? prop->name : NULL;
}

char *object_get_canonical_path(const Object *obj)
{
    Object *root = object_get_root();
    GString *path = g_string_new(NULL);

    while (obj != root) {
        const char *component = object_get_canonical_path_component(obj);

        if (!component) {
            /* Not attached to the root. */
            g_string_free(path, TRUE);
            return NULL;
        }
        g_string_prepend(path, component);
        g_string_prepend_c(path, '/');
        obj = obj->parent;
    }
    if (!path->len) {
        g_string_append_c(path, '/');
    }
    return g_string_free(path, FALSE);
}

/* Children of @obj, oldest first, each with a reference the array drops. */
static GPtrArray *children_snapshot(Object *obj)
{
    GPtrArray *props = g_ptr_array_new();
    GPtrArray *children = g_ptr_array_new_with_free_func(object_unref);
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, obj->properties);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        ObjectProperty *prop = value;

        if (prop->kind == OBJ_PROP_KIND_CHILD) {
            g_ptr_array_add(props, prop);
        }
    }
    g_ptr_array_sort(props, qom_property_seq_cmp_desc);
    for (guint i = props->len; i > 0; i--) {
        ObjectProperty *prop = g_ptr_array_index(props, i - 1);

        g_ptr_array_add(children, object_ref(prop->u.child.child));
    }
    g_ptr_array_free(props, TRUE);
    return children;
}

int object_child_foreach(Object *obj,
                         int (*fn)(Object *child, void *opaque),
                         void *opaque)
{
    g_autoptr(GPtrArray) children = children_snapshot(obj);
    int ret = 0;

    for (guint i = 0; i < children->len && ret == 0; i++) {
        ret = fn(g_ptr_array_index(children, i), opaque);
    }
    return ret;
}

/* Follows "/"-separated child names from @start. */
static Object *resolve_relative(Object *start, char **parts)
{
    Object *obj = start;

    for (; *parts && obj; parts++) {
        if (**parts) {
            obj = object_resolve_path_component(obj, *parts);
        }
    }
    return obj;
}

/*
 * Collects into @found every distinct object that @parts resolves to,
 * starting from any object of the subtree at @obj.
 */
static void resolve_partial(Object *obj, char **parts, GPtrArray *found)
{
    g_autoptr(GPtrArray) children = children_snapshot(obj);
    Object *match = resolve_relative(obj, parts);

    if (match && match != obj && !g_ptr_array_find(found, match, NULL)) {
        g_ptr_array_add(found, match);
    }
    for (guint i = 0; i < children->len; i++) {
        resolve_partial(g_ptr_array_index(children, i), parts, found);
    }
}

Object *object_resolve_path(const char *path, bool *ambiguous)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    g_autoptr(GPtrArray) found = NULL;

    if (ambiguous) {
        *ambiguous = false;
    }
    if (path[0] == '/') {
        return resolve_relative(object_get_root(), parts);
    }
    found = g_ptr_array_new();
    resolve_partial(object_get_root(), parts, found);
    if (found->len > 1) {
        if (ambiguous) {
            *ambiguous = true;
        }
        return NULL;
    }
    return found->len ? g_ptr_array_index(found, 0) : NULL;
}
