/*
 * INQUIRY (standard data and every VPD page), READ CAPACITY(10/16),
 * REPORT SUPPORTED OPERATION CODES (all formats, RCTD, usage data from the
 * table masks), REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS, START STOP UNIT
 * and PREVENT ALLOW MEDIUM REMOVAL on a fixed disk.
 */
#include "tgt_test.h"

static void inquiry(struct tt *e, struct tt_res *r, bool evpd, uint8_t page,
		    uint8_t *buf, uint16_t alloc)
{
	uint8_t cdb[6] = { SCSI_INQUIRY, evpd ? 1 : 0, page, 0, 0, 0 };

	scsi_put16(cdb + 3, alloc);
	tt_run(e, e->n1, r, 0, cdb, 6, TGT_DIR_READ, buf, alloc);
}

static void test_inquiry_standard(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t buf[260];
	int i;

	(void)state;
	tt_setup(&e);
	inquiry(&e, &r, false, 0, buf, 260);
	tt_expect_good(&r);
	assert_int_equal(buf[0], 0);		/* qualifier 0, disk */
	assert_int_equal(buf[2], 6);		/* SPC-4 */
	assert_int_equal(buf[3] & 0x0f, 2);	/* response data format */
	assert_int_equal(buf[4], r.task.xfer_done - 5);
	assert_int_equal(buf[3] & 0xc0, 0);	/* no AERC/TRMTSK */
	for (i = 8; i < 36; i++)
		assert_true(buf[i] >= 0x20 && buf[i] <= 0x7e);
	assert_memory_equal(buf + 8, "SCSIKIT ", 8);
	assert_int_equal(scsi_get16(buf + 58), 0x00a0);
	assert_int_equal(scsi_get16(buf + 60), 0x0460);
	assert_int_equal(scsi_get16(buf + 62), 0x04c0);
	assert_int_equal(scsi_get16(buf + 64), 0x0960);
	assert_int_equal(r.task.resid_flags, TGT_RESID_UNDER);
	/* Allocation length truncates without error. */
	inquiry(&e, &r, false, 0, buf, 5);
	tt_expect_good(&r);
	assert_int_equal(r.task.xfer_done, 5);
	/* EVPD 0 with a page code: invalid. */
	inquiry(&e, &r, false, 0x80, buf, 255);
	tt_expect_field(&r, true, 2, -1);
	/* Unknown VPD page. */
	inquiry(&e, &r, true, 0x99, buf, 255);
	tt_expect_field(&r, true, 2, -1);
	tt_teardown(&e);
}

