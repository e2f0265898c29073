/*
 * The loop SIM: an in-process host adapter whose targets are target-engine
 * targets.  Each attached target gets one I_T nexus ("the adapter"); an
 * XPT_SCSI_IO becomes a tgt_task on it and the task's status, sense and
 * residual come back in the CCB.
 *
 * It behaves like the reference's model adapter: tags are the XPT's, a
 * command holds a hardware control block (hcb) from a fixed pool (running
 * out freezes the SIM queue and requeues, the next completion releases),
 * CHECK CONDITION comes back with autosense unless CAM_DIS_AUTOSENSE, in
 * which case the sense is kept for the REQUEST SENSE that follows.
 * Transfer settings are kept as user / goal / current per target (width,
 * sync) and per LUN (disconnection, tags), "negotiated" on the next I/O.
 *
 * Fault injection (cam_loop_fault_add) makes every error path of the XPT
 * reachable: dropped commands, delays, BUSY, CHECK CONDITION, selection
 * timeouts, unexpected bus free, bus resets, resource shortage, and any
 * other status on demand.
 *
 * Everything runs on the bus's loop except the fault table (fault_lock).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/target.h>

#include "cam/xpt_internal.h"

/* What the adapter can do (negotiation is truncated to these). */
#include "cam/sim_loop_int.h"

static void loop_action(struct cam_sim *sim, union ccb *ccb);
static void loop_poll(struct cam_sim *sim);

static const struct cam_sim_ops loop_sim_ops = {
	.name = "loop",
	.action = loop_action,
	.poll = loop_poll,
};

/* ---- creation ---- */

struct cam_loop *cam_loop_create(const struct cam_loop_params *p)
{
	struct cam_loop *lp = calloc(1, sizeof(*lp));

	if (!lp)
		return NULL;
	if (p)
		lp->p = *p;
	if (!lp->p.targets)
		lp->p.targets = 8;
	if (!lp->p.luns)
		lp->p.luns = 8;
	if (lp->p.luns > TGT_MAX_LUNS)
		lp->p.luns = TGT_MAX_LUNS;
	if (lp->p.targets > 255)
		lp->p.targets = 255;
	lp->max_target = lp->p.targets - 1;
	lp->max_lun = lp->p.luns - 1;
	if (!lp->p.tags)
		lp->p.tags = 64;
	if (!lp->p.devq_size)
		lp->p.devq_size = lp->p.targets * lp->p.tags > 4096
					  ? 4096
					  : lp->p.targets * lp->p.tags;
	if (!lp->p.maxio)
		lp->p.maxio = 1u << 20;
	snprintf(lp->name, sizeof(lp->name), "%s",
		 lp->p.name ? lp->p.name : "loop");
	lp->p.name = lp->name;
	lp->path_id = -1;
	lp->active.next = lp->active.prev = &lp->active;
	pthread_mutex_init(&lp->fault_lock, NULL);
	lp->tgts = calloc(lp->max_target + 1, sizeof(*lp->tgts));
	lp->pool = calloc(lp->p.devq_size, sizeof(*lp->pool));
	if (!lp->tgts || !lp->pool)
		goto out_free;
	for (uint32_t i = 0; i < lp->p.devq_size; i++) {
		lp->pool[i].lp = lp;
		lp->pool[i].next = lp->free_list;
		lp->free_list = &lp->pool[i];
	}
	for (uint32_t t = 0; t <= lp->max_target; t++) {
		struct loop_tgt *lt = &lp->tgts[t];

		lt->luns = calloc(lp->max_lun + 1, sizeof(*lt->luns));
		if (!lt->luns)
			goto out_free;
	}
	{
		static const struct sim_tran_limits lim = {
			LOOP_BUS_WIDTH, LOOP_MIN_PERIOD, LOOP_MAX_OFFSET};

		if (sim_tran_init(&lp->tran, lp->max_target, lp->max_lun,
				  &lim) < 0)
			goto out_free;
	}
	lp->devq = cam_simq_alloc(lp->p.devq_size);
	if (!lp->devq)
		goto out_free;
	lp->sim = cam_sim_alloc(&loop_sim_ops, lp->name, lp, lp->p.unit, 1,
				(int)lp->p.tags, lp->devq);
	if (!lp->sim)
		goto out_free_devq;
	return lp;

out_free_devq:
	cam_simq_free(lp->devq);
out_free:
	if (lp->tgts)
		for (uint32_t t = 0; t <= lp->max_target; t++)
			free(lp->tgts[t].luns);
	free(lp->tgts);
	sim_tran_fini(&lp->tran);
	free(lp->pool);
	pthread_mutex_destroy(&lp->fault_lock);
	free(lp);
	return NULL;
}

