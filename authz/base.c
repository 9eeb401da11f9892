/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The abstract authorization object and the lookup by id.
 */
#include "qemu/osdep.h"
#include "authz/base.h"
#include "qapi/error.h"
#include "qom/object_interfaces.h"

bool qauthz_is_allowed(QAuthZ *authz, const char *identity, Error **errp)
{
    QAuthZClass *klass = QAUTHZ_GET_CLASS(authz);

    return klass->is_allowed(authz, identity, errp);
}

bool qauthz_is_allowed_by_id(const char *authzid, const char *identity,
                             Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                authzid);

    if (!obj) {
        error_setg(errp, "No authorization object with id '%s'", authzid);
        return false;
    }
    if (!object_dynamic_cast(obj, TYPE_QAUTHZ)) {
        error_setg(errp, "Object '%s' is not an authorization object",
                   authzid);
        return false;
    }
    return qauthz_is_allowed(QAUTHZ(obj), identity, errp);
}

static const TypeInfo qauthz_info = {
    .name = TYPE_QAUTHZ,
    .parent = TYPE_OBJECT,
    .instance_size = sizeof(QAuthZ),
    .abstract = true,
    .class_size = sizeof(QAuthZClass),
    .interfaces = (InterfaceInfo[]) {
        { TYPE_USER_CREATABLE },
        { }
    },
};

static void qauthz_register_types(void)
{
    type_register_static(&qauthz_info);
}

type_init(qauthz_register_types)
