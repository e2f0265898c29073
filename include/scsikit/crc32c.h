/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78): the digest of iSCSI
 * headers and data segments (RFC 7143) and of DMSG payloads.  A pure
 * function over buffers, usable from any thread.
 */
#ifndef SCSIKIT_CRC32C_H
#define SCSIKIT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#include <scsikit/api.h>

/*
 * Continue a CRC32C over len bytes at buf.  Start with crc = 0; the value
 * returned is the finished CRC (pre- and post-inversion are done inside), so
 * sk_crc32c(sk_crc32c(0, a, n), b, m) == sk_crc32c(0, a||b, n+m).
 */
SK_API uint32_t sk_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
