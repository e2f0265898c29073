/*
 * Unit tests of the file backend's io_uring engine (src/bdev/file_uring.c):
 * I/O really goes through a ring (the engine's counter, not the pool's,
 * moves), data round trips with scattered iovs, FUA and flush, discard and
 * write-zeroes as fallocate, O_DIRECT aligned and bounced, hundreds in
 * flight on one loop (more than a ring's entries), every completion on the
 * submitting loop's thread, two reactors each with its ring, atomic writes
 * (pool) beside ring I/O, and the fallback to the pool when rings cannot be
 * made (SK_URING_DISABLE).  The whole file is about the engine, so in a
 * build without liburing it checks only that engine=uring is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bdev_test.h"
#include "bdev/file_stats.h"

static char tmpdir[256];

static int dir_setup(void **state)
{
	(void)state;
	bdev_test_engine = BDEV_FILE_ENGINE_URING;
	return bdev_test_mkdtemp(tmpdir, sizeof(tmpdir), "uring");
}

static int dir_teardown(void **state)
{
	(void)state;
	bdev_pool_shutdown();
	return bdev_test_rmdir(tmpdir);
}

static struct bdev_file_counts counts(struct bdev *bd)
{
	struct bdev_file_counts c;

	bdev_file_counts(bd, &c);
	return c;
}

#ifdef SK_HAVE_LIBURING

static struct bdev *mkfile(const char *name, uint64_t size, bool direct)
{
	return bdev_test_mkfile(tmpdir, name, size, direct);
}

static void test_uring_roundtrip(void **state)
{
	const uint64_t size = 4u << 20;
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("rt", size, false);
	uint8_t *w = malloc(1 << 20), *r = malloc(1 << 20);
	struct bdev_file_counts c0, c1;
	char desc[300];
	struct tio t;

	(void)state;
	bdev_describe(bd, desc, sizeof(desc));
	assert_non_null(strstr(desc, "engine=uring"));
	c0 = counts(bd);
	pat_fill(w, 0, 1 << 20, 5);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, 1 << 20, w, 0), 0);
	pat_fill(w, 3u << 20, 8192, 6);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 3u << 20, 8192, w,
				BDEV_IO_FUA), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	/* 1 MiB is beyond the inline read's limit: it takes the ring. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 1 << 20, r, 0), 0);
	assert_int_equal(pat_check(r, 0, 1 << 20, 5), -1);

	/* Scattered both ways, with odd and empty pieces. */
	pat_fill(w, 1u << 20, 8192, 9);
	tio_init(&t, loop, BDEV_IO_WRITE, 1u << 20, 8192, NULL, 0);
	t.v[0] = (struct iovec){ w, 1 };
	t.v[1] = (struct iovec){ w + 1, 0 };
	t.v[2] = (struct iovec){ w + 1, 4000 };
	t.v[3] = (struct iovec){ w + 4001, 4191 };
	t.io.iov = t.v;
	t.io.iovcnt = 4;
	assert_int_equal(tio_run(loop, bd, &t), 0);
	memset(r, 0, 8192);
	tio_init(&t, loop, BDEV_IO_READ, 1u << 20, 8192, NULL, 0);
	t.v[0] = (struct iovec){ r + 4096, 4096 };
	t.v[1] = (struct iovec){ r, 4096 };
	t.io.iov = t.v;
	t.io.iovcnt = 2;
	assert_int_equal(tio_run(loop, bd, &t), 0);
	assert_int_equal(pat_check(r + 4096, 1u << 20, 4096, 9), -1);
	assert_int_equal(pat_check(r, (1u << 20) + 4096, 4096, 9), -1);
	c1 = counts(bd);
	/* Writes and the flush always take the ring; the scattered read
	 * may have been served inline from the cache. */
	assert_int_equal(c1.pool_ios, c0.pool_ios);
	assert_true(c1.uring_ios - c0.uring_ios >= 5);
	assert_int_equal(c1.uring_ios - c0.uring_ios +
				 c1.inline_reads - c0.inline_reads, 6);
	free(w);
	free(r);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static uint64_t file_blocks(const char *name)
{
	char p[300];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	if (stat(p, &st) != 0)
		return UINT64_MAX;
	return (uint64_t)st.st_blocks * 512;
}

