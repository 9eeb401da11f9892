/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-img: create, inspect, convert, compare and benchmark disk images.
 * The command lines and outputs are those of QEMU's qemu-img for the
 * subcommands we offer; images are opened through the block layer, so
 * anything it opens (files, nbd://host/export, null-co://) works.
 *
 * Theory of operation: the main thread parses the command line and opens
 * the images. convert and bench run their I/O in several coroutines of
 * the main AioContext (convert -m, bench -d) and poll that context until
 * the coroutines are done; the other subcommands use the synchronous
 * BlockBackend wrappers. Each subcommand keeps its state in one struct.
 */
#include "qemu/osdep.h"
#include <getopt.h>
#include "qemu-io.h"
#include "qemu/coroutine.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/keyval.h"
#include "qemu/main-loop.h"
#include "qemu/trace-control.h"
#include "qom/object_interfaces.h"
#include "qapi/error.h"
#include "qemu-img.h"
#include "block/qcow2-img.h"




G_GNUC_NORETURN G_GNUC_PRINTF(1, 2)
void error_exit(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
    error_printf("Try 'qemu-img --help' for more information\n");
    exit(EXIT_FAILURE);
}

static G_GNUC_NORETURN void missing_argument(const char *option)
{
    error_exit("missing argument for option '%s'", option);
}

static G_GNUC_NORETURN void unrecognized_option(const char *option)
{
    error_exit("unrecognized option '%s'", option);
}

/* getopt() reports with these when opterr is 0 (':' first in optstring). */
G_GNUC_NORETURN void bad_option(int c, char **argv)
{
    if (c == ':') {
        missing_argument(argv[optind - 1]);
    }
    unrecognized_option(argv[optind - 1]);
}

void help(void)
{
    printf(
"qemu-img version " QEMU_VERSION "\n"
"An independent implementation of QEMU's disk image utility\n"
"\n"
"usage: qemu-img [standard options] command [command options]\n"
"\n"
"    '-h', '--help'       print this help and exit\n"
"    '-V', '--version'    print the version and exit\n"
"    '-T', '--trace'      [[enable=]<pattern>][,events=<file>][,file=<file>]\n"
"                         specify tracing options\n"
"\n"
"Commands:\n"
"\n"
"  bench [-c count] [-d depth] [-f fmt] [--flush-interval=flush_interval]\n"
"        [-i aio] [-n] [--no-drain] [-o offset] [--pattern=pattern]\n"
"        [-q] [-s buffer_size] [-S step_size] [-t cache] [-w] [-U]\n"
"        filename\n"
"  check [--object objectdef] [--image-opts] [-q] [-f fmt]\n"
"        [--output=ofmt] [-r [leaks | all]] [-T src_cache] [-U] filename\n"
"  compare [--object objectdef] [--image-opts] [-f fmt] [-F fmt]\n"
"        [-T src_cache] [-p] [-q] [-s] [-U] filename1 filename2\n"
"  convert [--object objectdef] [--image-opts] [--target-image-opts]\n"
"        [--target-is-zero] [-U] [-C] [-f fmt] [-t cache] [-T src_cache]\n"
"        [-O output_fmt] [-o options] [-S sparse_size] [-m num_coroutines]\n"
"        [-W] [-n] [-p] [-q] filename [filename2 [...]] output_filename\n"
"  create [--object objectdef] [-q] [-f fmt] [-b backing_file\n"
"        [-F backing_fmt]] [-u] [-o options] filename [size]\n"
"  dd [--image-opts] [-U] [-f fmt] [-O output_fmt] [bs=block_size]\n"
"        [count=blocks] [skip=blocks] if=input of=output\n"
"  info [--object objectdef] [--image-opts] [-f fmt] [--output=ofmt]\n"
"        [--backing-chain] [-U] filename\n"
"  map [--object objectdef] [--image-opts] [-f fmt]\n"
"        [--start-offset=offset] [--max-length=len] [--output=ofmt] [-U]\n"
"        filename\n"
"  measure [--output=ofmt] [-O output_fmt] [-f fmt] [-U]\n"
"        [--size N | [--object objectdef] [--image-opts] filename]\n"
"  resize [--object objectdef] [--image-opts] [-f fmt]\n"
"        [--preallocation=prealloc] [-q] [--shrink] filename [+ | -]size\n"
"\n"
"Image formats: raw, qcow2 (measure: raw only).\n"
"qcow2 create options (-o): cluster_size, compat (0.10 or 1.1),\n"
"backing_file, backing_fmt, preallocation (off, metadata, falloc, full),\n"
"refcount_bits; lazy_refcounts and extended_l2 only off.\n"
"Sizes take k, M, G, T, P or E suffixes (binary units).\n"
"Cache modes: none, writeback, writethrough, directsync, unsafe.\n"
"'--output' is 'human' (default) or 'json'.\n"
"\n"
"Exit status of compare: 0 identical, 1 different, 2 an image could not\n"
"be opened, 3 block status failed, 4 a read failed.\n");
}

OutputFormat parse_output(const char *arg)
{
    if (!strcmp(arg, "json")) {
        return OFORMAT_JSON;
    }
    if (!strcmp(arg, "human")) {
        return OFORMAT_HUMAN;
    }
    error_report("--output must be used with human or json as argument.");
    exit(EXIT_FAILURE);
}

void process_object(const char *arg)
{
    user_creatable_process_cmdline(arg);
}

/* Parses a size for create/bench; exits with QEMU-like messages. */
int64_t parse_size_or_die(const char *arg, const char *what)
{
    int64_t v = qemuio_cvtnum(arg);

    if (v == -ERANGE) {
        error_report("%s must be less than 8 EiB!", what);
        exit(EXIT_FAILURE);
    }
    if (v < 0) {
        /* On the stack: exit() runs no g_autofree, and LSan would count it. */
        char lower[64];

        g_strlcpy(lower, what, sizeof(lower));
        for (char *p = lower; *p; p++) {
            *p = g_ascii_tolower(*p);
        }
        error_report("Invalid %s specified: '%s' (use a byte count with "
                     "an optional k, M, G, T, P or E suffix)", lower, arg);
        exit(EXIT_FAILURE);
    }
    return v;
}

static void json_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (; *s; s++) {
        unsigned char c = *s;

        if (c == '"' || c == '\\') {
            g_string_append_printf(out, "\\%c", c);
        } else if (c < 0x20) {
            g_string_append_printf(out, "\\u%04x", c);
        } else {
            g_string_append_c(out, c);
        }
    }
    g_string_append_c(out, '"');
}

