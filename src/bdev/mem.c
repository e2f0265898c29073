/*
 * The mem backend: a sparse disk in memory.
 *
 * Storage is 64 KiB chunks found through a two-level table: a top array
 * sized from the disk size at creation, pointing at leaves of 4096 chunk
 * pointers (256 MiB of disk each) that are allocated on first write.  A
 * chunk is allocated on the first write that touches it; reads of a chunk
 * never written return zeroes.  Nothing is ever allocated for what lies
 * beyond the disk size, whatever a client claims.
 *
 * Several reactors may submit to one mem bdev at once.  Chunks and leaves
 * are installed with a compare-and-swap, so allocation needs no lock.
 * Freeing (discard, write-zeroes) is the hard part: a chunk must not be
 * freed while another thread copies into or out of it.  We use a two-slot
 * epoch scheme: every read/write counts itself into active[epoch & 1] for
 * its duration; a reclaimer swaps the chunk pointers to NULL, advances the
 * epoch and waits for the old slot's count to drain before freeing.  I/O
 * that starts after the advance can only see the NULL pointers.  Readers
 * and writers pay two atomic adds per I/O and never wait; reclaimers (rare)
 * are serialised by a mutex and wait for I/O already in progress only.
 *
 * The I/O is done inside submit (memcpy is not "blocking") and completed
 * through bdev_io_complete_deferred(), so the callback never runs inside
 * bdev_submit().
 *
 * Atomic writes (BDEV_IO_ATOMIC, up to MEM_MAX_ATOMIC) are applied while no
 * other section runs: the writer raises atomic_busy under atomic_mu and
 * waits for both active counts to drain; a section that finds the flag up
 * after counting itself backs out and waits on atomic_mu.  Both sides use
 * sequentially consistent operations, so one of them always sees the
 * other.  Ordinary I/O pays one more load per I/O.  Discard and
 * write-zeroes, which unlink chunks outside any section, hold atomic_mu
 * for their duration instead.
 *
 * discard_zeroes is true: discarded whole chunks are freed and partial
 * chunk parts are zeroed, so a discarded range always reads back zeroes.
 * volatile_cache is false: memory has no cache to flush; FLUSH succeeds at
 * once and FUA needs no extra work.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scsikit/log.h>

#include "bdev/bdev_int.h"

#define MEM_CHUNK_SHIFT 16
#define MEM_CHUNK ((uint64_t)1 << MEM_CHUNK_SHIFT)
#define MEM_LEAF_SHIFT 12
#define MEM_LEAF_CHUNKS ((uint64_t)1 << MEM_LEAF_SHIFT)
#define MEM_LEAF_MASK (MEM_LEAF_CHUNKS - 1)
/* 256 TiB: the top table is then 1M pointers (8 MiB), the most we are
 * willing to spend on an empty disk. */
#define MEM_MAX_SIZE ((uint64_t)256 << 40)
/* Chunks freed per epoch advance: bounds the victim array. */
#define MEM_RECLAIM_BATCH 1024

struct mem_bdev {
	uint64_t nchunks;
	uint64_t nleaves;
	unsigned char ***leaves;	/* [nleaves] -> leaf[4096] -> chunk */
	uint64_t allocated;		/* atomic: bytes in chunks */
	unsigned long epoch;		/* atomic */
	/* The two active counts on separate cache lines: every I/O of every
	 * reactor touches one. */
	struct {
		unsigned long n;
	} active[2] __attribute__((aligned(64)));
	pthread_mutex_t reclaim_mu;	/* serialises reclaimers */
	pthread_mutex_t atomic_mu;	/* held by an atomic writer */
	int atomic_busy;		/* atomic: an atomic writer is in */
};

/* The longest atomic write: short enough that holding every other I/O of
 * the disk back for its memcpy is harmless. */
#define MEM_MAX_ATOMIC (4u * 1024 * 1024)

#define SEQ __ATOMIC_SEQ_CST

/* Enter a section that dereferences chunk pointers; returns the slot to
 * leave.  See the file comment for why the epoch is checked twice. */
static unsigned mem_enter(struct mem_bdev *m)
{
	for (;;) {
		unsigned long e = __atomic_load_n(&m->epoch, SEQ);
		unsigned s = (unsigned)(e & 1);

		__atomic_add_fetch(&m->active[s].n, 1, SEQ);
		if (__atomic_load_n(&m->epoch, SEQ) != e) {
			__atomic_sub_fetch(&m->active[s].n, 1, SEQ);
			continue;
		}
		if (!__atomic_load_n(&m->atomic_busy, SEQ))
			return s;
		/* An atomic write is in: wait for it to finish. */
		__atomic_sub_fetch(&m->active[s].n, 1, SEQ);
		pthread_mutex_lock(&m->atomic_mu);
		pthread_mutex_unlock(&m->atomic_mu);
	}
}

