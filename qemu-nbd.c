/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-nbd: serve a disk image over NBD, or list the exports of an NBD
 * server (-L). The command line is QEMU's qemu-nbd's.
 *
 * Theory of operation: the main thread parses the command line, forks
 * (--fork) before any thread exists, opens the image, creates the NBD
 * server and runs the main loop until a signal arrives or, without
 * --persistent, until the last client that reached the transmission
 * phase has gone. Clients are accepted and negotiate in the main thread;
 * their requests run in the export's AioContext (the main one), or with
 * --iothreads N in N IOThreads, each connection in one of them. All state
 * lives in one QemuNbd structure.
 */
#include "qemu/osdep.h"
#include <getopt.h>
#include <glib-unix.h>
#include "authz/listfile.h"
#include "block/nbd.h"
#include "sysemu/block-backend.h"
#include "sysemu/iothread.h"
#include "io/channel-socket.h"
#include "qemu/cutils.h"
#include "qemu/daemonize.h"
#include "qemu/error-report.h"
#include "qemu/keyval.h"
#include "qemu/main-loop.h"
#include "qemu/sockets.h"
#include "qemu/trace-control.h"
#include "qom/object_interfaces.h"
#include "qapi/error.h"

#define QEMU_NBD_OPT_CACHE          256
#define QEMU_NBD_OPT_AIO            257
#define QEMU_NBD_OPT_DISCARD        258
#define QEMU_NBD_OPT_DETECT_ZEROES  259
#define QEMU_NBD_OPT_OBJECT         260
#define QEMU_NBD_OPT_TLSCREDS       261
#define QEMU_NBD_OPT_IMAGE_OPTS     262
#define QEMU_NBD_OPT_FORK           263
#define QEMU_NBD_OPT_TLSAUTHZ       264
#define QEMU_NBD_OPT_PID_FILE       265
#define QEMU_NBD_OPT_SELINUX_LABEL  266
#define QEMU_NBD_OPT_TLSHOSTNAME    267
#define QEMU_NBD_OPT_HANDSHAKE_LIMIT 268
#define QEMU_NBD_OPT_IOTHREADS      269

#define QEMU_NBD_MAX_IOTHREADS      64

typedef enum QemuNbdRunState {
    QEMU_NBD_RUNNING,
    QEMU_NBD_TERMINATE,
} QemuNbdRunState;

typedef struct QemuNbd {
    /* Command line */
    const char *bindto;
    const char *port;
    const char *sockpath;
    const char *export_name;
    const char *description;
    const char *fmt;
    const char *tls_creds_id;
    const char *tls_hostname;
    const char *tls_authz;
    const char *pid_file;
    const char *cache;
    const char *aio;
    const char *discard;
    const char *detect_zeroes;
    const char *device;
    const char *srcpath;
    const char *bitmap;
    const char *snapshot_param;
    uint64_t dev_offset;
    bool has_offset;
    bool readonly;
    bool persistent;
    bool fork_process;
    bool image_opts;
    bool list;
    bool verbose;
    bool alloc_depth;
    bool disconnect;
    bool snapshot;
    bool seen_device_opts;
    unsigned int shared;
    unsigned int handshake_limit;
    unsigned int n_iothreads;
    GPtrArray *objects;

    /* Running */
    QemuNbdRunState state;
    int ready_fd;               /* --fork: tells the parent we are up */
    NBDServer *server;
    BlockBackend *blk;
    IOThread **iothreads;
} QemuNbd;

