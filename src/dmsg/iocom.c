/*
 * The DMSG iocom: one link over a stream socket, on one event loop.
 *
 * It frames the byte stream into messages (wire.c does the checking), keeps
 * the transaction state of both directions keyed by msgid, routes every
 * message to the handler of its transaction, sends the keep-alive and
 * watches for silence, and when the link goes away ends every open
 * transaction locally with LOSTLINK, children before parents.
 *
 * Transaction states (per msgid, one side's view):
 *
 *   OPEN      CREATE sent or received, neither side has sent DELETE
 *   HALF      one side has sent DELETE (tx_done or rx_done)
 *   gone      both have: the state is freed once no handler of it runs
 *
 * Writes are queued as whole encoded messages and flushed once per loop
 * iteration with one gathered write (sendmsg, i.e. writev without
 * SIGPIPE); reads take as much as the buffer holds and
 * parse every whole message in it.  What a peer can make us hold is
 * bounded: its open transactions (opts.max_states), one message's size,
 * and our queued output (reading stops while it is over OUTQ_HIGH).
 * The transaction API (open, send, reply) is in state.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <scsikit/dmsg.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "dmsg/dmsg_int.h"
#include "dmsg/iocom_int.h"

#define RBUF_INITIAL (256u * 1024u)
#define OUTQ_HIGH (64u * 1024u * 1024u) /* stop reading above this */
#define IOV_BATCH 64

/* One encoded message waiting to be sent; also the dmsg_txbuf handed to
 * owners that fill aux data in place. */
static void io_flush(struct dmsg_iocom *io);
static void io_lose(struct dmsg_iocom *io, int err);
static void io_update_events(struct dmsg_iocom *io);

/* ---- references --------------------------------------------------------- */

static void io_free(struct dmsg_iocom *io)
{
	struct dmsg_outbuf *ob, *nx;

	for (ob = io->outq; ob; ob = nx) {
		nx = ob->next;
		free(ob);
	}
	free(io->rbuf);
	free(io);
}

static void io_put(struct dmsg_iocom *io)
{
	if (--io->refs == 0)
		io_free(io);
}

/* ---- states ------------------------------------------------------------- */

static unsigned hash_id(uint64_t id)
{
	id ^= id >> 33;
	id *= 0xff51afd7ed558ccdull;
	id ^= id >> 33;
	return (unsigned)(id & (HASH_BUCKETS - 1));
}

static struct dmsg_state *state_find(struct dmsg_state **tab, uint64_t id)
{
	for (struct dmsg_state *st = tab[hash_id(id)]; st; st = st->hnext)
		if (st->msgid == id)
			return st;
	return NULL;
}

static void state_unhash(struct dmsg_state *st)
{
	struct dmsg_iocom *io = st->io;
	struct dmsg_state **pp =
		&(st->ours ? io->tx : io->rx)[hash_id(st->msgid)];

	if (!st->hashed)
		return;
	st->hashed = false;
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == st) {
			*pp = st->hnext;
			break;
		}
	}
	if (st->ours)
		io->ntx--;
	else
		io->nrx--;
}

struct dmsg_state *dmsg_state_alloc(struct dmsg_iocom *io, bool ours,
				      uint64_t msgid, uint32_t icmd,
				      struct dmsg_state *parent)
{
	struct dmsg_state *st = calloc(1, sizeof(*st));
	unsigned h;

	if (!st)
		return NULL;
	st->io = io;
	st->ours = ours;
	st->msgid = msgid;
	st->icmd = icmd & DMSGF_BASECMDMASK;
	h = hash_id(msgid);
	st->hashed = true;
	if (ours) {
		st->hnext = io->tx[h];
		io->tx[h] = st;
		io->ntx++;
	} else {
		st->hnext = io->rx[h];
		io->rx[h] = st;
		io->nrx++;
	}
	if (parent) {
		st->parent = parent;
		st->sib_next = parent->child_first;
		if (parent->child_first)
			parent->child_first->sib_prev = st;
		parent->child_first = st;
	}
	return st;
}

static void state_detach_parent(struct dmsg_state *st)
{
	if (!st->parent)
		return;
	if (st->sib_prev)
		st->sib_prev->sib_next = st->sib_next;
	else
		st->parent->child_first = st->sib_next;
	if (st->sib_next)
		st->sib_next->sib_prev = st->sib_prev;
	st->parent = NULL;
	st->sib_next = st->sib_prev = NULL;
}

