/*
 * The da peripheral: a SCSI direct-access device on a CAM path, presented
 * as a bdev, so that the target engine, the NBD server or anything else
 * that takes a bdev can sit on a disk reached through CAM.
 *
 * Probe: TEST UNIT READY (unit attentions retried by cam_periph_error),
 * READ CAPACITY(16) -- READ CAPACITY(10) when the device refuses the
 * former -- and the path inquiry for the largest transfer.
 *
 * Block I/O: READ/WRITE(10), or (16) when the LBA or the length does not
 * fit; FUA becomes the FUA bit; FLUSH becomes SYNCHRONIZE CACHE(10);
 * DISCARD becomes UNMAP (only when READ CAPACITY(16) says the LUN is
 * thin-provisioned).  An I/O larger than the device's maximum transfer is
 * split and its pieces run one after the other.
 *
 * Threading: the bdev may be used from any loop; work runs on the bus's
 * loop (posted there when submitted elsewhere) and the completion goes
 * back to io->loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "cam/xpt_internal.h"

#define DA_TIMEOUT_MS 30000
#define DA_DEFAULT_MAXIO (64u * 1024)
#define DA_BDEV_MAX_XFER (8u << 20)

enum da_probe_state {
	DA_PROBE_TUR = 1,
	DA_PROBE_RC16 = 2,
	DA_PROBE_RC10 = 3,
};

struct cam_da {
	uint32_t path_id, target;
	uint64_t lun;
	struct ev_loop *loop;	/* the bus's loop */
	char name[64];
	uint32_t lbsize, pbsize;
	uint64_t nblocks;
	uint32_t maxio;		/* bytes, a multiple of lbsize */
	bool thin;
	/* probe */
	enum da_probe_state pstate;
	union ccb pccb;
	uint8_t pbuf[32];
	cam_da_probe_cb pcb;
	void *parg;
};

/* One bdev_io in progress: its pieces run one CCB at a time. */
struct da_req {
	union ccb ccb;
	struct cam_da *da;
	struct bdev_io *io;
	uint64_t done;		/* bytes finished */
	uint32_t cur;		/* bytes of the piece in flight */
	struct iovec *sg;	/* iovec slice for the piece */
	int sgcap;
	uint8_t *param;		/* UNMAP parameter list */
};

static void da_start_piece(struct da_req *r);

static void da_req_finish(struct da_req *r, int err)
{
	struct bdev_io *io = r->io;
	struct cam_da *da = r->da;

	free(r->sg);
	free(r->param);
	free(r);
	if (io->loop == da->loop && ev_loop_in_thread(da->loop))
		bdev_io_complete(io, err);
	else
		bdev_io_complete_remote(io, err);
}

static void da_ccb_done(union ccb *ccb)
{
	struct da_req *r = (struct da_req *)ccb;
	int err = cam_periph_error(ccb);

	if (err == CAM_PERIPH_RETRIED)
		return;
	if (err < 0) {
		sk_trace(SK_TRACE_XPT, "da %s: %s -> %d", r->da->name,
			 cam_status_name(ccb->ccb_h.status), err);
		da_req_finish(r, err);
		return;
	}
	if (ccb->csio.resid != 0 &&
	    (r->io->type == BDEV_IO_READ || r->io->type == BDEV_IO_WRITE)) {
		/* A short transfer on a block device is an error. */
		da_req_finish(r, -EIO);
		return;
	}
	r->done += r->cur;
	if (r->done >= r->io->length || r->io->type > BDEV_IO_WRITE) {
		da_req_finish(r, 0);
		return;
	}
	da_start_piece(r);
}

/* The iovecs covering [off, off+len) of the I/O's buffer. */
static int da_slice(struct da_req *r, uint64_t off, uint32_t len)
{
	const struct bdev_io *io = r->io;
	int n = 0;

	if (r->sgcap < io->iovcnt) {
		free(r->sg);
		r->sg = calloc((size_t)io->iovcnt, sizeof(*r->sg));
		if (!r->sg)
			return -ENOMEM;
		r->sgcap = io->iovcnt;
	}
	for (int i = 0; i < io->iovcnt && len > 0; i++) {
		uint64_t l = io->iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		uint64_t take = l - off < len ? l - off : len;

		r->sg[n].iov_base = (uint8_t *)io->iov[i].iov_base + off;
		r->sg[n].iov_len = take;
		n++;
		len -= (uint32_t)take;
		off = 0;
	}
	return len == 0 ? n : -EINVAL;
}

