/*
 * Internals of the NBD server shared by server.c (listeners, export
 * lookup, the connection list) and conn.c (one connection: handshake and
 * transmission).
 */
#ifndef SCSIKIT_NBD_INT_H
#define SCSIKIT_NBD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <scsikit/bdev.h>
#include <scsikit/nbd.h>

#include "nbd/handshake.h"
#include "nbd/proto.h"
#include "nbd/tls.h"
#include "util/admit.h"

struct ev_io;
struct ev_timer;
struct nbd_conn;

#define NBD_MAX_LISTENERS 8

struct nbd_listener {
	struct nbd_server *srv;
	int fd;
	struct ev_io *io;
	bool is_unix;
	char addr[128];		/* as given, for messages */
	char path[108];		/* Unix socket file to remove */
};

/*
 * The server.  Fields under lock: conns, nconns, refs, stats.*; the rest
 * is written before any connection exists and only read afterwards.
 */
struct nbd_server {
	struct nbd_server_opts opts;
	struct nbd_listener lis[NBD_MAX_LISTENERS];
	unsigned nlis;

	pthread_mutex_t lock;
	pthread_cond_t cond;	/* signalled when a connection goes */
	struct nbd_conn *conns;	/* list of open connections */
	unsigned nconns;
	unsigned refs;		/* 1 for the owner + 1 per connection */
	bool destroyed;
	struct nbd_server_stats stats;
	uint64_t next_id;

	/* TLS, set before the first listen (nbd_server_set_tls). */
	enum nbd_tls_mode tls_mode;
	struct nbd_tls_creds *tls_creds;	/* NULL when OFF */
	struct sk_admit admit;	/* per-address counts (its own lock) */
};

/* The exports the handshake sees: the disks of the bdev registry. */
extern const struct nbd_export_ops nbd_registry_exports;

/* server.c: a connection has ended; fold its counters in and drop the
 * server reference it held. */
void nbd_server_conn_gone(struct nbd_server *s, struct nbd_conn *c);

/* ---- one connection (conn.c) ---- */

#define NBD_INBUF_SIZE (64u * 1024)
#define NBD_REQ_MAX_SEG 40
#define NBD_REQ_HDR_MAX 640
#define NBD_REQ_MAX_RUNS 16
#define NBD_BS_MAX_DESC 2048	/* descriptors in one block status reply */
#define NBD_SPARSE_READ_MIN (64u * 1024) /* reads that look for holes */

/* One request, from parse to the last byte of its reply. */
struct nbd_req {
	struct nbd_conn *conn;
	struct nbd_req *next;	/* reply queue or free list */
	struct nbd_request r;
	struct bdev_io io;
	struct iovec iov;	/* the data buffer for the bdev */
	uint8_t *buf;		/* READ/WRITE/CACHE data, block status */
	size_t buf_cap;
	size_t charged;		/* bytes counted in conn->buffered */
	uint32_t got;		/* WRITE payload received so far */
	bool flush_after;	/* FUA on TRIM/WRITE_ZEROES: flush next */
	bool in_bdev;		/* io submitted, callback pending */

	/* Hole/data runs of a sparse-aware structured read. */
	uint8_t nruns;
	struct {
		uint32_t len;
		bool hole;
	} runs[NBD_REQ_MAX_RUNS];

	/* The reply: segments pointing into hdr[] and buf. */
	struct iovec seg[NBD_REQ_MAX_SEG];
	int nseg;
	int seg_idx;		/* first segment not fully sent */
	size_t hdr_len;
	uint8_t hdr[NBD_REQ_HDR_MAX];
};

/*
 * Connection states:
 *   HANDSHAKE --GO/EXPORT_NAME--> TRANSMISSION
 *   HANDSHAKE --ABORT/bad input--> CLOSING (send what is queued, close)
 *   TRANSMISSION --DISC/EOF--> DRAINING (finish in-flight requests, send
 *                                         their replies, close)
 *   any --fatal error/stall/kill--> DEAD (fd closed; the struct is freed
 *                                          once no bdev I/O is pending)
 */
enum nbd_conn_state {
	NBD_CONN_HANDSHAKE = 0,
	NBD_CONN_TRANSMISSION,
	NBD_CONN_CLOSING,
	NBD_CONN_DRAINING,
	NBD_CONN_DEAD,
};

