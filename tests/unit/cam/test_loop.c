/*
 * Unit tests of CAM through the loop SIM and the target engine (on mem
 * bdevs): bus scan adding and losing devices, every func code, every
 * status value of the error summary and the status flags produced through
 * fault injection, peripheral retries, the timeout escalation, requeue
 * under resource shortage, and the da peripheral as a bdev.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/target.h>

static struct ev_loop *loop;
static struct cam_loop *lp;
static uint32_t bus;
static int found, lost, bdr_events, reset_events, neg_events;

static void spin_ms(int ms)
{
	uint64_t end = ev_now_ms() + (uint64_t)ms;

	while (ev_now_ms() < end)
		ev_loop_run_once(loop, 1);
}

static void on_async(void *arg, uint32_t code, struct cam_path *path, void *a)
{
	(void)arg;
	(void)path;
	(void)a;
	switch (code) {
	case AC_FOUND_DEVICE: found++; break;
	case AC_LOST_DEVICE: lost++; break;
	case AC_SENT_BDR: bdr_events++; break;
	case AC_BUS_RESET: reset_events++; break;
	case AC_TRANSFER_NEG: neg_events++; break;
	}
}

struct io {
	union ccb ccb;
	int done;
	int err;
	bool recover;
};

static void io_done(union ccb *ccb)
{
	struct io *x = (struct io *)ccb;

	if (x->recover) {
		int e = cam_periph_error(ccb);

		if (e == CAM_PERIPH_RETRIED)
			return;
		x->err = e;
	}
	x->done = 1;
}

static uint32_t run_cmd(struct io *x, uint32_t t, uint64_t l,
			const uint8_t *cdb, uint8_t cdb_len, uint32_t dir,
			void *buf, uint32_t len, int retries, uint32_t tmo)
{
	uint64_t end = ev_now_ms() + 10000;

	memset(x, 0, sizeof(*x));
	xpt_setup_ccb(&x->ccb.ccb_h, bus, t, l, XPT_SCSI_IO);
	cam_fill_csio(&x->ccb.csio, io_done, dir, MSG_SIMPLE_Q_TAG, buf, len,
		      SCSI_SENSE_FIXED_LEN + 14, cdb, cdb_len, tmo);
	x->ccb.ccb_h.retry_count = retries;
	x->recover = retries > 0;
	xpt_action(&x->ccb);
	while (!x->done && ev_now_ms() < end)
		ev_loop_run_once(loop, 5);
	assert_int_equal(x->done, 1);
	return x->ccb.ccb_h.status;
}

static const uint8_t tur[6] = {SCSI_TEST_UNIT_READY};

static uint32_t tur_st(uint32_t t, uint64_t l, struct io *x)
{
	return run_cmd(x, t, l, tur, 6, CAM_DIR_NONE, NULL, 0, 0, 5000);
}

static struct io scan_io;
static void scan_done(union ccb *ccb)
{
	(void)ccb;
	scan_io.done = 1;
}

static uint32_t rescan(void)
{
	memset(&scan_io, 0, sizeof(scan_io));
	xpt_setup_ccb(&scan_io.ccb.ccb_h, bus, CAM_TARGET_WILDCARD,
		      CAM_LUN_WILDCARD, XPT_SCAN_BUS);
	scan_io.ccb.ccb_h.cbfcnp = scan_done;
	xpt_action(&scan_io.ccb);
	for (int i = 0; i < 5000 && !scan_io.done; i++)
		ev_loop_run_once(loop, 2);
	assert_int_equal(scan_io.done, 1);
	return scan_io.ccb.ccb_h.status;
}

static int setup(void **state)
{
	char err[128];
	int rc;

	(void)state;
	loop = ev_loop_create();
	ev_loop_run_once(loop, 0);
	found = lost = bdr_events = reset_events = neg_events = 0;
	rc = cam_loop_create_url("loop:targets=2,luns=2,size=4M,maxio=64K",
				 loop, &lp, err, sizeof(err));
	if (rc < 0) {
		print_error("%s\n", err);
		return -1;
	}
	bus = (uint32_t)rc;
	xpt_bus_set_timeouts(bus, 30, 30, 0);
	xpt_register_async(AC_FOUND_DEVICE | AC_LOST_DEVICE | AC_SENT_BDR |
				   AC_BUS_RESET | AC_TRANSFER_NEG,
			   on_async, NULL, bus, CAM_TARGET_WILDCARD,
			   CAM_LUN_WILDCARD);
	if (cam_ccb_status(rescan()) != CAM_REQ_CMP)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	xpt_register_async(0, on_async, NULL, bus, CAM_TARGET_WILDCARD,
			   CAM_LUN_WILDCARD);
	spin_ms(5);
	cam_loop_destroy(lp);
	for (int i = 0; i < 10; i++)
		ev_loop_run_once(loop, 0);
	ev_loop_destroy(loop);
	bdev_registry_clear();
	return 0;
}

static void test_scan(void **state)
{
	struct cam_dev_info d[8];
	(void)state;

	assert_int_equal(found, 4);
	assert_int_equal(xpt_dev_list(bus, d, 8), 4);
	assert_int_equal(d[0].target, 0);
	assert_int_equal(d[0].lun, 0);
	assert_int_equal(d[3].target, 1);
	assert_int_equal(d[3].lun, 1);
	assert_int_equal(d[0].inq[0] & 0x1f, SCSI_TYPE_DISK);
	assert_true(d[0].tagged);
	/* A rescan finds nothing new. */
	rescan();
	assert_int_equal(found, 4);
	assert_int_equal(lost, 0);
	/* Target 1 goes away: its two LUNs are lost. */
	assert_int_equal(cam_loop_detach_target(lp, 1), 0);
	rescan();
	assert_int_equal(lost, 2);
	assert_int_equal(xpt_dev_list(bus, d, 8), 2);
	/* A LUN added to target 0 is found. */
	struct bdev *bd = bdev_mem_create("extra", 1 << 20, 512, false);
	struct tgt_lun *lun = tgt_lun_create(bd, NULL);
	assert_int_equal(tgt_target_add_lun(cam_loop_target(lp, 0), 5, lun), 0);
	tgt_lun_release(lun);
	bdev_release(bd);
	rescan();
	assert_int_equal(found, 5);
	assert_int_equal(xpt_dev_list(bus, d, 8), 3);
	assert_int_equal(d[2].lun, 5);
}