static void test_inquiry_vpd(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t buf[255], pages[64];
	unsigned i, np;

	(void)state;
	tt_setup(&e);
	inquiry(&e, &r, true, 0x00, buf, 255);
	tt_expect_good(&r);
	np = scsi_get16(buf + 2);
	assert_int_equal(np, 7);	/* 00 80 83 8F B0 B1 B2 */
	memcpy(pages, buf + 4, np);
	for (i = 0; i < np; i++) {
		inquiry(&e, &r, true, pages[i], buf, 255);
		tt_expect_good(&r);
		assert_int_equal(buf[1], pages[i]);
		assert_int_equal(scsi_get16(buf + 2) + 4, r.task.xfer_done);
	}
	/* 0x80 serial: from the bdev name. */
	inquiry(&e, &r, true, 0x80, buf, 255);
	assert_memory_equal(buf + 4, "mem0", 4);
	/* 0x83: NAA 6 then T10 vendor ID. */
	inquiry(&e, &r, true, 0x83, buf, 255);
	assert_int_equal(buf[4] & 0x0f, 1);	/* binary */
	assert_int_equal(buf[5] & 0x0f, 3);	/* NAA */
	assert_int_equal(buf[7], 16);
	assert_int_equal(buf[8] >> 4, 6);
	assert_int_equal(buf[24] & 0x0f, 2);	/* ASCII */
	assert_int_equal(buf[25] & 0x0f, 1);	/* T10 vendor ID */
	assert_memory_equal(buf + 28, "SCSIKIT ", 8);
	{
		/* Walk the designators: relative target port and the
		 * target's SCSI name string are there too. */
		size_t pos = 4, end = 4 + scsi_get16(buf + 2);
		bool rtp = false, name = false;

		while (pos + 4 <= end) {
			uint8_t type = buf[pos + 1] & 0x0f;

			if (type == 4 && scsi_get16(buf + pos + 6) == 1)
				rtp = true;
			if (type == 8 && strcmp((const char *)buf + pos + 4,
						"iqn.2026-11.org.scsikit:test") == 0)
				name = true;
			pos += 4 + buf[pos + 3];
		}
		assert_int_equal(pos, end);
		assert_true(rtp);
		assert_true(name);
	}
	/* 0xB0: limits; mem bdev can discard. */
	inquiry(&e, &r, true, 0xb0, buf, 64);
	assert_int_equal(buf[3], 0x3c);
	assert_int_equal(buf[4] & 1, 1);	/* WSNZ */
	assert_int_equal(scsi_get32(buf + 8), (32u << 20) / 512);
	assert_int_equal(scsi_get32(buf + 20), TGT_MAX_UNMAP_LBA_COUNT);
	assert_true(scsi_get32(buf + 20) <= 1024 * 1024);
	assert_int_equal(scsi_get32(buf + 24), TGT_MAX_UNMAP_DESC);
	assert_int_equal(scsi_get64(buf + 36), TGT_MAX_WS_LEN);
	/* 0xB1: non-rotating. */
	inquiry(&e, &r, true, 0xb1, buf, 64);
	assert_int_equal(scsi_get16(buf + 4), 1);
	/* 0xB2: LBPU, LBPWS, LBPWS10, LBPRZ; thin. */
	inquiry(&e, &r, true, 0xb2, buf, 64);
	assert_int_equal(buf[5], 0xe4);
	assert_int_equal(buf[6] & 7, 2);
	tt_teardown(&e);

	/* Without discard: no UNMAP limits, no LBP bits. */
	tt_setup_bdev(&e, tbdev_create(1 << 20, 4096, 65536, false), NULL);
	inquiry(&e, &r, true, 0xb0, buf, 64);
	assert_int_equal(scsi_get32(buf + 20), 0);
	assert_int_equal(scsi_get32(buf + 24), 0);
	assert_int_equal(scsi_get32(buf + 8), 16);
	inquiry(&e, &r, true, 0xb2, buf, 64);
	assert_int_equal(buf[5], 0);
	tt_teardown(&e);
}

static void test_read_capacity(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t rc10[10] = { SCSI_READ_CAPACITY_10 };
	uint8_t rc16[16] = { SCSI_SERVICE_ACTION_IN_16,
			     SCSI_SAI_READ_CAPACITY_16 };
	uint8_t buf[32];

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	tt_run(&e, e.n1, &r, 0, rc10, 10, TGT_DIR_READ, buf, 8);
	tt_expect_good(&r);
	assert_int_equal(scsi_get32(buf), (64u << 20) / 512 - 1);
	assert_int_equal(scsi_get32(buf + 4), 512);
	/* PMI 0 with an LBA: invalid; PMI 1: fine. */
	scsi_put32(rc10 + 2, 5);
	tt_run(&e, e.n1, &r, 0, rc10, 10, TGT_DIR_READ, buf, 8);
	tt_expect_field(&r, true, 2, -1);
	rc10[8] = 1;
	tt_run(&e, e.n1, &r, 0, rc10, 10, TGT_DIR_READ, buf, 8);
	tt_expect_good(&r);

	scsi_put32(rc16 + 10, 32);
	tt_run(&e, e.n1, &r, 0, rc16, 16, TGT_DIR_READ, buf, 32);
	tt_expect_good(&r);
	assert_int_equal(scsi_get64(buf), (64u << 20) / 512 - 1);
	assert_int_equal(scsi_get32(buf + 8), 512);
	assert_int_equal(buf[13] & 0x0f, 0);	/* not reported by default */
	assert_int_equal(buf[14] & 0xc0, 0xc0);	/* LBPME, LBPRZ */
	/* Allocation length 12: truncated. */
	scsi_put32(rc16 + 10, 12);
	tt_run(&e, e.n1, &r, 0, rc16, 16, TGT_DIR_READ, buf, 32);
	tt_expect_good(&r);
	assert_int_equal(r.task.xfer_done, 12);
	tt_teardown(&e);
}

