/*
 * The daemon's control socket (server side): the counterpart of tgtadm's
 * socket and FreeBSD's /dev/xpt0.  A Unix stream socket, mode 0600, served
 * on reactor 0.  The protocol (docs/control-socket.md):
 *
 *   request:  one line of words separated by spaces; inside a word, %XX
 *             stands for the byte XX (so words may hold spaces);
 *   answer:   "OK <n>\n" followed by n bytes of body, or "ERR <message>\n".
 *
 * Several requests may follow on one connection.  Sizes are bounded: a
 * request line longer than CTL_MAX_LINE or with more than CTL_MAX_ARGS words
 * is answered with an error and the connection closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <scsikit/api.h>
#include <scsikit/bdev.h>
#include <scsikit/evloop.h>
#include <scsikit/linkfault.h>
#include <scsikit/log.h>

#include "json_out.h"
#include "util/admit.h"
#include "serve_internal.h"

#define CTL_MAX_LINE 65536
#define CTL_MAX_ARGS 64
#define CTL_MAX_CONNS 64
/* At the cap, a new connection evicts the one idle longest if that has sent
 * nothing, been answered in full and waited at least this long: the
 * socket is the owner's (mode 0600), and one of the owner's programs that
 * opened connections and forgot them must not lock the owner out. */
#define CTL_IDLE_EVICT_MS 2000

struct ctl_conn {
	struct serve_ctl *ctl;
	int fd;
	struct ev_io *io;
	char in[CTL_MAX_LINE];
	size_t inlen;
	char *out;		/* pending answer bytes */
	size_t outlen, outoff;
	bool close_after;
	uint64_t last_ms;	/* last byte read or written */
	struct ctl_conn *next;
};

struct serve_ctl {
	struct serve_daemon *d;
	int lfd;
	struct ev_io *lio;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_conn *conns;
	unsigned nconns;
	struct sk_admit admit;	/* counters of the cap (docs/limits.md) */
};

static void conn_close(struct ctl_conn *c)
{
	struct serve_ctl *ctl = c->ctl;

	for (struct ctl_conn **pp = &ctl->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ctl->nconns--;
	sk_admit_leave(&ctl->admit, &(struct sockaddr_storage){
					    .ss_family = AF_UNIX});
	ev_io_del(c->io);
	close(c->fd);
	free(c->out);
	free(c);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Split line in place into words and decode %XX; -1 if malformed. */
static int split_words(char *line, char **argv, int max)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		char *w, *o;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (argc == max)
			return -1;
		w = o = p;
		while (*p && *p != ' ' && *p != '\t') {
			if (*p == '%') {
				int hi = hexval(p[1]), lo;

				if (hi < 0)
					return -1;
				lo = hexval(p[2]);
				if (lo < 0)
					return -1;
				*o++ = (char)(hi * 16 + lo);
				p += 3;
			} else {
				*o++ = *p++;
			}
		}
		if (*p)
			p++;
		*o = '\0';
		argv[argc++] = w;
	}
	return argc;
}

static bool has_flag(int argc, char **argv, const char *flag)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return true;
	return false;
}

struct list_ctx {
	FILE *out;
	bool json;
	bool first;
	const char *only;
	bool found;
};

static void disk_list_one(struct bdev *bd, void *arg)
{
	struct list_ctx *lc = arg;
	const struct bdev_geometry *g = bdev_geometry(bd);
	char desc[256];

	bdev_describe(bd, desc, sizeof(desc));
	if (lc->json) {
		fprintf(lc->out, "%s\n  {\"name\": ", lc->first ? "" : ",");
		json_put_string(lc->out, bdev_name(bd));
		fprintf(lc->out, ", \"backend\": ");
		json_put_string(lc->out, bdev_backend(bd));
		fprintf(lc->out,
			", \"size\": %llu, \"block_size\": %u, "
			"\"physical_block_size\": %u, \"read_only\": %s, "
			"\"discard\": %s, \"description\": ",
			(unsigned long long)g->size, g->lbsize, g->pbsize,
			g->read_only ? "true" : "false",
			g->can_discard ? "true" : "false");
		json_put_string(lc->out, desc);
		fputc('}', lc->out);
	} else {
		fprintf(lc->out, "%-16s %-6s %14llu %5u %-2s %s\n",
			bdev_name(bd), bdev_backend(bd),
			(unsigned long long)g->size, g->lbsize,
			g->read_only ? "ro" : "rw", desc);
	}
	lc->first = false;
}

static const char *const io_type_names[BDEV_IO_TYPE_COUNT] = {
	"read", "write", "flush", "discard", "write_zeroes", "compare_write",
};

