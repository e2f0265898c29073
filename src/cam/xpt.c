/*
 * The CAM transport layer (XPT): buses, device queues, dispatch to the
 * SIM, completion, queue freezing and command timeouts.
 *
 * An XPT_SCSI_IO waits on its device's queue (ordered by a per-bus
 * sequence number, so a CCB the SIM hands back with CAM_REQUEUE_REQ goes
 * back to exactly where it was) and is handed to the SIM while neither the
 * SIM queue nor the device queue is frozen, the device has openings left
 * and the SIM's device queue (devq) has a free slot.  Other function codes
 * go to the SIM at once (or are done by the XPT itself: SASYNC_CB,
 * SCAN_BUS, NOOP).
 *
 * xpt_done() never calls a completion function from inside the SIM's
 * action(): completions are put on a list and run after the current
 * callback (ev_loop_defer), or posted from other threads (ev_loop_post).
 *
 * Timeouts, polled operation and the names of things are in
 * xpt_timeout.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "cam/xpt_internal.h"

pthread_mutex_t xpt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cam_eb *xpt_buses[XPT_MAX_BUSES];

/* ---- CCBs ---- */

union ccb *xpt_alloc_ccb(void)
{
	return calloc(1, sizeof(union ccb));
}

void xpt_free_ccb(union ccb *ccb)
{
	free(ccb);
}

void xpt_setup_ccb(struct ccb_hdr *h, uint32_t path_id, uint32_t target,
		   uint64_t lun, uint32_t func_code)
{
	memset(h, 0, sizeof(*h));
	h->path_id = path_id;
	h->target_id = target;
	h->target_lun = lun;
	h->func_code = func_code;
}

void cam_fill_csio(struct ccb_scsiio *csio, cam_done_fn done, uint32_t flags,
		   uint8_t tag_action, void *data, uint32_t dxfer_len,
		   uint8_t sense_len, const uint8_t *cdb, uint8_t cdb_len,
		   uint32_t timeout_ms)
{
	csio->ccb_h.func_code = XPT_SCSI_IO;
	csio->ccb_h.cbfcnp = done;
	csio->ccb_h.flags = flags & ~CAM_CDB_POINTER;
	csio->ccb_h.tag_action = tag_action;
	csio->ccb_h.timeout = timeout_ms;
	csio->data_ptr = data;
	csio->dxfer_len = dxfer_len;
	csio->sense_len = sense_len;
	if (cdb_len > CAM_CDB_LEN_MAX)
		cdb_len = CAM_CDB_LEN_MAX;
	memset(csio->cdb_io.cdb_bytes, 0, sizeof(csio->cdb_io.cdb_bytes));
	memcpy(csio->cdb_io.cdb_bytes, cdb, cdb_len);
	csio->cdb_len = cdb_len;
	csio->scsi_status = 0;
	csio->resid = 0;
	csio->sense_resid = 0;
}

/* ---- paths ---- */

bool xpt_path_match(uint32_t p1, uint32_t t1, uint64_t l1, uint32_t p2,
		    uint32_t t2, uint64_t l2)
{
	if (p1 != CAM_BUS_WILDCARD && p2 != CAM_BUS_WILDCARD && p1 != p2)
		return false;
	if (t1 != CAM_TARGET_WILDCARD && t2 != CAM_TARGET_WILDCARD && t1 != t2)
		return false;
	if (l1 != CAM_LUN_WILDCARD && l2 != CAM_LUN_WILDCARD && l1 != l2)
		return false;
	return true;
}

uint32_t xpt_create_path(struct cam_path **path, void *periph,
			 uint32_t path_id, uint32_t target, uint64_t lun)
{
	struct cam_path *p;

	(void)periph;
	*path = NULL;
	if (path_id != CAM_BUS_WILDCARD && !xpt_bus_find(path_id))
		return CAM_PATH_INVALID;
	p = calloc(1, sizeof(*p));
	if (!p)
		return CAM_RESRC_UNAVAIL;
	p->path_id = path_id;
	p->target = target;
	p->lun = lun;
	*path = p;
	return CAM_REQ_CMP;
}

void xpt_free_path(struct cam_path *path)
{
	free(path);
}

uint32_t xpt_path_path_id(const struct cam_path *path)
{
	return path->path_id;
}

uint32_t xpt_path_target_id(const struct cam_path *path)
{
	return path->target;
}

