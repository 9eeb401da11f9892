/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-img convert: copies images chunk by chunk in -m coroutines of the
 * main AioContext; block status decides what is data and what is zeroes,
 * and -S finds zero runs in the data read.
 */
#include "qemu/osdep.h"
#include <getopt.h>
#include "qemu-io.h"
#include "qemu/coroutine.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/keyval.h"
#include "qemu/main-loop.h"
#include "qom/object_interfaces.h"
#include "qapi/error.h"
#include "qemu-img.h"

/* convert */

typedef struct ConvertSource {
    BlockBackend *blk;
    const char *name;
    int64_t start;              /* offset of its first byte in the output */
    int64_t size;
} ConvertSource;

typedef enum ConvertChunkType {
    CONVERT_DATA,
    CONVERT_ZERO,
} ConvertChunkType;

typedef struct ImgConvertState {
    ConvertSource *src;
    int n_src;
    BlockBackend *target;
    int64_t total_size;
    int64_t min_sparse;         /* -S: 0 disables sparse detection */
    int64_t buf_size;
    bool has_zero_init;         /* the target reads as zeroes already */
    bool in_order;              /* not -W */
    int n_coroutines;

    /* Shared by the coroutines (all in the main context) */
    int64_t next_offset;        /* start of the next chunk to take */
    int64_t wr_offset;          /* in order: writes done up to here */
    int64_t done_bytes;
    CoMutex chunk_lock;         /* taking the next chunk, and: */
    /*
     * The last block status answer, [status_start, status_end) of the
     * whole output, so that a long extent costs one query and not one per
     * chunk (over NBD a query can be slow: servers walk their files).
     */
    int64_t status_start;
    int64_t status_end;
    ConvertChunkType status_type;
    CoQueue wr_queue;           /* waiting for wr_offset to reach them */
    int running;
    int ret;
    Progress progress;
} ImgConvertState;

static ConvertSource *convert_source_at(ImgConvertState *s, int64_t offset)
{
    for (int i = 0; i < s->n_src; i++) {
        if (offset < s->src[i].start + s->src[i].size) {
            return &s->src[i];
        }
    }
    return &s->src[s->n_src - 1];
}

/*
 * The next chunk from @offset: its type and length (within one source,
 * at most buf_size).
 */
static int coroutine_fn convert_chunk_status(ImgConvertState *s,
                                             int64_t offset,
                                             ConvertChunkType *type,
                                             int64_t *len)
{
    ConvertSource *src = convert_source_at(s, offset);
    int64_t local = offset - src->start;
    int64_t n = MIN(s->buf_size, src->size - local);
    int64_t pnum;
    int ret;

    *type = CONVERT_DATA;
    *len = n;
    if (!s->min_sparse) {
        return 0;
    }
    if (offset < s->status_start || offset >= s->status_end) {
        /* Ask about the rest of this source (1 GiB at most) at once. */
        ret = blk_co_block_status(src->blk, local,
                                  MIN(src->size - local, 1 << 30), &pnum,
                                  NULL);
        if (ret < 0) {
            error_report("error while reading block status at offset %"
                         PRId64 ": %s", offset, strerror(-ret));
            return ret;
        }
        s->status_start = offset;
        s->status_end = offset + MAX(pnum, 1);
        s->status_type = ret & BDRV_BLOCK_ZERO ? CONVERT_ZERO : CONVERT_DATA;
    }
    *len = MIN(n, s->status_end - offset);
    *type = s->status_type;
    return 0;
}

static int coroutine_fn convert_write_zeroes(ImgConvertState *s,
                                             int64_t offset, int64_t len)
{
    if (s->has_zero_init || len == 0) {
        return 0;
    }
    return blk_co_pwrite_zeroes(s->target, offset, len, BDRV_REQ_MAY_UNMAP);
}

