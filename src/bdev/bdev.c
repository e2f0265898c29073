/*
 * The bdev core: the object every backend fills in, the checks every I/O
 * passes before a backend sees it, the statistics, and the completion
 * paths that bring a finished I/O back onto the reactor that submitted it.
 *
 * Nothing here takes a lock: references and counters are atomics, the
 * geometry is fixed at creation (size aside, which is atomic).  A submitted
 * I/O holds a reference on its bdev until its callback has returned, so a
 * backend is never destroyed under an I/O in flight.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "bdev/bdev_int.h"

#define RELAXED __ATOMIC_RELAXED

/* Flags any I/O may carry; the others are rejected so that a typo in a
 * caller shows up as -EINVAL rather than being silently ignored. */
#define BDEV_IO_FLAGS_ALL (BDEV_IO_FUA | BDEV_IO_NO_UNMAP | BDEV_IO_FAST_ZERO | \
			   BDEV_IO_ATOMIC)

static unsigned bdev_live;	/* atomic */

unsigned bdev_live_count(void)
{
	return __atomic_load_n(&bdev_live, RELAXED);
}

struct bdev *bdev_alloc(const struct bdev_ops *ops, const char *name,
			const struct bdev_geometry *geo, void *priv)
{
	struct bdev *bd;

	if (ops == NULL || ops->submit == NULL || geo == NULL ||
	    geo->lbsize == 0 || (geo->lbsize & (geo->lbsize - 1)) != 0 ||
	    geo->size % geo->lbsize != 0) {
		errno = EINVAL;
		return NULL;
	}
	bd = calloc(1, sizeof(*bd));
	if (bd == NULL)
		return NULL;
	bd->name = strdup(name != NULL ? name : "");
	if (bd->name == NULL) {
		free(bd);
		return NULL;
	}
	bd->ops = ops;
	bd->priv = priv;
	bd->geo = *geo;
	if (bd->geo.pbsize < bd->geo.lbsize)
		bd->geo.pbsize = bd->geo.lbsize;
	bd->refs = 1;
	__atomic_add_fetch(&bdev_live, 1, RELAXED);
	return bd;
}

void *bdev_priv(const struct bdev *bd)
{
	return bd->priv;
}

struct bdev *bdev_hold(struct bdev *bd)
{
	__atomic_add_fetch(&bd->refs, 1, RELAXED);
	return bd;
}

void bdev_release(struct bdev *bd)
{
	if (bd == NULL)
		return;
	/* Release ordering so every use before the last put happens before
	 * the destroy; acquire on the last one pairs with it. */
	if (__atomic_sub_fetch(&bd->refs, 1, __ATOMIC_RELEASE) != 0)
		return;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (bd->ops->destroy != NULL)
		bd->ops->destroy(bd);
	free(bd->name);
	free(bd);
	__atomic_sub_fetch(&bdev_live, 1, RELAXED);
}

const char *bdev_name(const struct bdev *bd)
{
	return bd->name;
}

const struct bdev_geometry *bdev_geometry(const struct bdev *bd)
{
	return &bd->geo;
}

const char *bdev_backend(const struct bdev *bd)
{
	return bd->ops->name != NULL ? bd->ops->name : "?";
}

void bdev_describe(struct bdev *bd, char *buf, size_t len)
{
	if (len == 0)
		return;
	if (bd->ops->describe != NULL)
		bd->ops->describe(bd, buf, len);
	else
		snprintf(buf, len, "%s", bdev_backend(bd));
}

struct ev_loop *bdev_home_loop(struct bdev *bd)
{
	return bd->ops->home_loop ? bd->ops->home_loop(bd) : NULL;
}

void bdev_get_stats(const struct bdev *bd, struct bdev_stats *st)
{
	for (int t = 0; t < BDEV_IO_TYPE_COUNT; t++) {
		st->ops[t] = __atomic_load_n(&bd->st.ops[t], RELAXED);
		st->bytes[t] = __atomic_load_n(&bd->st.bytes[t], RELAXED);
	}
	st->errors = __atomic_load_n(&bd->st.errors, RELAXED);
	st->in_flight = __atomic_load_n(&bd->st.in_flight, RELAXED);
	st->total_ns = __atomic_load_n(&bd->st.total_ns, RELAXED);
	st->last_offset = __atomic_load_n(&bd->st.last_offset, RELAXED);
}

void bdev_resize(struct bdev *bd, uint64_t size)
{
	size -= size % bd->geo.lbsize;
	__atomic_store_n(&bd->geo.size, size, RELAXED);
	log_info("bdev %s: size now %llu bytes", bd->name,
		 (unsigned long long)size);
}

