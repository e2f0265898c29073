/*
 * The SCSA packet interface over CAM (see include/scsikit/scsa.h).
 *
 * A packet owns one CCB; scsa_transport fills it from the packet and hands
 * it to the XPT on the bus's loop; the CCB's completion turns the CAM
 * status into pkt_reason / pkt_state / pkt_statistics, the status byte
 * (and the auto request sense data) into the status block, and the
 * residual into pkt_resid, then calls pkt_comp.  No peripheral retry is
 * done here: as the reference says, the target driver decides, and may
 * resubmit a packet unchanged after a transport error.
 *
 * Resources (packets, consistent buffers, and the bytes of DMA staging
 * mapped at once) are counted per HBA under a mutex; a shortage of any of
 * them follows the caller's callback rule, and a release wakes SLEEP_FUNC
 * waiters and posts the waiting callbacks, one at a time, to the bus's
 * loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/scsa.h>

#define SCSA_MAX_TARGETS 256

enum scsa_res {
	SCSA_RES_PKT = 0,
	SCSA_RES_CONS = 1,
	SCSA_RES_DMA = 2,	/* bytes, not units */
	SCSA_RES_KINDS = 3,
};

struct scsa_waiter {
	struct scsa_waiter *next;
	scsa_callback_t cb;
	void *arg;
};

struct scsa_hba {
	uint32_t path_id;
	struct ev_loop *loop;
	size_t dma_max;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t max[SCSA_RES_KINDS], used[SCSA_RES_KINDS];
	struct scsa_waiter *wait_head, *wait_tail;
	bool kick_posted;
	uint8_t no_arq[SCSA_MAX_TARGETS];	/* auto-rqsense turned off */
	uint8_t no_tagq[SCSA_MAX_TARGETS];
};

/* A packet with everything the HBA keeps for it. */
struct scsa_pkt_int {
	struct scsa_pkt pkt;	/* first */
	struct scsa_hba *hba;
	union ccb ccb;
	uint8_t cdb[CAM_CDB_LEN_MAX];
	uint8_t cdb_len;
	uint8_t *status;
	size_t statuslen;
	void *priv;
	struct scsa_buf *bp;
	size_t dma_off, dma_len;	/* the mapped window */
	size_t dma_held;		/* SCSA_RES_DMA bytes held */
	uint8_t *bounce;		/* the "DMA" staging buffer */
	size_t bounce_cap;
	bool consistent;
	bool in_transport;
};

/* Header in front of a consistent buffer's data. */
struct scsa_cons_hdr {
	struct scsa_hba *hba;
	struct scsa_buf *bp;
	bool own_bp;
	uint8_t pad[64 - sizeof(void *) * 2 - sizeof(bool)];
};

const char *scsa_reason_name(uint8_t reason)
{
	static const char *const names[] = {
		"CMP_CMPLT", "CMP_INCOMPLETE", "CMP_DMA_ERR", "CMP_TRAN_ERR",
		"CMP_RESET", "CMP_ABORTED", "CMP_TIMEOUT", "CMP_DATA_OVR",
		"CMP_UNX_BUS_FREE", "CMP_DEV_GONE",
	};

	return reason < sizeof(names) / sizeof(names[0]) ? names[reason]
							  : "CMP_UNKNOWN";
}

/* ---- HBA ---- */

struct scsa_hba *scsa_hba_attach(uint32_t path_id,
				 const struct scsa_hba_limits *lim)
{
	struct ev_loop *loop = xpt_bus_loop(path_id);
	struct scsa_hba *hba;
	union ccb cpi;

	if (!loop)
		return NULL;
	hba = calloc(1, sizeof(*hba));
	if (!hba)
		return NULL;
	hba->path_id = path_id;
	hba->loop = loop;
	hba->max[SCSA_RES_PKT] = lim && lim->max_pkts ? lim->max_pkts : 64;
	hba->max[SCSA_RES_CONS] =
		lim && lim->max_consistent ? lim->max_consistent : 8;
	hba->dma_max = lim ? lim->dma_max : 0;
	if (!hba->dma_max) {
		memset(&cpi, 0, sizeof(cpi));
		xpt_setup_ccb(&cpi.ccb_h, path_id, CAM_TARGET_WILDCARD,
			      CAM_LUN_WILDCARD, XPT_PATH_INQ);
		if (cam_ccb_status(cam_sync_action(loop, &cpi)) == CAM_REQ_CMP &&
		    cpi.cpi.maxio)
			hba->dma_max = cpi.cpi.maxio;
		else
			hba->dma_max = 64 * 1024;
	}
	hba->max[SCSA_RES_DMA] = lim && lim->dma_total ? lim->dma_total
						       : 16 * hba->dma_max;
	/* One full window must always be possible. */
	if (hba->max[SCSA_RES_DMA] < hba->dma_max)
		hba->max[SCSA_RES_DMA] = hba->dma_max;
	pthread_mutex_init(&hba->mu, NULL);
	pthread_cond_init(&hba->cv, NULL);
	return hba;
}

