/*
 * The initiator's connection: a non-blocking TCP socket on the session's
 * loop, PDU framing with header and data digests, the login and discovery
 * exchanges, pings, and what happens when the connection goes (back-off,
 * reconnect, replacement timeout).  Everything runs on the bus's loop.
 *
 * Receive: bytes accumulate in s->rx; every complete PDU is checked
 * (iscsi_pdu_frame against the MaxRecvDataSegmentLength we declared, then
 * digests) and handed on.  Nothing the target claims makes us allocate:
 * the buffer is sized once from our own limit.
 * Transmit: each PDU is built whole into a txbuf and queued; the queue is
 * written as far as the socket takes it, the rest waits for EV_WRITE.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#include "iscsi/ini_int.h"

#define INI_TX_IOV 64

static void ini_io_cb(struct ev_io *io, int fd, uint32_t events, void *arg);
static void ini_login_send_first(struct iscsi_ini *s);

void ini_set_ready(struct iscsi_ini *s, int rc, const char *msg)
{
	pthread_mutex_lock(&s->mu);
	if (s->ready == 0 || rc > 0) {
		s->ready = rc;
		if (msg)
			snprintf(s->ready_err, sizeof(s->ready_err), "%s", msg);
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ---- transmit ---- */

static void ini_tx_free_all(struct iscsi_ini *s)
{
	struct ini_txbuf *b, *n;

	for (b = s->txq; b; b = n) {
		n = b->next;
		free(b);
	}
	s->txq = s->txq_tail = NULL;
	s->tx_off = 0;
	s->tx_bytes_queued = 0;
}

static void ini_want_write(struct iscsi_ini *s, bool on)
{
	if (s->want_write == on || !s->io)
		return;
	s->want_write = on;
	ev_io_modify(s->io, EV_READ | (on ? EV_WRITE : 0));
}

/* Write what the socket takes; 0 or -errno (connection broken). */
static int ini_tx_flush(struct iscsi_ini *s)
{
	while (s->txq) {
		struct iovec iov[INI_TX_IOV];
		int n = 0;
		ssize_t w;

		for (struct ini_txbuf *b = s->txq; b && n < INI_TX_IOV;
		     b = b->next, n++) {
			uint32_t off = n == 0 ? s->tx_off : 0;

			iov[n].iov_base = b->data + off;
			iov[n].iov_len = b->len - off;
		}
		w = writev(s->fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				ini_want_write(s, true);
				return 0;
			}
			return -errno;
		}
		s->tx_bytes_queued -= (uint64_t)w;
		while (w > 0 && s->txq) {
			struct ini_txbuf *b = s->txq;
			uint32_t left = b->len - s->tx_off;

			if ((size_t)w < left) {
				s->tx_off += (uint32_t)w;
				w = 0;
				break;
			}
			w -= left;
			s->txq = b->next;
			if (!s->txq)
				s->txq_tail = NULL;
			s->tx_off = 0;
			free(b);
		}
	}
	ini_want_write(s, false);
	return 0;
}

/* Queue a PDU whose data segment is filled by the caller through fill. */
static int ini_queue(struct iscsi_ini *s, uint8_t *bhs, uint32_t dlen,
		     const void *data, union ccb *ccb, uint32_t ccb_off)
{
	uint32_t hlen = ISCSI_BHS_LEN + (s->hdig ? ISCSI_DIGEST_LEN : 0);
	uint32_t pad = iscsi_pad(dlen);
	uint32_t total = hlen;
	struct ini_txbuf *b;
	int rc;

	if (s->fd < 0)
		return -ENOTCONN;
	if (dlen)
		total += dlen + pad + (s->ddig ? ISCSI_DIGEST_LEN : 0);
	b = malloc(sizeof(*b) + total);
	if (!b)
		return -ENOMEM;
	iscsi_bhs_set_dsl(bhs, dlen);
	iscsi_put32(bhs + 28, s->exp_statsn);
	memcpy(b->data, bhs, ISCSI_BHS_LEN);
	if (s->hdig)
		iscsi_digest_put(b->data + ISCSI_BHS_LEN,
				 iscsi_digest_header(b->data, ISCSI_BHS_LEN));
	if (dlen) {
		uint8_t *d = b->data + hlen;

		if (ccb)
			ini_ccb_copy(ccb, ccb_off, d, dlen, false);
		else
			memcpy(d, data, dlen);
		memset(d + dlen, 0, pad);
		if (s->ddig)
			iscsi_digest_put(d + dlen + pad,
					 sk_crc32c(0, d, dlen + pad));
	}
	b->len = total;
	b->next = NULL;
	if (s->txq_tail)
		s->txq_tail->next = b;
	else
		s->txq = b;
	s->txq_tail = b;
	s->tx_bytes_queued += total;
	sk_trace(SK_TRACE_PDU, "iscsi-ini: send %s itt 0x%x dsl %u",
		 iscsi_op_name(iscsi_bhs_opcode(bhs)), iscsi_bhs_itt(bhs),
		 dlen);
	if (s->want_write)
		return 0;
	rc = ini_tx_flush(s);
	if (rc < 0) {
		/* Let the caller finish its bookkeeping; drop afterwards. */
		ev_io_modify(s->io, EV_READ | EV_WRITE);
		s->want_write = true;
	}
	return 0;
}

