/*
 * Unit tests of the mem backend: read-after-write across chunk boundaries
 * with scattered iovs, sparse reads, discard and write-zeroes freeing or
 * keeping chunks, flush/FUA, block status, 4K disks, size limits, and
 * several reactor threads writing, reading and discarding at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "bdev_test.h"

#define CHUNK 65536u

static void test_mem_rw_offsets(void **state)
{
	const uint64_t size = 8u << 20;
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = bdev_mem_create("m", size, 512, false);
	uint8_t *ref = calloc(1, size), *buf = malloc(size);
	static const struct {
		uint64_t off, len;
	} w[] = {
		{ 0, 512 },
		{ CHUNK - 512, 1024 },		/* straddles a boundary */
		{ 3 * CHUNK, 3 * CHUNK },	/* whole chunks */
		{ 5 * CHUNK + 512, 200 * 512 },
		{ 8 * CHUNK - 4096, 2 * CHUNK + 8192 },
		{ (8u << 20) - 512, 512 },	/* the last block */
		{ 100 * 512, 513 * 512 },
		{ 40 * CHUNK + 1536, 4 << 20 }, /* many chunks */
	};
	unsigned seed = 1;

	(void)state;
	assert_non_null(ref);
	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++, seed++) {
		if (w[i].off + w[i].len > size)
			continue;
		pat_fill(ref + w[i].off, w[i].off, (size_t)w[i].len, seed);
		memcpy(buf, ref + w[i].off, (size_t)w[i].len);
		assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, w[i].off,
					w[i].len, buf, 0), 0);
	}
	/* A write through a scattered iov whose pieces do not line up with
	 * blocks or chunks. */
	{
		struct tio t;
		uint64_t off = 2 * CHUNK - 1024, len = 4096;
		size_t cuts[] = { 100, 412, 1, 1535, 2048 };
		size_t pos = 0;

		pat_fill(ref + off, off, (size_t)len, 99);
		memcpy(buf, ref + off, (size_t)len);
		tio_init(&t, loop, BDEV_IO_WRITE, off, len, NULL, 0);
		for (int k = 0; k < 5; k++) {
			t.v[k].iov_base = buf + pos;
			t.v[k].iov_len = cuts[k];
			pos += cuts[k];
		}
		t.io.iov = t.v;
		t.io.iovcnt = 5;
		assert_int_equal(tio_run(loop, bd, &t), 0);

		/* And read it back through a differently cut iov. */
		memset(buf, 0xAA, (size_t)len);
		tio_init(&t, loop, BDEV_IO_READ, off, len, NULL, 0);
		t.v[0] = (struct iovec){ buf, 3000 };
		t.v[1] = (struct iovec){ buf + 3000, 0 };
		t.v[2] = (struct iovec){ buf + 3000, 1096 };
		t.io.iov = t.v;
		t.io.iovcnt = 3;
		assert_int_equal(tio_run(loop, bd, &t), 0);
		assert_memory_equal(buf, ref + off, (size_t)len);
	}
	/* Read everything back, in pieces of assorted sizes. */
	for (uint64_t off = 0; off < size;) {
		uint64_t len = ((off / 512) % 7 + 1) * 4096 + 512;

		if (len > size - off)
			len = size - off;
		memset(buf, 0x5A, (size_t)len);
		assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, off, len, buf,
					0), 0);
		if (memcmp(buf, ref + off, (size_t)len) != 0)
			fail_msg("mismatch in [%llu, +%llu)",
				 (unsigned long long)off,
				 (unsigned long long)len);
		off += len;
	}
	free(ref);
	free(buf);
	assert_int_equal(bdev_refs(bd), 1);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_mem_sparse_reads(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = bdev_mem_create("m", 1ull << 40, 512, false);
	static uint8_t buf[1 << 20];
	char desc[128];

	(void)state;
	/* A 1 TiB disk costs almost nothing until written, and reading it
	 * allocates nothing. */
	assert_int_equal(bdev_mem_allocated(bd), 0);
	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ,
				(1ull << 40) - sizeof(buf), sizeof(buf), buf,
				0), 0);
	assert_true(all_zero(buf, sizeof(buf)));
	assert_int_equal(bdev_mem_allocated(bd), 0);
	/* One block written allocates one chunk; its neighbours read 0. */
	memset(buf, 0x11, 512);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 777ull << 30, 512, buf,
				0), 0);
	assert_int_equal(bdev_mem_allocated(bd), CHUNK);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, (777ull << 30) - 512,
				2048, buf, 0), 0);
	assert_true(all_zero(buf, 512));
	for (int i = 512; i < 1024; i++)
		assert_int_equal(buf[i], 0x11);
	assert_true(all_zero(buf + 1024, 1024));
	bdev_describe(bd, desc, sizeof(desc));
	assert_non_null(strstr(desc, "65536 allocated"));
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_mem_discard(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = bdev_mem_create("m", 4u << 20, 512, false);
	static uint8_t w[1 << 20], r[1 << 20];
	enum bdev_alloc_state s;
	uint64_t run;

	(void)state;
	pat_fill(w, 0, sizeof(w), 3);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, sizeof(w), w, 0),
			 0);
	assert_int_equal(bdev_mem_allocated(bd), 1 << 20);

	/* [4096, 4096 + 256K): head and tail chunks partly zeroed and kept,
	 * the three whole chunks between freed. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 4096, 256 * 1024,
				NULL, 0), 0);
	assert_int_equal(bdev_mem_allocated(bd), (1 << 20) - 3 * CHUNK);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, sizeof(r), r, 0), 0);
	assert_int_equal(pat_check(r, 0, 4096, 3), -1);
	assert_true(all_zero(r + 4096, 256 * 1024));
	assert_int_equal(pat_check(r + 4096 + 256 * 1024, 4096 + 256 * 1024,
				   sizeof(r) - 4096 - 256 * 1024, 3), -1);
	assert_int_equal(bdev_block_status(bd, CHUNK, 4 * CHUNK, &s, &run), 0);
	assert_int_equal(s, BDEV_DEALLOCATED);
	assert_int_equal(run, 3 * CHUNK);

	/* Inside a single chunk: zeroed in place, nothing freed. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 8 * CHUNK + 512,
				1024, NULL, 0), 0);
	assert_int_equal(bdev_mem_allocated(bd), (1 << 20) - 3 * CHUNK);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 8 * CHUNK, 2048, r, 0),
			 0);
	assert_int_equal(pat_check(r, 8 * CHUNK, 512, 3), -1);
	assert_true(all_zero(r + 512, 1024));
	assert_int_equal(pat_check(r + 1536, 8 * CHUNK + 1536, 512, 3), -1);

	/* Discarding never-written space is fine and frees nothing. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 2u << 20, 2u << 20,
				NULL, 0), 0);
	/* The whole disk: everything goes. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 0, 4u << 20, NULL,
				0), 0);
	assert_int_equal(bdev_mem_allocated(bd), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, sizeof(r), r, 0), 0);
	assert_true(all_zero(r, sizeof(r)));
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_mem_write_zeroes(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = bdev_mem_create("m", 4u << 20, 512, false);
	static uint8_t w[4 * 65536], r[4 * 65536];
	enum bdev_alloc_state s;
	uint64_t run;

	(void)state;
	/* NO_UNMAP on unwritten space provisions it. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 0, 2 * CHUNK,
				NULL, BDEV_IO_NO_UNMAP), 0);
	assert_int_equal(bdev_mem_allocated(bd), 2 * CHUNK);
	assert_int_equal(bdev_block_status(bd, 0, 4u << 20, &s, &run), 0);
	assert_int_equal(s, BDEV_MAPPED);
	assert_int_equal(run, 2 * CHUNK);

	/* NO_UNMAP over data: zeroed in place, still allocated. */
	pat_fill(w, 4 * CHUNK, sizeof(w), 5);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 4 * CHUNK, sizeof(w),
				w, 0), 0);
	assert_int_equal(bdev_mem_allocated(bd), 6 * CHUNK);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 5 * CHUNK,
				CHUNK, NULL, BDEV_IO_NO_UNMAP | BDEV_IO_FUA),
			 0);
	assert_int_equal(bdev_mem_allocated(bd), 6 * CHUNK);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 4 * CHUNK, sizeof(r), r,
				0), 0);
	assert_int_equal(pat_check(r, 4 * CHUNK, CHUNK, 5), -1);
	assert_true(all_zero(r + CHUNK, CHUNK));
	assert_int_equal(pat_check(r + 2 * CHUNK, 6 * CHUNK, 2 * CHUNK, 5), -1);

	/* Without NO_UNMAP (and with FAST_ZERO, which mem always meets):
	 * whole chunks freed, the partial part zeroed. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 6 * CHUNK,
				CHUNK + 4096, NULL, BDEV_IO_FAST_ZERO), 0);
	assert_int_equal(bdev_mem_allocated(bd), 5 * CHUNK);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 4 * CHUNK, sizeof(r), r,
				0), 0);
	assert_true(all_zero(r + CHUNK, 2 * CHUNK + 4096));
	assert_int_equal(pat_check(r + 3 * CHUNK + 4096, 7 * CHUNK + 4096,
				   CHUNK - 4096, 5), -1);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_mem_flush_fua(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = bdev_mem_create("m", 1u << 20, 512, false);
	static uint8_t w[8192], r[8192];

	(void)state;
	assert_false(bdev_geometry(bd)->volatile_cache);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	pat_fill(w, 4096, sizeof(w), 7);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 4096, sizeof(w), w,
				BDEV_IO_FUA), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 4096, sizeof(r), r,
				BDEV_IO_FUA), 0);
	assert_memory_equal(w, r, sizeof(r));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_mem_block_status(void **state)
{
	struct bdev *bd = bdev_mem_create("m", 1u << 20, 512, false);
	static uint8_t w[512];
	enum bdev_alloc_state s;
	uint64_t run;

	(void)state;
	/* Chunks 0, 2, 3 written. */
	assert_int_equal(bdev_write_sync(bd, w, 0, 512, 0), 0);
	assert_int_equal(bdev_write_sync(bd, w, 2 * CHUNK + 512, 512, 0), 0);
	assert_int_equal(bdev_write_sync(bd, w, 3 * CHUNK, 512, 0), 0);

	assert_int_equal(bdev_block_status(bd, 0, 1u << 20, &s, &run), 0);
	assert_int_equal(s, BDEV_MAPPED);
	assert_int_equal(run, CHUNK);
	assert_int_equal(bdev_block_status(bd, 512, 1u << 20, &s, &run), 0);
	assert_int_equal(s, BDEV_MAPPED);
	assert_int_equal(run, CHUNK - 512);
	assert_int_equal(bdev_block_status(bd, CHUNK, 1u << 20, &s, &run), 0);
	assert_int_equal(s, BDEV_DEALLOCATED);
	assert_int_equal(run, CHUNK);
	assert_int_equal(bdev_block_status(bd, 2 * CHUNK, 1u << 20, &s, &run),
			 0);
	assert_int_equal(s, BDEV_MAPPED);
	assert_int_equal(run, 2 * CHUNK);
	assert_int_equal(bdev_block_status(bd, 2 * CHUNK, 4096, &s, &run), 0);
	assert_int_equal(run, 4096);
	assert_int_equal(bdev_block_status(bd, 4 * CHUNK, 1u << 20, &s, &run),
			 0);
	assert_int_equal(s, BDEV_DEALLOCATED);
	assert_int_equal(run, (1u << 20) - 4 * CHUNK);
	bdev_release(bd);
	assert_no_bdev_leak();
}

