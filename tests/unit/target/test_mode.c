/*
 * MODE SENSE(6/10) and MODE SELECT(6/10): pages, page controls, block
 * descriptors, changeable bits, parameter list validation with field
 * pointers, MODE PARAMETERS CHANGED for the other nexus, SWP write
 * protection, D_SENSE switching the sense format.
 */
#include "tgt_test.h"

static uint8_t mode_sense6(struct tt *e, struct tgt_nexus *n,
			   struct tt_res *r, uint8_t b1, uint8_t b2,
			   uint8_t sub, uint8_t *buf)
{
	uint8_t cdb[6] = { SCSI_MODE_SENSE_6, b1, b2, sub, 255, 0 };

	return tt_run(e, n, r, 0, cdb, 6, TGT_DIR_READ, buf, 255);
}

/* Find page code in MODE SENSE(6) data; NULL if absent. */
static const uint8_t *find_page(const uint8_t *buf, size_t len, uint8_t code)
{
	size_t pos = 4 + buf[3];

	while (pos + 2 <= len) {
		if ((buf[pos] & 0x3f) == code)
			return buf + pos;
		pos += 2 + buf[pos + 1];
	}
	return NULL;
}

static const struct {
	uint8_t page;
	uint8_t len;
} sense_pages[] = {
	{ 0x01, 12 }, { 0x08, 20 }, { 0x0a, 12 }, { 0x1c, 12 },
};

static void test_mode_sense(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t buf[255];
	uint8_t cdb10[10] = { SCSI_MODE_SENSE_10, 0x10, 0x3f, 0 };
	size_t i;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	mode_sense6(&e, e.n1, &r, 0, 0x3f, 0, buf);
	tt_expect_good(&r);
	assert_int_equal(buf[0] + 1, r.task.xfer_done);
	assert_int_equal(buf[3], 8);
	assert_int_equal(scsi_get32(buf + 4), (64u << 20) / 512);
	assert_int_equal(scsi_get24(buf + 9), 512);
	for (i = 0; i < 4; i++) {
		const uint8_t *p = find_page(buf, r.task.xfer_done,
					     sense_pages[i].page);

		assert_non_null(p);
		assert_int_equal(p[1] + 2, sense_pages[i].len);
	}
	/* Each page alone, with DBD. */
	for (i = 0; i < 4; i++) {
		mode_sense6(&e, e.n1, &r, 0x08, sense_pages[i].page, 0, buf);
		tt_expect_good(&r);
		assert_int_equal(buf[3], 0);
		assert_int_equal(r.task.xfer_done, 4 + sense_pages[i].len);
		assert_int_equal(buf[4], sense_pages[i].page);
	}
	/* Changeable: caching WCE|RCD, control D_SENSE and SWP. */
	mode_sense6(&e, e.n1, &r, 0x08, 0x40 | 0x08, 0, buf);
	assert_int_equal(buf[4 + 2], 0x05);
	mode_sense6(&e, e.n1, &r, 0x08, 0x40 | 0x0a, 0, buf);
	assert_int_equal(buf[4 + 2], 0x04);
	assert_int_equal(buf[4 + 4], 0x08);
	/* Default. */
	mode_sense6(&e, e.n1, &r, 0x08, 0x80 | 0x0a, 0, buf);
	tt_expect_good(&r);
	/* Saved: not supported. */
	mode_sense6(&e, e.n1, &r, 0, 0xc0 | 0x3f, 0, buf);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
	/* Unknown page, bad subpage, all subpages. */
	mode_sense6(&e, e.n1, &r, 0, 0x19, 0, buf);
	tt_expect_field(&r, true, 2, 5);
	mode_sense6(&e, e.n1, &r, 0, 0x0a, 0x01, buf);
	tt_expect_field(&r, true, 3, -1);
	mode_sense6(&e, e.n1, &r, 0, 0x3f, 0xff, buf);
	tt_expect_good(&r);
	/* MODE SENSE(10) with LLBAA: long descriptor. */
	scsi_put16(cdb10 + 7, 255);
	tt_run(&e, e.n1, &r, 0, cdb10, 10, TGT_DIR_READ, buf, 255);
	tt_expect_good(&r);
	assert_int_equal(scsi_get16(buf) + 2, r.task.xfer_done);
	assert_int_equal(buf[4] & 1, 1);
	assert_int_equal(scsi_get16(buf + 6), 16);
	assert_int_equal(scsi_get64(buf + 8), (64u << 20) / 512);
	assert_int_equal(scsi_get32(buf + 8 + 12), 512);
	/* Residual: allocation length 4. */
	{
		uint8_t c6[6] = { SCSI_MODE_SENSE_6, 0, 0x3f, 0, 4, 0 };

		tt_run(&e, e.n1, &r, 0, c6, 6, TGT_DIR_READ, buf, 255);
		tt_expect_good(&r);
		assert_int_equal(r.task.xfer_done, 4);
		assert_int_equal(r.task.resid_flags, TGT_RESID_UNDER);
		assert_int_equal(r.task.resid, 251);
	}
	tt_teardown(&e);
}

