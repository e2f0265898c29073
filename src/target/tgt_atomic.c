/*
 * SBC-4 writes with atomicity: WRITE ATOMIC(16) and ORWRITE(16).
 *
 * WRITE ATOMIC(16) is one bdev write with BDEV_IO_ATOMIC: the backend
 * applies it as a unit with respect to every other I/O (mem and file do,
 * docs/bdev.md says how and what survives a crash; backends that cannot
 * have max_atomic 0, and the command is then not supported on the LUN).
 * The Block Limits atomic fields come from tgt_atomic_max_blocks and
 * tgt_atomic_align; ATOMIC BOUNDARY is not supported (its Block Limits
 * fields are 0), so a nonzero boundary is INVALID FIELD IN CDB.
 *
 * ORWRITE(16) reads the blocks, ORs the Data-Out buffer into them and
 * writes them back (atomically where the backend can).  Both commands hold
 * their LBA range in the per-LUN range lock that COMPARE AND WRITE uses, so
 * they are atomic with respect to each other and to COMPARE AND WRITE.
 * Plain READ/WRITE take no lock by design (the I/O path is lock-free): a
 * plain WRITE racing an ORWRITE of the same blocks may be overwritten by
 * the OR of the data read before it (docs/target-commands.md).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt_int.h"

uint32_t tgt_atomic_max_blocks(const struct tgt_lun *lun)
{
	const struct bdev_geometry *geo = bdev_geometry(lun->bd);
	uint64_t max = geo->max_atomic;
	uint64_t chunk = geo->max_xfer != 0 ? geo->max_xfer : TGT_DEFAULT_CHUNK;

	/* One sub-I/O of the I/O engine: never split. */
	if (max > chunk)
		max = chunk;
	max >>= lun->lbshift;
	/* A whole number of atomic granules. */
	max -= max % tgt_atomic_align(lun);
	return max > 0xffff ? 0xffff : (uint32_t)max;	/* 16-bit field */
}

uint32_t tgt_atomic_limit(const struct tgt_cmd *c)
{
	uint32_t atom = tgt_atomic_max_blocks(c->lun);
	uint32_t maxb = tgt_max_xfer_blocks(c);

	/* Never above MAXIMUM TRANSFER LENGTH (SBC-4 6.6.4). */
	if (atom > maxb)
		atom = maxb - maxb % tgt_atomic_align(c->lun);
	return atom;
}

uint32_t tgt_atomic_align(const struct tgt_lun *lun)
{
	/* Whole physical blocks, as reported in READ CAPACITY(16). */
	return 1u << lun->pb_exp;
}

/* ---- WRITE ATOMIC(16) ---- */

static void atomic_start(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	const struct iovec *iov = task->iov;
	int iovcnt = task->iovcnt, rc;

	/* The engine would split a buffer of more than IOV_MAX pieces into
	 * several bdev writes: gather it into one. */
	if (tgt_iov_slice(iov, iovcnt, 0, c->end, NULL, IOV_MAX) < 0) {
		c->buf = malloc((size_t)c->end);
		if (c->buf == NULL) {
			tgt_cmd_errno(c, -ENOMEM, true);
			return;
		}
		tgt_cmd_data_out(c, c->buf, (size_t)c->end);
		c->biov.iov_base = c->buf;
		c->biov.iov_len = (size_t)c->end;
		iov = &c->biov;
		iovcnt = 1;
	}
	rc = tgt_io_start(c, BDEV_IO_WRITE,
			  tgt_sbc_write_flags(c, c->fua) | BDEV_IO_ATOMIC,
			  c->lba << c->lun->lbshift, c->end, iov, iovcnt,
			  tgt_sbc_write_done);
	if (rc < 0)
		tgt_cmd_errno(c, rc, true);
}

void tgt_h_write_atomic(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	uint32_t lbs = c->lun->lbsize, align = tgt_atomic_align(c->lun);

	c->lba = scsi_get64(cdb + 2);
	c->nlb = scsi_get16(cdb + 12);
	c->fua = (cdb[1] & 0x08) != 0;
	c->implied = (uint64_t)c->nlb * lbs;
	if (tgt_sbc_range_bad(c, c->lba, c->nlb))
		return;
	/* MAXIMUM ATOMIC BOUNDARY SIZE is 0: no boundaries. */
	if (scsi_get16(cdb + 10) != 0) {
		tgt_cmd_bad_cdb(c, 10, -1);
		return;
	}
	if (c->lba % align != 0) {		/* ATOMIC ALIGNMENT */
		tgt_cmd_bad_cdb(c, 2, -1);
		return;
	}
	if (c->nlb == 0) {
		tgt_cmd_good(c);
		return;
	}
	if (c->nlb > tgt_atomic_limit(c) ||	/* MAX ATOMIC TRANSFER LENGTH */
	    c->nlb % align != 0) {		/* ATOMIC TRANSFER GRANULARITY */
		tgt_cmd_bad_cdb(c, 12, -1);
		return;
	}
	/* All or nothing: a Data-Out buffer short of the transfer length
	 * cannot be written as the one unit the initiator asked for. */
	if (c->task->data_len < c->implied) {
		tgt_cmd_bad_cdb(c, 12, -1);
		return;
	}
	c->end = c->implied;
	tgt_range_lock(c, c->lba, c->nlb, atomic_start);
}

/* ---- ORWRITE(16) ---- */

static void orwrite_read_done(struct tgt_cmd *c, int err)
{
	const struct tgt_task *task = c->task;
	uint64_t done = 0, i;
	uint32_t flags;
	int k, rc;

	if (tgt_sbc_io_failed(c, err, false))
		return;
	/* OR the Data-Out buffer into what was read. */
	for (k = 0; k < task->iovcnt && done < c->end; k++) {
		const uint8_t *src = task->iov[k].iov_base;
		uint64_t n = task->iov[k].iov_len;

		if (n > c->end - done)
			n = c->end - done;
		for (i = 0; i < n; i++)
			c->buf[done + i] |= src[i];
		done += n;
	}
	flags = tgt_sbc_write_flags(c, c->fua);
	if (c->end <= bdev_geometry(c->lun->bd)->max_atomic &&
	    c->end <= c->io_chunk)
		flags |= BDEV_IO_ATOMIC;
	rc = tgt_io_start(c, BDEV_IO_WRITE, flags, c->lba << c->lun->lbshift,
			  c->end, &c->biov, 1, tgt_sbc_write_done);
	if (rc < 0)
		tgt_cmd_errno(c, rc, true);
}

static void orwrite_start(struct tgt_cmd *c)
{
	int rc;

	c->biov.iov_base = c->buf;
	c->biov.iov_len = (size_t)c->end;
	rc = tgt_io_start(c, BDEV_IO_READ, 0, c->lba << c->lun->lbshift,
			  c->end, &c->biov, 1, orwrite_read_done);
	if (rc < 0)
		tgt_cmd_errno(c, rc, false);
}

void tgt_h_orwrite(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;

	c->lba = scsi_get64(cdb + 2);
	c->nlb = scsi_get32(cdb + 10);
	c->fua = (cdb[1] & 0x08) != 0;
	/* Like WRITE: only the whole blocks the initiator sent.  The buffer
	 * is as large as the Data-Out buffer, which the front end bounds. */
	if (!tgt_sbc_write_extent(c))
		return;
	c->buf = malloc((size_t)c->end);
	if (c->buf == NULL) {
		tgt_cmd_errno(c, -ENOMEM, true);
		return;
	}
	tgt_range_lock(c, c->lba, (uint32_t)(c->end >> c->lun->lbshift),
		       orwrite_start);
}
