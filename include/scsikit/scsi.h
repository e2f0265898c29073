/*
 * The scsi module: opcodes, CDB fields, status codes and sense data.
 * Pure functions over byte buffers, no state and no I/O; every other module
 * that speaks SCSI (the target engine, CAM, the iSCSI and vscsi front ends)
 * uses these instead of poking at bytes itself.
 *
 * Multi-byte SCSI fields are big-endian; the get/put helpers below read and
 * write them.
 */
#ifndef SCSIKIT_SCSI_H
#define SCSIKIT_SCSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <scsikit/api.h>

/* Status codes (SAM-5). */
enum scsi_status {
	SCSI_STATUS_GOOD = 0x00,
	SCSI_STATUS_CHECK_CONDITION = 0x02,
	SCSI_STATUS_CONDITION_MET = 0x04,
	SCSI_STATUS_BUSY = 0x08,
	SCSI_STATUS_RESERVATION_CONFLICT = 0x18,
	SCSI_STATUS_TASK_SET_FULL = 0x28,
	SCSI_STATUS_ACA_ACTIVE = 0x30,
	SCSI_STATUS_TASK_ABORTED = 0x40,
};

/* Operation codes the project knows by name. */
enum scsi_opcode {
	SCSI_TEST_UNIT_READY = 0x00,
	SCSI_REZERO_UNIT = 0x01,
	SCSI_REQUEST_SENSE = 0x03,
	SCSI_FORMAT_UNIT = 0x04,
	SCSI_READ_6 = 0x08,
	SCSI_WRITE_6 = 0x0a,
	SCSI_INQUIRY = 0x12,
	SCSI_MODE_SELECT_6 = 0x15,
	SCSI_RESERVE_6 = 0x16,
	SCSI_RELEASE_6 = 0x17,
	SCSI_MODE_SENSE_6 = 0x1a,
	SCSI_START_STOP_UNIT = 0x1b,
	SCSI_RECEIVE_DIAGNOSTIC = 0x1c,
	SCSI_SEND_DIAGNOSTIC = 0x1d,
	SCSI_PREVENT_ALLOW = 0x1e,
	SCSI_READ_CAPACITY_10 = 0x25,
	SCSI_READ_10 = 0x28,
	SCSI_WRITE_10 = 0x2a,
	SCSI_WRITE_VERIFY_10 = 0x2e,
	SCSI_VERIFY_10 = 0x2f,
	SCSI_PREFETCH_10 = 0x34,
	SCSI_SYNCHRONIZE_CACHE_10 = 0x35,
	SCSI_READ_DEFECT_DATA_10 = 0x37,
	SCSI_WRITE_BUFFER = 0x3b,
	SCSI_READ_BUFFER = 0x3c,
	SCSI_WRITE_SAME_10 = 0x41,
	SCSI_UNMAP = 0x42,
	SCSI_READ_TOC = 0x43,
	SCSI_LOG_SELECT = 0x4c,
	SCSI_LOG_SENSE = 0x4d,
	SCSI_MODE_SELECT_10 = 0x55,
	SCSI_RESERVE_10 = 0x56,
	SCSI_RELEASE_10 = 0x57,
	SCSI_MODE_SENSE_10 = 0x5a,
	SCSI_PERSISTENT_RESERVE_IN = 0x5e,
	SCSI_PERSISTENT_RESERVE_OUT = 0x5f,
	SCSI_VARIABLE_LENGTH = 0x7f, /* 32-byte CDBs */
	SCSI_EXTENDED_COPY = 0x83,
	SCSI_RECEIVE_COPY_RESULTS = 0x84,
	SCSI_ATA_PASSTHROUGH_16 = 0x85,
	SCSI_READ_16 = 0x88,
	SCSI_COMPARE_AND_WRITE = 0x89,
	SCSI_WRITE_16 = 0x8a,
	SCSI_ORWRITE_16 = 0x8b,
	SCSI_WRITE_VERIFY_16 = 0x8e,
	SCSI_VERIFY_16 = 0x8f,
	SCSI_PREFETCH_16 = 0x90,
	SCSI_SYNCHRONIZE_CACHE_16 = 0x91,
	SCSI_WRITE_SAME_16 = 0x93,
	SCSI_WRITE_ATOMIC_16 = 0x9c,
	SCSI_SERVICE_ACTION_IN_16 = 0x9e,
	SCSI_SERVICE_ACTION_OUT_16 = 0x9f,
	SCSI_REPORT_LUNS = 0xa0,
	SCSI_ATA_PASSTHROUGH_12 = 0xa1,
	SCSI_SECURITY_PROTOCOL_IN = 0xa2,
	SCSI_MAINTENANCE_IN = 0xa3,
	SCSI_MAINTENANCE_OUT = 0xa4,
	SCSI_READ_12 = 0xa8,
	SCSI_WRITE_12 = 0xaa,
	SCSI_WRITE_VERIFY_12 = 0xae,
	SCSI_VERIFY_12 = 0xaf,
	SCSI_SECURITY_PROTOCOL_OUT = 0xb5,
};