void scsa_hba_detach(struct scsa_hba *hba)
{
	struct scsa_waiter *w;

	if (!hba)
		return;
	if (hba->used[SCSA_RES_PKT] || hba->used[SCSA_RES_CONS])
		log_warn("scsa: HBA on bus %u detached with %zu packets and %zu "
			 "buffers", hba->path_id, hba->used[SCSA_RES_PKT],
			 hba->used[SCSA_RES_CONS]);
	while ((w = hba->wait_head) != NULL) {
		hba->wait_head = w->next;
		free(w);
	}
	pthread_mutex_destroy(&hba->mu);
	pthread_cond_destroy(&hba->cv);
	free(hba);
}

int scsa_ifgetcap(struct scsa_address *ap, const char *cap)
{
	struct scsa_hba *hba = ap->a_hba;
	uint32_t t = ap->a_target % SCSA_MAX_TARGETS;

	if (!strcmp(cap, "auto-rqsense"))
		return !hba->no_arq[t];
	if (!strcmp(cap, "tagged-qing"))
		return !hba->no_tagq[t];
	if (!strcmp(cap, "dma-max"))
		return hba->dma_max > 0x7fffffff ? 0x7fffffff
						 : (int)hba->dma_max;
	return -1;
}

int scsa_ifsetcap(struct scsa_address *ap, const char *cap, int value)
{
	struct scsa_hba *hba = ap->a_hba;
	uint32_t t = ap->a_target % SCSA_MAX_TARGETS;

	if (!strcmp(cap, "auto-rqsense"))
		hba->no_arq[t] = !value;
	else if (!strcmp(cap, "tagged-qing"))
		hba->no_tagq[t] = !value;
	else
		return -1;
	return 1;
}

/* ---- resources ---- */

static bool res_try(struct scsa_hba *hba, enum scsa_res k, size_t n)
{
	bool ok;

	pthread_mutex_lock(&hba->mu);
	ok = hba->used[k] + n <= hba->max[k];
	if (ok)
		hba->used[k] += n;
	pthread_mutex_unlock(&hba->mu);
	return ok;
}

static void res_wait_add(struct scsa_hba *hba, scsa_callback_t cb, void *arg)
{
	struct scsa_waiter *w;

	pthread_mutex_lock(&hba->mu);
	for (w = hba->wait_head; w; w = w->next)
		if (w->cb == cb && w->arg == arg)
			break;
	if (!w) {
		w = calloc(1, sizeof(*w));
		if (w) {
			w->cb = cb;
			w->arg = arg;
			if (hba->wait_tail)
				hba->wait_tail->next = w;
			else
				hba->wait_head = w;
			hba->wait_tail = w;
		}
	}
	pthread_mutex_unlock(&hba->mu);
}

/* Get n of resource k, by the callback rules. */
static bool res_get(struct scsa_hba *hba, enum scsa_res k, size_t n,
		    scsa_callback_t cb, void *arg)
{
	if (res_try(hba, k, n))
		return true;
	if (cb == NULL_FUNC || n > hba->max[k])
		return false;
	if (cb == SLEEP_FUNC) {
		/* Sleeping on the loop would stop the releases. */
		if (ev_loop_in_thread(hba->loop))
			return false;
		pthread_mutex_lock(&hba->mu);
		while (hba->used[k] + n > hba->max[k])
			pthread_cond_wait(&hba->cv, &hba->mu);
		hba->used[k] += n;
		pthread_mutex_unlock(&hba->mu);
		return true;
	}
	res_wait_add(hba, cb, arg);
	return false;
}

