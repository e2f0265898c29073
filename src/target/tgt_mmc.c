/*
 * The CD-ROM logical unit (peripheral device type 05h, MMC-6): a
 * read-only drive with 2048-byte blocks holding one data disc (an ISO
 * image) -- one session, one data track -- made by the ,cdrom disk option
 * (src/bdev/medium.c).  The commands here are the ones operating systems
 * send a CD/DVD drive before they read it: READ TOC/PMA/ATIP, GET
 * CONFIGURATION, READ DISC INFORMATION, READ TRACK INFORMATION, GET EVENT
 * STATUS NOTIFICATION (polled, media class) and MECHANISM STATUS; the rest of a CD-ROM's
 * command set comes from the SPC/SBC rows listed in mmc_shared[] (READ,
 * READ CAPACITY, MODE SENSE with the capabilities page 2Ah, START STOP
 * UNIT, PREVENT ALLOW ...).  Every other opcode is INVALID COMMAND
 * OPERATION CODE on a CD-ROM, and the rows here are on no other LU.
 *
 * A disc is reported as a DVD-ROM (profile 0010h) when the image holds
 * more than an 80-minute CD (360000 blocks), else as a CD-ROM (0008h).
 */
#include <errno.h>
#include <string.h>

#include "target/tgt_int.h"

#define PROFILE_CDROM 0x0008
#define PROFILE_DVDROM 0x0010
#define CD_MAX_BLOCKS 360000u	/* 80 minutes of 75 blocks a second */
#define LEAD_OUT 0xaa		/* the lead-out's track number */

/* SPC / SBC rows a CD-ROM LU answers too (MMC-6 table 12 and the SPC
 * commands every LU has); a WRITE reaches the write-protect check. */
static const uint8_t mmc_shared[] = {
	SCSI_TEST_UNIT_READY, SCSI_REQUEST_SENSE, SCSI_INQUIRY,
	SCSI_MODE_SELECT_6, SCSI_MODE_SENSE_6, SCSI_START_STOP_UNIT,
	SCSI_PREVENT_ALLOW, SCSI_READ_CAPACITY_10, SCSI_READ_10,
	SCSI_WRITE_10, SCSI_VERIFY_10, SCSI_SYNCHRONIZE_CACHE_10,
	SCSI_MODE_SELECT_10, SCSI_MODE_SENSE_10, SCSI_REPORT_LUNS,
	SCSI_MAINTENANCE_IN, SCSI_READ_12, SCSI_WRITE_12, SCSI_VERIFY_12,
};

bool tgt_mmc_row_ok(const struct tgt_cmd_desc *d, const struct tgt_lun *lun)
{
	unsigned i;

	if (d->flags & TGT_CF_MMC_ONLY)
		return lun->media.cdrom;
	if (!lun->media.cdrom)
		return true;
	for (i = 0; i < sizeof(mmc_shared); i++)
		if (mmc_shared[i] == d->opcode)
			return true;
	return false;
}

static bool loaded(const struct tgt_lun *lun)
{
	return atomic_load(&lun->media.tray) == TGT_TRAY_LOADED;
}

static bool is_dvd(const struct tgt_lun *lun)
{
	return tgt_lun_nblocks(lun) > CD_MAX_BLOCKS;
}

/* An address as LBA or as MSF (MMC-6 6.2.2: 150 frames of lead-in). */
static void put_addr(uint8_t *p, uint64_t lba, bool msf)
{
	uint64_t f = lba + 150;

	if (!msf) {
		scsi_put32(p, (uint32_t)lba);
		return;
	}
	p[0] = 0;
	p[1] = (uint8_t)(f / (60 * 75) > 255 ? 255 : f / (60 * 75));
	p[2] = (uint8_t)(f / 75 % 60);
	p[3] = (uint8_t)(f % 75);
}

/* ---- READ TOC/PMA/ATIP (MMC-6 6.33) ---- */

