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
#include <stddef.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <scsikit/api.h>
#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "cli_opt.h"
#include "util/hostport.h"
#include "ctl_client.h"
#include "serve.h"
#include "serve_main.h"
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
	bool no_default_disk;
};

struct ev_loop *serve_pick_loop(struct serve_ctx *ctx)
{
	/* ctx is the first member of struct serve_daemon. */
	struct serve_daemon *d = (struct serve_daemon *)ctx;
	unsigned i = __atomic_fetch_add(&d->next_loop, 1, __ATOMIC_RELAXED);

	return ctx->loops[i % ctx->nloops];
}

#define SO_FE(name) \
	{ name, 0, CLI_STR, SO_FRONTEND, "VALUE", 0, 0, NULL, \
	  CLI_PREFIX | CLI_HIDDEN }

/*
 * The daemon's options, on the command line ("--disk X") and in a config
 * file ("disk X").  The front ends' options are routed by name: every
 * option that begins with a front end's name goes to its configure() (see
 * serve.h); their help is the front end's usage text.
 */
const struct cli_opt serve_opts[] = {
	{ "disk", 0, CLI_STR, SO_DISK, "NAME=SPEC", 0, 0,
	  "add a disk (repeatable); SPEC below" },
	{ "no-default-disk", 0, CLI_FLAG, SO_NO_DEFAULT_DISK, NULL, 0, 0,
	  "start with no disk unless --disk is given" },
	{ "socket", 0, CLI_STR, SO_SOCKET, "PATH", 0, 0,
	  "control socket (default: see below)" },
	{ "ctl", 0, CLI_STR, SO_SOCKET, "PATH", 0, 0, "old name of --socket",
	  CLI_HIDDEN },
	{ "config", 0, CLI_STR, SO_CONFIG, "FILE", 0, 0,
	  "read options from FILE: 'key value' per line" },
	{ "reactors", 0, CLI_NUM, SO_REACTORS, "N", 1, SERVE_MAX_REACTORS,
	  "event-loop threads (default: 2)" },
	{ "log-level", 0, CLI_STR, SO_LOG_LEVEL, "LEVEL", 0, 0,
	  "error, warning, info (default) or debug" },
	{ "trace", 0, CLI_STR, SO_TRACE, "CATS", 0, 0,
	  "trace categories: pdu,cdb,xpt,probe,dmsg,nbd,bdev,..." },
	{ "syslog", 0, CLI_FLAG, SO_SYSLOG, NULL, 0, 0,
	  "log to syslog instead of stderr" },
	{ "help", 'h', CLI_FLAG, SO_HELP, NULL, 0, 0, "this text" },
	SO_FE("iscsi"), SO_FE("nbd"), SO_FE("xdisk"), SO_FE("cam"),
	SO_FE("vscsi"), SO_FE("import"), SO_FE("alua"), SO_FE("ha"),
	{ NULL },
};

int serve_check_hostport(const char *addr, bool bare_port, char *err,
			 size_t errlen)
{
	char host[256];
	uint16_t port;

	return sk_parse_hostport(addr, bare_port ? SK_HP_BARE_PORT : 0, host, sizeof(host), &port,
				 1, err, errlen);
}

bool serve_ctl_take_flag(int *argc, char **argv, const char *flag)
{
	bool found = false;
	int n = 0;

	for (int i = 0; i < *argc; i++) {
		if (strcmp(argv[i], flag) == 0)
			found = true;
		else
			argv[n++] = argv[i];
	}
	*argc = n;
	return found;
}

/*
 * systemd's readiness protocol (sd_notify(3)) without libsystemd: one
 * datagram to $NOTIFY_SOCKET ("@name" is in the abstract namespace).  Not
 * being run by systemd, or a failure to send, changes nothing.
 */
static void serve_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t n;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return;
	n = strlen(path);
	if (n >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
		   (struct sockaddr *)&sun, len) < 0)
		log_debug("sd_notify %s: %s", msg, strerror(errno));
	close(fd);
}

