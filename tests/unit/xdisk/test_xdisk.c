/*
 * xdisk server and client in one process over loopback TCP: I/O through an
 * xa disk, two servers as two paths with one killed under I/O, failfast,
 * waiting for a server that comes back, a server's I/O error, span
 * withdrawal, and a fake server whose spans lie or whose reads are short.
 *
 * The servers and the client run on one loop thread; the test thread
 * drives I/O with the synchronous bdev helpers.  The reactor tests add a
 * second loop thread and give a server both (or only the second) to run
 * its links on.
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
#include <scsikit/linkfault.h>
#include <scsikit/xdisk.h>

static struct ev_loop *loop;
static pthread_t loop_thread;
static struct ev_thread *reactor2;	/* the reactor tests' second loop */
static struct ev_loop *srv_loops[2];	/* a server's reactors (0: its loop) */
static unsigned srv_nloops;
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
static uint32_t srv_timeout_ms, cli_ping_ms, cli_timeout_ms; /* 0: defaults */
static char errbuf[256];
static int rc_out;
static char url[256];

static void do_server_start(void *arg)
{
	struct xdisk_server_opts o = { .host = which ? "srvB" : "srvA",
				       .timeout_ms = srv_timeout_ms,
				       .loops = srv_loops,
				       .nloops = srv_nloops };
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
				       .ping_ms = cli_ping_ms,
				       .timeout_ms = cli_timeout_ms,
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
	srv_timeout_ms = cli_ping_ms = cli_timeout_ms = 0;
	srv_nloops = 0;
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
	if (reactor2) {
		ev_thread_stop(reactor2);
		reactor2 = NULL;
	}
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
	bool span_delete;    /* advertise spans opened and closed at once */
	uint32_t short_read; /* bytes to answer a READ with */
	uint32_t open_err;   /* answer BLK_OPEN with this error */
	uint32_t write_resid; /* answer WRITE with success and this resid */
	uint32_t read_lnkerr; /* answer READ with a bare LNK_ERROR(this) */
	int cantcirc;	     /* answer this many READs with CANTCIRC */
	int opens;	     /* BLK_OPENs received */
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
			dmsg_state_open(io, NULL,
					DMSG_LNK_SPAN |
						(fk.span_delete ? DMSGF_DELETE
								: 0),
					&fk.spans[i], sizeof(fk.spans[i]), NULL,
					0, NULL, NULL);
		break;
	case DMSG_BLK_OPEN: {
		struct dmsg_blk_error e = { .keyid = 5 };

		fk.opens++;
		if (fk.open_err) {
			dmsg_state_reply(st, fk.open_err);
			break;
		}
		dmsg_state_send(st, DMSG_BLK_ERROR, 0, &e, sizeof(e), NULL, 0);
		break;
	}
	case DMSG_BLK_WRITE: {
		struct dmsg_blk_error e = { .keyid = 5,
					    .resid = fk.write_resid };

		dmsg_state_send(st, DMSG_BLK_ERROR | DMSGF_DELETE, 0, &e,
				sizeof(e), NULL, 0);
		break;
	}
	case DMSG_BLK_READ: {
		static uint8_t data[65536];
		struct dmsg_blk_error e = { .keyid = 5 };

		if (fk.cantcirc > 0) {
			fk.cantcirc--;
			dmsg_state_reply(st, DMSG_ERR_CANTCIRC);
			break;
		}
		if (fk.read_lnkerr) {
			dmsg_state_reply(st, fk.read_lnkerr);
			break;
		}
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

/* A fresh fake with one span of label, listening. */
static void fake_reset(const char *label, uint64_t bytes, uint32_t bs)
{
	memset(&fk, 0, sizeof(fk));
	fake_span(label, bytes, bs);
	on_loop(do_fake_start, NULL);
}

/* The client's listing and stats contain s. */
static bool listed(const char *s)
{
	on_loop(do_query, NULL);
	return strstr(listing, s) != NULL;
}

static void fake_done(struct bdev *bd)
{
	bdev_release(bd);
	on_loop(do_client_stop, NULL);
	on_loop(do_fake_stop, NULL);
}

/* A read on a thread of its own, so that a hang is a failure, not a
 * test that never ends. */
static int read_within(struct bdev *bd, int ms, int *rc)
{
	/* Left to the thread (leaked) if it hangs. */
	struct one_read *o = calloc(1, sizeof(*o));
	pthread_t th;

	assert_non_null(o);
	o->bd = bd;
	assert_int_equal(pthread_create(&th, NULL, one_read_main, o), 0);
	for (int t = 0; t < ms && !o->done; t += 10)
		msleep(10);
	if (!o->done) {
		pthread_detach(th);
		return -1;
	}
	pthread_join(th, NULL);
	*rc = o->rc;
	free(o);
	return 0;
}

static void test_refused_open_reaches_io(void **state)
{
	struct bdev *bd;
	int rc = 1;

	fake_reset("ref", 1 << 20, 512);
	fk.open_err = DMSG_ERR_IO;
	client_start("xdisk://127.0.0.1:%d");
	bd = xa0();
	assert_non_null(bd);
	/* One path, and it refuses to open: the read gets the error. */
	assert_int_equal(read_within(bd, 3000, &rc), 0);
	assert_int_equal(rc, -EIO);
	/* The path is tried again after a back-off and then works. */
	fk.open_err = 0;
	for (int t = 0; t < 100 && !xdisk_client_disk_ready(cl, "xa0"); t++)
		msleep(20);
	assert_int_equal(read_within(bd, 3000, &rc), 0);
	assert_int_equal(rc, 0);
	assert_true(fk.opens >= 2);
	assert_false(listed("open-refusals 0"));
	fake_done(bd);
}

static void test_refused_open_other_path(void **state)
{
	/* The fake refuses, the real server on the other path opens: I/O
	 * runs there and never sees the refusal. */
	static uint8_t r[4096];
	struct bdev *bd;

	fake_reset("d0", 16 << 20, 512);
	fk.open_err = DMSG_ERR_IO;
	which = 1;
	on_loop(do_server_start, NULL);
	client_start("xdisk://127.0.0.1:%d,127.0.0.1:%d");
	bd = xa0();
	assert_non_null(bd);
	for (int t = 0; t < 100 && count_paths() < 2; t++)
		msleep(10);
	for (int i = 0; i < 20; i++)
		assert_int_equal(bdev_read_sync(bd, r, 0, sizeof(r)), 0);
	fake_done(bd);
}

static void test_span_create_delete_ignored(void **state)
{
	fake_reset("gone", 1 << 20, 512);
	fk.span_delete = true;
	client_start("xdisk://127.0.0.1:%d");
	for (int t = 0; t < 50 && !strstr(listing, " up "); t++) {
		msleep(10);
		on_loop(do_query, NULL);
	}
	msleep(200);
	assert_true(listed(" up "));
	assert_int_equal(ndisks_out, 0);
	assert_int_equal(count_paths(), 0);
	assert_int_equal(fk.opens, 0);
	on_loop(do_client_stop, NULL);
	on_loop(do_fake_stop, NULL);
}

static void test_residual_honoured(void **state)
{
	static uint8_t b[4096];
	struct bdev *bd;

	fake_reset("res", 1 << 20, 512);
	fk.write_resid = 512;
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	bd = xa0();
	/* "Done, but 512 bytes short": not an acknowledged write. */
	assert_int_equal(bdev_write_sync(bd, b, 0, sizeof(b), 0), -EIO);
	fk.write_resid = 0;
	assert_int_equal(bdev_write_sync(bd, b, 0, sizeof(b), 0), 0);
	/* A bare LNK_ERROR with an error: a residual of all of it. */
	fk.read_lnkerr = DMSG_ERR_IO;
	assert_int_equal(bdev_read_sync(bd, b, 0, sizeof(b)), -EIO);
	assert_true(listed("resid-bytes 4608 "));
	fake_done(bd);
}

static void test_cantcirc_requeued(void **state)
{
	static uint8_t r[4096];
	struct bdev *bd;

	fake_reset("cc", 1 << 20, 512);
	fk.short_read = 4096;
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	bd = xa0();
	fk.cantcirc = 1;
	/* The server forgot the open: the client reopens and runs the
	 * read again instead of failing it. */
	assert_int_equal(bdev_read_sync(bd, r, 0, sizeof(r)), 0);
	assert_int_equal(r[0], 0xAA);
	assert_int_equal(fk.cantcirc, 0);
	assert_int_equal(fk.opens, 2);
	assert_true(listed("requeues 1 "));
	assert_non_null(strstr(listing, "errors 0 "));
	fake_done(bd);
}

/* ---- many I/Os at once -------------------------------------------------- */

#define NIO 200

static struct bdev *many_bd;
static struct bdev_io many_io[NIO];
static struct iovec many_iov[NIO];
static uint8_t many_buf[NIO][4096];
static int many_done, many_bad;

static void many_cb(struct bdev_io *bio, int status, void *arg)
{
	if (status)
		__atomic_add_fetch(&many_bad, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&many_done, 1, __ATOMIC_SEQ_CST);
}

static void do_many_submit(void *arg)
{
	for (int i = 0; i < NIO; i++) {
		struct bdev_io *bio = &many_io[i];

		memset(bio, 0, sizeof(*bio));
		fill(many_buf[i], sizeof(many_buf[i]), (uint32_t)i + 1000);
		many_iov[i].iov_base = many_buf[i];
		many_iov[i].iov_len = sizeof(many_buf[i]);
		bio->type = BDEV_IO_WRITE;
		bio->offset = (uint64_t)i * 4096;
		bio->length = 4096;
		bio->iov = &many_iov[i];
		bio->iovcnt = 1;
		bio->loop = loop;
		bio->cb = many_cb;
		if (bdev_submit(many_bd, bio) < 0)
			many_cb(bio, -EIO, NULL);
	}
}

static void test_more_than_64_in_flight(void **state)
{
	struct bdev_fault_rule hold = { .action = BDEV_FAULT_HOLD,
					.count = -1 };
	static uint8_t r[4096], w[4096];
	struct bdev *fault;

	bdev_registry_clear();
	fault = bdev_fault_create("d0", backing);
	assert_non_null(fault);
	assert_int_equal(bdev_registry_add(fault), 0);
	server_start(0);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	many_bd = xa0();
	many_done = many_bad = 0;
	bdev_fault_set(fault, &hold);
	on_loop(do_many_submit, NULL);
	/* 64 tags run (held by the backend), the rest wait in order. */
	for (int t = 0; t < 200 && bdev_fault_hits(fault) < 64; t++)
		msleep(10);
	msleep(50);
	assert_int_equal(bdev_fault_hits(fault), 64);
	assert_true(listed("tags-busy 64 queued 136 "));
	assert_int_equal(many_done, 0);
	bdev_fault_clear(fault);
	bdev_fault_release_held(fault);
	for (int t = 0; t < 500 && __atomic_load_n(&many_done,
						   __ATOMIC_SEQ_CST) < NIO; t++)
		msleep(10);
	assert_int_equal(many_done, NIO);
	assert_int_equal(many_bad, 0);
	for (int i = 0; i < NIO; i++) {
		fill(w, sizeof(w), (uint32_t)i + 1000);
		assert_int_equal(bdev_read_sync(backing, r, (uint64_t)i * 4096,
						sizeof(r)),
				 0);
		assert_memory_equal(w, r, sizeof(r));
	}
	assert_true(listed("tags-busy 0 queued 0 "));
	bdev_release(many_bd);
	bdev_release(fault);
}

static void test_withdrawal_with_io_in_flight(void **state)
{
	struct bdev_fault_rule hold = { .action = BDEV_FAULT_HOLD,
					.type_mask = 1u << BDEV_IO_READ,
					.count = 1 };
	struct one_read o = { 0 }, o2 = { 0 };
	struct bdev *fault;
	pthread_t th;

	bdev_registry_clear();
	fault = bdev_fault_create("d0", backing);
	assert_non_null(fault);
	assert_int_equal(bdev_registry_add(fault), 0);
	server_start(0);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	o.bd = xa0();
	bdev_fault_set(fault, &hold);
	assert_int_equal(pthread_create(&th, NULL, one_read_main, &o), 0);
	for (int t = 0; t < 200 && bdev_fault_hits(fault) < 1; t++)
		msleep(10);
	assert_int_equal(bdev_fault_hits(fault), 1);
	/* Withdraw the disk while its read runs: the span stays until the
	 * read is answered, and the read completes, not fails. */
	assert_int_equal(bdev_registry_remove("d0"), 0);
	msleep(100);
	assert_int_equal(count_paths(), 1);
	assert_false(o.done);
	bdev_fault_release_held(fault);
	pthread_join(th, NULL);
	assert_int_equal(o.rc, 0);
	for (int t = 0; t < 100 && count_paths() > 0; t++)
		msleep(10);
	assert_int_equal(count_paths(), 0);
	/* New I/O waits for a path; the disk coming back serves it. */
	o2.bd = o.bd;
	assert_int_equal(pthread_create(&th, NULL, one_read_main, &o2), 0);
	msleep(200);
	assert_false(o2.done);
	assert_int_equal(bdev_registry_add(fault), 0);
	pthread_join(th, NULL);
	assert_int_equal(o2.rc, 0);
	assert_true(listed("errors 0 "));
	bdev_release(o.bd);
	bdev_release(fault);
}

static char srv_listing[4096];

static void do_server_list(void *arg)
{
	FILE *f = fmemopen(srv_listing, sizeof(srv_listing), "w");

	xdisk_server_list(srv[which], f);
	fclose(f);
}

static void test_fencing_stale_write(void **state)
{
	/* A link stalls (a partitioned network) while the server holds a
	 * write still unread.  The client times out, reconnects, reopens
	 * and rewrites the block; when the old link finally delivers the
	 * stale write, the server must refuse it. */
	static uint8_t a[65536], b[65536], r[65536];
	struct sk_link_fault_rule stall = { .action = SK_LINK_STALL,
					    .front_mask = 1u << SK_LINK_XDISK,
					    .dir = SK_LINK_RX,
					    .after = 16384,
					    .count = 1 };
	struct bdev *bd;
	int id;

	srv_timeout_ms = 60000;	/* the server keeps the stalled link */
	cli_ping_ms = 100;
	cli_timeout_ms = 500;
	id = sk_link_fault_add(&stall);
	assert_true(id > 0);
	server_start(0);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	bd = xa0();
	assert_int_equal(sk_link_fault_hits(id), 1);
	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	/* Stalls mid-message; the client fails over (to a new link to the
	 * same server) and the write is done there. */
	assert_int_equal(bdev_write_sync(bd, a, 0, sizeof(a), 0), 0);
	assert_int_equal(bdev_write_sync(bd, b, 0, sizeof(b), 0), 0);
	assert_int_equal(bdev_read_sync(backing, r, 0, sizeof(r)), 0);
	assert_memory_equal(r, b, sizeof(r));
	/* The old link moves again: its copy of A arrives late, and then
	 * its end (the client closed it long ago). */
	assert_int_equal(sk_link_fault_clear(id), 0);
	which = 0;
	for (int t = 0; t < 300; t++) {
		on_loop(do_server_list, NULL);
		if (!strstr(strstr(srv_listing, "link ") + 1, "link "))
			break;
		msleep(10);
	}
	msleep(50);
	assert_int_equal(bdev_read_sync(backing, r, 0, sizeof(r)), 0);
	assert_memory_equal(r, b, sizeof(r));
	on_loop(do_server_list, NULL);
	assert_non_null(strstr(srv_listing, "fenced-ios 1"));
	bdev_release(bd);
}

static void test_dmsg_crc_catches_corruption(void **state)
{
	/* One byte of the write stream flipped on the server's side of the
	 * link: the aux CRC refuses the message, the link is reset, and the
	 * client reconnects and writes again; nothing wrong is stored. */
	static uint8_t w[65536], r[65536];
	struct sk_link_fault_rule flip = { .action = SK_LINK_CORRUPT,
					   .front_mask = 1u << SK_LINK_XDISK,
					   .dir = SK_LINK_RX,
					   .after = 100000,
					   .count = 1 };
	struct bdev *bd;
	int id = sk_link_fault_add(&flip);

	assert_true(id > 0);
	server_start(0);
	client_start("xdisk://127.0.0.1:%d");
	assert_true(wait_ready(2000));
	bd = xa0();
	for (uint32_t i = 0; i < 8; i++) {
		fill(w, sizeof(w), i + 77);
		assert_int_equal(bdev_write_sync(bd, w, i * sizeof(w),
						 sizeof(w), 0),
				 0);
	}
	for (uint32_t i = 0; i < 8; i++) {
		fill(w, sizeof(w), i + 77);
		assert_int_equal(bdev_read_sync(backing, r, i * sizeof(r),
						sizeof(r)),
				 0);
		assert_memory_equal(w, r, sizeof(r));
	}
	assert_int_equal(sk_link_fault_hits(id), 1);
	assert_true(listed("losses 1"));
	assert_true(listed("errors 0 "));
	assert_int_equal(sk_link_fault_clear(id), 0);
	bdev_release(bd);
}

/* Opens of d0 server i holds (its listing's "opens N" summed). */
static int server_opens(int i)
{
	int n = 0;

	which = i;
	on_loop(do_server_list, NULL);
	for (char *p = srv_listing; (p = strstr(p, " opens ")) != NULL; p++)
		n += atoi(p + 7);
	return n;
}

static void test_open_lifecycle(void **state)
{
	/* docs/dmsg.md, "Open lifecycle": one BLK_OPEN per disk, on the
	 * active path only; it moves with a failover and ends at detach. */
	int a, b, active;

	server_start(0);
	server_start(1);
	client_start("xdisk://127.0.0.1:%d,127.0.0.1:%d");
	assert_true(wait_ready(2000));
	for (int t = 0; t < 100 && count_paths() < 2; t++)
		msleep(10);
	a = server_opens(0);
	b = server_opens(1);
	assert_int_equal(a + b, 1);
	active = a ? 0 : 1;
	server_stop(active);
	for (int t = 0; t < 200 && server_opens(!active) == 0; t++)
		msleep(10);
	assert_int_equal(server_opens(!active), 1);
	on_loop(do_client_stop, NULL);
	for (int t = 0; t < 200 && server_opens(!active) != 0; t++)
		msleep(10);
	assert_int_equal(server_opens(!active), 0);
}

/* ---- links on several reactors ----------------------------------------- */

/* A disk that records on which thread and loop the server ran each I/O:
 * reads return zeroes, writes are dropped. */
static int probe_on[2], probe_wrong;

static int probe_submit(struct bdev *bd, struct bdev_io *bio)
{
	int k = bio->loop == srv_loops[0] ? 0 : bio->loop == srv_loops[1] ? 1
									   : -1;

	if (k < 0 || !ev_loop_in_thread(bio->loop))
		__atomic_add_fetch(&probe_wrong, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&probe_on[k], 1, __ATOMIC_RELAXED);
	if (bio->type == BDEV_IO_READ)
		for (int i = 0; i < bio->iovcnt; i++)
			memset(bio->iov[i].iov_base, 0, bio->iov[i].iov_len);
	bdev_io_complete_deferred(bio, 0);
	return 0;
}

static const struct bdev_ops probe_ops = {
	.name = "probe",
	.submit = probe_submit,
};

static void reactors_start(bool both)
{
	reactor2 = ev_thread_start();
	assert_non_null(reactor2);
	/* Links go to the second reactor first: the one that does not
	 * accept. */
	srv_loops[0] = ev_thread_loop(reactor2);
	srv_loops[1] = loop;
	srv_nloops = both ? 2 : 1;
}

/* Which reactor each server link is on, from the listing. */
static void link_reactors(int i, int *n0, int *n1)
{
	*n0 = *n1 = 0;
	which = i;
	on_loop(do_server_list, NULL);
	for (char *p = srv_listing; (p = strstr(p, " reactor ")) != NULL;
	     p++)
		(atoi(p + 9) ? n1 : n0)[0]++;
}

static void test_links_on_reactors(void **state)
{
	static uint8_t buf[4096];
	struct bdev_geometry geo = { .size = 1 << 20, .lbsize = 512,
				     .pbsize = 512, .max_xfer = 1 << 20 };
	struct bdev *probe, *bd = NULL;
	int n0, n1, active;

	reactors_start(true);
	probe = bdev_alloc(&probe_ops, "probe", &geo, NULL);
	assert_non_null(probe);
	assert_int_equal(bdev_registry_add(probe), 0);
	server_start(0);
	/* Two links to one server: the server puts them on its two
	 * reactors, round robin. */
	port[1] = port[0];
	client_start("xdisk://127.0.0.1:%d,127.0.0.1:%d");
	for (int t = 0; t < 300; t++) {
		link_reactors(0, &n0, &n1);
		if (n0 + n1 == 2)
			break;
		msleep(10);
	}
	assert_int_equal(n0, 1);
	assert_int_equal(n1, 1);
	for (int t = 0; t < 200 && !bd; t++) {
		bd = xdisk_client_get_disk(cl, "probe");
		if (!bd)
			msleep(10);
	}
	assert_non_null(bd);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(bdev_write_sync(bd, buf, i * 4096ull, 4096, 0),
				 0);
		assert_int_equal(bdev_read_sync(bd, buf, i * 4096ull, 4096), 0);
	}
	/* Every I/O ran on the reactor of the link that carried it, on
	 * that reactor's thread; all went through the one open path. */
	assert_int_equal(probe_wrong, 0);
	assert_int_equal(probe_on[0] + probe_on[1], 128);
	active = probe_on[0] ? 0 : 1;
	assert_int_equal(probe_on[active], 128);
	bdev_release(bd);
	on_loop(do_client_stop, NULL);
	bdev_registry_remove("probe");
	bdev_release(probe);
}

static void test_failover_link_on_reactor(void **state)
{
	struct workload wl = { 0 };
	pthread_t th;
	int n0, n1;

	/* Server A runs its links on the second reactor only; B on its
	 * own loop.  Kill A under I/O (its links end on their reactor),
	 * bring it back, then kill B: the I/O goes on over A's link on the
	 * second reactor. */
	reactors_start(false);
	server_start(0);
	srv_nloops = 0;
	server_start(1);
	client_start("xdisk://127.0.0.1:%d,127.0.0.1:%d");
	assert_true(wait_ready(2000));
	for (int t = 0; t < 100 && count_paths() < 2; t++)
		msleep(10);
	assert_int_equal(count_paths(), 2);
	link_reactors(0, &n0, &n1);
	assert_int_equal(n0, 1);
	wl.bd = xa0();
	assert_int_equal(pthread_create(&th, NULL, workload_main, &wl), 0);
	msleep(100);
	server_stop(0);
	msleep(150);
	srv_nloops = 1;
	server_start(0);
	for (int t = 0; t < 300 && count_paths() < 2; t++)
		msleep(10);
	assert_int_equal(count_paths(), 2);
	msleep(100);
	server_stop(1);
	msleep(200);
	wl.stop = true;
	pthread_join(th, NULL);
	assert_true(wl.ops > 20);
	assert_int_equal(wl.errors, 0);
	assert_int_equal(wl.mismatches, 0);
	link_reactors(0, &n0, &n1);
	assert_int_equal(n0, 1);
	assert_int_equal(n1, 0);
	bdev_release(wl.bd);
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
		cmocka_unit_test_setup_teardown(test_refused_open_reaches_io,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_open_other_path,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_span_create_delete_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_residual_honoured, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cantcirc_requeued, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_more_than_64_in_flight,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_withdrawal_with_io_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fencing_stale_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_lifecycle, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_dmsg_crc_catches_corruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_on_reactors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failover_link_on_reactor,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
