/*
 * The initiator's full feature phase (RFC 7143 sections 4.2, 11): tasks
 * and the PDUs that belong to them.
 *
 *   SCSI Command  CmdSN from the session window (queued on s->pending
 *                 while CmdSN > MaxCmdSN), immediate data up to
 *                 FirstBurstLength / MaxRecvDataSegmentLength, then
 *                 unsolicited Data-Out when InitialR2T=No
 *   R2T           Data-Out PDUs for the requested range
 *   Data-In       checked (DataSN in order, range inside the command) and
 *                 copied into the CCB; the S bit ends the command
 *   SCSI Response status, sense, residuals
 *   TMF           ABORT TASK / LUN RESET / TARGET WARM RESET for
 *                 XPT_ABORT / XPT_RESET_DEV / XPT_RESET_BUS
 *   NOP           our pings, answers to the target's
 *   Async, Reject, Logout
 * A PDU that breaks the rules (unknown ITT, data outside the command,
 * StatSN out of order, ...) makes ini_cmd_rx return -EPROTO: the caller
 * drops the connection and the session recovers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/scsi.h>

#include "iscsi/ini_int.h"

/* ---- tasks ---- */

void ini_list_add(struct ini_task_list *l, struct ini_task *t)
{
	t->next = NULL;
	t->prev = l->tail;
	if (l->tail)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
	l->n++;
}

void ini_list_del(struct ini_task_list *l, struct ini_task *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		l->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		l->tail = t->prev;
	t->next = t->prev = NULL;
	l->n--;
}

struct ini_task *ini_task_get(struct iscsi_ini *s, enum ini_task_kind k)
{
	struct ini_task *t = s->free_head;

	if (!t)
		return NULL;
	s->free_head = t->next;
	t->next = t->prev = NULL;
	/* Generations keep a stale ITT (an answer for a task already ended
	 * and reused) from matching; bit 31 stays clear so no ITT is ever
	 * the reserved 0xffffffff. */
	t->gen = (uint16_t)((t->gen + 1) & 0x7fff);
	if (t->gen == 0)
		t->gen = 1;
	t->itt = (uint32_t)t->gen << 16 | t->idx;
	t->kind = k;
	t->ccb = NULL;
	t->queued = false;
	t->rd = t->wr = false;
	t->len = t->in_got = t->exp_datasn = t->r2tsn = 0;
	t->victim = NULL;
	return t;
}

void ini_task_put(struct iscsi_ini *s, struct ini_task *t)
{
	t->kind = T_FREE;
	t->ccb = NULL;
	t->next = s->free_head;
	s->free_head = t;
}

struct ini_task *ini_task_by_itt(struct iscsi_ini *s, uint32_t itt)
{
	uint32_t idx = itt & 0xffff;
	struct ini_task *t;

	if (idx >= INI_NTASKS)
		return NULL;
	t = &s->tasks[idx];
	if (t->kind == T_FREE || t->itt != itt)
		return NULL;
	return t;
}

/* The task holding ccb, if it is one of ours. */
static struct ini_task *ini_task_of_ccb(struct iscsi_ini *s, union ccb *ccb)
{
	struct ini_task *t = ccb->ccb_h.sim_priv.spriv_ptr0;

	if (!t || t < s->tasks || t >= s->tasks + INI_NTASKS ||
	    t->kind != T_CMD || t->ccb != ccb)
		return NULL;
	return t;
}

void ini_ccb_copy(union ccb *ccb, uint32_t off, void *buf, uint32_t len,
		  bool to_ccb)
{
	struct ccb_scsiio *c = &ccb->csio;
	uint8_t *b = buf;

	if (!(c->ccb_h.flags & CAM_SCATTER_VALID)) {
		if (to_ccb)
			memcpy(c->data_ptr + off, b, len);
		else
			memcpy(b, c->data_ptr + off, len);
		return;
	}
	const struct iovec *iov = (const struct iovec *)(void *)c->data_ptr;

	for (uint16_t i = 0; i < c->sglist_cnt && len > 0; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= (uint32_t)l;
			continue;
		}
		size_t n = l - off < len ? l - off : len;

		if (to_ccb)
			memcpy((uint8_t *)iov[i].iov_base + off, b, n);
		else
			memcpy(b, (uint8_t *)iov[i].iov_base + off, n);
		b += n;
		len -= (uint32_t)n;
		off = 0;
	}
}

