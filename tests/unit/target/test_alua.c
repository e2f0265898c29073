/*
 * ALUA: target port groups and relative ports as the engine reports them
 * (INQUIRY TPGS, VPD 83h designators, REPORT TARGET PORT GROUPS in both
 * formats), the per-state command check with its exact sense, SET TARGET
 * PORT GROUPS and its parameter list checks, the ASYMMETRIC ACCESS STATE
 * CHANGED unit attention, persistent reservations and SPC-2 reservations
 * across two target ports, and LU identities set by disk name.
 */
#include "tgt_test.h"

#define GOOD SCSI_STATUS_GOOD
#define RC SCSI_STATUS_RESERVATION_CONFLICT
#define ASC_ALUA_CHANGED SCSI_ASC(0x2a, 0x06)

/* Groups 1 (port 1, active/optimized), 2 (port 2, standby) and peer
 * group 3 (port 7, active/non-optimized); n1 on port 1, n2 on port 2. */
static void alua_setup(struct tt *e)
{
	tgt_alua_reset();
	assert_int_equal(tgt_alua_group_add(1, TGT_ALUA_OPTIMIZED, false), 0);
	assert_int_equal(tgt_alua_group_add(2, TGT_ALUA_STANDBY, false), 0);
	assert_int_equal(tgt_alua_group_add(3, TGT_ALUA_NON_OPTIMIZED, true),
			 0);
	assert_int_equal(tgt_alua_port_add(1, 1), 0);
	assert_int_equal(tgt_alua_port_add(2, 2), 0);
	assert_int_equal(tgt_alua_port_add(3, 7), 0);
	tt_setup(e);
	tgt_nexus_set_port(e->n1, 1);
	tgt_nexus_set_port(e->n2, 2);
	tt_clear_ua(e, e->n1);
}

/* Take every pending unit attention of n with REQUEST SENSE, which runs
 * in every ALUA state. */
static void drain_ua(struct tt *e, struct tgt_nexus *n)
{
	uint8_t rs[6] = { SCSI_REQUEST_SENSE, 0, 0, 0, 252, 0 };
	uint8_t buf[252];
	struct tt_res r;
	int i;

	for (i = 0; i < 16; i++) {
		assert_int_equal(tt_run(e, n, &r, 0, rs, 6, TGT_DIR_READ, buf,
					252), GOOD);
		if ((buf[2] & 0x0f) == SCSI_SK_NO_SENSE)
			return;
	}
	fail_msg("unit attentions do not clear");
}

static void alua_teardown(struct tt *e)
{
	tt_teardown(e);
	tgt_alua_reset();
}

static uint8_t rtpg(struct tt *e, struct tgt_nexus *n, struct tt_res *r,
		    uint8_t format, uint8_t *buf, uint32_t len)
{
	uint8_t cdb[12] = { SCSI_MAINTENANCE_IN,
			    (uint8_t)(format << 5 |
				      SCSI_MI_REPORT_TARGET_PORT_GROUPS) };

	scsi_put32(cdb + 6, len);
	return tt_run(e, n, r, 0, cdb, 12, TGT_DIR_READ, buf, len);
}

static uint8_t stpg(struct tt *e, struct tgt_nexus *n, struct tt_res *r,
		    uint8_t *p, uint32_t len)
{
	uint8_t cdb[12] = { SCSI_MAINTENANCE_OUT, 0x0a };

	scsi_put32(cdb + 6, len);
	return tt_run(e, n, r, 0, cdb, 12, TGT_DIR_WRITE, p, len);
}

