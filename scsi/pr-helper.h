/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The pr-helper wire protocol shared by qemu-pr-helper and the
 * pr-manager-helper client (see docs: PR-HELPER.md).
 *
 * Handshake: the helper sends a 4-byte big-endian feature word (0), the
 * client answers with the features it wants (0). Request: a 16-byte CDB
 * carrying the device fd as SCM_RIGHTS, then for PERSISTENT RESERVE OUT
 * the parameter list. Response: PRHelperResponse, then for PERSISTENT
 * RESERVE IN with GOOD status @sz bytes of data.
 */
#ifndef SCSI_PR_HELPER_H
#define SCSI_PR_HELPER_H

#include <stdint.h>

#define PR_HELPER_CDB_SIZE      16
#define PR_HELPER_SENSE_SIZE    96
#define PR_HELPER_DATA_SIZE     8192

/* The fixed part of a response; integers are big-endian on the wire. */
typedef struct PRHelperResponse {
    uint32_t result;
    uint32_t sz;
    uint8_t sense[PR_HELPER_SENSE_SIZE];
} __attribute__((packed)) PRHelperResponse;

#define PR_HELPER_RESPONSE_SIZE 104

#endif /* SCSI_PR_HELPER_H */
