/*
 * CDB decoding: one table row per command layout (opcode, and service
 * action where the opcode has one) saying where each field lives, and one
 * generic decoder that reads the row.  Adding a command is adding a row.
 *
 * Layouts are those of SPC-4 and SBC-3/SBC-4.  Where the two SBC revisions
 * differ we take the wider field: GROUP NUMBER is 6 bits (SBC-4; SBC-3 had
 * 5, the sixth was reserved) and BYTCHK is the 2-bit field of SBC-3r27+.
 * Reserved-bit checking is the target engine's business, not ours: we read
 * fields, we do not judge them.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include <scsikit/scsi.h>

#include "scsi/scsi_int.h"

/* Which flags a layout has in its flags byte, and where.  The positions are
 * the same in every SBC command that has the flag, except ANCHOR (bit 0 in
 * UNMAP, bit 4 in WRITE SAME) and IMMED (bit 1 in SYNCHRONIZE CACHE and
 * PRE-FETCH, bit 0 in START STOP UNIT, bit 7 in SANITIZE). */
enum {
	CF_PROTECT = 1u << 0, /* bits 7-5: RD/WR/VR/ORPROTECT */
	CF_DPO = 1u << 1,     /* bit 4 */
	CF_FUA = 1u << 2,     /* bit 3 */
	CF_BYTCHK = 1u << 3,  /* bits 2-1 */
	CF_ANCHOR4 = 1u << 4, /* bit 4 (WRITE SAME) */
	CF_UNMAP3 = 1u << 5,  /* bit 3 (WRITE SAME) */
	CF_NDOB0 = 1u << 6,   /* bit 0 (WRITE SAME 16/32) */
	CF_ANCHOR0 = 1u << 7, /* bit 0 (UNMAP) */
	CF_IMMED0 = 1u << 8,  /* bit 0 (START STOP UNIT) */
	CF_IMMED1 = 1u << 9,  /* bit 1 (SYNCHRONIZE CACHE, PRE-FETCH) */
	CF_IMMED7 = 1u << 10, /* bit 7 (SANITIZE) */
};

#define SA_ANY 0xffffu

/* Width 3 in lba_w means the 21-bit LBA of READ(6)/WRITE(6). */
struct cdb_layout {
	uint8_t opcode;
	uint16_t sa;		/* SA_ANY: the opcode has no service action */
	uint8_t lba_off, lba_w;
	uint8_t xfer_off, xfer_w;
	uint8_t alloc_off, alloc_w;
	uint8_t group_off;	/* 0: no GROUP NUMBER */
	uint8_t flags_off;	/* byte holding the CF_ flags */
	uint16_t flags;
	uint8_t fixed_alloc;	/* returned-data size when the CDB has no
				 * allocation length (READ CAPACITY(10)) */
};

#define RW(op, lo, lw, xo, xw, g, fl) \
	{ op, SA_ANY, lo, lw, xo, xw, 0, 0, g, 1, fl, 0 }
#define ALLOC(op, ao, aw) \
	{ op, SA_ANY, 0, 0, 0, 0, ao, aw, 0, 1, 0, 0 }
#define SA_ALLOC(op, sa, ao, aw) \
	{ op, sa, 0, 0, 0, 0, ao, aw, 0, 1, 0, 0 }
#define NOFIELDS(op) \
	{ op, SA_ANY, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0 }
#define RW32(sa, fl) \
	{ 0x7f, sa, 12, 8, 28, 4, 0, 0, 6, 10, fl, 0 }

#define F_READ (CF_PROTECT | CF_DPO | CF_FUA)
#define F_VERIFY (CF_PROTECT | CF_DPO | CF_BYTCHK)
#define F_WSAME (CF_PROTECT | CF_ANCHOR4 | CF_UNMAP3)

