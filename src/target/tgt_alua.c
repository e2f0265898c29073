/*
 * Asymmetric logical unit access (SPC-4 5.15): target port groups, the
 * relative target ports in them, their access states, REPORT TARGET PORT
 * GROUPS and SET TARGET PORT GROUPS, the access check every command goes
 * through, and the LU identities set per disk name so that several
 * daemons exporting one backing store present one logical unit.
 *
 * One set of groups per process (the process is one SCSI target device;
 * every LUN of every target shares its ports), read in the command path
 * without a lock: groups and ports are only ever added (or all dropped by
 * tgt_alua_reset with no nexus alive), their counts are published with
 * release stores, and a group's state is an atomic.  Configuration and
 * SET TARGET PORT GROUPS serialize on alua_lock.
 *
 * Which commands each state allows is a column of the command table
 * (TGT_CF_ALUA_SB / _UN / _TR, tgt_table.c), following SPC-4 5.15.2.4 to
 * 5.15.2.6; a refused command gets NOT READY with the state's ASC.
 *
 * Shared state: the group states go through tgt_ha_ops (alua_load before
 * they are reported, alua_store when one changes); the in-memory ops keep
 * them here, which is the whole of it until a cluster backend exists.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <scsikit/log.h>

#include "target/tgt_int.h"

/* SET TARGET PORT GROUPS: MAINTENANCE OUT service action (SPC-4 6.42). */
#define SCSI_MO_SET_TARGET_PORT_GROUPS 0x0a

/* NOT READY additional sense (SPC-4 table D.2). */
#define ASC_LU_NOT_ACCESSIBLE_TRANSITION SCSI_ASC(0x04, 0x0a)
#define ASC_LU_NOT_ACCESSIBLE_STANDBY SCSI_ASC(0x04, 0x0b)
#define ASC_LU_NOT_ACCESSIBLE_UNAVAILABLE SCSI_ASC(0x04, 0x0c)

/* Largest SET TARGET PORT GROUPS parameter list: a header and one
 * descriptor per group (more can only repeat a group). */
#define STPG_MAX_LEN (4u + 4u * TGT_ALUA_MAX_GROUPS)

struct alua_group {
	uint16_t id;
	bool peer;
	_Atomic uint8_t state;		/* enum tgt_alua_state */
	_Atomic uint8_t status;		/* RTPG STATUS CODE */
};

struct alua_port {
	uint16_t rtpi;
	uint16_t group;
};

static pthread_mutex_t alua_lock = PTHREAD_MUTEX_INITIALIZER;
static struct alua_group alua_groups[TGT_ALUA_MAX_GROUPS];
static struct alua_port alua_ports[TGT_ALUA_MAX_PORTS];
static atomic_uint alua_ngroups;
static atomic_uint alua_nports;
static atomic_uint alua_trans_time;

/* Shared-state ops (tgt_ha_ops_set). */
static const struct tgt_ha_ops *ha_ops = &tgt_ha_mem_ops;
static void *ha_arg;

/* ------------------------------------------------------------------ */
/* The in-memory shared state: this daemon's own memory is the store.   */
/* ------------------------------------------------------------------ */

static int mem_alua_load(void *arg, uint16_t group, enum tgt_alua_state *st)
{
	(void)arg;
	(void)group;
	(void)st;
	return -ENOENT;		/* nothing beyond the local state */
}

static int mem_alua_store(void *arg, uint16_t group, enum tgt_alua_state st)
{
	(void)arg;
	(void)group;
	(void)st;
	return 0;		/* the local state is the store */
}

static int mem_pr_load(void *arg, uint64_t naa, void *buf, size_t cap,
		       size_t *len)
{
	(void)arg;
	(void)naa;
	(void)buf;
	(void)cap;
	*len = 0;
	return -ENOENT;
}

static int mem_pr_store(void *arg, uint64_t naa, uint32_t old_gen,
			const void *buf, size_t len)
{
	(void)arg;
	(void)naa;
	(void)old_gen;
	(void)buf;
	(void)len;
	return 0;
}