static void test_alua_config(void **state)
{
	struct tgt_alua_group_info gi[TGT_ALUA_MAX_GROUPS];
	enum tgt_alua_state st;

	(void)state;
	tgt_alua_reset();
	assert_int_equal(tgt_alua_groups(gi, TGT_ALUA_MAX_GROUPS), 0);
	assert_int_equal(tgt_alua_group_add(0, TGT_ALUA_OPTIMIZED, false),
			 -EINVAL);
	assert_int_equal(tgt_alua_group_add(5, 7, false), -EINVAL);
	assert_int_equal(tgt_alua_group_add(5, TGT_ALUA_OPTIMIZED, false), 0);
	assert_int_equal(tgt_alua_group_add(5, TGT_ALUA_STANDBY, false),
			 -EEXIST);
	assert_int_equal(tgt_alua_group_add(4, TGT_ALUA_STANDBY, true), 0);
	assert_int_equal(tgt_alua_port_add(6, 1), -ENOENT);
	assert_int_equal(tgt_alua_port_add(5, 0), -EINVAL);
	assert_int_equal(tgt_alua_port_add(5, 1), 0);
	assert_int_equal(tgt_alua_port_add(4, 1), -EEXIST);
	assert_int_equal(tgt_alua_state_set(9, TGT_ALUA_STANDBY), -ENOENT);
	assert_int_equal(tgt_alua_groups(gi, TGT_ALUA_MAX_GROUPS), 2);
	assert_int_equal(gi[0].id, 4);		/* id order */
	assert_true(gi[0].peer);
	assert_int_equal(gi[1].id, 5);
	assert_int_equal(gi[1].nports, 1);
	assert_int_equal(gi[1].ports[0], 1);
	assert_int_equal(tgt_alua_state_parse("standby", &st), 0);
	assert_int_equal(st, TGT_ALUA_STANDBY);
	assert_int_equal(tgt_alua_state_parse("an", &st), 0);
	assert_int_equal(st, TGT_ALUA_NON_OPTIMIZED);
	assert_int_equal(tgt_alua_state_parse("bogus", &st), -EINVAL);
	assert_string_equal(tgt_alua_state_name(TGT_ALUA_TRANSITIONING),
			    "transitioning");
	tgt_alua_reset();
}

static void test_alua_inquiry(void **state)
{
	uint8_t inq[6] = { SCSI_INQUIRY, 0, 0, 0, 96, 0 };
	uint8_t vpd[6] = { SCSI_INQUIRY, 1, 0x83, 0x01, 0, 0 };
	uint8_t buf[256];
	struct tt e;
	struct tt_res r;
	size_t off;
	bool rtp = false, tpg = false;

	(void)state;
	/* Without groups: TPGS 0 and RTPG is not supported. */
	tgt_alua_reset();
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, inq, 6, TGT_DIR_READ, buf,
				96), GOOD);
	assert_int_equal(buf[5] & 0x30, 0);
	rtpg(&e, e.n1, &r, 0, buf, 64);
	tt_expect_field(&r, true, 1, 4);
	tt_teardown(&e);

	alua_setup(&e);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, inq, 6, TGT_DIR_READ, buf,
				96), GOOD);
	assert_int_equal(buf[5] & 0x30, 0x30);		/* TPGS 11b */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(tt_run(&e, e.n1, &r, 0, vpd, 6, TGT_DIR_READ, buf,
				256), GOOD);
	for (off = 4; off + 4 <= 4u + scsi_get16(buf + 2);
	     off += 4u + buf[off + 3]) {
		uint8_t type = buf[off + 1] & 0x0f, assoc = buf[off + 1] >> 4;

		if (assoc == 1 && type == 4) {		/* relative port */
			assert_int_equal(scsi_get16(buf + off + 6), 1);
			rtp = true;
		}
		if (assoc == 1 && type == 5) {		/* port group */
			assert_int_equal(scsi_get16(buf + off + 6), 1);
			tpg = true;
		}
	}
	assert_true(rtp);
	assert_true(tpg);
	alua_teardown(&e);
}

