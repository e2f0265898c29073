/*
 * The loop SIM's path inquiry.  Its transfer settings (16-bit wide, sync
 * period factor 0x09, offset 62) and geometry are the shared ones of
 * cam/sim_tran.c, which the vscsi SIM uses too.
 */
#include <stdio.h>
#include <string.h>

#include <scsikit/log.h>

#include "cam/sim_loop_int.h"

/* ---- path inquiry ---- */

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
