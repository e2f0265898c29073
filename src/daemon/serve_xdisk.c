/*
 * The xdisk front end of `scsikit serve`: the DMSG server exporting every
 * disk of the daemon, and the xdisk client importing network disks as xaN
 * disks into the daemon's registry (so the other front ends export them).
 *
 *   --xdisk ADDR              listen on HOST:PORT (default 127.0.0.1:9987);
 *                             "none": no server (attaching still works)
 *   --xdisk-serial DISK=SER   advertise DISK under fs_label SER (default:
 *                             the disk's name); servers exporting one
 *                             backing store under one label make one xa
 *                             disk with a path per server
 *   --xdisk-attach URL        xdisk://HOST:PORT[,HOST:PORT...][,failfast]
 *   --xdisk-ping MS           keep-alive interval (default 1000)
 *   --xdisk-timeout MS        silence before a link is lost (default 10000)
 *   --xdisk-backoff MIN[:MAX] reconnect delay in ms (default 100:5000)
 *   --xdisk-max-conns N       server links open at once (default 256)
 *   --xdisk-max-per-peer N    server links per client address (default 32)
 *
 * Control socket: "xdisk attach URL", "xdisk detach [ID]", "xdisk list",
 * "xdisk stats".
 *
 * Reactors: the server hands its links to the daemon's reactors round
 * robin; the client side is one xdisk client per reactor, and attaches
 * are spread over them round robin (an attach, its links and its xa disks
 * live on one reactor, so a disk's I/O never waits on another thread's
 * lock).  Attach ids stay one sequence: client k numbers its attaches
 * k+1, k+1+n, ...  Every call into a client runs on its reactor.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/xdisk.h>

#include "serve.h"

#define SERVE_XDISK_MAX 16
#define SERVE_XDISK_LOOPS 64

struct serve_xdisk {
	struct serve_ctx *ctx;
	const char *listen[SERVE_XDISK_MAX];
	unsigned nlisten;
	bool disabled;
	const char *attach[SERVE_XDISK_MAX];
	unsigned nattach;
	struct {
		char *disk, *serial;
	} serials[SERVE_XDISK_MAX];
	unsigned nserials;
	uint32_t ping_ms, timeout_ms, backoff_min, backoff_max;
	uint32_t max_conns, max_per_peer; /* 0: the server's defaults */
	struct xdisk_server *srv;
	struct xdisk_client *cl[SERVE_XDISK_LOOPS]; /* one per reactor */
	unsigned ncl;
	unsigned next_cl;	/* round robin over cl[] for attaches */
};

/* Run fn(arg) on loop's thread and wait (directly when already there:
 * at stop, the main loop no longer runs but this is its thread). */
static void serve_xdisk_call(struct ev_loop *loop, void (*fn)(void *),
			     void *arg)
{
	if (ev_loop_in_thread(loop) || cam_sync_call(loop, fn, arg) < 0)
		fn(arg);
}

/* One request to client k, run on its reactor. */
struct xd_call {
	struct serve_xdisk *st;
	unsigned k;
	const char *url;
	int id;
	char err[200];
	FILE *out;
	bool json;
	int rc;
};

static void xd_call_attach(void *arg)
{
	struct xd_call *x = arg;

	x->rc = xdisk_client_attach(x->st->cl[x->k], x->url, x->err,
				    sizeof(x->err));
}

static void xd_call_detach(void *arg)
{
	struct xd_call *x = arg;

	x->rc = xdisk_client_detach(x->st->cl[x->k], x->id);
}

static void xd_call_list(void *arg)
{
	struct xd_call *x = arg;

	if (x->json)
		xdisk_client_list_json(x->st->cl[x->k], x->out);
	else
		xdisk_client_list(x->st->cl[x->k], x->out);
}

static void xd_call_stats(void *arg)
{
	struct xd_call *x = arg;

	xdisk_client_stats(x->st->cl[x->k], x->out);
}

static void xd_call_destroy(void *arg)
{
	struct xd_call *x = arg;

	xdisk_client_destroy(x->st->cl[x->k]);
}

