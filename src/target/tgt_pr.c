/*
 * Persistent reservations (SPC-4 5.9, PERSISTENT RESERVE IN/OUT): register,
 * register-and-ignore, reserve, release, clear, preempt (and preempt-and-
 * abort, whose task aborting is the front end's), READ KEYS, READ
 * RESERVATION, REPORT CAPABILITIES and READ FULL STATUS.
 *
 * Registrations are kept per LUN by I_T nexus: the initiator port name the
 * front end gives tgt_nexus_create and the relative target port the nexus
 * came through (tgt_nexus_set_port), or every target port with ALL_TG_PT.
 * A LUN is one object however many targets and ports show it, so a
 * registration or reservation made through one port is seen through all
 * of them.  The state lives in this daemon's memory: APTPL and SPEC_I_PT
 * are not supported and answer INVALID FIELD IN PARAMETER LIST; across
 * daemons see docs/multipath.md.  All of it runs under the LUN lock; the I/O path only
 * looks at lun->pr_active and takes the lock when a reservation exists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "target/tgt_int.h"

/* Reservation types. */
#define PR_WE 0x1
#define PR_EA 0x3
#define PR_WE_RO 0x5
#define PR_EA_RO 0x6
#define PR_WE_AR 0x7
#define PR_EA_AR 0x8

#define SCSI_ASC_INVALID_RELEASE_OF_PR SCSI_ASC(0x26, 0x04)

static bool type_valid(uint8_t t)
{
	return t == PR_WE || t == PR_EA || t == PR_WE_RO || t == PR_EA_RO ||
	       t == PR_WE_AR || t == PR_EA_AR;
}

/* Types under which every registrant may access the medium. */
static bool type_registrants(uint8_t t)
{
	return t == PR_WE_RO || t == PR_EA_RO || t == PR_WE_AR ||
	       t == PR_EA_AR;
}

static bool type_all_registrants(uint8_t t)
{
	return t == PR_WE_AR || t == PR_EA_AR;
}

static int reg_find(const struct tgt_pr *pr, const struct tgt_nexus *n)
{
	unsigned i;

	for (i = 0; i < pr->nregs; i++)
		if (strcmp(pr->regs[i].initiator, n->initiator) == 0 &&
		    (pr->regs[i].all_tg_pt || pr->regs[i].rtpi == n->rtpi))
			return (int)i;
	return -1;
}

/* Unit attention ua for the nexuses of registration g. */
static void reg_ua(struct tgt_lun *lun, const struct tgt_pr_reg *g,
		   enum tgt_ua ua)
{
	tgt_lun_ua_initiator(lun, ua, g->initiator,
			     g->all_tg_pt ? 0 : g->rtpi);
}

static bool is_holder(const struct tgt_pr *pr, int r)
{
	if (!pr->reserved || r < 0)
		return false;
	if (type_all_registrants(pr->type))
		return true;
	return pr->regs[r].holder;
}

static void pr_update_active(struct tgt_lun *lun)
{
	atomic_store_explicit(&lun->pr_active, lun->pr.reserved,
			      memory_order_release);
}

static void reg_remove(struct tgt_lun *lun, unsigned i)
{
	struct tgt_pr *pr = &lun->pr;
	bool was_holder = pr->regs[i].holder;

	free(pr->regs[i].initiator);
	pr->regs[i] = pr->regs[--pr->nregs];
	memset(&pr->regs[pr->nregs], 0, sizeof(pr->regs[0]));
	if (!pr->reserved)
		return;
	if (type_all_registrants(pr->type) ? pr->nregs == 0 : was_holder) {
		pr->reserved = false;
		pr_update_active(lun);
	}
}

bool tgt_pr_conflict(struct tgt_cmd *c)
{
	const struct tgt_pr *pr = &c->lun->pr;
	const struct tgt_cmd_desc *d = c->d;
	int r;

	if (!pr->reserved || (d->flags & TGT_CF_PR_ALLOWED))
		return false;
	r = reg_find(pr, c->n);
	if (type_registrants(pr->type) ? r >= 0 : is_holder(pr, r))
		return false;
	/* Write Exclusive types let everyone read. */
	if ((pr->type == PR_WE || pr->type == PR_WE_RO ||
	     pr->type == PR_WE_AR) && (d->flags & TGT_CF_PR_READ))
		return false;
	return true;
}

/* The shared store (tgt_ha_ops) did not answer: the LU cannot say what
 * its reservation state is, which SPC-4 calls a communication failure
 * (the initiator retries later, or through another port). */
static void pr_store_down(struct tgt_cmd *c)
{
	tgt_cmd_check(c, SCSI_SK_NOT_READY,
		      SCSI_ASC_LUN_COMMUNICATION_FAILURE);
}