static void stats_one(struct bdev *bd, void *arg)
{
	struct list_ctx *lc = arg;
	struct bdev_stats st;
	uint64_t ops = 0;

	if (lc->only && strcmp(lc->only, bdev_name(bd)) != 0)
		return;
	lc->found = true;
	bdev_get_stats(bd, &st);
	for (int t = 0; t < BDEV_IO_TYPE_COUNT; t++)
		ops += st.ops[t];
	if (lc->json) {
		fprintf(lc->out, "%s\n  {\"name\": ", lc->first ? "" : ",");
		json_put_string(lc->out, bdev_name(bd));
		for (int t = 0; t < BDEV_IO_TYPE_COUNT; t++)
			fprintf(lc->out, ", \"%s_ops\": %llu, \"%s_bytes\": %llu",
				io_type_names[t],
				(unsigned long long)st.ops[t], io_type_names[t],
				(unsigned long long)st.bytes[t]);
		fprintf(lc->out,
			", \"errors\": %llu, \"in_flight\": %llu, "
			"\"avg_latency_us\": %.1f, \"last_offset\": %llu}",
			(unsigned long long)st.errors,
			(unsigned long long)st.in_flight,
			ops ? (double)st.total_ns / (double)ops / 1000.0 : 0.0,
			(unsigned long long)st.last_offset);
	} else {
		fprintf(lc->out, "%s:\n", bdev_name(bd));
		for (int t = 0; t < BDEV_IO_TYPE_COUNT; t++)
			fprintf(lc->out, "  %-13s %12llu ops %16llu bytes\n",
				io_type_names[t],
				(unsigned long long)st.ops[t],
				(unsigned long long)st.bytes[t]);
		fprintf(lc->out,
			"  errors %llu, in flight %llu, average latency "
			"%.1f us, last offset %llu\n",
			(unsigned long long)st.errors,
			(unsigned long long)st.in_flight,
			ops ? (double)st.total_ns / (double)ops / 1000.0 : 0.0,
			(unsigned long long)st.last_offset);
	}
	lc->first = false;
}

/* "disk fault NAME RULE": change the rule of a fault disk; "release"
 * completes held I/O. */
static int ctl_disk_fault(const char *name, const char *rule, FILE *out)
{
	struct bdev *bd = bdev_registry_get(name);
	struct bdev_fault_rule r;
	char err[200];
	int rc = -1;

	if (!bd) {
		fprintf(out, "no disk '%s'", name);
		return -1;
	}
	if (!bdev_is_fault(bd)) {
		fprintf(out, "disk '%s' is not a fault disk (make it with "
			     "fault:SPEC)", name);
	} else if (strcmp(rule, "release") == 0) {
		bdev_fault_release_held(bd);
		rc = 0;
	} else if (bdev_fault_parse(rule, &r, err, sizeof(err)) < 0) {
		fprintf(out, "%s", err);
	} else {
		bdev_fault_set(bd, &r);
		fprintf(out, "hits %llu\n",
			(unsigned long long)bdev_fault_hits(bd));
		rc = 0;
	}
	bdev_release(bd);
	return rc;
}

/* "status [--json]": uptime, reactors, disks, running front ends. */
static int ctl_status(struct serve_daemon *d, bool json, FILE *out)
{
	unsigned long long up = (ev_now_ms() - d->started_ms) / 1000;
	const char *sep = "";

	if (json)
		fprintf(out, "{\"version\": \"%s\", \"uptime_s\": %llu, "
			     "\"reactors\": %u, \"disks\": %u, "
			     "\"frontends\": [",
			SCSIKIT_VERSION_STRING, up, d->ctx.nloops,
			bdev_registry_count());
	else
		fprintf(out, "uptime_s %llu\nreactors %u\ndisks %u\n", up,
			d->ctx.nloops, bdev_registry_count());
	for (unsigned i = 0; i < serve_nfrontends; i++) {
		if (!serve_frontends[i] || !d->fe_started[i])
			continue;
		if (json)
			fprintf(out, "%s\"%s\"", sep, serve_frontends[i]->name);
		else
			fprintf(out, "frontend %s\n", serve_frontends[i]->name);
		sep = ", ";
	}
	if (json)
		fputs("]}\n", out);
	return 0;
}

