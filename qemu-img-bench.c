/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-img bench: -d coroutines of the main AioContext issue -c requests
 * of -s bytes, reads or writes (-w), and the run is timed.
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

/* bench */

typedef struct BenchState {
    BlockBackend *blk;
    uint8_t *buf;
    int64_t image_size;
    int64_t start;              /* -o */
    int64_t size;               /* -s: bytes per request */
    int64_t step;               /* -S */
    int count;                  /* -c */
    int depth;                  /* -d */
    int flush_interval;
    bool drain_on_flush;
    bool write;

    int64_t offset;             /* of the next request */
    int issued;
    int in_flight;
    int running;
    int next_flush;             /* issue count at which to flush next */
    bool flushing;
    CoQueue flush_queue;        /* requests waiting for a flush to end */
    CoQueue drain_queue;        /* the flusher waiting for in_flight == 0 */
    int ret;
} BenchState;

static void coroutine_fn bench_co(void *opaque)
{
    BenchState *b = opaque;
    int slot = b->running++;
    uint8_t *buf = b->buf + slot * b->size;

    while (b->ret == 0 && b->issued < b->count) {
        int64_t offset;
        int ret;

        if (b->flush_interval && b->issued >= b->next_flush &&
            !b->flushing) {
            b->flushing = true;
            if (b->drain_on_flush) {
                while (b->in_flight > 0) {
                    qemu_co_queue_wait(&b->drain_queue, NULL);
                }
            }
            ret = blk_co_flush(b->blk);
            b->flushing = false;
            b->next_flush += b->flush_interval;
            qemu_co_queue_restart_all(&b->flush_queue);
            if (ret < 0) {
                error_report("Failed flush request: %s", strerror(-ret));
                b->ret = ret;
                break;
            }
            continue;
        }
        if (b->flushing && b->drain_on_flush) {
            qemu_co_queue_wait(&b->flush_queue, NULL);
            continue;
        }

        offset = b->offset;
        b->offset += b->step;
        if (b->offset + b->size > b->image_size) {
            b->offset = b->start;
        }
        b->issued++;
        b->in_flight++;
        if (b->write) {
            ret = blk_co_pwrite(b->blk, offset, b->size, buf, 0);
        } else {
            ret = blk_co_pread(b->blk, offset, b->size, buf, 0);
        }
        b->in_flight--;
        if (b->in_flight == 0) {
            qemu_co_queue_restart_all(&b->drain_queue);
        }
        if (ret < 0) {
            error_report("Failed request: %s", strerror(-ret));
            b->ret = ret;
            break;
        }
    }
    qemu_co_queue_restart_all(&b->drain_queue);
    qemu_co_queue_restart_all(&b->flush_queue);
    b->running--;
    aio_wait_kick();
}

static int bench_parse_int(const char *arg, const char *what, int64_t min,
                           int64_t max)
{
    uint64_t v;

    if (qemu_parse_uint64(arg, &v) < 0 || (int64_t)v < min ||
        (int64_t)v > max) {
        error_report("Invalid %s specified", what);
        exit(EXIT_FAILURE);
    }
    return v;
}