const struct tgt_ha_ops tgt_ha_mem_ops = {
	.alua_load = mem_alua_load,
	.alua_store = mem_alua_store,
	.pr_load = mem_pr_load,
	.pr_store = mem_pr_store,
};

const struct tgt_ha_ops *tgt_ha_ops_get(void **arg)
{
	const struct tgt_ha_ops *ops;

	pthread_mutex_lock(&alua_lock);
	ops = ha_ops;
	*arg = ha_arg;
	pthread_mutex_unlock(&alua_lock);
	return ops;
}

void tgt_ha_ops_set(const struct tgt_ha_ops *ops, void *arg)
{
	pthread_mutex_lock(&alua_lock);
	ha_ops = ops != NULL ? ops : &tgt_ha_mem_ops;
	ha_arg = ops != NULL ? arg : NULL;
	pthread_mutex_unlock(&alua_lock);
}

/* ------------------------------------------------------------------ */
/* Groups, ports, states                                               */
/* ------------------------------------------------------------------ */

static const struct {
	enum tgt_alua_state st;
	const char *name;
	const char *abbrev;
} alua_names[] = {
	{ TGT_ALUA_OPTIMIZED, "active/optimized", "ao" },
	{ TGT_ALUA_NON_OPTIMIZED, "active/non-optimized", "an" },
	{ TGT_ALUA_STANDBY, "standby", "s" },
	{ TGT_ALUA_UNAVAILABLE, "unavailable", "u" },
	{ TGT_ALUA_TRANSITIONING, "transitioning", "t" },
};

#define NSTATES (sizeof(alua_names) / sizeof(alua_names[0]))

const char *tgt_alua_state_name(enum tgt_alua_state st)
{
	unsigned i;

	for (i = 0; i < NSTATES; i++)
		if (alua_names[i].st == st)
			return alua_names[i].name;
	return "unknown";
}

int tgt_alua_state_parse(const char *s, enum tgt_alua_state *st)
{
	unsigned i;

	for (i = 0; s != NULL && i < NSTATES; i++)
		if (strcasecmp(s, alua_names[i].name) == 0 ||
		    strcasecmp(s, alua_names[i].abbrev) == 0) {
			*st = alua_names[i].st;
			return 0;
		}
	return -EINVAL;
}

static bool state_valid(enum tgt_alua_state st)
{
	return st == TGT_ALUA_OPTIMIZED || st == TGT_ALUA_NON_OPTIMIZED ||
	       st == TGT_ALUA_STANDBY || st == TGT_ALUA_UNAVAILABLE ||
	       st == TGT_ALUA_TRANSITIONING;
}

/* The group with id, or NULL; any thread. */
static struct alua_group *group_find(uint16_t id)
{
	unsigned i, n = atomic_load_explicit(&alua_ngroups,
					     memory_order_acquire);

	for (i = 0; i < n; i++)
		if (alua_groups[i].id == id)
			return &alua_groups[i];
	return NULL;
}

bool tgt_alua_enabled(void)
{
	return atomic_load_explicit(&alua_ngroups, memory_order_relaxed) > 0;
}

uint16_t tgt_alua_port_group(uint16_t rtpi)
{
	unsigned i, n = atomic_load_explicit(&alua_nports,
					     memory_order_acquire);

	for (i = 0; i < n; i++)
		if (alua_ports[i].rtpi == rtpi)
			return alua_ports[i].group;
	return 0;
}

int tgt_alua_group_add(uint16_t id, enum tgt_alua_state st, bool peer)
{
	unsigned n;
	int rc = 0;

	if (id == 0 || !state_valid(st))
		return -EINVAL;
	pthread_mutex_lock(&alua_lock);
	n = atomic_load(&alua_ngroups);
	if (group_find(id) != NULL) {
		rc = -EEXIST;
	} else if (n >= TGT_ALUA_MAX_GROUPS) {
		rc = -ENOSPC;
	} else {
		alua_groups[n].id = id;
		alua_groups[n].peer = peer;
		atomic_store(&alua_groups[n].state, (uint8_t)st);
		atomic_store(&alua_groups[n].status, 0);
		atomic_store_explicit(&alua_ngroups, n + 1,
				      memory_order_release);
	}
	pthread_mutex_unlock(&alua_lock);
	/* TPGS changes from 0 for the first group: nexuses already there see
	 * a changed INQUIRY (SPC-4 5.15.2.1 has no UA of its own for it). */
	return rc;
}

