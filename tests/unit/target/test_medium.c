/*
 * Removable medium: INQUIRY RMB, START STOP UNIT with LOEJ, PREVENT ALLOW
 * MEDIUM REMOVAL per I_T nexus (ended by nexus loss and resets), the NOT
 * READY answers without a medium, the MEDIUM MAY HAVE CHANGED unit
 * attention, and the daemon's eject / load (tgt_medium_eject / _load).
 */
#include "tgt_test.h"

#define RM_SIZE (1u << 20)

static const uint8_t tur[6];

static void setup_removable(struct tt *e)
{
	struct bdev *m = tbdev_create(RM_SIZE, 512, 0, false);
	struct bdev *drive = bdev_medium_create("rm0", m, BDEV_MEDIUM_REMOVABLE);

	assert_non_null(drive);
	bdev_release(m);
	tt_setup_bdev(e, drive, NULL);
	tt_clear_ua(e, e->n1);
	tt_clear_ua(e, e->n2);
}

static uint8_t ssu(struct tt *e, struct tgt_nexus *n, struct tt_res *r,
		   bool loej, bool start)
{
	uint8_t cdb[6] = { SCSI_START_STOP_UNIT, 0, 0, 0, 0, 0 };

	cdb[4] = (uint8_t)((loej ? 0x02 : 0) | (start ? 0x01 : 0));
	return tt_run(e, n, r, 0, cdb, 6, TGT_DIR_NONE, NULL, 0);
}

static uint8_t prevent(struct tt *e, struct tgt_nexus *n, struct tt_res *r,
		       uint8_t v)
{
	uint8_t cdb[6] = { SCSI_PREVENT_ALLOW, 0, 0, 0, 0, 0 };

	cdb[4] = v;
	return tt_run(e, n, r, 0, cdb, 6, TGT_DIR_NONE, NULL, 0);
}

static void expect_no_medium(struct tt *e, struct tgt_nexus *n, uint16_t asc)
{
	struct tt_res r;

	tt_run(e, n, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_NOT_READY, asc);
}

static void test_removable_inquiry(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[6] = { SCSI_INQUIRY, 0, 0, 0, 96, 0 }, buf[96];

	(void)state;
	setup_removable(&e);
	tt_run(&e, e.n1, &r, 0, cdb, 6, TGT_DIR_READ, buf, 96);
	tt_expect_good(&r);
	assert_int_equal(buf[0], 0x00);
	assert_int_equal(buf[1], 0x80);		/* RMB */
	tt_teardown(&e);
}

