/*
 * Unit tests of the fault-injecting bdev: each action (FAIL, DELAY, TEAR,
 * HOLD) with its hit counts, type masks, ranges, rule replacement from
 * another thread while I/O runs, and references on the inner bdev.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "bdev_test.h"

struct fx {
	struct ev_loop *loop;
	struct bdev *mem;
	struct bdev *f;
};

static int fx_setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));

	x->loop = ev_loop_create();
	x->mem = bdev_mem_create("inner", 1 << 20, 512, false);
	x->f = bdev_fault_create("flt", x->mem);
	if (x->loop == NULL || x->mem == NULL || x->f == NULL)
		return -1;
	*state = x;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *x = *state;

	if (bdev_refs(x->f) != 1 || bdev_refs(x->mem) != 2)
		return -1;
	bdev_release(x->f);
	if (bdev_refs(x->mem) != 1)
		return -1;
	bdev_release(x->mem);
	ev_loop_destroy(x->loop);
	free(x);
	return bdev_live_count() == 0 ? 0 : -1;
}

static void test_fault_passthrough(void **state)
{
	struct fx *x = *state;
	static uint8_t w[4096], r[4096];
	char desc[128];

	assert_string_equal(bdev_backend(x->f), "fault");
	assert_int_equal(bdev_geometry(x->f)->size, 1 << 20);
	pat_fill(w, 8192, sizeof(w), 1);
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_WRITE, 8192, 4096, w, 0),
			 0);
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_READ, 8192, 4096, r, 0),
			 0);
	assert_memory_equal(w, r, sizeof(r));
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_FLUSH, 0, 0, NULL, 0),
			 0);
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_DISCARD, 0, 65536, NULL,
				0), 0);
	assert_int_equal(bdev_fault_hits(x->f), 0);
	bdev_describe(x->f, desc, sizeof(desc));
	assert_non_null(strstr(desc, "inner"));
	/* Not a fault bdev: the calls are harmless. */
	assert_int_equal(bdev_fault_hits(x->mem), 0);
	bdev_fault_clear(x->mem);
	bdev_fault_release_held(x->mem);
	assert_null(bdev_fault_create("x", NULL));
}

static void test_fault_fail(void **state)
{
	struct fx *x = *state;
	static uint8_t w[512], r[512];
	struct bdev_fault_rule rule = {
		.action = BDEV_FAULT_FAIL,
		.type_mask = 1u << BDEV_IO_WRITE,
		.err = ENOSPC,
		.count = 2,
	};

	memset(w, 0x42, sizeof(w));
	bdev_fault_set(x->f, &rule);
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_WRITE, 0, 512, w, 0),
			 -ENOSPC);
	/* Reads do not match the type mask. */
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_READ, 0, 512, r, 0), 0);
	assert_true(all_zero(r, sizeof(r))); /* the write never happened */
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_WRITE, 0, 512, w, 0),
			 -ENOSPC);
	/* Count spent. */
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_WRITE, 0, 512, w, 0), 0);
	assert_int_equal(bdev_fault_hits(x->f), 2);

	/* Range: only I/O overlapping [64K, 68K); err 0 means EIO. */
	rule = (struct bdev_fault_rule){ .action = BDEV_FAULT_FAIL,
					 .offset = 65536, .length = 4096,
					 .count = -1 };
	bdev_fault_set(x->f, &rule);
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_READ, 65536 - 512, 512,
				r, 0), 0);
	{
		static uint8_t big[8192];

		assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_READ,
					65536 - 4096, 8192, big, 0), -EIO);
		assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_READ,
					65536 + 4096, 8192, big, 0), 0);
	}
	/* A flush covers the whole device, so it matches any range. */
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_FLUSH, 0, 0, NULL, 0),
			 -EIO);
	assert_int_equal(bdev_fault_hits(x->f), 4);

	/* Count 0 hits nothing; clear switches the rule off. */
	rule.count = 0;
	bdev_fault_set(x->f, &rule);
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_FLUSH, 0, 0, NULL, 0),
			 0);
	rule.count = -1;
	bdev_fault_set(x->f, &rule);
	bdev_fault_clear(x->f);
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_FLUSH, 0, 0, NULL, 0),
			 0);
	assert_int_equal(bdev_fault_hits(x->f), 4);
}