static void ini_ccb_finish(struct iscsi_ini *s, struct ini_task *t,
			   uint32_t status)
{
	union ccb *ccb = t->ccb;

	if (t->queued)
		ini_list_del(&s->pending, t);
	else
		ini_list_del(&s->active, t);
	ini_task_put(s, t);
	if (ccb) {
		ccb->ccb_h.sim_priv.spriv_ptr0 = NULL;
		ccb->ccb_h.status = status;
		xpt_done(ccb);
	}
}

/* ---- sequence numbers ---- */

void ini_sn_update(struct iscsi_ini *s, const uint8_t *bhs)
{
	uint32_t exp = iscsi_get32(bhs + 28), max = iscsi_get32(bhs + 32);

	/* RFC 7143 4.2.2.1: a MaxCmdSN below ExpCmdSN - 1 is ignored. */
	if (iscsi_sn_lt(max, exp - 1))
		return;
	if (iscsi_sn_lt(s->exp_cmdsn, exp))
		s->exp_cmdsn = exp;
	if (iscsi_sn_lt(s->max_cmdsn, max))
		s->max_cmdsn = max;
}

/* StatSN of a PDU that carries status: exactly the next one. */
static int ini_statsn_take(struct iscsi_ini *s, const uint8_t *bhs)
{
	uint32_t sn = iscsi_get32(bhs + 24);

	if (sn != s->exp_statsn) {
		log_warn("iscsi-ini: StatSN %u, expected %u", sn,
			 s->exp_statsn);
		return -EPROTO;
	}
	s->exp_statsn = sn + 1;
	return 0;
}

/* ---- SCSI commands ---- */

static uint8_t ini_task_attr(uint8_t tag_action)
{
	switch (tag_action) {
	case MSG_HEAD_OF_Q_TAG:
		return 3;
	case MSG_ORDERED_Q_TAG:
		return 2;
	default:
		return 1;	/* SIMPLE */
	}
}

/* Send Data-Out PDUs for [off, off+len) under ttt. */
static void ini_data_out(struct iscsi_ini *s, struct ini_task *t,
			 uint32_t ttt, uint32_t off, uint32_t len)
{
	uint32_t mx = s->neg.max_xmit_dsl, datasn = 0;

	while (len > 0) {
		uint8_t bhs[ISCSI_BHS_LEN];
		uint32_t n = len < mx ? len : mx;

		memset(bhs, 0, sizeof(bhs));
		bhs[0] = ISCSI_OP_DATA_OUT;
		bhs[1] = n == len ? ISCSI_FLAG_FINAL : 0;
		iscsi_lun_encode(bhs + 8, t->lun);
		iscsi_put32(bhs + 16, t->itt);
		iscsi_put32(bhs + 20, ttt);
		iscsi_put32(bhs + 36, datasn++);
		iscsi_put32(bhs + 40, off);
		ini_send_pdu_ccb(s, bhs, t->ccb, off, n);
		off += n;
		len -= n;
	}
}

