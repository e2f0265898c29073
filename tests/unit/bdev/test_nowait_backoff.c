/*
 * Unit tests of the inline-read back-off arithmetic (nowait_backoff.h),
 * without a page cache: a run of refusals leads to one attempt in
 * NOWAIT_BACKOFF, a success returns to trying every read, and a success
 * during the back-off resets it.
 */
#include "bdev_test.h"
#include "bdev/nowait_backoff.h"

/* Run n reads against a cache that answers `hit` for each attempt;
 * returns the number of attempts made. */
static unsigned run(unsigned *streak, unsigned n, bool hit)
{
	unsigned tries = 0, seen;

	for (unsigned i = 0; i < n; i++) {
		if (!nowait_backoff_try(streak, &seen))
			continue;
		tries++;
		if (hit)
			nowait_backoff_hit(streak, seen);
		else
			nowait_backoff_miss(streak, seen);
	}
	return tries;
}

static void test_backoff_cold(void **state)
{
	unsigned streak = 0;

	(void)state;
	/* The first NOWAIT_BACKOFF reads are all tried. */
	assert_int_equal(run(&streak, NOWAIT_BACKOFF, false), NOWAIT_BACKOFF);
	assert_int_equal(streak, NOWAIT_BACKOFF);
	/* Then one in NOWAIT_BACKOFF, the first at once. */
	assert_int_equal(run(&streak, 1, false), 1);
	assert_int_equal(run(&streak, NOWAIT_BACKOFF - 1, false), 0);
	assert_int_equal(run(&streak, 10 * NOWAIT_BACKOFF, false), 10);
	/* 128 cold reads from scratch: 16 + 7 probes. */
	streak = 0;
	assert_int_equal(run(&streak, 128, false), 16 + 7);
}

static void test_backoff_recovers(void **state)
{
	unsigned streak = 0;

	(void)state;
	run(&streak, 5 * NOWAIT_BACKOFF, false);
	/* The data became cached: at most NOWAIT_BACKOFF reads until a
	 * probe finds it, every read tried from then on. */
	{
		unsigned skipped = 0, seen;

		while (!nowait_backoff_try(&streak, &seen))
			skipped++;
		assert_true(skipped < NOWAIT_BACKOFF);
		nowait_backoff_hit(&streak, seen);
	}
	assert_int_equal(streak, 0);
	assert_int_equal(run(&streak, 100, true), 100);
	/* Misses below the threshold keep trying; a hit clears them. */
	assert_int_equal(run(&streak, NOWAIT_BACKOFF - 1, false),
			 NOWAIT_BACKOFF - 1);
	assert_int_equal(run(&streak, 1, true), 1);
	assert_int_equal(streak, 0);
	assert_int_equal(run(&streak, NOWAIT_BACKOFF, false), NOWAIT_BACKOFF);
}

static void test_backoff_wraps(void **state)
{
	unsigned streak = ~0u - 2, seen;

	(void)state;
	/* Years of back-off wrap the counter to 0: tried again, no trap. */
	for (int i = 0; i < 3; i++)
		(void)nowait_backoff_try(&streak, &seen);
	assert_int_equal(streak, 0);
	assert_true(nowait_backoff_try(&streak, &seen));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_cold),
		cmocka_unit_test(test_backoff_recovers),
		cmocka_unit_test(test_backoff_wraps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
