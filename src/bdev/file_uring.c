/*
 * The file backend's io_uring engine: one ring per reactor, shared by every
 * file bdev whose I/O that reactor submits, and reaped by the reactor's own
 * event loop -- the ring's fd is watched for readability (a ring polls
 * readable while its completion queue holds entries), so a completion
 * costs no thread hand-off and no eventfd.  The ring is made on the first
 * I/O a loop submits and kept in the loop's local slot (util/evloop_local.h)
 * until the loop is destroyed.
 *
 * Submissions are batched: preparing an SQE queues one deferred call that
 * submits everything prepared during the current callback, so a front end
 * that parses several requests from one receive pays one io_uring_enter.
 *
 * What goes through the ring: reads and writes (FUA as RWF_DSYNC),
 * buffered or O_DIRECT (unaligned O_DIRECT buffers bounced through an
 * aligned copy, as the pool does), flush (fdatasync), and on regular files
 * discard and write-zeroes as fallocate.  What stays on the worker pool
 * (file.c), because io_uring cannot do it or cannot do it right:
 *  - atomic writes, which take atomic_rw for writing and so must be able
 *    to sleep;
 *  - I/O submitted from a thread that is not io->loop's (a ring is used
 *    only by its loop's thread), or on a loop whose ring could not be made;
 *  - data I/O when atomic_rw cannot be had for reading at once (an atomic
 *    write holds or waits for it): the pool waits for it, a reactor must
 *    not;
 *  - discard and write-zeroes on block devices (BLKDISCARD is an ioctl),
 *    write-zeroes with FUA or that the file system cannot fallocate (the
 *    pool's write-zeroes has all the fallbacks);
 *  - anything the kernel answered with less than the whole transfer (a
 *    short read at end of file, -EAGAIN, RWF_DSYNC refused): the pool
 *    redoes it from the start and gives the authoritative answer.
 * A data I/O in the ring holds atomic_rw for reading from submission to
 * completion, taken and released on the loop's thread, so an atomic write
 * on the pool waits for it exactly as it waits for the pool's own I/O.
 *
 * Registered buffers are not used: the buffers belong to the front ends
 * and change with every I/O, and registering per I/O costs more than it
 * saves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "bdev/file_int.h"
#include "util/evloop_local.h"

#ifdef SK_HAVE_LIBURING

#include <linux/falloc.h>
#include <liburing.h>

/* SQ entries per ring, and CQ entries: room for every I/O a reactor's
 * front ends keep in flight (an iSCSI session alone may have hundreds).
 * Past that the kernel keeps the overflowing completions
 * (IORING_FEAT_NODROP) and the reaper flushes them in. */
#define URING_SQ_ENTRIES 256
#define URING_CQ_ENTRIES 4096

/* io->priv use while an I/O is in a ring. */
#define URING_P_BOUNCE 0	/* aligned bounce buffer, or 0 */
#define URING_P_LOCKED 1	/* 1: holds atomic_rw for reading */

struct uring_loop {
	struct io_uring ring;
	struct ev_loop *loop;
	struct ev_io *watch;
	unsigned inflight;	/* submitted or prepared, not reaped */
	bool submit_queued;	/* a deferred submit is pending */
	bool dead;		/* ring creation failed: use the pool */
	bool closing;		/* the loop is being destroyed */
};

/* The slot key of the loop-local ring. */
static const char uring_key;

int file_uring_probe(char *err, size_t errlen)
{
	/* Once per process: 1 ok, -errno refused, 0 not yet asked. */
	static int verdict;
	int v = __atomic_load_n(&verdict, __ATOMIC_ACQUIRE);
	struct io_uring r;

	if (getenv("SK_URING_DISABLE") != NULL) {
		snprintf(err, errlen, "io_uring disabled by SK_URING_DISABLE");
		return -EPERM;
	}
	if (v == 0) {
		v = io_uring_queue_init(2, &r, 0);
		if (v == 0) {
			io_uring_queue_exit(&r);
			v = 1;
		}
		__atomic_store_n(&verdict, v, __ATOMIC_RELEASE);
	}
	if (v == 1)
		return 0;
	snprintf(err, errlen, "the kernel refuses io_uring: %s%s",
		 strerror(-v),
		 v == -EPERM ? " (sysctl kernel.io_uring_disabled?)" : "");
	return v;
}

static void uring_complete(struct file_bdev *f, struct bdev_io *io, int res,
			   bool final);

