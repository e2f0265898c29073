/*
 * The NBD front end of `scsikit serve`: turns --nbd* options into an
 * nbd_server (src/nbd) that exports every disk of the daemon.
 *
 *   --nbd ADDR            listen on ADDR: HOST:PORT, [V6]:PORT, :PORT,
 *                         unix:PATH or /PATH; repeatable; "none" disables
 *                         the front end (default 127.0.0.1:10809)
 *   --nbd-unix PATH       also listen on a Unix socket
 *   --nbd-max-conns N     --nbd-max-requests N   --nbd-max-buffer SIZE
 *   --nbd-stall-timeout MS   --nbd-handshake-timeout MS
 *   --nbd-tls off|on|require  --nbd-tls-certificates DIR
 *   --nbd-tls-psk-file FILE   --nbd-tls-verify-peer yes|no
 *   --nbd-max-per-peer N  --nbd-idle-timeout MS   --nbd-body-timeout MS
 *                         (admission control, docs/limits.md)
 *
 * Control socket: "nbd list" (listeners and counters), "nbd conns" (also
 * one line per connection).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/nbd.h>

#include "serve.h"

#define SERVE_NBD_MAX_ADDRS 8

struct serve_nbd {
	struct serve_ctx *ctx;
	struct nbd_server_opts opts;
	char *addrs[SERVE_NBD_MAX_ADDRS];
	unsigned naddrs;
	bool disabled;
	struct nbd_server *srv;
	struct nbd_tls_opts tls;
	char *tls_dir, *tls_psk;	/* owned copies for tls */
};

static struct ev_loop *serve_nbd_pick(void *arg)
{
	return serve_pick_loop(arg);
}

static void *serve_nbd_create(struct serve_ctx *ctx)
{
	struct serve_nbd *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->ctx = ctx;
	nbd_server_opts_init(&st->opts);
	return st;
}

static int parse_uint(const char *v, unsigned *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n > UINT_MAX)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int serve_nbd_add_addr(struct serve_nbd *st, const char *addr,
			      char *err, size_t errlen)
{
	if (st->naddrs == SERVE_NBD_MAX_ADDRS) {
		snprintf(err, errlen, "too many --nbd addresses");
		return -1;
	}
	st->addrs[st->naddrs] = strdup(addr);
	if (!st->addrs[st->naddrs]) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->naddrs++;
	return 0;
}

/* Keep a copy of value in *slot (replacing an earlier one). */
static int keep_string(char **slot, const char *value, char *err,
		       size_t errlen)
{
	char *c = strdup(value);

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	free(*slot);
	*slot = c;
	return 0;
}

/* --nbd-tls MODE, --nbd-tls-certificates DIR, --nbd-tls-psk-file FILE,
 * --nbd-tls-verify-peer yes|no (key: what follows "nbd-tls"). */
static int serve_nbd_tls_option(struct serve_nbd *st, const char *key,
				const char *value, char *err, size_t errlen)
{
	static const char *const modes[] = { "off", "on", "require" };

	if (!*key) {
		for (int i = 0; i < 3; i++)
			if (!strcmp(value, modes[i])) {
				st->tls.mode = (enum nbd_tls_mode)i;
				return 0;
			}
		snprintf(err, errlen, "--nbd-tls takes off, on or require");
		return -1;
	}
	if (!strcmp(key, "-certificates") && *value)
		return keep_string(&st->tls_dir, value, err, errlen);
	if (!strcmp(key, "-psk-file") && *value)
		return keep_string(&st->tls_psk, value, err, errlen);
	if (!strcmp(key, "-verify-peer") &&
	    (!strcmp(value, "yes") || !strcmp(value, "no"))) {
		st->tls.verify_peer = value[0] == 'y';
		return 0;
	}
	snprintf(err, errlen, "bad value '%s' for --nbd-tls%s", value, key);
	return -1;
}
/* The options that set one positive unsigned field of nbd_server_opts. */
static const struct {
	const char *key;
	size_t off;
} nbd_uint_opts[] = {
	{"nbd-max-conns", offsetof(struct nbd_server_opts, max_conns)},
	{"nbd-max-requests", offsetof(struct nbd_server_opts, max_requests)},
	{"nbd-stall-timeout",
	 offsetof(struct nbd_server_opts, stall_timeout_ms)},
	{"nbd-handshake-timeout",
	 offsetof(struct nbd_server_opts, handshake_timeout_ms)},
	{"nbd-max-per-peer",
	 offsetof(struct nbd_server_opts, max_conns_per_peer)},
	{"nbd-idle-timeout", offsetof(struct nbd_server_opts, idle_timeout_ms)},
	{"nbd-body-timeout", offsetof(struct nbd_server_opts, body_timeout_ms)},
};

