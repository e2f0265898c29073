/*
 * The iSCSI target's settings changed at run time, and written back out:
 * the control requests "iscsi acl|chap|mutual-chap|lun|portal ..." (what
 * targetcli and tgtadm users do to a running target) and "iscsi config",
 * which prints every setting as lines of the daemon's config file, so that
 * `scsikit config save` followed by `scsikit serve --config` restores the
 * same target exactly.
 *
 * Changes take effect for logins that come after them: the login lookup
 * (tgt_srv.c) reads the per-target settings under cfg_lock at each login;
 * sessions already logged in keep what they were given, except that a LUN
 * unmapped disappears from them at once (REPORTED LUNS DATA HAS CHANGED).
 * Secrets are never logged; "iscsi config" prints them because a saved
 * config must hold them (the control socket is its owner's only).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "iscsi/tgt_int.h"

#define TCFG_NAME_MAX (sizeof(((struct iscsi_tcfg *)0)->disk) - 1)

int iscsi_tcfg_acl_add(struct iscsi_tcfg *t, const char *initiator,
		       char *err, size_t errlen)
{
	if (!iscsi_cfg_word_ok(initiator, ISCSI_NAME_MAX)) {
		snprintf(err, errlen, "initiator name: 1 to %d printable "
			 "characters, no blank or '#'", ISCSI_NAME_MAX);
		return -1;
	}
	for (unsigned i = 0; i < t->nacl; i++)
		if (strcasecmp(t->acl[i], initiator) == 0)
			return 0;
	if (t->nacl >= ISCSI_ACL_MAX) {
		snprintf(err, errlen, "too many ACL entries (%d)",
			 ISCSI_ACL_MAX);
		return -1;
	}
	snprintf(t->acl[t->nacl++], sizeof(t->acl[0]), "%s", initiator);
	return 0;
}

int iscsi_tcfg_lun_add(struct iscsi_tcfg *t, uint32_t id, const char *disk,
		       char *err, size_t errlen)
{
	if (id == 0 || id >= TGT_MAX_LUNS) {
		snprintf(err, errlen, "LUN %u: use 1..%d (LUN 0 is the "
			 "target's own disk)", id, TGT_MAX_LUNS - 1);
		return -1;
	}
	if (!iscsi_cfg_word_ok(disk, TCFG_NAME_MAX) ||
	    strcmp(disk, t->disk) == 0) {
		snprintf(err, errlen, "bad disk name '%s'", disk);
		return -1;
	}
	for (unsigned i = 0; i < t->nluns; i++)
		if (t->luns[i].id == id) {
			snprintf(err, errlen, "LUN %u of %s is mapped already",
				 id, t->disk);
			return -1;
		}
	if (t->nluns >= ISCSI_EXTRA_LUNS) {
		snprintf(err, errlen, "too many LUNs (%d)", ISCSI_EXTRA_LUNS);
		return -1;
	}
	t->luns[t->nluns].id = id;
	snprintf(t->luns[t->nluns].disk, sizeof(t->luns[0].disk), "%s", disk);
	t->nluns++;
	return 0;
}

enum target_word {
	TW_DISK = 0,		/* a disk's name */
	TW_ALL = 1,		/* or "*": every target */
	TW_DISCOVERY = 2,	/* or "discovery": discovery sessions */
};

/* Is w a target word of the kinds allowed (a mask of enum target_word)?
 * Disk names are as `serve --disk` accepts them. */