uint64_t xpt_path_lun_id(const struct cam_path *path)
{
	return path->lun;
}

/* ---- SIMs and device queues ---- */

struct cam_devq *cam_simq_alloc(uint32_t max_sim_transactions)
{
	struct cam_devq *dq;

	if (max_sim_transactions == 0)
		return NULL;
	dq = calloc(1, sizeof(*dq));
	if (!dq)
		return NULL;
	dq->size = dq->free = max_sim_transactions;
	return dq;
}

void cam_simq_free(struct cam_devq *devq)
{
	free(devq);
}

struct cam_sim *cam_sim_alloc(const struct cam_sim_ops *ops,
			      const char *sim_name, void *softc,
			      uint32_t unit, int max_dev_transactions,
			      int max_tagged_dev_transactions,
			      struct cam_devq *devq)
{
	struct cam_sim *sim;

	if (!ops || !ops->action || !devq || max_dev_transactions < 1 ||
	    max_tagged_dev_transactions < 0)
		return NULL;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return NULL;
	sim->ops = ops;
	snprintf(sim->name, sizeof(sim->name), "%s",
		 sim_name ? sim_name : ops->name);
	sim->softc = softc;
	sim->unit = unit;
	sim->max_dev_transactions = max_dev_transactions;
	sim->max_tagged_dev_transactions = max_tagged_dev_transactions;
	sim->devq = devq;
	sim->path_id = CAM_BUS_WILDCARD;
	return sim;
}

void cam_sim_free(struct cam_sim *sim, bool free_devq)
{
	if (!sim)
		return;
	if (free_devq)
		cam_simq_free(sim->devq);
	free(sim);
}

uint32_t cam_sim_path(const struct cam_sim *sim) { return sim->path_id; }
const char *cam_sim_name(const struct cam_sim *sim) { return sim->name; }
void *cam_sim_softc(const struct cam_sim *sim) { return sim->softc; }
uint32_t cam_sim_unit(const struct cam_sim *sim) { return sim->unit; }
uint32_t cam_sim_bus(const struct cam_sim *sim) { return sim->bus; }
struct ev_loop *cam_sim_loop(const struct cam_sim *sim) { return sim->loop; }

/* ---- buses ---- */

/* Lock-free: this is on every xpt_action.  A bus is only freed on its own
 * loop, where its CCBs are started, so a reader of its slot cannot race
 * the free; the lock only serialises registrations. */
struct cam_eb *xpt_bus_find(uint32_t path_id)
{
	if (path_id >= XPT_MAX_BUSES)
		return NULL;
	return __atomic_load_n(&xpt_buses[path_id], __ATOMIC_ACQUIRE);
}

struct ev_loop *xpt_bus_loop(uint32_t path_id)
{
	struct cam_eb *eb = xpt_bus_find(path_id);

	return eb ? eb->loop : NULL;
}

unsigned xpt_bus_list(uint32_t *ids, unsigned max)
{
	unsigned n = 0;

	pthread_mutex_lock(&xpt_lock);
	for (uint32_t i = 0; i < XPT_MAX_BUSES; i++) {
		if (!xpt_buses[i])
			continue;
		if (n < max)
			ids[n] = i;
		n++;
	}
	pthread_mutex_unlock(&xpt_lock);
	return n;
}

uint32_t xpt_bus_register(struct cam_sim *sim, struct ev_loop *loop,
			  uint32_t bus)
{
	struct cam_eb *eb;
	union ccb cpi;
	uint32_t id;

	if (!sim || !loop || sim->eb)
		return CAM_REQ_CMP_ERR;
	eb = calloc(1, sizeof(*eb));
	if (!eb)
		return CAM_REQ_CMP_ERR;
	eb->sim = sim;
	eb->loop = loop;
	eb->abort_grace_ms = 10000;
	eb->reset_grace_ms = 10000;
	eb->default_timeout_ms = 60000;
	pthread_mutex_init(&eb->done_lock, NULL);
	pthread_mutex_lock(&xpt_lock);
	for (id = 0; id < XPT_MAX_BUSES; id++)
		if (!xpt_buses[id])
			break;
	if (id == XPT_MAX_BUSES) {
		pthread_mutex_unlock(&xpt_lock);
		pthread_mutex_destroy(&eb->done_lock);
		free(eb);
		return CAM_REQ_CMP_ERR;
	}
	eb->path_id = id;
	sim->path_id = id;
	sim->bus = bus;
	sim->eb = eb;
	sim->loop = loop;
	__atomic_store_n(&xpt_buses[id], eb, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&xpt_lock);

	/* Learn the bus's shape once; the scan and the checks use it. */
	memset(&cpi, 0, sizeof(cpi));
	xpt_setup_ccb(&cpi.ccb_h, id, CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD,
		      XPT_PATH_INQ);
	cpi.ccb_h.xpt.bus = eb;
	sim->ops->action(sim, &cpi);
	if (cam_ccb_status(cpi.ccb_h.status) == CAM_REQ_CMP) {
		eb->max_target = cpi.cpi.max_target;
		eb->max_lun = cpi.cpi.max_lun;
		eb->initiator_id = cpi.cpi.initiator_id;
	} else {
		eb->max_target = 7;
		eb->max_lun = 7;
		eb->initiator_id = CAM_TARGET_WILDCARD;
	}
	sk_trace(SK_TRACE_XPT, "xpt: bus %u registered: %s%u", id, sim->name,
		 sim->unit);
	return CAM_SUCCESS;
}

