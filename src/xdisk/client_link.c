/*
 * The xdisk client's links and public face: connecting to the servers of
 * an attach (and reconnecting after a loss with a doubling back-off), the
 * LNK_CONN exchange, handing spans to the disks (client.c), attach and
 * detach, and the listings of the control socket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <scsikit/linkfault.h>
#include <scsikit/bdev.h>
#include <scsikit/dmsg.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/xdisk.h>

#include "util/json.h"
#include "xdisk/client_int.h"
#include "xdisk/xdisk_int.h"

static void xl_connect(struct xa_link *l);

/* ---- links -------------------------------------------------------------- */

static void xl_conn_handler(struct dmsg_state *st, struct dmsg_msg *m,
			    void *arg)
{
	struct xa_link *l = arg;

	if (m->hdr.cmd & DMSGF_DELETE) {
		l->conn_st = NULL;
		if (m->hdr.error != DMSG_ERR_LOSTLINK && l->io)
			dmsg_iocom_fail(l->io, -ECONNRESET);
		return;
	}
	if ((m->hdr.cmd & DMSGF_CREATE) && m->hdr.error == 0) {
		l->backoff_ms = 0; /* a working link resets the back-off */
	}
}

static void xl_rcvmsg(struct dmsg_iocom *io, struct dmsg_state *st,
		      struct dmsg_msg *m, void *arg)
{
	struct xa_link *l = arg;

	if (!st)
		return;
	switch (m->hdr.cmd & DMSGF_BASECMDMASK) {
	case DMSG_LNK_CONN:
		dmsg_state_ack(st, 0);
		return;
	case DMSG_LNK_SPAN:
		xa_span_new(l, st, m);
		return;
	default:
		dmsg_state_reply(st, DMSG_ERR_NOSUPP);
		return;
	}
}

static void xl_retry(struct ev_timer *t, void *arg)
{
	struct xa_link *l = arg;

	ev_timer_del(t);
	l->retry = NULL;
	if (l->state == XL_WAIT)
		xl_connect(l);
}

static void xl_schedule(struct xa_link *l)
{
	struct xdisk_client *cl = l->cl;

	if (l->state == XL_DETACHED)
		return;
	l->state = XL_WAIT;
	if (!l->backoff_ms)
		l->backoff_ms = cl->opts.backoff_min_ms;
	else if (l->backoff_ms < cl->opts.backoff_max_ms)
		l->backoff_ms *= 2;
	if (l->backoff_ms > cl->opts.backoff_max_ms)
		l->backoff_ms = cl->opts.backoff_max_ms;
	if (l->retry)
		ev_timer_del(l->retry);
	l->retry = ev_timer_add(cl->loop, l->backoff_ms, false, xl_retry, l);
}

static void xl_lost(struct dmsg_iocom *io, int err, void *arg)
{
	struct xa_link *l = arg;

	log_info("xdisk: link to %s lost (%s)", l->addr,
		 err ? strerror(-err) : "closed by peer");
	l->losses++;
	l->io = NULL;
	l->conn_st = NULL;
	dmsg_iocom_destroy(io);
	xl_schedule(l);
}

static const struct dmsg_iocom_ops xl_iocom_ops = {
	.rcvmsg = xl_rcvmsg,
	.lost = xl_lost,
};

static void xl_up(struct xa_link *l, int fd)
{
	struct xdisk_client *cl = l->cl;
	struct dmsg_iocom_opts o;
	struct dmsg_lnk_conn body;
	char name[160];

	/* A link fault rule may put a relay between us and the server. */
	fd = sk_link_fault_wrap(fd, SK_LINK_XDISK_CLIENT,
				(const struct sockaddr *)&l->ss, l->sl);
	memset(&o, 0, sizeof(o));
	o.ping_ms = cl->opts.ping_ms;
	o.timeout_ms = cl->opts.timeout_ms;
	snprintf(name, sizeof(name), "xa->%s", l->addr);
	o.name = name;
	l->io = dmsg_iocom_create(cl->loop, fd, &xl_iocom_ops, l, &o);
	if (!l->io) {
		close(fd);
		xl_schedule(l);
		return;
	}
	l->state = XL_UP;
	l->connects++;
	memset(&body, 0, sizeof(body));
	body.peer_type = DMSG_PEER_BLOCK;
	body.pfs_type = DMSG_PFSTYPE_CLIENT;
	body.proto_version = 1;
	body.peer_mask = 1ull << DMSG_PEER_BLOCK;
	body.pfs_mask = 1ull << DMSG_PFSTYPE_SERVER;
	snprintf(body.cl_label, sizeof(body.cl_label), "%s", cl->host);
	l->conn_st = dmsg_state_open(l->io, NULL, DMSG_LNK_CONN, &body,
				     sizeof(body), NULL, 0, xl_conn_handler, l);
	if (!l->conn_st)
		dmsg_iocom_fail(l->io, -ENOTCONN);
	log_info("xdisk: connected to %s", l->addr);
}

