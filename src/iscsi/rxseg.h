/*
 * A PDU data segment received straight into the buffer it is meant for
 * (a write command's data buffer) instead of the connection's receive
 * buffer: the segment bytes go to dst, its padding and data digest to a
 * small tail of their own.  Pure bookkeeping, no socket: the connection
 * asks for the iovecs still to fill, reads, and reports how many bytes
 * came; bytes past the segment belong to the next PDU.
 */
#ifndef SCSIKIT_ISCSI_RXSEG_H
#define SCSIKIT_ISCSI_RXSEG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define ISCSI_RXSEG_TAIL_MAX 8	/* 3 pad bytes + a 4-byte digest, rounded */

struct iscsi_rxseg {
	uint8_t *dst;
	uint32_t dlen, got;	/* segment length, bytes of it arrived */
	uint32_t tail_len, tail_got; /* padding + digest, bytes arrived */
	uint8_t tail[ISCSI_RXSEG_TAIL_MAX];
};

/* Start receiving a segment of dlen bytes into dst, followed by pad bytes
 * of padding and, with digest, a 4-byte CRC. */
void iscsi_rxseg_init(struct iscsi_rxseg *s, uint8_t *dst, uint32_t dlen,
		      uint32_t pad, bool digest);
/* Take bytes already received (from the connection's buffer): copies up
 * to what the segment still misses and returns how many it took. */
size_t iscsi_rxseg_feed(struct iscsi_rxseg *s, const uint8_t *p, size_t n);
/* The iovecs still to fill (at most 2); returns their number, 0 when the
 * segment is complete. */
int iscsi_rxseg_iov(const struct iscsi_rxseg *s, struct iovec v[2]);
/* n bytes were read into the iovecs of iscsi_rxseg_iov (and perhaps
 * beyond, into a following buffer): returns how many were the segment's. */
size_t iscsi_rxseg_advance(struct iscsi_rxseg *s, size_t n);
bool iscsi_rxseg_done(const struct iscsi_rxseg *s);
/* The data digest check of a complete segment (true without a digest). */
bool iscsi_rxseg_digest_ok(const struct iscsi_rxseg *s, bool digest);

#endif
