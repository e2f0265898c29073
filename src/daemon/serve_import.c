/*
 * The import front end of `scsikit serve`: iSCSI LUNs of other targets
 * become disks of this daemon, which its export front ends (iSCSI, NBD,
 * ...) serve again.
 *
 *   --import [NAME=]iscsi://[user%secret@]host[:port]/iqn[/lun][?opts]
 *                                 repeatable; NAME names the disk (default
 *                                 impN); without /lun every direct-access
 *                                 LUN is imported, as NAME-LUN
 *   --import-replacement-timeout S  fail I/O after S seconds without a
 *                                 session (default 120)
 *   --import-backoff MS           first reconnect delay (default 200)
 *   --import none                 nothing
 * Control socket: "import add [NAME=]URL", "import list",
 * "import remove ID".
 *
 *   --import NAME=URL,URL...      one disk over several paths (multipath,
 *                                 src/cam/mpath.c): each URL names the
 *                                 same LU through another portal or
 *                                 gateway; paths are ordered by REPORT
 *                                 TARGET PORT GROUPS and fail over
 *   --import-policy failover|round-robin  path choice (failover)
 *
 * Each import is an iSCSI initiator session (include/scsikit/iscsi_ini.h):
 * a CAM bus on this front end's own loop (a thread started here); after
 * the first login the bus is scanned and every LUN to import is probed
 * with da and added to the disk registry.  Sessions reconnect by
 * themselves; a disk stays registered while its session is down (its I/O
 * waits, then fails after the replacement timeout).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/iscsi_ini.h>
#include <scsikit/log.h>

#include "json_out.h"
#include "serve.h"

#define IMPORT_MAX 32
#define IMPORT_DISKS 16
#define IMPORT_NAME_MAX 48

struct import {
	unsigned id;
	char *url;
	char name[IMPORT_NAME_MAX];
	struct iscsi_ini *sess;
	char disks[IMPORT_DISKS][IMPORT_NAME_MAX + 8];
	unsigned ndisks;
	/* A multipath import: the disk over the paths (held), each path an
	 * import of its own with a session and no registered disk. */
	struct bdev *mp;
	struct import *paths[CAM_MPATH_MAX_PATHS];
	unsigned npaths;
};

struct serve_import {
	struct serve_ctx *ctx;
	char *specs[IMPORT_MAX];
	unsigned nspecs;
	bool disabled;
	uint32_t repl_s, backoff_ms;
	bool have_repl, have_backoff;
	enum cam_mpath_policy policy;
	struct ev_thread *thread;	/* the import loop's thread */
	struct ev_loop *loop;
	bool running;
	struct import *imp[IMPORT_MAX];
	unsigned next_id;
	/* for calls run on the import loop */
	struct iscsi_ini_cfg cur_cfg;
	struct import *cur;
	int cur_rc;
	char cur_err[256];
};

static void *serve_import_create(struct serve_ctx *ctx)
{
	struct serve_import *st = calloc(1, sizeof(*st));

	if (st) {
		st->ctx = ctx;
		st->next_id = 1;
	}
	return st;
}

