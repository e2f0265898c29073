/*
 * Transfer settings, geometry and the answers every SIM gives alike
 * (sim_tran.h).  Per the reference, width and sync are per target,
 * disconnection and tagged queuing per LUN; settings never go above what
 * the adapter can do nor above the user settings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cam/sim_tran.h"
#include "cam/xpt_internal.h"

int sim_tran_init(struct sim_tran *t, uint32_t max_target, uint32_t max_lun,
		  const struct sim_tran_limits *lim)
{
	size_t nl = (size_t)(max_target + 1) * (max_lun + 1);

	memset(t, 0, sizeof(*t));
	t->lim = *lim;
	t->max_target = max_target;
	t->max_lun = max_lun;
	t->tgts = calloc(max_target + 1, sizeof(*t->tgts));
	t->luns = calloc(nl, sizeof(*t->luns));
	if (!t->tgts || !t->luns) {
		sim_tran_fini(t);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i <= max_target; i++) {
		struct sim_tran_tgt *tt = &t->tgts[i];

		tt->user = (struct sim_tran_neg){lim->bus_width,
						 lim->min_period,
						 lim->max_offset};
		tt->goal = tt->user;
		tt->cur = (struct sim_tran_neg){8, 0, 0};
	}
	for (size_t i = 0; i < nl; i++) {
		t->luns[i].user_tflags = CCB_TRANS_DISC_ENB | CCB_TRANS_TAG_ENB;
		t->luns[i].cur_tflags = t->luns[i].user_tflags;
	}
	return 0;
}

void sim_tran_fini(struct sim_tran *t)
{
	free(t->tgts);
	free(t->luns);
	t->tgts = NULL;
	t->luns = NULL;
}

static struct sim_tran_lun *tran_lun(const struct sim_tran *t, uint32_t tg,
				     uint64_t l)
{
	return &t->luns[(size_t)tg * (t->max_lun + 1) + (size_t)l];
}

/* CAM_REQ_CMP when target and LUN are on the bus (LUN may be wild). */
static uint32_t tran_check(const struct sim_tran *t, union ccb *ccb)
{
	if (ccb->ccb_h.target_id > t->max_target)
		return CAM_TID_INVALID;
	if (ccb->ccb_h.target_lun != CAM_LUN_WILDCARD &&
	    ccb->ccb_h.target_lun > t->max_lun)
		return CAM_LUN_INVALID;
	return CAM_REQ_CMP;
}

static uint32_t clamp_min(uint32_t v, uint32_t a, uint32_t b)
{
	/* Sync period factor: larger is slower; 0 is async, and all an
	 * adapter without synchronous transfers (a = 0) does. */
	if (a == 0)
		return 0;
	if (v && v < a)
		v = a;
	if (v && v < b)
		v = b;
	return v;
}

static uint32_t clamp_max(uint32_t v, uint32_t a, uint32_t b)
{
	if (v > a)
		v = a;
	if (v > b)
		v = b;
	return v;
}

static void post_neg(int path_id, uint32_t target, uint64_t lun,
		     const struct ccb_trans_settings *neg)
{
	struct cam_path p = {(uint32_t)path_id, target, lun};

	xpt_async(AC_TRANSFER_NEG, &p, (void *)neg);
}

