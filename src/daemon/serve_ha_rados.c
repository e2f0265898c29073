/*
 * Cluster-wide SCSI state for several gateways (docs/ceph-gateways.md),
 * the RADOS side of the ha front end (serve_ha.c): the target engine's shared-state ops (tgt_ha_ops) kept in
 * RADOS, and gateway leases, so that two or more `scsikit serve`
 * exporting one RBD image agree on its persistent reservations and on the
 * states of their target port groups, and report a dead gateway's group
 * unavailable.
 *
 * Objects in POOL (beside the image, e.g. NAME = "scsikit.IMAGE"):
 *   NAME           xattr "alua.G" = the stored state of target port group
 *                  G (its name, "active/optimized"...); xattr "hb.G" =
 *                  "INSTANCE:COUNTER", the heartbeat of the daemon that owns
 *                  group G ("stopped" after a clean stop).  Every gateway
 *                  watches it: events (ALUA changes, LU resets, a changed
 *                  reservation) are RADOS notifies on it.
 *   NAME.pr.NAA    one LU's reservation state: the engine's encoding
 *                  (tgt_pr_store.c) as data, xattr "seq" its sequence
 *                  number.  A publish is one RADOS write op: cmpxattr seq
 *                  == old, write_full, setxattr seq = old + 1 (or an
 *                  exclusive create when there is none), so two gateways
 *                  racing cannot both win: the loser's engine undoes its
 *                  change and answers BUSY, and the initiator's retry
 *                  reloads.
 *
 * Consistency: the engine reloads the state before every PERSISTENT
 * RESERVE IN/OUT (read through).  The data path (the reservation
 * conflict check of READ/WRITE) uses the LU's copy in memory, refreshed
 * (1) by the watch: a publish is followed by a notify that every other
 * gateway acknowledges only after reloading, and the publisher waits for
 * the acknowledgements (bounded by NOTIFY_MS), so when RESERVE returns
 * GOOD through one gateway the others enforce it; (2) by this module's
 * thread every --ha-interval, for a gateway that missed a notify (its
 * watch was being re-established, or it just started).
 *
 * Leases: a thread writes this daemon's heartbeats every interval and reads
 * everyone's; a peer group whose heartbeat has not changed for --ha-lease
 * (timed on this host's monotonic clock: no clocks are compared across
 * hosts) is reported unavailable here (an implicit transition, with its
 * unit attention), and back in its stored state when it beats again.  So
 * a dead gateway is reported unavailable within lease + interval.
 *
 * Bounds: every RADOS call is bounded by --ha-timeout (librados'
 * rados_osd_op_timeout / rados_mon_op_timeout); notifies by NOTIFY_MS.
 * PR commands call the store on the reactor that runs them (the engine's
 * contract), so while the thread's last round failed they are refused at
 * once (NOT READY, LOGICAL UNIT COMMUNICATION FAILURE) instead of each
 * waiting out the timeout.  READ and WRITE never touch the store.  A
 * notify waits at most NOTIFY_MS for the acknowledgements; that is also
 * the most two PERSISTENT RESERVE OUT at the same moment through two
 * gateways can hold each other up (each gateway's reload of the other's
 * change, on librados' callback thread, waits for the LU lock its own
 * command holds while that command waits for the acknowledgements).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/target.h>

#ifdef SK_HAVE_RADOS
#include "serve_ha.h"

#define NOTIFY_MS 500u
#define PAYLOAD_MAX 96		/* a notify payload we accept */

/* Set on a thread that applies what came from the store, so the engine's
 * alua_store call back into us does not write it back. */
static _Thread_local bool ha_applying;

static uint64_t now_ms(void)
{
	return ev_now_ms();
}

/* Find group id (ha->lock held); NULL if unknown. */
static struct ha_group *group_get(struct serve_ha *ha, uint16_t id)
{
	for (unsigned i = 0; i < ha->ng; i++)
		if (ha->g[i].id == id)
			return &ha->g[i];
	return NULL;
}

static void pr_oid(const struct serve_ha *ha, uint64_t naa, char *buf,
		   size_t len)
{
	snprintf(buf, len, "%s.pr.%016" PRIx64, ha->name, naa);
}

