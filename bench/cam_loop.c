/*
 * Benchmark: CCBs per second through the CAM transport and the loop SIM to
 * a target-engine LUN on a mem bdev, 4 KiB READ(10)s at queue depth 1 and
 * 32, on a single reactor (everything on one event loop, this thread).
 * Also the same through the da peripheral (bdev_submit on the da bdev),
 * which adds the bdev layer and da's translation.
 *
 *   bench_cam_loop [SECONDS]     (default 3 per case)
 *
 * Not a test: it prints figures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/log.h>

#define MAXQD 32
#define BLOCKS (64u * 1024 * 1024 / 512)

struct slot {
	union ccb ccb;
	struct bdev_io io;
	uint8_t buf[4096];
	struct iovec iov;
	uint64_t t0;
};

static struct ev_loop *loop;
static uint32_t bus;
static struct bdev *da;
static struct slot slots[MAXQD];
static uint64_t done_ops, lat_ns_sum, errors;
static uint64_t t_end_ns;
static unsigned inflight;
static uint64_t rnd = 88172645463325252ull;

static uint32_t next_lba(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 7;
	rnd ^= rnd << 17;
	return (uint32_t)(rnd % (BLOCKS / 8)) * 8;
}

static void ccb_start(struct slot *s);

static void ccb_done(union ccb *ccb)
{
	struct slot *s = (struct slot *)ccb;
	uint64_t now = ev_now_ns();

	if (cam_ccb_status(ccb->ccb_h.status) != CAM_REQ_CMP)
		errors++;
	done_ops++;
	lat_ns_sum += now - (uint64_t)(uintptr_t)ccb->ccb_h.periph_priv[1];
	inflight--;
	if (now < t_end_ns)
		ccb_start(s);
}

static void ccb_start(struct slot *s)
{
	uint8_t cdb[10] = {SCSI_READ_10};

	scsi_put32(&cdb[2], next_lba());
	scsi_put16(&cdb[7], 8);
	xpt_setup_ccb(&s->ccb.ccb_h, bus, 0, 0, XPT_SCSI_IO);
	cam_fill_csio(&s->ccb.csio, ccb_done, CAM_DIR_IN, MSG_SIMPLE_Q_TAG,
		      s->buf, sizeof(s->buf), SCSI_SENSE_FIXED_LEN, cdb, 10,
		      30000);
	s->ccb.ccb_h.periph_priv[1] = (void *)(uintptr_t)ev_now_ns();
	inflight++;
	xpt_action(&s->ccb);
}

static void bio_start(struct slot *s);

static void bio_done(struct bdev_io *io, int status, void *arg)
{
	struct slot *s = arg;
	uint64_t now = ev_now_ns();

	(void)io;
	if (status)
		errors++;
	done_ops++;
	lat_ns_sum += now - s->t0;
	inflight--;
	if (now < t_end_ns)
		bio_start(s);
}

static void bio_start(struct slot *s)
{
	memset(&s->io, 0, sizeof(s->io));
	s->iov.iov_base = s->buf;
	s->iov.iov_len = sizeof(s->buf);
	s->io.type = BDEV_IO_READ;
	s->io.offset = (uint64_t)next_lba() * 512;
	s->io.length = sizeof(s->buf);
	s->io.iov = &s->iov;
	s->io.iovcnt = 1;
	s->io.loop = loop;
	s->io.cb = bio_done;
	s->io.cb_arg = s;
	inflight++;
	s->t0 = ev_now_ns();
	if (bdev_submit(da, &s->io) < 0) {
		inflight--;
		errors++;
	}
}

static void run_case(const char *what, unsigned qd, double secs, bool via_da)
{
	uint64_t t0;
	double el;

	done_ops = lat_ns_sum = errors = 0;
	t0 = ev_now_ns();
	t_end_ns = t0 + (uint64_t)(secs * 1e9);
	for (unsigned i = 0; i < qd; i++) {
		if (via_da)
			bio_start(&slots[i]);
		else
			ccb_start(&slots[i]);
	}
	while (inflight > 0)
		ev_loop_run_once(loop, 10);
	el = (double)(ev_now_ns() - t0) / 1e9;
	printf("%-28s qd %2u: %10.0f ops/s  %7.1f MiB/s  avg %6.1f us  "
	       "errors %llu\n",
	       what, qd, (double)done_ops / el,
	       (double)done_ops * 4096 / el / (1024 * 1024),
	       done_ops ? (double)lat_ns_sum / (double)done_ops / 1000.0 : 0,
	       (unsigned long long)errors);
}

static struct bdev *probed;
static int probe_err = 1;
static void probe_cb(struct bdev *bd, int err, void *arg)
{
	(void)arg;
	probed = bd;
	probe_err = err;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3.0;
	struct cam_loop *lp;
	char err[128];
	int rc;

	log_init("bench_cam_loop", SK_LOG_WARN, 0);
	if (secs <= 0)
		secs = 3.0;
	loop = ev_loop_create();
	ev_loop_run_once(loop, 0);
	rc = cam_loop_create_url("loop:targets=1,luns=1,size=64M,tags=64", loop,
				 &lp, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "bench_cam_loop: %s\n", err);
		return 1;
	}
	bus = (uint32_t)rc;
	/* Scan, and clear the fresh nexus's unit attention with the da probe
	 * (it retries it away). */
	union ccb scan;
	memset(&scan, 0, sizeof(scan));
	xpt_setup_ccb(&scan.ccb_h, bus, CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD,
		      XPT_SCAN_BUS);
	xpt_polled_action(&scan, 10000);
	cam_da_probe(bus, 0, 0, "da0", probe_cb, NULL);
	while (probe_err == 1)
		ev_loop_run_once(loop, 10);
	if (probe_err) {
		fprintf(stderr, "bench_cam_loop: da probe failed: %d\n",
			probe_err);
		return 1;
	}
	da = probed;
	printf("CAM loop SIM -> target engine -> mem bdev, 4 KiB random reads, "
	       "1 reactor, %.1f s per case\n", secs);
	run_case("XPT_SCSI_IO (CCBs)", 1, secs, false);
	run_case("XPT_SCSI_IO (CCBs)", 32, secs, false);
	run_case("da bdev (bdev_submit)", 1, secs, true);
	run_case("da bdev (bdev_submit)", 32, secs, true);
	bdev_release(da);
	cam_loop_destroy(lp);
	for (int i = 0; i < 10; i++)
		ev_loop_run_once(loop, 0);
	ev_loop_destroy(loop);
	bdev_registry_clear();
	return 0;
}
