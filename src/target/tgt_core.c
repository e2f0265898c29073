/*
 * The SCSI target engine's core: the life of a task -- submit, dispatch
 * through the command table (tgt_table.c), sense and data helpers for the
 * handlers, completion, abort -- and task management.  The objects (LUN,
 * target, nexus, unit attentions) are in tgt_obj.c.
 *
 * The generic checks every command goes through, in this order:
 *   1. the LUN is mapped (else LUN NOT SUPPORTED, except for the commands
 *      allowed on an unmapped LUN: INQUIRY, REPORT LUNS, REQUEST SENSE);
 *   2. a pending unit attention is reported (except INQUIRY, REPORT LUNS,
 *      REQUEST SENSE), once;
 *   3. the opcode / service action is in the table and usable on this LUN;
 *   4. every reserved CDB bit is zero (the row's valid-bit mask), with a
 *      field pointer to the first offending byte and bit;
 *   4a. the ALUA state of the nexus's target port allows the command (the
 *      row's TGT_CF_ALUA_* column, tgt_alua.c);
 *   5. reservations (SPC-2 RESERVE and persistent reservations);
 *   6. write protection for commands that write the medium;
 * then the handler runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/evloop.h>
#include <scsikit/log.h>

#include "target/tgt_int.h"

/* ------------------------------------------------------------------ */
/* Commands: allocation, sense, data, completion                       */
/* ------------------------------------------------------------------ */

_Atomic long tgt_cmds_live;

/*
 * Command contexts are recycled through a small per-thread cache: a
 * reactor allocates and frees one per SCSI command, and malloc showed up in
 * profiles of 4 KiB reads.  The cache is bounded and emptied when the thread
 * exits.
 */
#define TGT_CMD_CACHE_MAX 128

static __thread struct tgt_cmd *cmd_cache;
static __thread unsigned cmd_cache_len;
static pthread_key_t cmd_cache_key;
static pthread_once_t cmd_cache_once = PTHREAD_ONCE_INIT;

static void cmd_cache_drain(void *unused)
{
	struct tgt_cmd *c;

	(void)unused;
	while ((c = cmd_cache) != NULL) {
		cmd_cache = *(struct tgt_cmd **)c;
		free(c);
	}
	cmd_cache_len = 0;
}

static void cmd_cache_init(void)
{
	pthread_key_create(&cmd_cache_key, cmd_cache_drain);
}

static struct tgt_cmd *cmd_alloc(void)
{
	struct tgt_cmd *c = cmd_cache;

	if (c != NULL) {
		cmd_cache = *(struct tgt_cmd **)c;
		cmd_cache_len--;
		memset(c, 0, sizeof(*c));
	} else {
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			return NULL;
	}
	atomic_fetch_add_explicit(&tgt_cmds_live, 1, memory_order_relaxed);
	return c;
}

static void cmd_free(struct tgt_cmd *c)
{
	atomic_fetch_sub_explicit(&tgt_cmds_live, 1, memory_order_relaxed);
	if (cmd_cache_len >= TGT_CMD_CACHE_MAX) {
		free(c);
		return;
	}
	if (cmd_cache_len == 0) {
		/* Make sure the thread's exit drains the cache. */
		pthread_once(&cmd_cache_once, cmd_cache_init);
		pthread_setspecific(cmd_cache_key, (void *)1);
	}
	*(struct tgt_cmd **)c = cmd_cache;
	cmd_cache = c;
	cmd_cache_len++;
}

static void cmd_sense(struct tgt_cmd *c, const struct scsi_sense *s)
{
	struct tgt_task *task = c->task;

	task->status = SCSI_STATUS_CHECK_CONDITION;
	task->sense_len = (uint8_t)scsi_sense_build(
		s, c->descriptor_sense, task->sense, sizeof(task->sense));
}

void tgt_cmd_check_sense(struct tgt_cmd *c, const struct scsi_sense *s)
{
	cmd_sense(c, s);
	tgt_cmd_complete(c);
}

void tgt_cmd_check(struct tgt_cmd *c, uint8_t key, uint16_t asc)
{
	struct scsi_sense s;

	memset(&s, 0, sizeof(s));
	s.key = key;
	s.asc_ascq = asc;
	s.current = true;
	cmd_sense(c, &s);
	tgt_cmd_complete(c);
}

