/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-img's commands about an image's size: resize (grow or, with
 * --shrink, shrink; absolute or +SIZE/-SIZE) and measure (the size a
 * converted or new image needs). Messages and exit statuses are QEMU's.
 */
#include "qemu/osdep.h"
#include <getopt.h>
#include "qemu-io.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qemu-img.h"

enum {
    OPTION_PREALLOCATION = 512,
    OPTION_SHRINK,
    OPTION_SIZE,
};

/* QEMU's wording for a size its option parser refuses. */
static G_GNUC_NORETURN void bad_size_parameter(void)
{
    error_report("Parameter 'size' expects a non-negative number below 2^64");
    error_printf("Optional suffix k, M, G, T, P or E means kilo-, mega-, "
                 "giga-, tera-, peta-\nand exabytes, respectively.\n");
    exit(EXIT_FAILURE);
}

/* Writes zeroes over [@from, @to) so that every block is allocated. */
static int resize_fill_zeroes(BlockBackend *blk, int64_t from, int64_t to)
{
    int64_t chunk = IMG_IO_BUF_SIZE;
    void *buf = blk_blockalign(blk, chunk);
    int ret = 0;

    memset(buf, 0, chunk);
    while (from < to) {
        int64_t n = MIN(chunk, to - from);

        ret = blk_pwrite(blk, from, n, buf, 0);
        if (ret < 0) {
            break;
        }
        from += n;
    }
    qemu_vfree(buf);
    return ret < 0 ? ret : blk_flush(blk);
}

int img_resize(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "preallocation", required_argument, NULL, OPTION_PREALLOCATION },
        { "shrink", no_argument, NULL, OPTION_SHRINK },
        { NULL, 0, NULL, 0 }
    };
    ImgOpenOptions o = { .writable = true };
    const char *size_arg, *prealloc_arg = NULL;
    bool shrink = false, quiet = false, full = false;
    PreallocMode prealloc = PREALLOC_MODE_OFF;
    Error *local_err = NULL;
    int64_t delta, old_size, new_size;
    int sign = 0;
    BlockBackend *blk;
    int c, ret;

    /*
     * The size is the last argument; take it out before option parsing so
     * that "-1G" is not read as options, as QEMU does.
     */
    if (argc < 3) {
        error_exit("Not enough arguments");
    }
    size_arg = argv[--argc];

    while ((c = getopt_long(argc, argv, ":f:hq", lopt, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'f':
            o.fmt = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case OPTION_OBJECT:
            process_object(optarg);
            break;
        case OPTION_IMAGE_OPTS:
            o.image_opts = true;
            break;
        case OPTION_PREALLOCATION:
            prealloc_arg = optarg;
            break;
        case OPTION_SHRINK:
            shrink = true;
            break;
        default:
            bad_option(c, argv);
        }
    }
    if (optind != argc - 1) {
        error_exit("Expecting image file name and size");
    }
    if (o.image_opts && o.fmt) {
        error_exit("--image-opts and --format are mutually exclusive");
    }
    if (prealloc_arg) {
        if (!strcmp(prealloc_arg, "off")) {
            prealloc = PREALLOC_MODE_OFF;
        } else if (!strcmp(prealloc_arg, "falloc")) {
            prealloc = PREALLOC_MODE_FALLOC;
        } else if (!strcmp(prealloc_arg, "full")) {
            /* Allocated by fallocate, then written: every block is real. */
            prealloc = PREALLOC_MODE_FALLOC;
            full = true;
        } else if (!strcmp(prealloc_arg, "metadata")) {
            prealloc = -1;
        } else {
            error_report("Invalid preallocation mode '%s'", prealloc_arg);
            return 1;
        }
    }

    if (size_arg[0] == '+' || size_arg[0] == '-') {
        sign = size_arg[0] == '+' ? 1 : -1;
        size_arg++;
    }
    delta = qemuio_cvtnum(size_arg);
    if (delta == -ERANGE) {
        /* Beyond INT64_MAX: QEMU wraps to a negative size. */
        error_report("New image size must be positive");
        return 1;
    }
    if (delta < 0) {
        bad_size_parameter();
    }

    blk = img_open(argv[optind], &o);
    if (!blk) {
        return 1;
    }
    old_size = blk_getlength(blk);
    if (old_size < 0) {
        error_report("Failed to inquire current image length: %s",
                     strerror(-old_size));
        ret = 1;
        goto out;
    }
    if (sign > 0) {
        new_size = delta > INT64_MAX - old_size ? -1 : old_size + delta;
    } else if (sign < 0) {
        new_size = old_size - delta;
    } else {
        new_size = delta;
    }
    if (new_size <= 0) {
        error_report("New image size must be positive");
        ret = 1;
        goto out;
    }
    if (prealloc_arg && strcmp(prealloc_arg, "off") && new_size < old_size) {
        error_report("Preallocation can only be used for growing images");
        ret = 1;
        goto out;
    }
    if (new_size < old_size && !shrink) {
        error_report("Use the --shrink option to perform a shrink "
                     "operation.");
        warn_report("Shrinking an image will delete all data beyond the "
                    "shrunken image's end. Before performing such an "
                    "operation, make sure there is no important data "
                    "there.");
        ret = 1;
        goto out;
    }
    if (prealloc == (PreallocMode)-1) {
        error_report("Unsupported preallocation mode: metadata");
        ret = 1;
        goto out;
    }

    ret = blk_truncate(blk, new_size, false, prealloc, 0, &local_err);
    if (ret >= 0 && full && new_size > old_size) {
        ret = resize_fill_zeroes(blk, old_size, new_size);
        if (ret < 0) {
            error_setg_errno(&local_err, -ret, "Could not write zeroes");
        }
    }
    if (ret < 0) {
        error_report_err(local_err);
        ret = 1;
        goto out;
    }
    if (!quiet) {
        printf("Image resized.\n");
    }
    ret = 0;
out:
    blk_unref(blk);
    return ret;
}

