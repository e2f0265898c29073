/*
 * Block devices (bdevs): the second currency of scsikit.
 *
 * A bdev is anything that stores blocks: memory, a file, a remote xdisk, a
 * SCSI disk behind CAM.  Consumers (the target engine, the NBD server, the
 * xdisk server) submit block I/O described by a caller-owned struct bdev_io
 * and are called back once when it completes.
 *
 * Threading: bdev_submit() is called from an event loop thread, named in
 * io->loop; the completion callback always runs later on that same loop,
 * never from inside bdev_submit().  Backends that block run on a worker
 * pool (bdev_pool_*) and hand the completion back to io->loop.
 */
#ifndef SCSIKIT_BDEV_H
#define SCSIKIT_BDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <scsikit/api.h>

struct ev_loop;
struct bdev;
struct bdev_io;

enum bdev_io_type {
	BDEV_IO_READ = 0,
	BDEV_IO_WRITE = 1,
	BDEV_IO_FLUSH = 2,	  /* make every completed write stable */
	BDEV_IO_DISCARD = 3,	  /* the range may read back as anything */
	BDEV_IO_WRITE_ZEROES = 4, /* the range reads back as zeroes */
	/* Compare the range with the first length bytes of iov and, only if
	 * they are equal, write the next length bytes of iov over it, as one
	 * unit against every other I/O to the disk -- from every client of
	 * it, for a shared backend (rbd: every gateway of the image).  iov
	 * holds 2 * length bytes.  A mismatch completes -EILSEQ with
	 * io->miscompare set and nothing written.  Only where geometry
	 * max_compare_write covers the length (else -ENOTSUP / -EINVAL). */
	BDEV_IO_COMPARE_WRITE = 5,
	BDEV_IO_TYPE_COUNT = 6,
};

/* io->flags */
#define BDEV_IO_FUA 0x1u       /* write: stable before completion */
#define BDEV_IO_NO_UNMAP 0x2u  /* write-zeroes: keep the range allocated */
#define BDEV_IO_FAST_ZERO 0x4u /* write-zeroes: fail -ENOTSUP unless cheap */
/* write: applied as one unit with respect to every other I/O of the bdev
 * (no read sees part of it, no concurrent write interleaves with it).
 * Only where geometry max_atomic covers the length; else bdev_submit
 * refuses it (-ENOTSUP, or -EINVAL when longer).  What survives a crash
 * is the backend's to say (docs/bdev.md). */
#define BDEV_IO_ATOMIC 0x8u

typedef void (*bdev_io_cb)(struct bdev_io *io, int status, void *arg);

/*
 * One block I/O.  The caller owns the memory and must keep it (and the
 * buffers iov points at) valid until the callback has run.
 */
struct bdev_io {
	/* Set by the caller before bdev_submit(). */
	enum bdev_io_type type;
	uint32_t flags;		/* BDEV_IO_* */
	uint64_t offset;	/* bytes; a multiple of the logical block size */
	uint64_t length;	/* bytes; for READ/WRITE == the iov total,
				 * for COMPARE_WRITE half of it */
	const struct iovec *iov; /* READ/WRITE/COMPARE_WRITE only */
	int iovcnt;
	struct ev_loop *loop;	/* where the callback runs */
	bdev_io_cb cb;		/* status: 0 or -errno */
	void *cb_arg;

	/* Set by the backend: COMPARE_WRITE that completed -EILSEQ, the
	 * offset (from io->offset) of the first byte that differed. */
	uint64_t miscompare;

	/* Private to the bdev layer and the backend. */
	struct bdev *bd;
	struct bdev_io *next;	/* for backend queues */
	int status;
	uint64_t start_ns;
	uint64_t priv[4];	/* backend scratch */
};

