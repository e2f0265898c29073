/*
 * Target engine core: unit attentions across two nexuses, unmapped LUNs,
 * unknown opcodes, generic reserved-bit checks with field pointers, REPORT
 * LUNS, REQUEST SENSE, SPC-2 reservations across two nexuses, task
 * management, aborts during backend I/O (fault bdev HOLD), statistics.
 */
#include "tgt_test.h"

static const uint8_t cdb_tur[6];

static void test_power_on_ua_once(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t inq[6] = { SCSI_INQUIRY, 0, 0, 0, 96, 0 };
	uint8_t buf[96];

	(void)state;
	tt_setup(&e);
	/* INQUIRY does not report (or clear) the UA. */
	assert_int_equal(tt_run(&e, e.n1, &r, 0, inq, 6, TGT_DIR_READ, buf,
				sizeof(buf)), SCSI_STATUS_GOOD);
	/* The first other command does, once. */
	tt_run(&e, e.n1, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_RESET);
	tt_run(&e, e.n1, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	/* The other nexus still has its own. */
	tt_run(&e, e.n2, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_RESET);
	tt_teardown(&e);
}

static void test_request_sense_ua(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t rs[6] = { SCSI_REQUEST_SENSE, 0, 0, 0, 252, 0 };
	uint8_t buf[252];
	struct scsi_sense s;

	(void)state;
	tt_setup(&e);
	/* REQUEST SENSE returns the pending UA and clears it. */
	tt_run(&e, e.n1, &r, 0, rs, 6, TGT_DIR_READ, buf, sizeof(buf));
	tt_expect_good(&r);
	assert_int_equal(buf[0] & 0x7f, 0x70);
	assert_int_equal(scsi_sense_parse(buf, r.task.xfer_done, &s), 0);
	assert_int_equal(s.key, SCSI_SK_UNIT_ATTENTION);
	assert_int_equal(s.asc_ascq, SCSI_ASC_POWER_ON_RESET);
	/* Then NO SENSE, in descriptor format when DESC=1. */
	rs[1] = 1;
	tt_run(&e, e.n1, &r, 0, rs, 6, TGT_DIR_READ, buf, sizeof(buf));
	tt_expect_good(&r);
	assert_int_equal(buf[0] & 0x7f, 0x72);
	assert_int_equal(scsi_sense_parse(buf, r.task.xfer_done, &s), 0);
	assert_int_equal(s.key, SCSI_SK_NO_SENSE);
	assert_int_equal(s.asc_ascq, 0);
	/* Unmapped LUN: GOOD with LUN NOT SUPPORTED sense data. */
	rs[1] = 0;
	tt_run(&e, e.n1, &r, 7, rs, 6, TGT_DIR_READ, buf, sizeof(buf));
	tt_expect_good(&r);
	assert_int_equal(scsi_sense_parse(buf, r.task.xfer_done, &s), 0);
	assert_int_equal(s.asc_ascq, SCSI_ASC_LUN_NOT_SUPPORTED);
	tt_teardown(&e);
}

static void test_unmapped_lun(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t inq[6] = { SCSI_INQUIRY, 0, 0, 0, 96, 0 };
	uint8_t buf[96];
	uint8_t rd[16];

	(void)state;
	tt_setup(&e);
	tt_run(&e, e.n1, &r, 3, inq, 6, TGT_DIR_READ, buf, sizeof(buf));
	tt_expect_good(&r);
	assert_int_equal(buf[0], 0x7f);	/* qualifier 3, type 1Fh */
	cdb_rw10(rd, SCSI_READ_10, 0, 1, 0);
	tt_run(&e, e.n1, &r, 3, rd, 10, TGT_DIR_READ, buf, 512 > sizeof(buf) ?
	       sizeof(buf) : 512);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
	tt_run(&e, e.n1, &r, 300, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LUN_NOT_SUPPORTED);
	tt_teardown(&e);
}

/* One row per CDB with a reserved bit set: where the pointer must land. */
static const struct {
	uint8_t cdb[16];
	unsigned len;
	unsigned byte;
	int bit;
} reserved_cases[] = {
	{ { SCSI_TEST_UNIT_READY, 0x01 }, 6, 1, 0 },
	{ { SCSI_TEST_UNIT_READY, 0, 0, 0, 0, 0x04 }, 6, 5, 2 }, /* NACA */
	{ { SCSI_INQUIRY, 0x02, 0, 0, 36 }, 6, 1, 1 },		/* CMDDT */
	{ { SCSI_READ_10, 0x20, 0, 0, 0, 0, 0, 0, 1 }, 10, 1, 5 }, /* RDPROT */
	{ { SCSI_READ_10, 0, 0, 0, 0, 0, 0x20, 0, 1 }, 10, 6, 5 },
	{ { SCSI_WRITE_16, 0x04 }, 16, 1, 2 },
	{ { SCSI_WRITE_SAME_10, 0x10, 0, 0, 0, 0, 0, 0, 1 }, 10, 1, 4 }, /* ANCHOR */
	{ { SCSI_REPORT_LUNS, 0x80, 0, 0, 0, 0, 0, 0, 0, 16 }, 12, 1, 7 },
	{ { SCSI_MODE_SENSE_6, 0x10, 0x3f, 0, 255 }, 6, 1, 4 },
	{ { SCSI_START_STOP_UNIT, 0, 0, 0, 0x08 }, 6, 4, 3 },	/* reserved */
	{ { SCSI_SYNCHRONIZE_CACHE_10, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 }, 10, 9, 0 },
};

static void test_reserved_bits(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t buf[512];
	size_t i;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	for (i = 0; i < sizeof(reserved_cases) / sizeof(reserved_cases[0]);
	     i++) {
		tt_run(&e, e.n1, &r, 0, reserved_cases[i].cdb,
		       reserved_cases[i].len, TGT_DIR_NONE, buf, sizeof(buf));
		tt_expect_field(&r, true, reserved_cases[i].byte,
				reserved_cases[i].bit);
	}
	tt_teardown(&e);
}

static void test_invalid_opcode_and_sa(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[16] = { 0xc5 };
	uint8_t buf[64];

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	tt_run(&e, e.n1, &r, 0, cdb, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_COMMAND_OPCODE);
	/* SERVICE ACTION IN(16) with an unknown service action. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_SERVICE_ACTION_IN_16;
	cdb[1] = 0x1f;
	tt_run(&e, e.n1, &r, 0, cdb, 16, TGT_DIR_READ, buf, sizeof(buf));
	tt_expect_field(&r, true, 1, 4);
	/* Commands answered as unsupported. */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_FORMAT_UNIT;
	tt_run(&e, e.n1, &r, 0, cdb, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_INVALID_COMMAND_OPCODE);
	tt_teardown(&e);
}

static void test_report_luns(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[12] = { SCSI_REPORT_LUNS };
	uint8_t buf[64];
	struct tgt_lun *l2;

	(void)state;
	tt_setup(&e);
	scsi_put32(cdb + 6, sizeof(buf));
	/* Works before the UA is cleared, and on an unmapped LUN. */
	tt_run(&e, e.n1, &r, 9, cdb, 12, TGT_DIR_READ, buf, sizeof(buf));
	tt_expect_good(&r);
	assert_int_equal(scsi_get32(buf), 8);
	assert_int_equal(buf[9], 0);
	assert_int_equal(r.task.resid_flags, TGT_RESID_UNDER);
	assert_int_equal(r.task.resid, sizeof(buf) - 16);
	tt_clear_ua(&e, e.n1);

	/* Map LUN 5: REPORTED LUNS DATA HAS CHANGED, cleared by REPORT LUNS. */
	l2 = tgt_lun_create(e.bd, NULL);
	assert_int_equal(tgt_target_add_lun(e.t, 5, l2), 0);
	assert_int_equal(tgt_target_add_lun(e.t, 5, l2), -EEXIST);
	tt_run(&e, e.n1, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_REPORTED_LUNS_DATA_CHANGED);
	tt_run(&e, e.n1, &r, 0, cdb, 12, TGT_DIR_READ, buf, sizeof(buf));
	tt_expect_good(&r);
	assert_int_equal(scsi_get32(buf), 16);
	assert_int_equal(buf[8 + 8 + 1], 5);
	/* ... on every LUN of this nexus. */
	tt_run(&e, e.n1, &r, 5, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_RESET);
	tt_run(&e, e.n1, &r, 5, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);

	/* SELECT REPORT 1: no well-known LUs; 3: invalid. */
	cdb[2] = 1;
	tt_run(&e, e.n1, &r, 0, cdb, 12, TGT_DIR_READ, buf, sizeof(buf));
	tt_expect_good(&r);
	assert_int_equal(scsi_get32(buf), 0);
	cdb[2] = 3;
	tt_run(&e, e.n1, &r, 0, cdb, 12, TGT_DIR_READ, buf, sizeof(buf));
	tt_expect_field(&r, true, 2, -1);

	assert_int_equal(tgt_target_remove_lun(e.t, 5), 0);
	assert_int_equal(tgt_target_remove_lun(e.t, 5), -ENOENT);
	assert_int_equal(tgt_target_luns(e.t, NULL, 0), 1);
	tgt_lun_release(l2);
	tt_teardown(&e);
}

static void test_capacity_changed_ua(void **state)
{
	struct tt e;
	struct tt_res r;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);
	bdev_resize(e.bd, 32ull << 20);
	tgt_lun_capacity_changed(e.lun);
	tt_run(&e, e.n1, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_CAPACITY_DATA_CHANGED);
	tt_run(&e, e.n2, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_CAPACITY_DATA_CHANGED);
	tt_run(&e, e.n2, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	tt_teardown(&e);
}

static void test_reserve6_two_nexuses(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t res[6] = { SCSI_RESERVE_6 }, rel[6] = { SCSI_RELEASE_6 };
	uint8_t ms[6] = { SCSI_MODE_SENSE_6, 0, 0x3f, 0, 255, 0 };
	uint8_t inq[6] = { SCSI_INQUIRY, 0, 0, 0, 36, 0 };
	uint8_t buf[256];

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, res, 6, TGT_DIR_NONE, NULL, 0),
			 SCSI_STATUS_GOOD);
	/* Re-reserving by the holder is fine. */
	assert_int_equal(tt_run(&e, e.n1, &r, 0, res, 6, TGT_DIR_NONE, NULL, 0),
			 SCSI_STATUS_GOOD);
	assert_int_equal(tt_run(&e, e.n2, &r, 0, res, 6, TGT_DIR_NONE, NULL, 0),
			 SCSI_STATUS_RESERVATION_CONFLICT);
	assert_int_equal(r.task.sense_len, 0);
	/* RELEASE by the other nexus: a no-op that answers GOOD. */
	assert_int_equal(tt_run(&e, e.n2, &r, 0, rel, 6, TGT_DIR_NONE, NULL, 0),
			 SCSI_STATUS_GOOD);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, ms, 6, TGT_DIR_READ, buf,
				255), SCSI_STATUS_GOOD);
	assert_int_equal(tt_run(&e, e.n2, &r, 0, ms, 6, TGT_DIR_READ, buf,
				255), SCSI_STATUS_RESERVATION_CONFLICT);
	/* INQUIRY is allowed under a conflict. */
	assert_int_equal(tt_run(&e, e.n2, &r, 0, inq, 6, TGT_DIR_READ, buf,
				36), SCSI_STATUS_GOOD);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, rel, 6, TGT_DIR_NONE, NULL, 0),
			 SCSI_STATUS_GOOD);
	assert_int_equal(tt_run(&e, e.n2, &r, 0, res, 6, TGT_DIR_NONE, NULL, 0),
			 SCSI_STATUS_GOOD);
	/* Nexus loss releases it. */
	tgt_nexus_destroy(e.n2);
	e.n2 = NULL;
	assert_int_equal(tt_run(&e, e.n1, &r, 0, ms, 6, TGT_DIR_READ, buf,
				255), SCSI_STATUS_GOOD);
	tt_teardown(&e);
}

