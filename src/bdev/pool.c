/*
 * The worker pool for blocking backends (file, and anything else that must
 * call a system call that can sleep).  Reactors hand it a function; a
 * worker runs it, and the function completes its I/O back onto the
 * submitting reactor with bdev_io_complete_remote().
 *
 * One queue, a ring of (fn, arg) that grows as needed so that queueing
 * allocates nothing in the steady state; N threads started on first use.
 * bdev_pool_shutdown() lets the workers drain the queue, joins them, and
 * leaves the pool ready to start again on the next bdev_pool_run().
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/log.h>

#include "bdev/bdev_int.h"

#define POOL_DEFAULT_THREADS 4
#define POOL_MAX_THREADS 256

struct pool_job {
	bdev_pool_fn fn;
	void *arg;
};

/* Pool state machine: IDLE (no threads) -> RUNNING (first run) ->
 * STOPPING (shutdown: draining, joining) -> IDLE. */
enum pool_state {
	POOL_IDLE = 0,
	POOL_RUNNING,
	POOL_STOPPING,
};

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static enum pool_state pool_state = POOL_IDLE;
static unsigned pool_want = POOL_DEFAULT_THREADS;
static pthread_t *pool_threads;
static unsigned pool_nthreads;
static struct pool_job *pool_ring;
static size_t pool_cap, pool_head, pool_count;

static void *pool_worker(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "sk-bdev-%u", (unsigned)(uintptr_t)arg);
	pthread_setname_np(pthread_self(), name);
	pthread_mutex_lock(&pool_mu);
	for (;;) {
		struct pool_job job;

		while (pool_count == 0 && pool_state == POOL_RUNNING)
			pthread_cond_wait(&pool_cv, &pool_mu);
		/* Stopping still drains: a queued job is an I/O somebody
		 * waits for. */
		if (pool_count == 0)
			break;
		job = pool_ring[pool_head];
		pool_head = (pool_head + 1) % pool_cap;
		pool_count--;
		pthread_mutex_unlock(&pool_mu);
		job.fn(job.arg);
		pthread_mutex_lock(&pool_mu);
	}
	pthread_mutex_unlock(&pool_mu);
	return NULL;
}

void bdev_pool_init(unsigned nthreads)
{
	pthread_mutex_lock(&pool_mu);
	if (nthreads == 0)
		nthreads = POOL_DEFAULT_THREADS;
	if (nthreads > POOL_MAX_THREADS)
		nthreads = POOL_MAX_THREADS;
	/* Takes effect at the next start if the pool is running now. */
	pool_want = nthreads;
	pthread_mutex_unlock(&pool_mu);
}

/* Start the workers; pool_mu held.  Signals are blocked in the workers so
 * that the daemon's handlers run on its own threads. */
static int pool_start(void)
{
	sigset_t all, old;
	int rc = 0;

	pool_threads = calloc(pool_want, sizeof(*pool_threads));
	if (pool_threads == NULL)
		return -ENOMEM;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (pool_nthreads = 0; pool_nthreads < pool_want; pool_nthreads++) {
		rc = pthread_create(&pool_threads[pool_nthreads], NULL,
				    pool_worker,
				    (void *)(uintptr_t)pool_nthreads);
		if (rc != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pool_nthreads == 0) {
		free(pool_threads);
		pool_threads = NULL;
		return -rc;
	}
	if (rc != 0)
		log_warn("bdev pool: started %u of %u workers: %s",
			 pool_nthreads, pool_want, strerror(rc));
	pool_state = POOL_RUNNING;
	return 0;
}

int bdev_pool_run(bdev_pool_fn work, void *arg)
{
	int rc;

	if (work == NULL)
		return -EINVAL;
	pthread_mutex_lock(&pool_mu);
	if (pool_state == POOL_STOPPING) {
		rc = -ESHUTDOWN;
		goto out_unlock;
	}
	if (pool_state == POOL_IDLE) {
		rc = pool_start();
		if (rc != 0)
			goto out_unlock;
	}
	if (pool_count == pool_cap) {
		size_t ncap = pool_cap ? pool_cap * 2 : 64;
		struct pool_job *nr = malloc(ncap * sizeof(*nr));

		if (nr == NULL) {
			rc = -ENOMEM;
			goto out_unlock;
		}
		/* Unroll the ring into the new array. */
		for (size_t i = 0; i < pool_count; i++)
			nr[i] = pool_ring[(pool_head + i) % pool_cap];
		free(pool_ring);
		pool_ring = nr;
		pool_cap = ncap;
		pool_head = 0;
	}
	pool_ring[(pool_head + pool_count) % pool_cap] =
		(struct pool_job){ work, arg };
	pool_count++;
	pthread_cond_signal(&pool_cv);
	rc = 0;
out_unlock:
	pthread_mutex_unlock(&pool_mu);
	return rc;
}

void bdev_pool_shutdown(void)
{
	pthread_t *threads;
	unsigned n;

	pthread_mutex_lock(&pool_mu);
	if (pool_state != POOL_RUNNING) {
		pthread_mutex_unlock(&pool_mu);
		return;
	}
	pool_state = POOL_STOPPING;
	threads = pool_threads;
	n = pool_nthreads;
	pthread_cond_broadcast(&pool_cv);
	pthread_mutex_unlock(&pool_mu);

	for (unsigned i = 0; i < n; i++)
		pthread_join(threads[i], NULL);

	pthread_mutex_lock(&pool_mu);
	free(threads);
	pool_threads = NULL;
	pool_nthreads = 0;
	free(pool_ring);
	pool_ring = NULL;
	pool_cap = pool_head = pool_count = 0;
	pool_state = POOL_IDLE;
	pthread_mutex_unlock(&pool_mu);
}