static void xpt_fail_queue(struct cam_ed *dev, uint32_t status)
{
	union ccb *ccb;

	while ((ccb = dev->qhead) != NULL) {
		dev->qhead = ccb->ccb_h.xpt.next;
		if (!dev->qhead)
			dev->qtail = NULL;
		dev->queued--;
		ccb->ccb_h.status = status;
		ccb->ccb_h.xpt.state = XPT_CCB_IDLE;
		if (ccb->ccb_h.cbfcnp)
			ccb->ccb_h.cbfcnp(ccb);
	}
}

uint32_t xpt_bus_deregister(uint32_t path_id)
{
	struct cam_eb *eb = xpt_bus_find(path_id);
	struct cam_ed *dev, *next;
	struct cam_path wild = {path_id, CAM_TARGET_WILDCARD,
				CAM_LUN_WILDCARD};

	if (!eb)
		return CAM_PATH_INVALID;
	eb->dying = true;
	for (dev = eb->devs; dev; dev = dev->next) {
		if (dev->flags & CAM_ED_CONFIGURED) {
			struct cam_path p = {path_id, dev->target, dev->lun};

			dev->flags &= ~CAM_ED_CONFIGURED;
			xpt_async(AC_LOST_DEVICE, &p, NULL);
		}
		xpt_fail_queue(dev, CAM_DEV_NOT_THERE);
	}
	xpt_async(AC_PATH_DEREGISTERED, &wild, NULL);
	/* Completions the SIM already gave back still reach their owners. */
	for (int i = 0; i < 4 && (eb->done_head || eb->rdone_head); i++) {
		union ccb *ccb;

		pthread_mutex_lock(&eb->done_lock);
		if (eb->rdone_head) {
			if (eb->done_tail)
				eb->done_tail->ccb_h.xpt.next = eb->rdone_head;
			else
				eb->done_head = eb->rdone_head;
			eb->done_tail = eb->rdone_tail;
			eb->rdone_head = eb->rdone_tail = NULL;
		}
		pthread_mutex_unlock(&eb->done_lock);
		while ((ccb = eb->done_head) != NULL) {
			eb->done_head = ccb->ccb_h.xpt.next;
			if (!eb->done_head)
				eb->done_tail = NULL;
			xpt_finish(ccb);
		}
	}
	pthread_mutex_lock(&xpt_lock);
	__atomic_store_n(&xpt_buses[path_id], NULL, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&xpt_lock);
	xpt_async_bus_gone(path_id);
	for (dev = eb->devs; dev; dev = next) {
		next = dev->next;
		if (dev->active)
			log_warn("xpt: bus %u deregistered with %u CCBs in "
				 "the SIM", path_id, dev->active);
		free(dev->tagmap);
		free(dev);
	}
	eb->devs = NULL;
	xpt_tmo_fini(eb);
	eb->sim->eb = NULL;
	eb->sim->path_id = CAM_BUS_WILDCARD;
	pthread_mutex_lock(&eb->done_lock);
	if (eb->done_deferred || eb->rdone_posted) {
		/* A drain is on its way to the loop: it frees the bus. */
		eb->zombie = true;
		pthread_mutex_unlock(&eb->done_lock);
		return CAM_REQ_CMP;
	}
	pthread_mutex_unlock(&eb->done_lock);
	pthread_mutex_destroy(&eb->done_lock);
	free(eb);
	return CAM_REQ_CMP;
}

