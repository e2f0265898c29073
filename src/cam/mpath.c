/*
 * Multipath: one bdev over several paths to one logical unit, each path a
 * da disk on its own CAM bus (an iSCSI session to another portal or
 * gateway, a loop or vscsi bus), after FreeBSD's gmultipath, which also
 * sits on disks rather than in the transport.
 *
 * Path choice: every path has a priority (lower first: the caller derives
 * it from REPORT TARGET PORT GROUPS, active/optimized before
 * active/non-optimized); among the healthy paths of the best priority,
 * the failover policy takes the first added, round-robin rotates.
 *
 * Failure: an I/O that ends with a transport or path error (-EIO, -ENXIO,
 * -ETIMEDOUT, -ECANCELED, -ENODEV: a dead session past its replacement
 * timeout, or the NOT READY an ALUA standby / unavailable port answers)
 * marks its path failed and is submitted again on another path -- never
 * completed twice, since the child I/O has completed.  Errors that are the
 * LU's answer (-EINVAL, -EROFS, -EILSEQ, -EBUSY, -ENOSPC, -ENOTSUP) are
 * the I/O's result.  With no healthy path left an I/O waits, and fails
 * -EIO after the no-path timeout.
 *
 * Recovery: a timer on the multipath's loop probes each failed path with a
 * one-block READ every MP_PROBE_MS; when it succeeds the path is healthy
 * again (failback, by priority) and waiting I/O is resubmitted.
 *
 * ALUA: for a path whose SCSI address and target port group are known
 * (cam_mpath_path_scsi), REPORT TARGET PORT GROUPS is read again every
 * MP_RTPG_MS and right after any path failure, and the path's priority
 * follows its group's state; an answer that is malformed or does not name
 * the group marks the path failed (logged).  Unit attentions are retried
 * by CAM below this layer, so the periodic read is what notices an
 * ASYMMETRIC ACCESS STATE CHANGED that left every path usable.
 *
 * Threads: I/O runs on its submitter's loop (each child I/O completes
 * there); path states are atomics; the wait list is under a mutex and
 * drained by posting each I/O back to its loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#define MP_PROBE_MS 100
#define MP_RTPG_MS 1000
#define MP_RTPG_LEN 1024

struct mp_path {
	struct bdev *bd;		/* held */
	char label[64];
	atomic_int prio;
	atomic_bool failed;
	/* ALUA (cam_mpath_path_scsi): where to send RTPG, the port group. */
	bool scsi;
	uint32_t path_id, target;
	uint64_t lun;
	uint16_t tpg;
	atomic_bool rtpg_busy;
	uint8_t *rtpg_buf;
	atomic_bool probing;
	_Atomic uint64_t ios, errors, failovers;
	struct bdev_io probe;		/* on the multipath loop */
	void *probe_buf;
	struct iovec probe_iov;
	struct mpath *m;
};

struct mp_req {
	struct bdev_io child;
	struct bdev_io *parent;
	struct mpath *m;
	unsigned path;
	uint32_t tried;			/* paths tried since the last wait */
	uint64_t wait_since_ms;
	struct mp_req *next;		/* in m->waiting */
};

struct mpath {
	struct bdev *bd;
	struct mpath *gnext;		/* mp_all, under mp_all_lock */
	struct ev_loop *loop;		/* probes and the timer */
	struct ev_timer *timer;
	enum cam_mpath_policy policy;
	uint32_t nopath_ms;
	struct mp_path paths[CAM_MPATH_MAX_PATHS];
	atomic_uint npaths;
	atomic_uint rr;
	pthread_mutex_t lock;		/* waiting, path adds */
	struct mp_req *waiting;
	_Atomic uint64_t switches;
	atomic_bool rtpg_due;		/* re-read RTPG at the next tick */
	uint64_t rtpg_last_ms;
};

static const struct bdev_ops mp_ops;

/* Every multipath bdev, for listings (cam devlist). */
static pthread_mutex_t mp_all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mpath *mp_all;

static bool mp_path_error(int err)
{
	return err == -EIO || err == -ENXIO || err == -ETIMEDOUT ||
	       err == -ECANCELED || err == -ENODEV || err == -ENOTCONN;
}

