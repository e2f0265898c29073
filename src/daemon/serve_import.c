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
};

struct serve_import {
	struct serve_ctx *ctx;
	char *specs[IMPORT_MAX];
	unsigned nspecs;
	bool disabled;
	uint32_t repl_s, backoff_ms;
	bool have_repl, have_backoff;
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

static void import_free(struct serve_import *st, struct import *im)
{
	for (unsigned i = 0; i < im->ndisks; i++)
		bdev_registry_remove(im->disks[i]);
	im->ndisks = 0;
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

/* "[NAME=]URL": create the session, wait for it, import its disks. */
static int import_add(struct serve_import *st, const char *spec, char *err,
		      size_t errlen)
{
	const char *url = spec, *eq = strstr(spec, "=iscsi://");
	struct import *im;
	unsigned slot;

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
	im->url = strdup(url);
	iscsi_ini_cfg_init(&st->cur_cfg);
	if (st->have_repl)
		st->cur_cfg.replacement_ms = st->repl_s * 1000;
	if (st->have_backoff)
		st->cur_cfg.backoff_ms = st->backoff_ms;
	if (!im->url ||
	    iscsi_ini_parse_url(url, &st->cur_cfg, err, errlen) < 0) {
		free(im->url);
		free(im);
		return -1;
	}
	st->cur = im;
	cam_sync_call(st->loop, import_make, st);
	if (st->cur_rc < 0) {
		snprintf(err, errlen, "%s", st->cur_err);
		free(im->url);
		free(im);
		return -1;
	}
	if (iscsi_ini_wait_ready(im->sess, st->cur_cfg.login_timeout_ms + 5000,
				 err, errlen) < 0 ||
	    import_disks(st, im, err, errlen) < 0) {
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
};

static void import_list_json(struct import_list_call *c)
{
	const char *sep = "";

	fputc('[', c->out);
	for (unsigned i = 0; i < IMPORT_MAX; i++) {
		struct import *im = c->st->imp[i];
		struct iscsi_ini_stats s;

		if (!im)
			continue;
		iscsi_ini_get_stats(im->sess, &s);
		fprintf(c->out, "%s{\"id\": %u, \"target\": ", sep, im->id);
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
		sep = ", ";
	}
	fputs("]\n", c->out);
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
		struct import_list_call c = {st, out, json};

		if (st->running)
			cam_sync_call(st->loop, import_list_on_loop, &c);
		else if (json)
			fputs("[]\n", out);
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
	fprintf(out, "usage: import add [NAME=]URL | import list | "
		     "import remove ID");
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
		 "  --import-backoff MS  first reconnect delay (200)\n"
		 "  --import none        no imports\n",
	.create = serve_import_create,
	.configure = serve_import_configure,
	.start = serve_import_start,
	.stop = serve_import_stop,
	.ctl = serve_import_ctl,
};
