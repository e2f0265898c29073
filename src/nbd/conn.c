/*
 * One NBD connection, from the greeting to the close, on one reactor.
 *
 * Input is read into a 64 KiB buffer and parsed many requests at a time; a
 * WRITE payload that is still arriving is read straight into the request's
 * buffer (with the input buffer as a second iovec, so the next headers come
 * in the same syscall).  Requests go to the bdev as they are parsed, so many
 * are in flight and complete in any order; each completion queues its reply
 * and one deferred flush per loop iteration sends every queued reply with a
 * single sendmsg.  No lock is taken per request.  The commands themselves
 * (what each request does to the bdev, how it is answered) are in cmd.c.
 *
 * Memory is bounded per connection: at most max_requests requests and
 * max_buffered data bytes (plus one request) are held; past either limit the
 * connection stops reading until replies have been sent.  A client that
 * does not read its replies therefore stops being read, and is closed when
 * no reply byte could be sent for stall_ms.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "nbd/nbd_int.h"

#define NBD_SEND_IOV_MAX 64
#define NBD_READ_ROUNDS 16	/* reads per readiness event, for fairness */
/* Bytes read per readiness event before going back to the loop, so that
 * completions and replies of what was read so far go out while the rest
 * is still arriving (the client's queue keeps moving). */
#define NBD_READ_BUDGET (256u * 1024)
#define NBD_BIG_PAYLOAD (32u * 1024) /* see conn_read */
#define NBD_HS_OUT_MAX (64u * 1024) /* unsent negotiation replies */

static void conn_update(struct nbd_conn *c);
static void conn_flush(struct nbd_conn *c);
static void conn_read(struct nbd_conn *c);
static void conn_tls_step(struct nbd_conn *c);
static void conn_read_cb(void *arg);
static void conn_set_events(struct nbd_conn *c, uint32_t want);
static void conn_on_io(struct ev_io *io, int fd, uint32_t events, void *arg);

/* ---- replies ---- */

void nbd_conn_reply(struct nbd_conn *c, struct nbd_req *q)
{
	q->next = NULL;
	*c->outq_tail = q;
	c->outq_tail = &q->next;
	nbd_conn_schedule_flush(c);
}

static void conn_flush_cb(void *arg)
{
	struct nbd_conn *c = arg;

	c->flush_scheduled = false;
	if (c->state != NBD_CONN_DEAD)
		conn_flush(c);
}

/* Send queued replies after the current batch of events: one sendmsg for
 * every reply completed in this loop iteration. */
void nbd_conn_schedule_flush(struct nbd_conn *c)
{
	if (c->flush_scheduled || c->state == NBD_CONN_DEAD)
		return;
	c->flush_scheduled = true;
	if (ev_loop_defer(c->loop, conn_flush_cb, c) < 0) {
		c->flush_scheduled = false;
		conn_flush(c);
	}
}

static bool conn_can_take(const struct nbd_conn *c)
{
	if (c->state == NBD_CONN_HANDSHAKE)
		/* Negotiation: do not read more options while the answers
		 * to earlier ones are still waiting to be sent, nor while
		 * TLS is being set up (conn_tls_step reads then). */
		return c->hsout.len - c->hsout.off < NBD_HS_OUT_MAX &&
		       c->hs->state != NBD_HS_STARTTLS;
	return c->inflight < c->max_requests && c->buffered < c->max_buffered;
}

/* Parse and start every complete request in the input buffer, as long as
 * the connection's budget allows. */
static void conn_parse(struct nbd_conn *c)
{
	/* Nothing is parsed before a move to the export's reactor: no
	 * request may be in flight when the connection changes threads. */
	while (c->state == NBD_CONN_TRANSMISSION && !c->rx && !c->move_to) {
		struct nbd_request r;
		size_t avail = c->in_len - c->in_off;
		int rc;

		if (c->discard) {
			size_t n = avail < c->discard ? avail : c->discard;

			c->in_off += n;
			c->discard -= n;
			if (c->discard)
				break;
			continue;
		}
		if (!conn_can_take(c)) {
			c->read_paused = true;
			break;
		}
		rc = nbd_request_parse(c->in + c->in_off, avail, &r);
		if (rc == 0)
			break;
		if (rc < 0) {
			c->st.protocol_closes++;
			nbd_conn_kill(c, "bad request magic");
			return;
		}
		c->in_off += (size_t)rc;
		nbd_cmd_request(c, &r);
	}
}

