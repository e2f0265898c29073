/*
 * SANITIZE (OVERWRITE, BLOCK ERASE, EXIT FAILURE MODE; CRYPTO ERASE and
 * unknown service actions refused), the sanitize-in-progress and failure
 * states every other command sees, and READ DEFECT DATA(10/12).
 */
#include "tgt_test.h"

#define LUN_SIZE (1u << 20)

static void san_cdb(uint8_t *cdb, uint8_t b1, uint16_t plen)
{
	memset(cdb, 0, 16);
	cdb[0] = SCSI_SANITIZE;
	cdb[1] = b1;
	scsi_put16(cdb + 7, plen);
}

/* An OVERWRITE parameter list: count passes of ipl bytes of pat. */
static uint32_t ow_params(uint8_t *p, uint8_t b0, uint16_t ipl, uint8_t pat)
{
	p[0] = b0;
	p[1] = 0;
	scsi_put16(p + 2, ipl);
	memset(p + 4, pat, ipl);
	return 4u + ipl;
}

static void test_sanitize_cdb_errors(void **state)
{
	static const struct {
		uint8_t b1;
		uint16_t plen;
		uint8_t byte2;	/* a reserved CDB byte set */
		unsigned fbyte;
		int fbit;
	} cases[] = {
		{ 0x00, 0, 0, 1, 4 },		/* service action 00h */
		{ 0x03, 0, 0, 1, 4 },		/* CRYPTO ERASE */
		{ 0x04, 0, 0, 1, 4 },
		{ 0x10, 0, 0, 1, 4 },
		{ 0x1e, 0, 0, 1, 4 },
		{ 0x02, 8, 0, 7, -1 },		/* BLOCK ERASE with params */
		{ 0x1f, 8, 0, 7, -1 },		/* EXIT FAILURE MODE too */
		{ 0x01, 0, 0, 7, -1 },		/* OVERWRITE: no header */
		{ 0x01, 4, 0, 7, -1 },		/* header only */
		{ 0x01, 512 + 5, 0, 7, -1 },	/* pattern > block */
		{ 0x41, 8, 0, 1, 6 },		/* ZNR */
		{ 0x01, 8, 0x10, 2, 4 },	/* reserved byte 2 */
	};
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], buf[1024];
	unsigned i;

	(void)state;
	tt_setup_bdev(&e, tbdev_create(LUN_SIZE, 512, 0, true), NULL);
	tt_clear_ua(&e, e.n1);
	memset(buf, 0, sizeof(buf));
	ow_params(buf, 1, 4, 0xaa);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		san_cdb(cdb, cases[i].b1, cases[i].plen);
		cdb[2] = cases[i].byte2;
		tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf,
		       cases[i].plen);
		tt_expect_field(&r, true, cases[i].fbyte, cases[i].fbit);
	}
	/* BLOCK ERASE needs a bdev that can discard. */
	tt_teardown(&e);
	tt_setup_bdev(&e, tbdev_create(LUN_SIZE, 512, 0, false), NULL);
	tt_clear_ua(&e, e.n1);
	san_cdb(cdb, SCSI_SANITIZE_BLOCK_ERASE, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_NONE, NULL, 0);
	tt_expect_field(&r, true, 1, 4);
	tt_teardown(&e);
}

static void test_sanitize_param_errors(void **state)
{
	static const struct {
		uint8_t b0;
		uint16_t ipl;	/* INITIALIZATION PATTERN LENGTH */
		uint16_t plen;	/* 0: 4 + ipl */
		uint8_t b1;	/* reserved byte 1 */
		unsigned fbyte;
		int fbit;
	} cases[] = {
		{ 0x00, 4, 0, 0, 0, 4 },	/* OVERWRITE COUNT 0 */
		{ 0x21, 4, 0, 0, 0, 5 },	/* TEST 01b */
		{ 0x41, 4, 0, 0, 0, 6 },	/* TEST 10b */
		{ 0x01, 4, 0, 0x02, 1, 1 },	/* reserved */
		{ 0x01, 0, 8, 0, 2, -1 },	/* IPL 0 */
		{ 0x01, 8, 8, 0, 2, -1 },	/* IPL past the list */
		{ 0x01, 2, 8, 0, 2, -1 },	/* IPL short of the list */
	};
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], buf[1024];
	uint32_t plen;
	unsigned i;

	(void)state;
	tt_setup_bdev(&e, tbdev_create(LUN_SIZE, 512, 0, true), NULL);
	tt_clear_ua(&e, e.n1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(buf, 0, sizeof(buf));
		plen = ow_params(buf, cases[i].b0, cases[i].ipl, 0x55);
		buf[1] = cases[i].b1;
		if (cases[i].plen != 0)
			plen = cases[i].plen;
		san_cdb(cdb, SCSI_SANITIZE_OVERWRITE, (uint16_t)plen);
		tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, plen);
		tt_expect_field(&r, false, cases[i].fbyte, cases[i].fbit);
	}
	/* Less data than the PARAMETER LIST LENGTH says. */
	plen = ow_params(buf, 1, 8, 0x55);
	san_cdb(cdb, SCSI_SANITIZE_OVERWRITE, (uint16_t)plen);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, plen - 2);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
	tt_teardown(&e);
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			return false;
	return true;
}

