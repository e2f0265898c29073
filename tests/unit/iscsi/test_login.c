/*
 * Unit tests for the target-side login state machine (src/iscsi/login.c):
 * no authentication, one-way and mutual CHAP with both digests, the
 * failures an initiator can provoke, and text continued over PDUs.  The
 * initiator's side is played here with the same pure CHAP helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iscsi/chap.h"
#include "iscsi/hash.h"
#include "iscsi/login.h"
#include "iscsi/pdu.h"

static uint16_t fake_lookup(void *arg, const char *target_name,
			    const char *initiator_name,
			    struct iscsi_login_target *t)
{
	(void)arg;
	iscsi_params_defaults(&t->pref);
	t->pref.header_digest = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	t->pref.data_digest = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	t->pref.initial_r2t = 0;
	t->pref.max_burst = 1048576;
	t->pref.first_burst = 1048576;
	t->pref.max_recv_dsl = 262144;
	t->tpgt = 1;
	if (target_name == NULL)
		return 0;
	if (strcmp(initiator_name, "iqn.i:denied") == 0)
		return ISCSI_LS_AUTHZ_FAILED;
	if (strcmp(target_name, "iqn.t:a") == 0)
		return 0;
	if (strcmp(target_name, "iqn.t:chap") == 0) {
		t->chap = true;
		strcpy(t->chap_user, "alice");
		strcpy(t->chap_secret, "s1-secret");
		t->mutual = true;
		strcpy(t->mutual_user, "tuser");
		strcpy(t->mutual_secret, "s2-target-secret");
		return 0;
	}
	return ISCSI_LS_NOT_FOUND;
}

static const struct iscsi_login_ops ops = {.lookup = fake_lookup};

struct lt {
	struct iscsi_login l;
	uint8_t rsp[ISCSI_BHS_LEN];
	char out[8192];
	size_t out_len;
	struct iscsi_kv kv[64];
	int nkv;
};

/* One request with CSG/NSG/T/C and pairs "k=v\0k=v\0". */
static enum iscsi_login_state step(struct lt *t, int csg, int nsg, bool tr,
				   bool cont, const char *text, size_t len)
{
	uint8_t bhs[ISCSI_BHS_LEN] = {0};
	struct iscsi_text_out o;

	bhs[0] = ISCSI_OP_LOGIN_REQ | ISCSI_OP_IMMEDIATE;
	bhs[1] = (uint8_t)((tr ? ISCSI_LOGIN_TRANSIT : 0) |
			   (cont ? ISCSI_LOGIN_CONTINUE : 0) | csg << 2 |
			   (tr ? nsg : 0));
	memcpy(bhs + 8, "\x80\x12\x34\x56\x78\x9a", 6);
	iscsi_put32(bhs + 16, 0x1000);
	iscsi_bhs_set_dsl(bhs, (uint32_t)len);
	iscsi_text_out_init(&o, t->out, sizeof(t->out));
	enum iscsi_login_state st = iscsi_login_step(&t->l, bhs, text,
						     (uint32_t)len, t->rsp, &o);
	t->out_len = o.len;
	t->nkv = iscsi_text_parse(t->out, o.len, t->kv, 64);
	assert_true(t->nkv >= 0);
	assert_int_equal(t->rsp[0], ISCSI_OP_LOGIN_RSP);
	assert_memory_equal(t->rsp + 8, bhs + 8, 6);
	return st;
}

static const char *val(struct lt *t, const char *key)
{
	const struct iscsi_kv *kv = iscsi_text_find(t->kv, (unsigned)t->nkv,
						    key);
	return kv ? kv->value : NULL;
}

static uint16_t status(const struct lt *t)
{
	return (uint16_t)(t->rsp[36] << 8 | t->rsp[37]);
}

#define STEP(t, csg, nsg, tr, s) step(t, csg, nsg, tr, false, s, sizeof(s) - 1)

