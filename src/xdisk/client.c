/*
 * The xdisk client: xa disks made of the spans that servers advertise.
 *
 * Links (struct xa_link, client_link.c) connect to the servers of an attach
 * and reconnect after a loss with a doubling back-off.  Every LNK_SPAN
 * accepted becomes a path (struct xa_path) of the xa disk with the span's
 * fs_label, created on the label's first span.  A disk talks through one path at a time, under
 * one BLK_OPEN; its 64 tags each carry one BLK command, and I/O beyond that
 * waits in a queue.
 *
 * Disk open states (d->ostate):
 *
 *   CLOSED   no BLK_OPEN; the next kick issues one on the best live path
 *   OPENING  BLK_OPEN sent, its answer awaited (only one at a time)
 *   OPEN     answered with a keyid; queued I/O starts on free tags
 *
 * When a link or span goes, the iocom ends the BLK commands first (their
 * I/O goes back to the head of the queue, or fails with -ENXIO when the
 * attach is failfast), then the BLK_OPEN (CLOSED), then the span (path
 * removed); a deferred kick then reopens on another path.  A server's own
 * I/O error fails that I/O with -EIO.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/dmsg.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/xdisk.h>

#include "xdisk/client_int.h"
#include "xdisk/xdisk_int.h"

static void xa_kick(struct xa_disk *d);

/* ---- completion of block I/O -------------------------------------------- */

static void xa_complete(struct xa_disk *d, struct bdev_io *bio, int status,
			bool in_submit)
{
	if (status && status != -ENOTSUP)
		d->io_errors++;
	if (bio->loop != d->loop)
		bdev_io_complete_remote(bio, status);
	else if (in_submit)
		bdev_io_complete_deferred(bio, status);
	else
		bdev_io_complete(bio, status);
}

static void xa_queue_push(struct xa_disk *d, struct bdev_io *bio, bool head)
{
	bio->next = NULL;
	if (head) {
		bio->next = d->q_head;
		d->q_head = bio;
		if (!d->q_tail)
			d->q_tail = bio;
	} else {
		if (d->q_tail)
			d->q_tail->next = bio;
		else
			d->q_head = bio;
		d->q_tail = bio;
	}
	d->qlen++;
}

static struct bdev_io *xa_queue_pop(struct xa_disk *d)
{
	struct bdev_io *bio = d->q_head;

	if (!bio)
		return NULL;
	d->q_head = bio->next;
	if (!d->q_head)
		d->q_tail = NULL;
	bio->next = NULL;
	d->qlen--;
	return bio;
}

static void xa_fail_queue(struct xa_disk *d, int status)
{
	struct bdev_io *bio;

	while ((bio = xa_queue_pop(d)) != NULL)
		xa_complete(d, bio, status, false);
}

/* ---- tags and BLK commands ---------------------------------------------- */

static struct xa_tag *xa_tag_get(struct xa_disk *d)
{
	struct xa_tag *t = d->freetags;

	if (t) {
		d->freetags = t->next_free;
		t->next_free = NULL;
		d->busytags++;
	}
	return t;
}

static void xa_tag_put(struct xa_disk *d, struct xa_tag *t)
{
	t->bio = NULL;
	t->st = NULL;
	t->next_free = d->freetags;
	d->freetags = t;
	d->busytags--;
}

static void xa_copy_read(struct bdev_io *bio, const uint8_t *data,
			 size_t len)
{
	size_t done = 0;

	/* Short data is zero-extended: a server may send fewer bytes (for
	 * an all-zero tail, say) than were asked for. */
	for (int i = 0; i < bio->iovcnt; i++) {
		size_t n = bio->iov[i].iov_len, c = 0;

		if (done < len)
			c = len - done < n ? len - done : n;
		if (c)
			memcpy(bio->iov[i].iov_base, data + done, c);
		if (c < n)
			memset((uint8_t *)bio->iov[i].iov_base + c, 0, n - c);
		done += n;
	}
}

static void xa_open_close(struct xa_disk *d);

