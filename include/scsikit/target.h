/*
 * The SCSI target engine: turns SCSI tasks into block I/O on bdevs.
 *
 * Objects:
 *   tgt_lun     one logical unit on one bdev (SPC/SBC emulation), with its
 *               mode pages, reservation and per-nexus unit attentions;
 *   tgt_target  a set of LUNs reachable through one export (an iSCSI
 *               target, a vscsi target id, a loop-SIM target);
 *   tgt_nexus   an I_T nexus: one initiator port talking to one target.
 *               Unit attentions and reservations are kept per nexus.
 *   tgt_task    one SCSI command, owned by the front end.
 *
 * Front ends (iSCSI, the loop and vscsi SIMs) create a nexus per
 * initiator session, fill a tgt_task and call tgt_task_submit().  Data of a
 * write must be in the task's iov before submission; a read fills it.
 *
 * Threading: a target, its LUNs and nexuses may be used from several
 * reactors.  tgt_task_submit() runs on the caller's loop; the completion
 * runs later on task->loop.  Per-LUN state touched by more than one nexus
 * (unit attentions, reservation, mode pages) is guarded by a per-LUN lock
 * taken only by non-I/O commands and nexus events, never by READ/WRITE.
 */
#ifndef SCSIKIT_TARGET_H
#define SCSIKIT_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <scsikit/api.h>
#include <scsikit/scsi.h>

struct bdev;
struct ev_loop;
struct tgt_lun;
struct tgt_target;
struct tgt_nexus;
struct tgt_task;

/* Maximum LUNs per target. */
#define TGT_MAX_LUNS 256

struct tgt_lun_params {
	const char *vendor;	/* INQUIRY vendor, <= 8 chars; "SCSIKIT" */
	const char *product;	/* <= 16 chars; default "VDISK" */
	const char *revision;	/* <= 4 chars; default the version */
	const char *serial;	/* unit serial (VPD 0x80); default derived
				 * from the bdev name */
	uint64_t naa_id;	/* 0: derived from the serial (NAA 6 IEEE
				 * registered extended, locally made) */
	bool read_only;		/* on top of the bdev's own read-only flag */
	bool write_cache;	/* WCE default (caching mode page) */
	bool descriptor_sense;	/* D_SENSE default (control mode page) */
	/* Report the bdev's physical block size (READ CAPACITY(16) LBPPBE,
	 * Block Limits granularities).  Off by default: one logical block per
	 * physical block is reported, because libiscsi's conformance suite
	 * (GetLBAStatus.UnmapSingle) assumes it. */
	bool report_pbsize;
};

/*
 * Create a LUN on bd (taking a reference).  p may be NULL for defaults.
 * NULL on failure (errno set).
 */
SK_API struct tgt_lun *tgt_lun_create(struct bdev *bd,
				      const struct tgt_lun_params *p);
SK_API struct tgt_lun *tgt_lun_hold(struct tgt_lun *lun);
SK_API void tgt_lun_release(struct tgt_lun *lun);
SK_API struct bdev *tgt_lun_bdev(const struct tgt_lun *lun);
/* Re-read the bdev's size; if it changed, every nexus gets a CAPACITY DATA
 * HAS CHANGED unit attention. */
SK_API void tgt_lun_capacity_changed(struct tgt_lun *lun);

/*
 * The operator's eject and load of a removable drive bdev
 * (bdev_medium_create), for every LUN that sits on it.  Eject opens the
 * tray: the LUNs answer MEDIUM NOT PRESENT - TRAY OPEN.  Load closes it,
 * first putting medium in the drive when it is not NULL (a reference is
 * taken), and every I_T nexus gets NOT READY TO READY CHANGE, MEDIUM MAY
 * HAVE CHANGED.  0, -EBUSY while an initiator prevents medium removal,
 * -EINVAL (not a drive, other block size), -EROFS (read-only medium in a
 * read-write drive), -ENOMEDIUM (load with nothing in the drive).
 */
SK_API int tgt_medium_eject(struct bdev *bd);
SK_API int tgt_medium_load(struct bdev *bd, struct bdev *medium);

SK_API struct tgt_target *tgt_target_create(const char *name);
SK_API struct tgt_target *tgt_target_hold(struct tgt_target *t);
SK_API void tgt_target_release(struct tgt_target *t);
SK_API const char *tgt_target_name(const struct tgt_target *t);
/* Set by each front end that exports t: the largest data transfer of one
 * command it accepts, in bytes (0: no limit of its own).  The smallest
 * limit set is kept, and the Block Limits VPD page reports it, in blocks
 * of each LUN, as MAXIMUM TRANSFER LENGTH. */
