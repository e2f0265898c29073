/*
 * CHAP for iSCSI (RFC 1994 as profiled by RFC 7143 section 12.1.3): the
 * response is H(identifier || secret || challenge) with H = MD5 (CHAP_A=5)
 * or SHA-256 (CHAP_A=8, RFC 7143bis / Linux).  Binary values travel as
 * "0x" hex or "0b" base64 strings.  Pure functions, shared by target and
 * initiator.
 */
#ifndef SCSIKIT_ISCSI_CHAP_H
#define SCSIKIT_ISCSI_CHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISCSI_CHAP_MD5 5
#define ISCSI_CHAP_SHA256 8
#define ISCSI_CHAP_CHALLENGE_LEN 32  /* bytes we send as a challenge */
#define ISCSI_CHAP_MAX_BINARY 1024   /* longest CHAP_C/CHAP_R we take */
#define ISCSI_CHAP_SECRET_MAX 256

/* Digest length for a CHAP_A value, or 0 when unsupported. */
unsigned iscsi_chap_digest_len(int alg);

/*
 * Pick the first algorithm in the initiator's CHAP_A list that we support;
 * -1 when none.
 */
int iscsi_chap_select(const char *offer_list);

/* out = H(id || secret || challenge); returns the digest length or -EINVAL
 * for an unsupported alg. */
int iscsi_chap_response(int alg, uint8_t id, const void *secret,
			size_t secret_len, const uint8_t *challenge,
			size_t challenge_len, uint8_t *out);

/*
 * Decode a CHAP binary value ("0x..." hex, "0b..." base64) into out (at
 * most outmax bytes).  Returns the length or -EINVAL.
 */
int iscsi_chap_decode(const char *s, uint8_t *out, size_t outmax);

/* Encode len bytes as "0x" + lower-case hex into out (2*len+3 bytes). */
void iscsi_chap_encode_hex(const uint8_t *in, size_t len, char *out);

/* Constant-time comparison of two digests. */
bool iscsi_chap_equal(const uint8_t *a, const uint8_t *b, size_t len);

/* Fill buf with len random bytes (getrandom, falling back to
 * /dev/urandom); 0 or -errno. */
int iscsi_chap_random(uint8_t *buf, size_t len);

#endif
