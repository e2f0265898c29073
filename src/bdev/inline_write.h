/*
 * The decisions of the file backend's inline write (file_inline.c), kept
 * apart so that they can be tested without a file system that answers
 * EAGAIN on demand.
 *
 * A small buffered write (up to FILE_NOWAIT_MAX; with `inline_write` up to
 * IW_MAX_BLOCKING) is first tried on the submitting reactor with
 * pwritev2(RWF_NOWAIT): where the file system supports it (XFS, btrfs) the
 * kernel copies into the page cache or refuses with EAGAIN without
 * sleeping.  ext4 (checked on 6.18) refuses the flag for buffered writes
 * with EOPNOTSUPP; then the write is done inline with a plain pwritev only
 * if the disk was opened with `inline_write`, because such a write may
 * sleep (dirty-page throttling, reclaim, the inode lock, a journal start)
 * and a reactor that sleeps stalls every connection it serves.  Each such
 * write is timed; one that took longer than the slow threshold (it slept)
 * turns blocking inline writes off for IW_PAUSE_NS, so sustained throttling
 * costs a stall now and then, not on every write.
 */
#ifndef SK_BDEV_INLINE_WRITE_H
#define SK_BDEV_INLINE_WRITE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A 4 KiB write into the page cache costs 3-50 us of CPU on ext4
 * (docs/performance.md).  The time is wall-clock, so it includes being
 * preempted: on a loaded two-core machine a 1 ms threshold fired on
 * preemption alone often enough to keep inline writes off most of the
 * time (measured).  Dirty-page throttling sleeps for tens of ms. */
#define IW_SLOW_NS 10000000ull
/* The longest write done inline with `inline_write`: 128 KiB sequential
 * writes over NBD cost ~20% less server CPU inline than on io_uring's
 * workers; 1 MiB bought no more there and left the reactor busy longer
 * (measured, docs/performance.md).  Without the option only writes up to
 * FILE_NOWAIT_MAX are tried (RWF_NOWAIT), as for reads. */
#define IW_MAX_BLOCKING (128u * 1024)
/* How long blocking inline writes stay off after a slow one. */
#define IW_PAUSE_NS 1000000000ull

enum iw_verdict {
	IW_DONE,	/* the whole write is in the page cache */
	IW_ENGINE,	/* give it to the engine, which redoes all of it */
	IW_NO_NOWAIT,	/* RWF_NOWAIT refused for writes: stop asking */
};

/* What to make of pwritev2/pwritev returning n (errno err) for a write of
 * len bytes.  A short write or an error (EAGAIN, ENOSPC, EIO...) goes to
 * the engine, which writes the whole range again and gives the
 * authoritative answer; rewriting the bytes a short write already wrote
 * is harmless (same data, same place). */
static inline enum iw_verdict iw_verdict(ssize_t n, int err, uint64_t len,
					 bool nowait)
{
	if (n >= 0 && (uint64_t)n == len)
		return IW_DONE;
	if (nowait && n < 0 &&
	    (err == EOPNOTSUPP || err == ENOSYS || err == EINVAL))
		return IW_NO_NOWAIT;
	return IW_ENGINE;
}

/* Whether a blocking inline write may be tried at `now` (ns). */
static inline bool iw_blocking_ok(const uint64_t *off_until, uint64_t now)
{
	return now >= __atomic_load_n(off_until, __ATOMIC_RELAXED);
}

/* A blocking inline write ran from t0 to t1: true if it was slow, and then
 * blocking inline writes are off until t1 + IW_PAUSE_NS. */
static inline bool iw_blocking_done(uint64_t *off_until, uint64_t slow_ns,
				    uint64_t t0, uint64_t t1)
{
	if (t1 - t0 <= slow_ns)
		return false;
	__atomic_store_n(off_until, t1 + IW_PAUSE_NS, __ATOMIC_RELAXED);
	return true;
}

#endif
