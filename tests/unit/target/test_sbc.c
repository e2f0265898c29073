/*
 * SBC commands beyond READ/WRITE: VERIFY (BYTCHK 0/1/3, MISCOMPARE with
 * INFORMATION), WRITE AND VERIFY, SYNCHRONIZE CACHE, PRE-FETCH, WRITE SAME
 * (pattern, UNMAP, NDOB, limits, data-out size), UNMAP (parameter list
 * validation), GET LBA STATUS, COMPARE AND WRITE (miscompare, sizes, and
 * serialization of overlapping ones with a held backend; through a bdev
 * that compares and writes itself, and through the engine's own read,
 * compare and write; the bdev's limit).
 */
#include "tgt_test.h"

static const uint8_t cdb_zero[16];

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

static void write_blocks(struct tt *e, uint64_t lba, uint32_t nlb,
			 uint8_t *data)
{
	struct tt_res r;
	uint8_t cdb[16];

	cdb_rw16(cdb, SCSI_WRITE_16, lba, nlb, 0);
	tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_WRITE, data, nlb * 512);
	tt_expect_good(&r);
}

static const struct {
	uint8_t op;
	unsigned len;
} verify_ops[] = {
	{ SCSI_VERIFY_10, 10 }, { SCSI_VERIFY_12, 12 }, { SCSI_VERIFY_16, 16 },
};

static void verify_cdb(uint8_t *cdb, unsigned i, uint64_t lba, uint32_t nlb,
		       uint8_t bytchk)
{
	if (verify_ops[i].len == 10)
		cdb_rw10(cdb, verify_ops[i].op, (uint32_t)lba, (uint16_t)nlb, 0);
	else if (verify_ops[i].len == 12)
		cdb_rw12(cdb, verify_ops[i].op, (uint32_t)lba, nlb, 0);
	else
		cdb_rw16(cdb, verify_ops[i].op, lba, nlb, 0);
	cdb[1] = (uint8_t)(bytchk << 1);
}

static void test_verify(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], data[8 * 512], blk[512];
	struct scsi_sense s;
	unsigned i;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	fill(data, sizeof(data), 3);
	write_blocks(&e, 50, 8, data);
	for (i = 0; i < 3; i++) {
		verify_cdb(cdb, i, 50, 8, 1);
		tt_run(&e, e.n1, &r, 0, cdb, verify_ops[i].len, TGT_DIR_WRITE,
		       data, sizeof(data));
		tt_expect_good(&r);
		/* One byte off in block 5. */
		data[5 * 512 + 17] ^= 0xff;
		tt_run(&e, e.n1, &r, 0, cdb, verify_ops[i].len, TGT_DIR_WRITE,
		       data, sizeof(data));
		s = tt_sense(&r);
		assert_int_equal(s.key, SCSI_SK_MISCOMPARE);
		assert_int_equal(s.asc_ascq, SCSI_ASC_MISCOMPARE_DURING_VERIFY);
		assert_true(s.info_valid);
		assert_int_equal(s.info, 5 * 512 + 17);
		/* BYTCHK 0: no compare. */
		verify_cdb(cdb, i, 50, 8, 0);
		tt_run(&e, e.n1, &r, 0, cdb, verify_ops[i].len, TGT_DIR_NONE,
		       NULL, 0);
		tt_expect_good(&r);
		data[5 * 512 + 17] ^= 0xff;
		/* BYTCHK 2: reserved. */
		verify_cdb(cdb, i, 50, 8, 2);
		tt_run(&e, e.n1, &r, 0, cdb, verify_ops[i].len, TGT_DIR_NONE,
		       NULL, 0);
		tt_expect_field(&r, true, 1, 2);
		/* Beyond the end. */
		verify_cdb(cdb, i, (64u << 20) / 512 - 1, 2, 0);
		tt_run(&e, e.n1, &r, 0, cdb, verify_ops[i].len, TGT_DIR_NONE,
		       NULL, 0);
		tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_LBA_OUT_OF_RANGE);
		/* 0 blocks. */
		verify_cdb(cdb, i, 0, 0, 1);
		tt_run(&e, e.n1, &r, 0, cdb, verify_ops[i].len, TGT_DIR_NONE,
		       NULL, 0);
		tt_expect_good(&r);
	}
	/* BYTCHK 3: one block against each block of the range. */
	memset(blk, 0x5a, sizeof(blk));
	for (i = 0; i < 4; i++)
		write_blocks(&e, 200 + i, 1, blk);
	verify_cdb(cdb, 2, 200, 4, 3);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, blk, 512);
	tt_expect_good(&r);
	verify_cdb(cdb, 2, 200, 5, 3);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, blk, 512);
	s = tt_sense(&r);
	assert_int_equal(s.key, SCSI_SK_MISCOMPARE);
	assert_int_equal(s.info, 4 * 512);
	tt_teardown(&e);
}

