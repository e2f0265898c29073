/*
 * The xdisk server: exports the disk registry's bdevs over DMSG.
 *
 * Per link (struct xs_conn) the server opens its LNK_CONN, answers the
 * peer's, and once both are through advertises one LNK_SPAN per disk the
 * peer's masks accept.  BLK_OPEN arrives under a span and stays open;
 * READ/WRITE/FLUSH/FREEBLKS arrive under a BLK_OPEN and each becomes one
 * bdev_io, answered with BLK_ERROR when the backend completes.
 *
 * A span being withdrawn (the disk left the registry) first waits for the
 * I/O running under it, then closes its BLK_OPENs and itself, so that no
 * reply ever follows the close of its parent.
 *
 * The server accepts on its loop and hands each link to a reactor
 * (opts.loops, round robin); a link and everything under it runs there
 * (server_int.h says what is shared and how it is guarded).  Registry
 * events are posted to the server's loop, which passes them on to the
 * reactor of every link.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <scsikit/linkfault.h>
#include <scsikit/bdev.h>
#include <scsikit/dmsg.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/xdisk.h>

#include "xdisk/server_int.h"
#include "xdisk/xdisk_int.h"

static void xs_conn_put(struct xs_conn *c);
static void xs_span_try_close(struct xs_span *sp);

/* Counters one reactor changes and the listings read: relaxed atomics, a
 * plain load and store on this machine (no lock prefix: one writer). */
static inline void xs_count(unsigned *v, int d)
{
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + (unsigned)d,
			 __ATOMIC_RELAXED);
}

