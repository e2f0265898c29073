/*
 * MODE SENSE(6/10) and MODE SELECT(6/10) with the mode pages a disk needs:
 * read-write error recovery (01h), caching (08h), control (0Ah) and
 * informational exceptions control (1Ch), plus 3Fh for all of them.
 *
 * Mode parameters belong to the LUN (one set shared by every I_T nexus,
 * which SPC-4 allows); a change made through one nexus gives every other
 * nexus a MODE PARAMETERS CHANGED unit attention.  Nothing can be saved:
 * PC=11b answers SAVING PARAMETERS NOT SUPPORTED and SP=1 is an invalid
 * field.  Changeable bits: WCE and RCD (caching), D_SENSE and SWP
 * (control), DEXCPT (informational exceptions).
 *
 * WCE=0 makes every write FUA (write-through), whatever the bdev; WCE=1
 * lets writes complete from the bdev's volatile cache if it has one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt_int.h"

enum { PC_CURRENT = 0, PC_CHANGEABLE = 1, PC_DEFAULT = 2, PC_SAVED = 3 };

/* The pages, in the order 3Fh returns them, with their full length. */
static const struct {
	uint8_t code;
	uint8_t len;
} mode_pages[] = {
	{ 0x01, 12 },
	{ 0x08, 20 },
	{ 0x0a, 12 },
	{ 0x1c, 12 },
	{ 0x2a, 32 },	/* CD-ROM only (tgt_mmc.c) */
};

/* Page idx exists on lun: 2Ah only on a CD-ROM, 08h (caching) only on a
 * disk. */
static bool page_on(const struct tgt_lun *lun, unsigned idx)
{
	uint8_t code = mode_pages[idx].code;

	if (code == 0x2a)
		return lun->media.cdrom;
	if (code == 0x08)
		return !lun->media.cdrom;
	return true;
}

#define NPAGES (sizeof(mode_pages) / sizeof(mode_pages[0]))

void tgt_mode_defaults(struct tgt_lun *lun)
{
	lun->mode.wce = lun->def_wce;
	lun->mode.rcd = false;
	lun->mode.d_sense = lun->def_d_sense;
	lun->mode.swp = false;
	lun->mode.dexcpt = true;
	lun->mode.mrie = 0;
	atomic_store(&lun->wce, lun->mode.wce);
	atomic_store(&lun->d_sense, lun->mode.d_sense);
	atomic_store(&lun->swp, lun->mode.swp);
}

static int page_index(const struct tgt_lun *lun, uint8_t code)
{
	unsigned i;

	for (i = 0; i < NPAGES; i++)
		if (mode_pages[i].code == code && page_on(lun, i))
			return (int)i;
	return -1;
}

/* Write page idx as seen with page control pc into p; returns its length.
 * m is the current state (lun->lock held by the caller). */
static size_t page_build(const struct tgt_lun *lun, const struct tgt_mode *m,
			 unsigned idx, int pc, uint8_t *p)
{
	struct tgt_mode def;
	const struct tgt_mode *v = m;
	uint8_t len = mode_pages[idx].len;
	bool chg = pc == PC_CHANGEABLE;

	if (pc == PC_DEFAULT) {
		memset(&def, 0, sizeof(def));
		def.wce = lun->def_wce;
		def.d_sense = lun->def_d_sense;
		def.dexcpt = true;
		v = &def;
	}
	memset(p, 0, len);
	p[0] = mode_pages[idx].code;	/* PS 0: not savable */
	p[1] = (uint8_t)(len - 2);	/* PAGE LENGTH */
	switch (mode_pages[idx].code) {
	case 0x01:
		/* Read-write error recovery: no retries to tune, no
		 * reallocation; nothing changeable. */
		break;
	case 0x08:
		if (chg)
			p[2] = 0x04 | 0x01;
		else
			p[2] = (uint8_t)((v->wce ? 0x04 : 0) |
					 (v->rcd ? 0x01 : 0));
		break;
	case 0x0a:
		if (chg) {
			p[2] = 0x04;	/* D_SENSE */
			p[4] = 0x08;	/* SWP */
		} else {
			/* TST 000b (per-nexus task sets), D_SENSE, GLTSD (no
			 * log parameters are saved). */
			p[2] = (uint8_t)((v->d_sense ? 0x04 : 0) | 0x02);
			p[3] = 0x10;	/* QUEUE ALGORITHM MODIFIER 1 */
			p[4] = v->swp ? 0x08 : 0;
		}
		break;
	case 0x1c:
		if (chg)
			p[2] = 0x08;	/* DEXCPT */
		else
			p[2] = v->dexcpt ? 0x08 : 0;
		p[3] = chg ? 0 : (uint8_t)(v->mrie & 0x0f);
		break;
	case 0x2a:
		tgt_mmc_caps_page(lun, chg, p, len);
		break;
	}
	return len;
}

