/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QOM: types, classes, casts, instances, and the property tables.
 * Property kinds and values are in object-property.c, the composition
 * tree in object-tree.c.
 *
 * Theory of operation:
 * - Types are registered into a name table (type_register_static(), from
 *   constructors or early in main()). A type's class is made on first use
 *   and then never changes or goes away.
 * - qom_lock (recursive, since class_init may look up other classes)
 *   protects the type table, the lazy resolution of parent types and class
 *   creation. A made class is published with a release store, so later
 *   users read it without the lock; casts only walk made classes and take
 *   no lock at all.
 * - An object's refcount is atomic; the thread that drops the last
 *   reference finalizes it. Properties and the composition tree are not
 *   locked: they belong to the main thread.
 */
#include "qemu/osdep.h"

#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qom/object.h"
#include "qom/object_interfaces.h"
#include "qom-internal.h"

struct TypeImpl {
    char *name;
    char *parent_name;
    struct TypeImpl *parent_type;   /* resolved lazily, under qom_lock */

    size_t class_size;
    size_t instance_size;
    void (*class_init)(ObjectClass *klass, void *data);
    void *class_data;
    void (*instance_init)(Object *obj);
    void (*instance_post_init)(Object *obj);
    void (*instance_finalize)(Object *obj);
    bool abstract;

    char **interfaces;              /* NULL-terminated names */

    ObjectClass *class;             /* published once made */
    bool initializing;              /* class being made (loop detection) */
};

typedef struct TypeImpl TypeImpl;

/* Protects type_table, TypeImpl.parent_type and class creation. */
static GRecMutex qom_lock;
static GHashTable *type_table;

/* Source of ObjectProperty.seq, to keep creation order. */
static uint64_t property_seq;

void qom_die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
    abort();
}

/* Types. */

static TypeImpl *type_new(const TypeInfo *info)
{
    TypeImpl *ti = g_new0(TypeImpl, 1);
    size_t n = 0;

    ti->name = g_strdup(info->name);
    ti->parent_name = g_strdup(info->parent);
    ti->class_size = info->class_size;
    ti->instance_size = info->instance_size;
    ti->class_init = info->class_init;
    ti->class_data = info->class_data;
    ti->instance_init = info->instance_init;
    ti->instance_post_init = info->instance_post_init;
    ti->instance_finalize = info->instance_finalize;
    ti->abstract = info->abstract;

    while (info->interfaces && info->interfaces[n].type) {
        n++;
    }
    ti->interfaces = g_new0(char *, n + 1);
    for (size_t i = 0; i < n; i++) {
        ti->interfaces[i] = g_strdup(info->interfaces[i].type);
    }
    return ti;
}

static void type_table_add_locked(const TypeInfo *info, TypeImpl **out);

static const TypeInfo object_info = {
    .name = TYPE_OBJECT,
    .instance_size = sizeof(Object),
    .class_size = sizeof(ObjectClass),
    .abstract = true,
};

static const TypeInfo interface_info = {
    .name = TYPE_INTERFACE,
    .class_size = sizeof(InterfaceClass),
    .abstract = true,
};

static const TypeInfo container_info = {
    .name = TYPE_CONTAINER,
    .parent = TYPE_OBJECT,
};

/* The table, made with the built-in types on first use. */
static GHashTable *type_table_get_locked(void)
{
    if (!type_table) {
        type_table = g_hash_table_new(g_str_hash, g_str_equal);
        type_table_add_locked(&object_info, NULL);
        type_table_add_locked(&interface_info, NULL);
        type_table_add_locked(&container_info, NULL);
        type_table_add_locked(&user_creatable_interface_info, NULL);
    }
    return type_table;
}