/* Opening images */


BlockBackend *img_open(const char *name, const ImgOpenOptions *o)
{
    int flags = o->writable ? BDRV_O_RDWR : 0;
    bool writethrough = false;
    Error *local_err = NULL;
    BlockBackend *blk;

    if (o->cache && bdrv_parse_cache_mode(o->cache, &flags,
                                          &writethrough) < 0) {
        error_report("Invalid cache option: %s", o->cache);
        return NULL;
    }
    if (o->aio) {
        if (!strcmp(o->aio, "io_uring")) {
            flags |= BDRV_O_IO_URING;
        } else if (strcmp(o->aio, "threads")) {
            error_report("Invalid aio option: %s", o->aio);
            return NULL;
        }
    }
    if (o->force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }
    if (o->unmap) {
        flags |= BDRV_O_UNMAP;
    }

    if (o->image_opts) {
        g_autoptr(KeyVal) kv = keyval_parse(name, NULL, &local_err);
        BlockDriverState *bs;

        if (!kv) {
            error_reportf_err(local_err, "Could not open '%s': ", name);
            return NULL;
        }
        bdrv_options_from_flags(kv, flags,
                                (o->writable ? 0 : BDRV_FILL_READ_ONLY) |
                                (o->cache ? BDRV_FILL_CACHE : 0) |
                                (o->unmap ? BDRV_FILL_DISCARD : 0) |
                                (o->force_share ? BDRV_FILL_FORCE_SHARE : 0));
        bs = bdrv_open_blockdev(kv, &local_err);
        if (!bs) {
            error_reportf_err(local_err, "Could not open '%s': ", name);
            return NULL;
        }
        blk = blk_new_with_bs(bs, o->writable, &local_err);
        bdrv_unref(bs);
    } else {
        blk = blk_new_open(name, o->fmt, NULL, flags, &local_err);
    }
    if (!blk) {
        error_reportf_err(local_err, "Could not open '%s': ", name);
        return NULL;
    }
    blk_set_enable_write_cache(blk, !writethrough);
    return blk;
}

/* The name to print for an image (the file under a format). */
static const char *img_filename(BlockBackend *blk, const char *name,
                                bool image_opts)
{
    BlockDriverState *bs = blk_bs(blk);
    BlockDriverState *file = bdrv_get_file(bs);

    if (!image_opts) {
        return name;
    }
    if (file && *bdrv_get_filename(file)) {
        return bdrv_get_filename(file);
    }
    return *bdrv_get_filename(bs) ? bdrv_get_filename(bs) : name;
}

/* Bytes the image occupies on the host, or -1 when unknown. */
static int64_t img_actual_size(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);
    struct stat st;

    while (bdrv_get_file(bs)) {
        bs = bdrv_get_file(bs);
    }
    if (strcmp(bdrv_get_format_name(bs), "file") ||
        stat(bdrv_get_filename(bs), &st) < 0) {
        return -1;
    }
    return (int64_t)st.st_blocks * 512;
}

/* Progress (-p), as "    (12.34/100%)\r" lines on stdout */


static void progress_print(Progress *p, double pct)
{
    printf("    (%3.2f/100%%)\r", pct);
    fflush(stdout);
    p->last = pct;
}

void progress_init(Progress *p, bool enabled)
{
    p->enabled = enabled;
    if (enabled) {
        progress_print(p, 0);
    }
}

void progress_update(Progress *p, int64_t done, int64_t total)
{
    double pct = total ? 100.0 * done / total : 100.0;

    if (p->enabled && (pct - p->last >= 1.0 || (pct == 100.0 &&
                                                 p->last < 100.0))) {
        progress_print(p, pct);
    }
}

void progress_end(Progress *p)
{
    if (p->enabled) {
        progress_print(p, 100.0);
        printf("\n");
    }
}

/* info */

/* The backing file's name as seen from where qemu-img runs. */
static char *img_full_backing_name(const char *image, const char *backing)
{
    g_autofree char *dir = NULL;

    if (g_path_is_absolute(backing) || strstr(backing, "://") ||
        !strchr(image, '/')) {
        return g_strdup(backing);
    }
    dir = g_path_get_dirname(image);
    return g_build_filename(dir, backing, NULL);
}

