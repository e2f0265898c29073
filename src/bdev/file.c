/*
 * The file backend: a regular file or a block device, optionally opened
 * with O_DIRECT.
 *
 * Every operation is a blocking system call, so each I/O runs on the worker
 * pool (bdev_pool_run) and completes back onto the submitting reactor with
 * bdev_io_complete_remote() -- except a small buffered read (up to
 * FILE_NOWAIT_MAX) whose data is all in the page cache: that one is tried
 * first on the submitting reactor with
 * preadv2(RWF_NOWAIT), which copies from the cache or refuses with EAGAIN
 * without sleeping, and completes with bdev_io_complete_deferred().  It
 * saves the two thread hand-offs (the worker's wake-up and the reactor's)
 * that dominate a cached 4 KiB read.  Anything less than the whole transfer
 * (EAGAIN, a short read, end of file, an error) goes to the pool, which
 * redoes it with ordinary blocking reads and so gives the authoritative
 * answer.  Small buffered writes (up to FILE_NOWAIT_MAX, neither FUA nor
 * atomic; with inline_write up to 128 KiB) are tried on the reactor the same
 * way, with pwritev2(RWF_NOWAIT);
 * ext4 refuses that flag for buffered writes, and there the option
 * inline_write lets them be done on the reactor with a plain pwritev,
 * which may sleep (inline_write.h has the rules and the guard).  The rest
 * of the writes, and anything the inline attempt did not finish, take the
 * engine.
 * Pool reads and writes are preadv/pwritev loops that survive short
 * transfers; a read past the end of a regular file (possible when the file
 * shrank under us) returns zeroes.  FUA writes use
 * pwritev2(RWF_DSYNC), falling back to write + fdatasync where the kernel
 * or file system refuses the flag.  With O_DIRECT, an iov that is not
 * aligned to the file's direct-I/O memory alignment is bounced through an
 * aligned buffer.
 *
 * Discard punches a hole (BLKDISCARD on a device); write-zeroes punches
 * (or, with NO_UNMAP, zero-ranges) and falls back to writing zeroes unless
 * FAST_ZERO forbids the slow way.  Block status comes from
 * SEEK_DATA/SEEK_HOLE.  Flush is fdatasync: the page cache and the device
 * cache are volatile.
 *
 * Atomic writes (BDEV_IO_ATOMIC, up to FILE_MAX_XFER): Debian 12's kernel
 * headers have no RWF_ATOMIC, so atomicity is provided within scsikit: an
 * atomic write holds atomic_rw for writing while every other data I/O of
 * this bdev holds it for reading (the inline read only tries it), so no
 * read sees part of an atomic write and no write interleaves with it.  It
 * is not crash-atomic: after a power loss the range may hold old and new
 * blocks mixed (docs/bdev.md); with FUA it is stable once acknowledged.
 * Another process writing the same file is not covered either.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "bdev/bdev_int.h"
#include "bdev/file_int.h"
#include "bdev/file_stats.h"
#include "bdev/inline_write.h"
#include "bdev/nowait_backoff.h"

#define FILE_MAX_XFER (4u * 1024 * 1024)
#define FILE_OPT_XFER (128u * 1024)
/* Size of the buffer used to write zeroes the slow way. */
#define FILE_ZERO_BUF (1u * 1024 * 1024)
/* Small iov lists are copied on the stack, larger ones on the heap. */
#define FILE_IOV_STACK 16
/* The engine of a disk that names none: the one measured faster
 * (docs/performance.md, "io_uring against the worker pool"). */
#define FILE_ENGINE_DEFAULT BDEV_FILE_ENGINE_URING