static void xs_srv_put(struct xdisk_server *srv)
{
	if (__atomic_sub_fetch(&srv->refs, 1, __ATOMIC_ACQ_REL))
		return;
	while (srv->serials) {
		struct xs_serial *s = srv->serials;

		srv->serials = s->next;
		free(s);
	}
	free(srv->fences);
	sk_admit_fini(&srv->admit);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

static void xs_conn_hold(struct xs_conn *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

/* ---- spans -------------------------------------------------------------- */

const char *xs_serial_of(struct xdisk_server *srv, const char *disk)
{
	for (struct xs_serial *s = srv->serials; s; s = s->next)
		if (strcmp(s->disk, disk) == 0)
			return s->serial;
	return disk;
}

static void xs_span_handler(struct dmsg_state *st, struct dmsg_msg *m,
			    void *arg)
{
	struct xs_span *sp = arg;

	/* The client's answer to our span (kept open) or its/the link's
	 * close.  Either way a DELETE ends the advertisement. */
	if (m->hdr.cmd & DMSGF_DELETE)
		sp->st = NULL;
}

static bool xs_conn_wants(const struct xs_conn *c)
{
	if (c->peer_mask && !(c->peer_mask & (1ull << DMSG_PEER_BLOCK)))
		return false;
	if (c->pfs_mask && !(c->pfs_mask & (1ull << DMSG_PFSTYPE_SERVER)))
		return false;
	return true;
}

static void xs_span_add(struct xs_conn *c, struct bdev *bd)
{
	struct xdisk_server *srv = c->srv;
	const struct bdev_geometry *g = bdev_geometry(bd);
	struct dmsg_lnk_span body;
	struct xs_span *sp;

	/* xa disks are not advertised again: scsikit is no relay, and a
	 * client attached (directly or not) to its own daemon would otherwise
	 * make disks of its disks without end, or send I/O round a loop. */
	if (strcmp(bdev_backend(bd), "xdisk") == 0)
		return;
	for (sp = c->spans; sp; sp = sp->next)
		if (sp->bd == bd && !sp->withdrawing)
			return;
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return;
	memset(&body, 0, sizeof(body));
	body.pfs_type = DMSG_PFSTYPE_SERVER;
	body.peer_type = DMSG_PEER_BLOCK;
	body.proto_version = 1;
	body.dist = 0;
	body.media.block.bytes = g->size;
	body.media.block.blksize = g->lbsize;
	snprintf(body.cl_label, sizeof(body.cl_label), "%s/%s", srv->host,
		 bdev_name(bd));
	snprintf(body.fs_label, sizeof(body.fs_label), "%s",
		 xs_serial_of(srv, bdev_name(bd)));
	sp->conn = c;
	sp->bd = bdev_hold(bd);
	sp->st = dmsg_state_open(c->io, NULL, DMSG_LNK_SPAN, &body,
				 sizeof(body), NULL, 0, xs_span_handler, sp);
	if (!sp->st) {
		bdev_release(sp->bd);
		free(sp);
		return;
	}
	dmsg_state_set_user(sp->st, sp);
	pthread_mutex_lock(&srv->lock);
	sp->next = c->spans;
	c->spans = sp;
	pthread_mutex_unlock(&srv->lock);
	log_debug("xdisk server: span %s (label %s) to %s", body.cl_label,
		  body.fs_label, c->peer);
}

static void xs_span_free(struct xs_span *sp)
{
	struct xs_conn *c = sp->conn;
	struct xs_span **pp;
	struct xs_open *opens;

	pthread_mutex_lock(&c->srv->lock);
	for (pp = &c->spans; *pp; pp = &(*pp)->next) {
		if (*pp == sp) {
			*pp = sp->next;
			break;
		}
	}
	opens = sp->opens;
	sp->opens = NULL;
	pthread_mutex_unlock(&c->srv->lock);
	while (opens) {
		struct xs_open *o = opens;

		opens = o->next;
		if (o->st)
			dmsg_state_set_handler(o->st, NULL, NULL);
		free(o);
	}
	bdev_release(sp->bd);
	free(sp);
}

/* Close a withdrawn span once nothing runs under it: opens, then span. */
static void xs_span_try_close(struct xs_span *sp)
{
	if (!sp->withdrawing || sp->inflight)
		return;
	for (struct xs_open *o = sp->opens; o; o = o->next) {
		if (o->st) {
			struct dmsg_state *st = o->st;

			o->st = NULL;
			dmsg_state_set_handler(st, NULL, NULL);
			dmsg_state_reply(st, DMSG_ERR_LOSTLINK);
		}
	}
	if (sp->st) {
		struct dmsg_state *st = sp->st;

		sp->st = NULL;
		dmsg_state_set_handler(st, NULL, NULL);
		dmsg_state_set_user(st, NULL);
		dmsg_state_reply(st, 0);
	}
	xs_span_free(sp);
}

static void xs_advertise_all_cb(struct bdev *bd, void *arg)
{
	struct bdev ***pp = arg;

	*(*pp)++ = bdev_hold(bd);
}

static void xs_conn_ready(struct xs_conn *c)
{
	unsigned n = bdev_registry_count() + 16;
	struct bdev **v = calloc(n, sizeof(*v)), **p = v;

	c->state = XS_READY;
	if (!v)
		return;
	if (xs_conn_wants(c)) {
		/* count() and foreach() are two lock holds: a disk added in
		 * between is bounded by the slack and reaches us as an
		 * event anyway. */
		if (bdev_registry_count() + 1 < n)
			bdev_registry_foreach(xs_advertise_all_cb, &p);
		for (struct bdev **q = v; q < p; q++)
			xs_span_add(c, *q);
	}
	for (struct bdev **q = v; q < p; q++)
		bdev_release(*q);
	free(v);
}

/* ---- BLK commands ------------------------------------------------------- */

static void xs_open_handler(struct dmsg_state *st, struct dmsg_msg *m,
			    void *arg)
{
	struct xs_open *o = arg;
	struct xs_span *sp = o->span;
	struct xs_open **pp;

	if (!(m->hdr.cmd & DMSGF_DELETE))
		return;
	/* The client closed the device (or the link went). */
	pthread_mutex_lock(&sp->conn->srv->lock);
	for (pp = &sp->opens; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	pthread_mutex_unlock(&sp->conn->srv->lock);
	dmsg_state_set_handler(st, NULL, NULL);
	free(o);
}

static void xs_blk_open(struct xs_conn *c, struct dmsg_state *st,
			struct dmsg_msg *m)
{
	struct dmsg_state *parent = dmsg_state_parent(st);
	struct xs_span *sp = parent ? dmsg_state_user(parent) : NULL;
	struct dmsg_blk_error rep;
	struct xs_open *o;
	bool ok;

	if (!sp || dmsg_state_cmd(parent) != DMSG_LNK_SPAN ||
	    sp->withdrawing || !sp->st) {
		dmsg_state_reply(st, DMSG_ERR_CANTCIRC);
		return;
	}
	if ((m->body.blk_open.modes & DMSG_BLKOPEN_WR) &&
	    bdev_geometry(sp->bd)->read_only) {
		dmsg_state_reply(st, DMSG_ERR_PARAM);
		return;
	}
	if (m->hdr.cmd & DMSGF_DELETE) {
		/* An open that closes at once opens nothing. */
		dmsg_state_reply(st, 0);
		return;
	}
	pthread_mutex_lock(&c->srv->lock);
	ok = xs_fence_check_locked(c->srv, sp->bd, m->body.blk_open.fence_id,
				   m->body.blk_open.fence_gen);
	pthread_mutex_unlock(&c->srv->lock);
	if (!ok) {
		log_warn("xdisk server: %s: stale BLK_OPEN of %s (generation "
			 "%llu) refused", c->peer, bdev_name(sp->bd),
			 (unsigned long long)m->body.blk_open.fence_gen);
		dmsg_state_reply(st, DMSG_ERR_CANTCIRC);
		return;
	}
	o = calloc(1, sizeof(*o));
	if (!o) {
		dmsg_state_reply(st, DMSG_ERR_IO);
		return;
	}
	o->span = sp;
	o->st = st;
	o->modes = m->body.blk_open.modes;
	o->fence_id = m->body.blk_open.fence_id;
	o->fence_gen = m->body.blk_open.fence_gen;
	o->keyid = __atomic_add_fetch(&c->srv->next_keyid, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&c->srv->lock);
	o->next = sp->opens;
	sp->opens = o;
	pthread_mutex_unlock(&c->srv->lock);
	dmsg_state_set_user(st, o);
	dmsg_state_set_handler(st, xs_open_handler, o);
	memset(&rep, 0, sizeof(rep));
	rep.keyid = o->keyid;
	dmsg_state_send(st, DMSG_BLK_ERROR, 0, &rep, sizeof(rep), NULL, 0);
}

static void xs_req_handler(struct dmsg_state *st, struct dmsg_msg *m,
			   void *arg)
{
	struct xs_req *r = arg;

	/* Only the link's loss (or a peer's abort) reaches here while the
	 * backend still runs the request: forget the state. */
	if (m->hdr.cmd & DMSGF_DELETE) {
		dmsg_state_set_handler(st, NULL, NULL);
		r->st = NULL;
	}
}

static uint32_t xs_errno_to_dmsg(int status)
{
	switch (status) {
	case 0:
		return 0;
	case -EINVAL:
	case -ERANGE:
		return DMSG_ERR_PARAM;
	case -ENOTSUP:
		return DMSG_ERR_NOSUPP;
	default:
		return DMSG_ERR_IO;
	}
}

static void xs_req_finish(struct xs_req *r, int status)
{
	struct xs_span *sp = r->span;
	struct xs_conn *c = r->conn;
	bool held = r->buf != NULL;

	if (r->st) {
		struct dmsg_blk_error rep;
		bool data = status == 0 && r->cmd == DMSG_BLK_READ;

		memset(&rep, 0, sizeof(rep));
		rep.keyid = r->keyid;
		rep.resid = status ? r->bytes : 0;
		dmsg_state_set_handler(r->st, NULL, NULL);
		if (r->tb) {
			dmsg_state_send_txbuf(r->st,
					      DMSG_BLK_ERROR | DMSGF_DELETE,
					      xs_errno_to_dmsg(status), &rep,
					      sizeof(rep), r->tb,
					      data ? r->bytes : 0);
			r->tb = NULL; /* sent or freed; r->buf pointed into it */
			r->buf = NULL;
		} else {
			dmsg_state_send(r->st, DMSG_BLK_ERROR | DMSGF_DELETE,
					xs_errno_to_dmsg(status), &rep,
					sizeof(rep), NULL, 0);
		}
	}
	if (status)
		log_debug("xdisk server: %s on %s failed: %s",
			  dmsg_cmd_name(r->cmd), bdev_name(sp->bd),
			  strerror(-status));
	xs_count(&sp->inflight, -1);
	if (held) {
		c->buffered -= r->bytes;
		if (c->paused && c->buffered < XS_BUF_LOW && c->io) {
			c->paused = false;
			dmsg_iocom_pause_rx(c->io, false);
		}
	}
	if (r->tb)
		dmsg_txbuf_free(r->tb);
	else
		free(r->buf);
	free(r);
	xs_span_try_close(sp);
	xs_conn_put(c);
}

static void xs_req_done(struct bdev_io *bio, int status, void *arg)
{
	xs_req_finish(arg, status);
}

static void xs_blk_rw(struct xs_conn *c, struct dmsg_state *st,
		      struct dmsg_msg *m)
{
	struct dmsg_state *parent = dmsg_state_parent(st);
	struct xs_open *o = parent ? dmsg_state_user(parent) : NULL;
	const struct dmsg_blk_rw *rw = &m->body.blk_rw;
	uint32_t cmd = m->hdr.cmd & DMSGF_BASECMDMASK;
	uint32_t maxx = c->srv->opts.max_xfer;
	const struct bdev_geometry *g;
	struct xs_req *r;
	int rc;

	if (!o || dmsg_state_cmd(parent) != DMSG_BLK_OPEN || !o->st) {
		dmsg_state_reply(st, DMSG_ERR_CANTCIRC);
		return;
	}
	if (__atomic_load_n(&o->fenced, __ATOMIC_RELAXED)) {
		/* Superseded by a newer open of the same client: whatever
		 * this link still carries is stale. */
		__atomic_add_fetch(&c->srv->fenced_ios, 1, __ATOMIC_RELAXED);
		dmsg_state_reply(st, DMSG_ERR_CANTCIRC);
		return;
	}
	g = bdev_geometry(o->span->bd);
	if (rw->keyid != o->keyid) {
		dmsg_state_reply(st, DMSG_ERR_PARAM);
		return;
	}
	if (cmd == DMSG_BLK_READ || cmd == DMSG_BLK_WRITE ||
	    cmd == DMSG_BLK_FREEBLKS) {
		if (rw->bytes == 0 || rw->bytes % g->lbsize ||
		    rw->offset % g->lbsize || rw->offset > g->size ||
		    rw->bytes > g->size - rw->offset ||
		    (cmd != DMSG_BLK_FREEBLKS && rw->bytes > maxx)) {
			dmsg_state_reply(st, DMSG_ERR_PARAM);
			return;
		}
	}
	if (cmd == DMSG_BLK_WRITE &&
	    (m->aux_len != rw->bytes || !(o->modes & DMSG_BLKOPEN_WR))) {
		dmsg_state_reply(st, DMSG_ERR_PARAM);
		return;
	}
	if (cmd == DMSG_BLK_FREEBLKS && !g->can_discard) {
		dmsg_state_reply(st, DMSG_ERR_NOSUPP);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		dmsg_state_reply(st, DMSG_ERR_IO);
		return;
	}
	r->conn = c;
	r->span = o->span;
	r->st = st;
	r->cmd = cmd;
	r->bytes = rw->bytes;
	r->keyid = rw->keyid;
	r->bio.loop = c->loop;
	r->bio.cb = xs_req_done;
	r->bio.cb_arg = r;
	switch (cmd) {
	case DMSG_BLK_READ:
	case DMSG_BLK_WRITE:
		if (cmd == DMSG_BLK_READ) {
			/* Read straight into the reply's aux. */
			r->tb = dmsg_txbuf_alloc(sizeof(struct dmsg_blk_error),
						 rw->bytes);
			r->buf = r->tb ? dmsg_txbuf_aux(r->tb) : NULL;
		} else {
			r->buf = malloc(rw->bytes);
		}
		if (!r->buf) {
			if (r->tb)
				dmsg_txbuf_free(r->tb);
			free(r);
			dmsg_state_reply(st, DMSG_ERR_IO);
			return;
		}
		if (cmd == DMSG_BLK_WRITE)
			memcpy(r->buf, m->aux, rw->bytes);
		c->buffered += rw->bytes;
		if (!c->paused && c->buffered > XS_BUF_HIGH) {
			c->paused = true;
			dmsg_iocom_pause_rx(c->io, true);
		}
		r->iov.iov_base = r->buf;
		r->iov.iov_len = rw->bytes;
		r->bio.iov = &r->iov;
		r->bio.iovcnt = 1;
		r->bio.type = cmd == DMSG_BLK_READ ? BDEV_IO_READ
						   : BDEV_IO_WRITE;
		r->bio.offset = rw->offset;
		r->bio.length = rw->bytes;
		break;
	case DMSG_BLK_FLUSH:
		r->bio.type = BDEV_IO_FLUSH;
		break;
	default:
		r->bio.type = BDEV_IO_DISCARD;
		r->bio.offset = rw->offset;
		r->bio.length = rw->bytes;
		break;
	}
	dmsg_state_set_handler(st, xs_req_handler, r);
	xs_conn_hold(c);
	xs_count(&o->span->inflight, 1);
	rc = bdev_submit(o->span->bd, &r->bio);
	if (rc < 0)
		xs_req_finish(r, rc);
}

/* ---- links -------------------------------------------------------------- */

static void xs_conn_handler(struct dmsg_state *st, struct dmsg_msg *m,
			    void *arg)
{
	struct xs_conn *c = arg;

	if (m->hdr.cmd & DMSGF_DELETE) {
		c->conn_st = NULL;
		/* The peer closed its view of the link: end it. */
		if (m->hdr.error != DMSG_ERR_LOSTLINK)
			dmsg_iocom_fail(c->io, -ECONNRESET);
		return;
	}
	if ((m->hdr.cmd & DMSGF_CREATE) && !c->conn_acked) {
		c->conn_acked = true;
		if (m->hdr.error) {
			log_warn("xdisk server: %s refused LNK_CONN (%u)",
				 c->peer, m->hdr.error);
			dmsg_iocom_fail(c->io, -ECONNREFUSED);
			return;
		}
		if (c->peer_conn && c->state == XS_HANDSHAKE)
			xs_conn_ready(c);
	}
}

static void xs_peer_conn_handler(struct dmsg_state *st, struct dmsg_msg *m,
				 void *arg)
{
	/* The peer's LNK_CONN: only its close matters (auto-answered). */
}

static void xs_rcvmsg(struct dmsg_iocom *io, struct dmsg_state *st,
		      struct dmsg_msg *m, void *arg)
{
	struct xs_conn *c = arg;
	uint32_t cmd = m->hdr.cmd & DMSGF_BASECMDMASK;

	if (!st) {
		return; /* one-way notices: nothing for a block server */
	}
	switch (cmd) {
	case DMSG_LNK_CONN:
		if (c->peer_conn) {
			dmsg_state_reply(st, DMSG_ERR_PARAM);
			return;
		}
		c->peer_conn = true;
		c->peer_mask = m->body.conn.peer_mask;
		c->pfs_mask = m->body.conn.pfs_mask;
		dmsg_state_set_handler(st, xs_peer_conn_handler, c);
		dmsg_state_ack(st, 0);
		if (c->conn_acked && c->state == XS_HANDSHAKE)
			xs_conn_ready(c);
		return;
	case DMSG_BLK_OPEN:
		xs_blk_open(c, st, m);
		return;
	case DMSG_BLK_READ:
	case DMSG_BLK_WRITE:
	case DMSG_BLK_FLUSH:
	case DMSG_BLK_FREEBLKS:
		xs_blk_rw(c, st, m);
		return;
	case DMSG_LNK_SPAN:
		/* A server takes no spans: it is not a client or relay. */
	default:
		dmsg_state_reply(st, DMSG_ERR_NOSUPP);
		return;
	}
}

/* Under srv->lock. */
static void xs_conn_unlink_locked(struct xs_conn *c)
{
	struct xs_conn **pp;

	for (pp = &c->srv->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
}

static void xs_conn_put(struct xs_conn *c)
{
	struct xdisk_server *srv = c->srv;

	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL))
		return;
	while (c->spans)
		xs_span_free(c->spans);
	if (c->fd >= 0)
		close(c->fd); /* never started */
	free(c);
	xs_srv_put(srv);
}

/*
 * End link c on its reactor: out of the server's list, out of the
 * admission counts, its iocom destroyed (the owner's close: lost does not
 * run), and the link's reference dropped.  Running requests keep c until
 * they finish; their replies are dropped.
 */
static void xs_conn_end(struct xs_conn *c)
{
	struct xdisk_server *srv = c->srv;
	struct dmsg_iocom *io;
	bool was_lost;

	pthread_mutex_lock(&srv->lock);
	io = c->io;
	c->io = NULL;
	was_lost = c->state == XS_LOST;
	c->state = XS_LOST;
	xs_conn_unlink_locked(c);
	pthread_mutex_unlock(&srv->lock);
	if (was_lost)
		return;
	sk_admit_leave(&srv->admit, &c->peer_ss);
	if (io)
		dmsg_iocom_destroy(io);
	xs_conn_put(c);
}

static void xs_lost(struct dmsg_iocom *io, int err, void *arg)
{
	struct xs_conn *c = arg;

	log_info("xdisk server: link from %s closed", c->peer);
	/* c->io is io: xs_conn_end destroys it (allowed inside lost). */
	xs_conn_end(c);
}

static const struct dmsg_iocom_ops xs_iocom_ops = {
	.rcvmsg = xs_rcvmsg,
	.lost = xs_lost,
};

static void xs_peer_format(const struct sockaddr_storage *ss, char *buf,
			   size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "local");
	}
}