static void test_sanitize_overwrite_erase(void **state)
{
	struct tt e;
	struct tt_res r;
	struct tbdev *tb;
	uint8_t cdb[16], buf[1024], rsoc[4];
	uint32_t plen;
	unsigned i;

	(void)state;
	tt_setup_bdev(&e, tbdev_create(LUN_SIZE, 512, 0, true), NULL);
	tb = tbdev_of(e.bd);
	tt_clear_ua(&e, e.n1);
	memset(tb->data, 'a', LUN_SIZE);

	/* One pass of a 3-byte pattern, repeated from each block's start. */
	plen = ow_params(buf, 0x01, 3, 0);
	buf[4] = 1;
	buf[5] = 2;
	buf[6] = 3;
	san_cdb(cdb, SCSI_SANITIZE_OVERWRITE, (uint16_t)plen);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, plen);
	tt_expect_good(&r);
	for (i = 0; i < LUN_SIZE; i += 512) {
		assert_int_equal(tb->data[i], 1);
		assert_int_equal(tb->data[i + 1], 2);
		assert_int_equal(tb->data[i + 2], 3);
		assert_int_equal(tb->data[i + 510], 1);	/* 510 % 3 == 0 */
	}
	assert_true(tb->ops[BDEV_IO_FLUSH] >= 1);

	/* Two passes with INVERT: the second (last) pass is inverted. */
	plen = ow_params(buf, 0x80 | 0x02, 512, 0x0f);
	san_cdb(cdb, SCSI_SANITIZE_OVERWRITE, (uint16_t)plen);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, plen);
	tt_expect_good(&r);
	assert_true(all_bytes(tb->data, LUN_SIZE, 0xf0));

	/* BLOCK ERASE: everything discarded (and reading zeroes). */
	memset(tb->data, 'a', LUN_SIZE);
	san_cdb(cdb, SCSI_SANITIZE_BLOCK_ERASE, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	assert_true(all_bytes(tb->data, LUN_SIZE, 0));
	assert_true(tb->ops[BDEV_IO_DISCARD] >= 1);

	/* EXIT FAILURE MODE with nothing failed: a no-op. */
	san_cdb(cdb, SCSI_SANITIZE_EXIT_FAILURE_MODE, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);

	/* REPORT SUPPORTED OPERATION CODES: 01h, 02h, 1Fh but not 03h. */
	{
		static const struct {
			uint8_t sa;
			uint8_t support;
		} rs[] = { { 0x01, 3 }, { 0x02, 3 }, { 0x1f, 3 }, { 0x03, 1 } };

		for (i = 0; i < 4; i++) {
			uint8_t c2[12] = { SCSI_MAINTENANCE_IN, 0x0c, 0x02,
					   SCSI_SANITIZE, 0, rs[i].sa, 0, 0,
					   0, sizeof(rsoc), 0, 0 };

			tt_run(&e, e.n1, &r, 0, c2, 12, TGT_DIR_READ, rsoc,
			       sizeof(rsoc));
			tt_expect_good(&r);
			assert_int_equal(rsoc[1] & 0x07, rs[i].support);
		}
	}
	tt_teardown(&e);
}