/* ---- PERSISTENT RESERVE IN ---- */

void tgt_h_pr_in(struct tgt_cmd *c)
{
	struct tgt_lun *lun = c->lun;
	struct tgt_pr *pr = &lun->pr;
	uint8_t sa = c->task->cdb[1] & 0x1f;
	uint32_t alloc = scsi_get16(c->task->cdb + 7);
	uint8_t *buf;
	size_t n = 0, cap = 8 + TGT_PR_MAX_REGS * (24 + 264);
	unsigned i;

	buf = calloc(1, cap);
	if (buf == NULL) {
		tgt_cmd_errno(c, -ENOMEM, false);
		return;
	}
	pthread_mutex_lock(&lun->lock);
	if (tgt_pr_store_load(lun) < 0) {
		pthread_mutex_unlock(&lun->lock);
		free(buf);
		pr_store_down(c);
		return;
	}
	switch (sa) {
	case 0x00: /* READ KEYS */
		scsi_put32(buf, pr->generation);
		for (i = 0; i < pr->nregs; i++)
			scsi_put64(buf + 8 + 8 * i, pr->regs[i].key);
		scsi_put32(buf + 4, 8 * pr->nregs);
		n = 8 + 8 * pr->nregs;
		break;
	case 0x01: /* READ RESERVATION */
		scsi_put32(buf, pr->generation);
		n = 8;
		if (pr->reserved) {
			uint64_t key = 0;

			for (i = 0; i < pr->nregs; i++)
				if (pr->regs[i].holder)
					key = pr->regs[i].key;
			if (type_all_registrants(pr->type))
				key = 0;
			scsi_put32(buf + 4, 16);
			scsi_put64(buf + 8, key);	/* RESERVATION KEY */
			buf[21] = pr->type & 0x0f;	/* SCOPE 0 (LU), TYPE */
			n = 24;
		}
		break;
	case 0x02: /* REPORT CAPABILITIES */
		scsi_put16(buf, 8);		/* LENGTH */
		buf[2] = 0x10 | 0x04;		/* CRH, ATP_C */
		buf[3] = 0x80;			/* TMV: the mask is valid */
		buf[4] = 0x80 | 0x40 | 0x20 | 0x08 | 0x02;
		buf[5] = 0x01;			/* + EX_AC_AR */
		n = 8;
		break;
	case 0x03: /* READ FULL STATUS */
		scsi_put32(buf, pr->generation);
		n = 8;
		for (i = 0; i < pr->nregs; i++) {
			const struct tgt_pr_reg *r = &pr->regs[i];
			uint8_t *d = buf + n;
			size_t nl = strlen(r->initiator) + 1, tl;

			if (nl > 223)
				nl = 223;
			tl = (4 + nl + 3) & ~(size_t)3;
			if (tl < 24)
				tl = 24;
			scsi_put64(d, r->key);
			if (is_holder(pr, (int)i)) {
				d[12] = 0x01;		/* R_HOLDER */
				d[13] = pr->type & 0x0f;
			}
			if (r->all_tg_pt)
				d[12] |= 0x02;		/* ALL_TG_PT */
			else			/* RELATIVE TARGET PORT ID */
				scsi_put16(d + 18, r->rtpi);
			scsi_put32(d + 20, (uint32_t)tl);
			/* iSCSI TransportID, initiator port format (01b). */
			d[24] = 0x40 | 0x05;
			scsi_put16(d + 26, (uint16_t)(tl - 4));
			memcpy(d + 28, r->initiator, nl - 1);
			n += 24 + tl;
		}
		scsi_put32(buf + 4, (uint32_t)(n - 8));
		break;
	}
	pthread_mutex_unlock(&lun->lock);
	tgt_cmd_data_in(c, buf, n, alloc);
	free(buf);
	tgt_cmd_good(c);
}

/* ---- PERSISTENT RESERVE OUT ---- */

enum pr_result { PR_OK, PR_CONFLICT, PR_BAD_TYPE, PR_BAD_RELEASE,
		 PR_BAD_PARAM, PR_NO_SPACE, PR_NOT_STORED, PR_STORE_DOWN };

