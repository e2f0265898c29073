/*
 * Unit tests of the file backend's inline write (file.c, inline_write.h):
 * the verdicts on what pwritev2/pwritev returned, the pause after a slow
 * blocking write, and on a real file with each engine: small writes and
 * writes up to IW_MAX_BLOCKING done on the reactor with `inline_write`,
 * writes that never go inline (FUA, longer ones), a failing inline write
 * redone by the engine, which gives the answer, the pause sending the next
 * write to the engine, and none inline without the option where
 * RWF_NOWAIT is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bdev_test.h"
#include "bdev/inline_write.h"

static char tmpdir[256];

static int dir_setup(void **state)
{
	(void)state;
	return bdev_test_mkdtemp(tmpdir, sizeof(tmpdir), "iwrite");
}

static int dir_teardown(void **state)
{
	(void)state;
	bdev_pool_shutdown();
	return bdev_test_rmdir(tmpdir);
}

static void test_iw_verdict(void **state)
{
	(void)state;
	assert_int_equal(iw_verdict(4096, 0, 4096, true), IW_DONE);
	assert_int_equal(iw_verdict(4096, 0, 4096, false), IW_DONE);
	/* EAGAIN (would sleep), short, errors: the engine redoes it all. */
	assert_int_equal(iw_verdict(-1, EAGAIN, 4096, true), IW_ENGINE);
	assert_int_equal(iw_verdict(512, 0, 4096, true), IW_ENGINE);
	assert_int_equal(iw_verdict(0, 0, 4096, false), IW_ENGINE);
	assert_int_equal(iw_verdict(-1, ENOSPC, 4096, false), IW_ENGINE);
	assert_int_equal(iw_verdict(-1, EIO, 4096, true), IW_ENGINE);
	/* The flag refused: only the NOWAIT attempt learns from it. */
	assert_int_equal(iw_verdict(-1, EOPNOTSUPP, 4096, true), IW_NO_NOWAIT);
	assert_int_equal(iw_verdict(-1, EINVAL, 4096, true), IW_NO_NOWAIT);
	assert_int_equal(iw_verdict(-1, ENOSYS, 4096, true), IW_NO_NOWAIT);
	assert_int_equal(iw_verdict(-1, EOPNOTSUPP, 4096, false), IW_ENGINE);
}

static void test_iw_pause(void **state)
{
	uint64_t until = 0, t = 5000000000ull;

	(void)state;
	assert_true(iw_blocking_ok(&until, t));
	/* Fast writes change nothing. */
	assert_false(iw_blocking_done(&until, IW_SLOW_NS, t, t + 3000));
	assert_false(iw_blocking_done(&until, IW_SLOW_NS, t, t + IW_SLOW_NS));
	assert_true(iw_blocking_ok(&until, t + IW_SLOW_NS));
	/* A slow one: off for IW_PAUSE_NS from its end, then on again. */
	assert_true(iw_blocking_done(&until, IW_SLOW_NS, t,
				     t + IW_SLOW_NS + 1));
	assert_false(iw_blocking_ok(&until, t + IW_SLOW_NS + 1));
	assert_false(iw_blocking_ok(&until, t + IW_SLOW_NS + IW_PAUSE_NS));
	assert_true(iw_blocking_ok(&until, t + IW_SLOW_NS + 1 + IW_PAUSE_NS));
}

static struct bdev *mk(const char *name, bool inline_write,
		       enum bdev_file_engine engine)
{
	struct bdev_file_opts o = { .size = 4 << 20, .engine = engine,
				    .inline_write = inline_write };

	return bdev_test_mkfile_opts(tmpdir, name, &o);
}

/* The file's bytes at off, read past the bdev. */
static bool on_disk(const char *name, uint64_t off, const uint8_t *want,
		    size_t len)
{
	uint8_t got[8192];
	char p[300];
	int fd;
	bool ok;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0 && len <= sizeof(got));
	ok = pread(fd, got, len, (off_t)off) == (ssize_t)len &&
	     memcmp(got, want, len) == 0;
	close(fd);
	return ok;
}

/* Engine I/O: what the pool and the ring completed. */
static uint64_t engine_ios(const struct bdev_file_counts *c)
{
	return c->pool_ios + c->uring_ios;
}

