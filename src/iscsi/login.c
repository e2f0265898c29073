/*
 * Target-side iSCSI login state machine (see login.h for the states).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>


#include "iscsi/hash.h"
#include "iscsi/login.h"
#include "iscsi/pdu.h"

/* Keys of the login phase that are not operational parameters. */
enum login_key {
	LK_NONE = 0,
	LK_INITIATOR_NAME,
	LK_INITIATOR_ALIAS,
	LK_TARGET_NAME,
	LK_SESSION_TYPE,
	LK_AUTH_METHOD,
	LK_CHAP_A,
	LK_CHAP_N,
	LK_CHAP_R,
	LK_CHAP_I,
	LK_CHAP_C,
	LK_TARGET_ONLY,		/* keys only a target may send */
};

static const struct {
	const char *name;
	enum login_key k;
} login_keys[] = {
	{"InitiatorName", LK_INITIATOR_NAME},
	{"InitiatorAlias", LK_INITIATOR_ALIAS},
	{"TargetName", LK_TARGET_NAME},
	{"SessionType", LK_SESSION_TYPE},
	{"AuthMethod", LK_AUTH_METHOD},
	{"CHAP_A", LK_CHAP_A},
	{"CHAP_N", LK_CHAP_N},
	{"CHAP_R", LK_CHAP_R},
	{"CHAP_I", LK_CHAP_I},
	{"CHAP_C", LK_CHAP_C},
	{"TargetAlias", LK_TARGET_ONLY},
	{"TargetAddress", LK_TARGET_ONLY},
	{"TargetPortalGroupTag", LK_TARGET_ONLY},
};

static enum login_key login_key_of(const char *name)
{
	for (size_t i = 0; i < sizeof(login_keys) / sizeof(login_keys[0]); i++)
		if (strcmp(login_keys[i].name, name) == 0)
			return login_keys[i].k;
	return LK_NONE;
}

void iscsi_login_init(struct iscsi_login *l, const struct iscsi_login_ops *ops,
		      void *ops_arg, uint32_t our_max_recv_dsl)
{
	memset(l, 0, sizeof(*l));
	l->state = LOGIN_START;
	l->ops = ops;
	l->ops_arg = ops_arg;
	iscsi_params_defaults(&l->params);
	/* Until we declare ours, the initiator assumes the default. */
	l->params.max_recv_dsl = 8192;
	l->tgt.pref.max_recv_dsl = our_max_recv_dsl;
}

void iscsi_login_free(struct iscsi_login *l)
{
	free(l->cont);
	l->cont = NULL;
	l->cont_len = 0;
	/* Secrets do not outlive the login. */
	memset(&l->tgt, 0, sizeof(l->tgt));
}

void iscsi_login_rsp_fail(uint8_t *rsp, uint16_t status)
{
	rsp[1] = 0;		/* T=0, stages 0 */
	rsp[14] = rsp[15] = 0;	/* no TSIH */
	rsp[36] = (uint8_t)(status >> 8);
	rsp[37] = (uint8_t)status;
}

static enum iscsi_login_state login_fail(struct iscsi_login *l, uint8_t *rsp,
					 struct iscsi_text_out *out,
					 uint16_t status)
{
	l->state = LOGIN_FAILED;
	l->fail_status = status;
	out->len = 0;		/* a failed response carries no keys */
	iscsi_login_rsp_fail(rsp, status);
	return LOGIN_FAILED;
}

/* Copy a declarative name value, bounded. */
static int copy_name(char *dst, size_t cap, const struct iscsi_kv *kv)
{
	if (kv->value_len == 0 || kv->value_len >= cap)
		return -EINVAL;
	memcpy(dst, kv->value, kv->value_len + 1);
	return 0;
}

