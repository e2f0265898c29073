/*
 * The socket side of the vscsi SIM: the listener, the one userland end,
 * its framing and the wire messages (docs/vscsi-protocol.md).
 *
 * Output: commands are pushed as soon as CAM hands them over, batched per
 * loop iteration by a deferred flush.  Their data is in the shared area
 * when it fits the command's slot (sim_shm.c); else a small write's data
 * travels with the command and a larger one is pulled by DATA_WRITE,
 * answered with WDATA.  The output
 * buffer has a high-water mark: above it, commands stay queued in the SIM
 * (the reference's i2t list) until the peer reads; a peer that reads
 * nothing for stall_ms is dropped.  Notices (ABORT, EVENT, REPLY) are small
 * and always queued, but a peer that lets them pile up past a hard limit
 * is dropped too -- memory never grows with what the peer does.
 *
 * Input: every message is checked on its own (tag, direction, lengths),
 * as the reference checks every ioctl; a bad one gets a REPLY with the
 * errno and changes nothing.  Only broken framing closes the connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/scsi.h>

#include "vscsi/sim_int.h"

/* The userland end's address for the admission counts: local, no port. */
static const struct sockaddr_storage vscsi_local_peer = {
	.ss_family = AF_UNIX,
};

#define VSCSI_RBUF_CHUNK (256u * 1024)
#define VSCSI_RBUF_MIN_FREE (64u * 1024)
#define VSCSI_WBUF_MIN (256u * 1024)
#define VSCSI_NOTICE_SLACK (1u << 20)

static void vscsi_conn_io_cb(struct ev_io *io, int fd, uint32_t events,
			     void *arg);

/* Bytes waiting to be sent. */
static size_t wpending(const struct vscsi_sim *s)
{
	return s->wlen - s->woff;
}

/* Above this, commands wait in the SIM (one is always let through into
 * an empty buffer, however big). */
static size_t whigh(const struct vscsi_sim *s)
{
	(void)s;
	return VSCSI_WBUF_MIN;
}

/* Room for n more bytes at the end of the output buffer; NULL when the
 * peer has let too much pile up (the caller drops it). */
static uint8_t *wreserve(struct vscsi_sim *s, size_t n)
{
	if (wpending(s) + n > whigh(s) + s->max_msg + VSCSI_NOTICE_SLACK)
		return NULL;
	/* Compact only when the sent part is at least as big as what is
	 * left, so the copying stays amortized O(1) per byte. */
	if (s->woff > 0 && s->wlen + n > s->wcap &&
	    s->woff >= wpending(s)) {
		memmove(s->wbuf, s->wbuf + s->woff, wpending(s));
		s->wlen -= s->woff;
		s->woff = 0;
	}
	if (s->wlen + n > s->wcap) {
		size_t cap = s->wcap ? s->wcap : VSCSI_WBUF_MIN;
		uint8_t *nb;

		while (cap < s->wlen + n)
			cap *= 2;
		nb = realloc(s->wbuf, cap);
		if (!nb)
			return NULL;
		s->wbuf = nb;
		s->wcap = cap;
	}
	return s->wbuf + s->wlen;
}

static void put_hdr(uint8_t *p, uint32_t len, uint8_t type, uint32_t tag,
		    uint32_t aux)
{
	struct vscsi_hdr h = {.len = len, .type = type, .tag = tag,
			      .aux = aux};

	vscsi_hdr_encode(p, &h);
}

/* Queue a notice; false if the peer was dropped for not reading. */
static bool queue_notice(struct vscsi_sim *s, uint8_t type, uint32_t tag,
			 uint32_t aux, const void *body, size_t blen)
{
	uint8_t *p = wreserve(s, VSCSI_HDR_LEN + blen);

	if (!p) {
		vscsi_conn_lost(s, "userland end does not read its messages");
		return false;
	}
	put_hdr(p, (uint32_t)(VSCSI_HDR_LEN + blen), type, tag, aux);
	if (blen)
		memcpy(p + VSCSI_HDR_LEN, body, blen);
	s->wlen += VSCSI_HDR_LEN + blen;
	vscsi_conn_kick(s);
	return true;
}