static void ini_cmd_send(struct iscsi_ini *s, struct ini_task *t)
{
	struct ccb_scsiio *c = &t->ccb->csio;
	const uint8_t *cdb = (c->ccb_h.flags & CAM_CDB_POINTER)
				     ? c->cdb_io.cdb_ptr
				     : c->cdb_io.cdb_bytes;
	uint8_t bhs[ISCSI_BHS_LEN];
	uint32_t imm = 0, unsol = 0;

	if (t->wr) {
		uint32_t fb = s->neg.first_burst < t->len ? s->neg.first_burst
							  : t->len;

		if (s->neg.immediate_data)
			imm = fb < s->neg.max_xmit_dsl ? fb
						       : s->neg.max_xmit_dsl;
		unsol = s->neg.initial_r2t ? imm : fb;
	}
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_SCSI_CMD;
	bhs[1] = (uint8_t)((unsol == imm ? ISCSI_FLAG_FINAL : 0) |
			   (t->rd ? ISCSI_CMD_READ : 0) |
			   (t->wr ? ISCSI_CMD_WRITE : 0) |
			   ini_task_attr(c->ccb_h.tag_action));
	iscsi_lun_encode(bhs + 8, t->lun);
	iscsi_put32(bhs + 16, t->itt);
	iscsi_put32(bhs + 20, t->len);
	iscsi_put32(bhs + 24, t->cmdsn);
	memcpy(bhs + 32, cdb, c->cdb_len);
	s->st_cmds++;
	if (imm)
		ini_send_pdu_ccb(s, bhs, t->ccb, 0, imm);
	else
		ini_send_pdu(s, bhs, NULL, 0);
	if (unsol > imm)
		ini_data_out(s, t, ISCSI_RSVD_TAG, imm, unsol - imm);
}

void ini_cmd_kick(struct iscsi_ini *s)
{
	while (s->state == INI_S_FULL && s->pending.head &&
	       iscsi_sn_le(s->cmdsn, s->max_cmdsn) &&
	       s->tx_bytes_queued < INI_TX_CAP) {
		struct ini_task *t = s->pending.head;

		ini_list_del(&s->pending, t);
		t->queued = false;
		ini_list_add(&s->active, t);
		t->cmdsn = s->cmdsn++;
		ini_cmd_send(s, t);
		if (s->state != INI_S_FULL)
			return;
	}
}

void ini_cmd_submit(struct iscsi_ini *s, union ccb *ccb)
{
	struct ccb_scsiio *c = &ccb->csio;
	uint32_t dir = c->ccb_h.flags & CAM_DIR_MASK;
	struct ini_task *t;

	if (c->cdb_len == 0 || c->cdb_len > 16 || dir == CAM_DIR_BOTH ||
	    (c->ccb_h.flags & (CAM_CDB_PHYS | CAM_DATA_PHYS |
			       CAM_SG_LIST_PHYS))) {
		/* Extended CDBs (AHS) and bidirectional commands are not
		 * offered. */
		c->ccb_h.status = CAM_REQ_INVALID;
		xpt_done(ccb);
		return;
	}
	t = ini_task_get(s, T_CMD);
	if (!t) {
		c->ccb_h.status = CAM_RESRC_UNAVAIL;
		xpt_done(ccb);
		return;
	}
	t->ccb = ccb;
	t->lun = (uint32_t)c->ccb_h.target_lun;
	t->len = dir == CAM_DIR_NONE ? 0 : c->dxfer_len;
	t->rd = dir == CAM_DIR_IN && t->len;
	t->wr = dir == CAM_DIR_OUT && t->len;
	c->scsi_status = SCSI_STATUS_GOOD;
	c->resid = 0;
	c->sense_resid = 0;
	ccb->ccb_h.sim_priv.spriv_ptr0 = t;
	ccb->ccb_h.status = CAM_REQ_INPROG | CAM_SIM_QUEUED;
	t->queued = true;
	ini_list_add(&s->pending, t);
	ini_cmd_kick(s);
}

/* Status from a SCSI Response or a Data-In with S. */
static void ini_cmd_status(struct iscsi_ini *s, struct ini_task *t,
			   const uint8_t *bhs, const uint8_t *data,
			   uint32_t dlen, bool rsp)
{
	struct ccb_scsiio *c = &t->ccb->csio;
	uint8_t flags = bhs[1], status = bhs[3];
	uint32_t resid = 0, st;

	if (flags & ISCSI_RSP_UNDER) {
		resid = iscsi_get32(bhs + 44);
		if (resid > t->len)
			resid = t->len;
	} else if (t->rd && t->in_got < t->len && status == SCSI_STATUS_GOOD &&
		   !rsp) {
		resid = t->len - t->in_got;
	}
	c->resid = resid;
	c->scsi_status = status;
	if (rsp && bhs[2] != ISCSI_RESPONSE_COMPLETED) {
		st = CAM_REQ_CMP_ERR;
	} else if (status == SCSI_STATUS_GOOD) {
		st = CAM_REQ_CMP;
	} else {
		st = CAM_SCSI_STATUS_ERROR;
		if (rsp && dlen >= 2) {
			uint32_t slen = iscsi_get16(data);

			if (slen > dlen - 2)
				slen = dlen - 2;
			if (slen > 0) {
				uint32_t want = c->sense_len < SCSI_SENSE_MAX
							? c->sense_len
							: SCSI_SENSE_MAX;
				uint32_t n = slen < want ? slen : want;

				memset(c->sense_data, 0, sizeof(c->sense_data));
				memcpy(c->sense_data, data + 2, n);
				c->sense_resid = (uint8_t)(want - n);
				st |= CAM_AUTOSNS_VALID;
			}
		}
	}
	ini_ccb_finish(s, t, st);
}

