/*
 * The rbd backend: an image of a Ceph cluster through librbd's
 * asynchronous API, which makes scsikit a userspace iSCSI/NBD/DMSG gateway
 * for Ceph.  Spec parsing is in rbd_spec.c; the operator's side is
 * docs/ceph.md.
 *
 * Threads.  Every I/O is started on the submitting reactor with an
 * rbd_aio_* call, which only queues it; librbd completes it on one of its
 * own threads, and rbd_io_done() hands the completion back to io->loop
 * with bdev_io_complete_remote(), as the file backend's pool workers do.
 * A FUA write is a write followed by rbd_aio_flush, the flush started from
 * the write's completion (librbd allows starting I/O there).  Nothing in
 * the I/O path takes a lock of ours.
 *
 * Never hung on a dead cluster.  librados waits forever by default; every
 * wait here is bounded by the spec's timeout= (default 30 s), given to
 * librados as client_mount_timeout (connect), rados_mon_op_timeout and
 * rados_osd_op_timeout (every OSD operation, so every I/O): a cluster that
 * goes away mid-I/O fails the I/O with -ENOTCONN after at most that long,
 * which the SCSI target answers NOT READY, LOGICAL UNIT COMMUNICATION
 * FAILURE and NBD as an I/O error.  Connecting and opening are
 * synchronous (bdev_create_spec is), so adding an rbd disk blocks the
 * thread that adds it for at most about twice the timeout.
 *
 * Resize.  rbd_update_watch tells us when the image header changes (a
 * resize by `rbd resize`, by another client); the callback runs on a
 * librbd thread, where asking librbd for the size could wait on librbd
 * itself, so it queues a job on the bdev worker pool, which reads the size
 * and calls bdev_resize().  The SCSI target sees the new size on the next
 * command (CAPACITY DATA HAS CHANGED), NBD at the next connection.
 *
 * Write-zeroes is rbd_aio_write_zeroes (librbd 16 has it): deallocating
 * unless NO_UNMAP, which asks librbd to write the zeroes out (thick
 * provision), and which is refused under FAST_ZERO.  Discard is
 * rbd_aio_discard; librbd skips the parts of a discard that do not cover
 * a whole object (rbd_skip_partial_discard), so a discarded range does not
 * always read back zeroes: discard_zeroes is false.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/log.h>

#include "bdev/bdev_int.h"

#ifdef SK_HAVE_RBD

#include <rados/librados.h>
#include <rbd/librbd.h>

#define RBD_TIMEOUT_DEFAULT 30u
#define RBD_MAX_XFER (4u * 1024 * 1024)
#define RBD_OPT_XFER (4u * 1024 * 1024)

struct rbd_bdev {
	rados_t cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	struct bdev *bd;	/* back pointer for resize; set after alloc */
	char desc[512];

	/* Resize notifications (rbd_watch_cb) and their pool jobs. */
	bool watching;
	uint64_t watch;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned jobs;		/* size jobs queued or running */
	bool job_queued;	/* one queued that has not started yet */
	bool closing;		/* destroy has begun: queue no more */
};

/* io->priv[0]: what to do when librbd completes the current step. */
enum {
	RBD_STEP_DONE = 0,
	RBD_STEP_FLUSH = 1,	/* FUA: the write is done, now flush */
};

/* librbd's errors for a cluster it cannot reach (timed out, blocklisted
 * -- ESHUTDOWN --, disconnected) all mean the same to a client: the disk
 * is not reachable now.  Everything else is passed on. */
static int rbd_errno(ssize_t r)
{
	if (r >= 0)
		return 0;
	switch (-r) {
	case ETIMEDOUT:
	case ESHUTDOWN:
	case ENOTCONN:
	case ECONNREFUSED:
		return -ENOTCONN;
	default:
		return (int)r;
	}
}

static void rbd_io_done(rbd_completion_t c, void *arg);

