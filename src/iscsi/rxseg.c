/*
 * Receiving a data segment in place (see rxseg.h).  The segment is
 * received first, then its tail (padding, digest); the data digest covers
 * the segment and its padding.
 */
#include <string.h>

#include <scsikit/crc32c.h>

#include "iscsi/pdu.h"
#include "iscsi/rxseg.h"

void iscsi_rxseg_init(struct iscsi_rxseg *s, uint8_t *dst, uint32_t dlen,
		      uint32_t pad, bool digest)
{
	memset(s, 0, sizeof(*s));
	s->dst = dst;
	s->dlen = dlen;
	s->tail_len = pad + (digest ? ISCSI_DIGEST_LEN : 0);
}

size_t iscsi_rxseg_feed(struct iscsi_rxseg *s, const uint8_t *p, size_t n)
{
	size_t took = 0, k;

	k = s->dlen - s->got;
	if (k > n)
		k = n;
	memcpy(s->dst + s->got, p, k);
	s->got += (uint32_t)k;
	took += k;
	if (s->got < s->dlen)
		return took;
	k = s->tail_len - s->tail_got;
	if (k > n - took)
		k = n - took;
	memcpy(s->tail + s->tail_got, p + took, k);
	s->tail_got += (uint32_t)k;
	return took + k;
}

int iscsi_rxseg_iov(const struct iscsi_rxseg *s, struct iovec v[2])
{
	int n = 0;

	if (s->got < s->dlen) {
		v[n].iov_base = s->dst + s->got;
		v[n++].iov_len = s->dlen - s->got;
	}
	if (s->tail_got < s->tail_len) {
		v[n].iov_base = (uint8_t *)s->tail + s->tail_got;
		v[n++].iov_len = s->tail_len - s->tail_got;
	}
	return n;
}

size_t iscsi_rxseg_advance(struct iscsi_rxseg *s, size_t n)
{
	size_t took = 0, k;

	k = s->dlen - s->got;
	if (k > n)
		k = n;
	s->got += (uint32_t)k;
	took += k;
	k = s->tail_len - s->tail_got;
	if (k > n - took)
		k = n - took;
	s->tail_got += (uint32_t)k;
	return took + k;
}

bool iscsi_rxseg_done(const struct iscsi_rxseg *s)
{
	return s->got == s->dlen && s->tail_got == s->tail_len;
}

bool iscsi_rxseg_digest_ok(const struct iscsi_rxseg *s, bool digest)
{
	uint32_t pad, crc;

	if (!digest)
		return true;
	pad = s->tail_len - ISCSI_DIGEST_LEN;
	crc = sk_crc32c(0, s->dst, s->dlen);
	crc = sk_crc32c(crc, s->tail, pad);
	return iscsi_digest_get(s->tail + pad) == crc;
}
