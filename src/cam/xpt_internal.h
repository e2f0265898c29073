/*
 * Internal structures of the CAM transport layer (XPT): buses, devices,
 * SIMs and device queues.  Shared by the files of src/cam only.
 *
 * Ownership: the XPT owns buses and devices; a SIM owns its softc; the
 * originator owns each CCB.  Everything of a bus is touched only on the
 * bus's loop, except the remote completion list (done_lock) and the
 * global bus table and async registrations (xpt_lock).
 */
#ifndef SCSIKIT_CAM_XPT_INTERNAL_H
#define SCSIKIT_CAM_XPT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <scsikit/cam.h>

struct ev_timer;

#define XPT_MAX_BUSES 64

struct cam_eb;

struct cam_devq {
	uint32_t size;		/* slots the SIM takes at once */
	uint32_t free;		/* slots not in use */
};

struct cam_sim {
	const struct cam_sim_ops *ops;
	char name[DEV_IDLEN];
	void *softc;
	uint32_t unit;
	uint32_t bus;		/* bus number on the adapter */
	int max_dev_transactions;
	int max_tagged_dev_transactions;
	struct cam_devq *devq;
	uint32_t path_id;	/* set by xpt_bus_register */
	uint32_t freeze;	/* SIM queue freeze count */
	struct cam_eb *eb;	/* NULL until registered */
	struct ev_loop *loop;
};

/* Device states. */
enum cam_ed_flags {
	CAM_ED_CONFIGURED = 0x1,	/* found by a scan and not lost */
	CAM_ED_TAGGED = 0x2,		/* tagged queuing on */
};

/* One target/LUN on a bus. */
struct cam_ed {
	struct cam_eb *eb;
	struct cam_ed *next;	/* bus->devs */
	uint32_t target;
	uint64_t lun;
	uint32_t flags;		/* CAM_ED_* */
	union ccb *qhead, *qtail; /* waiting, ordered by xpt.seq */
	uint32_t queued;
	uint32_t active;	/* handed to the SIM */
	uint32_t openings;	/* limit of active */
	bool openings_fixed;	/* set by the user: keep across TQ changes */
	uint32_t freeze;	/* device queue freeze count */
	uint64_t *tagmap;	/* tags in use, max_tagged bits */
	uint32_t ntags;
	uint8_t inq[36];
	uint32_t scan_gen;	/* last scan that saw it */
	uint32_t tmo_sweep;	/* last timeout sweep that reset it */
	uint64_t cmds, errors, retries, timeouts;
};

struct cam_eb {
	uint32_t path_id;
	struct cam_sim *sim;
	struct ev_loop *loop;
	struct cam_ed *devs;
	uint64_t seq;		/* next CCB sequence number */
	uint32_t abort_grace_ms;
	uint32_t reset_grace_ms;
	uint32_t default_timeout_ms;
	bool running;		/* inside xpt_run_bus */
	bool rerun;
	/* Completions from the loop's own thread: no lock. */
	union ccb *done_head, *done_tail;
	bool done_deferred;
	/* Completions from other threads. */
	pthread_mutex_t done_lock;
	union ccb *rdone_head, *rdone_tail;
	bool rdone_posted;
	/* What the SIM told us at registration. */
	uint32_t max_target;
	uint64_t max_lun;
	uint32_t initiator_id;
	uint32_t scan_gen;
	/* CCBs with the SIM that can time out, roughly by deadline; one
	 * timer for the bus, armed at the earliest deadline. */
	union ccb *tmo_head, *tmo_tail;
	struct ev_timer *tmo_timer;
	uint64_t tmo_expiry;	/* when tmo_timer fires; 0: idle */
	uint32_t tmo_sweep;
	bool dying;
	bool zombie;		/* deregistered; freed by the pending drain */
};

/* xpt.flags bits (ccb_h.xpt.xflags). */
#define XPT_XF_RECOVERY 0x1u	/* runs through a frozen device queue */
#define XPT_XF_RETRY 0x2u	/* resubmission: keep the sequence number */
#define XPT_XF_TIMEDOUT 0x4u
#define XPT_XF_POLL_DONE 0x8u
#define XPT_XF_TAGGED 0x10u
#define XPT_XF_TMO 0x20u	/* on the bus's timeout list */

/* ccb_h.xpt.state */
enum xpt_ccb_state {
	XPT_CCB_IDLE = 0,
	XPT_CCB_QUEUED = 1,	/* on a device queue */
	XPT_CCB_SIM = 2,	/* with the SIM */
	XPT_CCB_DONEQ = 3,	/* on a completion list */
	XPT_CCB_SENSE = 4,	/* waiting for its autosense */
};

struct cam_path {
	uint32_t path_id;
	uint32_t target;
	uint64_t lun;
};

/* xpt.c */
struct cam_eb *xpt_bus_find(uint32_t path_id);
struct cam_ed *xpt_dev_get(struct cam_eb *eb, uint32_t target, uint64_t lun,
			   bool create);
void xpt_run_bus(struct cam_eb *eb);
/* Complete ccb towards its originator (the last part of xpt_done). */
void xpt_finish(union ccb *ccb);
bool xpt_path_match(uint32_t p1, uint32_t t1, uint64_t l1, uint32_t p2,
		    uint32_t t2, uint64_t l2);
/* Internal one-shot CCB to the SIM (abort, resets, settings). */
union ccb *xpt_internal_ccb(struct cam_eb *eb, uint32_t func, uint32_t target,
			    uint64_t lun);

void xpt_doneq_run(struct cam_eb *eb);

/* xpt_timeout.c */
void xpt_tmo_add(struct cam_eb *eb, union ccb *ccb, uint64_t deadline);
void xpt_tmo_del(struct cam_eb *eb, union ccb *ccb);
void xpt_tmo_fini(struct cam_eb *eb);

/* xpt_async.c */
void xpt_async_register_ccb(union ccb *ccb);
void xpt_async_bus_gone(uint32_t path_id);
void xpt_async_fini(void);

/* xpt_scan.c */
void xpt_scan_start(struct cam_eb *eb, union ccb *ccb);

/* xpt_recover.c */
bool xpt_autosense_start(struct cam_ed *dev, union ccb *ccb);

extern pthread_mutex_t xpt_lock;

#endif
