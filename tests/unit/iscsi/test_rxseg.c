/*
 * Unit tests for the in-place receive of a data segment (iscsi/rxseg.c):
 * a segment with its padding and data digest arriving in pieces of every
 * size -- some already buffered, the rest through the iovecs, reads that
 * stop anywhere, and a read that runs into the next PDU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/crc32c.h>

#include "iscsi/pdu.h"
#include "iscsi/rxseg.h"

#define SEG 13			/* 3 bytes of padding */
#define PAD 3

/* The wire bytes of the segment: data, padding, digest, then junk that
 * belongs to the next PDU. */
static size_t make_wire(uint8_t *w, bool digest)
{
	size_t n = 0;

	for (int i = 0; i < SEG; i++)
		w[n++] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < PAD; i++)
		w[n++] = 0;
	if (digest) {
		iscsi_digest_put(w + n, sk_crc32c(0, w, SEG + PAD));
		n += ISCSI_DIGEST_LEN;
	}
	for (int i = 0; i < 8; i++)
		w[n + i] = 0xee;
	return n;
}

/* Deliver the wire through readv-like copies into the iovecs, at most
 * step bytes a read, after pre bytes fed from the receive buffer. */
static void run(bool digest, size_t pre, size_t step)
{
	uint8_t wire[64], dst[SEG + 5];
	size_t len = make_wire(wire, digest), pos;
	struct iscsi_rxseg s;

	memset(dst, 0x55, sizeof(dst));
	iscsi_rxseg_init(&s, dst, SEG, PAD, digest);
	/* Fed bytes beyond the segment are not taken. */
	pos = iscsi_rxseg_feed(&s, wire, pre);
	assert_int_equal(pos, pre < len ? pre : len);
	while (!iscsi_rxseg_done(&s)) {
		struct iovec v[2];
		int nv = iscsi_rxseg_iov(&s, v);
		size_t room = 0, got, took;

		assert_true(nv >= 1 && nv <= 2);
		for (int i = 0; i < nv; i++)
			room += v[i].iov_len;
		assert_int_equal(room, len - pos);
		/* A short read of up to step bytes, plus (when it fills the
		 * iovecs) 8 bytes of the next PDU into a following buffer. */
		got = step < room ? step : room;
		for (size_t k = 0, i = 0, o = 0; k < got; k++) {
			((uint8_t *)v[i].iov_base)[o++] = wire[pos + k];
			if (o == v[i].iov_len) {
				i++;
				o = 0;
			}
		}
		took = iscsi_rxseg_advance(&s, got == room ? got + 8 : got);
		assert_int_equal(took, got);
		pos += got;
	}
	assert_int_equal(pos, len);
	assert_int_equal(iscsi_rxseg_iov(&s, (struct iovec[2]){ 0 }), 0);
	assert_memory_equal(dst, wire, SEG);
	/* Nothing written past the segment (the pad goes to the tail). */
	for (size_t i = SEG; i < sizeof(dst); i++)
		assert_int_equal(dst[i], 0x55);
	assert_true(iscsi_rxseg_digest_ok(&s, digest));
}

static void test_every_split(void **state)
{
	(void)state;
	for (int d = 0; d < 2; d++)
		for (size_t pre = 0; pre <= SEG + PAD + 4 + 2; pre++)
			for (size_t step = 1; step <= 24; step++)
				run(d, pre, step);
}

static void test_digest_mismatch(void **state)
{
	uint8_t wire[64], dst[SEG];
	size_t len = make_wire(wire, true);
	struct iscsi_rxseg s;

	(void)state;
	/* A flipped data byte, then a flipped digest byte. */
	for (int which = 0; which < 2; which++) {
		uint8_t w[64];

		memcpy(w, wire, sizeof(w));
		w[which ? len - 1 : 5] ^= 1;
		iscsi_rxseg_init(&s, dst, SEG, PAD, true);
		assert_int_equal(iscsi_rxseg_feed(&s, w, len + 8), len);
		assert_true(iscsi_rxseg_done(&s));
		assert_false(iscsi_rxseg_digest_ok(&s, true));
	}
}

static void test_no_tail(void **state)
{
	uint8_t dst[8], src[8] = "abcdefgh";
	struct iscsi_rxseg s;
	struct iovec v[2];

	(void)state;
	/* A 4-aligned segment without digest has no tail at all. */
	iscsi_rxseg_init(&s, dst, 8, 0, false);
	assert_int_equal(iscsi_rxseg_feed(&s, src, 3), 3);
	assert_int_equal(iscsi_rxseg_iov(&s, v), 1);
	assert_ptr_equal(v[0].iov_base, dst + 3);
	assert_int_equal(v[0].iov_len, 5);
	memcpy(dst + 3, src + 3, 5);
	assert_int_equal(iscsi_rxseg_advance(&s, 100), 5);
	assert_true(iscsi_rxseg_done(&s));
	assert_memory_equal(dst, src, 8);
	assert_true(iscsi_rxseg_digest_ok(&s, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_digest_mismatch),
		cmocka_unit_test(test_no_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
