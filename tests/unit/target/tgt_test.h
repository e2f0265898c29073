/*
 * Helpers for the target engine's unit tests: an environment (loop, bdev,
 * LUN, target, two nexuses), a synchronous "run this CDB" that submits a
 * task and runs the loop until its completion, sense checks, and a small
 * test backend ("tbdev") whose geometry the test chooses (a tiny max
 * transfer to force split I/O, discard on or off) and which counts the
 * I/Os it sees.
 *
 * Header-only (static functions) so that each test file stays one
 * executable; include it once per test file.
 */
#ifndef SK_TGT_TEST_H
#define SK_TGT_TEST_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/scsi.h>
#include <scsikit/target.h>

#include "target/tgt_int.h"

/* ---- tbdev: a memory backend with a chosen geometry ---- */

struct tbdev {
	uint8_t *data;
	uint64_t size;
	unsigned ops[BDEV_IO_TYPE_COUNT];
	uint64_t max_len;	/* largest READ/WRITE seen */
	unsigned fua_writes;
};

static int tbdev_submit(struct bdev *bd, struct bdev_io *io)
{
	struct tbdev *t = bdev_priv(bd);
	uint64_t off = io->offset, done = 0;
	int i;

	t->ops[io->type]++;
	if ((io->type == BDEV_IO_READ || io->type == BDEV_IO_WRITE) &&
	    io->length > t->max_len)
		t->max_len = io->length;
	switch (io->type) {
	case BDEV_IO_READ:
	case BDEV_IO_WRITE:
		if (io->type == BDEV_IO_WRITE && (io->flags & BDEV_IO_FUA))
			t->fua_writes++;
		for (i = 0; i < io->iovcnt; i++) {
			uint8_t *p = t->data + off + done;

			if (io->type == BDEV_IO_READ)
				memcpy(io->iov[i].iov_base, p,
				       io->iov[i].iov_len);
			else
				memcpy(p, io->iov[i].iov_base,
				       io->iov[i].iov_len);
			done += io->iov[i].iov_len;
		}
		break;
	case BDEV_IO_DISCARD:
	case BDEV_IO_WRITE_ZEROES:
		memset(t->data + off, 0, io->length);
		break;
	default:
		break;
	}
	bdev_io_complete_deferred(io, 0);
	return 0;
}

static void tbdev_destroy(struct bdev *bd)
{
	struct tbdev *t = bdev_priv(bd);

	free(t->data);
	free(t);
}

static const struct bdev_ops tbdev_ops = {
	.name = "tbdev",
	.submit = tbdev_submit,
	.destroy = tbdev_destroy,
};

/* A tbdev of geometry geo (no COMPARE_WRITE of its own: a geo offering
 * one is for tests that the engine refuses what the bdev cannot take). */
static inline struct bdev *tbdev_create_geo(const struct bdev_geometry *geo)
{
	struct tbdev *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->data = calloc(1, geo->size);
	assert_non_null(t->data);
	t->size = geo->size;
	return bdev_alloc(&tbdev_ops, "tbdev", geo, t);
}

static inline struct bdev *tbdev_create(uint64_t size, uint32_t lbsize,
					uint32_t max_xfer, bool discard)
{
	struct bdev_geometry geo = {
		.size = size,
		.lbsize = lbsize,
		.pbsize = lbsize,
		.opt_xfer = 0,
		.max_xfer = max_xfer,
		.can_discard = discard,
		.can_write_zeroes = discard,
		.discard_zeroes = discard,
	};

	return tbdev_create_geo(&geo);
}

static inline struct tbdev *tbdev_of(struct bdev *bd)
{
	return bdev_priv(bd);
}

/* ---- The environment ---- */

struct tt {
	struct ev_loop *loop;
	struct bdev *bd;	/* what the LUN sits on */
	struct bdev *inner;	/* under a fault bdev, else NULL */
	struct tgt_lun *lun;
	struct tgt_target *t;
	struct tgt_nexus *n1, *n2;
};

struct tt_res {
	struct tgt_task task;
	struct iovec iov;
	int ndone;
};

static void tt_task_done(struct tgt_task *task, void *arg)
{
	struct tt_res *r = arg;

	(void)task;
	r->ndone++;
}

/* LUN 0 on bd (consumed: the environment owns the reference). */
static inline void tt_setup_bdev(struct tt *e, struct bdev *bd,
				 const struct tgt_lun_params *p)
{
	memset(e, 0, sizeof(*e));
	e->loop = ev_loop_create();
	assert_non_null(e->loop);
	e->bd = bd;
	assert_non_null(e->bd);
	e->lun = tgt_lun_create(e->bd, p);
	assert_non_null(e->lun);
	e->t = tgt_target_create("iqn.2026-11.org.scsikit:test");
	assert_non_null(e->t);
	assert_int_equal(tgt_target_add_lun(e->t, 0, e->lun), 0);
	e->n1 = tgt_nexus_create(e->t, "iqn.test:init1,i,0x000000000001");
	e->n2 = tgt_nexus_create(e->t, "iqn.test:init2,i,0x000000000002");
	assert_non_null(e->n1);
	assert_non_null(e->n2);
}