/* Run waiting callbacks while they succeed (on the bus's loop). */
static void res_kick(void *arg)
{
	struct scsa_hba *hba = arg;

	for (;;) {
		struct scsa_waiter *w, *x;
		int rc;

		pthread_mutex_lock(&hba->mu);
		w = hba->wait_head;
		if (!w) {
			hba->kick_posted = false;
			pthread_mutex_unlock(&hba->mu);
			return;
		}
		hba->wait_head = w->next;
		if (!hba->wait_head)
			hba->wait_tail = NULL;
		pthread_mutex_unlock(&hba->mu);
		rc = w->cb(w->arg);
		if (rc) {
			free(w);
			continue;
		}
		/* Not yet: back to the head (unless it queued itself again),
		 * until the next release. */
		pthread_mutex_lock(&hba->mu);
		for (x = hba->wait_head; x; x = x->next)
			if (x->cb == w->cb && x->arg == w->arg)
				break;
		if (!x) {
			w->next = hba->wait_head;
			hba->wait_head = w;
			if (!hba->wait_tail)
				hba->wait_tail = w;
		} else {
			free(w);
		}
		hba->kick_posted = false;
		pthread_mutex_unlock(&hba->mu);
		return;
	}
}

static void res_put(struct scsa_hba *hba, enum scsa_res k, size_t n)
{
	bool post = false;

	if (n == 0)
		return;
	pthread_mutex_lock(&hba->mu);
	hba->used[k] -= n < hba->used[k] ? n : hba->used[k];
	pthread_cond_broadcast(&hba->cv);
	if (hba->wait_head && !hba->kick_posted) {
		hba->kick_posted = true;
		post = true;
	}
	pthread_mutex_unlock(&hba->mu);
	if (post && ev_loop_post(hba->loop, res_kick, hba) < 0) {
		pthread_mutex_lock(&hba->mu);
		hba->kick_posted = false;
		pthread_mutex_unlock(&hba->mu);
	}
}

/* ---- packets ---- */

static struct scsa_pkt_int *pkt_int(struct scsa_pkt *pkt)
{
	return (struct scsa_pkt_int *)pkt;
}

/* Give back the DMA bytes a packet holds. */
static void pkt_unmap(struct scsa_pkt_int *pi)
{
	res_put(pi->hba, SCSA_RES_DMA, pi->dma_held);
	pi->dma_held = 0;
}

/* Map the next window of bp: 0, -EINVAL (nothing left, or too big
 * without PKT_DMA_PARTIAL), -EAGAIN (DMA resources short: the callback
 * rules applied), -ENOMEM. */
static int pkt_map(struct scsa_pkt_int *pi, struct scsa_buf *bp, int flags,
		   bool next, scsa_callback_t cb, void *arg)
{
	size_t off = next ? pi->dma_off + pi->dma_len : 0;
	size_t len;

	if (off >= bp->b_bcount)
		return -EINVAL;
	len = bp->b_bcount - off;
	if (len > pi->hba->dma_max) {
		if (!(flags & PKT_DMA_PARTIAL))
			return -EINVAL;
		len = pi->hba->dma_max;
	}
	/* The mapping's resources: what this window needs beyond what the
	 * packet holds from the previous one. */
	if (len > pi->dma_held) {
		if (!res_get(pi->hba, SCSA_RES_DMA, len - pi->dma_held, cb,
			     arg))
			return -EAGAIN;
		pi->dma_held = len;
	}
	if (len > pi->bounce_cap) {
		uint8_t *nb = realloc(pi->bounce, len);

		if (!nb)
			return -ENOMEM;
		pi->bounce = nb;
		pi->bounce_cap = len;
	}
	pi->bp = bp;
	pi->dma_off = off;
	pi->dma_len = len;
	pi->consistent = (flags & PKT_CONSISTENT) != 0;
	/* Sync for the device: it sees the data as it is now. */
	if (!(bp->b_flags & B_READ))
		memcpy(pi->bounce, (uint8_t *)bp->b_addr + off, len);
	else
		memset(pi->bounce, 0, len);
	pi->pkt.pkt_resid = bp->b_bcount - off - len;
	return 0;
}

static void pkt_free(struct scsa_pkt_int *pi)
{
	pkt_unmap(pi);
	free(pi->bounce);
	free(pi->status);
	free(pi->priv);
	free(pi);
}

