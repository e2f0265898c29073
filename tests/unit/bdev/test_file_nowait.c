/*
 * Unit tests of the file backend's inline read path: a buffered read whose
 * data is in the page cache completes on the submitting reactor (still
 * later, never inside bdev_submit), a read of uncached data falls back to
 * the worker pool, reads that must not be inline (too large, O_DIRECT) take
 * the pool, and two reactors driving one file at once see their own data.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bdev_test.h"
#include "bdev/file_stats.h"

static char tmpdir[256];

static int dir_setup(void **state)
{
	(void)state;
	return bdev_test_mkdtemp(tmpdir, sizeof(tmpdir), "nowait");
}

static int dir_teardown(void **state)
{
	(void)state;
	bdev_pool_shutdown();
	return bdev_test_rmdir(tmpdir);
}

static void tpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static struct bdev *mkfile(const char *name, uint64_t size, bool direct)
{
	return bdev_test_mkfile(tmpdir, name, size, direct);
}

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seed + (i >> 9));
}

static bool check(const uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != (uint8_t)(i * 7 + seed + (i >> 9)))
			return false;
	return true;
}

/* Drop the file's clean pages from the page cache; false if some of the
 * range is still resident afterwards (then the test cannot force a miss). */
static bool drop_cache(const char *name, uint64_t off, uint64_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *vec = malloc(len / 4096 + 1);
	bool gone = vec != NULL;
	char p[300];
	void *m;
	int fd;

	tpath(p, sizeof(p), name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !gone || pg < 4096) {
		free(vec);
		if (fd >= 0)
			close(fd);
		return false;
	}
	if (fdatasync(fd) != 0 ||
	    posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_DONTNEED) != 0) {
		free(vec);
		close(fd);
		return false;
	}
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	if (m == MAP_FAILED) {
		free(vec);
		close(fd);
		return false;
	}
	if (mincore(m, len, vec) != 0)
		gone = false;
	for (uint64_t i = 0; gone && i < len / (uint64_t)pg; i++)
		if (vec[i] & 1)
			gone = false;
	munmap(m, len);
	free(vec);
	close(fd);
	return gone;
}

/* Written data is in the cache: reading it back is served inline, with
 * the callback still run later by the loop (tio_do checks that). */
static void test_nowait_cached_inline(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("cached", 1 << 20, false);
	static uint8_t w[65536], r[65536];
	struct bdev_file_counts c0, c1;
	struct tio t;

	(void)state;
	fill(w, sizeof(w), 1);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 131072, sizeof(w), w,
				0), 0);
	bdev_file_counts(bd, &c0);
	memset(r, 0, sizeof(r));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 131072, sizeof(r), r,
				0), 0);
	assert_true(check(r, sizeof(r), 1));
	bdev_file_counts(bd, &c1);
	if (c1.inline_reads == c0.inline_reads)
		skip(); /* this kernel or file system has no RWF_NOWAIT */
	assert_int_equal(c1.inline_reads, c0.inline_reads + 1);
	assert_int_equal(c1.pool_ios, c0.pool_ios);

	/* Scattered iovs, odd sizes, inline as well. */
	memset(r, 0, sizeof(r));
	tio_init(&t, loop, BDEV_IO_READ, 131072, 4096, NULL, 0);
	t.v[0] = (struct iovec){ r, 1000 };
	t.v[1] = (struct iovec){ r + 1000, 0 };
	t.v[2] = (struct iovec){ r + 1000, 3096 };
	t.io.iov = t.v;
	t.io.iovcnt = 3;
	assert_int_equal(tio_run(loop, bd, &t), 0);
	assert_true(check(r, 4096, 1));
	bdev_file_counts(bd, &c0);
	assert_int_equal(c0.inline_reads, c1.inline_reads + 1);
	assert_int_equal(c0.pool_ios, c1.pool_ios);

	/* A completion for every inline read, each exactly once, even with
	 * many submitted before the loop runs. */
	{
		struct tio ts[16];

		for (int i = 0; i < 16; i++) {
			tio_init(&ts[i], loop, BDEV_IO_READ,
				 131072 + (uint64_t)i * 4096, 4096,
				 r + i * 4096, 0);
			assert_int_equal(tio_submit(bd, &ts[i]), 0);
			assert_int_equal(ts[i].calls, 0);
		}
		for (int i = 0; i < 16; i++)
			assert_int_equal(tio_wait(loop, &ts[i]), 0);
		assert_true(check(r, 65536, 1));
	}
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* Data not in the cache: the inline attempt is refused and the pool reads
 * it, with the right bytes.  A RWF_NOWAIT read of evicted pages starts
 * readahead, and on a fast disk that can be done before the kernel looks
 * again, so the read may be served inline after all (seen in about 1 run
 * of 30 here, then for every attempt on that file): with the real kernel
 * each read must be exactly one of the two, with the right bytes; the
 * fallback itself is checked with the refusal forced. */