static void test_fault_delay(void **state)
{
	struct fx *x = *state;
	static uint8_t w[4096], r[4096];
	struct bdev_fault_rule rule = {
		.action = BDEV_FAULT_DELAY,
		.delay_ms = 120,
		.count = 1,
	};
	uint64_t t0;

	pat_fill(w, 0, sizeof(w), 2);
	bdev_fault_set(x->f, &rule);
	t0 = ev_now_ms();
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_WRITE, 0, 4096, w, 0),
			 0);
	assert_true(ev_now_ms() - t0 >= 120);
	t0 = ev_now_ms();
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_READ, 0, 4096, r, 0), 0);
	assert_true(ev_now_ms() - t0 < 120);
	assert_memory_equal(w, r, sizeof(r));
	assert_int_equal(bdev_fault_hits(x->f), 1);
}

static void test_fault_tear(void **state)
{
	struct fx *x = *state;
	static uint8_t w[8 * 512], r[8 * 512];
	struct bdev_fault_rule rule = {
		.action = BDEV_FAULT_TEAR,
		.err = EIO,
		.count = -1,
	};
	struct tio t;

	pat_fill(w, 0, sizeof(w), 3);
	bdev_fault_set(x->f, &rule);
	/* Eight blocks through a two-piece iov: the first four land. */
	tio_init(&t, x->loop, BDEV_IO_WRITE, 0, sizeof(w), NULL, 0);
	t.v[0] = (struct iovec){ w, 1000 };
	t.v[1] = (struct iovec){ w + 1000, sizeof(w) - 1000 };
	t.io.iov = t.v;
	t.io.iovcnt = 2;
	assert_int_equal(tio_run(x->loop, x->f, &t), -EIO);
	bdev_fault_clear(x->f);
	assert_int_equal(bdev_read_sync(x->f, r, 0, sizeof(r)), 0);
	assert_memory_equal(r, w, 4 * 512);
	assert_true(all_zero(r + 4 * 512, 4 * 512));

	/* Seven blocks: three land (half, rounded down to blocks). */
	bdev_fault_set(x->f, &rule);
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_WRITE, 65536, 7 * 512, w,
				0), -EIO);
	/* One block: nothing lands. */
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_WRITE, 131072, 512, w,
				0), -EIO);
	/* Reads cannot be torn: they fail. */
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_READ, 0, 512, r, 0),
			 -EIO);
	/* A torn discard drops its first half. */
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_DISCARD, 0, 4 * 512,
				NULL, 0), -EIO);
	bdev_fault_clear(x->f);
	assert_int_equal(bdev_read_sync(x->f, r, 65536, 7 * 512), 0);
	assert_memory_equal(r, w, 3 * 512);
	assert_true(all_zero(r + 3 * 512, 4 * 512));
	assert_int_equal(bdev_read_sync(x->f, r, 131072, 512), 0);
	assert_true(all_zero(r, 512));
	assert_int_equal(bdev_read_sync(x->f, r, 0, 8 * 512), 0);
	assert_true(all_zero(r, 2 * 512));
	assert_memory_equal(r + 2 * 512, w + 2 * 512, 2 * 512);
	assert_int_equal(bdev_fault_hits(x->f), 5);
}

