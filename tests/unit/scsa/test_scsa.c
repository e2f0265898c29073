/*
 * Unit tests of the SCSA packet interface over CAM and the loop SIM (the
 * bus runs on its own thread, as a target driver would see it): I/O with
 * the completion callback, DMA sync rules for plain and consistent
 * buffers, PKT_DMA_PARTIAL windows, the three resource callback modes
 * (NULL_FUNC, SLEEP_FUNC, a callback) under shortage, auto request sense
 * and the driver's own REQUEST SENSE without it, pkt_reason for busy,
 * selection timeout, reset, timeout and transport errors with an
 * unchanged resubmission, and polled FLAG_NOINTR packets.
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
#include <scsikit/scsa.h>

static struct ev_loop *loop;
static pthread_t loop_th;
static volatile int loop_started;
static struct cam_loop *lp;
static uint32_t bus;
static struct scsa_hba *hba;
static struct scsa_address addr;

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
	int rc = cam_loop_create_url("loop:targets=1,luns=1,size=4M,maxio=64K",
				     loop, &lp, err, sizeof(err));

	*(int *)arg = rc;
	if (rc >= 0)
		xpt_bus_set_timeouts((uint32_t)rc, 50, 50, 0);
}

static void drop_stack(void *arg)
{
	(void)arg;
	cam_loop_destroy(lp);
}

static int setup(void **state)
{
	struct scsa_hba_limits lim = {.max_pkts = 2, .max_consistent = 1,
				      .dma_max = 8192, .dma_total = 12288};
	int rc = -1;

	(void)state;
	loop = ev_loop_create();
	loop_started = 0;
	pthread_create(&loop_th, NULL, loop_main, NULL);
	while (!__atomic_load_n(&loop_started, __ATOMIC_SEQ_CST))
		usleep(100);
	cam_sync_call(loop, make_stack, &rc);
	if (rc < 0)
		return -1;
	bus = (uint32_t)rc;
	cam_sync_rescan(loop, bus);
	hba = scsa_hba_attach(bus, &lim);
	if (!hba)
		return -1;
	addr = (struct scsa_address){hba, 0, 0};
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	scsa_hba_detach(hba);
	cam_sync_call(loop, drop_stack, NULL);
	ev_loop_stop(loop);
	pthread_join(loop_th, NULL);
	ev_loop_destroy(loop);
	bdev_registry_clear();
	return 0;
}

/* ---- completion plumbing ---- */

static volatile int comp_count;
static volatile int comp_on_loop;
static uint8_t comp_seen[16];	/* first bytes of a consistent read */
static struct scsa_buf *comp_bp;

static void comp(struct scsa_pkt *pkt)
{
	(void)pkt;
	comp_on_loop = ev_loop_in_thread(loop);
	if (comp_bp)
		memcpy(comp_seen, comp_bp->b_addr, sizeof(comp_seen));
	__atomic_add_fetch(&comp_count, 1, __ATOMIC_SEQ_CST);
}

static void wait_comp(int want)
{
	for (int i = 0; i < 5000 && __atomic_load_n(&comp_count,
						    __ATOMIC_SEQ_CST) < want;
	     i++)
		usleep(1000);
	assert_int_equal(comp_count, want);
}

/* Send pkt and wait for its completion. */
static void run_pkt(struct scsa_pkt *pkt)
{
	int before = comp_count;

	pkt->pkt_comp = comp;
	assert_int_equal(scsa_transport(pkt), TRAN_ACCEPT);
	wait_comp(before + 1);
}

static void rw10(uint8_t *cdb, bool rd, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 10);
	cdb[0] = rd ? SCSI_READ_10 : SCSI_WRITE_10;
	scsi_put32(&cdb[2], lba);
	scsi_put16(&cdb[7], blocks);
}