static void xd_run(struct serve_xdisk *st, struct xd_call *x,
		   void (*fn)(void *))
{
	x->st = st;
	serve_xdisk_call(st->ctx->loops[x->k], fn, x);
}

/* Attach url on the next client; the attach id or -1 with err set. */
static int serve_xdisk_attach(struct serve_xdisk *st, const char *url,
			      char *err, size_t errlen)
{
	struct xd_call x = { .k = st->next_cl % st->ncl, .url = url };

	xd_run(st, &x, xd_call_attach);
	if (x.rc < 0) {
		snprintf(err, errlen, "%s", x.err);
		return -1;
	}
	st->next_cl++;
	return x.rc;
}

/* The clients' JSON objects are {"attaches": [..], "disks": [..]}: merge
 * them into one.  A quote outside a string is never escaped, so the
 * separator found is the objects' own. */
static void serve_xdisk_list_json(struct serve_xdisk *st, FILE *out)
{
	static const char sep[] = "], \"disks\": [";
	char *part[SERVE_XDISK_LOOPS] = {0};
	char *mid[SERVE_XDISK_LOOPS] = {0};
	bool first;

	for (unsigned k = 0; k < st->ncl; k++) {
		struct xd_call x = { .k = k, .json = true };
		size_t len;

		x.out = open_memstream(&part[k], &len);
		if (!x.out)
			continue;
		xd_run(st, &x, xd_call_list);
		fclose(x.out);
		mid[k] = part[k] ? strstr(part[k], sep) : NULL;
		if (mid[k] && len >= 2 && !strcmp(part[k] + len - 2, "]}"))
			part[k][len - 2] = 0;
		else
			mid[k] = NULL;
	}
	fputs("{\"attaches\": [", out);
	first = true;
	for (unsigned k = 0; k < st->ncl; k++) {
		const char *a = mid[k] ? strchr(part[k], '[') + 1 : NULL;

		if (!a || a == mid[k])
			continue;
		fprintf(out, "%s%.*s", first ? "" : ", ", (int)(mid[k] - a), a);
		first = false;
	}
	fputs("], \"disks\": [", out);
	first = true;
	for (unsigned k = 0; k < st->ncl; k++) {
		const char *d = mid[k] ? mid[k] + strlen(sep) : NULL;

		if (!d || !*d)
			continue;
		fprintf(out, "%s%s", first ? "" : ", ", d);
		first = false;
	}
	fputs("]}", out);
	for (unsigned k = 0; k < st->ncl; k++)
		free(part[k]);
}

static void *serve_xdisk_create(struct serve_ctx *ctx)
{
	struct serve_xdisk *st = calloc(1, sizeof(*st));

	if (st)
		st->ctx = ctx;
	return st;
}

static int parse_ms(const char *v, uint32_t *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n == 0 || n > 3600000)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