static void queue_reply(struct vscsi_sim *s, unsigned req, uint32_t tag,
			int err, const char *text)
{
	uint8_t body[VSCSI_REPLY_LEN + VSCSI_TEXT_MAX];
	size_t tlen = text ? strnlen(text, VSCSI_TEXT_MAX) : 0;

	memset(body, 0, VSCSI_REPLY_LEN);
	body[0] = (uint8_t)req;
	vscsi_put32(body + 4, (uint32_t)(err < 0 ? -err : err));
	if (tlen)
		memcpy(body + VSCSI_REPLY_LEN, text, tlen);
	queue_notice(s, VSCSI_MSG_REPLY, tag, 0, body, VSCSI_REPLY_LEN + tlen);
}

void vscsi_conn_send_abort(struct vscsi_sim *s, uint32_t tag, uint32_t status)
{
	queue_notice(s, VSCSI_MSG_ABORT, tag, status, NULL, 0);
}

void vscsi_conn_send_event(struct vscsi_sim *s, unsigned code,
			   uint32_t target, uint64_t lun)
{
	uint8_t body[VSCSI_EVENT_LEN];

	vscsi_devev_encode(body, target, lun);
	queue_notice(s, VSCSI_MSG_EVENT, 0, code, body, sizeof(body));
}

/* ---- output ---- */

static void vscsi_stall_cb(struct ev_timer *t, void *arg)
{
	struct vscsi_sim *s = arg;

	(void)t;
	vscsi_conn_lost(s, "userland end stopped reading (stall timeout)");
}

static void set_write_watch(struct vscsi_sim *s, bool on)
{
	uint32_t ev = EV_READ | (on ? EV_WRITE : 0);

	if (s->cio && ev != s->cio_events) {
		ev_io_modify(s->cio, ev);
		s->cio_events = ev;
	}
	if (on && !s->stall)
		s->stall = ev_timer_add(s->loop, s->p.stall_ms, false,
					vscsi_stall_cb, s);
	else if (!on && s->stall) {
		ev_timer_del(s->stall);
		s->stall = NULL;
	}
}

void vscsi_conn_flush(struct vscsi_sim *s)
{
	bool progress = false;

	while (s->cfd >= 0 && wpending(s) > 0) {
		ssize_t n = send(s->cfd, s->wbuf + s->woff, wpending(s),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			vscsi_conn_lost(s, "send failed");
			return;
		}
		s->woff += (size_t)n;
		progress = true;
	}
	if (s->cfd < 0)
		return;
	if (wpending(s) == 0) {
		s->woff = s->wlen = 0;
		set_write_watch(s, false);
		return;
	}
	if (progress && s->stall)
		ev_timer_reset(s->stall, s->p.stall_ms);
	set_write_watch(s, true);
}

