/*
 * Shared state between daemons (tgt_ha_ops): persistent reservations
 * published to and reloaded from a store (two LUNs with one NAA id stand
 * for two daemons' views of one LU), a store that refuses a change, a
 * malformed stored state, a store that does not answer, and the events:
 * resets and ALUA state changes told to the ops and applied from them, a
 * changed reservation reloaded into the data path's copy.
 */
#include "tgt_test.h"

#define GOOD SCSI_STATUS_GOOD

static struct {
	uint8_t buf[32768];
	size_t len;
	uint32_t seq;
	int fail;		/* pr_store answers this when nonzero */
	int load_fail;		/* pr_load answers this when nonzero */
	unsigned loads, stores;
	struct tgt_ha_event ev[8];
	unsigned nev;
} store;

static int st_alua_load(void *arg, uint16_t group, enum tgt_alua_state *st)
{
	(void)arg;
	(void)group;
	(void)st;
	return -ENOENT;
}

static int st_alua_store(void *arg, uint16_t group, enum tgt_alua_state st)
{
	(void)arg;
	(void)group;
	(void)st;
	return 0;
}

static int st_pr_load(void *arg, uint64_t naa, void *buf, size_t cap,
		      size_t *len)
{
	(void)arg;
	(void)naa;
	store.loads++;
	if (store.load_fail != 0)
		return store.load_fail;
	if (store.len == 0)
		return -ENOENT;
	assert_true(store.len <= cap);
	memcpy(buf, store.buf, store.len);
	*len = store.len;
	return 0;
}

static int st_pr_store(void *arg, uint64_t naa, uint32_t old, const void *buf,
		       size_t len)
{
	(void)arg;
	(void)naa;
	store.stores++;
	if (store.fail != 0)
		return store.fail;
	if (old != store.seq)
		return -EAGAIN;
	assert_true(len <= sizeof(store.buf));
	memcpy(store.buf, buf, len);
	store.len = len;
	store.seq = old + 1;
	return 0;
}

static void st_notify(void *arg, const struct tgt_ha_event *ev)
{
	(void)arg;
	if (store.nev < 8)
		store.ev[store.nev++] = *ev;
}

static const struct tgt_ha_ops store_ops = {
	.alua_load = st_alua_load,
	.alua_store = st_alua_store,
	.pr_load = st_pr_load,
	.pr_store = st_pr_store,
	.notify = st_notify,
};


/* READ KEYS through n: the number of keys, the first in *key. */
static unsigned read_keys(struct tt *e, struct tgt_nexus *n, uint64_t *key)
{
	uint8_t cdb[10] = { SCSI_PERSISTENT_RESERVE_IN, 0, 0, 0, 0, 0, 0, 0,
			    64, 0 };
	uint8_t buf[64];
	struct tt_res r;

	assert_int_equal(tt_run(e, n, &r, 0, cdb, 10, TGT_DIR_READ, buf, 64),
			 GOOD);
	*key = scsi_get64(buf + 8);
	return scsi_get32(buf + 4) / 8;
}

/* A second "daemon": another target with its own LUN on the same bdev
 * and the same identity, and a nexus on it. */
struct peer {
	struct tgt_lun *lun;
	struct tgt_target *t;
	struct tgt_nexus *n;
};

static void peer_setup(struct tt *e, struct peer *p)
{
	struct tgt_lun_params lp = { .serial = "ha-lu",
				     .naa_id = 0x6001405000000042ull };

	p->lun = tgt_lun_create(e->bd, &lp);
	assert_non_null(p->lun);
	p->t = tgt_target_create("iqn.2026-11.org.scsikit:peer");
	assert_int_equal(tgt_target_add_lun(p->t, 0, p->lun), 0);
	p->n = tgt_nexus_create(p->t, "iqn.test:peer,i,0x000000000009");
	tt_clear_ua(e, p->n);
}

static void peer_teardown(struct peer *p)
{
	tgt_nexus_destroy(p->n);
	tgt_target_release(p->t);
	tgt_lun_release(p->lun);
}