/* Apply one event with the flag that keeps it from being stored again. */
static int apply(const struct tgt_ha_event *ev)
{
	int rc;

	ha_applying = true;
	rc = tgt_ha_event_apply(ev);
	ha_applying = false;
	return rc;
}

/* ---- the ops ---- */

/* The engine may still be inside an op when the ops are switched back at
 * stop: those calls are counted, and the cluster is closed after them. */
static void user_get(struct serve_ha *ha)
{
	atomic_fetch_add(&ha->users, 1);
}

static int user_put(struct serve_ha *ha, int rc)
{
	atomic_fetch_sub(&ha->users, 1);
	return rc;
}

static int ha_alua_load(void *arg, uint16_t group, enum tgt_alua_state *st)
{
	struct serve_ha *ha = arg;
	struct ha_group *g;
	int rc = -ENOENT;

	/* From the thread's copy: RTPG never waits for the cluster. */
	pthread_mutex_lock(&ha->lock);
	g = group_get(ha, group);
	if (g != NULL && g->has_eff) {
		*st = g->eff;
		rc = 0;
	}
	pthread_mutex_unlock(&ha->lock);
	return rc;
}

static int ha_alua_store(void *arg, uint16_t group, enum tgt_alua_state st)
{
	struct serve_ha *ha = arg;
	struct ha_group *g;
	char key[32];
	const char *v = tgt_alua_state_name(st);
	int rc;

	if (ha_applying)
		return 0;
	if (atomic_load(&ha->down))
		return -ETIMEDOUT;
	snprintf(key, sizeof(key), "alua.%u", group);
	user_get(ha);
	rc = user_put(ha, rados_setxattr(ha->io, ha->name, key, v, strlen(v)));
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ha->lock);
	g = group_get(ha, group);
	if (g != NULL) {
		g->stored = st;
		g->has_stored = true;
		if (!g->dead) {
			g->eff = st;
			g->has_eff = true;
		}
	}
	pthread_mutex_unlock(&ha->lock);
	return 0;
}

static int ha_pr_load_one(struct serve_ha *ha, uint64_t naa, void *buf,
			  size_t cap, size_t *len);

static int ha_pr_load(void *arg, uint64_t naa, void *buf, size_t cap,
		      size_t *len)
{
	struct serve_ha *ha = arg;

	user_get(ha);
	return user_put(ha, ha_pr_load_one(ha, naa, buf, cap, len));
}

static int ha_pr_load_one(struct serve_ha *ha, uint64_t naa, void *buf,
			  size_t cap, size_t *len)
{
	char oid[160];
	int rc;

	*len = 0;
	if (atomic_load(&ha->down))
		return -ETIMEDOUT;
	pr_oid(ha, naa, oid, sizeof(oid));
	atomic_fetch_add(&ha->pr_loads, 1);
	rc = rados_read(ha->io, oid, buf, cap, 0);
	if (rc < 0)
		return rc;	/* -ENOENT: nothing stored yet */
	*len = (size_t)rc;
	return 0;
}

/* Send an event to the other gateways and wait (bounded) for them. */
static void ha_send(struct serve_ha *ha, const char *payload)
{
	char *reply = NULL;
	size_t rlen = 0;
	int rc;

	rc = rados_notify2(ha->io, ha->name, payload, (int)strlen(payload),
			   NOTIFY_MS, &reply, &rlen);
	if (reply != NULL)
		rados_buffer_free(reply);
	atomic_fetch_add(&ha->events_out, 1);
	if (rc < 0)
		log_warn("ha: event '%s' not acknowledged by every gateway: %s"
			 " (they catch up within %u ms)", payload,
			 strerror(-rc), ha->interval_ms);
}

static int ha_pr_store_one(struct serve_ha *ha, uint64_t naa,
			   uint32_t old_gen, const void *buf, size_t len);

static int ha_pr_store(void *arg, uint64_t naa, uint32_t old_gen,
		       const void *buf, size_t len)
{
	struct serve_ha *ha = arg;

	user_get(ha);
	return user_put(ha, ha_pr_store_one(ha, naa, old_gen, buf, len));
}

