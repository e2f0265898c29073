/*
 * Opcode and status names, and CDB length from the group code.
 *
 * Names follow the spellings of the T10 operation code list (SPC-4 Annex D
 * / t10.org/lists/op-num.htm) restricted to what a direct-access stack meets:
 * the SPC primary commands, SBC block commands, and the few MMC/SAT/ZBC
 * opcodes an initiator will send a disk anyway.  Opcodes whose meaning is
 * split by a service action have a second table keyed by (opcode, SA).
 */
#include <stddef.h>

#include <scsikit/scsi.h>

#include "scsi/scsi_int.h"

struct opcode_name {
	uint8_t opcode;
	const char *name;
};

/* Names of the opcodes themselves; for the service-action opcodes this is
 * the generic name used when the service action is not in sa_names. */
static const struct opcode_name opcode_names[] = {
	{ 0x00, "TEST UNIT READY" },
	{ 0x01, "REZERO UNIT" },
	{ 0x03, "REQUEST SENSE" },
	{ 0x04, "FORMAT UNIT" },
	{ 0x07, "REASSIGN BLOCKS" },
	{ 0x08, "READ(6)" },
	{ 0x0a, "WRITE(6)" },
	{ 0x0b, "SEEK(6)" },
	{ 0x12, "INQUIRY" },
	{ 0x15, "MODE SELECT(6)" },
	{ 0x16, "RESERVE(6)" },
	{ 0x17, "RELEASE(6)" },
	{ 0x1a, "MODE SENSE(6)" },
	{ 0x1b, "START STOP UNIT" },
	{ 0x1c, "RECEIVE DIAGNOSTIC RESULTS" },
	{ 0x1d, "SEND DIAGNOSTIC" },
	{ 0x1e, "PREVENT ALLOW MEDIUM REMOVAL" },
	{ 0x23, "READ FORMAT CAPACITIES" },
	{ 0x25, "READ CAPACITY(10)" },
	{ 0x28, "READ(10)" },
	{ 0x2a, "WRITE(10)" },
	{ 0x2b, "SEEK(10)" },
	{ 0x2e, "WRITE AND VERIFY(10)" },
	{ 0x2f, "VERIFY(10)" },
	{ 0x34, "PRE-FETCH(10)" },
	{ 0x35, "SYNCHRONIZE CACHE(10)" },
	{ 0x37, "READ DEFECT DATA(10)" },
	{ 0x3b, "WRITE BUFFER" },
	{ 0x3c, "READ BUFFER(10)" },
	{ 0x3e, "READ LONG(10)" },
	{ 0x3f, "WRITE LONG(10)" },
	{ 0x41, "WRITE SAME(10)" },
	{ 0x42, "UNMAP" },
	{ 0x43, "READ TOC/PMA/ATIP" },
	{ 0x48, "SANITIZE" },
	{ 0x4c, "LOG SELECT" },
	{ 0x4d, "LOG SENSE" },
	{ 0x50, "XDWRITE(10)" },
	{ 0x51, "XPWRITE(10)" },
	{ 0x52, "XDREAD(10)" },
	{ 0x53, "XDWRITEREAD(10)" },
	{ 0x55, "MODE SELECT(10)" },
	{ 0x56, "RESERVE(10)" },
	{ 0x57, "RELEASE(10)" },
	{ 0x5a, "MODE SENSE(10)" },
	{ 0x5e, "PERSISTENT RESERVE IN" },
	{ 0x5f, "PERSISTENT RESERVE OUT" },
	{ 0x7e, "EXTENDED CDB" },
	{ 0x7f, "VARIABLE LENGTH CDB" },
	{ 0x83, "THIRD-PARTY COPY OUT" },
	{ 0x84, "THIRD-PARTY COPY IN" },
	{ 0x85, "ATA PASS-THROUGH(16)" },
	{ 0x86, "ACCESS CONTROL IN" },
	{ 0x87, "ACCESS CONTROL OUT" },
	{ 0x88, "READ(16)" },
	{ 0x89, "COMPARE AND WRITE" },
	{ 0x8a, "WRITE(16)" },
	{ 0x8b, "ORWRITE(16)" },
	{ 0x8c, "READ ATTRIBUTE" },
	{ 0x8d, "WRITE ATTRIBUTE" },
	{ 0x8e, "WRITE AND VERIFY(16)" },
	{ 0x8f, "VERIFY(16)" },
	{ 0x90, "PRE-FETCH(16)" },
	{ 0x91, "SYNCHRONIZE CACHE(16)" },
	{ 0x93, "WRITE SAME(16)" },
	{ 0x94, "ZBC OUT" },
	{ 0x95, "ZBC IN" },
	{ 0x9a, "WRITE STREAM(16)" },
	{ 0x9c, "WRITE ATOMIC(16)" },
	{ 0x9d, "SERVICE ACTION BIDIRECTIONAL" },
	{ 0x9e, "SERVICE ACTION IN(16)" },
	{ 0x9f, "SERVICE ACTION OUT(16)" },
	{ 0xa0, "REPORT LUNS" },
	{ 0xa1, "ATA PASS-THROUGH(12)" },
	{ 0xa2, "SECURITY PROTOCOL IN" },
	{ 0xa3, "MAINTENANCE IN" },
	{ 0xa4, "MAINTENANCE OUT" },
	{ 0xa8, "READ(12)" },
	{ 0xaa, "WRITE(12)" },
	{ 0xab, "SERVICE ACTION IN(12)" },
	{ 0xae, "WRITE AND VERIFY(12)" },
	{ 0xaf, "VERIFY(12)" },
	{ 0xb5, "SECURITY PROTOCOL OUT" },
	{ 0xb7, "READ DEFECT DATA(12)" },
};