/* More operation codes: SBC's SANITIZE and READ DEFECT DATA(12), and the
 * MMC commands of a CD-ROM logical unit. */
#define SCSI_SANITIZE 0x48
#define SCSI_READ_DEFECT_DATA_12 0xb7
#define SCSI_MMC_READ_TOC 0x43
#define SCSI_MMC_GET_CONFIGURATION 0x46
#define SCSI_MMC_GET_EVENT_STATUS 0x4a
#define SCSI_MMC_READ_DISC_INFORMATION 0x51
#define SCSI_MMC_READ_TRACK_INFORMATION 0x52
#define SCSI_MMC_MECHANISM_STATUS 0xbd
#define SCSI_SANITIZE_OVERWRITE 0x01	  /* of 0x48 */
#define SCSI_SANITIZE_BLOCK_ERASE 0x02
#define SCSI_SANITIZE_CRYPTO_ERASE 0x03
#define SCSI_SANITIZE_EXIT_FAILURE_MODE 0x1f

/* Service actions. */
#define SCSI_SAI_READ_CAPACITY_16 0x10	  /* of 0x9e */
#define SCSI_SAI_GET_LBA_STATUS 0x12	  /* of 0x9e */
#define SCSI_MI_REPORT_SUPPORTED_OPCODES 0x0c /* of 0xa3 */
#define SCSI_MI_REPORT_SUPPORTED_TMFS 0x0d    /* of 0xa3 */
#define SCSI_MI_REPORT_TARGET_PORT_GROUPS 0x0a
#define SCSI_MI_REPORT_TIMESTAMP 0x0f
#define SCSI_VL_READ_32 0x0009		  /* of 0x7f */
#define SCSI_VL_VERIFY_32 0x000a
#define SCSI_VL_WRITE_32 0x000b
#define SCSI_VL_WRITE_VERIFY_32 0x000c
#define SCSI_VL_WRITE_SAME_32 0x000d

/* Name of an opcode ("READ(10)"); service action used where one applies.
 * Never NULL: unknown ones come back as "UNKNOWN". */
SK_API const char *scsi_opcode_name(uint8_t opcode, uint16_t service_action);
/* Length of a CDB from its first byte (group code); 0 if reserved/vendor
 * and the length cannot be known.  For 0x7f returns 8 + additional CDB
 * length when cdb_len >= 8 (pass the CDB), else 0. */
SK_API unsigned scsi_cdb_length(const uint8_t *cdb, size_t avail);

/* Peripheral device types. */
#define SCSI_TYPE_DISK 0x00
#define SCSI_TYPE_CDROM 0x05 /* CD/DVD device (MMC) */
#define SCSI_TYPE_NO_LUN 0x1f /* with qualifier 3: no device at this LUN */

