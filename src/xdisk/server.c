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
 * Everything runs on the server's loop; registry events are posted to it.
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

#include "util/json.h"
#include "util/admit.h"
#include "xdisk/xdisk_int.h"

#define XS_MAX_STATES 512 /* open transactions a client may hold */
/* Request data held for one link: reading from it pauses above HIGH and
 * resumes below LOW, so a client cannot make us hold more than about
 * HIGH + one message, whatever it sends. */
#define XS_BUF_HIGH (64u << 20)
#define XS_BUF_LOW (32u << 20)

struct xs_serial {
	struct xs_serial *next;
	char disk[64];
	char serial[DMSG_LABEL_LEN];
};

/* Fences remembered: one per (disk, client instance) that opened with a
 * fence_id; beyond this the least recently renewed is forgotten. */
#define XS_MAX_FENCES 1024

struct xs_span;

struct xs_open {
	struct xs_open *next;
	struct xs_span *span;
	struct dmsg_state *st;
	uint64_t keyid;
	uint32_t modes;
	uint64_t fence_id, fence_gen;
	bool fenced;		/* a newer open of that client superseded it */
};

/* The newest generation a client instance opened a disk with. */
struct xs_fence {
	char disk[64];
	uint64_t id;
	uint64_t gen;
	uint64_t stamp;		/* for forgetting the oldest */
};

/* One LNK_SPAN we advertise on one link. */
struct xs_span {
	struct xs_span *next;
	struct xs_conn *conn;
	struct bdev *bd;	/* held */
	struct dmsg_state *st;	/* NULL once closed or lost */
	struct xs_open *opens;
	unsigned inflight;	/* requests running under its opens */
	bool withdrawing;
};

enum xs_conn_state {
	XS_HANDSHAKE = 0, /* LNK_CONN exchange not complete */
	XS_READY = 1,	  /* spans advertised */
	XS_LOST = 2,	  /* iocom gone; waiting for running I/O */
};

struct xs_conn {
	struct xs_conn *next;
	struct xdisk_server *srv;
	struct dmsg_iocom *io;
	struct dmsg_state *conn_st;
	enum xs_conn_state state;
	bool conn_acked;	/* our LNK_CONN answered */
	bool peer_conn;		/* the peer's LNK_CONN received */
	uint64_t peer_mask, pfs_mask;
	struct xs_span *spans;
	unsigned refs;		/* the link + each running request */
	size_t buffered;	/* bytes of request buffers held */
	bool paused;
	bool evicting;		/* closed for a newcomer; lost comes next */
	uint64_t accepted_ms;
	struct sockaddr_storage peer_ss; /* for the per-address count */
	char peer[64];
};

/* One BLK command running on the backend. */
struct xs_req {
	struct xs_conn *conn;	/* held */
	struct xs_span *span;
	struct dmsg_state *st;	/* NULL if the link went away */
	struct bdev_io bio;
	struct iovec iov;
	uint32_t cmd;
	uint32_t bytes;
	uint64_t keyid;
	uint8_t *buf;		/* WRITE: a copy of the data; READ: tb's aux */
	struct dmsg_txbuf *tb;	/* READ: the reply, read into in place */
};

struct xdisk_server {
	struct ev_loop *loop;
	struct xdisk_server_opts opts;
	char host[64];
	int lfd;
	int port;
	struct ev_io *lwatch;
	struct xs_conn *conns;
	struct xs_serial *serials;
	int listen_handle;
	uint64_t next_keyid;
	struct xs_fence *fences;	/* XS_MAX_FENCES, allocated on use */
	unsigned nfences;
	uint64_t fence_stamp;
	uint64_t fenced_opens, fenced_ios;
	bool destroying;
	int pending_events;	/* posted registry events not yet run (atomic) */
	struct sk_admit admit;	/* the link cap and per-address counts */
};

static void xs_conn_put(struct xs_conn *c);
static void xs_span_try_close(struct xs_span *sp);

/* ---- spans -------------------------------------------------------------- */

static const char *xs_serial_of(struct xdisk_server *srv, const char *disk)
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
	sp->next = c->spans;
	c->spans = sp;
	log_debug("xdisk server: span %s (label %s) to %s", body.cl_label,
		  body.fs_label, c->peer);
}