static void test_func_codes(void **state)
{
	union ccb c;
	(void)state;

	/* XPT_PATH_INQ: every field. */
	memset(&c, 0, sizeof(c));
	xpt_setup_ccb(&c.ccb_h, bus, 0, 0, XPT_PATH_INQ);
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_CMP);
	assert_int_equal(c.cpi.version_num, 1);
	assert_true(c.cpi.hba_inquiry & PI_TAG_ABLE);
	assert_true(c.cpi.hba_inquiry & PI_WIDE_16);
	assert_true(c.cpi.hba_inquiry & PI_SDTR_ABLE);
	assert_int_equal(c.cpi.target_sprt, 0);
	assert_int_equal(c.cpi.hba_eng_cnt, 0);
	assert_int_equal(c.cpi.max_target, 7);
	assert_int_equal(c.cpi.max_lun, 7);
	assert_int_equal(c.cpi.initiator_id, 8);
	assert_int_equal(c.cpi.base_transfer_speed, 3300);
	assert_int_equal(c.cpi.bus_id, 0);
	assert_string_equal(c.cpi.dev_name, "loop");
	assert_string_equal(c.cpi.sim_vid, "scsikit");
	assert_int_equal(c.cpi.maxio, 64 * 1024);
	assert_true(c.cpi.hpath_id >= bus);

	/* XPT_CALC_GEOMETRY. */
	xpt_setup_ccb(&c.ccb_h, bus, 0, 0, XPT_CALC_GEOMETRY);
	c.ccg.block_size = 512;
	c.ccg.volume_size = 4 * 2048;	/* 4 MiB */
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_CMP);
	assert_int_equal(c.ccg.heads, 64);
	assert_int_equal(c.ccg.secs_per_track, 32);
	assert_int_equal(c.ccg.cylinders, 4);
	c.ccg.volume_size = 4ull * 1024 * 2048; /* 4 GiB: extended */
	xpt_action(&c);
	assert_int_equal(c.ccg.heads, 255);
	assert_int_equal(c.ccg.secs_per_track, 63);

	/* XPT_SET/GET_TRAN_SETTINGS: truncated to what the SIM can do. */
	xpt_setup_ccb(&c.ccb_h, bus, 0, CAM_LUN_WILDCARD,
		      XPT_SET_TRAN_SETTINGS);
	c.cts.flags = CCB_TRANS_CURRENT_SETTINGS;
	c.cts.valid = CCB_TRANS_BUS_WIDTH_VALID | CCB_TRANS_SYNC_OFFSET_VALID |
		      CCB_TRANS_SYNC_RATE_VALID;
	c.cts.bus_width = 32;
	c.cts.sync_offset = 200;
	c.cts.sync_period = 1;
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_CMP);
	xpt_setup_ccb(&c.ccb_h, bus, 0, 0, XPT_GET_TRAN_SETTINGS);
	c.cts.flags = CCB_TRANS_GOAL_SETTINGS;
	xpt_action(&c);
	assert_int_equal(c.cts.bus_width, 16);
	assert_int_equal(c.cts.sync_offset, 62);
	assert_int_equal(c.cts.sync_period, 9);
	/* A new goal: narrow, offset 10. */
	xpt_setup_ccb(&c.ccb_h, bus, 0, CAM_LUN_WILDCARD,
		      XPT_SET_TRAN_SETTINGS);
	c.cts.flags = CCB_TRANS_CURRENT_SETTINGS;
	c.cts.valid = CCB_TRANS_BUS_WIDTH_VALID | CCB_TRANS_SYNC_OFFSET_VALID;
	c.cts.bus_width = 8;
	c.cts.sync_offset = 10;
	xpt_action(&c);
	/* Current is unchanged until the next I/O negotiates. */
	xpt_setup_ccb(&c.ccb_h, bus, 0, 0, XPT_GET_TRAN_SETTINGS);
	c.cts.flags = CCB_TRANS_CURRENT_SETTINGS;
	xpt_action(&c);
	assert_int_equal(c.cts.valid & CCB_TRANS_ALL_VALID, CCB_TRANS_ALL_VALID);
	assert_int_equal(c.cts.bus_width, 16);
	int before = neg_events;
	struct io x;
	assert_int_equal(cam_ccb_status(run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE,
						NULL, 0, 4, 5000)),
			 CAM_REQ_CMP);
	assert_int_equal(neg_events, before + 1);
	xpt_action(&c);
	assert_int_equal(c.cts.bus_width, 8);
	assert_int_equal(c.cts.sync_offset, 10);
	/* User settings are remembered. */
	xpt_setup_ccb(&c.ccb_h, bus, 0, 1, XPT_SET_TRAN_SETTINGS);
	c.cts.flags = CCB_TRANS_USER_SETTINGS;
	c.cts.valid = CCB_TRANS_BUS_WIDTH_VALID | CCB_TRANS_DISC_VALID;
	c.cts.bus_width = 8;
	xpt_action(&c);
	xpt_setup_ccb(&c.ccb_h, bus, 0, 1, XPT_GET_TRAN_SETTINGS);
	c.cts.flags = CCB_TRANS_USER_SETTINGS;
	xpt_action(&c);
	assert_int_equal(c.cts.bus_width, 8);
	assert_false(c.cts.flags & CCB_TRANS_DISC_ENB);
	/* Tags off on LUN 1: openings drop to 1 (per LUN). */
	xpt_setup_ccb(&c.ccb_h, bus, 0, 1, XPT_SET_TRAN_SETTINGS);
	c.cts.flags = CCB_TRANS_CURRENT_SETTINGS;
	c.cts.valid = CCB_TRANS_TQ_VALID;
	xpt_action(&c);
	struct cam_dev_info d[8];
	unsigned n = xpt_dev_list(bus, d, 8);
	assert_true(n >= 2);
	assert_true(d[0].tagged);
	assert_int_equal(d[0].openings, 64);
	assert_false(d[1].tagged);
	assert_int_equal(d[1].openings, 1);
	/* Per-LUN settings need a LUN. */
	xpt_setup_ccb(&c.ccb_h, bus, 0, CAM_LUN_WILDCARD,
		      XPT_SET_TRAN_SETTINGS);
	c.cts.flags = CCB_TRANS_CURRENT_SETTINGS;
	c.cts.valid = CCB_TRANS_TQ_VALID;
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_LUN_INVALID);

	/* XPT_RESET_DEV and XPT_RESET_BUS post their events. */
	xpt_setup_ccb(&c.ccb_h, bus, 0, CAM_LUN_WILDCARD, XPT_RESET_DEV);
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_CMP);
	assert_int_equal(bdr_events, 1);
	xpt_setup_ccb(&c.ccb_h, bus, 6, CAM_LUN_WILDCARD, XPT_RESET_DEV);
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_SEL_TIMEOUT);
	xpt_setup_ccb(&c.ccb_h, bus, CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD,
		      XPT_RESET_BUS);
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_CMP);
	assert_int_equal(reset_events, 1);
	/* After the reset the device reports a unit attention: periph
	 * recovery retries it away. */
	assert_int_equal(cam_ccb_status(run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE,
						NULL, 0, 3, 5000)),
			 CAM_REQ_CMP);
	assert_int_equal(x.err, 0);

	/* XPT_ABORT of something the SIM does not hold; of a non-I/O. */
	union ccb other;
	memset(&other, 0, sizeof(other));
	other.ccb_h.func_code = XPT_SCSI_IO;
	xpt_setup_ccb(&c.ccb_h, bus, 0, 0, XPT_ABORT);
	c.cab.abort_ccb = &other;
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_PATH_INVALID);
	other.ccb_h.func_code = XPT_PATH_INQ;
	xpt_setup_ccb(&c.ccb_h, bus, 0, 0, XPT_ABORT);
	c.cab.abort_ccb = &other;
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_UA_ABORT);
	/* An unknown function. */
	xpt_setup_ccb(&c.ccb_h, bus, 0, 0, 0x7f);
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_INVALID);
}

