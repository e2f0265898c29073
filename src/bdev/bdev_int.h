/*
 * Internals of the bdev layer, shared by the core (bdev.c) and the backends
 * (mem.c, file.c, fault.c).  Not installed; consumers see only
 * include/scsikit/bdev.h.
 */
#ifndef SK_BDEV_INT_H
#define SK_BDEV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <scsikit/bdev.h>

/*
 * The bdev object.  Everything but the counters and geo.size is written once
 * by bdev_alloc() and then only read.  The counters are updated with relaxed
 * atomics from whichever reactor completes an I/O; geo.size is read and
 * written atomically so that bdev_resize() needs no lock either.
 */
struct bdev {
	const struct bdev_ops *ops;	/* set by bdev_alloc, const after */
	void *priv;			/* owned by the backend */
	char *name;
	struct bdev_geometry geo;	/* size: atomic; the rest const */
	unsigned refs;			/* atomic */

	/* Statistics, on their own cache line: touched by every I/O. */
	struct {
		uint64_t ops[BDEV_IO_TYPE_COUNT];
		uint64_t bytes[BDEV_IO_TYPE_COUNT];
		uint64_t errors;
		uint64_t in_flight;
		uint64_t total_ns;
		uint64_t last_offset;
	} st __attribute__((aligned(64)));
};

/* Bdevs allocated and not yet destroyed (for leak checks in tests). */
unsigned bdev_live_count(void);

/* The largest iovcnt bdev_submit() accepts (the kernel's IOV_MAX). */
#define BDEV_IOV_MAX 1024

/* Current size, read atomically (bdev_resize may change it). */
static inline uint64_t bdev_size_now(const struct bdev *bd)
{
	return __atomic_load_n(&bd->geo.size, __ATOMIC_RELAXED);
}

/*
 * A position inside a caller's iov list, for backends that copy between
 * the iov and their own storage piecewise (mem) or bounce (file, direct).
 */
struct iov_cursor {
	const struct iovec *iov;
	int cnt;
	int idx;	/* current element */
	size_t off;	/* bytes consumed of iov[idx] */
};

void iov_cursor_init(struct iov_cursor *c, const struct iovec *iov, int cnt);
/* Copy n bytes from the iov into dst, advancing; returns bytes copied. */
size_t iov_cursor_to_buf(struct iov_cursor *c, void *dst, size_t n);
/* Copy n bytes from src into the iov, advancing; returns bytes copied. */
size_t iov_cursor_from_buf(struct iov_cursor *c, const void *src, size_t n);
/* Fill n bytes of the iov with zeroes, advancing; returns bytes filled. */
size_t iov_cursor_zero(struct iov_cursor *c, size_t n);
/* Sum of the iov lengths; false if it overflows. */
bool iov_total(const struct iovec *iov, int cnt, uint64_t *total);
/* True if every base and length is a multiple of align (a power of 2). */
bool iov_aligned(const struct iovec *iov, int cnt, size_t align);

/* Direct-I/O alignment of an open file (file_dio.c): memory and offset.
 * 0 when the kernel or the file system does not say. */
void file_dio_align(int fd, uint32_t *mem_align, uint32_t *off_align);

/* The rbd spec (rbd_spec.c).  rbd_spec_name splits "POOL/IMAGE[@SNAP]"
 * in place into o (0, or -1 with err set); rbd_spec_opt takes one option:
 * 1 taken, 0 not an rbd option, -1 a bad value (err set). */
int rbd_spec_name(char *s, struct bdev_rbd_opts *o, char *err, size_t errlen);
int rbd_spec_opt(struct bdev_rbd_opts *o, const char *opt, const char *val,
		 char *err, size_t errlen);

#endif
