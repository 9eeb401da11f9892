/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QOM properties: the adders for each kind of value, and reading and
 * writing values as text or as typed C values.
 *
 * Properties belong to the main thread, like the objects' composition.
 * The lookup and the bookkeeping of property tables are in object.c.
 */
#include "qemu/osdep.h"

#include "qapi/error.h"
#include "qemu/cutils.h"
#include "qom/object.h"
#include "qom-internal.h"

/* Adds a per-object property; a name clash is a bug and aborts. */
static ObjectProperty *object_add(Object *obj, ObjectProperty *prop)
{
    return qom_object_add_property(obj, prop, &error_abort);
}

static ObjectProperty *
new_str_prop(const char *name, char *(*get)(Object *, Error **),
             void (*set)(Object *, const char *, Error **))
{
    ObjectProperty *prop = qom_property_new(name, "string", OBJ_PROP_KIND_STR);

    prop->u.str.get = get;
    prop->u.str.set = set;
    return prop;
}

static ObjectProperty *
new_bool_prop(const char *name, bool (*get)(Object *, Error **),
              void (*set)(Object *, bool, Error **))
{
    ObjectProperty *prop = qom_property_new(name, "bool", OBJ_PROP_KIND_BOOL);

    prop->u.boolean.get = get;
    prop->u.boolean.set = set;
    return prop;
}

static ObjectProperty *
new_enum_prop(const char *name, const char *const *lookup,
              int (*get)(Object *, Error **),
              void (*set)(Object *, int, Error **))
{
    ObjectProperty *prop = qom_property_new(name, "enum", OBJ_PROP_KIND_ENUM);

    assert(lookup && lookup[0]);
    prop->u.enumeration.lookup = lookup;
    prop->u.enumeration.get = get;
    prop->u.enumeration.set = set;
    return prop;
}

ObjectProperty *
object_class_property_add_str(ObjectClass *klass, const char *name,
                              char *(*get)(Object *obj, Error **errp),
                              void (*set)(Object *obj, const char *value,
                                          Error **errp))
{
    return qom_class_add_property(klass, new_str_prop(name, get, set));
}

ObjectProperty *
object_class_property_add_bool(ObjectClass *klass, const char *name,
                               bool (*get)(Object *obj, Error **errp),
                               void (*set)(Object *obj, bool value,
                                           Error **errp))
{
    return qom_class_add_property(klass, new_bool_prop(name, get, set));
}

ObjectProperty *
object_class_property_add_enum(ObjectClass *klass, const char *name,
                               const char *const *lookup,
                               int (*get)(Object *obj, Error **errp),
                               void (*set)(Object *obj, int value,
                                           Error **errp))
{
    return qom_class_add_property(klass, new_enum_prop(name, lookup, get, set));
}

ObjectProperty *
object_property_add_str(Object *obj, const char *name,
                        char *(*get)(Object *obj, Error **errp),
                        void (*set)(Object *obj, const char *value,
                                    Error **errp))
{
    return object_add(obj, new_str_prop(name, get, set));
}

ObjectProperty *
object_property_add_bool(Object *obj, const char *name,
                         bool (*get)(Object *obj, Error **errp),
                         void (*set)(Object *obj, bool value, Error **errp))
{
    return object_add(obj, new_bool_prop(name, get, set));
}

ObjectProperty *
object_property_add_enum(Object *obj, const char *name,
                         const char *const *lookup,
                         int (*get)(Object *obj, Error **errp),
                         void (*set)(Object *obj, int value, Error **errp))
{
    return object_add(obj, new_enum_prop(name, lookup, get, set));
}

ObjectProperty *
object_class_property_add_int(ObjectClass *klass, const char *name,
                              int64_t min, int64_t max,
                              ObjectPropertyGetInt *get,
                              ObjectPropertySetInt *set)
{
    ObjectProperty *prop = qom_property_new(name, "int64", OBJ_PROP_KIND_INT);

    assert(min <= max);
    prop->u.integer.get = get;
    prop->u.integer.set = set;
    prop->u.integer.min = min;
    prop->u.integer.max = max;
    return qom_class_add_property(klass, prop);
}

