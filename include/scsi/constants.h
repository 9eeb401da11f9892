/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * SCSI constants: operation codes, status bytes, sense keys and the
 * persistent reservation service actions, with the values SPC and SBC
 * assign them.
 */
#ifndef SCSI_CONSTANTS_H
#define SCSI_CONSTANTS_H

/* Operation codes (first CDB byte) */
#define TEST_UNIT_READY             0x00
#define REQUEST_SENSE               0x03
#define READ_6                      0x08
#define WRITE_6                     0x0a
#define INQUIRY                     0x12
#define MODE_SELECT                 0x15
#define RESERVE                     0x16
#define RELEASE                     0x17
#define MODE_SENSE                  0x1a
#define START_STOP                  0x1b
#define READ_CAPACITY_10            0x25
#define READ_10                     0x28
#define WRITE_10                    0x2a
#define VERIFY_10                   0x2f
#define SYNCHRONIZE_CACHE           0x35
#define WRITE_SAME_10               0x41
#define UNMAP                       0x42
#define MODE_SELECT_10              0x55
#define RESERVE_10                  0x56
#define RELEASE_10                  0x57
#define MODE_SENSE_10               0x5a
#define PERSISTENT_RESERVE_IN       0x5e
#define PERSISTENT_RESERVE_OUT      0x5f
#define READ_16                     0x88
#define WRITE_16                    0x8a
#define WRITE_SAME_16               0x93
#define SERVICE_ACTION_IN_16        0x9e
#define REPORT_LUNS                 0xa0
#define MAINTENANCE_IN              0xa3
#define READ_12                     0xa8
#define WRITE_12                    0xaa

/* Status byte */
#define GOOD                        0x00
#define CHECK_CONDITION             0x02
#define CONDITION_GOOD              0x04
#define BUSY                        0x08
#define INTERMEDIATE_GOOD           0x10
#define INTERMEDIATE_C_GOOD         0x14
#define RESERVATION_CONFLICT        0x18
#define COMMAND_TERMINATED          0x22
#define TASK_SET_FULL               0x28
#define ACA_ACTIVE                  0x30
#define TASK_ABORTED                0x40

/* Sense keys */
#define NO_SENSE                    0x00
#define RECOVERED_ERROR             0x01
#define NOT_READY                   0x02
#define MEDIUM_ERROR                0x03
#define HARDWARE_ERROR              0x04
#define ILLEGAL_REQUEST             0x05
#define UNIT_ATTENTION              0x06
#define DATA_PROTECT                0x07
#define BLANK_CHECK                 0x08
#define COPY_ABORTED                0x0a
#define ABORTED_COMMAND             0x0b
#define VOLUME_OVERFLOW             0x0d
#define MISCOMPARE                  0x0e

/* PERSISTENT RESERVE IN service actions (CDB byte 1, low 5 bits) */
#define PRI_READ_KEYS               0x00
#define PRI_READ_RESERVATION        0x01
#define PRI_REPORT_CAPABILITIES     0x02
#define PRI_READ_FULL_STATUS        0x03

/* PERSISTENT RESERVE OUT service actions (CDB byte 1, low 5 bits) */
#define PRO_REGISTER                0x00
#define PRO_RESERVE                 0x01
#define PRO_RELEASE                 0x02
#define PRO_CLEAR                   0x03
#define PRO_PREEMPT                 0x04
#define PRO_PREEMPT_AND_ABORT       0x05
#define PRO_REGISTER_AND_IGNORE_EXISTING_KEY 0x06
#define PRO_REGISTER_AND_MOVE       0x07

/* Length of the basic PERSISTENT RESERVE OUT parameter list */
#define PR_OUT_FIXED_PARAM_SIZE     24

/* Sense data formats (response code, first sense byte) */
#define SENSE_FIXED_CURRENT         0x70
#define SENSE_FIXED_DEFERRED        0x71
#define SENSE_DESC_CURRENT          0x72
#define SENSE_DESC_DEFERRED         0x73

#endif /* SCSI_CONSTANTS_H */