/* The snapshot table of "qemu-img info", as qemu-img prints it. */
static void img_info_snapshots(GString *out, const Qcow2ImageInfo *qi)
{
    g_string_append_printf(out, "Snapshot list:\n%-10s%-17s%8s%20s%13s%11s\n",
                           "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK",
                           "ICOUNT");
    for (uint32_t i = 0; i < qi->nb_snapshots; i++) {
        const Qcow2SnapshotInfo *sn = &qi->snapshots[i];
        g_autofree char *vm = size_to_str(sn->vm_state_size);
        g_autofree char *icount = sn->icount == UINT64_MAX ? g_strdup("") :
                                  g_strdup_printf("%" PRIu64, sn->icount);
        uint64_t secs = sn->vm_clock_nsec / 1000000000;
        time_t t = sn->date_sec;
        char date[32], clock[48];
        struct tm tm;

        localtime_r(&t, &tm);
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(clock, sizeof(clock), "%02u:%02u:%02u.%03u",
                 (unsigned)(secs / 3600), (unsigned)(secs / 60 % 60),
                 (unsigned)(secs % 60),
                 (unsigned)(sn->vm_clock_nsec / 1000000 % 1000));
        g_string_append_printf(out, "%-9s %-16s %8s%20s%13s%11s\n", sn->id,
                               sn->name, vm, date, clock, icount);
    }
}

/* The "snapshots" member of "qemu-img info --output=json". */
static void img_info_snapshots_json(GString *out, const Qcow2ImageInfo *qi,
                                    const char *ind)
{
    g_string_append_printf(out, "%s\"snapshots\": [\n", ind);
    for (uint32_t i = 0; i < qi->nb_snapshots; i++) {
        const Qcow2SnapshotInfo *sn = &qi->snapshots[i];

        g_string_append_printf(out, "%s    {\n", ind);
        if (sn->icount != UINT64_MAX) {
            g_string_append_printf(out, "%s        \"icount\": %" PRIu64
                                   ",\n", ind, sn->icount);
        }
        g_string_append_printf(out, "%s        \"vm-clock-nsec\": %" PRIu64
                               ",\n%s        \"name\": ", ind,
                               sn->vm_clock_nsec % 1000000000, ind);
        json_string(out, sn->name);
        g_string_append_printf(out, ",\n%s        \"date-sec\": %" PRIu32
                               ",\n%s        \"date-nsec\": %" PRIu32
                               ",\n%s        \"vm-clock-sec\": %" PRIu64
                               ",\n%s        \"id\": ", ind, sn->date_sec,
                               ind, sn->date_nsec, ind,
                               sn->vm_clock_nsec / 1000000000, ind);
        json_string(out, sn->id);
        g_string_append_printf(out, ",\n%s        \"vm-state-size\": %"
                               PRIu64 "\n%s    }%s\n", ind,
                               sn->vm_state_size, ind,
                               i + 1 < qi->nb_snapshots ? "," : "");
    }
    g_string_append_printf(out, "%s],\n", ind);
}

