/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the key=value option parser (qemu/keyval.h).
 */
#include "qemu/osdep.h"

#include "qapi/error.h"
#include "qemu/keyval.h"

/* Parses @params, which must fail, and checks the message. */
static void assert_parse_error(const char *params, const char *implied,
                               const char *message)
{
    Error *err = NULL;
    KeyVal *kv = keyval_parse(params, implied, &err);

    g_assert_null(kv);
    g_assert_nonnull(err);
    g_assert_cmpstr(error_get_pretty(err), ==, message);
    error_free(err);
}

static void test_basic(void)
{
    g_autoptr(KeyVal) kv = keyval_parse("driver=nbd,export=e1,port=10809",
                                        NULL, &error_abort);

    g_assert_cmpuint(keyval_count(kv), ==, 3);
    g_assert_cmpstr(keyval_nth_key(kv, 0), ==, "driver");
    g_assert_cmpstr(keyval_nth_key(kv, 1), ==, "export");
    g_assert_cmpstr(keyval_nth_key(kv, 2), ==, "port");
    g_assert_cmpstr(keyval_get(kv, "driver"), ==, "nbd");
    g_assert_cmpstr(keyval_get(kv, "export"), ==, "e1");
    g_assert_cmpstr(keyval_nth_value(kv, 2), ==, "10809");
    g_assert_null(keyval_get(kv, "missing"));
    g_assert_false(keyval_is_help(kv));
    g_assert_true(keyval_check_unused(kv, NULL, &error_abort));
}

static void test_empty(void)
{
    g_autoptr(KeyVal) kv = keyval_parse("", NULL, &error_abort);
    g_autoptr(KeyVal) kv2 = keyval_parse("", "qom-type", &error_abort);

    g_assert_cmpuint(keyval_count(kv), ==, 0);
    g_assert_cmpuint(keyval_count(kv2), ==, 0);
    g_assert_true(keyval_check_unused(kv, NULL, &error_abort));
}

static void test_values(void)
{
    /* Empty values, '=' inside a value, a trailing comma. */
    g_autoptr(KeyVal) kv = keyval_parse("a=,b=x=y,c=3,", NULL, &error_abort);

    g_assert_cmpuint(keyval_count(kv), ==, 3);
    g_assert_cmpstr(keyval_get(kv, "a"), ==, "");
    g_assert_cmpstr(keyval_get(kv, "b"), ==, "x=y");
    g_assert_cmpstr(keyval_get(kv, "c"), ==, "3");
}

static void test_escape_comma(void)
{
    g_autoptr(KeyVal) kv = NULL;

    kv = keyval_parse("file=a,,b.img,x=,,,,lead,y=end,,", NULL,
                      &error_abort);
    g_assert_cmpuint(keyval_count(kv), ==, 3);
    g_assert_cmpstr(keyval_get(kv, "file"), ==, "a,b.img");
    g_assert_cmpstr(keyval_get(kv, "x"), ==, ",,lead");
    g_assert_cmpstr(keyval_get(kv, "y"), ==, "end,");
    g_clear_pointer(&kv, keyval_free);

    /* Escapes inside the implied value too. */
    kv = keyval_parse("we,,ird,id=x", "qom-type", &error_abort);
    g_assert_cmpstr(keyval_get(kv, "qom-type"), ==, "we,ird");
    g_assert_cmpstr(keyval_get(kv, "id"), ==, "x");
}