void tgt_cmd_check_info(struct tgt_cmd *c, uint8_t key, uint16_t asc,
			uint64_t info)
{
	struct scsi_sense s;

	memset(&s, 0, sizeof(s));
	s.key = key;
	s.asc_ascq = asc;
	s.current = true;
	s.info_valid = true;
	s.info = info;
	cmd_sense(c, &s);
	tgt_cmd_complete(c);
}

static void cmd_bad_field(struct tgt_cmd *c, bool cdb, unsigned byte, int bit)
{
	struct scsi_sense s;

	memset(&s, 0, sizeof(s));
	s.key = SCSI_SK_ILLEGAL_REQUEST;
	s.asc_ascq = cdb ? SCSI_ASC_INVALID_FIELD_IN_CDB :
			   SCSI_ASC_INVALID_FIELD_IN_PARAMETER_LIST;
	s.current = true;
	scsi_sense_field_pointer(&s, cdb, (uint16_t)byte, bit);
	cmd_sense(c, &s);
	tgt_cmd_complete(c);
}

void tgt_cmd_bad_cdb(struct tgt_cmd *c, unsigned byte, int bit)
{
	cmd_bad_field(c, true, byte, bit);
}

void tgt_cmd_bad_param(struct tgt_cmd *c, unsigned byte, int bit)
{
	cmd_bad_field(c, false, byte, bit);
}

void tgt_cmd_lba_oor(struct tgt_cmd *c)
{
	/* SBC-3 asks for no INFORMATION with LBA OUT OF RANGE. */
	tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC_LBA_OUT_OF_RANGE);
}

void tgt_cmd_status(struct tgt_cmd *c, uint8_t status)
{
	c->task->status = status;
	c->task->sense_len = 0;
	tgt_cmd_complete(c);
}

void tgt_cmd_good(struct tgt_cmd *c)
{
	tgt_cmd_status(c, SCSI_STATUS_GOOD);
}

void tgt_cmd_errno(struct tgt_cmd *c, int err, bool write)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case EIO:
	case ENODATA:
	case EBADMSG:
		tgt_cmd_check(c, SCSI_SK_MEDIUM_ERROR,
			      write ? SCSI_ASC_WRITE_ERROR :
				      SCSI_ASC_UNRECOVERED_READ_ERROR);
		break;
	case ENOSPC:
		/* SBC-3: SPACE ALLOCATION FAILED WRITE PROTECT. */
		tgt_cmd_check(c, SCSI_SK_DATA_PROTECT, SCSI_ASC(0x27, 0x07));
		break;
	case EROFS:
		tgt_cmd_check(c, SCSI_SK_DATA_PROTECT,
			      SCSI_ASC_WRITE_PROTECTED);
		break;
	case ERANGE:
		tgt_cmd_lba_oor(c);
		break;
	case ENOTSUP:
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_INVALID_COMMAND_OPCODE);
		break;
	case ECANCELED:
		/* Stopped by tgt_task_abort: the front end sends nothing. */
		tgt_cmd_status(c, SCSI_STATUS_TASK_ABORTED);
		break;
	case ENOTCONN:
	case ETIMEDOUT:
		/* The backend's storage cannot be reached (an rbd image whose
		 * cluster is gone): the LU is not ready, not broken, and a
		 * multipathing initiator tries another path. */
		tgt_cmd_check(c, SCSI_SK_NOT_READY,
			      SCSI_ASC_LUN_COMMUNICATION_FAILURE);
		break;
	case ENOMEM:
		/* A transient shortage: let the initiator retry. */
		tgt_cmd_status(c, SCSI_STATUS_TASK_SET_FULL);
		break;
	default:
		tgt_cmd_check(c, SCSI_SK_HARDWARE_ERROR,
			      SCSI_ASC_INTERNAL_TARGET_FAILURE);
		break;
	}
}

void tgt_cmd_data_in(struct tgt_cmd *c, const void *data, size_t len,
		     uint32_t alloc)
{
	struct tgt_task *task = c->task;
	size_t n = len < alloc ? len : alloc;
	size_t want = n < task->data_len ? n : task->data_len;
	size_t done = 0;
	int i;

	c->implied = n;
	for (i = 0; i < task->iovcnt && done < want; i++) {
		size_t k = task->iov[i].iov_len;

		if (k > want - done)
			k = want - done;
		memcpy(task->iov[i].iov_base, (const uint8_t *)data + done, k);
		done += k;
	}
	c->moved = done;
}

