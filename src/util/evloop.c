/*
 * The event loop behind include/scsikit/evloop.h, on epoll.
 *
 * One loop per reactor thread.  Three sources of work:
 *  - fd watchers (struct ev_io), registered with epoll;
 *  - timers, in a binary min-heap keyed by expiry;
 *  - functions: "deferred" ones from the loop's own thread (an array, no
 *    syscall, no lock) and "posted" ones from other threads (a mutex-guarded
 *    array plus an eventfd to wake the loop).  The post path is the only
 *    place threads meet, and it is used for hand-offs such as a worker pool
 *    completing a blocking I/O, never for the loop's own per-I/O work.
 *
 * Handles may be deleted from inside any callback: deletion only marks them
 * and unregisters them; they are freed at the end of the dispatch round, so
 * an event already returned by epoll for a deleted watcher is skipped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "util/evloop_local.h"

struct ev_io {
	struct ev_loop *loop;
	int fd;
	uint32_t events;
	ev_io_cb cb;
	void *arg;
	bool dead;
	struct ev_io *next_dead;
};

struct ev_timer {
	struct ev_loop *loop;
	uint64_t expiry_ms;
	uint64_t period_ms;
	bool repeat;
	bool dead;
	size_t heap_idx;	/* position in loop->heap, or SIZE_MAX */
	ev_timer_cb cb;
	void *arg;
	struct ev_timer *next_dead;
};

struct ev_call {
	ev_fn fn;
	void *arg;
};

/* A growable array of calls. */
struct ev_callq {
	struct ev_call *v;
	size_t n, cap;
};

struct ev_loop {
	int epfd;
	int wakefd;		/* eventfd: posts and stop */
	pthread_t owner;
	bool owner_set;
	volatile int stop;
	unsigned spin_us;	/* look before sleeping (ev_loop_set_spin) */

	struct ev_timer **heap;
	size_t nheap, capheap;

	struct ev_callq deferred;
	struct ev_callq running; /* the batch being run, swapped with deferred */

	pthread_mutex_t post_lock;
	struct ev_callq posted;
	struct ev_callq posted_run;
	bool wake_pending;	/* under post_lock: an eventfd write is queued */

	struct ev_io *dead_ios;
	struct ev_timer *dead_timers;

	/* Per-loop state of other modules (evloop_local.h). */
	struct ev_local {
		const void *key;
		void *val;
		ev_fn dtor;
	} local[EV_LOCAL_MAX];
};

uint64_t ev_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ev_now_ms(void)
{
	return ev_now_ns() / 1000000ull;
}

static int callq_push(struct ev_callq *q, ev_fn fn, void *arg)
{
	if (q->n == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 64;
		struct ev_call *nv = realloc(q->v, ncap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		q->v = nv;
		q->cap = ncap;
	}
	q->v[q->n].fn = fn;
	q->v[q->n].arg = arg;
	q->n++;
	return 0;
}

struct ev_loop *ev_loop_create(void)
{
	struct ev_loop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev;

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		goto out_free;
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->wakefd < 0)
		goto out_close_ep;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL; /* NULL marks the wake fd */
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0)
		goto out_close_wake;
	pthread_mutex_init(&loop->post_lock, NULL);
	loop->owner = pthread_self();
	loop->owner_set = true;
	return loop;

out_close_wake:
	close(loop->wakefd);
out_close_ep:
	close(loop->epfd);
out_free:
	free(loop);
	return NULL;
}

static void reap_dead(struct ev_loop *loop)
{
	while (loop->dead_ios) {
		struct ev_io *io = loop->dead_ios;

		loop->dead_ios = io->next_dead;
		free(io);
	}
	while (loop->dead_timers) {
		struct ev_timer *t = loop->dead_timers;

		loop->dead_timers = t->next_dead;
		free(t);
	}
}

static bool run_posted(struct ev_loop *loop);
static bool run_deferred(struct ev_loop *loop);

