/*
 * The DMSG transaction API: opening transactions, sending on them,
 * answering, and the accessors of a state.  The states themselves (tables,
 * lifetime, loss) live in iocom.c; see iocom_int.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/dmsg.h>

#include "dmsg/dmsg_int.h"
#include "dmsg/iocom_int.h"

struct dmsg_state *dmsg_state_open(struct dmsg_iocom *io,
				   struct dmsg_state *parent, uint32_t cmd,
				   const void *body, size_t body_len,
				   const void *aux, size_t aux_len,
				   dmsg_state_fn fn, void *arg)
{
	struct dmsg_state *st;
	struct dmsg_hdr h;
	int rc;

	if (io->link != DMSG_LINK_UP || io->fail_pending || io->destroyed) {
		errno = ENOTCONN;
		return NULL;
	}
	if (parent && (parent->io != io || parent->tx_done ||
		       parent->rx_done)) {
		errno = ENOTCONN;
		return NULL;
	}
	st = dmsg_state_alloc(io, true, io->next_msgid++, cmd, parent);
	if (!st) {
		errno = ENOMEM;
		return NULL;
	}
	st->fn = fn;
	st->arg = arg;
	memset(&h, 0, sizeof(h));
	h.msgid = st->msgid;
	h.circuit = parent ? parent->msgid : 0;
	h.cmd = (cmd & (DMSGF_BASECMDMASK | DMSGF_DELETE | DMSGF_ABORT)) |
		DMSGF_CREATE;
	rc = dmsg_io_queue(io, &h, body, body_len, aux, aux_len);
	if (rc < 0) {
		st->rx_done = st->tx_done = true;
		dmsg_state_maybe_free(st);
		errno = -rc;
		return NULL;
	}
	st->tx_created = true;
	if (cmd & DMSGF_DELETE)
		st->tx_done = true;
	return st;
}

int dmsg_state_send(struct dmsg_state *st, uint32_t cmd, uint32_t error,
		    const void *body, size_t body_len, const void *aux,
		    size_t aux_len)
{
	struct dmsg_iocom *io = st->io;
	struct dmsg_hdr h;
	int rc;

	if (st->tx_done)
		return -EPIPE;
	memset(&h, 0, sizeof(h));
	h.msgid = st->msgid;
	h.circuit = st->parent ? st->parent->msgid : 0;
	h.cmd = cmd & (DMSGF_BASECMDMASK | DMSGF_DELETE | DMSGF_ABORT);
	if (!st->tx_created)
		h.cmd |= DMSGF_CREATE;
	if (!st->ours)
		h.cmd |= DMSGF_REPLY;
	h.error = error;
	rc = dmsg_io_queue(io, &h, body, body_len, aux, aux_len);
	if (rc < 0) {
		/* The link is going; the loss will end the transaction. */
		return rc;
	}
	st->tx_created = true;
	if (cmd & DMSGF_DELETE) {
		st->tx_done = true;
		dmsg_state_maybe_free(st);
	}
	return 0;
}

struct dmsg_txbuf *dmsg_txbuf_alloc(size_t body_len, size_t aux_len)
{
	struct dmsg_outbuf *ob;
	size_t sz;

	if (body_len > DMSG_BODY_MAX || aux_len > DMSG_AUX_MAX)
		return NULL;
	sz = dmsg_wire_size(body_len, aux_len);
	ob = malloc(sizeof(*ob) + sz);
	if (!ob)
		return NULL;
	ob->cap = sz;
	ob->body_len = body_len;
	ob->len = 0;
	ob->off = 0;
	ob->next = NULL;
	return (struct dmsg_txbuf *)ob;
}

void *dmsg_txbuf_aux(struct dmsg_txbuf *tb)
{
	struct dmsg_outbuf *ob = (struct dmsg_outbuf *)tb;

	return ob->data + dmsg_ext_size(ob->body_len);
}

void dmsg_txbuf_free(struct dmsg_txbuf *tb)
{
	free(tb);
}

int dmsg_state_send_txbuf(struct dmsg_state *st, uint32_t cmd,
			  uint32_t error, const void *body, size_t body_len,
			  struct dmsg_txbuf *tb, size_t aux_len)
{
	struct dmsg_outbuf *ob = (struct dmsg_outbuf *)tb;
	struct dmsg_hdr h;
	int rc;

	if (st->tx_done) {
		free(ob);
		return -EPIPE;
	}
	if (aux_len > ob->cap - dmsg_ext_size(ob->body_len)) {
		free(ob);
		return -EMSGSIZE;
	}
	memset(&h, 0, sizeof(h));
	h.msgid = st->msgid;
	h.circuit = st->parent ? st->parent->msgid : 0;
	h.cmd = cmd & (DMSGF_BASECMDMASK | DMSGF_DELETE | DMSGF_ABORT);
	if (!st->tx_created)
		h.cmd |= DMSGF_CREATE;
	if (!st->ours)
		h.cmd |= DMSGF_REPLY;
	h.error = error;
	rc = dmsg_io_queue_txbuf(st->io, &h, body, body_len, ob, aux_len);
	if (rc < 0) {
		free(ob);
		return rc;
	}
	st->tx_created = true;
	if (cmd & DMSGF_DELETE) {
		st->tx_done = true;
		dmsg_state_maybe_free(st);
	}
	return 0;
}

int dmsg_state_reply(struct dmsg_state *st, uint32_t error)
{
	if (st->tx_done)
		return 0;
	if (st->io->link != DMSG_LINK_UP) {
		st->tx_done = true;
		dmsg_state_maybe_free(st);
		return 0;
	}
	return dmsg_state_send(st, DMSG_LNK_ERROR | DMSGF_DELETE, error, NULL,
			       0, NULL, 0);
}

int dmsg_state_ack(struct dmsg_state *st, uint32_t error)
{
	if (st->tx_done)
		return -EPIPE;
	return dmsg_state_send(st, DMSG_LNK_ERROR, error, NULL, 0, NULL, 0);
}

void dmsg_state_set_handler(struct dmsg_state *st, dmsg_state_fn fn,
			    void *arg)
{
	st->fn = fn;
	st->arg = arg;
}

void *dmsg_state_arg(const struct dmsg_state *st)
{
	return st->arg;
}

struct dmsg_state *dmsg_state_parent(const struct dmsg_state *st)
{
	return st->parent;
}

struct dmsg_iocom *dmsg_state_iocom(const struct dmsg_state *st)
{
	return st->io;
}

uint64_t dmsg_state_msgid(const struct dmsg_state *st)
{
	return st->msgid;
}

uint32_t dmsg_state_cmd(const struct dmsg_state *st)
{
	return st->icmd;
}

bool dmsg_state_tx_done(const struct dmsg_state *st)
{
	return st->tx_done;
}

bool dmsg_state_rx_done(const struct dmsg_state *st)
{
	return st->rx_done;
}

void dmsg_state_set_user(struct dmsg_state *st, void *user)
{
	st->user = user;
}

void *dmsg_state_user(const struct dmsg_state *st)
{
	return st->user;
}