static void test_ha_pr_store(void **state)
{
	struct tgt_lun_params lp = { .serial = "ha-lu",
				     .naa_id = 0x6001405000000042ull };
	struct tt e;
	struct tt_res r;
	struct peer p;
	uint64_t key = 0;

	(void)state;
	memset(&store, 0, sizeof(store));
	tgt_ha_ops_set(&store_ops, NULL);
	tt_setup_bdev(&e, bdev_mem_create("mem0", 1 << 20, 512, false), &lp);
	peer_setup(&e, &p);
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);

	/* Registered through one view, seen through the other. */
	assert_int_equal(tt_prout(&e, e.n1, &r, 0, 0, 0, 0xa1, 0), GOOD);
	assert_int_equal(store.seq, 1);
	assert_int_equal(read_keys(&e, p.n, &key), 1);
	assert_int_equal(key, 0xa1);
	/* The peer reserves (Write Exclusive); the first view's other
	 * nexus conflicts once it reloads (its next PR command). */
	assert_int_equal(tt_prout(&e, p.n, &r, 0, 0, 0, 0xb2, 0), GOOD);
	assert_int_equal(tt_prout(&e, p.n, &r, 1, 1, 0xb2, 0, 0), GOOD);
	assert_int_equal(read_keys(&e, e.n2, &key), 2);
	assert_int_equal(tt_wr1(&e, e.n2, &r), SCSI_STATUS_RESERVATION_CONFLICT);
	assert_int_equal(tt_prout(&e, e.n1, &r, 1, 1, 0xa1, 0, 0),
			 SCSI_STATUS_RESERVATION_CONFLICT);

	/* A store that refuses: BUSY, and nothing changed. */
	store.fail = -EAGAIN;
	assert_int_equal(tt_prout(&e, e.n2, &r, 0, 0, 0, 0xc3, 0),
			 SCSI_STATUS_BUSY);
	store.fail = 0;
	assert_int_equal(read_keys(&e, e.n2, &key), 2);

	/* A malformed stored state is ignored (the local one stays). */
	store.buf[7] = 200;	/* more registrations than allowed */
	assert_int_equal(read_keys(&e, e.n2, &key), 2);
	store.buf[7] = 2;
	store.len -= 3;		/* truncated */
	assert_int_equal(read_keys(&e, e.n2, &key), 2);
	store.len += 3;

	assert_int_equal(tt_prout(&e, p.n, &r, 3, 0, 0xb2, 0, 0), GOOD); /* CLEAR */
	assert_int_equal(read_keys(&e, e.n1, &key), 0);
	peer_teardown(&p);
	tt_teardown(&e);
	tgt_ha_ops_set(NULL, NULL);
}

static void test_ha_events(void **state)
{
	static const uint8_t tur[6];
	struct tgt_lun_params lp = { .serial = "ha-lu",
				     .naa_id = 0x6001405000000042ull };
	struct tgt_ha_event ev;
	struct tt e;
	struct tt_res r;

	(void)state;
	memset(&store, 0, sizeof(store));
	tgt_alua_reset();
	assert_int_equal(tgt_alua_group_add(1, TGT_ALUA_OPTIMIZED, false), 0);
	assert_int_equal(tgt_alua_group_add(2, TGT_ALUA_STANDBY, true), 0);
	assert_int_equal(tgt_alua_port_add(1, 1), 0);
	assert_int_equal(tgt_alua_port_add(2, 2), 0);
	tgt_ha_ops_set(&store_ops, NULL);
	tt_setup_bdev(&e, bdev_mem_create("mem0", 1 << 20, 512, false), &lp);
	tt_clear_ua(&e, e.n1);

	/* Changes made here are told. */
	assert_int_equal(tgt_alua_state_set(2, TGT_ALUA_NON_OPTIMIZED), 0);
	assert_int_equal(store.nev, 1);
	assert_int_equal(store.ev[0].kind, TGT_HA_ALUA_STATE);
	assert_int_equal(store.ev[0].group, 2);
	assert_int_equal(store.ev[0].state, TGT_ALUA_NON_OPTIMIZED);
	assert_int_equal(tgt_tmf(e.t, e.n1, TGT_TMF_LUN_RESET, 0), 0);
	assert_int_equal(store.nev, 2);
	assert_int_equal(store.ev[1].kind, TGT_HA_LU_RESET);
	assert_true(store.ev[1].naa == lp.naa_id);
	assert_false(store.ev[1].power_on);
	tt_clear_ua(&e, e.n1);

	/* Events from elsewhere are applied, and not told again. */
	ev = (struct tgt_ha_event){ .kind = TGT_HA_LU_RESET,
				    .naa = lp.naa_id, .power_on = true };
	assert_int_equal(tgt_ha_event_apply(&ev), 0);
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC_POWER_ON_RESET);
	ev.naa = 0x6001405000000043ull;
	assert_int_equal(tgt_ha_event_apply(&ev), -ENOENT);
	ev = (struct tgt_ha_event){ .kind = TGT_HA_ALUA_STATE, .group = 1,
				    .state = TGT_ALUA_STANDBY };
	assert_int_equal(tgt_ha_event_apply(&ev), 0);
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_UNIT_ATTENTION, SCSI_ASC(0x2a, 0x06));
	tt_run(&e, e.n1, &r, 0, tur, 6, TGT_DIR_NONE, NULL, 0);
	tt_expect_sense(&r, SCSI_SK_NOT_READY, SCSI_ASC(0x04, 0x0b));
	ev.group = 7;
	assert_int_equal(tgt_ha_event_apply(&ev), -ENOENT);
	ev.kind = 99;
	assert_int_equal(tgt_ha_event_apply(&ev), -EINVAL);
	assert_int_equal(store.nev, 2);
	tt_teardown(&e);
	tgt_ha_ops_set(NULL, NULL);
	tgt_alua_reset();
}

