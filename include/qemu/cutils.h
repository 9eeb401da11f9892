/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Small string helpers: checked number parsing, size parsing with unit
 * suffixes, boolean words, bounded string copies.
 *
 * Number parsers share one contract:
 * - they return 0 on success, -EINVAL when @nptr holds no number (or, with
 *   @endptr NULL, when anything but the number is left), -ERANGE when the
 *   number does not fit;
 * - on -ERANGE *@result is clamped to the nearest limit, on -EINVAL it is 0;
 * - when @endptr is not NULL it receives the first unparsed character and
 *   trailing text is not an error;
 * - leading white space is skipped and @base follows strtol(): 0 means
 *   "0x" hex, leading "0" octal, else decimal.
 */
#ifndef QEMU_CUTILS_H
#define QEMU_CUTILS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * qemu_strtoi:
 * @nptr: string to parse, may be NULL (then -EINVAL)
 * @endptr: (out) (optional): where parsing stopped
 * @base: number base as for strtol()
 * @result: (out): the value
 *
 * Parses a signed int. See the header comment for the shared contract.
 *
 * Returns: 0, -EINVAL or -ERANGE.
 */
int qemu_strtoi(const char *nptr, const char **endptr, int base, int *result);

/**
 * qemu_strtoui:
 * @nptr: string to parse
 * @endptr: (out) (optional): where parsing stopped
 * @base: number base as for strtol()
 * @result: (out): the value
 *
 * Parses an unsigned int. Unlike strtoul(), a negative number is not
 * wrapped around: it gives -ERANGE ("-0" is accepted as 0).
 *
 * Returns: 0, -EINVAL or -ERANGE.
 */
int qemu_strtoui(const char *nptr, const char **endptr, int base,
                 unsigned int *result);

/**
 * qemu_strtol:
 * @nptr: string to parse
 * @endptr: (out) (optional): where parsing stopped
 * @base: number base as for strtol()
 * @result: (out): the value
 *
 * Parses a long.
 *
 * Returns: 0, -EINVAL or -ERANGE.
 */
int qemu_strtol(const char *nptr, const char **endptr, int base,
                long *result);

/**
 * qemu_strtoul:
 * @nptr: string to parse
 * @endptr: (out) (optional): where parsing stopped
 * @base: number base as for strtol()
 * @result: (out): the value
 *
 * Parses an unsigned long; negative numbers give -ERANGE.
 *
 * Returns: 0, -EINVAL or -ERANGE.
 */
int qemu_strtoul(const char *nptr, const char **endptr, int base,
                 unsigned long *result);

/**
 * qemu_strtoi64:
 * @nptr: string to parse
 * @endptr: (out) (optional): where parsing stopped
 * @base: number base as for strtol()
 * @result: (out): the value
 *
 * Parses an int64_t.
 *
 * Returns: 0, -EINVAL or -ERANGE.
 */
int qemu_strtoi64(const char *nptr, const char **endptr, int base,
                  int64_t *result);

/**
 * qemu_strtou64:
 * @nptr: string to parse
 * @endptr: (out) (optional): where parsing stopped
 * @base: number base as for strtol()
 * @result: (out): the value
 *
 * Parses a uint64_t; negative numbers give -ERANGE.
 *
 * Returns: 0, -EINVAL or -ERANGE.
 */
int qemu_strtou64(const char *nptr, const char **endptr, int base,
                  uint64_t *result);

/**
 * qemu_parse_uint64:
 * @str: the whole text of an option value
 * @result: (out): the value, 0 on error
 *
 * Parses a number as options written by people take it: decimal, or
 * hexadecimal with "0x"; no octal, no leading space, nothing after it.
 * Negative numbers give -ERANGE.
 *
 * Returns: 0, -EINVAL or -ERANGE.
 */
int qemu_parse_uint64(const char *str, uint64_t *result);

/**
 * qemu_parse_int64:
 * @str: the whole text of an option value
 * @result: (out): the value (clamped on -ERANGE)
 *
 * As qemu_parse_uint64() for signed numbers ("-12", "-0x10").
 *
 * Returns: 0, -EINVAL or -ERANGE.
 */