/* The first PDU: names, session type, the target and its security needs. */
static uint16_t login_first(struct iscsi_login *l, const struct iscsi_kv *kv,
			    int n)
{
	const struct iscsi_kv *in = iscsi_text_find(kv, (unsigned)n,
						    "InitiatorName");
	const struct iscsi_kv *st = iscsi_text_find(kv, (unsigned)n,
						    "SessionType");
	const struct iscsi_kv *tn = iscsi_text_find(kv, (unsigned)n,
						    "TargetName");
	const struct iscsi_kv *al = iscsi_text_find(kv, (unsigned)n,
						    "InitiatorAlias");

	if (in == NULL || copy_name(l->initiator_name,
				    sizeof(l->initiator_name), in) < 0)
		return ISCSI_LS_MISSING_PARAMETER;
	if (al != NULL)
		(void)copy_name(l->initiator_alias, sizeof(l->initiator_alias),
				al);
	if (st != NULL) {
		if (strcmp(st->value, "Discovery") == 0)
			l->discovery = true;
		else if (strcmp(st->value, "Normal") != 0)
			return ISCSI_LS_SESSION_TYPE_UNSUPPORTED;
	}
	uint32_t mrdsl = l->tgt.pref.max_recv_dsl;
	uint16_t status;
	if (l->discovery) {
		status = l->ops->lookup(l->ops_arg, NULL, l->initiator_name,
					&l->tgt);
	} else {
		char name[ISCSI_NAME_MAX + 1];
		if (tn == NULL || copy_name(name, sizeof(name), tn) < 0)
			return ISCSI_LS_MISSING_PARAMETER;
		status = l->ops->lookup(l->ops_arg, name, l->initiator_name,
					&l->tgt);
	}
	if (l->tgt.pref.max_recv_dsl == 0)
		l->tgt.pref.max_recv_dsl = mrdsl;
	return status;
}

/* AuthMethod: choose CHAP when required, else None. */
static uint16_t login_auth_method(struct iscsi_login *l,
				  const struct iscsi_kv *kv,
				  struct iscsi_text_out *out)
{
	const char *pos = kv->value;
	char item[32];
	bool none = false, chap = false;

	while (iscsi_text_list_next(&pos, item, sizeof(item))) {
		if (strcmp(item, "None") == 0)
			none = true;
		else if (strcmp(item, "CHAP") == 0)
			chap = true;
	}
	if (l->tgt.chap) {
		if (!chap) {
			iscsi_text_add(out, "AuthMethod", "Reject");
			return ISCSI_LS_AUTH_FAILED;
		}
		iscsi_text_add(out, "AuthMethod", "CHAP");
		l->chap_state = CHAP_WAIT_A;
		return 0;
	}
	if (!none) {
		iscsi_text_add(out, "AuthMethod", "Reject");
		return ISCSI_LS_AUTH_FAILED;
	}
	iscsi_text_add(out, "AuthMethod", "None");
	return 0;
}

static uint16_t login_chap_a(struct iscsi_login *l, const struct iscsi_kv *kv,
			     struct iscsi_text_out *out)
{
	char hex[2 * ISCSI_CHAP_CHALLENGE_LEN + 3];

	if (l->chap_state != CHAP_WAIT_A)
		return ISCSI_LS_INITIATOR_ERROR;
	l->chap_alg = iscsi_chap_select(kv->value);
	if (l->chap_alg < 0) {
		iscsi_text_add(out, "CHAP_A", "Reject");
		return ISCSI_LS_AUTH_FAILED;
	}
	uint8_t idb;
	if (iscsi_chap_random(&idb, 1) < 0 ||
	    iscsi_chap_random(l->chap_challenge, sizeof(l->chap_challenge)) < 0)
		return ISCSI_LS_TARGET_ERROR;
	l->chap_id = idb;
	iscsi_text_addf(out, "CHAP_A", "%d", l->chap_alg);
	iscsi_text_addf(out, "CHAP_I", "%u", l->chap_id);
	iscsi_chap_encode_hex(l->chap_challenge, sizeof(l->chap_challenge),
			      hex);
	iscsi_text_add(out, "CHAP_C", hex);
	l->chap_state = CHAP_WAIT_R;
	return 0;
}

