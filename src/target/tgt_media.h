/*
 * The medium of a logical unit, as the target engine sees it: whether it
 * is removable (and a CD-ROM), whether a medium is loaded, who prevents
 * its removal, and the sanitize state.  Shared by
 *
 *   tgt_medium.c    removable medium: START STOP UNIT with LOEJ, PREVENT
 *                   ALLOW MEDIUM REMOVAL, eject / load from the daemon,
 *                   the per-command medium gate (NOT READY answers);
 *   tgt_sanitize.c  SANITIZE and its background operation;
 *   tgt_defect.c    READ DEFECT DATA(10/12);
 *   tgt_mmc.c       the CD-ROM (MMC) commands.
 *
 * Included by tgt_int.h; a LUN embeds one struct tgt_media.
 */
#ifndef SK_TGT_MEDIA_H
#define SK_TGT_MEDIA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bdev;
struct tgt_cmd;
struct tgt_lun;
struct tgt_nexus;
struct scsi_sense;
struct tgt_sanitize_op;

/* Where the medium is (lun->media.tray). */
enum tgt_tray {
	TGT_TRAY_LOADED = 0,	/* medium present and ready */
	TGT_TRAY_OPEN = 1,	/* ejected: MEDIUM NOT PRESENT - TRAY OPEN */
	TGT_TRAY_EMPTY = 2,	/* closed with nothing in it: - TRAY CLOSED */
};

/* Sanitize state (lun->media.san_state). */
enum tgt_san_state {
	TGT_SAN_IDLE = 0,
	TGT_SAN_RUNNING = 1,	/* NOT READY, SANITIZE IN PROGRESS */
	TGT_SAN_FAILED = 2,	/* MEDIUM ERROR, SANITIZE COMMAND FAILED */
};

/* I_T nexuses that may hold a medium removal prevention at once. */
#define TGT_MAX_PREVENT 64

struct tgt_media {
	/* Fixed at LUN creation. */
	bool removable;		/* INQUIRY RMB = 1 */
	bool cdrom;		/* peripheral device type 05h (MMC) */

	/* Read by every command without the lock, written under it. */
	atomic_int tray;		/* enum tgt_tray */
	atomic_int san_state;		/* enum tgt_san_state */
	atomic_uint san_progress;	/* 0..65535 of the running one */

	/* Under lun->lock. */
	uint64_t prevent[TGT_MAX_PREVENT];	/* nexus ids (SPC-4 6.13) */
	unsigned nprevent;
	bool san_ause;		/* AUSE of the sanitize that failed */
	struct tgt_sanitize_op *san_op;	/* the running one, or NULL */
	uint32_t event_gen;	/* media events for GET EVENT STATUS */
	uint32_t event_seen;
	uint8_t event_code;	/* the last media event (MMC 6.7) */
};

/* Set up lun->media for lun's bdev (called by tgt_lun_create). */
void tgt_media_init(struct tgt_lun *lun);

/*
 * The medium gate, run by dispatch for every command after the
 * reservation checks: true when c was answered (NOT READY while sanitizing
 * or without a medium, MEDIUM ERROR in sanitize failure mode).
 */
bool tgt_media_gate(struct tgt_cmd *c);

/* Sense REQUEST SENSE reports for the medium state when no unit attention
 * is pending; false when there is nothing to report. */
bool tgt_media_sense(struct tgt_cmd *c, struct scsi_sense *s);

/* An I_T nexus went away or the LU was reset: removal prevention by that
 * nexus (n == NULL: by every nexus) ends (lun->lock held). */
void tgt_media_prevent_clear(struct tgt_lun *lun, const struct tgt_nexus *n);

/* tgt_task_abort of a running SANITIZE: the command completes now, the
 * sanitize operation goes on (SBC-4 4.11). */
void tgt_sanitize_abort(struct tgt_cmd *c);

/* CHECK CONDITION with the sense s (tgt_core.c). */
void tgt_cmd_check_sense(struct tgt_cmd *c, const struct scsi_sense *s);

/* Up to max LUNs of any target that sit on bd, held (tgt_obj.c); returns
 * how many there are in all (with out NULL: just count). */
unsigned tgt_luns_of_bdev(struct bdev *bd, struct tgt_lun **out,
			  unsigned max);

/* tgt_mmc.c: whether row d is in the command set of lun (a CD-ROM LU
 * takes the MMC rows and the SPC/SBC ones MMC has; the others never take
 * the MMC rows), and the capabilities mode page 2Ah into p (len bytes,
 * header already there). */
struct tgt_cmd_desc;
bool tgt_mmc_row_ok(const struct tgt_cmd_desc *d, const struct tgt_lun *lun);
void tgt_mmc_caps_page(const struct tgt_lun *lun, bool changeable,
		       uint8_t *p, size_t len);

/* Handlers. */
void tgt_h_read_toc(struct tgt_cmd *c);
void tgt_h_get_configuration(struct tgt_cmd *c);
void tgt_h_read_disc_info(struct tgt_cmd *c);
void tgt_h_read_track_info(struct tgt_cmd *c);
void tgt_h_get_event_status(struct tgt_cmd *c);
void tgt_h_mechanism_status(struct tgt_cmd *c);
void tgt_h_sanitize(struct tgt_cmd *c);
void tgt_h_read_defect(struct tgt_cmd *c);
void tgt_medium_start_stop(struct tgt_cmd *c);
void tgt_medium_prevent_allow(struct tgt_cmd *c);

#endif