static int file_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* Move *iov / *cnt past n bytes, in place. */
static void file_iov_advance(struct iovec **iov, int *cnt, size_t n)
{
	while (n > 0 && *cnt > 0) {
		if (n >= (*iov)->iov_len) {
			n -= (*iov)->iov_len;
			(*iov)++;
			(*cnt)--;
		} else {
			(*iov)->iov_base = (char *)(*iov)->iov_base + n;
			(*iov)->iov_len -= n;
			n = 0;
		}
	}
	/* Skip empty elements so that a 0 return means end of file. */
	while (*cnt > 0 && (*iov)->iov_len == 0) {
		(*iov)++;
		(*cnt)--;
	}
}

/*
 * Transfer len bytes at off through iov (which is modified).  *need_sync is
 * set when a FUA write had to fall back to a plain write.
 */
static int file_xfer(struct file_bdev *f, bool write, bool fua,
		     struct iovec *iov, int cnt, uint64_t off, uint64_t len,
		     bool *need_sync)
{
	file_iov_advance(&iov, &cnt, 0);
	while (len > 0 && cnt > 0) {
		ssize_t n;

		if (!write) {
			n = preadv(f->fd, iov, cnt, (off_t)off);
		} else if (fua && !__atomic_load_n(&f->no_rwf_dsync,
						   __ATOMIC_RELAXED)) {
			n = pwritev2(f->fd, iov, cnt, (off_t)off, RWF_DSYNC);
			if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS)) {
				__atomic_store_n(&f->no_rwf_dsync, true,
						 __ATOMIC_RELAXED);
				continue;
			}
		} else {
			n = pwritev(f->fd, iov, cnt, (off_t)off);
			if (fua)
				*need_sync = true;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return file_errno();
		}
		if (n == 0) {
			struct iov_cursor cur;

			/* End of file.  A regular file that shrank reads
			 * as zeroes past its end; a device never should. */
			if (write || f->is_blk)
				return -EIO;
			iov_cursor_init(&cur, iov, cnt);
			iov_cursor_zero(&cur, len);
			return 0;
		}
		file_iov_advance(&iov, &cnt, (size_t)n);
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int file_rw(struct file_bdev *f, struct bdev_io *io)
{
	bool write = io->type == BDEV_IO_WRITE;
	bool fua = write && (io->flags & BDEV_IO_FUA) != 0;
	bool need_sync = false;
	struct iovec stack[FILE_IOV_STACK];
	struct iovec *v;
	int rc;

	if (f->direct && !iov_aligned(io->iov, io->iovcnt, f->mem_align)) {
		/* The caller's buffers do not meet O_DIRECT's rules: go
		 * through an aligned copy.  The length is a multiple of the
		 * logical block size, which is at least the offset
		 * alignment, so only memory needs fixing. */
		size_t blen = (size_t)io->length;
		struct iovec one;
		struct iov_cursor cur;
		void *buf;

		blen = (blen + f->mem_align - 1) & ~((size_t)f->mem_align - 1);
		buf = aligned_alloc(f->mem_align, blen);
		if (buf == NULL)
			return -ENOMEM;
		iov_cursor_init(&cur, io->iov, io->iovcnt);
		if (write)
			iov_cursor_to_buf(&cur, buf, (size_t)io->length);
		one.iov_base = buf;
		one.iov_len = (size_t)io->length;
		rc = file_xfer(f, write, fua, &one, 1, io->offset, io->length,
			       &need_sync);
		if (rc == 0 && !write)
			iov_cursor_from_buf(&cur, buf, (size_t)io->length);
		free(buf);
	} else {
		v = io->iovcnt <= FILE_IOV_STACK
			    ? stack
			    : malloc((size_t)io->iovcnt * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		memcpy(v, io->iov, (size_t)io->iovcnt * sizeof(*v));
		rc = file_xfer(f, write, fua, v, io->iovcnt, io->offset,
			       io->length, &need_sync);
		if (v != stack)
			free(v);
	}
	if (rc == 0 && need_sync && fdatasync(f->fd) != 0)
		rc = file_errno();
	return rc;
}

/* Write zeroes the slow way, a buffer at a time. */
static int file_write_zero_buf(struct file_bdev *f, uint64_t off,
			       uint64_t len, bool fua)
{
	bool need_sync = false;
	void *buf = aligned_alloc(4096, FILE_ZERO_BUF);
	int rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	memset(buf, 0, FILE_ZERO_BUF);
	while (len > 0 && rc == 0) {
		size_t n = len < FILE_ZERO_BUF ? (size_t)len : FILE_ZERO_BUF;
		struct iovec one = { buf, n };

		rc = file_xfer(f, true, fua, &one, 1, off, n, &need_sync);
		off += n;
		len -= n;
	}
	free(buf);
	if (rc == 0 && need_sync && fdatasync(f->fd) != 0)
		rc = file_errno();
	return rc;
}

static int file_fallocate(struct file_bdev *f, int mode, uint64_t off,
			  uint64_t len)
{
	if (fallocate(f->fd, mode, (off_t)off, (off_t)len) == 0)
		return 0;
	return file_errno();
}

static bool file_unsupported(int rc)
{
	return rc == -EOPNOTSUPP || rc == -ENOSYS || rc == -EINVAL;
}

static int file_discard(struct file_bdev *f, struct bdev_io *io)
{
	int rc;

	if (f->is_blk) {
		uint64_t range[2] = { io->offset, io->length };

		if (ioctl(f->fd, BLKDISCARD, range) != 0)
			return file_errno();
		return 0;
	}
	rc = file_fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			    io->offset, io->length);
	return file_unsupported(rc) ? -ENOTSUP : rc;
}

