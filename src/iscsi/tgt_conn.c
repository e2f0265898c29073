/*
 * iSCSI target connections: the socket, PDU framing and digests, the
 * transmit queue (writev batches, data sent from the commands' own
 * buffers), the login phase, CmdSN ordering, and the non-SCSI requests of
 * SNACK and Reject.  NOP, Text, Logout and target pings are in
 * tgt_req.c; SCSI commands, data and task management in tgt_cmd.c.
 *
 * Connection states (enum iscsi_conn_state):
 *   CONN_LOGIN  -> CONN_FFP     final Login Response sent with status 0
 *   CONN_LOGIN  -> closed       login failed (after the response) or timed
 *                               out
 *   CONN_FFP    -> CONN_LOGOUT  Logout Response queued; close once written
 *   any         -> CONN_CLOSED  socket closed; memory stays until the last
 *                               task the engine holds completes
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <scsikit/linkfault.h>
#include <scsikit/crc32c.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "iscsi/tgt_int.h"

/* PDUs written per writev (each takes up to three iovecs). */
#define TX_BATCH 128
#define TX_FREE_MAX 64

/* The server's lookup, answering with the portal group of the portal
 * the connection came in through. */
static uint16_t conn_login_lookup(void *arg, const char *target_name,
				  const char *initiator_name,
				  struct iscsi_login_target *t)
{
	struct iscsi_conn *c = arg;
	uint16_t st = iscsi_srv_login_lookup(c->srv, target_name,
					     initiator_name, t);

	t->tpgt = c->tpgt;
	return st;
}

static const struct iscsi_login_ops conn_login_ops = {
	.lookup = conn_login_lookup,
};

static void conn_io_cb(struct ev_io *io, int fd, uint32_t events, void *arg);
static void conn_flush(struct iscsi_conn *c);

/* ---- references --------------------------------------------------------- */