static void test_reserve10_lun_reset(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t res[10] = { SCSI_RESERVE_10 };

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, res, 10, TGT_DIR_NONE, NULL,
				0), SCSI_STATUS_GOOD);
	assert_int_equal(tt_run(&e, e.n2, &r, 0, cdb_tur, 6, TGT_DIR_NONE,
				NULL, 0), SCSI_STATUS_RESERVATION_CONFLICT);
	/* A LUN reset clears the reservation; every nexus, the issuer too,
	 * gets BUS DEVICE RESET. */
	assert_int_equal(tgt_tmf(e.t, e.n1, TGT_TMF_LUN_RESET, 0), 0);
	tt_run(&e, e.n2, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET_OCCURRED);
	tt_run(&e, e.n1, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET_OCCURRED);
	assert_int_equal(tt_run(&e, e.n2, &r, 0, res, 10, TGT_DIR_NONE, NULL,
				0), SCSI_STATUS_GOOD);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, cdb_tur, 6, TGT_DIR_NONE,
				NULL, 0), SCSI_STATUS_RESERVATION_CONFLICT);
	/* Target cold reset: POWER ON for the others, reservation gone. */
	assert_int_equal(tgt_tmf(e.t, e.n1, TGT_TMF_TARGET_COLD_RESET, 0), 0);
	tt_run(&e, e.n2, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_RESET);
	tt_run(&e, e.n1, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_RESET);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, cdb_tur, 6, TGT_DIR_NONE,
				NULL, 0), SCSI_STATUS_GOOD);
	assert_int_equal(tgt_tmf(e.t, e.n1, TGT_TMF_TARGET_WARM_RESET, 0), 0);
	tt_run(&e, e.n2, &r, 0, cdb_tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_BUS_DEVICE_RESET_OCCURRED);
	assert_int_equal(tgt_tmf(e.t, e.n1, TGT_TMF_ABORT_TASK_SET, 0), 0);
	assert_int_equal(tgt_tmf(e.t, e.n1, TGT_TMF_LUN_RESET, 4), -ENOENT);
	assert_int_equal(tgt_tmf(e.t, e.n1, TGT_TMF_CLEAR_ACA, 0), -ENOTSUP);
	tt_teardown(&e);
}

