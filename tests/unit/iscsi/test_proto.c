/*
 * Unit tests for the pure iSCSI protocol helpers: PDU framing and LUN
 * fields, text key parsing/building, operational key negotiation (both
 * sides) and CHAP encodings and responses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iscsi/chap.h"
#include "iscsi/params.h"
#include "iscsi/pdu.h"
#include "iscsi/text.h"

static void test_pdu_frame(void **state)
{
	uint8_t bhs[ISCSI_BHS_LEN] = {0};
	struct iscsi_pdu_frame f;

	(void)state;
	bhs[0] = ISCSI_OP_SCSI_CMD | ISCSI_OP_IMMEDIATE;
	bhs[4] = 2;			/* 8 bytes of AHS */
	iscsi_bhs_set_dsl(bhs, 513);
	assert_int_equal(iscsi_bhs_opcode(bhs), ISCSI_OP_SCSI_CMD);
	assert_true(iscsi_bhs_immediate(bhs));
	assert_int_equal(iscsi_pdu_frame(bhs, false, false, 8192, &f), 0);
	assert_int_equal(f.hdr_len, 56);
	assert_int_equal(f.total, 56 + 516);
	assert_int_equal(iscsi_pdu_frame(bhs, true, true, 8192, &f), 0);
	assert_int_equal(f.hdr_len, 60);
	assert_int_equal(f.total, 60 + 516 + 4);
	assert_int_equal(iscsi_pdu_frame(bhs, false, false, 512, &f),
			 -EMSGSIZE);
	iscsi_bhs_set_dsl(bhs, 0);
	assert_int_equal(iscsi_pdu_frame(bhs, true, true, 512, &f), 0);
	assert_int_equal(f.total, 60); /* no data digest without data */
}

static void test_pdu_lun_sn(void **state)
{
	uint8_t l[8];

	(void)state;
	iscsi_lun_encode(l, 5);
	assert_int_equal(l[0], 0);
	assert_int_equal(l[1], 5);
	assert_int_equal(iscsi_lun_decode(l), 5);
	iscsi_lun_encode(l, 300);
	assert_int_equal(l[0], 0x41);
	assert_int_equal(iscsi_lun_decode(l), 300);
	l[3] = 1;			/* second level: not ours */
	assert_int_equal(iscsi_lun_decode(l), UINT32_MAX);
	memset(l, 0, 8);
	l[0] = 0x80;			/* logical unit addressing */
	assert_int_equal(iscsi_lun_decode(l), UINT32_MAX);
	assert_true(iscsi_sn_lt(0xfffffffeu, 2));
	assert_false(iscsi_sn_lt(2, 0xfffffffeu));
	assert_true(iscsi_sn_le(7, 7));
	assert_string_equal(iscsi_op_name(ISCSI_OP_R2T), "R2T");
	assert_string_equal(iscsi_op_name(0x1f), "unknown");
}

static void test_text_parse(void **state)
{
	static const char ok[] = "A=1\0Bb=hello world\0C=\0\0";
	struct iscsi_kv kv[4];

	(void)state;
	assert_int_equal(iscsi_text_parse(ok, sizeof(ok) - 1, kv, 4), 3);
	assert_string_equal(kv[0].key, "A");
	assert_string_equal(kv[1].value, "hello world");
	assert_int_equal(kv[2].value_len, 0);
	assert_non_null(iscsi_text_find(kv, 3, "Bb"));
	assert_null(iscsi_text_find(kv, 3, "D"));
	/* No terminating NUL, no '=', empty key, too many pairs. */
	assert_int_equal(iscsi_text_parse("A=1", 3, kv, 4), -EINVAL);
	assert_int_equal(iscsi_text_parse("A1\0", 3, kv, 4), -EINVAL);
	assert_int_equal(iscsi_text_parse("=1\0", 3, kv, 4), -EINVAL);
	assert_int_equal(iscsi_text_parse(ok, sizeof(ok) - 1, kv, 2), -E2BIG);
	char big[80];
	memset(big, 'k', 64);
	memcpy(big + 64, "=1", 3);
	assert_int_equal(iscsi_text_parse(big, 67, kv, 4), -EINVAL);
}