static bool target_word_ok(const char *w, unsigned allowed, FILE *out)
{
	size_t n = strspn(w, "abcdefghijklmnopqrstuvwxyz"
			     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");

	/* "discovery" names discovery sessions' settings, never a disk's
	 * (discovery sessions have no ACL and no LUNs). */
	if (strcmp(w, "discovery") == 0 && !(allowed & TW_DISCOVERY))
		n = 0;
	if ((n > 0 && n <= TCFG_NAME_MAX && w[n] == '\0') ||
	    ((allowed & TW_ALL) && strcmp(w, "*") == 0) ||
	    ((allowed & TW_DISCOVERY) && strcmp(w, "discovery") == 0))
		return true;
	fprintf(out, "bad target '%s': name it by its disk%s%s", w,
		allowed & TW_ALL ? ", '*'" : "",
		allowed & TW_DISCOVERY ? ", 'discovery'" : "");
	return false;
}

/* Is argv "WORD add|remove ..." with argc words?  If not, usage goes to
 * out. */
static bool add_remove_args(int argc, int want, char **argv, FILE *out,
			    const char *usage)
{
	if (argc == want && (strcmp(argv[1], "add") == 0 ||
			     strcmp(argv[1], "remove") == 0))
		return true;
	fprintf(out, "usage: %s", usage);
	return false;
}

/* ---- ACL ---------------------------------------------------------------- */

static int cfg_acl(struct iscsi_srv *s, int argc, char **argv, FILE *out)
{
	char err[160];
	int rc = 0;

	if (!add_remove_args(argc, 4, argv, out,
			     "iscsi acl add|remove TARGET INITIATOR") ||
	    !target_word_ok(argv[2], TW_ALL, out))
		return -1;
	pthread_mutex_lock(&s->cfg_lock);
	struct iscsi_tcfg *t = iscsi_tcfg_get(s, argv[2], strlen(argv[2]),
					      argv[1][0] == 'a');
	if (argv[1][0] == 'a') {
		if (t == NULL) {
			fprintf(out, "cannot add settings for %s (out of "
				     "memory, or %d targets have some)",
				argv[2], ISCSI_TCFG_MAX);
			rc = -1;
		} else if (iscsi_tcfg_acl_add(t, argv[3], err,
					      sizeof(err)) < 0) {
			fprintf(out, "%s", err);
			rc = -1;
		}
	} else {
		unsigned i = 0;

		while (t != NULL && i < t->nacl &&
		       strcasecmp(t->acl[i], argv[3]) != 0)
			i++;
		if (t == NULL || i == t->nacl) {
			fprintf(out, "%s is not in the ACL of %s", argv[3],
				argv[2]);
			rc = -1;
		} else {
			memmove(t->acl[i], t->acl[i + 1],
				(t->nacl - i - 1) * sizeof(t->acl[0]));
			t->nacl--;
		}
	}
	pthread_mutex_unlock(&s->cfg_lock);
	if (rc == 0)
		log_info("iscsi: ACL of %s: %s %s", argv[2],
			 argv[1][0] == 'a' ? "added" : "removed", argv[3]);
	return rc;
}

/* ---- CHAP --------------------------------------------------------------- */

static int cfg_chap(struct iscsi_srv *s, int argc, char **argv, FILE *out)
{
	bool mutual = argv[0][0] == 'm';
	char err[200];

	if (argc == 5 && strcmp(argv[1], "set") == 0) {
		if (!target_word_ok(argv[2], TW_ALL | TW_DISCOVERY, out))
			return -1;
		if (iscsi_tcfg_set_chap(s, argv[2], strlen(argv[2]), mutual,
					argv[3], argv[4], err,
					sizeof(err)) < 0) {
			fprintf(out, "%s", err);
			return -1;
		}
		log_info("iscsi: %s of %s set (user %s)", argv[0], argv[2],
			 argv[3]);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "clear") == 0) {
		if (!target_word_ok(argv[2], TW_ALL | TW_DISCOVERY, out))
			return -1;
		pthread_mutex_lock(&s->cfg_lock);
		struct iscsi_tcfg *t = iscsi_tcfg_get(s, argv[2],
						      strlen(argv[2]), false);
		if (t != NULL && mutual) {
			t->mutual = false;
			memset(t->mutual_user, 0, sizeof(t->mutual_user));
			memset(t->mutual_secret, 0, sizeof(t->mutual_secret));
		} else if (t != NULL) {
			t->chap = false;
			memset(t->chap_user, 0, sizeof(t->chap_user));
			memset(t->chap_secret, 0, sizeof(t->chap_secret));
		}
		pthread_mutex_unlock(&s->cfg_lock);
		log_info("iscsi: %s of %s cleared", argv[0], argv[2]);
		return 0;
	}
	fprintf(out, "usage: iscsi %s set TARGET USER SECRET | iscsi %s "
		     "clear TARGET", argv[0], argv[0]);
	return -1;
}

/* ---- LUN maps ----------------------------------------------------------- */

static int parse_lun_id(const char *w, uint32_t *id, FILE *out)
{
	char *end;
	unsigned long v = strtoul(w, &end, 10);

	if (w[0] < '0' || w[0] > '9' || *end != '\0' || v == 0 ||
	    v >= TGT_MAX_LUNS) {
		fprintf(out, "LUN '%s': use 1..%d (LUN 0 is the target's own "
			     "disk)", w, TGT_MAX_LUNS - 1);
		return -1;
	}
	*id = (uint32_t)v;
	return 0;
}

