/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-io: run I/O commands against a disk image (a file, or anything the
 * block layer opens, such as nbd://host/export). The command line is
 * QEMU's qemu-io's; the commands live in qemu-io-cmds.c.
 *
 * Theory of operation: the main thread parses the command line, opens the
 * image, then runs the -c commands in order, or reads commands from stdin
 * (with a "qemu-io> " prompt on a terminal) until end of file or 'quit'.
 * The exit status is 1 if the image could not be opened or any command
 * failed.
 */
#include "qemu/osdep.h"
#include <getopt.h>
#include "qemu-io.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/trace-control.h"
#include "qom/object_interfaces.h"
#include "qapi/error.h"

#define QEMU_IO_OPT_OBJECT      256
#define QEMU_IO_OPT_IMAGE_OPTS  257

typedef struct QemuIOMain {
    QemuIOOpenOptions open;
    GPtrArray *commands;
    GPtrArray *objects;
    const char *filename;
    bool misalign;
} QemuIOMain;

static void usage(const char *name)
{
    printf(
"Usage: %s [OPTIONS]... [-c STRING]... [file]\n"
"Run I/O commands against a disk image\n"
"\n"
"  --object OBJECTDEF   create an object (e.g. secret, tls-creds-x509)\n"
"  --image-opts         the file argument is an option string\n"
"  -c, --cmd STRING     run this command (may be repeated)\n"
"  -f, --format FMT     image format (raw)\n"
"  -r, --read-only      open the image read-only\n"
"  -n, --nocache        bypass the host page cache, same as -t none\n"
"  -i, --aio=MODE       AIO mode: threads or io_uring\n"
"  -t, --cache=MODE     cache mode: none, writeback, writethrough,\n"
"                       directsync or unsafe\n"
"  -d, --discard=MODE   discard mode: ignore or unmap (default unmap)\n"
"  -C, --copy-on-read   copy data read from backing layers into the image\n"
"  -m, --misalign       misalign request buffers by 16 bytes\n"
"  -U, --force-share    let other writers share the image\n"
"  -T, --trace [[enable=]PATTERN][,events=FILE][,file=FILE]\n"
"                       specify tracing options (-T help lists events)\n"
"  -h, --help           print this help and exit\n"
"  -V, --version        print the version and exit\n"
"\n"
"Without -c, commands are read from standard input.\n"
"'%s -c help' lists the commands.\n",
           name, name);
}

static G_GNUC_NORETURN G_GNUC_PRINTF(1, 2)
void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    error_vreport(fmt, ap);
    va_end(ap);
    exit(EXIT_FAILURE);
}

