/*
 * iSCSI target commands: SCSI Command PDUs become tgt_tasks; write data
 * comes as immediate data, unsolicited Data-Out and Data-Out answering our
 * R2Ts; read data goes out as Data-In PDUs that point into the task's
 * buffer (no copy), with the status collapsed into the last one when there
 * is no sense; task management aborts through the engine.
 *
 * Command states (enum iscsi_cmd_state):
 *   CMD_DATA_OUT   write data still arriving (R2Ts out)  -> CMD_SUBMITTED
 *   CMD_SUBMITTED  with the engine; done callback        -> CMD_DONE
 *   CMD_DONE       status queued, or aborted without status
 * A command is in the connection's ITT table from its arrival until its
 * status is queued or it is aborted; its window slot is freed at the same
 * moment, so MaxCmdSN in that status already counts it free.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/scsi.h>

#include "iscsi/tgt_int.h"

static unsigned itt_hash(uint32_t itt)
{
	return (itt ^ (itt >> 8) ^ (itt >> 16)) & (ISCSI_ITT_HASH - 1);
}

struct iscsi_cmd *iscsi_cmd_find(struct iscsi_conn *c, uint32_t itt)
{
	for (struct iscsi_cmd *cmd = c->itt_hash[itt_hash(itt)]; cmd != NULL;
	     cmd = cmd->hnext)
		if (cmd->itt == itt)
			return cmd;
	return NULL;
}

static void cmd_link(struct iscsi_conn *c, struct iscsi_cmd *cmd)
{
	unsigned h = itt_hash(cmd->itt);

	cmd->hnext = c->itt_hash[h];
	c->itt_hash[h] = cmd;
	cmd->prev = NULL;
	cmd->next = c->cmds;
	if (c->cmds != NULL)
		c->cmds->prev = cmd;
	c->cmds = cmd;
	c->outstanding++;
	cmd->refs++;
}

/* Leave the ITT table and the CmdSN window; drops the table's reference
 * (the caller still holds one if it goes on using cmd). */
static void cmd_unlink(struct iscsi_conn *c, struct iscsi_cmd *cmd)
{
	struct iscsi_cmd **pp = &c->itt_hash[itt_hash(cmd->itt)];

	while (*pp != NULL && *pp != cmd)
		pp = &(*pp)->hnext;
	if (*pp == NULL)
		return;		/* not linked */
	*pp = cmd->hnext;
	if (cmd->prev != NULL)
		cmd->prev->next = cmd->next;
	else
		c->cmds = cmd->next;
	if (cmd->next != NULL)
		cmd->next->prev = cmd->prev;
	cmd->next = cmd->prev = cmd->hnext = NULL;
	iscsi_conn_window_slot_free(c);
	iscsi_cmd_put(cmd);
}

void iscsi_cmd_put(struct iscsi_cmd *cmd)
{
	if (--cmd->refs > 0)
		return;
	struct iscsi_conn *c = cmd->conn;
	if (cmd->buf != NULL) {
		c->data_buffered -= cmd->iov.iov_len;
		free(cmd->buf);
	}
	free(cmd);
	iscsi_conn_release(c);
}

static struct iscsi_cmd *cmd_alloc(struct iscsi_conn *c)
{
	struct iscsi_cmd *cmd = calloc(1, sizeof(*cmd));

	if (cmd == NULL)
		return NULL;
	cmd->conn = c;
	cmd->refs = 1;		/* the caller's */
	iscsi_conn_hold(c);
	return cmd;
}

/* ---- status -------------------------------------------------------------- */

static void tmf_task_done(struct iscsi_conn *c, struct iscsi_tmf *tmf);

