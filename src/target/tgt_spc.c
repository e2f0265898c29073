/*
 * SPC-4 primary commands: TEST UNIT READY, INQUIRY (standard data and the
 * VPD pages 00h, 80h, 83h, B0h, B1h, B2h), REPORT LUNS, REQUEST SENSE,
 * RESERVE / RELEASE (SPC-2 reservations), START STOP UNIT and PREVENT ALLOW
 * MEDIUM REMOVAL for a fixed (non-removable) direct-access device.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt_int.h"

/* Version descriptors (SPC-4 table 31). */
#define VD_SAM5 0x00a0
#define VD_SPC4 0x0460
#define VD_SBC3 0x04c0
#define VD_ISCSI 0x0960

#define INQ_STD_LEN 96

void tgt_h_tur(struct tgt_cmd *c)
{
	/* The medium is always present and spun up. */
	tgt_cmd_good(c);
}

static void put_ascii(uint8_t *dst, size_t len, const char *s)
{
	size_t n = strlen(s);

	memset(dst, ' ', len);
	memcpy(dst, s, n < len ? n : len);
}

static size_t inq_standard(struct tgt_cmd *c, uint8_t *p)
{
	struct tgt_lun *lun = c->lun;

	memset(p, 0, INQ_STD_LEN);
	if (lun == NULL) {
		/* SPC-4 6.6.2: no logical unit here -- qualifier 011b and type
		 * 1Fh; the rest is still well-formed. */
		p[0] = 0x60 | SCSI_TYPE_NO_LUN;
	} else {
		/* qualifier 000b, direct access or CD/DVD (MMC) */
		p[0] = lun->media.cdrom ? SCSI_TYPE_CDROM : SCSI_TYPE_DISK;
	}
	/* RMB: removable medium */
	p[1] = lun != NULL && lun->media.removable ? 0x80 : 0x00;
	p[2] = 0x06;		/* VERSION: SPC-4 */
	p[3] = 0x10 | 0x02;	/* HISUP, RESPONSE DATA FORMAT 2 */
	p[4] = INQ_STD_LEN - 5;	/* ADDITIONAL LENGTH */
	if (tgt_alua_enabled())
		p[5] |= 0x30;	/* TPGS 11b: implicit and explicit ALUA */
	if (lun != NULL && !lun->media.cdrom)
		p[5] |= 0x08;	/* 3PC: EXTENDED COPY (tgt_xcopy.c) */
	p[7] = 0x02;		/* CMDQUE */
	put_ascii(p + 8, 8, lun != NULL ? lun->vendor : "SCSIKIT");
	put_ascii(p + 16, 16, lun != NULL ? lun->product : "NO LUN");
	put_ascii(p + 32, 4, lun != NULL ? lun->revision : "0");
	scsi_put16(p + 58, VD_SAM5);	/* VERSION DESCRIPTORS */
	scsi_put16(p + 60, VD_SPC4);
	/* A CD-ROM claims no SBC (and no particular MMC version). */
	if (lun != NULL && lun->media.cdrom) {
		scsi_put16(p + 62, VD_ISCSI);
	} else {
		scsi_put16(p + 62, VD_SBC3);
		scsi_put16(p + 64, VD_ISCSI);
	}
	return INQ_STD_LEN;
}

static const uint8_t vpd_supported[] = { 0x00, 0x80, 0x83, 0x8f, 0xb0, 0xb1,
					0xb2 };

