/*
 * CAM: the initiator-side SCSI transport of scsikit, after FreeBSD's Common
 * Access Method.
 *
 * A request travels as a CAM Control Block (union ccb).  Its header names
 * the path (bus / target / LUN), the function code and the flags; the body
 * depends on the function.  Peripheral drivers (da, pass, the tools) build
 * CCBs and hand them to xpt_action(); the transport layer (XPT) queues
 * SCSI I/O per device, hands it to the bus's SIM (host adapter driver)
 * within the device's openings, runs command timeouts, autosense and queue
 * freezing, and calls the CCB's completion function when it is done.
 *
 * A SIM is a const ops table with one entry point, action(sim, ccb), and an
 * optional poll(sim).  It finishes every CCB it was given with xpt_done(),
 * from any thread.
 *
 * Threading: every bus belongs to one event loop (given at registration).
 * xpt_action() for a bus must be called on that loop's thread; completion
 * functions and async callbacks run there.  xpt_done() may be called from
 * any thread (it posts back to the loop).  The cam_sync_* helpers at the
 * end are for tools and tests on other threads.
 */
#ifndef SCSIKIT_CAM_H
#define SCSIKIT_CAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <scsikit/api.h>
#include <scsikit/scsi.h>

struct ev_loop;
struct bdev;
struct cam_sim;
struct cam_devq;
struct cam_path;
union ccb;

/* Path wildcards. */
#define CAM_BUS_WILDCARD ((uint32_t)~0u)
#define CAM_TARGET_WILDCARD ((uint32_t)~0u)
#define CAM_LUN_WILDCARD ((uint64_t)~0ull)

/*
 * CCB status: an enumerated value in the low six bits, or-ed with the flag
 * bits above them.
 */
enum cam_status {
	CAM_REQ_INPROG = 0x00,	   /* in progress (set by XPT on action) */
	CAM_REQ_CMP = 0x01,	   /* completed without error */
	CAM_REQ_ABORTED = 0x02,	   /* aborted by XPT_ABORT */
	CAM_UA_ABORT = 0x03,	   /* unable to abort */
	CAM_REQ_CMP_ERR = 0x04,	   /* generic error / impossible phase */
	CAM_BUSY = 0x05,	   /* CAM subsystem busy */
	CAM_REQ_INVALID = 0x06,	   /* malformed or unsupported request */
	CAM_PATH_INVALID = 0x07,   /* no such bus, or CCB not found */
	CAM_DEV_NOT_THERE = 0x08,  /* device not configured */
	CAM_UA_TERMIO = 0x09,	   /* unable to terminate I/O */
	CAM_SEL_TIMEOUT = 0x0a,	   /* target does not answer selection */
	CAM_CMD_TIMEOUT = 0x0b,	   /* the command timed out */
	CAM_SCSI_STATUS_ERROR = 0x0c, /* the device returned an error status */
	CAM_MSG_REJECT_REC = 0x0d, /* MESSAGE REJECT received */
	CAM_SCSI_BUS_RESET = 0x0e, /* bus reset seen */
	CAM_UNCOR_PARITY = 0x0f,   /* unrecovered parity error */
	CAM_AUTOSENSE_FAIL = 0x10, /* REQUEST SENSE after an error failed */
	CAM_NO_HBA = 0x11,	   /* no host adapter */
	CAM_DATA_RUN_ERR = 0x12,   /* data overrun / wrong direction */
	CAM_UNEXP_BUSFREE = 0x13,  /* unexpected disconnect */
	CAM_SEQUENCE_FAIL = 0x14,  /* protocol violation */
	CAM_CCB_LEN_ERR = 0x15,	   /* CCB length wrong */
	CAM_PROVIDE_FAIL = 0x16,   /* cannot provide the capability */
	CAM_BDR_SENT = 0x17,	   /* BUS DEVICE RESET sent to the target */
	CAM_REQ_TERMIO = 0x18,	   /* terminated by the host */
	CAM_UNREC_HBA_ERROR = 0x19, /* unrecoverable host adapter error */
	CAM_REQ_TOO_BIG = 0x1a,	   /* too large for this controller */
	CAM_REQUEUE_REQ = 0x1b,	   /* requeue to keep ordering */
	CAM_RESRC_UNAVAIL = 0x1c,  /* resource short, no event when back */
	CAM_FUNC_NOTAVAIL = 0x1d,  /* function not available on this SIM */
	CAM_LUN_INVALID = 0x38,	   /* LUN not supported by the SIM */
	CAM_TID_INVALID = 0x39,	   /* target id not supported by the SIM */
};
#define CAM_STATUS_MASK 0x3fu
/* Flag bits. */
#define CAM_DEV_QFRZN 0x40u	   /* the device queue was frozen (SIM) */
#define CAM_AUTOSNS_VALID 0x80u	   /* sense_data holds autosense data */
#define CAM_RELEASE_SIMQ 0x100u	   /* SIM queue may be released */
#define CAM_SIM_QUEUED 0x200u	   /* diagnostic: SIM holds the CCB */
#define CAM_SUCCESS CAM_REQ_CMP