static int ini_rx_data_in(struct iscsi_ini *s, const uint8_t *bhs,
			  const uint8_t *data, uint32_t dlen)
{
	struct ini_task *t = ini_task_by_itt(s, iscsi_bhs_itt(bhs));
	uint32_t off = iscsi_get32(bhs + 40), sn = iscsi_get32(bhs + 36);
	bool sbit = bhs[1] & ISCSI_DATAIN_STATUS;

	if (!t || t->kind != T_CMD || t->queued)
		return -EPROTO;
	if (dlen && !t->rd)
		return -EPROTO;
	if (sn != t->exp_datasn || off > t->len || dlen > t->len - off)
		return -EPROTO;
	if (sbit && !(bhs[1] & ISCSI_FLAG_FINAL))
		return -EPROTO;
	t->exp_datasn++;
	if (dlen) {
		ini_ccb_copy(t->ccb, off, (void *)data, dlen, true);
		t->in_got += dlen;
	}
	if (sbit) {
		if (ini_statsn_take(s, bhs) < 0)
			return -EPROTO;
		ini_cmd_status(s, t, bhs, NULL, 0, false);
	}
	return 0;
}

static int ini_rx_rsp(struct iscsi_ini *s, const uint8_t *bhs,
		      const uint8_t *data, uint32_t dlen)
{
	struct ini_task *t = ini_task_by_itt(s, iscsi_bhs_itt(bhs));

	if (!t || t->kind != T_CMD || t->queued)
		return -EPROTO;
	if (ini_statsn_take(s, bhs) < 0)
		return -EPROTO;
	ini_cmd_status(s, t, bhs, data, dlen, true);
	return 0;
}

static int ini_rx_r2t(struct iscsi_ini *s, const uint8_t *bhs)
{
	struct ini_task *t = ini_task_by_itt(s, iscsi_bhs_itt(bhs));
	uint32_t ttt = iscsi_get32(bhs + 20), r2tsn = iscsi_get32(bhs + 36);
	uint32_t off = iscsi_get32(bhs + 40), len = iscsi_get32(bhs + 44);

	if (!t || t->kind != T_CMD || t->queued || !t->wr)
		return -EPROTO;
	if (ttt == ISCSI_RSVD_TAG || r2tsn != t->r2tsn || len == 0 ||
	    off > t->len || len > t->len - off || len > s->neg.max_burst)
		return -EPROTO;
	t->r2tsn++;
	ini_data_out(s, t, ttt, off, len);
	return 0;
}

/* ---- task management ---- */