/* Encode one queued command (and its write data) into the output. */
static bool push_one(struct vscsi_sim *s, struct vscsi_ccb *v)
{
	union ccb *ccb = v->ccb;
	struct ccb_scsiio *csio = &ccb->csio;
	struct vscsi_cmd_body b;
	enum vscsi_dir dir = vscsi_ccb_dir(ccb);
	uint32_t dlen = dir == VSCSI_DIR_NONE ? 0 : csio->dxfer_len;
	uint32_t idx = (uint32_t)(v - s->pool);
	/* Data that fits the entry's slot goes by the area, unless the peer
	 * still has the slot from an aborted command. */
	bool shm = s->area && dlen > 0 && dlen <= s->slot_size &&
		   idx < s->nslots && !v->qheld;
	/* Else small writes travel with the command (one message less, see
	 * docs/vscsi-protocol.md); larger ones are pulled with DATA_WRITE. */
	uint32_t inl = !shm && dir == VSCSI_DIR_WRITE && dlen > 0 &&
				       dlen <= s->p.inline_max
			       ? dlen
			       : 0;
	uint32_t len = VSCSI_HDR_LEN + VSCSI_CMD_LEN +
		       (shm ? VSCSI_SHM_REF_LEN : inl);
	uint8_t *p = wreserve(s, len);

	if (!p)
		return false;
	memset(&b, 0, sizeof(b));
	b.target = ccb->ccb_h.target_id;
	b.lun = ccb->ccb_h.target_lun;
	b.data_len = dlen;
	b.dir = (uint8_t)dir;
	b.cdb_len = csio->cdb_len;
	b.tag_action = ccb->ccb_h.tag_action;
	b.flags = shm ? VSCSI_CMD_F_SHM : inl ? VSCSI_CMD_F_INLINE : 0;
	b.shm_off = shm ? idx * s->slot_size : 0;
	b.shm_len = shm ? dlen : 0;
	memcpy(b.cdb,
	       (ccb->ccb_h.flags & CAM_CDB_POINTER) ? csio->cdb_io.cdb_ptr
						    : csio->cdb_io.cdb_bytes,
	       csio->cdb_len);
	put_hdr(p, len, VSCSI_MSG_CMD, v->tag, 0);
	vscsi_cmd_encode(p + VSCSI_HDR_LEN, &b);
	if (inl)
		vscsi_ccb_copy_out(ccb, 0, p + VSCSI_HDR_LEN + VSCSI_CMD_LEN,
				   inl);
	v->shm = shm;
	/* Write data in the area or inline counts as moved. */
	if (shm && dir == VSCSI_DIR_WRITE) {
		vscsi_ccb_copy_out(ccb, 0, s->area + b.shm_off, dlen);
		v->moved = dlen;
	} else {
		v->moved = inl;
	}
	s->shm_cmds += shm;
	s->wlen += len;
	vccb_list_remove(&s->queued, v);
	v->state = VCCB_SENT;
	vccb_list_append(&s->sent, v);
	s->cmds++;
	sk_trace(SK_TRACE_VSCSI, "%s%u: I2T tag 0x%x %u:%llu op 0x%02x len %u%s",
		 s->name, s->p.unit, v->tag, b.target,
		 (unsigned long long)b.lun, b.cdb[0], dlen, shm ? " shm" : "");
	return true;
}

void vscsi_conn_push(struct vscsi_sim *s)
{
	for (int round = 0; round < 64 && s->cfd >= 0; round++) {
		while (s->queued.head &&
		       (wpending(s) == 0 || wpending(s) < whigh(s))) {
			if (!push_one(s, s->queued.head))
				break;
		}
		vscsi_conn_flush(s);
		/* Stop when nothing waits, or when the peer's socket is full
		 * (the flush armed EV_WRITE, which brings us back); else
		 * the flush made room: push more. */
		if (s->cfd < 0 || !s->queued.head || wpending(s) >= whigh(s))
			return;
	}
	/* Still commands and nothing armed to bring us back: come back
	 * after the loop has looked at other work. */
	if (s->cfd >= 0 && s->queued.head && wpending(s) == 0)
		vscsi_conn_kick(s);
}

static void vscsi_conn_deferred(void *arg)
{
	struct vscsi_sim *s = arg;

	s->flush_deferred = false;
	if (s->dying || s->cfd < 0)
		return;
	vscsi_conn_push(s);
}

void vscsi_conn_kick(struct vscsi_sim *s)
{
	if (s->flush_deferred || s->cfd < 0)
		return;
	if (ev_loop_defer(s->loop, vscsi_conn_deferred, s) == 0)
		s->flush_deferred = true;
	else
		vscsi_conn_push(s);
}

/* ---- input: one message at a time ---- */

/* The checks of the reference's DATA ioctls, in its order. */
static int data_check(struct vscsi_ccb *v, enum vscsi_dir want, uint32_t len)
{
	if (!v)
		return -EFAULT;
	if (len > v->ccb->csio.dxfer_len - v->moved)
		return -ENOMEM;
	if (vscsi_ccb_dir(v->ccb) != want)
		return -EINVAL;
	return 0;
}