int cam_loop_attach_target(struct cam_loop *lp, uint32_t id,
			   struct tgt_target *t)
{
	char port[64];
	struct loop_tgt *lt;

	if (id > lp->max_target)
		return -ERANGE;
	lt = &lp->tgts[id];
	if (lt->t)
		return -EEXIST;
	snprintf(port, sizeof(port), "cam:%s%u", lp->name, lp->p.unit);
	lt->nx = tgt_nexus_create(t, port);
	if (!lt->nx)
		return -ENOMEM;
	/* Block Limits tells initiators what this SIM accepts (maxio). */
	tgt_target_set_max_xfer(t, lp->p.maxio);
	lt->t = tgt_target_hold(t);
	return 0;
}

struct tgt_target *cam_loop_target(struct cam_loop *lp, uint32_t id)
{
	return id <= lp->max_target ? lp->tgts[id].t : NULL;
}

struct cam_sim *cam_loop_sim(struct cam_loop *lp)
{
	return lp->sim;
}

unsigned cam_loop_active(struct cam_loop *lp)
{
	return lp->nactive;
}

int cam_loop_register(struct cam_loop *lp, struct ev_loop *loop)
{
	lp->loop = loop;
	if (xpt_bus_register(lp->sim, loop, 0) != CAM_SUCCESS)
		return -ENOSPC;
	lp->path_id = (int)cam_sim_path(lp->sim);
	return lp->path_id;
}

/* ---- hcbs ---- */

static struct loop_hcb *hcb_get(struct cam_loop *lp)
{
	struct loop_hcb *h = lp->free_list;

	if (!h)
		return NULL;
	lp->free_list = h->next;
	memset(&h->task, 0, sizeof(h->task));
	h->ccb = NULL;
	h->in_engine = false;
	h->fault_opts = 0;
	h->delay_ms = 0;
	h->timer = NULL;
	lp->nengine++;
	return h;
}

static void loop_free_final(struct cam_loop *lp);

static void hcb_put(struct cam_loop *lp, struct loop_hcb *h)
{
	h->state = HCB_FREE;
	h->next = lp->free_list;
	lp->free_list = h;
	lp->nengine--;
	if (lp->dying && lp->nengine == 0)
		loop_free_final(lp);
}

static void hcb_link(struct cam_loop *lp, struct loop_hcb *h)
{
	h->next = &lp->active;
	h->prev = lp->active.prev;
	lp->active.prev->next = h;
	lp->active.prev = h;
	lp->nactive++;
}

static void hcb_unlink(struct cam_loop *lp, struct loop_hcb *h)
{
	h->prev->next = h->next;
	h->next->prev = h->prev;
	h->next = h->prev = NULL;
	lp->nactive--;
}

/* Give the CCB back (the reference's free_hcb_and_ccb_done).  The hcb
 * stays allocated while the engine still owns its task. */
