/*
 * Synchronous helpers for tools and tests, and the pass peripheral.
 *
 * CAM is asynchronous and lives on its buses' loops; a command-line tool
 * or a test thread wants "do this and wait".  These helpers post the work
 * to the loop (which another thread runs) and wait on a condition variable
 * until the completion function has run there.  Called on the loop's own
 * thread they would deadlock, so they refuse (CAM_REQ_INVALID / -EDEADLK).
 *
 * pass: a raw CDB from the user, with the data direction and buffer given,
 * run with or without the peripheral error recovery.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "cam/xpt_internal.h"

struct cam_waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void waiter_init(struct cam_waiter *w)
{
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->done = false;
}

static void waiter_signal(struct cam_waiter *w)
{
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void waiter_wait(struct cam_waiter *w)
{
	pthread_mutex_lock(&w->mu);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
}

/* ---- run a function ---- */

struct sync_call {
	struct cam_waiter w;
	void (*fn)(void *);
	void *arg;
};

static void sync_call_fn(void *arg)
{
	struct sync_call *c = arg;

	c->fn(c->arg);
	waiter_signal(&c->w);
}

int cam_sync_call(struct ev_loop *loop, void (*fn)(void *arg), void *arg)
{
	struct sync_call c;

	if (ev_loop_in_thread(loop))
		return -EDEADLK;
	waiter_init(&c.w);
	c.fn = fn;
	c.arg = arg;
	if (ev_loop_post(loop, sync_call_fn, &c) < 0)
		return -ENOMEM;
	waiter_wait(&c.w);
	return 0;
}

/* ---- run a CCB ---- */

struct sync_ccb {
	struct cam_waiter w;
	union ccb *ccb;
	cam_done_fn saved;
	void *saved_priv;
};

static void sync_ccb_done(union ccb *ccb)
{
	struct sync_ccb *s = ccb->ccb_h.periph_priv[1];

	ccb->ccb_h.cbfcnp = s->saved;
	ccb->ccb_h.periph_priv[1] = s->saved_priv;
	waiter_signal(&s->w);
}

static void sync_ccb_start(void *arg)
{
	struct sync_ccb *s = arg;
	union ccb *ccb = s->ccb;

	ccb->ccb_h.cbfcnp = sync_ccb_done;
	ccb->ccb_h.periph_priv[1] = s;
	xpt_action(ccb);
	/* These finish inside xpt_action without a completion call. */
	if (ccb->ccb_h.func_code == XPT_SASYNC_CB)
		sync_ccb_done(ccb);
}

/*
 * The loop a request must run on: the loop of the bus it names when that
 * bus exists (each SIM may run its buses on a loop of its own, e.g. vscsi),
 * else the caller's.
 */
static struct ev_loop *bus_loop(uint32_t path_id, struct ev_loop *dflt)
{
	struct ev_loop *l = path_id == CAM_BUS_WILDCARD ? NULL
							: xpt_bus_loop(path_id);

	return l ? l : dflt;
}

uint32_t cam_sync_action(struct ev_loop *loop, union ccb *ccb)
{
	struct sync_ccb s;

	/* Async registrations are global, not a bus's: they stay on the
	 * caller's loop. */
	if (ccb->ccb_h.func_code != XPT_SASYNC_CB)
		loop = bus_loop(ccb->ccb_h.path_id, loop);
	if (ev_loop_in_thread(loop))
		return ccb->ccb_h.status = CAM_REQ_INVALID;
	waiter_init(&s.w);
	s.ccb = ccb;
	s.saved = ccb->ccb_h.cbfcnp;
	s.saved_priv = ccb->ccb_h.periph_priv[1];
	if (ev_loop_post(loop, sync_ccb_start, &s) < 0)
		return ccb->ccb_h.status = CAM_RESRC_UNAVAIL;
	waiter_wait(&s.w);
	return ccb->ccb_h.status;
}

/* ---- pass ---- */

struct pass_ctx {
	struct cam_waiter w;
	struct cam_pass_req *r;
	union ccb ccb;
};

static void pass_done(union ccb *ccb)
{
	struct pass_ctx *p = ccb->ccb_h.periph_priv[0];
	struct cam_pass_req *r = p->r;

	if (r->retries > 0) {
		int err = cam_periph_error(ccb);

		if (err == CAM_PERIPH_RETRIED)
			return;
		r->err = err;
	}
	r->scsi_status = ccb->csio.scsi_status;
	r->resid = ccb->csio.resid;
	r->sense_len = 0;
	if (ccb->ccb_h.status & CAM_AUTOSNS_VALID) {
		r->sense_len = (uint8_t)(ccb->csio.sense_len -
					 ccb->csio.sense_resid);
		memcpy(r->sense, ccb->csio.sense_data, r->sense_len);
	}
	waiter_signal(&p->w);
}