/*
 * Write-zeroes, cheapest way first.  Without NO_UNMAP a punched hole is
 * ideal (it reads zeroes and frees space); with it, ZERO_RANGE keeps the
 * range allocated.  On a device, PUNCH_HOLE means "zero without falling
 * back to writing", ZERO_RANGE may write.  Writing zeroes ourselves is the
 * last resort, refused under FAST_ZERO.
 */
static int file_write_zeroes(struct file_bdev *f, struct bdev_io *io)
{
	bool nounmap = (io->flags & BDEV_IO_NO_UNMAP) != 0;
	bool fast = (io->flags & BDEV_IO_FAST_ZERO) != 0;
	bool fua = (io->flags & BDEV_IO_FUA) != 0;
	int rc = -EOPNOTSUPP;

	if (f->is_blk) {
		if (fast && !f->wz_hw)
			return -ENOTSUP;
		rc = file_fallocate(f, nounmap ? FALLOC_FL_ZERO_RANGE
					       : FALLOC_FL_PUNCH_HOLE |
							 FALLOC_FL_KEEP_SIZE,
				    io->offset, io->length);
		if (file_unsupported(rc) && !nounmap)
			rc = file_fallocate(f, FALLOC_FL_ZERO_RANGE,
					    io->offset, io->length);
	} else {
		if (!nounmap)
			rc = file_fallocate(f, FALLOC_FL_PUNCH_HOLE |
						       FALLOC_FL_KEEP_SIZE,
					    io->offset, io->length);
		if (file_unsupported(rc))
			rc = file_fallocate(f, FALLOC_FL_ZERO_RANGE |
						       FALLOC_FL_KEEP_SIZE,
					    io->offset, io->length);
	}
	if (file_unsupported(rc)) {
		if (fast)
			return -ENOTSUP;
		return file_write_zero_buf(f, io->offset, io->length, fua);
	}
	if (rc == 0 && fua && fdatasync(f->fd) != 0)
		rc = file_errno();
	return rc;
}

static void file_work(void *arg);

int file_pool_submit(struct file_bdev *f, struct bdev_io *io)
{
	int rc;

	/* Counted before the hand-off: once queued, io may complete and be
	 * gone before bdev_pool_run returns. */
	__atomic_add_fetch(&f->n_pool, 1, __ATOMIC_RELAXED);
	rc = bdev_pool_run(file_work, io);
	if (rc != 0)
		__atomic_sub_fetch(&f->n_pool, 1, __ATOMIC_RELAXED);
	return rc;
}

