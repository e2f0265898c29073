/*
 * Third-party copy (SPC-4 6.4, 6.18, 7.8.17): EXTENDED COPY (LID1) with
 * block-to-block segment descriptors between logical units of this daemon,
 * RECEIVE COPY RESULTS (COPY STATUS, RECEIVE DATA, OPERATING PARAMETERS,
 * FAILED SEGMENT DETAILS) and the Third-party Copy VPD page.
 *
 * The copy manager is the LUN the command was sent to.  Copy sources and
 * destinations are named by identification CSCD descriptors (E4h) that
 * carry a LUN's NAA designator (as VPD page 83h reports it); a LUN is
 * reachable only when the initiator has an I_T nexus to a target that maps
 * it (tgt_lun_find_naa), so XCOPY never reaches a disk the initiator could
 * not log in to.
 *
 * The whole parameter list is validated before any data moves.  The copy
 * then runs on the task's loop through the bdev layer, one bounded chunk
 * (TGT_XCOPY_CHUNK) read then written at a time, so memory does not grow
 * with the copy length; an abort (ABORT TASK, LU reset, nexus loss: the
 * front ends call tgt_task_abort) stops it between chunks.  Progress and
 * the final state are kept per (nexus, list identifier) on the copy
 * manager's LUN for RECEIVE COPY RESULTS.
 *
 * Not supported (and answered as the spec says): EXTENDED COPY(LID4) and
 * the token commands (INVALID FIELD IN CDB on the service action), inline
 * and embedded data, held data, stream and byte-offset segment
 * descriptors (UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE), CSCD types other
 * than E4h (UNSUPPORTED TARGET DESCRIPTOR TYPE CODE).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt_int.h"

/* ASC/ASCQ of third-party copy errors (SPC-4 annex D). */
#define ASC_COPY_TARGET_NOT_REACHABLE SCSI_ASC(0x0d, 0x02)
#define ASC_INCORRECT_COPY_TARGET_TYPE SCSI_ASC(0x0d, 0x03)
#define ASC_TOO_MANY_TARGET_DESC SCSI_ASC(0x26, 0x06)
#define ASC_UNSUPPORTED_TARGET_DESC SCSI_ASC(0x26, 0x07)
#define ASC_TOO_MANY_SEGMENT_DESC SCSI_ASC(0x26, 0x08)
#define ASC_UNSUPPORTED_SEGMENT_DESC SCSI_ASC(0x26, 0x09)
#define ASC_UNEXPECTED_INEXACT_SEGMENT SCSI_ASC(0x26, 0x0a)
#define ASC_OPERATION_IN_PROGRESS SCSI_ASC(0x00, 0x16)
#define ASC_INSUFFICIENT_RESOURCES SCSI_ASC(0x55, 0x03)

#define XC_HDR 16		/* parameter list header */
#define XC_CSCD_LEN 32		/* an identification CSCD descriptor */
#define XC_SEG_B2B_LEN 28	/* a block -> block segment descriptor */
#define XC_CSCD_IDENT 0xe4
#define XC_SEG_B2B 0x02

/* RECEIVE COPY RESULTS service actions. */
#define RCR_COPY_STATUS 0x00
#define RCR_RECEIVE_DATA 0x01
#define RCR_OPERATING_PARAMETERS 0x03
#define RCR_FAILED_SEGMENT_DETAILS 0x04

/* Copy manager states in COPY STATUS. */
#define XC_ST_RUNNING 0x00
#define XC_ST_GOOD 0x01
#define XC_ST_ERROR 0x02

/* Copies running at once in the daemon (each holds one chunk buffer). */
static _Atomic unsigned xc_running;

/*
 * What RECEIVE COPY RESULTS reports about one EXTENDED COPY whose list
 * identifier is valid (LIST ID USAGE 00b or 10b).  Kept on the copy
 * manager's LUN under lun->lock, at most TGT_XCOPY_MAX_HELD of them: the
 * oldest finished one is dropped first.
 */
struct tgt_xc_rec {
	struct tgt_xc_rec *next;
	uint64_t nexus_id;
	uint8_t list_id;
	uint8_t state;		/* XC_ST_* */
	bool status_read;	/* COPY STATUS returned the final state */
	uint16_t segs_done;
	uint64_t bytes_done;
	uint8_t sense_len;	/* FAILED SEGMENT DETAILS */
	uint8_t sense[SCSI_SENSE_MAX];
};

