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
 * thread that adds it for at most about twice the timeout; closing is
 * done on a thread of its own (rbd_destroy).
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "bdev/bdev_int.h"

#ifdef SK_HAVE_RBD

#include <rados/librados.h>
#include <rbd/librbd.h>

#define RBD_TIMEOUT_DEFAULT 30u
#define RBD_TICK_S 1u		/* objecter_tick_interval at most this */
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
	bool blocklisted;	/* said so once (atomic) */

	/* Block status (rbd_map_*): one bit per object, set when the object
	 * may hold data; NULL when the image has no usable fast-diff. */
	uint64_t *map;
	uint64_t map_objs;	/* objects the map covers */
	unsigned obj_shift;	/* log2 of the object size */
	uint64_t write_gen;	/* atomic: data writes submitted */
	uint64_t trust_until;	/* atomic: ev_now_ns() before which the map
				 * may be believed; UINT64_MAX: a snapshot */
	bool map_owned;		/* keeper only: at the last check we held
				 * the lock and the map was good */
	bool keeping;		/* the keeper thread runs */
	pthread_t keeper;
	pthread_cond_t keeper_wake;	/* with lock: closing */
	unsigned caw_order;	/* log2 of the object size (rbd_caw_mismatch) */
};

/* io->priv[0]: what to do when librbd completes the current step. */
enum {
	RBD_STEP_DONE = 0,
	RBD_STEP_FLUSH = 1,	/* FUA: the write is done, now flush */
};
/* io->priv[1]: for a deallocating discard or write-zeroes, write_gen when
 * it was submitted.  For COMPARE_WRITE, io->priv[2] holds the bounce
 * buffer (verify then write half) and io->priv[3] librbd's mismatch
 * offset. */

/* librbd 16 refuses (-EINVAL) a compare-and-write that is longer than, or
 * crosses, one 512-byte sector (tested on 16.2.15); offsets are multiples
 * of the logical block size, so one block of 512 bytes is what it takes.
 * A longer COMPARE AND WRITE cannot be split (it would not be atomic any
 * more): the SCSI target refuses it and says so in BLOCK LIMITS. */
#define RBD_MAX_CAW 512u

/* ---- block status ----
 *
 * NBD block status and GET LBA STATUS are synchronous questions asked on a
 * reactor, and the object map lives in the cluster; so the answer comes
 * from a map of our own, at object granularity: loaded from the image's
 * object map (rbd_diff_iterate2, whole objects, which needs fast-diff),
 * then kept by this gateway's own I/O.  A write marks its objects before
 * it is sent (a racing question sees data: safe); a deallocating discard
 * or write-zeroes unmarks the objects it covered whole, once done, and
 * only if no write was submitted meanwhile.
 *
 * Other gateways of the image.  Their writes do not reach the map, so it
 * is believed only for a lease (RBD_MAP_LEASE_NS) after a check that no
 * other client can have written since the map was loaded, made every
 * RBD_MAP_PERIOD_MS by a thread of the bdev's own (rbd_keeper, which may
 * wait on the cluster; never a reactor): another client writes only while
 * it holds the image's exclusive lock, so the check is that this client
 * held it at the last check and still does, else the map is reloaded
 * between two looks that find the lock held by this client or by nobody.
 * A question outside the lease is answered "data" for the whole range.
 * What is left: another gateway taking the lock and writing within a
 * lease of our last check is not seen until it ends (librbd tells no
 * client that it lost the lock; docs/ceph.md).  A snapshot never changes:
 * its map is always believed, and has no keeper.
 */

/* How long a check vouches for the map, and how often one is made. */
#define RBD_MAP_LEASE_NS (1000ull * 1000 * 1000)
#define RBD_MAP_PERIOD_MS 250