/* Queue the Data-In PDUs of a read, from the command's buffer. */
static bool cmd_send_data_in(struct iscsi_conn *c, struct iscsi_cmd *cmd,
			     uint32_t xfer, bool collapse)
{
	struct tgt_task *task = &cmd->task;
	uint32_t mrdsl = c->p.max_xmit_dsl, burst = c->p.max_burst;

	for (uint32_t off = 0; off < xfer;) {
		uint32_t n = xfer - off < mrdsl ? xfer - off : mrdsl;
		/* A burst never crosses a MaxBurstLength boundary. */
		uint32_t to_burst = burst - (off % burst);
		if (n > to_burst)
			n = to_burst;
		bool last = off + n == xfer;
		struct iscsi_tx *t = iscsi_tx_alloc(c);
		if (t == NULL)
			return false;
		memset(t->hdr, 0, ISCSI_BHS_LEN);
		t->hdr[0] = ISCSI_OP_DATA_IN;
		if (last || (off + n) % burst == 0)
			t->hdr[1] |= ISCSI_FLAG_FINAL;
		iscsi_put32(t->hdr + 16, cmd->itt);
		iscsi_put32(t->hdr + 20, ISCSI_RSVD_TAG);
		iscsi_put32(t->hdr + 36, cmd->datasn++);
		iscsi_put32(t->hdr + 40, off);
		if (last && collapse) {
			t->hdr[1] |= ISCSI_DATAIN_STATUS;
			t->hdr[3] = task->status;
			if (task->resid_flags & TGT_RESID_OVER)
				t->hdr[1] |= ISCSI_RSP_OVER;
			else if (task->resid_flags & TGT_RESID_UNDER)
				t->hdr[1] |= ISCSI_RSP_UNDER;
			if (task->resid_flags & (TGT_RESID_OVER | TGT_RESID_UNDER))
				iscsi_put32(t->hdr + 44, task->resid);
			iscsi_conn_fill_sn(c, t->hdr, true);
		} else {
			iscsi_conn_fill_sn(c, t->hdr, false);
			memset(t->hdr + 24, 0, 4); /* StatSN: reserved */
		}
		t->data = cmd->buf + off;
		t->dlen = n;
		t->cmd = cmd;
		cmd->refs++;
		iscsi_conn_queue(c, t);
		off += n;
	}
	return true;
}

/* Send the outcome of cmd (task status fields set) and retire it. */
static void cmd_send_status(struct iscsi_conn *c, struct iscsi_cmd *cmd)
{
	struct tgt_task *task = &cmd->task;

	cmd->state = CMD_DONE;
	cmd->refs++;		/* keep cmd while we build */
	cmd_unlink(c, cmd);
	if (cmd->read && task->xfer_done > 0 && cmd->buf != NULL) {
		uint32_t xfer = task->xfer_done < cmd->edtl ? task->xfer_done
							    : cmd->edtl;
		bool collapse = task->status == SCSI_STATUS_GOOD &&
				task->sense_len == 0;
		if (!cmd_send_data_in(c, cmd, xfer, collapse)) {
			iscsi_cmd_put(cmd);
			iscsi_conn_close(c, "out of memory");
			return;
		}
		if (collapse) {
			iscsi_cmd_put(cmd);
			return;
		}
	}
	struct iscsi_tx *t = iscsi_tx_alloc(c);
	if (t == NULL) {
		iscsi_cmd_put(cmd);
		iscsi_conn_close(c, "out of memory");
		return;
	}
	memset(t->hdr, 0, ISCSI_BHS_LEN);
	t->hdr[0] = ISCSI_OP_SCSI_RSP;
	t->hdr[1] = ISCSI_FLAG_FINAL;
	t->hdr[2] = ISCSI_RESPONSE_COMPLETED;
	t->hdr[3] = task->status;
	if (task->resid_flags & TGT_RESID_OVER)
		t->hdr[1] |= ISCSI_RSP_OVER;
	else if (task->resid_flags & TGT_RESID_UNDER)
		t->hdr[1] |= ISCSI_RSP_UNDER;
	if (task->resid_flags & (TGT_RESID_OVER | TGT_RESID_UNDER))
		iscsi_put32(t->hdr + 44, task->resid);
	iscsi_put32(t->hdr + 16, cmd->itt);
	iscsi_conn_fill_sn(c, t->hdr, true);
	iscsi_put32(t->hdr + 36, cmd->read ? cmd->datasn : cmd->r2tsn);
	if (task->sense_len > 0) {
		uint32_t sl = task->sense_len;
		if (sl > SCSI_SENSE_MAX)
			sl = SCSI_SENSE_MAX;
		iscsi_put16(t->small, (uint16_t)sl);
		memcpy(t->small + 2, task->sense, sl);
		t->data = t->small;
		t->dlen = sl + 2;
	}
	iscsi_conn_queue(c, t);
	iscsi_cmd_put(cmd);
}