void xpt_bus_set_timeouts(uint32_t path_id, uint32_t abort_grace_ms,
			  uint32_t reset_grace_ms, uint32_t default_timeout_ms)
{
	struct cam_eb *eb = xpt_bus_find(path_id);

	if (!eb)
		return;
	if (abort_grace_ms)
		eb->abort_grace_ms = abort_grace_ms;
	if (reset_grace_ms)
		eb->reset_grace_ms = reset_grace_ms;
	if (default_timeout_ms)
		eb->default_timeout_ms = default_timeout_ms;
}

/* ---- devices ---- */

/* Ask the SIM whether tagged queuing is on for the device. */
static bool xpt_dev_tq_enabled(struct cam_eb *eb, uint32_t target,
			       uint64_t lun)
{
	union ccb cts;

	memset(&cts, 0, sizeof(cts));
	xpt_setup_ccb(&cts.ccb_h, eb->path_id, target, lun,
		      XPT_GET_TRAN_SETTINGS);
	cts.cts.flags = CCB_TRANS_CURRENT_SETTINGS;
	cts.ccb_h.xpt.bus = eb;
	eb->sim->ops->action(eb->sim, &cts);
	if (cam_ccb_status(cts.ccb_h.status) != CAM_REQ_CMP)
		return eb->sim->max_tagged_dev_transactions > 1;
	return (cts.cts.valid & CCB_TRANS_TQ_VALID) &&
	       (cts.cts.flags & CCB_TRANS_TAG_ENB);
}

static void xpt_dev_set_tagged(struct cam_ed *dev, bool on)
{
	struct cam_sim *sim = dev->eb->sim;

	if (on && sim->max_tagged_dev_transactions > 1)
		dev->flags |= CAM_ED_TAGGED;
	else
		dev->flags &= ~CAM_ED_TAGGED;
	if (!dev->openings_fixed)
		dev->openings = (dev->flags & CAM_ED_TAGGED)
					? (uint32_t)sim->max_tagged_dev_transactions
					: (uint32_t)sim->max_dev_transactions;
}

struct cam_ed *xpt_dev_get(struct cam_eb *eb, uint32_t target, uint64_t lun,
			   bool create)
{
	struct cam_ed *dev, **pp;
	uint32_t ntags;

	for (dev = eb->devs; dev; dev = dev->next)
		if (dev->target == target && dev->lun == lun)
			return dev;
	if (!create || target == CAM_TARGET_WILDCARD ||
	    lun == CAM_LUN_WILDCARD)
		return NULL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	ntags = (uint32_t)eb->sim->max_tagged_dev_transactions;
	if (ntags < 1)
		ntags = 1;
	dev->tagmap = calloc((ntags + 63) / 64, sizeof(uint64_t));
	if (!dev->tagmap) {
		free(dev);
		return NULL;
	}
	dev->ntags = ntags;
	dev->eb = eb;
	dev->target = target;
	dev->lun = lun;
	xpt_dev_set_tagged(dev, xpt_dev_tq_enabled(eb, target, lun));
	/* Keep the list sorted by target and LUN for listings. */
	for (pp = &eb->devs; *pp; pp = &(*pp)->next)
		if ((*pp)->target > target ||
		    ((*pp)->target == target && (*pp)->lun > lun))
			break;
	dev->next = *pp;
	*pp = dev;
	return dev;
}

unsigned xpt_dev_list(uint32_t path_id, struct cam_dev_info *out,
		      unsigned max)
{
	unsigned n = 0;

	for (uint32_t id = 0; id < XPT_MAX_BUSES; id++) {
		struct cam_eb *eb;

		if (path_id != CAM_BUS_WILDCARD && id != path_id)
			continue;
		eb = xpt_bus_find(id);
		if (!eb)
			continue;
		for (struct cam_ed *dev = eb->devs; dev; dev = dev->next) {
			struct cam_dev_info *d;

			if (!(dev->flags & CAM_ED_CONFIGURED))
				continue;
			if (n < max) {
				d = &out[n];
				memset(d, 0, sizeof(*d));
				d->path_id = id;
				d->target = dev->target;
				d->lun = dev->lun;
				snprintf(d->sim_name, sizeof(d->sim_name), "%s",
					 eb->sim->name);
				d->sim_unit = eb->sim->unit;
				memcpy(d->inq, dev->inq, sizeof(d->inq));
				d->configured = true;
				d->tagged = dev->flags & CAM_ED_TAGGED;
				d->openings = dev->openings;
				d->active = dev->active;
				d->queued = dev->queued;
				d->frozen = dev->freeze;
				d->cmds = dev->cmds;
				d->errors = dev->errors;
				d->retries = dev->retries;
				d->timeouts = dev->timeouts;
			}
			n++;
		}
	}
	return n;
}

