/*
 * The target engine's objects: LUNs (a bdev with its identity, mode pages
 * and reservations), targets (a LUN map), I_T nexuses, and the unit
 * attentions kept per nexus and LUN.  Configuration-time and nexus-event
 * code; the per-command path is in tgt_core.c.
 *
 * Lock order: a LUN's lock, then the global target list, then a target's
 * lock.  Nothing here is taken by READ/WRITE: the LUN map is read with an
 * atomic load, unit attentions are atomic bit sets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/log.h>

#include "target/tgt_int.h"
/* Every target, so that a LUN event (capacity, mode change) can reach every
 * nexus that sees the LUN.  Configuration-time only. */
static pthread_mutex_t tgt_global_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tgt_target *tgt_global_list;
static _Atomic uint64_t tgt_nexus_ids;

/* ------------------------------------------------------------------ */
/* LUNs                                                                */
/* ------------------------------------------------------------------ */

static void copy_ascii(char *dst, size_t cap, const char *src,
		       const char *def)
{
	size_t i, n = 0;

	if (src == NULL || src[0] == '\0')
		src = def;
	for (i = 0; src[i] != '\0' && n + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];

		/* SPC-4 4.3.1: only 0x20..0x7e in ASCII data fields. */
		dst[n++] = (ch >= 0x20 && ch <= 0x7e) ? (char)ch : '_';
	}
	dst[n] = '\0';
}

static uint64_t fnv1a64(const char *s, uint64_t h)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

static unsigned ilog2u(uint32_t v)
{
	unsigned r = 0;

	while (v > 1) {
		v >>= 1;
		r++;
	}
	return r;
}

/* A configured identity for this disk name (tgt_lun_identity_set). */
static void lun_identity_apply(struct tgt_lun *lun, const char *disk)
{
	char serial[65];
	uint64_t hi, lo;

	if (disk == NULL ||
	    !tgt_lun_identity_get(disk, serial, sizeof(serial), &hi, &lo))
		return;
	if (serial[0] != '\0')
		copy_ascii(lun->serial, sizeof(lun->serial), serial, "");
	lun->naa = hi;
	lun->naa_ext = lo;
}

struct tgt_lun *tgt_lun_create(struct bdev *bd, const struct tgt_lun_params *p)
{
	static const struct tgt_lun_params defaults;
	const struct bdev_geometry *geo;
	struct tgt_lun *lun;
	char rev[8];