/* Sense keys. */
enum scsi_sense_key {
	SCSI_SK_NO_SENSE = 0x0,
	SCSI_SK_RECOVERED_ERROR = 0x1,
	SCSI_SK_NOT_READY = 0x2,
	SCSI_SK_MEDIUM_ERROR = 0x3,
	SCSI_SK_HARDWARE_ERROR = 0x4,
	SCSI_SK_ILLEGAL_REQUEST = 0x5,
	SCSI_SK_UNIT_ATTENTION = 0x6,
	SCSI_SK_DATA_PROTECT = 0x7,
	SCSI_SK_BLANK_CHECK = 0x8,
	SCSI_SK_VENDOR_SPECIFIC = 0x9,
	SCSI_SK_COPY_ABORTED = 0xa,
	SCSI_SK_ABORTED_COMMAND = 0xb,
	SCSI_SK_VOLUME_OVERFLOW = 0xd,
	SCSI_SK_MISCOMPARE = 0xe,
};
SK_API const char *scsi_sense_key_name(uint8_t key);

/* ASC/ASCQ pairs as one 16-bit value: (asc << 8) | ascq. */
#define SCSI_ASC(asc, ascq) ((uint16_t)(((asc) << 8) | (ascq)))
#define SCSI_ASC_NO_ADDITIONAL_SENSE SCSI_ASC(0x00, 0x00)
#define SCSI_ASC_LUN_NOT_READY_CAUSE_NOT_REPORTABLE SCSI_ASC(0x04, 0x00)
#define SCSI_ASC_LUN_NOT_READY_INIT_REQUIRED SCSI_ASC(0x04, 0x02)
#define SCSI_ASC_LUN_NOT_READY_MANUAL_INTERVENTION SCSI_ASC(0x04, 0x03)
#define SCSI_ASC_LUN_COMMUNICATION_FAILURE SCSI_ASC(0x08, 0x00)
#define SCSI_ASC_WRITE_ERROR SCSI_ASC(0x0c, 0x00)
#define SCSI_ASC_UNRECOVERED_READ_ERROR SCSI_ASC(0x11, 0x00)
#define SCSI_ASC_MISCOMPARE_DURING_VERIFY SCSI_ASC(0x1d, 0x00)
#define SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR SCSI_ASC(0x1a, 0x00)
#define SCSI_ASC_INVALID_COMMAND_OPCODE SCSI_ASC(0x20, 0x00)
#define SCSI_ASC_LBA_OUT_OF_RANGE SCSI_ASC(0x21, 0x00)
#define SCSI_ASC_INVALID_FIELD_IN_CDB SCSI_ASC(0x24, 0x00)
#define SCSI_ASC_LUN_NOT_SUPPORTED SCSI_ASC(0x25, 0x00)
#define SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST SCSI_ASC(0x26, 0x00)
#define SCSI_ASC_PARAMETER_NOT_SUPPORTED SCSI_ASC(0x26, 0x01)
#define SCSI_ASC_PARAMETER_VALUE_INVALID SCSI_ASC(0x26, 0x02)
#define SCSI_ASC_WRITE_PROTECTED SCSI_ASC(0x27, 0x00)
#define SCSI_ASC_POWER_ON_RESET SCSI_ASC(0x29, 0x00)
#define SCSI_ASC_POWER_ON_OCCURRED SCSI_ASC(0x29, 0x01)
#define SCSI_ASC_BUS_RESET_OCCURRED SCSI_ASC(0x29, 0x02)
#define SCSI_ASC_BUS_DEVICE_RESET_OCCURRED SCSI_ASC(0x29, 0x03)
#define SCSI_ASC_I_T_NEXUS_LOSS_OCCURRED SCSI_ASC(0x29, 0x07)
#define SCSI_ASC_PARAMETERS_CHANGED SCSI_ASC(0x2a, 0x00)
#define SCSI_ASC_MODE_PARAMETERS_CHANGED SCSI_ASC(0x2a, 0x01)
#define SCSI_ASC_RESERVATIONS_PREEMPTED SCSI_ASC(0x2a, 0x03)
#define SCSI_ASC_RESERVATIONS_RELEASED SCSI_ASC(0x2a, 0x04)
#define SCSI_ASC_REGISTRATIONS_PREEMPTED SCSI_ASC(0x2a, 0x05)
#define SCSI_ASC_CAPACITY_DATA_CHANGED SCSI_ASC(0x2a, 0x09)
#define SCSI_ASC_COMMANDS_CLEARED_BY_ANOTHER_INITIATOR SCSI_ASC(0x2f, 0x00)
#define SCSI_ASC_SAVING_PARAMETERS_NOT_SUPPORTED SCSI_ASC(0x39, 0x00)
#define SCSI_ASC_MEDIUM_NOT_PRESENT SCSI_ASC(0x3a, 0x00)
#define SCSI_ASC_REPORTED_LUNS_DATA_CHANGED SCSI_ASC(0x3f, 0x0e)
#define SCSI_ASC_INTERNAL_TARGET_FAILURE SCSI_ASC(0x44, 0x00)
#define SCSI_ASC_INVALID_MESSAGE_ERROR SCSI_ASC(0x49, 0x00)
#define SCSI_ASC_COMMAND_PHASE_ERROR SCSI_ASC(0x4a, 0x00)
#define SCSI_ASC_DATA_PHASE_ERROR SCSI_ASC(0x4b, 0x00)
#define SCSI_ASC_OVERLAPPED_COMMANDS SCSI_ASC(0x4e, 0x00)
#define SCSI_ASC_MEDIUM_REMOVAL_PREVENTED SCSI_ASC(0x53, 0x02)
#define SCSI_ASC_INITIATOR_RESPONSE_TIMEOUT SCSI_ASC(0x4b, 0x06)

