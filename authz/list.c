/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * authz-list: ordered match rules and a default policy.
 *
 * The object model's setters are not told which property they set, so the
 * per-rule properties (rules.N.match, rules.N.policy, rules.N.format) get
 * one small generated accessor each, for N below QAUTHZ_LIST_MAX_RULES.
 */
#include "qemu/osdep.h"
#include "authz/list.h"
#include "qapi/error.h"
#include "qom/object_interfaces.h"

const char *const QAuthZListPolicy_lookup[] = {
    [QAUTHZ_LIST_POLICY_DENY] = "deny",
    [QAUTHZ_LIST_POLICY_ALLOW] = "allow",
    NULL,
};

const char *const QAuthZListFormat_lookup[] = {
    [QAUTHZ_LIST_FORMAT_EXACT] = "exact",
    [QAUTHZ_LIST_FORMAT_GLOB] = "glob",
    NULL,
};

void qauthz_list_rule_free(QAuthZListRule *rule)
{
    if (rule) {
        g_free(rule->match);
        g_free(rule);
    }
}

static bool rule_matches(const QAuthZListRule *rule, const char *identity)
{
    if (rule->format == QAUTHZ_LIST_FORMAT_GLOB) {
        return g_pattern_match_simple(rule->match, identity);
    }
    return g_str_equal(rule->match, identity);
}

bool qauthz_list_rules_check(GPtrArray *rules, QAuthZListPolicy policy,
                             const char *identity)
{
    if (!identity) {
        /* An anonymous peer matches no rule: the default decides. */
        return policy == QAUTHZ_LIST_POLICY_ALLOW;
    }
    for (guint i = 0; rules && i < rules->len; i++) {
        const QAuthZListRule *rule = g_ptr_array_index(rules, i);

        if (rule_matches(rule, identity)) {
            return rule->policy == QAUTHZ_LIST_POLICY_ALLOW;
        }
    }
    return policy == QAUTHZ_LIST_POLICY_ALLOW;
}

bool qauthz_list_rules_validate(GPtrArray *rules, const char *what,
                                Error **errp)
{
    for (guint i = 0; rules && i < rules->len; i++) {
        const QAuthZListRule *rule = g_ptr_array_index(rules, i);

        if (!rule) {
            error_setg(errp, "%s: rule %u is missing (rules are numbered "
                       "from 0 with no gaps)", what, i);
            return false;
        }
        if (!rule->match) {
            error_setg(errp, "%s: rule %u has no 'match'", what, i);
            return false;
        }
        if (!rule->has_policy) {
            error_setg(errp, "%s: rule %u has no 'policy'", what, i);
            return false;
        }
    }
    return true;
}

static bool qauthz_list_is_allowed(QAuthZ *authz, const char *identity,
                                   Error **errp)
{
    QAuthZList *lauthz = QAUTHZ_LIST(authz);

    return qauthz_list_rules_check(lauthz->rules, lauthz->policy, identity);
}

/* The rule at @index, made (with defaults) when it does not exist yet. */
static QAuthZListRule *qauthz_list_rule_at(QAuthZList *lauthz, guint index)
{
    QAuthZListRule *rule;

    if (index >= lauthz->rules->len) {
        g_ptr_array_set_size(lauthz->rules, index + 1);
    }
    rule = g_ptr_array_index(lauthz->rules, index);
    if (!rule) {
        rule = g_new0(QAuthZListRule, 1);
        rule->format = QAUTHZ_LIST_FORMAT_EXACT;
        g_ptr_array_index(lauthz->rules, index) = rule;
    }
    return rule;
}

static void rule_set_match(Object *obj, guint index, const char *value)
{
    QAuthZListRule *rule = qauthz_list_rule_at(QAUTHZ_LIST(obj), index);

    g_free(rule->match);
    rule->match = g_strdup(value);
}

