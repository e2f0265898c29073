/*
 * The ha front end of `scsikit serve`: several gateways exporting one Ceph
 * image keep their SCSI state in RADOS (serve_ha_rados.c says how, and
 * docs/ceph-gateways.md what an operator and an initiator see).
 *
 * Options:  --ha-rados POOL/NAME   turn it on; objects live in POOL
 *           --ha-conf PATH         ceph.conf (default /etc/ceph/ceph.conf)
 *           --ha-id CLIENT         cephx user without "client." (admin)
 *           --ha-interval MS       heartbeat and refresh period (1000)
 *           --ha-lease MS          a peer silent this long is dead (3000)
 *           --ha-timeout MS        bound of every RADOS call (2000)
 * Control:  ha status
 *
 * Without librados the options are refused with the reason.
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

#include "serve.h"

#ifdef SK_HAVE_RADOS
#include "serve_ha.h"

static void *ha_create(struct serve_ctx *ctx)
{
	struct serve_ha *ha = calloc(1, sizeof(*ha));

	(void)ctx;
	if (ha == NULL)
		return NULL;
	ha->interval_ms = 1000;
	ha->lease_ms = 3000;
	ha->timeout_ms = 2000;
	pthread_mutex_init(&ha->lock, NULL);
	pthread_cond_init(&ha->cond, NULL);
	return ha;
}

static int parse_ms(const char *v, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || x < lo || x > hi)
		return -1;
	*out = (unsigned)x;
	return 0;
}

static int set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = strdup(v);
	return *dst != NULL ? 0 : -1;
}

static int ha_configure(void *arg, const char *key, const char *value,
			char *err, size_t errlen)
{
	struct serve_ha *ha = arg;
	const char *slash;

	if (strcmp(key, "ha-rados") == 0) {
		slash = strchr(value, '/');
		if (slash == NULL || slash == value || slash[1] == '\0' ||
		    strchr(slash + 1, '/') != NULL ||
		    strlen(slash + 1) > 100) {
			snprintf(err, errlen, "expected POOL/NAME (NAME up to "
				 "100 characters)");
			return -1;
		}
		free(ha->pool);
		ha->pool = strndup(value, (size_t)(slash - value));
		if (ha->pool == NULL || set_str(&ha->name, slash + 1) < 0)
			goto out_nomem;
		ha->on = true;
		return 0;
	}
	if (strcmp(key, "ha-conf") == 0)
		return set_str(&ha->conf, value) < 0 ? (snprintf(err, errlen,
			"out of memory"), -1) : 0;
	if (strcmp(key, "ha-id") == 0)
		return set_str(&ha->id, value) < 0 ? (snprintf(err, errlen,
			"out of memory"), -1) : 0;
	if (strcmp(key, "ha-interval") == 0) {
		if (parse_ms(value, 100, 60000, &ha->interval_ms) < 0) {
			snprintf(err, errlen, "milliseconds, 100..60000");
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "ha-lease") == 0) {
		if (parse_ms(value, 300, 600000, &ha->lease_ms) < 0) {
			snprintf(err, errlen, "milliseconds, 300..600000");
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "ha-timeout") == 0) {
		if (parse_ms(value, 1000, 60000, &ha->timeout_ms) < 0) {
			snprintf(err, errlen, "milliseconds, 1000..60000");
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown option");
	return -1;
out_nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* Connect with every call bounded by the timeout. */
static int ha_start(void *arg, char *err, size_t errlen)
{
	struct serve_ha *ha = arg;
	if (!ha->on)
		return 0;
	if (ha->lease_ms <= ha->interval_ms) {
		snprintf(err, errlen, "--ha-lease must be longer than "
			 "--ha-interval");
		return -1;
	}
	if (ha_cluster_open(ha, err, errlen) < 0)
		goto out_close;
	/* The first round, before any initiator asks: it creates the object
	 * (the watch needs it), stores the options' states where the cluster
	 * has none and takes the cluster's where it has. */
	tgt_ha_ops_set(&ha_rados_ops, ha);
	ha_round_run(ha);
	if (atomic_load(&ha->down)) {
		snprintf(err, errlen, "gateway object %s/%s not written or "
			 "watched", ha->pool, ha->name);
		goto out_ops;
	}
	if (pthread_create(&ha->thread, NULL, ha_thread, ha) != 0) {
		snprintf(err, errlen, "cannot start the lease thread");
		goto out_ops;
	}
	ha->running = true;
	log_info("ha: shared state in %s/%s, lease %u ms, heartbeat %u ms",
		 ha->pool, ha->name, ha->lease_ms, ha->interval_ms);
	return 0;
out_ops:
	tgt_ha_ops_set(NULL, NULL);
out_close:
	ha_cluster_close(ha);
	return -1;
}

