/*
 * Unit tests of the null backend (src/bdev/null.c): reads give zeroes
 * whatever was written, every I/O type completes later on the submitting
 * loop, latency holds each I/O at least that long (by a timer: the loop is
 * free meanwhile) and in order, an I/O submitted from another thread still
 * completes on its loop, a loop destroyed with I/Os waiting completes them,
 * and the spec parser's null: options and errors.
 */
#include <errno.h>
#include <pthread.h>

#include "bdev_test.h"

static void test_null_basic(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = bdev_null_create("n", 1 << 20, 4096, 0);
	uint8_t buf[8192];
	char desc[200];

	(void)state;
	assert_non_null(bd);
	assert_string_equal(bdev_backend(bd), "null");
	assert_int_equal(bdev_geometry(bd)->lbsize, 4096);
	bdev_describe(bd, desc, sizeof(desc));
	assert_non_null(strstr(desc, "stores nothing"));
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, 8192, buf,
				BDEV_IO_FUA), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 8192, buf, 0), 0);
	assert_true(all_zero(buf, sizeof(buf)));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 0, 8192, NULL, 0),
			 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 0, 8192, NULL,
				0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, 8192, buf,
				BDEV_IO_ATOMIC), 0);
	/* The bdev core's checks still apply. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 1 << 20, 4096, buf, 0),
			 -ERANGE);
	assert_null(bdev_null_create("x", 1000, 512, 0));
	assert_null(bdev_null_create("x", 1 << 20, 1024, 0));
	assert_null(bdev_null_create("x", 1 << 20, 512, 2000000));
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* With latency, a batch of I/Os completes no sooner than the latency
 * after its submission, in submission order, while the loop stays free
 * to run other work (a timer of its own fires first). */
struct order {
	int seq[8];
	int n;
	uint64_t done_ns[8];
};

static void order_cb(struct bdev_io *io, int status, void *arg)
{
	struct order *o = arg;

	assert_int_equal(status, 0);
	o->done_ns[o->n] = ev_now_ns();
	o->seq[o->n++] = (int)(io->offset / 4096);
}

static void tick(struct ev_timer *t, void *arg)
{
	*(uint64_t *)arg = ev_now_ns();
	/* A fired one-shot timer is still its owner's to free. */
	ev_timer_del(t);
}

static void test_null_latency(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *slow = bdev_null_create("slow", 1 << 20, 512, 30000);
	struct bdev *fast = bdev_null_create("fast", 1 << 20, 512, 2000);
	struct bdev_io io[8];
	struct iovec v[8];
	uint8_t buf[8][4096];
	struct order o = { .n = 0 };
	uint64_t t0, ticked = 0, deadline;

	(void)state;
	t0 = ev_now_ns();
	for (int i = 0; i < 8; i++) {
		memset(&io[i], 0, sizeof(io[i]));
		v[i] = (struct iovec){ buf[i], 4096 };
		io[i].type = BDEV_IO_READ;
		io[i].offset = (uint64_t)i * 4096;
		io[i].length = 4096;
		io[i].iov = &v[i];
		io[i].iovcnt = 1;
		io[i].loop = loop;
		io[i].cb = order_cb;
		io[i].cb_arg = &o;
		/* 0-3 on the slow disk, 4-7 on the fast one: the fast ones
		 * overtake (the queue is ordered by due time). */
		assert_int_equal(bdev_submit(i < 4 ? slow : fast, &io[i]), 0);
		assert_int_equal(o.n, 0);
	}
	assert_non_null(ev_timer_add(loop, 10, false, tick, &ticked));
	deadline = ev_now_ms() + 5000;
	while (o.n < 8 && ev_now_ms() < deadline)
		ev_loop_run_once(loop, 100);
	assert_int_equal(o.n, 8);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(o.seq[i], 4 + i);
		assert_int_equal(o.seq[4 + i], i);
		assert_true(o.done_ns[i] - t0 >= 2000000);
		assert_true(o.done_ns[4 + i] - t0 >= 30000000);
	}
	/* The loop ran its 10 ms timer while the slow ones waited. */
	assert_true(ticked != 0 && ticked < o.done_ns[4]);
	bdev_release(slow);
	bdev_release(fast);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* Submitted from a thread that is not the loop's: posted, and completed
 * on the loop's thread. */
