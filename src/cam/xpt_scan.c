/*
 * Bus scan (XPT_SCAN_BUS): find the devices on a bus and notice the ones
 * that went away.
 *
 * For each target id (all, or the one the CCB names): REPORT LUNS to LUN
 * 0; a selection timeout means no target there; a target that does not
 * know REPORT LUNS is probed at LUN 0 only.  Each listed LUN gets an
 * INQUIRY; peripheral qualifier 0 means a device is there.  A device seen
 * for the first time is configured and AC_FOUND_DEVICE posted with its
 * INQUIRY data; a configured device this scan did not see is unconfigured
 * and AC_LOST_DEVICE posted.  The probes go through cam_periph_error, so
 * the unit attentions of a fresh nexus are retried away.
 *
 * States: SCAN_RL (REPORT LUNS in flight) -> SCAN_INQ (one INQUIRY per
 * LUN) -> next target -> done.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/log.h>

#include "cam/xpt_internal.h"

#define SCAN_MAX_LUNS 512
#define SCAN_TIMEOUT_MS 5000

enum scan_state {
	SCAN_RL = 1,
	SCAN_INQ = 2,
};

struct xpt_scan {
	struct cam_eb *eb;
	union ccb *req;
	union ccb ccb;
	enum scan_state state;
	uint32_t target, tlast;
	uint32_t gen;
	uint64_t luns[SCAN_MAX_LUNS];
	unsigned nluns, li;
	uint8_t rl[8 + 8 * SCAN_MAX_LUNS];
	uint8_t inq[36];
};

static void scan_next_target(struct xpt_scan *sc);
static void scan_done_cb(union ccb *ccb);

static void scan_issue(struct xpt_scan *sc, uint64_t lun, const uint8_t *cdb,
		       uint8_t cdb_len, void *buf, uint32_t len)
{
	union ccb *ccb = &sc->ccb;

	xpt_setup_ccb(&ccb->ccb_h, sc->eb->path_id, sc->target, lun,
		      XPT_SCSI_IO);
	cam_fill_csio(&ccb->csio, scan_done_cb, CAM_DIR_IN, MSG_SIMPLE_Q_TAG,
		      buf, len, SCSI_SENSE_FIXED_LEN + 14, cdb, cdb_len,
		      SCAN_TIMEOUT_MS);
	ccb->ccb_h.retry_count = CAM_RETRY_DEFAULT;
	ccb->ccb_h.periph_priv[0] = sc;
	xpt_action(ccb);
}

static void scan_inquiry(struct xpt_scan *sc)
{
	uint8_t cdb[6] = {SCSI_INQUIRY, 0, 0, 0, sizeof(sc->inq), 0};

	sc->state = SCAN_INQ;
	memset(sc->inq, 0, sizeof(sc->inq));
	scan_issue(sc, sc->luns[sc->li], cdb, sizeof(cdb), sc->inq,
		   sizeof(sc->inq));
}

static void scan_finish(struct xpt_scan *sc, uint32_t status)
{
	union ccb *req = sc->req;

	req->ccb_h.status = status;
	free(sc);
	xpt_done(req);
}

/* Everything of this target the scan did not see is gone. */
static void scan_target_done(struct xpt_scan *sc)
{
	struct cam_eb *eb = sc->eb;

	for (struct cam_ed *dev = eb->devs; dev; dev = dev->next) {
		if (dev->target != sc->target ||
		    !(dev->flags & CAM_ED_CONFIGURED) ||
		    dev->scan_gen == sc->gen)
			continue;
		struct cam_path p = {eb->path_id, dev->target, dev->lun};

		dev->flags &= ~CAM_ED_CONFIGURED;
		sk_trace(SK_TRACE_PROBE, "probe: %u:%u:%llu lost",
			 eb->path_id, dev->target,
			 (unsigned long long)dev->lun);
		xpt_async(AC_LOST_DEVICE, &p, NULL);
	}
	sc->target++;
	scan_next_target(sc);
}

