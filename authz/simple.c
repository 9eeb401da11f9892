/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authz-simple: one allowed identity, compared exactly.
 */
#include "qemu/osdep.h"
#include "authz/simple.h"
#include "qapi/error.h"
#include "qom/object_interfaces.h"

static bool qauthz_simple_is_allowed(QAuthZ *authz, const char *identity,
                                     Error **errp)
{
    QAuthZSimple *sauthz = QAUTHZ_SIMPLE(authz);

    return identity && g_str_equal(sauthz->identity, identity);
}

static char *qauthz_simple_get_identity(Object *obj, Error **errp)
{
    return g_strdup(QAUTHZ_SIMPLE(obj)->identity);
}

static void qauthz_simple_set_identity(Object *obj, const char *value,
                                       Error **errp)
{
    QAuthZSimple *sauthz = QAUTHZ_SIMPLE(obj);

    g_free(sauthz->identity);
    sauthz->identity = g_strdup(value);
}

static void qauthz_simple_complete(UserCreatable *uc, Error **errp)
{
    QAuthZSimple *sauthz = QAUTHZ_SIMPLE(uc);

    if (!sauthz->identity) {
        error_setg(errp, "authz-simple: property 'identity' is required");
    }
}

static void qauthz_simple_finalize(Object *obj)
{
    g_free(QAUTHZ_SIMPLE(obj)->identity);
}

static void qauthz_simple_class_init(ObjectClass *oc, void *data)
{
    QAuthZClass *ac = QAUTHZ_CLASS(oc);
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ac->is_allowed = qauthz_simple_is_allowed;
    ucc->complete = qauthz_simple_complete;
    object_class_property_add_str(oc, "identity",
                                  qauthz_simple_get_identity,
                                  qauthz_simple_set_identity);
    object_class_property_set_description(oc, "identity",
        "the one identity (e.g. an X.509 distinguished name) allowed in");
}

static const TypeInfo qauthz_simple_info = {
    .name = TYPE_QAUTHZ_SIMPLE,
    .parent = TYPE_QAUTHZ,
    .instance_size = sizeof(QAuthZSimple),
    .instance_finalize = qauthz_simple_finalize,
    .class_init = qauthz_simple_class_init,
};

static void qauthz_simple_register_types(void)
{
    type_register_static(&qauthz_simple_info);
}

type_init(qauthz_simple_register_types)
