/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests of the number, size and boolean parsers of qemu/cutils.h.
 */
#include "qemu/osdep.h"

#include "qemu/cutils.h"

static void test_strtoi(void)
{
    const char *end;
    int v = 99;

    g_assert_cmpint(qemu_strtoi("123", NULL, 10, &v), ==, 0);
    g_assert_cmpint(v, ==, 123);
    g_assert_cmpint(qemu_strtoi("  -42", NULL, 10, &v), ==, 0);
    g_assert_cmpint(v, ==, -42);
    g_assert_cmpint(qemu_strtoi("0x1f", NULL, 0, &v), ==, 0);
    g_assert_cmpint(v, ==, 31);
    g_assert_cmpint(qemu_strtoi("017", NULL, 0, &v), ==, 0);
    g_assert_cmpint(v, ==, 15);

    /* Overflow clamps to the limit. */
    g_assert_cmpint(qemu_strtoi("2147483648", NULL, 10, &v), ==, -ERANGE);
    g_assert_cmpint(v, ==, INT_MAX);
    g_assert_cmpint(qemu_strtoi("-2147483649", NULL, 10, &v), ==, -ERANGE);
    g_assert_cmpint(v, ==, INT_MIN);
    g_assert_cmpint(qemu_strtoi("-2147483648", NULL, 10, &v), ==, 0);
    g_assert_cmpint(v, ==, INT_MIN);

    /* Trailing text: error without endptr, reported position with it. */
    v = 99;
    g_assert_cmpint(qemu_strtoi("12abc", NULL, 10, &v), ==, -EINVAL);
    g_assert_cmpint(v, ==, 0);
    g_assert_cmpint(qemu_strtoi("12abc", &end, 10, &v), ==, 0);
    g_assert_cmpint(v, ==, 12);
    g_assert_cmpstr(end, ==, "abc");

    /* No digits at all. */
    g_assert_cmpint(qemu_strtoi("", &end, 10, &v), ==, -EINVAL);
    g_assert_cmpint(qemu_strtoi("abc", &end, 10, &v), ==, -EINVAL);
    g_assert_cmpstr(end, ==, "abc");
    g_assert_cmpint(qemu_strtoi(NULL, &end, 10, &v), ==, -EINVAL);
    g_assert_null(end);
}

static void test_strtoui(void)
{
    unsigned int v;

    g_assert_cmpint(qemu_strtoui("4294967295", NULL, 10, &v), ==, 0);
    g_assert_cmpuint(v, ==, UINT_MAX);
    g_assert_cmpint(qemu_strtoui("4294967296", NULL, 10, &v), ==, -ERANGE);
    g_assert_cmpuint(v, ==, UINT_MAX);
    /* Negative values do not wrap around. */
    g_assert_cmpint(qemu_strtoui("-1", NULL, 10, &v), ==, -ERANGE);
    g_assert_cmpuint(v, ==, 0);
    g_assert_cmpint(qemu_strtoui("-0", NULL, 10, &v), ==, 0);
    g_assert_cmpuint(v, ==, 0);
}

static void test_strtol_ul(void)
{
    long l;
    unsigned long ul;

    g_assert_cmpint(qemu_strtol("-9223372036854775808", NULL, 10, &l),
                    ==, 0);
    g_assert_cmpint(l, ==, LONG_MIN);
    g_assert_cmpint(qemu_strtol("9223372036854775808", NULL, 10, &l),
                    ==, -ERANGE);
    g_assert_cmpint(l, ==, LONG_MAX);
    g_assert_cmpint(qemu_strtoul("18446744073709551615", NULL, 10, &ul),
                    ==, 0);
    g_assert_cmpuint(ul, ==, ULONG_MAX);
    g_assert_cmpint(qemu_strtoul("ff", NULL, 16, &ul), ==, 0);
    g_assert_cmpuint(ul, ==, 255);
}