static void test_abort_during_backend_io(void **state)
{
	struct tt e;
	struct tt_res r;
	struct bdev *inner = bdev_mem_create("mem1", 8ull << 20, 512, false);
	struct bdev *fb = bdev_fault_create("fault1", inner);
	struct bdev_fault_rule rule = {
		.action = BDEV_FAULT_HOLD, .count = -1,
	};
	uint8_t cdb[16];
	uint8_t *buf = calloc(1, 8192);

	(void)state;
	tt_setup_bdev(&e, fb, NULL);
	e.inner = inner;
	tt_clear_ua(&e, e.n1);
	bdev_fault_set(fb, &rule);
	cdb_rw10(cdb, SCSI_READ_10, 0, 16, 0);
	tt_submit(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 8192);
	ev_loop_run_once(e.loop, 10);
	assert_int_equal(r.ndone, 0);
	assert_true(bdev_fault_hits(fb) >= 1);
	tgt_task_abort(&r.task);
	ev_loop_run_once(e.loop, 10);
	/* The I/O is still at the backend: no completion yet. */
	assert_int_equal(r.ndone, 0);
	bdev_fault_clear(fb);
	bdev_fault_release_held(fb);
	tt_wait(&e, &r);
	assert_true(r.task.aborted);

	/* An EIO from the backend: MEDIUM ERROR of the right kind. */
	rule.action = BDEV_FAULT_FAIL;
	rule.err = EIO;
	bdev_fault_set(fb, &rule);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 8192);
	tt_expect_sense(&r, SCSI_SK_MEDIUM_ERROR,
			SCSI_ASC_UNRECOVERED_READ_ERROR);
	assert_false(r.task.aborted);
	cdb_rw10(cdb, SCSI_WRITE_10, 0, 16, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, 8192);
	tt_expect_sense(&r, SCSI_SK_MEDIUM_ERROR, SCSI_ASC_WRITE_ERROR);
	rule.err = ENOSPC;
	bdev_fault_set(fb, &rule);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, 8192);
	tt_expect_sense(&r, SCSI_SK_DATA_PROTECT, SCSI_ASC(0x27, 0x07));
	bdev_fault_clear(fb);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, 8192);
	tt_expect_good(&r);
	free(buf);
	tt_teardown(&e);
}