/* Answer cmd without the engine (resource limits, refused CDBs). */
static void cmd_fail(struct iscsi_conn *c, struct iscsi_cmd *cmd,
		     uint8_t status, uint8_t key, uint16_t asc)
{
	struct tgt_task *task = &cmd->task;

	task->status = status;
	task->sense_len = 0;
	task->xfer_done = 0;
	task->resid_flags = 0;
	task->resid = 0;
	if (status == SCSI_STATUS_CHECK_CONDITION)
		task->sense_len = (uint8_t)scsi_sense_build_simple(
			key, asc, false, task->sense, sizeof(task->sense));
	if (cmd->edtl > 0) {
		task->resid_flags = TGT_RESID_UNDER;
		task->resid = cmd->edtl;
	}
	cmd_send_status(c, cmd);
}

static void cmd_done(struct tgt_task *task, void *arg)
{
	struct iscsi_cmd *cmd = arg;
	struct iscsi_conn *c = cmd->conn;

	if (c->state == CONN_CLOSED || task->aborted || cmd->aborted) {
		cmd->state = CMD_DONE;
		struct iscsi_tmf *tmf = cmd->tmf;
		cmd->tmf = NULL;
		if (c->state != CONN_CLOSED) {
			cmd_unlink(c, cmd);
			if (tmf != NULL)
				tmf_task_done(c, tmf);
		}
		iscsi_cmd_put(cmd);	/* the engine's */
		return;
	}
	cmd_send_status(c, cmd);
	iscsi_cmd_put(cmd);		/* the engine's */
}

static void cmd_submit(struct iscsi_conn *c, struct iscsi_cmd *cmd)
{
	cmd->state = CMD_SUBMITTED;
	cmd->refs++;		/* the engine's, dropped in cmd_done */
	int r = tgt_task_submit(c->nexus, &cmd->task);
	if (r < 0) {
		cmd->refs--;
		log_warn("iscsi %s: task submit failed: %s", c->peer,
			 strerror(-r));
		cmd_fail(c, cmd, SCSI_STATUS_CHECK_CONDITION,
			 SCSI_SK_HARDWARE_ERROR,
			 SCSI_ASC_INTERNAL_TARGET_FAILURE);
	}
}

/* ---- write data ----------------------------------------------------------- */

static void cmd_send_r2t(struct iscsi_conn *c, struct iscsi_cmd *cmd)
{
	uint32_t len = cmd->edtl - cmd->r2t_next;
	struct iscsi_tx *t = iscsi_tx_alloc(c);

	if (t == NULL)
		return;
	if (len > c->p.max_burst)
		len = c->p.max_burst;
	memset(t->hdr, 0, ISCSI_BHS_LEN);
	t->hdr[0] = ISCSI_OP_R2T;
	t->hdr[1] = ISCSI_FLAG_FINAL;
	iscsi_lun_encode(t->hdr + 8, cmd->lun);
	iscsi_put32(t->hdr + 16, cmd->itt);
	iscsi_put32(t->hdr + 20, cmd->ttt);
	iscsi_conn_fill_sn(c, t->hdr, false);
	iscsi_put32(t->hdr + 36, cmd->r2tsn++);
	iscsi_put32(t->hdr + 40, cmd->r2t_next);
	iscsi_put32(t->hdr + 44, len);
	cmd->r2t_next += len;
	cmd->r2t_out++;
	iscsi_conn_queue(c, t);
}

/* Submit once all data is in; otherwise keep R2Ts going. */
static void cmd_write_progress(struct iscsi_conn *c, struct iscsi_cmd *cmd)
{
	if (cmd->data_got == cmd->edtl) {
		cmd_submit(c, cmd);
		return;
	}
	if (!cmd->unsol_done)
		return;
	while (cmd->r2t_out < c->p.max_outstanding_r2t &&
	       cmd->r2t_next < cmd->edtl)
		cmd_send_r2t(c, cmd);
}

/* Unsolicited data has ended (F bit, or all of it came): solicit the
 * rest from where it stopped. */
