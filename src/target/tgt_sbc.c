/*
 * SBC-3 block commands on a bdev: READ CAPACITY, READ/WRITE(6/10/12/16),
 * VERIFY, WRITE AND VERIFY, SYNCHRONIZE CACHE, PRE-FETCH, WRITE SAME, UNMAP,
 * GET LBA STATUS and COMPARE AND WRITE.
 *
 * Data length rules (what libiscsi's residual tests check): the engine moves
 * min(CDB transfer length, the task's expected data length) -- a write
 * writes only the whole blocks it was given, a read returns exactly the
 * bytes asked for (a partial last block goes through a bounce block) -- and
 * completion reports the difference as overflow or underflow.
 *
 * Writes are FUA'd implicitly when the caching mode page's WCE is 0: the
 * initiator then expects write-through behaviour.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/evloop.h>

#include "target/tgt_int.h"

/* ---- CDB decoding ---- */

/* LBA and transfer length of a READ/WRITE/VERIFY style CDB. */
static void decode_lba_len(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;

	switch (cdb[0] >> 5) {
	case 0: /* 6-byte */
		c->lba = ((uint32_t)(cdb[1] & 0x1f) << 16) | scsi_get16(cdb + 2);
		c->nlb = cdb[4] != 0 ? cdb[4] : 256; /* SBC-3 5.7: 0 = 256 */
		c->fua = false;
		return;
	case 1: /* 10-byte */
	case 2:
		c->lba = scsi_get32(cdb + 2);
		c->nlb = scsi_get16(cdb + 7);
		break;
	case 5: /* 12-byte */
		c->lba = scsi_get32(cdb + 2);
		c->nlb = scsi_get32(cdb + 6);
		break;
	default: /* 4: 16-byte */
		c->lba = scsi_get64(cdb + 2);
		c->nlb = scsi_get32(cdb + 10);
		break;
	}
	c->fua = (cdb[1] & 0x08) != 0;
}

/* True (and answered) when [lba, lba+nlb) is not inside the LUN. */
static bool range_bad(struct tgt_cmd *c, uint64_t lba, uint64_t nlb)
{
	uint64_t nb = tgt_lun_nblocks(c->lun);

	if (lba > nb || nlb > nb - lba) {
		tgt_cmd_lba_oor(c);
		return true;
	}
	return false;
}

static uint32_t write_flags(struct tgt_cmd *c, bool fua)
{
	if (fua || !atomic_load_explicit(&c->lun->wce, memory_order_relaxed))
		return BDEV_IO_FUA;
	return 0;
}

static bool io_failed(struct tgt_cmd *c, int err, bool write)
{
	if (err == 0)
		return false;
	if (err == -ECANCELED)
		tgt_cmd_status(c, SCSI_STATUS_TASK_ABORTED);
	else
		tgt_cmd_errno(c, err, write);
	return true;
}

/* ---- READ CAPACITY ---- */

void tgt_h_read_capacity10(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	uint64_t nb = tgt_lun_nblocks(c->lun);
	uint8_t out[8];

	/* SBC-3 5.15: with PMI 0 the LBA field must be 0. */
	if (!(cdb[8] & 0x01) && scsi_get32(cdb + 2) != 0) {
		tgt_cmd_bad_cdb(c, 2, -1);
		return;
	}
	/* RETURNED LOGICAL BLOCK ADDRESS: the last LBA, or all ones when it
	 * does not fit (the initiator then uses READ CAPACITY(16)). */
	scsi_put32(out, nb - 1 > 0xfffffffeull ? 0xffffffffu :
						 (uint32_t)(nb - 1));
	scsi_put32(out + 4, c->lun->lbsize);	/* LOGICAL BLOCK LENGTH */
	tgt_cmd_data_in(c, out, sizeof(out), sizeof(out));
	tgt_cmd_good(c);
}