static void test_write_verify_sync_prefetch(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], data[4 * 512], rb[4 * 512];
	uint64_t nb = (64ull << 20) / 512;
	static const uint8_t ops[] = { SCSI_SYNCHRONIZE_CACHE_10,
				       SCSI_SYNCHRONIZE_CACHE_16,
				       SCSI_PREFETCH_10, SCSI_PREFETCH_16 };
	unsigned i;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	fill(data, sizeof(data), 9);
	cdb_rw10(cdb, SCSI_WRITE_VERIFY_10, 10, 4, 0x02);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, data, sizeof(data));
	tt_expect_good(&r);
	cdb_rw16(cdb, SCSI_WRITE_VERIFY_16, 10, 4, 0x10);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, data, sizeof(data));
	tt_expect_good(&r);
	cdb_rw12(cdb, SCSI_WRITE_VERIFY_12, (uint32_t)nb - 1, 2, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 12, TGT_DIR_WRITE, data, 1024);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	cdb_rw10(cdb, SCSI_READ_10, 10, 4, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, rb, sizeof(rb));
	assert_memory_equal(rb, data, sizeof(data));

	for (i = 0; i < sizeof(ops); i++) {
		bool c16 = ops[i] == SCSI_SYNCHRONIZE_CACHE_16 ||
			   ops[i] == SCSI_PREFETCH_16;

		if (c16)
			cdb_rw16(cdb, ops[i], nb - 4, 4, 0x02);
		else
			cdb_rw10(cdb, ops[i], (uint32_t)nb - 4, 4, 0x02);
		tt_run(&e, e.n1, &r, 0, cdb, c16 ? 16 : 10, TGT_DIR_NONE,
		       NULL, 0);
		tt_expect_good(&r);
		if (c16)
			cdb_rw16(cdb, ops[i], nb - 4, 5, 0);
		else
			cdb_rw10(cdb, ops[i], (uint32_t)nb - 4, 5, 0);
		tt_run(&e, e.n1, &r, 0, cdb, c16 ? 16 : 10, TGT_DIR_NONE,
		       NULL, 0);
		tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_LBA_OUT_OF_RANGE);
	}
	tt_teardown(&e);
}

static void ws_cdb(uint8_t *cdb, bool ws16, uint64_t lba, uint32_t nlb,
		   uint8_t flags)
{
	if (ws16)
		cdb_rw16(cdb, SCSI_WRITE_SAME_16, lba, nlb, flags);
	else
		cdb_rw10(cdb, SCSI_WRITE_SAME_10, (uint32_t)lba, (uint16_t)nlb,
			 flags);
}

