/*
 * bench_pwrite_loop: the kernel's own cost of a 4 KiB buffered write, with
 * no server in the way -- the floor under any NBD server's CPU per write
 * on a file disk (docs/performance.md, "NBD 4 KiB writes on a file disk").
 *
 *   bench_pwrite_loop FILE COUNT [drop] [punch]
 *
 * Writes COUNT 4 KiB blocks at pseudo-random 4 KiB-aligned offsets inside
 * FILE (its size, unchanged) with plain pwrite from one thread, and prints
 * the CPU time (user+system) per write and the writes per second.  First,
 * `drop` fdatasyncs FILE and drops it from the page cache (so the writes
 * make 4 KiB folios instead of landing in the large folios a sequential
 * writer left); `punch` punches a hole past the end with KEEP_SIZE, as the
 * file backend's discard probe does at open.  It also says whether
 * pwritev2(RWF_NOWAIT) is accepted for a buffered write on FILE (it
 * rewrites block 0 with what it held).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static double cpu_s(void)
{
	struct rusage r;

	getrusage(RUSAGE_SELF, &r);
	return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 +
	       (double)r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static double wall_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static char buf[4096];
	struct iovec iv = { buf, sizeof(buf) };
	uint64_t x = 88172645463325252ull;
	double c0, t0, c1, t1;
	off_t size, blocks;
	long count;
	ssize_t n;
	int fd;

	if (argc < 3 || (count = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: %s FILE COUNT [drop] [punch]\n",
			argv[0]);
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0 || (size = lseek(fd, 0, SEEK_END)) < 4096) {
		fprintf(stderr, "%s: cannot use %s\n", argv[0], argv[1]);
		return 1;
	}
	blocks = size / 4096;
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "drop") == 0 &&
		    (fdatasync(fd) != 0 ||
		     posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)) {
			perror("drop");
			return 1;
		}
		if (strcmp(argv[i], "punch") == 0 &&
		    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      size, 4096) != 0)
			perror("punch");
	}
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
		perror("pread");
		return 1;
	}
	n = pwritev2(fd, &iv, 1, 0, RWF_NOWAIT);
	printf("pwritev2(RWF_NOWAIT), buffered: %s\n",
	       n == (ssize_t)sizeof(buf) ? "accepted" : strerror(errno));
	memset(buf, 0x5a, sizeof(buf));
	c0 = cpu_s();
	t0 = wall_s();
	for (long i = 0; i < count; i++) {
		/* xorshift64: cheap, and no pattern the page cache could
		 * favour. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (pwrite(fd, buf, sizeof(buf),
			   (off_t)(x % (uint64_t)blocks) * 4096) !=
		    (ssize_t)sizeof(buf)) {
			perror("pwrite");
			return 1;
		}
	}
	c1 = cpu_s();
	t1 = wall_s();
	printf("%ld writes: %.2f us CPU per write, %.0f writes/s\n", count,
	       (c1 - c0) / (double)count * 1e6, (double)count / (t1 - t0));
	close(fd);
	return 0;
}
