/*
 * NBD transmission commands: the request objects of a connection, the
 * replies they are answered with, and how each command becomes bdev I/O
 * (or, for BLOCK_STATUS, a synchronous query).  The socket side -- reading,
 * sending, budgets, the connection's life -- is conn.c.
 *
 * A request lives from the moment its header is parsed until the last byte
 * of its reply has been sent: nbd_cmd_request() starts it, the bdev
 * completes it on the connection's loop, nbd_conn_reply() queues its reply,
 * and conn.c gives it back with nbd_req_put().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "nbd/nbd_int.h"

#define NBD_FREE_REQS_MAX 32	/* recycled request objects per connection */
#define NBD_KEEP_BUF_MAX (256u * 1024) /* larger buffers are not kept */
#define NBD_BUF_ALIGN 4096	/* O_DIRECT-friendly data buffers */
#define NBD_ERRMSG_MAX 80

static void req_done(struct bdev_io *io, int status, void *arg);

/* ---- requests ---- */

static struct nbd_req *req_get(struct nbd_conn *c, const struct nbd_request *r)
{
	struct nbd_req *q = c->free_reqs;

	if (q) {
		c->free_reqs = q->next;
		c->nfree--;
	} else {
		q = calloc(1, sizeof(*q));
		if (!q)
			return NULL;
	}
	q->conn = c;
	q->next = NULL;
	q->r = *r;
	q->got = 0;
	q->flush_after = false;
	q->in_bdev = false;
	q->nruns = 0;
	q->nseg = 0;
	q->seg_idx = 0;
	q->hdr_len = 0;
	q->charged = 0;
	c->inflight++;
	return q;
}

/* Give q a data buffer of len bytes, charged to the connection. */
static int req_buf(struct nbd_req *q, size_t len)
{
	if (q->buf_cap < len) {
		void *p = NULL;

		free(q->buf);
		q->buf = NULL;
		q->buf_cap = 0;
		if (posix_memalign(&p, NBD_BUF_ALIGN, len))
			return -ENOMEM;
		q->buf = p;
		q->buf_cap = len;
	}
	q->charged = len;
	q->conn->buffered += len;
	return 0;
}

void nbd_req_free(struct nbd_req *q)
{
	free(q->buf);
	free(q);
}

/* The request is finished (reply sent, or the connection died). */
void nbd_req_put(struct nbd_conn *c, struct nbd_req *q)
{
	c->inflight--;
	c->buffered -= q->charged;
	q->charged = 0;
	if (c->state == NBD_CONN_DEAD || c->nfree >= NBD_FREE_REQS_MAX) {
		nbd_req_free(q);
		return;
	}
	if (q->buf_cap > NBD_KEEP_BUF_MAX) {
		free(q->buf);
		q->buf = NULL;
		q->buf_cap = 0;
	}
	q->next = c->free_reqs;
	c->free_reqs = q;
	c->nfree++;
}

/* Reply segments: header bytes live in q->hdr, data in q->buf. */
static uint8_t *req_hdr_ptr(struct nbd_req *q)
{
	return q->hdr + q->hdr_len;
}

static void req_hdr_commit(struct nbd_req *q, size_t n)
{
	uint8_t *p = q->hdr + q->hdr_len;

	if (q->nseg > 0 &&
	    (uint8_t *)q->seg[q->nseg - 1].iov_base +
			    q->seg[q->nseg - 1].iov_len ==
		    p) {
		q->seg[q->nseg - 1].iov_len += n;
	} else {
		q->seg[q->nseg].iov_base = p;
		q->seg[q->nseg].iov_len = n;
		q->nseg++;
	}
	q->hdr_len += n;
}

static void req_data(struct nbd_req *q, void *p, size_t n)
{
	q->seg[q->nseg].iov_base = p;
	q->seg[q->nseg].iov_len = n;
	q->nseg++;
}

/* ---- replies ---- */

