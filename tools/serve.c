/*
 * `scsikit serve`: the daemon.
 *
 * Start-up: parse options (command line, then an optional config file with
 * the same keys), create the disks (default: disk0 = 1 GiB in memory),
 * start the reactor threads, the control socket and every front end, then
 * run reactor 0 on the main thread until SIGINT/SIGTERM or a "shutdown"
 * request.  Options that begin with a front end's name are that front end's
 * (see serve.h), so adding a front end adds no code here.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <scsikit/api.h>
#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "commands.h"
#include "ctl_client.h"
#include "serve_internal.h"

#define SERVE_DEFAULT_DISK "disk0=mem:1G"
#define SERVE_MAX_DISK_ARGS 64

struct serve_opts {
	const char *disks[SERVE_MAX_DISK_ARGS];
	unsigned ndisks;
	const char *ctl_path;
	unsigned reactors;
	int log_level;
	bool use_syslog;
};

struct ev_loop *serve_pick_loop(struct serve_ctx *ctx)
{
	/* ctx is the first member of struct serve_daemon. */
	struct serve_daemon *d = (struct serve_daemon *)ctx;
	unsigned i = __atomic_fetch_add(&d->next_loop, 1, __ATOMIC_RELAXED);

	return ctx->loops[i % ctx->nloops];
}

static void serve_usage(FILE *out)
{
	fprintf(out,
		"usage: scsikit serve [options]\n"
		"\n"
		"Run the scsikit daemon.  With no options it serves one 1 GiB\n"
		"in-memory disk (disk0) on every front end, listening on\n"
		"loopback only, and takes requests on its control socket.\n"
		"\n"
		"options:\n"
		"  --disk NAME=SPEC     add a disk (repeatable); SPEC is\n"
		"                       mem:SIZE[,bs=N] or\n"
		"                       file:PATH[,direct][,size=SIZE][,bs=N],\n"
		"                       either with ,ro for read-only,\n"
		"                       ,pbsize=N (physical block reported),\n"
		"                       ,thick (no unmap; a file is allocated\n"
		"                       up front), ,wsnz=0 (WRITE SAME of 0\n"
		"                       blocks runs to the end)\n"
		"                       (default: %s)\n"
		"  --no-default-disk    start with no disk unless --disk is given\n"
		"  --ctl PATH           control socket (default: %s)\n"
		"  --config FILE        read options from FILE: one 'key value'\n"
		"                       per line, keys as the options without --\n"
		"  --reactors N         event-loop threads (default: 2)\n"
		"  --log-level LEVEL    error, warning, info (default) or debug\n"
		"  --trace CATS         trace categories: pdu,cdb,xpt,probe,dmsg,\n"
		"                       nbd,bdev,vscsi,ctl, all or none\n"
		"  --syslog             log to syslog instead of stderr\n"
		"  --help               this text\n",
		SERVE_DEFAULT_DISK, ctl_default_socket());
	for (unsigned i = 0; i < serve_nfrontends; i++) {
		const struct serve_frontend *fe = serve_frontends[i];

		if (fe && fe->usage)
			fprintf(out, "\n%s front end:\n%s", fe->name,
				fe->usage);
	}
}

static int parse_level(const char *s)
{
	static const char *const names[] = { "error", "warning", "info",
					     "debug" };

	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	if (strcmp(s, "warn") == 0)
		return SK_LOG_WARN;
	return -1;
}

static const struct serve_frontend *frontend_for(const char *key,
						 unsigned *idx)
{
	for (unsigned i = 0; i < serve_nfrontends; i++) {
		const struct serve_frontend *fe = serve_frontends[i];
		size_t n;

		if (!fe)
			continue;
		n = strlen(fe->name);
		if (strncmp(key, fe->name, n) == 0 &&
		    (key[n] == '\0' || key[n] == '-')) {
			*idx = i;
			return fe;
		}
	}
	return NULL;
}