static void uring_reap(struct uring_loop *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	struct bdev_io *batch[64];
	int res[64];

	/* Take a batch off the ring before completing any: a callback may
	 * submit again and so touch the ring. */
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		batch[n] = io_uring_cqe_get_data(cqe);
		res[n] = cqe->res;
		if (++n == 64)
			break;
	}
	io_uring_cq_advance(&u->ring, n);
	u->inflight -= n;
	for (unsigned i = 0; i < n; i++)
		uring_complete(bdev_priv(batch[i]->bd), batch[i], res[i],
			       false);
}

static void uring_readable(struct ev_io *w, int fd, uint32_t events,
			   void *arg)
{
	struct uring_loop *u = arg;

	/* Until empty: the ring stays readable while entries remain, but
	 * a second epoll round for them would be a waste.  Completions the
	 * CQ had no room for wait in the kernel until asked for. */
	for (;;) {
		if (io_uring_cq_ready(&u->ring) > 0)
			uring_reap(u);
		else if (io_uring_cq_has_overflow(&u->ring))
			io_uring_get_events(&u->ring);
		else
			break;
	}
}

static void uring_submit_now(struct uring_loop *u)
{
	int rc;

	do {
		rc = io_uring_submit(&u->ring);
	} while (rc == -EINTR);
	/* -EAGAIN/-EBUSY: the kernel is short of resources or has too many
	 * completions unreaped; the SQEs stay queued and go with the next
	 * submit, after the loop has reaped.  Never reaped from here: this
	 * may run inside a submit, and completing other I/Os there would
	 * run their callbacks inside the caller's. */
	if (rc < 0 && rc != -EAGAIN && rc != -EBUSY)
		log_warn("file: io_uring_submit: %s", strerror(-rc));
}

static void uring_submit_deferred(void *arg)
{
	struct uring_loop *u = arg;

	u->submit_queued = false;
	uring_submit_now(u);
	/* Anything still queued (the kernel said EAGAIN) goes next time. */
	if (io_uring_sq_ready(&u->ring) > 0 && !u->submit_queued &&
	    ev_loop_defer(u->loop, uring_submit_deferred, u) == 0)
		u->submit_queued = true;
}

/* Loop-local destructor: wait out what is in flight, then free.  The
 * completions run their callbacks here, on the loop's thread; nothing goes
 * to the pool any more (its completion could not come back). */
static void uring_loop_free(void *arg)
{
	struct uring_loop *u = arg;

	u->closing = true;
	if (!u->dead) {
		if (u->inflight > 0)
			log_warn("file: loop destroyed with %u io_uring I/Os "
				 "in flight; waiting for them", u->inflight);
		uring_submit_now(u);
		while (u->inflight > 0) {
			struct io_uring_cqe *cqe;
			struct bdev_io *io;
			int res;

			if (io_uring_wait_cqe(&u->ring, &cqe) != 0)
				break;
			io = io_uring_cqe_get_data(cqe);
			res = cqe->res;
			io_uring_cqe_seen(&u->ring, cqe);
			u->inflight--;
			uring_complete(bdev_priv(io->bd), io, res, true);
		}
		ev_io_del(u->watch);
		io_uring_queue_exit(&u->ring);
	}
	free(u);
}

static int uring_init(struct uring_loop *u)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = URING_CQ_ENTRIES;
	return io_uring_queue_init_params(URING_SQ_ENTRIES, &u->ring, &p);
}

/* The ring of the calling thread's loop, made on first use; NULL when
 * there is none (creation failed: remembered, so it is tried once). */
static struct uring_loop *uring_loop_get(struct ev_loop *loop)
{
	struct uring_loop *u = ev_loop_local_get(loop, &uring_key);
	int rc;

	if (u != NULL)
		return u->dead || u->closing ? NULL : u;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return NULL;
	u->loop = loop;
	rc = getenv("SK_URING_DISABLE") != NULL ? -EPERM : uring_init(u);
	if (rc == 0) {
		u->watch = ev_io_add(loop, u->ring.ring_fd, EV_READ,
				     uring_readable, u);
		if (u->watch == NULL) {
			rc = -errno;
			io_uring_queue_exit(&u->ring);
		}
	}
	if (rc != 0) {
		log_warn("file: no io_uring for this reactor (%s); its I/O "
			 "goes to the worker pool", strerror(-rc));
		u->dead = true;
	}
	if (ev_loop_local_set(loop, &uring_key, u, uring_loop_free) != 0) {
		if (!u->dead) {
			ev_io_del(u->watch);
			io_uring_queue_exit(&u->ring);
		}
		free(u);
		return NULL;
	}
	return u->dead ? NULL : u;
}