void ev_loop_destroy(struct ev_loop *loop)
{
	if (!loop)
		return;
	/* Let queued hand-offs finish: they may free what they carry. */
	for (int i = 0; i < 16; i++) {
		bool any = run_posted(loop);

		any |= run_deferred(loop);
		if (!any)
			break;
	}
	/* Then the modules' per-loop state, whose destructors may complete
	 * work in flight and so defer or post again: drain once more. */
	for (int i = 0; i < EV_LOCAL_MAX; i++) {
		struct ev_local *l = &loop->local[i];

		if (l->key != NULL && l->dtor != NULL)
			l->dtor(l->val);
		l->key = NULL;
	}
	for (int i = 0; i < 16; i++) {
		bool any = run_posted(loop);

		any |= run_deferred(loop);
		if (!any)
			break;
	}
	for (size_t i = 0; i < loop->nheap; i++)
		free(loop->heap[i]);
	free(loop->heap);
	reap_dead(loop);
	free(loop->deferred.v);
	free(loop->running.v);
	free(loop->posted.v);
	free(loop->posted_run.v);
	pthread_mutex_destroy(&loop->post_lock);
	close(loop->wakefd);
	close(loop->epfd);
	free(loop);
}

bool ev_loop_in_thread(const struct ev_loop *loop)
{
	return loop->owner_set && pthread_equal(loop->owner, pthread_self());
}

void *ev_loop_local_get(const struct ev_loop *loop, const void *key)
{
	for (int i = 0; i < EV_LOCAL_MAX; i++)
		if (loop->local[i].key == key)
			return loop->local[i].val;
	return NULL;
}

int ev_loop_local_set(struct ev_loop *loop, const void *key, void *val,
		      ev_fn dtor)
{
	for (int i = 0; i < EV_LOCAL_MAX; i++) {
		struct ev_local *l = &loop->local[i];

		if (l->key == NULL || l->key == key) {
			l->key = key;
			l->val = val;
			l->dtor = dtor;
			return 0;
		}
	}
	return -ENOSPC;
}

/* ---- fd watchers ---- */

static uint32_t to_epoll(uint32_t events)
{
	uint32_t e = 0;

	if (events & EV_READ)
		e |= EPOLLIN | EPOLLRDHUP;
	if (events & EV_WRITE)
		e |= EPOLLOUT;
	return e;
}

struct ev_io *ev_io_add(struct ev_loop *loop, int fd, uint32_t events,
			ev_io_cb cb, void *arg)
{
	struct ev_io *io = calloc(1, sizeof(*io));
	struct epoll_event ev;

	if (!io) {
		errno = ENOMEM;
		return NULL;
	}
	io->loop = loop;
	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->arg = arg;
	memset(&ev, 0, sizeof(ev));
	ev.events = to_epoll(events);
	ev.data.ptr = io;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		free(io);
		errno = e;
		return NULL;
	}
	return io;
}

int ev_io_modify(struct ev_io *io, uint32_t events)
{
	struct epoll_event ev;

	if (io->dead)
		return -EINVAL;
	if (io->events == events)
		return 0;
	memset(&ev, 0, sizeof(ev));
	ev.events = to_epoll(events);
	ev.data.ptr = io;
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return -errno;
	io->events = events;
	return 0;
}

void ev_io_del(struct ev_io *io)
{
	if (!io || io->dead)
		return;
	/* The fd may already be closed by the caller; ignore errors. */
	epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->dead = true;
	io->next_dead = io->loop->dead_ios;
	io->loop->dead_ios = io;
}

/* ---- timers: a binary min-heap ---- */

static void heap_swap(struct ev_loop *loop, size_t a, size_t b)
{
	struct ev_timer *t = loop->heap[a];

	loop->heap[a] = loop->heap[b];
	loop->heap[b] = t;
	loop->heap[a]->heap_idx = a;
	loop->heap[b]->heap_idx = b;
}

static void heap_up(struct ev_loop *loop, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;

		if (loop->heap[p]->expiry_ms <= loop->heap[i]->expiry_ms)
			break;
		heap_swap(loop, p, i);
		i = p;
	}
}

static void heap_down(struct ev_loop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < loop->nheap &&
		    loop->heap[l]->expiry_ms < loop->heap[m]->expiry_ms)
			m = l;
		if (r < loop->nheap &&
		    loop->heap[r]->expiry_ms < loop->heap[m]->expiry_ms)
			m = r;
		if (m == i)
			return;
		heap_swap(loop, i, m);
		i = m;
	}
}