/* Free st if both sides are done and no handler of it is running. */
void dmsg_state_maybe_free(struct dmsg_state *st)
{
	if (st->freed || !st->rx_done || !st->tx_done || st->busy)
		return;
	st->freed = true;
	state_unhash(st);
	state_detach_parent(st);
	/* Children outliving a parent are orphaned, not freed: their own
	 * DELETEs (or the link's loss) end them. */
	while (st->child_first)
		state_detach_parent(st->child_first);
	free(st);
}

static void state_call(struct dmsg_state *st, struct dmsg_msg *msg)
{
	msg->state = st;
	if (st->fn) {
		st->busy++;
		st->fn(st, msg, st->arg);
		st->busy--;
	}
}

/*
 * End st locally as if the peer had answered LOSTLINK: children first,
 * then st's own handler sees LNK_ERROR|DELETE.  Our side is marked done
 * before the call, so a reply from the handler is a no-op.
 */
static void state_lose(struct dmsg_state *st)
{
	struct dmsg_msg *msg;
	bool notify = !st->rx_done || !st->tx_done;

	while (st->child_first)
		state_lose(st->child_first);

	st->tx_done = true;
	if (notify && st->fn) {
		/* Told even when only our side was open (a reply still to be
		 * sent): the owner must forget the state now. */
		msg = malloc(sizeof(*msg));
		st->rx_done = true;
		if (msg) {
			memset(&msg->hdr, 0, sizeof(msg->hdr));
			msg->hdr.magic = DMSG_HDR_MAGIC;
			msg->hdr.msgid = st->msgid;
			msg->hdr.cmd = DMSG_LNK_ERROR | DMSGF_DELETE |
				       (st->ours ? DMSGF_REPLY : 0) |
				       (st->rx_created ? 0 : DMSGF_CREATE);
			msg->hdr.error = DMSG_ERR_LOSTLINK;
			msg->body_len = 0;
			msg->aux_len = 0;
			msg->aux = NULL;
			st->rx_created = true;
			state_call(st, msg);
			free(msg);
		}
	}
	st->rx_done = true;
	/* Detach from the parent now so the parent's loop above ends even
	 * if a handler is still running for st. */
	state_detach_parent(st);
	if (st->busy && st->hashed) {
		/* Its handler is on the stack: take it out of the tables so
		 * the link's teardown ends; the handler's caller frees it. */
		state_unhash(st);
	}
	dmsg_state_maybe_free(st);
}

/* ---- output ------------------------------------------------------------- */

static void io_flush_deferred(void *arg)
{
	struct dmsg_iocom *io = arg;

	io->flush_pending = false;
	if (io->link == DMSG_LINK_UP && !io->destroyed)
		io_flush(io);
	io_put(io);
}

static void io_fail_deferred(void *arg)
{
	struct dmsg_iocom *io = arg;

	if (io->fail_pending && io->link == DMSG_LINK_UP && !io->destroyed)
		io_lose(io, io->fail_err);
	io_put(io);
}

/* Declare the link failed; the loss is processed after the current
 * callback, never from inside a handler. */
static void io_fail(struct dmsg_iocom *io, int err)
{
	if (io->link != DMSG_LINK_UP || io->fail_pending)
		return;
	io->fail_pending = true;
	io->fail_err = err;
	io->refs++;
	if (ev_loop_defer(io->loop, io_fail_deferred, io) < 0) {
		io->refs--;
		io_lose(io, err);
	}
}

static void io_queue_ob(struct dmsg_iocom *io, struct dmsg_outbuf *ob,
			const struct dmsg_hdr *hdr, size_t aux_len)
{
	ob->off = 0;
	ob->next = NULL;
	if (io->outq_tail)
		io->outq_tail->next = ob;
	else
		io->outq = ob;
	io->outq_tail = ob;
	io->outq_bytes += ob->len;
	io->st.msgs_out++;
	sk_trace(SK_TRACE_DMSG, "dmsg %s: tx %s cmd %08x msgid %llx circ %llx "
		 "err %u aux %zu", io->name, dmsg_cmd_name(hdr->cmd),
		 hdr->cmd, (unsigned long long)hdr->msgid,
		 (unsigned long long)hdr->circuit, hdr->error, aux_len);
	if (!io->flush_pending && !io->want_write) {
		io->refs++;
		if (ev_loop_defer(io->loop, io_flush_deferred, io) == 0)
			io->flush_pending = true;
		else
			io->refs--;
	}
}