static inline uint32_t cam_ccb_status(uint32_t status)
{
	return status & CAM_STATUS_MASK;
}

/* Function codes. */
enum xpt_func {
	XPT_NOOP = 0x00,
	XPT_SCSI_IO = 0x01,		/* queued: execute a SCSI command */
	XPT_PATH_INQ = 0x04,		/* SIM: path inquiry */
	XPT_SASYNC_CB = 0x06,		/* XPT: register async callback */
	XPT_SCAN_BUS = 0x07,		/* XPT: scan the bus for devices */
	XPT_GET_TRAN_SETTINGS = 0x0a,	/* SIM: read transfer settings */
	XPT_SET_TRAN_SETTINGS = 0x0b,	/* SIM: change transfer settings */
	XPT_CALC_GEOMETRY = 0x0c,	/* SIM: logical (BIOS) geometry */
	XPT_ABORT = 0x10,		/* SIM: abort a CCB */
	XPT_RESET_BUS = 0x11,		/* SIM: reset the bus */
	XPT_RESET_DEV = 0x12,		/* SIM: BUS DEVICE RESET a target */
};

/* ccb_h.flags */
#define CAM_CDB_POINTER 0x00000001u   /* cdb_io.cdb_ptr, else cdb_bytes */
#define CAM_CDB_PHYS 0x00000002u      /* physical CDB: never supported */
#define CAM_SCATTER_VALID 0x00000010u /* data_ptr is struct iovec[sglist_cnt] */
#define CAM_DIS_AUTOSENSE 0x00000020u /* no REQUEST SENSE on errors */
#define CAM_DIR_BOTH 0x00000000u
#define CAM_DIR_IN 0x00000040u	      /* data to the initiator */
#define CAM_DIR_OUT 0x00000080u	      /* data to the device */
#define CAM_DIR_NONE 0x000000c0u
#define CAM_DIR_MASK 0x000000c0u
#define CAM_DIS_DISCONNECT 0x00008000u
#define CAM_DATA_PHYS 0x00200000u     /* physical data: never supported */
#define CAM_SG_LIST_PHYS 0x00400000u  /* physical S/G list: never */

/* Tag actions (the SCSI queue tag message codes). */
#define CAM_TAG_ACTION_NONE 0x00
#define MSG_SIMPLE_Q_TAG 0x20
#define MSG_HEAD_OF_Q_TAG 0x21
#define MSG_ORDERED_Q_TAG 0x22

/* Timeouts (ms). */
#define CAM_TIME_DEFAULT 0u	      /* use the bus default (60 s) */
#define CAM_TIME_INFINITY 0xffffffffu /* never time out */

typedef void (*cam_done_fn)(union ccb *ccb);

/* XPT bookkeeping inside every CCB; nobody else touches it. */
struct ccb_xpt_priv {
	union ccb *next;
	void *dev;		/* struct cam_ed */
	void *bus;		/* struct cam_eb */
	void *timer;		/* struct ev_timer: retry delay */
	union ccb *tnext, *tprev; /* the bus's timeout list */
	uint64_t deadline;	/* ms (ev_now_ms) of the next timeout step */
	uint64_t seq;		/* submission order, for requeue */
	uint32_t state;
	uint32_t tmo_stage;	/* timeout escalation reached */
	uint32_t xflags;
	uint32_t tag;
	union ccb *sense_ccb;	/* autosense in progress */
};

/* The header every CCB starts with. */
struct ccb_hdr {
	/* Set by the originator (xpt_setup_ccb fills the path). */
	uint32_t func_code;	/* enum xpt_func */
	uint32_t path_id;	/* bus */
	uint32_t target_id;
	uint64_t target_lun;
	uint32_t flags;		/* CAM_DIR_*, CAM_CDB_POINTER, ... */
	uint32_t timeout;	/* ms; CAM_TIME_DEFAULT / CAM_TIME_INFINITY */
	uint8_t tag_action;	/* CAM_TAG_ACTION_NONE or MSG_*_Q_TAG */
	int32_t retry_count;	/* retries left for cam_periph_error() */
	cam_done_fn cbfcnp;	/* completion; runs on the bus's loop */
	void *periph_priv[2];	/* private to the originator */