/* The store does not answer: PR commands get NOT READY / LOGICAL UNIT
 * COMMUNICATION FAILURE (not BUSY, which means "retry now"), the LU keeps
 * what it had; a changed reservation told by event reaches the data path
 * (WRITE conflicts) without any PR command on this view. */
static void test_ha_store_down(void **state)
{
	static const uint8_t rk[10] = { SCSI_PERSISTENT_RESERVE_IN, 0, 0, 0,
					0, 0, 0, 0, 64, 0 };
	struct tgt_lun_params lp = { .serial = "ha-lu",
				     .naa_id = 0x6001405000000042ull };
	struct tgt_ha_event ev = { .kind = TGT_HA_PR_CHANGED,
				   .naa = lp.naa_id };
	uint8_t buf[64];
	struct tt e;
	struct tt_res r;
	struct peer p;
	uint64_t key = 0;

	(void)state;
	memset(&store, 0, sizeof(store));
	tgt_ha_ops_set(&store_ops, NULL);
	tt_setup_bdev(&e, bdev_mem_create("mem0", 1 << 20, 512, false), &lp);
	peer_setup(&e, &p);
	tt_clear_ua(&e, e.n1);
	tt_clear_ua(&e, e.n2);

	assert_int_equal(tt_prout(&e, e.n1, &r, 0, 0, 0, 0xa1, 0), GOOD);
	store.load_fail = -ETIMEDOUT;
	tt_run(&e, e.n1, &r, 0, rk, 10, TGT_DIR_READ, buf, 64);
	tt_expect_sense(&r, SCSI_SK_NOT_READY,
			SCSI_ASC_LUN_COMMUNICATION_FAILURE);
	tt_prout(&e, e.n1, &r, 1, 1, 0xa1, 0, 0);
	tt_expect_sense(&r, SCSI_SK_NOT_READY,
			SCSI_ASC_LUN_COMMUNICATION_FAILURE);
	assert_int_equal(tgt_ha_event_apply(&ev), -ETIMEDOUT);
	store.load_fail = 0;
	store.fail = -ETIMEDOUT;	/* loads, cannot publish */
	tt_prout(&e, e.n1, &r, 1, 1, 0xa1, 0, 0);
	tt_expect_sense(&r, SCSI_SK_NOT_READY,
			SCSI_ASC_LUN_COMMUNICATION_FAILURE);
	store.fail = 0;
	assert_int_equal(read_keys(&e, e.n1, &key), 1);
	assert_int_equal(key, 0xa1);

	/* The peer reserves; this view learns it from the event alone. */
	assert_int_equal(tt_prout(&e, p.n, &r, 0, 0, 0, 0xb2, 0), GOOD);
	assert_int_equal(tt_prout(&e, p.n, &r, 1, 1, 0xb2, 0, 0), GOOD);
	assert_int_equal(tt_wr1(&e, e.n2, &r), GOOD);	/* stale copy */
	assert_int_equal(tgt_ha_event_apply(&ev), 0);
	assert_int_equal(tt_wr1(&e, e.n2, &r),
			 SCSI_STATUS_RESERVATION_CONFLICT);
	ev.naa = 0;			/* every LU */
	assert_int_equal(tgt_ha_event_apply(&ev), 0);
	ev.naa = 0x6001405000000043ull;
	assert_int_equal(tgt_ha_event_apply(&ev), -ENOENT);

	assert_int_equal(tt_prout(&e, p.n, &r, 3, 0, 0xb2, 0, 0), GOOD);
	peer_teardown(&p);
	tt_teardown(&e);
	tgt_ha_ops_set(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ha_pr_store),
		cmocka_unit_test(test_ha_events),
		cmocka_unit_test(test_ha_store_down),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
