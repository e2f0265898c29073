/*
 * bench_file_engine_bench: the file backend driven directly through the
 * library (no front end, no network), to compare its engines.
 *
 *   bench_file_engine_bench --file PATH [--size SIZE] [--engine uring|pool]
 *       [--direct] [--rw randread|randwrite|read|write] [--bs SIZE]
 *       [--qd N] [--seconds S] [--spec SPEC]
 *
 * One reactor (this thread's event loop) keeps qd I/Os in flight for the
 * given time, as a front end's reactor would: each completion submits the
 * next I/O from its callback.  Prints one line: IOPS, MiB/s, the mean
 * latency, and the process's CPU time (user+system, every thread: the
 * pool's workers and io_uring's kernel workers count) per I/O.  --spec
 * replaces --file/--engine/--direct with any disk spec (null:1G, mem:1G).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <scsikit/bdev.h>
#include <scsikit/evloop.h>

#define BENCH_MAX_QD 1024

struct slot {
	struct bdev_io io;
	struct iovec v;
	struct bench *b;
	uint64_t start_ns;
};

struct bench {
	struct bdev *bd;
	struct ev_loop *loop;
	bool write, random;
	uint64_t bs, nblocks, next_seq, rng;
	uint64_t stop_ns;
	uint64_t done, errors, lat_ns;
	unsigned inflight;
};

static uint64_t bench_rand(struct bench *b)
{
	/* xorshift64*: cheap and good enough to spread offsets. */
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 0x2545F4914F6CDD1Dull;
}

static void bench_cb(struct bdev_io *io, int status, void *arg);

static void bench_issue(struct slot *s)
{
	struct bench *b = s->b;
	uint64_t blk;

	blk = b->random ? bench_rand(b) % b->nblocks
			: b->next_seq++ % b->nblocks;
	memset(&s->io, 0, sizeof(s->io));
	s->io.type = b->write ? BDEV_IO_WRITE : BDEV_IO_READ;
	s->io.offset = blk * b->bs;
	s->io.length = b->bs;
	s->io.iov = &s->v;
	s->io.iovcnt = 1;
	s->io.loop = b->loop;
	s->io.cb = bench_cb;
	s->io.cb_arg = s;
	s->start_ns = ev_now_ns();
	if (bdev_submit(b->bd, &s->io) != 0) {
		b->errors++;
		return;
	}
	b->inflight++;
}

static void bench_cb(struct bdev_io *io, int status, void *arg)
{
	struct slot *s = arg;
	struct bench *b = s->b;
	uint64_t now = ev_now_ns();

	b->inflight--;
	b->done++;
	if (status != 0)
		b->errors++;
	b->lat_ns += now - s->start_ns;
	if (now < b->stop_ns)
		bench_issue(s);
	(void)io;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_file_engine_bench --file PATH "
		"[--size SIZE] [--engine uring|pool] [--direct] "
		"[--rw randread|randwrite|read|write] [--bs SIZE] [--qd N] "
		"[--seconds S] | --spec SPEC ...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 'z' },
		{ "engine", required_argument, NULL, 'e' },
		{ "direct", no_argument, NULL, 'd' },
		{ "rw", required_argument, NULL, 'r' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "seconds", required_argument, NULL, 's' },
		{ "spec", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *rw = "randread", *engine = "uring";
	const char *spec = NULL;
	uint64_t size = 1ull << 30, bs = 4096;
	unsigned qd = 32;
	double secs = 5;
	bool direct = false;
	struct bench b;
	struct slot *slots;
	char specbuf[600], err[256];
	double cpu0, cpu1;
	uint64_t t0, t1;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 'z':
			if (sk_parse_size(optarg, &size) != 0)
				usage();
			break;
		case 'e': engine = optarg; break;
		case 'd': direct = true; break;
		case 'r': rw = optarg; break;
		case 'b':
			if (sk_parse_size(optarg, &bs) != 0 || bs == 0)
				usage();
			break;
		case 'q': qd = (unsigned)atoi(optarg); break;
		case 's': secs = atof(optarg); break;
		case 'S': spec = optarg; break;
		default: usage();
		}
	}
	if ((file == NULL && spec == NULL) || qd == 0 || qd > BENCH_MAX_QD ||
	    secs <= 0)
		usage();
	if (spec == NULL) {
		snprintf(specbuf, sizeof(specbuf), "file:%s,size=%llu,"
			 "engine=%s%s", file, (unsigned long long)size,
			 engine, direct ? ",direct" : "");
		spec = specbuf;
	}
	memset(&b, 0, sizeof(b));
	b.bd = bdev_create_spec("bench", spec, err, sizeof(err));
	if (b.bd == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	b.loop = ev_loop_create();
	b.write = strstr(rw, "write") != NULL;
	b.random = strncmp(rw, "rand", 4) == 0;
	b.bs = bs;
	b.nblocks = bdev_geometry(b.bd)->size / bs;
	b.rng = 0x9E3779B97F4A7C15ull;
	slots = calloc(qd, sizeof(*slots));
	if (b.loop == NULL || slots == NULL || b.nblocks == 0)
		return 1;
	for (unsigned i = 0; i < qd; i++) {
		/* Page-aligned buffers, as a front end's would be for
		 * O_DIRECT to be worth asking for. */
		if (posix_memalign(&slots[i].v.iov_base, 4096, bs) != 0)
			return 1;
		memset(slots[i].v.iov_base, 0xA5, bs);
		slots[i].v.iov_len = bs;
		slots[i].b = &b;
	}
	cpu0 = cpu_seconds();
	t0 = ev_now_ns();
	b.stop_ns = t0 + (uint64_t)(secs * 1e9);
	for (unsigned i = 0; i < qd; i++)
		bench_issue(&slots[i]);
	while (b.inflight > 0)
		ev_loop_run_once(b.loop, 100);
	t1 = ev_now_ns();
	cpu1 = cpu_seconds();
	{
		double el = (double)(t1 - t0) / 1e9;
		char desc[400];

		bdev_describe(b.bd, desc, sizeof(desc));
		printf("%-9s bs=%-7llu qd=%-3u iops=%-8.0f MiB/s=%-8.1f "
		       "lat_us=%-7.1f cpu_us_per_io=%-6.2f errors=%llu  [%s]\n",
		       rw, (unsigned long long)bs, qd, b.done / el,
		       b.done * (double)bs / el / 1048576.0,
		       b.done ? b.lat_ns / 1e3 / b.done : 0.0,
		       b.done ? (cpu1 - cpu0) * 1e6 / b.done : 0.0,
		       (unsigned long long)b.errors, desc);
	}
	for (unsigned i = 0; i < qd; i++)
		free(slots[i].v.iov_base);
	free(slots);
	bdev_release(b.bd);
	ev_loop_destroy(b.loop);
	bdev_pool_shutdown();
	return b.errors != 0;
}