static void rbd_map_mark(struct rbd_bdev *rb, uint64_t off, uint64_t len,
			 bool data)
{
	uint64_t first, last;

	if (rb->map == NULL || len == 0)
		return;
	if (data) {
		first = off >> rb->obj_shift;
		last = (off + len - 1) >> rb->obj_shift;
	} else {
		/* Only objects covered whole are gone. */
		uint64_t osz = 1ull << rb->obj_shift;

		first = (off + osz - 1) >> rb->obj_shift;
		last = (off + len) >> rb->obj_shift;
		if (last == 0 || first > last - 1)
			return;
		last--;
	}
	if (last >= rb->map_objs)
		last = rb->map_objs - 1;
	for (uint64_t i = first; i <= last && i < rb->map_objs; i++) {
		uint64_t bit = 1ull << (i & 63);

		if (data)
			__atomic_fetch_or(&rb->map[i >> 6], bit,
					  __ATOMIC_RELAXED);
		else
			__atomic_fetch_and(&rb->map[i >> 6], ~bit,
					   __ATOMIC_RELAXED);
	}
}

static bool rbd_map_test(const struct rbd_bdev *rb, uint64_t obj)
{
	if (obj >= rb->map_objs)
		return true;	/* grown since the open: say data */
	return (__atomic_load_n(&rb->map[obj >> 6], __ATOMIC_RELAXED) >>
		(obj & 63)) & 1;
}

static int rbd_block_status(struct bdev *bd, uint64_t offset,
			    uint64_t length, enum bdev_alloc_state *state,
			    uint64_t *run)
{
	struct rbd_bdev *rb = bdev_priv(bd);
	uint64_t obj = offset >> rb->obj_shift, end = offset + length, pos;
	bool data;

	if (rb->map == NULL ||
	    ev_now_ns() >= __atomic_load_n(&rb->trust_until,
					   __ATOMIC_ACQUIRE)) {
		*state = BDEV_MAPPED;
		*run = length;
		return 0;
	}
	data = rbd_map_test(rb, obj);
	pos = (obj + 1) << rb->obj_shift;
	while (pos < end && rbd_map_test(rb, pos >> rb->obj_shift) == data)
		pos += 1ull << rb->obj_shift;
	*state = data ? BDEV_MAPPED : BDEV_DEALLOCATED;
	*run = (pos < end ? pos : end) - offset;
	return 0;
}

/* Objects that hold data, read from the cluster into words (zeroed). */
struct rbd_fill {
	uint64_t *words;
	uint64_t objs;
	unsigned shift;
};

static int rbd_map_fill_cb(uint64_t off, size_t len, int exists, void *arg)
{
	struct rbd_fill *f = arg;

	if (!exists || len == 0)
		return 0;
	for (uint64_t i = off >> f->shift;
	     i <= (off + len - 1) >> f->shift && i < f->objs; i++)
		f->words[i >> 6] |= 1ull << (i & 63);
	return 0;
}

static int rbd_map_fill(struct rbd_bdev *rb, uint64_t *words)
{
	struct rbd_fill f = { words, rb->map_objs, rb->obj_shift };
	uint64_t len = rb->map_objs << rb->obj_shift, size;
	int r = rbd_get_size(rb->image, &size);

	if (r < 0)
		return r;
	/* Shrunk since the open: the rest reads as holes (never asked). */
	return rbd_diff_iterate2(rb->image, NULL, 0, size < len ? size : len,
				 1, 1, rbd_map_fill_cb, &f);
}

/* Who holds the image's exclusive lock: 1 this client, 0 nobody, -1
 * another client (or we cannot tell). */
static int rbd_lock_state(struct rbd_bdev *rb)
{
	rbd_lock_mode_t mode;
	char *owners[4];
	size_t n = 4;
	int own = 0, r;

	if (rbd_is_exclusive_lock_owner(rb->image, &own) < 0)
		return -1;
	if (own)
		return 1;
	r = rbd_lock_get_owners(rb->image, &mode, owners, &n);
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		rbd_lock_get_owners_cleanup(owners, n);
	return -1;
}