struct xc_seg {
	struct tgt_lun *src, *dst;
	uint64_t src_off, dst_off;	/* bytes */
	uint64_t len;			/* bytes */
	bool backward;			/* overlapping, destination above */
};

/* One running copy; lives in c->buf (freed at completion), with the
 * chunk buffer right behind it. */
struct xc_ctx {
	struct tgt_cmd *c;
	struct tgt_xc_rec *rec;	/* NULL for LIST ID USAGE 11b */
	struct tgt_lun *cscd[TGT_XCOPY_MAX_CSCD];	/* held */
	unsigned ncscd;
	struct xc_seg seg[TGT_XCOPY_MAX_SEGS];
	unsigned nseg;
	unsigned cur;		/* segment being copied */
	uint64_t pos;		/* bytes of it done */
	uint64_t chunk_off, chunk_len;
	struct bdev_io io;
	struct iovec iov;
	bool counted;		/* holds a slot of xc_running */
	uint8_t *data;		/* TGT_XCOPY_CHUNK bytes */
};

/* ------------------------------------------------------------------ */
/* Sense and records                                                   */
/* ------------------------------------------------------------------ */

static void xc_release_luns(struct xc_ctx *x)
{
	unsigned i;

	for (i = 0; i < x->ncscd; i++) {
		tgt_lun_release(x->cscd[i]);
		x->cscd[i] = NULL;
	}
	x->ncscd = 0;
	if (x->counted) {
		atomic_fetch_sub(&xc_running, 1);
		x->counted = false;
	}
}

/* Finish the copy: the record (if any) takes the outcome, then the task. */
static void xc_finish(struct xc_ctx *x, const struct scsi_sense *s,
		      uint8_t status)
{
	struct tgt_cmd *c = x->c;
	struct tgt_task *task = c->task;

	xc_release_luns(x);
	task->status = status;
	task->sense_len = 0;
	if (s != NULL) {
		task->status = SCSI_STATUS_CHECK_CONDITION;
		task->sense_len = (uint8_t)scsi_sense_build(
			s, c->descriptor_sense, task->sense,
			sizeof(task->sense));
	}
	if (x->rec != NULL) {
		pthread_mutex_lock(&c->lun->lock);
		x->rec->state = task->status == SCSI_STATUS_GOOD ? XC_ST_GOOD :
								   XC_ST_ERROR;
		x->rec->segs_done = (uint16_t)x->cur;
		memcpy(x->rec->sense, task->sense, task->sense_len);
		x->rec->sense_len = task->sense_len;
		pthread_mutex_unlock(&c->lun->lock);
	}
	if (task->status == SCSI_STATUS_GOOD)
		c->moved = c->implied;
	tgt_cmd_complete(c);
}

static void xc_sense(struct scsi_sense *s, uint8_t key, uint16_t asc)
{
	memset(s, 0, sizeof(*s));
	s->key = key;
	s->asc_ascq = asc;
	s->current = true;
}

/* ILLEGAL REQUEST for a parameter list problem, with a field pointer into
 * the parameter list (byte < 0: none). */
static void xc_fail_param(struct xc_ctx *x, uint16_t asc, int byte)
{
	struct scsi_sense s;

	xc_sense(&s, SCSI_SK_ILLEGAL_REQUEST, asc);
	if (byte >= 0)
		scsi_sense_field_pointer(&s, false, (uint16_t)byte, -1);
	xc_finish(x, &s, SCSI_STATUS_CHECK_CONDITION);
}

/* COPY ABORTED for segment seg: COMMAND-SPECIFIC INFORMATION = the
 * segments processed before it, and a segment pointer (SPC-4 4.5.2.4.5)
 * to byte of the parameter list (SD = 0). */
static void xc_fail_segment(struct xc_ctx *x, uint8_t key, uint16_t asc,
			    int byte)
{
	struct scsi_sense s;

	xc_sense(&s, key, asc);
	s.csi_valid = true;
	s.csi = x->cur;
	if (byte >= 0) {
		s.sks_valid = true;
		s.sks[0] = 0x80;	/* SKSV; SD 0: from the list start */
		scsi_put16(s.sks + 1, (uint16_t)byte);
	}
	xc_finish(x, &s, SCSI_STATUS_CHECK_CONDITION);
}

