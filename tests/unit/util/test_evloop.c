/*
 * Unit tests for the event loop: fd readiness, timers (order, repeat,
 * reset, delete from inside a callback), deferred and posted functions,
 * stop from another thread.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include <scsikit/evloop.h>

struct io_state {
	int reads;
	char last;
	struct ev_io *io;
	bool del_in_cb;
};

static void on_read(struct ev_io *io, int fd, uint32_t events, void *arg)
{
	struct io_state *st = arg;
	char c;

	assert_true(events & EV_READ);
	assert_int_equal(read(fd, &c, 1), 1);
	st->reads++;
	st->last = c;
	if (st->del_in_cb) {
		ev_io_del(io);
		st->io = NULL;
	}
}

static void test_io_readiness(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct io_state st = { 0 };
	int p[2];

	assert_non_null(loop);
	assert_int_equal(pipe(p), 0);
	st.io = ev_io_add(loop, p[0], EV_READ, on_read, &st);
	assert_non_null(st.io);
	/* Nothing to read: a bounded wait runs no callback. */
	assert_int_equal(ev_loop_run_once(loop, 10), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(ev_loop_run_once(loop, 1000), 1);
	assert_int_equal(st.reads, 1);
	assert_int_equal(st.last, 'x');
	/* Deleting inside the callback stops further callbacks. */
	st.del_in_cb = true;
	assert_int_equal(write(p[1], "yz", 2), 2);
	ev_loop_run_once(loop, 1000);
	assert_int_equal(st.reads, 2);
	assert_null(st.io);
	ev_loop_run_once(loop, 20);
	assert_int_equal(st.reads, 2);
	close(p[0]);
	close(p[1]);
	ev_loop_destroy(loop);
}

struct timer_log {
	int order[8];
	int n;
	struct ev_timer *self;
	int fired;
};

struct timer_arg {
	struct timer_log *log;
	int id;
};

static void on_timer(struct ev_timer *t, void *arg)
{
	struct timer_arg *ta = arg;

	ta->log->order[ta->log->n++] = ta->id;
	ev_timer_del(t);
}

static void test_timer_order(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct timer_log log = { 0 };
	struct timer_arg a = { &log, 1 }, b = { &log, 2 }, c = { &log, 3 };
	uint64_t start = ev_now_ms();

	assert_non_null(ev_timer_add(loop, 30, false, on_timer, &c));
	assert_non_null(ev_timer_add(loop, 10, false, on_timer, &a));
	assert_non_null(ev_timer_add(loop, 20, false, on_timer, &b));
	while (log.n < 3 && ev_now_ms() - start < 2000)
		ev_loop_run_once(loop, -1);
	assert_int_equal(log.n, 3);
	assert_int_equal(log.order[0], 1);
	assert_int_equal(log.order[1], 2);
	assert_int_equal(log.order[2], 3);
	assert_true(ev_now_ms() - start >= 30);
	ev_loop_destroy(loop);
}

static void on_repeat(struct ev_timer *t, void *arg)
{
	struct timer_log *log = arg;

	if (++log->fired == 3)
		ev_timer_del(t);
}

static void test_timer_repeat_and_delete(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct timer_log log = { 0 };
	struct timer_arg never = { &log, 9 };
	struct ev_timer *t;
	uint64_t start = ev_now_ms();

	assert_non_null(ev_timer_add(loop, 5, true, on_repeat, &log));
	t = ev_timer_add(loop, 10, false, on_timer, &never);
	ev_timer_del(t); /* never fires */
	while (log.fired < 3 && ev_now_ms() - start < 2000)
		ev_loop_run_once(loop, -1);
	assert_int_equal(log.fired, 3);
	ev_loop_run_once(loop, 30);
	assert_int_equal(log.fired, 3);
	assert_int_equal(log.n, 0);
	ev_loop_destroy(loop);
}

static void test_timer_reset(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct timer_log log = { 0 };
	struct timer_arg a = { &log, 1 };
	struct ev_timer *t;
	uint64_t start = ev_now_ms();

	t = ev_timer_add(loop, 5, false, on_timer, &a);
	ev_timer_reset(t, 60);
	ev_loop_run_once(loop, 20);
	assert_int_equal(log.n, 0);
	while (log.n < 1 && ev_now_ms() - start < 2000)
		ev_loop_run_once(loop, -1);
	assert_int_equal(log.n, 1);
	assert_true(ev_now_ms() - start >= 60);
	ev_loop_destroy(loop);
}