int ini_send_pdu(struct iscsi_ini *s, uint8_t *bhs, const void *data,
		 uint32_t dlen)
{
	return ini_queue(s, bhs, dlen, data, NULL, 0);
}

int ini_send_pdu_ccb(struct iscsi_ini *s, uint8_t *bhs, union ccb *ccb,
		     uint32_t off, uint32_t dlen)
{
	return ini_queue(s, bhs, dlen, NULL, ccb, off);
}

/* ---- connection life ---- */

static void ini_close_fd(struct iscsi_ini *s)
{
	s->conn_gen++;
	if (s->io) {
		ev_io_del(s->io);
		s->io = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	s->want_write = false;
	ini_tx_free_all(s);
	s->rx_have = 0;
	s->hdig = s->ddig = false;
}

static void ini_conn_timer_cb(struct ev_timer *t, void *arg)
{
	struct iscsi_ini *s = arg;

	(void)t;
	switch (s->state) {
	case INI_S_DOWN:
		ini_conn_start(s);
		break;
	case INI_S_CONNECTING:
	case INI_S_LOGIN:
	case INI_S_DISCOVER:
		ini_conn_drop(s, "login timed out");
		break;
	case INI_S_LOGOUT:
		ini_conn_drop(s, "logout timed out");
		break;
	default:
		break;
	}
}

static void ini_arm(struct iscsi_ini *s, uint64_t ms)
{
	if (!s->conn_timer)
		s->conn_timer = ev_timer_add(s->loop, ms, false,
					     ini_conn_timer_cb, s);
	else
		ev_timer_reset(s->conn_timer, ms);
}

static void ini_disarm(struct iscsi_ini *s)
{
	if (s->conn_timer) {
		ev_timer_del(s->conn_timer);
		s->conn_timer = NULL;
	}
}

void ini_conn_drop(struct iscsi_ini *s, const char *why)
{
	enum ini_state was = s->state;
	bool fatal;

	if (was == INI_S_DOWN || was == INI_S_DEAD)
		return;
	s->st_errors += was == INI_S_FULL;
	log_warn("iscsi-ini %s: connection to %s:%u lost (%s): %s",
		 s->cfg.target[0] ? s->cfg.target : "(discovery)",
		 s->cfg.host, s->cfg.port, ini_state_name(was), why);
	ini_close_fd(s);
	ini_disarm(s);
	if (s->nop_timer) {
		ev_timer_del(s->nop_timer);
		s->nop_timer = NULL;
	}
	s->state = INI_S_DOWN;
	/* Held commands go back to the XPT (requeue: they run again on the
	 * next connection) with the SIM queue frozen until then. */
	ini_sim_down(s);
	ini_cmd_fail_all(s, s->failed ? CAM_SEL_TIMEOUT : CAM_REQUEUE_REQ);
	/* A first login that cannot succeed is not retried: the creator
	 * hears why. */
	fatal = !s->ever_up;
	if (fatal) {
		s->state = INI_S_DEAD;
		ini_set_ready(s, s->login.st == IL_FAILED && s->login.err[0]
					 ? -EACCES
					 : -ECONNREFUSED,
			      s->login.st == IL_FAILED && s->login.err[0]
				      ? s->login.err
				      : why);
		return;
	}
	if (s->destroying)
		return;
	ini_arm(s, s->backoff_cur);
	s->backoff_cur = s->backoff_cur * 2 > s->cfg.backoff_max_ms
				 ? s->cfg.backoff_max_ms
				 : s->backoff_cur * 2;
	if (s->backoff_cur < s->cfg.backoff_ms)
		s->backoff_cur = s->cfg.backoff_ms;
}

static void ini_connected(struct iscsi_ini *s)
{
	int one = 1;

	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s->state = INI_S_LOGIN;
	ini_want_write(s, false);
	ini_arm(s, s->cfg.login_timeout_ms);
	ini_login_send_first(s);
}

void ini_conn_start(struct iscsi_ini *s)
{
	struct addrinfo hints, *res = NULL, *ai;
	char port[8];
	int fd = -1, rc;

	if (s->destroying)
		return;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", s->cfg.port);
	s->state = INI_S_CONNECTING;
	rc = getaddrinfo(s->cfg.host, port, &hints, &res);
	if (rc != 0) {
		ini_conn_drop(s, gai_strerror(rc));
		return;
	}
	rc = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
		    errno == EINPROGRESS) {
			rc = 0;
			/* A link fault rule may put a relay in between. */
			fd = sk_link_fault_wrap(fd, SK_LINK_ISCSI_INI,
						ai->ai_addr, ai->ai_addrlen);
			break;
		}
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		ini_conn_drop(s, strerror(-rc));
		return;
	}
	s->fd = fd;
	s->rx_have = 0;
	s->io = ev_io_add(s->loop, fd, EV_READ | EV_WRITE, ini_io_cb, s);
	if (!s->io) {
		ini_conn_drop(s, "cannot watch the socket");
		return;
	}
	s->want_write = true;
	ini_arm(s, s->cfg.login_timeout_ms);
}