void tgt_h_mode_sense(struct tgt_cmd *c)
{
	struct tgt_lun *lun = c->lun;
	const uint8_t *cdb = c->task->cdb;
	bool ms6 = cdb[0] == SCSI_MODE_SENSE_6;
	bool dbd = cdb[1] & 0x08, llbaa = !ms6 && (cdb[1] & 0x10);
	int pc = cdb[2] >> 6;
	uint8_t page = cdb[2] & 0x3f, subpage = cdb[3];
	uint32_t alloc = ms6 ? cdb[4] : scsi_get16(cdb + 7);
	size_t hdr = ms6 ? 4 : 8, bdl = 0, n;
	uint64_t nb = tgt_lun_nblocks(lun);
	uint8_t buf[256];
	unsigned i;
	int idx = -1;

	if (pc == PC_SAVED) {
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
		return;
	}
	/* No subpages: only subpage 00h, or FFh ("all subpages"). */
	if (subpage != 0 && subpage != 0xff) {
		tgt_cmd_bad_cdb(c, 3, -1);
		return;
	}
	if (page != 0x3f) {
		idx = page_index(lun, page);
		if (idx < 0) {
			tgt_cmd_bad_cdb(c, 2, 5);
			return;
		}
	}
	memset(buf, 0, sizeof(buf));
	if (!dbd)
		bdl = llbaa ? 16 : 8;
	n = hdr;
	if (bdl == 8) {
		/* Short block descriptor: blocks (all ones if too many),
		 * density 0, block length. */
		if (pc != PC_CHANGEABLE) {
			scsi_put32(buf + n, nb > 0xffffffffull ? 0xffffffffu :
								  (uint32_t)nb);
			scsi_put24(buf + n + 5, lun->lbsize);
		}
	} else if (bdl == 16) {
		if (pc != PC_CHANGEABLE) {
			scsi_put64(buf + n, nb);
			scsi_put32(buf + n + 12, lun->lbsize);
		}
	}
	n += bdl;
	pthread_mutex_lock(&lun->lock);
	for (i = 0; i < NPAGES; i++) {
		if ((idx >= 0 && (unsigned)idx != i) || !page_on(lun, i))
			continue;
		n += page_build(lun, &lun->mode, i, pc, buf + n);
	}
	pthread_mutex_unlock(&lun->lock);
	if (ms6) {
		buf[0] = (uint8_t)(n - 1);	/* MODE DATA LENGTH */
		buf[2] = (uint8_t)((tgt_lun_write_protected(lun) ? 0x80 : 0) |
				   0x10);	/* WP, DPOFUA */
		buf[3] = (uint8_t)bdl;		/* BLOCK DESCRIPTOR LENGTH */
	} else {
		scsi_put16(buf, (uint16_t)(n - 2));
		buf[3] = (uint8_t)((tgt_lun_write_protected(lun) ? 0x80 : 0) |
				   0x10);
		buf[4] = llbaa && bdl == 16 ? 0x01 : 0; /* LONGLBA */
		scsi_put16(buf + 6, (uint16_t)bdl);
	}
	tgt_cmd_data_in(c, buf, n, alloc);
	tgt_cmd_good(c);
}

static void param_len_error(struct tgt_cmd *c)
{
	tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
		      SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
}

/* Apply one validated page image p (page idx) to m. */
static void page_apply(struct tgt_mode *m, unsigned idx, const uint8_t *p)
{
	switch (mode_pages[idx].code) {
	case 0x08:
		m->wce = p[2] & 0x04;
		m->rcd = p[2] & 0x01;
		break;
	case 0x0a:
		m->d_sense = p[2] & 0x04;
		m->swp = p[4] & 0x08;
		break;
	case 0x1c:
		m->dexcpt = p[2] & 0x08;
		break;
	}
}