/* A backend error while copying segment x->cur. */
static void xc_fail_errno(struct xc_ctx *x, int err, bool write)
{
	struct scsi_sense s;

	switch (-err) {
	case ECANCELED:
		xc_finish(x, NULL, SCSI_STATUS_TASK_ABORTED);
		return;
	case ENOMEM:
		xc_finish(x, NULL, SCSI_STATUS_TASK_SET_FULL);
		return;
	case ENOSPC:
		xc_sense(&s, SCSI_SK_DATA_PROTECT, SCSI_ASC(0x27, 0x07));
		break;
	case EIO:
	case ENODATA:
	case EBADMSG:
		/* The copy target failed: COPY ABORTED with what it said. */
		xc_sense(&s, SCSI_SK_COPY_ABORTED,
			 write ? SCSI_ASC_WRITE_ERROR :
				 SCSI_ASC_UNRECOVERED_READ_ERROR);
		break;
	default:
		xc_sense(&s, SCSI_SK_COPY_ABORTED, SCSI_ASC(0x0d, 0x01));
		break;
	}
	s.csi_valid = true;
	s.csi = x->cur;
	xc_finish(x, &s, SCSI_STATUS_CHECK_CONDITION);
}

static struct tgt_xc_rec *rec_find(struct tgt_lun *lun, uint64_t nexus_id,
				   uint8_t list_id)
{
	struct tgt_xc_rec *r;

	for (r = lun->xc_recs; r != NULL; r = r->next)
		if (r->nexus_id == nexus_id && r->list_id == list_id)
			return r;
	return NULL;
}

static void rec_unlink(struct tgt_lun *lun, struct tgt_xc_rec *rec)
{
	struct tgt_xc_rec **pp;

	for (pp = &lun->xc_recs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == rec) {
			*pp = rec->next;
			free(rec);
			return;
		}
	}
}

/* Register a copy with list_id for nexus n (lun->lock held).  Returns the
 * record, or NULL with *busy set when that list identifier is in use by a
 * copy still running, or NULL on allocation failure. */
