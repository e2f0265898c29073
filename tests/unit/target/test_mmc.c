/*
 * The CD-ROM LU (MMC): INQUIRY, READ CAPACITY, READ, writes refused, the
 * command set (everything else INVALID COMMAND OPERATION CODE), and the
 * MMC answers -- READ TOC, GET CONFIGURATION, READ DISC / TRACK
 * INFORMATION, GET
 * EVENT STATUS NOTIFICATION, MECHANISM STATUS, mode page 2Ah -- checked
 * byte by byte, with a medium, without one, and as a DVD.
 */
#include <fcntl.h>
#include <unistd.h>

#include "tgt_test.h"

#define CD_BLOCKS 512u

static void setup_cd(struct tt *e)
{
	struct bdev *m = tbdev_create(CD_BLOCKS * 2048ull, 2048, 0, false);
	struct bdev *drive = bdev_medium_create("cd0", m, BDEV_MEDIUM_OPTICAL);
	unsigned i;

	assert_non_null(drive);
	for (i = 0; i < CD_BLOCKS * 2048u; i++)
		tbdev_of(m)->data[i] = (uint8_t)(i / 2048 + i);
	bdev_release(m);
	tt_setup_bdev(e, drive, NULL);
	tt_clear_ua(e, e->n1);
}

/* Run cdb (len bytes) on n1 reading into buf, expect GOOD and exactly
 * want (wlen bytes). */
static void expect_bytes(struct tt *e, const uint8_t *cdb, unsigned len,
			 uint32_t alloc, const uint8_t *want, unsigned wlen)
{
	struct tt_res r;
	uint8_t buf[256];

	memset(buf, 0xee, sizeof(buf));
	tt_run(e, e->n1, &r, 0, cdb, len, TGT_DIR_READ, buf, alloc);
	tt_expect_good(&r);
	assert_int_equal(r.task.xfer_done, wlen);
	assert_memory_equal(buf, want, wlen);
}