static void test_implied_key(void)
{
    g_autoptr(KeyVal) kv = NULL;

    kv = keyval_parse("iothread,id=io0", "qom-type", &error_abort);
    g_assert_cmpuint(keyval_count(kv), ==, 2);
    g_assert_cmpstr(keyval_nth_key(kv, 0), ==, "qom-type");
    g_assert_cmpstr(keyval_get(kv, "qom-type"), ==, "iothread");
    g_assert_cmpstr(keyval_get(kv, "id"), ==, "io0");
    g_clear_pointer(&kv, keyval_free);

    /* The explicit form is the same thing. */
    kv = keyval_parse("qom-type=iothread,id=io0", "qom-type", &error_abort);
    g_assert_cmpstr(keyval_get(kv, "qom-type"), ==, "iothread");
    g_clear_pointer(&kv, keyval_free);

    /* Only the first parameter may omit its key. */
    assert_parse_error("id=io0,iothread", "qom-type",
                       "Parameter 'iothread' has no value "
                       "(expected 'iothread=VALUE')");
    /* Implied and explicit at once is a duplicate. */
    assert_parse_error("iothread,qom-type=x", "qom-type",
                       "Parameter 'qom-type' is given more than once");
    /* Without an implied key, a bare word is an error. */
    assert_parse_error("iothread,id=x", NULL,
                       "Parameter 'iothread' has no value "
                       "(expected 'iothread=VALUE')");
}