int tgt_alua_port_add(uint16_t group, uint16_t rtpi)
{
	unsigned n;
	int rc = 0;

	if (rtpi == 0)
		return -EINVAL;
	pthread_mutex_lock(&alua_lock);
	n = atomic_load(&alua_nports);
	if (group_find(group) == NULL)
		rc = -ENOENT;
	else if (tgt_alua_port_group(rtpi) != 0)
		rc = -EEXIST;
	else if (n >= TGT_ALUA_MAX_PORTS)
		rc = -ENOSPC;
	else {
		alua_ports[n].rtpi = rtpi;
		alua_ports[n].group = group;
		atomic_store_explicit(&alua_nports, n + 1,
				      memory_order_release);
	}
	pthread_mutex_unlock(&alua_lock);
	return rc;
}

/* Change g's state (alua_lock held); true if it changed. */
static bool group_set_locked(struct alua_group *g, enum tgt_alua_state st,
			     uint8_t status)
{
	uint8_t old = atomic_exchange(&g->state, (uint8_t)st);
	int rc;

	atomic_store(&g->status, status);
	rc = ha_ops->alua_store(ha_arg, g->id, st);
	if (rc < 0)
		log_warn("alua: group %u: shared state not stored: %s", g->id,
			 strerror(-rc));
	if (old != (uint8_t)st)
		log_info("alua: target port group %u: %s -> %s", g->id,
			 tgt_alua_state_name((enum tgt_alua_state)old),
			 tgt_alua_state_name(st));
	return old != (uint8_t)st;
}

/* Tell the other daemons through the ops' notify, if any. */
static void ha_notify(const struct tgt_ha_event *ev)
{
	void *arg;
	const struct tgt_ha_ops *ops = tgt_ha_ops_get(&arg);

	if (ops->notify != NULL)
		ops->notify(arg, ev);
}

static void ha_notify_state(uint16_t group, enum tgt_alua_state st)
{
	struct tgt_ha_event ev = { .kind = TGT_HA_ALUA_STATE, .group = group,
				   .state = st };

	ha_notify(&ev);
}

void tgt_ha_notify_reset(struct tgt_lun *lun, bool power_on)
{
	struct tgt_ha_event ev = { .kind = TGT_HA_LU_RESET, .naa = lun->naa,
				   .power_on = power_on };

	ha_notify(&ev);
}

/* Set group's state as an implicit transition; true if it changed. */
static int state_set_local(uint16_t group, enum tgt_alua_state st,
			   bool *changed)
{
	struct alua_group *g;

	if (!state_valid(st))
		return -EINVAL;
	pthread_mutex_lock(&alua_lock);
	g = group_find(group);
	if (g == NULL) {
		pthread_mutex_unlock(&alua_lock);
		return -ENOENT;
	}
	*changed = group_set_locked(g, st, 0x02);	/* implicit */
	pthread_mutex_unlock(&alua_lock);
	/* SPC-4 5.15.2.2: an implicit transition tells every I_T nexus. */
	if (*changed)
		tgt_ua_everyone(TGT_UA_ALUA_CHANGED, NULL);
	return 0;
}

int tgt_alua_state_set(uint16_t group, enum tgt_alua_state st)
{
	bool changed = false;
	int rc = state_set_local(group, st, &changed);

	if (rc == 0 && changed)
		ha_notify_state(group, st);
	return rc;
}

/* Reload the reservation state of the LUs with NAA id naa (0: all). */
static int pr_reload(uint64_t naa)
{
	struct tgt_lun *luns[TGT_MAX_LUNS];
	unsigned i, n;
	int rc = 0, r;

	n = tgt_luns_collect(naa != 0, naa, luns, TGT_MAX_LUNS);
	for (i = 0; i < n; i++) {
		r = tgt_pr_store_refresh(luns[i]);
		if (r < 0 && rc == 0)
			rc = r;
		tgt_lun_release(luns[i]);
	}
	return rc < 0 ? rc : n > 0 || naa == 0 ? 0 : -ENOENT;
}