static void test_cd_basics(void **state)
{
	static const uint8_t inq[6] = { SCSI_INQUIRY, 0, 0, 0, 8, 0 };
	static const uint8_t inq_want[8] = { 0x05, 0x80, 0x06, 0x12, 91, 0, 0,
					      0x02 };
	static const uint8_t rc10[10] = { SCSI_READ_CAPACITY_10 };
	static const uint8_t rc10_want[8] = { 0, 0, 0x01, 0xff, 0, 0, 0x08, 0 };
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], buf[4096];
	unsigned i;

	(void)state;
	setup_cd(&e);
	expect_bytes(&e, inq, 6, 8, inq_want, 8);
	/* VPD: the SPC pages only. */
	{
		static const uint8_t vpd0[4 + 3] = { 0x05, 0, 0, 3,
						     0x00, 0x80, 0x83 };
		uint8_t v[6] = { SCSI_INQUIRY, 1, 0, 0, 64, 0 };

		expect_bytes(&e, v, 6, 64, vpd0, sizeof(vpd0));
		v[2] = 0xb0;
		tt_run(&e, e.n1, &r, 0, v, 6, TGT_DIR_READ, buf, 64);
		tt_expect_field(&r, true, 2, -1);
	}
	expect_bytes(&e, rc10, 10, 8, rc10_want, 8);
	/* READ(10) and READ(12) of 2048-byte blocks. */
	cdb_rw10(cdb, SCSI_READ_10, 3, 2, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 4096);
	tt_expect_good(&r);
	for (i = 0; i < 4096; i++)
		assert_int_equal(buf[i], (uint8_t)((6144 + i) / 2048 + 6144 + i));
	cdb_rw12(cdb, SCSI_READ_12, CD_BLOCKS - 1, 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 12, TGT_DIR_READ, buf, 2048);
	tt_expect_good(&r);
	cdb_rw12(cdb, SCSI_READ_12, CD_BLOCKS, 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 12, TGT_DIR_READ, buf, 2048);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	/* Writes: DATA PROTECT, WRITE PROTECTED. */
	cdb_rw10(cdb, SCSI_WRITE_10, 0, 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, 2048);
	tt_expect_sense(&r, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	cdb_rw12(cdb, SCSI_WRITE_12, 0, 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 12, TGT_DIR_WRITE, buf, 2048);
	tt_expect_sense(&r, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	tt_teardown(&e);
}

static void test_cd_command_set(void **state)
{
	/* Opcodes a disk has and a CD-ROM does not. */
	static const uint8_t not_mmc[] = {
		SCSI_READ_6, SCSI_WRITE_6, SCSI_READ_16, SCSI_WRITE_16,
		SCSI_WRITE_SAME_10, SCSI_WRITE_SAME_16, SCSI_UNMAP,
		SCSI_COMPARE_AND_WRITE, SCSI_SYNCHRONIZE_CACHE_16,
		SCSI_SERVICE_ACTION_IN_16, SCSI_SANITIZE, SCSI_PREFETCH_10,
		SCSI_READ_DEFECT_DATA_10, SCSI_PERSISTENT_RESERVE_IN,
		SCSI_RESERVE_6, SCSI_WRITE_VERIFY_10,
	};
	static const uint8_t mmc_only[] = {
		SCSI_MMC_READ_TOC, SCSI_MMC_GET_CONFIGURATION,
		SCSI_MMC_GET_EVENT_STATUS, SCSI_MMC_READ_DISC_INFORMATION,
		SCSI_MMC_READ_TRACK_INFORMATION, SCSI_MMC_MECHANISM_STATUS,
	};
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], buf[4096];
	uint8_t rsoc[12] = { SCSI_MAINTENANCE_IN, 0x0c, 0, 0, 0, 0,
			     0, 0, 0x10, 0, 0, 0 };
	uint32_t len, i, k;
	bool seen_toc = false;

	(void)state;
	setup_cd(&e);
	for (i = 0; i < sizeof(not_mmc); i++) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = not_mmc[i];
		cdb[1] = not_mmc[i] == SCSI_SERVICE_ACTION_IN_16 ? 0x10 : 0;
		tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_NONE, NULL, 0);
		tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_INVALID_COMMAND_OPCODE);
	}
	/* RSOC lists the MMC set. */
	tt_run(&e, e.n1, &r, 0, rsoc, 12, TGT_DIR_READ, buf, 4096);
	tt_expect_good(&r);
	len = scsi_get32(buf);
	for (k = 4; k < 4 + len; k += 8) {
		for (i = 0; i < sizeof(not_mmc); i++)
			assert_int_not_equal(buf[k], not_mmc[i]);
		seen_toc = seen_toc || buf[k] == SCSI_MMC_READ_TOC;
	}
	assert_true(seen_toc);
	tt_teardown(&e);

	/* And a disk has none of the MMC ones. */
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	for (i = 0; i < sizeof(mmc_only); i++) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = mmc_only[i];
		cdb[1] = 0x01;
		tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_NONE, NULL, 0);
		tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_INVALID_COMMAND_OPCODE);
	}
	tt_teardown(&e);
}

static void toc_cdb(uint8_t *cdb, bool msf, uint8_t fmt, uint8_t track,
		    uint16_t alloc)
{
	memset(cdb, 0, 16);
	cdb[0] = SCSI_MMC_READ_TOC;
	cdb[1] = msf ? 0x02 : 0;
	cdb[2] = fmt;
	cdb[6] = track;
	scsi_put16(cdb + 7, alloc);
}