/* measure */

static void measure_print(OutputFormat ofmt, uint64_t required,
                          uint64_t full)
{
    if (ofmt == OFORMAT_JSON) {
        printf("{\n    \"required\": %" PRIu64 ",\n"
               "    \"fully-allocated\": %" PRIu64 "\n}\n", required, full);
        return;
    }
    printf("required size: %" PRIu64 "\nfully allocated size: %" PRIu64
           "\n", required, full);
}

int img_measure(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "size", required_argument, NULL, OPTION_SIZE },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 }
    };
    ImgOpenOptions o = { 0 };
    OutputFormat ofmt = OFORMAT_HUMAN;
    const char *out_fmt = "raw";
    int64_t size = -1;
    int c;

    while ((c = getopt_long(argc, argv, ":hf:O:o:l:s:U", lopt,
                            NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'f':
            o.fmt = optarg;
            break;
        case 'O':
            out_fmt = optarg;
            break;
        case 'U':
            o.force_share = true;
            break;
        case 'o':
        case 'l':
        case 's':
            error_report("Option -%c is not supported by this qemu-img's "
                         "measure", c);
            return 1;
        case OPTION_OBJECT:
            process_object(optarg);
            break;
        case OPTION_IMAGE_OPTS:
            o.image_opts = true;
            break;
        case OPTION_OUTPUT:
            ofmt = parse_output(optarg);
            break;
        case OPTION_SIZE:
            size = qemuio_cvtnum(optarg);
            if (size == -ERANGE) {
                error_report("Invalid image size specified. Must be between "
                             "0 and %" PRId64 ".", INT64_MAX);
                return 1;
            }
            if (size < 0) {
                error_report("Invalid image size specified. You may use "
                             "k, M, G, T, P or E suffixes for");
                error_report("kilobytes, megabytes, gigabytes, terabytes, "
                             "petabytes and exabytes.");
                return 1;
            }
            break;
        default:
            bad_option(c, argv);
        }
    }
    if (o.image_opts && o.fmt) {
        error_report("--image-opts and --format are mutually exclusive");
        return 1;
    }
    if (optind < argc - 1) {
        error_report("Expecting one image file name");
        return 1;
    }
    if (optind == argc && (o.fmt || o.image_opts)) {
        error_report("--image-opts, -f, and -l require a filename argument.");
        return 1;
    }
    if (optind == argc - 1 && size >= 0) {
        error_report("--size N cannot be used together with a filename.");
        return 1;
    }
    if (optind == argc && size < 0) {
        error_report("Either --size N or one filename must be specified.");
        return 1;
    }
    if (!strcmp(out_fmt, "qcow2")) {
        error_report("Measuring qcow2 images is not implemented yet");
        return 1;
    }
    if (strcmp(out_fmt, "raw")) {
        error_report("Block driver '%s' does not support size measurement",
                     out_fmt);
        return 1;
    }
    if (size < 0) {
        BlockBackend *blk = img_open(argv[optind], &o);

        if (!blk) {
            return 1;
        }
        size = blk_getlength(blk);
        blk_unref(blk);
        if (size < 0) {
            error_report("Unable to get image virtual_size: %s",
                         strerror(-size));
            return 1;
        }
    }
    /* A raw image is its virtual size in whole sectors, whatever its data. */
    measure_print(ofmt, QEMU_ALIGN_UP((uint64_t)size, 512),
                  QEMU_ALIGN_UP((uint64_t)size, 512));
    return 0;
}
