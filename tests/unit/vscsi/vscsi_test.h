/*
 * Helpers shared by the vscsi unit tests (header-only: every test_*.c is
 * its own executable).  The SIM's loop runs on a thread of its own; the
 * test thread plays the userland end (raw wire messages or the client
 * library) and starts CCBs on the loop through cam_sync_call().
 */
#ifndef SK_TEST_VSCSI_TEST_H
#define SK_TEST_VSCSI_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/vscsi.h>

#include "vscsi/sim_int.h"
#include "vscsi/vscsi_wire.h"

struct vt_env {
	struct ev_loop *loop;
	pthread_t thr;
	struct vscsi_sim *sim;
	struct vscsi_sim_params p;
	char dir[64];
	char path[108];
};

static void *vt_loop_main(void *arg)
{
	ev_loop_run(arg);
	return NULL;
}

static void vt_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

struct vt_create {
	struct vt_env *e;
	char err[256];
};

static void vt_create_fn(void *arg)
{
	struct vt_create *c = arg;

	c->e->sim = vscsi_sim_create(&c->e->p, c->e->loop, c->err,
				     sizeof(c->err));
}

/* Start a loop thread and a SIM on it (with a socket path if sock). */
static void vt_start(struct vt_env *e, bool sock)
{
	struct vt_create c = {.e = e};

	if (sock) {
		snprintf(e->dir, sizeof(e->dir), "/tmp/skvt.XXXXXX");
		assert_non_null(mkdtemp(e->dir));
		snprintf(e->path, sizeof(e->path), "%s/v.sock", e->dir);
		e->p.path = e->path;
	}
	e->loop = ev_loop_create();
	assert_non_null(e->loop);
	assert_int_equal(pthread_create(&e->thr, NULL, vt_loop_main, e->loop),
			 0);
	/* The loop belongs to its creator until the thread runs it. */
	for (int i = 0; i < 1000 && ev_loop_in_thread(e->loop); i++)
		vt_sleep_ms(1);
	assert_int_equal(cam_sync_call(e->loop, vt_create_fn, &c), 0);
	if (!e->sim)
		fail_msg("vscsi_sim_create: %s", c.err);
}

static void vt_destroy_fn(void *arg)
{
	vscsi_sim_destroy(arg);
}

static void vt_stop(struct vt_env *e)
{
	assert_int_equal(cam_sync_call(e->loop, vt_destroy_fn, e->sim), 0);
	/* Let deferred work (scan completions, frees) run. */
	vt_sleep_ms(20);
	ev_loop_stop(e->loop);
	pthread_join(e->thr, NULL);
	ev_loop_destroy(e->loop);
	if (e->dir[0])
		rmdir(e->dir);
}

struct vt_stats_call {
	struct vt_env *e;
	struct vscsi_sim_stats st;
};

static void vt_stats_fn(void *arg)
{
	struct vt_stats_call *c = arg;

	vscsi_sim_get_stats(c->e->sim, &c->st);
}

static struct vscsi_sim_stats vt_stats(struct vt_env *e)
{
	struct vt_stats_call c = {.e = e};

	assert_int_equal(cam_sync_call(e->loop, vt_stats_fn, &c), 0);
	return c.st;
}

/* Wait (bounded) until the SIM reaches state. */
static inline void vt_wait_state(struct vt_env *e, enum vscsi_sim_state st)
{
	for (int i = 0; i < 500; i++) {
		if (vt_stats(e).state == st)
			return;
		vt_sleep_ms(10);
	}
	fail_msg("SIM did not reach %s", vscsi_sim_state_name(st));
}

/* One CCB submitted asynchronously, completed on the loop. */
struct vt_io {
	struct vt_env *e;
	union ccb *ccb;
	atomic_int done;
	uint8_t data[256 * 1024];
};

static void vt_io_done(union ccb *ccb)
{
	struct vt_io *io = ccb->ccb_h.periph_priv[0];

	atomic_store(&io->done, 1);
}

static void vt_io_start(void *arg)
{
	struct vt_io *io = arg;

	xpt_action(io->ccb);
}

static struct vt_io *vt_submit_data(struct vt_env *e, uint32_t target,
				    uint64_t lun, const uint8_t *cdb,
				    uint8_t cdb_len, uint32_t dir,
				    uint32_t len, const void *init)
{
	struct vt_io *io = calloc(1, sizeof(*io));

	assert_non_null(io);
	assert_true(len <= sizeof(io->data));
	if (init)
		memcpy(io->data, init, len);
	io->e = e;
	io->ccb = xpt_alloc_ccb();
	xpt_setup_ccb(&io->ccb->ccb_h, (uint32_t)vscsi_sim_path_id(e->sim),
		      target, lun, XPT_SCSI_IO);
	cam_fill_csio(&io->ccb->csio, vt_io_done, dir, MSG_SIMPLE_Q_TAG,
		      len ? io->data : NULL, len, SCSI_SENSE_FIXED_LEN + 14,
		      cdb, cdb_len, 10000);
	io->ccb->ccb_h.periph_priv[0] = io;
	assert_int_equal(cam_sync_call(e->loop, vt_io_start, io), 0);
	return io;
}

static inline struct vt_io *vt_submit(struct vt_env *e, uint32_t target,
			       uint64_t lun, const uint8_t *cdb,
			       uint8_t cdb_len, uint32_t dir, uint32_t len)
{
	return vt_submit_data(e, target, lun, cdb, cdb_len, dir, len, NULL);
}

static uint32_t vt_wait_io(struct vt_io *io)
{
	for (int i = 0; i < 1000 && !atomic_load(&io->done); i++)
		vt_sleep_ms(5);
	assert_true(atomic_load(&io->done));
	return io->ccb->ccb_h.status;
}

