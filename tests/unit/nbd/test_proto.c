/*
 * Unit tests of the NBD wire helpers (src/nbd/proto.c): request parsing,
 * the request checks against an export, errno mapping, block sizes and
 * transmission flags from a geometry, and the reply builders.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/bdev.h>

#include "nbd/proto.h"

static size_t mkreq(uint8_t *p, uint16_t flags, uint16_t type,
		    uint64_t cookie, uint64_t off, uint32_t len)
{
	nbd_put32(p, NBD_MAGIC_REQUEST);
	nbd_put16(p + 4, flags);
	nbd_put16(p + 6, type);
	nbd_put64(p + 8, cookie);
	nbd_put64(p + 16, off);
	nbd_put32(p + 24, len);
	return NBD_REQUEST_LEN;
}

static void test_parse(void **state)
{
	uint8_t b[64];
	struct nbd_request r;
	size_t i;

	(void)state;
	mkreq(b, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 0x1122334455667788ull,
	      4096, 512);
	/* Every prefix is "need more". */
	for (i = 0; i < NBD_REQUEST_LEN; i++)
		assert_int_equal(nbd_request_parse(b, i, &r), 0);
	assert_int_equal(nbd_request_parse(b, NBD_REQUEST_LEN, &r),
			 NBD_REQUEST_LEN);
	assert_int_equal(r.flags, NBD_CMD_FLAG_FUA);
	assert_int_equal(r.type, NBD_CMD_WRITE);
	assert_true(r.cookie == 0x1122334455667788ull);
	assert_int_equal(r.offset, 4096);
	assert_int_equal(r.length, 512);
	b[0] ^= 1;
	assert_int_equal(nbd_request_parse(b, NBD_REQUEST_LEN, &r), -EPROTO);
}

static struct nbd_export_limits lim_rw(void)
{
	struct nbd_export_limits l = {
		.size = 1 << 20,
		.min_block = 512,
		.max_block = 65536,
		.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
			  NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
			  NBD_FLAG_SEND_WRITE_ZEROES |
			  NBD_FLAG_SEND_FAST_ZERO | NBD_FLAG_SEND_CACHE |
			  NBD_FLAG_SEND_DF,
		.structured = true,
		.meta_alloc = true,
	};
	return l;
}

static uint32_t check(const struct nbd_export_limits *l, uint16_t flags,
		      uint16_t type, uint64_t off, uint32_t len)
{
	struct nbd_request r = {flags, type, 1, off, len};

	return nbd_request_check(&r, l);
}

static void test_check(void **state)
{
	struct nbd_export_limits l = lim_rw();

	(void)state;
	assert_int_equal(check(&l, 0, NBD_CMD_READ, 0, 4096), 0);
	assert_int_equal(check(&l, NBD_CMD_FLAG_DF, NBD_CMD_READ, 0, 4096), 0);
	assert_int_equal(check(&l, 0, NBD_CMD_READ, 1, 4096), NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_READ, 0, 4095), NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_READ, 0, 131072), NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_READ, (1 << 20) - 512, 1024),
			 NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_READ, UINT64_MAX - 511, 1024),
			 NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_WRITE, (1 << 20) - 512, 1024),
			 NBD_ENOSPC);
	assert_int_equal(check(&l, NBD_CMD_FLAG_FUA, NBD_CMD_WRITE, 0, 512),
			 0);
	assert_int_equal(check(&l, NBD_CMD_FLAG_DF, NBD_CMD_WRITE, 0, 512),
			 NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_FLUSH, 0, 0), 0);
	assert_int_equal(check(&l, 0, NBD_CMD_FLUSH, 0, 512), NBD_EINVAL);
	/* TRIM and WRITE_ZEROES are not bounded by the maximum block. */
	assert_int_equal(check(&l, 0, NBD_CMD_TRIM, 0, 1 << 20), 0);
	assert_int_equal(check(&l,
			       NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO,
			       NBD_CMD_WRITE_ZEROES, 0, 1 << 20),
			 0);
	assert_int_equal(check(&l, 0, NBD_CMD_WRITE_ZEROES, 512, 1 << 20),
			 NBD_ENOSPC);
	assert_int_equal(check(&l, NBD_CMD_FLAG_REQ_ONE, NBD_CMD_BLOCK_STATUS,
			       0, 4096),
			 0);
	assert_int_equal(check(&l, 0, NBD_CMD_BLOCK_STATUS, 0, 0), NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_CACHE, 0, 4096), 0);
	assert_int_equal(check(&l, 0, 8, 0, 0), NBD_EINVAL);
	assert_int_equal(check(&l, 0, 0xffff, 0, 0), NBD_EINVAL);
	assert_int_equal(check(&l, 0x8000, NBD_CMD_READ, 0, 512), NBD_EINVAL);

	/* Without negotiation: no DF, no block status. */
	l.tflags &= (uint16_t)~NBD_FLAG_SEND_DF;
	l.meta_alloc = false;
	assert_int_equal(check(&l, NBD_CMD_FLAG_DF, NBD_CMD_READ, 0, 512),
			 NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_BLOCK_STATUS, 0, 512),
			 NBD_EINVAL);

	/* Read-only export. */
	l = lim_rw();
	l.tflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_READ_ONLY;
	assert_int_equal(check(&l, 0, NBD_CMD_WRITE, 0, 512), NBD_EPERM);
	assert_int_equal(check(&l, 0, NBD_CMD_TRIM, 0, 512), NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_FLUSH, 0, 0), NBD_EINVAL);
	assert_int_equal(check(&l, NBD_CMD_FLAG_FUA, NBD_CMD_READ, 0, 512),
			 NBD_EINVAL);
	assert_int_equal(check(&l, 0, NBD_CMD_READ, 0, 512), 0);
}

