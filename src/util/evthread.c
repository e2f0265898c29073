/*
 * A loop on a thread of its own.  ev_thread_start() returns only once the
 * new thread runs the loop, so that from then on ev_loop_in_thread() is
 * false everywhere else and posted work (and the cam_sync_* helpers that
 * wait for it) cannot be mistaken for same-thread calls.  Front ends that
 * keep a bus or a session on a private loop use this instead of each
 * writing the hand-shake again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <scsikit/evloop.h>

struct ev_thread {
	struct ev_loop *loop;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool running;
};

static void *ev_thread_main(void *arg)
{
	struct ev_thread *t = arg;

	/* A first pass makes this thread the loop's owner. */
	ev_loop_run_once(t->loop, 0);
	pthread_mutex_lock(&t->mu);
	t->running = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	ev_loop_run(t->loop);
	return NULL;
}

struct ev_thread *ev_thread_start(void)
{
	struct ev_thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->loop = ev_loop_create();
	if (!t->loop)
		goto out_free;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->th, NULL, ev_thread_main, t) != 0)
		goto out_destroy;
	pthread_mutex_lock(&t->mu);
	while (!t->running)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
	return t;

out_destroy:
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	ev_loop_destroy(t->loop);
out_free:
	free(t);
	errno = ENOMEM;
	return NULL;
}

struct ev_loop *ev_thread_loop(const struct ev_thread *t)
{
	return t->loop;
}

void ev_thread_stop(struct ev_thread *t)
{
	if (!t)
		return;
	ev_loop_stop(t->loop);
	pthread_join(t->th, NULL);
	ev_loop_destroy(t->loop);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}