	/* Set by the SIM and the XPT. */
	uint32_t status;	/* enum cam_status | CAM_* flags */
	uint32_t tag_id;	/* tag assigned by the XPT (tagged I/O) */

	/* Private to the SIM (names after the reference's spriv fields). */
	union {
		struct {
			void *spriv_ptr0;
			void *spriv_ptr1;
		};
		struct {
			unsigned long spriv_field0;
			unsigned long spriv_field1;
		};
		uint8_t bytes[2 * sizeof(void *)];
	} sim_priv;

	/* Private to the XPT. */
	struct ccb_xpt_priv xpt;
};

#define CAM_CDB_LEN_MAX 32

/* XPT_SCSI_IO */
struct ccb_scsiio {
	struct ccb_hdr ccb_h;
	/* Set by the originator. */
	union {
		const uint8_t *cdb_ptr;	/* CAM_CDB_POINTER */
		uint8_t cdb_bytes[CAM_CDB_LEN_MAX];
	} cdb_io;
	uint8_t cdb_len;
	uint8_t *data_ptr;	/* buffer, or struct iovec * with
				 * CAM_SCATTER_VALID */
	uint32_t dxfer_len;	/* bytes */
	uint16_t sglist_cnt;	/* iovecs when CAM_SCATTER_VALID */
	uint8_t sense_len;	/* bytes of sense_data the caller wants */
	/* Set by the SIM (and the XPT's autosense). */
	uint8_t scsi_status;	/* enum scsi_status */
	uint32_t resid;		/* data not transferred; 0 on success */
	uint8_t sense_resid;	/* sense bytes not transferred */
	uint8_t sense_data[SCSI_SENSE_MAX];
};

/* XPT_ABORT */
struct ccb_abort {
	struct ccb_hdr ccb_h;
	union ccb *abort_ccb;	/* set by the originator */
};

/* XPT_RESET_DEV, XPT_RESET_BUS, XPT_NOOP, XPT_SCAN_BUS: header only. */
struct ccb_resetdev {
	struct ccb_hdr ccb_h;
};
struct ccb_resetbus {
	struct ccb_hdr ccb_h;
};

/* XPT_GET_TRAN_SETTINGS / XPT_SET_TRAN_SETTINGS */
#define CCB_TRANS_SYNC_RATE_VALID 0x01u
#define CCB_TRANS_SYNC_OFFSET_VALID 0x02u
#define CCB_TRANS_BUS_WIDTH_VALID 0x04u
#define CCB_TRANS_DISC_VALID 0x08u
#define CCB_TRANS_TQ_VALID 0x10u
#define CCB_TRANS_ALL_VALID 0x1fu
/* flags: binary arguments ... */
#define CCB_TRANS_DISC_ENB 0x01u
#define CCB_TRANS_TAG_ENB 0x02u
/* ... and which set the operation is about */
#define CCB_TRANS_CURRENT_SETTINGS 0x10u
#define CCB_TRANS_USER_SETTINGS 0x20u
#define CCB_TRANS_GOAL_SETTINGS 0x40u /* GET only: the negotiation goal */
struct ccb_trans_settings {
	struct ccb_hdr ccb_h;
	uint32_t valid;		/* CCB_TRANS_*_VALID */
	uint32_t flags;		/* CCB_TRANS_{DISC,TAG}_ENB | which set */
	uint32_t sync_period;	/* SCSI period factor; 0 = asynchronous */
	uint32_t sync_offset;	/* 0 = asynchronous */
	uint32_t bus_width;	/* bits: 8, 16, 32 */
};

/* XPT_CALC_GEOMETRY */
struct ccb_calc_geometry {
	struct ccb_hdr ccb_h;
	uint32_t block_size;	/* in: bytes */
	uint64_t volume_size;	/* in: blocks */
	uint32_t cylinders;	/* out */
	uint8_t heads;		/* out */
	uint8_t secs_per_track;	/* out */
};