static void add_fault(const char *spec)
{
	struct cam_loop_fault f;

	assert_int_equal(cam_loop_fault_parse(spec, &f), 0);
	assert_true(cam_loop_fault_add(lp, &f) >= 0);
}

static void test_statuses(void **state)
{
	struct io x;
	uint32_t st;
	uint8_t buf[4096];
	uint8_t rd10[10] = {SCSI_READ_10, 0, 0, 0, 0, 0, 0, 0, 8, 0};
	(void)state;

	/* Clear the power-on unit attentions first. */
	run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	run_cmd(&x, 0, 1, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	assert_int_equal(cam_ccb_status(tur_st(0, 0, &x)), CAM_REQ_CMP);
	assert_int_equal(x.ccb.csio.resid, 0);

	/* Addressing errors. */
	assert_int_equal(cam_ccb_status(tur_st(100, 0, &x)), CAM_TID_INVALID);
	assert_int_equal(cam_ccb_status(tur_st(0, 100, &x)), CAM_LUN_INVALID);
	st = tur_st(5, 0, &x);
	assert_int_equal(cam_ccb_status(st), CAM_SEL_TIMEOUT);
	assert_true(st & CAM_DEV_QFRZN);
	struct cam_path *p;
	xpt_create_path(&p, NULL, bus, 5, 0);
	assert_int_equal(xpt_devq_frozen(p), 0);	/* released after */
	xpt_free_path(p);
	/* Too big for the adapter. */
	static uint8_t big[128 * 1024];
	uint8_t rdbig[10] = {SCSI_READ_10, 0, 0, 0, 0, 0, 0, 1, 0, 0};
	st = run_cmd(&x, 0, 0, rdbig, 10, CAM_DIR_IN, big, sizeof(big), 0, 5000);
	assert_int_equal(cam_ccb_status(st), CAM_REQ_TOO_BIG);

	/* A real CHECK CONDITION from the engine, with autosense. */
	uint8_t bad[10] = {SCSI_READ_10, 0, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0};
	st = run_cmd(&x, 0, 0, bad, 10, CAM_DIR_IN, buf, 512, 0, 5000);
	assert_int_equal(cam_ccb_status(st), CAM_SCSI_STATUS_ERROR);
	assert_true(st & CAM_AUTOSNS_VALID);
	assert_int_equal(x.ccb.csio.scsi_status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(cam_periph_error(&x.ccb), -EINVAL);

	/* Injected: BUSY. */
	add_fault("busy,count=1");
	st = tur_st(0, 0, &x);
	assert_int_equal(cam_ccb_status(st), CAM_SCSI_STATUS_ERROR);
	assert_int_equal(x.ccb.csio.scsi_status, SCSI_STATUS_BUSY);
	/* CHECK CONDITION with the given sense (autosense by the SIM). */
	add_fault("check=3/11/0,count=1");
	st = run_cmd(&x, 0, 0, rd10, 10, CAM_DIR_IN, buf, 4096, 0, 5000);
	assert_int_equal(cam_ccb_status(st), CAM_SCSI_STATUS_ERROR);
	assert_true(st & CAM_AUTOSNS_VALID);
	assert_int_equal(x.ccb.csio.sense_data[2] & 0xf, SCSI_SK_MEDIUM_ERROR);
	assert_int_equal(x.ccb.csio.sense_data[12], 0x11);
	/* CHECK CONDITION without sense: the XPT's REQUEST SENSE gets it. */
	add_fault("nosense=6/29/0,count=1");
	st = tur_st(0, 0, &x);
	assert_int_equal(cam_ccb_status(st), CAM_SCSI_STATUS_ERROR);
	assert_true(st & CAM_AUTOSNS_VALID);
	assert_int_equal(x.ccb.csio.sense_data[2] & 0xf,
			 SCSI_SK_UNIT_ATTENTION);
	/* ... and when the REQUEST SENSE fails: CAM_AUTOSENSE_FAIL. */
	add_fault("nosense=6/29/0,count=1");
	add_fault("seltimeout,op=3,count=1");
	st = tur_st(0, 0, &x);
	assert_int_equal(cam_ccb_status(st), CAM_AUTOSENSE_FAIL);
	cam_loop_fault_clear(lp);
	/* Unexpected bus free: the device queue was frozen, then released. */
	add_fault("busfree,count=1");
	st = run_cmd(&x, 0, 0, rd10, 10, CAM_DIR_IN, buf, 4096, 0, 5000);
	assert_int_equal(cam_ccb_status(st), CAM_UNEXP_BUSFREE);
	assert_true(st & CAM_DEV_QFRZN);
	assert_int_equal(x.ccb.csio.resid, 4096);
	/* A bus reset hits the command. */
	int r0 = reset_events;
	add_fault("busreset,count=1");
	st = tur_st(0, 0, &x);
	assert_int_equal(cam_ccb_status(st), CAM_SCSI_BUS_RESET);
	assert_int_equal(reset_events, r0 + 1);
	/* A fatal adapter error: reset, the command fails as an HBA error. */
	add_fault("hbaerror,count=1");
	st = tur_st(0, 0, &x);
	assert_int_equal(cam_ccb_status(st), CAM_UNREC_HBA_ERROR);
	assert_int_equal(reset_events, r0 + 2);
	run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	/* Statuses the loop has no natural cause for, on demand. */
	static const char *const by_name[] = {
		"UNCOR_PARITY", "DATA_RUN_ERR", "MSG_REJECT_REC", "REQ_CMP_ERR",
		"UNREC_HBA_ERROR", "RESRC_UNAVAIL", "REQ_TERMIO",
	};
	static const uint32_t want[] = {
		CAM_UNCOR_PARITY, CAM_DATA_RUN_ERR, CAM_MSG_REJECT_REC,
		CAM_REQ_CMP_ERR, CAM_UNREC_HBA_ERROR, CAM_RESRC_UNAVAIL,
		CAM_REQ_TERMIO,
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char spec[64];

		snprintf(spec, sizeof(spec), "status=%s,count=1,qfrzn",
			 by_name[i]);
		add_fault(spec);
		st = tur_st(0, 0, &x);
		assert_int_equal(cam_ccb_status(st), want[i]);
		assert_true(st & CAM_DEV_QFRZN);
	}
	/* A dropped command times out (the abort finds it). */
	add_fault("drop,count=1");
	st = run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 0, 20);
	assert_int_equal(cam_ccb_status(st), CAM_CMD_TIMEOUT);
	assert_int_equal(cam_loop_active(lp), 0);
	/* A device reset returns held commands as CAM_BDR_SENT. */
	add_fault("drop,count=1");
	memset(&x, 0, sizeof(x));
	xpt_setup_ccb(&x.ccb.ccb_h, bus, 0, 0, XPT_SCSI_IO);
	cam_fill_csio(&x.ccb.csio, io_done, CAM_DIR_NONE, MSG_SIMPLE_Q_TAG,
		      NULL, 0, 18, tur, 6, CAM_TIME_INFINITY);
	xpt_action(&x.ccb);
	spin_ms(2);
	assert_int_equal(cam_loop_active(lp), 1);
	/* Held by the SIM: CAM_SIM_QUEUED, cleared when it comes back. */
	assert_true(x.ccb.ccb_h.status & CAM_SIM_QUEUED);
	union ccb c;
	memset(&c, 0, sizeof(c));
	xpt_setup_ccb(&c.ccb_h, bus, 0, CAM_LUN_WILDCARD, XPT_RESET_DEV);
	xpt_action(&c);
	spin_ms(2);
	assert_int_equal(x.done, 1);
	assert_int_equal(cam_ccb_status(x.ccb.ccb_h.status), CAM_BDR_SENT);
	assert_false(x.ccb.ccb_h.status & CAM_SIM_QUEUED);
	/* XPT_ABORT of a held command: CAM_REQ_ABORTED. */
	add_fault("drop,count=1");
	memset(&x, 0, sizeof(x));
	xpt_setup_ccb(&x.ccb.ccb_h, bus, 0, 0, XPT_SCSI_IO);
	cam_fill_csio(&x.ccb.csio, io_done, CAM_DIR_NONE, MSG_SIMPLE_Q_TAG,
		      NULL, 0, 18, tur, 6, CAM_TIME_INFINITY);
	xpt_action(&x.ccb);
	spin_ms(2);
	xpt_setup_ccb(&c.ccb_h, bus, 0, 0, XPT_ABORT);
	c.cab.abort_ccb = &x.ccb;
	xpt_action(&c);
	assert_int_equal(cam_ccb_status(c.ccb_h.status), CAM_REQ_CMP);
	spin_ms(2);
	assert_int_equal(cam_ccb_status(x.ccb.ccb_h.status), CAM_REQ_ABORTED);
	/* The device reset above left a unit attention: clear it. */
	run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	/* Resource shortage: requeued, then done once the SIM recovers. */
	add_fault("shortage,count=2");
	st = tur_st(0, 0, &x);
	assert_int_equal(cam_ccb_status(st), CAM_REQ_CMP);
	assert_int_equal(xpt_simq_frozen(cam_loop_sim(lp)), 0);
	/* A delay still completes. */
	add_fault("delay=20,count=1");
	uint64_t t0 = ev_now_ms();
	assert_int_equal(cam_ccb_status(tur_st(0, 0, &x)), CAM_REQ_CMP);
	assert_true(ev_now_ms() - t0 >= 15);
	assert_true(cam_loop_fault_hits(lp) >= 20);
}

static void test_periph_retries(void **state)
{
	struct io x;
	uint32_t st;
	(void)state;

	run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	/* UNIT ATTENTION and BUSY are retried away. */
	add_fault("check=6/29/0,count=2");
	st = run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	assert_int_equal(cam_ccb_status(st), CAM_REQ_CMP);
	assert_int_equal(x.err, 0);
	assert_int_equal(x.ccb.ccb_h.retry_count, 2);
	add_fault("busy,count=2");
	st = run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	assert_int_equal(x.err, 0);
	add_fault("busfree,count=1");
	st = run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	assert_int_equal(x.err, 0);
	add_fault("shortage,count=1");
	st = run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	assert_int_equal(x.err, 0);
	/* Medium error, illegal request, data protect: no retry. */
	add_fault("check=3/11/0,count=1");
	st = run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	assert_int_equal(x.err, -EIO);
	assert_int_equal(x.ccb.ccb_h.retry_count, 4);
	add_fault("check=5/24/0,count=1");
	run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	assert_int_equal(x.err, -EINVAL);
	add_fault("check=7/27/0,count=1");
	run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	assert_int_equal(x.err, -EROFS);
	/* Retries are bounded. */
	add_fault("busfree,count=10");
	run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 3, 5000);
	assert_int_equal(x.err, -EIO);
	assert_int_equal(x.ccb.ccb_h.retry_count, 0);
	cam_loop_fault_clear(lp);
	/* Selection timeout: not there, no retry. */
	run_cmd(&x, 5, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	assert_int_equal(x.err, -ENXIO);
}

static void test_timeout_escalation(void **state)
{
	struct io x;
	uint32_t st;
	int r0 = reset_events, b0 = bdr_events;
	(void)state;

	add_fault("drop,count=1,noabort,nobdr");
	st = run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 0, 20);
	assert_int_equal(cam_ccb_status(st), CAM_CMD_TIMEOUT);
	assert_int_equal(bdr_events, b0 + 1);
	assert_int_equal(reset_events, r0 + 1);
	/* Abort ignored but the device reset works: no bus reset. */
	add_fault("drop,count=1,noabort");
	st = run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 0, 20);
	assert_int_equal(cam_ccb_status(st), CAM_CMD_TIMEOUT);
	assert_int_equal(bdr_events, b0 + 2);
	assert_int_equal(reset_events, r0 + 1);
	struct cam_dev_info d[4];
	xpt_dev_list(bus, d, 4);
	assert_true(d[0].timeouts >= 2);
}

