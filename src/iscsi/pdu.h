/*
 * iSCSI PDUs (RFC 7143 section 11): the 48-byte Basic Header Segment, its
 * opcodes and fields, and pure helpers to frame, check and build PDUs.
 * Shared by the target and a future initiator: nothing here knows which
 * side it runs on, and every function works on caller-owned buffers.
 */
#ifndef SCSIKIT_ISCSI_PDU_H
#define SCSIKIT_ISCSI_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISCSI_BHS_LEN 48
#define ISCSI_DIGEST_LEN 4
#define ISCSI_MAX_AHS_LEN (255 * 4) /* TotalAHSLength is in words */
#define ISCSI_MAX_DSL 0xffffffu	    /* DataSegmentLength is 24 bits */
#define ISCSI_RSVD_TAG 0xffffffffu

/* Opcodes (byte 0, low 6 bits). */
enum iscsi_op {
	/* initiator -> target */
	ISCSI_OP_NOP_OUT = 0x00,
	ISCSI_OP_SCSI_CMD = 0x01,
	ISCSI_OP_TMF_REQ = 0x02,
	ISCSI_OP_LOGIN_REQ = 0x03,
	ISCSI_OP_TEXT_REQ = 0x04,
	ISCSI_OP_DATA_OUT = 0x05,
	ISCSI_OP_LOGOUT_REQ = 0x06,
	ISCSI_OP_SNACK_REQ = 0x10,
	/* target -> initiator */
	ISCSI_OP_NOP_IN = 0x20,
	ISCSI_OP_SCSI_RSP = 0x21,
	ISCSI_OP_TMF_RSP = 0x22,
	ISCSI_OP_LOGIN_RSP = 0x23,
	ISCSI_OP_TEXT_RSP = 0x24,
	ISCSI_OP_DATA_IN = 0x25,
	ISCSI_OP_LOGOUT_RSP = 0x26,
	ISCSI_OP_R2T = 0x31,
	ISCSI_OP_ASYNC_MSG = 0x32,
	ISCSI_OP_REJECT = 0x3f,
};

#define ISCSI_OP_MASK 0x3f
#define ISCSI_OP_IMMEDIATE 0x40	/* byte 0: the I bit */
#define ISCSI_FLAG_FINAL 0x80	/* byte 1: the F bit */

/* SCSI Command byte 1. */
#define ISCSI_CMD_READ 0x40
#define ISCSI_CMD_WRITE 0x20
#define ISCSI_CMD_ATTR_MASK 0x07

/* SCSI Response / Data-In byte 1 residual bits. */
#define ISCSI_RSP_BIDI_OVER 0x10
#define ISCSI_RSP_BIDI_UNDER 0x08
#define ISCSI_RSP_OVER 0x04
#define ISCSI_RSP_UNDER 0x02
#define ISCSI_DATAIN_ACK 0x40
#define ISCSI_DATAIN_STATUS 0x01

/* SCSI Response byte 2. */
#define ISCSI_RESPONSE_COMPLETED 0x00
#define ISCSI_RESPONSE_TARGET_FAILURE 0x01

/* Login byte 1. */
#define ISCSI_LOGIN_TRANSIT 0x80
#define ISCSI_LOGIN_CONTINUE 0x40
#define ISCSI_LOGIN_CSG(b) (((b) >> 2) & 3)
#define ISCSI_LOGIN_NSG(b) ((b) & 3)
enum iscsi_stage {
	ISCSI_STAGE_SECURITY = 0,
	ISCSI_STAGE_OPERATIONAL = 1,
	ISCSI_STAGE_FULL_FEATURE = 3,
};

/* Text byte 1. */
#define ISCSI_TEXT_CONTINUE 0x40

