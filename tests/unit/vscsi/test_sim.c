/*
 * The vscsi SIM over a socketpair, the test thread playing a hand-made
 * userland end with raw wire messages: command hand-over, data in chunks,
 * completion statuses and residuals, small writes inline and larger ones
 * pulled with DATA_WRITE, every per-message error, a second
 * end refused, abort, disconnect with commands held, broken framing and
 * a peer that stops reading.
 */
#include "vscsi_test.h"

#include <scsikit/scsi.h>

struct sim_fix {
	struct vt_env e;
	int fd;			/* our end */
	struct vt_msg *m;
};

static void fix_connect(struct sim_fix *f)
{
	f->fd = vt_attach(&f->e);
	assert_true(vt_recv(f->fd, f->m, 2000));
	assert_int_equal(f->m->h.type, VSCSI_MSG_HELLO);
}

static int setup_inline(void **state, uint32_t inline_max)
{
	struct sim_fix *f = calloc(1, sizeof(*f));

	f->m = malloc(sizeof(*f->m));
	f->e.p.maxio = 256 * 1024;
	f->e.p.stall_ms = 300;
	f->e.p.inline_max = inline_max;
	/* These tests drive the socket paths (what a command larger than
	 * a slot uses); test_shm.c has the data area. */
	f->e.p.shm_slot = VSCSI_SHM_OFF;
	vt_start(&f->e, false);
	fix_connect(f);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_inline(state, 0);
}

/* Every write inline: the output fills with commands alone. */
static int setup_all_inline(void **state)
{
	return setup_inline(state, 256 * 1024);
}

static int teardown(void **state)
{
	struct sim_fix *f = *state;

	if (f->fd >= 0)
		close(f->fd);
	vt_finish(&f->e);
	free(f->m);
	free(f);
	return 0;
}

static const uint8_t cdb_inq[6] = {SCSI_INQUIRY, 0, 0, 0, 96, 0};
static const uint8_t cdb_w10[10] = {0x2a, 0, 0, 0, 0, 1, 0, 0, 8, 0};
static const uint8_t cdb_tur[6] = {0};

/* Receive the next CMD and return its tag. */
static uint32_t expect_cmd(struct sim_fix *f, const uint8_t *cdb,
			   uint8_t dir, uint32_t len)
{
	struct vscsi_cmd_body b;

	assert_true(vt_recv(f->fd, f->m, 2000));
	assert_int_equal(f->m->h.type, VSCSI_MSG_CMD);
	assert_int_equal(vscsi_cmd_parse(f->m->body, f->m->blen, &b), 0);
	assert_int_equal(b.dir, dir);
	assert_int_equal(b.data_len, len);
	assert_memory_equal(b.cdb, cdb, b.cdb_len);
	return f->m->h.tag;
}

static void test_read_chunks(void **state)
{
	struct sim_fix *f = *state;
	struct vt_io *io = vt_submit(&f->e, 5, 2, cdb_inq, 6, CAM_DIR_IN, 96);
	struct vscsi_cmd_body b;
	uint8_t data[96];
	uint32_t tag;

	tag = expect_cmd(f, cdb_inq, VSCSI_DIR_READ, 96);
	assert_int_equal(vscsi_cmd_parse(f->m->body, f->m->blen, &b), 0);
	assert_int_equal(b.target, 5);
	assert_int_equal(b.lun, 2);
	assert_int_equal(b.tag_action, MSG_SIMPLE_Q_TAG);
	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	/* One chunk by DATA_READ, the next with the T2I; 16 bytes short. */
	vt_send(f->fd, VSCSI_MSG_DATA_READ, VSCSI_F_ACK, tag, data, 30);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_READ, tag, 0);
	vt_send_t2i(f->fd, tag, VSCSI_STAT_DONE, 0, NULL, 0, 0, data + 30, 50);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_REQ_CMP);
	assert_int_equal(io->ccb->csio.resid, 16);
	assert_memory_equal(io->data, data, 80);
	vt_io_free(io);
	assert_int_equal(vt_stats(&f->e).done, 1);
}