static size_t vpd_designators(struct tgt_cmd *c, struct tgt_lun *lun,
			      uint8_t *p)
{
	const char *tname = c->n->t->name;
	size_t n = 4, sl = strlen(lun->serial);
	uint16_t tpg = tgt_alua_port_group(c->n->rtpi);

	/* NAA IEEE Registered Extended (NAA 6), 16 bytes, binary. */
	p[n + 0] = 0x01;	/* PROTOCOL IDENTIFIER 0, CODE SET binary */
	p[n + 1] = 0x03;	/* PIV 0, ASSOCIATION LU, TYPE NAA */
	p[n + 3] = 16;
	tgt_lun_naa_designator(lun, p + n + 4);
	n += 4 + 16;

	/* T10 vendor ID: vendor (8 bytes) + the unit serial, ASCII. */
	if (sl > 64)
		sl = 64;
	p[n + 0] = 0x02;	/* CODE SET ASCII */
	p[n + 1] = 0x01;	/* ASSOCIATION LU, TYPE T10 VENDOR ID */
	p[n + 3] = (uint8_t)(8 + sl);
	put_ascii(p + n + 4, 8, lun->vendor);
	memcpy(p + n + 12, lun->serial, sl);
	n += 4 + 8 + sl;

	/* Relative target port identifier of the nexus's port; association
	 * target port.  PIV 0: the engine does not know the transport. */
	p[n + 0] = 0x01;
	p[n + 1] = 0x10 | 0x04;
	p[n + 3] = 4;
	scsi_put16(p + n + 6, c->n->rtpi);
	n += 8;

	/* Target port group of that port (SPC-4 7.8.6.7), with ALUA. */
	if (tpg != 0) {
		p[n + 0] = 0x01;
		p[n + 1] = 0x10 | 0x05;
		p[n + 3] = 4;
		scsi_put16(p + n + 6, tpg);
		n += 8;
	}

	/* SCSI name string of the target device (its iSCSI name), UTF-8,
	 * null-terminated and padded to a multiple of 4. */
	if (tname[0] != '\0') {
		size_t tl = strlen(tname), padded;

		if (tl > 223)
			tl = 223;
		padded = (tl + 1 + 3) & ~(size_t)3;
		p[n + 0] = 0x03;		/* CODE SET UTF-8 */
		p[n + 1] = 0x20 | 0x08;		/* target device, SCSI name */
		p[n + 3] = (uint8_t)padded;
		memset(p + n + 4, 0, padded);
		memcpy(p + n + 4, tname, tl);
		n += 4 + padded;
	}
	return n;
}

static size_t inq_vpd(struct tgt_cmd *c, uint8_t page, uint8_t *p)
{
	struct tgt_lun *lun = c->lun;
	const struct bdev_geometry *geo = bdev_geometry(lun->bd);
	size_t n;

	p[0] = lun->media.cdrom ? SCSI_TYPE_CDROM : SCSI_TYPE_DISK;
	p[1] = page;
	if (lun->media.cdrom && page >= 0xb0)
		return 0;
	switch (page) {
	case 0x00: /* SUPPORTED VPD PAGES (a CD-ROM has no SBC pages) */
		n = lun->media.cdrom ? 3 : sizeof(vpd_supported);
		memcpy(p + 4, vpd_supported, n);
		n += 4;
		break;
	case 0x80: /* UNIT SERIAL NUMBER */
		n = strlen(lun->serial);
		memcpy(p + 4, lun->serial, n);
		n += 4;
		break;
	case 0x83: /* DEVICE IDENTIFICATION */
		n = vpd_designators(c, lun, p);
		break;
	case 0x8f: /* THIRD-PARTY COPY (tgt_xcopy.c) */
		n = tgt_xcopy_vpd(lun, p);
		break;
	case 0xb0: { /* BLOCK LIMITS (SBC-3 6.5.3) */
		uint32_t gran = 1u << lun->pb_exp;
		uint32_t maxb = tgt_max_xfer_blocks(c);
		uint32_t optb = geo->opt_xfer / lun->lbsize;
		uint32_t atom = tgt_atomic_limit(c);

		n = 64;
		p[4] = lun->ws_to_end ? 0x00 : 0x01;	/* WSNZ */
		p[5] = (uint8_t)tgt_caw_limit(lun); /* MAX COMPARE AND WRITE
						       * LENGTH */
		scsi_put16(p + 6, (uint16_t)gran); /* OPT. XFER LEN GRANULARITY */
		scsi_put32(p + 8, maxb);	/* MAXIMUM TRANSFER LENGTH */
		scsi_put32(p + 12, optb < maxb ? optb : maxb); /* OPTIMAL */
		if (geo->can_discard) {
			scsi_put32(p + 20, TGT_MAX_UNMAP_LBA_COUNT);
			scsi_put32(p + 24, TGT_MAX_UNMAP_DESC);
			scsi_put32(p + 28, gran);	/* OPT UNMAP GRANULARITY */
		}
		scsi_put64(p + 36, TGT_MAX_WS_LEN);	/* MAX WRITE SAME LENGTH */
		/* WRITE ATOMIC(16) (tgt_atomic.c); no atomic boundaries. */
		if (atom != 0) {
			scsi_put32(p + 44, atom);	/* MAX ATOMIC XFER LEN */
			scsi_put32(p + 48, tgt_atomic_align(lun)); /* ALIGN */
			scsi_put32(p + 52, tgt_atomic_align(lun)); /* GRAN */
		}
		break;
	}
	case 0xb1: /* BLOCK DEVICE CHARACTERISTICS */
		n = 64;
		scsi_put16(p + 4, 0x0001);	/* MEDIUM ROTATION RATE: none */
		/* WABEREQ 01b: a read after SANITIZE BLOCK ERASE (offered
		 * where the bdev can discard) succeeds (tgt_sanitize.c). */
		if (geo->can_discard)
			p[7] = 0x40;
		break;
	case 0xb2: /* LOGICAL BLOCK PROVISIONING (SBC-3 6.5.4) */
		n = 8;
		if (geo->can_discard) {
			/* LBPU, LBPWS, LBPWS10 (+ LBPRZ when discarded blocks
			 * read back as zeroes). */
			p[5] = 0x80 | 0x40 | 0x20 |
			       (geo->discard_zeroes ? 0x04 : 0);
			p[6] = 0x02;	/* PROVISIONING TYPE: thin */
		}
		break;
	default:
		return 0;
	}
	scsi_put16(p + 2, (uint16_t)(n - 4));	/* PAGE LENGTH */
	return n;
}