static int do_data_read(struct vscsi_sim *s, uint32_t tag,
			const uint8_t *data, uint32_t len)
{
	struct vscsi_ccb *v = vscsi_sim_lookup(s, tag);
	int err = data_check(v, VSCSI_DIR_READ, len);

	if (err)
		return err;
	vscsi_ccb_copy_in(v->ccb, v->moved, data, len);
	v->moved += len;
	return 0;
}

/* DATA_WRITE: the next len bytes of a WRITE command's data go to the
 * userland end in one WDATA message (header and raw data, nothing else, so
 * either side can move the bytes without an intermediate copy). */
static int do_data_write(struct vscsi_sim *s, uint32_t tag,
			 const uint8_t *body, uint32_t blen)
{
	struct vscsi_ccb *v;
	uint32_t len;
	uint8_t *p;
	int err;

	if (blen != VSCSI_DATA_WRITE_LEN)
		return -EINVAL;
	len = vscsi_get32(body);
	v = vscsi_sim_lookup(s, tag);
	err = data_check(v, VSCSI_DIR_WRITE, len);
	if (err)
		return err;
	p = wreserve(s, VSCSI_HDR_LEN + (size_t)len);
	if (!p) {
		vscsi_conn_lost(s, "userland end does not read its messages");
		return 0;
	}
	put_hdr(p, VSCSI_HDR_LEN + len, VSCSI_MSG_WDATA, tag, 0);
	vscsi_ccb_copy_out(v->ccb, v->moved, p + VSCSI_HDR_LEN, len);
	s->wlen += VSCSI_HDR_LEN + (size_t)len;
	v->moved += len;
	vscsi_conn_kick(s);
	return 0;
}

/* The T2I of a command the SIM took back while the peer had its slot:
 * the peer is done with the slot now.  True if tag was such a command. */
static bool shm_release(struct vscsi_sim *s, uint32_t tag)
{
	struct vscsi_ccb *v = &s->pool[tag & (s->npool - 1)];

	if (!v->qheld || v->qtag != tag)
		return false;
	v->qheld = false;
	return true;
}

/* Read data the peer put in the area: the checks of DATA_READ, then the
 * range must lie in the command's own slot. */
static int shm_check_read(struct vscsi_sim *s, struct vscsi_ccb *v,
			  const struct vscsi_t2i_view *t)
{
	uint32_t idx = (uint32_t)(v - s->pool);
	int err = data_check(v, VSCSI_DIR_READ, t->shm_len);

	if (err)
		return err;
	if (!v->shm)
		return -EINVAL;		/* this command has no slot */
	return vscsi_shm_check(t->shm_off, t->shm_len,
			       (uint64_t)idx * s->slot_size, s->slot_size,
			       s->area_len);
}