static void file_work(void *arg)
{
	struct bdev_io *io = arg;
	struct file_bdev *f = bdev_priv(io->bd);
	bool excl = (io->flags & BDEV_IO_ATOMIC) != 0;
	bool locked = io->type != BDEV_IO_FLUSH;
	int rc;

	if (excl)
		pthread_rwlock_wrlock(&f->atomic_rw);
	else if (locked)
		pthread_rwlock_rdlock(&f->atomic_rw);
	switch (io->type) {
	case BDEV_IO_READ:
	case BDEV_IO_WRITE:
		rc = file_rw(f, io);
		break;
	case BDEV_IO_FLUSH:
		rc = fdatasync(f->fd) == 0 ? 0 : file_errno();
		break;
	case BDEV_IO_DISCARD:
		rc = file_discard(f, io);
		break;
	case BDEV_IO_WRITE_ZEROES:
		rc = file_write_zeroes(f, io);
		break;
	default:
		rc = -ENOTSUP;
		break;
	}
	if (excl || locked)
		pthread_rwlock_unlock(&f->atomic_rw);
	bdev_io_complete_remote(io, rc);
}

/*
 * Try a read without sleeping: true if the whole transfer was copied from
 * the page cache.  preadv2 does not modify the iov, so a refusal leaves
 * nothing to undo; a partial copy is simply done again by the pool.
 */
static bool file_read_nowait(struct file_bdev *f, struct bdev_io *io)
{
	unsigned streak;
	ssize_t n;

	if (f->direct || io->length > FILE_NOWAIT_MAX ||
	    __atomic_load_n(&f->no_nowait, __ATOMIC_RELAXED))
		return false;
	/* Past a run of refusals, only now and then (nowait_backoff.h). */
	if (!nowait_backoff_try(&f->miss_streak, &streak))
		return false;
	/* An atomic write in progress: the pool waits for it. */
	if (pthread_rwlock_tryrdlock(&f->atomic_rw) != 0)
		return false;
	if (__atomic_load_n(&f->refuse_nowait_r, __ATOMIC_RELAXED)) {
		n = -1;
		errno = EAGAIN;
	} else {
		n = preadv2(f->fd, io->iov, io->iovcnt, (off_t)io->offset,
			    RWF_NOWAIT);
	}
	pthread_rwlock_unlock(&f->atomic_rw);
	if (n >= 0 && (uint64_t)n == io->length) {
		nowait_backoff_hit(&f->miss_streak, streak);
		return true;
	}
	if (n < 0 && (errno == EOPNOTSUPP || errno == ENOSYS ||
		      errno == EINVAL)) {
		/* An old kernel or a file system without non-blocking
		 * buffered reads: stop asking. */
		__atomic_store_n(&f->no_nowait, true, __ATOMIC_RELAXED);
		return false;
	}
	__atomic_add_fetch(&f->n_miss, 1, __ATOMIC_RELAXED);
	nowait_backoff_miss(&f->miss_streak, streak);
	return false;
}

/*
 * Try a small buffered write on the submitting reactor (inline_write.h
 * says when and why): true if all of it is in the page cache.  Anything
 * else leaves it to the engine, which writes the whole range again.  FUA
 * and atomic writes never come here (flags == 0): the first sleeps by
 * definition, the second takes atomic_rw for writing.
 */