/* Start link c on its reactor: the iocom and our LNK_CONN.  0 or -errno
 * (c ended).  Drops the reference the hand-over held. */
static int xs_conn_run(struct xs_conn *c)
{
	struct xdisk_server *srv = c->srv;
	struct dmsg_iocom_opts io_opts;
	struct dmsg_lnk_conn body;
	struct dmsg_iocom *io;
	char name[96];
	int fd, rc = 0;

	if (c->state == XS_LOST || c->evicting ||
	    __atomic_load_n(&srv->destroying, __ATOMIC_ACQUIRE)) {
		xs_conn_end(c);
		goto out;
	}
	/* A link fault rule may put a relay between us and the peer. */
	fd = sk_link_fault_wrap(c->fd, SK_LINK_XDISK, NULL, 0);
	c->fd = -1;
	snprintf(name, sizeof(name), "xs<-%s", c->peer);
	memset(&io_opts, 0, sizeof(io_opts));
	io_opts.ping_ms = srv->opts.ping_ms;
	io_opts.timeout_ms = srv->opts.timeout_ms;
	io_opts.max_states = XS_MAX_STATES;
	io_opts.name = name;
	io = dmsg_iocom_create(c->loop, fd, &xs_iocom_ops, c, &io_opts);
	if (!io) {
		rc = -errno;
		close(fd);
		xs_conn_end(c);
		goto out;
	}
	pthread_mutex_lock(&srv->lock);
	c->io = io;
	pthread_mutex_unlock(&srv->lock);

	memset(&body, 0, sizeof(body));
	body.peer_type = DMSG_PEER_BLOCK;
	body.pfs_type = DMSG_PFSTYPE_SERVER;
	body.proto_version = 1;
	/* A block server wants no spans from its clients. */
	body.peer_mask = 0;
	body.pfs_mask = 0;
	snprintf(body.cl_label, sizeof(body.cl_label), "%s", srv->host);
	c->conn_st = dmsg_state_open(io, NULL, DMSG_LNK_CONN, &body,
				     sizeof(body), NULL, 0, xs_conn_handler, c);
	if (!c->conn_st)
		dmsg_iocom_fail(io, -errno);
	else
		log_info("xdisk server: link from %s on reactor %u", c->peer,
			 c->reactor);
out:
	xs_conn_put(c);
	return rc;
}