ObjectProperty *
object_class_property_add_uint(ObjectClass *klass, const char *name,
                               uint64_t max, ObjectPropertyGetUint *get,
                               ObjectPropertySetUint *set)
{
    ObjectProperty *prop = qom_property_new(name, "uint64", OBJ_PROP_KIND_UINT);

    prop->u.uinteger.get = get;
    prop->u.uinteger.set = set;
    prop->u.uinteger.max = max;
    return qom_class_add_property(klass, prop);
}

ObjectProperty *
object_class_property_add_size(ObjectClass *klass, const char *name,
                               ObjectPropertyGetUint *get,
                               ObjectPropertySetUint *set)
{
    ObjectProperty *prop = qom_property_new(name, "size", OBJ_PROP_KIND_SIZE);

    prop->u.uinteger.get = get;
    prop->u.uinteger.set = set;
    prop->u.uinteger.max = UINT64_MAX;
    return qom_class_add_property(klass, prop);
}

/*
 * An integer property backed by a field of @width bytes: in the instance
 * at @offset when @ptr is NULL, else at @ptr.
 */
static ObjectProperty *new_field_prop(const char *name, ObjectPropertyKind kind,
                                      uint8_t width, void *ptr,
                                      ptrdiff_t offset,
                                      ObjectPropertyFlags flags)
{
    static const char *const unsigned_names[] = {
        [1] = "uint8", [2] = "uint16", [4] = "uint32", [8] = "uint64",
    };
    static const char *const signed_names[] = {
        [4] = "int32", [8] = "int64",
    };
    const char *type = kind == OBJ_PROP_KIND_SIZE ? "size" :
                       kind == OBJ_PROP_KIND_INT ? signed_names[width] :
                       unsigned_names[width];
    ObjectProperty *prop = qom_property_new(name, type, kind);

    prop->field_ptr = ptr;
    prop->field_offset = offset;
    prop->field_width = width;
    prop->field_flags = flags;
    if (kind == OBJ_PROP_KIND_INT) {
        int shift = 64 - 8 * width;

        prop->u.integer.min = INT64_MIN >> shift;
        prop->u.integer.max = INT64_MAX >> shift;
    } else {
        prop->u.uinteger.max = UINT64_MAX >> (64 - 8 * width);
    }
    return prop;
}

/* A field-backed integer property of every instance of @klass. */
static ObjectProperty *add_class_field(ObjectClass *klass, const char *name,
                                       ObjectPropertyKind kind,
                                       uint8_t width, ptrdiff_t offset,
                                       ObjectPropertyFlags flags)
{
    return qom_class_add_property(klass, new_field_prop(name, kind, width,
                                                        NULL, offset,
                                                        flags));
}

ObjectProperty *
object_class_property_add_uint8_ptr(ObjectClass *klass, const char *name,
                                    ptrdiff_t offset,
                                    ObjectPropertyFlags flags)
{
    return add_class_field(klass, name, OBJ_PROP_KIND_UINT, 1, offset, flags);
}

ObjectProperty *
object_class_property_add_uint16_ptr(ObjectClass *klass, const char *name,
                                     ptrdiff_t offset,
                                     ObjectPropertyFlags flags)
{
    return add_class_field(klass, name, OBJ_PROP_KIND_UINT, 2, offset, flags);
}

ObjectProperty *
object_class_property_add_uint32_ptr(ObjectClass *klass, const char *name,
                                     ptrdiff_t offset,
                                     ObjectPropertyFlags flags)
{
    return add_class_field(klass, name, OBJ_PROP_KIND_UINT, 4, offset, flags);
}

ObjectProperty *
object_class_property_add_uint64_ptr(ObjectClass *klass, const char *name,
                                     ptrdiff_t offset,
                                     ObjectPropertyFlags flags)
{
    return add_class_field(klass, name, OBJ_PROP_KIND_UINT, 8, offset, flags);
}

