/*
 * Unit tests for the initiator's login (src/iscsi/ini_login.c) and URL
 * parsing (src/iscsi/ini_url.c).  The login runs against the target-side
 * state machine (src/iscsi/login.c): both are pure, so a whole login is a
 * loop of PDUs handed back and forth in memory.  Covered: no
 * authentication, one-way and mutual CHAP, wrong secrets both ways,
 * digests, the operational keys' outcome, a discovery login, target
 * failures, malformed responses.
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

#include "iscsi/ini_int.h"
#include "iscsi/login.h"

static uint16_t fake_lookup(void *arg, const char *target_name,
			    const char *initiator_name,
			    struct iscsi_login_target *t)
{
	(void)arg;
	(void)initiator_name;
	iscsi_params_defaults(&t->pref);
	t->pref.header_digest = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	t->pref.data_digest = ISCSI_DIGEST_NONE | ISCSI_DIGEST_CRC32C;
	t->pref.initial_r2t = 0;
	t->pref.max_burst = 524288;
	t->pref.first_burst = 131072;
	t->pref.max_recv_dsl = 65536;
	t->tpgt = 1;
	if (target_name == NULL)
		return 0;
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

/* Run a whole login; returns ini_login_step's last result. */
static int run_login(struct iscsi_ini_cfg *cfg, bool discovery,
		     struct ini_login *il)
{
	struct iscsi_login tl;
	uint8_t req[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN];
	char rbuf[8192], tbuf[8192];
	struct iscsi_text_out ro, to;
	int rc = 1;

	iscsi_login_init(&tl, &ops, NULL, 65536);
	ini_login_init(il, cfg, discovery);
	iscsi_text_out_init(&ro, rbuf, sizeof(rbuf));
	memset(req, 0, sizeof(req));
	ini_login_start(il, req, &ro);
	for (int round = 0; round < 20 && rc == 1; round++) {
		memcpy(req + 8, "\x80\x01\x02\x03\x00\x01", 6);
		iscsi_put32(req + 16, 7);
		iscsi_bhs_set_dsl(req, (uint32_t)ro.len);
		iscsi_text_out_init(&to, tbuf, sizeof(tbuf));
		memset(rsp, 0, sizeof(rsp));
		iscsi_login_step(&tl, req, rbuf, (uint32_t)ro.len, rsp, &to);
		rsp[0] = ISCSI_OP_LOGIN_RSP;
		iscsi_text_out_init(&ro, rbuf, sizeof(rbuf));
		memset(req, 0, sizeof(req));
		rc = ini_login_step(il, rsp, tbuf, (uint32_t)to.len, req, &ro);
	}
	iscsi_login_free(&tl);
	return rc;
}

static void cfg_for(struct iscsi_ini_cfg *c, const char *url)
{
	char err[128];

	iscsi_ini_cfg_init(c);
	assert_int_equal(iscsi_ini_parse_url(url, c, err, sizeof(err)), 0);
}

static void test_login_none(void **state)
{
	struct iscsi_ini_cfg c;
	struct ini_login il;

	(void)state;
	cfg_for(&c, "iscsi://127.0.0.1/iqn.t:a/0");
	assert_int_equal(run_login(&c, false, &il), 0);
	assert_int_equal(il.st, IL_DONE);
	/* What the two preference sets make together (RFC 7143 13). */
	assert_int_equal(il.cur.header_digest, ISCSI_DIGEST_NONE);
	assert_int_equal(il.cur.immediate_data, 1);
	assert_int_equal(il.cur.initial_r2t, 0);
	assert_int_equal(il.cur.max_burst, 524288);
	assert_int_equal(il.cur.first_burst, 131072);
	assert_int_equal(il.cur.max_xmit_dsl, 65536);
	assert_int_equal(il.cur.max_recv_dsl, 262144);
	assert_int_equal(il.cur.erl, 0);
	assert_int_equal(il.cur.max_outstanding_r2t, 1);
}

static void test_login_digests(void **state)
{
	struct iscsi_ini_cfg c;
	struct ini_login il;

	(void)state;
	cfg_for(&c, "iscsi://h/iqn.t:a?header_digest=crc32c&"
		    "data_digest=crc32c,none");
	assert_int_equal(run_login(&c, false, &il), 0);
	assert_int_equal(il.cur.header_digest, ISCSI_DIGEST_CRC32C);
	assert_int_equal(il.cur.data_digest, ISCSI_DIGEST_CRC32C);
}

