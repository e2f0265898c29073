/*
 * SANITIZE (SBC-4 5.30): OVERWRITE with an initialization pattern, BLOCK
 * ERASE through discard (plus write-zeroes when discarded blocks do not
 * read back as zeroes), and EXIT FAILURE MODE.  CRYPTO ERASE has no row in
 * the table -- a virtual medium has no encryption key to forget -- so
 * dispatch answers it INVALID FIELD IN CDB pointing at the SERVICE ACTION.
 *
 * The sanitize operation belongs to the LU, not to the command: it runs
 * on the submitting task's loop, one bdev I/O of at most
 * SANITIZE_CHUNK bytes at a time, and goes on after its command is
 * aborted, after resets and after the I_T nexus is gone (SBC-4 4.11.2).
 * With IMMED the command completes as soon as the operation has started;
 * otherwise when it ends.  While it runs, the medium gate
 * (tgt_medium.c) answers NOT READY, LOGICAL UNIT NOT READY, SANITIZE IN
 * PROGRESS with the progress indication to everything but the commands
 * about the device, and REQUEST SENSE reports the same.  If it fails, the
 * LU stays in sanitize failure mode -- MEDIUM ERROR, SANITIZE COMMAND
 * FAILED on every medium access -- until a sanitize succeeds or, when the
 * failed one had AUSE = 1, until EXIT FAILURE MODE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt_int.h"

#define ASC_SANITIZE_FAILED SCSI_ASC(0x31, 0x03)

/* Bytes per overwrite write and per discard / write-zeroes. */
#define SANITIZE_CHUNK (1024u * 1024u)
#define SANITIZE_ERASE_CHUNK (64ull << 20)

/* The steps of an operation, in order. */
enum san_step {
	SAN_OVERWRITE,	/* count passes of the pattern */
	SAN_DISCARD,	/* BLOCK ERASE */
	SAN_ZERO,	/* BLOCK ERASE when discard does not zero */
	SAN_FLUSH,
	SAN_DONE,
};

struct tgt_sanitize_op {
	struct tgt_lun *lun;	/* held */
	struct tgt_cmd *c;	/* waiting command, NULL with IMMED or once
				 * aborted (under lun->lock) */
	struct ev_loop *loop;
	struct bdev_io io;
	struct iovec iov;
	bool ause;
	bool invert;		/* invert the pattern between passes */
	enum san_step step;
	unsigned passes, pass;
	uint8_t *pat;		/* the initialization pattern */
	uint32_t ipl;
	uint8_t *buf;		/* SANITIZE_CHUNK of pattern */
	uint64_t pos, end;	/* bytes done / to do in this step */
	uint64_t work, worked;	/* bytes of all steps, for the progress */
};

/* Fill the write buffer with the pattern repeated from each block's
 * start, inverted when asked (SBC-4 5.30.3). */
static void fill_pattern(struct tgt_sanitize_op *op, bool inv)
{
	uint32_t lbs = op->lun->lbsize, i;
	uint64_t off;

	for (off = 0; off < SANITIZE_CHUNK; off += lbs)
		for (i = 0; i < lbs; i++)
			op->buf[off + i] = (uint8_t)(inv ? ~op->pat[i % op->ipl] :
							   op->pat[i % op->ipl]);
}

static void op_free(struct tgt_sanitize_op *op)
{
	tgt_lun_release(op->lun);
	free(op->pat);
	free(op->buf);
	free(op);
}

/* The operation is over (err 0: it succeeded). */
static void op_finish(struct tgt_sanitize_op *op, int err)
{
	struct tgt_lun *lun = op->lun;
	struct tgt_cmd *c;

	pthread_mutex_lock(&lun->lock);
	c = op->c;
	op->c = NULL;
	lun->media.san_op = NULL;
	lun->media.san_ause = op->ause;
	atomic_store(&lun->media.san_progress, 0);
	atomic_store(&lun->media.san_state,
		     err == 0 ? TGT_SAN_IDLE : TGT_SAN_FAILED);
	pthread_mutex_unlock(&lun->lock);
	if (c != NULL) {
		if (err == 0)
			tgt_cmd_good(c);
		else
			tgt_cmd_check(c, SCSI_SK_MEDIUM_ERROR,
				      ASC_SANITIZE_FAILED);
	}
	op_free(op);
}

static void op_io_done(struct bdev_io *io, int status, void *arg);

