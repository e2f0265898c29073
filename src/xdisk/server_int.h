/*
 * The xdisk server's objects (server.c, server_list.c).
 *
 * Threads: the server accepts on its own loop and hands every link to a
 * reactor of opts.loops (round robin); from then on the link, its spans,
 * opens and requests are touched only on that reactor, so the per-I/O
 * path takes no lock.  srv->lock guards what other threads walk: the list
 * of links, each link's span and open lists (changed only by the link's
 * reactor, under the lock), and the fence table.  Counters read by the
 * listings are relaxed atomics.
 */
#ifndef SCSIKIT_SRC_XDISK_SERVER_INT_H
#define SCSIKIT_SRC_XDISK_SERVER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <scsikit/bdev.h>
#include <scsikit/dmsg.h>
#include <scsikit/xdisk.h>

#include "util/admit.h"

#define XS_MAX_STATES 512 /* open transactions a client may hold */
/* Request data held for one link: reading from it pauses above HIGH and
 * resumes below LOW, so a client cannot make us hold more than about
 * HIGH + one message, whatever it sends. */
#define XS_BUF_HIGH (64u << 20)
#define XS_BUF_LOW (32u << 20)
#define XS_MAX_LOOPS 64	/* reactors links are spread over */

struct xs_serial {
	struct xs_serial *next;
	char disk[64];
	char serial[DMSG_LABEL_LEN];
};

/* Fences remembered: one per (disk, client instance) that opened with a
 * fence_id; beyond this the least recently renewed is forgotten. */
#define XS_MAX_FENCES 1024

struct xs_span;

struct xs_open {
	struct xs_open *next;
	struct xs_span *span;
	struct dmsg_state *st;
	uint64_t keyid;
	uint32_t modes;
	uint64_t fence_id, fence_gen;
	bool fenced;		/* a newer open of that client superseded it
				 * (set under srv->lock by any reactor; read
				 * per I/O with a relaxed load) */
};

/* The newest generation a client instance opened a disk with. */
struct xs_fence {
	char disk[64];
	uint64_t id;
	uint64_t gen;
	uint64_t stamp;		/* for forgetting the oldest */
};

/* One LNK_SPAN we advertise on one link. */
struct xs_span {
	struct xs_span *next;
	struct xs_conn *conn;
	struct bdev *bd;	/* held */
	struct dmsg_state *st;	/* NULL once closed or lost */
	struct xs_open *opens;
	unsigned inflight;	/* requests running under its opens */
	bool withdrawing;
};

enum xs_conn_state {
	XS_HANDSHAKE = 0, /* LNK_CONN exchange not complete */
	XS_READY = 1,	  /* spans advertised */
	XS_LOST = 2,	  /* iocom gone; waiting for running I/O */
};

struct xs_conn {
	struct xs_conn *next;	/* srv->conns, under srv->lock */
	struct xdisk_server *srv;
	struct ev_loop *loop;	/* the reactor that runs this link */
	unsigned reactor;	/* its index in srv->opts.loops */
	struct dmsg_iocom *io;	/* NULL until started and once lost */
	int fd;			/* until the iocom owns it */
	struct dmsg_state *conn_st;
	enum xs_conn_state state;
	bool conn_acked;	/* our LNK_CONN answered */
	bool peer_conn;		/* the peer's LNK_CONN received */
	uint64_t peer_mask, pfs_mask;
	struct xs_span *spans;
	unsigned refs;		/* the link, each running request, each job
				 * posted to it (atomic) */
	size_t buffered;	/* bytes of request buffers held */
	bool paused;
	bool evicting;		/* closed for a newcomer; lost comes next */
	uint64_t accepted_ms;
	struct sockaddr_storage peer_ss; /* for the per-address count */
	char peer[64];
};

/* One BLK command running on the backend. */
struct xs_req {
	struct xs_conn *conn;	/* held */
	struct xs_span *span;
	struct dmsg_state *st;	/* NULL if the link went away */
	struct bdev_io bio;
	struct iovec iov;
	uint32_t cmd;
	uint32_t bytes;
	uint64_t keyid;
	uint8_t *buf;		/* WRITE: a copy of the data; READ: tb's aux */
	struct dmsg_txbuf *tb;	/* READ: the reply, read into in place */
};

struct xdisk_server {
	struct ev_loop *loop;	/* accepts; runs registry events */
	struct xdisk_server_opts opts;
	struct ev_loop *loops[XS_MAX_LOOPS]; /* reactors for links */
	unsigned nloops;
	unsigned next_loop;	/* round robin (accept loop only) */
	char host[64];
	int lfd;
	int port;
	struct ev_io *lwatch;
	pthread_mutex_t lock;	/* see the top of this file */
	struct xs_conn *conns;
	struct xs_serial *serials;
	int listen_handle;
	uint64_t next_keyid;	/* atomic */
	struct xs_fence *fences;	/* XS_MAX_FENCES, allocated on use */
	unsigned nfences;
	uint64_t fence_stamp;
	uint64_t fenced_opens, fenced_ios; /* atomic */
	bool destroying;
	unsigned refs;		/* the owner, each link, each posted event
				 * (atomic): the last one frees */
	struct sk_admit admit;	/* the link cap and per-address counts */
};

const char *xs_serial_of(struct xdisk_server *srv, const char *disk);
/* server_list.c, under srv->lock: may this client open bd (fencing)? */
bool xs_fence_check_locked(struct xdisk_server *srv, struct bdev *bd,
			   uint64_t id, uint64_t gen);

#endif