/* What a bdev can do; fixed at creation except size (bdev_resize). */
struct bdev_geometry {
	uint64_t size;		/* bytes, a multiple of lbsize */
	uint32_t lbsize;	/* logical block size: 512 or 4096 usually */
	uint32_t pbsize;	/* physical block size, >= lbsize */
	uint32_t opt_xfer;	/* optimal transfer, bytes (0: unknown) */
	uint32_t max_xfer;	/* largest READ/WRITE the backend does in one
				 * go, bytes; advisory: larger ones are
				 * accepted and split or looped by it */
	bool read_only;
	bool can_discard;
	bool can_write_zeroes;
	bool discard_zeroes;	/* discarded ranges read back zeroes */
	bool volatile_cache;	/* FLUSH/FUA do real work */
	bool multi_conn_safe;	/* all connections see one coherent cache */
	uint32_t max_atomic;	/* longest BDEV_IO_ATOMIC write, bytes; 0:
				 * the backend refuses the flag */
	uint32_t max_compare_write; /* longest BDEV_IO_COMPARE_WRITE, bytes;
				 * 0: not offered (consumers compare and
				 * write themselves) */
	/* How the disk is to be presented, from the disk spec's options
	 * (bdev_create_spec): */
	bool thick;		/* fully provisioned: no discard, write-zeroes
				 * keeps blocks allocated, every block mapped */
	bool report_pbsize;	/* pbsize=N given: SCSI reports pbsize */
	bool ws_to_end;		/* wsnz=0: a WRITE SAME of 0 blocks runs to
				 * the end of the disk */
};

/* Counters kept by the bdev layer for every bdev. */
struct bdev_stats {
	uint64_t ops[BDEV_IO_TYPE_COUNT];
	uint64_t bytes[BDEV_IO_TYPE_COUNT];
	uint64_t errors;
	uint64_t in_flight;
	uint64_t total_ns;	/* sum of completion latencies */
	uint64_t last_offset;
};

/* Allocation state of a range, for GET LBA STATUS and NBD block status. */
enum bdev_alloc_state {
	BDEV_MAPPED = 0,	/* allocated, holds data */
	BDEV_DEALLOCATED = 1,	/* a hole; reads zeroes if discard_zeroes */
};

/* A backend: a const table of operations (new fields only at the end). */
struct bdev_ops {
	const char *name;
	/* Start io.  0: bdev_io_complete() will be called exactly once, later,
	 * on io->loop.  Negative errno: never.  Range and read-only checks have
	 * already been done by bdev_submit(). */
	int (*submit)(struct bdev *bd, struct bdev_io *io);
	/* Free the backend's state; called when the last reference goes. */
	void (*destroy)(struct bdev *bd);
	/* Optional.  State of the range starting at offset: sets *state and
	 * *run to the length (<= length) that shares it.  Synchronous and
	 * cheap.  NULL: everything is mapped. */
	int (*block_status)(struct bdev *bd, uint64_t offset, uint64_t length,
			    enum bdev_alloc_state *state, uint64_t *run);
	/* Optional: one line describing the backend (path, options). */
	void (*describe)(struct bdev *bd, char *buf, size_t len);
	/* Optional: the loop whose thread runs this bdev's I/O (an xa
	 * disk's, say), where submitting costs no hop between threads.
	 * NULL: any loop is as good. */
	struct ev_loop *(*home_loop)(struct bdev *bd);
};

/* For backends: allocate a bdev with one reference. */
SK_API struct bdev *bdev_alloc(const struct bdev_ops *ops, const char *name,
			       const struct bdev_geometry *geo, void *priv);
SK_API void *bdev_priv(const struct bdev *bd);
/* For backends: finish io (any thread is fine only if already on io->loop;
 * use bdev_io_complete_remote otherwise). */
SK_API void bdev_io_complete(struct bdev_io *io, int status);
/* For backends running on a worker: hand completion back to io->loop. */
SK_API void bdev_io_complete_remote(struct bdev_io *io, int status);
/* For backends completing synchronously inside submit: defer to io->loop. */
SK_API void bdev_io_complete_deferred(struct bdev_io *io, int status);

/* References. */
SK_API struct bdev *bdev_hold(struct bdev *bd);
SK_API void bdev_release(struct bdev *bd);