static void usage(const char *name)
{
    printf(
"Usage: %s [OPTIONS] FILE\n"
"  or:  %s -L [OPTIONS]\n"
"QEMU Disk Network Block Device Utility\n"
"\n"
"  -h, --help                display this help and exit\n"
"  -V, --version             output version information and exit\n"
"\n"
"Connection properties:\n"
"  -p, --port=PORT           port to listen on (default `%d')\n"
"  -b, --bind=IFACE          interface to bind to (default `0.0.0.0')\n"
"  -k, --socket=PATH         path to the unix socket\n"
"  -e, --shared=NUM          device can be shared by NUM clients "
"(default '%d',\n"
"                            0 for no limit)\n"
"  -t, --persistent          don't exit on the last connection\n"
"  -v, --verbose             display extra debugging information\n"
"  -x, --export-name=NAME    expose export by name (default is empty "
"string)\n"
"  -D, --description=TEXT    export a human-readable description\n"
"      --handshake-limit=N   seconds a client may take to negotiate\n"
"                            (default %d, 0 for no limit)\n"
"      --iothreads=N         serve the connections from N I/O threads\n"
"\n"
"Exposing part of the image:\n"
"  -o, --offset=OFFSET       offset into the image\n"
"  -A, --allocation-depth    expose the allocation depth\n"
"\n"
"General purpose options:\n"
"  -L, --list                list exports available from another NBD "
"server\n"
"  --object type,id=ID,...   define an object such as 'tls-creds-x509' or\n"
"                            'iothread'\n"
"  --tls-creds=ID            use id of an earlier --object to provide TLS\n"
"  --tls-hostname=HOSTNAME   override hostname used to check x509 "
"certificate\n"
"  --tls-authz=ID            use id of an earlier --object to provide\n"
"                            authorization of the client's TLS identity\n"
TRACE_OPT_HELP
"  --fork                    fork off the server process and exit the "
"parent\n"
"                            once the server is running\n"
"  --pid-file=PATH           store the server's process ID in the given "
"file\n"
"\n"
"Kernel NBD client support:\n"
"  -c, --connect=DEV         connect FILE to the local NBD device DEV\n"
"  -d, --disconnect          disconnect the specified device\n"
"\n"
"Block device options:\n"
"  -f, --format=FORMAT       set image format (raw or qcow2; probed when\n"
"                            not given)\n"
"  -r, --read-only           export read-only\n"
"  -n, --nocache             disable host cache\n"
"      --cache=MODE          set cache mode used to access the disk image, "
"the\n"
"                            valid options are: 'none', 'writeback' "
"(default),\n"
"                            'writethrough', 'directsync' and 'unsafe'\n"
"      --aio=MODE            set AIO mode (io_uring or threads)\n"
"      --discard=MODE        set discard mode (ignore, unmap)\n"
"      --detect-zeroes=MODE  set detect-zeroes mode (off, on, unmap)\n"
"      --image-opts          treat FILE as a full set of image options\n"
"\n",
           name, name, NBD_DEFAULT_PORT, NBD_DEFAULT_MAX_CONNECTIONS,
           NBD_DEFAULT_HANDSHAKE_LIMIT);
}