void tgt_h_read_capacity16(struct tgt_cmd *c)
{
	const struct bdev_geometry *geo = bdev_geometry(c->lun->bd);
	uint8_t out[32];

	memset(out, 0, sizeof(out));
	scsi_put64(out, tgt_lun_nblocks(c->lun) - 1);	/* LAST LBA */
	scsi_put32(out + 8, c->lun->lbsize);		/* BLOCK LENGTH */
	/* byte 12: P_TYPE / PROT_EN = 0: no protection information */
	out[13] = c->lun->pb_exp & 0x0f;	/* LBS PER PHYSICAL BLOCK EXP */
	if (geo->can_discard)
		out[14] |= 0x80;		/* LBPME */
	if (geo->can_discard && geo->discard_zeroes)
		out[14] |= 0x40;		/* LBPRZ */
	tgt_cmd_data_in(c, out, sizeof(out), scsi_get32(c->task->cdb + 10));
	tgt_cmd_good(c);
}

/* ---- READ ---- */

static void read_done(struct tgt_cmd *c, int err)
{
	if (io_failed(c, err, false))
		return;
	c->moved = c->end;
	tgt_cmd_good(c);
}

void tgt_h_read(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	uint32_t lbs = c->lun->lbsize;
	uint64_t want, blocks;
	const struct iovec *iov = task->iov;
	int iovcnt = task->iovcnt, rc;

	decode_lba_len(c);
	c->implied = (uint64_t)c->nlb * lbs;
	if (range_bad(c, c->lba, c->nlb))
		return;
	want = c->implied < task->data_len ? c->implied : task->data_len;
	if (want == 0) {
		tgt_cmd_good(c);
		return;
	}
	blocks = (want + lbs - 1) / lbs;
	c->end = want;
	if (want % lbs != 0) {
		/* The initiator asked for part of the last block: read it whole
		 * with its tail going to a bounce buffer. */
		struct iovec *v;
		int n = tgt_iov_slice(task->iov, task->iovcnt, 0, want, NULL,
				      task->iovcnt);

		c->buf = malloc(lbs);
		v = n > 0 ? calloc((size_t)n + 1, sizeof(*v)) : NULL;
		if (c->buf == NULL || v == NULL) {
			free(v);
			tgt_cmd_errno(c, -ENOMEM, false);
			return;
		}
		tgt_iov_slice(task->iov, task->iovcnt, 0, want, v, n);
		v[n].iov_base = c->buf;
		v[n].iov_len = (size_t)(blocks * lbs - want);
		c->xiov = v;
		iov = v;
		iovcnt = n + 1;
	}
	rc = tgt_io_start(c, BDEV_IO_READ, 0, c->lba << c->lun->lbshift,
			  blocks * lbs, iov, iovcnt, read_done);
	if (rc < 0)
		tgt_cmd_errno(c, rc, false);
}

/* ---- WRITE, WRITE AND VERIFY ---- */

static void write_done(struct tgt_cmd *c, int err)
{
	if (io_failed(c, err, true))
		return;
	c->moved = c->end;
	tgt_cmd_good(c);
}

bool tgt_sbc_write_extent(struct tgt_cmd *c)
{
	uint32_t lbs = c->lun->lbsize;
	uint64_t blocks;

	c->implied = (uint64_t)c->nlb * lbs;
	if (range_bad(c, c->lba, c->nlb))
		return false;
	/* Only whole blocks that the initiator actually sent are written. */
	blocks = c->task->data_len / lbs;
	if (blocks > c->nlb)
		blocks = c->nlb;
	if (blocks == 0) {
		tgt_cmd_good(c);
		return false;
	}
	c->end = blocks * lbs;
	return true;
}

static void do_write(struct tgt_cmd *c, bool force_fua)
{
	struct tgt_task *task = c->task;
	int rc;

	if (!tgt_sbc_write_extent(c))
		return;
	rc = tgt_io_start(c, BDEV_IO_WRITE, write_flags(c, c->fua || force_fua),
			  c->lba << c->lun->lbshift, c->end, task->iov,
			  task->iovcnt, write_done);
	if (rc < 0)
		tgt_cmd_errno(c, rc, true);
}

void tgt_h_write(struct tgt_cmd *c)
{
	decode_lba_len(c);
	do_write(c, false);
}

