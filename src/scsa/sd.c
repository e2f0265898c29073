/*
 * sd: a direct-access target driver on the SCSA packet interface, after
 * the Solaris sd driver that the reference's examples describe, presented
 * as a bdev (like cam's da, which goes to CAM directly).
 *
 * Every block I/O is one packet: scsa_init_pkt maps the data with
 * PKT_DMA_PARTIAL, so a transfer larger than the HBA's DMA window runs as
 * one READ/WRITE per window, scsa_init_pkt moving the packet to the next
 * window each time.  The completion routine is the reference's:
 *
 *   - pkt_reason CMP_CMPLT: look at the status byte.  GOOD: next window or
 *     done (a residual is a short transfer: EIO).  BUSY (also TASK SET
 *     FULL, RESERVATION CONFLICT): resubmit after a delay, a bounded number
 *     of times.  CHECK CONDITION: the sense data came with the packet
 *     (STATE_ARQ_DONE) or, with auto request sense off, is fetched with
 *     the driver's own REQUEST SENSE packet (one per device, used by one
 *     command at a time, the others wait for it); the sense is judged by
 *     the table sd_sense_rules below.
 *   - any transport failure (CMP_TRAN_ERR, CMP_RESET, CMP_TIMEOUT,
 *     CMP_ABORTED, CMP_UNX_BUS_FREE, CMP_DATA_OVR, CMP_DMA_ERR): resubmit
 *     the packet unchanged, a bounded number of times.
 *   - CMP_INCOMPLETE, CMP_DEV_GONE: the device is not there: ENXIO.
 *
 * Packets and mappings come with a resource callback: a request that
 * finds them short waits in order on the device's list and is started
 * again when the HBA calls back (resources came back).
 *
 * Without auto request sense the sense of a CHECK CONDITION lives in the
 * device only until its next command, so, as the reference's sd does
 * (tagged queuing needs auto request sense), the device then gets one
 * command at a time: the REQUEST SENSE always follows its command.
 *
 * Threading: the bdev may be used from any loop; all the work runs on the
 * bus's loop (posted there) and completions go back to io->loop.  Attach
 * probes synchronously with polled packets, from any thread but the
 * bus's loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/scsa.h>

#define SD_TIMEOUT_S 30
#define SD_BDEV_MAX_XFER (8u << 20)
#define SD_PROBE_TRIES 8
#define SD_RQS_LEN 252		/* REQUEST SENSE allocation length */

/* What a completion does next. */
enum sd_act {
	SD_OK = 0,		/* this window is done */
	SD_RETRY,		/* resubmit now (bounded by retries) */
	SD_RETRY_DELAY,		/* resubmit after busy_delay_ms (bounded by
				 * busy_retries) */
	SD_FAIL,		/* finish with err */
};

/*
 * How a CHECK CONDITION is judged, first match wins (asc_ascq -1: any).
 * Sources: SPC-4 sense keys; the reference's completion example retries
 * unit attentions and aborted commands and fails hard errors.
 */
static const struct sd_sense_rule {
	uint8_t key;
	int32_t asc_ascq;
	enum sd_act act;
	int err;
	const char *why;
} sd_sense_rules[] = {
	{SCSI_SK_NO_SENSE, -1, SD_RETRY, -EIO,
	 "CHECK CONDITION whose sense was lost (another command ran first)"},
	{SCSI_SK_RECOVERED_ERROR, -1, SD_OK, 0, "the device recovered"},
	{SCSI_SK_NOT_READY, 0x0401, SD_RETRY_DELAY, -EIO, "becoming ready"},
	{SCSI_SK_NOT_READY, 0x3a00, SD_FAIL, -ENOMEDIUM, "no medium"},
	{SCSI_SK_NOT_READY, -1, SD_FAIL, -EIO, "not ready"},
	{SCSI_SK_MEDIUM_ERROR, -1, SD_FAIL, -EIO, "medium error"},
	{SCSI_SK_HARDWARE_ERROR, -1, SD_FAIL, -EIO, "hardware error"},
	{SCSI_SK_ILLEGAL_REQUEST, -1, SD_FAIL, -EINVAL, "illegal request"},
	{SCSI_SK_UNIT_ATTENTION, -1, SD_RETRY, -EIO, "unit attention"},
	{SCSI_SK_DATA_PROTECT, -1, SD_FAIL, -EROFS, "write protected"},
	{SCSI_SK_ABORTED_COMMAND, -1, SD_RETRY, -EIO, "aborted command"},
};

