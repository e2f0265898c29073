/*
 * The NBD server object: listeners (TCP and Unix), the accept path that
 * hands each connection to a reactor, the exports as seen by the handshake
 * (the disks of the bdev registry), and the list of open connections used
 * for shutdown and for the control socket.
 *
 * Locking: s->lock guards the connection list and the counters; it is taken
 * when a connection opens or closes and by the control socket, never per
 * request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <scsikit/linkfault.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "nbd/nbd_int.h"
#include "util/hostport.h"
#include "util/json.h"
#include "util/admit.h"

/* ---- exports: the bdev registry ---- */

static void export_fill(struct bdev *bd, struct nbd_export_desc *d)
{
	const struct bdev_geometry *geo = bdev_geometry(bd);

	d->handle = bd;
	d->name = bdev_name(bd);
	d->descbuf[0] = '\0';
	bdev_describe(bd, d->descbuf, sizeof(d->descbuf));
	d->description = d->descbuf;
	d->size = geo->size;
	d->tflags = nbd_tflags_from_geometry(geo);
	nbd_block_sizes_from_geometry(geo, &d->bs);
}

static void export_first(struct bdev *bd, void *arg)
{
	struct bdev **first = arg;

	if (!*first)
		*first = bdev_hold(bd);
}

static int registry_get(void *arg, const char *name, size_t len,
			struct nbd_export_desc *d)
{
	char buf[NBD_NAME_MAX + 1];
	struct bdev *bd = NULL;

	(void)arg;
	if (len == 0) {
		/* The default export: the first disk. */
		bdev_registry_foreach(export_first, &bd);
	} else {
		if (len > NBD_NAME_MAX || memchr(name, '\0', len))
			return -ENOENT;
		memcpy(buf, name, len);
		buf[len] = '\0';
		bd = bdev_registry_get(buf);
	}
	if (!bd)
		return -ENOENT;
	export_fill(bd, d);
	return 0;
}

static void registry_put(void *arg, struct nbd_export_desc *d)
{
	(void)arg;
	if (d->handle)
		bdev_release(d->handle);
	d->handle = NULL;
}

struct registry_list_ctx {
	nbd_export_list_fn fn;
	void *fnarg;
};

static void registry_list_one(struct bdev *bd, void *arg)
{
	struct registry_list_ctx *c = arg;
	char desc[128] = "";

	bdev_describe(bd, desc, sizeof(desc));
	c->fn(c->fnarg, bdev_name(bd), desc);
}

static void registry_list(void *arg, nbd_export_list_fn fn, void *fnarg)
{
	struct registry_list_ctx c = {fn, fnarg};

	(void)arg;
	bdev_registry_foreach(registry_list_one, &c);
}

const struct nbd_export_ops nbd_registry_exports = {
	.get = registry_get,
	.put = registry_put,
	.list = registry_list,
};

/* ---- server object ---- */

void nbd_server_opts_init(struct nbd_server_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_conns = 1024;
	o->max_requests = 256;
	o->max_buffered = 64u << 20;
	o->stall_timeout_ms = 30000;
	o->handshake_timeout_ms = 30000;
	o->max_conns_per_peer = 128;
	o->idle_timeout_ms = 60000;
	o->body_timeout_ms = 30000;
}

struct nbd_server *nbd_server_create(const struct nbd_server_opts *o)
{
	struct nbd_server *s = calloc(1, sizeof(*s));
	struct nbd_server_opts def;

	if (!s)
		return NULL;
	nbd_server_opts_init(&def);
	s->opts = *o;
	if (!s->opts.max_conns)
		s->opts.max_conns = def.max_conns;
	if (!s->opts.max_requests)
		s->opts.max_requests = def.max_requests;
	if (!s->opts.max_buffered)
		s->opts.max_buffered = def.max_buffered;
	if (!s->opts.stall_timeout_ms)
		s->opts.stall_timeout_ms = def.stall_timeout_ms;
	if (!s->opts.handshake_timeout_ms)
		s->opts.handshake_timeout_ms = def.handshake_timeout_ms;
	if (!s->opts.max_conns_per_peer)
		s->opts.max_conns_per_peer = def.max_conns_per_peer;
	if (!s->opts.idle_timeout_ms)
		s->opts.idle_timeout_ms = def.idle_timeout_ms;
	if (!s->opts.body_timeout_ms)
		s->opts.body_timeout_ms = def.body_timeout_ms;
	/* The cap itself is kept below (it may evict); admit keeps the
	 * per-address counts. */
	sk_admit_init(&s->admit, "nbd", 0, s->opts.max_conns_per_peer);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->refs = 1;
	return s;
}

