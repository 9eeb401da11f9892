/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-io's commands: read, write, their vectored and asynchronous
 * forms, discard, flush, map and the image management commands.
 *
 * Theory of operation: everything runs in the main thread. Synchronous
 * commands use the BlockBackend's synchronous wrappers, which poll the
 * main AioContext until the request is done; aio_read and aio_write start
 * a coroutine in the main context and return, and the request finishes
 * (and prints its report) whenever the main context is polled next: by a
 * later command, by aio_flush, or when the session is closed. The output
 * formats are those of QEMU's qemu-io.
 */
#include "qemu/osdep.h"
#include <getopt.h>
#include <sys/time.h>
#include "qemu-io.h"
#include "qemu/coroutine.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/keyval.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"

/* The command needs an open image / a writable one. */
#define CMD_NEEDS_FILE      0x1
#define CMD_NEEDS_WRITE     0x2

#define QEMUIO_DEFAULT_PATTERN  0xcd

struct QemuIOSession {
    BlockBackend *blk;
    unsigned int aio_in_flight;
    bool quit;
    bool misalign;              /* --misalign: buffers off alignment */
};

/* How far --misalign moves every buffer off the block layer's alignment. */
#define QEMUIO_MISALIGN_OFFSET 16

void qemuio_set_misalign(QemuIOSession *s, bool misalign)
{
    s->misalign = misalign;
}

/* A request buffer of @len bytes, misaligned on purpose with --misalign. */
static void *io_alloc(QemuIOSession *s, int64_t len)
{
    uint8_t *buf;

    if (!s->misalign) {
        return blk_blockalign(s->blk, MAX(len, 1));
    }
    buf = blk_blockalign(s->blk, len + QEMUIO_MISALIGN_OFFSET);
    return buf + QEMUIO_MISALIGN_OFFSET;
}

static void io_free(QemuIOSession *s, void *buf)
{
    if (buf && s->misalign) {
        buf = (uint8_t *)buf - QEMUIO_MISALIGN_OFFSET;
    }
    qemu_vfree(buf);
}

typedef struct QemuIOCmd {
    const char *name;
    const char *altname;
    int (*func)(QemuIOSession *s, int argc, char **argv);
    int argmin;
    int argmax;                 /* -1: no limit */
    int flags;
    const char *args;
    const char *oneline;
    const char *help;
} QemuIOCmd;

static const QemuIOCmd *find_command(const char *name);

/* Reports */

static int64_t now_us(void)
{
    return g_get_monotonic_time();
}

static void print_report(const char *op, int64_t us, int64_t offset,
                         int64_t count, int64_t total, int cnt, bool machine)
{
    double secs = MAX(us, 1) / 1000000.0;
    g_autofree char *ts = qemuio_timestr(us, machine);

    if (machine) {
        printf("%" PRId64 ",%d,%s,%.3f,%.3f\n", total, cnt, ts,
               total / secs, cnt / secs);
    } else {
        g_autofree char *s1 = qemuio_cvtstr(total);
        g_autofree char *s2 = qemuio_cvtstr(total / secs);

        printf("%s %" PRId64 "/%" PRId64 " bytes at offset %" PRId64 "\n",
               op, total, count, offset);
        printf("%s, %d ops; %s (%s/sec and %.4f ops/sec)\n",
               s1, cnt, ts, s2, cnt / secs);
    }
}

static void dump_buffer(const void *buf, int64_t offset, int64_t len)
{
    g_autofree char *text = qemuio_format_dump(buf, offset, len);

    fputs(text, stdout);
}

static void dump_qiov(QEMUIOVector *qiov, int64_t offset)
{
    for (int i = 0; i < qiov->niov; i++) {
        dump_buffer(qiov->iov[i].iov_base, offset, qiov->iov[i].iov_len);
        offset += qiov->iov[i].iov_len;
    }
}

static int command_usage(const QemuIOCmd *ct)
{
    printf("%s %s -- %s\n", ct->name, ct->args, ct->oneline);
    return -EINVAL;
}

/*
 * getopt() for a command: restarts the scan, and stops at the first
 * non-option so that offsets are never permuted.
 */
static int cmd_getopt(int argc, char **argv, const char *optstr)
{
    g_autofree char *plus = g_strconcat("+", optstr, NULL);

    return getopt(argc, argv, plus);
}

static void cmd_getopt_reset(void)
{
    optind = 0;
    opterr = 1;
}

/* Parses an offset or length argument; prints the error itself. */
static bool parse_num(const char *arg, int64_t *v)
{
    *v = qemuio_cvtnum(arg);
    if (*v < 0) {
        qemuio_print_cvtnum_err(*v, arg);
        return false;
    }
    return true;
}

static bool check_length(const char *arg, int64_t count)
{
    if (count > QEMUIO_MAX_REQUEST_BYTES) {
        printf("length cannot exceed %" PRId64 ", given %s\n",
               QEMUIO_MAX_REQUEST_BYTES, arg);
        return false;
    }
    return true;
}

/*
 * Builds a QEMUIOVector of one buffer per length argument, filled with
 * @pattern (or zeroed when @pattern < 0).
 */