/* CHAP_N/CHAP_R (and for mutual CHAP, CHAP_I/CHAP_C) arrive together. */
static uint16_t login_chap_r(struct iscsi_login *l, const struct iscsi_kv *kv,
			     int n, struct iscsi_text_out *out)
{
	const struct iscsi_kv *cn = iscsi_text_find(kv, (unsigned)n, "CHAP_N");
	const struct iscsi_kv *cr = iscsi_text_find(kv, (unsigned)n, "CHAP_R");
	const struct iscsi_kv *ci = iscsi_text_find(kv, (unsigned)n, "CHAP_I");
	const struct iscsi_kv *cc = iscsi_text_find(kv, (unsigned)n, "CHAP_C");
	uint8_t got[ISCSI_CHAP_MAX_BINARY], want[ISCSI_HASH_MAX_DIGEST];

	if (l->chap_state != CHAP_WAIT_R || cn == NULL || cr == NULL)
		return ISCSI_LS_AUTH_FAILED;
	if (strcmp(cn->value, l->tgt.chap_user) != 0)
		return ISCSI_LS_AUTH_FAILED;
	int glen = iscsi_chap_decode(cr->value, got, sizeof(got));
	int wlen = iscsi_chap_response(l->chap_alg, l->chap_id,
				       l->tgt.chap_secret,
				       strlen(l->tgt.chap_secret),
				       l->chap_challenge,
				       sizeof(l->chap_challenge), want);
	if (glen < 0 || wlen < 0 || glen != wlen ||
	    !iscsi_chap_equal(got, want, (size_t)wlen))
		return ISCSI_LS_AUTH_FAILED;
	l->chap_state = CHAP_OK;
	if (ci == NULL && cc == NULL)
		return 0;
	/* Mutual CHAP: the initiator authenticates us. */
	if (ci == NULL || cc == NULL || !l->tgt.mutual)
		return ISCSI_LS_AUTH_FAILED;
	uint64_t id;
	uint8_t chal[ISCSI_CHAP_MAX_BINARY];
	int clen = iscsi_chap_decode(cc->value, chal, sizeof(chal));
	if (iscsi_text_number(ci->value, &id) < 0 || id > 255 || clen <= 0)
		return ISCSI_LS_AUTH_FAILED;
	/* A challenge equal to ours would let the initiator reflect our own
	 * answer back at us. */
	if ((size_t)clen == sizeof(l->chap_challenge) &&
	    memcmp(chal, l->chap_challenge, (size_t)clen) == 0)
		return ISCSI_LS_AUTH_FAILED;
	wlen = iscsi_chap_response(l->chap_alg, (uint8_t)id,
				   l->tgt.mutual_secret,
				   strlen(l->tgt.mutual_secret), chal,
				   (size_t)clen, want);
	if (wlen < 0)
		return ISCSI_LS_AUTH_FAILED;
	char hex[2 * ISCSI_HASH_MAX_DIGEST + 3];
	iscsi_chap_encode_hex(want, (size_t)wlen, hex);
	iscsi_text_add(out, "CHAP_N", l->tgt.mutual_user);
	iscsi_text_add(out, "CHAP_R", hex);
	return 0;
}

/* The keys of one (complete) request; returns 0 or a login status. */
static uint16_t login_keys_handle(struct iscsi_login *l, int csg,
				  const struct iscsi_kv *kv, int n,
				  struct iscsi_text_out *out)
{
	bool chap_r_done = false;

