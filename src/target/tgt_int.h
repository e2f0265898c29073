/*
 * Internals of the SCSI target engine, shared by its files:
 *
 *   tgt_obj.c    objects (LUN, target, nexus) and unit attentions;
 *   tgt_core.c   submit, dispatch through the command table, sense and
 *                data helpers, completion, aborts, task management;
 *   tgt_table.c  the command table and REPORT SUPPORTED OPERATION CODES;
 *   tgt_spc.c    SPC commands (INQUIRY, REPORT LUNS, REQUEST SENSE, ...);
 *   tgt_mode.c   MODE SENSE / MODE SELECT and the mode pages;
 *   tgt_sbc.c    SBC block commands (READ/WRITE/VERIFY/WRITE SAME/...);
 *   tgt_io.c     the block I/O engine (split, sub-iov slicing, chunks);
 *   tgt_pr.c     persistent reservations;
 *   tgt_alua.c   target port groups (ALUA), REPORT/SET TARGET PORT GROUPS,
 *                the per-port access check, LU identities by disk name.
 *   tgt_medium.c, tgt_sanitize.c, tgt_defect.c, tgt_mmc.c
 *                the medium: removable media, SANITIZE, READ DEFECT
 *                DATA and the CD-ROM (MMC) LU (tgt_media.h).
 *   tgt_xcopy.c  EXTENDED COPY, RECEIVE COPY RESULTS, VPD page 8Fh;
 *   tgt_atomic.c WRITE ATOMIC(16), ORWRITE(16) and the range locks they
 *                share with COMPARE AND WRITE.
 *
 * Not installed; front ends see only include/scsikit/target.h.
 */
#ifndef SK_TGT_INT_H
#define SK_TGT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <scsikit/bdev.h>
#include <scsikit/scsi.h>
#include <scsikit/target.h>

#include "target/tgt_media.h"

struct tgt_cmd;
struct tgt_xc_rec;

/* ---- Unit attention conditions, one bit each, in reporting order (the
 * lowest set bit is reported first). ---- */
enum tgt_ua {
	TGT_UA_POWER_ON = 0,		/* 29/00 */
	TGT_UA_BUS_DEVICE_RESET = 1,	/* 29/03 */
	TGT_UA_NEXUS_LOSS = 2,		/* 29/07 */
	TGT_UA_RES_PREEMPTED = 3,	/* 2A/03 */
	TGT_UA_RES_RELEASED = 4,	/* 2A/04 */
	TGT_UA_REG_PREEMPTED = 5,	/* 2A/05 */
	TGT_UA_MODE_CHANGED = 6,	/* 2A/01 */
	TGT_UA_CAPACITY_CHANGED = 7,	/* 2A/09 */
	TGT_UA_CMDS_CLEARED = 8,	/* 2F/00 */
	TGT_UA_LUNS_CHANGED = 9,	/* 3F/0E */
	TGT_UA_ALUA_CHANGED = 10,	/* 2A/06 */
	TGT_UA_MEDIUM_CHANGED = 11,	/* 28/00 (tgt_medium.c) */
	TGT_UA_COUNT = 12,
};

/* ---- Mode pages state (per LUN, shared by every nexus). ---- */
struct tgt_mode {
	bool wce;	/* caching page WCE */
	bool rcd;	/* caching page RCD */
	bool d_sense;	/* control page D_SENSE */
	bool swp;	/* control page SWP: software write protect */
	bool dexcpt;	/* informational exceptions DEXCPT */
	uint8_t mrie;	/* informational exceptions MRIE */
};

/* ---- Persistent reservations (tgt_pr.c). ---- */
#define TGT_PR_MAX_REGS 64
struct tgt_pr_reg {
	char *initiator;	/* I_T nexus identity (initiator port) */
	uint16_t rtpi;		/* ... and the target port it came through */
	bool all_tg_pt;		/* registered through every target port */
	uint64_t key;
	bool holder;		/* made the reservation (not for *_AR types) */
};
struct tgt_pr {
	uint32_t generation;
	unsigned nregs;
	struct tgt_pr_reg regs[TGT_PR_MAX_REGS];
	bool reserved;
	uint8_t type;		/* PR type when reserved */
	uint32_t seq;		/* changes published (tgt_pr_store.c) */
};