static void type_table_add_locked(const TypeInfo *info, TypeImpl **out)
{
    GHashTable *table = type_table_get_locked();
    TypeImpl *ti;

    if (!info->name || !*info->name) {
        qom_die("QOM type registered without a name");
    }
    if (g_hash_table_contains(table, info->name)) {
        qom_die("QOM type '%s' registered twice", info->name);
    }
    if (!info->parent && strcmp(info->name, TYPE_OBJECT) != 0 &&
        strcmp(info->name, TYPE_INTERFACE) != 0) {
        qom_die("QOM type '%s' has no parent type", info->name);
    }
    ti = type_new(info);
    g_hash_table_insert(table, ti->name, ti);
    if (out) {
        *out = ti;
    }
}

Type type_register_static(const TypeInfo *info)
{
    TypeImpl *ti;

    g_rec_mutex_lock(&qom_lock);
    type_table_add_locked(info, &ti);
    g_rec_mutex_unlock(&qom_lock);
    return ti;
}

void type_register_static_array(const TypeInfo *infos, int nr_infos)
{
    for (int i = 0; i < nr_infos; i++) {
        type_register_static(&infos[i]);
    }
}

static TypeImpl *type_lookup_locked(const char *name)
{
    return g_hash_table_lookup(type_table_get_locked(), name);
}

static TypeImpl *type_parent_locked(TypeImpl *ti)
{
    if (!ti->parent_type && ti->parent_name) {
        ti->parent_type = type_lookup_locked(ti->parent_name);
        if (!ti->parent_type) {
            qom_die("QOM type '%s' has unknown parent type '%s'",
                    ti->name, ti->parent_name);
        }
    }
    return ti->parent_type;
}

/* Is @ti @ancestor or one of its subtypes? Resolves parents as it goes. */
static bool type_is_a_locked(TypeImpl *ti, TypeImpl *ancestor)
{
    for (; ti; ti = type_parent_locked(ti)) {
        if (ti == ancestor) {
            return true;
        }
    }
    return false;
}

static ObjectClass *type_get_class(TypeImpl *ti)
{
    return __atomic_load_n(&ti->class, __ATOMIC_ACQUIRE);
}

static void type_initialize_locked(TypeImpl *ti);

/*
 * Gives the class being made (@klass, of type @ti) its copy of interface
 * @iface's class. @parent is the type to copy from: @iface itself for an
 * interface the type declares, or the parent class' implementation for an
 * inherited one, so that inherited method overrides carry over.
 */
static void add_interface_impl_locked(TypeImpl *ti, ObjectClass *klass,
                                      TypeImpl *iface, TypeImpl *parent)
{
    TypeImpl *impl = g_new0(TypeImpl, 1);
    InterfaceClass *ic;

    impl->name = g_strdup_printf("%s::%s", ti->name, iface->name);
    impl->parent_name = g_strdup(parent->name);
    impl->parent_type = parent;
    impl->abstract = true;
    impl->interfaces = g_new0(char *, 1);
    type_initialize_locked(impl);

    ic = (InterfaceClass *)impl->class;
    ic->concrete_class = klass;
    ic->interface_type = iface;
    klass->interfaces = g_slist_append(klass->interfaces, ic);
}

static bool class_has_interface(ObjectClass *klass, TypeImpl *iface)
{
    for (GSList *l = klass->interfaces; l; l = l->next) {
        InterfaceClass *ic = l->data;

        if (type_is_a_locked(ic->interface_type, iface)) {
            return true;
        }
    }
    return false;
}

