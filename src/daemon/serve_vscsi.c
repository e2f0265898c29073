/*
 * The vscsi front end of `scsikit serve`: virtual SCSI host adapters whose
 * commands are serviced by userland targets (`scsikit vscsi-target`, or
 * anything linked with the vscsi client library) over Unix sockets.
 *
 *   --vscsi PATH              one SIM (CAM bus) listening at PATH;
 *                             repeatable; "none": no vscsi buses
 *   --vscsi-openings N        tagged commands per device (16)
 *   --vscsi-ccbs N            CCB pool per SIM, all preallocated (1024)
 *   --vscsi-stall-timeout MS  drop a userland end that stops reading
 *                             (30000)
 *   --vscsi-inline BYTES      write data up to BYTES travels with the
 *                             command, larger is pulled with DATA_WRITE
 *                             (16384; 0: always pulled)
 *   --vscsi-shm-slot BYTES    slot size of the data area shared with
 *                             the userland end (65536; 0: no area)
 *   --vscsi-export auto|none  auto: every direct-access device the bus
 *                             finds becomes a daemon disk named
 *                             vscsiU-T-L (through the da peripheral),
 *                             removed again when the device is lost
 *
 * Control socket:
 *   vscsi list                      the SIMs, their state and counters
 *   vscsi devs                      the configured devices of every SIM
 *   vscsi add PATH | remove PATH    SIMs at run time
 *   vscsi export PATH T:L NAME      probe T:L with da and add it to the
 *                                   daemon's disks as NAME (waits)
 *   vscsi unexport NAME
 *
 * The SIMs run on a loop (thread) of their own, so that a control request
 * on reactor 0 can wait for CAM work (a da probe) without stalling them.
 * Exported disks follow their device: AC_LOST_DEVICE removes them.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/vscsi.h>

#include "json_out.h"
#include "serve.h"

#define SERVE_VSCSI_MAX 16
#define SERVE_VSCSI_EXPORTS 256

struct sv_export {
	bool used;
	char name[64];
	int path_id;
	uint32_t target;
	uint64_t lun;
};

struct sv_sim {
	char *path;
	unsigned unit;
	struct vscsi_sim *sim;
};

struct serve_vscsi {
	struct serve_ctx *ctx;
	char *paths[SERVE_VSCSI_MAX];
	unsigned npaths;
	bool disabled;
	bool auto_export;
	uint32_t openings, ccbs, stall_ms, inline_max, shm_slot;
	struct ev_loop *loop;
	pthread_t th;
	bool running;
	/* Touched on the vscsi loop only (ctl requests hop there). */
	struct sv_sim sims[SERVE_VSCSI_MAX];
	struct sv_export exports[SERVE_VSCSI_EXPORTS];
};

/* One request carried onto the vscsi loop. */
struct sv_call {
	struct serve_vscsi *st;
	const char *path;
	const char *name;
	uint32_t target;
	uint64_t lun;
	int rc;
	char err[256];
	FILE *out;
	bool json;
};

static void *serve_vscsi_create(struct serve_ctx *ctx)
{
	struct serve_vscsi *st = calloc(1, sizeof(*st));

	if (st)
		st->ctx = ctx;
	return st;
}