size_t tgt_cmd_data_out(struct tgt_cmd *c, void *dst, size_t len)
{
	struct tgt_task *task = c->task;
	size_t want = len < task->data_len ? len : task->data_len;
	size_t done = 0;
	int i;

	for (i = 0; i < task->iovcnt && done < want; i++) {
		size_t k = task->iov[i].iov_len;

		if (k > want - done)
			k = want - done;
		memcpy((uint8_t *)dst + done, task->iov[i].iov_base, k);
		done += k;
	}
	return done;
}

int64_t tgt_cmd_data_cmp(struct tgt_cmd *c, uint64_t off, const void *src,
			 size_t len)
{
	struct tgt_task *task = c->task;
	const uint8_t *s = src;
	uint64_t pos = 0, done = 0;
	int i;

	for (i = 0; i < task->iovcnt && done < len; i++) {
		const uint8_t *b = task->iov[i].iov_base;
		uint64_t k = task->iov[i].iov_len, skip = 0, j;

		if (pos + k <= off) {
			pos += k;
			continue;
		}
		if (pos < off)
			skip = off - pos;
		pos += k;
		k -= skip;
		if (k > len - done)
			k = len - done;
		if (memcmp(b + skip, s + done, k) != 0) {
			for (j = 0; j < k; j++)
				if (b[skip + j] != s[done + j])
					return (int64_t)(done + j);
		}
		done += k;
	}
	return -1;
}

static void task_call_done(void *arg)
{
	struct tgt_task *task = arg;

	task->done(task, task->done_arg);
}

void tgt_cmd_complete(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	struct tgt_lun *lun = c->lun;
	struct tgt_nexus *n = c->n;
	bool in_submit = c->in_submit;

	if (c->done) {
		log_err("target: command 0x%02x completed twice", task->cdb[0]);
		return;
	}
	c->done = true;
	if (task->status == SCSI_STATUS_GOOD) {
		task->xfer_done = (uint32_t)c->moved;
		if (c->implied > task->data_len) {
			uint64_t over = c->implied - task->data_len;

			/* A 16-byte CDB can ask for more than 4 GiB: the
			 * 32-bit residual saturates. */
			task->resid_flags = TGT_RESID_OVER;
			task->resid = over > UINT32_MAX ? UINT32_MAX :
							  (uint32_t)over;
		} else if (c->implied < task->data_len) {
			task->resid_flags = TGT_RESID_UNDER;
			task->resid = (uint32_t)(task->data_len - c->implied);
		}
	} else {
		task->xfer_done = 0;
		if (task->data_len > 0) {
			task->resid_flags = TGT_RESID_UNDER;
			task->resid = task->data_len;
		}
	}
	task->aborted = c->abort_req;
	if ((sk_trace_mask & SK_TRACE_CDB) &&
	    task->status != SCSI_STATUS_GOOD) {
		struct scsi_sense s;
		char why[128] = "";

		if (scsi_sense_parse(task->sense, task->sense_len, &s) == 0)
			scsi_sense_format(&s, why, sizeof(why));
		log_debug("tgt %s lun %llu tag %llu: %s -> %s %s%s",
			  n->initiator, (unsigned long long)task->lun,
			  (unsigned long long)task->tag,
			  scsi_opcode_name(task->cdb[0], task->cdb[1] & 0x1f),
			  scsi_status_name(task->status), why,
			  c->abort_req ? " (aborted)" : "");
	}
	if (lun != NULL) {
		if (task->status == SCSI_STATUS_CHECK_CONDITION)
			atomic_fetch_add_explicit(&lun->st.errors, 1,
						  memory_order_relaxed);
		if (c->d != NULL && (c->d->flags & TGT_CF_IO) &&
		    task->status == SCSI_STATUS_GOOD) {
			if (c->d->dir == TGT_DIR_READ)
				atomic_fetch_add_explicit(&lun->st.read_bytes,
							  c->moved,
							  memory_order_relaxed);
			else if (c->d->dir == TGT_DIR_WRITE)
				atomic_fetch_add_explicit(
					&lun->st.write_bytes, c->moved,
					memory_order_relaxed);
		}
		atomic_fetch_sub_explicit(&lun->st.in_flight, 1,
					  memory_order_relaxed);
	}
	if (c->caw_held)
		tgt_caw_release(c);
	tgt_io_cleanup(c);
	free(c->buf);
	free(c->xiov);
	task->priv[0] = 0;
	cmd_free(c);
	tgt_lun_release(lun);
	tgt_nexus_put(n);

	if (!in_submit) {
		task->done(task, task->done_arg);
		return;
	}
	/* Answered from inside tgt_task_submit: done must run later. */
	if (ev_loop_in_thread(task->loop)) {
		if (ev_loop_defer(task->loop, task_call_done, task) == 0)
			return;
	}
	if (ev_loop_post(task->loop, task_call_done, task) == 0)
		return;
	log_err("target: cannot defer a completion; completing inline");
	task->done(task, task->done_arg);
}