static void test_strtoi64_u64(void)
{
    int64_t i;
    uint64_t u;
    const char *end;

    g_assert_cmpint(qemu_strtoi64("-0x10", NULL, 0, &i), ==, 0);
    g_assert_cmpint(i, ==, -16);
    g_assert_cmpint(qemu_strtoi64("99999999999999999999", NULL, 10, &i),
                    ==, -ERANGE);
    g_assert_cmpint(i, ==, INT64_MAX);

    g_assert_cmpint(qemu_strtou64("18446744073709551615", NULL, 10, &u),
                    ==, 0);
    g_assert_cmpuint(u, ==, UINT64_MAX);
    g_assert_cmpint(qemu_strtou64("18446744073709551616", NULL, 10, &u),
                    ==, -ERANGE);
    g_assert_cmpuint(u, ==, UINT64_MAX);
    g_assert_cmpint(qemu_strtou64("-5", NULL, 10, &u), ==, -ERANGE);
    g_assert_cmpuint(u, ==, 0);
    g_assert_cmpint(qemu_strtou64("7 ", NULL, 10, &u), ==, -EINVAL);
    g_assert_cmpint(qemu_strtou64("7,x", &end, 10, &u), ==, 0);
    g_assert_cmpuint(u, ==, 7);
    g_assert_cmpstr(end, ==, ",x");
}

static void test_parse_user_numbers(void)
{
    uint64_t u;
    int64_t i;

    g_assert_cmpint(qemu_parse_uint64("010", &u), ==, 0);
    g_assert_cmpuint(u, ==, 10);        /* decimal, not octal */
    g_assert_cmpint(qemu_parse_uint64("0x10", &u), ==, 0);
    g_assert_cmpuint(u, ==, 16);
    g_assert_cmpint(qemu_parse_uint64("0X1F", &u), ==, 0);
    g_assert_cmpuint(u, ==, 31);
    g_assert_cmpint(qemu_parse_uint64(" 1", &u), ==, -EINVAL);
    g_assert_cmpint(qemu_parse_uint64("0x", &u), ==, -EINVAL);
    g_assert_cmpint(qemu_parse_uint64("", &u), ==, -EINVAL);
    g_assert_cmpint(qemu_parse_uint64("1k", &u), ==, -EINVAL);
    g_assert_cmpint(qemu_parse_uint64("-1", &u), ==, -ERANGE);
    g_assert_cmpint(qemu_parse_int64("-0x10", &i), ==, 0);
    g_assert_cmpint(i, ==, -16);
    g_assert_cmpint(qemu_parse_int64("-", &i), ==, -EINVAL);
    g_assert_cmpint(qemu_parse_int64("+3", &i), ==, -EINVAL);
}

static void test_strtosz_suffixes(void)
{
    static const struct {
        const char *str;
        uint64_t value;
    } cases[] = {
        { "0", 0 },
        { "4096", 4096 },
        { "12B", 12 },
        { "1k", 1024 },
        { "1K", 1024 },
        { "64k", 65536 },
        { "1M", 1024 * 1024 },
        { "1m", 1024 * 1024 },
        { "2G", 2ULL << 30 },
        { "1T", 1ULL << 40 },
        { "1P", 1ULL << 50 },
        { "1E", 1ULL << 60 },
        { "1.5k", 1536 },
        { "1.5G", 3ULL << 29 },
        { "0.5M", 512 * 1024 },
        { "0.001k", 1 },               /* 1.024 bytes, rounded down */
        { "0x1000", 4096 },
        { "15E", 15ULL << 60 },
        { "18446744073709551615", UINT64_MAX },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        uint64_t v = 42;

        g_assert_cmpint(qemu_strtosz(cases[i].str, NULL, &v), ==, 0);
        g_assert_cmpuint(v, ==, cases[i].value);
    }
}

static void test_strtosz_errors(void)
{
    static const char *const invalid[] = {
        "", "k", "-1", "-1k", "1.5", "1.5B", "1x", "1kB", "0x1k",
        "0x1.5", ".5k", " ", "1 k",
    };
    const char *end;
    uint64_t v;

    for (size_t i = 0; i < G_N_ELEMENTS(invalid); i++) {
        v = 42;
        g_assert_cmpint(qemu_strtosz(invalid[i], NULL, &v), ==, -EINVAL);
        g_assert_cmpuint(v, ==, 0);
    }

    /* Overflow: of the number itself, and of number times unit. */
    g_assert_cmpint(qemu_strtosz("18446744073709551616", NULL, &v),
                    ==, -ERANGE);
    g_assert_cmpint(qemu_strtosz("16E", NULL, &v), ==, -ERANGE);
    g_assert_cmpint(qemu_strtosz("17179869184G", NULL, &v), ==, -ERANGE);
    g_assert_cmpint(qemu_strtosz("0x10000000000000000", NULL, &v),
                    ==, -ERANGE);
    g_assert_cmpint(qemu_strtosz("15.99999E", NULL, &v), ==, 0);
    g_assert_cmpuint(v, >, 15ULL << 60);

    /* With an end pointer, what follows is left to the caller. */
    g_assert_cmpint(qemu_strtosz("8k,rest", &end, &v), ==, 0);
    g_assert_cmpuint(v, ==, 8192);
    g_assert_cmpstr(end, ==, ",rest");
    g_assert_cmpint(qemu_strtosz("x", &end, &v), ==, -EINVAL);
    g_assert_cmpstr(end, ==, "x");
}