int tgt_ha_event_apply(const struct tgt_ha_event *ev)
{
	struct tgt_lun *luns[TGT_MAX_LUNS];
	unsigned i, n;
	bool changed;

	switch (ev->kind) {
	case TGT_HA_ALUA_STATE:
		return state_set_local(ev->group, ev->state, &changed);
	case TGT_HA_LU_RESET:
		n = tgt_luns_by_naa(ev->naa, luns, TGT_MAX_LUNS);
		for (i = 0; i < n; i++) {
			tgt_lun_reset(luns[i], ev->power_on ?
					      TGT_UA_POWER_ON :
					      TGT_UA_BUS_DEVICE_RESET);
			tgt_lun_release(luns[i]);
		}
		return n > 0 ? 0 : -ENOENT;
	case TGT_HA_PR_CHANGED:
		return pr_reload(ev->naa);
	}
	return -EINVAL;
}

/* Refresh the local states from the shared store (alua_lock held). */
static void groups_refresh_locked(void)
{
	unsigned i, n = atomic_load(&alua_ngroups);

	for (i = 0; i < n; i++) {
		enum tgt_alua_state st;

		if (ha_ops->alua_load(ha_arg, alua_groups[i].id, &st) == 0 &&
		    state_valid(st))
			atomic_store(&alua_groups[i].state, (uint8_t)st);
	}
}

unsigned tgt_alua_groups(struct tgt_alua_group_info *out, unsigned max)
{
	unsigned i, j, k, n, np;

	pthread_mutex_lock(&alua_lock);
	groups_refresh_locked();
	n = atomic_load(&alua_ngroups);
	np = atomic_load(&alua_nports);
	for (i = 0; i < n && i < max; i++) {
		struct tgt_alua_group_info *o = &out[i];

		memset(o, 0, sizeof(*o));
		o->id = alua_groups[i].id;
		o->state = (enum tgt_alua_state)atomic_load(
			&alua_groups[i].state);
		o->peer = alua_groups[i].peer;
		o->status = atomic_load(&alua_groups[i].status);
		for (j = 0, k = 0; j < np; j++)
			if (alua_ports[j].group == o->id)
				o->ports[k++] = alua_ports[j].rtpi;
		o->nports = k;
	}
	pthread_mutex_unlock(&alua_lock);
	/* In id order, for stable listings. */
	for (i = 1; i < n && i < max; i++)
		for (j = i; j > 0 && out[j - 1].id > out[j].id; j--) {
			struct tgt_alua_group_info tmp = out[j];

			out[j] = out[j - 1];
			out[j - 1] = tmp;
		}
	return n;
}

void tgt_alua_transition_time_set(unsigned seconds)
{
	atomic_store(&alua_trans_time, seconds > 255 ? 255 : seconds);
}

void tgt_alua_reset(void)
{
	pthread_mutex_lock(&alua_lock);
	atomic_store(&alua_ngroups, 0);
	atomic_store(&alua_nports, 0);
	memset(alua_groups, 0, sizeof(alua_groups));
	memset(alua_ports, 0, sizeof(alua_ports));
	atomic_store(&alua_trans_time, 0);
	pthread_mutex_unlock(&alua_lock);
}

/* ------------------------------------------------------------------ */
/* The access check                                                    */
/* ------------------------------------------------------------------ */

bool tgt_alua_refuse(struct tgt_cmd *c)
{
	struct alua_group *g;
	uint32_t flags = c->d->flags;
	uint16_t asc;
	uint16_t gid;

	if (!tgt_alua_enabled())
		return false;
	gid = tgt_alua_port_group(c->n->rtpi);
	g = gid != 0 ? group_find(gid) : NULL;
	if (g == NULL)
		return false;	/* a port in no group: not asymmetric */
	switch (atomic_load_explicit(&g->state, memory_order_relaxed)) {
	case TGT_ALUA_STANDBY:
		if (flags & TGT_CF_ALUA_SB)
			return false;
		asc = ASC_LU_NOT_ACCESSIBLE_STANDBY;
		break;
	case TGT_ALUA_UNAVAILABLE:
		if (flags & TGT_CF_ALUA_UN)
			return false;
		asc = ASC_LU_NOT_ACCESSIBLE_UNAVAILABLE;
		break;
	case TGT_ALUA_TRANSITIONING:
		if (flags & TGT_CF_ALUA_TR)
			return false;
		asc = ASC_LU_NOT_ACCESSIBLE_TRANSITION;
		break;
	default:
		return false;	/* active/optimized, active/non-optimized */
	}
	tgt_cmd_check(c, SCSI_SK_NOT_READY, asc);
	return true;
}