static void test_write_inline(void **state)
{
	struct sim_fix *f = *state;
	struct vt_io *io;
	uint32_t tag;

	io = vt_submit(&f->e, 0, 0, cdb_w10, 10, CAM_DIR_OUT, 4096);
	/* vt_submit zeroed the buffer; the inline data is those zeros. */
	tag = expect_cmd(f, cdb_w10, VSCSI_DIR_WRITE, 4096);
	assert_int_equal(f->m->blen, VSCSI_CMD_LEN + 4096);
	assert_int_equal(f->m->body[19], VSCSI_CMD_F_INLINE);
	/* Inline data is moved: nothing more to pull, and the residual is
	 * the SIM's count, whatever the T2I's reserved bytes say. */
	vt_send(f->fd, VSCSI_MSG_DATA_WRITE, 0, tag,
		(const uint8_t[]){1, 0, 0, 0}, VSCSI_DATA_WRITE_LEN);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_WRITE, tag, ENOMEM);
	vt_send_t2i(f->fd, tag, VSCSI_STAT_DONE, 0, NULL, 0, 1000, NULL, 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_REQ_CMP);
	assert_int_equal(io->ccb->csio.resid, 0);
	vt_io_free(io);
}

static void data_write(struct sim_fix *f, uint32_t tag, uint32_t len)
{
	uint8_t b[VSCSI_DATA_WRITE_LEN];

	vscsi_put32(b, len);
	vt_send(f->fd, VSCSI_MSG_DATA_WRITE, 0, tag, b, sizeof(b));
}

/* A write above the inline limit: the CMD has no data, the target pulls
 * it in chunks with DATA_WRITE (checked as the reference checks its
 * ioctl), and the residual is what was pulled. */
static void test_write_pull(void **state)
{
	struct sim_fix *f = *state;
	const uint32_t len = 64 * 1024;
	uint8_t *pat = malloc(len);
	struct vt_io *io, *rd;
	uint32_t tag, rtag;

	for (uint32_t i = 0; i < len; i++)
		pat[i] = (uint8_t)(i * 13 + (i >> 9));
	rd = vt_submit(&f->e, 0, 0, cdb_inq, 6, CAM_DIR_IN, 96);
	rtag = expect_cmd(f, cdb_inq, VSCSI_DIR_READ, 96);
	io = vt_submit_data(&f->e, 0, 0, cdb_w10, 10, CAM_DIR_OUT, len, pat);
	tag = expect_cmd(f, cdb_w10, VSCSI_DIR_WRITE, len);
	assert_int_equal(f->m->blen, VSCSI_CMD_LEN);
	assert_int_equal(f->m->body[19], 0);
	/* The errors, in the reference's order. */
	data_write(f, tag ^ 0x40000000u, 10);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_WRITE, tag ^ 0x40000000u,
			EFAULT);
	data_write(f, tag, len + 1);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_WRITE, tag, ENOMEM);
	data_write(f, rtag, 10);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_WRITE, rtag, EINVAL);
	vt_send(f->fd, VSCSI_MSG_DATA_WRITE, 0, tag, pat, 3);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_WRITE, tag, EINVAL);
	/* ... and read data for this write. */
	vt_send(f->fd, VSCSI_MSG_DATA_READ, 0, tag, pat, 10);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_READ, tag, EINVAL);
	vt_send_t2i(f->fd, tag, VSCSI_STAT_DONE, 0, NULL, 0, 0, pat, 5);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, EINVAL);
	/* Two chunks, each answered by WDATA with the next bytes. */
	data_write(f, tag, 1000);
	assert_true(vt_recv(f->fd, f->m, 2000));
	assert_int_equal(f->m->h.type, VSCSI_MSG_WDATA);
	assert_int_equal(f->m->h.tag, tag);
	assert_int_equal(f->m->blen, 1000);
	assert_memory_equal(f->m->body, pat, 1000);
	data_write(f, tag, 30000);
	assert_true(vt_recv(f->fd, f->m, 2000));
	assert_int_equal(f->m->h.type, VSCSI_MSG_WDATA);
	assert_int_equal(f->m->blen, 30000);
	assert_memory_equal(f->m->body, pat + 1000, 30000);
	/* Beyond what is left now. */
	data_write(f, tag, len - 31000 + 1);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_WRITE, tag, ENOMEM);
	/* The T2I's old write count is ignored: the SIM counted. */
	vt_send_t2i(f->fd, tag, VSCSI_STAT_DONE, 0, NULL, 0, len, NULL, 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_REQ_CMP);
	assert_int_equal(io->ccb->csio.resid, len - 31000);
	/* A late DATA_WRITE finds no command. */
	data_write(f, tag, 1);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_WRITE, tag, EFAULT);
	vt_send_t2i(f->fd, rtag, VSCSI_STAT_DONE, 0, NULL, 0, 0, NULL, 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(rd)), CAM_REQ_CMP);
	vt_io_free(rd);
	vt_io_free(io);
	free(pat);
}