void serve_usage(FILE *out)
{
	fprintf(out,
		"usage: scsikit serve [options]\n"
		"\n"
		"Run the scsikit daemon.  With no options it serves one 1 GiB\n"
		"in-memory disk (disk0) on every front end, listening on\n"
		"loopback only, and takes requests on its control socket.\n"
		"\n"
		"options:\n");
	cli_print_options(out, serve_opts);
	fprintf(out,
		"\n  --disk SPEC: mem:SIZE[,bs=N] or "
		"file:PATH[,direct][,size=SIZE][,bs=N][,engine=uring|pool],\n"
		"  or null:SIZE[,latency=USEC] (stores nothing: benchmarks),\n"
		"  either with ,ro for read-only, ,removable for a removable\n"
		"  medium or ,cdrom for a CD/DVD-ROM (an ISO image), and\n"
		"  ,serial=S,wwn=naa.6HEX for the LU identity (one LU across\n"
		"  daemons); on mem and file also ,pbsize=N (physical block\n"
		"  reported), ,thick (no unmap; a file is allocated up front),\n"
		"  ,wsnz=0 (WRITE SAME of 0 blocks runs to the end); or\n"
		"  rbd:POOL/IMAGE[@SNAP][,conf=PATH][,id=CLIENT][,ro]"
		"[,timeout=S],\n"
		"  a Ceph RBD image (docs/ceph.md)\n"
		"  (default: %s)\n"
		"  --socket default: %s (--ctl is an old name for it)\n"
		"  In a --config file, flags take 'yes' or 'no'.\n",
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

/*
 * Apply one option found by the parser (command line) or looked up in the
 * same table (config file).  0, or -1 after printing one error line that
 * begins with where ("" or "FILE:LINE: ").
 */
static int apply_option(struct serve_daemon *d, struct serve_opts *o,
			const struct cli_val *v, const char *where, int depth)
{
	const struct serve_frontend *fe;
	const char *key = v->key, *value = v->str;
	unsigned idx;
	char err[256];

	if (serve_save_note_option(key, value ? value : "yes") < 0) {
		fprintf(stderr, "scsikit serve: out of memory\n");
		return -1;
	}
	switch (v->id) {
	case SO_DISK:
		if (o->ndisks == SERVE_MAX_DISK_ARGS) {
			fprintf(stderr, "scsikit serve: %stoo many --disk\n",
				where);
			return -1;
		}
		o->disks[o->ndisks++] = value;
		return 0;
	case SO_NO_DEFAULT_DISK:
		o->no_default_disk = true;
		return 0;
	case SO_SYSLOG:
		o->use_syslog = true;
		return 0;
	case SO_SOCKET:
		o->ctl_path = value;
		return 0;
	case SO_CONFIG:
		if (depth > 4) {
			fprintf(stderr, "scsikit serve: %sconfig files nest "
					"too deep\n", where);
			return -1;
		}
		return config_file(d, o, value, depth + 1);
	case SO_REACTORS:
		o->reactors = (unsigned)v->num;
		return 0;
	case SO_LOG_LEVEL:
		o->log_level = parse_level(value);
		if (o->log_level < 0) {
			fprintf(stderr, "scsikit serve: %sunknown log level "
					"'%s'\n", where, value);
			return -1;
		}
		return 0;
	case SO_TRACE: {
		uint32_t m;

		if (log_trace_parse(value, &m) < 0) {
			fprintf(stderr, "scsikit serve: %sunknown trace "
					"category in '%s'\n", where, value);
			return -1;
		}
		sk_trace_mask = m;
		return 0;
	}
	}
	/* A front end's option. */
	fe = frontend_for(key, &idx);
	if (!fe) {
		/* "--nbd none" works in a build without NBD too. */
		for (unsigned i = 0; i < serve_nfrontends; i++)
			if (strcmp(key, serve_frontend_names[i]) == 0 &&
			    strcmp(value, "none") == 0)
				return 0;
		fprintf(stderr, "scsikit serve: %s'--%s': this build has no "
				"such front end\n", where, key);
		return -1;
	}
	if (!serve_frontend_has_option(fe, key)) {
		fprintf(stderr, "scsikit serve: %sunknown option '--%s'\n",
			where, key);
		return -1;
	}
	if (!d->fe_state[idx]) {
		fprintf(stderr, "scsikit serve: %s%s: not available\n", where,
			fe->name);
		return -1;
	}
	if (fe->configure(d->fe_state[idx], key, value, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "scsikit serve: %s--%s %s: %s\n", where, key,
			value, err);
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
	const struct cli_opt *opt;
	char line[4096], where[300], err[256];
	struct cli_val v;
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
		snprintf(where, sizeof(where), "%s:%d: ", path, lineno);
		opt = cli_opt_find(serve_opts, key);
		if (!opt || opt->id == SO_HELP) {
			fprintf(stderr, "scsikit serve: %sunknown option "
					"'%s'\n", where, key);
			goto out_fail;
		}
		if (opt->type == CLI_FLAG) {
			/* A flag in a file says yes or no. */
			if (strcmp(val, "yes") && strcmp(val, "no")) {
				fprintf(stderr, "scsikit serve: %s'%s' takes "
						"yes or no\n", where, key);
				goto out_fail;
			}
			if (!strcmp(val, "no"))
				continue;
			val = NULL;
		}
		if (cli_opt_check(opt, val, &v, err, sizeof(err)) < 0) {
			fprintf(stderr, "scsikit serve: %s%s\n", where, err);
			goto out_fail;
		}
		/* Options keep pointers: give each line its own copy. */
		v.key = serve_save_keep(strdup(key));
		v.str = val ? serve_save_keep(strdup(val)) : NULL;
		if (!v.key || (val && !v.str) ||
		    apply_option(d, o, &v, where, depth) < 0)
			goto out_fail;
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
	char name[128], spec[1024];
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
	if (strlen(eq + 1) >= sizeof(spec)) {
		snprintf(err, errlen, "disk spec too long");
		return -1;
	}
	strcpy(spec, eq + 1);
	if (serve_disk_identity(name, spec, err, errlen) < 0)
		return -1;
	bd = bdev_create_spec(name, spec, err, errlen);
	if (!bd)
		return -1;
	rc = bdev_registry_add(bd);
	bdev_release(bd);
	if (rc < 0) {
		snprintf(err, errlen, "disk '%s' exists already", name);
		return -1;
	}
	if (serve_save_note_disk(name, eq + 1) < 0)
		log_warn("disk %s: out of memory noting it for config save",
			 name);
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

/* The daemon being set up and run (serve.h). */
struct serve {
	struct serve_daemon d;
	struct serve_opts o;
	char host[64];
};

struct serve *serve_new(void)
{
	struct serve *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->o.reactors = 2;
	s->o.log_level = SK_LOG_INFO;
	if (gethostname(s->host, sizeof(s->host)) < 0)
		snprintf(s->host, sizeof(s->host), "localhost");
	s->host[sizeof(s->host) - 1] = '\0';
	s->d.ctx.instance = s->host;
	for (unsigned i = 0; i < serve_nfrontends && i < SERVE_MAX_FRONTENDS;
	     i++) {
		if (serve_frontends[i])
			s->d.fe_state[i] = serve_frontends[i]->create(&s->d.ctx);
	}
	return s;
}

int serve_option(struct serve *s, const struct cli_val *v)
{
	return apply_option(&s->d, &s->o, v, "", 0);
}

void serve_free(struct serve *s)
{
	stop_frontends(&s->d);
	serve_save_free();
	free(s);
}

int serve_run(struct serve *s)
{
	struct serve_daemon *dp = &s->d;
	struct serve_opts *op = &s->o;
	char err[256];
	struct ev_io *sigio = NULL;
	sigset_t mask;
	int sfd = -1, rc = 1;

	log_init("scsikit", op->log_level, op->use_syslog);
	signal(SIGPIPE, SIG_IGN);

	/* Block the stop signals before any thread exists
	 * (an rbd disk starts librados' threads as it opens), so that every
	 * thread inherits the mask and only the signalfd sees them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	if (op->ndisks == 0 && !op->no_default_disk)
		op->disks[op->ndisks++] = SERVE_DEFAULT_DISK;
	for (unsigned i = 0; i < op->ndisks; i++) {
		if (serve_disk_add(op->disks[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "scsikit serve: --disk %s: %s\n",
				op->disks[i], err);
			goto out_disks;
		}
	}

	if (start_reactors(dp, op->reactors) < 0)
		goto out_reactors;

	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 ||
	    !(sigio = ev_io_add(dp->loops[0], sfd, EV_READ, on_signal, dp))) {
		fprintf(stderr, "scsikit serve: signalfd: %s\n",
			strerror(errno));
		goto out_reactors;
	}

	snprintf(dp->ctl_path, sizeof(dp->ctl_path), "%s",
		 op->ctl_path ? op->ctl_path : ctl_default_socket());
	dp->ctl = serve_ctl_start(dp, dp->ctl_path, err, sizeof(err));
	if (!dp->ctl) {
		fprintf(stderr, "scsikit serve: control socket %s: %s\n",
			dp->ctl_path, err);
		goto out_sig;
	}

	for (unsigned i = 0; i < serve_nfrontends; i++) {
		const struct serve_frontend *fe = serve_frontends[i];

		if (!fe || !dp->fe_state[i])
			continue;
		if (fe->start(dp->fe_state[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "scsikit serve: %s: %s\n", fe->name,
				err);
			goto out_ctl;
		}
		dp->fe_started[i] = true;
	}

	dp->started_ms = ev_now_ms();
	log_info("ready: %u disk%s, control socket %s",
		 bdev_registry_count(), bdev_registry_count() == 1 ? "" : "s",
		 dp->ctl_path);
	serve_notify("READY=1");
	rc = ev_loop_run(dp->loops[0]) < 0 ? 1 : 0;
	serve_notify("STOPPING=1");
	log_info("stopping");

out_ctl:
	stop_frontends(dp);
	serve_ctl_stop(dp->ctl);
out_sig:
	ev_io_del(sigio);
	if (sfd >= 0)
		close(sfd);
out_reactors:
	stop_frontends(dp);
	/* Blocking I/O still on the worker pool completes by posting to its
	 * reactor: drain the pool while every loop still exists, then let
	 * each loop run what was posted to it as it is destroyed. */
	bdev_pool_shutdown();
	stop_reactors(dp);
out_disks:
	bdev_registry_clear();
	bdev_pool_shutdown();
	serve_save_free();
	free(s);
	return rc;
}