/* The status, key, ASC/ASCQ and SKS progress of a command now. */
static void expect_in_progress(struct tt_res *r)
{
	struct scsi_sense s = tt_sense(r);

	assert_int_equal(s.key, SCSI_SK_NOT_READY);
	assert_int_equal(s.asc_ascq, SCSI_ASC(0x04, 0x1b));
	assert_true(s.sks_valid);
	assert_true(s.sks[0] & 0x80);
}

static void test_sanitize_in_progress(void **state)
{
	struct tt e;
	struct tt_res r, rs;
	struct bdev *inner = tbdev_create(4 * LUN_SIZE, 512, 0, true);
	struct bdev *fb = bdev_fault_create("fsan", inner);
	struct bdev_fault_rule hold = {
		.action = BDEV_FAULT_HOLD, .count = -1,
	};
	static const uint8_t tur[6];
	uint8_t cdb[16], buf[1024], sense[32];
	uint8_t inq[6] = { SCSI_INQUIRY, 0, 0, 0, 96, 0 };
	uint8_t rl[12] = { SCSI_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0 };
	uint8_t rq[6] = { SCSI_REQUEST_SENSE, 0, 0, 0, sizeof(sense), 0 };
	uint8_t ssu[6] = { SCSI_START_STOP_UNIT, 0, 0, 0, 0x01, 0 };
	uint32_t plen;
	struct scsi_sense s;

	(void)state;
	tt_setup_bdev(&e, fb, NULL);
	e.inner = inner;
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);
	bdev_fault_set(fb, &hold);

	/* IMMED: GOOD at once, the operation runs on. */
	plen = ow_params(buf, 0x01, 512, 0x5a);
	san_cdb(cdb, 0x80 | SCSI_SANITIZE_OVERWRITE, (uint16_t)plen);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, plen);
	tt_expect_good(&r);

	/* Device commands run; medium commands and another SANITIZE get
	 * NOT READY, SANITIZE IN PROGRESS, from every nexus. */
	tt_run(&e, e.n2, &r, 0, inq, 6, TGT_DIR_READ, buf, 96);
	tt_expect_good(&r);
	tt_run(&e, e.n2, &r, 0, rl, 12, TGT_DIR_READ, buf, 64);
	tt_expect_good(&r);
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	expect_in_progress(&r);
	tt_run(&e, e.n2, &r, 0, ssu, 6, TGT_DIR_NONE, NULL, 0);
	expect_in_progress(&r);
	cdb_rw10(cdb, SCSI_READ_10, 0, 1, 0);
	tt_run(&e, e.n2, &r, 0, cdb, 10, TGT_DIR_READ, buf, 512);
	expect_in_progress(&r);
	san_cdb(cdb, SCSI_SANITIZE_OVERWRITE, (uint16_t)plen);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, plen);
	expect_in_progress(&r);
	/* REQUEST SENSE: GOOD, with the same sense as its data. */
	tt_run(&e, e.n1, &r, 0, rq, 6, TGT_DIR_READ, sense, sizeof(sense));
	tt_expect_good(&r);
	assert_int_equal(scsi_sense_parse(sense, r.task.xfer_done, &s), 0);
	assert_int_equal(s.key, SCSI_SK_NOT_READY);
	assert_int_equal(s.asc_ascq, SCSI_ASC(0x04, 0x1b));
	assert_true(s.sks_valid);

	/* Let one chunk through: the progress moves. */
	bdev_fault_clear(fb);
	bdev_fault_release_held(fb);
	bdev_fault_set(fb, &hold);
	for (int i = 0; i < 5; i++)
		ev_loop_run_once(e.loop, 10);
	tt_run(&e, e.n1, &r, 0, rq, 6, TGT_DIR_READ, sense, sizeof(sense));
	assert_int_equal(scsi_sense_parse(sense, r.task.xfer_done, &s), 0);
	assert_int_equal(s.asc_ascq, SCSI_ASC(0x04, 0x1b));
	assert_true(scsi_get16(s.sks + 1) > 0);

	/* Without IMMED the command waits; aborting it leaves the
	 * operation running. */
	bdev_fault_clear(fb);
	bdev_fault_release_held(fb);
	for (int i = 0; i < 1000; i++) {
		tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
		if (r.task.status == SCSI_STATUS_GOOD)
			break;
	}
	tt_expect_good(&r);
	bdev_fault_set(fb, &hold);
	plen = ow_params(buf, 0x01, 512, 0x5a);
	san_cdb(cdb, SCSI_SANITIZE_OVERWRITE, (uint16_t)plen);
	tt_submit(&e, e.n1, &rs, 0, cdb, 10, TGT_DIR_WRITE, buf, plen);
	ev_loop_run_once(e.loop, 10);
	assert_int_equal(rs.ndone, 0);
	tgt_task_abort(&rs.task);
	tt_wait(&e, &rs);
	assert_true(rs.task.aborted);
	tt_run(&e, e.n2, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	expect_in_progress(&r);
	bdev_fault_clear(fb);
	bdev_fault_release_held(fb);
	for (int i = 0; i < 1000; i++) {
		tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
		if (r.task.status == SCSI_STATUS_GOOD)
			break;
	}
	tt_expect_good(&r);
	tt_teardown(&e);
}