	for (int i = 0; i < n; i++) {
		enum login_key k = login_key_of(kv[i].key);
		uint16_t st = 0;

		switch (k) {
		case LK_INITIATOR_NAME:
			if (strcmp(kv[i].value, l->initiator_name) != 0)
				return ISCSI_LS_INITIATOR_ERROR;
			break;
		case LK_INITIATOR_ALIAS:
		case LK_TARGET_NAME:
		case LK_SESSION_TYPE:
			/* Taken from the first PDU; repeats are harmless. */
			break;
		case LK_AUTH_METHOD:
			if (csg != ISCSI_STAGE_SECURITY)
				return ISCSI_LS_INITIATOR_ERROR;
			st = login_auth_method(l, &kv[i], out);
			break;
		case LK_CHAP_A:
			if (csg != ISCSI_STAGE_SECURITY)
				return ISCSI_LS_INITIATOR_ERROR;
			st = login_chap_a(l, &kv[i], out);
			break;
		case LK_CHAP_N:
		case LK_CHAP_R:
		case LK_CHAP_I:
		case LK_CHAP_C:
			if (csg != ISCSI_STAGE_SECURITY)
				return ISCSI_LS_INITIATOR_ERROR;
			if (!chap_r_done) {
				st = login_chap_r(l, kv, n, out);
				chap_r_done = true;
			}
			break;
		case LK_TARGET_ONLY:
			return ISCSI_LS_INITIATOR_ERROR;
		case LK_NONE:
			switch (iscsi_params_respond(&l->params, &l->tgt.pref,
						     &kv[i], out)) {
			case ISCSI_KEY_OK:
				break;
			case ISCSI_KEY_UNKNOWN:
			case ISCSI_KEY_NOT_OPERATIONAL:
				iscsi_text_add(out, kv[i].key,
					       "NotUnderstood");
				break;
			}
			break;
		}
		if (st != 0)
			return st;
	}
	return 0;
}

/* Keys the target declares on its own, once each. */
static void login_declare(struct iscsi_login *l, int csg,
			  struct iscsi_text_out *out)
{
	if (!l->discovery && !l->sent_tpgt) {
		iscsi_text_addf(out, "TargetPortalGroupTag", "%u",
				l->tgt.tpgt ? l->tgt.tpgt : 1);
		if (l->tgt.alias[0] != '\0')
			iscsi_text_add(out, "TargetAlias", l->tgt.alias);
		l->sent_tpgt = true;
	}
	if (csg == ISCSI_STAGE_OPERATIONAL && !l->sent_mrdsl) {
		iscsi_text_addf(out, "MaxRecvDataSegmentLength", "%u",
				l->tgt.pref.max_recv_dsl);
		l->params.max_recv_dsl = l->tgt.pref.max_recv_dsl;
		l->sent_mrdsl = true;
	}
}

enum iscsi_login_state iscsi_login_step(struct iscsi_login *l,
					const uint8_t *bhs, const char *data,
					uint32_t dlen, uint8_t *rsp,
					struct iscsi_text_out *out)
{
	uint8_t flags = bhs[1];
	int csg = ISCSI_LOGIN_CSG(flags), nsg = ISCSI_LOGIN_NSG(flags);
	bool transit = (flags & ISCSI_LOGIN_TRANSIT) != 0;
	bool cont = (flags & ISCSI_LOGIN_CONTINUE) != 0;
	struct iscsi_kv kv[ISCSI_TEXT_MAX_PAIRS];

	memset(rsp, 0, ISCSI_BHS_LEN);
	rsp[0] = ISCSI_OP_LOGIN_RSP;
	rsp[2] = 0x00;		/* Version-max */
	rsp[3] = 0x00;		/* Version-active */
	memcpy(rsp + 8, bhs + 8, 6); /* ISID */
	memcpy(rsp + 16, bhs + 16, 4); /* ITT */
	rsp[1] = (uint8_t)(csg << 2);