static void xs_conn_run_posted(void *arg)
{
	xs_conn_run(arg);
}

/* Serve fd, already counted in srv->admit for the address in ss, on the
 * next reactor (round robin). */
static int xs_conn_add(struct xdisk_server *srv, int fd,
		       const struct sockaddr_storage *ss)
{
	struct xs_conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c) {
		close(fd);
		sk_admit_leave(&srv->admit, ss);
		return -ENOMEM;
	}
	c->srv = srv;
	c->refs = 2; /* the link, and the hand-over to its reactor */
	c->fd = fd;
	c->peer_ss = *ss;
	c->accepted_ms = ev_now_ms();
	snprintf(c->peer, sizeof(c->peer), "fd%d", fd);
	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6) {
		xs_peer_format(ss, c->peer, sizeof(c->peer));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->reactor = srv->next_loop++ % srv->nloops;
	c->loop = srv->loops[c->reactor];
	__atomic_add_fetch(&srv->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&srv->lock);
	c->next = srv->conns;
	srv->conns = c;
	pthread_mutex_unlock(&srv->lock);
	if (c->loop != srv->loop &&
	    ev_loop_post(c->loop, xs_conn_run_posted, c) == 0)
		return 0;
	/* Ours (or that reactor cannot be reached): start it here. */
	if (c->loop != srv->loop) {
		c->loop = srv->loop;
		c->reactor = 0;
		for (unsigned i = 0; i < srv->nloops; i++)
			if (srv->loops[i] == srv->loop)
				c->reactor = i;
	}
	return xs_conn_run(c);
}