/* Read-only accessors. */
SK_API const char *bdev_name(const struct bdev *bd);
SK_API const struct bdev_geometry *bdev_geometry(const struct bdev *bd);
SK_API const char *bdev_backend(const struct bdev *bd);
SK_API void bdev_describe(struct bdev *bd, char *buf, size_t len);
/* Where a front end that can choose its reactor should submit bd's I/O
 * (bdev_ops.home_loop); NULL when the backend does not care. */
SK_API struct ev_loop *bdev_home_loop(struct bdev *bd);
SK_API void bdev_get_stats(const struct bdev *bd, struct bdev_stats *st);
/* Change the size (a backend that grew); consumers see it on next query. */
SK_API void bdev_resize(struct bdev *bd, uint64_t size);

/*
 * Submit io.  Checks alignment, range, read-only and that the type is
 * supported.  Return 0: io->cb runs exactly once, later, on io->loop.
 * Negative errno (-EINVAL misaligned, -ERANGE beyond the end, -EROFS,
 * -ENOTSUP): io->cb never runs.
 */
SK_API int bdev_submit(struct bdev *bd, struct bdev_io *io);

/* Allocation state of [offset, offset+length); see bdev_ops.block_status. */
SK_API int bdev_block_status(struct bdev *bd, uint64_t offset,
			     uint64_t length, enum bdev_alloc_state *state,
			     uint64_t *run);

/*
 * Backends.
 *
 * bdev_create_spec() understands:
 *   mem:SIZE[,bs=512|4096]           sparse memory, SIZE like 64M, 1G
 *   file:PATH[,direct][,size=SIZE][,bs=N]   regular file or block device
 *   fault:SPEC                       a fault bdev around SPEC (no rule yet)
 *   rbd:POOL/IMAGE[@SNAP][,...]      a Ceph RBD image (docs/ceph.md)
 * and the options ",ro", ",pbsize=N", ",thick", ",wsnz=0|1" on mem and
 * file (docs/bdev.md).  On error returns NULL and writes a
 * one-line reason into err.
 */
SK_API struct bdev *bdev_create_spec(const char *name, const char *spec,
				     char *err, size_t errlen);
/*
 * The medium bdev (src/bdev/medium.c): a drive whose medium -- another
 * bdev -- can be ejected and replaced at run time.  Spec options
 * ",removable" and ",cdrom" make one around the spec's bdev.  The drive's
 * size follows its medium (0 when empty); I/O without a medium fails
 * -ENOMEDIUM.  The target engine shows a removable drive as RMB=1 and an
 * optical one as a CD-ROM (peripheral type 5).
 */
enum bdev_medium_kind {
	BDEV_MEDIUM_FIXED = 0,		/* not a medium bdev */
	BDEV_MEDIUM_REMOVABLE = 1,	/* a removable disk */
	BDEV_MEDIUM_OPTICAL = 2,	/* a CD/DVD drive (read-only) */
};
/* A drive of kind (not FIXED) holding medium (taking a reference). */
SK_API struct bdev *bdev_medium_create(const char *name, struct bdev *medium,
				       enum bdev_medium_kind kind);
/* The kind of bd; BDEV_MEDIUM_FIXED for every other bdev. */
SK_API enum bdev_medium_kind bdev_medium_kind(const struct bdev *bd);
/* Put medium in the drive (NULL: take it out); I/O in flight finishes on
 * the old one.  0, -EINVAL (not a drive, or another logical block size),
 * -EROFS (a read-only medium in a read-write drive). */
SK_API int bdev_medium_change(struct bdev *bd, struct bdev *medium);
/* True when bd holds a medium (always, for other bdevs); *gen (may be
 * NULL) counts the changes. */
SK_API bool bdev_medium_present(struct bdev *bd, uint64_t *gen);

SK_API struct bdev *bdev_mem_create(const char *name, uint64_t size,
				    uint32_t lbsize, bool read_only);
/* Bytes of memory pages currently allocated by a mem bdev. */
SK_API uint64_t bdev_mem_allocated(struct bdev *bd);

