/*
 * Unit tests of the bdev core: object lifetime, every bdev_submit()
 * rejection, the zero-length rule, the three completion paths, statistics,
 * sk_parse_size, bdev_create_spec (mem part) and the sync helpers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "bdev_test.h"

/* A scripted backend, to see exactly what the core passes down. */
enum tb_mode {
	TB_OK_DEFERRED = 0,	/* complete 0 via deferred */
	TB_REFUSE,		/* submit returns -EIO */
	TB_FAIL_DEFERRED,	/* complete -EIO via deferred */
	TB_OK_REMOTE,		/* complete 0 from another thread */
};

struct tb {
	enum tb_mode mode;
	int submits;
	int destroyed;
	pthread_t completer;
	bool have_thread;
};

static void *tb_thread(void *arg)
{
	bdev_io_complete_remote(arg, 0);
	return NULL;
}

static int tb_submit(struct bdev *bd, struct bdev_io *io)
{
	struct tb *t = bdev_priv(bd);

	t->submits++;
	switch (t->mode) {
	case TB_REFUSE:
		return -EIO;
	case TB_FAIL_DEFERRED:
		bdev_io_complete_deferred(io, -EIO);
		return 0;
	case TB_OK_REMOTE:
		if (pthread_create(&t->completer, NULL, tb_thread, io) != 0)
			return -EAGAIN;
		t->have_thread = true;
		return 0;
	default:
		bdev_io_complete_deferred(io, 0);
		return 0;
	}
}

static void tb_destroy(struct bdev *bd)
{
	struct tb *t = bdev_priv(bd);

	t->destroyed++;
}

static const struct bdev_ops tb_ops = {
	.name = "scripted",
	.submit = tb_submit,
	.destroy = tb_destroy,
};

static struct bdev_geometry tb_geo(void)
{
	struct bdev_geometry g = {
		.size = 1 << 20,
		.lbsize = 512,
		.pbsize = 512,
		.max_xfer = 64 * 1024,
	};
	return g;
}

static void test_lifetime(void **state)
{
	struct tb t = { 0 };
	struct bdev_geometry g = tb_geo();
	struct bdev *bd;
	char buf[64];

	(void)state;
	bd = bdev_alloc(&tb_ops, "d0", &g, &t);
	assert_non_null(bd);
	assert_string_equal(bdev_name(bd), "d0");
	assert_string_equal(bdev_backend(bd), "scripted");
	assert_ptr_equal(bdev_priv(bd), &t);
	assert_int_equal(bdev_geometry(bd)->size, 1 << 20);
	bdev_describe(bd, buf, sizeof(buf));
	assert_string_equal(buf, "scripted");
	assert_int_equal(bdev_refs(bd), 1);
	assert_ptr_equal(bdev_hold(bd), bd);
	assert_int_equal(bdev_refs(bd), 2);
	bdev_release(bd);
	assert_int_equal(t.destroyed, 0);
	bdev_release(bd);
	assert_int_equal(t.destroyed, 1);
	bdev_release(NULL);

	/* Geometry that cannot work is refused. */
	g.lbsize = 0;
	assert_null(bdev_alloc(&tb_ops, "bad", &g, &t));
	g.lbsize = 768;
	assert_null(bdev_alloc(&tb_ops, "bad", &g, &t));
	g.lbsize = 4096;
	g.size = 4096 * 3 + 512;
	assert_null(bdev_alloc(&tb_ops, "bad", &g, &t));
	assert_null(bdev_alloc(NULL, "bad", &g, &t));
	assert_no_bdev_leak();
}

