/*
 * Persistent reservations across two nexuses: REGISTER (and AND IGNORE),
 * RESERVE of every type with its access rules, RELEASE, CLEAR, PREEMPT,
 * READ KEYS / READ RESERVATION / REPORT CAPABILITIES / READ FULL STATUS,
 * and the interplay with SPC-2 RESERVE.
 */
#include "tgt_test.h"

static uint8_t prout(struct tt *e, struct tgt_nexus *n, struct tt_res *r,
		     uint8_t sa, uint8_t type, uint64_t rk, uint64_t sark)
{
	return tt_prout(e, n, r, sa, type, rk, sark, 0);
}

static uint8_t prin(struct tt *e, struct tgt_nexus *n, struct tt_res *r,
		    uint8_t sa, uint8_t *buf, uint16_t len)
{
	uint8_t cdb[10] = { SCSI_PERSISTENT_RESERVE_IN, sa };

	scsi_put16(cdb + 7, len);
	return tt_run(e, n, r, 0, cdb, 10, TGT_DIR_READ, buf, len);
}

static uint8_t rd(struct tt *e, struct tgt_nexus *n, struct tt_res *r)
{
	uint8_t cdb[16], buf[512];

	cdb_rw10(cdb, SCSI_READ_10, 1, 1, 0);
	return tt_run(e, n, r, 0, cdb, 10, TGT_DIR_READ, buf, 512);
}


#define GOOD SCSI_STATUS_GOOD
#define RC SCSI_STATUS_RESERVATION_CONFLICT

/* Per type: what a registered non-holder and an unregistered nexus may do
 * (read, write). */
static const struct {
	uint8_t type;
	uint8_t reg_rd, reg_wr, unreg_rd, unreg_wr;
} access_cases[] = {
	{ 1, GOOD, RC, GOOD, RC },	/* Write Exclusive */
	{ 3, RC, RC, RC, RC },		/* Exclusive Access */
	{ 5, GOOD, GOOD, GOOD, RC },	/* WE Registrants Only */
	{ 6, GOOD, GOOD, RC, RC },	/* EA Registrants Only */
	{ 7, GOOD, GOOD, GOOD, RC },	/* WE All Registrants */
	{ 8, GOOD, GOOD, RC, RC },	/* EA All Registrants */
};

static void test_pr_access(void **state)
{
	struct tt e;
	struct tt_res r;
	struct tgt_nexus *n3;
	size_t i;

	(void)state;
	tt_setup(&e);
	n3 = tgt_nexus_create(e.t, "iqn.test:init3,i,0x000000000003");
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);
	tt_clear_ua(&e, n3);
	for (i = 0; i < sizeof(access_cases) / sizeof(access_cases[0]); i++) {
		uint8_t t = access_cases[i].type;

		assert_int_equal(prout(&e, e.n1, &r, 0, 0, 0, 0xa1), GOOD);
		assert_int_equal(prout(&e, e.n2, &r, 0, 0, 0, 0xb2), GOOD);
		assert_int_equal(prout(&e, e.n1, &r, 1, t, 0xa1, 0), GOOD);
		/* The holder reads and writes. */
		assert_int_equal(rd(&e, e.n1, &r), GOOD);
		assert_int_equal(tt_wr1(&e, e.n1, &r), GOOD);
		assert_int_equal(rd(&e, e.n2, &r), access_cases[i].reg_rd);
		assert_int_equal(tt_wr1(&e, e.n2, &r), access_cases[i].reg_wr);
		assert_int_equal(rd(&e, n3, &r), access_cases[i].unreg_rd);
		assert_int_equal(tt_wr1(&e, n3, &r), access_cases[i].unreg_wr);
		/* INQUIRY, TUR and PR IN are always allowed. */
		{
			uint8_t inq[6] = { SCSI_INQUIRY, 0, 0, 0, 36, 0 };
			uint8_t buf[64];

			assert_int_equal(tt_run(&e, n3, &r, 0, inq, 6,
						TGT_DIR_READ, buf, 36), GOOD);
			assert_int_equal(prin(&e, n3, &r, 0, buf, 64), GOOD);
		}
		/* Reserving again with another type conflicts; RESERVE(6)
		 * conflicts with persistent reservations. */
		assert_int_equal(prout(&e, e.n2, &r, 1, t, 0xb2, 0),
				 t >= 7 ? GOOD : RC);
		{
			uint8_t res6[6] = { SCSI_RESERVE_6 };

			assert_int_equal(tt_run(&e, e.n1, &r, 0, res6, 6,
						TGT_DIR_NONE, NULL, 0), RC);
		}
		/* CLEAR by the holder: everything goes; n2 hears about it. */
		assert_int_equal(prout(&e, e.n1, &r, 3, 0, 0xa1, 0), GOOD);
		tt_run(&e, e.n2, &r, 0, (const uint8_t[6]){ 0 }, 6,
		       TGT_DIR_NONE, NULL, 0);
		tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
				SCSI_ASC_RESERVATIONS_PREEMPTED);
		assert_int_equal(tt_wr1(&e, n3, &r), GOOD);
	}
	tgt_nexus_destroy(n3);
	tt_teardown(&e);
}

