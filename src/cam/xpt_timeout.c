/*
 * The CAM transport's timeouts, polled operation, and the names of
 * statuses and function codes.
 *
 * Timeouts escalate as in the reference's timeout handling: the timer
 * aborts the CCB (it will complete as CAM_CMD_TIMEOUT, whatever status
 * the SIM gives the aborted CCB); if it is still not back after the abort
 * grace period the device gets a BUS DEVICE RESET, and after the reset
 * grace period the bus is reset.  A CCB the SIM keeps even after that is
 * logged and left alone: taking it back would race the SIM.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "cam/xpt_internal.h"

/* ---- status names ---- */

static const struct {
	uint32_t st;
	const char *name;
} cam_status_names[] = {
	{CAM_REQ_INPROG, "CAM_REQ_INPROG"},
	{CAM_REQ_CMP, "CAM_REQ_CMP"},
	{CAM_REQ_ABORTED, "CAM_REQ_ABORTED"},
	{CAM_UA_ABORT, "CAM_UA_ABORT"},
	{CAM_REQ_CMP_ERR, "CAM_REQ_CMP_ERR"},
	{CAM_BUSY, "CAM_BUSY"},
	{CAM_REQ_INVALID, "CAM_REQ_INVALID"},
	{CAM_PATH_INVALID, "CAM_PATH_INVALID"},
	{CAM_DEV_NOT_THERE, "CAM_DEV_NOT_THERE"},
	{CAM_UA_TERMIO, "CAM_UA_TERMIO"},
	{CAM_SEL_TIMEOUT, "CAM_SEL_TIMEOUT"},
	{CAM_CMD_TIMEOUT, "CAM_CMD_TIMEOUT"},
	{CAM_SCSI_STATUS_ERROR, "CAM_SCSI_STATUS_ERROR"},
	{CAM_MSG_REJECT_REC, "CAM_MSG_REJECT_REC"},
	{CAM_SCSI_BUS_RESET, "CAM_SCSI_BUS_RESET"},
	{CAM_UNCOR_PARITY, "CAM_UNCOR_PARITY"},
	{CAM_AUTOSENSE_FAIL, "CAM_AUTOSENSE_FAIL"},
	{CAM_NO_HBA, "CAM_NO_HBA"},
	{CAM_DATA_RUN_ERR, "CAM_DATA_RUN_ERR"},
	{CAM_UNEXP_BUSFREE, "CAM_UNEXP_BUSFREE"},
	{CAM_SEQUENCE_FAIL, "CAM_SEQUENCE_FAIL"},
	{CAM_CCB_LEN_ERR, "CAM_CCB_LEN_ERR"},
	{CAM_PROVIDE_FAIL, "CAM_PROVIDE_FAIL"},
	{CAM_BDR_SENT, "CAM_BDR_SENT"},
	{CAM_REQ_TERMIO, "CAM_REQ_TERMIO"},
	{CAM_UNREC_HBA_ERROR, "CAM_UNREC_HBA_ERROR"},
	{CAM_REQ_TOO_BIG, "CAM_REQ_TOO_BIG"},
	{CAM_REQUEUE_REQ, "CAM_REQUEUE_REQ"},
	{CAM_RESRC_UNAVAIL, "CAM_RESRC_UNAVAIL"},
	{CAM_FUNC_NOTAVAIL, "CAM_FUNC_NOTAVAIL"},
	{CAM_LUN_INVALID, "CAM_LUN_INVALID"},
	{CAM_TID_INVALID, "CAM_TID_INVALID"},
};

const char *cam_status_name(uint32_t status)
{
	uint32_t st = status & CAM_STATUS_MASK;

	for (size_t i = 0;
	     i < sizeof(cam_status_names) / sizeof(cam_status_names[0]); i++)
		if (cam_status_names[i].st == st)
			return cam_status_names[i].name;
	return "CAM_UNKNOWN";
}

const char *xpt_func_name(uint32_t func_code)
{
	switch (func_code) {
	case XPT_NOOP: return "XPT_NOOP";
	case XPT_SCSI_IO: return "XPT_SCSI_IO";
	case XPT_PATH_INQ: return "XPT_PATH_INQ";
	case XPT_SASYNC_CB: return "XPT_SASYNC_CB";
	case XPT_SCAN_BUS: return "XPT_SCAN_BUS";
	case XPT_GET_TRAN_SETTINGS: return "XPT_GET_TRAN_SETTINGS";
	case XPT_SET_TRAN_SETTINGS: return "XPT_SET_TRAN_SETTINGS";
	case XPT_CALC_GEOMETRY: return "XPT_CALC_GEOMETRY";
	case XPT_ABORT: return "XPT_ABORT";
	case XPT_RESET_BUS: return "XPT_RESET_BUS";
	case XPT_RESET_DEV: return "XPT_RESET_DEV";
	default: return "XPT_UNKNOWN";
	}
}