static void test_alua_rtpg(void **state)
{
	uint8_t buf[256];
	struct tt e;
	struct tt_res r;

	(void)state;
	alua_setup(&e);
	tgt_alua_transition_time_set(7);
	/* Length-only format: 3 groups of 8 bytes + 1 port each. */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(rtpg(&e, e.n1, &r, 0, buf, 256), GOOD);
	assert_int_equal(scsi_get32(buf), 3 * 12);
	assert_int_equal(r.task.xfer_done, 4 + 3 * 12);
	assert_int_equal(buf[4] & 0x0f, TGT_ALUA_OPTIMIZED);
	assert_int_equal(buf[5], 0x8f);			/* supported states */
	assert_int_equal(scsi_get16(buf + 6), 1);
	assert_int_equal(buf[11], 1);			/* port count */
	assert_int_equal(scsi_get16(buf + 14), 1);
	assert_int_equal(buf[16] & 0x0f, TGT_ALUA_STANDBY);
	assert_int_equal(scsi_get16(buf + 18), 2);
	assert_int_equal(buf[28] & 0x0f, TGT_ALUA_NON_OPTIMIZED);
	assert_int_equal(scsi_get16(buf + 30), 3);
	assert_int_equal(scsi_get16(buf + 38), 7);
	/* Extended header: format type 1, implicit transition time. */
	assert_int_equal(rtpg(&e, e.n1, &r, 1, buf, 256), GOOD);
	assert_int_equal(scsi_get32(buf), 4 + 3 * 12);
	assert_int_equal(buf[4], 0x10);
	assert_int_equal(buf[5], 7);
	assert_int_equal(scsi_get16(buf + 8 + 2), 1);
	/* A short allocation length truncates, the length stays true. */
	assert_int_equal(rtpg(&e, e.n1, &r, 0, buf, 6), GOOD);
	assert_int_equal(r.task.xfer_done, 6);
	assert_int_equal(scsi_get32(buf), 3 * 12);
	/* Reserved formats. */
	rtpg(&e, e.n1, &r, 2, buf, 256);
	tt_expect_field(&r, true, 1, 7);
	/* RTPG runs on the standby port too. */
	drain_ua(&e, e.n2);
	assert_int_equal(rtpg(&e, e.n2, &r, 0, buf, 256), GOOD);
	alua_teardown(&e);
}

/* What each state allows, with the exact sense of a refusal. */
static const struct {
	enum tgt_alua_state st;
	uint16_t asc;			/* for refused commands */
	uint8_t tur, read, mode_sense, prin, report_luns, stpg;
} state_cases[] = {
	{ TGT_ALUA_OPTIMIZED, 0, GOOD, GOOD, GOOD, GOOD, GOOD, GOOD },
	{ TGT_ALUA_NON_OPTIMIZED, 0, GOOD, GOOD, GOOD, GOOD, GOOD, GOOD },
	{ TGT_ALUA_STANDBY, SCSI_ASC(0x04, 0x0b), 2, 2, GOOD, GOOD, GOOD,
	  GOOD },
	{ TGT_ALUA_UNAVAILABLE, SCSI_ASC(0x04, 0x0c), 2, 2, 2, 2, GOOD,
	  GOOD },
	{ TGT_ALUA_TRANSITIONING, SCSI_ASC(0x04, 0x0a), 2, 2, 2, 2, GOOD, 2 },
};

static void expect_state(const struct tt_res *r, uint8_t want, uint16_t asc)
{
	if (want == GOOD) {
		tt_expect_good(r);
		return;
	}
	tt_expect_sense(r, SCSI_SK_NOT_READY, asc);
}

