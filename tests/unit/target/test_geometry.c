/*
 * The disk spec's presentation options as the target engine shows them:
 * pbsize=N (LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT in READ CAPACITY(16)
 * and the Block Limits granularities), thick (LBPME 0, no UNMAP, full
 * provisioning in VPD B2h), wsnz=0 (WSNZ 0: WRITE SAME of 0 blocks runs to
 * the end) against the default WSNZ 1 (refused with the field pointer).
 */
#include "tgt_test.h"

static void setup_spec(struct tt *e, const char *spec)
{
	char err[200];
	struct bdev *bd = bdev_create_spec("g", spec, err, sizeof(err));

	if (bd == NULL)
		fail_msg("%s: %s", spec, err);
	tt_setup_bdev(e, bd, NULL);
	tt_clear_ua(e, e->n1);
}

static void rc16(struct tt *e, uint8_t *out)
{
	uint8_t cdb[16] = { SCSI_SERVICE_ACTION_IN_16,
			    SCSI_SAI_READ_CAPACITY_16 };
	struct tt_res r;

	scsi_put32(cdb + 10, 32);
	tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_READ, out, 32);
	tt_expect_good(&r);
}

static void vpd(struct tt *e, uint8_t page, uint8_t *out)
{
	uint8_t cdb[6] = { SCSI_INQUIRY, 1, page, 0, 64, 0 };
	struct tt_res r;

	tt_run(e, e->n1, &r, 0, cdb, 6, TGT_DIR_READ, out, 64);
	tt_expect_good(&r);
}

static const struct {
	const char *spec;
	uint8_t lbppbe;		/* READ CAPACITY(16) byte 13 */
	uint8_t lbp;		/* byte 14: LBPME | LBPRZ */
	uint16_t opt_gran;	/* Block Limits OPT. XFER LEN GRANULARITY */
	uint8_t b2_5, b2_6;	/* VPD B2h bytes 5 (LBPU..) and 6 (type) */
	uint8_t wsnz;
} geo_cases[] = {
	{ "mem:64M", 0, 0xc0, 1, 0xe4, 0x02, 1 },
	{ "mem:64M,pbsize=4096", 3, 0xc0, 8, 0xe4, 0x02, 1 },
	{ "mem:64M,bs=4096,pbsize=16K", 2, 0xc0, 4, 0xe4, 0x02, 1 },
	{ "mem:64M,thick", 0, 0x00, 1, 0x00, 0x00, 1 },
	{ "mem:64M,wsnz=0", 0, 0xc0, 1, 0xe4, 0x02, 0 },
	{ "mem:64M,thick,pbsize=4096,wsnz=0", 3, 0x00, 8, 0x00, 0x00, 0 },
};

static void test_geometry_reported(void **state)
{
	uint8_t out[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(geo_cases) / sizeof(geo_cases[0]); i++) {
		struct tt e;

		print_message("%s\n", geo_cases[i].spec);
		setup_spec(&e, geo_cases[i].spec);
		rc16(&e, out);
		assert_int_equal(out[13] & 0x0f, geo_cases[i].lbppbe);
		assert_int_equal(out[14] & 0xc0, geo_cases[i].lbp);
		vpd(&e, 0xb0, out);
		assert_int_equal(scsi_get16(out + 6), geo_cases[i].opt_gran);
		assert_int_equal(out[4] & 1, geo_cases[i].wsnz);
		if (geo_cases[i].lbp == 0) {
			/* No UNMAP fields when there is no unmapping. */
			assert_int_equal(scsi_get32(out + 20), 0);
			assert_int_equal(scsi_get32(out + 24), 0);
		}
		vpd(&e, 0xb2, out);
		assert_int_equal(out[5], geo_cases[i].b2_5);
		assert_int_equal(out[6] & 0x07, geo_cases[i].b2_6);
		tt_teardown(&e);
	}
}

