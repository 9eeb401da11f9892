/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-pr-helper's multipath path (libmpathpersist + libdevmapper).
 *
 * A reservation on a dm-multipath map must hold on every path: REGISTER
 * has to reach each I_T nexus, which one SG_IO on the map (forwarded to a
 * single path) does not do. libmpathpersist runs the command on the
 * paths; its answers come back as C structures and status codes, which
 * this file turns back into SPC parameter data and sense.
 *
 * Theory of operation: pr_helper_mpath_init() runs once in the main
 * thread; the PR calls run in thread pool workers, one at a time (the
 * caller serializes them: libmpathpersist discovers paths into global
 * state on each call). pr_helper_mpath_is_mpath() only asks the
 * device-mapper for a table and may run anywhere.
 */
#include "qemu/osdep.h"
#include <sys/sysmacros.h>
#include <libdevmapper.h>
#include <mpath_persist.h>
#include "qapi/error.h"
#include "scsi/constants.h"
#include "scsi/pr-helper.h"
#include "scsi/pr-helper-mpath.h"
#include "scsi/utils.h"

static bool pr_helper_mpath_verbose;

static void pr_helper_mpath_dm_log(int level, const char *file, int line,
                                   int dm_errno_or_class, const char *f,
                                   ...)
{
    /* A client's fd that is no dm device is routine: stay quiet. */
}

int pr_helper_mpath_init(bool verbose, Error **errp)
{
    char version[64];

    pr_helper_mpath_verbose = verbose;
    if (!verbose) {
        dm_log_with_errno_init(pr_helper_mpath_dm_log);
    }
    /*
     * libdevmapper opens /dev/mapper/control (root-only) on first use and
     * keeps it: open it now, while -u/-g have not taken effect. Without
     * a device-mapper there are no multipath devices to care about.
     */
    if (!dm_driver_version(version, sizeof(version))) {
        return 0;
    }
    if (libmpathpersist_init() != 0) {
        error_setg(errp, "libmpathpersist failed to initialize");
        return -1;
    }
    return 1;
}

bool pr_helper_mpath_is_mpath(int fd)
{
    struct dm_task *dmt;
    struct stat st;
    uint64_t start, length;
    char *type = NULL;
    char *params = NULL;
    bool ret = false;

    if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) ||
        !dm_is_dm_major(major(st.st_rdev))) {
        return false;
    }
    dmt = dm_task_create(DM_DEVICE_TABLE);
    if (!dmt) {
        return false;
    }
    if (dm_task_set_major(dmt, major(st.st_rdev)) &&
        dm_task_set_minor(dmt, minor(st.st_rdev)) &&
        dm_task_no_open_count(dmt) && dm_task_run(dmt)) {
        void *next = dm_get_next_target(dmt, NULL, &start, &length, &type,
                                        &params);
        /* Exactly one target, and a multipath one. */
        ret = !next && type && !strcmp(type, "multipath");
    }
    dm_task_destroy(dmt);
    return ret;
}

/* libmpathpersist's outcome as a SCSI status, with sense when needed. */
static int pr_helper_mpath_status(int r, uint8_t *sense)
{
    SCSISense code;

    switch (r) {
    case MPATH_PR_SUCCESS:
        return GOOD;
    case MPATH_PR_RESERV_CONFLICT:
        return RESERVATION_CONFLICT;
    /*
     * The library keeps only the sense key of the path's answer; give
     * each key the most general code that carries it.
     */
    case MPATH_PR_SENSE_NOT_READY:
        code = SENSE_CODE(LUN_NOT_READY);
        break;
    case MPATH_PR_SENSE_MEDIUM_ERROR:
        code = SENSE_CODE(READ_ERROR);
        break;
    case MPATH_PR_SENSE_HARDWARE_ERROR:
        code = SENSE_CODE(TARGET_FAILURE);
        break;
    case MPATH_PR_SYNTAX_ERROR:
    case MPATH_PR_ILLEGAL_REQ:
        code = SENSE_CODE(INVALID_FIELD);
        break;
    case MPATH_PR_SENSE_UNIT_ATTENTION:
        code = SENSE_CODE(RESET);
        break;
    case MPATH_PR_SENSE_INVALID_OP:
        code = SENSE_CODE(INVALID_OPCODE);
        break;
    case MPATH_PR_SENSE_ABORTED_COMMAND:
        code = SENSE_CODE(COMMAND_ABORTED);
        break;
    case MPATH_PR_NO_SENSE:
        code = SENSE_CODE(NO_SENSE);
        break;
    default:
        /* No path answered, or the map could not be read. */
        code = SENSE_CODE(LUN_COMM_FAILURE);
        break;
    }
    scsi_build_sense(sense, code);
    return CHECK_CONDITION;
}

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

