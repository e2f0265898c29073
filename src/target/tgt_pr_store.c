/*
 * Persistent reservation state through the shared-state ops (tgt_ha_ops,
 * tgt_alua.c): before a PERSISTENT RESERVE IN/OUT the LUN's state is
 * reloaded from the store, after a PERSISTENT RESERVE OUT it is published,
 * so that daemons presenting one LU can agree on registrations and the
 * reservation.  With the in-memory ops (today's only ones) the store has
 * nothing and takes anything: the LUN's own state is all there is.
 *
 * The encoding (big-endian), read back with every length checked since
 * it comes from outside the process:
 *   0  "SKPR"   4  version 1   5  flags (bit 0: reserved)   6  type
 *   7  nregs (<= TGT_PR_MAX_REGS)   8  generation (4)   12 sequence (4)
 *   16 per registration: key (8), rtpi (2), flags (bit 0 holder, bit 1
 *      ALL_TG_PT), name length n (1, 1..255), n bytes of initiator port
 *      name (no NUL).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <scsikit/log.h>

#include "target/tgt_int.h"

#define PR_ENC_HDR 16
#define PR_ENC_MAX (PR_ENC_HDR + TGT_PR_MAX_REGS * (12 + 255))

static size_t pr_encode(const struct tgt_pr *pr, uint8_t *b)
{
	size_t n = PR_ENC_HDR;
	unsigned i;

	memcpy(b, "SKPR", 4);
	b[4] = 1;
	b[5] = pr->reserved ? 1 : 0;
	b[6] = pr->type;
	b[7] = (uint8_t)pr->nregs;
	scsi_put32(b + 8, pr->generation);
	scsi_put32(b + 12, pr->seq);
	for (i = 0; i < pr->nregs; i++) {
		const struct tgt_pr_reg *r = &pr->regs[i];
		size_t nl = strlen(r->initiator);

		if (nl > 255)
			nl = 255;
		scsi_put64(b + n, r->key);
		scsi_put16(b + n + 8, r->rtpi);
		b[n + 10] = (uint8_t)((r->holder ? 1 : 0) |
				      (r->all_tg_pt ? 2 : 0));
		b[n + 11] = (uint8_t)nl;
		memcpy(b + n + 12, r->initiator, nl);
		n += 12 + nl;
	}
	return n;
}

static void pr_free_regs(struct tgt_pr *pr)
{
	unsigned i;

	for (i = 0; i < pr->nregs; i++)
		free(pr->regs[i].initiator);
	pr->nregs = 0;
}

/* Replace lun's state with the encoded one (lun->lock held); -EINVAL for
 * anything malformed, and then lun keeps its state. */
static int pr_decode(struct tgt_lun *lun, const uint8_t *b, size_t len)
{
	struct tgt_pr np;
	size_t n = PR_ENC_HDR;
	unsigned i;

	memset(&np, 0, sizeof(np));
	if (len < PR_ENC_HDR || memcmp(b, "SKPR", 4) != 0 || b[4] != 1 ||
	    b[7] > TGT_PR_MAX_REGS)
		return -EINVAL;
	np.reserved = b[5] & 1;
	np.type = b[6];
	np.generation = scsi_get32(b + 8);
	np.seq = scsi_get32(b + 12);
	for (i = 0; i < b[7]; i++) {
		struct tgt_pr_reg *r = &np.regs[i];

		if (len - n < 12 || b[n + 11] == 0 ||
		    len - n - 12 < b[n + 11])
			goto out_bad;
		r->key = scsi_get64(b + n);
		r->rtpi = scsi_get16(b + n + 8);
		r->holder = b[n + 10] & 1;
		r->all_tg_pt = b[n + 10] & 2;
		r->initiator = strndup((const char *)b + n + 12, b[n + 11]);
		if (r->initiator == NULL)
			goto out_bad;
		np.nregs = i + 1;
		n += 12 + b[n + 11];
	}
	if (n != len)
		goto out_bad;
	pr_free_regs(&lun->pr);
	lun->pr = np;
	atomic_store_explicit(&lun->pr_active, lun->pr.reserved,
			      memory_order_release);
	return 0;
out_bad:
	pr_free_regs(&np);
	return -EINVAL;
}