ObjectProperty *
object_class_property_add_int32_ptr(ObjectClass *klass, const char *name,
                                    ptrdiff_t offset,
                                    ObjectPropertyFlags flags)
{
    return add_class_field(klass, name, OBJ_PROP_KIND_INT, 4, offset, flags);
}

ObjectProperty *
object_class_property_add_int64_ptr(ObjectClass *klass, const char *name,
                                    ptrdiff_t offset,
                                    ObjectPropertyFlags flags)
{
    return add_class_field(klass, name, OBJ_PROP_KIND_INT, 8, offset, flags);
}

ObjectProperty *
object_class_property_add_size_ptr(ObjectClass *klass, const char *name,
                                   ptrdiff_t offset,
                                   ObjectPropertyFlags flags)
{
    return add_class_field(klass, name, OBJ_PROP_KIND_SIZE, 8, offset, flags);
}

ObjectProperty *object_property_add_uint8_ptr(Object *obj, const char *name,
                                              uint8_t *v,
                                              ObjectPropertyFlags flags)
{
    return object_add(obj, new_field_prop(name, OBJ_PROP_KIND_UINT, 1,
                                          v, 0, flags));
}

ObjectProperty *object_property_add_uint16_ptr(Object *obj,
                                               const char *name,
                                               uint16_t *v,
                                               ObjectPropertyFlags flags)
{
    return object_add(obj, new_field_prop(name, OBJ_PROP_KIND_UINT, 2,
                                          v, 0, flags));
}

ObjectProperty *object_property_add_uint32_ptr(Object *obj,
                                               const char *name,
                                               uint32_t *v,
                                               ObjectPropertyFlags flags)
{
    return object_add(obj, new_field_prop(name, OBJ_PROP_KIND_UINT, 4,
                                          v, 0, flags));
}

ObjectProperty *object_property_add_uint64_ptr(Object *obj,
                                               const char *name,
                                               uint64_t *v,
                                               ObjectPropertyFlags flags)
{
    return object_add(obj, new_field_prop(name, OBJ_PROP_KIND_UINT, 8,
                                          v, 0, flags));
}

/* Properties: values. */

#define PROP_FMT "Property '%s.%s'"
#define PROP_ARGS(obj, prop) object_get_typename(obj), (prop)->name

static bool prop_readable(ObjectProperty *prop)
{
    if (prop->field_width) {
        return prop->field_flags & OBJ_PROP_FLAG_READ;
    }
    switch (prop->kind) {
    case OBJ_PROP_KIND_STR:
        return prop->u.str.get;
    case OBJ_PROP_KIND_BOOL:
        return prop->u.boolean.get;
    case OBJ_PROP_KIND_ENUM:
        return prop->u.enumeration.get;
    case OBJ_PROP_KIND_INT:
        return prop->u.integer.get;
    case OBJ_PROP_KIND_UINT:
    case OBJ_PROP_KIND_SIZE:
        return prop->u.uinteger.get;
    case OBJ_PROP_KIND_CHILD:
        return true;
    }
    g_assert_not_reached();
}

static bool prop_writable(ObjectProperty *prop)
{
    if (prop->field_width) {
        return prop->field_flags & OBJ_PROP_FLAG_WRITE;
    }
    switch (prop->kind) {
    case OBJ_PROP_KIND_STR:
        return prop->u.str.set;
    case OBJ_PROP_KIND_BOOL:
        return prop->u.boolean.set;
    case OBJ_PROP_KIND_ENUM:
        return prop->u.enumeration.set;
    case OBJ_PROP_KIND_INT:
        return prop->u.integer.set;
    case OBJ_PROP_KIND_UINT:
    case OBJ_PROP_KIND_SIZE:
        return prop->u.uinteger.set;
    case OBJ_PROP_KIND_CHILD:
        return false;
    }
    g_assert_not_reached();
}

