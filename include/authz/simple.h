/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authz-simple: allows exactly one identity (property "identity").
 */
#ifndef AUTHZ_SIMPLE_H
#define AUTHZ_SIMPLE_H

#include "authz/base.h"

#define TYPE_QAUTHZ_SIMPLE "authz-simple"
OBJECT_DECLARE_SIMPLE_TYPE(QAuthZSimple, QAUTHZ_SIMPLE)

struct QAuthZSimple {
    QAuthZ parent_obj;

    char *identity;     /* set before complete, constant afterwards */
};

#endif /* AUTHZ_SIMPLE_H */