SK_API void tgt_target_set_max_xfer(struct tgt_target *t, uint32_t bytes);
/* Map lun at number lun_id (0..TGT_MAX_LUNS-1); takes a reference.  Every
 * nexus gets REPORTED LUNS DATA HAS CHANGED.  0 or -EEXIST / -ERANGE. */
SK_API int tgt_target_add_lun(struct tgt_target *t, uint32_t lun_id,
			      struct tgt_lun *lun);
SK_API int tgt_target_remove_lun(struct tgt_target *t, uint32_t lun_id);
/* The LUN at lun_id or NULL; the pointer is valid while the caller holds
 * the target and the LUN stays mapped (hold it to keep it longer). */
SK_API struct tgt_lun *tgt_target_lun(struct tgt_target *t, uint32_t lun_id);
/* Write up to max mapped LUN numbers into ids; returns how many are
 * mapped in all. */
SK_API unsigned tgt_target_luns(struct tgt_target *t, uint32_t *ids,
				unsigned max);

/* An I_T nexus: initiator_port is a stable name for the initiator port
 * (for iSCSI: "iqn...,i,0x<isid>").  New nexuses start with a POWER ON,
 * RESET, OR BUS DEVICE RESET OCCURRED unit attention on every LUN. */
SK_API struct tgt_nexus *tgt_nexus_create(struct tgt_target *t,
					  const char *initiator_port);
/* End the nexus: releases its reservations (others see RESERVATIONS
 * RELEASED where the spec says so) and drops its state.  Tasks of this nexus
 * still in flight keep it alive until they complete. */
SK_API void tgt_nexus_destroy(struct tgt_nexus *n);
SK_API const char *tgt_nexus_initiator(const struct tgt_nexus *n);

enum tgt_dir {
	TGT_DIR_NONE = 0,
	TGT_DIR_READ = 1,	/* data to the initiator */
	TGT_DIR_WRITE = 2,	/* data from the initiator */
};

enum tgt_task_attr {
	TGT_TASK_SIMPLE = 0,
	TGT_TASK_ORDERED = 1,
	TGT_TASK_HEAD_OF_QUEUE = 2,
	TGT_TASK_ACA = 3,
};

/* Residual reporting (set by the engine). */
#define TGT_RESID_UNDER 0x1u
#define TGT_RESID_OVER 0x2u

typedef void (*tgt_task_cb)(struct tgt_task *task, void *arg);

/*
 * One SCSI command.  The front end owns the memory (usually embedded in its
 * own command structure) and keeps it valid until the callback has run.
 */
struct tgt_task {
	/* Set by the front end. */
	uint8_t cdb[32];
	uint8_t cdb_len;
	uint64_t lun;		/* LUN number (flat, 0..TGT_MAX_LUNS-1) */
	uint64_t tag;		/* the front end's tag, for logs and aborts */
	enum tgt_task_attr attr;
	enum tgt_dir dir;	/* what the initiator said it will do */
	uint32_t data_len;	/* expected transfer length, bytes */
	const struct iovec *iov; /* data_len bytes of buffer */
	int iovcnt;
	struct ev_loop *loop;	/* where done runs */
	tgt_task_cb done;
	void *done_arg;

	/* Set by the engine when done runs. */
	uint8_t status;		/* enum scsi_status */
	uint8_t sense_len;
	uint8_t sense[SCSI_SENSE_MAX];
	uint32_t xfer_done;	/* bytes of data moved (read: valid in iov) */
	uint32_t resid;		/* residual count */
	uint32_t resid_flags;	/* TGT_RESID_* */
	bool aborted;		/* aborted: the front end sends no status */

	/* Private to the engine. */
	struct tgt_nexus *nexus;
	struct tgt_lun *lu;
	struct tgt_task *next;
	uint64_t priv[16];
};

/*
 * Start task on nexus n.  Returns 0: task->done runs exactly once, later,
 * on task->loop, with status/sense/resid set (every SCSI error, including
 * an unmapped LUN, comes back this way).  Negative errno (-EINVAL for a bad
 * task structure, -ENOMEM): done never runs.  Call it on task->loop's
 * thread.
 *
 * Data: the engine moves min(the CDB's transfer, data_len) bytes -- a
 * write writes only the whole blocks present, a read fills exactly
 * xfer_done bytes of iov -- and reports the difference in resid /
 * resid_flags (overflow: the CDB wanted more than data_len; underflow:
 * less).  On CHECK CONDITION xfer_done is 0.  task->dir is advisory: the
 * CDB decides the direction (libiscsi expects a READ flagged as a write to
 * succeed); a front end that cannot move data the other way should not
 * send it.
 */
SK_API int tgt_task_submit(struct tgt_nexus *n, struct tgt_task *task);

/*
 * Abort a task previously submitted and not yet completed.  The engine
 * stops it at the next safe point; I/O already at the backend is allowed to
 * finish (its buffers stay owned by the engine until then).  The task's done
 * still runs exactly once, with task->aborted set.  Call it on task->loop's
 * thread; a no-op once done has run.
 */
