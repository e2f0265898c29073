/*
 * BDEV_IO_COMPARE_WRITE on the mem backend: a match writes the second
 * half, a mismatch writes nothing and reports the first differing byte
 * (io->miscompare) with -EILSEQ; bdev_submit refuses it where the backend
 * does not offer it (a fault bdev), beyond max_compare_write, with a data
 * length other than twice the length, with flags other than FUA, on a
 * read-only disk.  A race: threads increment one counter block with
 * read + compare-and-write retries; with the op atomic no increment is
 * lost (a read-then-write would lose some), and a miscompare is not
 * counted as a bdev error.
 */
#include <errno.h>
#include <pthread.h>

#include "bdev_test.h"

#define BS 512u

/* A CAW of len bytes at off: verify half cmp, write half wr, each given
 * as two iovecs so that the backend must follow the halves across them. */
static int caw(struct ev_loop *loop, struct bdev *bd, uint64_t off,
	       uint64_t len, void *cmp, void *wr, uint32_t flags,
	       uint64_t *mis)
{
	struct tio t;
	int rc;

	tio_init(&t, loop, BDEV_IO_COMPARE_WRITE, off, len, NULL, flags);
	t.v[0].iov_base = cmp;
	t.v[0].iov_len = (size_t)len / 2;
	t.v[1].iov_base = (uint8_t *)cmp + len / 2;
	t.v[1].iov_len = (size_t)(len - len / 2);
	t.v[2].iov_base = wr;
	t.v[2].iov_len = (size_t)len;
	t.io.iov = t.v;
	t.io.iovcnt = 3;
	rc = tio_run(loop, bd, &t);
	if (mis != NULL)
		*mis = t.io.miscompare;
	return rc;
}

static void test_mem_compare_write(void **state)
{
	struct bdev *bd = bdev_mem_create("m", 1u << 20, BS, false);
	struct ev_loop *loop = ev_loop_create();
	uint8_t a[4 * BS], b[4 * BS], got[4 * BS];
	struct bdev_stats st;
	uint64_t mis = 0;

	(void)state;
	assert_true(bdev_geometry(bd)->max_compare_write >= 4 * BS);
	for (unsigned i = 0; i < sizeof(a); i++) {
		a[i] = (uint8_t)(i * 7 + 1);
		b[i] = (uint8_t)(i * 13 + 5);
	}
	assert_int_equal(bdev_write_sync(bd, a, 8 * BS, sizeof(a), 0), 0);
	/* A match: the write half lands. */
	assert_int_equal(caw(loop, bd, 8 * BS, sizeof(a), a, b, BDEV_IO_FUA,
			     NULL), 0);
	assert_int_equal(bdev_read_sync(bd, got, 8 * BS, sizeof(got)), 0);
	assert_memory_equal(got, b, sizeof(b));
	/* A stale compare: nothing written, the first differing byte. */
	memcpy(a, b, sizeof(a));
	a[1234] ^= 0x40;
	a[1500] ^= 0x01;
	memset(got, 0xee, sizeof(got));
	assert_int_equal(caw(loop, bd, 8 * BS, sizeof(a), a, got, 0, &mis),
			 -EILSEQ);
	assert_int_equal(mis, 1234);
	assert_int_equal(bdev_read_sync(bd, got, 8 * BS, sizeof(got)), 0);
	assert_memory_equal(got, b, sizeof(b));
	/* A difference in the last byte of the second verify iovec. */
	memcpy(a, b, sizeof(a));
	a[sizeof(a) - 1] ^= 0xff;
	assert_int_equal(caw(loop, bd, 8 * BS, sizeof(a), a, a, 0, &mis),
			 -EILSEQ);
	assert_int_equal(mis, sizeof(a) - 1);
	/* A miscompare is the disk's answer, not its failure. */
	bdev_get_stats(bd, &st);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.ops[BDEV_IO_COMPARE_WRITE], 3);
	/* Unallocated blocks compare as zeroes. */
	memset(a, 0, sizeof(a));
	assert_int_equal(caw(loop, bd, 100 * BS, BS, a, b, 0, NULL), 0);
	assert_int_equal(bdev_read_sync(bd, got, 100 * BS, BS), 0);
	assert_memory_equal(got, b, BS);
	ev_loop_destroy(loop);
	bdev_release(bd);
	assert_no_bdev_leak();
}