/* ---- login, discovery, logout ---- */

static void ini_login_bhs_fill(struct iscsi_ini *s, uint8_t *bhs)
{
	memcpy(bhs + 8, s->isid, 6);
	iscsi_put16(bhs + 14, s->tsih);
	iscsi_put32(bhs + 16, s->login_itt);
	iscsi_put16(bhs + 20, 0);	/* CID */
	iscsi_put32(bhs + 24, s->cmdsn);
}

static void ini_login_send_first(struct iscsi_ini *s)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	char buf[4096];
	struct iscsi_text_out out;

	iscsi_text_out_init(&out, buf, sizeof(buf));
	ini_login_init(&s->login, &s->cfg, s->discovering);
	/* ERL 0: a new connection is a new session (TSIH 0, same ISID: the
	 * target reinstates, i.e. ends the old session). */
	s->tsih = 0;
	s->login_itt++;
	ini_login_start(&s->login, bhs, &out);
	ini_login_bhs_fill(s, bhs);
	if (ini_send_pdu(s, bhs, out.buf, (uint32_t)out.len) < 0)
		ini_conn_drop(s, "cannot send login");
}

static void ini_discover_send(struct iscsi_ini *s)
{
	uint8_t bhs[ISCSI_BHS_LEN];
	static const char req[] = "SendTargets=All";
	struct ini_task *t = ini_task_get(s, T_TEXT);

	if (!t) {
		ini_conn_drop(s, "no task for SendTargets");
		return;
	}
	ini_list_add(&s->active, t);
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = ISCSI_OP_TEXT_REQ | ISCSI_OP_IMMEDIATE;
	bhs[1] = ISCSI_FLAG_FINAL;
	iscsi_put32(bhs + 16, t->itt);
	iscsi_put32(bhs + 20, ISCSI_RSVD_TAG);
	iscsi_put32(bhs + 24, s->cmdsn);
	s->state = INI_S_DISCOVER;
	ini_send_pdu(s, bhs, req, sizeof(req));
}