static void cmd_unsol_end(struct iscsi_cmd *cmd)
{
	cmd->unsol_done = true;
	cmd->r2t_next = cmd->data_got;
	cmd->seq_end = cmd->data_got;
}

static int cmd_data_out(struct iscsi_conn *c, struct iscsi_cmd *cmd,
			const uint8_t *bhs, const uint8_t *data,
			uint32_t dlen)
{
	uint32_t ttt = iscsi_get32(bhs + 20);
	uint32_t datasn = iscsi_get32(bhs + 36), off = iscsi_get32(bhs + 40);
	bool final = (bhs[1] & ISCSI_FLAG_FINAL) != 0;

	if (ttt == ISCSI_RSVD_TAG) {
		if (cmd->unsol_done || off + dlen > cmd->unsol_end)
			return -1;
	} else if (ttt != cmd->ttt || !cmd->unsol_done || cmd->r2t_out == 0) {
		return -1;
	}
	/* DataPDUInOrder=Yes: data comes at increasing offsets. */
	if (off != cmd->data_got || (uint64_t)off + dlen > cmd->edtl)
		return -1;
	if (cmd->data_got == cmd->seq_end && ttt != ISCSI_RSVD_TAG) {
		/* A new R2T sequence: DataSN starts again at 0. */
		cmd->exp_datasn = 0;
		cmd->seq_end = cmd->data_got + c->p.max_burst;
		if (cmd->seq_end > cmd->edtl || cmd->seq_end < cmd->data_got)
			cmd->seq_end = cmd->edtl;
	}
	if (datasn != cmd->exp_datasn) {
		log_warn("iscsi %s: Data-Out DataSN %u, expected %u", c->peer,
			 datasn, cmd->exp_datasn);
		return -1;
	}
	cmd->exp_datasn++;
	/* Data received in place is where it belongs already. */
	if (dlen > 0 && data != cmd->buf + off)
		memcpy(cmd->buf + off, data, dlen);
	cmd->data_got += dlen;
	if (ttt == ISCSI_RSVD_TAG) {
		if (final || cmd->data_got == cmd->unsol_end)
			cmd_unsol_end(cmd);
	} else if (final || cmd->data_got == cmd->seq_end) {
		cmd->r2t_out--;
		if (cmd->data_got < cmd->seq_end)
			/* The initiator ended the burst early. */
			return -1;
	}
	cmd_write_progress(c, cmd);
	return 0;
}

static void cmd_abort(struct iscsi_conn *c, struct iscsi_cmd *cmd,
		      struct iscsi_tmf *tmf);

uint8_t *iscsi_cmd_data_out_dest(struct iscsi_conn *c, const uint8_t *bhs,
				 uint32_t dlen, struct iscsi_cmd **held)
{
	struct iscsi_cmd *cmd = iscsi_cmd_find(c, iscsi_bhs_itt(bhs));
	uint32_t off = iscsi_get32(bhs + 40);

	/* The range checks of cmd_data_out: the bytes land inside the
	 * buffer, past what was accepted so far.  The rest (DataSN, TTT,
	 * burst) is checked when the PDU is complete, as for any other. */
	if (cmd == NULL || cmd->state != CMD_DATA_OUT || cmd->buf == NULL ||
	    off != cmd->data_got || (uint64_t)off + dlen > cmd->edtl)
		return NULL;
	cmd->refs++;
	*held = cmd;
	return cmd->buf + off;
}

int iscsi_cmd_data_out(struct iscsi_conn *c, const uint8_t *bhs,
		       const uint8_t *data, uint32_t dlen)
{
	struct iscsi_cmd *cmd = iscsi_cmd_find(c, iscsi_bhs_itt(bhs));

	if (cmd == NULL || cmd->state != CMD_DATA_OUT) {
		/* Data for a task that was aborted or refused (or already
		 * complete): dropped, as RFC 7143 allows. */
		return 0;
	}
	if (cmd_data_out(c, cmd, bhs, data, dlen) == 0)
		return 0;
	/* A sequence error (DataSN, offset, TTT, length).  ERL 0 has no
	 * recovery within the task: the caller rejects the PDU and the task
	 * is dropped without status, which ends it at the initiator. */
	cmd_abort(c, cmd, NULL);
	return -1;
}

