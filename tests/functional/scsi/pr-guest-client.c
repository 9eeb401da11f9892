/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pr-guest-client: the success path of qemu-pr-helper on a SCSI disk that
 * implements persistent reservations (a LIO tcm_loop LUN in the guest of
 * guest.py). Drives REGISTER, RESERVE, READ KEYS, READ RESERVATION,
 * REPORT CAPABILITIES, RELEASE and unregister through our
 * pr-manager-helper client and the helper on SOCKET, checks every answer,
 * and compares each PR IN answer with the same command sent to the disk
 * directly with SG_IO (and, when sg_persist is in PATH, with what
 * sg_persist reads). Prints TAP.
 *
 *     pr-guest-client SOCKET DEVICE [PATHS]
 *
 * PATHS (default 1): the I_T nexuses a registration reaches. On a
 * dm-multipath map over two paths to one LUN, a helper that runs PR OUT
 * through libmpathpersist registers the key on both, so READ KEYS lists
 * it twice; one SG_IO on the map would register it on one path only.
 *
 * Theory of operation: the main thread runs each command in a coroutine
 * of the main context (the manager's blocking part runs on the thread
 * pool) and spins the main loop until it finishes. Nothing else runs.
 */
#include "qemu/osdep.h"
#include <sys/ioctl.h>
#include "block/aio.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qom/object_interfaces.h"
#include "scsi/constants.h"
#include "scsi/pr-manager.h"

#define KEY1            0x123456789abcdef0ULL
#define KEY2            0x0badc0ffee000002ULL
#define PR_TYPE_WE      1               /* write exclusive */
#define DATA_LEN        256

typedef struct PRGuestCmd {
    PRManager *pr_mgr;
    int fd;
    uint8_t cdb[10];
    uint8_t param[PR_OUT_FIXED_PARAM_SIZE];
    uint8_t data[DATA_LEN];
    uint8_t sense[96];
    struct sg_io_hdr hdr;
    int ret;
    bool finished;
} PRGuestCmd;

typedef struct PRGuestTest {
    PRManager *pr_mgr;
    const char *dev;
    int fd;                     /* O_RDWR */
    int paths;                  /* registrations per REGISTER */
    int n;
    int failed;
} PRGuestTest;

/* Big-endian fields of the parameter data */
static uint64_t get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = v & 0xff;
        v >>= 8;
    }
}

static bool ok(PRGuestTest *t, bool cond, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static bool ok(PRGuestTest *t, bool cond, const char *fmt, ...)
{
    g_autofree char *name = NULL;
    va_list ap;

    va_start(ap, fmt);
    name = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    t->n++;
    if (!cond) {
        t->failed++;
    }
    printf("%sok %d - %s\n", cond ? "" : "not ", t->n, name);
    return cond;
}

static void diag_hex(const char *what, const uint8_t *buf, size_t len)
{
    printf("# %s:", what);
    for (size_t i = 0; i < len; i++) {
        printf(" %02x", buf[i]);
    }
    printf("\n");
}

static void coroutine_fn pr_guest_co(void *opaque)
{
    PRGuestCmd *cmd = opaque;

    cmd->ret = pr_manager_execute(cmd->pr_mgr, qemu_get_aio_context(),
                                  cmd->fd, &cmd->hdr);
    cmd->finished = true;
}

static void pr_guest_prepare(PRGuestCmd *cmd, int fd, bool out,
                             uint8_t sa, uint8_t type)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->fd = fd;
    cmd->cdb[0] = out ? PERSISTENT_RESERVE_OUT : PERSISTENT_RESERVE_IN;
    cmd->cdb[1] = sa;
    cmd->cdb[2] = type;
    /* Bytes 7-8: allocation or parameter list length */
    cmd->cdb[7] = (out ? PR_OUT_FIXED_PARAM_SIZE : DATA_LEN) >> 8;
    cmd->cdb[8] = (out ? PR_OUT_FIXED_PARAM_SIZE : DATA_LEN) & 0xff;
    cmd->hdr.interface_id = 'S';
    cmd->hdr.cmdp = cmd->cdb;
    cmd->hdr.cmd_len = sizeof(cmd->cdb);
    cmd->hdr.dxfer_direction = out ? SG_DXFER_TO_DEV : SG_DXFER_FROM_DEV;
    cmd->hdr.dxferp = out ? cmd->param : cmd->data;
    cmd->hdr.dxfer_len = out ? sizeof(cmd->param) : sizeof(cmd->data);
    cmd->hdr.sbp = cmd->sense;
    cmd->hdr.mx_sb_len = sizeof(cmd->sense);
    cmd->hdr.timeout = 10000;
    /* Bytes nobody writes must not look like an answer. */
    memset(cmd->data, 0xcc, sizeof(cmd->data));
}