void tgt_h_mode_select(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	struct tgt_lun *lun = c->lun;
	const uint8_t *cdb = task->cdb;
	bool ms6 = cdb[0] == SCSI_MODE_SELECT_6;
	bool pf = cdb[1] & 0x10, sp = cdb[1] & 0x01;
	uint32_t plen = ms6 ? cdb[4] : scsi_get16(cdb + 7);
	uint32_t hdr = ms6 ? 4 : 8, bdl, pos;
	struct tgt_mode m;
	bool changed;
	uint8_t *p;

	c->implied = plen;
	if (sp) {
		/* Nothing can be saved (SPC-4 6.11). */
		tgt_cmd_bad_cdb(c, 1, 0);
		return;
	}
	if (plen == 0) {
		tgt_cmd_good(c);
		return;
	}
	if (plen < hdr || task->data_len < plen) {
		param_len_error(c);
		return;
	}
	p = c->buf = malloc(plen);
	if (p == NULL) {
		tgt_cmd_errno(c, -ENOMEM, false);
		return;
	}
	tgt_cmd_data_out(c, p, plen);
	c->moved = plen;

	/* Header: MEDIUM TYPE must be 0; MODE DATA LENGTH and the
	 * device-specific parameter are reserved in MODE SELECT and ignored. */
	if (p[ms6 ? 1 : 2] != 0) {
		tgt_cmd_bad_param(c, ms6 ? 1 : 2, -1);
		return;
	}
	bdl = ms6 ? p[3] : scsi_get16(p + 6);
	if (hdr + bdl > plen) {
		param_len_error(c);
		return;
	}
	if (bdl != 0) {
		bool longlba = !ms6 && (p[4] & 0x01);
		const uint8_t *b = p + hdr;
		uint64_t nb;
		uint32_t bl;

		if (bdl != (longlba ? 16u : 8u)) {
			tgt_cmd_bad_param(c, ms6 ? 3 : 6, -1);
			return;
		}
		nb = longlba ? scsi_get64(b) : scsi_get32(b);
		bl = longlba ? scsi_get32(b + 12) : scsi_get24(b + 5);
		/* The block length cannot change; NUMBER OF BLOCKS 0 means
		 * "unchanged", anything but the capacity would format. */
		if (bl != lun->lbsize) {
			tgt_cmd_bad_param(c, hdr + (longlba ? 12 : 5), -1);
			return;
		}
		if (nb != 0 && nb != tgt_lun_nblocks(lun) &&
		    !(!longlba && nb == 0xffffffffull)) {
			tgt_cmd_bad_param(c, hdr, -1);
			return;
		}
		if (!longlba && b[4] != 0) {	/* DENSITY CODE */
			tgt_cmd_bad_param(c, hdr + 4, -1);
			return;
		}
	}
	pos = hdr + bdl;
	if (pos < plen && !pf) {
		/* PF=0: pages in a vendor format we do not have. */
		tgt_cmd_bad_cdb(c, 1, 4);
		return;
	}
	pthread_mutex_lock(&lun->lock);
	m = lun->mode;
	while (pos < plen) {
		uint8_t cur[32], chg[32];
		unsigned i, len;
		int idx;

		if (plen - pos < 2) {
			pthread_mutex_unlock(&lun->lock);
			param_len_error(c);
			return;
		}
		if (p[pos] & 0xc0) {
			/* PS is reserved here; SPF would need subpages. */
			pthread_mutex_unlock(&lun->lock);
			tgt_cmd_bad_param(c, pos, (p[pos] & 0x80) ? 7 : 6);
			return;
		}
		idx = page_index(lun, p[pos] & 0x3f);
		if (idx < 0) {
			pthread_mutex_unlock(&lun->lock);
			tgt_cmd_bad_param(c, pos, 5);
			return;
		}
		len = mode_pages[idx].len;
		if (p[pos + 1] != len - 2) {
			pthread_mutex_unlock(&lun->lock);
			tgt_cmd_bad_param(c, pos + 1, -1);
			return;
		}
		if (pos + len > plen) {
			pthread_mutex_unlock(&lun->lock);
			param_len_error(c);
			return;
		}
		page_build(lun, &lun->mode, (unsigned)idx, PC_CURRENT, cur);
		page_build(lun, &lun->mode, (unsigned)idx, PC_CHANGEABLE, chg);
		for (i = 2; i < len; i++) {
			uint8_t bad = (uint8_t)((p[pos + i] ^ cur[i]) & ~chg[i]);

			if (bad != 0) {
				pthread_mutex_unlock(&lun->lock);
				tgt_cmd_bad_param(c, pos + i,
						  31 - __builtin_clz(bad));
				return;
			}
		}
		page_apply(&m, (unsigned)idx, p + pos);
		pos += len;
	}
	changed = memcmp(&m, &lun->mode, sizeof(m)) != 0;
	lun->mode = m;
	atomic_store(&lun->wce, m.wce);
	atomic_store(&lun->d_sense, m.d_sense);
	atomic_store(&lun->swp, m.swp);
	pthread_mutex_unlock(&lun->lock);
	if (changed)
		tgt_lun_ua_all(lun, TGT_UA_MODE_CHANGED, c->n);
	tgt_cmd_good(c);
}