static void test_alua_states(void **state)
{
	static const uint8_t tur[6];
	uint8_t ms[6] = { SCSI_MODE_SENSE_6, 0x08, 0x3f, 0, 255, 0 };
	uint8_t prin[10] = { SCSI_PERSISTENT_RESERVE_IN, 0, 0, 0, 0, 0, 0,
			     0, 64, 0 };
	uint8_t rl[12] = { SCSI_REPORT_LUNS, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t cdb[16], buf[512], p[8] = { 0 };
	struct tt e;
	struct tt_res r;
	size_t i;

	(void)state;
	alua_setup(&e);
	for (i = 0; i < sizeof(state_cases) / sizeof(state_cases[0]); i++) {
		uint16_t asc = state_cases[i].asc;

		assert_int_equal(tgt_alua_state_set(2, state_cases[i].st), 0);
		drain_ua(&e, e.n1);
		drain_ua(&e, e.n2);
		tt_run(&e, e.n2, &r, 0, ms, 6, TGT_DIR_READ, buf, 255);
		expect_state(&r, state_cases[i].mode_sense, asc);
		tt_run(&e, e.n2, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
		expect_state(&r, state_cases[i].tur, asc);
		cdb_rw10(cdb, SCSI_READ_10, 0, 1, 0);
		tt_run(&e, e.n2, &r, 0, cdb, 10, TGT_DIR_READ, buf, 512);
		expect_state(&r, state_cases[i].read, asc);
		tt_run(&e, e.n2, &r, 0, prin, 10, TGT_DIR_READ, buf, 64);
		expect_state(&r, state_cases[i].prin, asc);
		tt_run(&e, e.n2, &r, 0, rl, 12, TGT_DIR_READ, buf, 256);
		expect_state(&r, state_cases[i].report_luns, asc);
		/* An empty STPG list changes nothing. */
		stpg(&e, e.n2, &r, p, 0);
		expect_state(&r, state_cases[i].stpg, asc);
		/* The active port is not affected. */
		tt_run(&e, e.n1, &r, 0, cdb, 10, TGT_DIR_READ, buf, 512);
		tt_expect_good(&r);
	}
	alua_teardown(&e);
}

static void test_alua_ua_and_stpg(void **state)
{
	static const uint8_t tur[6];
	uint8_t p[16], buf[256];
	struct tt e;
	struct tt_res r;
	struct tgt_nexus *n3;

	(void)state;
	alua_setup(&e);
	n3 = tgt_nexus_create(e.t, "iqn.test:init3,i,0x000000000003");
	tgt_nexus_set_port(n3, 1);
	drain_ua(&e, e.n2);
	drain_ua(&e, n3);
	/* STPG from n1: group 1 standby, group 2 active/optimized. */
	memset(p, 0, sizeof(p));
	p[4] = TGT_ALUA_STANDBY;
	scsi_put16(p + 6, 1);
	p[8] = TGT_ALUA_OPTIMIZED;
	scsi_put16(p + 10, 2);
	assert_int_equal(stpg(&e, e.n1, &r, p, 12), GOOD);
	/* Every other nexus hears about it, the issuer does not. */
	tt_run(&e, e.n2, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, ASC_ALUA_CHANGED);
	tt_run(&e, n3, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, ASC_ALUA_CHANGED);
	tt_run(&e, n3, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_NOT_READY, SCSI_ASC(0x04, 0x0b));
	assert_int_equal(rtpg(&e, e.n2, &r, 0, buf, 256), GOOD);
	assert_int_equal(buf[4] & 0x0f, TGT_ALUA_STANDBY);
	assert_int_equal(buf[9], 0x01);		/* altered by STPG */
	assert_int_equal(buf[16] & 0x0f, TGT_ALUA_OPTIMIZED);
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_NOT_READY, SCSI_ASC(0x04, 0x0b));

	/* Invalid descriptors: nothing changes. */
	memset(p, 0, sizeof(p));
	p[4] = TGT_ALUA_OPTIMIZED;
	scsi_put16(p + 6, 1);
	p[8] = TGT_ALUA_TRANSITIONING;		/* not settable */
	scsi_put16(p + 10, 2);
	stpg(&e, e.n2, &r, p, 12);
	tt_expect_field(&r, false, 8, 3);
	p[8] = TGT_ALUA_STANDBY;
	scsi_put16(p + 10, 99);			/* unknown group */
	stpg(&e, e.n2, &r, p, 12);
	tt_expect_field(&r, false, 10, -1);
	scsi_put16(p + 10, 1);			/* the same group twice */
	stpg(&e, e.n2, &r, p, 12);
	tt_expect_field(&r, false, 10, -1);
	p[8] = 0x40 | TGT_ALUA_STANDBY;		/* reserved bits */
	scsi_put16(p + 10, 2);
	stpg(&e, e.n2, &r, p, 12);
	tt_expect_field(&r, false, 8, 7);
	/* Lengths that are not whole descriptors, or too long. */
	stpg(&e, e.n2, &r, p, 10);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
	stpg(&e, e.n2, &r, p, 4);
	tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
			SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
	{
		uint8_t big[4 + 4 * (TGT_ALUA_MAX_GROUPS + 1)];

		memset(big, 0, sizeof(big));
		stpg(&e, e.n2, &r, big, sizeof(big));
		tt_expect_sense(&r, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
	}
	assert_int_equal(rtpg(&e, e.n2, &r, 0, buf, 256), GOOD);
	assert_int_equal(buf[4] & 0x0f, TGT_ALUA_STANDBY);
	assert_int_equal(buf[16] & 0x0f, TGT_ALUA_OPTIMIZED);

	/* An implicit change (the control socket) tells everyone. */
	assert_int_equal(tgt_alua_state_set(1, TGT_ALUA_OPTIMIZED), 0);
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, ASC_ALUA_CHANGED);
	tt_run(&e, e.n2, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, ASC_ALUA_CHANGED);
	assert_int_equal(rtpg(&e, e.n2, &r, 0, buf, 256), GOOD);
	assert_int_equal(buf[9], 0x02);		/* implicit */
	/* Setting the same state again is no change: no UA. */
	assert_int_equal(tgt_alua_state_set(1, TGT_ALUA_OPTIMIZED), 0);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL,
				0), GOOD);
	tgt_nexus_destroy(n3);
	alua_teardown(&e);
}