/* One image of "qemu-img info": human lines, or a JSON object. */
static void img_info_append(GString *out, BlockDriverState *bs,
                            const char *filename, int64_t size,
                            int64_t actual, OutputFormat ofmt, bool chain)
{
    const char *ind = chain ? "        " : "    ";
    const char *obr = chain ? "    {\n" : "{\n";
    const char *cbr = chain ? "    }" : "}";
    Qcow2ImageInfo qi;
    bool qcow2 = qcow2_get_image_info(bs, &qi);
    g_autofree char *full = qcow2 && qi.backing_file ?
                            img_full_backing_name(filename,
                                                  qi.backing_file) : NULL;

    if (ofmt == OFORMAT_JSON) {
        g_string_append(out, obr);
        if (qcow2 && qi.nb_snapshots) {
            img_info_snapshots_json(out, &qi, ind);
        }
        if (qcow2 && qi.backing_file && qi.backing_fmt) {
            g_string_append_printf(out, "%s\"backing-filename-format\": ",
                                   ind);
            json_string(out, qi.backing_fmt);
            g_string_append(out, ",\n");
        }
        g_string_append_printf(out, "%s\"virtual-size\": %" PRId64 ",\n",
                               ind, size);
        g_string_append_printf(out, "%s\"filename\": ", ind);
        json_string(out, filename);
        g_string_append(out, ",\n");
        if (qcow2) {
            g_string_append_printf(out, "%s\"cluster-size\": %" PRIu32
                                   ",\n", ind, qi.cluster_size);
        }
        g_string_append_printf(out, "%s\"format\": ", ind);
        json_string(out, bdrv_get_format_name(bs));
        g_string_append(out, ",\n");
        if (actual >= 0) {
            g_string_append_printf(out, "%s\"actual-size\": %" PRId64 ",\n",
                                   ind, actual);
        }
        if (qcow2) {
            g_string_append_printf(out, "%s\"format-specific\": {\n"
                                   "%s    \"type\": \"qcow2\",\n"
                                   "%s    \"data\": {\n"
                                   "%s        \"compat\": \"%s\",\n"
                                   "%s        \"compression-type\": \"%s\"",
                                   ind, ind, ind, ind,
                                   qi.version >= 3 ? "1.1" : "0.10", ind,
                                   qi.compression_type);
            if (qi.version >= 3) {
                g_string_append_printf(out, ",\n%s        \"lazy-refcounts\": "
                                       "%s", ind,
                                       qi.lazy_refcounts ? "true" : "false");
            }
            g_string_append_printf(out, ",\n%s        \"refcount-bits\": %d",
                                   ind, qi.refcount_bits);
            if (qi.version >= 3) {
                g_string_append_printf(out, ",\n%s        \"corrupt\": %s,\n"
                                       "%s        \"extended-l2\": %s", ind,
                                       qi.corrupt ? "true" : "false", ind,
                                       qi.extended_l2 ? "true" : "false");
            }
            g_string_append_printf(out, "\n%s    }\n%s},\n", ind, ind);
            if (qi.backing_file) {
                g_string_append_printf(out, "%s\"full-backing-filename\": ",
                                       ind);
                json_string(out, full);
                g_string_append_printf(out, ",\n%s\"backing-filename\": ",
                                       ind);
                json_string(out, qi.backing_file);
                g_string_append(out, ",\n");
            }
        }
        g_string_append_printf(out, "%s\"dirty-flag\": %s\n%s", ind,
                               qcow2 && qi.dirty ? "true" : "false", cbr);
    } else {
        g_autofree char *vsize = size_to_str(size);
        g_autofree char *dsize = actual >= 0 ? size_to_str(actual) :
                                 g_strdup("unavailable");

        g_string_append_printf(out, "image: %s\nfile format: %s\n"
                               "virtual size: %s (%" PRId64 " bytes)\n"
                               "disk size: %s\n", filename,
                               bdrv_get_format_name(bs), vsize, size, dsize);
        if (!qcow2) {
            return;
        }
        g_string_append_printf(out, "cluster_size: %" PRIu32 "\n",
                               qi.cluster_size);
        if (qi.backing_file) {
            g_string_append_printf(out, "backing file: %s", qi.backing_file);
            if (strcmp(full, qi.backing_file)) {
                g_string_append_printf(out, " (actual path: %s)", full);
            }
            g_string_append(out, "\n");
            if (qi.backing_fmt) {
                g_string_append_printf(out, "backing file format: %s\n",
                                       qi.backing_fmt);
            }
        }
        if (qi.nb_snapshots) {
            img_info_snapshots(out, &qi);
        }
        g_string_append_printf(out, "Format specific information:\n"
                               "    compat: %s\n"
                               "    compression type: %s\n",
                               qi.version >= 3 ? "1.1" : "0.10",
                               qi.compression_type);
        if (qi.version >= 3) {
            g_string_append_printf(out, "    lazy refcounts: %s\n",
                                   qi.lazy_refcounts ? "true" : "false");
        }
        g_string_append_printf(out, "    refcount bits: %d\n",
                               qi.refcount_bits);
        if (qi.version >= 3) {
            g_string_append_printf(out, "    corrupt: %s\n"
                                   "    extended l2: %s\n",
                                   qi.corrupt ? "true" : "false",
                                   qi.extended_l2 ? "true" : "false");
        }
    }
}

static int img_info(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "backing-chain", no_argument, NULL, OPTION_BACKING_CHAIN },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 }
    };
    ImgOpenOptions o = { 0 };
    OutputFormat ofmt = OFORMAT_HUMAN;
    bool chain = false;
    g_autoptr(GString) out = g_string_new(NULL);
    const char *name, *filename;
    BlockBackend *blk;
    int64_t size, actual;
    int c;

    while ((c = getopt_long(argc, argv, ":f:hU", lopt, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'f':
            o.fmt = optarg;
            break;
        case 'U':
            o.force_share = true;
            break;
        case OPTION_OUTPUT:
            ofmt = parse_output(optarg);
            break;
        case OPTION_BACKING_CHAIN:
            chain = true;
            break;
        case OPTION_OBJECT:
            process_object(optarg);
            break;
        case OPTION_IMAGE_OPTS:
            o.image_opts = true;
            break;
        default:
            bad_option(c, argv);
        }
    }
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    if (o.image_opts && o.fmt) {
        error_exit("--image-opts and --format are mutually exclusive");
    }
    name = argv[optind];
    blk = img_open(name, &o);
    if (!blk) {
        return 1;
    }
    size = blk_getlength(blk);
    if (size < 0) {
        error_report("Could not get the size of '%s': %s", name,
                     strerror(-size));
        blk_unref(blk);
        return 1;
    }
    actual = img_actual_size(blk);
    filename = img_filename(blk, name, o.image_opts);

    if (ofmt == OFORMAT_JSON && chain) {
        g_string_append(out, "[\n");
    }
    for (BlockDriverState *bs = blk_bs(blk); bs;
         bs = chain ? qcow2_get_backing(bs) : NULL) {
        if (bs != blk_bs(blk)) {
            filename = bdrv_get_filename(bs);
            size = bdrv_getlength(bs);
            actual = -1;
            if (bdrv_get_file(bs) && *bdrv_get_filename(bdrv_get_file(bs))) {
                struct stat st;

                if (stat(bdrv_get_filename(bdrv_get_file(bs)), &st) == 0) {
                    actual = (int64_t)st.st_blocks * 512;
                }
            }
            g_string_append(out, ofmt == OFORMAT_JSON ? ",\n" : "\n");
        }
        img_info_append(out, bs, filename, size, actual, ofmt, chain);
    }
    if (ofmt == OFORMAT_JSON && chain) {
        g_string_append(out, "\n]\n");
    } else if (ofmt == OFORMAT_JSON) {
        g_string_append(out, "\n");
    }
    fputs(out->str, stdout);
    blk_unref(blk);
    return 0;
}

/* create */