/* XPT_PATH_INQ */
#define PI_MDP_ABLE 0x80u
#define PI_WIDE_32 0x40u
#define PI_WIDE_16 0x20u
#define PI_SDTR_ABLE 0x10u
#define PI_LINKED_CDB 0x08u
#define PI_TAG_ABLE 0x02u
#define PI_SOFT_RST 0x01u
#define PIM_SCANHILO 0x80u
#define PIM_NOREMOVE 0x40u
#define PIM_NOINITIATOR 0x20u
#define PIM_NOBUSRESET 0x10u
#define SIM_IDLEN 16
#define HBA_IDLEN 16
#define DEV_IDLEN 16
struct ccb_pathinq {
	struct ccb_hdr ccb_h;
	/* All set by the SIM. */
	uint8_t version_num;	/* 1 */
	uint8_t hba_inquiry;	/* PI_* */
	uint8_t target_sprt;	/* target mode: 0 = unsupported */
	uint8_t hba_misc;	/* PIM_* */
	uint16_t hba_eng_cnt;	/* 0 */
	uint8_t vuhba_flags[16]; /* vendor unique: unused */
	uint32_t max_target;	/* highest target id */
	uint64_t max_lun;	/* highest LUN */
	uint32_t async_flags;	/* installed async handlers (unused) */
	uint32_t hpath_id;	/* highest path id in the system */
	uint32_t unit_number;	/* cam_sim_unit() */
	uint32_t bus_id;	/* cam_sim_bus() */
	uint32_t initiator_id;	/* the adapter's own id */
	uint32_t base_transfer_speed; /* KB/s, async narrow */
	char sim_vid[SIM_IDLEN];
	char hba_vid[HBA_IDLEN];
	char dev_name[DEV_IDLEN];
	uint32_t maxio;		/* largest dxfer_len, bytes (0: 64 KiB) */
	uint16_t max_sg;	/* largest sglist_cnt */
};

/* Async events. */
#define AC_BUS_RESET 0x001u
#define AC_SENT_BDR 0x002u
#define AC_TRANSFER_NEG 0x004u	/* arg: struct ccb_trans_settings * */
#define AC_LOST_DEVICE 0x008u
#define AC_FOUND_DEVICE 0x010u	/* arg: const uint8_t inquiry[36] */
#define AC_PATH_REGISTERED 0x020u
#define AC_PATH_DEREGISTERED 0x040u

typedef void (*cam_async_fn)(void *callback_arg, uint32_t code,
			     struct cam_path *path, void *arg);

/* XPT_SASYNC_CB: register callback for event_enable on the CCB's path
 * (wildcards allowed); event_enable 0 removes the registration. */
struct ccb_setasync {
	struct ccb_hdr ccb_h;
	uint32_t event_enable;	/* AC_* */
	cam_async_fn callback;
	void *callback_arg;
};

union ccb {
	struct ccb_hdr ccb_h;
	struct ccb_scsiio csio;
	struct ccb_abort cab;
	struct ccb_resetdev crd;
	struct ccb_resetbus crb;
	struct ccb_trans_settings cts;
	struct ccb_calc_geometry ccg;
	struct ccb_pathinq cpi;
	struct ccb_setasync csa;
};

SK_API const char *cam_status_name(uint32_t status);
SK_API const char *xpt_func_name(uint32_t func_code);

/* CCB allocation (zeroed) and setup. */
SK_API union ccb *xpt_alloc_ccb(void);
SK_API void xpt_free_ccb(union ccb *ccb);
/* Clear ccb and set its path and function. */
SK_API void xpt_setup_ccb(struct ccb_hdr *h, uint32_t path_id,
			  uint32_t target, uint64_t lun, uint32_t func_code);
/* Fill an XPT_SCSI_IO: flags gets the direction etc.; cdb copied. */
SK_API void cam_fill_csio(struct ccb_scsiio *csio, cam_done_fn done,
			  uint32_t flags, uint8_t tag_action, void *data,
			  uint32_t dxfer_len, uint8_t sense_len,
			  const uint8_t *cdb, uint8_t cdb_len,
			  uint32_t timeout_ms);

/*
 * Start ccb.  For XPT_SCSI_IO (and the other functions) the completion
 * function ccb_h.cbfcnp runs exactly once, later, on the bus's loop, with
 * ccb_h.status set -- even when the request is refused (CAM_PATH_INVALID,
 * CAM_REQ_INVALID).  With no cbfcnp the CCB must be one the SIM completes
 * inside action() (PATH_INQ, settings, geometry, SASYNC_CB): the status is
 * then valid on return.  Call on the bus's loop thread.
 */
SK_API void xpt_action(union ccb *ccb);

/* Paths: a bus / target / LUN triple (wildcards allowed). */
SK_API uint32_t xpt_create_path(struct cam_path **path, void *periph,
				uint32_t path_id, uint32_t target,
				uint64_t lun);