static void version(const char *name)
{
    printf("%s " QEMU_VERSION "\n"
           "An independent implementation of QEMU's qemu-nbd.\n", name);
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

static void die_hint(const char *argv0) G_GNUC_NORETURN;
static void die_hint(const char *argv0)
{
    error_printf("Try `%s --help' for more information.\n", argv0);
    exit(EXIT_FAILURE);
}

static unsigned int parse_uint(const char *what, const char *arg,
                               unsigned int max)
{
    uint64_t v;

    if (qemu_parse_uint64(arg, &v) < 0 || v > max) {
        die("Invalid %s '%s'", what, arg);
    }
    return v;
}

static void parse_args(QemuNbd *s, int argc, char **argv)
{
    static const char sopt[] = "hVb:o:p:rsnc:dvk:e:f:tl:x:T:D:AB:L";
    static const struct option lopt[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "bind", required_argument, NULL, 'b' },
        { "port", required_argument, NULL, 'p' },
        { "socket", required_argument, NULL, 'k' },
        { "offset", required_argument, NULL, 'o' },
        { "read-only", no_argument, NULL, 'r' },
        { "allocation-depth", no_argument, NULL, 'A' },
        { "bitmap", required_argument, NULL, 'B' },
        { "connect", required_argument, NULL, 'c' },
        { "disconnect", no_argument, NULL, 'd' },
        { "list", no_argument, NULL, 'L' },
        { "snapshot", no_argument, NULL, 's' },
        { "load-snapshot", required_argument, NULL, 'l' },
        { "nocache", no_argument, NULL, 'n' },
        { "cache", required_argument, NULL, QEMU_NBD_OPT_CACHE },
        { "aio", required_argument, NULL, QEMU_NBD_OPT_AIO },
        { "discard", required_argument, NULL, QEMU_NBD_OPT_DISCARD },
        { "detect-zeroes", required_argument, NULL,
          QEMU_NBD_OPT_DETECT_ZEROES },
        { "shared", required_argument, NULL, 'e' },
        { "format", required_argument, NULL, 'f' },
        { "persistent", no_argument, NULL, 't' },
        { "verbose", no_argument, NULL, 'v' },
        { "object", required_argument, NULL, QEMU_NBD_OPT_OBJECT },
        { "export-name", required_argument, NULL, 'x' },
        { "description", required_argument, NULL, 'D' },
        { "tls-creds", required_argument, NULL, QEMU_NBD_OPT_TLSCREDS },
        { "tls-hostname", required_argument, NULL,
          QEMU_NBD_OPT_TLSHOSTNAME },
        { "tls-authz", required_argument, NULL, QEMU_NBD_OPT_TLSAUTHZ },
        { "image-opts", no_argument, NULL, QEMU_NBD_OPT_IMAGE_OPTS },
        { "trace", required_argument, NULL, 'T' },
        { "fork", no_argument, NULL, QEMU_NBD_OPT_FORK },
        { "pid-file", required_argument, NULL, QEMU_NBD_OPT_PID_FILE },
        { "selinux-label", required_argument, NULL,
          QEMU_NBD_OPT_SELINUX_LABEL },
        { "handshake-limit", required_argument, NULL,
          QEMU_NBD_OPT_HANDSHAKE_LIMIT },
        { "iothreads", required_argument, NULL, QEMU_NBD_OPT_IOTHREADS },
        { NULL, 0, NULL, 0 }
    };
    int ch;

    while ((ch = getopt_long(argc, argv, sopt, lopt, NULL)) != -1) {
        switch (ch) {
        case 'h':
            usage(argv[0]);
            exit(EXIT_SUCCESS);
        case 'V':
            version(error_get_progname());
            exit(EXIT_SUCCESS);
        case 'b':
            s->bindto = optarg;
            break;
        case 'p':
            parse_uint("port number", optarg, 65535);
            s->port = optarg;
            break;
        case 'k':
            s->sockpath = optarg;
            break;
        case 'o':
            if (qemu_strtosz(optarg, NULL, &s->dev_offset) < 0 ||
                s->dev_offset > INT64_MAX) {
                die("Invalid offset '%s'", optarg);
            }
            s->has_offset = true;
            s->seen_device_opts = true;
            break;
        case 'r':
            s->readonly = true;
            break;
        case 'A':
            s->alloc_depth = true;
            s->seen_device_opts = true;
            break;
        case 'B':
            s->bitmap = optarg;
            s->seen_device_opts = true;
            break;
        case 'c':
            s->device = optarg;
            break;
        case 'd':
            s->disconnect = true;
            break;
        case 'L':
            s->list = true;
            break;
        case 's':
            s->snapshot = true;
            break;
        case 'l':
            s->snapshot_param = optarg;
            s->seen_device_opts = true;
            break;
        case 'n':
            if (s->cache && strcmp(s->cache, "none")) {
                die("-n and --cache can only be specified once");
            }
            s->cache = "none";
            s->seen_device_opts = true;
            break;
        case QEMU_NBD_OPT_CACHE:
            if (s->cache) {
                die("-n and --cache can only be specified once");
            }
            s->cache = optarg;
            s->seen_device_opts = true;
            break;
        case QEMU_NBD_OPT_AIO:
            if (s->aio) {
                die("--aio can only be specified once");
            }
            if (strcmp(optarg, "threads") && strcmp(optarg, "io_uring")) {
                if (!strcmp(optarg, "native")) {
                    die("aio mode 'native' is not supported, use "
                        "'io_uring' or 'threads'");
                }
                die("Invalid aio mode '%s'", optarg);
            }
            s->aio = optarg;
            s->seen_device_opts = true;
            break;
        case QEMU_NBD_OPT_DISCARD:
            if (strcmp(optarg, "ignore") && strcmp(optarg, "off") &&
                strcmp(optarg, "unmap") && strcmp(optarg, "on")) {
                die("Invalid discard mode `%s'", optarg);
            }
            s->discard = optarg;
            s->seen_device_opts = true;
            break;
        case QEMU_NBD_OPT_DETECT_ZEROES:
            if (strcmp(optarg, "off") && strcmp(optarg, "on") &&
                strcmp(optarg, "unmap")) {
                die("Invalid detect-zeroes mode '%s'", optarg);
            }
            s->detect_zeroes = optarg;
            s->seen_device_opts = true;
            break;
        case 'e':
            s->shared = parse_uint("shared device number", optarg,
                                   INT_MAX);
            break;
        case 'f':
            s->fmt = optarg;
            s->seen_device_opts = true;
            break;
        case 't':
            s->persistent = true;
            break;
        case 'x':
            s->export_name = optarg;
            if (strlen(optarg) > NBD_MAX_STRING_SIZE) {
                die("export name '%s' too long", optarg);
            }
            break;
        case 'D':
            s->description = optarg;
            if (strlen(optarg) > NBD_MAX_STRING_SIZE) {
                die("export description '%s' too long", optarg);
            }
            break;
        case 'v':
            s->verbose = true;
            break;
        case QEMU_NBD_OPT_OBJECT:
            g_ptr_array_add(s->objects, optarg);
            break;
        case QEMU_NBD_OPT_TLSCREDS:
            s->tls_creds_id = optarg;
            break;
        case QEMU_NBD_OPT_TLSHOSTNAME:
            s->tls_hostname = optarg;
            break;
        case QEMU_NBD_OPT_TLSAUTHZ:
            s->tls_authz = optarg;
            break;
        case QEMU_NBD_OPT_IMAGE_OPTS:
            s->image_opts = true;
            break;
        case 'T': {
            Error *local_err = NULL;

            if (!trace_opt_parse(optarg, &local_err)) {
                error_report_err(local_err);
                exit(EXIT_FAILURE);
            }
            break;
        }
        case QEMU_NBD_OPT_FORK:
            s->fork_process = true;
            break;
        case QEMU_NBD_OPT_PID_FILE:
            s->pid_file = optarg;
            break;
        case QEMU_NBD_OPT_SELINUX_LABEL:
            die("SELinux support not enabled in this binary");
        case QEMU_NBD_OPT_HANDSHAKE_LIMIT:
            s->handshake_limit = parse_uint("handshake limit", optarg,
                                            INT_MAX / 1000);
            break;
        case QEMU_NBD_OPT_IOTHREADS:
            s->n_iothreads = parse_uint("number of iothreads", optarg,
                                        QEMU_NBD_MAX_IOTHREADS);
            break;
        case '?':
        default:
            die_hint(argv[0]);
        }
    }
}