static void test_write_same(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16], blk[512], zero[512], *rb = malloc(300 * 512);
	uint64_t nb = (64ull << 20) / 512;
	unsigned k, i;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	memset(zero, 0, sizeof(zero));
	for (k = 0; k < 2; k++) {
		bool ws16 = k == 1;

		/* Pattern, at the start and at the end of the LUN. */
		memset(blk, 0x40 + k, sizeof(blk));
		ws_cdb(cdb, ws16, 0, 256, 0);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE, blk,
		       512);
		tt_expect_good(&r);
		cdb_rw16(cdb, SCSI_READ_16, 0, 256, 0);
		tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, rb, 256 * 512);
		for (i = 0; i < 256; i++)
			assert_memory_equal(rb + i * 512, blk, 512);
		ws_cdb(cdb, ws16, nb - 3, 3, 0);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE, blk,
		       512);
		tt_expect_good(&r);
		/* UNMAP with a zero block: reads back zeroes (LBPRZ). */
		ws_cdb(cdb, ws16, 0, 256, 0x08);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE,
		       zero, 512);
		tt_expect_good(&r);
		cdb_rw16(cdb, SCSI_READ_16, 0, 256, 0);
		tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, rb, 256 * 512);
		for (i = 0; i < 256 * 512; i++)
			assert_int_equal(rb[i], 0);
		/* UNMAP with a non-zero block on a thin LUN: unmapped too. */
		ws_cdb(cdb, ws16, 0, 16, 0);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE, blk,
		       512);
		ws_cdb(cdb, ws16, 0, 16, 0x08);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE, blk,
		       512);
		tt_expect_good(&r);
		cdb_rw16(cdb, SCSI_READ_16, 0, 16, 0);
		tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, rb, 16 * 512);
		for (i = 0; i < 16 * 512; i++)
			assert_int_equal(rb[i], 0);
		/* 0 blocks (WSNZ), too many, beyond the end. */
		ws_cdb(cdb, ws16, 0, 0, 0);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE, blk,
		       512);
		tt_expect_field(&r, true, ws16 ? 10 : 7, -1);
		ws_cdb(cdb, ws16, nb + 1, 0, 0);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE, blk,
		       512);
		tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_LBA_OUT_OF_RANGE);
		ws_cdb(cdb, ws16, nb - 1, 2, 0);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE, blk,
		       512);
		tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_LBA_OUT_OF_RANGE);
		/* Data-out must be exactly one block. */
		ws_cdb(cdb, ws16, 0, 1, 0x08);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE, blk,
		       256);
		assert_int_not_equal(r.task.status, SCSI_STATUS_GOOD);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE, rb,
		       1024);
		assert_int_not_equal(r.task.status, SCSI_STATUS_GOOD);
		/* ANCHOR is not supported. */
		ws_cdb(cdb, ws16, 0, 1, 0x18);
		tt_run(&e, e.n1, &r, 0, cdb, ws16 ? 16 : 10, TGT_DIR_WRITE, blk,
		       512);
		tt_expect_field(&r, true, 1, 4);
	}
	/* NDOB: zeroes without a data-out buffer. */
	ws_cdb(cdb, true, 1000, 4, 0x01);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	free(rb);
	tt_teardown(&e);

	/* Above MAXIMUM WRITE SAME LENGTH (on a LUN big enough for it). */
	tt_setup_bdev(&e, bdev_mem_create("big", 1ull << 40, 512, false),
		      NULL);
	tt_clear_ua(&e, e.n1);
	ws_cdb(cdb, true, 0, TGT_MAX_WS_LEN + 1, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, blk, 512);
	tt_expect_field(&r, true, 10, -1);
	tt_teardown(&e);
}

static void test_write_same_bounded(void **state)
{
	struct tt e;
	struct tt_res r;
	struct tbdev *tb;
	uint8_t cdb[16], blk[512];
	uint32_t nlb = 40000; /* ~20 MiB of pattern */
	uint32_t i;

	(void)state;
	/* No discard / write-zeroes: every block is written from a pattern
	 * buffer no larger than TGT_WS_CHUNK. */
	tt_setup_bdev(&e, tbdev_create(32u << 20, 512, 0, false), NULL);
	tb = tbdev_of(e.bd);
	tt_clear_ua(&e, e.n1);
	memset(blk, 0xa5, sizeof(blk));
	ws_cdb(cdb, true, 7, nlb, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, blk, 512);
	tt_expect_good(&r);
	assert_true(tb->max_len <= TGT_WS_CHUNK);
	for (i = 0; i < nlb; i += 997)
		assert_memory_equal(tb->data + (7 + (uint64_t)i) * 512, blk,
				    512);
	assert_memory_equal(tb->data + (7 + (uint64_t)nlb - 1) * 512, blk, 512);
	assert_int_equal(tb->data[(7 + (uint64_t)nlb) * 512], 0);
	/* The UNMAP bit on a LUN that cannot unmap (LBPWS 0): INVALID FIELD
	 * IN CDB, nothing written (libiscsi WriteSame10.UnmapVPD). */
	memset(blk, 0, sizeof(blk));
	ws_cdb(cdb, false, 7, 16, 0x08);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, blk, 512);
	tt_expect_field(&r, true, 1, 3);
	assert_int_equal(tb->data[7 * 512], 0xa5);
	tt_teardown(&e);
}