static int do_t2i(struct vscsi_sim *s, uint32_t tag,
		  const struct vscsi_t2i_view *t)
{
	struct vscsi_ccb *v = vscsi_sim_lookup(s, tag);
	struct ccb_scsiio *csio;
	uint32_t st;
	int err;

	if (!v)
		return shm_release(s, tag) ? 0 : -EFAULT;
	csio = &v->ccb->csio;
	/* Check everything before changing anything. */
	if (t->flags & VSCSI_T2I_F_SHM) {
		err = shm_check_read(s, v, t);
		if (err)
			return err;
		vscsi_ccb_copy_in(v->ccb, v->moved, s->area + t->shm_off,
				  t->shm_len);
		v->moved += t->shm_len;
	} else if (t->data_len) {
		err = data_check(v, VSCSI_DIR_READ, t->data_len);
		if (err)
			return err;
		vscsi_ccb_copy_in(v->ccb, v->moved, t->data, t->data_len);
		v->moved += t->data_len;
	}
	/* Answered: the slot is free again with the entry. */
	v->shm = false;
	switch (t->status) {
	case VSCSI_STAT_DONE:
		csio->scsi_status = t->scsi_status;
		st = t->scsi_status == SCSI_STATUS_GOOD ? CAM_REQ_CMP
							: CAM_SCSI_STATUS_ERROR;
		break;
	case VSCSI_STAT_SENSE:
		csio->scsi_status = SCSI_STATUS_CHECK_CONDITION;
		st = CAM_SCSI_STATUS_ERROR;
		if (!(v->ccb->ccb_h.flags & CAM_DIS_AUTOSENSE)) {
			uint8_t n = t->sense_len < csio->sense_len
					    ? t->sense_len
					    : csio->sense_len;

			memset(csio->sense_data, 0, sizeof(csio->sense_data));
			memcpy(csio->sense_data, t->sense, n);
			csio->sense_resid = (uint8_t)(csio->sense_len - n);
			st |= CAM_AUTOSNS_VALID;
		}
		break;
	case VSCSI_STAT_RESET:
		st = CAM_SCSI_BUS_RESET;
		break;
	case VSCSI_STAT_SELTIMEOUT:
		st = CAM_SEL_TIMEOUT;
		break;
	case VSCSI_STAT_ERR:
	default:
		st = CAM_REQ_CMP_ERR;
		break;
	}
	sk_trace(SK_TRACE_VSCSI, "%s%u: T2I tag 0x%x status %u scsi 0x%02x "
		 "moved %u/%u", s->name, s->p.unit, tag, t->status,
		 t->scsi_status, v->moved, csio->dxfer_len);
	s->done++;
	vscsi_sim_complete(s, v, st);
	return 0;
}

static void process_msg(struct vscsi_sim *s, const struct vscsi_hdr *h,
			const uint8_t *body, uint32_t blen)
{
	struct vscsi_t2i_view t;
	struct vscsi_devev d;
	int err;

	switch (h->type) {
	case VSCSI_MSG_DATA_READ:
		err = do_data_read(s, h->tag, body, blen);
		break;
	case VSCSI_MSG_DATA_WRITE:
		err = do_data_write(s, h->tag, body, blen);
		break;
	case VSCSI_MSG_T2I:
		err = vscsi_t2i_parse(body, blen, &t);
		if (err == 0)
			err = do_t2i(s, h->tag, &t);
		break;
	case VSCSI_MSG_REQPROBE:
	case VSCSI_MSG_REQDETACH:
		err = vscsi_devev_parse(body, blen, &d);
		if (err == 0)
			err = vscsi_sim_devevent(s, h->type, d.target, d.lun);
		break;
	default:
		err = -ENOTTY;	/* the reference's unknown ioctl */
		break;
	}
	if (err) {
		s->errors++;
		log_debug("%s%u: %s tag 0x%x refused: %s", s->name, s->p.unit,
			  vscsi_msg_name(h->type), h->tag, strerror(-err));
		if (s->cfd >= 0)
			queue_reply(s, h->type, h->tag, err, NULL);
	} else if ((h->flags & VSCSI_F_ACK) && s->cfd >= 0) {
		queue_reply(s, h->type, h->tag, 0, NULL);
	}
}

/* Process the whole messages at the start of buf; returns the bytes used
 * or -EPROTO. */
static ssize_t process_buf(struct vscsi_sim *s, const uint8_t *buf,
			   size_t len)
{
	size_t off = 0;

	while (s->cfd >= 0 && s->state == VSCSI_S_RUNNING) {
		struct vscsi_hdr h;
		int r = vscsi_hdr_parse(buf + off, len - off, s->max_msg, &h);

		if (r < 0)
			return -EPROTO;
		if (r == 0)
			break;
		process_msg(s, &h, buf + off + VSCSI_HDR_LEN,
			    h.len - VSCSI_HDR_LEN);
		off += h.len;
	}
	return (ssize_t)off;
}