/*
 * The null bdev, a benchmark tool: reads return zeroes, writes are thrown
 * away, flush does nothing -- it loses data by design.  Every I/O completes
 * later on its reactor, after latency_us microseconds when that is not 0
 * (a timer on the reactor, never a sleep).  lbsize 0 means 512.
 */
SK_API struct bdev *bdev_null_create(const char *name, uint64_t size,
				     uint32_t lbsize, uint32_t latency_us);

/*
 * The file backend's I/O engines: blocking calls on the worker pool, or
 * io_uring with one ring per reactor (src/bdev/file_uring.c).  DEFAULT is
 * the one measured faster (docs/performance.md); URING falls back to POOL
 * when the kernel refuses io_uring, and is refused at creation when the
 * library was built without liburing.
 */
enum bdev_file_engine {
	BDEV_FILE_ENGINE_DEFAULT = 0,
	BDEV_FILE_ENGINE_POOL,
	BDEV_FILE_ENGINE_URING,
};

struct bdev_file_opts {
	bool direct;		/* O_DIRECT */
	bool read_only;
	uint32_t lbsize;	/* 0: 512, or the block device's */
	uint64_t size;		/* 0: the file's size; else create/extend */
	bool thick;		/* allocate the whole file now; no discard */
	enum bdev_file_engine engine; /* how I/O reaches the kernel */
	/* Small buffered writes (up to 64 KiB, not FUA) are always tried on
	 * the reactor with RWF_NOWAIT; where the file system refuses that
	 * (ext4), true lets them be done there with a plain, possibly
	 * sleeping pwritev (docs/bdev.md, "inline_write"). */
	bool inline_write;
};
SK_API struct bdev *bdev_file_create(const char *name, const char *path,
				     const struct bdev_file_opts *opts,
				     char *err, size_t errlen);

/*
 * The rbd backend (src/bdev/rbd.c): an image of a Ceph cluster through
 * librbd's asynchronous API.  Spec: rbd:POOL/IMAGE[@SNAP][,conf=PATH]
 * [,id=CLIENT][,ro][,timeout=SECONDS][,bs=512|4096] (docs/ceph.md).  In a
 * build without librbd it fails with "scsikit was built without librbd".
 * Connecting and opening the image are synchronous, bounded by timeout.
 */
struct bdev_rbd_opts {
	const char *pool;
	const char *image;
	const char *snap;	/* NULL: the image head; else read-only */
	const char *conf;	/* NULL: /etc/ceph/ceph.conf and CEPH_CONF */
	const char *id;		/* client id without "client."; NULL: admin */
	bool read_only;
	uint32_t lbsize;	/* 0: 512 */
	uint32_t timeout_s;	/* mon, mount and OSD op timeout; 0: 30 */
};
SK_API struct bdev *bdev_rbd_create(const char *name,
				    const struct bdev_rbd_opts *opts,
				    char *err, size_t errlen);
/* True when this build has the rbd backend. */
SK_API bool bdev_rbd_available(void);

/* Parse "512", "64K", "1M", "2G", "1T" (binary units); -1 on error. */
SK_API int sk_parse_size(const char *s, uint64_t *out);

/*
 * The fault-injecting bdev: wraps another bdev (taking a reference) and
 * fails, delays or tears I/O that matches a rule.  A product feature, used
 * by the tests of every layer above.
 */
enum bdev_fault_action {
	BDEV_FAULT_NONE = 0,
	BDEV_FAULT_FAIL = 1,	/* complete with -err without doing the I/O */
	BDEV_FAULT_DELAY = 2,	/* do the I/O, complete delay_ms later */
	BDEV_FAULT_TEAR = 3,	/* write only the first half, then -err */
	BDEV_FAULT_HOLD = 4,	/* do not complete until released */
};

struct bdev_fault_rule {
	enum bdev_fault_action action;
	uint32_t type_mask;	/* 1u << BDEV_IO_*; 0 = every type */
	uint64_t offset;	/* I/O must overlap [offset, offset+length) */
	uint64_t length;	/* 0 = the whole device */
	int err;		/* positive errno, e.g. EIO */
	uint32_t delay_ms;
	int32_t count;		/* how many I/Os it hits; -1 = unlimited */
};

