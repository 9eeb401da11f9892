/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Sense data building, parsing and conversion, and the errno and host
 * status mappings of scsi/utils.c.
 */
#include "qemu/osdep.h"
#include "scsi/utils.h"

static void test_build_fixed(void)
{
    static const uint8_t want[18] = {
        0x70, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x0a,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00,
    };
    uint8_t buf[32];

    memset(buf, 0xaa, sizeof(buf));
    g_assert_cmpint(scsi_build_sense(buf, SENSE_CODE(IO_ERROR)), ==, 18);
    g_assert_cmpmem(buf, 18, want, 18);
    /* Nothing past the 18 bytes is touched. */
    g_assert_cmpint(buf[18], ==, 0xaa);
}

static void test_build_desc(void)
{
    static const uint8_t want[8] = { 0x72, 0x05, 0x20, 0x00, 0, 0, 0, 0 };
    uint8_t buf[8];

    g_assert_cmpint(scsi_build_sense_buf(buf, sizeof(buf),
                                         SENSE_CODE(INVALID_OPCODE), false),
                    ==, 8);
    g_assert_cmpmem(buf, 8, want, 8);
    /* Truncated to the buffer. */
    g_assert_cmpint(scsi_build_sense_buf(buf, 3, SENSE_CODE(INVALID_OPCODE),
                                         true), ==, 3);
}

static void test_parse(void)
{
    uint8_t buf[18];
    SCSISense s;

    scsi_build_sense(buf, SENSE_CODE(LUN_COMM_FAILURE));
    s = scsi_parse_sense_buf(buf, sizeof(buf));
    g_assert_cmpint(s.key, ==, ABORTED_COMMAND);
    g_assert_cmpint(s.asc, ==, 0x08);
    g_assert_cmpint(s.ascq, ==, 0x00);

    scsi_build_sense_buf(buf, 8, SENSE_CODE(NO_MEDIUM), false);
    s = scsi_parse_sense_buf(buf, 8);
    g_assert_cmpint(s.key, ==, NOT_READY);
    g_assert_cmpint(s.asc, ==, 0x3a);

    /* Short or empty buffers do not read past their end. */
    s = scsi_parse_sense_buf(buf, 0);
    g_assert_cmpint(s.key, ==, ABORTED_COMMAND);
    buf[0] = 0x70;
    buf[2] = 0x06;
    s = scsi_parse_sense_buf(buf, 3);
    g_assert_cmpint(s.key, ==, UNIT_ATTENTION);
    g_assert_cmpint(s.asc, ==, 0);
}

static void test_convert(void)
{
    uint8_t fixed[18], desc[8], out[32];
    int len;

    scsi_build_sense(fixed, SENSE_CODE(INVALID_FIELD));
    len = scsi_convert_sense(fixed, sizeof(fixed), out, sizeof(out), false);
    scsi_build_sense_buf(desc, sizeof(desc), SENSE_CODE(INVALID_FIELD),
                         false);
    g_assert_cmpmem(out, len, desc, sizeof(desc));

    len = scsi_convert_sense(desc, sizeof(desc), out, sizeof(out), true);
    g_assert_cmpmem(out, len, fixed, sizeof(fixed));

    /* Same format: copied. */
    len = scsi_convert_sense(fixed, sizeof(fixed), out, sizeof(out), true);
    g_assert_cmpmem(out, len, fixed, sizeof(fixed));

    /* Nothing in: NO SENSE. */
    len = scsi_convert_sense(NULL, 0, out, sizeof(out), true);
    g_assert_cmpint(len, ==, 18);
    g_assert_cmpint(out[2], ==, NO_SENSE);
    g_assert_true(scsi_sense_is_fixed(out, len));
}

static void check_errno(int err, int status, SCSISense want)
{
    SCSISense s = { 0xff, 0xff, 0xff };

    g_assert_cmpint(scsi_sense_from_errno(err, &s), ==, status);
    if (status == CHECK_CONDITION) {
        g_assert_cmpint(s.key, ==, want.key);
        g_assert_cmpint(s.asc, ==, want.asc);
        g_assert_cmpint(s.ascq, ==, want.ascq);
    }
}

static void test_from_errno(void)
{
    check_errno(0, GOOD, SENSE_CODE(NO_SENSE));
    check_errno(EDOM, TASK_SET_FULL, SENSE_CODE(NO_SENSE));
    check_errno(EBADE, RESERVATION_CONFLICT, SENSE_CODE(NO_SENSE));
    check_errno(ENODATA, CHECK_CONDITION, SENSE_CODE(READ_ERROR));
    check_errno(EREMOTEIO, CHECK_CONDITION, SENSE_CODE(TARGET_FAILURE));
    check_errno(ENOMEDIUM, CHECK_CONDITION, SENSE_CODE(NO_MEDIUM));
    check_errno(ENOMEM, CHECK_CONDITION, SENSE_CODE(TARGET_FAILURE));
    check_errno(EINVAL, CHECK_CONDITION, SENSE_CODE(INVALID_FIELD));
    check_errno(ENOSPC, CHECK_CONDITION, SENSE_CODE(SPACE_ALLOC_FAILED));
    check_errno(ENOTTY, CHECK_CONDITION, SENSE_CODE(IO_ERROR));
    check_errno(EIO, CHECK_CONDITION, SENSE_CODE(IO_ERROR));
}