static inline void tt_setup(struct tt *e)
{
	tt_setup_bdev(e, bdev_mem_create("mem0", 64ull << 20, 512, false),
		      NULL);
}

static inline void tt_clear_ua(struct tt *e, struct tgt_nexus *n);

/* LUN 0 on a fault bdev around a size-byte mem bdev, unit attentions of n1
 * cleared; returns the fault bdev (owned by the environment). */
static inline struct bdev *tt_setup_fault(struct tt *e, uint64_t size)
{
	struct bdev *inner = bdev_mem_create("faultmem", size, 512, false);
	struct bdev *fb = bdev_fault_create("fault", inner);

	assert_non_null(fb);
	tt_setup_bdev(e, fb, NULL);
	e->inner = inner;
	tt_clear_ua(e, e->n1);
	return fb;
}

static inline void tt_teardown(struct tt *e)
{
	struct tgt_lun_stats st;

	/* Nothing may be left in flight or allocated. */
	tgt_lun_get_stats(e->lun, &st);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(atomic_load(&tgt_cmds_live), 0);
	if (e->n1 != NULL)
		tgt_nexus_destroy(e->n1);
	if (e->n2 != NULL)
		tgt_nexus_destroy(e->n2);
	tgt_target_release(e->t);
	tgt_lun_release(e->lun);
	bdev_release(e->bd);
	if (e->inner != NULL)
		bdev_release(e->inner);
	/* Let deferred bdev releases run. */
	while (ev_loop_run_once(e->loop, 0) > 0)
		;
	ev_loop_destroy(e->loop);
	assert_int_equal(atomic_load(&tgt_cmds_live), 0);
}

/* Submit without waiting. */
static inline void tt_submit(struct tt *e, struct tgt_nexus *n,
			     struct tt_res *r, uint64_t lun,
			     const uint8_t *cdb, unsigned cdb_len,
			     enum tgt_dir dir, void *buf, uint32_t len)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->task.cdb, cdb, cdb_len);
	r->task.cdb_len = 16 > cdb_len ? 16 : (uint8_t)cdb_len;
	r->task.lun = lun;
	r->task.tag = 1;
	r->task.dir = dir;
	r->task.data_len = len;
	r->iov.iov_base = buf;
	r->iov.iov_len = len;
	r->task.iov = len > 0 ? &r->iov : NULL;
	r->task.iovcnt = len > 0 ? 1 : 0;
	r->task.loop = e->loop;
	r->task.done = tt_task_done;
	r->task.done_arg = r;
	assert_int_equal(tgt_task_submit(n, &r->task), 0);
	/* The contract: done never runs inside submit. */
	assert_int_equal(r->ndone, 0);
}

static inline void tt_wait(struct tt *e, struct tt_res *r)
{
	uint64_t end = ev_now_ms() + 10000;

	while (r->ndone == 0 && ev_now_ms() < end)
		ev_loop_run_once(e->loop, 10);
	assert_int_equal(r->ndone, 1);
	/* Exactly once. */
	ev_loop_run_once(e->loop, 0);
	assert_int_equal(r->ndone, 1);
}

/* Run a CDB to completion; returns the status. */
static inline uint8_t tt_run(struct tt *e, struct tgt_nexus *n,
			     struct tt_res *r, uint64_t lun,
			     const uint8_t *cdb, unsigned cdb_len,
			     enum tgt_dir dir, void *buf, uint32_t len)
{
	tt_submit(e, n, r, lun, cdb, cdb_len, dir, buf, len);
	tt_wait(e, r);
	return r->task.status;
}