void tgt_h_inquiry(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	bool evpd = cdb[1] & 0x01;
	uint8_t page = cdb[2];
	uint16_t alloc = scsi_get16(cdb + 3);
	uint8_t buf[512];
	size_t n;

	memset(buf, 0, sizeof(buf));
	if (!evpd) {
		if (page != 0) {
			tgt_cmd_bad_cdb(c, 2, -1);
			return;
		}
		n = inq_standard(c, buf);
	} else {
		if (c->lun == NULL) {
			tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
				      SCSI_ASC_LUN_NOT_SUPPORTED);
			return;
		}
		n = inq_vpd(c, page, buf);
		if (n == 0) {
			tgt_cmd_bad_cdb(c, 2, -1);
			return;
		}
	}
	tgt_cmd_data_in(c, buf, n, alloc);
	tgt_cmd_good(c);
}

void tgt_h_report_luns(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	struct tgt_nexus *n = c->n;
	uint8_t sel = cdb[2];
	uint32_t alloc = scsi_get32(cdb + 6);
	uint32_t ids[TGT_MAX_LUNS];
	uint8_t *buf;
	unsigned i, cnt = 0;

	/* SELECT REPORT: 00h all LUs, 01h well-known LUs only (we have none),
	 * 02h all LUs. */
	if (sel > 2) {
		tgt_cmd_bad_cdb(c, 2, -1);
		return;
	}
	if (sel != 1)
		cnt = tgt_target_luns(n->t, ids, TGT_MAX_LUNS);
	if (cnt > TGT_MAX_LUNS)
		cnt = TGT_MAX_LUNS;
	buf = calloc(1, 8 + 8 * (size_t)cnt);
	if (buf == NULL) {
		tgt_cmd_errno(c, -ENOMEM, false);
		return;
	}
	scsi_put32(buf, 8 * cnt);	/* LUN LIST LENGTH */
	for (i = 0; i < cnt; i++) {
		/* Peripheral device addressing (SAM-5 4.7.7.3): bus 0. */
		buf[8 + 8 * i + 1] = (uint8_t)ids[i];
	}
	/* SPC-4 6.33: REPORT LUNS clears REPORTED LUNS DATA HAS CHANGED for
	 * this nexus. */
	for (i = 0; i < TGT_MAX_LUNS; i++)
		atomic_fetch_and(&n->ua[i], ~(1u << TGT_UA_LUNS_CHANGED));
	tgt_cmd_data_in(c, buf, 8 + 8 * (size_t)cnt, alloc);
	free(buf);
	tgt_cmd_good(c);
}

void tgt_h_request_sense(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	bool desc = cdb[1] & 0x01;
	struct scsi_sense s;
	uint8_t buf[SCSI_SENSE_MAX];
	uint16_t asc;
	size_t n;

	memset(&s, 0, sizeof(s));
	s.current = true;
	if (c->lun == NULL) {
		s.key = SCSI_SK_ILLEGAL_REQUEST;
		s.asc_ascq = SCSI_ASC_LUN_NOT_SUPPORTED;
	} else if (tgt_nexus_ua_take(c->n, c->lun_id, &asc)) {
		/* SPC-4 5.14: REQUEST SENSE reports and clears a pending
		 * unit attention. */
		s.key = SCSI_SK_UNIT_ATTENTION;
		s.asc_ascq = asc;
	} else if (tgt_media_sense(c, &s)) {
		/* Sanitize progress, no medium (tgt_medium.c). */
	} else {
		s.key = SCSI_SK_NO_SENSE;
		s.asc_ascq = SCSI_ASC_NO_ADDITIONAL_SENSE;
	}
	n = scsi_sense_build(&s, desc, buf, sizeof(buf));
	tgt_cmd_data_in(c, buf, n, cdb[4]);
	tgt_cmd_good(c);
}

