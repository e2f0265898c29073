/*
 * The medium bdev (removable and CD/DVD drives): the ,removable and
 * ,cdrom spec options, I/O through the drive, a medium changed with I/O in
 * flight on the old one, an empty drive, and the refusals (another block
 * size, a read-only medium in a read-write drive, not a drive).
 */
#include <errno.h>
#include <stdio.h>

#include "bdev_test.h"

static void test_medium_spec(void **state)
{
	static const struct {
		const char *spec;
		enum bdev_medium_kind kind;	/* -1: refused */
		uint32_t lbsize;
		bool ro;
	} cases[] = {
		{ "mem:1M", BDEV_MEDIUM_FIXED, 512, false },
		{ "mem:1M,removable", BDEV_MEDIUM_REMOVABLE, 512, false },
		{ "mem:1M,ro,removable,bs=4096", BDEV_MEDIUM_REMOVABLE, 4096,
		  true },
		{ "mem:1M,cdrom", (enum bdev_medium_kind)-1, 0, false },
		{ "mem:1M,cdrom,bs=4096", BDEV_MEDIUM_OPTICAL, 4096, true },
		{ "mem:1M,removable,nosuch", (enum bdev_medium_kind)-1, 0,
		  false },
		{ "removable:1M", (enum bdev_medium_kind)-1, 0, false },
	};
	char err[200];
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bdev *bd = bdev_create_spec("d", cases[i].spec, err,
						   sizeof(err));

		if ((int)cases[i].kind < 0) {
			assert_null(bd);
			assert_true(err[0] != '\0');
			continue;
		}
		if (bd == NULL)
			fail_msg("%s: %s", cases[i].spec, err);
		assert_int_equal(bdev_medium_kind(bd), cases[i].kind);
		assert_int_equal(bdev_geometry(bd)->lbsize, cases[i].lbsize);
		assert_int_equal(bdev_geometry(bd)->read_only, cases[i].ro);
		assert_int_equal(bdev_geometry(bd)->size, 1 << 20);
		assert_true(bdev_medium_present(bd, NULL));
		bdev_release(bd);
	}
	assert_no_bdev_leak();
}

static void test_medium_cdrom_file(void **state)
{
	char dir[256], path[300], spec[320], err[200];
	struct bdev *bd;
	FILE *f;

	(void)state;
	assert_int_equal(bdev_test_mkdtemp(dir, sizeof(dir), "medium"), 0);
	snprintf(path, sizeof(path), "%s/disc.iso", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 8 * 2048; i++)
		fputc(i & 0xff, f);
	fclose(f);
	snprintf(spec, sizeof(spec), "file:%s,cdrom", path);
	bd = bdev_create_spec("cd", spec, err, sizeof(err));
	if (bd == NULL)
		fail_msg("%s", err);
	assert_int_equal(bdev_medium_kind(bd), BDEV_MEDIUM_OPTICAL);
	assert_int_equal(bdev_geometry(bd)->lbsize, 2048);
	assert_true(bdev_geometry(bd)->read_only);
	assert_int_equal(bdev_geometry(bd)->size, 8 * 2048);
	bdev_release(bd);
	assert_no_bdev_leak();
	assert_int_equal(bdev_test_rmdir(dir), 0);
}

static void test_medium_change(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *m1 = bdev_mem_create("m1", 1 << 20, 512, false);
	struct bdev *f1 = bdev_fault_create("f1", m1);
	struct bdev *m2 = bdev_mem_create("m2", 2 << 20, 512, false);
	struct bdev *m4k = bdev_mem_create("m4k", 1 << 20, 4096, false);
	struct bdev *mro = bdev_mem_create("mro", 1 << 20, 512, true);
	struct bdev *drive;
	struct bdev_fault_rule hold = { .action = BDEV_FAULT_HOLD, .count = -1 };
	static uint8_t w[4096], r[4096];
	struct tio t;
	uint64_t g1, g2;

	(void)state;
	drive = bdev_medium_create("drive", f1, BDEV_MEDIUM_REMOVABLE);
	assert_non_null(drive);
	assert_null(bdev_medium_create("x", NULL, BDEV_MEDIUM_REMOVABLE));
	assert_null(bdev_medium_create("x", m1, BDEV_MEDIUM_FIXED));
	assert_string_equal(bdev_backend(drive), "medium");
	pat_fill(w, 0, sizeof(w), 3);
	assert_int_equal(tio_do(loop, drive, BDEV_IO_WRITE, 0, 4096, w, 0), 0);
	assert_true(bdev_medium_present(drive, &g1));

	/* A write held on the first medium while the second goes in: it
	 * completes on the first one. */
	bdev_fault_set(f1, &hold);
	tio_init(&t, loop, BDEV_IO_WRITE, 4096, 4096, w, 0);
	assert_int_equal(tio_submit(drive, &t), 0);
	ev_loop_run_once(loop, 10);
	assert_int_equal(t.calls, 0);
	assert_int_equal(bdev_medium_change(drive, m4k), -EINVAL);
	assert_int_equal(bdev_medium_change(drive, mro), -EROFS);
	assert_int_equal(bdev_medium_change(m1, m2), -EINVAL);
	assert_int_equal(bdev_medium_change(drive, m2), 0);
	assert_true(bdev_medium_present(drive, &g2));
	assert_true(g2 > g1);
	assert_int_equal(bdev_geometry(drive)->size, 2 << 20);
	bdev_fault_clear(f1);
	bdev_fault_release_held(f1);
	assert_int_equal(tio_wait(loop, &t), 0);
	assert_int_equal(tio_do(loop, m1, BDEV_IO_READ, 4096, 4096, r, 0), 0);
	assert_memory_equal(w, r, sizeof(r));
	/* New I/O reaches the new medium. */
	assert_int_equal(tio_do(loop, drive, BDEV_IO_READ, 0, 4096, r, 0), 0);
	assert_true(all_zero(r, sizeof(r)));
	assert_int_equal(tio_do(loop, drive, BDEV_IO_WRITE, (2 << 20) - 4096,
				4096, w, 0), 0);

	/* Empty: size 0, I/O refused. */
	assert_int_equal(bdev_medium_change(drive, NULL), 0);
	assert_false(bdev_medium_present(drive, NULL));
	assert_int_equal(bdev_geometry(drive)->size, 0);
	assert_true(bdev_medium_present(m1, NULL));	/* not a drive */
	tio_init(&t, loop, BDEV_IO_FLUSH, 0, 0, NULL, 0);
	assert_int_equal(tio_run(loop, drive, &t), -ENOMEDIUM);

	bdev_release(drive);
	bdev_release(f1);
	bdev_release(m1);
	bdev_release(m2);
	bdev_release(m4k);
	bdev_release(mro);
	while (ev_loop_run_once(loop, 0) > 0)
		;
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_medium_spec),
		cmocka_unit_test(test_medium_cdrom_file),
		cmocka_unit_test(test_medium_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
