/*
 * vscsi wire format: encoders and bounds-checked parsers shared by the SIM
 * and the client library (see vscsi_wire.h and docs/vscsi-protocol.md).
 * Parsers never trust a length from the peer beyond the bytes in hand.
 */
#include <errno.h>
#include <string.h>

#include <scsikit/vscsi.h>

#include "vscsi/vscsi_wire.h"

void vscsi_hdr_encode(uint8_t *p, const struct vscsi_hdr *h)
{
	vscsi_put32(p, h->len);
	p[4] = h->type;
	p[5] = h->flags;
	vscsi_put16(p + 6, 0);
	vscsi_put32(p + 8, h->tag);
	vscsi_put32(p + 12, h->aux);
}

int vscsi_hdr_parse(const uint8_t *buf, size_t avail, uint32_t max_msg,
		    struct vscsi_hdr *h)
{
	if (avail < 4)
		return 0;
	h->len = vscsi_get32(buf);
	if (h->len < VSCSI_HDR_LEN || h->len > max_msg)
		return -EPROTO;
	if (avail < h->len)
		return 0;
	h->type = buf[4];
	h->flags = buf[5];
	h->rsvd = vscsi_get16(buf + 6);
	h->tag = vscsi_get32(buf + 8);
	h->aux = vscsi_get32(buf + 12);
	return 1;
}

void vscsi_hello_encode(uint8_t *p, const struct vscsi_hello *b)
{
	vscsi_put16(p, b->version);
	vscsi_put16(p + 2, b->max_cdb);
	vscsi_put32(p + 4, b->max_xfer);
	vscsi_put32(p + 8, b->targets);
	vscsi_put32(p + 12, b->luns);
	vscsi_put32(p + 16, b->openings);
	memcpy(p + 20, b->name, 16);
	vscsi_put32(p + 36, b->shm_slot);
	vscsi_put32(p + 40, b->shm_slots);
	vscsi_put32(p + 44, 0);
}

int vscsi_hello_parse(const uint8_t *body, size_t len, struct vscsi_hello *b)
{
	if (len < VSCSI_HELLO_LEN)
		return -EINVAL;
	b->version = vscsi_get16(body);
	b->max_cdb = vscsi_get16(body + 2);
	b->max_xfer = vscsi_get32(body + 4);
	b->targets = vscsi_get32(body + 8);
	b->luns = vscsi_get32(body + 12);
	b->openings = vscsi_get32(body + 16);
	memcpy(b->name, body + 20, 16);
	b->name[15] = '\0';
	b->shm_slot = vscsi_get32(body + 36);
	b->shm_slots = vscsi_get32(body + 40);
	if (b->version == 0 || b->max_xfer == 0)
		return -EINVAL;
	/* An area has both a slot size and slots, or neither. */
	if ((b->shm_slot == 0) != (b->shm_slots == 0))
		return -EINVAL;
	return 0;
}

size_t vscsi_cmd_encode(uint8_t *p, const struct vscsi_cmd_body *b)
{
	vscsi_put32(p, b->target);
	vscsi_put32(p + 4, b->data_len);
	vscsi_put64(p + 8, b->lun);
	p[16] = b->dir;
	p[17] = b->cdb_len;
	p[18] = b->tag_action;
	p[19] = b->flags;
	memcpy(p + 20, b->cdb, 32);
	if (!(b->flags & VSCSI_CMD_F_SHM))
		return VSCSI_CMD_LEN;
	vscsi_put32(p + VSCSI_CMD_LEN, b->shm_off);
	vscsi_put32(p + VSCSI_CMD_LEN + 4, b->shm_len);
	return VSCSI_CMD_LEN + VSCSI_SHM_REF_LEN;
}

int vscsi_cmd_parse(const uint8_t *body, size_t len,
		    struct vscsi_cmd_body *b)
{
	if (len < VSCSI_CMD_LEN)
		return -EINVAL;
	b->target = vscsi_get32(body);
	b->data_len = vscsi_get32(body + 4);
	b->lun = vscsi_get64(body + 8);
	b->dir = body[16];
	b->cdb_len = body[17];
	b->tag_action = body[18];
	b->flags = body[19];
	memcpy(b->cdb, body + 20, 32);
	if (b->cdb_len == 0 || b->cdb_len > VSCSI_CDB_MAX ||
	    b->dir > VSCSI_DIR_WRITE)
		return -EINVAL;
	if (b->dir == VSCSI_DIR_NONE && b->data_len != 0)
		return -EINVAL;
	b->shm_off = b->shm_len = 0;
	if (b->flags & ~(VSCSI_CMD_F_INLINE | VSCSI_CMD_F_SHM))
		return -EINVAL;
	/* Data in the area: a reference to all of it, nothing else. */
	if (b->flags & VSCSI_CMD_F_SHM) {
		if ((b->flags & VSCSI_CMD_F_INLINE) ||
		    b->dir == VSCSI_DIR_NONE || b->data_len == 0 ||
		    len != VSCSI_CMD_LEN + VSCSI_SHM_REF_LEN)
			return -EINVAL;
		b->shm_off = vscsi_get32(body + VSCSI_CMD_LEN);
		b->shm_len = vscsi_get32(body + VSCSI_CMD_LEN + 4);
		return b->shm_len == b->data_len ? 0 : -EINVAL;
	}
	/* Inline write data must be all there; else there is none (the
	 * target pulls it with DATA_WRITE). */
	if (b->flags & VSCSI_CMD_F_INLINE) {
		if (b->dir != VSCSI_DIR_WRITE ||
		    len - VSCSI_CMD_LEN != b->data_len)
			return -EINVAL;
	} else if (len != VSCSI_CMD_LEN) {
		return -EINVAL;
	}
	return 0;
}