void iscsi_conn_hold(struct iscsi_conn *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void iscsi_conn_release(struct iscsi_conn *c)
{
	if (atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	while (c->tx_free != NULL) {
		struct iscsi_tx *t = c->tx_free;
		c->tx_free = t->next;
		free(t);
	}
	free(c->rx);
	iscsi_srv_release(c->srv);
	free(c);
}

/* ---- transmit ----------------------------------------------------------- */

struct iscsi_tx *iscsi_tx_alloc(struct iscsi_conn *c)
{
	struct iscsi_tx *t = c->tx_free;

	if (t != NULL) {
		c->tx_free = t->next;
		c->tx_nfree--;
	} else {
		t = malloc(sizeof(*t));
		if (t == NULL)
			return NULL;
	}
	memset(t, 0, offsetof(struct iscsi_tx, small));
	return t;
}

void iscsi_tx_free(struct iscsi_conn *c, struct iscsi_tx *t)
{
	if (t->counted)
		c->tx_owned -= t->dlen;
	if (t->cmd != NULL)
		iscsi_cmd_put(t->cmd);
	free(t->owned);
	if (c->tx_nfree < TX_FREE_MAX) {
		t->next = c->tx_free;
		c->tx_free = t;
		c->tx_nfree++;
	} else {
		free(t);
	}
}


static void conn_flush_cb(void *arg)
{
	struct iscsi_conn *c = arg;

	c->flush_deferred = false;
	conn_flush(c);
	iscsi_conn_release(c);
}

void iscsi_conn_queue(struct iscsi_conn *c, struct iscsi_tx *t)
{
	if (c->state == CONN_CLOSED) {
		iscsi_tx_free(c, t);
		return;
	}
	iscsi_bhs_set_dsl(t->hdr, t->dlen);
	t->hdr_len = ISCSI_BHS_LEN;
	if (c->hdig) {
		iscsi_digest_put(t->hdr + ISCSI_BHS_LEN,
				 iscsi_digest_header(t->hdr, ISCSI_BHS_LEN));
		t->hdr_len += ISCSI_DIGEST_LEN;
	}
	uint32_t pad = iscsi_pad(t->dlen);
	memset(t->trailer, 0, pad);
	t->tlen = pad;
	if (c->ddig && t->dlen > 0) {
		uint32_t crc = sk_crc32c(0, t->data, t->dlen);
		if (pad > 0)
			crc = sk_crc32c(crc, t->trailer, pad);
		iscsi_digest_put(t->trailer + pad, crc);
		t->tlen += ISCSI_DIGEST_LEN;
	}
	sk_trace(SK_TRACE_PDU, "iscsi %s: tx %s itt=0x%x dsl=%u", c->peer,
		 iscsi_op_name(t->hdr[0] & ISCSI_OP_MASK),
		 iscsi_bhs_itt(t->hdr), t->dlen);
	if (t->owned != NULL) {
		t->counted = true;
		c->tx_owned += t->dlen;
	}
	t->next = NULL;
	*c->txq_tail = t;
	c->txq_tail = &t->next;
	if (!c->flush_deferred) {
		iscsi_conn_hold(c);
		if (ev_loop_defer(c->loop, conn_flush_cb, c) == 0)
			c->flush_deferred = true;
		else
			iscsi_conn_release(c);
	}
}

static void conn_set_events(struct iscsi_conn *c, uint32_t ev)
{
	if (c->io != NULL && ev != c->io_events) {
		if (ev_io_modify(c->io, ev) == 0)
			c->io_events = ev;
	}
}

static void conn_flush(struct iscsi_conn *c)
{
	bool close_now = false;

	while (c->state != CONN_CLOSED && c->txq != NULL) {
		struct iovec iov[TX_BATCH * 3];
		int n = 0, npdu = 0;

		for (struct iscsi_tx *t = c->txq; t != NULL && npdu < TX_BATCH;
		     t = t->next, npdu++) {
			uint32_t skip = t->sent;
			const uint8_t *parts[3] = {t->hdr, t->data, t->trailer};
			uint32_t lens[3] = {t->hdr_len, t->dlen, t->tlen};
			for (int k = 0; k < 3; k++) {
				if (skip >= lens[k]) {
					skip -= lens[k];
					continue;
				}
				iov[n].iov_base = (void *)(parts[k] + skip);
				iov[n].iov_len = lens[k] - skip;
				n++;
				skip = 0;
			}
		}
		/* sendmsg rather than writev: MSG_NOSIGNAL, so a peer that
		 * went away gives EPIPE here instead of SIGPIPE. */
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			iscsi_conn_close(c, strerror(errno));
			return;
		}
		c->n_tx_bytes += (uint64_t)w;
		size_t left = (size_t)w;
		while (c->txq != NULL) {
			struct iscsi_tx *t = c->txq;
			size_t total = t->hdr_len + t->dlen + t->tlen;
			if (left < total - t->sent) {
				t->sent += (uint32_t)left;
				break;
			}
			left -= total - t->sent;
			c->txq = t->next;
			if (c->txq == NULL)
				c->txq_tail = &c->txq;
			if (t->close_after)
				close_now = true;
			iscsi_tx_free(c, t);
		}
		if (close_now)
			break;
	}
	if (close_now) {
		iscsi_conn_close(c, c->state == CONN_LOGOUT ? "logout"
							    : "closing");
		return;
	}
	if (c->state == CONN_CLOSED)
		return;
	uint32_t ev = c->txq != NULL ? EV_WRITE : 0;
	if (c->state != CONN_LOGOUT && c->tx_owned < ISCSI_TX_OWNED_HIGH)
		ev |= EV_READ;
	conn_set_events(c, ev);
}

void iscsi_conn_fill_sn(struct iscsi_conn *c, uint8_t *bhs, bool adv)
{
	iscsi_put32(bhs + 24, adv ? c->stat_sn++ : c->stat_sn);
	uint32_t avail = c->srv->queue_depth > c->outstanding
				 ? c->srv->queue_depth - c->outstanding
				 : 0;
	uint32_t m = c->exp_cmdsn + avail - 1;
	/* MaxCmdSN never moves back (RFC 7143 4.2.2.1). */
	if (iscsi_sn_lt(m, c->max_cmdsn))
		m = c->max_cmdsn;
	c->max_cmdsn = m;
	iscsi_put32(bhs + 28, c->exp_cmdsn);
	iscsi_put32(bhs + 32, m);
}

void iscsi_conn_window_slot_free(struct iscsi_conn *c)
{
	if (c->outstanding > 0)
		c->outstanding--;
}

void iscsi_conn_send_reject(struct iscsi_conn *c, const uint8_t *bhs,
			    uint8_t reason)
{
	struct iscsi_tx *t = iscsi_tx_alloc(c);

	if (t == NULL) {
		iscsi_conn_close(c, "out of memory");
		return;
	}
	memset(t->hdr, 0, ISCSI_BHS_LEN);
	t->hdr[0] = ISCSI_OP_REJECT;
	t->hdr[1] = ISCSI_FLAG_FINAL;
	t->hdr[2] = reason;
	iscsi_put32(t->hdr + 16, ISCSI_RSVD_TAG);
	iscsi_conn_fill_sn(c, t->hdr, true);
	/* The data segment is the header of the rejected PDU. */
	memcpy(t->small, bhs, ISCSI_BHS_LEN);
	t->data = t->small;
	t->dlen = ISCSI_BHS_LEN;
	log_debug("iscsi %s: reject %s (reason 0x%02x)", c->peer,
		  iscsi_op_name(iscsi_bhs_opcode(bhs)), reason);
	iscsi_conn_queue(c, t);
}

/* ---- lifecycle ---------------------------------------------------------- */

static void login_timeout_cb(struct ev_timer *tm, void *arg)
{
	struct iscsi_conn *c = arg;

	ev_timer_del(tm);
	c->login_timer = NULL;
	if (c->state == CONN_LOGIN)
		iscsi_conn_close(c, "login timed out");
}

void iscsi_conn_start(struct iscsi_srv *s, int fd, struct ev_loop *loop,
		      uint16_t tpgt, const struct sockaddr_storage *peer_ss,
		      uint64_t accepted_ms)
{
	struct iscsi_conn *c = calloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	socklen_t sl;

	if (c == NULL)
		goto out_close;
	c->rx_cap = ISCSI_BHS_LEN + ISCSI_MAX_AHS_LEN + 2 * ISCSI_DIGEST_LEN +
		    s->max_recv_dsl + 4 + 65536;
	c->rx = malloc(c->rx_cap);
	c->login = malloc(sizeof(*c->login));
	if (c->rx == NULL || c->login == NULL)
		goto out_free;
	atomic_init(&c->refs, 1);	/* the socket's reference */
	iscsi_srv_hold(s);
	c->srv = s;
	c->loop = loop;
	c->fd = fd;
	c->state = CONN_LOGIN;
	c->tpgt = tpgt;
	c->txq_tail = &c->txq;
	iscsi_params_defaults(&c->p);
	iscsi_login_init(c->login, &conn_login_ops, c, s->max_recv_dsl);
	iscsi_sockaddr_format(peer_ss, c->peer, sizeof(c->peer));
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		iscsi_sockaddr_format(&ss, c->local, sizeof(c->local));
	/* A link fault rule may put a relay between us and the peer. */
	c->fd = fd = sk_link_fault_wrap(fd, SK_LINK_ISCSI, NULL, 0);
	c->last_rx_ms = ev_now_ms();
	c->io_events = EV_READ;
	c->io = ev_io_add(loop, fd, EV_READ, conn_io_cb, c);
	if (c->io == NULL) {
		iscsi_srv_release(s);
		goto out_free;
	}
	c->login_timer = ev_timer_add(loop, s->login_timeout_ms, false,
				      login_timeout_cb, c);
	c->peer_ss = *peer_ss;
	c->accepted_ms = accepted_ms;
	pthread_mutex_lock(&s->lock);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	c->in_login = true;	/* counted in nconns and nlogin at accept */
	bool stopping = s->stopping;
	pthread_mutex_unlock(&s->lock);
	log_debug("iscsi: connection from %s", c->peer);
	if (stopping)
		iscsi_conn_close(c, "shutting down");
	return;
out_free:
	free(c->login);
	free(c->rx);
	free(c);
out_close:
	close(fd);
	iscsi_srv_conn_unaccept(s, peer_ss);
}

void iscsi_conn_close(struct iscsi_conn *c, const char *why)
{
	struct iscsi_srv *s = c->srv;

	if (c->state == CONN_CLOSED)
		return;
	log_debug("iscsi %s: closing connection (%s)", c->peer, why);
	if (c->in_session)
		log_info("iscsi: session %s tsih=%u closed: %s", c->initiator,
			 c->tsih, why);
	c->state = CONN_CLOSED;
	if (c->io != NULL)
		ev_io_del(c->io);
	c->io = NULL;
	close(c->fd);
	c->fd = -1;
	if (c->login_timer != NULL)
		ev_timer_del(c->login_timer);
	c->login_timer = NULL;
	if (c->nop_timer != NULL)
		ev_timer_del(c->nop_timer);
	c->nop_timer = NULL;
	while (c->txq != NULL) {
		struct iscsi_tx *t = c->txq;
		c->txq = t->next;
		iscsi_tx_free(c, t);
	}
	c->txq_tail = &c->txq;
	while (c->deferred != NULL) {
		struct iscsi_deferred *d = c->deferred;
		c->deferred = d->next;
		c->data_buffered -= d->len;
		free(d);
	}
	c->ndeferred = 0;
	free(c->text_rsp);
	c->text_rsp = NULL;
	if (c->login != NULL) {
		iscsi_login_free(c->login);
		free(c->login);
		c->login = NULL;
	}
	if (c->drx_cmd != NULL) {
		iscsi_cmd_put(c->drx_cmd);
		c->drx_cmd = NULL;
	}
	iscsi_cmd_conn_closed(c);
	while (c->tmfs != NULL) {
		struct iscsi_tmf *t = c->tmfs;
		c->tmfs = t->next;
		free(t);
	}
	pthread_mutex_lock(&s->lock);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	s->nconns--;
	if (c->in_login)
		s->nlogin--;
	c->in_login = false;
	if (c->in_session)
		s->nsessions--;
	c->in_session = false;
	pthread_mutex_unlock(&s->lock);
	sk_admit_leave(&s->admit, &c->peer_ss);
	if (c->nexus != NULL)
		tgt_nexus_destroy(c->nexus);
	c->nexus = NULL;
	if (c->tgt != NULL)
		tgt_target_release(c->tgt);
	c->tgt = NULL;
	iscsi_conn_release(c);
}

static void conn_kill_cb(void *arg)
{
	struct iscsi_conn *c = arg;

	iscsi_conn_close(c, "session ended by the target");
	iscsi_conn_release(c);
}

/* Called with srv->lock held. */
void iscsi_conn_post_kill(struct iscsi_conn *c)
{
	if (c->kill_posted)
		return;
	c->kill_posted = true;
	iscsi_conn_hold(c);
	if (ev_loop_post(c->loop, conn_kill_cb, c) < 0) {
		c->kill_posted = false;
		atomic_fetch_sub(&c->refs, 1); /* cannot be the last */
	}
}

struct conn_abort_msg {
	struct iscsi_conn *c;
	uint32_t lun;
};

static void conn_abort_cb(void *arg)
{
	struct conn_abort_msg *m = arg;

	if (m->c->state == CONN_FFP || m->c->state == CONN_LOGOUT)
		iscsi_cmd_abort_lun(m->c, m->lun, NULL);
	iscsi_conn_release(m->c);
	free(m);
}

/* Called with srv->lock held. */
void iscsi_conn_post_abort(struct iscsi_conn *c, uint32_t lun)
{
	struct conn_abort_msg *m = malloc(sizeof(*m));

	if (m == NULL)
		return;
	m->c = c;
	m->lun = lun;
	iscsi_conn_hold(c);
	if (ev_loop_post(c->loop, conn_abort_cb, m) < 0) {
		atomic_fetch_sub(&c->refs, 1);
		free(m);
	}
}

/* ---- login -------------------------------------------------------------- */

static void conn_login(struct iscsi_conn *c, const uint8_t *bhs,
		       const uint8_t *data, uint32_t dlen)
{
	struct iscsi_srv *s = c->srv;
	struct iscsi_login *l = c->login;
	struct iscsi_tx *t = iscsi_tx_alloc(c);
	char *buf = malloc(8192);
	struct iscsi_text_out out;

	if (t == NULL || buf == NULL) {
		free(buf);
		if (t != NULL)
			iscsi_tx_free(c, t);
		iscsi_conn_close(c, "out of memory");
		return;
	}
	atomic_fetch_add(&c->login_pdus, 1);
	if (l->state == LOGIN_START && l->cont == NULL) {
		c->stat_sn = iscsi_get32(bhs + 28);
		c->exp_cmdsn = iscsi_get32(bhs + 24);
		c->max_cmdsn = c->exp_cmdsn;
	}
	/* The initiator may receive 8192 bytes per login PDU. */
	iscsi_text_out_init(&out, buf, 8192);
	enum iscsi_login_state st = iscsi_login_step(l, bhs,
						     (const char *)data, dlen,
						     t->hdr, &out);
	uint16_t fail = 0;
	if (st == LOGIN_DONE) {
		c->discovery = l->discovery;
		snprintf(c->initiator, sizeof(c->initiator), "%s",
			 l->initiator_name);
		memcpy(c->isid, l->isid, 6);
		snprintf(c->target_name, sizeof(c->target_name), "%s",
			 l->tgt.name);
		if (!c->discovery) {
			c->tgt = iscsi_srv_target_get(s, c->target_name);
			if (c->tgt == NULL)
				fail = ISCSI_LS_TARGET_REMOVED;
		}
		if (fail == 0)
			fail = iscsi_srv_session_add(s, c);
		if (fail == 0 && !c->discovery) {
			char port[ISCSI_NAME_MAX + 32];
			snprintf(port, sizeof(port),
				 "%s,i,0x%02x%02x%02x%02x%02x%02x",
				 c->initiator, c->isid[0], c->isid[1],
				 c->isid[2], c->isid[3], c->isid[4],
				 c->isid[5]);
			c->nexus = tgt_nexus_create(c->tgt, port);
			if (c->nexus == NULL)
				fail = ISCSI_LS_OUT_OF_RESOURCES;
			else	/* portal group N is relative port N */
				tgt_nexus_set_port(c->nexus, c->tpgt);
		}
		if (fail != 0) {
			st = LOGIN_FAILED;
			out.len = 0;
			iscsi_login_rsp_fail(t->hdr, fail);
		} else {
			iscsi_put16(t->hdr + 14, c->tsih);
		}
	}
	iscsi_conn_fill_sn(c, t->hdr, true);
	t->data = (const uint8_t *)buf;
	t->owned = buf;
	t->dlen = (uint32_t)out.len;
	if (st == LOGIN_FAILED) {
		uint16_t why = fail ? fail : l->fail_status;
		log_info("iscsi: login of %s from %s failed: status 0x%04x",
			 l->initiator_name[0] ? l->initiator_name : "?",
			 c->peer, why);
		t->close_after = true;
		c->state = CONN_LOGOUT; /* read nothing more */
		iscsi_conn_queue(c, t);
		return;
	}
	iscsi_conn_queue(c, t);
	if (st != LOGIN_DONE)
		return;

	/* Full feature phase: digests start with the next PDU. */
	iscsi_srv_conn_admitted(s, c);
	c->p = l->params;
	c->hdig = c->p.header_digest == ISCSI_DIGEST_CRC32C;
	c->ddig = c->p.data_digest == ISCSI_DIGEST_CRC32C;
	c->state = CONN_FFP;
	iscsi_login_free(l);
	free(l);
	c->login = NULL;
	if (c->login_timer != NULL)
		ev_timer_del(c->login_timer);
	c->login_timer = NULL;
	if (s->nop_interval_ms > 0)
		c->nop_timer = ev_timer_add(c->loop, 1000, true,
					    iscsi_conn_nop_timer_cb, c);
	log_info("iscsi: %s session for %s (tsih=%u) from %s%s%s "
		 "hdigest=%s ddigest=%s", c->discovery ? "discovery" : "normal",
		 c->initiator, c->tsih, c->peer, c->discovery ? "" : " to ",
		 c->discovery ? "" : c->target_name,
		 c->hdig ? "CRC32C" : "None", c->ddig ? "CRC32C" : "None");
}

bool iscsi_conn_drop_deferred(struct iscsi_conn *c, uint32_t itt)
{
	for (struct iscsi_deferred **pp = &c->deferred; *pp != NULL;
	     pp = &(*pp)->next) {
		struct iscsi_deferred *d = *pp;
		if (iscsi_bhs_opcode(d->pdu) != ISCSI_OP_SCSI_CMD ||
		    iscsi_bhs_itt(d->pdu) != itt)
			continue;
		/* Its CmdSN still counts: run it as a no-op when its turn
		 * comes, by turning it into a NOP-Out that wants no reply. */
		d->pdu[0] = ISCSI_OP_NOP_OUT;
		iscsi_put32(d->pdu + 16, ISCSI_RSVD_TAG);
		iscsi_put32(d->pdu + 20, ISCSI_RSVD_TAG);
		return true;
	}
	return false;
}

/* ---- dispatch ------------------------------------------------------------ */

static bool op_has_cmdsn(uint8_t op)
{
	return op == ISCSI_OP_NOP_OUT || op == ISCSI_OP_SCSI_CMD ||
	       op == ISCSI_OP_TMF_REQ || op == ISCSI_OP_TEXT_REQ ||
	       op == ISCSI_OP_LOGOUT_REQ;
}

/* A request whose CmdSN turn has come (or an immediate one). */
static void conn_exec(struct iscsi_conn *c, const uint8_t *bhs,
		      const uint8_t *ahs, const uint8_t *data, uint32_t dlen)
{
	uint8_t op = iscsi_bhs_opcode(bhs);

	if (c->discovery && op != ISCSI_OP_TEXT_REQ &&
	    op != ISCSI_OP_LOGOUT_REQ && op != ISCSI_OP_NOP_OUT) {
		/* A discovery session carries only Text and Logout. */
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return;
	}
	switch (op) {
	case ISCSI_OP_NOP_OUT:
		iscsi_conn_nop_out(c, bhs, data, dlen);
		break;
	case ISCSI_OP_SCSI_CMD:
		c->n_cmds++;
		iscsi_cmd_receive(c, bhs, ahs, data, dlen);
		break;
	case ISCSI_OP_TMF_REQ:
		iscsi_cmd_tmf(c, bhs);
		break;
	case ISCSI_OP_TEXT_REQ:
		iscsi_conn_text(c, bhs, data, dlen);
		break;
	case ISCSI_OP_LOGOUT_REQ:
		iscsi_conn_logout(c, bhs);
		break;
	default:
		break;
	}
}

static void conn_run_deferred(struct iscsi_conn *c)
{
	bool again = true;

	while (again && c->state == CONN_FFP) {
		again = false;
		for (struct iscsi_deferred **pp = &c->deferred; *pp != NULL;
		     pp = &(*pp)->next) {
			struct iscsi_deferred *d = *pp;
			if (d->cmdsn != c->exp_cmdsn)
				continue;
			*pp = d->next;
			c->ndeferred--;
			c->data_buffered -= d->len;
			c->exp_cmdsn++;
			uint32_t ahs = iscsi_bhs_ahs_len(d->pdu);
			conn_exec(c, d->pdu, d->pdu + ISCSI_BHS_LEN,
				  d->pdu + ISCSI_BHS_LEN + ahs,
				  d->len - ISCSI_BHS_LEN - ahs);
			free(d);
			again = true;
			break;
		}
	}
}

int iscsi_conn_cmd_early(struct iscsi_conn *c, const uint8_t *bhs,
			 const uint8_t *ahs, uint32_t dlen, uint8_t **dst,
			 struct iscsi_cmd **held)
{
	/* What iscsi_conn_dispatch and conn_exec would do with the whole
	 * PDU, for the one case that runs at once: a SCSI Command in a
	 * normal session whose turn it is. */
	if (c->state != CONN_FFP || c->discovery ||
	    iscsi_bhs_opcode(bhs) != ISCSI_OP_SCSI_CMD)
		return 0;
	if (!iscsi_bhs_immediate(bhs)) {
		if (iscsi_get32(bhs + 24) != c->exp_cmdsn)
			return 0;
		c->exp_cmdsn++;
	}
	sk_trace(SK_TRACE_PDU, "iscsi %s: rx %s itt=0x%x dsl=%u (data to come)",
		 c->peer, iscsi_op_name(ISCSI_OP_SCSI_CMD), iscsi_bhs_itt(bhs),
		 dlen);
	c->n_cmds++;
	*dst = iscsi_cmd_receive_begin(c, bhs, ahs, dlen, held);
	if (*dst != NULL)
		return 1;
	if (c->deferred != NULL)
		conn_run_deferred(c);
	return -1;
}

void iscsi_conn_cmd_data_done(struct iscsi_conn *c, struct iscsi_cmd *cmd,
			      const uint8_t *bhs, uint32_t dlen)
{
	iscsi_cmd_receive_end(c, cmd, bhs, dlen);
	/* Commands that came ahead of this one wait until it has all its
	 * data, as they would have on the buffered path. */
	if (c->state == CONN_FFP && c->deferred != NULL)
		conn_run_deferred(c);
}

void iscsi_conn_dispatch(struct iscsi_conn *c, const uint8_t *bhs,
			 const uint8_t *ahs, const uint8_t *data,
			 uint32_t dlen)
{
	uint8_t op = iscsi_bhs_opcode(bhs);

	sk_trace(SK_TRACE_PDU, "iscsi %s: rx %s itt=0x%x dsl=%u", c->peer,
		 iscsi_op_name(op), iscsi_bhs_itt(bhs), dlen);
	if (c->state == CONN_LOGIN) {
		if (op != ISCSI_OP_LOGIN_REQ) {
			iscsi_conn_close(c, "non-login PDU during login");
			return;
		}
		conn_login(c, bhs, data, dlen);
		return;
	}
	if (c->state != CONN_FFP)
		return;
	switch (op) {
	case ISCSI_OP_DATA_OUT:
		if (iscsi_cmd_data_out(c, bhs, data, dlen) < 0)
			iscsi_conn_send_reject(c, bhs,
					       ISCSI_REJECT_PROTOCOL_ERROR);
		return;
	case ISCSI_OP_SNACK_REQ:
		/* ERL 0: no retransmission. */
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_SNACK);
		return;
	case ISCSI_OP_LOGIN_REQ:
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		return;
	default:
		break;
	}
	if (!op_has_cmdsn(op)) {
		iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_CMD_NOT_SUPPORTED);
		return;
	}
	if (iscsi_bhs_immediate(bhs)) {
		conn_exec(c, bhs, ahs, data, dlen);
		return;
	}
	uint32_t sn = iscsi_get32(bhs + 24);
	if (sn == c->exp_cmdsn) {
		c->exp_cmdsn++;
		conn_exec(c, bhs, ahs, data, dlen);
		if (c->deferred != NULL)
			conn_run_deferred(c);
		return;
	}
	uint32_t len = ISCSI_BHS_LEN + iscsi_bhs_ahs_len(bhs) + dlen;
	if (iscsi_sn_lt(c->exp_cmdsn, sn) && iscsi_sn_le(sn, c->max_cmdsn) &&
	    c->ndeferred < c->srv->queue_depth &&
	    c->data_buffered + len <= c->srv->max_conn_data) {
		/* Ahead of a gap: keep it until the gap fills (its bytes count
		 * against the connection's buffer limit). */
		struct iscsi_deferred *d = malloc(sizeof(*d) + len);
		if (d == NULL)
			return;
		d->cmdsn = sn;
		d->len = len;
		memcpy(d->pdu, bhs, ISCSI_BHS_LEN);
		memcpy(d->pdu + ISCSI_BHS_LEN, ahs, iscsi_bhs_ahs_len(bhs));
		memcpy(d->pdu + ISCSI_BHS_LEN + iscsi_bhs_ahs_len(bhs), data,
		       dlen);
		d->next = c->deferred;
		c->deferred = d;
		c->ndeferred++;
		c->data_buffered += len;
		return;
	}
	/* Outside the window: silently ignored (RFC 7143 4.2.2.1). */
	log_debug("iscsi %s: dropping %s with CmdSN %u outside [%u, %u]",
		  c->peer, iscsi_op_name(op), sn, c->exp_cmdsn, c->max_cmdsn);
}

static void conn_io_cb(struct ev_io *io, int fd, uint32_t events, void *arg)
{
	struct iscsi_conn *c = arg;

	iscsi_conn_hold(c);
	if ((events & EV_ERROR) && !(events & EV_READ)) {
		iscsi_conn_close(c, "socket error");
	} else {
		if (events & (EV_READ | EV_ERROR))
			iscsi_conn_read(c);
		if (c->state != CONN_CLOSED)
			conn_flush(c);
	}
	iscsi_conn_release(c);
}
