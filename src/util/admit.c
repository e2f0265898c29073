/*
 * Admission control for accepted connections (see admit.h): counts per
 * front end and per peer address, the limits' counters, and their
 * rate-limited log lines.  The per-peer table holds one entry per address
 * with a connection open, so it is bounded by the connections admitted.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "util/admit.h"

struct sk_admit_peer {
	struct sk_admit_peer *next;
	uint8_t key[17];	/* family byte, then 4 or 16 address bytes */
	unsigned open;
};

static pthread_mutex_t admit_all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sk_admit *admit_all;

static const char *const admit_ev_names[SK_ADMIT_NEV] = {
	"refused-cap", "refused-peer", "evicted", "timeouts",
};

/* The address of ss as a key; false for peers without one (Unix). */
static bool admit_key(const struct sockaddr_storage *ss, uint8_t key[17])
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0,
					     0, 0, 0xff, 0xff};

	memset(key, 0, 17);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		key[0] = 4;
		memcpy(key + 1, &in->sin_addr, 4);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		const uint8_t *a = in6->sin6_addr.s6_addr;

		if (memcmp(a, v4mapped, 12) == 0) {
			key[0] = 4;
			memcpy(key + 1, a + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a, 16);
		}
		return true;
	}
	return false;
}

static unsigned admit_hash(const uint8_t key[17])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < 17; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % SK_ADMIT_BUCKETS;
}

static struct sk_admit_peer **admit_find(struct sk_admit *a,
					 const uint8_t key[17])
{
	struct sk_admit_peer **pp = &a->peers[admit_hash(key)];

	while (*pp && memcmp((*pp)->key, key, 17) != 0)
		pp = &(*pp)->next;
	return pp;
}

void sk_admit_init(struct sk_admit *a, const char *name, unsigned max_conns,
		   unsigned max_per_peer)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->max_conns = max_conns;
	a->max_per_peer = max_per_peer;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_lock(&admit_all_lock);
	a->next = admit_all;
	admit_all = a;
	pthread_mutex_unlock(&admit_all_lock);
}