/* An active COMPARE AND WRITE range, for per-LUN serialization (also taken
 * by ORWRITE and WRITE ATOMIC: tgt_range_lock). */
struct tgt_caw {
	uint64_t lba;
	uint32_t nlb;
	struct tgt_cmd *cmd;
	void (*start)(struct tgt_cmd *c);	/* run once the range is held */
	struct tgt_caw *next;		/* in caw_active / caw_waiting */
	struct tgt_caw *ready_next;	/* admitted, to be started */
};

struct tgt_lun {
	atomic_int refs;
	struct bdev *bd;
	char vendor[9];
	char product[17];
	char revision[5];
	char serial[65];
	uint64_t naa;
	uint64_t naa_ext;	/* VENDOR SPECIFIC IDENTIFIER EXTENSION */
	bool cfg_read_only;	/* asked for by the creator or the bdev */
	uint32_t lbsize;
	uint8_t lbshift;	/* log2(lbsize) */
	uint8_t pb_exp;		/* log2(pbsize / lbsize) */
	bool ws_to_end;		/* WSNZ 0: WRITE SAME of 0 blocks to the end */
	_Atomic uint64_t nblocks;

	/* Guarded by lock: non-I/O commands and nexus events only. */
	pthread_mutex_t lock;
	struct tgt_mode mode;
	bool def_wce;		/* mode defaults (reset returns to them) */
	bool def_d_sense;
	struct tgt_pr pr;
	struct tgt_caw *caw_active;
	struct tgt_caw *caw_waiting;
	struct tgt_xc_rec *xc_recs;	/* EXTENDED COPY results (tgt_xcopy.c) */

	/* Read in the I/O path without the lock (relaxed atomics), written
	 * under it. */
	atomic_bool wce;
	atomic_bool d_sense;
	atomic_bool swp;
	/* SPC-2 reservation holder (a nexus identity token), 0 = none. */
	_Atomic uint64_t res2_holder;
	/* Nonzero when a persistent reservation is held: the I/O path then
	 * takes the lock to check it. */
	atomic_bool pr_active;

	/* Removable medium and sanitize state (tgt_media.h). */
	struct tgt_media media;

	struct {
		_Atomic uint64_t cmds, read_cmds, write_cmds;
		_Atomic uint64_t read_bytes, write_bytes, errors, in_flight;
	} st;
};

struct tgt_target {
	atomic_int refs;
	char *name;
	pthread_mutex_t lock;	/* the LUN map and the nexus list */
	struct tgt_lun *_Atomic luns[TGT_MAX_LUNS];
	/* LUNs unmapped while the target lives: their reference is dropped
	 * only at target destruction, so a lookup racing an unmap never sees
	 * a freed LUN (the I/O path takes no lock). */
	struct tgt_lun **retired;
	unsigned nretired;
	struct tgt_nexus *nexuses;
	struct tgt_target *gnext;	/* the global list (LUN events) */
	/* Set by the front end (tgt_target_set_max_xfer): the most data one
	 * command may move through it, bytes; 0: no limit of its own. */
	_Atomic uint32_t max_xfer;
};

struct tgt_nexus {
	atomic_int refs;
	struct tgt_target *t;
	char *initiator;
	uint64_t id;		/* unique, nonzero: reservation token */
	uint16_t rtpi;		/* relative target port (tgt_nexus_set_port) */
	bool dead;		/* tgt_nexus_destroy ran */
	struct tgt_nexus *next;	/* in t->nexuses, under t->lock */
	_Atomic uint32_t ua[TGT_MAX_LUNS];	/* 1u << enum tgt_ua */
};

/* ---- Command table (tgt_table.c). ---- */

/* Row flags: the states in which a command is allowed, and what it is. */
#define TGT_CF_UA_OK 0x0001u	  /* runs with a unit attention pending */
#define TGT_CF_RES_OK 0x0002u	  /* allowed under an SPC-2 reservation
				   * held by another nexus */