static void xl_connected(struct ev_io *w, int fd, uint32_t events, void *arg)
{
	struct xa_link *l = arg;
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	ev_io_del(w);
	l->cwatch = NULL;
	l->cfd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		log_debug("xdisk: connect to %s: %s", l->addr,
			  strerror(soerr));
		close(fd);
		xl_schedule(l);
		return;
	}
	xl_up(l, fd);
}

static void xl_connect(struct xa_link *l)
{
	int fd = xd_connect_start(&l->ss, l->sl);

	l->state = XL_CONNECTING;
	if (fd < 0) {
		xl_schedule(l);
		return;
	}
	l->cfd = fd;
	l->cwatch = ev_io_add(l->cl->loop, fd, EV_WRITE, xl_connected, l);
	if (!l->cwatch) {
		close(fd);
		l->cfd = -1;
		xl_schedule(l);
	}
}

static void xl_destroy(struct xa_link *l)
{
	l->state = XL_DETACHED;
	if (l->retry)
		ev_timer_del(l->retry);
	if (l->cwatch)
		ev_io_del(l->cwatch);
	if (l->cfd >= 0)
		close(l->cfd);
	if (l->io) {
		struct dmsg_iocom *io = l->io;

		l->io = NULL;
		dmsg_iocom_destroy(io); /* ends spans: paths go */
	}
	free(l);
}

/* ---- public ------------------------------------------------------------- */

struct xdisk_client *xdisk_client_create(struct ev_loop *loop,
					 const struct xdisk_client_opts *o)
{
	struct xdisk_client *cl = calloc(1, sizeof(*cl));

	if (!cl)
		return NULL;
	cl->loop = loop;
	if (o)
		cl->opts = *o;
	snprintf(cl->host, sizeof(cl->host), "%s",
		 o && o->host ? o->host : "scsikit");
	cl->opts.host = NULL;
	if (!cl->opts.backoff_min_ms)
		cl->opts.backoff_min_ms = 100;
	if (!cl->opts.backoff_max_ms)
		cl->opts.backoff_max_ms = 5000;
	if (cl->opts.backoff_max_ms < cl->opts.backoff_min_ms)
		cl->opts.backoff_max_ms = cl->opts.backoff_min_ms;
	cl->next_id = cl->opts.attach_id_first ? (int)cl->opts.attach_id_first
					       : 1;
	if (!cl->opts.attach_id_step)
		cl->opts.attach_id_step = 1;
	/* Names this client instance in its BLK_OPENs, so that a server
	 * can tell its newest open of a disk from an older one (fencing). */
	if (getrandom(&cl->fence_id, sizeof(cl->fence_id), 0) !=
	    (ssize_t)sizeof(cl->fence_id))
		cl->fence_id = ev_now_ns() ^ ((uint64_t)getpid() << 32);
	if (!cl->fence_id)
		cl->fence_id = 1;
	return cl;
}