int dmsg_io_queue(struct dmsg_iocom *io, const struct dmsg_hdr *hdr,
		    const void *body, size_t body_len, const void *aux,
		    size_t aux_len)
{
	size_t sz = dmsg_wire_size(body_len, aux_len);
	struct dmsg_outbuf *ob;
	long n;

	if (io->link != DMSG_LINK_UP || io->fail_pending || io->destroyed)
		return -ENOTCONN;
	if (body_len > DMSG_BODY_MAX || aux_len > DMSG_AUX_MAX)
		return -EMSGSIZE;
	ob = malloc(sizeof(*ob) + sz);
	if (!ob)
		return -ENOMEM;
	n = dmsg_encode(hdr, body, body_len, aux, aux_len, ob->data, sz);
	if (n < 0) {
		free(ob);
		return (int)n;
	}
	ob->len = (size_t)n;
	io_queue_ob(io, ob, hdr, aux_len);
	return 0;
}

/* Queue a txbuf whose aux is in place (consumes it on success). */
int dmsg_io_queue_txbuf(struct dmsg_iocom *io, const struct dmsg_hdr *hdr,
			  const void *body, size_t body_len,
			  struct dmsg_outbuf *ob, size_t aux_len)
{
	long n;

	if (io->link != DMSG_LINK_UP || io->fail_pending || io->destroyed)
		return -ENOTCONN;
	if (dmsg_ext_size(body_len) != dmsg_ext_size(ob->body_len))
		return -EINVAL;
	n = dmsg_seal(hdr, body, body_len, aux_len, ob->data, ob->cap);
	if (n < 0)
		return (int)n;
	ob->len = (size_t)n;
	io_queue_ob(io, ob, hdr, aux_len);
	return 0;
}

static void io_flush(struct dmsg_iocom *io)
{
	struct iovec iov[IOV_BATCH];
	struct dmsg_outbuf *ob;
	ssize_t n;
	int cnt;

	while (io->outq) {
		cnt = 0;
		for (ob = io->outq; ob && cnt < IOV_BATCH; ob = ob->next) {
			iov[cnt].iov_base = ob->data + ob->off;
			iov[cnt].iov_len = ob->len - ob->off;
			cnt++;
		}
		{
			/* One gathered write for the batch; MSG_NOSIGNAL so
			 * a peer gone away is an error, not a SIGPIPE. */
			struct msghdr mh = { .msg_iov = iov,
					     .msg_iovlen = (size_t)cnt };

			n = sendmsg(io->fd, &mh, MSG_NOSIGNAL);
		}
		io->st.writev_calls++;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			io_fail(io, -errno);
			return;
		}
		/* The keep-alive's clock, read once per write rather than
		 * per message (a clock read costs as much as a message's
		 * bookkeeping). */
		io->last_tx_ms = ev_now_ms();
		io->st.bytes_out += (uint64_t)n;
		io->outq_bytes -= (size_t)n;
		while (n > 0 && io->outq) {
			ob = io->outq;
			size_t left = ob->len - ob->off;

			if ((size_t)n < left) {
				ob->off += (size_t)n;
				n = 0;
				break;
			}
			n -= (ssize_t)left;
			io->outq = ob->next;
			if (!io->outq)
				io->outq_tail = NULL;
			free(ob);
		}
	}
	io_update_events(io);
}

static void io_update_events(struct dmsg_iocom *io)
{
	bool want_write = io->outq != NULL;
	bool reading = io->outq_bytes < OUTQ_HIGH && !io->rx_paused;
	uint32_t ev = 0;

	if (want_write == io->want_write && reading == io->reading)
		return;
	io->want_write = want_write;
	io->reading = reading;
	if (reading)
		ev |= EV_READ;
	if (want_write)
		ev |= EV_WRITE;
	if (io->watch)
		ev_io_modify(io->watch, ev);
}

/* ---- input -------------------------------------------------------------- */

static void proto_violation(struct dmsg_iocom *io, const struct dmsg_msg *m,
			    const char *why)
{
	log_warn("dmsg %s: %s (cmd %08x msgid %llx); resetting the link",
		 io->name, why, m->hdr.cmd,
		 (unsigned long long)m->hdr.msgid);
	io->st.proto_errors++;
	io_fail(io, -EPROTO);
}