/* The path for the next try of r, or -1 when no healthy untried one. */
static int mp_pick(struct mpath *m, uint32_t tried)
{
	unsigned i, n = atomic_load(&m->npaths), best = 0, cnt = 0;
	int bestprio = 0;
	int pick = -1;

	for (i = 0; i < n; i++) {
		struct mp_path *p = &m->paths[i];

		if (atomic_load_explicit(&p->failed, memory_order_relaxed) ||
		    (tried & (1u << i)))
			continue;
		int prio = atomic_load_explicit(&p->prio,
						memory_order_relaxed);

		if (cnt == 0 || prio < bestprio) {
			bestprio = prio;
			cnt = 0;
		}
		if (prio == bestprio)
			cnt++;
	}
	if (cnt == 0)
		return -1;
	best = m->policy == CAM_MPATH_ROUND_ROBIN
		       ? atomic_fetch_add_explicit(&m->rr, 1,
						   memory_order_relaxed) % cnt
		       : 0;
	for (i = 0; i < n && pick < 0; i++) {
		struct mp_path *p = &m->paths[i];

		if (atomic_load_explicit(&p->failed, memory_order_relaxed) ||
		    (tried & (1u << i)) ||
		    atomic_load_explicit(&p->prio, memory_order_relaxed) !=
			    bestprio)
			continue;
		if (best-- == 0)
			pick = (int)i;
	}
	return pick;
}

static void mp_child_done(struct bdev_io *io, int status, void *arg);

/* Park r until a path comes back (or the no-path timeout). */
static void mp_wait(struct mp_req *r)
{
	struct mpath *m = r->m;

	r->tried = 0;
	if (r->wait_since_ms == 0)
		r->wait_since_ms = ev_now_ms();
	pthread_mutex_lock(&m->lock);
	r->next = m->waiting;
	m->waiting = r;
	pthread_mutex_unlock(&m->lock);
}

/* Start r on a path, or park it.  On the parent's loop. */
static void mp_start(struct mp_req *r)
{
	struct mpath *m = r->m;
	int i, rc;

	for (;;) {
		i = mp_pick(m, r->tried);
		if (i < 0) {
			mp_wait(r);
			return;
		}
		r->path = (unsigned)i;
		r->tried |= 1u << i;
		r->child = *r->parent;
		r->child.cb = mp_child_done;
		r->child.cb_arg = r;
		r->child.next = NULL;
		atomic_fetch_add_explicit(&m->paths[i].ios, 1,
					  memory_order_relaxed);
		rc = bdev_submit(m->paths[i].bd, &r->child);
		if (rc == 0)
			return;
		if (!mp_path_error(rc)) {
			bdev_io_complete_deferred(r->parent, rc);
			free(r);
			return;
		}
		atomic_store(&m->paths[i].failed, true);
	}
}

static void mp_path_fail(struct mpath *m, unsigned i, int err)
{
	struct mp_path *p = &m->paths[i];

	atomic_fetch_add_explicit(&p->errors, 1, memory_order_relaxed);
	atomic_store(&m->rtpg_due, true);
	if (!atomic_exchange(&p->failed, true)) {
		atomic_fetch_add(&p->failovers, 1);
		atomic_fetch_add(&m->switches, 1);
		log_warn("mpath %s: path %s failed (%s); failing over",
			 bdev_name(m->bd), p->label, strerror(-err));
	}
}

static void mp_child_done(struct bdev_io *io, int status, void *arg)
{
	struct mp_req *r = arg;

	(void)io;
	if (status == 0 || !mp_path_error(status)) {
		bdev_io_complete(r->parent, status);
		free(r);
		return;
	}
	mp_path_fail(r->m, r->path, status);
	mp_start(r);
}

static int mp_submit(struct bdev *bd, struct bdev_io *io)
{
	struct mpath *m = bdev_priv(bd);
	struct mp_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -ENOMEM;
	r->parent = io;
	r->m = m;
	mp_start(r);
	return 0;
}

/* ---- probes, failback, the wait list (on m->loop) ---- */

static void mp_resume(void *arg)
{
	mp_start(arg);
}

static void mp_fail_waiter(void *arg)
{
	struct mp_req *r = arg;

	bdev_io_complete(r->parent, -EIO);
	free(r);
}