static void test_statuses(void **state)
{
	struct sim_fix *f = *state;
	static const uint8_t sense[18] = {0x70, 0, 0x05, 0, 0, 0, 0, 10,
					  0, 0, 0, 0, 0x24, 0x00};
	struct {
		uint8_t st, scsi;
		uint32_t cam;
	} cases[] = {
		{VSCSI_STAT_SENSE, 0, CAM_SCSI_STATUS_ERROR},
		{VSCSI_STAT_DONE, SCSI_STATUS_BUSY, CAM_SCSI_STATUS_ERROR},
		{VSCSI_STAT_ERR, 0, CAM_REQ_CMP_ERR},
		{VSCSI_STAT_RESET, 0, CAM_SCSI_BUS_RESET},
		{VSCSI_STAT_SELTIMEOUT, 0, CAM_SEL_TIMEOUT},
		{99, 0, CAM_REQ_CMP_ERR},	/* unknown: ERR, as OpenBSD */
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vt_io *io = vt_submit(&f->e, 1, 0, cdb_tur, 6,
					     CAM_DIR_NONE, 0);
		uint32_t tag = expect_cmd(f, cdb_tur, VSCSI_DIR_NONE, 0);
		uint32_t st;

		vt_send_t2i(f->fd, tag, cases[i].st, cases[i].scsi, sense,
			    cases[i].st == VSCSI_STAT_SENSE ? 18 : 0, 0, NULL,
			    0);
		st = vt_wait_io(io);
		assert_int_equal(cam_ccb_status(st), cases[i].cam);
		if (cases[i].st == VSCSI_STAT_SENSE) {
			assert_true(st & CAM_AUTOSNS_VALID);
			assert_int_equal(io->ccb->csio.scsi_status,
					 SCSI_STATUS_CHECK_CONDITION);
			assert_memory_equal(io->ccb->csio.sense_data, sense,
					    18);
		}
		if (cases[i].st == VSCSI_STAT_DONE)
			assert_int_equal(io->ccb->csio.scsi_status,
					 SCSI_STATUS_BUSY);
		vt_io_free(io);
	}
}

