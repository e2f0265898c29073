/*
 * The high-availability part of `scsikit serve`: the target engine's ALUA
 * target port groups (src/target/tgt_alua.c) configured from options and
 * changed at run time on the control socket, and the LU identity keys of
 * --disk specs, so that several daemons exporting one backing store
 * present one logical unit with one set of port groups.
 *
 * Options:  --alua-group ID:STATE[:RTPI,...]   a group of this daemon
 *           --alua-peer ID:STATE:RTPI,...      a group of another daemon
 *           --alua-transition-time SECONDS     RTPG implicit transition time
 *           --alua-peer-ctl PATH               tell that daemon our changes
 * Control:  alua list [--json] | alua set GROUP STATE
 *           alua add-group ID STATE [RTPI,...] | alua add-peer ID STATE RTPI,...
 *           alua event reset NAA warm|cold | alua event state GROUP STATE
 *
 * Peer control sockets are the one channel between daemons on one host
 * until the shared store exists (docs/multipath.md): ALUA state changes
 * and LU resets made here are sent to each peer as "alua event" requests
 * by a thread of their own; the engine's thread waits for delivery at most
 * PEER_WAIT_MS, so two daemons telling each other at once cannot hang.
 *
 * An iSCSI portal group with tag N is relative target port N, so
 * "--iscsi 127.0.0.1:3260,2 --alua-group 2:standby:2" puts that portal in
 * group 2.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/target.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "ctl_client.h"
#include "json_out.h"
#include "serve.h"
#include "serve_internal.h"

#define PEER_MAX 8
#define PEER_QUEUE 64
#define PEER_WAIT_MS 2000

struct serve_alua {
	char *peers[PEER_MAX];
	unsigned npeers;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tgt_ha_event q[PEER_QUEUE];
	unsigned qhead, qlen;
	uint64_t queued, delivered;	/* events ever queued / sent */
	bool stop;
};