/* Login status class/detail (bytes 36, 37 of a Login Response). */
#define ISCSI_LOGIN_STATUS(cls, det) ((uint16_t)((cls) << 8 | (det)))
enum iscsi_login_status {
	ISCSI_LS_SUCCESS = 0x0000,
	ISCSI_LS_INITIATOR_ERROR = 0x0200,
	ISCSI_LS_AUTH_FAILED = 0x0201,
	ISCSI_LS_AUTHZ_FAILED = 0x0202,
	ISCSI_LS_NOT_FOUND = 0x0203,
	ISCSI_LS_TARGET_REMOVED = 0x0204,
	ISCSI_LS_UNSUPPORTED_VERSION = 0x0205,
	ISCSI_LS_TOO_MANY_CONNECTIONS = 0x0206,
	ISCSI_LS_MISSING_PARAMETER = 0x0207,
	ISCSI_LS_CANT_INCLUDE = 0x0208,
	ISCSI_LS_SESSION_TYPE_UNSUPPORTED = 0x0209,
	ISCSI_LS_NO_SESSION = 0x020a,
	ISCSI_LS_INVALID_DURING_LOGIN = 0x020b,
	ISCSI_LS_TARGET_ERROR = 0x0300,
	ISCSI_LS_SERVICE_UNAVAILABLE = 0x0301,
	ISCSI_LS_OUT_OF_RESOURCES = 0x0302,
};

/* Task management functions (TMF request byte 1) and responses. */
enum iscsi_tmf_func {
	ISCSI_TMF_ABORT_TASK = 1,
	ISCSI_TMF_ABORT_TASK_SET = 2,
	ISCSI_TMF_CLEAR_ACA = 3,
	ISCSI_TMF_CLEAR_TASK_SET = 4,
	ISCSI_TMF_LUN_RESET = 5,
	ISCSI_TMF_TARGET_WARM_RESET = 6,
	ISCSI_TMF_TARGET_COLD_RESET = 7,
	ISCSI_TMF_TASK_REASSIGN = 8,
};
enum iscsi_tmf_response {
	ISCSI_TMF_RSP_COMPLETE = 0,
	ISCSI_TMF_RSP_NO_TASK = 1,
	ISCSI_TMF_RSP_NO_LUN = 2,
	ISCSI_TMF_RSP_STILL_ALLEGIANT = 3,
	ISCSI_TMF_RSP_NO_REASSIGN = 4,
	ISCSI_TMF_RSP_NOT_SUPPORTED = 5,
	ISCSI_TMF_RSP_AUTH_FAILED = 6,
	ISCSI_TMF_RSP_REJECTED = 255,
};

/* Logout reason (request byte 1 low 7 bits) and response (byte 2). */
enum iscsi_logout_reason {
	ISCSI_LOGOUT_CLOSE_SESSION = 0,
	ISCSI_LOGOUT_CLOSE_CONNECTION = 1,
	ISCSI_LOGOUT_REMOVE_FOR_RECOVERY = 2,
};
enum iscsi_logout_response {
	ISCSI_LOGOUT_RSP_OK = 0,
	ISCSI_LOGOUT_RSP_NO_CID = 1,
	ISCSI_LOGOUT_RSP_NO_RECOVERY = 2,
	ISCSI_LOGOUT_RSP_CLEANUP_FAILED = 3,
};

/* Reject reasons (Reject byte 2). */
enum iscsi_reject_reason {
	ISCSI_REJECT_DATA_DIGEST = 0x02,
	ISCSI_REJECT_SNACK = 0x03,
	ISCSI_REJECT_PROTOCOL_ERROR = 0x04,
	ISCSI_REJECT_CMD_NOT_SUPPORTED = 0x05,
	ISCSI_REJECT_IMM_CMD = 0x06,
	ISCSI_REJECT_TASK_IN_PROGRESS = 0x07,
	ISCSI_REJECT_INVALID_DATA_ACK = 0x08,
	ISCSI_REJECT_INVALID_PDU_FIELD = 0x09,
	ISCSI_REJECT_OUT_OF_RESOURCES = 0x0a,
	ISCSI_REJECT_WAITING_FOR_LOGOUT = 0x0c,
};

