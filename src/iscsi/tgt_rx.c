/*
 * iSCSI target receive side: reading the socket, framing PDUs, checking
 * digests, and write data received in place.
 *
 * PDUs are read into the connection's receive buffer, many per read, and
 * dispatched from there.  A Data-Out PDU whose header has arrived but whose
 * data segment has not is different: when the task wants the data at that
 * offset, what is already buffered is copied into the task's buffer and
 * the rest is read straight into it (readv: the segment, its padding and
 * digest, then the receive buffer for what follows), so a large write's
 * data crosses memory once, from the socket into the buffer the bdev
 * writes from.  Behind a large segment only the next PDU's header is read
 * into the receive buffer, so that its data too goes in place.  Small PDUs
 * that arrive whole with their header are copied out of the receive buffer
 * as before: one read for many PDUs costs less than a read per segment.
 *
 * Everything peer-controlled is checked as on the buffered path: the
 * header digest before the header is used, the segment length against
 * MaxRecvDataSegmentLength (iscsi_pdu_frame), the offset and length against
 * the task's buffer (iscsi_cmd_data_out_dest), and the complete PDU then
 * goes through the same iscsi_conn_dispatch, sequence checks and all.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <scsikit/crc32c.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "iscsi/tgt_int.h"

/* Segments this long or longer are followed by a header-only read. */
#define DRX_BIG_SEGMENT (32u * 1024)

/* A data digest mismatch: at ERL 0 the PDU is rejected and the
 * connection ends once the reject is written, since the command it
 * belonged to cannot be recovered. */
static void conn_data_digest_error(struct iscsi_conn *c, const uint8_t *bhs)
{
	log_warn("iscsi %s: data digest error on %s", c->peer,
		 iscsi_op_name(iscsi_bhs_opcode(bhs)));
	iscsi_conn_send_reject(c, bhs, ISCSI_REJECT_DATA_DIGEST);
	if (c->txq != NULL) {
		struct iscsi_tx *t = c->txq;
		while (t->next != NULL)
			t = t->next;
		t->close_after = true;
	}
	c->state = CONN_LOGOUT;
}

/*
 * The PDU at bhs has its header (avail bytes of it are here, at least
 * f->hdr_len, fewer than f->total): receive its data segment in place if
 * it is a Data-Out its task wants, or the immediate data of a SCSI Command
 * whose turn has come (the command is started now, its data awaited).
 * Returns true when it took the avail bytes.
 */
static bool conn_drx_start(struct iscsi_conn *c, const uint8_t *bhs,
			   const struct iscsi_pdu_frame *f, uint32_t avail)
{
	struct iscsi_cmd *cmd = NULL;
	uint8_t op = iscsi_bhs_opcode(bhs);
	uint8_t *dst = NULL;
	uint32_t seg = f->dsl + iscsi_pad(f->dsl) + (c->ddig ? 4 : 0);

	if (c->state != CONN_FFP || f->dsl == 0 ||
	    (op != ISCSI_OP_DATA_OUT && op != ISCSI_OP_SCSI_CMD) ||
	    (op == ISCSI_OP_DATA_OUT && f->ahs_len != 0))
		return false;
	if (c->hdig && iscsi_digest_get(bhs + f->hdr_len - ISCSI_DIGEST_LEN) !=
			       iscsi_digest_header(bhs, f->hdr_len -
							       ISCSI_DIGEST_LEN))
		return false; /* conn_parse closes once the PDU is whole */
	if (op == ISCSI_OP_DATA_OUT) {
		dst = iscsi_cmd_data_out_dest(c, bhs, f->dsl, &cmd);
		if (dst == NULL)
			return false;
	} else {
		int r = iscsi_conn_cmd_early(c, bhs, bhs + ISCSI_BHS_LEN,
					     f->dsl, &dst, &cmd);
		if (r == 0)
			return false;
		if (r < 0) {
			/* Answered (rejected, refused, failed) without its
			 * data: drop the segment, digest and all. */
			c->rx_skip = seg - (avail - f->hdr_len);
			return true;
		}
	}
	memcpy(c->drx_bhs, bhs, ISCSI_BHS_LEN);
	c->drx_cmd = cmd;
	c->drx_imm = op == ISCSI_OP_SCSI_CMD;
	iscsi_rxseg_init(&c->drx, dst, f->dsl, iscsi_pad(f->dsl), c->ddig);
	iscsi_rxseg_feed(&c->drx, bhs + f->hdr_len, avail - f->hdr_len);
	return true;
}

