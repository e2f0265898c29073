/*
 * Internals shared by the DMSG wire layer and the iocom.
 */
#ifndef SCSIKIT_SRC_DMSG_INT_H
#define SCSIKIT_SRC_DMSG_INT_H

#include <stddef.h>
#include <stdint.h>

#include <scsikit/dmsg.h>

/* Byte-swap the fields of a known command's body in place (len bytes). */
void dmsg_swap_body(uint32_t cmd, void *body, size_t len);

/* Like dmsg_encode, with the aux data already in place at
 * out + dmsg_ext_size(body_len). */
long dmsg_seal(const struct dmsg_hdr *hdr, const void *body, size_t body_len,
	       size_t aux_len, void *out, size_t room);

#endif