static void type_initialize_locked(TypeImpl *ti)
{
    TypeImpl *parent, *interface_type;
    ObjectClass *klass;

    if (ti->class) {
        return;
    }
    if (ti->initializing) {
        qom_die("QOM type '%s' needs its own class while making it",
                ti->name);
    }
    ti->initializing = true;

    parent = type_parent_locked(ti);
    if (parent) {
        type_initialize_locked(parent);
        if (!ti->class_size) {
            ti->class_size = parent->class_size;
        }
        if (!ti->instance_size) {
            ti->instance_size = parent->instance_size;
        }
        if (ti->class_size < parent->class_size ||
            ti->instance_size < parent->instance_size) {
            qom_die("QOM type '%s' is smaller than its parent '%s'",
                    ti->name, parent->name);
        }
    }

    interface_type = type_lookup_locked(TYPE_INTERFACE);
    if (type_is_a_locked(ti, interface_type)) {
        if (ti->instance_size || ti->interfaces[0]) {
            qom_die("QOM interface '%s' may have neither instances nor "
                    "interfaces", ti->name);
        }
        /* Interfaces are never instantiated. */
        ti->abstract = true;
    }

    klass = g_malloc0(ti->class_size);
    if (parent) {
        memcpy(klass, parent->class, parent->class_size);
    }
    klass->type = ti;
    klass->interfaces = NULL;
    klass->properties = g_hash_table_new(g_str_hash, g_str_equal);

    if (parent) {
        for (GSList *l = parent->class->interfaces; l; l = l->next) {
            InterfaceClass *parent_ic = l->data;

            add_interface_impl_locked(ti, klass, parent_ic->interface_type,
                                      parent_ic->parent_class.type);
        }
    }
    for (char **name = ti->interfaces; *name; name++) {
        TypeImpl *iface = type_lookup_locked(*name);

        if (!iface || !type_is_a_locked(iface, interface_type) ||
            iface == interface_type) {
            qom_die("QOM type '%s' lists '%s', which is not an interface",
                    ti->name, *name);
        }
        type_initialize_locked(iface);
        if (!class_has_interface(klass, iface)) {
            add_interface_impl_locked(ti, klass, iface, iface);
        }
    }

    if (ti->class_init) {
        ti->class_init(klass, ti->class_data);
    }
    ti->initializing = false;
    __atomic_store_n(&ti->class, klass, __ATOMIC_RELEASE);
}

static ObjectClass *type_initialize(TypeImpl *ti)
{
    ObjectClass *klass = type_get_class(ti);

    if (!klass) {
        g_rec_mutex_lock(&qom_lock);
        type_initialize_locked(ti);
        klass = ti->class;
        g_rec_mutex_unlock(&qom_lock);
    }
    return klass;
}

ObjectClass *object_class_by_name(const char *typename)
{
    TypeImpl *ti;

    g_rec_mutex_lock(&qom_lock);
    ti = type_lookup_locked(typename);
    g_rec_mutex_unlock(&qom_lock);
    return ti ? type_initialize(ti) : NULL;
}

const char *object_class_get_name(ObjectClass *klass)
{
    return klass->type->name;
}

ObjectClass *object_class_get_parent(ObjectClass *klass)
{
    TypeImpl *parent = klass->type->parent_type;

    return parent ? type_get_class(parent) : NULL;
}

bool object_class_is_abstract(ObjectClass *klass)
{
    return klass->type->abstract;
}

/* Casts: every class on these paths is made, so no lock is needed. */

static bool class_is_a(ObjectClass *klass, const char *typename)
{
    for (TypeImpl *ti = klass->type; ti; ti = ti->parent_type) {
        if (ti->name == typename || strcmp(ti->name, typename) == 0) {
            return true;
        }
    }
    return false;
}

ObjectClass *object_class_dynamic_cast(ObjectClass *klass,
                                       const char *typename)
{
    ObjectClass *found = NULL;

    if (!klass) {
        return NULL;
    }
    if (class_is_a(klass, typename)) {
        return klass;
    }
    for (GSList *l = klass->interfaces; l; l = l->next) {
        ObjectClass *ic = l->data;

        if (class_is_a(ic, typename)) {
            if (found) {
                /* Two interfaces derive from @typename: ambiguous. */
                return NULL;
            }
            found = ic;
        }
    }
    return found;
}