void tgt_h_read_toc(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	bool msf = cdb[1] & 0x02;
	uint8_t fmt = cdb[2] & 0x0f, track = cdb[6];
	uint16_t alloc = scsi_get16(cdb + 7);
	uint8_t out[4 + 2 * 8];
	size_t n = 4;

	/* Before MMC-2 the format was in the CONTROL byte's vendor bits. */
	if (fmt == 0 && (cdb[9] & 0xc0))
		fmt = cdb[9] >> 6;
	memset(out, 0, sizeof(out));
	out[2] = 1;		/* FIRST TRACK / FIRST COMPLETE SESSION */
	out[3] = 1;		/* LAST TRACK / LAST COMPLETE SESSION */
	switch (fmt) {
	case 0: /* formatted TOC: track 1 and the lead-out */
		if (track > 1 && track != LEAD_OUT) {
			tgt_cmd_bad_cdb(c, 6, -1);
			return;
		}
		if (track <= 1) {
			out[n + 1] = 0x14;	/* ADR 1, CONTROL: data track */
			out[n + 2] = 1;		/* TRACK NUMBER */
			put_addr(out + n + 4, 0, msf);
			n += 8;
		}
		out[n + 1] = 0x14;
		out[n + 2] = LEAD_OUT;
		put_addr(out + n + 4, tgt_lun_nblocks(c->lun), msf);
		n += 8;
		break;
	case 1: /* multi-session information: the one session */
		out[n + 1] = 0x14;
		out[n + 2] = 1;		/* first track in the last session */
		put_addr(out + n + 4, 0, msf);
		n += 8;
		break;
	default:
		/* Full TOC, PMA, ATIP, CD-TEXT: a pressed data disc image has
		 * none of them to give. */
		tgt_cmd_bad_cdb(c, 2, 3);
		return;
	}
	scsi_put16(out, (uint16_t)(n - 2));	/* TOC DATA LENGTH */
	tgt_cmd_data_in(c, out, n, alloc);
	tgt_cmd_good(c);
}

/* ---- GET CONFIGURATION (MMC-6 6.6) ---- */

/* A feature header: code, version, persistent, current, length. */
static size_t feature(uint8_t *p, uint16_t code, uint8_t ver, bool pers,
		      bool cur, uint8_t len)
{
	scsi_put16(p, code);
	p[2] = (uint8_t)((ver << 2) | (pers ? 0x02 : 0) | (cur ? 0x01 : 0));
	p[3] = len;
	return 4;
}

/* Build the feature code into p; returns its length, 0 if unknown.
 * *cur says whether it is current. */
static size_t feature_build(const struct tgt_lun *lun, uint16_t code,
			    uint8_t *p, bool *cur)
{
	bool med = loaded(lun), dvd = is_dvd(lun);

	*cur = true;
	switch (code) {
	case 0x0000: /* Profile List: DVD-ROM, CD-ROM */
		feature(p, code, 0, true, true, 8);
		scsi_put16(p + 4, PROFILE_DVDROM);
		p[6] = med && dvd ? 0x01 : 0;		/* CURRENTP */
		scsi_put16(p + 8, PROFILE_CDROM);
		p[10] = med && !dvd ? 0x01 : 0;
		return 12;
	case 0x0001: /* Core: SCSI family interface, DBE */
		feature(p, code, 1, true, true, 8);
		scsi_put32(p + 4, 0x00000001);	/* PHYSICAL INTERFACE STD */
		p[8] = 0x01;			/* DBE */
		return 12;
	case 0x0002: /* Morphing: polled events only */
		feature(p, code, 1, true, true, 4);
		p[4] = 0x02;			/* OCEVENT */
		return 8;
	case 0x0003: /* Removable Medium: tray, eject, lock */
		feature(p, code, 0, true, true, 4);
		p[4] = (uint8_t)((0x1 << 5) | 0x08 | 0x01);
		return 8;
	case 0x0010: /* Random Readable */
		*cur = med;
		feature(p, code, 0, false, med, 8);
		scsi_put32(p + 4, lun->lbsize);	/* LOGICAL BLOCK SIZE */
		scsi_put16(p + 8, dvd ? 16 : 1); /* BLOCKING */
		return 12;
	case 0x001e: /* CD Read */
		*cur = med && !dvd;
		feature(p, code, 2, false, *cur, 4);
		return 8;
	case 0x001f: /* DVD Read */
		*cur = med && dvd;
		feature(p, code, 0, false, *cur, 0);
		return 4;
	case 0x0100: /* Power Management */
		feature(p, code, 0, true, true, 0);
		return 4;
	default:
		return 0;
	}
}