/* Async message events (byte 36). */
#define ISCSI_ASYNC_LOGOUT_REQUEST 1
#define ISCSI_ASYNC_DROP_CONNECTION 2
#define ISCSI_ASYNC_DROP_SESSION 3

/* ---- big-endian field access ---------------------------------------------- */

static inline uint32_t iscsi_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t iscsi_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void iscsi_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void iscsi_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Fields common to every BHS. */
static inline uint8_t iscsi_bhs_opcode(const uint8_t *bhs)
{
	return bhs[0] & ISCSI_OP_MASK;
}

static inline bool iscsi_bhs_immediate(const uint8_t *bhs)
{
	return (bhs[0] & ISCSI_OP_IMMEDIATE) != 0;
}

static inline uint32_t iscsi_bhs_ahs_len(const uint8_t *bhs)
{
	return (uint32_t)bhs[4] * 4;
}

static inline uint32_t iscsi_bhs_dsl(const uint8_t *bhs)
{
	return (uint32_t)bhs[5] << 16 | (uint32_t)bhs[6] << 8 | bhs[7];
}

static inline void iscsi_bhs_set_dsl(uint8_t *bhs, uint32_t len)
{
	bhs[5] = (uint8_t)(len >> 16);
	bhs[6] = (uint8_t)(len >> 8);
	bhs[7] = (uint8_t)len;
}

static inline uint32_t iscsi_bhs_itt(const uint8_t *bhs)
{
	return iscsi_get32(bhs + 16);
}

/* Bytes of padding after a data segment of len bytes. */
static inline uint32_t iscsi_pad(uint32_t len)
{
	return (4 - (len & 3)) & 3;
}

/* Serial number arithmetic (RFC 1982, 32 bits) for CmdSN/StatSN. */
static inline bool iscsi_sn_lt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) < 0;
}

static inline bool iscsi_sn_le(uint32_t a, uint32_t b)
{
	return a == b || (int32_t)(a - b) < 0;
}

/*
 * How a received PDU is framed, worked out from its BHS alone.  Offsets are
 * from the start of the BHS.
 */
struct iscsi_pdu_frame {
	uint32_t ahs_len;	/* bytes of AHS */
	uint32_t dsl;		/* DataSegmentLength (without padding) */
	uint32_t hdr_len;	/* BHS + AHS + header digest */
	uint32_t data_off;	/* == hdr_len */
	uint32_t total;		/* the whole PDU on the wire */
};

/*
 * Frame the PDU whose BHS is bhs, given the digests in force.  Returns 0, or
 * -EMSGSIZE when its data segment is longer than max_dsl (the limit this
 * side declared) -- the caller closes the connection then, since it cannot
 * resynchronize on the stream.
 */
int iscsi_pdu_frame(const uint8_t *bhs, bool hdigest, bool ddigest,
		    uint32_t max_dsl, struct iscsi_pdu_frame *f);

/* Header and data digests.  The CRC goes on the wire little-endian (it is
 * the CRC register's bytes in transmission order, RFC 7143 section 13.1). */
uint32_t iscsi_digest_header(const uint8_t *hdr, uint32_t len);
void iscsi_digest_put(uint8_t *p, uint32_t crc);
uint32_t iscsi_digest_get(const uint8_t *p);

/*
 * LUN field (bytes 8..15) <-> LUN number, SAM-5 single level: peripheral
 * device addressing for LUNs < 256, flat space up to 16383.  Anything else
 * decodes to UINT32_MAX (no such LUN).
 */
uint32_t iscsi_lun_decode(const uint8_t *p);
void iscsi_lun_encode(uint8_t *p, uint32_t lun);

/* Name of an opcode for traces ("SCSI-Cmd"). */
const char *iscsi_op_name(uint8_t op);

#endif
