/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SCSI sense data and status helpers (see include/scsi/utils.h).
 */
#include "qemu/osdep.h"
#include "scsi/utils.h"

const SCSISense sense_code_NO_SENSE = { NO_SENSE, 0x00, 0x00 };
const SCSISense sense_code_LUN_NOT_READY = { NOT_READY, 0x04, 0x03 };
const SCSISense sense_code_NO_MEDIUM = { NOT_READY, 0x3a, 0x00 };
const SCSISense sense_code_NOT_READY_REMOVAL_PREVENTED = {
    NOT_READY, 0x53, 0x02
};
const SCSISense sense_code_READ_ERROR = { MEDIUM_ERROR, 0x11, 0x00 };
const SCSISense sense_code_TARGET_FAILURE = { HARDWARE_ERROR, 0x44, 0x00 };
const SCSISense sense_code_INVALID_OPCODE = { ILLEGAL_REQUEST, 0x20, 0x00 };
const SCSISense sense_code_LBA_OUT_OF_RANGE = {
    ILLEGAL_REQUEST, 0x21, 0x00
};
const SCSISense sense_code_INVALID_FIELD = { ILLEGAL_REQUEST, 0x24, 0x00 };
const SCSISense sense_code_INVALID_PARAM = { ILLEGAL_REQUEST, 0x26, 0x00 };
const SCSISense sense_code_INVALID_PARAM_VALUE = {
    ILLEGAL_REQUEST, 0x26, 0x01
};
const SCSISense sense_code_INVALID_PARAM_LEN = {
    ILLEGAL_REQUEST, 0x1a, 0x00
};
const SCSISense sense_code_LUN_NOT_SUPPORTED = {
    ILLEGAL_REQUEST, 0x25, 0x00
};
const SCSISense sense_code_SAVING_PARAMS_NOT_SUPPORTED = {
    ILLEGAL_REQUEST, 0x39, 0x00
};
const SCSISense sense_code_INCOMPATIBLE_FORMAT = {
    ILLEGAL_REQUEST, 0x30, 0x00
};
const SCSISense sense_code_ILLEGAL_REQ_REMOVAL_PREVENTED = {
    ILLEGAL_REQUEST, 0x53, 0x02
};
const SCSISense sense_code_WRITE_PROTECTED = { DATA_PROTECT, 0x27, 0x00 };
const SCSISense sense_code_SPACE_ALLOC_FAILED = {
    DATA_PROTECT, 0x27, 0x07
};
const SCSISense sense_code_COMMAND_ABORTED = { ABORTED_COMMAND, 0x00, 0x00 };
const SCSISense sense_code_IO_ERROR = { ABORTED_COMMAND, 0x00, 0x06 };
const SCSISense sense_code_LUN_COMM_FAILURE = {
    ABORTED_COMMAND, 0x08, 0x00
};
const SCSISense sense_code_COMMAND_TIMEOUT = { ABORTED_COMMAND, 0x2e, 0x00 };
const SCSISense sense_code_I_T_NEXUS_LOSS = { ABORTED_COMMAND, 0x29, 0x07 };
const SCSISense sense_code_LUN_FAILURE = { ABORTED_COMMAND, 0x3e, 0x01 };
const SCSISense sense_code_OVERLAPPED_COMMANDS = {
    ABORTED_COMMAND, 0x4e, 0x00
};
const SCSISense sense_code_RESET = { UNIT_ATTENTION, 0x29, 0x00 };
const SCSISense sense_code_MEDIUM_CHANGED = { UNIT_ATTENTION, 0x28, 0x00 };
const SCSISense sense_code_DEVICE_INTERNAL_RESET = {
    UNIT_ATTENTION, 0x29, 0x04
};
const SCSISense sense_code_CAPACITY_CHANGED = { UNIT_ATTENTION, 0x2a, 0x09 };
const SCSISense sense_code_REPORTED_LUNS_CHANGED = {
    UNIT_ATTENTION, 0x3f, 0x0e
};
const SCSISense sense_code_UNIT_ATTENTION_NO_MEDIUM = {
    UNIT_ATTENTION, 0x3a, 0x00
};

/* Sizes of the two formats as we build them */
#define FIXED_SENSE_LEN     18
#define DESC_SENSE_LEN      8

