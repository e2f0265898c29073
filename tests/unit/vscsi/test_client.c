/*
 * The vscsi client library against a real SIM on a Unix socket: the
 * greeting, a second end refused with EBUSY, I2T / DATA_READ / DATA_WRITE
 * / T2I with the reference's errors checked locally, the callback loop,
 * events, aborts seen by the library, and REQPROBE / REQDETACH answers.
 */
#include "vscsi_test.h"

#include <scsikit/scsi.h>

static const uint8_t cdb_inq[6] = {SCSI_INQUIRY, 0, 0, 0, 64, 0};
static const uint8_t cdb_w10[10] = {0x2a, 0, 0, 0, 0, 1, 0, 0, 8, 0};

struct cfix {
	struct vt_env e;
	struct vscsi_client *c;
};

static int setup(void **state)
{
	struct cfix *f = calloc(1, sizeof(*f));

	f->e.p.openings = 8;
	vt_start(&f->e, true);
	assert_int_equal(vscsi_client_open(f->e.path, &f->c), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct cfix *f = *state;

	vscsi_client_close(f->c);
	vt_wait_state(&f->e, VSCSI_S_CLOSED);
	assert_int_equal(vt_stats(&f->e).held, 0);
	vt_stop(&f->e);
	free(f);
	return 0;
}

/* Wait (bounded) for the next command. */
static void next_cmd(struct cfix *f, struct vscsi_i2t *cmd)
{
	for (int i = 0; i < 400; i++) {
		struct pollfd pfd = {.fd = vscsi_client_fd(f->c),
				     .events = POLLIN};
		int rc = vscsi_i2t(f->c, cmd);

		if (rc == 0)
			return;
		assert_int_equal(rc, -EAGAIN);
		poll(&pfd, 1, 10);
	}
	fail_msg("no command arrived");
}

static void test_open_info_busy(void **state)
{
	struct cfix *f = *state;
	const struct vscsi_info *in = vscsi_client_info(f->c);
	struct vscsi_client *c2 = NULL;
	struct vscsi_i2t cmd;

	assert_string_equal(in->name, "vscsi0");
	assert_int_equal(in->targets, 256);
	assert_int_equal(in->luns, 256);
	assert_int_equal(in->openings, 8);
	assert_int_equal(in->max_xfer, VSCSI_MAXIO_DEFAULT);
	assert_int_equal(vscsi_client_open(f->e.path, &c2), -EBUSY);
	assert_null(c2);
	assert_int_equal(vscsi_i2t(f->c, &cmd), -EAGAIN);
	assert_int_equal(vscsi_client_pending(f->c), 0);
	assert_int_equal(vscsi_client_open("/nonexistent/x.sock", &c2),
			 -ENOENT);
}

static void test_ops_and_errors(void **state)
{
	struct cfix *f = *state;
	struct vt_io *rd = vt_submit(&f->e, 9, 1, cdb_inq, 6, CAM_DIR_IN, 64);
	struct vt_io *wr;
	struct vscsi_i2t r, w;
	struct vscsi_t2i t;
	uint8_t buf[128];

	next_cmd(f, &r);
	assert_int_equal(r.target, 9);
	assert_int_equal(r.lun, 1);
	assert_int_equal(r.dir, VSCSI_DIR_READ);
	assert_int_equal(r.data_len, 64);
	assert_int_equal(r.cdb_len, 6);
	assert_memory_equal(r.cdb, cdb_inq, 6);

	for (int i = 0; i < 100; i++)
		buf[i] = (uint8_t)(0xa0 + i);
	wr = vt_submit_data(&f->e, 9, 1, cdb_w10, 10, CAM_DIR_OUT, 100, buf);
	next_cmd(f, &w);
	assert_int_equal(w.dir, VSCSI_DIR_WRITE);

	/* The reference's errors, in its order. */
	assert_int_equal(vscsi_data_read(f->c, 0xdead, buf, 1), -EFAULT);
	assert_int_equal(vscsi_data_read(f->c, r.tag, buf, 65), -ENOMEM);
	assert_int_equal(vscsi_data_write(f->c, r.tag, buf, 1), -EINVAL);
	assert_int_equal(vscsi_data_read(f->c, w.tag, buf, 1), -EINVAL);
	assert_int_equal(vscsi_data_write(f->c, w.tag, buf, 101), -ENOMEM);
	memset(&t, 0, sizeof(t));
	t.tag = 0xdead;
	assert_int_equal(vscsi_t2i(f->c, &t), -EFAULT);
	t.tag = r.tag;
	t.status = 9;
	assert_int_equal(vscsi_t2i(f->c, &t), -EINVAL);

	/* Data in chunks; the residual is what was not moved. */
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(vscsi_data_read(f->c, r.tag, buf, 20), 0);
	assert_int_equal(vscsi_data_read(f->c, r.tag, buf + 20, 20), 0);
	assert_int_equal(vscsi_data_read(f->c, r.tag, buf, 25), -ENOMEM);
	t.status = VSCSI_STAT_DONE;
	assert_int_equal(vscsi_t2i(f->c, &t), 0);
	assert_int_equal(vscsi_t2i(f->c, &t), -EFAULT); /* gone now */
	assert_int_equal(cam_ccb_status(vt_wait_io(rd)), CAM_REQ_CMP);
	assert_int_equal(rd->ccb->csio.resid, 24);
	assert_memory_equal(rd->data, buf, 40);

	memset(buf, 0, sizeof(buf));
	assert_int_equal(vscsi_data_write(f->c, w.tag, buf, 50), 0);
	assert_int_equal(vscsi_data_write(f->c, w.tag, buf + 50, 50), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf[i], (uint8_t)(0xa0 + i));
	assert_int_equal(vscsi_data_write(f->c, w.tag, buf, 1), -ENOMEM);
	t.tag = w.tag;
	assert_int_equal(vscsi_t2i(f->c, &t), 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(wr)), CAM_REQ_CMP);
	assert_int_equal(wr->ccb->csio.resid, 0);
	vt_io_free(rd);
	vt_io_free(wr);
}