static void test_submit_rejections(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = bdev_mem_create("m", 1 << 20, 512, false);
	struct bdev *ro = bdev_mem_create("r", 1 << 20, 512, true);
	struct tb t = { 0 };
	struct bdev_geometry g = tb_geo();
	struct bdev *nod;
	static uint8_t buf[8192];
	struct iovec many[1025];
	struct bdev_stats st;
	struct tio x;

	(void)state;
	assert_non_null(loop);
	assert_non_null(bd);
	assert_non_null(ro);
	g.can_discard = false;
	g.can_write_zeroes = false;
	nod = bdev_alloc(&tb_ops, "nod", &g, &t);
	assert_non_null(nod);

	/* No loop, no callback. */
	tio_init(&x, NULL, BDEV_IO_READ, 0, 512, buf, 0);
	assert_int_equal(tio_run(loop, bd, &x), -EINVAL);
	tio_init(&x, loop, BDEV_IO_READ, 0, 512, buf, 0);
	x.io.cb = NULL;
	assert_int_equal(bdev_submit(bd, &x.io), -EINVAL);
	/* Bad type, unknown flag. */
	tio_init(&x, loop, (enum bdev_io_type)7, 0, 512, buf, 0);
	assert_int_equal(tio_run(loop, bd, &x), -EINVAL);
	tio_init(&x, loop, BDEV_IO_TYPE_COUNT, 0, 512, buf, 0);
	assert_int_equal(tio_run(loop, bd, &x), -EINVAL);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, 512, buf, 0x100),
			 -EINVAL);
	/* Alignment. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 100, 512, buf, 0),
			 -EINVAL);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 100, buf, 0),
			 -EINVAL);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 512, 100, NULL, 0),
			 -EINVAL);
	/* Range, including offset + length overflowing. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 1 << 20, 512, buf, 0),
			 -ERANGE);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, (1 << 20) - 512, 1024,
				buf, 0), -ERANGE);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES,
				UINT64_MAX - 511, 1024, NULL, 0), -ERANGE);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 512,
				UINT64_MAX - 511, NULL, 0), -ERANGE);
	/* The iov must describe exactly length bytes. */
	tio_init(&x, loop, BDEV_IO_READ, 0, 1024, buf, 0);
	x.v[0].iov_len = 512;
	assert_int_equal(tio_run(loop, bd, &x), -EINVAL);
	tio_init(&x, loop, BDEV_IO_READ, 0, 1024, buf, 0);
	x.io.iov = NULL;
	assert_int_equal(tio_run(loop, bd, &x), -EINVAL);
	tio_init(&x, loop, BDEV_IO_READ, 0, 1024, buf, 0);
	x.io.iovcnt = -1;
	assert_int_equal(tio_run(loop, bd, &x), -EINVAL);
	tio_init(&x, loop, BDEV_IO_WRITE, 0, 512, NULL, 0);
	assert_int_equal(tio_run(loop, bd, &x), -EINVAL);
	for (int i = 0; i < 1025; i++) {
		many[i].iov_base = buf;
		many[i].iov_len = 512;
	}
	tio_init(&x, loop, BDEV_IO_READ, 0, 1025 * 512, NULL, 0);
	x.io.iov = many;
	x.io.iovcnt = 1025;
	assert_int_equal(tio_run(loop, bd, &x), -EINVAL);
	/* Larger than max_xfer is accepted: backends split if they must
	 * (the scripted one never touches the buffer). */
	tio_init(&x, loop, BDEV_IO_READ, 0, 128 * 1024, buf, 0);
	assert_int_equal(tio_run(loop, nod, &x), 0);
	/* Read-only. */
	assert_int_equal(tio_do(loop, ro, BDEV_IO_WRITE, 0, 512, buf, 0),
			 -EROFS);
	assert_int_equal(tio_do(loop, ro, BDEV_IO_DISCARD, 0, 512, NULL, 0),
			 -EROFS);
	assert_int_equal(tio_do(loop, ro, BDEV_IO_WRITE_ZEROES, 0, 512, NULL,
				0), -EROFS);
	assert_int_equal(tio_do(loop, ro, BDEV_IO_READ, 0, 512, buf, 0), 0);
	assert_int_equal(tio_do(loop, ro, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	/* Unsupported types. */
	assert_int_equal(tio_do(loop, nod, BDEV_IO_DISCARD, 0, 512, NULL, 0),
			 -ENOTSUP);
	assert_int_equal(tio_do(loop, nod, BDEV_IO_WRITE_ZEROES, 0, 512, NULL,
				0), -ENOTSUP);
	/* A backend that refuses: no callback, nothing left held. */
	t.mode = TB_REFUSE;
	assert_int_equal(tio_do(loop, nod, BDEV_IO_READ, 0, 512, buf, 0),
			 -EIO);
	assert_int_equal(t.submits, 2); /* the big read, and this one */
	assert_int_equal(bdev_refs(nod), 1);
	bdev_get_stats(nod, &st);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.ops[BDEV_IO_READ], 1); /* only the big read */

	bdev_get_stats(bd, &st);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(bdev_refs(bd), 1);
	assert_int_equal(bdev_refs(ro), 1);
	bdev_release(nod);
	bdev_release(bd);
	bdev_release(ro);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_zero_length(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct tb t = { 0 };
	struct bdev_geometry g = tb_geo();
	struct bdev *bd = bdev_alloc(&tb_ops, "z", &g, &t);
	uint8_t b[1];

	(void)state;
	/* Zero-length transfers complete without reaching the backend, at
	 * any aligned offset up to and including the end. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 0, b, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, g.size, 0, b, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 512, 0, NULL, 0),
			 -ENOTSUP); /* type checks still apply */
	assert_int_equal(t.submits, 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, g.size + 512, 0, b, 0),
			 -ERANGE);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 3, 0, b, 0), -EINVAL);
	/* A flush always goes down, whatever its offset and length. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 12345, 7, NULL, 0), 0);
	assert_int_equal(t.submits, 2);
	bdev_release(bd);
	assert_int_equal(t.destroyed, 1);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* Where the callback ran. */