static void test_abort_split_io(void **state)
{
	struct tt e;
	struct tt_res r;
	struct bdev *inner = tbdev_create(1 << 20, 512, 4096, false);
	struct bdev *fb = bdev_fault_create("fault3", inner);
	struct bdev_fault_rule rule = {
		.action = BDEV_FAULT_HOLD, .count = -1,
	};
	uint8_t cdb[16];
	uint8_t *buf = calloc(1, 128 * 1024);

	(void)state;
	tt_setup_bdev(&e, fb, NULL);
	e.inner = inner;
	tt_clear_ua(&e, e.n1);
	bdev_fault_set(fb, &rule);
	/* 128 KiB over a 4 KiB max transfer: 32 sub-I/Os, TGT_MAX_PAR at
	 * a time, all held. */
	cdb_rw10(cdb, SCSI_READ_10, 0, 256, 0);
	tt_submit(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 128 * 1024);
	ev_loop_run_once(e.loop, 10);
	assert_int_equal(bdev_fault_hits(fb), TGT_MAX_PAR);
	tgt_task_abort(&r.task);
	bdev_fault_clear(fb);
	bdev_fault_release_held(fb);
	tt_wait(&e, &r);
	assert_true(r.task.aborted);
	/* Nothing was issued after the abort. */
	assert_int_equal(tbdev_of(inner)->ops[BDEV_IO_READ], TGT_MAX_PAR);
	free(buf);
	tt_teardown(&e);
}