SK_API void xpt_free_path(struct cam_path *path);
SK_API uint32_t xpt_path_path_id(const struct cam_path *path);
SK_API uint32_t xpt_path_target_id(const struct cam_path *path);
SK_API uint64_t xpt_path_lun_id(const struct cam_path *path);

/* Post async event code on path (wildcards allowed); the callbacks whose
 * registration path matches run now, on this thread (the bus's loop). */
SK_API void xpt_async(uint32_t code, struct cam_path *path, void *arg);

/* Convenience for XPT_SASYNC_CB: 0 or -errno. */
SK_API int xpt_register_async(uint32_t events, cam_async_fn cb, void *arg,
			      uint32_t path_id, uint32_t target,
			      uint64_t lun);

/*
 * The SIM side.
 */
struct cam_sim_ops {
	const char *name;
	/* Do ccb; finish it with xpt_done() now or later, from any thread.
	 * Must not sleep. */
	void (*action)(struct cam_sim *sim, union ccb *ccb);
	/* Optional: look for completed work without waiting (polled mode). */
	void (*poll)(struct cam_sim *sim);
};

/* A device queue: the number of requests the SIM takes at once (targets x
 * tags). */
SK_API struct cam_devq *cam_simq_alloc(uint32_t max_sim_transactions);
SK_API void cam_simq_free(struct cam_devq *devq);

SK_API struct cam_sim *cam_sim_alloc(const struct cam_sim_ops *ops,
				     const char *sim_name, void *softc,
				     uint32_t unit,
				     int max_dev_transactions,
				     int max_tagged_dev_transactions,
				     struct cam_devq *devq);
/* Free a SIM that is not registered (free_devq: its devq too). */
SK_API void cam_sim_free(struct cam_sim *sim, bool free_devq);
SK_API uint32_t cam_sim_path(const struct cam_sim *sim);
SK_API const char *cam_sim_name(const struct cam_sim *sim);
SK_API void *cam_sim_softc(const struct cam_sim *sim);
SK_API uint32_t cam_sim_unit(const struct cam_sim *sim);
SK_API uint32_t cam_sim_bus(const struct cam_sim *sim);
SK_API struct ev_loop *cam_sim_loop(const struct cam_sim *sim);

/* Attach sim as a bus served by loop; returns CAM_SUCCESS and assigns the
 * path id (cam_sim_path), or CAM_REQ_CMP_ERR. */
SK_API uint32_t xpt_bus_register(struct cam_sim *sim, struct ev_loop *loop,
				 uint32_t bus);
/* Detach the bus: queued CCBs complete with CAM_DEV_NOT_THERE, devices go
 * (AC_LOST_DEVICE).  The SIM must have finished its CCBs.  On its loop. */
SK_API uint32_t xpt_bus_deregister(uint32_t path_id);

/* Finish ccb; callable from any thread. */
SK_API void xpt_done(union ccb *ccb);

/* Queue freezing.  Counts nest: a queue runs when its count is 0. */
SK_API void xpt_freeze_simq(struct cam_sim *sim, uint32_t count);
SK_API void xpt_release_simq(struct cam_sim *sim, bool run_queue);
SK_API uint32_t xpt_freeze_devq(struct cam_path *path, uint32_t count);
SK_API void xpt_release_devq(struct cam_path *path, uint32_t count,
			     bool run_queue);
SK_API uint32_t xpt_simq_frozen(const struct cam_sim *sim);
SK_API uint32_t xpt_devq_frozen(struct cam_path *path);

/* Polled operation: run ccb to completion through the SIM's poll function
 * (no loop needed by the SIM).  Returns the status. */
SK_API uint32_t xpt_polled_action(union ccb *ccb, uint32_t timeout_ms);

/* Recovery tuning per bus: grace after an abort and after a device reset
 * before escalating; the default command timeout.  0 keeps a value. */
SK_API void xpt_bus_set_timeouts(uint32_t path_id, uint32_t abort_grace_ms,
				 uint32_t reset_grace_ms,
				 uint32_t default_timeout_ms);

/* A view of one device, for listings. */
struct cam_dev_info {
	uint32_t path_id;
	uint32_t target;
	uint64_t lun;
	char sim_name[DEV_IDLEN];
	uint32_t sim_unit;
	uint8_t inq[36];	/* standard INQUIRY data from the scan */
	bool configured;	/* found by a scan, not lost since */
	bool tagged;		/* tagged queuing enabled */
	uint32_t openings;	/* current limit of commands in flight */
	uint32_t active;	/* in flight */
	uint32_t queued;	/* waiting in the XPT */
	uint32_t frozen;	/* device queue freeze count */
	uint64_t cmds, errors, retries, timeouts;
};
/* Copy up to max configured devices of bus path_id (CAM_BUS_WILDCARD: of
 * all buses); returns how many exist. */