static int rbd_start_flush(struct rbd_bdev *rb, struct bdev_io *io)
{
	rbd_completion_t c;
	int r;

	r = rbd_aio_create_completion(io, rbd_io_done, &c);
	if (r < 0)
		return r;
	r = rbd_aio_flush(rb->image, c);
	if (r < 0)
		rbd_aio_release(c);
	return r;
}

/* On a librbd thread. */
static void rbd_io_done(rbd_completion_t c, void *arg)
{
	struct bdev_io *io = arg;
	ssize_t r = rbd_aio_get_return_value(c);

	rbd_aio_release(c);
	if (r >= 0 && io->priv[0] == RBD_STEP_FLUSH) {
		io->priv[0] = RBD_STEP_DONE;
		r = rbd_start_flush(bdev_priv(io->bd), io);
		if (r == 0)
			return;
	}
	bdev_io_complete_remote(io, rbd_errno(r));
}

static int rbd_submit(struct bdev *bd, struct bdev_io *io)
{
	struct rbd_bdev *rb = bdev_priv(bd);
	rbd_completion_t c;
	int r, zflags = 0;

	io->priv[0] = RBD_STEP_DONE;
	if (io->type == BDEV_IO_WRITE_ZEROES &&
	    (io->flags & BDEV_IO_NO_UNMAP)) {
		/* Keeping the range allocated means writing every zero. */
		if (io->flags & BDEV_IO_FAST_ZERO) {
			bdev_io_complete_deferred(io, -ENOTSUP);
			return 0;
		}
		zflags = RBD_WRITE_ZEROES_FLAG_THICK_PROVISION;
	}
	r = rbd_aio_create_completion(io, rbd_io_done, &c);
	if (r < 0)
		return r;
	switch (io->type) {
	case BDEV_IO_READ:
		r = rbd_aio_readv(rb->image, io->iov, io->iovcnt, io->offset,
				  c);
		break;
	case BDEV_IO_WRITE:
		if (io->flags & BDEV_IO_FUA)
			io->priv[0] = RBD_STEP_FLUSH;
		r = rbd_aio_writev(rb->image, io->iov, io->iovcnt, io->offset,
				   c);
		break;
	case BDEV_IO_FLUSH:
		r = rbd_aio_flush(rb->image, c);
		break;
	case BDEV_IO_DISCARD:
		r = rbd_aio_discard(rb->image, io->offset, io->length, c);
		break;
	case BDEV_IO_WRITE_ZEROES:
		r = rbd_aio_write_zeroes(rb->image, io->offset,
					 (size_t)io->length, c, zflags, 0);
		break;
	default:
		r = -EINVAL;
		break;
	}
	if (r < 0)
		rbd_aio_release(c);
	return r;
}

/* ---- resize ---- */

/* On a pool worker: ask librbd for the size and pass it on. */
static void rbd_size_job(void *arg)
{
	struct rbd_bdev *rb = arg;
	uint64_t size;

	pthread_mutex_lock(&rb->lock);
	rb->job_queued = false;
	pthread_mutex_unlock(&rb->lock);
	if (rbd_get_size(rb->image, &size) == 0 &&
	    size - size % rb->bd->geo.lbsize != bdev_size_now(rb->bd))
		bdev_resize(rb->bd, size);
	pthread_mutex_lock(&rb->lock);
	rb->jobs--;
	pthread_cond_broadcast(&rb->idle);
	pthread_mutex_unlock(&rb->lock);
}

/* On a librbd thread: the image header changed (size, features, locks). */
static void rbd_watch_cb(void *arg)
{
	struct rbd_bdev *rb = arg;

	pthread_mutex_lock(&rb->lock);
	if (!rb->closing && !rb->job_queued &&
	    bdev_pool_run(rbd_size_job, rb) == 0) {
		rb->job_queued = true;
		rb->jobs++;
	}
	pthread_mutex_unlock(&rb->lock);
}

/* ---- open and close ---- */

