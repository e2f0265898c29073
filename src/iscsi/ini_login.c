/*
 * The initiator side of the iSCSI login phase (RFC 7143 sections 6, 7.1,
 * 12 and 13): pure functions that build each Login Request from the last
 * Login Response.  No I/O: ini_conn.c sends what is built here.
 *
 * Path through the stages:
 *   IL_START --first PDU--> IL_SEC   (CSG 0: names, AuthMethod)
 *   IL_SEC   CHAP chosen:  CHAP_A offer          -> IL_CHAP_A
 *            None, T bit:  operational offers    -> IL_OPER
 *   IL_CHAP_A  challenge:  CHAP_N/CHAP_R (+ our CHAP_I/CHAP_C for mutual),
 *                          T bit to stage 1      -> IL_CHAP_R
 *   IL_CHAP_R  verdict:    check the target's CHAP_R (mutual), then
 *                          operational offers    -> IL_OPER
 *   IL_OPER  answers taken with iscsi_params_accept, target offers answered
 *            with iscsi_params_respond; T bit to stage 3 -> IL_DONE
 * Key negotiation rules are the shared table of params.c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iscsi/chap.h"
#include "iscsi/ini_int.h"
#include "iscsi/hash.h"

#define IL_MAX_ROUNDS 16

static void il_fail(struct ini_login *l, const char *fmt, const char *arg)
{
	l->st = IL_FAILED;
	char a[96];

	snprintf(a, sizeof(a), "%.95s", arg ? arg : "");
	snprintf(l->err, sizeof(l->err), fmt, a);
}

void ini_login_init(struct ini_login *l, const struct iscsi_ini_cfg *cfg,
		    bool discovery)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->discovery = discovery;
	iscsi_params_defaults(&l->pref);
	l->pref.header_digest = cfg->header_digest;
	l->pref.data_digest = cfg->data_digest;
	l->pref.max_recv_dsl = cfg->max_recv_dsl;
	l->pref.max_burst = cfg->max_burst;
	l->pref.first_burst = cfg->first_burst;
	l->pref.initial_r2t = 0;
	l->pref.immediate_data = 1;
	l->pref.max_outstanding_r2t = 1;
	l->pref.erl = 0;
	l->pref.max_connections = 1;
	l->pref.time2wait = 2;
	l->pref.time2retain = 0;
	iscsi_params_defaults(&l->cur);
	l->cur.max_recv_dsl = cfg->max_recv_dsl;
}

static void il_bhs(uint8_t *bhs, bool transit, uint8_t csg, uint8_t nsg)
{
	memset(bhs, 0, ISCSI_BHS_LEN);
	bhs[0] = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	bhs[1] = (uint8_t)((transit ? ISCSI_LOGIN_TRANSIT : 0) | csg << 2 |
			   (transit ? nsg : 0));
	bhs[2] = 0;		/* Version-max */
	bhs[3] = 0;		/* Version-min */
}

static bool il_want_chap(const struct ini_login *l)
{
	return l->cfg->user[0] != '\0';
}

void ini_login_start(struct ini_login *l, uint8_t *bhs,
		     struct iscsi_text_out *out)
{
	iscsi_text_add(out, "InitiatorName", l->cfg->initiator);
	iscsi_text_add(out, "SessionType", l->discovery ? "Discovery" : "Normal");
	if (!l->discovery)
		iscsi_text_add(out, "TargetName", l->cfg->target);
	if (il_want_chap(l)) {
		iscsi_text_add(out, "AuthMethod", "CHAP,None");
		il_bhs(bhs, false, ISCSI_STAGE_SECURITY, 0);
	} else {
		iscsi_text_add(out, "AuthMethod", "None");
		il_bhs(bhs, true, ISCSI_STAGE_SECURITY,
		       ISCSI_STAGE_OPERATIONAL);
	}
	l->csg = ISCSI_STAGE_SECURITY;
	l->st = IL_SEC;
}