/* Name of an ASC/ASCQ ("LOGICAL BLOCK ADDRESS OUT OF RANGE"); NULL when not
 * in the table. */
SK_API const char *scsi_asc_name(uint16_t asc_ascq);

/* Big-endian field access. */
static inline uint16_t scsi_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t scsi_get24(const uint8_t *p)
{
	return ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
}
static inline uint32_t scsi_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t scsi_get64(const uint8_t *p)
{
	return ((uint64_t)scsi_get32(p) << 32) | scsi_get32(p + 4);
}
static inline void scsi_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void scsi_put24(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 16);
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)v;
}
static inline void scsi_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void scsi_put64(uint8_t *p, uint64_t v)
{
	scsi_put32(p, (uint32_t)(v >> 32));
	scsi_put32(p + 4, (uint32_t)v);
}

/*
 * The decoded fields of a CDB.  scsi_cdb_decode() fills the ones the
 * command has; the rest stay zero.
 */
struct scsi_cdb_fields {
	uint8_t opcode;
	uint16_t service_action;
	unsigned cdb_len;
	uint64_t lba;
	uint32_t xfer_len;	/* transfer length in blocks (or bytes, for
				 * commands whose length field counts bytes) */
	uint32_t alloc_len;	/* allocation / parameter list length */
	bool has_lba;
	bool has_xfer_len;
	bool has_alloc_len;
	bool fua;
	bool dpo;
	uint8_t bytchk;		/* VERIFY / WRITE AND VERIFY byte check (2 bits) */
	uint8_t wrprotect;	/* RDPROTECT/WRPROTECT/VRPROTECT (3 bits) */
	bool unmap;		/* WRITE SAME */
	bool anchor;
	bool ndob;
	bool immed;		/* SYNCHRONIZE CACHE / START STOP */
	uint8_t group;		/* group number */
	uint8_t control;
};