SK_API unsigned xpt_dev_list(uint32_t path_id, struct cam_dev_info *out,
			     unsigned max);
/* The loop a bus runs on, or NULL if there is no such bus. */
SK_API struct ev_loop *xpt_bus_loop(uint32_t path_id);
/* The registered buses' path ids; returns how many. */
SK_API unsigned xpt_bus_list(uint32_t *ids, unsigned max);

/*
 * Peripheral error recovery (after FreeBSD's cam_periph_error): decide
 * what a finished XPT_SCSI_IO means.  Returns 0 for success;
 * CAM_PERIPH_RETRIED when it resubmitted the CCB (its completion runs
 * again later); else a negative errno: -EIO (medium or hardware error,
 * retries used up), -EINVAL (illegal request), -EROFS (data protect),
 * -ENXIO (device not there), -EBUSY (reservation conflict, busy to the
 * end), -ECANCELED (aborted), -ETIMEDOUT (timed out every time).
 * UNIT ATTENTION, BUSY / TASK SET FULL, NOT READY (becoming ready),
 * ABORTED COMMAND, transport errors and requeues are retried while
 * ccb_h.retry_count > 0 (BUSY and NOT READY after a short delay).
 * Call from the CCB's completion function, on the bus's loop.
 */
#define CAM_PERIPH_RETRIED 1
#define CAM_RETRY_DEFAULT 4
#define CAM_RETRY_DELAY_MS 50
SK_API int cam_periph_error(union ccb *ccb);
/* Set the openings of a device (camcontrol tags -N); 0 restores the
 * SIM's default.  On the bus's loop.  0 or -ENODEV. */
SK_API int xpt_set_openings(uint32_t path_id, uint32_t target, uint64_t lun,
			    uint32_t openings);

/*
 * The loop SIM: an in-process host adapter whose targets are
 * target-engine LUNs, with fault injection.
 */
struct cam_loop;
struct tgt_target;
struct tgt_lun;

struct cam_loop_params {
	const char *name;	/* SIM name, default "loop" */
	uint32_t unit;
	uint32_t targets;	/* target ids 0..targets-1 (default 8) */
	uint32_t luns;		/* LUNs 0..luns-1 per target (default 8) */
	uint32_t tags;		/* max tagged transactions per device (64) */
	uint32_t devq_size;	/* SIM slots in all (default targets x tags) */
	uint32_t maxio;		/* largest transfer (default 1 MiB) */
};
SK_API struct cam_loop *cam_loop_create(const struct cam_loop_params *p);
/* Put a target-engine target at id (taking a reference): its LUNs are
 * what the bus sees.  0 or -EEXIST / -ERANGE. */
SK_API int cam_loop_attach_target(struct cam_loop *lp, uint32_t id,
				  struct tgt_target *t);
SK_API int cam_loop_detach_target(struct cam_loop *lp, uint32_t id);
SK_API struct tgt_target *cam_loop_target(struct cam_loop *lp, uint32_t id);
/* Register as a bus on loop; returns the path id or -errno. */
SK_API int cam_loop_register(struct cam_loop *lp, struct ev_loop *loop);
SK_API struct cam_sim *cam_loop_sim(struct cam_loop *lp);
/* Deregister (if registered) and free; on the bus's loop. */
SK_API void cam_loop_destroy(struct cam_loop *lp);

enum cam_loop_fault_kind {
	CAM_LOOP_FAULT_NONE = 0,
	CAM_LOOP_FAULT_DROP = 1,	/* never complete (time out) */
	CAM_LOOP_FAULT_DELAY = 2,	/* complete delay_ms late */
	CAM_LOOP_FAULT_BUSY = 3,	/* SCSI status BUSY */
	CAM_LOOP_FAULT_CHECK = 4,	/* CHECK CONDITION, given sense */
	CAM_LOOP_FAULT_SEL_TIMEOUT = 5,	/* target does not answer */
	CAM_LOOP_FAULT_BUSFREE = 6,	/* unexpected bus free */
	CAM_LOOP_FAULT_BUS_RESET = 7,	/* a bus reset hits the command */
	CAM_LOOP_FAULT_SHORTAGE = 8,	/* SIM out of resources */
	CAM_LOOP_FAULT_STATUS = 9,	/* finish with status (a cam_status) */
	CAM_LOOP_FAULT_NOSENSE = 10,	/* CHECK CONDITION without autosense:
					 * the sense waits for REQUEST SENSE */
	CAM_LOOP_FAULT_TASK_SET_FULL = 11,
	CAM_LOOP_FAULT_HBA_ERROR = 12,	/* fatal adapter error: everything
					 * held ends CAM_UNREC_HBA_ERROR */
};
/* Fault options */
#define CAM_LOOP_F_IGNORE_ABORT 0x1u	/* abort of a dropped CCB stalls */
#define CAM_LOOP_F_IGNORE_BDR 0x2u	/* device reset stalls too */
#define CAM_LOOP_F_QFRZN 0x4u		/* FAULT_STATUS: freeze devq */