static void test_cd_read_toc(void **state)
{
	static const uint8_t toc_lba[20] = {
		0x00, 0x12, 0x01, 0x01,
		0x00, 0x14, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x14, 0xaa, 0x00, 0x00, 0x00, 0x02, 0x00,
	};
	/* 512 blocks + 150 = 662 frames = 00:08:62. */
	static const uint8_t toc_msf[20] = {
		0x00, 0x12, 0x01, 0x01,
		0x00, 0x14, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00,
		0x00, 0x14, 0xaa, 0x00, 0x00, 0x00, 0x08, 0x3e,
	};
	static const uint8_t toc_leadout[12] = {
		0x00, 0x0a, 0x01, 0x01,
		0x00, 0x14, 0xaa, 0x00, 0x00, 0x00, 0x02, 0x00,
	};
	static const uint8_t session[12] = {
		0x00, 0x0a, 0x01, 0x01,
		0x00, 0x14, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t session_msf[12] = {
		0x00, 0x0a, 0x01, 0x01,
		0x00, 0x14, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00,
	};
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], buf[64];

	(void)state;
	setup_cd(&e);
	toc_cdb(cdb, false, 0, 0, 64);
	expect_bytes(&e, cdb, 10, 64, toc_lba, 20);
	toc_cdb(cdb, false, 0, 1, 64);
	expect_bytes(&e, cdb, 10, 64, toc_lba, 20);
	toc_cdb(cdb, true, 0, 0, 64);
	expect_bytes(&e, cdb, 10, 64, toc_msf, 20);
	toc_cdb(cdb, false, 0, 0xaa, 64);
	expect_bytes(&e, cdb, 10, 64, toc_leadout, 12);
	toc_cdb(cdb, false, 0, 0, 4);		/* allocation length cuts */
	expect_bytes(&e, cdb, 10, 4, toc_lba, 4);
	toc_cdb(cdb, false, 1, 0, 64);
	expect_bytes(&e, cdb, 10, 64, session, 12);
	toc_cdb(cdb, true, 1, 0, 64);
	expect_bytes(&e, cdb, 10, 64, session_msf, 12);
	toc_cdb(cdb, false, 0, 0, 64);		/* SFF-8020 format bits */
	cdb[9] = 0x40;
	expect_bytes(&e, cdb, 10, 64, session, 12);
	/* Errors: a track past the last, formats with nothing to give,
	 * reserved bits. */
	toc_cdb(cdb, false, 0, 2, 64);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 64);
	tt_expect_field(&r, true, 6, -1);
	toc_cdb(cdb, false, 2, 0, 64);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 64);
	tt_expect_field(&r, true, 2, 3);
	toc_cdb(cdb, false, 0x10, 0, 64);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 64);
	tt_expect_field(&r, true, 2, 4);
	toc_cdb(cdb, false, 0, 0, 64);
	cdb[1] = 0x01;
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 64);
	tt_expect_field(&r, true, 1, 0);
	tt_teardown(&e);
}

static void gc_cdb(uint8_t *cdb, uint8_t rt, uint16_t sfn, uint16_t alloc)
{
	memset(cdb, 0, 16);
	cdb[0] = SCSI_MMC_GET_CONFIGURATION;
	cdb[1] = rt;
	scsi_put16(cdb + 2, sfn);
	scsi_put16(cdb + 7, alloc);
}