static void test_errno(void **state)
{
	(void)state;
	assert_int_equal(nbd_errno_to_wire(0), 0);
	assert_int_equal(nbd_errno_to_wire(-EIO), NBD_EIO);
	assert_int_equal(nbd_errno_to_wire(-EROFS), NBD_EPERM);
	assert_int_equal(nbd_errno_to_wire(-EDQUOT), NBD_ENOSPC);
	assert_int_equal(nbd_errno_to_wire(-ERANGE), NBD_EINVAL);
	assert_int_equal(nbd_errno_to_wire(-ENOTSUP), NBD_ENOTSUP);
	assert_int_equal(nbd_errno_to_wire(-ETIMEDOUT), NBD_EIO);
}

static void test_geometry(void **state)
{
	struct bdev_geometry g = {
		.size = 1 << 30,
		.lbsize = 512,
		.pbsize = 4096,
		.max_xfer = 1 << 20,
		.can_discard = true,
		.can_write_zeroes = true,
		.multi_conn_safe = true,
	};
	struct nbd_block_sizes bs;
	uint16_t f;

	(void)state;
	nbd_block_sizes_from_geometry(&g, &bs);
	assert_int_equal(bs.min, 512);
	assert_int_equal(bs.pref, 4096);
	assert_int_equal(bs.max, 1 << 20);
	f = nbd_tflags_from_geometry(&g);
	assert_true(f & NBD_FLAG_HAS_FLAGS);
	assert_true(f & NBD_FLAG_SEND_TRIM);
	assert_true(f & NBD_FLAG_SEND_WRITE_ZEROES);
	assert_true(f & NBD_FLAG_SEND_FAST_ZERO);
	assert_true(f & NBD_FLAG_CAN_MULTI_CONN);
	assert_true(f & NBD_FLAG_SEND_FLUSH);
	assert_false(f & NBD_FLAG_READ_ONLY);
	assert_false(f & NBD_FLAG_SEND_DF);

	/* Odd values are brought into the protocol's rules. */
	g.lbsize = 3;
	g.pbsize = 0;
	g.max_xfer = 0;
	g.read_only = true;
	g.multi_conn_safe = false;
	nbd_block_sizes_from_geometry(&g, &bs);
	assert_int_equal(bs.min, 512);
	assert_int_equal(bs.pref, 4096);
	assert_int_equal(bs.max, NBD_MAX_BLOCK_DEFAULT);
	f = nbd_tflags_from_geometry(&g);
	assert_true(f & NBD_FLAG_READ_ONLY);
	assert_false(f & (NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
			  NBD_FLAG_SEND_FLUSH | NBD_FLAG_CAN_MULTI_CONN));
}

static void test_builders(void **state)
{
	uint8_t b[256];
	size_t n;

	(void)state;
	n = nbd_put_simple_reply(b, NBD_EIO, 42);
	assert_int_equal(n, 16);
	assert_true(nbd_get32(b) == NBD_MAGIC_SIMPLE_REPLY);
	assert_int_equal(nbd_get32(b + 4), NBD_EIO);
	assert_true(nbd_get64(b + 8) == 42);

	n = nbd_put_error_chunk(b, NBD_REPLY_FLAG_DONE, 7, NBD_EINVAL,
				"hello world", 5, true, 1024);
	assert_int_equal(n, 20 + 4 + 2 + 5 + 8);
	assert_true(nbd_get32(b) == NBD_MAGIC_STRUCTURED_REPLY);
	assert_int_equal(nbd_get16(b + 4), NBD_REPLY_FLAG_DONE);
	assert_int_equal(nbd_get16(b + 6), NBD_REPLY_TYPE_ERROR_OFFSET);
	assert_int_equal(nbd_get32(b + 16), 4 + 2 + 5 + 8);
	assert_int_equal(nbd_get32(b + 20), NBD_EINVAL);
	assert_int_equal(nbd_get16(b + 24), 5);
	assert_memory_equal(b + 26, "hello", 5);
	assert_true(nbd_get64(b + 31) == 1024);

	n = nbd_put_error_chunk(b, 0, 7, 0, NULL, 80, false, 0);
	assert_int_equal(n, 26);
	assert_int_equal(nbd_get16(b + 6), NBD_REPLY_TYPE_ERROR);
	assert_int_equal(nbd_get32(b + 20), NBD_EIO); /* never zero */

	n = nbd_put_opt_reply_hdr(b, NBD_OPT_GO, NBD_REP_ACK, 0);
	assert_int_equal(n, 20);
	assert_true(nbd_get64(b) == NBD_MAGIC_OPT_REPLY);
	assert_string_equal(nbd_cmd_name(NBD_CMD_BLOCK_STATUS),
			    "BLOCK_STATUS");
	assert_string_equal(nbd_opt_name(999), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_errno),
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_builders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