/* Finds @name and checks that it may be read (or written). */
static ObjectProperty *prop_lookup(Object *obj, const char *name,
                                   bool write, Error **errp)
{
    ObjectProperty *prop = object_property_find_err(obj, name, errp);

    if (!prop) {
        return NULL;
    }
    if (write && !prop_writable(prop)) {
        error_setg(errp, PROP_FMT " is read-only", PROP_ARGS(obj, prop));
        return NULL;
    }
    if (!write && !prop_readable(prop)) {
        error_setg(errp, PROP_FMT " is write-only", PROP_ARGS(obj, prop));
        return NULL;
    }
    return prop;
}

static bool prop_is_integer(ObjectProperty *prop)
{
    return prop->kind == OBJ_PROP_KIND_INT ||
           prop->kind == OBJ_PROP_KIND_UINT ||
           prop->kind == OBJ_PROP_KIND_SIZE;
}

static void kind_error(Object *obj, ObjectProperty *prop, const char *want,
                       Error **errp)
{
    error_setg(errp, PROP_FMT " is of type '%s', not %s",
               PROP_ARGS(obj, prop), prop->type, want);
}

static void *field_addr(Object *obj, ObjectProperty *prop)
{
    return prop->field_ptr ? prop->field_ptr :
           (char *)obj + prop->field_offset;
}

static uint64_t field_read_unsigned(Object *obj, ObjectProperty *prop)
{
    void *addr = field_addr(obj, prop);

    switch (prop->field_width) {
    case 1:
        return *(uint8_t *)addr;
    case 2:
        return *(uint16_t *)addr;
    case 4:
        return *(uint32_t *)addr;
    default:
        return *(uint64_t *)addr;
    }
}

static void field_write_unsigned(Object *obj, ObjectProperty *prop,
                                 uint64_t v)
{
    void *addr = field_addr(obj, prop);

    switch (prop->field_width) {
    case 1:
        *(uint8_t *)addr = v;
        break;
    case 2:
        *(uint16_t *)addr = v;
        break;
    case 4:
        *(uint32_t *)addr = v;
        break;
    default:
        *(uint64_t *)addr = v;
        break;
    }
}

/*
 * The integer value of a readable integer property, as a signed or an
 * unsigned number depending on its kind (@is_signed tells which).
 */
static bool prop_read_integer(Object *obj, ObjectProperty *prop,
                              bool *is_signed, int64_t *sv, uint64_t *uv,
                              Error **errp)
{
    *is_signed = prop->kind == OBJ_PROP_KIND_INT;
    if (prop->field_width) {
        if (*is_signed) {
            void *addr = field_addr(obj, prop);

            *sv = prop->field_width == 4 ? *(int32_t *)addr :
                                           *(int64_t *)addr;
        } else {
            *uv = field_read_unsigned(obj, prop);
        }
        return true;
    }
    if (*is_signed) {
        return prop->u.integer.get(obj, sv, errp);
    }
    return prop->u.uinteger.get(obj, uv, errp);
}

static void range_error(Object *obj, ObjectProperty *prop, const char *value,
                        Error **errp)
{
    if (prop->kind == OBJ_PROP_KIND_INT) {
        error_setg(errp, PROP_FMT " value %s is out of range (%" PRId64
                   " to %" PRId64 ")", PROP_ARGS(obj, prop), value,
                   prop->u.integer.min, prop->u.integer.max);
    } else {
        error_setg(errp, PROP_FMT " value %s is out of range (0 to %"
                   PRIu64 ")", PROP_ARGS(obj, prop), value,
                   prop->u.uinteger.max);
    }
}

static bool prop_write_signed(Object *obj, ObjectProperty *prop, int64_t v,
                              Error **errp)
{
    if (v < prop->u.integer.min || v > prop->u.integer.max) {
        g_autofree char *text = g_strdup_printf("%" PRId64, v);

        range_error(obj, prop, text, errp);
        return false;
    }
    if (prop->field_width) {
        void *addr = field_addr(obj, prop);

        if (prop->field_width == 4) {
            *(int32_t *)addr = v;
        } else {
            *(int64_t *)addr = v;
        }
        return true;
    }
    return prop->u.integer.set(obj, v, errp);
}