static uint8_t unmap(struct tt *e, struct tt_res *r, const uint64_t *lbas,
		     const uint32_t *counts, unsigned n, uint16_t plen_adj)
{
	uint8_t cdb[10] = { SCSI_UNMAP };
	static uint8_t p[8 + 16 * 300];
	uint16_t plen = (uint16_t)(8 + 16 * n + plen_adj);
	unsigned i;

	memset(p, 0, sizeof(p));
	scsi_put16(p, (uint16_t)(6 + 16 * n));
	scsi_put16(p + 2, (uint16_t)(16 * n));
	for (i = 0; i < n; i++) {
		scsi_put64(p + 8 + 16 * i, lbas[i]);
		scsi_put32(p + 8 + 16 * i + 8, counts[i]);
	}
	scsi_put16(cdb + 7, plen);
	return tt_run(e, e->n1, r, 0, cdb, 10, TGT_DIR_WRITE, p, plen);
}

static void test_unmap_and_lba_status(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t data[16 * 512], gls[16] = { SCSI_SERVICE_ACTION_IN_16,
					    SCSI_SAI_GET_LBA_STATUS };
	uint8_t out[8 + 16 * 8], cdb[16];
	uint64_t nb = (64ull << 20) / 512;
	uint64_t lbas[300];
	uint32_t counts[300];
	unsigned i;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	fill(data, sizeof(data), 1);
	write_blocks(&e, 0, 16, data);
	/* GET LBA STATUS: mapped. */
	scsi_put32(gls + 10, sizeof(out));
	tt_run(&e, e.n1, &r, 0, gls, 16, TGT_DIR_READ, out, sizeof(out));
	tt_expect_good(&r);
	assert_int_equal(scsi_get64(out + 8), 0);
	assert_true(scsi_get32(out + 16) >= 1);
	assert_int_equal(out[20] & 0x0f, 0);
	/* UNMAP 8 blocks at 8; then 128 blocks (a whole 64 KiB chunk of the
	 * mem bdev, which tracks allocation per chunk) at 128. */
	lbas[0] = 8;
	counts[0] = 8;
	assert_int_equal(unmap(&e, &r, lbas, counts, 1, 0), SCSI_STATUS_GOOD);
	cdb_rw10(cdb, SCSI_READ_10, 8, 8, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, data, 8 * 512);
	for (i = 0; i < 8 * 512; i++)
		assert_int_equal(data[i], 0);
	write_blocks(&e, 128, 16, data);
	lbas[0] = 128;
	counts[0] = 128;
	assert_int_equal(unmap(&e, &r, lbas, counts, 1, 0), SCSI_STATUS_GOOD);
	scsi_put64(gls + 2, 128);
	tt_run(&e, e.n1, &r, 0, gls, 16, TGT_DIR_READ, out, sizeof(out));
	tt_expect_good(&r);
	assert_int_equal(scsi_get64(out + 8), 128);
	assert_int_equal(out[20] & 0x0f, 1);	/* deallocated */
	assert_int_equal(scsi_get32(out) + 4, r.task.xfer_done);
	/* Beyond the end. */
	scsi_put64(gls + 2, nb);
	tt_run(&e, e.n1, &r, 0, gls, 16, TGT_DIR_READ, out, sizeof(out));
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);

	/* Zero-length list; zero-block descriptors (even at the end). */
	assert_int_equal(unmap(&e, &r, lbas, counts, 0, (uint16_t)-8),
			 SCSI_STATUS_GOOD);
	lbas[0] = nb;
	counts[0] = 0;
	assert_int_equal(unmap(&e, &r, lbas, counts, 1, 0), SCSI_STATUS_GOOD);
	/* List shorter than the header. */
	unmap(&e, &r, lbas, counts, 0, (uint16_t)-2);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
	/* Out of range. */
	lbas[0] = nb - 1;
	counts[0] = 2;
	unmap(&e, &r, lbas, counts, 1, 0);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	/* Too many descriptors / blocks. */
	for (i = 0; i < 300; i++) {
		lbas[i] = i;
		counts[i] = 1;
	}
	unmap(&e, &r, lbas, counts, TGT_MAX_UNMAP_DESC + 1, 0);
	tt_expect_field(&r, false, 2, -1);
	/* Overlapping descriptors adding up past MAXIMUM UNMAP LBA COUNT:
	 * the pointer names the descriptor that crosses it. */
	for (i = 0; i < 11; i++) {
		lbas[i] = 0;
		counts[i] = 100000;
	}
	unmap(&e, &r, lbas, counts, 11, 0);
	tt_expect_field(&r, false, 8 + 16 * 10 + 8, -1);
	/* ANCHOR: not supported. */
	{
		uint8_t c[10] = { SCSI_UNMAP, 0x01 };

		tt_run(&e, e.n1, &r, 0, c, 10, TGT_DIR_NONE, NULL, 0);
		tt_expect_field(&r, true, 1, 0);
	}
	tt_teardown(&e);

	/* A LUN that cannot discard does not have UNMAP at all. */
	tt_setup_bdev(&e, tbdev_create(1 << 20, 512, 0, false), NULL);
	tt_clear_ua(&e, e.n1);
	lbas[0] = 0;
	counts[0] = 1;
	unmap(&e, &r, lbas, counts, 1, 0);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_COMMAND_OPCODE);
	(void)cdb_zero;
	tt_teardown(&e);
}