int tgt_pr_store_load(struct tgt_lun *lun)
{
	const struct tgt_ha_ops *ops;
	void *arg;
	uint8_t *b;
	size_t len = 0;
	int rc;

	ops = tgt_ha_ops_get(&arg);
	if (ops->pr_load == NULL)
		return 0;
	b = malloc(PR_ENC_MAX);
	if (b == NULL)
		return -ENOMEM;
	rc = ops->pr_load(arg, lun->naa, b, PR_ENC_MAX, &len);
	if (rc == 0 && (len > PR_ENC_MAX || pr_decode(lun, b, len) < 0))
		log_warn("target: LU %016llx: bad reservation state in the "
			 "shared store; keeping the local one",
			 (unsigned long long)lun->naa);
	else if (rc < 0 && rc != -ENOENT)
		log_warn("target: LU %016llx: reservation state not loaded: "
			 "%s", (unsigned long long)lun->naa, strerror(-rc));
	free(b);
	/* Malformed state is logged and ignored: refusing every PR command
	 * would not repair it, and a good publish replaces it. */
	return rc == -ENOENT || rc == 0 ? 0 : rc;
}

int tgt_pr_store_refresh(struct tgt_lun *lun)
{
	const struct tgt_ha_ops *ops;
	void *arg;
	uint8_t *b;
	size_t len = 0;
	int rc;

	ops = tgt_ha_ops_get(&arg);
	if (ops->pr_load == NULL)
		return 0;
	b = malloc(PR_ENC_MAX);
	if (b == NULL)
		return -ENOMEM;
	/* The store is read without lun->lock, which READ and WRITE take for
	 * their conflict check while a reservation is held: a slow store must
	 * not stall them.  What was read is applied only if no newer state
	 * was loaded or published meanwhile (sequence numbers only grow). */
	rc = ops->pr_load(arg, lun->naa, b, PR_ENC_MAX, &len);
	if (rc == 0 && len >= PR_ENC_HDR && len <= PR_ENC_MAX) {
		pthread_mutex_lock(&lun->lock);
		if ((int32_t)(scsi_get32(b + 12) - lun->pr.seq) > 0 &&
		    pr_decode(lun, b, len) < 0)
			log_warn("target: LU %016llx: bad reservation state "
				 "in the shared store; keeping the local one",
				 (unsigned long long)lun->naa);
		pthread_mutex_unlock(&lun->lock);
	}
	free(b);
	return rc == -ENOENT || rc == 0 ? 0 : rc;
}

void *tgt_pr_store_snapshot(struct tgt_lun *lun, size_t *len)
{
	uint8_t *b = malloc(PR_ENC_MAX);

	if (b != NULL)
		*len = pr_encode(&lun->pr, b);
	return b;
}

int tgt_pr_store_publish(struct tgt_lun *lun, void *snap, size_t snap_len)
{
	const struct tgt_ha_ops *ops;
	uint32_t old = lun->pr.seq;
	void *arg;
	uint8_t *b;
	size_t len;
	int rc;

	ops = tgt_ha_ops_get(&arg);
	if (ops->pr_store == NULL)
		return 0;
	b = malloc(PR_ENC_MAX);
	if (b == NULL)
		rc = -ENOMEM;
	else {
		lun->pr.seq = old + 1;
		len = pr_encode(&lun->pr, b);
		rc = ops->pr_store(arg, lun->naa, old, b, len);
		free(b);
	}
	if (rc < 0 && snap != NULL) {
		/* Not agreed: back to what the store last had from us. */
		if (pr_decode(lun, snap, snap_len) < 0)
			log_err("target: LU %016llx: reservation state lost",
				(unsigned long long)lun->naa);
	}
	return rc;
}