static bool prop_write_unsigned(Object *obj, ObjectProperty *prop,
                                uint64_t v, Error **errp)
{
    if (v > prop->u.uinteger.max) {
        g_autofree char *text = g_strdup_printf("%" PRIu64, v);

        range_error(obj, prop, text, errp);
        return false;
    }
    if (prop->field_width) {
        field_write_unsigned(obj, prop, v);
        return true;
    }
    return prop->u.uinteger.set(obj, v, errp);
}

/* Calls a void setter and reports whether it failed. */
static bool prop_write_str(Object *obj, ObjectProperty *prop,
                           const char *value, Error **errp)
{
    Error *local_err = NULL;

    prop->u.str.set(obj, value, &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        return false;
    }
    return true;
}

static bool prop_write_bool(Object *obj, ObjectProperty *prop, bool value,
                            Error **errp)
{
    Error *local_err = NULL;

    prop->u.boolean.set(obj, value, &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        return false;
    }
    return true;
}

static bool prop_write_enum(Object *obj, ObjectProperty *prop,
                            const char *value, Error **errp)
{
    const char *const *lookup = prop->u.enumeration.lookup;
    Error *local_err = NULL;
    g_autoptr(GString) choices = NULL;

    for (int i = 0; lookup[i]; i++) {
        if (strcmp(lookup[i], value) == 0) {
            prop->u.enumeration.set(obj, i, &local_err);
            if (local_err) {
                error_propagate(errp, local_err);
                return false;
            }
            return true;
        }
    }
    choices = g_string_new(NULL);
    for (int i = 0; lookup[i]; i++) {
        g_string_append_printf(choices, "%s'%s'", i ? ", " : "", lookup[i]);
    }
    error_setg(errp, PROP_FMT " does not accept '%s' (expected one of %s)",
               PROP_ARGS(obj, prop), value, choices->str);
    return false;
}

/* Returns the enum value's name, or NULL with @errp set. */
static const char *prop_read_enum(Object *obj, ObjectProperty *prop,
                                  Error **errp)
{
    const char *const *lookup = prop->u.enumeration.lookup;
    Error *local_err = NULL;
    int value = prop->u.enumeration.get(obj, &local_err);
    int n = 0;

    if (local_err) {
        error_propagate(errp, local_err);
        return NULL;
    }
    while (lookup[n]) {
        n++;
    }
    /* A getter outside its own table is a bug in the type. */
    assert(value >= 0 && value < n);
    return lookup[value];
}

static bool prop_read_bool(Object *obj, ObjectProperty *prop, bool *value,
                           Error **errp)
{
    Error *local_err = NULL;

    *value = prop->u.boolean.get(obj, &local_err);
    if (local_err) {
        error_propagate(errp, local_err);
        return false;
    }
    return true;
}

static char *prop_read_str(Object *obj, ObjectProperty *prop, Error **errp)
{
    Error *local_err = NULL;
    char *value = prop->u.str.get(obj, &local_err);

    if (local_err) {
        error_propagate(errp, local_err);
        g_free(value);
        return NULL;
    }
    return value ? value : g_strdup("");
}

static char *child_path(ObjectProperty *prop)
{
    char *path = object_get_canonical_path(prop->u.child.child);

    return path ? path : g_strdup(prop->name);
}