static void run_inline_write(enum bdev_file_engine engine)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mk("on", true, engine), *plain;
	static uint8_t w[8192], big[IW_MAX_BLOCKING + 4096];
	struct bdev_file_counts c0, c1;

	memset(w, 0xA1, sizeof(w));
	bdev_file_counts(bd, &c0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 8192, 4096, w, 0), 0);
	bdev_file_counts(bd, &c1);
	assert_int_equal(c1.inline_writes, c0.inline_writes + 1);
	assert_int_equal(engine_ios(&c1), engine_ios(&c0));
	assert_true(on_disk("on", 8192, w, 4096));
	/* With the option, up to IW_MAX_BLOCKING goes inline too. */
	memset(big, 0x96, IW_MAX_BLOCKING);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 1 << 20,
				IW_MAX_BLOCKING, big, 0), 0);
	bdev_file_counts(bd, &c1);
	assert_int_equal(c1.inline_writes, c0.inline_writes + 2);
	assert_int_equal(engine_ios(&c1), engine_ios(&c0));
	assert_true(on_disk("on", (1 << 20) + IW_MAX_BLOCKING - 8192, big,
			    8192));

	/* FUA writes and those over IW_MAX_BLOCKING take the engine. */
	memset(w, 0xB2, sizeof(w));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 16384, 8192, w,
				BDEV_IO_FUA), 0);
	memset(big, 0xC3, sizeof(big));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 65536, sizeof(big),
				big, 0), 0);
	assert_true(on_disk("on", 65536 + IW_MAX_BLOCKING - 4096, big, 8192));
	bdev_file_counts(bd, &c0);
	assert_int_equal(c0.inline_writes, c1.inline_writes);
	assert_int_equal(engine_ios(&c0), engine_ios(&c1) + 2);
	assert_true(on_disk("on", 16384, w, 8192));

	/* An inline write the kernel fails (a buffer it cannot read) is left
	 * to the engine, whose answer is the one given. */
	{
		long pg = sysconf(_SC_PAGESIZE);
		void *hole = mmap(NULL, (size_t)pg, PROT_NONE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		assert_true(hole != MAP_FAILED);
		assert_int_equal(tio_do_quiet(loop, bd, BDEV_IO_WRITE, 0, 4096,
					      hole, 0), -EFAULT);
		munmap(hole, (size_t)pg);
		bdev_file_counts(bd, &c1);
		assert_int_equal(c1.write_misses, c0.write_misses + 1);
		assert_int_equal(engine_ios(&c1), engine_ios(&c0) + 1);
		assert_int_equal(c1.inline_writes, c0.inline_writes);
	}

	/* Where the file system refuses RWF_NOWAIT writes, the inline write
	 * is the blocking kind: a slow one sends the next to the engine. */
	bdev_file_no_nowait_write(bd);
	bdev_file_set_inline_slow(bd, 0);
	memset(w, 0xD4, sizeof(w));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, 4096, w, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 4096, 4096, w, 0), 0);
	bdev_file_counts(bd, &c0);
	assert_int_equal(c0.inline_writes, c1.inline_writes + 1);
	assert_int_equal(c0.slow_writes, c1.slow_writes + 1);
	assert_int_equal(engine_ios(&c0), engine_ios(&c1) + 1);
	assert_true(on_disk("on", 0, w, 8192));
	bdev_release(bd);

	/* Without the option, a file system that refuses RWF_NOWAIT writes
	 * gets none inline. */
	plain = mk("off", false, engine);
	bdev_file_no_nowait_write(plain);
	assert_int_equal(tio_do(loop, plain, BDEV_IO_WRITE, 0, 4096, w, 0), 0);
	bdev_file_counts(plain, &c0);
	assert_int_equal(c0.inline_writes, 0);
	assert_int_equal(engine_ios(&c0), 1);
	assert_true(on_disk("off", 0, w, 4096));
	/* Nor one over FILE_NOWAIT_MAX, which the option would take. */
	memset(big, 0xE5, 131072);
	assert_int_equal(tio_do(loop, plain, BDEV_IO_WRITE, 131072, 131072,
				big, 0), 0);
	bdev_file_counts(plain, &c1);
	assert_int_equal(c1.inline_writes, 0);
	assert_int_equal(engine_ios(&c1), 2);
	assert_true(on_disk("off", 131072 + 122880, big, 8192));
	bdev_release(plain);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_inline_write_pool(void **state)
{
	(void)state;
	run_inline_write(BDEV_FILE_ENGINE_POOL);
}

static void test_inline_write_uring(void **state)
{
	struct bdev_file_opts o = { .size = 4096,
				    .engine = BDEV_FILE_ENGINE_URING };
	char p[300], err[200];
	struct bdev *probe;

	(void)state;
	snprintf(p, sizeof(p), "%s/probe", tmpdir);
	probe = bdev_file_create("probe", p, &o, err, sizeof(err));
	if (probe == NULL)
		skip(); /* no liburing in this build */
	bdev_release(probe);
	run_inline_write(BDEV_FILE_ENGINE_URING);
}

/* The option reaches the disk from a spec and shows in its description. */
static void test_inline_write_spec(void **state)
{
	char spec[320], err[200], desc[400];
	struct bdev *bd;

	(void)state;
	snprintf(spec, sizeof(spec), "file:%s/spec,size=1M,inline_write",
		 tmpdir);
	bd = bdev_create_spec("s", spec, err, sizeof(err));
	assert_non_null(bd);
	bdev_describe(bd, desc, sizeof(desc));
	assert_non_null(strstr(desc, ",inline_write"));
	bdev_release(bd);
	snprintf(spec, sizeof(spec), "file:%s/spec,inline_write=1", tmpdir);
	assert_null(bdev_create_spec("s", spec, err, sizeof(err)));
	assert_no_bdev_leak();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iw_verdict),
		cmocka_unit_test(test_iw_pause),
		cmocka_unit_test(test_inline_write_pool),
		cmocka_unit_test(test_inline_write_uring),
		cmocka_unit_test(test_inline_write_spec),
	};

	return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