struct scsa_pkt *scsa_init_pkt(struct scsa_address *ap, struct scsa_pkt *pkt,
			       struct scsa_buf *bp, int cmdlen, int statuslen,
			       int privatelen, int flags,
			       scsa_callback_t callback, void *arg)
{
	struct scsa_hba *hba = ap ? ap->a_hba : NULL;
	struct scsa_pkt_int *pi;
	bool fresh = pkt == NULL;

	if (!hba)
		return NULL;
	if (pkt) {
		pi = pkt_int(pkt);
		if (pi->in_transport)
			return NULL;
		if (bp && bp->b_bcount) {
			bool next = pi->bp == bp;

			if (pkt_map(pi, bp, flags, next, callback, arg) < 0)
				return NULL;
		}
		return pkt;
	}
	if (cmdlen < 1 || cmdlen > CAM_CDB_LEN_MAX || statuslen < 0 ||
	    privatelen < 0 || privatelen > (1 << 20) || statuslen > 4096)
		return NULL;
	if (bp && bp->b_bcount > hba->dma_max && !(flags & PKT_DMA_PARTIAL))
		return NULL;	/* cannot ever be mapped */
	if (!res_get(hba, SCSA_RES_PKT, 1, callback, arg))
		return NULL;
	pi = calloc(1, sizeof(*pi));
	if (!pi)
		goto out_put;
	pi->hba = hba;
	pi->statuslen = statuslen ? (size_t)statuslen : 1;
	pi->status = calloc(1, pi->statuslen);
	pi->priv = privatelen ? calloc(1, (size_t)privatelen) : NULL;
	if (!pi->status || (privatelen && !pi->priv))
		goto out_free;
	pi->cdb_len = (uint8_t)cmdlen;
	pi->pkt.pkt_address = *ap;
	pi->pkt.pkt_cdbp = pi->cdb;
	pi->pkt.pkt_scbp = pi->status;
	pi->pkt.pkt_private = pi->priv;
	pi->pkt.pkt_ha_private = pi;
	/* A mapping that is short of resources gives the packet back too:
	 * the caller's callback (if any) is queued for either. */
	if (bp && bp->b_bcount &&
	    pkt_map(pi, bp, flags, false, callback, arg) < 0)
		goto out_free;
	(void)fresh;
	return &pi->pkt;

out_free:
	pkt_free(pi);
out_put:
	res_put(hba, SCSA_RES_PKT, 1);
	return NULL;
}

void scsa_sync_pkt(struct scsa_pkt *pkt)
{
	struct scsa_pkt_int *pi = pkt_int(pkt);
	uint8_t *user;

	if (!pi->bp || !pi->dma_len)
		return;
	user = (uint8_t *)pi->bp->b_addr + pi->dma_off;
	if (pi->bp->b_flags & B_READ)
		memcpy(user, pi->bounce, pi->dma_len);
	else
		memcpy(pi->bounce, user, pi->dma_len);
}

void scsa_destroy_pkt(struct scsa_pkt *pkt)
{
	struct scsa_pkt_int *pi;
	struct scsa_hba *hba;

	if (!pkt)
		return;
	pi = pkt_int(pkt);
	hba = pi->hba;
	if (pi->in_transport) {
		log_err("scsa: destroy of a packet in transport");
		return;
	}
	if (pi->bp && (pi->bp->b_flags & B_READ))
		scsa_sync_pkt(pkt);
	pkt_free(pi);
	res_put(hba, SCSA_RES_PKT, 1);
}

/* ---- consistent buffers ---- */

struct scsa_buf *scsa_alloc_consistent_buf(struct scsa_address *ap,
					   struct scsa_buf *bp,
					   size_t datalen, uint32_t bflags,
					   scsa_callback_t callback, void *arg)
{
	struct scsa_hba *hba = ap ? ap->a_hba : NULL;
	struct scsa_cons_hdr *h;
	bool own = bp == NULL;

	if (!hba || datalen > (64u << 20))
		return NULL;
	if (!res_get(hba, SCSA_RES_CONS, 1, callback, arg))
		return NULL;
	h = calloc(1, sizeof(*h) + (datalen ? datalen : 1));
	if (!h)
		goto out_put;
	if (own) {
		bp = calloc(1, sizeof(*bp));
		if (!bp) {
			free(h);
			goto out_put;
		}
	}
	h->hba = hba;
	h->bp = bp;
	h->own_bp = own;
	bp->b_addr = h + 1;
	bp->b_bcount = datalen;
	bp->b_flags = (bflags & B_READ) | B_CONSISTENT;
	bp->b_resid = 0;
	bp->b_error = 0;
	return bp;

out_put:
	res_put(hba, SCSA_RES_CONS, 1);
	return NULL;
}