static void da_start_piece(struct da_req *r)
{
	struct cam_da *da = r->da;
	struct bdev_io *io = r->io;
	union ccb *ccb = &r->ccb;
	uint8_t cdb[16] = {0};
	uint8_t cdb_len = 10;
	uint32_t flags = CAM_DIR_NONE, dlen = 0;
	void *data = NULL;

	xpt_setup_ccb(&ccb->ccb_h, da->path_id, da->target, da->lun,
		      XPT_SCSI_IO);
	switch (io->type) {
	case BDEV_IO_READ:
	case BDEV_IO_WRITE: {
		uint64_t left = io->length - r->done;
		uint32_t len = left > da->maxio ? da->maxio : (uint32_t)left;
		uint64_t lba = (io->offset + r->done) / da->lbsize;
		uint32_t blocks = len / da->lbsize;
		bool rd = io->type == BDEV_IO_READ;
		int n = da_slice(r, r->done, len);

		if (n < 0) {
			da_req_finish(r, n);
			return;
		}
		r->cur = len;
		cdb_len = scsi_cdb_rw(cdb, rd, lba, blocks,
				      !rd && (io->flags & BDEV_IO_FUA));
		flags = (rd ? CAM_DIR_IN : CAM_DIR_OUT) | CAM_SCATTER_VALID;
		data = r->sg;
		dlen = len;
		cam_fill_csio(&ccb->csio, da_ccb_done, flags, MSG_SIMPLE_Q_TAG,
			      data, dlen, SCSI_SENSE_FIXED_LEN + 14, cdb,
			      cdb_len, DA_TIMEOUT_MS);
		ccb->csio.sglist_cnt = (uint16_t)n;
		break;
	}
	case BDEV_IO_FLUSH:
		cdb[0] = SCSI_SYNCHRONIZE_CACHE_10;
		r->cur = 0;
		cam_fill_csio(&ccb->csio, da_ccb_done, CAM_DIR_NONE,
			      MSG_ORDERED_Q_TAG, NULL, 0,
			      SCSI_SENSE_FIXED_LEN + 14, cdb, 10,
			      DA_TIMEOUT_MS);
		break;
	case BDEV_IO_DISCARD: {
		uint64_t lba = io->offset / da->lbsize;
		uint64_t blocks = io->length / da->lbsize;
		uint32_t ndesc = (uint32_t)((blocks + 0xfffffffeull) /
					    0xffffffffull);

		if (ndesc == 0)
			ndesc = 1;
		dlen = 8 + 16 * ndesc;
		r->param = calloc(1, dlen);
		if (!r->param || dlen > 0xffff) {
			da_req_finish(r, -ENOMEM);
			return;
		}
		scsi_put16(&r->param[0], (uint16_t)(dlen - 2));
		scsi_put16(&r->param[2], (uint16_t)(16 * ndesc));
		for (uint32_t i = 0; i < ndesc; i++) {
			uint64_t b = blocks > 0xffffffffull ? 0xffffffffull
							   : blocks;

			scsi_put64(&r->param[8 + 16 * i], lba);
			scsi_put32(&r->param[8 + 16 * i + 8], (uint32_t)b);
			lba += b;
			blocks -= b;
		}
		cdb[0] = SCSI_UNMAP;
		scsi_put16(&cdb[7], (uint16_t)dlen);
		r->cur = (uint32_t)(io->length > UINT32_MAX ? 0 : io->length);
		cam_fill_csio(&ccb->csio, da_ccb_done, CAM_DIR_OUT,
			      MSG_SIMPLE_Q_TAG, r->param, dlen,
			      SCSI_SENSE_FIXED_LEN + 14, cdb, 10,
			      DA_TIMEOUT_MS);
		break;
	}
	default:
		da_req_finish(r, -ENOTSUP);
		return;
	}
	ccb->ccb_h.retry_count = CAM_RETRY_DEFAULT;
	xpt_action(ccb);
}