/* Operational offers, once; remembered so the answers can be told from
 * the target's own offers. */
static void il_offer(struct ini_login *l, struct iscsi_text_out *out)
{
	size_t start = out->len;
	struct iscsi_kv kv[ISCSI_TEXT_MAX_PAIRS];
	int n;

	iscsi_params_offer(&l->pref, l->discovery, out);
	l->offered = true;
	n = iscsi_text_parse(out->buf + start, out->len - start, kv,
			     ISCSI_TEXT_MAX_PAIRS);
	l->noffered = 0;
	for (int i = 0; i < n; i++)
		snprintf(l->offered_keys[l->noffered++], ISCSI_KEY_MAX + 1,
			 "%.63s", kv[i].key);
}

static bool il_was_offered(const struct ini_login *l, const char *key)
{
	for (unsigned i = 0; i < l->noffered; i++)
		if (!strcmp(l->offered_keys[i], key))
			return true;
	return false;
}

/* Answers to our offers, and answers for the target's own offers into
 * out.  Non-operational keys (TargetAlias, TargetPortalGroupTag, ...) are
 * information only. */
static int il_take_keys(struct ini_login *l, const struct iscsi_kv *kv,
			int n, struct iscsi_text_out *out)
{
	for (int i = 0; i < n; i++) {
		const char *k = kv[i].key;

		if (!strncmp(k, "CHAP_", 5) || !strcmp(k, "AuthMethod"))
			continue;
		if (il_was_offered(l, k) ||
		    !strcmp(k, "MaxRecvDataSegmentLength")) {
			int rc = iscsi_params_accept(&l->cur, &l->pref, &kv[i]);

			if (rc == -EINVAL) {
				char kvs[160];

				snprintf(kvs, sizeof(kvs), "%.63s=%.80s", k,
					 kv[i].value);
				il_fail(l, "target answered %s", kvs);
				return -EPROTO;
			}
			continue;
		}
		enum iscsi_key_rule r =
			iscsi_params_respond(&l->cur, &l->pref, &kv[i], out);
		(void)r; /* unknown keys got NotUnderstood; others ignored */
	}
	return 0;
}

static int il_status(struct ini_login *l, uint16_t st)
{
	char buf[16];

	l->status = st;
	snprintf(buf, sizeof(buf), "0x%04x", st);
	switch (st >> 8) {
	case 1:
		il_fail(l, "target redirects (status %s): not supported", buf);
		return -EREMOTE;
	case 2:
		if (st == ISCSI_LS_AUTH_FAILED || st == ISCSI_LS_AUTHZ_FAILED) {
			il_fail(l, "authentication failed (status %s)", buf);
			return -EACCES;
		}
		if (st == ISCSI_LS_NOT_FOUND || st == ISCSI_LS_TARGET_REMOVED) {
			il_fail(l, "target not found (status %s)", buf);
			return -ENOENT;
		}
		il_fail(l, "login rejected (initiator error %s)", buf);
		return -EPROTO;
	default:
		il_fail(l, "login failed (target error %s)", buf);
		return -EAGAIN;
	}
}