static uint8_t mode_select6(struct tt *e, struct tgt_nexus *n,
			    struct tt_res *r, uint8_t b1, uint8_t *p,
			    uint8_t len)
{
	uint8_t cdb[6] = { SCSI_MODE_SELECT_6, b1, 0, 0, len, 0 };

	return tt_run(e, n, r, 0, cdb, 6, TGT_DIR_WRITE, p, len);
}

/* Read page code (current, DBD) and return a MODE SELECT(6) list for it. */
static uint8_t select_list(struct tt *e, uint8_t code, uint8_t *out)
{
	struct tt_res r;
	uint8_t buf[255];

	mode_sense6(e, e->n1, &r, 0x08, code, 0, buf);
	tt_expect_good(&r);
	memset(out, 0, 4);
	memcpy(out + 4, buf + 4, r.task.xfer_done - 4);
	return (uint8_t)r.task.xfer_done;
}

static void test_mode_select(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t p[64], buf[255], cdb[16], data[512];
	uint8_t len;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);

	/* WCE on: the other nexus hears MODE PARAMETERS CHANGED. */
	len = select_list(&e, 0x08, p);
	p[4 + 2] |= 0x04;
	mode_select6(&e, e.n1, &r, 0x10, p, len);
	tt_expect_good(&r);
	mode_sense6(&e, e.n1, &r, 0x08, 0x08, 0, buf);
	assert_int_equal(buf[4 + 2] & 0x04, 0x04);
	tt_run(&e, e.n2, &r, 0, (const uint8_t[6]){ 0 }, 6, TGT_DIR_NONE,
	       NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_MODE_PARAMETERS_CHANGED);
	tt_run(&e, e.n1, &r, 0, (const uint8_t[6]){ 0 }, 6, TGT_DIR_NONE,
	       NULL, 0);
	tt_expect_good(&r);

	/* A bit that is not changeable: pointer to it. */
	len = select_list(&e, 0x08, p);
	p[4 + 2] |= 0x80;
	mode_select6(&e, e.n1, &r, 0x10, p, len);
	tt_expect_field(&r, false, 6, 7);
	len = select_list(&e, 0x0a, p);
	p[4 + 3] = 0x00;	/* QAM changed */
	mode_select6(&e, e.n1, &r, 0x10, p, len);
	tt_expect_field(&r, false, 7, 4);
	/* Wrong page length. */
	len = select_list(&e, 0x0a, p);
	p[4 + 1] = 0x08;
	mode_select6(&e, e.n1, &r, 0x10, p, len);
	tt_expect_field(&r, false, 5, -1);
	/* PS set. */
	len = select_list(&e, 0x0a, p);
	p[4] |= 0x80;
	mode_select6(&e, e.n1, &r, 0x10, p, len);
	tt_expect_field(&r, false, 4, 7);
	/* Unknown page. */
	len = select_list(&e, 0x0a, p);
	p[4] = 0x19;
	mode_select6(&e, e.n1, &r, 0x10, p, len);
	tt_expect_field(&r, false, 4, 5);
	/* Truncated page. */
	len = select_list(&e, 0x0a, p);
	mode_select6(&e, e.n1, &r, 0x10, p, (uint8_t)(len - 3));
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
	mode_select6(&e, e.n1, &r, 0x10, p, 2);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
	/* SP: cannot save; PF 0 with pages. */
	len = select_list(&e, 0x0a, p);
	mode_select6(&e, e.n1, &r, 0x11, p, len);
	tt_expect_field(&r, true, 1, 0);
	mode_select6(&e, e.n1, &r, 0x00, p, len);
	tt_expect_field(&r, true, 1, 4);
	/* Header only, and a zero-length list: fine. */
	mode_select6(&e, e.n1, &r, 0x10, p, 4);
	tt_expect_good(&r);
	mode_select6(&e, e.n1, &r, 0x10, p, 0);
	tt_expect_good(&r);
	/* Block descriptor: block length must stay. */
	memset(p, 0, sizeof(p));
	p[3] = 8;
	scsi_put24(p + 4 + 5, 512);
	mode_select6(&e, e.n1, &r, 0x10, p, 12);
	tt_expect_good(&r);
	scsi_put24(p + 4 + 5, 4096);
	mode_select6(&e, e.n1, &r, 0x10, p, 12);
	tt_expect_field(&r, false, 9, -1);

	/* SWP: writes fail with WRITE PROTECTED, reads work, WP shows. */
	len = select_list(&e, 0x0a, p);
	p[4 + 4] |= 0x08;
	mode_select6(&e, e.n1, &r, 0x10, p, len);
	tt_expect_good(&r);
	mode_sense6(&e, e.n1, &r, 0x08, 0x0a, 0, buf);
	assert_int_equal(buf[2] & 0x80, 0x80);
	assert_int_equal(buf[4 + 4] & 0x08, 0x08);
	cdb_rw10(cdb, SCSI_WRITE_10, 0, 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, data, 512);
	tt_expect_sense(&r, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
	cdb_rw10(cdb, SCSI_READ_10, 0, 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, data, 512);
	tt_expect_good(&r);
	p[4 + 4] &= (uint8_t)~0x08;
	mode_select6(&e, e.n1, &r, 0x10, p, len);
	tt_expect_good(&r);

	/* D_SENSE: descriptor-format sense for errors. */
	len = select_list(&e, 0x0a, p);
	p[4 + 2] |= 0x04;
	mode_select6(&e, e.n1, &r, 0x10, p, len);
	tt_expect_good(&r);
	cdb_rw16(cdb, SCSI_READ_16, ~0ull, 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, data, 512);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	assert_int_equal(r.task.sense[0] & 0x7f, 0x72);

	/* A LUN reset puts the defaults back. */
	assert_int_equal(tgt_tmf(e.t, e.n1, TGT_TMF_LUN_RESET, 0), 0);
	tt_clear_ua(&e, e.n1);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, data, 512);
	assert_int_equal(r.task.sense[0] & 0x7f, 0x70);

	/* MODE SELECT(10) with a long LBA descriptor. */
	{
		uint8_t c10[10] = { SCSI_MODE_SELECT_10, 0x10 };

		memset(p, 0, sizeof(p));
		p[4] = 0x01;	/* LONGLBA */
		scsi_put16(p + 6, 16);
		scsi_put32(p + 8 + 12, 512);
		scsi_put16(c10 + 7, 24);
		tt_run(&e, e.n1, &r, 0, c10, 10, TGT_DIR_WRITE, p, 24);
		tt_expect_good(&r);
	}
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_sense),
		cmocka_unit_test(test_mode_select),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
