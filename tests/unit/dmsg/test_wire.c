/*
 * DMSG wire layer: encode/decode round trips, the other byte order, and
 * every kind of bad input the decoder must refuse without reading out of
 * bounds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/crc32c.h>
#include <scsikit/dmsg.h>

#include "dmsg/dmsg_int.h"

static uint8_t buf[DMSG_EXT_MAX + DMSG_AUX_MAX + 128];
static struct dmsg_msg msg;

static long encode_rw(uint32_t cmd, const void *aux, size_t auxlen)
{
	struct dmsg_hdr h = { 0 };
	struct dmsg_blk_rw rw = { 0 };

	h.msgid = 0x1122334455667788ull;
	h.circuit = 42;
	h.cmd = cmd;
	rw.keyid = 7;
	rw.offset = 4096;
	rw.bytes = 512;
	return dmsg_encode(&h, &rw, sizeof(rw), aux, auxlen, buf, sizeof(buf));
}

static void test_crc_vector(void **state)
{
	/* The standard CRC32C check value: the function DMSG needs. */
	assert_int_equal(sk_crc32c(0, "123456789", 9), 0xE3069283u);
}

static void test_roundtrip(void **state)
{
	uint8_t aux[100];
	long n, used;
	size_t need;

	for (size_t i = 0; i < sizeof(aux); i++)
		aux[i] = (uint8_t)i;
	n = encode_rw(DMSG_BLK_WRITE | DMSGF_CREATE | DMSGF_DELETE, aux,
		      sizeof(aux));
	/* 64 + 32 -> 128 header, 100 -> 128 aux */
	assert_int_equal(n, 256);
	assert_int_equal(dmsg_wire_size(sizeof(struct dmsg_blk_rw), 100), 256);
	used = dmsg_decode(buf, (size_t)n, &msg, &need);
	assert_int_equal(used, n);
	assert_int_equal(msg.hdr.magic, DMSG_HDR_MAGIC);
	assert_int_equal(msg.hdr.cmd & DMSGF_SIZE, 2);
	assert_int_equal(msg.hdr.cmd & ~DMSGF_SIZE,
			 DMSG_BLK_WRITE | DMSGF_CREATE | DMSGF_DELETE);
	assert_true(msg.hdr.msgid == 0x1122334455667788ull);
	assert_int_equal(msg.hdr.circuit, 42);
	assert_int_equal(msg.body_len, 64);
	assert_int_equal(msg.body.blk_rw.keyid, 7);
	assert_int_equal(msg.body.blk_rw.offset, 4096);
	assert_int_equal(msg.body.blk_rw.bytes, 512);
	assert_int_equal(msg.aux_len, 100);
	assert_memory_equal(msg.aux, aux, 100);
	/* Padding is zero. */
	for (int i = 100; i < 128; i++)
		assert_int_equal(buf[128 + i], 0);

	/* Every shorter prefix asks for more. */
	for (long k = 0; k < n; k++)
		assert_int_equal(dmsg_decode(buf, (size_t)k, &msg, &need),
				 DMSG_DEC_NEED);
	assert_int_equal(need, 256);
}

static void test_bare_header(void **state)
{
	struct dmsg_hdr h = { 0 };
	long n;

	h.cmd = DMSG_LNK_PING;
	n = dmsg_encode(&h, NULL, 0, NULL, 0, buf, sizeof(buf));
	assert_int_equal(n, 64);
	assert_int_equal(dmsg_decode(buf, 64, &msg, NULL), 64);
	assert_int_equal(msg.hdr.cmd & DMSGF_BASECMDMASK, DMSG_LNK_PING);
	assert_null(msg.aux);
	assert_string_equal(dmsg_cmd_name(msg.hdr.cmd), "LNK_PING");
}