static void test_cd_get_configuration(void **state)
{
	static const uint8_t all[76] = {
		0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00, 0x08,
		/* Profile List: DVD-ROM, CD-ROM (current) */
		0x00, 0x00, 0x03, 0x08, 0x00, 0x10, 0x00, 0x00,
		0x00, 0x08, 0x01, 0x00,
		/* Core v1: SCSI interface, DBE */
		0x00, 0x01, 0x07, 0x08, 0x00, 0x00, 0x00, 0x01,
		0x01, 0x00, 0x00, 0x00,
		/* Morphing v1: OCEvent */
		0x00, 0x02, 0x07, 0x04, 0x02, 0x00, 0x00, 0x00,
		/* Removable Medium: tray, eject, lock */
		0x00, 0x03, 0x03, 0x04, 0x29, 0x00, 0x00, 0x00,
		/* Random Readable: 2048, blocking 1 */
		0x00, 0x10, 0x01, 0x08, 0x00, 0x00, 0x08, 0x00,
		0x00, 0x01, 0x00, 0x00,
		/* CD Read v2 (current), DVD Read (not), Power Management */
		0x00, 0x1e, 0x09, 0x04, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x1f, 0x00, 0x00,
		0x01, 0x00, 0x03, 0x00,
	};
	static const uint8_t one[16] = {
		0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x08,
		0x00, 0x1e, 0x09, 0x04, 0x00, 0x00, 0x00, 0x00,
	};
	static const uint8_t none[8] = {
		0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x08,
	};
	/* Tray open, current only from Random Readable on: Power
	 * Management alone; no current profile. */
	static const uint8_t open_cur[12] = {
		0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x00, 0x03, 0x00,
	};
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], buf[128];
	uint8_t ssu[6] = { SCSI_START_STOP_UNIT, 0, 0, 0, 0x02, 0 };

	(void)state;
	setup_cd(&e);
	gc_cdb(cdb, 0, 0, 128);
	expect_bytes(&e, cdb, 10, 128, all, 76);
	gc_cdb(cdb, 1, 0, 128);		/* current only: no DVD Read */
	{
		uint8_t cur[72];

		memcpy(cur, all, 68);
		memcpy(cur + 68, all + 72, 4);
		scsi_put32(cur, 68);
		expect_bytes(&e, cdb, 10, 128, cur, 72);
	}
	gc_cdb(cdb, 2, 0x001e, 128);
	expect_bytes(&e, cdb, 10, 128, one, 16);
	gc_cdb(cdb, 2, 0x0105, 128);	/* a feature we do not have */
	expect_bytes(&e, cdb, 10, 128, none, 8);
	gc_cdb(cdb, 0, 0, 10);		/* allocation length cuts */
	expect_bytes(&e, cdb, 10, 10, all, 10);
	gc_cdb(cdb, 3, 0, 128);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 128);
	tt_expect_field(&r, true, 1, 1);
	/* With the tray open it still answers (and through a unit
	 * attention: n2 has one pending). */
	tt_run(&e, e.n1, &r, 0, ssu, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	gc_cdb(cdb, 1, 0x0010, 128);
	expect_bytes(&e, cdb, 10, 128, open_cur, 12);
	tt_run(&e, e.n2, &r, 0, cdb, 10, TGT_DIR_READ, buf, 128);
	tt_expect_good(&r);
	tt_teardown(&e);
}