size_t vscsi_t2i_encode(uint8_t *p, uint8_t status, uint8_t scsi_status,
			uint8_t sense_len, uint8_t flags, uint32_t shm_off,
			uint32_t shm_len)
{
	p[0] = status;
	p[1] = scsi_status;
	p[2] = sense_len;
	p[3] = flags;
	vscsi_put32(p + 4, 0);
	if (!(flags & VSCSI_T2I_F_SHM))
		return VSCSI_T2I_LEN;
	vscsi_put32(p + VSCSI_T2I_LEN, shm_off);
	vscsi_put32(p + VSCSI_T2I_LEN + 4, shm_len);
	return VSCSI_T2I_LEN + VSCSI_SHM_REF_LEN;
}

int vscsi_t2i_parse(const uint8_t *body, size_t len,
		    struct vscsi_t2i_view *v)
{
	size_t fixed = VSCSI_T2I_LEN;

	if (len < VSCSI_T2I_LEN)
		return -EINVAL;
	v->status = body[0];
	v->scsi_status = body[1];
	v->sense_len = body[2];
	v->flags = body[3];
	v->shm_off = v->shm_len = 0;
	/* Bytes 4..7 are reserved (version 1 had a write count there: the
	 * SIM counts the data moved itself). */
	if (v->flags & ~VSCSI_T2I_F_SHM)
		return -EINVAL;
	if (v->flags & VSCSI_T2I_F_SHM) {
		fixed += VSCSI_SHM_REF_LEN;
		if (len < fixed)
			return -EINVAL;
		v->shm_off = vscsi_get32(body + VSCSI_T2I_LEN);
		v->shm_len = vscsi_get32(body + VSCSI_T2I_LEN + 4);
	}
	if (v->sense_len > VSCSI_SENSE_MAX ||
	    (size_t)v->sense_len > len - fixed)
		return -EINVAL;
	v->sense = body + fixed;
	v->data = v->sense + v->sense_len;
	v->data_len = (uint32_t)(len - fixed - v->sense_len);
	/* The read data is in the area or on the socket, not both. */
	if ((v->flags & VSCSI_T2I_F_SHM) && v->data_len)
		return -EINVAL;
	return 0;
}

int vscsi_shm_check(uint32_t off, uint32_t len, uint64_t slot_off,
		    uint64_t slot_len, uint64_t area_len)
{
	uint64_t end = (uint64_t)off + len;

	if (slot_off + slot_len > area_len || off < slot_off ||
	    end > slot_off + slot_len)
		return -ERANGE;
	return 0;
}

void vscsi_devev_encode(uint8_t *p, uint32_t target, uint64_t lun)
{
	vscsi_put32(p, target);
	vscsi_put32(p + 4, 0);
	vscsi_put64(p + 8, lun);
}

int vscsi_devev_parse(const uint8_t *body, size_t len, struct vscsi_devev *d)
{
	if (len != VSCSI_DEVEV_LEN)
		return -EINVAL;
	d->target = vscsi_get32(body);
	d->lun = vscsi_get64(body + 8);
	return 0;
}

const char *vscsi_msg_name(unsigned type)
{
	switch (type) {
	case VSCSI_MSG_HELLO: return "HELLO";
	case VSCSI_MSG_CMD: return "CMD";
	case VSCSI_MSG_ABORT: return "ABORT";
	case VSCSI_MSG_REPLY: return "REPLY";
	case VSCSI_MSG_EVENT: return "EVENT";
	case VSCSI_MSG_WDATA: return "WDATA";
	case VSCSI_MSG_DATA_WRITE: return "DATA_WRITE";
	case VSCSI_MSG_DATA_READ: return "DATA_READ";
	case VSCSI_MSG_T2I: return "T2I";
	case VSCSI_MSG_REQPROBE: return "REQPROBE";
	case VSCSI_MSG_REQDETACH: return "REQDETACH";
	default: return "?";
	}
}