/*
 * Writes @buf to @offset, leaving out (or zeroing) the runs of at least
 * min_sparse zero bytes, aligned to min_sparse in the output.
 */
static int coroutine_fn convert_write_data(ImgConvertState *s,
                                           int64_t offset, int64_t len,
                                           uint8_t *buf)
{
    int64_t pos = 0;

    if (!s->min_sparse) {
        return blk_co_pwrite(s->target, offset, len, buf, 0);
    }
    while (pos < len) {
        int64_t run = pos;
        bool zero;
        int ret;

        /* One block: up to the next min_sparse boundary of the output. */
        int64_t blk_end = MIN(len, QEMU_ALIGN_UP(offset + pos + 1,
                                                 s->min_sparse) - offset);

        zero = blk_end - pos == s->min_sparse &&
               buffer_is_zero(buf + pos, blk_end - pos);
        run = blk_end;
        while (run < len) {
            int64_t next_end = MIN(len, run + s->min_sparse);
            bool next_zero = next_end - run == s->min_sparse &&
                             buffer_is_zero(buf + run, next_end - run);

            if (next_zero != zero) {
                break;
            }
            run = next_end;
        }
        if (zero) {
            ret = convert_write_zeroes(s, offset + pos, run - pos);
        } else {
            ret = blk_co_pwrite(s->target, offset + pos, run - pos,
                                buf + pos, 0);
        }
        if (ret < 0) {
            return ret;
        }
        pos = run;
    }
    return 0;
}

static void coroutine_fn convert_co(void *opaque)
{
    ImgConvertState *s = opaque;
    uint8_t *buf = blk_blockalign(s->target, s->buf_size);

    for (;;) {
        int64_t offset, len;
        ConvertChunkType type;
        int ret;

        /*
         * Taking a chunk may yield (block status over the network): the
         * lock keeps two coroutines from taking the same one.
         */
        qemu_co_mutex_lock(&s->chunk_lock);
        offset = s->next_offset;
        if (s->ret || offset >= s->total_size) {
            qemu_co_mutex_unlock(&s->chunk_lock);
            break;
        }
        ret = convert_chunk_status(s, offset, &type, &len);
        if (ret < 0) {
            s->ret = ret;
            qemu_co_mutex_unlock(&s->chunk_lock);
            break;
        }
        s->next_offset += len;
        qemu_co_mutex_unlock(&s->chunk_lock);

        if (type == CONVERT_DATA) {
            ConvertSource *src = convert_source_at(s, offset);

            ret = blk_co_pread(src->blk, offset - src->start, len, buf, 0);
            if (ret < 0) {
                error_report("error while reading at byte %" PRId64 ": %s",
                             offset, strerror(-ret));
                s->ret = ret;
                break;
            }
        }

        if (s->in_order) {
            while (s->wr_offset != offset && s->ret == 0) {
                qemu_co_queue_wait(&s->wr_queue, NULL);
            }
            if (s->ret) {
                break;
            }
        }
        ret = type == CONVERT_ZERO ? convert_write_zeroes(s, offset, len) :
              convert_write_data(s, offset, len, buf);
        if (ret < 0) {
            error_report("error while writing at byte %" PRId64 ": %s",
                         offset, strerror(-ret));
            s->ret = ret;
            break;
        }
        if (s->in_order) {
            s->wr_offset += len;
            qemu_co_queue_restart_all(&s->wr_queue);
        }
        s->done_bytes += len;
        progress_update(&s->progress, s->done_bytes, s->total_size);
    }

    qemu_vfree(buf);
    /* Let waiters see an error. */
    qemu_co_queue_restart_all(&s->wr_queue);
    s->running--;
    aio_wait_kick();
}

