/*
 * The fault-injecting bdev: a product feature, not a test hack.  It wraps
 * another bdev and, for the I/Os that match its one rule, fails them,
 * delays their completion, tears writes in half, or holds them until told
 * to let go.  Every layer above uses it to test its error paths with the
 * real stack underneath.
 *
 * The rule sits under a small mutex taken once per I/O: this bdev is for
 * tests and drills, not for speed, and a mutex makes "replace the rule
 * while I/O runs" trivially safe.  Each I/O passed to the inner bdev
 * carries a heap-allocated wrapper with its own struct bdev_io.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "bdev/bdev_int.h"

struct fault_bdev {
	struct bdev *inner;		/* held */
	pthread_mutex_t mu;		/* guards everything below */
	struct bdev_fault_rule rule;
	bool active;
	int32_t left;			/* hits left; -1 unlimited */
	struct bdev_io *held_head;	/* HOLD: linked through io->next */
	struct bdev_io **held_tail;
	uint64_t hits;			/* atomic; read without mu */
};

/* One I/O on its way through the inner bdev. */
struct fault_io {
	struct bdev_io inner;
	struct bdev_io *outer;
	enum bdev_fault_action action;	/* NONE, DELAY or TEAR */
	int err;			/* negative */
	uint32_t delay_ms;
	int status;			/* DELAY: held until the timer */
	struct iovec *tear_iov;
};

static const struct bdev_ops fault_ops;

static struct fault_bdev *fault_of(struct bdev *bd)
{
	if (bd == NULL || bd->ops != &fault_ops)
		return NULL;
	return bdev_priv(bd);
}

/* Does rule r apply to io?  Called with mu held. */
static bool fault_rule_matches(const struct bdev_fault_rule *r,
			       const struct bdev_io *io)
{
	uint64_t rend, iend;

	if (r->type_mask != 0 && (r->type_mask & (1u << io->type)) == 0)
		return false;
	if (r->length == 0 || io->type == BDEV_IO_FLUSH)
		return true; /* a flush covers the whole device */
	rend = r->offset + r->length < r->offset ? UINT64_MAX
						 : r->offset + r->length;
	iend = io->offset + io->length;
	return io->offset < rend && r->offset < iend;
}

static void fault_free(struct fault_io *fio)
{
	free(fio->tear_iov);
	free(fio);
}

static void fault_timer_fn(struct ev_timer *t, void *arg)
{
	struct fault_io *fio = arg;
	struct bdev_io *outer = fio->outer;
	int status = fio->status;

	ev_timer_del(t);
	fault_free(fio);
	bdev_io_complete(outer, status);
}

static void fault_inner_done(struct bdev_io *inner, int status, void *arg)
{
	struct fault_io *fio = arg;
	struct bdev_io *outer = fio->outer;

	(void)inner;
	switch (fio->action) {
	case BDEV_FAULT_TEAR:
		/* Half the data went down; the caller hears of an error
		 * all the same, as a disk that lost power would say. */
		if (status == 0)
			status = fio->err;
		break;
	case BDEV_FAULT_DELAY:
		fio->status = status;
		if (fio->delay_ms > 0 &&
		    ev_timer_add(outer->loop, fio->delay_ms, false,
				 fault_timer_fn, fio) != NULL)
			return;
		break;
	default:
		break;
	}
	fault_free(fio);
	bdev_io_complete(outer, status);
}

/* Send outer to the inner bdev, for length bytes (less than outer's for a
 * tear).  0, or -errno if the inner bdev refused (nothing will run). */
static int fault_pass(struct fault_bdev *f, struct bdev_io *outer,
		      enum bdev_fault_action action, int err,
		      uint32_t delay_ms, uint64_t length)
{
	struct fault_io *fio = calloc(1, sizeof(*fio));
	int rc;

	if (fio == NULL)
		return -ENOMEM;
	fio->outer = outer;
	fio->action = action;
	fio->err = err;
	fio->delay_ms = delay_ms;
	fio->inner.type = outer->type;
	fio->inner.flags = outer->flags;
	fio->inner.offset = outer->offset;
	fio->inner.length = length;
	fio->inner.iov = outer->iov;
	fio->inner.iovcnt = outer->iovcnt;
	fio->inner.loop = outer->loop;
	fio->inner.cb = fault_inner_done;
	fio->inner.cb_arg = fio;

	if (length < outer->length && outer->type == BDEV_IO_WRITE) {
		/* The first `length` bytes of the caller's iov. */
		uint64_t left = length;
		int n = 0;

		fio->tear_iov = calloc((size_t)outer->iovcnt,
				       sizeof(*fio->tear_iov));
		if (fio->tear_iov == NULL) {
			free(fio);
			return -ENOMEM;
		}
		for (int i = 0; i < outer->iovcnt && left > 0; i++) {
			fio->tear_iov[n] = outer->iov[i];
			if (fio->tear_iov[n].iov_len > left)
				fio->tear_iov[n].iov_len = (size_t)left;
			left -= fio->tear_iov[n].iov_len;
			n++;
		}
		fio->inner.iov = fio->tear_iov;
		fio->inner.iovcnt = n;
	}
	rc = bdev_submit(f->inner, &fio->inner);
	if (rc != 0)
		fault_free(fio);
	return rc;
}

