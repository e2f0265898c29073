/*
 * The xdisk server's fence table and its listings for the control socket.
 * Both walk every link of the server, whose links live on several
 * reactors: they run under srv->lock (server_int.h).
 */
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/dmsg.h>
#include <scsikit/xdisk.h>

#include "util/json.h"
#include "xdisk/server_int.h"

/* Fencing (docs/dmsg.md): a BLK_OPEN carrying a client's fence_id and a
 * generation older than (or as old as) the newest that client opened the
 * disk with is refused; a newer one supersedes the client's older opens of
 * the disk on every link, whose I/O is refused from then on.  So writes a
 * cut-off link still delivers after the client reopened are never applied.
 * The table and the opens of every link are walked under srv->lock (links
 * live on several reactors).  false: refuse the open. */
bool xs_fence_check_locked(struct xdisk_server *srv, struct bdev *bd,
			   uint64_t id, uint64_t gen)
{
	const char *disk = bdev_name(bd);
	struct xs_fence *f = NULL;

	if (!id)
		return true; /* a client that does not fence */
	if (!srv->fences) {
		srv->fences = calloc(XS_MAX_FENCES, sizeof(*srv->fences));
		if (!srv->fences)
			return false;
	}
	for (unsigned i = 0; i < srv->nfences && !f; i++)
		if (srv->fences[i].id == id &&
		    strcmp(srv->fences[i].disk, disk) == 0)
			f = &srv->fences[i];
	if (f && gen <= f->gen) {
		__atomic_add_fetch(&srv->fenced_opens, 1, __ATOMIC_RELAXED);
		return false;
	}
	if (!f && srv->nfences < XS_MAX_FENCES) {
		f = &srv->fences[srv->nfences++];
	} else if (!f) {
		f = &srv->fences[0];
		for (unsigned i = 1; i < srv->nfences; i++)
			if (srv->fences[i].stamp < f->stamp)
				f = &srv->fences[i];
	}
	snprintf(f->disk, sizeof(f->disk), "%s", disk);
	f->id = id;
	f->gen = gen;
	f->stamp = ++srv->fence_stamp;
	for (struct xs_conn *c = srv->conns; c; c = c->next)
		for (struct xs_span *sp = c->spans; sp; sp = sp->next) {
			if (strcmp(bdev_name(sp->bd), disk) != 0)
				continue;
			for (struct xs_open *o = sp->opens; o; o = o->next)
				if (o->fence_id == id && o->fence_gen < gen)
					__atomic_store_n(&o->fenced, true,
							 __ATOMIC_RELAXED);
		}
	return true;
}

/* The link's counters; zeroes before its reactor started it. */
static void xs_conn_stats(const struct xs_conn *c, struct dmsg_iocom_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (c->io)
		dmsg_iocom_get_stats(c->io, st);
}

static const char *xs_state_name(const struct xs_conn *c)
{
	return c->state == XS_READY ? "ready" : "handshake";
}

void xdisk_server_list(struct xdisk_server *srv, FILE *out)
{
	pthread_mutex_lock(&srv->lock);
	if (srv->port >= 0)
		fprintf(out, "server port %d\n", srv->port);
	if (srv->nfences)
		fprintf(out, "fences %u stale-opens %llu fenced-ios %llu\n",
			srv->nfences,
			(unsigned long long)__atomic_load_n(&srv->fenced_opens,
							    __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&srv->fenced_ios,
							    __ATOMIC_RELAXED));
	for (struct xs_conn *c = srv->conns; c; c = c->next) {
		struct dmsg_iocom_stats st;

		xs_conn_stats(c, &st);
		fprintf(out, "link %s state %s msgs-in %llu msgs-out %llu "
			"proto-errors %llu reactor %u\n", c->peer,
			xs_state_name(c), (unsigned long long)st.msgs_in,
			(unsigned long long)st.msgs_out,
			(unsigned long long)st.proto_errors, c->reactor);
		for (struct xs_span *sp = c->spans; sp; sp = sp->next) {
			unsigned nopen = 0;

			for (struct xs_open *o = sp->opens; o; o = o->next)
				nopen++;
			fprintf(out, "  span %s label %s inflight %u opens %u%s\n",
				bdev_name(sp->bd),
				xs_serial_of(srv, bdev_name(sp->bd)),
				__atomic_load_n(&sp->inflight, __ATOMIC_RELAXED),
				nopen, sp->withdrawing ? " withdrawing" : "");
		}
	}
	pthread_mutex_unlock(&srv->lock);
}

void xdisk_server_list_json(struct xdisk_server *srv, FILE *out)
{
	pthread_mutex_lock(&srv->lock);
	fprintf(out, "{\"port\": %d, \"links\": [", srv->port);
	for (struct xs_conn *c = srv->conns; c; c = c->next) {
		struct dmsg_iocom_stats st;

		xs_conn_stats(c, &st);
		fputs(c == srv->conns ? "{\"peer\": " : ", {\"peer\": ", out);
		sk_json_str(out, c->peer);
		fprintf(out, ", \"state\": \"%s\", \"reactor\": %u, "
			     "\"msgs_in\": %llu, \"msgs_out\": %llu, "
			     "\"proto_errors\": %llu, \"spans\": [",
			xs_state_name(c), c->reactor,
			(unsigned long long)st.msgs_in,
			(unsigned long long)st.msgs_out,
			(unsigned long long)st.proto_errors);
		for (struct xs_span *sp = c->spans; sp; sp = sp->next) {
			fputs(sp == c->spans ? "{\"disk\": " : ", {\"disk\": ",
			      out);
			sk_json_str(out, bdev_name(sp->bd));
			fputs(", \"label\": ", out);
			sk_json_str(out, xs_serial_of(srv, bdev_name(sp->bd)));
			fprintf(out, ", \"inflight\": %u, \"withdrawing\": %s}",
				__atomic_load_n(&sp->inflight, __ATOMIC_RELAXED),
				sp->withdrawing ? "true" : "false");
		}
		fputs("]}", out);
	}
	fputs("]}", out);
	pthread_mutex_unlock(&srv->lock);
}
