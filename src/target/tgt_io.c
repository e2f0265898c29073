/*
 * The target engine's block I/O engine: one transfer of a command (a READ,
 * a WRITE, a WRITE SAME chunk, an UNMAP descriptor...) becomes one or more
 * bdev_ios.  Transfers larger than the bdev's maximum are split into
 * sub-I/Os of at most that size with up to TGT_MAX_PAR in flight; each
 * sub-I/O gets its own iovec slice of the command's buffer (the iovec
 * descriptors are copied, never the data).
 *
 * Runs on the task's loop only; no lock.  An abort request stops issuing
 * new sub-I/Os; those already at the backend finish first.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt_int.h"

int tgt_iov_slice(const struct iovec *iov, int iovcnt, uint64_t off,
		  uint64_t len, struct iovec *out, int max)
{
	uint64_t pos = 0;
	int i, n = 0;

	for (i = 0; i < iovcnt && len > 0; i++) {
		uint64_t k = iov[i].iov_len, skip, take;

		if (pos + k <= off) {
			pos += k;
			continue;
		}
		skip = off > pos ? off - pos : 0;
		take = k - skip;
		if (take > len)
			take = len;
		pos += k;
		if (take == 0)
			continue;
		if (n >= max)
			return -1;
		if (out != NULL) {
			out[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
			out[n].iov_len = (size_t)take;
		}
		n++;
		len -= take;
	}
	return len == 0 ? n : -1;
}

/* Bytes covered by at most maxent entries of iov starting at byte off. */
static uint64_t iov_prefix(const struct iovec *iov, int iovcnt, uint64_t off,
			   int maxent)
{
	uint64_t pos = 0, bytes = 0;
	int i, n = 0;

	for (i = 0; i < iovcnt && n < maxent; i++) {
		uint64_t k = iov[i].iov_len;

		if (pos + k <= off) {
			pos += k;
			continue;
		}
		bytes += k - (off > pos ? off - pos : 0);
		pos += k;
		n++;
	}
	return bytes;
}

static void sub_done(struct bdev_io *io, int status, void *arg);

static void sub_free_iov(struct tgt_sub *s)
{
	if (s->iov != NULL && s->iov != s->iov_inline)
		free(s->iov);
	s->iov = NULL;
}

/* Start the next sub-I/O on s; 0 or -errno. */
static int sub_issue(struct tgt_cmd *c, struct tgt_sub *s)
{
	uint64_t len = c->io_len - c->io_next;
	int rc;

	if (len > c->io_chunk)
		len = c->io_chunk;
	memset(&s->io, 0, sizeof(s->io));
	s->c = c;
	s->dpos = c->io_next;
	s->io.type = c->io_type;
	s->io.flags = c->io_flags;
	s->io.offset = c->io_off + c->io_next;
	s->io.length = len;
	s->io.loop = c->task->loop;
	s->io.cb = sub_done;
	s->io.cb_arg = s;
	if (c->io_type == BDEV_IO_COMPARE_WRITE && len > 0) {
		/* Never split (tgt_io_start): the data is the verify half
		 * then the write half, twice the length. */
		int n = tgt_iov_slice(c->io_iov, c->io_iovcnt, 0, 2 * len,
				      NULL, IOV_MAX);

		if (n < 0)
			return -EINVAL;
		s->iov = malloc((size_t)n * sizeof(*s->iov));
		if (s->iov == NULL)
			return -ENOMEM;
		tgt_iov_slice(c->io_iov, c->io_iovcnt, 0, 2 * len, s->iov, n);
		s->iovcnt = n;
		s->io.iov = s->iov;
		s->io.iovcnt = n;
	} else if (c->io_iov != NULL && len > 0) {
		int n = tgt_iov_slice(c->io_iov, c->io_iovcnt, c->io_next, len,
				      s->iov_inline, TGT_SUB_INLINE_IOV);

		if (n >= 0) {
			s->iov = s->iov_inline;
		} else {
			n = tgt_iov_slice(c->io_iov, c->io_iovcnt, c->io_next,
					  len, NULL, INT_MAX);
			if (n < 0)
				return -EINVAL; /* buffer shorter than len */
			if (n > IOV_MAX) {
				/* A finely fragmented buffer (one iovec per
				 * PDU, say): the backend takes at most IOV_MAX
				 * entries, so this sub-I/O covers fewer bytes. */
				len = iov_prefix(c->io_iov, c->io_iovcnt,
						 c->io_next, IOV_MAX);
				len -= len % c->lun->lbsize;
				if (len == 0)
					return -EINVAL;
				s->io.length = len;
				n = tgt_iov_slice(c->io_iov, c->io_iovcnt,
						  c->io_next, len, NULL,
						  IOV_MAX);
				if (n < 0)
					return -EINVAL;
			}
			s->iov = malloc((size_t)n * sizeof(*s->iov));
			if (s->iov == NULL)
				return -ENOMEM;
			tgt_iov_slice(c->io_iov, c->io_iovcnt, c->io_next, len,
				      s->iov, n);
		}
		s->iovcnt = n;
		s->io.iov = s->iov;
		s->io.iovcnt = n;
	}
	rc = bdev_submit(c->lun->bd, &s->io);
	if (rc < 0) {
		sub_free_iov(s);
		return rc;
	}
	s->busy = true;
	c->io_next += len;
	c->io_inflight++;
	return 0;
}

