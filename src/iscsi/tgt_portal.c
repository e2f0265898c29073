/*
 * iSCSI portals: the listening sockets on the main loop, admission of
 * each accepted connection (per-peer limits, the login cap and eviction
 * of stalled logins), and the hand-off of an admitted connection to the
 * reactor that will run it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "iscsi/tgt_int.h"
#include "util/hostport.h"

/* True for 0.0.0.0 and ::, which no initiator can connect to. */
static bool sockaddr_is_any(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		return IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
	}
	const struct sockaddr_in *a = (const void *)ss;
	return a->sin_addr.s_addr == htonl(INADDR_ANY);
}

static void addr_format(const struct sockaddr_storage *ss, char *buf,
			size_t len)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port = 0;

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else {
		const struct sockaddr_in *a = (const void *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	}
}

void iscsi_sockaddr_format(const struct sockaddr_storage *ss, char *buf,
			   size_t len)
{
	addr_format(ss, buf, len);
}

struct accept_handoff {
	struct iscsi_srv *s;
	struct ev_loop *loop;
	int fd;
	uint16_t tpgt;
	uint64_t accepted_ms;
	struct sockaddr_storage ss;
};

static void accept_on_loop(void *arg)
{
	struct accept_handoff *h = arg;

	iscsi_conn_start(h->s, h->fd, h->loop, h->tpgt, &h->ss, h->accepted_ms);
	iscsi_srv_release(h->s);
	free(h);
}

void iscsi_srv_conn_admitted(struct iscsi_srv *s, struct iscsi_conn *c)
{
	pthread_mutex_lock(&s->lock);
	if (c->in_login)
		s->nlogin--;
	c->in_login = false;
	pthread_mutex_unlock(&s->lock);
}

void iscsi_srv_conn_unaccept(struct iscsi_srv *s,
			     const struct sockaddr_storage *ss)
{
	pthread_mutex_lock(&s->lock);
	s->nconns--;
	s->nlogin--;
	pthread_mutex_unlock(&s->lock);
	sk_admit_leave(&s->admit, ss);
}

/*
 * Make room for a newcomer among connections still in login, so that
 * half-open logins can never starve sessions that are past login (those
 * are never evicted).  The victim is the oldest connection that has not
 * sent a single Login Request, else the oldest in login: a real initiator
 * sends its first request at once and is through in milliseconds, so a
 * flood of silent or stalled connections goes first.  Called under
 * s->lock; true when a close was posted (the newcomer is let in).
 */
static bool login_evict(struct iscsi_srv *s, const char *peer)
{
	struct iscsi_conn *victim = NULL;
	unsigned vpdus = 0;

	for (struct iscsi_conn *c = s->conns; c != NULL; c = c->next) {
		unsigned pdus = atomic_load(&c->login_pdus) ? 1 : 0;

		if (!c->in_login || c->kill_posted)
			continue;
		if (victim == NULL || pdus < vpdus ||
		    (pdus == vpdus && c->accepted_ms < victim->accepted_ms)) {
			victim = c;
			vpdus = pdus;
		}
	}
	if (victim == NULL)
		return false;
	iscsi_conn_post_kill(victim);
	if (!victim->kill_posted)
		return false;
	sk_admit_note(&s->admit, SK_ADMIT_EVICTED,
		      "%u connections in login (--iscsi-max-login %u) or %u "
		      "open: closing %s (in login %llu ms%s) for %s",
		      s->nlogin, s->max_login, s->nconns, victim->peer,
		      (unsigned long long)(ev_now_ms() - victim->accepted_ms),
		      vpdus ? "" : ", nothing sent", peer);
	return true;
}

/* Admit or refuse one accepted connection; true when admitted (counted
 * in nconns and nlogin, and in admit). */
