/*
 * The multipath bdev (src/cam/mpath.c) over fault-injection paths that
 * share one memory disk: failover on path errors (each I/O completes
 * once, with the data), no failover on the LU's own errors, failback once
 * a failed path answers its probe again, waiting and then failing when no
 * path is left; and the REPORT TARGET PORT GROUPS parser against good,
 * truncated and lying answers.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <scsikit/bdev.h>
#include <scsikit/cam.h>
#include <scsikit/evloop.h>
#include <scsikit/scsi.h>

/* ---- REPORT TARGET PORT GROUPS parsing ---- */

/* Two groups (1: AO, ports 1 and 2; 5: standby, port 7), length-only. */
static const uint8_t rtpg_two[] = {
	0, 0, 0, 28,
	0x80, 0x8f, 0, 1, 0, 2, 0, 2,  0, 0, 0, 1,  0, 0, 0, 2,
	0x02, 0x8f, 0, 5, 0, 0, 0, 1,  0, 0, 0, 7,
};

static void test_rtpg_parse(void **state)
{
	struct cam_rtpg_group g[4];
	uint8_t b[64];
	unsigned n;

	(void)state;
	assert_int_equal(cam_rtpg_parse(rtpg_two, sizeof(rtpg_two), g, 4, &n),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(g[0].id, 1);
	assert_int_equal(g[0].state, 0);
	assert_true(g[0].pref);
	assert_int_equal(g[0].nports, 2);
	assert_int_equal(g[1].id, 5);
	assert_int_equal(g[1].state, 2);
	/* Extended header: format 1, transition time, then the same. */
	memset(b, 0, sizeof(b));
	scsi_put32(b, 4 + 28);
	b[4] = 0x10;
	b[5] = 10;
	memcpy(b + 8, rtpg_two + 4, 28);
	assert_int_equal(cam_rtpg_parse(b, 8 + 28, g, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(g[1].id, 5);
	/* Truncated: the answer says more than we have. */
	assert_int_equal(cam_rtpg_parse(rtpg_two, sizeof(rtpg_two) - 1, g, 4,
					&n), -EINVAL);
	assert_int_equal(cam_rtpg_parse(rtpg_two, 3, g, 4, &n), -EINVAL);
	/* Lying: a port count that runs past the data. */
	memcpy(b, rtpg_two, sizeof(rtpg_two));
	b[4 + 7] = 9;
	assert_int_equal(cam_rtpg_parse(b, sizeof(rtpg_two), g, 4, &n),
			 -EINVAL);
	/* Lying: a return length that ends inside a descriptor. */
	memcpy(b, rtpg_two, sizeof(rtpg_two));
	b[3] = 30;
	memset(b + 32, 0, 8);
	assert_int_equal(cam_rtpg_parse(b, 40, g, 4, &n), -EINVAL);
	/* Huge return length: bounded by what was received. */
	memcpy(b, rtpg_two, sizeof(rtpg_two));
	scsi_put32(b, 0xfffffff0u);
	assert_int_equal(cam_rtpg_parse(b, sizeof(rtpg_two), g, 4, &n),
			 -EINVAL);
	/* More groups than room. */
	assert_int_equal(cam_rtpg_parse(rtpg_two, sizeof(rtpg_two), g, 1, &n),
			 -ENOSPC);
	/* No group at all is well-formed. */
	memset(b, 0, 4);
	assert_int_equal(cam_rtpg_parse(b, 4, g, 4, &n), 0);
	assert_int_equal(n, 0);
}

/* ---- the multipath bdev ---- */

struct env {
	struct ev_thread *th;
	struct ev_loop *loop;
	struct bdev *mem, *fa, *fb, *mp;
};

static void mp_start_cb(void *arg)
{
	assert_int_equal(cam_mpath_start(arg), 0);
}

static void mp_stop_cb(void *arg)
{
	cam_mpath_stop(arg);
}

static void env_up(struct env *e, enum cam_mpath_policy pol,
		   uint32_t nopath_ms)
{
	memset(e, 0, sizeof(*e));
	e->th = ev_thread_start();
	assert_non_null(e->th);
	e->loop = ev_thread_loop(e->th);
	e->mem = bdev_mem_create("m0", 1 << 20, 512, false);
	e->fa = bdev_fault_create("pa", e->mem);
	e->fb = bdev_fault_create("pb", e->mem);
	assert_non_null(e->fa);
	assert_non_null(e->fb);
	e->mp = cam_mpath_create("mp", e->fa, "a", 0, e->loop, pol,
				 nopath_ms);
	assert_non_null(e->mp);
	assert_int_equal(cam_mpath_add_path(e->mp, e->fb, "b", 1), 0);
	assert_true(cam_mpath_is(e->mp));
	assert_false(cam_mpath_is(e->mem));
	assert_int_equal(cam_sync_call(e->loop, mp_start_cb, e->mp), 0);
}

static void env_down(struct env *e)
{
	assert_int_equal(cam_sync_call(e->loop, mp_stop_cb, e->mp), 0);
	bdev_release(e->mp);
	bdev_release(e->fa);
	bdev_release(e->fb);
	bdev_release(e->mem);
	ev_thread_stop(e->th);
}

static void set_fail(struct bdev *f, int err)
{
	struct bdev_fault_rule r = { .action = BDEV_FAULT_FAIL, .err = err,
				     .count = -1 };

	bdev_fault_set(f, &r);
}

static unsigned paths(struct env *e, struct cam_mpath_path_info *pi)
{
	return cam_mpath_paths(e->mp, pi, CAM_MPATH_MAX_PATHS);
}

static void wait_healthy(struct env *e, unsigned i)
{
	struct cam_mpath_path_info pi[CAM_MPATH_MAX_PATHS];
	int t;

	for (t = 0; t < 200; t++) {
		paths(e, pi);
		if (!pi[i].failed)
			return;
		usleep(10000);
	}
	fail_msg("path %u did not come back", i);
}

static void test_mpath_failover(void **state)
{
	struct cam_mpath_path_info pi[CAM_MPATH_MAX_PATHS];
	uint8_t w[4096], r[4096];
	struct env e;
	struct bdev *small;

	(void)state;
	env_up(&e, CAM_MPATH_FAILOVER, 0);
	memset(w, 0x5a, sizeof(w));
	/* Healthy: the priority-0 path carries the I/O. */
	assert_int_equal(bdev_write_sync(e.mp, w, 0, 4096, 0), 0);
	assert_int_equal(paths(&e, pi), 2);
	assert_true(pi[0].ios >= 1);
	assert_int_equal(pi[1].ios, 0);
	/* Path a fails: the same I/O goes to b, once, and succeeds. */
	set_fail(e.fa, EIO);
	memset(w, 0xa5, sizeof(w));
	assert_int_equal(bdev_write_sync(e.mp, w, 4096, 4096, 0), 0);
	assert_int_equal(bdev_read_sync(e.mp, r, 4096, 4096), 0);
	assert_memory_equal(r, w, sizeof(w));
	paths(&e, pi);
	assert_true(pi[0].failed);
	assert_int_equal(pi[0].failovers, 1);
	assert_false(pi[1].failed);
	/* The LU's own answer is not a path failure. */
	set_fail(e.fb, EROFS);
	assert_int_equal(bdev_write_sync(e.mp, w, 0, 512, 0), -EROFS);
	paths(&e, pi);
	assert_false(pi[1].failed);
	bdev_fault_clear(e.fb);
	/* Failback: a's probe succeeds once its fault is gone. */
	bdev_fault_clear(e.fa);
	wait_healthy(&e, 0);
	paths(&e, pi);
	{
		uint64_t before = pi[0].ios;

		assert_int_equal(bdev_read_sync(e.mp, r, 0, 512), 0);
		paths(&e, pi);
		assert_true(pi[0].ios > before);
	}
	/* A path of another size is refused. */
	small = bdev_mem_create("m1", 1 << 19, 512, false);
	assert_int_equal(cam_mpath_add_path(e.mp, small, "c", 0), -EINVAL);
	bdev_release(small);
	env_down(&e);
}

static void test_mpath_no_path(void **state)
{
	struct cam_mpath_path_info pi[CAM_MPATH_MAX_PATHS];
	uint8_t w[512];
	struct env e;
	uint64_t t0;

	(void)state;
	env_up(&e, CAM_MPATH_ROUND_ROBIN, 300);
	memset(w, 1, sizeof(w));
	set_fail(e.fa, ENXIO);
	set_fail(e.fb, ETIMEDOUT);
	t0 = ev_now_ms();
	/* Both paths dead: the I/O waits for a path, then fails. */
	assert_int_equal(bdev_write_sync(e.mp, w, 0, 512, 0), -EIO);
	assert_true(ev_now_ms() - t0 >= 250);
	paths(&e, pi);
	assert_true(pi[0].failed && pi[1].failed);
	/* One comes back: waiting I/O would resume; new I/O flows. */
	bdev_fault_clear(e.fb);
	wait_healthy(&e, 1);
	assert_int_equal(bdev_write_sync(e.mp, w, 0, 512, 0), 0);
	bdev_fault_clear(e.fa);
	wait_healthy(&e, 0);
	env_down(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtpg_parse),
		cmocka_unit_test(test_mpath_failover),
		cmocka_unit_test(test_mpath_no_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
