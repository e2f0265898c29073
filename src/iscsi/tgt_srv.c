/*
 * The iSCSI target server: settings, the export list that follows the
 * disk registry, login lookups (target, ACL, CHAP secrets), SendTargets,
 * the session table used for reinstatement and resets across sessions,
 * start and stop.  Portals and admission are in tgt_portal.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "iscsi/tgt_int.h"
#include "util/hostport.h"
#include "util/json.h"

/* ---- settings ---------------------------------------------------------- */

struct iscsi_srv *iscsi_srv_create(iscsi_pick_loop_fn pick, void *pick_arg)
{
	struct iscsi_srv *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->cfg_lock, NULL);
	atomic_init(&s->refs, 1);
	s->pick = pick;
	s->pick_arg = pick_arg;
	snprintf(s->iqn_prefix, sizeof(s->iqn_prefix), "%s",
		 ISCSI_DEFAULT_IQN_PREFIX);
	s->queue_depth = 128;
	s->max_sessions = 256;
	s->max_conns = 512;
	s->max_recv_dsl = 262144;
	s->max_burst = 1048576;
	s->first_burst = 262144;
	s->max_outstanding_r2t = 8;
	s->immediate_data = true;
	s->initial_r2t = false;
	s->hdigest_mask = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	s->ddigest_mask = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	s->max_cmd_data = 32u << 20;
	s->max_conn_data = 256ull << 20;
	s->nop_interval_ms = 10000;
	s->nop_timeout_ms = 30000;
	s->login_timeout_ms = 15000;
	s->max_per_peer = 64;
	s->max_login = 64;
	s->pdu_timeout_ms = 30000;
	/* The cap is kept by portal_admit (it may evict); admit keeps the
	 * per-address counts (max_per_peer is set again at start). */
	sk_admit_init(&s->admit, "iscsi", 0, s->max_per_peer);
	s->next_tsih = 1;
	s->registry_handle = -1;
	return s;
}

