/*
 * iSCSI target connections, the requests of the full feature phase that
 * are not SCSI: NOP-Out (answered, ping data echoed), target pings that
 * find a dead initiator, Text (SendTargets, answers longer than one PDU
 * sent in parts) and Logout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "iscsi/tgt_int.h"

/* The largest Text answer we build (SendTargets of many targets). */
#define TEXT_RSP_MAX 65536

/* ---- pings -------------------------------------------------------------- */

void iscsi_conn_nop_timer_cb(struct ev_timer *tm, void *arg)
{
	struct iscsi_conn *c = arg;
	struct iscsi_srv *s = c->srv;
	uint64_t now = ev_now_ms(), idle = now - c->last_rx_ms;

	if (c->state != CONN_FFP || iscsi_conn_pdu_timed_out(c))
		return;
	if (c->ping_out && idle >= s->nop_timeout_ms) {
		log_warn("iscsi: initiator %s (%s) stopped answering pings",
			 c->initiator, c->peer);
		iscsi_conn_close(c, "ping timeout");
		return;
	}
	if (c->ping_out || idle < s->nop_interval_ms)
		return;
	struct iscsi_tx *t = iscsi_tx_alloc(c);
	if (t == NULL)
		return;
	memset(t->hdr, 0, ISCSI_BHS_LEN);
	t->hdr[0] = ISCSI_OP_NOP_IN;
	t->hdr[1] = ISCSI_FLAG_FINAL;
	iscsi_put32(t->hdr + 16, ISCSI_RSVD_TAG);
	c->ping_ttt = 0x80000000u | (c->next_ttt++ & 0x7fffffffu);
	iscsi_put32(t->hdr + 20, c->ping_ttt);
	iscsi_conn_fill_sn(c, t->hdr, false);
	c->ping_out = true;
	iscsi_conn_queue(c, t);
}

/* ---- full feature phase: non-SCSI requests ------------------------------ */

void iscsi_conn_nop_out(struct iscsi_conn *c, const uint8_t *bhs,
			 const uint8_t *data, uint32_t dlen)
{
	uint32_t itt = iscsi_bhs_itt(bhs), ttt = iscsi_get32(bhs + 20);

	if (itt == ISCSI_RSVD_TAG) {
		/* An answer to our ping, or a ping wanting no answer. */
		if (ttt != ISCSI_RSVD_TAG && ttt == c->ping_ttt)
			c->ping_out = false;
		return;
	}
	if (ttt != ISCSI_RSVD_TAG) {
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return;
	}
	struct iscsi_tx *t = iscsi_tx_alloc(c);
	if (t == NULL)
		return;
	memset(t->hdr, 0, ISCSI_BHS_LEN);
	t->hdr[0] = ISCSI_OP_NOP_IN;
	t->hdr[1] = ISCSI_FLAG_FINAL;
	memcpy(t->hdr + 8, bhs + 8, 8);
	iscsi_put32(t->hdr + 16, itt);
	iscsi_put32(t->hdr + 20, ISCSI_RSVD_TAG);
	iscsi_conn_fill_sn(c, t->hdr, true);
	/* Echo the ping data, up to what the initiator accepts. */
	if (dlen > c->p.max_xmit_dsl)
		dlen = c->p.max_xmit_dsl;
	if (dlen > 0) {
		uint8_t *d = dlen <= sizeof(t->small) ? t->small : malloc(dlen);
		if (d == NULL) {
			iscsi_tx_free(c, t);
			return;
		}
		memcpy(d, data, dlen);
		if (d != t->small)
			t->owned = d;
		t->data = d;
		t->dlen = dlen;
	}
	iscsi_conn_queue(c, t);
}

/* Send the next part of a text answer; more parts follow with C set. */
static void conn_text_send(struct iscsi_conn *c, uint32_t itt,
			   const uint8_t *lun)
{
	struct iscsi_tx *t = iscsi_tx_alloc(c);
	uint32_t left = c->text_len - c->text_off;
	uint32_t n = left < c->p.max_xmit_dsl ? left : c->p.max_xmit_dsl;

	if (t == NULL)
		return;
	memset(t->hdr, 0, ISCSI_BHS_LEN);
	t->hdr[0] = ISCSI_OP_TEXT_RSP;
	memcpy(t->hdr + 8, lun, 8);
	iscsi_put32(t->hdr + 16, itt);
	uint8_t *d = n > 0 ? malloc(n) : NULL;
	if (n > 0 && d == NULL) {
		iscsi_tx_free(c, t);
		return;
	}
	if (n > 0)
		memcpy(d, c->text_rsp + c->text_off, n);
	t->owned = d;
	t->data = d;
	t->dlen = n;
	c->text_off += n;
	if (c->text_off < c->text_len) {
		t->hdr[1] = ISCSI_TEXT_CONTINUE;
		c->text_ttt = 0x40000000u | (c->next_ttt++ & 0x3fffffffu);
		iscsi_put32(t->hdr + 20, c->text_ttt);
	} else {
		t->hdr[1] = ISCSI_FLAG_FINAL;
		iscsi_put32(t->hdr + 20, ISCSI_RSVD_TAG);
		free(c->text_rsp);
		c->text_rsp = NULL;
		c->text_ttt = ISCSI_RSVD_TAG;
	}
	iscsi_conn_fill_sn(c, t->hdr, true);
	iscsi_conn_queue(c, t);
}