/* ------------------------------------------------------------------ */
/* REPORT TARGET PORT GROUPS (SPC-4 6.27)                              */
/* ------------------------------------------------------------------ */

void tgt_h_rtpg(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	uint8_t format = cdb[1] >> 5;
	uint32_t alloc = scsi_get32(cdb + 6);
	struct tgt_alua_group_info *gi;
	size_t len, cap;
	unsigned i, j, n;
	uint8_t *p;

	/* PARAMETER DATA FORMAT: 000b length only, 001b extended header. */
	if (format > 1) {
		tgt_cmd_bad_cdb(c, 1, 7);
		return;
	}
	gi = calloc(TGT_ALUA_MAX_GROUPS, sizeof(*gi));
	cap = 8 + (size_t)TGT_ALUA_MAX_GROUPS * 8 + TGT_ALUA_MAX_PORTS * 4;
	p = calloc(1, cap);
	if (gi == NULL || p == NULL) {
		free(gi);
		free(p);
		tgt_cmd_errno(c, -ENOMEM, false);
		return;
	}
	n = tgt_alua_groups(gi, TGT_ALUA_MAX_GROUPS);
	if (n > TGT_ALUA_MAX_GROUPS)
		n = TGT_ALUA_MAX_GROUPS;
	len = 4;
	if (format == 1) {
		p[4] = 0x10;	/* FORMAT TYPE 001b */
		p[5] = (uint8_t)atomic_load(&alua_trans_time);
		len = 8;	/* IMPLICIT TRANSITION TIME above */
	}
	for (i = 0; i < n; i++) {
		uint8_t *d = p + len;

		d[0] = (uint8_t)(gi[i].state & 0x0f);	/* PREF 0, STATE */
		/* T_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP. */
		d[1] = 0x80 | 0x08 | 0x04 | 0x02 | 0x01;
		scsi_put16(d + 2, gi[i].id);		/* TARGET PORT GROUP */
		d[5] = gi[i].status;			/* STATUS CODE */
		d[7] = (uint8_t)gi[i].nports;		/* TARGET PORT COUNT */
		len += 8;
		for (j = 0; j < gi[i].nports; j++) {
			scsi_put16(p + len + 2, gi[i].ports[j]);
			len += 4;
		}
	}
	scsi_put32(p, (uint32_t)(len - 4));	/* RETURN DATA LENGTH */
	tgt_cmd_data_in(c, p, len, alloc);
	free(p);
	free(gi);
	tgt_cmd_good(c);
}

/* ------------------------------------------------------------------ */
/* SET TARGET PORT GROUPS (SPC-4 6.42)                                 */
/* ------------------------------------------------------------------ */

