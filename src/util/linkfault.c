/*
 * Link-layer fault injection (include/scsikit/linkfault.h).
 *
 * Rules live in one table under a mutex; sk_link_fault_wrap() is the only
 * call a front end makes, once per connection.  A connection a rule hits
 * is relayed: the front end gets one end of a socket pair, and a relay
 * loop on a thread of its own (started with the first faulted connection)
 * moves bytes between the pair's other end and the real socket, one
 * bounded buffer per direction, applying the rule to the stream offsets.
 * Connections no rule hits never touch any of this, so a daemon without
 * rules pays one atomic load per connection.
 *
 * A relayed connection (struct lf_conn) is owned by the relay loop; the
 * list of them is guarded by the mutex only so that the control socket
 * can list them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <scsikit/evloop.h>
#include <scsikit/linkfault.h>
#include <scsikit/log.h>

#define LF_MAX_RULES 64
#define LF_BUF (64u * 1024) /* per direction of a relayed connection */

struct lf_rule {
	int id;			/* 0: free slot */
	struct sk_link_fault_rule r;
	long hits;
};

/* One direction of a relayed connection. */
struct lf_pipe {
	int from, to;
	uint8_t buf[LF_BUF];
	size_t off, len;	/* pending bytes are [off, len) */
	size_t cap;		/* bytes of buf that may be written (stall) */
	uint64_t count;		/* bytes read from `from` */
	uint64_t hold_until;	/* delay: no write before (ms) */
	bool eof, shut;
	/* PDU framing, for rules counting PDUs (see lf_frame) */
	uint8_t fhdr[64];	/* the PDU header being collected */
	size_t fhave;
	uint64_t fskip;		/* bytes of the current PDU still to come */
	uint32_t fpdus;		/* whole PDUs seen */
	char ftext[4096];	/* an iSCSI login PDU's keys (truncated) */
	size_t ftlen;
};

struct lf_conn {
	struct lf_conn *next;
	int rule_id;
	struct sk_link_fault_rule r; /* action 0 once cleared */
	enum sk_link_front front;
	char peer[64];
	int net, local;
	struct ev_io *wnet, *wlocal;
	struct ev_timer *timer;
	struct lf_pipe p[2];	/* [0] RX: net -> local, [1] TX: local -> net */
	bool started;		/* lf_conn_start ran */
	bool armed;		/* r.after is known (pdus: once PDU N ended) */
	bool hd, dd;		/* iSCSI: digests in use (full feature phase) */
	bool want_hd, want_dd;	/* ... as the login negotiated them */
	bool stalled, dropping;
};

static pthread_mutex_t lf_mu = PTHREAD_MUTEX_INITIALIZER;
static struct lf_rule lf_rules[LF_MAX_RULES];
static int lf_nrules;		/* rules in the table (atomic reads) */
static int lf_next_id = 1;
static struct ev_thread *lf_thread;
static struct lf_conn *lf_conns;

static const char *const lf_front_names[SK_LINK_FRONT_COUNT] = {
	[SK_LINK_ISCSI] = "iscsi",
	[SK_LINK_NBD] = "nbd",
	[SK_LINK_XDISK] = "xdisk",
	[SK_LINK_ISCSI_INI] = "iscsi-initiator",
	[SK_LINK_XDISK_CLIENT] = "xdisk-client",
};

/* ---- rules -------------------------------------------------------------- */