/* Checks of option combinations, done before anything is opened. */
static void check_args(QemuNbd *s, int argc, char **argv)
{
    if (s->list) {
        if (argc != optind) {
            die("List mode is incompatible with a file name");
        }
        if (s->export_name || s->description || s->device ||
            s->disconnect || s->seen_device_opts || s->readonly ||
            s->snapshot || s->image_opts) {
            die("List mode is incompatible with per-device settings");
        }
        if (s->fork_process) {
            die("List mode is incompatible with forking");
        }
        if (s->n_iothreads) {
            die("List mode is incompatible with --iothreads");
        }
    } else if (argc - optind != 1) {
        error_report("Invalid number of arguments");
        die_hint(argv[0]);
    } else {
        s->srcpath = argv[optind];
    }

    if (s->tls_hostname && !s->tls_creds_id) {
        die("--tls-hostname is not permitted without --tls-creds");
    }
    if (s->tls_hostname && !s->list) {
        die("--tls-hostname is only permitted with -L");
    }
    if (s->tls_authz) {
        if (!s->tls_creds_id) {
            die("--tls-authz is not permitted without --tls-creds");
        }
        if (s->list) {
            die("--tls-authz is not supported with -L");
        }
    }
    if (s->tls_creds_id && (s->device || s->disconnect)) {
        die("TLS is not supported with a host device");
    }
    if (s->sockpath && (s->bindto || s->port)) {
        die("-k cannot be combined with -b or -p");
    }
    if (s->device || s->disconnect) {
        if (s->list) {
            die("List mode is incompatible with a host device");
        }
        if (s->device && s->disconnect) {
            die("-c and -d are mutually exclusive");
        }
    }
    if (s->image_opts && s->fmt) {
        die("--image-opts and --format are mutually exclusive");
    }
    if (s->image_opts && s->has_offset) {
        die("--image-opts and --offset are mutually exclusive: use the "
            "raw driver's offset option");
    }
    if (s->detect_zeroes && !strcmp(s->detect_zeroes, "unmap") &&
        (!s->discard || (strcmp(s->discard, "unmap") &&
                         strcmp(s->discard, "on")))) {
        die("setting detect-zeroes to unmap is not allowed without setting "
            "discard operation to unmap");
    }
    if (s->snapshot) {
        die("-s/--snapshot is not supported yet");
    }
    if (s->snapshot_param) {
        die("-l/--load-snapshot is not supported yet");
    }
    if (s->bitmap) {
        die("-B/--bitmap is not supported yet: no dirty bitmaps exist here");
    }
    if (s->cache) {
        int flags = 0;
        bool wt;

        if (bdrv_parse_cache_mode(s->cache, &flags, &wt) < 0) {
            die("Invalid cache mode `%s'", s->cache);
        }
    }
}