/* ---- command arrival ------------------------------------------------------ */

static const enum tgt_task_attr attr_map[8] = {
	TGT_TASK_SIMPLE,	/* 0: untagged, treated as simple */
	TGT_TASK_SIMPLE,	/* 1 */
	TGT_TASK_ORDERED,	/* 2 */
	TGT_TASK_HEAD_OF_QUEUE,	/* 3 */
	TGT_TASK_ACA,		/* 4 */
	TGT_TASK_SIMPLE, TGT_TASK_SIMPLE, TGT_TASK_SIMPLE, /* reserved */
};

/* CDB from the BHS and an Extended CDB AHS (type 1); 0 or -1. */
static int cmd_take_cdb(struct tgt_task *task, const uint8_t *bhs,
			const uint8_t *ahs)
{
	uint32_t ahs_len = iscsi_bhs_ahs_len(bhs);
	unsigned total = 16;

	memcpy(task->cdb, bhs + 32, 16);
	for (uint32_t o = 0; o + 4 <= ahs_len;) {
		uint32_t l = iscsi_get16(ahs + o);
		uint8_t type = ahs[o + 2];
		uint32_t span = (4 + l + 3) & ~3u;
		if (o + 4 + l > ahs_len && !(type == 1 && l > 0 &&
					     o + 3 + l <= ahs_len))
			return -1;
		if (type == 1) {
			/* AHSLength counts the reserved byte too. */
			if (l < 1 || 16 + l - 1 > sizeof(task->cdb))
				return -1;
			memcpy(task->cdb + 16, ahs + o + 4, l - 1);
			total = 16 + l - 1;
		}
		o += span;
	}
	unsigned want = scsi_cdb_length(task->cdb, total);
	task->cdb_len = (uint8_t)(want != 0 && want <= total ? want : total);
	return 0;
}

/*
 * A SCSI Command up to its immediate data: checks, the task, its buffer.
 * Returns the command (the caller's reference) when it waits for its
 * immediate data (cmd_immediate), or NULL when it has been answered or
 * handed to the engine already.
 */
static struct iscsi_cmd *cmd_begin(struct iscsi_conn *c, const uint8_t *bhs,
				   const uint8_t *ahs, uint32_t dlen)
{
	struct iscsi_srv *s = c->srv;
	uint8_t flags = bhs[1];
	bool rd = (flags & ISCSI_CMD_READ) != 0;
	bool wr = (flags & ISCSI_CMD_WRITE) != 0;
	bool final = (flags & ISCSI_FLAG_FINAL) != 0;
	uint32_t itt = iscsi_bhs_itt(bhs), edtl = iscsi_get32(bhs + 20);

	if (itt == ISCSI_RSVD_TAG) {
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_INVALID_PDU_FIELD);
		return NULL;
	}
	if (iscsi_cmd_find(c, itt) != NULL) {
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_TASK_IN_PROGRESS);
		return NULL;
	}
	if (rd && wr) {
		/* Bidirectional commands: no SBC command here needs them. */
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_CMD_NOT_SUPPORTED);
		return NULL;
	}
	if ((dlen > 0 && (!wr || !c->p.immediate_data)) || dlen > edtl ||
	    (wr && dlen > c->p.first_burst) ||
	    (wr && !final && c->p.initial_r2t)) {
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return NULL;
	}
	if (!rd && !wr)
		edtl = 0;	/* no data phase whatever the length says */

	struct iscsi_cmd *cmd = cmd_alloc(c);
	if (cmd == NULL) {
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_OUT_OF_RESOURCES);
		return NULL;
	}
	cmd->itt = itt;
	cmd->cmdsn = iscsi_get32(bhs + 24);
	cmd->edtl = edtl;
	cmd->lun = iscsi_lun_decode(bhs + 8);
	cmd->read = rd;
	cmd->write = wr;
	cmd->ttt = c->next_ttt++ & 0x3fffffffu;
	struct tgt_task *task = &cmd->task;
	task->lun = cmd->lun;
	task->tag = itt;
	task->attr = attr_map[flags & ISCSI_CMD_ATTR_MASK];
	task->dir = rd ? TGT_DIR_READ : wr ? TGT_DIR_WRITE : TGT_DIR_NONE;
	task->data_len = edtl;
	task->iov = &cmd->iov;
	task->iovcnt = 0;
	task->loop = c->loop;
	task->done = cmd_done;
	task->done_arg = cmd;
	cmd_link(c, cmd);

	if (cmd_take_cdb(task, bhs, ahs) < 0) {
		/* Nothing to hand the engine: answer for it. */
		cmd_fail(c, cmd, SCSI_STATUS_CHECK_CONDITION,
			 SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
		goto out_put;
	}
	if (edtl > s->max_cmd_data) {
		cmd_fail(c, cmd, SCSI_STATUS_CHECK_CONDITION,
			 SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_INVALID_FIELD_IN_CDB);
		goto out_put;
	}
	if (edtl > 0) {
		if (c->data_buffered + edtl > s->max_conn_data) {
			/* The initiator retries once earlier tasks finish. */
			cmd_fail(c, cmd, SCSI_STATUS_TASK_SET_FULL, 0, 0);
			goto out_put;
		}
		size_t alloc = ((size_t)edtl + 4095) & ~(size_t)4095;
		/* Page alignment suits O_DIRECT backends. */
		cmd->buf = aligned_alloc(4096, alloc);
		if (cmd->buf == NULL) {
			cmd_fail(c, cmd, SCSI_STATUS_TASK_SET_FULL, 0, 0);
			goto out_put;
		}
		cmd->iov.iov_base = cmd->buf;
		cmd->iov.iov_len = edtl;
		task->iovcnt = 1;
		c->data_buffered += edtl;
	}
	if (!wr) {
		cmd_submit(c, cmd);
		goto out_put;
	}
	cmd->state = CMD_DATA_OUT;
	return cmd;
out_put:
	iscsi_cmd_put(cmd);
	return NULL;
}