SK_API void tgt_task_abort(struct tgt_task *task);

/* Task management at LUN / target scope (after the front end has aborted
 * its tasks): establishes the unit attentions and clears reservations as
 * SAM says for each.  issuer may be NULL for a local reset.
 *   LUN_RESET, TARGET_WARM_RESET: BUS DEVICE RESET FUNCTION OCCURRED on
 *     every nexus (the issuer's too); TARGET_COLD_RESET: POWER ON; each
 *     clears SPC-2 reservations and returns mode pages to their defaults
 *     (persistent reservations stay).
 *   ABORT_TASK_SET, CLEAR_TASK_SET: nothing beyond the front end's aborts
 *     (task sets are per nexus).  CLEAR_ACA: -ENOTSUP (no ACA).
 * Returns 0, -ENOENT for an unmapped LUN, -ENOTSUP, -EINVAL. */
enum tgt_tmf {
	TGT_TMF_ABORT_TASK_SET = 1,
	TGT_TMF_CLEAR_TASK_SET = 2,
	TGT_TMF_LUN_RESET = 3,
	TGT_TMF_TARGET_WARM_RESET = 4,
	TGT_TMF_TARGET_COLD_RESET = 5,
	TGT_TMF_CLEAR_ACA = 6,
};
SK_API int tgt_tmf(struct tgt_target *t, struct tgt_nexus *issuer,
		   enum tgt_tmf fn, uint64_t lun);

/* ---- Asymmetric logical unit access (SPC-4 5.15), tgt_alua.c ----
 *
 * The process is one SCSI target device whose target ports (an iSCSI
 * portal group is one) are named by relative target port identifiers and
 * sit in target port groups; every LUN of every target shares them.  Peer
 * groups are groups whose ports live in another daemon exporting the same
 * LUs: they are reported by REPORT TARGET PORT GROUPS but no nexus here is
 * on them.  With no group defined the engine reports TPGS 0 and refuses
 * REPORT/SET TARGET PORT GROUPS as unsupported.  Configuration calls may
 * run while commands flow. */
enum tgt_alua_state {
	TGT_ALUA_OPTIMIZED = 0x0,	/* active/optimized */
	TGT_ALUA_NON_OPTIMIZED = 0x1,	/* active/non-optimized */
	TGT_ALUA_STANDBY = 0x2,
	TGT_ALUA_UNAVAILABLE = 0x3,
	TGT_ALUA_TRANSITIONING = 0xf,
};

#define TGT_ALUA_MAX_GROUPS 16
#define TGT_ALUA_MAX_PORTS 64	/* relative target ports in all groups */

struct tgt_alua_group_info {
	uint16_t id;			/* target port group, 1..65535 */
	enum tgt_alua_state state;
	bool peer;			/* its ports are in another daemon */
	uint8_t status;			/* RTPG STATUS CODE: 0 none, 1 set by
					 * SET TARGET PORT GROUPS, 2 implicit */
	unsigned nports;
	uint16_t ports[TGT_ALUA_MAX_PORTS];	/* relative port ids */
};

/* Add group id in state st.  0, -EINVAL (id 0, bad state), -EEXIST,
 * -ENOSPC. */
SK_API int tgt_alua_group_add(uint16_t id, enum tgt_alua_state st,
			      bool peer);
/* Put relative target port rtpi (1..65535) in group.  0, -ENOENT (no such
 * group), -EEXIST (the port is in a group already), -ENOSPC, -EINVAL. */
SK_API int tgt_alua_port_add(uint16_t group, uint16_t rtpi);
/* Change the state of group (an implicit transition): every I_T nexus
 * gets ASYMMETRIC ACCESS STATE CHANGED on every LUN.  0, -ENOENT,
 * -EINVAL. */
SK_API int tgt_alua_state_set(uint16_t group, enum tgt_alua_state st);
/* Every group, in id order, into out (max entries); returns the count. */
SK_API unsigned tgt_alua_groups(struct tgt_alua_group_info *out,
				unsigned max);
/* IMPLICIT TRANSITION TIME reported by RTPG (seconds, 0..255). */
SK_API void tgt_alua_transition_time_set(unsigned seconds);
/* "active/optimized", "active/non-optimized", "standby", "unavailable",
 * "transitioning"; parse also takes ao, an, s, u, t.  -EINVAL if unknown. */
SK_API const char *tgt_alua_state_name(enum tgt_alua_state st);
SK_API int tgt_alua_state_parse(const char *s, enum tgt_alua_state *st);
/* Forget every group and port (tests; no nexus may be alive). */
SK_API void tgt_alua_reset(void);

