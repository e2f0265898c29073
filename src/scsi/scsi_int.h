/*
 * Internals shared by the files of the scsi module (not exported).
 */
#ifndef SCSIKIT_SRC_SCSI_INT_H
#define SCSIKIT_SRC_SCSI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True for opcodes whose meaning is split by a service action, i.e. those
 * scsi_opcode_name() looks up with the service action. */
bool scsi_opcode_has_sa(uint8_t opcode);

/* The number of entries in the ASC/ASCQ table, or 0 if it is not strictly
 * sorted (scsi_asc_name() binary-searches it); for the unit test. */
size_t scsi_asc_table_check(void);

#endif
