/*
 * Internal structures of the loop SIM, shared by sim_loop.c (I/O, aborts,
 * resets, faults) and sim_loop_tran.c (settings, geometry, path inquiry).
 */
#ifndef SCSIKIT_CAM_SIM_LOOP_INT_H
#define SCSIKIT_CAM_SIM_LOOP_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <scsikit/cam.h>
#include <scsikit/target.h>

#include "cam/sim_tran.h"
#include "cam/xpt_internal.h"

#define LOOP_BUS_WIDTH 16
#define LOOP_MIN_PERIOD 0x09	/* fastest sync period factor */
#define LOOP_MAX_OFFSET 62
#define LOOP_MAX_SG 256

enum hcb_state {
	HCB_FREE = 0,
	HCB_ENGINE = 1,		/* task with the target engine */
	HCB_DROPPED = 2,	/* fault: held, never started */
	HCB_DELAYED = 3,	/* done, completion held by a timer */
};

struct loop_hcb {
	struct tgt_task task;	/* first: container_of is a cast */
	struct cam_loop *lp;
	union ccb *ccb;		/* NULL once the CCB went back */
	struct loop_hcb *next, *prev;	/* active list / free list */
	enum hcb_state state;
	bool in_engine;		/* the engine still owns task */
	uint32_t fault_opts;
	uint32_t delay_ms;
	uint32_t pend_status;	/* for DELAYED */
	struct ev_timer *timer;
	struct iovec iov1;
};

struct loop_lun_state {
	uint8_t sense[SCSI_SENSE_MAX];	  /* kept for REQUEST SENSE */
	uint8_t sense_len;
};

struct loop_tgt {
	struct tgt_target *t;
	struct tgt_nexus *nx;
	struct loop_lun_state *luns;	/* max_lun + 1 */
};

struct cam_loop {
	struct cam_loop_params p;
	uint32_t max_target, max_lun;
	char name[DEV_IDLEN];
	struct cam_sim *sim;
	struct cam_devq *devq;
	struct ev_loop *loop;
	int path_id;
	struct loop_tgt *tgts;		/* max_target + 1 */
	struct sim_tran tran;		/* transfer settings */
	struct loop_hcb *pool;
	struct loop_hcb *free_list;
	struct loop_hcb active;		/* list head */
	unsigned nactive;		/* CCBs held */
	unsigned nengine;		/* hcbs in use (incl. returned CCBs) */
	bool shortage;
	bool in_poll;
	bool dying;		/* destroyed; freed when the engine lets go */
	struct ev_timer *release_timer;
	pthread_mutex_t fault_lock;
	struct cam_loop_fault faults[CAM_LOOP_MAX_FAULTS];
	unsigned nfaults;
	uint64_t hits;
};

void loop_path_inq(struct cam_loop *lp, union ccb *ccb);

#endif
