/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pr-client: drives our pr-manager-helper client for the functional
 * tests. argv[1] is the --object string; commands come on stdin, one per
 * line, and each prints one result line:
 *
 *   in PATH        PR IN READ KEYS (64 bytes) on PATH opened read-only,
 *                  from a coroutine in the main context
 *   in-io PATH     the same from a coroutine in an IOThread
 *   out PATH MODE  PR OUT REGISTER on PATH opened MODE (ro or rw)
 *   connected      the connected property and the query list
 *   quit
 *
 * Theory of operation: the main thread reads stdin and runs the main
 * loop; commands run in coroutines of the main context or of one
 * IOThread, and the main thread waits for them on a QemuEvent.
 */
#include "qemu/osdep.h"
#include "block/aio.h"
#include "qapi/error.h"
#include "qemu/atomic.h"
#include "qemu/coroutine.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qom/object_interfaces.h"
#include "scsi/constants.h"
#include "scsi/pr-manager.h"
#include "scsi/utils.h"
#include "sysemu/iothread.h"

typedef struct PRClientCmd {
    PRManager *pr_mgr;
    AioContext *ctx;
    int fd;
    struct sg_io_hdr hdr;
    uint8_t cdb[10];
    uint8_t sense[96];
    uint8_t data[64];
    int ret;
    bool finished;              /* atomic */
    QemuEvent done;
} PRClientCmd;

static void coroutine_fn pr_client_co(void *opaque)
{
    PRClientCmd *cmd = opaque;

    cmd->ret = pr_manager_execute(cmd->pr_mgr, cmd->ctx, cmd->fd,
                                  &cmd->hdr);
    qatomic_set(&cmd->finished, true);
    qemu_event_set(&cmd->done);
}

static void pr_client_status(PRManager *pr_mgr, const char *id,
                             bool connected, void *opaque)
{
    fprintf(stderr, "event: PR_MANAGER_STATUS_CHANGED id=%s connected=%d\n",
            id, connected);
}

static void pr_client_run(PRManager *pr_mgr, AioContext *ctx,
                          const char *path, bool out, bool rw)
{
    PRClientCmd cmd = { .pr_mgr = pr_mgr, .ctx = ctx };
    g_autofree char *sense = NULL;
    Coroutine *co;

    cmd.fd = open(path, rw ? O_RDWR : O_RDONLY);
    if (cmd.fd < 0) {
        printf("error: %s: %s\n", path, strerror(errno));
        return;
    }
    memset(cmd.sense, 0xcc, sizeof(cmd.sense));
    cmd.cdb[0] = out ? PERSISTENT_RESERVE_OUT : PERSISTENT_RESERVE_IN;
    cmd.cdb[1] = out ? PRO_REGISTER : PRI_READ_KEYS;
    cmd.cdb[8] = out ? PR_OUT_FIXED_PARAM_SIZE : sizeof(cmd.data);
    cmd.hdr.interface_id = 'S';
    cmd.hdr.cmdp = cmd.cdb;
    cmd.hdr.cmd_len = sizeof(cmd.cdb);
    cmd.hdr.dxfer_direction = out ? SG_DXFER_TO_DEV : SG_DXFER_FROM_DEV;
    cmd.hdr.dxferp = cmd.data;
    cmd.hdr.dxfer_len = sizeof(cmd.data);
    cmd.hdr.sbp = cmd.sense;
    cmd.hdr.mx_sb_len = sizeof(cmd.sense);
    qemu_event_init(&cmd.done, false);

    co = qemu_coroutine_create(pr_client_co, &cmd);
    aio_co_enter(ctx, co);
    while (ctx == qemu_get_aio_context() && !qatomic_read(&cmd.finished)) {
        main_loop_wait(false);
    }
    qemu_event_wait(&cmd.done);
    qemu_event_destroy(&cmd.done);
    close(cmd.fd);

    sense = g_strdup("");
    for (int i = 0; i < cmd.hdr.sb_len_wr; i++) {
        char *s = g_strdup_printf("%s%02x", sense, cmd.sense[i]);
        g_free(sense);
        sense = s;
    }
    printf("ret=%d status=0x%02x driver=0x%02x resid=%d sense=%s\n",
           cmd.ret, cmd.hdr.status, cmd.hdr.driver_status, cmd.hdr.resid,
           sense);
}

int main(int argc, char **argv)
{
    Error *local_err = NULL;
    IOThread *iothread;
    PRManager *pr_mgr;
    char line[4096];

    signal(SIGPIPE, SIG_IGN);
    error_set_progname(argv[0]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 3) {
        error_report("usage: %s OBJECT-OPTIONS ID", argv[0]);
        return 2;
    }
    if (qemu_init_main_loop(&local_err) < 0) {
        error_report_err(local_err);
        return 1;
    }
    if (!user_creatable_add_from_str(argv[1], &local_err)) {
        printf("create failed: %s\n", error_get_pretty(local_err));
        error_free(local_err);
        return 1;
    }
    pr_mgr = pr_manager_lookup(argv[2], &error_abort);
    pr_manager_helper_set_status_func(pr_mgr, pr_client_status, NULL);
    printf("created\n");
    iothread = iothread_create("io0", &error_abort);

    while (fgets(line, sizeof(line), stdin)) {
        g_auto(GStrv) words = g_strsplit(g_strstrip(line), " ", 3);
        guint n = g_strv_length(words);

        if (n == 0) {
            continue;
        } else if (!strcmp(words[0], "quit")) {
            break;
        } else if (!strcmp(words[0], "connected")) {
            GList *all = pr_manager_query_all();
            GList *l;

            printf("connected=%d", object_property_get_bool(
                       OBJECT(pr_mgr), "connected", &error_abort));
            for (l = all; l; l = l->next) {
                PRManagerInfo *info = l->data;
                printf(" %s:%d", info->id, info->connected);
            }
            printf("\n");
            g_list_free_full(all, (GDestroyNotify)pr_manager_info_free);
        } else if (!strcmp(words[0], "in") && n == 2) {
            pr_client_run(pr_mgr, qemu_get_aio_context(), words[1], false,
                          false);
        } else if (!strcmp(words[0], "in-io") && n == 2) {
            pr_client_run(pr_mgr, iothread_get_aio_context(iothread),
                          words[1], false, false);
        } else if (!strcmp(words[0], "out") && n == 3) {
            pr_client_run(pr_mgr, qemu_get_aio_context(), words[1], true,
                          !strcmp(words[2], "rw"));
        } else {
            printf("error: unknown command\n");
        }
    }

    iothread_destroy(iothread);
    user_creatable_del(argv[2], &error_abort);
    return 0;
}
