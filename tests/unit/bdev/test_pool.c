/*
 * Unit tests of the worker pool: every job runs once, jobs really run in
 * parallel on the configured number of threads, shutdown drains the queue
 * and joins, and the pool starts again afterwards.  The hand-off between
 * a submitter and idle workers is covered too: jobs submitted one at a
 * time, with gaps from none to tens of microseconds, are never stranded,
 * and a burst arriving just after a worker went idle still runs in
 * parallel.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "bdev_test.h"

static unsigned job_count;

static void job_inc(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&job_count, 1, __ATOMIC_RELAXED);
}

static void job_slow(void *arg)
{
	struct timespec ts = { 0, 2000000 };

	(void)arg;
	nanosleep(&ts, NULL);
	__atomic_add_fetch(&job_count, 1, __ATOMIC_RELAXED);
}

/* Jobs that wait for each other: they finish only if n run at once. */
struct rendezvous {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned arrived, want;
	bool timed_out;
};

static void job_meet(void *arg)
{
	struct rendezvous *r = arg;
	struct timespec dl;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5;
	pthread_mutex_lock(&r->mu);
	r->arrived++;
	pthread_cond_broadcast(&r->cv);
	while (r->arrived < r->want) {
		if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT) {
			r->timed_out = true;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
}

static void test_pool_runs_everything(void **state)
{
	(void)state;
	job_count = 0;
	bdev_pool_init(3);
	assert_int_equal(bdev_pool_run(NULL, NULL), -EINVAL);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(bdev_pool_run(job_inc, NULL), 0);
	for (int i = 0; i < 50; i++)
		assert_int_equal(bdev_pool_run(job_slow, NULL), 0);
	/* Shutdown drains what is queued before joining. */
	bdev_pool_shutdown();
	assert_int_equal(job_count, 10050);
	bdev_pool_shutdown(); /* idempotent */

	/* And it starts again. */
	assert_int_equal(bdev_pool_run(job_inc, NULL), 0);
	bdev_pool_shutdown();
	assert_int_equal(job_count, 10051);
}

static void test_pool_parallel(void **state)
{
	struct rendezvous r = { PTHREAD_MUTEX_INITIALIZER,
				PTHREAD_COND_INITIALIZER, 0, 3, false };

	(void)state;
	bdev_pool_init(3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(bdev_pool_run(job_meet, &r), 0);
	bdev_pool_shutdown();
	assert_int_equal(r.arrived, 3);
	assert_false(r.timed_out);
	bdev_pool_init(0); /* back to the default */
}

/* One job at a time, each waited for, with gaps of 0-40 us: the job lands
 * with a worker just going idle, already asleep, or in between. */
static void test_pool_stream(void **state)
{
	(void)state;
	job_count = 0;
	bdev_pool_init(2);
	for (unsigned i = 0; i < 10000; i++) {
		struct timespec gap = { 0, (long)(i % 5) * 10000 };
		struct timespec tick = { 0, 1000 };
		unsigned spins = 0;

		assert_int_equal(bdev_pool_run(job_inc, NULL), 0);
		/* Bounded: 2 s of 1 us naps (really longer) is plenty. */
		while (__atomic_load_n(&job_count, __ATOMIC_RELAXED) != i + 1 &&
		       spins++ < 2000000)
			if (spins > 1000)
				nanosleep(&tick, NULL);
		assert_int_equal(__atomic_load_n(&job_count, __ATOMIC_RELAXED),
				 i + 1);
		if (gap.tv_nsec > 0)
			nanosleep(&gap, NULL);
	}
	bdev_pool_shutdown();
	assert_int_equal(job_count, 10000);
}

/* A burst right after a job (so that a worker is just going idle) must
 * still wake enough workers to run side by side. */
static void test_pool_burst_after_spin(void **state)
{
	(void)state;
	bdev_pool_init(3);
	for (int round = 0; round < 50; round++) {
		struct rendezvous r = { PTHREAD_MUTEX_INITIALIZER,
					PTHREAD_COND_INITIALIZER, 0, 3,
					false };
		unsigned before = __atomic_load_n(&job_count,
						  __ATOMIC_RELAXED);

		assert_int_equal(bdev_pool_run(job_inc, NULL), 0);
		while (__atomic_load_n(&job_count, __ATOMIC_RELAXED) == before)
			;
		for (int i = 0; i < 3; i++)
			assert_int_equal(bdev_pool_run(job_meet, &r), 0);
		/* Wait for all three: shutdown would drain anyway, but a
		 * stranded job would show up as a timeout. */
		pthread_mutex_lock(&r.mu);
		while (r.arrived < 3 && !r.timed_out)
			pthread_cond_wait(&r.cv, &r.mu);
		pthread_mutex_unlock(&r.mu);
		bdev_pool_shutdown();
		assert_int_equal(r.arrived, 3);
		assert_false(r.timed_out);
		bdev_pool_init(3);
	}
	bdev_pool_init(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pool_runs_everything),
		cmocka_unit_test(test_pool_parallel),
		cmocka_unit_test(test_pool_stream),
		cmocka_unit_test(test_pool_burst_after_spin),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
