/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * User-creatable objects: the types a user makes by name with --object
 * (qemu-nbd, qemu-storage-daemon, qemu-img, qemu-io) or object-add. They
 * implement TYPE_USER_CREATABLE and live as children of /objects, under
 * their id.
 *
 * All of this runs in the main thread.
 */
#ifndef QOM_OBJECT_INTERFACES_H
#define QOM_OBJECT_INTERFACES_H

#include <stdbool.h>

#include "qemu/typedefs.h"
#include "qom/object.h"

#define TYPE_USER_CREATABLE "user-creatable"

OBJECT_DECLARE_TYPE(UserCreatable, UserCreatableClass, USER_CREATABLE)

/**
 * UserCreatableClass:
 * @parent_class: the interface class
 * @complete: (nullable): called once every property given by the user
 *            is set; finishes the object or fails with @errp set
 * @can_be_deleted: (nullable): says whether the object may be deleted
 *                  now (e.g. not while a block node uses it); NULL means
 *                  always
 *
 * A class fills these in through USER_CREATABLE_CLASS(klass) in its
 * class_init.
 */
struct UserCreatableClass {
    InterfaceClass parent_class;

    void (*complete)(UserCreatable *uc, Error **errp);
    bool (*can_be_deleted)(UserCreatable *uc);
};

/**
 * user_creatable_complete:
 * @uc: the object
 * @errp: error object
 *
 * Calls the class' complete() method, if any.
 *
 * Returns: true on success, false with @errp set.
 */
bool user_creatable_complete(UserCreatable *uc, Error **errp);

/**
 * user_creatable_can_be_deleted:
 * @uc: the object
 *
 * Returns: what the class' can_be_deleted() says; true without it.
 */
bool user_creatable_can_be_deleted(UserCreatable *uc);

/**
 * user_creatable_add_type:
 * @type: a type name
 * @id: (nullable): the object's id; NULL makes an object outside /objects
 * @props: (nullable): properties to set, in order; keys "qom-type" and
 *         "id" are skipped. Every value read is marked used.
 * @errp: error object
 *
 * Creates an object the way --object does: checks that @type exists, is
 * concrete and user-creatable, that @id is well formed and free; sets
 * each property with object_property_parse(); calls complete(); adds the
 * object as child @id of /objects. Nothing is left behind on failure.
 *
 * Returns: (transfer full) (nullable): the object, with a reference for
 * the caller (drop it with object_unref(); /objects holds its own), or
 * NULL with @errp set.
 */
Object *user_creatable_add_type(const char *type, const char *id,
                                const KeyVal *props, Error **errp);

/**
 * user_creatable_add_from_str:
 * @str: an --object argument: "TYPE,id=ID,prop=value,..." (the first
 *       word may also be written "qom-type=TYPE"; ",," is a literal
 *       comma inside a value)
 * @errp: error object
 *
 * Parses @str and creates the object with user_creatable_add_type().
 * "help" (or "qom-type=help") prints the list of user-creatable types on
 * stdout; "TYPE,help" prints that type's properties. Help is not an
 * error: the function then returns false with @errp left unset (but
 * "TYPE,help" for a TYPE that is not user-creatable sets @errp). Every
 * key other than "qom-type" and "id" must be a property of TYPE.
 *
 * Returns: true if the object was created; false with @errp set on
 * error; false with @errp unset after printing help.
 */
bool user_creatable_add_from_str(const char *str, Error **errp);

/**
 * user_creatable_process_cmdline:
 * @cmdline: an --object argument
 *
 * user_creatable_add_from_str() for command-line parsing: on error prints
 * the message and exits with status 1; after help exits with status 0.
 */
void user_creatable_process_cmdline(const char *cmdline);

/**
 * user_creatable_print_help:
 * @type: (nullable): a type name; NULL or "help" lists every type
 * @errp: error object
 *
 * Prints on stdout the user-creatable types, or the properties of @type
 * with their kinds and descriptions.
 *
 * Returns: true if printed; false with @errp set if @type is not a
 * user-creatable type.
 */
bool user_creatable_print_help(const char *type, Error **errp);

/**
 * user_creatable_del:
 * @id: the id of an object in /objects
 * @errp: error object
 *
 * Removes the object from /objects (it is finalized when its last
 * reference goes).
 *
 * Returns: false with @errp set if there is no such object or it can't
 * be deleted now.
 */
bool user_creatable_del(const char *id, Error **errp);

/**
 * user_creatable_cleanup:
 *
 * Removes every object from /objects, the newest first, for a clean
 * shutdown.
 */
void user_creatable_cleanup(void);

#endif /* QOM_OBJECT_INTERFACES_H */
