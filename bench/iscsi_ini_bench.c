/*
 * Benchmark: 4 KiB random reads through scsikit's iSCSI initiator SIM.
 * One event loop (this thread) runs the session, the XPT and the load:
 * DEPTH READ(10) CCBs kept in flight for SECONDS, each completion starting
 * the next at a random 4 KiB-aligned LBA; then the same through the da
 * peripheral (bdev_submit).  bench/iscsi_ini_bench.sh runs it next to
 * libiscsi's iscsi-perf against the same tgt LUN.
 *
 *   bench_iscsi_ini_bench URL [SECONDS] [DEPTH]   (default 5 s, 32)
 *
 * Prints "ccb IOPS N" and "da IOPS N" lines.  Not a test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/iscsi_ini.h>
#include <scsikit/log.h>

#define MAXQD 256

struct slot {
	union ccb ccb;
	struct bdev_io io;
	uint8_t buf[4096];
	struct iovec iov;
};

static struct ev_loop *loop;
static uint32_t bus;
static uint64_t lun, nblocks;
static struct bdev *da;
static struct slot *slots;
static uint64_t done_ops, errors, t_end_ns;
static unsigned inflight;
static uint64_t rnd = 88172645463325252ull;

static uint64_t next_lba(void)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 7;
	rnd ^= rnd << 17;
	return (rnd % (nblocks / 8)) * 8;
}

static void ccb_start(struct slot *s);

static void ccb_done(union ccb *ccb)
{
	if (cam_ccb_status(ccb->ccb_h.status) != CAM_REQ_CMP)
		errors++;
	done_ops++;
	inflight--;
	if (ev_now_ns() < t_end_ns)
		ccb_start((struct slot *)ccb);
}

static void ccb_start(struct slot *s)
{
	uint8_t cdb[10] = {SCSI_READ_10};

	scsi_put32(&cdb[2], (uint32_t)next_lba());
	scsi_put16(&cdb[7], 8);
	xpt_setup_ccb(&s->ccb.ccb_h, bus, 0, lun, XPT_SCSI_IO);
	cam_fill_csio(&s->ccb.csio, ccb_done, CAM_DIR_IN, MSG_SIMPLE_Q_TAG,
		      s->buf, sizeof(s->buf), SCSI_SENSE_FIXED_LEN, cdb, 10,
		      30000);
	inflight++;
	xpt_action(&s->ccb);
}

static void bio_start(struct slot *s);

static void bio_done(struct bdev_io *io, int status, void *arg)
{
	(void)io;
	if (status)
		errors++;
	done_ops++;
	inflight--;
	if (ev_now_ns() < t_end_ns)
		bio_start(arg);
}

static void bio_start(struct slot *s)
{
	memset(&s->io, 0, sizeof(s->io));
	s->iov.iov_base = s->buf;
	s->iov.iov_len = sizeof(s->buf);
	s->io.type = BDEV_IO_READ;
	s->io.offset = next_lba() * 512;
	s->io.length = sizeof(s->buf);
	s->io.iov = &s->iov;
	s->io.iovcnt = 1;
	s->io.loop = loop;
	s->io.cb = bio_done;
	s->io.cb_arg = s;
	inflight++;
	if (bdev_submit(da, &s->io) < 0) {
		inflight--;
		errors++;
	}
}

static void run_case(const char *what, unsigned qd, double secs, bool via_da)
{
	uint64_t t0 = ev_now_ns();
	double el;

	done_ops = errors = 0;
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
	printf("%s IOPS %.0f (qd %u, %.1f MiB/s, errors %llu)\n", what,
	       (double)done_ops / el, qd,
	       (double)done_ops * 4096 / el / (1024 * 1024),
	       (unsigned long long)errors);
}

static bool scanned;

static void scan_done(union ccb *ccb)
{
	(void)ccb;
	scanned = true;
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
	struct iscsi_ini *s;
	struct iscsi_ini_stats st;
	double secs = argc > 2 ? atof(argv[2]) : 5.0;
	unsigned qd = argc > 3 ? (unsigned)atoi(argv[3]) : 32;
	char err[256];
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_iscsi_ini_bench URL [SECONDS] "
				"[DEPTH]\n");
		return 2;
	}
	if (secs <= 0)
		secs = 5.0;
	if (qd == 0 || qd > MAXQD)
		qd = 32;
	log_init("bench_iscsi_ini", SK_LOG_WARN, 0);
	slots = calloc(MAXQD, sizeof(*slots));
	loop = ev_loop_create();
	if (!slots || !loop)
		return 1;
	ev_loop_run_once(loop, 0);
	rc = cam_iscsi_create_url(argv[1], loop, &s, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "bench_iscsi_ini: %s\n", err);
		return 1;
	}
	bus = (uint32_t)rc;
	lun = iscsi_ini_config(s)->lun == ISCSI_INI_NO_LUN
		      ? 0
		      : iscsi_ini_config(s)->lun;
	for (int i = 0; i < 3000; i++) {
		iscsi_ini_get_stats(s, &st);
		if (!strcmp(st.state, "full") || !strcmp(st.state, "dead"))
			break;
		ev_loop_run_once(loop, 10);
	}
	if (strcmp(st.state, "full") != 0) {
		fprintf(stderr, "bench_iscsi_ini: no session (%s)\n", st.state);
		return 1;
	}
	union ccb scan;

	memset(&scan, 0, sizeof(scan));
	xpt_setup_ccb(&scan.ccb_h, bus, CAM_TARGET_WILDCARD, CAM_LUN_WILDCARD,
		      XPT_SCAN_BUS);
	scan.ccb_h.cbfcnp = scan_done;
	xpt_action(&scan);
	while (!scanned)
		ev_loop_run_once(loop, 10);
	cam_da_probe(bus, 0, lun, "bench", probe_cb, NULL);
	while (probe_err == 1)
		ev_loop_run_once(loop, 10);
	if (probe_err) {
		fprintf(stderr, "bench_iscsi_ini: da probe failed: %d\n",
			probe_err);
		return 1;
	}
	da = probed;
	nblocks = bdev_geometry(da)->size / 512;
	printf("scsikit iSCSI initiator, 4 KiB random reads, %.1f s, "
	       "1 reactor: %s\n", secs, argv[1]);
	run_case("ccb", qd, secs, false);
	run_case("da", qd, secs, true);
	bdev_release(da);
	iscsi_ini_destroy(s);
	for (int i = 0; i < 10; i++)
		ev_loop_run_once(loop, 0);
	ev_loop_destroy(loop);
	bdev_registry_clear();
	free(slots);
	return 0;
}