/* The segment received in place is complete: check and dispatch it. */
static void conn_drx_finish(struct iscsi_conn *c)
{
	struct iscsi_cmd *cmd = c->drx_cmd;

	c->drx_cmd = NULL;
	if (!iscsi_rxseg_digest_ok(&c->drx, c->ddig)) {
		/* The data is in the task's buffer past what it accepted:
		 * nothing uses it, and the connection ends. */
		conn_data_digest_error(c, c->drx_bhs);
		iscsi_cmd_put(cmd);
		return;
	}
	sk_trace(SK_TRACE_PDU, "iscsi %s: rx data in place: %u bytes", c->peer,
		 c->drx.dlen);
	if (c->drx_imm) {
		iscsi_conn_cmd_data_done(c, cmd, c->drx_bhs, c->drx.dlen);
		return;
	}
	iscsi_conn_dispatch(c, c->drx_bhs, c->drx_bhs + ISCSI_BHS_LEN,
			    c->drx.dst, c->drx.dlen);
	iscsi_cmd_put(cmd);
}

/* Parse every complete PDU in the receive buffer; true when at least one
 * was complete. */
static bool conn_parse(struct iscsi_conn *c)
{
	uint32_t off = 0;
	bool any = false;

	while ((c->state == CONN_LOGIN || c->state == CONN_FFP) &&
	       c->drx_cmd == NULL) {
		if (c->rx_skip) {
			uint32_t n = c->rx_len - off < c->rx_skip
					     ? c->rx_len - off
					     : c->rx_skip;
			off += n;
			c->rx_skip -= n;
			if (c->rx_skip)
				break;
			any = true;
			continue;
		}
		if (c->rx_len - off < ISCSI_BHS_LEN)
			break;
		uint8_t *bhs = c->rx + off;
		struct iscsi_pdu_frame f;
		if (iscsi_pdu_frame(bhs, c->hdig, c->ddig, c->p.max_recv_dsl,
				    &f) < 0) {
			log_warn("iscsi %s: %s with data segment %u beyond "
				 "MaxRecvDataSegmentLength %u", c->peer,
				 iscsi_op_name(iscsi_bhs_opcode(bhs)),
				 iscsi_bhs_dsl(bhs), c->p.max_recv_dsl);
			iscsi_conn_close(c, "PDU too long");
			return any;
		}
		if (c->rx_len - off < f.total) {
			if (c->rx_len - off >= f.hdr_len &&
			    conn_drx_start(c, bhs, &f, c->rx_len - off))
				off = c->rx_len;
			break;
		}
		if (c->hdig) {
			uint32_t want = iscsi_digest_header(bhs,
							    f.hdr_len - 4);
			if (iscsi_digest_get(bhs + f.hdr_len - 4) != want) {
				/* The length fields cannot be trusted
				 * either: resynchronizing is impossible. */
				iscsi_conn_close(c, "header digest error");
				return any;
			}
		}
		uint8_t *data = bhs + f.data_off;
		if (c->ddig && f.dsl > 0) {
			uint32_t padded = f.dsl + iscsi_pad(f.dsl);
			uint32_t crc = sk_crc32c(0, data, padded);
			if (iscsi_digest_get(data + padded) != crc) {
				conn_data_digest_error(c, bhs);
				break;
			}
		}
		iscsi_conn_dispatch(c, bhs, bhs + ISCSI_BHS_LEN, data, f.dsl);
		off += f.total;
		any = true;
	}
	if (c->state == CONN_CLOSED)
		return any;
	if (off > 0) {
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
	}
	return any;
}