/* ---- queue freezing ---- */

void xpt_freeze_simq(struct cam_sim *sim, uint32_t count)
{
	sim->freeze += count;
	sk_trace(SK_TRACE_XPT, "xpt: %s%u simq frozen (%u)", sim->name,
		 sim->unit, sim->freeze);
}

void xpt_release_simq(struct cam_sim *sim, bool run_queue)
{
	if (sim->freeze == 0) {
		log_warn("xpt: %s%u: SIM queue released more than frozen",
			 sim->name, sim->unit);
		return;
	}
	sim->freeze--;
	sk_trace(SK_TRACE_XPT, "xpt: %s%u simq released (%u)", sim->name,
		 sim->unit, sim->freeze);
	if (sim->freeze == 0 && run_queue && sim->eb)
		xpt_run_bus(sim->eb);
}

uint32_t xpt_simq_frozen(const struct cam_sim *sim)
{
	return sim->freeze;
}

uint32_t xpt_freeze_devq(struct cam_path *path, uint32_t count)
{
	struct cam_eb *eb = xpt_bus_find(path->path_id);
	struct cam_ed *dev;
	uint32_t n = 0;

	if (!eb)
		return 0;
	if (path->target != CAM_TARGET_WILDCARD &&
	    path->lun != CAM_LUN_WILDCARD) {
		dev = xpt_dev_get(eb, path->target, path->lun, true);
		if (!dev)
			return 0;
		dev->freeze += count;
		return dev->freeze;
	}
	/* A wildcard freezes every device it covers. */
	for (dev = eb->devs; dev; dev = dev->next)
		if (xpt_path_match(path->path_id, path->target, path->lun,
				   eb->path_id, dev->target, dev->lun)) {
			dev->freeze += count;
			n = dev->freeze;
		}
	return n;
}

void xpt_release_devq(struct cam_path *path, uint32_t count, bool run_queue)
{
	struct cam_eb *eb = xpt_bus_find(path->path_id);

	if (!eb)
		return;
	for (struct cam_ed *dev = eb->devs; dev; dev = dev->next) {
		if (!xpt_path_match(path->path_id, path->target, path->lun,
				    eb->path_id, dev->target, dev->lun))
			continue;
		if (dev->freeze < count) {
			log_warn("xpt: %u:%u:%llu devq released more than "
				 "frozen", eb->path_id, dev->target,
				 (unsigned long long)dev->lun);
			dev->freeze = 0;
		} else {
			dev->freeze -= count;
		}
	}
	if (run_queue)
		xpt_run_bus(eb);
}

uint32_t xpt_devq_frozen(struct cam_path *path)
{
	struct cam_eb *eb = xpt_bus_find(path->path_id);
	struct cam_ed *dev;

	if (!eb)
		return 0;
	dev = xpt_dev_get(eb, path->target, path->lun, false);
	return dev ? dev->freeze : 0;
}

/* ---- device queues ---- */

static void xpt_dev_enqueue(struct cam_ed *dev, union ccb *ccb)
{
	union ccb **pp;
	uint64_t seq = ccb->ccb_h.xpt.seq;

	ccb->ccb_h.xpt.state = XPT_CCB_QUEUED;
	dev->queued++;
	/* Most CCBs are new and go to the tail; a requeued or retried one
	 * goes back to its place by sequence number. */
	if (!dev->qtail || dev->qtail->ccb_h.xpt.seq <= seq) {
		ccb->ccb_h.xpt.next = NULL;
		if (dev->qtail)
			dev->qtail->ccb_h.xpt.next = ccb;
		else
			dev->qhead = ccb;
		dev->qtail = ccb;
		return;
	}
	for (pp = &dev->qhead; *pp; pp = &(*pp)->ccb_h.xpt.next)
		if ((*pp)->ccb_h.xpt.seq > seq)
			break;
	ccb->ccb_h.xpt.next = *pp;
	*pp = ccb;
}