static bool create_iovec(QemuIOSession *s, QEMUIOVector *qiov, char **argv,
                         int nr, int pattern)
{
    int64_t total = 0;

    qemu_iovec_init(qiov, nr);
    for (int i = 0; i < nr; i++) {
        int64_t len;
        void *buf;

        if (!parse_num(argv[i], &len)) {
            goto fail;
        }
        if (len > QEMUIO_MAX_REQUEST_BYTES - total) {
            printf("Argument '%s' exceeds maximum size %" PRId64 "\n",
                   argv[i], QEMUIO_MAX_REQUEST_BYTES);
            goto fail;
        }
        total += len;
        buf = io_alloc(s, len);
        memset(buf, pattern < 0 ? 0 : pattern, len);
        qemu_iovec_add(qiov, buf, len);
    }
    return true;

fail:
    for (int i = 0; i < qiov->niov; i++) {
        io_free(s, qiov->iov[i].iov_base);
    }
    qemu_iovec_destroy(qiov);
    return false;
}

static void free_iovec(QemuIOSession *s, QEMUIOVector *qiov)
{
    for (int i = 0; i < qiov->niov; i++) {
        io_free(s, qiov->iov[i].iov_base);
    }
    qemu_iovec_destroy(qiov);
}

/* Returns true if all of @qiov is @pattern; prints the failure if not. */
static bool check_qiov_pattern(QEMUIOVector *qiov, int pattern,
                               int64_t offset)
{
    for (int i = 0; i < qiov->niov; i++) {
        if (qemuio_find_mismatch(qiov->iov[i].iov_base, pattern,
                                 qiov->iov[i].iov_len) >= 0) {
            printf("Pattern verification failed at offset %" PRId64
                   ", %zu bytes\n", offset, qiov->size);
            return false;
        }
    }
    return true;
}

/* read */

static int read_f(QemuIOSession *s, int argc, char **argv)
{
    const QemuIOCmd *ct = find_command("read");
    bool Cflag = false, qflag = false, vflag = false;
    bool Pflag = false, sflag = false, lflag = false;
    int pattern = 0;
    int64_t offset, count, poff = 0, plen = 0, t;
    void *buf;
    int c, ret;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "bCl:pP:qs:v")) != -1) {
        switch (c) {
        case 'b':
            printf("vmstate is not supported by this qemu-io\n");
            return -ENOTSUP;
        case 'C':
            Cflag = true;
            break;
        case 'l':
            lflag = true;
            if (!parse_num(optarg, &plen)) {
                return -EINVAL;
            }
            break;
        case 'p':
            break;
        case 'P':
            Pflag = true;
            pattern = qemuio_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        case 's':
            sflag = true;
            if (!parse_num(optarg, &poff)) {
                return -EINVAL;
            }
            break;
        case 'v':
            vflag = true;
            break;
        default:
            return command_usage(ct);
        }
    }
    if (optind != argc - 2 || ((sflag || lflag) && !Pflag)) {
        return command_usage(ct);
    }
    if (!parse_num(argv[optind], &offset) ||
        !parse_num(argv[optind + 1], &count)) {
        return -EINVAL;
    }
    if (!check_length(argv[optind + 1], count)) {
        return -EINVAL;
    }
    if (!lflag) {
        plen = count - poff;
    }
    if (Pflag && (poff > count || plen > count - poff)) {
        printf("pattern verification range exceeds end of read data\n");
        return -EINVAL;
    }

    buf = io_alloc(s, count);
    t = now_us();
    ret = blk_pread(s->blk, offset, count, buf, 0);
    t = now_us() - t;
    if (ret < 0) {
        printf("read failed: %s\n", strerror(-ret));
        goto out;
    }
    if (Pflag && qemuio_find_mismatch((uint8_t *)buf + poff, pattern,
                                      plen) >= 0) {
        printf("Pattern verification failed at offset %" PRId64 ", %"
               PRId64 " bytes\n", offset + poff, plen);
        ret = -EINVAL;
    }
    if (qflag) {
        goto out;
    }
    if (vflag) {
        dump_buffer(buf, offset, count);
    }
    print_report("read", t, offset, count, count, 1, Cflag);
out:
    io_free(s, buf);
    return ret;
}

static int readv_f(QemuIOSession *s, int argc, char **argv)
{
    const QemuIOCmd *ct = find_command("readv");
    bool Cflag = false, qflag = false, vflag = false, Pflag = false;
    int pattern = 0, c, ret;
    int64_t offset, t;
    QEMUIOVector qiov;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "CP:qv")) != -1) {
        switch (c) {
        case 'C':
            Cflag = true;
            break;
        case 'P':
            Pflag = true;
            pattern = qemuio_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        case 'v':
            vflag = true;
            break;
        default:
            return command_usage(ct);
        }
    }
    if (optind > argc - 2) {
        return command_usage(ct);
    }
    if (!parse_num(argv[optind], &offset)) {
        return -EINVAL;
    }
    optind++;
    if (!create_iovec(s, &qiov, &argv[optind], argc - optind, 0xab)) {
        return -EINVAL;
    }

    t = now_us();
    ret = blk_preadv(s->blk, offset, qiov.size, &qiov, 0);
    t = now_us() - t;
    if (ret < 0) {
        printf("readv failed: %s\n", strerror(-ret));
        goto out;
    }
    if (Pflag && !check_qiov_pattern(&qiov, pattern, offset)) {
        ret = -EINVAL;
    }
    if (qflag) {
        goto out;
    }
    if (vflag) {
        dump_qiov(&qiov, offset);
    }
    print_report("read", t, offset, qiov.size, qiov.size, 1, Cflag);
