/*
 * The disk spec's presentation options on mem and file: pbsize=N, thick,
 * wsnz=0|1 -- what each sets in the geometry, that a thick disk refuses
 * discard, keeps zeroed blocks allocated and reports every block mapped
 * (a thick file is allocated up front), and every bad value refused with
 * a one-line reason.
 */
#include <errno.h>
#include <sys/stat.h>

#include "bdev_test.h"

static const struct {
	const char *spec;
	uint32_t lbsize, pbsize;
	bool report_pbsize, thick, discard, ws_to_end;
} good[] = {
	{ "mem:16M", 512, 4096, false, false, true, false },
	{ "mem:16M,pbsize=4096", 512, 4096, true, false, true, false },
	{ "mem:16M,pbsize=512", 512, 512, true, false, true, false },
	{ "mem:16M,bs=4096,pbsize=16K", 4096, 16384, true, false, true,
	  false },
	{ "mem:16M,thick", 512, 4096, false, true, false, false },
	{ "mem:16M,wsnz=0", 512, 4096, false, false, true, true },
	{ "mem:16M,wsnz=1,thick,pbsize=8K", 512, 8192, true, true, false,
	  false },
};

static const char *const bad[] = {
	"mem:16M,pbsize=1000",		/* not a power of two */
	"mem:16M,pbsize=256",		/* below 512 */
	"mem:16M,bs=4096,pbsize=512",	/* below the logical block */
	"mem:16M,pbsize=32M",		/* more than 2^15 blocks */
	"mem:16M,pbsize",		/* no value */
	"mem:16M,thick=1",		/* a flag, no value */
	"mem:16M,wsnz=2",
	"mem:16M,wsnz=",
	"mem:16M,wsnz",
};

static void test_mem_options(void **state)
{
	char err[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct bdev *bd = bdev_create_spec("p", good[i].spec, err,
						   sizeof(err));
		const struct bdev_geometry *g;

		if (bd == NULL)
			fail_msg("'%s' refused: %s", good[i].spec, err);
		g = bdev_geometry(bd);
		assert_int_equal(g->lbsize, good[i].lbsize);
		assert_int_equal(g->pbsize, good[i].pbsize);
		assert_int_equal(g->report_pbsize, good[i].report_pbsize);
		assert_int_equal(g->thick, good[i].thick);
		assert_int_equal(g->can_discard, good[i].discard);
		assert_int_equal(g->ws_to_end, good[i].ws_to_end);
		bdev_release(bd);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (bdev_create_spec("x", bad[i], err, sizeof(err)) != NULL)
			fail_msg("spec '%s' accepted", bad[i]);
		if (err[0] == '\0' || strchr(err, '\n') != NULL)
			fail_msg("spec '%s': bad message '%s'", bad[i], err);
	}
	assert_no_bdev_leak();
}

/* Thick: no discard; write-zeroes leaves the blocks allocated; every
 * block reads as mapped (thin: discarded ranges are holes). */
static void check_thick(struct bdev *bd)
{
	struct ev_loop *loop = ev_loop_create();
	enum bdev_alloc_state st;
	uint64_t run;
	uint8_t buf[65536];

	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, sizeof(buf), buf,
				0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 0, 65536, NULL, 0),
			 -ENOTSUP);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 0, 65536,
				NULL, 0), 0);
	assert_int_equal(bdev_read_sync(bd, buf, 0, sizeof(buf)), 0);
	assert_true(all_zero(buf, sizeof(buf)));
	assert_int_equal(bdev_block_status(bd, 0, 16u << 20, &st, &run), 0);
	assert_int_equal(st, BDEV_MAPPED);
	assert_int_equal(run, 16u << 20);
	ev_loop_destroy(loop);
}

static void test_thick(void **state)
{
	char dir[256], spec[320], err[200];
	struct bdev *bd;
	struct stat sb;

	(void)state;
	bd = bdev_create_spec("t", "mem:16M,thick", err, sizeof(err));
	assert_non_null(bd);
	check_thick(bd);
	bdev_release(bd);

	assert_int_equal(bdev_test_mkdtemp(dir, sizeof(dir), "thick"), 0);
	snprintf(spec, sizeof(spec), "file:%s/f,size=16M,thick,pbsize=4096",
		 dir);
	bd = bdev_create_spec("tf", spec, err, sizeof(err));
	if (bd == NULL)
		fail_msg("%s", err);
	assert_true(bdev_geometry(bd)->thick);
	assert_int_equal(bdev_geometry(bd)->pbsize, 4096);
	/* Allocated up front (where the file system can). */
	snprintf(spec, sizeof(spec), "%s/f", dir);
	assert_int_equal(stat(spec, &sb), 0);
	assert_true((uint64_t)sb.st_blocks * 512 >= 16u << 20);
	check_thick(bd);
	bdev_release(bd);
	bdev_pool_shutdown();
	assert_no_bdev_leak();
	assert_int_equal(bdev_test_rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_options),
		cmocka_unit_test(test_thick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