static void test_cd_disc_info_events(void **state)
{
	static const uint8_t di[34] = {
		0x00, 0x20, 0x0e, 0x01, 0x01, 0x01, 0x01, 0x20, 0x00,
		0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	static const uint8_t ev_none[8] = { 0, 6, 4, 0x10, 0, 2, 0, 0 };
	static const uint8_t ev_removed[8] = { 0, 6, 4, 0x10, 3, 1, 0, 0 };
	static const uint8_t ev_open[8] = { 0, 6, 4, 0x10, 0, 1, 0, 0 };
	static const uint8_t ev_new[8] = { 0, 6, 4, 0x10, 2, 2, 0, 0 };
	static const uint8_t ev_nea[4] = { 0, 2, 0x80, 0x10 };
	static const uint8_t ms_idle[8] = { 0 };
	static const uint8_t ms_open[8] = { 0, 0x10 };
	uint8_t dic[10] = { SCSI_MMC_READ_DISC_INFORMATION, 0, 0, 0, 0, 0, 0,
			    0, 64, 0 };
	uint8_t gesn[10] = { SCSI_MMC_GET_EVENT_STATUS, 1, 0, 0, 0x10, 0, 0,
			     0, 8, 0 };
	uint8_t mech[12] = { SCSI_MMC_MECHANISM_STATUS, 0, 0, 0, 0, 0, 0, 0,
			     0, 8, 0, 0 };
	uint8_t ej[6] = { SCSI_START_STOP_UNIT, 0, 0, 0, 0x02, 0 };
	uint8_t ld[6] = { SCSI_START_STOP_UNIT, 0, 0, 0, 0x03, 0 };
	struct tt e;
	struct tt_res r;
	uint8_t buf[64];

	(void)state;
	setup_cd(&e);
	expect_bytes(&e, dic, 10, 64, di, 34);
	dic[1] = 0x01;			/* track resources: not offered */
	tt_run(&e, e.n1, &r, 0, dic, 10, TGT_DIR_READ, buf, 64);
	tt_expect_field(&r, true, 1, 2);
	dic[1] = 0;

	expect_bytes(&e, gesn, 10, 8, ev_none, 8);
	expect_bytes(&e, mech, 12, 8, ms_idle, 8);
	tt_run(&e, e.n1, &r, 0, ej, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	expect_bytes(&e, gesn, 10, 8, ev_removed, 8);
	expect_bytes(&e, gesn, 10, 8, ev_open, 8);
	expect_bytes(&e, mech, 12, 8, ms_open, 8);
	/* No disc: READ DISC INFORMATION and READ TOC are NOT READY. */
	tt_run(&e, e.n1, &r, 0, dic, 10, TGT_DIR_READ, buf, 64);
	tt_expect_sense(&r, SCSI_SK_NOT_READY, SCSI_ASC(0x3a, 0x02));
	tt_run(&e, e.n1, &r, 0, ld, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	expect_bytes(&e, gesn, 10, 8, ev_new, 8);
	/* Classes other than media: no event available. */
	gesn[4] = 0x02;
	expect_bytes(&e, gesn, 10, 8, ev_nea, 4);
	/* Asynchronous notification is not offered. */
	gesn[1] = 0;
	tt_run(&e, e.n1, &r, 0, gesn, 10, TGT_DIR_READ, buf, 8);
	tt_expect_field(&r, true, 1, 0);
	tt_teardown(&e);
}

static void test_cd_track_info(void **state)
{
	static const uint8_t ti[48] = {
		0x00, 0x2e, 0x01, 0x01, 0x00, 0x04, 0x01, 0x00,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00, 0x00, 0x02, 0x00,		/* TRACK SIZE 512 */
		0x00, 0x00, 0x01, 0xff,		/* LAST RECORDED ADDRESS */
	};
	static const struct {
		uint8_t type;
		uint32_t addr;
		unsigned fbyte;	/* 0: GOOD */
		int fbit;
	} cases[] = {
		{ 0, 0, 0, 0 }, { 0, CD_BLOCKS - 1, 0, 0 }, { 1, 1, 0, 0 },
		{ 2, 1, 0, 0 }, { 0, CD_BLOCKS, 2, -1 }, { 1, 0, 2, -1 },
		{ 1, 0xff, 2, -1 }, { 2, 2, 2, -1 }, { 3, 0, 1, 1 },
	};
	uint8_t cdb[10] = { SCSI_MMC_READ_TRACK_INFORMATION, 0, 0, 0, 0, 0,
			    0, 0, 48, 0 };
	struct tt e;
	struct tt_res r;
	uint8_t buf[64];
	unsigned i;

	(void)state;
	setup_cd(&e);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cdb[1] = cases[i].type;
		scsi_put32(cdb + 2, cases[i].addr);
		if (cases[i].fbyte == 0) {
			expect_bytes(&e, cdb, 10, 48, ti, 48);
			continue;
		}
		tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 48);
		tt_expect_field(&r, true, cases[i].fbyte, cases[i].fbit);
	}
	tt_teardown(&e);
}

static void test_cd_mode_pages(void **state)
{
	static const uint8_t caps[8 + 32] = {
		0x00, 0x26, 0x00, 0x90, 0, 0, 0, 0,	/* WP DPOFUA, no BD */
		0x2a, 0x1e, 0x08, 0x00, 0x00, 0x00, 0x29, 0x00,
		0x16, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x00,
	};
	uint8_t ms10[10] = { SCSI_MODE_SENSE_10, 0x08, 0x2a, 0, 0, 0, 0, 0,
			     255, 0 };
	uint8_t pa[6] = { SCSI_PREVENT_ALLOW, 0, 0, 0, 1, 0 };
	struct tt e;
	struct tt_res r;
	uint8_t buf[256];
	unsigned n, off;
	bool has2a = false;

	(void)state;
	setup_cd(&e);
	expect_bytes(&e, ms10, 10, 255, caps, sizeof(caps));
	/* LOCK STATE follows PREVENT. */
	tt_run(&e, e.n1, &r, 0, pa, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	tt_run(&e, e.n1, &r, 0, ms10, 10, TGT_DIR_READ, buf, 255);
	tt_expect_good(&r);
	assert_int_equal(buf[8 + 6], 0x2b);
	pa[4] = 0;
	tt_run(&e, e.n1, &r, 0, pa, 6, TGT_DIR_NONE, NULL, 0);
	/* The caching page is a disk's. */
	ms10[2] = 0x08;
	tt_run(&e, e.n1, &r, 0, ms10, 10, TGT_DIR_READ, buf, 255);
	tt_expect_field(&r, true, 2, 5);
	/* 3Fh: 01h, 0Ah, 1Ch, 2Ah. */
	ms10[2] = 0x3f;
	tt_run(&e, e.n1, &r, 0, ms10, 10, TGT_DIR_READ, buf, 255);
	tt_expect_good(&r);
	n = scsi_get16(buf) + 2u;
	for (off = 8; off < n; off += buf[off + 1] + 2u) {
		assert_int_not_equal(buf[off] & 0x3f, 0x08);
		has2a = has2a || (buf[off] & 0x3f) == 0x2a;
	}
	assert_int_equal(off, n);
	assert_true(has2a);
	tt_teardown(&e);
}

static void test_dvd_profile(void **state)
{
	char path[] = "/tmp/sk-dvd-XXXXXX";
	struct bdev_file_opts o = { .read_only = false, .lbsize = 2048,
				    .size = 400000ull * 2048 };
	struct bdev *m, *drive;
	struct tt e;
	uint8_t cdb[16], buf[128];
	struct tt_res r;
	char err[128];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	m = bdev_file_create("dvd", path, &o, err, sizeof(err));
	assert_non_null(m);
	drive = bdev_medium_create("dvd0", m, BDEV_MEDIUM_OPTICAL);
	bdev_release(m);
	tt_setup_bdev(&e, drive, NULL);
	tt_clear_ua(&e, e.n1);
	gc_cdb(cdb, 0, 0, 128);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 128);
	tt_expect_good(&r);
	assert_int_equal(scsi_get16(buf + 6), 0x0010);	/* DVD-ROM */
	assert_int_equal(buf[8 + 6], 0x01);		/* DVD-ROM current */
	assert_int_equal(buf[8 + 10], 0x00);
	gc_cdb(cdb, 2, 0x001f, 128);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 128);
	tt_expect_good(&r);
	assert_int_equal(buf[8 + 2], 0x01);		/* DVD Read current */
	gc_cdb(cdb, 2, 0x0010, 128);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 128);
	assert_int_equal(scsi_get16(buf + 8 + 8), 16);	/* BLOCKING */
	tt_teardown(&e);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cd_basics),
		cmocka_unit_test(test_cd_command_set),
		cmocka_unit_test(test_cd_read_toc),
		cmocka_unit_test(test_cd_get_configuration),
		cmocka_unit_test(test_cd_disc_info_events),
		cmocka_unit_test(test_cd_track_info),
		cmocka_unit_test(test_cd_mode_pages),
		cmocka_unit_test(test_dvd_profile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