static pthread_t cb_thread;

static void thread_cb(struct bdev_io *io, int status, void *arg)
{
	int *calls = arg;

	(void)io;
	(void)status;
	cb_thread = pthread_self();
	(*calls)++;
}

static void test_completion_paths(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct tb t = { 0 };
	struct bdev_geometry g = tb_geo();
	struct bdev *bd = bdev_alloc(&tb_ops, "c", &g, &t);
	static uint8_t buf[512];
	struct iovec v = { buf, sizeof(buf) };
	struct bdev_io io;
	int calls = 0;
	uint64_t deadline;

	(void)state;
	/* Remote completion: from a foreign thread, callback on the loop's
	 * thread, the reference held until after the callback. */
	t.mode = TB_OK_REMOTE;
	memset(&io, 0, sizeof(io));
	io.type = BDEV_IO_READ;
	io.length = 512;
	io.iov = &v;
	io.iovcnt = 1;
	io.loop = loop;
	io.cb = thread_cb;
	io.cb_arg = &calls;
	assert_int_equal(bdev_submit(bd, &io), 0);
	pthread_join(t.completer, NULL);
	assert_int_equal(calls, 0); /* only the loop runs callbacks */
	assert_int_equal(bdev_refs(bd), 2);
	deadline = ev_now_ms() + 5000;
	while (calls == 0 && ev_now_ms() < deadline)
		ev_loop_run_once(loop, 50);
	assert_int_equal(calls, 1);
	assert_true(pthread_equal(cb_thread, pthread_self()));
	assert_int_equal(bdev_refs(bd), 1);

	/* Deferred failure. */
	t.mode = TB_FAIL_DEFERRED;
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 512, buf, 0), -EIO);

	/* An I/O in flight keeps the bdev alive after the caller's release. */
	t.mode = TB_OK_DEFERRED;
	calls = 0;
	assert_int_equal(bdev_submit(bd, &io), 0);
	bdev_release(bd);
	assert_int_equal(t.destroyed, 0);
	ev_loop_run_once(loop, 100);
	assert_int_equal(calls, 1);
	assert_int_equal(t.destroyed, 1);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_stats(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = bdev_mem_create("s", 1 << 20, 512, false);
	struct tb t = { .mode = TB_FAIL_DEFERRED };
	struct bdev_geometry g = tb_geo();
	struct bdev *fb = bdev_alloc(&tb_ops, "f", &g, &t);
	static uint8_t buf[4096];
	struct bdev_stats st;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 4096u * i,
					4096, buf, 0), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 1024, 2048,
					buf, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 8192, 65536, NULL,
				0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 0, 512, NULL,
				0), 0);
	/* Rejected I/O is not counted. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 1, 512, buf, 0),
			 -EINVAL);
	bdev_get_stats(bd, &st);
	assert_int_equal(st.ops[BDEV_IO_WRITE], 3);
	assert_int_equal(st.bytes[BDEV_IO_WRITE], 3 * 4096);
	assert_int_equal(st.ops[BDEV_IO_READ], 2);
	assert_int_equal(st.bytes[BDEV_IO_READ], 2 * 2048);
	assert_int_equal(st.ops[BDEV_IO_FLUSH], 1);
	assert_int_equal(st.ops[BDEV_IO_DISCARD], 1);
	assert_int_equal(st.bytes[BDEV_IO_DISCARD], 65536);
	assert_int_equal(st.ops[BDEV_IO_WRITE_ZEROES], 1);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.last_offset, 0);
	assert_true(st.total_ns > 0);

	/* Failures count as ops and errors, not bytes. */
	assert_int_equal(tio_do(loop, fb, BDEV_IO_READ, 512, 512, buf, 0),
			 -EIO);
	bdev_get_stats(fb, &st);
	assert_int_equal(st.ops[BDEV_IO_READ], 1);
	assert_int_equal(st.bytes[BDEV_IO_READ], 0);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.last_offset, 512);
	bdev_release(fb);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_parse_size(void **state)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "512", 0, 512 },
		{ "64K", 0, 64 << 10 },
		{ "64k", 0, 64 << 10 },
		{ "64KiB", 0, 64 << 10 },
		{ "64KB", 0, 64 << 10 },
		{ "1M", 0, 1 << 20 },
		{ "2G", 0, 2ull << 30 },
		{ "1T", 0, 1ull << 40 },
		{ "3P", 0, 3ull << 50 },
		{ "15E", 0, 15ull << 60 },
		{ "512B", 0, 512 },
		{ "18446744073709551615", 0, UINT64_MAX },
		{ "18446744073709551616", -1, 0 },
		{ "16E", -1, 0 },
		{ "17179869184G", -1, 0 },
		{ "", -1, 0 },
		{ "-1", -1, 0 },
		{ "+1", -1, 0 },
		{ " 1", -1, 0 },
		{ "1 ", -1, 0 },
		{ "1.5G", -1, 0 },
		{ "G", -1, 0 },
		{ "1X", -1, 0 },
		{ "1GG", -1, 0 },
		{ "1Gi", -1, 0 },
		{ "0x10", -1, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int rc = sk_parse_size(cases[i].s, &v);

		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, want %d", cases[i].s, rc,
				 cases[i].rc);
		if (rc == 0 && v != cases[i].v)
			fail_msg("'%s': %llu, want %llu", cases[i].s,
				 (unsigned long long)v,
				 (unsigned long long)cases[i].v);
	}
	assert_int_equal(sk_parse_size(NULL, NULL), -1);
}