void tgt_h_write_verify(struct tgt_cmd *c)
{
	uint8_t bytchk = (c->task->cdb[1] >> 1) & 0x03;

	decode_lba_len(c);
	c->fua = false;
	/* SBC-3 5.36: BYTCHK 0 (verify the medium) and 1 (compare with the
	 * data written) are both satisfied by a forced-unit-access write of a
	 * backend that reports errors; 10b/11b are reserved here. */
	if (bytchk > 1) {
		tgt_cmd_bad_cdb(c, 1, 2);
		return;
	}
	do_write(c, true);
}

/* ---- VERIFY ---- */

static void verify_step(struct tgt_cmd *c);

static void verify_read_done(struct tgt_cmd *c, int err)
{
	uint8_t bytchk = (c->task->cdb[1] >> 1) & 0x03;
	uint32_t lbs = c->lun->lbsize;
	uint64_t len = c->io_len;
	int64_t off;

	if (io_failed(c, err, false))
		return;
	if (bytchk == 1) {
		off = tgt_cmd_data_cmp(c, c->pos, c->buf, (size_t)len);
		if (off >= 0) {
			tgt_cmd_check_info(c, SCSI_SK_MISCOMPARE,
					   SCSI_ASC_MISCOMPARE_DURING_VERIFY,
					   c->pos + (uint64_t)off);
			return;
		}
	} else if (bytchk == 3) {
		uint64_t b;

		for (b = 0; b < len; b += lbs) {
			off = tgt_cmd_data_cmp(c, 0, c->buf + b, lbs);
			if (off >= 0) {
				tgt_cmd_check_info(
					c, SCSI_SK_MISCOMPARE,
					SCSI_ASC_MISCOMPARE_DURING_VERIFY,
					c->pos + b + (uint64_t)off);
				return;
			}
		}
	}
	c->pos += len;
	verify_step(c);
}

static void verify_step(struct tgt_cmd *c)
{
	uint64_t left = c->end - c->pos, len;
	int rc;

	if (left == 0) {
		c->moved = c->implied;
		tgt_cmd_good(c);
		return;
	}
	len = left < c->buflen ? left : c->buflen;
	c->biov.iov_base = c->buf;
	c->biov.iov_len = (size_t)len;
	rc = tgt_io_start(c, BDEV_IO_READ, 0,
			  (c->lba << c->lun->lbshift) + c->pos, len, &c->biov,
			  1, verify_read_done);
	if (rc < 0)
		tgt_cmd_errno(c, rc, false);
}

void tgt_h_verify(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	uint8_t bytchk = (task->cdb[1] >> 1) & 0x03;
	uint32_t lbs = c->lun->lbsize;
	uint64_t total;

	decode_lba_len(c);
	if (bytchk == 2) {
		tgt_cmd_bad_cdb(c, 1, 2);
		return;
	}
	/* BYTCHK 01b sends every block, 11b one block to compare against
	 * each block of the range, 00b nothing (a medium verification). */
	c->implied = bytchk == 1 ? (uint64_t)c->nlb * lbs :
		     bytchk == 3 ? (c->nlb != 0 ? lbs : 0) : 0;
	if (range_bad(c, c->lba, c->nlb))
		return;
	if (c->nlb == 0) {
		tgt_cmd_good(c);
		return;
	}
	if (task->data_len < c->implied) {
		/* Nothing to compare the medium with: the initiator sent less
		 * than the CDB describes. */
		tgt_cmd_bad_cdb(c, bytchk == 3 ? 1 : 7, -1);
		return;
	}
	total = (uint64_t)c->nlb * lbs;
	c->buflen = total < TGT_VERIFY_CHUNK ? total : TGT_VERIFY_CHUNK;
	c->buflen -= c->buflen % lbs;
	c->buf = malloc(c->buflen);
	if (c->buf == NULL) {
		tgt_cmd_errno(c, -ENOMEM, false);
		return;
	}
	c->pos = 0;
	c->end = total;
	verify_step(c);
}