static bool file_write_inline(struct file_bdev *f, struct bdev_io *io)
{
	bool nowait = !__atomic_load_n(&f->no_nowait_w, __ATOMIC_RELAXED);
	uint64_t t0 = 0;
	ssize_t n;
	int err;

	if (f->direct || io->flags != 0 ||
	    io->length > (f->inline_write ? IW_MAX_BLOCKING : FILE_NOWAIT_MAX))
		return false;
	if (!nowait) {
		if (!f->inline_write)
			return false;
		t0 = ev_now_ns();
		if (!iw_blocking_ok(&f->iw_off_until, t0))
			return false;
	}
	if (pthread_rwlock_tryrdlock(&f->atomic_rw) != 0)
		return false;
	if (nowait)
		n = pwritev2(f->fd, io->iov, io->iovcnt, (off_t)io->offset,
			     RWF_NOWAIT);
	else
		n = pwritev(f->fd, io->iov, io->iovcnt, (off_t)io->offset);
	err = errno;
	pthread_rwlock_unlock(&f->atomic_rw);
	if (!nowait && iw_blocking_done(&f->iw_off_until,
					__atomic_load_n(&f->iw_slow_ns,
							__ATOMIC_RELAXED),
					t0, ev_now_ns()))
		__atomic_add_fetch(&f->n_wslow, 1, __ATOMIC_RELAXED);
	switch (iw_verdict(n, err, io->length, nowait)) {
	case IW_DONE:
		return true;
	case IW_NO_NOWAIT:
		/* ext4 and the like: not again, and this one may still go
		 * inline the blocking way if the disk allows it. */
		__atomic_store_n(&f->no_nowait_w, true, __ATOMIC_RELAXED);
		return f->inline_write && file_write_inline(f, io);
	case IW_ENGINE:
		break;
	}
	__atomic_add_fetch(&f->n_wmiss, 1, __ATOMIC_RELAXED);
	return false;
}

static int file_submit(struct bdev *bd, struct bdev_io *io)
{
	struct file_bdev *f = bdev_priv(bd);

	if ((io->type == BDEV_IO_READ && file_read_nowait(f, io)) ||
	    (io->type == BDEV_IO_WRITE && file_write_inline(f, io))) {
		__atomic_add_fetch(io->type == BDEV_IO_READ ? &f->n_inline
							   : &f->n_inline_w,
				   1, __ATOMIC_RELAXED);
		/* Still later, on io->loop: the async contract holds. */
		bdev_io_complete_deferred(io, 0);
		return 0;
	}
	if (f->uring)
		return file_uring_submit(f, io);
	return file_pool_submit(f, io);
}

void bdev_file_counts(struct bdev *bd, struct bdev_file_counts *c)
{
	struct file_bdev *f = bdev_priv(bd);

	c->inline_reads = __atomic_load_n(&f->n_inline, __ATOMIC_RELAXED);
	c->pool_ios = __atomic_load_n(&f->n_pool, __ATOMIC_RELAXED);
	c->inline_misses = __atomic_load_n(&f->n_miss, __ATOMIC_RELAXED);
	c->uring_ios = __atomic_load_n(&f->n_uring, __ATOMIC_RELAXED);
	c->inline_writes = __atomic_load_n(&f->n_inline_w, __ATOMIC_RELAXED);
	c->write_misses = __atomic_load_n(&f->n_wmiss, __ATOMIC_RELAXED);
	c->slow_writes = __atomic_load_n(&f->n_wslow, __ATOMIC_RELAXED);
}

void bdev_file_set_inline_slow(struct bdev *bd, uint64_t ns)
{
	struct file_bdev *f = bdev_priv(bd);

	__atomic_store_n(&f->iw_slow_ns, ns, __ATOMIC_RELAXED);
}

void bdev_file_no_nowait_write(struct bdev *bd)
{
	struct file_bdev *f = bdev_priv(bd);

	__atomic_store_n(&f->no_nowait_w, true, __ATOMIC_RELAXED);
}

void bdev_file_refuse_nowait_read(struct bdev *bd, bool on)
{
	struct file_bdev *f = bdev_priv(bd);

	__atomic_store_n(&f->refuse_nowait_r, on, __ATOMIC_RELAXED);
}

static void file_destroy(struct bdev *bd)
{
	struct file_bdev *f = bdev_priv(bd);

	close(f->fd);
	pthread_rwlock_destroy(&f->atomic_rw);
	free(f->path);
	free(f);
}

/* Holes from SEEK_DATA/SEEK_HOLE, rounded to whole logical blocks (a
 * block that is partly data is reported as data). */