/* Runs @cmd through the helper; returns the SCSI status or -1. */
static int pr_guest_run_helper(PRGuestTest *t, PRGuestCmd *cmd)
{
    Coroutine *co;

    cmd->pr_mgr = t->pr_mgr;
    co = qemu_coroutine_create(pr_guest_co, cmd);
    aio_co_enter(qemu_get_aio_context(), co);
    while (!cmd->finished) {
        main_loop_wait(false);
    }
    if (cmd->ret < 0) {
        printf("# %s: pr_manager_execute: %s\n", t->dev,
               strerror(-cmd->ret));
        return -1;
    }
    if (cmd->hdr.status == CHECK_CONDITION) {
        diag_hex("sense", cmd->sense, cmd->hdr.sb_len_wr);
    }
    return cmd->hdr.status;
}

/* Runs @cmd with SG_IO on the device itself; returns the status or -1. */
static int pr_guest_run_direct(PRGuestTest *t, PRGuestCmd *cmd)
{
    if (ioctl(cmd->fd, SG_IO, &cmd->hdr) < 0) {
        printf("# %s: SG_IO: %s\n", t->dev, strerror(errno));
        return -1;
    }
    if (cmd->hdr.host_status || (cmd->hdr.driver_status & ~0x08)) {
        printf("# %s: SG_IO host 0x%x driver 0x%x\n", t->dev,
               cmd->hdr.host_status, cmd->hdr.driver_status);
        return -1;
    }
    return cmd->hdr.status;
}

static int pr_guest_out(PRGuestTest *t, int fd, uint8_t sa, uint8_t type,
                        uint64_t key, uint64_t sa_key)
{
    PRGuestCmd cmd;

    pr_guest_prepare(&cmd, fd, true, sa, type);
    put_be64(cmd.param, key);
    put_be64(cmd.param + 8, sa_key);
    return pr_guest_run_helper(t, &cmd);
}

/*
 * PR IN @sa through the helper into @data (DATA_LEN bytes); checks the
 * answer's length against the parameter data's own length field and that
 * the same command sent directly returns the same bytes.
 * Returns: the number of bytes received, or -1 (a failure was printed).
 */
static int pr_guest_in(PRGuestTest *t, uint8_t sa, uint8_t *data,
                       const char *what)
{
    PRGuestCmd cmd, direct;
    int status, len, want;

    pr_guest_prepare(&cmd, t->fd, false, sa, 0);
    status = pr_guest_run_helper(t, &cmd);
    if (!ok(t, status == GOOD, "%s through the helper: GOOD (status %d)",
            what, status)) {
        return -1;
    }
    len = DATA_LEN - cmd.hdr.resid;
    if (sa == PRI_REPORT_CAPABILITIES) {
        want = len >= 2 ? get_be(cmd.data, 2) : -1;
    } else {
        want = len >= 8 ? 8 + (int)get_be(cmd.data + 4, 4) : -1;
    }
    if (!ok(t, len >= 8 && len == want,
            "%s: %d bytes, as the parameter data says (%d)", what, len,
            want)) {
        diag_hex("data", cmd.data, MAX(MIN(len, 64), 0));
        return -1;
    }
    memcpy(data, cmd.data, len);

    pr_guest_prepare(&direct, t->fd, false, sa, 0);
    status = pr_guest_run_direct(t, &direct);
    if (!ok(t, status == GOOD && DATA_LEN - direct.hdr.resid == len &&
            memcmp(direct.data, data, len) == 0,
            "%s: same bytes as SG_IO on %s directly", what, t->dev)) {
        diag_hex("helper", data, len);
        diag_hex("direct", direct.data, MAX(DATA_LEN - direct.hdr.resid, 0));
        return -1;
    }
    return len;
}