static void test_eject_load(void **state)
{
	/* What each command answers with the tray open. */
	static const struct {
		uint8_t cdb[16];
		unsigned len;
		bool ready;	/* runs without a medium */
	} cmds[] = {
		{ { SCSI_TEST_UNIT_READY }, 6, false },
		{ { SCSI_READ_10, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 10, false },
		{ { SCSI_WRITE_10, 0, 0, 0, 0, 0, 0, 0, 1, 0 }, 10, false },
		{ { SCSI_READ_CAPACITY_10 }, 10, false },
		{ { SCSI_SERVICE_ACTION_IN_16, 0x10, 0, 0, 0, 0, 0, 0, 0, 0,
		    0, 0, 0, 32, 0, 0 }, 16, false },
		{ { SCSI_SYNCHRONIZE_CACHE_10 }, 10, false },
		{ { SCSI_READ_DEFECT_DATA_10, 0, 0, 0, 0, 0, 0, 0, 4, 0 }, 10,
		  false },
		{ { SCSI_INQUIRY, 0, 0, 0, 36, 0 }, 6, true },
		{ { SCSI_MODE_SENSE_6, 0, 0x3f, 0, 255, 0 }, 6, true },
		{ { SCSI_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0 }, 12,
		  true },
		{ { SCSI_PREVENT_ALLOW, 0, 0, 0, 0, 0 }, 6, true },
	};
	struct tt e;
	struct tt_res r;
	uint8_t buf[512], rq[6] = { SCSI_REQUEST_SENSE, 0, 0, 0, 18, 0 };
	struct scsi_sense s;
	unsigned i;

	(void)state;
	setup_removable(&e);
	assert_int_equal(ssu(&e, e.n1, &r, true, false), SCSI_STATUS_GOOD);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		tt_run(&e, e.n1, &r, 0, cmds[i].cdb, cmds[i].len,
		       cmds[i].cdb[0] == SCSI_WRITE_10 ? TGT_DIR_WRITE :
							TGT_DIR_READ,
		       buf, 512);
		if (cmds[i].ready)
			tt_expect_good(&r);
		else
			tt_expect_sense(&r, SCSI_SK_NOT_READY,
					SCSI_ASC(0x3a, 0x02));
	}
	/* REQUEST SENSE says why. */
	tt_run(&e, e.n2, &r, 0, rq, 6, TGT_DIR_READ, buf, 18);
	tt_expect_good(&r);
	assert_int_equal(scsi_sense_parse(buf, r.task.xfer_done, &s), 0);
	assert_int_equal(s.key, SCSI_SK_NOT_READY);
	assert_int_equal(s.asc_ascq, SCSI_ASC(0x3a, 0x02));
	/* Ejecting again is fine; loading brings it back, the loader sees
	 * no unit attention, the other nexus does. */
	assert_int_equal(ssu(&e, e.n1, &r, true, false), SCSI_STATUS_GOOD);
	assert_int_equal(ssu(&e, e.n1, &r, true, true), SCSI_STATUS_GOOD);
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	tt_run(&e, e.n2, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC(0x28, 0x00));
	tt_run(&e, e.n2, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	/* START / STOP without LOEJ: no change. */
	assert_int_equal(ssu(&e, e.n1, &r, false, false), SCSI_STATUS_GOOD);
	assert_int_equal(ssu(&e, e.n1, &r, false, true), SCSI_STATUS_GOOD);
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	tt_teardown(&e);
}

static void test_prevent_allow(void **state)
{
	struct tt e;
	struct tt_res r;

	(void)state;
	setup_removable(&e);
	/* 10b / 11b are invalid. */
	prevent(&e, e.n1, &r, 0x02);
	tt_expect_field(&r, true, 4, 1);
	prevent(&e, e.n1, &r, 0x03);
	tt_expect_field(&r, true, 4, 1);
	/* A prevention by n1 stops an eject by anyone, and a load. */
	assert_int_equal(prevent(&e, e.n1, &r, 1), SCSI_STATUS_GOOD);
	assert_int_equal(prevent(&e, e.n1, &r, 1), SCSI_STATUS_GOOD);
	ssu(&e, e.n1, &r, true, false);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x53, 0x02));
	ssu(&e, e.n2, &r, true, false);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x53, 0x02));
	ssu(&e, e.n2, &r, true, true);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x53, 0x02));
	assert_int_equal(tgt_medium_eject(e.bd), -EBUSY);
	assert_int_equal(tgt_medium_load(e.bd, NULL), -EBUSY);
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_good(&r);
	/* n2 allowing does not end n1's prevention (SPC-4 6.13). */
	assert_int_equal(prevent(&e, e.n2, &r, 0), SCSI_STATUS_GOOD);
	ssu(&e, e.n2, &r, true, false);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x53, 0x02));
	assert_int_equal(prevent(&e, e.n1, &r, 0), SCSI_STATUS_GOOD);
	assert_int_equal(ssu(&e, e.n2, &r, true, false), SCSI_STATUS_GOOD);
	expect_no_medium(&e, e.n1, SCSI_ASC(0x3a, 0x02));
	assert_int_equal(ssu(&e, e.n2, &r, true, true), SCSI_STATUS_GOOD);

	/* I_T nexus loss ends that nexus's prevention. */
	tt_clear_ua(&e, e.n1);
	assert_int_equal(prevent(&e, e.n1, &r, 1), SCSI_STATUS_GOOD);
	tgt_nexus_destroy(e.n1);
	e.n1 = tgt_nexus_create(e.t, "iqn.test:init1,i,0x000000000001");
	tt_clear_ua(&e, e.n1);
	assert_int_equal(ssu(&e, e.n1, &r, true, false), SCSI_STATUS_GOOD);
	assert_int_equal(ssu(&e, e.n1, &r, true, true), SCSI_STATUS_GOOD);

	/* So does a LU reset, for every nexus. */
	tt_clear_ua(&e, e.n2);
	assert_int_equal(prevent(&e, e.n1, &r, 1), SCSI_STATUS_GOOD);
	assert_int_equal(prevent(&e, e.n2, &r, 1), SCSI_STATUS_GOOD);
	assert_int_equal(tgt_tmf(e.t, e.n1, TGT_TMF_LUN_RESET, 0), 0);
	tt_clear_ua(&e, e.n1);
	assert_int_equal(ssu(&e, e.n1, &r, true, false), SCSI_STATUS_GOOD);
	assert_int_equal(ssu(&e, e.n1, &r, true, true), SCSI_STATUS_GOOD);
	tt_clear_ua(&e, e.n2);
	tt_teardown(&e);
}