/* ---- timeouts ---- */

static void xpt_internal_done(union ccb *ccb)
{
	sk_trace(SK_TRACE_XPT, "xpt: recovery %s: %s",
		 xpt_func_name(ccb->ccb_h.func_code),
		 cam_status_name(ccb->ccb_h.status));
	free(ccb);
}

union ccb *xpt_internal_ccb(struct cam_eb *eb, uint32_t func, uint32_t target,
			    uint64_t lun)
{
	union ccb *ccb = xpt_alloc_ccb();

	if (!ccb)
		return NULL;
	xpt_setup_ccb(&ccb->ccb_h, eb->path_id, target, lun, func);
	ccb->ccb_h.cbfcnp = xpt_internal_done;
	return ccb;
}

/* ---- the timeout list ---- */

static void tmo_fire(struct ev_timer *t, void *arg);

static void tmo_arm(struct cam_eb *eb, uint64_t deadline)
{
	uint64_t now = ev_now_ms();
	uint64_t ms = deadline > now ? deadline - now : 0;

	if (eb->tmo_expiry && eb->tmo_expiry <= deadline)
		return;		/* fires earlier anyway */
	if (!eb->tmo_timer) {
		eb->tmo_timer = ev_timer_add(eb->loop, ms, false, tmo_fire, eb);
		if (!eb->tmo_timer) {
			log_err("xpt: bus %u: no timer for timeouts",
				eb->path_id);
			return;
		}
	} else {
		ev_timer_reset(eb->tmo_timer, ms);
	}
	eb->tmo_expiry = deadline;
}

void xpt_tmo_add(struct cam_eb *eb, union ccb *ccb, uint64_t deadline)
{
	struct ccb_xpt_priv *x = &ccb->ccb_h.xpt;

	x->deadline = deadline;
	x->tnext = NULL;
	x->tprev = eb->tmo_tail;
	if (eb->tmo_tail)
		eb->tmo_tail->ccb_h.xpt.tnext = ccb;
	else
		eb->tmo_head = ccb;
	eb->tmo_tail = ccb;
	x->xflags |= XPT_XF_TMO;
	tmo_arm(eb, deadline);
}

void xpt_tmo_del(struct cam_eb *eb, union ccb *ccb)
{
	struct ccb_xpt_priv *x = &ccb->ccb_h.xpt;

	if (!(x->xflags & XPT_XF_TMO))
		return;
	if (x->tprev)
		x->tprev->ccb_h.xpt.tnext = x->tnext;
	else
		eb->tmo_head = x->tnext;
	if (x->tnext)
		x->tnext->ccb_h.xpt.tprev = x->tprev;
	else
		eb->tmo_tail = x->tprev;
	x->tnext = x->tprev = NULL;
	x->xflags &= ~XPT_XF_TMO;
	/* The timer stays armed; it finds nothing due and re-arms. */
}

void xpt_tmo_fini(struct cam_eb *eb)
{
	while (eb->tmo_head)
		xpt_tmo_del(eb, eb->tmo_head);
	if (eb->tmo_timer)
		ev_timer_del(eb->tmo_timer);
	eb->tmo_timer = NULL;
	eb->tmo_expiry = 0;
}

/* One step of the escalation for ccb, whose deadline passed.  Returns the
 * next deadline, or 0 when there is nothing more to try. */
static uint64_t tmo_step(struct cam_eb *eb, union ccb *ccb, uint64_t now,
			 bool *bus_reset_sent)
{
	struct ccb_hdr *h = &ccb->ccb_h;
	struct cam_ed *dev = h->xpt.dev;
	union ccb *r;

	switch (h->xpt.tmo_stage) {
	case 0:
		log_warn("xpt: %u:%u:%llu command timed out; aborting",
			 eb->path_id, dev->target,
			 (unsigned long long)dev->lun);
		h->xpt.xflags |= XPT_XF_TIMEDOUT;
		h->xpt.tmo_stage = 1;
		r = xpt_internal_ccb(eb, XPT_ABORT, dev->target, dev->lun);
		if (r) {
			r->cab.abort_ccb = ccb;
			xpt_action(r);
		}
		return now + eb->abort_grace_ms;
	case 1:
		h->xpt.tmo_stage = 2;
		/* One device reset per device and sweep is enough. */
		if (dev->tmo_sweep != eb->tmo_sweep) {
			dev->tmo_sweep = eb->tmo_sweep;
			log_warn("xpt: %u:%u:%llu abort did not finish; device "
				 "reset", eb->path_id, dev->target,
				 (unsigned long long)dev->lun);
			r = xpt_internal_ccb(eb, XPT_RESET_DEV, dev->target,
					     dev->lun);
			if (r)
				xpt_action(r);
		}
		return now + eb->reset_grace_ms;
	case 2:
		h->xpt.tmo_stage = 3;
		if (!*bus_reset_sent) {
			*bus_reset_sent = true;
			log_warn("xpt: %u:%u:%llu device reset did not finish; "
				 "bus reset", eb->path_id, dev->target,
				 (unsigned long long)dev->lun);
			r = xpt_internal_ccb(eb, XPT_RESET_BUS,
					     CAM_TARGET_WILDCARD,
					     CAM_LUN_WILDCARD);
			if (r)
				xpt_action(r);
		}
		return now + eb->reset_grace_ms;
	default:
		/* The SIM still holds it after a bus reset: it is broken.
		 * The CCB cannot be taken back from it safely. */
		log_err("xpt: %u:%u:%llu CCB still held by %s%u after a bus "
			"reset", eb->path_id, dev->target,
			(unsigned long long)dev->lun, eb->sim->name,
			eb->sim->unit);
		return 0;
	}
}