static void mp_drain(struct mpath *m, bool any_healthy)
{
	struct mp_req *list, *r, *keep = NULL;
	uint64_t now = ev_now_ms();

	pthread_mutex_lock(&m->lock);
	list = m->waiting;
	m->waiting = NULL;
	pthread_mutex_unlock(&m->lock);
	while ((r = list) != NULL) {
		list = r->next;
		if (any_healthy) {
			r->wait_since_ms = 0;
			if (ev_loop_post(r->parent->loop, mp_resume, r) == 0)
				continue;
		} else if (m->nopath_ms != 0 &&
			   now - r->wait_since_ms >= m->nopath_ms) {
			if (ev_loop_post(r->parent->loop, mp_fail_waiter, r) == 0)
				continue;
		}
		r->next = keep;
		keep = r;
	}
	if (keep != NULL) {
		pthread_mutex_lock(&m->lock);
		for (r = keep; r->next != NULL; r = r->next)
			;
		r->next = m->waiting;
		m->waiting = keep;
		pthread_mutex_unlock(&m->lock);
	}
}

static void mp_probe_done(struct bdev_io *io, int status, void *arg)
{
	struct mp_path *p = arg;

	(void)io;
	if (status == 0 && atomic_exchange(&p->failed, false))
		log_info("mpath %s: path %s is back", bdev_name(p->m->bd),
			 p->label);
	atomic_store(&p->probing, false);
}

/* RTPG answer for path p (on its bus's loop). */
static void mp_rtpg_done(union ccb *ccb)
{
	struct mp_path *p = ccb->ccb_h.periph_priv[0];
	struct cam_rtpg_group g[32];
	uint32_t got;
	unsigned n = 0, i;
	int rc, prio = -1;

	if (cam_ccb_status(ccb->ccb_h.status) != CAM_REQ_CMP ||
	    ccb->csio.scsi_status != SCSI_STATUS_GOOD) {
		/* The path's own I/O will tell whether it is dead. */
		goto out;
	}
	got = ccb->csio.dxfer_len - ccb->csio.resid;
	rc = cam_rtpg_parse(p->rtpg_buf, got, g, 32, &n);
	for (i = 0; rc == 0 && i < n; i++)
		if (g[i].id == p->tpg)
			prio = g[i].state == 0 ? 0 : g[i].state == 1 ? 1 : 2;
	if (rc < 0 || prio < 0) {
		log_err("mpath %s: path %s: %s REPORT TARGET PORT GROUPS "
			"answer; path marked failed", bdev_name(p->m->bd),
			p->label, rc < 0 ? "malformed" :
			"port group missing from the");
		mp_path_fail(p->m, (unsigned)(p - p->m->paths), -EIO);
		goto out;
	}
	if (atomic_exchange(&p->prio, prio) != prio)
		log_info("mpath %s: path %s: priority %d (ALUA state %u)",
			 bdev_name(p->m->bd), p->label, prio, g[i - 1].state);
out:
	xpt_free_ccb(ccb);
	atomic_store(&p->rtpg_busy, false);
}

static void mp_rtpg_start(void *arg)
{
	struct mp_path *p = arg;
	uint8_t cdb[12] = { 0xa3, 0x0a, 0, 0, 0, 0, 0, 0,
			    MP_RTPG_LEN >> 8, MP_RTPG_LEN & 0xff, 0, 0 };
	union ccb *ccb = xpt_alloc_ccb();

	if (ccb == NULL) {
		atomic_store(&p->rtpg_busy, false);
		return;
	}
	xpt_setup_ccb(&ccb->ccb_h, p->path_id, p->target, p->lun,
		      XPT_SCSI_IO);
	cam_fill_csio(&ccb->csio, mp_rtpg_done, CAM_DIR_IN,
		      MSG_SIMPLE_Q_TAG, p->rtpg_buf, MP_RTPG_LEN,
		      SCSI_SENSE_MAX, cdb, sizeof(cdb), 5000);
	ccb->ccb_h.retry_count = 2;
	ccb->ccb_h.periph_priv[0] = p;
	xpt_action(ccb);
}

/* Ask every healthy ALUA path for REPORT TARGET PORT GROUPS. */
static void mp_rtpg_all(struct mpath *m)
{
	unsigned i, n = atomic_load(&m->npaths);

	for (i = 0; i < n; i++) {
		struct mp_path *p = &m->paths[i];
		struct ev_loop *bl;

		if (!p->scsi || atomic_load(&p->failed) ||
		    atomic_exchange(&p->rtpg_busy, true))
			continue;
		bl = xpt_bus_loop(p->path_id);
		if (bl == NULL || ev_loop_post(bl, mp_rtpg_start, p) < 0)
			atomic_store(&p->rtpg_busy, false);
	}
}