/* The kernel client (-c, -d) is not implemented; say why clearly. */
static void G_GNUC_NORETURN kernel_client(QemuNbd *s)
{
    const char *dev = s->device ? s->device : s->srcpath;
    int fd = open(dev, O_RDWR);

    if (fd < 0) {
        error_report("Failed to open %s: %s", dev, strerror(errno));
        if (errno == ENOENT && !g_file_test("/sys/module/nbd",
                                            G_FILE_TEST_IS_DIR)) {
            error_printf("The nbd kernel module is not loaded (try "
                         "'modprobe nbd').\n");
        }
        exit(EXIT_FAILURE);
    }
    close(fd);
    die("%s: connecting the kernel NBD client is not supported by this "
        "qemu-nbd", dev);
}

static void process_objects(QemuNbd *s)
{
    for (guint i = 0; i < s->objects->len; i++) {
        user_creatable_process_cmdline(g_ptr_array_index(s->objects, i));
    }
}

static QCryptoTLSCreds *get_tls_creds(const char *id, bool list)
{
    Error *local_err = NULL;
    QCryptoTLSCreds *creds = qcrypto_tls_creds_find(id, list ?
                                 QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT :
                                 QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
                                 &local_err);

    if (!creds) {
        error_report_err(local_err);
        exit(EXIT_FAILURE);
    }
    return creds;
}

static SocketAddress *build_address(QemuNbd *s, bool list)
{
    SocketAddress *addr = g_new0(SocketAddress, 1);

    if (s->sockpath) {
        addr->type = SOCKET_ADDRESS_TYPE_UNIX;
        addr->u.q_unix.path = g_strdup(s->sockpath);
    } else {
        addr->type = SOCKET_ADDRESS_TYPE_INET;
        addr->u.inet.host = g_strdup(s->bindto ? s->bindto :
                                     list ? "localhost" : "0.0.0.0");
        addr->u.inet.port = s->port ? g_strdup(s->port) :
                            g_strdup_printf("%d", NBD_DEFAULT_PORT);
    }
    return addr;
}

/* List mode */

typedef struct ListJob {
    QIOChannel *ioc;
    QCryptoTLSCreds *creds;
    const char *hostname;
    NBDExportInfo *info;
    int count;
    Error *err;
    bool done;
} ListJob;

static void coroutine_fn list_co(void *opaque)
{
    ListJob *job = opaque;

    job->count = nbd_receive_export_list(job->ioc, job->creds,
                                         job->hostname, &job->info,
                                         &job->err);
    job->done = true;
    aio_notify(qemu_get_aio_context());
}

