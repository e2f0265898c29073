/*
 * The loop SIM's transfer settings (user / goal / current, truncated to
 * what the adapter can do: 16-bit wide, sync period factor 0x09, offset
 * 62), its BIOS geometry and its path inquiry.  Per the reference, width
 * and sync are per target, disconnection and tagged queuing per LUN; a
 * change of the current goal is "negotiated" by the next I/O to the
 * target (sim_loop.c), a change of tagged queuing takes effect at once and
 * is announced with AC_TRANSFER_NEG so the XPT adjusts the openings.
 */
#include <stdio.h>
#include <string.h>

#include <scsikit/log.h>

#include "cam/sim_loop_int.h"

/* ---- settings, geometry, inquiry ---- */

void loop_set_tran(struct cam_loop *lp, union ccb *ccb)
{
	struct ccb_trans_settings *cts = &ccb->cts;
	uint32_t t = ccb->ccb_h.target_id;
	uint64_t l = ccb->ccb_h.target_lun;
	struct loop_tgt *lt;
	struct loop_lun_state *ls = NULL;

	if (t > lp->max_target) {
		ccb->ccb_h.status = CAM_TID_INVALID;
		xpt_done(ccb);
		return;
	}
	if (l != CAM_LUN_WILDCARD && l > lp->max_lun) {
		ccb->ccb_h.status = CAM_LUN_INVALID;
		xpt_done(ccb);
		return;
	}
	lt = &lp->tgts[t];
	if (l != CAM_LUN_WILDCARD)
		ls = &lt->luns[l];
	if ((cts->valid & (CCB_TRANS_DISC_VALID | CCB_TRANS_TQ_VALID)) && !ls) {
		/* Disconnection and tags are per LUN. */
		ccb->ccb_h.status = CAM_LUN_INVALID;
		xpt_done(ccb);
		return;
	}
	if (cts->flags & CCB_TRANS_USER_SETTINGS) {
		if (cts->valid & CCB_TRANS_SYNC_RATE_VALID)
			lt->user.sync_period = cts->sync_period;
		if (cts->valid & CCB_TRANS_SYNC_OFFSET_VALID)
			lt->user.sync_offset = cts->sync_offset;
		if (cts->valid & CCB_TRANS_BUS_WIDTH_VALID)
			lt->user.bus_width = cts->bus_width;
		if (cts->valid & CCB_TRANS_DISC_VALID)
			ls->user_tflags = (ls->user_tflags & ~CCB_TRANS_DISC_ENB) |
					  (cts->flags & CCB_TRANS_DISC_ENB);
		if (cts->valid & CCB_TRANS_TQ_VALID)
			ls->user_tflags = (ls->user_tflags & ~CCB_TRANS_TAG_ENB) |
					  (cts->flags & CCB_TRANS_TAG_ENB);
	}
	if (cts->flags & CCB_TRANS_CURRENT_SETTINGS) {
		uint32_t v;

		/* Never above what the adapter can do, nor the user set. */
		if (cts->valid & CCB_TRANS_SYNC_RATE_VALID) {
			v = cts->sync_period;
			if (v && v < LOOP_MIN_PERIOD)
				v = LOOP_MIN_PERIOD;
			if (v && v < lt->user.sync_period)
				v = lt->user.sync_period;
			lt->goal.sync_period = v;
		}
		if (cts->valid & CCB_TRANS_SYNC_OFFSET_VALID) {
			v = cts->sync_offset;
			if (v > LOOP_MAX_OFFSET)
				v = LOOP_MAX_OFFSET;
			if (v > lt->user.sync_offset)
				v = lt->user.sync_offset;
			lt->goal.sync_offset = v;
		}
		if (cts->valid & CCB_TRANS_BUS_WIDTH_VALID) {
			v = cts->bus_width;
			if (v > LOOP_BUS_WIDTH)
				v = LOOP_BUS_WIDTH;
			if (v > lt->user.bus_width)
				v = lt->user.bus_width;
			if (v < 8)
				v = 8;
			lt->goal.bus_width = v;
		}
		if (cts->valid & CCB_TRANS_DISC_VALID)
			ls->cur_tflags = (ls->cur_tflags & ~CCB_TRANS_DISC_ENB) |
					 (cts->flags & CCB_TRANS_DISC_ENB);
		if (cts->valid & CCB_TRANS_TQ_VALID) {
			struct ccb_trans_settings neg;
			struct cam_path p = {(uint32_t)lp->path_id, t, l};
			uint32_t want = cts->flags & CCB_TRANS_TAG_ENB;

			ls->cur_tflags = (ls->cur_tflags & ~CCB_TRANS_TAG_ENB) | want;
			memset(&neg, 0, sizeof(neg));
			neg.valid = CCB_TRANS_TQ_VALID;
			neg.flags = want;
			xpt_async(AC_TRANSFER_NEG, &p, &neg);
		}
	}
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
}