/* "fault link add SPEC | list | clear [ID]": link-layer faults. */
static int ctl_fault(int argc, char **argv, FILE *out)
{
	struct sk_link_fault_rule r;
	char err[200];
	int id;

	if (argc == 3 && strcmp(argv[1], "link") == 0 &&
	    strcmp(argv[2], "list") == 0) {
		sk_link_fault_list(out);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "link") == 0 &&
	    strcmp(argv[2], "add") == 0) {
		if (sk_link_fault_parse(argv[3], &r, err, sizeof(err)) < 0) {
			fprintf(out, "%s", err);
			return -1;
		}
		id = sk_link_fault_add(&r);
		if (id < 0) {
			fprintf(out, "cannot add link fault: %s",
				strerror(-id));
			return -1;
		}
		fprintf(out, "rule %d\n", id);
		return 0;
	}
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "link") == 0 &&
	    strcmp(argv[2], "clear") == 0) {
		id = argc == 4 ? atoi(argv[3]) : 0;
		if ((argc == 4 && id <= 0) || sk_link_fault_clear(id) < 0) {
			fprintf(out, "no link fault rule '%s'", argv[3]);
			return -1;
		}
		return 0;
	}
	fprintf(out, "usage: fault link add SPEC | fault link list | "
		     "fault link clear [ID]");
	return -1;
}

/* Run one request; writes the body to out.  0 = OK, -1 = ERR (first line
 * of out is the message). */
static int ctl_dispatch(struct serve_ctl *ctl, int argc, char **argv,
			FILE *out)
{
	struct serve_daemon *d = ctl->d;
	struct list_ctx lc = { .out = out, .first = true };
	char err[256];

	if (argc == 0) {
		fprintf(out, "empty request");
		return -1;
	}
	lc.json = has_flag(argc, argv, "--json");
	sk_trace(SK_TRACE_CTL, "ctl: request '%s' (%d words)", argv[0], argc);

	if (strcmp(argv[0], "version") == 0) {
		fprintf(out, "scsikit %s\n", SCSIKIT_VERSION_STRING);
		return 0;
	}
	if (strcmp(argv[0], "status") == 0)
		return ctl_status(d, lc.json, out);
	if (strcmp(argv[0], "disk") == 0) {
		if (argc >= 2 && strcmp(argv[1], "list") == 0) {
			if (lc.json)
				fputc('[', out);
			bdev_registry_foreach(disk_list_one, &lc);
			if (lc.json)
				fputs(lc.first ? "]\n" : "\n]\n", out);
			return 0;
		}
		if (argc == 4 && strcmp(argv[1], "add") == 0) {
			char *spec;

			if (asprintf(&spec, "%s=%s", argv[2], argv[3]) < 0) {
				fprintf(out, "out of memory");
				return -1;
			}
			if (serve_disk_add(spec, err, sizeof(err)) < 0) {
				free(spec);
				fprintf(out, "%s", err);
				return -1;
			}
			free(spec);
			log_info("disk %s added (%s)", argv[2], argv[3]);
			return 0;
		}
		if (argc == 3 && strcmp(argv[1], "remove") == 0) {
			if (bdev_registry_remove(argv[2]) < 0) {
				fprintf(out, "no disk '%s'", argv[2]);
				return -1;
			}
			log_info("disk %s removed", argv[2]);
			return 0;
		}
		if (argc == 4 && strcmp(argv[1], "fault") == 0)
			return ctl_disk_fault(argv[2], argv[3], out);
		if ((argc == 3 && strcmp(argv[1], "eject") == 0) ||
		    ((argc == 3 || argc == 4) && strcmp(argv[1], "load") == 0))
			return ctl_disk_medium(argc, argv, out);
		fprintf(out, "usage: disk list [--json] | disk add NAME SPEC "
			     "| disk remove NAME | disk fault NAME RULE "
			     "| disk eject NAME | disk load NAME [SPEC]");
		return -1;
	}
	if (strcmp(argv[0], "stats") == 0) {
		if (argc >= 2 && argv[1][0] != '-') {
			struct bdev *bd = bdev_registry_get(argv[1]);

			if (!bd) {
				fprintf(out, "no disk '%s'", argv[1]);
				return -1;
			}
			bdev_release(bd);
			lc.only = argv[1];
		}
		if (lc.json)
			fputc('[', out);
		bdev_registry_foreach(stats_one, &lc);
		if (lc.json)
			fputs(lc.first ? "]\n" : "\n]\n", out);
		/* Then what the admission limits did (docs/limits.md). */
		if (!lc.json && !lc.only) {
			fprintf(out, "limits:\n");
			sk_admit_dump_all(out);
		}
		return 0;
	}
	if (strcmp(argv[0], "trace") == 0) {
		char buf[128];

		if (argc >= 2 && strcmp(argv[1], "--json") != 0) {
			uint32_t m;

			if (log_trace_parse(argv[1], &m) < 0) {
				fprintf(out, "unknown trace category in '%s'",
					argv[1]);
				return -1;
			}
			sk_trace_mask = m;
		}
		log_trace_format(sk_trace_mask, buf, sizeof(buf));
		if (lc.json) {
			fputs("{\"trace\": ", out);
			json_put_string(out, buf);
			fputs("}\n", out);
		} else {
			fprintf(out, "%s\n", buf);
		}
		return 0;
	}
	if (strcmp(argv[0], "log-level") == 0) {
		static const char *const names[] = { "error", "warning",
						     "info", "debug" };

		if (argc >= 2) {
			int l = -1;

			for (int i = 0; i < 4; i++)
				if (strcmp(argv[1], names[i]) == 0)
					l = i;
			if (l < 0) {
				fprintf(out, "unknown level '%s'", argv[1]);
				return -1;
			}
			log_set_level(l);
		}
		fprintf(out, "%s\n", names[log_get_level() & 3]);
		return 0;
	}
	if (strcmp(argv[0], "config") == 0) {
		if (argc != 2 || strcmp(argv[1], "save") != 0) {
			fprintf(out, "usage: config save");
			return -1;
		}
		return serve_save_write(d, out);
	}
	if (strcmp(argv[0], "fault") == 0)
		return ctl_fault(argc, argv, out);
	if (strcmp(argv[0], "shutdown") == 0) {
		serve_request_stop(d);
		return 0;
	}
	for (unsigned i = 0; i < serve_nfrontends; i++) {
		const struct serve_frontend *fe = serve_frontends[i];

		if (!fe || strcmp(argv[0], fe->name) != 0)
			continue;
		if (!d->fe_started[i] || !fe->ctl) {
			fprintf(out, "%s is not running in this daemon",
				fe->name);
			return -1;
		}
		return fe->ctl(d->fe_state[i], argc, argv, out) < 0 ? -1 : 0;
	}
	fprintf(out, "unknown request '%s'", argv[0]);
	return -1;
}