/*
 * "lun map T N DISK": DISK becomes LUN N of T's target and stops being a
 * target of its own (as with iscsi-lun in the config, so that the saved
 * config restores the same layout).  Caller holds cfg_lock.
 */
static int lun_map_locked(struct iscsi_srv *s, const char *tname, uint32_t id,
			  const char *disk, FILE *out)
{
	struct iscsi_tcfg *t, *dt;
	struct tgt_target *tt;
	struct bdev *bd;
	uint32_t other_id;
	const char *parent;
	char err[160];

	tt = iscsi_export_target_of(s, tname);
	if (tt == NULL) {
		fprintf(out, "no target exports disk '%s'", tname);
		return -1;
	}
	tgt_target_release(tt);
	if ((parent = iscsi_lun_parent(s, disk, &other_id)) != NULL) {
		fprintf(out, "%s is LUN %u of %s already", disk, other_id,
			parent);
		return -1;
	}
	if ((parent = iscsi_lun_parent(s, tname, &other_id)) != NULL) {
		fprintf(out, "%s is itself LUN %u of %s", tname, other_id,
			parent);
		return -1;
	}
	dt = iscsi_tcfg_get(s, disk, strlen(disk), false);
	if (dt != NULL && dt->nluns > 0) {
		fprintf(out, "%s has LUNs of its own", disk);
		return -1;
	}
	t = iscsi_tcfg_get(s, tname, strlen(tname), true);
	if (t == NULL) {
		fprintf(out, "out of memory");
		return -1;
	}
	if (iscsi_tcfg_lun_add(t, id, disk, err, sizeof(err)) < 0) {
		fprintf(out, "%s", err);
		return -1;
	}
	/* Its own target goes (its sessions end), then it joins T's.  The
	 * new entry (the last) is hidden meanwhile, or the removal would
	 * take it for the LUN. */
	t->nluns--;
	iscsi_export_remove_locked(s, disk);
	t->nluns++;
	tt = iscsi_export_target_of(s, tname);
	bd = bdev_registry_get(disk);
	if (tt != NULL && bd != NULL) {
		int r = iscsi_lun_attach(tt, id, bd);

		if (r < 0) {
			t->nluns--;
			iscsi_export_add_locked(s, bd);
			fprintf(out, "cannot map %s at LUN %u of %s: %s", disk,
				id, tname, strerror(-r));
			tgt_target_release(tt);
			bdev_release(bd);
			return -1;
		}
	}
	if (tt != NULL)
		tgt_target_release(tt);
	if (bd != NULL)
		bdev_release(bd);
	log_info("iscsi: %s mapped at LUN %u of %s%s", disk, id, tname,
		 bd == NULL || tt == NULL ? " (when both disks exist)" : "");
	return 0;
}

/* "lun unmap T N": the LUN leaves T's target (sessions see REPORTED LUNS
 * DATA HAS CHANGED) and its disk is a target of its own again. */
static int lun_unmap_locked(struct iscsi_srv *s, const char *tname,
			    uint32_t id, FILE *out)
{
	struct iscsi_tcfg *t = iscsi_tcfg_get(s, tname, strlen(tname), false);
	char disk[sizeof(t->luns[0].disk)];
	struct tgt_target *tt;
	struct bdev *bd;
	unsigned i = 0;

	while (t != NULL && i < t->nluns && t->luns[i].id != id)
		i++;
	if (t == NULL || i == t->nluns) {
		fprintf(out, "no LUN %u mapped in %s", id, tname);
		return -1;
	}
	memcpy(disk, t->luns[i].disk, sizeof(disk));
	memmove(&t->luns[i], &t->luns[i + 1],
		(t->nluns - i - 1) * sizeof(t->luns[0]));
	t->nluns--;
	tt = iscsi_export_target_of(s, tname);
	if (tt != NULL) {
		tgt_target_remove_lun(tt, id);
		tgt_target_release(tt);
	}
	bd = bdev_registry_get(disk);
	if (bd != NULL) {
		iscsi_export_add_locked(s, bd);
		bdev_release(bd);
	}
	log_info("iscsi: LUN %u (%s) unmapped from %s", id, disk, tname);
	return 0;
}