/* Clear the unit attention of the fresh nexus. */
static void clear_ua(void)
{
	struct scsa_pkt *pkt = scsa_init_pkt(&addr, NULL, NULL, 6,
					     sizeof(struct scsa_arq_status), 0,
					     0, NULL_FUNC, NULL);

	assert_non_null(pkt);
	for (int i = 0; i < 3; i++)
		run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
	assert_int_equal(pkt->pkt_scbp[0], SCSI_STATUS_GOOD);
	scsa_destroy_pkt(pkt);
}

/* ---- tests ---- */

static void test_io_and_sync(void **state)
{
	static uint8_t w[4096], r[4096];
	struct scsa_buf wb = {B_WRITE, w, sizeof(w), 0, 0};
	struct scsa_buf rb = {B_READ, r, sizeof(r), 0, 0};
	struct scsa_pkt *pkt;
	(void)state;

	clear_ua();
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 13 + 1);
	pkt = scsa_init_pkt(&addr, NULL, &wb, 10, 1, 16, 0, NULL_FUNC, NULL);
	assert_non_null(pkt);
	assert_non_null(pkt->pkt_private);
	assert_int_equal(pkt->pkt_resid, 0);
	rw10(pkt->pkt_cdbp, false, 8, 8);
	run_pkt(pkt);
	assert_true(comp_on_loop);
	assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
	assert_int_equal(pkt->pkt_scbp[0], SCSI_STATUS_GOOD);
	assert_int_equal(pkt->pkt_resid, 0);
	assert_true(pkt->pkt_state & STATE_XFERRED_DATA);
	assert_true(pkt->pkt_state & STATE_GOT_STATUS);
	scsa_destroy_pkt(pkt);

	pkt = scsa_init_pkt(&addr, NULL, &rb, 10, 1, 0, 0, NULL_FUNC, NULL);
	rw10(pkt->pkt_cdbp, true, 8, 8);
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
	/* Not consistent: the data is in the mapping until a sync. */
	assert_int_equal(r[0], 0);
	scsa_sync_pkt(pkt);
	assert_memory_equal(w, r, sizeof(w));
	memset(r, 0, sizeof(r));
	scsa_destroy_pkt(pkt);	/* destroy syncs too */
	assert_memory_equal(w, r, sizeof(w));

	/* Changed write data reaches the device only after a sync. */
	pkt = scsa_init_pkt(&addr, NULL, &wb, 10, 1, 0, 0, NULL_FUNC, NULL);
	rw10(pkt->pkt_cdbp, false, 8, 8);
	w[0] = 0xee;
	scsa_sync_pkt(pkt);
	run_pkt(pkt);
	scsa_destroy_pkt(pkt);
	pkt = scsa_init_pkt(&addr, NULL, &rb, 10, 1, 0, 0, NULL_FUNC, NULL);
	rw10(pkt->pkt_cdbp, true, 8, 8);
	run_pkt(pkt);
	scsa_destroy_pkt(pkt);
	assert_int_equal(r[0], 0xee);
}

static void test_consistent(void **state)
{
	struct scsa_buf *bp, *bp2;
	struct scsa_pkt *pkt;
	uint8_t cdb[6] = {SCSI_INQUIRY, 0, 0, 0, 36, 0};
	(void)state;

	bp = scsa_alloc_consistent_buf(&addr, NULL, 36, B_READ, NULL_FUNC,
				       NULL);
	assert_non_null(bp);
	assert_true(bp->b_flags & B_CONSISTENT);
	/* Scarce: only one. */
	bp2 = scsa_alloc_consistent_buf(&addr, NULL, 36, B_READ, NULL_FUNC,
					NULL);
	assert_null(bp2);
	pkt = scsa_init_pkt(&addr, NULL, bp, 6, 1, 0, PKT_CONSISTENT,
			    NULL_FUNC, NULL);
	assert_non_null(pkt);
	memcpy(pkt->pkt_cdbp, cdb, 6);
	comp_bp = bp;
	run_pkt(pkt);
	comp_bp = NULL;
	/* Synced before the callback ran. */
	assert_memory_equal(comp_seen + 8, "SCSIKIT ", 8);
	scsa_destroy_pkt(pkt);
	scsa_free_consistent_buf(bp);
	bp2 = scsa_alloc_consistent_buf(&addr, NULL, 36, B_READ, NULL_FUNC,
					NULL);
	assert_non_null(bp2);
	scsa_free_consistent_buf(bp2);
}