int nbd_server_set_tls(struct nbd_server *s, const struct nbd_tls_opts *o,
		       char *err, size_t errlen)
{
	struct nbd_tls_creds *cr = NULL;

	if (s->nlis || s->conns) {
		snprintf(err, errlen, "TLS must be set before listening");
		return -1;
	}
	if (o->mode != NBD_TLS_OFF &&
	    nbd_tls_creds_load(o, &cr, err, errlen) < 0)
		return -1;
	nbd_tls_creds_free(s->tls_creds);
	s->tls_creds = cr;
	s->tls_mode = o->mode;
	return 0;
}

static void server_free(struct nbd_server *s)
{
	nbd_tls_creds_free(s->tls_creds);
	sk_admit_fini(&s->admit);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

static void server_unref(struct nbd_server *s)
{
	bool last;

	pthread_mutex_lock(&s->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (last)
		server_free(s);
}

static void stats_add(struct nbd_server_stats *a,
		      const struct nbd_server_stats *b)
{
	a->requests += b->requests;
	a->bytes_read += b->bytes_read;
	a->bytes_written += b->bytes_written;
	a->errors += b->errors;
	a->protocol_closes += b->protocol_closes;
	a->body_timeouts += b->body_timeouts;
}

void nbd_server_conn_gone(struct nbd_server *s, struct nbd_conn *c)
{
	bool last;

	pthread_mutex_lock(&s->lock);
	if (c->prevp) {
		*c->prevp = c->next;
		if (c->next)
			c->next->prevp = c->prevp;
		s->nconns--;
		sk_admit_leave(&s->admit, &c->peer_ss);
	}
	stats_add(&s->stats, &c->st);
	last = --s->refs == 0;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (last)
		server_free(s);
}

/* ---- listeners ---- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void peer_string(const struct sockaddr_storage *ss, socklen_t len,
			char *buf, size_t blen)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, blen, "%s:%u", host, ntohs(in->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, blen, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		(void)len;
		snprintf(buf, blen, "unix");
	}
}

/* What to tell a reactor to close: the connection by id, so that one
 * gone meanwhile is simply not found. */
struct conn_evict {
	struct nbd_server *s;
	struct ev_loop *loop;
	uint64_t id;
};

/* Runs on the victim's reactor, which alone frees its connections, so the
 * entry found under the lock stays valid while it is closed.  A victim
 * that has started a request meanwhile is left alone. */
static void server_evict_cb(void *arg)
{
	struct conn_evict *e = arg;
	struct nbd_server *s = e->s;
	struct nbd_conn *c;

	pthread_mutex_lock(&s->lock);
	for (c = s->conns; c; c = c->next)
		if (c->id == e->id && c->loop == e->loop)
			break;
	if (c && c->state == NBD_CONN_TRANSMISSION &&
	    __atomic_load_n(&c->idle_since_ms, __ATOMIC_RELAXED)) {
		s->stats.evicted_idle++;
		nbd_conn_kill(c, "idle, closed for a new connection");
	} else if (c) {
		c->evicting = false;
	}
	pthread_mutex_unlock(&s->lock);
	free(e);
	server_unref(s);
}

/*
 * At the cap: pick the connection that has been idle longest (no request
 * in flight, nothing arriving), if that is at least idle_timeout_ms, and
 * have its reactor close it.  Idle connections are never closed for
 * idleness alone -- a kernel nbd-client device or a qemu guest disk sits
 * idle for hours -- only when their slot is needed.  Called under s->lock;
 * true when a victim was found (the newcomer is then let in).
 */
static bool server_evict_idle(struct nbd_server *s, const char *peer)
{
	uint64_t now = ev_now_ms(), best = 0;
	struct nbd_conn *c, *victim = NULL;
	struct conn_evict *e;

	for (c = s->conns; c; c = c->next) {
		uint64_t since = __atomic_load_n(&c->idle_since_ms,
						 __ATOMIC_RELAXED);

		if (!c->started || c->evicting || !since ||
		    now - since < s->opts.idle_timeout_ms)
			continue;
		if (!victim || since < best) {
			victim = c;
			best = since;
		}
	}
	if (!victim)
		return false;
	e = malloc(sizeof(*e));
	if (!e)
		return false;
	e->s = s;
	e->loop = victim->loop;
	e->id = victim->id;
	if (ev_loop_post(victim->loop, server_evict_cb, e) < 0) {
		free(e);
		return false;
	}
	victim->evicting = true;
	s->refs++;
	sk_admit_note(&s->admit, SK_ADMIT_EVICTED,
		      "at the cap of %u connections: closing connection %llu "
		      "(%s, idle %llu s) for %s", s->opts.max_conns,
		      (unsigned long long)victim->id, victim->peer,
		      (unsigned long long)(now - best) / 1000, peer);
	return true;
}

static void server_accept_one(struct nbd_server *s, struct nbd_listener *l,
			      int fd, const struct sockaddr_storage *ss,
			      socklen_t sslen)
{
	struct ev_loop *loop;
	struct nbd_conn *c;
	char peer[80];
	uint64_t id;
	bool full;

	if (!l->is_unix) {
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	peer_string(ss, sslen, peer, sizeof(peer));
	if (sk_admit_enter(&s->admit, ss, peer) < 0) {
		pthread_mutex_lock(&s->lock);
		s->stats.conns_refused++;
		s->stats.refused_peer++;
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return;
	}
	pthread_mutex_lock(&s->lock);
	full = s->nconns >= s->opts.max_conns && !server_evict_idle(s, peer);
	if (full)
		s->stats.conns_refused++;
	id = ++s->next_id;
	pthread_mutex_unlock(&s->lock);
	if (full) {
		sk_admit_leave(&s->admit, ss);
		sk_admit_note(&s->admit, SK_ADMIT_REFUSED_CAP,
			      "%s refused: %u connections open (--nbd-max-"
			      "conns), none idle for %u ms", peer,
			      s->opts.max_conns, s->opts.idle_timeout_ms);
		close(fd);
		return;
	}
	loop = s->opts.pick_loop ? s->opts.pick_loop(s->opts.pick_arg)
				 : s->opts.accept_loop;
	c = nbd_conn_create(s, fd, loop, peer, id);
	if (!c) {
		sk_admit_leave(&s->admit, ss);
		close(fd);
		return;
	}
	c->peer_ss = *ss;
	pthread_mutex_lock(&s->lock);
	c->next = s->conns;
	if (c->next)
		c->next->prevp = &c->next;
	c->prevp = &s->conns;
	s->conns = c;
	s->nconns++;
	s->refs++;
	s->stats.conns_accepted++;
	pthread_mutex_unlock(&s->lock);
	log_debug("nbd %llu: connection from %s on %s",
		  (unsigned long long)id, peer, l->addr);
	if (ev_loop_post(loop, nbd_conn_start, c) < 0) {
		/* Cannot reach that reactor: serve it from this one. */
		c->loop = s->opts.accept_loop;
		nbd_conn_start(c);
	}
}

static void server_on_accept(struct ev_io *io, int lfd, uint32_t events,
			     void *arg)
{
	struct nbd_listener *l = arg;
	int i;

	(void)io;
	(void)events;
	for (i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				log_warn("nbd: accept on %s: %s", l->addr,
					 strerror(errno));
				/* Out of descriptors: back off briefly
				 * rather than spin on a ready listener. */
				if (errno == EMFILE || errno == ENFILE) {
					struct timespec ts = {0, 10000000};

					nanosleep(&ts, NULL);
				}
			}
			return;
		}
		/* A link fault rule may put a relay between us and the
		 * peer. */
		fd = sk_link_fault_wrap(fd, SK_LINK_NBD,
					(const struct sockaddr *)&ss, len);
		server_accept_one(l->srv, l, fd, &ss, len);
	}
}

/*
 * Split addr into a socket address.  Accepted: "unix:PATH", "/PATH",
 * "HOST:PORT", "[V6]:PORT", ":PORT" and "PORT" (both loopback).
 */
static int listen_parse(const char *addr, struct sockaddr_storage *ss,
			socklen_t *sslen, bool *is_unix, char *err,
			size_t errlen)
{
	char host[256], port[16];
	const char *path = NULL;
	struct addrinfo hints, *res = NULL;
	uint16_t pn;
	int rc;

	memset(ss, 0, sizeof(*ss));
	if (!strncmp(addr, "unix:", 5))
		path = addr + 5;
	else if (addr[0] == '/')
		path = addr;
	if (path) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;

		if (!*path || strlen(path) >= sizeof(un->sun_path)) {
			snprintf(err, errlen, "bad Unix socket path '%s'",
				 path);
			return -1;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		*sslen = sizeof(*un);
		*is_unix = true;
		return 0;
	}
	*is_unix = false;
	if (sk_parse_hostport(addr, SK_HP_BARE_PORT | SK_HP_PORT_ZERO, host, sizeof(host), &pn,
			      NBD_DEFAULT_PORT, err, errlen) < 0)
		return -1;
	if (!host[0])
		snprintf(host, sizeof(host), "127.0.0.1");
	snprintf(port, sizeof(port), "%u", pn);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc || !res) {
		snprintf(err, errlen, "cannot resolve '%s': %s", addr,
			 gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int nbd_server_listen(struct nbd_server *s, const char *addr, char *err,
		      size_t errlen)
{
	struct sockaddr_storage ss;
	struct nbd_listener *l;
	socklen_t sslen;
	bool is_unix;
	int fd, one = 1;

	if (s->nlis == NBD_MAX_LISTENERS) {
		snprintf(err, errlen, "too many NBD listeners");
		return -1;
	}
	if (listen_parse(addr, &ss, &sslen, &is_unix, err, errlen) < 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (is_unix) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		struct stat st;

		/* Replace a stale socket file, never anything else. */
		if (lstat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(un->sun_path);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 ||
	    listen(fd, 128) < 0 || set_nonblock(fd) < 0) {
		snprintf(err, errlen, "listen on %s: %s", addr,
			 strerror(errno));
		close(fd);
		return -1;
	}
	l = &s->lis[s->nlis];
	memset(l, 0, sizeof(*l));
	l->srv = s;
	l->fd = fd;
	l->is_unix = is_unix;
	snprintf(l->addr, sizeof(l->addr), "%s", addr);
	if (is_unix)
		snprintf(l->path, sizeof(l->path), "%s",
			 ((struct sockaddr_un *)&ss)->sun_path);
	l->io = ev_io_add(s->opts.accept_loop, fd, EV_READ, server_on_accept,
			  l);
	if (!l->io) {
		snprintf(err, errlen, "cannot watch listener: %s",
			 strerror(errno));
		close(fd);
		if (is_unix)
			unlink(l->path);
		return -1;
	}
	s->nlis++;
	log_info("nbd: listening on %s", addr);
	return 0;
}

/* ---- shutdown ---- */

struct loop_kill {
	struct nbd_server *s;
	struct ev_loop *loop;
};

/* Runs on one reactor: close every connection of s that lives there.  The
 * list cannot lose these entries meanwhile, because only this thread
 * removes them. */
static void server_kill_loop_conns(void *arg)
{
	struct loop_kill *k = arg;
	struct nbd_server *s = k->s;
	struct nbd_conn *c, *next;

	pthread_mutex_lock(&s->lock);
	for (c = s->conns; c; c = next) {
		next = c->next;
		/* One not yet started closes itself when it starts. */
		if (c->loop == k->loop && c->started)
			nbd_conn_kill_cb(c);
	}
	pthread_mutex_unlock(&s->lock);
	free(k);
	server_unref(s);
}

void nbd_server_destroy(struct nbd_server *s)
{
	struct ev_loop *loops[64];
	unsigned nloops = 0, nlocal = 0, i;
	struct nbd_conn *c, *next;

	if (!s)
		return;
	for (i = 0; i < s->nlis; i++) {
		ev_io_del(s->lis[i].io);
		close(s->lis[i].fd);
		if (s->lis[i].is_unix)
			unlink(s->lis[i].path);
	}
	s->nlis = 0;

	/*
	 * Connections on this thread's loop are closed here and now (their
	 * memory goes when that loop next runs, or is destroyed); those on
	 * other reactors are closed by a function posted to each.  Then wait
	 * a little for the others to be gone, so that a daemon shutting down
	 * does not destroy loops under live connections.
	 */
	pthread_mutex_lock(&s->lock);
	s->destroyed = true;
	for (c = s->conns; c; c = next) {
		next = c->next;
		if (ev_loop_in_thread(c->loop)) {
			/* Not started yet: closes itself when it starts. */
			if (c->started)
				nbd_conn_kill_cb(c);
			nlocal++;
			continue;
		}
		for (i = 0; i < nloops && loops[i] != c->loop; i++)
			;
		if (i == nloops && nloops < 64)
			loops[nloops++] = c->loop;
	}
	s->refs += nloops;
	pthread_mutex_unlock(&s->lock);

	for (i = 0; i < nloops; i++) {
		struct loop_kill *k = malloc(sizeof(*k));

		if (!k || (k->s = s, k->loop = loops[i],
			   ev_loop_post(loops[i], server_kill_loop_conns, k) <
				   0)) {
			free(k);
			server_unref(s);
		}
	}
	if (nloops) {
		struct timespec dl;

		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 3;
		pthread_mutex_lock(&s->lock);
		while (s->nconns > nlocal &&
		       pthread_cond_timedwait(&s->cond, &s->lock, &dl) == 0)
			;
		pthread_mutex_unlock(&s->lock);
	}
	server_unref(s);
}

/* ---- introspection ---- */

void nbd_server_get_stats(struct nbd_server *s, struct nbd_server_stats *st)
{
	struct nbd_conn *c;

	pthread_mutex_lock(&s->lock);
	*st = s->stats;
	st->conns_open = s->nconns;
	for (c = s->conns; c; c = c->next)
		stats_add(st, &c->st);
	pthread_mutex_unlock(&s->lock);
}

static const char *const conn_state_names[] = {
	[NBD_CONN_HANDSHAKE] = "handshake",
	[NBD_CONN_TRANSMISSION] = "transmission",
	[NBD_CONN_CLOSING] = "closing",
	[NBD_CONN_DRAINING] = "draining",
	[NBD_CONN_DEAD] = "dead",
};

/* The server's counters as "nbd list" prints them: one table for the
 * text and the JSON form, so neither can miss one. */
struct nbd_counter {
	const char *text, *json;
	uint64_t v;
};
#define NBD_NCOUNTERS 12

static void server_counters(const struct nbd_server_stats *st,
			    struct nbd_counter c[NBD_NCOUNTERS])
{
	const struct nbd_counter t[NBD_NCOUNTERS] = {
		{ "open", "connections_open", st->conns_open },
		{ "accepted", "accepted", st->conns_accepted },
		{ "refused", "refused", st->conns_refused },
		{ "requests", "requests", st->requests },
		{ "read-bytes", "read_bytes", st->bytes_read },
		{ "written-bytes", "written_bytes", st->bytes_written },
		{ "errors", "errors", st->errors },
		{ "protocol-closes", "protocol_closes", st->protocol_closes },
		{ "refused-peer", "refused_peer", st->refused_peer },
		{ "evicted-idle", "evicted_idle", st->evicted_idle },
		{ "body-timeouts", "body_timeouts", st->body_timeouts },
		{ "moved", "moved", st->conns_moved },
	};

	memcpy(c, t, sizeof(t));
}

void nbd_server_dump(struct nbd_server *s, FILE *out, bool conns)
{
	struct nbd_server_stats st;
	struct nbd_counter ctr[NBD_NCOUNTERS];
	struct nbd_conn *c;
	unsigned i;

	for (i = 0; i < s->nlis; i++)
		fprintf(out, "listen %s\n", s->lis[i].addr);
	nbd_server_get_stats(s, &st);
	server_counters(&st, ctr);
	fputs("connections", out);
	for (i = 0; i < NBD_NCOUNTERS; i++)
		fprintf(out, " %s %llu", ctr[i].text,
			(unsigned long long)ctr[i].v);
	fputc('\n', out);
	if (!conns)
		return;
	pthread_mutex_lock(&s->lock);
	for (c = s->conns; c; c = c->next)
		fprintf(out,
			"conn %llu peer %s state %s export '%s' in-flight %u "
			"requests %llu\n",
			(unsigned long long)c->id, c->peer,
			conn_state_names[c->state], c->export_name,
			c->inflight, (unsigned long long)c->st.requests);
	pthread_mutex_unlock(&s->lock);
}

void nbd_server_dump_json(struct nbd_server *s, FILE *out, bool conns)
{
	struct nbd_server_stats st;
	struct nbd_counter ctr[NBD_NCOUNTERS];
	struct nbd_conn *c;
	unsigned i;

	fputs("{\"listen\": [", out);
	for (i = 0; i < s->nlis; i++) {
		if (i)
			fputs(", ", out);
		sk_json_str(out, s->lis[i].addr);
	}
	nbd_server_get_stats(s, &st);
	server_counters(&st, ctr);
	fputc(']', out);
	for (i = 0; i < NBD_NCOUNTERS; i++)
		fprintf(out, ", \"%s\": %llu", ctr[i].json,
			(unsigned long long)ctr[i].v);
	if (conns) {
		fputs(", \"conns\": [", out);
		pthread_mutex_lock(&s->lock);
		for (c = s->conns; c; c = c->next) {
			fprintf(out, "%s{\"id\": %llu, \"peer\": ",
				c == s->conns ? "" : ", ",
				(unsigned long long)c->id);
			sk_json_str(out, c->peer);
			fprintf(out, ", \"state\": \"%s\", \"export\": ",
				conn_state_names[c->state]);
			sk_json_str(out, c->export_name);
			fprintf(out, ", \"in_flight\": %u, \"requests\": %llu}",
				c->inflight, (unsigned long long)c->st.requests);
		}
		pthread_mutex_unlock(&s->lock);
		fputc(']', out);
	}
	fputs("}\n", out);
}