int pr_helper_mpath_pr_in(int fd, const uint8_t *cdb, uint8_t *sense,
                          uint8_t *buf, uint32_t *sz)
{
    int sa = cdb[1] & 0x1f;
    g_autofree struct prin_resp *resp = NULL;
    uint32_t len;
    int r;

    *sz = 0;
    switch (sa) {
    case MPATH_PRIN_RKEY_SA:
    case MPATH_PRIN_RRES_SA:
    case MPATH_PRIN_RCAP_SA:
        break;
    default:
        scsi_build_sense(sense, SENSE_CODE(INVALID_FIELD));
        return CHECK_CONDITION;
    }

    resp = g_new0(struct prin_resp, 1);
    r = mpath_persistent_reserve_in(fd, sa, resp, pr_helper_mpath_verbose,
                                    pr_helper_mpath_verbose ? 1 : 0);
    if (r != MPATH_PR_SUCCESS) {
        return pr_helper_mpath_status(r, sense);
    }

    /* The library hands back host-order integers; SPC wants big-endian. */
    memset(buf, 0, PR_HELPER_DATA_SIZE);
    switch (sa) {
    case MPATH_PRIN_RKEY_SA: {
        struct prin_readdescr *rk = &resp->prin_descriptor.prin_readkeys;

        len = MIN(rk->additional_length, PR_HELPER_DATA_SIZE - 8);
        len = MIN(len, sizeof(rk->key_list));
        put_be32(buf, rk->prgeneration);
        put_be32(buf + 4, rk->additional_length);
        memcpy(buf + 8, rk->key_list, len);
        *sz = 8 + len;
        break;
    }
    case MPATH_PRIN_RRES_SA: {
        struct prin_resvdescr *rr = &resp->prin_descriptor.prin_readresv;

        put_be32(buf, rr->prgeneration);
        put_be32(buf + 4, rr->additional_length);
        *sz = 8;
        if (rr->additional_length >= 16) {
            memcpy(buf + 8, rr->key, 8);
            buf[21] = rr->scope_type;
            *sz = 24;
        }
        break;
    }
    case MPATH_PRIN_RCAP_SA: {
        struct prin_capdescr *rc = &resp->prin_descriptor.prin_readcap;

        put_be16(buf, rc->length);
        buf[2] = rc->flags[0];
        buf[3] = rc->flags[1];
        put_be16(buf + 4, rc->pr_type_mask);
        *sz = 8;
        break;
    }
    }
    return GOOD;
}

int pr_helper_mpath_pr_out(int fd, const uint8_t *cdb, uint8_t *sense,
                           const uint8_t *param, uint32_t len)
{
    int sa = cdb[1] & 0x1f;
    int scope = cdb[2] >> 4;
    int type = cdb[2] & 0x0f;
    g_autofree struct prout_param_descriptor *paramp = NULL;
    int r;

    switch (sa) {
    case MPATH_PROUT_REG_SA:
    case MPATH_PROUT_RES_SA:
    case MPATH_PROUT_REL_SA:
    case MPATH_PROUT_CLEAR_SA:
    case MPATH_PROUT_PREE_SA:
    case MPATH_PROUT_PREE_AB_SA:
    case MPATH_PROUT_REG_IGN_SA:
        break;
    default:
        /* REGISTER AND MOVE carries a transport ID: not supported. */
        scsi_build_sense(sense, SENSE_CODE(INVALID_FIELD));
        return CHECK_CONDITION;
    }
    if (len != PR_OUT_FIXED_PARAM_SIZE) {
        scsi_build_sense(sense, SENSE_CODE(INVALID_PARAM_LEN));
        return CHECK_CONDITION;
    }
    if (param[20] & MPATH_F_SPEC_I_PT_MASK) {
        scsi_build_sense(sense, SENSE_CODE(INVALID_PARAM));
        return CHECK_CONDITION;
    }

    paramp = g_malloc0(sizeof(*paramp));
    memcpy(paramp->key, param, 8);
    memcpy(paramp->sa_key, param + 8, 8);
    paramp->sa_flags = param[20];
    r = mpath_persistent_reserve_out(fd, sa, scope, type, paramp,
                                     pr_helper_mpath_verbose,
                                     pr_helper_mpath_verbose ? 1 : 0);
    return pr_helper_mpath_status(r, sense);
}