static void conn_reply_ok(struct nbd_conn *c, struct nbd_req *q)
{
	req_hdr_commit(q, nbd_put_simple_reply(req_hdr_ptr(q), 0,
					       q->r.cookie));
	nbd_conn_reply(c, q);
}

/*
 * An error reply.  With structured replies negotiated it is an error chunk
 * carrying a message (and the request's offset for I/O errors on commands
 * that have a range); otherwise a simple reply with the error number.
 */
static void conn_reply_err(struct nbd_conn *c, struct nbd_req *q,
			   uint32_t err, const char *msg, bool io_error)
{
	c->st.errors++;
	sk_trace(SK_TRACE_NBD, "nbd %llu: %s cookie %#llx: error %u (%s)",
		 (unsigned long long)c->id, nbd_cmd_name(q->r.type),
		 (unsigned long long)q->r.cookie, err, msg ? msg : "");
	if (c->lim.structured) {
		bool off = io_error && q->r.type != NBD_CMD_FLUSH &&
			   q->r.type < NBD_CMD_COUNT;

		req_hdr_commit(q, nbd_put_error_chunk(
					  req_hdr_ptr(q), NBD_REPLY_FLAG_DONE,
					  q->r.cookie, err, msg,
					  NBD_ERRMSG_MAX, off, q->r.offset));
	} else {
		req_hdr_commit(q, nbd_put_simple_reply(req_hdr_ptr(q), err,
						       q->r.cookie));
	}
	nbd_conn_reply(c, q);
}

static const char *wire_err_msg(uint32_t err)
{
	switch (err) {
	case NBD_EPERM:
		return "export is read-only";
	case NBD_ENOSPC:
		return "request beyond the end of the export";
	case NBD_EOVERFLOW:
		return "request too large";
	default:
		return "invalid request (command, flags, range, alignment "
		       "or length)";
	}
}

/* ---- bdev submission ---- */

static void conn_submit(struct nbd_conn *c, struct nbd_req *q,
			enum bdev_io_type type, uint32_t flags)
{
	struct bdev_io *io = &q->io;
	int rc;

	memset(io, 0, sizeof(*io));
	io->type = type;
	io->flags = flags;
	io->offset = type == BDEV_IO_FLUSH ? 0 : q->r.offset;
	io->length = type == BDEV_IO_FLUSH ? 0 : q->r.length;
	if (type == BDEV_IO_READ || type == BDEV_IO_WRITE) {
		q->iov.iov_base = q->buf;
		q->iov.iov_len = q->r.length;
		io->iov = &q->iov;
		io->iovcnt = 1;
	}
	io->loop = c->loop;
	io->cb = req_done;
	io->cb_arg = q;
	rc = bdev_submit(c->bd, io);
	if (rc < 0) {
		conn_reply_err(c, q, nbd_errno_to_wire(rc), strerror(-rc),
			       true);
		return;
	}
	q->in_bdev = true;
	c->in_bdev++;
}

/* A structured READ reply from the runs found before the read. */
static void conn_read_reply_runs(struct nbd_conn *c, struct nbd_req *q)
{
	uint64_t off = q->r.offset;
	size_t pos = 0;
	unsigned i;

	for (i = 0; i < q->nruns; i++) {
		uint16_t fl = i + 1 == q->nruns ? NBD_REPLY_FLAG_DONE : 0;
		uint32_t len = q->runs[i].len;
		uint8_t *h = req_hdr_ptr(q);

		if (q->runs[i].hole) {
			nbd_put_chunk_hdr(h, fl, NBD_REPLY_TYPE_OFFSET_HOLE,
					  q->r.cookie, 12);
			nbd_put64(h + NBD_CHUNK_HDR_LEN, off);
			nbd_put32(h + NBD_CHUNK_HDR_LEN + 8, len);
			req_hdr_commit(q, NBD_CHUNK_HDR_LEN + 12);
		} else {
			nbd_put_chunk_hdr(h, fl, NBD_REPLY_TYPE_OFFSET_DATA,
					  q->r.cookie, 8 + len);
			nbd_put64(h + NBD_CHUNK_HDR_LEN, off);
			req_hdr_commit(q, NBD_CHUNK_HDR_LEN + 8);
			req_data(q, q->buf + pos, len);
		}
		off += len;
		pos += len;
	}
	nbd_conn_reply(c, q);
}