static void hcb_ccb_done(struct cam_loop *lp, struct loop_hcb *h,
			 uint32_t status)
{
	union ccb *ccb = h->ccb;

	if (h->timer) {
		ev_timer_del(h->timer);
		h->timer = NULL;
	}
	hcb_unlink(lp, h);
	h->ccb = NULL;
	if (!h->in_engine)
		hcb_put(lp, h);
	/* We are about to free an hcb: the shortage has ended. */
	if (lp->shortage) {
		lp->shortage = false;
		status |= CAM_RELEASE_SIMQ;
	}
	ccb->ccb_h.sim_priv.spriv_ptr0 = NULL;
	ccb->ccb_h.status = status |
			    (ccb->ccb_h.status & ~(CAM_STATUS_MASK | CAM_SIM_QUEUED));
	xpt_done(ccb);
}

/* Freeze the CCB's device queue for an error (the XPT releases it). */
static uint32_t loop_freeze_dev(struct cam_loop *lp, union ccb *ccb)
{
	struct cam_path p = {(uint32_t)lp->path_id, ccb->ccb_h.target_id,
			     ccb->ccb_h.target_lun};

	xpt_freeze_devq(&p, 1);
	return CAM_DEV_QFRZN;
}

/* ---- faults ---- */

int cam_loop_fault_add(struct cam_loop *lp, const struct cam_loop_fault *f)
{
	int slot;

	pthread_mutex_lock(&lp->fault_lock);
	/* Rules whose count ran out leave their slot free. */
	while (lp->nfaults > 0 && lp->faults[lp->nfaults - 1].count == 0)
		lp->nfaults--;
	for (slot = 0; slot < (int)lp->nfaults; slot++)
		if (lp->faults[slot].count == 0)
			break;
	if (slot == CAM_LOOP_MAX_FAULTS) {
		pthread_mutex_unlock(&lp->fault_lock);
		return -ENOSPC;
	}
	lp->faults[slot] = *f;
	if (slot == (int)lp->nfaults)
		lp->nfaults++;
	pthread_mutex_unlock(&lp->fault_lock);
	return slot;
}

void cam_loop_fault_clear(struct cam_loop *lp)
{
	pthread_mutex_lock(&lp->fault_lock);
	lp->nfaults = 0;
	pthread_mutex_unlock(&lp->fault_lock);
}

uint64_t cam_loop_fault_hits(struct cam_loop *lp)
{
	uint64_t h;

	pthread_mutex_lock(&lp->fault_lock);
	h = lp->hits;
	pthread_mutex_unlock(&lp->fault_lock);
	return h;
}

static bool loop_fault_match(struct cam_loop *lp, union ccb *ccb,
			     uint8_t opcode, struct cam_loop_fault *out)
{
	bool hit = false;

	if (lp->nfaults == 0)
		return false;
	pthread_mutex_lock(&lp->fault_lock);
	for (unsigned i = 0; i < lp->nfaults; i++) {
		struct cam_loop_fault *f = &lp->faults[i];

		if (f->count == 0)
			continue;
		if (f->target >= 0 && (uint32_t)f->target != ccb->ccb_h.target_id)
			continue;
		if (f->lun >= 0 && (uint64_t)f->lun != ccb->ccb_h.target_lun)
			continue;
		if (f->opcode >= 0 && f->opcode != opcode)
			continue;
		if (f->count > 0)
			f->count--;
		*out = *f;
		lp->hits++;
		hit = true;
		break;
	}
	pthread_mutex_unlock(&lp->fault_lock);
	return hit;
}

/* ---- SCSI I/O ---- */

static struct loop_lun_state *loop_lun(struct cam_loop *lp, union ccb *ccb)
{
	return &lp->tgts[ccb->ccb_h.target_id].luns[ccb->ccb_h.target_lun];
}

static void loop_keep_sense(struct cam_loop *lp, union ccb *ccb,
			    const uint8_t *sense, uint8_t len)
{
	struct loop_lun_state *ls = loop_lun(lp, ccb);

	memcpy(ls->sense, sense, len);
	ls->sense_len = len;
}