static void test_text_build(void **state)
{
	char buf[16];
	struct iscsi_text_out o;
	const char *pos = "CRC32C,None,,x";
	char item[8];

	(void)state;
	iscsi_text_out_init(&o, buf, sizeof(buf));
	iscsi_text_add(&o, "A", "1");
	iscsi_text_addf(&o, "B", "%d", 22);
	assert_int_equal(o.len, 9);
	assert_memory_equal(buf, "A=1\0B=22\0", 9);
	iscsi_text_add(&o, "Long", "value!");
	assert_true(o.overflow);
	assert_int_equal(o.len, 9);
	assert_true(iscsi_text_list_next(&pos, item, sizeof(item)));
	assert_string_equal(item, "CRC32C");
	assert_true(iscsi_text_list_next(&pos, item, sizeof(item)));
	assert_string_equal(item, "None");
	assert_true(iscsi_text_list_next(&pos, item, sizeof(item)));
	assert_string_equal(item, "");
	assert_true(iscsi_text_list_next(&pos, item, sizeof(item)));
	assert_false(iscsi_text_list_next(&pos, item, sizeof(item)));

	uint64_t n;
	assert_int_equal(iscsi_text_number("262144", &n), 0);
	assert_int_equal(n, 262144);
	assert_int_equal(iscsi_text_number("0x10", &n), 0);
	assert_int_equal(n, 16);
	assert_int_equal(iscsi_text_number("12a", &n), -EINVAL);
	assert_int_equal(iscsi_text_number("", &n), -EINVAL);
	assert_int_equal(iscsi_text_number("99999999999999999999999", &n),
			 -EINVAL);
	assert_int_equal(iscsi_text_bool("Yes"), 1);
	assert_int_equal(iscsi_text_bool("No"), 0);
	assert_int_equal(iscsi_text_bool("yes"), -EINVAL);
}

/* Offer key=value to a responder with pref; return the answer. */
static const char *respond(struct iscsi_params *cur,
			   const struct iscsi_params *pref, const char *key,
			   const char *value, enum iscsi_key_rule *rule)
{
	static char buf[256];
	struct iscsi_text_out o;
	struct iscsi_kv kv;

	snprintf(kv.key, sizeof(kv.key), "%s", key);
	kv.value = value;
	kv.value_len = (uint32_t)strlen(value);
	iscsi_text_out_init(&o, buf, sizeof(buf));
	*rule = iscsi_params_respond(cur, pref, &kv, &o);
	if (o.len == 0)
		return "";
	return strchr(buf, '=') + 1;
}

static void test_params_respond(void **state)
{
	struct iscsi_params cur, pref;
	enum iscsi_key_rule r;

	(void)state;
	iscsi_params_defaults(&cur);
	iscsi_params_defaults(&pref);
	assert_int_equal(cur.max_xmit_dsl, 8192);
	assert_int_equal(cur.initial_r2t, 1);
	pref.header_digest = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	pref.data_digest = ISCSI_DIGEST_NONE;
	pref.max_burst = 1048576;
	pref.initial_r2t = 0;
	pref.max_connections = 1;

	assert_string_equal(respond(&cur, &pref, "HeaderDigest",
				    "CRC32C,None", &r), "CRC32C");
	assert_int_equal(cur.header_digest, ISCSI_DIGEST_CRC32C);
	assert_string_equal(respond(&cur, &pref, "DataDigest", "CRC32C,None",
				    &r), "None");
	assert_string_equal(respond(&cur, &pref, "DataDigest", "CRC32C", &r),
			    "Reject");
	/* AND / OR booleans. */
	assert_string_equal(respond(&cur, &pref, "InitialR2T", "No", &r), "No");
	assert_int_equal(cur.initial_r2t, 0);
	pref.immediate_data = 0;
	assert_string_equal(respond(&cur, &pref, "ImmediateData", "Yes", &r),
			    "No");
	assert_string_equal(respond(&cur, &pref, "ImmediateData", "maybe", &r),
			    "Reject");
	/* Min / max numbers, ranges. */
	assert_string_equal(respond(&cur, &pref, "MaxBurstLength", "262144",
				    &r), "262144");
	assert_string_equal(respond(&cur, &pref, "MaxBurstLength", "16777216",
				    &r), "Reject");
	assert_string_equal(respond(&cur, &pref, "MaxConnections", "8", &r),
			    "1");
	assert_string_equal(respond(&cur, &pref, "DefaultTime2Wait", "0", &r),
			    "2");
	assert_string_equal(respond(&cur, &pref, "ErrorRecoveryLevel", "2",
				    &r), "0");
	/* Declarative: remembered, not answered. */
	assert_string_equal(respond(&cur, &pref, "MaxRecvDataSegmentLength",
				    "65536", &r), "");
	assert_int_equal(cur.max_xmit_dsl, 65536);
	/* Fixed answers and unknown keys. */
	assert_string_equal(respond(&cur, &pref, "OFMarker", "Yes", &r), "No");
	assert_string_equal(respond(&cur, &pref, "IFMarkInt", "2048~8192", &r),
			    "Irrelevant");
	respond(&cur, &pref, "X-com.example.Foo", "1", &r);
	assert_int_equal(r, ISCSI_KEY_UNKNOWN);
	assert_string_equal(respond(&cur, &pref, "MaxBurstLength",
				    "NotUnderstood", &r), "");
	assert_int_equal(r, ISCSI_KEY_OK);
	cur.first_burst = 1048576;
	cur.max_burst = 4096;
	iscsi_params_finish(&cur);
	assert_int_equal(cur.first_burst, 4096);
}

