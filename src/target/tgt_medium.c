/*
 * Removable medium (SPC-4 / SBC-3 with RMB = 1, and MMC's CD-ROM): the
 * medium gate every command passes, START STOP UNIT with LOEJ, PREVENT
 * ALLOW MEDIUM REMOVAL, and the daemon's own eject / load.
 *
 * Two things can take the medium away.  An initiator's START STOP UNIT
 * with LOEJ opens the tray: the medium stays in the drive (the bdev is
 * untouched) and the LU answers MEDIUM NOT PRESENT - TRAY OPEN until a
 * load closes it again.  The operator's `disk eject` (tgt_medium_eject)
 * opens the tray of every LUN on the drive the same way, and `disk load`
 * (tgt_medium_load) closes it, first putting another medium in the drive
 * bdev when given one (src/bdev/medium.c).  A load that brings a medium back gives
 * NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED to every I_T nexus
 * but the one that asked for it.
 *
 * Removal prevention is per I_T nexus (SPC-4 6.13): the medium can be
 * removed only when no nexus prevents it; an I_T nexus loss ends that
 * nexus's prevention, a LU or target reset ends all of them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt_int.h"

#define ASC_SANITIZE_IN_PROGRESS SCSI_ASC(0x04, 0x1b)
#define ASC_SANITIZE_FAILED SCSI_ASC(0x31, 0x03)
#define ASC_NO_MEDIUM_TRAY_CLOSED SCSI_ASC(0x3a, 0x01)
#define ASC_NO_MEDIUM_TRAY_OPEN SCSI_ASC(0x3a, 0x02)
#define ASC_INSUFFICIENT_RESOURCES SCSI_ASC(0x55, 0x03)

/* MMC-6 table 139: media event codes for GET EVENT STATUS NOTIFICATION. */
#define MEDIA_EV_NEW_MEDIA 2
#define MEDIA_EV_REMOVAL 3

void tgt_media_init(struct tgt_lun *lun)
{
	enum bdev_medium_kind kind = bdev_medium_kind(lun->bd);

	lun->media.removable = kind != BDEV_MEDIUM_FIXED;
	lun->media.cdrom = kind == BDEV_MEDIUM_OPTICAL;
	atomic_init(&lun->media.tray, bdev_medium_present(lun->bd, NULL) ?
					      TGT_TRAY_LOADED :
					      TGT_TRAY_EMPTY);
	atomic_init(&lun->media.san_state, TGT_SAN_IDLE);
	atomic_init(&lun->media.san_progress, 0);
}

/* The NOT READY / MEDIUM ERROR sense of the medium state, if any. */
static bool media_state_sense(struct tgt_lun *lun, const struct tgt_cmd_desc *d,
			      struct scsi_sense *s)
{
	int san = atomic_load(&lun->media.san_state);
	int tray = atomic_load(&lun->media.tray);
	uint32_t flags = d != NULL ? d->flags : 0;

	memset(s, 0, sizeof(*s));
	s->current = true;
	if (san == TGT_SAN_RUNNING && !(flags & TGT_CF_SANITIZE_OK)) {
		/* SBC-4 4.11.5: with the progress of the operation. */
		s->key = SCSI_SK_NOT_READY;
		s->asc_ascq = ASC_SANITIZE_IN_PROGRESS;
		scsi_sense_progress(s, (uint16_t)atomic_load(
					       &lun->media.san_progress));
		return true;
	}
	if (flags & TGT_CF_NO_MEDIUM_OK)
		return false;
	if (lun->media.removable && tray != TGT_TRAY_LOADED) {
		s->key = SCSI_SK_NOT_READY;
		s->asc_ascq = tray == TGT_TRAY_OPEN ? ASC_NO_MEDIUM_TRAY_OPEN :
						      ASC_NO_MEDIUM_TRAY_CLOSED;
		return true;
	}
	/* SBC-4 4.11.4: after a failed sanitize, only SANITIZE may touch
	 * the medium. */
	if (san == TGT_SAN_FAILED &&
	    (d == NULL || d->opcode != SCSI_SANITIZE)) {
		s->key = SCSI_SK_MEDIUM_ERROR;
		s->asc_ascq = ASC_SANITIZE_FAILED;
		return true;
	}
	return false;
}

