/*
 * The CAM front end of `scsikit serve`: CAM buses inside the daemon.
 *
 *   --cam-loop SPEC     a loop-SIM bus; SPEC is a loop: SIM URL with or
 *                       without the "loop:" prefix, e.g. disk=d0 (the
 *                       daemon's disk d0 as LUN 0 of target 0) or
 *                       targets=2,luns=2,size=64M; repeatable
 *   --cam-da NAME=B:T:L after the scan, probe the device with da and add
 *                       it to the daemon's disks as NAME (so every export
 *                       front end serves it); repeatable
 *   --cam-sd NAME=B:T:L[,noarq][,dma=SIZE]
 *                       the same with the sd target driver, on the SCSA
 *                       packet interface (noarq: auto request sense off;
 *                       dma: the DMA window); repeatable
 *   --cam none          no CAM buses
 *
 * The buses run on a loop of their own (a thread started here), so the
 * control-socket requests, which arrive on reactor 0, can wait for CAM
 * work without blocking the buses: "cam COMMAND ..." runs the same code as
 * `scsikit cam --sim` (cam_cli_exec in cam_cli.c) against these buses.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/scsa.h>

#include "cam_cli.h"
#include "serve.h"


#define SERVE_CAM_MAX 16

struct serve_cam {
	struct serve_ctx *ctx;
	char *specs[SERVE_CAM_MAX];
	unsigned nspecs;
	char *das[SERVE_CAM_MAX];	/* --cam-da and --cam-sd specs */
	bool das_sd[SERVE_CAM_MAX];	/* ... which are sd */
	unsigned ndas;
	bool disabled;
	struct ev_thread *thread;	/* the CAM loop's thread */
	struct ev_loop *loop;
	bool running;
	struct cam_loop *sims[SERVE_CAM_MAX];
	unsigned nsims;
	/* for the create call on the CAM loop */
	const char *cur_url;
	int cur_rc;
	char cur_err[256];
};

static void *serve_cam_create(struct serve_ctx *ctx)
{
	struct serve_cam *st = calloc(1, sizeof(*st));

	if (st)
		st->ctx = ctx;
	return st;
}

static int serve_cam_configure(void *arg, const char *key, const char *value,
			       char *err, size_t errlen)
{
	struct serve_cam *st = arg;
	char **slot;

	if (!strcmp(key, "cam")) {
		if (!strcmp(value, "none")) {
			st->disabled = true;
			return 0;
		}
		snprintf(err, errlen, "--cam takes only 'none'");
		return -1;
	}
	if (!strcmp(key, "cam-loop")) {
		if (st->nspecs == SERVE_CAM_MAX) {
			snprintf(err, errlen, "too many --cam-loop");
			return -1;
		}
		slot = &st->specs[st->nspecs];
		if (!strncmp(value, "loop:", 5)) {
			*slot = strdup(value);
		} else {
			*slot = malloc(strlen(value) + 6);
			if (*slot)
				sprintf(*slot, "loop:%s", value);
		}
		if (!*slot) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		st->nspecs++;
		return 0;
	}
	if (!strcmp(key, "cam-da") || !strcmp(key, "cam-sd")) {
		if (st->ndas == SERVE_CAM_MAX || !strchr(value, '=')) {
			snprintf(err, errlen, "--%s takes NAME=B:T:L", key);
			return -1;
		}
		st->das_sd[st->ndas] = !strcmp(key, "cam-sd");
		st->das[st->ndas] = strdup(value);
		if (!st->das[st->ndas]) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		st->ndas++;
		return 0;
	}
	snprintf(err, errlen, "unknown option");
	return -1;
}

static void serve_cam_make(void *arg)
{
	struct serve_cam *st = arg;
	struct cam_loop *lp = NULL;

	st->cur_rc = cam_loop_create_url(st->cur_url, st->loop, &lp,
					 st->cur_err, sizeof(st->cur_err));
	if (st->cur_rc >= 0)
		st->sims[st->nsims++] = lp;
}

/* The NAME of a NAME=... spec into name; false if none fits. */
static bool spec_name(const char *spec, char *name, size_t len)
{
	const char *eq = strchr(spec, '=');

	if (!eq || (size_t)(eq - spec) >= len || eq == spec)
		return false;
	memcpy(name, spec, (size_t)(eq - spec));
	name[eq - spec] = '\0';
	return true;
}

/* The sd options after B:T:L: ",noarq", ",dma=SIZE". */
static int sd_options(const char *opts, struct scsa_sd_params *p)
{
	char buf[128], *tok, *save = NULL;

	if (strlen(opts) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", opts);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (!strcmp(tok, "noarq"))
			p->no_arq = true;
		else if (!strncmp(tok, "dma=", 4) &&
			 sk_parse_size(tok + 4, &v) == 0 && v >= 512 &&
			 v <= (64u << 20))
			p->dma_max = (size_t)v;
		else
			return -1;
	}
	return 0;
}

