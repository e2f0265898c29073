/*
 * EXTENDED COPY (LID1), RECEIVE COPY RESULTS and the Third-party Copy VPD
 * page: copies within a LUN (overlapping too), between LUNs, between
 * targets (only where the initiator is logged in), every parameter-list
 * error with its exact sense and field pointer, the descriptor limits,
 * abort during a held backend I/O, and what RECEIVE COPY RESULTS reports.
 */
#include "tgt_test.h"

/* LUN 0: 64 MiB of 512-byte blocks (tt_setup); LUN 1: 4 MiB of 4096-byte
 * blocks; LUN 2: 1 MiB read-only. */
struct xenv {
	struct tt e;
	struct bdev *bd1, *bd2;
	struct tgt_lun *lun1, *lun2;
};

/* Clear n1's unit attentions on LUN lun. */
static void xenv_clear_ua(struct xenv *x, uint64_t lun)
{
	static const uint8_t tur[6];
	struct tt_res r;
	int i;

	for (i = 0; i < 16; i++)
		if (tt_run(&x->e, x->e.n1, &r, lun, tur, 6, TGT_DIR_NONE, NULL,
			   0) == SCSI_STATUS_GOOD)
			return;
	fail_msg("unit attentions do not clear");
}

static void xenv_setup(struct xenv *x)
{
	struct tgt_lun_params ro = { .read_only = true };

	tt_setup(&x->e);
	x->bd1 = bdev_mem_create("mem1", 4ull << 20, 4096, false);
	x->bd2 = bdev_mem_create("mem2", 1ull << 20, 512, false);
	x->lun1 = tgt_lun_create(x->bd1, NULL);
	x->lun2 = tgt_lun_create(x->bd2, &ro);
	assert_non_null(x->lun1);
	assert_non_null(x->lun2);
	assert_int_equal(tgt_target_add_lun(x->e.t, 1, x->lun1), 0);
	assert_int_equal(tgt_target_add_lun(x->e.t, 2, x->lun2), 0);
	tt_clear_ua(&x->e, x->e.n1);
	xenv_clear_ua(x, 1);
	xenv_clear_ua(x, 2);
}

static void xenv_teardown(struct xenv *x)
{
	tgt_lun_release(x->lun1);
	tgt_lun_release(x->lun2);
	bdev_release(x->bd1);
	bdev_release(x->bd2);
	tt_teardown(&x->e);
}

/* ---- Parameter list builder ---- */

struct xl {
	uint8_t b[8192];
	uint32_t n;
	uint32_t clen, slen;
};

static void xl_init(struct xl *l, uint8_t list_id, uint8_t usage)
{
	memset(l, 0, sizeof(*l));
	l->b[0] = list_id;
	l->b[1] = (uint8_t)(usage << 3);
	l->n = 16;
}

static void xl_cscd(struct xl *l, struct tgt_lun *lun)
{
	uint8_t *d = l->b + l->n;

	d[0] = 0xe4;			/* identification descriptor */
	d[1] = 0x00;			/* LU ID TYPE 0, type 0 (disk) */
	d[4] = 0x01;			/* code set binary */
	d[5] = 0x03;			/* association LU, type NAA */
	d[7] = 16;
	tgt_lun_naa_designator(lun, d + 8);
	d[29] = (uint8_t)(lun->lbsize >> 16);	/* DISK BLOCK LENGTH */
	scsi_put16(d + 30, (uint16_t)lun->lbsize);
	l->n += 32;
	l->clen += 32;
}

static void xl_seg(struct xl *l, uint16_t si, uint16_t di, uint16_t nblk,
		   uint64_t slba, uint64_t dlba)
{
	uint8_t *d = l->b + l->n;

	d[0] = 0x02;			/* block -> block */
	scsi_put16(d + 2, 0x18);
	scsi_put16(d + 4, si);
	scsi_put16(d + 6, di);
	scsi_put16(d + 10, nblk);
	scsi_put64(d + 12, slba);
	scsi_put64(d + 20, dlba);
	l->n += 28;
	l->slen += 28;
}