static bool xpt_tag_alloc(struct cam_ed *dev, uint32_t *tag)
{
	for (uint32_t w = 0; w < (dev->ntags + 63) / 64; w++) {
		uint64_t freebits = ~dev->tagmap[w];

		if (!freebits)
			continue;
		uint32_t b = (uint32_t)__builtin_ctzll(freebits);
		uint32_t t = w * 64 + b;

		if (t >= dev->ntags)
			return false;
		dev->tagmap[w] |= 1ull << b;
		*tag = t;
		return true;
	}
	return false;
}

static void xpt_tag_free(struct cam_ed *dev, uint32_t tag)
{
	if (tag < dev->ntags)
		dev->tagmap[tag / 64] &= ~(1ull << (tag % 64));
}

/* Hand ccb to the SIM, accounting its slot. */
static void xpt_start_ccb(struct cam_ed *dev, union ccb *ccb)
{
	struct cam_eb *eb = dev->eb;
	struct cam_sim *sim = eb->sim;
	struct ccb_hdr *h = &ccb->ccb_h;
	uint32_t tmo;

	dev->active++;
	sim->devq->free--;
	h->xpt.xflags &= ~XPT_XF_TAGGED;
	h->tag_id = 0;
	if ((dev->flags & CAM_ED_TAGGED) &&
	    h->tag_action != CAM_TAG_ACTION_NONE &&
	    xpt_tag_alloc(dev, &h->tag_id))
		h->xpt.xflags |= XPT_XF_TAGGED;
	h->xpt.state = XPT_CCB_SIM;
	h->status = CAM_REQ_INPROG;
	tmo = h->timeout == CAM_TIME_DEFAULT ? eb->default_timeout_ms
					      : h->timeout;
	h->xpt.tmo_stage = 0;
	if (h->timeout != CAM_TIME_INFINITY)
		xpt_tmo_add(eb, ccb, ev_now_ms() + tmo);
	sk_trace(SK_TRACE_XPT, "xpt: %u:%u:%llu start %s op 0x%02x tag %u",
		 eb->path_id, dev->target, (unsigned long long)dev->lun,
		 xpt_func_name(h->func_code),
		 (h->flags & CAM_CDB_POINTER) ? ccb->csio.cdb_io.cdb_ptr[0]
					      : ccb->csio.cdb_io.cdb_bytes[0],
		 h->tag_id);
	sim->ops->action(sim, ccb);
}

static bool xpt_dev_can_run(struct cam_ed *dev)
{
	union ccb *head = dev->qhead;
	struct cam_sim *sim = dev->eb->sim;

	if (!head || sim->devq->free == 0)
		return false;
	if (head->ccb_h.xpt.xflags & XPT_XF_RECOVERY)
		return true;
	return dev->freeze == 0 && sim->freeze == 0 &&
	       dev->active < dev->openings;
}

void xpt_run_bus(struct cam_eb *eb)
{
	bool again;

	if (eb->running) {
		eb->rerun = true;
		return;
	}
	eb->running = true;
	do {
		eb->rerun = false;
		again = false;
		for (struct cam_ed *dev = eb->devs; dev; dev = dev->next) {
			if (xpt_dev_can_run(dev)) {
				union ccb *ccb = dev->qhead;

				dev->qhead = ccb->ccb_h.xpt.next;
				if (!dev->qhead)
					dev->qtail = NULL;
				dev->queued--;
				ccb->ccb_h.xpt.next = NULL;
				xpt_start_ccb(dev, ccb);
				again = true;
			}
		}
	} while (again || eb->rerun);
	eb->running = false;
}

/* ---- action ---- */

/* Finish a CCB the XPT refuses before it reaches a queue. */
static void xpt_refuse(union ccb *ccb, uint32_t status)
{
	ccb->ccb_h.status = status;
	if (ccb->ccb_h.xpt.bus)
		xpt_done(ccb);
	else if (ccb->ccb_h.cbfcnp)
		ccb->ccb_h.cbfcnp(ccb); /* no bus, no loop to defer to */
}