static int parse_num(const char *v, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long n;

	if (*v < '0' || *v > '9')
		return -1;
	n = strtoul(v, &end, 10);
	if (*end || n > max)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int serve_import_configure(void *arg, const char *key,
				  const char *value, char *err, size_t errlen)
{
	struct serve_import *st = arg;

	if (!strcmp(key, "import")) {
		if (!strcmp(value, "none")) {
			st->disabled = true;
			return 0;
		}
		if (st->nspecs == IMPORT_MAX) {
			snprintf(err, errlen, "too many --import");
			return -1;
		}
		st->specs[st->nspecs] = strdup(value);
		if (!st->specs[st->nspecs]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		st->nspecs++;
		return 0;
	}
	if (!strcmp(key, "import-replacement-timeout")) {
		if (parse_num(value, 86400, &st->repl_s) < 0) {
			snprintf(err, errlen, "bad seconds '%s'", value);
			return -1;
		}
		st->have_repl = true;
		return 0;
	}
	if (!strcmp(key, "import-policy")) {
		if (!strcmp(value, "failover"))
			st->policy = CAM_MPATH_FAILOVER;
		else if (!strcmp(value, "round-robin"))
			st->policy = CAM_MPATH_ROUND_ROBIN;
		else {
			snprintf(err, errlen, "failover or round-robin");
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "import-backoff")) {
		if (parse_num(value, 600000, &st->backoff_ms) < 0 ||
		    st->backoff_ms == 0) {
			snprintf(err, errlen, "bad milliseconds '%s'", value);
			return -1;
		}
		st->have_backoff = true;
		return 0;
	}
	snprintf(err, errlen, "unknown option");
	return -1;
}

static int serve_import_loop_up(struct serve_import *st, char *err,
				size_t errlen)
{
	if (st->running)
		return 0;
	st->thread = ev_thread_start();
	if (!st->thread) {
		snprintf(err, errlen, "cannot start the import thread");
		return -1;
	}
	st->loop = ev_thread_loop(st->thread);
	st->running = true;
	return 0;
}

static void import_make(void *arg)
{
	struct serve_import *st = arg;

	st->cur_rc = iscsi_ini_create(&st->cur_cfg, st->loop, &st->cur->sess,
				      st->cur_err, sizeof(st->cur_err));
}

static void import_unmake(void *arg)
{
	struct import *im = arg;

	iscsi_ini_destroy(im->sess);
	im->sess = NULL;
}

static void import_mp_start(void *arg)
{
	if (cam_mpath_start(arg) < 0)
		log_warn("import: %s: no probe timer", bdev_name(arg));
}

static void import_mp_stop(void *arg)
{
	cam_mpath_stop(arg);
}

static void import_free(struct serve_import *st, struct import *im)
{
	for (unsigned i = 0; i < im->ndisks; i++)
		bdev_registry_remove(im->disks[i]);
	im->ndisks = 0;
	if (im->mp) {
		cam_sync_call(st->loop, import_mp_stop, im->mp);
		bdev_release(im->mp);
		im->mp = NULL;
	}
	for (unsigned i = 0; i < im->npaths; i++)
		import_free(st, im->paths[i]);
	im->npaths = 0;
	if (im->sess)
		cam_sync_call(st->loop, import_unmake, im);
	free(im->url);
	free(im);
}

/* Probe the LUNs of a freshly scanned session and register their disks. */
static int import_disks(struct serve_import *st, struct import *im,
			char *err, size_t errlen)
{
	struct cam_dev_info devs[IMPORT_DISKS];
	uint32_t path = iscsi_ini_path_id(im->sess);
	uint64_t want = iscsi_ini_config(im->sess)->lun;
	unsigned n;

	cam_sync_rescan(st->loop, path);
	n = xpt_dev_list(path, devs, IMPORT_DISKS);
	if (n > IMPORT_DISKS)
		n = IMPORT_DISKS;
	for (unsigned i = 0; i < n; i++) {
		char name[IMPORT_NAME_MAX + 8];
		struct bdev *bd;
		int e, rc;

		if (want != ISCSI_INI_NO_LUN ? devs[i].lun != want
					     : (devs[i].inq[0] & 0x1f) != 0)
			continue;
		if (want != ISCSI_INI_NO_LUN)
			snprintf(name, sizeof(name), "%s", im->name);
		else
			snprintf(name, sizeof(name), "%s-%llu", im->name,
				 (unsigned long long)devs[i].lun);
		bd = cam_sync_da_probe(st->loop, path, devs[i].target,
				       devs[i].lun, name, &e);
		if (!bd) {
			snprintf(err, errlen, "da probe of LUN %llu: %s",
				 (unsigned long long)devs[i].lun,
				 strerror(-e));
			return -1;
		}
		rc = bdev_registry_add(bd);
		bdev_release(bd);
		if (rc < 0) {
			snprintf(err, errlen, "cannot add disk %s: %s", name,
				 strerror(-rc));
			return -1;
		}
		snprintf(im->disks[im->ndisks++], sizeof(im->disks[0]), "%s",
			 name);
		log_info("import %u: %s is LUN %llu of %s", im->id, name,
			 (unsigned long long)devs[i].lun,
			 iscsi_ini_config(im->sess)->target);
	}
	if (im->ndisks == 0) {
		snprintf(err, errlen, "no LUN to import found");
		return -1;
	}
	return 0;
}

/* Create im's session for url and wait until it is logged in; on failure
 * the caller frees im (import_free). */
static int import_session(struct serve_import *st, struct import *im,
			  const char *url, bool path, char *err, size_t errlen)
{
	im->url = strdup(url);
	iscsi_ini_cfg_init(&st->cur_cfg);
	if (st->have_repl)
		st->cur_cfg.replacement_ms = st->repl_s * 1000;
	else if (path)	/* a dead path fails over within half a second */
		st->cur_cfg.replacement_ms = 500;
	if (st->have_backoff)
		st->cur_cfg.backoff_ms = st->backoff_ms;
	if (!im->url ||
	    iscsi_ini_parse_url(url, &st->cur_cfg, err, errlen) < 0)
		return -1;
	st->cur = im;
	cam_sync_call(st->loop, import_make, st);
	if (st->cur_rc < 0) {
		snprintf(err, errlen, "%s", st->cur_err);
		return -1;
	}
	return iscsi_ini_wait_ready(im->sess,
				    st->cur_cfg.login_timeout_ms + 5000, err,
				    errlen);
}

/* ---- multipath imports ---- */

/* Run a data-in CDB on a path's device; the bytes received or -errno. */
static int path_cmd_in(struct serve_import *st, struct import *p,
		       const struct cam_dev_info *dev, const uint8_t *cdb,
		       uint8_t cdb_len, uint8_t *buf, uint32_t len)
{
	struct cam_pass_req r;
	uint32_t cst;

	memset(&r, 0, sizeof(r));
	r.path_id = iscsi_ini_path_id(p->sess);
	r.target = dev->target;
	r.lun = dev->lun;
	r.cdb = cdb;
	r.cdb_len = cdb_len;
	r.dir = CAM_DIR_IN;
	r.data = buf;
	r.dxfer_len = len;
	r.timeout_ms = 5000;
	r.retries = 2;
	r.tag_action = MSG_SIMPLE_Q_TAG;
	cst = cam_pass_run(st->loop, &r);
	if (cam_ccb_status(cst) != CAM_REQ_CMP)
		return r.err < 0 ? r.err : -EIO;
	return r.resid < len ? (int)(len - r.resid) : 0;
}

/* The LU's NAA designator (16 bytes into naa, 0 if none) and the target
 * port group of this path (0 if none) from VPD 83h. */
static int path_identity(struct serve_import *st, struct import *p,
			 const struct cam_dev_info *dev, uint8_t naa[16],
			 uint16_t *tpg)
{
	static const uint8_t cdb[6] = { 0x12, 0x01, 0x83, 0x00, 0xff, 0 };
	uint8_t b[255];
	size_t off, end;
	int rc;

	memset(naa, 0, 16);
	*tpg = 0;
	memset(b, 0, sizeof(b));
	rc = path_cmd_in(st, p, dev, cdb, 6, b, sizeof(b));
	if (rc < 0)
		return rc;
	end = 4 + (size_t)scsi_get16(b + 2);
	if (end > (size_t)rc)	/* never past what came */
		end = (size_t)rc;
	for (off = 4; off + 4 <= end && off + 4 + b[off + 3] <= end;
	     off += 4 + b[off + 3]) {
		uint8_t assoc = (b[off + 1] >> 4) & 3, type = b[off + 1] & 0xf;
		uint8_t dl = b[off + 3];

		if (assoc == 0 && type == 3 && (dl == 8 || dl == 16))
			memcpy(naa, b + off + 4, dl);
		if (assoc == 1 && type == 5 && dl == 4)
			*tpg = scsi_get16(b + off + 6);
	}
	return 0;
}

/* The path's priority from REPORT TARGET PORT GROUPS: 0 active/optimized,
 * 1 active/non-optimized or no ALUA, 2 other states, -1 when the answer
 * is malformed or does not name the path's group (the path then starts
 * failed and is probed). */
static int path_prio(struct serve_import *st, struct import *p,
		     const struct cam_dev_info *dev, uint16_t tpg)
{
	uint8_t cdb[12] = { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0, 0x04, 0, 0, 0 };
	struct cam_rtpg_group g[32];
	uint8_t b[1024];
	unsigned n, i;
	int rc;

	if (tpg == 0)
		return 1;	/* TPGS 0: transport errors alone decide */
	memset(b, 0, sizeof(b));
	rc = path_cmd_in(st, p, dev, cdb, 12, b, sizeof(b));
	if (rc >= 0)	/* only what came: a length past it is a lie */
		rc = cam_rtpg_parse(b, (size_t)rc, g, 32, &n);
	if (rc < 0) {
		log_err("import %s: bad REPORT TARGET PORT GROUPS answer "
			"(%s); path marked failed", p->url, strerror(-rc));
		return -1;
	}
	for (i = 0; i < n; i++)
		if (g[i].id == tpg)
			return g[i].state == 0 ? 0 : g[i].state == 1 ? 1 : 2;
	log_err("import %s: REPORT TARGET PORT GROUPS does not name the "
		"path's group %u; path marked failed", p->url, tpg);
	return -1;
}

/* One path of im: session, device, identity, priority; joins im->mp. */
static int mpath_path_add(struct serve_import *st, struct import *im,
			  const char *url, uint8_t naa0[16], char *err,
			  size_t errlen)
{
	struct cam_dev_info devs[IMPORT_DISKS];
	struct import *p = calloc(1, sizeof(*p));
	uint64_t want;
	uint8_t naa[16];
	uint16_t tpg;
	unsigned n, i;
	struct bdev *bd;
	unsigned npaths_before;
	int e, prio, rc = -1;

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(p->name, sizeof(p->name), "%.40s.p%u", im->name, im->npaths);
	im->paths[im->npaths++] = p;	/* import_free(im) frees it */
	if (import_session(st, p, url, true, err, errlen) < 0)
		return -1;
	want = iscsi_ini_config(p->sess)->lun;
	cam_sync_rescan(st->loop, iscsi_ini_path_id(p->sess));
	n = xpt_dev_list(iscsi_ini_path_id(p->sess), devs, IMPORT_DISKS);
	for (i = 0; i < n && i < IMPORT_DISKS; i++)
		if (want != ISCSI_INI_NO_LUN ? devs[i].lun == want
					     : (devs[i].inq[0] & 0x1f) == 0)
			break;
	if (i == n || i == IMPORT_DISKS) {
		snprintf(err, errlen, "%s: no LUN to import", url);
		return -1;
	}
	if (path_identity(st, p, &devs[i], naa, &tpg) < 0) {
		snprintf(err, errlen, "%s: no device identification", url);
		return -1;
	}
	if (im->mp != NULL && memcmp(naa, naa0, 16) != 0) {
		snprintf(err, errlen, "%s: not the same LU as the first path "
			 "(VPD 83h NAA differs)", url);
		return -1;
	}
	memcpy(naa0, naa, 16);
	prio = path_prio(st, p, &devs[i], tpg);
	bd = cam_sync_da_probe(st->loop, iscsi_ini_path_id(p->sess),
			       devs[i].target, devs[i].lun, p->name, &e);
	if (!bd) {
		snprintf(err, errlen, "%s: da probe: %s", url, strerror(-e));
		return -1;
	}
	npaths_before = im->mp != NULL ? cam_mpath_paths(im->mp, NULL, 0) : 0;
	if (im->mp == NULL) {
		im->mp = cam_mpath_create(im->name, bd, url, prio, st->loop,
					  st->policy,
					  (st->have_repl ? st->repl_s : 120) *
						  1000);
		rc = im->mp != NULL ? 0 : -ENOMEM;
	} else {
		rc = cam_mpath_add_path(im->mp, bd, url, prio);
	}
	bdev_release(bd);
	/* With ALUA the multipath disk keeps reading the path's RTPG. */
	if (rc == 0 && tpg != 0)
		rc = cam_mpath_path_scsi(im->mp, npaths_before,
					 iscsi_ini_path_id(p->sess),
					 devs[i].target, devs[i].lun, tpg);
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot add the path: %s", url,
			 strerror(-rc));
		return -1;
	}
	log_info("import %u: path %s of %s (target port group %u, "
		 "priority %d)", im->id, url, im->name, tpg, prio);
	return 0;
}

