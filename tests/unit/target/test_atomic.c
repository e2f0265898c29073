/*
 * WRITE ATOMIC(16) and ORWRITE(16): data, every CDB error with its sense
 * and field pointer, alignment and granularity on a LUN reporting a 4 KiB
 * physical block, the Block Limits atomic fields and their agreement with
 * MAXIMUM TRANSFER LENGTH (which follows the front end's per-command
 * limit), "not supported" on a bdev without atomic writes, and ORWRITE
 * waiting for an overlapping COMPARE AND WRITE.
 */
#include "tgt_test.h"

static void cdb_wa(uint8_t *c, uint64_t lba, uint16_t nlb, uint16_t bnd,
		   uint8_t flags)
{
	memset(c, 0, 16);
	c[0] = SCSI_WRITE_ATOMIC_16;
	c[1] = flags;
	scsi_put64(c + 2, lba);
	scsi_put16(c + 10, bnd);
	scsi_put16(c + 12, nlb);
}

static void block_limits(struct tt *e, uint8_t *bl)
{
	uint8_t cdb[6] = { SCSI_INQUIRY, 1, 0xb0, 0, 64, 0 };
	struct tt_res r;

	tt_run(e, e->n1, &r, 0, cdb, 6, TGT_DIR_READ, bl, 64);
	tt_expect_good(&r);
}

static const struct wacase {
	const char *what;
	uint64_t lba;
	uint16_t nlb, bnd;
	uint8_t flags;
	uint32_t data;		/* bytes sent; 0: nlb blocks */
	uint16_t asc;		/* 0: GOOD */
	int byte, bit;		/* field pointer of INVALID FIELD IN CDB */
} wacases[] = {
	{ "one block", 0, 1, 0, 0, 0, 0, 0, 0 },
	{ "zero blocks", 5, 0, 0, 0, 0, 0, 0, 0 },
	{ "zero blocks at the end", 131072, 0, 0, 0, 0, 0, 0, 0 },
	{ "FUA and DPO", 8, 8, 0, 0x18, 0, 0, 0, 0 },
	{ "last blocks", 131072 - 16, 16, 0, 0, 0, 0, 0, 0 },
	{ "beyond the end", 131072 - 1, 2, 0, 0, 0,
	  SCSI_ASC_LBA_OUT_OF_RANGE, 0, 0 },
	{ "zero blocks beyond the end", 131073, 0, 0, 0, 0,
	  SCSI_ASC_LBA_OUT_OF_RANGE, 0, 0 },
	{ "LBA 2^63", 1ull << 63, 1, 0, 0, 0, SCSI_ASC_LBA_OUT_OF_RANGE, 0,
	  0 },
	{ "an atomic boundary", 0, 8, 4, 0, 0,
	  SCSI_ASC_INVALID_FIELD_IN_CDB, 10, -1 },
	{ "WRPROTECT", 0, 1, 0, 0x20, 0, SCSI_ASC_INVALID_FIELD_IN_CDB, 1,
	  5 },
	{ "longer than MAXIMUM ATOMIC TRANSFER LENGTH", 0, 8193, 0, 0,
	  512, SCSI_ASC_INVALID_FIELD_IN_CDB, 12, -1 },
	{ "Data-Out shorter than the transfer", 0, 8, 0, 0, 512,
	  SCSI_ASC_INVALID_FIELD_IN_CDB, 12, -1 },
};