static int serve_cam_add_da(struct serve_cam *st, const char *spec, bool sd,
			    char *err, size_t errlen)
{
	const char *kind = sd ? "sd" : "da";
	char name[64];
	unsigned b, t, l;
	int n = 0;
	struct bdev *bd;
	int e, rc;

	if (!spec_name(spec, name, sizeof(name)) ||
	    sscanf(strchr(spec, '=') + 1, "%u:%u:%u%n", &b, &t, &l, &n) != 3 ||
	    (!sd && strchr(spec, '=')[1 + n] != '\0')) {
		snprintf(err, errlen, "bad --cam-%s '%s'", kind, spec);
		return -1;
	}
	if (sd) {
		struct scsa_sd_params p = {.path_id = b, .target = t, .lun = l};

		if (sd_options(strchr(spec, '=') + 1 + n, &p) < 0) {
			snprintf(err, errlen, "bad --cam-sd options in '%s'",
				 spec);
			return -1;
		}
		bd = scsa_sd_attach(&p, name, &e);
	} else {
		bd = cam_sync_da_probe(st->loop, b, t, l, name, &e);
	}
	if (!bd) {
		snprintf(err, errlen, "%s probe of %u:%u:%u: %s", kind, b, t,
			 l, strerror(-e));
		return -1;
	}
	rc = bdev_registry_add(bd);
	bdev_release(bd);
	if (rc < 0) {
		snprintf(err, errlen, "cannot add disk %s: %s", name,
			 strerror(-rc));
		return -1;
	}
	log_info("cam: %s is %s on %u:%u:%u", name, kind, b, t, l);
	return 0;
}

static int serve_cam_start(void *arg, char *err, size_t errlen)
{
	struct serve_cam *st = arg;

	/* The CAM loop runs even with no loop bus, so that `scsikit cam`
	 * reaches buses other SIMs register (vscsi, iSCSI imports). */
	if (st->disabled)
		return 0;
	st->thread = ev_thread_start();
	if (!st->thread) {
		snprintf(err, errlen, "cannot start the CAM thread");
		return -1;
	}
	st->loop = ev_thread_loop(st->thread);
	st->running = true;
	for (unsigned i = 0; i < st->nspecs; i++) {
		st->cur_url = st->specs[i];
		cam_sync_call(st->loop, serve_cam_make, st);
		if (st->cur_rc < 0) {
			snprintf(err, errlen, "%s: %s", st->specs[i],
				 st->cur_err);
			return -1;
		}
		log_info("cam: bus %d: %s", st->cur_rc, st->specs[i]);
	}
	cam_sync_rescan(st->loop, CAM_BUS_WILDCARD);
	for (unsigned i = 0; i < st->ndas; i++)
		if (serve_cam_add_da(st, st->das[i], st->das_sd[i], err,
				     errlen) < 0)
			return -1;
	return 0;
}

static void serve_cam_unmake(void *arg)
{
	struct serve_cam *st = arg;

	for (unsigned i = 0; i < st->nsims; i++)
		cam_loop_destroy(st->sims[i]);
	st->nsims = 0;
}

static void serve_cam_stop(void *arg)
{
	struct serve_cam *st = arg;

	if (st->running) {
		/* da and sd disks sit on these buses: drop them from the
		 * registry first (their exports close). */
		for (unsigned i = 0; i < st->ndas; i++) {
			char name[64];

			if (spec_name(st->das[i], name, sizeof(name)))
				bdev_registry_remove(name);
		}
		cam_sync_call(st->loop, serve_cam_unmake, st);
		ev_thread_stop(st->thread);
	}
	for (unsigned i = 0; i < st->nspecs; i++)
		free(st->specs[i]);
	for (unsigned i = 0; i < st->ndas; i++)
		free(st->das[i]);
	free(st);
}

static int serve_cam_ctl(void *arg, int argc, char **argv, FILE *out)
{
	struct serve_cam *st = arg;

	if (!st->running) {
		fprintf(out, "no CAM buses in this daemon");
		return -1;
	}
	if (argc < 2) {
		fprintf(out, "usage: cam COMMAND [ARGS] (see scsikit cam -h)");
		return -1;
	}
	return cam_cli_exec(st->loop, st->sims, st->nsims, argc - 1, argv + 1,
			    out, out) == 0
		       ? 0
		       : -1;
}

const struct serve_frontend serve_frontend_cam = {
	.name = "cam",
	.usage = "  --cam-loop SPEC      a loop-SIM CAM bus (loop: SIM URL, "
		 "e.g. disk=NAME or\n"
		 "                       targets=N,luns=N,size=SIZE); "
		 "repeatable\n"
		 "  --cam-da NAME=B:T:L  add the CAM device as disk NAME (da)\n"
		 "  --cam-sd NAME=B:T:L[,noarq][,dma=SIZE]\n"
		 "                       the same through the SCSA sd driver\n"
		 "  --cam none           no CAM buses\n",
	.create = serve_cam_create,
	.configure = serve_cam_configure,
	.start = serve_cam_start,
	.stop = serve_cam_stop,
	.ctl = serve_cam_ctl,
};