struct bio {
	struct bdev_io io;
	int done, status;
};

static void bio_cb(struct bdev_io *io, int status, void *arg)
{
	struct bio *b = arg;

	(void)io;
	b->done = 1;
	b->status = status;
}

static int bio_run(struct bdev *bd, enum bdev_io_type type, uint64_t off,
		   void *buf, uint64_t len, uint32_t flags)
{
	struct bio b;
	struct iovec iov[3];
	int rc;

	memset(&b, 0, sizeof(b));
	b.io.type = type;
	b.io.offset = off;
	b.io.length = len;
	b.io.flags = flags;
	if (buf) {
		/* Three pieces, to exercise slicing across iovecs. */
		uint64_t a = len / 3 / 512 * 512;

		iov[0] = (struct iovec){buf, a};
		iov[1] = (struct iovec){(uint8_t *)buf + a, 512};
		iov[2] = (struct iovec){(uint8_t *)buf + a + 512,
					len - a - 512};
		b.io.iov = iov;
		b.io.iovcnt = 3;
	}
	b.io.loop = loop;
	b.io.cb = bio_cb;
	b.io.cb_arg = &b;
	rc = bdev_submit(bd, &b.io);
	if (rc < 0)
		return rc;
	for (int i = 0; i < 5000 && !b.done; i++)
		ev_loop_run_once(loop, 2);
	assert_int_equal(b.done, 1);
	return b.status;
}

