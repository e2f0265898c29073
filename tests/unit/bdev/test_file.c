/*
 * Unit tests of the file backend, on real files in a temporary directory:
 * creation and extension with size=, read-after-write with scattered iovs,
 * short reads past the end, O_DIRECT with unaligned buffers (bounced),
 * discard and block status through holes, write-zeroes flags, flush/FUA,
 * read-only rejections, bad specs, and -- when we may set up a loop device
 * -- the block-device path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bdev_test.h"

static char tmpdir[256];

static int dir_setup(void **state)
{
	(void)state;
	return bdev_test_mkdtemp(tmpdir, sizeof(tmpdir), "bdev");
}

static int dir_teardown(void **state)
{
	char cmd[400];

	(void)state;
	bdev_pool_shutdown();
	/* A failed block-device test may have left its loop device. */
	if (geteuid() == 0) {
		snprintf(cmd, sizeof(cmd), "losetup -j '%s/loopback' "
			 "2>/dev/null | cut -d: -f1 | xargs -r losetup -d",
			 tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return bdev_test_rmdir(tmpdir);
}

static void tpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static struct bdev *mkfile(const char *name, uint64_t size, bool direct)
{
	return bdev_test_mkfile(tmpdir, name, size, direct);
}

static uint64_t file_blocks(const char *name)
{
	char p[300];
	struct stat st;

	tpath(p, sizeof(p), name);
	if (stat(p, &st) != 0)
		return UINT64_MAX;
	return (uint64_t)st.st_blocks * 512;
}

static void test_file_rw(void **state)
{
	const uint64_t size = 8u << 20;
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("rw", size, false);
	const struct bdev_geometry *g = bdev_geometry(bd);
	uint8_t *ref = calloc(1, size), *buf = malloc(size);
	static const struct {
		uint64_t off, len;
	} w[] = {
		{ 0, 512 },
		{ 65536 - 512, 1024 },
		{ 3 * 65536, 3 * 65536 },
		{ 5 * 65536 + 512, 200 * 512 },
		{ (8u << 20) - 512, 512 },
		{ 1 << 20, 4 << 20 },
	};
	char desc[300];
	struct tio t;

	(void)state;
	assert_int_equal(g->size, size);
	assert_int_equal(g->lbsize, 512);
	assert_true(g->volatile_cache);
	assert_int_equal(g->max_xfer, 4u << 20);
	assert_int_equal(g->opt_xfer, 128u << 10);
	assert_string_equal(bdev_backend(bd), "file");
	bdev_describe(bd, desc, sizeof(desc));
	assert_non_null(strstr(desc, "/rw"));

	/* Never written: zeroes. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 1 << 20, buf, 0), 0);
	assert_true(all_zero(buf, 1 << 20));
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		pat_fill(ref + w[i].off, w[i].off, (size_t)w[i].len,
			 (unsigned)i + 1);
		memcpy(buf, ref + w[i].off, (size_t)w[i].len);
		assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, w[i].off,
					w[i].len, buf, 0), 0);
	}
	/* A write through many small odd pieces. */
	pat_fill(ref + 6 * 65536, 6 * 65536, 8192, 77);
	memcpy(buf, ref + 6 * 65536, 8192);
	tio_init(&t, loop, BDEV_IO_WRITE, 6 * 65536, 8192, NULL, 0);
	t.v[0] = (struct iovec){ buf, 1 };
	t.v[1] = (struct iovec){ buf + 1, 0 };
	t.v[2] = (struct iovec){ buf + 1, 4000 };
	t.v[3] = (struct iovec){ buf + 4001, 4191 };
	t.io.iov = t.v;
	t.io.iovcnt = 4;
	assert_int_equal(tio_run(loop, bd, &t), 0);

	for (uint64_t off = 0; off < size; off += 1u << 20) {
		memset(buf, 0x5A, 1u << 20);
		assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, off, 1u << 20,
					buf, 0), 0);
		if (memcmp(buf, ref + off, 1u << 20) != 0)
			fail_msg("mismatch in MiB at %llu",
				 (unsigned long long)off);
	}
	free(ref);
	free(buf);
	assert_int_equal(bdev_refs(bd), 1);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_file_short_read(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("short", 1 << 20, false);
	static uint8_t buf[65536];
	char p[300];

	(void)state;
	memset(buf, 0x33, sizeof(buf));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 512 * 1024 - 32768,
				65536, buf, 0), 0);
	/* The file shrinks under the bdev: past its end we read zeroes. */
	tpath(p, sizeof(p), "short");
	assert_int_equal(truncate(p, 512 * 1024), 0);
	memset(buf, 0xEE, sizeof(buf));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 512 * 1024 - 32768,
				65536, buf, 0), 0);
	for (int i = 0; i < 32768; i++)
		assert_int_equal(buf[i], 0x33);
	assert_true(all_zero(buf + 32768, 32768));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 768 * 1024, 65536, buf,
				0), 0);
	assert_true(all_zero(buf, sizeof(buf)));
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_file_direct(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("direct", 4 << 20, true);
	const struct bdev_geometry *g = bdev_geometry(bd);
	uint8_t *raw = malloc((1 << 20) + 4096);
	uint8_t *un = raw + 1; /* deliberately misaligned */
	uint8_t *al = NULL;
	uint8_t *chk = malloc(1 << 20);
	char p[300];
	int fd;
	struct tio t;

	(void)state;
	assert_int_equal(posix_memalign((void **)&al, 4096, 1 << 20), 0);
	assert_true(g->lbsize >= 512);
	/* Aligned buffer: straight through. */
	pat_fill(al, 0, 65536, 1);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, 65536, al, 0), 0);
	/* Misaligned buffer: bounced, both ways. */
	pat_fill(un, 1 << 20, 1 << 20, 2);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 1 << 20, 1 << 20, un,
				BDEV_IO_FUA), 0);
	memset(un, 0, 1 << 20);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 1 << 20, 1 << 20, un,
				0), 0);
	assert_int_equal(pat_check(un, 1 << 20, 1 << 20, 2), -1);
	/* A scattered, misaligned iov whose pieces are not block sized. */
	pat_fill(un, 2 << 20, 8192, 3);
	tio_init(&t, loop, BDEV_IO_WRITE, 2 << 20, 8192, NULL, 0);
	t.v[0] = (struct iovec){ un, 700 };
	t.v[1] = (struct iovec){ un + 700, 7492 };
	t.io.iov = t.v;
	t.io.iovcnt = 2;
	assert_int_equal(tio_run(loop, bd, &t), 0);

	/* Check what reached the file through an ordinary descriptor. */
	tpath(p, sizeof(p), "direct");
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, chk, 65536, 0), 65536);
	assert_int_equal(pat_check(chk, 0, 65536, 1), -1);
	assert_int_equal(pread(fd, chk, 1 << 20, 1 << 20), 1 << 20);
	assert_int_equal(pat_check(chk, 1 << 20, 1 << 20, 2), -1);
	assert_int_equal(pread(fd, chk, 8192, 2 << 20), 8192);
	assert_int_equal(pat_check(chk, 2 << 20, 8192, 3), -1);
	close(fd);
	/* Aligned read back. */
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 65536, al, 0), 0);
	assert_int_equal(pat_check(al, 0, 65536, 1), -1);
	free(raw);
	free(al);
	free(chk);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_file_discard_status(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("holes", 4 << 20, false);
	static uint8_t buf[1 << 20];
	enum bdev_alloc_state s;
	uint64_t run, before;

	(void)state;
	if (!bdev_geometry(bd)->can_discard) {
		bdev_release(bd);
		ev_loop_destroy(loop);
		skip();
	}
	assert_true(bdev_geometry(bd)->discard_zeroes);
	/* A new file is one big hole. */
	assert_int_equal(bdev_block_status(bd, 0, 4 << 20, &s, &run), 0);
	assert_int_equal(s, BDEV_DEALLOCATED);
	assert_int_equal(run, 4 << 20);

	pat_fill(buf, 0, sizeof(buf), 4);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, sizeof(buf), buf,
				0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	before = file_blocks("holes");
	assert_true(before >= 1 << 20);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 256 * 1024,
				256 * 1024, NULL, 0), 0);
	assert_true(file_blocks("holes") <= before - 256 * 1024);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, sizeof(buf), buf, 0),
			 0);
	assert_int_equal(pat_check(buf, 0, 256 * 1024, 4), -1);
	assert_true(all_zero(buf + 256 * 1024, 256 * 1024));
	assert_int_equal(pat_check(buf + 512 * 1024, 512 * 1024, 512 * 1024,
				   4), -1);

	assert_int_equal(bdev_block_status(bd, 0, 4 << 20, &s, &run), 0);
	assert_int_equal(s, BDEV_MAPPED);
	assert_int_equal(run, 256 * 1024);
	assert_int_equal(bdev_block_status(bd, 256 * 1024, 4 << 20, &s, &run),
			 0);
	assert_int_equal(s, BDEV_DEALLOCATED);
	assert_int_equal(run, 256 * 1024);
	assert_int_equal(bdev_block_status(bd, 512 * 1024, 4096, &s, &run), 0);
	assert_int_equal(s, BDEV_MAPPED);
	assert_int_equal(run, 4096);
	assert_int_equal(bdev_block_status(bd, 1 << 20, 4 << 20, &s, &run), 0);
	assert_int_equal(s, BDEV_DEALLOCATED);
	assert_int_equal(run, 3 << 20);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_file_write_zeroes(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("wz", 4 << 20, false);
	static uint8_t buf[1 << 20];
	static const uint32_t flags[] = {
		0, BDEV_IO_NO_UNMAP, BDEV_IO_FAST_ZERO,
		BDEV_IO_NO_UNMAP | BDEV_IO_FAST_ZERO | BDEV_IO_FUA,
	};

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		uint64_t off = (uint64_t)i << 20;

		pat_fill(buf, off, sizeof(buf), 5);
		assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, off,
					sizeof(buf), buf, 0), 0);
		assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES,
					off + 4096, 512 * 1024 + 512, NULL,
					flags[i]), 0);
		memset(buf, 0xCC, sizeof(buf));
		assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, off,
					sizeof(buf), buf, 0), 0);
		assert_int_equal(pat_check(buf, off, 4096, 5), -1);
		assert_true(all_zero(buf + 4096, 512 * 1024 + 512));
		assert_int_equal(pat_check(buf + 4096 + 512 * 1024 + 512,
					   off + 4096 + 512 * 1024 + 512,
					   sizeof(buf) - 4096 - 512 * 1024 -
						   512, 5), -1);
	}
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_file_flush_fua(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("fua", 1 << 20, false);
	static uint8_t w[65536], r[65536];

	(void)state;
	pat_fill(w, 0, sizeof(w), 6);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, sizeof(w), w,
				BDEV_IO_FUA), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, sizeof(r), r, 0), 0);
	assert_memory_equal(w, r, sizeof(r));
	assert_int_equal(bdev_write_sync(bd, w, 65536, 4096, BDEV_IO_FUA), 0);
	bdev_release(bd);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