static int il_chap_answer(struct ini_login *l, const struct iscsi_kv *kv,
			  int n, struct iscsi_text_out *out)
{
	const struct iscsi_kv *a = iscsi_text_find(kv, (unsigned)n, "CHAP_A");
	const struct iscsi_kv *id = iscsi_text_find(kv, (unsigned)n, "CHAP_I");
	const struct iscsi_kv *c = iscsi_text_find(kv, (unsigned)n, "CHAP_C");
	uint8_t chal[ISCSI_CHAP_MAX_BINARY], resp[ISCSI_HASH_MAX_DIGEST];
	char hex[2 * ISCSI_CHAP_MAX_BINARY + 3];
	uint64_t alg, ident;
	int clen, rlen;

	if (!a || !id || !c || iscsi_text_number(a->value, &alg) < 0 ||
	    iscsi_text_number(id->value, &ident) < 0 || ident > 255 ||
	    !iscsi_chap_digest_len((int)alg)) {
		il_fail(l, "bad CHAP challenge from the target%s", NULL);
		return -EPROTO;
	}
	clen = iscsi_chap_decode(c->value, chal, sizeof(chal));
	if (clen <= 0) {
		il_fail(l, "bad CHAP_C from the target%s", NULL);
		return -EPROTO;
	}
	l->chap_alg = (int)alg;
	rlen = iscsi_chap_response(l->chap_alg, (uint8_t)ident, l->cfg->secret,
				   strlen(l->cfg->secret), chal, (size_t)clen,
				   resp);
	if (rlen < 0) {
		il_fail(l, "CHAP algorithm unsupported%s", NULL);
		return -EPROTO;
	}
	iscsi_text_add(out, "CHAP_N", l->cfg->user);
	iscsi_chap_encode_hex(resp, (size_t)rlen, hex);
	iscsi_text_add(out, "CHAP_R", hex);
	if (l->cfg->tuser[0]) {
		/* Mutual: challenge the target, with an identifier and a
		 * challenge of our own that differ from its. */
		if (iscsi_chap_random(&l->my_id, 1) < 0 ||
		    iscsi_chap_random(l->my_challenge,
				      sizeof(l->my_challenge)) < 0) {
			il_fail(l, "no random bytes for CHAP%s", NULL);
			return -EIO;
		}
		if ((size_t)clen == sizeof(l->my_challenge) &&
		    !memcmp(chal, l->my_challenge, sizeof(l->my_challenge)))
			l->my_challenge[0] ^= 0xff;
		iscsi_text_addf(out, "CHAP_I", "%u", l->my_id);
		iscsi_chap_encode_hex(l->my_challenge, sizeof(l->my_challenge),
				      hex);
		iscsi_text_add(out, "CHAP_C", hex);
	}
	return 0;
}

static int il_chap_verify(struct ini_login *l, const struct iscsi_kv *kv,
			  int n)
{
	const struct iscsi_kv *nm = iscsi_text_find(kv, (unsigned)n, "CHAP_N");
	const struct iscsi_kv *r = iscsi_text_find(kv, (unsigned)n, "CHAP_R");
	uint8_t got[ISCSI_CHAP_MAX_BINARY], want[ISCSI_HASH_MAX_DIGEST];
	int glen, wlen;

	if (!nm || !r) {
		il_fail(l, "target did not answer the mutual CHAP challenge%s",
			NULL);
		return -EACCES;
	}
	if (strcmp(nm->value, l->cfg->tuser) != 0) {
		il_fail(l, "target CHAP name '%s' is not the expected one",
			nm->value);
		return -EACCES;
	}
	glen = iscsi_chap_decode(r->value, got, sizeof(got));
	wlen = iscsi_chap_response(l->chap_alg, l->my_id, l->cfg->tsecret,
				   strlen(l->cfg->tsecret), l->my_challenge,
				   sizeof(l->my_challenge), want);
	if (glen != wlen || wlen <= 0 ||
	    !iscsi_chap_equal(got, want, (size_t)wlen)) {
		il_fail(l, "target failed mutual CHAP%s", NULL);
		return -EACCES;
	}
	return 0;
}