static void test_fault_hold(void **state)
{
	struct fx *x = *state;
	static uint8_t w[3][512], r[512];
	struct bdev_fault_rule rule = {
		.action = BDEV_FAULT_HOLD,
		.type_mask = 1u << BDEV_IO_WRITE,
		.count = -1,
	};
	struct tio t[3];
	struct bdev_stats st;

	bdev_fault_set(x->f, &rule);
	for (int i = 0; i < 3; i++) {
		memset(w[i], 0x10 + i, 512);
		tio_init(&t[i], x->loop, BDEV_IO_WRITE, 512u * i, 512, w[i], 0);
		assert_int_equal(tio_submit(x->f, &t[i]), 0);
	}
	for (int i = 0; i < 5; i++)
		ev_loop_run_once(x->loop, 10);
	for (int i = 0; i < 3; i++)
		assert_int_equal(t[i].calls, 0);
	bdev_get_stats(x->f, &st);
	assert_int_equal(st.in_flight, 3);
	assert_int_equal(bdev_refs(x->f), 4);
	/* Reads pass while writes are held. */
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_READ, 0, 512, r, 0), 0);
	assert_true(all_zero(r, 512));

	bdev_fault_clear(x->f);
	bdev_fault_release_held(x->f);
	for (int i = 0; i < 3; i++)
		assert_int_equal(tio_wait(x->loop, &t[i]), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(bdev_read_sync(x->f, r, 512u * i, 512), 0);
		assert_memory_equal(r, w[i], 512);
	}
	assert_int_equal(bdev_fault_hits(x->f), 3);
	bdev_fault_release_held(x->f); /* nothing held: no-op */
}

/* Rules swapped from another thread while the loop thread does I/O. */
struct flipper {
	struct bdev *f;
	bool stop;	/* atomic */
};

static void *flip_thread(void *arg)
{
	struct flipper *fl = arg;
	struct bdev_fault_rule fail = { .action = BDEV_FAULT_FAIL,
					.count = -1 };
	struct bdev_fault_rule delay = { .action = BDEV_FAULT_DELAY,
					 .delay_ms = 1, .count = -1 };

	while (!__atomic_load_n(&fl->stop, __ATOMIC_RELAXED)) {
		bdev_fault_set(fl->f, &fail);
		bdev_fault_set(fl->f, &delay);
		bdev_fault_clear(fl->f);
	}
	return NULL;
}

static void test_fault_concurrent_rules(void **state)
{
	struct fx *x = *state;
	struct flipper fl = { x->f, false };
	static uint8_t buf[4096];
	pthread_t th;
	int ok = 0, failed = 0;
	uint64_t hits0 = bdev_fault_hits(x->f);

	assert_int_equal(pthread_create(&th, NULL, flip_thread, &fl), 0);
	for (int i = 0; i < 2000; i++) {
		int rc = tio_do(x->loop, x->f, BDEV_IO_WRITE, 4096u * (i % 16),
				4096, buf, 0);

		if (rc == 0)
			ok++;
		else if (rc == -EIO)
			failed++;
		else
			fail_msg("unexpected status %d", rc);
	}
	__atomic_store_n(&fl.stop, true, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	assert_int_equal(ok + failed, 2000);
	assert_true(bdev_fault_hits(x->f) - hits0 >= (uint64_t)failed);
	bdev_fault_clear(x->f);
}

static void test_fault_inner_refuses(void **state)
{
	struct fx *x = *state;
	static uint8_t buf[512];
	struct bdev_stats st;

	/* The inner disk shrank under the wrapper: the inner refusal comes
	 * back from bdev_submit and no callback runs. */
	bdev_resize(x->mem, 512 * 1024);
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_READ, 600 * 1024, 512,
				buf, 0), -ERANGE);
	bdev_get_stats(x->f, &st);
	assert_int_equal(st.in_flight, 0);
	bdev_resize(x->mem, 1 << 20);
	assert_int_equal(tio_do(x->loop, x->f, BDEV_IO_READ, 600 * 1024, 512,
				buf, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fault_passthrough,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fault_fail, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fault_delay, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fault_tear, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fault_hold, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_fault_concurrent_rules,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_fault_inner_refuses,
						fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