/* ---- SYNCHRONIZE CACHE, PRE-FETCH ---- */

static void sync_done(struct tgt_cmd *c, int err)
{
	/* A backend without a cache to flush has nothing to do. */
	if (err == -ENOTSUP)
		err = 0;
	if (io_failed(c, err, true))
		return;
	tgt_cmd_good(c);
}

void tgt_h_sync_cache(struct tgt_cmd *c)
{
	int rc;

	decode_lba_len(c);
	if (range_bad(c, c->lba, c->nlb))
		return;
	/* The whole cache is flushed whatever the range: bdevs flush all.
	 * IMMED is honoured by finishing only after the flush, which SBC-3
	 * allows. */
	rc = tgt_io_start(c, BDEV_IO_FLUSH, 0, 0, 0, NULL, 0, sync_done);
	if (rc == -ENOTSUP)
		tgt_cmd_good(c);
	else if (rc < 0)
		tgt_cmd_errno(c, rc, true);
}

void tgt_h_prefetch(struct tgt_cmd *c)
{
	decode_lba_len(c);
	if (range_bad(c, c->lba, c->nlb))
		return;
	/* No cache of our own to load: GOOD (not CONDITION MET) says the
	 * blocks were not placed in a cache, as SBC-3 5.9 allows. */
	tgt_cmd_good(c);
}

/* ---- WRITE SAME ---- */

static void ws_step(struct tgt_cmd *c);

static void ws_done(struct tgt_cmd *c, int err)
{
	if (io_failed(c, err, true))
		return;
	c->pos += c->io_len;
	ws_step(c);
}

static void ws_step(struct tgt_cmd *c)
{
	uint64_t left = c->end - c->pos, len;
	int rc;

	if (left == 0) {
		c->moved = c->implied;
		tgt_cmd_good(c);
		return;
	}
	len = left < c->buflen ? left : c->buflen;
	c->biov.iov_base = c->buf;
	c->biov.iov_len = (size_t)len;
	rc = tgt_io_start(c, BDEV_IO_WRITE, write_flags(c, false),
			  (c->lba << c->lun->lbshift) + c->pos, len, &c->biov,
			  1, ws_done);
	if (rc < 0)
		tgt_cmd_errno(c, rc, true);
}

static void ws_zero_done(struct tgt_cmd *c, int err)
{
	if (err == -ENOTSUP && c->step == 0) {
		/* The backend declined the shortcut: write the pattern. */
		c->step = 1;
		ws_step(c);
		return;
	}
	if (io_failed(c, err, true))
		return;
	c->moved = c->implied;
	tgt_cmd_good(c);
}

