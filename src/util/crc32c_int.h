/*
 * The two CRC32C implementations behind sk_crc32c(), visible to the unit
 * tests so each can be checked on its own (internal, not exported).
 */
#ifndef SCSIKIT_UTIL_CRC32C_INT_H
#define SCSIKIT_UTIL_CRC32C_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Slicing-by-8 tables: every CPU. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* The SSE4.2 instruction; call only when crc32c_hw_available(). */
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);
bool crc32c_hw_available(void);

#endif
