/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QOM: the object model. Refcounted objects with single inheritance,
 * classes that hold the methods, interfaces, checked casts, string-typed
 * properties and a composition tree rooted at object_get_root().
 *
 * Declaring a type:
 *
 *     #define TYPE_MY_DEVICE "my-device"
 *     OBJECT_DECLARE_TYPE(MyDevice, MyDeviceClass, MY_DEVICE)
 *
 *     struct MyDevice {
 *         Object parent_obj;          (the parent instance comes first)
 *         uint64_t size;
 *     };
 *     struct MyDeviceClass {
 *         ObjectClass parent_class;   (the parent class comes first)
 *         void (*reset)(MyDevice *dev);
 *     };
 *
 *     static const TypeInfo my_device_info = {
 *         .name = TYPE_MY_DEVICE,
 *         .parent = TYPE_OBJECT,
 *         .instance_size = sizeof(MyDevice),
 *         .class_size = sizeof(MyDeviceClass),
 *         .class_init = my_device_class_init,
 *     };
 *     static void my_device_register_types(void)
 *     {
 *         type_register_static(&my_device_info);
 *     }
 *     type_init(my_device_register_types)
 *
 * The macro gives MY_DEVICE(obj), MY_DEVICE_GET_CLASS(obj),
 * MY_DEVICE_CLASS(klass) and g_autoptr(MyDevice).
 *
 * type_init() registers from a constructor that runs before main(). A
 * constructor in a static library only runs if the linker pulls its
 * object file in, so put type_init() in the .c file that also defines the
 * type's public functions (which every user of the type calls), or
 * register the type explicitly from code that is known to run. The
 * built-in types (object, interface, container, user-creatable) need no
 * registration.
 *
 * Threads: object_ref(), object_unref(), casts and class look-ups may be
 * used from any thread. Types should be registered before threads start.
 * Properties and the composition tree belong to the main thread.
 */
#ifndef QOM_OBJECT_H
#define QOM_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "qemu/typedefs.h"

typedef struct TypeImpl *Type;
typedef struct TypeInfo TypeInfo;
typedef struct InterfaceInfo InterfaceInfo;
typedef struct InterfaceClass InterfaceClass;
typedef struct ObjectProperty ObjectProperty;

#define TYPE_OBJECT "object"
#define TYPE_INTERFACE "interface"
#define TYPE_CONTAINER "container"

/**
 * ObjectClass:
 *
 * The base of every class struct. A class struct is made once per type,
 * as a copy of the parent's class struct on which the type's class_init
 * then runs.
 */
struct ObjectClass {
    /* private: */
    Type type;
    GSList *interfaces;     /* InterfaceClass of each implemented interface */
    GHashTable *properties; /* this class' own properties, by name */
};

/**
 * Object:
 *
 * The base of every instance. Fields are read-only outside qom/.
 */
struct Object {
    /* private: */
    ObjectClass *class;
    void (*free)(void *obj);    /* NULL for embedded objects */
    GHashTable *properties;     /* per-object properties, by name */
    uint32_t ref;               /* atomic */
    Object *parent;             /* set while a child property holds us */
};

/**
 * InterfaceInfo:
 * @type: name of an interface type the class implements
 */
struct InterfaceInfo {
    const char *type;
};

/**
 * InterfaceClass:
 *
 * The base of every interface's class struct. Each class that implements
 * an interface gets its own copy of the interface class, reachable with
 * the interface's _GET_CLASS / _CLASS cast; that is where the class puts
 * its implementation of the interface's methods.
 */
struct InterfaceClass {
    ObjectClass parent_class;
    /* private: */
    ObjectClass *concrete_class;
    Type interface_type;
};

/**
 * TypeInfo:
 * @name: the type name (unique)
 * @parent: the parent type name; NULL only for TYPE_OBJECT and
 *          TYPE_INTERFACE
 * @instance_size: size of the instance struct; 0 inherits the parent's
 * @instance_init: initializes the type's own fields; parents' run first
 * @instance_post_init: runs after every instance_init, parents' first
 * @instance_finalize: releases the type's own fields; runs before the
 *                     parents' finalizers
 * @abstract: the type cannot be instantiated
 * @class_size: size of the class struct; 0 inherits the parent's
 * @class_init: fills in the class after the parent's class was copied
 * @class_data: passed to @class_init
 * @interfaces: implemented interfaces, ended by an entry with a NULL type
 */
struct TypeInfo {
    const char *name;
    const char *parent;

    size_t instance_size;
    void (*instance_init)(Object *obj);
    void (*instance_post_init)(Object *obj);
    void (*instance_finalize)(Object *obj);

    bool abstract;
    size_t class_size;