out:
    free_iovec(s, &qiov);
    return ret;
}

/* write */

/* Reads @path into a buffer of @count bytes, repeating it as needed. */
static void *pattern_file_buffer(QemuIOSession *s, const char *path,
                                 int64_t count)
{
    g_autofree char *contents = NULL;
    g_autoptr(GError) gerr = NULL;
    gsize len;
    uint8_t *buf;

    if (!g_file_get_contents(path, &contents, &len, &gerr)) {
        printf("%s\n", gerr->message);
        return NULL;
    }
    if (len == 0) {
        printf("Pattern file '%s' is empty\n", path);
        return NULL;
    }
    buf = io_alloc(s, count);
    for (int64_t i = 0; i < count; i += len) {
        memcpy(buf + i, contents, MIN((int64_t)len, count - i));
    }
    return buf;
}

static int write_f(QemuIOSession *s, int argc, char **argv)
{
    const QemuIOCmd *ct = find_command("write");
    bool Cflag = false, qflag = false, zflag = false, Pflag = false;
    bool nflag = false;
    int flags = 0, pattern = QEMUIO_DEFAULT_PATTERN, c, ret;
    const char *file = NULL;
    int64_t offset, count, t;
    void *buf = NULL;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "bcCfnpP:qs:uz")) != -1) {
        switch (c) {
        case 'b':
            printf("vmstate is not supported by this qemu-io\n");
            return -ENOTSUP;
        case 'c':
            printf("compressed writes are not supported by this qemu-io\n");
            return -ENOTSUP;
        case 'C':
            Cflag = true;
            break;
        case 'f':
            flags |= BDRV_REQ_FUA;
            break;
        case 'n':
            nflag = true;
            flags |= BDRV_REQ_NO_FALLBACK;
            break;
        case 'p':
            break;
        case 'P':
            Pflag = true;
            pattern = qemuio_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        case 's':
            file = optarg;
            break;
        case 'u':
            flags |= BDRV_REQ_MAY_UNMAP;
            break;
        case 'z':
            zflag = true;
            break;
        default:
            return command_usage(ct);
        }
    }
    if (optind != argc - 2) {
        return command_usage(ct);
    }
    if ((zflag + Pflag + !!file) > 1) {
        printf("Only one of -z, -P, and -s can be specified at the same "
               "time\n");
        return -EINVAL;
    }
    if ((flags & BDRV_REQ_MAY_UNMAP) && !zflag) {
        printf("-u requires -z to be specified\n");
        return -EINVAL;
    }
    if (nflag && !zflag) {
        printf("-n requires -z to be specified\n");
        return -EINVAL;
    }
    if (!parse_num(argv[optind], &offset) ||
        !parse_num(argv[optind + 1], &count)) {
        return -EINVAL;
    }
    if (!zflag && !check_length(argv[optind + 1], count)) {
        return -EINVAL;
    }

    if (file) {
        buf = pattern_file_buffer(s, file, count);
        if (!buf) {
            return -EINVAL;
        }
    } else if (!zflag) {
        buf = io_alloc(s, count);
        memset(buf, pattern, count);
    }

    t = now_us();
    if (zflag) {
        ret = blk_pwrite_zeroes(s->blk, offset, count, flags);
    } else {
        ret = blk_pwrite(s->blk, offset, count, buf, flags);
    }
    t = now_us() - t;
    if (ret < 0) {
        printf("write failed: %s\n", strerror(-ret));
        goto out;
    }
    if (!qflag) {
        print_report("wrote", t, offset, count, count, 1, Cflag);
    }
out:
    io_free(s, buf);
    return ret;
}

static int writev_f(QemuIOSession *s, int argc, char **argv)
{
    const QemuIOCmd *ct = find_command("writev");
    bool Cflag = false, qflag = false;
    int flags = 0, pattern = QEMUIO_DEFAULT_PATTERN, c, ret;
    int64_t offset, t;
    QEMUIOVector qiov;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "CfP:q")) != -1) {
        switch (c) {
        case 'C':
            Cflag = true;
            break;
        case 'f':
            flags |= BDRV_REQ_FUA;
            break;
        case 'P':
            pattern = qemuio_parse_pattern(optarg);
            if (pattern < 0) {
                return -EINVAL;
            }
            break;
        case 'q':
            qflag = true;
            break;
        default:
            return command_usage(ct);
        }
    }
    if (optind > argc - 2) {
        return command_usage(ct);
    }
    if (!parse_num(argv[optind], &offset)) {
        return -EINVAL;
    }
    optind++;
    if (!create_iovec(s, &qiov, &argv[optind], argc - optind,
                      pattern)) {
        return -EINVAL;
    }

    t = now_us();
    ret = blk_pwritev(s->blk, offset, qiov.size, &qiov, flags);
    t = now_us() - t;
    if (ret < 0) {
        printf("writev failed: %s\n", strerror(-ret));
    } else if (!qflag) {
        print_report("wrote", t, offset, qiov.size, qiov.size, 1, Cflag);
    }
    free_iovec(s, &qiov);
    return ret;
}

/* aio_read / aio_write: one coroutine per request */