int xdisk_server_add_conn(struct xdisk_server *srv, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	/* Handed over by the owner: counted, never refused. */
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		ss.ss_family = AF_UNSPEC;
	sk_admit_force(&srv->admit, &ss);
	return xs_conn_add(srv, fd, &ss);
}

static void xs_conn_evict(void *arg)
{
	struct xs_conn *c = arg;

	if (c->io && c->state != XS_LOST)
		dmsg_iocom_fail(c->io, -ECONNRESET);
	xs_conn_put(c);
}

/*
 * At the link cap: close the oldest link still in its LNK_CONN handshake,
 * so that links that finished it are never starved by ones that connect
 * and say nothing (the iocom's own timeout ends those too, later).  True
 * when one was closed and the newcomer may come in.  The close itself runs
 * on the victim's reactor.
 */
static bool xs_evict_handshake(struct xdisk_server *srv, const char *peer)
{
	struct xs_conn *victim = NULL;

	pthread_mutex_lock(&srv->lock);
	for (struct xs_conn *c = srv->conns; c; c = c->next)
		if (c->state == XS_HANDSHAKE && !c->evicting &&
		    (!victim || c->accepted_ms < victim->accepted_ms))
			victim = c;
	if (victim) {
		victim->evicting = true;
		xs_conn_hold(victim);
	}
	pthread_mutex_unlock(&srv->lock);
	if (!victim)
		return false;
	sk_admit_note(&srv->admit, SK_ADMIT_EVICTED,
		      "at the cap of %u links: closing %s (in handshake %llu "
		      "ms) for %s", srv->opts.max_conns, victim->peer,
		      (unsigned long long)(ev_now_ms() - victim->accepted_ms),
		      peer);
	if (ev_loop_post(victim->loop, xs_conn_evict, victim) < 0)
		xs_conn_put(victim); /* its handshake timeout ends it */
	return true;
}
static void xs_accept(struct ev_io *w, int fd, uint32_t events, void *arg)
{
	struct xdisk_server *srv = arg;

	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl,
				  SOCK_NONBLOCK | SOCK_CLOEXEC);
		char peer[64];
		int rc;

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("xdisk server: accept: %s",
					 strerror(errno));
			return;
		}
		xs_peer_format(&ss, peer, sizeof(peer));
		rc = sk_admit_try(&srv->admit, &ss, peer);
		if (rc == -EMFILE) {
			if (xs_evict_handshake(srv, peer)) {
				sk_admit_force(&srv->admit, &ss);
				rc = 0;
			} else {
				sk_admit_refuse_cap(&srv->admit, peer);
			}
		}
		if (rc < 0) {
			close(cfd);
			continue;
		}
		xs_conn_add(srv, cfd, &ss);
	}
}

