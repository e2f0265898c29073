/*
 * End-to-end tests of the NBD server (src/nbd) on a real event loop thread
 * and real memory bdevs, driven by a small blocking client over a Unix
 * socket: negotiation, reads and writes in simple and structured mode,
 * hole chunks, block status, trim / write zeroes, pipelined requests, the
 * error answers to bad requests, bad magic, DISC, and the per-connection
 * budget with a client that does not read its replies.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/nbd.h>

#include "nbd/proto.h"

#define DISK_SIZE (8u << 20)

static struct ev_loop *loop;
static pthread_t loop_thread;
static struct nbd_server *srv, *srv_small;
static struct bdev *fault_bd;
static char path_a[108], path_b[108];

static void *loop_main(void *arg)
{
	(void)arg;
	ev_loop_run(loop);
	return NULL;
}

static int group_setup(void **state)
{
	struct nbd_server_opts o;
	struct bdev *bd;
	char err[256];

	(void)state;
	loop = ev_loop_create();
	assert_non_null(loop);
	bd = bdev_mem_create("disk0", DISK_SIZE, 512, false);
	assert_non_null(bd);
	assert_int_equal(bdev_registry_add(bd), 0);
	bdev_release(bd);
	bd = bdev_mem_create("ro", 1 << 20, 512, true);
	assert_int_equal(bdev_registry_add(bd), 0);
	bdev_release(bd);
	/* "flt": a memory disk behind the fault injector. */
	bd = bdev_mem_create("flt-inner", 1 << 20, 512, false);
	fault_bd = bdev_fault_create("flt", bd);
	bdev_release(bd);
	assert_non_null(fault_bd);
	assert_int_equal(bdev_registry_add(fault_bd), 0);

	snprintf(path_a, sizeof(path_a), "/tmp/sk-nbd-unit-%d-a.sock",
		 (int)getpid());
	snprintf(path_b, sizeof(path_b), "/tmp/sk-nbd-unit-%d-b.sock",
		 (int)getpid());
	nbd_server_opts_init(&o);
	o.accept_loop = loop;
	srv = nbd_server_create(&o);
	assert_int_equal(nbd_server_listen(srv, path_a, err, sizeof(err)), 0);
	/* A server with a small budget and a short stall timeout. */
	o.max_requests = 8;
	o.max_buffered = 256 * 1024;
	o.stall_timeout_ms = 700;
	srv_small = nbd_server_create(&o);
	snprintf(err, sizeof(err), "unix:%s", path_b);
	assert_int_equal(nbd_server_listen(srv_small, err, err, sizeof(err)),
			 0);
	assert_int_equal(pthread_create(&loop_thread, NULL, loop_main, NULL),
			 0);
	return 0;
}

static void destroy_cb(void *arg)
{
	(void)arg;
	nbd_server_destroy(srv);
	nbd_server_destroy(srv_small);
	ev_loop_stop(loop);
}

static int group_teardown(void **state)
{
	(void)state;
	ev_loop_post(loop, destroy_cb, NULL);
	pthread_join(loop_thread, NULL);
	ev_loop_destroy(loop);
	bdev_registry_clear();
	bdev_release(fault_bd);
	assert_int_equal(access(path_a, F_OK), -1);
	return 0;
}

/* ---- a small blocking client ---- */

static int cl_connect(const char *path)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	strcpy(un.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	return fd;
}

static void cl_write(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		assert_true(w > 0);
		p = (const uint8_t *)p + w;
		n -= (size_t)w;
	}
}

/* Read exactly n bytes; returns false on EOF / reset. */
static bool cl_read(int fd, void *p, size_t n)
{
	while (n) {
		struct pollfd pf = {fd, POLLIN, 0};
		ssize_t r;

		assert_int_equal(poll(&pf, 1, 10000), 1);
		r = read(fd, p, n);
		if (r <= 0)
			return false;
		p = (uint8_t *)p + r;
		n -= (size_t)r;
	}
	return true;
}