/* The immediate data of a command from cmd_begin has come (into its
 * buffer already when data is the buffer). */
static void cmd_immediate(struct iscsi_conn *c, struct iscsi_cmd *cmd,
			  const uint8_t *bhs, const uint8_t *data,
			  uint32_t dlen)
{
	/* Immediate data, then unsolicited Data-Out up to FirstBurstLength
	 * unless F says none follows, then R2Ts. */
	if (dlen > 0 && data != cmd->buf)
		memcpy(cmd->buf, data, dlen);
	cmd->data_got = dlen;
	cmd->exp_datasn = 0;
	if (bhs[1] & ISCSI_FLAG_FINAL) {
		cmd_unsol_end(cmd);
	} else {
		uint32_t fb = c->p.first_burst;
		cmd->unsol_end = cmd->edtl < fb ? cmd->edtl : fb;
		cmd->seq_end = cmd->unsol_end;
		if (cmd->data_got >= cmd->unsol_end)
			cmd_unsol_end(cmd);
	}
	cmd_write_progress(c, cmd);
}

void iscsi_cmd_receive(struct iscsi_conn *c, const uint8_t *bhs,
		       const uint8_t *ahs, const uint8_t *data, uint32_t dlen)
{
	struct iscsi_cmd *cmd = cmd_begin(c, bhs, ahs, dlen);

	if (cmd == NULL)
		return;
	cmd_immediate(c, cmd, bhs, data, dlen);
	iscsi_cmd_put(cmd);
}

uint8_t *iscsi_cmd_receive_begin(struct iscsi_conn *c, const uint8_t *bhs,
				 const uint8_t *ahs, uint32_t dlen,
				 struct iscsi_cmd **held)
{
	struct iscsi_cmd *cmd = cmd_begin(c, bhs, ahs, dlen);

	if (cmd == NULL)
		return NULL;
	*held = cmd;
	return cmd->buf;
}

void iscsi_cmd_receive_end(struct iscsi_conn *c, struct iscsi_cmd *cmd,
			   const uint8_t *bhs, uint32_t dlen)
{
	/* Unless something dropped the task meanwhile (an abort posted from
	 * another session's LUN reset): then the data goes with it. */
	if (cmd->state == CMD_DATA_OUT && !cmd->aborted &&
	    iscsi_cmd_find(c, cmd->itt) == cmd)
		cmd_immediate(c, cmd, bhs, cmd->buf, dlen);
	iscsi_cmd_put(cmd);
}