static void test_mem_4k_and_limits(void **state)
{
	struct bdev *bd;
	static uint8_t w[4096], r[4096];

	(void)state;
	assert_null(bdev_mem_create("m", 0, 512, false));
	assert_null(bdev_mem_create("m", 1000, 512, false));
	assert_null(bdev_mem_create("m", 1u << 20, 1024, false));
	assert_null(bdev_mem_create("m", (256ull << 40) + 4096, 4096, false));

	bd = bdev_mem_create("m", 1u << 20, 4096, false);
	assert_non_null(bd);
	assert_int_equal(bdev_geometry(bd)->lbsize, 4096);
	assert_int_equal(bdev_write_sync(bd, w, 512, 512, 0), -EINVAL);
	assert_int_equal(bdev_write_sync(bd, w, 4096, 512, 0), -EINVAL);
	pat_fill(w, 8192, sizeof(w), 9);
	assert_int_equal(bdev_write_sync(bd, w, 8192, 4096, 0), 0);
	assert_int_equal(bdev_read_sync(bd, r, 8192, 4096), 0);
	assert_memory_equal(w, r, sizeof(r));
	bdev_release(bd);

	/* The largest disk: its last block works, and costs one chunk. */
	bd = bdev_mem_create("big", 256ull << 40, 4096, false);
	assert_non_null(bd);
	assert_int_equal(bdev_write_sync(bd, w, (256ull << 40) - 4096, 4096, 0),
			 0);
	assert_int_equal(bdev_read_sync(bd, r, (256ull << 40) - 4096, 4096), 0);
	assert_memory_equal(w, r, sizeof(r));
	assert_int_equal(bdev_mem_allocated(bd), CHUNK);
	bdev_release(bd);
	assert_int_equal(bdev_mem_allocated(NULL), 0);
	assert_no_bdev_leak();
}