static int config_file(struct serve_daemon *d, struct serve_opts *o,
		       const char *path, int depth);

/* Apply one key/value; 0, or -1 after printing one error line. */
static int apply_option(struct serve_daemon *d, struct serve_opts *o,
			const char *key, const char *value, int depth)
{
	const struct serve_frontend *fe;
	unsigned idx;
	char err[256];

	if (strcmp(key, "disk") == 0) {
		if (o->ndisks == SERVE_MAX_DISK_ARGS) {
			fprintf(stderr, "scsikit serve: too many --disk\n");
			return -1;
		}
		o->disks[o->ndisks++] = value;
	} else if (strcmp(key, "ctl") == 0) {
		o->ctl_path = value;
	} else if (strcmp(key, "config") == 0) {
		if (depth > 4) {
			fprintf(stderr, "scsikit serve: config files nest "
					"too deep\n");
			return -1;
		}
		return config_file(d, o, value, depth + 1);
	} else if (strcmp(key, "reactors") == 0) {
		char *end;
		long n = strtol(value, &end, 10);

		if (*end || n < 1 || n > SERVE_MAX_REACTORS) {
			fprintf(stderr,
				"scsikit serve: --reactors takes 1 to %d\n",
				SERVE_MAX_REACTORS);
			return -1;
		}
		o->reactors = (unsigned)n;
	} else if (strcmp(key, "log-level") == 0) {
		o->log_level = parse_level(value);
		if (o->log_level < 0) {
			fprintf(stderr, "scsikit serve: unknown log level "
					"'%s'\n", value);
			return -1;
		}
	} else if (strcmp(key, "trace") == 0) {
		uint32_t m;

		if (log_trace_parse(value, &m) < 0) {
			fprintf(stderr, "scsikit serve: unknown trace "
					"category in '%s'\n", value);
			return -1;
		}
		sk_trace_mask = m;
	} else if ((fe = frontend_for(key, &idx)) != NULL) {
		if (!d->fe_state[idx]) {
			fprintf(stderr, "scsikit serve: %s: not available\n",
				fe->name);
			return -1;
		}
		if (fe->configure(d->fe_state[idx], key, value, err,
				  sizeof(err)) < 0) {
			fprintf(stderr, "scsikit serve: --%s %s: %s\n", key,
				value, err);
			return -1;
		}
	} else {
		for (unsigned i = 0; i < serve_nfrontends; i++) {
			/* "--nbd none" works in a build without NBD too. */
			if (strcmp(key, serve_frontend_names[i]) == 0 &&
			    strcmp(value, "none") == 0)
				return 0;
		}
		fprintf(stderr,
			"scsikit serve: unknown option '--%s' (see --help)\n",
			key);
		return -1;
	}
	return 0;
}

/*
 * Config file: "key value" or "key = value" per line, '#' comments.
 * Values are kept for the life of the process (options point into them).
 */
static int config_file(struct serve_daemon *d, struct serve_opts *o,
		       const char *path, int depth)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int lineno = 0;

	if (!f) {
		fprintf(stderr, "scsikit serve: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *key, *val, *end;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			fprintf(stderr, "scsikit serve: %s:%d: line too long\n",
				path, lineno);
			goto out_fail;
		}
		p[strcspn(p, "#\r\n")] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			continue;
		key = p;
		p += strcspn(p, " \t=");
		if (*p)
			*p++ = '\0';
		while (*p == ' ' || *p == '\t' || *p == '=')
			p++;
		val = p;
		end = val + strlen(val);
		while (end > val && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (!*val) {
			fprintf(stderr, "scsikit serve: %s:%d: '%s' needs a "
					"value\n", path, lineno, key);
			goto out_fail;
		}
		/* Options keep pointers: give each line its own copy. */
		key = strdup(key);
		val = strdup(val);
		if (!key || !val || apply_option(d, o, key, val, depth) < 0) {
			fprintf(stderr, "scsikit serve: in %s:%d\n", path,
				lineno);
			goto out_fail;
		}
	}
	fclose(f);
	return 0;