static void test_dotted(void)
{
    g_autoptr(KeyVal) kv = NULL;
    g_autoptr(KeyVal) server = NULL;
    g_autoptr(KeyVal) deep = NULL;
    Error *err = NULL;

    kv = keyval_parse("driver=nbd,server.type=unix,server.path=/tmp/s,"
                      "server.opt.x=1,export=e", NULL, &error_abort);
    /* Kept flat, as written. */
    g_assert_cmpuint(keyval_count(kv), ==, 5);
    g_assert_true(keyval_has(kv, "server.type"));
    g_assert_false(keyval_has(kv, "server"));

    server = keyval_subset(kv, "server.");
    g_assert_cmpuint(keyval_count(server), ==, 3);
    g_assert_cmpstr(keyval_nth_key(server, 0), ==, "type");
    g_assert_cmpstr(keyval_nth_key(server, 1), ==, "path");
    g_assert_cmpstr(keyval_nth_key(server, 2), ==, "opt.x");
    g_assert_cmpstr(keyval_get(server, "path"), ==, "/tmp/s");

    /* A prefix without the dot works the same; groups nest. */
    deep = keyval_subset(server, "opt");
    g_assert_cmpuint(keyval_count(deep), ==, 1);
    g_assert_cmpstr(keyval_get(deep, "x"), ==, "1");

    /* "used" marks are shared: server.type was never read. */
    g_assert_cmpstr(keyval_get(kv, "driver"), ==, "nbd");
    g_assert_cmpstr(keyval_get(kv, "export"), ==, "e");
    g_assert_false(keyval_check_unused(kv, "driver 'nbd'", &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Invalid parameter 'server.type' for driver 'nbd'");
    error_free(err);
    err = NULL;
    g_assert_false(keyval_check_unused(server, NULL, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Invalid parameter 'server.type'");
    error_free(err);

    g_assert_cmpstr(keyval_get(server, "type"), ==, "unix");
    g_assert_true(keyval_check_unused(kv, NULL, &error_abort));

    /* A subset outlives its parent. */
    g_clear_pointer(&kv, keyval_free);
    g_assert_cmpstr(keyval_get(server, "type"), ==, "unix");

    /* No match: an empty subset. */
    g_clear_pointer(&deep, keyval_free);
    deep = keyval_subset(server, "nothing.");
    g_assert_cmpuint(keyval_count(deep), ==, 0);
}

static void test_duplicate(void)
{
    assert_parse_error("a=1,b=2,a=3", NULL,
                       "Parameter 'a' is given more than once");
    assert_parse_error("server.type=unix,server.type=inet", NULL,
                       "Parameter 'server.type' is given more than once");
}

static void test_group_conflict(void)
{
    assert_parse_error("server=x,server.type=unix", NULL,
                       "Parameter 'server.type' conflicts with 'server': "
                       "a name can't be both a value and a group");
    assert_parse_error("server.type=unix,server=x", NULL,
                       "Parameter 'server' conflicts with 'server.type': "
                       "a name can't be both a value and a group");
    assert_parse_error("a.b.c=1,a.b=2", NULL,
                       "Parameter 'a.b' conflicts with 'a.b.c': "
                       "a name can't be both a value and a group");
}

static void test_bad_keys(void)
{
    assert_parse_error("=x", NULL, "Parameter name missing before '='");
    assert_parse_error("a=1,=x", NULL, "Parameter name missing before '='");
    assert_parse_error(",a=1", NULL, "Empty parameter before ','");
    assert_parse_error(",a=1", "qom-type", "Empty parameter before ','");
    assert_parse_error("a b=1", NULL,
                       "Invalid parameter name 'a b': it may only contain "
                       "letters, digits, '-', '_' and '.'");
    assert_parse_error("x/y=1", "driver",
                       "Invalid parameter name 'x/y': it may only contain "
                       "letters, digits, '-', '_' and '.'");
    assert_parse_error("a..b=1", NULL,
                       "Invalid parameter name 'a..b': empty part around "
                       "'.'");
    assert_parse_error(".a=1", NULL,
                       "Invalid parameter name '.a': empty part around '.'");
    assert_parse_error("a.=1", NULL,
                       "Invalid parameter name 'a.': empty part around '.'");
    assert_parse_error("novalue", NULL,
                       "Parameter 'novalue' has no value "
                       "(expected 'novalue=VALUE')");
    assert_parse_error("a=1,novalue", NULL,
                       "Parameter 'novalue' has no value "
                       "(expected 'novalue=VALUE')");
}

static void test_help(void)
{
    g_autoptr(KeyVal) kv = NULL;
    Error *err = NULL;

    kv = keyval_parse("help", "qom-type", &error_abort);
    g_assert_cmpuint(keyval_count(kv), ==, 0);
    g_assert_true(keyval_is_help(kv));
    g_clear_pointer(&kv, keyval_free);

    kv = keyval_parse("iothread,help", "qom-type", &error_abort);
    g_assert_cmpstr(keyval_get(kv, "qom-type"), ==, "iothread");
    g_assert_true(keyval_is_help(kv));
    g_clear_pointer(&kv, keyval_free);

    kv = keyval_parse("driver=nbd,?", NULL, &error_abort);
    g_assert_cmpstr(keyval_get(kv, "driver"), ==, "nbd");
    /* A help request nobody looked at is an unused parameter. */
    g_assert_false(keyval_check_unused(kv, NULL, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid parameter '?'");
    error_free(err);
    g_assert_true(keyval_is_help(kv));
    g_assert_true(keyval_check_unused(kv, NULL, &error_abort));
    g_clear_pointer(&kv, keyval_free);

    /* "help" as a key or inside an escaped value is not a request. */
    kv = keyval_parse("help=on,x=help", NULL, &error_abort);
    g_assert_false(keyval_is_help(kv));
    g_assert_cmpstr(keyval_get(kv, "help"), ==, "on");
    g_clear_pointer(&kv, keyval_free);
    kv = keyval_parse("help,,me", "qom-type", &error_abort);
    g_assert_false(keyval_is_help(kv));
    g_assert_cmpstr(keyval_get(kv, "qom-type"), ==, "help,me");
}

static void test_unused(void)
{
    g_autoptr(KeyVal) kv = keyval_parse("a=1,b=2,c=3", NULL, &error_abort);
    Error *err = NULL;

    /* keyval_has() and keyval_nth_key() do not count as use. */
    g_assert_true(keyval_has(kv, "a"));
    g_assert_cmpstr(keyval_nth_key(kv, 1), ==, "b");
    g_assert_nonnull(keyval_get(kv, "c"));
    g_assert_false(keyval_check_unused(kv, NULL, &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Invalid parameter 'a'");
    error_free(err);
}

static void test_typed(void)
{
    g_autoptr(KeyVal) kv = NULL;
    bool b;
    uint64_t u;
    int64_t i;
    Error *err = NULL;

    kv = keyval_parse("ro=on,shared=no,count=0x20,delta=-5,size=1.5M,"
                      "bad=maybe,neg=-1,big=99999999999999999999,"
                      "huge=16E,word=12x", NULL, &error_abort);

    g_assert_true(keyval_get_bool(kv, "ro", false, &b, &error_abort));
    g_assert_true(b);
    g_assert_true(keyval_get_bool(kv, "shared", true, &b, &error_abort));
    g_assert_false(b);
    g_assert_true(keyval_get_bool(kv, "absent", true, &b, &error_abort));
    g_assert_true(b);
    g_assert_true(keyval_get_uint64(kv, "count", 0, &u, &error_abort));
    g_assert_cmpuint(u, ==, 32);
    g_assert_true(keyval_get_uint64(kv, "absent", 7, &u, &error_abort));
    g_assert_cmpuint(u, ==, 7);
    g_assert_true(keyval_get_int64(kv, "delta", 0, &i, &error_abort));
    g_assert_cmpint(i, ==, -5);
    g_assert_true(keyval_get_size(kv, "size", 0, &u, &error_abort));
    g_assert_cmpuint(u, ==, 1572864);
    g_assert_true(keyval_get_size(kv, "absent", 512, &u, &error_abort));
    g_assert_cmpuint(u, ==, 512);

    b = true;
    g_assert_false(keyval_get_bool(kv, "bad", false, &b, &err));
    g_assert_true(b);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'bad' expects a boolean (on/off, yes/no, "
                    "true/false), got 'maybe'");
    error_free(err);
    err = NULL;

    u = 3;
    g_assert_false(keyval_get_uint64(kv, "neg", 0, &u, &err));
    g_assert_cmpuint(u, ==, 3);
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'neg' value '-1' is out of range");
    error_free(err);
    err = NULL;

    g_assert_false(keyval_get_int64(kv, "big", 0, &i, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'big' value '99999999999999999999' is out "
                    "of range");
    error_free(err);
    err = NULL;

    g_assert_false(keyval_get_size(kv, "huge", 0, &u, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'huge' value '16E' is out of range");
    error_free(err);
    err = NULL;

    g_assert_false(keyval_get_uint64(kv, "word", 0, &u, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'word' expects a non-negative number, "
                    "got '12x'");
    error_free(err);
    err = NULL;

    g_assert_false(keyval_get_size(kv, "word", 0, &u, &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'word' expects a size (a number with an "
                    "optional k/M/G/T suffix), got '12x'");
    error_free(err);
}

static void test_build(void)
{
    g_autoptr(KeyVal) kv = keyval_new();
    Error *err = NULL;

    g_assert_true(keyval_add(kv, "server.type", "inet", &error_abort));
    g_assert_true(keyval_add(kv, "server.host", "a,b", &error_abort));
    g_assert_false(keyval_add(kv, "server", "x", &err));
    g_assert_cmpstr(error_get_pretty(err), ==,
                    "Parameter 'server' conflicts with 'server.type': "
                    "a name can't be both a value and a group");
    error_free(err);
    err = NULL;
    g_assert_false(keyval_add(kv, "server.type", "unix", &err));
    error_free_or_abort(&err);
    g_assert_false(keyval_add(kv, "", "x", &err));
    g_assert_cmpstr(error_get_pretty(err), ==, "Parameter name missing");
    error_free(err);

    g_assert_cmpuint(keyval_count(kv), ==, 2);
    g_assert_cmpstr(keyval_get(kv, "server.host"), ==, "a,b");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/keyval/basic", test_basic);
    g_test_add_func("/util/keyval/empty", test_empty);
    g_test_add_func("/util/keyval/values", test_values);
    g_test_add_func("/util/keyval/escape-comma", test_escape_comma);
    g_test_add_func("/util/keyval/implied-key", test_implied_key);
    g_test_add_func("/util/keyval/dotted", test_dotted);
    g_test_add_func("/util/keyval/duplicate", test_duplicate);
    g_test_add_func("/util/keyval/group-conflict", test_group_conflict);
    g_test_add_func("/util/keyval/bad-keys", test_bad_keys);
    g_test_add_func("/util/keyval/help", test_help);
    g_test_add_func("/util/keyval/unused", test_unused);
    g_test_add_func("/util/keyval/typed", test_typed);
    g_test_add_func("/util/keyval/build", test_build);
    return g_test_run();
}