static void da_start_posted(void *arg)
{
	da_start_piece(arg);
}

static int da_submit(struct bdev *bd, struct bdev_io *io)
{
	struct cam_da *da = bdev_priv(bd);
	struct da_req *r;

	if (io->type == BDEV_IO_WRITE_ZEROES)
		return -ENOTSUP;
	if (io->type == BDEV_IO_DISCARD && !da->thin)
		return -ENOTSUP;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->da = da;
	r->io = io;
	if (ev_loop_in_thread(da->loop)) {
		/* CCB completions are deferred, so the bdev callback can never
		 * run inside this call. */
		da_start_piece(r);
		return 0;
	}
	if (ev_loop_post(da->loop, da_start_posted, r) < 0) {
		free(r);
		return -ENOMEM;
	}
	return 0;
}

static void da_destroy(struct bdev *bd)
{
	free(bdev_priv(bd));
}

static void da_describe(struct bdev *bd, char *buf, size_t len)
{
	struct cam_da *da = bdev_priv(bd);

	snprintf(buf, len, "cam:%u:%u:%llu lbsize=%u maxio=%u%s", da->path_id,
		 da->target, (unsigned long long)da->lun, da->lbsize,
		 da->maxio, da->thin ? " thin" : "");
}

static const struct bdev_ops da_bdev_ops = {
	.name = "da",
	.submit = da_submit,
	.destroy = da_destroy,
	.describe = da_describe,
};

/* ---- probe ---- */

static void da_probe_finish(struct cam_da *da, int err)
{
	cam_da_probe_cb cb = da->pcb;
	void *arg = da->parg;
	struct bdev_geometry geo;
	struct bdev *bd;
	union ccb cpi;

	if (err == 0 && (da->lbsize == 0 || (da->lbsize & (da->lbsize - 1)) ||
			 da->nblocks == 0))
		err = -EIO;
	if (err < 0) {
		free(da);
		cb(NULL, err, arg);
		return;
	}
	memset(&cpi, 0, sizeof(cpi));
	xpt_setup_ccb(&cpi.ccb_h, da->path_id, da->target, da->lun,
		      XPT_PATH_INQ);
	xpt_action(&cpi);
	da->maxio = DA_DEFAULT_MAXIO;
	if (cam_ccb_status(cpi.ccb_h.status) == CAM_REQ_CMP && cpi.cpi.maxio)
		da->maxio = cpi.cpi.maxio;
	if (da->maxio < da->lbsize)
		da->maxio = da->lbsize;
	da->maxio -= da->maxio % da->lbsize;
	if (da->maxio > (64u << 20))
		da->maxio = 64u << 20;
	memset(&geo, 0, sizeof(geo));
	geo.size = da->nblocks * da->lbsize;
	geo.lbsize = da->lbsize;
	geo.pbsize = da->pbsize;
	/* Consumers may send more than the device takes at once: da splits
	 * at maxio itself. */
	geo.max_xfer = da->maxio > DA_BDEV_MAX_XFER ? da->maxio
						    : DA_BDEV_MAX_XFER;
	geo.opt_xfer = da->pbsize > da->lbsize ? da->pbsize : 0;
	geo.can_discard = da->thin;
	geo.volatile_cache = true;
	geo.multi_conn_safe = true;
	bd = bdev_alloc(&da_bdev_ops, da->name, &geo, da);
	if (!bd) {
		free(da);
		cb(NULL, -ENOMEM, arg);
		return;
	}
	sk_trace(SK_TRACE_PROBE, "da %s: %llu blocks of %u", da->name,
		 (unsigned long long)da->nblocks, da->lbsize);
	cb(bd, 0, arg);
}

static void da_probe_issue(struct cam_da *da);