static int file_block_status(struct bdev *bd, uint64_t offset,
			     uint64_t length, enum bdev_alloc_state *state,
			     uint64_t *run)
{
	struct file_bdev *f = bdev_priv(bd);
	uint32_t lbs = bdev_geometry(bd)->lbsize;
	off_t data, hole;

	*state = BDEV_MAPPED;
	*run = length;
	if (f->is_blk)
		return 0;
	data = lseek(f->fd, (off_t)offset, SEEK_DATA);
	if (data < 0 && errno == ENXIO) {
		/* Nothing but hole up to the end of the file. */
		*state = BDEV_DEALLOCATED;
		return 0;
	}
	if (data < 0)
		return 0; /* no SEEK_DATA here: all mapped */
	if ((uint64_t)data > offset) {
		uint64_t n = (uint64_t)data - offset;

		n -= n % lbs;
		if (n > 0) {
			*state = BDEV_DEALLOCATED;
			*run = n < length ? n : length;
			return 0;
		}
	}
	hole = lseek(f->fd, (off_t)offset, SEEK_HOLE);
	if (hole >= 0) {
		/* At least the first block: a hole shorter than a block at
		 * offset counts as data. */
		uint64_t n = (uint64_t)hole > offset ? (uint64_t)hole - offset
						     : lbs;

		n = (n + lbs - 1) / lbs * lbs;
		*run = n < length ? n : length;
	}
	return 0;
}

static void file_describe(struct bdev *bd, char *buf, size_t len)
{
	struct file_bdev *f = bdev_priv(bd);

	snprintf(buf, len, "file:%s%s%s%s,engine=%s%s", f->path,
		 f->is_blk ? " (block device)" : "", f->direct ? ",direct" : "",
		 f->read_only ? ",ro" : "", f->uring ? "uring" : "pool",
		 f->inline_write ? ",inline_write" : "");
}

static const struct bdev_ops file_ops = {
	.name = "file",
	.submit = file_submit,
	.destroy = file_destroy,
	.block_status = file_block_status,
	.describe = file_describe,
};

/* A number from /sys/dev/block/M:m/queue/<attr> (or the parent's queue,
 * for a partition); -1 if unreadable. */
static long long file_sysfs_queue(dev_t rdev, const char *attr)
{
	const char *fmts[] = { "/sys/dev/block/%u:%u/queue/%s",
			       "/sys/dev/block/%u:%u/../queue/%s" };

	for (unsigned i = 0; i < 2; i++) {
		char p[128];
		long long v;
		FILE *fp;
		int ok;

		snprintf(p, sizeof(p), fmts[i], major(rdev), minor(rdev), attr);
		fp = fopen(p, "re");
		if (fp == NULL)
			continue;
		ok = fscanf(fp, "%lld", &v) == 1;
		fclose(fp);
		if (ok)
			return v;
	}
	return -1;
}

/*
 * Settle o->engine to POOL or URING.  An explicit engine=uring is refused
 * only by a build without liburing (the user asked for something this
 * binary cannot do); a kernel that refuses io_uring gets the pool with a
 * warning, the same as the default would.
 */
static int file_engine_pick(struct bdev_file_opts *o, char *err,
			    size_t errlen)
{
	bool asked = o->engine == BDEV_FILE_ENGINE_URING;
	char why[128];
	int rc;

	if (o->engine == BDEV_FILE_ENGINE_DEFAULT)
		o->engine = FILE_ENGINE_DEFAULT;
	if (o->engine != BDEV_FILE_ENGINE_URING)
		return 0;
	rc = file_uring_probe(why, sizeof(why));
	if (rc == -ENOTSUP) {
		if (asked) {
			snprintf(err, errlen, "file: engine=uring: %s", why);
			return -1;
		}
	} else if (rc != 0) {
		log_warn("file: %s; using the worker pool", why);
	}
	if (rc != 0)
		o->engine = BDEV_FILE_ENGINE_POOL;
	return 0;
}