static void test_pr_register_keys(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t buf[256];

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);
	assert_int_equal(prin(&e, e.n1, &r, 0, buf, 256), GOOD);
	assert_int_equal(scsi_get32(buf + 4), 0);
	assert_int_equal(prout(&e, e.n1, &r, 0, 0, 0, 0x1111), GOOD);
	/* Registering again with a wrong key conflicts. */
	assert_int_equal(prout(&e, e.n1, &r, 0, 0, 0x2222, 0x3333), RC);
	/* ... REGISTER AND IGNORE replaces it. */
	assert_int_equal(prout(&e, e.n1, &r, 6, 0, 0, 0x4444), GOOD);
	assert_int_equal(prout(&e, e.n2, &r, 6, 0, 0, 0x5555), GOOD);
	assert_int_equal(prin(&e, e.n1, &r, 0, buf, 256), GOOD);
	assert_int_equal(scsi_get32(buf + 4), 16);
	assert_int_equal(scsi_get32(buf), 3);	/* generation */
	assert_true((scsi_get64(buf + 8) == 0x4444 &&
		     scsi_get64(buf + 16) == 0x5555) ||
		    (scsi_get64(buf + 8) == 0x5555 &&
		     scsi_get64(buf + 16) == 0x4444));
	/* Truncated READ KEYS still tells the full length. */
	assert_int_equal(prin(&e, e.n1, &r, 0, buf, 12), GOOD);
	assert_int_equal(scsi_get32(buf + 4), 16);
	assert_int_equal(r.task.xfer_done, 12);
	/* READ RESERVATION: none. */
	assert_int_equal(prin(&e, e.n1, &r, 1, buf, 256), GOOD);
	assert_int_equal(scsi_get32(buf + 4), 0);
	assert_int_equal(prout(&e, e.n1, &r, 1, 1, 0x4444, 0), GOOD);
	assert_int_equal(prin(&e, e.n2, &r, 1, buf, 256), GOOD);
	assert_int_equal(scsi_get32(buf + 4), 16);
	assert_int_equal(scsi_get64(buf + 8), 0x4444);
	assert_int_equal(buf[21], 1);
	/* READ FULL STATUS: two descriptors, one the holder. */
	assert_int_equal(prin(&e, e.n2, &r, 3, buf, 256), GOOD);
	assert_true(scsi_get32(buf + 4) >= 2 * 24);
	/* REPORT CAPABILITIES. */
	assert_int_equal(prin(&e, e.n2, &r, 2, buf, 256), GOOD);
	assert_int_equal(scsi_get16(buf), 8);
	assert_int_equal(buf[3] & 0x80, 0x80);
	assert_int_equal(buf[4], 0xea);
	assert_int_equal(buf[5], 0x01);
	/* An unknown PR IN service action. */
	prin(&e, e.n2, &r, 0x07, buf, 256);
	tt_expect_field(&r, true, 1, 4);
	/* RELEASE with the wrong type; then right. */
	prout(&e, e.n1, &r, 2, 3, 0x4444, 0);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x26, 0x04));
	assert_int_equal(prout(&e, e.n1, &r, 2, 1, 0x4444, 0), GOOD);
	/* The other registrant hears RESERVATIONS RELEASED. */
	tt_run(&e, e.n2, &r, 0, (const uint8_t[6]){ 0 }, 6, TGT_DIR_NONE,
	       NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_RESERVATIONS_RELEASED);
	/* Unregister. */
	assert_int_equal(prout(&e, e.n1, &r, 0, 0, 0x4444, 0), GOOD);
	assert_int_equal(prin(&e, e.n1, &r, 0, buf, 256), GOOD);
	assert_int_equal(scsi_get32(buf + 4), 8);
	tt_teardown(&e);
}