/* ---- moving to the export's reactor ---- */

static void conn_stop_timers(struct nbd_conn *c)
{
	struct ev_timer **t[] = { &c->hs_timer, &c->stall_timer,
				  &c->body_timer };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (*t[i]) {
			ev_timer_del(*t[i]);
			*t[i] = NULL;
		}
	}
}

/* On c->loop, after accept or a move: mark c started (until then a
 * shutdown leaves it to us) and watch its socket.  false: c was closed. */
static bool conn_arrive(struct nbd_conn *c)
{
	bool stopping;

	pthread_mutex_lock(&c->srv->lock);
	stopping = c->srv->destroyed;
	c->started = true;
	pthread_mutex_unlock(&c->srv->lock);
	if (stopping) {
		nbd_conn_kill(c, "server stopping");
		return false;
	}
	c->io = ev_io_add(c->loop, c->fd, EV_READ, conn_on_io, c);
	if (!c->io) {
		nbd_conn_kill(c, "cannot watch the socket");
		return false;
	}
	c->ev_mask = EV_READ;
	return true;
}

/*
 * An export whose bdev has a home loop (an xa disk: its DMSG link lives
 * on one reactor) is served from that loop, so its I/O is submitted and
 * completed without a post to another thread and back.  The connection
 * moves once, between the handshake and its first request: nothing is in
 * flight, no timer but the stall and body ones runs (made again on
 * arrival), and the move waits until no deferred call of ours is queued
 * on the old loop.  While it is under way the connection is "not
 * started", as a new one is between accept and nbd_conn_start, so that a
 * server shutting down leaves it to close itself on arrival.
 */
static void conn_move_in(void *arg)
{
	struct nbd_conn *c = arg;

	if (!conn_arrive(c))
		return;
	conn_flush(c);		/* the rest of the handshake's answer */
	if (c->state == NBD_CONN_TRANSMISSION)
		conn_parse(c);	/* requests that came with it */
	conn_update(c);
}

static void conn_move_cb(void *arg)
{
	struct nbd_conn *c = arg;
	struct ev_loop *from = c->loop, *to = c->move_to;

	c->move_scheduled = false;
	if (c->state != NBD_CONN_TRANSMISSION) {
		c->move_to = NULL;
		return;
	}
	if (c->inflight || c->rx) {
		to = NULL; /* cannot happen: nothing was parsed */
	} else if (c->flush_scheduled || c->read_scheduled) {
		/* Go after them; they run before us. */
		if (ev_loop_defer(from, conn_move_cb, c) == 0) {
			c->move_scheduled = true;
			return;
		}
		to = NULL;
	}
	c->move_to = NULL;
	if (!to) {
		conn_parse(c);
		conn_update(c);
		return;
	}
	ev_io_del(c->io);
	c->io = NULL;
	c->ev_mask = 0;
	conn_stop_timers(c);	/* the new loop makes what it needs */
	c->body_since_ms = 0;
	pthread_mutex_lock(&c->srv->lock);
	c->started = false;
	c->loop = to;
	c->srv->stats.conns_moved++;
	pthread_mutex_unlock(&c->srv->lock);
	log_debug("nbd %llu: %s: moved to the reactor of '%s'",
		  (unsigned long long)c->id, c->peer, c->export_name);
	if (ev_loop_post(to, conn_move_in, c) < 0) {
		/* That reactor cannot take it: stay here after all. */
		pthread_mutex_lock(&c->srv->lock);
		c->loop = from;
		c->srv->stats.conns_moved--;
		pthread_mutex_unlock(&c->srv->lock);
		conn_move_in(c);
	}
}

/* Plan the move if c's export has a home loop other than c's. */
static void conn_plan_move(struct nbd_conn *c)
{
	struct ev_loop *home = bdev_home_loop(c->bd);

	if (!home || home == c->loop)
		return;
	if (ev_loop_defer(c->loop, conn_move_cb, c) < 0)
		return;
	c->move_to = home;
	c->move_scheduled = true;
}