static enum pr_result pr_register(struct tgt_cmd *c, int r, uint64_t rk,
				  uint64_t sark, bool ignore, bool all_tg_pt)
{
	struct tgt_lun *lun = c->lun;
	struct tgt_pr *pr = &lun->pr;

	if (r < 0) {
		if (!ignore && rk != 0)
			return PR_CONFLICT;
		if (sark == 0)
			return PR_OK;	/* nothing to unregister */
		if (pr->nregs >= TGT_PR_MAX_REGS)
			return PR_NO_SPACE;
		pr->regs[pr->nregs].initiator = strdup(c->n->initiator);
		if (pr->regs[pr->nregs].initiator == NULL)
			return PR_NO_SPACE;
		pr->regs[pr->nregs].key = sark;
		pr->regs[pr->nregs].rtpi = c->n->rtpi;
		pr->regs[pr->nregs].all_tg_pt = all_tg_pt;
		pr->regs[pr->nregs].holder = false;
		pr->nregs++;
		pr->generation++;
		return PR_OK;
	}
	if (!ignore && rk != pr->regs[r].key)
		return PR_CONFLICT;
	if (sark == 0) {
		bool ro = pr->reserved && pr->regs[r].holder &&
			  (pr->type == PR_WE_RO || pr->type == PR_EA_RO);

		reg_remove(lun, (unsigned)r);
		/* SPC-4 5.9.11: releasing a registrants-only reservation by
		 * unregistering tells the other registrants. */
		if (ro) {
			unsigned i;

			for (i = 0; i < pr->nregs; i++)
				reg_ua(lun, &pr->regs[i],
				       TGT_UA_RES_RELEASED);
		}
	} else {
		pr->regs[r].key = sark;
	}
	pr->generation++;
	return PR_OK;
}

static enum pr_result pr_reserve(struct tgt_cmd *c, int r, uint64_t rk,
				 uint8_t type)
{
	struct tgt_pr *pr = &c->lun->pr;

	if (r < 0 || rk != pr->regs[r].key)
		return PR_CONFLICT;
	if (!type_valid(type))
		return PR_BAD_TYPE;
	if (pr->reserved) {
		if (is_holder(pr, r) && pr->type == type)
			return PR_OK;
		return PR_CONFLICT;
	}
	pr->reserved = true;
	pr->type = type;
	pr->regs[r].holder = true;
	pr_update_active(c->lun);
	return PR_OK;
}

static void pr_release_all(struct tgt_lun *lun)
{
	unsigned i;

	for (i = 0; i < lun->pr.nregs; i++)
		lun->pr.regs[i].holder = false;
	lun->pr.reserved = false;
	pr_update_active(lun);
}

static enum pr_result pr_release(struct tgt_cmd *c, int r, uint64_t rk,
				 uint8_t type)
{
	struct tgt_lun *lun = c->lun;
	struct tgt_pr *pr = &lun->pr;
	unsigned i;

	if (r < 0 || rk != pr->regs[r].key)
		return PR_CONFLICT;
	if (!pr->reserved || !is_holder(pr, r))
		return PR_OK;
	if (pr->type != type)
		return PR_BAD_RELEASE;
	pr_release_all(lun);
	/* Others lose access rights they may rely on: tell them for the
	 * types that gave registrants access (SPC-4 5.9.11.2). */
	if (type_registrants(type) || type == PR_WE || type == PR_EA)
		for (i = 0; i < pr->nregs; i++)
			if ((int)i != r)
				reg_ua(lun, &pr->regs[i],
				       TGT_UA_RES_RELEASED);
	return PR_OK;
}

static enum pr_result pr_clear(struct tgt_cmd *c, int r, uint64_t rk)
{
	struct tgt_lun *lun = c->lun;
	struct tgt_pr *pr = &lun->pr;

	if (r < 0 || rk != pr->regs[r].key)
		return PR_CONFLICT;
	while (pr->nregs > 0) {
		unsigned i = pr->nregs - 1;

		if ((int)i != r)
			reg_ua(lun, &pr->regs[i], TGT_UA_RES_PREEMPTED);
		reg_remove(lun, i);
	}
	pr_release_all(lun);
	pr->generation++;
	return PR_OK;
}

static enum pr_result pr_preempt(struct tgt_cmd *c, int r, uint64_t rk,
				 uint64_t sark, uint8_t type)
{
	struct tgt_lun *lun = c->lun;
	struct tgt_pr *pr = &lun->pr;
	bool holder_preempted = false, removed = false;
	unsigned i;

	if (r < 0 || rk != pr->regs[r].key)
		return PR_CONFLICT;
	if (pr->reserved && type_all_registrants(pr->type)) {
		/* All-registrants: SERVICE ACTION RESERVATION KEY 0 preempts
		 * everyone else and takes the reservation. */
		if (sark == 0)
			holder_preempted = true;
	} else if (sark == 0) {
		return PR_BAD_PARAM;
	} else if (pr->reserved) {
		for (i = 0; i < pr->nregs; i++)
			if (pr->regs[i].holder && pr->regs[i].key == sark)
				holder_preempted = true;
	}
	if (holder_preempted && !type_valid(type))
		return PR_BAD_TYPE;
	i = 0;
	while (i < pr->nregs) {
		struct tgt_pr_reg *g = &pr->regs[i];

		if ((int)i != r && (sark == 0 || g->key == sark)) {
			reg_ua(lun, g, TGT_UA_REG_PREEMPTED);
			/* reg_remove moves the last entry into i. */
			if (r == (int)pr->nregs - 1)
				r = (int)i;
			reg_remove(lun, i);
			removed = true;
			continue;
		}
		i++;
	}
	if (holder_preempted) {
		for (i = 0; i < pr->nregs; i++)
			pr->regs[i].holder = false;
		pr->reserved = true;
		pr->type = type;
		pr->regs[r].holder = true;
		pr_update_active(lun);
	} else if (!removed) {
		return PR_CONFLICT;
	}
	pr->generation++;
	return PR_OK;
}