#define TGT_CF_NO_LUN_OK 0x0004u  /* runs for an unmapped LUN */
#define TGT_CF_MEDIUM_WRITE 0x0008u /* writes the medium: write protect */
#define TGT_CF_NEEDS_DISCARD 0x0010u /* only where the bdev can discard */
#define TGT_CF_SA 0x0020u	  /* has a service action in byte 1 */
#define TGT_CF_PR_READ 0x0040u	  /* a read for PR conflict checks */
#define TGT_CF_PR_ALLOWED 0x0080u /* never a PR conflict (SPC-4 5.9.1) */
#define TGT_CF_IO 0x0100u	  /* a medium access command (stats) */
/* ALUA (tgt_alua.c): the asymmetric access states, besides the two
 * active ones, in which the command runs (SPC-4 5.15.2.4 - 5.15.2.6);
 * elsewhere it gets NOT READY with the state's ASC. */
#define TGT_CF_ALUA_SB 0x1000u	  /* standby */
#define TGT_CF_ALUA_UN 0x2000u	  /* unavailable */
#define TGT_CF_ALUA_TR 0x4000u	  /* transitioning */
#define TGT_CF_NEEDS_ALUA 0x8000u /* only with target port groups */
#define TGT_CF_NO_MEDIUM_OK 0x0200u /* runs with no medium loaded */
#define TGT_CF_SANITIZE_OK 0x0400u /* runs while a sanitize is running */
#define TGT_CF_MMC_ONLY 0x0800u	  /* only on a CD-ROM LU (tgt_mmc.c) */
#define TGT_CF_NEEDS_ATOMIC 0x10000u /* only where the bdev writes atomically */

typedef void (*tgt_handler)(struct tgt_cmd *c);

struct tgt_cmd_desc {
	uint8_t opcode;
	uint8_t sa;		/* when TGT_CF_SA */
	uint8_t cdb_len;
	uint8_t dir;		/* enum tgt_dir, data direction of the CDB */
	uint32_t flags;		/* TGT_CF_* */
	uint16_t timeout_s;	/* nominal timeout for RSOC RCTD */
	/* Valid bits of each CDB byte; byte 0 is unused (the opcode); the
	 * service action bits of TGT_CF_SA rows are included. */
	uint8_t mask[16];
	tgt_handler handler;
	const char *name;
};

extern const struct tgt_cmd_desc tgt_cmd_table[];
extern const unsigned tgt_cmd_table_len;

/* The row for opcode (and service action where the opcode has them);
 * NULL if not implemented.  *has_sa tells whether opcode uses SAs. */
const struct tgt_cmd_desc *tgt_table_lookup(uint8_t opcode, uint8_t sa,
					    bool *has_sa);
/* True if some row of opcode is usable on lun. */
bool tgt_opcode_supported(uint8_t opcode, const struct tgt_lun *lun);
/* True if the row is usable on lun (e.g. UNMAP needs discard). */
bool tgt_desc_supported(const struct tgt_cmd_desc *d,
			const struct tgt_lun *lun);

/* ---- One command in the engine. ---- */

/* A sub-I/O: one bdev_io with its own slice of the task's iov. */
#define TGT_SUB_INLINE_IOV 4
struct tgt_sub {
	struct bdev_io io;
	struct tgt_cmd *c;
	struct iovec *iov;
	struct iovec iov_inline[TGT_SUB_INLINE_IOV];
	int iovcnt;
	uint64_t dpos;		/* position in the data buffer, bytes */
	bool busy;
};

/* Sub-I/Os in flight at once for one command. */
#define TGT_MAX_PAR 8

typedef void (*tgt_io_done_fn)(struct tgt_cmd *c, int err);

struct tgt_cmd {
	struct tgt_task *task;
	struct tgt_nexus *n;
	struct tgt_lun *lun;	/* held while the command runs; NULL if
				 * the LUN is not mapped */
	uint32_t lun_id;
	const struct tgt_cmd_desc *d;
	bool in_submit;		/* completing now must defer */
	bool done;		/* tgt_cmd_complete ran */
	bool descriptor_sense;
	bool abort_req;		/* tgt_task_abort asked; stop at a safe point */

	/* Decoded CDB fields the SBC handlers use. */
	uint64_t lba;
	uint32_t nlb;
	bool fua;