static int ha_pr_store_one(struct serve_ha *ha, uint64_t naa,
			   uint32_t old_gen, const void *buf, size_t len)
{
	char oid[160], oldv[16], newv[16], msg[48];
	rados_write_op_t op;
	int rc;

	if (atomic_load(&ha->down))
		return -ETIMEDOUT;
	pr_oid(ha, naa, oid, sizeof(oid));
	snprintf(oldv, sizeof(oldv), "%" PRIu32, old_gen);
	snprintf(newv, sizeof(newv), "%" PRIu32, old_gen + 1);
	atomic_fetch_add(&ha->pr_stores, 1);

	op = rados_create_write_op();
	if (op == NULL)
		return -ENOMEM;
	rados_write_op_cmpxattr(op, "seq", LIBRADOS_CMPXATTR_OP_EQ, oldv,
				strlen(oldv));
	rados_write_op_write_full(op, buf, len);
	rados_write_op_setxattr(op, "seq", newv, strlen(newv));
	rc = rados_write_op_operate(op, ha->io, oid, NULL, 0);
	rados_release_write_op(op);
	if (rc == -ENOENT) {
		/* Nothing stored yet: the first publish creates it, and of
		 * two racing creates one gets -EEXIST. */
		op = rados_create_write_op();
		if (op == NULL)
			return -ENOMEM;
		rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
		rados_write_op_write_full(op, buf, len);
		rados_write_op_setxattr(op, "seq", newv, strlen(newv));
		rc = rados_write_op_operate(op, ha->io, oid, NULL, 0);
		rados_release_write_op(op);
	}
	if (rc == -ECANCELED || rc == -EEXIST || rc == -ENODATA) {
		atomic_fetch_add(&ha->pr_races, 1);
		return -EAGAIN;
	}
	if (rc < 0)
		return rc;
	snprintf(msg, sizeof(msg), "pr %016" PRIx64, naa);
	ha_send(ha, msg);
	return 0;
}

static void ha_notify(void *arg, const struct tgt_ha_event *ev)
{
	struct serve_ha *ha = arg;
	char msg[PAYLOAD_MAX];

	if (ev->kind == TGT_HA_LU_RESET)
		snprintf(msg, sizeof(msg), "reset %016" PRIx64 " %s", ev->naa,
			 ev->power_on ? "cold" : "warm");
	else if (ev->kind == TGT_HA_ALUA_STATE)
		snprintf(msg, sizeof(msg), "alua %u %s", ev->group,
			 tgt_alua_state_name(ev->state));
	else
		return;
	user_get(ha);
	ha_send(ha, msg);
	user_put(ha, 0);
}

const struct tgt_ha_ops ha_rados_ops = {
	.alua_load = ha_alua_load,
	.alua_store = ha_alua_store,
	.pr_load = ha_pr_load,
	.pr_store = ha_pr_store,
	.notify = ha_notify,
};

/* ---- events from the other gateways (librados' callback thread) ---- */

/* Parse and apply one payload; it comes from the cluster, so every field
 * is checked. */
static void event_in(struct serve_ha *ha, const char *p)
{
	struct tgt_ha_event ev;
	char word[16], arg2[32];
	unsigned long long naa;
	unsigned group;
	int n;

	memset(&ev, 0, sizeof(ev));
	if (sscanf(p, "pr %16llx%n", &naa, &n) == 1 && p[n] == '\0') {
		ev.kind = TGT_HA_PR_CHANGED;
		ev.naa = naa;
	} else if (sscanf(p, "reset %16llx %15s%n", &naa, word, &n) == 2 &&
		   p[n] == '\0' && (strcmp(word, "warm") == 0 ||
				    strcmp(word, "cold") == 0)) {
		ev.kind = TGT_HA_LU_RESET;
		ev.naa = naa;
		ev.power_on = word[0] == 'c';
	} else if (sscanf(p, "alua %5u %31s%n", &group, arg2, &n) == 2 &&
		   p[n] == '\0' && group >= 1 && group <= 65535 &&
		   tgt_alua_state_parse(arg2, &ev.state) == 0) {
		struct ha_group *g;

		ev.kind = TGT_HA_ALUA_STATE;
		ev.group = (uint16_t)group;
		pthread_mutex_lock(&ha->lock);
		g = group_get(ha, ev.group);
		if (g != NULL) {
			g->stored = ev.state;
			g->has_stored = true;
			if (g->dead)
				ev.state = TGT_ALUA_UNAVAILABLE;
			g->eff = ev.state;
			g->has_eff = true;
		}
		pthread_mutex_unlock(&ha->lock);
	} else {
		log_warn("ha: ignoring a malformed event from the cluster");
		return;
	}
	atomic_fetch_add(&ha->events_in, 1);
	/* An LU or group this daemon does not have is nothing to do. */
	(void)apply(&ev);
}