static void conn_flush(struct ctl_conn *c);

/* Queue the answer for one request. */
static void conn_answer(struct ctl_conn *c, int rc, const char *body,
			size_t len)
{
	char hdr[64];
	size_t hlen, need;
	char *nb;

	if (rc == 0) {
		hlen = (size_t)snprintf(hdr, sizeof(hdr), "OK %zu\n", len);
	} else {
		/* ERR carries one line: cut the message at its newline. */
		size_t l = strcspn(body, "\n");

		len = l > 1000 ? 1000 : l;
		hlen = (size_t)snprintf(hdr, sizeof(hdr), "ERR ");
	}
	need = c->outlen - c->outoff + hlen + len + 1;
	nb = malloc(need);
	if (!nb) {
		c->close_after = true;
		return;
	}
	need = c->outlen - c->outoff;
	if (need)
		memcpy(nb, c->out + c->outoff, need);
	memcpy(nb + need, hdr, hlen);
	memcpy(nb + need + hlen, body, len);
	need += hlen + len;
	if (rc != 0)
		nb[need++] = '\n';
	free(c->out);
	c->out = nb;
	c->outlen = need;
	c->outoff = 0;
}

static void conn_flush(struct ctl_conn *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = write(c->fd, c->out + c->outoff,
				  c->outlen - c->outoff);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			c->close_after = true;
			c->outoff = c->outlen;
			break;
		}
		c->outoff += (size_t)n;
		c->last_ms = ev_now_ms();
	}
	if (c->outoff == c->outlen) {
		free(c->out);
		c->out = NULL;
		c->outlen = c->outoff = 0;
	}
}

static void conn_handle_line(struct ctl_conn *c, char *line)
{
	char *argv[CTL_MAX_ARGS + 1];
	char *body = NULL;
	size_t blen = 0;
	FILE *out;
	int argc, rc;

	argc = split_words(line, argv, CTL_MAX_ARGS);
	out = open_memstream(&body, &blen);
	if (!out) {
		c->close_after = true;
		return;
	}
	if (argc < 0) {
		fprintf(out, "malformed request (bad %%XX escape or more than "
			     "%d words)", CTL_MAX_ARGS);
		rc = -1;
	} else {
		argv[argc] = NULL;
		rc = ctl_dispatch(c->ctl, argc, argv, out);
	}
	fclose(out);
	conn_answer(c, rc, body ? body : "", blen);
	free(body);
}