static int lf_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int lf_fronts(const char *s, uint32_t *mask)
{
	char buf[128], *tok, *save = NULL;

	if (strcmp(s, "all") == 0) {
		*mask = 0;
		return 0;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	*mask = 0;
	for (tok = strtok_r(buf, "+", &save); tok;
	     tok = strtok_r(NULL, "+", &save)) {
		int f;

		for (f = 0; f < SK_LINK_FRONT_COUNT; f++)
			if (strcmp(tok, lf_front_names[f]) == 0)
				break;
		if (f == SK_LINK_FRONT_COUNT)
			return -1;
		*mask |= 1u << f;
	}
	return *mask ? 0 : -1;
}

int sk_link_fault_parse(const char *text, struct sk_link_fault_rule *rule,
			char *err, size_t errlen)
{
	char buf[256], *tok, *save = NULL;
	bool first = true;

	memset(rule, 0, sizeof(*rule));
	rule->count = -1;
	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "link fault spec too long");
		return -1;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save), first = false) {
		char *val = strchr(tok, '=');
		uint64_t v = 0;

		if (val)
			*val++ = 0;
		if (first) {
			if (strcmp(tok, "drop") == 0 && !val)
				rule->action = SK_LINK_DROP;
			else if (strcmp(tok, "stall") == 0 && !val)
				rule->action = SK_LINK_STALL;
			else if (strcmp(tok, "corrupt") == 0 && !val)
				rule->action = SK_LINK_CORRUPT;
			else if (strcmp(tok, "delay") == 0 && val &&
				 lf_size(val, &v) == 0 && v > 0 &&
				 v <= 600000) {
				rule->action = SK_LINK_DELAY;
				rule->delay_ms = (uint32_t)v;
			} else {
				snprintf(err, errlen, "unknown link fault "
					 "'%s' (drop, delay=MS, stall, "
					 "corrupt)", tok);
				return -1;
			}
			continue;
		}
		if (!val) {
			snprintf(err, errlen, "'%s' needs a value", tok);
			return -1;
		}
		if (strcmp(tok, "front") == 0) {
			if (lf_fronts(val, &rule->front_mask) < 0) {
				snprintf(err, errlen, "unknown front end in "
					 "'%s' (iscsi, nbd, xdisk, "
					 "iscsi-initiator, xdisk-client, all)",
					 val);
				return -1;
			}
		} else if (strcmp(tok, "peer") == 0) {
			if (!*val || strlen(val) >= sizeof(rule->peer)) {
				snprintf(err, errlen, "bad peer '%s'", val);
				return -1;
			}
			snprintf(rule->peer, sizeof(rule->peer), "%s", val);
		} else if (strcmp(tok, "dir") == 0) {
			if (strcmp(val, "rx") == 0)
				rule->dir = SK_LINK_RX;
			else if (strcmp(val, "tx") == 0)
				rule->dir = SK_LINK_TX;
			else if (strcmp(val, "both") == 0)
				rule->dir = SK_LINK_RX | SK_LINK_TX;
			else {
				snprintf(err, errlen, "dir is rx, tx or both");
				return -1;
			}
		} else if (strcmp(tok, "after") == 0) {
			if (lf_size(val, &rule->after) < 0) {
				snprintf(err, errlen, "bad size '%s'", val);
				return -1;
			}
		} else if (strcmp(tok, "pdus") == 0) {
			if (lf_size(val, &v) < 0 || v == 0 || v > UINT32_MAX) {
				snprintf(err, errlen, "bad pdus '%s'", val);
				return -1;
			}
			rule->pdus = (uint32_t)v;
		} else if (strcmp(tok, "count") == 0) {
			if (lf_size(val, &v) < 0 || v == 0 || v > INT32_MAX) {
				snprintf(err, errlen, "bad count '%s'", val);
				return -1;
			}
			rule->count = (int32_t)v;
		} else {
			snprintf(err, errlen, "unknown key '%s'", tok);
			return -1;
		}
	}
	if (!rule->action) {
		snprintf(err, errlen, "empty link fault spec");
		return -1;
	}
	if (!rule->dir)
		rule->dir = SK_LINK_RX | SK_LINK_TX;
	if (rule->pdus && (rule->dir == (SK_LINK_RX | SK_LINK_TX) ||
			   !rule->front_mask ||
			   (rule->front_mask & (1u << SK_LINK_NBD)))) {
		snprintf(err, errlen, "pdus needs dir=rx or tx and front ends "
			 "whose framing is known (iscsi, xdisk, "
			 "iscsi-initiator, xdisk-client)");
		return -1;
	}
	return 0;
}