void vscsi_conn_input(struct vscsi_sim *s)
{
	s->in_input = true;
	for (int i = 0; i < 16 && s->cfd >= 0; i++) {
		ssize_t n, used;

		if (s->rcap - s->rlen < VSCSI_RBUF_MIN_FREE) {
			/* Doubling, so that a steady stream does not realloc;
			 * bounded: whole messages are consumed, and one is at
			 * most max_msg, so rlen stays below max_msg + cap. */
			size_t cap = s->rcap ? s->rcap * 2 : VSCSI_RBUF_CHUNK;
			uint8_t *nb;

			while (cap - s->rlen < VSCSI_RBUF_MIN_FREE)
				cap *= 2;
			nb = realloc(s->rbuf, cap);

			if (!nb) {
				vscsi_conn_lost(s, "out of memory");
				break;
			}
			s->rbuf = nb;
			s->rcap = cap;
		}
		n = recv(s->cfd, s->rbuf + s->rlen, s->rcap - s->rlen,
			 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			vscsi_conn_lost(s, n == 0 ? "closed by the userland end"
						  : "receive failed");
			break;
		}
		s->rlen += (size_t)n;
		used = process_buf(s, s->rbuf, s->rlen);
		if (s->cfd < 0)
			break;
		if (used < 0) {
			log_warn("%s%u: broken framing from the userland end",
				 s->name, s->p.unit);
			vscsi_conn_lost(s, "broken framing");
			break;
		}
		if (used > 0) {
			memmove(s->rbuf, s->rbuf + used, s->rlen - (size_t)used);
			s->rlen -= (size_t)used;
		}
		/* Shrink back after big messages. */
		if (s->rlen == 0 && s->rcap > 8 * VSCSI_RBUF_CHUNK) {
			free(s->rbuf);
			s->rbuf = NULL;
			s->rcap = 0;
		}
	}
	s->in_input = false;
}

static void vscsi_conn_io_cb(struct ev_io *io, int fd, uint32_t events,
			     void *arg)
{
	struct vscsi_sim *s = arg;

	(void)io;
	(void)fd;
	if (events & (EV_READ | EV_ERROR))
		vscsi_conn_input(s);
	if (s->cfd >= 0 && (events & EV_WRITE))
		vscsi_conn_push(s);
}

/* ---- connection life ---- */

void vscsi_conn_close(struct vscsi_sim *s, const char *why)
{
	if (s->cfd < 0)
		return;
	if (why)
		log_info("%s%u: userland end disconnected: %s", s->name,
			 s->p.unit, why);
	if (s->cio) {
		ev_io_del(s->cio);
		s->cio = NULL;
	}
	if (s->stall) {
		ev_timer_del(s->stall);
		s->stall = NULL;
	}
	close(s->cfd);
	s->cfd = -1;
	vscsi_shm_close(s);
	sk_admit_leave(&s->admit, &vscsi_local_peer);
	s->cio_events = 0;
	free(s->rbuf);
	free(s->wbuf);
	s->rbuf = s->wbuf = NULL;
	s->rlen = s->rcap = s->woff = s->wlen = s->wcap = 0;
}

void vscsi_conn_lost(struct vscsi_sim *s, const char *why)
{
	if (s->cfd < 0)
		return;
	vscsi_conn_close(s, why);
	vscsi_sim_disconnected(s, false);
}