/* Parses an on/off create option. */
static bool img_create_bool(const char *key, const char *val, bool *out)
{
    if (!strcmp(val, "on") || !strcmp(val, "true")) {
        *out = true;
    } else if (!strcmp(val, "off") || !strcmp(val, "false")) {
        *out = false;
    } else {
        error_report("Parameter '%s' expects 'on' or 'off'", key);
        return false;
    }
    return true;
}

/* One -o key=value of create; false (reported) when it is invalid. */
static bool img_create_option(const char *fmt, const char *key,
                              const char *val, Qcow2CreateOptions *q,
                              GPtrArray *keep)
{
    bool qcow2 = !strcmp(fmt, "qcow2");

    if (!strcmp(key, "size")) {
        q->size = parse_size_or_die(val, "Image size");
    } else if (!strcmp(key, "preallocation")) {
        g_ptr_array_add(keep, g_strdup(val));
        q->preallocation = g_ptr_array_index(keep, keep->len - 1);
    } else if (qcow2 && !strcmp(key, "cluster_size")) {
        int64_t v = parse_size_or_die(val, "Cluster size");

        if (v > UINT32_MAX || v <= 0) {
            error_report("Invalid cluster size: %s", val);
            return false;
        }
        q->cluster_size = v;
    } else if (qcow2 && !strcmp(key, "compat")) {
        if (!strcmp(val, "0.10") || !strcmp(val, "v2")) {
            q->version = 2;
        } else if (!strcmp(val, "1.1") || !strcmp(val, "v3")) {
            q->version = 3;
        } else {
            error_report("Invalid parameter '%s'", val);
            return false;
        }
    } else if (qcow2 && !strcmp(key, "backing_file")) {
        g_ptr_array_add(keep, g_strdup(val));
        q->backing_file = g_ptr_array_index(keep, keep->len - 1);
    } else if (qcow2 && !strcmp(key, "backing_fmt")) {
        g_ptr_array_add(keep, g_strdup(val));
        q->backing_fmt = g_ptr_array_index(keep, keep->len - 1);
    } else if (qcow2 && !strcmp(key, "lazy_refcounts")) {
        return img_create_bool(key, val, &q->lazy_refcounts);
    } else if (qcow2 && !strcmp(key, "extended_l2")) {
        return img_create_bool(key, val, &q->extended_l2);
    } else if (qcow2 && !strcmp(key, "refcount_bits")) {
        int64_t v = qemuio_cvtnum(val);

        if (v <= 0 || v > 64) {
            error_report("Invalid refcount_bits: %s", val);
            return false;
        }
        q->refcount_bits = v;
    } else if (qcow2 && !strcmp(key, "compression_type")) {
        if (strcmp(val, "zlib")) {
            error_report("compression_type=%s is not supported yet "
                         "(images are created with zlib)", val);
            return false;
        }
    } else {
        error_report("Invalid parameter '%s'", key);
        return false;
    }
    return true;
}

static int img_create(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { NULL, 0, NULL, 0 }
    };
    const char *fmt = "raw";
    Qcow2CreateOptions q = { .size = -1 };
    g_autoptr(GPtrArray) optstrs = g_ptr_array_new();
    g_autoptr(GPtrArray) keep = g_ptr_array_new_with_free_func(g_free);
    Error *local_err = NULL;
    bool quiet = false;
    int c;

    while ((c = getopt_long(argc, argv, ":F:b:f:ho:qu", lopt, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'F':
            q.backing_fmt = optarg;
            break;
        case 'b':
            q.backing_file = optarg;
            break;
        case 'f':
            fmt = optarg;
            break;
        case 'o':
            g_ptr_array_add(optstrs, optarg);
            break;
        case 'q':
            quiet = true;
            break;
        case 'u':
            q.unsafe = true;
            break;
        case OPTION_OBJECT:
            process_object(optarg);
            break;
        default:
            bad_option(c, argv);
        }
    }
    for (guint i = 0; i < optstrs->len; i++) {
        g_autoptr(KeyVal) kv = keyval_parse(g_ptr_array_index(optstrs, i),
                                            NULL, &local_err);

        if (!kv) {
            error_report_err(local_err);
            return 1;
        }
        for (size_t j = 0; j < keyval_count(kv); j++) {
            if (!img_create_option(fmt, keyval_nth_key(kv, j),
                                   keyval_nth_value(kv, j), &q, keep)) {
                return 1;
            }
        }
    }
    if (optind >= argc) {
        error_exit("Expecting image file name");
    }
    if (optind + 2 < argc) {
        error_exit("Unexpected argument: %s", argv[optind + 2]);
    }
    if (optind + 1 < argc) {
        q.size = parse_size_or_die(argv[optind + 1], "Image size");
    }
    if (!strcmp(fmt, "qcow2")) {
        if (!qcow2_img_create(argv[optind], &q, quiet, &local_err)) {
            error_reportf_err(local_err, "%s: ", argv[optind]);
            return 1;
        }
        return 0;
    }
    if (q.backing_file || q.backing_fmt) {
        error_report("Backing files are not supported: %s images have "
                     "none", fmt);
        return 1;
    }
    if (q.size < 0) {
        error_report("%s: Image creation needs a size parameter",
                     argv[optind]);
        return 1;
    }
    if (!bdrv_img_create(argv[optind], fmt, q.size, q.preallocation, quiet,
                         &local_err)) {
        error_reportf_err(local_err, "%s: ", argv[optind]);
        return 1;
    }
    return 0;
}

/* check */