/* ---- task management ------------------------------------------------------ */

static void tmf_send(struct iscsi_conn *c, struct iscsi_tmf *tmf)
{
	static const enum tgt_tmf engine_fn[] = {
		[ISCSI_TMF_ABORT_TASK_SET] = TGT_TMF_ABORT_TASK_SET,
		[ISCSI_TMF_CLEAR_ACA] = TGT_TMF_CLEAR_ACA,
		[ISCSI_TMF_CLEAR_TASK_SET] = TGT_TMF_CLEAR_TASK_SET,
		[ISCSI_TMF_LUN_RESET] = TGT_TMF_LUN_RESET,
		[ISCSI_TMF_TARGET_WARM_RESET] = TGT_TMF_TARGET_WARM_RESET,
		[ISCSI_TMF_TARGET_COLD_RESET] = TGT_TMF_TARGET_COLD_RESET,
	};

	if (tmf->response == ISCSI_TMF_RSP_COMPLETE &&
	    tmf->func != ISCSI_TMF_ABORT_TASK &&
	    tmf->func <= ISCSI_TMF_TARGET_COLD_RESET && c->tgt != NULL) {
		int r = tgt_tmf(c->tgt, c->nexus, engine_fn[tmf->func],
				tmf->lun);
		if (r < 0)
			tmf->response = r == -ENOTSUP
						? ISCSI_TMF_RSP_NOT_SUPPORTED
						: ISCSI_TMF_RSP_REJECTED;
	}
	struct iscsi_tx *t = iscsi_tx_alloc(c);
	if (t == NULL) {
		iscsi_conn_close(c, "out of memory");
		return;
	}
	memset(t->hdr, 0, ISCSI_BHS_LEN);
	t->hdr[0] = ISCSI_OP_TMF_RSP;
	t->hdr[1] = ISCSI_FLAG_FINAL;
	t->hdr[2] = tmf->response;
	iscsi_put32(t->hdr + 16, tmf->itt);
	iscsi_conn_fill_sn(c, t->hdr, true);
	if (tmf->func == ISCSI_TMF_TARGET_COLD_RESET &&
	    tmf->response == ISCSI_TMF_RSP_COMPLETE) {
		/* A cold reset ends this session too, once answered. */
		t->close_after = true;
		c->state = CONN_LOGOUT;
	}
	iscsi_conn_queue(c, t);
}

static void tmf_task_done(struct iscsi_conn *c, struct iscsi_tmf *tmf)
{
	if (tmf->waiting > 0 && --tmf->waiting > 0)
		return;
	for (struct iscsi_tmf **pp = &c->tmfs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == tmf) {
			*pp = tmf->next;
			tmf_send(c, tmf);
			free(tmf);
			return;
		}
}

static void cmd_abort(struct iscsi_conn *c, struct iscsi_cmd *cmd,
		      struct iscsi_tmf *tmf)
{
	if (cmd->aborted || cmd->state == CMD_DONE)
		return;
	cmd->aborted = true;
	if (cmd->state == CMD_DATA_OUT) {
		/* Never reached the engine: just forget it. */
		cmd->state = CMD_DONE;
		cmd_unlink(c, cmd);
		return;
	}
	if (tmf != NULL) {
		cmd->tmf = tmf;
		tmf->waiting++;
	}
	tgt_task_abort(&cmd->task);
}

void iscsi_cmd_abort_lun(struct iscsi_conn *c, uint32_t lun,
			 struct iscsi_tmf *tmf)
{
	struct iscsi_cmd *cmd = c->cmds;

	while (cmd != NULL) {
		struct iscsi_cmd *next = cmd->next;
		if (lun == UINT32_MAX || cmd->lun == lun)
			cmd_abort(c, cmd, tmf);
		cmd = next;
	}
}