/* ------------------------------------------------------------------ */
/* Submit and dispatch                                                 */
/* ------------------------------------------------------------------ */

/* The generic reserved-bit check: 0, or the offending byte / bit. */
static bool cdb_bits_ok(const struct tgt_cmd_desc *d, const uint8_t *cdb,
			unsigned *byte, int *bit)
{
	unsigned i, last = d->cdb_len - 1u;

	for (i = 1; i < d->cdb_len; i++) {
		uint8_t valid = d->mask[i], bad;

		/* CONTROL: vendor bits 7-6 are ignored, NACA and LINK are not
		 * supported (SAM-5 5.2). */
		if (i == last)
			valid |= 0xc0;
		bad = (uint8_t)(cdb[i] & ~valid);
		if (bad != 0) {
			*byte = i;
			*bit = 31 - __builtin_clz(bad);
			return false;
		}
	}
	return true;
}

static void cmd_dispatch(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	struct tgt_nexus *n = c->n;
	const struct tgt_cmd_desc *d;
	struct tgt_lun *lun = NULL;
	uint8_t op = task->cdb[0];
	bool has_sa = false;
	uint16_t asc;
	unsigned byte;
	int bit;

	d = tgt_table_lookup(op, task->cdb[1] & 0x1f, &has_sa);
	c->d = d;
	if (task->lun < TGT_MAX_LUNS) {
		c->lun_id = (uint32_t)task->lun;
		lun = atomic_load_explicit(&n->t->luns[c->lun_id],
					   memory_order_acquire);
	}
	if (lun != NULL) {
		c->lun = tgt_lun_hold(lun);
		c->descriptor_sense = atomic_load_explicit(
			&lun->d_sense, memory_order_relaxed);
		atomic_fetch_add_explicit(&lun->st.cmds, 1,
					  memory_order_relaxed);
		atomic_fetch_add_explicit(&lun->st.in_flight, 1,
					  memory_order_relaxed);
	}
	sk_trace(SK_TRACE_CDB, "tgt %s lun %llu tag %llu: %s", n->initiator,
		 (unsigned long long)task->lun, (unsigned long long)task->tag,
		 scsi_opcode_name(op, task->cdb[1] & 0x1f));

	if (lun == NULL) {
		if (d != NULL && (d->flags & TGT_CF_NO_LUN_OK) &&
		    task->cdb_len >= d->cdb_len) {
			d->handler(c);
			return;
		}
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_LUN_NOT_SUPPORTED);
		return;
	}

	/* A backend whose size changed under it (an rbd image resized by
	 * its cluster): CAPACITY DATA HAS CHANGED to every nexus.  A drive
	 * with removable media reports its own changes (tgt_medium.c). */
	if (__atomic_load_n(&bdev_geometry(lun->bd)->size, __ATOMIC_RELAXED) >>
		    lun->lbshift != atomic_load_explicit(&lun->nblocks,
							 memory_order_relaxed) &&
	    bdev_medium_kind(lun->bd) == BDEV_MEDIUM_FIXED)
		tgt_lun_capacity_changed(lun);

	/* 2. Unit attention (SAM-5 5.14, SPC-4 5.14: not for INQUIRY, REPORT
	 * LUNS, REQUEST SENSE). */
	if ((d == NULL || !(d->flags & TGT_CF_UA_OK)) &&
	    atomic_load_explicit(&n->ua[c->lun_id], memory_order_relaxed) != 0 &&
	    tgt_nexus_ua_take(n, c->lun_id, &asc)) {
		tgt_cmd_check(c, SCSI_SK_UNIT_ATTENTION, asc);
		return;
	}

	/* 3. Opcode and service action. */
	if (d == NULL || !tgt_desc_supported(d, lun)) {
		/* An unknown service action of an opcode this LU has, or an
		 * opcode it does not have at all. */
		if (has_sa && tgt_opcode_supported(op, lun))
			tgt_cmd_bad_cdb(c, 1, 4);
		else
			tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
				      SCSI_ASC_INVALID_COMMAND_OPCODE);
		return;
	}
	if (task->cdb_len < d->cdb_len) {
		tgt_cmd_bad_cdb(c, task->cdb_len, -1);
		return;
	}

	/* 4. Reserved bits. */
	if (!cdb_bits_ok(d, task->cdb, &byte, &bit)) {
		tgt_cmd_bad_cdb(c, byte, bit);
		return;
	}

	/* 4a. Asymmetric access state of the target port. */
	if (tgt_alua_refuse(c))
		return;

	/* 5. Reservations. */
	if (!(d->flags & TGT_CF_RES_OK)) {
		uint64_t holder = atomic_load_explicit(&lun->res2_holder,
						       memory_order_relaxed);

		if (holder != 0 && holder != n->id) {
			tgt_cmd_status(c, SCSI_STATUS_RESERVATION_CONFLICT);
			return;
		}
	}
	if (atomic_load_explicit(&lun->pr_active, memory_order_acquire)) {
		bool conflict;

		pthread_mutex_lock(&lun->lock);
		conflict = tgt_pr_conflict(c);
		pthread_mutex_unlock(&lun->lock);
		if (conflict) {
			tgt_cmd_status(c, SCSI_STATUS_RESERVATION_CONFLICT);
			return;
		}
	}

	/* 5b. The medium: sanitize in progress or failed, none loaded
	 * (tgt_medium.c). */
	if (tgt_media_gate(c))
		return;

	/* 6. Write protection (the SWP mode bit or a read-only LUN). */
	if ((d->flags & TGT_CF_MEDIUM_WRITE) && tgt_lun_write_protected(lun)) {
		tgt_cmd_check(c, SCSI_SK_DATA_PROTECT, SCSI_ASC_WRITE_PROTECTED);
		return;
	}

	if (d->flags & TGT_CF_IO) {
		if (d->dir == TGT_DIR_READ)
			atomic_fetch_add_explicit(&lun->st.read_cmds, 1,
						  memory_order_relaxed);
		else if (d->dir == TGT_DIR_WRITE)
			atomic_fetch_add_explicit(&lun->st.write_cmds, 1,
						  memory_order_relaxed);
	}
	d->handler(c);
}