static void conn_event(struct ev_io *io, int fd, uint32_t events, void *arg)
{
	struct ctl_conn *c = arg;

	if (events & EV_READ) {
		ssize_t n = read(fd, c->in + c->inlen,
				 sizeof(c->in) - c->inlen);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c);
			return;
		}
		if (n > 0) {
			c->inlen += (size_t)n;
			c->last_ms = ev_now_ms();
		}
		for (;;) {
			char *nl = memchr(c->in, '\n', c->inlen);
			size_t used;

			if (!nl)
				break;
			*nl = '\0';
			if (nl > c->in && nl[-1] == '\r')
				nl[-1] = '\0';
			conn_handle_line(c, c->in);
			used = (size_t)(nl - c->in) + 1;
			memmove(c->in, nl + 1, c->inlen - used);
			c->inlen -= used;
		}
		if (c->inlen == sizeof(c->in)) {
			static const char msg[] = "request line too long";

			conn_answer(c, -1, msg, sizeof(msg) - 1);
			c->close_after = true;
			c->inlen = 0;
		}
	}
	conn_flush(c);
	if (c->outlen == 0 && c->close_after) {
		conn_close(c);
		return;
	}
	/* While an answer is pending, wait for the client to read it before
	 * taking more requests: that bounds what one client can queue. */
	ev_io_modify(c->io, c->outlen ? EV_WRITE : EV_READ);
}

/* At the cap: close the connection idle longest, if any qualifies. */
static bool ctl_evict_idle(struct serve_ctl *ctl)
{
	uint64_t now = ev_now_ms();
	struct ctl_conn *c, *victim = NULL;

	for (c = ctl->conns; c; c = c->next)
		if (!c->inlen && !c->outlen &&
		    now - c->last_ms >= CTL_IDLE_EVICT_MS &&
		    (!victim || c->last_ms < victim->last_ms))
			victim = c;
	if (!victim)
		return false;
	sk_admit_note(&ctl->admit, SK_ADMIT_EVICTED,
		      "at the cap of %d connections: closing one idle "
		      "%llu ms for a new one", CTL_MAX_CONNS,
		      (unsigned long long)(now - victim->last_ms));
	conn_close(victim);
	return true;
}

static void ctl_accept(struct ev_io *io, int fd, uint32_t events, void *arg)
{
	struct serve_ctl *ctl = arg;
	const struct sockaddr_storage local = {.ss_family = AF_UNIX};

	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_conn *c;

		if (cfd < 0)
			return;
		if (ctl->nconns >= CTL_MAX_CONNS)
			ctl_evict_idle(ctl);
		if (sk_admit_enter(&ctl->admit, &local, "a client") < 0) {
			close(cfd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			sk_admit_leave(&ctl->admit, &local);
			close(cfd);
			continue;
		}
		c->ctl = ctl;
		c->fd = cfd;
		c->last_ms = ev_now_ms();
		c->io = ev_io_add(ctl->d->loops[0], cfd, EV_READ, conn_event, c);
		if (!c->io) {
			sk_admit_leave(&ctl->admit, &local);
			close(cfd);
			free(c);
			continue;
		}
		c->next = ctl->conns;
		ctl->conns = c;
		ctl->nconns++;
	}
}

/* Create the socket's directory if it is missing (one level, mode 0700). */
static void make_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		log_warn("control socket: mkdir %s: %s", dir, strerror(errno));
}

struct serve_ctl *serve_ctl_start(struct serve_daemon *d, const char *path,
				  char *err, size_t errlen)
{
	struct serve_ctl *ctl;
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "path too long");
		return NULL;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ctl->d = d;
	sk_admit_init(&ctl->admit, "ctl", CTL_MAX_CONNS, 0);
	snprintf(ctl->path, sizeof(ctl->path), "%s", path);
	make_parent_dir(path);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out_errno;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* A socket file left by a daemon that died is replaced; one that a
	 * live daemon answers on is not. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		snprintf(err, errlen, "another daemon is listening there");
		close(fd);
		sk_admit_fini(&ctl->admit);
		free(ctl);
		return NULL;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto out_errno;
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		goto out_close;
	}
	umask(old);
	if (listen(fd, 16) < 0)
		goto out_close;
	ctl->lfd = fd;
	ctl->lio = ev_io_add(d->loops[0], fd, EV_READ, ctl_accept, ctl);
	if (!ctl->lio)
		goto out_close;
	return ctl;

out_close:
	close(fd);
out_errno:
	snprintf(err, errlen, "%s", strerror(errno));
	sk_admit_fini(&ctl->admit);
	free(ctl);
	return NULL;
}

void serve_ctl_stop(struct serve_ctl *ctl)
{
	if (!ctl)
		return;
	while (ctl->conns)
		conn_close(ctl->conns);
	ev_io_del(ctl->lio);
	close(ctl->lfd);
	unlink(ctl->path);
	sk_admit_fini(&ctl->admit);
	free(ctl);
}