/* ---- handshake ---- */

static void conn_enter_transmission(struct nbd_conn *c)
{
	struct nbd_hs *hs = c->hs;
	const struct bdev_geometry *geo;

	c->bd = hs->export.handle;
	hs->have_export = false; /* the reference is ours now */
	snprintf(c->export_name, sizeof(c->export_name), "%s",
		 hs->export.name);
	geo = bdev_geometry(c->bd);
	c->lim.size = hs->export.size;
	c->lim.min_block = hs->export.bs.min;
	c->lim.max_block = hs->export.bs.max;
	c->lim.tflags = hs->tflags;
	c->lim.structured = hs->structured;
	c->lim.meta_alloc = hs->meta_alloc;
	c->lbsize = hs->export.bs.min;
	c->discard_zeroes = geo->discard_zeroes;
	c->volatile_cache = geo->volatile_cache;
	nbd_hs_fini(hs);
	free(hs);
	c->hs = NULL;
	if (c->hs_timer) {
		ev_timer_del(c->hs_timer);
		c->hs_timer = NULL;
	}
	c->state = NBD_CONN_TRANSMISSION;
	conn_plan_move(c);
	log_debug("nbd %llu: %s: export '%s' (flags %#x%s%s)",
		  (unsigned long long)c->id, c->peer, c->export_name,
		  c->lim.tflags, c->lim.structured ? ", structured" : "",
		  c->lim.meta_alloc ? ", base:allocation" : "");
}

static void conn_input(struct nbd_conn *c)
{
	if (c->state == NBD_CONN_HANDSHAKE) {
		long n = nbd_hs_input(c->hs, c->in + c->in_off,
				      c->in_len - c->in_off, &c->hsout);

		if (n < 0) {
			nbd_conn_kill(c, "out of memory in handshake");
			return;
		}
		c->in_off += (size_t)n;
		if (c->hs->state == NBD_HS_CLOSE) {
			log_debug("nbd %llu: %s: handshake ended: %s",
				  (unsigned long long)c->id, c->peer,
				  c->hs->why ? c->hs->why : "?");
			if (!c->hs->aborted)
				c->st.protocol_closes++;
			c->state = NBD_CONN_CLOSING;
		} else if (c->hs->state == NBD_HS_DONE) {
			conn_enter_transmission(c);
		}
		nbd_conn_schedule_flush(c);
	}
	if (c->state == NBD_CONN_TRANSMISSION)
		conn_parse(c);
}

/* ---- TLS: the hook between the connection and its socket ---- */

/*
 * After STARTTLS was acknowledged (and the ACK sent in clear): make the
 * session, taking any bytes the client already sent, and step its
 * handshake; when it is done, negotiation resumes through TLS.  The
 * connection's handshake timer bounds it all.
 */
static void conn_tls_step(struct nbd_conn *c)
{
	const char *why = "?";
	char desc[96];
	int r;

	if (!c->tls) {
		c->tls = nbd_tls_new(c->srv->tls_creds, c->fd,
				     c->in + c->in_off, c->in_len - c->in_off);
		if (!c->tls) {
			nbd_conn_kill(c, "cannot start a TLS session");
			return;
		}
		c->in_off = c->in_len = 0;
	}
	r = nbd_tls_handshake(c->tls, &why);
	if (r < 0) {
		c->st.protocol_closes++;
		log_info("nbd %llu: %s: TLS handshake failed: %s",
			 (unsigned long long)c->id, c->peer, why);
		nbd_conn_kill(c, "TLS handshake failed");
		return;
	}
	if (r > 0) {
		c->tls_want = (uint32_t)r;
		conn_set_events(c, c->tls_want);
		return;
	}
	nbd_tls_describe(c->tls, desc, sizeof(desc));
	log_debug("nbd %llu: %s: TLS up (%s)", (unsigned long long)c->id,
		  c->peer, desc);
	nbd_hs_tls_done(c->hs);
	conn_update(c);
}

static void conn_read_cb(void *arg)
{
	struct nbd_conn *c = arg;

	c->read_scheduled = false;
	if (c->state == NBD_CONN_DEAD)
		return;
	conn_read(c);
	conn_update(c);
}

/* ---- socket ---- */

