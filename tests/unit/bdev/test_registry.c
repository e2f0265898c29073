/*
 * Unit tests of the disk registry: add/remove/lookup, insertion order,
 * references, listeners (including ones that call back into the registry
 * and ones that unlisten themselves), and clear.
 */
#include <errno.h>
#include <stdio.h>

#include "bdev_test.h"

struct ev_log {
	char text[512];
	int n;
};

static void log_cb(enum bdev_registry_event ev, struct bdev *bd, void *arg)
{
	struct ev_log *l = arg;
	size_t len = strlen(l->text);

	snprintf(l->text + len, sizeof(l->text) - len, "%s%s ",
		 ev == BDEV_REGISTRY_ADDED ? "+" : "-", bdev_name(bd));
	l->n++;
}

static void name_cb(struct bdev *bd, void *arg)
{
	struct ev_log *l = arg;
	size_t len = strlen(l->text);

	snprintf(l->text + len, sizeof(l->text) - len, "%s ", bdev_name(bd));
}

static void test_registry_basic(void **state)
{
	struct bdev *a = bdev_mem_create("a", 1 << 20, 512, false);
	struct bdev *b = bdev_mem_create("b", 1 << 20, 512, false);
	struct bdev *c = bdev_mem_create("c", 1 << 20, 512, false);
	struct bdev *a2 = bdev_mem_create("a", 1 << 20, 512, false);
	struct bdev *noname = bdev_mem_create("", 1 << 20, 512, false);
	struct ev_log names = { "", 0 };
	struct bdev *got;

	(void)state;
	assert_int_equal(bdev_registry_count(), 0);
	assert_int_equal(bdev_registry_add(c), 0);
	assert_int_equal(bdev_registry_add(a), 0);
	assert_int_equal(bdev_registry_add(b), 0);
	assert_int_equal(bdev_registry_add(a2), -EEXIST);
	assert_int_equal(bdev_registry_add(noname), -EINVAL);
	assert_int_equal(bdev_registry_add(NULL), -EINVAL);
	assert_int_equal(bdev_registry_count(), 3);
	assert_int_equal(bdev_refs(a), 2);
	assert_int_equal(bdev_refs(a2), 1);

	/* Insertion order, not name order. */
	bdev_registry_foreach(name_cb, &names);
	assert_string_equal(names.text, "c a b ");

	got = bdev_registry_get("b");
	assert_ptr_equal(got, b);
	assert_int_equal(bdev_refs(b), 3);
	bdev_release(got);
	assert_null(bdev_registry_get("zz"));
	assert_null(bdev_registry_get(NULL));

	assert_int_equal(bdev_registry_remove("a"), 0);
	assert_int_equal(bdev_registry_remove("a"), -ENOENT);
	assert_int_equal(bdev_registry_remove(NULL), -EINVAL);
	assert_int_equal(bdev_refs(a), 1);
	names.text[0] = '\0';
	bdev_registry_foreach(name_cb, &names);
	assert_string_equal(names.text, "c b ");

	/* The name is free again. */
	assert_int_equal(bdev_registry_add(a2), 0);
	bdev_registry_clear();
	assert_int_equal(bdev_registry_count(), 0);
	assert_int_equal(bdev_refs(a2), 1);
	assert_int_equal(bdev_refs(b), 1);
	assert_int_equal(bdev_refs(c), 1);

	bdev_release(a);
	bdev_release(b);
	bdev_release(c);
	bdev_release(a2);
	bdev_release(noname);
	assert_no_bdev_leak();
}

static void test_registry_listeners(void **state)
{
	struct ev_log l1 = { "", 0 }, l2 = { "", 0 };
	struct bdev *a = bdev_mem_create("a", 1 << 20, 512, false);
	struct bdev *b = bdev_mem_create("b", 1 << 20, 512, false);
	int h1, h2;

	(void)state;
	h1 = bdev_registry_listen(log_cb, &l1);
	assert_true(h1 > 0);
	assert_int_equal(bdev_registry_add(a), 0);
	h2 = bdev_registry_listen(log_cb, &l2);
	assert_true(h2 > 0 && h2 != h1);
	assert_int_equal(bdev_registry_add(b), 0);
	assert_int_equal(bdev_registry_add(b), -EEXIST); /* no event */
	assert_int_equal(bdev_registry_remove("a"), 0);
	bdev_registry_unlisten(h1);
	bdev_registry_clear();
	assert_string_equal(l1.text, "+a +b -a ");
	assert_string_equal(l2.text, "+b -a -b ");
	bdev_registry_unlisten(h2);
	bdev_registry_unlisten(h2); /* twice is harmless */
	bdev_registry_unlisten(-1);
	assert_true(bdev_registry_listen(NULL, NULL) < 0);
	bdev_release(a);
	bdev_release(b);
	assert_no_bdev_leak();
}

/* A listener that uses the registry from inside its callback. */
struct reentrant {
	int handle;
	int seen_count;
	bool got_it;
	int calls;
};

static void reentrant_cb(enum bdev_registry_event ev, struct bdev *bd,
			 void *arg)
{
	struct reentrant *r = arg;
	struct bdev *g = bdev_registry_get(bdev_name(bd));

	r->calls++;
	r->seen_count = (int)bdev_registry_count();
	/* On ADDED the disk is already findable; on REMOVED it is gone. */
	r->got_it = g != NULL;
	bdev_release(g);
	if (ev == BDEV_REGISTRY_REMOVED)
		bdev_registry_unlisten(r->handle);
}

static void test_registry_reentrant(void **state)
{
	struct reentrant r = { 0 };
	struct bdev *a = bdev_mem_create("a", 1 << 20, 512, false);

	(void)state;
	r.handle = bdev_registry_listen(reentrant_cb, &r);
	assert_int_equal(bdev_registry_add(a), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.seen_count, 1);
	assert_true(r.got_it);
	assert_int_equal(bdev_registry_remove("a"), 0);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.seen_count, 0);
	assert_false(r.got_it);
	/* It unlistened itself: no more calls. */
	assert_int_equal(bdev_registry_add(a), 0);
	assert_int_equal(r.calls, 2);
	bdev_registry_clear();

	/* The registry may hold the last reference. */
	assert_int_equal(bdev_registry_add(a), 0);
	bdev_release(a);
	assert_int_equal(bdev_live_count(), 1);
	bdev_registry_clear();
	assert_no_bdev_leak();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_basic),
		cmocka_unit_test(test_registry_listeners),
		cmocka_unit_test(test_registry_reentrant),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
