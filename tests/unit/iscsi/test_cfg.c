/*
 * Unit tests of the iSCSI target's settings as they change at run time and
 * are written back (src/iscsi/tgt_cfg.c), on a server that is not started:
 * every request of a table gets the expected answer, the printed settings
 * read back into a second server print the same text (what `config save`
 * relies on), and the checks that keep a config line parseable hold.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iscsi/tgt_int.h"

/* Run one request (words separated by single spaces); 0 or -1, and the
 * answer in *ans (malloc'ed). */
static int req(struct iscsi_srv *s, const char *line, char **ans)
{
	char buf[1024], *argv[16];
	int argc = 0;
	size_t len = 0;
	FILE *out = open_memstream(ans, &len);
	int rc;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *w = strtok(buf, " "); w && argc < 16; w = strtok(NULL, " "))
		argv[argc++] = w;
	assert_non_null(out);
	rc = iscsi_srv_ctl(s, argc, argv, out);
	fclose(out);
	return rc;
}

static char *config_of(struct iscsi_srv *s)
{
	char *ans;

	assert_int_equal(req(s, "iscsi config", &ans), 0);
	return ans;
}

/* Apply config text ("key value" lines) as `serve --config` would. */
static void apply_config(struct iscsi_srv *s, const char *text)
{
	char *copy = strdup(text), *save = NULL, err[200];

	for (char *l = strtok_r(copy, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');

		assert_non_null(sp);
		*sp = '\0';
		if (strcmp(l, "iscsi") == 0 && strcmp(sp + 1, "none") == 0)
			continue;	/* not in these tests */
		if (iscsi_srv_configure(s, l, sp + 1, err, sizeof(err)) < 0)
			fail_msg("%s %s: %s", l, sp + 1, err);
	}
	free(copy);
}

static void test_requests(void **state)
{
	static const struct {
		const char *line;
		int rc;
		const char *msg;	/* start of the answer */
	} cases[] = {
		{ "iscsi acl add d0 iqn.2026-12.test:a", 0, "" },
		{ "iscsi acl add d0 iqn.2026-12.test:a", 0, "" }, /* again */
		{ "iscsi acl add * iqn.2026-12.test:b", 0, "" },
		{ "iscsi acl add discovery iqn.x", -1, "bad target" },
		{ "iscsi acl add d:0 iqn.x", -1, "bad target" },
		{ "iscsi acl add d0 a#b", -1, "initiator name" },
		{ "iscsi acl add d0", -1, "usage: iscsi acl" },
		{ "iscsi acl frob d0 x", -1, "usage: iscsi acl" },
		{ "iscsi acl remove d0 iqn.2026-12.test:zz", -1, "iqn.2026" },
		{ "iscsi acl remove d0 IQN.2026-12.TEST:A", 0, "" },
		{ "iscsi acl add d0 iqn.2026-12.test:c", 0, "" },
		{ "iscsi chap set d0 alice alicesecret01", 0, "" },
		{ "iscsi chap set discovery disc discsecret02", 0, "" },
		{ "iscsi mutual-chap set d0 tgt tgtsecret03", 0, "" },
		{ "iscsi chap set d0 alice", -1, "usage: iscsi chap" },
		{ "iscsi chap set d0 alice sec#ret", -1, "CHAP user" },
		{ "iscsi chap set d0 al\001ce secret", -1, "CHAP user" },
		{ "iscsi chap clear d1", 0, "" },	/* nothing to clear */
		{ "iscsi mutual-chap frob d0", -1, "usage: iscsi mutual-chap" },
		{ "iscsi lun map d0 0 d1", -1, "LUN '0'" },
		{ "iscsi lun map d0 256 d1", -1, "LUN '256'" },
		{ "iscsi lun map d0 x d1", -1, "LUN 'x'" },
		{ "iscsi lun map * 1 d1", -1, "bad target" },
		{ "iscsi lun unmap d0 1", -1, "no LUN 1" },
		{ "iscsi portal add 127.0.0.1:1", -1, "iSCSI is disabled" },
		{ "iscsi frob", -1, "usage: iscsi" },
	};
	struct iscsi_srv *s = iscsi_srv_create(NULL, NULL);

	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *ans = NULL;
		int rc = req(s, cases[i].line, &ans);

		if (rc != cases[i].rc ||
		    strncmp(ans, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("'%s': rc %d, answer '%s'", cases[i].line, rc,
				 ans);
		free(ans);
	}
	iscsi_srv_release(s);
}

/* Settings printed, read into a new server, printed again: same text. */
static void test_round_trip(void **state)
{
	static const char *const setup[][2] = {
		{ "iscsi-portal", "127.0.0.1:3261" },
		{ "iscsi-portal", "[::1]:3261" },
		{ "iscsi-queue-depth", "64" },
		{ "iscsi-header-digest", "crc32c" },
		{ "iscsi-immediate-data", "no" },
		{ "iscsi-nop-interval", "0" },
		{ "iscsi-target", "d0:iqn.2026-12.test:named" },
		{ "iscsi-alias", "d0:my disk" },
		{ "iscsi-lun", "d0:3:d2" },
		{ "iscsi-acl", "zz:iqn.2026-12.test:z" },
	};
	struct iscsi_srv *a = iscsi_srv_create(NULL, NULL);
	struct iscsi_srv *b = iscsi_srv_create(NULL, NULL);
	char err[200], *ans, *ca, *cb;

	(void)state;
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		assert_int_equal(iscsi_srv_configure(a, setup[i][0],
						     setup[i][1], err,
						     sizeof(err)), 0);
	assert_int_equal(req(a, "iscsi acl add d0 iqn.2026-12.test:a", &ans),
			 0);
	free(ans);
	assert_int_equal(req(a, "iscsi chap set * u1 secret000001", &ans), 0);
	free(ans);
	assert_int_equal(req(a, "iscsi mutual-chap set d0 t1 secret000002",
			     &ans), 0);
	free(ans);
	ca = config_of(a);
	assert_non_null(strstr(ca, "iscsi-chap *:u1:secret000001\n"));
	assert_non_null(strstr(ca, "iscsi-lun d0:3:d2\n"));
	assert_non_null(strstr(ca, "iscsi-alias d0:my disk\n"));
	assert_non_null(strstr(ca, "iscsi-header-digest crc32c\n"));
	assert_non_null(strstr(ca, "iscsi-data-digest both\n"));
	/* Targets sorted by name, whatever the order they were made in. */
	assert_true(strstr(ca, "iscsi-chap *:") < strstr(ca, "iscsi-acl d0:"));
	assert_true(strstr(ca, "iscsi-acl d0:") < strstr(ca, "iscsi-acl zz:"));
	apply_config(b, ca);
	cb = config_of(b);
	assert_string_equal(ca, cb);
	free(ca);
	free(cb);

	/* Cleared CHAP is gone from the text, and the secret from memory. */
	assert_int_equal(req(a, "iscsi chap clear *", &ans), 0);
	free(ans);
	ca = config_of(a);
	assert_null(strstr(ca, "secret000001"));
	free(ca);
	iscsi_srv_release(a);
	iscsi_srv_release(b);
}

static void test_limits(void **state)
{
	struct iscsi_srv *s = iscsi_srv_create(NULL, NULL);
	char line[128], *ans;
	unsigned i;

	(void)state;
	for (i = 0; i < ISCSI_ACL_MAX; i++) {
		snprintf(line, sizeof(line), "iscsi acl add d0 iqn.x:%u", i);
		assert_int_equal(req(s, line, &ans), 0);
		free(ans);
	}
	assert_int_equal(req(s, "iscsi acl add d0 iqn.x:one-more", &ans), -1);
	assert_non_null(strstr(ans, "too many ACL entries"));
	free(ans);
	for (i = 0; i < ISCSI_TCFG_MAX + 1; i++) {
		snprintf(line, sizeof(line), "iscsi acl add t%u iqn.x", i);
		int rc = req(s, line, &ans);

		free(ans);
		if (rc < 0)
			break;
	}
	/* d0 and t0..t4094 fill the table: t4095 is refused. */
	assert_int_equal(i, ISCSI_TCFG_MAX - 1);
	assert_int_equal(s->ntcfgs, ISCSI_TCFG_MAX);
	iscsi_srv_release(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