/* Wait (yielding, then sleeping) until *a + *b (b may be NULL) is zero. */
static void mem_wait_zero(const unsigned long *a,
			  const unsigned long *b)
{
	unsigned spins = 0;

	while (__atomic_load_n(a, SEQ) + (b != NULL ? __atomic_load_n(b, SEQ)
						     : 0) != 0) {
		/* Sections are memcpys of at most max_xfer: short. */
		if (++spins < 64) {
			sched_yield();
		} else {
			struct timespec ts = { 0, 50000 };

			nanosleep(&ts, NULL);
		}
	}
}

static void mem_leave(struct mem_bdev *m, unsigned s)
{
	__atomic_sub_fetch(&m->active[s].n, 1, SEQ);
}

/* Advance the epoch and wait until no section that began before is still
 * running; afterwards, pointers unlinked before the call may be freed.
 * Called with reclaim_mu held and outside any section. */
static void mem_quiesce(struct mem_bdev *m)
{
	unsigned long e = __atomic_load_n(&m->epoch, SEQ);
	unsigned s = (unsigned)(e & 1);

	__atomic_store_n(&m->epoch, e + 1, SEQ);
	mem_wait_zero(&m->active[s].n, NULL);
}

static unsigned char *mem_chunk_get(struct mem_bdev *m, uint64_t ci)
{
	unsigned char **leaf =
		__atomic_load_n(&m->leaves[ci >> MEM_LEAF_SHIFT], SEQ);

	if (leaf == NULL)
		return NULL;
	return __atomic_load_n(&leaf[ci & MEM_LEAF_MASK], SEQ);
}

/* The chunk for ci, allocated zeroed if absent; NULL when out of memory.
 * Called inside a section. */
static unsigned char *mem_chunk_make(struct mem_bdev *m, uint64_t ci)
{
	unsigned char ***lp = &m->leaves[ci >> MEM_LEAF_SHIFT];
	unsigned char **leaf = __atomic_load_n(lp, SEQ);
	unsigned char *c, *expect;

	if (leaf == NULL) {
		unsigned char **nl = calloc(MEM_LEAF_CHUNKS, sizeof(*nl));
		unsigned char **none = NULL;

		if (nl == NULL)
			return NULL;
		if (__atomic_compare_exchange_n(lp, &none, nl, false, SEQ,
						SEQ)) {
			leaf = nl;
		} else {
			free(nl);
			leaf = none; /* the winner's */
		}
	}
	c = __atomic_load_n(&leaf[ci & MEM_LEAF_MASK], SEQ);
	if (c != NULL)
		return c;
	c = calloc(1, MEM_CHUNK);
	if (c == NULL)
		return NULL;
	expect = NULL;
	if (!__atomic_compare_exchange_n(&leaf[ci & MEM_LEAF_MASK], &expect, c,
					 false, SEQ, SEQ)) {
		free(c);
		return expect;
	}
	__atomic_add_fetch(&m->allocated, MEM_CHUNK, __ATOMIC_RELAXED);
	return c;
}

/* Enter a section, or, for the holder of atomic_mu (excl), count itself
 * in for the reclaimers without looking at its own flag. */
static unsigned mem_enter_as(struct mem_bdev *m, bool excl)
{
	unsigned s;

	if (!excl)
		return mem_enter(m);
	s = (unsigned)(__atomic_load_n(&m->epoch, SEQ) & 1);
	__atomic_add_fetch(&m->active[s].n, 1, SEQ);
	return s;
}

static int mem_read(struct mem_bdev *m, struct bdev_io *io, bool excl)
{
	struct iov_cursor cur;
	uint64_t pos = io->offset, end = io->offset + io->length;
	unsigned s;

	iov_cursor_init(&cur, io->iov, io->iovcnt);
	s = mem_enter_as(m, excl);
	while (pos < end) {
		uint64_t ci = pos >> MEM_CHUNK_SHIFT;
		size_t in = (size_t)(pos & (MEM_CHUNK - 1));
		size_t n = (size_t)(MEM_CHUNK - in);
		unsigned char *c;

		if (n > end - pos)
			n = (size_t)(end - pos);
		c = mem_chunk_get(m, ci);
		if (c != NULL)
			iov_cursor_from_buf(&cur, c + in, n);
		else
			iov_cursor_zero(&cur, n);
		pos += n;
	}
	mem_leave(m, s);
	return 0;
}