static struct bdev *probed;
static int probe_err = 1;
static void probe_cb(struct bdev *bd, int err, void *arg)
{
	(void)arg;
	probed = bd;
	probe_err = err;
}

static void test_da(void **state)
{
	static uint8_t w[256 * 1024], r[256 * 1024];
	(void)state;

	probe_err = 1;
	assert_int_equal(cam_da_probe(bus, 0, 1, "da0", probe_cb, NULL), 0);
	for (int i = 0; i < 5000 && probe_err == 1; i++)
		ev_loop_run_once(loop, 2);
	assert_int_equal(probe_err, 0);
	assert_non_null(probed);
	const struct bdev_geometry *g = bdev_geometry(probed);
	assert_int_equal(g->size, 4 << 20);
	assert_int_equal(g->lbsize, 512);
	assert_int_equal(g->max_xfer, 8 << 20);
	assert_string_equal(bdev_backend(probed), "da");
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 7 + (i >> 9));
	/* 256 KiB: four pieces at the 64 KiB maximum transfer. */
	assert_int_equal(bio_run(probed, BDEV_IO_WRITE, 4096, w, sizeof(w),
				 BDEV_IO_FUA),
			 0);
	assert_int_equal(bio_run(probed, BDEV_IO_READ, 4096, r, sizeof(r), 0),
			 0);
	assert_memory_equal(w, r, sizeof(w));
	assert_int_equal(bio_run(probed, BDEV_IO_FLUSH, 0, NULL, 0, 0), 0);
	if (g->can_discard) {
		assert_int_equal(bio_run(probed, BDEV_IO_DISCARD, 4096, NULL,
					 65536, 0),
				 0);
	}
	/* The device fails a read: the error reaches the bdev user. */
	add_fault("check=3/11/0,count=1");
	assert_int_equal(bio_run(probed, BDEV_IO_READ, 0, r, 4096, 0), -EIO);
	/* Transient errors are hidden. */
	add_fault("busy,count=1");
	assert_int_equal(bio_run(probed, BDEV_IO_READ, 0, r, 4096, 0), 0);
	/* Through the target engine of another stack: a LUN on a da. */
	struct tgt_lun *lun = tgt_lun_create(probed, NULL);
	assert_non_null(lun);
	tgt_lun_release(lun);
	bdev_release(probed);
	probed = NULL;
	/* No device: probe fails. */
	probe_err = 1;
	assert_int_equal(cam_da_probe(bus, 5, 0, NULL, probe_cb, NULL), 0);
	for (int i = 0; i < 5000 && probe_err == 1; i++)
		ev_loop_run_once(loop, 2);
	assert_int_equal(probe_err, -ENXIO);
}