static struct io_uring_sqe *uring_sqe(struct uring_loop *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (sqe == NULL) {
		/* SQ full: send what is queued and take a fresh entry. */
		uring_submit_now(u);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static void uring_release(struct file_bdev *f, struct bdev_io *io)
{
	if (io->priv[URING_P_LOCKED]) {
		io->priv[URING_P_LOCKED] = 0;
		pthread_rwlock_unlock(&f->atomic_rw);
	}
	free((void *)(uintptr_t)io->priv[URING_P_BOUNCE]);
	io->priv[URING_P_BOUNCE] = 0;
}

/* Back to the pool, from a completion: the pool redoes the whole I/O.
 * Not when final (the loop is going away: the pool's completion could not
 * come back), then what the ring said, or -EIO for a short transfer. */
static void uring_redo(struct file_bdev *f, struct bdev_io *io, int res,
		       bool final)
{
	int rc = final ? (res < 0 ? res : -EIO) : file_pool_submit(f, io);

	if (rc != 0)
		bdev_io_complete(io, rc);
}

static bool uring_unsupported(int res)
{
	return res == -EOPNOTSUPP || res == -ENOSYS || res == -EINVAL;
}

static void uring_complete(struct file_bdev *f, struct bdev_io *io, int res,
			   bool final)
{
	bool rw = io->type == BDEV_IO_READ || io->type == BDEV_IO_WRITE;
	void *bounce = (void *)(uintptr_t)io->priv[URING_P_BOUNCE];

	if (rw && res >= 0 && (uint64_t)res == io->length) {
		if (bounce != NULL && io->type == BDEV_IO_READ) {
			struct iov_cursor cur;

			iov_cursor_init(&cur, io->iov, io->iovcnt);
			iov_cursor_from_buf(&cur, bounce, (size_t)io->length);
		}
		res = 0;
	} else if (rw && (res >= 0 || res == -EAGAIN || res == -EINTR)) {
		/* Short (end of file, or the kernel stopped early) or not
		 * done at all: the pool's loops get it right. */
		uring_release(f, io);
		uring_redo(f, io, res, final);
		return;
	}
	uring_release(f, io);
	if (io->type == BDEV_IO_WRITE && (io->flags & BDEV_IO_FUA) &&
	    uring_unsupported(res)) {
		/* RWF_DSYNC refused: the pool writes then syncs. */
		__atomic_store_n(&f->no_rwf_dsync, true, __ATOMIC_RELAXED);
		uring_redo(f, io, res, final);
		return;
	}
	if (io->type == BDEV_IO_WRITE_ZEROES && uring_unsupported(res)) {
		uring_redo(f, io, res, final);
		return;
	}
	if (io->type == BDEV_IO_DISCARD && uring_unsupported(res))
		res = -ENOTSUP;
	__atomic_add_fetch(&f->n_uring, 1, __ATOMIC_RELAXED);
	bdev_io_complete(io, res);
}

/* True when io is for the pool (see the file comment). */
static bool uring_pool_only(const struct file_bdev *f,
			    const struct bdev_io *io)
{
	switch (io->type) {
	case BDEV_IO_READ:
		return false;
	case BDEV_IO_WRITE:
		return (io->flags & BDEV_IO_ATOMIC) ||
		       ((io->flags & BDEV_IO_FUA) &&
			__atomic_load_n(&f->no_rwf_dsync, __ATOMIC_RELAXED));
	case BDEV_IO_FLUSH:
		return false;
	case BDEV_IO_DISCARD:
		return f->is_blk;
	case BDEV_IO_WRITE_ZEROES:
		/* The file case of file_write_zeroes' first choice goes in
		 * the ring; its fallbacks (and FUA) are the pool's. */
		return f->is_blk || (io->flags & BDEV_IO_FUA);
	default:
		return true;
	}
}

/* An aligned copy of an O_DIRECT I/O's buffers where they do not meet
 * the alignment (the pool's rule: the length is whole blocks, so only
 * the memory needs fixing).  -ENOMEM, 0 if no bounce is needed, 1 if
 * io->priv[URING_P_BOUNCE] holds one. */
static int uring_bounce(const struct file_bdev *f, struct bdev_io *io)
{
	size_t blen;
	void *buf;

	if (!f->direct || io->type > BDEV_IO_WRITE ||
	    iov_aligned(io->iov, io->iovcnt, f->mem_align))
		return 0;
	blen = ((size_t)io->length + f->mem_align - 1) &
	       ~((size_t)f->mem_align - 1);
	buf = aligned_alloc(f->mem_align, blen);
	if (buf == NULL)
		return -ENOMEM;
	if (io->type == BDEV_IO_WRITE) {
		struct iov_cursor cur;

		iov_cursor_init(&cur, io->iov, io->iovcnt);
		iov_cursor_to_buf(&cur, buf, (size_t)io->length);
	}
	io->priv[URING_P_BOUNCE] = (uintptr_t)buf;
	return 1;
}

static void uring_prep_rw(const struct file_bdev *f,
			  struct io_uring_sqe *sqe, struct bdev_io *io)
{
	bool write = io->type == BDEV_IO_WRITE;
	void *bounce = (void *)(uintptr_t)io->priv[URING_P_BOUNCE];
	const struct iovec *iov = io->iov;
	unsigned cnt = (unsigned)io->iovcnt;

	if (bounce != NULL || cnt == 1) {
		/* One buffer: the plain opcodes skip the iovec import. */
		void *base = bounce != NULL ? bounce : iov[0].iov_base;

		if (write)
			io_uring_prep_write(sqe, f->fd, base,
					    (unsigned)io->length, io->offset);
		else
			io_uring_prep_read(sqe, f->fd, base,
					   (unsigned)io->length, io->offset);
	} else if (write) {
		io_uring_prep_writev(sqe, f->fd, iov, cnt, io->offset);
	} else {
		io_uring_prep_readv(sqe, f->fd, iov, cnt, io->offset);
	}
	if (write && (io->flags & BDEV_IO_FUA))
		sqe->rw_flags = RWF_DSYNC;
	/* A large buffered read would be copied out of the page cache on
	 * this reactor's thread, inside io_uring_enter; on a kernel worker
	 * the copy runs on another core while the reactor serves the
	 * network (FILE_NOWAIT_MAX's reason). */
	if (!write && !f->direct && io->length > FILE_NOWAIT_MAX)
		sqe->flags |= IOSQE_ASYNC;
}

static void uring_prep(const struct file_bdev *f, struct io_uring_sqe *sqe,
		       struct bdev_io *io)
{
	int keep = FALLOC_FL_KEEP_SIZE;

	switch (io->type) {
	case BDEV_IO_READ:
	case BDEV_IO_WRITE:
		uring_prep_rw(f, sqe, io);
		break;
	case BDEV_IO_FLUSH:
		io_uring_prep_fsync(sqe, f->fd, IORING_FSYNC_DATASYNC);
		break;
	case BDEV_IO_DISCARD:
		io_uring_prep_fallocate(sqe, f->fd, FALLOC_FL_PUNCH_HOLE | keep,
					io->offset, io->length);
		break;
	default: /* BDEV_IO_WRITE_ZEROES */
		io_uring_prep_fallocate(sqe, f->fd,
					(io->flags & BDEV_IO_NO_UNMAP)
						? FALLOC_FL_ZERO_RANGE | keep
						: FALLOC_FL_PUNCH_HOLE | keep,
					io->offset, io->length);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
}

int file_uring_submit(struct file_bdev *f, struct bdev_io *io)
{
	struct io_uring_sqe *sqe;
	struct uring_loop *u;
	bool data = io->type != BDEV_IO_FLUSH;

	if (uring_pool_only(f, io) || !ev_loop_in_thread(io->loop))
		return file_pool_submit(f, io);
	u = uring_loop_get(io->loop);
	if (u == NULL)
		return file_pool_submit(f, io);
	/* Hold off atomic writes for as long as this I/O is in the ring;
	 * if one holds or awaits the lock, the pool waits for it. */
	if (data && pthread_rwlock_tryrdlock(&f->atomic_rw) != 0)
		return file_pool_submit(f, io);
	io->priv[URING_P_LOCKED] = data;
	io->priv[URING_P_BOUNCE] = 0;
	sqe = uring_bounce(f, io) < 0 ? NULL : uring_sqe(u);
	if (sqe == NULL) {
		uring_release(f, io);
		return file_pool_submit(f, io);
	}
	uring_prep(f, sqe, io);
	u->inflight++;
	if (!u->submit_queued) {
		if (ev_loop_defer(u->loop, uring_submit_deferred, u) == 0)
			u->submit_queued = true;
		else
			uring_submit_now(u);
	}
	return 0;
}

#else /* !SK_HAVE_LIBURING */

int file_uring_probe(char *err, size_t errlen)
{
	snprintf(err, errlen, "this scsikit was built without liburing");
	return -ENOTSUP;
}

int file_uring_submit(struct file_bdev *f, struct bdev_io *io)
{
	return file_pool_submit(f, io);
}

#endif