static int fault_submit(struct bdev *bd, struct bdev_io *io)
{
	struct fault_bdev *f = bdev_priv(bd);
	struct bdev_fault_rule r = { .action = BDEV_FAULT_NONE };
	uint64_t half;

	pthread_mutex_lock(&f->mu);
	if (f->active && f->left != 0 && fault_rule_matches(&f->rule, io)) {
		r = f->rule;
		if (f->left > 0)
			f->left--;
		__atomic_add_fetch(&f->hits, 1, __ATOMIC_RELAXED);
		if (r.action == BDEV_FAULT_HOLD) {
			io->next = NULL;
			*f->held_tail = io;
			f->held_tail = &io->next;
			pthread_mutex_unlock(&f->mu);
			return 0;
		}
	}
	pthread_mutex_unlock(&f->mu);

	r.err = -(r.err > 0 ? r.err : EIO);
	switch (r.action) {
	case BDEV_FAULT_FAIL:
		bdev_io_complete_deferred(io, r.err);
		return 0;
	case BDEV_FAULT_TEAR:
		if (io->type == BDEV_IO_READ || io->type == BDEV_IO_FLUSH ||
		    (io->flags & BDEV_IO_ATOMIC)) {
			/* Nothing to tear (an atomic write is all or
			 * nothing): a plain failure. */
			bdev_io_complete_deferred(io, r.err);
			return 0;
		}
		half = io->length / 2;
		half -= half % bd->geo.lbsize;
		if (half == 0) {
			bdev_io_complete_deferred(io, r.err);
			return 0;
		}
		return fault_pass(f, io, BDEV_FAULT_TEAR, r.err, 0, half);
	case BDEV_FAULT_DELAY:
		return fault_pass(f, io, BDEV_FAULT_DELAY, 0, r.delay_ms,
				  io->length);
	default:
		return fault_pass(f, io, BDEV_FAULT_NONE, 0, 0, io->length);
	}
}

static void fault_destroy(struct bdev *bd)
{
	struct fault_bdev *f = bdev_priv(bd);

	/* Held I/Os hold references on bd, so none can be left here. */
	bdev_release(f->inner);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static int fault_block_status(struct bdev *bd, uint64_t offset,
			      uint64_t length, enum bdev_alloc_state *state,
			      uint64_t *run)
{
	struct fault_bdev *f = bdev_priv(bd);

	return bdev_block_status(f->inner, offset, length, state, run);
}

static void fault_describe(struct bdev *bd, char *buf, size_t len)
{
	struct fault_bdev *f = bdev_priv(bd);
	static const char *const names[] = { "none", "fail", "delay", "tear",
					     "hold" };
	enum bdev_fault_action a;
	bool active;

	pthread_mutex_lock(&f->mu);
	a = f->rule.action;
	active = f->active;
	pthread_mutex_unlock(&f->mu);
	snprintf(buf, len, "fault over %s, rule %s, %llu hits",
		 f->inner->name,
		 active && (unsigned)a < 5 ? names[a] : "none",
		 (unsigned long long)__atomic_load_n(&f->hits,
						     __ATOMIC_RELAXED));
}

static const struct bdev_ops fault_ops = {
	.name = "fault",
	.submit = fault_submit,
	.destroy = fault_destroy,
	.block_status = fault_block_status,
	.describe = fault_describe,
};

struct bdev *bdev_fault_create(const char *name, struct bdev *inner)
{
	struct bdev_geometry geo;
	struct fault_bdev *f;
	struct bdev *bd;

	if (inner == NULL) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	pthread_mutex_init(&f->mu, NULL);
	f->held_tail = &f->held_head;
	f->inner = bdev_hold(inner);
	geo = inner->geo;
	geo.size = bdev_size_now(inner);
	/* Compare-and-write is not passed through: the engine does it. */
	geo.max_compare_write = 0;
	bd = bdev_alloc(&fault_ops, name, &geo, f);
	if (bd == NULL) {
		bdev_release(f->inner);
		pthread_mutex_destroy(&f->mu);
		free(f);
		return NULL;
	}
	return bd;
}

void bdev_fault_set(struct bdev *fault_bd, const struct bdev_fault_rule *rule)
{
	struct fault_bdev *f = fault_of(fault_bd);

	if (f == NULL || rule == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	f->rule = *rule;
	f->left = rule->count < 0 ? -1 : rule->count;
	f->active = rule->action != BDEV_FAULT_NONE;
	pthread_mutex_unlock(&f->mu);
}

void bdev_fault_clear(struct bdev *fault_bd)
{
	struct fault_bdev *f = fault_of(fault_bd);

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	f->active = false;
	pthread_mutex_unlock(&f->mu);
}

/* On io->loop: the released I/O goes down as if no rule had matched. */
static void fault_release_fn(void *arg)
{
	struct bdev_io *io = arg;
	int rc = fault_pass(bdev_priv(io->bd), io, BDEV_FAULT_NONE, 0, 0,
			    io->length);

	if (rc != 0)
		bdev_io_complete(io, rc);
}

void bdev_fault_release_held(struct bdev *fault_bd)
{
	struct fault_bdev *f = fault_of(fault_bd);
	struct bdev_io *io, *next;

	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	io = f->held_head;
	f->held_head = NULL;
	f->held_tail = &f->held_head;
	pthread_mutex_unlock(&f->mu);

	/* Each I/O belongs to its own loop: resume it there. */
	for (; io != NULL; io = next) {
		next = io->next;
		io->next = NULL;
		while (ev_loop_post(io->loop, fault_release_fn, io) != 0) {
			struct timespec ts = { 0, 1000000 };

			log_warn("fault %s: cannot post a released I/O; "
				 "retrying", fault_bd->name);
			nanosleep(&ts, NULL);
		}
	}
}

uint64_t bdev_fault_hits(struct bdev *fault_bd)
{
	struct fault_bdev *f = fault_of(fault_bd);

	return f ? __atomic_load_n(&f->hits, __ATOMIC_RELAXED) : 0;
}