static int mem_write(struct mem_bdev *m, struct bdev_io *io, bool excl)
{
	struct iov_cursor cur;
	uint64_t pos = io->offset, end = io->offset + io->length;
	int rc = 0;
	unsigned s;

	iov_cursor_init(&cur, io->iov, io->iovcnt);
	s = mem_enter_as(m, excl);
	while (pos < end) {
		uint64_t ci = pos >> MEM_CHUNK_SHIFT;
		size_t in = (size_t)(pos & (MEM_CHUNK - 1));
		size_t n = (size_t)(MEM_CHUNK - in);
		unsigned char *c;

		if (n > end - pos)
			n = (size_t)(end - pos);
		c = mem_chunk_make(m, ci);
		if (c == NULL) {
			rc = -ENOMEM;
			break;
		}
		iov_cursor_to_buf(&cur, c + in, n);
		pos += n;
	}
	mem_leave(m, s);
	return rc;
}

/* Zero [pos, pos+n) of one chunk, in place; allocate it first if asked
 * (write-zeroes with NO_UNMAP keeps the range provisioned). */
static int mem_zero_part(struct mem_bdev *m, uint64_t pos, size_t n,
			 bool alloc)
{
	uint64_t ci = pos >> MEM_CHUNK_SHIFT;
	size_t in = (size_t)(pos & (MEM_CHUNK - 1));
	unsigned char *c;
	unsigned s = mem_enter(m);
	int rc = 0;

	c = alloc ? mem_chunk_make(m, ci) : mem_chunk_get(m, ci);
	if (c != NULL)
		memset(c + in, 0, n);
	else if (alloc)
		rc = -ENOMEM;
	mem_leave(m, s);
	return rc;
}

