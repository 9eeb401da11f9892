/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small string helpers: checked number parsing, sizes, booleans.
 */
#include "qemu/osdep.h"

#include <ctype.h>

#include "qemu/cutils.h"

/*
 * The end of a strto*() call, shared by every integer parser.
 * @ep is where the libc parser stopped; @libc_errno its errno.
 * Returns 0, -EINVAL or -ERANGE, and stores the end pointer if asked.
 */
static int finish_strto(const char *nptr, const char *ep,
                        const char **endptr, int libc_errno)
{
    if (ep == nptr || libc_errno == EINVAL) {
        /* No digits at all (or an invalid base): nothing was consumed. */
        if (endptr) {
            *endptr = nptr;
        }
        return -EINVAL;
    }
    if (endptr) {
        *endptr = ep;
    } else if (*ep != '\0') {
        return -EINVAL;
    }
    return libc_errno == ERANGE ? -ERANGE : 0;
}

/* Signed parse into int64_t, then clamp to [@min, @max]. */
static int strto_signed(const char *nptr, const char **endptr, int base,
                        int64_t min, int64_t max, int64_t *result)
{
    char *ep;
    long long v;
    int ret;

    *result = 0;
    if (!nptr) {
        if (endptr) {
            *endptr = NULL;
        }
        return -EINVAL;
    }
    errno = 0;
    v = strtoll(nptr, &ep, base);
    ret = finish_strto(nptr, ep, endptr, errno);
    if (ret == -EINVAL) {
        return ret;
    }
    if (v > max) {
        v = max;
        ret = -ERANGE;
    } else if (v < min) {
        v = min;
        ret = -ERANGE;
    }
    *result = v;
    return ret;
}

/*
 * Unsigned parse into uint64_t, then clamp to @max. A minus sign does not
 * wrap around as in strtoull(): any negative value but zero is -ERANGE.
 */
static int strto_unsigned(const char *nptr, const char **endptr, int base,
                          uint64_t max, uint64_t *result)
{
    const char *p;
    char *ep;
    unsigned long long v;
    bool negative;
    int ret;

    *result = 0;
    if (!nptr) {
        if (endptr) {
            *endptr = NULL;
        }
        return -EINVAL;
    }
    for (p = nptr; isspace((unsigned char)*p); p++) {
        continue;
    }
    negative = *p == '-';
    errno = 0;
    v = strtoull(nptr, &ep, base);
    ret = finish_strto(nptr, ep, endptr, errno);
    if (ret == -EINVAL) {
        return ret;
    }
    if (negative) {
        /* strtoull() negated the magnitude; only "-0" is acceptable. */
        if (v != 0 || ret == -ERANGE) {
            return -ERANGE;
        }
        return ret;
    }
    if (v > max) {
        v = max;
        ret = -ERANGE;
    }
    *result = v;
    return ret;
}

int qemu_strtoi(const char *nptr, const char **endptr, int base, int *result)
{
    int64_t v;
    int ret = strto_signed(nptr, endptr, base, INT_MIN, INT_MAX, &v);

    *result = v;
    return ret;
}

int qemu_strtoui(const char *nptr, const char **endptr, int base,
                 unsigned int *result)
{
    uint64_t v;
    int ret = strto_unsigned(nptr, endptr, base, UINT_MAX, &v);

    *result = v;
    return ret;
}

int qemu_strtol(const char *nptr, const char **endptr, int base,
                long *result)
{
    int64_t v;
    int ret = strto_signed(nptr, endptr, base, LONG_MIN, LONG_MAX, &v);

    *result = v;
    return ret;
}

int qemu_strtoul(const char *nptr, const char **endptr, int base,
                 unsigned long *result)
{
    uint64_t v;
    int ret = strto_unsigned(nptr, endptr, base, ULONG_MAX, &v);

    *result = v;
    return ret;
}

int qemu_strtoi64(const char *nptr, const char **endptr, int base,
                  int64_t *result)
{
    return strto_signed(nptr, endptr, base, INT64_MIN, INT64_MAX, result);
}

int qemu_strtou64(const char *nptr, const char **endptr, int base,
                  uint64_t *result)
{
    return strto_unsigned(nptr, endptr, base, UINT64_MAX, result);
}

/* Base for an option value: 16 after "0x", else 10. */
static int user_number_base(const char *digits)
{
    return digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') ?
           16 : 10;
}

int qemu_parse_uint64(const char *str, uint64_t *result)
{
    const char *digits = str && str[0] == '-' ? str + 1 : str;

    if (!digits || !isdigit((unsigned char)digits[0])) {
        *result = 0;
        return -EINVAL;
    }
    return qemu_strtou64(str, NULL, user_number_base(digits), result);
}

int qemu_parse_int64(const char *str, int64_t *result)
{
    const char *digits = str && str[0] == '-' ? str + 1 : str;

    if (!digits || !isdigit((unsigned char)digits[0])) {
        *result = 0;
        return -EINVAL;
    }
    return qemu_strtoi64(str, NULL, user_number_base(digits), result);
}

/*
 * Multiplier of a size suffix in @unit steps (1024 or 1000), or 0 when @c
 * is not a suffix.
 */
