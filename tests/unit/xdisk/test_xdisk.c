/*
 * xdisk server and client in one process over loopback TCP: I/O through an
 * xa disk, two servers as two paths with one killed under I/O, failfast,
 * waiting for a server that comes back, a server's I/O error, span
 * withdrawal, and a fake server whose spans lie or whose reads are short.
 *
 * The servers and the client run on one loop thread; the test thread
 * drives I/O with the synchronous bdev helpers.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>

#include <scsikit/bdev.h>
#include <scsikit/dmsg.h>
#include <scsikit/evloop.h>
#include <scsikit/xdisk.h>

static struct ev_loop *loop;
static pthread_t loop_thread;
static struct xdisk_client *cl;
static struct xdisk_server *srv[2];
static int port[2];
static struct bdev *backing;

static void *loop_main(void *arg)
{
	ev_loop_run(loop);
	return NULL;
}

/* Run fn(arg) on the loop thread and wait for it. */
struct call {
	void (*fn)(void *);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void call_trampoline(void *p)
{
	struct call *c = p;

	c->fn(c->arg);
	pthread_mutex_lock(&c->mu);
	c->done = true;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static void on_loop(void (*fn)(void *), void *arg)
{
	struct call c = { fn, arg, PTHREAD_MUTEX_INITIALIZER,
			  PTHREAD_COND_INITIALIZER, false };

	assert_int_equal(ev_loop_post(loop, call_trampoline, &c), 0);
	pthread_mutex_lock(&c.mu);
	while (!c.done)
		pthread_cond_wait(&c.cv, &c.mu);
	pthread_mutex_unlock(&c.mu);
}

static void msleep(int ms)
{
	usleep((useconds_t)ms * 1000);
}

/* ---- loop-side helpers -------------------------------------------------- */

static int which;
static char errbuf[256];
static int rc_out;
static char url[256];

static void do_server_start(void *arg)
{
	struct xdisk_server_opts o = { .host = which ? "srvB" : "srvA" };
	char addr[64];

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port[which]);
	srv[which] = xdisk_server_create(loop, &o);
	rc_out = xdisk_server_listen(srv[which], addr, errbuf, sizeof(errbuf));
	if (rc_out == 0)
		port[which] = xdisk_server_port(srv[which]);
}

static void do_server_stop(void *arg)
{
	xdisk_server_destroy(srv[which]);
	srv[which] = NULL;
}

static void do_client_start(void *arg)
{
	struct xdisk_client_opts o = { .host = "cli",
				       .backoff_min_ms = 50,
				       .backoff_max_ms = 200 };

	cl = xdisk_client_create(loop, &o);
	rc_out = xdisk_client_attach(cl, url, errbuf, sizeof(errbuf));
}

static void do_client_stop(void *arg)
{
	xdisk_client_destroy(cl);
	cl = NULL;
}

static bool ready_out;
static unsigned ndisks_out;
static char listing[4096];

static void do_query(void *arg)
{
	FILE *f;

	ready_out = xdisk_client_disk_ready(cl, "xa0");
	ndisks_out = xdisk_client_ndisks(cl);
	f = fmemopen(listing, sizeof(listing), "w");
	xdisk_client_list(cl, f);
	xdisk_client_stats(cl, f);
	fclose(f);
}

static void server_start(int i)
{
	which = i;
	on_loop(do_server_start, NULL);
	assert_int_equal(rc_out, 0);
}

static void server_stop(int i)
{
	which = i;
	on_loop(do_server_stop, NULL);
}

static void client_start(const char *fmt)
{
	snprintf(url, sizeof(url), fmt, port[0], port[1]);
	on_loop(do_client_start, NULL);
	assert_true(rc_out > 0);
}

static bool wait_ready(int ms)
{
	for (int t = 0; t < ms; t += 10) {
		on_loop(do_query, NULL);
		if (ready_out)
			return true;
		msleep(10);
	}
	return false;
}

static unsigned count_paths(void)
{
	unsigned n = 0;

	on_loop(do_query, NULL);
	for (char *p = listing; (p = strstr(p, "  path ")) != NULL; p++)
		n++;
	return n;
}

static struct bdev *xa0(void)
{
	struct bdev *bd = NULL;