/* A write above the inline limit: vscsi_data_write pulls each chunk
 * from the SIM straight into the caller's buffer; the SIM counts. */
static void test_write_pulled(void **state)
{
	struct cfix *f = *state;
	const uint32_t len = 200 * 1024;
	uint8_t *pat = malloc(len), *got = calloc(1, len);
	struct vt_io *wr, *ws;
	struct vscsi_i2t w, w2;
	struct vscsi_t2i t = {.status = VSCSI_STAT_DONE};

	for (uint32_t i = 0; i < len; i++)
		pat[i] = (uint8_t)(i * 31 + (i >> 11));
	wr = vt_submit_data(&f->e, 2, 0, cdb_w10, 10, CAM_DIR_OUT, len, pat);
	next_cmd(f, &w);
	ws = vt_submit_data(&f->e, 2, 0, cdb_w10, 10, CAM_DIR_OUT, len, pat);
	next_cmd(f, &w2);
	assert_int_equal(w.dir, VSCSI_DIR_WRITE);
	assert_int_equal(w.data_len, len);
	assert_int_equal(vscsi_data_write(f->c, w.tag, got, len + 1), -ENOMEM);
	assert_int_equal(vscsi_data_write(f->c, w.tag, got, 1), 0);
	assert_int_equal(vscsi_data_write(f->c, w.tag, got + 1, 70000), 0);
	assert_int_equal(vscsi_data_write(f->c, w.tag, got + 70001,
					  len - 70001), 0);
	assert_int_equal(vscsi_data_write(f->c, w.tag, got, 1), -ENOMEM);
	assert_memory_equal(got, pat, len);
	t.tag = w.tag;
	assert_int_equal(vscsi_t2i(f->c, &t), 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(wr)), CAM_REQ_CMP);
	assert_int_equal(wr->ccb->csio.resid, 0);
	/* Half taken: the residual is the other half. */
	memset(got, 0, len);
	assert_int_equal(vscsi_data_write(f->c, w2.tag, got, len / 2), 0);
	assert_memory_equal(got, pat, len / 2);
	t.tag = w2.tag;
	assert_int_equal(vscsi_t2i(f->c, &t), 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(ws)), CAM_REQ_CMP);
	assert_int_equal(ws->ccb->csio.resid, len / 2);
	vt_io_free(wr);
	vt_io_free(ws);
	free(pat);
	free(got);
}