static void test_sanitize_failure_mode(void **state)
{
	struct tt e;
	struct tt_res r;
	struct bdev *inner = tbdev_create(LUN_SIZE, 512, 0, true);
	struct bdev *fb = bdev_fault_create("fsan2", inner);
	struct bdev_fault_rule fail = {
		.action = BDEV_FAULT_FAIL, .err = EIO, .count = -1,
		.type_mask = 1u << BDEV_IO_WRITE,
	};
	static const uint8_t tur[6];
	uint8_t cdb[16], rd[16], buf[1024];
	uint8_t inq[6] = { SCSI_INQUIRY, 0, 0, 0, 96, 0 };
	uint32_t plen = ow_params(buf, 0x01, 512, 0x11);
	uint8_t exitfm[16];

	(void)state;
	tt_setup_bdev(&e, fb, NULL);
	e.inner = inner;
	tt_clear_ua(&e, e.n1);
	san_cdb(exitfm, SCSI_SANITIZE_EXIT_FAILURE_MODE, 0);
	cdb_rw10(rd, SCSI_READ_10, 0, 1, 0);

	/* AUSE 0: the failure mode can only be left by a good sanitize. */
	bdev_fault_set(fb, &fail);
	san_cdb(cdb, SCSI_SANITIZE_OVERWRITE, (uint16_t)plen);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, plen);
	tt_expect_sense(&r, SCSI_SK_MEDIUM_ERROR, SCSI_ASC(0x31, 0x03));
	tt_run(&e, e.n1, &r, 0, rd, 10, TGT_DIR_READ, buf, 512);
	tt_expect_sense(&r, SCSI_SK_MEDIUM_ERROR, SCSI_ASC(0x31, 0x03));
	tt_run(&e, e.n2, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_RESET);
	tt_run(&e, e.n2, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_MEDIUM_ERROR, SCSI_ASC(0x31, 0x03));
	tt_run(&e, e.n1, &r, 0, inq, 6, TGT_DIR_READ, buf, 96);
	tt_expect_good(&r);
	tt_run(&e, e.n1, &r, 0, exitfm, 10, TGT_DIR_NONE, NULL, 0);
	tt_expect_field(&r, true, 1, 4);
	bdev_fault_clear(fb);
	plen = ow_params(buf, 0x01, 512, 0x11);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, plen);
	tt_expect_good(&r);
	tt_run(&e, e.n1, &r, 0, rd, 10, TGT_DIR_READ, buf, 512);
	tt_expect_good(&r);
	assert_int_equal(buf[0], 0x11);

	/* AUSE 1: EXIT FAILURE MODE leaves it. */
	bdev_fault_set(fb, &fail);
	plen = ow_params(buf, 0x01, 512, 0x22);
	san_cdb(cdb, 0x20 | SCSI_SANITIZE_OVERWRITE, (uint16_t)plen);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, plen);
	tt_expect_sense(&r, SCSI_SK_MEDIUM_ERROR, SCSI_ASC(0x31, 0x03));
	bdev_fault_clear(fb);
	tt_run(&e, e.n1, &r, 0, exitfm, 10, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	tt_run(&e, e.n1, &r, 0, rd, 10, TGT_DIR_READ, buf, 512);
	tt_expect_good(&r);
	tt_teardown(&e);
}