static int ini_discover_rx(struct iscsi_ini *s, const uint8_t *bhs,
			   const uint8_t *data, uint32_t dlen)
{
	struct iscsi_kv kv[ISCSI_TEXT_MAX_PAIRS];
	struct ini_task *t;
	int n;

	if (iscsi_bhs_opcode(bhs) != ISCSI_OP_TEXT_RSP)
		return iscsi_bhs_opcode(bhs) == ISCSI_OP_NOP_IN ||
				       iscsi_bhs_opcode(bhs) == ISCSI_OP_ASYNC_MSG
			       ? 0
			       : -EPROTO;
	t = ini_task_by_itt(s, iscsi_bhs_itt(bhs));
	if (!t || t->kind != T_TEXT)
		return -EPROTO;
	ini_list_del(&s->active, t);
	ini_task_put(s, t);
	n = dlen ? iscsi_text_parse((const char *)data, dlen, kv,
				    ISCSI_TEXT_MAX_PAIRS)
		 : 0;
	if (n < 0)
		return -EPROTO;
	for (int i = 0; i < n; i++)
		if (!strcmp(kv[i].key, "TargetName") && kv[i].value_len > 0 &&
		    kv[i].value_len < sizeof(s->cfg.target)) {
			snprintf(s->cfg.target, sizeof(s->cfg.target), "%s",
				 kv[i].value);
			log_info("iscsi-ini: discovered %s at %s:%u",
				 s->cfg.target, s->cfg.host, s->cfg.port);
			/* Close the discovery session and log in for real.
			 * (No logout: the target tolerates a close, and the
			 * normal session starts at once.) */
			ini_close_fd(s);
			ini_disarm(s);
			s->discovering = false;
			ini_conn_start(s);
			return 1;
		}
	s->login.st = IL_FAILED;
	snprintf(s->login.err, sizeof(s->login.err),
		 "discovery found no target at %.100s:%u", s->cfg.host,
		 s->cfg.port);
	return -ENOENT;
}

static void ini_nop_timer_cb(struct ev_timer *t, void *arg)
{
	struct iscsi_ini *s = arg;

	(void)t;
	if (s->state != INI_S_FULL)
		return;
	if (s->nop_task) {
		if (ev_now_ms() - s->nop_sent >= s->cfg.nop_timeout_ms)
			ini_conn_drop(s, "ping timed out");
		return;
	}
	ini_nop_send(s);
}

static void ini_login_done(struct iscsi_ini *s, const uint8_t *rsp)
{
	s->neg = s->login.cur;
	s->tsih = iscsi_get16(rsp + 14);
	s->hdig = s->neg.header_digest == ISCSI_DIGEST_CRC32C;
	s->ddig = s->neg.data_digest == ISCSI_DIGEST_CRC32C;
	ini_disarm(s);
	if (s->discovering) {
		ini_arm(s, s->cfg.login_timeout_ms);
		ini_discover_send(s);
		return;
	}
	s->state = INI_S_FULL;
	s->backoff_cur = s->cfg.backoff_ms;
	log_info("iscsi-ini: logged in to %s at %s:%u (tsih %u, "
		 "hdigest %s, ddigest %s, mrdsl %u, burst %u/%u, imm %s, "
		 "r2t %s)",
		 s->cfg.target, s->cfg.host, s->cfg.port, s->tsih,
		 s->hdig ? "crc32c" : "none", s->ddig ? "crc32c" : "none",
		 s->neg.max_xmit_dsl, s->neg.first_burst, s->neg.max_burst,
		 s->neg.immediate_data ? "yes" : "no",
		 s->neg.initial_r2t ? "yes" : "no");
	if (s->cfg.nop_ms)
		s->nop_timer = ev_timer_add(s->loop, s->cfg.nop_ms, true,
					    ini_nop_timer_cb, s);
	ini_sim_up(s);
	ini_cmd_kick(s);
}

static int ini_login_rx(struct iscsi_ini *s, const uint8_t *bhs,
			const uint8_t *data, uint32_t dlen)
{
	uint8_t req[ISCSI_BHS_LEN];
	char buf[4096];
	struct iscsi_text_out out;
	int rc;

	if (iscsi_bhs_opcode(bhs) != ISCSI_OP_LOGIN_RSP ||
	    iscsi_bhs_itt(bhs) != s->login_itt ||
	    (iscsi_get16(bhs + 36) == ISCSI_LS_SUCCESS &&
	     memcmp(bhs + 8, s->isid, 6) != 0)) {
		snprintf(s->login.err, sizeof(s->login.err),
			 "unexpected %s (itt 0x%x) during login",
			 iscsi_op_name(iscsi_bhs_opcode(bhs)),
			 iscsi_bhs_itt(bhs));
		s->login.st = IL_FAILED;
		return -EPROTO;
	}
	/* Numbering starts with the first response. */
	s->exp_statsn = iscsi_get32(bhs + 24) + 1;
	s->exp_cmdsn = iscsi_get32(bhs + 28);
	s->max_cmdsn = iscsi_get32(bhs + 32);
	memset(req, 0, sizeof(req));
	iscsi_text_out_init(&out, buf, sizeof(buf));
	rc = ini_login_step(&s->login, bhs, (const char *)data, dlen, req,
			    &out);
	if (rc < 0) {
		log_warn("iscsi-ini: login to %s failed: %s", s->cfg.target,
			 s->login.err);
		return rc;
	}
	if (rc == 0) {
		ini_login_done(s, bhs);
		return 0;
	}
	if (out.overflow)
		return -E2BIG;
	ini_login_bhs_fill(s, req);
	return ini_send_pdu(s, req, out.buf, (uint32_t)out.len);
}