static void test_file_readonly_and_errors(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	struct bdev *bd = mkfile("ro", 1 << 20, false);
	struct bdev_file_opts o = { .read_only = true };
	static uint8_t buf[4096];
	char p[300], spec[400], err[200];
	int fd;

	(void)state;
	memset(buf, 0x71, sizeof(buf));
	assert_int_equal(bdev_write_sync(bd, buf, 0, sizeof(buf), 0), 0);
	bdev_release(bd);

	tpath(p, sizeof(p), "ro");
	bd = bdev_file_create("ro", p, &o, err, sizeof(err));
	assert_non_null(bd);
	assert_true(bdev_geometry(bd)->read_only);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 0, 4096, buf, 0),
			 -EROFS);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 0, 4096, NULL, 0),
			 -EROFS);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 0, 4096, NULL,
				0), -EROFS);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 0, 4096, buf, 0), 0);
	assert_int_equal(buf[4095], 0x71);
	bdev_release(bd);

	/* Through the spec parser: ro, size, bs. */
	snprintf(spec, sizeof(spec), "file:%s,ro", p);
	bd = bdev_create_spec("ro2", spec, err, sizeof(err));
	assert_non_null(bd);
	assert_true(bdev_geometry(bd)->read_only);
	bdev_release(bd);
	snprintf(spec, sizeof(spec), "file:%s/new,size=2M,bs=4096", tmpdir);
	bd = bdev_create_spec("new", spec, err, sizeof(err));
	assert_non_null(bd);
	assert_int_equal(bdev_geometry(bd)->size, 2 << 20);
	assert_int_equal(bdev_geometry(bd)->lbsize, 4096);
	bdev_release(bd);
	/* A size= below the file's exports the beginning and keeps the
	 * rest of the file. */
	snprintf(spec, sizeof(spec), "file:%s/new,size=1M", tmpdir);
	bd = bdev_create_spec("new", spec, err, sizeof(err));
	assert_non_null(bd);
	assert_int_equal(bdev_geometry(bd)->size, 1 << 20);
	bdev_release(bd);
	snprintf(spec, sizeof(spec), "file:%s/new,direct,size=3M", tmpdir);
	bd = bdev_create_spec("new", spec, err, sizeof(err));
	assert_non_null(bd);
	assert_int_equal(bdev_geometry(bd)->size, 3 << 20);
	bdev_release(bd);

	/* Refusals, each with a one-line reason. */
	{
		char bad[8][400];
		int n = 0;

		snprintf(bad[n++], 400, "file:%s/absent", tmpdir);
		snprintf(bad[n++], 400, "file:%s/absent,ro,size=1M", tmpdir);
		snprintf(bad[n++], 400, "file:%s", tmpdir);
		snprintf(bad[n++], 400, "file:%s/empty", tmpdir);
		snprintf(bad[n++], 400, "file:%s/new,size=1000", tmpdir);
		snprintf(bad[n++], 400, "file:%s/new,bs=1000", tmpdir);
		snprintf(bad[n++], 400, "file:%s/ro,ro,size=2M", tmpdir);
		snprintf(bad[n++], 400, "file:/dev/null");
		tpath(p, sizeof(p), "empty");
		fd = open(p, O_CREAT | O_WRONLY, 0644);
		assert_true(fd >= 0);
		close(fd);
		for (int i = 0; i < n; i++) {
			err[0] = '\0';
			bd = bdev_create_spec("x", bad[i], err, sizeof(err));
			if (bd != NULL)
				fail_msg("'%s' accepted", bad[i]);
			if (err[0] == '\0' || strchr(err, '\n'))
				fail_msg("'%s': bad message '%s'", bad[i], err);
		}
	}
	assert_null(bdev_file_create("x", NULL, NULL, NULL, 0));
	assert_null(bdev_file_create("x", "", NULL, err, sizeof(err)));
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