static void test_polled_loop(void **state)
{
	union ccb c;
	(void)state;

	memset(&c, 0, sizeof(c));
	xpt_setup_ccb(&c.ccb_h, bus, 0, 0, XPT_SCSI_IO);
	cam_fill_csio(&c.csio, NULL, CAM_DIR_NONE, MSG_SIMPLE_Q_TAG, NULL, 0,
		      18, tur, 6, 5000);
	/* First command of the nexus may carry a unit attention. */
	uint32_t st = xpt_polled_action(&c, 2000);
	assert_true(cam_ccb_status(st) == CAM_REQ_CMP ||
		    cam_ccb_status(st) == CAM_SCSI_STATUS_ERROR);
	cam_fill_csio(&c.csio, NULL, CAM_DIR_NONE, MSG_SIMPLE_Q_TAG, NULL, 0,
		      18, tur, 6, 5000);
	for (int i = 0; i < 4; i++)
		st = xpt_polled_action(&c, 2000);
	assert_int_equal(cam_ccb_status(st), CAM_REQ_CMP);
}

static void test_fault_parse(void **state)
{
	struct cam_loop_fault f;
	(void)state;

	assert_int_equal(cam_loop_fault_parse("drop,target=1,lun=2,op=0x28,"
					      "count=3,noabort,nobdr",
					      &f),
			 0);
	assert_int_equal(f.kind, CAM_LOOP_FAULT_DROP);
	assert_int_equal(f.target, 1);
	assert_int_equal(f.lun, 2);
	assert_int_equal(f.opcode, 0x28);
	assert_int_equal(f.count, 3);
	assert_int_equal(f.options, CAM_LOOP_F_IGNORE_ABORT |
					    CAM_LOOP_F_IGNORE_BDR);
	assert_int_equal(cam_loop_fault_parse("status=CAM_UNCOR_PARITY", &f), 0);
	assert_int_equal(f.status, CAM_UNCOR_PARITY);
	assert_int_equal(cam_loop_fault_parse("bogus", &f), -EINVAL);
	assert_int_equal(cam_loop_fault_parse("check=zz", &f), -EINVAL);
	assert_int_equal(cam_loop_fault_parse("busy,what=1", &f), -EINVAL);
	assert_int_equal(cam_loop_fault_parse("", &f), -EINVAL);
	char err[128];
	struct cam_loop *l2;
	assert_true(cam_loop_create_url("loop:targets=x", loop, &l2, err,
					sizeof(err)) < 0);
	assert_true(cam_loop_create_url("iscsi://x", loop, &l2, err,
					sizeof(err)) < 0);
	assert_true(cam_loop_create_url("loop:disk=nope", loop, &l2, err,
					sizeof(err)) < 0);
}