static void cl_opt(int fd, uint32_t opt, const void *data, uint32_t len)
{
	uint8_t h[16];

	nbd_put64(h, NBD_MAGIC_OPT);
	nbd_put32(h + 8, opt);
	nbd_put32(h + 12, len);
	cl_write(fd, h, 16);
	if (len)
		cl_write(fd, data, len);
}

/* Read one option reply header; data (up to cap) into buf. */
static uint32_t cl_opt_reply(int fd, uint32_t opt, uint8_t *buf, size_t cap,
			     uint32_t *len)
{
	uint8_t h[20];

	assert_true(cl_read(fd, h, 20));
	assert_true(nbd_get64(h) == NBD_MAGIC_OPT_REPLY);
	assert_int_equal(nbd_get32(h + 8), opt);
	*len = nbd_get32(h + 16);
	assert_true(*len <= cap);
	assert_true(cl_read(fd, buf, *len));
	return nbd_get32(h + 12);
}

struct cl_export {
	uint64_t size;
	uint16_t flags;
	uint32_t min, pref, max;
};

static int cl_open(const char *path, const char *name, bool structured,
		   struct cl_export *e)
{
	int fd = cl_connect(path);
	uint8_t g[18], buf[4200];
	uint32_t len, type, n = (uint32_t)strlen(name);