/* One initiator port through two target ports is two I_T nexuses. */
static void test_alua_pr_ports(void **state)
{
	uint8_t rfs[10] = { SCSI_PERSISTENT_RESERVE_IN, 3, 0, 0, 0, 0, 0, 1,
			    0, 0 };
	uint8_t res6[6] = { SCSI_RESERVE_6 }, rel6[6] = { SCSI_RELEASE_6 };
	uint8_t buf[256];
	struct tgt_nexus *a1, *a2, *b2;
	struct tt e;
	struct tt_res r;

	(void)state;
	tgt_alua_reset();
	assert_int_equal(tgt_alua_group_add(1, TGT_ALUA_OPTIMIZED, false), 0);
	assert_int_equal(tgt_alua_group_add(2, TGT_ALUA_NON_OPTIMIZED, false),
			 0);
	assert_int_equal(tgt_alua_port_add(1, 1), 0);
	assert_int_equal(tgt_alua_port_add(2, 2), 0);
	tt_setup(&e);
	a1 = tgt_nexus_create(e.t, "iqn.test:a,i,0x000000000001");
	a2 = tgt_nexus_create(e.t, "iqn.test:a,i,0x000000000001");
	b2 = tgt_nexus_create(e.t, "iqn.test:b,i,0x000000000002");
	tgt_nexus_set_port(a1, 1);
	tgt_nexus_set_port(a2, 2);
	tgt_nexus_set_port(b2, 2);
	tt_clear_ua(&e, a1);
	tt_clear_ua(&e, a2);
	tt_clear_ua(&e, b2);

	/* Registered through port 1 only: port 2 is not registered. */
	assert_int_equal(tt_prout(&e, a1, &r, 0, 0, 0, 0xa1, 0), GOOD);
	assert_int_equal(tt_prout(&e, a2, &r, 1, 1, 0xa1, 0, 0), RC);
	/* B registers and reserves (Write Exclusive) on port 2; A on port
	 * 1 sees the conflict, B writes. */
	assert_int_equal(tt_prout(&e, b2, &r, 0, 0, 0, 0xb2, 0), GOOD);
	assert_int_equal(tt_prout(&e, b2, &r, 1, 1, 0xb2, 0, 0), GOOD);
	assert_int_equal(tt_wr1(&e, a1, &r), RC);
	assert_int_equal(tt_wr1(&e, a2, &r), RC);
	assert_int_equal(tt_wr1(&e, b2, &r), GOOD);
	/* READ FULL STATUS names each registration's port. */
	assert_int_equal(tt_run(&e, a1, &r, 0, rfs, 10, TGT_DIR_READ, buf,
				256), GOOD);
	assert_int_equal(scsi_get32(buf + 4), 2 * (24 + 32));
	assert_int_equal(scsi_get16(buf + 8 + 18), 1);
	assert_int_equal(scsi_get16(buf + 8 + 56 + 18), 2);
	/* CLEAR: A hears RESERVATIONS PREEMPTED on port 1 only. */
	assert_int_equal(tt_prout(&e, b2, &r, 3, 0, 0xb2, 0, 0), GOOD);
	tt_run(&e, a1, &r, 0, (const uint8_t[6]){ 0 }, 6, TGT_DIR_NONE, NULL,
	       0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION,
			SCSI_ASC_RESERVATIONS_PREEMPTED);
	assert_int_equal(tt_run(&e, a2, &r, 0, (const uint8_t[6]){ 0 }, 6,
				TGT_DIR_NONE, NULL, 0), GOOD);
	/* A registration with ALL_TG_PT counts on every port. */
	assert_int_equal(tt_prout(&e, a1, &r, 0, 0, 0, 0xaa, 0x04), GOOD);
	assert_int_equal(tt_prout(&e, a2, &r, 1, 3, 0xaa, 0, 0), GOOD);
	assert_int_equal(tt_wr1(&e, a1, &r), GOOD);
	assert_int_equal(tt_wr1(&e, b2, &r), RC);
	assert_int_equal(tt_prout(&e, a2, &r, 3, 0, 0xaa, 0, 0), GOOD);
	/* SPC-2 RESERVE through port 1: the other port conflicts. */
	tt_clear_ua(&e, b2);
	tt_clear_ua(&e, a1);
	assert_int_equal(tt_run(&e, a1, &r, 0, res6, 6, TGT_DIR_NONE, NULL, 0),
			 GOOD);
	assert_int_equal(tt_wr1(&e, a2, &r), RC);
	assert_int_equal(tt_wr1(&e, b2, &r), RC);
	assert_int_equal(tt_wr1(&e, a1, &r), GOOD);
	assert_int_equal(tt_run(&e, a1, &r, 0, rel6, 6, TGT_DIR_NONE, NULL, 0),
			 GOOD);
	assert_int_equal(tt_wr1(&e, b2, &r), GOOD);
	tgt_nexus_destroy(a1);
	tgt_nexus_destroy(a2);
	tgt_nexus_destroy(b2);
	alua_teardown(&e);
}