typedef struct AioRequest {
    QemuIOSession *s;
    BlockBackend *blk;
    QEMUIOVector qiov;
    int64_t offset;
    int64_t bytes;              /* for zero writes (no qiov) */
    int64_t t1;
    int flags;
    int pattern;                /* to check after a read, or -1 */
    bool write;
    bool zero;
    bool Cflag;
    bool qflag;
    bool vflag;
} AioRequest;

static void coroutine_fn aio_request_co(void *opaque)
{
    AioRequest *req = opaque;
    int64_t t;
    int ret;

    if (req->zero) {
        ret = blk_co_pwrite_zeroes(req->blk, req->offset, req->bytes,
                                   req->flags);
    } else if (req->write) {
        ret = blk_co_pwritev(req->blk, req->offset, req->qiov.size,
                             &req->qiov, req->flags);
    } else {
        ret = blk_co_preadv(req->blk, req->offset, req->qiov.size,
                            &req->qiov, 0);
    }
    t = now_us() - req->t1;

    if (ret < 0) {
        printf("%s failed: %s\n", req->write ? "aio_write" : "readv",
               strerror(-ret));
    } else if (req->write) {
        if (!req->qflag) {
            print_report("wrote", t, req->offset, req->bytes, req->bytes, 1,
                         req->Cflag);
        }
    } else {
        if (req->pattern >= 0) {
            check_qiov_pattern(&req->qiov, req->pattern, req->offset);
        }
        if (!req->qflag) {
            if (req->vflag) {
                dump_qiov(&req->qiov, req->offset);
            }
            print_report("read", t, req->offset, req->bytes, req->bytes, 1,
                         req->Cflag);
        }
    }
    fflush(stdout);

    if (!req->zero) {
        free_iovec(req->s, &req->qiov);
    }
    req->s->aio_in_flight--;
    blk_dec_in_flight(req->blk);
    blk_unref(req->blk);
    aio_wait_kick();
    g_free(req);
}

static void aio_request_start(QemuIOSession *s, AioRequest *req)
{
    req->s = s;
    req->blk = s->blk;
    blk_ref(req->blk);
    blk_inc_in_flight(req->blk);
    s->aio_in_flight++;
    req->t1 = now_us();
    qemu_coroutine_enter(qemu_coroutine_create(aio_request_co, req));
}

static int aio_read_f(QemuIOSession *s, int argc, char **argv)
{
    const QemuIOCmd *ct = find_command("aio_read");
    AioRequest *req = g_new0(AioRequest, 1);
    bool iflag = false;
    int c;

    req->pattern = -1;
    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "CiP:qv")) != -1) {
        switch (c) {
        case 'C':
            req->Cflag = true;
            break;
        case 'i':
            iflag = true;
            break;
        case 'P':
            req->pattern = qemuio_parse_pattern(optarg);
            if (req->pattern < 0) {
                g_free(req);
                return -EINVAL;
            }
            break;
        case 'q':
            req->qflag = true;
            break;
        case 'v':
            req->vflag = true;
            break;
        default:
            g_free(req);
            return command_usage(ct);
        }
    }
    if (optind > argc - 2) {
        g_free(req);
        return command_usage(ct);
    }
    if (!parse_num(argv[optind], &req->offset)) {
        g_free(req);
        return -EINVAL;
    }
    if (iflag) {
        /* An invalid request only counts in statistics we do not keep. */
        g_free(req);
        return 0;
    }
    optind++;
    if (!create_iovec(s, &req->qiov, &argv[optind], argc - optind,
                      0xab)) {
        g_free(req);
        return -EINVAL;
    }
    req->bytes = req->qiov.size;
    aio_request_start(s, req);
    return 0;
}

static int aio_write_f(QemuIOSession *s, int argc, char **argv)
{
    const QemuIOCmd *ct = find_command("aio_write");
    AioRequest *req = g_new0(AioRequest, 1);
    int pattern = QEMUIO_DEFAULT_PATTERN;
    bool Pflag = false, iflag = false;
    int c;

    req->write = true;
    req->pattern = -1;
    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "CfiP:quz")) != -1) {
        switch (c) {
        case 'C':
            req->Cflag = true;
            break;
        case 'f':
            req->flags |= BDRV_REQ_FUA;
            break;
        case 'i':
            iflag = true;
            break;
        case 'P':
            Pflag = true;
            pattern = qemuio_parse_pattern(optarg);
            if (pattern < 0) {
                g_free(req);
                return -EINVAL;
            }
            break;
        case 'q':
            req->qflag = true;
            break;
        case 'u':
            req->flags |= BDRV_REQ_MAY_UNMAP;
            break;
        case 'z':
            req->zero = true;
            break;
        default:
            g_free(req);
            return command_usage(ct);
        }
    }
    if (optind > argc - 2) {
        g_free(req);
        return command_usage(ct);
    }
    if (req->zero && Pflag) {
        printf("-z and -P cannot be specified at the same time\n");
        g_free(req);
        return -EINVAL;
    }
    if ((req->flags & BDRV_REQ_MAY_UNMAP) && !req->zero) {
        printf("-u requires -z to be specified\n");
        g_free(req);
        return -EINVAL;
    }
    if (!parse_num(argv[optind], &req->offset)) {
        g_free(req);
        return -EINVAL;
    }
    if (iflag) {
        g_free(req);
        return 0;
    }
    optind++;
    if (req->zero) {
        if (optind != argc - 1) {
            printf("-z supports only a single length parameter\n");
            g_free(req);
            return -EINVAL;
        }
        if (!parse_num(argv[optind], &req->bytes)) {
            g_free(req);
            return -EINVAL;
        }
    } else {
        if (!create_iovec(s, &req->qiov, &argv[optind], argc - optind,
                          pattern)) {
            g_free(req);
            return -EINVAL;
        }
        req->bytes = req->qiov.size;
    }
    aio_request_start(s, req);
    return 0;
}