bool tgt_media_gate(struct tgt_cmd *c)
{
	struct scsi_sense s;

	if (!media_state_sense(c->lun, c->d, &s))
		return false;
	tgt_cmd_check_sense(c, &s);
	return true;
}

bool tgt_media_sense(struct tgt_cmd *c, struct scsi_sense *s)
{
	/* What a medium access command would get now (d == NULL). */
	return media_state_sense(c->lun, NULL, s);
}

void tgt_media_prevent_clear(struct tgt_lun *lun, const struct tgt_nexus *n)
{
	unsigned i;

	if (n == NULL) {
		lun->media.nprevent = 0;
		return;
	}
	for (i = 0; i < lun->media.nprevent; i++) {
		if (lun->media.prevent[i] == n->id) {
			lun->media.prevent[i] =
				lun->media.prevent[--lun->media.nprevent];
			return;
		}
	}
}

/* A media event for GET EVENT STATUS NOTIFICATION (lun->lock held). */
static void media_event(struct tgt_lun *lun, uint8_t code)
{
	lun->media.event_code = code;
	lun->media.event_gen++;
}

/* The tray closes on whatever the drive holds (lun->lock held).  Returns
 * true when a medium is now ready. */
static bool tray_close(struct tgt_lun *lun)
{
	uint64_t size = bdev_geometry(lun->bd)->size;

	if (!bdev_medium_present(lun->bd, NULL)) {
		atomic_store(&lun->media.tray, TGT_TRAY_EMPTY);
		return false;
	}
	atomic_store(&lun->nblocks, size >> lun->lbshift);
	atomic_store(&lun->media.tray, TGT_TRAY_LOADED);
	media_event(lun, MEDIA_EV_NEW_MEDIA);
	return true;
}

static void eject_flush_done(struct tgt_cmd *c, int err)
{
	/* The tray is open whatever the flush said: report its error. */
	if (err != 0 && err != -ENOTSUP && err != -ENOMEDIUM) {
		tgt_cmd_errno(c, err, true);
		return;
	}
	tgt_cmd_good(c);
}

void tgt_medium_start_stop(struct tgt_cmd *c)
{
	struct tgt_lun *lun = c->lun;
	const uint8_t *cdb = c->task->cdb;
	bool start = cdb[4] & 0x01, loej = cdb[4] & 0x02;
	bool loaded, was_loaded;
	int rc;

	if (!loej) {
		/* START / STOP alone: a virtual drive is always spinning;
		 * nothing to do, with or without a medium. */
		tgt_cmd_good(c);
		return;
	}
	pthread_mutex_lock(&lun->lock);
	if (lun->media.nprevent > 0) {
		/* SBC-3 5.25: LOEJ is refused while removal is prevented
		 * (loading too: the tray cannot move). */
		pthread_mutex_unlock(&lun->lock);
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_MEDIUM_REMOVAL_PREVENTED);
		return;
	}
	was_loaded = atomic_load(&lun->media.tray) == TGT_TRAY_LOADED;
	if (start) {
		loaded = was_loaded || tray_close(lun);
		pthread_mutex_unlock(&lun->lock);
		/* The loader knows; every other nexus hears of it. */
		if (loaded && !was_loaded)
			tgt_lun_ua_all(lun, TGT_UA_MEDIUM_CHANGED, c->n);
		tgt_cmd_good(c);
		return;
	}
	atomic_store(&lun->media.tray, TGT_TRAY_OPEN);
	if (was_loaded)
		media_event(lun, MEDIA_EV_REMOVAL);
	pthread_mutex_unlock(&lun->lock);
	/* What was written must be on the medium before it leaves. */
	if (!was_loaded || (cdb[4] & 0x04)) {
		tgt_cmd_good(c);
		return;
	}
	rc = tgt_io_start(c, BDEV_IO_FLUSH, 0, 0, 0, NULL, 0,
			  eject_flush_done);
	if (rc < 0)
		eject_flush_done(c, rc);
}

