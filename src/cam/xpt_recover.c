/*
 * Error recovery in the CAM transport: autosense done by the XPT when a
 * SIM reports CHECK CONDITION without sense data, and the peripherals'
 * common error policy (cam_periph_error).
 *
 * Autosense: the device queue is frozen (so nothing else reaches the
 * device while it holds the sense, as a contingent allegiance would
 * demand), a REQUEST SENSE is queued at the head with the recovery flag
 * that lets it through the freeze, and when it finishes the original CCB
 * gets CAM_AUTOSNS_VALID or becomes CAM_AUTOSENSE_FAIL.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "cam/xpt_internal.h"

#define SCSI_STATUS_COMMAND_TERMINATED 0x22

static void xpt_autosense_done(union ccb *sccb)
{
	union ccb *orig = sccb->ccb_h.periph_priv[0];
	struct ccb_hdr *h = &orig->ccb_h;
	struct cam_ed *dev = h->xpt.dev;
	uint32_t st = cam_ccb_status(sccb->ccb_h.status);

	if (st == CAM_REQ_CMP && sccb->csio.dxfer_len > sccb->csio.resid) {
		h->status |= CAM_AUTOSNS_VALID;
		orig->csio.sense_resid = (uint8_t)sccb->csio.resid;
	} else {
		h->status = (h->status & ~CAM_STATUS_MASK) | CAM_AUTOSENSE_FAIL;
		orig->csio.sense_resid = orig->csio.sense_len;
	}
	sk_trace(SK_TRACE_XPT, "xpt: autosense %s",
		 cam_status_name(sccb->ccb_h.status));
	h->xpt.sense_ccb = NULL;
	free(sccb);
	if (dev->freeze > 0)
		dev->freeze--;
	xpt_finish(orig);
}

bool xpt_autosense_start(struct cam_ed *dev, union ccb *ccb)
{
	struct ccb_hdr *h = &ccb->ccb_h;
	struct ccb_scsiio *csio = &ccb->csio;
	struct cam_eb *eb = dev->eb;
	union ccb *s;
	uint8_t cdb[6] = {SCSI_REQUEST_SENSE, 0, 0, 0, 0, 0};
	uint8_t len;

	if (h->xpt.state == XPT_CCB_SENSE) {
		/* Back from the REQUEST SENSE: finish normally now. */
		return false;
	}
	if ((h->status & CAM_AUTOSNS_VALID) || (h->flags & CAM_DIS_AUTOSENSE) ||
	    (csio->scsi_status != SCSI_STATUS_CHECK_CONDITION &&
	     csio->scsi_status != SCSI_STATUS_COMMAND_TERMINATED))
		return false;
	s = xpt_alloc_ccb();
	if (!s) {
		h->status = (h->status & ~CAM_STATUS_MASK) | CAM_AUTOSENSE_FAIL;
		return false;
	}
	len = csio->sense_len ? csio->sense_len : SCSI_SENSE_MAX;
	if (len > SCSI_SENSE_MAX)
		len = SCSI_SENSE_MAX;
	csio->sense_len = len;
	cdb[4] = len;
	xpt_setup_ccb(&s->ccb_h, eb->path_id, dev->target, dev->lun,
		      XPT_SCSI_IO);
	cam_fill_csio(&s->csio, xpt_autosense_done,
		      CAM_DIR_IN | CAM_DIS_AUTOSENSE, CAM_TAG_ACTION_NONE,
		      csio->sense_data, len, 0, cdb, sizeof(cdb),
		      h->timeout);
	s->ccb_h.periph_priv[0] = ccb;
	s->ccb_h.xpt.bus = eb;
	s->ccb_h.xpt.dev = dev;
	s->ccb_h.xpt.xflags = XPT_XF_RECOVERY;
	s->ccb_h.xpt.seq = 0;	/* ahead of everything on the device */
	h->xpt.sense_ccb = s;
	h->xpt.state = XPT_CCB_SENSE;
	dev->freeze++;
	/* Queue it directly: xpt_action would give it a new number. */
	s->ccb_h.status = CAM_REQ_INPROG;
	s->ccb_h.xpt.state = XPT_CCB_QUEUED;
	s->ccb_h.xpt.next = dev->qhead;
	dev->qhead = s;
	if (!dev->qtail)
		dev->qtail = s;
	dev->queued++;
	return true;
}

/* ---- peripheral error policy ---- */

static void cam_retry_timer(struct ev_timer *t, void *arg)
{
	union ccb *ccb = arg;

	ev_timer_del(t);
	ccb->ccb_h.xpt.timer = NULL;
	ccb->ccb_h.xpt.xflags |= XPT_XF_RETRY;
	xpt_action(ccb);
}

static int cam_retry(union ccb *ccb, uint32_t delay_ms, int final_err)
{
	struct ccb_hdr *h = &ccb->ccb_h;
	struct cam_ed *dev = h->xpt.dev;
	struct cam_eb *eb = h->xpt.bus;

	if (h->retry_count <= 0 || !eb)
		return final_err;
	h->retry_count--;
	if (dev)
		dev->retries++;
	sk_trace(SK_TRACE_XPT, "xpt: retry after %s (%d left)",
		 cam_status_name(h->status), h->retry_count);
	h->status = CAM_REQ_INPROG;
	ccb->csio.scsi_status = 0;
	ccb->csio.resid = 0;
	if (delay_ms) {
		h->xpt.timer = ev_timer_add(eb->loop, delay_ms, false,
					    cam_retry_timer, ccb);
		if (h->xpt.timer)
			return CAM_PERIPH_RETRIED;
	}
	h->xpt.xflags |= XPT_XF_RETRY;
	xpt_action(ccb);
	return CAM_PERIPH_RETRIED;
}