static void aio_wait_all(QemuIOSession *s)
{
    AIO_WAIT_WHILE(qemu_get_aio_context(), s->aio_in_flight > 0);
}

static int aio_flush_f(QemuIOSession *s, int argc, char **argv)
{
    aio_wait_all(s);
    blk_drain(s->blk);
    return 0;
}

/* discard, flush, truncate */

static int discard_f(QemuIOSession *s, int argc, char **argv)
{
    const QemuIOCmd *ct = find_command("discard");
    bool Cflag = false, qflag = false;
    int64_t offset, count, t;
    int c, ret;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "Cq")) != -1) {
        switch (c) {
        case 'C':
            Cflag = true;
            break;
        case 'q':
            qflag = true;
            break;
        default:
            return command_usage(ct);
        }
    }
    if (optind != argc - 2) {
        return command_usage(ct);
    }
    if (!parse_num(argv[optind], &offset) ||
        !parse_num(argv[optind + 1], &count)) {
        return -EINVAL;
    }
    if (!check_length(argv[optind + 1], count)) {
        return -EINVAL;
    }

    t = now_us();
    ret = blk_pdiscard(s->blk, offset, count);
    t = now_us() - t;
    if (ret < 0) {
        printf("discard failed: %s\n", strerror(-ret));
        return ret;
    }
    if (!qflag) {
        print_report("discard", t, offset, count, count, 1, Cflag);
    }
    return 0;
}

static int flush_f(QemuIOSession *s, int argc, char **argv)
{
    int ret = blk_flush(s->blk);

    if (ret < 0) {
        printf("flush failed: %s\n", strerror(-ret));
    }
    return ret;
}

static int truncate_f(QemuIOSession *s, int argc, char **argv)
{
    const QemuIOCmd *ct = find_command("truncate");
    PreallocMode prealloc = PREALLOC_MODE_OFF;
    Error *local_err = NULL;
    int64_t offset;
    int c, ret;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "m:")) != -1) {
        switch (c) {
        case 'm':
            if (!strcmp(optarg, "off")) {
                prealloc = PREALLOC_MODE_OFF;
            } else if (!strcmp(optarg, "falloc")) {
                prealloc = PREALLOC_MODE_FALLOC;
            } else {
                printf("Invalid preallocation mode '%s'\n", optarg);
                return -EINVAL;
            }
            break;
        default:
            return command_usage(ct);
        }
    }
    if (optind != argc - 1) {
        return command_usage(ct);
    }
    if (!parse_num(argv[optind], &offset)) {
        return -EINVAL;
    }
    ret = blk_truncate(s->blk, offset, false, prealloc, 0, &local_err);
    if (ret < 0) {
        error_report_err(local_err);
    }
    return ret;
}

/* length, info, map, alloc */

static int length_f(QemuIOSession *s, int argc, char **argv)
{
    int64_t size = blk_getlength(s->blk);
    g_autofree char *str = NULL;

    if (size < 0) {
        printf("getlength: %s\n", strerror(-size));
        return size;
    }
    str = qemuio_cvtstr(size);
    printf("%s\n", str);
    return 0;
}

static int info_f(QemuIOSession *s, int argc, char **argv)
{
    BlockDriverState *bs = blk_bs(s->blk);

    printf("format name: %s\n", bdrv_get_format_name(bs));
    printf("cluster size: 0 bytes\n");
    printf("vm state offset: 0 bytes\n");
    return 0;
}

/*
 * Length of the run from @offset (at most @bytes) that is allocated, or
 * not, as its first byte is.
 */
static int map_run(BlockBackend *blk, int64_t offset, int64_t bytes,
                   bool *allocated, int64_t *pnum)
{
    int64_t done = 0;

    while (done < bytes) {
        int64_t n;
        int ret = blk_block_status(blk, offset + done, bytes - done, &n,
                                   NULL);

        if (ret < 0) {
            return ret;
        }
        if (n == 0) {
            break;
        }
        if (done == 0) {
            *allocated = ret & BDRV_BLOCK_ALLOCATED;
        } else if (*allocated != !!(ret & BDRV_BLOCK_ALLOCATED)) {
            break;
        }
        done += n;
    }
    *pnum = done;
    return 0;
}

static int alloc_f(QemuIOSession *s, int argc, char **argv)
{
    int64_t offset, count = 512, remaining, sum = 0;
    g_autofree char *s1 = NULL;
    int ret;

    if (!parse_num(argv[1], &offset)) {
        return -EINVAL;
    }
    if (argc == 3 && !parse_num(argv[2], &count)) {
        return -EINVAL;
    }
    remaining = count;
    while (remaining > 0) {
        bool allocated;
        int64_t n;

        ret = map_run(s->blk, offset + count - remaining, remaining,
                      &allocated, &n);
        if (ret < 0) {
            printf("is_allocated failed: %s\n", strerror(-ret));
            return ret;
        }
        if (n == 0) {
            break;
        }
        if (allocated) {
            sum += n;
        }
        remaining -= n;
    }
    s1 = qemuio_cvtstr(offset);
    printf("%" PRId64 "/%" PRId64 " bytes allocated at offset %s\n",
           sum, count, s1);
    return 0;
}