int tgt_task_submit(struct tgt_nexus *n, struct tgt_task *task)
{
	struct tgt_cmd *c;

	if (n == NULL || task == NULL || task->loop == NULL ||
	    task->done == NULL || task->cdb_len == 0 || task->cdb_len > 32 ||
	    task->iovcnt < 0 || (task->data_len > 0 && task->iov == NULL))
		return -EINVAL;
	c = cmd_alloc();
	if (c == NULL)
		return -ENOMEM;
	task->status = SCSI_STATUS_GOOD;
	task->sense_len = 0;
	task->xfer_done = 0;
	task->resid = 0;
	task->resid_flags = 0;
	task->aborted = false;
	task->nexus = n;
	task->lu = NULL;
	task->priv[0] = (uint64_t)(uintptr_t)c;
	c->task = task;
	c->n = tgt_nexus_hold(n);
	c->in_submit = true;
	cmd_dispatch(c);
	/* c may already be freed here if it completed; only touch it through
	 * task->priv[0], which completion clears. */
	c = (struct tgt_cmd *)(uintptr_t)task->priv[0];
	if (c != NULL)
		c->in_submit = false;
	return 0;
}

void tgt_task_abort(struct tgt_task *task)
{
	struct tgt_cmd *c = (struct tgt_cmd *)(uintptr_t)task->priv[0];
	struct tgt_caw **pp;
	struct tgt_lun *lun;
	bool waiting = false;

	if (c == NULL) {
		/* Completed, done not yet run (deferred): report it aborted. */
		task->aborted = true;
		return;
	}
	c->abort_req = true;
	lun = c->lun;
	if (lun == NULL)
		return;
	if (c->d != NULL && c->d->handler == tgt_h_sanitize) {
		tgt_sanitize_abort(c);
		return;
	}
	/* A COMPARE AND WRITE waiting for an overlapping one holds no I/O:
	 * take it off the queue and finish it now. */
	pthread_mutex_lock(&lun->lock);
	for (pp = &lun->caw_waiting; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == &c->caw) {
			*pp = c->caw.next;
			waiting = true;
			break;
		}
	}
	pthread_mutex_unlock(&lun->lock);
	if (waiting)
		tgt_cmd_status(c, SCSI_STATUS_TASK_ABORTED);
}