/* Off the reactors: make the map worth believing for a lease, or leave
 * it unbelieved (see the section comment). */
static void rbd_map_refresh(struct rbd_bdev *rb)
{
	uint64_t start = ev_now_ns(), gen, words;
	int before = rbd_lock_state(rb), after;
	uint64_t *fresh;

	if (before == 1 && rb->map_owned) {
		__atomic_store_n(&rb->trust_until, start + RBD_MAP_LEASE_NS,
				 __ATOMIC_RELEASE);
		return;
	}
	rb->map_owned = false;
	__atomic_store_n(&rb->trust_until, 0, __ATOMIC_RELEASE);
	if (before < 0)
		return;
	words = (rb->map_objs + 63) / 64;
	fresh = calloc(words, sizeof(*fresh));
	if (fresh == NULL)
		return;
	gen = __atomic_load_n(&rb->write_gen, __ATOMIC_ACQUIRE);
	if (rbd_map_fill(rb, fresh) < 0) {
		free(fresh);
		return;
	}
	/* Word by word: a question racing with this sees old or new words,
	 * each a state the image was in. */
	for (uint64_t i = 0; i < words; i++)
		__atomic_store_n(&rb->map[i], fresh[i], __ATOMIC_RELAXED);
	free(fresh);
	after = rbd_lock_state(rb);
	/* A write of ours submitted meanwhile may have lost its mark. */
	if (after < 0 ||
	    __atomic_load_n(&rb->write_gen, __ATOMIC_ACQUIRE) != gen)
		return;
	rb->map_owned = before == 1 && after == 1;
	__atomic_store_n(&rb->trust_until, start + RBD_MAP_LEASE_NS,
			 __ATOMIC_RELEASE);
}

/* The keeper thread: a check every RBD_MAP_PERIOD_MS until closing. */
static void *rbd_keeper(void *arg)
{
	struct rbd_bdev *rb = arg;
	struct timespec until;

	pthread_mutex_lock(&rb->lock);
	while (!rb->closing) {
		pthread_mutex_unlock(&rb->lock);
		rbd_map_refresh(rb);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += RBD_MAP_PERIOD_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&rb->lock);
		if (!rb->closing)
			pthread_cond_timedwait(&rb->keeper_wake, &rb->lock,
					       &until);
	}
	pthread_mutex_unlock(&rb->lock);
	return NULL;
}

/* Start the keeper, with no signal (the daemon reads its stop signals
 * from a signalfd); without it the map is never believed. */
static void rbd_keeper_start(struct rbd_bdev *rb)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rb->keeping = pthread_create(&rb->keeper, NULL, rbd_keeper, rb) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Set the map up at open; without fast-diff (or with it flagged invalid)
 * there is none and every block is reported mapped. */
static void rbd_map_load(struct rbd_bdev *rb, const char *name,
			 uint64_t size, bool snap)
{
	rbd_image_info_t info;
	uint64_t features = 0, flags = 0;
	int r;

	if (rbd_stat(rb->image, &info, sizeof(info)) < 0 ||
	    rbd_get_features(rb->image, &features) < 0 ||
	    rbd_get_flags(rb->image, &flags) < 0 ||
	    !(features & RBD_FEATURE_FAST_DIFF) ||
	    (flags & RBD_FLAG_FAST_DIFF_INVALID) || info.order < 12 ||
	    info.order > 32)
		return;
	rb->obj_shift = (unsigned)info.order;
	rb->map_objs = (size + (1ull << rb->obj_shift) - 1) >> rb->obj_shift;
	if (rb->map_objs == 0)
		return;
	rb->map = calloc((rb->map_objs + 63) / 64, sizeof(uint64_t));
	if (rb->map == NULL)
		return;
	if (!snap) {
		rbd_map_refresh(rb);	/* not believed until a check says */
		rbd_keeper_start(rb);
		return;
	}
	r = rbd_map_fill(rb, rb->map);
	if (r < 0) {
		log_warn("rbd %s: cannot read the object map (%s): every "
			 "block reported allocated", name, strerror(-r));
		free(rb->map);
		rb->map = NULL;
		return;
	}
	rb->trust_until = UINT64_MAX;
}

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