static int img_check(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "repair", required_argument, NULL, 'r' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 }
    };
    ImgOpenOptions o = { 0 };
    BlockBackend *blk;
    int c;

    while ((c = getopt_long(argc, argv, ":hf:qr:T:U", lopt, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'f':
            o.fmt = optarg;
            break;
        case 'U':
            o.force_share = true;
            break;
        case 'r':
            if (strcmp(optarg, "leaks") && strcmp(optarg, "all")) {
                error_exit("Unknown option value for -r (expecting 'leaks' "
                           "or 'all'): %s", optarg);
            }
            o.writable = true;
            break;
        case 'T': {
            int flags = 0;
            bool wt;

            if (bdrv_parse_cache_mode(optarg, &flags, &wt) < 0) {
                error_report("Invalid source cache option: %s", optarg);
                return 1;
            }
            o.cache = optarg;
            break;
        }
        case 'q':
            break;
        case OPTION_OUTPUT:
            parse_output(optarg);
            break;
        case OPTION_OBJECT:
            process_object(optarg);
            break;
        case OPTION_IMAGE_OPTS:
            o.image_opts = true;
            break;
        default:
            bad_option(c, argv);
        }
    }
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    if (o.image_opts && o.fmt) {
        error_exit("--image-opts and --format are mutually exclusive");
    }
    blk = img_open(argv[optind], &o);
    if (!blk) {
        return 1;
    }
    blk_unref(blk);
    /*
     * No driver here has a consistency check yet (qcow2's waits), and
     * QEMU answers so for every format without one, even with -q.
     */
    error_report("This image format does not support checks");
    return 63;
}

/* map */

typedef struct MapEntry {
    const char *file;       /* the layer that has the data */
    int64_t start;
    int64_t length;
    int64_t offset;
    int depth;
    bool present;
    bool zero;
    bool data;
    bool has_offset;
} MapEntry;

static bool map_entry_mergeable(const MapEntry *a, const MapEntry *b)
{
    return a->start + a->length == b->start && a->file == b->file &&
           a->present == b->present && a->zero == b->zero &&
           a->data == b->data && a->depth == b->depth &&
           a->has_offset == b->has_offset &&
           (!a->has_offset || a->offset + a->length == b->offset);
}

static void map_entry_print(const MapEntry *e, OutputFormat ofmt,
                            const char *filename, bool last)
{
    filename = e->file ? e->file : filename;
    if (ofmt == OFORMAT_HUMAN) {
        if (e->data && e->has_offset) {
            printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n",
                   e->start, e->length, e->offset, filename);
        }
        return;
    }
    printf("{ \"start\": %" PRId64 ", \"length\": %" PRId64 ", \"depth\": %d"
           ", \"present\": %s, \"zero\": %s, \"data\": %s", e->start,
           e->length, e->depth, e->present ? "true" : "false",
           e->zero ? "true" : "false", e->data ? "true" : "false");
    if (e->has_offset) {
        printf(", \"offset\": %" PRId64, e->offset);
    }
    printf("}%s", last ? "" : ",\n");
}

static int img_map(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "format", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, OPTION_OUTPUT },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { "start-offset", required_argument, NULL, OPTION_START_OFFSET },
        { "max-length", required_argument, NULL, OPTION_MAX_LENGTH },
        { NULL, 0, NULL, 0 }
    };
    ImgOpenOptions o = { 0 };
    OutputFormat ofmt = OFORMAT_HUMAN;
    int64_t start = 0, max_length = -1, end, offset;
    MapEntry curr = { .length = 0 };
    g_autoptr(GPtrArray) layers = NULL;
    const char *filename;
    BlockBackend *blk;
    Qcow2ImageInfo qi;
    bool qcow2;
    int c, ret = 0;

    while ((c = getopt_long(argc, argv, ":f:hU", lopt, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'f':
            o.fmt = optarg;
            break;
        case 'U':
            o.force_share = true;
            break;
        case OPTION_OUTPUT:
            ofmt = parse_output(optarg);
            break;
        case OPTION_OBJECT:
            process_object(optarg);
            break;
        case OPTION_IMAGE_OPTS:
            o.image_opts = true;
            break;
        case OPTION_START_OFFSET:
            start = qemuio_cvtnum(optarg);
            if (start < 0) {
                error_report("Invalid start offset specified! You may use "
                             "k, M, G, T, P or E suffixes for ");
                return 1;
            }
            break;
        case OPTION_MAX_LENGTH:
            max_length = qemuio_cvtnum(optarg);
            if (max_length < 0) {
                error_report("Invalid max length specified! You may use "
                             "k, M, G, T, P or E suffixes for ");
                return 1;
            }
            break;
        default:
            bad_option(c, argv);
        }
    }
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    if (o.image_opts && o.fmt) {
        error_exit("--image-opts and --format are mutually exclusive");
    }
    blk = img_open(argv[optind], &o);
    if (!blk) {
        return 1;
    }
    filename = img_filename(blk, argv[optind], o.image_opts);
    end = blk_getlength(blk);
    if (end < 0) {
        error_report("Failed to get size for '%s'", argv[optind]);
        blk_unref(blk);
        return 1;
    }
    if (max_length >= 0 && max_length < end - start) {
        end = start + max_length;
    }

    /* A qcow2 chain: the status of each layer alone says which has it. */
    layers = g_ptr_array_new();
    for (BlockDriverState *b = blk_bs(blk); b; b = qcow2_get_backing(b)) {
        g_ptr_array_add(layers, b);
    }
    qcow2 = qcow2_get_image_info(blk_bs(blk), &qi);

    if (ofmt == OFORMAT_HUMAN) {
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to",
               "File");
    } else {
        printf("[");
    }
    for (offset = start; offset < end;) {
        MapEntry next = { .start = offset };
        int64_t pnum, map = 0;

        ret = blk_block_status(blk, offset, MIN(end - offset, 1 << 30),
                               &pnum, &map);
        if (ret < 0) {
            error_report("Could not read file metadata: %s", strerror(-ret));
            goto out;
        }
        if (pnum == 0) {
            break;
        }
        next.data = ret & BDRV_BLOCK_DATA;
        next.zero = ret & BDRV_BLOCK_ZERO;
        next.present = ret & BDRV_BLOCK_ALLOCATED;
        next.depth = next.present ? 0 : 1;
        if (qcow2) {
            /* The first layer that has the range itself. */
            next.depth = layers->len - 1;
            for (guint i = 0; next.present && i < layers->len; i++) {
                BlockDriverState *lbs = g_ptr_array_index(layers, i);
                int64_t lnum = 0;
                int r = qcow2_layer_block_status(lbs, offset, pnum, &lnum);

                if (r < 0) {
                    ret = r;
                    error_report("Could not read file metadata: %s",
                                 strerror(-ret));
                    goto out;
                }
                if (lnum > 0) {
                    pnum = MIN(pnum, lnum);
                }
                if (r & BDRV_BLOCK_ALLOCATED) {
                    next.depth = i;
                    next.file = i ? bdrv_get_filename(lbs) : NULL;
                    break;
                }
            }
        }
        next.length = pnum;
        next.has_offset = ret & BDRV_BLOCK_OFFSET_VALID;
        next.offset = next.has_offset ? map : 0;
        offset += pnum;

        if (curr.length && map_entry_mergeable(&curr, &next)) {
            curr.length += next.length;
            continue;
        }
        if (curr.length) {
            map_entry_print(&curr, ofmt, filename, false);
        }
        curr = next;
    }
    ret = 0;