/*
 * Field conventions (scsi_cdb_decode() reads fields, it does not judge
 * them: reserved bits and field values are the target engine's to check):
 *
 * service_action  byte 1 bits 4-0 for 0x48, 0x5e, 0x5f, 0x83, 0x84, 0x9e,
 *                 0x9f, 0xa3, 0xa4, 0xab; bytes 8-9 for 0x7f.  Also set
 *                 when the result is -ENOTSUP, so an unknown service action
 *                 can be reported.
 * lba             the LOGICAL BLOCK ADDRESS; 21 bits for READ(6)/WRITE(6).
 *                 READ CAPACITY(10)/(16) report their obsolete LBA field
 *                 (has_lba) so it can be checked against PMI.
 * xfer_len        in blocks: TRANSFER LENGTH, VERIFICATION LENGTH (VERIFY),
 *                 PREFETCH LENGTH, NUMBER OF LOGICAL BLOCKS (SYNCHRONIZE
 *                 CACHE and WRITE SAME, where 0 means "to the end" as SBC
 *                 says; COMPARE AND WRITE, byte 13, whose data-out is twice
 *                 that).  In bytes for READ LONG/WRITE LONG.  Zero means
 *                 zero except for READ(6)/WRITE(6), where it is 256.
 * alloc_len       in bytes: ALLOCATION LENGTH (data-in) or PARAMETER LIST
 *                 LENGTH (data-out) of INQUIRY, REQUEST SENSE, MODE SENSE/
 *                 SELECT(6/10), LOG SENSE/SELECT, REPORT LUNS, UNMAP,
 *                 PERSISTENT RESERVE IN/OUT, RECEIVE/SEND DIAGNOSTIC,
 *                 READ/WRITE BUFFER (24 bits), READ CAPACITY(16), GET LBA
 *                 STATUS, MAINTENANCE IN/OUT, SECURITY PROTOCOL IN/OUT,
 *                 third-party copy, SANITIZE, RESERVE/RELEASE(10), READ
 *                 DEFECT DATA.  READ CAPACITY(10) has no such field:
 *                 alloc_len is 8, the size of its parameter data.
 * group           GROUP NUMBER, 6 bits (SBC-4; SBC-3 used 5).
 * wrprotect       RDPROTECT, WRPROTECT, VRPROTECT or ORPROTECT, whichever
 *                 the command has.
 * bytchk          the 2-bit BYTCHK of VERIFY and WRITE AND VERIFY.
 * anchor          WRITE SAME byte 1 bit 4; UNMAP byte 1 bit 0.
 * ndob            WRITE SAME(16)/(32) only.
 * immed           SYNCHRONIZE CACHE and PRE-FETCH (bit 1), START STOP UNIT
 *                 (bit 0), SANITIZE (bit 7).
 * control         the last byte; byte 1 of a 32-byte (0x7f) CDB.
 *
 * A 0x7f CDB is -EINVAL when its ADDITIONAL CDB LENGTH is too small to
 * hold the service action, or when it does not match the known layout
 * (every 32-byte layout decoded here is 32 bytes long).
 */
/*
 * Decode cdb (len bytes available).  Returns 0, -EINVAL when len is shorter
 * than the opcode's CDB length, or -ENOTSUP for an opcode whose layout is
 * not known (only opcode/cdb_len/control are set then).
 *
 * Transfer-length conventions: READ(6)/WRITE(6) length 0 means 256 blocks;
 * everything else is as in the CDB.
 */
SK_API int scsi_cdb_decode(const uint8_t *cdb, size_t len,
			   struct scsi_cdb_fields *f);

/* Write a READ or WRITE CDB for blocks at lba into cdb (16 bytes of room):
 * READ/WRITE(10) when both fit (LBA below 2^32, at most 65535 blocks),
 * else (16); FUA sets the FUA bit.  Returns the CDB length. */
SK_API uint8_t scsi_cdb_rw(uint8_t *cdb, bool read, uint64_t lba,
			   uint32_t blocks, bool fua);

/*
 * Sense data.
 *
 * struct scsi_sense is the decoded form; scsi_sense_build() writes fixed
 * (0x70/0x71) or descriptor (0x72/0x73) format; scsi_sense_parse() reads
 * either.
 */