static void rbd_close_all(struct rbd_bdev *rb)
{
	if (rb->watching) {
		pthread_mutex_lock(&rb->lock);
		rb->closing = true;
		pthread_mutex_unlock(&rb->lock);
		/* No callback runs once this returns... */
		rbd_update_unwatch(rb->image, rb->watch);
		/* ...and no job is left that could touch the image. */
		pthread_mutex_lock(&rb->lock);
		while (rb->jobs != 0)
			pthread_cond_wait(&rb->idle, &rb->lock);
		pthread_mutex_unlock(&rb->lock);
	}
	if (rb->image != NULL)
		rbd_close(rb->image);
	if (rb->ioctx != NULL)
		rados_ioctx_destroy(rb->ioctx);
	if (rb->cluster != NULL)
		rados_shutdown(rb->cluster);
	pthread_cond_destroy(&rb->idle);
	pthread_mutex_destroy(&rb->lock);
	free(rb);
}

static void rbd_destroy(struct bdev *bd)
{
	rbd_close_all(bdev_priv(bd));
}

static void rbd_describe(struct bdev *bd, char *buf, size_t len)
{
	struct rbd_bdev *rb = bdev_priv(bd);

	snprintf(buf, len, "%s", rb->desc);
}

static const struct bdev_ops rbd_ops = {
	.name = "rbd",
	.submit = rbd_submit,
	.destroy = rbd_destroy,
	.describe = rbd_describe,
};

/* Connect to the cluster and open the pool (rb->cluster, rb->ioctx). */
static int rbd_connect(struct rbd_bdev *rb, const struct bdev_rbd_opts *o,
		       char *err, size_t errlen)
{
	static const char *const tmo_keys[] = {
		"client_mount_timeout", "rados_mon_op_timeout",
		"rados_osd_op_timeout",
	};
	char tmo[16];
	int r;

	r = rados_create(&rb->cluster, o->id);
	if (r < 0) {
		rb->cluster = NULL;
		snprintf(err, errlen, "rbd: cannot create a cluster handle: "
			 "%s", strerror(-r));
		return r;
	}
	r = rados_conf_read_file(rb->cluster, o->conf);
	if (r < 0) {
		snprintf(err, errlen, "rbd: cannot read %s: %s",
			 o->conf != NULL ? o->conf
					 : "ceph.conf (give conf=PATH)",
			 strerror(-r));
		return r;
	}
	rados_conf_parse_env(rb->cluster, NULL);
	snprintf(tmo, sizeof(tmo), "%u",
		 o->timeout_s != 0 ? o->timeout_s : RBD_TIMEOUT_DEFAULT);
	for (size_t i = 0; i < sizeof(tmo_keys) / sizeof(tmo_keys[0]); i++) {
		r = rados_conf_set(rb->cluster, tmo_keys[i], tmo);
		if (r < 0) {
			snprintf(err, errlen, "rbd: cannot set %s: %s",
				 tmo_keys[i], strerror(-r));
			return r;
		}
	}
	r = rados_connect(rb->cluster);
	if (r < 0) {
		snprintf(err, errlen, "rbd: cannot connect to the cluster%s%s "
			 "within %s s: %s", o->conf != NULL ? " of " : "",
			 o->conf != NULL ? o->conf : "", tmo, strerror(-r));
		return r;
	}
	r = rados_ioctx_create(rb->cluster, o->pool, &rb->ioctx);
	if (r < 0) {
		rb->ioctx = NULL;
		snprintf(err, errlen, "rbd: %s pool '%s': %s",
			 r == -ENOENT ? "no" : "cannot open", o->pool,
			 strerror(-r));
		return r;
	}
	return 0;
}