ObjectClass *object_class_dynamic_cast_assert(ObjectClass *klass,
                                              const char *typename,
                                              const char *file, int line,
                                              const char *func)
{
    ObjectClass *ret;

    if (!klass) {
        return NULL;
    }
    ret = object_class_dynamic_cast(klass, typename);
    if (!ret) {
        qom_die("%s:%d: %s(): class '%s' cannot be cast to '%s'",
                file, line, func, klass->type->name, typename);
    }
    return ret;
}

Object *object_dynamic_cast(Object *obj, const char *typename)
{
    if (obj && object_class_dynamic_cast(obj->class, typename)) {
        return obj;
    }
    return NULL;
}

Object *object_dynamic_cast_assert(Object *obj, const char *typename,
                                   const char *file, int line,
                                   const char *func)
{
    if (obj && !object_class_dynamic_cast(obj->class, typename)) {
        qom_die("%s:%d: %s(): object of type '%s' cannot be cast to '%s'",
                file, line, func, obj->class->type->name, typename);
    }
    return obj;
}

GSList *object_class_get_list(const char *implements_type,
                              bool include_abstract)
{
    GSList *types = NULL, *classes = NULL;
    GHashTableIter iter;
    gpointer value;

    /* Make classes outside the walk: class_init may register types. */
    g_rec_mutex_lock(&qom_lock);
    g_hash_table_iter_init(&iter, type_table_get_locked());
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        types = g_slist_prepend(types, value);
    }
    g_rec_mutex_unlock(&qom_lock);

    for (GSList *l = types; l; l = l->next) {
        TypeImpl *ti = l->data;
        ObjectClass *klass = type_initialize(ti);

        if (ti->abstract && !include_abstract) {
            continue;
        }
        if (implements_type &&
            !object_class_dynamic_cast(klass, implements_type)) {
            continue;
        }
        classes = g_slist_prepend(classes, klass);
    }
    g_slist_free(types);
    return classes;
}

static gint class_name_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(object_class_get_name((ObjectClass *)a),
                  object_class_get_name((ObjectClass *)b));
}

GSList *object_class_get_list_sorted(const char *implements_type,
                                     bool include_abstract)
{
    return g_slist_sort(object_class_get_list(implements_type,
                                              include_abstract),
                        class_name_cmp);
}

/* Instances. */

void qom_property_free(gpointer data)
{
    ObjectProperty *prop = data;

    g_free(prop->name);
    g_free(prop->type);
    g_free(prop->description);
    g_free(prop);
}

static void object_init_with_type(Object *obj, TypeImpl *ti)
{
    if (ti->parent_type) {
        object_init_with_type(obj, ti->parent_type);
    }
    if (ti->instance_init) {
        ti->instance_init(obj);
    }
}

static void object_post_init_with_type(Object *obj, TypeImpl *ti)
{
    if (ti->parent_type) {
        object_post_init_with_type(obj, ti->parent_type);
    }
    if (ti->instance_post_init) {
        ti->instance_post_init(obj);
    }
}

static void object_initialize_with_class(void *data, size_t size,
                                         ObjectClass *klass)
{
    TypeImpl *ti = klass->type;
    Object *obj = data;

    if (ti->abstract) {
        qom_die("QOM type '%s' is abstract and cannot be instantiated",
                ti->name);
    }
    assert(size >= ti->instance_size);
    memset(obj, 0, ti->instance_size);
    obj->class = klass;
    obj->ref = 1;
    obj->properties = g_hash_table_new_full(g_str_hash, g_str_equal,
                                            NULL, qom_property_free);
    object_init_with_type(obj, ti);
    object_post_init_with_type(obj, ti);
}

Object *object_new_with_class(ObjectClass *klass)
{
    Object *obj = g_malloc0(klass->type->instance_size);

    object_initialize_with_class(obj, klass->type->instance_size, klass);
    obj->free = g_free;
    return obj;
}

Object *object_new(const char *typename)
{
    ObjectClass *klass = object_class_by_name(typename);

    if (!klass) {
        qom_die("QOM type '%s' is not registered", typename);
    }
    return object_new_with_class(klass);
}

