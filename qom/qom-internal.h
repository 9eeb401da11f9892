/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by the files of qom/ only.
 */
#ifndef QOM_QOM_INTERNAL_H
#define QOM_QOM_INTERNAL_H

#include <glib.h>

#include "qemu/typedefs.h"
#include "qom/object.h"

/*
 * The TYPE_USER_CREATABLE interface. object.c registers it with the other
 * built-in types; referring to it from there also makes the linker keep
 * object_interfaces.o whenever object.o is used.
 */
extern const TypeInfo user_creatable_interface_info;

/* Reports a QOM programming error and aborts. */
void G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) qom_die(const char *fmt, ...);

/* A new property, not yet in any table; kind-specific fields are 0. */
ObjectProperty *qom_property_new(const char *name, const char *type,
                                 ObjectPropertyKind kind);

/* Frees a property that is in no table (a GDestroyNotify). */
void qom_property_free(gpointer data);

/*
 * Adds @prop to @klass, taking ownership; a name already used along the
 * class chain aborts.
 */
ObjectProperty *qom_class_add_property(ObjectClass *klass,
                                       ObjectProperty *prop);

/*
 * Adds @prop to @obj, taking ownership; on a name clash frees it and
 * returns NULL with @errp set.
 */
ObjectProperty *qom_object_add_property(Object *obj, ObjectProperty *prop,
                                        Error **errp);

/* GCompareFunc for a GPtrArray of properties: the newest first. */
gint qom_property_seq_cmp_desc(gconstpointer a, gconstpointer b);

#endif /* QOM_QOM_INTERNAL_H */