void scsa_free_consistent_buf(struct scsa_buf *bp)
{
	struct scsa_cons_hdr *h;
	struct scsa_hba *hba;

	if (!bp || !(bp->b_flags & B_CONSISTENT) || !bp->b_addr)
		return;
	h = (struct scsa_cons_hdr *)bp->b_addr - 1;
	hba = h->hba;
	bp->b_addr = NULL;
	if (h->own_bp)
		free(bp);
	free(h);
	res_put(hba, SCSA_RES_CONS, 1);
}

/* ---- transport ---- */

/* The CAM outcome in the packet's terms. */
static void pkt_fill(struct scsa_pkt_int *pi)
{
	struct scsa_pkt *pkt = &pi->pkt;
	union ccb *ccb = &pi->ccb;
	uint32_t st = ccb->ccb_h.status;
	uint32_t state = STATE_GOT_BUS | STATE_GOT_TARGET | STATE_SENT_CMD;

	pkt->pkt_statistics = 0;
	pkt->pkt_resid = ccb->csio.resid;
	switch (cam_ccb_status(st)) {
	case CAM_REQ_CMP:
	case CAM_SCSI_STATUS_ERROR:
	case CAM_AUTOSENSE_FAIL:
		pkt->pkt_reason = CMP_CMPLT;
		state |= STATE_GOT_STATUS;
		break;
	case CAM_SEL_TIMEOUT:
	case CAM_TID_INVALID:
	case CAM_LUN_INVALID:
		pkt->pkt_reason = CMP_INCOMPLETE;
		state = STATE_GOT_BUS;
		break;
	case CAM_DEV_NOT_THERE:
	case CAM_PATH_INVALID:
	case CAM_NO_HBA:
		pkt->pkt_reason = CMP_DEV_GONE;
		state = 0;
		break;
	case CAM_CMD_TIMEOUT:
		pkt->pkt_reason = CMP_TIMEOUT;
		pkt->pkt_statistics |= STAT_TIMEOUT | STAT_ABORTED;
		break;
	case CAM_SCSI_BUS_RESET:
		pkt->pkt_reason = CMP_RESET;
		pkt->pkt_statistics |= STAT_BUS_RESET;
		break;
	case CAM_BDR_SENT:
		pkt->pkt_reason = CMP_RESET;
		pkt->pkt_statistics |= STAT_DEV_RESET;
		break;
	case CAM_REQ_ABORTED:
		pkt->pkt_reason = CMP_ABORTED;
		pkt->pkt_statistics |= STAT_ABORTED;
		break;
	case CAM_DATA_RUN_ERR:
		pkt->pkt_reason = CMP_DATA_OVR;
		break;
	case CAM_UNEXP_BUSFREE:
		pkt->pkt_reason = CMP_UNX_BUS_FREE;
		break;
	case CAM_UNCOR_PARITY:
		pkt->pkt_reason = CMP_TRAN_ERR;
		pkt->pkt_statistics |= STAT_PERR;
		break;
	case CAM_REQ_TOO_BIG:
		pkt->pkt_reason = CMP_DMA_ERR;
		break;
	default:
		pkt->pkt_reason = CMP_TRAN_ERR;
		break;
	}
	if (pkt->pkt_reason != CMP_CMPLT && pkt->pkt_reason != CMP_DATA_OVR &&
	    pkt->pkt_reason != CMP_UNX_BUS_FREE)
		pkt->pkt_resid = pi->dma_len;
	if (pi->dma_len > pkt->pkt_resid && pkt->pkt_reason == CMP_CMPLT)
		state |= STATE_XFERRED_DATA;
	pi->status[0] = pkt->pkt_reason == CMP_CMPLT ? ccb->csio.scsi_status
						     : 0;
	if (pi->statuslen >= sizeof(struct scsa_arq_status)) {
		struct scsa_arq_status *arq = (struct scsa_arq_status *)pi->status;

		arq->sts_status = pi->status[0];
		if (st & CAM_AUTOSNS_VALID) {
			size_t n = (size_t)(ccb->csio.sense_len -
					    ccb->csio.sense_resid);

			memcpy(arq->sts_sensedata, ccb->csio.sense_data, n);
			arq->sts_rqpkt_reason = CMP_CMPLT;
			arq->sts_rqpkt_state = STATE_GOT_BUS | STATE_GOT_TARGET |
					       STATE_SENT_CMD |
					       STATE_XFERRED_DATA |
					       STATE_GOT_STATUS;
			arq->sts_rqpkt_resid = ccb->csio.sense_resid;
			state |= STATE_ARQ_DONE;
		} else if (cam_ccb_status(st) == CAM_AUTOSENSE_FAIL) {
			arq->sts_rqpkt_reason = CMP_TRAN_ERR;
			state |= STATE_ARQ_DONE;
		}
	}
	pkt->pkt_state = state;
	/* A consistent mapping is synced by the HBA before the callback. */
	if (pi->consistent && pi->bp && (pi->bp->b_flags & B_READ))
		scsa_sync_pkt(pkt);
}