/* Turn a little-endian message into what a big-endian peer sends. */
static void make_foreign(size_t total)
{
	struct dmsg_hdr h;
	uint32_t ext;
	uint32_t crc;

	memcpy(&h, buf, sizeof(h));
	ext = (h.cmd & DMSGF_SIZE) * 64;
	dmsg_swap_body(h.cmd, buf + 64, ext - 64);
	h.magic = __builtin_bswap16(h.magic);
	h.salt = __builtin_bswap32(h.salt);
	h.msgid = __builtin_bswap64(h.msgid);
	h.circuit = __builtin_bswap64(h.circuit);
	h.cmd = __builtin_bswap32(h.cmd);
	h.aux_crc = __builtin_bswap32(h.aux_crc);
	h.aux_bytes = __builtin_bswap32(h.aux_bytes);
	h.error = __builtin_bswap32(h.error);
	h.hdr_crc = 0;
	memcpy(buf, &h, sizeof(h));
	crc = sk_crc32c(0, buf, ext);
	/* the foreign peer stores its CRC in its own order */
	crc = __builtin_bswap32(crc);
	memcpy(buf + offsetof(struct dmsg_hdr, hdr_crc), &crc, 4);
	(void)total;
}

static void test_foreign_byte_order(void **state)
{
	struct dmsg_hdr h = { 0 };
	struct dmsg_lnk_span sp = { 0 };
	long n;

	h.msgid = 5;
	h.cmd = DMSG_LNK_SPAN | DMSGF_CREATE;
	sp.peer_type = DMSG_PEER_BLOCK;
	sp.pfs_type = DMSG_PFSTYPE_SERVER;
	sp.media.block.bytes = 1ull << 33;
	sp.media.block.blksize = 4096;
	strcpy(sp.fs_label, "serial-1");
	n = dmsg_encode(&h, &sp, sizeof(sp), NULL, 0, buf, sizeof(buf));
	assert_int_equal(n, 448);
	make_foreign((size_t)n);
	assert_int_equal(buf[0], 0x48); /* big-endian 0x4832 */
	assert_int_equal(dmsg_decode(buf, (size_t)n, &msg, NULL), n);
	assert_int_equal(msg.hdr.msgid, 5);
	assert_int_equal(msg.hdr.cmd & ~DMSGF_SIZE,
			 DMSG_LNK_SPAN | DMSGF_CREATE);
	assert_true(msg.body.span.media.block.bytes == 1ull << 33);
	assert_int_equal(msg.body.span.media.block.blksize, 4096);
	assert_string_equal(msg.body.span.fs_label, "serial-1");
}

static void test_bad_magic(void **state)
{
	long n = encode_rw(DMSG_BLK_READ | DMSGF_CREATE, NULL, 0);

	buf[0] ^= 0x01;
	assert_int_equal(dmsg_decode(buf, (size_t)n, &msg, NULL), -EBADMSG);
}

static void test_bad_hdr_crc(void **state)
{
	long n = encode_rw(DMSG_BLK_READ | DMSGF_CREATE, NULL, 0);

	buf[64 + 9] ^= 0x80; /* a body byte */
	assert_int_equal(dmsg_decode(buf, (size_t)n, &msg, NULL), -EBADMSG);
	n = encode_rw(DMSG_BLK_READ | DMSGF_CREATE, NULL, 0);
	buf[offsetof(struct dmsg_hdr, hdr_crc)] ^= 1;
	assert_int_equal(dmsg_decode(buf, (size_t)n, &msg, NULL), -EBADMSG);
}

static void test_bad_aux_crc(void **state)
{
	uint8_t aux[512];
	long n;

	memset(aux, 0xab, sizeof(aux));
	n = encode_rw(DMSG_BLK_WRITE | DMSGF_CREATE, aux, sizeof(aux));
	buf[n - 1] ^= 0x10;
	assert_int_equal(dmsg_decode(buf, (size_t)n, &msg, NULL), -EBADMSG);
}

static void reseal(void)
{
	struct dmsg_hdr h;
	uint32_t ext, crc;

	memcpy(&h, buf, sizeof(h));
	ext = (h.cmd & DMSGF_SIZE) * 64;
	if (ext < 64 || ext > DMSG_EXT_MAX)
		ext = 64;
	h.hdr_crc = 0;
	memcpy(buf, &h, sizeof(h));
	crc = sk_crc32c(0, buf, ext);
	memcpy(buf + offsetof(struct dmsg_hdr, hdr_crc), &crc, 4);
}