/* Bytes of the next PDU's header to ask for behind a large segment. */
static uint32_t conn_hdr_len(const struct iscsi_conn *c)
{
	return ISCSI_BHS_LEN + (c->hdig ? ISCSI_DIGEST_LEN : 0);
}

void iscsi_conn_read(struct iscsi_conn *c)
{
	for (int rounds = 0; rounds < 16; rounds++) {
		if (c->state != CONN_LOGIN && c->state != CONN_FFP)
			return;
		if (c->tx_owned >= ISCSI_TX_OWNED_HIGH)
			return;	/* the peer is not reading: wait for it */
		struct iovec v[3];
		int nv = 0;
		size_t want = 0, seg = 0;
		if (c->drx_cmd != NULL) {
			/* The receive buffer is empty meanwhile. */
			nv = iscsi_rxseg_iov(&c->drx, v);
			for (int i = 0; i < nv; i++)
				seg += v[i].iov_len;
			want = seg;
		}
		uint32_t space = c->rx_cap - c->rx_len;
		if (space == 0 && nv == 0) {
			iscsi_conn_close(c, "receive buffer stuck");
			return;
		}
		if (space > 0) {
			v[nv].iov_base = c->rx + c->rx_len;
			v[nv].iov_len = space;
			if (seg >= DRX_BIG_SEGMENT && space > conn_hdr_len(c))
				v[nv].iov_len = conn_hdr_len(c);
			want += v[nv++].iov_len;
		}
		ssize_t n = readv(c->fd, v, nv);
		if (n == 0) {
			iscsi_conn_close(c, "closed by the initiator");
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				iscsi_conn_close(c, strerror(errno));
			return;
		}
		size_t rest = (size_t)n;
		bool whole = false;
		c->n_rx_bytes += (uint64_t)n;
		c->last_rx_ms = ev_now_ms();
		if (c->drx_cmd != NULL) {
			rest -= iscsi_rxseg_advance(&c->drx, rest);
			if (iscsi_rxseg_done(&c->drx)) {
				whole = true;
				conn_drx_finish(c);
				if (c->state == CONN_CLOSED)
					return;
			}
		}
		c->rx_len += (uint32_t)rest;
		if (conn_parse(c))
			whole = true;
		if (c->state == CONN_CLOSED)
			return;
		/* What is left is the start of a PDU still arriving: its
		 * clock starts now unless it was already incomplete before
		 * this read (then nothing was complete in it). */
		bool partial = c->rx_len || c->drx_cmd || c->rx_skip;
		if (whole || !partial)
			c->pdu_since_ms = 0;
		if (c->pdu_since_ms == 0 && partial)
			c->pdu_since_ms = c->last_rx_ms;
		if ((size_t)n < want)
			return;
	}
}

bool iscsi_conn_pdu_timed_out(struct iscsi_conn *c)
{
	struct iscsi_srv *s = c->srv;

	/* Not while we stopped reading: then the wait is ours. */
	if (c->pdu_since_ms == 0 ||
	    (c->rx_len == 0 && c->drx_cmd == NULL && !c->rx_skip) ||
	    c->tx_owned >= ISCSI_TX_OWNED_HIGH ||
	    ev_now_ms() - c->pdu_since_ms < s->pdu_timeout_ms)
		return false;
	sk_admit_note(&s->admit, SK_ADMIT_TIMEOUT,
		      "%s: a PDU still incomplete after %u s "
		      "(--iscsi-pdu-timeout); closing", c->peer,
		      s->pdu_timeout_ms / 1000);
	iscsi_conn_close(c, "PDU incomplete too long");
	return true;
}