/* Move to the next step whose work is not empty. */
static void op_next_step(struct tgt_sanitize_op *op)
{
	const struct bdev_geometry *geo = bdev_geometry(op->lun->bd);

	op->pos = 0;
	switch (op->step) {
	case SAN_OVERWRITE:
		if (++op->pass < op->passes) {
			fill_pattern(op, op->invert && (op->pass & 1));
			return;
		}
		op->step = SAN_FLUSH;
		break;
	case SAN_DISCARD:
		op->step = geo->discard_zeroes || !geo->can_write_zeroes ?
				   SAN_FLUSH : SAN_ZERO;
		break;
	case SAN_ZERO:
		op->step = SAN_FLUSH;
		break;
	default:
		op->step = SAN_DONE;
		break;
	}
}

/* Issue the next I/O, or finish.  Runs on op->loop. */
static void op_run(struct tgt_sanitize_op *op)
{
	uint64_t len;
	int rc;

	while (op->step != SAN_DONE &&
	       op->step != SAN_FLUSH && op->pos >= op->end)
		op_next_step(op);
	memset(&op->io, 0, sizeof(op->io));
	op->io.loop = op->loop;
	op->io.cb = op_io_done;
	op->io.cb_arg = op;
	switch (op->step) {
	case SAN_DONE:
		op_finish(op, 0);
		return;
	case SAN_FLUSH:
		op->io.type = BDEV_IO_FLUSH;
		break;
	case SAN_OVERWRITE:
		len = op->end - op->pos;
		if (len > SANITIZE_CHUNK)
			len = SANITIZE_CHUNK;
		op->iov.iov_base = op->buf;
		op->iov.iov_len = (size_t)len;
		op->io.type = BDEV_IO_WRITE;
		op->io.offset = op->pos;
		op->io.length = len;
		op->io.iov = &op->iov;
		op->io.iovcnt = 1;
		break;
	default: /* SAN_DISCARD, SAN_ZERO */
		len = op->end - op->pos;
		if (len > SANITIZE_ERASE_CHUNK)
			len = SANITIZE_ERASE_CHUNK;
		op->io.type = op->step == SAN_DISCARD ? BDEV_IO_DISCARD :
							BDEV_IO_WRITE_ZEROES;
		op->io.offset = op->pos;
		op->io.length = len;
		break;
	}
	rc = bdev_submit(op->lun->bd, &op->io);
	if (rc == -ENOTSUP && op->step == SAN_FLUSH) {
		op->step = SAN_DONE;	/* nothing volatile to flush */
		op_finish(op, 0);
		return;
	}
	if (rc < 0)
		op_finish(op, rc);
}

static void op_io_done(struct bdev_io *io, int status, void *arg)
{
	struct tgt_sanitize_op *op = arg;
	uint64_t prog;

	if (status < 0 && !(status == -ENOTSUP && op->step == SAN_FLUSH)) {
		op_finish(op, status);
		return;
	}
	if (op->step == SAN_FLUSH) {
		op->step = SAN_DONE;
	} else {
		op->pos += io->length;
		op->worked += io->length;
		prog = op->work != 0 ? op->worked * 65536 / op->work : 0;
		atomic_store(&op->lun->media.san_progress,
			     (unsigned)(prog > 65535 ? 65535 : prog));
	}
	op_run(op);
}

/* ---- The command ---- */

/* Check the OVERWRITE parameter list into op; false when answered. */
static bool overwrite_params(struct tgt_cmd *c, struct tgt_sanitize_op *op,
			     uint32_t plen)
{
	uint32_t lbs = c->lun->lbsize;
	uint8_t p[4];

	/* SBC-4 5.30.3: a header and a pattern of 1..block size bytes. */
	if (plen < 5 || plen > lbs + 4) {
		tgt_cmd_bad_cdb(c, 7, -1);
		return false;
	}
	if (c->task->data_len < plen) {
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
		return false;
	}
	c->implied = plen;
	c->moved = plen;
	tgt_cmd_data_out(c, p, sizeof(p));
	if (p[0] & 0x60) {		/* TEST: 00b only */
		tgt_cmd_bad_param(c, 0, (p[0] & 0x40) ? 6 : 5);
		return false;
	}
	if ((p[0] & 0x1f) == 0) {	/* OVERWRITE COUNT */
		tgt_cmd_bad_param(c, 0, 4);
		return false;
	}
	if (p[1] != 0) {		/* reserved */
		tgt_cmd_bad_param(c, 1, 31 - __builtin_clz(p[1]));
		return false;
	}
	op->ipl = scsi_get16(p + 2);	/* INITIALIZATION PATTERN LENGTH */
	if (op->ipl == 0 || op->ipl > lbs || op->ipl + 4 != plen) {
		tgt_cmd_bad_param(c, 2, -1);
		return false;
	}
	op->invert = p[0] & 0x80;
	op->passes = p[0] & 0x1f;
	op->pat = malloc(plen);
	op->buf = malloc(SANITIZE_CHUNK);
	if (op->pat == NULL || op->buf == NULL) {
		tgt_cmd_errno(c, -ENOMEM, true);
		return false;
	}
	tgt_cmd_data_out(c, op->pat, plen);
	memmove(op->pat, op->pat + 4, op->ipl);
	return true;
}