static int heap_insert(struct ev_loop *loop, struct ev_timer *t)
{
	if (loop->nheap == loop->capheap) {
		size_t ncap = loop->capheap ? loop->capheap * 2 : 32;
		struct ev_timer **nh =
			realloc(loop->heap, ncap * sizeof(*nh));

		if (!nh)
			return -ENOMEM;
		loop->heap = nh;
		loop->capheap = ncap;
	}
	t->heap_idx = loop->nheap;
	loop->heap[loop->nheap++] = t;
	heap_up(loop, t->heap_idx);
	return 0;
}

static void heap_remove(struct ev_loop *loop, struct ev_timer *t)
{
	size_t i = t->heap_idx;

	if (i == SIZE_MAX)
		return;
	loop->nheap--;
	if (i != loop->nheap) {
		heap_swap(loop, i, loop->nheap);
		heap_down(loop, i);
		heap_up(loop, i);
	}
	t->heap_idx = SIZE_MAX;
}

struct ev_timer *ev_timer_add(struct ev_loop *loop, uint64_t ms, bool repeat,
			      ev_timer_cb cb, void *arg)
{
	struct ev_timer *t = calloc(1, sizeof(*t));

	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->loop = loop;
	t->period_ms = ms;
	t->repeat = repeat;
	t->cb = cb;
	t->arg = arg;
	t->expiry_ms = ev_now_ms() + ms;
	t->heap_idx = SIZE_MAX;
	if (heap_insert(loop, t) < 0) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

void ev_timer_reset(struct ev_timer *t, uint64_t ms)
{
	if (t->dead)
		return;
	t->period_ms = ms;
	t->expiry_ms = ev_now_ms() + ms;
	if (t->heap_idx == SIZE_MAX) {
		/* A one-shot that already fired: arm it again.  The heap
		 * only grows if it had shrunk, so this cannot fail in
		 * practice; if it does the timer simply stays idle. */
		if (heap_insert(t->loop, t) < 0)
			log_warn("evloop: cannot re-arm timer: out of memory");
		return;
	}
	heap_down(t->loop, t->heap_idx);
	heap_up(t->loop, t->heap_idx);
}

void ev_timer_del(struct ev_timer *t)
{
	if (!t || t->dead)
		return;
	heap_remove(t->loop, t);
	t->dead = true;
	t->next_dead = t->loop->dead_timers;
	t->loop->dead_timers = t;
}

/* Run expired timers; returns how many ran. */
static int run_timers(struct ev_loop *loop)
{
	uint64_t now = ev_now_ms();
	int ran = 0;

	while (loop->nheap > 0 && loop->heap[0]->expiry_ms <= now) {
		struct ev_timer *t = loop->heap[0];

		heap_remove(loop, t);
		if (t->repeat) {
			/* Re-arm before the callback so it may delete or
			 * reset the timer freely. */
			t->expiry_ms = now + (t->period_ms ? t->period_ms : 1);
			if (heap_insert(loop, t) < 0)
				log_warn("evloop: repeat timer dropped");
		}
		t->cb(t, t->arg);
		ran++;
	}
	return ran;
}

static int next_timeout(struct ev_loop *loop, int timeout_ms)
{
	uint64_t now, wait;

	if (loop->nheap == 0)
		return timeout_ms;
	now = ev_now_ms();
	wait = loop->heap[0]->expiry_ms > now ? loop->heap[0]->expiry_ms - now
					       : 0;
	if (timeout_ms < 0 || wait < (uint64_t)timeout_ms)
		return wait > 3600000 ? 3600000 : (int)wait;
	return timeout_ms;
}

/* ---- function queues ---- */

int ev_loop_defer(struct ev_loop *loop, ev_fn fn, void *arg)
{
	return callq_push(&loop->deferred, fn, arg);
}

int ev_loop_post(struct ev_loop *loop, ev_fn fn, void *arg)
{
	bool wake;
	int rc;

	pthread_mutex_lock(&loop->post_lock);
	rc = callq_push(&loop->posted, fn, arg);
	wake = rc == 0 && !loop->wake_pending;
	if (wake)
		loop->wake_pending = true;
	pthread_mutex_unlock(&loop->post_lock);
	if (wake) {
		uint64_t one = 1;
		ssize_t n = write(loop->wakefd, &one, sizeof(one));

		(void)n; /* EAGAIN means the counter is already non-zero */
	}
	return rc;
}

void ev_loop_stop(struct ev_loop *loop)
{
	uint64_t one = 1;
	ssize_t n;

	loop->stop = 1;
	n = write(loop->wakefd, &one, sizeof(one));
	(void)n;
}

static bool run_posted(struct ev_loop *loop)
{
	struct ev_callq tmp;
	bool any;

	pthread_mutex_lock(&loop->post_lock);
	tmp = loop->posted;
	loop->posted = loop->posted_run;
	loop->posted.n = 0;
	loop->wake_pending = false;
	pthread_mutex_unlock(&loop->post_lock);
	any = tmp.n > 0;
	for (size_t i = 0; i < tmp.n; i++)
		tmp.v[i].fn(tmp.v[i].arg);
	tmp.n = 0;
	loop->posted_run = tmp;
	return any;
}

static bool run_deferred(struct ev_loop *loop)
{
	struct ev_callq tmp;
	bool any = false;

	/* Run batches until quiet, but bound the rounds so that a callback
	 * that always defers again cannot starve the fds. */
	for (int round = 0; round < 64 && loop->deferred.n > 0; round++) {
		tmp = loop->deferred;
		loop->deferred = loop->running;
		loop->deferred.n = 0;
		for (size_t i = 0; i < tmp.n; i++)
			tmp.v[i].fn(tmp.v[i].arg);
		tmp.n = 0;
		loop->running = tmp;
		any = true;
	}
	return any;
}

static void drain_wakefd(struct ev_loop *loop)
{
	uint64_t v;
	ssize_t n = read(loop->wakefd, &v, sizeof(v));

	(void)n;
}

#define EV_MAX_EVENTS 128

int ev_loop_run_once(struct ev_loop *loop, int timeout_ms)
{
	struct epoll_event evs[EV_MAX_EVENTS];
	int n, ran = 0;

	if (!loop->owner_set || !pthread_equal(loop->owner, pthread_self())) {
		loop->owner = pthread_self();
		loop->owner_set = true;
	}
	if (loop->deferred.n > 0)
		timeout_ms = 0;
	timeout_ms = next_timeout(loop, timeout_ms);
	n = 0;
	if (timeout_ms != 0 && loop->spin_us) {
		/* Bounded: at most spin_us of looking, then sleep. */
		uint64_t end = ev_now_ns() + loop->spin_us * 1000ull;

		do
			n = epoll_wait(loop->epfd, evs, EV_MAX_EVENTS, 0);
		while (n == 0 && ev_now_ns() < end);
	}
	if (n == 0)
		n = epoll_wait(loop->epfd, evs, EV_MAX_EVENTS, timeout_ms);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	for (int i = 0; i < n; i++) {
		struct ev_io *io = evs[i].data.ptr;
		uint32_t e = 0;

		if (!io) {
			drain_wakefd(loop);
			run_posted(loop);
			ran++;
			continue;
		}
		if (io->dead)
			continue;
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP))
			e |= EV_READ;
		if (evs[i].events & EPOLLOUT)
			e |= EV_WRITE;
		if (evs[i].events & (EPOLLERR | EPOLLHUP))
			e |= EV_ERROR | (io->events & EV_READ);
		io->cb(io, io->fd, e, io->arg);
		ran++;
	}
	ran += run_timers(loop);
	if (run_deferred(loop))
		ran++;
	reap_dead(loop);
	return ran;
}

void ev_loop_set_spin(struct ev_loop *loop, unsigned usec)
{
	loop->spin_us = usec > 1000 ? 1000 : usec;
}

int ev_loop_run(struct ev_loop *loop)
{
	/* A stop requested before the loop started (a thread that has not
	 * reached this point yet) counts: the flag is cleared on the way out,
	 * not on the way in. */
	while (!loop->stop) {
		int rc = ev_loop_run_once(loop, -1);

		if (rc < 0) {
			log_err("evloop: epoll_wait: %s", strerror(-rc));
			return rc;
		}
	}
	loop->stop = 0;
	/* Leave posted work for the next run or for destroy. */
	return 0;
}