/* ---- SPC-2 RESERVE / RELEASE ---- */

void tgt_h_reserve(struct tgt_cmd *c)
{
	struct tgt_lun *lun = c->lun;
	uint64_t none = 0;
	bool pr;

	/* SPC-4 5.9.1: RESERVE conflicts with any persistent reservation or
	 * registration. */
	pthread_mutex_lock(&lun->lock);
	pr = lun->pr.nregs > 0 || lun->pr.reserved;
	pthread_mutex_unlock(&lun->lock);
	if (pr) {
		tgt_cmd_status(c, SCSI_STATUS_RESERVATION_CONFLICT);
		return;
	}
	if (atomic_compare_exchange_strong(&lun->res2_holder, &none, c->n->id) ||
	    none == c->n->id) {
		tgt_cmd_good(c);
		return;
	}
	tgt_cmd_status(c, SCSI_STATUS_RESERVATION_CONFLICT);
}

void tgt_h_release(struct tgt_cmd *c)
{
	uint64_t mine = c->n->id;

	/* Releasing someone else's reservation (or none) is a no-op that
	 * still answers GOOD (SPC-2 7.21.2). */
	atomic_compare_exchange_strong(&c->lun->res2_holder, &mine, 0);
	tgt_cmd_good(c);
}

/* ---- START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL ---- */

static void stop_flush_done(struct tgt_cmd *c, int err)
{
	if (err != 0 && err != -ENOTSUP) {
		tgt_cmd_errno(c, err, true);
		return;
	}
	tgt_cmd_good(c);
}

void tgt_h_start_stop(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	int rc;

	/* SBC-3 5.25: with a POWER CONDITION, START and LOEJ are ignored;
	 * a virtual unit has no power states to move between. */
	if (cdb[4] & 0xf0) {
		tgt_cmd_good(c);
		return;
	}
	if (c->lun->media.removable) {
		tgt_medium_start_stop(c);
		return;
	}
	/* A fixed disk has no medium to load or eject: LOEJ is an invalid
	 * field (libiscsi StartStopUnit.Simple expects a failure when RMB is
	 * 0). */
	if (cdb[4] & 0x02) {
		tgt_cmd_bad_cdb(c, 4, 1);
		return;
	}
	/* START 1: already started.  START 0: flush (unless NO_FLUSH) and
	 * stay ready -- a virtual disk spins up again instantly. */
	if ((cdb[4] & 0x01) || (cdb[4] & 0x04)) {
		tgt_cmd_good(c);
		return;
	}
	rc = tgt_io_start(c, BDEV_IO_FLUSH, 0, 0, 0, NULL, 0, stop_flush_done);
	if (rc == -ENOTSUP)
		tgt_cmd_good(c);
	else if (rc < 0)
		tgt_cmd_errno(c, rc, true);
}

void tgt_h_prevent_allow(struct tgt_cmd *c)
{
	if (c->lun->media.removable) {
		tgt_medium_prevent_allow(c);
		return;
	}
	/* Nothing can be removed from a fixed disk, so preventing removal
	 * (00b/01b) holds trivially; 10b/11b are obsolete in SBC-3. */
	if ((c->task->cdb[4] & 0x03) > 1) {
		tgt_cmd_bad_cdb(c, 4, 1);
		return;
	}
	tgt_cmd_good(c);
}

uint32_t tgt_max_xfer_blocks(const struct tgt_cmd *c)
{
	const struct bdev_geometry *geo = bdev_geometry(c->lun->bd);
	uint32_t fe = atomic_load(&c->n->t->max_xfer);

	/* The front end's per-command limit is what an initiator must not
	 * exceed; the engine itself splits any length for the bdev. */
	if (fe != 0)
		return fe >> c->lun->lbshift;
	return geo->max_xfer >> c->lun->lbshift;
}