static void test_nowait_uncached_fallback(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("cold", 1 << 20, false);
	static uint8_t w[65536], r[65536];
	struct bdev_file_counts c0, c1;

	(void)state;
	fill(w, sizeof(w), 2);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 262144, sizeof(w), w,
				0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	if (!drop_cache("cold", 262144, sizeof(w)))
		skip(); /* cannot evict here: nothing to test */
	bdev_file_counts(bd, &c0);
	memset(r, 0, sizeof(r));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 262144, sizeof(r), r,
				0), 0);
	assert_true(check(r, sizeof(r), 2));
	bdev_file_counts(bd, &c1);
	assert_int_equal((c1.inline_reads - c0.inline_reads) +
				 (c1.pool_ios - c0.pool_ios), 1);

	/* Refused: the pool reads it, and the miss is counted. */
	bdev_file_refuse_nowait_read(bd, true);
	bdev_file_counts(bd, &c0);
	memset(r, 0, sizeof(r));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 262144, sizeof(r), r,
				0), 0);
	assert_true(check(r, sizeof(r), 2));
	bdev_file_counts(bd, &c1);
	assert_int_equal(c1.inline_reads, c0.inline_reads);
	assert_int_equal(c1.pool_ios, c0.pool_ios + 1);
	assert_int_equal(c1.inline_misses, c0.inline_misses + 1);
	bdev_file_refuse_nowait_read(bd, false);

	/* The pool's read brought it back into the cache. */
	memset(r, 0, sizeof(r));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 262144, sizeof(r), r,
				0), 0);
	assert_true(check(r, sizeof(r), 2));
	bdev_file_counts(bd, &c0);
	assert_int_equal(c0.pool_ios, c1.pool_ios);
	assert_int_equal(c0.inline_reads, c1.inline_reads + 1);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

#define BACKOFF_N 128u
#define BACKOFF_STRIDE (256u * 1024)

/* A working set that is not cached: after a run of refusals the inline
 * attempt is made only now and then, and one cached read brings it back. */
static void test_nowait_backoff(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("backoff", BACKOFF_N * BACKOFF_STRIDE, false);
	static uint8_t r[4096];
	struct bdev_file_counts c0, c1;

	(void)state;
	/* Blocks far enough apart that reading one never reads ahead into
	 * the next (the kernel's context readahead looks at the cached
	 * pages just before a miss). */
	for (unsigned i = 0; i < BACKOFF_N; i++) {
		fill(r, sizeof(r), i);
		assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE,
					(uint64_t)i * BACKOFF_STRIDE,
					sizeof(r), r, 0), 0);
	}
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	if (!drop_cache("backoff", 0, BACKOFF_N * BACKOFF_STRIDE))
		skip();
	bdev_file_counts(bd, &c0);
	for (unsigned i = 0; i < BACKOFF_N; i++) {
		assert_int_equal(tio_do(loop, bd, BDEV_IO_READ,
					(uint64_t)i * BACKOFF_STRIDE,
					sizeof(r), r, 0), 0);
		assert_true(check(r, sizeof(r), i));
	}
	bdev_file_counts(bd, &c1);
	/* The arithmetic is tested exactly in test_nowait_backoff.c; here
	 * the kernel decides which blocks are cached (readahead, other
	 * processes), so only what holds whatever it decides is asserted.
	 * Every read is served once, inline or by the pool; the first 16
	 * are always tried; each inline success restarts the count, so the
	 * refusals are at most 16, plus the probe made at once, per success
	 * and before the first, and one probe in 16 of the rest.  With nothing cached that is
	 * exactly 16 + 7, instead of 128 without the back-off. */
	{
		uint64_t miss = c1.inline_misses - c0.inline_misses;
		uint64_t hit = c1.inline_reads - c0.inline_reads;

		assert_int_equal(c1.pool_ios - c0.pool_ios, BACKOFF_N - hit);
		assert_true(miss + hit >= 16);
		assert_true(miss <= 17 * (hit + 1) + BACKOFF_N / 16);
		if (hit == 0)
			assert_int_equal(miss, 16 + 7);
	}
	/* Everything is cached now: at most 16 reads until a probe, and
	 * every read inline from then on. */
	for (unsigned i = 0; i < 48; i++) {
		assert_int_equal(tio_do(loop, bd, BDEV_IO_READ,
					(uint64_t)i * BACKOFF_STRIDE,
					sizeof(r), r, 0), 0);
		assert_true(check(r, sizeof(r), i));
	}
	bdev_file_counts(bd, &c0);
	assert_true(c0.inline_reads - c1.inline_reads >= 32);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* Reads that are not tried inline: above the inline size limit, and on
 * an O_DIRECT file.  A read past a shrunk file's end (short) falls back
 * and is zero-filled by the pool. */