bool object_property_parse(Object *obj, const char *name,
                           const char *string, Error **errp)
{
    ObjectProperty *prop = prop_lookup(obj, name, true, errp);
    bool bval;
    int64_t sval;
    uint64_t uval;
    int ret;

    if (!prop) {
        return false;
    }
    switch (prop->kind) {
    case OBJ_PROP_KIND_STR:
        return prop_write_str(obj, prop, string, errp);
    case OBJ_PROP_KIND_BOOL:
        if (qemu_strtobool(string, &bval) < 0) {
            error_setg(errp, PROP_FMT " expects a boolean (on/off, yes/no, "
                       "true/false), got '%s'", PROP_ARGS(obj, prop),
                       string);
            return false;
        }
        return prop_write_bool(obj, prop, bval, errp);
    case OBJ_PROP_KIND_ENUM:
        return prop_write_enum(obj, prop, string, errp);
    case OBJ_PROP_KIND_INT:
        ret = qemu_parse_int64(string, &sval);
        if (ret == 0) {
            return prop_write_signed(obj, prop, sval, errp);
        }
        break;
    case OBJ_PROP_KIND_UINT:
        ret = qemu_parse_uint64(string, &uval);
        if (ret == 0) {
            return prop_write_unsigned(obj, prop, uval, errp);
        }
        break;
    case OBJ_PROP_KIND_SIZE:
        ret = qemu_strtosz(string, NULL, &uval);
        if (ret == 0) {
            return prop_write_unsigned(obj, prop, uval, errp);
        }
        break;
    default:
        g_assert_not_reached();
    }

    if (ret == -ERANGE) {
        range_error(obj, prop, string, errp);
    } else {
        error_setg(errp, PROP_FMT " expects %s, got '%s'",
                   PROP_ARGS(obj, prop),
                   prop->kind == OBJ_PROP_KIND_SIZE ?
                   "a size (a number with an optional k/M/G/T suffix)" :
                   prop->kind == OBJ_PROP_KIND_INT ? "an integer" :
                   "a non-negative integer", string);
    }
    return false;
}

char *object_property_print(Object *obj, const char *name, bool human,
                            Error **errp)
{
    ObjectProperty *prop = prop_lookup(obj, name, false, errp);
    bool is_signed, bval;
    int64_t sval;
    uint64_t uval;
    const char *word;

    if (!prop) {
        return NULL;
    }
    switch (prop->kind) {
    case OBJ_PROP_KIND_STR:
        return prop_read_str(obj, prop, errp);
    case OBJ_PROP_KIND_BOOL:
        if (!prop_read_bool(obj, prop, &bval, errp)) {
            return NULL;
        }
        return g_strdup(bval ? "on" : "off");
    case OBJ_PROP_KIND_ENUM:
        word = prop_read_enum(obj, prop, errp);
        return word ? g_strdup(word) : NULL;
    case OBJ_PROP_KIND_CHILD:
        return child_path(prop);
    case OBJ_PROP_KIND_INT:
    case OBJ_PROP_KIND_UINT:
    case OBJ_PROP_KIND_SIZE:
        if (!prop_read_integer(obj, prop, &is_signed, &sval, &uval, errp)) {
            return NULL;
        }
        if (is_signed) {
            return g_strdup_printf("%" PRId64, sval);
        }
        if (human && prop->kind == OBJ_PROP_KIND_SIZE) {
            return size_to_str(uval);
        }
        return g_strdup_printf("%" PRIu64, uval);
    }
    g_assert_not_reached();
}

bool object_property_set_str(Object *obj, const char *name,
                             const char *value, Error **errp)
{
    ObjectProperty *prop = prop_lookup(obj, name, true, errp);

    if (!prop) {
        return false;
    }
    if (prop->kind == OBJ_PROP_KIND_STR) {
        return prop_write_str(obj, prop, value, errp);
    }
    if (prop->kind == OBJ_PROP_KIND_ENUM) {
        return prop_write_enum(obj, prop, value, errp);
    }
    kind_error(obj, prop, "a string", errp);
    return false;
}

char *object_property_get_str(Object *obj, const char *name, Error **errp)
{
    ObjectProperty *prop = prop_lookup(obj, name, false, errp);
    const char *word;

    if (!prop) {
        return NULL;
    }
    switch (prop->kind) {
    case OBJ_PROP_KIND_STR:
        return prop_read_str(obj, prop, errp);
    case OBJ_PROP_KIND_ENUM:
        word = prop_read_enum(obj, prop, errp);
        return word ? g_strdup(word) : NULL;
    case OBJ_PROP_KIND_CHILD:
        return child_path(prop);
    default:
        kind_error(obj, prop, "a string", errp);
        return NULL;
    }
}

