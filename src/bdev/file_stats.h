/*
 * Counters of the file backend's two read paths (inline from the page
 * cache on the reactor, or on the worker pool), for the unit tests and for
 * judging the inline path under a benchmark.  Internal: not installed.
 */
#ifndef SK_BDEV_FILE_STATS_H
#define SK_BDEV_FILE_STATS_H

#include <stdint.h>

#include <scsikit/bdev.h>

struct bdev_file_counts {
	uint64_t inline_reads;	/* reads completed from the page cache on
				 * the submitting reactor */
	uint64_t pool_ios;	/* I/Os of any type run on the worker pool */
	uint64_t inline_misses;	/* inline attempts refused (not cached) */
	uint64_t uring_ios;	/* I/Os completed through an io_uring */
};

/* bd must be a file bdev (bdev_backend(bd) is "file"). */
void bdev_file_counts(struct bdev *bd, struct bdev_file_counts *c);

#endif