/* The bus's timeout timer: step every CCB whose deadline passed, then
 * re-arm at the earliest deadline left. */
static void tmo_fire(struct ev_timer *t, void *arg)
{
	struct cam_eb *eb = arg;
	uint64_t now = ev_now_ms(), next = 0;
	union ccb *due = NULL, *ccb, *nx;
	bool bus_reset_sent = false;

	(void)t;
	eb->tmo_expiry = 0;
	eb->tmo_sweep++;
	/* Take the due ones off first: stepping them may finish others. */
	for (ccb = eb->tmo_head; ccb; ccb = nx) {
		nx = ccb->ccb_h.xpt.tnext;
		if (ccb->ccb_h.xpt.deadline > now)
			continue;
		xpt_tmo_del(eb, ccb);
		ccb->ccb_h.xpt.tnext = due;
		due = ccb;
	}
	while ((ccb = due) != NULL) {
		uint64_t d;

		due = ccb->ccb_h.xpt.tnext;
		ccb->ccb_h.xpt.tnext = NULL;
		if (ccb->ccb_h.xpt.state != XPT_CCB_SIM)
			continue;
		d = tmo_step(eb, ccb, now, &bus_reset_sent);
		/* The step may have completed it (inline SIMs); the
		 * completion itself is deferred, so it is still ours. */
		if (d && ccb->ccb_h.xpt.state == XPT_CCB_SIM)
			xpt_tmo_add(eb, ccb, d);
	}
	for (ccb = eb->tmo_head; ccb; ccb = ccb->ccb_h.xpt.tnext)
		if (!next || ccb->ccb_h.xpt.deadline < next)
			next = ccb->ccb_h.xpt.deadline;
	if (next)
		tmo_arm(eb, next);
}

/* ---- polled operation ---- */

static void xpt_polled_done(union ccb *ccb)
{
	ccb->ccb_h.xpt.xflags |= XPT_XF_POLL_DONE;
}

uint32_t xpt_polled_action(union ccb *ccb, uint32_t timeout_ms)
{
	struct ccb_hdr *h = &ccb->ccb_h;
	cam_done_fn saved = h->cbfcnp;
	struct cam_eb *eb = xpt_bus_find(h->path_id);
	uint64_t end = ev_now_ms() + timeout_ms;

	if (!eb)
		return h->status = CAM_PATH_INVALID;
	h->xpt.xflags &= ~XPT_XF_POLL_DONE;
	h->cbfcnp = xpt_polled_done;
	xpt_action(ccb);
	while (!(h->xpt.xflags & XPT_XF_POLL_DONE)) {
		if (eb->sim->ops->poll)
			eb->sim->ops->poll(eb->sim);
		xpt_doneq_run(eb);
		if (h->xpt.xflags & XPT_XF_POLL_DONE)
			break;
		if (ev_now_ms() >= end) {
			/* Take it back from the SIM as a timeout would. */
			union ccb *r = xpt_internal_ccb(eb, XPT_ABORT,
							h->target_id,
							h->target_lun);

			h->xpt.xflags |= XPT_XF_TIMEDOUT;
			if (r) {
				r->cab.abort_ccb = ccb;
				xpt_action(r);
			}
			end = ev_now_ms() + eb->abort_grace_ms;
			timeout_ms = 0;
			if (h->xpt.tmo_stage++ > 0)
				break;
		}
		if (!eb->sim->ops->poll) {
			struct timespec ts = {0, 200000};

			nanosleep(&ts, NULL);
		}
	}
	h->cbfcnp = saved;
	if (!(h->xpt.xflags & XPT_XF_POLL_DONE))
		return CAM_CMD_TIMEOUT;
	return h->status;
}
