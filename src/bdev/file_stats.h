/*
 * Counters of the file backend's two read paths (inline from the page
 * cache on the reactor, or on the worker pool), for the unit tests and for
 * judging the inline path under a benchmark.  Internal: not installed.
 */
#ifndef SK_BDEV_FILE_STATS_H
#define SK_BDEV_FILE_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include <scsikit/bdev.h>

struct bdev_file_counts {
	uint64_t inline_reads;	/* reads completed from the page cache on
				 * the submitting reactor */
	uint64_t pool_ios;	/* I/Os of any type run on the worker pool */
	uint64_t inline_misses;	/* inline attempts refused (not cached) */
	uint64_t uring_ios;	/* I/Os completed through an io_uring */
	uint64_t inline_writes;	/* writes completed on the submitting
				 * reactor (file.c, inline_write.h) */
	uint64_t write_misses;	/* inline writes left to the engine (EAGAIN,
				 * short, error) */
	uint64_t slow_writes;	/* blocking inline writes that slept */
};

/* bd must be a file bdev (bdev_backend(bd) is "file"). */
void bdev_file_counts(struct bdev *bd, struct bdev_file_counts *c);

/* For tests: the duration from which a blocking inline write counts as
 * slow (default IW_SLOW_NS; 0 makes every one slow). */
void bdev_file_set_inline_slow(struct bdev *bd, uint64_t ns);

/* For tests: behave as on a file system that refuses RWF_NOWAIT writes
 * (ext4), so that counts of engine I/O do not depend on where the test
 * directory lives. */
void bdev_file_no_nowait_write(struct bdev *bd);

/* For tests: every inline read attempt is refused as if the data were not
 * cached (EAGAIN), whatever the page cache holds; the pool's fallback can
 * then be checked without depending on how fast the kernel reads ahead. */
void bdev_file_refuse_nowait_read(struct bdev *bd, bool on);

#endif