int img_bench(int argc, char **argv)
{
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "flush-interval", required_argument, NULL, OPTION_FLUSH_INTERVAL },
        { "image-opts", no_argument, NULL, OPTION_IMAGE_OPTS },
        { "pattern", required_argument, NULL, OPTION_PATTERN },
        { "no-drain", no_argument, NULL, OPTION_NO_DRAIN },
        { "force-share", no_argument, NULL, 'U' },
        { "object", required_argument, NULL, OPTION_OBJECT },
        { NULL, 0, NULL, 0 }
    };
    ImgOpenOptions o = { .cache = "writeback" };
    BenchState b = {
        .count = 75000,
        .depth = 64,
        .size = 4096,
        .step = -1,
        .drain_on_flush = true,
    };
    bool quiet = false, no_drain = false;
    int pattern = 0, c, ret = 1;
    int64_t t;

    while ((c = getopt_long(argc, argv, ":hc:d:f:ni:o:qs:S:t:wU", lopt,
                            NULL)) != -1) {
        switch (c) {
        case 'h':
            help();
            return 0;
        case 'c':
            b.count = bench_parse_int(optarg, "request count", 1, INT_MAX);
            break;
        case 'd':
            b.depth = bench_parse_int(optarg, "queue depth", 1, 65536);
            break;
        case 'f':
            o.fmt = optarg;
            break;
        case 'n':
            o.cache = "none";
            break;
        case 'i':
            if (strcmp(optarg, "threads") && strcmp(optarg, "io_uring")) {
                error_report("Invalid aio option: %s", optarg);
                return 1;
            }
            o.aio = optarg;
            break;
        case 'o': {
            int64_t v = qemuio_cvtnum(optarg);

            if (v < 0) {
                error_report("Invalid offset specified");
                return 1;
            }
            b.start = v;
            break;
        }
        case 'q':
            quiet = true;
            break;
        case 's': {
            int64_t v = qemuio_cvtnum(optarg);

            if (v <= 0 || v > INT_MAX) {
                error_report("Invalid buffer size specified");
                return 1;
            }
            b.size = v;
            break;
        }
        case 'S': {
            int64_t v = qemuio_cvtnum(optarg);

            if (v < 0 || v > INT_MAX) {
                error_report("Invalid step size specified");
                return 1;
            }
            b.step = v;
            break;
        }
        case 't': {
            int flags = 0;
            bool wt;

            if (bdrv_parse_cache_mode(optarg, &flags, &wt) < 0) {
                error_report("Invalid cache mode");
                return 1;
            }
            o.cache = optarg;
            break;
        }
        case 'w':
            b.write = true;
            o.writable = true;
            break;
        case 'U':
            o.force_share = true;
            break;
        case OPTION_PATTERN:
            pattern = bench_parse_int(optarg, "pattern byte", 0, 0xff);
            break;
        case OPTION_FLUSH_INTERVAL:
            b.flush_interval = bench_parse_int(optarg, "flush interval", 0,
                                               INT_MAX);
            break;
        case OPTION_NO_DRAIN:
            no_drain = true;
            break;
        case OPTION_IMAGE_OPTS:
            o.image_opts = true;
            break;
        case OPTION_OBJECT:
            process_object(optarg);
            break;
        default:
            bad_option(c, argv);
        }
    }
    if (optind != argc - 1) {
        error_exit("Expecting one image file name");
    }
    if (b.flush_interval && b.flush_interval < b.depth) {
        error_report("Flush interval can't be smaller than depth");
        return 1;
    }
    if (!b.write && b.flush_interval) {
        error_report("--flush-interval is only available in write tests");
        return 1;
    }
    if (no_drain && !b.flush_interval) {
        error_report("--no-drain requires --flush-interval");
        return 1;
    }
    if (o.image_opts && o.fmt) {
        error_exit("--image-opts and --format are mutually exclusive");
    }
    b.drain_on_flush = !no_drain;
    if (b.step < 0) {
        b.step = b.size;
    }

    b.blk = img_open(argv[optind], &o);
    if (!b.blk) {
        return 1;
    }
    b.image_size = blk_getlength(b.blk);
    if (b.image_size < 0) {
        error_report("Could not get the image size: %s",
                     strerror(-b.image_size));
        goto out;
    }
    if (b.start > b.image_size || b.size > b.image_size - b.start) {
        error_report("Request of %" PRId64 " bytes at offset %" PRId64
                     " does not fit in the image (%" PRId64 " bytes)",
                     b.size, b.start, b.image_size);
        goto out;
    }
    b.offset = b.start;
    b.next_flush = b.flush_interval;

    if (!quiet) {
        printf("Sending %d %s requests, %" PRId64 " bytes each, %d in "
               "parallel (starting at offset %" PRId64 ", step size %"
               PRId64 ")\n", b.count, b.write ? "write" : "read", b.size,
               b.depth, b.start, b.step);
        if (b.flush_interval) {
            printf("Sending flush every %d requests\n", b.flush_interval);
        }
        fflush(stdout);
    }

    b.depth = MIN(b.depth, b.count);
    b.buf = blk_blockalign(b.blk, b.size * b.depth);
    memset(b.buf, pattern, b.size * b.depth);
    qemu_co_queue_init(&b.flush_queue);
    qemu_co_queue_init(&b.drain_queue);

    t = g_get_monotonic_time();
    for (int i = 0; i < b.depth; i++) {
        qemu_coroutine_enter(qemu_coroutine_create(bench_co, &b));
    }
    AIO_WAIT_WHILE(qemu_get_aio_context(), b.running > 0);
    if (b.ret == 0 && b.write && b.flush_interval) {
        b.ret = blk_flush(b.blk);
    }
    t = g_get_monotonic_time() - t;
    if (b.ret < 0) {
        goto out;
    }
    if (!quiet) {
        printf("Run completed in %3.3f seconds.\n", t / 1000000.0);
    }
    ret = 0;

out:
    qemu_vfree(b.buf);
    blk_unref(b.blk);
    return ret;
}
