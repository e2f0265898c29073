/*
 * Internal structures of the vscsi SIM, shared by sim.c (the CAM side:
 * action, CCB pool, states, teardown) and sim_conn.c (the socket side:
 * accept, framing, the wire messages).
 *
 * Everything here is touched only on the bus's loop thread (the SIM's
 * xpt_done calls are from that thread too), so there are no locks.
 */
#ifndef SCSIKIT_VSCSI_SIM_INT_H
#define SCSIKIT_VSCSI_SIM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <scsikit/cam.h>
#include <scsikit/vscsi.h>

#include "cam/sim_tran.h"
#include "util/admit.h"
#include "vscsi/vscsi_wire.h"

struct ev_io;
struct ev_timer;

/* Where a pool entry is. */
enum vccb_state {
	VCCB_FREE = 0,
	VCCB_QUEUED = 1,	/* taken from CAM, not yet sent (the
				 * reference's i2t list) */
	VCCB_SENT = 2,		/* handed to the userland end (t2i list) */
};

struct vscsi_ccb {
	union ccb *ccb;
	uint32_t tag;		/* (generation << pool_bits) | index */
	uint32_t gen;
	enum vccb_state state;
	uint32_t moved;		/* data bytes moved so far (residual) */
	/* Slot i of the data area belongs to entry i.  shm: this command's
	 * data is in it.  qheld: an earlier command of this entry was taken
	 * back (ABORT) while its slot was the peer's; the slot stays out of
	 * use until the peer's T2I for qtag says it is done with it. */
	bool shm;
	bool qheld;
	uint32_t qtag;
	struct vscsi_ccb *next, *prev; /* queued / sent / free list */
};

struct vccb_list {
	struct vscsi_ccb *head, *tail;
	uint32_t n;
};

struct vscsi_sim {
	struct vscsi_sim_params p;
	char path[108];
	char name[DEV_IDLEN];
	struct ev_loop *loop;
	struct cam_sim *sim;
	int path_id;
	bool async_on;

	/* The listening socket (may be absent). */
	int lfd;
	struct ev_io *lio;

	/* State machine: CLOSED --accept--> CONFIG (pool reset, greeting
	 * queued) --> RUNNING --disconnect--> CONFIG (every command reset,
	 * devices detached by a scan) --no CCB held, no scan--> CLOSED. */
	enum vscsi_sim_state state;

	/* The userland end. */
	int cfd;
	struct ev_io *cio;
	uint32_t cio_events;
	uint8_t *rbuf;
	size_t rlen, rcap;
	uint8_t *wbuf;
	size_t woff, wlen, wcap;
	bool flush_deferred;
	struct ev_timer *stall;
	uint32_t max_msg;	/* largest message either way */
	bool in_input;

	/* The shared data area of the current connection (sim_shm.c):
	 * nslots slots of slot_size bytes, a fresh sealed memfd for each
	 * userland end; area NULL when there is none. */
	uint8_t *area;
	int area_fd;
	uint64_t area_len;
	uint32_t slot_size, nslots;
	uint64_t shm_cmds;

	/* The CCB pool: all entries allocated up front (the guaranteed
	 * minimum is the whole pool, which is also the SIM queue). */
	struct vscsi_ccb *pool;
	uint32_t npool, pool_bits;
	struct vccb_list free, queued, sent;

	/* Target/LUNs the userland end detached (REQDETACH): the SIM
	 * answers for them itself until a REQPROBE. */
	uint8_t detached[VSCSI_TARGETS * VSCSI_LUNS / 8];

	/* Transfer settings, answered as every scsikit SIM does
	 * (cam/sim_tran.h): the userland end sees none of it. */
	struct sim_tran tran;

	uint32_t scans;		/* scans in flight (references) */
	bool draining;		/* inside the disconnect: stay in CONFIG */
	bool dying;		/* destroy waits for the scans */

	uint64_t cmds, done, resets, errors, conns, refused;
	/* Refusals of a second userland end, for `scsikit stats` and the
	 * rate-limited log (docs/limits.md); the cap of one is the state. */
	struct sk_admit admit;
};

/* sim.c */
void vscsi_sim_complete(struct vscsi_sim *s, struct vscsi_ccb *v,
			uint32_t status);
struct vscsi_ccb *vscsi_sim_lookup(struct vscsi_sim *s, uint32_t tag);
void vscsi_sim_disconnected(struct vscsi_sim *s, bool teardown);
int vscsi_sim_devevent(struct vscsi_sim *s, unsigned type, uint32_t target,
		       uint64_t lun);
void vscsi_sim_check_closed(struct vscsi_sim *s);
void vccb_list_remove(struct vccb_list *l, struct vscsi_ccb *v);
void vccb_list_append(struct vccb_list *l, struct vscsi_ccb *v);
/* Copy between a CCB's data (linear or S/G) at off and a flat buffer. */
void vscsi_ccb_copy_in(union ccb *ccb, uint32_t off, const uint8_t *src,
		       uint32_t len);
void vscsi_ccb_copy_out(union ccb *ccb, uint32_t off, uint8_t *dst,
			uint32_t len);
enum vscsi_dir vscsi_ccb_dir(const union ccb *ccb);

/* sim_shm.c */
void vscsi_shm_config(struct vscsi_sim *s);
int vscsi_shm_open(struct vscsi_sim *s);
void vscsi_shm_close(struct vscsi_sim *s);
uint32_t vscsi_shm_held(const struct vscsi_sim *s);
/* Send HELLO (and the area's fd) straight on the fresh socket. */
int vscsi_shm_send_hello(struct vscsi_sim *s, const uint8_t *msg,
			 size_t len);

/* sim_conn.c */
int vscsi_conn_listen(struct vscsi_sim *s);
int vscsi_conn_attach(struct vscsi_sim *s, int fd);
void vscsi_conn_close(struct vscsi_sim *s, const char *why);
/* Close and run the disconnect (every command reset, devices detach). */
void vscsi_conn_lost(struct vscsi_sim *s, const char *why);
/* Send what is queued (CCBs and notices) as far as the buffer allows. */
void vscsi_conn_push(struct vscsi_sim *s);
void vscsi_conn_kick(struct vscsi_sim *s);
void vscsi_conn_send_abort(struct vscsi_sim *s, uint32_t tag,
			   uint32_t status);
void vscsi_conn_send_event(struct vscsi_sim *s, unsigned code,
			   uint32_t target, uint64_t lun);
/* Read and process what the socket has (polled mode uses it too). */
void vscsi_conn_input(struct vscsi_sim *s);
void vscsi_conn_flush(struct vscsi_sim *s);
int vscsi_listen_unix(const char *path, char *err, size_t errlen);

#endif