void iscsi_srv_hold(struct iscsi_srv *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void iscsi_srv_release(struct iscsi_srv *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	while (s->tcfgs != NULL) {
		struct iscsi_tcfg *t = s->tcfgs;
		s->tcfgs = t->next;
		memset(t, 0, sizeof(*t)); /* secrets */
		free(t);
	}
	while (s->portals != NULL) {
		struct iscsi_portal *p = s->portals;
		s->portals = p->next;
		free(p);
	}
	while (s->exports != NULL) {
		struct iscsi_export *e = s->exports;
		s->exports = e->next;
		tgt_target_release(e->t);
		free(e);
	}
	pthread_mutex_destroy(&s->cfg_lock);
	sk_admit_fini(&s->admit);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

const char *iscsi_srv_usage(void)
{
	return ISCSI_SRV_USAGE;
}

/* Canonical key: drop leading dashes and an "iscsi" prefix, and every
 * '-' or '_' ("--iscsi-queue-depth" and "queue_depth" both -> "queuedepth"). */
static void key_canon(const char *key, char *out, size_t cap)
{
	size_t n = 0;

	while (*key == '-')
		key++;
	if (strncasecmp(key, "iscsi", 5) == 0)
		key += 5;
	for (; *key != '\0' && n + 1 < cap; key++)
		if (*key != '-' && *key != '_')
			out[n++] = (char)tolower((unsigned char)*key);
	out[n] = '\0';
}

struct iscsi_tcfg *iscsi_tcfg_get(struct iscsi_srv *s, const char *disk,
				  size_t len, bool create)
{
	for (struct iscsi_tcfg *t = s->tcfgs; t != NULL; t = t->next)
		if (strlen(t->disk) == len && strncmp(t->disk, disk, len) == 0)
			return t;
	if (!create || len == 0 ||
	    len >= sizeof(((struct iscsi_tcfg *)0)->disk) ||
	    s->ntcfgs >= ISCSI_TCFG_MAX)
		return NULL;
	struct iscsi_tcfg *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	memcpy(t->disk, disk, len);
	t->next = s->tcfgs;
	s->tcfgs = t;
	s->ntcfgs++;
	return t;
}

static int parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t x;

	if (sk_parse_size(v, &x) < 0 || x < lo || x > hi)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

static int parse_yesno(const char *v, bool *out)
{
	if (strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0 ||
	    strcasecmp(v, "on") == 0 || strcasecmp(v, "true") == 0)
		*out = true;
	else if (strcasecmp(v, "no") == 0 || strcmp(v, "0") == 0 ||
		 strcasecmp(v, "off") == 0 || strcasecmp(v, "false") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_digest(const char *v, uint32_t *mask)
{
	if (strcasecmp(v, "none") == 0)
		*mask = ISCSI_DIGEST_NONE;
	else if (strcasecmp(v, "crc32c") == 0)
		*mask = ISCSI_DIGEST_CRC32C;
	else if (strcasecmp(v, "both") == 0 || strcasecmp(v, "any") == 0)
		*mask = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	else
		return -1;
	return 0;
}

/* "T:USER:SECRET": T up to the first colon, USER to the next, the rest is
 * the secret (which may hold colons). */
static int parse_chap(struct iscsi_srv *s, const char *v, bool mutual,
		      char *err, size_t errlen)
{
	const char *c1 = strchr(v, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

	if (c1 == NULL || c2 == NULL || c2 == c1 + 1 || c2[1] == '\0') {
		snprintf(err, errlen, "expected TARGET:USER:SECRET");
		return -1;
	}
	char user[ISCSI_CHAP_NAME_MAX + 1];
	size_t ulen = (size_t)(c2 - c1 - 1);
	if (ulen > ISCSI_CHAP_NAME_MAX) {
		snprintf(err, errlen, "CHAP user too long");
		return -1;
	}
	memcpy(user, c1 + 1, ulen);
	user[ulen] = '\0';
	return iscsi_tcfg_set_chap(s, v, (size_t)(c1 - v), mutual, user,
				   c2 + 1, err, errlen);
}

/* Printable, no blank and no '#': what survives a config-file line. */
bool iscsi_cfg_word_ok(const char *w, size_t max)
{
	size_t n = 0;

	for (; w[n] != '\0'; n++)
		if (n >= max || w[n] <= ' ' || w[n] > '~' || w[n] == '#')
			return false;
	return n > 0;
}

int iscsi_tcfg_set_chap(struct iscsi_srv *s, const char *tname, size_t tlen,
			bool mutual, const char *user, const char *secret,
			char *err, size_t errlen)
{
	if (!iscsi_cfg_word_ok(user, ISCSI_CHAP_NAME_MAX) ||
	    !iscsi_cfg_word_ok(secret, ISCSI_CHAP_SECRET_MAX)) {
		snprintf(err, errlen, "CHAP user and secret: 1 to %d and 1 to "
			 "%d printable characters, no blank or '#'",
			 ISCSI_CHAP_NAME_MAX, ISCSI_CHAP_SECRET_MAX);
		return -1;
	}
	pthread_mutex_lock(&s->cfg_lock);
	struct iscsi_tcfg *t = iscsi_tcfg_get(s, tname, tlen, true);
	if (t == NULL) {
		pthread_mutex_unlock(&s->cfg_lock);
		snprintf(err, errlen, "bad target name");
		return -1;
	}
	if (mutual) {
		t->mutual = true;
		snprintf(t->mutual_user, sizeof(t->mutual_user), "%s", user);
		snprintf(t->mutual_secret, sizeof(t->mutual_secret), "%s",
			 secret);
	} else {
		t->chap = true;
		snprintf(t->chap_user, sizeof(t->chap_user), "%s", user);
		snprintf(t->chap_secret, sizeof(t->chap_secret), "%s", secret);
	}
	pthread_mutex_unlock(&s->cfg_lock);
	return 0;
}

int iscsi_srv_add_portal(struct iscsi_srv *s, const char *v, char *err,
			 size_t errlen)
{
	if (strcasecmp(v, "none") == 0) {
		s->portals_none = true;
		return 0;
	}
	/* HOST:PORT[,TAG]: the tag makes the portal relative target port
	 * TAG (its portal group). */
	const char *comma = strrchr(v, ',');
	size_t alen = comma != NULL ? (size_t)(comma - v) : strlen(v);
	char host[96], addr[sizeof(((struct iscsi_portal *)0)->spec)];
	uint32_t tag = 1;
	uint16_t port;

	if (alen == 0 || alen >= sizeof(addr) ||
	    (comma != NULL && parse_u32(comma + 1, 1, 65535, &tag) < 0)) {
		snprintf(err, errlen, "bad portal address (HOST:PORT[,TAG] "
			 "with TAG 1..65535)");
		return -1;
	}
	memcpy(addr, v, alen);
	addr[alen] = '\0';
	if (sk_parse_hostport(addr, SK_HP_PORT_ZERO, host, sizeof(host), &port,
			      3260, err, errlen) < 0)
		return -1;
	struct iscsi_portal *p = calloc(1, sizeof(*p));

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(p->spec, sizeof(p->spec), "%s", addr);
	p->tpgt = (uint16_t)tag;
	p->srv = s;
	p->fd = -1;
	struct iscsi_portal **pp = &s->portals;
	while (*pp != NULL)
		pp = &(*pp)->next;
	*pp = p;
	s->portals_given = true;
	return 0;
}

int iscsi_srv_configure(struct iscsi_srv *s, const char *key,
			const char *value, char *err, size_t errlen)
{
	char k[64];
	const char *v = value ? value : "";
	const char *colon = strchr(v, ':');
	struct iscsi_tcfg *t;

	key_canon(key, k, sizeof(k));
	if (strcmp(k, "") == 0 || strcmp(k, "portal") == 0 ||
	    strcmp(k, "listen") == 0)
		return iscsi_srv_add_portal(s, v, err, errlen);
	if (strcmp(k, "chap") == 0)
		return parse_chap(s, v, false, err, errlen);
	if (strcmp(k, "mutualchap") == 0)
		return parse_chap(s, v, true, err, errlen);
	if (strcmp(k, "acl") == 0 || strcmp(k, "target") == 0 ||
	    strcmp(k, "alias") == 0) {
		if (colon == NULL || colon == v || colon[1] == '\0') {
			snprintf(err, errlen, "expected DISK:VALUE");
			return -1;
		}
		t = iscsi_tcfg_get(s, v, (size_t)(colon - v), true);
		if (t == NULL || strlen(colon + 1) > ISCSI_NAME_MAX) {
			snprintf(err, errlen, "bad value");
			return -1;
		}
		if (k[0] == 'a' && k[1] == 'c') {
			return iscsi_tcfg_acl_add(t, colon + 1, err, errlen);
		} else if (k[0] == 't') {
			snprintf(t->iqn, sizeof(t->iqn), "%s", colon + 1);
		} else {
			snprintf(t->alias, sizeof(t->alias), "%.63s", colon + 1);
		}
		return 0;
	}
	if (strcmp(k, "lun") == 0) {
		/* DISK:N:OTHER */
		const char *c2 = colon ? strchr(colon + 1, ':') : NULL;
		char *end = NULL;
		unsigned long id = c2 ? strtoul(colon + 1, &end, 10) : 0;
		if (colon == NULL || c2 == NULL || end != c2 || id == 0 ||
		    id >= TGT_MAX_LUNS || c2[1] == '\0' ||
		    strlen(c2 + 1) >= sizeof(((struct iscsi_tcfg *)0)->luns[0].disk)) {
			snprintf(err, errlen, "expected DISK:LUN:DISK with LUN "
				 "1..%d", TGT_MAX_LUNS - 1);
			return -1;
		}
		t = iscsi_tcfg_get(s, v, (size_t)(colon - v), true);
		if (t == NULL) {
			snprintf(err, errlen, "bad target name");
			return -1;
		}
		return iscsi_tcfg_lun_add(t, (uint32_t)id, c2 + 1, err, errlen);
	}
	if (strcmp(k, "iqnprefix") == 0) {
		snprintf(s->iqn_prefix, sizeof(s->iqn_prefix), "%s", v);
		return 0;
	}

	/* Numeric and boolean settings: a table would be no shorter. */
	uint32_t n;
	int r = 0;
	if (strcmp(k, "queuedepth") == 0)
		r = parse_u32(v, 1, 65536, &n), s->queue_depth = r ? s->queue_depth : n;
	else if (strcmp(k, "maxsessions") == 0)
		r = parse_u32(v, 1, 65535, &n), s->max_sessions = r ? s->max_sessions : n;
	else if (strcmp(k, "maxconnections") == 0)
		r = parse_u32(v, 1, 65535, &n), s->max_conns = r ? s->max_conns : n;
	else if (strcmp(k, "maxrecvdsl") == 0)
		r = parse_u32(v, 512, 16777215, &n), s->max_recv_dsl = r ? s->max_recv_dsl : n;
	else if (strcmp(k, "maxburst") == 0)
		r = parse_u32(v, 512, 16777215, &n), s->max_burst = r ? s->max_burst : n;
	else if (strcmp(k, "firstburst") == 0)
		r = parse_u32(v, 512, 16777215, &n), s->first_burst = r ? s->first_burst : n;
	else if (strcmp(k, "maxr2t") == 0)
		r = parse_u32(v, 1, 65535, &n), s->max_outstanding_r2t = r ? s->max_outstanding_r2t : n;
	else if (strcmp(k, "maxcmddata") == 0)
		r = parse_u32(v, 4096, 1u << 30, &n), s->max_cmd_data = r ? s->max_cmd_data : n;
	else if (strcmp(k, "maxconndata") == 0)
		r = parse_u32(v, 65536, UINT32_MAX, &n), s->max_conn_data = r ? s->max_conn_data : n;
	else if (strcmp(k, "maxperpeer") == 0)
		r = parse_u32(v, 1, 65535, &n), s->max_per_peer = r ? s->max_per_peer : n;
	else if (strcmp(k, "maxlogin") == 0)
		r = parse_u32(v, 1, 65535, &n), s->max_login = r ? s->max_login : n;
	else if (strcmp(k, "pdutimeout") == 0)
		r = parse_u32(v, 1, 3600, &n), s->pdu_timeout_ms = r ? s->pdu_timeout_ms : n * 1000;
	else if (strcmp(k, "logintimeout") == 0)
		r = parse_u32(v, 1, 3600, &n), s->login_timeout_ms = r ? s->login_timeout_ms : n * 1000;
	else if (strcmp(k, "nopinterval") == 0)
		r = parse_u32(v, 0, 3600, &n), s->nop_interval_ms = r ? s->nop_interval_ms : n * 1000;
	else if (strcmp(k, "noptimeout") == 0)
		r = parse_u32(v, 1, 3600, &n), s->nop_timeout_ms = r ? s->nop_timeout_ms : n * 1000;
	else if (strcmp(k, "immediatedata") == 0)
		r = parse_yesno(v, &s->immediate_data);
	else if (strcmp(k, "initialr2t") == 0)
		r = parse_yesno(v, &s->initial_r2t);
	else if (strcmp(k, "digest") == 0) {
		r = parse_digest(v, &s->hdigest_mask);
		s->ddigest_mask = s->hdigest_mask;
	} else if (strcmp(k, "headerdigest") == 0)
		r = parse_digest(v, &s->hdigest_mask);
	else if (strcmp(k, "datadigest") == 0)
		r = parse_digest(v, &s->ddigest_mask);
	else {
		snprintf(err, errlen, "unknown iscsi setting '%s'", key);
		return -1;
	}
	if (r < 0) {
		snprintf(err, errlen, "bad value '%s' for %s", v, key);
		return -1;
	}
	return 0;
}

/* ---- exports ----------------------------------------------------------- */

/* The target disk and LUN number that disk is configured under as an
 * extra LUN, or NULL when it is a target of its own. */
const char *iscsi_lun_parent(struct iscsi_srv *s, const char *disk,
			     uint32_t *id)
{
	for (struct iscsi_tcfg *t = s->tcfgs; t != NULL; t = t->next)
		for (unsigned i = 0; i < t->nluns; i++)
			if (strcmp(t->luns[i].disk, disk) == 0) {
				*id = t->luns[i].id;
				return t->disk;
			}
	return NULL;
}

int iscsi_lun_attach(struct tgt_target *t, uint32_t id, struct bdev *bd)
{
	struct tgt_lun *lun = tgt_lun_create(bd, NULL);

	if (lun == NULL)
		return -ENOMEM;
	int r = tgt_target_add_lun(t, id, lun);
	tgt_lun_release(lun);	/* the target holds it now (on success) */
	if (r < 0)
		log_warn("iscsi: cannot map %s at LUN %u of %s: %s",
			 bdev_name(bd), id, tgt_target_name(t), strerror(-r));
	return r;
}

/* The target of the export for disk, held; NULL if none. */
struct tgt_target *iscsi_export_target_of(struct iscsi_srv *s,
					  const char *disk)
{
	struct tgt_target *t = NULL;

	pthread_mutex_lock(&s->lock);
	for (struct iscsi_export *e = s->exports; e != NULL; e = e->next)
		if (strcmp(e->disk, disk) == 0) {
			t = tgt_target_hold(e->t);
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return t;
}

void iscsi_export_add_locked(struct iscsi_srv *s, struct bdev *bd)
{
	const char *disk = bdev_name(bd);
	struct iscsi_tcfg *tc = iscsi_tcfg_get(s, disk, strlen(disk), false);
	struct iscsi_export *e;
	uint32_t lun_id;
	const char *parent = iscsi_lun_parent(s, disk, &lun_id);

	if (parent != NULL) {
		/* An extra LUN: joins its target now if that exists, else
		 * when the target's own disk arrives. */
		struct tgt_target *t = iscsi_export_target_of(s, parent);
		if (t != NULL) {
			if (iscsi_lun_attach(t, lun_id, bd) == 0)
				log_info("iscsi: %s is LUN %u of %s", disk,
					 lun_id, tgt_target_name(t));
			tgt_target_release(t);
		}
		return;
	}

	pthread_mutex_lock(&s->lock);
	for (e = s->exports; e != NULL; e = e->next)
		if (strcmp(e->disk, disk) == 0) {
			pthread_mutex_unlock(&s->lock);
			return;
		}
	pthread_mutex_unlock(&s->lock);

	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return;
	snprintf(e->disk, sizeof(e->disk), "%s", disk);
	if (tc != NULL && tc->iqn[0] != '\0')
		snprintf(e->iqn, sizeof(e->iqn), "%s", tc->iqn);
	else
		snprintf(e->iqn, sizeof(e->iqn), "%s%s", s->iqn_prefix, disk);
	/* iSCSI names compare case-insensitively; keep them lower case. */
	for (char *p = e->iqn; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	e->t = tgt_target_create(e->iqn);
	/* Block Limits reports what this front end accepts per command. */
	if (e->t != NULL)
		tgt_target_set_max_xfer(e->t, s->max_cmd_data);
	struct tgt_lun *lun = e->t ? tgt_lun_create(bd, NULL) : NULL;
	if (lun == NULL || tgt_target_add_lun(e->t, 0, lun) < 0) {
		log_warn("iscsi: cannot export disk %s", disk);
		if (lun != NULL)
			tgt_lun_release(lun);
		if (e->t != NULL)
			tgt_target_release(e->t);
		free(e);
		return;
	}
	tgt_lun_release(lun);	/* the target holds it now */
	/* Extra LUNs whose disks are already there. */
	for (unsigned i = 0; tc != NULL && i < tc->nluns; i++) {
		struct bdev *x = bdev_registry_get(tc->luns[i].disk);
		if (x != NULL) {
			iscsi_lun_attach(e->t, tc->luns[i].id, x);
			bdev_release(x);
		}
	}
	pthread_mutex_lock(&s->lock);
	e->next = s->exports;
	s->exports = e;
	pthread_mutex_unlock(&s->lock);
	log_info("iscsi: exporting %s as %s", disk, e->iqn);
}

void iscsi_export_remove_locked(struct iscsi_srv *s, const char *disk)
{
	struct iscsi_export *e = NULL;
	uint32_t lun_id;
	const char *parent = iscsi_lun_parent(s, disk, &lun_id);

	if (parent != NULL) {
		/* An extra LUN leaves its target; the sessions stay and see
		 * REPORTED LUNS DATA HAS CHANGED. */
		struct tgt_target *t = iscsi_export_target_of(s, parent);
		if (t != NULL) {
			tgt_target_remove_lun(t, lun_id);
			tgt_target_release(t);
		}
		return;
	}

	pthread_mutex_lock(&s->lock);
	for (struct iscsi_export **pp = &s->exports; *pp != NULL;
	     pp = &(*pp)->next)
		if (strcmp((*pp)->disk, disk) == 0) {
			e = *pp;
			*pp = e->next;
			break;
		}
	pthread_mutex_unlock(&s->lock);
	if (e == NULL)
		return;
	/* The LUN goes first, so a command racing the close gets LOGICAL
	 * UNIT NOT SUPPORTED rather than touching the disk; then the
	 * sessions to the target end (docs/control-socket.md: connections
	 * using a removed disk end). */
	tgt_target_remove_lun(e->t, 0);
	iscsi_srv_broadcast_abort(s, NULL, e->t, UINT32_MAX, true);
	tgt_target_release(e->t);
	log_info("iscsi: no longer exporting %s", e->iqn);
	free(e);
}

static void registry_cb(enum bdev_registry_event ev, struct bdev *bd,
			void *arg)
{
	struct iscsi_srv *s = arg;

	pthread_mutex_lock(&s->cfg_lock);
	if (ev == BDEV_REGISTRY_ADDED)
		iscsi_export_add_locked(s, bd);
	else if (ev == BDEV_REGISTRY_REMOVED)
		iscsi_export_remove_locked(s, bdev_name(bd));
	pthread_mutex_unlock(&s->cfg_lock);
}

/* bdev_registry_foreach holds the registry lock: collect, then export. */
struct disk_list {
	struct bdev *bd[1024];
	unsigned n;
};

static void collect_disk(struct bdev *bd, void *arg)
{
	struct disk_list *l = arg;

	if (l->n < sizeof(l->bd) / sizeof(l->bd[0]))
		l->bd[l->n++] = bdev_hold(bd);
}

struct tgt_target *iscsi_srv_target_get(struct iscsi_srv *s, const char *iqn)
{
	struct tgt_target *t = NULL;

	pthread_mutex_lock(&s->lock);
	for (struct iscsi_export *e = s->exports; e != NULL; e = e->next)
		if (strcasecmp(e->iqn, iqn) == 0) {
			t = tgt_target_hold(e->t);
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return t;
}

/* ---- login support ----------------------------------------------------- */

static bool acl_allows(const struct iscsi_tcfg *tc, const char *initiator)
{
	if (tc == NULL || tc->nacl == 0)
		return true;
	for (unsigned i = 0; i < tc->nacl; i++)
		if (strcasecmp(tc->acl[i], initiator) == 0)
			return true;
	return false;
}

static void fill_pref(struct iscsi_srv *s, struct iscsi_params *p)
{
	iscsi_params_defaults(p);
	p->header_digest = s->hdigest_mask;
	p->data_digest = s->ddigest_mask;
	p->max_connections = 1;
	p->initial_r2t = s->initial_r2t;
	p->immediate_data = s->immediate_data;
	p->max_recv_dsl = s->max_recv_dsl;
	p->max_burst = s->max_burst;
	p->first_burst = s->first_burst;
	p->max_outstanding_r2t = s->max_outstanding_r2t;
	p->erl = 0;
	p->protocol_level = 1;	/* RFC 7144: RFC 7143 is level 1 */
}

static void copy_chap(struct iscsi_login_target *t,
		      const struct iscsi_tcfg *tc)
{
	if (tc->chap) {
		t->chap = true;
		memcpy(t->chap_user, tc->chap_user, sizeof(t->chap_user));
		memcpy(t->chap_secret, tc->chap_secret, sizeof(t->chap_secret));
	}
	if (tc->mutual) {
		t->mutual = true;
		memcpy(t->mutual_user, tc->mutual_user, sizeof(t->mutual_user));
		memcpy(t->mutual_secret, tc->mutual_secret,
		       sizeof(t->mutual_secret));
	}
}

static uint16_t login_lookup_locked(struct iscsi_srv *s,
				    const char *target_name,
				    const char *initiator_name,
				    struct iscsi_login_target *t);

/* Settings change at run time (tgt_cfg.c): read them under cfg_lock. */
uint16_t iscsi_srv_login_lookup(void *arg, const char *target_name,
				const char *initiator_name,
				struct iscsi_login_target *t)
{
	struct iscsi_srv *s = arg;
	uint16_t st;

	pthread_mutex_lock(&s->cfg_lock);
	st = login_lookup_locked(s, target_name, initiator_name, t);
	pthread_mutex_unlock(&s->cfg_lock);
	return st;
}

static uint16_t login_lookup_locked(struct iscsi_srv *s,
				    const char *target_name,
				    const char *initiator_name,
				    struct iscsi_login_target *t)
{
	const struct iscsi_tcfg *tc = NULL, *all = iscsi_tcfg_get(s, "*", 1, false);
	char disk[64] = "";

	fill_pref(s, &t->pref);
	t->tpgt = 1;
	if (target_name == NULL) {
		tc = iscsi_tcfg_get(s, "discovery", 9, false);
		snprintf(t->name, sizeof(t->name), "discovery");
	} else {
		bool found = false;
		pthread_mutex_lock(&s->lock);
		for (struct iscsi_export *e = s->exports; e != NULL; e = e->next)
			if (strcasecmp(e->iqn, target_name) == 0) {
				snprintf(disk, sizeof(disk), "%s", e->disk);
				snprintf(t->name, sizeof(t->name), "%s", e->iqn);
				found = true;
				break;
			}
		pthread_mutex_unlock(&s->lock);
		if (!found)
			return ISCSI_LS_NOT_FOUND;
		tc = iscsi_tcfg_get(s, disk, strlen(disk), false);
		if (!acl_allows(tc, initiator_name) ||
		    !acl_allows(all, initiator_name))
			return ISCSI_LS_AUTHZ_FAILED;
		if (tc != NULL && tc->alias[0] != '\0')
			snprintf(t->alias, sizeof(t->alias), "%s", tc->alias);
	}
	/* Secrets: the target's own, else the '*' ones (not for
	 * discovery, which has its own entry). */
	if (tc != NULL && (tc->chap || tc->mutual))
		copy_chap(t, tc);
	else if (all != NULL && target_name != NULL)
		copy_chap(t, all);
	return 0;
}

void iscsi_srv_send_targets(struct iscsi_srv *s, struct iscsi_conn *c,
			    const char *iqn, struct iscsi_text_out *out)
{
	pthread_mutex_lock(&s->cfg_lock);
	const struct iscsi_tcfg *all = iscsi_tcfg_get(s, "*", 1, false);

	pthread_mutex_lock(&s->lock);
	for (struct iscsi_export *e = s->exports; e != NULL; e = e->next) {
		if (iqn != NULL && strcasecmp(e->iqn, iqn) != 0)
			continue;
		const struct iscsi_tcfg *tc =
			iscsi_tcfg_get(s, e->disk, strlen(e->disk), false);
		if (!acl_allows(tc, c->initiator) ||
		    !acl_allows(all, c->initiator))
			continue;
		iscsi_text_add(out, "TargetName", e->iqn);
		/* Every portal, each with its group tag, so an initiator can
		 * find every path; a wildcard listener is reachable at the
		 * address this session came to. */
		for (const struct iscsi_portal *p = s->portals; p != NULL;
		     p = p->next) {
			if (p->fd < 0)
				continue;
			if (p->addr[0] != '\0')
				iscsi_text_addf(out, "TargetAddress", "%s,%u",
						p->addr, p->tpgt);
			else if (p->tpgt == c->tpgt)
				iscsi_text_addf(out, "TargetAddress", "%s,%u",
						c->local, p->tpgt);
		}
	}
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->cfg_lock);
}

uint16_t iscsi_srv_session_add(struct iscsi_srv *s, struct iscsi_conn *c)
{
	uint16_t st = 0;

	pthread_mutex_lock(&s->lock);
	if (s->stopping) {
		st = ISCSI_LS_SERVICE_UNAVAILABLE;
		goto out_unlock;
	}
	if (s->nsessions >= s->max_sessions) {
		st = ISCSI_LS_OUT_OF_RESOURCES;
		goto out_unlock;
	}
	/* Session reinstatement (RFC 7143 6.3.5): the same initiator and
	 * ISID logging in again with TSIH 0 ends the old session. */
	for (struct iscsi_conn *o = s->conns; o != NULL; o = o->next) {
		if (o == c || !o->in_session || o->discovery != c->discovery)
			continue;
		/* The session is the ISID and the portal group (SSID). */
		if (memcmp(o->isid, c->isid, 6) != 0 || o->tpgt != c->tpgt ||
		    strcasecmp(o->initiator, c->initiator) != 0 ||
		    strcasecmp(o->target_name, c->target_name) != 0)
			continue;
		log_info("iscsi: reinstating session of %s (TSIH %u)",
			 o->initiator, o->tsih);
		iscsi_conn_post_kill(o);
	}
	c->tsih = s->next_tsih++;
	if (s->next_tsih == 0)
		s->next_tsih = 1;
	c->in_session = true;
	s->nsessions++;
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return st;
}

void iscsi_srv_broadcast_abort(struct iscsi_srv *s, struct iscsi_conn *from,
			       struct tgt_target *t, uint32_t lun, bool close)
{
	pthread_mutex_lock(&s->lock);
	for (struct iscsi_conn *o = s->conns; o != NULL; o = o->next) {
		if (o == from || !o->in_session || o->tgt != t)
			continue;
		if (close)
			iscsi_conn_post_kill(o);
		else
			iscsi_conn_post_abort(o, lun);
	}
	pthread_mutex_unlock(&s->lock);
}

int iscsi_srv_start(struct iscsi_srv *s, struct ev_loop *main_loop,
		    char *err, size_t errlen)
{
	s->main_loop = main_loop;
	if (s->portals_none) {
		log_info("iscsi: disabled (--iscsi none)");
		return 0;
	}
	if (!s->portals_given &&
	    iscsi_srv_add_portal(s, ISCSI_DEFAULT_PORTAL, err, errlen) < 0)
		return -1;
	if (s->first_burst > s->max_burst)
		s->first_burst = s->max_burst;
	s->admit.max_per_peer = s->max_per_peer; /* no connection yet */
	for (struct iscsi_portal *p = s->portals; p != NULL; p = p->next)
		if (iscsi_portal_open(s, p, err, errlen) < 0) {
			iscsi_portals_close(s);
			return -1;
		}
	s->registry_handle = bdev_registry_listen(registry_cb, s);
	struct disk_list *dl = calloc(1, sizeof(*dl));
	if (dl != NULL) {
		bdev_registry_foreach(collect_disk, dl);
		pthread_mutex_lock(&s->cfg_lock);
		for (unsigned i = 0; i < dl->n; i++) {
			iscsi_export_add_locked(s, dl->bd[i]);
			bdev_release(dl->bd[i]);
		}
		pthread_mutex_unlock(&s->cfg_lock);
		free(dl);
	}
	s->started = true;
	return 0;
}

void iscsi_srv_stop(struct iscsi_srv *s)
{
	if (s == NULL)
		return;
	if (s->registry_handle >= 0)
		bdev_registry_unlisten(s->registry_handle);
	s->registry_handle = -1;
	iscsi_portals_close(s);
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	for (struct iscsi_conn *c = s->conns; c != NULL; c = c->next)
		iscsi_conn_post_kill(c);
	pthread_mutex_unlock(&s->lock);
	iscsi_srv_release(s);
}

/* ---- control ------------------------------------------------------------ */

/* One session as a line or, with json, an object. */
static void ctl_session(FILE *out, const struct iscsi_conn *c, bool json)
{
	char isid[13];

	snprintf(isid, sizeof(isid), "%02x%02x%02x%02x%02x%02x", c->isid[0],
		 c->isid[1], c->isid[2], c->isid[3], c->isid[4], c->isid[5]);
	if (!json) {
		fprintf(out,
			"tsih=%u %s isid=%s target=%s peer=%s hdigest=%s "
			"ddigest=%s cmds=%llu\n",
			c->tsih, c->initiator, isid,
			c->discovery ? "(discovery)" : c->target_name, c->peer,
			c->hdig ? "CRC32C" : "None", c->ddig ? "CRC32C" : "None",
			(unsigned long long)c->n_cmds);
		return;
	}
	fprintf(out, "{\"tsih\": %u, \"initiator\": ", c->tsih);
	sk_json_str(out, c->initiator);
	fprintf(out, ", \"isid\": \"%s\", \"discovery\": %s, \"target\": ",
		isid, c->discovery ? "true" : "false");
	sk_json_str(out, c->discovery ? "" : c->target_name);
	fputs(", \"peer\": ", out);
	sk_json_str(out, c->peer);
	fprintf(out, ", \"header_digest\": \"%s\", \"data_digest\": \"%s\", "
		     "\"cmds\": %llu}",
		c->hdig ? "CRC32C" : "None", c->ddig ? "CRC32C" : "None",
		(unsigned long long)c->n_cmds);
}

/* "iscsi sessions|targets|portals [--json]"; --json may come anywhere. */
int iscsi_srv_ctl(struct iscsi_srv *s, int argc, char **argv, FILE *out)
{
	const char *what = "sessions";
	bool json = false;
	int n = 0;

	if (argc > 1 && iscsi_cfg_is_request(argv[1]))
		return iscsi_cfg_ctl(s, argc - 1, argv + 1, out);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (n++ == 0)
			what = argv[i];
	}
	if (n > 1) {
		fprintf(out, "usage: iscsi sessions|targets|portals [--json]\n");
		return -1;
	}
	if (json)
		fputc('[', out);
	if (strcmp(what, "targets") == 0) {
		pthread_mutex_lock(&s->lock);
		for (struct iscsi_export *e = s->exports; e != NULL; e = e->next) {
			if (!json) {
				fprintf(out, "%s disk=%s\n", e->iqn, e->disk);
				continue;
			}
			fputs(e == s->exports ? "{\"iqn\": " : ", {\"iqn\": ", out);
			sk_json_str(out, e->iqn);
			fputs(", \"disk\": ", out);
			sk_json_str(out, e->disk);
			fputc('}', out);
		}
		pthread_mutex_unlock(&s->lock);
	} else if (strcmp(what, "portals") == 0) {
		for (struct iscsi_portal *p = s->portals; p != NULL; p = p->next) {
			if (!json) {
				fprintf(out, "%s,%u%s\n", p->spec, p->tpgt,
					p->fd >= 0 ? "" : " (closed)");
				continue;
			}
			fputs(p == s->portals ? "{\"portal\": " : ", {\"portal\": ",
			      out);
			sk_json_str(out, p->spec);
			fprintf(out, ", \"tag\": %u, \"open\": %s}", p->tpgt,
				p->fd >= 0 ? "true" : "false");
		}
	} else if (strcmp(what, "sessions") == 0) {
		bool first = true;

		pthread_mutex_lock(&s->lock);
		for (struct iscsi_conn *c = s->conns; c != NULL; c = c->next) {
			if (!c->in_session)
				continue;
			if (json && !first)
				fputs(", ", out);
			first = false;
			ctl_session(out, c, json);
		}
		pthread_mutex_unlock(&s->lock);
	} else {
		fprintf(out, "usage: iscsi sessions|targets|portals [--json] | "
			     "acl|chap|mutual-chap|lun|portal|config ...\n");
		return -1;
	}
	if (json)
		fputs("]\n", out);
	return 0;
}