static void watch_cb(void *arg, uint64_t notify_id, uint64_t cookie,
		     uint64_t notifier, void *data, size_t len)
{
	struct serve_ha *ha = arg;
	char p[PAYLOAD_MAX + 1];

	/* Our own notifies come back too: what they say is done here. */
	if (notifier != ha->instance && len > 0 && len <= PAYLOAD_MAX) {
		memcpy(p, data, len);
		p[len] = '\0';
		event_in(ha, p);
	}
	/* Acknowledged after applying: the notifier's wait means "seen". */
	rados_notify_ack(ha->io, ha->name, notify_id, cookie, NULL, 0);
}

static void watch_err(void *arg, uint64_t cookie, int err)
{
	struct serve_ha *ha = arg;

	(void)cookie;
	log_warn("ha: watch on the gateway object lost (%s); re-watching",
		 strerror(-err));
	atomic_store(&ha->rewatch, true);
}

static int watch_start(struct serve_ha *ha)
{
	int rc;

	if (ha->watching) {
		rados_unwatch2(ha->io, ha->watch);
		ha->watching = false;
	}
	rc = rados_watch2(ha->io, ha->name, &ha->watch, watch_cb, watch_err,
			  ha);
	if (rc == 0) {
		ha->watching = true;
		atomic_store(&ha->rewatch, false);
	}
	return rc;
}

/* ---- the heartbeat / refresh round ---- */

/* Write this daemon's heartbeats: one xattr per group of its own. */
static int beat(struct serve_ha *ha, const struct tgt_alua_group_info *gi,
		unsigned n)
{
	rados_write_op_t op = rados_create_write_op();
	char keys[TGT_ALUA_MAX_GROUPS][16];
	char val[48];
	unsigned i;
	int rc;

	if (op == NULL)
		return -ENOMEM;
	/* The object exists from the first beat on, even with no group of
	 * our own, so that it can be watched. */
	rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	snprintf(val, sizeof(val), "%" PRIu64 ":%" PRIu64, ha->instance,
		 ++ha->counter);
	for (i = 0; i < n; i++) {
		if (gi[i].peer)
			continue;
		snprintf(keys[i], sizeof(keys[i]), "hb.%u", gi[i].id);
		rados_write_op_setxattr(op, keys[i], val, strlen(val));
	}
	rc = rados_write_op_operate(op, ha->io, ha->name, NULL, 0);
	rados_release_write_op(op);
	return rc;
}

/* Read every xattr of the gateway object into the groups. */
static int read_all(struct serve_ha *ha, uint64_t now)
{
	rados_xattrs_iter_t it;
	const char *key, *val;
	size_t vlen;
	int rc;

	rc = rados_getxattrs(ha->io, ha->name, &it);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ha->lock);
	while (rados_getxattrs_next(it, &key, &val, &vlen) == 0 &&
	       key != NULL) {
		char v[HA_XATTR_MAX];
		unsigned long id;
		char *end;
		struct ha_group *g;

		if (vlen >= sizeof(v))
			continue;
		memcpy(v, val, vlen);
		v[vlen] = '\0';
		if (strncmp(key, "alua.", 5) == 0 || strncmp(key, "hb.", 3) == 0) {
			bool hb = key[0] == 'h';

			id = strtoul(key + (hb ? 3 : 5), &end, 10);
			if (*end != '\0' || id == 0 || id > 65535)
				continue;
			g = group_get(ha, (uint16_t)id);
			if (g == NULL)
				continue;
			if (hb) {
				if (strcmp(g->hb, v) != 0) {
					snprintf(g->hb, sizeof(g->hb), "%s", v);
					/* "stopped": gone now, not in a lease. */
					g->hb_ms = strcmp(v, "stopped") == 0 ?
							   0 : now;
				}
			} else {
				enum tgt_alua_state st;

				if (tgt_alua_state_parse(v, &st) == 0) {
					g->stored = st;
					g->has_stored = true;
				}
			}
		}
	}
	pthread_mutex_unlock(&ha->lock);
	rados_getxattrs_end(it);
	return 0;
}