static const struct cdb_layout cdb_layouts[] = {
	/* 6-byte */
	NOFIELDS(SCSI_TEST_UNIT_READY),
	NOFIELDS(SCSI_REZERO_UNIT),
	ALLOC(SCSI_REQUEST_SENSE, 4, 1),
	NOFIELDS(SCSI_FORMAT_UNIT),
	NOFIELDS(0x07), /* REASSIGN BLOCKS: its length is in the data */
	RW(SCSI_READ_6, 1, 3, 4, 1, 0, 0),
	RW(SCSI_WRITE_6, 1, 3, 4, 1, 0, 0),
	ALLOC(SCSI_INQUIRY, 3, 2),
	ALLOC(SCSI_MODE_SELECT_6, 4, 1),
	NOFIELDS(SCSI_RESERVE_6),
	NOFIELDS(SCSI_RELEASE_6),
	ALLOC(SCSI_MODE_SENSE_6, 4, 1),
	RW(SCSI_START_STOP_UNIT, 0, 0, 0, 0, 0, CF_IMMED0),
	ALLOC(SCSI_RECEIVE_DIAGNOSTIC, 3, 2),
	ALLOC(SCSI_SEND_DIAGNOSTIC, 3, 2),
	NOFIELDS(SCSI_PREVENT_ALLOW),
	/* 10-byte */
	{ SCSI_READ_CAPACITY_10, SA_ANY, 2, 4, 0, 0, 0, 0, 0, 1, 0, 8 },
	RW(SCSI_READ_10, 2, 4, 7, 2, 6, F_READ),
	RW(SCSI_WRITE_10, 2, 4, 7, 2, 6, F_READ),
	RW(0x2b, 2, 4, 0, 0, 0, 0), /* SEEK(10) */
	RW(SCSI_WRITE_VERIFY_10, 2, 4, 7, 2, 6, F_VERIFY),
	RW(SCSI_VERIFY_10, 2, 4, 7, 2, 6, F_VERIFY),
	RW(SCSI_PREFETCH_10, 2, 4, 7, 2, 6, CF_IMMED1),
	RW(SCSI_SYNCHRONIZE_CACHE_10, 2, 4, 7, 2, 6, CF_IMMED1),
	ALLOC(SCSI_READ_DEFECT_DATA_10, 7, 2),
	ALLOC(SCSI_WRITE_BUFFER, 6, 3),
	ALLOC(SCSI_READ_BUFFER, 6, 3),
	RW(0x3e, 2, 4, 7, 2, 0, 0), /* READ LONG(10): bytes */
	RW(0x3f, 2, 4, 7, 2, 0, 0), /* WRITE LONG(10): bytes */
	RW(SCSI_WRITE_SAME_10, 2, 4, 7, 2, 6, F_WSAME),
	{ SCSI_UNMAP, SA_ANY, 0, 0, 0, 0, 7, 2, 6, 1, CF_ANCHOR0, 0 },
	{ 0x48, SA_ANY, 0, 0, 0, 0, 7, 2, 0, 1, CF_IMMED7, 0 }, /* SANITIZE */
	ALLOC(SCSI_LOG_SELECT, 7, 2),
	ALLOC(SCSI_LOG_SENSE, 7, 2),
	ALLOC(SCSI_MODE_SELECT_10, 7, 2),
	ALLOC(SCSI_RESERVE_10, 7, 2),
	ALLOC(SCSI_RELEASE_10, 7, 2),
	ALLOC(SCSI_MODE_SENSE_10, 7, 2),
	ALLOC(SCSI_PERSISTENT_RESERVE_IN, 7, 2),
	ALLOC(SCSI_PERSISTENT_RESERVE_OUT, 5, 4),
	/* 32-byte (variable length, SBC) */
	RW32(SCSI_VL_READ_32, F_READ),
	RW32(SCSI_VL_VERIFY_32, F_VERIFY),
	RW32(SCSI_VL_WRITE_32, F_READ),
	RW32(SCSI_VL_WRITE_VERIFY_32, F_VERIFY),
	RW32(SCSI_VL_WRITE_SAME_32, F_WSAME | CF_NDOB0),
	/* 16-byte */
	SA_ALLOC(0x83, 0x00, 10, 4), /* EXTENDED COPY(LID1) */
	SA_ALLOC(0x83, 0x01, 10, 4), /* EXTENDED COPY(LID4) */
	{ 0x83, 0x10, 0, 0, 0, 0, 10, 4, 14, 1, 0, 0 }, /* POPULATE TOKEN */
	{ 0x83, 0x11, 0, 0, 0, 0, 10, 4, 14, 1, 0, 0 }, /* WRITE USING TOKEN */
	SA_ALLOC(0x84, 0x00, 10, 4),
	SA_ALLOC(0x84, 0x01, 10, 4),
	SA_ALLOC(0x84, 0x03, 10, 4),
	SA_ALLOC(0x84, 0x04, 10, 4),
	SA_ALLOC(0x84, 0x05, 10, 4),
	SA_ALLOC(0x84, 0x06, 10, 4),
	SA_ALLOC(0x84, 0x07, 10, 4),
	SA_ALLOC(0x84, 0x08, 10, 4),
	RW(SCSI_READ_16, 2, 8, 10, 4, 14, F_READ),
	RW(SCSI_COMPARE_AND_WRITE, 2, 8, 13, 1, 14, F_READ),
	RW(SCSI_WRITE_16, 2, 8, 10, 4, 14, F_READ),
	RW(SCSI_ORWRITE_16, 2, 8, 10, 4, 14, F_READ),
	RW(SCSI_WRITE_VERIFY_16, 2, 8, 10, 4, 14, F_VERIFY),
	RW(SCSI_VERIFY_16, 2, 8, 10, 4, 14, F_VERIFY),
	RW(SCSI_PREFETCH_16, 2, 8, 10, 4, 14, CF_IMMED1),
	RW(SCSI_SYNCHRONIZE_CACHE_16, 2, 8, 10, 4, 14, CF_IMMED1),
	RW(SCSI_WRITE_SAME_16, 2, 8, 10, 4, 14, F_WSAME | CF_NDOB0),
	RW(SCSI_WRITE_ATOMIC_16, 2, 8, 12, 2, 14, F_READ),
	{ 0x9e, SCSI_SAI_READ_CAPACITY_16, 2, 8, 0, 0, 10, 4, 0, 1, 0, 0 },
	{ 0x9e, 0x11, 2, 8, 12, 2, 0, 0, 0, 1, 0, 0 }, /* READ LONG(16) */
	{ 0x9e, SCSI_SAI_GET_LBA_STATUS, 2, 8, 0, 0, 10, 4, 0, 1, 0, 0 },
	{ 0x9e, 0x13, 2, 8, 0, 0, 10, 4, 0, 1, 0, 0 }, /* REPORT REFERRALS */
	{ 0x9f, 0x11, 2, 8, 12, 2, 0, 0, 0, 1, 0, 0 }, /* WRITE LONG(16) */
	/* 12-byte */
	ALLOC(SCSI_REPORT_LUNS, 6, 4),
	ALLOC(SCSI_SECURITY_PROTOCOL_IN, 6, 4),
	SA_ALLOC(0xa3, 0x05, 6, 4),
	SA_ALLOC(0xa3, SCSI_MI_REPORT_TARGET_PORT_GROUPS, 6, 4),
	SA_ALLOC(0xa3, 0x0b, 6, 4),
	SA_ALLOC(0xa3, SCSI_MI_REPORT_SUPPORTED_OPCODES, 6, 4),
	SA_ALLOC(0xa3, SCSI_MI_REPORT_SUPPORTED_TMFS, 6, 4),
	SA_ALLOC(0xa3, 0x0e, 6, 4),
	SA_ALLOC(0xa3, SCSI_MI_REPORT_TIMESTAMP, 6, 4),
	SA_ALLOC(0xa3, 0x10, 6, 4),
	SA_ALLOC(0xa4, 0x06, 6, 4),
	SA_ALLOC(0xa4, 0x0a, 6, 4),
	SA_ALLOC(0xa4, 0x0b, 6, 4),
	SA_ALLOC(0xa4, 0x0e, 6, 4),
	SA_ALLOC(0xa4, 0x0f, 6, 4),
	SA_ALLOC(0xa4, 0x10, 6, 4),
	RW(SCSI_READ_12, 2, 4, 6, 4, 10, F_READ),
	RW(SCSI_WRITE_12, 2, 4, 6, 4, 10, F_READ),
	RW(SCSI_WRITE_VERIFY_12, 2, 4, 6, 4, 10, F_VERIFY),
	RW(SCSI_VERIFY_12, 2, 4, 6, 4, 10, F_VERIFY),
	ALLOC(SCSI_SECURITY_PROTOCOL_OUT, 6, 4),
	ALLOC(0xb7, 6, 4), /* READ DEFECT DATA(12) */
};