static void xs_span_free(struct xs_span *sp)
{
	struct xs_conn *c = sp->conn;
	struct xs_span **pp;

	for (pp = &c->spans; *pp; pp = &(*pp)->next) {
		if (*pp == sp) {
			*pp = sp->next;
			break;
		}
	}
	while (sp->opens) {
		struct xs_open *o = sp->opens;

		sp->opens = o->next;
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
	for (pp = &sp->opens; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	dmsg_state_set_handler(st, NULL, NULL);
	free(o);
}

/* Fencing (docs/dmsg.md): a BLK_OPEN carrying a client's fence_id and a
 * generation older than (or as old as) the newest that client opened the
 * disk with is refused; a newer one supersedes the client's older opens of
 * the disk on every link, whose I/O is refused from then on.  So writes a
 * cut-off link still delivers after the client reopened are never applied.
 * false: refuse the open. */
static bool xs_fence_check(struct xdisk_server *srv, struct bdev *bd,
			   uint64_t id, uint64_t gen)
{
	const char *disk = bdev_name(bd);
	struct xs_fence *f = NULL;

	if (!id)
		return true; /* a client that does not fence */
	if (!srv->fences) {
		srv->fences = calloc(XS_MAX_FENCES, sizeof(*srv->fences));
		if (!srv->fences)
			return false;
	}
	for (unsigned i = 0; i < srv->nfences && !f; i++)
		if (srv->fences[i].id == id &&
		    strcmp(srv->fences[i].disk, disk) == 0)
			f = &srv->fences[i];
	if (f && gen <= f->gen) {
		srv->fenced_opens++;
		return false;
	}
	if (!f && srv->nfences < XS_MAX_FENCES) {
		f = &srv->fences[srv->nfences++];
	} else if (!f) {
		f = &srv->fences[0];
		for (unsigned i = 1; i < srv->nfences; i++)
			if (srv->fences[i].stamp < f->stamp)
				f = &srv->fences[i];
	}
	snprintf(f->disk, sizeof(f->disk), "%s", disk);
	f->id = id;
	f->gen = gen;
	f->stamp = ++srv->fence_stamp;
	for (struct xs_conn *c = srv->conns; c; c = c->next)
		for (struct xs_span *sp = c->spans; sp; sp = sp->next) {
			if (strcmp(bdev_name(sp->bd), disk) != 0)
				continue;
			for (struct xs_open *o = sp->opens; o; o = o->next)
				if (o->fence_id == id && o->fence_gen < gen)
					o->fenced = true;
		}
	return true;
}

static void xs_blk_open(struct xs_conn *c, struct dmsg_state *st,
			struct dmsg_msg *m)
{
	struct dmsg_state *parent = dmsg_state_parent(st);
	struct xs_span *sp = parent ? dmsg_state_user(parent) : NULL;
	struct dmsg_blk_error rep;
	struct xs_open *o;

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
	if (!xs_fence_check(c->srv, sp->bd, m->body.blk_open.fence_id,
			    m->body.blk_open.fence_gen)) {
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
	o->keyid = ++c->srv->next_keyid;
	o->next = sp->opens;
	sp->opens = o;
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
	sp->inflight--;
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
	if (o->fenced) {
		/* Superseded by a newer open of the same client: whatever
		 * this link still carries is stale. */
		c->srv->fenced_ios++;
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
	r->bio.loop = c->srv->loop;
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
	c->refs++;
	o->span->inflight++;
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

static void xs_conn_unlink(struct xs_conn *c)
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
	if (--c->refs)
		return;
	while (c->spans)
		xs_span_free(c->spans);
	free(c);
}

static void xs_lost(struct dmsg_iocom *io, int err, void *arg)
{
	struct xs_conn *c = arg;

	log_info("xdisk server: link from %s closed", c->peer);
	c->state = XS_LOST;
	xs_conn_unlink(c);
	sk_admit_leave(&c->srv->admit, &c->peer_ss);
	c->io = NULL;
	dmsg_iocom_destroy(io);
	xs_conn_put(c);
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

/* Serve fd, already counted in srv->admit for the address in ss. */
static int xs_conn_add(struct xdisk_server *srv, int fd,
		       const struct sockaddr_storage *ss)
{
	struct dmsg_iocom_opts io_opts;
	struct dmsg_lnk_conn body;
	struct xs_conn *c = calloc(1, sizeof(*c));
	char name[96];
	int one = 1;

	if (!c) {
		close(fd);
		sk_admit_leave(&srv->admit, ss);
		return -ENOMEM;
	}
	c->srv = srv;
	c->refs = 1;
	c->peer_ss = *ss;
	c->accepted_ms = ev_now_ms();
	snprintf(c->peer, sizeof(c->peer), "fd%d", fd);
	if (ss->ss_family == AF_INET || ss->ss_family == AF_INET6) {
		xs_peer_format(ss, c->peer, sizeof(c->peer));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	/* A link fault rule may put a relay between us and the peer. */
	fd = sk_link_fault_wrap(fd, SK_LINK_XDISK, NULL, 0);
	snprintf(name, sizeof(name), "xs<-%s", c->peer);
	memset(&io_opts, 0, sizeof(io_opts));
	io_opts.ping_ms = srv->opts.ping_ms;
	io_opts.timeout_ms = srv->opts.timeout_ms;
	io_opts.max_states = XS_MAX_STATES;
	io_opts.name = name;
	c->io = dmsg_iocom_create(srv->loop, fd, &xs_iocom_ops, c, &io_opts);
	if (!c->io) {
		int e = errno;

		close(fd);
		free(c);
		sk_admit_leave(&srv->admit, ss);
		return -e;
	}
	c->next = srv->conns;
	srv->conns = c;

	memset(&body, 0, sizeof(body));
	body.peer_type = DMSG_PEER_BLOCK;
	body.pfs_type = DMSG_PFSTYPE_SERVER;
	body.proto_version = 1;
	/* A block server wants no spans from its clients. */
	body.peer_mask = 0;
	body.pfs_mask = 0;
	snprintf(body.cl_label, sizeof(body.cl_label), "%s", srv->host);
	c->conn_st = dmsg_state_open(c->io, NULL, DMSG_LNK_CONN, &body,
				     sizeof(body), NULL, 0, xs_conn_handler, c);
	if (!c->conn_st) {
		dmsg_iocom_fail(c->io, -errno);
		return 0;
	}
	log_info("xdisk server: link from %s", c->peer);
	return 0;
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

/*
 * At the link cap: close the oldest link still in its LNK_CONN handshake,
 * so that links that finished it are never starved by ones that connect
 * and say nothing (the iocom's own timeout ends those too, later).  True
 * when one was closed and the newcomer may come in.
 */
static bool xs_evict_handshake(struct xdisk_server *srv, const char *peer)
{
	struct xs_conn *victim = NULL;

	for (struct xs_conn *c = srv->conns; c; c = c->next)
		if (c->state == XS_HANDSHAKE && !c->evicting && c->io &&
		    (!victim || c->accepted_ms < victim->accepted_ms))
			victim = c;
	if (!victim)
		return false;
	victim->evicting = true;
	sk_admit_note(&srv->admit, SK_ADMIT_EVICTED,
		      "at the cap of %u links: closing %s (in handshake %llu "
		      "ms) for %s", srv->opts.max_conns, victim->peer,
		      (unsigned long long)(ev_now_ms() - victim->accepted_ms),
		      peer);
	dmsg_iocom_fail(victim->io, -ECONNRESET);
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
	struct xdisk_server *srv;
	enum bdev_registry_event ev;
	struct bdev *bd;
};

static void xs_registry_apply(void *arg)
{
	struct xs_event *e = arg;
	struct xdisk_server *srv = e->srv;

	if (!srv->destroying) {
		for (struct xs_conn *c = srv->conns; c; c = c->next) {
			if (c->state != XS_READY)
				continue;
			if (e->ev == BDEV_REGISTRY_ADDED) {
				if (xs_conn_wants(c))
					xs_span_add(c, e->bd);
				continue;
			}
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
	free(e);
	/* The last event posted before destroy frees the server. */
	if (__atomic_sub_fetch(&srv->pending_events, 1, __ATOMIC_ACQ_REL) == 0 &&
	    srv->destroying)
		free(srv);
}

static void xs_registry_cb(enum bdev_registry_event ev, struct bdev *bd,
			   void *arg)
{
	struct xdisk_server *srv = arg;
	struct xs_event *e = malloc(sizeof(*e));

	if (!e)
		return;
	e->srv = srv;
	e->ev = ev;
	e->bd = bdev_hold(bd);
	__atomic_add_fetch(&srv->pending_events, 1, __ATOMIC_ACQ_REL);
	if (ev_loop_post(srv->loop, xs_registry_apply, e) < 0) {
		__atomic_sub_fetch(&srv->pending_events, 1, __ATOMIC_ACQ_REL);
		bdev_release(e->bd);
		free(e);
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
	if (!srv->opts.max_xfer || srv->opts.max_xfer > DMSG_AUX_MAX)
		srv->opts.max_xfer = DMSG_AUX_MAX;
	snprintf(srv->host, sizeof(srv->host), "%s",
		 o && o->host ? o->host : "scsikit");
	srv->opts.host = NULL;
	srv->lfd = -1;
	srv->port = -1;
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

void xdisk_server_list(struct xdisk_server *srv, FILE *out)
{
	if (srv->port >= 0)
		fprintf(out, "server port %d\n", srv->port);
	if (srv->nfences)
		fprintf(out, "fences %u stale-opens %llu fenced-ios %llu\n",
			srv->nfences, (unsigned long long)srv->fenced_opens,
			(unsigned long long)srv->fenced_ios);
	for (struct xs_conn *c = srv->conns; c; c = c->next) {
		struct dmsg_iocom_stats st;

		dmsg_iocom_get_stats(c->io, &st);
		fprintf(out, "link %s state %s msgs-in %llu msgs-out %llu "
			"proto-errors %llu\n", c->peer,
			c->state == XS_READY ? "ready" : "handshake",
			(unsigned long long)st.msgs_in,
			(unsigned long long)st.msgs_out,
			(unsigned long long)st.proto_errors);
		for (struct xs_span *sp = c->spans; sp; sp = sp->next) {
			unsigned nopen = 0;

			for (struct xs_open *o = sp->opens; o; o = o->next)
				nopen++;
			fprintf(out, "  span %s label %s inflight %u opens %u%s\n",
				bdev_name(sp->bd),
				xs_serial_of(srv, bdev_name(sp->bd)),
				sp->inflight, nopen,
				sp->withdrawing ? " withdrawing" : "");
		}
	}
}

void xdisk_server_list_json(struct xdisk_server *srv, FILE *out)
{
	fprintf(out, "{\"port\": %d, \"links\": [", srv->port);
	for (struct xs_conn *c = srv->conns; c; c = c->next) {
		struct dmsg_iocom_stats st;

		dmsg_iocom_get_stats(c->io, &st);
		fputs(c == srv->conns ? "{\"peer\": " : ", {\"peer\": ", out);
		sk_json_str(out, c->peer);
		fprintf(out, ", \"state\": \"%s\", \"msgs_in\": %llu, "
			     "\"msgs_out\": %llu, \"proto_errors\": %llu, "
			     "\"spans\": [",
			c->state == XS_READY ? "ready" : "handshake",
			(unsigned long long)st.msgs_in,
			(unsigned long long)st.msgs_out,
			(unsigned long long)st.proto_errors);
		for (struct xs_span *sp = c->spans; sp; sp = sp->next) {
			fputs(sp == c->spans ? "{\"disk\": " : ", {\"disk\": ",
			      out);
			sk_json_str(out, bdev_name(sp->bd));
			fputs(", \"label\": ", out);
			sk_json_str(out, xs_serial_of(srv, bdev_name(sp->bd)));
			fprintf(out, ", \"inflight\": %u, \"withdrawing\": %s}",
				sp->inflight, sp->withdrawing ? "true" : "false");
		}
		fputs("]}", out);
	}
	fputs("]}", out);
}

void xdisk_server_destroy(struct xdisk_server *srv)
{
	srv->destroying = true;
	if (srv->listen_handle >= 0)
		bdev_registry_unlisten(srv->listen_handle);
	if (srv->lwatch)
		ev_io_del(srv->lwatch);
	if (srv->lfd >= 0)
		close(srv->lfd);
	while (srv->conns) {
		struct xs_conn *c = srv->conns;
		struct dmsg_iocom *io = c->io;

		srv->conns = c->next;
		c->io = NULL;
		c->state = XS_LOST;
		/* Ends every transaction (handlers forget their states);
		 * running requests keep c alive and drop their replies. */
		dmsg_iocom_destroy(io);
		xs_conn_put(c);
	}
	while (srv->serials) {
		struct xs_serial *s = srv->serials;

		srv->serials = s->next;
		free(s);
	}
	free(srv->fences);
	srv->fences = NULL;
	sk_admit_fini(&srv->admit);
	/* Registry events already posted still point at srv: the last of
	 * them frees it (no new ones come after unlisten). */
	if (__atomic_load_n(&srv->pending_events, __ATOMIC_ACQUIRE) == 0)
		free(srv);
}