/* A CREATE from the peer: a new transaction (or a refused one). */
static void rx_create(struct dmsg_iocom *io, struct dmsg_msg *m)
{
	uint32_t cmd = m->hdr.cmd;
	struct dmsg_state *parent = NULL, *st;

	if (state_find(io->rx, m->hdr.msgid)) {
		proto_violation(io, m, "CREATE for an open msgid");
		return;
	}
	if (io->nrx >= io->opts.max_states) {
		proto_violation(io, m, "too many open transactions");
		return;
	}
	if (m->hdr.circuit) {
		parent = state_find(io->rx, m->hdr.circuit);
		if (!parent)
			parent = state_find(io->tx, m->hdr.circuit);
		if (parent && (parent->tx_done || parent->rx_done))
			parent = NULL;
	}
	st = dmsg_state_alloc(io, false, m->hdr.msgid, cmd, parent);
	if (!st) {
		io_fail(io, -ENOMEM);
		return;
	}
	st->rx_created = true;
	if (cmd & DMSGF_DELETE)
		st->rx_done = true;
	m->state = st;
	st->busy++;
	if (m->hdr.circuit && !parent) {
		io->st.proto_errors++;
		dmsg_state_reply(st, DMSG_ERR_CANTCIRC);
	} else if (m->body_len < dmsg_body_min(cmd)) {
		io->st.proto_errors++;
		dmsg_state_reply(st, DMSG_ERR_PARAM);
	} else if ((cmd & DMSGF_BASECMDMASK) == DMSG_DBG_SHELL ||
		   !io->ops->rcvmsg) {
		io->st.proto_errors++;
		dmsg_state_reply(st, DMSG_ERR_NOSUPP);
	} else {
		io->ops->rcvmsg(io, st, m, io->arg);
	}
	st->busy--;
	dmsg_state_maybe_free(st);
}

static void rx_dispatch(struct dmsg_iocom *io, struct dmsg_msg *m)
{
	uint32_t cmd = m->hdr.cmd;
	struct dmsg_state *st;

	io->st.msgs_in++;
	sk_trace(SK_TRACE_DMSG, "dmsg %s: rx %s cmd %08x msgid %llx circ %llx "
		 "err %u aux %u", io->name, dmsg_cmd_name(cmd), cmd,
		 (unsigned long long)m->hdr.msgid,
		 (unsigned long long)m->hdr.circuit, m->hdr.error,
		 m->aux_len);

	if ((cmd & DMSGF_CREATE) && !(cmd & DMSGF_REPLY)) {
		rx_create(io, m);
		return;
	}
	st = state_find((cmd & DMSGF_REPLY) ? io->tx : io->rx, m->hdr.msgid);
	if (!st) {
		if (!(cmd & (DMSGF_CREATE | DMSGF_DELETE | DMSGF_ABORT |
			     DMSGF_REPLY))) {
			/* One-way: LNK_PING, LNK_PAD, or a notice. */
			uint32_t base = cmd & DMSGF_BASECMDMASK;

			if (base == DMSG_LNK_PING || base == DMSG_LNK_PAD)
				return;
			if (io->ops->rcvmsg)
				io->ops->rcvmsg(io, NULL, m, io->arg);
			return;
		}
		proto_violation(io, m, "message for an unknown transaction");
		return;
	}
	if (st->rx_done) {
		proto_violation(io, m, "message after DELETE");
		return;
	}
	if (cmd & DMSGF_CREATE) {
		if (st->rx_created) {
			proto_violation(io, m, "second CREATE reply");
			return;
		}
		st->rx_created = true;
	} else if (!st->rx_created) {
		proto_violation(io, m, "reply before CREATE");
		return;
	}
	st->busy++;
	if (cmd & DMSGF_DELETE) {
		/* Closing a parent ends its children first. */
		while (st->child_first)
			state_lose(st->child_first);
		st->rx_done = true;
	}
	if (st->fn)
		state_call(st, m);
	/* A handler that left its side open after the peer closed: close it,
	 * so both directions end (spans and conns without a handler, too). */
	if ((cmd & DMSGF_DELETE) && !st->tx_done)
		dmsg_state_reply(st, 0);
	st->busy--;
	dmsg_state_maybe_free(st);
}

