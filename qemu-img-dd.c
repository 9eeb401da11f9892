/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-img dd: copies a range of an image into a new image, with dd's
 * operands (if=, of=, bs=, count=, skip=). As QEMU's, the new image is as
 * large as the input range (count blocks, or the input's length), less
 * the skipped part, and receives the data from the skip offset on.
 */
#include "qemu/osdep.h"
#include <getopt.h>
#include "qemu-io.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qemu-img.h"
#include "block/qcow2-img.h"

typedef struct DdOperands {
    const char *in;
    const char *out;
    int64_t bsz;
    int64_t count;              /* -1: the whole input */
    int64_t skip;
} DdOperands;

static G_GNUC_NORETURN void dd_bad_number(const char *what)
{
    error_report("Invalid %s specified. You may use k, M, G, T, P or E "
                 "suffixes for", what);
    error_report("kilobytes, megabytes, gigabytes, terabytes, petabytes "
                 "and exabytes.");
    exit(EXIT_FAILURE);
}

static void dd_operand(DdOperands *d, const char *arg)
{
    const char *eq = strchr(arg, '=');
    g_autofree char *key = eq ? g_strndup(arg, eq - arg) : g_strdup(arg);
    const char *val = eq ? eq + 1 : "";
    int64_t v;

    if (!strcmp(key, "if")) {
        d->in = val;
        return;
    }
    if (!strcmp(key, "of")) {
        d->out = val;
        return;
    }
    if (strcmp(key, "bs") && strcmp(key, "count") && strcmp(key, "skip")) {
        error_report("unrecognized operand %s", key);
        exit(EXIT_FAILURE);
    }
    v = qemuio_cvtnum(val);
    if (!strcmp(key, "bs")) {
        if (v == -EINVAL) {
            dd_bad_number("bs");
        }
        if (v <= 0 || v > INT_MAX) {
            error_report("Invalid bs specified. Must be between 1 and %d.",
                         INT_MAX);
            exit(EXIT_FAILURE);
        }
        d->bsz = v;
    } else if (v < 0) {
        dd_bad_number(key);
    } else if (!strcmp(key, "count")) {
        d->count = v;
    } else {
        d->skip = v;
    }
}

static bool dd_create(const char *name, const char *fmt, int64_t size,
                      Error **errp)
{
    if (!strcmp(fmt, "qcow2")) {
        Qcow2CreateOptions q = { .size = size };

        return qcow2_img_create(name, &q, true, errp);
    }
    return bdrv_img_create(name, fmt, size, NULL, true, errp);
}

int img_dd(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 }
    };
    DdOperands d = { .bsz = 512, .count = -1 };
    ImgOpenOptions io = { 0 };
    ImgOpenOptions oo = { .writable = true };
    const char *out_fmt = "raw";
    BlockBackend *in = NULL, *out = NULL;
    Error *local_err = NULL;
    int64_t size, offset, pos;
    uint8_t *buf = NULL;
    int ret = 1, c;

    while ((c = getopt_long(argc, argv, ":hf:O:U", lopt, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'f':
            io.fmt = optarg;
            break;
        case 'O':
            out_fmt = optarg;
            break;
        case 'U':
            io.force_share = true;
            break;
        case OPTION_OBJECT:
            process_object(optarg);
            break;
        case OPTION_IMAGE_OPTS:
            io.image_opts = true;
            break;
        default:
            bad_option(c, argv);
        }
    }
    for (int i = optind; i < argc; i++) {
        dd_operand(&d, argv[i]);
    }
    if (!d.in || !d.out) {
        error_report("Must specify both input and output files");
        return 1;
    }
    if (io.image_opts && io.fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }

    in = img_open(d.in, &io);
    if (!in) {
        return 1;
    }
    size = blk_getlength(in);
    if (size < 0) {
        error_report("Failed to get size for '%s'", d.in);
        goto out;
    }
    if (d.count >= 0 && d.count <= INT64_MAX / d.bsz &&
        d.count * d.bsz < size) {
        size = d.count * d.bsz;
    }
    if (d.skip > INT64_MAX / d.bsz) {
        error_report("Input offset too large");
        goto out;
    }
    offset = d.skip * d.bsz;
    if (offset > size) {
        /* QEMU warns, makes an empty image and succeeds. */
        error_report("%s: cannot skip to specified offset", d.in);
        offset = size;
    }

    if (!dd_create(d.out, out_fmt, QEMU_ALIGN_UP(size - offset, 512),
                   &local_err)) {
        error_reportf_err(local_err, "%s: error while creating output "
                          "image: ", d.out);
        goto out;
    }
    oo.fmt = out_fmt;
    out = img_open(d.out, &oo);
    if (!out) {
        goto out;
    }

    buf = blk_blockalign(in, d.bsz);
    for (pos = offset; pos < size; pos += d.bsz) {
        int64_t n = MIN(d.bsz, size - pos);

        if (blk_pread(in, pos, n, buf, 0) < 0) {
            error_report("error while reading from input image file");
            goto out;
        }
        if (blk_pwrite(out, pos - offset, n, buf, 0) < 0) {
            error_report("error while writing to output image file");
            goto out;
        }
    }
    if (blk_flush(out) < 0) {
        error_report("error while flushing the output image");
        goto out;
    }
    ret = 0;
out:
    qemu_vfree(buf);
    blk_unref(out);
    blk_unref(in);
    return ret;
}