static void conn_read_reply(struct nbd_conn *c, struct nbd_req *q)
{
	uint32_t len = q->r.length;
	uint8_t *h = req_hdr_ptr(q);

	c->st.bytes_read += len;
	if (!c->lim.structured) {
		req_hdr_commit(q, nbd_put_simple_reply(h, 0, q->r.cookie));
		req_data(q, q->buf, len);
	} else if (q->nruns) {
		conn_read_reply_runs(c, q);
		return;
	} else {
		nbd_put_chunk_hdr(h, NBD_REPLY_FLAG_DONE,
				  NBD_REPLY_TYPE_OFFSET_DATA, q->r.cookie,
				  8 + len);
		nbd_put64(h + NBD_CHUNK_HDR_LEN, q->r.offset);
		req_hdr_commit(q, NBD_CHUNK_HDR_LEN + 8);
		req_data(q, q->buf, len);
	}
	nbd_conn_reply(c, q);
}

static void req_done(struct bdev_io *io, int status, void *arg)
{
	struct nbd_req *q = arg;
	struct nbd_conn *c = q->conn;

	(void)io;
	q->in_bdev = false;
	c->in_bdev--;
	if (c->state == NBD_CONN_DEAD) {
		c->inflight--;
		c->buffered -= q->charged;
		nbd_req_free(q);
		nbd_conn_reap_check(c);
		return;
	}
	if (status == 0 && q->flush_after) {
		/* FUA on TRIM / WRITE_ZEROES: make it stable first. */
		q->flush_after = false;
		conn_submit(c, q, BDEV_IO_FLUSH, 0);
		return;
	}
	if (status < 0) {
		conn_reply_err(c, q, nbd_errno_to_wire(status),
			       strerror(-status), true);
		return;
	}
	if (q->r.type == NBD_CMD_READ)
		conn_read_reply(c, q);
	else
		conn_reply_ok(c, q);
}

/*
 * Before a large structured read, ask the bdev which parts are holes that
 * read as zeroes: those are answered with hole chunks instead of data.
 * Returns true when the whole range is a hole (no read needed).
 */
static bool conn_read_runs(struct nbd_conn *c, struct nbd_req *q)
{
	uint64_t off = q->r.offset, end = q->r.offset + q->r.length;

	q->nruns = 0;
	while (off < end) {
		enum bdev_alloc_state st = BDEV_MAPPED;
		uint64_t run = 0;
		bool hole;

		if (q->nruns == NBD_REQ_MAX_RUNS ||
		    bdev_block_status(c->bd, off, end - off, &st, &run) < 0 ||
		    run == 0 || run > end - off) {
			st = BDEV_MAPPED;
			run = end - off;
		}
		if (run < end - off) {
			run -= run % c->lbsize;
			if (run == 0) {
				run = c->lbsize < end - off ? c->lbsize
							    : end - off;
				st = BDEV_MAPPED;
			}
		}
		hole = st == BDEV_DEALLOCATED;
		if (q->nruns && q->runs[q->nruns - 1].hole == hole) {
			q->runs[q->nruns - 1].len += (uint32_t)run;
		} else if (q->nruns == NBD_REQ_MAX_RUNS) {
			/* Out of room: the rest is sent as data. */
			q->runs[q->nruns - 1].len += (uint32_t)run;
			q->runs[q->nruns - 1].hole = false;
		} else {
			q->runs[q->nruns].len = (uint32_t)run;
			q->runs[q->nruns].hole = hole;
			q->nruns++;
		}
		off += run;
	}
	if (q->nruns == 1 && !q->runs[0].hole)
		q->nruns = 0; /* plain data */
	return q->nruns == 1 && q->runs[0].hole;
}