static void scan_parse_luns(struct xpt_scan *sc, uint32_t got)
{
	uint32_t len;

	sc->nluns = 0;
	if (got < 8)
		return;
	len = scsi_get32(sc->rl);
	if (len > got - 8)
		len = got - 8;
	for (uint32_t off = 8; off + 8 <= 8 + len; off += 8) {
		const uint8_t *e = &sc->rl[off];
		uint64_t lun;

		switch (e[0] >> 6) {
		case 0: /* peripheral device addressing, bus 0 */
			if (e[0] & 0x3f)
				continue;
			lun = e[1];
			break;
		case 1: /* flat space */
			lun = ((uint64_t)(e[0] & 0x3f) << 8) | e[1];
			break;
		default:
			continue;
		}
		if (lun > sc->eb->max_lun || sc->nluns >= SCAN_MAX_LUNS)
			continue;
		sc->luns[sc->nluns++] = lun;
	}
}

static void scan_done_cb(union ccb *ccb)
{
	struct xpt_scan *sc = ccb->ccb_h.periph_priv[0];
	struct cam_eb *eb = sc->eb;
	int err = cam_periph_error(ccb);
	uint32_t got;

	if (err == CAM_PERIPH_RETRIED)
		return;
	got = ccb->csio.dxfer_len - ccb->csio.resid;
	if (sc->state == SCAN_RL) {
		if (err == 0) {
			scan_parse_luns(sc, got);
		} else if (err == -ENXIO) {
			sc->nluns = 0;	/* no target at this id */
		} else {
			sc->luns[0] = 0; /* no REPORT LUNS: LUN 0 only */
			sc->nluns = 1;
		}
		sc->li = 0;
		if (sc->nluns == 0) {
			scan_target_done(sc);
			return;
		}
		scan_inquiry(sc);
		return;
	}
	if (err == 0 && got >= 1 && (sc->inq[0] >> 5) == 0) {
		struct cam_ed *dev = xpt_dev_get(eb, sc->target,
						 sc->luns[sc->li], true);

		if (dev) {
			dev->scan_gen = sc->gen;
			memcpy(dev->inq, sc->inq, sizeof(dev->inq));
			if (!(dev->flags & CAM_ED_CONFIGURED)) {
				struct cam_path p = {eb->path_id, dev->target,
						     dev->lun};

				dev->flags |= CAM_ED_CONFIGURED;
				sk_trace(SK_TRACE_PROBE,
					 "probe: %u:%u:%llu found", eb->path_id,
					 dev->target,
					 (unsigned long long)dev->lun);
				xpt_async(AC_FOUND_DEVICE, &p, dev->inq);
			}
		}
	}
	if (++sc->li < sc->nluns) {
		scan_inquiry(sc);
		return;
	}
	scan_target_done(sc);
}

static void scan_next_target(struct xpt_scan *sc)
{
	uint8_t cdb[12] = {SCSI_REPORT_LUNS, 0};

	while (sc->target <= sc->tlast &&
	       sc->target == sc->eb->initiator_id)
		sc->target++;
	if (sc->target > sc->tlast || sc->eb->dying) {
		scan_finish(sc, CAM_REQ_CMP);
		return;
	}
	sc->state = SCAN_RL;
	scsi_put32(&cdb[6], sizeof(sc->rl));
	memset(sc->rl, 0, sizeof(sc->rl));
	scan_issue(sc, 0, cdb, sizeof(cdb), sc->rl, sizeof(sc->rl));
}

void xpt_scan_start(struct cam_eb *eb, union ccb *ccb)
{
	struct xpt_scan *sc = calloc(1, sizeof(*sc));

	if (!sc) {
		ccb->ccb_h.status = CAM_RESRC_UNAVAIL;
		xpt_done(ccb);
		return;
	}
	sc->eb = eb;
	sc->req = ccb;
	sc->gen = ++eb->scan_gen;
	if (ccb->ccb_h.target_id == CAM_TARGET_WILDCARD) {
		sc->target = 0;
		sc->tlast = eb->max_target;
	} else if (ccb->ccb_h.target_id > eb->max_target) {
		free(sc);
		ccb->ccb_h.status = CAM_TID_INVALID;
		xpt_done(ccb);
		return;
	} else {
		sc->target = sc->tlast = ccb->ccb_h.target_id;
	}
	scan_next_target(sc);
}