int scsi_build_sense_buf(uint8_t *buf, size_t size, SCSISense sense,
                         bool fixed)
{
    uint8_t tmp[FIXED_SENSE_LEN] = { 0 };
    size_t len;

    if (fixed) {
        /* Fixed format: key in byte 2, ASC/ASCQ in bytes 12-13. */
        tmp[0] = SENSE_FIXED_CURRENT;
        tmp[2] = sense.key;
        tmp[7] = FIXED_SENSE_LEN - 8;
        tmp[12] = sense.asc;
        tmp[13] = sense.ascq;
        len = FIXED_SENSE_LEN;
    } else {
        /* Descriptor format with no descriptors. */
        tmp[0] = SENSE_DESC_CURRENT;
        tmp[1] = sense.key;
        tmp[2] = sense.asc;
        tmp[3] = sense.ascq;
        len = DESC_SENSE_LEN;
    }
    len = MIN(len, size);
    memcpy(buf, tmp, len);
    return len;
}

int scsi_build_sense(uint8_t *buf, SCSISense sense)
{
    return scsi_build_sense_buf(buf, FIXED_SENSE_LEN, sense, true);
}

bool scsi_sense_is_fixed(const uint8_t *buf, size_t len)
{
    if (len < 1) {
        return false;
    }
    return (buf[0] & 0x7f) == SENSE_FIXED_CURRENT ||
           (buf[0] & 0x7f) == SENSE_FIXED_DEFERRED;
}

SCSISense scsi_parse_sense_buf(const uint8_t *buf, size_t len)
{
    SCSISense sense = { ABORTED_COMMAND, 0, 0 };
    uint8_t code;

    if (!buf || len < 1) {
        return sense;
    }
    code = buf[0] & 0x7f;
    if (code == SENSE_FIXED_CURRENT || code == SENSE_FIXED_DEFERRED) {
        if (len < 3) {
            return sense;
        }
        sense.key = buf[2] & 0x0f;
        sense.asc = len > 12 ? buf[12] : 0;
        sense.ascq = len > 13 ? buf[13] : 0;
    } else if (code == SENSE_DESC_CURRENT || code == SENSE_DESC_DEFERRED) {
        if (len < 2) {
            return sense;
        }
        sense.key = buf[1] & 0x0f;
        sense.asc = len > 2 ? buf[2] : 0;
        sense.ascq = len > 3 ? buf[3] : 0;
    }
    return sense;
}

int scsi_convert_sense(const uint8_t *in_buf, size_t in_len,
                       uint8_t *buf, size_t len, bool fixed)
{
    SCSISense sense;
    uint8_t code;

    if (!in_buf || in_len == 0) {
        return scsi_build_sense_buf(buf, len, SENSE_CODE(NO_SENSE), fixed);
    }
    code = in_buf[0] & 0x7f;
    if ((fixed && (code == SENSE_FIXED_CURRENT ||
                   code == SENSE_FIXED_DEFERRED)) ||
        (!fixed && (code == SENSE_DESC_CURRENT ||
                    code == SENSE_DESC_DEFERRED))) {
        len = MIN(len, in_len);
        memmove(buf, in_buf, len);
        return len;
    }
    sense = scsi_parse_sense_buf(in_buf, in_len);
    return scsi_build_sense_buf(buf, len, sense, fixed);
}

int scsi_sense_from_errno(int errno_value, SCSISense *sense)
{
    /*
     * Linux reports some SCSI outcomes of SG_IO and of block requests as
     * errno values (see the kernel's SCSI error handling): the reverse of
     * that table, and ABORTED COMMAND / I/O PROCESS TERMINATED for the rest.
     */
    switch (errno_value) {
    case 0:
        return GOOD;
    case EDOM:
        return TASK_SET_FULL;
    case EBADE:
        return RESERVATION_CONFLICT;
    case ENODATA:
        *sense = SENSE_CODE(READ_ERROR);
        break;
    case EREMOTEIO:
        *sense = SENSE_CODE(TARGET_FAILURE);
        break;
    case ENOMEDIUM:
        *sense = SENSE_CODE(NO_MEDIUM);
        break;
    case ENOMEM:
        *sense = SENSE_CODE(TARGET_FAILURE);
        break;
    case EINVAL:
        *sense = SENSE_CODE(INVALID_FIELD);
        break;
    case ENOSPC:
        *sense = SENSE_CODE(SPACE_ALLOC_FAILED);
        break;
    default:
        *sense = SENSE_CODE(IO_ERROR);
        break;
    }
    return CHECK_CONDITION;
}