out:
    if (curr.length) {
        map_entry_print(&curr, ofmt, filename, true);
    }
    if (ofmt == OFORMAT_JSON) {
        printf("]\n");
    }
    blk_unref(blk);
    return ret < 0 ? 1 : 0;
}

/* compare */

/* First offset in [0, @len) where @a and @b differ, rounded to 512. */
static int64_t compare_find_mismatch(const uint8_t *a, const uint8_t *b,
                                     int64_t len)
{
    for (int64_t i = 0; i < len; i += 512) {
        int64_t n = MIN(512, len - i);

        if (memcmp(a + i, b + i, n)) {
            return i;
        }
    }
    return -1;
}

/*
 * Checks that [@offset, @end) of @blk reads as zeroes.
 * Returns 0 (all zero), 1 (mismatch printed), or 3/4 on errors.
 */
static int compare_check_zero(BlockBackend *blk, const char *name,
                              int64_t offset, int64_t end, uint8_t *buf,
                              bool quiet)
{
    while (offset < end) {
        int64_t pnum, n;
        int ret = blk_block_status(blk, offset, end - offset, &pnum, NULL);

        if (ret < 0) {
            error_report("Sector allocation test failed for %s", name);
            return 3;
        }
        n = MIN(pnum, IMG_IO_BUF_SIZE);
        if (!(ret & BDRV_BLOCK_ZERO)) {
            ret = blk_pread(blk, offset, n, buf, 0);
            if (ret < 0) {
                error_report("Error while reading offset %" PRId64 " of %s: "
                             "%s", offset, name, strerror(-ret));
                return 4;
            }
            for (int64_t i = 0; i < n; i += 512) {
                if (!buffer_is_zero(buf + i, MIN(512, n - i))) {
                    if (!quiet) {
                        printf("Content mismatch at offset %" PRId64 "!\n",
                               offset + i);
                    }
                    return 1;
                }
            }
        }
        offset += n;
    }
    return 0;
}