/* Runs sg_persist with @arg; checks that its output has every needle. */
static void pr_guest_sg_persist(PRGuestTest *t, const char *arg,
                                const char *const *needles)
{
    g_autofree char *path = g_find_program_in_path("sg_persist");
    g_autofree char *out = NULL;
    g_autofree char *lower = NULL;
    const char *argv[] = { "sg_persist", "-n", arg, t->dev, NULL };
    int wait_status;
    bool found = true;

    if (!path) {
        printf("ok %d - sg_persist %s # SKIP sg_persist not found\n",
               ++t->n, arg);
        return;
    }
    argv[0] = path;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &wait_status, NULL)) {
        ok(t, false, "sg_persist %s runs", arg);
        return;
    }
    lower = g_ascii_strdown(out, -1);
    for (; *needles; needles++) {
        if (!strstr(lower, *needles)) {
            found = false;
        }
    }
    if (!ok(t, WIFEXITED(wait_status) &&
            WEXITSTATUS(wait_status) == 0 && found,
            "sg_persist %s on %s agrees", arg, t->dev)) {
        printf("# %s", out);
    }
}

static bool sense_is(PRGuestCmd *cmd, uint8_t key, uint8_t asc)
{
    return cmd->hdr.status == CHECK_CONDITION && cmd->hdr.sb_len_wr >= 14 &&
           (cmd->sense[2] & 0xf) == key && cmd->sense[12] == asc;
}

/* What the multipath path does not do, and says so. */
static void pr_guest_mpath_refusals(PRGuestTest *t)
{
    PRGuestCmd cmd;

    pr_guest_prepare(&cmd, t->fd, false, PRI_READ_FULL_STATUS, 0);
    pr_guest_run_helper(t, &cmd);
    ok(t, sense_is(&cmd, ILLEGAL_REQUEST, 0x24), "multipath: READ FULL "
       "STATUS: CHECK CONDITION, INVALID FIELD IN CDB");

    /* SPEC_I_PT: transport IDs would follow; not supported. */
    pr_guest_prepare(&cmd, t->fd, true, PRO_REGISTER_AND_IGNORE_EXISTING_KEY,
                     0);
    put_be64(cmd.param + 8, KEY2);
    cmd.param[20] = 0x08;
    pr_guest_run_helper(t, &cmd);
    ok(t, sense_is(&cmd, ILLEGAL_REQUEST, 0x26), "multipath: SPEC_I_PT: "
       "CHECK CONDITION, INVALID FIELD IN PARAMETER LIST");

    pr_guest_prepare(&cmd, t->fd, true, PRO_REGISTER_AND_MOVE, PR_TYPE_WE);
    put_be64(cmd.param, KEY1);
    put_be64(cmd.param + 8, KEY2);
    pr_guest_run_helper(t, &cmd);
    ok(t, sense_is(&cmd, ILLEGAL_REQUEST, 0x24), "multipath: REGISTER AND "
       "MOVE: CHECK CONDITION, INVALID FIELD IN CDB");
}