void xpt_action(union ccb *ccb)
{
	struct ccb_hdr *h = &ccb->ccb_h;
	struct cam_eb *eb;
	struct cam_ed *dev;

	h->status = CAM_REQ_INPROG;
	h->xpt.next = NULL;
	if (h->func_code == XPT_SASYNC_CB) {
		xpt_async_register_ccb(ccb);
		return;
	}
	eb = xpt_bus_find(h->path_id);
	h->xpt.bus = eb;
	if (!eb || eb->dying) {
		h->xpt.bus = NULL;
		xpt_refuse(ccb, CAM_PATH_INVALID);
		return;
	}
	switch (h->func_code) {
	case XPT_NOOP:
		xpt_refuse(ccb, CAM_REQ_CMP);
		return;
	case XPT_SCAN_BUS:
		xpt_scan_start(eb, ccb);
		return;
	case XPT_SCSI_IO:
		break;
	default:
		/* Immediate functions go straight to the SIM. */
		h->xpt.dev = NULL;
		h->xpt.state = XPT_CCB_SIM;
		eb->sim->ops->action(eb->sim, ccb);
		return;
	}
	if ((h->flags & (CAM_CDB_PHYS | CAM_DATA_PHYS | CAM_SG_LIST_PHYS)) ||
	    ccb->csio.cdb_len == 0 || ccb->csio.cdb_len > CAM_CDB_LEN_MAX ||
	    h->target_id == CAM_TARGET_WILDCARD ||
	    h->target_lun == CAM_LUN_WILDCARD) {
		xpt_refuse(ccb, CAM_REQ_INVALID);
		return;
	}
	dev = xpt_dev_get(eb, h->target_id, h->target_lun, true);
	if (!dev) {
		xpt_refuse(ccb, CAM_RESRC_UNAVAIL);
		return;
	}
	h->xpt.dev = dev;
	if (!(h->xpt.xflags & XPT_XF_RETRY))
		h->xpt.seq = ++eb->seq;
	h->xpt.xflags &= ~(XPT_XF_RETRY | XPT_XF_TIMEDOUT);
	h->xpt.tmo_stage = 0;
	xpt_dev_enqueue(dev, ccb);
	xpt_run_bus(eb);
}

/* ---- completion ---- */

static void xpt_done_drain(void *arg);
static void xpt_rdone_drain(void *arg);

/* Run both completion lists now (polled operation). */
void xpt_doneq_run(struct cam_eb *eb)
{
	xpt_rdone_drain(eb);
	xpt_done_drain(eb);
}

void xpt_done(union ccb *ccb)
{
	struct ccb_hdr *h = &ccb->ccb_h;
	struct cam_eb *eb = h->xpt.bus;

	h->status &= ~CAM_SIM_QUEUED;
	if (!eb) {
		if (h->cbfcnp)
			h->cbfcnp(ccb);
		return;
	}
	/* Immediate CCBs without a completion function are done when the
	 * SIM returns; nothing to queue. */
	if (h->func_code != XPT_SCSI_IO && !h->cbfcnp)
		return;
	h->xpt.next = NULL;
	if (ev_loop_in_thread(eb->loop)) {
		h->xpt.state = XPT_CCB_DONEQ;
		if (eb->done_tail)
			eb->done_tail->ccb_h.xpt.next = ccb;
		else
			eb->done_head = ccb;
		eb->done_tail = ccb;
		if (!eb->done_deferred) {
			eb->done_deferred = true;
			if (ev_loop_defer(eb->loop, xpt_done_drain, eb) < 0) {
				eb->done_deferred = false;
				log_err("xpt: cannot defer completion");
			}
		}
		return;
	}
	pthread_mutex_lock(&eb->done_lock);
	if (eb->rdone_tail)
		eb->rdone_tail->ccb_h.xpt.next = ccb;
	else
		eb->rdone_head = ccb;
	eb->rdone_tail = ccb;
	if (!eb->rdone_posted) {
		eb->rdone_posted = true;
		pthread_mutex_unlock(&eb->done_lock);
		if (ev_loop_post(eb->loop, xpt_rdone_drain, eb) < 0)
			log_err("xpt: cannot post completion");
		return;
	}
	pthread_mutex_unlock(&eb->done_lock);
}

/* A drain reaching a deregistered bus: free it once nothing is pending. */
static bool xpt_zombie_check(struct cam_eb *eb, bool remote)
{
	bool last;

	pthread_mutex_lock(&eb->done_lock);
	if (!eb->zombie) {
		pthread_mutex_unlock(&eb->done_lock);
		return false;
	}
	if (remote)
		eb->rdone_posted = false;
	else
		eb->done_deferred = false;
	last = !eb->rdone_posted && !eb->done_deferred;
	pthread_mutex_unlock(&eb->done_lock);
	if (last) {
		pthread_mutex_destroy(&eb->done_lock);
		free(eb);
	}
	return true;
}