static int img_compare(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { NULL, 0, NULL, 0 }
    };
    ImgOpenOptions o1 = { .cache = "writeback" }, o2;
    const char *fmt2 = NULL, *name1, *name2;
    BlockBackend *blk1 = NULL, *blk2 = NULL;
    bool strict = false, show_progress = false;
    uint8_t *buf1 = NULL, *buf2 = NULL;
    int64_t size1, size2, common, offset = 0;
    Progress progress;
    int c, ret;

    while ((c = getopt_long(argc, argv, ":hf:F:T:pqsU", lopt, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'f':
            o1.fmt = optarg;
            break;
        case 'F':
            fmt2 = optarg;
            break;
        case 'T':
            o1.cache = optarg;
            break;
        case 'p':
            show_progress = true;
            break;
        case 'q':
            o1.quiet = true;
            break;
        case 's':
            strict = true;
            break;
        case 'U':
            o1.force_share = true;
            break;
        case OPTION_OBJECT:
            process_object(optarg);
            break;
        case OPTION_IMAGE_OPTS:
            o1.image_opts = true;
            break;
        default:
            bad_option(c, argv);
        }
    }
    /* -q wins over -p */
    show_progress &= !o1.quiet;
    if (optind != argc - 2) {
        error_exit("Expecting two image file names");
    }
    if (o1.image_opts && (o1.fmt || fmt2)) {
        error_exit("--image-opts and -f/-F are mutually exclusive");
    }
    name1 = argv[optind];
    name2 = argv[optind + 1];
    o2 = o1;
    o2.fmt = fmt2;

    blk1 = img_open(name1, &o1);
    if (!blk1) {
        return 2;
    }
    blk2 = img_open(name2, &o2);
    if (!blk2) {
        ret = 2;
        goto out;
    }
    size1 = blk_getlength(blk1);
    size2 = blk_getlength(blk2);
    if (size1 < 0 || size2 < 0) {
        error_report("Can't get size of %s: %s", size1 < 0 ? name1 : name2,
                     strerror(-(size1 < 0 ? size1 : size2)));
        ret = 4;
        goto out;
    }
    buf1 = blk_blockalign(blk1, IMG_IO_BUF_SIZE);
    buf2 = blk_blockalign(blk2, IMG_IO_BUF_SIZE);
    progress_init(&progress, show_progress);

    if (size1 != size2) {
        if (strict) {
            if (!o1.quiet) {
                printf("Strict mode: Image size mismatch!\n");
            }
            ret = 1;
            goto out;
        }
    }
    common = MIN(size1, size2);

    while (offset < common) {
        int64_t pnum1, pnum2, n, mis;
        int st1, st2;

        st1 = blk_block_status(blk1, offset, common - offset, &pnum1, NULL);
        if (st1 < 0) {
            error_report("Sector allocation test failed for %s", name1);
            ret = 3;
            goto out;
        }
        st2 = blk_block_status(blk2, offset, common - offset, &pnum2, NULL);
        if (st2 < 0) {
            error_report("Sector allocation test failed for %s", name2);
            ret = 3;
            goto out;
        }
        n = MIN(MIN(pnum1, pnum2), IMG_IO_BUF_SIZE);
        if (!((st1 & BDRV_BLOCK_ZERO) && (st2 & BDRV_BLOCK_ZERO))) {
            ret = blk_pread(blk1, offset, n, buf1, 0);
            if (ret < 0) {
                error_report("Error while reading offset %" PRId64 " of %s: "
                             "%s", offset, name1, strerror(-ret));
                ret = 4;
                goto out;
            }
            ret = blk_pread(blk2, offset, n, buf2, 0);
            if (ret < 0) {
                error_report("Error while reading offset %" PRId64 " of %s: "
                             "%s", offset, name2, strerror(-ret));
                ret = 4;
                goto out;
            }
            mis = compare_find_mismatch(buf1, buf2, n);
            if (mis >= 0) {
                if (!o1.quiet) {
                    printf("Content mismatch at offset %" PRId64 "!\n",
                           offset + mis);
                }
                ret = 1;
                goto out;
            }
        }
        offset += n;
        progress_update(&progress, offset, MAX(size1, size2));
    }

    if (size1 != size2) {
        if (!o1.quiet) {
            printf("Warning: Image size mismatch!\n");
        }
        ret = size1 > size2 ?
              compare_check_zero(blk1, name1, common, size1, buf1,
                                 o1.quiet) :
              compare_check_zero(blk2, name2, common, size2, buf2,
                                 o1.quiet);
        if (ret) {
            goto out;
        }
    }
    progress_end(&progress);
    show_progress = false;
    if (!o1.quiet) {
        printf("Images are identical.\n");
    }
    ret = 0;

out:
    if (show_progress) {
        printf("\n");
    }
    qemu_vfree(buf1);
    qemu_vfree(buf2);
    blk_unref(blk2);
    blk_unref(blk1);
    return ret;
}

/* main */

typedef struct ImgCmd {
    const char *name;
    int (*handler)(int argc, char **argv);
} ImgCmd;

static const ImgCmd img_cmds[] = {
    { "bench", img_bench },
    { "check", img_check },
    { "compare", img_compare },
    { "convert", img_convert },
    { "create", img_create },
    { "dd", img_dd },
    { "info", img_info },
    { "map", img_map },
    { "measure", img_measure },
    { "resize", img_resize },
};

int main(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "trace", required_argument, NULL, 'T' },
        { NULL, 0, NULL, 0 }
    };
    Error *local_err = NULL;
    const char *cmdname;
    int c, ret;

    error_set_progname(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        error_exit("Not enough arguments");
    }

    /* Options before the command name; stop at the command. */
    while ((c = getopt_long(argc, argv, "+:hVT:", lopt, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'V':
            printf("qemu-img version " QEMU_VERSION "\n"
                   "An independent implementation of QEMU's qemu-img.\n");
            return 0;
        case 'T': {
            Error *err = NULL;

            if (!trace_opt_parse(optarg, &err)) {
                error_report_err(err);
                exit(EXIT_FAILURE);
            }
            break;
        }
        default:
            bad_option(c, argv);
        }
    }
    if (optind >= argc) {
        error_exit("Not enough arguments");
    }
    cmdname = argv[optind];

    if (qemu_init_main_loop(&local_err) < 0) {
        error_report_err(local_err);
        return 1;
    }

    /* The command's getopt() starts at its name, as argv[0]. */
    argc -= optind;
    argv += optind;
    optind = 0;
    for (size_t i = 0; i < ARRAY_SIZE(img_cmds); i++) {
        if (!strcmp(cmdname, img_cmds[i].name)) {
            ret = img_cmds[i].handler(argc, argv);
            user_creatable_cleanup();
            return ret;
        }
    }
    error_exit("Command not found: %s", cmdname);
}