void sim_tran_set(struct sim_tran *t, int path_id, union ccb *ccb)
{
	struct ccb_trans_settings *cts = &ccb->cts;
	uint32_t tg = ccb->ccb_h.target_id;
	uint64_t l = ccb->ccb_h.target_lun;
	uint32_t st = tran_check(t, ccb);
	struct sim_tran_tgt *tt;
	struct sim_tran_lun *ls = NULL;

	if (st != CAM_REQ_CMP)
		goto out;
	tt = &t->tgts[tg];
	if (l != CAM_LUN_WILDCARD)
		ls = tran_lun(t, tg, l);
	if ((cts->valid & (CCB_TRANS_DISC_VALID | CCB_TRANS_TQ_VALID)) && !ls) {
		/* Disconnection and tags are per LUN. */
		st = CAM_LUN_INVALID;
		goto out;
	}
	if (cts->flags & CCB_TRANS_USER_SETTINGS) {
		if (cts->valid & CCB_TRANS_SYNC_RATE_VALID)
			tt->user.sync_period = cts->sync_period;
		if (cts->valid & CCB_TRANS_SYNC_OFFSET_VALID)
			tt->user.sync_offset = cts->sync_offset;
		if (cts->valid & CCB_TRANS_BUS_WIDTH_VALID)
			tt->user.bus_width = cts->bus_width;
		if (cts->valid & CCB_TRANS_DISC_VALID)
			ls->user_tflags = (ls->user_tflags & ~CCB_TRANS_DISC_ENB) |
					  (cts->flags & CCB_TRANS_DISC_ENB);
		if (cts->valid & CCB_TRANS_TQ_VALID)
			ls->user_tflags = (ls->user_tflags & ~CCB_TRANS_TAG_ENB) |
					  (cts->flags & CCB_TRANS_TAG_ENB);
	}
	if (cts->flags & CCB_TRANS_CURRENT_SETTINGS) {
		/* Never above what the adapter can do, nor the user set. */
		if (cts->valid & CCB_TRANS_SYNC_RATE_VALID)
			tt->goal.sync_period = clamp_min(cts->sync_period,
							 t->lim.min_period,
							 tt->user.sync_period);
		if (cts->valid & CCB_TRANS_SYNC_OFFSET_VALID)
			tt->goal.sync_offset = clamp_max(cts->sync_offset,
							 t->lim.max_offset,
							 tt->user.sync_offset);
		if (cts->valid & CCB_TRANS_BUS_WIDTH_VALID) {
			uint32_t v = clamp_max(cts->bus_width,
					       t->lim.bus_width,
					       tt->user.bus_width);

			tt->goal.bus_width = v < 8 ? 8 : v;
		}
		if (cts->valid & CCB_TRANS_DISC_VALID)
			ls->cur_tflags = (ls->cur_tflags & ~CCB_TRANS_DISC_ENB) |
					 (cts->flags & CCB_TRANS_DISC_ENB);
		if (cts->valid & CCB_TRANS_TQ_VALID) {
			struct ccb_trans_settings neg;
			uint32_t want = cts->flags & CCB_TRANS_TAG_ENB;

			ls->cur_tflags = (ls->cur_tflags & ~CCB_TRANS_TAG_ENB) |
					 want;
			memset(&neg, 0, sizeof(neg));
			neg.valid = CCB_TRANS_TQ_VALID;
			neg.flags = want;
			post_neg(path_id, tg, l, &neg);
		}
	}
	st = CAM_REQ_CMP;
out:
	ccb->ccb_h.status = st;
	xpt_done(ccb);
}

void sim_tran_get(struct sim_tran *t, union ccb *ccb)
{
	struct ccb_trans_settings *cts = &ccb->cts;
	uint32_t tg = ccb->ccb_h.target_id;
	uint64_t l = ccb->ccb_h.target_lun;
	uint32_t which = cts->flags;
	const struct sim_tran_neg *n;
	uint32_t st = tran_check(t, ccb);

	if (st != CAM_REQ_CMP)
		goto out;
	if (which & CCB_TRANS_CURRENT_SETTINGS)
		n = &t->tgts[tg].cur;
	else if (which & CCB_TRANS_GOAL_SETTINGS)
		n = &t->tgts[tg].goal;
	else
		n = &t->tgts[tg].user;
	cts->bus_width = n->bus_width;
	cts->sync_period = n->sync_period;
	cts->sync_offset = n->sync_offset;
	cts->valid = CCB_TRANS_BUS_WIDTH_VALID | CCB_TRANS_SYNC_RATE_VALID |
		     CCB_TRANS_SYNC_OFFSET_VALID;
	cts->flags &= ~(CCB_TRANS_DISC_ENB | CCB_TRANS_TAG_ENB);
	if (l != CAM_LUN_WILDCARD) {
		const struct sim_tran_lun *ls = tran_lun(t, tg, l);

		cts->flags |= (which & CCB_TRANS_USER_SETTINGS) &&
					      !(which & CCB_TRANS_CURRENT_SETTINGS)
				      ? ls->user_tflags
				      : ls->cur_tflags;
		cts->valid |= CCB_TRANS_DISC_VALID | CCB_TRANS_TQ_VALID;
	}
out:
	ccb->ccb_h.status = st;
	xpt_done(ccb);
}