struct cam_loop_fault {
	enum cam_loop_fault_kind kind;
	int32_t target;		/* -1: any */
	int64_t lun;		/* -1: any */
	int16_t opcode;		/* -1: any */
	int32_t count;		/* commands it hits; -1: unlimited */
	uint32_t delay_ms;	/* DELAY */
	uint8_t sense_key;	/* CHECK / NOSENSE */
	uint16_t asc_ascq;
	uint32_t status;	/* STATUS */
	uint32_t options;	/* CAM_LOOP_F_* */
};
#define CAM_LOOP_MAX_FAULTS 8
/* Add a rule (first match wins); returns its slot or -ENOSPC.
 * Thread-safe. */
SK_API int cam_loop_fault_add(struct cam_loop *lp,
			      const struct cam_loop_fault *f);
SK_API void cam_loop_fault_clear(struct cam_loop *lp);
SK_API uint64_t cam_loop_fault_hits(struct cam_loop *lp);
/* Parse "drop", "delay=MS", "busy", "check=KEY/ASC/ASCQ", "seltimeout",
 * "busfree", "busreset", "hbaerror", "shortage", "nosense=KEY/ASC/ASCQ",
 * "status=NAME", plus ",target=N,lun=N,op=0xNN,count=N,noabort,nobdr".
 * 0 or -EINVAL. */
SK_API int cam_loop_fault_parse(const char *spec, struct cam_loop_fault *f);
/* Post a bus reset as if another initiator had reset the bus. */
SK_API void cam_loop_bus_reset(struct cam_loop *lp);
/* Commands the SIM is holding (in flight or dropped). */
SK_API unsigned cam_loop_active(struct cam_loop *lp);

/*
 * An in-process stack from a SIM URL:
 *   loop:[targets=N][,luns=N][,size=SIZE][,bs=512|4096][,tags=N]
 *        [,maxio=SIZE][,disk=NAME]...
 * targets x luns LUNs, each on its own mem bdev of size (default 64M),
 * or on the registry's disks named with disk= (one LUN per disk on
 * target 0).  Returns the path id or -errno with a message in err.
 */
SK_API int cam_loop_create_url(const char *url, struct ev_loop *loop,
			       struct cam_loop **out, char *err,
			       size_t errlen);

/*
 * The da peripheral: a SCSI direct-access device on a CAM path, seen as a
 * bdev.  Probe with TEST UNIT READY and READ CAPACITY(16), then block I/O
 * becomes READ/WRITE(10 or 16), SYNCHRONIZE CACHE(10/16) and UNMAP, split
 * at the device's maximum transfer.
 */
typedef void (*cam_da_probe_cb)(struct bdev *bd, int err, void *arg);
/*
 * Probe the device at path_id/target/lun and build a bdev named name.
 * 0: cb runs exactly once later on the bus's loop with the bdev (one
 * reference for the caller) or a negative errno.  -errno: never.
 * Call on the bus's loop.
 */
SK_API int cam_da_probe(uint32_t path_id, uint32_t target, uint64_t lun,
			const char *name, cam_da_probe_cb cb, void *arg);

/*
 * Multipath (src/cam/mpath.c): one bdev over several paths to one LU,
 * each a bdev (a da disk on its own bus).  Lower priority values are used
 * first (derive them from REPORT TARGET PORT GROUPS: active/optimized 0,
 * active/non-optimized 1, others 2); FAILOVER takes the first healthy path
 * of the best priority, ROUND_ROBIN rotates among them.  An I/O ending
 * with a path error (-EIO, -ENXIO, -ETIMEDOUT, -ECANCELED, -ENODEV) marks
 * the path failed and goes to another path; with none left it waits up to
 * nopath_ms (0: for ever), then fails -EIO.  Failed paths are probed with
 * a one-block READ on loop every 100 ms and come back when it succeeds.
 */