static void test_create_spec(void **state)
{
	static const char *const bad[] = {
		"", "mem", "mem:", "mem:abc", "mem:0", "mem:1000",
		"mem:1G,bs=1000", "mem:1G,bs=8192", "mem:1G,foo",
		"mem:1G,bs", "mem:1G,ro=1", "nope:1G", "file:", "mem:300T",
		"file:/nonexistent/dir/x,size=1M", "file:/tmp,size=1M",
		"file:/tmp/x,size=abc", "file:/tmp/x,bogus",
	};
	char err[160];
	struct bdev *bd;
	const struct bdev_geometry *g;

	(void)state;
	bd = bdev_create_spec("a", "mem:64M,bs=4096", err, sizeof(err));
	assert_non_null(bd);
	g = bdev_geometry(bd);
	assert_int_equal(g->size, 64 << 20);
	assert_int_equal(g->lbsize, 4096);
	assert_false(g->read_only);
	assert_true(g->discard_zeroes);
	assert_false(g->volatile_cache);
	assert_string_equal(bdev_backend(bd), "mem");
	bdev_release(bd);

	bd = bdev_create_spec("b", "mem:1G,ro", err, sizeof(err));
	assert_non_null(bd);
	assert_true(bdev_geometry(bd)->read_only);
	assert_int_equal(bdev_geometry(bd)->lbsize, 512);
	bdev_release(bd);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		bd = bdev_create_spec("x", bad[i], err, sizeof(err));
		if (bd != NULL)
			fail_msg("spec '%s' accepted", bad[i]);
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			fail_msg("spec '%s': bad message '%s'", bad[i], err);
	}
	/* A NULL error buffer is fine. */
	assert_null(bdev_create_spec("x", "mem:", NULL, 0));
	assert_null(bdev_create_spec("x", NULL, err, sizeof(err)));
	assert_no_bdev_leak();
}