static void lf_format(const struct sk_link_fault_rule *r, char *buf,
		      size_t len)
{
	static const char *const acts[] = { "none", "drop", "delay", "stall",
					    "corrupt" };
	char fronts[128] = "all";
	size_t n = 0;

	if (r->front_mask) {
		fronts[0] = 0;
		for (int f = 0; f < SK_LINK_FRONT_COUNT; f++)
			if (r->front_mask & (1u << f))
				n += (size_t)snprintf(fronts + n,
						      sizeof(fronts) - n,
						      "%s%s", n ? "+" : "",
						      lf_front_names[f]);
	}
	n = (size_t)snprintf(buf, len,
		 "%s%s%.0u,front=%s,peer=%s,dir=%s,after=%llu",
		 acts[r->action <= SK_LINK_CORRUPT ? r->action : 0],
		 r->action == SK_LINK_DELAY ? "=" : "",
		 r->action == SK_LINK_DELAY ? r->delay_ms : 0, fronts,
		 r->peer[0] ? r->peer : "any",
		 r->dir == SK_LINK_RX	? "rx"
		 : r->dir == SK_LINK_TX ? "tx"
					: "both",
		 (unsigned long long)r->after);
	if (r->pdus && n < len)
		snprintf(buf + n, len - n, ",pdus=%u", r->pdus);
}

int sk_link_fault_add(const struct sk_link_fault_rule *rule)
{
	int id = -ENOSPC;

	if (!rule->action || rule->action > SK_LINK_CORRUPT || !rule->count)
		return -EINVAL;
	pthread_mutex_lock(&lf_mu);
	for (int i = 0; i < LF_MAX_RULES; i++) {
		if (lf_rules[i].id)
			continue;
		lf_rules[i].id = id = lf_next_id++;
		lf_rules[i].r = *rule;
		if (!lf_rules[i].r.dir)
			lf_rules[i].r.dir = SK_LINK_RX | SK_LINK_TX;
		lf_rules[i].hits = 0;
		__atomic_add_fetch(&lf_nrules, 1, __ATOMIC_RELEASE);
		break;
	}
	pthread_mutex_unlock(&lf_mu);
	if (id > 0) {
		char text[256];

		lf_format(rule, text, sizeof(text));
		log_info("link fault %d: %s", id, text);
	}
	return id;
}

long sk_link_fault_hits(int id)
{
	long hits = -ENOENT;

	pthread_mutex_lock(&lf_mu);
	for (int i = 0; i < LF_MAX_RULES; i++)
		if (lf_rules[i].id && lf_rules[i].id == id)
			hits = lf_rules[i].hits;
	pthread_mutex_unlock(&lf_mu);
	return hits;
}

/* ---- the relay ---------------------------------------------------------- */

static void lf_pump(struct lf_conn *c);