/*
 * Concurrency: two reactor threads on one disk.  Region A (the first 4
 * MiB) is shared: thread 0 writes even blocks, thread 1 odd blocks, so
 * both race to allocate every chunk.  Region B (the next 4 MiB) is
 * thread 0's: it writes and discards whole chunks there in a loop while
 * thread 1 reads region B, so reads race with frees.
 */
struct mt_arg {
	struct bdev *bd;
	int id;
	int errors;
};

#define MT_REGION (4u << 20)
#define MT_ROUNDS 3

/* One pass of thread id's work for block blk; returns failures. */
static int mt_step(struct ev_loop *loop, struct mt_arg *a, uint64_t blk,
		   uint8_t *buf)
{
	int bad = 0;
	uint64_t c;

	pat_fill(buf, blk * 512, 512, 11);
	bad += tio_do_quiet(loop, a->bd, BDEV_IO_WRITE, blk * 512, 512, buf,
			    0) != 0;
	if (blk % 64 != (uint64_t)a->id)
		return bad;
	if (a->id == 0) {
		/* Write a chunk of region B, then discard it and the next. */
		c = MT_REGION + (blk / 64 % 62) * CHUNK;
		pat_fill(buf, c, CHUNK, 12);
		bad += tio_do_quiet(loop, a->bd, BDEV_IO_WRITE, c, CHUNK, buf,
				    0) != 0;
		bad += tio_do_quiet(loop, a->bd, BDEV_IO_DISCARD, c, 2 * CHUNK,
				    NULL, 0) != 0;
	} else {
		/* Read region B while thread 0 frees it. */
		c = MT_REGION + (blk / 64 % 63) * CHUNK;
		bad += tio_do_quiet(loop, a->bd, BDEV_IO_READ, c, CHUNK, buf,
				    0) != 0;
	}
	return bad;
}

