/*
 * Unit tests of CAM used from another thread than the bus's loop, as tools
 * and other reactors do: cam_sync_call / cam_sync_action / cam_sync_rescan,
 * the pass peripheral (raw CDBs with and without recovery), and a da disk
 * driven with the synchronous bdev helpers (submitted from a private loop,
 * so the request crosses to the bus's loop and the completion back).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

static struct ev_loop *loop;
static pthread_t loop_th;
static volatile int loop_started;
static struct cam_loop *lp;
static uint32_t bus;

static void *loop_main(void *arg)
{
	(void)arg;
	ev_loop_run_once(loop, 0);
	__atomic_store_n(&loop_started, 1, __ATOMIC_SEQ_CST);
	ev_loop_run(loop);
	return NULL;
}

static void make_stack(void *arg)
{
	char err[128];

	*(int *)arg = cam_loop_create_url("loop:targets=1,luns=2,size=8M,"
					  "maxio=16K",
					  loop, &lp, err, sizeof(err));
}

static void drop_stack(void *arg)
{
	(void)arg;
	cam_loop_destroy(lp);
}

static int setup(void **state)
{
	int rc = -1;

	(void)state;
	loop = ev_loop_create();
	loop_started = 0;
	pthread_create(&loop_th, NULL, loop_main, NULL);
	while (!__atomic_load_n(&loop_started, __ATOMIC_SEQ_CST))
		usleep(100);
	assert_int_equal(cam_sync_call(loop, make_stack, &rc), 0);
	if (rc < 0)
		return -1;
	bus = (uint32_t)rc;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cam_sync_call(loop, drop_stack, NULL);
	ev_loop_stop(loop);
	pthread_join(loop_th, NULL);
	ev_loop_destroy(loop);
	bdev_registry_clear();
	return 0;
}

struct list_ctx {
	struct cam_dev_info d[8];
	unsigned n;
};

static void list_fn(void *arg)
{
	struct list_ctx *c = arg;

	c->n = xpt_dev_list(bus, c->d, 8);
}

static void test_sync_helpers(void **state)
{
	struct list_ctx c;
	union ccb ccb;
	(void)state;

	assert_int_equal(cam_ccb_status(cam_sync_rescan(loop, bus)),
			 CAM_REQ_CMP);
	assert_int_equal(cam_ccb_status(cam_sync_rescan(loop,
							CAM_BUS_WILDCARD)),
			 CAM_REQ_CMP);
	cam_sync_call(loop, list_fn, &c);
	assert_int_equal(c.n, 2);
	memset(&ccb, 0, sizeof(ccb));
	xpt_setup_ccb(&ccb.ccb_h, bus, 0, 0, XPT_PATH_INQ);
	assert_int_equal(cam_ccb_status(cam_sync_action(loop, &ccb)),
			 CAM_REQ_CMP);
	assert_int_equal(ccb.cpi.maxio, 16384);
	/* A bad path comes back as such. */
	xpt_setup_ccb(&ccb.ccb_h, 60, 0, 0, XPT_PATH_INQ);
	assert_int_equal(cam_ccb_status(cam_sync_action(loop, &ccb)),
			 CAM_PATH_INVALID);
}

static void test_pass(void **state)
{
	struct cam_pass_req r;
	uint8_t inq[36];
	uint8_t tur[6] = {SCSI_TEST_UNIT_READY};
	uint8_t cdb[6] = {SCSI_INQUIRY, 0, 0, 0, sizeof(inq), 0};
	(void)state;

	cam_sync_rescan(loop, bus);
	/* Without recovery the fresh nexus's unit attention shows. */
	memset(&r, 0, sizeof(r));
	r.path_id = bus;
	r.cdb = tur;
	r.cdb_len = 6;
	r.dir = CAM_DIR_NONE;
	r.timeout_ms = 5000;
	assert_int_equal(cam_ccb_status(cam_pass_run(loop, &r)),
			 CAM_SCSI_STATUS_ERROR);
	assert_int_equal(r.scsi_status, SCSI_STATUS_CHECK_CONDITION);
	assert_true(r.sense_len >= 14);
	assert_int_equal(r.sense[2] & 0xf, SCSI_SK_UNIT_ATTENTION);
	/* With recovery on LUN 1, it is retried away. */
	r.lun = 1;
	r.retries = 4;
	assert_int_equal(cam_ccb_status(cam_pass_run(loop, &r)), CAM_REQ_CMP);
	assert_int_equal(r.err, 0);
	memset(inq, 0, sizeof(inq));
	r.cdb = cdb;
	r.dir = CAM_DIR_IN;
	r.data = inq;
	r.dxfer_len = sizeof(inq);
	assert_int_equal(cam_ccb_status(cam_pass_run(loop, &r)), CAM_REQ_CMP);
	assert_memory_equal(inq + 8, "SCSIKIT", 7);
	/* Bad requests never reach the bus. */
	r.cdb_len = 0;
	assert_int_equal(cam_pass_run(loop, &r), CAM_REQ_INVALID);
}

static void test_da_sync(void **state)
{
	static uint8_t w[100 * 1024], rd[100 * 1024];
	struct bdev *bd;
	int err = 1;
	(void)state;

	cam_sync_rescan(loop, bus);
	bd = cam_sync_da_probe(loop, bus, 0, 0, "da.sync", &err);
	assert_int_equal(err, 0);
	assert_non_null(bd);
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i ^ (i >> 8));
	/* 100 KiB: seven pieces at the 16 KiB maximum transfer. */
	assert_int_equal(bdev_write_sync(bd, w, 512 * 3, sizeof(w), 0), 0);
	assert_int_equal(bdev_read_sync(bd, rd, 512 * 3, sizeof(rd)), 0);
	assert_memory_equal(w, rd, sizeof(w));
	assert_int_equal(bdev_io_sync(bd, BDEV_IO_FLUSH, 0, 0, 0), 0);
	/* Beyond the end: the bdev layer refuses before CAM sees it. */
	assert_int_equal(bdev_read_sync(bd, rd, 8 << 20, 512), -ERANGE);
	bdev_release(bd);
	/* No device there. */
	assert_null(cam_sync_da_probe(loop, bus, 3, 0, NULL, &err));
	assert_int_equal(err, -ENXIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync_helpers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(test_da_sync, setup, teardown),
	};
	log_init("test_sync", SK_LOG_WARN, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
