/*
 * The null backend: a disk that stores nothing, so that a benchmark can
 * state the ceiling of a front end and its protocol with the storage taken
 * out.  Reads return zeroes, writes, discards and write-zeroes are thrown
 * away, flush does nothing.  It loses data by design; docs/bdev.md says so.
 *
 * Every I/O completes later on its own reactor, as bdev_submit's contract
 * asks.  Without latency that is bdev_io_complete_deferred() (no syscall
 * on the reactor's thread).  With latency=USEC the I/O waits on a queue of
 * the reactor, ordered by due time, behind one timerfd per reactor armed
 * for the earliest (microsecond resolution, where the loop's own timers
 * count milliseconds); the queue lives in the loop's local slot
 * (util/evloop_local.h) so every null disk on a reactor shares it.  An I/O
 * submitted from another thread is posted to its loop and queued there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "bdev/bdev_int.h"
#include "util/evloop_local.h"

#define NULL_MAX_XFER (4u * 1024 * 1024)
/* Latency ceiling: a second is already far beyond any device. */
#define NULL_MAX_LATENCY_US 1000000u

/* io->priv use while an I/O waits on a latency queue. */
#define NULL_P_DUE 0	/* ev_now_ns() at which it completes */

struct null_bdev {
	uint64_t latency_ns;
};

/* A reactor's queue of delayed I/Os, ordered by due time (io->next). */
struct null_loop {
	int tfd;
	struct ev_io *watch;
	struct bdev_io *head, *tail;
	uint64_t armed;		/* due time the timerfd is set for; 0 none */
};

static const char null_key;

static void null_arm(struct null_loop *q)
{
	struct itimerspec its;
	uint64_t due;

	memset(&its, 0, sizeof(its));
	due = q->head != NULL ? q->head->priv[NULL_P_DUE] : 0;
	if (due == q->armed)
		return;
	q->armed = due;
	/* A due time of 0 would disarm: the queue is empty then anyway. */
	its.it_value.tv_sec = (time_t)(due / 1000000000u);
	its.it_value.tv_nsec = (long)(due % 1000000000u);
	if (timerfd_settime(q->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
		log_warn("null: timerfd_settime: %s", strerror(errno));
}

/* Complete every queued I/O due by now (all of them when all is set). */
static void null_expire(struct null_loop *q, bool all)
{
	uint64_t now = ev_now_ns();

	while (q->head != NULL &&
	       (all || q->head->priv[NULL_P_DUE] <= now)) {
		struct bdev_io *io = q->head;

		q->head = io->next;
		if (q->head == NULL)
			q->tail = NULL;
		io->next = NULL;
		/* The callback may queue more: the list is consistent. */
		bdev_io_complete(io, io->status);
	}
	if (!all)
		null_arm(q);
}

static void null_timer_fired(struct ev_io *w, int fd, uint32_t events,
			     void *arg)
{
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("null: timerfd read: %s", strerror(errno));
	null_expire(arg, false);
}

static void null_loop_free(void *arg)
{
	struct null_loop *q = arg;

	/* The loop goes away: nothing can wait any longer. */
	null_expire(q, true);
	ev_io_del(q->watch);
	close(q->tfd);
	free(q);
}

static struct null_loop *null_loop_get(struct ev_loop *loop)
{
	struct null_loop *q = ev_loop_local_get(loop, &null_key);

	if (q != NULL)
		return q;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (q->tfd < 0)
		goto out_free;
	q->watch = ev_io_add(loop, q->tfd, EV_READ, null_timer_fired, q);
	if (q->watch == NULL)
		goto out_close;
	if (ev_loop_local_set(loop, &null_key, q, null_loop_free) != 0)
		goto out_del;
	return q;

out_del:
	ev_io_del(q->watch);
out_close:
	close(q->tfd);
out_free:
	free(q);
	return NULL;
}

/* Queue io on its loop's latency queue; on the loop's thread. */
static int null_enqueue(struct bdev_io *io)
{
	struct null_loop *q = null_loop_get(io->loop);
	uint64_t due = io->priv[NULL_P_DUE];

	if (q == NULL)
		return -ENOMEM;
	io->next = NULL;
	if (q->tail == NULL) {
		q->head = q->tail = io;
	} else if (q->tail->priv[NULL_P_DUE] <= due) {
		/* The usual case: one latency, so due times only grow. */
		q->tail->next = io;
		q->tail = io;
	} else {
		struct bdev_io **pp = &q->head;

		while ((*pp)->priv[NULL_P_DUE] <= due)
			pp = &(*pp)->next;
		io->next = *pp;
		*pp = io;
	}
	null_arm(q);
	return 0;
}

/* Posted from another thread: queue it now that we are on the loop. */
static void null_enqueue_posted(void *arg)
{
	struct bdev_io *io = arg;

	/* No queue could be made: complete at once rather than never. */
	if (null_enqueue(io) != 0)
		bdev_io_complete(io, io->status);
}

static int null_submit(struct bdev *bd, struct bdev_io *io)
{
	struct null_bdev *n = bdev_priv(bd);

	if (io->type == BDEV_IO_READ) {
		struct iov_cursor cur;

		iov_cursor_init(&cur, io->iov, io->iovcnt);
		iov_cursor_zero(&cur, (size_t)io->length);
	}
	if (n->latency_ns == 0) {
		bdev_io_complete_deferred(io, 0);
		return 0;
	}
	io->status = 0;
	io->priv[NULL_P_DUE] = ev_now_ns() + n->latency_ns;
	if (ev_loop_in_thread(io->loop))
		return null_enqueue(io);
	return ev_loop_post(io->loop, null_enqueue_posted, io);
}

static void null_destroy(struct bdev *bd)
{
	free(bdev_priv(bd));
}

static void null_describe(struct bdev *bd, char *buf, size_t len)
{
	struct null_bdev *n = bdev_priv(bd);

	snprintf(buf, len, "null: %llu bytes, latency %llu us (stores "
		 "nothing)", (unsigned long long)bdev_size_now(bd),
		 (unsigned long long)(n->latency_ns / 1000));
}

static const struct bdev_ops null_ops = {
	.name = "null",
	.submit = null_submit,
	.destroy = null_destroy,
	.describe = null_describe,
};

struct bdev *bdev_null_create(const char *name, uint64_t size,
			      uint32_t lbsize, uint32_t latency_us)
{
	struct bdev_geometry geo = {
		.size = size,
		.lbsize = lbsize ? lbsize : 512,
		.pbsize = 4096,
		.opt_xfer = 128 * 1024,
		.max_xfer = NULL_MAX_XFER,
		.can_discard = true,
		.can_write_zeroes = true,
		.discard_zeroes = true,
		.volatile_cache = false,
		.multi_conn_safe = true,
		/* Nothing is stored, so nothing is ever seen half written. */
		.max_atomic = NULL_MAX_XFER,
	};
	struct null_bdev *n;
	struct bdev *bd;

	if (size == 0 || (geo.lbsize != 512 && geo.lbsize != 4096) ||
	    size % geo.lbsize != 0 || latency_us > NULL_MAX_LATENCY_US) {
		errno = EINVAL;
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->latency_ns = (uint64_t)latency_us * 1000;
	bd = bdev_alloc(&null_ops, name, &geo, n);
	if (bd == NULL) {
		free(n);
		errno = ENOMEM;
		return NULL;
	}
	return bd;
}