static void conn_read(struct nbd_conn *c)
{
	size_t total = 0;
	int round;

	for (round = 0; round < NBD_READ_ROUNDS; round++) {
		struct iovec v[2];
		size_t want = 0, n;
		ssize_t got;
		int nv = 0;

		if (c->state != NBD_CONN_HANDSHAKE &&
		    c->state != NBD_CONN_TRANSMISSION)
			return;
		if (c->state == NBD_CONN_HANDSHAKE && !conn_can_take(c))
			return;
		if (c->state == NBD_CONN_TRANSMISSION && !c->rx &&
		    !c->discard && !conn_can_take(c)) {
			c->read_paused = true;
			return;
		}
		/* Keep unparsed bytes at the front of the buffer. */
		if (c->in_off == c->in_len) {
			c->in_off = c->in_len = 0;
		} else if (c->in_off) {
			memmove(c->in, c->in + c->in_off,
				c->in_len - c->in_off);
			c->in_len -= c->in_off;
			c->in_off = 0;
		}
		if (c->rx) {
			v[nv].iov_base = c->rx->buf + c->rx->got;
			v[nv].iov_len = c->rx->r.length - c->rx->got;
			want += v[nv++].iov_len;
		}
		if (c->in_len < NBD_INBUF_SIZE) {
			v[nv].iov_base = c->in + c->in_len;
			v[nv].iov_len = NBD_INBUF_SIZE - c->in_len;
			/* Behind a large payload, take just the next header:
			 * if it is another large write, its payload then
			 * goes straight into its own buffer, not through a
			 * copy out of this one. */
			if (c->rx && v[0].iov_len >= NBD_BIG_PAYLOAD &&
			    v[nv].iov_len > NBD_REQUEST_LEN)
				v[nv].iov_len = NBD_REQUEST_LEN;
			want += v[nv++].iov_len;
		}
		if (!nv) {
			/* Buffer full of requests we may not start yet. */
			c->read_paused = true;
			return;
		}
		got = c->tls ? nbd_tls_readv(c->tls, v, nv)
			     : readv(c->fd, v, nv);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				nbd_conn_kill(c, strerror(errno));
			return;
		}
		if (got == 0) {
			if (c->state == NBD_CONN_HANDSHAKE || c->rx) {
				nbd_conn_kill(c, "client closed the connection");
			} else {
				/* Like NBD_CMD_DISC: finish and close. */
				c->state = NBD_CONN_DRAINING;
			}
			return;
		}
		n = (size_t)got;
		if (c->rx) {
			struct nbd_req *q = c->rx;
			size_t need = q->r.length - q->got;
			size_t take = n < need ? n : need;

			q->got += (uint32_t)take;
			n -= take;
			if (q->got == q->r.length) {
				c->rx = NULL;
				nbd_cmd_write_payload_done(c, q);
				if (c->state == NBD_CONN_DEAD)
					return;
			}
		}
		c->in_len += n;
		conn_input(c);
		if ((size_t)got < want)
			return; /* the socket is drained */
		total += (size_t)got;
		if (total >= NBD_READ_BUDGET)
			return; /* level-triggered: called again next round */
	}
}

static void conn_set_events(struct nbd_conn *c, uint32_t want)
{
	if (want == c->ev_mask || !c->io)
		return;
	if (ev_io_modify(c->io, want) == 0)
		c->ev_mask = want;
}

static bool conn_output_pending(const struct nbd_conn *c)
{
	return c->outq || c->hsout.len > c->hsout.off;
}

static void conn_stall_cb(struct ev_timer *t, void *arg)
{
	struct nbd_conn *c = arg;

	if (!conn_output_pending(c)) {
		ev_timer_del(t);
		c->stall_timer = NULL;
		return;
	}
	if (ev_now_ms() - c->last_progress_ms >= c->stall_ms) {
		c->st.protocol_closes++;
		nbd_conn_kill(c, "client does not read its replies");
	}
}