void tgt_h_write_same(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	const uint8_t *cdb = task->cdb;
	const struct bdev_geometry *geo = bdev_geometry(c->lun->bd);
	bool ws16 = cdb[0] == SCSI_WRITE_SAME_16;
	bool unmap = cdb[1] & 0x08, ndob = ws16 && (cdb[1] & 0x01);
	uint32_t lbs = c->lun->lbsize;
	bool zero = true;
	uint64_t total, bl, i;
	int rc;

	decode_lba_len(c);
	c->implied = ndob ? 0 : lbs;
	if (range_bad(c, c->lba, c->nlb))
		return;
	/* SBC-3 5.42: UNMAP where the LUN cannot unmap (LBPWS = 0: a thick
	 * disk, a bdev without discard) is INVALID FIELD IN CDB. */
	if (unmap && !geo->can_discard) {
		tgt_cmd_bad_cdb(c, 1, 3);
		return;
	}
	/* With WSNZ 0 (the disk spec's wsnz=0) 0 blocks means from lba to
	 * the end; with WSNZ 1 (the default) it is refused. */
	if (c->nlb == 0 && c->lun->ws_to_end) {
		uint64_t rest = tgt_lun_nblocks(c->lun) - c->lba;

		if (rest == 0) {
			tgt_cmd_good(c);
			return;
		}
		if (rest <= TGT_MAX_WS_LEN)
			c->nlb = (uint32_t)rest;
	}
	if (c->nlb == 0 || c->nlb > TGT_MAX_WS_LEN) {
		tgt_cmd_bad_cdb(c, ws16 ? 10 : 7, -1);
		return;
	}
	/* Exactly one block of data, as libiscsi's WriteSame*.Invalid-
	 * DataOutSize expects for both too little and too much. */
	if (!ndob && task->data_len != lbs) {
		tgt_cmd_bad_cdb(c, ws16 ? 10 : 7, -1);
		return;
	}
	total = (uint64_t)c->nlb * lbs;
	c->buflen = total < TGT_WS_CHUNK ? total : TGT_WS_CHUNK;
	c->buflen -= c->buflen % lbs;
	c->buf = calloc(1, c->buflen);
	if (c->buf == NULL) {
		tgt_cmd_errno(c, -ENOMEM, true);
		return;
	}
	if (!ndob) {
		tgt_cmd_data_out(c, c->buf, lbs);
		for (i = 0; i < lbs && zero; i++)
			zero = c->buf[i] == 0;
		/* The pattern buffer is bounded (TGT_WS_CHUNK), never sized
		 * by the number of blocks. */
		for (bl = lbs; bl < c->buflen; bl += lbs)
			memcpy(c->buf + bl, c->buf, lbs);
	}
	c->pos = 0;
	c->end = total;
	c->step = 0;
	/* UNMAP=1 on a LUN that can unmap: unmap, whatever the pattern (SBC-3
	 * lets the device server unmap instead of writing; libiscsi's
	 * WriteSame*.UnmapUntilEnd sends a non-zero block and expects
	 * zeroes back when LBPRZ is set). */
	if (unmap && geo->can_discard)
		rc = tgt_io_start(c, BDEV_IO_DISCARD, 0,
				  c->lba << c->lun->lbshift, total, NULL, 0,
				  ws_zero_done);
	else if (zero && geo->can_write_zeroes)
		rc = tgt_io_start(c, BDEV_IO_WRITE_ZEROES,
				  unmap ? 0 : BDEV_IO_NO_UNMAP,
				  c->lba << c->lun->lbshift, total, NULL, 0,
				  ws_zero_done);
	else {
		c->step = 1;
		ws_step(c);
		return;
	}
	if (rc == -ENOTSUP) {
		c->step = 1;
		ws_step(c);
	} else if (rc < 0) {
		tgt_cmd_errno(c, rc, true);
	}
}

/* ---- UNMAP ---- */

static void unmap_step(struct tgt_cmd *c);

static void unmap_done(struct tgt_cmd *c, int err)
{
	if (io_failed(c, err, true))
		return;
	c->pos++;
	unmap_step(c);
}

static void unmap_step(struct tgt_cmd *c)
{
	for (; c->pos < c->end; c->pos++) {
		const uint8_t *d = c->buf + 8 + 16 * c->pos;
		uint64_t lba = scsi_get64(d);
		uint32_t nb = scsi_get32(d + 8);
		int rc;

		if (nb == 0)
			continue;
		rc = tgt_io_start(c, BDEV_IO_DISCARD, 0,
				  lba << c->lun->lbshift,
				  (uint64_t)nb << c->lun->lbshift, NULL, 0,
				  unmap_done);
		if (rc < 0)
			tgt_cmd_errno(c, rc, true);
		return;
	}
	c->moved = c->implied;
	tgt_cmd_good(c);
}

