/*
 * The ha front end of `scsikit serve` (serve_ha.c: options, start, stop,
 * the control request) and its RADOS side (serve_ha_rados.c: the shared-
 * state ops, events, heartbeats), built with librados.  Internal to the
 * daemon.
 */
#ifndef SCSIKIT_DAEMON_SERVE_HA_H
#define SCSIKIT_DAEMON_SERVE_HA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rados/librados.h>

#include <scsikit/target.h>

#define HA_XATTR_MAX 64		/* an xattr value we read */

struct ha_group {
	uint16_t id;
	bool peer;
	bool has_stored;
	enum tgt_alua_state stored;	/* alua.G in the store */
	char hb[HA_XATTR_MAX];		/* hb.G as last read */
	uint64_t hb_ms;			/* when hb.G last changed (here) */
	bool dead;			/* lease expired */
	bool has_eff;
	enum tgt_alua_state eff;	/* what this daemon reports */
};

struct serve_ha {
	char *pool, *name, *conf, *id;
	unsigned interval_ms, lease_ms, timeout_ms;
	bool on;

	rados_t cl;
	rados_ioctx_t io;
	bool connected, have_io;
	uint64_t watch;
	bool watching;
	uint64_t instance;
	uint64_t counter;

	pthread_t thread;
	bool running, stop;
	pthread_mutex_t lock;	/* the fields below; never held while
				 * calling into the engine */
	pthread_cond_t cond;
	struct ha_group g[TGT_ALUA_MAX_GROUPS];
	unsigned ng;
	atomic_bool down;	/* the last round did not reach the cluster */
	atomic_bool rewatch;	/* the watch broke */
	atomic_uint_fast64_t rounds, failed_rounds, pr_loads, pr_stores,
		pr_races, events_in, events_out;
	atomic_uint users;	/* ops calls running (ha_stop waits) */
};

/* serve_ha_rados.c */
extern const struct tgt_ha_ops ha_rados_ops;
/* Connect with every call bounded by ha->timeout_ms; 0 or -1 with err. */
int ha_cluster_open(struct serve_ha *ha, char *err, size_t errlen);
void ha_cluster_close(struct serve_ha *ha);
/* One heartbeat / refresh round (also the first, at start). */
void ha_round_run(struct serve_ha *ha);
/* The thread running a round every interval until ha->stop. */
void *ha_thread(void *arg);

#endif