/*
 * librbd's mismatch_off, as an offset into the compare buffer.  librbd 16
 * gives the image offset of the start of the object plus the offset into
 * the buffer (tested on 16.2.15: 8 MiB + 100 for a mismatch at byte 100
 * of a compare at 10 MiB, 4 MiB objects); others may give the offset into
 * the buffer or into the image.  A compare lies inside one sector, so
 * inside one object, and the three forms cannot be confused.
 */
static uint64_t rbd_caw_mismatch(const struct rbd_bdev *rb,
				 const struct bdev_io *io, uint64_t mo)
{
	uint64_t obj_start = io->offset & ~((1ull << rb->caw_order) - 1);

	if (mo < io->length)
		return mo;
	if (mo >= io->offset && mo - io->offset < io->length)
		return mo - io->offset;
	if (mo >= obj_start && mo - obj_start < io->length)
		return mo - obj_start;
	log_warn("rbd: COMPARE AND WRITE mismatch offset %llu not understood",
		 (unsigned long long)mo);
	return 0;
}

/* Start a COMPARE_WRITE: librbd takes two flat buffers, the caller's iov
 * may be in pieces; the bounce is at most 2 * RBD_MAX_CAW bytes. */
static int rbd_start_caw(struct rbd_bdev *rb, struct bdev_io *io,
			 rbd_completion_t c)
{
	struct iov_cursor cur;
	char *buf = malloc(2 * (size_t)io->length);
	ssize_t r;

	if (buf == NULL)
		return -ENOMEM;
	iov_cursor_init(&cur, io->iov, io->iovcnt);
	iov_cursor_to_buf(&cur, buf, 2 * (size_t)io->length);
	io->priv[2] = (uintptr_t)buf;
	io->priv[3] = 0;
	if (io->flags & BDEV_IO_FUA)
		io->priv[0] = RBD_STEP_FLUSH;
	r = rbd_aio_compare_and_write(rb->image, io->offset,
				      (size_t)io->length, buf,
				      buf + io->length, c, &io->priv[3], 0);
	if (r < 0) {
		free(buf);
		io->priv[2] = 0;
	}
	return r < 0 ? (int)r : 0;
}

/* On a librbd thread. */
static void rbd_io_done(rbd_completion_t c, void *arg)
{
	struct bdev_io *io = arg;
	ssize_t r = rbd_aio_get_return_value(c);

	rbd_aio_release(c);
	if (io->type == BDEV_IO_COMPARE_WRITE && io->priv[2] != 0) {
		free((void *)(uintptr_t)io->priv[2]);
		io->priv[2] = 0;
		if (r == -EILSEQ)
			io->miscompare = rbd_caw_mismatch(bdev_priv(io->bd),
							  io, io->priv[3]);
	}
	if (r >= 0 && (io->type == BDEV_IO_DISCARD ||
		       (io->type == BDEV_IO_WRITE_ZEROES &&
			!(io->flags & BDEV_IO_NO_UNMAP)))) {
		struct rbd_bdev *rb = bdev_priv(io->bd);

		if (__atomic_load_n(&rb->write_gen, __ATOMIC_ACQUIRE) ==
		    io->priv[1])
			rbd_map_mark(rb, io->offset, io->length, false);
	}
	if (r >= 0 && io->priv[0] == RBD_STEP_FLUSH) {
		io->priv[0] = RBD_STEP_DONE;
		r = rbd_start_flush(bdev_priv(io->bd), io);
		if (r == 0)
			return;
	}
	if (r == -ESHUTDOWN &&
	    !__atomic_exchange_n(&((struct rbd_bdev *)bdev_priv(io->bd))
					  ->blocklisted, true, __ATOMIC_RELAXED))
		log_err("rbd %s: this client was blocklisted by the cluster "
			"(its exclusive lock broken by another client): every "
			"I/O fails until the disk is added again",
			bdev_name(io->bd));
	bdev_io_complete_remote(io, rbd_errno(r));
}

