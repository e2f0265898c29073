/*
 * iSCSI PDU framing helpers (see pdu.h).
 */
#include <errno.h>

#include <scsikit/crc32c.h>

#include "iscsi/pdu.h"

int iscsi_pdu_frame(const uint8_t *bhs, bool hdigest, bool ddigest,
		    uint32_t max_dsl, struct iscsi_pdu_frame *f)
{
	f->ahs_len = iscsi_bhs_ahs_len(bhs);
	f->dsl = iscsi_bhs_dsl(bhs);
	if (f->dsl > max_dsl)
		return -EMSGSIZE;
	f->hdr_len = ISCSI_BHS_LEN + f->ahs_len +
		     (hdigest ? ISCSI_DIGEST_LEN : 0);
	f->data_off = f->hdr_len;
	f->total = f->hdr_len;
	if (f->dsl > 0)
		f->total += f->dsl + iscsi_pad(f->dsl) +
			    (ddigest ? ISCSI_DIGEST_LEN : 0);
	return 0;
}

uint32_t iscsi_digest_header(const uint8_t *hdr, uint32_t len)
{
	return sk_crc32c(0, hdr, len);
}

void iscsi_digest_put(uint8_t *p, uint32_t crc)
{
	p[0] = (uint8_t)crc;
	p[1] = (uint8_t)(crc >> 8);
	p[2] = (uint8_t)(crc >> 16);
	p[3] = (uint8_t)(crc >> 24);
}

uint32_t iscsi_digest_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint32_t iscsi_lun_decode(const uint8_t *p)
{
	/* Levels 2..4 must be zero for a single-level address. */
	for (int i = 2; i < 8; i++)
		if (p[i] != 0)
			return UINT32_MAX;
	switch (p[0] >> 6) {
	case 0: /* peripheral device addressing, bus 0 */
		if ((p[0] & 0x3f) != 0)
			return UINT32_MAX;
		return p[1];
	case 1: /* flat space */
		return (uint32_t)(p[0] & 0x3f) << 8 | p[1];
	default:
		return UINT32_MAX;
	}
}

void iscsi_lun_encode(uint8_t *p, uint32_t lun)
{
	for (int i = 0; i < 8; i++)
		p[i] = 0;
	if (lun < 256) {
		p[1] = (uint8_t)lun;
	} else {
		p[0] = (uint8_t)(0x40 | ((lun >> 8) & 0x3f));
		p[1] = (uint8_t)lun;
	}
}

/* Names for traces, indexed by opcode; sparse, so a switch. */
const char *iscsi_op_name(uint8_t op)
{
	switch (op) {
	case ISCSI_OP_NOP_OUT: return "NOP-Out";
	case ISCSI_OP_SCSI_CMD: return "SCSI-Cmd";
	case ISCSI_OP_TMF_REQ: return "TMF-Req";
	case ISCSI_OP_LOGIN_REQ: return "Login-Req";
	case ISCSI_OP_TEXT_REQ: return "Text-Req";
	case ISCSI_OP_DATA_OUT: return "Data-Out";
	case ISCSI_OP_LOGOUT_REQ: return "Logout-Req";
	case ISCSI_OP_SNACK_REQ: return "SNACK";
	case ISCSI_OP_NOP_IN: return "NOP-In";
	case ISCSI_OP_SCSI_RSP: return "SCSI-Rsp";
	case ISCSI_OP_TMF_RSP: return "TMF-Rsp";
	case ISCSI_OP_LOGIN_RSP: return "Login-Rsp";
	case ISCSI_OP_TEXT_RSP: return "Text-Rsp";
	case ISCSI_OP_DATA_IN: return "Data-In";
	case ISCSI_OP_LOGOUT_RSP: return "Logout-Rsp";
	case ISCSI_OP_R2T: return "R2T";
	case ISCSI_OP_ASYNC_MSG: return "Async";
	case ISCSI_OP_REJECT: return "Reject";
	default: return "unknown";
	}
}