static void test_params_accept_offer(void **state)
{
	struct iscsi_params cur, pref;
	struct iscsi_kv kv;
	char buf[1024];
	struct iscsi_text_out o;

	(void)state;
	iscsi_params_defaults(&cur);
	iscsi_params_defaults(&pref);
	pref.max_burst = 65536;
	pref.header_digest = ISCSI_DIGEST_CRC32C | ISCSI_DIGEST_NONE;
	strcpy(kv.key, "MaxBurstLength");
	kv.value = "4096";
	assert_int_equal(iscsi_params_accept(&cur, &pref, &kv), 0);
	assert_int_equal(cur.max_burst, 4096);
	kv.value = "131072";		/* above our offer for a min key */
	assert_int_equal(iscsi_params_accept(&cur, &pref, &kv), -EINVAL);
	strcpy(kv.key, "HeaderDigest");
	kv.value = "CRC32C";
	assert_int_equal(iscsi_params_accept(&cur, &pref, &kv), 0);
	assert_int_equal(cur.header_digest, ISCSI_DIGEST_CRC32C);
	strcpy(kv.key, "InitialR2T");
	kv.value = "No";		/* OR key: we offered Yes */
	assert_int_equal(iscsi_params_accept(&cur, &pref, &kv), -EINVAL);
	strcpy(kv.key, "TargetAlias");
	assert_int_equal(iscsi_params_accept(&cur, &pref, &kv), -ENOENT);

	iscsi_text_out_init(&o, buf, sizeof(buf));
	iscsi_params_offer(&pref, false, &o);
	assert_false(o.overflow);
	assert_non_null(memmem(buf, o.len, "HeaderDigest=CRC32C,None", 24));
	assert_non_null(memmem(buf, o.len, "MaxBurstLength=65536", 20));
}

static void test_chap_codec(void **state)
{
	uint8_t out[64];
	char hex[64];

	(void)state;
	assert_int_equal(iscsi_chap_decode("0x0102ff", out, sizeof(out)), 3);
	assert_int_equal(out[2], 0xff);
	assert_int_equal(iscsi_chap_decode("0xabc", out, sizeof(out)), 2);
	assert_int_equal(out[0], 0x0a);
	assert_int_equal(out[1], 0xbc);
	assert_int_equal(iscsi_chap_decode("0bAQID", out, sizeof(out)), 3);
	assert_int_equal(out[2], 3);
	assert_int_equal(iscsi_chap_decode("0bAQI=", out, sizeof(out)), 2);
	assert_int_equal(iscsi_chap_decode("0x", out, sizeof(out)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0xzz", out, sizeof(out)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("1234", out, sizeof(out)), -EINVAL);
	assert_int_equal(iscsi_chap_decode("0x010203", out, 2), -EINVAL);
	uint8_t in[3] = {0, 0x7f, 0xa0};
	iscsi_chap_encode_hex(in, 3, hex);
	assert_string_equal(hex, "0x007fa0");
	assert_int_equal(iscsi_chap_select("7,5"), 5);
	assert_int_equal(iscsi_chap_select("8,5"), 8);
	assert_int_equal(iscsi_chap_select("6,7"), -1);
	assert_true(iscsi_chap_equal(in, in, 3));
}

static void test_chap_response(void **state)
{
	uint8_t chal[32], d[32];
	char h[80];

	(void)state;
	for (int i = 0; i < 32; i++)
		chal[i] = (uint8_t)i;
	/* Expected values computed independently (Python hashlib). */
	assert_int_equal(iscsi_chap_response(ISCSI_CHAP_MD5, 7, "secret", 6,
					     chal, 16, d), 16);
	iscsi_chap_encode_hex(d, 16, h);
	assert_string_equal(h, "0x821643665b430359e52ac524d29c8f95");
	assert_int_equal(iscsi_chap_response(ISCSI_CHAP_SHA256, 200,
					     "longersecret123", 15, chal, 32,
					     d), 32);
	iscsi_chap_encode_hex(d, 32, h);
	assert_string_equal(h, "0x1e5a7805491d67ef2ef3e92e9c5338ad"
			       "b7686af552712aaddd79d50c939ae9dc");
	assert_int_equal(iscsi_chap_response(6, 1, "x", 1, chal, 1, d),
			 -EINVAL);
	uint8_t r1[16], r2[16];
	assert_int_equal(iscsi_chap_random(r1, 16), 0);
	assert_int_equal(iscsi_chap_random(r2, 16), 0);
	assert_memory_not_equal(r1, r2, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pdu_frame),
		cmocka_unit_test(test_pdu_lun_sn),
		cmocka_unit_test(test_text_parse),
		cmocka_unit_test(test_text_build),
		cmocka_unit_test(test_params_respond),
		cmocka_unit_test(test_params_accept_offer),
		cmocka_unit_test(test_chap_codec),
		cmocka_unit_test(test_chap_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
