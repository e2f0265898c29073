/*
 * CRC32C two ways: the SSE4.2 crc32 instruction where the CPU has it
 * (several GB/s), and slicing-by-8 everywhere else -- eight 256-entry
 * tables built once at first use, eight input bytes per step, about
 * 1-2 GB/s.  The choice is made once; the table version is also the
 * reference the unit tests hold the instruction to.
 *
 * The instruction has a latency of three cycles but can start one every
 * cycle, so one chain of them runs at a third of what the core can do.
 * Long buffers are therefore cut into three equal blocks whose CRCs run
 * as three independent chains, then combined.  The CRC register update
 * is linear over GF(2): running data D from state s gives
 * Z^|D|(s) xor crc(0, D), where Z^n is "feed n zero bytes", itself a
 * linear map of the 32-bit state.  So crc(A B C) = Z^L(Z^L(a) ^ b) ^ c
 * for blocks of L bytes; Z^L for the two block sizes used is kept as four
 * 256-entry tables (one per state byte) built at first use.
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

/* The two block sizes of the three-chain loop: the long one takes a
 * 4 KiB buffer in one step (3 x 1360 = 4080); the short one what is left
 * of a longer tail.  Multiples of 8, so every chain reads whole words. */
#define CRC32C_BLK_LONG 1360u
#define CRC32C_BLK_SHORT 128u

/* Z^L for L = CRC32C_BLK_LONG ([0]) and CRC32C_BLK_SHORT ([1]): entry
 * [k][b] is the state that b << 8k becomes after L zero bytes. */
static uint32_t crc32c_zeros[2][4][256];

static void crc32c_init_zeros(uint32_t z[4][256], size_t blk)
{
	uint32_t col[32];

	/* Z^L of each single-bit state, by feeding zero bytes; the table
	 * of a byte is then the xor of its bits' columns (linearity). */
	for (unsigned i = 0; i < 32; i++) {
		uint32_t c = 1u << i;

		for (size_t n = 0; n < blk; n++)
			c = crc32c_tab[0][c & 0xff] ^ (c >> 8);
		col[i] = c;
	}
	for (unsigned k = 0; k < 4; k++)
		for (unsigned b = 0; b < 256; b++) {
			uint32_t v = 0;

			for (unsigned j = 0; j < 8; j++)
				if (b & (1u << j))
					v ^= col[8 * k + j];
			z[k][b] = v;
		}
}

static inline uint32_t crc32c_shift(const uint32_t z[4][256], uint32_t c)
{
	return z[0][c & 0xff] ^ z[1][(c >> 8) & 0xff] ^
	       z[2][(c >> 16) & 0xff] ^ z[3][c >> 24];
}

static bool crc32c_have_hw;

static void crc32c_init(void)
{
	crc32c_init_tables();
	crc32c_init_zeros(crc32c_zeros[0], CRC32C_BLK_LONG);
	crc32c_init_zeros(crc32c_zeros[1], CRC32C_BLK_SHORT);
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc32c_have_hw = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
/* Whole steps of three blocks of blk bytes each from *pp, as three
 * chains; c is the running state, *pp and *lenp move past what was done. */
__attribute__((target("sse4.2"))) static inline uint64_t
crc32c_hw_3way(uint64_t c, const uint8_t **pp, size_t *lenp, size_t blk,
	       const uint32_t z[4][256])
{
	const uint8_t *p = *pp;
	size_t len = *lenp;

	while (len >= 3 * blk) {
		const uint8_t *q = p + blk, *r = p + 2 * blk;
		uint64_t a = c, b = 0, d = 0;

		for (size_t i = 0; i < blk; i += 8) {
			uint64_t va, vb, vd;

			memcpy(&va, p + i, 8);
			memcpy(&vb, q + i, 8);
			memcpy(&vd, r + i, 8);
			a = __builtin_ia32_crc32di(a, va);
			b = __builtin_ia32_crc32di(b, vb);
			d = __builtin_ia32_crc32di(d, vd);
		}
		c = crc32c_shift(z, crc32c_shift(z, (uint32_t)a) ^
					    (uint32_t)b) ^
		    (uint32_t)d;
		p += 3 * blk;
		len -= 3 * blk;
	}
	*pp = p;
	*lenp = len;
	return c;
}

__attribute__((target("sse4.2")))
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t c = ~crc;

	while (len > 0 && ((uintptr_t)p & 7) != 0) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	if (len >= 3 * CRC32C_BLK_SHORT) {
		/* crc32c_zeros is built by now: callers reach us through
		 * sk_crc32c() or after crc32c_hw_available(). */
		c = crc32c_hw_3way(c, &p, &len, CRC32C_BLK_LONG,
				   crc32c_zeros[0]);
		c = crc32c_hw_3way(c, &p, &len, CRC32C_BLK_SHORT,
				   crc32c_zeros[1]);
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