static void test_errors(void **state)
{
	struct sim_fix *f = *state;
	struct vt_io *rd = vt_submit(&f->e, 2, 0, cdb_inq, 6, CAM_DIR_IN, 96);
	uint32_t rtag = expect_cmd(f, cdb_inq, VSCSI_DIR_READ, 96);
	struct vt_io *wr = vt_submit(&f->e, 2, 0, cdb_w10, 10, CAM_DIR_OUT,
				     512);
	uint32_t wtag = expect_cmd(f, cdb_w10, VSCSI_DIR_WRITE, 512);
	uint8_t buf[200] = {0};
	uint8_t shortb[4] = {0};
	uint8_t devev[VSCSI_DEVEV_LEN];

	/* Unknown tag (never handed out) -> EFAULT. */
	vt_send(f->fd, VSCSI_MSG_DATA_READ, 0, rtag ^ 0x40000000u, buf, 10);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_READ, rtag ^ 0x40000000u, EFAULT);
	vt_send_t2i(f->fd, 0x7777777, VSCSI_STAT_DONE, 0, NULL, 0, 0, NULL, 0);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, 0x7777777, EFAULT);
	/* More than the command has left -> ENOMEM. */
	vt_send(f->fd, VSCSI_MSG_DATA_READ, 0, rtag, buf, 97);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_READ, rtag, ENOMEM);
	vt_send(f->fd, VSCSI_MSG_DATA_READ, 0, rtag, buf, 90);
	vt_send(f->fd, VSCSI_MSG_DATA_READ, 0, rtag, buf, 7);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_READ, rtag, ENOMEM);
	vt_send_t2i(f->fd, rtag, VSCSI_STAT_DONE, 0, NULL, 0, 0, buf, 7);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, rtag, ENOMEM);
	/* The write's data came inline, so all of it is moved: read data
	 * for it is more than it has left, checked (as the reference does)
	 * before the direction (test_write_pull sees EINVAL). */
	vt_send(f->fd, VSCSI_MSG_DATA_READ, 0, wtag, buf, 10);
	vt_expect_reply(f->fd, VSCSI_MSG_DATA_READ, wtag, ENOMEM);
	vt_send_t2i(f->fd, wtag, VSCSI_STAT_DONE, 0, NULL, 0, 0, buf, 5);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, wtag, ENOMEM);
	/* Truncated bodies -> EINVAL; unknown types -> ENOTTY. */
	vt_send(f->fd, VSCSI_MSG_T2I, 0, rtag, shortb, sizeof(shortb));
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, rtag, EINVAL);
	vt_send(f->fd, VSCSI_MSG_REQPROBE, 0, 42, shortb, sizeof(shortb));
	vt_expect_reply(f->fd, VSCSI_MSG_REQPROBE, 42, EINVAL);
	vscsi_devev_encode(devev, 256, 0);
	vt_send(f->fd, VSCSI_MSG_REQPROBE, 0, 43, devev, sizeof(devev));
	vt_expect_reply(f->fd, VSCSI_MSG_REQPROBE, 43, EINVAL);
	vt_send(f->fd, 0x66, 0, 44, NULL, 0);
	vt_expect_reply(f->fd, 0x66, 44, ENOTTY);
	vt_send(f->fd, VSCSI_MSG_CMD, 0, 45, NULL, 0);
	vt_expect_reply(f->fd, VSCSI_MSG_CMD, 45, ENOTTY);
	assert_false(atomic_load(&rd->done));
	assert_false(atomic_load(&wr->done));
	/* Nothing changed: both commands still complete normally, the read
	 * with the 90 bytes it got. */
	vt_send_t2i(f->fd, rtag, VSCSI_STAT_DONE, 0, NULL, 0, 0, buf, 6);
	vt_send_t2i(f->fd, wtag, VSCSI_STAT_DONE, 0, NULL, 0, 512, NULL, 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(rd)), CAM_REQ_CMP);
	assert_int_equal(rd->ccb->csio.resid, 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(wr)), CAM_REQ_CMP);
	assert_int_equal(wr->ccb->csio.resid, 0);
	/* A reused tag (already completed) -> EFAULT. */
	vt_send_t2i(f->fd, rtag, VSCSI_STAT_DONE, 0, NULL, 0, 0, NULL, 0);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, rtag, EFAULT);
	vt_io_free(rd);
	vt_io_free(wr);
	assert_true(vt_stats(&f->e).errors >= 13);
}

struct second {
	struct sim_fix *f;
	int rc;
	int peer;
};

static void second_attach_fn(void *arg)
{
	struct second *s = arg;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s->rc = vscsi_sim_attach_fd(s->f->e.sim, sv[0]);
	s->peer = sv[1];
}

static void test_second_refused(void **state)
{
	struct sim_fix *f = *state;
	struct second s = {.f = f};
	uint8_t b;

	assert_int_equal(cam_sync_call(f->e.loop, second_attach_fn, &s), 0);
	assert_int_equal(s.rc, -EBUSY);
	assert_true(vt_recv(s.peer, f->m, 2000));
	assert_int_equal(f->m->h.type, VSCSI_MSG_REPLY);
	assert_int_equal(vscsi_get32(f->m->body + 4), EBUSY);
	assert_int_equal(recv(s.peer, &b, 1, 0), 0);	/* then closed */
	close(s.peer);
	assert_int_equal(vt_stats(&f->e).refused, 1);
	assert_int_equal(vt_stats(&f->e).state, VSCSI_S_RUNNING);
}