/* Issue as many sub-I/Os as allowed; returns the first error. */
static int io_pump(struct tgt_cmd *c)
{
	unsigned i, nsubs = c->subs != NULL ? TGT_MAX_PAR : 1;

	while (c->io_next < c->io_len) {
		struct tgt_sub *s = NULL;
		int rc;

		if (c->abort_req || c->io_err != 0)
			return 0;
		for (i = 0; i < nsubs; i++) {
			struct tgt_sub *cand = c->subs != NULL ? &c->subs[i] :
								 &c->sub0;

			if (!cand->busy) {
				s = cand;
				break;
			}
		}
		if (s == NULL)
			return 0;
		rc = sub_issue(c, s);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void io_finish(struct tgt_cmd *c)
{
	int err = c->io_err;

	if (err == 0 && c->abort_req && c->io_next < c->io_len)
		err = -ECANCELED;
	c->io_done(c, err);
}

static void sub_done(struct bdev_io *io, int status, void *arg)
{
	struct tgt_sub *s = arg;
	struct tgt_cmd *c = s->c;
	int rc;

	s->busy = false;
	sub_free_iov(s);
	c->io_inflight--;
	if (status == -EILSEQ && c->io_type == BDEV_IO_COMPARE_WRITE)
		c->io_miscompare = io->miscompare;
	if (status < 0 && c->io_err == 0)
		c->io_err = status;
	rc = io_pump(c);
	if (rc < 0 && c->io_err == 0)
		c->io_err = rc;
	if (c->io_inflight == 0)
		io_finish(c);
}

int tgt_io_start(struct tgt_cmd *c, enum bdev_io_type type, uint32_t flags,
		 uint64_t off, uint64_t len, const struct iovec *iov,
		 int iovcnt, tgt_io_done_fn done)
{
	const struct bdev_geometry *geo = bdev_geometry(c->lun->bd);
	uint64_t chunk;
	int rc;

	if (c->abort_req)
		return -ECANCELED;
	if (c->io_inflight != 0)
		return -EBUSY;
	c->io_type = type;
	c->io_flags = flags;
	c->io_off = off;
	c->io_len = len;
	c->io_next = 0;
	c->io_doneb = 0;
	c->io_iov = iov;
	c->io_iovcnt = iovcnt;
	c->io_err = 0;
	c->io_done = done;
	c->io_miscompare = 0;
	if (type == BDEV_IO_COMPARE_WRITE)
		/* One unit or none: the backend has said it takes len. */
		chunk = len;
	else if (type == BDEV_IO_READ || type == BDEV_IO_WRITE)
		chunk = geo->max_xfer != 0 ? geo->max_xfer : TGT_DEFAULT_CHUNK;
	else
		/* Discards and zeroing carry no data; bound them anyway so
		 * that one backend call never covers an unbounded range. */
		chunk = 1ull << 30;
	chunk &= ~(uint64_t)(c->lun->lbsize - 1);
	if (chunk == 0)
		chunk = c->lun->lbsize;
	c->io_chunk = chunk > UINT32_MAX ? (UINT32_MAX & ~(c->lun->lbsize - 1u))
					 : (uint32_t)chunk;
	if (len > c->io_chunk && c->subs == NULL) {
		c->subs = calloc(TGT_MAX_PAR, sizeof(*c->subs));
		if (c->subs == NULL)
			return -ENOMEM;
	}
	if (len == 0)
		rc = sub_issue(c, &c->sub0); /* FLUSH of everything */
	else
		rc = io_pump(c);
	if (c->io_inflight == 0) {
		/* Nothing started: the caller answers, done never runs. */
		return rc < 0 ? rc : -EIO;
	}
	if (rc < 0)
		c->io_err = rc;
	return 0;
}

void tgt_io_cleanup(struct tgt_cmd *c)
{
	free(c->subs);
	c->subs = NULL;
}