out_fail:
	fclose(f);
	return -1;
}

int serve_disk_add(const char *name_spec, char *err, size_t errlen)
{
	const char *eq = strchr(name_spec, '=');
	char name[128];
	struct bdev *bd;
	int rc;

	if (!eq || eq == name_spec || (size_t)(eq - name_spec) >= sizeof(name)) {
		snprintf(err, errlen, "expected NAME=SPEC, got '%s'",
			 name_spec);
		return -1;
	}
	memcpy(name, name_spec, (size_t)(eq - name_spec));
	name[eq - name_spec] = '\0';
	for (const char *c = name; *c; c++) {
		if (!(*c == '-' || *c == '_' || *c == '.' ||
		      (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9'))) {
			snprintf(err, errlen,
				 "disk name '%s': use letters, digits, "
				 "'-', '_' and '.'",
				 name);
			return -1;
		}
	}
	bd = bdev_create_spec(name, eq + 1, err, errlen);
	if (!bd)
		return -1;
	rc = bdev_registry_add(bd);
	bdev_release(bd);
	if (rc < 0) {
		snprintf(err, errlen, "disk '%s' exists already", name);
		return -1;
	}
	return 0;
}

void serve_request_stop(struct serve_daemon *d)
{
	ev_loop_stop(d->loops[0]);
}

static void on_signal(struct ev_io *io, int fd, uint32_t events, void *arg)
{
	struct serve_daemon *d = arg;
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_info("signal %u: shutting down", si.ssi_signo);
		serve_request_stop(d);
	}
}

static void *reactor_main(void *arg)
{
	struct ev_loop *loop = arg;

	ev_loop_run(loop);
	return NULL;
}

static int start_reactors(struct serve_daemon *d, unsigned n)
{
	d->ctx.loops = d->loops;
	for (unsigned i = 0; i < n; i++) {
		d->loops[i] = ev_loop_create();
		if (!d->loops[i]) {
			fprintf(stderr, "scsikit serve: cannot create event "
					"loop: %s\n", strerror(errno));
			return -1;
		}
		d->ctx.nloops = i + 1;
	}
	for (unsigned i = 1; i < n; i++) {
		if (pthread_create(&d->threads[i], NULL, reactor_main,
				   d->loops[i]) != 0) {
			fprintf(stderr, "scsikit serve: cannot start reactor "
					"thread\n");
			d->ctx.nloops = i;
			return -1;
		}
	}
	return 0;
}

static void stop_reactors(struct serve_daemon *d)
{
	for (unsigned i = 1; i < d->ctx.nloops; i++) {
		ev_loop_stop(d->loops[i]);
		pthread_join(d->threads[i], NULL);
	}
	for (unsigned i = 0; i < d->ctx.nloops; i++)
		ev_loop_destroy(d->loops[i]);
	d->ctx.nloops = 0;
}

static void stop_frontends(struct serve_daemon *d)
{
	/* Importers (added last) go first, so exporters stop serving the
	 * disks they created before those disks vanish. */
	for (unsigned i = serve_nfrontends; i-- > 0;) {
		const struct serve_frontend *fe = serve_frontends[i];

		if (fe && d->fe_state[i]) {
			fe->stop(d->fe_state[i]);
			d->fe_state[i] = NULL;
		}
	}
}

int cmd_serve_main(int argc, char **argv)
{
	struct serve_daemon d;
	struct serve_opts o;
	char err[256], host[64];
	bool default_disk = true;
	struct ev_io *sigio = NULL;
	sigset_t mask;
	int sfd = -1, rc = 1;

	memset(&d, 0, sizeof(d));
	memset(&o, 0, sizeof(o));
	o.reactors = 2;
	o.log_level = SK_LOG_INFO;
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	d.ctx.instance = host;

	for (unsigned i = 0; i < serve_nfrontends && i < SERVE_MAX_FRONTENDS;
	     i++) {
		if (serve_frontends[i])
			d.fe_state[i] = serve_frontends[i]->create(&d.ctx);
	}

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val;
		char key[128];
		const char *eq;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			serve_usage(stdout);
			rc = 0;
			goto out_free_fe;
		}
		if (strcmp(arg, "--syslog") == 0) {
			o.use_syslog = true;
			continue;
		}
		if (strcmp(arg, "--no-default-disk") == 0) {
			default_disk = false;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
			fprintf(stderr, "scsikit serve: unexpected argument "
					"'%s' (see --help)\n", arg);
			rc = 2;
			goto out_free_fe;
		}
		eq = strchr(arg, '=');
		if (eq) {
			snprintf(key, sizeof(key), "%.*s", (int)(eq - arg - 2),
				 arg + 2);
			val = eq + 1;
		} else {
			snprintf(key, sizeof(key), "%s", arg + 2);
			if (i + 1 >= argc) {
				fprintf(stderr, "scsikit serve: --%s needs a "
						"value\n", key);
				rc = 2;
				goto out_free_fe;
			}
			val = argv[++i];
		}
		if (apply_option(&d, &o, key, val, 0) < 0) {
			rc = 2;
			goto out_free_fe;
		}
	}

	log_init("scsikit", o.log_level, o.use_syslog);
	signal(SIGPIPE, SIG_IGN);

	if (o.ndisks == 0 && default_disk)
		o.disks[o.ndisks++] = SERVE_DEFAULT_DISK;
	for (unsigned i = 0; i < o.ndisks; i++) {
		if (serve_disk_add(o.disks[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "scsikit serve: --disk %s: %s\n",
				o.disks[i], err);
			goto out_disks;
		}
	}

	/* Block the stop signals before any thread exists, so that every
	 * thread inherits the mask and only the signalfd sees them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if (start_reactors(&d, o.reactors) < 0)
		goto out_reactors;

	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 ||
	    !(sigio = ev_io_add(d.loops[0], sfd, EV_READ, on_signal, &d))) {
		fprintf(stderr, "scsikit serve: signalfd: %s\n",
			strerror(errno));
		goto out_reactors;
	}

	snprintf(d.ctl_path, sizeof(d.ctl_path), "%s",
		 o.ctl_path ? o.ctl_path : ctl_default_socket());
	d.ctl = serve_ctl_start(&d, d.ctl_path, err, sizeof(err));
	if (!d.ctl) {
		fprintf(stderr, "scsikit serve: control socket %s: %s\n",
			d.ctl_path, err);
		goto out_sig;
	}

	for (unsigned i = 0; i < serve_nfrontends; i++) {
		const struct serve_frontend *fe = serve_frontends[i];

		if (!fe || !d.fe_state[i])
			continue;
		if (fe->start(d.fe_state[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "scsikit serve: %s: %s\n", fe->name,
				err);
			goto out_ctl;
		}
		d.fe_started[i] = true;
	}

	d.started_ms = ev_now_ms();
	log_info("ready: %u disk%s, control socket %s",
		 bdev_registry_count(), bdev_registry_count() == 1 ? "" : "s",
		 d.ctl_path);
	rc = ev_loop_run(d.loops[0]) < 0 ? 1 : 0;
	log_info("stopping");

out_ctl:
	stop_frontends(&d);
	serve_ctl_stop(d.ctl);
out_sig:
	ev_io_del(sigio);
	if (sfd >= 0)
		close(sfd);
out_reactors:
	stop_frontends(&d);
	/* Blocking I/O still on the worker pool completes by posting to its
	 * reactor: drain the pool while every loop still exists, then let
	 * each loop run what was posted to it as it is destroyed. */
	bdev_pool_shutdown();
	stop_reactors(&d);
out_disks:
	bdev_registry_clear();
	bdev_pool_shutdown();
	return rc;

out_free_fe:
	stop_frontends(&d);
	return rc;
}