static void test_sanitize_write_protected(void **state)
{
	struct tt e;
	struct tt_res r;
	struct tgt_lun_params p = { .read_only = true };
	uint8_t cdb[16], buf[1024];
	uint32_t plen = ow_params(buf, 0x01, 8, 0);

	(void)state;
	tt_setup_bdev(&e, tbdev_create(LUN_SIZE, 512, 0, true), &p);
	tt_clear_ua(&e, e.n1);
	san_cdb(cdb, SCSI_SANITIZE_OVERWRITE, (uint16_t)plen);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, plen);
	tt_expect_sense(&r, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	san_cdb(cdb, SCSI_SANITIZE_BLOCK_ERASE, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	tt_teardown(&e);
}

/* ---- READ DEFECT DATA ---- */

static void test_read_defect_data(void **state)
{
	static const struct {
		bool d12;
		uint8_t req;	/* REQ_PLIST / REQ_GLIST / format */
		uint32_t alloc;
		uint8_t hdr1;	/* expected byte 1, 0xff: error */
		unsigned len;	/* expected bytes */
	} cases[] = {
		{ false, 0x00, 32, 0x00, 4 },
		{ false, 0x18, 32, 0x18, 4 },	/* both lists, short block */
		{ false, 0x13, 32, 0x13, 4 },	/* PLIST, long block */
		{ false, 0x0c, 32, 0x0c, 4 },	/* GLIST, bytes from index */
		{ false, 0x05, 32, 0x05, 4 },	/* physical sector */
		{ false, 0x05, 2, 0x05, 2 },	/* allocation length cuts */
		{ false, 0x00, 0, 0x00, 0 },
		{ false, 0x01, 32, 0xff, 0 },	/* reserved formats */
		{ false, 0x02, 32, 0xff, 0 },
		{ false, 0x06, 32, 0xff, 0 },	/* vendor specific */
		{ false, 0x07, 32, 0xff, 0 },
		{ true, 0x18, 32, 0x18, 8 },
		{ true, 0x03, 32, 0x03, 8 },
		{ true, 0x03, 5, 0x03, 5 },
		{ true, 0x06, 32, 0xff, 0 },
	};
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], buf[64];
	unsigned i;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(cdb, 0, sizeof(cdb));
		memset(buf, 0xee, sizeof(buf));
		if (cases[i].d12) {
			cdb[0] = SCSI_READ_DEFECT_DATA_12;
			cdb[1] = cases[i].req;
			scsi_put32(cdb + 6, cases[i].alloc);
		} else {
			cdb[0] = SCSI_READ_DEFECT_DATA_10;
			cdb[2] = cases[i].req;
			scsi_put16(cdb + 7, (uint16_t)cases[i].alloc);
		}
		tt_run(&e, e.n1, &r, 0, cdb, cases[i].d12 ? 12 : 10,
		       TGT_DIR_READ, buf, cases[i].alloc);
		if (cases[i].hdr1 == 0xff) {
			tt_expect_field(&r, true, cases[i].d12 ? 1 : 2, 2);
			continue;
		}
		tt_expect_good(&r);
		assert_int_equal(r.task.xfer_done, cases[i].len);
		if (cases[i].len >= 2)
			assert_int_equal(buf[1], cases[i].hdr1);
		if (cases[i].len >= 4)
			assert_int_equal(buf[0] | buf[2] | buf[3], 0);
		if (cases[i].len >= 8)
			assert_int_equal(scsi_get32(buf + 4), 0);
		assert_int_equal(buf[cases[i].len], 0xee);
	}
	/* Reserved bits: byte 1 of (10), byte 10 of (12). */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_READ_DEFECT_DATA_10;
	cdb[1] = 0x01;
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 0);
	tt_expect_field(&r, true, 1, 0);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_READ_DEFECT_DATA_12;
	cdb[10] = 0x80;
	tt_run(&e, e.n1, &r, 0, cdb, 12, TGT_DIR_READ, buf, 0);
	tt_expect_field(&r, true, 10, 7);
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_cdb_errors),
		cmocka_unit_test(test_sanitize_param_errors),
		cmocka_unit_test(test_sanitize_overwrite_erase),
		cmocka_unit_test(test_sanitize_in_progress),
		cmocka_unit_test(test_sanitize_failure_mode),
		cmocka_unit_test(test_sanitize_write_protected),
		cmocka_unit_test(test_read_defect_data),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