static void lf_conn_free(struct lf_conn *c)
{
	struct lf_conn **pp;

	pthread_mutex_lock(&lf_mu);
	for (pp = &lf_conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pthread_mutex_unlock(&lf_mu);
	if (c->wnet)
		ev_io_del(c->wnet);
	if (c->wlocal)
		ev_io_del(c->wlocal);
	if (c->timer)
		ev_timer_del(c->timer);
	close(c->net);
	close(c->local);
	free(c);
}

static void lf_timer_cb(struct ev_timer *t, void *arg)
{
	struct lf_conn *c = arg;

	ev_timer_del(t);
	c->timer = NULL;
	lf_pump(c);
}

static void lf_io_cb(struct ev_io *w, int fd, uint32_t events, void *arg)
{
	lf_pump(arg);
}

/* Apply the rule to n bytes just read into p at stream offset p->count. */
static size_t lf_apply(struct lf_conn *c, struct lf_pipe *p, uint32_t dir,
		       size_t n)
{
	const struct sk_link_fault_rule *r = &c->r;
	uint64_t at = p->count, after = r->after;

	p->cap = n;
	if (!r->action || !(r->dir & dir) || !c->armed)
		return n;
	switch (r->action) {
	case SK_LINK_DROP:
		if (at + n > after) {
			n = after > at ? (size_t)(after - at) : 0;
			p->cap = n;
			c->dropping = true;
		}
		break;
	case SK_LINK_CORRUPT:
		if (after >= at && after < at + n)
			p->buf[after - at] ^= 0xFF;
		break;
	case SK_LINK_STALL:
		if (at + n > after)
			p->cap = after > at ? (size_t)(after - at) : 0;
		break;
	case SK_LINK_DELAY:
		if (at + n > after)
			p->hold_until = ev_now_ms() + r->delay_ms;
		break;
	}
	return n;
}

/*
 * PDU framing, for rules that count PDUs rather than bytes.  The two
 * protocols whose framing is fixed by their headers are known here as
 * data (util includes neither module): DMSG (dmsg-wire.md: a 64-byte
 * header whose cmd holds the extended header's size in 64-byte units, and
 * aux_bytes of aux data padded to 64) and iSCSI (RFC 7143: a 48-byte BHS,
 * TotalAHSLength words, DataSegmentLength padded to 4, and CRC32C digests
 * once the login negotiated them, which is learnt from the login PDUs'
 * keys as they pass).  NBD's replies cannot be framed without their
 * requests: rules with pdus do not take NBD.
 */
static bool lf_is_dmsg(const struct lf_conn *c)
{
	return c->front == SK_LINK_XDISK || c->front == SK_LINK_XDISK_CLIENT;
}

static uint32_t lf_u32(const uint8_t *b, bool le)
{
	return le ? (uint32_t)b[0] | (uint32_t)b[1] << 8 |
			    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
		  : (uint32_t)b[3] | (uint32_t)b[2] << 8 |
			    (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
}

/* Bytes of the PDU whose header is in p->fhdr, header included. */
static uint64_t lf_pdu_len(const struct lf_conn *c, const struct lf_pipe *p)
{
	const uint8_t *h = p->fhdr;

	if (lf_is_dmsg(c)) {
		bool le = h[0] == 0x32 && h[1] == 0x48; /* magic 0x4832 */
		uint64_t ext = (uint64_t)(lf_u32(h + 32, le) & 0xFF) * 64;
		uint64_t aux = lf_u32(h + 40, le);

		return (ext < 64 ? 64 : ext) + ((aux + 63) & ~63ull);
	} else {
		uint64_t dsl = (uint64_t)h[5] << 16 | h[6] << 8 | h[7];

		return 48 + h[4] * 4u + (c->hd ? 4 : 0) + ((dsl + 3) & ~3ull) +
		       (c->dd && dsl ? 4 : 0);
	}
}

/* A PDU ended: count it, and follow an iSCSI login into full feature
 * phase.  True when it is the rule's pdus-th. */
static bool lf_pdu_done(struct lf_conn *c, struct lf_pipe *p)
{
	uint8_t op = p->fhdr[0] & 0x3F, fl = p->fhdr[1];

	if (!lf_is_dmsg(c) && (op == 0x03 || op == 0x23)) {
		/* Login request or response: keys as NUL-ended strings. */
		p->ftext[p->ftlen < sizeof(p->ftext) ? p->ftlen
						     : sizeof(p->ftext) - 1] = 0;
		for (size_t i = 0; i < p->ftlen && i < sizeof(p->ftext);
		     i += strlen(p->ftext + i) + 1) {
			if (strcmp(p->ftext + i, "HeaderDigest=CRC32C") == 0)
				c->want_hd = true;
			if (strcmp(p->ftext + i, "DataDigest=CRC32C") == 0)
				c->want_dd = true;
		}
		if (op == 0x23 && (fl & 0x80) && (fl & 3) == 3) {
			c->hd = c->want_hd; /* full feature phase from now */
			c->dd = c->want_dd;
		}
	}
	p->ftlen = 0;
	return ++p->fpdus == c->r.pdus;
}

/* Feed n bytes just read into p through the framing; the offset in them
 * just past the end of the rule's pdus-th PDU, or n + 1. */
static size_t lf_frame(struct lf_conn *c, struct lf_pipe *p, size_t n)
{
	size_t i = 0, hit = n + 1, hlen = lf_is_dmsg(c) ? 64 : 48;

	while (i < n) {
		size_t k;

		if (p->fskip) {
			k = p->fskip < n - i ? (size_t)p->fskip : n - i;
			if (!lf_is_dmsg(c) && p->ftlen < sizeof(p->ftext)) {
				size_t t = sizeof(p->ftext) - p->ftlen;

				memcpy(p->ftext + p->ftlen, p->buf + i,
				       k < t ? k : t);
				p->ftlen += k < t ? k : t;
			}
			p->fskip -= k;
			i += k;
			if (!p->fskip && lf_pdu_done(c, p) && hit > n)
				hit = i;
			continue;
		}
		k = hlen - p->fhave < n - i ? hlen - p->fhave : n - i;
		memcpy(p->fhdr + p->fhave, p->buf + i, k);
		p->fhave += k;
		i += k;
		if (p->fhave < hlen)
			break;
		p->fhave = 0;
		p->ftlen = 0;
		p->fskip = lf_pdu_len(c, p) - hlen;
		if (!p->fskip && lf_pdu_done(c, p) && hit > n)
			hit = i;
	}
	return hit;
}

/* Move what can move in one direction.  -1: the connection is over. */
static int lf_pipe_run(struct lf_conn *c, struct lf_pipe *p, uint32_t dir)
{
	for (;;) {
		if (p->off < p->len) {
			size_t lim = p->cap < p->len ? p->cap : p->len;
			ssize_t n;

			if (c->stalled || ev_now_ms() < p->hold_until)
				return 0;
			if (p->off >= lim) {
				c->stalled = true; /* reached the stall point */
				return 0;
			}
			n = send(p->to, p->buf + p->off, lim - p->off,
				 MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n <= 0)
				return -1;
			p->off += (size_t)n;
			continue;
		}
		p->off = p->len = 0;
		if (c->dropping)
			return -1; /* everything before the cut went out */
		if (p->eof) {
			if (!p->shut) {
				shutdown(p->to, SHUT_WR);
				p->shut = true;
			}
			return 0;
		}
		if (c->stalled)
			return 0;
		{
			ssize_t n = recv(p->from, p->buf, sizeof(p->buf), 0);

			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return 0;
			if (n < 0)
				return -1;
			if (n == 0) {
				p->eof = true;
				continue;
			}
			if (!c->armed && c->r.action) {
				/* Frame both ways: an iSCSI login's answer
				 * tells both directions' digests. */
				size_t k = lf_frame(c, p, (size_t)n);

				if (k <= (size_t)n && (c->r.dir & dir)) {
					c->r.after = p->count + k;
					c->armed = true;
				}
			}
			p->len = lf_apply(c, p, dir, (size_t)n);
			__atomic_add_fetch(&p->count, (uint64_t)n,
					   __ATOMIC_RELAXED);
		}
	}
}

static uint32_t lf_want(const struct lf_conn *c, int fd)
{
	uint32_t ev = 0;

	for (int i = 0; i < 2; i++) {
		const struct lf_pipe *p = &c->p[i];

		if (p->from == fd && p->len == 0 && !p->eof)
			ev |= EV_READ;
		if (p->to == fd && p->off < p->len && p->hold_until == 0)
			ev |= EV_WRITE;
	}
	return ev;
}

/* Watch fd for what the connection wants of it.  Nothing wanted (a stall,
 * above all) means no watcher at all: a hung-up socket would otherwise be
 * reported again and again by the level-triggered loop. */
static int lf_watch(struct lf_conn *c, int fd, struct ev_io **w)
{
	uint32_t want = c->stalled ? 0 : lf_want(c, fd);

	if (!want) {
		if (*w)
			ev_io_del(*w);
		*w = NULL;
		return 0;
	}
	if (*w)
		return ev_io_modify(*w, want);
	*w = ev_io_add(ev_thread_loop(lf_thread), fd, want, lf_io_cb, c);
	return *w ? 0 : -1;
}

static void lf_pump(struct lf_conn *c)
{
	uint64_t wake = 0;

	for (int i = 0; i < 2; i++) {
		struct lf_pipe *p = &c->p[i];

		if (p->hold_until && ev_now_ms() >= p->hold_until)
			p->hold_until = 0;
		if (lf_pipe_run(c, p, i == 0 ? SK_LINK_RX : SK_LINK_TX) < 0 ||
		    (c->p[0].shut && c->p[1].shut)) {
			lf_conn_free(c);
			return;
		}
		if (p->hold_until && (!wake || p->hold_until < wake))
			wake = p->hold_until;
	}
	if (lf_watch(c, c->net, &c->wnet) < 0 ||
	    lf_watch(c, c->local, &c->wlocal) < 0) {
		lf_conn_free(c);
		return;
	}
	if (wake && !c->timer) {
		uint64_t now = ev_now_ms();

		c->timer = ev_timer_add(ev_thread_loop(lf_thread),
					wake > now ? wake - now : 1, false,
					lf_timer_cb, c);
	}
}

static void lf_conn_start(void *arg)
{
	struct lf_conn *c = arg;

	c->started = true;
	lf_pump(c);
}

struct lf_clear {
	int id;
};

static void lf_clear_on_relay(void *arg)
{
	struct lf_clear *x = arg;
	struct lf_conn *c, *nx;

	/* Only this thread unlinks connections, and others only push new
	 * ones at the head: the walk from a head read under the lock is
	 * safe.  A connection whose start is still posted is left alone. */
	pthread_mutex_lock(&lf_mu);
	c = lf_conns;
	pthread_mutex_unlock(&lf_mu);
	for (; c; c = nx) {
		nx = c->next;
		if ((x->id && c->rule_id != x->id) || !c->started)
			continue;
		c->r.action = 0;
		c->stalled = false;
		for (int i = 0; i < 2; i++) {
			c->p[i].cap = sizeof(c->p[i].buf);
			c->p[i].hold_until = 0;
		}
		lf_pump(c);
	}
	free(x);
}

int sk_link_fault_clear(int id)
{
	bool found = false;
	struct lf_clear *x;

	pthread_mutex_lock(&lf_mu);
	for (int i = 0; i < LF_MAX_RULES; i++) {
		if (!lf_rules[i].id || (id && lf_rules[i].id != id))
			continue;
		lf_rules[i].id = 0;
		__atomic_sub_fetch(&lf_nrules, 1, __ATOMIC_RELEASE);
		found = true;
	}
	x = lf_thread ? malloc(sizeof(*x)) : NULL;
	if (x) {
		x->id = id;
		if (ev_loop_post(ev_thread_loop(lf_thread), lf_clear_on_relay,
				 x) < 0)
			free(x);
	}
	pthread_mutex_unlock(&lf_mu);
	if (found && id)
		log_info("link fault %d cleared", id);
	else if (found)
		log_info("link faults cleared");
	return found || !id ? 0 : -ENOENT;
}

void sk_link_fault_list(FILE *out)
{
	char text[256];

	pthread_mutex_lock(&lf_mu);
	for (int i = 0; i < LF_MAX_RULES; i++) {
		const struct lf_rule *r = &lf_rules[i];

		if (!r->id)
			continue;
		lf_format(&r->r, text, sizeof(text));
		fprintf(out, "rule %d %s hits %ld left %d\n", r->id, text,
			r->hits, r->r.count);
	}
	for (const struct lf_conn *c = lf_conns; c; c = c->next)
		fprintf(out, "conn %s %s rule %d rx %llu tx %llu%s\n",
			lf_front_names[c->front], c->peer, c->rule_id,
			(unsigned long long)__atomic_load_n(&c->p[0].count,
							    __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&c->p[1].count,
							    __ATOMIC_RELAXED),
			__atomic_load_n(&c->stalled, __ATOMIC_RELAXED)
				? " stalled"
				: "");
	pthread_mutex_unlock(&lf_mu);
}

/* ---- wrapping a connection ---------------------------------------------- */

static void lf_peer_name(int fd, const struct sockaddr *sa, socklen_t salen,
			 char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	snprintf(buf, len, "?");
	memset(&ss, 0, sizeof(ss));
	if (sa && salen <= sizeof(ss))
		memcpy(&ss, sa, salen);
	else if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s->sin_addr, host, sizeof(host));
		port = ntohs(s->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
		port = ntohs(s->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	}
}

static bool lf_peer_matches(const char *want, const char *peer)
{
	size_t n = strlen(want);

	if (!*want)
		return true;
	/* "HOST" matches any port of that host; "HOST:PORT" just that. */
	return strcmp(want, peer) == 0 ||
	       (strncmp(want, peer, n) == 0 && peer[n] == ':' &&
		!strchr(peer + n + 1, ':'));
}

int sk_link_fault_wrap(int fd, enum sk_link_front front,
		       const struct sockaddr *sa, socklen_t salen)
{
	struct lf_conn *c;
	char peer[64];
	int sv[2], rule_id = 0, fl;
	struct sk_link_fault_rule rule;

	if (__atomic_load_n(&lf_nrules, __ATOMIC_ACQUIRE) == 0 ||
	    (unsigned)front >= SK_LINK_FRONT_COUNT)
		return fd;
	lf_peer_name(fd, sa, salen, peer, sizeof(peer));
	pthread_mutex_lock(&lf_mu);
	for (int i = 0; i < LF_MAX_RULES && !rule_id; i++) {
		struct lf_rule *r = &lf_rules[i];

		if (!r->id || !r->r.count ||
		    (r->r.front_mask && !(r->r.front_mask & (1u << front))) ||
		    !lf_peer_matches(r->r.peer, peer))
			continue;
		if (!lf_thread) {
			lf_thread = ev_thread_start();
			if (!lf_thread)
				break;
		}
		rule_id = r->id;
		rule = r->r;
		r->hits++;
		if (r->r.count > 0)
			r->r.count--;
	}
	pthread_mutex_unlock(&lf_mu);
	if (!rule_id)
		return fd;

	fl = fcntl(fd, F_GETFL);
	if (fl < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) < 0) {
		log_warn("link fault %d: cannot relay %s: %s", rule_id, peer,
			 strerror(errno));
		return fd;
	}
	if (!(fl & O_NONBLOCK))
		fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) & ~O_NONBLOCK);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	{
		int one = 1; /* the relay's own latency stays small */

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(sv[0]);
		close(sv[1]);
		fcntl(fd, F_SETFL, fl);
		return fd;
	}
	c->rule_id = rule_id;
	c->r = rule;
	c->armed = !rule.pdus;
	c->front = front;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->net = fd;
	c->local = sv[1];
	c->p[0].from = fd;
	c->p[0].to = sv[1];
	c->p[1].from = sv[1];
	c->p[1].to = fd;
	pthread_mutex_lock(&lf_mu);
	c->next = lf_conns;
	lf_conns = c;
	if (ev_loop_post(ev_thread_loop(lf_thread), lf_conn_start, c) < 0) {
		lf_conns = c->next;
		pthread_mutex_unlock(&lf_mu);
		close(sv[0]);
		close(sv[1]);
		fcntl(fd, F_SETFL, fl);
		free(c);
		return fd;
	}
	pthread_mutex_unlock(&lf_mu);
	log_info("link fault %d: %s connection %s relayed", rule_id,
		 lf_front_names[front], peer);
	return sv[0];
}