/* ---- registry ----------------------------------------------------------- */

struct xs_event {
	struct xdisk_server *srv;	/* held */
	struct xs_conn *conn;		/* held; NULL for the server's copy */
	enum bdev_registry_event ev;
	struct bdev *bd;		/* held */
};

/* On the reactor of e->conn: advertise or withdraw e->bd on that link. */
static void xs_conn_event(void *arg)
{
	struct xs_event *e = arg;
	struct xs_conn *c = e->conn;

	if (!__atomic_load_n(&e->srv->destroying, __ATOMIC_ACQUIRE) &&
	    c->state == XS_READY && c->io) {
		if (e->ev == BDEV_REGISTRY_ADDED) {
			if (xs_conn_wants(c))
				xs_span_add(c, e->bd);
		} else {
			for (struct xs_span *sp = c->spans, *nx; sp; sp = nx) {
				nx = sp->next;
				if (sp->bd == e->bd && !sp->withdrawing) {
					sp->withdrawing = true;
					xs_span_try_close(sp);
				}
			}
		}
	}
	bdev_release(e->bd);
	xs_conn_put(c);
	free(e);
}

/* On the server's loop: one copy of the event to every link's reactor. */
static void xs_registry_apply(void *arg)
{
	struct xs_event *e = arg;
	struct xdisk_server *srv = e->srv;

	pthread_mutex_lock(&srv->lock);
	for (struct xs_conn *c = srv->conns;
	     c && !__atomic_load_n(&srv->destroying, __ATOMIC_ACQUIRE);
	     c = c->next) {
		struct xs_event *ce;

		if (c->state == XS_LOST || !(ce = malloc(sizeof(*ce))))
			continue;
		*ce = *e;
		ce->conn = c;
		xs_conn_hold(c);
		bdev_hold(e->bd);
		if (ev_loop_post(c->loop, xs_conn_event, ce) < 0) {
			bdev_release(e->bd);
			xs_conn_put(c); /* not the last: the link holds c */
			free(ce);
		}
	}
	pthread_mutex_unlock(&srv->lock);
	bdev_release(e->bd);
	free(e);
	xs_srv_put(srv);
}