static void test_uring_discard_zeroes(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("dz", 4u << 20, false);
	uint8_t *buf = malloc(1 << 20);
	struct bdev_file_counts c0, c1;

	(void)state;
	if (!bdev_geometry(bd)->can_discard) {
		bdev_release(bd);
		ev_loop_destroy(loop);
		free(buf);
		skip();
	}
	memset(buf, 0xAB, 1 << 20);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE,
					(uint64_t)i << 20, 1 << 20, buf, 0),
				 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_true(file_blocks("dz") >= 4u << 20);
	c0 = counts(bd);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 0, 1 << 20, NULL,
				0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 1u << 20,
				1 << 20, NULL, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 2u << 20,
				1 << 20, NULL, BDEV_IO_NO_UNMAP), 0);
	c1 = counts(bd);
	assert_int_equal(c1.uring_ios - c0.uring_ios, 3);
	assert_int_equal(c1.pool_ios, c0.pool_ios);
	/* Punched: the first two MiB are gone from the file; the third
	 * stays allocated (ZERO_RANGE). */
	assert_true(file_blocks("dz") <= (2u << 20) + 65536);
	for (unsigned i = 0; i < 3; i++) {
		memset(buf, 0x11, 1 << 20);
		assert_int_equal(tio_do(loop, bd, BDEV_IO_READ,
					(uint64_t)i << 20, 1 << 20, buf, 0),
				 0);
		assert_true(all_zero(buf, 1 << 20));
	}
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 3u << 20, 1 << 20, buf,
				0), 0);
	assert_int_equal(buf[0], 0xAB);
	/* With FUA, write-zeroes is the pool's (a fallocate then a sync). */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 3u << 20,
				1 << 20, NULL, BDEV_IO_FUA), 0);
	assert_int_equal(counts(bd).pool_ios, c1.pool_ios + 1);
	free(buf);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_uring_direct(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("dio", 4u << 20, true);
	uint8_t *al = aligned_alloc(4096, 1 << 20);
	uint8_t *raw = malloc((1 << 20) + 1), *odd = raw + 1;
	struct bdev_file_counts c0, c1;

	(void)state;
	c0 = counts(bd);
	/* Aligned: straight into the ring. */
	pat_fill(al, 0, 65536, 1);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, 65536, al,
				BDEV_IO_FUA), 0);
	memset(al, 0, 65536);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 65536, al, 0), 0);
	assert_int_equal(pat_check(al, 0, 65536, 1), -1);
	/* Unaligned memory: bounced, still through the ring. */
	pat_fill(odd, 1u << 20, 1 << 20, 2);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 1u << 20, 1 << 20,
				odd, 0), 0);
	memset(odd, 0, 1 << 20);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 1u << 20, 1 << 20, odd,
				0), 0);
	assert_int_equal(pat_check(odd, 1u << 20, 1 << 20, 2), -1);
	c1 = counts(bd);
	/* O_DIRECT never goes inline. */
	assert_int_equal(c1.uring_ios - c0.uring_ios, 4);
	assert_int_equal(c1.pool_ios, c0.pool_ios);
	assert_int_equal(c1.inline_reads, 0);
	free(al);
	free(raw);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* Many I/Os at once on one loop, each checking where its callback ran. */
#define MANY 4600	/* more than a ring's 256 SQ and 4096 CQ entries */
#define MANY_IO 4096

struct many {
	struct bdev_io io[MANY];
	struct iovec v[MANY];
	pthread_t want;
	unsigned done, wrong_thread, errors;
};

static void many_cb(struct bdev_io *io, int status, void *arg)
{
	struct many *m = arg;

	(void)io;
	m->done++;
	if (status != 0)
		m->errors++;
	if (!pthread_equal(pthread_self(), m->want))
		m->wrong_thread++;
}

/* Write then read back MANY blocks of bd at base, all in flight at once;
 * 0 or a description of what went wrong. */