static void xl_done(struct xl *l)
{
	scsi_put16(l->b + 2, (uint16_t)l->clen);
	scsi_put32(l->b + 8, l->slen);
}

static uint8_t xcopy(struct tt *e, struct tgt_nexus *n, struct tt_res *r,
		     uint64_t lun, uint8_t *list, uint32_t len)
{
	uint8_t cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_EXTENDED_COPY;
	scsi_put32(cdb + 10, len);
	return tt_run(e, n, r, lun, cdb, 16, TGT_DIR_WRITE, list, len);
}

static uint8_t rcr(struct tt *e, struct tt_res *r, uint8_t sa,
		   uint8_t list_id, uint8_t *buf, uint32_t len)
{
	uint8_t cdb[16];

	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_RECEIVE_COPY_RESULTS;
	cdb[1] = sa;
	cdb[2] = list_id;
	scsi_put32(cdb + 10, len);
	return tt_run(e, e->n1, r, 0, cdb, 16, TGT_DIR_READ, buf, len);
}

static void rw(struct tt *e, uint64_t lun, uint8_t op, uint64_t lba,
	       uint32_t nlb, uint8_t *buf, uint32_t len)
{
	struct tt_res r;
	uint8_t cdb[16];

	cdb_rw16(cdb, op, lba, nlb, 0);
	tt_run(e, e->n1, &r, lun, cdb, 16,
	       op == SCSI_READ_16 ? TGT_DIR_READ : TGT_DIR_WRITE, buf, len);
	tt_expect_good(&r);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7 + (i >> 9));
}

/* ---- Copies that work ---- */

static void test_copy_within_and_between(void **state)
{
	struct xenv x;
	struct tt_res r;
	struct xl l;
	uint8_t *a = malloc(1 << 20), *b = malloc(1 << 20);

	(void)state;
	xenv_setup(&x);
	/* 3 MiB + 1 block within LUN 0: several chunks. */
	{
		uint8_t *big = malloc((3u << 20) + 512);
		uint8_t *got = malloc((3u << 20) + 512);
		uint32_t nb = 6145;

		fill(big, (size_t)nb * 512, 1);
		rw(&x.e, 0, SCSI_WRITE_16, 0, nb, big, nb * 512);
		xl_init(&l, 1, 0);
		xl_cscd(&l, x.e.lun);
		xl_seg(&l, 0, 0, (uint16_t)nb, 0, 20000);
		xl_done(&l);
		xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
		tt_expect_good(&r);
		rw(&x.e, 0, SCSI_READ_16, 20000, nb, got, nb * 512);
		assert_memory_equal(big, got, (size_t)nb * 512);
		free(big);
		free(got);
	}
	/* LUN 0 (512) -> LUN 1 (4096): 16 source blocks = 2 destination
	 * blocks; sent to LUN 1 as copy manager. */
	fill(a, 8192, 9);
	rw(&x.e, 0, SCSI_WRITE_16, 100, 16, a, 8192);
	xl_init(&l, 2, 0);
	xl_cscd(&l, x.e.lun);
	xl_cscd(&l, x.lun1);
	xl_seg(&l, 0, 1, 16, 100, 5);
	xl_done(&l);
	xcopy(&x.e, x.e.n1, &r, 1, l.b, l.n);
	tt_expect_good(&r);
	rw(&x.e, 1, SCSI_READ_16, 5, 2, b, 8192);
	assert_memory_equal(a, b, 8192);
	/* DC = 1: the count is in destination blocks (1 x 4096 back). */
	xl_init(&l, 3, 0);
	xl_cscd(&l, x.lun1);
	xl_cscd(&l, x.e.lun);
	xl_seg(&l, 0, 1, 1, 5, 300);
	l.b[16 + 64 + 1] = 0x02;	/* DC */
	xl_done(&l);
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_sks(&r, SCSI_SK_COPY_ABORTED, SCSI_ASC(0x26, 0x0a),
		      16 + 64 + 10);	/* 1 x 512 bytes: not a 4096 block */
	l.b[16 + 64 + 1] = 0x00;	/* DC 0: 1 source block of 4096 */
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_good(&r);
	rw(&x.e, 0, SCSI_READ_16, 300, 8, b, 4096);
	assert_memory_equal(a, b, 4096);

	/* Overlapping, destination above the source: copied from the end
	 * down, so the result is the original data moved. */
	fill(a, 1 << 20, 3);
	rw(&x.e, 0, SCSI_WRITE_16, 40000, 2048, a, 1 << 20);
	xl_init(&l, 4, 3);
	xl_cscd(&l, x.e.lun);
	xl_seg(&l, 0, 0, 2048 + 1024, 40000 - 1024, 40000 + 512);
	xl_done(&l);
	/* Source starts 1024 blocks lower: put known data there too. */
	rw(&x.e, 0, SCSI_WRITE_16, 40000 - 1024, 1024, b, 512 * 1024);
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_good(&r);
	{
		uint8_t *got = malloc(1 << 20);

		rw(&x.e, 0, SCSI_READ_16, 40000 + 512 + 1024, 2048, got,
		   1 << 20);
		assert_memory_equal(a, got, 1 << 20);
		free(got);
	}
	free(a);
	free(b);
	xenv_teardown(&x);
}