int xdisk_client_attach(struct xdisk_client *cl, const char *url, char *err,
			size_t errlen)
{
	const char *p;
	char *copy, *tok, *save = NULL;
	struct xa_attach *at;
	struct xa_link *links = NULL, **tail = &links;
	bool failfast = false;

	if (strncmp(url, "xdisk://", 8) != 0) {
		snprintf(err, errlen, "not an xdisk URL: %s", url);
		return -1;
	}
	p = url + 8;
	copy = strdup(p);
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ",/", &save); tok;
	     tok = strtok_r(NULL, ",/", &save)) {
		struct xa_link *l;

		if (strcmp(tok, "failfast") == 0) {
			failfast = true;
			continue;
		}
		l = calloc(1, sizeof(*l));
		if (!l)
			goto out_nomem;
		l->cl = cl;
		l->cfd = -1;
		snprintf(l->addr, sizeof(l->addr), "%s", tok);
		if (xd_addr_parse(tok, &l->ss, &l->sl, err, errlen) < 0) {
			free(l);
			goto out_free;
		}
		*tail = l;
		tail = &l->next;
	}
	if (!links) {
		snprintf(err, errlen, "no server in %s", url);
		goto out_free;
	}
	at = calloc(1, sizeof(*at));
	if (!at)
		goto out_nomem;
	at->id = cl->next_id;
	cl->next_id += (int)cl->opts.attach_id_step;
	at->failfast = failfast;
	snprintf(at->url, sizeof(at->url), "%s", url);
	at->links = links;
	at->next = cl->attaches;
	cl->attaches = at;
	free(copy);
	for (struct xa_link *l = links; l; l = l->next) {
		l->at = at;
		xl_connect(l);
	}
	log_info("xdisk: attach %d: %s", at->id, url);
	return at->id;

out_nomem:
	snprintf(err, errlen, "out of memory");
out_free:
	while (links) {
		struct xa_link *l = links;

		links = l->next;
		free(l);
	}
	free(copy);
	return -1;
}

int xdisk_client_detach(struct xdisk_client *cl, int id)
{
	struct xa_attach **pp = &cl->attaches;
	bool found = false;

	while (*pp) {
		struct xa_attach *at = *pp;

		if (id && at->id != id) {
			pp = &at->next;
			continue;
		}
		found = true;
		*pp = at->next;
		/* I/O the links' teardown ends goes back to the queues; the
		 * disks that lose their last path fail it below. */
		while (at->links) {
			struct xa_link *l = at->links;

			at->links = l->next;
			xl_destroy(l);
		}
		for (struct xa_disk *d = cl->disks, *nx; d; d = nx) {
			nx = d->next;
			if (d->owner != at->id)
				continue;
			if (d->npaths) {
				/* Another attach still reaches it. */
				struct xa_path *p = d->paths;

				d->owner = p->link->at->id;
				d->failfast = p->link->at->failfast;
				continue;
			}
			xa_disk_remove(cl, d);
		}
		log_info("xdisk: detached %d (%s)", at->id, at->url);
		free(at);
	}
	return found ? 0 : -ENOENT;
}

struct bdev *xdisk_client_get_disk(struct xdisk_client *cl, const char *name)
{
	for (struct xa_disk *d = cl->disks; d; d = d->next)
		if (strcmp(d->name, name) == 0 || strcmp(d->label, name) == 0)
			return bdev_hold(d->bd);
	return NULL;
}

unsigned xdisk_client_ndisks(const struct xdisk_client *cl)
{
	unsigned n = 0;

	for (struct xa_disk *d = cl->disks; d; d = d->next)
		n++;
	return n;
}

bool xdisk_client_disk_ready(struct xdisk_client *cl, const char *name)
{
	for (struct xa_disk *d = cl->disks; d; d = d->next)
		if (strcmp(d->name, name) == 0 || strcmp(d->label, name) == 0)
			return d->ostate == XA_OPEN;
	return false;
}

static const char *xl_state_name(enum xl_state s)
{
	static const char *const names[] = {
		[XL_WAIT] = "waiting",
		[XL_CONNECTING] = "connecting",
		[XL_UP] = "up",
		[XL_DETACHED] = "detached",
	};

	return names[s];
}

void xdisk_client_list(struct xdisk_client *cl, FILE *out)
{
	for (struct xa_attach *at = cl->attaches; at; at = at->next) {
		fprintf(out, "attach %d %s%s\n", at->id, at->url,
			at->failfast ? " failfast" : "");
		for (struct xa_link *l = at->links; l; l = l->next)
			fprintf(out, "  link %s %s connects %llu losses %llu\n",
				l->addr, xl_state_name(l->state),
				(unsigned long long)l->connects,
				(unsigned long long)l->losses);
	}
	for (struct xa_disk *d = cl->disks; d; d = d->next) {
		fprintf(out, "disk %s label %s size %llu block %u state %s "
			"paths %u%s\n", d->name, d->label,
			(unsigned long long)d->bytes, d->blksize,
			xa_ostate_name(d->ostate), d->npaths,
			d->failfast ? " failfast" : "");
		for (struct xa_path *p = d->paths; p; p = p->next)
			fprintf(out, "  path %s via %s%s%s\n", p->cl_label,
				p->link->addr, p == d->open_path ? " active" : "",
				p->broken ? " broken" : "");
	}
}