static int serve_xdisk_configure(void *arg, const char *key,
				 const char *value, char *err, size_t errlen)
{
	struct serve_xdisk *st = arg;

	if (!value)
		value = "";
	if (!strcmp(key, "xdisk")) {
		if (!strcmp(value, "none")) {
			st->disabled = true;
			return 0;
		}
		if (!*value || st->nlisten >= SERVE_XDISK_MAX)
			goto bad;
		if (serve_check_hostport(value, false, err, errlen) < 0)
			return -1;
		st->listen[st->nlisten++] = value;
		return 0;
	}
	if (!strcmp(key, "xdisk-attach")) {
		if (strncmp(value, "xdisk://", 8) != 0 ||
		    st->nattach >= SERVE_XDISK_MAX)
			goto bad;
		st->attach[st->nattach++] = value;
		return 0;
	}
	if (!strcmp(key, "xdisk-serial")) {
		const char *eq = strchr(value, '=');

		if (!eq || eq == value || !eq[1] ||
		    st->nserials >= SERVE_XDISK_MAX)
			goto bad;
		st->serials[st->nserials].disk =
			strndup(value, (size_t)(eq - value));
		st->serials[st->nserials].serial = strdup(eq + 1);
		st->nserials++;
		return 0;
	}
	if (!strcmp(key, "xdisk-ping")) {
		if (parse_ms(value, &st->ping_ms) < 0)
			goto bad;
		return 0;
	}
	if (!strcmp(key, "xdisk-timeout")) {
		if (parse_ms(value, &st->timeout_ms) < 0)
			goto bad;
		return 0;
	}
	/* (counts: the same positive range as the times) */
	if (!strcmp(key, "xdisk-max-conns")) {
		if (parse_ms(value, &st->max_conns) < 0)
			goto bad;
		return 0;
	}
	if (!strcmp(key, "xdisk-max-per-peer")) {
		if (parse_ms(value, &st->max_per_peer) < 0)
			goto bad;
		return 0;
	}
	if (!strcmp(key, "xdisk-backoff")) {
		char buf[64], *colon;

		snprintf(buf, sizeof(buf), "%s", value);
		colon = strchr(buf, ':');
		if (colon)
			*colon++ = 0;
		if (parse_ms(buf, &st->backoff_min) < 0)
			goto bad;
		st->backoff_max = st->backoff_min * 50;
		if (colon && parse_ms(colon, &st->backoff_max) < 0)
			goto bad;
		return 0;
	}
	snprintf(err, errlen, "unknown xdisk option --%s", key);
	return -1;
bad:
	snprintf(err, errlen, "bad value '%s' for --%s", value, key);
	return -1;
}

static int serve_xdisk_start(void *arg, char *err, size_t errlen)
{
	struct serve_xdisk *st = arg;
	struct ev_loop *loop = st->ctx->loops[0];
	unsigned nl = st->ctx->nloops < SERVE_XDISK_LOOPS ? st->ctx->nloops
							  : SERVE_XDISK_LOOPS;
	struct xdisk_client_opts co = {
		.host = st->ctx->instance,
		.ping_ms = st->ping_ms,
		.timeout_ms = st->timeout_ms,
		.backoff_min_ms = st->backoff_min,
		.backoff_max_ms = st->backoff_max,
		.register_disks = true,
		.attach_id_step = nl,
	};

	if (!st->disabled) {
		struct xdisk_server_opts so = {
			.host = st->ctx->instance,
			.ping_ms = st->ping_ms,
			.timeout_ms = st->timeout_ms,
			.max_conns = st->max_conns,
			.max_conns_per_peer = st->max_per_peer,
			.loops = st->ctx->loops,
			.nloops = nl,
		};
		char addr[64];

		st->srv = xdisk_server_create(loop, &so);
		if (!st->srv) {
			snprintf(err, errlen, "xdisk: out of memory");
			return -1;
		}
		for (unsigned i = 0; i < st->nserials; i++)
			xdisk_server_set_serial(st->srv, st->serials[i].disk,
						st->serials[i].serial);
		if (st->nlisten == 0) {
			snprintf(addr, sizeof(addr), "127.0.0.1:%d",
				 XDISK_DEFAULT_PORT);
			st->listen[st->nlisten++] = addr;
		}
		for (unsigned i = 0; i < st->nlisten; i++) {
			char e[200];

			if (xdisk_server_listen(st->srv, st->listen[i], e,
						sizeof(e)) < 0) {
				snprintf(err, errlen, "%s", e);
				st->nlisten = 0;
				return -1;
			}
		}
		if (st->listen[0] == addr)
			st->nlisten = 0; /* addr does not outlive us */
	}
	for (unsigned k = 0; k < nl; k++) {
		co.attach_id_first = k + 1;
		st->cl[k] = xdisk_client_create(st->ctx->loops[k], &co);
		if (!st->cl[k]) {
			snprintf(err, errlen, "xdisk: out of memory");
			return -1;
		}
		st->ncl = k + 1;
	}
	for (unsigned i = 0; i < st->nattach; i++)
		if (serve_xdisk_attach(st, st->attach[i], err, errlen) < 0)
			return -1;
	return 0;
}