/* "URL,URL...": a multipath disk.  A path that cannot be set up now is
 * left out (logged) as long as one can. */
static int import_add_mpath(struct serve_import *st, struct import *im,
			    const char *urls, char *err, size_t errlen)
{
	char *list = strdup(urls), *u = list, *next;
	uint8_t naa[16];
	int rc;

	if (list == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	im->url = strdup(urls);
	for (; u != NULL; u = next) {
		char e[256];

		next = strstr(u, ",iscsi://");
		if (next != NULL)
			*next++ = '\0';
		if (im->npaths == CAM_MPATH_MAX_PATHS) {
			snprintf(err, errlen, "more than %d paths",
				 CAM_MPATH_MAX_PATHS);
			free(list);
			return -1;
		}
		if (mpath_path_add(st, im, u, naa, e, sizeof(e)) < 0)
			log_warn("import %u: path left out: %s", im->id, e);
	}
	free(list);
	if (im->mp == NULL) {
		snprintf(err, errlen, "no usable path");
		return -1;
	}
	cam_sync_call(st->loop, import_mp_start, im->mp);
	rc = bdev_registry_add(im->mp);
	if (rc < 0) {
		snprintf(err, errlen, "cannot add disk %s: %s", im->name,
			 strerror(-rc));
		return -1;
	}
	snprintf(im->disks[im->ndisks++], sizeof(im->disks[0]), "%s",
		 im->name);
	return 0;
}

/* "[NAME=]URL[,URL...]": create the session(s), wait, import the disks. */
static int import_add(struct serve_import *st, const char *spec, char *err,
		      size_t errlen)
{
	const char *url = spec, *eq = strstr(spec, "=iscsi://");
	struct import *im;
	unsigned slot;
	int rc;

	for (slot = 0; slot < IMPORT_MAX && st->imp[slot]; slot++)
		;
	if (slot == IMPORT_MAX) {
		snprintf(err, errlen, "too many imports");
		return -1;
	}
	if (serve_import_loop_up(st, err, errlen) < 0)
		return -1;
	im = calloc(1, sizeof(*im));
	if (!im) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	im->id = st->next_id++;
	if (strncmp(spec, "iscsi://", 8) != 0 && eq) {
		if ((size_t)(eq - spec) >= sizeof(im->name) || eq == spec) {
			snprintf(err, errlen, "bad disk name in '%s'", spec);
			free(im);
			return -1;
		}
		memcpy(im->name, spec, (size_t)(eq - spec));
		url = eq + 1;
	} else {
		snprintf(im->name, sizeof(im->name), "imp%u", im->id);
	}
	if (strstr(url, ",iscsi://") != NULL)
		rc = import_add_mpath(st, im, url, err, errlen);
	else
		rc = import_session(st, im, url, false, err, errlen) < 0 ? -1 :
		     import_disks(st, im, err, errlen);
	if (rc < 0) {
		import_free(st, im);
		return -1;
	}
	st->imp[slot] = im;
	return 0;
}

static int serve_import_start(void *arg, char *err, size_t errlen)
{
	struct serve_import *st = arg;
	char e[256];

	if (st->disabled)
		return 0;
	for (unsigned i = 0; i < st->nspecs; i++)
		if (import_add(st, st->specs[i], e, sizeof(e)) < 0) {
			snprintf(err, errlen, "--import %s: %s", st->specs[i],
				 e);
			return -1;
		}
	return 0;
}

static void serve_import_stop(void *arg)
{
	struct serve_import *st = arg;

	for (unsigned i = 0; i < IMPORT_MAX; i++)
		if (st->imp[i]) {
			import_free(st, st->imp[i]);
			st->imp[i] = NULL;
		}
	if (st->running)
		ev_thread_stop(st->thread);
	for (unsigned i = 0; i < st->nspecs; i++)
		free(st->specs[i]);
	free(st);
}

struct import_list_call {
	struct serve_import *st;
	FILE *out;
	bool json;
	bool first;		/* nothing printed yet (JSON separators) */
};

static void import_list_mpath(struct import_list_call *c, struct import *im);

static void import_list_json(struct import_list_call *c)
{
	fputc('[', c->out);
	for (unsigned i = 0; i < IMPORT_MAX; i++) {
		struct import *im = c->st->imp[i];
		struct iscsi_ini_stats s;

		if (!im)
			continue;
		if (im->mp) {
			import_list_mpath(c, im);
			continue;
		}
		iscsi_ini_get_stats(im->sess, &s);
		fprintf(c->out, "%s{\"id\": %u, \"target\": ",
			c->first ? "" : ", ", im->id);
		json_put_string(c->out, s.target);
		fprintf(c->out,
			", \"bus\": %u, \"state\": \"%s\", \"failed\": %s, "
			"\"tsih\": %u, \"cmds\": %llu, \"reconnects\": %llu, "
			"\"outstanding\": %u, \"disks\": [",
			s.path_id, s.state, s.failed ? "true" : "false",
			s.tsih, (unsigned long long)s.cmds,
			(unsigned long long)s.reconnects, s.outstanding);
		for (unsigned d = 0; d < im->ndisks; d++) {
			if (d)
				fputs(", ", c->out);
			json_put_string(c->out, im->disks[d]);
		}
		fputs("]}", c->out);
		c->first = false;
	}
	fputs("]\n", c->out);
}

/* A multipath import: one line, then one per path ("  path ..."). */
static void import_list_mpath(struct import_list_call *c, struct import *im)
{
	struct cam_mpath_path_info pi[CAM_MPATH_MAX_PATHS];
	unsigned n = cam_mpath_paths(im->mp, pi, CAM_MPATH_MAX_PATHS);

	if (n > CAM_MPATH_MAX_PATHS)
		n = CAM_MPATH_MAX_PATHS;
	if (c->json) {
		fprintf(c->out, "%s\n {\"id\": %u, \"disk\": ",
			c->first ? "" : ",", im->id);
		json_put_string(c->out, im->name);
		fprintf(c->out, ", \"multipath\": true, \"policy\": \"%s\", "
			"\"paths\": [", c->st->policy == CAM_MPATH_ROUND_ROBIN ?
			"round-robin" : "failover");
		for (unsigned i = 0; i < n; i++) {
			fprintf(c->out, "%s{\"url\": ", i ? ", " : "");
			json_put_string(c->out, pi[i].label);
			fprintf(c->out, ", \"state\": \"%s\", \"priority\": %d, "
				"\"ios\": %llu, \"errors\": %llu, "
				"\"failovers\": %llu}",
				pi[i].failed ? "failed" : "active", pi[i].prio,
				(unsigned long long)pi[i].ios,
				(unsigned long long)pi[i].errors,
				(unsigned long long)pi[i].failovers);
		}
		fputs("]}", c->out);
		c->first = false;
		return;
	}
	fprintf(c->out, "%u %s multipath paths=%u\n", im->id, im->name, n);
	for (unsigned i = 0; i < n; i++)
		fprintf(c->out, "  path %s %s prio=%d ios=%llu errors=%llu "
			"failovers=%llu\n", pi[i].label,
			pi[i].failed ? "failed" : "active", pi[i].prio,
			(unsigned long long)pi[i].ios,
			(unsigned long long)pi[i].errors,
			(unsigned long long)pi[i].failovers);
}

static void import_list_on_loop(void *arg)
{
	struct import_list_call *c = arg;

	if (c->json) {
		import_list_json(c);
		return;
	}
	for (unsigned i = 0; i < IMPORT_MAX; i++) {
		struct import *im = c->st->imp[i];
		struct iscsi_ini_stats s;

		if (!im)
			continue;
		if (im->mp) {
			import_list_mpath(c, im);
			continue;
		}
		iscsi_ini_get_stats(im->sess, &s);
		fprintf(c->out,
			"%u %s bus=%u state=%s%s tsih=%u cmds=%llu "
			"reconnects=%llu outstanding=%u disks=",
			im->id, s.target, s.path_id, s.state,
			s.failed ? "(failed)" : "", s.tsih,
			(unsigned long long)s.cmds,
			(unsigned long long)s.reconnects, s.outstanding);
		for (unsigned d = 0; d < im->ndisks; d++)
			fprintf(c->out, "%s%s", d ? "," : "", im->disks[d]);
		fprintf(c->out, "\n");
	}
}

static int serve_import_ctl(void *arg, int argc, char **argv, FILE *out)
{
	struct serve_import *st = arg;
	bool json = serve_ctl_take_flag(&argc, argv, "--json");
	char err[256];

	if (argc >= 3 && !strcmp(argv[1], "add")) {
		if (import_add(st, argv[2], err, sizeof(err)) < 0) {
			fprintf(out, "import add: %s", err);
			return -1;
		}
		fprintf(out, "import %u added\n", st->next_id - 1);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "list")) {
		struct import_list_call c = {st, out, json, true};

		if (st->running)
			cam_sync_call(st->loop, import_list_on_loop, &c);
		else if (json)
			fputs("[]\n", out);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "mpath")) {
		struct import_list_call c = {st, out, true, true};

		fputc('[', out);
		for (unsigned i = 0; i < IMPORT_MAX; i++)
			if (st->imp[i] && st->imp[i]->mp)
				import_list_mpath(&c, st->imp[i]);
		fputs(c.first ? "]\n" : "\n]\n", out);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "remove")) {
		uint32_t id;

		if (parse_num(argv[2], 0xffffffffu, &id) == 0)
			for (unsigned i = 0; i < IMPORT_MAX; i++)
				if (st->imp[i] && st->imp[i]->id == id) {
					import_free(st, st->imp[i]);
					st->imp[i] = NULL;
					fprintf(out, "import %u removed\n", id);
					return 0;
				}
		fprintf(out, "no import '%s'", argv[2]);
		return -1;
	}
	fprintf(out, "usage: import add [NAME=]URL[,URL...] | import list | "
		     "import mpath | import remove ID");
	return -1;
}

const struct serve_frontend serve_frontend_import = {
	.name = "import",
	.usage = "  --import [NAME=]iscsi://[user%secret@]host[:port]/iqn[/lun]"
		 "\n"
		 "                       import iSCSI LUNs as disks (repeatable)"
		 "\n"
		 "  --import-replacement-timeout S  fail I/O after S s without "
		 "a session (120)\n"
		 "  --import NAME=URL,URL...  one disk over several paths to "
		 "one LU\n"
		 "                       (multipath; ordered by ALUA)\n"
		 "  --import-policy failover|round-robin  multipath path "
		 "choice\n"
		 "  --import-backoff MS  first reconnect delay (200)\n"
		 "  --import none        no imports\n",
	.create = serve_import_create,
	.configure = serve_import_configure,
	.start = serve_import_start,
	.stop = serve_import_stop,
	.ctl = serve_import_ctl,
};
