/*
 * What every scsikit SIM answers the same way, after the reference's SIM
 * interface: transfer settings (user / goal / current, width and sync
 * per target, disconnection and tagged queuing per LUN, truncated to the
 * adapter), the BIOS geometry, the checks of XPT_ABORT and the func codes
 * a SIM does not know.  The loop SIM and the vscsi SIM both keep one
 * struct sim_tran; docs/cam.md describes the behaviour.
 *
 * Everything here runs on the bus's loop thread, like the SIM's action.
 */
#ifndef SCSIKIT_CAM_SIM_TRAN_H
#define SCSIKIT_CAM_SIM_TRAN_H

#include <stdbool.h>
#include <stdint.h>

#include <scsikit/cam.h>

/* What the adapter can do (and so the user settings it starts with). */
struct sim_tran_limits {
	uint32_t bus_width;	/* 8, 16 or 32 */
	uint32_t min_period;	/* fastest sync period factor (0: async) */
	uint32_t max_offset;	/* largest sync offset */
};

struct sim_tran_neg {
	uint32_t bus_width, sync_period, sync_offset;
};

struct sim_tran_tgt {
	struct sim_tran_neg user, goal, cur;
};

struct sim_tran_lun {
	uint32_t user_tflags, cur_tflags; /* CCB_TRANS_{DISC,TAG}_ENB */
};

struct sim_tran {
	struct sim_tran_limits lim;
	uint32_t max_target, max_lun;
	struct sim_tran_tgt *tgts;	/* max_target + 1 */
	struct sim_tran_lun *luns;	/* (max_target + 1) * (max_lun + 1) */
};

/* Every target starts at the adapter's limits as user and goal settings,
 * narrow async as current; every LUN with disconnection and tags on.
 * 0 or -ENOMEM. */
int sim_tran_init(struct sim_tran *t, uint32_t max_target, uint32_t max_lun,
		  const struct sim_tran_limits *lim);
void sim_tran_fini(struct sim_tran *t);

/* XPT_SET_TRAN_SETTINGS / XPT_GET_TRAN_SETTINGS: status set, xpt_done
 * called.  A change of tagged queuing is posted as AC_TRANSFER_NEG at
 * once (the XPT adjusts the openings); width and sync wait for the next
 * I/O to the target (sim_tran_negotiate). */
void sim_tran_set(struct sim_tran *t, int path_id, union ccb *ccb);
void sim_tran_get(struct sim_tran *t, union ccb *ccb);
/* Before an I/O to target: a changed goal becomes current and is posted
 * (the reference's "negotiated by the next command"). */
void sim_tran_negotiate(struct sim_tran *t, int path_id, uint32_t target);
/* A reset loses the negotiation of target: current back to narrow async,
 * posted as AC_TRANSFER_NEG. */
void sim_tran_reset(struct sim_tran *t, int path_id, uint32_t target);
/* Current tagged queuing of target:lun. */
bool sim_tran_tagged(const struct sim_tran *t, uint32_t target, uint64_t lun);

/* XPT_CALC_GEOMETRY with extended translation: 255/63 above 1 GiB, else
 * 64/32; CAM_REQ_INVALID for a block size of 0 or above 1 MiB. */
void sim_calc_geometry(union ccb *ccb);
/* XPT_ABORT of something that is not an I/O: true when ccb was answered
 * (CAM_UA_ABORT) and the SIM has nothing more to do. */
bool sim_abort_unabortable(union ccb *ccb);
/* A func code the SIM does not implement: CAM_REQ_INVALID. */
void sim_func_unknown(union ccb *ccb);

#endif