	/* Data accounting: implied = bytes the CDB asks to move, moved =
	 * bytes actually moved (both set by the handler). */
	uint64_t implied;
	uint64_t moved;

	/* The I/O engine (tgt_io.c). */
	enum bdev_io_type io_type;
	uint32_t io_flags;
	uint64_t io_off;	/* bdev byte offset of the whole transfer */
	uint64_t io_len;	/* bytes to do */
	uint64_t io_next;	/* bytes issued so far */
	uint64_t io_doneb;	/* bytes completed */
	uint64_t io_miscompare;	/* COMPARE_WRITE -EILSEQ: bdev's miscompare */
	const struct iovec *io_iov; /* data buffer; NULL for no data */
	int io_iovcnt;
	uint32_t io_chunk;	/* bytes per sub-I/O */
	unsigned io_inflight;
	int io_err;
	tgt_io_done_fn io_done;
	struct tgt_sub sub0;	/* the common single-chunk case */
	struct tgt_sub *subs;	/* TGT_MAX_PAR of them when split */
	struct iovec tail_iov[2];	/* read tail bounce */

	/* Scratch for handlers (bounce buffers, parameter lists). */
	uint8_t *buf;
	size_t buflen;
	struct iovec *xiov;	/* an iovec array built for this command */
	uint64_t pos;		/* handler progress (WRITE SAME, VERIFY) */
	uint64_t end;
	int step;
	struct tgt_caw caw;
	bool caw_held;
	struct iovec biov;	/* one-element iov over buf */
};

/* Commands alive in the engine (allocated, not yet freed), for tests'
 * leak checks. */
extern _Atomic long tgt_cmds_live;

/* ---- Core services for handlers (tgt_core.c). ---- */

/* Finish c: status/sense as set, residual from implied/moved.  Safe to call
 * from inside tgt_task_submit (defers to the loop). */
void tgt_cmd_complete(struct tgt_cmd *c);
void tgt_cmd_good(struct tgt_cmd *c);
/* CHECK CONDITION with key/asc. */
void tgt_cmd_check(struct tgt_cmd *c, uint8_t key, uint16_t asc);
/* CHECK CONDITION with an INFORMATION field. */
void tgt_cmd_check_info(struct tgt_cmd *c, uint8_t key, uint16_t asc,
			uint64_t info);
/* INVALID FIELD IN CDB pointing at byte/bit (bit < 0: the whole byte). */
void tgt_cmd_bad_cdb(struct tgt_cmd *c, unsigned byte, int bit);
/* INVALID FIELD IN PARAMETER LIST pointing at byte/bit. */
void tgt_cmd_bad_param(struct tgt_cmd *c, unsigned byte, int bit);
void tgt_cmd_status(struct tgt_cmd *c, uint8_t status);
/* LBA OUT OF RANGE with INFORMATION = lba. */
void tgt_cmd_lba_oor(struct tgt_cmd *c);
/* Map a backend errno to sense (medium error, space allocation...). */
void tgt_cmd_errno(struct tgt_cmd *c, int err, bool write);

/* Copy len bytes of response data into the task's buffer, limited by the
 * allocation length alloc; sets implied/moved. */
void tgt_cmd_data_in(struct tgt_cmd *c, const void *data, size_t len,
		     uint32_t alloc);
/* Copy up to len bytes of the data-out buffer into dst; returns bytes. */
size_t tgt_cmd_data_out(struct tgt_cmd *c, void *dst, size_t len);
/* Compare len bytes at data-out offset off with src; returns the offset of
 * the first difference relative to off, or -1 if equal. */
int64_t tgt_cmd_data_cmp(struct tgt_cmd *c, uint64_t off, const void *src,
			 size_t len);

/* Set a UA on every nexus that sees lun, except except (may be NULL). */
void tgt_lun_ua_all(struct tgt_lun *lun, enum tgt_ua ua,
		    struct tgt_nexus *except);