struct sa_name {
	uint8_t opcode;
	uint16_t sa;
	const char *name;
};

/* Service actions with their own command names (SPC-4, SBC-3/4). */
static const struct sa_name sa_names[] = {
	/* VARIABLE LENGTH (SBC-3; the XD/XP ones are obsolete in SBC-4) */
	{ 0x7f, 0x0003, "XDREAD(32)" },
	{ 0x7f, 0x0004, "XDWRITE(32)" },
	{ 0x7f, 0x0006, "XPWRITE(32)" },
	{ 0x7f, 0x0007, "XDWRITEREAD(32)" },
	{ 0x7f, SCSI_VL_READ_32, "READ(32)" },
	{ 0x7f, SCSI_VL_VERIFY_32, "VERIFY(32)" },
	{ 0x7f, SCSI_VL_WRITE_32, "WRITE(32)" },
	{ 0x7f, SCSI_VL_WRITE_VERIFY_32, "WRITE AND VERIFY(32)" },
	{ 0x7f, SCSI_VL_WRITE_SAME_32, "WRITE SAME(32)" },
	{ 0x7f, 0x000e, "ORWRITE(32)" },
	{ 0x7f, 0x1800, "RECEIVE CREDENTIAL" }, /* SPC-4 */
	/* THIRD-PARTY COPY OUT (SPC-4) */
	{ 0x83, 0x00, "EXTENDED COPY(LID1)" },
	{ 0x83, 0x01, "EXTENDED COPY(LID4)" },
	{ 0x83, 0x10, "POPULATE TOKEN" },
	{ 0x83, 0x11, "WRITE USING TOKEN" },
	{ 0x83, 0x1c, "COPY OPERATION ABORT" },
	/* THIRD-PARTY COPY IN (SPC-4) */
	{ 0x84, 0x00, "RECEIVE COPY STATUS(LID1)" },
	{ 0x84, 0x01, "RECEIVE COPY DATA(LID1)" },
	{ 0x84, 0x03, "RECEIVE COPY OPERATING PARAMETERS" },
	{ 0x84, 0x04, "RECEIVE COPY FAILURE DETAILS(LID1)" },
	{ 0x84, 0x05, "RECEIVE COPY STATUS(LID4)" },
	{ 0x84, 0x06, "RECEIVE COPY DATA(LID4)" },
	{ 0x84, 0x07, "RECEIVE ROD TOKEN INFORMATION" },
	{ 0x84, 0x08, "REPORT ALL ROD TOKENS" },
	/* SERVICE ACTION IN(16) (SBC) */
	{ 0x9e, SCSI_SAI_READ_CAPACITY_16, "READ CAPACITY(16)" },
	{ 0x9e, 0x11, "READ LONG(16)" },
	{ 0x9e, SCSI_SAI_GET_LBA_STATUS, "GET LBA STATUS" },
	{ 0x9e, 0x13, "REPORT REFERRALS" },
	{ 0x9e, 0x15, "BACKGROUND CONTROL" },	/* SBC-4 */
	{ 0x9e, 0x16, "GET STREAM STATUS" },	/* SBC-4 */
	/* SERVICE ACTION OUT(16) (SBC) */
	{ 0x9f, 0x11, "WRITE LONG(16)" },
	{ 0x9f, 0x12, "WRITE SCATTERED(16)" },	/* SBC-4 */
	/* SERVICE ACTION IN(12) (SPC-4) */
	{ 0xab, 0x01, "READ MEDIA SERIAL NUMBER" },
	/* MAINTENANCE IN (SPC-4) */
	{ 0xa3, 0x05, "REPORT IDENTIFYING INFORMATION" },
	{ 0xa3, SCSI_MI_REPORT_TARGET_PORT_GROUPS, "REPORT TARGET PORT GROUPS" },
	{ 0xa3, 0x0b, "REPORT ALIASES" },
	{ 0xa3, SCSI_MI_REPORT_SUPPORTED_OPCODES,
	  "REPORT SUPPORTED OPERATION CODES" },
	{ 0xa3, SCSI_MI_REPORT_SUPPORTED_TMFS,
	  "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS" },
	{ 0xa3, 0x0e, "REPORT PRIORITY" },
	{ 0xa3, SCSI_MI_REPORT_TIMESTAMP, "REPORT TIMESTAMP" },
	{ 0xa3, 0x10, "MANAGEMENT PROTOCOL IN" },
	/* MAINTENANCE OUT (SPC-4) */
	{ 0xa4, 0x06, "SET IDENTIFYING INFORMATION" },
	{ 0xa4, 0x0a, "SET TARGET PORT GROUPS" },
	{ 0xa4, 0x0b, "CHANGE ALIASES" },
	{ 0xa4, 0x0e, "SET PRIORITY" },
	{ 0xa4, 0x0f, "SET TIMESTAMP" },
	{ 0xa4, 0x10, "MANAGEMENT PROTOCOL OUT" },
};