void xdisk_client_list_json(struct xdisk_client *cl, FILE *out)
{
	fputs("{\"attaches\": [", out);
	for (struct xa_attach *at = cl->attaches; at; at = at->next) {
		fprintf(out, "%s{\"id\": %d, \"url\": ",
			at == cl->attaches ? "" : ", ", at->id);
		sk_json_str(out, at->url);
		fprintf(out, ", \"failfast\": %s, \"links\": [",
			at->failfast ? "true" : "false");
		for (struct xa_link *l = at->links; l; l = l->next) {
			fputs(l == at->links ? "{\"addr\": " : ", {\"addr\": ",
			      out);
			sk_json_str(out, l->addr);
			fprintf(out, ", \"state\": \"%s\", \"connects\": %llu, "
				     "\"losses\": %llu}",
				xl_state_name(l->state),
				(unsigned long long)l->connects,
				(unsigned long long)l->losses);
		}
		fputs("]}", out);
	}
	fputs("], \"disks\": [", out);
	for (struct xa_disk *d = cl->disks; d; d = d->next) {
		fputs(d == cl->disks ? "{\"name\": " : ", {\"name\": ", out);
		sk_json_str(out, d->name);
		fputs(", \"label\": ", out);
		sk_json_str(out, d->label);
		fprintf(out, ", \"size\": %llu, \"block_size\": %u, "
			     "\"state\": \"%s\", \"failfast\": %s, \"paths\": [",
			(unsigned long long)d->bytes, d->blksize,
			xa_ostate_name(d->ostate),
			d->failfast ? "true" : "false");
		for (struct xa_path *p = d->paths; p; p = p->next) {
			fputs(p == d->paths ? "{\"label\": " : ", {\"label\": ",
			      out);
			sk_json_str(out, p->cl_label);
			fputs(", \"via\": ", out);
			sk_json_str(out, p->link->addr);
			fprintf(out, ", \"active\": %s, \"broken\": %s}",
				p == d->open_path ? "true" : "false",
				p->broken ? "true" : "false");
		}
		fputs("]}", out);
	}
	fputs("]}", out);
}

void xdisk_client_stats(struct xdisk_client *cl, FILE *out)
{
	for (struct xa_disk *d = cl->disks; d; d = d->next) {
		struct bdev_stats st;
		uint64_t ops = 0, bytes = 0;

		bdev_get_stats(d->bd, &st);
		for (int i = 0; i < BDEV_IO_TYPE_COUNT; i++) {
			ops += st.ops[i];
			bytes += st.bytes[i];
		}
		fprintf(out,
			"%s in-flight %llu tags-busy %u queued %u ops %llu "
			"reads %llu writes %llu flushes %llu bytes %llu "
			"read-bytes %llu write-bytes %llu errors %llu "
			"last-offset %llu requeues %llu opens %llu "
			"failovers %llu server-errors %llu resid-bytes %llu "
			"open-refusals %llu\n",
			d->name, (unsigned long long)st.in_flight, d->busytags,
			d->qlen, (unsigned long long)ops,
			(unsigned long long)st.ops[BDEV_IO_READ],
			(unsigned long long)st.ops[BDEV_IO_WRITE],
			(unsigned long long)st.ops[BDEV_IO_FLUSH],
			(unsigned long long)bytes,
			(unsigned long long)st.bytes[BDEV_IO_READ],
			(unsigned long long)st.bytes[BDEV_IO_WRITE],
			(unsigned long long)st.errors,
			(unsigned long long)st.last_offset,
			(unsigned long long)d->requeues,
			(unsigned long long)d->opens,
			(unsigned long long)d->failovers,
			(unsigned long long)d->io_errors,
			(unsigned long long)d->resid_bytes,
			(unsigned long long)d->open_refusals);
	}
	if (cl->bad_spans)
		fprintf(out, "refused-spans %llu\n",
			(unsigned long long)cl->bad_spans);
}

void xdisk_client_destroy(struct xdisk_client *cl)
{
	xdisk_client_detach(cl, 0);
	while (cl->disks)
		xa_disk_remove(cl, cl->disks);
	free(cl);
}