/* Put sense in the CCB (autosense) or keep it for REQUEST SENSE. */
static uint32_t loop_check_condition(struct cam_loop *lp, union ccb *ccb,
				     const uint8_t *sense, uint8_t len,
				     bool autosense)
{
	struct ccb_scsiio *csio = &ccb->csio;

	csio->scsi_status = SCSI_STATUS_CHECK_CONDITION;
	if (!autosense || (ccb->ccb_h.flags & CAM_DIS_AUTOSENSE)) {
		loop_keep_sense(lp, ccb, sense, len);
		return CAM_SCSI_STATUS_ERROR;
	}
	uint8_t n = len < csio->sense_len ? len : csio->sense_len;

	memcpy(csio->sense_data, sense, n);
	csio->sense_resid = (uint8_t)(csio->sense_len - n);
	return CAM_SCSI_STATUS_ERROR | CAM_AUTOSNS_VALID;
}

static void loop_delay_fire(struct ev_timer *t, void *arg)
{
	struct loop_hcb *h = arg;

	ev_timer_del(t);
	h->timer = NULL;
	if (h->ccb)
		hcb_ccb_done(h->lp, h, h->pend_status);
}

static void loop_finish_or_delay(struct cam_loop *lp, struct loop_hcb *h,
				 uint32_t status)
{
	if (h->delay_ms) {
		h->state = HCB_DELAYED;
		h->pend_status = status;
		h->timer = ev_timer_add(lp->loop, h->delay_ms, false,
					loop_delay_fire, h);
		if (h->timer)
			return;
	}
	hcb_ccb_done(lp, h, status);
}

static void loop_task_done(struct tgt_task *task, void *arg)
{
	struct loop_hcb *h = arg;
	struct cam_loop *lp = h->lp;
	union ccb *ccb = h->ccb;
	struct ccb_scsiio *csio;
	uint32_t status;

	h->in_engine = false;
	if (!ccb) {
		/* The CCB went back already (abort, reset). */
		hcb_put(lp, h);
		return;
	}
	csio = &ccb->csio;
	csio->resid = task->resid_flags & TGT_RESID_UNDER ? task->resid : 0;
	if (task->aborted) {
		status = CAM_REQ_ABORTED;
	} else if (task->resid_flags & TGT_RESID_OVER &&
		   task->status == SCSI_STATUS_GOOD) {
		status = CAM_DATA_RUN_ERR;
	} else if (task->status == SCSI_STATUS_GOOD) {
		csio->scsi_status = SCSI_STATUS_GOOD;
		status = CAM_REQ_CMP;
	} else if (task->status == SCSI_STATUS_CHECK_CONDITION &&
		   task->sense_len > 0) {
		status = loop_check_condition(lp, ccb, task->sense,
					      task->sense_len, true);
	} else {
		csio->scsi_status = task->status;
		status = CAM_SCSI_STATUS_ERROR;
	}
	loop_finish_or_delay(lp, h, status);
}

/* REQUEST SENSE while sense is kept: answer from it (contingent
 * allegiance).  Returns true when answered. */
static bool loop_request_sense(struct cam_loop *lp, struct loop_hcb *h,
			       const uint8_t *cdb)
{
	union ccb *ccb = h->ccb;
	struct ccb_scsiio *csio = &ccb->csio;
	struct loop_lun_state *ls = loop_lun(lp, ccb);
	uint32_t n = ls->sense_len;

	if (cdb[0] != SCSI_REQUEST_SENSE || ls->sense_len == 0)
		return false;
	if (n > cdb[4])
		n = cdb[4];
	if (n > csio->dxfer_len)
		n = csio->dxfer_len;
	if (ccb->ccb_h.flags & CAM_SCATTER_VALID) {
		const struct iovec *iov = (const struct iovec *)csio->data_ptr;
		uint32_t off = 0;

		for (int i = 0; i < csio->sglist_cnt && off < n; i++) {
			uint32_t c = n - off < iov[i].iov_len
					     ? n - off
					     : (uint32_t)iov[i].iov_len;

			memcpy(iov[i].iov_base, ls->sense + off, c);
			off += c;
		}
	} else {
		memcpy(csio->data_ptr, ls->sense, n);
	}
	csio->resid = csio->dxfer_len - n;
	csio->scsi_status = SCSI_STATUS_GOOD;
	ls->sense_len = 0;
	loop_finish_or_delay(lp, h, CAM_REQ_CMP);
	return true;
}