static int rbd_open_image(struct rbd_bdev *rb, const struct bdev_rbd_opts *o,
			  char *err, size_t errlen)
{
	int r;

	if (o->read_only)
		r = rbd_open_read_only(rb->ioctx, o->image, &rb->image,
				       o->snap);
	else
		r = rbd_open(rb->ioctx, o->image, &rb->image, NULL);
	if (r < 0) {
		rb->image = NULL;
		if (r == -ENOENT)
			snprintf(err, errlen, "rbd: no image '%s/%s'%s%s%s",
				 o->pool, o->image,
				 o->snap != NULL ? " or no snapshot '" : "",
				 o->snap != NULL ? o->snap : "",
				 o->snap != NULL ? "'" : "");
		else
			snprintf(err, errlen, "rbd: cannot open %s/%s: %s",
				 o->pool, o->image, strerror(-r));
		return r;
	}
	return 0;
}

bool bdev_rbd_available(void)
{
	return true;
}

struct bdev *bdev_rbd_create(const char *name,
			     const struct bdev_rbd_opts *o, char *err,
			     size_t errlen)
{
	struct bdev_geometry g = { 0 };
	struct rbd_bdev *rb;
	struct bdev *bd;
	uint64_t size;
	int r;

	if (o == NULL || o->pool == NULL || o->image == NULL) {
		snprintf(err, errlen, "rbd: missing pool or image");
		return NULL;
	}
	rb = calloc(1, sizeof(*rb));
	if (rb == NULL) {
		snprintf(err, errlen, "rbd: out of memory");
		return NULL;
	}
	pthread_mutex_init(&rb->lock, NULL);
	pthread_cond_init(&rb->idle, NULL);
	snprintf(rb->desc, sizeof(rb->desc), "%s/%s%s%s%s%s%s", o->pool,
		 o->image, o->snap != NULL ? "@" : "",
		 o->snap != NULL ? o->snap : "", o->conf != NULL ? " conf " : "",
		 o->conf != NULL ? o->conf : "", o->read_only ? " ro" : "");
	if (rbd_connect(rb, o, err, errlen) < 0 ||
	    rbd_open_image(rb, o, err, errlen) < 0)
		goto out_close;
	r = rbd_get_size(rb->image, &size);
	if (r < 0) {
		snprintf(err, errlen, "rbd: cannot get the size of %s/%s: %s",
			 o->pool, o->image, strerror(-r));
		goto out_close;
	}
	g.lbsize = o->lbsize != 0 ? o->lbsize : 512;
	g.size = size - size % g.lbsize;
	g.pbsize = 4096 > g.lbsize ? 4096 : g.lbsize;
	g.opt_xfer = RBD_OPT_XFER;
	g.max_xfer = RBD_MAX_XFER;
	g.read_only = o->read_only;
	g.can_discard = !o->read_only;
	g.can_write_zeroes = !o->read_only;
	g.discard_zeroes = false;
	/* librbd's cache (rbd_cache, on by default) holds writes until a
	 * flush; without it a flush is cheap anyway. */
	g.volatile_cache = true;
	/* One librbd client behind every connection: one coherent cache. */
	g.multi_conn_safe = true;
	bd = bdev_alloc(&rbd_ops, name, &g, rb);
	if (bd == NULL) {
		snprintf(err, errlen, "rbd: cannot create the disk: %s",
			 strerror(errno));
		goto out_close;
	}
	rb->bd = bd;
	/* A snapshot never changes size; the head may. */
	if (o->snap == NULL) {
		r = rbd_update_watch(rb->image, &rb->watch, rbd_watch_cb, rb);
		if (r == 0)
			rb->watching = true;
		else
			log_warn("rbd %s: cannot watch %s for resizes: %s",
				 name, rb->desc, strerror(-r));
	}
	log_info("rbd %s: %s, %llu bytes", name, rb->desc,
		 (unsigned long long)g.size);
	return bd;

out_close:
	rbd_close_all(rb);
	return NULL;
}

#else /* !SK_HAVE_RBD */

bool bdev_rbd_available(void)
{
	return false;
}

struct bdev *bdev_rbd_create(const char *name,
			     const struct bdev_rbd_opts *opts, char *err,
			     size_t errlen)
{
	(void)name;
	(void)opts;
	snprintf(err, errlen, "rbd: scsikit was built without librbd");
	errno = ENOTSUP;
	return NULL;
}

#endif