void ini_tmf_submit(struct iscsi_ini *s, union ccb *ccb, uint8_t func)
{
	struct ini_task *t, *victim = NULL;
	uint8_t bhs[ISCSI_BHS_LEN];

	if (func == ISCSI_TMF_ABORT_TASK) {
		union ccb *v = ccb->cab.abort_ccb;

		if (!v || v->ccb_h.func_code != XPT_SCSI_IO) {
			ccb->ccb_h.status = CAM_UA_ABORT;
			xpt_done(ccb);
			return;
		}
		victim = ini_task_of_ccb(s, v);
		if (!victim) {
			ccb->ccb_h.status = CAM_PATH_INVALID;
			xpt_done(ccb);
			return;
		}
		s->st_aborts++;
		if (victim->queued) {
			/* Never sent: nothing to tell the target. */
			ini_ccb_finish(s, victim, CAM_REQ_ABORTED);
			ccb->ccb_h.status = CAM_REQ_CMP;
			xpt_done(ccb);
			return;
		}
	} else {
		s->st_resets++;
	}
	t = ini_task_get(s, T_TMF);
	if (!t) {
		ccb->ccb_h.status = CAM_RESRC_UNAVAIL;
		xpt_done(ccb);
		return;
	}
	t->ccb = ccb;
	t->tmf_func = func;
	t->cmdsn = s->cmdsn;
	if (victim) {
		t->lun = victim->lun;
		t->ref_itt = victim->itt;
		t->ref_cmdsn = victim->cmdsn;
	} else {
		t->lun = func == ISCSI_TMF_LUN_RESET &&
				 ccb->ccb_h.target_lun != CAM_LUN_WILDCARD
			 ? (uint32_t)ccb->ccb_h.target_lun
			 : 0;
		t->ref_itt = ISCSI_RSVD_TAG;
		t->ref_cmdsn = 0;
	}
	ini_list_add(&s->active, t);
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_TMF_REQ | ISCSI_OP_IMMEDIATE;
	bhs[1] = (uint8_t)(ISCSI_FLAG_FINAL | func);
	iscsi_lun_encode(bhs + 8, t->lun);
	iscsi_put32(bhs + 16, t->itt);
	iscsi_put32(bhs + 20, t->ref_itt);
	iscsi_put32(bhs + 24, t->cmdsn);
	iscsi_put32(bhs + 32, t->ref_cmdsn);
	ini_send_pdu(s, bhs, NULL, 0);
}

/* Commands sent before a reset TMF that the target has now ended without
 * a response. */
static void ini_tmf_reap(struct iscsi_ini *s, struct ini_task *tmf,
			 uint32_t status)
{
	struct ini_task *t, *next;

	for (t = s->active.head; t; t = next) {
		next = t->next;
		if (t->kind != T_CMD || !iscsi_sn_lt(t->cmdsn, tmf->cmdsn))
			continue;
		if (tmf->tmf_func == ISCSI_TMF_LUN_RESET && t->lun != tmf->lun)
			continue;
		ini_ccb_finish(s, t, status);
	}
}

static int ini_rx_tmf(struct iscsi_ini *s, const uint8_t *bhs)
{
	struct ini_task *t = ini_task_by_itt(s, iscsi_bhs_itt(bhs));
	uint8_t resp = bhs[2];
	union ccb *ccb;
	struct cam_path *path = NULL;
	uint32_t st;

	if (!t || t->kind != T_TMF)
		return -EPROTO;
	if (ini_statsn_take(s, bhs) < 0)
		return -EPROTO;
	ccb = t->ccb;
	switch (t->tmf_func) {
	case ISCSI_TMF_ABORT_TASK: {
		struct ini_task *v = ini_task_by_itt(s, t->ref_itt);

		if (resp == ISCSI_TMF_RSP_COMPLETE ||
		    resp == ISCSI_TMF_RSP_NO_TASK) {
			/* Its response, if any, came before this one (one
			 * connection, in order): still held means ended. */
			if (v && v->kind == T_CMD)
				ini_ccb_finish(s, v, CAM_REQ_ABORTED);
			st = CAM_REQ_CMP;
		} else {
			st = CAM_UA_ABORT;
		}
		break;
	}
	case ISCSI_TMF_LUN_RESET:
	case ISCSI_TMF_TARGET_WARM_RESET: {
		bool lun = t->tmf_func == ISCSI_TMF_LUN_RESET;

		if (resp == ISCSI_TMF_RSP_COMPLETE) {
			ini_tmf_reap(s, t, lun ? CAM_BDR_SENT
					       : CAM_SCSI_BUS_RESET);
			st = CAM_REQ_CMP;
			if (xpt_create_path(&path, NULL, s->path_id,
					    lun ? 0 : CAM_TARGET_WILDCARD,
					    lun ? t->lun : CAM_LUN_WILDCARD) ==
			    CAM_REQ_CMP) {
				xpt_async(lun ? AC_SENT_BDR : AC_BUS_RESET,
					  path, NULL);
				xpt_free_path(path);
			}
		} else if (resp == ISCSI_TMF_RSP_NOT_SUPPORTED) {
			st = CAM_FUNC_NOTAVAIL;
		} else {
			st = CAM_REQ_CMP_ERR;
		}
		break;
	}
	default:
		st = CAM_REQ_CMP_ERR;
		break;
	}
	ini_list_del(&s->active, t);
	ini_task_put(s, t);
	if (ccb) {
		ccb->ccb_h.status = st;
		xpt_done(ccb);
	}
	return 0;
}