/* The relative target port the nexus came in through (default 1).  Call
 * before the nexus's first task. */
SK_API void tgt_nexus_set_port(struct tgt_nexus *n, uint16_t rtpi);

/*
 * Shared state of an LU presented by several daemons.  Today the engine
 * keeps ALUA and reservation state in its own memory (tgt_ha_mem_ops, the
 * default); a cluster backend replaces the ops so every daemon sees one
 * state.  All return 0 or a negative errno and may block briefly (they run
 * on non-I/O commands and control requests only).
 *   alua_load:  the current state of group (-ENOENT: keep the local one);
 *   alua_store: publish a new state of group;
 *   pr_load:    the encoded reservation state of the LU named by its NAA
 *               id (buf of cap bytes; *len set; -ENOENT: none stored);
 *   pr_store:   publish it, only if the stored sequence number is still
 *               old_gen (-EAGAIN otherwise); on any error the engine
 *               puts its state back and answers BUSY for -EAGAIN (the
 *               retry reloads first), NOT READY / LOGICAL UNIT
 *               COMMUNICATION FAILURE for any other error (the store
 *               did not answer), as it does when pr_load fails with
 *               anything but -ENOENT;
 *   notify:     see below.
 */
/* Events other daemons presenting the same LUs must apply (the shared
 * store's change feed, or a direct channel between daemons). */
enum tgt_ha_event_kind {
	TGT_HA_LU_RESET = 1,	/* a LUN or target reset of the LU naa */
	TGT_HA_ALUA_STATE = 2,	/* group's state changed */
	TGT_HA_PR_CHANGED = 3,	/* the stored reservation state of LU naa
				 * (0: of every LU) changed: reload it */
};
struct tgt_ha_event {
	enum tgt_ha_event_kind kind;
	uint64_t naa;		/* LU_RESET: the LU (its NAA id) */
	bool power_on;		/* LU_RESET: cold (POWER ON) or warm */
	uint16_t group;		/* ALUA_STATE */
	enum tgt_alua_state state;
};
/* Apply an event from another daemon: a reset gives every nexus of this
 * daemon's LUNs with that NAA id the reset's unit attention (and drops
 * SPC-2 reservations); a state change sets the group's state here, with
 * ASYMMETRIC ACCESS STATE CHANGED, without telling anyone again; a
 * reservation change reloads the LUs' reservation state through pr_load
 * (so it may block as long as pr_load does).  0, -ENOENT (no such LU or
 * group), -EINVAL, or pr_load's error. */
SK_API int tgt_ha_event_apply(const struct tgt_ha_event *ev);

struct tgt_ha_ops {
	int (*alua_load)(void *arg, uint16_t group, enum tgt_alua_state *st);
	int (*alua_store)(void *arg, uint16_t group, enum tgt_alua_state st);
	int (*pr_load)(void *arg, uint64_t naa, void *buf, size_t cap,
		       size_t *len);
	int (*pr_store)(void *arg, uint64_t naa, uint32_t old_gen,
			const void *buf, size_t len);
	/* Tell the other daemons (NULL: nobody to tell).  Called after the
	 * change is made here, outside the engine's locks, on the thread
	 * that made it; it may wait for delivery but must not call into the
	 * engine. */
	void (*notify)(void *arg, const struct tgt_ha_event *ev);
};
SK_API extern const struct tgt_ha_ops tgt_ha_mem_ops;
/* Use ops (NULL: the in-memory default) for shared state from now on. */
SK_API void tgt_ha_ops_set(const struct tgt_ha_ops *ops, void *arg);

/* LU identity by disk (bdev) name, for LUNs created with no serial or
 * NAA id of their own: two daemons given the same identity for the same
 * backing store present one logical unit.  serial may be NULL (keep the
 * default); naa_hi/naa_lo are the 16-byte NAA 6 designator (naa_lo 0:
 * derived from the serial).  0, -EINVAL, -ENOMEM. */
SK_API int tgt_lun_identity_set(const char *disk, const char *serial,
				uint64_t naa_hi, uint64_t naa_lo);
SK_API void tgt_lun_identity_clear(void);

/* Counters per LUN, for the control socket. */
struct tgt_lun_stats {
	uint64_t cmds;
	uint64_t read_cmds, write_cmds;
	uint64_t read_bytes, write_bytes;
	uint64_t errors;	/* CHECK CONDITION answers */
	uint64_t in_flight;
};
SK_API void tgt_lun_get_stats(const struct tgt_lun *lun,
			      struct tgt_lun_stats *st);

/* Supported-command listing (for docs and the closing note): calls fn for
 * every opcode/service action the engine implements. */
SK_API void tgt_foreach_command(void (*fn)(uint8_t opcode, uint16_t sa,
					   const char *name, void *arg),
				void *arg);

#endif
