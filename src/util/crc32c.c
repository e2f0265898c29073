/*
 * CRC32C two ways: the SSE4.2 crc32 instruction where the CPU has it
 * (several GB/s), and slicing-by-8 everywhere else -- eight 256-entry
 * tables built once at first use, eight input bytes per step, about
 * 1-2 GB/s.  The choice is made once; the table version is also the
 * reference the unit tests hold the instruction to.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <scsikit/crc32c.h>

#include "util/crc32c_int.h"

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc32c_tab[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init_tables(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_tab[0][i] = c;
	}
	for (unsigned i = 0; i < 256; i++) {
		uint32_t c = crc32c_tab[0][i];
		for (int t = 1; t < 8; t++) {
			c = crc32c_tab[0][c & 0xff] ^ (c >> 8);
			crc32c_tab[t][i] = c;
		}
	}
}

static bool crc32c_have_hw;

static void crc32c_init(void)
{
	crc32c_init_tables();
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc32c_have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#else
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return crc32c_sw(crc, buf, len);
}
#endif

bool crc32c_hw_available(void)
{
	pthread_once(&crc32c_once, crc32c_init);
	return crc32c_have_hw;
}

uint32_t sk_crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
	if (crc32c_have_hw)
		return crc32c_hw(crc, buf, len);
	return crc32c_sw(crc, buf, len);
}

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	pthread_once(&crc32c_once, crc32c_init);
	/* Byte steps until p is 8-byte aligned, so the wide loads are cheap. */
	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = crc32c_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
		len--;
	}
	while (len >= 8) {
		uint32_t lo, hi;
		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		lo = __builtin_bswap32(lo);
		hi = __builtin_bswap32(hi);
#endif
		lo ^= c;
		c = crc32c_tab[7][lo & 0xff] ^ crc32c_tab[6][(lo >> 8) & 0xff] ^
		    crc32c_tab[5][(lo >> 16) & 0xff] ^ crc32c_tab[4][lo >> 24] ^
		    crc32c_tab[3][hi & 0xff] ^ crc32c_tab[2][(hi >> 8) & 0xff] ^
		    crc32c_tab[1][(hi >> 16) & 0xff] ^ crc32c_tab[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = crc32c_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}