static void mp_timer_cb(struct ev_timer *t, void *arg)
{
	struct mpath *m = arg;
	unsigned i, n = atomic_load(&m->npaths);
	bool healthy = false;
	uint64_t now = ev_now_ms();

	(void)t;
	if (atomic_exchange(&m->rtpg_due, false) ||
	    now - m->rtpg_last_ms >= MP_RTPG_MS) {
		m->rtpg_last_ms = now;
		mp_rtpg_all(m);
	}
	for (i = 0; i < n; i++) {
		struct mp_path *p = &m->paths[i];

		if (!atomic_load(&p->failed)) {
			healthy = true;
			continue;
		}
		if (atomic_exchange(&p->probing, true))
			continue;
		memset(&p->probe, 0, sizeof(p->probe));
		p->probe.type = BDEV_IO_READ;
		p->probe.length = p->probe_iov.iov_len;
		p->probe.iov = &p->probe_iov;
		p->probe.iovcnt = 1;
		p->probe.loop = m->loop;
		p->probe.cb = mp_probe_done;
		p->probe.cb_arg = p;
		if (bdev_submit(p->bd, &p->probe) < 0)
			atomic_store(&p->probing, false);
	}
	mp_drain(m, healthy);
}

/* ---- the bdev ---- */

static void mp_destroy(struct bdev *bd)
{
	struct mpath *m = bdev_priv(bd), **pp;
	unsigned i, n = atomic_load(&m->npaths);

	pthread_mutex_lock(&mp_all_lock);
	for (pp = &mp_all; *pp != NULL; pp = &(*pp)->gnext)
		if (*pp == m) {
			*pp = m->gnext;
			break;
		}
	pthread_mutex_unlock(&mp_all_lock);
	for (i = 0; i < n; i++) {
		bdev_release(m->paths[i].bd);
		free(m->paths[i].probe_buf);
		free(m->paths[i].rtpg_buf);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static void mp_describe(struct bdev *bd, char *buf, size_t len)
{
	struct mpath *m = bdev_priv(bd);
	unsigned i, n = atomic_load(&m->npaths);
	size_t o = 0;

	o += (size_t)snprintf(buf, len, "multipath %s:",
			      m->policy == CAM_MPATH_ROUND_ROBIN ? "round-robin"
								 : "failover");
	for (i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, " %s%s",
				      m->paths[i].label,
				      atomic_load(&m->paths[i].failed)
					      ? "(failed)" : "");
}

static const struct bdev_ops mp_ops = {
	.name = "mpath",
	.submit = mp_submit,
	.destroy = mp_destroy,
	.describe = mp_describe,
};

struct bdev *cam_mpath_create(const char *name, struct bdev *first,
			      const char *label, int prio,
			      struct ev_loop *loop,
			      enum cam_mpath_policy policy, uint32_t nopath_ms)
{
	struct bdev_geometry geo = *bdev_geometry(first);
	struct mpath *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->loop = loop;
	m->policy = policy;
	m->nopath_ms = nopath_ms;
	pthread_mutex_init(&m->lock, NULL);
	/* One view of a shared LU: not every path shares one cache. */
	geo.multi_conn_safe = false;
	m->bd = bdev_alloc(&mp_ops, name, &geo, m);
	if (m->bd == NULL) {
		pthread_mutex_destroy(&m->lock);
		free(m);
		return NULL;
	}
	pthread_mutex_lock(&mp_all_lock);
	m->gnext = mp_all;
	mp_all = m;
	pthread_mutex_unlock(&mp_all_lock);
	if (cam_mpath_add_path(m->bd, first, label, prio) < 0) {
		bdev_release(m->bd);
		return NULL;
	}
	return m->bd;
}

int cam_mpath_add_path(struct bdev *bd, struct bdev *path, const char *label,
		       int prio)
{
	struct mpath *m = bdev_priv(bd);
	const struct bdev_geometry *g = bdev_geometry(path),
				   *mg = bdev_geometry(bd);
	struct mp_path *p;
	unsigned n;

	if (g->size != mg->size || g->lbsize != mg->lbsize)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	n = atomic_load(&m->npaths);
	if (n == CAM_MPATH_MAX_PATHS) {
		pthread_mutex_unlock(&m->lock);
		return -ENOSPC;
	}
	p = &m->paths[n];
	p->probe_buf = malloc(g->lbsize);
	if (p->probe_buf == NULL) {
		pthread_mutex_unlock(&m->lock);
		return -ENOMEM;
	}
	p->probe_iov.iov_base = p->probe_buf;
	p->probe_iov.iov_len = g->lbsize;
	p->bd = bdev_hold(path);
	/* A negative priority: known bad now; used last, once a probe
	 * succeeds. */
	atomic_store(&p->prio, prio < 0 ? 3 : prio);
	atomic_store(&p->failed, prio < 0);
	p->m = m;
	snprintf(p->label, sizeof(p->label), "%s", label);
	atomic_store_explicit(&m->npaths, n + 1, memory_order_release);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

unsigned cam_mpath_list(struct bdev **out, unsigned max)
{
	struct mpath *m;
	unsigned n = 0;

	pthread_mutex_lock(&mp_all_lock);
	for (m = mp_all; m != NULL; m = m->gnext) {
		if (n < max)
			out[n] = bdev_hold(m->bd);
		n++;
	}
	pthread_mutex_unlock(&mp_all_lock);
	return n;
}

int cam_mpath_path_scsi(struct bdev *bd, unsigned idx, uint32_t path_id,
			uint32_t target, uint64_t lun, uint16_t tpg)
{
	struct mpath *m = bdev_priv(bd);
	struct mp_path *p;

	if (idx >= atomic_load(&m->npaths) || tpg == 0)
		return -EINVAL;
	p = &m->paths[idx];
	if (p->scsi)
		return -EEXIST;
	p->rtpg_buf = calloc(1, MP_RTPG_LEN);
	if (p->rtpg_buf == NULL)
		return -ENOMEM;
	p->path_id = path_id;
	p->target = target;
	p->lun = lun;
	p->tpg = tpg;
	p->scsi = true;	/* read by the timer only after cam_mpath_start */
	return 0;
}

bool cam_mpath_is(const struct bdev *bd)
{
	return bdev_backend(bd) != NULL &&
	       strcmp(bdev_backend(bd), mp_ops.name) == 0;
}

int cam_mpath_start(struct bdev *bd)
{
	struct mpath *m = bdev_priv(bd);

	m->timer = ev_timer_add(m->loop, MP_PROBE_MS, true, mp_timer_cb, m);
	return m->timer != NULL ? 0 : -ENOMEM;
}

void cam_mpath_stop(struct bdev *bd)
{
	struct mpath *m = bdev_priv(bd);

	if (m->timer != NULL)
		ev_timer_del(m->timer);
	m->timer = NULL;
	/* Nothing resumes waiting I/O any more: fail it. */
	m->nopath_ms = 1;
	mp_drain(m, false);
}

unsigned cam_mpath_paths(struct bdev *bd, struct cam_mpath_path_info *out,
			 unsigned max)
{
	struct mpath *m = bdev_priv(bd);
	unsigned i, n = atomic_load_explicit(&m->npaths, memory_order_acquire);

	for (i = 0; i < n && i < max; i++) {
		struct mp_path *p = &m->paths[i];

		snprintf(out[i].label, sizeof(out[i].label), "%s", p->label);
		out[i].prio = atomic_load(&p->prio);
		out[i].failed = atomic_load(&p->failed);
		out[i].ios = atomic_load(&p->ios);
		out[i].errors = atomic_load(&p->errors);
		out[i].failovers = atomic_load(&p->failovers);
	}
	return n;
}

/* ---- REPORT TARGET PORT GROUPS data (SPC-4 6.27) ---- */

int cam_rtpg_parse(const uint8_t *buf, size_t len, struct cam_rtpg_group *out,
		   unsigned max, unsigned *count)
{
	size_t off, end;
	unsigned n = 0;

	*count = 0;
	if (len < 4)
		return -EINVAL;
	end = 4 + (size_t)scsi_get32(buf);	/* RETURN DATA LENGTH */
	/* Truncated by our allocation length, or a length that lies. */
	if (end > len)
		return -EINVAL;
	off = 4;
	if (end >= 8 && ((buf[4] >> 4) & 0x7) == 1)
		off = 8;			/* extended header */
	while (off < end) {
		unsigned ports;

		if (end - off < 8)
			return -EINVAL;
		ports = buf[off + 7];
		if (end - off - 8 < 4 * (size_t)ports)
			return -EINVAL;
		if (n == max)
			return -ENOSPC;
		out[n].id = scsi_get16(buf + off + 2);
		out[n].state = buf[off] & 0x0f;
		out[n].pref = buf[off] & 0x80;
		out[n].nports = (uint8_t)ports;
		n++;
		off += 8 + 4 * (size_t)ports;
	}
	*count = n;
	return 0;
}