void tgt_h_unmap(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	uint32_t plen = scsi_get16(task->cdb + 7);
	uint64_t nb = tgt_lun_nblocks(c->lun), sum = 0;
	uint32_t bdlen, nd, i;

	c->implied = plen;
	/* SBC-3 5.28: a zero PARAMETER LIST LENGTH is not an error. */
	if (plen == 0) {
		tgt_cmd_good(c);
		return;
	}
	if (plen < 8 || task->data_len < plen) {
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	c->buf = malloc(plen);
	if (c->buf == NULL) {
		tgt_cmd_errno(c, -ENOMEM, true);
		return;
	}
	tgt_cmd_data_out(c, c->buf, plen);
	bdlen = scsi_get16(c->buf + 2);	/* BLOCK DESCRIPTOR DATA LENGTH */
	if (bdlen > plen - 8)
		bdlen = plen - 8;	/* truncated list: use what arrived */
	nd = bdlen / 16;		/* a partial descriptor is ignored */
	if (nd > TGT_MAX_UNMAP_DESC) {
		tgt_cmd_bad_param(c, 2, -1);
		return;
	}
	for (i = 0; i < nd; i++) {
		const uint8_t *d = c->buf + 8 + 16 * i;
		uint64_t lba = scsi_get64(d);
		uint32_t n = scsi_get32(d + 8);

		if (lba > nb || n > nb - lba) {
			tgt_cmd_lba_oor(c);
			return;
		}
		sum += n;
		if (sum > TGT_MAX_UNMAP_LBA_COUNT) {
			tgt_cmd_bad_param(c, 8 + 16 * i + 8, -1);
			return;
		}
	}
	c->pos = 0;
	c->end = nd;
	unmap_step(c);
}

/* ---- GET LBA STATUS ---- */

#define TGT_GLS_MAX_DESC 64u

void tgt_h_get_lba_status(struct tgt_cmd *c)
{
	const uint8_t *cdb = c->task->cdb;
	uint64_t lba = scsi_get64(cdb + 2), nb = tgt_lun_nblocks(c->lun);
	uint32_t alloc = scsi_get32(cdb + 10);
	uint8_t out[8 + 16 * TGT_GLS_MAX_DESC];
	unsigned nd = 0, max = TGT_GLS_MAX_DESC;
	uint8_t shift = c->lun->lbshift;

	if (lba >= nb) {
		tgt_cmd_lba_oor(c);
		return;
	}
	if (alloc >= 24 && (alloc - 8) / 16 < max)
		max = (alloc - 8) / 16;
	if (max == 0)
		max = 1;
	memset(out, 0, sizeof(out));
	while (nd < max && lba < nb) {
		enum bdev_alloc_state st = BDEV_MAPPED;
		uint64_t run = (nb - lba) << shift, blocks;
		uint8_t *d = out + 8 + 16 * nd;

		if (bdev_block_status(c->lun->bd, lba << shift,
				      (nb - lba) << shift, &st, &run) < 0 ||
		    run == 0) {
			st = BDEV_MAPPED;
			run = (nb - lba) << shift;
		}
		blocks = run >> shift;
		if (blocks == 0)
			blocks = 1;
		if (blocks > 0xffffffffull)
			blocks = 0xffffffffull;
		scsi_put64(d, lba);			/* LBA */
		scsi_put32(d + 8, (uint32_t)blocks);	/* NUMBER OF BLOCKS */
		d[12] = st == BDEV_DEALLOCATED ? 0x1 : 0x0; /* PROVISIONING */
		lba += blocks;
		nd++;
	}
	scsi_put32(out, 4 + 16 * nd);	/* PARAMETER DATA LENGTH */
	tgt_cmd_data_in(c, out, 8 + 16 * nd, alloc);
	tgt_cmd_good(c);
}

/* ---- COMPARE AND WRITE ---- */

static bool caw_overlaps(const struct tgt_caw *a, const struct tgt_caw *b)
{
	return a->lba < b->lba + b->nlb && b->lba < a->lba + a->nlb;
}

static void caw_write_done(struct tgt_cmd *c, int err)
{
	if (io_failed(c, err, true))
		return;
	c->moved = c->implied;
	tgt_cmd_good(c);
}

static void caw_read_done(struct tgt_cmd *c, int err)
{
	uint64_t len = (uint64_t)c->nlb * c->lun->lbsize;
	int64_t off;
	int rc;

	if (io_failed(c, err, false))
		return;
	off = tgt_cmd_data_cmp(c, 0, c->buf, (size_t)len);
	if (off >= 0) {
		/* SBC-3 5.2: INFORMATION = offset of the first differing
		 * byte in the Data-Out buffer's verify half. */
		tgt_cmd_check_info(c, SCSI_SK_MISCOMPARE,
				   SCSI_ASC_MISCOMPARE_DURING_VERIFY,
				   (uint64_t)off);
		return;
	}
	/* The write half starts right after the verify half. */
	{
		int n = tgt_iov_slice(c->task->iov, c->task->iovcnt, len, len,
				      NULL, c->task->iovcnt);
		struct iovec *v = n > 0 ? calloc((size_t)n, sizeof(*v)) : NULL;

		if (v == NULL) {
			tgt_cmd_errno(c, -ENOMEM, true);
			return;
		}
		tgt_iov_slice(c->task->iov, c->task->iovcnt, len, len, v, n);
		c->xiov = v;
		rc = tgt_io_start(c, BDEV_IO_WRITE, write_flags(c, c->fua),
				  c->lba << c->lun->lbshift, len, v, n,
				  caw_write_done);
	}
	if (rc < 0)
		tgt_cmd_errno(c, rc, true);
}

static void caw_start(struct tgt_cmd *c)
{
	uint64_t len = (uint64_t)c->nlb * c->lun->lbsize;
	int rc;

	c->biov.iov_base = c->buf;
	c->biov.iov_len = (size_t)len;
	rc = tgt_io_start(c, BDEV_IO_READ, 0, c->lba << c->lun->lbshift, len,
			  &c->biov, 1, caw_read_done);
	if (rc < 0)
		tgt_cmd_errno(c, rc, false);
}

/*
 * The bdev compares and writes itself (geometry max_compare_write): the
 * whole command is one BDEV_IO_COMPARE_WRITE, atomic wherever the backend
 * says -- for rbd across every gateway of the image, which the engine's
 * range lock (one process) could not be.  The range lock is still taken:
 * ORWRITE and WRITE ATOMIC read and write back under it, and a compare-
 * and-write landing between the two would be lost.
 */
static void caw_bdev_done(struct tgt_cmd *c, int err)
{
	if (err == -EILSEQ) {
		/* As caw_read_done: the offset of the first differing byte. */
		tgt_cmd_check_info(c, SCSI_SK_MISCOMPARE,
				   SCSI_ASC_MISCOMPARE_DURING_VERIFY,
				   c->io_miscompare);
		return;
	}
	if (io_failed(c, err, true))
		return;
	c->moved = c->implied;
	tgt_cmd_good(c);
}

static void caw_bdev_start(struct tgt_cmd *c)
{
	int rc;

	rc = tgt_io_start(c, BDEV_IO_COMPARE_WRITE, write_flags(c, c->fua),
			  c->lba << c->lun->lbshift,
			  (uint64_t)c->nlb * c->lun->lbsize, c->task->iov,
			  c->task->iovcnt, caw_bdev_done);
	if (rc < 0)
		tgt_cmd_errno(c, rc, true);
}

uint32_t tgt_caw_limit(const struct tgt_lun *lun)
{
	uint32_t bdev_max = bdev_geometry(lun->bd)->max_compare_write;

	if (bdev_max == 0 || bdev_max / lun->lbsize >= TGT_MAX_CAW_LEN)
		return TGT_MAX_CAW_LEN;
	return bdev_max / lun->lbsize;
}

static void caw_start_posted(void *arg)
{
	struct tgt_cmd *c = arg;

	c->caw.start(c);
}

void tgt_caw_release(struct tgt_cmd *c)
{
	struct tgt_lun *lun = c->lun;
	struct tgt_caw **pp, *w, *ready = NULL;

	pthread_mutex_lock(&lun->lock);
	for (pp = &lun->caw_active; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == &c->caw) {
			*pp = c->caw.next;
			break;
		}
	}
	c->caw_held = false;
	/* Admit waiters that no longer overlap an active one, in order. */
	pp = &lun->caw_waiting;
	while ((w = *pp) != NULL) {
		struct tgt_caw *a;
		bool blocked = false;

		for (a = lun->caw_active; a != NULL && !blocked; a = a->next)
			blocked = caw_overlaps(a, w);
		if (blocked) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->next = lun->caw_active;
		lun->caw_active = w;
		w->cmd->caw_held = true;
		w->ready_next = ready;	/* started below, outside the lock */
		ready = w;
	}
	pthread_mutex_unlock(&lun->lock);
	while (ready != NULL) {
		struct tgt_cmd *wc = ready->cmd;

		ready = ready->ready_next;
		/* The waiter may belong to another reactor: start it there. */
		if (ev_loop_post(wc->task->loop, caw_start_posted, wc) < 0)
			tgt_cmd_errno(wc, -ENOMEM, true);
	}
}