static void *mt_thread(void *p)
{
	struct mt_arg *a = p;
	struct ev_loop *loop = ev_loop_create();
	uint8_t *buf = malloc(CHUNK);

	for (int round = 0; round < MT_ROUNDS; round++) {
		for (uint64_t blk = (uint64_t)a->id; blk < MT_REGION / 512;
		     blk += 2)
			a->errors += mt_step(loop, a, blk, buf);
	}
	free(buf);
	ev_loop_destroy(loop);
	return NULL;
}

static void test_mem_threads(void **state)
{
	struct bdev *bd = bdev_mem_create("mt", 2 * MT_REGION, 512, false);
	struct mt_arg a[2] = { { bd, 0, 0 }, { bd, 1, 0 } };
	pthread_t th[2];
	uint8_t *r = malloc(MT_REGION);
	struct bdev_stats st;

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, mt_thread, &a[i]),
				 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(a[0].errors, 0);
	assert_int_equal(a[1].errors, 0);
	for (uint64_t off = 0; off < MT_REGION; off += 1u << 20)
		assert_int_equal(bdev_read_sync(bd, r + off, off, 1u << 20), 0);
	assert_int_equal(pat_check(r, 0, MT_REGION, 11), -1);
	/* Region A fully allocated, exactly once per chunk. */
	assert_true(bdev_mem_allocated(bd) >= MT_REGION);
	bdev_get_stats(bd, &st);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.ops[BDEV_IO_WRITE],
			 MT_ROUNDS * (MT_REGION / 512 + MT_REGION / 512 / 64));
	free(r);
	assert_int_equal(bdev_refs(bd), 1);
	bdev_io_sync(bd, BDEV_IO_DISCARD, 0, 2 * MT_REGION, 0);
	assert_int_equal(bdev_mem_allocated(bd), 0);
	bdev_release(bd);
	assert_no_bdev_leak();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_rw_offsets),
		cmocka_unit_test(test_mem_sparse_reads),
		cmocka_unit_test(test_mem_discard),
		cmocka_unit_test(test_mem_write_zeroes),
		cmocka_unit_test(test_mem_flush_fua),
		cmocka_unit_test(test_mem_block_status),
		cmocka_unit_test(test_mem_4k_and_limits),
		cmocka_unit_test(test_mem_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