static int map_f(QemuIOSession *s, int argc, char **argv)
{
    int64_t length = blk_getlength(s->blk), offset = 0;

    if (length < 0) {
        error_report("Failed to query image length: %s", strerror(-length));
        return length;
    }
    while (offset < length) {
        g_autofree char *s1 = NULL;
        g_autofree char *s2 = NULL;
        bool allocated;
        int64_t n;
        int ret;

        ret = map_run(s->blk, offset, length - offset, &allocated, &n);
        if (ret < 0) {
            error_report("Failed to get allocation status: %s",
                         strerror(-ret));
            return ret;
        }
        if (n == 0) {
            break;
        }
        s1 = qemuio_cvtstr(n);
        s2 = qemuio_cvtstr(offset);
        printf("%s (0x%" PRIx64 ") bytes %s allocated at offset %s (0x%"
               PRIx64 ")\n", s1, n, allocated ? "   " : "not", s2, offset);
        offset += n;
    }
    return 0;
}

/* open, close, quit, help */

static int open_f(QemuIOSession *s, int argc, char **argv)
{
    const QemuIOCmd *ct = find_command("open");
    QemuIOOpenOptions o = { 0 };
    g_autoptr(KeyVal) kv = NULL;
    Error *local_err = NULL;
    int c;

    cmd_getopt_reset();
    while ((c = cmd_getopt(argc, argv, "snCrkUt:d:i:o:")) != -1) {
        switch (c) {
        case 's':
            printf("snapshot mode is not supported by this qemu-io\n");
            return -ENOTSUP;
        case 'C':
            o.copy_on_read = true;
            break;
        case 'n':
            o.cache = "none";
            break;
        case 'r':
            o.read_only = true;
            break;
        case 'k':
            printf("native AIO is not supported, use -i io_uring\n");
            return -ENOTSUP;
        case 'U':
            o.force_share = true;
            break;
        case 't':
            o.cache = optarg;
            break;
        case 'd':
            o.discard = optarg;
            break;
        case 'i':
            o.aio = optarg;
            break;
        case 'o':
            if (kv) {
                printf("-o may be given once\n");
                return -EINVAL;
            }
            kv = keyval_parse(optarg, NULL, &local_err);
            if (!kv) {
                error_report_err(local_err);
                return -EINVAL;
            }
            break;
        default:
            return command_usage(ct);
        }
    }
    if (optind == argc - 1) {
        o.options = kv;
        if (kv && keyval_has(kv, "driver")) {
            o.format = keyval_get(kv, "driver");
        }
        if (!qemuio_open(s, argv[optind], &o, &local_err)) {
            error_report_err(local_err);
            return -EINVAL;
        }
        return 0;
    }
    if (optind == argc && kv) {
        /* Everything in the options, as with --image-opts. */
        printf("open without a path needs it in -o: not supported, give "
               "the path\n");
        return -EINVAL;
    }
    return command_usage(ct);
}

static int close_f(QemuIOSession *s, int argc, char **argv)
{
    aio_wait_all(s);
    blk_unref(s->blk);
    s->blk = NULL;
    return 0;
}

static int quit_f(QemuIOSession *s, int argc, char **argv)
{
    s->quit = true;
    return 0;
}

static void help_oneline(const QemuIOCmd *ct)
{
    printf("%s %s -- %s\n", ct->name, ct->args, ct->oneline);
}

static const QemuIOCmd *command_table(size_t *n);

static int help_f(QemuIOSession *s, int argc, char **argv)
{
    const QemuIOCmd *ct;
    size_t n;

    if (argc == 2) {
        ct = find_command(argv[1]);
        if (!ct) {
            printf("command %s not found\n", argv[1]);
            return -EINVAL;
        }
        help_oneline(ct);
        if (ct->help) {
            printf("\n%s\n", ct->help);
        }
        return 0;
    }
    ct = command_table(&n);
    for (size_t i = 0; i < n; i++) {
        help_oneline(&ct[i]);
    }
    printf("\nUse 'help commandname' for extended help.\n");
    return 0;
}