static void ha_stop(void *arg)
{
	struct serve_ha *ha = arg;

	if (ha->running) {
		pthread_mutex_lock(&ha->lock);
		ha->stop = true;
		pthread_cond_broadcast(&ha->cond);
		pthread_mutex_unlock(&ha->lock);
		pthread_join(ha->thread, NULL);
		tgt_ha_ops_set(NULL, NULL);
		/* Each call is bounded by the RADOS timeouts. */
		while (atomic_load(&ha->users) > 0)
			nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
		/* Tell the peers now rather than after a lease (unless the
		 * cluster is not answering: then stopping would wait). */
		for (unsigned i = 0; i < ha->ng && !atomic_load(&ha->down);
		     i++) {
			char key[32];

			if (ha->g[i].peer)
				continue;
			snprintf(key, sizeof(key), "hb.%u", ha->g[i].id);
			rados_setxattr(ha->io, ha->name, key, "stopped", 7);
		}
	}
	ha_cluster_close(ha);
	free(ha->pool);
	free(ha->name);
	free(ha->conf);
	free(ha->id);
	pthread_cond_destroy(&ha->cond);
	pthread_mutex_destroy(&ha->lock);
	free(ha);
}

static int ha_ctl(void *arg, int argc, char **argv, FILE *out)
{
	struct serve_ha *ha = arg;
	uint64_t now = ev_now_ms();

	if (argc != 2 || strcmp(argv[1], "status") != 0) {
		fprintf(out, "usage: ha status");
		return -1;
	}
	if (!ha->on) {
		fprintf(out, "ha: off (no --ha-rados)\n");
		return 0;
	}
	fprintf(out, "store rados:%s/%s cluster %s lease %u interval %u "
		"timeout %u\n", ha->pool, ha->name,
		atomic_load(&ha->down) ? "unreachable" : "ok", ha->lease_ms,
		ha->interval_ms, ha->timeout_ms);
	fprintf(out, "rounds %" PRIu64 " failed %" PRIu64 " pr_loads %" PRIu64
		" pr_stores %" PRIu64 " pr_races %" PRIu64 " events_in %"
		PRIu64 " events_out %" PRIu64 "\n",
		(uint64_t)atomic_load(&ha->rounds),
		(uint64_t)atomic_load(&ha->failed_rounds),
		(uint64_t)atomic_load(&ha->pr_loads),
		(uint64_t)atomic_load(&ha->pr_stores),
		(uint64_t)atomic_load(&ha->pr_races),
		(uint64_t)atomic_load(&ha->events_in),
		(uint64_t)atomic_load(&ha->events_out));
	pthread_mutex_lock(&ha->lock);
	for (unsigned i = 0; i < ha->ng; i++) {
		const struct ha_group *g = &ha->g[i];

		fprintf(out, "group %u %s stored %s reported %s", g->id,
			g->peer ? "peer" : "local",
			g->has_stored ? tgt_alua_state_name(g->stored) : "-",
			g->has_eff ? tgt_alua_state_name(g->eff) : "-");
		if (g->peer)
			fprintf(out, " heartbeat-age-ms %" PRIu64 "%s",
				now - g->hb_ms, g->dead ? " dead" : "");
		fputc('\n', out);
	}
	pthread_mutex_unlock(&ha->lock);
	return 0;
}

#else /* !SK_HAVE_RADOS */

/* Built without librados: the options exist, and are refused with the
 * reason, so a configuration that needs the cluster does not start
 * without it. */
static void *ha_create(struct serve_ctx *ctx)
{
	static int dummy;

	(void)ctx;
	return &dummy;
}

static int ha_configure(void *arg, const char *key, const char *value,
			char *err, size_t errlen)
{
	(void)arg;
	(void)key;
	(void)value;
	snprintf(err, errlen, "built without librados (install librados-dev "
		 "and rebuild)");
	return -1;
}

static int ha_start(void *arg, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	return 0;
}

static void ha_stop(void *arg)
{
	(void)arg;
}

static int ha_ctl(void *arg, int argc, char **argv, FILE *out)
{
	(void)arg;
	(void)argc;
	(void)argv;
	fprintf(out, "ha: built without librados\n");
	return 0;
}

#endif /* SK_HAVE_RADOS */

const struct serve_frontend serve_frontend_ha = {
	.name = "ha",
	.usage =
"  --ha-rados POOL/NAME      keep reservations and ALUA states of the LUs\n"
"                            in RADOS objects NAME, NAME.pr.* of POOL, shared\n"
"                            with the other gateways given the same NAME\n"
"  --ha-conf PATH            ceph.conf (default /etc/ceph/ceph.conf)\n"
"  --ha-id CLIENT            cephx user, without 'client.' (admin)\n"
"  --ha-interval MS          heartbeat and refresh period (1000)\n"
"  --ha-lease MS             a gateway silent this long is reported\n"
"                            unavailable (3000)\n"
"  --ha-timeout MS           bound of every RADOS call (2000)\n",
	.create = ha_create,
	.configure = ha_configure,
	.start = ha_start,
	.stop = ha_stop,
	.ctl = ha_ctl,
};