static const uint16_t features[] = {
	0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001e, 0x001f, 0x0100,
};

void tgt_h_get_configuration(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	uint8_t rt = cdb[1] & 0x03;
	uint16_t sfn = scsi_get16(cdb + 2), alloc = scsi_get16(cdb + 7);
	uint8_t out[8 + 8 * 12];
	size_t n = 8, k;
	unsigned i;
	bool cur;

	if (rt == 3) {
		tgt_cmd_bad_cdb(c, 1, 1);
		return;
	}
	memset(out, 0, sizeof(out));
	for (i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		if (rt == 2 ? features[i] != sfn : features[i] < sfn)
			continue;
		k = feature_build(c->lun, features[i], out + n, &cur);
		if (rt == 1 && !cur) {
			memset(out + n, 0, k);
			continue;
		}
		n += k;
	}
	scsi_put32(out, (uint32_t)(n - 4));	/* DATA LENGTH */
	if (loaded(c->lun))			/* CURRENT PROFILE */
		scsi_put16(out + 6, is_dvd(c->lun) ? PROFILE_DVDROM :
						     PROFILE_CDROM);
	tgt_cmd_data_in(c, out, n, alloc);
	tgt_cmd_good(c);
}

/* ---- READ DISC INFORMATION (MMC-6 6.22) ---- */

void tgt_h_read_disc_info(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	uint8_t out[34];

	if (cdb[1] & 0x07) {	/* only standard disc information */
		tgt_cmd_bad_cdb(c, 1, 2);
		return;
	}
	memset(out, 0, sizeof(out));
	scsi_put16(out, sizeof(out) - 2);	/* DISC INFORMATION LENGTH */
	/* Not erasable, last session complete, disc finalized. */
	out[2] = (0x3 << 2) | 0x2;
	out[3] = 1;		/* NUMBER OF FIRST TRACK ON DISC */
	out[4] = 1;		/* NUMBER OF SESSIONS (LSB) */
	out[5] = 1;		/* FIRST TRACK NUMBER IN LAST SESSION (LSB) */
	out[6] = 1;		/* LAST TRACK NUMBER IN LAST SESSION (LSB) */
	out[7] = 0x20;		/* URU: unrestricted use */
	out[8] = 0x00;		/* DISC TYPE: CD-DA or CD-ROM */
	/* A finalized disc has no next session: both addresses all ones. */
	scsi_put32(out + 16, 0xffffffffu);
	scsi_put32(out + 20, 0xffffffffu);
	tgt_cmd_data_in(c, out, sizeof(out), scsi_get16(cdb + 7));
	tgt_cmd_good(c);
}

/* ---- READ TRACK INFORMATION (MMC-6 6.27) ---- */

