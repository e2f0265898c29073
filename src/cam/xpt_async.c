/*
 * Asynchronous events of the CAM transport: registration by path (with
 * wildcards) through XPT_SASYNC_CB, and delivery by xpt_async().
 *
 * Registrations live in one global list under xpt_lock; events are rare
 * (resets, devices found and lost, negotiation), so delivery copies the
 * matching registrations out and calls them without the lock, which lets a
 * callback register or remove callbacks itself.
 *
 * The XPT listens too: AC_TRANSFER_NEG that changes tagged queuing sets
 * the device's openings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/log.h>

#include "cam/xpt_internal.h"

struct xpt_async_reg {
	struct xpt_async_reg *next;
	uint32_t events;
	cam_async_fn cb;
	void *arg;
	uint32_t path_id, target;
	uint64_t lun;
};

static struct xpt_async_reg *xpt_regs;

void xpt_async_register_ccb(union ccb *ccb)
{
	struct ccb_setasync *csa = &ccb->csa;
	struct ccb_hdr *h = &ccb->ccb_h;
	struct xpt_async_reg *r, **pp;

	if (!csa->callback) {
		h->status = CAM_REQ_INVALID;
		return;
	}
	pthread_mutex_lock(&xpt_lock);
	for (pp = &xpt_regs; (r = *pp) != NULL; pp = &r->next)
		if (r->cb == csa->callback && r->arg == csa->callback_arg &&
		    r->path_id == h->path_id && r->target == h->target_id &&
		    r->lun == h->target_lun)
			break;
	if (r && csa->event_enable == 0) {
		*pp = r->next;
		free(r);
	} else if (r) {
		r->events = csa->event_enable;
	} else if (csa->event_enable != 0) {
		r = calloc(1, sizeof(*r));
		if (!r) {
			pthread_mutex_unlock(&xpt_lock);
			h->status = CAM_RESRC_UNAVAIL;
			return;
		}
		r->events = csa->event_enable;
		r->cb = csa->callback;
		r->arg = csa->callback_arg;
		r->path_id = h->path_id;
		r->target = h->target_id;
		r->lun = h->target_lun;
		*pp = r;
	}
	pthread_mutex_unlock(&xpt_lock);
	h->status = CAM_REQ_CMP;
}

int xpt_register_async(uint32_t events, cam_async_fn cb, void *arg,
		       uint32_t path_id, uint32_t target, uint64_t lun)
{
	union ccb ccb;

	memset(&ccb, 0, sizeof(ccb));
	xpt_setup_ccb(&ccb.ccb_h, path_id, target, lun, XPT_SASYNC_CB);
	ccb.csa.event_enable = events;
	ccb.csa.callback = cb;
	ccb.csa.callback_arg = arg;
	xpt_action(&ccb);
	switch (cam_ccb_status(ccb.ccb_h.status)) {
	case CAM_REQ_CMP:
		return 0;
	case CAM_RESRC_UNAVAIL:
		return -ENOMEM;
	default:
		return -EINVAL;
	}
}

/* The XPT's own reaction to an event, before the registered ones. */
static void xpt_async_internal(uint32_t code, struct cam_path *path,
			       void *arg)
{
	struct cam_eb *eb;

	if (code != AC_TRANSFER_NEG || !arg ||
	    path->path_id == CAM_BUS_WILDCARD)
		return;
	struct ccb_trans_settings *cts = arg;

	if (!(cts->valid & CCB_TRANS_TQ_VALID))
		return;
	eb = xpt_bus_find(path->path_id);
	if (!eb)
		return;
	for (struct cam_ed *dev = eb->devs; dev; dev = dev->next) {
		struct cam_sim *sim = eb->sim;

		if (!xpt_path_match(path->path_id, path->target, path->lun,
				    eb->path_id, dev->target, dev->lun))
			continue;
		if (cts->flags & CCB_TRANS_TAG_ENB)
			dev->flags |= CAM_ED_TAGGED;
		else
			dev->flags &= ~CAM_ED_TAGGED;
		if (!dev->openings_fixed)
			dev->openings =
				(dev->flags & CAM_ED_TAGGED)
					? (uint32_t)sim->max_tagged_dev_transactions
					: (uint32_t)sim->max_dev_transactions;
	}
}

void xpt_async(uint32_t code, struct cam_path *path, void *arg)
{
	struct xpt_async_reg *r;
	struct xpt_async_reg *hits = NULL;
	size_t n = 0, cap = 0;

	xpt_async_internal(code, path, arg);
	pthread_mutex_lock(&xpt_lock);
	for (r = xpt_regs; r; r = r->next) {
		if (!(r->events & code) ||
		    !xpt_path_match(r->path_id, r->target, r->lun,
				    path->path_id, path->target, path->lun))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct xpt_async_reg *nh =
				realloc(hits, nc * sizeof(*nh));

			if (!nh)
				break;
			hits = nh;
			cap = nc;
		}
		hits[n++] = *r;
	}
	pthread_mutex_unlock(&xpt_lock);
	sk_trace(SK_TRACE_XPT, "xpt: async 0x%x on %d:%d:%lld to %zu", code,
		 (int)path->path_id, (int)path->target, (long long)path->lun,
		 n);
	for (size_t i = 0; i < n; i++)
		hits[i].cb(hits[i].arg, code, path, arg);
	free(hits);
}

/* Drop registrations naming a bus that went away. */
void xpt_async_bus_gone(uint32_t path_id)
{
	struct xpt_async_reg *r, **pp;

	pthread_mutex_lock(&xpt_lock);
	for (pp = &xpt_regs; (r = *pp) != NULL;) {
		if (r->path_id == path_id) {
			*pp = r->next;
			free(r);
		} else {
			pp = &r->next;
		}
	}
	pthread_mutex_unlock(&xpt_lock);
}

void xpt_async_fini(void)
{
	struct xpt_async_reg *r;

	pthread_mutex_lock(&xpt_lock);
	while ((r = xpt_regs) != NULL) {
		xpt_regs = r->next;
		free(r);
	}
	pthread_mutex_unlock(&xpt_lock);
}