void tgt_h_compare_and_write(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	uint32_t lbs = c->lun->lbsize;

	c->lba = scsi_get64(task->cdb + 2);
	c->nlb = task->cdb[13];
	c->fua = (task->cdb[1] & 0x08) != 0;
	c->implied = 2ull * c->nlb * lbs;
	if (range_bad(c, c->lba, c->nlb))
		return;
	if (c->nlb == 0) {
		/* SBC-3 5.2: no compare, no write, not an error -- unless the
		 * Data-Out buffer holds whole verify/write pairs, which means
		 * the initiator described more blocks than the one-byte field
		 * holds (libiscsi CompareAndWrite.Simple sends 256 as 0 and
		 * expects INVALID FIELD IN CDB; its DpoFua test sends NLB 0
		 * with one stray block and expects GOOD). */
		if (task->data_len != 0 && task->data_len % (2 * lbs) == 0)
			tgt_cmd_bad_cdb(c, 13, -1);
		else
			tgt_cmd_good(c);
		return;
	}
	if (c->nlb > tgt_caw_limit(c->lun)) {
		tgt_cmd_bad_cdb(c, 13, -1);
		return;
	}
	/* The Data-Out buffer must hold exactly the verify and write halves
	 * (libiscsi CompareAndWrite.InvalidDataOutSize). */
	if (task->data_len != c->implied) {
		tgt_cmd_bad_cdb(c, 13, -1);
		return;
	}
	if (bdev_geometry(c->lun->bd)->max_compare_write != 0) {
		tgt_range_lock(c, c->lba, c->nlb, caw_bdev_start);
		return;
	}
	c->buf = malloc((size_t)c->nlb * lbs);
	if (c->buf == NULL) {
		tgt_cmd_errno(c, -ENOMEM, true);
		return;
	}
	tgt_range_lock(c, c->lba, c->nlb, caw_start);
}

