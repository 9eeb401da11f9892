/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qemu-pr-helper's multipath path: persistent reservations on a
 * dm-multipath device go through libmpathpersist, which runs them on the
 * map's paths, instead of one SG_IO on the map itself. Private to
 * qemu-pr-helper; built only with CONFIG_MPATH.
 */
#ifndef SCSI_PR_HELPER_MPATH_H
#define SCSI_PR_HELPER_MPATH_H

#include <stdbool.h>
#include <stdint.h>
#include "qemu/typedefs.h"

/**
 * pr_helper_mpath_init:
 * @verbose: whether libmpathpersist and libdevmapper may log
 * @errp: error object
 *
 * Opens the device-mapper and loads the multipath configuration. Call
 * once, before dropping privileges.
 *
 * Context: main thread.
 * Returns: 1 when multipath devices can be served; 0 when the machine
 * has no device-mapper (nor, then, multipath devices); -1 with @errp set
 * when libmpathpersist failed. Unless 1, the helper treats every device
 * as a plain SCSI device.
 */
int pr_helper_mpath_init(bool verbose, Error **errp);

/**
 * pr_helper_mpath_is_mpath:
 * @fd: a file descriptor from a client (untrusted)
 *
 * Context: any thread.
 * Returns: whether @fd is a block device whose device-mapper table is a
 * single multipath target.
 */
bool pr_helper_mpath_is_mpath(int fd);

/**
 * pr_helper_mpath_pr_in:
 * @fd: a multipath device
 * @cdb: a PERSISTENT RESERVE IN CDB (16 bytes, untrusted)
 * @sense: 96 zeroed bytes for sense data
 * @buf: PR_HELPER_DATA_SIZE bytes for the parameter data, in SPC layout
 * @sz: out: the bytes of @buf filled
 *
 * Runs READ KEYS, READ RESERVATION or REPORT CAPABILITIES through
 * libmpathpersist; other service actions get CHECK CONDITION, INVALID
 * FIELD IN CDB.
 *
 * Context: a worker thread; blocks. Calls must not overlap (the library
 * keeps global state).
 * Returns: the SCSI status.
 */
int pr_helper_mpath_pr_in(int fd, const uint8_t *cdb, uint8_t *sense,
                          uint8_t *buf, uint32_t *sz);

/**
 * pr_helper_mpath_pr_out:
 * @fd: a multipath device
 * @cdb: a PERSISTENT RESERVE OUT CDB (16 bytes, untrusted)
 * @sense: 96 zeroed bytes for sense data
 * @param: the parameter list (untrusted)
 * @len: its length
 *
 * Runs every service action but REGISTER AND MOVE through
 * libmpathpersist, with the basic 24-byte parameter list (no transport
 * IDs: SPEC_I_PT gets CHECK CONDITION, INVALID FIELD IN PARAMETER LIST).
 *
 * Context: a worker thread; blocks. Calls must not overlap.
 * Returns: the SCSI status.
 */
int pr_helper_mpath_pr_out(int fd, const uint8_t *cdb, uint8_t *sense,
                           const uint8_t *param, uint32_t len);

#endif /* SCSI_PR_HELPER_MPATH_H */
