/*
 * The two message digests CHAP needs (MD5, RFC 1321; SHA-256, FIPS 180-4),
 * written small so that scsikit has no crypto library dependency.  Pure
 * functions over buffers; shared by the iSCSI target and initiator.
 * Neither is used for anything but CHAP responses.
 */
#ifndef SCSIKIT_ISCSI_HASH_H
#define SCSIKIT_ISCSI_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MD5_DIGEST_LEN 16
#define SHA256_DIGEST_LEN 32
#define ISCSI_HASH_MAX_DIGEST 32

struct md5_ctx {
	uint32_t h[4];
	uint64_t len;		/* bytes hashed so far */
	uint8_t buf[64];
	unsigned nbuf;
};

struct sha256_ctx {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	unsigned nbuf;
};

void md5_init(struct md5_ctx *c);
void md5_update(struct md5_ctx *c, const void *data, size_t len);
void md5_final(struct md5_ctx *c, uint8_t out[MD5_DIGEST_LEN]);

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_DIGEST_LEN]);

#endif