static void loop_release_fire(struct ev_timer *t, void *arg)
{
	struct cam_loop *lp = arg;

	ev_timer_del(t);
	lp->release_timer = NULL;
	if (lp->shortage) {
		lp->shortage = false;
		xpt_release_simq(lp->sim, true);
	}
}

/* No hcb: freeze the SIM queue and hand the CCB back for requeue. */
static void loop_shortage(struct cam_loop *lp, union ccb *ccb)
{
	if (!lp->shortage) {
		lp->shortage = true;
		xpt_freeze_simq(lp->sim, 1);
		/* With nothing in flight no completion would carry the
		 * release: the resource "comes back" on a timer. */
		if (lp->nengine == 0 && !lp->release_timer)
			lp->release_timer = ev_timer_add(lp->loop, 1, false,
							 loop_release_fire, lp);
	}
	ccb->ccb_h.status = CAM_REQUEUE_REQ;
	xpt_done(ccb);
}

static void loop_bus_reset_all(struct cam_loop *lp, uint32_t status);

static void loop_scsi_io(struct cam_loop *lp, union ccb *ccb)
{
	struct ccb_hdr *ch = &ccb->ccb_h;
	struct ccb_scsiio *csio = &ccb->csio;
	const uint8_t *cdb = (ch->flags & CAM_CDB_POINTER)
				     ? csio->cdb_io.cdb_ptr
				     : csio->cdb_io.cdb_bytes;
	struct loop_tgt *lt;
	struct loop_hcb *h;
	struct cam_loop_fault f = {0};
	bool faulted;
	uint32_t st;

	if (cam_ccb_status(ch->status) != CAM_REQ_INPROG) {
		xpt_done(ccb);
		return;
	}
	if (ch->target_id > lp->max_target) {
		ch->status = CAM_TID_INVALID;
		xpt_done(ccb);
		return;
	}
	if (ch->target_lun > lp->max_lun) {
		ch->status = CAM_LUN_INVALID;
		xpt_done(ccb);
		return;
	}
	if (csio->dxfer_len > lp->p.maxio ||
	    ((ch->flags & CAM_SCATTER_VALID) && csio->sglist_cnt > LOOP_MAX_SG)) {
		ch->status = CAM_REQ_TOO_BIG;
		xpt_done(ccb);
		return;
	}
	if ((ch->flags & CAM_DIR_MASK) == CAM_DIR_BOTH) {
		ch->status = CAM_REQ_INVALID;
		xpt_done(ccb);
		return;
	}
	lt = &lp->tgts[ch->target_id];
	faulted = loop_fault_match(lp, ccb, cdb[0], &f);
	if (faulted && f.kind == CAM_LOOP_FAULT_SHORTAGE) {
		loop_shortage(lp, ccb);
		return;
	}
	h = hcb_get(lp);
	if (!h) {
		loop_shortage(lp, ccb);
		return;
	}
	h->ccb = ccb;
	h->state = HCB_ENGINE;
	ch->sim_priv.spriv_ptr0 = h;
	ch->status |= CAM_SIM_QUEUED;
	hcb_link(lp, h);

	/* Negotiate if the goal changed: the reference's target_negotiated. */
	sim_tran_negotiate(&lp->tran, lp->path_id, ch->target_id);

	if (faulted) {
		uint8_t sense[SCSI_SENSE_FIXED_LEN];
		size_t sl;

		h->fault_opts = f.options;
		switch (f.kind) {
		case CAM_LOOP_FAULT_DROP:
			h->state = HCB_DROPPED;
			return;
		case CAM_LOOP_FAULT_DELAY:
			h->delay_ms = f.delay_ms;
			break;	/* run it, complete late */
		case CAM_LOOP_FAULT_BUSY:
			csio->scsi_status = SCSI_STATUS_BUSY;
			hcb_ccb_done(lp, h, CAM_SCSI_STATUS_ERROR);
			return;
		case CAM_LOOP_FAULT_TASK_SET_FULL:
			csio->scsi_status = SCSI_STATUS_TASK_SET_FULL;
			hcb_ccb_done(lp, h, CAM_SCSI_STATUS_ERROR);
			return;
		case CAM_LOOP_FAULT_CHECK:
		case CAM_LOOP_FAULT_NOSENSE:
			sl = scsi_sense_build_simple(f.sense_key, f.asc_ascq,
						     false, sense,
						     sizeof(sense));
			st = loop_check_condition(
				lp, ccb, sense, (uint8_t)sl,
				f.kind == CAM_LOOP_FAULT_CHECK);
			hcb_ccb_done(lp, h, st);
			return;
		case CAM_LOOP_FAULT_SEL_TIMEOUT:
			st = CAM_SEL_TIMEOUT | loop_freeze_dev(lp, ccb);
			hcb_ccb_done(lp, h, st);
			return;
		case CAM_LOOP_FAULT_BUSFREE:
			csio->resid = csio->dxfer_len;
			st = CAM_UNEXP_BUSFREE | loop_freeze_dev(lp, ccb);
			hcb_ccb_done(lp, h, st);
			return;
		case CAM_LOOP_FAULT_BUS_RESET:
			loop_bus_reset_all(lp, CAM_SCSI_BUS_RESET);
			return;
		case CAM_LOOP_FAULT_HBA_ERROR:
			/* The reference's fatal controller error: reset with
			 * everything held failed as an adapter error. */
			loop_bus_reset_all(lp, CAM_UNREC_HBA_ERROR);
			return;
		case CAM_LOOP_FAULT_STATUS:
			st = f.status & CAM_STATUS_MASK;
			if (f.options & CAM_LOOP_F_QFRZN)
				st |= loop_freeze_dev(lp, ccb);
			if (st == CAM_DATA_RUN_ERR || st == CAM_UNEXP_BUSFREE)
				csio->resid = csio->dxfer_len;
			hcb_ccb_done(lp, h, st);
			return;
		default:
			break;
		}
	}

	if (!lt->t) {
		/* Nobody answers selection at this id. */
		st = CAM_SEL_TIMEOUT | loop_freeze_dev(lp, ccb);
		hcb_ccb_done(lp, h, st);
		return;
	}
	if (loop_request_sense(lp, h, cdb))
		return;
	/* Any other command ends the contingent allegiance. */
	loop_lun(lp, ccb)->sense_len = 0;

	struct tgt_task *task = &h->task;

	memcpy(task->cdb, cdb, csio->cdb_len);
	task->cdb_len = csio->cdb_len;
	task->lun = ch->target_lun;
	task->tag = ch->tag_id;
	switch (ch->tag_action) {
	case MSG_ORDERED_Q_TAG:
		task->attr = TGT_TASK_ORDERED;
		break;
	case MSG_HEAD_OF_Q_TAG:
		task->attr = TGT_TASK_HEAD_OF_QUEUE;
		break;
	default:
		task->attr = TGT_TASK_SIMPLE;
		break;
	}
	switch (ch->flags & CAM_DIR_MASK) {
	case CAM_DIR_IN:
		task->dir = TGT_DIR_READ;
		break;
	case CAM_DIR_OUT:
		task->dir = TGT_DIR_WRITE;
		break;
	default:
		task->dir = TGT_DIR_NONE;
		break;
	}
	task->data_len = task->dir == TGT_DIR_NONE ? 0 : csio->dxfer_len;
	if (ch->flags & CAM_SCATTER_VALID) {
		task->iov = (const struct iovec *)csio->data_ptr;
		task->iovcnt = csio->sglist_cnt;
	} else {
		h->iov1.iov_base = csio->data_ptr;
		h->iov1.iov_len = task->data_len;
		task->iov = &h->iov1;
		task->iovcnt = task->data_len ? 1 : 0;
	}
	task->loop = lp->loop;
	task->done = loop_task_done;
	task->done_arg = h;
	h->in_engine = true;
	if (tgt_task_submit(lt->nx, task) < 0) {
		h->in_engine = false;
		hcb_ccb_done(lp, h, CAM_REQ_CMP_ERR);
	}
}

