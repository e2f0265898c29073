/*
 * End to end in one process, two loops: CAM + the vscsi SIM on one,
 * vscsi_tgtsrv (the library serving a target-engine LUN) on the other.
 * REQPROBE makes the bus scan find the LUN (AC_FOUND_DEVICE), I/O goes
 * through with its data, REQDETACH loses it (AC_LOST_DEVICE); then the
 * userland end dies with commands held in the engine: every CCB ends with
 * a bus reset, the device detaches, and a new end takes over with the data
 * intact.
 */
#include "vscsi_test.h"

#include <scsikit/bdev.h>
#include <scsikit/scsi.h>
#include <scsikit/target.h>

struct efix {
	struct vt_env e;
	struct ev_loop *tloop;	/* the userland end's loop */
	pthread_t tthr;
	struct bdev *mem, *fault;
	struct tgt_target *tgt;
	struct vscsi_client *c;
	struct vscsi_tgtsrv *srv;
	atomic_int found, lost, gone;
};

static void on_async(void *arg, uint32_t code, struct cam_path *path,
		     void *carg)
{
	struct efix *f = arg;

	(void)carg;
	if (xpt_path_target_id(path) != 3)
		return;
	if (code == AC_FOUND_DEVICE)
		atomic_fetch_add(&f->found, 1);
	else if (code == AC_LOST_DEVICE)
		atomic_fetch_add(&f->lost, 1);
}

static void reg_fn(void *arg)
{
	struct efix *f = arg;

	assert_int_equal(xpt_register_async(AC_FOUND_DEVICE | AC_LOST_DEVICE,
					    on_async, f,
					    (uint32_t)vscsi_sim_path_id(
						    f->e.sim),
					    CAM_TARGET_WILDCARD,
					    CAM_LUN_WILDCARD),
			 0);
}

static void unreg_fn(void *arg)
{
	struct efix *f = arg;

	xpt_register_async(0, on_async, f,
			   (uint32_t)vscsi_sim_path_id(f->e.sim),
			   CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD);
}

static void on_gone(void *arg)
{
	struct efix *f = arg;

	atomic_store(&f->gone, 1);
}

/* Connect a userland end serving f->tgt at id 3 on a fresh loop thread. */
static void end_start(struct efix *f)
{
	int rc = -EBUSY;

	for (int i = 0; i < 200 && rc == -EBUSY; i++) {
		rc = vscsi_client_open(f->e.path, &f->c);
		if (rc == -EBUSY)
			vt_sleep_ms(10);
	}
	assert_int_equal(rc, 0);
	f->tloop = ev_loop_create();
	f->srv = vscsi_tgtsrv_create(f->c, f->tloop);
	assert_non_null(f->srv);
	assert_int_equal(vscsi_tgtsrv_add(f->srv, 3, f->tgt), 0);
	atomic_store(&f->gone, 0);
	/* Before the loop runs: REQPROBE waits for the SIM's answer. */
	assert_int_equal(vscsi_tgtsrv_start(f->srv, true, on_gone, f), 0);
	assert_int_equal(pthread_create(&f->tthr, NULL, vt_loop_main,
					f->tloop),
			 0);
}

static void srv_destroy_fn(void *arg)
{
	vscsi_tgtsrv_destroy(arg);
}

static void end_stop(struct efix *f)
{
	for (int i = 0; i < 1000 && ev_loop_in_thread(f->tloop); i++)
		vt_sleep_ms(1);
	assert_int_equal(cam_sync_call(f->tloop, srv_destroy_fn, f->srv), 0);
	/* Tasks still in the engine finish before the server frees. */
	bdev_fault_clear(f->fault);
	bdev_fault_release_held(f->fault);
	vt_sleep_ms(50);
	ev_loop_stop(f->tloop);
	pthread_join(f->tthr, NULL);
	ev_loop_destroy(f->tloop);
	f->srv = NULL;
	f->c = NULL;
}