bool object_property_set_bool(Object *obj, const char *name, bool value,
                              Error **errp)
{
    ObjectProperty *prop = prop_lookup(obj, name, true, errp);

    if (!prop) {
        return false;
    }
    if (prop->kind != OBJ_PROP_KIND_BOOL) {
        kind_error(obj, prop, "a boolean", errp);
        return false;
    }
    return prop_write_bool(obj, prop, value, errp);
}

bool object_property_get_bool(Object *obj, const char *name, Error **errp)
{
    ObjectProperty *prop = prop_lookup(obj, name, false, errp);
    bool value;

    if (!prop) {
        return false;
    }
    if (prop->kind != OBJ_PROP_KIND_BOOL) {
        kind_error(obj, prop, "a boolean", errp);
        return false;
    }
    return prop_read_bool(obj, prop, &value, errp) && value;
}

bool object_property_set_int(Object *obj, const char *name, int64_t value,
                             Error **errp)
{
    ObjectProperty *prop = prop_lookup(obj, name, true, errp);

    if (!prop) {
        return false;
    }
    if (!prop_is_integer(prop)) {
        kind_error(obj, prop, "an integer", errp);
        return false;
    }
    if (prop->kind == OBJ_PROP_KIND_INT) {
        return prop_write_signed(obj, prop, value, errp);
    }
    if (value < 0) {
        g_autofree char *text = g_strdup_printf("%" PRId64, value);

        range_error(obj, prop, text, errp);
        return false;
    }
    return prop_write_unsigned(obj, prop, value, errp);
}

int64_t object_property_get_int(Object *obj, const char *name, Error **errp)
{
    ObjectProperty *prop = prop_lookup(obj, name, false, errp);
    bool is_signed;
    int64_t sval;
    uint64_t uval;

    if (!prop) {
        return -1;
    }
    if (!prop_is_integer(prop)) {
        kind_error(obj, prop, "an integer", errp);
        return -1;
    }
    if (!prop_read_integer(obj, prop, &is_signed, &sval, &uval, errp)) {
        return -1;
    }
    if (is_signed) {
        return sval;
    }
    if (uval > INT64_MAX) {
        error_setg(errp, PROP_FMT " value %" PRIu64 " does not fit in a "
                   "signed integer", PROP_ARGS(obj, prop), uval);
        return -1;
    }
    return uval;
}

bool object_property_set_uint(Object *obj, const char *name,
                              uint64_t value, Error **errp)
{
    ObjectProperty *prop = prop_lookup(obj, name, true, errp);

    if (!prop) {
        return false;
    }
    if (!prop_is_integer(prop)) {
        kind_error(obj, prop, "an integer", errp);
        return false;
    }
    if (prop->kind == OBJ_PROP_KIND_INT) {
        if (value > INT64_MAX) {
            g_autofree char *text = g_strdup_printf("%" PRIu64, value);

            range_error(obj, prop, text, errp);
            return false;
        }
        return prop_write_signed(obj, prop, value, errp);
    }
    return prop_write_unsigned(obj, prop, value, errp);
}

uint64_t object_property_get_uint(Object *obj, const char *name,
                                  Error **errp)
{
    ObjectProperty *prop = prop_lookup(obj, name, false, errp);
    bool is_signed;
    int64_t sval;
    uint64_t uval;

    if (!prop) {
        return 0;
    }
    if (!prop_is_integer(prop)) {
        kind_error(obj, prop, "an integer", errp);
        return 0;
    }
    if (!prop_read_integer(obj, prop, &is_signed, &sval, &uval, errp)) {
        return 0;
    }
    if (!is_signed) {
        return uval;
    }
    if (sval < 0) {
        error_setg(errp, PROP_FMT " value %" PRId64 " is negative",
                   PROP_ARGS(obj, prop), sval);
        return 0;
    }
    return sval;
}
