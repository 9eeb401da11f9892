/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authz-list: an ordered list of rules and a default policy. The first
 * rule whose match accepts the identity decides; when none does, the
 * default policy does. On the command line:
 *
 *   --object authz-list,id=az0,policy=deny,\
 *            rules.0.match=CN=alice*,rules.0.format=glob,\
 *            rules.0.policy=allow
 *
 * Rules are numbered from 0 with no gaps; each needs match and policy;
 * format is exact (the default) or glob (shell wildcards * and ?).
 */
#ifndef AUTHZ_LIST_H
#define AUTHZ_LIST_H

#include "authz/base.h"

typedef enum QAuthZListPolicy {
    QAUTHZ_LIST_POLICY_DENY,
    QAUTHZ_LIST_POLICY_ALLOW,
} QAuthZListPolicy;

extern const char *const QAuthZListPolicy_lookup[];

typedef enum QAuthZListFormat {
    QAUTHZ_LIST_FORMAT_EXACT,
    QAUTHZ_LIST_FORMAT_GLOB,
} QAuthZListFormat;

extern const char *const QAuthZListFormat_lookup[];

/* The most rules authz-list takes on the command line. */
#define QAUTHZ_LIST_MAX_RULES 64

typedef struct QAuthZListRule {
    char *match;                /* NULL until set */
    bool has_policy;
    QAuthZListPolicy policy;
    QAuthZListFormat format;
} QAuthZListRule;

/**
 * qauthz_list_rule_free:
 * @rule: (nullable): a rule
 */
void qauthz_list_rule_free(QAuthZListRule *rule);

/**
 * qauthz_list_rules_check:
 * @rules: array of QAuthZListRule, complete (see qauthz_list_rules_validate)
 * @policy: the default policy
 * @identity: the identity to check
 *
 * Returns: true when the first matching rule (or, without one, @policy)
 * allows @identity.
 */
bool qauthz_list_rules_check(GPtrArray *rules, QAuthZListPolicy policy,
                             const char *identity);

/**
 * qauthz_list_rules_validate:
 * @rules: array of QAuthZListRule (NULL elements are gaps)
 * @what: the owner's description, for messages
 * @errp: error object
 *
 * Returns: true when there is no gap and every rule has match and policy.
 */
bool qauthz_list_rules_validate(GPtrArray *rules, const char *what,
                                Error **errp);

#define TYPE_QAUTHZ_LIST "authz-list"
OBJECT_DECLARE_SIMPLE_TYPE(QAuthZList, QAUTHZ_LIST)

struct QAuthZList {
    QAuthZ parent_obj;

    /* Set before complete, constant afterwards. */
    QAuthZListPolicy policy;
    GPtrArray *rules;           /* of QAuthZListRule */
};

#endif /* AUTHZ_LIST_H */