static void vt_io_free(struct vt_io *io)
{
	xpt_free_ccb(io->ccb);
	free(io);
}

/* After the userland end closed: the SIM returns to CLOSED holding
 * nothing; then stop it. */
static inline void vt_finish(struct vt_env *e)
{
	vt_wait_state(e, VSCSI_S_CLOSED);
	assert_int_equal(vt_stats(e).held, 0);
	vt_stop(e);
}

/* Connect a socketpair to the SIM as its userland end; our end's fd. */
struct vt_attach {
	struct vscsi_sim *sim;
	int fd;
};

static void vt_attach_fn(void *arg)
{
	struct vt_attach *a = arg;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	assert_int_equal(vscsi_sim_attach_fd(a->sim, sv[0]), 0);
	a->fd = sv[1];
}

static inline int vt_attach(struct vt_env *e)
{
	struct vt_attach a = {.sim = e->sim, .fd = -1};

	assert_int_equal(cam_sync_call(e->loop, vt_attach_fn, &a), 0);
	return a.fd;
}

/* XPT_ABORT of victim, on the loop: the abort CCB's status. */
struct vt_abort {
	union ccb *victim;
	uint32_t status;
};

static void vt_abort_fn(void *arg)
{
	struct vt_abort *a = arg;
	union ccb ab;

	memset(&ab, 0, sizeof(ab));
	xpt_setup_ccb(&ab.ccb_h, a->victim->ccb_h.path_id,
		      a->victim->ccb_h.target_id, a->victim->ccb_h.target_lun,
		      XPT_ABORT);
	ab.cab.abort_ccb = a->victim;
	xpt_action(&ab);
	a->status = ab.ccb_h.status;
}

static inline uint32_t vt_abort(struct vt_env *e, union ccb *victim)
{
	struct vt_abort a = {.victim = victim};

	assert_int_equal(cam_sync_call(e->loop, vt_abort_fn, &a), 0);
	return a.status;
}

/* ---- raw wire helpers (the test as a hand-made userland end) ---- */

struct vt_msg {
	struct vscsi_hdr h;
	uint8_t body[512 * 1024];
	uint32_t blen;
};

/* Read one message from fd (bounded wait); false on EOF/timeout. */
static inline bool vt_recv(int fd, struct vt_msg *m, int timeout_ms)
{
	uint8_t hdr[VSCSI_HDR_LEN];
	size_t got = 0;
	uint8_t *dst = hdr;
	size_t want = VSCSI_HDR_LEN;

	for (int phase = 0; phase < 2; phase++) {
		got = 0;
		while (got < want) {
			struct pollfd pfd = {.fd = fd, .events = POLLIN};
			ssize_t n;

			if (poll(&pfd, 1, timeout_ms) <= 0)
				return false;
			n = recv(fd, dst + got, want - got, 0);
			if (n <= 0)
				return false;
			got += (size_t)n;
		}
		if (phase == 0) {
			m->h.len = vscsi_get32(hdr);
			m->h.type = hdr[4];
			m->h.flags = hdr[5];
			m->h.tag = vscsi_get32(hdr + 8);
			m->h.aux = vscsi_get32(hdr + 12);
			assert_true(m->h.len >= VSCSI_HDR_LEN &&
				    m->h.len - VSCSI_HDR_LEN <= sizeof(m->body));
			m->blen = m->h.len - VSCSI_HDR_LEN;
			dst = m->body;
			want = m->blen;
		}
	}
	return true;
}

static inline void vt_send(int fd, uint8_t type, uint8_t flags, uint32_t tag,
		    const void *body, size_t blen)
{
	uint8_t hdr[VSCSI_HDR_LEN];
	struct vscsi_hdr h = {.len = (uint32_t)(VSCSI_HDR_LEN + blen),
			      .type = type, .flags = flags, .tag = tag};

	vscsi_hdr_encode(hdr, &h);
	assert_int_equal(send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL),
			 (ssize_t)sizeof(hdr));
	if (blen)
		assert_int_equal(send(fd, body, blen, MSG_NOSIGNAL),
				 (ssize_t)blen);
}

static inline void vt_send_t2i(int fd, uint32_t tag, uint8_t status,
			uint8_t scsi_status, const uint8_t *sense,
			uint8_t sense_len, uint32_t wmoved,
			const uint8_t *data, uint32_t dlen)
{
	uint8_t *b = malloc(VSCSI_T2I_LEN + sense_len + dlen);

	assert_non_null(b);
	b[0] = status;
	b[1] = scsi_status;
	b[2] = sense_len;
	b[3] = 0;
	vscsi_put32(b + 4, wmoved);
	if (sense_len)
		memcpy(b + VSCSI_T2I_LEN, sense, sense_len);
	if (dlen)
		memcpy(b + VSCSI_T2I_LEN + sense_len, data, dlen);
	vt_send(fd, VSCSI_MSG_T2I, 0, tag, b, VSCSI_T2I_LEN + sense_len + dlen);
	free(b);
}

/* Expect a REPLY to (type, tag) with errno err. */
static inline void vt_expect_reply(int fd, uint8_t type, uint32_t tag, int err)
{
	struct vt_msg *m = malloc(sizeof(*m));

	assert_non_null(m);
	assert_true(vt_recv(fd, m, 2000));
	assert_int_equal(m->h.type, VSCSI_MSG_REPLY);
	assert_int_equal(m->h.tag, tag);
	assert_int_equal(m->body[0], type);
	assert_int_equal(vscsi_get32(m->body + 4), (uint32_t)err);
	free(m);
}

#endif