/*
 * The checks, in the order a caller would want to hear about them.
 * max_xfer is not enforced here: it is the size a backend handles best in
 * one piece, and every backend accepts larger transfers (splitting them
 * itself if it must), so front ends that do not split still work.  The
 * zero-length rule: a READ/WRITE/DISCARD/WRITE_ZEROES of length 0 at an
 * aligned offset inside the device (offset == size included) is valid and
 * completes with 0 without reaching the backend -- SCSI allows a transfer
 * length of 0 and it means "nothing".  A FLUSH ignores offset and length
 * entirely: it always covers the whole device.
 */
static int bdev_io_check(const struct bdev *bd, const struct bdev_io *io)
{
	const struct bdev_geometry *g = &bd->geo;
	uint64_t size = bdev_size_now(bd);
	uint64_t end, total;

	if (io->loop == NULL || io->cb == NULL)
		return -EINVAL;
	if ((unsigned)io->type >= BDEV_IO_TYPE_COUNT)
		return -EINVAL;
	if ((io->flags & ~BDEV_IO_FLAGS_ALL) != 0)
		return -EINVAL;
	if (io->type == BDEV_IO_FLUSH)
		return 0;
	if (io->type == BDEV_IO_READ || io->type == BDEV_IO_WRITE ||
	    io->type == BDEV_IO_COMPARE_WRITE) {
		uint64_t want = io->length;

		if (io->type == BDEV_IO_COMPARE_WRITE &&
		    __builtin_mul_overflow(io->length, 2, &want))
			return -EINVAL;
		if (io->iovcnt < 0 || io->iovcnt > BDEV_IOV_MAX)
			return -EINVAL;
		if (io->iovcnt > 0 && io->iov == NULL)
			return -EINVAL;
		if (!iov_total(io->iov, io->iovcnt, &total) || total != want)
			return -EINVAL;
	}
	if (io->offset % g->lbsize != 0 || io->length % g->lbsize != 0)
		return -EINVAL;
	if (__builtin_add_overflow(io->offset, io->length, &end) || end > size)
		return -ERANGE;
	/* Read-only before "unsupported": a write-protected disk says so
	 * whatever kind of write it was asked for. */
	if (io->type != BDEV_IO_READ && g->read_only)
		return -EROFS;
	if (io->type == BDEV_IO_DISCARD && !g->can_discard)
		return -ENOTSUP;
	if (io->type == BDEV_IO_WRITE_ZEROES && !g->can_write_zeroes)
		return -ENOTSUP;
	if (io->type == BDEV_IO_COMPARE_WRITE) {
		if (g->max_compare_write == 0)
			return -ENOTSUP;
		if (io->length > g->max_compare_write ||
		    (io->flags & ~BDEV_IO_FUA) != 0)
			return -EINVAL;
	}
	/* Atomicity is a promise only the backend can keep, and only for
	 * the writes it said it could. */
	if (io->flags & BDEV_IO_ATOMIC) {
		if (io->type != BDEV_IO_WRITE || g->max_atomic == 0)
			return -ENOTSUP;
		if (io->length > g->max_atomic)
			return -EINVAL;
	}
	return 0;
}

/* The deferred and remote paths carry the status in io->status. */
static void bdev_io_complete_fn(void *arg)
{
	struct bdev_io *io = arg;

	bdev_io_complete(io, io->status);
}

int bdev_submit(struct bdev *bd, struct bdev_io *io)
{
	int rc;

	if (bd == NULL || io == NULL)
		return -EINVAL;
	rc = bdev_io_check(bd, io);
	if (rc != 0) {
		sk_trace(SK_TRACE_BDEV, "bdev %s: reject type %d off %llu "
			 "len %llu: %d", bd->name, (int)io->type,
			 (unsigned long long)io->offset,
			 (unsigned long long)io->length, rc);
		return rc;
	}
	/* A thick disk keeps every block allocated. */
	if (bd->geo.thick && io->type == BDEV_IO_WRITE_ZEROES)
		io->flags |= BDEV_IO_NO_UNMAP;
	io->bd = bdev_hold(bd);
	io->next = NULL;
	io->status = 0;
	io->miscompare = 0;
	io->start_ns = ev_now_ns();
	__atomic_add_fetch(&bd->st.in_flight, 1, RELAXED);
	__atomic_store_n(&bd->st.last_offset, io->offset, RELAXED);
	sk_trace(SK_TRACE_BDEV, "bdev %s: submit type %d off %llu len %llu "
		 "flags %#x", bd->name, (int)io->type,
		 (unsigned long long)io->offset,
		 (unsigned long long)io->length, io->flags);

	if (io->length == 0 && io->type != BDEV_IO_FLUSH) {
		bdev_io_complete_deferred(io, 0);
		return 0;
	}
	rc = bd->ops->submit(bd, io);
	if (rc != 0) {
		/* The backend refused: the callback will never run, so undo
		 * what was done above as if the I/O had never been seen. */
		__atomic_sub_fetch(&bd->st.in_flight, 1, RELAXED);
		io->bd = NULL;
		bdev_release(bd);
		if (rc > 0)
			rc = -rc;
	}
	return rc;
}