/* ------------------------------------------------------------------ */
/* Task management                                                     */
/* ------------------------------------------------------------------ */

void tgt_lun_reset(struct tgt_lun *lun, enum tgt_ua ua)
{
	pthread_mutex_lock(&lun->lock);
	/* SPC-2 reservations do not survive a reset; persistent ones do. */
	atomic_store(&lun->res2_holder, 0);
	/* Mode parameters return to their defaults (nothing is saved). */
	tgt_mode_defaults(lun);
	/* SPC-4 6.13: a reset ends every medium removal prevention. */
	tgt_media_prevent_clear(lun, NULL);
	pthread_mutex_unlock(&lun->lock);
	/* SAM-5 6.6/6.7: every I_T nexus, the issuer's included, gets the
	 * reset unit attention (libiscsi MultipathIO.Reset checks all
	 * paths). */
	tgt_lun_ua_all(lun, ua, NULL);
}

/* A reset asked for here: this daemon's nexuses, then the other daemons
 * that present the LU (tgt_alua.c). */
static void lun_reset(struct tgt_lun *lun, enum tgt_ua ua)
{
	tgt_lun_reset(lun, ua);
	tgt_ha_notify_reset(lun, ua == TGT_UA_POWER_ON);
}

int tgt_tmf(struct tgt_target *t, struct tgt_nexus *issuer, enum tgt_tmf fn,
	    uint64_t lun_id)
{
	struct tgt_lun *held[TGT_MAX_LUNS];
	struct tgt_lun *lun;
	unsigned i, nheld = 0;

	switch (fn) {
	case TGT_TMF_ABORT_TASK_SET:
	case TGT_TMF_CLEAR_TASK_SET:
		/* Task sets are per I_T nexus (TST=000b): the front end has
		 * aborted the issuer's tasks and nobody else is affected. */
		if (lun_id >= TGT_MAX_LUNS || tgt_target_lun(t, (uint32_t)lun_id) == NULL)
			return -ENOENT;
		return 0;
	case TGT_TMF_LUN_RESET:
		if (lun_id >= TGT_MAX_LUNS)
			return -ENOENT;
		pthread_mutex_lock(&t->lock);
		lun = atomic_load(&t->luns[lun_id]);
		if (lun != NULL)
			tgt_lun_hold(lun);
		pthread_mutex_unlock(&t->lock);
		if (lun == NULL)
			return -ENOENT;
		lun_reset(lun, TGT_UA_BUS_DEVICE_RESET);
		tgt_lun_release(lun);
		return 0;
	case TGT_TMF_TARGET_WARM_RESET:
	case TGT_TMF_TARGET_COLD_RESET:
		pthread_mutex_lock(&t->lock);
		for (i = 0; i < TGT_MAX_LUNS; i++) {
			lun = atomic_load(&t->luns[i]);
			if (lun != NULL)
				held[nheld++] = tgt_lun_hold(lun);
		}
		pthread_mutex_unlock(&t->lock);
		for (i = 0; i < nheld; i++) {
			lun_reset(held[i], fn == TGT_TMF_TARGET_COLD_RESET ?
						   TGT_UA_POWER_ON :
						   TGT_UA_BUS_DEVICE_RESET);
			tgt_lun_release(held[i]);
		}
		return 0;
	case TGT_TMF_CLEAR_ACA:
		/* NACA is not supported (the CONTROL byte check rejects it),
		 * so there is never an ACA to clear. */
		return -ENOTSUP;
	}
	return -EINVAL;
}