static void test_medium_change(void **state)
{
	struct tt e;
	struct tt_res r;
	struct bdev *big = tbdev_create(2 * RM_SIZE, 512, 0, false);
	struct bdev *b4k = tbdev_create(RM_SIZE, 4096, 0, false);
	struct bdev *mem = bdev_mem_create("plain", RM_SIZE, 512, false);
	uint8_t rc10[10] = { SCSI_READ_CAPACITY_10 }, cap[8];

	(void)state;
	setup_removable(&e);
	/* Not a drive; another block size. */
	assert_int_equal(tgt_medium_eject(mem), -EINVAL);
	assert_int_equal(tgt_medium_load(e.bd, b4k), -EINVAL);
	/* Operator eject: TRAY OPEN for everybody; load closes it again. */
	assert_int_equal(tgt_medium_eject(e.bd), 0);
	expect_no_medium(&e, e.n1, SCSI_ASC(0x3a, 0x02));
	expect_no_medium(&e, e.n2, SCSI_ASC(0x3a, 0x02));
	assert_int_equal(tgt_medium_load(e.bd, NULL), 0);
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC(0x28, 0x00));
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);
	/* A drive with nothing in it: a SCSI load closes an empty tray,
	 * an operator load without a medium is refused. */
	assert_int_equal(tgt_medium_eject(e.bd), 0);
	assert_int_equal(bdev_medium_change(e.bd, NULL), 0);
	assert_false(bdev_medium_present(e.bd, NULL));
	assert_int_equal(ssu(&e, e.n1, &r, true, true), SCSI_STATUS_GOOD);
	expect_no_medium(&e, e.n1, SCSI_ASC(0x3a, 0x01));
	assert_int_equal(tgt_medium_load(e.bd, NULL), -ENOMEDIUM);
	/* Operator load of a bigger medium: every nexus hears of it, and
	 * the capacity is the new one. */
	assert_int_equal(tgt_medium_load(e.bd, big), 0);
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC(0x28, 0x00));
	tt_run(&e, e.n2, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC(0x28, 0x00));
	tt_run(&e, e.n1, &r, 0, rc10, 10, TGT_DIR_READ, cap, 8);
	tt_expect_good(&r);
	assert_int_equal(scsi_get32(cap), 2 * RM_SIZE / 512 - 1);
	/* I/O reaches the new medium. */
	{
		uint8_t w[16], blk[512];

		memset(blk, 0x77, sizeof(blk));
		cdb_rw10(w, SCSI_WRITE_10, 2047, 1, 0);
		tt_run(&e, e.n1, &r, 0, w, 10, TGT_DIR_WRITE, blk, 512);
		tt_expect_good(&r);
		assert_int_equal(tbdev_of(big)->data[2047 * 512], 0x77);
	}
	bdev_release(big);
	bdev_release(b4k);
	bdev_release(mem);
	tt_teardown(&e);
}

static void test_fixed_disk_unchanged(void **state)
{
	struct tt e;
	struct tt_res r;

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	/* LOEJ on a fixed disk is an invalid field, PREVENT is accepted. */
	ssu(&e, e.n1, &r, true, false);
	tt_expect_field(&r, true, 4, 1);
	assert_int_equal(prevent(&e, e.n1, &r, 1), SCSI_STATUS_GOOD);
	assert_int_equal(tgt_medium_eject(e.bd), -EINVAL);
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_removable_inquiry),
		cmocka_unit_test(test_eject_load),
		cmocka_unit_test(test_prevent_allow),
		cmocka_unit_test(test_medium_change),
		cmocka_unit_test(test_fixed_disk_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
