/*
 * Unit tests for the pure digest code under the iSCSI target: CRC32C
 * (RFC 3720 appendix B.4 vectors), MD5 (RFC 1321 A.5) and SHA-256
 * (FIPS 180-2 examples).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <scsikit/crc32c.h>

#include "iscsi/hash.h"
#include "util/crc32c_int.h"
#include "iscsi/pdu.h"

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_crc32c_vectors(void **state)
{
	uint8_t buf[32];

	(void)state;
	assert_int_equal(sk_crc32c(0, "123456789", 9), 0xe3069283u);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(sk_crc32c(0, buf, 32), 0x8a9136aau);
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(sk_crc32c(0, buf, 32), 0x62a8ab43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(sk_crc32c(0, buf, 32), 0x46dd794eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(sk_crc32c(0, buf, 32), 0x113fdb5cu);
	assert_int_equal(sk_crc32c(0, buf, 0), 0);
}

/* Slicing-by-8 must agree with itself at every alignment and split. */
static void test_crc32c_split(void **state)
{
	uint8_t buf[300];

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	uint32_t whole = sk_crc32c(0, buf + 1, 250);
	for (size_t cut = 0; cut <= 250; cut += 13) {
		uint32_t c = sk_crc32c(0, buf + 1, cut);
		assert_int_equal(sk_crc32c(c, buf + 1 + cut, 250 - cut), whole);
	}
	/* Byte order on the wire: least significant byte first. */
	uint8_t d[4];
	iscsi_digest_put(d, 0x11223344u);
	assert_int_equal(d[0], 0x44);
	assert_int_equal(iscsi_digest_get(d), 0x11223344u);
}

/* The table and the instruction agree on random data of every length
 * and alignment. */
static void test_crc32c_hw_vs_sw(void **state)
{
	uint8_t buf[4100];

	(void)state;
	srand(7);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand();
	assert_int_equal(crc32c_sw(0, "123456789", 9), 0xe3069283u);
	if (!crc32c_hw_available())
		return;
	assert_int_equal(crc32c_hw(0, "123456789", 9), 0xe3069283u);
	for (size_t off = 0; off < 9; off++)
		for (size_t len = 0; len < 4090; len += 1 + len / 3)
			assert_int_equal(crc32c_hw(5, buf + off, len),
					 crc32c_sw(5, buf + off, len));
}

static void md5_str(const char *s, char *out)
{
	struct md5_ctx c;
	uint8_t d[MD5_DIGEST_LEN];

	md5_init(&c);
	md5_update(&c, s, strlen(s));
	md5_final(&c, d);
	hex(d, sizeof(d), out);
}

static void test_md5_rfc1321(void **state)
{
	static const char *v[][2] = {
		{"", "d41d8cd98f00b204e9800998ecf8427e"},
		{"a", "0cc175b9c0f1b6a831c399e269772661"},
		{"abc", "900150983cd24fb0d6963f7d28e17f72"},
		{"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
		{"abcdefghijklmnopqrstuvwxyz",
		 "c3fcd3d76192e4007dfb496cca67e13b"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		 "0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
		{"1234567890123456789012345678901234567890"
		 "1234567890123456789012345678901234567890",
		 "57edf4a22be3c955ac49da2e2107b67a"},
	};
	char out[2 * MD5_DIGEST_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		md5_str(v[i][0], out);
		assert_string_equal(out, v[i][1]);
	}
}

static void test_sha256_vectors(void **state)
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_LEN];
	char out[2 * SHA256_DIGEST_LEN + 1];

	(void)state;
	sha256_init(&c);
	sha256_update(&c, "abc", 3);
	sha256_final(&c, d);
	hex(d, sizeof(d), out);
	assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	sha256_init(&c);
	sha256_final(&c, d);
	hex(d, sizeof(d), out);
	assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb924"
				 "27ae41e4649b934ca495991b7852b855");
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	sha256_init(&c);
	sha256_update(&c, m, strlen(m));
	sha256_final(&c, d);
	hex(d, sizeof(d), out);
	assert_string_equal(out, "248d6a61d20638b8e5c026930c3e6039"
				 "a33ce45964ff2167f6ecedd419db06c1");
	/* One million 'a', fed in uneven pieces. */
	char a[997];
	memset(a, 'a', sizeof(a));
	sha256_init(&c);
	size_t left = 1000000;
	while (left > 0) {
		size_t n = left < sizeof(a) ? left : sizeof(a);
		sha256_update(&c, a, n);
		left -= n;
	}
	sha256_final(&c, d);
	hex(d, sizeof(d), out);
	assert_string_equal(out, "cdc76e5c9914fb9281a1c7e284d73e67"
				 "f1809a48a497200e046d39ccc7112cd0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_crc32c_split),
		cmocka_unit_test(test_crc32c_hw_vs_sw),
		cmocka_unit_test(test_md5_rfc1321),
		cmocka_unit_test(test_sha256_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