static bool dev_configured(struct efix *f)
{
	struct cam_dev_info info[8];
	unsigned n = xpt_dev_list((uint32_t)vscsi_sim_path_id(f->e.sim), info,
				  8);

	for (unsigned i = 0; i < n && i < 8; i++)
		if (info[i].target == 3 && info[i].lun == 0 &&
		    info[i].configured)
			return true;
	return false;
}

static void wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 500 && atomic_load(v) < want; i++)
		vt_sleep_ms(10);
	assert_int_equal(atomic_load(v), want);
}

static uint32_t rw(struct efix *f, bool write, uint32_t lba, void *buf,
		   uint32_t blocks)
{
	uint8_t cdb[10] = {write ? 0x2a : 0x28};
	struct cam_pass_req r;

	scsi_put32(&cdb[2], lba);
	cdb[7] = (uint8_t)(blocks >> 8);
	cdb[8] = (uint8_t)blocks;
	memset(&r, 0, sizeof(r));
	r.path_id = (uint32_t)vscsi_sim_path_id(f->e.sim);
	r.target = 3;
	r.cdb = cdb;
	r.cdb_len = 10;
	r.dir = write ? CAM_DIR_OUT : CAM_DIR_IN;
	r.data = buf;
	r.dxfer_len = blocks * 512;
	r.timeout_ms = 10000;
	r.retries = 4;
	return cam_pass_run(f->e.loop, &r);
}