static void test_disconnect_resets(void **state)
{
	struct sim_fix *f = *state;
	struct vt_io *io[8];

	/* Four handed out, four more while we are gone. */
	for (int i = 0; i < 4; i++) {
		io[i] = vt_submit(&f->e, 3, 0, cdb_inq, 6, CAM_DIR_IN, 96);
		expect_cmd(f, cdb_inq, VSCSI_DIR_READ, 96);
	}
	close(f->fd);
	f->fd = -1;
	for (int i = 0; i < 4; i++)
		assert_int_equal(cam_ccb_status(vt_wait_io(io[i])),
				 CAM_SCSI_BUS_RESET);
	vt_wait_state(&f->e, VSCSI_S_CLOSED);
	/* With nobody connected, a command finds no target. */
	for (int i = 4; i < 8; i++) {
		io[i] = vt_submit(&f->e, 3, 0, cdb_inq, 6, CAM_DIR_IN, 96);
		assert_int_equal(cam_ccb_status(vt_wait_io(io[i])),
				 CAM_SEL_TIMEOUT);
	}
	for (int i = 0; i < 8; i++)
		vt_io_free(io[i]);
	assert_int_equal(vt_stats(&f->e).held, 0);
	/* A new userland end takes over. */
	fix_connect(f);
	io[0] = vt_submit(&f->e, 3, 0, cdb_tur, 6, CAM_DIR_NONE, 0);
	vt_send_t2i(f->fd, expect_cmd(f, cdb_tur, VSCSI_DIR_NONE, 0),
		    VSCSI_STAT_DONE, 0, NULL, 0, 0, NULL, 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(io[0])), CAM_REQ_CMP);
	vt_io_free(io[0]);
}

static void test_broken_framing(void **state)
{
	struct sim_fix *f = *state;
	struct vt_io *io = vt_submit(&f->e, 4, 0, cdb_inq, 6, CAM_DIR_IN, 96);
	uint8_t bad[8] = {5, 0, 0, 0, 0x11, 0, 0, 0};
	uint8_t b;

	expect_cmd(f, cdb_inq, VSCSI_DIR_READ, 96);
	assert_int_equal(send(f->fd, bad, sizeof(bad), 0), 8);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_SCSI_BUS_RESET);
	/* The SIM closed us (an ABORT may come first). */
	while (vt_recv(f->fd, f->m, 2000))
		assert_int_equal(f->m->h.type, VSCSI_MSG_ABORT);
	assert_int_equal(recv(f->fd, &b, 1, MSG_DONTWAIT), 0);
	vt_io_free(io);
	/* An oversized length is broken framing too. */
	vt_wait_state(&f->e, VSCSI_S_CLOSED);
	close(f->fd);
	fix_connect(f);
	vscsi_put32(bad, 0x7fffffff);
	assert_int_equal(send(f->fd, bad, sizeof(bad), 0), 8);
	assert_false(vt_recv(f->fd, f->m, 2000));
	vt_wait_state(&f->e, VSCSI_S_CLOSED);
}

static void test_abort(void **state)
{
	struct sim_fix *f = *state;
	struct vt_io *io = vt_submit(&f->e, 6, 0, cdb_inq, 6, CAM_DIR_IN, 96);
	uint32_t tag = expect_cmd(f, cdb_inq, VSCSI_DIR_READ, 96);

	assert_int_equal(cam_ccb_status(vt_abort(&f->e, io->ccb)), CAM_REQ_CMP);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_REQ_ABORTED);
	assert_true(vt_recv(f->fd, f->m, 2000));
	assert_int_equal(f->m->h.type, VSCSI_MSG_ABORT);
	assert_int_equal(f->m->h.tag, tag);
	/* The late T2I is unknown now. */
	vt_send_t2i(f->fd, tag, VSCSI_STAT_DONE, 0, NULL, 0, 0, NULL, 0);
	vt_expect_reply(f->fd, VSCSI_MSG_T2I, tag, EFAULT);
	vt_io_free(io);
}

static void test_stall(void **state)
{
	struct sim_fix *f = *state;
	struct vt_io *io[12];

	/* 12 writes of 256 KiB: far beyond the socket buffer and the SIM's
	 * high-water mark; we read nothing, so the SIM drops us. */
	for (int i = 0; i < 12; i++)
		io[i] = vt_submit(&f->e, 7, 0, cdb_w10, 10, CAM_DIR_OUT,
				  256 * 1024);
	assert_true(vt_stats(&f->e).queued > 0);
	for (int i = 0; i < 12; i++) {
		assert_int_equal(cam_ccb_status(vt_wait_io(io[i])),
				 CAM_SCSI_BUS_RESET);
		vt_io_free(io[i]);
	}
	vt_wait_state(&f->e, VSCSI_S_CLOSED);
}

