/*
 * CRC32C against a bit-at-a-time reference written from the definition
 * (reflected polynomial 0x82F63B78, initial and final inversion): both
 * implementations behind sk_crc32c(), on random data of random lengths
 * up to 70,000 bytes at every misalignment, whole and continued across
 * random cuts.  The instruction path runs three chains and combines them
 * above 384 bytes; the lengths cover each side of both block sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/crc32c.h>

#include "util/crc32c_int.h"

#define MAXLEN 70000
#define MAXOFF 64

static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t len)
{
	uint32_t c = ~crc;

	while (len--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
	}
	return ~c;
}

static uint8_t *random_buf(unsigned seed)
{
	uint8_t *buf = malloc(MAXLEN + MAXOFF);

	assert_non_null(buf);
	srand(seed);
	for (size_t i = 0; i < MAXLEN + MAXOFF; i++)
		buf[i] = (uint8_t)rand();
	return buf;
}

/* Lengths where the block arithmetic changes: around 3 x 128 and
 * 3 x 1360 and their multiples, and the 4 KiB an I/O's data takes. */
static const size_t edges[] = {
	0,    1,    7,    8,    9,    383,  384,	385,  391,  392,
	767,  768,  769,  4079, 4080, 4081, 4095, 4096, 4097, 4464,
	8159, 8160, 8161, 65536, 69999, 70000,
};

static void check_all(uint32_t (*fn)(uint32_t, const void *, size_t))
{
	uint8_t *buf = random_buf(17);

	for (size_t off = 0; off < MAXOFF; off++) {
		for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
			size_t len = edges[i];

			if (off + len > MAXLEN + MAXOFF)
				continue;
			assert_int_equal(fn(0, buf + off, len),
					 crc_ref(0, buf + off, len));
			assert_int_equal(fn(0x9a3b1c2du, buf + off, len),
					 crc_ref(0x9a3b1c2du, buf + off, len));
		}
	}
	/* Random lengths at random misalignments. */
	for (int n = 0; n < 400; n++) {
		size_t off = (size_t)rand() % MAXOFF;
		size_t len = (size_t)rand() % (MAXLEN + 1);
		uint32_t seed = (uint32_t)rand();

		assert_int_equal(fn(seed, buf + off, len),
				 crc_ref(seed, buf + off, len));
	}
	free(buf);
}

static void test_hw_matches_reference(void **state)
{
	(void)state;
	if (!crc32c_hw_available())
		skip();
	check_all(crc32c_hw);
}

static void test_sw_matches_reference(void **state)
{
	(void)state;
	check_all(crc32c_sw);
}

static void test_dispatch_matches_reference(void **state)
{
	(void)state;
	check_all(sk_crc32c);
}

/* A CRC continued over pieces equals the CRC of the whole: the three
 * chains must carry the incoming state, not start from zero. */
static void test_continued(void **state)
{
	uint8_t *buf = random_buf(99);

	(void)state;
	for (int n = 0; n < 200; n++) {
		size_t off = (size_t)rand() % MAXOFF;
		size_t len = (size_t)rand() % (MAXLEN + 1);
		size_t cut = len ? (size_t)rand() % len : 0;
		uint32_t whole = crc_ref(0, buf + off, len);
		uint32_t c = sk_crc32c(0, buf + off, cut);

		assert_int_equal(sk_crc32c(c, buf + off + cut, len - cut),
				 whole);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hw_matches_reference),
		cmocka_unit_test(test_sw_matches_reference),
		cmocka_unit_test(test_dispatch_matches_reference),
		cmocka_unit_test(test_continued),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