static void test_login_none(void **state)
{
	struct lt t;

	(void)state;
	iscsi_login_init(&t.l, &ops, NULL, 262144);
	assert_int_equal(STEP(&t, 0, 1, true,
			      "InitiatorName=iqn.i:x\0TargetName=iqn.t:a\0"
			      "SessionType=Normal\0AuthMethod=None\0"),
			 LOGIN_OPERATIONAL);
	assert_int_equal(status(&t), 0);
	assert_int_equal(t.rsp[1], ISCSI_LOGIN_TRANSIT | 1);
	assert_string_equal(val(&t, "AuthMethod"), "None");
	assert_string_equal(val(&t, "TargetPortalGroupTag"), "1");
	assert_int_equal(STEP(&t, 1, 3, true,
			      "HeaderDigest=CRC32C,None\0DataDigest=None\0"
			      "MaxRecvDataSegmentLength=65536\0InitialR2T=No\0"
			      "ImmediateData=Yes\0MaxBurstLength=262144\0"
			      "FirstBurstLength=524288\0X-foo=bar\0"
			      "ErrorRecoveryLevel=0\0MaxConnections=1\0"),
			 LOGIN_DONE);
	assert_int_equal(t.rsp[1], ISCSI_LOGIN_TRANSIT | 1 << 2 | 3);
	assert_string_equal(val(&t, "HeaderDigest"), "CRC32C");
	assert_string_equal(val(&t, "DataDigest"), "None");
	assert_string_equal(val(&t, "MaxRecvDataSegmentLength"), "262144");
	assert_string_equal(val(&t, "X-foo"), "NotUnderstood");
	assert_string_equal(val(&t, "InitialR2T"), "No");
	assert_null(val(&t, "TargetPortalGroupTag")); /* only once */
	assert_int_equal(t.l.params.header_digest, ISCSI_DIGEST_CRC32C);
	assert_int_equal(t.l.params.max_xmit_dsl, 65536);
	assert_int_equal(t.l.params.max_recv_dsl, 262144);
	/* FirstBurstLength is clamped to MaxBurstLength at the end. */
	assert_int_equal(t.l.params.first_burst, 262144);
	assert_false(t.l.discovery);
	/* Nothing after the login is done. */
	assert_int_equal(STEP(&t, 1, 3, true, "A=b\0"), LOGIN_FAILED);
	iscsi_login_free(&t.l);
}