static const char *many_run(struct ev_loop *loop, struct bdev *bd,
			    uint64_t base, unsigned seed)
{
	struct many *m = calloc(1, sizeof(*m));
	uint8_t *buf = malloc((size_t)MANY * MANY_IO);
	uint64_t deadline = ev_now_ms() + 20000;
	const char *bad = NULL;

	if (m == NULL || buf == NULL) {
		bad = "out of memory";
		goto out;
	}
	m->want = pthread_self();
	for (int pass = 0; pass < 2 && bad == NULL; pass++) {
		m->done = 0;
		if (pass == 1)
			memset(buf, 0, (size_t)MANY * MANY_IO);
		for (unsigned i = 0; i < MANY; i++) {
			struct bdev_io *io = &m->io[i];
			uint64_t off = base + (uint64_t)i * MANY_IO;

			memset(io, 0, sizeof(*io));
			m->v[i].iov_base = buf + (size_t)i * MANY_IO;
			m->v[i].iov_len = MANY_IO;
			if (pass == 0)
				pat_fill(m->v[i].iov_base, off, MANY_IO, seed);
			io->type = pass == 0 ? BDEV_IO_WRITE : BDEV_IO_READ;
			io->offset = off;
			io->length = MANY_IO;
			io->iov = &m->v[i];
			io->iovcnt = 1;
			io->loop = loop;
			io->cb = many_cb;
			io->cb_arg = m;
			if (bdev_submit(bd, io) != 0) {
				bad = "submit refused";
				break;
			}
		}
		while (bad == NULL && m->done < MANY &&
		       ev_now_ms() < deadline)
			ev_loop_run_once(loop, 50);
		if (bad == NULL && m->done != MANY)
			bad = "not all completed";
		else if (m->errors != 0)
			bad = "an I/O failed";
		else if (m->wrong_thread != 0)
			bad = "a callback ran on another thread";
	}
	if (bad == NULL && pat_check(buf, base, (size_t)MANY * MANY_IO,
				     seed) != -1)
		bad = "data mismatch";
out:
	free(m);
	free(buf);
	return bad;
}