struct scsi_sense {
	uint8_t key;
	uint16_t asc_ascq;
	bool current;		/* false: deferred error */
	bool info_valid;
	uint64_t info;		/* INFORMATION field */
	bool csi_valid;
	uint64_t csi;		/* COMMAND-SPECIFIC INFORMATION */
	bool sks_valid;		/* sense-key-specific bytes present */
	uint8_t sks[3];		/* raw SKS bytes (bit 7 of byte 0 = SKSV) */
	bool filemark, eom, ili;
};

/*
 * Conventions of the sense helpers:
 *
 * - scsi_sense_build(), fixed format: INFORMATION and COMMAND-SPECIFIC
 *   INFORMATION are 4 bytes.  An info above 0xffffffff is not reported:
 *   VALID is set to 0 and INFORMATION left zero (SPC-4: a value that does
 *   not fit is not valid; ask for descriptor format to carry it).  A csi
 *   above 0xffffffff is likewise left zero.
 * - Descriptor format carries an information descriptor (0x00) when
 *   info_valid, a command-specific descriptor (0x01) when csi_valid, a
 *   sense-key-specific descriptor (0x02) when sks_valid, and a stream
 *   commands descriptor (0x04) for FILEMARK/EOM, else a block commands
 *   descriptor (0x05) for ILI alone.
 * - Both formats set SKSV in the SKS bytes when sks_valid.
 * - scsi_sense_parse() refuses (-EINVAL) a buffer under 8 bytes, a
 *   response code other than 0x70-0x73, an ADDITIONAL SENSE LENGTH that
 *   runs past len, a descriptor whose length runs past the additional
 *   sense bytes, and a known descriptor shorter than its defined size.
 *   Bytes after 8 + ADDITIONAL SENSE LENGTH are ignored; fixed-format
 *   fields the additional length does not cover read as zero.  Unknown
 *   descriptors are skipped.  In fixed format csi_valid means "CSI is
 *   non-zero" (the format has no valid bit for it).  On error *s is zeroed.
 * - scsi_sense_field_pointer() with bit outside 0..7 sets no BPV (the
 *   whole byte is meant).
 * - scsi_opcode_name() of an opcode with service actions but an unknown
 *   one returns the opcode's generic name ("MAINTENANCE IN").
 * - scsi_asc_name() entries whose ASCQ is a parameter (40h/80h-FFh,
 *   4Dh/xx, 70h/xx) contain "NN"; scsi_sense_format() fills in the value.
 */

/* Sense buffer sizes. */
#define SCSI_SENSE_FIXED_LEN 18
#define SCSI_SENSE_MAX 252

/* Fill sks for an INVALID FIELD pointer: cdb=true for a CDB field (C/D bit),
 * byte offset, bit (0..7) or bit < 0 when the whole byte is meant. */
SK_API void scsi_sense_field_pointer(struct scsi_sense *s, bool cdb,
				     uint16_t byte, int bit);
/* Fill sks with a progress indication (0..65535). */
SK_API void scsi_sense_progress(struct scsi_sense *s, uint16_t progress);

/* Write s into buf (size len) in fixed or descriptor format; returns the
 * bytes written (truncated to len), never more than SCSI_SENSE_MAX. */
SK_API size_t scsi_sense_build(const struct scsi_sense *s, bool descriptor,
			       uint8_t *buf, size_t len);
/* Shorthand: key/asc with no other field. */
SK_API size_t scsi_sense_build_simple(uint8_t key, uint16_t asc_ascq,
				      bool descriptor, uint8_t *buf,
				      size_t len);
/* Parse fixed or descriptor sense; 0, or -EINVAL if not valid sense. */
SK_API int scsi_sense_parse(const uint8_t *buf, size_t len,
			    struct scsi_sense *s);
/* "ILLEGAL REQUEST: INVALID FIELD IN CDB (field 2 bit 1)" into buf. */
SK_API void scsi_sense_format(const struct scsi_sense *s, char *buf,
			      size_t len);

SK_API const char *scsi_status_name(uint8_t status);

#endif