static const QemuIOCmd cmds[] = {
    {
        .name = "aio_flush", .func = aio_flush_f,
        .flags = CMD_NEEDS_FILE, .args = "",
        .oneline = "waits for every outstanding aio request",
    }, {
        .name = "aio_read", .func = aio_read_f, .argmin = 2, .argmax = -1,
        .flags = CMD_NEEDS_FILE,
        .args = "[-Ciqv] [-P pattern] off len [len..]",
        .oneline = "starts a read of one or more buffers in the background",
        .help =
" Starts reading at 'off' into one buffer per 'len' and returns at once;\n"
" the result is printed when the request ends (use aio_flush to wait).\n"
" The command succeeds once the request is started.\n"
" -C, -- print statistics in a machine-readable form\n"
" -i, -- count the request as invalid and do nothing\n"
" -P, -- check that the data read is the given byte\n"
" -q, -- print no statistics\n"
" -v, -- print a hex dump of the data read\n",
    }, {
        .name = "aio_write", .func = aio_write_f, .argmin = 2, .argmax = -1,
        .flags = CMD_NEEDS_FILE | CMD_NEEDS_WRITE,
        .args = "[-Cfiquz] [-P pattern] off len [len..]",
        .oneline = "starts a write of one or more buffers in the "
                   "background",
        .help =
" Starts writing at 'off' from one buffer per 'len' (filled with 0xcd)\n"
" and returns at once; the result is printed when the request ends.\n"
" -C, -- print statistics in a machine-readable form\n"
" -f, -- write with Force Unit Access\n"
" -i, -- count the request as invalid and do nothing\n"
" -P, -- fill the buffers with this byte\n"
" -q, -- print no statistics\n"
" -u, -- with -z, the zeroed range may be deallocated\n"
" -z, -- write zeroes without a data buffer\n",
    }, {
        .name = "alloc", .func = alloc_f, .argmin = 1, .argmax = 2,
        .flags = CMD_NEEDS_FILE, .args = "offset [count]",
        .oneline = "tells how much of a range is allocated",
    }, {
        .name = "close", .func = close_f, .flags = CMD_NEEDS_FILE,
        .args = "", .oneline = "closes the open image",
    }, {
        .name = "discard", .altname = "d", .func = discard_f, .argmin = 2,
        .argmax = -1, .flags = CMD_NEEDS_FILE | CMD_NEEDS_WRITE,
        .args = "[-Cq] off len",
        .oneline = "discards a range of the image",
        .help =
" Discards 'len' bytes at 'off'; the range may read as zeroes afterwards.\n"
" -C, -- print statistics in a machine-readable form\n"
" -q, -- print no statistics\n",
    }, {
        .name = "flush", .altname = "f", .func = flush_f,
        .flags = CMD_NEEDS_FILE, .args = "",
        .oneline = "makes completed writes stable",
    }, {
        .name = "help", .altname = "?", .func = help_f, .argmax = 1,
        .args = "[command]",
        .oneline = "lists the commands, or explains one",
    }, {
        .name = "info", .altname = "i", .func = info_f,
        .flags = CMD_NEEDS_FILE, .args = "",
        .oneline = "prints facts about the open image",
    }, {
        .name = "length", .altname = "l", .func = length_f,
        .flags = CMD_NEEDS_FILE, .args = "",
        .oneline = "prints the length of the open image",
    }, {
        .name = "map", .func = map_f, .flags = CMD_NEEDS_FILE, .args = "",
        .oneline = "prints the allocated and unallocated ranges",
    }, {
        .name = "open", .altname = "o", .func = open_f, .argmin = 1,
        .argmax = -1, .args = "[-rnkU] [-t cache] [-i aio] [-d discard] "
                              "[-o options] path",
        .oneline = "opens an image",
        .help =
" Opens 'path' (a file name or a URI such as nbd://host/export).\n"
" -r, -- read-only\n"
" -n, -- bypass the host page cache (same as -t none)\n"
" -U, -- let other writers share the image\n"
" -t, -- cache mode: none, writeback, writethrough, directsync, unsafe\n"
" -i, -- AIO mode: threads or io_uring\n"
" -d, -- discard mode: ignore or unmap\n"
" -o, -- driver options, e.g. driver=raw,offset=4096\n",
    }, {
        .name = "quit", .altname = "q", .func = quit_f, .args = "",
        .oneline = "leaves qemu-io",
    }, {
        .name = "read", .altname = "r", .func = read_f, .argmin = 2,
        .argmax = -1, .flags = CMD_NEEDS_FILE,
        .args = "[-bCqv] [-P pattern [-s off] [-l len]] off len",
        .oneline = "reads a range of the image",
        .help =
" Reads 'len' bytes at 'off', e.g. 'read -v 512 1k' dumps 1 KiB read\n"
" from offset 512.\n"
" -C, -- print statistics in a machine-readable form\n"
" -l, -- how much of the data -P checks (with -P only)\n"
" -p, -- accepted and ignored\n"
" -P, -- check that the data read is the given byte\n"
" -q, -- print no statistics\n"
" -s, -- where in the data -P starts checking (with -P only)\n"
" -v, -- print a hex dump of the data read\n",
    }, {
        .name = "readv", .func = readv_f, .argmin = 2, .argmax = -1,
        .flags = CMD_NEEDS_FILE,
        .args = "[-Cqv] [-P pattern] off len [len..]",
        .oneline = "reads a range of the image into several buffers",
        .help =
" Reads at 'off' into one buffer per 'len' in a single request.\n"
" -C, -- print statistics in a machine-readable form\n"
" -P, -- check that the data read is the given byte\n"
" -q, -- print no statistics\n"
" -v, -- print a hex dump of the data read\n",
    }, {
        .name = "truncate", .altname = "t", .func = truncate_f,
        .argmin = 1, .argmax = 3, .flags = CMD_NEEDS_FILE | CMD_NEEDS_WRITE,
        .args = "[-m prealloc_mode] off",
        .oneline = "resizes the image",
    }, {
        .name = "write", .altname = "w", .func = write_f, .argmin = 2,
        .argmax = -1, .flags = CMD_NEEDS_FILE | CMD_NEEDS_WRITE,
        .args = "[-bcCfnquz] [-P pattern | -s source_file] off len",
        .oneline = "writes a range of the image",
        .help =
" Writes 'len' bytes at 'off', filled with 0xcd unless told otherwise,\n"
" e.g. 'write 512 1k' writes 1 KiB at offset 512.\n"
" -C, -- print statistics in a machine-readable form\n"
" -f, -- write with Force Unit Access\n"
" -n, -- with -z, fail rather than write zero buffers\n"
" -p, -- accepted and ignored\n"
" -P, -- fill the buffer with this byte\n"
" -q, -- print no statistics\n"
" -s, -- fill the buffer with the contents of this file (repeated)\n"
" -u, -- with -z, the zeroed range may be deallocated\n"
" -z, -- write zeroes without a data buffer\n",
    }, {
        .name = "writev", .func = writev_f, .argmin = 2, .argmax = -1,
        .flags = CMD_NEEDS_FILE | CMD_NEEDS_WRITE,
        .args = "[-Cfq] [-P pattern] off len [len..]",
        .oneline = "writes a range of the image from several buffers",
        .help =
" Writes at 'off' from one buffer per 'len' in a single request.\n"
" -C, -- print statistics in a machine-readable form\n"
" -f, -- write with Force Unit Access\n"
" -P, -- fill the buffers with this byte (default 0xcd)\n"
" -q, -- print no statistics\n",
    },
};