	for (int t = 0; t < 200 && !bd; t++) {
		bd = xdisk_client_get_disk(cl, "xa0");
		if (!bd)
			msleep(10);
	}
	return bd;
}

/* ---- setup -------------------------------------------------------------- */

static int setup(void **state)
{
	loop = ev_loop_create();
	assert_non_null(loop);
	backing = bdev_mem_create("d0", 16 << 20, 512, false);
	assert_non_null(backing);
	assert_int_equal(bdev_registry_add(backing), 0);
	port[0] = port[1] = 0;
	assert_int_equal(pthread_create(&loop_thread, NULL, loop_main, NULL),
			 0);
	return 0;
}

static int teardown(void **state)
{
	if (cl)
		on_loop(do_client_stop, NULL);
	for (int i = 0; i < 2; i++)
		if (srv[i])
			server_stop(i);
	msleep(20);
	ev_loop_stop(loop);
	pthread_join(loop_thread, NULL);
	bdev_registry_clear();
	bdev_release(backing);
	backing = NULL;
	ev_loop_destroy(loop);
	return 0;
}

static void fill(uint8_t *b, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* ---- tests -------------------------------------------------------------- */

static void test_basic_io(void **state)
{
	static uint8_t w[65536], r[65536];
	struct bdev *bd;

	server_start(0);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	bd = xa0();
	assert_non_null(bd);
	assert_int_equal(bdev_geometry(bd)->size, 16 << 20);
	assert_int_equal(bdev_geometry(bd)->lbsize, 512);
	for (uint32_t i = 0; i < 16; i++) {
		size_t len = 512u << (i % 8);

		fill(w, len, i);
		assert_int_equal(bdev_write_sync(bd, w, i * 65536, len, 0), 0);
		assert_int_equal(bdev_read_sync(bd, r, i * 65536, len), 0);
		assert_memory_equal(w, r, len);
		/* and the backend has it */
		assert_int_equal(bdev_read_sync(backing, r, i * 65536, len), 0);
		assert_memory_equal(w, r, len);
	}
	assert_int_equal(bdev_io_sync(bd, BDEV_IO_FLUSH, 0, 0, 0), 0);
	/* beyond the end: refused by the bdev layer, never sent */
	assert_true(bdev_read_sync(bd, r, 16 << 20, 512) < 0);
	on_loop(do_query, NULL);
	assert_non_null(strstr(listing, "label d0"));
	assert_non_null(strstr(listing, "srvA/d0"));
	bdev_release(bd);
}

struct workload {
	struct bdev *bd;
	int ops;
	int errors;
	int mismatches;
	volatile bool stop;
};

static void *workload_main(void *arg)
{
	struct workload *wl = arg;
	static uint8_t w[8192], r[8192];

	for (int i = 0; !wl->stop && i < 100000; i++) {
		uint64_t off = (uint64_t)(i % 2000) * 8192;

		fill(w, sizeof(w), (uint32_t)i);
		if (bdev_write_sync(wl->bd, w, off, sizeof(w), 0) != 0) {
			wl->errors++;
			continue;
		}
		if (bdev_read_sync(wl->bd, r, off, sizeof(r)) != 0) {
			wl->errors++;
			continue;
		}
		if (memcmp(w, r, sizeof(w)) != 0)
			wl->mismatches++;
		wl->ops++;
	}
	return NULL;
}

static void test_failover_two_servers(void **state)
{
	struct workload wl = { 0 };
	pthread_t th;

	server_start(0);
	server_start(1);
	client_start("xdisk://127.0.0.1:%d,127.0.0.1:%d");
	assert_true(wait_ready(2000));
	for (int t = 0; t < 100 && count_paths() < 2; t++)
		msleep(10);
	assert_int_equal(count_paths(), 2);
	on_loop(do_query, NULL);
	assert_int_equal(ndisks_out, 1); /* one label, one disk */
	wl.bd = xa0();
	assert_int_equal(pthread_create(&th, NULL, workload_main, &wl), 0);
	msleep(100);
	server_stop(0);	/* kill A under I/O */
	msleep(150);
	server_start(0); /* A comes back on the same port */
	for (int t = 0; t < 300 && count_paths() < 2; t++)
		msleep(10);
	assert_int_equal(count_paths(), 2);
	msleep(100);
	server_stop(1); /* now kill B */
	msleep(200);
	wl.stop = true;
	pthread_join(th, NULL);
	assert_true(wl.ops > 20);
	assert_int_equal(wl.errors, 0);
	assert_int_equal(wl.mismatches, 0);
	on_loop(do_query, NULL);
	assert_non_null(strstr(listing, "errors 0"));
	bdev_release(wl.bd);
}

static void test_failfast(void **state)
{
	static uint8_t r[512];
	struct bdev *bd;

	server_start(0);
	client_start("xdisk://127.0.0.1:%d,failfast");
	assert_true(wait_ready(2000));
	bd = xa0();
	assert_int_equal(bdev_read_sync(bd, r, 0, 512), 0);
	server_stop(0);
	msleep(50);
	assert_int_equal(bdev_read_sync(bd, r, 0, 512), -ENXIO);
	bdev_release(bd);
}

struct one_read {
	struct bdev *bd;
	int rc;
	volatile bool done;
};

static void *one_read_main(void *arg)
{
	struct one_read *o = arg;
	static uint8_t r[4096];

	o->rc = bdev_read_sync(o->bd, r, 4096, sizeof(r));
	o->done = true;
	return NULL;
}

static void test_waits_for_server(void **state)
{
	struct one_read o = { 0 };
	pthread_t th;

	server_start(0);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	o.bd = xa0();
	server_stop(0);
	msleep(50);
	assert_int_equal(pthread_create(&th, NULL, one_read_main, &o), 0);
	msleep(400);
	assert_false(o.done); /* waiting, not failed */
	server_start(0);
	for (int t = 0; t < 300 && !o.done; t++)
		msleep(10);
	assert_true(o.done);
	assert_int_equal(o.rc, 0);
	pthread_join(th, NULL);
	bdev_release(o.bd);
}

static void test_server_io_error_is_eio(void **state)
{
	static uint8_t w[4096];
	struct bdev_fault_rule rule = { .action = BDEV_FAULT_FAIL,
					.type_mask = 1u << BDEV_IO_WRITE,
					.err = EIO,
					.count = -1 };
	struct bdev *fault, *bd;

	bdev_registry_clear();
	fault = bdev_fault_create("d0", backing);
	assert_non_null(fault);
	assert_int_equal(bdev_registry_add(fault), 0);
	server_start(0);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	bd = xa0();
	bdev_fault_set(fault, &rule);
	assert_int_equal(bdev_write_sync(bd, w, 0, sizeof(w), 0), -EIO);
	bdev_fault_clear(fault);
	assert_int_equal(bdev_write_sync(bd, w, 0, sizeof(w), 0), 0);
	bdev_release(bd);
	bdev_release(fault);
}

static void test_read_only_export(void **state)
{
	static uint8_t buf[4096];
	struct bdev *ro, *bd;

	bdev_registry_clear();
	ro = bdev_mem_create("d0", 1 << 20, 512, true);
	assert_non_null(ro);
	assert_int_equal(bdev_registry_add(ro), 0);
	server_start(0);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	bd = xa0();
	assert_int_equal(bdev_read_sync(bd, buf, 0, sizeof(buf)), 0);
	assert_int_equal(bdev_write_sync(bd, buf, 0, sizeof(buf), 0), -EROFS);
	assert_int_equal(bdev_read_sync(bd, buf, 4096, sizeof(buf)), 0);
	on_loop(do_query, NULL);
	assert_non_null(strstr(listing, "state open"));
	bdev_release(bd);
	bdev_release(ro);
}

static void test_span_withdrawal(void **state)
{
	server_start(0);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	assert_int_equal(count_paths(), 1);
	assert_int_equal(bdev_registry_remove("d0"), 0);
	for (int t = 0; t < 100 && count_paths() > 0; t++)
		msleep(10);
	assert_int_equal(count_paths(), 0);
	assert_int_equal(bdev_registry_add(backing), 0);
	for (int t = 0; t < 100 && count_paths() < 1; t++)
		msleep(10);
	assert_int_equal(count_paths(), 1);
	assert_true(wait_ready(2000));
}

/* ---- a fake server ------------------------------------------------------ */

struct fake {
	int lfd;
	struct ev_io *w;
	struct dmsg_iocom *io;
	struct dmsg_lnk_span spans[4];
	int nspans;
	uint32_t short_read; /* bytes to answer a READ with */
};

static struct fake fk;

static void fake_rcvmsg(struct dmsg_iocom *io, struct dmsg_state *st,
			struct dmsg_msg *m, void *arg)
{
	if (!st)
		return;
	switch (m->hdr.cmd & DMSGF_BASECMDMASK) {
	case DMSG_LNK_CONN:
		dmsg_state_ack(st, 0);
		for (int i = 0; i < fk.nspans; i++)
			dmsg_state_open(io, NULL, DMSG_LNK_SPAN, &fk.spans[i],
					sizeof(fk.spans[i]), NULL, 0, NULL,
					NULL);
		break;
	case DMSG_BLK_OPEN: {
		struct dmsg_blk_error e = { .keyid = 5 };

		dmsg_state_send(st, DMSG_BLK_ERROR, 0, &e, sizeof(e), NULL, 0);
		break;
	}
	case DMSG_BLK_READ: {
		static uint8_t data[65536];
		struct dmsg_blk_error e = { .keyid = 5 };

		memset(data, 0xAA, sizeof(data));
		dmsg_state_send(st, DMSG_BLK_ERROR | DMSGF_DELETE, 0, &e,
				sizeof(e), data, fk.short_read);
		break;
	}
	default:
		dmsg_state_reply(st, DMSG_ERR_NOSUPP);
	}
}

static void fake_lost(struct dmsg_iocom *io, int err, void *arg)
{
	fk.io = NULL;
	dmsg_iocom_destroy(io);
}

static const struct dmsg_iocom_ops fake_ops = { fake_rcvmsg, fake_lost };

static void fake_accept(struct ev_io *w, int fd, uint32_t ev, void *arg)
{
	int c = accept(fd, NULL, NULL);

	if (c >= 0 && !fk.io)
		fk.io = dmsg_iocom_create(loop, c, &fake_ops, NULL, NULL);
	else if (c >= 0)
		close(c);
}

static void do_fake_start(void *arg)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fk.lfd = socket(AF_INET, SOCK_STREAM, 0);
	bind(fk.lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(fk.lfd, 4);
	getsockname(fk.lfd, (struct sockaddr *)&sin, &sl);
	port[0] = ntohs(sin.sin_port);
	fk.w = ev_io_add(loop, fk.lfd, EV_READ, fake_accept, NULL);
}

static void do_fake_stop(void *arg)
{
	if (fk.io)
		dmsg_iocom_destroy(fk.io);
	ev_io_del(fk.w);
	close(fk.lfd);
}

static void fake_span(const char *label, uint64_t bytes, uint32_t bs)
{
	struct dmsg_lnk_span *s = &fk.spans[fk.nspans++];

	memset(s, 0, sizeof(*s));
	s->peer_type = DMSG_PEER_BLOCK;
	s->pfs_type = DMSG_PFSTYPE_SERVER;
	s->media.block.bytes = bytes;
	s->media.block.blksize = bs;
	snprintf(s->cl_label, sizeof(s->cl_label), "fake/%s", label);
	snprintf(s->fs_label, sizeof(s->fs_label), "%s", label);
}

static void test_lying_spans_refused(void **state)
{
	memset(&fk, 0, sizeof(fk));
	fake_span("odd", 1000, 512);	     /* not a multiple of the block */
	fake_span("zero", 0, 512);	     /* empty */
	fake_span("bs", 1 << 20, 1000);      /* block not a power of two */
	fake_span("d0", 16 << 20, 512);	     /* fine */
	on_loop(do_fake_start, NULL);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	on_loop(do_query, NULL);
	assert_int_equal(ndisks_out, 1);
	assert_non_null(strstr(listing, "refused-spans 3"));
	on_loop(do_client_stop, NULL);
	on_loop(do_fake_stop, NULL);
}

static void test_disagreeing_span_refused(void **state)
{
	/* The real server says d0 is 16 MiB; a fake one claims 32 MiB for
	 * the same label: not a path to the same disk. */
	memset(&fk, 0, sizeof(fk));
	fake_span("d0", 32 << 20, 512);
	on_loop(do_fake_start, NULL);
	which = 1;
	on_loop(do_server_start, NULL);
	client_start("xdisk://127.0.0.1:%d,127.0.0.1:%d");
	assert_true(wait_ready(2000));
	msleep(200);
	on_loop(do_query, NULL);
	assert_int_equal(ndisks_out, 1);
	assert_int_equal(count_paths(), 1);
	assert_non_null(strstr(listing, "refused-spans 1"));
	on_loop(do_client_stop, NULL);
	on_loop(do_fake_stop, NULL);
}

static void test_short_read_zero_extended(void **state)
{
	static uint8_t r[4096];
	struct bdev *bd;

	memset(&fk, 0, sizeof(fk));
	fake_span("short", 1 << 20, 512);
	fk.short_read = 100;
	on_loop(do_fake_start, NULL);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	bd = xa0();
	memset(r, 0x55, sizeof(r));
	assert_int_equal(bdev_read_sync(bd, r, 0, sizeof(r)), 0);
	for (size_t i = 0; i < sizeof(r); i++)
		assert_int_equal(r[i], i < 100 ? 0xAA : 0);
	bdev_release(bd);
	on_loop(do_client_stop, NULL);
	on_loop(do_fake_stop, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_basic_io, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failover_two_servers,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failfast, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_waits_for_server, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_server_io_error_is_eio,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_export, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_span_withdrawal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lying_spans_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_disagreeing_span_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_read_zero_extended,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