/* ---- aborts and resets ---- */

/* Take a held CCB back with status: the engine task, if any, is aborted
 * and its hcb freed when the engine lets go. */
static void loop_hcb_kill(struct cam_loop *lp, struct loop_hcb *h,
			  uint32_t status)
{
	if (h->in_engine)
		tgt_task_abort(&h->task);
	hcb_ccb_done(lp, h, status);
}

static void loop_abort(struct cam_loop *lp, union ccb *ccb)
{
	union ccb *victim = ccb->cab.abort_ccb;
	struct loop_hcb *h;

	if (sim_abort_unabortable(ccb))
		return;
	for (h = lp->active.next; h != &lp->active; h = h->next)
		if (h->ccb == victim)
			break;
	if (h == &lp->active) {
		ccb->ccb_h.status = CAM_PATH_INVALID;
		xpt_done(ccb);
		return;
	}
	if (h->state == HCB_DROPPED && (h->fault_opts & CAM_LOOP_F_IGNORE_ABORT)) {
		/* The target swallows the ABORT message: the command stays
		 * stuck and the XPT has to escalate. */
		ccb->ccb_h.status = CAM_REQ_CMP;
		xpt_done(ccb);
		return;
	}
	loop_hcb_kill(lp, h, CAM_REQ_ABORTED);
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
}