static void test_login_chap(void **state)
{
	struct iscsi_ini_cfg c;
	struct ini_login il;

	(void)state;
	cfg_for(&c, "iscsi://alice%s1-secret@h/iqn.t:chap/1");
	assert_int_equal(run_login(&c, false, &il), 0);
	cfg_for(&c, "iscsi://alice%s1-secret@h/iqn.t:chap/1?target_user="
		    "tuser&target_password=s2-target-secret");
	assert_int_equal(run_login(&c, false, &il), 0);
	/* The target's secret is wrong: we refuse. */
	cfg_for(&c, "iscsi://alice%s1-secret@h/iqn.t:chap/1?target_user="
		    "tuser&target_password=other");
	assert_int_equal(run_login(&c, false, &il), -EACCES);
	assert_non_null(strstr(il.err, "mutual"));
	/* Our secret is wrong: the target refuses. */
	cfg_for(&c, "iscsi://alice%nope@h/iqn.t:chap/1");
	assert_int_equal(run_login(&c, false, &il), -EACCES);
	/* No CHAP offered to a CHAP target. */
	cfg_for(&c, "iscsi://h/iqn.t:chap/1");
	assert_int_equal(run_login(&c, false, &il), -EACCES);
}

static void test_login_failures(void **state)
{
	struct iscsi_ini_cfg c;
	struct ini_login il;
	uint8_t rsp[ISCSI_BHS_LEN] = {0}, req[ISCSI_BHS_LEN];
	char buf[256];
	struct iscsi_text_out o;

	(void)state;
	cfg_for(&c, "iscsi://h/iqn.t:missing");
	assert_int_equal(run_login(&c, false, &il), -ENOENT);
	/* Discovery: no TargetName, ends in full feature phase. */
	cfg_for(&c, "iscsi://h/");
	assert_int_equal(run_login(&c, true, &il), 0);
	/* A response from the wrong stage, one with the C bit, a non-login
	 * opcode, malformed text. */
	cfg_for(&c, "iscsi://h/iqn.t:a");
	iscsi_text_out_init(&o, buf, sizeof(buf));
	ini_login_init(&il, &c, false);
	ini_login_start(&il, req, &o);
	rsp[0] = ISCSI_OP_LOGIN_RSP;
	rsp[1] = ISCSI_LOGIN_TRANSIT | 1 << 2 | 3;
	assert_int_equal(ini_login_step(&il, rsp, NULL, 0, req, &o), -EPROTO);
	ini_login_init(&il, &c, false);
	ini_login_start(&il, req, &o);
	rsp[1] = ISCSI_LOGIN_CONTINUE;
	assert_int_equal(ini_login_step(&il, rsp, NULL, 0, req, &o), -EPROTO);
	ini_login_init(&il, &c, false);
	ini_login_start(&il, req, &o);
	rsp[0] = ISCSI_OP_NOP_IN;
	rsp[1] = 0;
	assert_int_equal(ini_login_step(&il, rsp, NULL, 0, req, &o), -EPROTO);
	ini_login_init(&il, &c, false);
	ini_login_start(&il, req, &o);
	rsp[0] = ISCSI_OP_LOGIN_RSP;
	rsp[1] = ISCSI_LOGIN_TRANSIT | ISCSI_STAGE_OPERATIONAL;
	assert_int_equal(ini_login_step(&il, rsp, "nokey", 5, req, &o),
			 -EPROTO);
	/* A target error status. */
	ini_login_init(&il, &c, false);
	ini_login_start(&il, req, &o);
	iscsi_put16(rsp + 36, ISCSI_LS_OUT_OF_RESOURCES);
	assert_int_equal(ini_login_step(&il, rsp, NULL, 0, req, &o), -EAGAIN);
}

static void test_url(void **state)
{
	struct iscsi_ini_cfg c;
	char err[128];

	(void)state;
	cfg_for(&c, "iscsi://u%p@[::1]:3261/iqn.x:y/5?nop=0&backoff=50&"
		    "replacement_timeout=7");
	assert_string_equal(c.host, "::1");
	assert_int_equal(c.port, 3261);
	assert_string_equal(c.target, "iqn.x:y");
	assert_int_equal(c.lun, 5);
	assert_string_equal(c.user, "u");
	assert_string_equal(c.secret, "p");
	assert_int_equal(c.nop_ms, 0);
	assert_int_equal(c.backoff_ms, 50);
	assert_int_equal(c.replacement_ms, 7000);
	cfg_for(&c, "iscsi://host");
	assert_string_equal(c.host, "host");
	assert_int_equal(c.port, 3260);
	assert_string_equal(c.target, "");
	assert_true(c.lun == ISCSI_INI_NO_LUN);
	static const char *const bad[] = {
		"http://h/x",
		"iscsi://",
		"iscsi://h:0/x",
		"iscsi://h:70000/x",
		"iscsi://h/x/lun",
		"iscsi://h/x/99999",
		"iscsi://[::1/x",
		"iscsi://@h/x",
		"iscsi://h/x?what=1",
		"iscsi://h/x?header_digest=md5",
		"iscsi://h/x?target_user=t&target_password=p",
		"iscsi://u%p@h/x?target_user=t",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		iscsi_ini_cfg_init(&c);
		assert_int_equal(iscsi_ini_parse_url(bad[i], &c, err,
						     sizeof(err)),
				 -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_login_none),
		cmocka_unit_test(test_login_digests),
		cmocka_unit_test(test_login_chap),
		cmocka_unit_test(test_login_failures),
		cmocka_unit_test(test_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