static void parse_args(QemuIOMain *m, int argc, char **argv)
{
    static const char sopt[] = "hVc:d:f:rsnCmkt:T:Ui:";
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "cmd", required_argument, NULL, 'c' },
        { "format", required_argument, NULL, 'f' },
        { "read-only", no_argument, NULL, 'r' },
        { "snapshot", no_argument, NULL, 's' },
        { "nocache", no_argument, NULL, 'n' },
        { "copy-on-read", no_argument, NULL, 'C' },
        { "misalign", no_argument, NULL, 'm' },
        { "native-aio", no_argument, NULL, 'k' },
        { "discard", required_argument, NULL, 'd' },
        { "cache", required_argument, NULL, 't' },
        { "trace", required_argument, NULL, 'T' },
        { "object", required_argument, NULL, QEMU_IO_OPT_OBJECT },
        { "image-opts", no_argument, NULL, QEMU_IO_OPT_IMAGE_OPTS },
        { "force-share", no_argument, NULL, 'U' },
        { "aio", required_argument, NULL, 'i' },
        { NULL, 0, NULL, 0 }
    };
    int c;

    while ((c = getopt_long(argc, argv, sopt, lopt, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(argv[0]);
            exit(EXIT_SUCCESS);
        case 'V':
            printf("%s " QEMU_VERSION "\n"
                   "An independent implementation of QEMU's qemu-io.\n",
                   error_get_progname());
            exit(EXIT_SUCCESS);
        case 'c':
            g_ptr_array_add(m->commands, optarg);
            break;
        case 'f':
            m->open.format = optarg;
            break;
        case 'r':
            m->open.read_only = true;
            break;
        case 's':
            die("-s/--snapshot is not supported");
        case 'n':
            m->open.cache = "none";
            break;
        case 'C':
            m->open.copy_on_read = true;
            break;
        case 'm':
            m->misalign = true;
            break;
        case 'k':
            die("-k/--native-aio is not supported, use -i io_uring");
        case 'd':
            if (strcmp(optarg, "ignore") && strcmp(optarg, "off") &&
                strcmp(optarg, "unmap") && strcmp(optarg, "on")) {
                die("Invalid discard option: %s", optarg);
            }
            m->open.discard = optarg;
            break;
        case 't': {
            int flags = 0;
            bool wt;

            if (bdrv_parse_cache_mode(optarg, &flags, &wt) < 0) {
                die("Invalid cache option: %s", optarg);
            }
            m->open.cache = optarg;
            break;
        }
        case 'i':
            if (strcmp(optarg, "threads") && strcmp(optarg, "io_uring")) {
                die("Invalid aio option: %s%s", optarg,
                    !strcmp(optarg, "native") ?
                    " (use io_uring or threads)" : "");
            }
            m->open.aio = optarg;
            break;
        case 'T': {
            Error *err = NULL;

            if (!trace_opt_parse(optarg, &err)) {
                error_report_err(err);
                exit(EXIT_FAILURE);
            }
            break;
        }
        case 'U':
            m->open.force_share = true;
            break;
        case QEMU_IO_OPT_OBJECT:
            g_ptr_array_add(m->objects, optarg);
            break;
        case QEMU_IO_OPT_IMAGE_OPTS:
            m->open.image_opts = true;
            break;
        default:
            error_printf("Try '%s --help' for more information.\n",
                         argv[0]);
            exit(EXIT_FAILURE);
        }
    }
    if (optind < argc - 1) {
        die("extra arguments after '%s'", argv[optind]);
    }
    if (optind == argc - 1) {
        m->filename = argv[optind];
    }
    if (m->open.image_opts && m->open.format) {
        die("--image-opts and --format are mutually exclusive");
    }
}

/* Reads commands from stdin; returns false if one of them failed. */
static bool command_loop_stdin(QemuIOSession *s)
{
    bool prompt = isatty(STDIN_FILENO);
    bool ok = true;
    char line[4096];

    for (;;) {
        size_t len;

        if (prompt) {
            printf("qemu-io> ");
            fflush(stdout);
        }
        if (!fgets(line, sizeof(line), stdin)) {
            if (prompt) {
                printf("\n");
            }
            break;
        }
        len = strlen(line);
        if (len && line[len - 1] == '\n') {
            line[len - 1] = '\0';
        }
        if (!qemuio_command(s, line)) {
            ok = false;
        }
        if (qemuio_quit_requested(s)) {
            break;
        }
    }
    return ok;
}

int main(int argc, char **argv)
{
    QemuIOMain m = { 0 };
    g_autoptr(QemuIOSession) s = NULL;
    Error *local_err = NULL;
    bool ok = true;

    error_set_progname(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    m.commands = g_ptr_array_new();
    m.objects = g_ptr_array_new();
    parse_args(&m, argc, argv);

    if (qemu_init_main_loop(&local_err) < 0) {
        error_report_err(local_err);
        exit(EXIT_FAILURE);
    }
    for (guint i = 0; i < m.objects->len; i++) {
        user_creatable_process_cmdline(g_ptr_array_index(m.objects, i));
    }

    s = qemuio_session_new();
    qemuio_set_misalign(s, m.misalign);
    if (m.filename && !qemuio_open(s, m.filename, &m.open, &local_err)) {
        error_report_err(local_err);
        exit(EXIT_FAILURE);
    }

    if (m.commands->len) {
        for (guint i = 0; i < m.commands->len; i++) {
            if (!qemuio_command(s, g_ptr_array_index(m.commands, i))) {
                ok = false;
            }
            if (qemuio_quit_requested(s)) {
                break;
            }
        }
    } else {
        ok = command_loop_stdin(s);
    }

    qemuio_session_free(g_steal_pointer(&s));
    user_creatable_cleanup();
    g_ptr_array_free(m.commands, true);
    g_ptr_array_free(m.objects, true);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