static void test_refusals(void **state)
{
	struct bdev *bd = bdev_mem_create("m", 16u << 20, BS, false);
	struct bdev *ro = bdev_mem_create("r", 1u << 20, BS, true);
	struct bdev *fb = bdev_fault_create("f", bd);
	struct ev_loop *loop = ev_loop_create();
	uint32_t max = bdev_geometry(bd)->max_compare_write;
	uint8_t *buf = calloc(2, (size_t)max + BS);
	struct tio t;

	(void)state;
	assert_non_null(buf);
	assert_true(max <= (16u << 20) - BS);
	/* Longer than the backend takes. */
	assert_int_equal(caw(loop, bd, 0, max + BS, buf, buf + max + BS, 0,
			     NULL), -EINVAL);
	/* Only FUA among the flags. */
	assert_int_equal(caw(loop, bd, 0, BS, buf, buf + BS, BDEV_IO_ATOMIC,
			     NULL), -EINVAL);
	assert_int_equal(caw(loop, bd, 0, BS, buf, buf + BS, BDEV_IO_NO_UNMAP,
			     NULL), -EINVAL);
	/* The data is twice the length, no more, no less. */
	tio_init(&t, loop, BDEV_IO_COMPARE_WRITE, 0, BS, buf, 0);
	assert_int_equal(tio_run(loop, bd, &t), -EINVAL);
	tio_init(&t, loop, BDEV_IO_COMPARE_WRITE, 0, BS, buf, 0);
	t.v[0].iov_len = 3 * BS;
	assert_int_equal(tio_run(loop, bd, &t), -EINVAL);
	/* Misaligned, read-only, not offered. */
	assert_int_equal(caw(loop, bd, 100, BS, buf, buf + BS, 0, NULL),
			 -EINVAL);
	assert_int_equal(caw(loop, ro, 0, BS, buf, buf + BS, 0, NULL),
			 -EROFS);
	assert_int_equal(bdev_geometry(fb)->max_compare_write, 0);
	assert_int_equal(caw(loop, fb, 0, BS, buf, buf + BS, 0, NULL),
			 -ENOTSUP);
	free(buf);
	ev_loop_destroy(loop);
	bdev_release(fb);
	bdev_release(ro);
	bdev_release(bd);
	assert_no_bdev_leak();
}

#define THREADS 4
#define INCS 300

struct counter {
	struct bdev *bd;
	int errors;
};

/* One CAW of block 0 from a thread without cmocka: both is the verify
 * then the write half; the status, or TIO_BROKEN. */
static int caw_quiet(struct ev_loop *loop, struct bdev *bd, uint8_t *both)
{
	struct tio t;

	tio_init(&t, loop, BDEV_IO_COMPARE_WRITE, 0, BS, NULL, 0);
	t.v[0].iov_base = both;
	t.v[0].iov_len = 2 * BS;
	t.io.iov = t.v;
	t.io.iovcnt = 1;
	return tio_run_quiet(loop, bd, &t);
}

/* Increment the 64-bit counter in block 0 INCS times, optimistically. */
static void *incrementer(void *arg)
{
	struct counter *k = arg;
	struct ev_loop *loop = ev_loop_create();
	uint8_t cur[BS], next[BS], both[2 * BS];
	int done = 0;

	while (loop != NULL && done < INCS) {
		uint64_t v;
		int rc;

		if (tio_do_quiet(loop, k->bd, BDEV_IO_READ, 0, BS, cur, 0) !=
		    0)
			break;
		memcpy(&v, cur, sizeof(v));
		v++;
		memcpy(next, cur, BS);
		memcpy(next, &v, sizeof(v));
		memcpy(both, cur, BS);
		memcpy(both + BS, next, BS);
		rc = caw_quiet(loop, k->bd, both);
		if (rc == 0)
			done++;
		else if (rc != -EILSEQ)
			break;
	}
	if (done != INCS)
		__atomic_add_fetch(&k->errors, 1, __ATOMIC_RELAXED);
	if (loop != NULL)
		ev_loop_destroy(loop);
	return NULL;
}

static void test_no_lost_increment(void **state)
{
	struct counter k = { .bd = bdev_mem_create("m", 1u << 20, BS, false) };
	pthread_t th[THREADS];
	uint8_t blk[BS];
	uint64_t v;

	(void)state;
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, incrementer, &k),
				 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(k.errors, 0);
	assert_int_equal(bdev_read_sync(k.bd, blk, 0, BS), 0);
	memcpy(&v, blk, sizeof(v));
	assert_int_equal(v, THREADS * INCS);
	bdev_release(k.bd);
	assert_no_bdev_leak();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_compare_write),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_no_lost_increment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