static void backpressure(struct sim_fix *f, int n, uint32_t len)
{
	struct vt_io **io = calloc((size_t)n, sizeof(*io));
	int got = 0;

	for (int i = 0; i < n; i++)
		io[i] = vt_submit(&f->e, 9, 0, cdb_w10, 10, CAM_DIR_OUT, len);
	while (got < n && vt_recv(f->fd, f->m, 2000)) {
		assert_int_equal(f->m->h.type, VSCSI_MSG_CMD);
		assert_int_equal(f->m->blen, VSCSI_CMD_LEN + len);
		vt_send_t2i(f->fd, f->m->h.tag, VSCSI_STAT_DONE, 0, NULL, 0,
			    len, NULL, 0);
		got++;
	}
	assert_int_equal(got, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(cam_ccb_status(vt_wait_io(io[i])),
				 CAM_REQ_CMP);
		vt_io_free(io[i]);
	}
	free(io);
}

static void test_backpressure(void **state)
{
	struct sim_fix *f = *state;

	/* Far more than the SIM's output high-water mark and the socket
	 * buffer, so most commands wait in the SIM.  We read them as they
	 * come and answer each: every one must arrive (none may be left
	 * behind when the output drains), with small and with large
	 * messages. */
	backpressure(f, 40, 64 * 1024);
	backpressure(f, 24, 200 * 1024);
	backpressure(f, 16, 256 * 1024);
}

static void test_scan_cap(void **state)
{
	struct sim_fix *f = *state;
	uint8_t devev[VSCSI_DEVEV_LEN];
	int again = 0, cmds = 0;

	/* REQPROBEs whose scans we never answer: they pile up in the SIM
	 * until it says EAGAIN. */
	for (uint32_t i = 0; i < 80; i++) {
		vscsi_devev_encode(devev, i, 0);
		vt_send(f->fd, VSCSI_MSG_REQPROBE, 0, 1000 + i, devev,
			sizeof(devev));
	}
	while (vt_recv(f->fd, f->m, 500)) {
		if (f->m->h.type == VSCSI_MSG_CMD)
			cmds++;
		else if (f->m->h.type == VSCSI_MSG_REPLY &&
			 vscsi_get32(f->m->body + 4) == EAGAIN)
			again++;
	}
	assert_int_equal(again, 80 - 64);
	assert_int_equal(cmds, 64);
	assert_int_equal(vt_stats(&f->e).scans, 64);
	/* Going away ends them all (teardown waits for CLOSED). */
}

struct responder {
	struct sim_fix *f;
	uint32_t tag;
	bool ok;
};

static void *responder_main(void *arg)
{
	struct responder *r = arg;
	struct vt_msg *m = malloc(sizeof(*m));
	uint8_t data[96];

	memset(data, 0x3c, sizeof(data));
	r->ok = vt_recv(r->f->fd, m, 5000) && m->h.type == VSCSI_MSG_CMD;
	if (r->ok) {
		r->tag = m->h.tag;
		vt_send_t2i(r->f->fd, r->tag, VSCSI_STAT_DONE, 0, NULL, 0, 0,
			    data, sizeof(data));
	}
	free(m);
	return NULL;
}

struct polled_call {
	struct vt_env *e;
	uint8_t buf[96];
	uint32_t status;
};

static void polled_fn(void *arg)
{
	struct polled_call *p = arg;
	union ccb *ccb = xpt_alloc_ccb();

	xpt_setup_ccb(&ccb->ccb_h, (uint32_t)vscsi_sim_path_id(p->e->sim), 8,
		      0, XPT_SCSI_IO);
	cam_fill_csio(&ccb->csio, NULL, CAM_DIR_IN, MSG_SIMPLE_Q_TAG, p->buf,
		      sizeof(p->buf), 32, cdb_inq, 6, 5000);
	/* The loop is held up here: only the SIM's poll moves things. */
	p->status = xpt_polled_action(ccb, 5000);
	xpt_free_ccb(ccb);
}