/* ---- NOP, async, logout, reject ---- */

void ini_nop_send(struct iscsi_ini *s)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	struct ini_task *t = ini_task_get(s, T_NOP);

	if (!t)
		return;
	ini_list_add(&s->active, t);
	s->nop_task = t;
	s->nop_sent = ev_now_ms();
	s->st_nops++;
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE;
	bhs[1] = ISCSI_FLAG_FINAL;
	iscsi_put32(bhs + 16, t->itt);
	iscsi_put32(bhs + 20, ISCSI_RSVD_TAG);
	iscsi_put32(bhs + 24, s->cmdsn);
	ini_send_pdu(s, bhs, NULL, 0);
}

static int ini_rx_nop_in(struct iscsi_ini *s, const uint8_t *bhs,
			 const uint8_t *data, uint32_t dlen)
{
	uint32_t itt = iscsi_bhs_itt(bhs), ttt = iscsi_get32(bhs + 20);

	if (itt != ISCSI_RSVD_TAG) {
		struct ini_task *t = ini_task_by_itt(s, itt);

		if (!t || t->kind != T_NOP || ttt != ISCSI_RSVD_TAG)
			return -EPROTO;
		if (ini_statsn_take(s, bhs) < 0)
			return -EPROTO;
		if (s->nop_task == t)
			s->nop_task = NULL;
		ini_list_del(&s->active, t);
		ini_task_put(s, t);
		return 0;
	}
	if (ttt == ISCSI_RSVD_TAG)
		return 0;	/* a bare SN update */
	/* The target pings: answer with its TTT and data. */
	uint8_t out[ISCSI_BHS_LEN];
	uint32_t n = dlen < s->neg.max_xmit_dsl ? dlen : s->neg.max_xmit_dsl;

	memset(out, 0, sizeof(out));
	out[0] = ISCSI_OP_NOP_OUT | ISCSI_OP_IMMEDIATE;
	out[1] = ISCSI_FLAG_FINAL;
	memcpy(out + 8, bhs + 8, 8);
	iscsi_put32(out + 16, ISCSI_RSVD_TAG);
	iscsi_put32(out + 20, ttt);
	iscsi_put32(out + 24, s->cmdsn);
	ini_send_pdu(s, out, data, n);
	return 0;
}

void ini_logout_send(struct iscsi_ini *s)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	struct ini_task *t = ini_task_get(s, T_LOGOUT);

	if (!t)
		return;
	ini_list_add(&s->active, t);
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_LOGOUT_REQ | ISCSI_OP_IMMEDIATE;
	bhs[1] = ISCSI_FLAG_FINAL | ISCSI_LOGOUT_CLOSE_SESSION;
	iscsi_put32(bhs + 16, t->itt);
	iscsi_put32(bhs + 24, s->cmdsn);
	s->state = INI_S_LOGOUT;
	ini_send_pdu(s, bhs, NULL, 0);
}

static void ini_post_reset(struct iscsi_ini *s)
{
	struct cam_path *path;

	if (xpt_create_path(&path, NULL, s->path_id, CAM_TARGET_WILDCARD,
			    CAM_LUN_WILDCARD) == CAM_REQ_CMP) {
		xpt_async(AC_BUS_RESET, path, NULL);
		xpt_free_path(path);
	}
}