/* Nexus references (tasks in flight keep their nexus). */
struct tgt_nexus *tgt_nexus_hold(struct tgt_nexus *n);
void tgt_nexus_put(struct tgt_nexus *n);
/* Set/clear a UA for one nexus on one LUN number. */
void tgt_nexus_ua_set(struct tgt_nexus *n, uint32_t lun_id, enum tgt_ua ua);
/* Take the highest-priority pending UA of n on lun_id into *asc; false if
 * none.  Clears it (and LUNS_CHANGED on every LUN when that one). */
bool tgt_nexus_ua_take(struct tgt_nexus *n, uint32_t lun_id, uint16_t *asc);
/* Set ua on the nexuses whose initiator port is initiator and whose
 * target port is rtpi (0: any port), on every LUN number lun is mapped
 * at. */
void tgt_lun_ua_initiator(struct tgt_lun *lun, enum tgt_ua ua,
			  const char *initiator, uint16_t rtpi);
/* Release the SPC-2 reservation and clear PR holders for a nexus going
 * away (under lun->lock). */
void tgt_lun_nexus_gone(struct tgt_lun *lun, struct tgt_nexus *n);

/* Blocks on the LUN now, and the write-protect state. */
static inline uint64_t tgt_lun_nblocks(const struct tgt_lun *lun)
{
	return atomic_load_explicit(&lun->nblocks, memory_order_relaxed);
}
bool tgt_lun_write_protected(const struct tgt_lun *lun);

/* ---- I/O engine (tgt_io.c). ---- */

/*
 * Run a block transfer of len bytes at bdev offset off, moving data through
 * iov (NULL for FLUSH/DISCARD/WRITE_ZEROES), split into sub-I/Os of at most
 * the bdev's max transfer with up to TGT_MAX_PAR in flight.  done runs
 * exactly once, from a bdev completion (never inside this call), with 0
 * or the first -errno.  Returns 0, or -errno (done never runs) when not
 * even the first sub-I/O could start.
 */
int tgt_io_start(struct tgt_cmd *c, enum bdev_io_type type, uint32_t flags,
		 uint64_t off, uint64_t len, const struct iovec *iov,
		 int iovcnt, tgt_io_done_fn done);
/* Build in out (max entries) the slice [off, off+len) of iov; returns the
 * count or -1 when more than max entries would be needed. */
int tgt_iov_slice(const struct iovec *iov, int iovcnt, uint64_t off,
		  uint64_t len, struct iovec *out, int max);
void tgt_io_cleanup(struct tgt_cmd *c);

/* ---- Handlers. ---- */
/* tgt_spc.c */
void tgt_h_tur(struct tgt_cmd *c);
void tgt_h_inquiry(struct tgt_cmd *c);
void tgt_h_report_luns(struct tgt_cmd *c);
void tgt_h_request_sense(struct tgt_cmd *c);
void tgt_h_reserve(struct tgt_cmd *c);
void tgt_h_release(struct tgt_cmd *c);
void tgt_h_start_stop(struct tgt_cmd *c);
void tgt_h_prevent_allow(struct tgt_cmd *c);
void tgt_h_rsoc(struct tgt_cmd *c);
void tgt_h_rstmf(struct tgt_cmd *c);
/* tgt_mode.c */
void tgt_h_mode_sense(struct tgt_cmd *c);
void tgt_h_mode_select(struct tgt_cmd *c);
/* Current mode values := defaults (lun->lock held or LUN not shared). */
void tgt_mode_defaults(struct tgt_lun *lun);
/* tgt_sbc.c */
void tgt_h_read_capacity10(struct tgt_cmd *c);
void tgt_h_read_capacity16(struct tgt_cmd *c);
void tgt_h_read(struct tgt_cmd *c);
void tgt_h_write(struct tgt_cmd *c);
void tgt_h_verify(struct tgt_cmd *c);
void tgt_h_write_verify(struct tgt_cmd *c);
void tgt_h_sync_cache(struct tgt_cmd *c);
void tgt_h_prefetch(struct tgt_cmd *c);
void tgt_h_write_same(struct tgt_cmd *c);
void tgt_h_unmap(struct tgt_cmd *c);
void tgt_h_get_lba_status(struct tgt_cmd *c);
void tgt_h_compare_and_write(struct tgt_cmd *c);
void tgt_caw_release(struct tgt_cmd *c);
/* Hold [lba, lba+nlb) of c->lun against the other holders (COMPARE AND
 * WRITE, ORWRITE, WRITE ATOMIC), then run start(c): now, or from the
 * task's loop once overlapping holders are done.  Released at completion
 * (tgt_caw_release). */
