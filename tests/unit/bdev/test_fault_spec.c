/*
 * The text forms of the fault bdev: rule parsing (every action, option and
 * rejection) and "fault:SPEC" disks that fail I/O once a parsed rule is set.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/bdev.h>

struct rule_case {
	const char *text;
	int rc;
	enum bdev_fault_action action;
	int err;
	uint32_t type_mask;
	uint64_t offset, length;
	int32_t count;
	uint32_t delay_ms;
};

static const struct rule_case rule_cases[] = {
	{ "fail", 0, BDEV_FAULT_FAIL, EIO, 0, 0, 0, -1, 0 },
	{ "fail=ENOSPC", 0, BDEV_FAULT_FAIL, ENOSPC, 0, 0, 0, -1, 0 },
	{ "fail=5,count=3", 0, BDEV_FAULT_FAIL, 5, 0, 0, 0, 3, 0 },
	{ "delay=250", 0, BDEV_FAULT_DELAY, EIO, 0, 0, 0, -1, 250 },
	{ "tear,type=write", 0, BDEV_FAULT_TEAR, EIO,
	  1u << BDEV_IO_WRITE, 0, 0, -1, 0 },
	{ "hold,type=read+flush", 0, BDEV_FAULT_HOLD, EIO,
	  (1u << BDEV_IO_READ) | (1u << BDEV_IO_FLUSH), 0, 0, -1, 0 },
	{ "fail,offset=1M,length=4K", 0, BDEV_FAULT_FAIL, EIO, 0, 1 << 20,
	  4096, -1, 0 },
	{ "none", 0, BDEV_FAULT_NONE, EIO, 0, 0, 0, -1, 0 },
	{ "", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "explode", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "fail=EWHAT", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "fail=0", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "delay", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "delay=9999999", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "hold=1", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "fail,type=sideways", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "fail,type=", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "fail,count", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "fail,count=-1", -1, 0, 0, 0, 0, 0, 0, 0 },
	{ "fail,colour=red", -1, 0, 0, 0, 0, 0, 0, 0 },
};

static void test_rule_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rule_cases) / sizeof(rule_cases[0]);
	     i++) {
		const struct rule_case *c = &rule_cases[i];
		struct bdev_fault_rule r;
		char err[128] = "";
		int rc = bdev_fault_parse(c->text, &r, err, sizeof(err));

		if (rc != c->rc)
			fail_msg("'%s': rc %d, want %d (%s)", c->text, rc,
				 c->rc, err);
		if (rc < 0) {
			assert_true(err[0] != '\0');
			continue;
		}
		assert_int_equal(r.action, c->action);
		assert_int_equal(r.err, c->err);
		assert_int_equal(r.type_mask, c->type_mask);
		assert_int_equal(r.offset, c->offset);
		assert_int_equal(r.length, c->length);
		assert_int_equal(r.count, c->count);
		assert_int_equal(r.delay_ms, c->delay_ms);
	}
}

static void test_fault_spec_disk(void **state)
{
	char err[128], buf[4096];
	struct bdev_fault_rule r;
	struct bdev *bd;

	(void)state;
	bd = bdev_create_spec("f0", "fault:mem:1M", err, sizeof(err));
	assert_non_null(bd);
	assert_true(bdev_is_fault(bd));
	assert_int_equal(bdev_geometry(bd)->size, 1 << 20);
	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(bdev_write_sync(bd, buf, 0, sizeof(buf), 0), 0);
	assert_int_equal(bdev_fault_parse("fail=ENOSPC,type=write,count=1", &r,
					  err, sizeof(err)),
			 0);
	bdev_fault_set(bd, &r);
	assert_int_equal(bdev_write_sync(bd, buf, 4096, sizeof(buf), 0),
			 -ENOSPC);
	/* count=1: the next write goes through, and reads never failed. */
	assert_int_equal(bdev_write_sync(bd, buf, 4096, sizeof(buf), 0), 0);
	assert_int_equal(bdev_read_sync(bd, buf, 0, sizeof(buf)), 0);
	assert_int_equal(bdev_fault_hits(bd), 1);
	bdev_release(bd);

	/* A bad inner spec is reported, not wrapped. */
	assert_null(bdev_create_spec("f1", "fault:floppy:1", err,
				     sizeof(err)));
	assert_true(err[0] != '\0');
	bd = bdev_create_spec("m0", "mem:1M", err, sizeof(err));
	assert_non_null(bd);
	assert_false(bdev_is_fault(bd));
	bdev_release(bd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_parse),
		cmocka_unit_test(test_fault_spec_disk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