static void caw_cdb(uint8_t *cdb, uint64_t lba, uint8_t nlb)
{
	memset(cdb, 0, 16);
	cdb[0] = SCSI_COMPARE_AND_WRITE;
	scsi_put64(cdb + 2, lba);
	cdb[13] = nlb;
}

/* The COMPARE AND WRITE checks on e's LU (64 MiB, unit attentions of n1
 * cleared), whichever path it takes. */
static void caw_checks(struct tt *e)
{
	struct tt_res r;
	uint8_t cdb[16], buf[8 * 512], rb[4 * 512];
	struct scsi_sense s;
	uint64_t nb = (64ull << 20) / 512;

	fill(buf, 4 * 512, 7);
	write_blocks(e, 30, 4, buf);
	fill(buf + 4 * 512, 4 * 512, 99);
	caw_cdb(cdb, 30, 4);
	tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, sizeof(buf));
	tt_expect_good(&r);
	assert_int_equal(r.task.xfer_done, sizeof(buf));
	cdb_rw10(cdb, SCSI_READ_10, 30, 4, 0);
	tt_run(e, e->n1, &r, 0, cdb, 10, TGT_DIR_READ, rb, sizeof(rb));
	assert_memory_equal(rb, buf + 4 * 512, sizeof(rb));
	/* Now the old data miscompares at byte 0 ... */
	caw_cdb(cdb, 30, 4);
	tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, sizeof(buf));
	s = tt_sense(&r);
	assert_int_equal(s.key, SCSI_SK_MISCOMPARE);
	assert_int_equal(s.asc_ascq, SCSI_ASC_MISCOMPARE_DURING_VERIFY);
	assert_int_equal(s.info, 0);
	/* ... and with matching data except one byte in block 2. */
	memcpy(buf, rb, sizeof(rb));
	buf[2 * 512 + 5] ^= 1;
	tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, sizeof(buf));
	s = tt_sense(&r);
	assert_int_equal(s.info, 2 * 512 + 5);
	/* Nothing written by a miscompare. */
	cdb_rw10(cdb, SCSI_READ_10, 30, 4, 0);
	tt_run(e, e->n1, &r, 0, cdb, 10, TGT_DIR_READ, rb, sizeof(rb));
	assert_memory_equal(rb, buf + 4 * 512, sizeof(rb));
	/* Data-out size must be exactly 2 x NLB blocks. */
	caw_cdb(cdb, 30, 1);
	tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 4 * 512);
	assert_int_not_equal(r.task.status, SCSI_STATUS_GOOD);
	caw_cdb(cdb, 30, 3);
	tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 4 * 512);
	assert_int_not_equal(r.task.status, SCSI_STATUS_GOOD);
	/* Range, 0 blocks, too many blocks. */
	caw_cdb(cdb, nb - 1, 2);
	tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 4 * 512);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
	caw_cdb(cdb, 0, 0);
	tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	/* NLB 0 with one stray block: still nothing to do. */
	tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, 512);
	tt_expect_good(&r);
	/* NLB 0 with a whole pair (256 blocks truncated to 0): invalid. */
	{
		uint8_t *big = calloc(1, 2 * 256 * 512);

		tt_run(e, e->n1, &r, 0, cdb, 16, TGT_DIR_WRITE, big,
		       2 * 256 * 512);
		tt_expect_field(&r, true, 13, -1);
		free(big);
	}
}

/* On mem, which offers BDEV_IO_COMPARE_WRITE, the command is one such
 * bdev I/O; under a fault bdev, which does not, the engine reads,
 * compares and writes (the path of file and other backends). */
static void test_compare_and_write(void **state)
{
	struct bdev_stats st;
	struct tt e;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	caw_checks(&e);
	bdev_get_stats(e.bd, &st);
	assert_int_equal(st.ops[BDEV_IO_COMPARE_WRITE], 3);
	assert_int_equal(st.errors, 0);
	tt_teardown(&e);

	tt_setup_fault(&e, 64ull << 20);
	caw_checks(&e);
	bdev_get_stats(e.bd, &st);
	assert_int_equal(st.ops[BDEV_IO_COMPARE_WRITE], 0);
	assert_true(st.ops[BDEV_IO_READ] >= 3);
	tt_teardown(&e);
}