static bool portal_admit(struct iscsi_srv *s,
			 const struct sockaddr_storage *ss)
{
	char peer[64];
	bool ok = true;

	iscsi_sockaddr_format(ss, peer, sizeof(peer));
	if (sk_admit_enter(&s->admit, ss, peer) < 0)
		return false;
	pthread_mutex_lock(&s->lock);
	if (s->stopping)
		ok = false;
	else if ((s->nlogin >= s->max_login || s->nconns >= s->max_conns) &&
		 !login_evict(s, peer))
		ok = false;
	if (ok) {
		s->nconns++;
		s->nlogin++;
	}
	pthread_mutex_unlock(&s->lock);
	if (!ok) {
		sk_admit_leave(&s->admit, ss);
		if (!s->stopping)
			sk_admit_note(&s->admit, SK_ADMIT_REFUSED_CAP,
				      "%s refused: %u connections open "
				      "(--iscsi-max-connections), all past "
				      "login", peer, s->max_conns);
	}
	return ok;
}

static void portal_accept_cb(struct ev_io *io, int fd, uint32_t events,
			     void *arg)
{
	struct iscsi_portal *portal = arg;
	struct iscsi_srv *s = portal->srv;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl,
				  SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("iscsi: accept: %s", strerror(errno));
			return;
		}
		if (!portal_admit(s, &ss)) {
			close(cfd);
			continue;
		}
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct accept_handoff *h = malloc(sizeof(*h));
		struct ev_loop *loop = s->pick ? s->pick(s->pick_arg)
					       : s->main_loop;
		if (h == NULL) {
			close(cfd);
			iscsi_srv_conn_unaccept(s, &ss);
			continue;
		}
		h->s = s;
		h->fd = cfd;
		h->loop = loop;
		h->tpgt = portal->tpgt;
		h->ss = ss;
		h->accepted_ms = ev_now_ms();
		iscsi_srv_hold(s);
		if (ev_loop_post(loop, accept_on_loop, h) < 0) {
			iscsi_srv_release(s);
			close(cfd);
			iscsi_srv_conn_unaccept(s, &ss);
			free(h);
		}
	}
}

/* "HOST:PORT", "[V6]:PORT", "HOST", "[V6]", ":PORT" (util/hostport.h);
 * no host means every address. */
static int portal_split(const char *spec, char *host, size_t hlen,
			char *port, size_t plen)
{
	uint16_t pn;

	if (sk_parse_hostport(spec, SK_HP_PORT_ZERO, host, hlen, &pn, 3260, NULL, 0) < 0)
		return -1;
	snprintf(port, plen, "%u", pn);
	if (host[0] == '\0')
		snprintf(host, hlen, "0.0.0.0");
	return 0;
}

int iscsi_portal_open(struct iscsi_srv *s, struct iscsi_portal *p,
		      char *err, size_t errlen)
{
	char host[96], port[16];
	struct addrinfo hints = {0}, *ai = NULL;

	if (portal_split(p->spec, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, errlen, "bad iSCSI portal '%s'", p->spec);
		return -1;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	int r = getaddrinfo(host, port, &hints, &ai);
	if (r != 0 || ai == NULL) {
		snprintf(err, errlen, "iSCSI portal '%s': %s", p->spec,
			 gai_strerror(r));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
			SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		goto out_err;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0)
		goto out_err;
	p->io = ev_io_add(s->main_loop, fd, EV_READ, portal_accept_cb, p);
	if (p->io == NULL)
		goto out_err;
	p->fd = fd;
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		/* A specific address is what SendTargets reports. */
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
		    !sockaddr_is_any(&ss))
			addr_format(&ss, p->addr, sizeof(p->addr));
	}
	freeaddrinfo(ai);
	log_info("iscsi: listening on %s", p->spec);
	return 0;
out_err:
	snprintf(err, errlen, "iSCSI portal '%s': %s", p->spec,
		 strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -1;
}

void iscsi_portals_close(struct iscsi_srv *s)
{
	for (struct iscsi_portal *p = s->portals; p != NULL; p = p->next) {
		if (p->io != NULL)
			ev_io_del(p->io);
		p->io = NULL;
		if (p->fd >= 0)
			close(p->fd);
		p->fd = -1;
	}
}