int scsi_sense_from_host_status(uint8_t host_status, SCSISense *sense)
{
    switch (host_status) {
    case SCSI_HOST_OK:
        return GOOD;
    case SCSI_HOST_BUSY:
        return BUSY;
    case SCSI_HOST_RESERVATION_ERROR:
        return RESERVATION_CONFLICT;
    case SCSI_HOST_NO_LUN:
        *sense = SENSE_CODE(LUN_NOT_SUPPORTED);
        break;
    case SCSI_HOST_TIME_OUT:
        *sense = SENSE_CODE(COMMAND_TIMEOUT);
        break;
    case SCSI_HOST_BAD_RESPONSE:
        *sense = SENSE_CODE(LUN_COMM_FAILURE);
        break;
    case SCSI_HOST_ABORTED:
        *sense = SENSE_CODE(COMMAND_ABORTED);
        break;
    case SCSI_HOST_RESET:
        *sense = SENSE_CODE(RESET);
        break;
    case SCSI_HOST_TRANSPORT_DISRUPTED:
        *sense = SENSE_CODE(I_T_NEXUS_LOSS);
        break;
    case SCSI_HOST_TARGET_FAILURE:
        *sense = SENSE_CODE(TARGET_FAILURE);
        break;
    case SCSI_HOST_ALLOCATION_FAILURE:
        *sense = SENSE_CODE(SPACE_ALLOC_FAILED);
        break;
    case SCSI_HOST_MEDIUM_ERROR:
        *sense = SENSE_CODE(READ_ERROR);
        break;
    default:
        *sense = SENSE_CODE(IO_ERROR);
        break;
    }
    return CHECK_CONDITION;
}

int scsi_sense_to_errno(int key, int asc, int ascq)
{
    switch (key) {
    case NO_SENSE:
    case RECOVERED_ERROR:
    case UNIT_ATTENTION:
        return 0;
    case ABORTED_COMMAND:
        return ECANCELED;
    case NOT_READY:
    case ILLEGAL_REQUEST:
    case DATA_PROTECT:
        break;
    default:
        return EIO;
    }

    switch ((asc << 8) | ascq) {
    case 0x1a00:    /* parameter list length error */
    case 0x2000:    /* invalid command operation code */
    case 0x2400:    /* invalid field in CDB */
    case 0x2600:    /* invalid field in parameter list */
        return EINVAL;
    case 0x2100:    /* LBA out of range */
    case 0x2707:    /* space allocation failed */
        return ENOSPC;
    case 0x2500:    /* logical unit not supported */
        return ENOTSUP;
    case 0x3a00:    /* medium not present, and its variants */
    case 0x3a01:
    case 0x3a02:
        return ENOMEDIUM;
    case 0x2700:    /* write protected */
        return EACCES;
    case 0x0401:    /* becoming ready */
        return EINPROGRESS;
    case 0x0402:    /* initializing command required */
        return ENOTCONN;
    default:
        return EIO;
    }
}

int scsi_sense_buf_to_errno(const uint8_t *buf, size_t len)
{
    SCSISense sense;

    if (len < 1) {
        return EIO;
    }
    sense = scsi_parse_sense_buf(buf, len);
    return scsi_sense_to_errno(sense.key, sense.asc, sense.ascq);
}

int scsi_cdb_length(const uint8_t *cdb)
{
    switch (cdb[0] >> 5) {
    case 0:
        return 6;
    case 1:
    case 2:
        return 10;
    case 4:
        return 16;
    case 5:
        return 12;
    default:
        return -1;
    }
}

int64_t scsi_cdb_xfer(const uint8_t *cdb)
{
    switch (cdb[0] >> 5) {
    case 0:
        return cdb[4];
    case 1:
    case 2:
        return (cdb[7] << 8) | cdb[8];
    case 4:
        return ((uint32_t)cdb[10] << 24) | (cdb[11] << 16) |
               (cdb[12] << 8) | cdb[13];
    case 5:
        return ((uint32_t)cdb[6] << 24) | (cdb[7] << 16) |
               (cdb[8] << 8) | cdb[9];
    default:
        return -1;
    }
}
