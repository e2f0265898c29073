/*
 * The iocom's objects, shared by iocom.c (the link: framing, dispatch,
 * keep-alive, loss) and state.c (the transaction API).  Touched only on
 * the iocom's loop.
 */
#ifndef SCSIKIT_SRC_DMSG_IOCOM_INT_H
#define SCSIKIT_SRC_DMSG_IOCOM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <scsikit/dmsg.h>

struct ev_io;
struct ev_loop;
struct ev_timer;

#define HASH_BUCKETS 256u

struct dmsg_outbuf {
	struct dmsg_outbuf *next;
	size_t len;
	size_t off;
	size_t cap;		/* txbuf: bytes of data[] */
	size_t body_len;	/* txbuf: the body it was sized for */
	uint8_t data[];
};

struct dmsg_state {
	struct dmsg_iocom *io;
	struct dmsg_state *hnext;	/* hash chain (tx or rx table) */
	struct dmsg_state *parent;
	struct dmsg_state *child_first; /* open sub-transactions */
	struct dmsg_state *sib_next, *sib_prev;
	uint64_t msgid;
	uint32_t icmd;		/* proto|command that opened it */
	bool ours;		/* we opened it (its replies carry REPLY) */
	bool rx_created;	/* the peer has sent its first message */
	bool tx_created;	/* we have sent our first message */
	bool rx_done;		/* the peer has sent DELETE */
	bool tx_done;		/* we have sent DELETE */
	bool freed;
	bool hashed;		/* in io->tx or io->rx */
	int busy;		/* handlers of this state on the stack */
	dmsg_state_fn fn;
	void *arg;
	void *user;
};

enum dmsg_link {
	DMSG_LINK_UP = 0,	/* exchanging messages */
	DMSG_LINK_LOST = 1,	/* transactions ended, fd closed */
};

struct dmsg_iocom {
	struct ev_loop *loop;
	int fd;
	struct ev_io *watch;
	struct ev_timer *ping;
	const struct dmsg_iocom_ops *ops;
	void *arg;
	struct dmsg_iocom_opts opts;
	char name[64];

	enum dmsg_link link;
	int fail_err;		/* first error seen; loss pending if set */
	bool fail_pending;
	bool destroyed;
	bool flush_pending;
	bool reading;		/* EV_READ is armed */
	bool rx_paused;		/* the owner asked us to stop reading */
	bool want_write;	/* EV_WRITE is armed */
	int refs;		/* deferred work and the owner */

	struct dmsg_state *tx[HASH_BUCKETS]; /* transactions we opened */
	struct dmsg_state *rx[HASH_BUCKETS]; /* transactions the peer opened */
	uint32_t nrx, ntx;
	uint64_t next_msgid;

	struct dmsg_outbuf *outq, *outq_tail;
	size_t outq_bytes;

	uint8_t *rbuf;
	size_t rcap, rlen;

	uint64_t last_rx_ms, last_tx_ms;
	struct dmsg_iocom_stats st;
};

/* Encode and queue one message; 0 or -errno (-ENOTCONN once lost). */
int dmsg_io_queue(struct dmsg_iocom *io, const struct dmsg_hdr *hdr,
		  const void *body, size_t body_len, const void *aux,
		  size_t aux_len);
/* Seal and queue a txbuf whose aux is in place; consumes it on success. */
int dmsg_io_queue_txbuf(struct dmsg_iocom *io, const struct dmsg_hdr *hdr,
			const void *body, size_t body_len,
			struct dmsg_outbuf *ob, size_t aux_len);
/* A new transaction state in io's table of ours or the peer's. */
struct dmsg_state *dmsg_state_alloc(struct dmsg_iocom *io, bool ours,
				    uint64_t msgid, uint32_t icmd,
				    struct dmsg_state *parent);
/* Free st once both sides sent DELETE and no handler of it runs. */
void dmsg_state_maybe_free(struct dmsg_state *st);

#endif