static void refuse(struct vscsi_sim *s, int fd)
{
	uint8_t msg[VSCSI_HDR_LEN + VSCSI_REPLY_LEN + VSCSI_TEXT_MAX];
	char text[VSCSI_TEXT_MAX];
	size_t tlen;

	snprintf(text, sizeof(text), "%s%u: %s", s->name, s->p.unit,
		 s->state == VSCSI_S_RUNNING
			 ? "another userland end is connected"
			 : "the previous userland end is still being torn "
			   "down");
	tlen = strlen(text);
	memset(msg, 0, sizeof(msg));
	put_hdr(msg, (uint32_t)(VSCSI_HDR_LEN + VSCSI_REPLY_LEN + tlen),
		VSCSI_MSG_REPLY, 0, 0);
	msg[VSCSI_HDR_LEN] = VSCSI_MSG_HELLO;
	vscsi_put32(msg + VSCSI_HDR_LEN + 4, EBUSY);
	memcpy(msg + VSCSI_HDR_LEN + VSCSI_REPLY_LEN, text, tlen);
	/* A fresh socket has room for this; if not, the close says it. */
	if (send(fd, msg, VSCSI_HDR_LEN + VSCSI_REPLY_LEN + tlen,
		 MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("%s%u: refusal not sent: %s", s->name, s->p.unit,
			  strerror(errno));
	close(fd);
	s->refused++;
	sk_admit_note(&s->admit, SK_ADMIT_REFUSED_CAP,
		      "refused a second userland end (EBUSY)");
}

int vscsi_conn_attach(struct vscsi_sim *s, int fd)
{
	uint8_t msg[VSCSI_HDR_LEN + VSCSI_HELLO_LEN];
	struct vscsi_hello hello;
	int fl, err;

	if (s->state != VSCSI_S_CLOSED || s->dying) {
		refuse(s, fd);
		return -EBUSY;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		close(fd);
		return -errno;
	}
	s->state = VSCSI_S_CONFIG;
	s->cfd = fd;
	s->cio = ev_io_add(s->loop, fd, EV_READ, vscsi_conn_io_cb, s);
	if (!s->cio) {
		err = -errno;
		close(fd);
		s->cfd = -1;
		s->state = VSCSI_S_CLOSED;
		return err ? err : -ENOMEM;
	}
	s->cio_events = EV_READ;
	sk_admit_force(&s->admit, &vscsi_local_peer);
	memset(s->detached, 0, sizeof(s->detached));
	memset(&hello, 0, sizeof(hello));
	hello.version = VSCSI_WIRE_VERSION;
	hello.max_cdb = VSCSI_CDB_MAX;
	hello.max_xfer = s->p.maxio;
	hello.targets = VSCSI_TARGETS;
	hello.luns = VSCSI_LUNS;
	hello.openings = s->p.openings;
	vscsi_shm_open(s);
	if (s->area) {
		hello.shm_slot = s->slot_size;
		hello.shm_slots = s->nslots;
	}
	{
		char nm[40];

		/* Truncation to the 15 characters of the wire is fine. */
		snprintf(nm, sizeof(nm), "%s%u", s->name, s->p.unit);
		memcpy(hello.name, nm, sizeof(hello.name) - 1);
	}
	put_hdr(msg, sizeof(msg), VSCSI_MSG_HELLO, 0, 0);
	vscsi_hello_encode(msg + VSCSI_HDR_LEN, &hello);
	s->conns++;
	s->state = VSCSI_S_RUNNING;
	log_info("%s%u: userland end connected (RUNNING%s)", s->name,
		 s->p.unit, s->area ? ", shared data area" : "");
	/* Straight out, not through the output buffer: the area's fd goes
	 * with the greeting's bytes. */
	err = vscsi_shm_send_hello(s, msg, sizeof(msg));
	if (err) {
		vscsi_conn_lost(s, "cannot send the greeting");
		return err;
	}
	return 0;
}

static void vscsi_accept_cb(struct ev_io *io, int lfd, uint32_t events,
			    void *arg)
{
	struct vscsi_sim *s = arg;

	(void)io;
	(void)events;
	for (int i = 0; i < 8; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				log_warn("%s%u: accept: %s", s->name,
					 s->p.unit, strerror(errno));
			return;
		}
		vscsi_conn_attach(s, fd);
	}
}

int vscsi_conn_listen(struct vscsi_sim *s)
{
	s->lio = ev_io_add(s->loop, s->lfd, EV_READ, vscsi_accept_cb, s);
	return s->lio ? 0 : -errno;
}

int vscsi_listen_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	/* Replace a stale socket, never anything else, nor a socket
	 * someone still listens on. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket",
				 path);
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 &&
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			snprintf(err, errlen, "%s is in use by another process",
				 path);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}