int ini_login_step(struct ini_login *l, const uint8_t *rsp, const char *data,
		   uint32_t dlen, uint8_t *bhs, struct iscsi_text_out *out)
{
	struct iscsi_kv kv[ISCSI_TEXT_MAX_PAIRS];
	uint16_t status;
	bool transit;
	uint8_t csg, nsg;
	int n = 0, rc;

	if (l->st == IL_FAILED || l->st == IL_DONE)
		return -EPROTO;
	if (++l->rounds > IL_MAX_ROUNDS) {
		il_fail(l, "login takes too many rounds%s", NULL);
		return -EPROTO;
	}
	if (iscsi_bhs_opcode(rsp) != ISCSI_OP_LOGIN_RSP) {
		il_fail(l, "not a login response during login%s", NULL);
		return -EPROTO;
	}
	status = iscsi_get16(rsp + 36);
	if (status != ISCSI_LS_SUCCESS)
		return il_status(l, status);
	transit = (rsp[1] & ISCSI_LOGIN_TRANSIT) != 0;
	csg = ISCSI_LOGIN_CSG(rsp[1]);
	nsg = ISCSI_LOGIN_NSG(rsp[1]);
	if (rsp[1] & ISCSI_LOGIN_CONTINUE) {
		/* Continued text: not worth supporting for the short key sets
		 * a target sends an initiator. */
		il_fail(l, "target continued a login text (C bit)%s", NULL);
		return -EPROTO;
	}
	if (csg != l->csg || (transit && nsg <= csg) || nsg == 2) {
		il_fail(l, "login response in the wrong stage%s", NULL);
		return -EPROTO;
	}
	if (dlen > 0) {
		n = iscsi_text_parse(data, dlen, kv, ISCSI_TEXT_MAX_PAIRS);
		if (n < 0) {
			il_fail(l, "malformed login text%s", NULL);
			return -EPROTO;
		}
	}
	switch (l->st) {
	case IL_SEC: {
		const struct iscsi_kv *am =
			iscsi_text_find(kv, (unsigned)n, "AuthMethod");

		if (il_want_chap(l) && am && !strcmp(am->value, "CHAP")) {
			iscsi_text_add(out, "CHAP_A", "5");
			il_bhs(bhs, false, ISCSI_STAGE_SECURITY, 0);
			l->st = IL_CHAP_A;
			return 1;
		}
		if (am && strcmp(am->value, "None") != 0) {
			il_fail(l, "target wants AuthMethod %s", am->value);
			return -EACCES;
		}
		if (!transit) {
			/* Ask again to move on. */
			il_bhs(bhs, true, ISCSI_STAGE_SECURITY,
			       ISCSI_STAGE_OPERATIONAL);
			return 1;
		}
		break;
	}
	case IL_CHAP_A:
		rc = il_chap_answer(l, kv, n, out);
		if (rc < 0)
			return rc;
		il_bhs(bhs, true, ISCSI_STAGE_SECURITY,
		       ISCSI_STAGE_OPERATIONAL);
		l->st = IL_CHAP_R;
		return 1;
	case IL_CHAP_R:
		if (l->cfg->tuser[0]) {
			rc = il_chap_verify(l, kv, n);
			if (rc < 0)
				return rc;
		}
		if (!transit) {
			il_bhs(bhs, true, ISCSI_STAGE_SECURITY,
			       ISCSI_STAGE_OPERATIONAL);
			return 1;
		}
		break;
	case IL_OPER:
		rc = il_take_keys(l, kv, n, out);
		if (rc < 0)
			return rc;
		if (transit && nsg == ISCSI_STAGE_FULL_FEATURE) {
			iscsi_params_finish(&l->cur);
			l->st = IL_DONE;
			return 0;
		}
		il_bhs(bhs, true, ISCSI_STAGE_OPERATIONAL,
		       ISCSI_STAGE_FULL_FEATURE);
		return 1;
	default:
		il_fail(l, "login state machine misused%s", NULL);
		return -EPROTO;
	}
	/* Security stage done, transit to operational (or straight to full
	 * feature phase if the target chose to). */
	if (nsg == ISCSI_STAGE_FULL_FEATURE) {
		iscsi_params_finish(&l->cur);
		l->st = IL_DONE;
		return 0;
	}
	il_offer(l, out);
	il_bhs(bhs, true, ISCSI_STAGE_OPERATIONAL, ISCSI_STAGE_FULL_FEATURE);
	l->csg = ISCSI_STAGE_OPERATIONAL;
	l->st = IL_OPER;
	return 1;
}