int qemu_parse_int64(const char *str, int64_t *result);

/**
 * qemu_strtosz:
 * @nptr: string to parse
 * @end: (out) (optional): where parsing stopped
 * @result: (out): the size in bytes
 *
 * Parses a byte count: a decimal number with an optional fraction and an
 * optional unit suffix, or a hexadecimal "0x" number without fraction or
 * suffix. Suffixes are case-insensitive and binary: B (bytes), K, M, G, T,
 * P, E (powers of 1024); without one the number counts bytes. A fraction
 * needs a unit bigger than a byte ("1.5k" is 1536, "1.5" and "1.5B" are
 * errors) and the result is rounded down to whole bytes. Negative numbers
 * are rejected with -EINVAL.
 *
 * Returns: 0, -EINVAL (malformed, or trailing text when @end is NULL) or
 * -ERANGE (more than UINT64_MAX bytes). On error *@result is 0.
 */
int qemu_strtosz(const char *nptr, const char **end, uint64_t *result);

/**
 * qemu_strtosz_MiB:
 * @nptr: string to parse
 * @end: (out) (optional): where parsing stopped
 * @result: (out): the size in bytes
 *
 * As qemu_strtosz(), but a number without suffix counts mebibytes.
 *
 * Returns: 0, -EINVAL or -ERANGE.
 */
int qemu_strtosz_MiB(const char *nptr, const char **end, uint64_t *result);

/**
 * qemu_strtosz_metric:
 * @nptr: string to parse
 * @end: (out) (optional): where parsing stopped
 * @result: (out): the value
 *
 * As qemu_strtosz(), but the suffixes are powers of 1000.
 *
 * Returns: 0, -EINVAL or -ERANGE.
 */
int qemu_strtosz_metric(const char *nptr, const char **end,
                        uint64_t *result);

/**
 * qemu_strtobool:
 * @str: the word to parse
 * @result: (out): the value, untouched on error
 *
 * Parses one of the boolean words accepted on QEMU command lines:
 * "on", "yes", "true" and "off", "no", "false" (case-sensitive).
 *
 * Returns: 0, or -EINVAL for anything else (including NULL).
 */
int qemu_strtobool(const char *str, bool *result);

/**
 * size_to_str:
 * @val: a byte count
 *
 * Formats @val for people, with a binary unit: "512 B", "1 KiB",
 * "1.5 GiB" (three significant digits at most).
 *
 * Returns: (transfer full): a string to g_free().
 */
char *size_to_str(uint64_t val);

/**
 * is_help_option:
 * @s: an option value, may be NULL
 *
 * Returns: true if @s is "help" or "?", the words that ask for help.
 */
bool is_help_option(const char *s);

/**
 * strstart:
 * @str: the string to test
 * @val: the prefix
 * @ptr: (out) (optional): receives the text after the prefix
 *
 * Returns: true if @str starts with @val.
 */
bool strstart(const char *str, const char *val, const char **ptr);

/**
 * stristart:
 * @str: the string to test
 * @val: the prefix, compared without regard to ASCII case
 * @ptr: (out) (optional): receives the text after the prefix
 *
 * Returns: true if @str starts with @val, ignoring case.
 */
bool stristart(const char *str, const char *val, const char **ptr);

/**
 * pstrcpy:
 * @buf: destination
 * @buf_size: size of @buf in bytes
 * @str: source
 *
 * Copies at most @buf_size - 1 bytes of @str into @buf and always
 * terminates it (unless @buf_size is 0).
 */
void pstrcpy(char *buf, size_t buf_size, const char *str);

/**
 * pstrcat:
 * @buf: destination holding a terminated string
 * @buf_size: size of @buf in bytes
 * @s: text to append
 *
 * Appends as much of @s as fits, keeping @buf terminated.
 *
 * Returns: @buf.
 */
char *pstrcat(char *buf, size_t buf_size, const char *s);

#endif /* QEMU_CUTILS_H */