static void serve_xdisk_stop(void *arg)
{
	struct serve_xdisk *st = arg;

	for (unsigned k = 0; k < st->ncl; k++) {
		struct xd_call x = { .k = k };

		xd_run(st, &x, xd_call_destroy);
	}
	if (st->srv)
		xdisk_server_destroy(st->srv);
	for (unsigned i = 0; i < st->nserials; i++) {
		free(st->serials[i].disk);
		free(st->serials[i].serial);
	}
	free(st);
}

static int serve_xdisk_ctl(void *arg, int argc, char **argv, FILE *out)
{
	struct serve_xdisk *st = arg;
	bool json = serve_ctl_take_flag(&argc, argv, "--json");
	const char *verb = argc > 1 ? argv[1] : "list";

	if (!strcmp(verb, "attach")) {
		char e[200];
		int id;

		if (argc != 3) {
			fprintf(out, "usage: xdisk attach xdisk://HOST:PORT"
				     "[,HOST:PORT...][,failfast]");
			return -1;
		}
		id = serve_xdisk_attach(st, argv[2], e, sizeof(e));
		if (id < 0) {
			fprintf(out, "%s", e);
			return -1;
		}
		fprintf(out, "attach %d\n", id);
		return 0;
	}
	if (!strcmp(verb, "detach")) {
		bool found = false;
		long id = 0;

		if (argc > 3) {
			fprintf(out, "usage: xdisk detach [ID]");
			return -1;
		}
		if (argc == 3) {
			char *end;

			id = strtol(argv[2], &end, 10);
			if (*end || id <= 0 || id > INT_MAX) {
				fprintf(out, "bad attach id '%s'", argv[2]);
				return -1;
			}
		}
		for (unsigned k = 0; k < st->ncl; k++) {
			struct xd_call x = { .k = k, .id = (int)id };

			/* id 0: every client's; else the one that made it. */
			if (id && (unsigned)(id - 1) % st->ncl != k)
				continue;
			xd_run(st, &x, xd_call_detach);
			if (x.rc == 0)
				found = true;
		}
		if (!found) {
			fprintf(out, "no such attach");
			return -1;
		}
		return 0;
	}
	if (!strcmp(verb, "list") && json) {
		fputs("{\"server\": ", out);
		if (st->srv)
			xdisk_server_list_json(st->srv, out);
		else
			fputs("null", out);
		fputs(", \"client\": ", out);
		serve_xdisk_list_json(st, out);
		fputs("}\n", out);
		return 0;
	}
	if (!strcmp(verb, "list")) {
		if (st->srv)
			xdisk_server_list(st->srv, out);
		else
			fprintf(out, "server disabled\n");
		for (unsigned k = 0; k < st->ncl; k++) {
			struct xd_call x = { .k = k, .out = out };

			xd_run(st, &x, xd_call_list);
		}
		return 0;
	}
	if (!strcmp(verb, "stats")) {
		for (unsigned k = 0; k < st->ncl; k++) {
			struct xd_call x = { .k = k, .out = out };

			xd_run(st, &x, xd_call_stats);
		}
		return 0;
	}
	fprintf(out, "unknown xdisk request '%s' (attach, detach, list, "
		     "stats)", verb);
	return -1;
}

const struct serve_frontend serve_frontend_xdisk = {
	.name = "xdisk",
	.usage = "  --xdisk ADDR             DMSG server address (default "
		 "127.0.0.1:9987), or none\n"
		 "  --xdisk-serial DISK=SER  advertise DISK under label SER\n"
		 "  --xdisk-attach URL       import xdisk://HOST:PORT[,HOST:"
		 "PORT...][,failfast] as xaN disks\n"
		 "  --xdisk-ping MS  --xdisk-timeout MS  --xdisk-backoff "
		 "MIN[:MAX]\n"
		 "  --xdisk-max-conns N      server links open at once (256)\n"
		 "  --xdisk-max-per-peer N   server links per client address "
		 "(32)\n",
	.create = serve_xdisk_create,
	.configure = serve_xdisk_configure,
	.start = serve_xdisk_start,
	.stop = serve_xdisk_stop,
	.ctl = serve_xdisk_ctl,
};