void tgt_h_stpg(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	uint32_t plen = scsi_get32(task->cdb + 6);
	uint8_t p[STPG_MAX_LEN];
	struct alua_group *g[TGT_ALUA_MAX_GROUPS];
	bool ch[TGT_ALUA_MAX_GROUPS], changed = false;
	unsigned i, j, nd;

	c->implied = plen;
	if (plen == 0) {		/* nothing asked: not an error */
		tgt_cmd_good(c);
		return;
	}
	/* A header and whole 4-byte descriptors, no more than one per group,
	 * all of it sent. */
	if (plen < 8 || (plen - 4) % 4 != 0 || plen > STPG_MAX_LEN ||
	    task->data_len < plen) {
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	tgt_cmd_data_out(c, p, plen);
	c->moved = plen;
	nd = (plen - 4) / 4;
	/* Check every descriptor before changing anything. */
	for (i = 0; i < nd; i++) {
		const uint8_t *d = p + 4 + 4 * i;
		uint8_t st = d[0] & 0x0f;

		if ((d[0] & 0xf0) != 0) {
			tgt_cmd_bad_param(c, 4 + 4 * i, 7);
			return;
		}
		/* Only the four stable states can be asked for. */
		if (st != TGT_ALUA_OPTIMIZED && st != TGT_ALUA_NON_OPTIMIZED &&
		    st != TGT_ALUA_STANDBY && st != TGT_ALUA_UNAVAILABLE) {
			tgt_cmd_bad_param(c, 4 + 4 * i, 3);
			return;
		}
		if (d[1] != 0) {
			tgt_cmd_bad_param(c, 4 + 4 * i + 1, -1);
			return;
		}
		g[i] = group_find(scsi_get16(d + 2));
		if (g[i] == NULL) {
			tgt_cmd_bad_param(c, 4 + 4 * i + 2, -1);
			return;
		}
		for (j = 0; j < i; j++)
			if (g[j] == g[i]) {
				tgt_cmd_bad_param(c, 4 + 4 * i + 2, -1);
				return;
			}
	}
	pthread_mutex_lock(&alua_lock);
	for (i = 0; i < nd; i++) {
		ch[i] = group_set_locked(g[i], (enum tgt_alua_state)(
						       p[4 + 4 * i] & 0x0f),
					 0x01);	/* altered by STPG */
		changed |= ch[i];
	}
	pthread_mutex_unlock(&alua_lock);
	/* SPC-4 5.15.2.3: every I_T nexus but the one that asked. */
	if (changed)
		tgt_ua_everyone(TGT_UA_ALUA_CHANGED, c->n);
	for (i = 0; i < nd; i++)
		if (ch[i])
			ha_notify_state(g[i]->id, (enum tgt_alua_state)(
						       p[4 + 4 * i] & 0x0f));
	tgt_cmd_good(c);
}

/* ------------------------------------------------------------------ */
/* LU identities by disk name                                          */
/* ------------------------------------------------------------------ */

struct lu_ident {
	struct lu_ident *next;
	char disk[128];
	char serial[65];
	uint64_t naa_hi, naa_lo;
};

static pthread_mutex_t ident_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lu_ident *idents;

int tgt_lun_identity_set(const char *disk, const char *serial,
			 uint64_t naa_hi, uint64_t naa_lo)
{
	struct lu_ident *e, *x;

	if (disk == NULL || disk[0] == '\0' || strlen(disk) >= 128 ||
	    (serial != NULL && strlen(serial) > 64) ||
	    (naa_hi != 0 && (naa_hi >> 60) != 6))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	strcpy(e->disk, disk);
	if (serial != NULL)
		strcpy(e->serial, serial);
	e->naa_hi = naa_hi;
	e->naa_lo = naa_lo;
	pthread_mutex_lock(&ident_lock);
	/* A later setting replaces an earlier one. */
	for (struct lu_ident **pp = &idents; (x = *pp) != NULL; pp = &x->next)
		if (strcmp(x->disk, disk) == 0) {
			*pp = x->next;
			free(x);
			break;
		}
	e->next = idents;
	idents = e;
	pthread_mutex_unlock(&ident_lock);
	return 0;
}

void tgt_lun_identity_clear(void)
{
	pthread_mutex_lock(&ident_lock);
	while (idents != NULL) {
		struct lu_ident *e = idents;

		idents = e->next;
		free(e);
	}
	pthread_mutex_unlock(&ident_lock);
}

bool tgt_lun_identity_get(const char *disk, char *serial, size_t cap,
			  uint64_t *naa_hi, uint64_t *naa_lo)
{
	bool found = false;

	pthread_mutex_lock(&ident_lock);
	for (struct lu_ident *e = idents; e != NULL; e = e->next)
		if (strcmp(e->disk, disk) == 0) {
			snprintf(serial, cap, "%s", e->serial);
			*naa_hi = e->naa_hi;
			*naa_lo = e->naa_lo;
			found = true;
			break;
		}
	pthread_mutex_unlock(&ident_lock);
	return found;
}