static void test_login_failures(void **state)
{
	struct lt t;

	(void)state;
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(STEP(&t, 0, 1, true, "TargetName=iqn.t:a\0"),
			 LOGIN_FAILED);
	assert_int_equal(status(&t), ISCSI_LS_MISSING_PARAMETER);
	assert_int_equal(t.out_len, 0);
	iscsi_login_free(&t.l);

	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(STEP(&t, 0, 1, true,
			      "InitiatorName=iqn.i:x\0TargetName=iqn.t:zz\0"),
			 LOGIN_FAILED);
	assert_int_equal(status(&t), ISCSI_LS_NOT_FOUND);
	iscsi_login_free(&t.l);

	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(STEP(&t, 0, 1, true,
			      "InitiatorName=iqn.i:denied\0"
			      "TargetName=iqn.t:a\0"), LOGIN_FAILED);
	assert_int_equal(status(&t), ISCSI_LS_AUTHZ_FAILED);
	iscsi_login_free(&t.l);

	/* Normal session without TargetName. */
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(STEP(&t, 0, 1, true, "InitiatorName=iqn.i:x\0"),
			 LOGIN_FAILED);
	assert_int_equal(status(&t), ISCSI_LS_MISSING_PARAMETER);
	iscsi_login_free(&t.l);

	/* Skipping security on a CHAP target. */
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(STEP(&t, 1, 3, true,
			      "InitiatorName=iqn.i:x\0TargetName=iqn.t:chap\0"),
			 LOGIN_FAILED);
	assert_int_equal(status(&t), ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(&t.l);

	/* A CHAP target offered only None. */
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(STEP(&t, 0, 1, true,
			      "InitiatorName=iqn.i:x\0TargetName=iqn.t:chap\0"
			      "AuthMethod=None\0"), LOGIN_FAILED);
	assert_int_equal(status(&t), ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(&t.l);

	/* Garbage text, bad stage numbers, going backwards. */
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(step(&t, 0, 1, true, false, "no-equals", 9),
			 LOGIN_FAILED);
	assert_int_equal(status(&t), ISCSI_LS_INITIATOR_ERROR);
	iscsi_login_free(&t.l);
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(STEP(&t, 0, 2, true, "InitiatorName=iqn.i:x\0"),
			 LOGIN_FAILED);
	iscsi_login_free(&t.l);
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(STEP(&t, 1, 0, false,
			      "InitiatorName=iqn.i:x\0TargetName=iqn.t:a\0"),
			 LOGIN_OPERATIONAL);
	assert_int_equal(STEP(&t, 0, 1, true, "AuthMethod=None\0"),
			 LOGIN_FAILED);
	iscsi_login_free(&t.l);
	/* Security keys in the operational stage. */
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(STEP(&t, 1, 3, true,
			      "InitiatorName=iqn.i:x\0TargetName=iqn.t:a\0"
			      "CHAP_A=5\0"), LOGIN_FAILED);
	iscsi_login_free(&t.l);
}

static void test_login_version(void **state)
{
	struct lt t;
	uint8_t bhs[ISCSI_BHS_LEN] = {0};
	struct iscsi_text_out o;

	(void)state;
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	bhs[0] = ISCSI_OP_LOGIN_REQ;
	bhs[1] = ISCSI_LOGIN_TRANSIT | 1;
	bhs[3] = 2;			/* Version-min */
	iscsi_text_out_init(&o, t.out, sizeof(t.out));
	assert_int_equal(iscsi_login_step(&t.l, bhs, "", 0, t.rsp, &o),
			 LOGIN_FAILED);
	assert_int_equal(status(&t), ISCSI_LS_UNSUPPORTED_VERSION);
	iscsi_login_free(&t.l);
	/* Adding a connection to a session (TSIH != 0) is refused. */
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	bhs[3] = 0;
	bhs[15] = 5;
	iscsi_text_out_init(&o, t.out, sizeof(t.out));
	assert_int_equal(iscsi_login_step(&t.l, bhs, "", 0, t.rsp, &o),
			 LOGIN_FAILED);
	assert_int_equal(status(&t), ISCSI_LS_NO_SESSION);
	iscsi_login_free(&t.l);
}

/* The initiator's part of CHAP: the response to the target's challenge. */
static void chap_answer(struct lt *t, const char *secret, char *chap_r,
			int *alg_out)
{
	uint8_t chal[ISCSI_CHAP_MAX_BINARY], d[ISCSI_HASH_MAX_DIGEST];
	uint64_t id;
	int alg = atoi(val(t, "CHAP_A"));
	int clen = iscsi_chap_decode(val(t, "CHAP_C"), chal, sizeof(chal));

	assert_true(clen >= 16);
	assert_int_equal(iscsi_text_number(val(t, "CHAP_I"), &id), 0);
	int dl = iscsi_chap_response(alg, (uint8_t)id, secret, strlen(secret),
				     chal, (size_t)clen, d);
	assert_true(dl > 0);
	iscsi_chap_encode_hex(d, (size_t)dl, chap_r);
	*alg_out = alg;
}

static void run_chap(int want_alg, const char *offer, bool good,
		     bool mutual)
{
	struct lt t;
	char r[80], text[512];
	int alg, n;

	iscsi_login_init(&t.l, &ops, NULL, 8192);
	assert_int_equal(STEP(&t, 0, 1, false,
			      "InitiatorName=iqn.i:x\0TargetName=iqn.t:chap\0"
			      "AuthMethod=CHAP,None\0"), LOGIN_SECURITY);
	assert_string_equal(val(&t, "AuthMethod"), "CHAP");
	n = snprintf(text, sizeof(text), "CHAP_A=%s", offer);
	assert_int_equal(step(&t, 0, 1, false, false, text, (size_t)n + 1),
			 LOGIN_SECURITY);
	chap_answer(&t, good ? "s1-secret" : "wrong", r, &alg);
	assert_int_equal(alg, want_alg);
	if (mutual)
		n = snprintf(text, sizeof(text),
			     "CHAP_N=alice%cCHAP_R=%s%cCHAP_I=77%c"
			     "CHAP_C=0x00112233445566778899aabbccddeeff",
			     0, r, 0, 0);
	else
		n = snprintf(text, sizeof(text), "CHAP_N=alice%cCHAP_R=%s", 0,
			     r);
	enum iscsi_login_state st =
		step(&t, 0, 1, true, false, text, (size_t)n + 1);
	if (!good) {
		assert_int_equal(st, LOGIN_FAILED);
		assert_int_equal(status(&t), ISCSI_LS_AUTH_FAILED);
		iscsi_login_free(&t.l);
		return;
	}
	assert_int_equal(st, LOGIN_OPERATIONAL);
	assert_int_equal(t.rsp[1], ISCSI_LOGIN_TRANSIT | 1);
	if (mutual) {
		uint8_t chal[16], d[32], got[32];
		for (int i = 0; i < 16; i++)
			chal[i] = (uint8_t)(i * 0x11);
		int dl = iscsi_chap_response(alg, 77, "s2-target-secret", 16,
					     chal, 16, d);
		assert_string_equal(val(&t, "CHAP_N"), "tuser");
		assert_int_equal(iscsi_chap_decode(val(&t, "CHAP_R"), got,
						   sizeof(got)), dl);
		assert_memory_equal(got, d, (size_t)dl);
	} else {
		assert_null(val(&t, "CHAP_R"));
	}
	assert_int_equal(STEP(&t, 1, 3, true, "MaxBurstLength=65536\0"),
			 LOGIN_DONE);
	iscsi_login_free(&t.l);
}

static void test_login_chap(void **state)
{
	(void)state;
	run_chap(ISCSI_CHAP_MD5, "5", true, false);
	run_chap(ISCSI_CHAP_SHA256, "8,5", true, false);
	run_chap(ISCSI_CHAP_MD5, "7,5", true, true);
	run_chap(ISCSI_CHAP_SHA256, "8", true, true);
	run_chap(ISCSI_CHAP_MD5, "5", false, false);
}

static void test_login_chap_reflection(void **state)
{
	struct lt t;
	char r[80], text[512], c[80];
	int alg;

	(void)state;
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	STEP(&t, 0, 1, false, "InitiatorName=iqn.i:x\0TargetName=iqn.t:chap\0"
			      "AuthMethod=CHAP\0");
	STEP(&t, 0, 1, false, "CHAP_A=5\0");
	chap_answer(&t, "s1-secret", r, &alg);
	snprintf(c, sizeof(c), "%s", val(&t, "CHAP_C"));
	/* Sending the target its own challenge back is refused. */
	int n = snprintf(text, sizeof(text),
			 "CHAP_N=alice%cCHAP_R=%s%cCHAP_I=1%cCHAP_C=%s", 0, r,
			 0, 0, c);
	assert_int_equal(step(&t, 0, 1, true, false, text, (size_t)n + 1),
			 LOGIN_FAILED);
	iscsi_login_free(&t.l);
	/* An unsupported algorithm list. */
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	STEP(&t, 0, 1, false, "InitiatorName=iqn.i:x\0TargetName=iqn.t:chap\0"
			      "AuthMethod=CHAP\0");
	assert_int_equal(STEP(&t, 0, 1, false, "CHAP_A=7\0"), LOGIN_FAILED);
	assert_int_equal(status(&t), ISCSI_LS_AUTH_FAILED);
	iscsi_login_free(&t.l);
}

static void test_login_continue_discovery(void **state)
{
	struct lt t;
	static const char all[] = "InitiatorName=iqn.i:x\0SessionType=Discovery"
				  "\0AuthMethod=None\0";

	(void)state;
	iscsi_login_init(&t.l, &ops, NULL, 8192);
	/* Split in the middle of a pair: the first part gets an empty
	 * response, the second completes the text. */
	assert_int_equal(step(&t, 0, 1, false, true, all, 20), LOGIN_START);
	assert_int_equal(t.out_len, 0);
	assert_int_equal(step(&t, 0, 3, true, false, all + 20,
			      sizeof(all) - 1 - 20), LOGIN_DONE);
	assert_string_equal(val(&t, "AuthMethod"), "None");
	assert_null(val(&t, "TargetPortalGroupTag"));
	assert_true(t.l.discovery);
	/* Digests and MaxRecvDataSegmentLength stay at their defaults. */
	assert_int_equal(t.l.params.header_digest, ISCSI_DIGEST_NONE);
	assert_int_equal(t.l.params.max_recv_dsl, 8192);
	iscsi_login_free(&t.l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_none),
		cmocka_unit_test(test_login_failures),
		cmocka_unit_test(test_login_version),
		cmocka_unit_test(test_login_chap),
		cmocka_unit_test(test_login_chap_reflection),
		cmocka_unit_test(test_login_continue_discovery),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