/* Run a shell command, capturing the first line of its output. */
static int run_line(const char *cmd, char *out, size_t len)
{
	FILE *fp = popen(cmd, "r");
	int rc;

	if (fp == NULL)
		return -1;
	if (out != NULL && (fgets(out, (int)len, fp) == NULL))
		out[0] = '\0';
	rc = pclose(fp);
	if (out != NULL)
		out[strcspn(out, "\n")] = '\0';
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* The block-device path, on a loop device over a file.  Needs root and
 * losetup; skipped otherwise. */
static void test_file_blockdev(void **state)
{
	struct ev_loop *loop = ev_loop_create();
	char p[300], cmd[400], dev[64], err[200];
	static uint8_t w[65536], r[65536];
	const struct bdev_geometry *g;
	struct bdev_file_opts o = { 0 };
	struct bdev *bd, *back;
	int rc;

	(void)state;
	back = mkfile("loopback", 8 << 20, false);
	bdev_release(back);
	tpath(p, sizeof(p), "loopback");
	snprintf(cmd, sizeof(cmd), "losetup -f --show '%s' 2>/dev/null", p);
	if (geteuid() != 0 || run_line(cmd, dev, sizeof(dev)) != 0 ||
	    strncmp(dev, "/dev/loop", 9) != 0) {
		ev_loop_destroy(loop);
		skip();
	}
	bd = bdev_file_create("blk", dev, &o, err, sizeof(err));
	if (bd == NULL) {
		snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
		run_line(cmd, NULL, 0);
		fail_msg("%s", err);
	}
	/* A writable device is opened exclusively: not twice. */
	assert_null(bdev_file_create("blk2", dev, &o, err, sizeof(err)));
	assert_non_null(strstr(err, "in use"));
	g = bdev_geometry(bd);
	assert_int_equal(g->size, 8 << 20);
	assert_int_equal(g->lbsize, 512);
	assert_false(g->discard_zeroes);

	pat_fill(w, 65536, sizeof(w), 8);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE, 65536, sizeof(w), w,
				BDEV_IO_FUA), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_FLUSH, 0, 0, NULL, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 65536, sizeof(r), r, 0),
			 0);
	assert_memory_equal(w, r, sizeof(r));
	assert_int_equal(tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 65536, 4096,
				NULL, 0), 0);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 65536, 8192, r, 0), 0);
	assert_true(all_zero(r, 4096));
	assert_memory_equal(r + 4096, w + 4096, 4096);
	if (g->can_discard)
		assert_int_equal(tio_do(loop, bd, BDEV_IO_DISCARD, 0, 65536,
					NULL, 0), 0);
	/* FAST_ZERO: either done cheaply or refused, never slow. */
	rc = tio_do(loop, bd, BDEV_IO_WRITE_ZEROES, 0, 65536, NULL,
		    BDEV_IO_FAST_ZERO);
	assert_true(rc == 0 || rc == -ENOTSUP);
	bdev_release(bd);

	/* Direct on the device. */
	o.direct = true;
	bd = bdev_file_create("blk", dev, &o, err, sizeof(err));
	assert_non_null(bd);
	assert_int_equal(tio_do(loop, bd, BDEV_IO_READ, 65536 + 4096, 4096,
				r + 1, 0), 0);
	assert_memory_equal(r + 1, w + 4096, 4096);
	bdev_release(bd);

	snprintf(cmd, sizeof(cmd), "losetup -d %s 2>&1", dev);
	rc = run_line(cmd, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: %s", cmd, err);
	ev_loop_destroy(loop);
	assert_no_bdev_leak();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_rw),
		cmocka_unit_test(test_file_short_read),
		cmocka_unit_test(test_file_direct),
		cmocka_unit_test(test_file_discard_status),
		cmocka_unit_test(test_file_write_zeroes),
		cmocka_unit_test(test_file_flush_fua),
		cmocka_unit_test(test_file_readonly_and_errors),
		cmocka_unit_test(test_file_blockdev),
	};

	int failed;

	/* Every test once per engine: they must not differ in anything a
	 * caller can see. */
	bdev_test_engine = BDEV_FILE_ENGINE_POOL;
	failed = cmocka_run_group_tests_name("engine=pool", tests, dir_setup,
					     dir_teardown);
#ifdef SK_HAVE_LIBURING
	bdev_test_engine = BDEV_FILE_ENGINE_URING;
	failed += cmocka_run_group_tests_name("engine=uring", tests, dir_setup,
					      dir_teardown);
#endif
	return failed;
}
