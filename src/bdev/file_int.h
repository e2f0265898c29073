/*
 * The file backend's state, shared by its two engines: file.c (open,
 * geometry, the worker-pool engine and the inline read) and file_uring.c
 * (io_uring, one ring per reactor).  Internal: not installed.
 */
#ifndef SK_BDEV_FILE_INT_H
#define SK_BDEV_FILE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bdev/bdev_int.h"

/* The largest read tried inline on a reactor.  The copy out of the page
 * cache runs on the reactor's thread; for a small read that is cheaper than
 * the two thread hand-offs, but a large one is better copied by a worker on
 * another core while the reactor keeps the network busy (measured: 128 KiB
 * sequential reads over iSCSI lost 10-20% inline on two cores).  The uring
 * engine sends larger buffered reads to its kernel workers for the same
 * reason (file_uring.c). */
#define FILE_NOWAIT_MAX (64u * 1024)

struct file_bdev {
	int fd;
	pthread_rwlock_t atomic_rw;	/* see file.c's file comment */
	char *path;
	bool is_blk;
	bool direct;
	bool read_only;
	bool uring;		/* engine: io_uring (else the pool) */
	bool inline_write;	/* option: small writes may block the reactor */
	uint32_t mem_align;	/* O_DIRECT buffer alignment */
	bool wz_hw;		/* device: write-zeroes offloaded */
	/* Learned at run time; read and written with relaxed atomics. */
	bool no_rwf_dsync;	/* pwritev2(RWF_DSYNC) refused */
	bool no_nowait;		/* preadv2(RWF_NOWAIT) refused */
	bool no_nowait_w;	/* pwritev2(RWF_NOWAIT) refused */
	bool refuse_nowait_r;	/* tests: as if every preadv2(RWF_NOWAIT)
				 * found the data not cached */
	uint64_t iw_off_until;	/* no blocking inline write before (ns) */
	uint64_t iw_slow_ns;	/* an inline write this long slept */
	/* How reads and the rest were served (relaxed atomics; for tests
	 * and for judging the inline path).  Own cache line: every I/O from
	 * every reactor writes one of them. */
	uint64_t n_inline __attribute__((aligned(64)));	/* reads completed inline from the cache */
	uint64_t n_pool;	/* I/Os run on the worker pool */
	uint64_t n_miss;	/* inline attempts refused (not cached) */
	unsigned miss_streak;	/* refusals since the last inline success */
	uint64_t n_uring;	/* I/Os completed through a ring */
	uint64_t n_inline_w;	/* writes completed inline */
	uint64_t n_wmiss;	/* inline writes left to the engine */
	uint64_t n_wslow;	/* blocking inline writes found slow */
};

/* Run io on the worker pool (file.c): 0, or -errno and io never
 * completes. */
int file_pool_submit(struct file_bdev *f, struct bdev_io *io);

/*
 * The io_uring engine (file_uring.c).  file_uring_probe() says whether
 * this kernel and this build can make a ring at all (once per process;
 * the env var SK_URING_DISABLE makes it say no, to test the fallback):
 * 0, or -errno with a reason in err.  file_uring_submit() follows
 * bdev_submit's contract; what the ring cannot carry goes to the pool.
 */
int file_uring_probe(char *err, size_t errlen);
int file_uring_submit(struct file_bdev *f, struct bdev_io *io);

#endif