void loop_get_tran(struct cam_loop *lp, union ccb *ccb)
{
	struct ccb_trans_settings *cts = &ccb->cts;
	uint32_t t = ccb->ccb_h.target_id;
	uint64_t l = ccb->ccb_h.target_lun;
	const struct loop_neg *n;
	struct loop_tgt *lt;
	uint32_t which = cts->flags;

	if (t > lp->max_target) {
		ccb->ccb_h.status = CAM_TID_INVALID;
		xpt_done(ccb);
		return;
	}
	if (l != CAM_LUN_WILDCARD && l > lp->max_lun) {
		ccb->ccb_h.status = CAM_LUN_INVALID;
		xpt_done(ccb);
		return;
	}
	lt = &lp->tgts[t];
	if (which & CCB_TRANS_CURRENT_SETTINGS)
		n = &lt->cur;
	else if (which & CCB_TRANS_GOAL_SETTINGS)
		n = &lt->goal;
	else
		n = &lt->user;
	cts->bus_width = n->bus_width;
	cts->sync_period = n->sync_period;
	cts->sync_offset = n->sync_offset;
	cts->valid = CCB_TRANS_BUS_WIDTH_VALID | CCB_TRANS_SYNC_RATE_VALID |
		     CCB_TRANS_SYNC_OFFSET_VALID;
	cts->flags &= ~(CCB_TRANS_DISC_ENB | CCB_TRANS_TAG_ENB);
	if (l != CAM_LUN_WILDCARD) {
		const struct loop_lun_state *ls = &lt->luns[l];

		cts->flags |= (which & CCB_TRANS_USER_SETTINGS) &&
					      !(which & CCB_TRANS_CURRENT_SETTINGS)
				      ? ls->user_tflags
				      : ls->cur_tflags;
		cts->valid |= CCB_TRANS_DISC_VALID | CCB_TRANS_TQ_VALID;
	}
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
}

void loop_calc_geometry(union ccb *ccb)
{
	struct ccb_calc_geometry *ccg = &ccb->ccg;
	uint64_t size_mb;
	uint32_t spc;

	if (ccg->block_size == 0 || ccg->block_size > (1u << 20)) {
		ccb->ccb_h.status = CAM_REQ_INVALID;
		xpt_done(ccb);
		return;
	}
	size_mb = ccg->volume_size / ((1024u * 1024u) / ccg->block_size);
	/* Extended translation is always on for this adapter. */
	if (size_mb > 1024) {
		ccg->heads = 255;
		ccg->secs_per_track = 63;
	} else {
		ccg->heads = 64;
		ccg->secs_per_track = 32;
	}
	spc = (uint32_t)ccg->heads * ccg->secs_per_track;
	ccg->cylinders = (uint32_t)(ccg->volume_size / spc);
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
}

void loop_path_inq(struct cam_loop *lp, union ccb *ccb)
{
	struct ccb_pathinq *cpi = &ccb->cpi;
	uint32_t ids[XPT_MAX_BUSES];
	unsigned n = xpt_bus_list(ids, XPT_MAX_BUSES);

	cpi->version_num = 1;
	cpi->hba_inquiry = PI_WIDE_16 | PI_SDTR_ABLE | PI_TAG_ABLE;
	cpi->target_sprt = 0;
	cpi->hba_misc = PIM_NOBUSRESET;
	cpi->hba_eng_cnt = 0;
	memset(cpi->vuhba_flags, 0, sizeof(cpi->vuhba_flags));
	cpi->max_target = lp->max_target;
	cpi->max_lun = lp->max_lun;
	cpi->async_flags = 0;
	cpi->hpath_id = n ? ids[(n < XPT_MAX_BUSES ? n : XPT_MAX_BUSES) - 1] : 0;
	cpi->unit_number = lp->p.unit;
	cpi->bus_id = cam_sim_bus(lp->sim);
	/* The adapter sits one above the highest target id. */
	cpi->initiator_id = lp->max_target + 1;
	cpi->base_transfer_speed = 3300;
	snprintf(cpi->sim_vid, SIM_IDLEN, "%s", "scsikit");
	snprintf(cpi->hba_vid, HBA_IDLEN, "%s", "loopback");
	snprintf(cpi->dev_name, DEV_IDLEN, "%s", cam_sim_name(lp->sim));
	cpi->maxio = lp->p.maxio;
	cpi->max_sg = LOOP_MAX_SG;
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
}