static void loop_reset_dev(struct cam_loop *lp, union ccb *ccb)
{
	uint32_t t = ccb->ccb_h.target_id;
	struct loop_hcb *h, *next;
	struct cam_path p;

	if (t > lp->max_target) {
		ccb->ccb_h.status = CAM_TID_INVALID;
		xpt_done(ccb);
		return;
	}
	if (!lp->tgts[t].t) {
		ccb->ccb_h.status = CAM_SEL_TIMEOUT;
		xpt_done(ccb);
		return;
	}
	for (h = lp->active.next; h != &lp->active; h = next) {
		next = h->next;
		if (h->ccb->ccb_h.target_id != t)
			continue;
		if (h->state == HCB_DROPPED &&
		    (h->fault_opts & CAM_LOOP_F_IGNORE_BDR))
			continue;
		loop_hcb_kill(lp, h, CAM_BDR_SENT);
	}
	tgt_tmf(lp->tgts[t].t, lp->tgts[t].nx, TGT_TMF_TARGET_WARM_RESET, 0);
	for (uint32_t l = 0; l <= lp->max_lun; l++)
		lp->tgts[t].luns[l].sense_len = 0;
	/* Negotiations are lost on a reset. */
	sim_tran_reset(&lp->tran, lp->path_id, t);
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
	p = (struct cam_path){(uint32_t)lp->path_id, t, CAM_LUN_WILDCARD};
	xpt_async(AC_SENT_BDR, &p, NULL);
}

static void loop_bus_reset_all(struct cam_loop *lp, uint32_t status)
{
	struct loop_hcb *h, *next;
	struct cam_path wild = {(uint32_t)lp->path_id, CAM_TARGET_WILDCARD,
				CAM_LUN_WILDCARD};

	for (h = lp->active.next; h != &lp->active; h = next) {
		next = h->next;
		loop_hcb_kill(lp, h, status);
	}
	for (uint32_t t = 0; t <= lp->max_target; t++) {
		if (!lp->tgts[t].t)
			continue;
		tgt_tmf(lp->tgts[t].t, lp->tgts[t].nx,
			TGT_TMF_TARGET_WARM_RESET, 0);
		for (uint32_t l = 0; l <= lp->max_lun; l++)
			lp->tgts[t].luns[l].sense_len = 0;
		sim_tran_reset(&lp->tran, lp->path_id, t);
	}
	xpt_async(AC_BUS_RESET, &wild, NULL);
}