static void test_nowait_not_inline(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("big", 4 << 20, false);
	struct bdev *dio;
	uint8_t *buf = malloc(2 << 20);
	struct bdev_file_counts c0, c1;
	char p[300];

	(void)state;
	assert_non_null(buf);
	fill(buf, 2 << 20, 3);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, 2 << 20, buf, 0),
			 0);
	bdev_file_counts(bd, &c0);
	memset(buf, 0, 2 << 20);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 2 << 20, buf, 0),
			 0);
	assert_true(check(buf, 2 << 20, 3));
	bdev_file_counts(bd, &c1);
	assert_int_equal(c1.inline_reads, c0.inline_reads);
	assert_int_equal(c1.pool_ios, c0.pool_ios + 1);

	/* Shrink: the cached first half is inline-readable, the tail is
	 * not, so the whole read goes to the pool and zero-fills. */
	tpath(p, sizeof(p), "big");
	assert_int_equal(truncate(p, 32768), 0);
	memset(buf, 0xEE, 65536);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 65536, buf, 0), 0);
	assert_true(check(buf, 32768, 3));
	for (int i = 32768; i < 65536; i++)
		assert_int_equal(buf[i], 0);
	bdev_file_counts(bd, &c0);
	assert_int_equal(c0.inline_reads, c1.inline_reads);
	assert_int_equal(c0.pool_ios, c1.pool_ios + 1);
	bdev_release(bd);

	/* O_DIRECT never goes inline (it would bypass the cache anyway). */
	{
		struct bdev_file_opts o = { .size = 1 << 20, .direct = true,
					    .engine = BDEV_FILE_ENGINE_POOL };
		char err[200];

		tpath(p, sizeof(p), "dio");
		dio = bdev_file_create("dio", p, &o, err, sizeof(err));
		if (dio != NULL) {
			memset(buf, 0x5A, 65536);
			assert_int_equal(tio_do(loop, dio, BDEV_IO_WRITE, 0,
						65536, buf, 0), 0);
			assert_int_equal(tio_do(loop, dio, BDEV_IO_READ, 0,
						65536, buf, 0), 0);
			bdev_file_counts(dio, &c0);
			assert_int_equal(c0.inline_reads, 0);
			assert_int_equal(c0.pool_ios, 2);
			bdev_release(dio);
		}
	}
	free(buf);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* Two reactors, one file: each writes and reads back its own half many
 * times while the other does the same, with inline and pooled reads mixed
 * (some of the reads follow a cache drop). */
struct reactor_arg {
	struct bdev *bd;
	unsigned id;
	int rc;	/* 0, an I/O error, or TIO_BROKEN / -EILSEQ for bad data */
};

#define TWO_HALF (512u * 1024)
#define TWO_IO 8192u

static void *reactor_main(void *p)
{
	struct reactor_arg *a = p;
	struct ev_loop *loop = ev_loop_create();
	uint8_t *w = malloc(TWO_IO), *r = malloc(TWO_IO);

	a->rc = loop && w && r ? 0 : -ENOMEM;
	for (unsigned i = 0; a->rc == 0 && i < 400; i++) {
		uint64_t off = (uint64_t)a->id * TWO_HALF +
			       (uint64_t)(i * 5 % (TWO_HALF / TWO_IO)) * TWO_IO;
		unsigned seed = a->id * 1000 + i;
		int rc;

		fill(w, TWO_IO, seed);
		rc = tio_do_quiet(loop, a->bd, BDEV_IO_WRITE, off, TWO_IO, w,
				  (i % 7 == 0) ? BDEV_IO_FUA : 0);
		if (rc == 0 && i % 50 == 0) {
			char p2[300];
			int fd;

			tpath(p2, sizeof(p2), "two");
			fd = open(p2, O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				if (fdatasync(fd) == 0)
					(void)posix_fadvise(fd, (off_t)off,
							    TWO_IO,
							    POSIX_FADV_DONTNEED);
				close(fd);
			}
		}
		if (rc == 0) {
			memset(r, 0, TWO_IO);
			rc = tio_do_quiet(loop, a->bd, BDEV_IO_READ, off,
					  TWO_IO, r, 0);
		}
		if (rc == 0 && !check(r, TWO_IO, seed))
			rc = -EILSEQ;
		a->rc = rc;
	}
	free(w);
	free(r);
	if (loop)
		ev_loop_destroy(loop);
	return NULL;
}

static void test_nowait_two_reactors(void **state)
{
	struct bdev *bd = mkfile("two", 2 * TWO_HALF, false);
	struct reactor_arg a[2] = { { bd, 0, 0 }, { bd, 1, 0 } };
	pthread_t th[2];
	struct bdev_file_counts c;

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reactor_main,
						&a[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(a[0].rc, 0);
	assert_int_equal(a[1].rc, 0);
	bdev_file_counts(bd, &c);
	/* 800 writes on the pool; 800 reads, inline or pooled. */
	assert_int_equal(c.inline_reads + c.pool_ios, 1600);
	assert_true(c.pool_ios >= 800);
	bdev_release(bd);
	assert_no_bdev_leak();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nowait_cached_inline),
		cmocka_unit_test(test_nowait_uncached_fallback),
		cmocka_unit_test(test_nowait_backoff),
		cmocka_unit_test(test_nowait_not_inline),
		cmocka_unit_test(test_nowait_two_reactors),
	};

	/* The counters asserted here are the pool engine's (the uring
	 * engine has its own tests, test_file_uring.c). */
	bdev_test_engine = BDEV_FILE_ENGINE_POOL;
	return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