static void test_write_atomic(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], bl[64];
	uint8_t *buf = calloc(1, 1 << 20), *got = malloc(1 << 20);
	unsigned i;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	/* mem: 4 MiB atomic, 512-byte blocks, no physical block reported. */
	block_limits(&e, bl);
	assert_int_equal(scsi_get32(bl + 44), 8192);	/* MAX ATOMIC LEN */
	assert_int_equal(scsi_get32(bl + 48), 1);	/* ATOMIC ALIGNMENT */
	assert_int_equal(scsi_get32(bl + 52), 1);	/* GRANULARITY */
	assert_int_equal(scsi_get32(bl + 56), 0);	/* WITH BOUNDARY */
	assert_int_equal(scsi_get32(bl + 60), 0);	/* MAX BOUNDARY */
	assert_true(scsi_get32(bl + 44) <= scsi_get32(bl + 8));
	for (i = 0; i < sizeof(wacases) / sizeof(wacases[0]); i++) {
		const struct wacase *k = &wacases[i];
		uint32_t len = k->data ? k->data : k->nlb * 512u;

		print_message("case %u: %s\n", i, k->what);
		memset(buf, (int)(i + 1), len);
		cdb_wa(cdb, k->lba, k->nlb, k->bnd, k->flags);
		tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, len);
		if (k->asc == 0) {
			tt_expect_good(&r);
			if (k->nlb == 0)
				continue;
			cdb_rw16(cdb, SCSI_READ_16, k->lba, k->nlb, 0);
			tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, got,
			       len);
			tt_expect_good(&r);
			assert_memory_equal(buf, got, len);
		} else if (k->asc == SCSI_ASC_INVALID_FIELD_IN_CDB) {
			tt_expect_field(&r, true, (unsigned)k->byte, k->bit);
		} else {
			tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, k->asc);
		}
	}
	/* The largest one, 4 MiB, and it is listed by REPORT SUPPORTED
	 * OPERATION CODES with DPO/FUA in its usage data. */
	{
		uint8_t *big = malloc(4u << 20);

		memset(big, 0x5c, 4u << 20);
		cdb_wa(cdb, 1000, 8192, 0, 0);
		tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, big, 4u << 20);
		tt_expect_good(&r);
		free(big);
	}
	{
		uint8_t rs[12] = { SCSI_MAINTENANCE_IN,
				   SCSI_MI_REPORT_SUPPORTED_OPCODES, 1,
				   SCSI_WRITE_ATOMIC_16, 0, 0, 0, 0, 0, 64 };
		uint8_t out[64];

		tt_run(&e, e.n1, &r, 0, rs, 12, TGT_DIR_READ, out, 64);
		tt_expect_good(&r);
		assert_int_equal(out[1] & 0x07, 0x03);	/* supported */
		assert_int_equal(out[4 + 1], 0x18);	/* DPO FUA */
	}
	/* The front end's per-command limit caps MAXIMUM TRANSFER LENGTH,
	 * and the atomic maximum with it. */
	tgt_target_set_max_xfer(e.t, 1u << 20);
	block_limits(&e, bl);
	assert_int_equal(scsi_get32(bl + 8), 2048);
	assert_int_equal(scsi_get32(bl + 44), 2048);
	assert_true(scsi_get32(bl + 12) <= 2048);	/* OPTIMAL */
	cdb_wa(cdb, 0, 2049, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 1 << 20);
	tt_expect_field(&r, true, 12, -1);
	/* Another front end with a larger limit changes nothing; a smaller
	 * one is what every path can take. */
	tgt_target_set_max_xfer(e.t, 4u << 20);
	block_limits(&e, bl);
	assert_int_equal(scsi_get32(bl + 8), 2048);
	tgt_target_set_max_xfer(e.t, 256u << 10);
	block_limits(&e, bl);
	assert_int_equal(scsi_get32(bl + 8), 512);
	assert_int_equal(scsi_get32(bl + 44), 512);
	free(buf);
	free(got);
	tt_teardown(&e);
}

/* Physical blocks of 4 KiB reported: atomic writes in whole ones. */
static void test_write_atomic_aligned(void **state)
{
	struct tgt_lun_params p = { .report_pbsize = true };
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], bl[64], buf[8192];

	(void)state;
	tt_setup_bdev(&e, bdev_mem_create("mempb", 64ull << 20, 512, false),
		      &p);
	tt_clear_ua(&e, e.n1);
	block_limits(&e, bl);
	assert_int_equal(scsi_get32(bl + 48), 8);	/* ATOMIC ALIGNMENT */
	assert_int_equal(scsi_get32(bl + 52), 8);	/* GRANULARITY */
	assert_int_equal(scsi_get32(bl + 44) % 8, 0);
	cdb_wa(cdb, 1, 8, 0, 0);			/* misaligned */
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 4096);
	tt_expect_field(&r, true, 2, -1);
	cdb_wa(cdb, 8, 4, 0, 0);			/* not a granule */
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 2048);
	tt_expect_field(&r, true, 12, -1);
	cdb_wa(cdb, 8, 16, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 8192);
	tt_expect_good(&r);
	tt_teardown(&e);
}

/* A bdev that cannot write atomically: not supported, fields zero. */
static void test_write_atomic_unsupported(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], bl[64], buf[512];

	(void)state;
	tt_setup_bdev(&e, tbdev_create(1 << 20, 512, 0, true), NULL);
	tt_clear_ua(&e, e.n1);
	block_limits(&e, bl);
	assert_int_equal(scsi_get32(bl + 44), 0);
	assert_int_equal(scsi_get32(bl + 48), 0);
	assert_int_equal(scsi_get32(bl + 52), 0);
	cdb_wa(cdb, 0, 1, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 512);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_COMMAND_OPCODE);
	tt_teardown(&e);
}