struct xthread {
	struct bdev *bd;
	struct tio t;
	uint8_t buf[4096];
	int rc;
};

static void *xthread_main(void *p)
{
	struct xthread *x = p;

	x->rc = bdev_submit(x->bd, &x->t.io);
	return NULL;
}

static void test_null_other_thread(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct xthread x;
	pthread_t th;

	(void)state;
	memset(&x, 0, sizeof(x));
	x.bd = bdev_null_create("n", 1 << 20, 512, 1000);
	memset(x.buf, 0xFF, sizeof(x.buf));
	tio_init(&x.t, loop, BDEV_IO_READ, 0, 4096, x.buf, 0);
	assert_int_equal(pthread_create(&th, NULL, xthread_main, &x), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(x.rc, 0);
	assert_int_equal(tio_wait(loop, &x.t), 0);
	assert_true(all_zero(x.buf, sizeof(x.buf)));
	bdev_release(x.bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* A loop destroyed while I/Os wait out their latency completes them. */
static void test_null_destroy_waiting(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = bdev_null_create("n", 1 << 20, 512, 1000000);
	struct tio t[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		tio_init(&t[i], loop, BDEV_IO_FLUSH, 0, 0, NULL, 0);
		assert_int_equal(tio_submit(bd, &t[i]), 0);
	}
	ev_loop_run_once(loop, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(t[i].calls, 0);
	ev_loop_destroy(loop);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t[i].calls, 1);
		assert_int_equal(t[i].status, 0);
	}
	bdev_release(bd);
	assert_no_bdev_leak();
}

static void test_null_spec(void **state)
{
	char err[200], desc[200];
	struct bdev *bd;

	(void)state;
	bd = bdev_create_spec("n", "null:1G,latency=250,bs=4096", err,
			      sizeof(err));
	assert_non_null(bd);
	assert_int_equal(bdev_geometry(bd)->size, 1ull << 30);
	assert_int_equal(bdev_geometry(bd)->lbsize, 4096);
	bdev_describe(bd, desc, sizeof(desc));
	assert_non_null(strstr(desc, "latency 250 us"));
	bdev_release(bd);
	bd = bdev_create_spec("n", "null:1M,ro,thick", err, sizeof(err));
	assert_non_null(bd);
	assert_true(bdev_geometry(bd)->read_only);
	assert_false(bdev_geometry(bd)->can_discard);
	bdev_release(bd);
	assert_null(bdev_create_spec("n", "null:", err, sizeof(err)));
	assert_non_null(strstr(err, "bad or missing size"));
	assert_null(bdev_create_spec("n", "null:1M,latency=-1", err,
				     sizeof(err)));
	assert_non_null(strstr(err, "bad latency"));
	assert_null(bdev_create_spec("n", "null:1M,latency=2000000", err,
				     sizeof(err)));
	assert_non_null(strstr(err, "bad latency"));
	assert_null(bdev_create_spec("n", "null:1M,bs=1024", err,
				     sizeof(err)));
	assert_non_null(strstr(err, "512 or 4096"));
	assert_null(bdev_create_spec("n", "null:1M,colour=red", err,
				     sizeof(err)));
	assert_non_null(strstr(err, "unknown option 'colour'"));
	assert_no_bdev_leak();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_null_basic),
		cmocka_unit_test(test_null_latency),
		cmocka_unit_test(test_null_other_thread),
		cmocka_unit_test(test_null_destroy_waiting),
		cmocka_unit_test(test_null_spec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