void object_initialize(void *data, size_t size, const char *typename)
{
    ObjectClass *klass = object_class_by_name(typename);

    if (!klass) {
        qom_die("QOM type '%s' is not registered", typename);
    }
    object_initialize_with_class(data, size, klass);
}

gint qom_property_seq_cmp_desc(gconstpointer a, gconstpointer b)
{
    const ObjectProperty *pa = *(ObjectProperty *const *)a;
    const ObjectProperty *pb = *(ObjectProperty *const *)b;

    return pa->seq < pb->seq ? 1 : pa->seq > pb->seq ? -1 : 0;
}

/* Undoes what a property holds (a child's reference). */
static void property_release(ObjectProperty *prop)
{
    if (prop->kind == OBJ_PROP_KIND_CHILD) {
        Object *child = prop->u.child.child;

        child->parent = NULL;
        object_unref(child);
    }
}

/* Deletes every per-object property, the newest first. */
static void object_property_del_all(Object *obj)
{
    g_autoptr(GPtrArray) props = g_ptr_array_new();
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, obj->properties);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        g_ptr_array_add(props, value);
    }
    g_ptr_array_sort(props, qom_property_seq_cmp_desc);
    for (guint i = 0; i < props->len; i++) {
        ObjectProperty *prop = g_ptr_array_index(props, i);

        /* A release above may have deleted it already. */
        if (g_hash_table_lookup(obj->properties, prop->name) == prop) {
            object_property_del(obj, prop->name);
        }
    }
}

static void object_finalize(Object *obj)
{
    object_property_del_all(obj);
    for (TypeImpl *ti = obj->class->type; ti; ti = ti->parent_type) {
        if (ti->instance_finalize) {
            ti->instance_finalize(obj);
        }
    }
    assert(obj->ref == 0);
    assert(obj->parent == NULL);
    g_hash_table_destroy(obj->properties);
    obj->properties = NULL;
    if (obj->free) {
        obj->free(obj);
    }
}

Object *object_ref(void *opaque)
{
    Object *obj = opaque;
    uint32_t old = __atomic_fetch_add(&obj->ref, 1, __ATOMIC_RELAXED);

    assert(old > 0);
    return obj;
}

void object_unref(void *opaque)
{
    Object *obj = opaque;

    if (!obj) {
        return;
    }
    assert(__atomic_load_n(&obj->ref, __ATOMIC_RELAXED) > 0);
    if (__atomic_sub_fetch(&obj->ref, 1, __ATOMIC_ACQ_REL) == 0) {
        object_finalize(obj);
    }
}

ObjectClass *object_get_class(Object *obj)
{
    return obj->class;
}

const char *object_get_typename(const Object *obj)
{
    return obj->class->type->name;
}

/* Properties: lookup and registration. */

ObjectProperty *object_class_property_find(ObjectClass *klass,
                                           const char *name)
{
    for (; klass; klass = object_class_get_parent(klass)) {
        ObjectProperty *prop = g_hash_table_lookup(klass->properties, name);

        if (prop) {
            return prop;
        }
    }
    return NULL;
}

ObjectProperty *object_property_find(Object *obj, const char *name)
{
    ObjectProperty *prop = g_hash_table_lookup(obj->properties, name);

    return prop ? prop : object_class_property_find(obj->class, name);
}

ObjectProperty *object_property_find_err(Object *obj, const char *name,
                                         Error **errp)
{
    ObjectProperty *prop = object_property_find(obj, name);

    if (!prop) {
        error_setg(errp, "Property '%s.%s' not found",
                   object_get_typename(obj), name);
    }
    return prop;
}

ObjectProperty *qom_property_new(const char *name, const char *type,
                                 ObjectPropertyKind kind)
{
    ObjectProperty *prop = g_new0(ObjectProperty, 1);

    prop->name = g_strdup(name);
    prop->type = g_strdup(type);
    prop->kind = kind;
    prop->seq = __atomic_add_fetch(&property_seq, 1, __ATOMIC_RELAXED);
    return prop;
}