bool scsi_opcode_has_sa(uint8_t opcode)
{
	switch (opcode) {
	case 0x7f: case 0x83: case 0x84: case 0x9e: case 0x9f:
	case 0xa3: case 0xa4: case 0xab:
		return true;
	default:
		return false;
	}
}

const char *scsi_opcode_name(uint8_t opcode, uint16_t service_action)
{
	size_t i;

	if (scsi_opcode_has_sa(opcode)) {
		for (i = 0; i < sizeof(sa_names) / sizeof(sa_names[0]); i++)
			if (sa_names[i].opcode == opcode &&
			    sa_names[i].sa == service_action)
				return sa_names[i].name;
	}
	/* An unknown service action of a known opcode still gets the
	 * opcode's generic name: "MAINTENANCE IN" says more than UNKNOWN. */
	for (i = 0; i < sizeof(opcode_names) / sizeof(opcode_names[0]); i++)
		if (opcode_names[i].opcode == opcode)
			return opcode_names[i].name;
	return "UNKNOWN";
}

unsigned scsi_cdb_length(const uint8_t *cdb, size_t avail)
{
	if (cdb == NULL || avail == 0)
		return 0;
	switch (cdb[0] >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 3:
		/* Group 3 is reserved except 0x7f, whose length is in the
		 * CDB itself (SPC-4 4.2.3); 0x7e (extended CDB) is not
		 * supported. */
		if (cdb[0] != SCSI_VARIABLE_LENGTH || avail < 8)
			return 0;
		return 8u + cdb[7];
	case 4:
		return 16;
	case 5:
		return 12;
	default:
		return 0; /* 6, 7: vendor specific */
	}
}

const char *scsi_status_name(uint8_t status)
{
	switch (status) {
	case SCSI_STATUS_GOOD: return "GOOD";
	case SCSI_STATUS_CHECK_CONDITION: return "CHECK CONDITION";
	case SCSI_STATUS_CONDITION_MET: return "CONDITION MET";
	case SCSI_STATUS_BUSY: return "BUSY";
	case 0x10: return "INTERMEDIATE"; /* obsolete since SAM-4 */
	case 0x14: return "INTERMEDIATE-CONDITION MET"; /* obsolete */
	case SCSI_STATUS_RESERVATION_CONFLICT: return "RESERVATION CONFLICT";
	case 0x22: return "COMMAND TERMINATED"; /* obsolete */
	case SCSI_STATUS_TASK_SET_FULL: return "TASK SET FULL";
	case SCSI_STATUS_ACA_ACTIVE: return "ACA ACTIVE";
	case SCSI_STATUS_TASK_ABORTED: return "TASK ABORTED";
	default: return "UNKNOWN";
	}
}