	if (l->state == LOGIN_DONE || l->state == LOGIN_FAILED)
		return login_fail(l, rsp, out, ISCSI_LS_INVALID_DURING_LOGIN);
	if (l->state == LOGIN_START && l->cont == NULL) {
		/* Version-min (byte 3) above 0 is a version we do not speak. */
		if (bhs[3] > 0x00)
			return login_fail(l, rsp, out,
					  ISCSI_LS_UNSUPPORTED_VERSION);
		memcpy(l->isid, bhs + 8, 6);
		l->tsih = iscsi_get16(bhs + 14);
		l->itt = iscsi_bhs_itt(bhs);
		l->cid = iscsi_get16(bhs + 20);
		l->cmdsn = iscsi_get32(bhs + 24);
		/* Adding a connection to an existing session (TSIH != 0)
		 * is not offered: MaxConnections is 1. */
		if (l->tsih != 0)
			return login_fail(l, rsp, out, ISCSI_LS_NO_SESSION);
	} else if (memcmp(l->isid, bhs + 8, 6) != 0) {
		return login_fail(l, rsp, out, ISCSI_LS_INITIATOR_ERROR);
	}
	/* Stage checks: no going back, no stage 2, no transit to CSG. */
	if (csg == 2 || csg == ISCSI_STAGE_FULL_FEATURE ||
	    (transit && (nsg == 2 || nsg <= csg)))
		return login_fail(l, rsp, out, ISCSI_LS_INITIATOR_ERROR);
	if (l->state == LOGIN_OPERATIONAL && csg == ISCSI_STAGE_SECURITY)
		return login_fail(l, rsp, out, ISCSI_LS_INITIATOR_ERROR);
	if (transit && cont)
		return login_fail(l, rsp, out, ISCSI_LS_INITIATOR_ERROR);

	/* Gather text continued over several PDUs; answer each partial PDU
	 * with an empty response. */
	if (cont || l->cont != NULL) {
		if ((uint64_t)l->cont_len + dlen > ISCSI_LOGIN_TEXT_MAX)
			return login_fail(l, rsp, out,
					  ISCSI_LS_OUT_OF_RESOURCES);
		char *nb = realloc(l->cont, l->cont_len + dlen + 1);
		if (nb == NULL)
			return login_fail(l, rsp, out,
					  ISCSI_LS_OUT_OF_RESOURCES);
		l->cont = nb;
		if (dlen > 0)
			memcpy(l->cont + l->cont_len, data, dlen);
		l->cont_len += dlen;
		if (cont)
			return l->state;
		data = l->cont;
		dlen = l->cont_len;
	}

	int n = iscsi_text_parse(data, dlen, kv, ISCSI_TEXT_MAX_PAIRS);
	uint16_t st = 0;
	if (n < 0) {
		st = ISCSI_LS_INITIATOR_ERROR;
		goto out_done;
	}
	if (l->state == LOGIN_START) {
		st = login_first(l, kv, n);
		if (st != 0)
			goto out_done;
		l->params.header_digest = ISCSI_DIGEST_NONE;
		l->params.data_digest = ISCSI_DIGEST_NONE;
		if (csg == ISCSI_STAGE_OPERATIONAL && l->tgt.chap) {
			st = ISCSI_LS_AUTH_FAILED;
			goto out_done;
		}
		l->state = csg == ISCSI_STAGE_SECURITY ? LOGIN_SECURITY
						       : LOGIN_OPERATIONAL;
	}
	if (csg == ISCSI_STAGE_OPERATIONAL)
		l->state = LOGIN_OPERATIONAL;
	st = login_keys_handle(l, csg, kv, n, out);
	if (st != 0)
		goto out_done;
	login_declare(l, csg, out);
	if (out->overflow) {
		st = ISCSI_LS_OUT_OF_RESOURCES;
		goto out_done;
	}

	if (transit) {
		/* Leaving security needs a finished authentication. */
		bool authed = !l->tgt.chap || l->chap_state == CHAP_OK;
		if (csg == ISCSI_STAGE_SECURITY && !authed) {
			if (l->chap_state == CHAP_NONE ||
			    l->chap_state == CHAP_WAIT_R) {
				st = ISCSI_LS_AUTH_FAILED;
				goto out_done;
			}
			/* Mid-CHAP: stay, the initiator continues. */
			transit = false;
		}
	}
	if (transit) {
		rsp[1] |= (uint8_t)(ISCSI_LOGIN_TRANSIT | nsg);
		if (nsg == ISCSI_STAGE_FULL_FEATURE) {
			iscsi_params_finish(&l->params);
			l->state = LOGIN_DONE;
		} else {
			l->state = LOGIN_OPERATIONAL;
		}
	}
out_done:
	free(l->cont);
	l->cont = NULL;
	l->cont_len = 0;
	if (st != 0)
		return login_fail(l, rsp, out, st);
	return l->state;
}