static void test_thick_commands(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], param[24], blk[512];

	(void)state;
	setup_spec(&e, "mem:64M,thick");
	/* UNMAP is not supported on a fully provisioned LUN. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_UNMAP;
	scsi_put16(cdb + 7, sizeof(param));
	memset(param, 0, sizeof(param));
	scsi_put16(param, 22);
	scsi_put16(param + 2, 16);
	scsi_put32(param + 8 + 8, 8);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, param, sizeof(param));
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_COMMAND_OPCODE);
	/* WRITE SAME with UNMAP set: LBPWS is 0, so INVALID FIELD IN CDB
	 * (byte 1 bit 3); without it the zeroes are written and the blocks
	 * stay mapped. */
	memset(blk, 0, sizeof(blk));
	cdb_rw16(cdb, SCSI_WRITE_SAME_16, 0, 64, 0x08);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, blk, 512);
	tt_expect_field(&r, true, 1, 3);
	cdb_rw10(cdb, SCSI_WRITE_SAME_10, 0, 64, 0x08);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, blk, 512);
	tt_expect_field(&r, true, 1, 3);
	cdb_rw16(cdb, SCSI_WRITE_SAME_16, 0, 64, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, blk, 512);
	tt_expect_good(&r);
	{
		uint8_t gls[16] = { SCSI_SERVICE_ACTION_IN_16,
				    SCSI_SAI_GET_LBA_STATUS };
		uint8_t out[24];

		scsi_put32(gls + 10, sizeof(out));
		tt_run(&e, e.n1, &r, 0, gls, 16, TGT_DIR_READ, out,
		       sizeof(out));
		tt_expect_good(&r);
		assert_int_equal(out[8 + 12] & 0x0f, 0);	/* mapped */
	}
	tt_teardown(&e);
}

static void test_wsnz(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], blk[512], got[512];

	(void)state;
	/* Default WSNZ 1: refused, pointing at NUMBER OF LOGICAL BLOCKS. */
	setup_spec(&e, "mem:1M");
	memset(blk, 0x3c, sizeof(blk));
	cdb_rw16(cdb, SCSI_WRITE_SAME_16, 10, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, blk, 512);
	tt_expect_field(&r, true, 10, -1);
	cdb_rw10(cdb, SCSI_WRITE_SAME_10, 10, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, blk, 512);
	tt_expect_field(&r, true, 7, -1);
	tt_teardown(&e);

	/* wsnz=0: from the LBA to the end. */
	setup_spec(&e, "mem:1M,wsnz=0");
	cdb_rw16(cdb, SCSI_WRITE_SAME_16, 1000, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, blk, 512);
	tt_expect_good(&r);
	cdb_rw16(cdb, SCSI_READ_16, 2047, 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, got, 512);
	assert_memory_equal(got, blk, 512);
	cdb_rw16(cdb, SCSI_READ_16, 999, 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, got, 512);
	assert_int_equal(got[0], 0);
	/* At the very end: nothing to write, not an error; beyond: LBA OUT
	 * OF RANGE. */
	cdb_rw10(cdb, SCSI_WRITE_SAME_10, 2048, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, blk, 512);
	tt_expect_good(&r);
	cdb_rw10(cdb, SCSI_WRITE_SAME_10, 2049, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, blk, 512);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	tt_teardown(&e);
}

/* "To the end" longer than MAXIMUM WRITE SAME LENGTH is refused. */
static void test_wsnz_too_long(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], blk[512];

	(void)state;
	setup_spec(&e, "mem:4G,wsnz=0");
	memset(blk, 0, sizeof(blk));
	cdb_rw16(cdb, SCSI_WRITE_SAME_16, 0, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, blk, 512);
	tt_expect_field(&r, true, 10, -1);
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry_reported),
		cmocka_unit_test(test_thick_commands),
		cmocka_unit_test(test_wsnz),
		cmocka_unit_test(test_wsnz_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