static void test_partial_dma(void **state)
{
	static uint8_t w[20000 / 512 * 512 + 512], r[sizeof(w)];
	struct scsa_buf wb = {B_WRITE, w, sizeof(w), 0, 0};
	struct scsa_buf rb = {B_READ, r, sizeof(r), 0, 0};
	struct scsa_pkt *pkt;
	size_t done = 0;
	int windows = 0;
	(void)state;

	clear_ua();
	for (size_t i = 0; i < sizeof(w); i++)
		w[i] = (uint8_t)(i * 31 + 7);
	/* Larger than the DMA window: refused unless partial is allowed. */
	assert_null(scsa_init_pkt(&addr, NULL, &wb, 10, 1, 0, 0, NULL_FUNC,
				  NULL));
	pkt = scsa_init_pkt(&addr, NULL, &wb, 10, 1, 0, PKT_DMA_PARTIAL,
			    NULL_FUNC, NULL);
	assert_non_null(pkt);
	assert_int_equal(pkt->pkt_resid, sizeof(w) - 8192);
	for (;;) {
		size_t len = sizeof(w) - done - pkt->pkt_resid;

		rw10(pkt->pkt_cdbp, false, (uint32_t)(100 + done / 512),
		     (uint16_t)(len / 512));
		run_pkt(pkt);
		assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
		windows++;
		done += len;
		if (done == sizeof(w))
			break;
		/* The next window. */
		assert_ptr_equal(scsa_init_pkt(&addr, pkt, &wb, 10, 1, 0,
					       PKT_DMA_PARTIAL, NULL_FUNC, NULL),
				 pkt);
	}
	assert_int_equal(windows, 3);
	scsa_destroy_pkt(pkt);
	done = 0;
	pkt = scsa_init_pkt(&addr, NULL, &rb, 10, 1, 0, PKT_DMA_PARTIAL,
			    NULL_FUNC, NULL);
	for (;;) {
		size_t len = sizeof(r) - done - pkt->pkt_resid;

		rw10(pkt->pkt_cdbp, true, (uint32_t)(100 + done / 512),
		     (uint16_t)(len / 512));
		run_pkt(pkt);
		scsa_sync_pkt(pkt);
		done += len;
		if (done == sizeof(r))
			break;
		scsa_init_pkt(&addr, pkt, &rb, 10, 1, 0, PKT_DMA_PARTIAL,
			      NULL_FUNC, NULL);
	}
	scsa_destroy_pkt(pkt);
	assert_memory_equal(w, r, sizeof(w));
}

static struct scsa_pkt *cb_pkt;
static volatile int cb_calls;
static int res_cb(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&cb_calls, 1, __ATOMIC_SEQ_CST);
	cb_pkt = scsa_init_pkt(&addr, NULL, NULL, 6, 1, 0, 0, NULL_FUNC, NULL);
	return cb_pkt != NULL;
}