static void post_target_neg(struct sim_tran *t, int path_id, uint32_t tg)
{
	struct ccb_trans_settings neg;
	const struct sim_tran_neg *c = &t->tgts[tg].cur;

	memset(&neg, 0, sizeof(neg));
	neg.bus_width = c->bus_width;
	neg.sync_period = c->sync_period;
	neg.sync_offset = c->sync_offset;
	neg.valid = CCB_TRANS_BUS_WIDTH_VALID | CCB_TRANS_SYNC_RATE_VALID |
		    CCB_TRANS_SYNC_OFFSET_VALID;
	post_neg(path_id, tg, CAM_LUN_WILDCARD, &neg);
}

void sim_tran_negotiate(struct sim_tran *t, int path_id, uint32_t target)
{
	struct sim_tran_tgt *tt;

	if (target > t->max_target)
		return;
	tt = &t->tgts[target];
	if (memcmp(&tt->cur, &tt->goal, sizeof(tt->cur)) == 0)
		return;
	tt->cur = tt->goal;
	post_target_neg(t, path_id, target);
}

void sim_tran_reset(struct sim_tran *t, int path_id, uint32_t target)
{
	if (target > t->max_target)
		return;
	t->tgts[target].cur = (struct sim_tran_neg){8, 0, 0};
	post_target_neg(t, path_id, target);
}

bool sim_tran_tagged(const struct sim_tran *t, uint32_t target, uint64_t lun)
{
	if (target > t->max_target || lun > t->max_lun)
		return false;
	return (tran_lun(t, target, lun)->cur_tflags & CCB_TRANS_TAG_ENB) != 0;
}

void sim_calc_geometry(union ccb *ccb)
{
	struct ccb_calc_geometry *ccg = &ccb->ccg;
	uint64_t size_mb, cyl;
	uint32_t spc;

	if (ccg->block_size == 0 || ccg->block_size > (1u << 20)) {
		ccb->ccb_h.status = CAM_REQ_INVALID;
		xpt_done(ccb);
		return;
	}
	size_mb = ccg->volume_size / ((1024u * 1024u) / ccg->block_size);
	/* Extended translation is always on. */
	if (size_mb > 1024) {
		ccg->heads = 255;
		ccg->secs_per_track = 63;
	} else {
		ccg->heads = 64;
		ccg->secs_per_track = 32;
	}
	spc = (uint32_t)ccg->heads * ccg->secs_per_track;
	cyl = ccg->volume_size / spc;
	ccg->cylinders = cyl > UINT32_MAX ? UINT32_MAX : (uint32_t)cyl;
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
}

bool sim_abort_unabortable(union ccb *ccb)
{
	union ccb *victim = ccb->cab.abort_ccb;

	if (victim && victim->ccb_h.func_code == XPT_SCSI_IO)
		return false;
	ccb->ccb_h.status = CAM_UA_ABORT;
	xpt_done(ccb);
	return true;
}

void sim_func_unknown(union ccb *ccb)
{
	ccb->ccb_h.status = CAM_REQ_INVALID;
	xpt_done(ccb);
}