#define CAM_MPATH_MAX_PATHS 8
enum cam_mpath_policy {
	CAM_MPATH_FAILOVER = 0,
	CAM_MPATH_ROUND_ROBIN = 1,
};
/* A multipath bdev named name with its first path (held); NULL on
 * failure.  Call cam_mpath_start on loop's thread before I/O. */
SK_API struct bdev *cam_mpath_create(const char *name, struct bdev *first,
				     const char *label, int prio,
				     struct ev_loop *loop,
				     enum cam_mpath_policy policy,
				     uint32_t nopath_ms);
/* Another path (same size and block size; held); a negative prio adds it
 * failed (to be probed).  0, -EINVAL, -ENOSPC, -ENOMEM. */
SK_API int cam_mpath_add_path(struct bdev *mp, struct bdev *path,
			      const char *label, int prio);
/* Start / stop the probe timer (on loop's thread); stop fails I/O still
 * waiting for a path.  Stop before the last release. */
SK_API int cam_mpath_start(struct bdev *mp);
SK_API void cam_mpath_stop(struct bdev *mp);
/* Path idx (in the order added) is the device path_id:target:lun in
 * target port group tpg: its REPORT TARGET PORT GROUPS is read every
 * second and after failures, and its priority follows its group's state.
 * Before cam_mpath_start.  0, -EINVAL, -EEXIST, -ENOMEM. */
SK_API int cam_mpath_path_scsi(struct bdev *mp, unsigned idx,
			       uint32_t path_id, uint32_t target,
			       uint64_t lun, uint16_t tpg);
SK_API bool cam_mpath_is(const struct bdev *bd);
/* Up to max multipath bdevs of the process into out, each held (release
 * them); returns how many exist. */
SK_API unsigned cam_mpath_list(struct bdev **out, unsigned max);
struct cam_mpath_path_info {
	char label[64];
	int prio;
	bool failed;
	uint64_t ios, errors, failovers;
};
/* Up to max paths into out; returns how many the bdev has. */
SK_API unsigned cam_mpath_paths(struct bdev *mp,
				struct cam_mpath_path_info *out, unsigned max);

/* REPORT TARGET PORT GROUPS parameter data (either format) of len bytes:
 * up to max groups into out.  0; -EINVAL when the data is truncated or
 * its lengths are inconsistent (nothing is read past len); -ENOSPC when
 * there are more than max groups. */
struct cam_rtpg_group {
	uint16_t id;
	uint8_t state;		/* ASYMMETRIC ACCESS STATE */
	bool pref;
	uint8_t nports;
};
SK_API int cam_rtpg_parse(const uint8_t *buf, size_t len,
			  struct cam_rtpg_group *out, unsigned max,
			  unsigned *count);

/*
 * Synchronous helpers for tools and tests on a thread that is NOT the
 * bus's loop (the loop runs elsewhere).  Each runs the CCB on the loop and
 * waits for it.
 */
SK_API uint32_t cam_sync_action(struct ev_loop *loop, union ccb *ccb);
/* The pass peripheral: send a raw CDB; data of dxfer_len in/out of buf by
 * the direction flag; with recovery if retries > 0.  Returns the CAM
 * status; *scsi_status, sense (sense_len bytes) and *resid are filled. */
struct cam_pass_req {
	uint32_t path_id, target;
	uint64_t lun;
	const uint8_t *cdb;
	uint8_t cdb_len;
	uint32_t dir;		/* CAM_DIR_IN / CAM_DIR_OUT / CAM_DIR_NONE */
	void *data;
	uint32_t dxfer_len;
	uint32_t timeout_ms;
	int retries;
	uint8_t tag_action;
	/* out */
	uint8_t scsi_status;
	uint32_t resid;
	uint8_t sense[SCSI_SENSE_MAX];
	uint8_t sense_len;
	int err;		/* cam_periph_error() verdict */
};
SK_API uint32_t cam_pass_run(struct ev_loop *loop, struct cam_pass_req *r);
/* Run fn(arg) on loop and wait for it to return. */
SK_API int cam_sync_call(struct ev_loop *loop, void (*fn)(void *arg),
			 void *arg);
/* Scan bus path_id (CAM_BUS_WILDCARD: all) and wait. */
SK_API uint32_t cam_sync_rescan(struct ev_loop *loop, uint32_t path_id);
/* cam_da_probe and wait; NULL with *err set on failure. */
SK_API struct bdev *cam_sync_da_probe(struct ev_loop *loop, uint32_t path_id,
				      uint32_t target, uint64_t lun,
				      const char *name, int *err);

#endif