void iscsi_conn_text(struct iscsi_conn *c, const uint8_t *bhs,
		      const uint8_t *data, uint32_t dlen)
{
	uint32_t itt = iscsi_bhs_itt(bhs), ttt = iscsi_get32(bhs + 20);
	struct iscsi_kv kv[ISCSI_TEXT_MAX_PAIRS];

	if (ttt != ISCSI_RSVD_TAG) {
		/* The initiator asks for the next part of our answer. */
		if (c->text_rsp == NULL || ttt != c->text_ttt) {
			iscsi_conn_send_reject(c, bhs,
					       ISCSI_REJECT_INVALID_PDU_FIELD);
			return;
		}
		conn_text_send(c, itt, bhs + 8);
		return;
	}
	if (bhs[1] & ISCSI_TEXT_CONTINUE) {
		/* Requests spread over several PDUs are not taken; no key
		 * we answer needs more than one. */
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_CMD_NOT_SUPPORTED);
		return;
	}
	int n = iscsi_text_parse((const char *)data, dlen, kv,
				 ISCSI_TEXT_MAX_PAIRS);
	if (n < 0) {
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return;
	}
	free(c->text_rsp);
	c->text_rsp = malloc(TEXT_RSP_MAX);
	if (c->text_rsp == NULL)
		return;
	struct iscsi_text_out out;
	iscsi_text_out_init(&out, c->text_rsp, TEXT_RSP_MAX);
	for (int i = 0; i < n; i++) {
		if (strcmp(kv[i].key, "SendTargets") == 0) {
			const char *v = kv[i].value;
			if (strcmp(v, "All") == 0)
				iscsi_srv_send_targets(c->srv, c, NULL, &out);
			else if (v[0] == '\0' && !c->discovery)
				iscsi_srv_send_targets(c->srv, c,
						       c->target_name, &out);
			else if (v[0] != '\0')
				iscsi_srv_send_targets(c->srv, c, v, &out);
		} else {
			/* Nothing else is renegotiated after login. */
			iscsi_text_add(&out, kv[i].key, "NotUnderstood");
		}
	}
	c->text_len = (uint32_t)out.len;
	c->text_off = 0;
	conn_text_send(c, itt, bhs + 8);
}

void iscsi_conn_logout(struct iscsi_conn *c, const uint8_t *bhs)
{
	uint8_t reason = bhs[1] & 0x7f;
	struct iscsi_tx *t = iscsi_tx_alloc(c);

	if (t == NULL) {
		iscsi_conn_close(c, "out of memory");
		return;
	}
	memset(t->hdr, 0, ISCSI_BHS_LEN);
	t->hdr[0] = ISCSI_OP_LOGOUT_RSP;
	t->hdr[1] = ISCSI_FLAG_FINAL;
	memcpy(t->hdr + 16, bhs + 16, 4);
	switch (reason) {
	case ISCSI_LOGOUT_CLOSE_SESSION:
	case ISCSI_LOGOUT_CLOSE_CONNECTION:
		t->hdr[2] = ISCSI_LOGOUT_RSP_OK;
		t->close_after = true;
		break;
	case ISCSI_LOGOUT_REMOVE_FOR_RECOVERY:
		/* ERL 0: there is no connection recovery. */
		t->hdr[2] = ISCSI_LOGOUT_RSP_NO_RECOVERY;
		break;
	default:
		iscsi_tx_free(c, t);
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_INVALID_PDU_FIELD);
		return;
	}
	iscsi_conn_fill_sn(c, t->hdr, true);
	if (t->close_after) {
		c->state = CONN_LOGOUT;
		/* The I_T nexus ends with the logout: what it holds (an SPC-2
		 * reservation, a medium removal prevention) is released
		 * before the initiator can see the response and log in
		 * again.  Tasks still in flight keep their own reference. */
		if (c->nexus != NULL) {
			tgt_nexus_destroy(c->nexus);
			c->nexus = NULL;
		}
	}
	iscsi_conn_queue(c, t);
}