static int run_list(QemuNbd *s)
{
    g_autoptr(SocketAddress) addr = build_address(s, true);
    QIOChannelSocket *sioc = qio_channel_socket_new();
    ListJob job = { 0 };
    Error *local_err = NULL;

    if (qio_channel_socket_connect_sync(sioc, addr, &local_err) < 0) {
        error_report_err(local_err);
        object_unref(OBJECT(sioc));
        return EXIT_FAILURE;
    }
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    qio_channel_set_follow_coroutine_ctx(QIO_CHANNEL(sioc), true);
    job.ioc = QIO_CHANNEL(sioc);
    job.creds = s->tls_creds_id ? get_tls_creds(s->tls_creds_id, true) :
                NULL;
    job.hostname = s->tls_hostname ? s->tls_hostname :
                   (addr->type == SOCKET_ADDRESS_TYPE_INET ?
                    addr->u.inet.host : NULL);
    aio_co_enter(qemu_get_aio_context(),
                 qemu_coroutine_create(list_co, &job));
    while (!job.done) {
        main_loop_wait(false);
    }
    object_unref(OBJECT(sioc));
    if (job.count < 0) {
        error_report_err(job.err);
        return EXIT_FAILURE;
    }

    printf("exports available: %d\n", job.count);
    for (int i = 0; i < job.count; i++) {
        NBDExportInfo *info = &job.info[i];

        printf(" export: '%s'\n", info->name);
        if (info->description && *info->description) {
            printf("  description: %s\n", info->description);
        }
        if (info->flags & NBD_FLAG_HAS_FLAGS) {
            g_autofree char *names = nbd_flags_to_string(info->flags);

            printf("  size:  %" PRIu64 "\n", info->size);
            printf("  flags: 0x%x (%s )\n", info->flags, names);
        }
        if (info->has_block_sizes) {
            printf("  min block: %u\n", info->min_block);
            printf("  opt block: %u\n", info->opt_block);
            printf("  max block: %u\n", info->max_block);
        }
        printf("  transaction size: %s\n",
               info->mode == NBD_MODE_EXTENDED ? "64-bit" : "32-bit");
        if (info->n_contexts) {
            printf("  available meta contexts: %zu\n", info->n_contexts);
            for (size_t j = 0; j < info->n_contexts; j++) {
                printf("   %s\n", info->contexts[j]);
            }
        }
    }
    nbd_free_export_list(job.info, job.count);
    return EXIT_SUCCESS;
}

/* Serving */

static void client_closed(void *opaque, bool negotiated)
{
    QemuNbd *s = opaque;

    if (negotiated && !s->persistent &&
        nbd_server_connection_count(s->server) == 0) {
        s->state = QEMU_NBD_TERMINATE;
        qemu_notify_event();
    }
}

static gboolean on_terminate_signal(gpointer opaque)
{
    QemuNbd *s = opaque;

    s->state = QEMU_NBD_TERMINATE;
    return G_SOURCE_CONTINUE;
}

/*
 * SIGHUP reads the rules of every authz-listfile with refresh=on again;
 * without one it ends the server like SIGTERM.
 */
static gboolean on_hangup_signal(gpointer opaque)
{
    if (qauthz_list_file_reload_all() > 0) {
        return G_SOURCE_CONTINUE;
    }
    return on_terminate_signal(opaque);
}