static void test_read_capacity_huge(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t rc10[10] = { SCSI_READ_CAPACITY_10 };
	uint8_t buf[8];

	(void)state;
	/* 4 TiB of 512-byte blocks: 2^33 blocks, too many for RC(10). */
	tt_setup_bdev(&e, bdev_mem_create("big", 4ull << 40, 512, false),
		      NULL);
	tt_clear_ua(&e, e.n1);
	tt_run(&e, e.n1, &r, 0, rc10, 10, TGT_DIR_READ, buf, 8);
	tt_expect_good(&r);
	assert_int_equal(scsi_get32(buf), 0xffffffffu);
	tt_teardown(&e);
}

static void rsoc(struct tt *e, struct tt_res *r, uint8_t opts, bool rctd,
		 uint8_t op, uint16_t sa, uint8_t *buf, uint32_t alloc)
{
	uint8_t cdb[12] = { SCSI_MAINTENANCE_IN,
			    SCSI_MI_REPORT_SUPPORTED_OPCODES };

	cdb[2] = (uint8_t)(opts | (rctd ? 0x80 : 0));
	cdb[3] = op;
	scsi_put16(cdb + 4, sa);
	scsi_put32(cdb + 6, alloc);
	tt_run(e, e->n1, r, 0, cdb, 12, TGT_DIR_READ, buf, alloc);
}

static void test_rsoc(void **state)
{
	struct tt e;
	struct tt_res r, r1;
	uint8_t *all = malloc(65536), one[64];
	uint32_t len, off;
	unsigned n = 0;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	rsoc(&e, &r, 0, false, 0, 0, all, 65536);
	tt_expect_good(&r);
	len = scsi_get32(all);
	assert_int_equal(len % 8, 0);
	for (off = 4; off < 4 + len; off += 8, n++) {
		uint8_t op = all[off];
		uint16_t sa = scsi_get16(all + off + 2);
		bool servactv = all[off + 5] & 0x01;
		uint16_t cl = scsi_get16(all + off + 6);

		/* 001b works only without service actions, 010b only with. */
		rsoc(&e, &r1, 1, false, op, sa, one, sizeof(one));
		if (servactv)
			tt_expect_field(&r1, true, 2, 2);
		else
			tt_expect_good(&r1);
		rsoc(&e, &r1, 2, false, op, sa, one, sizeof(one));
		if (!servactv)
			tt_expect_field(&r1, true, 2, 2);
		else
			tt_expect_good(&r1);
		rsoc(&e, &r1, servactv ? 2 : 1, true, op, sa, one,
		     sizeof(one));
		tt_expect_good(&r1);
		assert_int_equal(one[1], 0x83);		/* CTDP, supported */
		assert_int_equal(scsi_get16(one + 2), cl);
		assert_int_equal(one[4], op);		/* usage data [0] */
		if (servactv)
			assert_int_equal(one[5] & 0x1f, sa);
		assert_int_equal(scsi_get16(one + 4 + cl), 0x0a);
		assert_int_equal(r1.task.xfer_done, 4 + cl + 12);
		if (op == SCSI_READ_10)
			assert_int_equal(one[5] & 0x18, 0x18); /* DPO/FUA */
	}
	assert_true(n >= 40);
	/* With RCTD every descriptor has a timeouts descriptor. */
	rsoc(&e, &r, 0, true, 0, 0, all, 65536);
	tt_expect_good(&r);
	assert_int_equal(scsi_get32(all), n * 20);
	assert_int_equal(all[4 + 5] & 0x02, 0x02);	/* CTDP */
	/* Unsupported opcode: SUPPORT 001b. */
	rsoc(&e, &r, 1, false, 0xc5, 0, one, sizeof(one));
	tt_expect_good(&r);
	assert_int_equal(one[1] & 0x07, 1);
	/* Options 3 and invalid options. */
	rsoc(&e, &r, 3, false, SCSI_READ_16, 0, one, sizeof(one));
	tt_expect_good(&r);
	assert_int_equal(one[1] & 0x07, 3);
	rsoc(&e, &r, 5, false, 0, 0, one, sizeof(one));
	tt_expect_field(&r, true, 2, 2);
	free(all);
	tt_teardown(&e);
}