static int cfg_lun(struct iscsi_srv *s, int argc, char **argv, FILE *out)
{
	uint32_t id;
	int rc;

	if (!((argc == 5 && strcmp(argv[1], "map") == 0) ||
	      (argc == 4 && strcmp(argv[1], "unmap") == 0))) {
		fprintf(out, "usage: iscsi lun map TARGET N DISK | iscsi lun "
			     "unmap TARGET N");
		return -1;
	}
	if (!target_word_ok(argv[2], TW_DISK, out) ||
	    parse_lun_id(argv[3], &id, out) < 0)
		return -1;
	if (argc == 5 && !target_word_ok(argv[4], TW_DISK, out))
		return -1;
	pthread_mutex_lock(&s->cfg_lock);
	if (argc == 5)
		rc = lun_map_locked(s, argv[2], id, argv[4], out);
	else
		rc = lun_unmap_locked(s, argv[2], id, out);
	pthread_mutex_unlock(&s->cfg_lock);
	return rc;
}

/* ---- portals ------------------------------------------------------------ */

/* Portals are touched only on main_loop's thread, where requests run. */
static int cfg_portal(struct iscsi_srv *s, int argc, char **argv, FILE *out)
{
	struct iscsi_portal **pp, *p;
	char err[200];
	unsigned open = 0;

	if (!add_remove_args(argc, 3, argv, out,
			     "iscsi portal add|remove HOST:PORT"))
		return -1;
	if (!s->started) {
		fprintf(out, "iSCSI is disabled in this daemon (--iscsi none)");
		return -1;
	}
	for (pp = &s->portals; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->spec, argv[2]) == 0)
			break;
	for (p = s->portals; p != NULL; p = p->next)
		open += p->fd >= 0;
	if (argv[1][0] == 'a') {
		if (*pp != NULL) {
			fprintf(out, "portal %s exists already", argv[2]);
			return -1;
		}
		if (!iscsi_cfg_word_ok(argv[2], sizeof(p->spec) - 1) ||
		    strcasecmp(argv[2], "none") == 0 ||
		    iscsi_srv_add_portal(s, argv[2], err, sizeof(err)) < 0) {
			fprintf(out, "bad portal address '%s'", argv[2]);
			return -1;
		}
		/* add_portal appended it: *pp is the new one. */
		if (iscsi_portal_open(s, *pp, err, sizeof(err)) < 0) {
			p = *pp;
			*pp = NULL;
			free(p);
			fprintf(out, "%s", err);
			return -1;
		}
		return 0;
	}
	p = *pp;
	if (p == NULL) {
		fprintf(out, "no portal %s", argv[2]);
		return -1;
	}
	if (p->fd >= 0 && open == 1) {
		fprintf(out, "%s is the last portal (start with --iscsi none "
			     "to run without iSCSI)", argv[2]);
		return -1;
	}
	*pp = p->next;
	if (p->io != NULL)
		ev_io_del(p->io);
	if (p->fd >= 0)
		close(p->fd);
	log_info("iscsi: no longer listening on %s", p->spec);
	free(p);
	return 0;
}

/* ---- the settings as config-file lines ---------------------------------- */

static const char *digest_word(uint32_t mask)
{
	if (mask == ISCSI_DIGEST_NONE)
		return "none";
	if (mask == ISCSI_DIGEST_CRC32C)
		return "crc32c";
	return "both";
}

static void save_tcfg(const struct iscsi_tcfg *t, FILE *out)
{
	if (t->iqn[0] != '\0')
		fprintf(out, "iscsi-target %s:%s\n", t->disk, t->iqn);
	if (t->alias[0] != '\0')
		fprintf(out, "iscsi-alias %s:%s\n", t->disk, t->alias);
	for (unsigned i = 0; i < t->nacl; i++)
		fprintf(out, "iscsi-acl %s:%s\n", t->disk, t->acl[i]);
	if (t->chap)
		fprintf(out, "iscsi-chap %s:%s:%s\n", t->disk, t->chap_user,
			t->chap_secret);
	if (t->mutual)
		fprintf(out, "iscsi-mutual-chap %s:%s:%s\n", t->disk,
			t->mutual_user, t->mutual_secret);
	for (unsigned i = 0; i < t->nluns; i++)
		fprintf(out, "iscsi-lun %s:%u:%s\n", t->disk, t->luns[i].id,
			t->luns[i].disk);
}