/* Free the whole chunks [first, last). */
static void mem_free_chunks(struct mem_bdev *m, uint64_t first, uint64_t last)
{
	unsigned char *victims[MEM_RECLAIM_BATCH];
	uint64_t ci = first;

	pthread_mutex_lock(&m->reclaim_mu);
	while (ci < last) {
		unsigned nv = 0;

		while (ci < last && nv < MEM_RECLAIM_BATCH) {
			unsigned char **leaf = __atomic_load_n(
				&m->leaves[ci >> MEM_LEAF_SHIFT], SEQ);

			if (leaf == NULL) {
				/* A whole leaf never written: skip it. */
				ci = (ci | MEM_LEAF_MASK) + 1;
				continue;
			}
			victims[nv] = __atomic_exchange_n(
				&leaf[ci & MEM_LEAF_MASK], NULL, SEQ);
			if (victims[nv] != NULL)
				nv++;
			ci++;
		}
		if (nv == 0)
			continue;
		mem_quiesce(m);
		for (unsigned i = 0; i < nv; i++)
			free(victims[i]);
		__atomic_sub_fetch(&m->allocated, (uint64_t)nv * MEM_CHUNK,
				   __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&m->reclaim_mu);
}

/*
 * Make [offset, offset+length) read zeroes.  unmap: free whole chunks
 * (discard, plain write-zeroes); otherwise zero in place and allocate, so
 * the range stays provisioned (NO_UNMAP).
 */
static int mem_zero_range(struct mem_bdev *m, uint64_t offset,
			  uint64_t length, bool unmap)
{
	uint64_t end = offset + length;
	uint64_t first = (offset + MEM_CHUNK - 1) >> MEM_CHUNK_SHIFT;
	uint64_t last = end >> MEM_CHUNK_SHIFT; /* exclusive, whole chunks */
	uint64_t pos;
	int rc;

	if (!unmap) {
		for (pos = offset; pos < end;) {
			uint64_t n = MEM_CHUNK - (pos & (MEM_CHUNK - 1));

			if (n > end - pos)
				n = end - pos;
			rc = mem_zero_part(m, pos, (size_t)n, true);
			if (rc != 0)
				return rc;
			pos += n;
		}
		return 0;
	}
	if (first >= last) {
		/* Inside one chunk, or straddling one boundary. */
		for (pos = offset; pos < end;) {
			uint64_t n = MEM_CHUNK - (pos & (MEM_CHUNK - 1));

			if (n > end - pos)
				n = end - pos;
			mem_zero_part(m, pos, (size_t)n, false);
			pos += n;
		}
		return 0;
	}
	if (offset < first << MEM_CHUNK_SHIFT)
		mem_zero_part(m, offset,
			      (size_t)((first << MEM_CHUNK_SHIFT) - offset),
			      false);
	if (end > last << MEM_CHUNK_SHIFT)
		mem_zero_part(m, last << MEM_CHUNK_SHIFT,
			      (size_t)(end - (last << MEM_CHUNK_SHIFT)), false);
	mem_free_chunks(m, first, last);
	return 0;
}

/* An atomic write: keep every other section out while it copies. */
static int mem_write_atomic(struct mem_bdev *m, struct bdev_io *io)
{
	int rc;

	pthread_mutex_lock(&m->atomic_mu);
	__atomic_store_n(&m->atomic_busy, 1, SEQ);
	mem_wait_zero(&m->active[0].n, &m->active[1].n);
	rc = mem_write(m, io, true);
	__atomic_store_n(&m->atomic_busy, 0, SEQ);
	pthread_mutex_unlock(&m->atomic_mu);
	return rc;
}

/* A compare-and-write: exclusive like an atomic write, so that nothing
 * changes the range between the compare and the write. */
static int mem_compare_write(struct mem_bdev *m, struct bdev_io *io)
{
	size_t len = (size_t)io->length;
	unsigned char *in = malloc(2 * len), *cur = malloc(len);
	struct iov_cursor ic;
	struct iovec v;
	struct bdev_io part;
	int rc = 0;

	if (in == NULL || cur == NULL) {
		free(in);
		free(cur);
		return -ENOMEM;
	}
	iov_cursor_init(&ic, io->iov, io->iovcnt);
	iov_cursor_to_buf(&ic, in, 2 * len);
	memset(&part, 0, sizeof(part));
	part.offset = io->offset;
	part.length = io->length;
	part.iov = &v;
	part.iovcnt = 1;
	pthread_mutex_lock(&m->atomic_mu);
	__atomic_store_n(&m->atomic_busy, 1, SEQ);
	mem_wait_zero(&m->active[0].n, &m->active[1].n);
	v.iov_base = cur;
	v.iov_len = len;
	mem_read(m, &part, true);
	for (size_t i = 0; i < len; i++) {
		if (cur[i] != in[i]) {
			io->miscompare = i;
			rc = -EILSEQ;
			break;
		}
	}
	if (rc == 0) {
		v.iov_base = in + len;
		rc = mem_write(m, &part, true);
	}
	__atomic_store_n(&m->atomic_busy, 0, SEQ);
	pthread_mutex_unlock(&m->atomic_mu);
	free(in);
	free(cur);
	return rc;
}

static int mem_submit(struct bdev *bd, struct bdev_io *io)
{
	struct mem_bdev *m = bdev_priv(bd);
	int rc = 0;

	/* bdev_resize() cannot grow the table: refuse what lies past it. */
	if (io->type != BDEV_IO_FLUSH &&
	    io->offset + io->length > m->nchunks << MEM_CHUNK_SHIFT)
		return -ERANGE;
	switch (io->type) {
	case BDEV_IO_READ:
		rc = mem_read(m, io, false);
		break;
	case BDEV_IO_COMPARE_WRITE:
		rc = mem_compare_write(m, io);
		break;
	case BDEV_IO_WRITE:
		if (io->flags & BDEV_IO_ATOMIC) {
			rc = mem_write_atomic(m, io);
			break;
		}
		rc = mem_write(m, io, false);
		break;
	case BDEV_IO_FLUSH:
		/* Nothing volatile to make stable. */
		break;
	case BDEV_IO_DISCARD:
	case BDEV_IO_WRITE_ZEROES:
		/* Unlinking chunks happens outside any section: hold atomic
		 * writers off for the whole of it.  Both ways are as cheap as
		 * a write, so FAST_ZERO is met. */
		pthread_mutex_lock(&m->atomic_mu);
		rc = mem_zero_range(m, io->offset, io->length,
				    io->type == BDEV_IO_DISCARD ||
					    (io->flags & BDEV_IO_NO_UNMAP) == 0);
		pthread_mutex_unlock(&m->atomic_mu);
		break;
	default:
		return -ENOTSUP;
	}
	bdev_io_complete_deferred(io, rc);
	return 0;
}

static void mem_destroy(struct bdev *bd)
{
	struct mem_bdev *m = bdev_priv(bd);

	pthread_mutex_destroy(&m->atomic_mu);
	for (uint64_t l = 0; l < m->nleaves; l++) {
		unsigned char **leaf = m->leaves[l];

		if (leaf == NULL)
			continue;
		for (uint64_t i = 0; i < MEM_LEAF_CHUNKS; i++)
			free(leaf[i]);
		free(leaf);
	}
	free(m->leaves);
	pthread_mutex_destroy(&m->reclaim_mu);
	free(m);
}

static int mem_block_status(struct bdev *bd, uint64_t offset, uint64_t length,
			    enum bdev_alloc_state *state, uint64_t *run)
{
	struct mem_bdev *m = bdev_priv(bd);
	uint64_t limit = m->nchunks << MEM_CHUNK_SHIFT;
	uint64_t end = offset + length < limit ? offset + length : limit;
	uint64_t ci = offset >> MEM_CHUNK_SHIFT;
	bool mapped;
	uint64_t pos = (ci + 1) << MEM_CHUNK_SHIFT;

	if (offset >= limit)
		return -ERANGE;
	mapped = mem_chunk_get(m, ci) != NULL;

	/* Only the pointers are read, never the chunk contents, so no
	 * section is needed: a racing discard can only make the answer
	 * stale, which block status allows. */
	while (pos < end && (mem_chunk_get(m, pos >> MEM_CHUNK_SHIFT) != NULL)
			    == mapped)
		pos += MEM_CHUNK;
	*state = mapped ? BDEV_MAPPED : BDEV_DEALLOCATED;
	*run = (pos < end ? pos : end) - offset;
	return 0;
}

static void mem_describe(struct bdev *bd, char *buf, size_t len)
{
	struct mem_bdev *m = bdev_priv(bd);

	snprintf(buf, len, "mem: %llu bytes, %llu allocated",
		 (unsigned long long)bdev_size_now(bd),
		 (unsigned long long)__atomic_load_n(&m->allocated,
						     __ATOMIC_RELAXED));
}

static const struct bdev_ops mem_ops = {
	.name = "mem",
	.submit = mem_submit,
	.destroy = mem_destroy,
	.block_status = mem_block_status,
	.describe = mem_describe,
};

struct bdev *bdev_mem_create(const char *name, uint64_t size,
			     uint32_t lbsize, bool read_only)
{
	struct bdev_geometry geo = {
		.size = size,
		.lbsize = lbsize ? lbsize : 512,
		.pbsize = 4096,
		.opt_xfer = 128 * 1024,
		.max_xfer = 32 * 1024 * 1024,
		.read_only = read_only,
		.can_discard = true,
		.can_write_zeroes = true,
		.discard_zeroes = true,
		.volatile_cache = false,
		.multi_conn_safe = true,
		.max_atomic = MEM_MAX_ATOMIC,
		.max_compare_write = MEM_MAX_ATOMIC,
	};
	struct mem_bdev *m;
	struct bdev *bd;

	if (size == 0 || size > MEM_MAX_SIZE ||
	    (geo.lbsize != 512 && geo.lbsize != 4096) ||
	    size % geo.lbsize != 0) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->nchunks = (size + MEM_CHUNK - 1) >> MEM_CHUNK_SHIFT;
	m->nleaves = (m->nchunks + MEM_LEAF_CHUNKS - 1) >> MEM_LEAF_SHIFT;
	m->leaves = calloc(m->nleaves, sizeof(*m->leaves));
	if (m->leaves == NULL)
		goto out_free_m;
	pthread_mutex_init(&m->reclaim_mu, NULL);
	pthread_mutex_init(&m->atomic_mu, NULL);
	bd = bdev_alloc(&mem_ops, name, &geo, m);
	if (bd == NULL)
		goto out_free_leaves;
	return bd;

out_free_leaves:
	pthread_mutex_destroy(&m->atomic_mu);
	pthread_mutex_destroy(&m->reclaim_mu);
	free(m->leaves);
out_free_m:
	free(m);
	errno = ENOMEM;
	return NULL;
}

uint64_t bdev_mem_allocated(struct bdev *bd)
{
	struct mem_bdev *m;

	if (bd == NULL || bd->ops != &mem_ops)
		return 0;
	m = bdev_priv(bd);
	return __atomic_load_n(&m->allocated, __ATOMIC_RELAXED);
}