void tgt_range_lock(struct tgt_cmd *c, uint64_t lba, uint32_t nlb,
		    void (*start)(struct tgt_cmd *c));
/* Shared with tgt_atomic.c: LBA OUT OF RANGE answered (true) when
 * [lba, lba+nlb) is not inside the LUN; the bdev flags of a write (FUA
 * when asked or WCE is 0); an I/O error answered (true) or 0 (false). */
bool tgt_sbc_range_bad(struct tgt_cmd *c, uint64_t lba, uint64_t nlb);
uint32_t tgt_sbc_write_flags(struct tgt_cmd *c, bool fua);
bool tgt_sbc_io_failed(struct tgt_cmd *c, int err, bool write);
/* For a WRITE-like command with c->lba/nlb decoded: sets implied and
 * c->end (the whole blocks sent, bytes); false when already answered
 * (LBA OUT OF RANGE, or GOOD for nothing to write). */
bool tgt_sbc_write_extent(struct tgt_cmd *c);
/* The end of a write of c->end bytes: GOOD or the error's sense. */
void tgt_sbc_write_done(struct tgt_cmd *c, int err);
/* MAXIMUM TRANSFER LENGTH of Block Limits for c's LUN through c's target,
 * in blocks: what the front end accepts, else the bdev's max transfer. */
uint32_t tgt_max_xfer_blocks(const struct tgt_cmd *c);
/* tgt_atomic.c */
void tgt_h_write_atomic(struct tgt_cmd *c);
void tgt_h_orwrite(struct tgt_cmd *c);
/* Block Limits atomic fields of lun: the longest atomic write in blocks
 * (0: none) and its alignment / granularity in blocks. */
uint32_t tgt_atomic_max_blocks(const struct tgt_lun *lun);
uint32_t tgt_atomic_align(const struct tgt_lun *lun);
/* The MAXIMUM ATOMIC TRANSFER LENGTH reported and enforced through c's
 * target (tgt_atomic_max_blocks capped by tgt_max_xfer_blocks). */
uint32_t tgt_atomic_limit(const struct tgt_cmd *c);
/* tgt_pr.c */
void tgt_h_pr_in(struct tgt_cmd *c);
void tgt_h_pr_out(struct tgt_cmd *c);
/* PR access check for c (lun->lock held): true when c conflicts. */
bool tgt_pr_conflict(struct tgt_cmd *c);
/* tgt_alua.c */
void tgt_h_rtpg(struct tgt_cmd *c);
void tgt_h_stpg(struct tgt_cmd *c);
/* True when target port groups are defined (TPGS reported). */
bool tgt_alua_enabled(void);
/* The ALUA access check for c: true when it answered c (the state of the
 * nexus's target port refuses the command). */
bool tgt_alua_refuse(struct tgt_cmd *c);
/* The target port group of relative port rtpi; 0 when in none. */
uint16_t tgt_alua_port_group(uint16_t rtpi);
/* The identity set for disk by tgt_lun_identity_set: false if none. */
bool tgt_lun_identity_get(const char *disk, char *serial, size_t cap,
			  uint64_t *naa_hi, uint64_t *naa_lo);
/* tgt_obj.c: ua on every nexus of every target, on every mapped LUN,
 * except except (may be NULL). */
void tgt_ua_everyone(enum tgt_ua ua, struct tgt_nexus *except);
/* tgt_obj.c: up to max mapped LUNs whose NAA id is naa, held. */
unsigned tgt_luns_by_naa(uint64_t naa, struct tgt_lun **out, unsigned max);
/* The same for every LUN (by_naa false) or those with NAA id naa. */
unsigned tgt_luns_collect(bool by_naa, uint64_t naa, struct tgt_lun **out,
			  unsigned max);
/* tgt_core.c: the effects of a reset on lun (SPC-2 reservation, mode
 * pages, ua on every nexus), here only. */