static void test_end_to_end(void **state)
{
	struct efix *f = calloc(1, sizeof(*f));
	static uint8_t wbuf[65536], rbuf[65536];
	struct tgt_lun *lun;
	uint8_t cdb_rc[10] = {0x25};
	struct cam_pass_req r;
	uint8_t cap[8];
	struct vt_io *io[32];
	struct bdev_fault_rule hold = {.action = BDEV_FAULT_HOLD,
				       .count = -1};

	(void)state;
	vt_start(&f->e, true);
	assert_int_equal(cam_sync_call(f->e.loop, reg_fn, f), 0);
	f->mem = bdev_mem_create("vt-mem", 16 << 20, 512, false);
	f->fault = bdev_fault_create("vt-disk", f->mem);
	lun = tgt_lun_create(f->fault, NULL);
	f->tgt = tgt_target_create("vt-target");
	assert_int_equal(tgt_target_add_lun(f->tgt, 0, lun), 0);
	tgt_lun_release(lun);

	/* REQPROBE: the scan finds 3:0. */
	end_start(f);
	wait_for(&f->found, 1);
	assert_true(dev_configured(f));

	/* I/O with data; READ CAPACITY. */
	for (unsigned i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (uint8_t)(i * 31 + 7);
	assert_int_equal(cam_ccb_status(rw(f, true, 100, wbuf, 128)),
			 CAM_REQ_CMP);
	assert_int_equal(cam_ccb_status(rw(f, false, 100, rbuf, 128)),
			 CAM_REQ_CMP);
	assert_memory_equal(wbuf, rbuf, sizeof(wbuf));
	memset(&r, 0, sizeof(r));
	r.path_id = (uint32_t)vscsi_sim_path_id(f->e.sim);
	r.target = 3;
	r.cdb = cdb_rc;
	r.cdb_len = 10;
	r.dir = CAM_DIR_IN;
	r.data = cap;
	r.dxfer_len = 8;
	r.timeout_ms = 5000;
	assert_int_equal(cam_ccb_status(cam_pass_run(f->e.loop, &r)),
			 CAM_REQ_CMP);
	assert_int_equal(scsi_get32(cap), (16u << 20) / 512 - 1);
	assert_int_equal(scsi_get32(cap + 4), 512);

	/* The userland end dies with 32 commands held in the engine (the
	 * disk holds every I/O) and more queued behind them. */
	bdev_fault_set(f->fault, &hold);
	for (int i = 0; i < 32; i++) {
		static const uint8_t rd[10] = {0x28, 0, 0, 0, 0, 100, 0, 0, 8};

		io[i] = vt_submit(&f->e, 3, 0, rd, 10, CAM_DIR_IN, 4096);
	}
	for (int i = 0; i < 200 && bdev_fault_hits(f->fault) < 16; i++)
		vt_sleep_ms(10);
	assert_true(bdev_fault_hits(f->fault) >= 16);
	end_stop(f);
	for (int i = 0; i < 32; i++) {
		assert_int_equal(cam_ccb_status(vt_wait_io(io[i])),
				 CAM_SCSI_BUS_RESET);
		vt_io_free(io[i]);
	}
	wait_for(&f->lost, 1);
	vt_wait_state(&f->e, VSCSI_S_CLOSED);
	assert_false(dev_configured(f));
	assert_int_equal(vt_stats(&f->e).held, 0);

	/* A new userland end takes over; the data is still there. */
	end_start(f);
	wait_for(&f->found, 2);
	memset(rbuf, 0, sizeof(rbuf));
	assert_int_equal(cam_ccb_status(rw(f, false, 100, rbuf, 128)),
			 CAM_REQ_CMP);
	assert_memory_equal(wbuf, rbuf, sizeof(wbuf));
	end_stop(f);
	vt_wait_state(&f->e, VSCSI_S_CLOSED);

	assert_int_equal(cam_sync_call(f->e.loop, unreg_fn, f), 0);
	vt_stop(&f->e);
	tgt_target_release(f->tgt);
	bdev_release(f->fault);
	bdev_release(f->mem);
	free(f);
}

struct detach_call {
	struct efix *f;
	int rc;
	bool detach;
};

static void devev_fn(void *arg)
{
	struct detach_call *d = arg;

	d->rc = d->detach ? vscsi_reqdetach(d->f->c, 3, 0)
			  : vscsi_reqprobe(d->f->c, 3, 0);
	/* Commands that came while waiting are buffered: serve them. */
	vscsi_client_dispatch(d->f->c);
}

static void test_hotplug(void **state)
{
	struct efix *f = calloc(1, sizeof(*f));
	struct detach_call d = {.f = f};
	static uint8_t buf[4096];
	struct tgt_lun *lun;

	(void)state;
	vt_start(&f->e, true);
	assert_int_equal(cam_sync_call(f->e.loop, reg_fn, f), 0);
	f->mem = bdev_mem_create("vt-mem2", 4 << 20, 512, false);
	f->fault = bdev_fault_create("vt-disk2", f->mem);
	lun = tgt_lun_create(f->fault, NULL);
	f->tgt = tgt_target_create("vt-target2");
	assert_int_equal(tgt_target_add_lun(f->tgt, 0, lun), 0);
	tgt_lun_release(lun);
	end_start(f);
	wait_for(&f->found, 1);

	/* REQDETACH: lost, and I/O finds nobody; REQPROBE: back. */
	d.detach = true;
	assert_int_equal(cam_sync_call(f->tloop, devev_fn, &d), 0);
	assert_int_equal(d.rc, 0);
	wait_for(&f->lost, 1);
	assert_false(dev_configured(f));
	assert_int_equal(cam_ccb_status(rw(f, false, 0, buf, 8)),
			 CAM_DEV_NOT_THERE);
	d.detach = false;
	assert_int_equal(cam_sync_call(f->tloop, devev_fn, &d), 0);
	assert_int_equal(d.rc, 0);
	wait_for(&f->found, 2);
	assert_true(dev_configured(f));
	assert_int_equal(cam_ccb_status(rw(f, false, 0, buf, 8)), CAM_REQ_CMP);

	end_stop(f);
	vt_wait_state(&f->e, VSCSI_S_CLOSED);
	assert_int_equal(cam_sync_call(f->e.loop, unreg_fn, f), 0);
	vt_stop(&f->e);
	tgt_target_release(f->tgt);
	bdev_release(f->fault);
	bdev_release(f->mem);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_end_to_end),
		cmocka_unit_test(test_hotplug),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