static void pass_start(void *arg)
{
	struct pass_ctx *p = arg;
	struct cam_pass_req *r = p->r;
	union ccb *ccb = &p->ccb;

	xpt_setup_ccb(&ccb->ccb_h, r->path_id, r->target, r->lun, XPT_SCSI_IO);
	cam_fill_csio(&ccb->csio, pass_done, r->dir, r->tag_action, r->data,
		      r->dir == CAM_DIR_NONE ? 0 : r->dxfer_len, SCSI_SENSE_MAX,
		      r->cdb, r->cdb_len, r->timeout_ms);
	ccb->ccb_h.retry_count = r->retries;
	ccb->ccb_h.periph_priv[0] = p;
	xpt_action(ccb);
}

uint32_t cam_pass_run(struct ev_loop *loop, struct cam_pass_req *r)
{
	struct pass_ctx *p;
	uint32_t st;

	loop = bus_loop(r->path_id, loop);
	if (ev_loop_in_thread(loop))
		return CAM_REQ_INVALID;
	if (r->cdb_len == 0 || r->cdb_len > CAM_CDB_LEN_MAX ||
	    (r->dir != CAM_DIR_IN && r->dir != CAM_DIR_OUT &&
	     r->dir != CAM_DIR_NONE))
		return CAM_REQ_INVALID;
	p = calloc(1, sizeof(*p));
	if (!p)
		return CAM_RESRC_UNAVAIL;
	waiter_init(&p->w);
	p->r = r;
	r->err = 0;
	if (ev_loop_post(loop, pass_start, p) < 0) {
		free(p);
		return CAM_RESRC_UNAVAIL;
	}
	waiter_wait(&p->w);
	st = p->ccb.ccb_h.status;
	if (r->retries <= 0)
		r->err = cam_ccb_status(st) == CAM_REQ_CMP ? 0 : -EIO;
	free(p);
	return st;
}

/* ---- rescan ---- */

uint32_t cam_sync_rescan(struct ev_loop *loop, uint32_t path_id)
{
	uint32_t ids[XPT_MAX_BUSES];
	unsigned n;
	uint32_t worst = CAM_REQ_CMP;

	if (path_id != CAM_BUS_WILDCARD) {
		ids[0] = path_id;
		n = 1;
	} else {
		n = xpt_bus_list(ids, XPT_MAX_BUSES);
	}
	for (unsigned i = 0; i < n && i < XPT_MAX_BUSES; i++) {
		union ccb ccb;
		uint32_t st;

		memset(&ccb, 0, sizeof(ccb));
		xpt_setup_ccb(&ccb.ccb_h, ids[i], CAM_TARGET_WILDCARD,
			      CAM_LUN_WILDCARD, XPT_SCAN_BUS);
		st = cam_sync_action(loop, &ccb);
		if (cam_ccb_status(st) != CAM_REQ_CMP)
			worst = st;
	}
	return worst;
}

/* ---- da probe ---- */

struct sync_da {
	struct cam_waiter w;
	uint32_t path_id, target;
	uint64_t lun;
	const char *name;
	struct bdev *bd;
	int err;
};

static void sync_da_cb(struct bdev *bd, int err, void *arg)
{
	struct sync_da *s = arg;

	s->bd = bd;
	s->err = err;
	waiter_signal(&s->w);
}

static void sync_da_start(void *arg)
{
	struct sync_da *s = arg;
	int rc = cam_da_probe(s->path_id, s->target, s->lun, s->name,
			      sync_da_cb, s);

	if (rc < 0)
		sync_da_cb(NULL, rc, s);
}

struct bdev *cam_sync_da_probe(struct ev_loop *loop, uint32_t path_id,
			       uint32_t target, uint64_t lun, const char *name,
			       int *err)
{
	struct sync_da s;

	memset(&s, 0, sizeof(s));
	if (ev_loop_in_thread(loop)) {
		*err = -EDEADLK;
		return NULL;
	}
	waiter_init(&s.w);
	s.path_id = path_id;
	s.target = target;
	s.lun = lun;
	s.name = name;
	if (ev_loop_post(loop, sync_da_start, &s) < 0) {
		*err = -ENOMEM;
		return NULL;
	}
	waiter_wait(&s.w);
	*err = s.err;
	return s.bd;
}