static int parse_u32(const char *v, uint32_t *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n == 0 || n > UINT32_MAX)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int serve_vscsi_configure(void *arg, const char *key,
				 const char *value, char *err, size_t errlen)
{
	struct serve_vscsi *st = arg;

	if (!value)
		value = "";
	if (!strcmp(key, "vscsi")) {
		if (!strcmp(value, "none")) {
			st->disabled = true;
			return 0;
		}
		if (!*value) {
			snprintf(err, errlen, "--vscsi needs a socket path");
			return -1;
		}
		if (st->npaths == SERVE_VSCSI_MAX) {
			snprintf(err, errlen, "too many --vscsi sockets");
			return -1;
		}
		st->paths[st->npaths] = strdup(value);
		if (!st->paths[st->npaths]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		st->npaths++;
		return 0;
	}
	if (!strcmp(key, "vscsi-openings")) {
		if (parse_u32(value, &st->openings) || st->openings > 256)
			goto bad;
		return 0;
	}
	if (!strcmp(key, "vscsi-ccbs")) {
		if (parse_u32(value, &st->ccbs) || st->ccbs > 65536)
			goto bad;
		return 0;
	}
	if (!strcmp(key, "vscsi-stall-timeout")) {
		if (parse_u32(value, &st->stall_ms))
			goto bad;
		return 0;
	}
	if (!strcmp(key, "vscsi-inline")) {
		uint32_t v;

		if (parse_u32(value, &v) || v > VSCSI_MAXIO_DEFAULT)
			goto bad;
		st->inline_max = v ? v : VSCSI_INLINE_OFF;
		return 0;
	}
	if (!strcmp(key, "vscsi-shm-slot")) {
		uint32_t v;

		if (parse_u32(value, &v) || v > VSCSI_MAXIO_DEFAULT)
			goto bad;
		st->shm_slot = v ? v : VSCSI_SHM_OFF;
		return 0;
	}
	if (!strcmp(key, "vscsi-export")) {
		if (!strcmp(value, "auto"))
			st->auto_export = true;
		else if (!strcmp(value, "none"))
			st->auto_export = false;
		else
			goto bad;
		return 0;
	}
	snprintf(err, errlen, "unknown vscsi option --%s", key);
	return -1;
bad:
	snprintf(err, errlen, "bad value '%s' for --%s", value, key);
	return -1;
}

static void *serve_vscsi_thread(void *arg)
{
	ev_loop_run(arg);
	return NULL;
}

/* ---- exports (on the vscsi loop) ---- */

static struct sv_sim *sim_by_path_id(struct serve_vscsi *st, int path_id)
{
	for (unsigned i = 0; i < SERVE_VSCSI_MAX; i++)
		if (st->sims[i].sim &&
		    vscsi_sim_path_id(st->sims[i].sim) == path_id)
			return &st->sims[i];
	return NULL;
}

static struct sv_sim *sim_by_path(struct serve_vscsi *st, const char *path)
{
	for (unsigned i = 0; i < SERVE_VSCSI_MAX; i++)
		if (st->sims[i].sim && !strcmp(st->sims[i].path, path))
			return &st->sims[i];
	return NULL;
}

static int export_record(struct serve_vscsi *st, const char *name,
			 int path_id, uint32_t target, uint64_t lun)
{
	for (unsigned i = 0; i < SERVE_VSCSI_EXPORTS; i++) {
		struct sv_export *x = &st->exports[i];

		if (x->used)
			continue;
		x->used = true;
		snprintf(x->name, sizeof(x->name), "%s", name);
		x->path_id = path_id;
		x->target = target;
		x->lun = lun;
		return 0;
	}
	return -ENOSPC;
}

static void export_drop(struct sv_export *x, const char *why)
{
	if (bdev_registry_remove(x->name) == 0)
		log_info("vscsi: disk %s removed (%s)", x->name, why);
	x->used = false;
}

static void auto_probe_cb(struct bdev *bd, int err, void *arg)
{
	struct sv_call *c = arg;

	if (err) {
		log_warn("vscsi: da probe of %s failed: %s", c->name,
			 strerror(-err));
	} else if (bdev_registry_add(bd) < 0) {
		log_warn("vscsi: disk %s exists already", c->name);
	} else if (export_record(c->st, bdev_name(bd), c->rc, c->target,
				 c->lun) < 0) {
		bdev_registry_remove(bdev_name(bd));
		log_warn("vscsi: too many exported disks");
	} else {
		log_info("vscsi: device %d:%u:%llu exported as %s", c->rc,
			 c->target, (unsigned long long)c->lun, bdev_name(bd));
	}
	if (bd)
		bdev_release(bd);
	free((char *)c->name);
	free(c);
}

static void serve_vscsi_async(void *arg, uint32_t code, struct cam_path *path,
			      void *carg)
{
	struct serve_vscsi *st = arg;
	int path_id = (int)xpt_path_path_id(path);
	uint32_t target = xpt_path_target_id(path);
	uint64_t lun = xpt_path_lun_id(path);

	if (code == AC_LOST_DEVICE) {
		for (unsigned i = 0; i < SERVE_VSCSI_EXPORTS; i++) {
			struct sv_export *x = &st->exports[i];

			if (x->used && x->path_id == path_id &&
			    (target == CAM_TARGET_WILDCARD ||
			     x->target == target) &&
			    (lun == CAM_LUN_WILDCARD || x->lun == lun))
				export_drop(x, "device lost");
		}
		return;
	}
	if (code != AC_FOUND_DEVICE || !st->auto_export || !carg)
		return;
	const uint8_t *inq = carg;
	struct sv_sim *s = sim_by_path_id(st, path_id);
	struct sv_call *c;
	char name[64];

	if (!s || (inq[0] & 0x1f) != 0) /* direct-access devices only */
		return;
	snprintf(name, sizeof(name), "vscsi%u-%u-%llu", s->unit, target,
		 (unsigned long long)lun);
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->st = st;
	c->name = strdup(name);
	c->rc = path_id;
	c->target = target;
	c->lun = lun;
	if (!c->name || cam_da_probe((uint32_t)path_id, target, lun, c->name,
				     auto_probe_cb, c) < 0) {
		log_warn("vscsi: cannot probe %s", name);
		free((char *)c->name);
		free(c);
	}
}

/* ---- SIMs (on the vscsi loop) ---- */

static void sv_add_fn(void *arg)
{
	struct sv_call *c = arg;
	struct serve_vscsi *st = c->st;
	struct vscsi_sim_params p;
	struct sv_sim *slot = NULL;
	unsigned unit = 0;

	if (sim_by_path(st, c->path)) {
		snprintf(c->err, sizeof(c->err), "%s: already served", c->path);
		c->rc = -EEXIST;
		return;
	}
	for (unsigned i = 0; i < SERVE_VSCSI_MAX; i++)
		if (!st->sims[i].sim) {
			slot = &st->sims[i];
			unit = i;
			break;
		}
	if (!slot) {
		snprintf(c->err, sizeof(c->err), "too many vscsi SIMs");
		c->rc = -ENOSPC;
		return;
	}
	memset(&p, 0, sizeof(p));
	p.path = c->path;
	p.unit = unit;
	p.openings = st->openings;
	p.ccbs = st->ccbs;
	p.stall_ms = st->stall_ms;
	p.inline_max = st->inline_max;
	p.shm_slot = st->shm_slot;
	slot->path = strdup(c->path);
	if (!slot->path) {
		snprintf(c->err, sizeof(c->err), "out of memory");
		c->rc = -ENOMEM;
		return;
	}
	slot->sim = vscsi_sim_create(&p, st->loop, c->err, sizeof(c->err));
	if (!slot->sim) {
		free(slot->path);
		slot->path = NULL;
		c->rc = -EIO;
		return;
	}
	slot->unit = unit;
	xpt_register_async(AC_FOUND_DEVICE | AC_LOST_DEVICE, serve_vscsi_async,
			   st, (uint32_t)vscsi_sim_path_id(slot->sim),
			   CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD);
	c->rc = vscsi_sim_path_id(slot->sim);
}

static void sv_sim_free(struct serve_vscsi *st, struct sv_sim *s)
{
	int path_id = vscsi_sim_path_id(s->sim);

	for (unsigned i = 0; i < SERVE_VSCSI_EXPORTS; i++)
		if (st->exports[i].used && st->exports[i].path_id == path_id)
			export_drop(&st->exports[i], "SIM removed");
	xpt_register_async(0, serve_vscsi_async, st, (uint32_t)path_id,
			   CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD);
	vscsi_sim_destroy(s->sim);
	s->sim = NULL;
	free(s->path);
	s->path = NULL;
}

static void sv_remove_fn(void *arg)
{
	struct sv_call *c = arg;
	struct sv_sim *s = sim_by_path(c->st, c->path);

	if (!s) {
		c->rc = -ENOENT;
		return;
	}
	sv_sim_free(c->st, s);
	c->rc = 0;
}

static void sv_remove_all_fn(void *arg)
{
	struct serve_vscsi *st = arg;

	for (unsigned i = 0; i < SERVE_VSCSI_MAX; i++)
		if (st->sims[i].sim)
			sv_sim_free(st, &st->sims[i]);
}

static void sv_list_json(struct sv_call *c)
{
	struct serve_vscsi *st = c->st;
	const char *sep = "";

	fputs("{\"sims\": [", c->out);
	for (unsigned i = 0; i < SERVE_VSCSI_MAX; i++) {
		struct sv_sim *s = &st->sims[i];
		struct vscsi_sim_stats ss;

		if (!s->sim)
			continue;
		vscsi_sim_get_stats(s->sim, &ss);
		fprintf(c->out, "%s{\"unit\": %u, \"path\": ", sep, s->unit);
		json_put_string(c->out, s->path);
		fprintf(c->out,
			", \"bus\": %d, \"state\": \"%s\", \"held\": %u, "
			"\"queued\": %u, \"scans\": %u, \"cmds\": %llu, "
			"\"done\": %llu, \"resets\": %llu, \"errors\": %llu, "
			"\"conns\": %llu, \"refused\": %llu, "
			"\"shm_cmds\": %llu, \"shm_held\": %u}",
			ss.path_id, vscsi_sim_state_name(ss.state), ss.held,
			ss.queued, ss.scans, (unsigned long long)ss.cmds,
			(unsigned long long)ss.done,
			(unsigned long long)ss.resets,
			(unsigned long long)ss.errors,
			(unsigned long long)ss.conns,
			(unsigned long long)ss.refused,
			(unsigned long long)ss.shm_cmds, ss.shm_held);
		sep = ", ";
	}
	fputs("], \"exports\": [", c->out);
	sep = "";
	for (unsigned i = 0; i < SERVE_VSCSI_EXPORTS; i++) {
		struct sv_export *x = &st->exports[i];

		if (!x->used)
			continue;
		fprintf(c->out, "%s{\"name\": ", sep);
		json_put_string(c->out, x->name);
		fprintf(c->out, ", \"bus\": %d, \"target\": %u, \"lun\": %llu}",
			x->path_id, x->target, (unsigned long long)x->lun);
		sep = ", ";
	}
	fputs("]}\n", c->out);
}

static void sv_list_fn(void *arg)
{
	struct sv_call *c = arg;
	struct serve_vscsi *st = c->st;

	if (c->json) {
		sv_list_json(c);
		return;
	}
	for (unsigned i = 0; i < SERVE_VSCSI_MAX; i++) {
		struct sv_sim *s = &st->sims[i];
		struct vscsi_sim_stats ss;

		if (!s->sim)
			continue;
		vscsi_sim_get_stats(s->sim, &ss);
		fprintf(c->out,
			"vscsi%u %s bus %d %s held %u queued %u scans %u "
			"cmds %llu done %llu resets %llu errors %llu conns "
			"%llu refused %llu shm-cmds %llu shm-held %u\n",
			s->unit, s->path, ss.path_id,
			vscsi_sim_state_name(ss.state), ss.held, ss.queued,
			ss.scans, (unsigned long long)ss.cmds,
			(unsigned long long)ss.done,
			(unsigned long long)ss.resets,
			(unsigned long long)ss.errors,
			(unsigned long long)ss.conns,
			(unsigned long long)ss.refused,
			(unsigned long long)ss.shm_cmds, ss.shm_held);
	}
	for (unsigned i = 0; i < SERVE_VSCSI_EXPORTS; i++) {
		struct sv_export *x = &st->exports[i];

		if (x->used)
			fprintf(c->out, "export %s %d:%u:%llu\n", x->name,
				x->path_id, x->target,
				(unsigned long long)x->lun);
	}
}

/* One device of "vscsi devs --json". */
static void sv_dev_json(FILE *out, const struct cam_dev_info *d,
			unsigned unit, bool first)
{
	char v[9], p[17], r[5];

	snprintf(v, sizeof(v), "%.8s", (const char *)d->inq + 8);
	snprintf(p, sizeof(p), "%.16s", (const char *)d->inq + 16);
	snprintf(r, sizeof(r), "%.4s", (const char *)d->inq + 32);
	fprintf(out, "%s{\"bus\": %u, \"target\": %u, \"lun\": %llu, "
		     "\"sim\": \"vscsi%u\", \"vendor\": ",
		first ? "" : ", ", d->path_id, d->target,
		(unsigned long long)d->lun, unit);
	json_put_string(out, v);
	fputs(", \"product\": ", out);
	json_put_string(out, p);
	fputs(", \"revision\": ", out);
	json_put_string(out, r);
	fprintf(out, ", \"openings\": %u, \"active\": %u}", d->openings,
		d->active);
}

static void sv_devs_fn(void *arg)
{
	struct sv_call *c = arg;
	struct serve_vscsi *st = c->st;
	bool first = true;

	if (c->json)
		fputc('[', c->out);
	for (unsigned i = 0; i < SERVE_VSCSI_MAX; i++) {
		struct sv_sim *s = &st->sims[i];
		struct cam_dev_info info[64];
		unsigned n;

		if (!s->sim)
			continue;
		n = xpt_dev_list((uint32_t)vscsi_sim_path_id(s->sim), info,
				 64);
		for (unsigned j = 0; j < n && j < 64 && c->json; j++) {
			sv_dev_json(c->out, &info[j], s->unit, first);
			first = false;
		}
		for (unsigned j = 0; j < n && j < 64 && !c->json; j++)
			fprintf(c->out,
				"%u:%u:%llu vscsi%u <%.8s %.16s %.4s> "
				"openings %u active %u\n",
				info[j].path_id, info[j].target,
				(unsigned long long)info[j].lun, s->unit,
				(const char *)info[j].inq + 8,
				(const char *)info[j].inq + 16,
				(const char *)info[j].inq + 32,
				info[j].openings, info[j].active);
	}
	if (c->json)
		fputs("]\n", c->out);
}

static void sv_lookup_fn(void *arg)
{
	struct sv_call *c = arg;
	struct sv_sim *s = sim_by_path(c->st, c->path);

	c->rc = s ? vscsi_sim_path_id(s->sim) : -ENOENT;
}

static void sv_record_fn(void *arg)
{
	struct sv_call *c = arg;

	c->rc = export_record(c->st, c->name, c->rc, c->target, c->lun);
}

static void sv_unexport_fn(void *arg)
{
	struct sv_call *c = arg;

	c->rc = -ENOENT;
	for (unsigned i = 0; i < SERVE_VSCSI_EXPORTS; i++) {
		struct sv_export *x = &c->st->exports[i];

		if (x->used && !strcmp(x->name, c->name)) {
			export_drop(x, "unexported");
			c->rc = 0;
		}
	}
}

/* ---- front end ---- */

static int serve_vscsi_start(void *arg, char *err, size_t errlen)
{
	struct serve_vscsi *st = arg;

	if (st->disabled)
		return 0;
	st->loop = ev_loop_create();
	if (!st->loop) {
		snprintf(err, errlen, "cannot create the vscsi loop");
		return -1;
	}
	if (pthread_create(&st->th, NULL, serve_vscsi_thread, st->loop) != 0) {
		ev_loop_destroy(st->loop);
		st->loop = NULL;
		snprintf(err, errlen, "cannot start the vscsi thread");
		return -1;
	}
	/* The loop belongs to its creator until its thread runs it; until
	 * then cam_sync_call() would refuse (EDEADLK). */
	for (int i = 0; i < 5000 && ev_loop_in_thread(st->loop); i++) {
		struct timespec ts = {0, 1000 * 1000};

		nanosleep(&ts, NULL);
	}
	st->running = true;
	for (unsigned i = 0; i < st->npaths; i++) {
		struct sv_call c = {.st = st, .path = st->paths[i]};

		cam_sync_call(st->loop, sv_add_fn, &c);
		if (c.rc < 0) {
			snprintf(err, errlen, "vscsi %s: %s", st->paths[i],
				 c.err);
			return -1;
		}
	}
	return 0;
}

static void serve_vscsi_stop(void *arg)
{
	struct serve_vscsi *st = arg;

	if (st->running) {
		cam_sync_call(st->loop, sv_remove_all_fn, st);
		ev_loop_stop(st->loop);
		pthread_join(st->th, NULL);
		/* Runs what the SIMs deferred (their last frees). */
		ev_loop_destroy(st->loop);
	}
	for (unsigned i = 0; i < st->npaths; i++)
		free(st->paths[i]);
	free(st);
}

static int parse_tl(const char *s, uint32_t *t, uint64_t *l)
{
	unsigned long long tt, ll;
	char tail;

	if (sscanf(s, "%llu:%llu%c", &tt, &ll, &tail) != 2 ||
	    tt >= VSCSI_TARGETS || ll >= VSCSI_LUNS)
		return -1;
	*t = (uint32_t)tt;
	*l = ll;
	return 0;
}

static int serve_vscsi_export(struct serve_vscsi *st, int argc, char **argv,
			      FILE *out)
{
	struct sv_call c = {.st = st};
	struct bdev *bd;
	int err = 0;

	if (argc != 4 || parse_tl(argv[2], &c.target, &c.lun) < 0) {
		fprintf(out, "usage: vscsi export PATH T:L NAME");
		return -1;
	}
	c.path = argv[1];
	c.name = argv[3];
	cam_sync_call(st->loop, sv_lookup_fn, &c);
	if (c.rc < 0) {
		fprintf(out, "vscsi: no SIM at %s", c.path);
		return -1;
	}
	bd = cam_sync_da_probe(st->loop, (uint32_t)c.rc, c.target, c.lun,
			       c.name, &err);
	if (!bd) {
		fprintf(out, "vscsi: probe of %s:%u:%llu failed: %s", c.path,
			c.target, (unsigned long long)c.lun, strerror(-err));
		return -1;
	}
	err = bdev_registry_add(bd);
	bdev_release(bd);
	if (err < 0) {
		fprintf(out, "vscsi: disk %s: %s", c.name, strerror(-err));
		return -1;
	}
	cam_sync_call(st->loop, sv_record_fn, &c);
	if (c.rc < 0) {
		bdev_registry_remove(c.name);
		fprintf(out, "vscsi: too many exported disks");
		return -1;
	}
	fprintf(out, "exported %s\n", c.name);
	return 0;
}

static int serve_vscsi_ctl(void *arg, int argc, char **argv, FILE *out)
{
	struct serve_vscsi *st = arg;
	struct sv_call c = {.st = st, .out = out};
	const char *cmd;

	c.json = serve_ctl_take_flag(&argc, argv, "--json");
	if (argc > 0 && !strcmp(argv[0], "vscsi")) {
		argc--;
		argv++;
	}
	cmd = argc > 0 ? argv[0] : "list";
	if (!st->running) {
		fprintf(out, "vscsi: disabled");
		return -1;
	}
	if (!strcmp(cmd, "list")) {
		cam_sync_call(st->loop, sv_list_fn, &c);
		return 0;
	}
	if (!strcmp(cmd, "devs")) {
		cam_sync_call(st->loop, sv_devs_fn, &c);
		return 0;
	}
	if (!strcmp(cmd, "add") && argc == 2) {
		c.path = argv[1];
		cam_sync_call(st->loop, sv_add_fn, &c);
		if (c.rc < 0) {
			fprintf(out, "vscsi: %s", c.err);
			return -1;
		}
		fprintf(out, "bus %d\n", c.rc);
		return 0;
	}
	if (!strcmp(cmd, "remove") && argc == 2) {
		c.path = argv[1];
		cam_sync_call(st->loop, sv_remove_fn, &c);
		if (c.rc < 0) {
			fprintf(out, "vscsi: no SIM at %s", c.path);
			return -1;
		}
		return 0;
	}
	if (!strcmp(cmd, "export"))
		return serve_vscsi_export(st, argc, argv, out);
	if (!strcmp(cmd, "unexport") && argc == 2) {
		c.name = argv[1];
		cam_sync_call(st->loop, sv_unexport_fn, &c);
		if (c.rc < 0) {
			fprintf(out, "vscsi: %s is not a vscsi export",
				c.name);
			return -1;
		}
		return 0;
	}
	fprintf(out, "vscsi: unknown request '%s' (list, devs, add PATH, "
		     "remove PATH, export PATH T:L NAME, unexport NAME)",
		cmd);
	return -1;
}

const struct serve_frontend serve_frontend_vscsi = {
	.name = "vscsi",
	.usage = "  --vscsi PATH             vscsi SIM (CAM bus) on a Unix "
		 "socket; repeatable; none: off\n"
		 "  --vscsi-openings N       commands per vscsi device (16)\n"
		 "  --vscsi-ccbs N           CCB pool per vscsi SIM (1024)\n"
		 "  --vscsi-stall-timeout MS drop a userland target that stops "
		 "reading (30000)\n"
		 "  --vscsi-inline BYTES     write data sent with the command up "
		 "to BYTES (16384; 0: off)\n"
		 "  --vscsi-shm-slot BYTES   data area slot per command, shared "
		 "with the target (65536; 0: off)\n"
		 "  --vscsi-export auto|none export disks found on vscsi buses "
		 "as vscsiU-T-L (none)\n",
	.create = serve_vscsi_create,
	.configure = serve_vscsi_configure,
	.start = serve_vscsi_start,
	.stop = serve_vscsi_stop,
	.ctl = serve_vscsi_ctl,
};