static void conn_body_timeout(struct ev_timer *t, void *arg)
{
	struct nbd_conn *c = arg;
	uint64_t age;

	ev_timer_del(t);
	c->body_timer = NULL;
	if (!c->body_since_ms || c->state == NBD_CONN_DEAD)
		return;
	age = ev_now_ms() - c->body_since_ms;
	if (age < c->body_ms) {
		c->body_timer = ev_timer_add(c->loop, c->body_ms - age, false,
					     conn_body_timeout, c);
		return;
	}
	c->st.body_timeouts++;
	sk_admit_note(&c->srv->admit, SK_ADMIT_TIMEOUT,
		      "connection %llu (%s) closed: a request still "
		      "incomplete after %u ms (--nbd-body-timeout)",
		      (unsigned long long)c->id, c->peer, c->body_ms);
	nbd_conn_kill(c, "request body timeout");
}

/*
 * The admission timers' view of the connection, after each event: a
 * request whose header or WRITE payload has started but not finished
 * arriving starts the body clock (bytes unparsed while we pause reading
 * are whole requests waiting for us, not the client's); a connection in
 * transmission with nothing in flight, arriving or to send is idle, and
 * the acceptor may evict it at the cap (server.c).
 */
static void conn_watch(struct nbd_conn *c)
{
	bool tx = c->state == NBD_CONN_TRANSMISSION;
	bool arriving = tx && (c->rx || c->discard ||
			       (c->in_len > c->in_off && !c->read_paused));
	bool idle = tx && !arriving && !c->inflight &&
		    !conn_output_pending(c);
	uint64_t since = __atomic_load_n(&c->idle_since_ms, __ATOMIC_RELAXED);

	if (!arriving) {
		c->body_since_ms = 0;
	} else if (!c->body_since_ms) {
		c->body_since_ms = ev_now_ms();
		if (!c->body_timer && c->body_ms)
			c->body_timer = ev_timer_add(c->loop, c->body_ms,
						     false, conn_body_timeout,
						     c);
	}
	if (idle != (since != 0))
		__atomic_store_n(&c->idle_since_ms, idle ? ev_now_ms() : 0,
				 __ATOMIC_RELAXED);
}

/* Recompute what to wait for, resume parsing when the budget allows, and
 * close when a draining or closing connection has nothing left to do. */
static void conn_update(struct nbd_conn *c)
{
	uint32_t want = 0;

	if (c->state == NBD_CONN_DEAD)
		return;
	if (c->state == NBD_CONN_HANDSHAKE &&
	    c->hs->state == NBD_HS_STARTTLS) {
		/* The ACK goes out in clear first; then the TLS handshake
		 * waits for what it asked. */
		if (conn_output_pending(c))
			conn_set_events(c, c->flush_scheduled ? 0 : EV_WRITE);
		else
			conn_tls_step(c);
		return;
	}
	if (c->read_paused && conn_can_take(c) &&
	    c->state == NBD_CONN_TRANSMISSION) {
		c->read_paused = false;
		conn_parse(c);
		if (c->state == NBD_CONN_DEAD)
			return;
	}
	if (c->state == NBD_CONN_CLOSING && !conn_output_pending(c)) {
		nbd_conn_kill(c, "handshake over");
		return;
	}
	if (c->state == NBD_CONN_DRAINING && c->inflight == 0 &&
	    !conn_output_pending(c)) {
		nbd_conn_kill(c, "client disconnected");
		return;
	}
	if ((c->state == NBD_CONN_HANDSHAKE ||
	     c->state == NBD_CONN_TRANSMISSION) &&
	    (c->rx || c->discard || conn_can_take(c)))
		want |= EV_READ;
	else if (c->state == NBD_CONN_TRANSMISSION)
		c->read_paused = true;
	/* Output still pending with no flush queued means the socket was
	 * full: wait until it can take more. */
	if (conn_output_pending(c) && !c->flush_scheduled)
		want |= EV_WRITE;
	conn_set_events(c, want);
	/* Input TLS has decrypted already is not a socket event. */
	if ((want & EV_READ) && c->tls && !c->read_scheduled &&
	    nbd_tls_pending(c->tls)) {
		c->read_scheduled = true;
		if (ev_loop_defer(c->loop, conn_read_cb, c) < 0)
			c->read_scheduled = false;
	}
	conn_watch(c);
}