struct nbd_conn {
	/* Set at creation, then read-only; but loop changes once, under
	 * srv->lock, when the connection moves to its export's reactor
	 * (conn.c, conn_move_cb). */
	struct nbd_server *srv;
	struct ev_loop *loop;
	uint64_t id;
	char peer[80];
	unsigned max_requests;
	uint64_t max_buffered;
	unsigned stall_ms;
	unsigned handshake_ms;
	unsigned body_ms;
	struct sockaddr_storage peer_ss; /* for the per-address count */

	/* Under srv->lock. */
	struct nbd_conn *next, **prevp;
	bool started;		/* nbd_conn_start has run: killable */
	bool evicting;		/* a close for a newcomer is on its way */
	/* Written by the connection's loop, read by the acceptor (atomic):
	 * when the connection last became idle (in transmission, nothing in
	 * flight or arriving), 0 while it is not. */
	uint64_t idle_since_ms;

	/* Owned by the connection's loop. */
	enum nbd_conn_state state;
	int fd;
	struct ev_io *io;
	uint32_t ev_mask;
	struct ev_timer *hs_timer;
	struct ev_timer *stall_timer;
	struct ev_timer *body_timer;
	uint64_t body_since_ms;	/* first byte of an incomplete request */
	uint64_t last_progress_ms;
	bool flush_scheduled;
	bool reap_scheduled;
	bool read_paused;	/* budget exhausted: not reading */
	struct nbd_hs *hs;	/* during the handshake only */
	struct nbd_buf hsout;	/* handshake replies not yet sent */
	/* TLS (tls.c): once STARTTLS is acknowledged, every byte after the
	 * ACK goes through it; tls_want is what its handshake waits for. */
	struct nbd_tls *tls;
	uint32_t tls_want;
	bool read_scheduled;	/* a read of TLS-buffered input is queued */
	/* The export's home reactor (bdev_home_loop), to move to before the
	 * first request is parsed; move_scheduled: conn_move_cb is queued. */
	struct ev_loop *move_to;
	bool move_scheduled;

	/* Input. */
	uint8_t *in;
	size_t in_off, in_len;	/* unparsed bytes: in[in_off .. in_len) */
	struct nbd_req *rx;	/* WRITE whose payload is arriving */
	uint64_t discard;	/* payload bytes of a refused WRITE to skip */

	/* The export, from the handshake. */
	struct bdev *bd;
	char export_name[64];
	struct nbd_export_limits lim;
	uint32_t lbsize;
	bool discard_zeroes;
	bool volatile_cache;

	/* Requests. */
	unsigned inflight;	/* parsed and not yet fully replied */
	unsigned in_bdev;	/* of which waiting for the bdev */
	uint64_t buffered;
	struct nbd_req *outq, **outq_tail;
	struct nbd_req *free_reqs;
	unsigned nfree;

	/* Counters, folded into the server's at close. */
	struct nbd_server_stats st;
};

/* conn.c: the socket side of a connection. */
struct nbd_conn *nbd_conn_create(struct nbd_server *s, int fd,
				 struct ev_loop *loop, const char *peer,
				 uint64_t id);
/* Start serving (on the connection's loop; posted by the acceptor). */
void nbd_conn_start(void *conn);
/* Close the connection (on its loop; posted by nbd_server_destroy). */
void nbd_conn_kill_cb(void *conn);
/* Close now: the socket goes, the struct once no bdev I/O is pending.
 * Never frees c before returning. */
void nbd_conn_kill(struct nbd_conn *c, const char *why);
/* After a bdev completion on a dead connection: free it if it was the
 * last. */
void nbd_conn_reap_check(struct nbd_conn *c);
/* Queue q's reply (its segments are built) and schedule a send. */
void nbd_conn_reply(struct nbd_conn *c, struct nbd_req *q);
void nbd_conn_schedule_flush(struct nbd_conn *c);

/* cmd.c: the commands. */
/* Start one parsed request (not DISC). */
void nbd_cmd_request(struct nbd_conn *c, const struct nbd_request *r);
/* The payload of c->rx's WRITE has fully arrived: submit it. */
void nbd_cmd_write_payload_done(struct nbd_conn *c, struct nbd_req *q);
/* A request is finished (reply sent, or connection dead): recycle it. */
void nbd_req_put(struct nbd_conn *c, struct nbd_req *q);
void nbd_req_free(struct nbd_req *q);

#endif