static void io_read(struct dmsg_iocom *io)
{
	struct dmsg_msg *m = NULL;
	size_t pos = 0, need;
	ssize_t n;
	long used;

	if (io->rlen == io->rcap) {
		/* Cannot happen: the buffer grows to the next message's
		 * size below.  Refuse rather than spin. */
		io_fail(io, -EPROTO);
		return;
	}
	n = read(io->fd, io->rbuf + io->rlen, io->rcap - io->rlen);
	io->st.read_calls++;
	if (n == 0) {
		io_fail(io, io->rlen ? -EPIPE : 0); /* EOF; mid-message: torn */
		return;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		io_fail(io, -errno);
		return;
	}
	io->st.bytes_in += (uint64_t)n;
	io->rlen += (size_t)n;
	io->last_rx_ms = ev_now_ms(); /* once per read, not per message */

	m = malloc(sizeof(*m));
	if (!m) {
		io_fail(io, -ENOMEM);
		return;
	}
	while (io->link == DMSG_LINK_UP && !io->fail_pending &&
	       !io->destroyed) {
		used = dmsg_decode(io->rbuf + pos, io->rlen - pos, m, &need);
		if (used < 0) {
			log_warn("dmsg %s: bad message (%s); resetting the link",
				 io->name,
				 used == -EBADMSG    ? "bad magic or CRC"
				 : used == -EMSGSIZE ? "size beyond limits"
						     : "unsupported framing");
			io->st.proto_errors++;
			io_fail(io, (int)used);
			break;
		}
		if (used == DMSG_DEC_NEED) {
			if (need > io->rcap) {
				/* need is bounded by dmsg_decode's limits */
				uint8_t *nb;

				if (pos) {
					memmove(io->rbuf, io->rbuf + pos,
						io->rlen - pos);
					io->rlen -= pos;
					pos = 0;
				}
				nb = realloc(io->rbuf, need);
				if (!nb) {
					io_fail(io, -ENOMEM);
					break;
				}
				io->rbuf = nb;
				io->rcap = need;
			}
			break;
		}
		pos += (size_t)used;
		rx_dispatch(io, m);
	}
	free(m);
	if (pos) {
		memmove(io->rbuf, io->rbuf + pos, io->rlen - pos);
		io->rlen -= pos;
	}
}

static void io_event(struct ev_io *w, int fd, uint32_t events, void *arg)
{
	struct dmsg_iocom *io = arg;

	io->refs++;
	if ((events & EV_WRITE) && io->link == DMSG_LINK_UP)
		io_flush(io);
	if ((events & (EV_READ | EV_ERROR)) && io->link == DMSG_LINK_UP &&
	    !io->fail_pending && !io->destroyed)
		io_read(io);
	if (io->fail_pending && io->link == DMSG_LINK_UP && !io->destroyed)
		io_lose(io, io->fail_err);
	io_put(io);
}

static void io_ping(struct ev_timer *t, void *arg)
{
	struct dmsg_iocom *io = arg;
	uint64_t now = ev_now_ms();

	if (io->link != DMSG_LINK_UP)
		return;
	if (now - io->last_rx_ms >= io->opts.timeout_ms) {
		log_warn("dmsg %s: no message for %u ms; link lost", io->name,
			 io->opts.timeout_ms);
		io_fail(io, -ETIMEDOUT);
		return;
	}
	if (now - io->last_tx_ms >= io->opts.ping_ms)
		dmsg_iocom_send_oneway(io, DMSG_LNK_PING, 0, NULL, 0, NULL, 0);
}

/* ---- loss --------------------------------------------------------------- */

static struct dmsg_state *any_state(struct dmsg_iocom *io)
{
	for (unsigned i = 0; i < HASH_BUCKETS; i++) {
		if (io->tx[i])
			return io->tx[i];
		if (io->rx[i])
			return io->rx[i];
	}
	return NULL;
}

/* Stop the socket, end every transaction with LOSTLINK (children first),
 * then tell the owner. */
static void io_lose_states(struct dmsg_iocom *io)
{
	struct dmsg_state *st;

	while ((st = any_state(io)) != NULL) {
		while (st->parent)
			st = st->parent;
		state_lose(st);
		/* state_lose either freed st or unhashed it: progress. */
	}
}

static void io_stop_socket(struct dmsg_iocom *io)
{
	if (io->watch) {
		ev_io_del(io->watch);
		io->watch = NULL;
	}
	if (io->ping) {
		ev_timer_del(io->ping);
		io->ping = NULL;
	}
	if (io->fd >= 0) {
		close(io->fd);
		io->fd = -1;
	}
}