void tgt_range_lock(struct tgt_cmd *c, uint64_t lba, uint32_t nlb,
		    void (*start)(struct tgt_cmd *c))
{
	struct tgt_lun *lun = c->lun;
	struct tgt_caw *a;
	bool blocked = false;

	c->caw.lba = lba;
	c->caw.nlb = nlb;
	c->caw.cmd = c;
	c->caw.start = start;
	pthread_mutex_lock(&lun->lock);
	for (a = lun->caw_active; a != NULL && !blocked; a = a->next)
		blocked = caw_overlaps(a, &c->caw);
	if (blocked) {
		struct tgt_caw **pp = &lun->caw_waiting;

		while (*pp != NULL)
			pp = &(*pp)->next;
		c->caw.next = NULL;
		*pp = &c->caw;
	} else {
		c->caw.next = lun->caw_active;
		lun->caw_active = &c->caw;
		c->caw_held = true;
	}
	pthread_mutex_unlock(&lun->lock);
	if (!blocked)
		start(c);
}

/* ---- For the other SBC files (tgt_atomic.c) ---- */

bool tgt_sbc_range_bad(struct tgt_cmd *c, uint64_t lba, uint64_t nlb)
{
	return range_bad(c, lba, nlb);
}

uint32_t tgt_sbc_write_flags(struct tgt_cmd *c, bool fua)
{
	return write_flags(c, fua);
}

bool tgt_sbc_io_failed(struct tgt_cmd *c, int err, bool write)
{
	return io_failed(c, err, write);
}

void tgt_sbc_write_done(struct tgt_cmd *c, int err)
{
	write_done(c, err);
}