static void conn_cmd_read(struct nbd_conn *c, struct nbd_req *q)
{
	if (q->r.length == 0) {
		/* Unspecified by the protocol; answer success, no data. */
		if (c->lim.structured) {
			req_hdr_commit(q, nbd_put_chunk_hdr(
						  req_hdr_ptr(q),
						  NBD_REPLY_FLAG_DONE,
						  NBD_REPLY_TYPE_NONE,
						  q->r.cookie, 0));
			nbd_conn_reply(c, q);
		} else {
			conn_reply_ok(c, q);
		}
		return;
	}
	if (c->lim.structured && !(q->r.flags & NBD_CMD_FLAG_DF) &&
	    c->discard_zeroes && q->r.length >= NBD_SPARSE_READ_MIN &&
	    conn_read_runs(c, q)) {
		conn_read_reply_runs(c, q);
		return;
	}
	if (req_buf(q, q->r.length) < 0) {
		q->nruns = 0;
		conn_reply_err(c, q, NBD_ENOMEM, "out of memory", false);
		return;
	}
	conn_submit(c, q, BDEV_IO_READ, 0);
}

void nbd_cmd_write_payload_done(struct nbd_conn *c,
					struct nbd_req *q)
{
	c->st.bytes_written += q->r.length;
	conn_submit(c, q, BDEV_IO_WRITE,
		    (q->r.flags & NBD_CMD_FLAG_FUA) ? BDEV_IO_FUA : 0);
}

static void conn_cmd_write(struct nbd_conn *c, struct nbd_req *q)
{
	size_t avail = c->in_len - c->in_off;
	size_t take;

	if (q->r.length == 0) {
		conn_reply_ok(c, q); /* nothing to write */
		return;
	}
	if (req_buf(q, q->r.length) < 0) {
		c->discard = q->r.length;
		conn_reply_err(c, q, NBD_ENOMEM, "out of memory", false);
		return;
	}
	take = avail < q->r.length ? avail : q->r.length;
	memcpy(q->buf, c->in + c->in_off, take);
	c->in_off += take;
	q->got = (uint32_t)take;
	if (q->got < q->r.length) {
		c->rx = q;	/* the rest comes straight from the socket */
		return;
	}
	nbd_cmd_write_payload_done(c, q);
}

/* base:allocation extents, answered at once from bdev_block_status. */
static void conn_cmd_block_status(struct nbd_conn *c, struct nbd_req *q)
{
	uint64_t off = q->r.offset, end = q->r.offset + q->r.length;
	unsigned max = (q->r.flags & NBD_CMD_FLAG_REQ_ONE) ? 1
							  : NBD_BS_MAX_DESC;
	unsigned n = 0;
	uint32_t prev_flags = 0;
	uint8_t *h;

	if (req_buf(q, (size_t)max * 8) < 0) {
		conn_reply_err(c, q, NBD_ENOMEM, "out of memory", false);
		return;
	}
	while (off < end) {
		enum bdev_alloc_state st = BDEV_MAPPED;
		uint64_t run = 0;
		uint32_t fl;

		if (bdev_block_status(c->bd, off, end - off, &st, &run) < 0) {
			if (n)
				break;
			conn_reply_err(c, q, NBD_EIO,
				       "block status query failed", true);
			return;
		}
		if (run == 0 || run > end - off)
			run = end - off;
		if (run < end - off) {
			run -= run % c->lbsize;
			if (run == 0) {
				run = c->lbsize < end - off ? c->lbsize
							    : end - off;
				st = BDEV_MAPPED;
			}
		}
		fl = st == BDEV_DEALLOCATED
			     ? NBD_STATE_HOLE |
				       (c->discard_zeroes ? NBD_STATE_ZERO : 0)
			     : 0;
		if (n && fl == prev_flags) {
			uint8_t *d = q->buf + (n - 1) * 8;

			nbd_put32(d, nbd_get32(d) + (uint32_t)run);
		} else {
			if (n == max)
				break;
			nbd_put32(q->buf + n * 8, (uint32_t)run);
			nbd_put32(q->buf + n * 8 + 4, fl);
			n++;
			prev_flags = fl;
		}
		off += run;
	}
	h = req_hdr_ptr(q);
	nbd_put_chunk_hdr(h, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS,
			  q->r.cookie, 4 + n * 8);
	nbd_put32(h + NBD_CHUNK_HDR_LEN, NBD_CTX_ID_BASE_ALLOCATION);
	req_hdr_commit(q, NBD_CHUNK_HDR_LEN + 4);
	req_data(q, q->buf, (size_t)n * 8);
	nbd_conn_reply(c, q);
}