static void pr_guest_sequence(PRGuestTest *t)
{
    g_autofree char *nkeys = g_strdup_printf("%d registered reservation "
                                             "key", t->paths);
    const char *const keys_needles[] = {
        nkeys, "0x123456789abcdef0", NULL
    };
    static const char *const resv_needles[] = {
        "key=0x123456789abcdef0", "write exclusive", NULL
    };
    uint8_t data[DATA_LEN];
    uint32_t gen0;
    int status, len, ro_fd;

    /* Start clean: no key registered, no reservation. */
    len = pr_guest_in(t, PRI_READ_KEYS, data, "READ KEYS (empty)");
    if (len < 0) {
        return;
    }
    gen0 = (uint32_t)get_be(data, 4);
    ok(t, get_be(data + 4, 4) == 0, "no key registered at the start");

    status = pr_guest_out(t, t->fd, PRO_REGISTER, 0, 0, KEY1);
    ok(t, status == GOOD, "REGISTER key 0x%" PRIx64 ": GOOD (status %d)",
       (uint64_t)KEY1, status);

    len = pr_guest_in(t, PRI_READ_KEYS, data, "READ KEYS");
    if (len >= 0) {
        bool all = len == 8 + 8 * t->paths;

        for (int i = 0; all && i < t->paths; i++) {
            all = get_be(data + 8 + 8 * i, 8) == KEY1;
        }
        ok(t, all, "READ KEYS: the registered key, %d time(s)", t->paths);
        ok(t, (uint32_t)get_be(data, 4) > gen0, "PR generation went up (%" PRIu32
           " -> %" PRIu32 ")", gen0, (uint32_t)get_be(data, 4));
    }

    status = pr_guest_out(t, t->fd, PRO_RESERVE, PR_TYPE_WE, KEY1, 0);
    ok(t, status == GOOD, "RESERVE write exclusive: GOOD (status %d)",
       status);

    len = pr_guest_in(t, PRI_READ_RESERVATION, data, "READ RESERVATION");
    if (len >= 0) {
        ok(t, len == 24 && get_be(data + 8, 8) == KEY1 &&
           (data[21] & 0x0f) == PR_TYPE_WE && (data[21] >> 4) == 0,
           "READ RESERVATION: our key, write exclusive, LU scope");
    }
    pr_guest_sg_persist(t, "--read-keys", keys_needles);
    pr_guest_sg_persist(t, "--read-reservation", resv_needles);

    /* The device's own errors come back as they are. */
    status = pr_guest_out(t, t->fd, PRO_RESERVE, PR_TYPE_WE, KEY2, 0);
    ok(t, status == RESERVATION_CONFLICT,
       "RESERVE with an unregistered key: RESERVATION CONFLICT "
       "(status 0x%02x)", status);

    ro_fd = open(t->dev, O_RDONLY);
    if (ro_fd >= 0) {
        PRGuestCmd cmd;

        pr_guest_prepare(&cmd, ro_fd, true, PRO_RELEASE, PR_TYPE_WE);
        put_be64(cmd.param, KEY1);
        status = pr_guest_run_helper(t, &cmd);
        ok(t, status == CHECK_CONDITION && cmd.hdr.sb_len_wr >= 14 &&
           (cmd.sense[2] & 0xf) == ILLEGAL_REQUEST && cmd.sense[12] == 0x20,
           "RELEASE on a read-only fd: CHECK CONDITION, INVALID OPCODE");
        close(ro_fd);
    } else {
        ok(t, false, "open %s read-only: %s", t->dev, strerror(errno));
    }

    len = pr_guest_in(t, PRI_REPORT_CAPABILITIES, data,
                      "REPORT CAPABILITIES");
    if (len >= 0) {
        /* Type mask: the device supports write exclusive. */
        ok(t, len == 8 && (data[4] & 0x02), "REPORT CAPABILITIES: 8 bytes, "
           "write exclusive in the type mask");
    }

    if (t->paths > 1) {
        pr_guest_mpath_refusals(t);
    }

    status = pr_guest_out(t, t->fd, PRO_RELEASE, PR_TYPE_WE, KEY1, 0);
    ok(t, status == GOOD, "RELEASE: GOOD (status %d)", status);
    len = pr_guest_in(t, PRI_READ_RESERVATION, data,
                      "READ RESERVATION after RELEASE");
    if (len >= 0) {
        ok(t, len == 8, "no reservation after RELEASE");
    }

    status = pr_guest_out(t, t->fd, PRO_REGISTER, 0, KEY1, 0);
    ok(t, status == GOOD, "unregister (REGISTER with key 0): GOOD "
       "(status %d)", status);
    len = pr_guest_in(t, PRI_READ_KEYS, data, "READ KEYS at the end");
    if (len >= 0) {
        ok(t, len == 8, "no key registered at the end");
    }
}

int main(int argc, char **argv)
{
    g_autofree char *opts = NULL;
    Error *local_err = NULL;
    PRGuestTest t = { 0 };

    error_set_progname(argv[0]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 3 && argc != 4) {
        error_report("usage: %s SOCKET DEVICE [PATHS]", argv[0]);
        return 2;
    }
    t.dev = argv[2];
    t.paths = argc == 4 ? atoi(argv[3]) : 1;
    if (t.paths < 1 || t.paths > 8) {
        error_report("PATHS must be 1 to 8");
        return 2;
    }
    t.fd = open(t.dev, O_RDWR);
    if (t.fd < 0) {
        printf("not ok 1 - open %s: %s\n1..1\n", t.dev, strerror(errno));
        return 1;
    }
    if (qemu_init_main_loop(&local_err) < 0) {
        error_report_err(local_err);
        return 1;
    }
    opts = g_strdup_printf("pr-manager-helper,id=pr0,path=%s", argv[1]);
    if (!user_creatable_add_from_str(opts, &local_err)) {
        printf("not ok 1 - connect to %s: %s\n1..1\n", argv[1],
               error_get_pretty(local_err));
        error_free(local_err);
        return 1;
    }
    t.pr_mgr = pr_manager_lookup("pr0", &error_abort);

    pr_guest_sequence(&t);

    user_creatable_del("pr0", &error_abort);
    close(t.fd);
    printf("1..%d\n", t.n);
    return t.failed ? 1 : 0;
}
