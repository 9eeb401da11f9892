/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-img internals shared by its subcommand files (qemu-img.c,
 * qemu-img-convert.c, qemu-img-bench.c): option numbers, opening images,
 * the progress line and the command-line error helpers.
 */
#ifndef QEMU_IMG_H
#define QEMU_IMG_H

#include "sysemu/block-backend.h"

enum {
    OPTION_OUTPUT = 256,
    OPTION_OBJECT,
    OPTION_IMAGE_OPTS,
    OPTION_TARGET_IMAGE_OPTS,
    OPTION_PATTERN,
    OPTION_FLUSH_INTERVAL,
    OPTION_NO_DRAIN,
    OPTION_START_OFFSET,
    OPTION_MAX_LENGTH,
    OPTION_BACKING_CHAIN,
    OPTION_TARGET_IS_ZERO,
    OPTION_SALVAGE,
};

typedef enum OutputFormat {
    OFORMAT_HUMAN,
    OFORMAT_JSON,
} OutputFormat;

/* Chunk size of convert's and compare's requests. */
#define IMG_IO_BUF_SIZE     (2 * 1024 * 1024)
#define CONVERT_MAX_COROUTINES  16

typedef struct ImgOpenOptions {
    const char *fmt;
    bool image_opts;
    bool writable;
    bool force_share;
    bool unmap;                 /* discard requests reach the image */
    const char *cache;          /* NULL: writeback */
    const char *aio;
    bool quiet;
} ImgOpenOptions;

typedef struct Progress {
    bool enabled;
    double last;
} Progress;

/* Command-line errors: a message, "Try 'qemu-img --help'...", exit 1. */
G_GNUC_NORETURN G_GNUC_PRINTF(1, 2) void error_exit(const char *fmt, ...);
/* getopt() returned @c for an unknown option or a missing argument. */
G_GNUC_NORETURN void bad_option(int c, char **argv);
/* qemu-img --help */
void help(void);

/* --object: creates a user-creatable object, or exits. */
void process_object(const char *arg);
/* Opens @name (a file name or, with image_opts, an option string). */
BlockBackend *img_open(const char *name, const ImgOpenOptions *o);

/* -p: the "    (12.34/100%)" line. */
void progress_init(Progress *p, bool enabled);
void progress_update(Progress *p, int64_t done, int64_t total);
void progress_end(Progress *p);

/* Subcommands in their own files; each returns the exit status. */
/* Exits with QEMU's message when @arg is not "human" or "json". */
OutputFormat parse_output(const char *arg);
/* A byte count with suffixes; exits with QEMU-like messages naming @what. */
int64_t parse_size_or_die(const char *arg, const char *what);

int img_convert(int argc, char **argv);
int img_resize(int argc, char **argv);
int img_measure(int argc, char **argv);
int img_dd(int argc, char **argv);
int img_bench(int argc, char **argv);

#endif /* QEMU_IMG_H */
