/*
 * The vscsi SIM: a CAM host adapter whose SCSI commands are serviced by a
 * userland target over a Unix socket (the socket side is sim_conn.c).
 *
 * After OpenBSD's vscsi(4): a bus of 256 targets with 16 openings per
 * device, one userland end at a time, the device states CLOSED -> CONFIG
 * -> RUNNING, and every command held reset when the userland end goes.
 * Where CAM differs from the OpenBSD midlayer:
 *   - with no userland end a command ends with CAM_SEL_TIMEOUT (no target
 *     answers), which a scan reads as "nothing there" and a peripheral as
 *     ENXIO without retries (OpenBSD answers XS_DRIVER_STUFFUP);
 *   - REQPROBE and REQDETACH become an XPT_SCAN_BUS of the target: the XPT
 *     posts AC_FOUND_DEVICE / AC_LOST_DEVICE.  For REQDETACH the SIM first
 *     marks target:lun absent and answers for it (CAM_DEV_NOT_THERE), so
 *     the scan loses it whatever the userland end would have said;
 *   - "references" (the reference's sc_ref_count) are the CCBs the SIM
 *     holds and the scans it started; CLOSED is reached again only when
 *     both are zero, after the detach scan has lost every device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/scsi.h>

#include "vscsi/sim_int.h"

#define VSCSI_CCBS_DEFAULT 1024
#define VSCSI_CCBS_MIN 16
#define VSCSI_CCBS_MAX 65536
#define VSCSI_STALL_DEFAULT 30000
#define VSCSI_INITIATOR_ID VSCSI_TARGETS /* off the bus, like OpenBSD */
#define VSCSI_MAX_SCANS 64		/* REQPROBE/REQDETACH in flight */

static void vscsi_action(struct cam_sim *sim, union ccb *ccb);
static void vscsi_poll(struct cam_sim *sim);

static const struct cam_sim_ops vscsi_sim_ops = {
	.name = "vscsi",
	.action = vscsi_action,
	.poll = vscsi_poll,
};

const char *vscsi_sim_state_name(enum vscsi_sim_state st)
{
	switch (st) {
	case VSCSI_S_CLOSED: return "CLOSED";
	case VSCSI_S_CONFIG: return "CONFIG";
	case VSCSI_S_RUNNING: return "RUNNING";
	}
	return "?";
}

/* ---- lists and the pool ---- */

void vccb_list_append(struct vccb_list *l, struct vscsi_ccb *v)
{
	v->next = NULL;
	v->prev = l->tail;
	if (l->tail)
		l->tail->next = v;
	else
		l->head = v;
	l->tail = v;
	l->n++;
}

void vccb_list_remove(struct vccb_list *l, struct vscsi_ccb *v)
{
	if (v->prev)
		v->prev->next = v->next;
	else
		l->head = v->next;
	if (v->next)
		v->next->prev = v->prev;
	else
		l->tail = v->prev;
	v->next = v->prev = NULL;
	l->n--;
}

static struct vscsi_ccb *vccb_get(struct vscsi_sim *s, union ccb *ccb)
{
	struct vscsi_ccb *v = s->free.head;
	uint32_t idx;

	if (!v)
		return NULL;
	vccb_list_remove(&s->free, v);
	idx = (uint32_t)(v - s->pool);
	v->gen++;
	/* Tags are unique for a long time: a late message for a finished
	 * command meets a different generation and gets EFAULT. */
	v->tag = (v->gen << s->pool_bits) | idx;
	v->ccb = ccb;
	v->moved = 0;
	v->shm = false;
	return v;
}

static void vccb_put(struct vscsi_sim *s, struct vscsi_ccb *v)
{
	v->state = VCCB_FREE;
	v->ccb = NULL;
	vccb_list_append(&s->free, v);
}

struct vscsi_ccb *vscsi_sim_lookup(struct vscsi_sim *s, uint32_t tag)
{
	struct vscsi_ccb *v = &s->pool[tag & (s->npool - 1)];

