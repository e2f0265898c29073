/*
 * The iSCSI front end of `scsikit serve`: hands --iscsi* options and
 * config keys to the iSCSI target (src/iscsi, include/scsikit/iscsi.h),
 * which exports every disk of the daemon as a target
 * (iqn.2026-11.org.scsikit:<disk> unless named with --iscsi-target).
 *
 * Control socket: "iscsi sessions", "iscsi targets", "iscsi portals", and
 * the run-time settings "iscsi acl|chap|mutual-chap|lun|portal ..." and
 * "iscsi config" (src/iscsi/tgt_cfg.c), which "config save" uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/iscsi.h>

#include "serve.h"

struct serve_iscsi {
	struct serve_ctx *ctx;
	struct iscsi_srv *srv;
};

static struct ev_loop *serve_iscsi_pick(void *arg)
{
	return serve_pick_loop(arg);
}

static void *serve_iscsi_create(struct serve_ctx *ctx)
{
	struct serve_iscsi *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->ctx = ctx;
	st->srv = iscsi_srv_create(serve_iscsi_pick, ctx);
	if (st->srv == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

static int serve_iscsi_configure(void *arg, const char *key,
				 const char *value, char *err, size_t errlen)
{
	struct serve_iscsi *st = arg;

	/* People name real ports (the library also takes 0, any port); a
	 * portal may end in ",TAG", its portal group (the library checks
	 * the tag). */
	if (strcmp(key, "iscsi") == 0 && value && strcmp(value, "none")) {
		char addr[256];
		size_t n = strcspn(value, ",");

		if (n >= sizeof(addr)) {
			snprintf(err, errlen, "portal address too long");
			return -1;
		}
		memcpy(addr, value, n);
		addr[n] = '\0';
		if (serve_check_hostport(addr, false, err, errlen) < 0)
			return -1;
	}
	return iscsi_srv_configure(st->srv, key, value, err, errlen);
}

static int serve_iscsi_start(void *arg, char *err, size_t errlen)
{
	struct serve_iscsi *st = arg;

	return iscsi_srv_start(st->srv, st->ctx->loops[0], err, errlen);
}

static void serve_iscsi_stop(void *arg)
{
	struct serve_iscsi *st = arg;

	iscsi_srv_stop(st->srv);
	free(st);
}

static int serve_iscsi_ctl(void *arg, int argc, char **argv, FILE *out)
{
	struct serve_iscsi *st = arg;
	char *def[2] = {"iscsi", "sessions"};

	/* Accept both "iscsi sessions" and "sessions". */
	if (argc > 0 && strcmp(argv[0], "iscsi") != 0) {
		def[1] = argv[0];
		return iscsi_srv_ctl(st->srv, 2, def, out);
	}
	if (argc < 2)
		return iscsi_srv_ctl(st->srv, 2, def, out);
	return iscsi_srv_ctl(st->srv, argc, argv, out);
}

/* ACLs, CHAP and LUN maps change at run time: print them as they are. */
static int serve_iscsi_save(void *arg, FILE *out)
{
	struct serve_iscsi *st = arg;
	char *req[2] = {"iscsi", "config"};

	return iscsi_srv_ctl(st->srv, 2, req, out);
}

const struct serve_frontend serve_frontend_iscsi = {
	.name = "iscsi",
	.usage = ISCSI_SRV_USAGE,
	.create = serve_iscsi_create,
	.configure = serve_iscsi_configure,
	.start = serve_iscsi_start,
	.stop = serve_iscsi_stop,
	.ctl = serve_iscsi_ctl,
	.save = serve_iscsi_save,
};