/* Drop sent bytes from the front of the output. */
static void conn_advance(struct nbd_conn *c, size_t n)
{
	size_t hs = c->hsout.len - c->hsout.off;

	if (hs) {
		size_t take = n < hs ? n : hs;

		c->hsout.off += take;
		n -= take;
		if (c->hsout.off == c->hsout.len)
			nbd_buf_reset(&c->hsout);
	}
	while (n && c->outq) {
		struct nbd_req *q = c->outq;
		struct iovec *s = &q->seg[q->seg_idx];

		if (n < s->iov_len) {
			s->iov_base = (uint8_t *)s->iov_base + n;
			s->iov_len -= n;
			return;
		}
		n -= s->iov_len;
		if (++q->seg_idx < q->nseg)
			continue;
		c->outq = q->next;
		if (!c->outq)
			c->outq_tail = &c->outq;
		nbd_req_put(c, q);
	}
	/* Zero-length segments at the head (empty replies) are done too. */
	while (c->outq && c->outq->seg_idx < c->outq->nseg &&
	       c->outq->seg[c->outq->seg_idx].iov_len == 0) {
		struct nbd_req *q = c->outq;

		if (++q->seg_idx < q->nseg)
			continue;
		c->outq = q->next;
		if (!c->outq)
			c->outq_tail = &c->outq;
		nbd_req_put(c, q);
	}
}

static void conn_flush(struct nbd_conn *c)
{
	for (;;) {
		struct iovec v[NBD_SEND_IOV_MAX];
		struct msghdr m;
		struct nbd_req *q;
		size_t total = 0;
		ssize_t w;
		int n = 0, i;

		if (c->hsout.len > c->hsout.off) {
			v[n].iov_base = c->hsout.data + c->hsout.off;
			v[n].iov_len = c->hsout.len - c->hsout.off;
			total += v[n++].iov_len;
		}
		for (q = c->outq; q && n < NBD_SEND_IOV_MAX; q = q->next)
			for (i = q->seg_idx; i < q->nseg &&
					     n < NBD_SEND_IOV_MAX;
			     i++) {
				v[n] = q->seg[i];
				total += v[n++].iov_len;
			}
		if (n == 0)
			break;
		if (total == 0) {
			conn_advance(c, 0);
			continue;
		}
		memset(&m, 0, sizeof(m));
		m.msg_iov = v;
		m.msg_iovlen = (size_t)n;
		w = c->tls ? nbd_tls_writev(c->tls, v, n)
			   : sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			nbd_conn_kill(c, strerror(errno));
			return;
		}
		c->last_progress_ms = ev_now_ms();
		conn_advance(c, (size_t)w);
		if ((size_t)w < total)
			break; /* socket buffer full */
	}
	if (conn_output_pending(c)) {
		/* Wait for room; give up on a client that never reads. */
		if (!c->stall_timer) {
			unsigned period = c->stall_ms < 1000 ? c->stall_ms
							     : 1000;

			c->last_progress_ms = ev_now_ms();
			c->stall_timer = ev_timer_add(c->loop, period ? period
								      : 1,
						      true, conn_stall_cb, c);
		}
	} else if (c->stall_timer) {
		ev_timer_del(c->stall_timer);
		c->stall_timer = NULL;
	}
	conn_update(c);
}

static void conn_on_io(struct ev_io *io, int fd, uint32_t events, void *arg)
{
	struct nbd_conn *c = arg;

	(void)io;
	(void)fd;
	if (c->state == NBD_CONN_HANDSHAKE &&
	    c->hs->state == NBD_HS_STARTTLS && !conn_output_pending(c)) {
		conn_tls_step(c);
		return;
	}
	if (events & EV_WRITE)
		conn_flush(c);
	if (c->state != NBD_CONN_DEAD && (events & EV_READ))
		conn_read(c);
	if (c->state != NBD_CONN_DEAD && (events & EV_ERROR) &&
	    !(events & EV_READ))
		nbd_conn_kill(c, "socket error or hang-up");
	conn_update(c);
}

/* ---- life cycle ---- */

static void conn_hs_timeout(struct ev_timer *t, void *arg)
{
	struct nbd_conn *c = arg;

	ev_timer_del(t);
	c->hs_timer = NULL;
	c->st.protocol_closes++;
	nbd_conn_kill(c, "handshake timeout");
}