static void test_abort_before_deferred_done(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t inq[6] = { SCSI_INQUIRY, 0, 0, 0, 36, 0 };
	uint8_t buf[36];

	(void)state;
	tt_setup(&e);
	/* INQUIRY answers inside submit; done is deferred.  An abort in
	 * between still yields exactly one done, marked aborted. */
	tt_submit(&e, e.n1, &r, 0, inq, 6, TGT_DIR_READ, buf, sizeof(buf));
	tgt_task_abort(&r.task);
	tt_wait(&e, &r);
	assert_true(r.task.aborted);
	tt_teardown(&e);
}

static void test_stats_and_foreach(void **state)
{
	struct tt e;
	struct tt_res r;
	struct tgt_lun_stats st;
	uint8_t cdb[16], buf[4096];

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	cdb_rw10(cdb, SCSI_WRITE_10, 0, 8, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, buf, sizeof(buf));
	cdb_rw10(cdb, SCSI_READ_10, 0, 8, 0);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, sizeof(buf));
	tgt_lun_get_stats(e.lun, &st);
	assert_int_equal(st.read_cmds, 1);
	assert_int_equal(st.write_cmds, 1);
	assert_int_equal(st.read_bytes, 4096);
	assert_int_equal(st.write_bytes, 4096);
	assert_int_equal(st.errors, 1);	/* the power-on UA */
	assert_int_equal(st.in_flight, 0);
	assert_ptr_equal(tgt_lun_bdev(e.lun), e.bd);
	assert_string_equal(tgt_nexus_initiator(e.n1),
			    "iqn.test:init1,i,0x000000000001");
	assert_string_equal(tgt_target_name(e.t),
			    "iqn.2026-11.org.scsikit:test");
	tt_teardown(&e);
}

static void count_cmd(uint8_t op, uint16_t sa, const char *name, void *arg)
{
	(void)op;
	(void)sa;
	assert_non_null(name);
	(*(unsigned *)arg)++;
}

static void test_foreach(void **state)
{
	unsigned n = 0;

	(void)state;
	tgt_foreach_command(count_cmd, &n);
	assert_true(n >= 40);
}

static void test_bad_task(void **state)
{
	struct tt e;
	struct tgt_task task;

	(void)state;
	tt_setup(&e);
	memset(&task, 0, sizeof(task));
	assert_int_equal(tgt_task_submit(e.n1, &task), -EINVAL);
	task.cdb_len = 6;
	task.loop = e.loop;
	assert_int_equal(tgt_task_submit(e.n1, &task), -EINVAL);
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_on_ua_once),
		cmocka_unit_test(test_request_sense_ua),
		cmocka_unit_test(test_unmapped_lun),
		cmocka_unit_test(test_reserved_bits),
		cmocka_unit_test(test_invalid_opcode_and_sa),
		cmocka_unit_test(test_report_luns),
		cmocka_unit_test(test_capacity_changed_ua),
		cmocka_unit_test(test_reserve6_two_nexuses),
		cmocka_unit_test(test_reserve10_lun_reset),
		cmocka_unit_test(test_abort_during_backend_io),
		cmocka_unit_test(test_abort_split_io),
		cmocka_unit_test(test_abort_before_deferred_done),
		cmocka_unit_test(test_stats_and_foreach),
		cmocka_unit_test(test_foreach),
		cmocka_unit_test(test_bad_task),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
