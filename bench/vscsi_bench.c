/*
 * vscsi_bench: what the userland round trip costs.  One target-engine LUN
 * (a mem bdev) is reached two ways from the same CAM loop:
 *   - through the loop SIM (in-process, the engine called directly), and
 *   - through the vscsi SIM, a Unix socket and vscsi_tgtsrv running the
 *     same LUN on another thread (what `scsikit vscsi-target` does, minus
 *     the process boundary, which costs nothing more on a socket);
 * and the same workload runs on each: 4 KiB random READ(10) at queue
 * depth 32 (and then WRITE(10)), for a fixed time.  Prints IOPS for both
 * and the ratio vscsi / loop.
 *
 *   bench_vscsi_bench [SECONDS] [DEPTH] [ROUNDS] [INLINE|off] [SLOT|off]
 *                     [SPIN_US]
 *   (defaults 3, 32, 3, the SIM's inline limit and data area slot size,
 *   0; SLOT off: no shared data area, all data on the socket; SPIN_US:
 *   both loops look for events that long before sleeping)
 *
 * The two SIMs run alternately, ROUNDS times each, and the best round of
 * each is compared: on a shared machine that is the least noisy figure.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>
#include <scsikit/target.h>
#include <scsikit/vscsi.h>

#define MAX_DEPTH 256
#define LUN_BLOCKS ((256u << 20) / 512)

struct drv {
	uint32_t path_id, target;
	bool write;
	unsigned depth;
	atomic_bool stop;
	atomic_uint inflight;
	uint64_t done, errors;
	uint64_t rng;
	union ccb *ccbs[MAX_DEPTH];
	uint8_t *bufs[MAX_DEPTH];
};

static uint32_t drv_rand(struct drv *d)
{
	d->rng ^= d->rng << 13;
	d->rng ^= d->rng >> 7;
	d->rng ^= d->rng << 17;
	return (uint32_t)d->rng;
}

static void drv_issue(struct drv *d, unsigned i);

static void drv_done(union ccb *ccb)
{
	struct drv *d = ccb->ccb_h.periph_priv[0];
	unsigned i = (unsigned)(uintptr_t)ccb->ccb_h.periph_priv[1];

	if (cam_ccb_status(ccb->ccb_h.status) == CAM_REQ_CMP)
		d->done++;
	else if (d->errors++ == 0)
		fprintf(stderr, "first error: %s scsi 0x%02x\n",
			cam_status_name(ccb->ccb_h.status),
			ccb->csio.scsi_status);
	if (atomic_load(&d->stop)) {
		atomic_fetch_sub(&d->inflight, 1);
		return;
	}
	drv_issue(d, i);
}

static void drv_issue(struct drv *d, unsigned i)
{
	uint8_t cdb[10] = {d->write ? 0x2a : 0x28};
	uint32_t lba = (drv_rand(d) % (LUN_BLOCKS / 8)) * 8;
	union ccb *ccb = d->ccbs[i];

	cdb[2] = (uint8_t)(lba >> 24);
	cdb[3] = (uint8_t)(lba >> 16);
	cdb[4] = (uint8_t)(lba >> 8);
	cdb[5] = (uint8_t)lba;
	cdb[8] = 8;
	xpt_setup_ccb(&ccb->ccb_h, d->path_id, d->target, 0, XPT_SCSI_IO);
	cam_fill_csio(&ccb->csio, drv_done,
		      d->write ? CAM_DIR_OUT : CAM_DIR_IN, MSG_SIMPLE_Q_TAG,
		      d->bufs[i], 4096, SCSI_SENSE_FIXED_LEN, cdb, 10, 10000);
	ccb->ccb_h.periph_priv[0] = d;
	ccb->ccb_h.periph_priv[1] = (void *)(uintptr_t)i;
	xpt_action(ccb);
}

static void drv_start(void *arg)
{
	struct drv *d = arg;

	for (unsigned i = 0; i < d->depth; i++) {
		atomic_fetch_add(&d->inflight, 1);
		drv_issue(d, i);
	}
}

static double run(struct ev_loop *loop, uint32_t path_id, uint32_t target,
		  bool write, unsigned depth, unsigned secs, uint64_t *errors)
{
	struct drv *d = calloc(1, sizeof(*d));
	struct timespec t0, t1;
	double s;
	uint64_t done;

	d->path_id = path_id;
	d->target = target;
	d->write = write;
	d->depth = depth;
	d->rng = 0x9e3779b97f4a7c15ull;
	for (unsigned i = 0; i < depth; i++) {
		d->ccbs[i] = xpt_alloc_ccb();
		d->bufs[i] = calloc(1, 4096);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cam_sync_call(loop, drv_start, d);
	sleep(secs);
	atomic_store(&d->stop, true);
	while (atomic_load(&d->inflight) > 0)
		usleep(1000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	done = d->done;
	*errors = d->errors;
	for (unsigned i = 0; i < depth; i++) {
		xpt_free_ccb(d->ccbs[i]);
		free(d->bufs[i]);
	}
	free(d);
	return (double)done / s;
}

static void *loop_main(void *arg)
{
	ev_loop_run(arg);
	return NULL;
}

static void wait_owned(struct ev_loop *loop)
{
	for (int i = 0; i < 5000 && ev_loop_in_thread(loop); i++)
		usleep(1000);
}

struct setup {
	struct ev_loop *loop;
	struct tgt_target *t;
	struct cam_loop *lp;
	struct vscsi_sim *vs;
	const char *path;
	uint32_t inline_max, shm_slot;
	int loop_bus, vscsi_bus;
	char err[256];
};

static void setup_fn(void *arg)
{
	struct setup *s = arg;
	struct cam_loop_params lpp = {.name = "loop", .targets = 1, .luns = 1,
				      .tags = 64};
	struct vscsi_sim_params vp = {.path = s->path, .openings = 64,
				      .inline_max = s->inline_max,
				      .shm_slot = s->shm_slot};

	s->lp = cam_loop_create(&lpp);
	cam_loop_attach_target(s->lp, 0, s->t);
	s->loop_bus = cam_loop_register(s->lp, s->loop);
	s->vs = vscsi_sim_create(&vp, s->loop, s->err, sizeof(s->err));
	s->vscsi_bus = s->vs ? vscsi_sim_path_id(s->vs) : -1;
}

static void teardown_fn(void *arg)
{
	struct setup *s = arg;

	vscsi_sim_destroy(s->vs);
	cam_loop_destroy(s->lp);
}

int main(int argc, char **argv)
{
	unsigned secs = argc > 1 ? (unsigned)atoi(argv[1]) : 3;
	unsigned depth = argc > 2 ? (unsigned)atoi(argv[2]) : 32;
	unsigned rounds = argc > 3 ? (unsigned)atoi(argv[3]) : 3;
	/* Write data inline up to this (0: the SIM's default; "off"). */
	const char *inl = argc > 4 ? argv[4] : NULL;
	const char *slot = argc > 5 ? argv[5] : NULL;
	unsigned spin = argc > 6 ? (unsigned)atoi(argv[6]) : 0;
	char dir[] = "/tmp/skvb.XXXXXX", path[128];
	struct setup s = {0};
	struct ev_loop *uloop;
	pthread_t th, uth;
	struct vscsi_client *c;
	struct vscsi_tgtsrv *srv;
	struct bdev *bd;
	struct tgt_lun *lun;
	int rc = 0;

	if (depth == 0 || depth > MAX_DEPTH || secs == 0 || rounds == 0) {
		fprintf(stderr, "usage: %s [SECONDS] [DEPTH <= %d] [ROUNDS] "
			"[INLINE_BYTES|off] [SLOT_BYTES|off] [SPIN_US]\n",
			argv[0], MAX_DEPTH);
		return 2;
	}
	log_set_level(SK_LOG_WARN);
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	bd = bdev_mem_create("bench", (uint64_t)LUN_BLOCKS * 512, 512, false);
	lun = tgt_lun_create(bd, NULL);
	s.t = tgt_target_create("bench");
	tgt_target_add_lun(s.t, 0, lun);
	/* Touch every block so that reads hit allocated memory. */
	{
		static uint8_t chunk[1 << 20];

		memset(chunk, 0xa5, sizeof(chunk));
		for (uint64_t off = 0; off < (uint64_t)LUN_BLOCKS * 512;
		     off += sizeof(chunk))
			bdev_write_sync(bd, chunk, off, sizeof(chunk), 0);
	}

	s.loop = ev_loop_create();
	ev_loop_set_spin(s.loop, spin);
	s.path = path;
	if (inl)
		s.inline_max = !strcmp(inl, "off") ? VSCSI_INLINE_OFF
						   : (uint32_t)atoi(inl);
	if (slot)
		s.shm_slot = !strcmp(slot, "off") ? VSCSI_SHM_OFF
						  : (uint32_t)atoi(slot);
	pthread_create(&th, NULL, loop_main, s.loop);
	wait_owned(s.loop);
	cam_sync_call(s.loop, setup_fn, &s);
	if (s.loop_bus < 0 || s.vscsi_bus < 0) {
		fprintf(stderr, "setup failed: %s\n", s.err);
		return 1;
	}

	/* The userland end, on a thread of its own. */
	if (vscsi_client_open(path, &c) < 0) {
		fprintf(stderr, "cannot connect to %s\n", path);
		return 1;
	}
	uloop = ev_loop_create();
	ev_loop_set_spin(uloop, spin);
	srv = vscsi_tgtsrv_create(c, uloop);
	vscsi_tgtsrv_add(srv, 0, s.t);
	vscsi_tgtsrv_start(srv, false, NULL, NULL);
	pthread_create(&uth, NULL, loop_main, uloop);
	wait_owned(uloop);

	/* Scan target 0 only on both buses: the XPT walks every device it
	 * knows on each run of a bus, and a full scan of the 256-wide vscsi
	 * bus would leave it 256 (empty) devices to walk -- a cost of the
	 * XPT, not of the vscsi round trip being measured. */
	for (int b = 0; b < 2; b++) {
		union ccb scan;

		memset(&scan, 0, sizeof(scan));
		xpt_setup_ccb(&scan.ccb_h,
			      (uint32_t)(b ? s.vscsi_bus : s.loop_bus), 0,
			      CAM_LUN_WILDCARD, XPT_SCAN_BUS);
		cam_sync_action(s.loop, &scan);
	}
	/* Clear the fresh nexuses' unit attentions. */
	for (int b = 0; b < 2; b++) {
		static const uint8_t tur[6] = {0};
		struct cam_pass_req r = {
			.path_id = (uint32_t)(b ? s.vscsi_bus : s.loop_bus),
			.cdb = tur, .cdb_len = 6, .dir = CAM_DIR_NONE,
			.timeout_ms = 5000, .retries = 4};

		cam_pass_run(s.loop, &r);
	}

	printf("vscsi_bench: 4 KiB random I/O, depth %u, %u rounds of %u s "
	       "per SIM, alternating, one mem LUN\n", depth, rounds, secs);
	for (int w = 0; w < 2; w++) {
		double blo = 0, bvs = 0;

		/* Alternate the two so that load from elsewhere on the
		 * machine hits both alike; report the best round of each. */
		for (unsigned r = 0; r < rounds; r++) {
			uint64_t e1 = 0, e2 = 0;
			double lo = run(s.loop, (uint32_t)s.loop_bus, 0, w,
					depth, secs, &e1);
			double vs = run(s.loop, (uint32_t)s.vscsi_bus, 0, w,
					depth, secs, &e2);

			printf("  %-5s round %u: loop %9.0f  vscsi %9.0f%s\n",
			       w ? "write" : "read", r + 1, lo, vs,
			       e1 || e2 ? "  (errors!)" : "");
			if (e1 || e2)
				rc = 1;
			blo = lo > blo ? lo : blo;
			bvs = vs > bvs ? vs : bvs;
		}
		printf("%-5s loop SIM %9.0f IOPS   vscsi SIM %9.0f IOPS   "
		       "ratio vscsi/loop %.2f\n",
		       w ? "write" : "read", blo, bvs, blo > 0 ? bvs / blo : 0.0);
	}

	cam_sync_call(uloop, (void (*)(void *))vscsi_tgtsrv_destroy, srv);
	ev_loop_stop(uloop);
	pthread_join(uth, NULL);
	ev_loop_destroy(uloop);
	cam_sync_call(s.loop, teardown_fn, &s);
	ev_loop_stop(s.loop);
	pthread_join(th, NULL);
	ev_loop_destroy(s.loop);
	tgt_target_release(s.t);
	tgt_lun_release(lun);
	bdev_release(bd);
	rmdir(dir);
	return rc;
}