/* Opcodes with a 5-bit SERVICE ACTION in byte 1 that decode reports even
 * though their layout does not depend on it. */
static bool cdb_has_byte1_sa(uint8_t opcode)
{
	switch (opcode) {
	case SCSI_PERSISTENT_RESERVE_IN:
	case SCSI_PERSISTENT_RESERVE_OUT:
	case 0x48: /* SANITIZE */
		return true;
	default:
		return opcode != SCSI_VARIABLE_LENGTH &&
		       scsi_opcode_has_sa(opcode);
	}
}

static const struct cdb_layout *cdb_layout_find(uint8_t opcode, uint16_t sa)
{
	bool by_sa = opcode == SCSI_VARIABLE_LENGTH || scsi_opcode_has_sa(opcode);
	size_t i;

	for (i = 0; i < sizeof(cdb_layouts) / sizeof(cdb_layouts[0]); i++) {
		const struct cdb_layout *l = &cdb_layouts[i];

		if (l->opcode != opcode)
			continue;
		if (!by_sa || l->sa == sa)
			return l;
	}
	return NULL;
}

/* Read a big-endian field of w bytes (1..4 or 8). */
static uint64_t cdb_get(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < w; i++)
		v = (v << 8) | p[i];
	return v;
}

int scsi_cdb_decode(const uint8_t *cdb, size_t len, struct scsi_cdb_fields *f)
{
	const struct cdb_layout *l;
	unsigned cdb_len;
	uint8_t fb;

	memset(f, 0, sizeof(*f));
	if (cdb == NULL || len == 0)
		return -EINVAL;
	f->opcode = cdb[0];
	cdb_len = scsi_cdb_length(cdb, len);
	if (cdb_len == 0) {
		/* 0x7f needs byte 7 to know its length. */
		if (cdb[0] == SCSI_VARIABLE_LENGTH)
			return -EINVAL;
		return -ENOTSUP; /* vendor specific or reserved group */
	}
	if (len < cdb_len)
		return -EINVAL;
	f->cdb_len = cdb_len;

	if (cdb[0] == SCSI_VARIABLE_LENGTH) {
		/* SPC-4 4.2.3: the control byte is byte 1 and the service
		 * action bytes 8-9; a CDB too short to hold them is
		 * malformed. */
		f->control = cdb[1];
		if (cdb_len < 10)
			return -EINVAL;
		f->service_action = scsi_get16(cdb + 8);
	} else {
		f->control = cdb[cdb_len - 1];
		if (cdb_has_byte1_sa(cdb[0]))
			f->service_action = cdb[1] & 0x1f;
	}

	l = cdb_layout_find(f->opcode, f->service_action);
	if (l == NULL)
		return -ENOTSUP;
	/* Every 32-byte layout we know has ADDITIONAL CDB LENGTH 0x18; a
	 * different one would put our offsets past the end of the CDB. */
	if (f->opcode == SCSI_VARIABLE_LENGTH && cdb_len != 32)
		return -EINVAL;

	if (l->lba_w == 3) {
		f->lba = ((uint32_t)(cdb[1] & 0x1f) << 16) | scsi_get16(cdb + 2);
		f->has_lba = true;
	} else if (l->lba_w) {
		f->lba = cdb_get(cdb + l->lba_off, l->lba_w);
		f->has_lba = true;
	}
	if (l->xfer_w) {
		f->xfer_len = (uint32_t)cdb_get(cdb + l->xfer_off, l->xfer_w);
		/* SBC: READ(6)/WRITE(6) TRANSFER LENGTH 0 means 256 blocks;
		 * for every other command 0 is 0 blocks. */
		if (l->lba_w == 3 && f->xfer_len == 0)
			f->xfer_len = 256;
		f->has_xfer_len = true;
	}
	if (l->alloc_w) {
		f->alloc_len = (uint32_t)cdb_get(cdb + l->alloc_off, l->alloc_w);
		f->has_alloc_len = true;
	} else if (l->fixed_alloc) {
		f->alloc_len = l->fixed_alloc;
		f->has_alloc_len = true;
	}
	if (l->group_off)
		f->group = cdb[l->group_off] & 0x3f;

	fb = cdb[l->flags_off];
	if (l->flags & CF_PROTECT)
		f->wrprotect = fb >> 5;
	if (l->flags & CF_DPO)
		f->dpo = fb & 0x10;
	if (l->flags & CF_FUA)
		f->fua = fb & 0x08;
	if (l->flags & CF_BYTCHK)
		f->bytchk = (fb >> 1) & 0x3;
	if (l->flags & CF_ANCHOR4)
		f->anchor = fb & 0x10;
	if (l->flags & CF_UNMAP3)
		f->unmap = fb & 0x08;
	if (l->flags & CF_NDOB0)
		f->ndob = fb & 0x01;
	if (l->flags & CF_ANCHOR0)
		f->anchor = fb & 0x01;
	if (l->flags & CF_IMMED0)
		f->immed = fb & 0x01;
	if (l->flags & CF_IMMED1)
		f->immed = fb & 0x02;
	if (l->flags & CF_IMMED7)
		f->immed = fb & 0x80;
	return 0;
}

uint8_t scsi_cdb_rw(uint8_t *cdb, bool read, uint64_t lba, uint32_t blocks,
		    bool fua)
{
	uint8_t len = 10;

	memset(cdb, 0, 16);
	if (lba + blocks <= 0xffffffffull && blocks <= 0xffff) {
		cdb[0] = read ? SCSI_READ_10 : SCSI_WRITE_10;
		scsi_put32(&cdb[2], (uint32_t)lba);
		scsi_put16(&cdb[7], (uint16_t)blocks);
	} else {
		cdb[0] = read ? SCSI_READ_16 : SCSI_WRITE_16;
		scsi_put64(&cdb[2], lba);
		scsi_put32(&cdb[10], blocks);
		len = 16;
	}
	if (fua)
		cdb[1] |= 0x08;	/* FUA, same bit in (10) and (16) */
	return len;
}