void tgt_h_read_track_info(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	uint32_t addr = scsi_get32(cdb + 2);
	uint64_t nb = tgt_lun_nblocks(c->lun);
	uint8_t out[48];
	bool ok;

	/* ADDRESS/NUMBER TYPE: an LBA on the disc, track 1 or session 1;
	 * the lead-in (track 0) and the invisible track (FFh) do not exist
	 * on a finalized disc. */
	switch (cdb[1] & 0x03) {
	case 0:
		ok = addr < nb;
		break;
	case 1:
	case 2:
		ok = addr == 1;
		break;
	default:
		tgt_cmd_bad_cdb(c, 1, 1);
		return;
	}
	if (!ok) {
		tgt_cmd_bad_cdb(c, 2, -1);
		return;
	}
	memset(out, 0, sizeof(out));
	scsi_put16(out, sizeof(out) - 2);	/* DATA LENGTH */
	out[2] = 1;				/* TRACK NUMBER (LSB) */
	out[3] = 1;				/* SESSION NUMBER (LSB) */
	out[5] = 0x04;				/* TRACK MODE: data */
	out[6] = 0x01;				/* DATA MODE: mode 1 */
	/* TRACK START ADDRESS 0, no next writable address, no free
	 * blocks; TRACK SIZE and LAST RECORDED ADDRESS. */
	scsi_put32(out + 24, (uint32_t)nb);
	scsi_put32(out + 28, (uint32_t)(nb - 1));
	tgt_cmd_data_in(c, out, sizeof(out), scsi_get16(cdb + 7));
	tgt_cmd_good(c);
}

/* ---- GET EVENT STATUS NOTIFICATION (MMC-6 6.7) ---- */

#define GESN_CLASS_MEDIA 4

void tgt_h_get_event_status(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	struct tgt_lun *lun = c->lun;
	uint8_t out[8];
	size_t n = 4;
	int tray;

	/* Asynchronous notification is not offered: POLLED must be 1. */
	if (!(cdb[1] & 0x01)) {
		tgt_cmd_bad_cdb(c, 1, 0);
		return;
	}
	memset(out, 0, sizeof(out));
	out[3] = 1u << GESN_CLASS_MEDIA;	/* SUPPORTED EVENT CLASSES */
	if (!(cdb[4] & (1u << GESN_CLASS_MEDIA))) {
		out[2] = 0x80;			/* NEA: no event available */
	} else {
		out[2] = GESN_CLASS_MEDIA;
		pthread_mutex_lock(&lun->lock);
		if (lun->media.event_seen != lun->media.event_gen) {
			out[4] = lun->media.event_code; /* EVENT CODE */
			lun->media.event_seen = lun->media.event_gen;
		}
		pthread_mutex_unlock(&lun->lock);
		tray = atomic_load(&lun->media.tray);
		/* MEDIA STATUS: MEDIA PRESENT, DOOR OR TRAY OPEN */
		out[5] = (uint8_t)((tray == TGT_TRAY_LOADED ? 0x02 : 0) |
				   (tray == TGT_TRAY_OPEN ? 0x01 : 0));
		n = 8;
	}
	scsi_put16(out, (uint16_t)(n - 2));	/* EVENT DESCRIPTOR LENGTH */
	tgt_cmd_data_in(c, out, n, scsi_get16(cdb + 7));
	tgt_cmd_good(c);
}

/* ---- MECHANISM STATUS (MMC-6 6.11) ---- */

void tgt_h_mechanism_status(struct tgt_cmd *c)
{
	uint8_t out[8];

	memset(out, 0, sizeof(out));
	/* No changer, mechanism idle; DOOR OPEN when the tray is out. */
	if (atomic_load(&c->lun->media.tray) == TGT_TRAY_OPEN)
		out[1] = 0x10;
	tgt_cmd_data_in(c, out, sizeof(out), scsi_get16(c->task->cdb + 8));
	tgt_cmd_good(c);
}

/* ---- Mode page 2Ah (tgt_mode.c calls this) ---- */

void tgt_mmc_caps_page(const struct tgt_lun *lun, bool changeable,
		       uint8_t *p, size_t len)
{
	memset(p + 2, 0, len - 2);
	if (changeable)
		return;		/* nothing can be changed */
	p[2] = 0x08;		/* DVD-ROM READ (CD-ROM is implied) */
	/* LOADING MECHANISM TYPE 001b (tray), EJECT, LOCK, LOCK STATE. */
	p[6] = (uint8_t)((0x1 << 5) | 0x08 | 0x01 |
			 (lun->media.nprevent > 0 ? 0x02 : 0));
	scsi_put16(p + 8, 5632);	/* MAX READ SPEED, kB/s (32x) */
	scsi_put16(p + 14, 5632);	/* CURRENT READ SPEED */
}