static void xpt_done_drain(void *arg)
{
	struct cam_eb *eb = arg;
	union ccb *ccb;

	if (xpt_zombie_check(eb, false))
		return;
	eb->done_deferred = false;
	while ((ccb = eb->done_head) != NULL) {
		eb->done_head = ccb->ccb_h.xpt.next;
		if (!eb->done_head)
			eb->done_tail = NULL;
		ccb->ccb_h.xpt.next = NULL;
		xpt_finish(ccb);
	}
}

static void xpt_rdone_drain(void *arg)
{
	struct cam_eb *eb = arg;
	union ccb *list, *ccb;

	if (xpt_zombie_check(eb, true))
		return;
	pthread_mutex_lock(&eb->done_lock);
	list = eb->rdone_head;
	eb->rdone_head = eb->rdone_tail = NULL;
	eb->rdone_posted = false;
	pthread_mutex_unlock(&eb->done_lock);
	while ((ccb = list) != NULL) {
		list = ccb->ccb_h.xpt.next;
		ccb->ccb_h.xpt.next = NULL;
		xpt_finish(ccb);
	}
}

/* The rest of completion, on the loop. */
void xpt_finish(union ccb *ccb)
{
	struct ccb_hdr *h = &ccb->ccb_h;
	struct cam_eb *eb = h->xpt.bus;
	struct cam_ed *dev = h->xpt.dev;
	uint32_t st;
	bool qfrzn;

	if (h->func_code != XPT_SCSI_IO || !dev) {
		h->xpt.state = XPT_CCB_IDLE;
		if (h->cbfcnp)
			h->cbfcnp(ccb);
		return;
	}
	if (h->xpt.state == XPT_CCB_SENSE) {
		/* Back from autosense: its slot was given back already. */
		st = cam_ccb_status(h->status);
		goto complete;
	}
	/* Give back the slot, the tag and the timer. */
	dev->active--;
	eb->sim->devq->free++;
	if (h->xpt.xflags & XPT_XF_TAGGED)
		xpt_tag_free(dev, h->tag_id);
	h->xpt.xflags &= ~XPT_XF_TAGGED;
	if (h->xpt.xflags & XPT_XF_TMO)
		xpt_tmo_del(eb, ccb);
	if (h->status & CAM_RELEASE_SIMQ) {
		h->status &= ~CAM_RELEASE_SIMQ;
		xpt_release_simq(eb->sim, false);
	}
	st = cam_ccb_status(h->status);
	if (st == CAM_REQUEUE_REQ) {
		/* Back to its place; the SIM froze what needed freezing. */
		if (h->status & CAM_DEV_QFRZN) {
			struct cam_path p = {eb->path_id, dev->target,
					     dev->lun};

			h->status &= ~CAM_DEV_QFRZN;
			xpt_release_devq(&p, 1, false);
		}
		h->status = CAM_REQ_INPROG;
		h->xpt.xflags &= ~XPT_XF_TIMEDOUT;
		h->xpt.tmo_stage = 0;
		xpt_dev_enqueue(dev, ccb);
		xpt_run_bus(eb);
		return;
	}
	if ((h->xpt.xflags & XPT_XF_TIMEDOUT) && st != CAM_REQ_CMP) {
		h->status = (h->status & ~CAM_STATUS_MASK) | CAM_CMD_TIMEOUT;
		st = CAM_CMD_TIMEOUT;
	}
	if (st == CAM_SCSI_STATUS_ERROR && xpt_autosense_start(dev, ccb)) {
		xpt_run_bus(eb);
		return;
	}
complete:
	dev->cmds++;
	if (st != CAM_REQ_CMP)
		dev->errors++;
	if (st == CAM_CMD_TIMEOUT)
		dev->timeouts++;
	qfrzn = h->status & CAM_DEV_QFRZN;
	h->xpt.state = XPT_CCB_IDLE;
	if (h->cbfcnp)
		h->cbfcnp(ccb);
	/* The error has been handled (a retry is already queued by its
	 * sequence number): let the device queue go. */
	if (qfrzn) {
		struct cam_path p = {eb->path_id, dev->target, dev->lun};

		xpt_release_devq(&p, 1, false);
	}
	xpt_run_bus(eb);
}