static uint64_t size_suffix_mult(char c, uint64_t unit)
{
    static const char suffixes[] = "KMGTPE";
    const char *pos;
    uint64_t mult = 1;

    if (c == 'b' || c == 'B') {
        return 1;
    }
    if (c == '\0') {
        return 0;
    }
    pos = strchr(suffixes, toupper((unsigned char)c));
    if (!pos) {
        return 0;
    }
    for (ptrdiff_t i = 0; i <= pos - suffixes; i++) {
        mult *= unit;
    }
    return mult;
}

/* Most fraction digits that take part in the computation. */
#define STRTOSZ_FRAC_DIGITS 18

static int do_strtosz(const char *nptr, const char **end,
                      char default_suffix, uint64_t unit, uint64_t *result)
{
    const char *p = nptr;
    uint64_t whole = 0, frac = 0, frac_scale = 1, mult;
    bool overflow = false, has_frac = false;
    unsigned __int128 total;

    *result = 0;
    if (!nptr) {
        if (end) {
            *end = NULL;
        }
        return -EINVAL;
    }
    while (isspace((unsigned char)*p)) {
        p++;
    }

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
        isxdigit((unsigned char)p[2])) {
        /* Hex counts bytes and takes neither fraction nor suffix. */
        const char *ep;
        int ret = qemu_strtou64(p, &ep, 16, &whole);

        if (end) {
            *end = ep;
        } else if (*ep != '\0') {
            return -EINVAL;
        }
        if (ret < 0) {
            return ret;
        }
        *result = whole;
        return 0;
    }

    if (!isdigit((unsigned char)*p)) {
        if (end) {
            *end = nptr;
        }
        return -EINVAL;
    }
    for (; isdigit((unsigned char)*p); p++) {
        unsigned digit = *p - '0';

        if (whole > (UINT64_MAX - digit) / 10) {
            overflow = true;
        } else {
            whole = whole * 10 + digit;
        }
    }
    if (*p == '.' && isdigit((unsigned char)p[1])) {
        int ndigits = 0;

        has_frac = true;
        for (p++; isdigit((unsigned char)*p); p++) {
            if (ndigits < STRTOSZ_FRAC_DIGITS) {
                frac = frac * 10 + (*p - '0');
                frac_scale *= 10;
                ndigits++;
            }
        }
    }

    mult = size_suffix_mult(*p, unit);
    if (mult) {
        p++;
    } else {
        mult = size_suffix_mult(default_suffix, unit);
    }

    if (end) {
        *end = p;
    } else if (*p != '\0') {
        return -EINVAL;
    }
    if (has_frac && mult == 1) {
        /* A fraction of a byte means nothing. */
        return -EINVAL;
    }
    if (overflow) {
        return -ERANGE;
    }
    total = (unsigned __int128)whole * mult +
            (unsigned __int128)frac * mult / frac_scale;
    if (total > UINT64_MAX) {
        return -ERANGE;
    }
    *result = (uint64_t)total;
    return 0;
}

int qemu_strtosz(const char *nptr, const char **end, uint64_t *result)
{
    return do_strtosz(nptr, end, 'B', 1024, result);
}

int qemu_strtosz_MiB(const char *nptr, const char **end, uint64_t *result)
{
    return do_strtosz(nptr, end, 'M', 1024, result);
}

int qemu_strtosz_metric(const char *nptr, const char **end,
                        uint64_t *result)
{
    return do_strtosz(nptr, end, 'B', 1000, result);
}

int qemu_strtobool(const char *str, bool *result)
{
    static const char *const true_words[] = { "on", "yes", "true" };
    static const char *const false_words[] = { "off", "no", "false" };

    if (!str) {
        return -EINVAL;
    }
    for (size_t i = 0; i < ARRAY_SIZE(true_words); i++) {
        if (strcmp(str, true_words[i]) == 0) {
            *result = true;
            return 0;
        }
        if (strcmp(str, false_words[i]) == 0) {
            *result = false;
            return 0;
        }
    }
    return -EINVAL;
}

char *size_to_str(uint64_t val)
{
    static const char *const units[] = {
        "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
    };
    double scaled = val;
    size_t i = 0;

    /* Keep the number under 1000 so "%g" never switches to exponents. */
    while (scaled >= 1000 && i + 1 < ARRAY_SIZE(units)) {
        scaled /= 1024;
        i++;
    }
    return g_strdup_printf("%0.3g %s", scaled, units[i]);
}

bool is_help_option(const char *s)
{
    return s && (strcmp(s, "help") == 0 || strcmp(s, "?") == 0);
}

bool strstart(const char *str, const char *val, const char **ptr)
{
    size_t len = strlen(val);

    if (strncmp(str, val, len) != 0) {
        return false;
    }
    if (ptr) {
        *ptr = str + len;
    }
    return true;
}

bool stristart(const char *str, const char *val, const char **ptr)
{
    size_t len = strlen(val);

    if (g_ascii_strncasecmp(str, val, len) != 0) {
        return false;
    }
    if (ptr) {
        *ptr = str + len;
    }
    return true;
}

void pstrcpy(char *buf, size_t buf_size, const char *str)
{
    size_t len;

    if (buf_size == 0) {
        return;
    }
    len = strnlen(str, buf_size - 1);
    memcpy(buf, str, len);
    buf[len] = '\0';
}

char *pstrcat(char *buf, size_t buf_size, const char *s)
{
    size_t len = strnlen(buf, buf_size);

    if (len < buf_size) {
        pstrcpy(buf + len, buf_size - len, s);
    }
    return buf;
}