static void test_rstmf(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[12] = { SCSI_MAINTENANCE_IN, SCSI_MI_REPORT_SUPPORTED_TMFS };
	uint8_t buf[16];

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	scsi_put32(cdb + 6, 16);
	tt_run(&e, e.n1, &r, 0, cdb, 12, TGT_DIR_READ, buf, 16);
	tt_expect_good(&r);
	assert_int_equal(r.task.xfer_done, 4);
	assert_int_equal(buf[0], 0xda);
	cdb[2] = 0x80;	/* REPD */
	tt_run(&e, e.n1, &r, 0, cdb, 12, TGT_DIR_READ, buf, 16);
	assert_int_equal(r.task.xfer_done, 16);
	assert_int_equal(buf[3], 0x0c);
	tt_teardown(&e);
}

static const struct {
	uint8_t byte1, byte4;
	bool ok;
	unsigned fbyte;
	int fbit;
} ssu_cases[] = {
	{ 0x00, 0x01, true, 0, 0 },	/* START */
	{ 0x01, 0x00, true, 0, 0 },	/* IMMED STOP */
	{ 0x00, 0x04, true, 0, 0 },	/* STOP NO_FLUSH */
	{ 0x00, 0x00, true, 0, 0 },	/* STOP with flush */
	{ 0x01, 0x02, false, 4, 1 },	/* LOEJ on a fixed disk */
	{ 0x01, 0x03, false, 4, 1 },
	{ 0x00, 0x21, true, 0, 0 },	/* a power condition: START ignored */
	{ 0x00, 0x32, true, 0, 0 },	/* and LOEJ too (SBC-3 5.25) */
	{ 0x00, 0x08, false, 4, 3 },	/* reserved */
};

static void test_start_stop_prevent(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[6] = { SCSI_START_STOP_UNIT };
	uint8_t pa[6] = { SCSI_PREVENT_ALLOW };
	uint8_t tur[6] = { SCSI_TEST_UNIT_READY };
	size_t i;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	for (i = 0; i < sizeof(ssu_cases) / sizeof(ssu_cases[0]); i++) {
		cdb[1] = ssu_cases[i].byte1;
		cdb[4] = ssu_cases[i].byte4;
		tt_run(&e, e.n1, &r, 0, cdb, 6, TGT_DIR_NONE, NULL, 0);
		if (ssu_cases[i].ok)
			tt_expect_good(&r);
		else
			tt_expect_field(&r, true, ssu_cases[i].fbyte,
					ssu_cases[i].fbit);
		/* Still ready. */
		tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
		tt_expect_good(&r);
	}
	pa[4] = 1;
	tt_run(&e, e.n1, &r, 0, pa, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	pa[4] = 0;
	tt_run(&e, e.n1, &r, 0, pa, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	pa[4] = 2;
	tt_run(&e, e.n1, &r, 0, pa, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_field(&r, true, 4, 1);
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inquiry_standard),
		cmocka_unit_test(test_inquiry_vpd),
		cmocka_unit_test(test_read_capacity),
		cmocka_unit_test(test_read_capacity_huge),
		cmocka_unit_test(test_rsoc),
		cmocka_unit_test(test_rstmf),
		cmocka_unit_test(test_start_stop_prevent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