/* ---- ORWRITE(16) ---- */

static void cdb_or(uint8_t *c, uint64_t lba, uint32_t nlb, uint8_t flags)
{
	cdb_rw16(c, SCSI_ORWRITE_16, lba, nlb, flags);
}

static void test_orwrite(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], buf[8 * 512], got[8 * 512], want[8 * 512];
	unsigned i;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 3);
	cdb_rw16(cdb, SCSI_WRITE_16, 10, 8, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, sizeof(buf));
	tt_expect_good(&r);
	for (i = 0; i < sizeof(buf); i++) {
		want[i] = (uint8_t)((i * 3) | (i * 7 + 1));
		buf[i] = (uint8_t)(i * 7 + 1);
	}
	cdb_or(cdb, 10, 8, 0x08);		/* FUA */
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, sizeof(buf));
	tt_expect_good(&r);
	cdb_rw16(cdb, SCSI_READ_16, 10, 8, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, got, sizeof(got));
	tt_expect_good(&r);
	assert_memory_equal(got, want, sizeof(got));
	/* Only the whole blocks sent: 2 of 8 (underflow reported). */
	memset(buf, 0xff, sizeof(buf));
	cdb_or(cdb, 10, 8, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 1024 + 100);
	tt_expect_good(&r);
	assert_int_equal(r.task.resid_flags, TGT_RESID_OVER);
	cdb_rw16(cdb, SCSI_READ_16, 10, 8, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, got, sizeof(got));
	memset(want, 0xff, 1024);
	assert_memory_equal(got, want, sizeof(got));
	/* Errors. */
	cdb_or(cdb, 131072 - 4, 8, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, sizeof(buf));
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	cdb_or(cdb, 131073, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	cdb_or(cdb, 131072, 0, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, NULL, 0);
	tt_expect_good(&r);
	cdb_or(cdb, 0, 1, 0x20);		/* ORPROTECT */
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 512);
	tt_expect_field(&r, true, 1, 5);
	tt_teardown(&e);
}

/* An ORWRITE overlapping a COMPARE AND WRITE in progress waits for it. */
static void test_orwrite_waits_for_caw(void **state)
{
	struct tt e;
	struct tt_res caw, orw, r;
	struct bdev *fb = tt_setup_fault(&e, 8ull << 20);
	struct bdev_fault_rule hold = {
		.action = BDEV_FAULT_HOLD, .count = -1,
	};
	uint8_t cdb[16], cawbuf[1024], orbuf[512], got[512];

	(void)state;
	memset(cawbuf, 0, 512);			/* compare: zeroes */
	memset(cawbuf + 512, 0x0f, 512);	/* write: 0x0f */
	memset(orbuf, 0xf0, sizeof(orbuf));
	bdev_fault_set(fb, &hold);
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_COMPARE_AND_WRITE;
	scsi_put64(cdb + 2, 4);
	cdb[13] = 1;
	tt_submit(&e, e.n1, &caw, 0, cdb, 16, TGT_DIR_WRITE, cawbuf, 1024);
	ev_loop_run_once(e.loop, 10);
	assert_int_equal(bdev_fault_hits(fb), 1);	/* its read, held */
	cdb_or(cdb, 4, 1, 0);
	tt_submit(&e, e.n1, &orw, 0, cdb, 16, TGT_DIR_WRITE, orbuf, 512);
	ev_loop_run_once(e.loop, 10);
	/* The ORWRITE has not touched the disk. */
	assert_int_equal(bdev_fault_hits(fb), 1);
	bdev_fault_clear(fb);
	bdev_fault_release_held(fb);
	tt_wait(&e, &caw);
	tt_expect_good(&caw);
	tt_wait(&e, &orw);
	tt_expect_good(&orw);
	/* Serial: the CAW's 0x0f, then ORed with 0xf0. */
	cdb_rw16(cdb, SCSI_READ_16, 4, 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, got, 512);
	memset(orbuf, 0xff, sizeof(orbuf));
	assert_memory_equal(got, orbuf, 512);
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_atomic),
		cmocka_unit_test(test_write_atomic_aligned),
		cmocka_unit_test(test_write_atomic_unsupported),
		cmocka_unit_test(test_orwrite),
		cmocka_unit_test(test_orwrite_waits_for_caw),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
