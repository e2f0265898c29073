/*
 * The xdisk client's objects (client.c).  Everything here is touched only
 * on the client's loop.
 */
#ifndef SCSIKIT_SRC_XDISK_CLIENT_INT_H
#define SCSIKIT_SRC_XDISK_CLIENT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <scsikit/dmsg.h>
#include <scsikit/xdisk.h>

struct bdev;
struct bdev_io;
struct ev_io;
struct ev_loop;
struct ev_timer;
struct xa_attach;
struct xa_disk;

enum xl_state {
	XL_WAIT = 0,	   /* back-off timer armed before (re)connecting */
	XL_CONNECTING = 1, /* TCP connect in progress */
	XL_UP = 2,	   /* iocom running */
	XL_DETACHED = 3,   /* being freed */
};

/* One server of an attach. */
struct xa_link {
	struct xa_link *next;
	struct xa_attach *at;
	struct xdisk_client *cl;
	char addr[128];
	struct sockaddr_storage ss;
	socklen_t sl;
	enum xl_state state;
	int cfd;		/* connecting socket */
	struct ev_io *cwatch;
	struct ev_timer *retry;
	uint32_t backoff_ms;
	struct dmsg_iocom *io;
	struct dmsg_state *conn_st;
	uint64_t connects, losses;
};

struct xa_attach {
	struct xa_attach *next;
	int id;
	bool failfast;
	char url[256];
	struct xa_link *links;
};

/* One LNK_SPAN: a way to reach a disk. */
struct xa_path {
	struct xa_path *next;
	struct xa_disk *d;
	struct xa_link *link;
	struct dmsg_state *span;	/* the server's span (kept open) */
	uint32_t dist;
	bool broken;			/* BLK_OPEN refused on it */
	int open_err;			/* that refusal, as -errno */
	uint32_t retry_ms;		/* back-off before trying it again */
	struct ev_timer *retry;		/* armed while broken */
	bool read_only;			/* RD|WR refused: open RD only */
	char cl_label[DMSG_LABEL_LEN];
};

/* One BLK command slot. */
struct xa_tag {
	struct xa_tag *next_free;
	struct xa_disk *d;
	struct bdev_io *bio;		/* NULL when free */
	struct dmsg_state *st;
};

enum xa_open_state {
	XA_CLOSED = 0,
	XA_OPENING = 1,
	XA_OPEN = 2,
};

struct xa_disk {
	struct xa_disk *next;
	struct xdisk_client *cl;	/* NULL once removed */
	struct ev_loop *loop;
	struct bdev *bd;		/* the client's reference */
	bool registered;
	int owner;			/* attach id that owns it */
	bool failfast;
	int unit;
	char name[16];
	char label[DMSG_LABEL_LEN];
	uint64_t bytes;
	uint32_t blksize;

	struct xa_path *paths;
	unsigned npaths;

	enum xa_open_state ostate;
	struct xa_path *open_path;
	struct dmsg_state *open_st;
	uint64_t keyid;
	bool open_ro;			/* the open is read-only */

	struct xa_tag tags[XDISK_MAXTAGS];
	struct xa_tag *freetags;
	unsigned busytags;
	struct bdev_io *q_head, *q_tail; /* waiting for a tag or a path */
	unsigned qlen;
	bool kick_pending;


	uint64_t requeues, opens, failovers, io_errors, resid_bytes;
	uint64_t open_refusals;
};

struct xdisk_client {
	struct ev_loop *loop;
	struct xdisk_client_opts opts;
	char host[64];
	struct xa_attach *attaches;
	struct xa_disk *disks;
	int next_id;
	uint64_t fence_id;		/* this client in BLK_OPEN (fencing) */
	uint64_t fence_gen;		/* of its newest BLK_OPEN, any disk: a
					 * disk made again after a detach must
					 * not start over */
	uint64_t bad_spans;
};

/* client.c: accept or refuse a LNK_SPAN received on l. */
void xa_span_new(struct xa_link *l, struct dmsg_state *st,
		 struct dmsg_msg *m);
/* client.c: take d out of the client; its queued I/O fails -ENXIO. */
void xa_disk_remove(struct xdisk_client *cl, struct xa_disk *d);
const char *xa_ostate_name(enum xa_open_state s);

#endif