static void io_lose(struct dmsg_iocom *io, int err)
{
	if (io->link != DMSG_LINK_UP)
		return;
	io->link = DMSG_LINK_LOST;
	io->fail_err = err;
	io_stop_socket(io);
	if (err && err != -ECANCELED)
		log_info("dmsg %s: link lost (%s)", io->name, strerror(-err));
	io->refs++;
	io_lose_states(io);
	if (!io->destroyed && io->ops->lost)
		io->ops->lost(io, err, io->arg);
	io_put(io);
}

/* ---- public ------------------------------------------------------------- */

struct dmsg_iocom *dmsg_iocom_create(struct ev_loop *loop, int fd,
				     const struct dmsg_iocom_ops *ops,
				     void *arg,
				     const struct dmsg_iocom_opts *opts)
{
	struct dmsg_iocom *io = calloc(1, sizeof(*io));
	int fl;

	if (!io)
		return NULL;
	io->loop = loop;
	io->fd = fd;
	io->ops = ops;
	io->arg = arg;
	if (opts)
		io->opts = *opts;
	if (!io->opts.ping_ms)
		io->opts.ping_ms = 1000;
	if (!io->opts.timeout_ms)
		io->opts.timeout_ms = 10000;
	if (!io->opts.max_states)
		io->opts.max_states = 4096;
	snprintf(io->name, sizeof(io->name), "%s",
		 opts && opts->name ? opts->name : "link");
	io->opts.name = NULL;
	io->refs = 1;
	/* Our msgids: a random base so that circuit lookups in both tables
	 * cannot confuse ours with the peer's. */
	io->next_msgid = ((uint64_t)random() << 32 | (uint64_t)random()) |
			 (1ull << 63);
	io->rcap = RBUF_INITIAL;
	io->rbuf = malloc(io->rcap);
	if (!io->rbuf)
		goto out_free;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		goto out_free;
	io->last_rx_ms = io->last_tx_ms = ev_now_ms();
	io->reading = true;
	io->watch = ev_io_add(loop, fd, EV_READ, io_event, io);
	if (!io->watch)
		goto out_free;
	io->ping = ev_timer_add(loop, io->opts.ping_ms / 2 ? io->opts.ping_ms / 2
							    : 1,
				true, io_ping, io);
	if (!io->ping)
		goto out_del_watch;
	return io;

out_del_watch:
	ev_io_del(io->watch);
out_free:
	free(io->rbuf);
	free(io);
	return NULL;
}

void dmsg_iocom_fail(struct dmsg_iocom *io, int error)
{
	io_fail(io, error ? error : -ECONNABORTED);
}

void dmsg_iocom_destroy(struct dmsg_iocom *io)
{
	if (io->destroyed)
		return;
	if (io->link == DMSG_LINK_UP) {
		/* The owner asked: end transactions, but do not call lost. */
		io->destroyed = true;
		io->link = DMSG_LINK_LOST;
		io_stop_socket(io);
		io->refs++;
		io_lose_states(io);
		io_put(io);
	}
	io->destroyed = true;
	io_stop_socket(io);
	io_put(io);
}

void dmsg_iocom_pause_rx(struct dmsg_iocom *io, bool paused)
{
	io->rx_paused = paused;
	if (io->link == DMSG_LINK_UP && !io->destroyed)
		io_update_events(io);
}

void *dmsg_iocom_arg(const struct dmsg_iocom *io)
{
	return io->arg;
}

const char *dmsg_iocom_name(const struct dmsg_iocom *io)
{
	return io->name;
}

bool dmsg_iocom_is_lost(const struct dmsg_iocom *io)
{
	return io->link != DMSG_LINK_UP || io->fail_pending;
}

void dmsg_iocom_get_stats(const struct dmsg_iocom *io,
			  struct dmsg_iocom_stats *st)
{
	*st = io->st;
	st->states_open = io->nrx + io->ntx;
}

int dmsg_iocom_send_oneway(struct dmsg_iocom *io, uint32_t cmd,
			   uint32_t error, const void *body, size_t body_len,
			   const void *aux, size_t aux_len)
{
	struct dmsg_hdr h;

	memset(&h, 0, sizeof(h));
	h.cmd = cmd & ~(DMSGF_CREATE | DMSGF_DELETE | DMSGF_ABORT |
			DMSGF_REPLY | DMSGF_SIZE);
	h.error = error;
	return dmsg_io_queue(io, &h, body, body_len, aux, aux_len);
}

