/*
 * The rbd disk spec (src/bdev/rbd_spec.c, spec.c): POOL/IMAGE[@SNAP] and
 * the options conf=, id=, ro, timeout=, bs= split into struct
 * bdev_rbd_opts; every malformed spec refused by bdev_create_spec() with
 * a one-line reason before any cluster is contacted (none runs here), and
 * a well-formed one in a build without librbd refused as such.
 */
#include <string.h>

#include "bdev_test.h"

static void test_name(void **state)
{
	char err[200], s[64];
	struct bdev_rbd_opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	strcpy(s, "pool/img");
	assert_int_equal(rbd_spec_name(s, &o, err, sizeof(err)), 0);
	assert_string_equal(o.pool, "pool");
	assert_string_equal(o.image, "img");
	assert_null(o.snap);
	assert_false(o.read_only);

	memset(&o, 0, sizeof(o));
	strcpy(s, "p.1/vm-disk_2@snap-3");
	assert_int_equal(rbd_spec_name(s, &o, err, sizeof(err)), 0);
	assert_string_equal(o.pool, "p.1");
	assert_string_equal(o.image, "vm-disk_2");
	assert_string_equal(o.snap, "snap-3");
	assert_true(o.read_only);	/* a snapshot is read-only */

	static const char *const bad[] = {
		"pool", "/img", "pool/", "pool/img@", "pool/a/b", "po ol/img",
		"pool/img@s@t", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&o, 0, sizeof(o));
		strcpy(s, bad[i]);
		err[0] = '\0';
		if (rbd_spec_name(s, &o, err, sizeof(err)) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(strncmp(err, "rbd: ", 5) == 0);
	}
	/* Longer than any pool or image name Ceph keeps. */
	{
		char big[600];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		big[3] = '/';
		assert_int_equal(rbd_spec_name(big, &o, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "longer than"));
	}
}

static void test_opts(void **state)
{
	char err[200];
	struct bdev_rbd_opts o;

	(void)state;
	memset(&o, 0, sizeof(o));
	assert_int_equal(rbd_spec_opt(&o, "ro", NULL, err, sizeof(err)), 1);
	assert_true(o.read_only);
	assert_int_equal(rbd_spec_opt(&o, "conf", "/etc/ceph/x.conf", err,
				      sizeof(err)), 1);
	assert_string_equal(o.conf, "/etc/ceph/x.conf");
	assert_int_equal(rbd_spec_opt(&o, "id", "client.gw1", err,
				      sizeof(err)), 1);
	assert_string_equal(o.id, "gw1");
	assert_int_equal(rbd_spec_opt(&o, "id", "admin", err, sizeof(err)),
			 1);
	assert_string_equal(o.id, "admin");
	assert_int_equal(rbd_spec_opt(&o, "timeout", "7", err, sizeof(err)),
			 1);
	assert_int_equal(o.timeout_s, 7);
	assert_int_equal(rbd_spec_opt(&o, "bs", "4096", err, sizeof(err)), 1);
	assert_int_equal(o.lbsize, 4096);
	/* Not an rbd option: left to the caller (presentation options). */
	assert_int_equal(rbd_spec_opt(&o, "thick", NULL, err, sizeof(err)),
			 0);
	assert_int_equal(rbd_spec_opt(&o, "ro", "1", err, sizeof(err)), 0);

	static const struct {
		const char *opt, *val;
	} bad[] = {
		{ "timeout", "0" }, { "timeout", "-1" }, { "timeout", "3601" },
		{ "timeout", "5s" }, { "timeout", "" }, { "bs", "1024" },
		{ "bs", "" }, { "conf", "" }, { "id", "" }, { "id", "a b" },
		{ "id", "client." },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (rbd_spec_opt(&o, bad[i].opt, bad[i].val, err,
				 sizeof(err)) != -1)
			fail_msg("%s=%s accepted", bad[i].opt, bad[i].val);
		assert_true(strncmp(err, "rbd: ", 5) == 0);
	}
}

/* Whole specs through bdev_create_spec: each refused with its reason,
 * before anything is connected. */
static void test_create_spec_refusals(void **state)
{
	static const struct {
		const char *spec, *words;
	} bad[] = {
		{ "rbd:", "missing pool or image" },
		{ "rbd:pool", "missing pool or image" },
		{ "rbd:pool/img,foo", "unknown option 'foo'" },
		{ "rbd:pool/img,timeout=0", "bad timeout" },
		{ "rbd:pool/img,bs=1000", "bs must be 512 or 4096" },
		{ "rbd:pool/img,pbsize=1000", "bad pbsize" },
		{ "rbd:pool/img,conf=", "empty conf" },
		{ "rbd:pool@s/img", "bad character in pool" },
	};
	char err[200];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bdev *bd = bdev_create_spec("r", bad[i].spec, err,
						   sizeof(err));

		if (bd != NULL)
			fail_msg("'%s' accepted", bad[i].spec);
		if (strstr(err, bad[i].words) == NULL)
			fail_msg("'%s': '%s' lacks '%s'", bad[i].spec, err,
				 bad[i].words);
	}
	/* A good spec: refused as such without librbd, else it tries the
	 * cluster of a conf that does not exist. */
	assert_null(bdev_create_spec("r", "rbd:pool/img,conf=/nonexistent/"
				     "ceph.conf,timeout=1", err, sizeof(err)));
	if (bdev_rbd_available())
		assert_non_null(strstr(err, "cannot read /nonexistent/"));
	else
		assert_non_null(strstr(err, "built without librbd"));
	assert_no_bdev_leak();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_create_spec_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