static void count_fn(void *arg)
{
	(*(int *)arg)++;
}

struct chain {
	struct ev_loop *loop;
	int depth;
};

static void chain_fn(void *arg)
{
	struct chain *c = arg;

	if (++c->depth < 5)
		ev_loop_defer(c->loop, chain_fn, c);
}

static void test_defer(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	int n = 0;
	struct chain c = { loop, 0 };

	for (int i = 0; i < 1000; i++)
		assert_int_equal(ev_loop_defer(loop, count_fn, &n), 0);
	assert_int_equal(n, 0); /* never inline */
	ev_loop_defer(loop, chain_fn, &c);
	ev_loop_run_once(loop, 1000);
	assert_int_equal(n, 1000);
	assert_int_equal(c.depth, 5);
	ev_loop_destroy(loop);
}

struct poster {
	struct ev_loop *loop;
	int *counter;
	int count;
};

static void *post_thread(void *arg)
{
	struct poster *p = arg;

	for (int i = 0; i < p->count; i++)
		assert_int_equal(ev_loop_post(p->loop, count_fn, p->counter),
				 0);
	return NULL;
}

static void test_post_from_threads(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	int n = 0;
	pthread_t th[2];
	struct poster p = { loop, &n, 5000 };
	uint64_t start = ev_now_ms();

	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, post_thread, &p);
	while (n < 10000 && ev_now_ms() - start < 5000)
		ev_loop_run_once(loop, 100);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	while (n < 10000 && ev_now_ms() - start < 5000)
		ev_loop_run_once(loop, 100);
	assert_int_equal(n, 10000);
	ev_loop_destroy(loop);
}

static void *stopper(void *arg)
{
	usleep(20000);
	ev_loop_stop(arg);
	return NULL;
}

static void test_stop_from_thread(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	pthread_t th;

	pthread_create(&th, NULL, stopper, loop);
	assert_int_equal(ev_loop_run(loop), 0);
	pthread_join(th, NULL);
	assert_true(ev_loop_in_thread(loop));
	ev_loop_destroy(loop);
}

/* A stop that arrives before the loop runs (a reactor thread not yet
 * started) still ends that run. */
static void test_stop_before_run(void **state)
{
	struct ev_loop *loop = ev_loop_create();

	ev_loop_stop(loop);
	assert_int_equal(ev_loop_run(loop), 0);
	ev_loop_destroy(loop);
}

struct where {
	struct ev_loop *loop;
	int in_thread;		/* -1 until the posted call ran */
};

static void note_thread(void *arg)
{
	struct where *w = arg;

	__atomic_store_n(&w->in_thread, ev_loop_in_thread(w->loop) ? 1 : 0,
			 __ATOMIC_RELEASE);
}

/* ev_thread_start returns with the loop already owned by its thread: the
 * caller is not "in" it, posted work runs there, and stop joins cleanly. */
static void test_thread_start_stop(void **state)
{
	struct ev_thread *t = ev_thread_start();
	struct where w = { NULL, -1 };
	uint64_t start = ev_now_ms();

	assert_non_null(t);
	w.loop = ev_thread_loop(t);
	assert_false(ev_loop_in_thread(w.loop));
	assert_int_equal(ev_loop_post(w.loop, note_thread, &w), 0);
	while (__atomic_load_n(&w.in_thread, __ATOMIC_ACQUIRE) < 0 &&
	       ev_now_ms() - start < 5000)
		usleep(1000);
	assert_int_equal(w.in_thread, 1);
	ev_thread_stop(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_io_readiness),
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_timer_repeat_and_delete),
		cmocka_unit_test(test_timer_reset),
		cmocka_unit_test(test_defer),
		cmocka_unit_test(test_post_from_threads),
		cmocka_unit_test(test_stop_from_thread),
		cmocka_unit_test(test_stop_before_run),
		cmocka_unit_test(test_thread_start_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
