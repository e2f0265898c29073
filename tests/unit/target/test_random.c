/*
 * Robustness: many random CDBs (every implemented opcode with random bytes,
 * plus random unknown opcodes), random data lengths and directions, random
 * aborts and task management, from two nexuses at once, on a small LUN.
 * Every task must complete exactly once with a sane status and residual,
 * and nothing may be left allocated at the end (run under ASan too).
 */
#include "tgt_test.h"

#define NTASKS 24
#define NROUNDS 20000

struct slot {
	struct tt_res r;
	uint8_t *buf;
	bool busy;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic, so failures reproduce. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned nstatus[256], naborted;

static void check_done(struct slot *s)
{
	struct tgt_task *t = &s->r.task;

	nstatus[t->status]++;
	naborted += t->aborted;
	assert_int_equal(s->r.ndone, 1);
	switch (t->status) {
	case SCSI_STATUS_GOOD:
	case SCSI_STATUS_CHECK_CONDITION:
	case SCSI_STATUS_RESERVATION_CONFLICT:
	case SCSI_STATUS_TASK_ABORTED:
	case SCSI_STATUS_TASK_SET_FULL:
		break;
	default:
		fail_msg("status 0x%02x", t->status);
	}
	if (t->status == SCSI_STATUS_CHECK_CONDITION) {
		struct scsi_sense sn;

		assert_true(t->sense_len >= 8);
		assert_int_equal(scsi_sense_parse(t->sense, t->sense_len, &sn),
				 0);
	}
	assert_true(t->xfer_done <= t->data_len);
	s->busy = false;
}

static void test_random_cdbs(void **state)
{
	struct tt e;
	struct slot slots[NTASKS];
	unsigned round, i;

	(void)state;
	if (getenv("SK_TEST_SEED") != NULL)
		rng_state = strtoull(getenv("SK_TEST_SEED"), NULL, 0) | 1;
	tt_setup_bdev(&e, bdev_mem_create("small", 1 << 20, 512, false), NULL);
	memset(slots, 0, sizeof(slots));
	for (i = 0; i < NTASKS; i++)
		slots[i].buf = calloc(1, 65536);
	for (round = 0; round < NROUNDS; round++) {
		struct slot *s = &slots[rnd() % NTASKS];
		struct tgt_nexus *n = (rnd() & 1) ? e.n1 : e.n2;
		uint8_t cdb[16];
		unsigned k, len;
		uint32_t dlen;
		uint64_t r = rnd();

		if (s->busy) {
			ev_loop_run_once(e.loop, 0);
			if (s->r.ndone == 0)
				continue;
			check_done(s);
		}
		for (k = 0; k < 16; k++)
			cdb[k] = (uint8_t)rnd();
		if (r % 8 != 0) {
			const struct tgt_cmd_desc *d =
				&tgt_cmd_table[rnd() % tgt_cmd_table_len];

			cdb[0] = d->opcode;
			if (d->flags & TGT_CF_SA)
				cdb[1] = (uint8_t)((cdb[1] & 0xe0) | d->sa);
			/* Mostly valid bits, so handlers get past the
			 * generic checks. */
			for (k = 1; k < d->cdb_len && (r & 0x10); k++)
				cdb[k] &= d->mask[k];
			/* Keep LBAs and lengths small most of the time. */
			if (r & 0x20)
				for (k = 2; k + 2u < d->cdb_len; k++)
					cdb[k] = (uint8_t)(rnd() % 3 == 0 ?
							   cdb[k] & 0x3 : 0);
		}
		len = 16;
		dlen = (uint32_t)(rnd() % 4 == 0 ? 0 : rnd() % 65537);
		tt_submit(&e, n, &s->r, rnd() % 4 == 0 ? rnd() % 3 : 0, cdb,
			  len, (enum tgt_dir)(rnd() % 3), s->buf, dlen);
		s->busy = true;
		if (rnd() % 16 == 0)
			tgt_task_abort(&s->r.task);
		if (rnd() % 200 == 0)
			tgt_tmf(e.t, n, (enum tgt_tmf)(1 + rnd() % 6), 0);
		ev_loop_run_once(e.loop, 0);
		for (i = 0; i < NTASKS; i++)
			if (slots[i].busy && slots[i].r.ndone > 0)
				check_done(&slots[i]);
	}
	for (i = 0; i < NTASKS; i++) {
		if (slots[i].busy) {
			tt_wait(&e, &slots[i].r);
			check_done(&slots[i]);
		}
		free(slots[i].buf);
	}
	print_message("good %u check %u conflict %u aborted %u\n",
		      nstatus[SCSI_STATUS_GOOD],
		      nstatus[SCSI_STATUS_CHECK_CONDITION],
		      nstatus[SCSI_STATUS_RESERVATION_CONFLICT], naborted);
	/* The mix must reach the handlers, not only the generic checks. */
	assert_true(nstatus[SCSI_STATUS_GOOD] > NROUNDS / 20);
	tt_teardown(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_cdbs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