static const QemuIOCmd *command_table(size_t *n)
{
    *n = ARRAY_SIZE(cmds);
    return cmds;
}

static const QemuIOCmd *find_command(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
        if (!strcmp(cmds[i].name, name) ||
            (cmds[i].altname && !strcmp(cmds[i].altname, name))) {
            return &cmds[i];
        }
    }
    return NULL;
}

static bool check_command(QemuIOSession *s, const QemuIOCmd *ct, int argc)
{
    int nargs = argc - 1;

    if ((ct->flags & CMD_NEEDS_FILE) && !s->blk) {
        fprintf(stderr, "no file open, try 'help open'\n");
        return false;
    }
    if ((ct->flags & CMD_NEEDS_WRITE) && !blk_is_writable(s->blk)) {
        error_report("Block node is read-only");
        return false;
    }
    /* Options count as arguments too, so only a lower bound is sure. */
    if (nargs < ct->argmin || (ct->argmax != -1 && nargs > ct->argmax)) {
        if (ct->argmax == -1) {
            fprintf(stderr, "bad argument count %d to %s, expected at least "
                    "%d arguments\n", nargs, ct->name, ct->argmin);
        } else if (ct->argmin == ct->argmax) {
            fprintf(stderr, "bad argument count %d to %s, expected %d "
                    "arguments\n", nargs, ct->name, ct->argmin);
        } else {
            fprintf(stderr, "bad argument count %d to %s, expected between "
                    "%d and %d arguments\n", nargs, ct->name, ct->argmin,
                    ct->argmax);
        }
        return false;
    }
    return true;
}

/* Splits a command line at blanks; "..." groups words. */
static char **split_command(const char *cmd, int *argc)
{
    GPtrArray *args = g_ptr_array_new();
    const char *p = cmd;

    for (;;) {
        GString *word;

        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            p++;
        }
        if (!*p) {
            break;
        }
        word = g_string_new(NULL);
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            if (*p == '"') {
                const char *end = strchr(p + 1, '"');

                if (end) {
                    g_string_append_len(word, p + 1, end - p - 1);
                    p = end + 1;
                    continue;
                }
            }
            g_string_append_c(word, *p++);
        }
        g_ptr_array_add(args, g_string_free(word, false));
    }
    *argc = args->len;
    g_ptr_array_add(args, NULL);
    return (char **)g_ptr_array_free(args, false);
}

bool qemuio_command(QemuIOSession *s, const char *cmd)
{
    g_auto(GStrv) argv = NULL;
    const QemuIOCmd *ct;
    int argc, ret;

    argv = split_command(cmd, &argc);
    if (argc == 0) {
        return true;
    }
    ct = find_command(argv[0]);
    if (!ct) {
        fprintf(stderr, "command \"%s\" not found\n", argv[0]);
        return false;
    }
    if (!check_command(s, ct, argc)) {
        return false;
    }
    ret = ct->func(s, argc, argv);
    fflush(stdout);
    return ret >= 0;
}

/* Sessions */

QemuIOSession *qemuio_session_new(void)
{
    return g_new0(QemuIOSession, 1);
}

void qemuio_session_free(QemuIOSession *s)
{
    if (!s) {
        return;
    }
    aio_wait_all(s);
    blk_unref(s->blk);
    /* Run what closing the image left behind (completion BHs). */
    while (aio_poll(qemu_get_aio_context(), false)) {
        /* nothing */
    }
    g_free(s);
}

BlockBackend *qemuio_get_blk(QemuIOSession *s)
{
    return s->blk;
}

bool qemuio_quit_requested(QemuIOSession *s)
{
    return s->quit;
}

bool qemuio_open(QemuIOSession *s, const char *name,
                 const QemuIOOpenOptions *o, Error **errp)
{
    if (s->blk) {
        error_setg(errp, "file open already, try 'help close'");
        return false;
    }
    s->blk = qemuio_open_image(name, o, errp);
    return s->blk != NULL;
}