static void test_zero_copy(void **state)
{
	struct cfix *f = *state;
	/* Larger than a slot of the area (64 KiB): pulled by DATA_WRITE. */
	static uint8_t pat[96 * 1024];
	struct vt_io *rd, *wr;
	struct vscsi_i2t r, w;
	struct vscsi_t2i t = {.status = VSCSI_STAT_DONE};
	uint8_t *b;

	for (unsigned i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i ^ 0x5a);
	rd = vt_submit(&f->e, 1, 0, cdb_inq, 6, CAM_DIR_IN, 64);
	next_cmd(f, &r);
	/* Above the inline limit: the data is pulled from the SIM. */
	wr = vt_submit_data(&f->e, 1, 0, cdb_w10, 10, CAM_DIR_OUT, sizeof(pat),
			    pat);
	next_cmd(f, &w);

	assert_null(vscsi_data_buffer(f->c, 0xbad));
	assert_int_equal(errno, EFAULT);
	assert_int_equal(vscsi_data_commit(f->c, 0xbad, 1), -EFAULT);
	/* READ: fill the library's buffer, then commit (in two steps). */
	b = vscsi_data_buffer(f->c, r.tag);
	assert_non_null(b);
	memcpy(b, pat, 64);
	assert_int_equal(vscsi_data_commit(f->c, r.tag, 65), -ENOMEM);
	assert_int_equal(vscsi_data_commit(f->c, r.tag, 30), 0);
	assert_int_equal(vscsi_data_commit(f->c, r.tag, 34), 0);
	assert_int_equal(vscsi_data_commit(f->c, r.tag, 1), -ENOMEM);
	t.tag = r.tag;
	assert_int_equal(vscsi_t2i(f->c, &t), 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(rd)), CAM_REQ_CMP);
	assert_int_equal(rd->ccb->csio.resid, 0);
	assert_memory_equal(rd->data, pat, 64);
	/* WRITE: commit pulls the data into the buffer; part of it
	 * taken, the SIM's residual is the rest. */
	b = vscsi_data_buffer(f->c, w.tag);
	assert_non_null(b);
	assert_int_equal(vscsi_data_commit(f->c, w.tag, 128), 0);
	assert_memory_equal(b, pat, 128);
	assert_int_equal(vscsi_data_commit(f->c, w.tag, 4000), 0);
	assert_memory_equal(b, pat, 4128);
	assert_int_equal(vscsi_data_commit(f->c, w.tag, sizeof(pat)), -ENOMEM);
	t.tag = w.tag;
	assert_int_equal(vscsi_t2i(f->c, &t), 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(wr)), CAM_REQ_CMP);
	assert_int_equal(wr->ccb->csio.resid, sizeof(pat) - 4128);
	vt_io_free(rd);
	vt_io_free(wr);
}

static void test_sense(void **state)
{
	struct cfix *f = *state;
	struct vt_io *io = vt_submit(&f->e, 0, 0, cdb_inq, 6, CAM_DIR_IN, 64);
	struct vscsi_i2t r;
	struct vscsi_t2i t;

	next_cmd(f, &r);
	memset(&t, 0, sizeof(t));
	t.tag = r.tag;
	t.status = VSCSI_STAT_SENSE;
	t.sense_len = (uint8_t)scsi_sense_build_simple(
		SCSI_SK_ILLEGAL_REQUEST, 0x2400, false, t.sense,
		sizeof(t.sense));
	assert_int_equal(vscsi_t2i(f->c, &t), 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)),
			 CAM_SCSI_STATUS_ERROR);
	assert_true(io->ccb->ccb_h.status & CAM_AUTOSNS_VALID);
	assert_int_equal(io->ccb->csio.sense_data[2] & 0xf,
			 SCSI_SK_ILLEGAL_REQUEST);
	vt_io_free(io);
}

struct loopctx {
	int cmds;
	int events;
	uint32_t ev_target;
	struct vscsi_client *c;
};

static void h_command(struct vscsi_client *c, const struct vscsi_i2t *cmd,
		      void *arg)
{
	struct loopctx *lc = arg;
	struct vscsi_t2i t = {.tag = cmd->tag};

	lc->cmds++;
	/* No target anywhere: what a bus scan should learn. */
	t.status = VSCSI_STAT_SELTIMEOUT;
	assert_int_equal(vscsi_t2i(c, &t), 0);
	if (lc->cmds >= 2)
		vscsi_client_stop(c);
}

static void h_event(struct vscsi_client *c, enum vscsi_event ev,
		    uint32_t target, uint64_t lun, void *arg)
{
	struct loopctx *lc = arg;

	(void)c;
	(void)ev;
	(void)lun;
	lc->events++;
	lc->ev_target = target;
}

static void test_callback_loop_probe(void **state)
{
	struct cfix *f = *state;
	struct loopctx lc = {.c = f->c};
	const struct vscsi_handler h = {.command = h_command,
					.event = h_event};
	struct vt_io *a = vt_submit(&f->e, 4, 0, cdb_inq, 6, CAM_DIR_IN, 64);
	struct vt_io *b = vt_submit(&f->e, 5, 0, cdb_inq, 6, CAM_DIR_IN, 64);

	vscsi_client_set_handler(f->c, &h, &lc);
	assert_int_equal(vscsi_client_run(f->c), 0);
	assert_int_equal(lc.cmds, 2);
	assert_int_equal(cam_ccb_status(vt_wait_io(a)), CAM_SEL_TIMEOUT);
	assert_int_equal(cam_ccb_status(vt_wait_io(b)), CAM_SEL_TIMEOUT);
	vt_io_free(a);
	vt_io_free(b);

	/* REQPROBE is accepted (the scan then finds nothing here). */
	assert_int_equal(vscsi_reqprobe(f->c, 7, 0), 0);
	assert_int_equal(vscsi_reqdetach(f->c, 7, 0), 0);
	assert_int_equal(vscsi_reqprobe(f->c, 256, 0), -EINVAL);
	assert_int_equal(vscsi_reqprobe(f->c, 0, 256), -EINVAL);
	/* Serve the scans' REPORT LUNS until the SIM has no scan left. */
	for (int i = 0; i < 500 && vt_stats(&f->e).scans; i++) {
		struct pollfd pfd = {.fd = vscsi_client_fd(f->c),
				     .events = POLLIN};

		lc.cmds = -1000;
		assert_int_equal(vscsi_client_dispatch(f->c), 0);
		poll(&pfd, 1, 10);
	}
	assert_int_equal(vt_stats(&f->e).scans, 0);
}