	if (bd == NULL) {
		errno = EINVAL;
		return NULL;
	}
	geo = bdev_geometry(bd);
	if (geo->lbsize < 512 || (geo->lbsize & (geo->lbsize - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	lun = calloc(1, sizeof(*lun));
	if (lun == NULL)
		return NULL;
	if (p == NULL)
		p = &defaults;
	atomic_init(&lun->refs, 1);
	lun->bd = bdev_hold(bd);
	snprintf(rev, sizeof(rev), "%u.%u", SCSIKIT_VERSION_MAJOR,
		 SCSIKIT_VERSION_MINOR);
	copy_ascii(lun->vendor, sizeof(lun->vendor), p->vendor, "SCSIKIT");
	copy_ascii(lun->product, sizeof(lun->product), p->product, "VDISK");
	copy_ascii(lun->revision, sizeof(lun->revision), p->revision, rev);
	copy_ascii(lun->serial, sizeof(lun->serial), p->serial, bdev_name(bd));
	if (lun->serial[0] == '\0')
		snprintf(lun->serial, sizeof(lun->serial), "sk%016llx",
			 (unsigned long long)(uintptr_t)lun);
	if (p->serial == NULL && p->naa_id == 0)
		lun_identity_apply(lun, bdev_name(bd));
	if (lun->naa_ext == 0)
		lun->naa_ext = fnv1a64(lun->serial, 0xcbf29ce484222325ull);
	if (lun->naa != 0) {
		/* set by the disk's identity */
	} else if (p->naa_id != 0) {
		lun->naa = p->naa_id;
	} else {
		/* NAA 6 (IEEE registered extended) with a made-up company ID
		 * and the serial's hash: stable across restarts for the same
		 * serial, which is what initiators' multipath needs. */
		uint64_t h = fnv1a64(lun->serial, 0xcbf29ce484222325ull);

		lun->naa = (6ull << 60) | (0x5cc51cull << 36) |
			   (h & 0xfffffffffull);
	}
	lun->cfg_read_only = p->read_only || geo->read_only;
	lun->lbsize = geo->lbsize;
	lun->lbshift = (uint8_t)ilog2u(geo->lbsize);
	/* The disk spec's pbsize=N asks for it as much as the creator. */
	lun->pb_exp = (p->report_pbsize || geo->report_pbsize) &&
				      geo->pbsize > geo->lbsize ?
			      (uint8_t)ilog2u(geo->pbsize / geo->lbsize) : 0;
	lun->ws_to_end = geo->ws_to_end;
	atomic_init(&lun->nblocks, geo->size >> lun->lbshift);
	pthread_mutex_init(&lun->lock, NULL);
	lun->def_wce = p == &defaults ? geo->volatile_cache : p->write_cache;
	lun->def_d_sense = p->descriptor_sense;
	tgt_mode_defaults(lun);
	tgt_media_init(lun);
	return lun;
}

struct tgt_lun *tgt_lun_hold(struct tgt_lun *lun)
{
	atomic_fetch_add_explicit(&lun->refs, 1, memory_order_relaxed);
	return lun;
}

void tgt_lun_release(struct tgt_lun *lun)
{
	unsigned i;

	if (lun == NULL ||
	    atomic_fetch_sub_explicit(&lun->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (i = 0; i < lun->pr.nregs; i++)
		free(lun->pr.regs[i].initiator);
	tgt_xcopy_lun_free(lun);
	pthread_mutex_destroy(&lun->lock);
	bdev_release(lun->bd);
	free(lun);
}

struct bdev *tgt_lun_bdev(const struct tgt_lun *lun)
{
	return lun->bd;
}

bool tgt_lun_write_protected(const struct tgt_lun *lun)
{
	return lun->cfg_read_only ||
	       atomic_load_explicit(&lun->swp, memory_order_relaxed);
}

void tgt_lun_capacity_changed(struct tgt_lun *lun)
{
	uint64_t nb = bdev_geometry(lun->bd)->size >> lun->lbshift;
	uint64_t old = atomic_exchange(&lun->nblocks, nb);

	if (old != nb)
		tgt_lun_ua_all(lun, TGT_UA_CAPACITY_CHANGED, NULL);
}

void tgt_lun_get_stats(const struct tgt_lun *lun, struct tgt_lun_stats *st)
{
	st->cmds = atomic_load_explicit(&lun->st.cmds, memory_order_relaxed);
	st->read_cmds = atomic_load_explicit(&lun->st.read_cmds,
					     memory_order_relaxed);
	st->write_cmds = atomic_load_explicit(&lun->st.write_cmds,
					      memory_order_relaxed);
	st->read_bytes = atomic_load_explicit(&lun->st.read_bytes,
					      memory_order_relaxed);
	st->write_bytes = atomic_load_explicit(&lun->st.write_bytes,
					       memory_order_relaxed);
	st->errors = atomic_load_explicit(&lun->st.errors,
					  memory_order_relaxed);
	st->in_flight = atomic_load_explicit(&lun->st.in_flight,
					     memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* Targets                                                             */
/* ------------------------------------------------------------------ */

struct tgt_target *tgt_target_create(const char *name)
{
	struct tgt_target *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->name = strdup(name != NULL ? name : "");
	if (t->name == NULL) {
		free(t);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_lock(&tgt_global_lock);
	t->gnext = tgt_global_list;
	tgt_global_list = t;
	pthread_mutex_unlock(&tgt_global_lock);
	return t;
}

struct tgt_target *tgt_target_hold(struct tgt_target *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	return t;
}

void tgt_target_release(struct tgt_target *t)
{
	struct tgt_target **pp;
	unsigned i;

	if (t == NULL ||
	    atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_lock(&tgt_global_lock);
	for (pp = &tgt_global_list; *pp != NULL; pp = &(*pp)->gnext) {
		if (*pp == t) {
			*pp = t->gnext;
			break;
		}
	}
	pthread_mutex_unlock(&tgt_global_lock);
	for (i = 0; i < TGT_MAX_LUNS; i++)
		tgt_lun_release(atomic_load(&t->luns[i]));
	for (i = 0; i < t->nretired; i++)
		tgt_lun_release(t->retired[i]);
	free(t->retired);
	pthread_mutex_destroy(&t->lock);
	free(t->name);
	free(t);
}

void tgt_target_set_max_xfer(struct tgt_target *t, uint32_t bytes)
{
	uint32_t cur = atomic_load(&t->max_xfer);

	/* A target reached through several front ends reports what all of
	 * them accept: the smallest limit. */
	while (bytes != 0 && (cur == 0 || bytes < cur) &&
	       !atomic_compare_exchange_weak(&t->max_xfer, &cur, bytes))
		;
}

const char *tgt_target_name(const struct tgt_target *t)
{
	return t->name;
}

/* Under t->lock: every nexus gets REPORTED LUNS DATA HAS CHANGED on every
 * mapped LUN (SPC-4 leaves the choice of LUNs open; all of them is what
 * initiators rescan on). */
static void target_luns_changed_locked(struct tgt_target *t)
{
	struct tgt_nexus *n;
	unsigned i;

	for (n = t->nexuses; n != NULL; n = n->next)
		for (i = 0; i < TGT_MAX_LUNS; i++)
			if (atomic_load_explicit(&t->luns[i],
						 memory_order_relaxed) != NULL)
				tgt_nexus_ua_set(n, i, TGT_UA_LUNS_CHANGED);
}

int tgt_target_add_lun(struct tgt_target *t, uint32_t lun_id,
		       struct tgt_lun *lun)
{
	struct tgt_nexus *n;

	if (lun_id >= TGT_MAX_LUNS || lun == NULL)
		return -ERANGE;
	pthread_mutex_lock(&t->lock);
	if (atomic_load(&t->luns[lun_id]) != NULL) {
		pthread_mutex_unlock(&t->lock);
		return -EEXIST;
	}
	/* Whatever an earlier LUN at this number left pending is stale; for
	 * the nexuses the new LU is just powered on. */
	for (n = t->nexuses; n != NULL; n = n->next)
		atomic_store(&n->ua[lun_id], 1u << TGT_UA_POWER_ON);
	atomic_store(&t->luns[lun_id], tgt_lun_hold(lun));
	target_luns_changed_locked(t);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int tgt_target_remove_lun(struct tgt_target *t, uint32_t lun_id)
{
	struct tgt_lun *lun, **r;

	if (lun_id >= TGT_MAX_LUNS)
		return -ERANGE;
	pthread_mutex_lock(&t->lock);
	lun = atomic_load(&t->luns[lun_id]);
	if (lun == NULL) {
		pthread_mutex_unlock(&t->lock);
		return -ENOENT;
	}
	r = realloc(t->retired, (t->nretired + 1) * sizeof(*r));
	if (r == NULL) {
		pthread_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	t->retired = r;
	t->retired[t->nretired++] = lun;
	atomic_store(&t->luns[lun_id], NULL);
	target_luns_changed_locked(t);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

struct tgt_lun *tgt_target_lun(struct tgt_target *t, uint32_t lun_id)
{
	if (lun_id >= TGT_MAX_LUNS)
		return NULL;
	return atomic_load_explicit(&t->luns[lun_id], memory_order_acquire);
}

unsigned tgt_target_luns(struct tgt_target *t, uint32_t *ids, unsigned max)
{
	unsigned i, n = 0;

	for (i = 0; i < TGT_MAX_LUNS; i++) {
		if (atomic_load_explicit(&t->luns[i], memory_order_acquire) ==
		    NULL)
			continue;
		if (n < max && ids != NULL)
			ids[n] = i;
		n++;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Nexuses and unit attentions                                         */
/* ------------------------------------------------------------------ */

struct tgt_nexus *tgt_nexus_create(struct tgt_target *t,
				   const char *initiator_port)
{
	struct tgt_nexus *n = calloc(1, sizeof(*n));
	unsigned i;

	if (n == NULL)
		return NULL;
	n->initiator = strdup(initiator_port != NULL ? initiator_port : "");
	if (n->initiator == NULL) {
		free(n);
		return NULL;
	}
	atomic_init(&n->refs, 1);
	n->id = atomic_fetch_add(&tgt_nexus_ids, 1) + 1;
	n->rtpi = 1;
	for (i = 0; i < TGT_MAX_LUNS; i++)
		atomic_init(&n->ua[i], 1u << TGT_UA_POWER_ON);
	n->t = tgt_target_hold(t);
	pthread_mutex_lock(&t->lock);
	n->next = t->nexuses;
	t->nexuses = n;
	pthread_mutex_unlock(&t->lock);
	return n;
}

struct tgt_nexus *tgt_nexus_hold(struct tgt_nexus *n)
{
	atomic_fetch_add_explicit(&n->refs, 1, memory_order_relaxed);
	return n;
}

void tgt_nexus_put(struct tgt_nexus *n)
{
	if (atomic_fetch_sub_explicit(&n->refs, 1, memory_order_acq_rel) != 1)
		return;
	tgt_target_release(n->t);
	free(n->initiator);
	free(n);
}

void tgt_nexus_destroy(struct tgt_nexus *n)
{
	struct tgt_target *t;
	struct tgt_nexus **pp;
	struct tgt_lun *held[TGT_MAX_LUNS];
	unsigned i, nheld = 0;

	if (n == NULL)
		return;
	t = n->t;
	pthread_mutex_lock(&t->lock);
	for (pp = &t->nexuses; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			break;
		}
	}
	n->dead = true;
	for (i = 0; i < TGT_MAX_LUNS; i++) {
		struct tgt_lun *lun = atomic_load(&t->luns[i]);

		if (lun != NULL)
			held[nheld++] = tgt_lun_hold(lun);
	}
	pthread_mutex_unlock(&t->lock);
	/* LUN locks are taken outside the target lock (lock order: LUN, then
	 * global list, then target). */
	for (i = 0; i < nheld; i++) {
		tgt_lun_nexus_gone(held[i], n);
		tgt_lun_release(held[i]);
	}
	tgt_nexus_put(n);
}

const char *tgt_nexus_initiator(const struct tgt_nexus *n)
{
	return n->initiator;
}

void tgt_nexus_set_port(struct tgt_nexus *n, uint16_t rtpi)
{
	n->rtpi = rtpi != 0 ? rtpi : 1;
}

void tgt_nexus_ua_set(struct tgt_nexus *n, uint32_t lun_id, enum tgt_ua ua)
{
	if (lun_id < TGT_MAX_LUNS)
		atomic_fetch_or(&n->ua[lun_id], 1u << ua);
}

static const uint16_t tgt_ua_asc[TGT_UA_COUNT] = {
	[TGT_UA_POWER_ON] = SCSI_ASC_POWER_ON_RESET,
	[TGT_UA_BUS_DEVICE_RESET] = SCSI_ASC_BUS_DEVICE_RESET_OCCURRED,
	[TGT_UA_NEXUS_LOSS] = SCSI_ASC_I_T_NEXUS_LOSS_OCCURRED,
	[TGT_UA_RES_PREEMPTED] = SCSI_ASC_RESERVATIONS_PREEMPTED,
	[TGT_UA_RES_RELEASED] = SCSI_ASC_RESERVATIONS_RELEASED,
	[TGT_UA_REG_PREEMPTED] = SCSI_ASC_REGISTRATIONS_PREEMPTED,
	[TGT_UA_MODE_CHANGED] = SCSI_ASC_MODE_PARAMETERS_CHANGED,
	[TGT_UA_CAPACITY_CHANGED] = SCSI_ASC_CAPACITY_DATA_CHANGED,
	[TGT_UA_CMDS_CLEARED] = SCSI_ASC_COMMANDS_CLEARED_BY_ANOTHER_INITIATOR,
	[TGT_UA_LUNS_CHANGED] = SCSI_ASC_REPORTED_LUNS_DATA_CHANGED,
	[TGT_UA_ALUA_CHANGED] = SCSI_ASC(0x2a, 0x06), /* ASYMMETRIC ACCESS
							* STATE CHANGED */
	[TGT_UA_MEDIUM_CHANGED] = SCSI_ASC(0x28, 0x00), /* NOT READY TO READY
							  * CHANGE, MEDIUM
							  * MAY HAVE CHANGED */
};

bool tgt_nexus_ua_take(struct tgt_nexus *n, uint32_t lun_id, uint16_t *asc)
{
	uint32_t bits, bit;

	if (lun_id >= TGT_MAX_LUNS)
		return false;
	bits = atomic_load(&n->ua[lun_id]);
	do {
		if (bits == 0)
			return false;
		bit = bits & -bits;
	} while (!atomic_compare_exchange_weak(&n->ua[lun_id], &bits,
					       bits & ~bit));
	*asc = tgt_ua_asc[__builtin_ctz(bit)];
	return true;
}

/* Set ua on the nexuses that see lun (NULL: any mapped LUN), on each LUN
 * number it is mapped at, but not on except, and only for initiator (NULL:
 * any) through target port rtpi (0: any). */
static void ua_broadcast(const struct tgt_lun *lun, enum tgt_ua ua,
			 const struct tgt_nexus *except,
			 const char *initiator, uint16_t rtpi)
{
	struct tgt_target *t;
	struct tgt_nexus *n;
	unsigned i;

	pthread_mutex_lock(&tgt_global_lock);
	for (t = tgt_global_list; t != NULL; t = t->gnext) {
		pthread_mutex_lock(&t->lock);
		for (i = 0; i < TGT_MAX_LUNS; i++) {
			struct tgt_lun *l = atomic_load(&t->luns[i]);

			if (l == NULL || (lun != NULL && l != lun))
				continue;
			for (n = t->nexuses; n != NULL; n = n->next) {
				if (n == except ||
				    (initiator != NULL &&
				     strcmp(n->initiator, initiator) != 0) ||
				    (rtpi != 0 && n->rtpi != rtpi))
					continue;
				tgt_nexus_ua_set(n, i, ua);
			}
		}
		pthread_mutex_unlock(&t->lock);
	}
	pthread_mutex_unlock(&tgt_global_lock);
}

unsigned tgt_luns_of_bdev(struct bdev *bd, struct tgt_lun **out,
			  unsigned max)
{
	struct tgt_target *t;
	struct tgt_lun *lun, *prev = NULL;
	unsigned i, j, n = 0;

	pthread_mutex_lock(&tgt_global_lock);
	for (t = tgt_global_list; t != NULL; t = t->gnext) {
		pthread_mutex_lock(&t->lock);
		for (i = 0; i < TGT_MAX_LUNS; i++) {
			bool seen = false;

			lun = atomic_load(&t->luns[i]);
			if (lun == NULL || lun->bd != bd)
				continue;
			/* One LUN may be mapped at several numbers. */
			for (j = 0; j < n && j < max && out != NULL; j++)
				seen = seen || out[j] == lun;
			if (seen || lun == prev)
				continue;
			prev = lun;
			if (out != NULL && n < max)
				out[n] = tgt_lun_hold(lun);
			n++;
		}
		pthread_mutex_unlock(&t->lock);
	}
	pthread_mutex_unlock(&tgt_global_lock);
	return out != NULL && n > max ? max : n;
}

unsigned tgt_luns_by_naa(uint64_t naa, struct tgt_lun **out, unsigned max)
{
	return tgt_luns_collect(true, naa, out, max);
}

unsigned tgt_luns_collect(bool by_naa, uint64_t naa, struct tgt_lun **out,
			  unsigned max)
{
	struct tgt_target *t;
	unsigned i, j, n = 0;

	pthread_mutex_lock(&tgt_global_lock);
	for (t = tgt_global_list; t != NULL; t = t->gnext) {
		pthread_mutex_lock(&t->lock);
		for (i = 0; i < TGT_MAX_LUNS && n < max; i++) {
			struct tgt_lun *l = atomic_load(&t->luns[i]);

			if (l == NULL || (by_naa && l->naa != naa))
				continue;
			for (j = 0; j < n && out[j] != l; j++)
				;
			if (j == n)
				out[n++] = tgt_lun_hold(l);
		}
		pthread_mutex_unlock(&t->lock);
	}
	pthread_mutex_unlock(&tgt_global_lock);
	return n;
}

void tgt_lun_ua_all(struct tgt_lun *lun, enum tgt_ua ua,
		    struct tgt_nexus *except)
{
	ua_broadcast(lun, ua, except, NULL, 0);
}

void tgt_ua_everyone(enum tgt_ua ua, struct tgt_nexus *except)
{
	ua_broadcast(NULL, ua, except, NULL, 0);
}

void tgt_lun_ua_initiator(struct tgt_lun *lun, enum tgt_ua ua,
			  const char *initiator, uint16_t rtpi)
{
	ua_broadcast(lun, ua, NULL, initiator, rtpi);
}

void tgt_lun_nexus_gone(struct tgt_lun *lun, struct tgt_nexus *n)
{
	uint64_t id = n->id;

	/* SPC-4: copy results held for the nexus go with it. */
	pthread_mutex_lock(&lun->lock);
	tgt_xcopy_nexus_gone(lun, id);
	pthread_mutex_unlock(&lun->lock);

	/* SPC-2: an I_T nexus loss releases that nexus's reservation. */
	atomic_compare_exchange_strong(&lun->res2_holder, &id, 0);
	/* SPC-4 6.13: and its medium removal prevention. */
	pthread_mutex_lock(&lun->lock);
	tgt_media_prevent_clear(lun, n);
	pthread_mutex_unlock(&lun->lock);
}

/* ------------------------------------------------------------------ */
/* Finding a LUN by its designator (EXTENDED COPY)                     */
/* ------------------------------------------------------------------ */

void tgt_lun_naa_designator(const struct tgt_lun *lun, uint8_t out[16])
{
	scsi_put64(out, lun->naa);
	/* VENDOR SPECIFIC IDENTIFIER EXTENSION: from the disk's wwn=, else
	 * the serial's hash (tgt_lun_create). */
	scsi_put64(out + 8, lun->naa_ext);
}

/* The initiator name part of an initiator port identity
 * ("iqn...,i,0x<isid>" -> length of "iqn..."). */
static size_t initiator_name_len(const char *port)
{
	const char *sep = strstr(port, ",i,");

	return sep != NULL ? (size_t)(sep - port) : strlen(port);
}

/* True when an initiator with name prefix name/len has a live nexus on t
 * (t->lock held). */
static bool target_has_initiator(struct tgt_target *t, const char *name,
				 size_t len)
{
	struct tgt_nexus *m;

	for (m = t->nexuses; m != NULL; m = m->next)
		if (!m->dead && initiator_name_len(m->initiator) == len &&
		    memcmp(m->initiator, name, len) == 0)
			return true;
	return false;
}

struct tgt_lun *tgt_lun_find_naa(struct tgt_nexus *n, const uint8_t *desig)
{
	size_t len = initiator_name_len(n->initiator);
	struct tgt_lun *found = NULL;
	struct tgt_target *t;
	uint8_t d[16];
	unsigned i;

	pthread_mutex_lock(&tgt_global_lock);
	for (t = tgt_global_list; t != NULL && found == NULL; t = t->gnext) {
		pthread_mutex_lock(&t->lock);
		/* A copy reaches only LUNs the initiator could address
		 * itself: those of a target it is logged in to. */
		if (t == n->t || target_has_initiator(t, n->initiator, len)) {
			for (i = 0; i < TGT_MAX_LUNS && found == NULL; i++) {
				struct tgt_lun *l = atomic_load(&t->luns[i]);

				if (l == NULL)
					continue;
				tgt_lun_naa_designator(l, d);
				if (memcmp(d, desig, sizeof(d)) == 0)
					found = tgt_lun_hold(l);
			}
		}
		pthread_mutex_unlock(&t->lock);
	}
	pthread_mutex_unlock(&tgt_global_lock);
	return found;
}
