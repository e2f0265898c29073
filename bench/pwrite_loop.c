/*
 * bench_pwrite_loop: the kernel's own cost of a 4 KiB buffered write, with
 * no server in the way -- the floor under any NBD server's CPU per write
 * on a file disk (docs/performance.md, "NBD 4 KiB writes on a file disk").
 *
 *   bench_pwrite_loop FILE COUNT [drop] [punch] [bs=SIZE] [seq]
 *
 * Writes COUNT blocks of 4 KiB (or bs= bytes, a multiple of 4 KiB) at
 * pseudo-random block-aligned offsets inside FILE (its size, unchanged),
 * or one after the other with `seq`, with plain pwrite from one thread,
 * and prints
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
#include <stdbool.h>
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
	static char buf[4u << 20];
	size_t bs = 4096;
	bool seq = false;
	struct iovec iv = { buf, 4096 };
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
	for (int i = 3; i < argc; i++) {
		if (strncmp(argv[i], "bs=", 3) == 0)
			bs = strtoul(argv[i] + 3, NULL, 0);
		if (strcmp(argv[i], "seq") == 0)
			seq = true;
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
	if (bs == 0 || bs % 4096 != 0 || bs > sizeof(buf) ||
	    (off_t)bs > size) {
		fprintf(stderr, "%s: bs= must be a multiple of 4096 up to "
			"4 MiB and the file size\n", argv[0]);
		return 2;
	}
	blocks = size / (off_t)bs;
	if (pread(fd, buf, 4096, 0) != 4096) {
		perror("pread");
		return 1;
	}
	n = pwritev2(fd, &iv, 1, 0, RWF_NOWAIT);
	printf("pwritev2(RWF_NOWAIT), buffered: %s\n",
	       n == 4096 ? "accepted" : strerror(errno));
	memset(buf, 0x5a, bs);
	c0 = cpu_s();
	t0 = wall_s();
	for (long i = 0; i < count; i++) {
		/* xorshift64: cheap, and no pattern the page cache could
		 * favour. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t b = seq ? (uint64_t)i % (uint64_t)blocks
				 : x % (uint64_t)blocks;

		if (pwrite(fd, buf, bs, (off_t)(b * bs)) != (ssize_t)bs) {
			perror("pwrite");
			return 1;
		}
	}
	c1 = cpu_s();
	t1 = wall_s();
	printf("%ld writes of %zu bytes: %.2f us CPU per write, %.0f writes/s\n",
	       count, bs,
	       (c1 - c0) / (double)count * 1e6, (double)count / (t1 - t0));
	close(fd);
	return 0;
}