/* systemd socket activation: the number of fds passed, or 0. */
static int socket_activation_fds(void)
{
    const char *pid_str = getenv("LISTEN_PID");
    const char *fds_str = getenv("LISTEN_FDS");
    uint64_t pid, nfds;

    if (!pid_str || !fds_str) {
        return 0;
    }
    if (qemu_parse_uint64(pid_str, &pid) < 0 || pid != (uint64_t)getpid()) {
        return 0;
    }
    if (qemu_parse_uint64(fds_str, &nfds) < 0 || nfds == 0) {
        die("Invalid LISTEN_FDS '%s'", fds_str);
    }
    if (nfds > 1) {
        die("qemu-nbd does not support socket activation with LISTEN_FDS "
            "> 1");
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return nfds;
}

/* Fails for formats we cannot open, with a clear message. */
static const char *check_format(QemuNbd *s)
{
    const char *fmt = s->fmt;

    if (!fmt) {
        /* Probe: qcow2 by its magic, else raw. */
        unsigned char magic[4];
        int fd = open(s->srcpath, O_RDONLY);
        bool qcow2 = false;

        if (fd >= 0) {
            qcow2 = read(fd, magic, 4) == 4 && !memcmp(magic, "QFI\xfb", 4);
            close(fd);
        }
        return qcow2 ? "qcow2" : "raw";
    }
    if (!bdrv_find_driver(fmt)) {
        die("Unknown driver '%s'", fmt);
    }
    return fmt;
}

static BlockBackend *open_image(QemuNbd *s, bool *writethrough)
{
    int flags = s->readonly ? 0 : BDRV_O_RDWR;
    g_autoptr(KeyVal) opts = NULL;
    Error *local_err = NULL;
    BlockBackend *blk;

    *writethrough = false;
    if (s->cache) {
        bdrv_parse_cache_mode(s->cache, &flags, writethrough);
    }
    if (s->discard) {
        bdrv_parse_discard_flags(s->discard, &flags);
    }
    if (s->aio && !strcmp(s->aio, "io_uring")) {
        flags |= BDRV_O_IO_URING;
    }

    if (s->image_opts) {
        BlockDriverState *bs;

        opts = keyval_parse(s->srcpath, NULL, &local_err);
        if (!opts) {
            error_report_err(local_err);
            exit(EXIT_FAILURE);
        }
        bdrv_options_from_flags(opts, flags,
                                (s->readonly ? BDRV_FILL_READ_ONLY : 0) |
                                (s->cache ? BDRV_FILL_CACHE : 0) |
                                (s->discard ? BDRV_FILL_DISCARD : 0));
        bs = bdrv_open_blockdev(opts, &local_err);
        if (!bs) {
            error_reportf_err(local_err, "Failed to blk_new_open '%s': ",
                              s->srcpath);
            exit(EXIT_FAILURE);
        }
        blk = blk_new_with_bs(bs, !s->readonly, &local_err);
        bdrv_unref(bs);
    } else {
        const char *fmt = check_format(s);

        opts = keyval_new();
        if (s->has_offset) {
            g_autofree char *off = g_strdup_printf("%" PRIu64,
                                                   s->dev_offset);

            if (strcmp(fmt, "raw")) {
                die("--offset is only supported with the raw format");
            }
            keyval_add(opts, "offset", off, &error_abort);
        }
        blk = blk_new_open(s->srcpath, fmt, opts, flags, &local_err);
    }
    if (!blk) {
        error_reportf_err(local_err, "Failed to blk_new_open '%s': ",
                          s->srcpath);
        exit(EXIT_FAILURE);
    }
    blk_set_enable_write_cache(blk, !*writethrough);
    return blk;
}

static void write_pid_file(const char *path)
{
    g_autofree char *pid = g_strdup_printf("%d\n", (int)getpid());
    GError *gerr = NULL;

    if (!g_file_set_contents(path, pid, -1, &gerr)) {
        error_report("Cannot write pid file '%s': %s", path,
                     gerr->message);
        g_error_free(gerr);
        exit(EXIT_FAILURE);
    }
}

static int run_server(QemuNbd *s)
{
    NBDServerOptions sopts = {
        .handshake_limit = s->handshake_limit,
        .max_connections = s->shared,
        .verbose = s->verbose,
        .client_closed = client_closed,
        .opaque = s,
    };
    NBDExportOptions eopts = {
        .name = s->export_name ? s->export_name : "",
        .description = s->description,
        .readonly = s->readonly,
        .multi_conn = s->shared != 1 ? NBD_MULTI_CONN_ON :
                      NBD_MULTI_CONN_AUTO,
        .allocation_depth = s->alloc_depth,
        .spread_clients = s->n_iothreads > 0,
    };
    Error *local_err = NULL;
    bool writethrough;
    int nfds;

    nfds = socket_activation_fds();
    if (nfds && (s->sockpath || s->bindto || s->port)) {
        die("-k, -b and -p cannot be used with socket activation");
    }
    if (s->tls_creds_id) {
        sopts.tls_creds = get_tls_creds(s->tls_creds_id, false);
        sopts.tls_authz = s->tls_authz;
    }
    if (s->detect_zeroes) {
        eopts.detect_zeroes = !strcmp(s->detect_zeroes, "on") ?
                              NBD_DETECT_ZEROES_ON :
                              !strcmp(s->detect_zeroes, "unmap") ?
                              NBD_DETECT_ZEROES_UNMAP :
                              NBD_DETECT_ZEROES_OFF;
    }

    s->blk = open_image(s, &writethrough);

    s->server = nbd_server_new(&sopts, &local_err);
    if (!s->server) {
        error_report_err(local_err);
        return EXIT_FAILURE;
    }
    if (s->n_iothreads) {
        g_autofree AioContext **ctxs = g_new(AioContext *, s->n_iothreads);

        s->iothreads = g_new0(IOThread *, s->n_iothreads);
        for (unsigned int i = 0; i < s->n_iothreads; i++) {
            g_autofree char *id = g_strdup_printf("qemu-nbd-iothread%u", i);

            s->iothreads[i] = iothread_create(id, &local_err);
            if (!s->iothreads[i]) {
                error_report_err(local_err);
                return EXIT_FAILURE;
            }
            ctxs[i] = iothread_get_aio_context(s->iothreads[i]);
        }
        nbd_server_set_client_contexts(s->server, ctxs, s->n_iothreads);
    }
    if (!nbd_export_new(s->server, s->blk, &eopts, &local_err)) {
        error_report_err(local_err);
        return EXIT_FAILURE;
    }

    if (nfds) {
        /* The first passed descriptor is 3 (SD_LISTEN_FDS_START). */
        if (!nbd_server_add_listen_fd(s->server, 3, &local_err)) {
            error_report_err(local_err);
            return EXIT_FAILURE;
        }
    } else {
        g_autoptr(SocketAddress) addr = build_address(s, false);

        if (!nbd_server_listen(s->server, addr, &local_err)) {
            error_report_err(local_err);
            return EXIT_FAILURE;
        }
    }

    if (s->pid_file) {
        write_pid_file(s->pid_file);
    }
    g_unix_signal_add(SIGTERM, on_terminate_signal, s);
    g_unix_signal_add(SIGINT, on_terminate_signal, s);
    g_unix_signal_add(SIGHUP, on_hangup_signal, s);
    signal(SIGPIPE, SIG_IGN);
    qemu_daemon_ready(&s->ready_fd, s->verbose);

    while (s->state == QEMU_NBD_RUNNING) {
        main_loop_wait(false);
    }

    nbd_server_free(s->server);
    s->server = NULL;
    blk_unref(s->blk);
    s->blk = NULL;
    for (unsigned int i = 0; i < s->n_iothreads; i++) {
        iothread_destroy(s->iothreads[i]);
    }
    g_free(s->iothreads);
    if (s->pid_file) {
        unlink(s->pid_file);
    }
    return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
    QemuNbd s = {
        .shared = NBD_DEFAULT_MAX_CONNECTIONS,
        .handshake_limit = NBD_DEFAULT_HANDSHAKE_LIMIT,
        .ready_fd = -1,
        .state = QEMU_NBD_RUNNING,
    };
    Error *local_err = NULL;
    int ret;

    error_set_progname(argv[0]);
    s.objects = g_ptr_array_new();
    parse_args(&s, argc, argv);
    check_args(&s, argc, argv);

    if (s.device || s.disconnect) {
        kernel_client(&s);
    }
    if (s.fork_process) {
        s.ready_fd = qemu_daemon_fork(&local_err);
        if (s.ready_fd < 0) {
            error_report_err(local_err);
            exit(EXIT_FAILURE);
        }
    }
    if (qemu_init_main_loop(&local_err) < 0) {
        error_report_err(local_err);
        exit(EXIT_FAILURE);
    }
    /*
     * Clients served in the main loop (no --iothreads) get what an
     * iothread gives its own: a reader about to sleep polls its socket
     * for a while first (adaptive, up to the iothread default).
     */
    qemu_main_loop_enable_polling();
    process_objects(&s);

    ret = s.list ? run_list(&s) : run_server(&s);
    user_creatable_cleanup();
    g_ptr_array_free(s.objects, true);
    return ret;
}