static void check_host(int host, int status, SCSISense want)
{
    SCSISense s = { 0xff, 0xff, 0xff };

    g_assert_cmpint(scsi_sense_from_host_status(host, &s), ==, status);
    if (status == CHECK_CONDITION) {
        g_assert_cmpint(s.key, ==, want.key);
        g_assert_cmpint(s.asc, ==, want.asc);
        g_assert_cmpint(s.ascq, ==, want.ascq);
    }
}

static void test_from_host_status(void)
{
    check_host(SCSI_HOST_OK, GOOD, SENSE_CODE(NO_SENSE));
    check_host(SCSI_HOST_BUSY, BUSY, SENSE_CODE(NO_SENSE));
    check_host(SCSI_HOST_RESERVATION_ERROR, RESERVATION_CONFLICT,
               SENSE_CODE(NO_SENSE));
    check_host(SCSI_HOST_NO_LUN, CHECK_CONDITION,
               SENSE_CODE(LUN_NOT_SUPPORTED));
    check_host(SCSI_HOST_TIME_OUT, CHECK_CONDITION,
               SENSE_CODE(COMMAND_TIMEOUT));
    check_host(SCSI_HOST_BAD_RESPONSE, CHECK_CONDITION,
               SENSE_CODE(LUN_COMM_FAILURE));
    check_host(SCSI_HOST_ABORTED, CHECK_CONDITION,
               SENSE_CODE(COMMAND_ABORTED));
    check_host(SCSI_HOST_RESET, CHECK_CONDITION, SENSE_CODE(RESET));
    check_host(SCSI_HOST_TRANSPORT_DISRUPTED, CHECK_CONDITION,
               SENSE_CODE(I_T_NEXUS_LOSS));
    check_host(SCSI_HOST_TARGET_FAILURE, CHECK_CONDITION,
               SENSE_CODE(TARGET_FAILURE));
    check_host(SCSI_HOST_ALLOCATION_FAILURE, CHECK_CONDITION,
               SENSE_CODE(SPACE_ALLOC_FAILED));
    check_host(SCSI_HOST_MEDIUM_ERROR, CHECK_CONDITION,
               SENSE_CODE(READ_ERROR));
    check_host(0x42, CHECK_CONDITION, SENSE_CODE(IO_ERROR));
}

static void test_to_errno(void)
{
    uint8_t buf[18];

    g_assert_cmpint(scsi_sense_to_errno(NO_SENSE, 0, 0), ==, 0);
    g_assert_cmpint(scsi_sense_to_errno(ABORTED_COMMAND, 0, 6), ==,
                    ECANCELED);
    g_assert_cmpint(scsi_sense_to_errno(ILLEGAL_REQUEST, 0x20, 0), ==,
                    EINVAL);
    g_assert_cmpint(scsi_sense_to_errno(DATA_PROTECT, 0x27, 0), ==, EACCES);
    g_assert_cmpint(scsi_sense_to_errno(NOT_READY, 0x3a, 0), ==, ENOMEDIUM);
    g_assert_cmpint(scsi_sense_to_errno(MEDIUM_ERROR, 0x11, 0), ==, EIO);
    scsi_build_sense(buf, SENSE_CODE(SPACE_ALLOC_FAILED));
    g_assert_cmpint(scsi_sense_buf_to_errno(buf, sizeof(buf)), ==, ENOSPC);
    g_assert_cmpint(scsi_sense_buf_to_errno(buf, 0), ==, EIO);
}

static void test_cdb(void)
{
    uint8_t pr_in[10] = { PERSISTENT_RESERVE_IN, 0, 0, 0, 0, 0, 0,
                          0x20, 0x01, 0 };
    uint8_t pr_out[10] = { PERSISTENT_RESERVE_OUT, 0, 0, 0, 0, 0xff, 0xff,
                           0x00, 0x18, 0 };
    uint8_t read16[16] = { READ_16 };

    g_assert_cmpint(scsi_cdb_length(pr_in), ==, 10);
    g_assert_cmpint(scsi_cdb_xfer(pr_in), ==, 8193);
    /* Bytes 5-6 of PR OUT are not part of the length. */
    g_assert_cmpint(scsi_cdb_xfer(pr_out), ==, 24);
    read16[13] = 8;
    g_assert_cmpint(scsi_cdb_length(read16), ==, 16);
    g_assert_cmpint(scsi_cdb_xfer(read16), ==, 8);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/scsi/utils/build-fixed", test_build_fixed);
    g_test_add_func("/scsi/utils/build-desc", test_build_desc);
    g_test_add_func("/scsi/utils/parse", test_parse);
    g_test_add_func("/scsi/utils/convert", test_convert);
    g_test_add_func("/scsi/utils/from-errno", test_from_errno);
    g_test_add_func("/scsi/utils/from-host-status", test_from_host_status);
    g_test_add_func("/scsi/utils/to-errno", test_to_errno);
    g_test_add_func("/scsi/utils/cdb", test_cdb);
    return g_test_run();
}