static struct tgt_xc_rec *rec_start(struct tgt_lun *lun, uint64_t nexus_id,
				    uint8_t list_id, bool *busy)
{
	struct tgt_xc_rec *r = rec_find(lun, nexus_id, list_id), *old = NULL;
	unsigned n = 0;

	*busy = false;
	if (r != NULL) {
		if (r->state == XC_ST_RUNNING) {
			*busy = true;
			return NULL;
		}
		/* A new copy with the same list identifier replaces what was
		 * held for the old one. */
		rec_unlink(lun, r);
	}
	for (r = lun->xc_recs; r != NULL; r = r->next) {
		n++;
		if (r->state != XC_ST_RUNNING)
			old = r;	/* the list is newest first */
	}
	if (n >= TGT_XCOPY_MAX_HELD) {
		if (old == NULL) {
			*busy = true;
			return NULL;
		}
		rec_unlink(lun, old);
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->nexus_id = nexus_id;
	r->list_id = list_id;
	r->state = XC_ST_RUNNING;
	r->next = lun->xc_recs;
	lun->xc_recs = r;
	return r;
}

void tgt_xcopy_nexus_gone(struct tgt_lun *lun, uint64_t nexus_id)
{
	struct tgt_xc_rec **pp = &lun->xc_recs, *r;

	while ((r = *pp) != NULL) {
		if (r->nexus_id == nexus_id && r->state != XC_ST_RUNNING) {
			*pp = r->next;
			free(r);
		} else {
			pp = &r->next;
		}
	}
}

unsigned tgt_xcopy_held(struct tgt_lun *lun, uint64_t nexus_id)
{
	struct tgt_xc_rec *r;
	unsigned n = 0;

	pthread_mutex_lock(&lun->lock);
	for (r = lun->xc_recs; r != NULL; r = r->next)
		n += r->nexus_id == nexus_id;
	pthread_mutex_unlock(&lun->lock);
	return n;
}

void tgt_xcopy_lun_free(struct tgt_lun *lun)
{
	while (lun->xc_recs != NULL) {
		struct tgt_xc_rec *r = lun->xc_recs;

		lun->xc_recs = r->next;
		free(r);
	}
}

/* ------------------------------------------------------------------ */
/* The copy                                                            */
/* ------------------------------------------------------------------ */

static void xc_step(struct xc_ctx *x);

static int xc_submit(struct xc_ctx *x, struct tgt_lun *lun,
		     enum bdev_io_type type, uint64_t off, bdev_io_cb cb)
{
	memset(&x->io, 0, sizeof(x->io));
	x->iov.iov_base = x->data;
	x->iov.iov_len = (size_t)x->chunk_len;
	x->io.type = type;
	if (type == BDEV_IO_WRITE &&
	    !atomic_load_explicit(&lun->wce, memory_order_relaxed))
		x->io.flags = BDEV_IO_FUA;
	x->io.offset = off;
	x->io.length = x->chunk_len;
	x->io.iov = &x->iov;
	x->io.iovcnt = 1;
	x->io.loop = x->c->task->loop;
	x->io.cb = cb;
	x->io.cb_arg = x;
	return bdev_submit(lun->bd, &x->io);
}

static void xc_write_done(struct bdev_io *io, int status, void *arg)
{
	struct xc_ctx *x = arg;
	struct tgt_cmd *c = x->c;

	(void)io;
	if (status < 0) {
		xc_fail_errno(x, status, true);
		return;
	}
	x->pos += x->chunk_len;
	if (x->rec != NULL) {
		pthread_mutex_lock(&c->lun->lock);
		x->rec->bytes_done += x->chunk_len;
		pthread_mutex_unlock(&c->lun->lock);
	}
	xc_step(x);
}

static void xc_read_done(struct bdev_io *io, int status, void *arg)
{
	struct xc_ctx *x = arg;
	const struct xc_seg *sg = &x->seg[x->cur];
	int rc;

	(void)io;
	if (status < 0) {
		xc_fail_errno(x, status, false);
		return;
	}
	if (x->c->abort_req) {
		xc_finish(x, NULL, SCSI_STATUS_TASK_ABORTED);
		return;
	}
	rc = xc_submit(x, sg->dst, BDEV_IO_WRITE, sg->dst_off + x->chunk_off,
		       xc_write_done);
	if (rc < 0)
		xc_fail_errno(x, rc, true);
}

/* Copy the next chunk, or move to the next segment, or finish. */
static void xc_step(struct xc_ctx *x)
{
	const struct xc_seg *sg;
	uint64_t left;
	int rc;

	if (x->c->abort_req) {
		xc_finish(x, NULL, SCSI_STATUS_TASK_ABORTED);
		return;
	}
	while (x->cur < x->nseg && x->pos == x->seg[x->cur].len) {
		x->cur++;
		x->pos = 0;
		if (x->rec != NULL) {
			pthread_mutex_lock(&x->c->lun->lock);
			x->rec->segs_done = (uint16_t)x->cur;
			pthread_mutex_unlock(&x->c->lun->lock);
		}
	}
	if (x->cur == x->nseg) {
		xc_finish(x, NULL, SCSI_STATUS_GOOD);
		return;
	}
	sg = &x->seg[x->cur];
	left = sg->len - x->pos;
	x->chunk_len = left < TGT_XCOPY_CHUNK ? left : TGT_XCOPY_CHUNK;
	/* An overlapping copy to higher addresses goes from the end down so
	 * that no source block is overwritten before it is read. */
	x->chunk_off = sg->backward ? sg->len - x->pos - x->chunk_len : x->pos;
	rc = xc_submit(x, sg->src, BDEV_IO_READ, sg->src_off + x->chunk_off,
		       xc_read_done);
	if (rc < 0)
		xc_fail_errno(x, rc, false);
}

/* ------------------------------------------------------------------ */
/* Parameter list                                                      */
/* ------------------------------------------------------------------ */

/* Length of a CSCD descriptor of type t, 0 if the type is unknown. */
static unsigned cscd_len(uint8_t t)
{
	if (t >= 0xe0 && t <= 0xe9)
		return 32;
	if (t == 0xea || t == 0xeb)
		return 64;
	return 0;
}

/* Parse the CSCD descriptors at p (len bytes, at list offset base);
 * false when answered. */
static bool parse_cscds(struct xc_ctx *x, const uint8_t *p, uint32_t len)
{
	uint32_t off = 0;

	while (off < len) {
		const uint8_t *d = p + off;
		unsigned dl = cscd_len(d[0]);

		if (dl == 0 || d[0] != XC_CSCD_IDENT) {
			xc_fail_param(x, ASC_UNSUPPORTED_TARGET_DESC,
				      (int)(XC_HDR + off));
			return false;
		}
		if (x->ncscd >= TGT_XCOPY_MAX_CSCD) {
			xc_fail_param(x, ASC_TOO_MANY_TARGET_DESC, 2);
			return false;
		}
		if (off + dl > len) {
			xc_fail_param(x, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR,
				      -1);
			return false;
		}
		/* Byte 1 (LU ID TYPE, NUL) is ignored for E4h (SPC-4);
		 * bytes 4..27 are the designation descriptor.  An NAA
		 * designator of a LUN the initiator can reach resolves;
		 * anything else stays NULL and is reported if a segment
		 * uses it. */
		x->cscd[x->ncscd] = NULL;
		if ((d[5] & 0x0f) == 0x03 && (d[5] & 0x30) == 0x00 &&
		    d[7] == 16)
			x->cscd[x->ncscd] = tgt_lun_find_naa(x->c->n, d + 8);
		x->ncscd++;
		off += dl;
	}
	return true;
}

/* Validate one block -> block segment descriptor at list offset off. */
static bool parse_b2b(struct xc_ctx *x, const uint8_t *list, uint32_t off,
		      const uint8_t *cscd_base)
{
	const uint8_t *d = list + off;
	uint16_t si = scsi_get16(d + 4), di = scsi_get16(d + 6);
	uint32_t nblocks = scsi_get16(d + 10);
	uint64_t slba = scsi_get64(d + 12), dlba = scsi_get64(d + 20);
	struct xc_seg *sg = &x->seg[x->nseg];
	struct tgt_lun *src, *dst;
	uint64_t bytes, snb, dnb;
	unsigned idx;

	if (si >= x->ncscd || x->cscd[si] == NULL ||
	    di >= x->ncscd || x->cscd[di] == NULL) {
		xc_fail_segment(x, SCSI_SK_COPY_ABORTED,
				ASC_COPY_TARGET_NOT_REACHABLE,
				(int)off + (si >= x->ncscd ||
						    x->cscd[si] == NULL ? 4 : 6));
		return false;
	}
	src = x->cscd[si];
	dst = x->cscd[di];
	/* Block devices only (peripheral device type 0), and the DISK BLOCK
	 * LENGTH must be the LUN's. */
	for (idx = 0; idx < 2; idx++) {
		uint16_t ci = idx == 0 ? si : di;
		const uint8_t *cd = cscd_base + (size_t)ci * XC_CSCD_LEN;
		struct tgt_lun *l = x->cscd[ci];

		if ((cd[1] & 0x1f) != SCSI_TYPE_DISK) {
			xc_fail_segment(x, SCSI_SK_COPY_ABORTED,
					ASC_INCORRECT_COPY_TARGET_TYPE,
					(int)(cd - list) + 1);
			return false;
		}
		if ((((uint32_t)cd[29] << 16) | scsi_get16(cd + 30)) !=
		    l->lbsize) {
			xc_fail_segment(x, SCSI_SK_ILLEGAL_REQUEST,
					SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
					(int)(cd - list) + 29);
			return false;
		}
	}
	/* DC: the count is in destination blocks, else source blocks. */
	bytes = (uint64_t)nblocks * ((d[1] & 0x02) ? dst->lbsize : src->lbsize);
	if (bytes % src->lbsize != 0 || bytes % dst->lbsize != 0) {
		xc_fail_segment(x, SCSI_SK_COPY_ABORTED,
				ASC_UNEXPECTED_INEXACT_SEGMENT, (int)off + 10);
		return false;
	}
	if (bytes > TGT_XCOPY_MAX_SEG_BYTES) {
		xc_fail_segment(x, SCSI_SK_ILLEGAL_REQUEST,
				SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
				(int)off + 10);
		return false;
	}
	snb = tgt_lun_nblocks(src);
	dnb = tgt_lun_nblocks(dst);
	/* Beyond the end of a copy target: COPY ABORTED, pointing at the
	 * LBA field (see docs/target-commands.md for the ASC). */
	if (slba > snb || (bytes >> src->lbshift) > snb - slba) {
		xc_fail_segment(x, SCSI_SK_COPY_ABORTED,
				ASC_COPY_TARGET_NOT_REACHABLE, (int)off + 12);
		return false;
	}
	if (dlba > dnb || (bytes >> dst->lbshift) > dnb - dlba) {
		xc_fail_segment(x, SCSI_SK_COPY_ABORTED,
				ASC_COPY_TARGET_NOT_REACHABLE, (int)off + 20);
		return false;
	}
	if (tgt_lun_write_protected(dst)) {
		xc_fail_segment(x, SCSI_SK_DATA_PROTECT,
				SCSI_ASC_WRITE_PROTECTED, (int)off + 6);
		return false;
	}
	sg->src = src;
	sg->dst = dst;
	sg->src_off = slba << src->lbshift;
	sg->dst_off = dlba << dst->lbshift;
	sg->len = bytes;
	sg->backward = src == dst && sg->dst_off > sg->src_off &&
		       sg->dst_off < sg->src_off + bytes;
	x->nseg++;
	return true;
}

static bool parse_segments(struct xc_ctx *x, const uint8_t *list,
			   uint32_t start, uint32_t len)
{
	uint32_t off = 0;

	while (off < len) {
		const uint8_t *d = list + start + off;
		uint32_t dl;

		if (len - off < 4) {
			xc_fail_param(x, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR,
				      -1);
			return false;
		}
		if (d[0] != XC_SEG_B2B) {
			xc_fail_param(x, ASC_UNSUPPORTED_SEGMENT_DESC,
				      (int)(start + off));
			return false;
		}
		if (x->nseg >= TGT_XCOPY_MAX_SEGS) {
			xc_fail_param(x, ASC_TOO_MANY_SEGMENT_DESC, 8);
			return false;
		}
		dl = 4u + scsi_get16(d + 2);
		if (dl != XC_SEG_B2B_LEN) {
			xc_fail_param(x,
				      SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
				      (int)(start + off + 2));
			return false;
		}
		if (dl > len - off) {
			xc_fail_param(x, SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR,
				      -1);
			return false;
		}
		/* DC and CAT: CAT 1 (keep a residue) never happens since
		 * inexact segments are refused. */
		if (d[1] & ~0x03) {
			xc_fail_param(x,
				      SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST,
				      (int)(start + off + 1));
			return false;
		}
		if (!parse_b2b(x, list, start + off, list + XC_HDR))
			return false;
		off += dl;
	}
	return true;
}

void tgt_h_xcopy(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	uint32_t plen = scsi_get32(task->cdb + 10);
	uint8_t hdr[XC_HDR];
	uint8_t *list;
	uint32_t clen, slen, ilen;
	uint8_t usage;
	struct xc_ctx *x;
	bool busy;

	c->implied = plen;
	/* SPC-4 6.4.1: a zero length moves nothing and is not an error. */
	if (plen == 0) {
		tgt_cmd_good(c);
		return;
	}
	if (plen < XC_HDR || task->data_len < plen) {
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	tgt_cmd_data_out(c, hdr, XC_HDR);
	usage = (hdr[1] >> 3) & 0x03;
	clen = scsi_get16(hdr + 2);
	slen = scsi_get32(hdr + 8);
	ilen = scsi_get32(hdr + 12);
	if (usage == 0x01) {		/* reserved */
		tgt_cmd_bad_param(c, 1, 4);
		return;
	}
	if (hdr[1] & 0xc0) {
		tgt_cmd_bad_param(c, 1, 7);
		return;
	}
	if ((uint64_t)clen + slen > TGT_XCOPY_MAX_DESC_LIST) {
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	if (ilen != 0) {	/* MAXIMUM INLINE DATA LENGTH is 0 */
		tgt_cmd_bad_param(c, 12, -1);
		return;
	}
	if ((uint64_t)XC_HDR + clen + slen > plen) {
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	/* One allocation: the context, the parameter list, the chunk. */
	x = calloc(1, sizeof(*x) + XC_HDR + clen + slen + TGT_XCOPY_CHUNK);
	if (x == NULL) {
		tgt_cmd_errno(c, -ENOMEM, true);
		return;
	}
	c->buf = (uint8_t *)x;
	x->c = c;
	list = (uint8_t *)(x + 1);
	x->data = list + XC_HDR + clen + slen;
	tgt_cmd_data_out(c, list, XC_HDR + clen + slen);

	if (atomic_fetch_add(&xc_running, 1) >= TGT_XCOPY_MAX_RUNNING) {
		atomic_fetch_sub(&xc_running, 1);
		xc_fail_param(x, ASC_INSUFFICIENT_RESOURCES, -1);
		return;
	}
	x->counted = true;
	if (usage != 0x03) {
		pthread_mutex_lock(&c->lun->lock);
		x->rec = rec_start(c->lun, c->n->id, hdr[0], &busy);
		pthread_mutex_unlock(&c->lun->lock);
		if (x->rec == NULL) {
			/* SPC-4 6.4.1: a list identifier of a copy still in
			 * progress on this nexus. */
			if (busy)
				xc_fail_param(x, ASC_OPERATION_IN_PROGRESS, 0);
			else
				xc_finish(x, NULL, SCSI_STATUS_TASK_SET_FULL);
			return;
		}
	}
	/* From here on every outcome is recorded for RECEIVE COPY RESULTS
	 * (FAILED SEGMENT DETAILS of a list that did not validate too). */
	if (!parse_cscds(x, list + XC_HDR, clen))
		return;
	if (!parse_segments(x, list, XC_HDR + clen, slen))
		return;
	xc_step(x);
}

/* ------------------------------------------------------------------ */
/* RECEIVE COPY RESULTS                                                */
/* ------------------------------------------------------------------ */

static size_t rcr_op_params(const struct tgt_lun *lun, uint8_t *p)
{
	static const uint8_t impl[] = { XC_SEG_B2B, XC_CSCD_IDENT };

	memset(p, 0, 44 + sizeof(impl));
	scsi_put32(p, 40 + sizeof(impl));	/* AVAILABLE DATA */
	p[4] = 0x01;				/* SNLID */
	scsi_put16(p + 8, TGT_XCOPY_MAX_CSCD);	/* MAX CSCD DESC COUNT */
	scsi_put16(p + 10, TGT_XCOPY_MAX_SEGS);	/* MAX SEGMENT DESC COUNT */
	scsi_put32(p + 12, TGT_XCOPY_MAX_DESC_LIST); /* MAX DESC LIST LEN */
	scsi_put32(p + 16, TGT_XCOPY_MAX_SEG_BYTES); /* MAX SEGMENT LENGTH */
	/* MAX INLINE DATA LENGTH, HELD DATA LIMIT, MAX STREAM DEVICE
	 * TRANSFER SIZE: 0 (none of them). */
	scsi_put16(p + 34, TGT_XCOPY_MAX_RUNNING); /* TOTAL CONCURRENT */
	p[36] = TGT_XCOPY_MAX_HELD;		/* MAX CONCURRENT COPIES */
	p[37] = lun->lbshift;	/* DATA SEGMENT GRANULARITY: log2(block) */
	p[43] = sizeof(impl);		/* IMPLEMENTED DESCRIPTOR LIST LEN */
	memcpy(p + 44, impl, sizeof(impl));
	return 44 + sizeof(impl);
}

void tgt_h_rcr(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	uint8_t sa = cdb[1] & 0x1f, list_id = cdb[2];
	uint32_t alloc = scsi_get32(cdb + 10);
	struct tgt_lun *lun = c->lun;
	struct tgt_xc_rec *r;
	uint8_t out[64 + SCSI_SENSE_MAX];
	size_t n = 0;

	memset(out, 0, sizeof(out));
	if (sa == RCR_OPERATING_PARAMETERS) {
		n = rcr_op_params(lun, out);
		tgt_cmd_data_in(c, out, n, alloc);
		tgt_cmd_good(c);
		return;
	}
	pthread_mutex_lock(&lun->lock);
	r = rec_find(lun, c->n->id, list_id);
	if (r == NULL) {
		pthread_mutex_unlock(&lun->lock);
		/* No EXTENDED COPY with that list identifier on this nexus
		 * (or its results were already returned). */
		tgt_cmd_bad_cdb(c, 2, -1);
		return;
	}
	switch (sa) {
	case RCR_COPY_STATUS: {
		uint64_t bytes = r->bytes_done;

		scsi_put32(out, 8);			/* AVAILABLE DATA */
		out[4] = r->state;			/* HDD 0, STATUS */
		scsi_put16(out + 5, r->segs_done);	/* SEGMENTS PROCESSED */
		if (bytes <= UINT32_MAX) {
			out[7] = 0x00;			/* UNITS: bytes */
			scsi_put32(out + 8, (uint32_t)bytes);
		} else {
			out[7] = 0x01;			/* UNITS: KiB */
			scsi_put32(out + 8, (uint32_t)(bytes >> 10));
		}
		n = 12;
		if (r->state != XC_ST_RUNNING) {
			r->status_read = true;
			/* Done with it unless failed segment details are
			 * still to be asked for. */
			if (r->state == XC_ST_GOOD)
				rec_unlink(lun, r);
		}
		break;
	}
	case RCR_RECEIVE_DATA:
		/* Held data comes only from segment types that are not
		 * supported: there is never any. */
		scsi_put32(out, 0);	/* AVAILABLE DATA */
		n = 4;
		break;
	case RCR_FAILED_SEGMENT_DETAILS:
		if (r->state == XC_ST_RUNNING) {
			pthread_mutex_unlock(&lun->lock);
			tgt_cmd_bad_cdb(c, 2, -1);
			return;
		}
		scsi_put32(out, 60 + r->sense_len);	/* AVAILABLE DATA */
		scsi_put16(out + 62, r->sense_len);	/* SENSE DATA LENGTH */
		memcpy(out + 64, r->sense, r->sense_len);
		n = 64 + r->sense_len;
		rec_unlink(lun, r);
		break;
	}
	pthread_mutex_unlock(&lun->lock);
	tgt_cmd_data_in(c, out, n, alloc);
	tgt_cmd_good(c);
}

/* ------------------------------------------------------------------ */
/* VPD page 8Fh, Third-party Copy (SPC-4 7.8.17)                       */
/* ------------------------------------------------------------------ */

/* A third-party copy descriptor of type whose contents are a one-byte
 * list length and the list, padded to a multiple of 4; returns its size. */
static size_t vpd_list_desc(uint8_t *p, uint16_t type, const uint8_t *list,
			    uint8_t len)
{
	size_t dl = (1u + len + 3u) & ~(size_t)3;

	scsi_put16(p, type);			/* DESCRIPTOR TYPE */
	scsi_put16(p + 2, (uint16_t)dl);	/* DESCRIPTOR LENGTH */
	p[4] = len;
	memcpy(p + 5, list, len);
	return 4 + dl;
}

size_t tgt_xcopy_vpd(const struct tgt_lun *lun, uint8_t *p)
{
	static const uint8_t cmds[] = {
		SCSI_EXTENDED_COPY, 1, 0x00,		/* LID1 */
		SCSI_RECEIVE_COPY_RESULTS, 4, RCR_COPY_STATUS,
		RCR_RECEIVE_DATA, RCR_OPERATING_PARAMETERS,
		RCR_FAILED_SEGMENT_DETAILS,
	};
	static const uint8_t descs[] = { XC_SEG_B2B, XC_CSCD_IDENT };
	size_t n = 4;

	/* Supported Commands (0001h). */
	n += vpd_list_desc(p + n, 0x0001, cmds, sizeof(cmds));

	/* Parameter Data (0004h). */
	scsi_put16(p + n, 0x0004);
	scsi_put16(p + n + 2, 0x1c);
	scsi_put16(p + n + 8, TGT_XCOPY_MAX_CSCD);
	scsi_put16(p + n + 10, TGT_XCOPY_MAX_SEGS);
	scsi_put32(p + n + 12, TGT_XCOPY_MAX_DESC_LIST);
	/* MAXIMUM INLINE DATA LENGTH 0 */
	n += 32;

	/* Supported Descriptors (0008h). */
	n += vpd_list_desc(p + n, 0x0008, descs, sizeof(descs));

	/* Supported CSCD Descriptor IDs (000Ch): none beyond the list
	 * indexes. */
	scsi_put16(p + n, 0x000c);
	scsi_put16(p + n + 2, 4);
	n += 8;

	/* General Copy Operations (8001h). */
	scsi_put16(p + n, 0x8001);
	scsi_put16(p + n + 2, 0x20);
	scsi_put32(p + n + 4, TGT_XCOPY_MAX_RUNNING); /* TOTAL CONCURRENT */
	scsi_put32(p + n + 8, TGT_XCOPY_MAX_HELD); /* MAX IDENTIFIED */
	scsi_put32(p + n + 12, TGT_XCOPY_MAX_SEG_BYTES); /* MAX SEGMENT */
	p[n + 16] = lun->lbshift;	/* DATA SEGMENT GRANULARITY (log2) */
	n += 36;
	return n;
}