static void test_polled(void **state)
{
	struct sim_fix *f = *state;
	struct responder r = {.f = f};
	struct polled_call p = {.e = &f->e};
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, responder_main, &r), 0);
	assert_int_equal(cam_sync_call(f->e.loop, polled_fn, &p), 0);
	pthread_join(th, NULL);
	assert_true(r.ok);
	assert_int_equal(cam_ccb_status(p.status), CAM_REQ_CMP);
	for (unsigned i = 0; i < sizeof(p.buf); i++)
		assert_int_equal(p.buf[i], 0x3c);
}

/* ---- the answers every scsikit SIM gives alike (cam/sim_tran.c) ---- */

static int neg_events, tq_off_events;

static void neg_async(void *arg, uint32_t code, struct cam_path *path,
		      void *a)
{
	const struct ccb_trans_settings *cts = a;

	(void)arg;
	(void)path;
	if (code != AC_TRANSFER_NEG)
		return;
	neg_events++;
	if (cts && (cts->valid & CCB_TRANS_TQ_VALID) &&
	    !(cts->flags & CCB_TRANS_TAG_ENB))
		tq_off_events++;
}

struct cam_step {
	struct vt_env *e;
	int step;
};

/* XPT_GET/SET_TRAN_SETTINGS of t:l with flags (and valid for SET; the
 * values are those already in c). */
static uint32_t tran(uint32_t bus, uint32_t func, uint32_t t, uint64_t l,
		     uint32_t flags, uint32_t valid, union ccb *c)
{
	xpt_setup_ccb(&c->ccb_h, bus, t, l, func);
	c->cts.flags = flags;
	c->cts.valid = valid;
	xpt_action(c);
	return cam_ccb_status(c->ccb_h.status);
}

#define CUR CCB_TRANS_CURRENT_SETTINGS
#define GET(t, l, which) tran(bus, XPT_GET_TRAN_SETTINGS, t, l, which, 0, &c)
#define SET(t, l, valid) tran(bus, XPT_SET_TRAN_SETTINGS, t, l, CUR, valid, &c)