static int parse_u16(const char *s, size_t len, uint16_t *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Add group id in state from the words given; ports is "RTPI,RTPI" or
 * NULL.  0, or -1 with a message in err. */
static int group_add(const char *id_s, const char *state_s, const char *ports,
		     bool peer, char *err, size_t errlen)
{
	enum tgt_alua_state st;
	uint16_t id, rtpi;
	int rc;

	if (parse_u16(id_s, strlen(id_s), &id) < 0) {
		snprintf(err, errlen, "bad group id '%s' (1..65535)", id_s);
		return -1;
	}
	if (tgt_alua_state_parse(state_s, &st) < 0) {
		snprintf(err, errlen, "bad state '%s' (active/optimized, "
			 "active/non-optimized, standby, unavailable, "
			 "transitioning)", state_s);
		return -1;
	}
	if (peer && (ports == NULL || ports[0] == '\0')) {
		snprintf(err, errlen, "a peer group needs its ports");
		return -1;
	}
	rc = tgt_alua_group_add(id, st, peer);
	if (rc < 0) {
		snprintf(err, errlen, "group %u: %s", id,
			 rc == -EEXIST ? "exists already" :
			 rc == -ENOSPC ? "too many groups" : strerror(-rc));
		return -1;
	}
	while (ports != NULL && *ports != '\0') {
		const char *c = strchr(ports, ',');
		size_t len = c != NULL ? (size_t)(c - ports) : strlen(ports);

		if (parse_u16(ports, len, &rtpi) < 0) {
			snprintf(err, errlen, "bad relative port in '%s'",
				 ports);
			return -1;
		}
		rc = tgt_alua_port_add(id, rtpi);
		if (rc < 0) {
			snprintf(err, errlen, "port %u: %s", rtpi,
				 rc == -EEXIST ? "in another group" :
				 strerror(-rc));
			return -1;
		}
		ports = c != NULL ? c + 1 : NULL;
	}
	return 0;
}

/* "ID:STATE[:PORTS]" from an option. */
static int group_option(const char *v, bool peer, char *err, size_t errlen)
{
	char buf[256], *c1, *c2;

	if (strlen(v) >= sizeof(buf)) {
		snprintf(err, errlen, "too long");
		return -1;
	}
	strcpy(buf, v);
	c1 = strchr(buf, ':');
	if (c1 == NULL) {
		snprintf(err, errlen, "expected ID:STATE[:RTPI,...]");
		return -1;
	}
	*c1++ = '\0';
	/* States contain '/', never ':'. */
	c2 = strchr(c1, ':');
	if (c2 != NULL)
		*c2++ = '\0';
	return group_add(buf, c1, c2, peer, err, errlen);
}

static void peer_send(struct serve_alua *a, const struct tgt_ha_event *ev)
{
	char w3[32], w4[32];
	char *argv[5] = { "alua", "event", NULL, w3, w4 };
	FILE *out = fopen("/dev/null", "w");

	if (ev->kind == TGT_HA_LU_RESET) {
		argv[2] = "reset";
		snprintf(w3, sizeof(w3), "%016" PRIx64, ev->naa);
		snprintf(w4, sizeof(w4), "%s", ev->power_on ? "cold" : "warm");
	} else {
		argv[2] = "state";
		snprintf(w3, sizeof(w3), "%u", ev->group);
		snprintf(w4, sizeof(w4), "%s", tgt_alua_state_name(ev->state));
	}
	for (unsigned i = 0; i < a->npeers; i++)
		if (ctl_call(a->peers[i], 5, argv, out != NULL ? out : stdout) != 0)
			log_warn("alua: peer %s did not take the %s event",
				 a->peers[i], argv[2]);
	if (out != NULL)
		fclose(out);
}

static void *peer_thread(void *arg)
{
	struct serve_alua *a = arg;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (a->qlen == 0 && !a->stop)
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->qlen == 0)
			break;
		struct tgt_ha_event ev = a->q[a->qhead];

		a->qhead = (a->qhead + 1) % PEER_QUEUE;
		a->qlen--;
		pthread_mutex_unlock(&a->lock);
		peer_send(a, &ev);
		pthread_mutex_lock(&a->lock);
		a->delivered++;
		pthread_cond_broadcast(&a->cond);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

/* tgt_ha_ops.notify: queue for the peer thread, wait (bounded) until it
 * went out, so an initiator that saw the change here finds it there. */
static void peer_notify(void *arg, const struct tgt_ha_event *ev)
{
	struct serve_alua *a = arg;
	struct timespec ts;
	uint64_t mine;

	pthread_mutex_lock(&a->lock);
	if (a->qlen == PEER_QUEUE) {
		pthread_mutex_unlock(&a->lock);
		log_warn("alua: peer queue full; event not sent");
		return;
	}
	a->q[(a->qhead + a->qlen) % PEER_QUEUE] = *ev;
	a->qlen++;
	mine = ++a->queued;
	pthread_cond_broadcast(&a->cond);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += PEER_WAIT_MS / 1000;
	while (a->delivered < mine)
		if (pthread_cond_timedwait(&a->cond, &a->lock, &ts) != 0)
			break;
	pthread_mutex_unlock(&a->lock);
}

static struct tgt_ha_ops peer_ops;

static void *alua_create(struct serve_ctx *ctx)
{
	struct serve_alua *a = calloc(1, sizeof(*a));

	(void)ctx;
	if (a == NULL)
		return NULL;
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	return a;
}

static int alua_configure(void *arg, const char *key, const char *value,
			  char *err, size_t errlen)
{
	struct serve_alua *a = arg;

	if (strcmp(key, "alua-peer-ctl") == 0) {
		if (a->npeers == PEER_MAX || value[0] == '\0') {
			snprintf(err, errlen, "at most %d peers", PEER_MAX);
			return -1;
		}
		a->peers[a->npeers] = strdup(value);
		if (a->peers[a->npeers] == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		a->npeers++;
		return 0;
	}
	if (strcmp(key, "alua-group") == 0)
		return group_option(value, false, err, errlen);
	if (strcmp(key, "alua-peer") == 0)
		return group_option(value, true, err, errlen);
	if (strcmp(key, "alua-transition-time") == 0) {
		uint16_t s;

		if (strcmp(value, "0") == 0) {
			tgt_alua_transition_time_set(0);
			return 0;
		}
		if (parse_u16(value, strlen(value), &s) < 0 || s > 255) {
			snprintf(err, errlen, "seconds, 0..255");
			return -1;
		}
		tgt_alua_transition_time_set(s);
		return 0;
	}
	snprintf(err, errlen, "unknown option");
	return -1;
}

static int alua_start(void *arg, char *err, size_t errlen)
{
	struct serve_alua *a = arg;

	if (a->npeers == 0)
		return 0;
	if (pthread_create(&a->thread, NULL, peer_thread, a) != 0) {
		snprintf(err, errlen, "cannot start the peer thread");
		return -1;
	}
	a->running = true;
	/* The engine's shared state stays in memory; only events go out. */
	peer_ops = tgt_ha_mem_ops;
	peer_ops.notify = peer_notify;
	tgt_ha_ops_set(&peer_ops, a);
	return 0;
}

static void alua_stop(void *arg)
{
	struct serve_alua *a = arg;

	if (a->running) {
		tgt_ha_ops_set(NULL, NULL);
		pthread_mutex_lock(&a->lock);
		a->stop = true;
		pthread_cond_broadcast(&a->cond);
		pthread_mutex_unlock(&a->lock);
		pthread_join(a->thread, NULL);
	}
	for (unsigned i = 0; i < a->npeers; i++)
		free(a->peers[i]);
	pthread_cond_destroy(&a->cond);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* "alua event reset NAA warm|cold" / "alua event state GROUP STATE". */
static int alua_event(int argc, char **argv, FILE *out)
{
	struct tgt_ha_event ev;
	char *end;
	int rc;

	memset(&ev, 0, sizeof(ev));
	if (argc == 5 && strcmp(argv[2], "reset") == 0) {
		ev.kind = TGT_HA_LU_RESET;
		errno = 0;
		ev.naa = strtoull(argv[3], &end, 16);
		if (errno != 0 || *end != '\0' || end == argv[3] ||
		    (strcmp(argv[4], "warm") != 0 &&
		     strcmp(argv[4], "cold") != 0))
			goto out_usage;
		ev.power_on = argv[4][0] == 'c';
	} else if (argc == 5 && strcmp(argv[2], "state") == 0) {
		ev.kind = TGT_HA_ALUA_STATE;
		if (parse_u16(argv[3], strlen(argv[3]), &ev.group) < 0 ||
		    tgt_alua_state_parse(argv[4], &ev.state) < 0)
			goto out_usage;
	} else {
		goto out_usage;
	}
	rc = tgt_ha_event_apply(&ev);
	/* A reset of an LU this daemon does not export is nothing to do. */
	if (rc < 0 && !(rc == -ENOENT && ev.kind == TGT_HA_LU_RESET)) {
		fprintf(out, "event: %s", strerror(-rc));
		return -1;
	}
	return 0;
out_usage:
	fprintf(out, "usage: alua event reset NAA warm|cold | "
		     "alua event state GROUP STATE");
	return -1;
}

static void alua_list(bool json, FILE *out)
{
	struct tgt_alua_group_info gi[TGT_ALUA_MAX_GROUPS];
	unsigned i, j, n = tgt_alua_groups(gi, TGT_ALUA_MAX_GROUPS);

	if (n > TGT_ALUA_MAX_GROUPS)
		n = TGT_ALUA_MAX_GROUPS;
	if (json)
		fputc('[', out);
	for (i = 0; i < n; i++) {
		if (json) {
			fprintf(out, "%s\n {\"group\": %u, \"state\": ",
				i ? "," : "", gi[i].id);
			json_put_string(out, tgt_alua_state_name(gi[i].state));
			fprintf(out, ", \"peer\": %s, \"status\": %u, "
				"\"ports\": [", gi[i].peer ? "true" : "false",
				gi[i].status);
			for (j = 0; j < gi[i].nports; j++)
				fprintf(out, "%s%u", j ? ", " : "",
					gi[i].ports[j]);
			fputs("]}", out);
			continue;
		}
		fprintf(out, "group %u %s%s ports", gi[i].id,
			tgt_alua_state_name(gi[i].state),
			gi[i].peer ? " peer" : "");
		for (j = 0; j < gi[i].nports; j++)
			fprintf(out, "%s%u", j ? "," : " ", gi[i].ports[j]);
		fputc('\n', out);
	}
	if (json)
		fputs(n > 0 ? "\n]\n" : "]\n", out);
}

static int alua_ctl(void *arg, int argc, char **argv, FILE *out)
{
	char err[256];
	enum tgt_alua_state st;
	uint16_t id;
	int rc;

	(void)arg;
	if (argc >= 2 && strcmp(argv[1], "event") == 0)
		return alua_event(argc, argv, out);
	if (argc < 2 || strcmp(argv[1], "list") == 0) {
		alua_list(argc >= 3 && strcmp(argv[2], "--json") == 0, out);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "set") == 0) {
		if (parse_u16(argv[2], strlen(argv[2]), &id) < 0 ||
		    tgt_alua_state_parse(argv[3], &st) < 0) {
			fprintf(out, "usage: alua set GROUP STATE");
			return -1;
		}
		rc = tgt_alua_state_set(id, st);
		if (rc < 0) {
			fprintf(out, "group %u: %s", id,
				rc == -ENOENT ? "no such group" :
						strerror(-rc));
			return -1;
		}
		return 0;
	}
	if ((argc == 4 || argc == 5) &&
	    (strcmp(argv[1], "add-group") == 0 ||
	     strcmp(argv[1], "add-peer") == 0)) {
		if (group_add(argv[2], argv[3], argc == 5 ? argv[4] : NULL,
			      argv[1][4] == 'p', err, sizeof(err)) < 0) {
			fprintf(out, "%s", err);
			return -1;
		}
		return 0;
	}
	fprintf(out, "usage: alua list [--json] | alua set GROUP STATE | "
		     "alua add-group ID STATE [RTPI,...] | "
		     "alua add-peer ID STATE RTPI,...");
	return -1;
}

const struct serve_frontend serve_frontend_alua = {
	.name = "alua",
	.usage =
"  --alua-group ID:STATE[:RTPI,...]  a target port group of this daemon\n"
"                            with its relative ports (an iSCSI portal\n"
"                            group TAG is port TAG); STATE is\n"
"                            active/optimized (ao), active/non-optimized\n"
"                            (an), standby, unavailable or transitioning\n"
"  --alua-peer ID:STATE:RTPI,...  a group served by another daemon for\n"
"                            the same LUs (reported by RTPG)\n"
"  --alua-transition-time S  RTPG implicit transition time (0)\n"
"  --alua-peer-ctl PATH      control socket of a daemon on this host\n"
"                            serving the same LUs: state changes and LU\n"
"                            resets made here are sent to it\n",
	.create = alua_create,
	.configure = alua_configure,
	.start = alua_start,
	.stop = alua_stop,
	.ctl = alua_ctl,
};

/* ---- LU identity keys of disk specs ---- */

/* Parse hex digits [s, s+len) into *v. */
static int parse_hex64(const char *s, size_t len, uint64_t *v)
{
	size_t i;

	*v = 0;
	if (len == 0 || len > 16)
		return -1;
	for (i = 0; i < len; i++) {
		char ch = s[i];
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return -1;
		*v = (*v << 4) | d;
	}
	return 0;
}

/* wwn=[naa.]HEX: 16 hex digits (NAA 6 high half, the low half derived
 * from the serial) or 32 (the whole designator). */
static int parse_wwn(const char *v, uint64_t *hi, uint64_t *lo)
{
	size_t n;

	if (strncmp(v, "naa.", 4) == 0 || strncmp(v, "0x", 2) == 0)
		v += v[0] == 'n' ? 4 : 2;
	n = strlen(v);
	*lo = 0;
	if (n == 16)
		return parse_hex64(v, 16, hi);
	if (n == 32)
		return parse_hex64(v, 16, hi) < 0 ? -1 :
		       parse_hex64(v + 16, 16, lo);
	return -1;
}

int serve_disk_identity(const char *name, char *spec, char *err,
			size_t errlen)
{
	char *out = spec, *p = spec;
	char serial[65] = "", wwn[40] = "";
	bool has_serial = false, has_wwn = false;
	uint64_t hi = 0, lo = 0;
	int rc;

	/* Take serial=... and wwn=... out of the comma list (copied before
	 * the rest moves over them), keep the rest for the bdev. */
	while (p != NULL && *p != '\0') {
		char *c = strchr(p, ',');
		size_t len = c != NULL ? (size_t)(c - p) : strlen(p);

		if (len > 7 && strncmp(p, "serial=", 7) == 0) {
			if (len - 7 >= sizeof(serial)) {
				snprintf(err, errlen, "serial longer than 64");
				return -1;
			}
			memcpy(serial, p + 7, len - 7);
			serial[len - 7] = '\0';
			has_serial = true;
		} else if (len > 4 && strncmp(p, "wwn=", 4) == 0) {
			if (len - 4 >= sizeof(wwn) ||
			    (memcpy(wwn, p + 4, len - 4), wwn[len - 4] = '\0',
			     parse_wwn(wwn, &hi, &lo) < 0) ||
			    (hi >> 60) != 6) {
				snprintf(err, errlen, "wwn: 16 or 32 hex digits "
					 "of an NAA 6 identifier (naa.6...)");
				return -1;
			}
			has_wwn = true;
		} else {
			if (out != spec)
				*out++ = ',';
			memmove(out, p, len);
			out += len;
		}
		p = c != NULL ? c + 1 : NULL;
	}
	*out = '\0';
	if (!has_serial && !has_wwn)
		return 0;
	rc = tgt_lun_identity_set(name, has_serial ? serial : NULL, hi, lo);
	if (rc < 0) {
		snprintf(err, errlen, "identity: %s", strerror(-rc));
		return -1;
	}
	return 0;
}