static void test_sizes_beyond_limits(void **state)
{
	struct dmsg_hdr h;
	long n;

	/* size field 0 (shorter than a header) */
	n = encode_rw(DMSG_BLK_READ | DMSGF_CREATE, NULL, 0);
	memcpy(&h, buf, sizeof(h));
	h.cmd &= ~DMSGF_SIZE;
	memcpy(buf, &h, sizeof(h));
	reseal();
	assert_int_equal(dmsg_decode(buf, (size_t)n, &msg, NULL), -EMSGSIZE);

	/* size field 33 (2112 bytes > 2048) */
	n = encode_rw(DMSG_BLK_READ | DMSGF_CREATE, NULL, 0);
	memcpy(&h, buf, sizeof(h));
	h.cmd = (h.cmd & ~DMSGF_SIZE) | 33;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(dmsg_decode(buf, (size_t)n, &msg, NULL), -EMSGSIZE);

	/* aux beyond the limit: refused before waiting for it */
	n = encode_rw(DMSG_BLK_WRITE | DMSGF_CREATE, NULL, 0);
	memcpy(&h, buf, sizeof(h));
	h.aux_bytes = 0xFFFFFFF0u;
	memcpy(buf, &h, sizeof(h));
	reseal();
	assert_int_equal(dmsg_decode(buf, (size_t)n, &msg, NULL), -EMSGSIZE);

	/* the encoder refuses too */
	memset(&h, 0, sizeof(h));
	assert_int_equal(dmsg_encode(&h, buf, DMSG_BODY_MAX + 1, NULL, 0, buf,
				     sizeof(buf)),
			 -EMSGSIZE);
	assert_int_equal(dmsg_encode(&h, NULL, 0, NULL, 0, buf, 10), -ENOSPC);
}

static void test_out_of_band_aux(void **state)
{
	struct dmsg_hdr h;
	long n = encode_rw(DMSG_BLK_READ | DMSGF_CREATE | DMSGF_AUXOOB, NULL,
			   0);

	assert_int_equal(dmsg_decode(buf, (size_t)n, &msg, NULL), -EPROTO);
	n = encode_rw(DMSG_BLK_READ | DMSGF_CREATE, NULL, 0);
	memcpy(&h, buf, sizeof(h));
	h.aux_descr = 1;
	memcpy(buf, &h, sizeof(h));
	reseal();
	assert_int_equal(dmsg_decode(buf, (size_t)n, &msg, NULL), -EPROTO);
}

static void test_garbage_never_crashes(void **state)
{
	/* Random bytes and random single-bit flips of valid messages. */
	uint8_t aux[300];
	size_t need;

	srandom(1234);
	for (int round = 0; round < 20000; round++) {
		size_t len;
		long n;

		if (round & 1) {
			len = (size_t)(random() % 3000);
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)random();
			if (len >= 2 && (round & 2)) {
				buf[0] = 0x32;
				buf[1] = 0x48;
			}
		} else {
			memset(aux, round, sizeof(aux));
			n = encode_rw(DMSG_BLK_WRITE | DMSGF_CREATE, aux,
				      (size_t)(random() % 300));
			len = (size_t)n;
			buf[random() % len] ^= (uint8_t)(1u << (random() % 8));
		}
		n = dmsg_decode(buf, len, &msg, &need);
		assert_true(n <= (long)len);
		if (n > 0)
			assert_true(msg.aux_len <= DMSG_AUX_MAX);
	}
}

static void test_body_min_table(void **state)
{
	assert_int_equal(dmsg_body_min(DMSG_BLK_READ | DMSGF_CREATE), 32);
	assert_int_equal(dmsg_body_min(DMSG_LNK_SPAN), 368);
	assert_int_equal(dmsg_body_min(DMSG_LNK_CONN), 392);
	assert_int_equal(dmsg_body_min(DMSG_CMD(DMSG_PROTO_VOP, 7)), 0);
	assert_string_equal(dmsg_cmd_name(DMSG_CMD(DMSG_PROTO_VOP, 7)), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vector),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bare_header),
		cmocka_unit_test(test_foreign_byte_order),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_bad_hdr_crc),
		cmocka_unit_test(test_bad_aux_crc),
		cmocka_unit_test(test_sizes_beyond_limits),
		cmocka_unit_test(test_out_of_band_aux),
		cmocka_unit_test(test_garbage_never_crashes),
		cmocka_unit_test(test_body_min_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