/* Destroying an adapter while the engine still holds a task: the CCB
 * comes back at once, the adapter is freed when the task lets go. */
static void test_destroy_busy(void **state)
{
	struct bdev *mem = bdev_mem_create("held", 1 << 20, 512, false);
	struct bdev *fb = bdev_fault_create("heldf", mem);
	struct tgt_lun *lun = tgt_lun_create(fb, NULL);
	struct tgt_target *t = tgt_target_create("held");
	struct cam_loop_params p = {.name = "loopx", .targets = 1, .luns = 1};
	struct cam_loop *l2 = cam_loop_create(&p);
	struct bdev_fault_rule rule = {.action = BDEV_FAULT_HOLD,
				       .type_mask = 1u << BDEV_IO_READ,
				       .count = -1};
	static uint8_t buf[4096];
	uint8_t rd[10] = {SCSI_READ_10, 0, 0, 0, 0, 0, 0, 0, 8, 0};
	struct io x;
	uint32_t saved = bus;
	(void)state;

	assert_non_null(l2);
	assert_int_equal(tgt_target_add_lun(t, 0, lun), 0);
	assert_int_equal(cam_loop_attach_target(l2, 0, t), 0);
	int b2 = cam_loop_register(l2, loop);
	assert_true(b2 >= 0);
	bus = (uint32_t)b2;
	run_cmd(&x, 0, 0, tur, 6, CAM_DIR_NONE, NULL, 0, 4, 5000);
	assert_int_equal(x.err, 0);
	bdev_fault_set(fb, &rule);
	memset(&x, 0, sizeof(x));
	xpt_setup_ccb(&x.ccb.ccb_h, bus, 0, 0, XPT_SCSI_IO);
	cam_fill_csio(&x.ccb.csio, io_done, CAM_DIR_IN, MSG_SIMPLE_Q_TAG, buf,
		      sizeof(buf), 18, rd, 10, CAM_TIME_INFINITY);
	xpt_action(&x.ccb);
	spin_ms(5);
	assert_int_equal(x.done, 0);
	cam_loop_destroy(l2);
	spin_ms(2);
	assert_int_equal(x.done, 1);
	assert_int_equal(cam_ccb_status(x.ccb.ccb_h.status), CAM_NO_HBA);
	bdev_fault_release_held(fb);
	spin_ms(10);
	bus = saved;
	tgt_lun_release(lun);
	tgt_target_release(t);
	bdev_release(fb);
	bdev_release(mem);
}

int main(void)
{
	log_init("test_loop", SK_LOG_WARN, 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_func_codes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periph_retries, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_timeout_escalation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_da, setup, teardown),
		cmocka_unit_test_setup_teardown(test_polled_loop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_fault_parse, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_destroy_busy, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