struct sd_req;

/* A FIFO of requests. */
struct sd_list {
	struct sd_req *head, *tail;
};

struct scsa_sd {
	struct scsa_hba *hba;
	struct scsa_address ap;
	struct ev_loop *loop;	/* the bus's */
	char name[64];
	struct scsa_sd_params p;
	uint32_t lbsize;
	uint64_t nblocks;
	size_t dma;		/* the HBA's window, a multiple of lbsize */
	unsigned throttle;	/* commands at once (0: no limit) */
	unsigned active;	/* requests holding a packet */
	/* Requests waiting for a packet or a mapping, in order. */
	struct sd_list wait;
	/* The REQUEST SENSE packet (auto request sense off) and the
	 * requests waiting for it. */
	struct scsa_buf *rqs_bp;
	struct scsa_pkt *rqs_pkt;
	struct sd_req *rqs_owner;
	struct sd_list rqs_wait;
	/* Counters (written on the bus's loop, read anywhere). */
	uint64_t n_busy, n_retry, n_rqs, n_windows, n_waits;
};

/* One bdev_io in progress. */
struct sd_req {
	struct scsa_sd *sd;
	struct bdev_io *io;
	struct scsa_buf buf;
	uint8_t *flat;		/* gather buffer when the io has iovecs */
	struct scsa_pkt *pkt;
	uint64_t done;		/* bytes of finished windows */
	size_t win;		/* bytes of the window in flight */
	unsigned busy, retries;
	struct ev_timer *timer;
	struct sd_req *next;	/* wait list / rqs list */
};

static void sd_list_push(struct sd_list *l, struct sd_req *r)
{
	r->next = NULL;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
}

static struct sd_req *sd_list_pop(struct sd_list *l)
{
	struct sd_req *r = l->head;

	if (r) {
		l->head = r->next;
		if (!l->head)
			l->tail = NULL;
	}
	return r;
}

/* Back at the head (it could not start after all). */
static void sd_list_unpop(struct sd_list *l, struct sd_req *r)
{
	r->next = l->head;
	l->head = r;
	if (!l->tail)
		l->tail = r;
}