static inline struct scsi_sense tt_sense(const struct tt_res *r)
{
	struct scsi_sense s;

	memset(&s, 0, sizeof(s));
	assert_int_equal(r->task.status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(scsi_sense_parse(r->task.sense, r->task.sense_len,
					  &s), 0);
	return s;
}

static inline void tt_expect_sense(const struct tt_res *r, uint8_t key,
				   uint16_t asc)
{
	struct scsi_sense s = tt_sense(r);

	if (s.key != key || s.asc_ascq != asc)
		fail_msg("cdb %02x: sense %x/%04x, expected %x/%04x",
			 r->task.cdb[0], s.key, s.asc_ascq, key, asc);
}

/* INVALID FIELD IN CDB with the field pointer at byte/bit (bit < 0: any). */
static inline void tt_expect_field(const struct tt_res *r, bool cdb,
				   unsigned byte, int bit)
{
	struct scsi_sense s = tt_sense(r);

	assert_int_equal(s.key, SCSI_SK_ILLEGAL_REQUEST);
	assert_int_equal(s.asc_ascq, cdb ? SCSI_ASC_INVALID_FIELD_IN_CDB :
				     SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	assert_true(s.sks_valid);
	assert_true(s.sks[0] & 0x80);			/* SKSV */
	assert_int_equal(!!(s.sks[0] & 0x40), cdb);	/* C/D */
	assert_int_equal(scsi_get16(s.sks + 1), byte);	/* FIELD POINTER */
	if (bit >= 0) {
		assert_true(s.sks[0] & 0x08);		/* BPV */
		assert_int_equal(s.sks[0] & 0x07, bit);
	}
}

/* key/asc with a sense-key-specific field pointer (bytes 1-2 of the SKS,
 * any of its formats: field pointer or COPY ABORTED segment pointer) at
 * byte. */
static inline void tt_expect_sks(const struct tt_res *r, uint8_t key,
				 uint16_t asc, unsigned byte)
{
	struct scsi_sense s = tt_sense(r);

	if (s.key != key || s.asc_ascq != asc)
		fail_msg("cdb %02x: sense %x/%04x, expected %x/%04x",
			 r->task.cdb[0], s.key, s.asc_ascq, key, asc);
	assert_true(s.sks_valid);
	assert_true(s.sks[0] & 0x80);			/* SKSV */
	assert_int_equal(scsi_get16(s.sks + 1), byte);
}

static inline void tt_expect_good(const struct tt_res *r)
{
	if (r->task.status != SCSI_STATUS_GOOD) {
		struct scsi_sense s;

		memset(&s, 0, sizeof(s));
		scsi_sense_parse(r->task.sense, r->task.sense_len, &s);
		fail_msg("cdb %02x: status %02x sense %x/%04x",
			 r->task.cdb[0], r->task.status, s.key, s.asc_ascq);
	}
}

/* Clear the power-on unit attention of n on LUN 0 with a TUR. */
static inline void tt_clear_ua(struct tt *e, struct tgt_nexus *n)
{
	static const uint8_t tur[6];
	struct tt_res r;
	int i;

	for (i = 0; i < 16; i++)
		if (tt_run(e, n, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0) ==
		    SCSI_STATUS_GOOD)
			return;
	fail_msg("unit attentions do not clear");
}

/* WRITE(10) of one zeroed block at LBA 1 through n; returns the status. */
static inline uint8_t tt_wr1(struct tt *e, struct tgt_nexus *n,
			     struct tt_res *r)
{
	uint8_t cdb[10] = { SCSI_WRITE_10, 0, 0, 0, 0, 1, 0, 0, 1, 0 };
	static uint8_t buf[512];

	return tt_run(e, n, r, 0, cdb, 10, TGT_DIR_WRITE, buf, 512);
}

/* PERSISTENT RESERVE OUT with a 24-byte parameter list (flags: byte 20,
 * SPEC_I_PT / ALL_TG_PT / APTPL); returns the status. */
static inline uint8_t tt_prout(struct tt *e, struct tgt_nexus *n,
			       struct tt_res *r, uint8_t sa, uint8_t type,
			       uint64_t rk, uint64_t sark, uint8_t flags)
{
	uint8_t cdb[10] = { SCSI_PERSISTENT_RESERVE_OUT, sa, type };
	static uint8_t p[24];

	memset(p, 0, sizeof(p));
	scsi_put64(p, rk);
	scsi_put64(p + 8, sark);
	p[20] = flags;
	scsi_put32(cdb + 5, 24);
	return tt_run(e, n, r, 0, cdb, 10, TGT_DIR_WRITE, p, 24);
}

/* CDB builders. */
static inline void cdb_rw10(uint8_t *c, uint8_t op, uint32_t lba,
			    uint16_t nlb, uint8_t flags)
{
	memset(c, 0, 16);
	c[0] = op;
	c[1] = flags;
	scsi_put32(c + 2, lba);
	scsi_put16(c + 7, nlb);
}

static inline void cdb_rw16(uint8_t *c, uint8_t op, uint64_t lba,
			    uint32_t nlb, uint8_t flags)
{
	memset(c, 0, 16);
	c[0] = op;
	c[1] = flags;
	scsi_put64(c + 2, lba);
	scsi_put32(c + 10, nlb);
}

static inline void cdb_rw12(uint8_t *c, uint8_t op, uint32_t lba,
			    uint32_t nlb, uint8_t flags)
{
	memset(c, 0, 16);
	c[0] = op;
	c[1] = flags;
	scsi_put32(c + 2, lba);
	scsi_put32(c + 6, nlb);
}

static inline void cdb_rw6(uint8_t *c, uint8_t op, uint32_t lba, uint8_t nlb)
{
	memset(c, 0, 16);
	c[0] = op;
	c[1] = (uint8_t)((lba >> 16) & 0x1f);
	scsi_put16(c + 2, (uint16_t)lba);
	c[4] = nlb;
}

#endif