static int convert_do_copy(ImgConvertState *s)
{
    qemu_co_queue_init(&s->wr_queue);
    qemu_co_mutex_init(&s->chunk_lock);
    s->running = s->n_coroutines;
    for (int i = 0; i < s->n_coroutines; i++) {
        qemu_coroutine_enter(qemu_coroutine_create(convert_co, s));
    }
    AIO_WAIT_WHILE(qemu_get_aio_context(), s->running > 0);
    if (s->ret == 0) {
        s->ret = blk_flush(s->target);
        if (s->ret < 0) {
            error_report("error while flushing the target: %s",
                         strerror(-s->ret));
        }
    }
    return s->ret;
}

int img_convert(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "target-image-opts", no_argument, NULL,
          OPTION_TARGET_IMAGE_OPTS },
        { "target-is-zero", no_argument, NULL, OPTION_TARGET_IS_ZERO },
        { "force-share", no_argument, NULL, 'U' },
        { "salvage", no_argument, NULL, OPTION_SALVAGE },
        { NULL, 0, NULL, 0 }
    };
    ImgOpenOptions so = { .cache = "writeback" };
    ImgOpenOptions to = { .cache = "unsafe", .writable = true };
    ImgConvertState s = {
        .min_sparse = 4096,
        .buf_size = IMG_IO_BUF_SIZE,
        .in_order = true,
        .n_coroutines = 8,
    };
    const char *out_fmt = "raw", *prealloc = NULL, *out_name;
    bool no_create = false, show_progress = false, quiet = false;
    bool target_is_zero = false;
    Error *local_err = NULL;
    int c, ret = 1;

    while ((c = getopt_long(argc, argv, ":hf:O:B:Cco:l:S:pt:T:qnm:WUr:F:",
                            lopt, NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'f':
            so.fmt = optarg;
            break;
        case 'O':
            out_fmt = optarg;
            break;
        case 'B':
        case 'F':
            error_report("Backing files are not supported: raw images have "
                         "none");
            return 1;
        case 'C':
            /* Copy offloading: we always copy through buffers. */
            break;
        case 'c':
            error_report("Compression is not supported for the raw format");
            return 1;
        case 'o': {
            g_autoptr(KeyVal) kv = keyval_parse(optarg, NULL, &local_err);

            if (!kv) {
                error_report_err(local_err);
                return 1;
            }
            for (size_t i = 0; i < keyval_count(kv); i++) {
                if (strcmp(keyval_nth_key(kv, i), "preallocation")) {
                    error_report("Invalid parameter '%s'",
                                 keyval_nth_key(kv, i));
                    return 1;
                }
                prealloc = g_strdup(keyval_nth_value(kv, i));
            }
            break;
        }
        case 'l':
            error_report("Snapshots are not supported for the raw format");
            return 1;
        case 'S': {
            int64_t sval = qemuio_cvtnum(optarg);

            if (sval < 0 || !QEMU_IS_ALIGNED(sval, 512) ||
                sval > 16 * 1024 * 1024) {
                error_report("Invalid buffer size for sparse output "
                             "specified. Valid sizes are multiples of 512 "
                             "up to 16777216. Select 0 to disable sparse "
                             "detection (fully allocates output).");
                return 1;
            }
            s.min_sparse = sval;
            break;
        }
        case 'p':
            show_progress = true;
            break;
        case 't':
            to.cache = optarg;
            break;
        case 'T':
            so.cache = optarg;
            break;
        case 'q':
            quiet = true;
            break;
        case 'n':
            no_create = true;
            break;
        case 'm': {
            uint64_t v;

            if (qemu_parse_uint64(optarg, &v) < 0 || v < 1 ||
                v > CONVERT_MAX_COROUTINES) {
                error_report("Invalid number of coroutines. Allowed number "
                             "of coroutines is between 1 and %d",
                             CONVERT_MAX_COROUTINES);
                return 1;
            }
            s.n_coroutines = v;
            break;
        }
        case 'W':
            s.in_order = false;
            break;
        case 'U':
            so.force_share = true;
            break;
        case 'r':
            error_report("Rate limiting (-r) is not supported");
            return 1;
        case OPTION_OBJECT:
            process_object(optarg);
            break;
        case OPTION_IMAGE_OPTS:
            so.image_opts = true;
            break;
        case OPTION_TARGET_IMAGE_OPTS:
            to.image_opts = true;
            break;
        case OPTION_TARGET_IS_ZERO:
            target_is_zero = true;
            break;
        case OPTION_SALVAGE:
            error_report("--salvage is not supported");
            return 1;
        default:
            bad_option(c, argv);
        }
    }
    show_progress &= !quiet;
    if (argc - optind < 2) {
        error_exit("Must specify image file name");
    }
    if (so.image_opts && so.fmt) {
        error_exit("--image-opts and -f are mutually exclusive");
    }
    if (to.image_opts && !no_create) {
        error_report("--target-image-opts requires use of -n flag");
        return 1;
    }
    if (target_is_zero && !no_create) {
        error_report("--target-is-zero requires use of -n flag");
        return 1;
    }
    if (!strcmp(out_fmt, "qcow2")) {
        error_report("Image format 'qcow2' is not supported yet");
        return 1;
    }
    if (strcmp(out_fmt, "raw") && !bdrv_find_driver(out_fmt)) {
        error_report("Unknown file format '%s'", out_fmt);
        return 1;
    }
    if (to.cache) {
        int flags = 0;
        bool wt;

        if (bdrv_parse_cache_mode(to.cache, &flags, &wt) < 0) {
            error_report("Invalid cache option: %s", to.cache);
            return 1;
        }
    }

    s.n_src = argc - optind - 1;
    s.src = g_new0(ConvertSource, s.n_src);
    out_name = argv[argc - 1];
    for (int i = 0; i < s.n_src; i++) {
        s.src[i].name = argv[optind + i];
        s.src[i].blk = img_open(s.src[i].name, &so);
        if (!s.src[i].blk) {
            goto out;
        }
        s.src[i].size = blk_getlength(s.src[i].blk);
        if (s.src[i].size < 0) {
            error_report("Could not get size of '%s': %s", s.src[i].name,
                         strerror(-s.src[i].size));
            goto out;
        }
        s.src[i].start = s.total_size;
        s.total_size += s.src[i].size;
    }

    if (!no_create) {
        if (!bdrv_img_create(out_name, out_fmt, s.total_size, prealloc,
                             true, &local_err)) {
            error_reportf_err(local_err, "%s: error while converting %s: ",
                              out_name, out_fmt);
            goto out;
        }
        /* A new file reads as zeroes, unless it is a block device. */
        s.has_zero_init = !prealloc || strcmp(prealloc, "full");
        if (!strchr(out_name, ':')) {
            struct stat st;

            s.has_zero_init &= stat(out_name, &st) == 0 &&
                               S_ISREG(st.st_mode);
        }
    } else {
        s.has_zero_init = target_is_zero;
    }
    to.fmt = to.image_opts ? NULL : out_fmt;
    /* As QEMU's: zero runs found by -S may be unmapped in the target. */
    to.unmap = s.min_sparse != 0;
    s.target = img_open(out_name, &to);
    if (!s.target) {
        goto out;
    }
    if (no_create) {
        int64_t tsize = blk_getlength(s.target);

        if (tsize >= 0 && tsize < s.total_size) {
            error_report("Target image is smaller than the source: %" PRId64
                         " < %" PRId64 " bytes", tsize, s.total_size);
            goto out;
        }
    }

    progress_init(&s.progress, show_progress);
    if (convert_do_copy(&s) < 0) {
        if (show_progress) {
            printf("\n");
        }
        goto out;
    }
    progress_end(&s.progress);
    ret = 0;

out:
    blk_unref(s.target);
    for (int i = 0; i < s.n_src; i++) {
        blk_unref(s.src[i].blk);
    }
    g_free(s.src);
    return ret;
}