static int rbd_submit(struct bdev *bd, struct bdev_io *io)
{
	struct rbd_bdev *rb = bdev_priv(bd);
	rbd_completion_t c;
	int r, zflags = 0;

	io->priv[0] = RBD_STEP_DONE;
	io->priv[2] = 0;
	if (io->type == BDEV_IO_WRITE || io->type == BDEV_IO_COMPARE_WRITE ||
	    (io->type == BDEV_IO_WRITE_ZEROES &&
					  (io->flags & BDEV_IO_NO_UNMAP))) {
		rbd_map_mark(rb, io->offset, io->length, true);
		__atomic_fetch_add(&rb->write_gen, 1, __ATOMIC_RELEASE);
	}
	io->priv[1] = __atomic_load_n(&rb->write_gen, __ATOMIC_ACQUIRE);
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
	case BDEV_IO_COMPARE_WRITE:
		r = rbd_start_caw(rb, io, c);
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
	int r;

	pthread_mutex_lock(&rb->lock);
	rb->job_queued = false;
	pthread_mutex_unlock(&rb->lock);
	r = rbd_get_size(rb->image, &size);
	pthread_mutex_lock(&rb->lock);
	/* Once closing, rb->bd may be gone (see rbd_destroy). */
	if (r == 0 && !rb->closing &&
	    size - size % rb->bd->geo.lbsize != bdev_size_now(rb->bd))
		bdev_resize(rb->bd, size);
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
	pthread_mutex_lock(&rb->lock);
	rb->closing = true;
	pthread_cond_broadcast(&rb->keeper_wake);
	pthread_mutex_unlock(&rb->lock);
	if (rb->keeping)
		pthread_join(rb->keeper, NULL);
	/* No callback runs once this returns... */
	if (rb->watching)
		rbd_update_unwatch(rb->image, rb->watch);
	/* ...and no job (size, map) is left that could touch the image. */
	pthread_mutex_lock(&rb->lock);
	while (rb->jobs != 0)
		pthread_cond_wait(&rb->idle, &rb->lock);
	pthread_mutex_unlock(&rb->lock);
	if (rb->image != NULL)
		rbd_close(rb->image);
	if (rb->ioctx != NULL)
		rados_ioctx_destroy(rb->ioctx);
	if (rb->cluster != NULL)
		rados_shutdown(rb->cluster);
	pthread_cond_destroy(&rb->keeper_wake);
	pthread_cond_destroy(&rb->idle);
	pthread_mutex_destroy(&rb->lock);
	free(rb->map);
	free(rb);
}

/*
 * Closing waits on the cluster (the cache is flushed, the exclusive lock
 * released, the watch removed), each step up to timeout= when the cluster
 * is gone, and the last reference may be dropped on a reactor or the
 * control socket's thread.  So the close runs on a thread of its own;
 * rbd_closers counts those still running, and an exit handler waits a
 * little for them, so that librados is not torn down under a close that
 * is about to finish.
 */
static unsigned rbd_closers;	/* under rbd_closers_lock */
static pthread_mutex_t rbd_closers_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rbd_closers_done = PTHREAD_COND_INITIALIZER;
static pthread_once_t rbd_atexit_once = PTHREAD_ONCE_INIT;

/* At most this long at exit for closes of a cluster that is gone. */
#define RBD_EXIT_WAIT_S 2