void cam_loop_bus_reset(struct cam_loop *lp)
{
	loop_bus_reset_all(lp, CAM_SCSI_BUS_RESET);
}

static void loop_action(struct cam_sim *sim, union ccb *ccb)
{
	struct cam_loop *lp = cam_sim_softc(sim);

	switch (ccb->ccb_h.func_code) {
	case XPT_SCSI_IO:
		loop_scsi_io(lp, ccb);
		break;
	case XPT_ABORT:
		loop_abort(lp, ccb);
		break;
	case XPT_RESET_DEV:
		loop_reset_dev(lp, ccb);
		break;
	case XPT_RESET_BUS:
		loop_bus_reset_all(lp, CAM_SCSI_BUS_RESET);
		ccb->ccb_h.status = CAM_REQ_CMP;
		xpt_done(ccb);
		break;
	case XPT_SET_TRAN_SETTINGS:
		sim_tran_set(&lp->tran, lp->path_id, ccb);
		break;
	case XPT_GET_TRAN_SETTINGS:
		sim_tran_get(&lp->tran, ccb);
		break;
	case XPT_CALC_GEOMETRY:
		sim_calc_geometry(ccb);
		break;
	case XPT_PATH_INQ:
		loop_path_inq(lp, ccb);
		break;
	default:
		sim_func_unknown(ccb);
		break;
	}
}

/* Polled mode: the engine completes on the loop, so run it once without
 * waiting (never from inside a loop callback). */
static void loop_poll(struct cam_sim *sim)
{
	struct cam_loop *lp = cam_sim_softc(sim);

	if (lp->in_poll || !lp->loop)
		return;
	lp->in_poll = true;
	ev_loop_run_once(lp->loop, 1);
	lp->in_poll = false;
}

int cam_loop_detach_target(struct cam_loop *lp, uint32_t id)
{
	struct loop_tgt *lt;

	if (id > lp->max_target)
		return -ERANGE;
	lt = &lp->tgts[id];
	if (!lt->t)
		return -ENOENT;
	for (struct loop_hcb *h = lp->active.next, *next; h != &lp->active;
	     h = next) {
		next = h->next;
		if (h->ccb->ccb_h.target_id == id)
			loop_hcb_kill(lp, h, CAM_SEL_TIMEOUT);
	}
	tgt_nexus_destroy(lt->nx);
	tgt_target_release(lt->t);
	lt->nx = NULL;
	lt->t = NULL;
	return 0;
}

void cam_loop_destroy(struct cam_loop *lp)
{
	if (!lp)
		return;
	/* Hand back whatever is still held, so no CCB is lost. */
	for (struct loop_hcb *h = lp->active.next, *next; h != &lp->active;
	     h = next) {
		next = h->next;
		loop_hcb_kill(lp, h, CAM_NO_HBA);
	}
	if (lp->release_timer)
		ev_timer_del(lp->release_timer);
	if (lp->path_id >= 0)
		xpt_bus_deregister((uint32_t)lp->path_id);
	for (uint32_t t = 0; t <= lp->max_target; t++) {
		if (lp->tgts[t].t)
			cam_loop_detach_target(lp, t);
		free(lp->tgts[t].luns);
	}
	/* Engine tasks still running come back to their hcbs: the last one
	 * frees the adapter (see hcb_put). */
	if (lp->nengine > 0) {
		lp->dying = true;
		return;
	}
	loop_free_final(lp);
}

static void loop_free_final(struct cam_loop *lp)
{
	cam_sim_free(lp->sim, true);
	free(lp->tgts);
	sim_tran_fini(&lp->tran);
	free(lp->pool);
	pthread_mutex_destroy(&lp->fault_lock);
	free(lp);
}