void ha_round_run(struct serve_ha *ha)
{
	struct tgt_alua_group_info gi[TGT_ALUA_MAX_GROUPS];
	struct tgt_ha_event evs[TGT_ALUA_MAX_GROUPS];
	unsigned i, n, nev = 0;
	uint64_t now = now_ms();
	int rc;

	n = tgt_alua_groups(gi, TGT_ALUA_MAX_GROUPS);
	if (n > TGT_ALUA_MAX_GROUPS)
		n = TGT_ALUA_MAX_GROUPS;
	/* Groups added at run time (alua add-group) join here. */
	pthread_mutex_lock(&ha->lock);
	for (i = 0; i < n; i++) {
		struct ha_group *g = group_get(ha, gi[i].id);

		if (g == NULL && ha->ng < TGT_ALUA_MAX_GROUPS) {
			g = &ha->g[ha->ng++];
			memset(g, 0, sizeof(*g));
			g->id = gi[i].id;
			g->peer = gi[i].peer;
			g->hb_ms = now;	/* a peer gets one lease to show up */
		}
	}
	pthread_mutex_unlock(&ha->lock);

	rc = beat(ha, gi, n);
	if (rc == 0)
		rc = read_all(ha, now);
	if (rc == 0 && (atomic_load(&ha->rewatch) || !ha->watching ||
			rados_watch_check(ha->io, ha->watch) < 0))
		rc = watch_start(ha);
	atomic_fetch_add(&ha->rounds, 1);
	if (rc < 0) {
		if (!atomic_exchange(&ha->down, true))
			log_err("ha: cluster not reached (%s): reservations "
				"answer NOT READY until it is", strerror(-rc));
		atomic_fetch_add(&ha->failed_rounds, 1);
		return;
	}
	if (atomic_exchange(&ha->down, false)) {
		/* Heartbeats could not be seen meanwhile: every peer gets a
		 * fresh lease rather than being called dead for our outage. */
		log_info("ha: cluster reached again");
		pthread_mutex_lock(&ha->lock);
		for (i = 0; i < ha->ng; i++)
			if (ha->g[i].hb_ms != 0)
				ha->g[i].hb_ms = now;
		pthread_mutex_unlock(&ha->lock);
	}

	/* The state each group should have here. */
	pthread_mutex_lock(&ha->lock);
	for (i = 0; i < n; i++) {
		struct ha_group *g = group_get(ha, gi[i].id);
		enum tgt_alua_state want;
		bool was_dead;

		if (g == NULL)
			continue;
		if (!g->has_stored) {
			/* Nobody stored one: the local group stores its
			 * option's state below; a peer's is as configured. */
			g->stored = gi[i].state;
			g->has_stored = !g->peer;
			if (!g->peer) {
				char key[32];
				const char *v = tgt_alua_state_name(g->stored);

				snprintf(key, sizeof(key), "alua.%u", g->id);
				pthread_mutex_unlock(&ha->lock);
				rc = rados_setxattr(ha->io, ha->name, key, v,
						    strlen(v));
				pthread_mutex_lock(&ha->lock);
				if (rc < 0)
					g->has_stored = false;
			}
		}
		was_dead = g->dead;
		g->dead = g->peer && now - g->hb_ms >= ha->lease_ms;
		want = g->dead ? TGT_ALUA_UNAVAILABLE : g->stored;
		if (g->dead != was_dead)
			log_warn("ha: gateway of group %u %s", g->id,
				 g->dead ? "silent: reported unavailable" :
					   "is back");
		g->eff = want;
		g->has_eff = true;
		if (want != gi[i].state) {
			memset(&evs[nev], 0, sizeof(evs[nev]));
			evs[nev].kind = TGT_HA_ALUA_STATE;
			evs[nev].group = g->id;
			evs[nev].state = want;
			nev++;
		}
	}
	pthread_mutex_unlock(&ha->lock);
	for (i = 0; i < nev; i++)
		apply(&evs[i]);

	/* Reservations a notify did not bring (ours or a missed one). */
	struct tgt_ha_event pr = { .kind = TGT_HA_PR_CHANGED, .naa = 0 };

	rc = apply(&pr);
	if (rc < 0 && rc != -ETIMEDOUT)
		log_debug("ha: reservation refresh: %s", strerror(-rc));
}