static struct scsa_pkt *sleep_pkt;
static volatile int sleep_done;
static void *sleeper(void *arg)
{
	(void)arg;
	sleep_pkt = scsa_init_pkt(&addr, NULL, NULL, 6, 1, 0, 0, SLEEP_FUNC,
				  NULL);
	__atomic_store_n(&sleep_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_callback_modes(void **state)
{
	struct scsa_pkt *a, *b;
	pthread_t th;
	(void)state;

	a = scsa_init_pkt(&addr, NULL, NULL, 6, 1, 0, 0, NULL_FUNC, NULL);
	b = scsa_init_pkt(&addr, NULL, NULL, 6, 1, 0, 0, NULL_FUNC, NULL);
	assert_non_null(a);
	assert_non_null(b);
	/* NULL_FUNC: fails at once. */
	assert_null(scsa_init_pkt(&addr, NULL, NULL, 6, 1, 0, 0, NULL_FUNC,
				  NULL));
	/* A callback: NULL now, called when a packet comes back. */
	cb_calls = 0;
	cb_pkt = NULL;
	assert_null(scsa_init_pkt(&addr, NULL, NULL, 6, 1, 0, 0, res_cb, NULL));
	usleep(20000);
	assert_int_equal(cb_calls, 0);
	scsa_destroy_pkt(a);
	for (int i = 0; i < 2000 && !cb_pkt; i++)
		usleep(1000);
	assert_int_equal(cb_calls, 1);
	assert_non_null(cb_pkt);
	/* SLEEP_FUNC: waits until one is freed. */
	sleep_done = 0;
	pthread_create(&th, NULL, sleeper, NULL);
	usleep(30000);
	assert_int_equal(sleep_done, 0);
	scsa_destroy_pkt(b);
	pthread_join(th, NULL);
	assert_int_equal(sleep_done, 1);
	assert_non_null(sleep_pkt);
	scsa_destroy_pkt(sleep_pkt);
	scsa_destroy_pkt(cb_pkt);
	/* Consistent buffers follow the same rules. */
	struct scsa_buf *c1 = scsa_alloc_consistent_buf(&addr, NULL, 512,
							B_READ, NULL_FUNC, NULL);
	assert_non_null(c1);
	assert_null(scsa_alloc_consistent_buf(&addr, NULL, 512, B_READ,
					      NULL_FUNC, NULL));
	scsa_free_consistent_buf(c1);
	/* Bad requests. */
	assert_null(scsa_init_pkt(&addr, NULL, NULL, 40, 1, 0, 0, NULL_FUNC,
				  NULL));
	assert_int_equal(scsa_transport(NULL), TRAN_BADPKT);
}

/* The mapping's resources follow the same rules: 12 KiB may be mapped
 * at once, so a second 8 KiB mapping is short while a packet is free. */
static uint8_t map_data[3][8192];
static struct scsa_buf map_bufs[3];
static struct scsa_pkt *map_cb_pkt;
static volatile int map_cb_calls;

static int map_cb(void *arg)
{
	__atomic_add_fetch(&map_cb_calls, 1, __ATOMIC_SEQ_CST);
	map_cb_pkt = scsa_init_pkt(&addr, NULL, arg, 10, 1, 0, 0, NULL_FUNC,
				   NULL);
	return map_cb_pkt != NULL;
}

static struct scsa_pkt *map_sleep_pkt;
static volatile int map_sleep_done;
static void *map_sleeper(void *arg)
{
	map_sleep_pkt = scsa_init_pkt(&addr, NULL, arg, 10, 1, 0, 0,
				      SLEEP_FUNC, NULL);
	__atomic_store_n(&map_sleep_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void test_map_shortage(void **state)
{
	struct scsa_pkt *a, *nodata;
	pthread_t th;
	(void)state;

	for (int i = 0; i < 3; i++)
		map_bufs[i] = (struct scsa_buf){.b_flags = B_WRITE,
						.b_addr = map_data[i],
						.b_bcount = sizeof(map_data[i])};
	a = scsa_init_pkt(&addr, NULL, &map_bufs[0], 10, 1, 0, 0, NULL_FUNC,
			  NULL);
	assert_non_null(a);
	/* NULL_FUNC: fails at once, and the packet it got goes back. */
	assert_null(scsa_init_pkt(&addr, NULL, &map_bufs[1], 10, 1, 0, 0,
				  NULL_FUNC, NULL));
	nodata = scsa_init_pkt(&addr, NULL, NULL, 6, 1, 0, 0, NULL_FUNC,
			       NULL);
	assert_non_null(nodata);
	scsa_destroy_pkt(nodata);
	/* Smaller mappings still fit. */
	map_bufs[2].b_bcount = 4096;
	nodata = scsa_init_pkt(&addr, NULL, &map_bufs[2], 10, 1, 0, 0,
			       NULL_FUNC, NULL);
	assert_non_null(nodata);
	scsa_destroy_pkt(nodata);
	/* A callback: NULL now, called when the mapped bytes come back. */
	map_cb_calls = 0;
	map_cb_pkt = NULL;
	assert_null(scsa_init_pkt(&addr, NULL, &map_bufs[1], 10, 1, 0, 0,
				  map_cb, &map_bufs[1]));
	usleep(20000);
	/* (The packet that went back may have run it already: it found
	 * the bytes still short, returned 0 and stays queued.) */
	assert_null(map_cb_pkt);
	int calls = map_cb_calls;
	scsa_destroy_pkt(a);
	for (int i = 0; i < 2000 && !map_cb_pkt; i++)
		usleep(1000);
	assert_int_equal(map_cb_calls, calls + 1);
	assert_non_null(map_cb_pkt);
	/* SLEEP_FUNC: waits until the bytes are back. */
	map_sleep_done = 0;
	map_bufs[2].b_bcount = 8192;
	pthread_create(&th, NULL, map_sleeper, &map_bufs[2]);
	usleep(30000);
	assert_int_equal(map_sleep_done, 0);
	scsa_destroy_pkt(map_cb_pkt);
	pthread_join(th, NULL);
	assert_int_equal(map_sleep_done, 1);
	assert_non_null(map_sleep_pkt);
	/* The mapped data is the buffer's. */
	scsa_destroy_pkt(map_sleep_pkt);
	/* More than may ever be mapped, with SLEEP_FUNC: fails, no hang. */
	struct scsa_hba_limits lim = {.dma_max = 16384, .dma_total = 16384};
	struct scsa_hba *h2 = scsa_hba_attach(bus, &lim);
	struct scsa_address a2 = {h2, 0, 0};
	static uint8_t big[20000];
	struct scsa_buf bb = {.b_flags = B_WRITE, .b_addr = big,
			      .b_bcount = sizeof(big)};

	assert_null(scsa_init_pkt(&a2, NULL, &bb, 10, 1, 0, 0, SLEEP_FUNC,
				  NULL));
	scsa_hba_detach(h2);
}

static void add_fault(const char *spec)
{
	struct cam_loop_fault f;

	assert_int_equal(cam_loop_fault_parse(spec, &f), 0);
	assert_true(cam_loop_fault_add(lp, &f) >= 0);
}

static void test_sense(void **state)
{
	struct scsa_pkt *pkt;
	struct scsa_arq_status *arq;
	static uint8_t buf[512];
	struct scsa_buf rb = {B_READ, buf, sizeof(buf), 0, 0};
	(void)state;

	clear_ua();
	/* Auto request sense: the sense arrives with the status. */
	pkt = scsa_init_pkt(&addr, NULL, &rb, 10,
			    sizeof(struct scsa_arq_status), 0, 0, NULL_FUNC,
			    NULL);
	rw10(pkt->pkt_cdbp, true, 0xffffff, 1);
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
	assert_true(scsa_sts_chk(pkt->pkt_scbp));
	assert_true(pkt->pkt_state & STATE_ARQ_DONE);
	arq = (struct scsa_arq_status *)pkt->pkt_scbp;
	assert_int_equal(arq->sts_rqpkt_reason, CMP_CMPLT);
	assert_int_equal(arq->sts_sensedata[2] & 0xf, SCSI_SK_ILLEGAL_REQUEST);
	assert_int_equal(pkt->pkt_resid, sizeof(buf));
	scsa_destroy_pkt(pkt);

	/* Without it, the driver sends REQUEST SENSE itself, into a
	 * consistent buffer. */
	assert_int_equal(scsa_ifsetcap(&addr, "auto-rqsense", 0), 1);
	assert_int_equal(scsa_ifgetcap(&addr, "auto-rqsense"), 0);
	pkt = scsa_init_pkt(&addr, NULL, &rb, 10,
			    sizeof(struct scsa_arq_status), 0, 0, NULL_FUNC,
			    NULL);
	rw10(pkt->pkt_cdbp, true, 0xffffff, 1);
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
	assert_true(scsa_sts_chk(pkt->pkt_scbp));
	assert_false(pkt->pkt_state & STATE_ARQ_DONE);
	scsa_destroy_pkt(pkt);
	struct scsa_buf *sb = scsa_alloc_consistent_buf(&addr, NULL, 18,
							B_READ, SLEEP_FUNC,
							NULL);
	pkt = scsa_init_pkt(&addr, NULL, sb, 6, 1, 0, PKT_CONSISTENT,
			    SLEEP_FUNC, NULL);
	uint8_t rs[6] = {SCSI_REQUEST_SENSE, 0, 0, 0, 18, 0};
	memcpy(pkt->pkt_cdbp, rs, 6);
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
	assert_int_equal(((uint8_t *)sb->b_addr)[2] & 0xf,
			 SCSI_SK_ILLEGAL_REQUEST);
	scsa_destroy_pkt(pkt);
	scsa_free_consistent_buf(sb);
	scsa_ifsetcap(&addr, "auto-rqsense", 1);
}

static void test_reasons(void **state)
{
	struct scsa_pkt *pkt;
	static uint8_t buf[4096];
	struct scsa_buf rb = {B_READ, buf, sizeof(buf), 0, 0};
	(void)state;

	clear_ua();
	pkt = scsa_init_pkt(&addr, NULL, &rb, 10,
			    sizeof(struct scsa_arq_status), 0, 0, NULL_FUNC,
			    NULL);
	rw10(pkt->pkt_cdbp, true, 0, 8);
	add_fault("busy,count=1");
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
	assert_true(scsa_sts_busy(pkt->pkt_scbp));
	/* Resubmitted unchanged, it succeeds. */
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
	assert_int_equal(pkt->pkt_scbp[0], SCSI_STATUS_GOOD);
	add_fault("seltimeout,count=1");
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_INCOMPLETE);
	assert_int_equal(pkt->pkt_state, STATE_GOT_BUS);
	add_fault("busreset,count=1");
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_RESET);
	assert_true(pkt->pkt_statistics & STAT_BUS_RESET);
	add_fault("busfree,count=1");
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_UNX_BUS_FREE);
	add_fault("status=UNCOR_PARITY,count=1");
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_TRAN_ERR);
	assert_true(pkt->pkt_statistics & STAT_PERR);
	/* A transport error: resubmit the same packet. */
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
	/* The reset left a unit attention: the status says so. */
	if (scsa_sts_chk(pkt->pkt_scbp))
		run_pkt(pkt);
	assert_int_equal(pkt->pkt_scbp[0], SCSI_STATUS_GOOD);
	assert_int_equal(pkt->pkt_resid, 0);
	/* Time out: pkt_time is in seconds. */
	add_fault("drop,count=1");
	pkt->pkt_time = 1;
	run_pkt(pkt);
	assert_int_equal(pkt->pkt_reason, CMP_TIMEOUT);
	assert_true(pkt->pkt_statistics & STAT_TIMEOUT);
	pkt->pkt_time = 0;
	/* Polled. */
	pkt->pkt_flags = FLAG_NOINTR;
	int before = comp_count;
	assert_int_equal(scsa_transport(pkt), TRAN_ACCEPT);
	assert_int_equal(pkt->pkt_reason, CMP_CMPLT);
	assert_int_equal(comp_count, before);
	scsa_destroy_pkt(pkt);
	assert_string_equal(scsa_reason_name(CMP_TIMEOUT), "CMP_TIMEOUT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_io_and_sync, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_consistent, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_partial_dma, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_map_shortage, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_callback_modes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sense, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reasons, setup, teardown),
	};
	log_init("test_scsa", SK_LOG_WARN, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