	if (v->tag != tag || v->state != VCCB_SENT)
		return NULL;
	return v;
}

/* ---- data movement ---- */

enum vscsi_dir vscsi_ccb_dir(const union ccb *ccb)
{
	switch (ccb->ccb_h.flags & CAM_DIR_MASK) {
	case CAM_DIR_IN:
		return ccb->csio.dxfer_len ? VSCSI_DIR_READ : VSCSI_DIR_NONE;
	case CAM_DIR_OUT:
		return ccb->csio.dxfer_len ? VSCSI_DIR_WRITE : VSCSI_DIR_NONE;
	default:
		return VSCSI_DIR_NONE;
	}
}

static void vscsi_ccb_copy(union ccb *ccb, uint32_t off, uint8_t *flat,
			   uint32_t len, bool in)
{
	struct ccb_scsiio *csio = &ccb->csio;

	if (!(ccb->ccb_h.flags & CAM_SCATTER_VALID)) {
		if (in)
			memcpy(csio->data_ptr + off, flat, len);
		else
			memcpy(flat, csio->data_ptr + off, len);
		return;
	}
	const struct iovec *iov = (const struct iovec *)csio->data_ptr;

	for (uint16_t i = 0; i < csio->sglist_cnt && len > 0; i++) {
		size_t n;

		if (off >= iov[i].iov_len) {
			off -= (uint32_t)iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - off;
		if (n > len)
			n = len;
		if (in)
			memcpy((uint8_t *)iov[i].iov_base + off, flat, n);
		else
			memcpy(flat, (uint8_t *)iov[i].iov_base + off, n);
		flat += n;
		len -= (uint32_t)n;
		off = 0;
	}
}

void vscsi_ccb_copy_in(union ccb *ccb, uint32_t off, const uint8_t *src,
		       uint32_t len)
{
	vscsi_ccb_copy(ccb, off, (uint8_t *)src, len, true);
}

void vscsi_ccb_copy_out(union ccb *ccb, uint32_t off, uint8_t *dst,
			uint32_t len)
{
	vscsi_ccb_copy(ccb, off, dst, len, false);
}

/* ---- completion ---- */

void vscsi_sim_complete(struct vscsi_sim *s, struct vscsi_ccb *v,
			uint32_t status)
{
	union ccb *ccb = v->ccb;
	struct ccb_scsiio *csio = &ccb->csio;

	if (v->state == VCCB_QUEUED)
		vccb_list_remove(&s->queued, v);
	else if (v->state == VCCB_SENT)
		vccb_list_remove(&s->sent, v);
	/* Taken back while the peer may still be using the slot (a T2I
	 * clears v->shm): keep the slot out of use until the peer's T2I for
	 * this tag says it is done, so no later command's data meets a late
	 * write of the old one.  Without a connection the area is gone. */
	if (v->state == VCCB_SENT && v->shm && s->cfd >= 0) {
		v->qheld = true;
		v->qtag = v->tag;
	}
	v->shm = false;
	csio->resid = v->moved <= csio->dxfer_len ? csio->dxfer_len - v->moved
						  : 0;
	ccb->ccb_h.sim_priv.spriv_ptr0 = NULL;
	ccb->ccb_h.status = status |
			    (ccb->ccb_h.status & ~(CAM_STATUS_MASK |
						   CAM_SIM_QUEUED));
	vccb_put(s, v);
	xpt_done(ccb);
	if (s->state == VSCSI_S_CONFIG)
		vscsi_sim_check_closed(s);
}

/* Take back every command held for target (all: VSCSI_TARGETS) with
 * status, telling the userland end about those it had. */
static unsigned vscsi_sim_kill(struct vscsi_sim *s, uint32_t target,
			       uint32_t status)
{
	struct vccb_list *lists[2] = {&s->sent, &s->queued};
	unsigned n = 0;

	for (int i = 0; i < 2; i++) {
		struct vscsi_ccb *v = lists[i]->head, *next;

		while (v) {
			next = v->next;
			if (target != VSCSI_TARGETS &&
			    v->ccb->ccb_h.target_id != target) {
				v = next;
				continue;
			}
			if (v->state == VCCB_SENT && s->cfd >= 0) {
				vscsi_conn_send_abort(s, v->tag, status);
				if (s->cfd < 0) {
					/* Dropped for not reading: the
					 * disconnect reset the lists. */
					v = lists[i]->head;
					continue;
				}
			}
			s->resets++;
			vscsi_sim_complete(s, v, status);
			n++;
			v = next;
		}
	}
	return n;
}

/* ---- the state machine's tail: CONFIG -> CLOSED ---- */

static void vscsi_sim_finish_destroy(void *arg);

void vscsi_sim_check_closed(struct vscsi_sim *s)
{
	if (s->state != VSCSI_S_CONFIG || s->cfd >= 0 || s->scans > 0 ||
	    s->draining ||
	    s->queued.n > 0 || s->sent.n > 0)
		return;
	s->state = VSCSI_S_CLOSED;
	log_info("%s%u: userland end gone, bus idle (CLOSED)", s->name,
		 s->p.unit);
}

static void vscsi_scan_done(union ccb *ccb)
{
	struct vscsi_sim *s = ccb->ccb_h.periph_priv[0];

	sk_trace(SK_TRACE_VSCSI, "%s%u: scan of %u done: %s", s->name,
		 s->p.unit, ccb->ccb_h.target_id,
		 cam_status_name(ccb->ccb_h.status));
	xpt_free_ccb(ccb);
	s->scans--;
	if (s->dying) {
		/* Not from inside the XPT's completion drain: the bus must
		 * outlive it. */
		if (s->scans == 0 &&
		    ev_loop_defer(s->loop, vscsi_sim_finish_destroy, s) < 0)
			log_err("%s%u: cannot finish destruction", s->name,
				s->p.unit);
		return;
	}
	vscsi_sim_check_closed(s);
}

/* Start a scan of target (CAM_TARGET_WILDCARD: the whole bus). */
static int vscsi_sim_scan(struct vscsi_sim *s, uint32_t target)
{
	union ccb *ccb = xpt_alloc_ccb();

	if (!ccb)
		return -ENOMEM;
	xpt_setup_ccb(&ccb->ccb_h, (uint32_t)s->path_id, target,
		      CAM_LUN_WILDCARD, XPT_SCAN_BUS);
	ccb->ccb_h.cbfcnp = vscsi_scan_done;
	ccb->ccb_h.periph_priv[0] = s;
	s->scans++;
	xpt_action(ccb);
	return 0;
}

static bool vscsi_detached(const struct vscsi_sim *s, uint32_t t, uint64_t l)
{
	uint32_t bit = t * VSCSI_LUNS + (uint32_t)l;

	return s->detached[bit / 8] & (1u << (bit % 8));
}

static void vscsi_set_detached(struct vscsi_sim *s, uint32_t t, uint64_t l,
			       bool on)
{
	uint32_t bit = t * VSCSI_LUNS + (uint32_t)l;

	if (on)
		s->detached[bit / 8] |= (uint8_t)(1u << (bit % 8));
	else
		s->detached[bit / 8] &= (uint8_t)~(1u << (bit % 8));
}

int vscsi_sim_devevent(struct vscsi_sim *s, unsigned type, uint32_t target,
		       uint64_t lun)
{
	if (target >= VSCSI_TARGETS || lun >= VSCSI_LUNS)
		return -EINVAL;
	if (s->state != VSCSI_S_RUNNING)
		return -ENXIO;
	/* Each scan holds memory in the XPT: a peer may not make them pile
	 * up without bound. */
	if (s->scans >= VSCSI_MAX_SCANS)
		return -EAGAIN;
	vscsi_set_detached(s, target, lun, type == VSCSI_MSG_REQDETACH);
	sk_trace(SK_TRACE_VSCSI, "%s%u: %s %u:%llu", s->name, s->p.unit,
		 vscsi_msg_name(type), target, (unsigned long long)lun);
	return vscsi_sim_scan(s, target);
}

/* Scan every target that has a configured device: with nobody to answer,
 * each scan loses them all (AC_LOST_DEVICE). */
static void vscsi_sim_detach_all(struct vscsi_sim *s)
{
	unsigned n = xpt_dev_list((uint32_t)s->path_id, NULL, 0);
	struct cam_dev_info *info;
	uint8_t seen[VSCSI_TARGETS / 8];

	if (n == 0)
		return;
	info = calloc(n, sizeof(*info));
	if (!info) {
		if (vscsi_sim_scan(s, CAM_TARGET_WILDCARD) < 0)
			log_warn("%s%u: cannot start the detach scan",
				 s->name, s->p.unit);
		return;
	}
	{
		unsigned m = xpt_dev_list((uint32_t)s->path_id, info, n);

		n = m < n ? m : n;
	}
	memset(seen, 0, sizeof(seen));
	for (unsigned i = 0; i < n; i++) {
		uint32_t t = info[i].target;

		if (!info[i].configured || t >= VSCSI_TARGETS ||
		    (seen[t / 8] & (1u << (t % 8))))
			continue;
		seen[t / 8] |= (uint8_t)(1u << (t % 8));
		if (vscsi_sim_scan(s, t) < 0)
			log_warn("%s%u: cannot start the detach scan of %u",
				 s->name, s->p.unit, t);
	}
	free(info);
}

/*
 * The userland end is gone (sim_conn.c has closed the socket): reset
 * every command it held or had not yet taken, then detach the devices
 * with a scan that finds nobody.  teardown: the bus goes away anyway,
 * no scan.
 */
void vscsi_sim_disconnected(struct vscsi_sim *s, bool teardown)
{
	struct cam_path *path = NULL;
	unsigned n;

	s->state = VSCSI_S_CONFIG;
	s->draining = true;
	n = vscsi_sim_kill(s, VSCSI_TARGETS, CAM_SCSI_BUS_RESET);
	if (n)
		log_info("%s%u: %u commands reset", s->name, s->p.unit, n);
	memset(s->detached, 0, sizeof(s->detached));
	if (s->path_id >= 0 &&
	    xpt_create_path(&path, NULL, (uint32_t)s->path_id,
			    CAM_TARGET_WILDCARD,
			    CAM_LUN_WILDCARD) == CAM_REQ_CMP) {
		xpt_async(AC_BUS_RESET, path, NULL);
		xpt_free_path(path);
	}
	if (!teardown && s->path_id >= 0)
		vscsi_sim_detach_all(s);
	s->draining = false;
	vscsi_sim_check_closed(s);
}

/* ---- CAM entry points ---- */

static void vscsi_scsi_io(struct vscsi_sim *s, union ccb *ccb)
{
	struct ccb_hdr *h = &ccb->ccb_h;
	struct ccb_scsiio *csio = &ccb->csio;
	const uint8_t *cdb = (h->flags & CAM_CDB_POINTER)
				     ? csio->cdb_io.cdb_ptr
				     : csio->cdb_io.cdb_bytes;
	struct vscsi_ccb *v;
	uint32_t st;

	if (h->target_id >= VSCSI_TARGETS) {
		st = CAM_TID_INVALID;
		goto refuse;
	}
	if (h->target_lun >= VSCSI_LUNS) {
		st = CAM_LUN_INVALID;
		goto refuse;
	}
	if ((h->flags & CAM_DIR_MASK) == CAM_DIR_BOTH ||
	    (h->flags & (CAM_DATA_PHYS | CAM_SG_LIST_PHYS | CAM_CDB_PHYS)) ||
	    csio->cdb_len == 0 || csio->cdb_len > VSCSI_CDB_MAX) {
		st = CAM_REQ_INVALID;
		goto refuse;
	}
	if (csio->dxfer_len > s->p.maxio) {
		st = CAM_REQ_TOO_BIG;
		goto refuse;
	}
	if (s->state != VSCSI_S_RUNNING) {
		/* Right after a disconnect (CONFIG) the bus is being reset
		 * and torn down: what was still queued above us ends like
		 * what we held.  Later (CLOSED) nobody answers selection. */
		st = s->state == VSCSI_S_CONFIG ? CAM_SCSI_BUS_RESET
						: CAM_SEL_TIMEOUT;
		goto refuse;
	}
	/* A detached LUN does not answer, but REPORT LUNS to LUN 0 still
	 * reaches the target (SPC lets it answer for absent LUN 0), so a
	 * scan can see the target's other LUNs. */
	if (vscsi_detached(s, h->target_id, h->target_lun) &&
	    !(h->target_lun == 0 && cdb[0] == SCSI_REPORT_LUNS)) {
		st = CAM_DEV_NOT_THERE;
		goto refuse;
	}
	v = vccb_get(s, ccb);
	if (!v) {
		st = CAM_RESRC_UNAVAIL;
		goto refuse;
	}
	sim_tran_negotiate(&s->tran, s->path_id, h->target_id);
	h->sim_priv.spriv_ptr0 = v;
	h->status |= CAM_SIM_QUEUED;
	v->state = VCCB_QUEUED;
	vccb_list_append(&s->queued, v);
	vscsi_conn_kick(s);
	return;
refuse:
	h->status = st;
	xpt_done(ccb);
}

static void vscsi_abort(struct vscsi_sim *s, union ccb *ccb)
{
	union ccb *victim = ccb->cab.abort_ccb;
	struct vscsi_ccb *v;

	if (sim_abort_unabortable(ccb))
		return;
	v = victim->ccb_h.sim_priv.spriv_ptr0;
	if (!v || v < s->pool || v >= s->pool + s->npool ||
	    v->ccb != victim || v->state == VCCB_FREE) {
		ccb->ccb_h.status = CAM_PATH_INVALID; /* not (any more) ours */
		xpt_done(ccb);
		return;
	}
	sk_trace(SK_TRACE_VSCSI, "%s%u: abort tag 0x%x", s->name, s->p.unit,
		 v->tag);
	if (v->state == VCCB_SENT && s->cfd >= 0)
		vscsi_conn_send_abort(s, v->tag, CAM_REQ_ABORTED);
	/* Sending may have dropped the peer, which reset the victim. */
	if (v->state != VCCB_FREE && v->ccb == victim)
		vscsi_sim_complete(s, v, CAM_REQ_ABORTED);
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
}

static void vscsi_reset(struct vscsi_sim *s, union ccb *ccb, bool bus)
{
	uint32_t target = bus ? VSCSI_TARGETS : ccb->ccb_h.target_id;
	struct cam_path *path = NULL;

	if (!bus && target >= VSCSI_TARGETS) {
		ccb->ccb_h.status = CAM_TID_INVALID;
		xpt_done(ccb);
		return;
	}
	vscsi_sim_kill(s, target, bus ? CAM_SCSI_BUS_RESET : CAM_BDR_SENT);
	/* Negotiations are lost on a reset. */
	for (uint32_t t = bus ? 0 : target;
	     t <= (bus ? VSCSI_TARGETS - 1 : target); t++)
		sim_tran_reset(&s->tran, s->path_id, t);
	if (s->cfd >= 0)
		vscsi_conn_send_event(s, VSCSI_EV_RESET, target, 0);
	if (xpt_create_path(&path, NULL, (uint32_t)s->path_id,
			    bus ? CAM_TARGET_WILDCARD : target,
			    CAM_LUN_WILDCARD) == CAM_REQ_CMP) {
		xpt_async(bus ? AC_BUS_RESET : AC_SENT_BDR, path, NULL);
		xpt_free_path(path);
	}
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
}

static void vscsi_path_inq(struct vscsi_sim *s, union ccb *ccb)
{
	struct ccb_pathinq *cpi = &ccb->cpi;

	cpi->version_num = 1;
	cpi->hba_inquiry = PI_TAG_ABLE | PI_WIDE_16;
	cpi->target_sprt = 0;
	cpi->hba_misc = PIM_NOBUSRESET;
	cpi->hba_eng_cnt = 0;
	cpi->max_target = VSCSI_TARGETS - 1;
	cpi->max_lun = VSCSI_LUNS - 1;
	cpi->async_flags = 0;
	cpi->hpath_id = 0;
	cpi->unit_number = s->p.unit;
	cpi->bus_id = 0;
	cpi->initiator_id = VSCSI_INITIATOR_ID;
	cpi->base_transfer_speed = 3300;
	snprintf(cpi->sim_vid, sizeof(cpi->sim_vid), "scsikit");
	snprintf(cpi->hba_vid, sizeof(cpi->hba_vid), "vscsi");
	snprintf(cpi->dev_name, sizeof(cpi->dev_name), "%s", s->name);
	cpi->maxio = s->p.maxio;
	cpi->max_sg = 1024;
	ccb->ccb_h.status = CAM_REQ_CMP;
	xpt_done(ccb);
}

static void vscsi_action(struct cam_sim *sim, union ccb *ccb)
{
	struct vscsi_sim *s = cam_sim_softc(sim);

	switch (ccb->ccb_h.func_code) {
	case XPT_SCSI_IO:
		vscsi_scsi_io(s, ccb);
		break;
	case XPT_ABORT:
		vscsi_abort(s, ccb);
		break;
	case XPT_RESET_DEV:
		vscsi_reset(s, ccb, false);
		break;
	case XPT_RESET_BUS:
		vscsi_reset(s, ccb, true);
		break;
	case XPT_PATH_INQ:
		vscsi_path_inq(s, ccb);
		break;
	case XPT_GET_TRAN_SETTINGS:
		sim_tran_get(&s->tran, ccb);
		break;
	case XPT_SET_TRAN_SETTINGS:
		sim_tran_set(&s->tran, s->path_id, ccb);
		break;
	case XPT_CALC_GEOMETRY:
		sim_calc_geometry(ccb);
		break;
	default:
		sim_func_unknown(ccb);
		break;
	}
}

/* Polled mode (xpt_polled_action): service the socket without the loop. */
static void vscsi_poll(struct cam_sim *sim)
{
	struct vscsi_sim *s = cam_sim_softc(sim);

	if (s->cfd < 0 || s->in_input)
		return;
	/* The deferred push does not run while the loop is held up. */
	vscsi_conn_push(s);
	if (s->cfd >= 0)
		vscsi_conn_input(s);
}

/* ---- async events: tell the userland end what the bus saw ---- */

static void vscsi_sim_async(void *arg, uint32_t code, struct cam_path *path,
			    void *carg)
{
	struct vscsi_sim *s = arg;

	(void)carg;
	if (s->cfd < 0 || s->state != VSCSI_S_RUNNING)
		return;
	vscsi_conn_send_event(s,
			      code == AC_FOUND_DEVICE ? VSCSI_EV_FOUND
						      : VSCSI_EV_LOST,
			      xpt_path_target_id(path),
			      xpt_path_lun_id(path));
}

/* ---- creation and destruction ---- */

static uint32_t vscsi_pow2(uint32_t n, uint32_t *bits)
{
	uint32_t p = 1, b = 0;

	while (p < n) {
		p <<= 1;
		b++;
	}
	*bits = b;
	return p;
}

struct vscsi_sim *vscsi_sim_create(const struct vscsi_sim_params *p,
				   struct ev_loop *loop, char *err,
				   size_t errlen)
{
	struct vscsi_sim *s = calloc(1, sizeof(*s));
	struct cam_devq *devq;
	uint32_t st;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (p)
		s->p = *p;
	s->lfd = -1;
	s->cfd = -1;
	s->path_id = -1;
	s->loop = loop;
	snprintf(s->name, sizeof(s->name), "%s",
		 s->p.name ? s->p.name : "vscsi");
	s->p.name = s->name;
	{
		char nm[40];

		snprintf(nm, sizeof(nm), "%s%u", s->name, s->p.unit);
		sk_admit_init(&s->admit, nm, 1, 0);
	}
	if (!s->p.openings)
		s->p.openings = VSCSI_OPENINGS_DEFAULT;
	if (!s->p.ccbs)
		s->p.ccbs = VSCSI_CCBS_DEFAULT;
	if (s->p.ccbs < VSCSI_CCBS_MIN)
		s->p.ccbs = VSCSI_CCBS_MIN;
	if (s->p.ccbs > VSCSI_CCBS_MAX)
		s->p.ccbs = VSCSI_CCBS_MAX;
	if (!s->p.maxio)
		s->p.maxio = VSCSI_MAXIO_DEFAULT;
	if (s->p.maxio > (64u << 20))
		s->p.maxio = 64u << 20;
	if (!s->p.stall_ms)
		s->p.stall_ms = VSCSI_STALL_DEFAULT;
	vscsi_shm_config(s);
	if (!s->p.inline_max)
		s->p.inline_max = VSCSI_INLINE_DEFAULT;
	else if (s->p.inline_max == VSCSI_INLINE_OFF)
		s->p.inline_max = 0;
	s->max_msg = s->p.maxio + VSCSI_MSG_OVERHEAD;
	if (s->p.path) {
		if (strlen(s->p.path) >= sizeof(s->path)) {
			snprintf(err, errlen, "socket path too long: %s",
				 s->p.path);
			goto out_free;
		}
		snprintf(s->path, sizeof(s->path), "%s", s->p.path);
	}
	s->p.path = s->path[0] ? s->path : NULL;

	s->npool = vscsi_pow2(s->p.ccbs, &s->pool_bits);
	s->pool = calloc(s->npool, sizeof(*s->pool));
	if (!s->pool) {
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	for (uint32_t i = 0; i < s->p.ccbs; i++)
		vccb_list_append(&s->free, &s->pool[i]);
	{
		/* A virtual bus: wide, no synchronous transfers. */
		static const struct sim_tran_limits lim = {16, 0, 0};

		if (sim_tran_init(&s->tran, VSCSI_TARGETS - 1, VSCSI_LUNS - 1,
				  &lim) < 0) {
			snprintf(err, errlen, "out of memory");
			goto out_free_pool;
		}
	}
	/* Entries past p.ccbs (rounding up to a power of two) stay out of
	 * the free list; their tag 0 never matches a SENT entry. */

	devq = cam_simq_alloc(s->p.ccbs);
	if (!devq) {
		snprintf(err, errlen, "out of memory");
		goto out_free_pool;
	}
	s->sim = cam_sim_alloc(&vscsi_sim_ops, s->name, s, s->p.unit, 1,
			       (int)s->p.openings, devq);
	if (!s->sim) {
		cam_simq_free(devq);
		snprintf(err, errlen, "cannot allocate the CAM SIM");
		goto out_free_pool;
	}
	if (s->p.path) {
		s->lfd = vscsi_listen_unix(s->p.path, err, errlen);
		if (s->lfd < 0)
			goto out_free_sim;
	}
	st = xpt_bus_register(s->sim, loop, 0);
	if (st != CAM_SUCCESS) {
		snprintf(err, errlen, "cannot register the bus: %s",
			 cam_status_name(st));
		goto out_close;
	}
	s->path_id = (int)cam_sim_path(s->sim);
	if (xpt_register_async(AC_FOUND_DEVICE | AC_LOST_DEVICE,
			       vscsi_sim_async, s, (uint32_t)s->path_id,
			       CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD) == 0)
		s->async_on = true;
	if (s->lfd >= 0 && vscsi_conn_listen(s) < 0) {
		snprintf(err, errlen, "cannot watch %s", s->p.path);
		goto out_deregister;
	}
	log_info("%s%u: bus %d, socket %s", s->name, s->p.unit, s->path_id,
		 s->p.path ? s->p.path : "(none)");
	return s;

out_deregister:
	if (s->async_on)
		xpt_register_async(0, vscsi_sim_async, s,
				   (uint32_t)s->path_id, CAM_TARGET_WILDCARD,
				   CAM_LUN_WILDCARD);
	xpt_bus_deregister((uint32_t)s->path_id);
out_close:
	if (s->lfd >= 0) {
		close(s->lfd);
		unlink(s->p.path);
	}
out_free_sim:
	cam_sim_free(s->sim, true);
out_free_pool:
	sim_tran_fini(&s->tran);
	free(s->pool);
out_free:
	sk_admit_fini(&s->admit);
	free(s);
	return NULL;
}

static void vscsi_sim_finish_destroy(void *arg)
{
	struct vscsi_sim *s = arg;

	if (s->path_id >= 0)
		xpt_bus_deregister((uint32_t)s->path_id);
	cam_sim_free(s->sim, true);
	sim_tran_fini(&s->tran);
	free(s->pool);
	sk_admit_fini(&s->admit);
	free(s);
}

void vscsi_sim_destroy(struct vscsi_sim *s)
{
	if (!s)
		return;
	if (s->async_on) {
		xpt_register_async(0, vscsi_sim_async, s,
				   (uint32_t)s->path_id, CAM_TARGET_WILDCARD,
				   CAM_LUN_WILDCARD);
		s->async_on = false;
	}
	if (s->cfd >= 0) {
		vscsi_conn_close(s, NULL);
		vscsi_sim_disconnected(s, true);
	}
	if (s->lio) {
		ev_io_del(s->lio);
		s->lio = NULL;
	}
	if (s->lfd >= 0) {
		close(s->lfd);
		s->lfd = -1;
		unlink(s->p.path);
	}
	/* CCBs given to us from now on find no target. */
	s->state = VSCSI_S_CLOSED;
	if (s->scans > 0 || s->flush_deferred) {
		/* A scan holds the bus (the last scan completion frees), or
		 * a deferred flush still points at us (free after it). */
		s->dying = true;
		if (s->scans == 0 &&
		    ev_loop_defer(s->loop, vscsi_sim_finish_destroy, s) == 0)
			return;
		if (s->scans > 0)
			return;
	}
	vscsi_sim_finish_destroy(s);
}

int vscsi_sim_attach_fd(struct vscsi_sim *s, int fd)
{
	return vscsi_conn_attach(s, fd);
}

int vscsi_sim_path_id(const struct vscsi_sim *s)
{
	return s->path_id;
}

struct cam_sim *vscsi_sim_cam(const struct vscsi_sim *s)
{
	return s->sim;
}

const char *vscsi_sim_socket_path(const struct vscsi_sim *s)
{
	return s->p.path ? s->p.path : "";
}

void vscsi_sim_get_stats(const struct vscsi_sim *s, struct vscsi_sim_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->state = s->state;
	st->path_id = s->path_id;
	st->held = s->queued.n + s->sent.n;
	st->queued = s->queued.n;
	st->scans = s->scans;
	st->cmds = s->cmds;
	st->done = s->done;
	st->resets = s->resets;
	st->errors = s->errors;
	st->conns = s->conns;
	st->refused = s->refused;
	st->shm_cmds = s->shm_cmds;
	st->shm_held = vscsi_shm_held(s);
}
