/*
 * The back-off of the file backend's inline read attempts, kept apart so
 * that its arithmetic can be tested without a page cache.
 *
 * A read tried inline (preadv2 with RWF_NOWAIT) that finds its data
 * uncached costs a refused system call before the worker pool does the
 * read anyway.  After NOWAIT_BACKOFF refusals in a row (a working set
 * larger than memory) only one read in NOWAIT_BACKOFF is tried; one
 * success returns to trying every read.  The streak is shared by every
 * reactor using the disk and updated with relaxed atomics, racily on
 * purpose: it is only a hint.
 */
#ifndef SK_BDEV_NOWAIT_BACKOFF_H
#define SK_BDEV_NOWAIT_BACKOFF_H

#include <stdbool.h>

#define NOWAIT_BACKOFF 16u

/* Whether to try this read inline; *seen receives the streak the
 * decision was made on, for nowait_backoff_hit/miss. */
static inline bool nowait_backoff_try(unsigned *streak, unsigned *seen)
{
	unsigned s = __atomic_load_n(streak, __ATOMIC_RELAXED);

	*seen = s;
	if (s < NOWAIT_BACKOFF)
		return true;
	/* Backing off: every read counts, one in NOWAIT_BACKOFF probes.
	 * (Wrapping past UINT_MAX lands on 0: back to trying, harmless.) */
	__atomic_store_n(streak, s + 1, __ATOMIC_RELAXED);
	return s % NOWAIT_BACKOFF == 0;
}

/* The attempt copied the whole read from the cache. */
static inline void nowait_backoff_hit(unsigned *streak, unsigned seen)
{
	if (seen != 0)
		__atomic_store_n(streak, 0, __ATOMIC_RELAXED);
}

/* The attempt was refused (data not cached). */
static inline void nowait_backoff_miss(unsigned *streak, unsigned seen)
{
	if (seen < NOWAIT_BACKOFF)
		__atomic_store_n(streak, seen + 1, __ATOMIC_RELAXED);
}

#endif