/* What CHECK CONDITION with sense means. */
static int cam_sense_verdict(union ccb *ccb, uint32_t *delay, bool *retry)
{
	struct ccb_scsiio *csio = &ccb->csio;
	struct scsi_sense s;
	size_t len = csio->sense_len > csio->sense_resid
			     ? (size_t)(csio->sense_len - csio->sense_resid)
			     : 0;

	*delay = 0;
	*retry = false;
	if (scsi_sense_parse(csio->sense_data, len, &s) < 0) {
		*retry = true;
		return -EIO;
	}
	switch (s.key) {
	case SCSI_SK_NO_SENSE:
	case SCSI_SK_RECOVERED_ERROR:
		return 0;
	case SCSI_SK_UNIT_ATTENTION:
		*retry = true;
		return -EIO;
	case SCSI_SK_NOT_READY:
		if ((s.asc_ascq >> 8) == 0x04 && (s.asc_ascq & 0xff) == 0x01) {
			*retry = true;
			*delay = CAM_RETRY_DELAY_MS;
		}
		return -EIO;
	case SCSI_SK_ABORTED_COMMAND:
		*retry = true;
		return -EIO;
	case SCSI_SK_ILLEGAL_REQUEST:
		return -EINVAL;
	case SCSI_SK_DATA_PROTECT:
		return -EROFS;
	case SCSI_SK_MISCOMPARE:
		return -EILSEQ;
	case SCSI_SK_MEDIUM_ERROR:
	case SCSI_SK_HARDWARE_ERROR:
	default:
		return -EIO;
	}
}

int cam_periph_error(union ccb *ccb)
{
	struct ccb_hdr *h = &ccb->ccb_h;
	uint32_t st = cam_ccb_status(h->status);
	uint32_t delay = 0;
	bool retry;
	int err;

	switch (st) {
	case CAM_REQ_CMP:
		return 0;
	case CAM_SCSI_STATUS_ERROR:
		switch (ccb->csio.scsi_status) {
		case SCSI_STATUS_GOOD:
		case SCSI_STATUS_CONDITION_MET:
			return 0;
		case SCSI_STATUS_BUSY:
		case SCSI_STATUS_TASK_SET_FULL:
			return cam_retry(ccb, CAM_RETRY_DELAY_MS, -EBUSY);
		case SCSI_STATUS_RESERVATION_CONFLICT:
			return -EBUSY;
		case SCSI_STATUS_CHECK_CONDITION:
		case SCSI_STATUS_COMMAND_TERMINATED:
			if (!(h->status & CAM_AUTOSNS_VALID))
				return cam_retry(ccb, 0, -EIO);
			err = cam_sense_verdict(ccb, &delay, &retry);
			if (err == 0 || !retry)
				return err;
			return cam_retry(ccb, delay, err);
		default:
			return -EIO;
		}
	case CAM_AUTOSENSE_FAIL:
		return cam_retry(ccb, 0, -EIO);
	case CAM_CMD_TIMEOUT:
		return cam_retry(ccb, 0, -ETIMEDOUT);
	case CAM_BUSY:
	case CAM_RESRC_UNAVAIL:
		return cam_retry(ccb, CAM_RETRY_DELAY_MS, -EBUSY);
	case CAM_REQUEUE_REQ:
	case CAM_UNEXP_BUSFREE:
	case CAM_SCSI_BUS_RESET:
	case CAM_BDR_SENT:
	case CAM_UNCOR_PARITY:
	case CAM_REQ_CMP_ERR:
	case CAM_DATA_RUN_ERR:
	case CAM_MSG_REJECT_REC:
	case CAM_SEQUENCE_FAIL:
	case CAM_UNREC_HBA_ERROR:
		return cam_retry(ccb, 0, -EIO);
	case CAM_SEL_TIMEOUT:
	case CAM_DEV_NOT_THERE:
	case CAM_TID_INVALID:
	case CAM_LUN_INVALID:
	case CAM_PATH_INVALID:
	case CAM_NO_HBA:
		return -ENXIO;
	case CAM_REQ_ABORTED:
	case CAM_REQ_TERMIO:
		return -ECANCELED;
	case CAM_REQ_INVALID:
	case CAM_REQ_TOO_BIG:
	case CAM_FUNC_NOTAVAIL:
	case CAM_PROVIDE_FAIL:
	case CAM_CCB_LEN_ERR:
		return -EINVAL;
	default:
		return -EIO;
	}
}

int xpt_set_openings(uint32_t path_id, uint32_t target, uint64_t lun,
		     uint32_t openings)
{
	struct cam_eb *eb = xpt_bus_find(path_id);
	struct cam_ed *dev;
	struct cam_sim *sim;

	if (!eb)
		return -ENODEV;
	dev = xpt_dev_get(eb, target, lun, false);
	if (!dev)
		return -ENODEV;
	sim = eb->sim;
	if (openings == 0) {
		dev->openings_fixed = false;
		dev->openings = (dev->flags & CAM_ED_TAGGED)
					? (uint32_t)sim->max_tagged_dev_transactions
					: (uint32_t)sim->max_dev_transactions;
	} else {
		uint32_t max = (dev->flags & CAM_ED_TAGGED)
				       ? (uint32_t)sim->max_tagged_dev_transactions
				       : (uint32_t)sim->max_dev_transactions;

		dev->openings_fixed = true;
		dev->openings = openings > max ? max : openings;
	}
	xpt_run_bus(eb);
	return 0;
}
