/*
 * xdisk: network disks over DMSG (docs/dmsg.md).
 *
 * The server exports the bdevs of the disk registry: one LNK_SPAN per disk
 * on every link, withdrawn when the disk leaves the registry, and answers
 * BLK_OPEN / READ / WRITE / FLUSH / FREEBLKS under it.
 *
 * The client connects to one or more servers and makes one xa disk (a bdev
 * named "xaN") per distinct fs_label it sees advertised; every span with
 * that label is a path to the disk.  I/O runs on one path at a time, under
 * one BLK_OPEN; when a path or link is lost the I/O in flight is requeued
 * and restarted on another path after a new BLK_OPEN, or waits until a
 * server comes back (unless the attach asked for failfast).
 *
 * A server accepts on its event loop and runs each link on one of the
 * reactors given in its options (round robin); a link and its I/O stay on
 * that reactor.  A client lives on one event loop (a daemon makes one per
 * reactor and spreads its attaches over them).  The functions of both are
 * called from their loop's thread, except that xa disks accept
 * bdev_submit from any loop.
 */
#ifndef SCSIKIT_XDISK_H
#define SCSIKIT_XDISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <scsikit/api.h>

struct ev_loop;
struct bdev;

#define XDISK_DEFAULT_PORT 9987 /* DragonFly's DMSG port is 987 */
#define XDISK_MAXTAGS 64	/* BLK commands in flight per xa disk */

/* ---- server ------------------------------------------------------------- */

struct xdisk_server;

struct xdisk_server_opts {
	const char *host;	/* first half of cl_label "host/disk" */
	uint32_t ping_ms;	/* 0: 1000 */
	uint32_t timeout_ms;	/* 0: 10000 */
	uint32_t max_xfer;	/* largest READ/WRITE taken; 0: DMSG_AUX_MAX */
	/* Admission (docs/limits.md); 0 takes the default.  At the cap, a
	 * newcomer evicts the oldest link still in its LNK_CONN handshake;
	 * links past it are never evicted. */
	uint32_t max_conns;	/* open links (256) */
	uint32_t max_conns_per_peer; /* open links per address (32) */
	/* Reactors the links are spread over, round robin (each must be
	 * running while the server lives); none: all on the server's loop.
	 * Copied at create. */
	struct ev_loop *const *loops;
	unsigned nloops;
};

SK_API struct xdisk_server *
xdisk_server_create(struct ev_loop *loop, const struct xdisk_server_opts *o);
/* Listen on "HOST:PORT" (IPv4 or [IPv6]); 0 or -1 with a message. */
SK_API int xdisk_server_listen(struct xdisk_server *srv, const char *addr,
			       char *err, size_t errlen);
/* The port actually bound (after listening on port 0), or -1. */
SK_API int xdisk_server_port(const struct xdisk_server *srv);
/* Advertise disk under fs_label serial instead of its name. */
SK_API int xdisk_server_set_serial(struct xdisk_server *srv,
				   const char *disk, const char *serial);
/* Serve an already connected socket (the server owns it). 0 or -errno. */
SK_API int xdisk_server_add_conn(struct xdisk_server *srv, int fd);
/* One line per link and per exported span. */
SK_API void xdisk_server_list(struct xdisk_server *srv, FILE *out);
/* The same as one JSON object: port, links and their spans. */
SK_API void xdisk_server_list_json(struct xdisk_server *srv, FILE *out);
/* Close everything.  Links end at once (each on its reactor; this waits
 * for them); I/O still running on a bdev finishes in the background and
 * its reply is dropped. */
SK_API void xdisk_server_destroy(struct xdisk_server *srv);

/* ---- client ------------------------------------------------------------- */

struct xdisk_client;

struct xdisk_client_opts {
	const char *host;	/* our cl_label in LNK_CONN */
	uint32_t ping_ms;	/* 0: 1000 */
	uint32_t timeout_ms;	/* 0: 10000 */
	uint32_t backoff_min_ms; /* reconnect delay, doubling; 0: 100 */
	uint32_t backoff_max_ms; /* 0: 5000 */
	bool register_disks;	/* add xa disks to the disk registry */
	/* Attach ids: first, first + step, ...  (0: 1 and 1).  Clients of
	 * one daemon (one per reactor) take disjoint sequences. */
	unsigned attach_id_first, attach_id_step;
};

SK_API struct xdisk_client *
xdisk_client_create(struct ev_loop *loop, const struct xdisk_client_opts *o);
/*
 * Attach "xdisk://HOST:PORT[,HOST:PORT...][,failfast]": connect to every
 * server (and reconnect after losses).  Returns an attach id (>= 1), or -1
 * with a message in err.
 */
SK_API int xdisk_client_attach(struct xdisk_client *cl, const char *url,
			       char *err, size_t errlen);
/* Detach one attach (id), or all (id 0).  xa disks left without any
 * attach are removed; their queued I/O fails with -ENXIO.  0 or -ENOENT. */
SK_API int xdisk_client_detach(struct xdisk_client *cl, int id);
/* Held reference to xa disk "xaN" (or the one with fs_label name); NULL. */
SK_API struct bdev *xdisk_client_get_disk(struct xdisk_client *cl,
					  const char *name);
SK_API unsigned xdisk_client_ndisks(const struct xdisk_client *cl);
/* Whether xa disk name has an open device on a live path right now. */
SK_API bool xdisk_client_disk_ready(struct xdisk_client *cl,
				    const char *name);
SK_API void xdisk_client_list(struct xdisk_client *cl, FILE *out);
/* The same as one JSON object: attaches (with links) and disks (with
 * paths). */
SK_API void xdisk_client_list_json(struct xdisk_client *cl, FILE *out);
SK_API void xdisk_client_stats(struct xdisk_client *cl, FILE *out);
SK_API void xdisk_client_destroy(struct xdisk_client *cl);

#endif