static void da_probe_done(union ccb *ccb)
{
	struct cam_da *da = ccb->ccb_h.periph_priv[0];
	int err = cam_periph_error(ccb);
	uint32_t got = ccb->csio.dxfer_len - ccb->csio.resid;

	if (err == CAM_PERIPH_RETRIED)
		return;
	switch (da->pstate) {
	case DA_PROBE_TUR:
		if (err < 0) {
			da_probe_finish(da, err);
			return;
		}
		da->pstate = DA_PROBE_RC16;
		break;
	case DA_PROBE_RC16:
		if (err == -EINVAL) {
			da->pstate = DA_PROBE_RC10;
			break;
		}
		if (err < 0 || got < 12) {
			da_probe_finish(da, err < 0 ? err : -EIO);
			return;
		}
		da->nblocks = scsi_get64(da->pbuf) + 1;
		da->lbsize = scsi_get32(&da->pbuf[8]);
		da->pbsize = da->lbsize;
		if (got >= 15) {
			da->pbsize = da->lbsize << (da->pbuf[13] & 0x0f);
			da->thin = da->pbuf[14] & 0x80;
		}
		da_probe_finish(da, 0);
		return;
	case DA_PROBE_RC10:
		if (err < 0 || got < 8) {
			da_probe_finish(da, err < 0 ? err : -EIO);
			return;
		}
		da->nblocks = (uint64_t)scsi_get32(da->pbuf) + 1;
		da->lbsize = scsi_get32(&da->pbuf[4]);
		da->pbsize = da->lbsize;
		da_probe_finish(da, 0);
		return;
	}
	da_probe_issue(da);
}

static void da_probe_issue(struct cam_da *da)
{
	union ccb *ccb = &da->pccb;
	uint8_t cdb[16] = {0};
	uint8_t len = 6;
	uint32_t dlen = 0, flags = CAM_DIR_NONE;

	switch (da->pstate) {
	case DA_PROBE_TUR:
		cdb[0] = SCSI_TEST_UNIT_READY;
		break;
	case DA_PROBE_RC16:
		cdb[0] = SCSI_SERVICE_ACTION_IN_16;
		cdb[1] = SCSI_SAI_READ_CAPACITY_16;
		scsi_put32(&cdb[10], 32);
		len = 16;
		dlen = 32;
		flags = CAM_DIR_IN;
		break;
	case DA_PROBE_RC10:
		cdb[0] = SCSI_READ_CAPACITY_10;
		len = 10;
		dlen = 8;
		flags = CAM_DIR_IN;
		break;
	}
	memset(da->pbuf, 0, sizeof(da->pbuf));
	xpt_setup_ccb(&ccb->ccb_h, da->path_id, da->target, da->lun,
		      XPT_SCSI_IO);
	cam_fill_csio(&ccb->csio, da_probe_done, flags, MSG_SIMPLE_Q_TAG,
		      dlen ? da->pbuf : NULL, dlen, SCSI_SENSE_FIXED_LEN + 14,
		      cdb, len, DA_TIMEOUT_MS);
	ccb->ccb_h.retry_count = CAM_RETRY_DEFAULT;
	ccb->ccb_h.periph_priv[0] = da;
	xpt_action(ccb);
}

int cam_da_probe(uint32_t path_id, uint32_t target, uint64_t lun,
		 const char *name, cam_da_probe_cb cb, void *arg)
{
	struct cam_eb *eb = xpt_bus_find(path_id);
	struct cam_da *da;

	if (!eb || !cb)
		return -ENODEV;
	if (target == CAM_TARGET_WILDCARD || lun == CAM_LUN_WILDCARD)
		return -EINVAL;
	da = calloc(1, sizeof(*da));
	if (!da)
		return -ENOMEM;
	da->path_id = path_id;
	da->target = target;
	da->lun = lun;
	da->loop = eb->loop;
	if (name && *name)
		snprintf(da->name, sizeof(da->name), "%s", name);
	else
		snprintf(da->name, sizeof(da->name), "da%u.%u.%llu", path_id,
			 target, (unsigned long long)lun);
	da->pcb = cb;
	da->parg = arg;
	da->pstate = DA_PROBE_TUR;
	da_probe_issue(da);
	return 0;
}
