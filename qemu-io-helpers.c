/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Number, size, time, pattern and hex-dump helpers of qemu-io, shared
 * with qemu-img (declared in qemu-io.h). Pure functions: any thread.
 */
#include "qemu/osdep.h"
#include "qemu-io.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"

int64_t qemuio_cvtnum(const char *str)
{
    uint64_t v;
    int ret;

    ret = qemu_strtosz(str, NULL, &v);
    if (ret < 0) {
        return ret;
    }
    if (v > INT64_MAX) {
        return -ERANGE;
    }
    return v;
}

void qemuio_print_cvtnum_err(int64_t rc, const char *arg)
{
    if (rc == -ERANGE) {
        printf("Parsing error: argument too large -- %s\n", arg);
    } else {
        printf("Parsing error: non-numeric argument, or extraneous/"
               "unrecognized suffix -- %s\n", arg);
    }
}

char *qemuio_cvtstr(double value)
{
    static const char *const units[] = {
        "EiB", "PiB", "TiB", "GiB", "MiB", "KiB",
    };
    double limit = (double)(1ULL << 60);
    char *str;
    size_t len;

    for (size_t i = 0; i < ARRAY_SIZE(units); i++, limit /= 1024) {
        if (value >= limit) {
            str = g_strdup_printf("%.3f %s", value / limit, units[i]);
            goto trim;
        }
    }
    str = g_strdup_printf("%.3f bytes", value);
trim:
    /* "4.000 KiB" reads "4 KiB". */
    len = strcspn(str, " ");
    if (len > 4 && !strncmp(str + len - 4, ".000", 4)) {
        memmove(str + len - 4, str + len, strlen(str + len) + 1);
    }
    return str;
}

char *qemuio_timestr(int64_t us, bool machine)
{
    uint64_t cs = (us + 5000) / 10000;      /* hundredths */
    unsigned int hours = cs / 360000;
    unsigned int mins = cs / 6000 % 60;
    unsigned int secs = cs / 100 % 60;
    unsigned int frac = cs % 100;

    if (machine) {
        return g_strdup_printf("%u:%02u:%02u.%02u", hours, mins, secs, frac);
    }
    if (hours) {
        return g_strdup_printf("%u:%02u:%02u.%02u", hours, mins, secs, frac);
    }
    if (mins) {
        return g_strdup_printf("%02u:%02u.%02u", mins, secs, frac);
    }
    return g_strdup_printf("%02u.%02u sec", secs, frac);
}

int qemuio_parse_pattern(const char *arg)
{
    long v;
    char *end;

    errno = 0;
    v = strtol(arg, &end, 0);
    if (errno || end == arg || *end || v < 0 || v > UINT8_MAX) {
        printf("%s is not a valid pattern byte\n", arg);
        return -1;
    }
    return v;
}

char *qemuio_format_dump(const void *buf, int64_t offset, int64_t len)
{
    const uint8_t *p = buf;
    GString *out = g_string_new(NULL);

    for (int64_t i = 0; i < len; i += 16) {
        int64_t n = MIN(16, len - i);

        g_string_append_printf(out, "%08" PRIx64 ":  ",
                               (uint64_t)(offset + i));
        for (int64_t j = 0; j < n; j++) {
            g_string_append_printf(out, "%02x ", p[i + j]);
        }
        g_string_append_c(out, ' ');
        for (int64_t j = 0; j < n; j++) {
            g_string_append_c(out, g_ascii_isalnum(p[i + j]) ? p[i + j] :
                              '.');
        }
        g_string_append_c(out, '\n');
    }
    return g_string_free(out, false);
}

int64_t qemuio_find_mismatch(const void *buf, int pattern, int64_t len)
{
    const uint8_t *p = buf;

    for (int64_t i = 0; i < len; i++) {
        if (p[i] != pattern) {
            return i;
        }
    }
    return -1;
}