void bdev_io_complete(struct bdev_io *io, int status)
{
	struct bdev *bd = io->bd;
	uint64_t now = ev_now_ns();
	unsigned t = (unsigned)io->type;

	/* io->bd is cleared below, before the callback: finding it NULL here
	 * means a backend completed the same I/O twice (or one it never
	 * accepted), which would corrupt the caller.  Stop at the culprit. */
	if (bd == NULL) {
		log_err("bdev: I/O %p completed twice or never submitted",
			(void *)io);
		abort();
	}
	io->bd = NULL;
	if (status > 0)
		status = -status;
	io->status = status;
	__atomic_add_fetch(&bd->st.ops[t], 1, RELAXED);
	if (status == 0)
		__atomic_add_fetch(&bd->st.bytes[t], io->length, RELAXED);
	else if (status != -EILSEQ || t != BDEV_IO_COMPARE_WRITE)
		/* A miscompare is an answer, not a failure of the disk. */
		__atomic_add_fetch(&bd->st.errors, 1, RELAXED);
	__atomic_add_fetch(&bd->st.total_ns, now - io->start_ns, RELAXED);
	__atomic_sub_fetch(&bd->st.in_flight, 1, RELAXED);
	sk_trace(SK_TRACE_BDEV, "bdev %s: done type %u off %llu len %llu: %d",
		 bd->name, t, (unsigned long long)io->offset,
		 (unsigned long long)io->length, status);

	/* The callback may free io; bd stays valid through our reference. */
	io->cb(io, status, io->cb_arg);
	bdev_release(bd);
}

/*
 * ev_loop_post allocates; on the rare -ENOMEM we cannot drop a completion
 * (the caller would wait forever) nor run it on the wrong thread, so we
 * retry after a short sleep.
 */
static void bdev_io_post(struct bdev_io *io)
{
	bool warned = false;

	while (ev_loop_post(io->loop, bdev_io_complete_fn, io) != 0) {
		struct timespec ts = { 0, 1000000 };

		if (!warned) {
			log_warn("bdev %s: out of memory posting a completion; "
				 "retrying", io->bd->name);
			warned = true;
		}
		nanosleep(&ts, NULL);
	}
}

void bdev_io_complete_remote(struct bdev_io *io, int status)
{
	io->status = status > 0 ? -status : status;
	bdev_io_post(io);
}

void bdev_io_complete_deferred(struct bdev_io *io, int status)
{
	io->status = status > 0 ? -status : status;
	/* On the loop's own thread a defer costs no syscall.  A submit made
	 * before the loop runs (the sync helpers) or from elsewhere takes the
	 * thread-safe post instead; both run the callback after submit
	 * returns. */
	if (ev_loop_in_thread(io->loop) &&
	    ev_loop_defer(io->loop, bdev_io_complete_fn, io) == 0)
		return;
	bdev_io_post(io);
}

int bdev_block_status(struct bdev *bd, uint64_t offset, uint64_t length,
		      enum bdev_alloc_state *state, uint64_t *run)
{
	uint64_t size = bdev_size_now(bd);
	uint64_t end;
	int rc;

	if (state == NULL || run == NULL || length == 0)
		return -EINVAL;
	if (offset % bd->geo.lbsize != 0)
		return -EINVAL;
	if (offset >= size)
		return -ERANGE;
	/* "From here on" is a fair question: clamp to the end. */
	if (__builtin_add_overflow(offset, length, &end) || end > size)
		length = size - offset;
	if (bd->ops->block_status == NULL || bd->geo.thick) {
		*state = BDEV_MAPPED;
		*run = length;
		return 0;
	}
	rc = bd->ops->block_status(bd, offset, length, state, run);
	/* A backend answering nonsense must not make a caller loop forever
	 * or overrun: clamp. */
	if (rc == 0 && (*run == 0 || *run > length))
		*run = length;
	return rc;
}