static void exit_failure_mode(struct tgt_cmd *c)
{
	struct tgt_lun *lun = c->lun;
	bool refused = false;

	pthread_mutex_lock(&lun->lock);
	if (atomic_load(&lun->media.san_state) == TGT_SAN_FAILED) {
		/* SBC-4 5.30.1: only after a sanitize that allowed it. */
		if (lun->media.san_ause)
			atomic_store(&lun->media.san_state, TGT_SAN_IDLE);
		else
			refused = true;
	}
	pthread_mutex_unlock(&lun->lock);
	if (refused)
		tgt_cmd_bad_cdb(c, 1, 4);
	else
		tgt_cmd_good(c);
}

void tgt_h_sanitize(struct tgt_cmd *c)
{
	struct tgt_lun *lun = c->lun;
	const uint8_t *cdb = c->task->cdb;
	uint8_t sa = cdb[1] & 0x1f;
	bool immed = cdb[1] & 0x80;
	uint32_t plen = scsi_get16(cdb + 7);
	uint64_t size = tgt_lun_nblocks(lun) << lun->lbshift;
	struct tgt_sanitize_op *op;

	if (sa != SCSI_SANITIZE_OVERWRITE && plen != 0) {
		/* BLOCK ERASE and EXIT FAILURE MODE take no parameters. */
		tgt_cmd_bad_cdb(c, 7, -1);
		return;
	}
	if (sa == SCSI_SANITIZE_EXIT_FAILURE_MODE) {
		exit_failure_mode(c);
		return;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		tgt_cmd_errno(c, -ENOMEM, true);
		return;
	}
	op->lun = tgt_lun_hold(lun);
	op->loop = c->task->loop;
	op->ause = cdb[1] & 0x20;
	op->end = size;
	if (sa == SCSI_SANITIZE_OVERWRITE) {
		if (!overwrite_params(c, op, plen)) {
			op_free(op);
			return;
		}
		op->step = SAN_OVERWRITE;
		op->work = size * op->passes;
		fill_pattern(op, false);
	} else {
		const struct bdev_geometry *geo = bdev_geometry(lun->bd);

		op->step = SAN_DISCARD;
		op->work = size * (geo->discard_zeroes ||
						   !geo->can_write_zeroes ? 1 : 2);
	}

	pthread_mutex_lock(&lun->lock);
	if (lun->media.san_op != NULL) {
		/* The gate lets no SANITIZE through while one runs; a race
		 * between two reactors ends here. */
		pthread_mutex_unlock(&lun->lock);
		op_free(op);
		tgt_cmd_check(c, SCSI_SK_NOT_READY, SCSI_ASC(0x04, 0x1b));
		return;
	}
	lun->media.san_op = op;
	op->c = immed ? NULL : c;
	atomic_store(&lun->media.san_progress, 0);
	atomic_store(&lun->media.san_state, TGT_SAN_RUNNING);
	pthread_mutex_unlock(&lun->lock);
	if (immed)
		tgt_cmd_good(c);
	op_run(op);
}

void tgt_sanitize_abort(struct tgt_cmd *c)
{
	struct tgt_lun *lun = c->lun;
	bool mine = false;

	pthread_mutex_lock(&lun->lock);
	if (lun->media.san_op != NULL && lun->media.san_op->c == c) {
		lun->media.san_op->c = NULL;
		mine = true;
	}
	pthread_mutex_unlock(&lun->lock);
	/* The command ends; the operation goes on. */
	if (mine)
		tgt_cmd_status(c, SCSI_STATUS_TASK_ABORTED);
}