void *ha_thread(void *arg)
{
	struct serve_ha *ha = arg;
	struct timespec ts;

	pthread_mutex_lock(&ha->lock);
	while (!ha->stop) {
		pthread_mutex_unlock(&ha->lock);
		ha_round_run(ha);
		pthread_mutex_lock(&ha->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ha->interval_ms / 1000;
		ts.tv_nsec += (long)(ha->interval_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!ha->stop &&
		       pthread_cond_timedwait(&ha->cond, &ha->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&ha->lock);
	return NULL;
}

/* Connect with every call bounded by the timeout. */
int ha_cluster_open(struct serve_ha *ha, char *err, size_t errlen)
{
	char secs[16];
	int rc;

	rc = rados_create(&ha->cl, ha->id != NULL ? ha->id : "admin");
	if (rc < 0) {
		snprintf(err, errlen, "rados: %s", strerror(-rc));
		return -1;
	}
	ha->connected = true;	/* created: rados_shutdown frees it */
	rc = rados_conf_read_file(ha->cl, ha->conf != NULL ? ha->conf :
					  "/etc/ceph/ceph.conf");
	if (rc < 0) {
		snprintf(err, errlen, "ceph conf %s: %s",
			 ha->conf != NULL ? ha->conf : "/etc/ceph/ceph.conf",
			 strerror(-rc));
		return -1;
	}
	/* librados takes whole seconds here.  The watch is pinged once a
	 * tick (5 s by default): every second, a short `osd client watch
	 * timeout` (docs/ceph-gateways.md) does not drop it under load. */
	snprintf(secs, sizeof(secs), "%u", (ha->timeout_ms + 999) / 1000);
	if (rados_conf_set(ha->cl, "rados_osd_op_timeout", secs) < 0 ||
	    rados_conf_set(ha->cl, "rados_mon_op_timeout", secs) < 0 ||
	    rados_conf_set(ha->cl, "client_mount_timeout", secs) < 0 ||
	    rados_conf_set(ha->cl, "objecter_tick_interval", "1") < 0) {
		snprintf(err, errlen, "cannot set the RADOS timeouts");
		return -1;
	}
	rc = rados_connect(ha->cl);
	if (rc < 0) {
		snprintf(err, errlen, "cluster not reached: %s", strerror(-rc));
		return -1;
	}
	rc = rados_ioctx_create(ha->cl, ha->pool, &ha->io);
	if (rc < 0) {
		snprintf(err, errlen, "pool %s: %s", ha->pool, strerror(-rc));
		return -1;
	}
	ha->have_io = true;
	ha->instance = rados_get_instance_id(ha->cl);
	return 0;
}

void ha_cluster_close(struct serve_ha *ha)
{
	if (ha->watching) {
		rados_unwatch2(ha->io, ha->watch);
		ha->watching = false;
	}
	if (ha->connected)
		rados_watch_flush(ha->cl);
	if (ha->have_io) {
		rados_ioctx_destroy(ha->io);
		ha->have_io = false;
	}
	if (ha->connected) {
		rados_shutdown(ha->cl);
		ha->connected = false;
	}
}


#endif /* SK_HAVE_RADOS */