static char *rule_get_match(Object *obj, guint index)
{
    QAuthZList *lauthz = QAUTHZ_LIST(obj);
    QAuthZListRule *rule = index < lauthz->rules->len ?
        g_ptr_array_index(lauthz->rules, index) : NULL;

    return g_strdup(rule && rule->match ? rule->match : "");
}

static void rule_set_policy(Object *obj, guint index, int value)
{
    QAuthZListRule *rule = qauthz_list_rule_at(QAUTHZ_LIST(obj), index);

    rule->policy = value;
    rule->has_policy = true;
}

static int rule_get_policy(Object *obj, guint index)
{
    QAuthZList *lauthz = QAUTHZ_LIST(obj);
    QAuthZListRule *rule = index < lauthz->rules->len ?
        g_ptr_array_index(lauthz->rules, index) : NULL;

    return rule ? rule->policy : QAUTHZ_LIST_POLICY_DENY;
}

static void rule_set_format(Object *obj, guint index, int value)
{
    qauthz_list_rule_at(QAUTHZ_LIST(obj), index)->format = value;
}

static int rule_get_format(Object *obj, guint index)
{
    QAuthZList *lauthz = QAUTHZ_LIST(obj);
    QAuthZListRule *rule = index < lauthz->rules->len ?
        g_ptr_array_index(lauthz->rules, index) : NULL;

    return rule ? rule->format : QAUTHZ_LIST_FORMAT_EXACT;
}

typedef struct RuleAccessors {
    char *(*get_match)(Object *obj, Error **errp);
    void (*set_match)(Object *obj, const char *value, Error **errp);
    int (*get_policy)(Object *obj, Error **errp);
    void (*set_policy)(Object *obj, int value, Error **errp);
    int (*get_format)(Object *obj, Error **errp);
    void (*set_format)(Object *obj, int value, Error **errp);
} RuleAccessors;

#define RULE_ACCESSORS(hi, lo)                                              \
    static char *get_match_##hi##lo(Object *obj, Error **errp)              \
    {                                                                       \
        return rule_get_match(obj, (hi) * 8 + (lo));                        \
    }                                                                       \
    static void set_match_##hi##lo(Object *obj, const char *v,              \
                                   Error **errp)                            \
    {                                                                       \
        rule_set_match(obj, (hi) * 8 + (lo), v);                            \
    }                                                                       \
    static int get_policy_##hi##lo(Object *obj, Error **errp)               \
    {                                                                       \
        return rule_get_policy(obj, (hi) * 8 + (lo));                       \
    }                                                                       \
    static void set_policy_##hi##lo(Object *obj, int v, Error **errp)       \
    {                                                                       \
        rule_set_policy(obj, (hi) * 8 + (lo), v);                           \
    }                                                                       \
    static int get_format_##hi##lo(Object *obj, Error **errp)               \
    {                                                                       \
        return rule_get_format(obj, (hi) * 8 + (lo));                       \
    }                                                                       \
    static void set_format_##hi##lo(Object *obj, int v, Error **errp)       \
    {                                                                       \
        rule_set_format(obj, (hi) * 8 + (lo), v);                           \
    }

#define RULE_ACCESSORS8(hi)                                                 \
    RULE_ACCESSORS(hi, 0) RULE_ACCESSORS(hi, 1) RULE_ACCESSORS(hi, 2)       \
    RULE_ACCESSORS(hi, 3) RULE_ACCESSORS(hi, 4) RULE_ACCESSORS(hi, 5)       \
    RULE_ACCESSORS(hi, 6) RULE_ACCESSORS(hi, 7)

RULE_ACCESSORS8(0) RULE_ACCESSORS8(1) RULE_ACCESSORS8(2) RULE_ACCESSORS8(3)
RULE_ACCESSORS8(4) RULE_ACCESSORS8(5) RULE_ACCESSORS8(6) RULE_ACCESSORS8(7)