static void xs_registry_cb(enum bdev_registry_event ev, struct bdev *bd,
			   void *arg)
{
	struct xdisk_server *srv = arg;
	struct xs_event *e = malloc(sizeof(*e));

	if (!e)
		return;
	e->srv = srv;
	e->conn = NULL;
	e->ev = ev;
	e->bd = bdev_hold(bd);
	__atomic_add_fetch(&srv->refs, 1, __ATOMIC_ACQ_REL);
	if (ev_loop_post(srv->loop, xs_registry_apply, e) < 0) {
		bdev_release(e->bd);
		free(e);
		xs_srv_put(srv);
	}
}

/* ---- public ------------------------------------------------------------- */

struct xdisk_server *xdisk_server_create(struct ev_loop *loop,
					 const struct xdisk_server_opts *o)
{
	struct xdisk_server *srv = calloc(1, sizeof(*srv));

	if (!srv)
		return NULL;
	srv->loop = loop;
	if (o)
		srv->opts = *o;
	for (unsigned i = 0; i < srv->opts.nloops && i < XS_MAX_LOOPS; i++)
		if (srv->opts.loops[i])
			srv->loops[srv->nloops++] = srv->opts.loops[i];
	if (!srv->nloops)
		srv->loops[srv->nloops++] = loop;
	srv->opts.loops = NULL;
	if (!srv->opts.max_xfer || srv->opts.max_xfer > DMSG_AUX_MAX)
		srv->opts.max_xfer = DMSG_AUX_MAX;
	snprintf(srv->host, sizeof(srv->host), "%s",
		 o && o->host ? o->host : "scsikit");
	srv->opts.host = NULL;
	srv->lfd = -1;
	srv->port = -1;
	srv->refs = 1;
	pthread_mutex_init(&srv->lock, NULL);
	if (!srv->opts.max_conns)
		srv->opts.max_conns = 256;
	if (!srv->opts.max_conns_per_peer)
		srv->opts.max_conns_per_peer = 32;
	sk_admit_init(&srv->admit, "xdisk", srv->opts.max_conns,
		      srv->opts.max_conns_per_peer);
	srv->listen_handle = bdev_registry_listen(xs_registry_cb, srv);
	return srv;
}
int xdisk_server_listen(struct xdisk_server *srv, const char *addr,
			char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	if (xd_addr_parse(addr, &ss, &sl, err, errlen) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr,
			 strerror(errno));
		close(fd);
		return -1;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			srv->port =
				ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	srv->lwatch = ev_io_add(srv->loop, fd, EV_READ, xs_accept, srv);
	if (!srv->lwatch) {
		snprintf(err, errlen, "event loop: %s", strerror(errno));
		close(fd);
		return -1;
	}
	srv->lfd = fd;
	log_info("xdisk server: listening on %s", addr);
	return 0;
}

