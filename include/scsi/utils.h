/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SCSI helpers shared by the persistent reservation helper and its client:
 * building, parsing and converting sense data, and mapping errno values
 * and host adapter statuses to a SCSI status plus sense code.
 *
 * Everything here is pure computation on caller-provided buffers, callable
 * from any thread or coroutine.
 */
#ifndef SCSI_UTILS_H
#define SCSI_UTILS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scsi/constants.h"

/* Largest sense buffer we keep or forward */
#define SCSI_SENSE_LEN              18      /* fixed format, as built */
#define SCSI_SENSE_BUF_SIZE         252

/**
 * SCSISense:
 * @key: sense key (NOT_READY, ILLEGAL_REQUEST, ...)
 * @asc: additional sense code
 * @ascq: additional sense code qualifier
 *
 * A sense code independent of the fixed or descriptor sense format.
 */
typedef struct SCSISense {
    uint8_t key;
    uint8_t asc;
    uint8_t ascq;
} SCSISense;

#define SENSE_CODE(x) sense_code_ ## x

/* No error */
extern const SCSISense sense_code_NO_SENSE;
/* NOT READY: logical unit not ready, manual intervention required */
extern const SCSISense sense_code_LUN_NOT_READY;
/* NOT READY: medium not present */
extern const SCSISense sense_code_NO_MEDIUM;
/* NOT READY: medium removal prevented */
extern const SCSISense sense_code_NOT_READY_REMOVAL_PREVENTED;
/* MEDIUM ERROR: unrecovered read error */
extern const SCSISense sense_code_READ_ERROR;
/* HARDWARE ERROR: internal target failure */
extern const SCSISense sense_code_TARGET_FAILURE;
/* ILLEGAL REQUEST: invalid command operation code */
extern const SCSISense sense_code_INVALID_OPCODE;
/* ILLEGAL REQUEST: logical block address out of range */
extern const SCSISense sense_code_LBA_OUT_OF_RANGE;
/* ILLEGAL REQUEST: invalid field in CDB */
extern const SCSISense sense_code_INVALID_FIELD;
/* ILLEGAL REQUEST: invalid field in parameter list */
extern const SCSISense sense_code_INVALID_PARAM;
/* ILLEGAL REQUEST: invalid value in parameter list */
extern const SCSISense sense_code_INVALID_PARAM_VALUE;
/* ILLEGAL REQUEST: parameter list length error */
extern const SCSISense sense_code_INVALID_PARAM_LEN;
/* ILLEGAL REQUEST: logical unit not supported */
extern const SCSISense sense_code_LUN_NOT_SUPPORTED;
/* ILLEGAL REQUEST: saving parameters not supported */
extern const SCSISense sense_code_SAVING_PARAMS_NOT_SUPPORTED;
/* ILLEGAL REQUEST: incompatible medium installed */
extern const SCSISense sense_code_INCOMPATIBLE_FORMAT;
/* ILLEGAL REQUEST: medium removal prevented */
extern const SCSISense sense_code_ILLEGAL_REQ_REMOVAL_PREVENTED;
/* DATA PROTECT: write protected */
extern const SCSISense sense_code_WRITE_PROTECTED;
/* DATA PROTECT: space allocation failed write protect */
extern const SCSISense sense_code_SPACE_ALLOC_FAILED;
/* ABORTED COMMAND: no additional information */
extern const SCSISense sense_code_COMMAND_ABORTED;
/* ABORTED COMMAND: I/O process terminated */
extern const SCSISense sense_code_IO_ERROR;
/* ABORTED COMMAND: logical unit communication failure */
extern const SCSISense sense_code_LUN_COMM_FAILURE;
/* ABORTED COMMAND: command timeout during processing */
extern const SCSISense sense_code_COMMAND_TIMEOUT;
/* ABORTED COMMAND: I_T nexus loss occurred */
extern const SCSISense sense_code_I_T_NEXUS_LOSS;
/* ABORTED COMMAND: logical unit failure */
extern const SCSISense sense_code_LUN_FAILURE;
/* ABORTED COMMAND: overlapped commands attempted */
extern const SCSISense sense_code_OVERLAPPED_COMMANDS;
/* UNIT ATTENTION: power on, reset or bus device reset occurred */
extern const SCSISense sense_code_RESET;
/* UNIT ATTENTION: medium may have changed */
extern const SCSISense sense_code_MEDIUM_CHANGED;
/* UNIT ATTENTION: device internal reset */
extern const SCSISense sense_code_DEVICE_INTERNAL_RESET;
/* UNIT ATTENTION: capacity data has changed */
extern const SCSISense sense_code_CAPACITY_CHANGED;
/* UNIT ATTENTION: reported LUNs data has changed */
extern const SCSISense sense_code_REPORTED_LUNS_CHANGED;
/* UNIT ATTENTION: medium not present */
extern const SCSISense sense_code_UNIT_ATTENTION_NO_MEDIUM;

/**
 * SCSIHostStatus:
 *
 * The host adapter status of a SG_IO request (the kernel's DID_* values).
 */