struct bdev *bdev_file_create(const char *name, const char *path,
			      const struct bdev_file_opts *opts, char *err,
			      size_t errlen)
{
	struct bdev_file_opts o = opts ? *opts : (struct bdev_file_opts){ 0 };
	struct bdev_geometry geo = {
		.opt_xfer = FILE_OPT_XFER,
		.max_xfer = FILE_MAX_XFER,
		.max_atomic = FILE_MAX_XFER,
		.read_only = o.read_only,
		.can_write_zeroes = true,
		.volatile_cache = true,
		.multi_conn_safe = true,
	};
	char dummy[2];
	struct file_bdev *f;
	struct bdev *bd;
	struct stat st;
	uint32_t mem_align = 0, off_align = 0;
	int flags, fd;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (path == NULL || path[0] == '\0') {
		snprintf(err, errlen, "file: missing path");
		return NULL;
	}
	if (file_engine_pick(&o, err, errlen) != 0)
		return NULL;
	flags = (o.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		(o.direct ? O_DIRECT : 0);
	/* A writable block device is opened exclusively: exporting a
	 * mounted device, or one device twice, would corrupt it. */
	if (!o.read_only && stat(path, &st) == 0 && S_ISBLK(st.st_mode))
		flags |= O_EXCL;
	fd = open(path, flags);
	if (fd < 0 && errno == ENOENT && o.size > 0 && !o.read_only)
		fd = open(path, flags | O_CREAT, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "file: cannot open %s: %s%s", path,
			 strerror(errno),
			 o.direct && errno == EINVAL
				 ? " (O_DIRECT not supported here?)"
			 : (flags & O_EXCL) && errno == EBUSY
				 ? " (mounted or in use)"
				 : "");
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "file: cannot stat %s: %s", path,
			 strerror(errno));
		goto out_close;
	}
	if (o.direct)
		file_dio_align(fd, &mem_align, &off_align);

	if (S_ISBLK(st.st_mode)) {
		uint64_t devsize = 0;
		int lbs = 512;
		unsigned pbs = 0;
		long long v;

		if (ioctl(fd, BLKGETSIZE64, &devsize) != 0 ||
		    ioctl(fd, BLKSSZGET, &lbs) != 0) {
			snprintf(err, errlen, "file: %s: cannot read device "
				 "size: %s", path, strerror(errno));
			goto out_close;
		}
		if (ioctl(fd, BLKPBSZGET, &pbs) != 0)
			pbs = (unsigned)lbs;
		if (off_align == 0)
			off_align = (uint32_t)lbs;
		if (mem_align == 0)
			mem_align = (uint32_t)lbs;
		geo.lbsize = o.lbsize ? o.lbsize : (uint32_t)lbs;
		if (geo.lbsize < (uint32_t)lbs && o.direct) {
			snprintf(err, errlen, "file: %s: bs=%u is below the "
				 "device's logical block size %d", path,
				 geo.lbsize, lbs);
			goto out_close;
		}
		geo.pbsize = pbs;
		if (o.size > devsize) {
			snprintf(err, errlen, "file: %s: size=%llu is beyond "
				 "the device's %llu bytes", path,
				 (unsigned long long)o.size,
				 (unsigned long long)devsize);
			goto out_close;
		}
		geo.size = o.size ? o.size : devsize - devsize % geo.lbsize;
		v = file_sysfs_queue(st.st_rdev, "discard_max_bytes");
		geo.can_discard = v > 0;
		geo.discard_zeroes = false;
	} else if (S_ISREG(st.st_mode)) {
		if (o.direct && off_align == 0) {
			/* The file system does not say; a page is safe. */
			off_align = 4096;
			mem_align = 4096;
		}
		geo.lbsize = o.lbsize ? o.lbsize : 512;
		if (o.direct && geo.lbsize < off_align) {
			if (o.lbsize != 0) {
				snprintf(err, errlen, "file: %s: bs=%u is "
					 "below the O_DIRECT alignment %u",
					 path, o.lbsize, off_align);
				goto out_close;
			}
			geo.lbsize = off_align;
		}
		geo.pbsize = geo.lbsize > 4096 ? geo.lbsize : 4096;
		if (o.size > (uint64_t)st.st_size) {
			if (o.read_only) {
				snprintf(err, errlen, "file: %s: size= beyond "
					 "the end of a read-only file", path);
				goto out_close;
			}
			if (ftruncate(fd, (off_t)o.size) != 0) {
				snprintf(err, errlen, "file: %s: cannot extend "
					 "to %llu bytes: %s", path,
					 (unsigned long long)o.size,
					 strerror(errno));
				goto out_close;
			}
		}
		/* A size= smaller than the file exports its beginning; the
		 * file is never truncated. */
		geo.size = o.size ? o.size
				  : (uint64_t)st.st_size -
					    (uint64_t)st.st_size % geo.lbsize;
		/* Punching beyond the end with KEEP_SIZE changes nothing
		 * and tells whether the file system can punch at all. */
		geo.can_discard = !o.read_only &&
				  fallocate(fd, FALLOC_FL_PUNCH_HOLE |
							FALLOC_FL_KEEP_SIZE,
					    st.st_size > (off_t)geo.size
						    ? st.st_size
						    : (off_t)geo.size,
					    4096) == 0;
		geo.discard_zeroes = geo.can_discard;
	} else {
		snprintf(err, errlen, "file: %s is neither a regular file nor "
			 "a block device", path);
		goto out_close;
	}
	if (o.thick) {
		/* Fully provisioned: allocate every block now, so that no
		 * write can fail for space later, and never punch. */
		geo.thick = true;
		geo.can_discard = false;
		geo.discard_zeroes = false;
		if (S_ISREG(st.st_mode) && !o.read_only &&
		    fallocate(fd, 0, 0, (off_t)geo.size) != 0 &&
		    errno != EOPNOTSUPP) {
			snprintf(err, errlen, "file: %s: cannot allocate %llu "
				 "bytes (thick): %s", path,
				 (unsigned long long)geo.size, strerror(errno));
			goto out_close;
		}
	}
	if (geo.lbsize < 512 || (geo.lbsize & (geo.lbsize - 1)) != 0) {
		snprintf(err, errlen, "file: %s: bad block size %u", path,
			 geo.lbsize);
		goto out_close;
	}
	if (geo.size == 0 || geo.size % geo.lbsize != 0) {
		snprintf(err, errlen, "file: %s: size %llu is %s", path,
			 (unsigned long long)geo.size,
			 geo.size == 0 ? "zero (give size=)"
				       : "not a multiple of the block size");
		goto out_close;
	}

	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->path = strdup(path)) == NULL) {
		free(f);
		snprintf(err, errlen, "file: out of memory");
		goto out_close;
	}
	f->fd = fd;
	{
		pthread_rwlockattr_t ra;

		/* Writer first: a stream of reads must not starve an atomic
		 * write. */
		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(
			&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&f->atomic_rw, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	f->is_blk = S_ISBLK(st.st_mode);
	f->direct = o.direct;
	f->read_only = o.read_only;
	f->uring = o.engine == BDEV_FILE_ENGINE_URING;
	f->inline_write = o.inline_write;
	f->iw_slow_ns = IW_SLOW_NS;
	f->mem_align = mem_align < 64 ? 64 : mem_align;
	f->wz_hw = f->is_blk &&
		   file_sysfs_queue(st.st_rdev, "write_zeroes_max_bytes") > 0;
	bd = bdev_alloc(&file_ops, name, &geo, f);
	if (bd == NULL) {
		snprintf(err, errlen, "file: %s: %s", path, strerror(errno));
		goto out_free_f;
	}
	return bd;

out_free_f:
	pthread_rwlock_destroy(&f->atomic_rw);
	free(f->path);
	free(f);
out_close:
	close(fd);
	return NULL;
}