static void sd_count(uint64_t *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

static uint64_t sd_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* ---- finishing ---- */

static int sd_drain(struct scsa_sd *sd);

static void sd_req_finish(struct sd_req *r, int err)
{
	struct bdev_io *io = r->io;
	struct scsa_sd *sd = r->sd;

	if (r->pkt)
		scsa_destroy_pkt(r->pkt);	/* syncs a read's last window */
	if (r->flat && err == 0 && io->type == BDEV_IO_READ) {
		uint64_t off = 0;

		for (int i = 0; i < io->iovcnt; i++) {
			memcpy(io->iov[i].iov_base, r->flat + off,
			       io->iov[i].iov_len);
			off += io->iov[i].iov_len;
		}
	}
	free(r->flat);
	free(r);
	if (io->loop == sd->loop && ev_loop_in_thread(sd->loop))
		bdev_io_complete(io, err);
	else
		bdev_io_complete_remote(io, err);
	sd->active--;
	sd_drain(sd);
}

/* ---- commands ---- */

/* The CDB of the window at r->done (READ/WRITE 10, or 16 when the LBA or
 * the length does not fit), or SYNCHRONIZE CACHE. */
static void sd_build_cdb(struct sd_req *r)
{
	struct scsa_sd *sd = r->sd;
	struct scsa_pkt *pkt = r->pkt;
	uint8_t *cdb = pkt->pkt_cdbp;
	bool rd = r->io->type == BDEV_IO_READ;

	memset(cdb, 0, 16);
	if (r->io->type == BDEV_IO_FLUSH) {
		cdb[0] = SCSI_SYNCHRONIZE_CACHE_10;
	} else {
		uint64_t lba = (r->io->offset + r->done) / sd->lbsize;
		uint32_t blocks = (uint32_t)(r->win / sd->lbsize);

		scsi_cdb_rw(cdb, rd, lba, blocks,
			    !rd && (r->io->flags & BDEV_IO_FUA));
	}
	pkt->pkt_flags = r->io->type == BDEV_IO_FLUSH ? FLAG_OTAG : FLAG_STAG;
	pkt->pkt_time = SD_TIMEOUT_S;
}

static void sd_transport(struct sd_req *r)
{
	int rc = scsa_transport(r->pkt);

	if (rc == TRAN_ACCEPT)
		return;
	log_warn("sd %s: transport refused (%d)", r->sd->name, rc);
	sd_req_finish(r, -EIO);
}

static void sd_comp(struct scsa_pkt *pkt);
static int sd_res_cb(void *arg);

/* Allocate r's packet and map its first window: true when started, false
 * when resources are short (the HBA will call sd_res_cb). */
static bool sd_start(struct sd_req *r)
{
	struct scsa_sd *sd = r->sd;
	struct scsa_buf *bp = r->io->type == BDEV_IO_FLUSH ? NULL : &r->buf;

	r->pkt = scsa_init_pkt(&sd->ap, NULL, bp, 16,
			       sizeof(struct scsa_arq_status), sizeof(r),
			       PKT_DMA_PARTIAL, sd_res_cb, sd);
	if (!r->pkt)
		return false;
	sd->active++;
	memcpy(r->pkt->pkt_private, &r, sizeof(r));
	r->pkt->pkt_comp = sd_comp;
	r->win = bp ? bp->b_bcount - r->pkt->pkt_resid : 0;
	if (r->win % sd->lbsize) {
		sd_req_finish(r, -EIO);
		return true;
	}
	sd_count(&sd->n_windows);
	sd_build_cdb(r);
	sd_transport(r);
	return true;
}

static bool sd_throttled(const struct scsa_sd *sd)
{
	return sd->throttle && sd->active >= sd->throttle;
}

/* Start what waits, in order, as far as the throttle and the resources
 * let; 1 when nothing is left waiting. */
static int sd_drain(struct scsa_sd *sd)
{
	while (sd->wait.head) {
		struct sd_req *r;

		/* Throttled: the next finish drains again. */
		if (sd_throttled(sd))
			return 0;
		/* Off the list first: starting may finish (and free) r and
		 * drain again from inside. */
		r = sd_list_pop(&sd->wait);
		if (!sd_start(r)) {
			/* Short: the HBA calls sd_res_cb at the next
			 * release. */
			sd_list_unpop(&sd->wait, r);
			return 0;
		}
	}
	return 1;
}

static int sd_res_cb(void *arg)
{
	return sd_drain(arg);
}

static void sd_queue_or_start(struct sd_req *r)
{
	struct scsa_sd *sd = r->sd;

	/* Behind others that wait, to keep the order; their shortage
	 * registered sd_res_cb already, and so did ours if we tried. */
	if (!sd->wait.head && !sd_throttled(sd) && sd_start(r))
		return;
	sd_count(&sd->n_waits);
	sd_list_push(&sd->wait, r);
}

/* The next window, or the end. */
static void sd_window_done(struct sd_req *r)
{
	struct scsa_sd *sd = r->sd;
	size_t total = r->io->type == BDEV_IO_FLUSH ? 0 : r->buf.b_bcount;

	if (r->io->type == BDEV_IO_READ)
		scsa_sync_pkt(r->pkt);	/* the window's data to the buffer */
	r->done += r->win;
	if (r->done >= total) {
		sd_req_finish(r, 0);
		return;
	}
	/* Next window: the packet keeps the bytes it holds, no shortage. */
	if (!scsa_init_pkt(&sd->ap, r->pkt, &r->buf, 0, 0, 0,
			   PKT_DMA_PARTIAL, NULL_FUNC, NULL)) {
		sd_req_finish(r, -EIO);
		return;
	}
	r->win = total - r->done - r->pkt->pkt_resid;
	if (r->win == 0 || r->win % sd->lbsize) {
		sd_req_finish(r, -EIO);
		return;
	}
	r->busy = r->retries = 0;
	sd_count(&sd->n_windows);
	sd_build_cdb(r);
	sd_transport(r);
}

static void sd_delay_fire(struct ev_timer *t, void *arg)
{
	struct sd_req *r = arg;

	ev_timer_del(t);
	r->timer = NULL;
	sd_transport(r);
}

/* Act on a decision. */
static void sd_act(struct sd_req *r, enum sd_act act, int err,
		   const char *why)
{
	struct scsa_sd *sd = r->sd;

	switch (act) {
	case SD_OK:
		sd_window_done(r);
		return;
	case SD_RETRY:
		if (++r->retries > sd->p.retries)
			break;
		sd_count(&sd->n_retry);
		sk_trace(SK_TRACE_XPT, "sd %s: %s, retry %u", sd->name, why,
			 r->retries);
		sd_transport(r);
		return;
	case SD_RETRY_DELAY:
		if (++r->busy > sd->p.busy_retries)
			break;
		sd_count(&sd->n_busy);
		r->timer = ev_timer_add(sd->loop, sd->p.busy_delay_ms, false,
					sd_delay_fire, r);
		if (!r->timer)
			sd_transport(r);
		return;
	case SD_FAIL:
		break;
	}
	log_warn("sd %s: %s: giving up (%s)", sd->name, why,
		 strerror(-err));
	sd_req_finish(r, err);
}

static void sd_sense(struct sd_req *r, const uint8_t *sense, size_t len)
{
	struct scsi_sense s;

	if (scsi_sense_parse(sense, len, &s) < 0)
		memset(&s, 0, sizeof(s));	/* judged as lost */
	for (size_t i = 0; i < sizeof(sd_sense_rules) / sizeof(sd_sense_rules[0]);
	     i++) {
		const struct sd_sense_rule *ru = &sd_sense_rules[i];

		if (ru->key != s.key ||
		    (ru->asc_ascq >= 0 && ru->asc_ascq != s.asc_ascq))
			continue;
		sd_act(r, ru->act, ru->err, ru->why);
		return;
	}
	sd_act(r, SD_FAIL, -EIO, "sense key not handled");
}

/* ---- REQUEST SENSE (auto request sense off) ---- */

static void sd_rqs_start(struct scsa_sd *sd, struct sd_req *r)
{
	sd->rqs_owner = r;
	sd_count(&sd->n_rqs);
	memset(sd->rqs_bp->b_addr, 0, SD_RQS_LEN);
	if (scsa_transport(sd->rqs_pkt) != TRAN_ACCEPT) {
		sd->rqs_owner = NULL;
		sd_act(r, SD_RETRY, -EIO, "REQUEST SENSE not accepted");
	}
}

static void sd_rqs_get(struct sd_req *r)
{
	struct scsa_sd *sd = r->sd;

	if (!sd->rqs_owner) {
		sd_rqs_start(sd, r);
		return;
	}
	sd_list_push(&sd->rqs_wait, r);
}

static void sd_rqs_comp(struct scsa_pkt *pkt)
{
	struct scsa_sd *sd;
	struct sd_req *r, *next;

	memcpy(&sd, pkt->pkt_private, sizeof(sd));
	r = sd->rqs_owner;
	sd->rqs_owner = NULL;
	/* Hand the packet on before acting: acting may want it again. */
	next = sd_list_pop(&sd->rqs_wait);
	if (pkt->pkt_reason == CMP_CMPLT &&
	    (pkt->pkt_scbp[0] & 0x3e) == SCSI_STATUS_GOOD)
		sd_sense(r, sd->rqs_bp->b_addr, SD_RQS_LEN - pkt->pkt_resid);
	else
		sd_act(r, SD_RETRY, -EIO, "REQUEST SENSE failed");
	if (next) {
		if (!sd->rqs_owner)
			sd_rqs_start(sd, next);
		else
			sd_rqs_get(next);
	}
}

/* ---- the completion routine ---- */

static void sd_comp(struct scsa_pkt *pkt)
{
	struct sd_req *r;
	const struct scsa_arq_status *arq;

	memcpy(&r, pkt->pkt_private, sizeof(r));
	arq = (const struct scsa_arq_status *)pkt->pkt_scbp;
	switch (pkt->pkt_reason) {
	case CMP_CMPLT:
		if (scsa_sts_busy(pkt->pkt_scbp)) {
			sd_act(r, SD_RETRY_DELAY, -EBUSY, "device busy");
			return;
		}
		if (scsa_sts_chk(pkt->pkt_scbp)) {
			if (pkt->pkt_state & STATE_ARQ_DONE) {
				if (arq->sts_rqpkt_reason != CMP_CMPLT) {
					sd_act(r, SD_RETRY, -EIO,
					       "auto request sense failed");
					return;
				}
				sd_sense(r, arq->sts_sensedata,
					 SCSI_SENSE_MAX - arq->sts_rqpkt_resid);
			} else if (r->sd->rqs_pkt) {
				sd_rqs_get(r);
			} else {
				sd_act(r, SD_RETRY, -EIO,
				       "CHECK CONDITION without sense");
			}
			return;
		}
		if ((pkt->pkt_scbp[0] & 0x3e) != SCSI_STATUS_GOOD) {
			sd_act(r, SD_FAIL, -EIO, "unexpected status");
			return;
		}
		if (pkt->pkt_resid) {
			sd_act(r, SD_FAIL, -EIO, "short transfer");
			return;
		}
		sd_window_done(r);
		return;
	case CMP_INCOMPLETE:
	case CMP_DEV_GONE:
		sd_act(r, SD_FAIL, -ENXIO, scsa_reason_name(pkt->pkt_reason));
		return;
	default:
		/* Transport trouble: the reference resubmits unchanged. */
		sd_act(r, SD_RETRY, -EIO, scsa_reason_name(pkt->pkt_reason));
		return;
	}
}

/* ---- the bdev ---- */

static void sd_submit_posted(void *arg)
{
	sd_queue_or_start(arg);
}

static int sd_submit(struct bdev *bd, struct bdev_io *io)
{
	struct scsa_sd *sd = bdev_priv(bd);
	struct sd_req *r;

	if (io->type != BDEV_IO_READ && io->type != BDEV_IO_WRITE &&
	    io->type != BDEV_IO_FLUSH)
		return -ENOTSUP;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->sd = sd;
	r->io = io;
	if (io->type != BDEV_IO_FLUSH) {
		r->buf.b_flags = io->type == BDEV_IO_READ ? B_READ : B_WRITE;
		r->buf.b_bcount = io->length;
		if (io->iovcnt == 1 && io->iov[0].iov_len == io->length) {
			r->buf.b_addr = io->iov[0].iov_base;
		} else {
			uint64_t off = 0;

			r->flat = malloc(io->length ? io->length : 1);
			if (!r->flat) {
				free(r);
				return -ENOMEM;
			}
			for (int i = 0; i < io->iovcnt &&
					io->type == BDEV_IO_WRITE; i++) {
				memcpy(r->flat + off, io->iov[i].iov_base,
				       io->iov[i].iov_len);
				off += io->iov[i].iov_len;
			}
			r->buf.b_addr = r->flat;
		}
	}
	if (ev_loop_post(sd->loop, sd_submit_posted, r) < 0) {
		free(r->flat);
		free(r);
		return -ENOMEM;
	}
	return 0;
}

static void sd_free(struct scsa_sd *sd)
{
	if (sd->rqs_pkt)
		scsa_destroy_pkt(sd->rqs_pkt);
	if (sd->rqs_bp)
		scsa_free_consistent_buf(sd->rqs_bp);
	scsa_hba_detach(sd->hba);
	free(sd);
}

static void sd_destroy(struct bdev *bd)
{
	sd_free(bdev_priv(bd));
}

static void sd_describe(struct bdev *bd, char *buf, size_t len)
{
	struct scsa_sd *sd = bdev_priv(bd);

	snprintf(buf, len,
		 "scsa:%u:%u:%llu lbsize=%u dma=%zu arq=%s busy=%llu "
		 "retries=%llu rqs=%llu windows=%llu waits=%llu",
		 sd->p.path_id, sd->ap.a_target,
		 (unsigned long long)sd->ap.a_lun, sd->lbsize, sd->dma,
		 sd->p.no_arq ? "off" : "on",
		 (unsigned long long)sd_read(&sd->n_busy),
		 (unsigned long long)sd_read(&sd->n_retry),
		 (unsigned long long)sd_read(&sd->n_rqs),
		 (unsigned long long)sd_read(&sd->n_windows),
		 (unsigned long long)sd_read(&sd->n_waits));
}

static const struct bdev_ops sd_bdev_ops = {
	.name = "sd",
	.submit = sd_submit,
	.destroy = sd_destroy,
	.describe = sd_describe,
};

/* ---- attach: a polled probe ---- */

/* Run one polled command with the completion rules above (busy, sense,
 * transport retries); 0 or -errno.  *got: bytes read. */
static int sd_probe_cmd(struct scsa_sd *sd, const uint8_t *cdb, int cdblen,
			void *data, size_t dlen, size_t *got)
{
	struct scsa_buf b = {.b_flags = B_READ, .b_addr = data,
			     .b_bcount = dlen};
	struct scsa_pkt *pkt;
	int err = -EIO;

	pkt = scsa_init_pkt(&sd->ap, NULL, dlen ? &b : NULL, cdblen,
			    sizeof(struct scsa_arq_status), 0, 0, SLEEP_FUNC,
			    NULL);
	if (!pkt)
		return -ENOMEM;
	for (int i = 0; i < SD_PROBE_TRIES; i++) {
		const struct scsa_arq_status *arq =
			(const struct scsa_arq_status *)pkt->pkt_scbp;
		uint8_t sense[SD_RQS_LEN];
		size_t slen = 0;
		struct scsi_sense s;

		memcpy(pkt->pkt_cdbp, cdb, (size_t)cdblen);
		pkt->pkt_flags = FLAG_NOINTR;
		pkt->pkt_time = SD_TIMEOUT_S;
		if (scsa_transport(pkt) != TRAN_ACCEPT)
			break;
		if (pkt->pkt_reason == CMP_INCOMPLETE ||
		    pkt->pkt_reason == CMP_DEV_GONE) {
			err = -ENXIO;
			break;
		}
		if (pkt->pkt_reason != CMP_CMPLT)
			continue;	/* transport trouble: again */
		if ((pkt->pkt_scbp[0] & 0x3e) == SCSI_STATUS_GOOD) {
			scsa_sync_pkt(pkt);
			*got = dlen - pkt->pkt_resid;
			err = 0;
			break;
		}
		if (!scsa_sts_chk(pkt->pkt_scbp)) {
			usleep(sd->p.busy_delay_ms * 1000u); /* busy */
			continue;
		}
		if (pkt->pkt_state & STATE_ARQ_DONE) {
			memcpy(sense, arq->sts_sensedata, sizeof(sense));
			slen = SCSI_SENSE_MAX - arq->sts_rqpkt_resid;
		} else if (sd->rqs_pkt) {
			sd->rqs_pkt->pkt_flags = FLAG_NOINTR;
			if (scsa_transport(sd->rqs_pkt) == TRAN_ACCEPT &&
			    sd->rqs_pkt->pkt_reason == CMP_CMPLT) {
				slen = SD_RQS_LEN - sd->rqs_pkt->pkt_resid;
				memcpy(sense, sd->rqs_bp->b_addr, slen);
			}
			sd->rqs_pkt->pkt_flags = FLAG_HTAG;
		}
		if (slen && scsi_sense_parse(sense, slen, &s) == 0 &&
		    s.key == SCSI_SK_ILLEGAL_REQUEST) {
			err = -EINVAL;
			break;
		}
		/* Unit attentions and the like: again. */
	}
	scsa_destroy_pkt(pkt);
	return err;
}

static int sd_probe(struct scsa_sd *sd)
{
	uint8_t cdb[16] = {0}, buf[32];
	size_t got = 0;
	int err;

	cdb[0] = SCSI_TEST_UNIT_READY;
	err = sd_probe_cmd(sd, cdb, 6, NULL, 0, &got);
	if (err < 0)
		return err;
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = SCSI_SERVICE_ACTION_IN_16;
	cdb[1] = SCSI_SAI_READ_CAPACITY_16;
	scsi_put32(&cdb[10], 32);
	memset(buf, 0, sizeof(buf));
	err = sd_probe_cmd(sd, cdb, 16, buf, 32, &got);
	if (err == 0 && got >= 12) {
		sd->nblocks = scsi_get64(buf) + 1;
		sd->lbsize = scsi_get32(&buf[8]);
	} else if (err == -EINVAL) {
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = SCSI_READ_CAPACITY_10;
		memset(buf, 0, sizeof(buf));
		err = sd_probe_cmd(sd, cdb, 10, buf, 8, &got);
		if (err == 0 && got < 8)
			err = -EIO;
		if (err == 0) {
			sd->nblocks = (uint64_t)scsi_get32(buf) + 1;
			sd->lbsize = scsi_get32(&buf[4]);
		}
	} else if (err == 0) {
		err = -EIO;
	}
	if (err == 0 && (sd->lbsize == 0 || (sd->lbsize & (sd->lbsize - 1)) ||
			 sd->lbsize > (1u << 16)))
		err = -EIO;
	return err;
}

struct bdev *scsa_sd_attach(const struct scsa_sd_params *p, const char *name,
			    int *errp)
{
	struct scsa_hba_limits lim = {0};
	struct scsa_sd *sd;
	struct bdev_geometry geo;
	struct bdev *bd;
	int err = -ENOMEM;

	if (!p || !name || !*name) {
		err = -EINVAL;
		goto out;
	}
	sd = calloc(1, sizeof(*sd));
	if (!sd)
		goto out;
	sd->p = *p;
	if (!sd->p.busy_retries)
		sd->p.busy_retries = 30;
	if (!sd->p.busy_delay_ms)
		sd->p.busy_delay_ms = 20;
	if (!sd->p.retries)
		sd->p.retries = 5;
	snprintf(sd->name, sizeof(sd->name), "%s", name);
	sd->loop = xpt_bus_loop(p->path_id);
	if (!sd->loop || ev_loop_in_thread(sd->loop)) {
		err = sd->loop ? -EDEADLK : -ENODEV;
		free(sd);
		goto out;
	}
	lim.dma_max = p->dma_max;
	sd->hba = scsa_hba_attach(p->path_id, &lim);
	if (!sd->hba) {
		err = -ENODEV;
		free(sd);
		goto out;
	}
	sd->ap = (struct scsa_address){sd->hba, p->target, p->lun};
	if (p->no_arq) {
		/* The driver's own REQUEST SENSE packet (consistent: the
		 * sense is there when its completion runs). */
		scsa_ifsetcap(&sd->ap, "auto-rqsense", 0);
		scsa_ifsetcap(&sd->ap, "tagged-qing", 0);
		sd->throttle = 1;
		sd->rqs_bp = scsa_alloc_consistent_buf(&sd->ap, NULL,
						       SD_RQS_LEN, B_READ,
						       SLEEP_FUNC, NULL);
		if (sd->rqs_bp)
			sd->rqs_pkt = scsa_init_pkt(&sd->ap, NULL, sd->rqs_bp,
						    6, 1, sizeof(sd),
						    PKT_CONSISTENT, SLEEP_FUNC,
						    NULL);
		if (!sd->rqs_pkt)
			goto out_free;
		sd->rqs_pkt->pkt_cdbp[0] = SCSI_REQUEST_SENSE;
		sd->rqs_pkt->pkt_cdbp[4] = SD_RQS_LEN;
		sd->rqs_pkt->pkt_comp = sd_rqs_comp;
		sd->rqs_pkt->pkt_flags = FLAG_HTAG;
		sd->rqs_pkt->pkt_time = SD_TIMEOUT_S;
		memcpy(sd->rqs_pkt->pkt_private, &sd, sizeof(sd));
	}
	err = sd_probe(sd);
	if (err < 0)
		goto out_free;
	sd->dma = (size_t)scsa_ifgetcap(&sd->ap, "dma-max");
	sd->dma -= sd->dma % sd->lbsize;
	if (sd->dma == 0) {
		err = -EIO;	/* a window smaller than a block */
		goto out_free;
	}
	memset(&geo, 0, sizeof(geo));
	geo.size = sd->nblocks * sd->lbsize;
	geo.lbsize = sd->lbsize;
	geo.pbsize = sd->lbsize;
	geo.max_xfer = SD_BDEV_MAX_XFER;
	geo.volatile_cache = true;
	geo.multi_conn_safe = true;
	bd = bdev_alloc(&sd_bdev_ops, sd->name, &geo, sd);
	if (!bd)
		goto out_free;
	return bd;

out_free:
	sd_free(sd);
out:
	if (errp)
		*errp = err;
	return NULL;
}