static void cam_step_fn(void *arg)
{
	struct cam_step *cs = arg;
	uint32_t bus = (uint32_t)vscsi_sim_path_id(cs->e->sim);
	union ccb c, other;

	memset(&c, 0, sizeof(c));
	switch (cs->step) {
	case 0:
		neg_events = tq_off_events = 0;
		xpt_register_async(AC_TRANSFER_NEG, neg_async, NULL, bus,
				   CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD);
		/* Start: wide, async, tags and disconnection on. */
		assert_int_equal(GET(3, 1, CUR), CAM_REQ_CMP);
		assert_int_equal(c.cts.bus_width, 8);	/* not negotiated */
		assert_true(c.cts.flags & CCB_TRANS_TAG_ENB);
		assert_true(c.cts.flags & CCB_TRANS_DISC_ENB);
		GET(3, 1, CCB_TRANS_USER_SETTINGS);
		assert_int_equal(c.cts.bus_width, 16);
		assert_int_equal(c.cts.sync_period, 0);
		/* Tags off on 3:1 takes effect at once, and is posted. */
		assert_int_equal(SET(3, 1, CCB_TRANS_TQ_VALID), CAM_REQ_CMP);
		assert_int_equal(tq_off_events, 1);
		GET(3, 1, CUR);
		assert_false(c.cts.flags & CCB_TRANS_TAG_ENB);
		GET(3, 0, CUR);
		assert_true(c.cts.flags & CCB_TRANS_TAG_ENB);
		/* Truncated to the adapter: 16 wide, no sync at all. */
		c.cts.bus_width = 32;
		c.cts.sync_period = 9;
		c.cts.sync_offset = 62;
		assert_int_equal(SET(3, CAM_LUN_WILDCARD,
				     CCB_TRANS_BUS_WIDTH_VALID |
					     CCB_TRANS_SYNC_RATE_VALID |
					     CCB_TRANS_SYNC_OFFSET_VALID),
				 CAM_REQ_CMP);
		GET(3, 0, CCB_TRANS_GOAL_SETTINGS);
		assert_int_equal(c.cts.bus_width, 16);
		assert_int_equal(c.cts.sync_period, 0);
		assert_int_equal(c.cts.sync_offset, 0);
		/* Out of range. */
		assert_int_equal(SET(3, 256, CCB_TRANS_TQ_VALID),
				 CAM_LUN_INVALID);
		neg_events = 0;
		break;
	case 1:
		/* The I/O in between negotiated the goal. */
		assert_int_equal(neg_events, 1);
		GET(3, 0, CUR);
		assert_int_equal(c.cts.bus_width, 16);
		/* A bus reset loses every negotiation, and says so. */
		neg_events = 0;
		xpt_setup_ccb(&c.ccb_h, bus, CAM_TARGET_WILDCARD,
			      CAM_LUN_WILDCARD, XPT_RESET_BUS);
		xpt_action(&c);
		assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_CMP);
		assert_int_equal(neg_events, VSCSI_TARGETS);
		GET(3, 0, CUR);
		assert_int_equal(c.cts.bus_width, 8);
		/* A target reset: that target only. */
		neg_events = 0;
		xpt_setup_ccb(&c.ccb_h, bus, 3, CAM_LUN_WILDCARD,
			      XPT_RESET_DEV);
		xpt_action(&c);
		assert_int_equal(neg_events, 1);
		/* Geometry: extended translation only above 1 GiB. */
		xpt_setup_ccb(&c.ccb_h, bus, 3, 0, XPT_CALC_GEOMETRY);
		c.ccg.block_size = 512;
		c.ccg.volume_size = 4 * 2048;
		xpt_action(&c);
		assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_CMP);
		assert_int_equal(c.ccg.heads, 64);
		assert_int_equal(c.ccg.secs_per_track, 32);
		assert_int_equal(c.ccg.cylinders, 4);
		c.ccg.volume_size = 4ull * 1024 * 2048;
		xpt_action(&c);
		assert_int_equal(c.ccg.heads, 255);
		assert_int_equal(c.ccg.secs_per_track, 63);
		c.ccg.block_size = 0;
		xpt_action(&c);
		assert_int_equal(cam_ccb_status(c.ccb_h.status),
				 CAM_REQ_INVALID);
		/* ABORT of a non-I/O CCB, of one not held. */
		memset(&other, 0, sizeof(other));
		other.ccb_h.func_code = XPT_PATH_INQ;
		xpt_setup_ccb(&c.ccb_h, bus, 3, 0, XPT_ABORT);
		c.cab.abort_ccb = &other;
		xpt_action(&c);
		assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_UA_ABORT);
		other.ccb_h.func_code = XPT_SCSI_IO;
		xpt_setup_ccb(&c.ccb_h, bus, 3, 0, XPT_ABORT);
		c.cab.abort_ccb = &other;
		xpt_action(&c);
		assert_int_equal(cam_ccb_status(c.ccb_h.status),
				 CAM_PATH_INVALID);
		/* A func code the SIM does not know. */
		xpt_setup_ccb(&c.ccb_h, bus, 3, 0, 0x7f);
		xpt_action(&c);
		assert_int_equal(cam_ccb_status(c.ccb_h.status),
				 CAM_REQ_INVALID);
		xpt_register_async(0, neg_async, NULL, bus,
				   CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD);
		break;
	}
}

static void test_cam_answers(void **state)
{
	struct sim_fix *f = *state;
	struct cam_step cs = {.e = &f->e};
	struct vt_io *io;

	assert_int_equal(cam_sync_call(f->e.loop, cam_step_fn, &cs), 0);
	io = vt_submit(&f->e, 3, 0, cdb_tur, 6, CAM_DIR_NONE, 0);
	vt_send_t2i(f->fd, expect_cmd(f, cdb_tur, VSCSI_DIR_NONE, 0),
		    VSCSI_STAT_DONE, 0, NULL, 0, 0, NULL, 0);
	assert_int_equal(cam_ccb_status(vt_wait_io(io)), CAM_REQ_CMP);
	vt_io_free(io);
	cs.step = 1;
	assert_int_equal(cam_sync_call(f->e.loop, cam_step_fn, &cs), 0);
	/* The resets reached the userland end as events. */
	while (vt_recv(f->fd, f->m, 300))
		assert_int_equal(f->m->h.type, VSCSI_MSG_EVENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_chunks, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_inline, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_write_pull, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_disconnect_resets, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_broken_framing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cam_answers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stall, setup_all_inline,
						teardown),
		cmocka_unit_test_setup_teardown(test_polled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure,
						setup_all_inline,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