    void (*class_init)(ObjectClass *klass, void *data);
    void *class_data;

    InterfaceInfo *interfaces;
};

/**
 * type_register_static:
 * @info: (transfer none): the type; must stay valid for the program's life
 *
 * Registers a type. The class is made lazily, on first use. Registering
 * a name twice aborts.
 *
 * Returns: the type.
 */
Type type_register_static(const TypeInfo *info);

/**
 * type_register_static_array:
 * @infos: array of types
 * @nr_infos: its length
 *
 * Registers each type of @infos.
 */
void type_register_static_array(const TypeInfo *infos, int nr_infos);

/**
 * type_init:
 * @function: a void (void) function that registers types
 *
 * Runs @function before main(). See the note on static libraries at the
 * top of this header.
 */
#define type_init(function)                                             \
    static void __attribute__((constructor))                            \
    qom_type_init_ ## function(void)                                    \
    {                                                                   \
        function();                                                     \
    }

/**
 * DEFINE_TYPES:
 * @type_array: a static array of TypeInfo
 *
 * Registers every type of @type_array through type_init().
 */
#define DEFINE_TYPES(type_array)                                        \
    static void qom_register_ ## type_array(void)                       \
    {                                                                   \
        type_register_static_array(type_array, G_N_ELEMENTS(type_array)); \
    }                                                                   \
    type_init(qom_register_ ## type_array)

/* Casts. */

/**
 * OBJECT:
 * @obj: a pointer to any instance struct
 *
 * Unchecked cast to Object *; the Object is always first.
 */
#define OBJECT(obj) ((Object *)(obj))

/**
 * OBJECT_CLASS:
 * @klass: a pointer to any class struct
 *
 * Unchecked cast to ObjectClass *.
 */
#define OBJECT_CLASS(klass) ((ObjectClass *)(klass))

/**
 * OBJECT_CHECK:
 * @type: the C instance type to cast to
 * @obj: an instance (may be NULL)
 * @name: the QOM type name to check against
 *
 * Checked cast; aborts naming both types if @obj is not a @name.
 */
#define OBJECT_CHECK(type, obj, name)                                   \
    ((type *)object_dynamic_cast_assert(OBJECT(obj), (name),            \
                                        __FILE__, __LINE__, __func__))

/**
 * OBJECT_CLASS_CHECK:
 * @class_type: the C class type to cast to
 * @klass: a class
 * @name: the QOM type name to check against
 *
 * Checked class cast. For an interface name it yields the class' own
 * copy of that interface's class.
 */
#define OBJECT_CLASS_CHECK(class_type, klass, name)                     \
    ((class_type *)object_class_dynamic_cast_assert(OBJECT_CLASS(klass), \
                                                    (name), __FILE__,   \
                                                    __LINE__, __func__))

/**
 * OBJECT_GET_CLASS:
 * @class_type: the C class type to cast to
 * @obj: an instance
 * @name: the QOM type name to check against
 *
 * The class of @obj, checked-cast to @class_type.
 */
#define OBJECT_GET_CLASS(class_type, obj, name)                         \
    OBJECT_CLASS_CHECK(class_type, object_get_class(OBJECT(obj)), name)

#define DECLARE_INSTANCE_CHECKER(InstanceType, OBJ_NAME, TYPENAME)      \
    static inline G_GNUC_UNUSED InstanceType *                          \
    OBJ_NAME(const void *obj)                                           \
    {                                                                   \
        return OBJECT_CHECK(InstanceType, obj, TYPENAME);               \
    }

#define DECLARE_CLASS_CHECKERS(ClassType, OBJ_NAME, TYPENAME)           \
    static inline G_GNUC_UNUSED ClassType *                             \
    OBJ_NAME##_GET_CLASS(const void *obj)                               \
    {                                                                   \
        return OBJECT_GET_CLASS(ClassType, obj, TYPENAME);              \
    }                                                                   \
    static inline G_GNUC_UNUSED ClassType *                             \
    OBJ_NAME##_CLASS(const void *klass)                                 \
    {                                                                   \
        return OBJECT_CLASS_CHECK(ClassType, klass, TYPENAME);          \
    }

#define DECLARE_OBJ_CHECKERS(InstanceType, ClassType, OBJ_NAME, TYPENAME) \
    DECLARE_INSTANCE_CHECKER(InstanceType, OBJ_NAME, TYPENAME)          \
    DECLARE_CLASS_CHECKERS(ClassType, OBJ_NAME, TYPENAME)

/**
 * OBJECT_DECLARE_TYPE:
 * @InstanceType: the instance struct name
 * @ClassType: the class struct name
 * @MODULE_OBJ_NAME: upper-case name; TYPE_@MODULE_OBJ_NAME must be the
 *                   type name string
 *
 * Declares the typedefs, the checked casts MODULE_OBJ_NAME(obj),
 * MODULE_OBJ_NAME_GET_CLASS(obj), MODULE_OBJ_NAME_CLASS(klass) and the
 * g_autoptr cleanup (object_unref). Define both structs afterwards.
 */
#define OBJECT_DECLARE_TYPE(InstanceType, ClassType, MODULE_OBJ_NAME)   \
    typedef struct InstanceType InstanceType;                           \
    typedef struct ClassType ClassType;                                 \
    G_DEFINE_AUTOPTR_CLEANUP_FUNC(InstanceType, object_unref)           \
    DECLARE_OBJ_CHECKERS(InstanceType, ClassType, MODULE_OBJ_NAME,      \
                         TYPE_##MODULE_OBJ_NAME)

/**
 * OBJECT_DECLARE_SIMPLE_TYPE:
 * @InstanceType: the instance struct name
 * @MODULE_OBJ_NAME: upper-case name; TYPE_@MODULE_OBJ_NAME must be the
 *                   type name string
 *
 * As OBJECT_DECLARE_TYPE() for a type with no class struct of its own
 * (its TypeInfo leaves class_size 0).
 */
#define OBJECT_DECLARE_SIMPLE_TYPE(InstanceType, MODULE_OBJ_NAME)       \
    typedef struct InstanceType InstanceType;                           \
    G_DEFINE_AUTOPTR_CLEANUP_FUNC(InstanceType, object_unref)           \
    DECLARE_INSTANCE_CHECKER(InstanceType, MODULE_OBJ_NAME,             \
                             TYPE_##MODULE_OBJ_NAME)

/**
 * INTERFACE_CLASS:
 * @klass: an interface class
 *
 * Checked cast to InterfaceClass *.
 */
#define INTERFACE_CLASS(klass)                                          \
    OBJECT_CLASS_CHECK(InterfaceClass, klass, TYPE_INTERFACE)

/* Life cycle. */

/**
 * object_new:
 * @typename: a registered, concrete type
 *
 * Allocates and initializes an instance. Aborts on an unknown or abstract
 * type (a bug: check user input with object_class_by_name() first).
 *
 * Returns: (transfer full): the object, with one reference.
 */
Object *object_new(const char *typename);

/**
 * object_new_with_class:
 * @klass: a concrete class
 *
 * As object_new().
 *
 * Returns: (transfer full): the object, with one reference.
 */
Object *object_new_with_class(ObjectClass *klass);

/**
 * object_new_with_props:
 * @typename: a type name
 * @parent: (nullable): where to add the object as a child
 * @id: (nullable): its child name under @parent; required with @parent
 * @errp: error object
 * @...: property name and value strings, ended by NULL
 *
 * Creates an object, sets each property with object_property_parse(),
 * completes it if it is user-creatable, then adds it as child @id of
 * @parent. Unknown or abstract types are errors here, not aborts.
 *
 * Returns: (transfer none) when @parent is given (the parent holds the
 * only reference), (transfer full) otherwise; NULL with @errp set on
 * failure.
 */
Object *object_new_with_props(const char *typename, Object *parent,
                              const char *id, Error **errp, ...)
    G_GNUC_NULL_TERMINATED;

/**
 * object_initialize:
 * @data: storage for the instance, e.g. a struct member
 * @size: size of @data; at least the type's instance size
 * @typename: a concrete type
 *
 * Initializes an object in caller-provided storage. The storage is not
 * freed when the last reference is dropped.
 */
void object_initialize(void *data, size_t size, const char *typename);

/**
 * object_ref:
 * @obj: an object
 *
 * Takes a reference. Callable from any thread.
 *
 * Returns: @obj as Object *.
 */
Object *object_ref(void *obj);

/**
 * object_unref:
 * @obj: (nullable): an object
 *
 * Drops a reference. The last one finalizes @obj: its properties are
 * deleted (children unparented), then each instance_finalize runs from
 * the object's own type up to TYPE_OBJECT, then the memory is freed.
 * Callable from any thread; finalization runs in the thread that drops
 * the last reference. Takes void * so that it can serve as the g_autoptr
 * cleanup of every instance type.
 */
void object_unref(void *obj);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Object, object_unref)

/* Classes and types. */

/**
 * object_get_class:
 * @obj: an object
 *
 * Returns: (transfer none): the class of @obj.
 */
ObjectClass *object_get_class(Object *obj);

/**
 * object_get_typename:
 * @obj: an object
 *
 * Returns: (transfer none): the name of @obj's type.
 */
const char *object_get_typename(const Object *obj);

/**
 * object_class_by_name:
 * @typename: a type name
 *
 * Returns: (transfer none) (nullable): the class, made if needed, or NULL
 * for an unknown name.
 */
ObjectClass *object_class_by_name(const char *typename);

/**
 * object_class_get_name:
 * @klass: a class
 *
 * Returns: (transfer none): the class' type name.
 */
const char *object_class_get_name(ObjectClass *klass);

/**
 * object_class_get_parent:
 * @klass: a class
 *
 * Returns: (transfer none) (nullable): the parent class, NULL for the root
 * types.
 */
ObjectClass *object_class_get_parent(ObjectClass *klass);

/**
 * object_class_is_abstract:
 * @klass: a class
 *
 * Returns: true if the type can't be instantiated.
 */
bool object_class_is_abstract(ObjectClass *klass);

/**
 * object_class_dynamic_cast:
 * @klass: (nullable): a class
 * @typename: a type or interface name
 *
 * Returns: (transfer none) (nullable): @klass if its type is @typename or
 * a subtype; for an interface it implements, that interface's class
 * owned by @klass; NULL otherwise (and for unknown names).
 */
ObjectClass *object_class_dynamic_cast(ObjectClass *klass,
                                       const char *typename);

/**
 * object_class_dynamic_cast_assert:
 * @klass: (nullable): a class
 * @typename: a type or interface name
 * @file: caller's source file
 * @line: caller's line
 * @func: caller's function
 *
 * As object_class_dynamic_cast(), but aborts with a message naming both
 * types and the caller when the cast fails. NULL gives NULL.
 *
 * Returns: (transfer none): the cast class.
 */
ObjectClass *object_class_dynamic_cast_assert(ObjectClass *klass,
                                              const char *typename,
                                              const char *file, int line,
                                              const char *func);

/**
 * object_dynamic_cast:
 * @obj: (nullable): an object
 * @typename: a type or interface name
 *
 * Returns: (transfer none) (nullable): @obj if it is a @typename or
 * implements it, else NULL.
 */
Object *object_dynamic_cast(Object *obj, const char *typename);

/**
 * object_dynamic_cast_assert:
 * @obj: (nullable): an object
 * @typename: a type or interface name
 * @file: caller's source file
 * @line: caller's line
 * @func: caller's function
 *
 * As object_dynamic_cast(), but aborts with a message naming both types
 * and the caller when the cast fails. NULL gives NULL.
 *
 * Returns: (transfer none): @obj.
 */
Object *object_dynamic_cast_assert(Object *obj, const char *typename,
                                   const char *file, int line,
                                   const char *func);

/**
 * object_class_get_list:
 * @implements_type: (nullable): keep only subtypes of this type or
 *                   implementers of this interface; NULL keeps all
 * @include_abstract: keep abstract types too
 *
 * Returns: (transfer container): a list of ObjectClass *, in no
 * particular order; free it with g_slist_free().
 */
GSList *object_class_get_list(const char *implements_type,
                              bool include_abstract);

/**
 * object_class_get_list_sorted:
 * @implements_type: (nullable): as for object_class_get_list()
 * @include_abstract: keep abstract types too
 *
 * Returns: (transfer container): as object_class_get_list(), sorted by
 * type name.
 */
GSList *object_class_get_list_sorted(const char *implements_type,
                                     bool include_abstract);

/* Properties. */

/**
 * ObjectPropertyKind:
 *
 * The value kind of a property, which decides how object_property_parse()
 * reads text for it.
 */
typedef enum ObjectPropertyKind {
    OBJ_PROP_KIND_STR,
    OBJ_PROP_KIND_BOOL,
    OBJ_PROP_KIND_ENUM,
    OBJ_PROP_KIND_INT,      /* signed, with a range */
    OBJ_PROP_KIND_UINT,     /* unsigned, with a maximum */
    OBJ_PROP_KIND_SIZE,     /* unsigned byte count, k/M/G/T suffixes */
    OBJ_PROP_KIND_CHILD,    /* a child object; read-only */
} ObjectPropertyKind;

typedef enum ObjectPropertyFlags {
    OBJ_PROP_FLAG_READ = 1 << 0,
    OBJ_PROP_FLAG_WRITE = 1 << 1,
    OBJ_PROP_FLAG_READWRITE = OBJ_PROP_FLAG_READ | OBJ_PROP_FLAG_WRITE,
} ObjectPropertyFlags;

/*
 * Accessors of integer properties. A getter stores the value and returns
 * true, or sets @errp and returns false. A setter gets a value already
 * checked against the property's range; it returns false with @errp set
 * to refuse it.
 */
typedef bool ObjectPropertyGetInt(Object *obj, int64_t *value, Error **errp);
typedef bool ObjectPropertySetInt(Object *obj, int64_t value, Error **errp);
typedef bool ObjectPropertyGetUint(Object *obj, uint64_t *value,
                                   Error **errp);
typedef bool ObjectPropertySetUint(Object *obj, uint64_t value,
                                   Error **errp);

/**
 * ObjectProperty:
 * @name: the property name
 * @type: a type word for help text: "string", "bool", "enum", "int64",
 *        "uint32", "size", "child<TYPE>"...
 * @description: (nullable): help text
 * @kind: how values are read and written
 *
 * Fields after @kind are private.
 */
struct ObjectProperty {
    char *name;
    char *type;
    char *description;
    ObjectPropertyKind kind;
    /* private: */
    uint64_t seq;               /* creation order */
    union {
        struct {
            char *(*get)(Object *obj, Error **errp);
            void (*set)(Object *obj, const char *value, Error **errp);
        } str;
        struct {
            bool (*get)(Object *obj, Error **errp);
            void (*set)(Object *obj, bool value, Error **errp);
        } boolean;
        struct {
            const char *const *lookup;
            int (*get)(Object *obj, Error **errp);
            void (*set)(Object *obj, int value, Error **errp);
        } enumeration;
        struct {
            ObjectPropertyGetInt *get;
            ObjectPropertySetInt *set;
            int64_t min, max;
        } integer;
        struct {
            ObjectPropertyGetUint *get;
            ObjectPropertySetUint *set;
            uint64_t max;
        } uinteger;
        struct {
            Object *child;
        } child;
    } u;
    /* integer fields instead of accessors: */
    void *field_ptr;            /* absolute storage, or NULL */
    ptrdiff_t field_offset;     /* else offset in the instance */
    uint8_t field_width;        /* bytes; 0 when accessors are used */
    ObjectPropertyFlags field_flags;
};

/**
 * object_class_property_add_str:
 * @klass: the class, during its class_init
 * @name: property name, unique along the class chain
 * @get: (nullable): returns a g_malloc'd string, or NULL with @errp set;
 *       NULL makes the property write-only
 * @set: (nullable): NULL makes the property read-only
 *
 * Adds a string property to every instance of the class. Adding a name
 * twice is a bug and aborts (likewise for every property adder).
 *
 * Returns: (transfer none): the property.
 */
ObjectProperty *
object_class_property_add_str(ObjectClass *klass, const char *name,
                              char *(*get)(Object *obj, Error **errp),
                              void (*set)(Object *obj, const char *value,
                                          Error **errp));

/**
 * object_class_property_add_bool:
 * @klass: the class
 * @name: property name
 * @get: (nullable): the getter
 * @set: (nullable): the setter
 *
 * Adds a boolean property; text values are on/off, yes/no, true/false.
 *
 * Returns: (transfer none): the property.
 */
ObjectProperty *
object_class_property_add_bool(ObjectClass *klass, const char *name,
                               bool (*get)(Object *obj, Error **errp),
                               void (*set)(Object *obj, bool value,
                                           Error **errp));

/**
 * object_class_property_add_enum:
 * @klass: the class
 * @name: property name
 * @lookup: the value names, indexed by value, ended by NULL; must stay
 *          valid (usually a static array)
 * @get: (nullable): returns an index into @lookup, or -1 with @errp set
 * @set: (nullable): receives a valid index into @lookup
 *
 * Adds an enumeration property whose text values are the names in
 * @lookup.
 *
 * Returns: (transfer none): the property.
 */
ObjectProperty *
object_class_property_add_enum(ObjectClass *klass, const char *name,
                               const char *const *lookup,
                               int (*get)(Object *obj, Error **errp),
                               void (*set)(Object *obj, int value,
                                           Error **errp));

/**
 * object_class_property_add_int:
 * @klass: the class
 * @name: property name
 * @min: smallest accepted value
 * @max: largest accepted value
 * @get: (nullable): the getter
 * @set: (nullable): the setter; gets values within [@min, @max] only
 *
 * Adds a signed integer property ("int64"). Text values are decimal or
 * "0x" hexadecimal.
 *
 * Returns: (transfer none): the property.
 */
ObjectProperty *
object_class_property_add_int(ObjectClass *klass, const char *name,
                              int64_t min, int64_t max,
                              ObjectPropertyGetInt *get,
                              ObjectPropertySetInt *set);

/**
 * object_class_property_add_uint:
 * @klass: the class
 * @name: property name
 * @max: largest accepted value
 * @get: (nullable): the getter
 * @set: (nullable): the setter; gets values up to @max only
 *
 * Adds an unsigned integer property ("uint64").
 *
 * Returns: (transfer none): the property.
 */
ObjectProperty *
object_class_property_add_uint(ObjectClass *klass, const char *name,
                               uint64_t max, ObjectPropertyGetUint *get,
                               ObjectPropertySetUint *set);

/**
 * object_class_property_add_size:
 * @klass: the class
 * @name: property name
 * @get: (nullable): the getter
 * @set: (nullable): the setter
 *
 * Adds a byte count property ("size"): text values take the suffixes of
 * qemu_strtosz() ("64k", "1.5G").
 *
 * Returns: (transfer none): the property.
 */
ObjectProperty *
object_class_property_add_size(ObjectClass *klass, const char *name,
                               ObjectPropertyGetUint *get,
                               ObjectPropertySetUint *set);

/*
 * Field-backed integer properties of a class. Unlike QEMU's functions of
 * the same names, which point at one global variable, these take the
 * offset of a field in the instance struct (offsetof(MyDevice, size)), so
 * that each instance reads and writes its own field. @flags says whether
 * the property may be read, written or both. Values outside the field's
 * C type are refused.
 */
ObjectProperty *
object_class_property_add_uint8_ptr(ObjectClass *klass, const char *name,
                                    ptrdiff_t offset,
                                    ObjectPropertyFlags flags);
ObjectProperty *
object_class_property_add_uint16_ptr(ObjectClass *klass, const char *name,
                                     ptrdiff_t offset,
                                     ObjectPropertyFlags flags);
ObjectProperty *
object_class_property_add_uint32_ptr(ObjectClass *klass, const char *name,
                                     ptrdiff_t offset,
                                     ObjectPropertyFlags flags);
ObjectProperty *
object_class_property_add_uint64_ptr(ObjectClass *klass, const char *name,
                                     ptrdiff_t offset,
                                     ObjectPropertyFlags flags);
ObjectProperty *
object_class_property_add_int32_ptr(ObjectClass *klass, const char *name,
                                    ptrdiff_t offset,
                                    ObjectPropertyFlags flags);
ObjectProperty *
object_class_property_add_int64_ptr(ObjectClass *klass, const char *name,
                                    ptrdiff_t offset,
                                    ObjectPropertyFlags flags);
/* A uint64_t field holding a byte count: text takes size suffixes. */
ObjectProperty *
object_class_property_add_size_ptr(ObjectClass *klass, const char *name,
                                   ptrdiff_t offset,
                                   ObjectPropertyFlags flags);

/**
 * object_class_property_set_description:
 * @klass: the class that added the property
 * @name: property name
 * @description: help text (copied)
 *
 * Sets the help text shown by "TYPE,help".
 */
void object_class_property_set_description(ObjectClass *klass,
                                           const char *name,
                                           const char *description);

/**
 * object_property_add_str:
 * @obj: the object
 * @name: property name, unique on @obj and its class chain
 * @get: (nullable): the getter
 * @set: (nullable): the setter
 *
 * Adds a string property to @obj alone. Duplicates abort.
 *
 * Returns: (transfer none): the property.
 */
ObjectProperty *
object_property_add_str(Object *obj, const char *name,
                        char *(*get)(Object *obj, Error **errp),
                        void (*set)(Object *obj, const char *value,
                                    Error **errp));

/**
 * object_property_add_bool:
 * @obj: the object
 * @name: property name
 * @get: (nullable): the getter
 * @set: (nullable): the setter
 *
 * Adds a boolean property to @obj alone.
 *
 * Returns: (transfer none): the property.
 */
ObjectProperty *
object_property_add_bool(Object *obj, const char *name,
                         bool (*get)(Object *obj, Error **errp),
                         void (*set)(Object *obj, bool value, Error **errp));

/**
 * object_property_add_enum:
 * @obj: the object
 * @name: property name
 * @lookup: NULL-terminated value names
 * @get: (nullable): the getter
 * @set: (nullable): the setter
 *
 * Adds an enumeration property to @obj alone.
 *
 * Returns: (transfer none): the property.
 */
ObjectProperty *
object_property_add_enum(Object *obj, const char *name,
                         const char *const *lookup,
                         int (*get)(Object *obj, Error **errp),
                         void (*set)(Object *obj, int value, Error **errp));

/*
 * Integer properties of one object backed by the variable at @v, which
 * must outlive the property (QEMU's signatures).
 */
ObjectProperty *object_property_add_uint8_ptr(Object *obj, const char *name,
                                              uint8_t *v,
                                              ObjectPropertyFlags flags);
ObjectProperty *object_property_add_uint16_ptr(Object *obj,
                                               const char *name,
                                               uint16_t *v,
                                               ObjectPropertyFlags flags);
ObjectProperty *object_property_add_uint32_ptr(Object *obj,
                                               const char *name,
                                               uint32_t *v,
                                               ObjectPropertyFlags flags);
ObjectProperty *object_property_add_uint64_ptr(Object *obj,
                                               const char *name,
                                               uint64_t *v,
                                               ObjectPropertyFlags flags);

/**
 * object_property_set_description:
 * @obj: the object that holds the property
 * @name: property name (of @obj itself)
 * @description: help text (copied)
 */
void object_property_set_description(Object *obj, const char *name,
                                     const char *description);

/**
 * object_class_property_find:
 * @klass: a class
 * @name: property name
 *
 * Returns: (transfer none) (nullable): the property of @klass or one of
 * its parents, or NULL.
 */
ObjectProperty *object_class_property_find(ObjectClass *klass,
                                           const char *name);

/**
 * object_property_find:
 * @obj: an object
 * @name: property name
 *
 * Looks in @obj's own properties, then its class chain.
 *
 * Returns: (transfer none) (nullable): the property, or NULL.
 */
ObjectProperty *object_property_find(Object *obj, const char *name);

/**
 * object_property_find_err:
 * @obj: an object
 * @name: property name
 * @errp: error object
 *
 * As object_property_find(), with "Property 'TYPE.NAME' not found" when
 * absent.
 *
 * Returns: (transfer none) (nullable): the property.
 */
ObjectProperty *object_property_find_err(Object *obj, const char *name,
                                         Error **errp);

/**
 * object_property_del:
 * @obj: an object
 * @name: one of @obj's own properties
 *
 * Deletes a per-object property; a child property unparents its child.
 * Aborts if @obj has no such property of its own.
 */
void object_property_del(Object *obj, const char *name);

/**
 * object_property_parse:
 * @obj: an object
 * @name: property name
 * @string: the value as text, as on a command line
 * @errp: error object
 *
 * Sets a property of any kind from text: strings as they are; booleans
 * from on/off, yes/no, true/false; enums by value name; integers in
 * decimal or "0x" hex; sizes also with k/M/G/T suffixes. Errors name the
 * property as 'TYPE.NAME'.
 *
 * Returns: true on success.
 */
bool object_property_parse(Object *obj, const char *name,
                           const char *string, Error **errp);

/**
 * object_property_print:
 * @obj: an object
 * @name: property name
 * @human: print sizes as "1 GiB" instead of a byte count
 * @errp: error object
 *
 * Reads a property of any kind as text (the reverse of
 * object_property_parse(); a child reads as its canonical path).
 *
 * Returns: (transfer full) (nullable): the text, or NULL with @errp set.
 */
char *object_property_print(Object *obj, const char *name, bool human,
                            Error **errp);

/**
 * object_property_set_str:
 * @obj: an object
 * @name: a string or enum property
 * @value: the value
 * @errp: error object
 *
 * Returns: true on success; other kinds of property are refused.
 */
bool object_property_set_str(Object *obj, const char *name,
                             const char *value, Error **errp);

/**
 * object_property_get_str:
 * @obj: an object
 * @name: a string, enum or child property
 * @errp: error object
 *
 * Returns: (transfer full) (nullable): the value, NULL with @errp set.
 */
char *object_property_get_str(Object *obj, const char *name, Error **errp);

/**
 * object_property_set_bool:
 * @obj: an object
 * @name: a boolean property
 * @value: the value
 * @errp: error object
 *
 * Returns: true on success.
 */
bool object_property_set_bool(Object *obj, const char *name, bool value,
                              Error **errp);

/**
 * object_property_get_bool:
 * @obj: an object
 * @name: a boolean property
 * @errp: error object
 *
 * Returns: the value; false with @errp set on error.
 */
bool object_property_get_bool(Object *obj, const char *name, Error **errp);

/**
 * object_property_set_int:
 * @obj: an object
 * @name: an integer or size property
 * @value: the value; must fit the property's range
 * @errp: error object
 *
 * Returns: true on success.
 */
bool object_property_set_int(Object *obj, const char *name, int64_t value,
                             Error **errp);

/**
 * object_property_get_int:
 * @obj: an object
 * @name: an integer or size property
 * @errp: error object
 *
 * Returns: the value; -1 with @errp set on error (including an unsigned
 * value above INT64_MAX).
 */
int64_t object_property_get_int(Object *obj, const char *name,
                                Error **errp);

/**
 * object_property_set_uint:
 * @obj: an object
 * @name: an integer or size property
 * @value: the value; must fit the property's range
 * @errp: error object
 *
 * Returns: true on success.
 */
bool object_property_set_uint(Object *obj, const char *name,
                              uint64_t value, Error **errp);

/**
 * object_property_get_uint:
 * @obj: an object
 * @name: an integer or size property
 * @errp: error object
 *
 * Returns: the value; 0 with @errp set on error (including a negative
 * value).
 */
uint64_t object_property_get_uint(Object *obj, const char *name,
                                  Error **errp);

/**
 * ObjectPropertyIterator:
 *
 * Walks the properties of an object (its own, then its class chain's) or
 * of a class chain. Do not add or delete properties while walking.
 */
typedef struct ObjectPropertyIterator {
    /* private: */
    ObjectClass *nextclass;
    GHashTableIter iter;
} ObjectPropertyIterator;

void object_property_iter_init(ObjectPropertyIterator *iter, Object *obj);
void object_class_property_iter_init(ObjectPropertyIterator *iter,
                                     ObjectClass *klass);
/* Returns: (transfer none) (nullable): the next property, NULL at the end. */
ObjectProperty *object_property_iter_next(ObjectPropertyIterator *iter);

/* Composition tree. */

/**
 * object_get_root:
 *
 * Returns: (transfer none): the root container "/" (made on first use).
 */
Object *object_get_root(void);

/**
 * object_get_objects_root:
 *
 * Returns: (transfer none): the container "/objects", where
 * user-created objects live.
 */
Object *object_get_objects_root(void);

/**
 * container_get:
 * @root: where to start
 * @path: "/"-separated container names below @root
 *
 * Finds the container at @path, making missing containers on the way.
 *
 * Returns: (transfer none): the container.
 */
Object *container_get(Object *root, const char *path);

/**
 * object_property_try_add_child:
 * @obj: the parent
 * @name: the child's name (its path component)
 * @child: an object without parent
 * @errp: error object
 *
 * Adds @child as child property @name of @obj; the parent takes a
 * reference to @child (the caller keeps its own).
 *
 * Returns: (transfer none) (nullable): the property; NULL with @errp set
 * if @obj already has a property @name.
 */
ObjectProperty *object_property_try_add_child(Object *obj, const char *name,
                                              Object *child, Error **errp);

/**
 * object_property_add_child:
 * @obj: the parent
 * @name: the child's name
 * @child: an object without parent
 *
 * As object_property_try_add_child() but a name clash aborts.
 *
 * Returns: (transfer none): the property.
 */
ObjectProperty *object_property_add_child(Object *obj, const char *name,
                                          Object *child);

/**
 * object_unparent:
 * @obj: an object
 *
 * Removes @obj from its parent, dropping the parent's reference (which
 * may finalize @obj). Nothing happens if @obj has no parent.
 */
void object_unparent(Object *obj);

/**
 * object_get_parent:
 * @obj: an object
 *
 * Returns: (transfer none) (nullable): the parent, or NULL.
 */
Object *object_get_parent(Object *obj);

/**
 * object_resolve_path_component:
 * @parent: an object
 * @part: a child name
 *
 * Returns: (transfer none) (nullable): the child @part of @parent, or NULL.
 */
Object *object_resolve_path_component(Object *parent, const char *part);

/**
 * object_resolve_path:
 * @path: an absolute path ("/objects/io0") or a partial one ("io0")
 * @ambiguous: (out) (optional): set when a partial path matches more than
 *             one object
 *
 * A partial path matches any object whose path ends with it.
 *
 * Returns: (transfer none) (nullable): the object, or NULL if none or
 * several match.
 */
Object *object_resolve_path(const char *path, bool *ambiguous);

/**
 * object_get_canonical_path_component:
 * @obj: an object
 *
 * Returns: (transfer none) (nullable): the name of @obj under its parent
 * (for /objects children: the id), NULL without parent.
 */
const char *object_get_canonical_path_component(const Object *obj);

/**
 * object_get_canonical_path:
 * @obj: an object
 *
 * Returns: (transfer full) (nullable): the absolute path of @obj, or NULL
 * if it is not attached to the root.
 */
char *object_get_canonical_path(const Object *obj);

/**
 * object_child_foreach:
 * @obj: an object
 * @fn: called for each child; a non-zero return stops the walk
 * @opaque: passed to @fn
 *
 * Visits the children of @obj in the order they were added. @fn may
 * unparent the child it is given.
 *
 * Returns: the last value returned by @fn (0 if it never stopped).
 */
int object_child_foreach(Object *obj,
                         int (*fn)(Object *child, void *opaque),
                         void *opaque);

#endif /* QOM_OBJECT_H */