void iscsi_cmd_tmf(struct iscsi_conn *c, const uint8_t *bhs)
{
	uint8_t func = bhs[1] & 0x7f;
	uint32_t rtt = iscsi_get32(bhs + 20), refsn = iscsi_get32(bhs + 32);
	struct iscsi_tmf *tmf = calloc(1, sizeof(*tmf));
	struct iscsi_cmd *cmd;

	if (tmf == NULL) {
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_OUT_OF_RESOURCES);
		return;
	}
	tmf->itt = iscsi_bhs_itt(bhs);
	tmf->func = func;
	tmf->lun = iscsi_lun_decode(bhs + 8);
	tmf->response = ISCSI_TMF_RSP_COMPLETE;
	tmf->waiting = 1;	/* ours, dropped below */
	log_debug("iscsi %s: TMF %u lun %u ref itt 0x%x", c->peer, func,
		  tmf->lun, rtt);

	bool lun_scope = func == ISCSI_TMF_ABORT_TASK ||
			 func == ISCSI_TMF_ABORT_TASK_SET ||
			 func == ISCSI_TMF_CLEAR_ACA ||
			 func == ISCSI_TMF_CLEAR_TASK_SET ||
			 func == ISCSI_TMF_LUN_RESET;
	if (lun_scope && (tmf->lun == UINT32_MAX ||
			  tgt_target_lun(c->tgt, tmf->lun) == NULL)) {
		tmf->response = ISCSI_TMF_RSP_NO_LUN;
		goto out_queue;
	}
	switch (func) {
	case ISCSI_TMF_ABORT_TASK:
		cmd = iscsi_cmd_find(c, rtt);
		if (cmd == NULL && iscsi_conn_drop_deferred(c, rtt))
			break;		/* it will never run */
		if (cmd == NULL || cmd->lun != tmf->lun) {
			/* Not seen yet (in the window, after ExpCmdSN): it
			 * will never run, which is what was asked. */
			bool future = iscsi_sn_le(c->exp_cmdsn, refsn) &&
				      iscsi_sn_le(refsn, c->max_cmdsn);
			tmf->response = future && cmd == NULL
						? ISCSI_TMF_RSP_COMPLETE
						: ISCSI_TMF_RSP_NO_TASK;
			break;
		}
		cmd_abort(c, cmd, tmf);
		break;
	case ISCSI_TMF_ABORT_TASK_SET:
	case ISCSI_TMF_CLEAR_TASK_SET:
	case ISCSI_TMF_LUN_RESET:
		iscsi_cmd_abort_lun(c, tmf->lun, tmf);
		/* Tasks of other initiators go too, except for ABORT TASK
		 * SET which is the issuer's own. */
		if (func != ISCSI_TMF_ABORT_TASK_SET)
			iscsi_srv_broadcast_abort(c->srv, c, c->tgt, tmf->lun,
						  false);
		break;
	case ISCSI_TMF_CLEAR_ACA:
		break;
	case ISCSI_TMF_TARGET_WARM_RESET:
	case ISCSI_TMF_TARGET_COLD_RESET:
		iscsi_cmd_abort_lun(c, UINT32_MAX, tmf);
		iscsi_srv_broadcast_abort(c->srv, c, c->tgt, UINT32_MAX,
					  func == ISCSI_TMF_TARGET_COLD_RESET);
		break;
	case ISCSI_TMF_TASK_REASSIGN:
		/* ERL 0: no connection to reassign to. */
		tmf->response = ISCSI_TMF_RSP_NO_REASSIGN;
		break;
	default:
		tmf->response = ISCSI_TMF_RSP_NOT_SUPPORTED;
		break;
	}
out_queue:
	tmf->next = c->tmfs;
	c->tmfs = tmf;
	tmf_task_done(c, tmf);	/* drops our count; answers if none wait */
}

void iscsi_cmd_conn_closed(struct iscsi_conn *c)
{
	struct iscsi_cmd *cmd = c->cmds;

	while (cmd != NULL) {
		struct iscsi_cmd *next = cmd->next;
		cmd->tmf = NULL;
		bool submitted = cmd->state == CMD_SUBMITTED;
		cmd->refs++;
		cmd_unlink(c, cmd);
		if (submitted && !cmd->aborted) {
			/* The engine lets I/O already at the backend finish;
			 * cmd (and the connection's memory) stay until
			 * done runs. */
			cmd->aborted = true;
			tgt_task_abort(&cmd->task);
		}
		iscsi_cmd_put(cmd);
		cmd = next;
	}
}