static void scsa_ccb_done(union ccb *ccb)
{
	struct scsa_pkt_int *pi = ccb->ccb_h.periph_priv[0];

	pkt_fill(pi);
	pi->in_transport = false;
	if (pi->pkt.pkt_comp)
		pi->pkt.pkt_comp(&pi->pkt);
}

static void pkt_build_ccb(struct scsa_pkt_int *pi)
{
	struct scsa_pkt *pkt = &pi->pkt;
	struct scsa_address *ap = &pkt->pkt_address;
	struct scsa_hba *hba = pi->hba;
	union ccb *ccb = &pi->ccb;
	uint32_t t = ap->a_target % SCSA_MAX_TARGETS;
	uint32_t flags = CAM_DIR_NONE;
	uint8_t tag = CAM_TAG_ACTION_NONE;

	if (pi->dma_len)
		flags = (pi->bp->b_flags & B_READ) ? CAM_DIR_IN : CAM_DIR_OUT;
	/* Auto request sense needs room for the sense in the status block. */
	if (hba->no_arq[t] || pi->statuslen < sizeof(struct scsa_arq_status))
		flags |= CAM_DIS_AUTOSENSE;
	if (pkt->pkt_flags & FLAG_NODISCON)
		flags |= CAM_DIS_DISCONNECT;
	if (!hba->no_tagq[t]) {
		if (pkt->pkt_flags & FLAG_HTAG)
			tag = MSG_HEAD_OF_Q_TAG;
		else if (pkt->pkt_flags & FLAG_OTAG)
			tag = MSG_ORDERED_Q_TAG;
		else
			tag = MSG_SIMPLE_Q_TAG;
	}
	xpt_setup_ccb(&ccb->ccb_h, hba->path_id, ap->a_target, ap->a_lun,
		      XPT_SCSI_IO);
	cam_fill_csio(&ccb->csio, scsa_ccb_done, flags, tag,
		      pi->dma_len ? pi->bounce : NULL, (uint32_t)pi->dma_len,
		      SCSI_SENSE_MAX, pi->cdb, pi->cdb_len,
		      pkt->pkt_time ? pkt->pkt_time * 1000u : CAM_TIME_DEFAULT);
	ccb->ccb_h.periph_priv[0] = pi;
	pkt->pkt_reason = CMP_INCOMPLETE;
	pkt->pkt_state = 0;
	pkt->pkt_statistics = 0;
}

static void scsa_start(void *arg)
{
	struct scsa_pkt_int *pi = arg;

	xpt_action(&pi->ccb);
}

int scsa_transport(struct scsa_pkt *pkt)
{
	struct scsa_pkt_int *pi;
	struct scsa_hba *hba;

	if (!pkt)
		return TRAN_BADPKT;
	pi = pkt_int(pkt);
	hba = pi->hba;
	if (pi->in_transport)
		return TRAN_BADPKT;
	if (xpt_bus_loop(hba->path_id) != hba->loop)
		return TRAN_FATAL_ERROR;
	pkt_build_ccb(pi);
	if (pkt->pkt_flags & FLAG_NOINTR) {
		/* Polled: the command is done on return, no callback. */
		if (ev_loop_in_thread(hba->loop))
			return TRAN_BADPKT;
		pi->ccb.ccb_h.cbfcnp = NULL;
		cam_sync_action(hba->loop, &pi->ccb);
		pkt_fill(pi);
		return TRAN_ACCEPT;
	}
	pi->in_transport = true;
	if (ev_loop_in_thread(hba->loop)) {
		xpt_action(&pi->ccb);
		return TRAN_ACCEPT;
	}
	if (ev_loop_post(hba->loop, scsa_start, pi) < 0) {
		pi->in_transport = false;
		return TRAN_BUSY;
	}
	return TRAN_ACCEPT;
}