/* ---- Every parameter list error ---- */

struct patch {
	uint16_t off;
	uint8_t len;	/* 1, 2 or 8 bytes, big-endian */
	uint64_t val;
};

static const struct xcase {
	const char *what;
	uint32_t plen;		/* 0: the list's length */
	struct patch p[3];
	uint8_t key;
	uint16_t asc;
	int ptr;		/* SKS field pointer, -1: no SKS expected */
} xcases[] = {
	/* Base list: header, CSCD 0 = LUN 0 at 16, CSCD 1 = LUN 1 at 48,
	 * segment at 80: LUN 0 blocks 0..7 -> LUN 0 block 100. */
	{ "list shorter than the header", 8, { { 0 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, -1 },
	{ "CSCD list beyond the parameter list", 0, { { 2, 2, 128 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, -1 },
	{ "segment list beyond the parameter list", 105, { { 0 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, -1 },
	{ "descriptor lists above the maximum", 0, { { 10, 2, 4096 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR, -1 },
	{ "LIST ID USAGE 01b", 0, { { 1, 1, 0x08 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
	  1 },
	{ "reserved header bit", 0, { { 1, 1, 0x40 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
	  1 },
	{ "inline data", 0, { { 15, 1, 4 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
	  12 },
	{ "FC N_Port_Name CSCD", 0, { { 16, 1, 0xe0 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x26, 0x07), 16 },
	{ "unknown CSCD type", 0, { { 48, 1, 0x05 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x26, 0x07), 48 },
	{ "stream segment descriptor", 0, { { 80, 1, 0x03 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x26, 0x09), 80 },
	{ "byte-offset segment descriptor", 0, { { 80, 1, 0x0a } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x26, 0x09), 80 },
	{ "segment descriptor length", 0, { { 82, 2, 0x14 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
	  82 },
	{ "segment reserved bit", 0, { { 81, 1, 0x04 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
	  81 },
	{ "source CSCD index beyond the list", 0, { { 84, 2, 2 } },
	  SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x02), 84 },
	{ "destination CSCD index beyond the list", 0, { { 86, 2, 7 } },
	  SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x02), 86 },
	{ "unknown NAA designator", 0, { { 24, 1, 0x00 } },
	  SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x02), 84 },
	{ "not an NAA designator", 0, { { 21, 1, 0x01 } },
	  SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x02), 84 },
	{ "CSCD of a tape", 0, { { 17, 1, 0x01 } },
	  SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x03), 17 },
	{ "wrong DISK BLOCK LENGTH", 0, { { 46, 2, 4096 } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
	  45 },
	{ "inexact segment (512 bytes to a 4096-byte LUN)", 0,
	  { { 86, 2, 1 }, { 90, 2, 1 } },
	  SCSI_SK_COPY_ABORTED, SCSI_ASC(0x26, 0x0a), 90 },
	{ "segment above MAXIMUM SEGMENT LENGTH", 0,
	  { { 84, 2, 1 }, { 86, 2, 1 }, { 90, 2, 0xffff } },
	  SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
	  90 },
	{ "source beyond the end of the LUN", 0, { { 92, 8, 131070 } },
	  SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x02), 92 },
	{ "destination beyond the end of the LUN", 0,
	  { { 100, 8, 131069 } },
	  SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x02), 100 },
	{ "LBA at 2^64 - 1", 0, { { 100, 8, UINT64_MAX } },
	  SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x02), 100 },
};

static void put_be(uint8_t *p, unsigned len, uint64_t v)
{
	while (len-- > 0) {
		p[len] = (uint8_t)v;
		v >>= 8;
	}
}

static void test_param_errors(void **state)
{
	struct xenv x;
	struct tt_res r;
	struct xl l;
	unsigned i, j;

	(void)state;
	xenv_setup(&x);
	for (i = 0; i < sizeof(xcases) / sizeof(xcases[0]); i++) {
		const struct xcase *k = &xcases[i];

		xl_init(&l, 7, 0);
		xl_cscd(&l, x.e.lun);
		xl_cscd(&l, x.lun1);
		xl_seg(&l, 0, 0, 8, 0, 100);
		xl_done(&l);
		for (j = 0; j < 3 && k->p[j].len != 0; j++)
			put_be(l.b + k->p[j].off, k->p[j].len, k->p[j].val);
		xcopy(&x.e, x.e.n1, &r, 0, l.b, k->plen ? k->plen : l.n);
		print_message("case %u: %s\n", i, k->what);
		if (k->ptr < 0)
			tt_expect_sense(&r, k->key, k->asc);
		else
			tt_expect_sks(&r, k->key, k->asc, (unsigned)k->ptr);
	}
	/* A read-only destination. */
	xl_init(&l, 8, 0);
	xl_cscd(&l, x.e.lun);
	xl_cscd(&l, x.lun2);
	xl_seg(&l, 0, 1, 8, 0, 0);
	xl_done(&l);
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_sks(&r, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED,
		      16 + 64 + 6);
	/* A zero-length parameter list is not an error. */
	xcopy(&x.e, x.e.n1, &r, 0, l.b, 0);
	tt_expect_good(&r);
	/* Fewer bytes sent than the CDB describes. */
	{
		uint8_t cdb[16];

		memset(cdb, 0, sizeof(cdb));
		cdb[0] = SCSI_EXTENDED_COPY;
		scsi_put32(cdb + 10, l.n + 16);
		tt_run(&x.e, x.e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, l.b, l.n);
		tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
		/* LID4 and the token service actions are not supported. */
		cdb[1] = 0x01;
		tt_run(&x.e, x.e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, l.b, l.n);
		tt_expect_field(&r, true, 1, 4);
		cdb[1] = 0x10;
		tt_run(&x.e, x.e.n1, &r, 0, cdb, 16, TGT_DIR_WRITE, l.b, l.n);
		tt_expect_field(&r, true, 1, 4);
	}
	xenv_teardown(&x);
}

static void test_limits(void **state)
{
	struct xenv x;
	struct tt_res r;
	struct xl l;
	unsigned i;

	(void)state;
	xenv_setup(&x);
	/* One CSCD more than MAXIMUM CSCD DESCRIPTOR COUNT. */
	xl_init(&l, 1, 0);
	for (i = 0; i <= TGT_XCOPY_MAX_CSCD; i++)
		xl_cscd(&l, x.e.lun);
	xl_seg(&l, 0, 0, 8, 0, 100);
	xl_done(&l);
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_sks(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x26, 0x06), 2);
	/* One segment more than MAXIMUM SEGMENT DESCRIPTOR COUNT. */
	xl_init(&l, 2, 0);
	xl_cscd(&l, x.e.lun);
	for (i = 0; i <= TGT_XCOPY_MAX_SEGS; i++)
		xl_seg(&l, 0, 0, 8, 0, 100);
	xl_done(&l);
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_sks(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x26, 0x08), 8);
	/* Exactly the maxima: fine. */
	xl_init(&l, 3, 0);
	for (i = 0; i < TGT_XCOPY_MAX_CSCD; i++)
		xl_cscd(&l, x.e.lun);
	for (i = 0; i < TGT_XCOPY_MAX_SEGS; i++)
		xl_seg(&l, (uint16_t)(i % TGT_XCOPY_MAX_CSCD), 0, 8, i * 8,
		       1000 + i * 8);
	xl_done(&l);
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_good(&r);
	xenv_teardown(&x);
}

/* ---- Reachability: other targets ---- */

static void test_other_target(void **state)
{
	struct xenv x;
	struct tt_res r;
	struct xl l;
	struct tgt_target *t2 = tgt_target_create("iqn.2026-11.org.scsikit:t2");
	struct bdev *bd = bdev_mem_create("memt2", 1 << 20, 512, false);
	struct tgt_lun *lun = tgt_lun_create(bd, NULL);
	struct tgt_nexus *n;
	uint8_t a[4096], b[4096];

	(void)state;
	xenv_setup(&x);
	assert_int_equal(tgt_target_add_lun(t2, 0, lun), 0);
	fill(a, sizeof(a), 5);
	rw(&x.e, 0, SCSI_WRITE_16, 0, 8, a, sizeof(a));
	xl_init(&l, 1, 0);
	xl_cscd(&l, x.e.lun);
	xl_cscd(&l, lun);
	xl_seg(&l, 0, 1, 8, 0, 16);
	xl_done(&l);
	/* The initiator is not logged in to t2: not reachable. */
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_sks(&r, SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x02), 86);
	/* Another initiator logged in there does not make it reachable. */
	n = tgt_nexus_create(t2, "iqn.test:init2,i,0x000000000009");
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_sks(&r, SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x02), 86);
	tgt_nexus_destroy(n);
	/* The same initiator (another session) is: the copy runs. */
	n = tgt_nexus_create(t2, "iqn.test:init1,i,0x000000000042");
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_good(&r);
	assert_int_equal(bdev_read_sync(bd, b, 16 * 512, sizeof(b)), 0);
	assert_memory_equal(a, b, sizeof(b));
	tgt_nexus_destroy(n);
	tgt_target_release(t2);
	tgt_lun_release(lun);
	bdev_release(bd);
	xenv_teardown(&x);
}

/* ---- Abort ---- */

static void test_abort(void **state)
{
	struct tt e;
	struct tt_res r;
	struct bdev *fb = tt_setup_fault(&e, 8ull << 20);
	struct bdev_fault_rule rule = {
		.action = BDEV_FAULT_HOLD, .count = -1,
	};
	struct xl l;
	uint8_t out[16];
	uint64_t hits;

	(void)state;
	xl_init(&l, 5, 0);
	xl_cscd(&l, e.lun);
	xl_seg(&l, 0, 0, 8192, 0, 8192);	/* 4 MiB: four chunks */
	xl_done(&l);
	bdev_fault_set(fb, &rule);
	tt_submit(&e, e.n1, &r, 0, (const uint8_t[16]){ SCSI_EXTENDED_COPY,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)l.n },
		  16, TGT_DIR_WRITE, l.b, l.n);
	ev_loop_run_once(e.loop, 10);
	assert_int_equal(r.ndone, 0);
	hits = bdev_fault_hits(fb);
	assert_int_equal(hits, 1);		/* one chunk at a time */
	/* COPY STATUS while it runs: in progress, nothing copied yet. */
	{
		struct tt_res s;

		rcr(&e, &s, 0x00, 5, out, sizeof(out));
		tt_expect_good(&s);
		assert_int_equal(out[4], 0x00);
		assert_int_equal(scsi_get16(out + 5), 0);
		/* A second copy with the same list identifier. */
		xcopy(&e, e.n1, &s, 0, l.b, l.n);
		tt_expect_sks(&s, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x00, 0x16),
			      0);
	}
	tgt_task_abort(&r.task);
	bdev_fault_clear(fb);
	bdev_fault_release_held(fb);
	tt_wait(&e, &r);
	assert_true(r.task.aborted);
	assert_int_equal(r.task.status, SCSI_STATUS_TASK_ABORTED);
	/* Nothing was issued after the abort. */
	assert_int_equal(bdev_fault_hits(fb), hits);
	tt_teardown(&e);
}

/* ---- RECEIVE COPY RESULTS and VPD ---- */

static void test_receive_copy_results(void **state)
{
	struct xenv x;
	struct tt_res r;
	struct xl l;
	uint8_t out[256];
	struct scsi_sense s;

	(void)state;
	xenv_setup(&x);
	/* OPERATING PARAMETERS. */
	rcr(&x.e, &r, 0x03, 0, out, sizeof(out));
	tt_expect_good(&r);
	assert_int_equal(scsi_get32(out), 42);
	assert_int_equal(out[4] & 1, 1);			/* SNLID */
	assert_int_equal(scsi_get16(out + 8), TGT_XCOPY_MAX_CSCD);
	assert_int_equal(scsi_get16(out + 10), TGT_XCOPY_MAX_SEGS);
	assert_int_equal(scsi_get32(out + 12), TGT_XCOPY_MAX_DESC_LIST);
	assert_int_equal(scsi_get32(out + 16), TGT_XCOPY_MAX_SEG_BYTES);
	assert_int_equal(scsi_get32(out + 20), 0);		/* inline */
	assert_int_equal(out[37], 9);		/* 512-byte blocks of LUN 0 */
	assert_int_equal(out[43], 2);
	assert_int_equal(out[44], 0x02);
	assert_int_equal(out[45], 0xe4);
	/* Unknown list identifier. */
	rcr(&x.e, &r, 0x00, 9, out, sizeof(out));
	tt_expect_field(&r, true, 2, -1);
	rcr(&x.e, &r, 0x04, 9, out, sizeof(out));
	tt_expect_field(&r, true, 2, -1);
	/* Reserved service action. */
	rcr(&x.e, &r, 0x02, 9, out, sizeof(out));
	tt_expect_field(&r, true, 1, 4);

	/* A good copy: COPY STATUS once, then it is gone. */
	xl_init(&l, 9, 0);
	xl_cscd(&l, x.e.lun);
	xl_seg(&l, 0, 0, 8, 0, 100);
	xl_seg(&l, 0, 0, 8, 8, 108);
	xl_done(&l);
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_good(&r);
	rcr(&x.e, &r, 0x01, 9, out, sizeof(out));	/* RECEIVE DATA */
	tt_expect_good(&r);
	assert_int_equal(scsi_get32(out), 0);
	rcr(&x.e, &r, 0x00, 9, out, sizeof(out));
	tt_expect_good(&r);
	assert_int_equal(scsi_get32(out), 8);
	assert_int_equal(out[4], 0x01);			/* completed, good */
	assert_int_equal(scsi_get16(out + 5), 2);	/* segments */
	assert_int_equal(out[7], 0x00);			/* bytes */
	assert_int_equal(scsi_get32(out + 8), 16 * 512);
	rcr(&x.e, &r, 0x00, 9, out, sizeof(out));
	tt_expect_field(&r, true, 2, -1);
	/* Another nexus does not see this nexus's lists. */
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_clear_ua(&x.e, x.e.n2);
	{
		uint8_t cdb[16] = { SCSI_RECEIVE_COPY_RESULTS, 0, 9 };

		scsi_put32(cdb + 10, sizeof(out));
		tt_run(&x.e, x.e.n2, &r, 0, cdb, 16, TGT_DIR_READ, out,
		       sizeof(out));
		tt_expect_field(&r, true, 2, -1);
	}

	/* A failing second segment: COPY STATUS says error after one
	 * segment, FAILED SEGMENT DETAILS returns the sense. */
	xl_init(&l, 10, 0);
	xl_cscd(&l, x.e.lun);
	xl_seg(&l, 0, 0, 8, 0, 100);
	xl_seg(&l, 0, 0, 8, 0, 1ull << 40);
	xl_done(&l);
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_sks(&r, SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x02),
		      16 + 32 + 28 + 20);
	s = tt_sense(&r);
	/* Every segment is checked before any data moves: none was
	 * processed. */
	assert_int_equal(s.csi, 0);
	rcr(&x.e, &r, 0x00, 10, out, sizeof(out));
	tt_expect_good(&r);
	assert_int_equal(out[4], 0x02);		/* completed, error */
	rcr(&x.e, &r, 0x04, 10, out, sizeof(out));
	tt_expect_good(&r);
	assert_true(scsi_get16(out + 62) > 0);	/* SENSE DATA LENGTH */
	assert_int_equal(scsi_get32(out), 60 + scsi_get16(out + 62));
	assert_int_equal(scsi_sense_parse(out + 64, scsi_get16(out + 62),
					  &s), 0);
	assert_int_equal(s.key, SCSI_SK_COPY_ABORTED);
	rcr(&x.e, &r, 0x04, 10, out, sizeof(out));
	tt_expect_field(&r, true, 2, -1);

	/* LIST ID USAGE 11b keeps nothing. */
	xl_init(&l, 11, 3);
	xl_cscd(&l, x.e.lun);
	xl_seg(&l, 0, 0, 8, 0, 100);
	xl_done(&l);
	xcopy(&x.e, x.e.n1, &r, 0, l.b, l.n);
	tt_expect_good(&r);
	rcr(&x.e, &r, 0x00, 11, out, sizeof(out));
	tt_expect_field(&r, true, 2, -1);

	/* What is held for a nexus goes with it. */
	xl_init(&l, 12, 0);
	xl_cscd(&l, x.e.lun);
	xl_seg(&l, 0, 0, 8, 0, 100);
	xl_done(&l);
	xcopy(&x.e, x.e.n2, &r, 0, l.b, l.n);
	tt_expect_good(&r);
	{
		uint64_t id2 = x.e.n2->id;

		assert_int_equal(tgt_xcopy_held(x.e.lun, id2), 1);
		tgt_nexus_destroy(x.e.n2);
		x.e.n2 = NULL;
		assert_int_equal(tgt_xcopy_held(x.e.lun, id2), 0);
	}
	xenv_teardown(&x);
}

static void test_vpd_and_inquiry(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[6] = { SCSI_INQUIRY, 0, 0, 0, 255, 0 };
	uint8_t out[255];
	unsigned n, off, found = 0;

	(void)state;
	tt_setup(&e);
	tt_run(&e, e.n1, &r, 0, cdb, 6, TGT_DIR_READ, out, sizeof(out));
	tt_expect_good(&r);
	assert_int_equal(out[5] & 0x08, 0x08);		/* 3PC */
	cdb[1] = 1;
	tt_run(&e, e.n1, &r, 0, cdb, 6, TGT_DIR_READ, out, sizeof(out));
	tt_expect_good(&r);
	assert_non_null(memchr(out + 4, 0x8f, out[3]));
	cdb[2] = 0x8f;
	tt_run(&e, e.n1, &r, 0, cdb, 6, TGT_DIR_READ, out, sizeof(out));
	tt_expect_good(&r);
	assert_int_equal(out[1], 0x8f);
	n = 4 + scsi_get16(out + 2);
	/* Walk the descriptors: each a multiple of 4, the five LID1 ones. */
	for (off = 4; off < n; off += 4 + scsi_get16(out + off + 2)) {
		uint16_t type = scsi_get16(out + off);

		assert_int_equal(scsi_get16(out + off + 2) % 4, 0);
		if (type == 0x0001) {
			assert_int_equal(out[off + 5], SCSI_EXTENDED_COPY);
			assert_int_equal(out[off + 6], 1);
			assert_int_equal(out[off + 8],
					 SCSI_RECEIVE_COPY_RESULTS);
			assert_int_equal(out[off + 9], 4);
		}
		if (type == 0x0004)
			assert_int_equal(scsi_get16(out + off + 8),
					 TGT_XCOPY_MAX_CSCD);
		found |= type == 0x0001 ? 1u : type == 0x0004 ? 2u :
			 type == 0x0008 ? 4u : type == 0x000c ? 8u :
			 type == 0x8001 ? 16u : 0u;
	}
	assert_int_equal(off, n);
	assert_int_equal(found, 31);
	tt_teardown(&e);
}

/* Random parameter lists: valid ones with random bytes changed and random
 * lengths, on a small LUN.  Every command completes once, with GOOD or
 * CHECK CONDITION, and nothing is left allocated (run under ASan too). */
static uint64_t xrng = 0x243f6a8885a308d3ull;

static uint32_t xrnd(uint32_t n)
{
	xrng ^= xrng >> 12;
	xrng ^= xrng << 25;
	xrng ^= xrng >> 27;
	return (uint32_t)((xrng * 0x2545f4914f6cdd1dull) >> 33) % n;
}

static void test_random_lists(void **state)
{
	struct tt e;
	struct tt_res r;
	struct xl l;
	unsigned i, j, good = 0, checks = 0;

	(void)state;
	tt_setup_bdev(&e, bdev_mem_create("memr", 2u << 20, 512, false),
		      NULL);
	tt_clear_ua(&e, e.n1);
	for (i = 0; i < 3000; i++) {
		unsigned nc = 1 + xrnd(3), ns = 1 + xrnd(4), flips = xrnd(6);
		uint32_t len;

		xl_init(&l, (uint8_t)xrnd(4), (uint8_t)(xrnd(4) & 2));
		for (j = 0; j < nc; j++)
			xl_cscd(&l, e.lun);
		for (j = 0; j < ns; j++)
			xl_seg(&l, (uint16_t)xrnd(nc + 1), (uint16_t)xrnd(nc),
			       (uint16_t)xrnd(600), xrnd(4200), xrnd(4200));
		xl_done(&l);
		for (j = 0; j < flips; j++)
			l.b[xrnd(l.n)] ^= (uint8_t)(1u << xrnd(8));
		len = xrnd(8) == 0 ? xrnd(l.n + 64) : l.n;
		xcopy(&e, e.n1, &r, 0, l.b, len);
		if (r.task.status == SCSI_STATUS_GOOD)
			good++;
		else if (r.task.status == SCSI_STATUS_CHECK_CONDITION)
			checks++;
		else
			fail_msg("status %02x", r.task.status);
	}
	print_message("random lists: %u GOOD, %u CHECK CONDITION\n", good,
		      checks);
	assert_true(good > 0 && checks > 0);
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_within_and_between),
		cmocka_unit_test(test_param_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_other_target),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_receive_copy_results),
		cmocka_unit_test(test_vpd_and_inquiry),
		cmocka_unit_test(test_random_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