/* The errno of a DMSG error the server gave for an I/O or an open. */
static int xa_dmsg_errno(uint32_t err)
{
	switch (err) {
	case 0:
		return 0;
	case DMSG_ERR_NOSUPP:
		return -ENOTSUP;
	case DMSG_ERR_PARAM:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* The residual of an answer, as the reference computes it: BLK_ERROR
 * carries one (at most the length asked for); a bare LNK_ERROR means all
 * of it when it carries an error, none otherwise. */
static uint64_t xa_resid(const struct dmsg_msg *m, const struct bdev_io *bio)
{
	uint64_t len = bio->type == BDEV_IO_FLUSH ? 0 : bio->length;
	uint64_t resid;

	if ((m->hdr.cmd & DMSGF_BASECMDMASK) == DMSG_BLK_ERROR &&
	    m->body_len >= sizeof(struct dmsg_blk_error))
		resid = m->body.blk_error.resid;
	else
		resid = m->hdr.error ? len : 0;
	return resid > len ? len : resid;
}

static void xa_tag_handler(struct dmsg_state *st, struct dmsg_msg *m,
			   void *arg)
{
	struct xa_tag *t = arg;
	struct xa_disk *d = t->d;
	struct bdev_io *bio = t->bio;
	uint32_t err = m->hdr.error;
	uint64_t resid;

	if (!(m->hdr.cmd & DMSGF_DELETE))
		return; /* no streamed replies in this protocol version */
	xa_tag_put(d, t);
	if (!bio)
		return;
	if (err == DMSG_ERR_LOSTLINK || err == DMSG_ERR_CANTCIRC) {
		/* A path problem, not the disk's: run it again elsewhere. */
		if (err == DMSG_ERR_CANTCIRC && d->open_st &&
		    dmsg_state_parent(st) == d->open_st)
			xa_open_close(d);
		if (!d->cl || d->failfast) {
			xa_complete(d, bio, -ENXIO, false);
		} else {
			d->requeues++;
			xa_queue_push(d, bio, true);
		}
		xa_kick(d);
		return;
	}
	resid = xa_resid(m, bio);
	d->resid_bytes += resid;
	if (err == DMSG_ERR_PARAM && d->open_ro &&
	    (bio->type == BDEV_IO_WRITE || bio->type == BDEV_IO_DISCARD)) {
		xa_complete(d, bio, -EROFS, false);
	} else if (err) {
		xa_complete(d, bio, err == DMSG_ERR_NOSUPP ? -ENOTSUP : -EIO,
			    false);
	} else if (resid) {
		/* The server did not move all of it.  A bdev I/O is all or
		 * nothing: a write must not be acknowledged, and a read's
		 * missing part is not known to be zeroes. */
		xa_complete(d, bio, -EIO, false);
	} else {
		if (bio->type == BDEV_IO_READ)
			xa_copy_read(bio, m->aux, m->aux_len);
		xa_complete(d, bio, 0, false);
	}
	xa_kick(d);
}

/* Start bio on tag t under the open device.  false: it went back to the
 * queue (the link is going). */
static bool xa_start(struct xa_disk *d, struct xa_tag *t, struct bdev_io *bio)
{
	struct dmsg_iocom *io = dmsg_state_iocom(d->open_st);
	struct dmsg_blk_rw rw;
	const void *aux = NULL;
	uint8_t *gather = NULL;
	size_t auxlen = 0;
	uint32_t cmd;

	memset(&rw, 0, sizeof(rw));
	rw.keyid = d->keyid;
	rw.offset = bio->offset;
	rw.bytes = (uint32_t)bio->length;
	switch (bio->type) {
	case BDEV_IO_READ:
		cmd = DMSG_BLK_READ;
		break;
	case BDEV_IO_WRITE:
		cmd = DMSG_BLK_WRITE;
		auxlen = bio->length;
		if (bio->iovcnt == 1) {
			aux = bio->iov[0].iov_base;
		} else {
			size_t off = 0;

			gather = malloc(auxlen ? auxlen : 1);
			if (!gather)
				goto requeue;
			for (int i = 0; i < bio->iovcnt; i++) {
				memcpy(gather + off, bio->iov[i].iov_base,
				       bio->iov[i].iov_len);
				off += bio->iov[i].iov_len;
			}
			aux = gather;
		}
		break;
	case BDEV_IO_FLUSH:
		cmd = DMSG_BLK_FLUSH;
		rw.offset = 0;
		rw.bytes = 0;
		break;
	default:
		cmd = DMSG_BLK_FREEBLKS;
		break;
	}
	t->bio = bio;
	t->st = dmsg_state_open(io, d->open_st, cmd | DMSGF_DELETE, &rw,
				sizeof(rw), aux, auxlen, xa_tag_handler, t);
	free(gather);
	if (t->st)
		return true;
requeue:
	xa_tag_put(d, t);
	xa_queue_push(d, bio, true);
	return false;
}

/* ---- BLK_OPEN ----------------------------------------------------------- */

/* Forget the current open (our side closed; the state's handler is then
 * cleared so a late answer is ignored). */
static void xa_open_close(struct xa_disk *d)
{
	struct dmsg_state *st = d->open_st;

	d->open_st = NULL;
	d->open_path = NULL;
	d->ostate = XA_CLOSED;
	if (st) {
		dmsg_state_set_handler(st, NULL, NULL);
		dmsg_state_reply(st, 0);
	}
}

static void xa_path_retry(struct ev_timer *tm, void *arg)
{
	struct xa_path *p = arg;

	ev_timer_del(tm);
	p->retry = NULL;
	p->broken = false;
	xa_kick(p->d);
}

/* The server refused to open the disk on p: p is left out of the choice
 * of a path until a doubling back-off (the client's --xdisk-backoff)
 * expires, and I/O that finds no other path fails with the refusal. */
static void xa_path_break(struct xa_path *p, int err)
{
	const struct xdisk_client_opts *o = &p->d->cl->opts;

	p->broken = true;
	p->open_err = err;
	p->d->open_refusals++;
	if (!p->retry_ms)
		p->retry_ms = o->backoff_min_ms;
	else if (p->retry_ms < o->backoff_max_ms)
		p->retry_ms *= 2;
	if (p->retry_ms > o->backoff_max_ms)
		p->retry_ms = o->backoff_max_ms;
	if (p->retry)
		ev_timer_del(p->retry);
	p->retry = ev_timer_add(p->d->loop, p->retry_ms, false, xa_path_retry,
				p);
}

/* The error of a disk none of whose paths will open it (0: some path may,
 * or there is none at all and I/O waits for one). */
static int xa_open_error(const struct xa_disk *d)
{
	int err = 0;

	for (const struct xa_path *p = d->paths; p; p = p->next) {
		if (!p->broken)
			return 0;
		err = p->open_err;
	}
	return err;
}

static void xa_open_handler(struct dmsg_state *st, struct dmsg_msg *m,
			    void *arg)
{
	struct xa_disk *d = arg;
	uint32_t cmd = m->hdr.cmd;

	if (st != d->open_st)
		return;
	if (cmd & DMSGF_CREATE) {
		uint32_t err = m->hdr.error;

		if (err == 0 && !(cmd & DMSGF_DELETE)) {
			d->keyid = (cmd & DMSGF_BASECMDMASK) == DMSG_BLK_ERROR
					   ? m->body.blk_error.keyid
					   : 0;
			d->ostate = XA_OPEN;
			d->open_ro = d->open_path && d->open_path->read_only;
			if (d->open_path)
				d->open_path->retry_ms = 0;
			d->opens++;
			log_info("xdisk: %s open on %s (keyid %llu%s)", d->name,
				 d->open_path ? d->open_path->cl_label : "?",
				 (unsigned long long)d->keyid,
				 d->open_ro ? ", read-only" : "");
			xa_kick(d);
			return;
		}
		if (err == DMSG_ERR_PARAM && d->open_path &&
		    !d->open_path->read_only) {
			/* A read-only export refuses RD|WR: open it for
			 * reading; writes then fail -EROFS. */
			d->open_path->read_only = true;
		} else if (err && err != DMSG_ERR_LOSTLINK && d->open_path) {
			log_warn("xdisk: %s: BLK_OPEN refused on %s (error "
				 "0x%x)", d->name, d->open_path->cl_label, err);
			xa_path_break(d->open_path, xa_dmsg_errno(err));
		}
	}
	if ((cmd & DMSGF_DELETE) || m->hdr.error) {
		/* Refused, closed by the server, or the link went; the BLK
		 * commands under it were ended first. */
		d->open_st = NULL;
		d->open_path = NULL;
		d->ostate = XA_CLOSED;
		dmsg_state_set_handler(st, NULL, NULL);
		if (!(cmd & DMSGF_DELETE))
			dmsg_state_reply(st, 0);
		xa_kick(d);
	}
}

static struct xa_path *xa_best_path(struct xa_disk *d)
{
	struct xa_path *best = NULL;

	for (struct xa_path *p = d->paths; p; p = p->next) {
		if (p->broken || !p->span || dmsg_state_tx_done(p->span) ||
		    dmsg_state_rx_done(p->span) ||
		    dmsg_iocom_is_lost(dmsg_state_iocom(p->span)))
			continue;
		if (!best || p->dist < best->dist)
			best = p;
	}
	return best;
}

static void xa_run(struct xa_disk *d)
{
	struct xa_tag *t;
	struct xa_path *p;

	if (!d->cl)
		return;
	if (d->ostate == XA_OPEN) {
		while (d->q_head && (t = xa_tag_get(d)) != NULL) {
			if (!xa_start(d, t, xa_queue_pop(d)))
				break;
		}
		return;
	}
	if (d->ostate == XA_OPENING)
		return;
	p = xa_best_path(d);
	if (!p) {
		int err = xa_open_error(d);

		if (err)
			xa_fail_queue(d, err);
		else if (d->failfast)
			xa_fail_queue(d, -ENXIO);
		return;
	}
	{
		struct dmsg_blk_open bo = {
			.modes = p->read_only ? DMSG_BLKOPEN_RD
					      : DMSG_BLKOPEN_RD |
							DMSG_BLKOPEN_WR,
			.fence_id = d->cl->fence_id,
			.fence_gen = ++d->cl->fence_gen,
		};

		d->open_path = p;
		d->ostate = XA_OPENING;
		if (d->opens)
			d->failovers++;
		d->open_st = dmsg_state_open(dmsg_state_iocom(p->span),
					     p->span, DMSG_BLK_OPEN, &bo,
					     sizeof(bo), NULL, 0,
					     xa_open_handler, d);
		if (!d->open_st) {
			d->open_path = NULL;
			d->ostate = XA_CLOSED;
			/* The link is going; its loss kicks us again. */
		}
	}
}

static void xa_kick_deferred(void *arg)
{
	struct xa_disk *d = arg;

	d->kick_pending = false;
	xa_run(d);
	bdev_release(d->bd);
}

/* Run the disk's state machine after the current callback: never from
 * inside the iocom's teardown of a link. */
static void xa_kick(struct xa_disk *d)
{
	if (d->kick_pending)
		return;
	bdev_hold(d->bd);
	if (ev_loop_defer(d->loop, xa_kick_deferred, d) < 0) {
		bdev_release(d->bd);
		return;
	}
	d->kick_pending = true;
}

/* ---- the bdev ----------------------------------------------------------- */

static void xa_enqueue(struct xa_disk *d, struct bdev_io *bio, bool in_submit)
{
	if (!d->cl) {
		xa_complete(d, bio, -ENXIO, in_submit);
		return;
	}
	if (d->ostate == XA_CLOSED && !xa_best_path(d)) {
		int err = xa_open_error(d);

		if (!err && d->failfast)
			err = -ENXIO;
		if (err) {
			xa_complete(d, bio, err, in_submit);
			return;
		}
	}
	xa_queue_push(d, bio, false);
	if (d->ostate == XA_OPEN && d->freetags && !in_submit) {
		xa_run(d);
		return;
	}
	xa_kick(d);
}

static void xa_submit_posted(void *arg)
{
	struct bdev_io *bio = arg;
	struct xa_disk *d = bdev_priv(bio->bd);

	xa_enqueue(d, bio, false);
}

static int xa_bdev_submit(struct bdev *bd, struct bdev_io *bio)
{
	struct xa_disk *d = bdev_priv(bd);

	if (bio->type == BDEV_IO_WRITE_ZEROES)
		return -ENOTSUP;
	/* READ/WRITE data travels as one message's aux; FREEBLKS carries
	 * only a 32-bit byte count. */
	if ((bio->type == BDEV_IO_READ || bio->type == BDEV_IO_WRITE) &&
	    bio->length > DMSG_AUX_MAX)
		return -EINVAL;
	if (bio->type == BDEV_IO_DISCARD && bio->length > UINT32_MAX)
		return -EINVAL;
	if (ev_loop_in_thread(d->loop)) {
		xa_enqueue(d, bio, true);
		return 0;
	}
	return ev_loop_post(d->loop, xa_submit_posted, bio);
}

static void xa_bdev_destroy(struct bdev *bd)
{
	struct xa_disk *d = bdev_priv(bd);

	free(d);
}

static void xa_bdev_describe(struct bdev *bd, char *buf, size_t len)
{
	struct xa_disk *d = bdev_priv(bd);

	snprintf(buf, len, "xdisk label=%s paths=%u%s", d->label, d->npaths,
		 d->failfast ? " failfast" : "");
}

/* The disk's links, tags and queue live on its client's loop: I/O
 * submitted anywhere else is posted there and its completion posted
 * back, two wake-ups of another thread per I/O. */
static struct ev_loop *xa_bdev_home_loop(struct bdev *bd)
{
	struct xa_disk *d = bdev_priv(bd);

	return d->loop;
}

static const struct bdev_ops xa_bdev_ops = {
	.name = "xdisk",
	.submit = xa_bdev_submit,
	.destroy = xa_bdev_destroy,
	.describe = xa_bdev_describe,
	.home_loop = xa_bdev_home_loop,
};

/* ---- disks and paths ---------------------------------------------------- */

static struct xa_disk *xa_disk_find(struct xdisk_client *cl,
				    const char *label)
{
	for (struct xa_disk *d = cl->disks; d; d = d->next)
		if (strcmp(d->label, label) == 0)
			return d;
	return NULL;
}

/*
 * Units of the disks in the registry: a daemon runs one client per
 * reactor, and their xaN names must not collide, so registering clients
 * take units from this one table (under its lock); the others number
 * their disks on their own.
 */
#define XA_UNITS 4096
static pthread_mutex_t xa_units_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t xa_units[XA_UNITS / 8];

static bool xa_unit_used(struct xdisk_client *cl, int unit)
{
	for (struct xa_disk *d = cl->disks; d; d = d->next)
		if (d->unit == unit)
			return true;
	return false;
}

static int xa_unit_get(struct xdisk_client *cl)
{
	int unit = 0;

	if (cl->opts.register_disks) {
		pthread_mutex_lock(&xa_units_lock);
		for (; unit < XA_UNITS; unit++)
			if (!(xa_units[unit / 8] & (1u << (unit % 8)))) {
				xa_units[unit / 8] |= (uint8_t)(1u << (unit % 8));
				break;
			}
		pthread_mutex_unlock(&xa_units_lock);
		if (unit < XA_UNITS)
			return unit;
	}
	while (xa_unit_used(cl, unit))
		unit++;
	return unit;
}

static void xa_unit_put(struct xdisk_client *cl, int unit)
{
	if (!cl->opts.register_disks || unit < 0 || unit >= XA_UNITS)
		return;
	pthread_mutex_lock(&xa_units_lock);
	xa_units[unit / 8] &= (uint8_t)~(1u << (unit % 8));
	pthread_mutex_unlock(&xa_units_lock);
}

static struct xa_disk *xa_disk_create(struct xdisk_client *cl,
				      struct xa_attach *at, const char *label,
				      uint64_t bytes, uint32_t blksize)
{
	struct bdev_geometry geo;
	struct xa_disk *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->cl = cl;
	d->loop = cl->loop;
	d->owner = at->id;
	d->failfast = at->failfast;
	snprintf(d->label, sizeof(d->label), "%s", label);
	d->unit = xa_unit_get(cl);
	snprintf(d->name, sizeof(d->name), "xa%d", d->unit);
	d->bytes = bytes;
	d->blksize = blksize;
	for (int i = XDISK_MAXTAGS - 1; i >= 0; i--) {
		d->tags[i].d = d;
		d->tags[i].next_free = d->freetags;
		d->freetags = &d->tags[i];
	}
	d->busytags = 0;
	memset(&geo, 0, sizeof(geo));
	geo.size = bytes;
	geo.lbsize = blksize;
	geo.pbsize = blksize;
	geo.max_xfer = DMSG_AUX_MAX;
	geo.can_discard = true;
	geo.volatile_cache = true;
	geo.multi_conn_safe = true;
	d->bd = bdev_alloc(&xa_bdev_ops, d->name, &geo, d);
	if (!d->bd) {
		xa_unit_put(cl, d->unit);
		free(d);
		return NULL;
	}
	d->next = cl->disks;
	cl->disks = d;
	if (cl->opts.register_disks) {
		int rc = bdev_registry_add(d->bd);

		if (rc < 0)
			log_warn("xdisk: cannot register %s: %s", d->name,
				 strerror(-rc));
		else
			d->registered = true;
	}
	log_info("xdisk: %s: label '%s', %llu bytes, block %u", d->name,
		 d->label, (unsigned long long)bytes, blksize);
	return d;
}

static void xa_path_remove(struct xa_path *p)
{
	struct xa_disk *d = p->d;
	struct xa_path **pp;

	for (pp = &d->paths; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	d->npaths--;
	if (p->retry)
		ev_timer_del(p->retry);
	if (d->open_path == p) {
		/* The BLK_OPEN under it has been ended already (children go
		 * first); drop ours if a race left it. */
		xa_open_close(d);
	}
	log_info("xdisk: %s: path %s gone (%u left)", d->name, p->cl_label,
		 d->npaths);
	free(p);
	xa_kick(d);
}

static void xa_span_handler(struct dmsg_state *st, struct dmsg_msg *m,
			    void *arg)
{
	struct xa_path *p = arg;

	if (!(m->hdr.cmd & DMSGF_DELETE))
		return;
	/* Withdrawn by the server, or the link went. */
	p->span = NULL;
	dmsg_state_set_handler(st, NULL, NULL);
	xa_path_remove(p);
}

/* Accept or refuse a LNK_SPAN; a lying one is refused, not believed. */
void xa_span_new(struct xa_link *l, struct dmsg_state *st,
		 struct dmsg_msg *m)
{
	struct xdisk_client *cl = l->cl;
	const struct dmsg_lnk_span *sp = &m->body.span;
	char label[DMSG_LABEL_LEN];
	uint64_t bytes = sp->media.block.bytes;
	uint32_t bs = sp->media.block.blksize;
	struct xa_disk *d;
	struct xa_path *p;

	/* A span opened and closed in one message advertises nothing: answer
	 * it and make no disk or path of it (as the reference does). */
	if (m->hdr.cmd & DMSGF_DELETE) {
		dmsg_state_reply(st, 0);
		return;
	}
	/* Our LNK_CONN masks: block devices served by a server. */
	if (sp->peer_type != DMSG_PEER_BLOCK ||
	    sp->pfs_type != DMSG_PFSTYPE_SERVER) {
		dmsg_state_reply(st, DMSG_ERR_NOSUPP);
		return;
	}
	memcpy(label, sp->fs_label, sizeof(label));
	label[sizeof(label) - 1] = 0;
	if (!label[0] || bs < 512 || bs > 65536 || (bs & (bs - 1)) ||
	    bytes == 0 || bytes % bs || bytes > (1ull << 60)) {
		log_warn("xdisk: %s: refusing span '%s' (size %llu, block %u)",
			 l->addr, label, (unsigned long long)bytes, bs);
		cl->bad_spans++;
		dmsg_state_reply(st, DMSG_ERR_PARAM);
		return;
	}
	d = xa_disk_find(cl, label);
	if (d && (d->bytes != bytes || d->blksize != bs)) {
		log_warn("xdisk: %s: span '%s' disagrees with %s (size %llu "
			 "vs %llu, block %u vs %u); refused", l->addr, label,
			 d->name, (unsigned long long)bytes,
			 (unsigned long long)d->bytes, bs, d->blksize);
		cl->bad_spans++;
		dmsg_state_reply(st, DMSG_ERR_PARAM);
		return;
	}
	if (!d)
		d = xa_disk_create(cl, l->at, label, bytes, bs);
	p = d ? calloc(1, sizeof(*p)) : NULL;
	if (!p) {
		dmsg_state_reply(st, DMSG_ERR_IO);
		return;
	}
	p->d = d;
	p->link = l;
	p->span = st;
	p->dist = sp->dist;
	memcpy(p->cl_label, sp->cl_label, sizeof(p->cl_label));
	p->cl_label[sizeof(p->cl_label) - 1] = 0;
	/* Newest paths last: the first live one keeps being preferred. */
	{
		struct xa_path **pp = &d->paths;

		while (*pp)
			pp = &(*pp)->next;
		*pp = p;
	}
	d->npaths++;
	dmsg_state_set_handler(st, xa_span_handler, p);
	dmsg_state_ack(st, 0);
	log_info("xdisk: %s: path %s via %s (%u paths)", d->name, p->cl_label,
		 l->addr, d->npaths);
	xa_kick(d);
}

void xa_disk_remove(struct xdisk_client *cl, struct xa_disk *d)
{
	struct xa_disk **pp;

	for (pp = &cl->disks; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	if (d->open_st)
		xa_open_close(d);
	d->cl = NULL;
	xa_fail_queue(d, -ENXIO);
	if (d->registered)
		bdev_registry_remove(d->name);
	xa_unit_put(cl, d->unit);
	log_info("xdisk: %s removed", d->name);
	bdev_release(d->bd);
}

const char *xa_ostate_name(enum xa_open_state s)
{
	static const char *const names[] = {
		[XA_CLOSED] = "closed",
		[XA_OPENING] = "opening",
		[XA_OPEN] = "open",
	};

	return names[s];
}