SK_API struct bdev *bdev_fault_create(const char *name, struct bdev *inner);
/* Install rule (replacing any previous one); thread-safe. */
SK_API void bdev_fault_set(struct bdev *fault_bd,
			   const struct bdev_fault_rule *rule);
SK_API void bdev_fault_clear(struct bdev *fault_bd);
/* Complete every I/O held by a HOLD rule (the I/O is done normally). */
SK_API void bdev_fault_release_held(struct bdev *fault_bd);
/* I/Os that have hit a rule so far. */
SK_API uint64_t bdev_fault_hits(struct bdev *fault_bd);
/* Parse a rule written as text (see src/bdev/fault_spec.c):
 * "fail[=EIO]", "delay=MS", "tear", "hold", "none", followed by
 * ",type=read+write", ",offset=SIZE", ",length=SIZE", ",count=N".
 * 0, or -1 with a one-line reason in err. */
SK_API int bdev_fault_parse(const char *text, struct bdev_fault_rule *rule,
			    char *err, size_t errlen);
/* A fault bdev around a new bdev made from inner_spec ("mem:64M"). */
SK_API struct bdev *bdev_fault_create_spec(const char *name,
					   const char *inner_spec, char *err,
					   size_t errlen);
SK_API bool bdev_is_fault(const struct bdev *bd);

/*
 * Synchronous helpers for tools and tests: run an I/O on a private loop and
 * wait.  Never call from an event loop thread.
 */
SK_API int bdev_read_sync(struct bdev *bd, void *buf, uint64_t offset,
			  uint64_t length);
SK_API int bdev_write_sync(struct bdev *bd, const void *buf, uint64_t offset,
			   uint64_t length, uint32_t flags);
SK_API int bdev_io_sync(struct bdev *bd, enum bdev_io_type type,
			uint64_t offset, uint64_t length, uint32_t flags);

/*
 * The worker pool for blocking backends.  work(arg) runs on a worker
 * thread; a backend finishes its I/O from there with
 * bdev_io_complete_remote(), which hands the completion back to io->loop.
 * Thread count comes from bdev_pool_init (default 4, started lazily).
 */
typedef void (*bdev_pool_fn)(void *arg);
SK_API void bdev_pool_init(unsigned nthreads);
SK_API int bdev_pool_run(bdev_pool_fn work, void *arg);
SK_API void bdev_pool_shutdown(void);

/*
 * The disk registry: the daemon's named disks, which every front end
 * exports.  Guarded by a mutex; used at connection and configuration time,
 * never per I/O.  Listeners hear of additions and removals (the iSCSI target
 * makes a target per disk, the xdisk server a span).
 */
enum bdev_registry_event {
	BDEV_REGISTRY_ADDED = 1,
	BDEV_REGISTRY_REMOVED = 2,
};
typedef void (*bdev_registry_cb)(enum bdev_registry_event ev,
				 struct bdev *bd, void *arg);

/* Add bd under its name (taking a reference); -EEXIST if the name is
 * taken.  Listeners run from inside this call, on the caller's thread. */
SK_API int bdev_registry_add(struct bdev *bd);
/* Remove by name; listeners run; -ENOENT if absent. */
SK_API int bdev_registry_remove(const char *name);
/* Look up by name and hold it; NULL if absent. */
SK_API struct bdev *bdev_registry_get(const char *name);
/* Call fn for each disk, in the order they were added, under the
 * registry's lock (fn must not call back into the registry). */
SK_API void bdev_registry_foreach(void (*fn)(struct bdev *bd, void *arg),
				  void *arg);
SK_API unsigned bdev_registry_count(void);
/* Listen for changes; returns a handle for bdev_registry_unlisten. */
SK_API int bdev_registry_listen(bdev_registry_cb cb, void *arg);
SK_API void bdev_registry_unlisten(int handle);
/* Drop every disk (shutdown, tests). */
SK_API void bdev_registry_clear(void);

#endif
