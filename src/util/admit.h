/*
 * Admission control shared by every front end that accepts connections
 * (NBD, iSCSI, the xdisk server, vscsi, the control socket): a cap on open
 * connections, a cap per peer address, counters of every time a limit bit,
 * and a rate-limited log line for each.  Internal to libscsikit and the
 * scsikit tool (not public API).
 *
 * Peers are told apart by address only (IPv4, or IPv6 with v4-mapped
 * addresses folded into IPv4); the port does not count.  Unix-socket peers
 * are one local "address" to which the per-peer cap does not apply: the
 * socket file's permissions already say who may connect.
 *
 * The table of limits, options and defaults is docs/limits.md.
 */
#ifndef SCSIKIT_UTIL_ADMIT_H
#define SCSIKIT_UTIL_ADMIT_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* What can happen to a connection because of a limit. */
enum sk_admit_ev {
	SK_ADMIT_REFUSED_CAP = 0,  /* refused: the front end is full */
	SK_ADMIT_REFUSED_PEER,	   /* refused: that address has its share */
	SK_ADMIT_EVICTED,	   /* closed to make room for a newcomer */
	SK_ADMIT_TIMEOUT,	   /* closed: a request's body came too late */
	SK_ADMIT_NEV,
};

#define SK_ADMIT_BUCKETS 64
#define SK_ADMIT_LOG_MS 10000 /* one message per limit per this period */

struct sk_admit_peer;

struct sk_admit {
	char name[16];		/* "nbd": for messages and stats */
	unsigned max_conns;	/* 0: no cap (the caller enforces its own) */
	unsigned max_per_peer;	/* 0: no per-peer cap */

	/* Under lock. */
	pthread_mutex_t lock;
	unsigned open;		/* admitted and not yet left */
	struct sk_admit_peer *peers[SK_ADMIT_BUCKETS];
	uint64_t count[SK_ADMIT_NEV];
	uint64_t last_log_ms[SK_ADMIT_NEV];
	uint64_t unlogged[SK_ADMIT_NEV]; /* happened since the last line */

	/* Under the global registry lock (admit.c). */
	struct sk_admit *next;
};

/* Set up a and list it for sk_admit_dump_all(); sk_admit_fini unlists it
 * (every admitted connection must have left by then). */
void sk_admit_init(struct sk_admit *a, const char *name, unsigned max_conns,
		   unsigned max_per_peer);
void sk_admit_fini(struct sk_admit *a);

/* Take a slot for a connection from ss.  0: admitted, call
 * sk_admit_leave(a, ss) when it closes.  -EMFILE: over max_conns;
 * -EUSERS: that address is over max_per_peer.  A refusal is counted and
 * logged (rate-limited) here; peer names the connection in that line. */
int sk_admit_enter(struct sk_admit *a, const struct sockaddr_storage *ss,
		   const char *peer);
/* Like sk_admit_enter, but a connection over max_conns is neither counted
 * nor logged: the caller evicts one for it (then sk_admit_force) or calls
 * sk_admit_refuse_cap. */
int sk_admit_try(struct sk_admit *a, const struct sockaddr_storage *ss,
		 const char *peer);
void sk_admit_refuse_cap(struct sk_admit *a, const char *peer);
/* Like sk_admit_enter but never refused: a connection let in over the cap
 * because another is being evicted for it. */
void sk_admit_force(struct sk_admit *a, const struct sockaddr_storage *ss);
void sk_admit_leave(struct sk_admit *a, const struct sockaddr_storage *ss);
unsigned sk_admit_open(struct sk_admit *a);

/* Count ev, and log why (printf format) unless a line about ev went out
 * less than SK_ADMIT_LOG_MS ago. */
void sk_admit_note(struct sk_admit *a, enum sk_admit_ev ev, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

/* Counters of one front end, or of every initialised one, for
 * `scsikit stats`: one line each. */
void sk_admit_dump(struct sk_admit *a, FILE *out);
void sk_admit_dump_all(FILE *out);

#endif
