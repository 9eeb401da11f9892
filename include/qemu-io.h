/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-io's command interpreter, and the small formatting and parsing
 * helpers that qemu-io and qemu-img share.
 *
 * A QemuIOSession holds the image the commands act on (one BlockBackend
 * at most) and the requests started by aio_read/aio_write. Everything
 * runs in the main thread; I/O runs in coroutines of the main AioContext.
 */
#ifndef QEMU_IO_H
#define QEMU_IO_H

#include "sysemu/block-backend.h"

/* Largest length a single read or write command takes. */
#define QEMUIO_MAX_REQUEST_BYTES  ((int64_t)INT32_MAX & ~(int64_t)511)

typedef struct QemuIOSession QemuIOSession;

/* How an image is opened (command line, or the 'open' command). */
typedef struct QemuIOOpenOptions {
    const char *format;         /* NULL: raw, with the probing warning */
    bool image_opts;            /* the name is a --image-opts string */
    bool read_only;
    bool force_share;
    const char *cache;          /* NULL: writeback */
    const char *aio;            /* NULL, "threads" or "io_uring" */
    const char *discard;        /* NULL: unmap; "ignore"/"off", "unmap"/"on" */
    bool copy_on_read;          /* -C: reads copy up from backing layers */
    const KeyVal *options;      /* extra driver options (open -o) */
} QemuIOOpenOptions;

/**
 * qemuio_session_new:
 *
 * Returns: (transfer full): a session with no image open. Main thread,
 * after qemu_init_main_loop().
 */
QemuIOSession *qemuio_session_new(void);

/*
 * qemuio_session_free:
 * Waits for the session's aio requests, closes its image and frees it.
 * NULL is allowed. Main thread, outside coroutines.
 */
void qemuio_session_free(QemuIOSession *s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuIOSession, qemuio_session_free)

/**
 * qemuio_open:
 * @s: a session without an open image
 * @name: file name, URI (nbd://...), or option string with image_opts
 * @opts: how to open it
 * @errp: error object
 *
 * Returns: true with the image open, or false with @errp set.
 */
bool qemuio_open(QemuIOSession *s, const char *name,
                 const QemuIOOpenOptions *opts, Error **errp);

/*
 * Opens @name as @opts say (qemuio_open() without the session).
 * Returns: (transfer full): the image, or NULL with @errp set.
 */
BlockBackend *qemuio_open_image(const char *name,
                                const QemuIOOpenOptions *opts, Error **errp);

/*
 * qemuio_set_misalign:
 * With @misalign, the buffers of read and write commands start 16 bytes
 * past the block layer's alignment (--misalign), to exercise bounce paths.
 */
void qemuio_set_misalign(QemuIOSession *s, bool misalign);

/* The open image's BlockBackend, or NULL. */
BlockBackend *qemuio_get_blk(QemuIOSession *s);

/**
 * qemuio_command:
 * @s: the session
 * @cmd: one command line, e.g. "read -P 0xab 0 64k"
 *
 * Runs one command; its results go to stdout, its errors to stderr.
 * Main thread, outside coroutines.
 *
 * Returns: true if the command succeeded (aio_* succeed once submitted).
 */
bool qemuio_command(QemuIOSession *s, const char *cmd);

/* True once the 'quit' command ran. */
bool qemuio_quit_requested(QemuIOSession *s);

/* Helpers shared with qemu-img (any thread). */

/**
 * qemuio_cvtnum:
 * @str: a byte count with an optional k/M/G/T/P/E suffix ("64k")
 *
 * Returns: the count, or -EINVAL (malformed or negative) or -ERANGE
 * (larger than INT64_MAX).
 */
int64_t qemuio_cvtnum(const char *str);

/* Prints qemu-io's message for a qemuio_cvtnum() failure to stderr. */
void qemuio_print_cvtnum_err(int64_t rc, const char *arg);

/**
 * qemuio_cvtstr:
 * Formats a byte count or rate the way qemu-io prints them: "512 bytes",
 * "4 KiB", "1.500 KiB", "976.562 KiB".
 *
 * Returns: (transfer full): the text.
 */
char *qemuio_cvtstr(double value);

/**
 * qemuio_timestr:
 * @us: a duration in microseconds
 * @machine: the -C form "H:MM:SS.cc" instead of "SS.cc sec"
 *
 * Returns: (transfer full): the text.
 */
char *qemuio_timestr(int64_t us, bool machine);

/**
 * qemuio_parse_pattern:
 * @arg: a byte value, decimal, octal (0...) or hex (0x...)
 *
 * Returns: 0..255, or -1 after printing "ARG is not a valid pattern byte".
 */
int qemuio_parse_pattern(const char *arg);

/**
 * qemuio_format_dump:
 * @buf: data
 * @offset: the image offset of @buf[0] (printed at the start of lines)
 * @len: bytes in @buf
 *
 * Returns: (transfer full): qemu-io's hex dump of @buf (16 bytes a line,
 * hex then the alphanumeric characters).
 */
char *qemuio_format_dump(const void *buf, int64_t offset, int64_t len);

/**
 * qemuio_find_mismatch:
 * Returns: the index of the first byte of @buf[0..@len) that is not
 * @pattern, or -1 when all match.
 */
int64_t qemuio_find_mismatch(const void *buf, int pattern, int64_t len);

#endif /* QEMU_IO_H */