typedef enum SCSIHostStatus {
    SCSI_HOST_OK = 0x00,
    SCSI_HOST_NO_LUN = 0x01,
    SCSI_HOST_BUSY = 0x02,
    SCSI_HOST_TIME_OUT = 0x03,
    SCSI_HOST_BAD_RESPONSE = 0x04,
    SCSI_HOST_ABORTED = 0x05,
    SCSI_HOST_ERROR = 0x07,
    SCSI_HOST_RESET = 0x08,
    SCSI_HOST_TRANSPORT_DISRUPTED = 0x0e,
    SCSI_HOST_TARGET_FAILURE = 0x10,
    SCSI_HOST_RESERVATION_ERROR = 0x11,
    SCSI_HOST_ALLOCATION_FAILURE = 0x12,
    SCSI_HOST_MEDIUM_ERROR = 0x13,
} SCSIHostStatus;

/* Driver status bits of a SG_IO request */
#define SG_ERR_DRIVER_TIMEOUT       0x06
#define SG_ERR_DRIVER_SENSE         0x08

/**
 * scsi_build_sense:
 * @buf: at least SCSI_SENSE_LEN (18) bytes
 * @sense: the sense code
 *
 * Writes current, fixed-format sense data for @sense to @buf, with
 * additional sense length 10; only the first 18 bytes are written.
 *
 * Returns: the number of bytes written (18).
 */
int scsi_build_sense(uint8_t *buf, SCSISense sense);

/**
 * scsi_build_sense_buf:
 * @buf: the output buffer
 * @size: its size; the sense data is truncated to it
 * @sense: the sense code
 * @fixed: fixed format (18 bytes) if true, descriptor format (8 bytes)
 *         otherwise
 *
 * Returns: the number of bytes written, at most @size.
 */
int scsi_build_sense_buf(uint8_t *buf, size_t size, SCSISense sense,
                         bool fixed);

/**
 * scsi_parse_sense_buf:
 * @buf: sense data in fixed or descriptor format (untrusted)
 * @len: its length
 *
 * Decodes the sense code of @buf. A buffer too short to hold the sense
 * key, or with an unknown response code, decodes as ABORTED COMMAND with
 * no additional sense code; an absent ASC/ASCQ decodes as zero.
 *
 * Returns: the sense code.
 */
SCSISense scsi_parse_sense_buf(const uint8_t *buf, size_t len);

/**
 * scsi_convert_sense:
 * @in_buf: (nullable): sense data in either format (untrusted)
 * @in_len: its length
 * @buf: the output buffer
 * @len: its size
 * @fixed: the output format
 *
 * Re-encodes sense data in the requested format. Data already in that
 * format is copied as is (truncated to @len); an empty input converts as
 * NO SENSE.
 *
 * Returns: the number of bytes written to @buf.
 */
int scsi_convert_sense(const uint8_t *in_buf, size_t in_len,
                       uint8_t *buf, size_t len, bool fixed);

/**
 * scsi_sense_is_fixed:
 * @buf: sense data
 * @len: its length
 *
 * Returns: true if @buf holds fixed-format sense data.
 */
bool scsi_sense_is_fixed(const uint8_t *buf, size_t len);

/**
 * scsi_sense_from_errno:
 * @errno_value: a positive errno value (0 for success)
 * @sense: set to the sense code when the status is CHECK_CONDITION
 *
 * Maps the failure of a SCSI command, as Linux reports it through errno,
 * to a SCSI status and sense code. This is the one errno-to-SCSI table of
 * the project.
 *
 * Returns: the SCSI status (GOOD, CHECK_CONDITION, RESERVATION_CONFLICT,
 * TASK_SET_FULL).
 */
int scsi_sense_from_errno(int errno_value, SCSISense *sense);

/**
 * scsi_sense_from_host_status:
 * @host_status: a SCSIHostStatus (unknown values are accepted)
 * @sense: set to the sense code when the status is CHECK_CONDITION
 *
 * Maps a host adapter status other than SCSI_HOST_OK to a SCSI status
 * and sense code.
 *
 * Returns: the SCSI status.
 */
int scsi_sense_from_host_status(uint8_t host_status, SCSISense *sense);

/**
 * scsi_sense_to_errno:
 * @key: sense key
 * @asc: additional sense code
 * @ascq: additional sense code qualifier
 *
 * Returns: the (positive) errno value a block layer would report for a
 * command that failed with this sense, 0 for NO SENSE and RECOVERED
 * ERROR.
 */
int scsi_sense_to_errno(int key, int asc, int ascq);

/**
 * scsi_sense_buf_to_errno:
 * @buf: sense data (untrusted)
 * @len: its length
 *
 * Returns: scsi_sense_to_errno() of the decoded sense code.
 */
int scsi_sense_buf_to_errno(const uint8_t *buf, size_t len);

/**
 * scsi_cdb_length:
 * @cdb: a CDB (at least one byte)
 *
 * Returns: the length of the CDB implied by its operation code group, or
 * -1 for a reserved or vendor-specific group.
 */
int scsi_cdb_length(const uint8_t *cdb);

/**
 * scsi_cdb_xfer:
 * @cdb: a CDB of at least scsi_cdb_length() bytes
 *
 * Returns: the transfer length field of @cdb as its group defines it (for
 * PERSISTENT RESERVE IN/OUT, bytes 7-8), or -1 for an unknown group.
 */
int64_t scsi_cdb_xfer(const uint8_t *cdb);

#endif /* SCSI_UTILS_H */