static void test_alua_identity(void **state)
{
	uint8_t vpd80[6] = { SCSI_INQUIRY, 1, 0x80, 0, 255, 0 };
	uint8_t vpd83[6] = { SCSI_INQUIRY, 1, 0x83, 0, 255, 0 };
	uint8_t buf[256];
	struct tt e;
	struct tt_res r;

	(void)state;
	tgt_alua_reset();
	assert_int_equal(tgt_lun_identity_set("mem0", "shared-lu-1",
					      0x6001405abcdef012ull,
					      0x0123456789abcdefull), 0);
	assert_int_equal(tgt_lun_identity_set("x", NULL, 0x5000ull, 0),
			 -EINVAL);		/* not NAA 6 */
	tt_setup(&e);
	tt_clear_ua(&e, e.n1);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, vpd80, 6, TGT_DIR_READ, buf,
				255), GOOD);
	assert_int_equal(scsi_get16(buf + 2), 11);
	assert_memory_equal(buf + 4, "shared-lu-1", 11);
	assert_int_equal(tt_run(&e, e.n1, &r, 0, vpd83, 6, TGT_DIR_READ, buf,
				255), GOOD);
	assert_int_equal(buf[5] & 0x0f, 3);		/* NAA */
	assert_int_equal(scsi_get64(buf + 8), 0x6001405abcdef012ull);
	assert_int_equal(scsi_get64(buf + 16), 0x0123456789abcdefull);
	tt_teardown(&e);
	tgt_lun_identity_clear();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alua_config),
		cmocka_unit_test(test_alua_inquiry),
		cmocka_unit_test(test_alua_rtpg),
		cmocka_unit_test(test_alua_states),
		cmocka_unit_test(test_alua_ua_and_stpg),
		cmocka_unit_test(test_alua_pr_ports),
		cmocka_unit_test(test_alua_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
