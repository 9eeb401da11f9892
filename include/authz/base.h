/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Authorization objects (QAuthZ): user-creatable objects that answer one
 * question, "may this identity in?", for a server that has just learnt a
 * client's identity (the X.509 distinguished name after a TLS handshake,
 * or a PSK username).
 *
 * The subclasses are authz-simple (one identity), authz-list (ordered
 * rules and a default policy) and authz-listfile (the same rules, read
 * from a JSON file and reloaded on request).
 */
#ifndef AUTHZ_BASE_H
#define AUTHZ_BASE_H

#include "qom/object.h"

#define TYPE_QAUTHZ "authz"
OBJECT_DECLARE_TYPE(QAuthZ, QAuthZClass, QAUTHZ)

struct QAuthZ {
    Object parent_obj;
};

struct QAuthZClass {
    ObjectClass parent_class;

    /*
     * Returns true when @identity is allowed, false when it is denied
     * (with @errp untouched) or the check itself failed (@errp set).
     * May be called from any thread.
     */
    bool (*is_allowed)(QAuthZ *authz, const char *identity, Error **errp);
};

/**
 * qauthz_is_allowed:
 * @authz: the authorization object
 * @identity: the identity to check
 * @errp: error object
 *
 * Called from any thread.
 *
 * Returns: true when @identity is allowed; false when it is denied (then
 * @errp is left alone) or when the check failed (then @errp is set).
 */
bool qauthz_is_allowed(QAuthZ *authz, const char *identity, Error **errp);

/**
 * qauthz_is_allowed_by_id:
 * @authzid: the id of an authorization object made with --object
 * @identity: the identity to check
 * @errp: error object
 *
 * As qauthz_is_allowed(), on the object named @authzid; an id that names
 * no authorization object is an error.
 */
bool qauthz_is_allowed_by_id(const char *authzid, const char *identity,
                             Error **errp);

#endif /* AUTHZ_BASE_H */