static int ini_rx_async(struct iscsi_ini *s, const uint8_t *bhs)
{
	uint8_t ev = bhs[36];

	if (iscsi_get32(bhs + 24) == s->exp_statsn)
		s->exp_statsn++;
	switch (ev) {
	case 0:
		/* A SCSI asynchronous event: the sense reaches the
		 * peripherals as a UNIT ATTENTION on their next command. */
		log_info("iscsi-ini %s: SCSI async event", s->cfg.target);
		return 0;
	case ISCSI_ASYNC_LOGOUT_REQUEST:
	case 4:			/* renegotiation request: log out too */
		log_info("iscsi-ini %s: target asks for logout",
			 s->cfg.target);
		ini_post_reset(s);
		if (s->state == INI_S_FULL)
			ini_logout_send(s);
		return 0;
	case ISCSI_ASYNC_DROP_CONNECTION:
	case ISCSI_ASYNC_DROP_SESSION:
		log_info("iscsi-ini %s: target drops the connection",
			 s->cfg.target);
		ini_post_reset(s);
		return -ECONNRESET;
	default:
		return 0;
	}
}

int ini_cmd_rx(struct iscsi_ini *s, const uint8_t *bhs, const uint8_t *data,
	       uint32_t dlen)
{
	uint8_t op = iscsi_bhs_opcode(bhs);
	int rc;

	ini_sn_update(s, bhs);
	switch (op) {
	case ISCSI_OP_DATA_IN:
		rc = ini_rx_data_in(s, bhs, data, dlen);
		break;
	case ISCSI_OP_SCSI_RSP:
		rc = ini_rx_rsp(s, bhs, data, dlen);
		break;
	case ISCSI_OP_R2T:
		rc = dlen ? -EPROTO : ini_rx_r2t(s, bhs);
		break;
	case ISCSI_OP_NOP_IN:
		rc = ini_rx_nop_in(s, bhs, data, dlen);
		break;
	case ISCSI_OP_TMF_RSP:
		rc = ini_rx_tmf(s, bhs);
		break;
	case ISCSI_OP_ASYNC_MSG:
		rc = ini_rx_async(s, bhs);
		break;
	case ISCSI_OP_LOGOUT_RSP: {
		struct ini_task *t = ini_task_by_itt(s, iscsi_bhs_itt(bhs));

		if (!t || t->kind != T_LOGOUT || ini_statsn_take(s, bhs) < 0)
			return -EPROTO;
		ini_list_del(&s->active, t);
		ini_task_put(s, t);
		/* Logged out: reconnect (or, when destroying, stop). */
		return -ECONNRESET;
	}
	case ISCSI_OP_REJECT:
		log_warn("iscsi-ini %s: target rejected a PDU (reason 0x%02x)",
			 s->cfg.target, bhs[2]);
		return -EPROTO;
	default:
		log_warn("iscsi-ini %s: unexpected %s", s->cfg.target,
			 iscsi_op_name(op));
		return -EPROTO;
	}
	if (rc == 0)
		ini_cmd_kick(s);
	return rc;
}

void ini_cmd_fail_all(struct iscsi_ini *s, uint32_t status)
{
	struct ini_task *t;

	s->nop_task = NULL;
	while ((t = s->active.head) != NULL) {
		ini_list_del(&s->active, t);
		if (t->ccb) {
			union ccb *ccb = t->ccb;

			ccb->ccb_h.sim_priv.spriv_ptr0 = NULL;
			/* A TMF whose victims went back is moot: done. */
			ccb->ccb_h.status = t->kind == T_CMD ? status
				: status == CAM_NO_HBA ? CAM_NO_HBA
						       : CAM_REQ_CMP;
			xpt_done(ccb);
		}
		ini_task_put(s, t);
	}
	while ((t = s->pending.head) != NULL) {
		ini_list_del(&s->pending, t);
		if (t->ccb) {
			t->ccb->ccb_h.sim_priv.spriv_ptr0 = NULL;
			t->ccb->ccb_h.status = status;
			xpt_done(t->ccb);
		}
		ini_task_put(s, t);
	}
}