ObjectProperty *qom_class_add_property(ObjectClass *klass,
                                       ObjectProperty *prop)
{
    if (object_class_property_find(klass, prop->name)) {
        qom_die("QOM type '%s' adds property '%s' twice",
                object_class_get_name(klass), prop->name);
    }
    g_hash_table_insert(klass->properties, prop->name, prop);
    return prop;
}

ObjectProperty *qom_object_add_property(Object *obj, ObjectProperty *prop,
                                        Error **errp)
{
    if (object_property_find(obj, prop->name)) {
        error_setg(errp, "Object of type '%s' already has a property "
                   "named '%s'", object_get_typename(obj), prop->name);
        qom_property_free(prop);
        return NULL;
    }
    g_hash_table_insert(obj->properties, prop->name, prop);
    return prop;
}

void object_class_property_set_description(ObjectClass *klass,
                                           const char *name,
                                           const char *description)
{
    ObjectProperty *prop = g_hash_table_lookup(klass->properties, name);

    assert(prop);
    g_free(prop->description);
    prop->description = g_strdup(description);
}

void object_property_set_description(Object *obj, const char *name,
                                     const char *description)
{
    ObjectProperty *prop = g_hash_table_lookup(obj->properties, name);

    assert(prop);
    g_free(prop->description);
    prop->description = g_strdup(description);
}

void object_property_del(Object *obj, const char *name)
{
    ObjectProperty *prop = g_hash_table_lookup(obj->properties, name);

    assert(prop);
    g_hash_table_steal(obj->properties, name);
    property_release(prop);
    qom_property_free(prop);
}

void object_property_iter_init(ObjectPropertyIterator *iter, Object *obj)
{
    g_hash_table_iter_init(&iter->iter, obj->properties);
    iter->nextclass = obj->class;
}

void object_class_property_iter_init(ObjectPropertyIterator *iter,
                                     ObjectClass *klass)
{
    g_hash_table_iter_init(&iter->iter, klass->properties);
    iter->nextclass = object_class_get_parent(klass);
}

ObjectProperty *object_property_iter_next(ObjectPropertyIterator *iter)
{
    gpointer value;

    while (!g_hash_table_iter_next(&iter->iter, NULL, &value)) {
        if (!iter->nextclass) {
            return NULL;
        }
        g_hash_table_iter_init(&iter->iter, iter->nextclass->properties);
        iter->nextclass = object_class_get_parent(iter->nextclass);
    }
    return value;
}

Object *object_new_with_props(const char *typename, Object *parent,
                              const char *id, Error **errp, ...)
{
    ObjectClass *klass = object_class_by_name(typename);
    g_autoptr(Object) obj = NULL;
    const char *name;
    va_list ap;

    assert(!parent || id);
    if (!klass) {
        error_setg(errp, "Unknown object type '%s'", typename);
        return NULL;
    }
    if (object_class_is_abstract(klass)) {
        error_setg(errp, "Object type '%s' is abstract", typename);
        return NULL;
    }
    obj = object_new_with_class(klass);

    va_start(ap, errp);
    while ((name = va_arg(ap, const char *))) {
        const char *value = va_arg(ap, const char *);

        if (!object_property_parse(obj, name, value, errp)) {
            va_end(ap);
            return NULL;
        }
    }
    va_end(ap);

    if (object_dynamic_cast(obj, TYPE_USER_CREATABLE) &&
        !user_creatable_complete(USER_CREATABLE(obj), errp)) {
        return NULL;
    }
    if (!parent) {
        return g_steal_pointer(&obj);
    }
    if (!object_property_try_add_child(parent, id, obj, errp)) {
        return NULL;
    }
    return obj;     /* the parent holds it; our reference goes */
}