static void conn_reap(void *arg)
{
	struct nbd_conn *c = arg;
	struct nbd_req *q;

	if (c->flush_scheduled || c->read_scheduled || c->move_scheduled) {
		/* A callback is still queued: go after it. */
		if (ev_loop_defer(c->loop, conn_reap, c) == 0)
			return;
	}
	while ((q = c->free_reqs)) {
		c->free_reqs = q->next;
		nbd_req_free(q);
	}
	free(c->in);
	if (c->bd)
		bdev_release(c->bd);
	nbd_server_conn_gone(c->srv, c);
	free(c);
}

void nbd_conn_reap_check(struct nbd_conn *c)
{
	if (c->state != NBD_CONN_DEAD || c->in_bdev || c->reap_scheduled)
		return;
	c->reap_scheduled = true;
	if (ev_loop_defer(c->loop, conn_reap, c) < 0 &&
	    ev_loop_post(c->loop, conn_reap, c) < 0)
		log_err("nbd %llu: cannot schedule cleanup; leaking it",
			(unsigned long long)c->id);
}

/* Close the socket and drop everything not owned by the bdev; the struct
 * itself goes once the last bdev completion has come back. */
void nbd_conn_kill(struct nbd_conn *c, const char *why)
{
	struct nbd_req *q;

	if (c->state == NBD_CONN_DEAD)
		return;
	log_debug("nbd %llu: %s: closed: %s", (unsigned long long)c->id,
		  c->peer, why);
	c->state = NBD_CONN_DEAD;
	if (c->io) {
		ev_io_del(c->io);
		c->io = NULL;
	}
	nbd_tls_free(c->tls);
	c->tls = NULL;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	conn_stop_timers(c);
	__atomic_store_n(&c->idle_since_ms, 0, __ATOMIC_RELAXED);
	while ((q = c->outq)) {
		c->outq = q->next;
		c->inflight--;
		c->buffered -= q->charged;
		nbd_req_free(q);
	}
	c->outq_tail = &c->outq;
	if (c->rx) {
		c->inflight--;
		c->buffered -= c->rx->charged;
		nbd_req_free(c->rx);
		c->rx = NULL;
	}
	if (c->hs) {
		nbd_hs_fini(c->hs);
		free(c->hs);
		c->hs = NULL;
	}
	nbd_buf_free(&c->hsout);
	nbd_conn_reap_check(c);
}

void nbd_conn_kill_cb(void *arg)
{
	nbd_conn_kill(arg, "server stopping");
}

struct nbd_conn *nbd_conn_create(struct nbd_server *s, int fd,
				 struct ev_loop *loop, const char *peer,
				 uint64_t id)
{
	struct nbd_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->in = malloc(NBD_INBUF_SIZE);
	c->hs = malloc(sizeof(*c->hs));
	if (!c->in || !c->hs) {
		free(c->in);
		free(c->hs);
		free(c);
		return NULL;
	}
	nbd_hs_init(c->hs, &nbd_registry_exports, s);
	c->hs->tls = s->tls_mode == NBD_TLS_REQUIRE ? NBD_HS_TLS_REQUIRE
		     : s->tls_mode == NBD_TLS_ON    ? NBD_HS_TLS_ON
						    : NBD_HS_TLS_OFF;
	c->srv = s;
	c->loop = loop;
	c->id = id;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->max_requests = s->opts.max_requests;
	c->max_buffered = s->opts.max_buffered;
	c->stall_ms = s->opts.stall_timeout_ms;
	c->handshake_ms = s->opts.handshake_timeout_ms;
	c->body_ms = s->opts.body_timeout_ms;
	c->fd = fd;
	c->state = NBD_CONN_HANDSHAKE;
	c->outq_tail = &c->outq;
	return c;
}

void nbd_conn_start(void *arg)
{
	struct nbd_conn *c = arg;

	if (!conn_arrive(c))
		return;
	if (c->handshake_ms)
		c->hs_timer = ev_timer_add(c->loop, c->handshake_ms, false,
					   conn_hs_timeout, c);
	if (nbd_hs_greeting(&c->hsout) < 0) {
		nbd_conn_kill(c, "out of memory");
		return;
	}
	conn_flush(c);
}