int xdisk_server_port(const struct xdisk_server *srv)
{
	return srv->port;
}

int xdisk_server_set_serial(struct xdisk_server *srv, const char *disk,
			    const char *serial)
{
	struct xs_serial *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	snprintf(s->disk, sizeof(s->disk), "%s", disk);
	snprintf(s->serial, sizeof(s->serial), "%s", serial);
	s->next = srv->serials;
	srv->serials = s;
	return 0;
}

/* Run fn(arg) on loop and wait for it (loop is another running reactor). */
struct xs_call {
	void (*fn)(void *);
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void xs_call_run(void *p)
{
	struct xs_call *k = p;

	k->fn(k->arg);
	pthread_mutex_lock(&k->mu);
	k->done = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

static void xs_call_on(struct ev_loop *loop, void (*fn)(void *), void *arg)
{
	struct xs_call k = { fn, arg, PTHREAD_MUTEX_INITIALIZER,
			     PTHREAD_COND_INITIALIZER, false };

	if (ev_loop_in_thread(loop) || ev_loop_post(loop, xs_call_run, &k) < 0) {
		fn(arg);
		return;
	}
	pthread_mutex_lock(&k.mu);
	while (!k.done)
		pthread_cond_wait(&k.cv, &k.mu);
	pthread_mutex_unlock(&k.mu);
}

static void xs_conn_end_posted(void *arg)
{
	struct xs_conn *c = arg;

	xs_conn_end(c);
	xs_conn_put(c);
}

void xdisk_server_destroy(struct xdisk_server *srv)
{
	__atomic_store_n(&srv->destroying, true, __ATOMIC_RELEASE);
	if (srv->listen_handle >= 0)
		bdev_registry_unlisten(srv->listen_handle);
	if (srv->lwatch)
		ev_io_del(srv->lwatch);
	if (srv->lfd >= 0)
		close(srv->lfd);
	/* Every link ends on its own reactor, and we wait for it: a link
	 * must not touch the admission counts or the iocom of a server that
	 * is gone.  Running requests keep their link (and the server's
	 * memory) until they finish; their replies are dropped. */
	for (;;) {
		struct xs_conn *c;

		pthread_mutex_lock(&srv->lock);
		c = srv->conns;
		if (c)
			xs_conn_hold(c);
		pthread_mutex_unlock(&srv->lock);
		if (!c)
			break;
		xs_call_on(c->loop, xs_conn_end_posted, c);
	}
	xs_srv_put(srv);
}