static int serve_nbd_configure(void *arg, const char *key, const char *value,
			       char *err, size_t errlen)
{
	struct serve_nbd *st = arg;
	uint64_t size;
	size_t i;

	if (!value)
		value = "";
	if (!strcmp(key, "nbd")) {
		if (!strcmp(value, "none")) {
			st->disabled = true;
			return 0;
		}
		if (!*value) {
			snprintf(err, errlen, "--nbd needs an address");
			return -1;
		}
		if (strncmp(value, "unix:", 5) && value[0] != '/' &&
		    serve_check_hostport(value, true, err, errlen) < 0)
			return -1;
		return serve_nbd_add_addr(st, value, err, errlen);
	}
	if (!strcmp(key, "nbd-unix")) {
		char buf[256];

		if (!*value) {
			snprintf(err, errlen, "--nbd-unix needs a path");
			return -1;
		}
		snprintf(buf, sizeof(buf), "unix:%s", value);
		return serve_nbd_add_addr(st, buf, err, errlen);
	}
	if (!strcmp(key, "nbd-max-buffer")) {
		if (sk_parse_size(value, &size) < 0 || size < 4096)
			goto bad;
		st->opts.max_buffered = size;
		return 0;
	}
	for (i = 0; i < sizeof(nbd_uint_opts) / sizeof(nbd_uint_opts[0]);
	     i++) {
		unsigned *field;

		if (strcmp(key, nbd_uint_opts[i].key))
			continue;
		field = (unsigned *)((char *)&st->opts + nbd_uint_opts[i].off);
		if (parse_uint(value, field) || !*field)
			goto bad;
		return 0;
	}
	if (!strncmp(key, "nbd-tls", 7))
		return serve_nbd_tls_option(st, key + 7, value, err, errlen);
	snprintf(err, errlen, "unknown NBD option --%s", key);
	return -1;
bad:
	snprintf(err, errlen, "bad value '%s' for --%s", value, key);
	return -1;
}

static int serve_nbd_start(void *arg, char *err, size_t errlen)
{
	struct serve_nbd *st = arg;
	unsigned i;

	if (st->disabled)
		return 0;
	st->opts.accept_loop = st->ctx->loops[0];
	st->opts.pick_loop = serve_nbd_pick;
	st->opts.pick_arg = st->ctx;
	st->srv = nbd_server_create(&st->opts);
	if (!st->srv) {
		snprintf(err, errlen, "nbd: out of memory");
		return -1;
	}
	st->tls.certs_dir = st->tls_dir;
	st->tls.psk_file = st->tls_psk;
	if (nbd_server_set_tls(st->srv, &st->tls, err, errlen) < 0) {
		nbd_server_destroy(st->srv);
		st->srv = NULL;
		return -1;
	}
	if (st->naddrs == 0 && serve_nbd_add_addr(st, "127.0.0.1:10809", err,
						  errlen) < 0)
		return -1;
	for (i = 0; i < st->naddrs; i++) {
		if (nbd_server_listen(st->srv, st->addrs[i], err, errlen) < 0) {
			nbd_server_destroy(st->srv);
			st->srv = NULL;
			return -1;
		}
	}
	return 0;
}

static void serve_nbd_stop(void *arg)
{
	struct serve_nbd *st = arg;
	unsigned i;

	if (st->srv)
		nbd_server_destroy(st->srv);
	for (i = 0; i < st->naddrs; i++)
		free(st->addrs[i]);
	free(st->tls_dir);
	free(st->tls_psk);
	free(st);
}

static int serve_nbd_ctl(void *arg, int argc, char **argv, FILE *out)
{
	struct serve_nbd *st = arg;
	bool json = serve_ctl_take_flag(&argc, argv, "--json");
	const char *cmd;

	if (argc > 0 && !strcmp(argv[0], "nbd")) {
		argc--;
		argv++;
	}
	cmd = argc > 0 ? argv[0] : "list";
	if (!st->srv) {
		fprintf(out, "nbd: disabled\n");
		return -1;
	}
	if (!strcmp(cmd, "list") || !strcmp(cmd, "stats") ||
	    !strcmp(cmd, "conns")) {
		(json ? nbd_server_dump_json : nbd_server_dump)(
			st->srv, out, !strcmp(cmd, "conns"));
		return 0;
	}
	fprintf(out, "nbd: unknown command '%s' (list, conns)\n", cmd);
	return -1;
}

const struct serve_frontend serve_frontend_nbd = {
	.name = "nbd",
	.usage = "  --nbd ADDR               NBD listener: HOST:PORT, unix:PATH; "
		 "repeatable; none: off\n"
		 "                           (default 127.0.0.1:10809)\n"
		 "  --nbd-unix PATH          NBD listener on a Unix socket\n"
		 "  --nbd-max-conns N        open NBD connections (1024)\n"
		 "  --nbd-max-requests N     requests in flight per connection "
		 "(256)\n"
		 "  --nbd-max-buffer SIZE    data held per connection (64M)\n"
		 "  --nbd-stall-timeout MS   close clients that do not read "
		 "replies (30000)\n"
		 "  --nbd-handshake-timeout MS  close clients stuck in "
		 "negotiation (30000)\n"
		 "  --nbd-max-per-peer N     open NBD connections per client "
		 "address (128)\n"
		 "  --nbd-idle-timeout MS    at the cap, evict a connection "
		 "idle this long (60000)\n"
		 "  --nbd-body-timeout MS    close a request not complete "
		 "in time (30000)\n"
		 "  --nbd-tls off|on|require  TLS (NBD_OPT_STARTTLS); require:\n"
		 "                           nothing is served without it (off)\n"
		 "  --nbd-tls-certificates DIR  server-cert.pem, server-key.pem\n"
		 "                           [, ca-cert.pem] for X.509\n"
		 "  --nbd-tls-psk-file FILE  PSK identities and keys (psktool)\n"
		 "  --nbd-tls-verify-peer yes|no  require a client certificate\n"
		 "                           signed by DIR/ca-cert.pem (no)\n",
	.create = serve_nbd_create,
	.configure = serve_nbd_configure,
	.start = serve_nbd_start,
	.stop = serve_nbd_stop,
	.ctl = serve_nbd_ctl,
};