	assert_true(cl_read(fd, g, 18));
	assert_true(nbd_get64(g) == NBD_MAGIC_INIT);
	nbd_put32(buf, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	cl_write(fd, buf, 4);
	if (structured) {
		cl_opt(fd, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
		assert_int_equal(cl_opt_reply(fd, NBD_OPT_STRUCTURED_REPLY,
					      buf, sizeof(buf), &len),
				 NBD_REP_ACK);
		/* base:allocation on this export */
		nbd_put32(buf, n);
		memcpy(buf + 4, name, n);
		nbd_put32(buf + 4 + n, 1);
		nbd_put32(buf + 8 + n, 15);
		memcpy(buf + 12 + n, "base:allocation", 15);
		cl_opt(fd, NBD_OPT_SET_META_CONTEXT, buf, 27 + n);
		assert_int_equal(cl_opt_reply(fd, NBD_OPT_SET_META_CONTEXT,
					      buf, sizeof(buf), &len),
				 NBD_REP_META_CONTEXT);
		assert_int_equal(cl_opt_reply(fd, NBD_OPT_SET_META_CONTEXT,
					      buf, sizeof(buf), &len),
				 NBD_REP_ACK);
	}
	nbd_put32(buf, n);
	memcpy(buf + 4, name, n);
	nbd_put16(buf + 4 + n, 1);
	nbd_put16(buf + 6 + n, NBD_INFO_BLOCK_SIZE);
	cl_opt(fd, NBD_OPT_GO, buf, 8 + n);
	memset(e, 0, sizeof(*e));
	for (;;) {
		type = cl_opt_reply(fd, NBD_OPT_GO, buf, sizeof(buf), &len);
		if (type == NBD_REP_ACK)
			break;
		if (type != NBD_REP_INFO) {
			close(fd);
			return -1;
		}
		if (nbd_get16(buf) == NBD_INFO_EXPORT) {
			e->size = nbd_get64(buf + 2);
			e->flags = nbd_get16(buf + 10);
		} else if (nbd_get16(buf) == NBD_INFO_BLOCK_SIZE) {
			e->min = nbd_get32(buf + 2);
			e->pref = nbd_get32(buf + 6);
			e->max = nbd_get32(buf + 10);
		}
	}
	return fd;
}

static void cl_req(int fd, uint16_t flags, uint16_t type, uint64_t cookie,
		   uint64_t off, uint32_t len, const void *payload)
{
	uint8_t h[28];

	nbd_put32(h, NBD_MAGIC_REQUEST);
	nbd_put16(h + 4, flags);
	nbd_put16(h + 6, type);
	nbd_put64(h + 8, cookie);
	nbd_put64(h + 16, off);
	nbd_put32(h + 24, len);
	cl_write(fd, h, 28);
	if (payload)
		cl_write(fd, payload, len);
}

/* Simple reply: returns the error; cookie checked. */
static uint32_t cl_simple(int fd, uint64_t cookie)
{
	uint8_t h[16];

	assert_true(cl_read(fd, h, 16));
	assert_true(nbd_get32(h) == NBD_MAGIC_SIMPLE_REPLY);
	assert_true(nbd_get64(h + 8) == cookie);
	return nbd_get32(h + 4);
}

struct chunk {
	uint16_t flags, type;
	uint64_t cookie;
	uint32_t len;
	uint8_t *data;
};

/* Read a reply header of either kind (structured session). */
static void cl_chunk(int fd, struct chunk *c)
{
	uint8_t h[20];

	assert_true(cl_read(fd, h, 4));
	if (nbd_get32(h) == NBD_MAGIC_SIMPLE_REPLY) {
		assert_true(cl_read(fd, h + 4, 12));
		c->flags = NBD_REPLY_FLAG_DONE;
		c->type = 0xffff; /* marks a simple reply */
		c->cookie = nbd_get64(h + 8);
		c->len = nbd_get32(h + 4); /* the error */
		c->data = NULL;
		return;
	}
	assert_true(nbd_get32(h) == NBD_MAGIC_STRUCTURED_REPLY);
	assert_true(cl_read(fd, h + 4, 16));
	c->flags = nbd_get16(h + 4);
	c->type = nbd_get16(h + 6);
	c->cookie = nbd_get64(h + 8);
	c->len = nbd_get32(h + 16);
	c->data = malloc(c->len ? c->len : 1);
	assert_true(cl_read(fd, c->data, c->len));
}

static bool cl_closed(int fd)
{
	uint8_t b[4096];
	struct pollfd pf = {fd, POLLIN, 0};

	for (;;) {
		ssize_t r;

		if (poll(&pf, 1, 5000) != 1)
			return false;
		r = read(fd, b, sizeof(b));
		if (r <= 0)
			return true;
	}
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + (i >> 9));
}

/* ---- tests ---- */

static void test_simple_rw(void **state)
{
	struct cl_export e;
	static uint8_t w[65536], r[65536 + 16];
	int fd = cl_open(path_a, "disk0", false, &e);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(e.size, DISK_SIZE);
	assert_int_equal(e.min, 512);
	assert_int_equal(e.pref, 4096);
	assert_true(e.flags & NBD_FLAG_SEND_FLUSH);
	assert_true(e.flags & NBD_FLAG_SEND_TRIM);
	assert_true(e.flags & NBD_FLAG_CAN_MULTI_CONN);
	assert_false(e.flags & NBD_FLAG_SEND_DF);

	fill(w, sizeof(w), 1);
	cl_req(fd, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 1, 4096, sizeof(w), w);
	assert_int_equal(cl_simple(fd, 1), 0);
	cl_req(fd, 0, NBD_CMD_FLUSH, 2, 0, 0, NULL);
	assert_int_equal(cl_simple(fd, 2), 0);
	cl_req(fd, 0, NBD_CMD_READ, 3, 4096, sizeof(w), NULL);
	assert_int_equal(cl_simple(fd, 3), 0);
	assert_true(cl_read(fd, r, sizeof(w)));
	assert_memory_equal(r, w, sizeof(w));

	/* Bad requests: answered, the connection goes on. */
	cl_req(fd, 0, NBD_CMD_READ, 4, DISK_SIZE - 512, 1024, NULL);
	assert_int_equal(cl_simple(fd, 4), NBD_EINVAL);
	cl_req(fd, 0, NBD_CMD_READ, 5, 100, 512, NULL);
	assert_int_equal(cl_simple(fd, 5), NBD_EINVAL);
	cl_req(fd, 0, NBD_CMD_WRITE, 6, DISK_SIZE, 512, w);
	assert_int_equal(cl_simple(fd, 6), NBD_ENOSPC);
	cl_req(fd, 0, 42, 7, 0, 0, NULL);
	assert_int_equal(cl_simple(fd, 7), NBD_EINVAL);
	cl_req(fd, 0, NBD_CMD_BLOCK_STATUS, 8, 0, 4096, NULL);
	assert_int_equal(cl_simple(fd, 8), NBD_EINVAL);
	cl_req(fd, NBD_CMD_FLAG_DF, NBD_CMD_READ, 9, 0, 512, NULL);
	assert_int_equal(cl_simple(fd, 9), NBD_EINVAL);
	cl_req(fd, 0, NBD_CMD_READ, 10, 0, 64 << 20, NULL);
	assert_int_equal(cl_simple(fd, 10), NBD_EINVAL);
	/* Still in sync after the refused write's payload. */
	cl_req(fd, 0, NBD_CMD_READ, 11, 4096, 512, NULL);
	assert_int_equal(cl_simple(fd, 11), 0);
	assert_true(cl_read(fd, r, 512));
	assert_memory_equal(r, w, 512);

	/* Zero-length requests succeed without data. */
	cl_req(fd, 0, NBD_CMD_WRITE, 20, 0, 0, NULL);
	assert_int_equal(cl_simple(fd, 20), 0);
	cl_req(fd, 0, NBD_CMD_READ, 21, 0, 0, NULL);
	assert_int_equal(cl_simple(fd, 21), 0);
	cl_req(fd, 0, NBD_CMD_TRIM, 22, 4096, 0, NULL);
	assert_int_equal(cl_simple(fd, 22), 0);
	cl_req(fd, 0, NBD_CMD_WRITE_ZEROES, 23, 4096, 0, NULL);
	assert_int_equal(cl_simple(fd, 23), 0);
	cl_req(fd, 0, NBD_CMD_CACHE, 24, 0, 0, NULL);
	assert_int_equal(cl_simple(fd, 24), 0);

	cl_req(fd, 0, NBD_CMD_DISC, 12, 0, 0, NULL);
	assert_true(cl_closed(fd));
	close(fd);
}

static void test_structured(void **state)
{
	struct cl_export e;
	static uint8_t w[262144];
	struct chunk c;
	int fd = cl_open(path_a, "disk0", true, &e);
	uint64_t base = 1 << 20;

	(void)state;
	assert_true(e.flags & NBD_FLAG_SEND_DF);
	fill(w, sizeof(w), 7);
	/* Data at [base, base+64K) and [base+192K, base+256K). */
	cl_req(fd, 0, NBD_CMD_WRITE, 1, base, 65536, w);
	cl_chunk(fd, &c);
	assert_int_equal(c.cookie, 1);
	assert_int_equal(c.type, 0xffff);
	assert_int_equal(c.len, 0);
	cl_req(fd, 0, NBD_CMD_WRITE, 2, base + 196608, 65536, w + 196608);
	cl_chunk(fd, &c);
	assert_int_equal(c.len, 0);

	/* A 256K read: data, hole, data chunks. */
	cl_req(fd, 0, NBD_CMD_READ, 3, base, 262144, NULL);
	{
		uint64_t covered = 0;
		bool done = false, saw_hole = false;

		while (!done) {
			uint64_t off;

			cl_chunk(fd, &c);
			assert_int_equal(c.cookie, 3);
			done = c.flags & NBD_REPLY_FLAG_DONE;
			off = nbd_get64(c.data);
			if (c.type == NBD_REPLY_TYPE_OFFSET_DATA) {
				assert_memory_equal(c.data + 8,
						    w + (off - base),
						    c.len - 8);
				covered += c.len - 8;
			} else {
				assert_int_equal(c.type,
						 NBD_REPLY_TYPE_OFFSET_HOLE);
				assert_int_equal(c.len, 12);
				covered += nbd_get32(c.data + 8);
				saw_hole = true;
			}
			free(c.data);
		}
		assert_true(saw_hole);
		assert_int_equal(covered, 262144);
	}

	/* DF: one data chunk with the zeroes present. */
	cl_req(fd, NBD_CMD_FLAG_DF, NBD_CMD_READ, 4, base, 262144, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(c.type, NBD_REPLY_TYPE_OFFSET_DATA);
	assert_int_equal(c.len, 8 + 262144);
	assert_true(c.flags & NBD_REPLY_FLAG_DONE);
	assert_memory_equal(c.data + 8, w, 65536);
	free(c.data);

	/* Block status over the same range. */
	cl_req(fd, 0, NBD_CMD_BLOCK_STATUS, 5, base, 262144, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(c.type, NBD_REPLY_TYPE_BLOCK_STATUS);
	assert_true(c.flags & NBD_REPLY_FLAG_DONE);
	assert_int_equal(nbd_get32(c.data), NBD_CTX_ID_BASE_ALLOCATION);
	assert_int_equal(c.len, 4 + 3 * 8);
	assert_int_equal(nbd_get32(c.data + 4), 65536);
	assert_int_equal(nbd_get32(c.data + 8), 0);
	assert_int_equal(nbd_get32(c.data + 12), 131072);
	assert_int_equal(nbd_get32(c.data + 16),
			 NBD_STATE_HOLE | NBD_STATE_ZERO);
	free(c.data);

	/* REQ_ONE: one extent. */
	cl_req(fd, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 6, base,
	       262144, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(c.len, 12);
	free(c.data);

	/* Trim the first part: it becomes a hole. */
	cl_req(fd, 0, NBD_CMD_TRIM, 7, base, 65536, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(c.len, 0);
	cl_req(fd, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS, 8, base,
	       65536, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(nbd_get32(c.data + 8),
			 NBD_STATE_HOLE | NBD_STATE_ZERO);
	free(c.data);

	/* Write zeroes with NO_HOLE and FAST_ZERO, FUA. */
	cl_req(fd, NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FUA,
	       NBD_CMD_WRITE_ZEROES, 9, base + 196608, 65536, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(c.len, 0);
	cl_req(fd, NBD_CMD_FLAG_FAST_ZERO, NBD_CMD_WRITE_ZEROES, 10, 0,
	       65536, NULL);
	cl_chunk(fd, &c);
	assert_true(c.len == 0 || c.len == NBD_ENOTSUP);
	cl_req(fd, 0, NBD_CMD_READ, 11, base + 196608, 4096, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(c.type, NBD_REPLY_TYPE_OFFSET_DATA);
	{
		static const uint8_t z[4096];

		assert_memory_equal(c.data + 8, z, 4096);
	}
	free(c.data);

	/* Cache. */
	cl_req(fd, 0, NBD_CMD_CACHE, 12, 0, 65536, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(c.len, 0);

	/* Errors come as error chunks with a message. */
	cl_req(fd, 0, NBD_CMD_READ, 13, DISK_SIZE, 512, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(c.type, NBD_REPLY_TYPE_ERROR);
	assert_true(c.flags & NBD_REPLY_FLAG_DONE);
	assert_int_equal(nbd_get32(c.data), NBD_EINVAL);
	assert_true(nbd_get16(c.data + 4) > 0);
	free(c.data);
	cl_req(fd, 0, NBD_CMD_BLOCK_STATUS, 14, DISK_SIZE - 512, 1024, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(c.type, NBD_REPLY_TYPE_ERROR);
	free(c.data);

	cl_req(fd, 0, NBD_CMD_DISC, 15, 0, 0, NULL);
	assert_true(cl_closed(fd));
	close(fd);
}

static void test_pipeline(void **state)
{
	struct cl_export e;
	enum { N = 200 };
	static uint8_t w[N][4096];
	bool seen[2 * N] = {false};
	uint8_t buf[4096];
	int fd = cl_open(path_a, "disk0", false, &e), i;

	(void)state;
	/* N writes, then N reads of the same blocks, without waiting. */
	for (i = 0; i < N; i++) {
		fill(w[i], 4096, (unsigned)i);
		cl_req(fd, 0, NBD_CMD_WRITE, (uint64_t)i, (uint64_t)i * 4096,
		       4096, w[i]);
	}
	for (i = 0; i < N; i++) {
		uint8_t h[16];

		assert_true(cl_read(fd, h, 16));
		assert_int_equal(nbd_get32(h + 4), 0);
		assert_true(nbd_get64(h + 8) < N);
		seen[nbd_get64(h + 8)] = true;
	}
	for (i = 0; i < N; i++)
		cl_req(fd, 0, NBD_CMD_READ, (uint64_t)(N + i),
		       (uint64_t)i * 4096, 4096, NULL);
	for (i = 0; i < N; i++) {
		uint8_t h[16];
		uint64_t ck;

		assert_true(cl_read(fd, h, 16));
		assert_int_equal(nbd_get32(h + 4), 0);
		ck = nbd_get64(h + 8);
		assert_true(ck >= N && ck < 2 * N);
		assert_true(cl_read(fd, buf, 4096));
		assert_memory_equal(buf, w[ck - N], 4096);
		seen[ck] = true;
	}
	for (i = 0; i < 2 * N; i++)
		assert_true(seen[i]);
	close(fd);
}

static void test_read_only(void **state)
{
	struct cl_export e;
	uint8_t w[512] = {1};
	int fd = cl_open(path_a, "ro", false, &e);

	(void)state;
	assert_true(e.flags & NBD_FLAG_READ_ONLY);
	assert_false(e.flags & NBD_FLAG_SEND_TRIM);
	cl_req(fd, 0, NBD_CMD_WRITE, 1, 0, 512, w);
	assert_int_equal(cl_simple(fd, 1), NBD_EPERM);
	cl_req(fd, 0, NBD_CMD_TRIM, 2, 0, 512, NULL);
	assert_int_equal(cl_simple(fd, 2), NBD_EINVAL);
	close(fd);
	/* Unknown export. */
	assert_int_equal(cl_open(path_a, "nope", false, &e), -1);
}

static void test_bad_magic(void **state)
{
	struct cl_export e;
	int fd = cl_open(path_a, "", false, &e);
	uint8_t junk[28];

	(void)state;
	memset(junk, 0xab, sizeof(junk));
	cl_write(fd, junk, sizeof(junk));
	assert_true(cl_closed(fd));
	close(fd);
}

/* A client that sends reads and never reads the replies: the server stops
 * reading it (bounded memory) and closes it after the stall timeout,
 * while another connection keeps working. */
static void test_stall(void **state)
{
	struct cl_export e;
	int fd = cl_open(path_b, "disk0", false, &e), fd2, i, sent = 0;
	int rcv = 4096;
	uint8_t h[28];

	(void)state;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	for (i = 0; i < 100000; i++) {
		struct pollfd pf = {fd, POLLOUT, 0};

		if (poll(&pf, 1, 300) != 1)
			break; /* the server stopped reading */
		nbd_put32(h, NBD_MAGIC_REQUEST);
		nbd_put16(h + 4, 0);
		nbd_put16(h + 6, NBD_CMD_READ);
		nbd_put64(h + 8, (uint64_t)i);
		nbd_put64(h + 16, 0);
		nbd_put32(h + 24, 65536);
		if (send(fd, h, 28, MSG_DONTWAIT) != 28)
			break;
		sent++;
	}
	/* Far fewer than 100000 requests were taken. */
	assert_true(sent < 100000);

	fd2 = cl_open(path_b, "disk0", false, &e);
	cl_req(fd2, 0, NBD_CMD_FLUSH, 1, 0, 0, NULL);
	assert_int_equal(cl_simple(fd2, 1), 0);
	close(fd2);

	/* Closed after the stall timeout (0.7 s here). */
	sleep(2);
	assert_true(cl_closed(fd));
	close(fd);
}

/* bdev errors become NBD errors: EIO in a simple reply, an error chunk
 * with the request's offset in a structured one. */
static void test_bdev_errors(void **state)
{
	struct bdev_fault_rule rule = {
		.action = BDEV_FAULT_FAIL,
		.type_mask = (1u << BDEV_IO_READ) | (1u << BDEV_IO_WRITE),
		.offset = 8192,
		.length = 4096,
		.err = EIO,
		.count = -1,
	};
	struct cl_export e;
	uint8_t w[4096] = {0};
	struct chunk c;
	int fd;

	(void)state;
	bdev_fault_set(fault_bd, &rule);
	fd = cl_open(path_a, "flt", false, &e);
	cl_req(fd, 0, NBD_CMD_READ, 1, 8192, 4096, NULL);
	assert_int_equal(cl_simple(fd, 1), NBD_EIO);
	cl_req(fd, 0, NBD_CMD_WRITE, 2, 8192, 4096, w);
	assert_int_equal(cl_simple(fd, 2), NBD_EIO);
	cl_req(fd, 0, NBD_CMD_WRITE, 3, 0, 4096, w);
	assert_int_equal(cl_simple(fd, 3), 0);
	close(fd);

	fd = cl_open(path_a, "flt", true, &e);
	cl_req(fd, 0, NBD_CMD_READ, 4, 8192, 4096, NULL);
	cl_chunk(fd, &c);
	assert_int_equal(c.type, NBD_REPLY_TYPE_ERROR_OFFSET);
	assert_true(c.flags & NBD_REPLY_FLAG_DONE);
	assert_int_equal(nbd_get32(c.data), NBD_EIO);
	assert_true(nbd_get64(c.data + c.len - 8) == 8192);
	free(c.data);
	close(fd);
	bdev_fault_clear(fault_bd);
}

/* A client that goes away while its I/O is held in the bdev: the
 * connection is freed only after the I/O completes (ASan checks the
 * rest). */
static void test_disconnect_in_flight(void **state)
{
	struct bdev_fault_rule rule = {
		.action = BDEV_FAULT_HOLD,
		.type_mask = 1u << BDEV_IO_WRITE,
		.count = -1,
	};
	struct nbd_server_stats st;
	struct cl_export e;
	uint8_t w[4096] = {7};
	int fd, i;

	(void)state;
	bdev_fault_set(fault_bd, &rule);
	fd = cl_open(path_a, "flt", false, &e);
	for (i = 0; i < 8; i++)
		cl_req(fd, 0, NBD_CMD_WRITE, (uint64_t)i, (uint64_t)i * 4096,
		       4096, w);
	for (i = 0; i < 200 && bdev_fault_hits(fault_bd) < 8; i++)
		usleep(10000);
	assert_true(bdev_fault_hits(fault_bd) >= 8);
	close(fd);
	usleep(200000);
	nbd_server_get_stats(srv, &st);
	assert_int_equal(st.conns_open, 1); /* still waiting for the bdev */
	bdev_fault_clear(fault_bd);
	bdev_fault_release_held(fault_bd);
	for (i = 0; i < 200; i++) {
		nbd_server_get_stats(srv, &st);
		if (st.conns_open == 0)
			break;
		usleep(10000);
	}
	assert_int_equal(st.conns_open, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_rw),
		cmocka_unit_test(test_structured),
		cmocka_unit_test(test_pipeline),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_stall),
		cmocka_unit_test(test_bdev_errors),
		cmocka_unit_test(test_disconnect_in_flight),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