#define RULE_ENTRY(hi, lo)                                                  \
    { get_match_##hi##lo, set_match_##hi##lo, get_policy_##hi##lo,          \
      set_policy_##hi##lo, get_format_##hi##lo, set_format_##hi##lo }

#define RULE_ENTRIES8(hi)                                                   \
    RULE_ENTRY(hi, 0), RULE_ENTRY(hi, 1), RULE_ENTRY(hi, 2),                \
    RULE_ENTRY(hi, 3), RULE_ENTRY(hi, 4), RULE_ENTRY(hi, 5),                \
    RULE_ENTRY(hi, 6), RULE_ENTRY(hi, 7)

static const RuleAccessors rule_accessors[QAUTHZ_LIST_MAX_RULES] = {
    RULE_ENTRIES8(0), RULE_ENTRIES8(1), RULE_ENTRIES8(2), RULE_ENTRIES8(3),
    RULE_ENTRIES8(4), RULE_ENTRIES8(5), RULE_ENTRIES8(6), RULE_ENTRIES8(7),
};

static int qauthz_list_get_policy(Object *obj, Error **errp)
{
    return QAUTHZ_LIST(obj)->policy;
}

static void qauthz_list_set_policy(Object *obj, int value, Error **errp)
{
    QAUTHZ_LIST(obj)->policy = value;
}

static void qauthz_list_complete(UserCreatable *uc, Error **errp)
{
    qauthz_list_rules_validate(QAUTHZ_LIST(uc)->rules, "authz-list", errp);
}

static void qauthz_list_init(Object *obj)
{
    QAuthZList *lauthz = QAUTHZ_LIST(obj);

    lauthz->policy = QAUTHZ_LIST_POLICY_DENY;
    lauthz->rules = g_ptr_array_new_with_free_func(
        (GDestroyNotify)qauthz_list_rule_free);

    for (guint i = 0; i < QAUTHZ_LIST_MAX_RULES; i++) {
        const RuleAccessors *ra = &rule_accessors[i];
        g_autofree char *match = g_strdup_printf("rules.%u.match", i);
        g_autofree char *policy = g_strdup_printf("rules.%u.policy", i);
        g_autofree char *format = g_strdup_printf("rules.%u.format", i);

        object_property_add_str(obj, match, ra->get_match, ra->set_match);
        object_property_add_enum(obj, policy, QAuthZListPolicy_lookup,
                                 ra->get_policy, ra->set_policy);
        object_property_add_enum(obj, format, QAuthZListFormat_lookup,
                                 ra->get_format, ra->set_format);
    }
}

static void qauthz_list_finalize(Object *obj)
{
    g_ptr_array_unref(QAUTHZ_LIST(obj)->rules);
}

static void qauthz_list_class_init(ObjectClass *oc, void *data)
{
    QAuthZClass *ac = QAUTHZ_CLASS(oc);
    UserCreatableClass *ucc = USER_CREATABLE_CLASS(oc);

    ac->is_allowed = qauthz_list_is_allowed;
    ucc->complete = qauthz_list_complete;
    object_class_property_add_enum(oc, "policy", QAuthZListPolicy_lookup,
                                   qauthz_list_get_policy,
                                   qauthz_list_set_policy);
    object_class_property_set_description(oc, "policy",
        "the answer when no rule matches: deny (default) or allow; rules "
        "are rules.N.match, rules.N.policy and rules.N.format "
        "(exact or glob), N from 0");
}

static const TypeInfo qauthz_list_info = {
    .name = TYPE_QAUTHZ_LIST,
    .parent = TYPE_QAUTHZ,
    .instance_size = sizeof(QAuthZList),
    .instance_init = qauthz_list_init,
    .instance_finalize = qauthz_list_finalize,
    .class_init = qauthz_list_class_init,
};

static void qauthz_list_register_types(void)
{
    type_register_static(&qauthz_list_info);
}

type_init(qauthz_list_register_types)