void sk_admit_fini(struct sk_admit *a)
{
	struct sk_admit **pp;

	pthread_mutex_lock(&admit_all_lock);
	for (pp = &admit_all; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	pthread_mutex_unlock(&admit_all_lock);
	for (int i = 0; i < SK_ADMIT_BUCKETS; i++)
		while (a->peers[i]) {
			struct sk_admit_peer *p = a->peers[i];

			a->peers[i] = p->next;
			free(p);
		}
	pthread_mutex_destroy(&a->lock);
}

/* Count ev under a->lock; true when a line should be logged, with the
 * number of earlier occurrences that were not. */
static bool admit_count(struct sk_admit *a, enum sk_admit_ev ev,
			uint64_t *unlogged)
{
	uint64_t now = ev_now_ms();

	a->count[ev]++;
	if (a->last_log_ms[ev] && now - a->last_log_ms[ev] < SK_ADMIT_LOG_MS) {
		a->unlogged[ev]++;
		return false;
	}
	a->last_log_ms[ev] = now ? now : 1;
	*unlogged = a->unlogged[ev];
	a->unlogged[ev] = 0;
	return true;
}

/* Count ev; log why unless a line about ev went out recently.  Called
 * with a->lock held; drops it before logging. */
static void admit_vnote_locked(struct sk_admit *a, enum sk_admit_ev ev,
			       const char *fmt, va_list ap)
{
	uint64_t unlogged = 0;
	bool say = admit_count(a, ev, &unlogged);
	char why[256];

	pthread_mutex_unlock(&a->lock);
	if (!say)
		return;
	vsnprintf(why, sizeof(why), fmt, ap);
	if (unlogged)
		log_warn("%s: %s (and %llu more like it since the last "
			 "message)", a->name, why,
			 (unsigned long long)unlogged);
	else
		log_warn("%s: %s", a->name, why);
}

void sk_admit_note(struct sk_admit *a, enum sk_admit_ev ev, const char *fmt,
		   ...)
{
	va_list ap;

	pthread_mutex_lock(&a->lock);
	va_start(ap, fmt);
	admit_vnote_locked(a, ev, fmt, ap);
	va_end(ap);
}

static void admit_refused(struct sk_admit *a, enum sk_admit_ev ev,
			  const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Called with a->lock held; drops it. */
static void admit_refused(struct sk_admit *a, enum sk_admit_ev ev,
			  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	admit_vnote_locked(a, ev, fmt, ap);
	va_end(ap);
}

/* Add one connection from key (if it has one); -ENOMEM only without
 * memory. */
static int admit_add(struct sk_admit *a, const uint8_t key[17], bool keyed)
{
	if (keyed) {
		struct sk_admit_peer **pp = admit_find(a, key);

		if (!*pp) {
			*pp = calloc(1, sizeof(**pp));
			if (!*pp)
				return -ENOMEM;
			memcpy((*pp)->key, key, 17);
		}
		(*pp)->open++;
	}
	a->open++;
	return 0;
}

int sk_admit_try(struct sk_admit *a, const struct sockaddr_storage *ss,
		 const char *peer)
{
	uint8_t key[17];
	bool keyed = admit_key(ss, key);
	int rc;

	pthread_mutex_lock(&a->lock);
	if (keyed && a->max_per_peer) {
		struct sk_admit_peer *p = *admit_find(a, key);

		if (p && p->open >= a->max_per_peer) {
			admit_refused(a, SK_ADMIT_REFUSED_PEER,
				      "%s refused: %u connections open from "
				      "that address (the per-peer cap)",
				      peer, p->open);
			return -EUSERS;
		}
	}
	if (a->max_conns && a->open >= a->max_conns) {
		pthread_mutex_unlock(&a->lock);
		return -EMFILE;
	}
	rc = admit_add(a, key, keyed);
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void sk_admit_refuse_cap(struct sk_admit *a, const char *peer)
{
	pthread_mutex_lock(&a->lock);
	admit_refused(a, SK_ADMIT_REFUSED_CAP,
		      "%s refused: %u connections open (the cap)", peer,
		      a->open);
}

int sk_admit_enter(struct sk_admit *a, const struct sockaddr_storage *ss,
		   const char *peer)
{
	int rc = sk_admit_try(a, ss, peer);

	if (rc == -EMFILE)
		sk_admit_refuse_cap(a, peer);
	return rc;
}

void sk_admit_force(struct sk_admit *a, const struct sockaddr_storage *ss)
{
	uint8_t key[17];
	bool keyed = admit_key(ss, key);

	pthread_mutex_lock(&a->lock);
	if (admit_add(a, key, keyed) < 0)
		a->open++; /* counted without its peer entry */
	pthread_mutex_unlock(&a->lock);
}

void sk_admit_leave(struct sk_admit *a, const struct sockaddr_storage *ss)
{
	uint8_t key[17];
	bool keyed = admit_key(ss, key);

	pthread_mutex_lock(&a->lock);
	if (keyed) {
		struct sk_admit_peer **pp = admit_find(a, key), *p = *pp;

		if (p && --p->open == 0) {
			*pp = p->next;
			free(p);
		}
	}
	if (a->open)
		a->open--;
	pthread_mutex_unlock(&a->lock);
}

unsigned sk_admit_open(struct sk_admit *a)
{
	unsigned n;

	pthread_mutex_lock(&a->lock);
	n = a->open;
	pthread_mutex_unlock(&a->lock);
	return n;
}

void sk_admit_dump(struct sk_admit *a, FILE *out)
{
	pthread_mutex_lock(&a->lock);
	fprintf(out, "%-8s open %u", a->name, a->open);
	for (int i = 0; i < SK_ADMIT_NEV; i++)
		fprintf(out, " %s %llu", admit_ev_names[i],
			(unsigned long long)a->count[i]);
	fputc('\n', out);
	pthread_mutex_unlock(&a->lock);
}

void sk_admit_dump_all(FILE *out)
{
	pthread_mutex_lock(&admit_all_lock);
	for (struct sk_admit *a = admit_all; a; a = a->next)
		sk_admit_dump(a, out);
	pthread_mutex_unlock(&admit_all_lock);
}