static void test_sync_helpers(void **state)
{
	struct bdev *bd = bdev_mem_create("y", 4 << 20, 512, false);
	static uint8_t w[65536], r[65536];

	(void)state;
	pat_fill(w, 4096, sizeof(w), 1);
	assert_int_equal(bdev_write_sync(bd, w, 4096, sizeof(w), BDEV_IO_FUA),
			 0);
	assert_int_equal(bdev_read_sync(bd, r, 4096, sizeof(r)), 0);
	assert_int_equal(pat_check(r, 4096, sizeof(r), 1), -1);
	assert_int_equal(bdev_io_sync(bd, BDEV_IO_FLUSH, 0, 0, 0), 0);
	assert_int_equal(bdev_io_sync(bd, BDEV_IO_WRITE_ZEROES, 4096, 4096, 0),
			 0);
	assert_int_equal(bdev_read_sync(bd, r, 4096, 4096), 0);
	assert_true(all_zero(r, 4096));
	assert_int_equal(bdev_io_sync(bd, BDEV_IO_READ, 0, 512, 0), -EINVAL);
	assert_int_equal(bdev_read_sync(bd, r, 4 << 20, 512), -ERANGE);
	assert_int_equal(bdev_read_sync(bd, r, 7, 512), -EINVAL);
	assert_int_equal(bdev_refs(bd), 1);
	bdev_release(bd);
	assert_no_bdev_leak();
}

static void test_resize_and_block_status_args(void **state)
{
	struct bdev *bd = bdev_mem_create("rz", 1 << 20, 512, false);
	static uint8_t buf[512];
	enum bdev_alloc_state s;
	uint64_t run;

	(void)state;
	bdev_resize(bd, 512 * 1024 + 100); /* rounded down to a block */
	assert_int_equal(bdev_geometry(bd)->size, 512 * 1024);
	assert_int_equal(bdev_read_sync(bd, buf, 512 * 1024, 512), -ERANGE);
	assert_int_equal(bdev_read_sync(bd, buf, 512 * 1024 - 512, 512), 0);
	/* Growing past what the mem table covers is refused by the
	 * backend, not overrun. */
	bdev_resize(bd, 2 << 20);
	assert_int_equal(bdev_read_sync(bd, buf, (1 << 20) + 512, 512),
			 -ERANGE);
	bdev_resize(bd, 1 << 20);

	assert_int_equal(bdev_block_status(bd, 0, 0, &s, &run), -EINVAL);
	assert_int_equal(bdev_block_status(bd, 3, 512, &s, &run), -EINVAL);
	assert_int_equal(bdev_block_status(bd, 1 << 20, 512, &s, &run),
			 -ERANGE);
	assert_int_equal(bdev_block_status(bd, 512, UINT64_MAX, &s, &run), 0);
	assert_int_equal(run, (1 << 20) - 512);
	assert_int_equal(bdev_block_status(bd, 0, 4 << 20, &s, &run), 0);
	assert_int_equal(s, BDEV_DEALLOCATED);
	assert_int_equal(run, 1 << 20); /* clamped to the end */
	assert_int_equal(bdev_block_status(bd, 0, 512, NULL, &run), -EINVAL);
	bdev_release(bd);
	assert_no_bdev_leak();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifetime),
		cmocka_unit_test(test_submit_rejections),
		cmocka_unit_test(test_zero_length),
		cmocka_unit_test(test_completion_paths),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_create_spec),
		cmocka_unit_test(test_sync_helpers),
		cmocka_unit_test(test_resize_and_block_status_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