struct ab {
	int aborted;
	uint32_t tag;
};

static void h_aborted(struct vscsi_client *c, uint32_t tag, void *arg)
{
	struct ab *a = arg;

	(void)c;
	a->aborted++;
	a->tag = tag;
}

struct reset_call {
	uint32_t path_id;
};

static void reset_fn(void *arg)
{
	struct reset_call *r = arg;
	union ccb ccb;

	memset(&ccb, 0, sizeof(ccb));
	xpt_setup_ccb(&ccb.ccb_h, r->path_id, 3, 0, XPT_RESET_DEV);
	xpt_action(&ccb);
}

/* Wait (bounded) until the SIM holds n slots for aborted commands. */
static void wait_held(struct cfix *f, uint32_t n)
{
	for (int i = 0; i < 200 && vt_stats(&f->e).shm_held != n; i++)
		vt_sleep_ms(5);
	assert_int_equal(vt_stats(&f->e).shm_held, n);
}

/* Wait (bounded) until the SIM has handed a command to us, unread. */
static void wait_pending(struct cfix *f)
{
	struct pollfd pfd = {.fd = vscsi_client_fd(f->c), .events = POLLIN};

	assert_int_equal(poll(&pfd, 1, 2000), 1);
}

static void test_reset_aborts(void **state)
{
	struct cfix *f = *state;
	struct ab a = {0};
	const struct vscsi_handler h = {.command = NULL, .aborted = h_aborted};
	struct vt_io *io = vt_submit(&f->e, 3, 0, cdb_inq, 6, CAM_DIR_IN, 64);
	struct reset_call rc = {(uint32_t)vscsi_sim_path_id(f->e.sim)};
	struct vscsi_i2t r;
	struct vscsi_t2i t;

	vscsi_client_set_handler(f->c, &h, &a);
	next_cmd(f, &r);
	assert_int_equal(cam_sync_call(f->e.loop, reset_fn, &rc), 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_BDR_SENT);
	/* The library hears of it and swallows the late answer. */
	for (int i = 0; i < 200 && !a.aborted; i++) {
		struct vscsi_i2t x;

		assert_int_equal(vscsi_i2t(f->c, &x), -EAGAIN);
		vt_sleep_ms(5);
	}
	assert_int_equal(a.aborted, 1);
	assert_int_equal(a.tag, r.tag);
	/* Its slot of the shared area is still ours ... */
	assert_int_equal(vt_stats(&f->e).shm_held, 1);
	memset(&t, 0, sizeof(t));
	t.tag = r.tag;
	assert_int_equal(vscsi_data_read(f->c, r.tag, "x", 1), 0);
	assert_int_equal(vscsi_t2i(f->c, &t), 0);
	/* ... until the late answer, which the library turns into the T2I
	 * that gives it back (and the SIM takes without a complaint). */
	wait_held(f, 0);
	assert_int_equal(vt_stats(&f->e).errors, 0);
	vt_io_free(io);

	/* Taken back before the target saw it: the library gives the slot
	 * back when it drops the command. */
	io = vt_submit(&f->e, 3, 0, cdb_inq, 6, CAM_DIR_IN, 64);
	wait_pending(f);
	assert_int_equal(cam_sync_call(f->e.loop, reset_fn, &rc), 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_BDR_SENT);
	assert_int_equal(vt_stats(&f->e).shm_held, 1);
	for (int i = 0; i < 200 && vt_stats(&f->e).shm_held; i++) {
		struct vscsi_i2t x;

		assert_int_equal(vscsi_i2t(f->c, &x), -EAGAIN);
		vt_sleep_ms(5);
	}
	wait_held(f, 0);
	assert_int_equal(vt_stats(&f->e).errors, 0);
	vt_io_free(io);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_info_busy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ops_and_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_pulled, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_zero_copy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sense, setup, teardown),
		cmocka_unit_test_setup_teardown(test_callback_loop_probe, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reset_aborts, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