void tgt_medium_prevent_allow(struct tgt_cmd *c)
{
	struct tgt_lun *lun = c->lun;
	uint8_t prevent = c->task->cdb[4] & 0x03;
	uint64_t id = c->n->id;
	unsigned i;

	/* 10b/11b (persistent prevention) are obsolete in SBC-3 and MMC
	 * devices do not need them. */
	if (prevent > 1) {
		tgt_cmd_bad_cdb(c, 4, 1);
		return;
	}
	pthread_mutex_lock(&lun->lock);
	for (i = 0; i < lun->media.nprevent; i++)
		if (lun->media.prevent[i] == id)
			break;
	if (prevent && i == lun->media.nprevent) {
		if (lun->media.nprevent == TGT_MAX_PREVENT) {
			pthread_mutex_unlock(&lun->lock);
			tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
				      ASC_INSUFFICIENT_RESOURCES);
			return;
		}
		lun->media.prevent[lun->media.nprevent++] = id;
	} else if (!prevent && i < lun->media.nprevent) {
		lun->media.prevent[i] =
			lun->media.prevent[--lun->media.nprevent];
	}
	pthread_mutex_unlock(&lun->lock);
	tgt_cmd_good(c);
}

/* ---- The daemon's eject and load (include/scsikit/target.h) ---- */

/* The LUNs on bd, held, in a malloc'ed array; NULL (and *n = 0) if none. */
static struct tgt_lun **luns_on(struct bdev *bd, unsigned *n)
{
	struct tgt_lun **v = NULL;

	*n = tgt_luns_of_bdev(bd, NULL, 0);
	if (*n == 0)
		return NULL;
	v = calloc(*n, sizeof(*v));
	if (v == NULL) {
		*n = 0;
		return NULL;
	}
	*n = tgt_luns_of_bdev(bd, v, *n);
	return v;
}

static void luns_put(struct tgt_lun **v, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		tgt_lun_release(v[i]);
	free(v);
}

/*
 * Lock every LUN on bd (always in the order of v[], so two operators
 * cannot deadlock) and refuse when any nexus prevents removal.
 */
static int drive_lock(struct bdev *bd, struct tgt_lun ***vp, unsigned *np)
{
	struct tgt_lun **v;
	unsigned i, n;
	int rc = 0;

	if (bdev_medium_kind(bd) == BDEV_MEDIUM_FIXED)
		return -EINVAL;
	v = luns_on(bd, &n);
	for (i = 0; i < n; i++)
		pthread_mutex_lock(&v[i]->lock);
	for (i = 0; i < n && rc == 0; i++)
		if (v[i]->media.nprevent > 0)
			rc = -EBUSY;
	*vp = v;
	*np = n;
	return rc;
}

static void drive_unlock(struct tgt_lun **v, unsigned n)
{
	unsigned i;

	for (i = n; i-- > 0;)
		pthread_mutex_unlock(&v[i]->lock);
}

int tgt_medium_eject(struct bdev *bd)
{
	struct tgt_lun **v = NULL;
	unsigned i, n = 0;
	int rc = drive_lock(bd, &v, &n);

	for (i = 0; i < n && rc == 0; i++) {
		if (atomic_exchange(&v[i]->media.tray, TGT_TRAY_OPEN) ==
		    TGT_TRAY_LOADED)
			media_event(v[i], MEDIA_EV_REMOVAL);
	}
	drive_unlock(v, n);
	luns_put(v, n);
	return rc;
}

int tgt_medium_load(struct bdev *bd, struct bdev *medium)
{
	struct tgt_lun **v = NULL;
	unsigned i, n = 0;
	int rc = drive_lock(bd, &v, &n);
	bool *ready = calloc(n + 1, sizeof(*ready));

	if (rc == 0 && medium != NULL)
		rc = bdev_medium_change(bd, medium);
	if (rc == 0 && medium == NULL && !bdev_medium_present(bd, NULL))
		rc = -ENOMEDIUM;
	for (i = 0; i < n && rc == 0; i++) {
		bool was = atomic_load(&v[i]->media.tray) == TGT_TRAY_LOADED;

		/* A new medium is a change even where the tray was closed. */
		bool now = tray_close(v[i]) && (medium != NULL || !was);

		if (ready != NULL)
			ready[i] = now;
	}
	drive_unlock(v, n);
	/* The operator changed it: every nexus may have missed it. */
	for (i = 0; i < n && rc == 0; i++)
		if (ready == NULL || ready[i])
			tgt_lun_ua_all(v[i], TGT_UA_MEDIUM_CHANGED, NULL);
	free(ready);
	luns_put(v, n);
	return rc;
}
