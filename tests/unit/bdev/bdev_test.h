/*
 * Helpers shared by the bdev unit tests (header-only: every test_*.c is its
 * own executable).  They drive I/O through a real event loop and check the
 * async contract on every call: the callback runs exactly once, and never
 * from inside bdev_submit().
 */
#ifndef SK_TEST_BDEV_TEST_H
#define SK_TEST_BDEV_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>

#include "bdev/bdev_int.h"
#include "bdev/file_stats.h"

/* One I/O under test. */
struct tio {
	struct bdev_io io;
	struct iovec v[8];
	int calls;
	int status;
	bool cb_in_submit;	/* the callback ran inside bdev_submit */
};

/* Set while a test is inside bdev_submit(). */
static __thread bool tio_submitting;

static void tio_cb(struct bdev_io *io, int status, void *arg)
{
	struct tio *t = arg;

	(void)io;
	t->calls++;
	t->status = status;
	if (tio_submitting)
		t->cb_in_submit = true;
}

static inline void tio_init(struct tio *t, struct ev_loop *loop,
			    enum bdev_io_type type, uint64_t off,
			    uint64_t len, void *buf, uint32_t flags)
{
	memset(t, 0, sizeof(*t));
	t->io.type = type;
	t->io.flags = flags;
	t->io.offset = off;
	t->io.length = len;
	t->io.loop = loop;
	t->io.cb = tio_cb;
	t->io.cb_arg = t;
	if (buf != NULL) {
		t->v[0].iov_base = buf;
		t->v[0].iov_len = (size_t)len;
		t->io.iov = t->v;
		t->io.iovcnt = 1;
	}
}

static inline int tio_submit(struct bdev *bd, struct tio *t)
{
	int rc;

	tio_submitting = true;
	rc = bdev_submit(bd, &t->io);
	tio_submitting = false;
	return rc;
}

/* Run loop until t completed (bounded: 10 s), then a little more to catch
 * a second completion; returns the status. */
static inline int tio_wait(struct ev_loop *loop, struct tio *t)
{
	uint64_t deadline = ev_now_ms() + 10000;

	while (t->calls == 0 && ev_now_ms() < deadline)
		ev_loop_run_once(loop, 50);
	assert_int_equal(t->calls, 1);
	ev_loop_run_once(loop, 0);
	assert_int_equal(t->calls, 1);
	assert_false(t->cb_in_submit);
	return t->status;
}

/* Submit and wait; a rejected submit returns its errno and checks that
 * the callback never runs. */
static inline int tio_run(struct ev_loop *loop, struct bdev *bd,
			  struct tio *t)
{
	int rc = tio_submit(bd, t);

	if (rc != 0) {
		ev_loop_run_once(loop, 0);
		assert_int_equal(t->calls, 0);
		return rc;
	}
	assert_int_equal(t->calls, 0);
	return tio_wait(loop, t);
}

/* For threads other than the test's main one, where cmocka's asserts
 * cannot be used: the same checks, reported as TIO_BROKEN. */
#define TIO_BROKEN (-100000)

static inline int tio_run_quiet(struct ev_loop *loop, struct bdev *bd,
				struct tio *t)
{
	uint64_t deadline = ev_now_ms() + 10000;
	int rc;

	rc = tio_submit(bd, t);
	if (rc != 0)
		return rc;
	if (t->calls != 0)
		return TIO_BROKEN;
	while (t->calls == 0 && ev_now_ms() < deadline)
		ev_loop_run_once(loop, 50);
	ev_loop_run_once(loop, 0);
	if (t->calls != 1 || t->cb_in_submit)
		return TIO_BROKEN;
	return t->status;
}

static inline int tio_do_quiet(struct ev_loop *loop, struct bdev *bd,
			       enum bdev_io_type type, uint64_t off,
			       uint64_t len, void *buf, uint32_t flags)
{
	struct tio t;

	tio_init(&t, loop, type, off, len, buf, flags);
	return tio_run_quiet(loop, bd, &t);
}

static inline int tio_do(struct ev_loop *loop, struct bdev *bd,
			 enum bdev_io_type type, uint64_t off, uint64_t len,
			 void *buf, uint32_t flags)
{
	struct tio t;

	tio_init(&t, loop, type, off, len, buf, flags);
	return tio_run(loop, bd, &t);
}

/* A byte pattern that depends on the absolute offset and a seed, so any
 * misplaced copy shows. */
static inline uint8_t pat_byte(uint64_t off, unsigned seed)
{
	uint64_t x = off * 0x9E3779B97F4A7C15ull + seed * 0xBF58476D1CE4E5B9ull;

	return (uint8_t)(x >> 56) ^ (uint8_t)(off >> 9);
}

static inline void pat_fill(uint8_t *buf, uint64_t off, size_t len,
			    unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat_byte(off + i, seed);
}

/* Index of the first byte that differs from the pattern, or -1. */
static inline long pat_check(const uint8_t *buf, uint64_t off, size_t len,
			     unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != pat_byte(off + i, seed))
			return (long)i;
	}
	return -1;
}

static inline bool all_zero(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != 0)
			return false;
	}
	return true;
}

/* Leak checks: the refcount and the live-bdev count are internals the
 * tests may read (src/ is on their include path). */
static inline unsigned bdev_refs(struct bdev *bd)
{
	return __atomic_load_n(&bd->refs, __ATOMIC_RELAXED);
}

#define assert_no_bdev_leak() assert_int_equal(bdev_live_count(), 0)

/*
 * A scratch directory for file-backed tests, disk-backed where possible
 * (tmpfs may lack O_DIRECT, and its pages cannot be dropped from the
 * cache): $TMPDIR or /var/tmp, else /tmp.  0 or -1.
 */
static inline int bdev_test_mkdtemp(char *dir, size_t len, const char *tag)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, len, "%s/sk-%s-XXXXXX", base ? base : "/var/tmp", tag);
	if (mkdtemp(dir) != NULL)
		return 0;
	snprintf(dir, len, "/tmp/sk-%s-XXXXXX", tag);
	return mkdtemp(dir) != NULL ? 0 : -1;
}

/* Remove a scratch directory and everything in it; 0 or -1. */
static inline int bdev_test_rmdir(const char *dir)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* The file engine bdev_test_mkfile() asks for (a test file may run its
 * tests once per engine). */
static enum bdev_file_engine bdev_test_engine __attribute__((unused));

/* A file bdev on a file NAME inside dir, made with opts; fails the test
 * when it cannot be made. */
static inline struct bdev *bdev_test_mkfile_opts(
	const char *dir, const char *name, const struct bdev_file_opts *o)
{
	char p[300], err[200];
	struct bdev *bd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	bd = bdev_file_create(name, p, o, err, sizeof(err));
	if (bd == NULL)
		fail_msg("%s", err);
	return bd;
}

/* A file bdev on a file NAME inside dir (created at size); fails the test
 * when it cannot be made. */
static inline struct bdev *bdev_test_mkfile(const char *dir, const char *name,
					    uint64_t size, bool direct)
{
	struct bdev_file_opts o = { .size = size, .direct = direct,
				    .engine = bdev_test_engine };
	struct bdev *bd = bdev_test_mkfile_opts(dir, name, &o);

	/* Writes take the engine, whatever the file system: the tests
	 * count the engine's I/O (test_file_inline_write.c tests the
	 * inline write). */
	bdev_file_no_nowait_write(bd);
	return bd;
}

#endif