void tgt_lun_reset(struct tgt_lun *lun, enum tgt_ua ua);
/* tgt_alua.c: the shared-state ops in use and their argument. */
const struct tgt_ha_ops *tgt_ha_ops_get(void **arg);
/* tgt_pr_store.c (lun->lock held): reload lun's reservation state from
 * the shared store (0, also when nothing is stored; -errno when the store
 * did not answer, and lun keeps its state); an encoded copy of it (free
 * it; NULL if no memory); publish the state, or on failure put the
 * snapshot back (0 or -errno: -EAGAIN when another daemon changed it). */
int tgt_pr_store_load(struct tgt_lun *lun);
/* The same without lun->lock held (it is taken only to apply a newer
 * state than lun has): for refreshes outside PR commands. */
int tgt_pr_store_refresh(struct tgt_lun *lun);
void *tgt_pr_store_snapshot(struct tgt_lun *lun, size_t *len);
int tgt_pr_store_publish(struct tgt_lun *lun, void *snap, size_t snap_len);
/* tgt_alua.c: tell the other daemons that lun was reset. */
void tgt_ha_notify_reset(struct tgt_lun *lun, bool power_on);

/* tgt_xcopy.c */
void tgt_h_xcopy(struct tgt_cmd *c);
void tgt_h_rcr(struct tgt_cmd *c);
/* VPD page 8Fh of lun into p (from its header on); returns its length. */
size_t tgt_xcopy_vpd(const struct tgt_lun *lun, uint8_t *p);
/* Drop the held copy results (LUN destruction). */
void tgt_xcopy_lun_free(struct tgt_lun *lun);
/* Drop the finished copy results of nexus nexus_id (lun->lock held); those
 * of copies still running go once they finish and are evicted. */
void tgt_xcopy_nexus_gone(struct tgt_lun *lun, uint64_t nexus_id);
/* How many copy results lun holds for nexus nexus_id (tests). */
unsigned tgt_xcopy_held(struct tgt_lun *lun, uint64_t nexus_id);
/* tgt_obj.c: the 16-byte NAA designator of VPD page 83h. */
void tgt_lun_naa_designator(const struct tgt_lun *lun, uint8_t out[16]);
/* The LUN whose NAA designator is desig, if the initiator of n has an I_T
 * nexus to a target that maps it; held (tgt_lun_release), or NULL. */
struct tgt_lun *tgt_lun_find_naa(struct tgt_nexus *n, const uint8_t *desig);

/* ---- Limits the engine advertises (VPD B0) and enforces. ---- */
#define TGT_MAX_UNMAP_LBA_COUNT 0x100000u	/* blocks per UNMAP */
#define TGT_MAX_UNMAP_DESC 256u			/* descriptors per UNMAP */
#define TGT_MAX_WS_LEN 0x400000u		/* blocks per WRITE SAME */
#define TGT_MAX_CAW_LEN 255u			/* blocks per C&W */
/* Blocks per COMPARE AND WRITE on this LU: TGT_MAX_CAW_LEN, or less where
 * the bdev compares and writes itself and takes less (tgt_sbc.c). */
uint32_t tgt_caw_limit(const struct tgt_lun *lun);
#define TGT_WS_CHUNK (1024u * 1024u)		/* WRITE SAME pattern buf */
#define TGT_VERIFY_CHUNK (1024u * 1024u)	/* VERIFY compare buf */
#define TGT_DEFAULT_CHUNK (1024u * 1024u)	/* bdev with max_xfer 0 */
/* EXTENDED COPY (RECEIVE COPY RESULTS OPERATING PARAMETERS). */
#define TGT_XCOPY_MAX_CSCD 16u			/* CSCD descriptors */
#define TGT_XCOPY_MAX_SEGS 64u			/* segment descriptors */
#define TGT_XCOPY_MAX_DESC_LIST 4096u		/* both lists, bytes */
#define TGT_XCOPY_MAX_SEG_BYTES (64u << 20)	/* one segment, bytes */
#define TGT_XCOPY_CHUNK (1024u * 1024u)		/* read/write unit */
#define TGT_XCOPY_MAX_RUNNING 16u		/* copies at once, daemon */
#define TGT_XCOPY_MAX_HELD 32u			/* results kept per LUN */

#endif