/* A bdev that compares and writes at most one block: BLOCK LIMITS says 1
 * and a longer COMPARE AND WRITE is refused before reaching it (splitting
 * it would not be atomic). */
static void test_compare_and_write_bdev_limit(void **state)
{
	struct bdev_geometry g = {
		.size = 1 << 20, .lbsize = 512, .pbsize = 512,
		.max_compare_write = 512,
	};
	uint8_t inq[6] = { SCSI_INQUIRY, 1, 0xb0, 0, 64, 0 };
	uint8_t cdb[16], bl[64], buf[4 * 512];
	struct tt_res r;
	struct tt e;

	(void)state;
	tt_setup_bdev(&e, tbdev_create_geo(&g), NULL);
	tt_clear_ua(&e, e.n1);
	tt_run(&e, e.n1, &r, 0, inq, 6, TGT_DIR_READ, bl, 64);
	tt_expect_good(&r);
	assert_int_equal(bl[5], 1);	/* MAX COMPARE AND WRITE LENGTH */
	memset(buf, 0, sizeof(buf));
	caw_cdb(cdb, 0, 2);
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, buf, sizeof(buf));
	tt_expect_field(&r, true, 13, -1);
	assert_int_equal(tbdev_of(e.bd)->ops[BDEV_IO_COMPARE_WRITE], 0);
	assert_int_equal(tbdev_of(e.bd)->ops[BDEV_IO_READ], 0);
	tt_teardown(&e);
}

static void test_compare_and_write_serialized(void **state)
{
	struct tt e;
	struct tt_res r1, r2, r3;
	struct bdev *inner = bdev_mem_create("mem2", 1 << 20, 512, false);
	struct bdev *fb = bdev_fault_create("fault2", inner);
	struct bdev_fault_rule hold = { .action = BDEV_FAULT_HOLD, .count = -1 };
	uint8_t cdb[16], a[2 * 512], b[2 * 512], c[2 * 512], rb[512];

	(void)state;
	tt_setup_bdev(&e, fb, NULL);
	e.inner = inner;
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);
	/* Block 0 holds zeroes.  C&W #1: 0 -> A; #2 (other nexus, same
	 * block): A -> B.  #2 must compare only after #1 wrote. */
	memset(a, 0, 512);
	memset(a + 512, 'A', 512);
	memset(b, 'A', 512);
	memset(b + 512, 'B', 512);
	bdev_fault_set(fb, &hold);
	caw_cdb(cdb, 0, 1);
	tt_submit(&e, e.n1, &r1, 0, cdb, 16, TGT_DIR_WRITE, a, sizeof(a));
	tt_submit(&e, e.n2, &r2, 0, cdb, 16, TGT_DIR_WRITE, b, sizeof(b));
	ev_loop_run_once(e.loop, 10);
	/* Only #1's read reached the backend. */
	assert_int_equal(bdev_fault_hits(fb), 1);
	/* A third, aborted while waiting, finishes at once as aborted. */
	memcpy(c, b, sizeof(c));
	tt_submit(&e, e.n2, &r3, 0, cdb, 16, TGT_DIR_WRITE, c, sizeof(c));
	tgt_task_abort(&r3.task);
	tt_wait(&e, &r3);
	assert_true(r3.task.aborted);
	bdev_fault_clear(fb);
	bdev_fault_release_held(fb);
	tt_wait(&e, &r1);
	tt_expect_good(&r1);
	tt_wait(&e, &r2);
	tt_expect_good(&r2);
	cdb_rw10(cdb, SCSI_READ_10, 0, 1, 0);
	tt_run(&e, e.n1, &r1, 0, cdb, 10, TGT_DIR_READ, rb, 512);
	assert_int_equal(rb[0], 'B');
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_write_verify_sync_prefetch),
		cmocka_unit_test(test_write_same),
		cmocka_unit_test(test_write_same_bounded),
		cmocka_unit_test(test_unmap_and_lba_status),
		cmocka_unit_test(test_compare_and_write),
		cmocka_unit_test(test_compare_and_write_bdev_limit),
		cmocka_unit_test(test_compare_and_write_serialized),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