void tgt_h_pr_out(struct tgt_cmd *c)
{
	struct tgt_task *task = c->task;
	struct tgt_lun *lun = c->lun;
	const uint8_t *cdb = task->cdb;
	uint8_t sa = cdb[1] & 0x1f, scope = cdb[2] >> 4, type = cdb[2] & 0x0f;
	uint32_t plen = scsi_get32(cdb + 5);
	uint8_t p[24];
	uint64_t rk, sark;
	enum pr_result res = PR_OK;
	size_t snap_len = 0;
	void *snap;
	int r;

	c->implied = plen;
	/* Without SPEC_I_PT the list is exactly 24 bytes (SPC-4 6.16.3). */
	if (plen != 24 || task->data_len < plen) {
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_PARAMETER_LIST_LENGTH_ERROR);
		return;
	}
	tgt_cmd_data_out(c, p, sizeof(p));
	c->moved = plen;
	if (p[20] & 0x08) {	/* SPEC_I_PT */
		tgt_cmd_bad_param(c, 20, 3);
		return;
	}
	if (p[20] & 0x01) {	/* APTPL: nothing persists across power loss */
		tgt_cmd_bad_param(c, 20, 0);
		return;
	}
	if ((sa == 0x01 || sa == 0x02 || sa == 0x04 || sa == 0x05) &&
	    scope != 0) {
		tgt_cmd_bad_cdb(c, 2, 7);
		return;
	}
	rk = scsi_get64(p);
	sark = scsi_get64(p + 8);
	pthread_mutex_lock(&lun->lock);
	if (tgt_pr_store_load(lun) < 0) {
		pthread_mutex_unlock(&lun->lock);
		pr_store_down(c);
		return;
	}
	snap = tgt_pr_store_snapshot(lun, &snap_len);
	r = reg_find(&lun->pr, c->n);
	switch (sa) {
	case 0x00:
		res = pr_register(c, r, rk, sark, false, p[20] & 0x04);
		break;
	case 0x06:
		res = pr_register(c, r, rk, sark, true, p[20] & 0x04);
		break;
	case 0x01:
		res = pr_reserve(c, r, rk, type);
		break;
	case 0x02:
		res = pr_release(c, r, rk, type);
		break;
	case 0x03:
		res = pr_clear(c, r, rk);
		break;
	case 0x04:
	case 0x05:
		res = pr_preempt(c, r, rk, sark, type);
		break;
	}
	/* Another daemon may have changed it meanwhile: then ours is
	 * undone and the initiator retries against the new state. */
	if (res == PR_OK) {
		int rc = tgt_pr_store_publish(lun, snap, snap_len);

		if (rc == -EAGAIN || rc == -ENOMEM)
			res = PR_NOT_STORED;
		else if (rc < 0)
			res = PR_STORE_DOWN;
	}
	pthread_mutex_unlock(&lun->lock);
	free(snap);
	switch (res) {
	case PR_OK:
		tgt_cmd_good(c);
		break;
	case PR_CONFLICT:
		tgt_cmd_status(c, SCSI_STATUS_RESERVATION_CONFLICT);
		break;
	case PR_BAD_TYPE:
		tgt_cmd_bad_cdb(c, 2, 3);
		break;
	case PR_BAD_RELEASE:
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST,
			      SCSI_ASC_INVALID_RELEASE_OF_PR);
		break;
	case PR_BAD_PARAM:
		tgt_cmd_bad_param(c, 8, -1);
		break;
	case PR_NOT_STORED:
		tgt_cmd_status(c, SCSI_STATUS_BUSY);
		break;
	case PR_STORE_DOWN:
		pr_store_down(c);
		break;
	case PR_NO_SPACE:
		/* SPC-4 5.9.7: INSUFFICIENT REGISTRATION RESOURCES. */
		tgt_cmd_check(c, SCSI_SK_ILLEGAL_REQUEST, SCSI_ASC(0x55, 0x04));
		break;
	}
}
