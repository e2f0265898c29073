/*
 * Per-loop state for modules that keep one of something per reactor (the
 * io_uring file engine's ring, the null backend's latency timer).  A module
 * names its slot by the address of any static object of its own; the loop
 * runs the destructor from ev_loop_destroy(), after the pending posted and
 * deferred functions and before draining them once more, so a destructor
 * may still complete work onto the loop.  Internal to the library.
 *
 * Get and set only from the loop's own thread (ev_loop_in_thread): the
 * slots are not locked.
 */
#ifndef SK_UTIL_EVLOOP_LOCAL_H
#define SK_UTIL_EVLOOP_LOCAL_H

#include <scsikit/evloop.h>

/* Slots per loop; a new user of the API takes one. */
#define EV_LOCAL_MAX 4

/* The value set under key, or NULL. */
void *ev_loop_local_get(const struct ev_loop *loop, const void *key);
/* Set (or replace) key's value and destructor (may be NULL); 0, or
 * -ENOSPC when every slot is taken. */
int ev_loop_local_set(struct ev_loop *loop, const void *key, void *val,
		      ev_fn dtor);

#endif