static void rbd_exit_wait(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += RBD_EXIT_WAIT_S;
	pthread_mutex_lock(&rbd_closers_lock);
	while (rbd_closers != 0 &&
	       pthread_cond_timedwait(&rbd_closers_done, &rbd_closers_lock,
				      &until) == 0)
		;
	pthread_mutex_unlock(&rbd_closers_lock);
}

static void rbd_atexit(void)
{
	atexit(rbd_exit_wait);
}

static void *rbd_closer(void *arg)
{
	rbd_close_all(arg);
	pthread_mutex_lock(&rbd_closers_lock);
	rbd_closers--;
	pthread_cond_broadcast(&rbd_closers_done);
	pthread_mutex_unlock(&rbd_closers_lock);
	return NULL;
}

static void rbd_destroy(struct bdev *bd)
{
	struct rbd_bdev *rb = bdev_priv(bd);
	pthread_attr_t attr;
	pthread_t t;
	sigset_t all, old;
	int r;

	/* bd is freed when this returns: no resize job may touch it. */
	pthread_mutex_lock(&rb->lock);
	rb->closing = true;
	pthread_mutex_unlock(&rb->lock);
	pthread_mutex_lock(&rbd_closers_lock);
	rbd_closers++;
	pthread_mutex_unlock(&rbd_closers_lock);
	/* The closer, and librados' threads it may start, take no signal:
	 * the daemon reads its stop signals from a signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&t, &attr, rbd_closer, rb);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		rbd_closer(rb);	/* no thread: close here, blocking */
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
	.block_status = rbd_block_status,
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
	char tmo[16], tick[32];
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
	/*
	 * librados pings each watch (librbd's on the image header among
	 * them) once an objecter tick, 5 s by default.  A cluster whose
	 * `osd client watch timeout` is that short (set low for fast
	 * failover: docs/ceph-gateways.md) drops the watch of a live but
	 * loaded gateway; another gateway that wants the exclusive lock then
	 * takes the owner for dead, breaks the lock and blocklists it, and
	 * every later I/O of that gateway fails.  Ticking every second keeps
	 * the watch alive with a margin under any sane watch timeout.
	 */
	if (rados_conf_get(rb->cluster, "objecter_tick_interval", tick,
			   sizeof(tick)) == 0 && strtod(tick, NULL) > RBD_TICK_S) {
		snprintf(tick, sizeof(tick), "%u", RBD_TICK_S);
		r = rados_conf_set(rb->cluster, "objecter_tick_interval", tick);
		if (r < 0) {
			snprintf(err, errlen, "rbd: cannot set "
				 "objecter_tick_interval: %s", strerror(-r));
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
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&rb->keeper_wake, &ca);
		pthread_condattr_destroy(&ca);
	}
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
	{
		rbd_image_info_t info;

		r = rbd_stat(rb->image, &info, sizeof(info));
		if (r < 0 || info.order < 12 || info.order > 32) {
			snprintf(err, errlen, "rbd: cannot stat %s/%s: %s",
				 o->pool, o->image,
				 strerror(r < 0 ? -r : EINVAL));
			goto out_close;
		}
		rb->caw_order = (unsigned)info.order;
	}
	rbd_map_load(rb, name, size, o->snap != NULL);
	g.lbsize = o->lbsize != 0 ? o->lbsize : 512;
	g.size = size - size % g.lbsize;
	g.pbsize = 4096 > g.lbsize ? 4096 : g.lbsize;
	g.opt_xfer = RBD_OPT_XFER;
	g.max_xfer = RBD_MAX_XFER;
	g.read_only = o->read_only;
	g.can_discard = !o->read_only;
	g.can_write_zeroes = !o->read_only;
	g.discard_zeroes = false;
	/* Atomic across every client of the image (rbd_start_caw). */
	g.max_compare_write = o->read_only ? 0 : RBD_MAX_CAW;
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
	pthread_once(&rbd_atexit_once, rbd_atexit);
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