static int tcfg_cmp(const void *a, const void *b)
{
	const struct iscsi_tcfg *const *x = a, *const *y = b;

	return strcmp((*x)->disk, (*y)->disk);
}

/* Every setting, in an order that does not depend on the order changes
 * were made (targets sorted by disk name), so two daemons configured alike
 * print the same text. */
static int cfg_save(struct iscsi_srv *s, FILE *out)
{
	struct iscsi_tcfg **v = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (s->portals_none)
		fprintf(out, "iscsi none\n");
	for (struct iscsi_portal *p = s->portals; p != NULL; p = p->next)
		if (p->tpgt == 1)	/* the default tag */
			fprintf(out, "iscsi %s\n", p->spec);
		else
			fprintf(out, "iscsi %s,%u\n", p->spec, p->tpgt);
	fprintf(out, "iscsi-iqn-prefix %s\n", s->iqn_prefix);
	fprintf(out, "iscsi-queue-depth %u\n", s->queue_depth);
	fprintf(out, "iscsi-max-sessions %u\n", s->max_sessions);
	fprintf(out, "iscsi-max-connections %u\n", s->max_conns);
	fprintf(out, "iscsi-max-recv-dsl %u\n", s->max_recv_dsl);
	fprintf(out, "iscsi-max-burst %u\n", s->max_burst);
	fprintf(out, "iscsi-first-burst %u\n", s->first_burst);
	fprintf(out, "iscsi-max-r2t %u\n", s->max_outstanding_r2t);
	fprintf(out, "iscsi-max-cmd-data %u\n", s->max_cmd_data);
	fprintf(out, "iscsi-max-conn-data %llu\n",
		(unsigned long long)s->max_conn_data);
	fprintf(out, "iscsi-nop-interval %u\n", s->nop_interval_ms / 1000);
	fprintf(out, "iscsi-nop-timeout %u\n", s->nop_timeout_ms / 1000);
	fprintf(out, "iscsi-immediate-data %s\n",
		s->immediate_data ? "yes" : "no");
	fprintf(out, "iscsi-initial-r2t %s\n", s->initial_r2t ? "yes" : "no");
	fprintf(out, "iscsi-header-digest %s\n", digest_word(s->hdigest_mask));
	fprintf(out, "iscsi-data-digest %s\n", digest_word(s->ddigest_mask));

	pthread_mutex_lock(&s->cfg_lock);
	for (struct iscsi_tcfg *t = s->tcfgs; t != NULL; t = t->next) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct iscsi_tcfg **nv = realloc(v, nc * sizeof(*v));

			if (nv == NULL) {
				rc = -1;
				break;
			}
			v = nv;
			cap = nc;
		}
		v[n++] = t;
	}
	if (rc == 0) {
		qsort(v, n, sizeof(*v), tcfg_cmp);
		for (size_t i = 0; i < n; i++)
			save_tcfg(v[i], out);
	}
	pthread_mutex_unlock(&s->cfg_lock);
	free(v);
	if (rc < 0)
		fprintf(out, "out of memory");
	return rc;
}

/* ---- dispatch ----------------------------------------------------------- */

static const struct {
	const char *name;
	int (*fn)(struct iscsi_srv *s, int argc, char **argv, FILE *out);
} cfg_requests[] = {
	{ "acl", cfg_acl },
	{ "chap", cfg_chap },
	{ "mutual-chap", cfg_chap },
	{ "lun", cfg_lun },
	{ "portal", cfg_portal },
};

bool iscsi_cfg_is_request(const char *what)
{
	if (strcmp(what, "config") == 0)
		return true;
	for (size_t i = 0; i < sizeof(cfg_requests) / sizeof(cfg_requests[0]);
	     i++)
		if (strcmp(what, cfg_requests[i].name) == 0)
			return true;
	return false;
}

int iscsi_cfg_ctl(struct iscsi_srv *s, int argc, char **argv, FILE *out)
{
	if (strcmp(argv[0], "config") == 0)
		return cfg_save(s, out);
	for (size_t i = 0; i < sizeof(cfg_requests) / sizeof(cfg_requests[0]);
	     i++)
		if (strcmp(argv[0], cfg_requests[i].name) == 0)
			return cfg_requests[i].fn(s, argc, argv, out);
	fprintf(out, "unknown iscsi request '%s'", argv[0]);
	return -1;
}