static void test_pr_preempt_and_errors(void **state)
{
	struct tt e;
	struct tt_res r;
	uint8_t cdb[10] = { SCSI_PERSISTENT_RESERVE_OUT, 0 };
	uint8_t p[24], buf[64];

	(void)state;
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);
	assert_int_equal(prout(&e, e.n1, &r, 0, 0, 0, 0xaa), GOOD);
	assert_int_equal(prout(&e, e.n2, &r, 0, 0, 0, 0xbb), GOOD);
	/* Preempt a registration without a reservation. */
	assert_int_equal(prout(&e, e.n1, &r, 4, 1, 0xaa, 0xbb), GOOD);
	assert_int_equal(prin(&e, e.n1, &r, 0, buf, 64), GOOD);
	assert_int_equal(scsi_get32(buf + 4), 8);
	tt_run(&e, e.n2, &r, 0, (const uint8_t[6]){ 0 }, 6, TGT_DIR_NONE,
	       NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_REGISTRATIONS_PREEMPTED);
	/* Preempting a key nobody has: conflict. */
	assert_int_equal(prout(&e, e.n1, &r, 4, 1, 0xaa, 0xcc), RC);
	/* Preempt the holder: the reservation moves. */
	assert_int_equal(prout(&e, e.n2, &r, 0, 0, 0, 0xbb), GOOD);
	assert_int_equal(prout(&e, e.n2, &r, 1, 3, 0xbb, 0), GOOD);
	assert_int_equal(tt_wr1(&e, e.n1, &r), RC);
	assert_int_equal(prout(&e, e.n1, &r, 5, 1, 0xaa, 0xbb), GOOD);
	assert_int_equal(prin(&e, e.n1, &r, 1, buf, 64), GOOD);
	assert_int_equal(scsi_get64(buf + 8), 0xaa);
	assert_int_equal(buf[21], 1);
	assert_int_equal(tt_wr1(&e, e.n1, &r), GOOD);
	/* n2 first hears that it was preempted, then conflicts. */
	tt_wr1(&e, e.n2, &r);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_REGISTRATIONS_PREEMPTED);
	assert_int_equal(tt_wr1(&e, e.n2, &r), RC);
	/* Bad parameter list length, APTPL, bad type, bad scope. */
	memset(p, 0, sizeof(p));
	scsi_put32(cdb + 5, 20);
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, p, 20);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
	scsi_put32(cdb + 5, 24);
	p[20] = 0x01;
	tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_WRITE, p, 24);
	tt_expect_field(&r, false, 20, 0);
	assert_int_equal(prout(&e, e.n1, &r, 1, 2, 0xaa, 0), SCSI_STATUS_CHECK_CONDITION);
	tt_expect_field(&r, true, 2, 3);
	prout(&e, e.n1, &r, 1, 0x11, 0xaa, 0);
	tt_expect_field(&r, true, 2, 7);
	/* Unregistered nexus trying to reserve: conflict. */
	{
		struct tgt_nexus *n3 =
			tgt_nexus_create(e.t, "iqn.test:init3,i,0x3");

		tt_clear_ua(&e, n3);
		assert_int_equal(prout(&e, n3, &r, 1, 1, 0, 0), RC);
		tgt_nexus_destroy(n3);
	}
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pr_access),
		cmocka_unit_test(test_pr_register_keys),
		cmocka_unit_test(test_pr_preempt_and_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