/* ---- receive ---- */

static int ini_rx_pdu(struct iscsi_ini *s, const uint8_t *pdu,
		      const struct iscsi_pdu_frame *f)
{
	const uint8_t *data = pdu + f->data_off;

	if (s->hdig) {
		uint32_t hl = ISCSI_BHS_LEN + f->ahs_len;

		if (iscsi_digest_get(pdu + hl) != iscsi_digest_header(pdu, hl))
			return -EBADMSG;
	}
	if (s->ddig && f->dsl) {
		uint32_t padded = f->dsl + iscsi_pad(f->dsl);

		if (iscsi_digest_get(data + padded) !=
		    sk_crc32c(0, data, padded))
			return -EBADMSG;
	}
	sk_trace(SK_TRACE_PDU, "iscsi-ini: recv %s itt 0x%x dsl %u",
		 iscsi_op_name(iscsi_bhs_opcode(pdu)), iscsi_bhs_itt(pdu),
		 f->dsl);
	switch (s->state) {
	case INI_S_LOGIN:
		return ini_login_rx(s, pdu, data, f->dsl);
	case INI_S_DISCOVER:
		return ini_discover_rx(s, pdu, data, f->dsl);
	case INI_S_FULL:
	case INI_S_LOGOUT:
		return ini_cmd_rx(s, pdu, data, f->dsl);
	default:
		return -EPROTO;
	}
}

static void ini_rx(struct iscsi_ini *s)
{
	int fd = s->fd;
	uint32_t gen = s->conn_gen;

	for (;;) {
		ssize_t r = read(fd, s->rx + s->rx_have, s->rx_cap - s->rx_have);
		uint32_t off = 0;

		if (r == 0) {
			ini_conn_drop(s, "closed by the target");
			return;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				ini_conn_drop(s, strerror(errno));
			return;
		}
		s->rx_have += (uint32_t)r;
		while (s->rx_have - off >= ISCSI_BHS_LEN) {
			struct iscsi_pdu_frame f;
			const uint8_t *p = s->rx + off;
			int rc;

			if (iscsi_pdu_frame(p, s->hdig, s->ddig,
					    s->cfg.max_recv_dsl, &f) < 0) {
				ini_conn_drop(s, "PDU longer than we accept");
				return;
			}
			if (s->rx_have - off < f.total)
				break;
			rc = ini_rx_pdu(s, p, &f);
			if (s->conn_gen != gen)
				return; /* the connection changed under us */
			if (rc < 0) {
				ini_conn_drop(s, rc == -EBADMSG
							 ? "digest error"
							 : "protocol error");
				return;
			}
			off += f.total;
		}
		if (off) {
			memmove(s->rx, s->rx + off, s->rx_have - off);
			s->rx_have -= off;
		}
		if ((size_t)r < 4096)
			return; /* probably drained; epoll tells us more */
	}
}

static void ini_io_cb(struct ev_io *io, int fd, uint32_t events, void *arg)
{
	struct iscsi_ini *s = arg;

	(void)io;
	if (s->state == INI_S_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err) {
			ini_conn_drop(s, strerror(err));
			return;
		}
		if (!(events & (EV_WRITE | EV_ERROR)))
			return;
		ini_connected(s);
		return;
	}
	if (events & EV_WRITE) {
		int rc = ini_tx_flush(s);

		if (rc < 0) {
			ini_conn_drop(s, strerror(-rc));
			return;
		}
		if (s->state == INI_S_FULL && s->pending.head)
			ini_cmd_kick(s);
	}
	if (events & (EV_READ | EV_ERROR))
		ini_rx(s);
}