static void test_uring_many_in_flight(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("many", (uint64_t)MANY * MANY_IO, false);
	struct bdev_file_counts c0;
	const char *bad;

	(void)state;
	c0 = counts(bd);
	bad = many_run(loop, bd, 0, 3);
	if (bad != NULL)
		fail_msg("%s", bad);
	/* All the writes went through the ring (reads may be inline). */
	assert_true(counts(bd).uring_ios - c0.uring_ios >= MANY);
	assert_int_equal(counts(bd).pool_ios, c0.pool_ios);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

struct reactor_arg {
	struct bdev *bd;
	unsigned id;
	const char *bad;
};

static void *reactor_main(void *p)
{
	struct reactor_arg *a = p;
	struct ev_loop *loop = ev_loop_create();

	a->bad = loop == NULL ? "no loop"
			      : many_run(loop, a->bd,
					 (uint64_t)a->id * MANY * MANY_IO,
					 10 + a->id);
	ev_loop_destroy(loop);
	return NULL;
}

/* Two reactors, one file: each has its own ring and sees its own
 * completions only, on its own thread. */
static void test_uring_two_reactors(void **state)
{
	struct bdev *bd = mkfile("two", 2ull * MANY * MANY_IO, false);
	struct reactor_arg a[2] = { { bd, 0, NULL }, { bd, 1, NULL } };
	pthread_t th[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reactor_main,
						&a[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	if (a[0].bad != NULL || a[1].bad != NULL)
		fail_msg("reactor 0: %s; reactor 1: %s",
			 a[0].bad ? a[0].bad : "ok", a[1].bad ? a[1].bad : "ok");
	assert_true(counts(bd).uring_ios >= 2 * MANY);
	assert_int_equal(counts(bd).pool_ios, 0);
	bdev_release(bd);
	assert_no_bdev_leak();
}

/* An atomic write takes the pool (it needs the lock for writing) while
 * ring I/O of the same disk is in flight; all of it completes and the
 * atomic write lands whole. */
static void test_uring_atomic_beside(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("atom", 4u << 20, false);
	uint8_t *big = malloc(1 << 20), *rd = malloc(1 << 20);
	struct tio ta, tr[4];
	uint64_t deadline = ev_now_ms() + 10000;
	struct bdev_file_counts c0;
	int busy;

	(void)state;
	c0 = counts(bd);
	pat_fill(big, 0, 1 << 20, 4);
	for (int i = 0; i < 4; i++) {
		tio_init(&tr[i], loop, BDEV_IO_READ, (uint64_t)(i % 2) << 20,
			 1 << 20, rd, 0);
		assert_int_equal(tio_submit(bd, &tr[i]), 0);
		if (i == 1) {
			tio_init(&ta, loop, BDEV_IO_WRITE, 0, 1 << 20, big,
				 BDEV_IO_ATOMIC);
			assert_int_equal(tio_submit(bd, &ta), 0);
		}
	}
	do {
		busy = ta.calls == 0;
		for (int i = 0; i < 4; i++)
			busy |= tr[i].calls == 0;
		if (busy)
			ev_loop_run_once(loop, 50);
	} while (busy && ev_now_ms() < deadline);
	assert_false(busy);
	assert_int_equal(ta.status, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(tr[i].status, 0);
	assert_true(counts(bd).pool_ios >= c0.pool_ios + 1);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 1 << 20, rd, 0), 0);
	assert_int_equal(pat_check(rd, 0, 1 << 20, 4), -1);
	free(big);
	free(rd);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* The kernel refusing io_uring, simulated by SK_URING_DISABLE: a disk
 * asking for uring is made with the pool instead, and a uring disk whose
 * reactor cannot get a ring has that reactor's I/O run on the pool. */
static void test_uring_fallback(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("fb", 1 << 20, true), *bd2;
	uint8_t *buf = aligned_alloc(4096, 65536);
	struct bdev_file_counts c;
	char desc[300];

	(void)state;
	/* bd was made with rings allowed; this loop has none yet. */
	assert_int_equal(setenv("SK_URING_DISABLE", "1", 1), 0);
	memset(buf, 0x42, 65536);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, 65536, buf, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 65536, buf, 0), 0);
	assert_int_equal(buf[65535], 0x42);
	c = counts(bd);
	assert_int_equal(c.uring_ios, 0);
	assert_int_equal(c.pool_ios, 2);

	bd2 = mkfile("fb2", 1 << 20, true);
	bdev_describe(bd2, desc, sizeof(desc));
	assert_non_null(strstr(desc, "engine=pool"));
	assert_int_equal(tio_do(loop, bd2, BDEV_IO_READ, 0, 65536, buf, 0), 0);
	assert_int_equal(counts(bd2).pool_ios, 1);
	assert_int_equal(unsetenv("SK_URING_DISABLE"), 0);
	bdev_release(bd2);
	free(buf);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* The spec option, and the default when none is given. */
static void test_uring_spec(void **state)
{
	char spec[400], err[200], desc[300];
	struct bdev *bd;

	(void)state;
	snprintf(spec, sizeof(spec), "file:%s/sp,size=1M,engine=pool", tmpdir);
	bd = bdev_create_spec("sp", spec, err, sizeof(err));
	assert_non_null(bd);
	bdev_describe(bd, desc, sizeof(desc));
	assert_non_null(strstr(desc, "engine=pool"));
	bdev_release(bd);
	snprintf(spec, sizeof(spec), "file:%s/sp,engine=uring", tmpdir);
	bd = bdev_create_spec("sp", spec, err, sizeof(err));
	assert_non_null(bd);
	bdev_describe(bd, desc, sizeof(desc));
	assert_non_null(strstr(desc, "engine=uring"));
	bdev_release(bd);
	snprintf(spec, sizeof(spec), "file:%s/sp,engine=aio", tmpdir);
	assert_null(bdev_create_spec("sp", spec, err, sizeof(err)));
	assert_non_null(strstr(err, "bad engine 'aio'"));
	assert_no_bdev_leak();
}

#else /* !SK_HAVE_LIBURING */

static void test_uring_spec(void **state)
{
	char spec[400], err[200], desc[300];
	struct bdev *bd;

	(void)state;
	snprintf(spec, sizeof(spec), "file:%s/sp,size=1M,engine=uring",
		 tmpdir);
	assert_null(bdev_create_spec("sp", spec, err, sizeof(err)));
	assert_non_null(strstr(err, "built without liburing"));
	/* The default is the pool in such a build. */
	snprintf(spec, sizeof(spec), "file:%s/sp,size=1M", tmpdir);
	bd = bdev_create_spec("sp", spec, err, sizeof(err));
	assert_non_null(bd);
	bdev_describe(bd, desc, sizeof(desc));
	assert_non_null(strstr(desc, "engine=pool"));
	assert_int_equal(counts(bd).uring_ios, 0);
	bdev_release(bd);
	assert_no_bdev_leak();
}

#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
#ifdef SK_HAVE_LIBURING
		cmocka_unit_test(test_uring_roundtrip),
		cmocka_unit_test(test_uring_discard_zeroes),
		cmocka_unit_test(test_uring_direct),
		cmocka_unit_test(test_uring_many_in_flight),
		cmocka_unit_test(test_uring_two_reactors),
		cmocka_unit_test(test_uring_atomic_beside),
		cmocka_unit_test(test_uring_fallback),
#endif
		cmocka_unit_test(test_uring_spec),
	};

	return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