static void test_strtosz_variants(void)
{
    uint64_t v;

    g_assert_cmpint(qemu_strtosz_MiB("2", NULL, &v), ==, 0);
    g_assert_cmpuint(v, ==, 2 * 1024 * 1024);
    g_assert_cmpint(qemu_strtosz_MiB("1.5", NULL, &v), ==, 0);
    g_assert_cmpuint(v, ==, 3 * 512 * 1024);
    g_assert_cmpint(qemu_strtosz_MiB("10B", NULL, &v), ==, 0);
    g_assert_cmpuint(v, ==, 10);
    g_assert_cmpint(qemu_strtosz_metric("2k", NULL, &v), ==, 0);
    g_assert_cmpuint(v, ==, 2000);
    g_assert_cmpint(qemu_strtosz_metric("1.5M", NULL, &v), ==, 0);
    g_assert_cmpuint(v, ==, 1500000);
}

static void test_strtobool(void)
{
    static const char *const yes[] = { "on", "yes", "true" };
    static const char *const no[] = { "off", "no", "false" };
    static const char *const bad[] = { "", "1", "ON", "y", "onn", "of" };
    bool b;

    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        b = false;
        g_assert_cmpint(qemu_strtobool(yes[i], &b), ==, 0);
        g_assert_true(b);
        g_assert_cmpint(qemu_strtobool(no[i], &b), ==, 0);
        g_assert_false(b);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        b = true;
        g_assert_cmpint(qemu_strtobool(bad[i], &b), ==, -EINVAL);
        g_assert_true(b);
    }
    g_assert_cmpint(qemu_strtobool(NULL, &b), ==, -EINVAL);
}

static void test_size_to_str(void)
{
    static const struct {
        uint64_t value;
        const char *text;
    } cases[] = {
        { 0, "0 B" },
        { 512, "512 B" },
        { 999, "999 B" },
        { 1000, "0.977 KiB" },
        { 1024, "1 KiB" },
        { 1536, "1.5 KiB" },
        { 1ULL << 30, "1 GiB" },
        { 3ULL << 29, "1.5 GiB" },
        { UINT64_MAX, "16 EiB" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *s = size_to_str(cases[i].value);

        g_assert_cmpstr(s, ==, cases[i].text);
    }
}

static void test_string_helpers(void)
{
    char buf[8];
    const char *rest;

    g_assert_true(is_help_option("help"));
    g_assert_true(is_help_option("?"));
    g_assert_false(is_help_option("helpme"));
    g_assert_false(is_help_option(NULL));

    g_assert_true(strstart("driver=nbd", "driver=", &rest));
    g_assert_cmpstr(rest, ==, "nbd");
    g_assert_false(strstart("drive", "driver", &rest));
    g_assert_true(stristart("NBD://host", "nbd://", &rest));
    g_assert_cmpstr(rest, ==, "host");

    pstrcpy(buf, sizeof(buf), "0123456789");
    g_assert_cmpstr(buf, ==, "0123456");
    pstrcpy(buf, sizeof(buf), "ab");
    pstrcat(buf, sizeof(buf), "cdefghij");
    g_assert_cmpstr(buf, ==, "abcdefg");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util/cutils/strtoi", test_strtoi);
    g_test_add_func("/util/cutils/strtoui", test_strtoui);
    g_test_add_func("/util/cutils/strtol-ul", test_strtol_ul);
    g_test_add_func("/util/cutils/strtoi64-u64", test_strtoi64_u64);
    g_test_add_func("/util/cutils/parse-user-numbers",
                    test_parse_user_numbers);
    g_test_add_func("/util/cutils/strtosz/suffixes", test_strtosz_suffixes);
    g_test_add_func("/util/cutils/strtosz/errors", test_strtosz_errors);
    g_test_add_func("/util/cutils/strtosz/variants", test_strtosz_variants);
    g_test_add_func("/util/cutils/strtobool", test_strtobool);
    g_test_add_func("/util/cutils/size-to-str", test_size_to_str);
    g_test_add_func("/util/cutils/string-helpers", test_string_helpers);
    return g_test_run();
}