/* One parsed request header. */
void nbd_cmd_request(struct nbd_conn *c, const struct nbd_request *r)
{
	const struct bdev_geometry *geo = bdev_geometry(c->bd);
	struct nbd_req *q;
	uint32_t err, fl = 0;

	c->st.requests++;
	sk_trace(SK_TRACE_NBD,
		 "nbd %llu: %s flags %#x cookie %#llx off %llu len %u",
		 (unsigned long long)c->id, nbd_cmd_name(r->type), r->flags,
		 (unsigned long long)r->cookie,
		 (unsigned long long)r->offset, r->length);
	if (r->type == NBD_CMD_DISC) {
		/* Finish what is in flight, then close. */
		c->state = NBD_CONN_DRAINING;
		return;
	}
	c->lim.size = geo->size;
	err = nbd_request_check(r, &c->lim);
	q = req_get(c, r);
	if (!q) {
		nbd_conn_kill(c, "out of memory");
		return;
	}
	if (err) {
		if (nbd_request_has_payload(r))
			c->discard = r->length;
		conn_reply_err(c, q, err, wire_err_msg(err), false);
		return;
	}
	switch (r->type) {
	case NBD_CMD_READ:
		conn_cmd_read(c, q);
		break;
	case NBD_CMD_WRITE:
		conn_cmd_write(c, q);
		break;
	case NBD_CMD_FLUSH:
		conn_submit(c, q, BDEV_IO_FLUSH, 0);
		break;
	case NBD_CMD_TRIM:
	case NBD_CMD_WRITE_ZEROES:
		if (r->length == 0) {
			conn_reply_ok(c, q);
			break;
		}
		if (r->flags & NBD_CMD_FLAG_FUA) {
			fl |= BDEV_IO_FUA;
			q->flush_after = c->volatile_cache;
		}
		if (r->flags & NBD_CMD_FLAG_NO_HOLE)
			fl |= BDEV_IO_NO_UNMAP;
		if (r->flags & NBD_CMD_FLAG_FAST_ZERO)
			fl |= BDEV_IO_FAST_ZERO;
		conn_submit(c, q,
			    r->type == NBD_CMD_TRIM ? BDEV_IO_DISCARD
						    : BDEV_IO_WRITE_ZEROES,
			    fl);
		break;
	case NBD_CMD_CACHE:
		/* Read the range and drop it: warms the backend's cache. */
		if (r->length == 0) {
			conn_reply_ok(c, q);
			break;
		}
		if (req_buf(q, r->length) < 0) {
			conn_reply_err(c, q, NBD_ENOMEM, "out of memory",
				       false);
			break;
		}
		conn_submit(c, q, BDEV_IO_READ, 0);
		break;
	case NBD_CMD_BLOCK_STATUS:
		conn_cmd_block_status(c, q);
		break;
	default:
		/* nbd_request_check refused unknown commands already. */
		conn_reply_err(c, q, NBD_EINVAL, "unknown command", false);
		break;
	}
}
