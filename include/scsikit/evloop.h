/*
 * The event loop: one per reactor thread.
 *
 * A loop watches file descriptors, runs timers, and runs functions posted to
 * it, from its own thread (ev_loop_defer) or from any other thread
 * (ev_loop_post).  Everything a loop owns -- connections, tasks, timers -- is
 * touched only from the thread that runs it, so no lock is needed in the
 * per-I/O path.  The epoll specifics stay behind this interface.
 *
 * Handles (struct ev_io, struct ev_timer) are allocated by the loop and
 * freed by ev_io_del / ev_timer_del, which are safe to call from inside the
 * handle's own callback.
 */
#ifndef SCSIKIT_EVLOOP_H
#define SCSIKIT_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <scsikit/api.h>

struct ev_loop;
struct ev_io;
struct ev_timer;

#define EV_READ 0x1u
#define EV_WRITE 0x2u
#define EV_ERROR 0x4u /* reported only: error or hang-up on the fd */

typedef void (*ev_io_cb)(struct ev_io *io, int fd, uint32_t events,
			 void *arg);
typedef void (*ev_timer_cb)(struct ev_timer *t, void *arg);
typedef void (*ev_fn)(void *arg);

SK_API struct ev_loop *ev_loop_create(void);
/* Destroy a loop that is not running; pending posted functions are run
 * first, watchers and timers still registered are freed. */
SK_API void ev_loop_destroy(struct ev_loop *loop);

/* Run until ev_loop_stop(); returns 0, or -errno on a fatal epoll error. */
SK_API int ev_loop_run(struct ev_loop *loop);
/* Wait at most timeout_ms (-1: forever) for events, dispatch them, run
 * expired timers and deferred functions; returns the number of callbacks
 * run or -errno. */
SK_API int ev_loop_run_once(struct ev_loop *loop, int timeout_ms);
/* Before sleeping, look for events without sleeping for up to usec
 * microseconds (0, the default: sleep at once; at most 1000).  For a loop
 * that trades work with another thread in quick turns (a vscsi SIM and its
 * userland end) the spin saves the wake-up of each turn; it costs CPU while
 * nothing comes, bounded by usec per sleep. */
SK_API void ev_loop_set_spin(struct ev_loop *loop, unsigned usec);
/* Ask ev_loop_run to return; callable from any thread or a signal-safe
 * context (it only writes an eventfd).  A stop asked before ev_loop_run
 * starts makes that run return at once. */
SK_API void ev_loop_stop(struct ev_loop *loop);
/* True when called from the loop's thread: the thread that last ran it, or,
 * before any thread has run it, the thread that created it (so that a
 * daemon can set up what its main thread's loop owns before running it).
 * Code that hands a loop to a new thread must let that thread start
 * running it before relying on this from elsewhere. */
SK_API bool ev_loop_in_thread(const struct ev_loop *loop);

/* Watch fd for events (EV_READ|EV_WRITE); NULL with errno set on failure. */
SK_API struct ev_io *ev_io_add(struct ev_loop *loop, int fd, uint32_t events,
			       ev_io_cb cb, void *arg);
SK_API int ev_io_modify(struct ev_io *io, uint32_t events);
/* Stop watching and free the handle; does not close the fd. */
SK_API void ev_io_del(struct ev_io *io);

/* A timer firing after ms milliseconds, and then every ms if repeat. */
SK_API struct ev_timer *ev_timer_add(struct ev_loop *loop, uint64_t ms,
				     bool repeat, ev_timer_cb cb, void *arg);
/* Re-arm to fire ms from now (keeps the repeat setting). */
SK_API void ev_timer_reset(struct ev_timer *t, uint64_t ms);
SK_API void ev_timer_del(struct ev_timer *t);

/* Run fn(arg) on loop's thread soon.  Thread-safe; 0 or -ENOMEM. */
SK_API int ev_loop_post(struct ev_loop *loop, ev_fn fn, void *arg);
/* Run fn(arg) on this loop after the current callback returns; only from the
 * loop's own thread (or before it runs).  Cheap: no syscall.  0 or -ENOMEM. */
SK_API int ev_loop_defer(struct ev_loop *loop, ev_fn fn, void *arg);

/*
 * A loop running on a thread of its own.  ev_thread_start() returns once
 * the thread runs the loop (NULL with errno on failure); ev_thread_stop()
 * stops it, joins the thread and destroys the loop, whose pending posted
 * work runs first.  Call stop from any thread but the loop's.
 */
struct ev_thread;
SK_API struct ev_thread *ev_thread_start(void);
SK_API struct ev_loop *ev_thread_loop(const struct ev_thread *t);
SK_API void ev_thread_stop(struct ev_thread *t);

/* Monotonic milliseconds and nanoseconds. */
SK_API uint64_t ev_now_ms(void);
SK_API uint64_t ev_now_ns(void);

#endif
